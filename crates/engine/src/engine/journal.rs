//! What makes writes durable: log appends (with the access counts riding
//! along), the text index's group commit stamped with the log position,
//! checkpoints, and the background job that journals access counts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use uuid::Uuid;

use super::access::{self};
use super::{Engine, WriterState};
use crate::store::{Access, Record, Store};
use crate::{Error, Result};

/// A thread that logs changed access counts every interval, so a search
/// never writes and counts still reach the log without a write to carry
/// them. It holds the store, not the engine: dropping the engine stops and
/// joins it before the store closes, so the folder lock is released when
/// the engine is dropped, not some time later.
pub(super) struct AccessJournal {
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AccessJournal {
    pub(super) fn start(
        store: Arc<Store>,
        counts: Arc<access::AccessCounts>,
        every: std::time::Duration,
    ) -> Result<Self> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("moltsearch-access-journal".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(every)
                {
                    if let Err(e) = log_accesses(&store, &counts) {
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

/// Appends the changed access counts to the log as one record (no engine
/// lock: counts touch neither index, and the store orders appends).
pub(super) fn log_accesses(store: &Store, counts: &access::AccessCounts) -> Result<()> {
    let accesses = counts.take_changed();
    if accesses.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = accesses.iter().map(|a| a.id).collect();
    if let Err(e) = store.append(vec![Record::RecordAccesses(accesses)]) {
        counts.mark_changed(ids);
        return Err(e.into());
    }
    Ok(())
}

impl Engine {
    /// Makes `records` durable before the caller applies them in memory
    /// (writer lock held). In-memory engines skip this.
    ///
    /// Read bookkeeping recorded by searches since the last write rides
    /// along (one [`Record::RecordAccesses`]), so it costs no extra fsync.
    pub(super) fn persist(&self, records: Vec<Record>) -> Result<()> {
        if let (Some(store), Some(seq)) = (&self.inner.store, self.log(records)?) {
            store.wait_durable(seq)?;
        }
        Ok(())
    }

    /// [`Engine::persist`] without waiting for durability: returns the
    /// last sequence number to wait for (`None` in memory).
    pub(super) fn log(&self, mut records: Vec<Record>) -> Result<Option<u64>> {
        let Some(store) = &self.inner.store else {
            return Ok(None);
        };
        let accessed = self.inner.take_accesses(&mut records);
        let seq = match store.append_unsynced(records) {
            Ok(seq) => seq,
            Err(e) => {
                self.inner.catalog.read().accesses.mark_changed(accessed);
                return Err(e.into());
            }
        };
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
        Ok(Some(seq))
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
    pub(super) fn commit_text_upto(&self, w: &mut WriterState, limit: Option<u64>) -> Result<()> {
        if w.text_committed == w.text_changes {
            return Ok(());
        }
        match &self.inner.store {
            Some(store) => {
                let durable = store.last_seq();
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
    pub(super) fn log_position(&self) -> u64 {
        self.inner.store.as_ref().map_or(0, |s| s.last_seq())
    }

    /// Records that indexing failed after the append that followed log
    /// position `before`: see [`WriterState::stamp_cap`].
    pub(super) fn indexing_failed(&self, w: &mut WriterState, before: u64) {
        w.stamp_cap = Some(w.stamp_cap.map_or(before, |c| c.min(before)));
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
    /// [`EngineBuilder::access_journal_interval`]). A crash loses only the
    /// counts recorded since.
    pub fn flush_accesses(&self) -> Result<()> {
        self.check_writable()?;
        match &self.inner.store {
            Some(store) => {
                let counts = Arc::clone(&self.inner.catalog.read().accesses);
                log_accesses(store, &counts)
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
        self.inner.catalog.read().accesses.take_changed()
    }
}
