//! `moltsearch demo`: the shipped demo diary in a data folder, searched.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use moltsearch_engine::entry::{Diary, Visibility};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;
use uuid::Uuid;

use super::import::entry_line;
use super::model_args::ModelArgs;

/// Load the demo diary into embedded storage (once) and show hybrid searches.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// The diary, as JSON lines with title, content, tags, entryType, importance,
    /// createdAt (default: the shipped data/demo-diary.jsonl, built into the binary).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Data folder (default: <cache>/demo-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Queries to run (defaults to a few typical agent questions).
    #[arg(long = "query")]
    pub queries: Vec<String>,
    /// Results per query.
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

const DEMO_DIARY: &str = "tern's diary";

/// The shipped demo diary, so `demo` works from any working folder.
const SHIPPED_DIARY: &str = include_str!("../../../../data/demo-diary.jsonl");

/// Runs the subcommand.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| moltsearch_engine::embed::runtime::cache_dir().join("demo-data"));
    let start = Instant::now();
    let model = args.model.name_for_folder(&data_dir)?;
    let engine = Engine::builder()
        .embedder(args.model.embedder_for(&model)?)
        .data_dir(&data_dir)
        .open()
        .with_context(|| format!("opening {}", data_dir.display()))?;
    println!(
        "opened embedded storage {} in {:.0} ms ({} entries)",
        data_dir.display(),
        start.elapsed().as_secs_f64() * 1e3,
        engine.len()
    );
    let team = Uuid::nil();
    let diary = match engine
        .list_diaries(Some(team))
        .into_iter()
        .find(|d| d.name == DEMO_DIARY)
    {
        Some(d) => d,
        None => {
            let d =
                engine.create_diary(Diary::new(team, DEMO_DIARY.into(), Visibility::Private)?)?;
            load(&engine, &d, args.file.as_deref())?;
            d
        }
    };
    let queries = if args.queries.is_empty() {
        vec![
            "how do we rotate the signing keys?".to_string(),
            "deploy -staging".to_string(),
            "tuning the vector index for recall".to_string(),
        ]
    } else {
        args.queries
    };
    for query in &queries {
        let mut req = SearchRequest::new(
            query.clone(),
            Scope::Diaries {
                ids: vec![diary.id],
            },
        );
        req.limit = args.limit;
        req.explain = true;
        let start = Instant::now();
        let resp = engine.search(&req)?;
        println!(
            "\nquery: {query:?}  hybrid, {} of {}{} in {:.1} ms",
            resp.hits.len(),
            resp.total,
            if resp.total_is_lower_bound { "+" } else { "" },
            start.elapsed().as_secs_f64() * 1e3
        );
        for h in &resp.hits {
            let e = &h.entry;
            let title = e
                .title
                .clone()
                .unwrap_or_else(|| e.content.chars().take(60).collect());
            let x = h.explain.clone().unwrap_or_default();
            println!(
                "  {:.3}  [{}] {title}  {{{}}}  vector #{} text #{}",
                h.score,
                e.entry_type.as_str(),
                e.tags.join(", "),
                x.vector_rank.map_or("-".into(), |r| r.to_string()),
                x.text_rank.map_or("-".into(), |r| r.to_string()),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn load(engine: &Engine, diary: &Diary, file: Option<&Path>) -> anyhow::Result<()> {
    let (raw, name) = match file {
        Some(f) => (
            std::fs::read_to_string(f)
                .with_context(|| format!("reading demo diary {}", f.display()))?,
            f.display().to_string(),
        ),
        None => (
            SHIPPED_DIARY.to_string(),
            "data/demo-diary.jsonl".to_string(),
        ),
    };
    let mut puts = Vec::new();
    for (i, line) in raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        puts.push(
            entry_line(line, diary.id)
                .with_context(|| format!("{name}:{}: not a diary entry", i + 1))?,
        );
    }
    let start = Instant::now();
    let n = puts.len();
    engine.put_entries(puts)?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "loaded {n} demo entries (embedded, indexed, stored durably) in {secs:.1} s ({:.0} entries/s)",
        n as f64 / secs
    );
    Ok(())
}
