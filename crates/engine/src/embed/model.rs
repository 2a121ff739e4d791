//! One loaded model: its tokenizer, and running one padded batch through an
//! ONNX Runtime session with pooling and L2 normalisation.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ort::session::{builder::GraphOptimizationLevel, Session, SessionInputValue};
use ort::value::Tensor;
use tokenizers::{Tokenizer, TruncationParams};

use super::profile::{ModelProfile, Pooling};
use crate::{Error, Result};

/// Resolved on-disk files of a model.
#[derive(Clone, Debug)]
pub(crate) struct ModelFiles {
    pub graph: PathBuf,
    pub tokenizer: PathBuf,
}

impl ModelFiles {
    /// Finds the graph (`dir/file` or `dir/onnx/file`, the layout of common
    /// exports) and `dir/tokenizer.json`, or says exactly what is missing.
    pub fn locate(profile: &ModelProfile, dir: &Path) -> Result<Self> {
        let hint = format!(
            "run `scripts/bootstrap.sh` for the built-in models, or copy an export of `{}` \
             (model file `{}` and tokenizer.json) into {}",
            profile.name,
            profile.file,
            dir.display()
        );
        let direct = dir.join(&profile.file);
        let nested = dir.join("onnx").join(&profile.file);
        let graph = if direct.is_file() {
            direct
        } else if nested.is_file() {
            nested
        } else {
            return Err(Error::ModelMissing { path: direct, hint });
        };
        let tokenizer = dir.join("tokenizer.json");
        if !tokenizer.is_file() {
            return Err(Error::ModelMissing {
                path: tokenizer,
                hint,
            });
        }
        Ok(Self { graph, tokenizer })
    }
}

/// Loads the tokenizer with padding off (the batcher pads per batch) and
/// truncation at the profile's limit, whatever the shipped file says.
pub(crate) fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer> {
    let load_err = |message: String| Error::ModelLoad {
        path: path.to_path_buf(),
        message,
    };
    let mut tok = Tokenizer::from_file(path).map_err(|e| load_err(e.to_string()))?;
    tok.with_padding(None);
    tok.with_truncation(Some(TruncationParams {
        max_length: max_tokens,
        ..TruncationParams::default()
    }))
    .map_err(|e| load_err(e.to_string()))?;
    Ok(tok)
}

/// Token ids of each text (special tokens included, truncated).
pub(crate) fn tokenize(tok: &Tokenizer, texts: Vec<String>) -> Result<Vec<Vec<i64>>> {
    let encodings = if texts.len() == 1 {
        let text = texts.into_iter().next().unwrap_or_default();
        vec![tok
            .encode_fast(text, true)
            .map_err(|e| Error::Tokenize(e.to_string()))?]
    } else {
        tok.encode_batch_fast(texts, true)
            .map_err(|e| Error::Tokenize(e.to_string()))?
    };
    Ok(encodings
        .into_iter()
        .map(|e| e.get_ids().iter().map(|&id| i64::from(id)).collect())
        .collect())
}

/// Session options the pipeline uses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SessionOptions {
    pub intra_threads: usize,
    pub spinning: bool,
}

/// Opens one ONNX Runtime session on the graph.
pub(crate) fn open_session(
    env: &ort::environment::Environment,
    graph: &Path,
    opts: SessionOptions,
) -> Result<Session> {
    let err = |message: String| Error::ModelLoad {
        path: graph.to_path_buf(),
        message,
    };
    Session::builder(env)
        .map_err(|e| err(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| err(e.to_string()))?
        .with_intra_threads(opts.intra_threads)
        .map_err(|e| err(e.to_string()))?
        .with_inter_threads(1)
        .map_err(|e| err(e.to_string()))?
        .with_intra_op_spinning(opts.spinning)
        .map_err(|e| err(e.to_string()))?
        .commit_from_file(graph)
        .map_err(|e| err(e.to_string()))
}

/// Runs one batch: pads `seqs` to the longest, runs the model, pools and
/// normalises, writing `seqs.len() * dims` floats into `out` row by row.
pub(crate) fn run_batch(
    session: &mut Session,
    profile: &ModelProfile,
    seqs: &[&[i64]],
    out: &mut [f32],
) -> Result<()> {
    let dims = profile.dims;
    let batch = seqs.len();
    let width = seqs.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
    let mut ids = vec![0i64; batch * width];
    let mut mask = vec![0i64; batch * width];
    for (row, seq) in seqs.iter().enumerate() {
        ids[row * width..row * width + seq.len()].copy_from_slice(seq);
        mask[row * width..row * width + seq.len()].fill(1);
    }
    let inference = |message: String| Error::Inference {
        model: profile.name.clone(),
        message,
    };
    let shape = [batch as i64, width as i64];
    let wants_types = session
        .inputs()
        .iter()
        .any(|i| i.name() == "token_type_ids");
    let mut inputs: Vec<(Cow<'static, str>, SessionInputValue<'static>)> = Vec::with_capacity(3);
    inputs.push((
        "input_ids".into(),
        Tensor::from_array((shape, ids))
            .map_err(|e| inference(e.to_string()))?
            .into(),
    ));
    inputs.push((
        "attention_mask".into(),
        Tensor::from_array((shape, mask.clone()))
            .map_err(|e| inference(e.to_string()))?
            .into(),
    ));
    if wants_types {
        inputs.push((
            "token_type_ids".into(),
            Tensor::from_array((shape, vec![0i64; batch * width]))
                .map_err(|e| inference(e.to_string()))?
                .into(),
        ));
    }
    let outputs = session.run(inputs).map_err(|e| inference(e.to_string()))?;
    let (out_shape, hidden) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(|e| inference(e.to_string()))?;
    let expect = [batch as i64, width as i64, dims as i64];
    if out_shape.len() != 3 || out_shape[..2] != expect[..2] {
        return Err(inference(format!(
            "unexpected output shape {out_shape:?}, expected [{batch}, {width}, {dims}]"
        )));
    }
    if out_shape[2] != dims as i64 {
        return Err(Error::WrongVectorDimension {
            expected: dims,
            got: usize::try_from(out_shape[2]).unwrap_or(0),
        });
    }
    for (row, seq) in seqs.iter().enumerate() {
        let dst = &mut out[row * dims..(row + 1) * dims];
        let token = |t: usize| {
            let start = (row * width + t) * dims;
            &hidden[start..start + dims]
        };
        match profile.pooling {
            Pooling::Cls => dst.copy_from_slice(token(0)),
            Pooling::Mean => {
                dst.fill(0.0);
                for t in 0..seq.len() {
                    for (d, v) in dst.iter_mut().zip(token(t)) {
                        *d += v;
                    }
                }
                let n = seq.len().max(1) as f32;
                dst.iter_mut().for_each(|d| *d /= n);
            }
        }
        normalize(dst);
    }
    Ok(())
}

/// L2-normalises in place; a zero vector stays zero rather than turning to NaN.
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_unit_and_zero() {
        let mut v = [3.0, 4.0];
        normalize(&mut v);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        let mut z = [0.0f32; 4];
        normalize(&mut z);
        assert_eq!(z, [0.0; 4]);
    }

    #[test]
    fn missing_files_name_path_and_command() {
        let dir = std::env::temp_dir().join("moltsearch-no-such-model");
        let err = ModelFiles::locate(&ModelProfile::minilm(), &dir).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("moltsearch-no-such-model"), "{msg}");
        assert!(msg.contains("scripts/bootstrap.sh"), "{msg}");
    }
}
