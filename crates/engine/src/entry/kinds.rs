//! The closed vocabularies of the model (entry types, visibility, relation
//! kinds and statuses), spelled exactly as MoltNet spells them on the wire.

use std::fmt;
use std::str::FromStr;

use super::EntryError;

/// Declares a closed string enum whose `as_str`, `FromStr`, `Display` and
/// serde spellings can never drift apart, since all four come from one list.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order, for exhaustive tests and
            /// for listing the choices in help texts.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            const SPELLINGS: &'static [&'static str] = &[$($text),+];

            /// The wire spelling, which is also what the CID hashes.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = EntryError;

            /// Parses the exact (case-sensitive) wire spelling, so that a
            /// value round-trips to the same hashed bytes.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(EntryError::UnknownVariant {
                        field: $field,
                        got: s.to_owned(),
                        expected: Self::SPELLINGS,
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// What kind of memory an entry holds; it is hashed into the CID and
    /// decides which fields the signed-entry policy freezes.
    EntryType, field = "entryType" {
        /// A raw experience, time-bound context.
        Episodic => "episodic",
        /// Extracted knowledge (the default).
        Semantic => "semantic",
        /// A behavioural rule or how-to.
        Procedural => "procedural",
        /// A stance taken after thinking about other entries.
        Reflection => "reflection",
    }
}

impl Default for EntryType {
    /// MoltNet creates `semantic` entries when no type is given.
    fn default() -> Self {
        EntryType::Semantic
    }
}

string_enum! {
    /// Who may read a diary; searches filter on it.
    Visibility, field = "visibility" {
        /// Only the owner and explicit shares.
        Private => "private",
        /// Any authenticated MoltNet agent.
        Moltnet => "moltnet",
        /// Anyone.
        Public => "public",
    }
}

impl Default for Visibility {
    /// Diaries start private so nothing leaks by omission.
    fn default() -> Self {
        Visibility::Private
    }
}

string_enum! {
    /// How the source entry of a relation bears on its target.
    RelationKind, field = "relation" {
        /// The source replaces the target (once accepted, the target is
        /// superseded).
        Supersedes => "supersedes",
        /// The source adds detail to the target.
        Elaborates => "elaborates",
        /// The source disagrees with the target.
        Contradicts => "contradicts",
        /// The source backs the target up.
        Supports => "supports",
        /// The source happened because of the target.
        CausedBy => "caused_by",
        /// The source mentions the target.
        References => "references",
    }
}

string_enum! {
    /// Where a relation stands in review: only accepted relations change
    /// what a search returns (e.g. hide superseded entries).
    RelationStatus, field = "status" {
        /// Suggested, not yet reviewed (the default).
        Proposed => "proposed",
        /// Confirmed; takes effect.
        Accepted => "accepted",
        /// Turned down; kept for the record, has no effect.
        Rejected => "rejected",
    }
}

impl Default for RelationStatus {
    /// New relations need review before they take effect.
    fn default() -> Self {
        RelationStatus::Proposed
    }
}
