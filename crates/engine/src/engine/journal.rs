//! What makes writes durable: log appends (with the access counts riding
//! along), the text index's group commit stamped with the log position,
//! checkpoints, and the background job that journals access counts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use uuid::Uuid;

use parking_lot::{Mutex, RwLock};

use super::{Engine, WriterState};
use crate::store::state::State;
use crate::store::{Access, Record, Store};
use crate::{Error, Result};

/// A thread that logs changed access counts every interval, so a search
/// never writes and counts still reach the log without a write to carry
/// them. It holds the store, the state and the writer lock, not the
/// engine: dropping the engine stops and joins it before the store closes,
/// so the folder lock is released when the engine is dropped, not some
/// time later.
pub(super) struct AccessJournal {
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AccessJournal {
    pub(super) fn start(
        writer: Arc<Mutex<WriterState>>,
        store: Arc<Store>,
        state: Arc<RwLock<State>>,
        every: std::time::Duration,
    ) -> Result<Self> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("moltsearch-access-journal".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if let Err(e) = log_accesses(&mut writer.lock(), &store, &state) {
                        tracing::warn!(error = %e, "could not log access counts");
                    }
                }
            })
            .map_err(|e| Error::InvalidConfig(format!("cannot start the access journal: {e}")))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(super) fn stop(mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Logs the changed access counts as one record and applies it (writer
/// lock held: records are applied in sequence order). When a write is
/// between its log append and its publication, nothing is logged: the
/// counts wait for the next call (or ride along with the next write).
pub(super) fn log_accesses(
    w: &mut WriterState,
    store: &Store,
    state: &RwLock<State>,
) -> Result<()> {
    if !w.staged.is_empty() {
        return Ok(());
    }
    let counts = Arc::clone(&state.read().counts);
    let accesses = counts.take_changed();
    if accesses.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = accesses.iter().map(|a| a.id).collect();
    let written = store
        .write(vec![Record::RecordAccesses(accesses)])
        .and_then(|(seq, records)| store.wait_durable(seq).map(|()| (seq, records)));
    match written {
        Ok((seq, records)) => {
            w.logged = seq;
            let mut state = state.write();
            for record in records {
                state.apply(seq, record);
            }
            Ok(())
        }
        Err(e) => {
            counts.mark_changed(ids);
            Err(e.into())
        }
    }
}

impl Engine {
    /// Logs `records` and publishes them (writer lock held): when this
    /// returns, they are durable and applied. For writes with no index
    /// effect of their own (diaries, relations).
    pub(super) fn persist(&self, w: &mut WriterState, records: Vec<Record>) -> Result<()> {
        self.journal(w, records)?;
        self.publish(w, None)
    }

    /// Writes `records` to the log (not waiting for durability) and stages
    /// them for the next [`Engine::publish`]; returns the last sequence
    /// number. Writer lock held, so staged records are in sequence order.
    /// In memory, sequence numbers are assigned and nothing is written.
    ///
    /// Read bookkeeping recorded by searches since the last write rides
    /// along (one [`Record::RecordAccesses`]), so it costs no extra fsync.
    pub(super) fn journal(&self, w: &mut WriterState, mut records: Vec<Record>) -> Result<u64> {
        let (first, records) = match &self.inner.store {
            Some(store) => {
                let counts = Arc::clone(&self.inner.state.read().counts);
                // A mirror's counts are the caller's to take out.
                let accesses = match self.inner.source {
                    Some(_) => Vec::new(),
                    None => counts.take_changed(),
                };
                let accessed: Vec<Uuid> = accesses.iter().map(|a| a.id).collect();
                if !accesses.is_empty() {
                    records.push(Record::RecordAccesses(accesses));
                }
                let written = match store.write(records) {
                    Ok(written) => written,
                    Err(e) => {
                        counts.mark_changed(accessed);
                        return Err(e.into());
                    }
                };
                self.maybe_checkpoint(store);
                written
            }
            None => (w.logged + 1, records),
        };
        let last = first + records.len() as u64 - 1;
        for (i, record) in records.into_iter().enumerate() {
            if let Record::PutEntries(entries) = &record {
                w.staged_ids.extend(entries.iter().map(|e| e.record.id));
                w.staged_nonces.extend(
                    entries
                        .iter()
                        .filter_map(|e| e.record.signing_nonce.clone()),
                );
            }
            w.staged.push_back((first + i as u64, record));
        }
        w.logged = last;
        Ok(last)
    }

    /// Starts a background checkpoint when the log has grown past the
    /// threshold (one at a time).
    fn maybe_checkpoint(&self, store: &Arc<Store>) {
        let threshold = self.inner.checkpoint_bytes.max(store.vector_bytes() / 4);
        if store.log_bytes() > threshold && !self.inner.checkpointing.swap(true, Ordering::AcqRel) {
            let (store, flag) = (store.clone(), self.inner.checkpointing.clone());
            std::thread::spawn(move || {
                if let Err(e) = store.checkpoint() {
                    tracing::error!(error = %e, "background checkpoint failed");
                }
                flag.store(false, Ordering::Release);
            });
        }
    }

    /// The group commit (writer lock held): waits until the log is
    /// durable, commits the text index (stamped no higher than `limit`,
    /// see [`Engine::commit_text_upto`]) and applies every staged record to
    /// the state, in sequence order. A failed text commit still applies
    /// them (they are in the log, so they are the truth; the next open
    /// indexes what the text index lacks) and returns its error.
    pub(super) fn publish(&self, w: &mut WriterState, limit: Option<u64>) -> Result<()> {
        if let Some(store) = &self.inner.store {
            store.wait_durable(w.logged)?;
        }
        let committed = self.commit_text_upto(w, limit);
        if !w.staged.is_empty() {
            let mut state = self.inner.state.write();
            for (seq, record) in w.staged.drain(..) {
                state.apply(seq, record);
            }
            w.staged_ids.clear();
            w.staged_nonces.clear();
        }
        committed
    }

    /// Commits the text changes made so far, if any (writer lock held). On
    /// a data folder the commit is stamped with the last log position, once
    /// that is durable: every change it holds was logged at or before it,
    /// and the stamp never claims a write a crash could still lose. The
    /// same position is pushed to the vector index (its next manifest's
    /// stamp): under the writer lock, every logged change's vectors are
    /// already inserted, so both indexes carry one stamp, set here.
    pub(super) fn commit_text(&self, w: &mut WriterState) -> Result<()> {
        self.commit_text_upto(w, None)
    }

    /// [`Engine::commit_text`], stamped no higher than `limit`: for a
    /// commit that holds only part of the last logged change (an update
    /// whose old doc is retired by a second commit), which must not claim
    /// it whole.
    fn commit_text_upto(&self, w: &mut WriterState, limit: Option<u64>) -> Result<()> {
        if w.text_committed == w.text_changes {
            return Ok(());
        }
        match &self.inner.store {
            Some(store) => {
                let durable = w.logged;
                store.wait_durable(durable)?;
                let seq = [Some(durable), limit, w.stamp_cap]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(durable);
                self.inner.text.commit_stamped(seq)?;
                self.inner.vectors.set_applied(seq);
            }
            None => self.inner.text.commit()?,
        }
        w.text_committed = w.text_changes;
        Ok(())
    }

    /// The log position now (0 in memory): taken before a write's append,
    /// it is the stamp that write's failure caps later commits at.
    pub(super) fn log_position(&self, w: &WriterState) -> u64 {
        w.logged
    }

    /// Records that indexing failed after the append that followed log
    /// position `before` (see [`WriterState::stamp_cap`]), and applies what
    /// is still staged: it is in the log, so it is the truth (see
    /// [`Engine::publish`]; a second failure changes nothing more).
    pub(super) fn indexing_failed(&self, w: &mut WriterState, before: u64) {
        w.stamp_cap = Some(w.stamp_cap.map_or(before, |c| c.min(before)));
        if !w.staged.is_empty() {
            let _ = self.publish(w, Some(before));
        }
    }

    /// Writes a snapshot now and starts a fresh log (no-op in memory).
    pub fn checkpoint(&self) -> Result<()> {
        self.check_writable()?;
        if let Some(store) = &self.inner.store {
            self.flush_accesses()?;
            store.checkpoint()?;
        }
        Ok(())
    }

    /// Logs the access counts searches recorded since they were last
    /// logged (a background job does it every second on a data folder, and
    /// they ride along with writes; see
    /// [`EngineBuilder::access_journal_interval`](super::EngineBuilder::access_journal_interval)). A crash loses only the
    /// counts recorded since.
    pub fn flush_accesses(&self) -> Result<()> {
        self.check_writable()?;
        match &self.inner.store {
            Some(store) => {
                let mut w = self.inner.writer.lock();
                self.publish(&mut w, None)?;
                match self.inner.source {
                    Some(_) => Ok(()),
                    None => log_accesses(&mut w, store, &self.inner.state),
                }
            }
            None => Ok(()),
        }
    }

    /// Takes out the access counts that changed since they were last taken
    /// or logged (absolute values: applying one twice is harmless). For an
    /// embedder whose source of truth is elsewhere (a database), which
    /// stores them there in batches; on a data folder, counts taken out
    /// here are not logged by the engine.
    pub fn take_access_changes(&self) -> Vec<Access> {
        self.inner.state.read().counts.take_changed()
    }
}
