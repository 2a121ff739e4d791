//! Opens an existing data folder, says where opening spent its time and how
//! much memory the engine holds, then runs hybrid searches over the first
//! diary's team.
//!
//! ```sh
//! cargo run --release -p moltsearch-engine --example open_data_folder -- <data-dir> [f32|int8]
//! ```
//!
//! The figures of docs/PERFORMANCE.md ("Memory after opening") come from
//! this program run on the `storage` bench's folders in `.cache/bench/`.

use std::process::ExitCode;
use std::time::Instant;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::index::vector::{Quantization, VectorIndexBuilder};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;

/// A `/proc/self/status` field in MiB (0 where unavailable).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn memory(label: &str) {
    println!(
        "{label}: RSS {:.0} MiB (anonymous {:.0}, file-backed {:.0})",
        status_mib("VmRSS:"),
        status_mib("RssAnon:"),
        status_mib("RssFile:")
    );
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: open_data_folder <data-dir> [f32|int8]");
        return ExitCode::from(2);
    };
    let quantization = match args.next().as_deref() {
        None | Some("f32") => Quantization::None,
        Some("int8") => Quantization::Int8,
        Some(other) => {
            eprintln!("unknown quantization {other:?}: use f32 or int8");
            return ExitCode::from(2);
        }
    };
    match run(&dir, quantization) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(dir: &str, quantization: Quantization) -> moltsearch_engine::Result<()> {
    let embedder = Embedder::builder().build()?;
    let words = [
        "network protocol",
        "a large dog",
        "the color of the sky",
        "music instrument",
        "to run quickly",
        "financial bank",
        "river bank",
        "ancient city",
        "chemical element",
        "small bird",
    ];
    let queries: Vec<String> = (0..200)
        .map(|i| format!("{} {}", words[i % 10], words[(i / 10) % 10]))
        .collect();
    let vectors = embedder.embed_queries(&queries)?;
    memory("model loaded, 200 queries embedded");

    let start = Instant::now();
    let engine = Engine::builder()
        .embedder(embedder)
        .vector_index(VectorIndexBuilder::new().quantization(quantization))
        .data_dir(dir)
        .open()?;
    println!(
        "opened {} entries in {:.0} ms: {:?}; {:?}",
        engine.len(),
        start.elapsed().as_secs_f64() * 1e3,
        engine.open_timings(),
        engine.open_report()
    );
    memory("opened");

    let Some(team) = engine.list_diaries(None).first().map(|d| d.team_id) else {
        println!("no diary: nothing to search");
        return Ok(());
    };
    let start = Instant::now();
    for (i, text) in queries.iter().enumerate() {
        let mut req = SearchRequest::new(text.clone(), Scope::Team { team_id: team });
        req.text_match = TextMatch::Any;
        req.query_vector = Some(vectors.row(i).to_vec());
        engine.search(&req)?;
    }
    println!(
        "{} hybrid searches over the team: {:.2} ms each",
        queries.len(),
        start.elapsed().as_secs_f64() * 1e3 / queries.len() as f64
    );
    memory("after the searches");
    println!("{}", engine.describe_vector_index());
    Ok(())
}
