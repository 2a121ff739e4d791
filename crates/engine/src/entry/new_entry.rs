//! Creating entries from client input.

use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::model::{check_hashed_fields, missing, EntrySignature};
use super::signature::{PublicKey, Signature};
use super::validate::{check_importance, check_not_blank, DEFAULT_IMPORTANCE};
use super::{Entry, EntryError, EntryType};

/// A client's request to create an entry, exactly as received (camelCase
/// JSON). Nothing here is trusted: [`Entry::create`] validates every field,
/// computes the CID itself, only *checks* a client-supplied `contentHash`,
/// and verifies a signature before accepting it.
///
/// Numbers and keys are kept raw (`i64`, strings) so that out-of-range or
/// malformed values become typed [`EntryError`]s naming the field rather
/// than opaque parse errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEntry {
    /// The diary to write to.
    pub diary_id: Uuid,
    /// Optional title, at most 255 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// 1 to 100,000 characters.
    pub content: String,
    /// At most 20 tags of 1 to 128 characters; `null` means none.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Defaults to `semantic`.
    #[serde(default)]
    pub entry_type: Option<EntryType>,
    /// 1 to 10, defaults to 5.
    #[serde(default)]
    pub importance: Option<i64>,
    /// The CID the client computed, if any; must equal ours.
    #[serde(default)]
    pub content_hash: Option<String>,
    /// Base64 Ed25519 signature over the CID (with `signingNonce`).
    #[serde(default)]
    pub content_signature: Option<String>,
    /// The nonce the signature is bound to.
    #[serde(default)]
    pub signing_nonce: Option<String>,
    /// `ed25519:<base64>` key of the signer.
    #[serde(default)]
    pub signer_public_key: Option<String>,
}

impl NewEntry {
    /// The minimal request: some content for a diary, everything else
    /// defaulted. Fill other fields with struct-update syntax.
    pub fn new(diary_id: Uuid, content: impl Into<String>) -> Self {
        NewEntry {
            diary_id,
            content: content.into(),
            ..NewEntry::default()
        }
    }

    /// Parses the signature triple: all three fields or none.
    fn parse_signature(&self) -> Result<Option<EntrySignature>, EntryError> {
        let (sig, nonce, key) = match (
            &self.content_signature,
            &self.signing_nonce,
            &self.signer_public_key,
        ) {
            (None, None, None) => return Ok(None),
            (Some(s), Some(n), Some(k)) => (s, n, k),
            (None, ..) => return Err(missing("contentSignature")),
            (_, None, _) => return Err(missing("signingNonce")),
            (.., None) => return Err(missing("signerPublicKey")),
        };
        let signature = EntrySignature {
            signature: Signature::parse_field("contentSignature", sig)?,
            nonce: nonce.clone(),
            public_key: PublicKey::parse_field("signerPublicKey", key)?,
        };
        signature.validate()?;
        Ok(Some(signature))
    }
}

impl Entry {
    /// Validates `new` and builds the entry with a fresh time-ordered (v7)
    /// id. See [`Entry::create_with_id`].
    pub fn create(new: NewEntry, now: OffsetDateTime) -> Result<Entry, EntryError> {
        Self::create_with_id(Uuid::now_v7(), new, now)
    }

    /// Validates `new` and builds the entry under an id assigned elsewhere
    /// (e.g. when mirroring MoltNet). Checks, in order: content, title,
    /// tags, importance, the client's CID, then the signature over our CID.
    /// Content must hold something other than whitespace.
    pub fn create_with_id(
        id: Uuid,
        new: NewEntry,
        now: OffsetDateTime,
    ) -> Result<Entry, EntryError> {
        let tags = new.tags.clone().unwrap_or_default();
        check_not_blank("content", &new.content)?;
        check_hashed_fields(new.title.as_deref(), &new.content, &tags)?;
        let importance = match new.importance {
            Some(i) => check_importance(i)?,
            None => DEFAULT_IMPORTANCE,
        };
        let signature = new.parse_signature()?;
        let mut entry = Entry {
            id,
            diary_id: new.diary_id,
            title: new.title,
            content: new.content,
            tags,
            entry_type: new.entry_type.unwrap_or_default(),
            importance,
            content_hash: String::new(),
            signature: None,
            injection_risk: false,
            access_count: 0,
            last_accessed_at: None,
            created_at: now,
            updated_at: now,
        };
        entry.content_hash = entry.compute_cid();
        if let Some(got) = new.content_hash {
            if got != entry.content_hash {
                return Err(EntryError::ContentHashMismatch {
                    got,
                    computed: entry.content_hash,
                });
            }
        }
        if let Some(signature) = signature {
            if !signature.covers(&entry.content_hash) {
                return Err(EntryError::InvalidSignature);
            }
            entry.signature = Some(signature);
        }
        Ok(entry)
    }
}
