//! `moltsearch import`: load entries into a data folder.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::NewEntry;
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::common::progress;
use super::engine_args::{diary_named, DiaryArgs, EngineArgs};

/// Import a file into a diary of a data folder.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The diary (created by `import` when missing).
    #[command(flatten)]
    pub target: DiaryArgs,
    /// Input format.
    #[arg(long, value_enum, default_value = "entries")]
    pub format: Format,
    /// Entries per write batch (one embedding batch and one durable log write).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// The file: JSON lines.
    pub file: PathBuf,
}

/// Input formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// BEIR corpus lines `{"_id", "title", "text"}`: title → title, text → content.
    Beir,
    /// Entry lines: `{"title", "content", "tags", "entryType", "importance",
    /// "createdAt", ...}` (MoltNet's fields, camelCase).
    Entries,
}

#[derive(Deserialize)]
struct BeirLine {
    #[serde(default)]
    title: String,
    text: String,
}

/// Runs the subcommand.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let raw = std::fs::File::open(&args.file)
        .with_context(|| format!("opening {}", args.file.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(raw)
        .lines()
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", args.file.display()))?;
    let engine = args.engine.open()?;
    let diary = diary_named(&engine, args.target.team, &args.target.diary)?;
    let mut puts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = || format!("{}:{}", args.file.display(), i + 1);
        let put = match args.format {
            Format::Beir => {
                let b: BeirLine = serde_json::from_str(line).with_context(at)?;
                let mut e = NewEntry::new(diary.id, b.text);
                e.title = (!b.title.trim().is_empty()).then_some(b.title);
                PutEntry::from(e)
            }
            Format::Entries => entry_line(line, diary.id).with_context(at)?,
        };
        puts.push(put);
    }
    let bar = progress(puts.len() as u64, "importing");
    let start = Instant::now();
    let total = puts.len();
    let mut iter = puts.into_iter().peekable();
    let mut done = 0usize;
    // Graph builds wait for the end: the model gets every core meanwhile,
    // and one build of everything is less work than tiers of merges.
    let bulk = engine.bulk_load();
    while iter.peek().is_some() {
        let batch: Vec<PutEntry> = iter.by_ref().take(args.batch).collect();
        let n = batch.len();
        engine
            .put_entries(batch)
            .with_context(|| format!("importing entries {}..{}", done, done + n))?;
        done += n;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    drop(bulk);
    // One graph answers faster than the tier of segments a bulk load leaves.
    engine.optimize_indexes();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "imported {total} entries into diary {:?} ({}) in {secs:.1} s ({:.0} entries/s); diary now has {} entries",
        diary.name,
        diary.id,
        total as f64 / secs.max(1e-9),
        engine
            .list(&moltsearch_engine::engine::ListRequest {
                scope: moltsearch_engine::search::request::Scope::Diaries { ids: vec![diary.id] },
                limit: 1,
                ..Default::default()
            })?
            .total
    );
    Ok(ExitCode::SUCCESS)
}

/// One `entries` line: MoltNet's entry fields, plus optional `id` and `createdAt`.
pub fn entry_line(line: &str, diary: Uuid) -> anyhow::Result<PutEntry> {
    let mut value: serde_json::Value = serde_json::from_str(line)?;
    let obj = value
        .as_object_mut()
        .context("each line must be a JSON object")?;
    let created_at = obj
        .remove("createdAt")
        .filter(|v| !v.is_null())
        .map(|v| {
            let s = v.as_str().context("createdAt must be an RFC 3339 string")?;
            OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("createdAt {s:?} is not RFC 3339"))
        })
        .transpose()?;
    let id = obj
        .remove("id")
        .filter(|v| !v.is_null())
        .map(serde_json::from_value::<Uuid>)
        .transpose()
        .context("id must be a UUID")?;
    obj.insert(
        "diaryId".into(),
        serde_json::Value::String(diary.to_string()),
    );
    let entry: NewEntry = serde_json::from_value(value)?;
    let mut put = PutEntry::from(entry);
    put.id = id;
    put.created_at = created_at;
    Ok(put)
}
