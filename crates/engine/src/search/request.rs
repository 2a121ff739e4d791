//! What a search asks for and what it answers.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::fusion::{Fusion, Weights};
use super::invalid::InvalidField;
use crate::entry::{EntryRecord, EntryType};
use crate::query::TextMatch;

/// Which diaries a request may read. Every request has one: the engine never
/// searches "everything" by accident, and another team's diary is never read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Scope {
    /// Exactly these diaries.
    Diaries {
        /// Diary ids.
        ids: Vec<Uuid>,
    },
    /// Every diary of one team.
    Team {
        /// The team id.
        team_id: Uuid,
    },
    /// Every diary whose visibility is `public`.
    Public,
}

/// Filters, all combinable; applied inside both arms, not after them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filters {
    /// The entry must have **all** of these tags (exact, case-sensitive).
    pub tags: Vec<String>,
    /// The entry must have **none** of these tags.
    pub exclude_tags: Vec<String>,
    /// The entry's type must be one of these (empty = any).
    pub entry_types: Vec<EntryType>,
    /// Hide entries that are the target of an accepted `supersedes` relation.
    pub exclude_superseded: bool,
    /// Hide entries flagged as injection risks.
    pub exclude_suspicious: bool,
    /// Only entries created strictly before this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_before: Option<OffsetDateTime>,
    /// Only entries created at or after this time.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created_after: Option<OffsetDateTime>,
}

/// Which arms run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Vector and text arms fused (default).
    #[default]
    Hybrid,
    /// Vector arm only.
    Vector,
    /// Text arm only.
    Text,
}

/// A search. An empty query lists entries (newest first) under the filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SearchRequest {
    /// What the user typed (websearch syntax: terms, "phrases", OR, -term).
    pub query: String,
    /// Diaries to search.
    pub scope: Scope,
    /// Filters.
    pub filters: Filters,
    /// Results to return (1..=1000, default 10).
    pub limit: usize,
    /// Results to skip (works on every path).
    pub offset: usize,
    /// Arms to run.
    pub mode: SearchMode,
    /// How arms combine.
    pub fusion: Fusion,
    /// Final score weights.
    pub weights: Weights,
    /// Hits each arm retrieves (default `max(2 × (offset + limit),`
    /// [`MIN_ARM_DEPTH`]`)`: MoltNet's depth, with a floor so that small
    /// pages of one query agree; see [`SearchRequest::arm_depth`]).
    pub depth: Option<usize>,
    /// Vector hits farther than this cosine distance are dropped (default 0.6).
    pub max_distance: f32,
    /// Text matching: any term (default: it ranks natural-language queries
    /// best) or all terms (MoltNet's websearch semantics, one option away).
    pub text_match: TextMatch,
    /// Return each hit's per-arm ranks and scores.
    pub explain: bool,
    /// A query vector computed elsewhere (same model as the engine's); when
    /// set, the query text is not embedded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_vector: Option<Vec<f32>>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        Self {
            query: String::new(),
            scope: Scope::Diaries { ids: Vec::new() },
            filters: Filters::default(),
            limit: 10,
            offset: 0,
            mode: SearchMode::Hybrid,
            fusion: Fusion::default(),
            weights: Weights::default(),
            depth: None,
            max_distance: 0.6,
            text_match: TextMatch::Any,
            explain: false,
            query_vector: None,
        }
    }
}

/// Largest `limit` a request may ask for.
pub const MAX_LIMIT: usize = 1000;
/// Largest `offset + limit` (keeps arm depth bounded).
pub const MAX_WINDOW: usize = 10_000;
/// Fewest hits each arm retrieves by default, whatever the page.
///
/// A fused score depends on a doc's rank in each arm, so the arms'
/// candidate lists decide the order; with a depth that follows the page
/// (MoltNet's `2 × (offset + limit)`), `limit 1` and `limit 10` fused
/// different lists and could disagree on the first hit. With this floor
/// every page with `offset + limit ≤ MIN_ARM_DEPTH / 2` fuses the same
/// lists, so such pages are slices of one ranking and concatenate to it.
pub const MIN_ARM_DEPTH: usize = 100;

/// Checks a page (`limit`, `offset`) of a search or a list; the error
/// names the field.
pub fn check_page(limit: usize, offset: usize) -> Result<(), InvalidField> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(InvalidField::new(
            "limit",
            format!("must be within 1..={MAX_LIMIT}, got {limit}"),
        ));
    }
    if offset.saturating_add(limit) > MAX_WINDOW {
        return Err(InvalidField::new(
            "offset",
            format!(
                "offset + limit must be at most {MAX_WINDOW}, got {}",
                offset.saturating_add(limit)
            ),
        ));
    }
    Ok(())
}

impl SearchRequest {
    /// A hybrid search in the given diaries.
    pub fn new(query: impl Into<String>, scope: Scope) -> Self {
        Self {
            query: query.into(),
            scope,
            ..Self::default()
        }
    }

    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), InvalidField> {
        check_page(self.limit, self.offset)?;
        if let Some(d) = self.depth {
            if d == 0 || d > MAX_WINDOW * 2 {
                return Err(InvalidField::new(
                    "depth",
                    format!("must be within 1..={}, got {d}", MAX_WINDOW * 2),
                ));
            }
        }
        if !(0.0..=2.0).contains(&self.max_distance) {
            return Err(InvalidField::new(
                "maxDistance",
                format!(
                    "must be within 0..=2 (cosine distance), got {}",
                    self.max_distance
                ),
            ));
        }
        if let (Some(b), Some(a)) = (self.filters.created_before, self.filters.created_after) {
            if b <= a {
                return Err(InvalidField::new(
                    "createdBefore",
                    "must be later than createdAfter",
                ));
            }
        }
        self.fusion.validate()?;
        self.weights.validate()
    }

    /// Hits each arm retrieves: `depth` when given (at least the page's
    /// end), else `max(2 × (offset + limit), MIN_ARM_DEPTH)`, which is the
    /// same for every page ending at or before `MIN_ARM_DEPTH / 2`.
    pub fn arm_depth(&self) -> usize {
        let window = self.offset.saturating_add(self.limit);
        self.depth
            .unwrap_or_else(|| window.saturating_mul(2).max(MIN_ARM_DEPTH))
            .max(window)
    }
}

/// Per-hit detail returned with `explain`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Explain {
    /// 1-based rank in the vector arm.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the query.
    pub cosine: Option<f32>,
    /// 1-based rank in the text arm.
    pub text_rank: Option<usize>,
    /// BM25 score.
    pub bm25: Option<f32>,
    /// Fused relevance, 0..=1.
    pub relevance: f32,
    /// `0.99^hours` since last access or creation.
    pub recency: f32,
    /// Importance / 10.
    pub importance: f32,
    /// The final score.
    pub score: f32,
}

/// One result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// The entry.
    pub entry: EntryRecord,
    /// Final score (list results: 0).
    pub score: f32,
    /// Scores per arm, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Explain>,
}

/// A page of results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    /// Results, best first.
    pub hits: Vec<SearchHit>,
    /// Matching entries: exact for list and text-only searches; for searches
    /// with a vector arm, the distinct candidates both arms found, which is a
    /// lower bound (see `totalIsLowerBound`).
    pub total: usize,
    /// True when `total` may undercount.
    pub total_is_lower_bound: bool,
    /// What actually ran (a hybrid search falls back to text when the query
    /// could not be embedded).
    pub mode: SearchMode,
    /// Problems that did not stop the search, e.g. a failed query embedding.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: usize, offset: usize) -> SearchRequest {
        SearchRequest {
            limit,
            offset,
            ..SearchRequest::default()
        }
    }

    #[test]
    fn arm_depth_does_not_follow_small_pages() {
        for (limit, offset) in [(1, 0), (10, 0), (50, 0), (1, 49), (20, 30)] {
            assert_eq!(page(limit, offset).arm_depth(), MIN_ARM_DEPTH);
        }
        assert_eq!(page(51, 0).arm_depth(), 102);
        assert_eq!(page(1000, 9000).arm_depth(), 20_000);
        let mut r = page(10, 5);
        r.depth = Some(3);
        assert_eq!(r.arm_depth(), 15, "an explicit depth still covers the page");
        r.depth = Some(40);
        assert_eq!(r.arm_depth(), 40);
    }
}
