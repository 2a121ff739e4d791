//! `moltsearch reindex`: rebuild a data folder's indexes offline, or
//! re-embed every entry after a model change.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use moltsearch_engine::engine::reindex::reembed;
use moltsearch_engine::engine::OpenProgress;

use super::common::{progress, spinner};
use super::engine_args::EngineArgs;

/// Rebuild indexes from the stored entries.
#[derive(clap::Args, Debug)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Re-embed every entry with `--model` (after a model change); without
    /// it, stored vectors are reused and no model runs.
    #[arg(long)]
    pub reembed: bool,
    /// Entries per model call when re-embedding.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
}

/// Runs the subcommand.
pub fn run(args: ReindexArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.engine.data_dir;
    if args.reembed {
        let embedder = args.engine.model.embedder()?;
        embedder.warm_up()?;
        let bar = progress(0, "re-embedding");
        let report = reembed(dir, &embedder, args.batch, |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        })
        .with_context(|| format!("re-embedding {}", dir.display()))?;
        bar.finish_and_clear();
        println!(
            "re-embedded {} entries ({} diaries, {} relations) from {} to {} in {:.1} s ({:.1} s in the model, {:.0} entries/s)",
            report.entries,
            report.diaries,
            report.relations,
            report.from_model,
            report.to_model,
            report.total_seconds,
            report.embed_seconds,
            report.entries as f64 / report.embed_seconds.max(1e-9)
        );
    }
    // The store is the source of truth: both index folders are discarded and
    // rebuilt from the stored entries and vectors (the model does not run).
    let start = Instant::now();
    let bar = progress(0, "indexing");
    let shown = bar.clone();
    let on_progress: OpenProgress = Arc::new(move |phase, done, total| {
        shown.set_message(phase);
        shown.set_length(total);
        shown.set_position(done);
    });
    let engine = args.engine.open_with(|b| {
        b.create_if_missing(false)
            .rebuild_indexes(true)
            .open_progress(on_progress)
    })?;
    bar.finish_and_clear();
    let spinner = spinner("building the HNSW graph");
    let report = engine.open_report().clone();
    let loaded = start.elapsed();
    engine.optimize_indexes();
    let built = start.elapsed();
    spinner.set_message("writing a snapshot");
    engine.checkpoint()?;
    spinner.finish_and_clear();
    println!(
        "rebuilt the indexes of {} entries in {:.2} s: text ({} documents) and vectors \
         ({} rows) loaded in {:.2} s, graph built in {:.2} s, snapshot in {:.2} s; {}",
        engine.len(),
        start.elapsed().as_secs_f64(),
        report.text_added,
        report.vectors_added,
        loaded.as_secs_f64(),
        (built - loaded).as_secs_f64(),
        (start.elapsed() - built).as_secs_f64(),
        engine.describe_vector_index()
    );
    Ok(ExitCode::SUCCESS)
}
