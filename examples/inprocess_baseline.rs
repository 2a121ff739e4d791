//! The in-process figures the server's load test is compared with, measured
//! on the same folder, queries and texts: hybrid search with query embedding
//! (p50/p99) and the passage embedding rate of batched writes.
//!
//! ```sh
//! cargo run --release -p moltsearch-engine --example inprocess_baseline -- \
//!     <data-dir> <queries.txt> <passages.txt> [batch]
//! ```
//!
//! `benches/load/server.sh` runs it beside `wrk` in one session.

use std::process::ExitCode;
use std::time::Instant;

use moltsearch_engine::embed::{Embedder, PassageText};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
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
    let engine = match Engine::builder()
        .embedder(Embedder::builder().build().expect("model bootstrapped"))
        .data_dir(dir)
        .read_only(true)
        .open()
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot open {dir}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(team) = engine.list_diaries(None).first().map(|d| d.team_id) else {
        eprintln!("{dir} holds no diary");
        return ExitCode::FAILURE;
    };
    engine.embedder().warm_up().expect("model loads");
    let mut times = Vec::new();
    for round in 0..5 {
        for q in &queries {
            let req = SearchRequest::new(q.clone(), Scope::Team { team_id: team });
            let start = Instant::now();
            engine.search(&req).expect("search");
            if round > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    times.sort_by(f64::total_cmp);
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
        "{{\"searchP50Ms\": {:.3}, \"searchP99Ms\": {:.3}, \"searches\": {}, \"embedPassagesPerSec\": {:.1}, \"passages\": {}}}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.len(),
        rate,
        texts.len()
    );
    ExitCode::SUCCESS
}
