//! The materialised state: the fold of every record so far.
//!
//! The store keeps it so that a checkpoint can write a snapshot without
//! asking the engine, and so that recovery hands the engine a ready state.
//! It is cheap to clone (entries behind `Arc`, vectors shared), which is
//! how a checkpoint gets an immutable copy while appenders continue.
//!
//! Vectors are held compactly: rows written by snapshots stay in their
//! memory-mapped vector files ("runs": page cache, not heap), and only
//! vectors added since live on the heap, one `Arc<[f32]>` each, keyed by
//! doc id. A doc id's vector never changes meaning (a re-embedded entry gets
//! a new doc id), which is what lets rows be looked up by doc id alone, in
//! whichever run holds them.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use uuid::Uuid;

use super::record::{Access, Record, StoredEntry};
use super::run::Run;
use super::{Recovered, RecoveredEntry};
use crate::entry::{Diary, EntryRecord, Relation};
use crate::index::DocId;

/// An entry and its doc id.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub record: Arc<EntryRecord>,
    pub doc: DocId,
}

/// Vectors by doc id: mapped runs plus a heap overlay.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vectors {
    /// The vector files the last snapshot lists, oldest first. Runs may
    /// hold rows of deleted entries; a full rewrite drops them.
    pub runs: Vec<Arc<Run>>,
    pub overlay: HashMap<DocId, Arc<[f32]>>,
}

impl Vectors {
    /// The run and row holding `doc`, newest run first.
    fn find(&self, doc: DocId) -> Option<(&Run, usize)> {
        self.runs
            .iter()
            .rev()
            .find_map(|run| run.file.find(doc).map(|row| (&**run, row)))
    }

    /// The vector of `doc`, copied out.
    pub fn get(&self, doc: DocId) -> Option<Vec<f32>> {
        if let Some(v) = self.overlay.get(&doc) {
            return Some(v.to_vec());
        }
        self.find(doc).map(|(run, row)| run.file.row(row))
    }

    /// Whether `doc` currently has exactly `vector` (bitwise).
    fn holds(&self, doc: DocId, vector: &[f32]) -> bool {
        if let Some(v) = self.overlay.get(&doc) {
            return v.len() == vector.len()
                && v.iter()
                    .zip(vector)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
        }
        self.find(doc)
            .is_some_and(|(run, row)| run.file.row_eq(row, vector))
    }

    /// Whether `doc`'s vector is in the heap overlay (not in a run yet).
    pub fn in_overlay(&self, doc: DocId) -> bool {
        self.overlay.contains_key(&doc)
    }

    /// Rows in all runs, live or not.
    pub fn run_rows(&self) -> usize {
        self.runs.iter().map(|r| r.file.len()).sum()
    }

    /// Writes `doc`'s vector as little-endian f32s.
    pub fn write_row(&self, doc: DocId, out: &mut impl Write) -> io::Result<()> {
        if let Some(v) = self.overlay.get(&doc) {
            for x in v.iter() {
                out.write_all(&x.to_le_bytes())?;
            }
            return Ok(());
        }
        match self.find(doc) {
            Some((run, row)) => out.write_all(run.file.row_bytes(row)),
            None => Err(io::Error::other(format!("doc {doc} has no vector"))),
        }
    }

    /// Switches to the runs a snapshot just listed. `written` is the
    /// overlay the snapshot was written from: its rows are now in a run, so
    /// the same `Arc`s are dropped from the live overlay (rows replaced
    /// since then differ by pointer and stay).
    pub fn rebase(&mut self, runs: Vec<Arc<Run>>, written: &HashMap<DocId, Arc<[f32]>>) {
        self.runs = runs;
        let runs = &self.runs;
        self.overlay.retain(|doc, v| {
            !(written.get(doc).is_some_and(|w| Arc::ptr_eq(w, v))
                && runs.iter().any(|r| r.file.find(*doc).is_some()))
        });
    }
}

/// Diaries, entries, relations and vectors as of `last_seq`.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub diaries: HashMap<Uuid, Diary>,
    pub entries: HashMap<Uuid, Slot>,
    pub relations: HashMap<Uuid, Relation>,
    pub vectors: Vectors,
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
    /// Access counts logged since each entry's record was last written.
    /// Kept beside the records, not in them: records are shared with the
    /// engine's catalog, and patching one would copy it.
    pub accesses: HashMap<Uuid, Access>,
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
                | Record::RecordAccesses(_) => {}
            }
        }
        Ok(())
    }

    /// Applies one record. Records naming something absent (an unknown
    /// relation's status, a missing entry's deletion) change nothing: the
    /// engine checks existence before logging, and replay must accept
    /// whatever was accepted when appended.
    pub fn apply(&mut self, seq: u64, record: Record) {
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
                self.accesses.remove(&id);
                if let Some(slot) = self.entries.remove(&id) {
                    self.vectors.overlay.remove(&slot.doc);
                }
                self.relations
                    .retain(|_, r| r.source_id != id && r.target_id != id);
            }
            Record::PutRelation(r) => {
                self.relations.insert(r.id, r);
            }
            Record::SetRelationStatus { id, status, at } => {
                if let Some(r) = self.relations.get_mut(&id) {
                    r.set_status(status, at);
                }
            }
            Record::DeleteRelation { id } => {
                self.relations.remove(&id);
            }
            Record::RecordAccesses(accesses) => {
                for a in accesses {
                    if self.entries.contains_key(&a.id) {
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
                    self.accesses.remove(&entry);
                    if let Some(slot) = self.entries.remove(&entry) {
                        self.vectors.overlay.remove(&slot.doc);
                    }
                }
                // Relations link entries of one diary.
                self.relations.retain(|_, r| r.diary_id != id);
            }
        }
        self.last_seq = seq;
    }

    fn put_entry(&mut self, e: StoredEntry) {
        let StoredEntry {
            record,
            doc,
            vector,
        } = e;
        // A put carries the entry's counts as of its writing.
        self.accesses.remove(&record.id);
        let slot = Slot { record, doc };
        if let Some(old) = self.entries.insert(slot.record.id, slot) {
            if old.doc != doc {
                self.vectors.overlay.remove(&old.doc);
            }
        }
        // An update that keeps its doc id usually carries the same vector;
        // don't copy a mapped row to the heap for nothing.
        if !self.vectors.holds(doc, &vector) {
            self.vectors.overlay.insert(doc, Arc::from(vector));
        }
        self.next_doc = self.next_doc.max(doc.saturating_add(1));
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
}
