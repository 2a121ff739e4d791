//! The state: the fold of every record applied so far, held once.
//!
//! Diaries, entries, relations, the posting bitmaps search filters with,
//! access counts and the store's vectors all live here, in one structure
//! that the store and the engine share (`Arc<RwLock<State>>`). It changes
//! in one place, [`State::apply`], at a sequence number: log replay on
//! open, the engine publishing its writes and a future catch-up from an
//! external source of truth all call it, so there is one delete cascade
//! and one supersession rule. Applying is idempotent (a sequence at or
//! below [`State::last_seq`] is skipped) and deterministic (no clock, no
//! random id, no model inside it).
//!
//! It is cheap to clone (entries behind `Arc`, vectors shared), which is
//! how a checkpoint gets an immutable copy while writers continue.

mod access;
mod filter;
mod postings;
mod vectors;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) use self::access::AccessCounts;
pub(crate) use self::postings::Postings;
pub(crate) use self::vectors::{same_bits, Vectors};
use super::record::{Access, Record, StoredEntry};
use super::{Recovered, RecoveredEntry};
use crate::entry::{Diary, EntryRecord, Relation, RelationKind, RelationStatus};
use crate::index::DocId;

/// An entry and the doc id its vector and text are indexed under.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// As last written; see [`State::current`] for its live access counts.
    pub record: Arc<EntryRecord>,
    pub doc: DocId,
}

/// Diaries, entries, relations, postings and vectors as of `last_seq`.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub diaries: HashMap<Uuid, Diary>,
    pub entries: HashMap<Uuid, Slot>,
    pub relations: HashMap<Uuid, Relation>,
    /// Entries that are the target of an accepted `supersedes` relation.
    superseded: HashSet<Uuid>,
    pub postings: Postings,
    /// The vectors, unless [`State::without_vectors`] (the vector index is
    /// then their only home).
    pub vectors: Vectors,
    vectors_elsewhere: bool,
    /// One past the largest doc id ever used (deleted ones included).
    pub next_doc: DocId,
    /// Sequence number of the last record applied.
    pub last_seq: u64,
    /// Sequence number of the last record that changed what the indexes
    /// hold (an entry put, update or delete; not diaries, relations or
    /// access counts). An index stamped at or above it holds every indexed
    /// change, so opening needs no doc-by-doc comparison. After a snapshot
    /// load it is the snapshot's sequence (unknown beyond that: the safe
    /// side).
    pub last_index_change: u64,
    /// The sequence of the external source of truth that the records
    /// applied so far include (0 for a folder that is its own truth).
    pub source_seq: u64,
    /// Access counts logged since each entry's record was last written
    /// (what a snapshot writes). Kept beside the records, not in them:
    /// records are shared, and patching one would copy it.
    pub accesses: HashMap<Uuid, Access>,
    /// Access counts newer than anything logged: counted by searches
    /// through a shared reference (its own sharded locks), taken out by
    /// the access journal.
    pub counts: Arc<AccessCounts>,
    /// Signing nonces in use, with the entry holding each: a nonce signs
    /// one entry only (MoltNet's uniqueness rule), checked before a write.
    pub nonces: HashMap<String, Uuid>,
}

impl State {
    /// Checks a batch before it is logged, for what the store itself relies
    /// on: vector lengths, and doc ids (new ones must be unused, so doc ids
    /// are never reused and a doc id always names one vector). Everything
    /// else is the engine's to validate. Errors name the record's index.
    pub fn validate(&self, records: &[Record], dims: usize) -> Result<(), (usize, String)> {
        let mut next = u64::from(self.next_doc);
        // Doc of entries touched earlier in the batch (None: deleted).
        let mut touched: HashMap<Uuid, Option<DocId>> = HashMap::new();
        for (index, record) in records.iter().enumerate() {
            let fail = |reason: String| Err((index, reason));
            let check_vector = |e: &StoredEntry| {
                if e.vector.len() == dims {
                    Ok(())
                } else {
                    Err((
                        index,
                        format!(
                            "entry {} has a vector of {} dimensions, the store holds {dims}",
                            e.record.id,
                            e.vector.len()
                        ),
                    ))
                }
            };
            match record {
                Record::PutEntries(entries) => {
                    for e in entries {
                        check_vector(e)?;
                        if u64::from(e.doc) < next || e.doc == DocId::MAX {
                            return fail(format!(
                                "entry {} uses doc id {}, but doc ids below {next} are taken \
                                 (they are never reused; ids must ascend within a batch)",
                                e.record.id, e.doc
                            ));
                        }
                        next = u64::from(e.doc) + 1;
                        touched.insert(e.record.id, Some(e.doc));
                    }
                }
                Record::UpdateEntry(e) => {
                    check_vector(e)?;
                    let current = match touched.get(&e.record.id) {
                        Some(doc) => *doc,
                        None => self.entries.get(&e.record.id).map(|s| s.doc),
                    };
                    if current != Some(e.doc) {
                        if u64::from(e.doc) < next || e.doc == DocId::MAX {
                            return fail(format!(
                                "entry {} is updated to doc id {}, which is neither its \
                                 current doc id nor unused (next free: {next})",
                                e.record.id, e.doc
                            ));
                        }
                        next = u64::from(e.doc) + 1;
                    }
                    touched.insert(e.record.id, Some(e.doc));
                }
                Record::DeleteEntry { id } => {
                    touched.insert(*id, None);
                }
                Record::DeleteDiary { id } => {
                    for slot in self.entries.values().filter(|s| s.record.diary_id == *id) {
                        touched.insert(slot.record.id, None);
                    }
                }
                Record::PutDiary(_)
                | Record::PutRelation(_)
                | Record::SetRelationStatus { .. }
                | Record::DeleteRelation { .. }
                | Record::RecordAccesses(_)
                | Record::SourceSeq(_) => {}
            }
        }
        Ok(())
    }

    /// Applies the record logged at `seq`; returns false (and changes
    /// nothing) when `seq` is not above the last one applied, which makes
    /// replaying a record twice harmless. Records naming something absent
    /// (an unknown relation's status, a missing entry's deletion) change
    /// nothing else: writers check existence before logging, and replay
    /// must accept whatever was accepted when appended.
    pub fn apply(&mut self, seq: u64, record: Record) -> bool {
        if seq <= self.last_seq {
            return false;
        }
        match record {
            Record::PutDiary(d) => {
                self.diaries.insert(d.id, d);
            }
            Record::PutEntries(entries) => {
                self.last_index_change = seq;
                for e in entries {
                    self.put_entry(e);
                }
            }
            Record::UpdateEntry(e) => {
                self.last_index_change = seq;
                self.put_entry(*e);
            }
            Record::DeleteEntry { id } => {
                self.last_index_change = seq;
                self.remove_entry(id);
                self.remove_relations(|r| r.source_id == id || r.target_id == id);
            }
            Record::PutRelation(r) => {
                self.relations.insert(r.id, r);
                self.refresh_superseded();
            }
            Record::SetRelationStatus { id, status, at } => {
                if let Some(r) = self.relations.get_mut(&id) {
                    r.set_status(status, at);
                    self.refresh_superseded();
                }
            }
            Record::DeleteRelation { id } => self.remove_relations(|r| r.id == id),
            Record::RecordAccesses(accesses) => {
                for a in accesses {
                    if let Some(slot) = self.entries.get(&a.id) {
                        self.counts.observe(&slot.record, a);
                        self.accesses.insert(a.id, a);
                    }
                }
            }
            Record::DeleteDiary { id } => {
                self.last_index_change = seq;
                self.diaries.remove(&id);
                let gone: Vec<Uuid> = self
                    .entries
                    .values()
                    .filter(|s| s.record.diary_id == id)
                    .map(|s| s.record.id)
                    .collect();
                for entry in gone {
                    self.remove_entry(entry);
                }
                // Relations link entries of one diary.
                self.remove_relations(|r| r.diary_id == id);
            }
            Record::SourceSeq(source) => self.source_seq = self.source_seq.max(source),
        }
        self.last_seq = seq;
        true
    }

    /// A state whose vectors live in the vector index only (an in-memory
    /// engine, which has no snapshot to write them to).
    pub fn without_vectors() -> Self {
        Self {
            vectors_elsewhere: true,
            ..Self::default()
        }
    }

    fn put_entry(&mut self, e: StoredEntry) {
        let StoredEntry {
            record,
            doc,
            vector,
        } = e;
        // A put carries the entry's counts as of its writing.
        self.accesses.remove(&record.id);
        self.counts.forget(&record.id);
        if let Some(old) = self.entries.remove(&record.id) {
            if let Some(nonce) = &old.record.signing_nonce {
                self.nonces.remove(nonce);
            }
            self.postings.remove(&old.record, old.doc);
            if old.doc != doc {
                self.vectors.overlay.remove(&old.doc);
            }
        }
        self.postings.insert(&record, doc);
        if let Some(nonce) = &record.signing_nonce {
            self.nonces.insert(nonce.clone(), record.id);
        }
        // An update that keeps its doc id usually carries the same vector;
        // don't copy a mapped row to the heap for nothing.
        if !self.vectors_elsewhere && !self.vectors.holds(doc, &vector) {
            self.vectors.overlay.insert(doc, Arc::from(vector));
        }
        self.entries.insert(record.id, Slot { record, doc });
        self.next_doc = self.next_doc.max(doc.saturating_add(1));
    }

    /// Drops an entry from the entries, postings, vectors and counts (its
    /// relations are the caller's: see [`State::remove_relations`]).
    fn remove_entry(&mut self, id: Uuid) {
        self.accesses.remove(&id);
        self.counts.forget(&id);
        if let Some(slot) = self.entries.remove(&id) {
            if let Some(nonce) = &slot.record.signing_nonce {
                self.nonces.remove(nonce);
            }
            self.postings.remove(&slot.record, slot.doc);
            self.vectors.overlay.remove(&slot.doc);
        }
    }

    /// Removes the relations `gone` selects, then recomputes the
    /// superseded set: the one relation cascade, of entry, diary and
    /// relation deletes alike.
    fn remove_relations(&mut self, gone: impl Fn(&Relation) -> bool) {
        self.relations.retain(|_, r| !gone(r));
        self.refresh_superseded();
    }

    /// Recomputes the superseded set (cheap: relations per diary are few).
    fn refresh_superseded(&mut self) {
        self.superseded = self
            .relations
            .values()
            .filter(|r| {
                r.relation == RelationKind::Supersedes && r.status == RelationStatus::Accepted
            })
            .map(|r| r.target_id)
            .collect();
    }

    /// Builds the postings and the superseded set of a state loaded from
    /// a snapshot (which stores entries and relations, not what is derived
    /// from them).
    pub fn derive_indexes(&mut self) {
        self.postings = Postings::default();
        self.nonces.clear();
        for slot in self.entries.values() {
            self.postings.insert(&slot.record, slot.doc);
            if let Some(nonce) = &slot.record.signing_nonce {
                self.nonces.insert(nonce.clone(), slot.record.id);
            }
        }
        self.refresh_superseded();
    }

    /// The record of live doc `doc`, as written (access counts: see
    /// [`State::current`]).
    pub fn entry_of(&self, doc: DocId) -> Option<&EntryRecord> {
        let id = self.postings.entry_id(doc)?;
        self.entries.get(&id).map(|s| &*s.record)
    }

    /// The record of entry `id` as written, if it exists.
    pub fn record(&self, id: &Uuid) -> Option<&EntryRecord> {
        self.entries.get(id).map(|s| &*s.record)
    }

    /// How often `record`'s entry was returned, and when last.
    pub fn access_of(&self, record: &EntryRecord) -> (u64, Option<OffsetDateTime>) {
        self.counts.of(record)
    }

    /// `record` as it is now: a copy with its current access counts.
    pub fn current(&self, record: &EntryRecord) -> EntryRecord {
        self.counts.current(record)
    }

    /// Counts a read of entry `id` at `at` (a shared reference is enough:
    /// searches count under the state's read lock).
    pub fn record_access(&self, id: Uuid, at: OffsetDateTime) {
        if let Some(slot) = self.entries.get(&id) {
            self.counts.count(&slot.record, at);
        }
    }

    /// `slot`'s record with the access counts logged since it was written.
    pub fn record_of(&self, slot: &Slot) -> Arc<EntryRecord> {
        match self.accesses.get(&slot.record.id) {
            None => Arc::clone(&slot.record),
            Some(a) => {
                let mut record = (*slot.record).clone();
                a.apply_to(&mut record);
                Arc::new(record)
            }
        }
    }

    /// Writes the logged access counts into the records. Done once after
    /// recovery, while the store holds the only reference to each record,
    /// so nothing is copied.
    pub fn fold_accesses(&mut self) {
        for (id, a) in std::mem::take(&mut self.accesses) {
            if let Some(slot) = self.entries.get_mut(&id) {
                a.apply_to(Arc::make_mut(&mut slot.record));
            }
        }
    }

    /// The state in its public form: entries by doc id, diaries and
    /// relations by id.
    pub fn to_recovered(
        &self,
        model_id: &str,
        dims: usize,
        snapshot_seq: Option<u64>,
    ) -> Recovered {
        let mut slots: Vec<&Slot> = self.entries.values().collect();
        slots.sort_by_key(|s| s.doc);
        let entries = slots
            .into_iter()
            .map(|s| RecoveredEntry {
                record: self.record_of(s),
                doc: s.doc,
            })
            .collect();
        let mut diaries: Vec<Diary> = self.diaries.values().cloned().collect();
        diaries.sort_by_key(|d| d.id);
        let mut relations: Vec<Relation> = self.relations.values().cloned().collect();
        relations.sort_by_key(|r| r.id);
        Recovered {
            diaries,
            entries,
            relations,
            next_doc: self.next_doc,
            last_seq: self.last_seq,
            last_index_change: self.last_index_change,
            source_seq: self.source_seq,
            model_id: model_id.to_owned(),
            dims,
            snapshot_seq,
            replayed_records: 0,
            torn_tail: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::entry::EntryType;
    use crate::store::directory::RamDirectory;
    use crate::store::snapshot;

    const DIMS: usize = 2;

    fn stored(id: u128, doc: DocId, v: f32) -> StoredEntry {
        let t = OffsetDateTime::UNIX_EPOCH;
        StoredEntry {
            record: Arc::new(EntryRecord {
                id: Uuid::from_u128(id),
                diary_id: Uuid::from_u128(1),
                title: None,
                content: format!("c{id}"),
                tags: Vec::new(),
                entry_type: EntryType::Semantic,
                importance: 5,
                content_hash: String::new(),
                content_signature: None,
                signing_nonce: None,
                signer_public_key: None,
                injection_risk: false,
                access_count: 0,
                last_accessed_at: None,
                created_at: t,
                updated_at: t,
            }),
            doc,
            vector: vec![v; DIMS],
        }
    }

    #[test]
    fn rebase_keeps_vectors_replaced_after_the_copy() {
        let dir = RamDirectory::new();
        let mut st = State::default();
        st.apply(
            1,
            Record::PutEntries(vec![stored(1, 0, 0.5), stored(2, 1, 1.5)]),
        );
        let copy = st.clone();
        // After the copy: doc 0 gets a new vector in place, doc 2 is new.
        st.apply(2, Record::UpdateEntry(Box::new(stored(1, 0, 9.0))));
        st.apply(3, Record::PutEntries(vec![stored(3, 2, 2.5)]));
        let listed = snapshot::write(&dir, &copy, 1, "m", DIMS).expect("snapshot");
        let runs = snapshot::listed_runs(&dir, 1, listed, &copy.vectors.runs, DIMS).expect("runs");
        st.vectors.rebase(runs, &copy.vectors.overlay);
        assert_eq!(st.vectors.get(0), Some(vec![9.0; DIMS]));
        assert_eq!(st.vectors.get(1), Some(vec![1.5; DIMS]));
        assert_eq!(st.vectors.get(2), Some(vec![2.5; DIMS]));
        let mut heap: Vec<DocId> = st.vectors.overlay.keys().copied().collect();
        heap.sort_unstable();
        assert_eq!(heap, vec![0, 2], "doc 1 now lives in the mapped file only");
    }

    #[test]
    fn an_update_keeping_doc_and_vector_does_not_copy_the_row() {
        let dir = RamDirectory::new();
        let mut st = State::default();
        st.apply(1, Record::PutEntries(vec![stored(1, 0, 0.5)]));
        let listed = snapshot::write(&dir, &st, 1, "m", DIMS).expect("snapshot");
        let runs = snapshot::listed_runs(&dir, 1, listed, &st.vectors.runs, DIMS).expect("runs");
        let written = st.vectors.overlay.clone();
        st.vectors.rebase(runs, &written);
        assert!(st.vectors.overlay.is_empty());
        let mut same = stored(1, 0, 0.5);
        Arc::make_mut(&mut same.record).importance = 9;
        st.apply(2, Record::UpdateEntry(Box::new(same)));
        assert!(st.vectors.overlay.is_empty());
        assert_eq!(st.entries[&Uuid::from_u128(1)].record.importance, 9);
    }

    #[test]
    fn apply_skips_old_sequences_and_deletes_cascade_through_postings() {
        let mut st = State::default();
        assert!(st.apply(
            1,
            Record::PutEntries(vec![stored(1, 0, 0.5), stored(2, 1, 1.5)])
        ));
        assert!(!st.apply(
            1,
            Record::DeleteEntry {
                id: Uuid::from_u128(1)
            }
        ));
        assert_eq!(st.entries.len(), 2, "a replayed sequence changes nothing");
        let all = crate::search::request::Scope::Diaries {
            ids: vec![Uuid::from_u128(1)],
        };
        st.apply(
            2,
            Record::PutDiary(
                Diary::new(
                    Uuid::from_u128(9),
                    "d".into(),
                    crate::entry::Visibility::Private,
                )
                .map(|mut d| {
                    d.id = Uuid::from_u128(1);
                    d
                })
                .expect("diary"),
            ),
        );
        let filters = crate::search::request::Filters::default();
        assert_eq!(st.allowed(&all, &filters).len(), 2);
        // Re-embedded: a new doc id; the old one leaves the postings.
        st.apply(3, Record::UpdateEntry(Box::new(stored(1, 2, 7.0))));
        let allowed: Vec<DocId> = st.allowed(&all, &filters).iter().collect();
        assert_eq!(allowed, vec![1, 2]);
        assert_eq!(st.entry_of(0), None);
        st.apply(
            4,
            Record::DeleteDiary {
                id: Uuid::from_u128(1),
            },
        );
        assert!(st.entries.is_empty() && st.postings.live().is_empty());
        assert!(st.vectors.overlay.is_empty());
        assert_eq!((st.last_seq, st.last_index_change, st.next_doc), (4, 4, 3));
    }
}
