//! Search speed on real data: 117k WordNet glosses embedded with the default
//! model, spread over 100 diaries (one diary = 1% of the corpus), with a tag
//! on 10% and a rare tag on 0.1% of the entries. Single-threaded queries.
//!
//! Run: `cargo bench -p moltsearch-engine --bench search` (after
//! `scripts/bootstrap.sh`; the first run embeds the corpus, several minutes
//! on 2 cores, and caches the vectors in `<cache>/eval/`).
//! Set `MOLTSEARCH_BENCH_DOCS` to use fewer documents.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use moltsearch_engine::embed::{runtime, Embedder, Embeddings};
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::eval::{embed_corpus_cached, read_corpus, shared_dir};
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use moltsearch_engine::Engine;
use uuid::Uuid;

struct Setup {
    engine: Engine,
    team: Uuid,
    diaries: Vec<Uuid>,
    queries: Vec<(String, Vec<f32>)>,
}

fn setup() -> Setup {
    let path = shared_dir().join("data/wordnet/corpus.jsonl");
    let mut corpus = read_corpus(&path).unwrap_or_else(|e| panic!("{e} (set MOLTSEARCH_SHARED)"));
    if let Some(n) = std::env::var("MOLTSEARCH_BENCH_DOCS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        corpus.truncate(n);
    }
    corpus.retain(|d| !d.text.trim().is_empty());
    let embedder = Embedder::builder()
        .build()
        .expect("run scripts/bootstrap.sh");
    let cache = runtime::cache_dir().join("eval").join(format!(
        "wordnet-{}-{}.f32",
        corpus.len(),
        embedder.model_id()
    ));
    let start = Instant::now();
    let vectors = embed_corpus_cached(&embedder, &corpus, Some(&cache), |_| {}).unwrap();
    eprintln!(
        "corpus vectors: {} in {:.1} s",
        vectors.len(),
        start.elapsed().as_secs_f64()
    );

    let rss_start = rss_mib();
    let engine = Engine::builder()
        .embedder(embedder.clone())
        .open_in_memory()
        .unwrap();
    let team = Uuid::now_v7();
    let diaries: Vec<Uuid> = (0..100)
        .map(|i| {
            engine
                .create_diary(Diary::new(team, format!("diary {i}"), Visibility::Private).unwrap())
                .unwrap()
                .id
        })
        .collect();
    let start = Instant::now();
    let dims = vectors.dims();
    for (c, chunk) in corpus.chunks(4096).enumerate() {
        let puts: Vec<PutEntry> = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let n = c * 4096 + i;
                let mut e = NewEntry::new(diaries[n % 100], d.text.clone());
                e.title = Some(d.title.chars().take(255).collect());
                let mut tags = Vec::new();
                if n % 10 == 3 {
                    tags.push("ten-percent".to_string());
                }
                if n % 1000 == 7 {
                    tags.push("rare".to_string());
                }
                e.tags = Some(tags);
                PutEntry::from(e)
            })
            .collect();
        let rows = vectors.as_slice()[c * 4096 * dims..(c * 4096 + chunk.len()) * dims].to_vec();
        engine
            .put_entries_with_vectors(puts, &Embeddings::from_flat(dims, rows).unwrap())
            .unwrap();
    }
    eprintln!(
        "indexed {} entries in {:.1} s ({:.0} entries/s, precomputed vectors)",
        corpus.len(),
        start.elapsed().as_secs_f64(),
        corpus.len() as f64 / start.elapsed().as_secs_f64()
    );
    let rss_loaded = rss_mib();
    engine.optimize_indexes();
    eprintln!(
        "index optimised (one graph) after {:.1} s: {}",
        start.elapsed().as_secs_f64(),
        engine.describe_vector_index()
    );
    eprintln!(
        "RSS: {:.0} MiB before loading, {:.0} MiB loaded, {:.0} MiB after optimize \
         (includes the model, the flat vector copy in the bench and {} entries)",
        rss_start,
        rss_loaded,
        rss_mib(),
        corpus.len()
    );
    // Queries: lemma lists of every 997th gloss, with their gloss vectors
    // perturbed by being the title only (embedded for real).
    let texts: Vec<String> = corpus
        .iter()
        .step_by(997)
        .take(64)
        .map(|d| d.title.replace(['_', ','], " "))
        .collect();
    let qv = embedder.embed_queries(&texts).unwrap();
    let queries = texts
        .into_iter()
        .zip(qv.rows().map(<[f32]>::to_vec))
        .collect();
    Setup {
        engine,
        team,
        diaries,
        queries,
    }
}

/// Resident set size of this process in MiB (Linux `/proc`; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn search_benches(c: &mut Criterion) {
    let s = setup();
    let mut g = c.benchmark_group("search_wordnet");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let team = Scope::Team { team_id: s.team };
    let one_diary = Scope::Diaries {
        ids: vec![s.diaries[17]],
    };
    let cases: Vec<(&str, Scope, Vec<String>, SearchMode)> = vec![
        ("hybrid_all", team.clone(), vec![], SearchMode::Hybrid),
        (
            "hybrid_diary_1pct",
            one_diary.clone(),
            vec![],
            SearchMode::Hybrid,
        ),
        (
            "hybrid_tag_10pct",
            team.clone(),
            vec!["ten-percent".into()],
            SearchMode::Hybrid,
        ),
        (
            "hybrid_tag_0.1pct",
            team.clone(),
            vec!["rare".into()],
            SearchMode::Hybrid,
        ),
        ("vector_all", team.clone(), vec![], SearchMode::Vector),
        ("vector_diary_1pct", one_diary, vec![], SearchMode::Vector),
        ("text_all", team.clone(), vec![], SearchMode::Text),
    ];
    for (name, scope, tags, mode) in cases {
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                let (text, vector) = &s.queries[i % s.queries.len()];
                i += 1;
                let mut req = SearchRequest::new(text.clone(), scope.clone());
                req.filters.tags = tags.clone();
                req.mode = mode;
                req.text_match = TextMatch::Any;
                req.query_vector = Some(vector.clone());
                s.engine.search(&req).unwrap()
            })
        });
    }
    // End to end: the query embedded inside the call.
    let mut i = 0usize;
    g.bench_function("hybrid_all_with_embedding", |b| {
        b.iter(|| {
            let (text, _) = &s.queries[i % s.queries.len()];
            i += 1;
            let mut req = SearchRequest::new(text.clone(), team.clone());
            req.text_match = TextMatch::Any;
            s.engine.search(&req).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, search_benches);
criterion_main!(benches);
