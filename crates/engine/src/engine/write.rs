//! The write path: diaries, entry batches (validate, embed without a lock,
//! log, index, group commit, publish), updates, deletes and relations.

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
        self.check_writable()?;
        diary.validate()?;
        let _w = self.inner.writer.lock();
        if self.inner.catalog.read().diaries.contains_key(&diary.id) {
            return Err(Error::AlreadyExists {
                what: "diary",
                id: diary.id,
            });
        }
        // Durable first (writer lock held, readers not blocked), then visible.
        self.persist(vec![Record::PutDiary(diary.clone())])?;
        self.inner
            .catalog
            .write()
            .diaries
            .insert(diary.id, diary.clone());
        Ok(diary)
    }

    /// Deletes a diary with every entry and relation in it. Refused while
    /// it holds signed entries (they are permanent, as in MoltNet:
    /// [`EntryError::DiaryHoldsSigned`](crate::entry::EntryError::DiaryHoldsSigned)),
    /// and then nothing is deleted.
    pub fn delete_diary(&self, id: Uuid) -> Result<()> {
        self.check_writable()?;
        let mut w = self.inner.writer.lock();
        {
            let cat = self.inner.catalog.read();
            if !cat.diaries.contains_key(&id) {
                return Err(Error::NotFound { what: "diary", id });
            }
            let signed = cat
                .entries
                .values()
                .filter(|s| s.record.diary_id == id && s.record.content_signature.is_some())
                .count();
            if signed > 0 {
                return Err(crate::entry::EntryError::DiaryHoldsSigned { signed }.into());
            }
        }
        let before = self.log_position();
        self.persist(vec![Record::DeleteDiary { id }])?;
        let docs: Vec<DocId> = {
            let mut cat = self.inner.catalog.write();
            cat.diaries.remove(&id);
            let gone: Vec<Uuid> = cat
                .entries
                .values()
                .filter(|s| s.record.diary_id == id)
                .map(|s| s.record.id)
                .collect();
            let docs = gone
                .into_iter()
                .filter_map(|entry| cat.remove(entry).map(|slot| slot.doc))
                .collect();
            cat.remove_relations(|r| r.diary_id == id);
            docs
        };
        self.retire(&mut w, &docs)
            .inspect_err(|_| self.indexing_failed(&mut w, before))
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
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let t = now();
        let mut entries = Vec::with_capacity(batch.len());
        let mut seen = std::collections::HashSet::new();
        {
            let cat = self.inner.catalog.read();
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
                entries.push(entry);
            }
        }
        let embedded;
        let vectors = match given {
            Some(v) => v,
            None => {
                let passages: Vec<PassageText> = entries.iter().map(passage).collect();
                embedded = self.inner.embedder.embed_passages(&passages)?;
                &embedded
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

        // Phase 1, writer lock held: doc ids, the log append (its fsync is
        // awaited later), both indexes (invisible until the catalog has the
        // entries: searches are filtered by it).
        let shared: Vec<Arc<EntryRecord>> =
            entries.iter().map(|e| Arc::new(e.to_record())).collect();
        let arriving = CountGuard::new(&self.inner.arriving);
        let (docs, change) = {
            let mut w = self.inner.writer.lock();
            let first = {
                let mut cat = self.inner.catalog.write();
                let in_flight = self.inner.in_flight.lock();
                if let Some((index, e)) = entries.iter().enumerate().find(|(_, e)| {
                    cat.entries.contains_key(&e.id()) || in_flight.ids.contains(&e.id())
                }) {
                    return Err(Error::InBatch {
                        index,
                        cause: Box::new(Error::AlreadyExists {
                            what: "entry",
                            id: e.id(),
                        }),
                    });
                }
                let first = cat.next_doc();
                cat.reserve_docs(first + entries.len() as DocId);
                first
            };
            let docs: Vec<DocId> = (0..entries.len() as DocId).map(|i| first + i).collect();
            let before = self.log_position();
            if self.inner.store.is_some() {
                let stored = shared
                    .iter()
                    .zip(&docs)
                    .zip(vectors.rows())
                    .map(|((record, &doc), v)| StoredEntry {
                        record: Arc::clone(record),
                        doc,
                        vector: v.to_vec(),
                    })
                    .collect();
                self.log(vec![Record::PutEntries(stored)])?;
            }
            let change = match self.index(&mut w, &docs, &entries, vectors.as_slice()) {
                Ok(change) => change,
                Err(e) => {
                    self.indexing_failed(&mut w, before);
                    return Err(e);
                }
            };
            let mut in_flight = self.inner.in_flight.lock();
            in_flight.ids.extend(entries.iter().map(Entry::id));
            in_flight.docs.extend(docs.iter().copied());
            (docs, change)
        };
        drop(arriving);

        // Phase 2: the group commit. Whoever takes the lock first commits
        // every change made so far (after the log is durable up to its
        // end); writers whose change that covered just go on.
        let gather_until = std::time::Instant::now() + GROUP_COMMIT_WAIT;
        let committed = loop {
            let mut w = self.inner.writer.lock();
            if w.text_committed >= change {
                break Ok(());
            }
            if self.inner.arriving.load(Ordering::Acquire) > 0
                && std::time::Instant::now() < gather_until
            {
                drop(w);
                std::thread::sleep(std::time::Duration::from_micros(50));
                continue;
            }
            break self.commit_text(&mut w);
        };
        let records = entries.into_iter().map(EntryRecord::from).collect();
        let mut cat = self.inner.catalog.write();
        let mut in_flight = self.inner.in_flight.lock();
        for (record, &doc) in shared.iter().zip(&docs) {
            in_flight.ids.remove(&record.id);
            in_flight.docs.remove(doc);
        }
        committed?;
        for (record, doc) in shared.into_iter().zip(docs) {
            cat.insert(record, doc);
        }
        Ok(records)
    }

    /// Adds docs to both indexes, uncommitted; returns the text change's
    /// number for [`Engine::commit_text`]. Writer lock held.
    pub(super) fn index(
        &self,
        w: &mut WriterState,
        docs: &[DocId],
        entries: &[Entry],
        vectors: &[f32],
    ) -> Result<u64> {
        self.inner.vectors.insert_batch(docs, vectors)?;
        w.text_changes += 1;
        for (doc, e) in docs.iter().zip(entries) {
            self.inner
                .text
                .add(*doc, e.title(), e.content(), e.tags())?;
        }
        Ok(w.text_changes)
    }

    /// Applies a patch (signed-entry rules enforced). Re-embeds only when
    /// the title, content or tags change.
    pub fn update_entry(&self, id: Uuid, patch: EntryPatch) -> Result<EntryRecord> {
        self.check_writable()?;
        // The model runs without the writer lock (an embedding can wait
        // behind a bulk load in the embedder's queue, and every writer would
        // wait with it). If another update wins the race meanwhile, the
        // patch is applied again to what it wrote.
        let (entry, old_doc, vector, text_changed, mut w) = loop {
            let (mut entry, seen) = {
                let cat = self.inner.catalog.read();
                let slot = cat
                    .entries
                    .get(&id)
                    .ok_or(Error::NotFound { what: "entry", id })?;
                (
                    Entry::from_record(cat.current(&slot.record))?,
                    Arc::clone(&slot.record),
                )
            };
            let before = (
                entry.title().map(str::to_string),
                entry.content().to_string(),
                entry.tags().to_vec(),
            );
            if !patch.clone().apply(&mut entry, now())? {
                return Ok(entry.to_record());
            }
            let text_changed = before.0.as_deref() != entry.title()
                || before.1 != entry.content()
                || before.2 != entry.tags();
            let embedded = if text_changed {
                let vector = self
                    .inner
                    .embedder
                    .embed_passages(&[passage(&entry)])?
                    .into_vec();
                // Before the log append, as in `put_batch`.
                crate::index::vector::check(self.inner.embedder.dims(), &vector)?;
                Some(vector)
            } else {
                None
            };
            let w = self.inner.writer.lock();
            let cat = self.inner.catalog.read();
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
            break (entry, old_doc, embedded, text_changed, w);
        };
        let (doc, vector) = match vector {
            // Reserved where it is chosen (writer lock held): if indexing
            // fails after the log append below, the logged record still owns
            // this id, and the next write must not pick it again (the store
            // would refuse it, and every later put with it, until a reopen).
            Some(v) => {
                let mut cat = self.inner.catalog.write();
                let doc = cat.next_doc();
                cat.reserve_docs(doc + 1);
                (doc, v)
            }
            None => {
                let old = self.inner.vectors.get(old_doc).ok_or(Error::NotFound {
                    what: "vector of entry",
                    id,
                })?;
                (old_doc, old)
            }
        };
        let record = Arc::new(entry.to_record());
        let before = self.log_position();
        self.persist(vec![Record::UpdateEntry(Box::new(StoredEntry {
            record: Arc::clone(&record),
            doc,
            vector: vector.clone(),
        }))])?;
        if text_changed {
            // The old doc is retired by a second commit, after the catalog
            // points at the new one (no search misses the entry meanwhile),
            // so this commit holds the update only in part: stamped below it.
            let indexed = self
                .index(&mut w, &[doc], std::slice::from_ref(&entry), &vector)
                .and_then(|_| self.commit_text_upto(&mut w, Some(before)));
            if let Err(e) = indexed {
                self.indexing_failed(&mut w, before);
                return Err(e);
            }
        }
        {
            let mut cat = self.inner.catalog.write();
            cat.remove(id);
            cat.insert(Arc::clone(&record), doc);
        }
        let record = Arc::unwrap_or_clone(record);
        if text_changed {
            if let Err(e) = self.retire(&mut w, &[old_doc]) {
                self.indexing_failed(&mut w, before);
                return Err(e);
            }
        }
        Ok(record)
    }

    /// Drops docs from both indexes, with one text commit (after the
    /// catalog stopped pointing at them). Writer lock held.
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
        self.check_writable()?;
        let mut w = self.inner.writer.lock();
        let signed = self
            .inner
            .catalog
            .read()
            .record(&id)
            .ok_or(Error::NotFound { what: "entry", id })?
            .content_signature
            .is_some();
        if signed {
            return Err(crate::entry::EntryError::SignedNotDeletable.into());
        }
        let before = self.log_position();
        self.persist(vec![Record::DeleteEntry { id }])?;
        let slot = {
            let mut cat = self.inner.catalog.write();
            let slot = cat
                .remove(id)
                .ok_or(Error::NotFound { what: "entry", id })?;
            cat.remove_relations(|r| r.source_id == id || r.target_id == id);
            slot
        };
        self.retire(&mut w, &[slot.doc]).inspect_err(|_| {
            self.indexing_failed(&mut w, before);
        })
    }

    /// Proposes a relation between two entries of one diary.
    pub fn relate(&self, source: Uuid, target: Uuid, kind: RelationKind) -> Result<Relation> {
        self.check_writable()?;
        let _w = self.inner.writer.lock();
        let relation = {
            let cat = self.inner.catalog.read();
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
        self.persist(vec![Record::PutRelation(relation.clone())])?;
        let mut cat = self.inner.catalog.write();
        cat.relation_keys.insert(relation.key(), relation.id);
        cat.relations.insert(relation.id, relation.clone());
        Ok(relation)
    }

    /// Accepts, rejects or re-proposes a relation. An accepted `supersedes`
    /// hides its target from searches that exclude superseded entries.
    pub fn set_relation_status(&self, id: Uuid, status: RelationStatus) -> Result<Relation> {
        self.check_writable()?;
        let _w = self.inner.writer.lock();
        if !self.inner.catalog.read().relations.contains_key(&id) {
            return Err(Error::NotFound {
                what: "relation",
                id,
            });
        }
        let at = now();
        self.persist(vec![Record::SetRelationStatus { id, status, at }])?;
        let mut cat = self.inner.catalog.write();
        let r = cat.relations.get_mut(&id).ok_or(Error::NotFound {
            what: "relation",
            id,
        })?;
        r.set_status(status, at);
        let r = r.clone();
        cat.refresh_superseded();
        Ok(r)
    }
}
