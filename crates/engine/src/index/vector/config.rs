//! Plain configuration of the vector index: the measured defaults, the
//! validated [`Config`] every part reads, and the query-time
//! [`SearchParams`]. It sits below every other file of the index (they all
//! read it; it reads only the leaf [`HnswParams`]), so the fluent
//! [`VectorIndexBuilder`](super::VectorIndexBuilder) on top can name the
//! index it builds without an import cycle.
//!
//! Defaults were chosen by measurement on 100k clustered 384-d unit vectors
//! on a 2-core x86-64 box (see `benches/vector.rs` and the numbers next to
//! each constant).

use std::path::PathBuf;
use std::sync::Arc;

use super::graph::HnswParams;
use crate::{Error, Result};

/// Default vector dimension (MiniLM / e5-small embeddings).
pub const DEFAULT_DIMS: usize = 384;
/// Default `M`. On the bench data (100k clustered 384-d), recall@10 at
/// ef 32 / 48: M 16 (ef_construction 100) 0.85 / 0.92, M 16 (200) 0.945 /
/// 0.987, M 24 (100) 0.974 / 0.992 at the same query cost and half the
/// build time of M 16 (200).
pub const DEFAULT_M: usize = 24;
/// Default construction beam (see [`DEFAULT_M`]).
pub const DEFAULT_EF_CONSTRUCTION: usize = 100;
/// Default search beam (raised to `k` when `k` is larger): recall@10 ≈ 0.99
/// on the bench data; 32 gives ≈ 0.97 about 10% faster.
pub const DEFAULT_EF_SEARCH: usize = 48;
/// Default write-buffer size before it is sealed into an HNSW segment.
/// Every query scans the buffer exactly (≈ 75 ns per 384-d row), so this
/// caps that cost near 0.15 ms; smaller means more seals and segments.
pub const DEFAULT_SEAL_THRESHOLD: usize = 2048;
/// Sealed segments with fewer rows get no graph and are always scanned:
/// below this a graph saves less than its build costs.
pub const DEFAULT_MIN_GRAPH_ROWS: usize = 512;
/// Default absolute exact-scan cut-off for filtered searches. Measured at
/// 20k and 100k vectors: the filtered graph walk beats the exact scan of
/// the allowed rows only above ≈ 2.5–3k allowed docs.
pub const DEFAULT_EXACT_SCAN_MAX: usize = 2500;
/// Default relative exact-scan cut-off (fraction of a part's live docs):
/// below ≈ 2% the allowed docs are too sparse in the graph for the walk to
/// keep recall (0.94 at 2% on 100k vectors).
pub const DEFAULT_EXACT_SCAN_FRACTION: f32 = 0.02;
/// Default number of similar-size segments merged at once: 4 keeps a query
/// to a handful of graphs at the price of rebuilding each vector about
/// `log4(n / seal_threshold)` times.
pub const DEFAULT_MERGE_FACTOR: usize = 4;
/// Default cap on the size of segments produced by merging.
pub const DEFAULT_MAX_SEGMENT_LEN: usize = 1 << 20;
/// Tombstone ratio above which a segment is rebuilt without its dead rows.
pub const DEFAULT_REBUILD_RATIO: f32 = 0.2;
/// Default re-scoring depth of int8 exact scans: the best `k × 4` int8
/// estimates are re-scored with exact `f32` dot products (graph walks
/// re-score their whole `ef` beam instead). See `benches/vector.rs` and
/// `tests/vector_persist.rs` for the recall it gives.
pub const DEFAULT_RESCORE_FACTOR: usize = 4;

/// How sealed segments hold their vectors for searching.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Quantization {
    /// Searches read the `f32` rows (on the heap, or mapped from the
    /// segment file when the index has a directory).
    #[default]
    None,
    /// Searches walk graphs and scan on per-row int8 codes (a quarter of
    /// the bytes, kept on the heap), then re-score the best candidates with
    /// exact `f32` dot products; returned distances are exact. The memory
    /// saving needs a [directory](super::VectorIndexBuilder::directory): there the
    /// `f32` rows stay in the mapped segment files (page cache, read only
    /// for re-scoring); without one they stay on the heap next to the codes.
    Int8,
}

impl std::fmt::Display for Quantization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "f32",
            Self::Int8 => "int8",
        })
    }
}

/// Called before each manifest write of a persisted index (see
/// [`VectorIndexBuilder::before_persist`](super::VectorIndexBuilder::before_persist)).
#[derive(Clone)]
pub struct PersistHook(pub Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>);

impl std::fmt::Debug for PersistHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistHook(..)")
    }
}

/// Everything the live index needs to know, after validation.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) dims: usize,
    pub(crate) hnsw: HnswParams,
    pub(crate) search: SearchParams,
    pub(crate) seal_threshold: usize,
    pub(crate) min_graph_rows: usize,
    pub(crate) merge_factor: usize,
    pub(crate) max_segment_len: usize,
    pub(crate) rebuild_ratio: f32,
    pub(crate) background: bool,
    pub(crate) quantization: Quantization,
    /// Folder of the persisted segments, if any.
    pub(crate) directory: Option<PathBuf>,
    /// Load the persisted segments but never write or delete a file there.
    pub(crate) read_only: bool,
    pub(crate) before_persist: Option<PersistHook>,
}

/// Query-time knobs: they can be changed on a live index without a rebuild
/// ([`SegmentedIndex::set_search_params`](super::SegmentedIndex::set_search_params)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchParams {
    /// Beam width of graph searches (at least `k` is used; filtered searches
    /// widen it further as the filter gets selective).
    pub ef_search: usize,
    /// A part whose allowed live docs number at most this is scanned exactly.
    pub exact_scan_max: usize,
    /// A part whose allowed live docs are at most this fraction of its live
    /// docs is scanned exactly, in `[0, 1]`.
    pub exact_scan_fraction: f32,
    /// With [`Quantization::Int8`]: an exact scan keeps the best
    /// `k × rescore_factor` int8 estimates and re-scores them in `f32`
    /// (at least 1).
    pub rescore_factor: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            ef_search: DEFAULT_EF_SEARCH,
            exact_scan_max: DEFAULT_EXACT_SCAN_MAX,
            exact_scan_fraction: DEFAULT_EXACT_SCAN_FRACTION,
            rescore_factor: DEFAULT_RESCORE_FACTOR,
        }
    }
}

impl SearchParams {
    /// Rejects a zero beam and fractions outside `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        if self.ef_search == 0 {
            return Err(Error::InvalidConfig("ef_search must be at least 1".into()));
        }
        if self.rescore_factor == 0 {
            return Err(Error::InvalidConfig(
                "rescore_factor must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.exact_scan_fraction) {
            return Err(Error::InvalidConfig(format!(
                "exact_scan_fraction must be in [0, 1], got {}",
                self.exact_scan_fraction
            )));
        }
        Ok(())
    }

    /// Whether a part with `allowed` matching live docs out of `live` should
    /// be scanned exactly rather than searched through its graph.
    ///
    /// Never for an unfiltered search (the graph is at its best there, and a
    /// scan streams every row); for a filtered one when the allowed docs are
    /// at most `exact_scan_fraction` of the part, or at most
    /// `exact_scan_max` docs and at most half the part (past half, the scan
    /// reads most rows anyway and the graph walk barely notices the filter).
    pub(crate) fn prefers_exact(&self, allowed: u64, live: u64) -> bool {
        if allowed >= live {
            return false;
        }
        let share = allowed as f64 / live.max(1) as f64;
        share <= f64::from(self.exact_scan_fraction)
            || (allowed <= self.exact_scan_max as u64 && share <= 0.5)
    }
}
