//! The write path of [`SegmentedIndex`]: inserts, batches, deletes and
//! the applied position, each one copy-on-write snapshot publish.

use std::sync::atomic::Ordering as AtomicOrdering;
use std::sync::Arc;

use roaring::RoaringBitmap;

use super::super::flat::prepare_batch;
use super::super::segment::{Buffer, Kind, Part, Segment};
use super::super::store::VectorStore;
use super::super::{prepare, VectorWrite};
use super::{SegmentedIndex, Snapshot, Writer};
use crate::index::DocId;
use crate::Result;

impl SegmentedIndex {
    /// Applies `f` to a copy of the current snapshot under the writer lock,
    /// publishes it, and starts a job if there is work.
    pub(super) fn write<T>(&self, f: impl FnOnce(&mut Snapshot, &mut Writer) -> T) -> T {
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
