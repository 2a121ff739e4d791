//! The engine facade: diaries, entries and relations in, hybrid search out.
//!
//! A write validates entries and embeds them in batched inference
//! **before** taking any lock. Then, under the single writer lock, it
//! builds its log records (doc ids picked here), writes them to the log
//! and adds vectors and text to both indexes. The group commit makes the
//! log durable, commits the text index and **publishes**: it applies the
//! records, in sequence order, to the one `State` (`store::state`)
//! the store and the engine share (so a search never sees an entry that an
//! index lacks, nor one a crash could still lose). A search computes the
//! allowed-document bitmap from the state, releases the lock, runs both
//! arms with that bitmap pushed into them, fuses, re-weights and pages.
//! Searches never wait behind an embedding call or a text commit; the
//! state's write lock is held only while records are applied.

mod builder;
mod changes;
mod journal;
mod open;
mod read;
pub mod reindex;
mod search;
mod write;

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;
use uuid::Uuid;

use self::journal::AccessJournal;
pub use self::open::{IndexCheck, OpenProgress, OpenReport, OpenTimings, TEXT_DIR, VECTORS_DIR};
use crate::embed::Embedder;
use crate::index::text::TextIndex;
use crate::index::vector::VectorIndex;
use crate::index::DocId;
use crate::store::state::State;
use crate::store::{Record, Store};
use crate::Result;

pub use self::builder::EngineBuilder;
pub use self::changes::{Applied, Change, EntryChange};
pub use self::read::{ListRequest, ListResponse, TagCount};
pub use self::write::PutEntry;

/// The embedded hybrid search engine. Cheap to clone; `Send + Sync`; use it
/// from many threads at once.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    embedder: Embedder,
    /// Diaries, entries, relations, postings, access counts: shared with
    /// the store, changed only by applying records (see the module docs).
    state: Arc<RwLock<State>>,
    vectors: Box<dyn VectorIndex>,
    text: TextIndex,
    /// Serialises writers; never taken by readers. Shared with the access
    /// journal's thread.
    writer: Arc<Mutex<WriterState>>,
    /// Write calls waiting for, or in, their first phase: a group commit
    /// waits briefly for them so that one commit covers them too.
    arriving: AtomicUsize,
    /// The durable log, when the engine has a data folder.
    store: Option<Arc<Store>>,
    checkpoint_bytes: u64,
    checkpointing: Arc<AtomicBool>,
    /// What opening the data folder found and did.
    open_report: OpenReport,
    /// Where opening spent its time.
    open_timings: OpenTimings,
    /// Live [`BulkLoad`] guards; graph builds are paused while any exists.
    bulk_loads: Mutex<usize>,
    /// The background job journaling access counts (data folder only).
    access_journal: Mutex<Option<AccessJournal>>,
    /// The external source of truth mirrored, if any
    /// ([`EngineBuilder::external_source`]).
    source: Option<String>,
}

/// How long a group commit waits for writers still in their first phase
/// (a text commit costs several milliseconds; this is a fraction of one).
const GROUP_COMMIT_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

/// How often the access journal logs changed counts by default: a crash
/// loses at most this much of them.
const ACCESS_JOURNAL_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What the writer lock guards besides the order of writes.
#[derive(Default)]
struct WriterState {
    /// The next doc id to hand out: above every doc id in the state and in
    /// the staged records, so a doc id is reserved where it is chosen.
    next_doc: DocId,
    /// The sequence number of the last record logged (in memory: assigned).
    logged: u64,
    /// Records logged but not applied to the state yet, in sequence order:
    /// the group commit publishes them once both indexes hold them.
    staged: VecDeque<(u64, Record)>,
    /// Entry ids the staged records create: taken, though not in the state.
    staged_ids: HashSet<Uuid>,
    /// Signing nonces the staged records use: taken, though not in the state.
    staged_nonces: HashSet<String>,
    /// Write calls that changed the text index so far, and how many of them
    /// the last text commit included. A commit (a new tantivy segment,
    /// fsyncs: milliseconds) covers every change made before it, so writers
    /// that arrive while one commits share the next one: group commit.
    text_changes: u64,
    text_committed: u64,
    /// Set when indexing failed after a log append (the entry is durable but
    /// the indexes may lack it): text commits are then stamped no higher
    /// than the position before that append, so the next open compares
    /// the indexes with the entries and repairs them.
    stamp_cap: Option<u64>,
}

impl WriterState {
    /// Doc ids the staged records put in the indexes: not live yet.
    fn staged_docs(&self) -> RoaringBitmap {
        let mut docs = RoaringBitmap::new();
        for (_, record) in &self.staged {
            match record {
                Record::PutEntries(entries) => docs.extend(entries.iter().map(|e| e.doc)),
                Record::UpdateEntry(e) => {
                    docs.insert(e.doc);
                }
                _ => {}
            }
        }
        docs
    }
}

impl Drop for Inner {
    /// Stops the access journal, then logs the counts still pending on a
    /// clean close (best effort: the entries themselves are already
    /// durable).
    fn drop(&mut self) {
        if let Some(job) = self.access_journal.get_mut().take() {
            job.stop();
        }
        let Some(store) = self.store.as_ref().filter(|s| !s.is_read_only()) else {
            return;
        };
        if self.source.is_some() {
            return; // a mirror's counts are the caller's
        }
        if let Err(e) = journal::log_accesses(&mut self.writer.lock(), store, &self.state) {
            tracing::warn!(error = %e, "could not log access counts while closing");
        }
    }
}

impl Engine {
    /// Refuses a write on a read-only engine before anything (an embedding,
    /// a doc id) is spent on it.
    fn check_writable(&self) -> Result<()> {
        match &self.inner.store {
            Some(store) if store.is_read_only() => {
                Err(crate::store::StoreError::ReadOnly { path: store.path() }.into())
            }
            _ => Ok(()),
        }
    }

    /// Refuses a local write: on a read-only engine, and on a mirror of an
    /// external source, whose state changes only by
    /// [`Engine::apply_changes`].
    fn check_local_write(&self) -> Result<()> {
        self.check_writable()?;
        match &self.inner.source {
            Some(source) => Err(crate::Error::ExternalSource {
                source_id: source.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The external source this engine mirrors, if any
    /// ([`EngineBuilder::external_source`]).
    pub fn external_source(&self) -> Option<&str> {
        self.inner.source.as_deref()
    }

    /// The source's sequence number the engine's state includes: the
    /// `source_seq` of the last [`Engine::apply_changes`] that was applied
    /// (persisted in the data folder, so a reopened cache reports it); 0
    /// when none was. A caller catching up applies what came after it.
    pub fn source_seq(&self) -> u64 {
        self.inner.state.read().source_seq
    }

    /// Whether the engine was opened read-only
    /// ([`EngineBuilder::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.inner.store.as_ref().is_some_and(|s| s.is_read_only())
    }

    /// Where opening the data folder spent its time (all zero in memory).
    pub fn open_timings(&self) -> &OpenTimings {
        &self.inner.open_timings
    }

    /// Compares both indexes with the live entries (doc-id sets, under the
    /// writer lock so no write is half applied): a consistency check for
    /// tests and operators; [`IndexCheck::is_consistent`] must always hold.
    pub fn check_indexes(&self) -> Result<IndexCheck> {
        let w = self.inner.writer.lock();
        let live = self.inner.state.read().postings.live().clone();
        // Writes waiting for their group commit are in the indexes but not
        // live yet: they are left out, not reported.
        let in_flight = w.staged_docs();
        let text = self.inner.text.doc_ids()? - &in_flight;
        let vectors = self.inner.vectors.live_docs() - &in_flight;
        Ok(IndexCheck::of(&live, &text, &vectors))
    }

    /// What opening the data folder found in its persisted indexes and had
    /// to index or remove (all zero in memory).
    pub fn open_report(&self) -> &OpenReport {
        &self.inner.open_report
    }

    /// A builder.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The embedder in use (its model id is recorded with the vectors).
    pub fn embedder(&self) -> &Embedder {
        &self.inner.embedder
    }

    /// Starts a bulk load: until the returned guard is dropped, background
    /// HNSW graph builds are paused, so ingesting gets every core (on 2
    /// cores: 27k entries/s against 19k/s with builds running on the other
    /// core). Entries are searchable meanwhile (their vectors are scanned
    /// exactly, slower as the unbuilt part grows). Dropping the guard
    /// resumes the builds, on every core until the backlog is built; follow
    /// a large load with [`optimize_indexes`](Self::optimize_indexes) to
    /// build one graph.
    pub fn bulk_load(&self) -> BulkLoad<'_> {
        let mut n = self.inner.bulk_loads.lock();
        *n += 1;
        if *n == 1 {
            self.inner.vectors.pause_builds(true);
        }
        BulkLoad { engine: self }
    }

    /// Waits for background index work (sealing write buffers into graph
    /// segments, merges) to finish; useful after a bulk load, before timing.
    /// Searches are correct at any time without it.
    pub fn flush_indexes(&self) {
        self.inner.vectors.flush();
    }

    /// Merges the vector index into one graph and waits (a full graph build:
    /// about a minute per 100k entries on 2 cores). Worth it after a bulk
    /// load; searches keep running meanwhile.
    pub fn optimize_indexes(&self) {
        self.inner.vectors.optimize();
    }

    /// A one-line description of the vector index layout.
    pub fn describe_vector_index(&self) -> String {
        self.inner.vectors.describe()
    }

    /// Live entries in the engine.
    pub fn len(&self) -> usize {
        self.inner.state.read().entries.len()
    }

    /// True when no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Pauses background graph builds while it lives: see
/// [`Engine::bulk_load`].
#[must_use = "graph builds resume as soon as the guard is dropped"]
pub struct BulkLoad<'a> {
    engine: &'a Engine,
}

impl Drop for BulkLoad<'_> {
    fn drop(&mut self) {
        let mut n = self.engine.inner.bulk_loads.lock();
        *n -= 1;
        if *n == 0 {
            self.engine.inner.vectors.pause_builds(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Diary, EntryPatch, NewEntry, Visibility};
    use crate::search::request::{Scope, SearchRequest};

    /// The store and the engine hold one state: every live entry's
    /// record is one allocation.
    fn assert_shared(engine: &Engine, ids: &[Uuid]) {
        let store = engine.inner.store.as_ref().expect("on disk");
        assert!(Arc::ptr_eq(&store.shared_state(), &engine.inner.state));
        let state = engine.inner.state.read();
        for id in ids {
            let slot = state.entries.get(id).expect("entry in the state");
            assert!(store.shares_record(&slot.record), "entry {id} is copied");
        }
    }

    #[test]
    fn records_are_held_once_through_writes_reads_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let embedder = Embedder::builder().build().expect("model bootstrapped");
        let open = || {
            Engine::builder()
                .embedder(embedder.clone())
                .data_dir(dir.path())
                .open()
                .expect("open")
        };
        let engine = open();
        let team = Uuid::now_v7();
        let diary = engine
            .create_diary(Diary::new(team, "d".into(), Visibility::Private).expect("diary"))
            .expect("create");
        let texts = [
            "ducks on the pond",
            "a key rotation runbook",
            "the pond froze",
        ];
        let put: Vec<PutEntry> = texts
            .iter()
            .map(|t| NewEntry::new(diary.id, *t).into())
            .collect();
        let ids: Vec<Uuid> = engine
            .put_entries(put)
            .expect("put")
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_shared(&engine, &ids);

        let patch = EntryPatch {
            importance: Some(9),
            ..EntryPatch::default()
        };
        engine.update_entry(ids[1], patch).expect("update");
        let req = SearchRequest::new("pond", Scope::Team { team_id: team });
        let first = engine.search(&req).expect("search");
        // A hit shows the reads before this one.
        assert!(first.hits.iter().all(|h| h.entry.access_count == 0));
        let second = engine.search(&req).expect("search");
        assert!(second.hits.iter().all(|h| h.entry.access_count == 1));
        engine.flush_accesses().expect("flush");
        assert_shared(&engine, &ids);
        let pond: Vec<Uuid> = first.hits.iter().map(|h| h.entry.id).collect();
        assert!(pond.contains(&ids[0]) && pond.contains(&ids[2]));
        drop(engine);

        let engine = open();
        assert_shared(&engine, &ids);
        for id in &pond {
            let e = engine.get_entry(*id).expect("entry");
            assert_eq!(e.access_count, 2, "reads of {id} survive the reopen");
        }
        assert_eq!(engine.get_entry(ids[1]).expect("entry").importance, 9);
    }
}
