//! `moltsearch eval beir DIR`: retrieval quality on a BEIR data set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use moltsearch_engine::embed::{runtime, Embeddings};
use moltsearch_engine::engine::{Engine, PutEntry};
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::eval::{corpus_cache_path, evaluate, BeirDataset};
use moltsearch_engine::search::fusion::Fusion;
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use uuid::Uuid;

use super::common::{progress, MatchArg, ModeArg};
use super::model_args::ModelArgs;

/// Evaluate retrieval quality.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub kind: EvalKind,
}

/// Data set formats.
#[derive(clap::Subcommand, Debug)]
pub enum EvalKind {
    /// A BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    Beir(BeirArgs),
}

/// Options of `eval beir`.
#[derive(clap::Args, Debug)]
pub struct BeirArgs {
    /// The BEIR folder, e.g. ../shared/data/scifact.
    pub dir: PathBuf,
    /// Which judgements to use.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Arms to run.
    #[arg(long, value_enum, default_value = "hybrid")]
    pub mode: ModeArg,
    /// Text matching: any term (the default everywhere) or all terms
    /// (MoltNet's websearch semantics).
    #[arg(long, value_enum, default_value = "any")]
    pub text_match: MatchArg,
    /// Fusion: rrf, weighted:<vector weight>:<text weight>, convex:<alpha>.
    #[arg(long, default_value = "rrf")]
    pub fusion: String,
    /// Hits per arm (default: MoltNet's 2 × limit, with limit 100).
    #[arg(long)]
    pub depth: Option<usize>,
    /// Vector hits farther than this cosine distance are dropped.
    #[arg(long, default_value_t = 0.6)]
    pub max_distance: f32,
    /// Write a TREC run file (`qid Q0 docid rank score tag`).
    #[arg(long)]
    pub run_out: Option<PathBuf>,
    /// Don't reuse or write cached corpus vectors (in <cache>/eval/).
    #[arg(long)]
    pub no_vector_cache: bool,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Parses `rrf`, `rrf:<k>`, `weighted:<wv>:<wt>`, `convex:<alpha>`.
pub fn parse_fusion(s: &str) -> anyhow::Result<Fusion> {
    let parts: Vec<&str> = s.split(':').collect();
    let num = |i: usize| -> anyhow::Result<f32> {
        parts
            .get(i)
            .with_context(|| format!("fusion {s:?}: missing parameter {i}"))?
            .parse::<f32>()
            .with_context(|| format!("fusion {s:?}: parameter {i} is not a number"))
    };
    let f = match parts[0] {
        "rrf" if parts.len() == 1 => Fusion::Rrf { k: 60.0 },
        "rrf" => Fusion::Rrf { k: num(1)? },
        "weighted" => Fusion::WeightedRrf {
            k: 60.0,
            vector_weight: num(1)?,
            text_weight: num(2)?,
        },
        "convex" => Fusion::Convex { alpha: num(1)? },
        other => bail!("unknown fusion {other:?} (rrf, weighted:<wv>:<wt>, convex:<alpha>)"),
    };
    f.validate().map_err(anyhow::Error::msg)?;
    Ok(f)
}

/// Runs the subcommand.
pub fn run(args: EvalArgs) -> anyhow::Result<ExitCode> {
    match args.kind {
        EvalKind::Beir(b) => beir(b),
    }
}

fn beir(args: BeirArgs) -> anyhow::Result<ExitCode> {
    let data = BeirDataset::load(&args.dir, &args.split)?;
    let fusion = parse_fusion(&args.fusion)?;
    let embedder = args.model.embedder()?;
    let engine = Engine::builder()
        .embedder(embedder.clone())
        .open_in_memory()?;
    let diary = engine.create_diary(Diary::new(
        Uuid::now_v7(),
        "beir".into(),
        Visibility::Private,
    )?)?;
    let mode = SearchMode::from(args.mode);
    let vectors = if mode == SearchMode::Text {
        // The text arm never reads a vector: the model does not run.
        placeholder_vectors(data.corpus.len(), embedder.dims())?
    } else {
        let cache = if args.no_vector_cache {
            None
        } else {
            Some(corpus_cache_path(
                &runtime::cache_dir().join("eval"),
                &args.dir.join("corpus.jsonl"),
                embedder.model_id(),
            )?)
        };
        corpus_vectors(&data, &embedder, cache.as_deref())?
    };

    // Import, keeping BEIR doc ids in a side table (entry id → _id).
    let mut doc_of: HashMap<Uuid, String> = HashMap::with_capacity(data.corpus.len());
    let bar = progress(data.corpus.len() as u64, "indexing");
    let dims = vectors.dims();
    let mut skipped = 0usize;
    for (chunk_i, chunk) in data.corpus.chunks(512).enumerate() {
        let base = chunk_i * 512;
        let mut puts = Vec::with_capacity(chunk.len());
        let mut rows = Vec::with_capacity(chunk.len() * dims);
        for (i, d) in chunk.iter().enumerate() {
            let content = if d.text.trim().is_empty() {
                &d.title
            } else {
                &d.text
            };
            if content.trim().is_empty() {
                // An entry needs content; an empty BEIR document can never
                // be relevant to anything, so leaving it out changes no metric.
                skipped += 1;
                continue;
            }
            let id = Uuid::now_v7();
            doc_of.insert(id, d.id.clone());
            let mut e = NewEntry::new(diary.id, content.as_str());
            e.title = (!d.title.trim().is_empty()).then(|| truncate_chars(&d.title, 255));
            puts.push(PutEntry::from(e).with_id(id));
            let row = base + i;
            rows.extend_from_slice(&vectors.as_slice()[row * dims..(row + 1) * dims]);
        }
        engine.put_entries_with_vectors(puts, &Embeddings::from_flat(dims, rows)?)?;
        bar.inc(chunk.len() as u64);
    }
    if skipped > 0 {
        eprintln!("skipped {skipped} empty documents");
    }
    bar.finish_and_clear();

    let start = Instant::now();
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    let mut trec = String::new();
    let bar = progress(data.queries.len() as u64, "searching");
    for q in &data.queries {
        let mut req = SearchRequest::new(
            q.text.clone(),
            Scope::Diaries {
                ids: vec![diary.id],
            },
        );
        req.limit = 100;
        req.mode = mode;
        req.fusion = fusion;
        req.depth = args.depth;
        req.max_distance = args.max_distance;
        req.text_match = args.text_match.into();
        let resp = engine.search(&req)?;
        let ranking: Vec<String> = resp
            .hits
            .iter()
            .filter_map(|h| doc_of.get(&h.entry.id).cloned())
            .collect();
        for (rank, (doc, hit)) in ranking.iter().zip(&resp.hits).enumerate() {
            trec.push_str(&format!(
                "{} Q0 {} {} {:.6} moltsearch\n",
                q.id,
                doc,
                rank + 1,
                hit.score
            ));
        }
        runs.insert(q.id.clone(), ranking);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let took = start.elapsed();
    let metrics = evaluate(&runs, &data.qrels);
    if let Some(path) = &args.run_out {
        std::fs::write(path, trec).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "{} queries in {:.2} s ({:.2} ms/query), corpus {} docs",
        data.queries.len(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e3 / data.queries.len().max(1) as f64,
        data.corpus.len()
    );
    println!("{}", serde_json::to_string(&metrics)?);
    Ok(ExitCode::SUCCESS)
}

fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Distinct unit vectors standing in for a corpus a text-only run never
/// embeds: the engine stores a vector per entry, and identical rows would
/// make a degenerate graph for nothing.
fn placeholder_vectors(n: usize, dims: usize) -> anyhow::Result<Embeddings> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut flat = Vec::with_capacity(n * dims);
    for _ in 0..n {
        let start = flat.len();
        for _ in 0..dims {
            // xorshift64: cheap, deterministic, good enough to spread points.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            flat.push((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5);
        }
        let norm = flat[start..].iter().map(|x| x * x).sum::<f32>().sqrt();
        for x in &mut flat[start..] {
            *x /= norm.max(f32::MIN_POSITIVE);
        }
    }
    Ok(Embeddings::from_flat(dims, flat)?)
}

/// Embeds the corpus as passages, reusing a cached copy when its size fits.
fn corpus_vectors(
    data: &BeirDataset,
    embedder: &moltsearch_engine::embed::Embedder,
    cache: Option<&Path>,
) -> anyhow::Result<Embeddings> {
    if let Some(p) = cache.filter(|p| p.is_file()) {
        eprintln!("corpus vectors: {}", p.display());
    } else {
        embedder.warm_up()?;
    }
    let bar = progress(data.corpus.len() as u64, "embedding");
    let start = Instant::now();
    let v = moltsearch_engine::eval::embed_corpus_cached(embedder, &data.corpus, cache, |n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    eprintln!(
        "corpus vectors ready in {:.1} s ({} docs)",
        start.elapsed().as_secs_f64(),
        data.corpus.len()
    );
    Ok(v)
}
