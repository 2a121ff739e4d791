//! [`FlatIndex`]: exact brute-force search over one contiguous buffer.
//!
//! Every query scores every allowed live vector with the SIMD dot kernel, so
//! results are exact by construction. It is the reference the approximate
//! index is tested against, and the right index for small diaries (a scan of
//! a few thousand 384-d vectors takes well under a millisecond). Writers take
//! a write lock for O(dims) work, so searches wait at most that long.

use std::collections::HashMap;

use parking_lot::RwLock;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::store::VectorStore;
use super::topk::TopK;
use super::{
    prepare, vector_error, Hit, VectorIndexError, VectorLifecycle, VectorRead, VectorWrite,
};
use crate::index::DocId;
use crate::{Error, Result};

/// Exact vector index: one `VectorStore` plus a doc → row map, behind a
/// `RwLock`.
pub struct FlatIndex {
    dims: usize,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    store: VectorStore,
    rows: HashMap<DocId, usize>,
}

impl Inner {
    fn put(&mut self, doc: DocId, v: &[f32]) {
        match self.rows.get(&doc) {
            Some(&slot) => self.store.set_vector(slot, v),
            None => {
                self.rows.insert(doc, self.store.len());
                self.store.push(doc, v);
            }
        }
    }
}

impl FlatIndex {
    /// An empty index of `dims`-dimensional vectors (`dims > 0`).
    pub fn new(dims: usize) -> Result<Self> {
        if dims == 0 {
            return Err(Error::InvalidConfig(
                "vector dimension must be at least 1".into(),
            ));
        }
        Ok(Self {
            dims,
            inner: RwLock::new(Inner {
                store: VectorStore::new(dims),
                rows: HashMap::new(),
            }),
        })
    }
}

/// Validates a row-major batch in parallel; returns unit-length copies.
pub(crate) fn prepare_batch(dims: usize, docs: &[DocId], vectors: &[f32]) -> Result<Vec<f32>> {
    let expected = docs.len().saturating_mul(dims);
    if vectors.len() != expected {
        return Err(vector_error(VectorIndexError::BatchLength {
            docs: docs.len(),
            expected,
            got: vectors.len(),
        }));
    }
    let mut out = vec![0.0f32; expected];
    out.par_chunks_mut(dims.max(1))
        .zip(vectors.par_chunks(dims.max(1)))
        .zip(docs.par_iter())
        .try_for_each(|((dst, src), doc)| {
            dst.copy_from_slice(&prepare(dims, src, Some(*doc))?);
            Ok::<_, Error>(())
        })?;
    Ok(out)
}

impl VectorRead for FlatIndex {
    fn dims(&self) -> usize {
        self.dims
    }

    fn search(&self, query: &[f32], k: usize, filter: Option<&RoaringBitmap>) -> Result<Vec<Hit>> {
        let q = prepare(self.dims, query, None)?;
        if k == 0 {
            return Ok(Vec::new());
        }
        let inner = self.inner.read();
        let mut top = TopK::new(k);
        match filter {
            None => inner.store.scan_slots(&q, 0..inner.store.len(), &mut top),
            // A small filter: look its ids up instead of testing every row.
            Some(f) if f.len().saturating_mul(8) < inner.store.len() as u64 => {
                let slots = f.iter().filter_map(|d| inner.rows.get(&d).copied());
                inner.store.scan_slots(&q, slots, &mut top);
            }
            Some(f) => {
                let store = &inner.store;
                let slots = (0..store.len()).filter(|&s| f.contains(store.doc(s)));
                store.scan_slots(&q, slots, &mut top);
            }
        }
        Ok(top.into_sorted())
    }

    fn len(&self) -> usize {
        self.inner.read().store.len()
    }

    fn contains(&self, doc: DocId) -> bool {
        self.inner.read().rows.contains_key(&doc)
    }

    fn get(&self, doc: DocId) -> Option<Vec<f32>> {
        let inner = self.inner.read();
        let slot = *inner.rows.get(&doc)?;
        Some(inner.store.vector(slot).to_vec())
    }

    fn for_each_live(&self, f: &mut dyn FnMut(DocId, &[f32])) {
        let inner = self.inner.read();
        for (doc, v) in inner.store.iter() {
            f(doc, v);
        }
    }

    fn live_docs(&self) -> RoaringBitmap {
        self.inner.read().store.docs().iter().copied().collect()
    }
}

impl VectorWrite for FlatIndex {
    fn insert(&self, doc: DocId, vector: &[f32]) -> Result<()> {
        let v = prepare(self.dims, vector, Some(doc))?;
        self.inner.write().put(doc, &v);
        Ok(())
    }

    fn insert_batch(&self, docs: &[DocId], vectors: &[f32]) -> Result<()> {
        let data = prepare_batch(self.dims, docs, vectors)?;
        let mut inner = self.inner.write();
        for (doc, v) in docs.iter().zip(data.chunks_exact(self.dims)) {
            inner.put(*doc, v);
        }
        Ok(())
    }

    fn delete(&self, doc: DocId) -> bool {
        let mut inner = self.inner.write();
        let Some(slot) = inner.rows.remove(&doc) else {
            return false;
        };
        inner.store.swap_remove(slot);
        if slot < inner.store.len() {
            let moved = inner.store.doc(slot);
            inner.rows.insert(moved, slot);
        }
        true
    }
}

impl VectorLifecycle for FlatIndex {}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(dims: usize, seed: u32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..dims)
            .map(|i| ((seed as f32 + 1.0) * (i as f32 + 0.5)).sin())
            .collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    #[test]
    fn insert_search_delete_replace() {
        let idx = FlatIndex::new(8).unwrap();
        for d in 0..20 {
            idx.insert(d, &unit(8, d)).unwrap();
        }
        assert_eq!(idx.len(), 20);
        let hits = idx.search(&unit(8, 3), 5, None).unwrap();
        assert_eq!(hits.len(), 5);
        assert_eq!(hits[0].doc, 3);
        assert!(hits[0].distance < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].order(&w[1]).is_le()));

        assert!(idx.delete(3));
        assert!(!idx.delete(3));
        assert!(!idx.contains(3));
        let hits = idx.search(&unit(8, 3), 20, None).unwrap();
        assert_eq!(hits.len(), 19);
        assert!(hits.iter().all(|h| h.doc != 3));
        // Row moved by swap_remove is still found by id.
        assert_eq!(idx.get(19).unwrap(), unit(8, 19));

        // Replace doc 5 by doc 7's vector: both now tie at distance ~0.
        idx.insert(5, &unit(8, 7)).unwrap();
        assert_eq!(idx.len(), 19);
        let hits = idx.search(&unit(8, 7), 2, None).unwrap();
        let docs: Vec<_> = hits.iter().map(|h| h.doc).collect();
        assert!(docs.contains(&5) && docs.contains(&7));
    }

    #[test]
    fn filters_small_and_large() {
        let idx = FlatIndex::new(4).unwrap();
        let docs: Vec<DocId> = (0..100).collect();
        let data: Vec<f32> = docs.iter().flat_map(|&d| unit(4, d)).collect();
        idx.insert_batch(&docs, &data).unwrap();
        let small: RoaringBitmap = [1u32, 50, 99, 1000].into_iter().collect();
        let hits = idx.search(&unit(4, 0), 10, Some(&small)).unwrap();
        assert_eq!(hits.len(), 3);
        let large: RoaringBitmap = (0..100).filter(|d| d % 2 == 0).collect();
        let hits = idx.search(&unit(4, 0), 100, Some(&large)).unwrap();
        assert_eq!(hits.len(), 50);
        assert!(hits.iter().all(|h| h.doc % 2 == 0));
    }

    #[test]
    fn rejects_bad_input_without_change() {
        let idx = FlatIndex::new(4).unwrap();
        assert!(FlatIndex::new(0).is_err());
        assert!(idx.insert(1, &[1.0, 0.0]).is_err());
        assert!(idx.insert(1, &[1.0, f32::NAN, 0.0, 0.0]).is_err());
        let err = idx
            .insert_batch(&[1, 2], &[1.0, 0.0, 0.0, 0.0, 0.0, f32::INFINITY, 0.0, 0.0])
            .unwrap_err();
        assert!(err.to_string().contains("doc 2"), "{err}");
        assert!(idx.insert_batch(&[1], &[1.0, 0.0]).is_err());
        assert!(idx.is_empty());
        assert!(idx.search(&[1.0, 0.0], 1, None).is_err());
    }
}
