//! Gathering concurrent embedding calls into few, well-packed model runs.
//!
//! Each worker thread owns one ONNX Runtime session (`Session::run` takes
//! `&mut self`), so no lock is ever held across unrelated work. Workers pull
//! jobs from two queues, queries first, so a search's embedding never waits
//! behind a bulk import for more than one batch run.
//!
//! A worker takes one job, then drains whatever else is already queued,
//! without waiting: a lone caller pays no batching delay. Only when it sees
//! concurrency (more than one job gathered) does it wait up to `max_wait`
//! for stragglers, bounded by `max_batch_size` rows. The gathered rows are
//! sorted by token length and cut into length buckets, so each run pads
//! little; each caller is answered as soon as its own rows are done.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select_biased, unbounded, Receiver, Sender};
use ort::session::Session;

use super::model::run_batch;
use super::profile::ModelProfile;
use crate::{Error, Result};

/// Batching knobs (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BatchConfig {
    pub max_batch_size: usize,
    pub max_batch_tokens: usize,
    pub max_wait: Duration,
    pub length_buckets: bool,
}

/// Which queue a job goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Priority {
    Query,
    Passage,
}

/// Token sequences to embed, and where to send their vectors.
pub(crate) struct Job {
    pub seqs: Vec<Vec<i64>>,
    pub reply: Sender<Result<Vec<f32>>>,
}

/// A pool of workers, one session each. Dropping it closes the queues and
/// joins the workers.
pub(crate) struct Pool {
    queries: Option<Sender<Job>>,
    passages: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    pub fn start(
        sessions: Vec<Session>,
        profile: Arc<ModelProfile>,
        cfg: BatchConfig,
    ) -> Result<Self> {
        let (q_tx, q_rx) = unbounded();
        let (p_tx, p_rx) = unbounded();
        let mut pool = Self {
            queries: Some(q_tx),
            passages: Some(p_tx),
            workers: Vec::with_capacity(sessions.len()),
        };
        for (i, session) in sessions.into_iter().enumerate() {
            let (q_rx, p_rx, profile) = (q_rx.clone(), p_rx.clone(), profile.clone());
            let handle = std::thread::Builder::new()
                .name(format!("moltsearch-embed-{i}"))
                .spawn(move || Worker::new(session, profile, cfg).run(&q_rx, &p_rx))
                .map_err(|e| Error::InvalidConfig(format!("cannot start embedding worker: {e}")))?;
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Queues one job and returns the receiver of its answer.
    pub fn submit(
        &self,
        priority: Priority,
        seqs: Vec<Vec<i64>>,
    ) -> Result<Receiver<Result<Vec<f32>>>> {
        let (reply, rx) = bounded(1);
        let queue = match priority {
            Priority::Query => &self.queries,
            Priority::Passage => &self.passages,
        };
        queue
            .as_ref()
            .ok_or(Error::EmbedderClosed)?
            .send(Job { seqs, reply })
            .map_err(|_| Error::EmbedderClosed)?;
        Ok(rx)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.queries.take();
        self.passages.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// Padding a run may add above its shortest row: 5 % + 2 tokens, at least 8.
///
/// Measured on 2 cores (MiniLM int8, 64 passages of 10–300 tokens): on CPU
/// a batch of long rows costs about the sum of its rows, so every padded
/// token is pure loss; 25 % slack made bucketed batches 20 % slower than
/// one-at-a-time calls, 5 % made them as fast or faster. Short rows gain
/// from batching and lose little to padding, hence the 8-token floor.
pub(crate) fn bucket_slack(shortest: usize) -> usize {
    (shortest / 20 + 2).max(8)
}

/// Splits rows into model runs: with `length_buckets`, rows are sorted by
/// length and a new run starts when a row is longer than the run's shortest
/// plus [`bucket_slack`]; always bounded by `max_batch_size` rows and by
/// `max_batch_tokens` padded tokens. Returns row indices per run.
pub(crate) fn plan_batches(lens: &[usize], cfg: &BatchConfig) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lens.len()).collect();
    if cfg.length_buckets {
        order.sort_by_key(|&i| lens[i]);
    }
    let mut runs = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let (mut cur_max, mut start_len) = (0usize, 0usize);
    for i in order {
        let len = lens[i];
        if !cur.is_empty() {
            let padded = cur_max.max(len) * (cur.len() + 1);
            let too_long = cfg.length_buckets && len > start_len + bucket_slack(start_len);
            if cur.len() >= cfg.max_batch_size || padded > cfg.max_batch_tokens || too_long {
                runs.push(std::mem::take(&mut cur));
                cur_max = 0;
            }
        }
        if cur.is_empty() {
            start_len = len;
        }
        cur.push(i);
        cur_max = cur_max.max(len);
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

struct Worker {
    session: Session,
    profile: Arc<ModelProfile>,
    cfg: BatchConfig,
}

/// A gathered job being answered.
struct Pending {
    job: Job,
    out: Vec<f32>,
    remaining: usize,
    failed: bool,
}

impl Worker {
    fn new(session: Session, profile: Arc<ModelProfile>, cfg: BatchConfig) -> Self {
        Self {
            session,
            profile,
            cfg,
        }
    }

    fn run(mut self, queries: &Receiver<Job>, passages: &Receiver<Job>) {
        loop {
            let first = select_biased! {
                recv(queries) -> job => job,
                recv(passages) -> job => job,
            };
            let Ok(first) = first else { return };
            let jobs = self.gather(first, queries, passages);
            self.process(jobs);
        }
    }

    fn gather(&self, first: Job, queries: &Receiver<Job>, passages: &Receiver<Job>) -> Vec<Job> {
        let mut rows = first.seqs.len();
        let mut jobs = vec![first];
        while rows < self.cfg.max_batch_size {
            match queries.try_recv().or_else(|_| passages.try_recv()) {
                Ok(job) => {
                    rows += job.seqs.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if jobs.len() > 1 && !self.cfg.max_wait.is_zero() {
            let deadline = Instant::now() + self.cfg.max_wait;
            while rows < self.cfg.max_batch_size {
                let timeout = deadline.saturating_duration_since(Instant::now());
                let job = select_biased! {
                    recv(queries) -> job => job.ok(),
                    recv(passages) -> job => job.ok(),
                    default(timeout) => None,
                };
                match job {
                    Some(job) => {
                        rows += job.seqs.len();
                        jobs.push(job);
                    }
                    None => break,
                }
            }
        }
        jobs
    }

    fn process(&mut self, jobs: Vec<Job>) {
        let dims = self.profile.dims;
        let mut pending: Vec<Pending> = jobs
            .into_iter()
            .map(|job| Pending {
                out: vec![0.0; job.seqs.len() * dims],
                remaining: job.seqs.len(),
                failed: false,
                job,
            })
            .collect();
        // (job, row) of every gathered sequence, in one flat list.
        let rows: Vec<(usize, usize)> = pending
            .iter()
            .enumerate()
            .flat_map(|(j, p)| (0..p.job.seqs.len()).map(move |r| (j, r)))
            .collect();
        let lens: Vec<usize> = rows
            .iter()
            .map(|&(j, r)| pending[j].job.seqs[r].len())
            .collect();
        let mut buf = Vec::new();
        for run in plan_batches(&lens, &self.cfg) {
            let members: Vec<(usize, usize)> = run.iter().map(|&i| rows[i]).collect();
            if members.iter().all(|&(j, _)| pending[j].failed) {
                continue;
            }
            let seqs: Vec<&[i64]> = members
                .iter()
                .map(|&(j, r)| pending[j].job.seqs[r].as_slice())
                .collect();
            buf.resize(seqs.len() * dims, 0.0);
            match run_batch(&mut self.session, &self.profile, &seqs, &mut buf) {
                Ok(()) => {
                    for (k, &(j, r)) in members.iter().enumerate() {
                        let p = &mut pending[j];
                        p.out[r * dims..(r + 1) * dims]
                            .copy_from_slice(&buf[k * dims..(k + 1) * dims]);
                        p.remaining -= 1;
                        if p.remaining == 0 && !p.failed {
                            let _ = p.job.reply.send(Ok(std::mem::take(&mut p.out)));
                        }
                    }
                }
                Err(err) => {
                    let message = err.to_string();
                    for &(j, _) in &members {
                        let p = &mut pending[j];
                        if !p.failed {
                            p.failed = true;
                            let _ = p.job.reply.send(Err(Error::Inference {
                                model: self.profile.name.clone(),
                                message: message.clone(),
                            }));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(buckets: bool) -> BatchConfig {
        BatchConfig {
            max_batch_size: 4,
            max_batch_tokens: 1000,
            max_wait: Duration::ZERO,
            length_buckets: buckets,
        }
    }

    #[test]
    fn every_row_planned_exactly_once() {
        let lens: Vec<usize> = (0..37).map(|i| (i * 37) % 300 + 3).collect();
        for buckets in [true, false] {
            let mut seen: Vec<usize> = plan_batches(&lens, &cfg(buckets)).concat();
            seen.sort_unstable();
            assert_eq!(seen, (0..37).collect::<Vec<_>>());
        }
    }

    #[test]
    fn buckets_bound_padding_and_size() {
        let lens = [10, 300, 12, 290, 11, 13, 280, 9];
        let runs = plan_batches(&lens, &cfg(true));
        for run in &runs {
            assert!(run.len() <= 4);
            let min = run.iter().map(|&i| lens[i]).min().unwrap();
            let max = run.iter().map(|&i| lens[i]).max().unwrap();
            assert!(max <= min + bucket_slack(min), "{min}..{max}");
        }
        // Naive planning keeps arrival order and mixes lengths (the token
        // budget still caps it: 4 rows × 300 > 1000).
        let naive = plan_batches(&lens, &cfg(false));
        assert_eq!(naive[0], vec![0, 1, 2]);
    }

    #[test]
    fn token_budget_splits_long_rows() {
        let lens = [400, 400, 400];
        let runs = plan_batches(&lens, &cfg(true));
        assert_eq!(runs.len(), 2, "{runs:?}");
    }
}
