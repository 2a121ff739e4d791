//! The external-source seam: an engine that mirrors a source of truth
//! elsewhere (a database) and changes only by applying that source's
//! changes, at the source's sequence numbers.
//!
//! A mirror is opened with
//! [`EngineBuilder::external_source`](super::EngineBuilder::external_source).
//! Its local writes are refused; the caller writes to the source instead,
//! with what [`Engine::prepare_entries`] and [`Engine::prepare_update`]
//! computed (validated records, CIDs, times, vectors: nothing the source
//! has to recompute), and every replica then applies the source's
//! [`Change`]s with [`Engine::apply_changes`].
//!
//! Applying lowers the changes to the same records local writes use and
//! sends them down the same path (journal, index, publish, retire), with a
//! [`Record::SourceSeq`] after them. So on a data folder, the folder is an
//! index cache stamped with the source sequence it includes: reopened, it
//! reports [`Engine::source_seq`] and the caller applies what came after.
//!
//! Applying is idempotent twice over. A call at or below the sequence
//! already held is skipped whole. And each change is a value, not a delta:
//! an entry upsert that matches what is held (same text, same vector)
//! keeps its doc and is re-indexed nowhere; deletes of what is absent do
//! nothing. A crash that kept only part of a call's records (they are
//! logged in one write, but a torn tail can cut between them) is repaired
//! by applying the call again. Doc ids are chosen by each replica (they
//! differ between replicas; nothing outside the engine sees them).
//!
//! The source is trusted for its own rules (signed entries immutable,
//! nonces unique): a mirror does not second-guess a committed change. It
//! checks what it relies on: the model and dimension of vectors, records
//! that decode into valid entries, and references to diaries and entries
//! it holds. A change failing those is [`Error::InvalidChange`] and nothing
//! of the call is applied.

use std::collections::HashMap;
use std::sync::Arc;

use uuid::Uuid;

use super::write::{now, PutEntry};
use super::{Engine, WriterState};
use crate::entry::{Diary, Entry, EntryPatch, EntryRecord, Relation};
use crate::index::DocId;
use crate::store::state::{same_bits, State};
use crate::store::{Access, Record, StoredEntry};
use crate::{Error, Result};

/// One change of an external source of truth, as a complete value.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Creates or replaces a diary.
    PutDiary(Diary),
    /// Deletes a diary with every entry and relation in it.
    DeleteDiary {
        /// The diary.
        id: Uuid,
    },
    /// Creates or replaces an entry, with its vector (boxed: an entry is
    /// much larger than the other changes).
    PutEntry(Box<EntryChange>),
    /// Deletes an entry and the relations touching it.
    DeleteEntry {
        /// The entry.
        id: Uuid,
    },
    /// Creates or replaces a relation.
    PutRelation(Relation),
    /// Deletes a relation.
    DeleteRelation {
        /// The relation.
        id: Uuid,
    },
    /// Entries' read bookkeeping as the source holds it (absolute values;
    /// a count below what this process counted since changes nothing).
    Accesses(Vec<Access>),
}

/// An entry as the source stores it: the record, its passage vector, and
/// the model that computed the vector.
#[derive(Clone, Debug, PartialEq)]
pub struct EntryChange {
    /// The entry's fields (its id, diary, CID, times, …).
    pub record: EntryRecord,
    /// The embedding of its passage text.
    pub vector: Vec<f32>,
    /// The model the vector comes from; must be the engine's.
    pub model_id: String,
}

/// What a call to [`Engine::apply_changes`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The changes were applied; the engine now holds `source_seq`.
    Applied,
    /// The engine held this sequence already: nothing was done.
    Skipped,
}

/// What an entry is, as the changes of one call have left it so far.
#[derive(Clone, Copy)]
enum Touched {
    Live { doc: DocId, diary: Uuid },
    Gone,
}

/// What an entry upsert finds held.
enum Held {
    /// Same passage text and vector: the doc stays (the record is
    /// rewritten only if another field changed).
    Same { doc: DocId, unchanged: bool },
    /// Held under this doc, with another text or vector: a new doc.
    Reindex(DocId),
    /// Not held.
    New,
}

/// A call's changes lowered to records, with the index work they need.
#[derive(Default)]
struct Plan {
    records: Vec<Record>,
    /// New docs to add to both indexes, with their entries and vectors.
    docs: Vec<DocId>,
    entries: Vec<Entry>,
    vectors: Vec<f32>,
    /// Docs to drop from both indexes once the records are published.
    retired: Vec<DocId>,
    /// One past the last doc id the plan uses.
    next_doc: DocId,
}

impl Engine {
    /// Applies the changes the external source committed at `source_seq`
    /// (one call per source transaction or batch of them, in sequence
    /// order): when this returns [`Applied::Applied`], they are durable in
    /// the data folder (or applied, in memory) and searchable. A sequence at
    /// or below [`Engine::source_seq`] is [`Applied::Skipped`]. See the
    /// module docs for what is checked and how replay stays idempotent.
    ///
    /// Needs an engine opened with
    /// [`EngineBuilder::external_source`](super::EngineBuilder::external_source)
    /// (else [`Error::InvalidConfig`]). An error before the log write
    /// applies nothing; an I/O error after it is returned too, and then
    /// the changes are applied (the log holds them) but an index may lack
    /// them until the next open repairs it.
    pub fn apply_changes(&self, source_seq: u64, changes: Vec<Change>) -> Result<Applied> {
        self.apply_at(Some(source_seq), changes)
    }

    /// Applies one part of a snapshot of the source (its tables as one
    /// transaction saw them) to a mirror that holds nothing of the source
    /// yet ([`Engine::source_seq`] 0), without stamping a sequence: a
    /// snapshot too large for one call goes in parts, and once every part
    /// is in, `apply_changes(snapshot_seq, vec![])` stamps the sequence the
    /// snapshot was taken at. Until then the folder claims nothing (it
    /// holds sequence 0), so a rebuild cut short is detected and redone.
    /// The same checks as [`Engine::apply_changes`] hold; on a mirror that
    /// holds a sequence already it is [`Error::InvalidConfig`].
    pub fn load_snapshot_part(&self, changes: Vec<Change>) -> Result<()> {
        self.apply_at(None, changes).map(|_| ())
    }

    /// [`Engine::apply_changes`] with `stamp`, or a snapshot part without.
    fn apply_at(&self, stamp: Option<u64>, changes: Vec<Change>) -> Result<Applied> {
        self.check_writable()?;
        if self.inner.source.is_none() {
            return Err(Error::InvalidConfig(
                "apply_changes needs an engine opened with EngineBuilder::external_source".into(),
            ));
        }
        let mut w = self.inner.writer.lock();
        // Nothing else journals on a mirror, but a failed call may have
        // left records staged: publish them first, in order.
        self.publish(&mut w, None)?;
        let plan = {
            let state = self.inner.state.read();
            match stamp {
                Some(seq) if seq <= state.source_seq => return Ok(Applied::Skipped),
                None if state.source_seq > 0 => {
                    return Err(Error::InvalidConfig(format!(
                        "a snapshot loads only into an empty mirror; this one holds source \
                         sequence {}",
                        state.source_seq
                    )))
                }
                _ => {}
            }
            self.lower(&state, &w, stamp.unwrap_or(0), changes)?
        };
        let Plan {
            mut records,
            docs,
            entries,
            vectors,
            retired,
            next_doc,
        } = plan;
        if let Some(seq) = stamp {
            records.push(Record::SourceSeq(seq));
        }
        let before = self.log_position(&w);
        self.journal(&mut w, records)?;
        w.next_doc = next_doc;
        let indexed = if docs.is_empty() {
            Ok(())
        } else {
            self.index(&mut w, &docs, &entries, &vectors)
        };
        // While retired docs are still in the text index, its commit holds
        // the call only in part: stamped below it (as an update's is).
        let limit = (!retired.is_empty()).then_some(before);
        let done = indexed
            .and_then(|()| self.publish(&mut w, limit))
            .and_then(|()| self.retire(&mut w, &retired));
        if let Err(e) = done {
            self.indexing_failed(&mut w, before);
            return Err(e);
        }
        Ok(Applied::Applied)
    }

    /// Lowers `changes` to records against `state` (writer lock held, so
    /// nothing changes meanwhile); checks everything before anything is
    /// logged.
    fn lower(
        &self,
        state: &State,
        w: &WriterState,
        source_seq: u64,
        changes: Vec<Change>,
    ) -> Result<Plan> {
        let dims = self.inner.embedder.dims();
        let model = self.inner.embedder.model_id();
        let mut plan = Plan {
            next_doc: w.next_doc,
            ..Plan::default()
        };
        let mut entries: HashMap<Uuid, Touched> = HashMap::new();
        let mut diaries: HashMap<Uuid, bool> = HashMap::new();
        let entry_of = |entries: &HashMap<Uuid, Touched>, id: &Uuid| match entries.get(id) {
            Some(Touched::Live { doc, diary }) => Some((*doc, *diary)),
            Some(Touched::Gone) => None,
            None => state.entries.get(id).map(|s| (s.doc, s.record.diary_id)),
        };
        for (index, change) in changes.into_iter().enumerate() {
            let invalid = |reason: String| Error::InvalidChange {
                source_seq,
                index,
                reason,
            };
            match change {
                Change::PutDiary(diary) => {
                    diary.validate().map_err(|e| invalid(e.to_string()))?;
                    diaries.insert(diary.id, true);
                    plan.records.push(Record::PutDiary(diary));
                }
                Change::DeleteDiary { id } => {
                    let held = diaries
                        .get(&id)
                        .copied()
                        .unwrap_or_else(|| state.diaries.contains_key(&id));
                    if !held {
                        continue;
                    }
                    diaries.insert(id, false);
                    let in_state = state
                        .entries
                        .values()
                        .filter(|s| s.record.diary_id == id && !entries.contains_key(&s.record.id))
                        .map(|s| s.record.id);
                    let in_call = entries.iter().filter_map(|(e, t)| match t {
                        Touched::Live { diary, .. } if *diary == id => Some(*e),
                        _ => None,
                    });
                    let gone: Vec<Uuid> = in_state.chain(in_call).collect();
                    for e in gone {
                        if let Some((doc, _)) = entry_of(&entries, &e) {
                            plan.retired.push(doc);
                        }
                        entries.insert(e, Touched::Gone);
                    }
                    plan.records.push(Record::DeleteDiary { id });
                }
                Change::PutEntry(change) => {
                    let EntryChange {
                        record,
                        vector,
                        model_id,
                    } = *change;
                    if model_id != model {
                        return Err(invalid(format!(
                            "entry {} has a vector of model `{model_id}`, this engine uses \
                             `{model}`",
                            record.id
                        )));
                    }
                    // Dimension, finite values, non-zero.
                    crate::index::vector::check(dims, &vector)
                        .map_err(|e| invalid(format!("entry {}: {e}", record.id)))?;
                    let diary_held = diaries
                        .get(&record.diary_id)
                        .copied()
                        .unwrap_or_else(|| state.diaries.contains_key(&record.diary_id));
                    if !diary_held {
                        return Err(invalid(format!(
                            "entry {} is in diary {}, which is not held",
                            record.id, record.diary_id
                        )));
                    }
                    let entry = Entry::from_record(record.clone())
                        .map_err(|e| invalid(format!("entry {}: {e}", record.id)))?;
                    let (id, diary) = (record.id, record.diary_id);
                    let held = match entries.get(&id) {
                        // Touched earlier in this call: re-indexed without
                        // comparing (rare, and always correct).
                        Some(Touched::Live { doc, .. }) => Held::Reindex(*doc),
                        Some(Touched::Gone) => Held::New,
                        None => match state.entries.get(&id) {
                            Some(s) if self.same_text_and_vector(state, s, &record, &vector) => {
                                Held::Same {
                                    doc: s.doc,
                                    unchanged: *s.record == record,
                                }
                            }
                            Some(s) => Held::Reindex(s.doc),
                            None => Held::New,
                        },
                    };
                    let doc = match held {
                        Held::Same { doc, unchanged } => {
                            if !unchanged {
                                plan.records.push(Record::UpdateEntry(Box::new(StoredEntry {
                                    record: Arc::new(record),
                                    doc,
                                    vector,
                                })));
                            }
                            doc
                        }
                        Held::Reindex(old) => {
                            let doc = plan.take_doc();
                            plan.retired.push(old);
                            plan.add(doc, entry, &vector);
                            plan.records.push(Record::UpdateEntry(Box::new(StoredEntry {
                                record: Arc::new(record),
                                doc,
                                vector,
                            })));
                            doc
                        }
                        Held::New => {
                            let doc = plan.take_doc();
                            plan.add(doc, entry, &vector);
                            let stored = StoredEntry {
                                record: Arc::new(record),
                                doc,
                                vector,
                            };
                            // Consecutive new entries share one record.
                            match plan.records.last_mut() {
                                Some(Record::PutEntries(batch)) => batch.push(stored),
                                _ => plan.records.push(Record::PutEntries(vec![stored])),
                            }
                            doc
                        }
                    };
                    entries.insert(id, Touched::Live { doc, diary });
                }
                Change::DeleteEntry { id } => {
                    if let Some((doc, _)) = entry_of(&entries, &id) {
                        plan.retired.push(doc);
                        entries.insert(id, Touched::Gone);
                        plan.records.push(Record::DeleteEntry { id });
                    }
                }
                Change::PutRelation(relation) => {
                    for end in [relation.source_id, relation.target_id] {
                        if entry_of(&entries, &end).is_none() {
                            return Err(invalid(format!(
                                "relation {} links entry {end}, which is not held",
                                relation.id
                            )));
                        }
                    }
                    plan.records.push(Record::PutRelation(relation));
                }
                Change::DeleteRelation { id } => {
                    plan.records.push(Record::DeleteRelation { id });
                }
                Change::Accesses(accesses) => {
                    let held: Vec<Access> = accesses
                        .into_iter()
                        .filter(|a| entry_of(&entries, &a.id).is_some())
                        .collect();
                    if !held.is_empty() {
                        plan.records.push(Record::RecordAccesses(held));
                    }
                }
            }
        }
        Ok(plan)
    }

    /// Whether the entry held in `slot` has `record`'s passage text and
    /// exactly `vector`: then its doc stays as indexed.
    fn same_text_and_vector(
        &self,
        state: &State,
        slot: &crate::store::state::Slot,
        record: &EntryRecord,
        vector: &[f32],
    ) -> bool {
        let old = &slot.record;
        if old.title != record.title || old.content != record.content || old.tags != record.tags {
            return false;
        }
        if self.inner.store.is_some() {
            state.vectors.holds(slot.doc, vector)
        } else {
            self.inner
                .vectors
                .get(slot.doc)
                .is_some_and(|v| same_bits(&v, vector))
        }
    }

    /// What storing `batch` would store, computed as
    /// [`Engine::put_entries`] does (validated, ids, CIDs and times chosen,
    /// passages embedded in batched inference) but written nowhere: for a
    /// caller whose source of truth is elsewhere, which writes these to it
    /// and then applies them at the sequence it commits them at. Checked
    /// against what this engine holds (the diary exists, given ids are
    /// new); the source's own constraints remain the final word. Works on
    /// a mirror and on an engine that is its own truth alike.
    pub fn prepare_entries(&self, batch: Vec<PutEntry>) -> Result<Vec<Change>> {
        let (entries, vectors) = self.prepare_batch(batch, None)?;
        let model_id = self.inner.embedder.model_id().to_string();
        Ok(entries
            .iter()
            .zip(vectors.rows())
            .map(|(e, v)| {
                Change::PutEntry(Box::new(EntryChange {
                    record: e.to_record(),
                    vector: v.to_vec(),
                    model_id: model_id.clone(),
                }))
            })
            .collect())
    }

    /// What [`Engine::update_entry`] would store for `patch` (signed-entry
    /// rules enforced, re-embedded only when the title, content or tags
    /// change), written nowhere; `None` when the patch changes nothing.
    /// See [`Engine::prepare_entries`].
    pub fn prepare_update(&self, id: Uuid, patch: EntryPatch) -> Result<Option<Change>> {
        let patched = self.patched(id, &patch, now())?;
        if !patched.changed {
            return Ok(None);
        }
        let vector = match patched.vector {
            Some(v) => v,
            None => self.vector_of(id, patched.doc)?,
        };
        Ok(Some(Change::PutEntry(Box::new(EntryChange {
            record: patched.entry.to_record(),
            vector,
            model_id: self.inner.embedder.model_id().to_string(),
        }))))
    }
}

impl Plan {
    fn take_doc(&mut self) -> DocId {
        let doc = self.next_doc;
        self.next_doc += 1;
        doc
    }

    fn add(&mut self, doc: DocId, entry: Entry, vector: &[f32]) {
        self.docs.push(doc);
        self.entries.push(entry);
        self.vectors.extend_from_slice(vector);
    }
}
