//! Model options shared by every subcommand that embeds.

use std::path::{Path, PathBuf};

use anyhow::Context;
use moltsearch_engine::embed::{Embedder, EmbedderBuilder};

/// The profile used when neither `--model` nor the data folder names one.
pub const DEFAULT_MODEL: &str = "all-minilm-l6-v2-int8";

/// Which model to load and how to run it.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Built-in model profile (all-minilm-l6-v2-int8, all-minilm-l6-v2,
    /// e5-small-v2, e5-shape-bench, e5-shape-bench-int8, bge-small-en-v1.5).
    /// Default: the model an existing data folder was built with, else
    /// all-minilm-l6-v2-int8.
    #[arg(long, env = "MOLTSEARCH_MODEL")]
    pub model: Option<String>,
    /// Folder holding the profile's ONNX graph (`model-int8.onnx` for the
    /// int8 profiles, `model.onnx` for the others; also looked up under
    /// `onnx/`) and `tokenizer.json` (default: <cache>/models/<profile>).
    #[arg(long, env = "MOLTSEARCH_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Threads per model run (default: all cores; `serve`: 1).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most texts in one model run when concurrent calls are gathered
    /// (default 32; `serve`: 8). Larger batches embed a little more per
    /// second; smaller ones bound how long a query waits behind the run
    /// in progress.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub embed_batch: Option<u16>,
    /// Model sessions running side by side, each with its own copy of the
    /// model and `--threads` threads (default 1; `serve`: all cores).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub embed_workers: Option<u8>,
}

impl ModelArgs {
    /// The profile to load: `--model` (or `MOLTSEARCH_MODEL`), else the default.
    pub fn name(&self) -> &str {
        self.model.as_deref().unwrap_or(DEFAULT_MODEL)
    }

    /// The profile for a command that opens `data_dir`: `--model` when
    /// given (a mismatch with the folder is then the engine's clear error),
    /// else the model the folder was built with, else the default. Reading
    /// the folder's model is what lets `reindex --reembed --model X` be
    /// followed by plain commands.
    pub fn name_for_folder(&self, data_dir: &Path) -> anyhow::Result<String> {
        if let Some(m) = &self.model {
            return Ok(m.clone());
        }
        let stored = moltsearch_engine::store::stored_model(data_dir)
            .with_context(|| format!("reading the model of {}", data_dir.display()))?;
        Ok(stored.map_or_else(|| DEFAULT_MODEL.to_string(), |(model, _dims)| model))
    }

    /// The profile for a command on a database whose vectors come from
    /// `held` (its recorded model, if any): `--model` when given (a
    /// mismatch is then refused by the model check), else `held`, else the
    /// default.
    pub fn name_for_database(&self, held: Option<&str>) -> String {
        self.model
            .clone()
            .or_else(|| held.map(str::to_string))
            .unwrap_or_else(|| DEFAULT_MODEL.to_string())
    }

    /// A builder for profile `model` with these options applied.
    fn builder_for(&self, model: &str) -> EmbedderBuilder {
        let mut b = Embedder::builder().model(model);
        if let Some(dir) = &self.model_dir {
            b = b.model_dir(dir);
        }
        if let Some(n) = self.threads {
            b = b.intra_threads(n);
        }
        if let Some(n) = self.embed_batch {
            b = b.max_batch_size(usize::from(n));
        }
        if let Some(n) = self.embed_workers {
            b = b.workers(usize::from(n));
        }
        b
    }

    /// These options with the server's defaults for what is not given:
    /// one single-threaded session per core, batches of 8.
    ///
    /// Measured on 2 cores, demo diary, 32 connections (wrk): 2 sessions ×
    /// 1 thread × batch 8 gave 1,180 searches/s, p99 39 ms; 1 session × 2
    /// threads × batch 32 (the library's defaults, best for a lone call:
    /// 1.0 ms vs 2.0 ms per query) gave 720–930/s, p99 69–77 ms. A
    /// single-threaded run has no intra-op synchronisation or spinning,
    /// so concurrent queries get more work per core; a small batch bounds
    /// how long a query waits behind the run in progress.
    pub fn for_server(&self) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            model: self.model.clone(),
            model_dir: self.model_dir.clone(),
            threads: self.threads.or(Some(1)),
            embed_batch: self.embed_batch.or(Some(8)),
            embed_workers: self
                .embed_workers
                .or(Some(u8::try_from(cores.min(64)).unwrap_or(64))),
        }
    }

    /// Builds the embedder (the model loads lazily).
    pub fn embedder(&self) -> anyhow::Result<Embedder> {
        self.embedder_for(self.name())
    }

    /// Builds the embedder for profile `model` (the model loads lazily).
    pub fn embedder_for(&self, model: &str) -> anyhow::Result<Embedder> {
        self.builder_for(model)
            .build()
            .with_context(|| format!("cannot set up model `{model}`"))
    }
}
