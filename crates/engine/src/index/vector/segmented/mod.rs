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
//!
//! Layout: this file holds the type, its snapshots and the read path;
//! `write.rs` the write path, `jobs.rs` the background build jobs and
//! merge policy (and the lifecycle calls that drive them), `persist.rs` the
//! index folder (segment files, manifest, loading).

mod jobs;
mod persist;
mod write;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};
use roaring::RoaringBitmap;

use self::persist::{load_dir, Disk};
use super::config::{Config, Quantization, SearchParams};
use super::segment::{Buffer, Kind, Part, Segment, CHUNK_ROWS};
use super::store::VectorStore;
use super::topk::merge;
use super::{prepare, vector_error, Hit, VectorIndexBuilder, VectorLifecycle, VectorRead};
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
    use crate::index::vector::VectorWrite;

    pub(super) const DIMS: usize = 4;

    pub(super) fn v(seed: u32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..DIMS)
            .map(|i| ((seed as f32 + 1.0) * (i as f32 + 0.3)).sin())
            .collect();
        let n = super::super::kernel::norm_squared(&v).sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    pub(super) fn index(seal: usize, merge_factor: usize) -> SegmentedIndex {
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
    pub(super) fn live_once(idx: &SegmentedIndex) -> RoaringBitmap {
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
