//! Text embedding: batched ONNX inference with `ort` and `tokenizers`.
//!
//! [`Embedder`] turns queries and diary passages into L2-normalised vectors.
//! It is cheap to clone and safe to share between threads; concurrent calls
//! are gathered into shared model runs (see [`batcher`](self) docs in the
//! source) and the model is loaded lazily on first use or by
//! [`Embedder::warm_up`].
//!
//! ```no_run
//! use moltsearch_engine::embed::{Embedder, PassageText};
//! # fn main() -> moltsearch_engine::Result<()> {
//! let embedder = Embedder::builder().model("all-minilm-l6-v2-int8").build()?;
//! let cold = embedder.warm_up()?;
//! let q = embedder.embed_queries(&["how do I rotate keys?"])?;
//! let p = embedder.embed_passages(&[PassageText::new("Rotated the signing key.")])?;
//! let cosine: f32 = q.row(0).iter().zip(p.row(0)).map(|(a, b)| a * b).sum();
//! # Ok(()) }
//! ```

mod batcher;
mod model;
mod profile;
pub mod runtime;
mod text;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ndarray::{Array2, ArrayView2};
use parking_lot::Mutex;
use tokenizers::Tokenizer;

use self::batcher::{BatchConfig, Pool, Priority};
use self::model::{ModelFiles, SessionOptions};
pub use self::profile::{ModelProfile, Pooling};
pub use self::text::PassageText;
use crate::{Error, Result};

/// Which side of retrieval a text is on; selects the profile's prefix and
/// the queue (queries are served first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    /// A search query.
    Query,
    /// A stored passage (diary entry).
    Passage,
}

/// Row-major, L2-normalised vectors: `len() × dims()` floats in one buffer,
/// so they can be handed to an index without copying.
#[derive(Clone, Debug, PartialEq)]
pub struct Embeddings {
    dims: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Wraps a flat buffer; its length must be a multiple of `dims`.
    pub fn from_flat(dims: usize, data: Vec<f32>) -> Result<Self> {
        if dims == 0 || !data.len().is_multiple_of(dims) {
            return Err(Error::WrongVectorDimension {
                expected: dims,
                got: data.len(),
            });
        }
        Ok(Self { dims, data })
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dims
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Dimension of each vector.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The `i`-th vector. Panics if `i >= len()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// Iterates over the vectors.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f32]> {
        self.data.chunks_exact(self.dims)
    }

    /// The flat buffer.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Takes the flat buffer.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// A `len × dims` matrix view.
    pub fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.dims), &self.data)
            .expect("length is a multiple of dims by construction")
    }

    /// Converts into a `len × dims` matrix without copying.
    pub fn into_array(self) -> Array2<f32> {
        let rows = self.len();
        Array2::from_shape_vec((rows, self.dims), self.data)
            .expect("length is a multiple of dims by construction")
    }
}

/// Configures an [`Embedder`]. Nothing is loaded until first use.
#[derive(Clone, Debug)]
pub struct EmbedderBuilder {
    model: String,
    profile: Option<ModelProfile>,
    model_dir: Option<PathBuf>,
    runtime_path: Option<PathBuf>,
    intra_threads: Option<usize>,
    spinning: bool,
    workers: usize,
    max_batch_size: usize,
    max_batch_tokens: usize,
    max_wait: Duration,
    length_buckets: bool,
}

impl Default for EmbedderBuilder {
    fn default() -> Self {
        Self {
            model: ModelProfile::minilm_int8().name,
            profile: None,
            model_dir: None,
            runtime_path: None,
            intra_threads: None,
            spinning: true,
            workers: 1,
            max_batch_size: 32,
            max_batch_tokens: 4096,
            max_wait: Duration::from_millis(2),
            length_buckets: true,
        }
    }
}

impl EmbedderBuilder {
    /// Uses a built-in profile by name (default `all-minilm-l6-v2-int8`).
    pub fn model(mut self, name: impl Into<String>) -> Self {
        self.model = name.into();
        self.profile = None;
        self
    }

    /// Uses a custom profile instead of a built-in one.
    pub fn profile(mut self, profile: ModelProfile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Reads the model from this folder instead of `<cache>/models/<profile dir>`.
    pub fn model_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.model_dir = Some(dir.into());
        self
    }

    /// Loads ONNX Runtime from this library instead of the default
    /// (`$ORT_DYLIB_PATH` or `<cache>/ort/libonnxruntime.so.1.31.1`).
    pub fn runtime_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime_path = Some(path.into());
        self
    }

    /// Threads per model run (default: the machine's cores).
    pub fn intra_threads(mut self, n: usize) -> Self {
        self.intra_threads = Some(n);
        self
    }

    /// Whether ONNX Runtime's threads spin while waiting for work (default
    /// true). Spinning shortens a lone run; under concurrent load the spin
    /// burns the cores that searches and HTTP need, so a server turns it
    /// off.
    pub fn spinning(mut self, on: bool) -> Self {
        self.spinning = on;
        self
    }

    /// Worker threads, each with its own session (default 1). More workers
    /// overlap runs at the cost of one model copy each.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Most rows in one gathered batch (default 32).
    pub fn max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// Most padded tokens (rows × longest row) in one model run (default 4096).
    pub fn max_batch_tokens(mut self, n: usize) -> Self {
        self.max_batch_tokens = n;
        self
    }

    /// How long a worker that sees concurrent callers waits for more
    /// (default 2 ms; a lone caller never waits).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = wait;
        self
    }

    /// Sorts rows into length buckets before padding (default true). Off
    /// means naive padding in arrival order; kept for measurement.
    pub fn length_buckets(mut self, on: bool) -> Self {
        self.length_buckets = on;
        self
    }

    /// Validates the configuration and checks that the runtime and model
    /// files exist; the model itself loads on first use.
    pub fn build(self) -> Result<Embedder> {
        let profile = match self.profile {
            Some(p) => p,
            None => ModelProfile::builtin(&self.model)?,
        };
        profile.validate()?;
        let intra_threads = self.intra_threads.unwrap_or_else(default_threads);
        let check = |ok: bool, msg: String| {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidConfig(msg))
            }
        };
        check(
            (1..=256).contains(&intra_threads),
            format!("intra_threads must be 1..=256, got {intra_threads}"),
        )?;
        check(
            (1..=64).contains(&self.workers),
            format!("workers must be 1..=64, got {}", self.workers),
        )?;
        check(
            (1..=4096).contains(&self.max_batch_size),
            format!(
                "max_batch_size must be 1..=4096, got {}",
                self.max_batch_size
            ),
        )?;
        check(
            self.max_batch_tokens >= profile.max_tokens,
            format!(
                "max_batch_tokens ({}) must be at least the model's max_tokens ({})",
                self.max_batch_tokens, profile.max_tokens
            ),
        )?;
        check(
            self.max_wait <= Duration::from_secs(1),
            format!("max_wait must be at most 1 s, got {:?}", self.max_wait),
        )?;
        let dir = match self.model_dir {
            Some(d) => d,
            None if profile.dir.is_absolute() => profile.dir.clone(),
            None => runtime::cache_dir().join("models").join(&profile.dir),
        };
        let files = ModelFiles::locate(&profile, &dir)?;
        let runtime_path = self
            .runtime_path
            .unwrap_or_else(runtime::default_runtime_path);
        if !runtime_path.is_file() {
            return Err(Error::RuntimeMissing { path: runtime_path });
        }
        Ok(Embedder {
            inner: Arc::new(Inner {
                profile: Arc::new(profile),
                files,
                runtime_path,
                session: SessionOptions {
                    intra_threads,
                    spinning: self.spinning,
                },
                workers: self.workers,
                batch: BatchConfig {
                    max_batch_size: self.max_batch_size,
                    max_batch_tokens: self.max_batch_tokens,
                    max_wait: self.max_wait,
                    length_buckets: self.length_buckets,
                },
                loaded: OnceLock::new(),
                load_lock: Mutex::new(()),
                cold_start: OnceLock::new(),
                embedded_queries: Default::default(),
                embedded_passages: Default::default(),
            }),
        })
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Embeds queries and passages with one model. Clone it freely: clones share
/// the loaded model and its workers.
#[derive(Clone)]
pub struct Embedder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.inner.profile.name)
            .field("graph", &self.inner.files.graph)
            .field("loaded", &self.is_loaded())
            .finish()
    }
}

struct Inner {
    profile: Arc<ModelProfile>,
    files: ModelFiles,
    runtime_path: PathBuf,
    session: SessionOptions,
    workers: usize,
    batch: BatchConfig,
    loaded: OnceLock<Loaded>,
    load_lock: Mutex<()>,
    cold_start: OnceLock<Duration>,
    embedded_queries: std::sync::atomic::AtomicU64,
    embedded_passages: std::sync::atomic::AtomicU64,
}

struct Loaded {
    tokenizer: Tokenizer,
    pool: Pool,
}

/// Passage calls are split into jobs of this many texts so queued queries
/// can overtake a bulk import between jobs.
const PASSAGE_JOB_ROWS: usize = 64;

impl Embedder {
    /// A builder with the defaults (MiniLM int8, machine's cores, batching on).
    pub fn builder() -> EmbedderBuilder {
        EmbedderBuilder::default()
    }

    /// The model profile in use.
    pub fn profile(&self) -> &ModelProfile {
        &self.inner.profile
    }

    /// The model id to store with every vector.
    pub fn model_id(&self) -> &str {
        &self.inner.profile.name
    }

    /// Output dimension.
    pub fn dims(&self) -> usize {
        self.inner.profile.dims
    }

    /// The ONNX graph file in use.
    pub fn graph_path(&self) -> &std::path::Path {
        &self.inner.files.graph
    }

    /// True once the runtime, tokenizer and sessions are loaded.
    pub fn is_loaded(&self) -> bool {
        self.inner.loaded.get().is_some()
    }

    /// Time from the first load request to the first vector, once known.
    pub fn cold_start(&self) -> Option<Duration> {
        self.inner.cold_start.get().copied()
    }

    /// Loads everything and runs one query so the first real call pays no
    /// start-up cost. Returns the time it took (the cold start when called
    /// first; near zero afterwards).
    pub fn warm_up(&self) -> Result<Duration> {
        let start = Instant::now();
        self.embed_queries(&["warm up"])?;
        let took = start.elapsed();
        let _ = self.inner.cold_start.set(took);
        Ok(took)
    }

    fn loaded(&self) -> Result<&Loaded> {
        if let Some(l) = self.inner.loaded.get() {
            return Ok(l);
        }
        let _guard = self.inner.load_lock.lock();
        if let Some(l) = self.inner.loaded.get() {
            return Ok(l);
        }
        let start = Instant::now();
        let inner = &self.inner;
        let env = runtime::environment(&inner.runtime_path)?;
        let tokenizer = model::load_tokenizer(&inner.files.tokenizer, inner.profile.max_tokens)?;
        let sessions = (0..inner.workers)
            .map(|_| model::open_session(&env, &inner.files.graph, inner.session))
            .collect::<Result<Vec<_>>>()?;
        let pool = Pool::start(sessions, inner.profile.clone(), inner.batch)?;
        tracing::info!(
            model = %inner.profile.name,
            graph = %inner.files.graph.display(),
            workers = inner.workers,
            intra_threads = inner.session.intra_threads,
            load_ms = start.elapsed().as_secs_f64() * 1e3,
            "embedding model loaded"
        );
        Ok(inner.loaded.get_or_init(|| Loaded { tokenizer, pool }))
    }

    /// Token ids the model sees for `text` (special tokens included,
    /// truncated at the profile's limit, no prefix added).
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let loaded = self.loaded()?;
        let enc = loaded
            .tokenizer
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenize(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Texts embedded since this embedder was built, queries and passages
    /// (every clone counts into the same totals): lets a caller check that
    /// a path embedded nothing, e.g. a mirror catching up from vectors its
    /// source stores.
    pub fn embedded_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.inner.embedded_queries.load(Relaxed),
            self.inner.embedded_passages.load(Relaxed),
        )
    }

    /// Embeds search queries (with the profile's query prefix).
    pub fn embed_queries<S: AsRef<str>>(&self, queries: &[S]) -> Result<Embeddings> {
        let texts = queries.iter().map(|q| q.as_ref().to_string()).collect();
        self.embed_texts(TextKind::Query, texts)
    }

    /// Embeds diary passages (`title\ncontent\ntag:…`, with the passage prefix).
    pub fn embed_passages(&self, passages: &[PassageText]) -> Result<Embeddings> {
        let texts = passages
            .iter()
            .map(PassageText::to_embedding_text)
            .collect();
        self.embed_texts(TextKind::Passage, texts)
    }

    /// Embeds raw texts of one kind; the kind's prefix is prepended.
    pub fn embed_texts(&self, kind: TextKind, texts: Vec<String>) -> Result<Embeddings> {
        let dims = self.dims();
        if texts.is_empty() {
            return Ok(Embeddings {
                dims,
                data: Vec::new(),
            });
        }
        let loaded = self.loaded()?;
        let counter = match kind {
            TextKind::Query => &self.inner.embedded_queries,
            TextKind::Passage => &self.inner.embedded_passages,
        };
        counter.fetch_add(texts.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let prefix = match kind {
            TextKind::Query => &self.inner.profile.query_prefix,
            TextKind::Passage => &self.inner.profile.passage_prefix,
        };
        let texts: Vec<String> = if prefix.is_empty() {
            texts
        } else {
            texts.into_iter().map(|t| format!("{prefix}{t}")).collect()
        };
        let seqs = model::tokenize(&loaded.tokenizer, texts)?;
        let (priority, job_rows) = match kind {
            TextKind::Query => (Priority::Query, usize::MAX),
            TextKind::Passage => (Priority::Passage, PASSAGE_JOB_ROWS),
        };
        let mut receivers = Vec::new();
        let mut seqs = seqs.into_iter().peekable();
        while seqs.peek().is_some() {
            let job: Vec<Vec<i64>> = seqs.by_ref().take(job_rows).collect();
            receivers.push(loaded.pool.submit(priority, job)?);
        }
        let mut data = Vec::with_capacity(receivers.len() * dims);
        for rx in receivers {
            data.extend(rx.recv().map_err(|_| Error::EmbedderClosed)??);
        }
        Ok(Embeddings { dims, data })
    }
}
