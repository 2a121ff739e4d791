//! Model options shared by every subcommand that embeds.

use std::path::PathBuf;

use anyhow::Context;
use moltsearch_engine::embed::{Embedder, EmbedderBuilder};

/// Which model to load and how to run it.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Built-in model profile (all-minilm-l6-v2-int8, all-minilm-l6-v2,
    /// e5-small-v2, e5-shape-bench, e5-shape-bench-int8, bge-small-en-v1.5).
    #[arg(
        long,
        default_value = "all-minilm-l6-v2-int8",
        env = "MOLTSEARCH_MODEL"
    )]
    pub model: String,
    /// Folder with model.onnx + tokenizer.json (default: <cache>/models/<profile>).
    #[arg(long, env = "MOLTSEARCH_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Threads per model run (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ModelArgs {
    /// A builder with these options applied.
    pub fn builder(&self) -> EmbedderBuilder {
        let mut b = Embedder::builder().model(&self.model);
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
        self.builder()
            .build()
            .with_context(|| format!("cannot set up model `{}`", self.model))
    }
}
