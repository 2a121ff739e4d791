//! Search speed on real data: 117k WordNet glosses embedded with the default
//! model, spread over 100 diaries (one diary = 1% of the corpus), with a tag
//! on 10% and a rare tag on 0.1% of the entries. Single-threaded queries.
//!
//! Run: `cargo bench -p moltsearch-engine --bench search` (after
//! `scripts/bootstrap.sh`; the first run embeds the corpus, several minutes
//! on 2 cores, and caches the vectors in `<cache>/eval/`).
//! Set `MOLTSEARCH_BENCH_DOCS` to use fewer documents. The last two cases
//! share the hybrid queries between 1 and 2 threads (time per query).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use moltsearch_engine::Engine;
use uuid::Uuid;

#[path = "common/wordnet.rs"]
mod wordnet;
use wordnet::rss_mib;

struct Setup {
    engine: Engine,
    team: Uuid,
    diaries: Vec<Uuid>,
    queries: Vec<(String, Vec<f32>)>,
}

fn setup() -> Setup {
    let wordnet::Wordnet {
        corpus,
        vectors,
        embedder,
    } = wordnet::load();
    let rss_start = rss_mib();
    let engine = Engine::builder()
        .embedder(embedder.clone())
        .open_in_memory()
        .unwrap();
    let (team, diaries) = wordnet::diaries(&engine);
    let start = Instant::now();
    for (c, chunk) in corpus.chunks(4096).enumerate() {
        let first = c * 4096;
        let puts = chunk
            .iter()
            .enumerate()
            .map(|(i, d)| wordnet::entry(d, first + i, &diaries))
            .collect();
        let rows = wordnet::rows(&vectors, first..first + chunk.len());
        engine.put_entries_with_vectors(puts, &rows).unwrap();
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
    // Concurrency: the same hybrid queries shared by 1 and by 2 threads;
    // the time is per query, so 2 threads scale when it halves. Searches
    // take no write lock (access counts are sharded), so on 2 cores they
    // should.
    for threads in [1usize, 2] {
        g.bench_function(format!("hybrid_all_{threads}_threads"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|scope| {
                    for t in 0..threads {
                        let (s, team) = (&s, &team);
                        scope.spawn(move || {
                            for i in (t as u64..iters).step_by(threads) {
                                let (text, vector) = &s.queries[i as usize % s.queries.len()];
                                let mut req = SearchRequest::new(text.clone(), team.clone());
                                req.text_match = TextMatch::Any;
                                req.query_vector = Some(vector.clone());
                                s.engine.search(&req).unwrap();
                            }
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, search_benches);
criterion_main!(benches);
