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
//! O(n).

use std::sync::{Arc, Weak};

use parking_lot::{Condvar, Mutex, RwLock};
use roaring::RoaringBitmap;

use super::builder::{Config, SearchParams};
use super::flat::prepare_batch;
use super::segment::{Buffer, Kind, Part, Segment, CHUNK_ROWS};
use super::store::VectorStore;
use super::topk::merge;
use super::{prepare, Hit, VectorIndex, VectorIndexBuilder};
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
        });
    }
    let dirty: Vec<Part> = snap
        .segments
        .iter()
        .filter(|p| p.deleted.len() as f64 > f64::from(cfg.rebuild_ratio) * p.rows() as f64)
        .cloned()
        .collect();
    if !dirty.is_empty() {
        return Some(Job { inputs: dirty });
    }
    if force_merge && snap.segments.len() > 1 {
        return Some(Job {
            inputs: snap.segments.clone(),
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

    pub(crate) fn with_config(cfg: Config) -> Self {
        let snap = Snapshot {
            segments: Vec::new(),
            frozen: Vec::new(),
            active: Part::empty_buffer(0),
            live: 0,
        };
        Self {
            inner: Arc::new(Inner {
                search: RwLock::new(cfg.search),
                cfg,
                current: RwLock::new(Arc::new(snap)),
                writer: Mutex::new(Writer::default()),
                idle: Condvar::new(),
                force_merge: std::sync::atomic::AtomicBool::new(false),
            }),
        }
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

    /// Counters describing segments, buffers and tombstones.
    pub fn stats(&self) -> VectorIndexStats {
        let running = self.inner.writer.lock().job_running;
        let s = self.inner.load();
        VectorIndexStats {
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
    /// until every pending build, rebuild and merge has been installed.
    pub fn flush(&self) {
        {
            let mut w = self.inner.writer.lock();
            let mut snap = (*self.inner.load()).clone();
            if snap.maybe_freeze(&self.inner.cfg, true, &mut w.next_id) {
                self.inner.publish(snap);
            }
        }
        self.kick();
        self.wait_idle();
    }

    /// Seals the buffer and merges every segment into one graph (like a
    /// force-merge), then waits. Searches keep running on the old layout
    /// meanwhile. Worth it after a bulk load: each query walks every
    /// segment, so one large graph answers several times faster than a tier
    /// of smaller ones. Costs a full graph build of the live vectors.
    pub fn optimize(&self) {
        self.flush();
        self.inner
            .force_merge
            .store(true, std::sync::atomic::Ordering::Release);
        self.kick();
        self.wait_idle();
        self.inner
            .force_merge
            .store(false, std::sync::atomic::Ordering::Release);
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
            if w.job_running || pick_job(&self.inner.load(), &self.inner.cfg, force).is_none() {
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
            match pick_job(&inner.load(), &cfg, force) {
                Some(job) => (job, dead),
                None => {
                    w.job_running = false;
                    inner.idle.notify_all();
                    drop(w);
                    drop(dead);
                    return;
                }
            }
        };
        drop(dead);
        drop(inner);
        let started = std::time::Instant::now();
        let segment = job.build(&cfg);
        let Some(inner) = weak.upgrade() else { return };
        tracing::debug!(
            inputs = job.inputs.len(),
            rows = segment.store.len(),
            ms = started.elapsed().as_millis() as u64,
            "vector segment built"
        );
        let mut w = inner.writer.lock();
        let mut snap = (*inner.load()).clone();
        let replaced = install(&mut snap, &job, segment, &mut w.next_id);
        w.graveyard.extend(replaced);
        inner.publish(snap);
    }
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
fn install(
    snap: &mut Snapshot,
    job: &Job,
    segment: Segment,
    next_id: &mut u64,
) -> Vec<Arc<Segment>> {
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
        *next_id += 1;
        snap.segments
            .push(Part::sealed(*next_id, Arc::new(segment), deleted));
    }
    replaced
}

impl VectorIndex for SegmentedIndex {
    fn dims(&self) -> usize {
        self.inner.cfg.dims
    }

    fn flush(&self) {
        SegmentedIndex::flush(self);
    }

    fn optimize(&self) {
        SegmentedIndex::optimize(self);
    }

    fn describe(&self) -> String {
        let s = self.stats();
        format!(
            "{} live vectors in {} segments ({} graphs, rows {:?}), {} buffered, {} tombstones",
            s.live, s.segments, s.graph_segments, s.segment_rows, s.buffered_rows, s.tombstones
        )
    }

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
        // Large batch: build its segment directly (in parallel, on this
        // thread, holding the writer lock so the batch lands atomically).
        let mut store = VectorStore::with_capacity(cfg.dims, rows.len());
        for &i in &rows {
            store.push(docs[i], &data[i * cfg.dims..(i + 1) * cfg.dims]);
        }
        drop(data);
        self.write(|snap, w| {
            for &i in &rows {
                let doc = docs[i];
                if snap.active.contains_live(doc) {
                    Arc::make_mut(&mut snap.active.deleted).insert(doc);
                    snap.live -= 1;
                } else {
                    snap.tombstone_sealed_or_frozen(doc);
                }
            }
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

    /// Same as [`VectorIndex::search`], on this view.
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
        let job = pick_job(&idx.inner.load(), &idx.inner.cfg, false).unwrap();
        assert_eq!(job.inputs.len(), 1);
        // While "building": delete a doc of the job's input and one elsewhere.
        assert!(idx.delete(30));
        assert!(idx.delete(7));
        let segment = job.build(&idx.inner.cfg);
        {
            let mut w = idx.inner.writer.lock();
            let mut snap = (*idx.inner.load()).clone();
            install(&mut snap, &job, segment, &mut w.next_id);
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
