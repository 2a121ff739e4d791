//! The in-process figures the server's load test is compared with, measured
//! on the same folder, queries and texts: hybrid search with query embedding
//! (p50/p99) and the passage embedding rate of batched writes.
//!
//! Searches are timed twice: with the embedder as `moltsearch serve` tunes
//! it (one single-threaded session per core, batches of 8: what the HTTP
//! figures compare with) and with the library's defaults (one session on
//! every core: the fastest lone query).
//!
//! ```sh
//! cargo run --release -p moltsearch-engine --example inprocess_baseline -- \
//!     <data-dir> <queries.txt> <passages.txt> [batch]
//! ```
//!
//! `benches/load/server.sh` runs it beside `wrk` in one session.

use std::process::ExitCode;
use std::time::Instant;

use moltsearch_engine::embed::{Embedder, EmbedderBuilder, PassageText};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Opens `dir` with `embedder` and times every query, one at a time, over
/// twenty rounds after a warm-up round (sorted milliseconds).
fn timed_searches(
    dir: &str,
    embedder: EmbedderBuilder,
    queries: &[String],
) -> Result<(Vec<f64>, Engine), String> {
    let engine = Engine::builder()
        .embedder(embedder.build().map_err(|e| format!("model: {e}"))?)
        .data_dir(dir)
        .read_only(true)
        .open()
        .map_err(|e| format!("cannot open {dir}: {e}"))?;
    let team = engine
        .list_diaries(None)
        .first()
        .map(|d| d.team_id)
        .ok_or_else(|| format!("{dir} holds no diary"))?;
    engine
        .embedder()
        .warm_up()
        .map_err(|e| format!("model: {e}"))?;
    let mut times = Vec::new();
    for round in 0..21 {
        for q in queries {
            let req = SearchRequest::new(q.clone(), Scope::Team { team_id: team });
            let start = Instant::now();
            engine.search(&req).map_err(|e| format!("search: {e}"))?;
            if round > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    Ok((times, engine))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, queries, passages, rest @ ..] = args.as_slice() else {
        eprintln!("usage: inprocess_baseline <data-dir> <queries.txt> <passages.txt> [batch]");
        return ExitCode::FAILURE;
    };
    let batch: usize = rest.first().and_then(|b| b.parse().ok()).unwrap_or(250);
    let read = |p: &str| -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    };
    let (queries, passages) = (read(queries), read(passages));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let server_tuned = Embedder::builder()
        .workers(cores)
        .intra_threads(1)
        .max_batch_size(8);
    let (library_times, _) = match timed_searches(dir, Embedder::builder(), &queries) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (times, engine) = match timed_searches(dir, server_tuned, &queries) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let texts: Vec<PassageText> = passages
        .iter()
        .map(|p| PassageText {
            title: None,
            content: p.clone(),
            tags: vec![],
        })
        .collect();
    let start = Instant::now();
    for chunk in texts.chunks(batch) {
        engine.embedder().embed_passages(chunk).expect("embed");
    }
    let rate = texts.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "{{\"searchP50Ms\": {:.3}, \"searchP99Ms\": {:.3}, \"libraryDefaultsP50Ms\": {:.3}, \"libraryDefaultsP99Ms\": {:.3}, \"searches\": {}, \"embedPassagesPerSec\": {:.1}, \"passages\": {}}}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&library_times, 0.5),
        percentile(&library_times, 0.99),
        times.len(),
        rate,
        texts.len()
    );
    ExitCode::SUCCESS
}
