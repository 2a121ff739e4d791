//! [`VectorIndexBuilder`]: fluent configuration of the vector index,
//! validated once, on top of the plain types of `config.rs` (the defaults
//! and their measurements live there).

use std::path::Path;
use std::sync::Arc;

use super::config::{
    Config, PersistHook, Quantization, SearchParams, DEFAULT_DIMS, DEFAULT_EF_CONSTRUCTION,
    DEFAULT_M, DEFAULT_MAX_SEGMENT_LEN, DEFAULT_MERGE_FACTOR, DEFAULT_MIN_GRAPH_ROWS,
    DEFAULT_REBUILD_RATIO, DEFAULT_SEAL_THRESHOLD,
};
use super::flat::FlatIndex;
use super::graph::HnswParams;
use super::kernel::MAX_INT8_DIMS;
use super::segmented::SegmentedIndex;
use crate::{Error, Result};

/// Fluent configuration for [`SegmentedIndex`] (and [`FlatIndex`]).
///
/// ```
/// use moltsearch_engine::index::vector::{VectorIndexBuilder, VectorRead, VectorWrite};
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
    /// [`DEFAULT_RESCORE_FACTOR`](super::DEFAULT_RESCORE_FACTOR)).
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
    /// [`VectorRead::members`](super::VectorRead::members) and
    /// [`retain`](super::VectorWrite::retain) the ones still wanted. See the
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
