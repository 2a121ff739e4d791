//! The crate's one error type.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine, with enough context to act on.
///
/// Variants are structured (paths, expected/got values) so callers such as the
/// server can map them to precise responses instead of parsing messages.
///
/// # HTTP status classes
///
/// How a server should answer each variant (the caller's fault is a 4xx, and
/// nothing was stored; the engine's or the machine's is a 5xx):
///
/// | variant | status |
/// |---|---|
/// | `Invalid` (its `field` names the field), `WrongVectorDimension`, `Entry` (a rule of the data model), `InBatch` (by its cause) | 400 (422 where a server distinguishes syntax from semantics) |
/// | `NotFound` | 404 |
/// | `AlreadyExists`, `Entry(ImmutableSigned / SignedNotDeletable)` | 409 |
/// | `Store(ReadOnly)` | 405 or 503 (this process cannot write; another one can) |
/// | `Store(Locked)` | 503 (retry later) |
/// | `EmbedderClosed`, `Inference`, `Tokenize` | 503 / 500 |
/// | `DataFile` | 400 for an uploaded file, else a start-up error |
/// | `Io`, `Store(Io / Corrupt / Poisoned / …)`, `TextIndex`, `VectorIndex` on stored data | 500 |
/// | `ExternalSource` | 500 (the server wrote to a mirror: a bug, not the caller's) |
/// | `InvalidChange` | 500 (the source and the mirror disagree: rebuild the mirror) |
/// | `RuntimeMissing`, `RuntimeLoad`, `ModelMissing`, `ModelLoad`, `UnknownModel`, `InvalidConfig` | 500 at start-up (a configuration error, not a request's) |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ONNX Runtime shared library is not where it was looked for.
    #[error(
        "ONNX Runtime library not found at {path}; run `scripts/bootstrap.sh` to fetch it \
         (or point ORT_DYLIB_PATH / MOLTSEARCH_CACHE at an existing copy)"
    )]
    RuntimeMissing {
        /// Where the library was expected.
        path: PathBuf,
    },
    /// The ONNX Runtime library exists but could not be loaded or initialised.
    #[error("could not load ONNX Runtime from {path}: {message}")]
    RuntimeLoad {
        /// The library that failed to load.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A model file (ONNX graph or tokenizer) is missing.
    #[error("model file not found at {path}; {hint}")]
    ModelMissing {
        /// The missing file.
        path: PathBuf,
        /// What to run or copy to get it.
        hint: String,
    },
    /// A model file exists but ONNX Runtime or the tokenizer rejected it.
    #[error("could not load model file {path}: {message}")]
    ModelLoad {
        /// The file that failed to load.
        path: PathBuf,
        /// The underlying message.
        message: String,
    },
    /// No built-in model profile has this name.
    #[error("unknown model profile `{name}` (built-in profiles: {known})")]
    UnknownModel {
        /// The requested name.
        name: String,
        /// Comma-separated list of built-in names.
        known: String,
    },
    /// Tokenizing an input failed.
    #[error("tokenizer failed: {0}")]
    Tokenize(String),
    /// ONNX Runtime failed while running the model.
    #[error("inference failed on model {model}: {message}")]
    Inference {
        /// The model id.
        model: String,
        /// ONNX Runtime's message.
        message: String,
    },
    /// A vector does not have the dimension the index or model expects.
    #[error("wrong vector dimension: expected {expected}, got {got}")]
    WrongVectorDimension {
        /// The dimension in force.
        expected: usize,
        /// The dimension received.
        got: usize,
    },
    /// A builder was given a value outside its valid range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The embedder's workers are gone (it was dropped or a worker died).
    #[error("the embedder has shut down")]
    EmbedderClosed,
    /// No such diary, entry or relation.
    #[error("{what} {id} not found")]
    NotFound {
        /// Kind of object.
        what: &'static str,
        /// The id asked for.
        id: uuid::Uuid,
    },
    /// An object with this id exists already.
    #[error("{what} {id} already exists")]
    AlreadyExists {
        /// Kind of object.
        what: &'static str,
        /// The id.
        id: uuid::Uuid,
    },
    /// A request field is out of range: the field and the reason as data
    /// (`err.field` for a problem body's pointer).
    #[error(transparent)]
    Invalid(#[from] crate::search::invalid::InvalidField),
    /// A data file given to the engine (an evaluation set) is missing or
    /// malformed: the caller's file, not the engine's state.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    DataFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the problem is on one.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// One item of a batch failed; nothing of the batch was stored.
    #[error("batch item {index}: {cause}")]
    InBatch {
        /// 0-based position in the batch.
        index: usize,
        /// What went wrong with it.
        cause: Box<Error>,
    },
    /// An operating-system call of the engine itself failed (index folders,
    /// re-embedding swaps, evaluation files): a server error, not the
    /// caller's.
    #[error("could not {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("remove", "rename", "read", …).
        op: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The durable store failed (I/O, corruption, lock, model mismatch).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A vector was rejected by the vector index (NaN, infinite, zero).
    #[error(transparent)]
    VectorIndex(#[from] crate::index::vector::VectorIndexError),
    /// The text index failed.
    #[error(transparent)]
    TextIndex(#[from] crate::index::text::TextIndexError),
    /// An entry, diary or relation broke a rule of the data model.
    #[error(transparent)]
    Entry(#[from] crate::entry::EntryError),
    /// A local write on an engine that mirrors an external source of truth
    /// ([`EngineBuilder::external_source`](crate::EngineBuilder::external_source)):
    /// write to the source, then apply its changes.
    #[error(
        "this engine mirrors the external source `{source_id}`: write there and apply its \
         changes (Engine::apply_changes), not through the engine"
    )]
    ExternalSource {
        /// The source mirrored.
        source_id: String,
    },
    /// An external source's change cannot be applied (it names a diary or
    /// entry the state lacks, or a vector of another model): the source
    /// and this mirror disagree; nothing of the call was applied.
    #[error("change {index} of source sequence {source_seq}: {reason}")]
    InvalidChange {
        /// The source sequence number of the call.
        source_seq: u64,
        /// 0-based position of the change in the call.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}
