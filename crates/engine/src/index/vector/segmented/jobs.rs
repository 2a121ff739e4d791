//! Background build jobs of [`SegmentedIndex`]: which parts to seal,
//! rebuild or merge next (the merge policy), the runner thread that builds
//! and installs them, and the lifecycle calls that wait for or pause it.

use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::{Arc, OnceLock, Weak};

use roaring::RoaringBitmap;

use super::super::config::Config;
use super::super::segment::{Kind, Part, Segment};
use super::super::store::VectorStore;
use super::persist::persist_segment;
use super::{Inner, SegmentedIndex, Snapshot};
use crate::count_guard::CountGuard;

/// A graph build to run: its input parts as they were when it was picked.
pub(super) struct Job {
    pub(super) inputs: Vec<Part>,
    /// The output's part id (and file id), allocated when the job is picked
    /// so ids follow the age of the data they hold: on reopen, a doc found
    /// in two segments is taken from the one with the higher id.
    pub(super) id: u64,
}

impl Job {
    /// The live rows of all inputs, sealed into one segment.
    pub(super) fn build(&self, cfg: &Config) -> Segment {
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
pub(super) fn pick_job(snap: &Snapshot, cfg: &Config, force_merge: bool) -> Option<Job> {
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

/// Where builds nobody waits for run: a pool of all cores but one (shared
/// by every index of the process), so writes and searches keep a core
/// while a graph is built. `None` on one core or if it cannot be created.
pub(super) fn background_pool() -> Option<&'static rayon::ThreadPool> {
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

impl SegmentedIndex {
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

    /// Blocks until no build or merge job is running or pending.
    pub fn wait_idle(&self) {
        let mut w = self.inner.writer.lock();
        while w.job_running {
            self.inner.idle.wait(&mut w);
        }
    }

    /// Starts the job runner if there is work and none is running: on a
    /// background thread, or inline when configured so (or if the thread
    /// cannot be spawned).
    pub(super) fn kick(&self) {
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
pub(super) fn run_jobs(weak: &Weak<Inner>) {
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

/// Takes the segments nobody else references out of the graveyard, to be
/// dropped outside the lock.
pub(super) fn bury(graveyard: &mut Vec<Arc<Segment>>) -> Vec<Arc<Segment>> {
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
pub(super) fn install(snap: &mut Snapshot, job: &Job, segment: Segment) -> Vec<Arc<Segment>> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{index, live_once, v};
    use super::*;
    use crate::index::vector::{VectorRead, VectorWrite};

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
}
