//! Bounded top-k selection in the index's total order (distance, then doc).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use super::Hit;
use crate::index::DocId;

/// Heap entry ordered by (distance, doc): the max-heap's top is the worst hit
/// kept so far, the one a better candidate evicts.
#[derive(Clone, Copy)]
struct Entry(Hit);

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.order(&other.0)
    }
}

/// Keeps the `k` best hits pushed into it.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Entry>,
}

impl TopK {
    /// A collector for the `k` best hits.
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.saturating_add(1).min(1 << 16)),
        }
    }

    /// Offers a hit; kept if among the `k` best so far.
    #[inline]
    pub(crate) fn push(&mut self, doc: DocId, distance: f32) {
        let hit = Entry(Hit { doc, distance });
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if hit < *worst {
                *worst = hit;
            }
        }
    }

    /// Number of hits kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// The kept hits, best first.
    pub(crate) fn into_sorted(self) -> Vec<Hit> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }
}

/// Merges per-part results into the global top `k`.
pub(crate) fn merge(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    hits.sort_unstable_by(Hit::order);
    hits.truncate(k);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_k_best_in_order_with_doc_tiebreak() {
        let mut t = TopK::new(3);
        for (doc, d) in [(5, 0.5), (1, 0.1), (9, 0.9), (3, 0.1), (2, 0.3), (0, 0.3)] {
            t.push(doc, d);
        }
        let got: Vec<_> = t.into_sorted().iter().map(|h| h.doc).collect();
        assert_eq!(got, vec![1, 3, 0]);
    }

    #[test]
    fn zero_k_keeps_nothing() {
        let mut t = TopK::new(0);
        t.push(1, 0.0);
        assert_eq!(t.len(), 0);
        assert!(t.into_sorted().is_empty());
    }
}
