//! Access counts (MoltNet's `accessCount` / `lastAccessedAt`): how often a
//! search returned an entry, and when last.
//!
//! Counting is the only thing a search changes, and searches must neither
//! write nor wait for writers. So counts are kept here, beside the entry
//! records (which are shared and never patched in place), in shards that
//! each have their own small lock: a search touches one shard per hit for
//! a hash-map update, and never takes the engine's writer lock or the
//! state's write lock. Concurrent searches only meet when two hits fall
//! in the same shard at the same instant.
//!
//! Each shard also remembers which entries changed since their counts were
//! last taken out ([`AccessCounts::take_changed`]): on a data folder a
//! background job journals them (one `RecordAccesses` record, riding along
//! with the next write when there is one); an engine whose truth lives
//! elsewhere (a database) takes them out and batches them there.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use parking_lot::Mutex;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::entry::EntryRecord;
use crate::store::record::Access;

/// Power of two comfortably above the core counts this runs on, so two
/// searches rarely meet in a shard.
const SHARDS: usize = 64;

#[derive(Default)]
struct Shard {
    /// Counts newer than the entry's record (absolute values).
    counts: HashMap<Uuid, Access>,
    /// Entries counted since their counts were last taken out.
    changed: HashSet<Uuid>,
}

/// Sharded access counts; every method takes `&self`.
pub(crate) struct AccessCounts {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for AccessCounts {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl std::fmt::Debug for AccessCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessCounts")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl AccessCounts {
    fn shard(&self, id: &Uuid) -> &Mutex<Shard> {
        let i = self.hasher.hash_one(id) as usize % self.shards.len();
        &self.shards[i]
    }

    /// How often `record`'s entry was returned, and when last.
    pub fn of(&self, record: &EntryRecord) -> (u64, Option<OffsetDateTime>) {
        match self.shard(&record.id).lock().counts.get(&record.id) {
            Some(a) => (a.count, Some(a.at)),
            None => (record.access_count, record.last_accessed_at),
        }
    }

    /// `record` as it is now: a copy with its current access counts.
    pub fn current(&self, record: &EntryRecord) -> EntryRecord {
        let mut out = record.clone();
        if let Some(a) = self.shard(&record.id).lock().counts.get(&record.id) {
            a.apply_to(&mut out);
        }
        out
    }

    /// Counts one read of `record`'s entry at `at`.
    pub fn count(&self, record: &EntryRecord, at: OffsetDateTime) {
        let id = record.id;
        let mut shard = self.shard(&id).lock();
        let count = match shard.counts.get(&id) {
            Some(a) => a.count,
            None => record.access_count,
        };
        // Concurrent searches finish in any order; the last access is the
        // latest time, not the last one counted.
        let at = shard
            .counts
            .get(&id)
            .map_or(at, |a| a.at.max(at))
            .max(record.last_accessed_at.unwrap_or(at));
        shard.counts.insert(
            id,
            Access {
                id,
                count: count.saturating_add(1),
                at,
            },
        );
        shard.changed.insert(id);
    }

    /// Counts the entry's record now carries (it was just written with
    /// them, or deleted): nothing newer is kept for it.
    pub fn forget(&self, id: &Uuid) {
        let mut shard = self.shard(id).lock();
        shard.counts.remove(id);
        shard.changed.remove(id);
    }

    /// Takes out the counts that changed since the last call: absolute
    /// values, so applying them twice is harmless. Put them back with
    /// [`AccessCounts::mark_changed`] if they could not be stored.
    pub fn take_changed(&self) -> Vec<Access> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            let changed = std::mem::take(&mut shard.changed);
            out.extend(
                changed
                    .iter()
                    .filter_map(|id| shard.counts.get(id).copied()),
            );
        }
        out
    }

    /// Merges counts that were stored (logged, or applied from an external
    /// source that gathers every replica's): the larger count and the later
    /// time win, so a value older than what this process counted since
    /// changes nothing, and one from elsewhere becomes visible at once. Not
    /// marked changed: it is stored already.
    pub fn observe(&self, record: &EntryRecord, stored: Access) {
        let mut shard = self.shard(&record.id).lock();
        let (count, at) = match shard.counts.get(&record.id) {
            Some(a) => (a.count, Some(a.at)),
            None => (record.access_count, record.last_accessed_at),
        };
        if stored.count <= count && at.is_some_and(|at| at >= stored.at) {
            return;
        }
        shard.counts.insert(
            record.id,
            Access {
                id: record.id,
                count: count.max(stored.count),
                at: at.map_or(stored.at, |at| at.max(stored.at)),
            },
        );
    }

    /// Marks entries changed again (their counts were taken out but not
    /// stored).
    pub fn mark_changed(&self, ids: impl IntoIterator<Item = Uuid>) {
        for id in ids {
            let mut shard = self.shard(&id).lock();
            if shard.counts.contains_key(&id) {
                shard.changed.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::entry::EntryType;

    fn record(id: u128) -> EntryRecord {
        let t = OffsetDateTime::UNIX_EPOCH;
        EntryRecord {
            id: Uuid::from_u128(id),
            diary_id: Uuid::from_u128(1),
            title: None,
            content: "c".into(),
            tags: Vec::new(),
            entry_type: EntryType::Semantic,
            importance: 5,
            content_hash: String::new(),
            content_signature: None,
            signing_nonce: None,
            signer_public_key: None,
            injection_risk: false,
            access_count: 3,
            last_accessed_at: None,
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn counts_from_many_threads_add_up_and_are_taken_out_once() {
        let counts = Arc::new(AccessCounts::default());
        let records: Arc<Vec<EntryRecord>> = Arc::new((0..50).map(record).collect());
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::hours(1);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (counts, records) = (counts.clone(), records.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        for r in records.iter() {
                            counts.count(r, at);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        for r in records.iter() {
            assert_eq!(counts.of(r), (3 + 400, Some(at)));
            assert_eq!(counts.current(r).access_count, 403);
        }
        let taken = counts.take_changed();
        assert_eq!(taken.len(), 50);
        assert!(taken.iter().all(|a| a.count == 403));
        assert!(counts.take_changed().is_empty(), "taken out once");
        counts.mark_changed(taken.iter().map(|a| a.id));
        assert_eq!(counts.take_changed().len(), 50, "put back after a failure");
        let later = at + time::Duration::hours(1);
        let from_elsewhere = |count| Access {
            id: records[1].id,
            count,
            at: later,
        };
        counts.observe(&records[1], from_elsewhere(1_000));
        assert_eq!(counts.of(&records[1]), (1_000, Some(later)), "larger wins");
        counts.observe(
            &records[1],
            Access {
                at,
                ..from_elsewhere(7)
            },
        );
        assert_eq!(
            counts.of(&records[1]),
            (1_000, Some(later)),
            "older is ignored"
        );
        counts.forget(&records[0].id);
        assert_eq!(counts.of(&records[0]), (3, None), "the record's own counts");
        assert!(
            counts.take_changed().is_empty(),
            "forgotten counts are not pending"
        );
    }
}
