//! The engine's in-memory catalog: diaries, entries, relations, and the
//! posting bitmaps that turn filters into an allowed-document set before
//! either arm runs.
//!
//! Every indexed entry has a dense [`DocId`]. A content change gives the
//! entry a new doc id (the HNSW graph cannot update in place); the old id
//! becomes a tombstone in both indexes. Bitmaps are keyed by doc id, so a
//! filter is a few bitmap operations, then a scan of the survivors only for
//! the time window.
//!
//! Entry records are `Arc`s shared with the store's state, so the engine
//! holds each entry's text once. Records are never patched in place:
//! access counts, the one thing that changes without a write, live beside
//! them in [`AccessCounts`] (sharded, counted under a read lock) until the
//! entry is next written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use roaring::RoaringBitmap;
use time::OffsetDateTime;
use uuid::Uuid;

use super::access::AccessCounts;
use crate::entry::{
    Diary, EntryRecord, EntryType, Relation, RelationKey, RelationKind, RelationStatus, Visibility,
};
use crate::index::DocId;
use crate::search::request::{Filters, Scope};

/// An entry and the doc id its vectors and text are indexed under.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// As written; see [`Catalog::current`] for its live access counts.
    pub record: Arc<EntryRecord>,
    pub doc: DocId,
}

#[derive(Default)]
pub(crate) struct Catalog {
    pub diaries: HashMap<Uuid, Diary>,
    pub entries: HashMap<Uuid, Slot>,
    /// Entry id per doc id; `None` once the doc is retired.
    pub docs: Vec<Option<Uuid>>,
    /// Creation time per doc id (unix seconds), for time-window filters.
    created: Vec<i64>,
    live: RoaringBitmap,
    by_diary: HashMap<Uuid, RoaringBitmap>,
    by_tag: HashMap<String, RoaringBitmap>,
    by_type: HashMap<EntryType, RoaringBitmap>,
    suspicious: RoaringBitmap,
    pub relations: HashMap<Uuid, Relation>,
    pub relation_keys: HashMap<RelationKey, Uuid>,
    /// Entries that are the target of an accepted `supersedes` relation.
    superseded: HashSet<Uuid>,
    /// Access counts newer than the entry's records; counted by searches
    /// through a shared reference (its own sharded locks).
    pub accesses: Arc<AccessCounts>,
}

impl Catalog {
    /// The next unused doc id.
    pub fn next_doc(&self) -> DocId {
        self.docs.len() as DocId
    }

    /// Makes sure doc ids below `next` are never handed out again (they were
    /// used before a restart).
    pub fn reserve_docs(&mut self, next: DocId) {
        let n = next as usize;
        if self.docs.len() < n {
            self.docs.resize(n, None);
            self.created.resize(n, 0);
        }
    }

    /// Indexes `entry` under `doc` in every posting list. The record's
    /// access counts become the entry's current ones.
    pub fn insert(&mut self, entry: Arc<EntryRecord>, doc: DocId) {
        let d = doc as usize;
        if self.docs.len() <= d {
            self.docs.resize(d + 1, None);
            self.created.resize(d + 1, 0);
        }
        self.docs[d] = Some(entry.id);
        self.created[d] = entry.created_at.unix_timestamp();
        self.live.insert(doc);
        self.by_diary.entry(entry.diary_id).or_default().insert(doc);
        for tag in &entry.tags {
            self.by_tag.entry(tag.clone()).or_default().insert(doc);
        }
        self.by_type
            .entry(entry.entry_type)
            .or_default()
            .insert(doc);
        if entry.injection_risk {
            self.suspicious.insert(doc);
        }
        self.accesses.forget(&entry.id);
        self.entries.insert(entry.id, Slot { record: entry, doc });
    }

    /// Removes an entry from every posting list; returns its slot.
    pub fn remove(&mut self, id: Uuid) -> Option<Slot> {
        let slot = self.entries.remove(&id)?;
        self.accesses.forget(&id);
        let doc = slot.doc;
        if let Some(d) = self.docs.get_mut(doc as usize) {
            *d = None;
        }
        self.live.remove(doc);
        if let Some(b) = self.by_diary.get_mut(&slot.record.diary_id) {
            b.remove(doc);
        }
        for tag in &slot.record.tags {
            if let Some(b) = self.by_tag.get_mut(tag) {
                b.remove(doc);
                if b.is_empty() {
                    self.by_tag.remove(tag);
                }
            }
        }
        if let Some(b) = self.by_type.get_mut(&slot.record.entry_type) {
            b.remove(doc);
        }
        self.suspicious.remove(doc);
        Some(slot)
    }

    /// Every live doc.
    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// The record indexed under `doc`, if it is live (access counts as
    /// written: see [`Catalog::current`]).
    pub fn entry_of(&self, doc: DocId) -> Option<&EntryRecord> {
        let id = self.docs.get(doc as usize).copied().flatten()?;
        self.entries.get(&id).map(|s| &*s.record)
    }

    /// The record of entry `id` as written, if it exists.
    pub fn record(&self, id: &Uuid) -> Option<&EntryRecord> {
        self.entries.get(id).map(|s| &*s.record)
    }

    /// How often `record`'s entry was returned, and when last.
    pub fn access_of(&self, record: &EntryRecord) -> (u64, Option<OffsetDateTime>) {
        self.accesses.of(record)
    }

    /// `record` as it is now: a copy with its current access counts.
    pub fn current(&self, record: &EntryRecord) -> EntryRecord {
        self.accesses.current(record)
    }

    /// Counts a read of entry `id` at `at` (a shared reference is enough:
    /// searches count under the catalog's read lock).
    pub fn record_access(&self, id: Uuid, at: OffsetDateTime) {
        if let Some(slot) = self.entries.get(&id) {
            self.accesses.count(&slot.record, at);
        }
    }

    /// Creation time (unix seconds) of a doc.
    pub fn created_of(&self, doc: DocId) -> i64 {
        self.created.get(doc as usize).copied().unwrap_or(0)
    }

    /// Diaries a scope covers.
    pub fn scope_diaries(&self, scope: &Scope) -> Vec<Uuid> {
        match scope {
            Scope::Diaries { ids } => ids
                .iter()
                .filter(|id| self.diaries.contains_key(id))
                .copied()
                .collect(),
            Scope::Team { team_id } => self
                .diaries
                .values()
                .filter(|d| d.team_id == *team_id)
                .map(|d| d.id)
                .collect(),
            Scope::Public => self
                .diaries
                .values()
                .filter(|d| d.visibility == Visibility::Public)
                .map(|d| d.id)
                .collect(),
        }
    }

    /// Every live doc in scope that passes the filters.
    pub fn allowed(&self, scope: &Scope, filters: &Filters) -> RoaringBitmap {
        let mut allow = RoaringBitmap::new();
        for diary in self.scope_diaries(scope) {
            if let Some(b) = self.by_diary.get(&diary) {
                allow |= b;
            }
        }
        for tag in &filters.tags {
            match self.by_tag.get(tag) {
                Some(b) => allow &= b,
                None => return RoaringBitmap::new(),
            }
        }
        for tag in &filters.exclude_tags {
            if let Some(b) = self.by_tag.get(tag) {
                allow -= b;
            }
        }
        if !filters.entry_types.is_empty() {
            let mut types = RoaringBitmap::new();
            for t in &filters.entry_types {
                if let Some(b) = self.by_type.get(t) {
                    types |= b;
                }
            }
            allow &= types;
        }
        if filters.exclude_suspicious {
            allow -= &self.suspicious;
        }
        if filters.exclude_superseded {
            for id in &self.superseded {
                if let Some(slot) = self.entries.get(id) {
                    allow.remove(slot.doc);
                }
            }
        }
        if filters.created_before.is_some() || filters.created_after.is_some() {
            let before = filters.created_before.map(OffsetDateTime::unix_timestamp);
            let after = filters.created_after.map(OffsetDateTime::unix_timestamp);
            allow = allow
                .iter()
                .filter(|&doc| {
                    let t = self.created_of(doc);
                    before.is_none_or(|b| t < b) && after.is_none_or(|a| t >= a)
                })
                .collect();
        }
        allow &= &self.live;
        allow
    }

    /// Tag counts over the allowed docs.
    pub fn tag_counts(
        &self,
        allow: &RoaringBitmap,
        prefix: Option<&str>,
        min_count: u64,
    ) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .by_tag
            .iter()
            .filter(|(tag, _)| prefix.is_none_or(|p| tag.starts_with(p)))
            .map(|(tag, b)| (tag.clone(), b.intersection_len(allow)))
            .filter(|(_, n)| *n >= min_count.max(1))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Removes the relations `gone` selects (and their keys), then
    /// recomputes the superseded set: the relation cascade of both entry
    /// and diary deletes.
    pub fn remove_relations(&mut self, gone: impl Fn(&Relation) -> bool) {
        let keys = &mut self.relation_keys;
        self.relations.retain(|_, r| {
            let drop = gone(r);
            if drop {
                keys.remove(&r.key());
            }
            !drop
        });
        self.refresh_superseded();
    }

    /// Recomputes the superseded set (cheap: relations per diary are few).
    pub fn refresh_superseded(&mut self) {
        self.superseded = self
            .relations
            .values()
            .filter(|r| {
                r.relation == RelationKind::Supersedes && r.status == RelationStatus::Accepted
            })
            .map(|r| r.target_id)
            .collect();
    }
}
