//! Synthetic vectors shared by the vector index tests and bench: unit
//! vectors clustered around random centroids, like sentence embeddings
//! (uniform random vectors would be a worst case for HNSW).

// Each including crate uses a different subset.
#![allow(dead_code)]

use moltsearch_engine::index::vector::kernel;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal sample (Box-Muller).
pub fn gauss(rng: &mut StdRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(1e-12);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Scales `v` to unit length.
pub fn normalise(v: &mut [f32]) {
    let n = kernel::norm_squared(v).sqrt();
    v.iter_mut().for_each(|x| *x /= n);
}

/// `n` unit vectors (flat, `dims` each) around `clusters` random centroids,
/// with Gaussian noise of norm ≈ `spread` relative to the centroid.
pub fn clustered(n: usize, dims: usize, clusters: usize, spread: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut centroids = vec![0f32; clusters * dims];
    for c in centroids.chunks_mut(dims) {
        c.iter_mut().for_each(|x| *x = gauss(&mut rng));
        normalise(c);
    }
    let sigma = spread / (dims as f32).sqrt();
    let mut out = vec![0f32; n * dims];
    for v in out.chunks_mut(dims) {
        let c = rng.random_range(0..clusters);
        for (i, x) in v.iter_mut().enumerate() {
            *x = centroids[c * dims + i] + sigma * gauss(&mut rng);
        }
        normalise(v);
    }
    out
}
