//! `moltsearch demo`: embed the shipped demo diary and show searches.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use moltsearch_engine::embed::PassageText;
use serde::Deserialize;

use super::model_args::ModelArgs;

/// Embed the demo diary in memory and run searches over it.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// The diary, as JSON lines with title, content, tags, entryType.
    #[arg(long, default_value = "data/demo-diary.jsonl")]
    pub file: PathBuf,
    /// Queries to run (defaults to a few typical agent questions).
    #[arg(long = "query")]
    pub queries: Vec<String>,
    /// Results per query.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoEntry {
    title: Option<String>,
    content: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    entry_type: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading demo diary {}", args.file.display()))?;
    let entries = raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<DemoEntry>(l)
                .with_context(|| format!("{}:{}: not a diary entry", args.file.display(), i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let embedder = args.model.embedder()?;
    let cold = embedder.warm_up()?;
    println!(
        "model {} loaded and warmed up in {:.0} ms",
        embedder.model_id(),
        cold.as_secs_f64() * 1e3
    );
    let passages: Vec<PassageText> = entries
        .iter()
        .map(|e| PassageText {
            title: e.title.clone(),
            content: e.content.clone(),
            tags: e.tags.clone(),
        })
        .collect();
    let start = Instant::now();
    let vectors = embedder.embed_passages(&passages)?;
    let took = start.elapsed().as_secs_f64();
    println!(
        "embedded {} diary entries in {:.2} s ({:.0} entries/s)",
        vectors.len(),
        took,
        vectors.len() as f64 / took
    );
    let queries = if args.queries.is_empty() {
        vec![
            "how do we rotate the signing keys?".to_string(),
            "what went wrong deploying to production".to_string(),
            "tuning the vector index for recall".to_string(),
        ]
    } else {
        args.queries
    };
    for query in &queries {
        let start = Instant::now();
        let q = embedder.embed_queries(&[query.as_str()])?;
        let mut scored: Vec<(f32, usize)> = vectors
            .rows()
            .enumerate()
            .map(|(i, v)| (v.iter().zip(q.row(0)).map(|(a, b)| a * b).sum(), i))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!(
            "\nquery: {query:?}  ({:.1} ms, vector search)",
            start.elapsed().as_secs_f64() * 1e3
        );
        for (score, i) in scored.into_iter().take(args.limit) {
            let e = &entries[i];
            let title = e.title.clone().unwrap_or_else(|| snippet(&e.content, 60));
            println!(
                "  {score:.3}  [{}] {title}  {{{}}}",
                e.entry_type.as_deref().unwrap_or("semantic"),
                e.tags.join(", ")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn snippet(text: &str, max_chars: usize) -> String {
    let mut s: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        s.push('…');
    }
    s
}
