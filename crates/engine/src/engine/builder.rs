//! Configuring and opening an engine: in memory, or on a data folder
//! (recovering the store, then bringing both indexes in line with it).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use super::journal::AccessJournal;
use super::open::{self, OpenProgress, OpenReport, OpenTimings};
use super::{reindex, Engine, Inner, WriterState, ACCESS_JOURNAL_EVERY};
use crate::embed::Embedder;
use crate::entry::Entry;
use crate::index::text::TextIndex;
use crate::index::vector::{VectorIndex, VectorIndexBuilder, VectorWrite};
use crate::store::state::State;
use crate::store::{Durability, Store, StoreOptions};
use crate::{Error, Result};

/// Configures an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    embedder: Option<Embedder>,
    vector: Option<VectorIndexBuilder>,
    data_dir: Option<PathBuf>,
    durability: Durability,
    checkpoint_bytes: Option<u64>,
    rebuild_indexes: bool,
    open_progress: Option<OpenProgress>,
    /// Refuse to create a data folder (set by `create_if_missing(false)`).
    existing_only: bool,
    /// `None`: the default interval; `Some(None)`: never.
    access_journal: Option<Option<std::time::Duration>>,
    /// Open the data folder without writing to it.
    read_only: bool,
    /// The external source of truth the engine mirrors.
    source: Option<String>,
}

impl EngineBuilder {
    /// The embedder for passages and queries (default: the default model).
    pub fn embedder(mut self, embedder: Embedder) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// Vector index parameters (HNSW M, ef, thresholds).
    pub fn vector_index(mut self, builder: VectorIndexBuilder) -> Self {
        self.vector = Some(builder);
        self
    }

    /// Stores everything durably in this folder (created if missing, unless
    /// [`create_if_missing(false)`](Self::create_if_missing)):
    /// an acknowledged write survives a crash, and opening never re-embeds.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// When a write counts as durable (default: fsync per write call).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Whether [`EngineBuilder::open`] may create a new data folder where
    /// none is (default `true`). Tools that read or rebuild an existing
    /// folder turn it off, so a mistyped path gives
    /// [`StoreError::NoDataFolder`](crate::store::StoreError::NoDataFolder)
    /// instead of a new, empty database.
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.existing_only = !create;
        self
    }

    /// Discards the persisted text and vector indexes of the data folder
    /// and rebuilds them from the stored entries and vectors (no model
    /// runs): what `moltsearch reindex` does. Without it, opening loads the
    /// persisted indexes and indexes only what they lack.
    pub fn rebuild_indexes(mut self, rebuild: bool) -> Self {
        self.rebuild_indexes = rebuild;
        self
    }

    /// Called with `(phase, done, total)` while opening indexes what the
    /// persisted indexes lack (a whole folder after
    /// [`rebuild_indexes`](Self::rebuild_indexes)), for progress bars.
    pub fn open_progress(mut self, progress: OpenProgress) -> Self {
        self.open_progress = Some(progress);
        self
    }

    /// Log size past which a background snapshot is written (default 64
    /// MiB), or a quarter of the stored vectors if that is more, so the
    /// bytes written by snapshots stay proportional to the data loaded
    /// (each snapshot rewrites every entry record; vectors are written
    /// once, in runs, until dead rows call for a rewrite).
    pub fn checkpoint_bytes(mut self, bytes: u64) -> Self {
        self.checkpoint_bytes = Some(bytes);
        self
    }

    /// Opens the data folder read-only: no folder lock, nothing written
    /// there, every write refused ([`StoreError::ReadOnly`](crate::store::StoreError::ReadOnly)).
    /// Any number of processes can search a folder this way at once, also
    /// while one process writes it. Such an engine sees the folder **as of
    /// its open**: every write that was durable in the log then (a record
    /// still being appended is left out); it does not follow later writes,
    /// so reopen to see them. What the persisted indexes lack is indexed in
    /// this process's memory (the text index's own folder stays untouched:
    /// changes go to an in-memory layer over it). Access counts are counted
    /// in memory and can be taken out ([`Engine::take_access_changes`]), but
    /// are not logged.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Makes the engine a mirror of an external source of truth (a
    /// database), named by `source`: a stable identity of that source,
    /// e.g. a database's system identifier and name. Its state then changes
    /// only through [`Engine::apply_changes`], at the source's sequence
    /// numbers; local writes (`create_diary`, `put_entries`, …) are refused
    /// with [`Error::ExternalSource`], and [`Engine::prepare_entries`] and
    /// [`Engine::prepare_update`] compute what the caller writes to the
    /// source instead.
    ///
    /// A data folder is then an **index cache** of the source: it records
    /// `source` in its `meta.json` on creation and refuses to open with
    /// another one ([`StoreError::SourceMismatch`](crate::store::StoreError::SourceMismatch):
    /// rebuild the cache), and [`Engine::source_seq`] says which of the
    /// source's changes it holds, so a caller applies only what came after.
    /// A cache is opened writable only this way; a read-only open may omit
    /// the source. No access journal runs: the caller takes the counts out
    /// ([`Engine::take_access_changes`]) and stores them at the source.
    pub fn external_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// How often a background job logs the access counts searches recorded
    /// (default every second, data folder only). `None` turns it off:
    /// counts then reach the log with the next write, a checkpoint, a
    /// [`flush_accesses`](Engine::flush_accesses) or a clean close, or are
    /// taken out by the caller ([`Engine::take_access_changes`]).
    pub fn access_journal_interval(mut self, every: Option<std::time::Duration>) -> Self {
        self.access_journal = Some(every);
        self
    }

    /// Opens the engine: in memory, or on the data folder when one is set
    /// (recovering its state from the snapshot and log).
    pub fn open(self) -> Result<Engine> {
        match self.data_dir.clone() {
            Some(dir) => self.open_on(dir),
            None => self.open_in_memory(),
        }
    }

    fn parts(&mut self) -> Result<(Embedder, Box<dyn VectorIndex>, TextIndex)> {
        let embedder = match self.embedder.take() {
            Some(e) => e,
            None => Embedder::builder().build()?,
        };
        let vectors = self
            .vector
            .take()
            .unwrap_or_default()
            .dims(embedder.dims())
            .build()?;
        let text = TextIndex::create_in_ram()?;
        Ok((embedder, Box::new(vectors), text))
    }

    /// Opens an in-memory engine (nothing survives the process).
    pub fn open_in_memory(mut self) -> Result<Engine> {
        let (embedder, vectors, text) = self.parts()?;
        Ok(Engine {
            inner: Arc::new(Inner {
                embedder,
                state: Arc::new(RwLock::new(State::without_vectors())),
                vectors,
                text,
                writer: Arc::new(Mutex::new(WriterState::default())),
                arriving: AtomicUsize::new(0),
                store: None,
                checkpoint_bytes: u64::MAX,
                checkpointing: Arc::new(AtomicBool::new(false)),
                open_report: OpenReport::default(),
                open_timings: OpenTimings::default(),
                bulk_loads: Mutex::new(0),
                access_journal: Mutex::new(None),
                source: self.source,
            }),
        })
    }

    fn open_on(mut self, dir: PathBuf) -> Result<Engine> {
        if self.read_only && self.rebuild_indexes {
            return Err(Error::InvalidConfig(
                "rebuild_indexes needs a writable open, not read_only".into(),
            ));
        }
        if !self.read_only {
            reindex::finish_interrupted_swap(&dir)?;
        }
        let embedder = match self.embedder.take() {
            Some(e) => e,
            None => Embedder::builder().build()?,
        };
        // A read-only open races the folder's owner: a checkpoint can delete
        // the log segment or vector segment it was about to read. Such a
        // race fails the attempt, never the data; the next one sees the
        // files that replaced them.
        let mut attempt = 0;
        let loaded = loop {
            attempt += 1;
            match self.load(&dir, &embedder, attempt >= READ_ONLY_ATTEMPTS) {
                Ok(loaded) => break loaded,
                Err(e) if self.read_only && attempt < READ_ONLY_ATTEMPTS && may_be_race(&e) => {
                    tracing::debug!(error = %e, attempt, "read-only open raced a writer; retrying");
                    std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
                }
                Err(e) => return Err(e),
            }
        };
        let Loaded {
            store,
            state,
            vectors,
            text,
            report,
            timings,
        } = loaded;
        let writer = {
            let st = state.read();
            Arc::new(Mutex::new(WriterState {
                next_doc: st.next_doc,
                logged: st.last_seq,
                ..WriterState::default()
            }))
        };
        let journal_every = self.access_journal.unwrap_or(Some(ACCESS_JOURNAL_EVERY));
        let journaled = !self.read_only && self.source.is_none();
        let access_journal = match journal_every.filter(|_| journaled) {
            Some(every) => Some(AccessJournal::start(
                Arc::clone(&writer),
                Arc::clone(&store),
                Arc::clone(&state),
                every,
            )?),
            None => None,
        };
        Ok(Engine {
            inner: Arc::new(Inner {
                embedder,
                state,
                vectors: Box::new(vectors),
                text,
                writer,
                arriving: AtomicUsize::new(0),
                store: Some(store),
                checkpoint_bytes: self.checkpoint_bytes.unwrap_or(64 << 20),
                checkpointing: Arc::new(AtomicBool::new(false)),
                open_report: report,
                open_timings: timings,
                bulk_loads: Mutex::new(0),
                access_journal: Mutex::new(access_journal),
                source: self.source,
            }),
        })
    }

    /// Recovers the store and brings both indexes in line with it.
    fn load(&self, dir: &Path, embedder: &Embedder, last_attempt: bool) -> Result<Loaded> {
        let options = StoreOptions::new(embedder.model_id(), embedder.dims())
            .durability(self.durability)
            .create_if_missing(!self.existing_only)
            .read_only(self.read_only)
            .source(self.source.clone());
        let opening = std::time::Instant::now();
        let (store, recovered) = Store::open_path(dir, options)?;
        let mut timings = OpenTimings {
            store_ms: opening.elapsed().as_secs_f64() * 1e3,
            ..OpenTimings::default()
        };
        let store = Arc::new(store);
        let start = std::time::Instant::now();
        let last_seq = recovered.last_seq;
        let last_index_change = recovered.last_index_change;
        let replayed = recovered.replayed_records;

        // The records were checked before they were logged; checking them
        // again (on every core) guards against a folder written by another
        // version.
        recovered
            .entries
            .par_iter()
            .try_for_each(|stored| Entry::check_record(&stored.record))?;
        drop(recovered);
        let shared = store.shared_state();
        let state = shared.read();
        timings.catalog_ms = start.elapsed().as_secs_f64() * 1e3;

        let mut report = OpenReport::default();
        let (text_dir, vectors_dir) = open::index_dirs(dir);
        if self.rebuild_indexes {
            open::remove_indexes(dir)?;
        }
        // Vectors first: catching up hands rows to the vector index, whose
        // graph builds run on their own threads while the text is indexed.
        let builder = self
            .vector
            .clone()
            .unwrap_or_default()
            .dims(embedder.dims());
        let vectors = if self.read_only {
            open::vector_index_read_only(
                builder,
                &vectors_dir,
                last_seq,
                last_attempt,
                &mut report,
            )?
        } else {
            open::vector_index(builder, &vectors_dir, &store, last_seq, &mut report)?
        };
        let progress = self.open_progress.as_ref();
        report.applied_seq = last_seq;
        report.source_seq = state.source_seq;
        report.vectors_stamp = vectors.persisted_stamp();
        open::reconcile_vectors(&vectors, &state, &store, &mut report, progress)?;
        // Caught up: the vectors of every logged change are in (in memory
        // for a read-only open, which never writes a manifest).
        vectors.set_applied(last_seq);
        timings.vectors_ms = start.elapsed().as_secs_f64() * 1e3 - timings.catalog_ms;
        let text = if self.read_only {
            open::text_index_read_only(&text_dir, last_seq, &mut report)?
        } else {
            open::text_index(&text_dir, last_seq, &mut report)?
        };
        open::reconcile_text(
            &text,
            &state,
            last_seq,
            last_index_change,
            &mut report,
            progress,
        )?;
        timings.text_ms =
            start.elapsed().as_secs_f64() * 1e3 - timings.catalog_ms - timings.vectors_ms;
        timings.total_ms = opening.elapsed().as_secs_f64() * 1e3;
        tracing::info!(
            dir = %dir.display(),
            entries = state.entries.len(),
            replayed,
            read_only = self.read_only,
            ?timings,
            ?report,
            "engine opened"
        );
        drop(state);
        Ok(Loaded {
            store,
            state: shared,
            vectors,
            text,
            report,
            timings,
        })
    }
}

/// What [`EngineBuilder::load`] opened.
struct Loaded {
    store: Arc<Store>,
    state: Arc<RwLock<State>>,
    vectors: crate::index::vector::SegmentedIndex,
    text: TextIndex,
    report: OpenReport,
    timings: OpenTimings,
}

/// Attempts of a read-only open before a race with the folder's owner is
/// reported as an error.
const READ_ONLY_ATTEMPTS: u64 = 5;

/// Whether a failed read-only open may have raced a writer (files deleted
/// or replaced between listing and reading), rather than found a folder it
/// can never open.
fn may_be_race(e: &Error) -> bool {
    use crate::store::StoreError;
    matches!(
        e,
        Error::Store(StoreError::Io { .. } | StoreError::Corrupt { .. })
            | Error::VectorIndex(_)
            | Error::TextIndex(_)
    )
}
