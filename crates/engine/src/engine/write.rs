//! The write path: diaries, entry batches (validate, embed without a lock,
//! log, index, group commit, publish), updates, deletes and relations.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Engine, WriterState, GROUP_COMMIT_WAIT};
use crate::count_guard::CountGuard;
use crate::embed::{Embeddings, PassageText};
use crate::entry::{
    Diary, Entry, EntryPatch, EntryRecord, NewEntry, Relation, RelationKind, RelationStatus,
};
use crate::index::DocId;
use crate::search::invalid::InvalidField;
use crate::store::{Record, StoredEntry};
use crate::{Error, Result};

/// An entry to store, with an optional id and creation time (for imports
/// and mirrors; new entries get a v7 id and the current time).
#[derive(Clone, Debug)]
pub struct PutEntry {
    /// The client's fields.
    pub entry: NewEntry,
    /// Id to use instead of a fresh one.
    pub id: Option<Uuid>,
    /// Creation time to record instead of now.
    pub created_at: Option<OffsetDateTime>,
}

impl From<NewEntry> for PutEntry {
    fn from(entry: NewEntry) -> Self {
        Self {
            entry,
            id: None,
            created_at: None,
        }
    }
}

impl PutEntry {
    /// Uses this id.
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = Some(id);
        self
    }

    /// Records this creation time.
    pub fn created_at(mut self, at: OffsetDateTime) -> Self {
        self.created_at = Some(at);
        self
    }
}

/// An entry with a patch applied, not yet written.
pub(super) struct Patched {
    pub entry: Entry,
    /// The record the patch was applied to (to detect a concurrent update).
    pub seen: Arc<EntryRecord>,
    /// Its doc id then.
    pub doc: DocId,
    /// The new passage vector, when the text changed.
    pub vector: Option<Vec<f32>>,
    /// Whether the patch changed anything.
    pub changed: bool,
}

/// Item `index` of a batch signs with a nonce already in use.
fn nonce_in_use(index: usize, nonce: &str) -> Error {
    Error::InBatch {
        index,
        cause: Box::new(
            crate::entry::EntryError::NonceInUse {
                nonce: nonce.to_string(),
            }
            .into(),
        ),
    }
}

pub(super) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(super) fn passage(e: &Entry) -> PassageText {
    PassageText {
        title: e.title().map(str::to_string),
        content: e.content().to_string(),
        tags: e.tags().to_vec(),
    }
}

impl Engine {
    /// Creates a diary; its id must be new.
    pub fn create_diary(&self, diary: Diary) -> Result<Diary> {
        self.check_local_write()?;
        diary.validate()?;
        let mut w = self.inner.writer.lock();
        if self.inner.state.read().diaries.contains_key(&diary.id) {
            return Err(Error::AlreadyExists {
                what: "diary",
                id: diary.id,
            });
        }
        // Durable first (writer lock held, readers not blocked), then visible.
        self.persist(&mut w, vec![Record::PutDiary(diary.clone())])?;
        Ok(diary)
    }

    /// Renames a diary or changes its visibility: `diary` replaces the one
    /// with its id, which must exist and stay in its team (a team is the
    /// tenant boundary; moving a diary across it is not an edit).
    pub fn update_diary(&self, diary: Diary) -> Result<Diary> {
        self.check_local_write()?;
        diary.validate()?;
        let mut w = self.inner.writer.lock();
        match self.inner.state.read().diaries.get(&diary.id) {
            None => {
                return Err(Error::NotFound {
                    what: "diary",
                    id: diary.id,
                })
            }
            Some(held) if held.team_id != diary.team_id => {
                return Err(
                    InvalidField::new("teamId", "a diary cannot move to another team").into(),
                )
            }
            Some(held) if *held == diary => return Ok(diary),
            Some(_) => {}
        }
        self.persist(&mut w, vec![Record::PutDiary(diary.clone())])?;
        Ok(diary)
    }

    /// Deletes a diary with every entry and relation in it. Refused while
    /// it holds signed entries (they are permanent, as in MoltNet:
    /// [`EntryError::DiaryHoldsSigned`](crate::entry::EntryError::DiaryHoldsSigned)),
    /// and then nothing is deleted.
    pub fn delete_diary(&self, id: Uuid) -> Result<()> {
        self.check_local_write()?;
        let mut w = self.inner.writer.lock();
        let docs: Vec<DocId> = {
            let state = self.inner.state.read();
            if !state.diaries.contains_key(&id) {
                return Err(Error::NotFound { what: "diary", id });
            }
            let signed = state
                .entries
                .values()
                .filter(|s| s.record.diary_id == id && s.record.content_signature.is_some())
                .count();
            if signed > 0 {
                return Err(crate::entry::EntryError::DiaryHoldsSigned { signed }.into());
            }
            state
                .entries
                .values()
                .filter(|s| s.record.diary_id == id)
                .map(|s| s.doc)
                .collect()
        };
        self.delete_logged(&mut w, Record::DeleteDiary { id }, &docs)
    }

    /// Stores one entry.
    pub fn put_entry(&self, entry: impl Into<PutEntry>) -> Result<EntryRecord> {
        let mut out = self.put_entries(vec![entry.into()])?;
        out.pop()
            .ok_or_else(|| InvalidField::new("entries", "the batch is empty").into())
    }

    /// Stores a batch: validated as a whole (the first invalid entry fails
    /// the batch, naming its index), embedded in batched inference, indexed
    /// with one text commit, shared with concurrent writers (group commit).
    /// When this returns `Ok`, the entries are durable and searchable.
    ///
    /// An error before the log append stores nothing. An I/O error after it
    /// (the fsync or the text commit) is returned too, but the entries are
    /// then durable without being searchable; they come back on the next
    /// open, which indexes what the log holds.
    pub fn put_entries(&self, batch: Vec<PutEntry>) -> Result<Vec<EntryRecord>> {
        self.put_batch(batch, None)
    }

    /// Stores a batch with vectors computed elsewhere (bulk imports, mirrors,
    /// re-indexing): row `i` of `vectors` belongs to entry `i`. The vectors
    /// must come from this engine's model; only their shape can be checked.
    pub fn put_entries_with_vectors(
        &self,
        batch: Vec<PutEntry>,
        vectors: &Embeddings,
    ) -> Result<Vec<EntryRecord>> {
        if vectors.dims() != self.inner.embedder.dims() {
            return Err(Error::WrongVectorDimension {
                expected: self.inner.embedder.dims(),
                got: vectors.dims(),
            });
        }
        if vectors.len() != batch.len() {
            return Err(InvalidField::new(
                "vectors",
                format!("{} entries but {} vectors", batch.len(), vectors.len()),
            )
            .into());
        }
        // The vectors' values are checked in `put_batch`, on the path the
        // model's own vectors take too.
        self.put_batch(batch, Some(vectors))
    }

    pub(super) fn put_batch(
        &self,
        batch: Vec<PutEntry>,
        given: Option<&Embeddings>,
    ) -> Result<Vec<EntryRecord>> {
        self.check_local_write()?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let (entries, vectors) = self.prepare_batch(batch, given)?;
        let vectors = &*vectors;

        // Phase 1, writer lock held: doc ids, the log write (its fsync is
        // awaited by the group commit), both indexes (invisible until the
        // records are applied to the state: searches are filtered by it).
        let arriving = CountGuard::new(&self.inner.arriving);
        let seq = {
            let mut w = self.inner.writer.lock();
            {
                let state = self.inner.state.read();
                if let Some((index, e)) = entries.iter().enumerate().find(|(_, e)| {
                    state.entries.contains_key(&e.id()) || w.staged_ids.contains(&e.id())
                }) {
                    return Err(Error::InBatch {
                        index,
                        cause: Box::new(Error::AlreadyExists {
                            what: "entry",
                            id: e.id(),
                        }),
                    });
                }
                // Checked again here, under the writer lock: another batch
                // may have taken the nonce since `prepare_batch` looked.
                for (index, e) in entries.iter().enumerate() {
                    if let Some(nonce) = e.signature().map(|s| &s.nonce) {
                        if state.nonces.contains_key(nonce) || w.staged_nonces.contains(nonce) {
                            return Err(nonce_in_use(index, nonce));
                        }
                    }
                }
            }
            let first = w.next_doc;
            let docs: Vec<DocId> = (0..entries.len() as DocId).map(|i| first + i).collect();
            let stored = entries
                .iter()
                .zip(&docs)
                .zip(vectors.rows())
                .map(|((e, &doc), v)| StoredEntry {
                    record: Arc::new(e.to_record()),
                    doc,
                    vector: v.to_vec(),
                })
                .collect();
            let before = self.log_position(&w);
            let seq = self.journal(&mut w, vec![Record::PutEntries(stored)])?;
            // Reserved where chosen: the staged record owns these doc ids
            // whatever happens next.
            w.next_doc = first + entries.len() as DocId;
            if let Err(e) = self.index(&mut w, &docs, &entries, vectors.as_slice()) {
                self.indexing_failed(&mut w, before);
                return Err(e);
            }
            seq
        };
        drop(arriving);

        // Phase 2: the group commit. Whoever takes the lock first publishes
        // every write staged so far (log durable, text committed, records
        // applied); writers whose records that covered just go on.
        let gather_until = std::time::Instant::now() + GROUP_COMMIT_WAIT;
        loop {
            let mut w = self.inner.writer.lock();
            if w.staged.front().is_none_or(|(first, _)| *first > seq) {
                break;
            }
            if self.inner.arriving.load(Ordering::Acquire) > 0
                && std::time::Instant::now() < gather_until
            {
                drop(w);
                std::thread::sleep(std::time::Duration::from_micros(50));
                continue;
            }
            self.publish(&mut w, None)?;
            break;
        }
        Ok(entries.into_iter().map(EntryRecord::from).collect())
    }

    /// Validates a batch (ids, CIDs and times chosen here) and embeds it,
    /// unless vectors are given; every vector is checked. No lock is held
    /// and nothing is written. `put_batch` and `prepare_entries` share it.
    pub(super) fn prepare_batch<'a>(
        &self,
        batch: Vec<PutEntry>,
        given: Option<&'a Embeddings>,
    ) -> Result<(Vec<Entry>, Cow<'a, Embeddings>)> {
        let t = now();
        let mut entries = Vec::with_capacity(batch.len());
        let mut seen = std::collections::HashSet::new();
        let mut nonces = std::collections::HashSet::new();
        {
            let cat = self.inner.state.read();
            for (index, put) in batch.into_iter().enumerate() {
                let in_batch = |source: Error| Error::InBatch {
                    index,
                    cause: Box::new(source),
                };
                if !cat.diaries.contains_key(&put.entry.diary_id) {
                    return Err(in_batch(Error::NotFound {
                        what: "diary",
                        id: put.entry.diary_id,
                    }));
                }
                let created = put.created_at.unwrap_or(t);
                let entry = match put.id {
                    Some(id) => {
                        if cat.entries.contains_key(&id) || !seen.insert(id) {
                            return Err(in_batch(Error::AlreadyExists { what: "entry", id }));
                        }
                        Entry::create_with_id(id, put.entry, created)
                    }
                    None => Entry::create(put.entry, created),
                }
                .map_err(|e| in_batch(e.into()))?;
                if let Some(nonce) = entry.signature().map(|s| &s.nonce) {
                    if cat.nonces.contains_key(nonce) || !nonces.insert(nonce.clone()) {
                        return Err(nonce_in_use(index, nonce));
                    }
                }
                entries.push(entry);
            }
        }
        let vectors = match given {
            Some(v) => Cow::Borrowed(v),
            None => {
                let passages: Vec<PassageText> = entries.iter().map(passage).collect();
                Cow::Owned(self.inner.embedder.embed_passages(&passages)?)
            }
        };
        // Checked before anything is logged, given or computed alike: a
        // vector the index would refuse (a NaN or all-zero row from the
        // model included) must never reach the log, or every later open of
        // the folder would fail on it.
        if vectors.len() != entries.len() {
            // Given vectors were counted above: this is the model's doing.
            return Err(Error::Inference {
                model: self.inner.embedder.model_id().to_string(),
                message: format!("{} passages but {} vectors", entries.len(), vectors.len()),
            });
        }
        for (index, row) in vectors.rows().enumerate() {
            crate::index::vector::check(self.inner.embedder.dims(), row).map_err(|e| {
                Error::InBatch {
                    index,
                    cause: Box::new(e),
                }
            })?;
        }
        Ok((entries, vectors))
    }

    /// Adds docs to both indexes, uncommitted (the next publish commits
    /// them). Writer lock held.
    pub(super) fn index(
        &self,
        w: &mut WriterState,
        docs: &[DocId],
        entries: &[Entry],
        vectors: &[f32],
    ) -> Result<()> {
        self.inner.vectors.insert_batch(docs, vectors)?;
        w.text_changes += 1;
        for (doc, e) in docs.iter().zip(entries) {
            self.inner
                .text
                .add(*doc, e.title(), e.content(), e.tags())?;
        }
        Ok(())
    }

    /// Applies a patch (signed-entry rules enforced). Re-embeds only when
    /// the title, content or tags change.
    pub fn update_entry(&self, id: Uuid, patch: EntryPatch) -> Result<EntryRecord> {
        self.check_local_write()?;
        // The model runs without the writer lock (an embedding can wait
        // behind a bulk load in the embedder's queue, and every writer would
        // wait with it). If another update wins the race meanwhile, the
        // patch is applied again to what it wrote.
        let (entry, old_doc, vector, text_changed, mut w) = loop {
            let patched = self.patched(id, &patch, now())?;
            if !patched.changed {
                return Ok(patched.entry.to_record());
            }
            let Patched {
                mut entry,
                seen,
                vector,
                ..
            } = patched;
            let w = self.inner.writer.lock();
            let cat = self.inner.state.read();
            let slot = cat
                .entries
                .get(&id)
                .ok_or(Error::NotFound { what: "entry", id })?;
            if !Arc::ptr_eq(&slot.record, &seen) {
                continue;
            }
            // Reads counted since the entry was read above.
            (entry.access_count, entry.last_accessed_at) = cat.access_of(&slot.record);
            let old_doc = slot.doc;
            drop(cat);
            let text_changed = vector.is_some();
            break (entry, old_doc, vector, text_changed, w);
        };
        let (doc, vector) = match vector {
            // Reserved where it is chosen (writer lock held): if indexing
            // fails after the log append below, the logged record still owns
            // this id, and the next write must not pick it again (the store
            // would refuse it, and every later put with it, until a reopen).
            Some(v) => {
                let doc = w.next_doc;
                w.next_doc += 1;
                (doc, v)
            }
            None => (old_doc, self.vector_of(id, old_doc)?),
        };
        let record = entry.to_record();
        let before = self.log_position(&w);
        self.journal(
            &mut w,
            vec![Record::UpdateEntry(Box::new(StoredEntry {
                record: Arc::new(record.clone()),
                doc,
                vector: vector.clone(),
            }))],
        )?;
        // The new doc is indexed and the update published before the old
        // doc is retired (no search misses the entry meanwhile), so the
        // publishing commit holds the update only in part: stamped below it.
        let indexed = if text_changed {
            self.index(&mut w, &[doc], std::slice::from_ref(&entry), &vector)
        } else {
            Ok(())
        };
        let published = indexed.and_then(|()| self.publish(&mut w, Some(before)));
        let retired = published.and_then(|()| {
            if text_changed {
                self.retire(&mut w, &[old_doc])
            } else {
                Ok(())
            }
        });
        if let Err(e) = retired {
            self.indexing_failed(&mut w, before);
            return Err(e);
        }
        Ok(record)
    }

    /// The vector entry `id` is indexed with under `doc`.
    pub(super) fn vector_of(&self, id: Uuid, doc: DocId) -> Result<Vec<f32>> {
        self.inner.vectors.get(doc).ok_or(Error::NotFound {
            what: "vector of entry",
            id,
        })
    }

    /// Entry `id` with `patch` applied at `at` (signed-entry rules
    /// enforced), and its new vector when the title, content or tags
    /// changed (embedded here, no lock held). Nothing is written.
    pub(super) fn patched(
        &self,
        id: Uuid,
        patch: &EntryPatch,
        at: OffsetDateTime,
    ) -> Result<Patched> {
        let (mut entry, seen, doc) = {
            let cat = self.inner.state.read();
            let slot = cat
                .entries
                .get(&id)
                .ok_or(Error::NotFound { what: "entry", id })?;
            (
                Entry::from_record(cat.current(&slot.record))?,
                Arc::clone(&slot.record),
                slot.doc,
            )
        };
        let before = passage(&entry);
        let changed = patch.clone().apply(&mut entry, at)?;
        let text_changed = changed && passage(&entry) != before;
        let vector = if text_changed {
            let vector = self
                .inner
                .embedder
                .embed_passages(&[passage(&entry)])?
                .into_vec();
            // Before any log append, as in `put_batch`.
            crate::index::vector::check(self.inner.embedder.dims(), &vector)?;
            Some(vector)
        } else {
            None
        };
        Ok(Patched {
            entry,
            seen,
            doc,
            vector,
            changed,
        })
    }

    /// Drops docs from both indexes, with one text commit (after the
    /// state stopped pointing at them). Writer lock held.
    pub(super) fn retire(&self, w: &mut WriterState, docs: &[DocId]) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        for &doc in docs {
            self.inner.vectors.delete(doc);
        }
        w.text_changes += 1;
        for &doc in docs {
            self.inner.text.delete(doc)?;
        }
        self.commit_text(w)
    }

    /// Deletes an unsigned entry and its relations.
    pub fn delete_entry(&self, id: Uuid) -> Result<()> {
        self.check_local_write()?;
        let mut w = self.inner.writer.lock();
        let doc = {
            let state = self.inner.state.read();
            let slot = state
                .entries
                .get(&id)
                .ok_or(Error::NotFound { what: "entry", id })?;
            if slot.record.content_signature.is_some() {
                return Err(crate::entry::EntryError::SignedNotDeletable.into());
            }
            slot.doc
        };
        self.delete_logged(&mut w, Record::DeleteEntry { id }, &[doc])
    }

    /// Logs and publishes a delete, then retires the docs it removed from
    /// the state (writer lock held). The publishing commit is stamped below
    /// the delete: until the retiring commit, the text index still holds
    /// the docs.
    fn delete_logged(&self, w: &mut WriterState, record: Record, docs: &[DocId]) -> Result<()> {
        let before = self.log_position(w);
        self.journal(w, vec![record])?;
        self.publish(w, Some(before))
            .and_then(|()| self.retire(w, docs))
            .inspect_err(|_| self.indexing_failed(w, before))
    }

    /// Proposes a relation between two entries of one diary.
    pub fn relate(&self, source: Uuid, target: Uuid, kind: RelationKind) -> Result<Relation> {
        self.check_local_write()?;
        let mut w = self.inner.writer.lock();
        let relation = {
            let cat = self.inner.state.read();
            let s = cat.entries.get(&source).ok_or(Error::NotFound {
                what: "entry",
                id: source,
            })?;
            let t = cat.entries.get(&target).ok_or(Error::NotFound {
                what: "entry",
                id: target,
            })?;
            let (s, t) = (
                Entry::from_record(cat.current(&s.record))?,
                Entry::from_record(cat.current(&t.record))?,
            );
            let relation = Relation::new(&s, &t, kind, now())?;
            relation.check_unique(cat.relations.values())?;
            relation
        };
        self.persist(&mut w, vec![Record::PutRelation(relation.clone())])?;
        Ok(relation)
    }

    /// Deletes a relation (an accepted `supersedes` stops hiding its target).
    pub fn delete_relation(&self, id: Uuid) -> Result<()> {
        self.check_local_write()?;
        let mut w = self.inner.writer.lock();
        if !self.inner.state.read().relations.contains_key(&id) {
            return Err(Error::NotFound {
                what: "relation",
                id,
            });
        }
        self.persist(&mut w, vec![Record::DeleteRelation { id }])
    }

    /// Accepts, rejects or re-proposes a relation. An accepted `supersedes`
    /// hides its target from searches that exclude superseded entries.
    pub fn set_relation_status(&self, id: Uuid, status: RelationStatus) -> Result<Relation> {
        self.check_local_write()?;
        let mut w = self.inner.writer.lock();
        if !self.inner.state.read().relations.contains_key(&id) {
            return Err(Error::NotFound {
                what: "relation",
                id,
            });
        }
        let at = now();
        self.persist(&mut w, vec![Record::SetRelationStatus { id, status, at }])?;
        self.inner
            .state
            .read()
            .relations
            .get(&id)
            .cloned()
            .ok_or(Error::NotFound {
                what: "relation",
                id,
            })
    }
}
