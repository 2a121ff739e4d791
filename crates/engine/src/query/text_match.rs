//! [`TextMatch`]: how a query's bare words must match, chosen by a search
//! request and applied by the text index.

/// How a query's bare words must match.
///
/// MoltNet matches with `websearch_to_tsquery` and `@@`: every word is
/// required ([`All`](TextMatch::All)). For natural-language queries that is
/// a poor ranking basis: a claim of a dozen words rarely has all of them in
/// a relevant document (SciFact test nDCG@10: 0.08 with `All`, 0.69 with
/// `Any`). [`Any`](TextMatch::Any) ranks every document that has at least
/// one of the words by BM25, which is what a ranking arm needs; quoted
/// phrases and negations keep their strict meaning in both modes, and `OR`
/// alternatives stay alternatives.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TextMatch {
    /// Postgres `websearch_to_tsquery` semantics: all bare words of a
    /// conjunction are required (MoltNet-compatible).
    All,
    /// Bare words are alternatives (a document needs one of them, more
    /// matches score higher); phrases stay required, negations excluded,
    /// `OR` alternatives stay alternatives. The default: it ranks best.
    #[default]
    Any,
}
