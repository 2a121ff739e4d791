//! Opening an engine on a data folder: the store recovers the entries, the
//! persisted indexes are loaded, and only what they lack is indexed.
//!
//! # Layout of a data folder
//!
//! ```text
//! <data>/            the store: LOCK, meta.json, wal-*.log, snapshot-*, vectors-*
//! <data>/text/       the tantivy index (commit payload = last log sequence it includes)
//! <data>/vectors/    sealed HNSW segments + their manifest (see index::vector)
//! ```
//!
//! The store is the source of truth; both index folders are caches of it.
//!
//! # Reconciling instead of replaying
//!
//! A doc id names one immutable (text, vector) pair: a content change gives
//! the entry a new doc id, and the store never reuses one. So an index is
//! brought up to date with the log by comparing doc-id sets, whatever
//! position it was saved at: docs the log has and the index lacks are
//! indexed (from the stored vectors, never the model), docs the index has
//! and the log deleted are removed. This is the same work as replaying the
//! log tail since the index's stamp, without having to keep that tail.
//!
//! The one thing set comparison cannot catch is an index *ahead* of the log
//! (holding a doc id the log lost and will hand out again, possible only
//! when [`Durability::Buffered`](crate::store::Durability) loses its tail
//! to a power failure). It is prevented or detected:
//!
//! - both indexes record the log position they include (the text index in
//!   its commit payload, the vector index in its manifest); a stamp above
//!   the recovered log's last sequence means the index got ahead, and it is
//!   rebuilt;
//! - the vector index also fsyncs the log before each manifest write (its
//!   `before_persist` hook), so under the default policy it never gets
//!   ahead in the first place.
//!
//! A missing, unreadable or damaged index folder is rebuilt from the store
//! with a warning: it costs time (the HNSW build, about a minute per 100k
//! entries on 2 cores), never data.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use roaring::RoaringBitmap;

use crate::index::text::TextIndex;
use crate::index::vector::{SegmentedIndex, VectorIndex, VectorIndexBuilder};
use crate::index::DocId;
use crate::store::state::State;
use crate::store::Store;
use crate::{Error, Result};

/// Folder of the text index inside a data folder.
pub const TEXT_DIR: &str = "text";
/// Folder of the vector index inside a data folder.
pub const VECTORS_DIR: &str = "vectors";

/// Rows handed to the vector index per insert while catching up, to bound
/// the transient copy of stored vectors (256k × 384 × 4 B = 384 MiB).
const CATCH_UP_ROWS: usize = 1 << 18;

/// What opening found and did, for logs and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Docs added to the text index (missing from its saved state).
    pub text_added: u64,
    /// Docs removed from the text index (deleted in the log since).
    pub text_removed: u64,
    /// Whether the text index was rebuilt from scratch (missing, damaged or
    /// ahead of the log).
    pub text_rebuilt: bool,
    /// Docs added to the vector index from stored vectors.
    pub vectors_added: u64,
    /// Docs tombstoned in the vector index.
    pub vectors_removed: u64,
    /// Whether the vector index folder was rebuilt from scratch.
    pub vectors_rebuilt: bool,
    /// The log position the opened state includes (its last record).
    pub applied_seq: u64,
    /// For an index cache of an external source
    /// ([`EngineBuilder::external_source`](super::EngineBuilder::external_source)):
    /// the source's sequence the opened state includes (0 otherwise).
    pub source_seq: u64,
    /// The text index's stamp as found: the log position its last commit
    /// included (`None`: no stamp, e.g. a new or rebuilt index).
    pub text_stamp: Option<u64>,
    /// The vector index's stamp as found in its manifest.
    pub vectors_stamp: Option<u64>,
    /// Whether the text index had to be compared with the entries doc by
    /// doc (the repair path: its stamp was older than the last entry
    /// change in the log, after a crash between a log append and a text
    /// commit). A clean close needs none.
    pub text_compared: bool,
}

/// Where opening a data folder spent its time, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OpenTimings {
    /// Store recovery: snapshot load (records decoded, vectors mapped and
    /// checksummed) and log replay.
    pub store_ms: f64,
    /// Checking the recovered entries (the store built the state).
    pub catalog_ms: f64,
    /// Opening the vector segments and catching up with the log.
    pub vectors_ms: f64,
    /// Opening the text index and catching up with the log.
    pub text_ms: f64,
    /// All of it.
    pub total_ms: f64,
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            op: "remove index folder",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Why an index stamped `stamp` cannot be used with a log ending at
/// `last_seq`, if it cannot.
fn ahead_of_log(stamp: Option<u64>, last_seq: u64) -> Option<String> {
    stamp.filter(|&s| s > last_seq).map(|s| {
        format!(
            "it includes log position {s} but the log ends at {last_seq} \
             (writes lost by a power failure under buffered durability)"
        )
    })
}

/// Logs why the index in `dir` is rebuilt, and deletes it.
fn discard(what: &str, dir: &Path, problem: &str) -> Result<()> {
    tracing::warn!(
        dir = %dir.display(),
        problem = %problem,
        "rebuilding the {what} index from the store"
    );
    remove_dir(dir)
}

/// The opened text index if it can be used with a log ending at
/// `last_seq`, or why not (it failed to open, its stamp is unreadable, or
/// it is ahead of the log).
fn usable_text(
    opened: std::result::Result<TextIndex, crate::index::text::TextIndexError>,
    last_seq: u64,
) -> std::result::Result<TextIndex, String> {
    let text = opened.map_err(|e| e.to_string())?;
    let stamp = text.stamp().map_err(|e| e.to_string())?;
    match ahead_of_log(stamp, last_seq) {
        Some(problem) => Err(problem),
        None => Ok(text),
    }
}

/// Opens (or creates) the text index in `dir`. A damaged index, or one
/// stamped beyond `last_seq`, is deleted and recreated empty.
pub(crate) fn text_index(dir: &Path, last_seq: u64, report: &mut OpenReport) -> Result<TextIndex> {
    let problem = match usable_text(TextIndex::open_or_create(dir), last_seq) {
        Ok(text) => return Ok(text),
        Err(problem) => problem,
    };
    report.text_rebuilt = true;
    discard("text", dir, &problem)?;
    Ok(TextIndex::open_or_create(dir)?)
}

/// The text index in `dir` for a read-only engine: the folder's index with
/// an in-memory layer for what reconciling adds (see
/// [`TextIndex::open_read_only`]). A missing or damaged index, or one
/// stamped beyond `last_seq`, is replaced by an empty in-memory one (the
/// folder is left as it is); reconciling then indexes every entry.
pub(crate) fn text_index_read_only(
    dir: &Path,
    last_seq: u64,
    report: &mut OpenReport,
) -> Result<TextIndex> {
    let problem = match usable_text(TextIndex::open_read_only(dir), last_seq) {
        Ok(text) => return Ok(text),
        Err(problem) => problem,
    };
    tracing::warn!(dir = %dir.display(), problem = %problem,
        "read-only open: indexing the text in memory (the folder's text index is not usable)");
    report.text_rebuilt = true;
    Ok(TextIndex::create_in_ram()?)
}

/// The vector index in `dir` for a read-only engine: the persisted segments,
/// mapped, with inserts kept in memory. A folder stamped beyond `last_seq`
/// is left alone and the index starts empty in memory; so is a damaged one
/// on the `last_attempt` (before that the error is returned: it may be a
/// race with the owner deleting a segment, which a retry gets past).
pub(crate) fn vector_index_read_only(
    builder: VectorIndexBuilder,
    dir: &Path,
    last_seq: u64,
    last_attempt: bool,
    report: &mut OpenReport,
) -> Result<SegmentedIndex> {
    let problem = match builder.clone().directory(dir).read_only(true).build() {
        Ok(index) => match ahead_of_log(index.persisted_stamp(), last_seq) {
            Some(problem) => problem,
            None => return Ok(index),
        },
        Err(e) if !last_attempt => return Err(e),
        Err(e) => e.to_string(),
    };
    tracing::warn!(dir = %dir.display(), problem = %problem,
        "read-only open: building the vector index in memory (the folder's is not usable)");
    report.vectors_rebuilt = true;
    builder.build()
}

/// Reports catch-up progress while opening: `(phase, done, total)`, phase
/// `"text"` (documents indexed) or `"vectors"` (rows handed to the vector
/// index, whose graph builds then run in the background).
pub type OpenProgress = Arc<dyn Fn(&'static str, u64, u64) + Send + Sync>;

/// Documents indexed between two progress reports.
const PROGRESS_EVERY: u64 = 4096;

/// Brings the text index in line with the state and stamps it. A stamp
/// in `last_index_change..=last_seq` means the index holds every indexed
/// change, so nothing is compared (the normal path); otherwise the index's
/// doc ids are compared with the live entries (the repair path).
pub(crate) fn reconcile_text(
    text: &TextIndex,
    state: &State,
    last_seq: u64,
    last_index_change: u64,
    report: &mut OpenReport,
    progress: Option<&OpenProgress>,
) -> Result<()> {
    let stamp = text.stamp()?;
    report.text_stamp = stamp;
    if stamp.is_some_and(|s| (last_index_change..=last_seq).contains(&s)) {
        return Ok(());
    }
    report.text_compared = true;
    let present = text.doc_ids()?;
    let live = state.postings.live();
    let extra = &present - live;
    let missing = live - &present;
    for doc in &extra {
        text.delete(doc)?;
    }
    let total = missing.len();
    for (i, doc) in missing.iter().enumerate() {
        if let Some(e) = state.entry_of(doc) {
            text.add(doc, e.title.as_deref(), &e.content, &e.tags)?;
        }
        let done = i as u64 + 1;
        if let Some(p) = progress.filter(|_| done.is_multiple_of(PROGRESS_EVERY) || done == total) {
            p("text", done, total);
        }
    }
    report.text_added = missing.len();
    report.text_removed = extra.len();
    if !missing.is_empty() || !extra.is_empty() || stamp != Some(last_seq) {
        text.commit_stamped(last_seq)?;
    }
    Ok(())
}

/// Opens the vector index persisted in `dir`. Before each manifest write the
/// index syncs the store's log, so it never holds a doc the log could lose,
/// and records the log position it includes. A damaged folder, or one
/// stamped beyond `last_seq`, is deleted and the index starts empty.
pub(crate) fn vector_index(
    builder: VectorIndexBuilder,
    dir: &Path,
    store: &Arc<Store>,
    last_seq: u64,
    report: &mut OpenReport,
) -> Result<SegmentedIndex> {
    // Weak handles: a background build finishing after the engine is
    // dropped must not keep the store (and its folder lock) alive.
    let weak: Weak<Store> = Arc::downgrade(store);
    let hook = Arc::new(move || match weak.upgrade() {
        Some(store) => store.sync().map_err(std::io::Error::other),
        None => Err(std::io::Error::other("the store is closed")),
    });
    let build = |b: VectorIndexBuilder| b.directory(dir).before_persist(hook.clone()).build();
    let problem = match build(builder.clone()) {
        Ok(index) => match ahead_of_log(index.persisted_stamp(), last_seq) {
            Some(problem) => problem,
            None => return Ok(index),
        },
        Err(e) => e.to_string(),
    };
    report.vectors_rebuilt = true;
    discard("vector", dir, &problem)?;
    build(builder)
}

/// Brings the vector index in line with the state: tombstones docs the
/// log deleted, inserts stored vectors of docs it lacks (no model runs).
pub(crate) fn reconcile_vectors(
    vectors: &dyn VectorIndex,
    state: &State,
    store: &Store,
    report: &mut OpenReport,
    progress: Option<&OpenProgress>,
) -> Result<()> {
    let present = vectors.live_docs();
    let live = state.postings.live();
    report.vectors_removed = vectors.retain(live) as u64;
    let missing: Vec<DocId> = (live - &present).iter().collect();
    report.vectors_added = missing.len() as u64;
    let dims = vectors.dims();
    let mut done = 0;
    for chunk in missing.chunks(CATCH_UP_ROWS) {
        let mut flat = Vec::with_capacity(chunk.len() * dims);
        for &doc in chunk {
            let v = state
                .vectors
                .get(doc)
                .ok_or_else(|| crate::store::StoreError::Corrupt {
                    file: store.path(),
                    offset: 0,
                    reason: format!("the store has entry doc {doc} but no vector for it"),
                })?;
            flat.extend_from_slice(&v);
        }
        vectors.insert_batch(chunk, &flat)?;
        done += chunk.len() as u64;
        if let Some(p) = progress {
            p("vectors", done, report.vectors_added);
        }
    }
    Ok(())
}

/// How the indexes compare with the live entries: what
/// [`Engine::check_indexes`](super::Engine::check_indexes) reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexCheck {
    /// Live entries.
    pub entries: u64,
    /// Live entries the text index lacks.
    pub text_missing: u64,
    /// Text documents of no live entry.
    pub text_extra: u64,
    /// Live entries the vector index lacks.
    pub vectors_missing: u64,
    /// Vectors of no live entry.
    pub vectors_extra: u64,
}

impl IndexCheck {
    /// Compares doc-id sets.
    pub(crate) fn of(live: &RoaringBitmap, text: &RoaringBitmap, vectors: &RoaringBitmap) -> Self {
        Self {
            entries: live.len(),
            text_missing: (live - text).len(),
            text_extra: (text - live).len(),
            vectors_missing: (live - vectors).len(),
            vectors_extra: (vectors - live).len(),
        }
    }

    /// Whether both indexes hold exactly the live entries.
    pub fn is_consistent(&self) -> bool {
        self.text_missing == 0
            && self.text_extra == 0
            && self.vectors_missing == 0
            && self.vectors_extra == 0
    }
}

/// The index folders of a data folder.
pub(crate) fn index_dirs(data: &Path) -> (PathBuf, PathBuf) {
    (data.join(TEXT_DIR), data.join(VECTORS_DIR))
}

/// Deletes both index folders, so the next open rebuilds them.
pub(crate) fn remove_indexes(data: &Path) -> Result<()> {
    let (text, vectors) = index_dirs(data);
    remove_dir(&text)?;
    remove_dir(&vectors)
}
