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
    /// Threads per model run (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
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

    /// A builder for profile `model` with these options applied.
    fn builder_for(&self, model: &str) -> EmbedderBuilder {
        let mut b = Embedder::builder().model(model);
        if let Some(dir) = &self.model_dir {
            b = b.model_dir(dir);
        }
        if let Some(n) = self.threads {
            b = b.intra_threads(n);
        }
        b
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
