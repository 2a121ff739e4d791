//! Reads that are not searches: diaries, entries by id, relations, pages
//! of entries newest first, tag counts.

use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Engine;
use crate::entry::{Diary, EntryRecord, EntryType, Relation};
use crate::search::request::{check_page, Filters, Scope, SearchHit, SearchMode, SearchResponse};
use crate::store::state::State;
use crate::Result;

/// A page of entries, newest first, under filters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListRequest {
    /// Diaries to list.
    pub scope: Scope,
    /// Filters.
    pub filters: Filters,
    /// Page size (1..=1000, default 20).
    pub limit: usize,
    /// Entries to skip.
    pub offset: usize,
}

impl Default for ListRequest {
    fn default() -> Self {
        Self {
            scope: Scope::Diaries { ids: Vec::new() },
            filters: Filters::default(),
            limit: 20,
            offset: 0,
        }
    }
}

/// A page of entries and the true number matching.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// Entries, newest first.
    pub entries: Vec<EntryRecord>,
    /// Entries matching the filters, exactly.
    pub total: usize,
}

/// Tag usage in a diary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagCount {
    /// The tag.
    pub tag: String,
    /// Entries carrying it.
    pub count: u64,
}

impl Engine {
    /// A diary by id.
    pub fn get_diary(&self, id: Uuid) -> Option<Diary> {
        self.inner.state.read().diaries.get(&id).cloned()
    }

    /// Diaries, optionally of one team, by name.
    pub fn list_diaries(&self, team_id: Option<Uuid>) -> Vec<Diary> {
        let cat = self.inner.state.read();
        let mut out: Vec<Diary> = cat
            .diaries
            .values()
            .filter(|d| team_id.is_none_or(|t| d.team_id == t))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        out
    }

    /// An entry by id. Reading does not change `updatedAt`.
    pub fn get_entry(&self, id: Uuid) -> Option<EntryRecord> {
        let cat = self.inner.state.read();
        cat.record(&id).map(|r| cat.current(r))
    }

    /// A relation by id.
    pub fn get_relation(&self, id: Uuid) -> Option<Relation> {
        self.inner.state.read().relations.get(&id).cloned()
    }

    /// Relations touching an entry.
    pub fn relations_of(&self, entry: Uuid) -> Vec<Relation> {
        let cat = self.inner.state.read();
        let mut out: Vec<Relation> = cat
            .relations
            .values()
            .filter(|r| r.source_id == entry || r.target_id == entry)
            .cloned()
            .collect();
        out.sort_by_key(|r| (r.created_at, r.id));
        out
    }

    /// Entries newest first under filters, with the exact total.
    pub fn list(&self, req: &ListRequest) -> Result<ListResponse> {
        check_page(req.limit, req.offset)?;
        let cat = self.inner.state.read();
        let allow = cat.allowed(&req.scope, &req.filters);
        let (entries, total) = newest_first(&cat, &allow, req.offset, req.limit);
        Ok(ListResponse {
            entries: entries.into_iter().map(|e| cat.current(e)).collect(),
            total,
        })
    }

    /// Tag counts in scope, optionally by prefix, minimum count and entry types.
    pub fn tag_counts(
        &self,
        scope: &Scope,
        prefix: Option<&str>,
        min_count: u64,
        entry_types: &[EntryType],
    ) -> Vec<TagCount> {
        let cat = self.inner.state.read();
        let filters = Filters {
            entry_types: entry_types.to_vec(),
            ..Filters::default()
        };
        let allow = cat.allowed(scope, &filters);
        cat.postings
            .tag_counts(&allow, prefix, min_count)
            .into_iter()
            .map(|(tag, count)| TagCount { tag, count })
            .collect()
    }
}

/// The allowed entries sorted by creation time (newest first, then id),
/// paged, with the total.
fn newest_first<'a>(
    cat: &'a State,
    allow: &RoaringBitmap,
    offset: usize,
    limit: usize,
) -> (Vec<&'a EntryRecord>, usize) {
    let mut all: Vec<&EntryRecord> = allow.iter().filter_map(|d| cat.entry_of(d)).collect();
    let total = all.len();
    all.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let page = all.into_iter().skip(offset).take(limit).collect();
    (page, total)
}

/// The list path of a search (empty query): newest first, exact total.
pub(super) fn list_response(
    cat: &State,
    allow: &RoaringBitmap,
    offset: usize,
    limit: usize,
) -> SearchResponse {
    let (entries, total) = newest_first(cat, allow, offset, limit);
    SearchResponse {
        hits: entries
            .into_iter()
            .map(|e| SearchHit {
                entry: cat.current(e),
                score: 0.0,
                explain: None,
            })
            .collect(),
        total,
        total_is_lower_bound: false,
        mode: SearchMode::Text,
        warnings: Vec::new(),
    }
}
