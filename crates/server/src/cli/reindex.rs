//! `moltsearch reindex`: rebuild a data folder's indexes offline, or
//! re-embed every entry after a model change.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use moltsearch_engine::engine::reindex::reembed;
use moltsearch_engine::engine::OpenProgress;
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::store::stored_source;
use moltsearch_engine::{Engine, StoreError};

use super::common::{progress, spinner};
use super::engine_args::EngineArgs;
use crate::pg;

/// Rebuild indexes from the stored entries.
#[derive(clap::Args, Debug)]
pub struct ReindexArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Re-embed every entry with `--model` (after a model change); without
    /// it, stored vectors are reused and no model runs. With
    /// --database-url: the database's vectors, staged resumably and
    /// switched with the model id in one transaction.
    #[arg(long)]
    pub reembed: bool,
    /// Entries per model call when re-embedding.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Rebuild the data folder as an index cache of this database (the
    /// vectors come from it; no model runs). Stop the server using the
    /// folder first: a folder in use is refused.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: ReindexArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.database_url {
        return from_database(&args, url);
    }
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

/// Rebuilds the index cache in `--data-dir` from the database.
fn from_database(args: &ReindexArgs, url: &str) -> anyhow::Result<ExitCode> {
    let dir = &args.engine.data_dir;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let pool = pg::connect(url, 2).await?;
        pg::migrate::run(&pool).await?;
        if args.reembed {
            let embedder = args.engine.model.embedder()?;
            let held = pg::meta(&pool).await?.model_id;
            if held.as_deref() == Some(embedder.model_id()) {
                println!(
                    "the database's vectors already come from {}",
                    embedder.model_id()
                );
            } else {
                let e = embedder.clone();
                tokio::task::spawn_blocking(move || e.warm_up()).await??;
                let start = Instant::now();
                let bar = progress(0, "re-embedding");
                let done = pg::reembed::reembed(&pool, &embedder, args.batch, &bar).await?;
                bar.finish_and_clear();
                println!(
                    "re-embedded {} entries with {} and switched {} vectors from {} in {:.1} s; \
                     restart every server with --model {} (their caches are rebuilt)",
                    done.embedded,
                    embedder.model_id(),
                    done.switched,
                    held.as_deref().unwrap_or("no model"),
                    start.elapsed().as_secs_f64(),
                    embedder.model_id()
                );
            }
        }
        let meta = pg::meta(&pool).await?;
        let model = args
            .engine
            .model
            .name_for_database(meta.model_id.as_deref());
        let embedder = args.engine.model.embedder_for(&model)?;
        pg::claim_model(&pool, embedder.model_id(), embedder.dims()).await?;
        let open = || {
            Engine::builder()
                .embedder(embedder.clone())
                .vector_index(VectorIndexBuilder::new().quantization(args.engine.quantize.into()))
                .data_dir(dir)
                .durability(moltsearch_engine::Durability::Buffered)
                .external_source(meta.source())
                .open()
        };
        match stored_source(dir)? {
            Some(None) => bail!(
                "{} holds embedded-storage data, not an index cache; reindex it without \
                 --database-url, or give another folder",
                dir.display()
            ),
            Some(Some(_)) => {
                // Opening takes the folder's lock: a folder in use is refused
                // before anything is removed.
                if let Err(moltsearch_engine::Error::Store(e @ StoreError::Locked { .. })) = open()
                {
                    bail!("{e}");
                }
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("removing {}", dir.display()))?;
            }
            None => {}
        }
        let start = Instant::now();
        let engine = Arc::new(open().with_context(|| format!("opening {}", dir.display()))?);
        let bar = progress(0, "loading");
        let done = pg::snapshot::rebuild(&pool, &engine, Some(&bar)).await?;
        bar.finish_and_clear();
        let loaded = start.elapsed();
        let e = engine.clone();
        tokio::task::spawn_blocking(move || e.checkpoint()).await??;
        println!(
            "rebuilt the index cache of {} from the database: {} diaries, {} entries, {} \
             relations at sequence {} in {:.2} s (rows and graph {:.2} s; no model ran)",
            dir.display(),
            done.diaries,
            done.entries,
            done.relations,
            done.seq,
            start.elapsed().as_secs_f64(),
            loaded.as_secs_f64(),
        );
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
