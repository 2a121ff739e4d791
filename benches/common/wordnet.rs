//! WordNet glosses as diary entries, shared by the search and storage
//! benches: the corpus, its vectors (embedded once with the default model
//! and cached in `<cache>/eval/`), and the entries made from it (100
//! diaries, a tag on 10% and a rare tag on 0.1% of the entries).

use std::time::Instant;

use moltsearch_engine::embed::{runtime, Embedder, Embeddings};
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::eval::{embed_corpus_cached, read_corpus, shared_dir, BeirDoc};
use moltsearch_engine::Engine;
use uuid::Uuid;

/// Diaries the entries are spread over (one diary = 1% of the corpus).
pub const DIARIES: usize = 100;

/// The corpus and its passage vectors.
pub struct Wordnet {
    pub corpus: Vec<BeirDoc>,
    pub vectors: Embeddings,
    pub embedder: Embedder,
}

/// Loads the corpus (first `MOLTSEARCH_BENCH_DOCS` documents if set) and
/// its vectors; the first run embeds it (minutes on 2 cores).
pub fn load() -> Wordnet {
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
    Wordnet {
        corpus,
        vectors,
        embedder,
    }
}

/// Creates the benchmark diaries in one team; returns (team, diaries).
pub fn diaries(engine: &Engine) -> (Uuid, Vec<Uuid>) {
    let team = Uuid::now_v7();
    let diaries = (0..DIARIES)
        .map(|i| {
            engine
                .create_diary(Diary::new(team, format!("diary {i}"), Visibility::Private).unwrap())
                .unwrap()
                .id
        })
        .collect();
    (team, diaries)
}

/// The entry for corpus document `doc` as the `n`-th entry loaded.
pub fn entry(doc: &BeirDoc, n: usize, diaries: &[Uuid]) -> PutEntry {
    let mut e = NewEntry::new(diaries[n % diaries.len()], doc.text.clone());
    e.title = Some(doc.title.chars().take(255).collect());
    let mut tags = Vec::new();
    if n % 10 == 3 {
        tags.push("ten-percent".to_string());
    }
    if n % 1000 == 7 {
        tags.push("rare".to_string());
    }
    e.tags = Some(tags);
    PutEntry::from(e)
}

/// Rows `range` of `vectors` as their own [`Embeddings`].
pub fn rows(vectors: &Embeddings, range: std::ops::Range<usize>) -> Embeddings {
    let dims = vectors.dims();
    let flat = vectors.as_slice()[range.start * dims..range.end * dims].to_vec();
    Embeddings::from_flat(dims, flat).unwrap()
}

/// Resident set size of this process in MiB (Linux `/proc`; 0 elsewhere).
pub fn rss_mib() -> f64 {
    proc_status_kib("VmRSS:") / 1024.0
}

/// A `/proc/self/status` field in KiB (0 when unavailable).
pub fn proc_status_kib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}
