//! The vector arm of hybrid search: top-k cosine neighbours of a query among
//! L2-normalised `f32` vectors, under an optional filter of allowed doc ids.
//!
//! # The seam
//!
//! Everything goes through the narrow [`VectorIndex`] trait, so the engine
//! does not care which index is behind it. It is the sum of a reading side
//! ([`VectorRead`]: filtered search, get, iterate), a writing side
//! ([`VectorWrite`]: insert, delete, retain, the applied position) and the
//! lifecycle of background work ([`VectorLifecycle`]: flush, pause, optimize,
//! describe). Two implementations exist:
//!
//! - [`FlatIndex`]: an exact scan over one contiguous buffer. Always right,
//!   linear cost: the oracle for tests and fine for a diary of a few thousand
//!   entries.
//! - [`SegmentedIndex`]: the live index, built with [`VectorIndexBuilder`].
//!
//! # How the live index works
//!
//! HNSW (hierarchical navigable small world, Malkov & Yashunin) is a layered
//! proximity graph: each vector is linked to about `M` near neighbours per
//! layer, upper layers are exponentially sparser "express lanes", and a query
//! walks greedily down from the top, then does a best-first search of width
//! `ef` in the bottom layer. It answers in roughly `O(ef · M · log n)`
//! distance computations instead of `n`, at the price of approximate answers
//! and a graph that is slow to build and, in `hnsw_rs`, can neither delete
//! points nor be searched while it is being inserted into.
//!
//! Graphs are built with `hnsw_rs` (parallel inserts), then *frozen*: their
//! links are copied into flat arrays over the segment's contiguous vectors
//! and searched by this module's own walk (see `graph.rs` for why: measured
//! 3× faster unfiltered, and a filtered walk that stops early, which
//! `hnsw_rs`'s does not).
//!
//! So the live index is an LSM-like stack of *parts*, published as one
//! immutable [`snapshot`](SegmentedIndex::snapshot):
//!
//! ```text
//!  search threads ──clone Arc──▶ Snapshot { parts, live count }
//!                                  │
//!     ┌────────────────────────────┼──────────────────────────────┐
//!     ▼                            ▼                              ▼
//!  sealed segments             frozen buffers                  write buffer
//!  (contiguous vectors +       (full, waiting for their        (small, exact scan,
//!   an immutable HNSW graph,    graph build; exact scan)        appended by the writer)
//!   tombstones per segment)
//! ```
//!
//! - A search clones the current snapshot `Arc` (a read lock held for the
//!   clone only), so it never waits behind a graph build, and sees one
//!   consistent state for its whole duration.
//! - Inserts go to the write buffer (copy-on-write chunks of 64 vectors, so a
//!   publish copies at most one chunk). When the buffer reaches the *seal
//!   threshold* it is frozen (still searchable, exactly) and a background
//!   thread builds an HNSW segment from it, then swaps it in. Writers never
//!   wait for a build either; [`SegmentedIndex::wait_idle`] lets tests and
//!   shutdown wait.
//! - Deletes are tombstones (a `RoaringBitmap` per part). A segment with more
//!   than 20% tombstones is rebuilt without them, and segments of similar size
//!   are merged (`merge_factor` at a time) so a query visits few graphs.
//! - Re-inserting a live doc id replaces its vector (the old copy becomes a
//!   tombstone).
//!
//! # Filtered search never under-fills
//!
//! The filter (a `RoaringBitmap` of allowed ids) is passed into the search.
//! For each part, the number of allowed live docs is counted with a bitmap
//! intersection; when it is small (at most `exact_scan_fraction` of the
//! part, or at most `exact_scan_max` ids and half the part) they are scanned
//! exactly with the SIMD
//! [`kernel::dot`], which is both faster and exact there. Otherwise the graph
//! is walked with the filter applied *inside* the walk (non-matching nodes
//! are traversed but not kept, and the walk goes on until `ef` matching nodes
//! are found), every hit is re-checked against filter and tombstones, and if
//! fewer than `min(k, allowed live docs)` survive the part falls back to the
//! exact scan. Because such a walk already visits about `ef / selectivity`
//! nodes, the beam is *narrowed* to `ef · √selectivity` (measured: same
//! recall, 2–4× faster than a full beam). The result is always exactly
//! `min(k, matching live docs)` hits, sorted by distance then doc id.
//!
//! # Persistence
//!
//! With [`VectorIndexBuilder::directory`] the index keeps its sealed
//! segments in a folder it owns, so reopening maps them instead of
//! rebuilding every graph (≈ 60 s per 100k vectors on 2 cores):
//!
//! ```text
//! <dir>/segments.json      manifest: format, dims, next id, live segment files (oldest first),
//!                          and the stamp (the last position pushed by `set_applied`)
//! <dir>/segment-<id>.vec   one sealed segment, written once, never modified
//! ```
//!
//! A segment file (all integers little-endian; sections 64-byte aligned so
//! the mapped vectors and links are used in place as `&[f32]` / `&[u32]`):
//!
//! ```text
//! header, 256 B   magic "MOLTVSEG", format version, flags (has graph), dims, graph width,
//!                 rows, segment id, graph entry point, upper layer count,
//!                 table of 6 sections (offset, length, crc32), crc32 of the header
//! doc ids         rows × u32, strictly increasing (row slot order = doc order)
//! f32 vectors     rows × dims × f32, unit length
//! int8 codes      rows × dims × i8   (always written: quantization is chosen at open)
//! int8 scales     rows × f32
//! graph links     rows × width × u32 bottom-layer neighbours (u32::MAX pads)
//! upper layers    per layer: node count, then per node: slot, link count, links
//! ```
//!
//! Opening checks every section's CRC (split in 8 MiB pieces checksummed in
//! parallel and combined, since the vectors of 1M × 384-d rows are 1.5 GB),
//! then validates the structure (lengths, sorted ids, every link in range),
//! so a damaged file is a [`VectorIndexError::CorruptFile`] naming it, never
//! a panic or out-of-bounds read. `f32` rows and bottom-layer links stay in
//! the mapping (page cache); int8 codes, when used, are copied to the heap.
//!
//! **The crash story.** A background job builds a segment without locks,
//! writes it to a fresh `segment-<id>.vec` and fsyncs it, reopens it mapped,
//! installs it (one snapshot publish), then replaces the manifest
//! atomically (write `segments.json.tmp`, fsync, rename, fsync the folder)
//! after calling the [`before_persist`](VectorIndexBuilder::before_persist)
//! hook (the engine fsyncs its log there), and only then deletes the files
//! of the segments it replaced (mappings of unlinked files stay valid). A
//! crash at any point leaves either the old or the new manifest, each
//! listing complete, fsynced files; files it does not list (and `*.tmp`)
//! are deleted on the next open. Ids are allocated when a job is picked and
//! never reused, so a higher id always holds newer data: a doc found in two
//! listed segments (an old copy whose tombstone was not persisted) is taken
//! from the newest one. The manifest records the last position the owner
//! pushed with [`VectorWrite::set_applied`] before the segment list was
//! captured (every change up to it was inserted before), which
//! [`SegmentedIndex::persisted_stamp`] returns after reopening.
//!
//! What is *not* persisted: write buffers and tombstones. After reopening,
//! the owner reconciles: [`VectorWrite::retain`] the docs it still has (one
//! publish) and insert those missing from [`VectorRead::members`] (a large
//! `insert_batch` becomes one frozen buffer, searchable at once and built in
//! the background). A doc whose vector was replaced *in place* after its
//! segment was persisted reads the persisted vector after a crash unless it
//! is re-inserted; the engine never replaces vectors in place (re-embedding
//! moves an entry to a new doc id). On a `CorruptFile` error the owner can
//! [`SegmentedIndex::wipe`] the folder and rebuild from its stored vectors.
//!
//! # int8 quantization
//!
//! With [`Quantization::Int8`], sealed segments are searched on per-row
//! symmetric int8 codes (`scale = max|x| / 127`, `code = round(x / scale)`;
//! see `quant.rs` for why per-row rather than per-dimension): the query is
//! quantized the same way, a distance estimate is one integer dot product
//! (AVX2 `maddubs`/`madd` when the CPU has it, a portable auto-vectorised
//! loop otherwise; both exact in `i32`) times two scales. The graph walk
//! runs on estimates with the usual beam `ef`, then the whole beam is
//! re-scored with exact `f32` dot products read from the `f32` rows; an
//! exact scan keeps the best `k × rescore_factor` estimates and re-scores
//! those. Final ranking and returned distances are exact `f32`. The codes
//! take a quarter of the `f32` bytes (plus 4 B per row); with a directory
//! they are the only vector bytes on the heap (the `f32` rows stay mapped),
//! without one the `f32` rows stay on the heap too.
//! [`SegmentedIndex::stats`] reports both (`vector_bytes_heap`,
//! `vector_bytes_mapped`).

mod builder;
mod config;
mod file;
mod flat;
mod graph;
pub mod kernel;
mod mapped;
mod quant;
mod segment;
mod segmented;
mod store;
mod topk;

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use roaring::RoaringBitmap;

pub use self::builder::VectorIndexBuilder;
pub use self::config::{
    PersistHook, Quantization, SearchParams, DEFAULT_DIMS, DEFAULT_EF_CONSTRUCTION,
    DEFAULT_EF_SEARCH, DEFAULT_EXACT_SCAN_FRACTION, DEFAULT_EXACT_SCAN_MAX, DEFAULT_M,
    DEFAULT_MAX_SEGMENT_LEN, DEFAULT_MERGE_FACTOR, DEFAULT_MIN_GRAPH_ROWS, DEFAULT_REBUILD_RATIO,
    DEFAULT_RESCORE_FACTOR, DEFAULT_SEAL_THRESHOLD,
};
pub use self::file::{MANIFEST_FILE, SEGMENT_FORMAT_VERSION};
pub use self::flat::FlatIndex;
pub use self::segmented::{SegmentedIndex, VectorIndexStats, VectorSnapshot};

use super::DocId;
use crate::{Error, Result};

/// One search result.
///
/// The rank is the position in the returned `Vec`; the cosine similarity the
/// fusion stage wants is [`Hit::cosine`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    /// The matching document.
    pub doc: DocId,
    /// Cosine distance `1 - cosine`, in `[0, 2]`; smaller is closer.
    pub distance: f32,
}

impl Hit {
    /// Cosine similarity of the query and this document, in `[-1, 1]`.
    pub fn cosine(&self) -> f32 {
        1.0 - self.distance
    }

    /// The total order of results: distance ascending, then doc id, so equal
    /// distances come out in a deterministic order.
    pub(crate) fn order(&self, other: &Self) -> std::cmp::Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.doc.cmp(&other.doc))
    }
}

/// What is wrong with a persisted file of the vector index (the manifest or
/// a segment file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// The manifest lists the file but it is not there.
    #[error("the file is missing")]
    Missing,
    /// The file is shorter than its header (or the fixed header) says.
    #[error("the file is truncated: {got} bytes, needs {expected}")]
    Truncated {
        /// Bytes the file should have at least.
        expected: u64,
        /// Bytes it has.
        got: u64,
    },
    /// The file does not start with the segment magic bytes.
    #[error("not a moltsearch vector segment (bad magic bytes)")]
    BadMagic,
    /// Written by a newer (or unknown) format version.
    #[error("unsupported format version {found} (this build reads {supported})")]
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// A checksum does not match: the named part of the file was damaged.
    #[error("checksum mismatch in the {section}")]
    Checksum {
        /// Which part: header, doc ids, vectors, codes, scales, graph links.
        section: &'static str,
    },
    /// The file holds vectors of another dimension than the index's.
    #[error("vectors have {found} dimensions, the index has {expected}")]
    Dims {
        /// The index's dimension.
        expected: usize,
        /// The file's.
        found: usize,
    },
    /// Structurally invalid content (inconsistent lengths, unsorted doc
    /// ids, a graph link out of range, unparsable manifest...).
    #[error("invalid content: {0}")]
    Invalid(String),
}

/// Errors specific to vector data, beyond the crate-wide ones.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VectorIndexError {
    /// A component is NaN or infinite: it would poison every distance.
    #[error("vector{} has a non-finite value ({value}) at position {position}", doc_suffix(*.doc))]
    NonFinite {
        /// The document being inserted, if any (`None` for a query).
        doc: Option<DocId>,
        /// Index of the first offending component.
        position: usize,
        /// The offending value.
        value: f32,
    },
    /// An all-zero vector has no direction, so no cosine.
    #[error("vector{} is all zeros and cannot be normalised", doc_suffix(*.doc))]
    ZeroVector {
        /// The document being inserted, if any (`None` for a query).
        doc: Option<DocId>,
    },
    /// A batch's flat buffer is not `docs.len() × dims` floats long.
    #[error("batch of {docs} docs needs {expected} floats, got {got}")]
    BatchLength {
        /// Number of doc ids in the batch.
        docs: usize,
        /// `docs × dims`.
        expected: usize,
        /// Length of the flat buffer received.
        got: usize,
    },
    /// A persisted file of the index (manifest or segment) is missing,
    /// truncated or damaged. The index cannot open; its folder may be
    /// deleted ([`SegmentedIndex::wipe`]) and the index rebuilt from the
    /// vectors stored elsewhere.
    #[error("vector index file {}: {problem}", path.display())]
    CorruptFile {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// Reading or writing the index folder failed.
    #[error("vector index I/O error ({op}) on {}: {message}", path.display())]
    Io {
        /// What was being done (`open`, `write`, `sync`, `rename`...).
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
}

impl VectorIndexError {
    /// The file or folder an error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::CorruptFile { path, .. } | Self::Io { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Whether the error says the persisted index is damaged (as opposed to
    /// bad input or a transient I/O failure): the caller should wipe the
    /// folder and rebuild.
    pub fn is_corrupt_file(&self) -> bool {
        matches!(self, Self::CorruptFile { .. })
    }

    pub(crate) fn io(op: &'static str, path: &Path, e: &std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.to_owned(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }

    pub(crate) fn corrupt(path: &Path, problem: FileProblem) -> Self {
        Self::CorruptFile {
            path: path.to_owned(),
            problem,
        }
    }
}

fn doc_suffix(doc: Option<DocId>) -> String {
    match doc {
        Some(d) => format!(" for doc {d}"),
        None => " (query)".to_owned(),
    }
}

/// Converts a vector error into the crate error.
///
/// Until `crate::Error` gets a `VectorIndex(#[from] VectorIndexError)` variant
/// it travels as `InvalidConfig` with the same message; this is the one place
/// to change then (to `e.into()`).
pub(crate) fn vector_error(e: VectorIndexError) -> Error {
    e.into()
}

/// The reading side of a vector index: search and look-ups, on one
/// consistent state per call.
///
/// All methods take `&self`: implementations synchronise internally, so one
/// `Arc<dyn VectorIndex>` serves many searching threads while a writer
/// inserts. Vectors are stored L2-normalised.
pub trait VectorRead: Send + Sync {
    /// The dimension every vector and query must have.
    fn dims(&self) -> usize;

    /// The `k` live docs nearest to `query` among those in `filter` (all live
    /// docs if `None`), sorted by distance then doc id.
    ///
    /// Returns exactly `min(k, number of matching live docs)` hits.
    fn search(&self, query: &[f32], k: usize, filter: Option<&RoaringBitmap>) -> Result<Vec<Hit>>;

    /// Number of live (inserted, not deleted) docs.
    fn len(&self) -> usize;

    /// Whether there is no live doc.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `doc` is live.
    fn contains(&self, doc: DocId) -> bool {
        self.get(doc).is_some()
    }

    /// A copy of the stored (unit-length) vector of a live doc.
    fn get(&self, doc: DocId) -> Option<Vec<f32>>;

    /// Calls `f` for every live doc and its stored vector, in no particular
    /// order, on one consistent state (writes during the call are not seen).
    fn for_each_live(&self, f: &mut dyn FnMut(DocId, &[f32]));

    /// The ids of all live docs.
    fn live_docs(&self) -> RoaringBitmap;

    /// The docs the index holds (same as [`live_docs`](Self::live_docs)):
    /// after reopening a persisted index, the engine inserts its stored docs
    /// missing here.
    fn members(&self) -> RoaringBitmap {
        self.live_docs()
    }
}

/// The writing side of a vector index: inserts, deletes, and the position
/// the owner has applied.
///
/// Vectors must have [`dims`](VectorRead::dims) finite components; they are
/// stored L2-normalised (inputs that are not unit length are normalised, an
/// all-zero vector is rejected).
pub trait VectorWrite: VectorRead {
    /// Adds `doc`, or replaces its vector if it is already present.
    ///
    /// Fails with [`Error::WrongVectorDimension`] on a wrong length and with a
    /// non-finite / zero-vector error otherwise invalid input; nothing is
    /// changed on error.
    fn insert(&self, doc: DocId, vector: &[f32]) -> Result<()>;

    /// Adds many docs at once (`vectors` is row-major, `docs.len() × dims`),
    /// validating and building in parallel: the path for re-indexing. If a
    /// doc id repeats, the last vector wins. All-or-nothing on invalid input.
    fn insert_batch(&self, docs: &[DocId], vectors: &[f32]) -> Result<()>;

    /// Removes `doc`; returns whether it was present.
    fn delete(&self, doc: DocId) -> bool;

    /// Deletes every live doc not in `keep`; returns how many. The engine
    /// calls it once after reopening a persisted index, to drop docs its log
    /// deleted since the index was persisted. [`SegmentedIndex`] does it in
    /// one snapshot publish; the default deletes one by one.
    fn retain(&self, keep: &RoaringBitmap) -> usize {
        let gone = self.live_docs() - keep;
        gone.iter().filter(|&doc| self.delete(doc)).count()
    }

    /// Tells the index that the vectors of every change up to position
    /// `seq` (the engine: its log's sequence number) have been inserted or
    /// deleted. A persisted index records the last value pushed before a
    /// manifest captures its segment list, so that stamp never claims a
    /// change the listed segments (or the owner's re-insert after
    /// reopening) lack; read back with
    /// [`SegmentedIndex::persisted_stamp`]. Values lower than one already
    /// pushed are ignored. A no-op for indexes that do not persist.
    fn set_applied(&self, _seq: u64) {}
}

/// Lifecycle of an index with background work (graph builds, merges): the
/// engine drives it through the object it holds. Every method is a no-op
/// (or a plain description) for indexes without background work.
pub trait VectorLifecycle: VectorRead {
    /// Finishes pending background work (sealing, merges) so searches run
    /// on the final graph layout; a no-op for indexes without any.
    fn flush(&self) {}

    /// Pauses or resumes background graph builds (bulk loads); a no-op for
    /// indexes without any.
    fn pause_builds(&self, _paused: bool) {}

    /// Merges the index into its fastest layout (one graph), waiting for it;
    /// by default the same as [`flush`](Self::flush).
    fn optimize(&self) {
        self.flush();
    }

    /// A one-line description of the index layout, for logs and benches.
    fn describe(&self) -> String {
        format!("{} live vectors", self.len())
    }
}

/// The narrow seam between the engine and a vector index: reading, writing
/// and lifecycle together, as the object type the engine holds
/// (`Box<dyn VectorIndex>`). Implemented for every type that has the three
/// parts.
pub trait VectorIndex: VectorRead + VectorWrite + VectorLifecycle {}

impl<T: VectorRead + VectorWrite + VectorLifecycle + ?Sized> VectorIndex for T {}

/// Checks a vector the engine is about to log, exactly as [`prepare`] will
/// when the index inserts it (length, finite values, not all zeros).
///
/// Every write path calls it before the log append, whether the vector was
/// given or just computed by the model: a logged vector that the index then
/// refuses would make every later open of the folder fail.
pub(crate) fn check(dims: usize, v: &[f32]) -> Result<()> {
    prepare(dims, v, None).map(drop)
}

/// Checks a vector's length and values and returns it unit-length.
///
/// Borrowed when already normalised (the embedder's output), so the common
/// path does not copy.
pub(crate) fn prepare(dims: usize, v: &[f32], doc: Option<DocId>) -> Result<Cow<'_, [f32]>> {
    if v.len() != dims {
        return Err(Error::WrongVectorDimension {
            expected: dims,
            got: v.len(),
        });
    }
    if let Some((position, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
        return Err(vector_error(VectorIndexError::NonFinite {
            doc,
            position,
            value: *value,
        }));
    }
    let n2 = kernel::norm_squared(v);
    if n2 <= f32::MIN_POSITIVE || !n2.is_finite() {
        // Zero, denormal-tiny, or huge enough to overflow: rescale in f64.
        let n = v
            .iter()
            .map(|x| f64::from(*x) * f64::from(*x))
            .sum::<f64>()
            .sqrt();
        if n == 0.0 || !n.is_finite() {
            return Err(vector_error(VectorIndexError::ZeroVector { doc }));
        }
        return Ok(Cow::Owned(
            v.iter().map(|x| (f64::from(*x) / n) as f32).collect(),
        ));
    }
    if (n2 - 1.0).abs() <= 1e-4 {
        return Ok(Cow::Borrowed(v));
    }
    let n = n2.sqrt();
    Ok(Cow::Owned(v.iter().map(|x| x / n).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_rejects_bad_vectors() {
        assert!(matches!(
            prepare(3, &[1.0, 0.0], Some(1)),
            Err(Error::WrongVectorDimension {
                expected: 3,
                got: 2
            })
        ));
        let e = prepare(3, &[1.0, f32::NAN, 0.0], Some(7)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("non-finite") && msg.contains("doc 7") && msg.contains("position 1"));
        let e = prepare(2, &[f32::INFINITY, 0.0], None).unwrap_err();
        assert!(e.to_string().contains("non-finite"));
        let e = prepare(2, &[0.0, 0.0], None).unwrap_err();
        assert!(e.to_string().contains("all zeros"));
    }

    #[test]
    fn check_refuses_what_insert_would_refuse() {
        assert!(check(3, &[0.6, 0.8, 0.0]).is_ok());
        assert!(check(3, &[3.0, 4.0, 0.0]).is_ok(), "unnormalised is fine");
        assert!(matches!(
            check(3, &[1.0, 0.0]),
            Err(Error::WrongVectorDimension {
                expected: 3,
                got: 2
            })
        ));
        for bad in [
            [0.0, 0.0, 0.0],
            [f32::NAN, 1.0, 0.0],
            [1.0, f32::INFINITY, 0.0],
            [1.0, f32::NEG_INFINITY, 0.0],
        ] {
            let e = check(3, &bad).expect_err("refused");
            assert!(
                matches!(e, Error::VectorIndex(_)),
                "{bad:?} gives a vector error, got {e}"
            );
            // Whatever `check` refuses, an insert refuses too.
            assert!(FlatIndex::new(3).unwrap().insert(1, &bad).is_err());
        }
    }

    #[test]
    fn prepare_normalises_only_when_needed() {
        assert!(matches!(
            prepare(2, &[0.6, 0.8], None),
            Ok(Cow::Borrowed(_))
        ));
        let v = prepare(2, &[3.0, 4.0], None).unwrap();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let v = prepare(2, &[1e-30, 0.0], None).unwrap();
        assert!((v[0] - 1.0).abs() < 1e-6);
        let v = prepare(2, &[3e38, 3e38], None).unwrap();
        assert!((v[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn hit_cosine_and_order() {
        let a = Hit {
            doc: 2,
            distance: 0.25,
        };
        let b = Hit {
            doc: 1,
            distance: 0.25,
        };
        assert_eq!(a.cosine(), 0.75);
        assert_eq!(b.order(&a), std::cmp::Ordering::Less);
    }
}
