//! [`SegmentedIndex`]: the live index (immutable HNSW segments + an exact
//! write buffer, published as atomically swapped snapshots).
//!
//! Concurrency in one paragraph: the current [`Snapshot`] sits in a
//! `RwLock<Arc<Snapshot>>` whose lock is held only to clone or replace the
//! `Arc`. Readers clone and search without any lock. Writers serialise on a
//! `Mutex`, derive the next snapshot from the current one (copy-on-write:
//! only a buffer chunk and small bitmaps are copied) and replace it. Graph
//! builds (sealing a full buffer, rebuilding a segment with many tombstones,
//! merging similar-size segments) run as *jobs*, one at a time, on a
//! background thread: a job takes its input parts from a snapshot, builds
//! without any lock, then installs its segment under the writer mutex,
//! carrying over deletes that happened meanwhile. Replaced segments are
//! dropped by the job thread, never by a reader, since dropping a graph is
//! O(n). A build nobody waits for runs in a rayon pool of all cores but one
//! (shared by the process), so writers and searches keep a core; one that
//! `flush`/`optimize` waits for, or the backlog after
//! [`pause_builds`](SegmentedIndex::pause_builds), gets every core.
//!
//! With a directory, the job thread also writes each new segment to its
//! file (before taking the writer mutex) and, after installing it, the
//! manifest; both under the disk mutex, which `Drop` takes to wait for a
//! write in progress (so a reopen never races a file being written).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::{Condvar, Mutex, RwLock};
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::config::{Config, PersistHook, Quantization, SearchParams};
use super::file::{self, Manifest, ManifestEntry};
use super::flat::prepare_batch;
use super::segment::{Buffer, Kind, Part, Segment, CHUNK_ROWS};
use super::store::VectorStore;
use super::topk::merge;
use super::{
    prepare, vector_error, Hit, VectorIndexBuilder, VectorIndexError, VectorLifecycle, VectorRead,
    VectorWrite,
};
use crate::count_guard::CountGuard;
use crate::index::DocId;
use crate::Result;

/// Immutable state of the index at one point in time.
#[derive(Clone)]
pub(crate) struct Snapshot {
    /// Sealed segments.
    segments: Vec<Part>,
    /// Full buffers waiting for their graph build.
    frozen: Vec<Part>,
    /// The buffer inserts go to.
    active: Part,
    /// Live docs in all parts.
    live: u64,
}

impl Snapshot {
    fn parts(&self) -> impl Iterator<Item = &Part> {
        self.segments
            .iter()
            .chain(&self.frozen)
            .chain(std::iter::once(&self.active))
    }

    fn get(&self, doc: DocId) -> Option<&[f32]> {
        self.parts().find_map(|p| p.get_live(doc))
    }

    fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&RoaringBitmap>,
        params: &SearchParams,
    ) -> Vec<Hit> {
        if k == 0 || self.live == 0 {
            return Vec::new();
        }
        let mut hits = Vec::new();
        for part in self.parts() {
            hits.extend(part.search(query, k, filter, params));
        }
        merge(hits, k)
    }

    /// Tombstones `doc` wherever it is live, except in the active buffer
    /// (where it is overwritten in place). Returns whether it was live.
    fn tombstone_sealed_or_frozen(&mut self, doc: DocId) -> bool {
        for part in self.segments.iter_mut().chain(self.frozen.iter_mut()) {
            if part.contains_live(doc) {
                Arc::make_mut(&mut part.deleted).insert(doc);
                self.live -= 1;
                return true;
            }
        }
        false
    }

    /// Inserts or replaces `doc` (vector already validated).
    fn upsert(&mut self, doc: DocId, v: &[f32], dims: usize) {
        let active = &mut self.active;
        let Kind::Buffer(buf) = &mut active.kind else {
            unreachable!("the active part is always a buffer");
        };
        if buf.members.contains(doc) {
            // Same part: overwrite the row in place (copying its chunk once).
            for chunk in &mut buf.chunks {
                if let Some(slot) = chunk.position(doc) {
                    Arc::make_mut(chunk).set_vector(slot, v);
                    break;
                }
            }
            if active.deleted.contains(doc) {
                Arc::make_mut(&mut active.deleted).remove(doc);
                self.live += 1;
                // A big batch may have put a newer copy in a segment.
                self.tombstone_sealed_or_frozen(doc);
            }
            return;
        }
        match buf.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK_ROWS => Arc::make_mut(chunk).push(doc, v),
            _ => {
                let mut chunk = VectorStore::with_capacity(dims, CHUNK_ROWS);
                chunk.push(doc, v);
                buf.chunks.push(Arc::new(chunk));
            }
        }
        Arc::make_mut(&mut buf.members).insert(doc);
        self.tombstone_sealed_or_frozen(doc);
        self.live += 1;
    }

    fn delete(&mut self, doc: DocId) -> bool {
        if self.active.contains_live(doc) {
            Arc::make_mut(&mut self.active.deleted).insert(doc);
            self.live -= 1;
            return true;
        }
        self.tombstone_sealed_or_frozen(doc)
    }

    /// Moves the active buffer to `frozen` if it reached the threshold (or if
    /// `force` and it is not empty). Returns whether it did.
    fn maybe_freeze(&mut self, cfg: &Config, force: bool, next_id: &mut u64) -> bool {
        let rows = self.active.rows();
        if rows == 0 || (!force && rows < cfg.seal_threshold as u64) {
            return false;
        }
        *next_id += 1;
        let full = std::mem::replace(&mut self.active, Part::empty_buffer(*next_id));
        self.frozen.push(full);
        true
    }
}

/// A graph build to run: its input parts as they were when it was picked.
struct Job {
    inputs: Vec<Part>,
    /// The output's part id (and file id), allocated when the job is picked
    /// so ids follow the age of the data they hold: on reopen, a doc found
    /// in two segments is taken from the one with the higher id.
    id: u64,
}

impl Job {
    /// The live rows of all inputs, sealed into one segment.
    fn build(&self, cfg: &Config) -> Segment {
        let rows: u64 = self.inputs.iter().map(Part::live_len).sum();
        let mut store = VectorStore::with_capacity(cfg.dims, rows as usize);
        for p in &self.inputs {
            p.for_each_live(&mut |doc, v| store.push(doc, v));
        }
        Segment::build(store, cfg)
    }
}

/// Picks the next job, if any: frozen buffers first, then segments with too
/// many tombstones, then a tier of `merge_factor` similar-size segments.
fn pick_job(snap: &Snapshot, cfg: &Config, force_merge: bool) -> Option<Job> {
    if !snap.frozen.is_empty() {
        return Some(Job {
            inputs: snap.frozen.clone(),
            id: 0,
        });
    }
    let dirty: Vec<Part> = snap
        .segments
        .iter()
        .filter(|p| p.deleted.len() as f64 > f64::from(cfg.rebuild_ratio) * p.rows() as f64)
        .cloned()
        .collect();
    if !dirty.is_empty() {
        return Some(Job {
            inputs: dirty,
            id: 0,
        });
    }
    if force_merge && snap.segments.len() > 1 {
        return Some(Job {
            inputs: snap.segments.clone(),
            id: 0,
        });
    }
    // Tiers: live sizes within a factor `merge_factor` of each other, from
    // the seal threshold up.
    let tier = |live: u64| -> u32 {
        let ratio = live as f64 / cfg.seal_threshold as f64;
        if ratio <= 1.0 {
            0
        } else {
            (ratio.ln() / (cfg.merge_factor as f64).ln()).floor() as u32
        }
    };
    let mut by_tier: std::collections::BTreeMap<u32, Vec<&Part>> = Default::default();
    for p in &snap.segments {
        if (p.live_len() as usize) < cfg.max_segment_len {
            by_tier.entry(tier(p.live_len())).or_default().push(p);
        }
    }
    let (_, mut group) = by_tier
        .into_iter()
        .find(|(_, g)| g.len() >= cfg.merge_factor)?;
    group.sort_by_key(|p| p.live_len());
    group.truncate(cfg.merge_factor);
    Some(Job {
        inputs: group.into_iter().cloned().collect(),
        id: 0,
    })
}

/// Counters describing the index's current shape, for tests and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorIndexStats {
    /// Live docs.
    pub live: u64,
    /// Sealed segments.
    pub segments: usize,
    /// Sealed segments that have an HNSW graph (others are scanned).
    pub graph_segments: usize,
    /// Rows in each sealed segment (live or tombstoned).
    pub segment_rows: Vec<u64>,
    /// Full buffers waiting for a graph build.
    pub frozen_buffers: usize,
    /// Rows in the active write buffer.
    pub buffered_rows: u64,
    /// Tombstones across all parts.
    pub tombstones: u64,
    /// Whether a build or merge job is running.
    pub job_running: bool,
    /// How sealed segments are searched.
    pub quantization: Quantization,
    /// Bytes of vector data on the heap: buffers, in-memory segments'
    /// `f32` rows, int8 codes and scales.
    pub vector_bytes_heap: u64,
    /// Bytes of `f32` rows borrowed from mapped segment files (in the page
    /// cache, not the heap; read only for re-scoring in int8 mode).
    pub vector_bytes_mapped: u64,
    /// Sealed segments that have a file in the index folder.
    pub persisted_segments: usize,
}

/// Writer-side state, behind the writer mutex.
#[derive(Default)]
struct Writer {
    job_running: bool,
    next_id: u64,
    /// Replaced segments, dropped here once no snapshot uses them.
    graveyard: Vec<Arc<Segment>>,
}

struct Inner {
    cfg: Config,
    search: RwLock<SearchParams>,
    current: RwLock<Arc<Snapshot>>,
    writer: Mutex<Writer>,
    idle: Condvar,
    /// Set by [`SegmentedIndex::optimize`]: merge every segment into one.
    force_merge: std::sync::atomic::AtomicBool,
    /// The persisted side, with a directory (not read-only).
    disk: Option<Disk>,
    /// The stamp of the manifest loaded by a read-only open.
    loaded_stamp: Option<u64>,
    /// Set when the handle is dropped: a job still running writes nothing.
    closed: AtomicBool,
    /// Set by [`SegmentedIndex::pause_builds`]: no new job starts.
    paused: AtomicBool,
    /// Callers blocked in `flush`/`optimize`: their jobs get every core.
    waiters: AtomicUsize,
    /// Set when builds resume after a pause, until the runner is idle: the
    /// backlog gets every core too.
    catching_up: AtomicBool,
}

/// Where builds nobody waits for run: a pool of all cores but one (shared
/// by every index of the process), so writes and searches keep a core
/// while a graph is built. `None` on one core or if it cannot be created.
fn background_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            return None;
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(cores - 1)
            .thread_name(|i| format!("moltsearch-graph-{i}"))
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no background build pool"))
            .ok()
    })
    .as_ref()
}

/// The index folder and what is known to be on disk.
struct Disk {
    dir: PathBuf,
    hook: Option<PersistHook>,
    /// The last position pushed by [`VectorWrite::set_applied`] (starting
    /// at the loaded manifest's stamp): every change up to it was inserted.
    applied: Mutex<Option<u64>>,
    /// Taken (lock order: disk, then writer) for a segment file write, the
    /// install that follows and the manifest write.
    state: Mutex<DiskState>,
}

#[derive(Default)]
struct DiskState {
    /// Segment ids listed by the manifest on disk, ascending.
    listed: Vec<u64>,
    /// The stamp of the manifest on disk.
    stamp: Option<u64>,
    /// Files of segments no longer in the index: deleted once a manifest
    /// without them is durable.
    obsolete: Vec<u64>,
}

impl Disk {
    /// Writes the manifest if the persisted segments changed since the
    /// last one, after the `before_persist` hook, then deletes the files it
    /// no longer lists. Failures are logged: the in-memory index is intact
    /// and the next call retries.
    fn sync_manifest(&self, inner: &Inner, state: &mut DiskState) {
        // Read before the segment list is captured: the changes up to it
        // were inserted before it was pushed, so they are in `snap` (listed,
        // or in a buffer the owner re-inserts after reopening).
        let stamp = *self.applied.lock();
        let snap = inner.load();
        let mut entries: Vec<ManifestEntry> = snap
            .segments
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Sealed(s) => s.file_id.map(|id| ManifestEntry {
                    id,
                    file: file::segment_file_name(id),
                    rows: s.store.len() as u64,
                }),
                Kind::Buffer(_) => None,
            })
            .collect();
        entries.sort_by_key(|e| e.id);
        let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
        if ids != state.listed {
            if let Some(hook) = &self.hook {
                if let Err(e) = (hook.0)() {
                    tracing::warn!(error = %e, "before_persist hook failed; vector index manifest not written");
                    return;
                }
            }
            let manifest = Manifest {
                format: file::MANIFEST_FORMAT,
                dims: inner.cfg.dims,
                next_id: inner.writer.lock().next_id,
                segments: entries,
                stamp,
            };
            if let Err(e) = file::write_manifest(&self.dir, &manifest) {
                tracing::warn!(error = %e, "cannot write the vector index manifest");
                return;
            }
            state.listed = ids;
            state.stamp = stamp;
        }
        let obsolete = std::mem::take(&mut state.obsolete);
        let mut removed = false;
        for id in obsolete {
            if state.listed.contains(&id) {
                state.obsolete.push(id);
                continue;
            }
            let path = file::segment_path(&self.dir, id);
            match std::fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot delete a replaced vector segment");
                }
            }
        }
        if removed {
            if let Err(e) = file::sync_dir(&self.dir) {
                tracing::warn!(error = %e, "cannot sync the vector index folder");
            }
        }
    }
}

/// Writes `segment` as file `id` in `dir` and reopens it mapped (so the
/// installed segment is exactly what a reopen will see, and its `f32` rows
/// leave the heap). On failure the in-memory segment is kept, unpersisted.
fn persist_segment(dir: &Path, id: u64, segment: Segment, cfg: &Config) -> Segment {
    let path = file::segment_path(dir, id);
    let started = std::time::Instant::now();
    let written = file::write_segment(&path, id, &segment)
        .and_then(|()| file::open_segment(&path, id, cfg, false));
    match written {
        Ok(mapped) => {
            tracing::debug!(
                file = %path.display(),
                rows = mapped.store.len(),
                ms = started.elapsed().as_millis() as u64,
                "vector segment persisted"
            );
            mapped
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot persist a vector segment; keeping it in memory only");
            let _ = std::fs::remove_file(&path);
            segment
        }
    }
}

impl Inner {
    fn load(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read())
    }

    fn publish(&self, snap: Snapshot) {
        *self.current.write() = Arc::new(snap);
    }
}

/// The live vector index: see the [module docs](super) for the design.
///
/// Cheap to share (`Arc<SegmentedIndex>` or `&`); all methods take `&self`.
pub struct SegmentedIndex {
    inner: Arc<Inner>,
}

impl SegmentedIndex {
    /// A builder with the measured defaults.
    pub fn builder() -> VectorIndexBuilder {
        VectorIndexBuilder::new()
    }

    /// An empty in-memory index, or (with a directory) the index persisted
    /// there.
    pub(crate) fn open(cfg: Config) -> Result<Self> {
        let mut snap = Snapshot {
            segments: Vec::new(),
            frozen: Vec::new(),
            active: Part::empty_buffer(0),
            live: 0,
        };
        let mut writer = Writer::default();
        let mut disk = None;
        let mut loaded_stamp = None;
        if let Some(dir) = &cfg.directory {
            let (segments, state, next_id) = load_dir(dir, &cfg).map_err(vector_error)?;
            snap.live = segments.iter().map(Part::live_len).sum();
            snap.segments = segments;
            // A fresh id for the write buffer: part ids must stay unique.
            writer.next_id = next_id + 1;
            snap.active = Part::empty_buffer(writer.next_id);
            if cfg.read_only {
                loaded_stamp = state.stamp;
            } else {
                disk = Some(Disk {
                    dir: dir.clone(),
                    hook: cfg.before_persist.clone(),
                    applied: Mutex::new(state.stamp),
                    state: Mutex::new(state),
                });
            }
        }
        let index = Self {
            inner: Arc::new(Inner {
                search: RwLock::new(cfg.search),
                cfg,
                current: RwLock::new(Arc::new(snap)),
                writer: Mutex::new(writer),
                idle: Condvar::new(),
                force_merge: std::sync::atomic::AtomicBool::new(false),
                disk,
                loaded_stamp,
                closed: AtomicBool::new(false),
                paused: AtomicBool::new(false),
                waiters: AtomicUsize::new(0),
                catching_up: AtomicBool::new(false),
            }),
        };
        // Duplicates resolved on open may leave segments to rebuild.
        index.kick();
        Ok(index)
    }

    /// Deletes a persisted index's files in `dir` (the manifest first, so a
    /// crash half-way leaves an empty index, then segment and temporary
    /// files); other files and the folder itself stay. For the engine's
    /// recovery after a [`CorruptFile`](VectorIndexError::CorruptFile)
    /// error: wipe, reopen empty, re-insert the stored vectors. The index
    /// must not be open.
    pub fn wipe(dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let manifest = dir.join(file::MANIFEST_FILE);
        match std::fs::remove_file(&manifest) {
            Ok(()) => file::sync_dir(dir).map_err(vector_error)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(vector_error(VectorIndexError::io("remove", &manifest, &e))),
        }
        match std::fs::metadata(dir) {
            Ok(_) => file::clean_folder(dir, &[]).map_err(vector_error)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(vector_error(VectorIndexError::io("open", dir, &e))),
        };
        Ok(())
    }

    /// The index folder, if persisted.
    pub fn directory(&self) -> Option<&Path> {
        self.inner.disk.as_ref().map(|d| d.dir.as_path())
    }

    /// A consistent, immutable view of the index as of now: zero-copy access
    /// to stored vectors and searches that ignore later writes (e.g. to
    /// persist the index while writes go on).
    pub fn snapshot(&self) -> VectorSnapshot {
        VectorSnapshot {
            snap: self.inner.load(),
            dims: self.inner.cfg.dims,
            params: *self.inner.search.read(),
        }
    }

    /// The query-time parameters in force.
    pub fn search_params(&self) -> SearchParams {
        *self.inner.search.read()
    }

    /// Changes the query-time parameters (beam width, exact-scan cut-offs)
    /// for later searches, without rebuilding anything.
    pub fn set_search_params(&self, params: SearchParams) -> Result<()> {
        params.validate()?;
        *self.inner.search.write() = params;
        Ok(())
    }

    /// Counters describing segments, buffers, tombstones and memory.
    pub fn stats(&self) -> VectorIndexStats {
        let running = self.inner.writer.lock().job_running;
        let s = self.inner.load();
        let (mut heap, mut mapped, mut persisted) = (0u64, 0u64, 0usize);
        for p in s.parts() {
            match &p.kind {
                Kind::Sealed(seg) => {
                    heap += seg.heap_bytes();
                    mapped += seg.mapped_bytes();
                    persisted += usize::from(seg.file_id.is_some());
                }
                Kind::Buffer(b) => heap += b.chunks.iter().map(|c| c.heap_bytes()).sum::<u64>(),
            }
        }
        VectorIndexStats {
            quantization: self.inner.cfg.quantization,
            vector_bytes_heap: heap,
            vector_bytes_mapped: mapped,
            persisted_segments: persisted,
            live: s.live,
            segments: s.segments.len(),
            graph_segments: s
                .segments
                .iter()
                .filter(|p| matches!(&p.kind, Kind::Sealed(seg) if seg.graph.is_some()))
                .count(),
            segment_rows: s.segments.iter().map(Part::rows).collect(),
            frozen_buffers: s.frozen.len(),
            buffered_rows: s.active.rows(),
            tombstones: s.parts().map(|p| p.deleted.len()).sum(),
            job_running: running,
        }
    }

    /// Seals the write buffer now (even if below the threshold) and waits
    /// until every pending build, rebuild and merge has been installed and,
    /// with a directory, persisted and listed by the manifest (retrying a
    /// manifest write that failed earlier).
    pub fn flush(&self) {
        let _waiting = CountGuard::new(&self.inner.waiters);
        self.pause_builds(false);
        {
            let mut w = self.inner.writer.lock();
            let mut snap = (*self.inner.load()).clone();
            if snap.maybe_freeze(&self.inner.cfg, true, &mut w.next_id) {
                self.inner.publish(snap);
            }
        }
        self.kick();
        self.wait_idle();
        self.sync_manifest();
    }

    /// Writes the manifest if it does not list the current segments yet.
    fn sync_manifest(&self) {
        if let Some(disk) = &self.inner.disk {
            let mut state = disk.state.lock();
            disk.sync_manifest(&self.inner, &mut state);
        }
    }

    /// Seals the buffer and merges every segment into one graph (like a
    /// force-merge), then waits. Searches keep running on the old layout
    /// meanwhile. Worth it after a bulk load: each query walks every
    /// segment, so one large graph answers several times faster than a tier
    /// of smaller ones. Costs a full graph build of the live vectors.
    pub fn optimize(&self) {
        let _waiting = CountGuard::new(&self.inner.waiters);
        self.flush();
        self.inner
            .force_merge
            .store(true, std::sync::atomic::Ordering::Release);
        self.kick();
        self.wait_idle();
        self.inner
            .force_merge
            .store(false, std::sync::atomic::Ordering::Release);
        self.sync_manifest();
    }

    /// Pauses (`true`) or resumes graph builds. While paused, full write
    /// buffers are frozen but no graph is built (they are searched exactly),
    /// so a bulk load gets every core for ingesting; a job already running
    /// finishes. Resuming starts the pending builds;
    /// [`flush`](Self::flush) and [`optimize`](Self::optimize) resume too.
    /// Building once after a bulk load is also less work than building
    /// and merging tiers of segments along the way.
    pub fn pause_builds(&self, paused: bool) {
        let was = self.inner.paused.swap(paused, AtomicOrdering::AcqRel);
        if !paused {
            if was {
                // The backlog of a bulk load: build it with every core.
                self.inner.catching_up.store(true, AtomicOrdering::Release);
            }
            self.kick();
        }
    }

    /// The stamp of the manifest on disk: the last position pushed by
    /// [`set_applied`](VectorWrite::set_applied) before that manifest
    /// captured its segment list. `None` without a directory, or while no
    /// manifest with a stamp was written (nothing pushed yet).
    pub fn persisted_stamp(&self) -> Option<u64> {
        match &self.inner.disk {
            Some(d) => d.state.lock().stamp,
            None => self.inner.loaded_stamp,
        }
    }

    /// Blocks until no build or merge job is running or pending.
    pub fn wait_idle(&self) {
        let mut w = self.inner.writer.lock();
        while w.job_running {
            self.inner.idle.wait(&mut w);
        }
    }

    /// Applies `f` to a copy of the current snapshot under the writer lock,
    /// publishes it, and starts a job if there is work.
    fn write<T>(&self, f: impl FnOnce(&mut Snapshot, &mut Writer) -> T) -> T {
        let out = {
            let mut w = self.inner.writer.lock();
            let mut snap = (*self.inner.load()).clone();
            let out = f(&mut snap, &mut w);
            snap.maybe_freeze(&self.inner.cfg, false, &mut w.next_id);
            self.inner.publish(snap);
            out
        };
        self.kick();
        out
    }

    /// Starts the job runner if there is work and none is running: on a
    /// background thread, or inline when configured so (or if the thread
    /// cannot be spawned).
    fn kick(&self) {
        {
            let mut w = self.inner.writer.lock();
            let force = self
                .inner
                .force_merge
                .load(std::sync::atomic::Ordering::Acquire);
            if w.job_running
                || self.inner.paused.load(AtomicOrdering::Acquire)
                || pick_job(&self.inner.load(), &self.inner.cfg, force).is_none()
            {
                return;
            }
            w.job_running = true;
        }
        if self.inner.cfg.background {
            let weak = Arc::downgrade(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("moltsearch-vector-build".into())
                .spawn(move || run_jobs(&weak));
            match spawned {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot spawn index build thread; building inline")
                }
            }
        }
        run_jobs(&Arc::downgrade(&self.inner));
    }
}

/// Resets `job_running` if the runner unwinds, so waiters do not hang and a
/// later write can start a new runner.
struct RunnerGuard<'a>(&'a Weak<Inner>);

impl Drop for RunnerGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Some(inner) = self.0.upgrade() {
                inner.writer.lock().job_running = false;
                inner.idle.notify_all();
            }
        }
    }
}

/// Runs jobs until there is none left (the caller set `job_running`).
///
/// Holds only a `Weak` while building, so dropping the index is not delayed
/// by a build (whose result is then discarded).
fn run_jobs(weak: &Weak<Inner>) {
    let _guard = RunnerGuard(weak);
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let cfg = inner.cfg.clone();
        let (job, dead) = {
            let mut w = inner.writer.lock();
            let dead = bury(&mut w.graveyard);
            let force = inner.force_merge.load(std::sync::atomic::Ordering::Acquire);
            let picked = if inner.paused.load(AtomicOrdering::Acquire) {
                None
            } else {
                pick_job(&inner.load(), &cfg, force)
            };
            match picked {
                Some(mut job) => {
                    w.next_id += 1;
                    job.id = w.next_id;
                    (job, dead)
                }
                None => {
                    w.job_running = false;
                    inner.catching_up.store(false, AtomicOrdering::Release);
                    inner.idle.notify_all();
                    drop(w);
                    drop(dead);
                    return;
                }
            }
        };
        drop(dead);
        // A build someone waits for (flush, optimize) gets every core; one
        // nobody waits for leaves a core to writers and searches.
        let hurried = inner.waiters.load(AtomicOrdering::Acquire) > 0
            || inner.force_merge.load(AtomicOrdering::Acquire)
            || inner.catching_up.load(AtomicOrdering::Acquire);
        drop(inner);
        let started = std::time::Instant::now();
        let segment = match background_pool().filter(|_| !hurried) {
            Some(pool) => pool.install(|| job.build(&cfg)),
            None => job.build(&cfg),
        };
        let Some(inner) = weak.upgrade() else { return };
        tracing::debug!(
            inputs = job.inputs.len(),
            rows = segment.store.len(),
            ms = started.elapsed().as_millis() as u64,
            "vector segment built"
        );
        let Some(disk) = &inner.disk else {
            let mut w = inner.writer.lock();
            let mut snap = (*inner.load()).clone();
            let replaced = install(&mut snap, &job, segment);
            w.graveyard.extend(replaced);
            inner.publish(snap);
            continue;
        };
        // Persisted: file first (no writer lock), then install, then the
        // manifest, all under the disk lock.
        let mut state = disk.state.lock();
        if inner.closed.load(AtomicOrdering::Acquire) {
            return;
        }
        let segment = if segment.store.is_empty() {
            segment
        } else {
            persist_segment(&disk.dir, job.id, segment, &cfg)
        };
        {
            let mut w = inner.writer.lock();
            let mut snap = (*inner.load()).clone();
            let replaced = install(&mut snap, &job, segment);
            state
                .obsolete
                .extend(replaced.iter().filter_map(|s| s.file_id));
            w.graveyard.extend(replaced);
            inner.publish(snap);
        }
        disk.sync_manifest(&inner, &mut state);
    }
}

/// Opens the index persisted in `dir`: reads the manifest, removes leftover
/// files, opens the listed segments in parallel (each verifying its
/// checksums in parallel) and resolves docs listed twice (the newest
/// segment wins). Returns the parts, the disk state and the next id.
fn load_dir(
    dir: &Path,
    cfg: &Config,
) -> std::result::Result<(Vec<Part>, DiskState, u64), VectorIndexError> {
    if cfg.read_only && !dir.is_dir() {
        return Ok((Vec::new(), DiskState::default(), 0));
    }
    if !cfg.read_only {
        std::fs::create_dir_all(dir).map_err(|e| VectorIndexError::io("create", dir, &e))?;
    }
    let manifest = file::read_manifest(dir, cfg.dims)?;
    let entries = manifest.as_ref().map_or(&[][..], |m| &m.segments[..]);
    let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
    // A read-only open leaves other processes' files alone; its own parts
    // never reach the folder, so their ids need not avoid files on disk.
    let max_file_id = if cfg.read_only {
        0
    } else {
        file::clean_folder(dir, &ids)?
    };
    let started = std::time::Instant::now();
    let segments: Vec<Segment> = entries
        .par_iter()
        .map(|e| {
            let path = dir.join(&e.file);
            let seg = file::open_segment(&path, e.id, cfg, true)?;
            if seg.store.len() as u64 != e.rows {
                return Err(VectorIndexError::corrupt(
                    &path,
                    super::FileProblem::Invalid(format!(
                        "{} rows where the manifest says {}",
                        seg.store.len(),
                        e.rows
                    )),
                ));
            }
            Ok(seg)
        })
        .collect::<std::result::Result<_, _>>()?;
    // Newest first: a doc already seen in a newer segment is a tombstone.
    let mut seen = RoaringBitmap::new();
    let mut parts = Vec::with_capacity(segments.len());
    for seg in segments.into_iter().rev() {
        let dup = &seg.members & &seen;
        if !dup.is_empty() {
            tracing::warn!(
                segment = seg.file_id,
                docs = dup.len(),
                "vector index: docs listed in a newer segment too; the newer copy wins"
            );
        }
        seen |= &seg.members;
        let id = seg.file_id.unwrap_or_default();
        parts.push(Part::sealed(id, Arc::new(seg), dup));
    }
    parts.reverse();
    let next_id = ids
        .iter()
        .copied()
        .chain([max_file_id, manifest.as_ref().map_or(0, |m| m.next_id)])
        .max()
        .unwrap_or(0);
    if !ids.is_empty() {
        tracing::info!(
            segments = ids.len(),
            rows = parts.iter().map(Part::rows).sum::<u64>(),
            ms = started.elapsed().as_millis() as u64,
            dir = %dir.display(),
            "vector index opened"
        );
    }
    let state = DiskState {
        listed: ids,
        stamp: manifest.as_ref().and_then(|m| m.stamp),
        obsolete: Vec::new(),
    };
    Ok((parts, state, next_id))
}

/// Takes the segments nobody else references out of the graveyard, to be
/// dropped outside the lock.
fn bury(graveyard: &mut Vec<Arc<Segment>>) -> Vec<Arc<Segment>> {
    let (dead, alive): (Vec<_>, Vec<_>) = std::mem::take(graveyard)
        .into_iter()
        .partition(|s| Arc::strong_count(s) == 1);
    *graveyard = alive;
    dead
}

/// Replaces the job's input parts by `segment`, with the tombstones of docs
/// deleted since the job was picked (older tombstones are of rows the job
/// already left out, and may name docs live elsewhere). Returns the replaced
/// sealed segments.
fn install(snap: &mut Snapshot, job: &Job, segment: Segment) -> Vec<Arc<Segment>> {
    let mut deleted = RoaringBitmap::new();
    let mut replaced = Vec::new();
    let mut take = |parts: &mut Vec<Part>| {
        parts.retain(|p| {
            let Some(before) = job.inputs.iter().find(|i| i.id == p.id) else {
                return true;
            };
            if !Arc::ptr_eq(&before.deleted, &p.deleted) {
                deleted |= &*p.deleted - &*before.deleted;
            }
            if let Kind::Sealed(s) = &p.kind {
                replaced.push(Arc::clone(s));
            }
            false
        });
    };
    take(&mut snap.segments);
    take(&mut snap.frozen);
    if !segment.store.is_empty() {
        deleted &= &segment.members;
        snap.segments
            .push(Part::sealed(job.id, Arc::new(segment), deleted));
    }
    replaced
}

impl Drop for SegmentedIndex {
    /// A job still building finds the index gone and discards its result;
    /// one already writing a segment file or the manifest is waited for, so
    /// reopening the folder right after never races it.
    fn drop(&mut self) {
        self.inner.closed.store(true, AtomicOrdering::Release);
        if let Some(disk) = &self.inner.disk {
            drop(disk.state.lock());
        }
    }
}

impl VectorRead for SegmentedIndex {
    fn dims(&self) -> usize {
        self.inner.cfg.dims
    }

    fn search(&self, query: &[f32], k: usize, filter: Option<&RoaringBitmap>) -> Result<Vec<Hit>> {
        let q = prepare(self.inner.cfg.dims, query, None)?;
        let params = *self.inner.search.read();
        Ok(self.inner.load().search(&q, k, filter, &params))
    }

    fn len(&self) -> usize {
        self.inner.load().live as usize
    }

    fn contains(&self, doc: DocId) -> bool {
        self.inner.load().parts().any(|p| p.contains_live(doc))
    }

    fn get(&self, doc: DocId) -> Option<Vec<f32>> {
        self.inner.load().get(doc).map(<[f32]>::to_vec)
    }

    fn for_each_live(&self, f: &mut dyn FnMut(DocId, &[f32])) {
        let snap = self.inner.load();
        for p in snap.parts() {
            p.for_each_live(f);
        }
    }

    fn live_docs(&self) -> RoaringBitmap {
        self.snapshot().live_docs()
    }
}

impl VectorWrite for SegmentedIndex {
    fn insert(&self, doc: DocId, vector: &[f32]) -> Result<()> {
        let v = prepare(self.inner.cfg.dims, vector, Some(doc))?;
        let dims = self.inner.cfg.dims;
        self.write(|snap, _| snap.upsert(doc, &v, dims));
        Ok(())
    }

    fn insert_batch(&self, docs: &[DocId], vectors: &[f32]) -> Result<()> {
        let cfg = &self.inner.cfg;
        let data = prepare_batch(cfg.dims, docs, vectors)?;
        // Last occurrence of each doc wins.
        let mut seen = RoaringBitmap::new();
        let mut rows: Vec<usize> = (0..docs.len())
            .rev()
            .filter(|&i| seen.insert(docs[i]))
            .collect();
        rows.reverse();
        if rows.len() < cfg.seal_threshold {
            self.write(|snap, _| {
                for &i in &rows {
                    snap.upsert(docs[i], &data[i * cfg.dims..(i + 1) * cfg.dims], cfg.dims);
                }
            });
            return Ok(());
        }
        let mut store = VectorStore::with_capacity(cfg.dims, rows.len());
        for &i in &rows {
            store.push(docs[i], &data[i * cfg.dims..(i + 1) * cfg.dims]);
        }
        drop(data);
        let tombstone_older = |snap: &mut Snapshot| {
            for &i in &rows {
                let doc = docs[i];
                if snap.active.contains_live(doc) {
                    Arc::make_mut(&mut snap.active.deleted).insert(doc);
                    snap.live -= 1;
                } else {
                    snap.tombstone_sealed_or_frozen(doc);
                }
            }
        };
        if self.inner.disk.is_some() || self.inner.paused.load(AtomicOrdering::Acquire) {
            // Persisted index: the batch becomes one frozen buffer (searched
            // exactly until built), and the background job builds, persists
            // and installs its segment, so a bulk re-insert after reopening
            // returns at once. Paused builds: same, built once resumed.
            store.sort_by_doc();
            let members: RoaringBitmap = store.docs().iter().copied().collect();
            self.write(|snap, w| {
                tombstone_older(snap);
                w.next_id += 1;
                snap.live += store.len() as u64;
                snap.frozen.push(Part {
                    id: w.next_id,
                    kind: Kind::Buffer(Buffer {
                        chunks: vec![Arc::new(store)],
                        members: Arc::new(members),
                    }),
                    deleted: Arc::new(RoaringBitmap::new()),
                });
            });
            return Ok(());
        }
        // Large in-memory batch: build its segment directly (in parallel, on
        // this thread, holding the writer lock so the batch lands atomically).
        self.write(|snap, w| {
            tombstone_older(snap);
            let segment = Segment::build(store, cfg);
            snap.live += segment.store.len() as u64;
            w.next_id += 1;
            snap.segments.push(Part::sealed(
                w.next_id,
                Arc::new(segment),
                RoaringBitmap::new(),
            ));
        });
        Ok(())
    }

    fn delete(&self, doc: DocId) -> bool {
        self.write(|snap, _| snap.delete(doc))
    }

    fn retain(&self, keep: &RoaringBitmap) -> usize {
        self.write(|snap, _| {
            let mut gone = 0;
            let parts = snap
                .segments
                .iter_mut()
                .chain(snap.frozen.iter_mut())
                .chain(std::iter::once(&mut snap.active));
            for part in parts {
                let drop = part.members() - &*part.deleted - keep;
                if !drop.is_empty() {
                    gone += drop.len();
                    *Arc::make_mut(&mut part.deleted) |= drop;
                }
            }
            snap.live -= gone;
            gone as usize
        })
    }

    fn set_applied(&self, seq: u64) {
        if let Some(disk) = &self.inner.disk {
            let mut applied = disk.applied.lock();
            *applied = Some(applied.map_or(seq, |a| a.max(seq)));
        }
    }
}

impl VectorLifecycle for SegmentedIndex {
    fn flush(&self) {
        SegmentedIndex::flush(self);
    }

    fn pause_builds(&self, paused: bool) {
        SegmentedIndex::pause_builds(self, paused);
    }

    fn optimize(&self) {
        SegmentedIndex::optimize(self);
    }

    fn describe(&self) -> String {
        let s = self.stats();
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        format!(
            "{} live vectors in {} segments ({} graphs, {} persisted, rows {:?}), {} buffered, \
             {} tombstones; {} search, vectors {:.1} MiB heap + {:.1} MiB mapped",
            s.live,
            s.segments,
            s.graph_segments,
            s.persisted_segments,
            s.segment_rows,
            s.buffered_rows,
            s.tombstones,
            s.quantization,
            mib(s.vector_bytes_heap),
            mib(s.vector_bytes_mapped),
        )
    }
}

/// A frozen view of a [`SegmentedIndex`] (see [`SegmentedIndex::snapshot`]).
///
/// Holding it keeps its segments alive; it never blocks writers.
#[derive(Clone)]
pub struct VectorSnapshot {
    snap: Arc<Snapshot>,
    dims: usize,
    params: SearchParams,
}

impl VectorSnapshot {
    /// Live docs in this view.
    pub fn len(&self) -> usize {
        self.snap.live as usize
    }

    /// Whether this view has no live doc.
    pub fn is_empty(&self) -> bool {
        self.snap.live == 0
    }

    /// The stored (unit-length) vector of a live doc, borrowed.
    pub fn get(&self, doc: DocId) -> Option<&[f32]> {
        self.snap.get(doc)
    }

    /// Every live doc with its vector, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (DocId, &[f32])> + '_ {
        self.snap.parts().flat_map(|p| {
            let stores: Vec<&VectorStore> = match &p.kind {
                Kind::Sealed(s) => vec![&s.store],
                Kind::Buffer(Buffer { chunks, .. }) => chunks.iter().map(|c| &**c).collect(),
            };
            stores
                .into_iter()
                .flat_map(|s| s.iter())
                .filter(move |(doc, _)| !p.deleted.contains(*doc))
        })
    }

    /// The ids of all live docs.
    pub fn live_docs(&self) -> RoaringBitmap {
        let mut live = RoaringBitmap::new();
        for p in self.snap.parts() {
            live |= p.members() - &*p.deleted;
        }
        live
    }

    /// Same as [`VectorRead::search`], on this view.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&RoaringBitmap>,
    ) -> Result<Vec<Hit>> {
        let q = prepare(self.dims, query, None)?;
        Ok(self.snap.search(&q, k, filter, &self.params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: usize = 4;

    fn v(seed: u32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMS)
            .map(|i| ((seed as f32 + 1.0) * (i as f32 + 0.3)).sin())
            .collect();
        let n = super::super::kernel::norm_squared(&v).sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    fn index(seal: usize, merge_factor: usize) -> SegmentedIndex {
        VectorIndexBuilder::new()
            .dims(DIMS)
            .seal_threshold(seal)
            .merge_factor(merge_factor)
            .min_graph_rows(3)
            .background_builds(false)
            .build()
            .unwrap()
    }

    /// Live docs by brute force over the snapshot's parts, checking that no
    /// doc is live twice.
    fn live_once(idx: &SegmentedIndex) -> RoaringBitmap {
        let snap = idx.inner.load();
        let mut live = RoaringBitmap::new();
        for p in snap.parts() {
            p.for_each_live(&mut |doc, _| assert!(live.insert(doc), "doc {doc} live twice"));
        }
        assert_eq!(live.len(), snap.live);
        live
    }

    #[test]
    fn optimize_leaves_one_segment_with_every_doc() {
        let idx = index(64, 100);
        for d in 0..500u32 {
            idx.insert(d, &v(d)).unwrap();
        }
        idx.delete(7);
        idx.flush();
        assert!(idx.stats().segments > 1);
        idx.optimize();
        let stats = idx.stats();
        assert_eq!(stats.segments, 1, "{stats:?}");
        assert_eq!(stats.live, 499);
        let live = live_once(&idx);
        assert_eq!(live.len(), 499);
        assert!(!live.contains(7));
    }

    #[test]
    fn seals_merges_and_keeps_each_doc_once() {
        let idx = index(4, 2);
        for d in 0..64 {
            idx.insert(d, &v(d)).unwrap();
        }
        // Replace some, delete some, across sealed and buffered parts.
        for d in (0..64).step_by(5) {
            idx.insert(d, &v(d + 100)).unwrap();
        }
        for d in (0..64).step_by(7) {
            assert!(idx.delete(d));
        }
        idx.flush();
        let stats = idx.stats();
        assert_eq!(stats.frozen_buffers + stats.buffered_rows as usize, 0);
        assert!(stats.segments <= 6, "{stats:?}");
        let live = live_once(&idx);
        assert_eq!(live.len(), 64 - (0..64).step_by(7).count() as u64);
        // "Everything" through the graphs too.
        let all = idx.search(&v(1), usize::MAX, None).unwrap();
        assert_eq!(all.len() as u64, live.len());
        for d in live.iter() {
            let want = if d % 5 == 0 { v(d + 100) } else { v(d) };
            assert_eq!(idx.get(d).unwrap(), want);
        }
    }

    #[test]
    fn install_keeps_deletes_made_during_a_build_and_ignores_stale_tombstones() {
        let idx = index(1000, 2);
        for d in 0..20 {
            idx.insert(d, &v(d)).unwrap();
        }
        idx.flush(); // segment A = 0..20
        idx.delete(3);
        idx.insert(3, &v(300)).unwrap(); // stale tombstone of 3 in A
        idx.insert(30, &v(30)).unwrap();
        // Pretend a runner is busy so writes do not start one, freeze the
        // buffer and pick the job by hand.
        idx.inner.writer.lock().job_running = true;
        {
            let mut w = idx.inner.writer.lock();
            let mut snap = (*idx.inner.load()).clone();
            assert!(snap.maybe_freeze(&idx.inner.cfg, true, &mut w.next_id));
            idx.inner.publish(snap);
        }
        let mut job = pick_job(&idx.inner.load(), &idx.inner.cfg, false).unwrap();
        job.id = 1000;
        assert_eq!(job.inputs.len(), 1);
        // While "building": delete a doc of the job's input and one elsewhere.
        assert!(idx.delete(30));
        assert!(idx.delete(7));
        let segment = job.build(&idx.inner.cfg);
        {
            let mut w = idx.inner.writer.lock();
            let mut snap = (*idx.inner.load()).clone();
            install(&mut snap, &job, segment);
            idx.inner.publish(snap);
            w.job_running = false;
        }
        assert!(!idx.contains(30) && !idx.contains(7));
        assert_eq!(idx.get(3).unwrap(), v(300));
        live_once(&idx);
        // Now merge A (with its stale tombstone of 3) and the new segment.
        idx.flush();
        assert_eq!(idx.stats().segments, 1);
        assert_eq!(idx.get(3).unwrap(), v(300));
        let live = live_once(&idx);
        assert_eq!(live.len(), 19);
        let hits = idx.search(&v(300), 1, None).unwrap();
        assert_eq!(hits[0].doc, 3);
    }

    #[test]
    fn dirty_segments_are_rebuilt_without_tombstones() {
        let idx = index(16, 8);
        let docs: Vec<DocId> = (0..50).collect();
        let data: Vec<f32> = docs.iter().flat_map(|&d| v(d)).collect();
        idx.insert_batch(&docs, &data).unwrap(); // large batch: one segment
        assert_eq!(idx.stats().segment_rows, vec![50]);
        for d in 0..9 {
            idx.delete(d); // 18%: kept
        }
        assert_eq!(idx.stats().tombstones, 9);
        idx.delete(9);
        idx.delete(10); // 22%: rebuilt on the spot (inline builds)
        let stats = idx.stats();
        assert_eq!(stats.tombstones, 0, "{stats:?}");
        assert_eq!(stats.segment_rows, vec![39]);
        assert_eq!(idx.len(), 39);
    }

    #[test]
    fn background_builds_and_drop_while_building() {
        let idx = VectorIndexBuilder::new()
            .dims(DIMS)
            .seal_threshold(8)
            .min_graph_rows(1)
            .exact_scan_max(0)
            .build()
            .unwrap();
        for d in 0..200 {
            idx.insert(d, &v(d)).unwrap();
        }
        idx.wait_idle();
        assert!(!idx.stats().job_running);
        idx.flush();
        assert_eq!(live_once(&idx).len(), 200);
        for d in 200..300 {
            idx.insert(d, &v(d)).unwrap();
        }
        drop(idx); // a running build finds the index gone and stops
    }

    #[test]
    fn snapshot_is_frozen_in_time() {
        let idx = index(3, 2);
        for d in 0..10 {
            idx.insert(d, &v(d)).unwrap();
        }
        let snap = idx.snapshot();
        idx.delete(2);
        idx.insert(11, &v(11)).unwrap();
        idx.flush();
        assert_eq!(snap.len(), 10);
        assert_eq!(snap.get(2), Some(&v(2)[..]));
        assert!(snap.get(11).is_none());
        assert_eq!(snap.iter().count(), 10);
        assert_eq!(snap.live_docs(), (0..10).collect());
        assert_eq!(snap.search(&v(2), 1, None).unwrap()[0].doc, 2);
        assert_eq!(snap.search(&v(2), usize::MAX, None).unwrap().len(), 10);
        assert_eq!(idx.len(), 10);
        assert!(!snap.is_empty());
    }
}
