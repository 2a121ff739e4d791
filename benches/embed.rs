//! Embedding speed: single query and passage latency, mixed-length batches
//! (bucketed vs naive padding vs one at a time) and concurrent queries
//! (gathered vs sequential), for MiniLM and the e5-small-v2-shaped bench
//! model, fp32 and int8.
//!
//! Run: `cargo bench -p moltsearch-engine --bench embed` (after
//! `scripts/bootstrap.sh`). Filter, e.g. `-- e5-shape-bench-int8/passage`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use moltsearch_engine::embed::{Embedder, PassageText, TextKind};

const MODELS: [&str; 4] = [
    "all-minilm-l6-v2",
    "all-minilm-l6-v2-int8",
    "e5-shape-bench",
    "e5-shape-bench-int8",
];

const WORDS: &[&str] = &[
    "deploy",
    "the",
    "index",
    "after",
    "migration",
    "failed",
    "because",
    "signing",
    "key",
    "rotation",
    "was",
    "late",
    "and",
    "staging",
    "cluster",
    "ran",
    "out",
    "of",
    "memory",
    "while",
    "rebuilding",
    "graph",
    "we",
    "lowered",
    "batch",
    "size",
    "agent",
    "diary",
    "entry",
    "search",
    "query",
    "latency",
    "budget",
    "postgres",
    "vector",
    "text",
    "team",
    "review",
    "incident",
    "fixed",
    "tests",
    "passed",
    "production",
    "release",
    "notes",
];

/// A text of about `tokens` tokens (special tokens included, capped at the
/// model's limit), from a fixed word stream starting at `seed`.
fn text_of(embedder: &Embedder, tokens: usize, seed: usize) -> String {
    let tokens = tokens.min(embedder.profile().max_tokens);
    let mut words: Vec<&str> = Vec::new();
    let mut i = seed;
    loop {
        words.push(WORDS[(i * 7 + 3) % WORDS.len()]);
        i += 1;
        let text = words.join(" ");
        let n = embedder.token_ids(&text).expect("tokenize").len();
        if n >= tokens {
            return text;
        }
    }
}

fn embedder(model: &str, buckets: bool) -> Embedder {
    let e = Embedder::builder()
        .model(model)
        .length_buckets(buckets)
        .build()
        .unwrap_or_else(|e| panic!("{e} (run scripts/bootstrap.sh)"));
    e.warm_up().expect("warm up");
    e
}

fn bench_model(c: &mut Criterion, model: &str) {
    let e = embedder(model, true);
    let naive = embedder(model, false);
    let query = text_of(&e, 16, 0);
    let passage = text_of(&e, 128, 5);
    // 64 passages of 10..=300 tokens, deterministic and shuffled by length.
    let mixed: Vec<String> = (0..64)
        .map(|i| text_of(&e, 10 + (i * 149) % 291, i))
        .collect();
    let queries: Vec<String> = (0..64).map(|i| text_of(&e, 12 + i % 8, i * 3)).collect();

    let mut g = c.benchmark_group(model);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    g.throughput(Throughput::Elements(1));
    g.bench_function("query_16tok", |b| {
        b.iter(|| e.embed_queries(&[query.as_str()]).unwrap())
    });
    g.bench_function("passage_128tok", |b| {
        b.iter(|| {
            e.embed_texts(TextKind::Passage, vec![passage.clone()])
                .unwrap()
        })
    });
    let batch32: Vec<PassageText> = (0..32).map(|_| PassageText::new(passage.clone())).collect();
    g.throughput(Throughput::Elements(32));
    g.bench_function("passages_32x128tok", |b| {
        b.iter(|| e.embed_passages(&batch32).unwrap())
    });

    g.throughput(Throughput::Elements(64));
    for (name, emb) in [("bucketed", &e), ("naive_padded", &naive)] {
        g.bench_with_input(BenchmarkId::new("mixed64", name), &mixed, |b, m| {
            b.iter(|| emb.embed_texts(TextKind::Passage, m.clone()).unwrap())
        });
    }
    g.bench_with_input(
        BenchmarkId::new("mixed64", "one_at_a_time"),
        &mixed,
        |b, m| {
            b.iter(|| {
                for t in m {
                    e.embed_texts(TextKind::Passage, vec![t.clone()]).unwrap();
                }
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("queries64", "sequential"),
        &queries,
        |b, qs| {
            b.iter(|| {
                for q in qs {
                    e.embed_queries(&[q.as_str()]).unwrap();
                }
            })
        },
    );
    g.bench_with_input(
        BenchmarkId::new("queries64", "concurrent"),
        &queries,
        |b, qs| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for q in qs {
                        let e = &e;
                        s.spawn(move || e.embed_queries(&[q.as_str()]).unwrap());
                    }
                })
            })
        },
    );
    g.finish();
}

fn embed_benches(c: &mut Criterion) {
    for model in MODELS {
        bench_model(c, model);
    }
}

criterion_group!(benches, embed_benches);
criterion_main!(benches);
