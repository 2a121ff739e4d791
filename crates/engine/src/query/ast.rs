//! The parsed form of a query: a disjunction of conjunctions of possibly
//! negated words and phrases, built only by the parser.

use std::fmt;

/// A parsed user query: a disjunction (OR) of conjunctions (AND) of
/// possibly negated words and phrases. See the [module docs](super) for the
/// syntax and its Postgres semantics.
///
/// Built only by [`ParsedQuery::parse`] (in `parse.rs`), which accepts
/// any string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    pub(super) disjuncts: Vec<Conjunction>,
    pub(super) truncated: bool,
}

/// Literals that must all hold (AND): one side of an `OR`.
///
/// Never empty inside a [`ParsedQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conjunction {
    pub(super) literals: Vec<Literal>,
}

/// Whether a literal was typed as a bare word or as a quoted phrase.
///
/// Both require their tokens next to each other when matching; the
/// distinction matters for [`TextMatch::Any`](super::TextMatch)
/// ranking, where only explicit phrases stay required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralKind {
    /// A bare word such as `deploy` or `k8s-prod` (one or more tokens).
    Word,
    /// A `"quoted phrase"`.
    Phrase,
}

/// One word or phrase of a query, possibly negated.
///
/// Never without tokens inside a [`ParsedQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub(super) kind: LiteralKind,
    pub(super) negated: bool,
    pub(super) text: String,
    pub(super) tokens: Vec<QueryToken>,
}

/// A token of a literal and its position relative to the literal's first
/// kept token (gaps are dropped stop words or over-long tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryToken {
    pub(super) text: String,
    pub(super) offset: u32,
}

impl QueryToken {
    /// The token as typed (original case, not stemmed): the index runs it
    /// through the field's own analyzer so that it meets indexed terms.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Position relative to the literal's first token, for phrase matching.
    pub fn offset(&self) -> u32 {
        self.offset
    }
}

impl Literal {
    /// Bare word or quoted phrase.
    pub fn kind(&self) -> LiteralKind {
        self.kind
    }

    /// Whether documents matching this literal are excluded (`-word`).
    pub fn is_negated(&self) -> bool {
        self.negated
    }

    /// The word or the phrase's inner text exactly as typed (no quotes, no
    /// `-`), used to match whole tags exactly (`k8s-prod`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The kept tokens, in order, with their relative positions. Never
    /// empty.
    pub fn tokens(&self) -> &[QueryToken] {
        &self.tokens
    }
}

impl Conjunction {
    /// The literals that must all hold (negated ones must not match).
    pub fn literals(&self) -> &[Literal] {
        &self.literals
    }

    /// Whether this side of the OR has no positive literal, so it matches
    /// documents only by excluding others.
    pub fn is_negative_only(&self) -> bool {
        self.literals.iter().all(Literal::is_negated)
    }
}

impl ParsedQuery {
    /// The sides of the top-level OR; each is a conjunction. Empty for an
    /// empty query.
    pub fn disjuncts(&self) -> &[Conjunction] {
        &self.disjuncts
    }

    /// Whether nothing is left to match (empty input, only stop words or
    /// punctuation). An empty query matches no document, as in Postgres.
    pub fn is_empty(&self) -> bool {
        self.disjuncts.is_empty()
    }

    /// Whether any word or phrase is negated. The hybrid search needs it:
    /// when a query excludes something, hits from the vector arm must also
    /// satisfy the full text query, or excluded entries would come back
    /// through semantic similarity.
    pub fn has_negation(&self) -> bool {
        self.literals().any(Literal::is_negated)
    }

    /// Whether some side of the OR has only negations (`-staging`,
    /// `-cat OR dog`): such a query matches documents that contain none of
    /// the query's positive words, with a text score of zero, so the text
    /// arm's ranking says little and the engine should rank by the vector
    /// arm and use the text query as a filter.
    pub fn is_negative_only(&self) -> bool {
        self.disjuncts.iter().any(Conjunction::is_negative_only)
    }

    /// Whether words beyond [`MAX_QUERY_TOKENS`](super::parse::MAX_QUERY_TOKENS) were ignored.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Every literal of every conjunction, in input order.
    pub fn literals(&self) -> impl Iterator<Item = &Literal> {
        self.disjuncts.iter().flat_map(|c| c.literals.iter())
    }
}

/// Renders the query back in websearch syntax (`a b OR -"c d"`), normalised:
/// stop-word-only parts are gone. Parsing the output gives the same query
/// for ordinary words and phrases.
impl fmt::Display for ParsedQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, conjunction) in self.disjuncts.iter().enumerate() {
            if i > 0 {
                f.write_str(" OR ")?;
            }
            for (j, literal) in conjunction.literals.iter().enumerate() {
                if j > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{literal}")?;
            }
        }
        Ok(())
    }
}

/// Renders one literal in websearch syntax: `word`, `-word`, `"a phrase"`.
impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_str("-")?;
        }
        match self.kind {
            LiteralKind::Word => f.write_str(&self.text),
            LiteralKind::Phrase => write!(f, "\"{}\"", self.text),
        }
    }
}
