//! `moltsearch reindex`: rebuild a data folder's indexes offline, or
//! re-embed every entry after a model change.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use moltsearch_engine::engine::reindex::reembed;

use super::common::progress;
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
    // Opening rebuilds every index from the stored entries and vectors; a
    // checkpoint then compacts the log into a fresh snapshot.
    let start = Instant::now();
    let engine = args.engine.open()?;
    engine.optimize_indexes();
    let opened = start.elapsed();
    engine.checkpoint()?;
    println!(
        "rebuilt indexes of {} entries in {:.2} s (open + index), snapshot written in {:.2} s",
        engine.len(),
        opened.as_secs_f64(),
        (start.elapsed() - opened).as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
