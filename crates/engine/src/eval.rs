//! Retrieval evaluation on BEIR-format data sets (SciFact, Cranfield):
//! loading corpus, queries and judgements, and the standard metrics.
//!
//! Metrics follow `pytrec_eval` / BEIR: nDCG@k with graded gains
//! (`rel` as given, log2 discount, ideal from the judgements), recall@k over
//! relevant (rel > 0) documents, MRR@k of the first relevant hit.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// Environment variable naming the shared data folder.
pub const SHARED_ENV: &str = "MOLTSEARCH_SHARED";

/// The shared data folder: `$MOLTSEARCH_SHARED`, else `../shared` next to
/// the repository root (found from the working directory upwards).
pub fn shared_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(SHARED_ENV) {
        return PathBuf::from(p);
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join("../shared");
            if candidate.join("README.md").is_file() && dir.join("Cargo.toml").is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("../shared")
}

/// A BEIR corpus document.
#[derive(Clone, Debug, Deserialize)]
pub struct BeirDoc {
    /// Document id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Title (may be empty).
    #[serde(default)]
    pub title: String,
    /// Body.
    pub text: String,
}

/// A BEIR query.
#[derive(Clone, Debug, Deserialize)]
pub struct BeirQuery {
    /// Query id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Query text.
    pub text: String,
}

/// Judgements: query id → document id → graded relevance.
pub type Qrels = HashMap<String, HashMap<String, i32>>;

/// A loaded BEIR data set split.
#[derive(Clone, Debug)]
pub struct BeirDataset {
    /// Corpus documents.
    pub corpus: Vec<BeirDoc>,
    /// Queries that have judgements in this split.
    pub queries: Vec<BeirQuery>,
    /// Judgements of this split.
    pub qrels: Qrels,
}

fn missing(path: &Path) -> Error {
    Error::DataFile {
        path: path.to_path_buf(),
        line: None,
        reason: format!(
            "BEIR file not found (shared data is located through {SHARED_ENV}, default ../shared)"
        ),
    }
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let file = std::fs::File::open(path).map_err(|_| missing(path))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|source| Error::Io {
            op: "read",
            path: path.to_path_buf(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| Error::DataFile {
            path: path.to_path_buf(),
            line: Some(i + 1),
            reason: e.to_string(),
        })?);
    }
    Ok(out)
}

/// Reads `qrels/<split>.tsv` (`query-id  corpus-id  score`, header line).
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let raw = std::fs::read_to_string(path).map_err(|_| missing(path))?;
    let mut qrels: Qrels = HashMap::new();
    for (i, line) in raw.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 {
            continue;
        }
        let score: i32 = cols[2].trim().parse().map_err(|_| Error::DataFile {
            path: path.to_path_buf(),
            line: Some(i + 1),
            reason: format!("bad score {:?}", cols[2]),
        })?;
        qrels
            .entry(cols[0].to_string())
            .or_default()
            .insert(cols[1].to_string(), score);
    }
    Ok(qrels)
}

impl BeirDataset {
    /// Loads `dir/{corpus,queries}.jsonl` and `dir/qrels/<split>.tsv`,
    /// keeping the queries judged in that split.
    pub fn load(dir: &Path, split: &str) -> Result<Self> {
        let corpus = read_jsonl(&dir.join("corpus.jsonl"))?;
        let qrels = read_qrels(&dir.join("qrels").join(format!("{split}.tsv")))?;
        let queries: Vec<BeirQuery> = read_jsonl::<BeirQuery>(&dir.join("queries.jsonl"))?
            .into_iter()
            .filter(|q| qrels.contains_key(&q.id))
            .collect();
        Ok(Self {
            corpus,
            queries,
            qrels,
        })
    }
}

/// The vector cache file under `cache_dir` for the corpus in
/// `corpus_file` embedded by `model_id`: named by the SHA-256 of the
/// corpus bytes (read streaming) and the model, so a different corpus that
/// happens to sit in a folder of the same name never reuses these vectors.
pub fn corpus_cache_path(cache_dir: &Path, corpus_file: &Path, model_id: &str) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let io = |source: std::io::Error| Error::Io {
        op: "hash corpus",
        path: corpus_file.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(corpus_file).map_err(|_| missing(corpus_file))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::io::BufReader::new(file), &mut hasher).map_err(io)?;
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // A model id is a profile name; anything outside a file name's safe
    // characters is replaced so it cannot point outside `cache_dir`.
    let model: String = model_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(cache_dir.join(format!("corpus-{hex}-{model}.f32")))
}

/// Embeds corpus documents as passages (title line + text), reusing a
/// cached copy at `cache` when one of the right size exists and writing one
/// otherwise. The cache is a flat little-endian f32 file; name it with
/// [`corpus_cache_path`] (corpus content and model id), since only the
/// size is checked here. `progress` is called with the count done.
pub fn embed_corpus_cached(
    embedder: &crate::embed::Embedder,
    corpus: &[BeirDoc],
    cache: Option<&Path>,
    mut progress: impl FnMut(usize),
) -> Result<crate::embed::Embeddings> {
    use std::io::Write;
    let dims = embedder.dims();
    let want = corpus.len() * dims;
    if let Some(path) = cache {
        if let Ok(bytes) = std::fs::read(path) {
            if bytes.len() == want * 4 {
                let floats: Vec<f32> = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect();
                progress(corpus.len());
                return crate::embed::Embeddings::from_flat(dims, floats);
            }
        }
    }
    let mut flat = Vec::with_capacity(want);
    for (i, chunk) in corpus.chunks(256).enumerate() {
        let passages: Vec<crate::embed::PassageText> = chunk
            .iter()
            .map(|d| crate::embed::PassageText {
                title: (!d.title.is_empty()).then(|| d.title.clone()),
                content: d.text.clone(),
                tags: Vec::new(),
            })
            .collect();
        flat.extend_from_slice(embedder.embed_passages(&passages)?.as_slice());
        progress(i * 256 + chunk.len());
    }
    if let Some(path) = cache {
        let io = |source: std::io::Error| Error::Io {
            op: "write vector cache",
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        for x in &flat {
            f.write_all(&x.to_le_bytes()).map_err(io)?;
        }
        f.flush().map_err(io)?;
    }
    crate::embed::Embeddings::from_flat(dims, flat)
}

/// Reads a BEIR-style `corpus.jsonl` alone (e.g. the fortunes and WordNet
/// corpora used for scale tests).
pub fn read_corpus(path: &Path) -> Result<Vec<BeirDoc>> {
    read_jsonl(path)
}

/// nDCG@k of one ranking.
pub fn ndcg_at(ranking: &[String], judged: &HashMap<String, i32>, k: usize) -> f64 {
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| {
            let g = f64::from(judged.get(d).copied().unwrap_or(0).max(0));
            g / (i as f64 + 2.0).log2()
        })
        .sum();
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&g| g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, &g)| f64::from(g) / (i as f64 + 2.0).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// Recall@k of one ranking.
pub fn recall_at(ranking: &[String], judged: &HashMap<String, i32>, k: usize) -> f64 {
    let relevant = judged.values().filter(|&&g| g > 0).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranking
        .iter()
        .take(k)
        .filter(|d| judged.get(*d).copied().unwrap_or(0) > 0)
        .count();
    found as f64 / relevant as f64
}

/// Reciprocal rank of the first relevant document within k.
pub fn mrr_at(ranking: &[String], judged: &HashMap<String, i32>, k: usize) -> f64 {
    ranking
        .iter()
        .take(k)
        .position(|d| judged.get(d).copied().unwrap_or(0) > 0)
        .map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Mean metrics over a set of queries.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Mean nDCG@10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    /// Mean recall@100.
    #[serde(rename = "recall@100")]
    pub recall_100: f64,
    /// Mean MRR@10.
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    /// Queries evaluated.
    pub queries: usize,
}

/// Averages the metrics of rankings (query id → ranked doc ids).
pub fn evaluate(runs: &HashMap<String, Vec<String>>, qrels: &Qrels) -> Metrics {
    let mut m = Metrics::default();
    for (qid, judged) in qrels {
        let empty = Vec::new();
        let ranking = runs.get(qid).unwrap_or(&empty);
        m.ndcg_10 += ndcg_at(ranking, judged, 10);
        m.recall_100 += recall_at(ranking, judged, 100);
        m.mrr_10 += mrr_at(ranking, judged, 10);
        m.queries += 1;
    }
    if m.queries > 0 {
        let n = m.queries as f64;
        m.ndcg_10 /= n;
        m.recall_100 /= n;
        m.mrr_10 /= n;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(pairs: &[(&str, i32)]) -> HashMap<String, i32> {
        pairs.iter().map(|(d, g)| (d.to_string(), *g)).collect()
    }

    fn run(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn perfect_and_empty_rankings() {
        let j = judged(&[("a", 1), ("b", 1)]);
        assert!((ndcg_at(&run(&["a", "b"]), &j, 10) - 1.0).abs() < 1e-12);
        assert_eq!(ndcg_at(&run(&[]), &j, 10), 0.0);
        assert_eq!(recall_at(&run(&["a", "x"]), &j, 100), 0.5);
        assert_eq!(mrr_at(&run(&["x", "b"]), &j, 10), 0.5);
    }

    #[test]
    fn ndcg_matches_hand_computation() {
        let j = judged(&[("a", 2), ("b", 1)]);
        // Ranking b, a: dcg = 1/log2(2) + 2/log2(3); idcg = 2 + 1/log2(3).
        let want = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&run(&["b", "a"]), &j, 10) - want).abs() < 1e-12);
    }

    #[test]
    fn cache_path_follows_corpus_content_and_model_not_folder_name() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let corpus = |parent: &str, text: &str| {
            let dir = tmp.path().join(parent).join("scifact");
            std::fs::create_dir_all(&dir).expect("mkdir");
            let file = dir.join("corpus.jsonl");
            std::fs::write(&file, text).expect("write corpus");
            file
        };
        let a = corpus("a", "{\"_id\":\"1\",\"text\":\"alpha\"}\n");
        let b = corpus("b", "{\"_id\":\"1\",\"text\":\"beta\"}\n");
        let same_as_a = corpus("c", "{\"_id\":\"1\",\"text\":\"alpha\"}\n");
        let cache = tmp.path().join("cache");
        let key = |f: &Path, m: &str| corpus_cache_path(&cache, f, m).expect("cache path");
        // Same folder name, different content: different entries.
        assert_ne!(key(&a, "m"), key(&b, "m"));
        // Same content anywhere: one entry; another model: another entry.
        assert_eq!(key(&a, "m"), key(&same_as_a, "m"));
        assert_ne!(key(&a, "m"), key(&a, "other"));
        assert!(key(&a, "../x/y").starts_with(&cache));
        assert_eq!(key(&a, "../x/y").parent(), Some(cache.as_path()));
        assert!(corpus_cache_path(&cache, &tmp.path().join("none.jsonl"), "m").is_err());
    }

    #[test]
    fn evaluate_counts_queries_without_results_as_zero() {
        let mut qrels = Qrels::new();
        qrels.insert("q1".into(), judged(&[("a", 1)]));
        qrels.insert("q2".into(), judged(&[("b", 1)]));
        let mut runs = HashMap::new();
        runs.insert("q1".to_string(), run(&["a"]));
        let m = evaluate(&runs, &qrels);
        assert_eq!(m.queries, 2);
        assert!((m.ndcg_10 - 0.5).abs() < 1e-12);
    }
}
