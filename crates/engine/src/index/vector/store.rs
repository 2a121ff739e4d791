//! Contiguous storage of `(doc id, vector)` rows.
//!
//! Vectors live back to back in one contiguous `[f32]` (row `i` is
//! `data[i*dims..(i+1)*dims]`), so an exact scan streams memory linearly and
//! a stored vector is handed out as a borrowed slice without copying. The
//! array is on the heap, or (sealed segments of a persisted index) borrowed
//! in place from the segment file's mapping.

use super::kernel;
use super::mapped::Backing;
use super::topk::TopK;
use crate::index::DocId;

/// Rows of `dims` floats, each tagged with its doc id.
///
/// Rows keep insertion order unless [`sort_by_doc`](Self::sort_by_doc) is
/// called; sealed segments are sorted so a doc is found by binary search.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VectorStore {
    dims: usize,
    docs: Vec<DocId>,
    data: Backing<f32>,
    sorted: bool,
}

impl VectorStore {
    /// An empty store of `dims`-dimensional rows.
    pub fn new(dims: usize) -> Self {
        Self::with_capacity(dims, 0)
    }

    /// An empty store with room for `rows` rows.
    pub fn with_capacity(dims: usize, rows: usize) -> Self {
        Self {
            dims,
            docs: Vec::with_capacity(rows),
            data: Backing::Owned(Vec::with_capacity(rows * dims)),
            sorted: true,
        }
    }

    /// A store over rows already laid out: `docs` strictly increasing and
    /// `data.len() == docs.len() * dims` (the segment loader checks both).
    pub(crate) fn from_parts(dims: usize, docs: Vec<DocId>, data: Backing<f32>) -> Self {
        debug_assert_eq!(data.len(), docs.len() * dims);
        let sorted = docs.windows(2).all(|w| w[0] < w[1]);
        Self {
            dims,
            docs,
            data,
            sorted,
        }
    }

    /// Row dimension.
    pub(crate) fn dims(&self) -> usize {
        self.dims
    }

    /// The whole matrix, row-major.
    pub(crate) fn matrix(&self) -> &[f32] {
        &self.data
    }

    /// Whether the matrix is borrowed from a mapped file.
    pub(crate) fn is_mapped(&self) -> bool {
        self.data.is_mapped()
    }

    /// Bytes of vector data this store holds on the heap.
    pub(crate) fn heap_bytes(&self) -> u64 {
        if self.data.is_mapped() {
            0
        } else {
            std::mem::size_of_val(&*self.data) as u64
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Appends a row. The caller guarantees `vector.len() == dims` (checked in
    /// debug builds); the index validates before it gets here.
    pub fn push(&mut self, doc: DocId, vector: &[f32]) {
        debug_assert_eq!(vector.len(), self.dims);
        if let Some(&last) = self.docs.last() {
            self.sorted &= last < doc;
        }
        self.docs.push(doc);
        self.data.to_mut().extend_from_slice(vector);
    }

    /// Doc id of row `slot`.
    pub fn doc(&self, slot: usize) -> DocId {
        self.docs[slot]
    }

    /// All doc ids, in row order.
    pub fn docs(&self) -> &[DocId] {
        &self.docs
    }

    /// Vector of row `slot`.
    pub fn vector(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.dims..(slot + 1) * self.dims]
    }

    /// The row of `doc`, if present: binary search when sorted, a linear scan
    /// otherwise (only small write-buffer chunks are unsorted).
    pub fn position(&self, doc: DocId) -> Option<usize> {
        if self.sorted {
            self.docs.binary_search(&doc).ok()
        } else {
            self.docs.iter().rposition(|&d| d == doc)
        }
    }

    /// The vector stored for `doc`, if present.
    pub fn get(&self, doc: DocId) -> Option<&[f32]> {
        self.position(doc).map(|slot| self.vector(slot))
    }

    /// Rows as `(doc, vector)` in row order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (DocId, &[f32])> + '_ {
        (0..self.docs.len()).map(move |i| (self.docs[i], self.vector(i)))
    }

    /// Overwrites the vector of row `slot`.
    pub(crate) fn set_vector(&mut self, slot: usize, vector: &[f32]) {
        self.data.to_mut()[slot * self.dims..(slot + 1) * self.dims].copy_from_slice(vector);
    }

    /// Removes row `slot` by moving the last row into it (O(dims)); breaks
    /// doc order.
    pub(crate) fn swap_remove(&mut self, slot: usize) {
        let last = self.docs.len() - 1;
        if slot != last {
            self.data
                .to_mut()
                .copy_within(last * self.dims..(last + 1) * self.dims, slot * self.dims);
            self.sorted = false;
        }
        self.docs.swap_remove(slot);
        self.data.to_mut().truncate(last * self.dims);
    }

    /// Reorders rows by ascending doc id (stable for equal ids).
    pub fn sort_by_doc(&mut self) {
        if self.sorted {
            return;
        }
        let mut order: Vec<usize> = (0..self.docs.len()).collect();
        order.sort_by_key(|&i| self.docs[i]);
        let mut docs = Vec::with_capacity(self.docs.len());
        let mut data = Vec::with_capacity(self.data.len());
        for i in order {
            docs.push(self.docs[i]);
            data.extend_from_slice(self.vector(i));
        }
        self.docs = docs;
        self.data = Backing::Owned(data);
        self.sorted = self.docs.windows(2).all(|w| w[0] < w[1]);
    }

    /// Scores the rows at `slots` against `query` into `top`, prefetching a
    /// few rows ahead (scattered slots defeat the hardware prefetcher).
    pub(crate) fn scan_slots(
        &self,
        query: &[f32],
        slots: impl Iterator<Item = usize>,
        top: &mut TopK,
    ) {
        const AHEAD: usize = 4;
        let slots: Vec<usize> = slots.collect();
        for (i, &slot) in slots.iter().enumerate() {
            if let Some(&next) = slots.get(i + AHEAD) {
                kernel::prefetch(self.vector(next), usize::MAX);
            }
            let d = (1.0 - kernel::dot(query, self.vector(slot))).clamp(0.0, 2.0);
            top.push(self.docs[slot], d);
        }
    }
}
