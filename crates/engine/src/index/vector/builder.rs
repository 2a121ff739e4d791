//! [`VectorIndexBuilder`]: configuration of the vector index, validated once.
//!
//! Defaults were chosen by measurement on 100k clustered 384-d unit vectors
//! on a 2-core x86-64 box (see `benches/vector.rs` and the numbers next to
//! each constant).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::flat::FlatIndex;
use super::graph::HnswParams;
use super::kernel::MAX_INT8_DIMS;
use super::segmented::SegmentedIndex;
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
    /// saving needs a [directory](VectorIndexBuilder::directory): there the
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
/// [`VectorIndexBuilder::before_persist`]).
#[derive(Clone)]
pub struct PersistHook(pub Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>);

impl std::fmt::Debug for PersistHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersistHook(..)")
    }
}

/// Reads the position recorded with each manifest write (see
/// [`VectorIndexBuilder::stamp`]).
#[derive(Clone)]
pub struct StampSource(pub Arc<dyn Fn() -> u64 + Send + Sync>);

impl std::fmt::Debug for StampSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StampSource(..)")
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
    pub(crate) stamp: Option<StampSource>,
}

/// Query-time knobs: they can be changed on a live index without a rebuild
/// ([`SegmentedIndex::set_search_params`]).
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

/// Fluent configuration for [`SegmentedIndex`] (and [`FlatIndex`]).
///
/// ```
/// use moltsearch_engine::index::vector::{VectorIndex, VectorIndexBuilder};
/// # fn main() -> moltsearch_engine::Result<()> {
/// let index = VectorIndexBuilder::new().dims(3).ef_search(32).build()?;
/// index.insert(7, &[0.0, 0.6, 0.8])?;
/// let hits = index.search(&[0.0, 0.6, 0.8], 10, None)?;
/// assert_eq!(hits[0].doc, 7);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct VectorIndexBuilder {
    cfg: Config,
}

impl Default for VectorIndexBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl VectorIndexBuilder {
    /// The measured defaults (see the `DEFAULT_*` constants).
    pub fn new() -> Self {
        Self {
            cfg: Config {
                dims: DEFAULT_DIMS,
                hnsw: HnswParams {
                    m: DEFAULT_M,
                    ef_construction: DEFAULT_EF_CONSTRUCTION,
                },
                search: SearchParams::default(),
                seal_threshold: DEFAULT_SEAL_THRESHOLD,
                min_graph_rows: DEFAULT_MIN_GRAPH_ROWS,
                merge_factor: DEFAULT_MERGE_FACTOR,
                max_segment_len: DEFAULT_MAX_SEGMENT_LEN,
                rebuild_ratio: DEFAULT_REBUILD_RATIO,
                background: true,
                quantization: Quantization::None,
                directory: None,
                read_only: false,
                before_persist: None,
                stamp: None,
            },
        }
    }

    /// Vector dimension (must match the embedding model).
    pub fn dims(mut self, dims: usize) -> Self {
        self.cfg.dims = dims;
        self
    }

    /// HNSW `M`, links per node (`hnsw_rs`'s `max_nb_connection`), 2..=256.
    pub fn max_nb_connection(mut self, m: usize) -> Self {
        self.cfg.hnsw.m = m;
        self
    }

    /// Alias of [`max_nb_connection`](Self::max_nb_connection).
    pub fn m(self, m: usize) -> Self {
        self.max_nb_connection(m)
    }

    /// Beam width while building graphs.
    pub fn ef_construction(mut self, ef: usize) -> Self {
        self.cfg.hnsw.ef_construction = ef;
        self
    }

    /// Beam width while searching (at least `k` is used).
    pub fn ef_search(mut self, ef: usize) -> Self {
        self.cfg.search.ef_search = ef;
        self
    }

    /// Rows in the exact write buffer before it is sealed into a graph.
    pub fn seal_threshold(mut self, rows: usize) -> Self {
        self.cfg.seal_threshold = rows;
        self
    }

    /// A filtered search scans a part exactly when it allows at most this
    /// many of its live docs (and at most half of them); `usize::MAX` makes
    /// every filtered search exact.
    pub fn exact_scan_max(mut self, docs: usize) -> Self {
        self.cfg.search.exact_scan_max = docs;
        self
    }

    /// A part whose allowed live docs are at most this fraction of its live
    /// docs is scanned exactly, in `[0, 1]`.
    pub fn exact_scan_fraction(mut self, fraction: f32) -> Self {
        self.cfg.search.exact_scan_fraction = fraction;
        self
    }

    /// Sealed segments with fewer rows get no graph and are scanned exactly.
    pub fn min_graph_rows(mut self, rows: usize) -> Self {
        self.cfg.min_graph_rows = rows;
        self
    }

    /// How many segments of similar size are merged into one (≥ 2).
    pub fn merge_factor(mut self, factor: usize) -> Self {
        self.cfg.merge_factor = factor;
        self
    }

    /// Segments at least this large are not merged further.
    pub fn max_segment_len(mut self, rows: usize) -> Self {
        self.cfg.max_segment_len = rows;
        self
    }

    /// Tombstone ratio above which a segment is rebuilt, in `(0, 1]`.
    pub fn rebuild_ratio(mut self, ratio: f32) -> Self {
        self.cfg.rebuild_ratio = ratio;
        self
    }

    /// Build graphs on a background thread (default) or on the writer's
    /// thread (deterministic timing, for tests and batch jobs).
    pub fn background_builds(mut self, background: bool) -> Self {
        self.cfg.background = background;
        self
    }

    /// How sealed segments are searched: exact `f32` rows (default) or
    /// int8 codes with exact re-scoring ([`Quantization::Int8`]). Segment
    /// files always hold both, so this can change between opens.
    pub fn quantization(mut self, quantization: Quantization) -> Self {
        self.cfg.quantization = quantization;
        self
    }

    /// With [`Quantization::Int8`]: how many int8 candidates per wanted hit
    /// an exact scan re-scores in `f32` (default
    /// [`DEFAULT_RESCORE_FACTOR`]).
    pub fn rescore_factor(mut self, factor: usize) -> Self {
        self.cfg.search.rescore_factor = factor;
        self
    }

    /// Persists sealed segments in `path`, a folder the index owns
    /// exclusively (created if missing): [`build`](Self::build) then opens
    /// the segments listed there (an empty index if there are none), and
    /// every segment a background job seals, rebuilds or merges is written
    /// to its own file before it is installed. Write buffers are not
    /// persisted: after reopening, insert the docs missing from
    /// [`VectorIndex::members`](super::VectorIndex::members) and
    /// [`retain`](super::VectorIndex::retain) the ones still wanted. See the
    /// [module docs](super) for the file format and the crash story.
    pub fn directory(mut self, path: impl AsRef<Path>) -> Self {
        self.cfg.directory = Some(path.as_ref().to_owned());
        self
    }

    /// With a [`directory`](Self::directory): load the segments persisted
    /// there but never write, delete or lock anything in it (another
    /// process may be writing the folder). Inserts, seals and merges happen
    /// in memory only. Default `false`.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.cfg.read_only = read_only;
        self
    }

    /// Calls `hook` before each manifest write of a persisted index (the
    /// engine fsyncs its write-ahead log there, so the persisted index never
    /// holds docs the durable log does not). If it fails the manifest is not
    /// written (a warning is logged); the new segments are listed by the
    /// next manifest write (next install, or [`flush`](SegmentedIndex::flush)).
    pub fn before_persist(
        mut self,
        hook: Arc<dyn Fn() -> std::io::Result<()> + Send + Sync>,
    ) -> Self {
        self.cfg.before_persist = Some(PersistHook(hook));
        self
    }

    /// Records `source()` in each manifest write of a persisted index, read
    /// before the [`before_persist`](Self::before_persist) hook runs: every
    /// doc in the listed segments was inserted before, so the stamp is a
    /// position the persisted index *includes* (the engine passes its log's
    /// last sequence number). Read back with
    /// [`SegmentedIndex::persisted_stamp`].
    pub fn stamp(mut self, source: Arc<dyn Fn() -> u64 + Send + Sync>) -> Self {
        self.cfg.stamp = Some(StampSource(source));
        self
    }

    fn validated(self) -> Result<Config> {
        let c = self.cfg;
        if c.dims == 0 {
            return Err(Error::InvalidConfig(
                "vector dimension must be at least 1".into(),
            ));
        }
        c.hnsw.validate()?;
        c.search.validate()?;
        if c.seal_threshold == 0 {
            return Err(Error::InvalidConfig(
                "seal_threshold must be at least 1".into(),
            ));
        }
        if c.merge_factor < 2 {
            return Err(Error::InvalidConfig(format!(
                "merge_factor must be at least 2, got {}",
                c.merge_factor
            )));
        }
        if c.quantization == Quantization::Int8 && c.dims > MAX_INT8_DIMS {
            return Err(Error::InvalidConfig(format!(
                "int8 quantization supports at most {MAX_INT8_DIMS} dimensions, got {}",
                c.dims
            )));
        }
        if !(c.rebuild_ratio > 0.0 && c.rebuild_ratio <= 1.0) {
            return Err(Error::InvalidConfig(format!(
                "rebuild_ratio must be in (0, 1], got {}",
                c.rebuild_ratio
            )));
        }
        Ok(c)
    }

    /// The validated configuration, for unit tests of the parts.
    #[cfg(test)]
    pub(crate) fn validated_for_tests(self) -> Config {
        self.validated().expect("valid test configuration")
    }

    /// The live index: HNSW segments + exact write buffer; with a
    /// [`directory`](Self::directory), opened from the segments persisted
    /// there.
    ///
    /// Fails with [`VectorIndexError::CorruptFile`](super::VectorIndexError)
    /// naming the file when a listed segment is missing, truncated or
    /// damaged, and with an I/O error when the folder cannot be read.
    pub fn build(self) -> Result<SegmentedIndex> {
        SegmentedIndex::open(self.validated()?)
    }

    /// An exact [`FlatIndex`] of the configured dimension (other settings
    /// are irrelevant to it).
    pub fn build_flat(self) -> Result<FlatIndex> {
        FlatIndex::new(self.validated()?.dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_settings() {
        let b = VectorIndexBuilder::new;
        assert!(b().build().is_ok());
        assert!(b().dims(0).build().is_err());
        assert!(b().max_nb_connection(300).build().is_err());
        assert!(b().ef_construction(0).build().is_err());
        assert!(b().ef_search(0).build().is_err());
        assert!(b().seal_threshold(0).build().is_err());
        assert!(b().exact_scan_fraction(1.5).build().is_err());
        assert!(b().exact_scan_fraction(f32::NAN).build().is_err());
        assert!(b().merge_factor(1).build().is_err());
        assert!(b().rebuild_ratio(0.0).build().is_err());
        assert!(b().rescore_factor(0).build().is_err());
        assert!(b()
            .dims(MAX_INT8_DIMS + 1)
            .quantization(Quantization::Int8)
            .build()
            .is_err());
        assert!(b().dims(0).build_flat().is_err());
    }

    #[test]
    fn exact_preference() {
        let c = VectorIndexBuilder::new()
            .exact_scan_max(100)
            .exact_scan_fraction(0.05)
            .validated()
            .unwrap()
            .search;
        assert!(c.prefers_exact(100, 1_000_000));
        assert!(!c.prefers_exact(101, 1_000));
        assert!(c.prefers_exact(5_000, 100_000));
        assert!(!c.prefers_exact(5_001, 100_000));
        // Unfiltered, or a filter keeping more than half: the graph.
        assert!(!c.prefers_exact(50, 50));
        assert!(!c.prefers_exact(60, 100));
        assert!(c.prefers_exact(50, 100));
    }
}
