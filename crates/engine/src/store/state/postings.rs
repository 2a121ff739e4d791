//! Posting bitmaps: which docs belong to a diary, carry a tag, have a type.
//!
//! Every indexed entry has a dense [`DocId`]. A content change gives the
//! entry a new doc id (the HNSW graph cannot update in place); the old id
//! is dropped here when the change is applied, and from both indexes right
//! after. Bitmaps are keyed by doc id, so a filter is a few bitmap
//! operations, then a scan of the survivors only for the time window.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use uuid::Uuid;

use crate::entry::{EntryRecord, EntryType};
use crate::index::DocId;

/// The posting lists of the live entries, by doc id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Postings {
    /// Entry id per doc id; `None` once the doc is retired.
    docs: Vec<Option<Uuid>>,
    /// Creation time per doc id (unix seconds), for time-window filters.
    created: Vec<i64>,
    live: RoaringBitmap,
    pub(super) by_diary: HashMap<Uuid, RoaringBitmap>,
    pub(super) by_tag: HashMap<String, RoaringBitmap>,
    pub(super) by_type: HashMap<EntryType, RoaringBitmap>,
    pub(super) suspicious: RoaringBitmap,
}

impl Postings {
    /// Lists `entry` under `doc` in every posting list.
    pub fn insert(&mut self, entry: &EntryRecord, doc: DocId) {
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
    }

    /// Drops `doc`, which lists `entry`, from every posting list.
    pub fn remove(&mut self, entry: &EntryRecord, doc: DocId) {
        if let Some(d) = self.docs.get_mut(doc as usize) {
            *d = None;
        }
        self.live.remove(doc);
        if let Some(b) = self.by_diary.get_mut(&entry.diary_id) {
            b.remove(doc);
            if b.is_empty() {
                self.by_diary.remove(&entry.diary_id);
            }
        }
        for tag in &entry.tags {
            if let Some(b) = self.by_tag.get_mut(tag) {
                b.remove(doc);
                if b.is_empty() {
                    self.by_tag.remove(tag);
                }
            }
        }
        if let Some(b) = self.by_type.get_mut(&entry.entry_type) {
            b.remove(doc);
        }
        self.suspicious.remove(doc);
    }

    /// Every live doc.
    pub fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    /// The entry listed under `doc`, if the doc is live.
    pub fn entry_id(&self, doc: DocId) -> Option<Uuid> {
        self.docs.get(doc as usize).copied().flatten()
    }

    /// Creation time (unix seconds) of a doc.
    pub fn created_of(&self, doc: DocId) -> i64 {
        self.created.get(doc as usize).copied().unwrap_or(0)
    }

    /// Tag counts over the allowed docs, most used first.
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
}
