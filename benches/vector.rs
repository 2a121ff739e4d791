//! Vector index speed and recall on 100k clustered 384-d unit vectors
//! (200 random centroids + Gaussian noise of the centroid's norm, like
//! sentence embeddings; uniform random vectors would be a worst case).
//!
//! Builds the index once (bulk `insert_batch`: one HNSW segment, built in
//! parallel; the build time is printed), then measures single-thread top-10
//! latency for: unfiltered HNSW at several `ef`, filtered searches at 10% /
//! 1% / 0.1% selectivity (the index picks graph or exact scan per part), the
//! graph path forced at 1%, and the exact scan of the 1% allowed rows. Each
//! configuration's recall@10 against brute force is printed once.
//!
//! The index is persisted (`VectorIndexBuilder::directory`, a temporary
//! folder unless `MOLTSEARCH_BENCH_DIR` names one, which is then reused
//! across runs if it holds an index of the right size): the setup prints
//! the time to reopen it (f32 and int8 modes, warm page cache), and the
//! same graph is searched twice, `f32/...` on the mapped `f32` rows and
//! `int8/...` on int8 codes with exact re-scoring, with their recall@10 and
//! the vector bytes each holds on the heap / mapped.
//!
//! Run: `cargo bench -p moltsearch-engine --bench vector` (filter, e.g.
//! `-- filtered`). `MOLTSEARCH_BENCH_N` overrides the 100k vectors.
//! `MOLTSEARCH_BENCH_DATA=wordnet` uses real embeddings instead: the cached
//! WordNet gloss vectors `<cache>/eval/wordnet-117659-*.f32` written by the
//! `search` bench (read directly, never embedded here; the last 200 rows
//! are the queries). To time opening a large index without the search
//! benches, e.g. `MOLTSEARCH_BENCH_N=1000000 MOLTSEARCH_BENCH_M=8
//! MOLTSEARCH_BENCH_EFC=16 cargo bench ... -- open_only` (no bench matches;
//! the setup builds, persists and reopens).
//!
//! Reference from the same machine: hnswlib recall@10 0.963 at 7.7k
//! queries/s single thread (ef 32, M 16); exact scan of the 1% allowed rows
//! 0.2 ms.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use moltsearch_engine::embed::runtime;
use moltsearch_engine::index::vector::{
    FlatIndex, Quantization, SearchParams, SegmentedIndex, VectorIndexBuilder, VectorLifecycle,
    VectorRead, VectorWrite,
};
use moltsearch_engine::index::DocId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roaring::RoaringBitmap;

#[path = "../tests/common/synthetic.rs"]
mod synthetic;
use synthetic::{clustered, normalise};

const DIMS: usize = 384;
const QUERIES: usize = 200;

struct Fixture {
    /// f32 search over the mapped rows.
    index: SegmentedIndex,
    /// The same folder opened in int8 mode (both only read it).
    int8: SegmentedIndex,
    exact: FlatIndex,
    queries: Vec<f32>,
    filters: Vec<(&'static str, RoaringBitmap)>,
    _tmp: Option<tempfile::TempDir>,
}

/// The cached WordNet vectors (`n + QUERIES` rows), if asked for and there.
fn wordnet(n: usize) -> Option<Vec<f32>> {
    if std::env::var("MOLTSEARCH_BENCH_DATA").ok()?.as_str() != "wordnet" {
        return None;
    }
    let dir = runtime::cache_dir().join("eval");
    let path = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with("wordnet-") && f.ends_with(".f32"))
        })
        .unwrap_or_else(|| {
            panic!(
                "no wordnet-*.f32 in {} (run the search bench once)",
                dir.display()
            )
        });
    let bytes = std::fs::read(&path).expect("read wordnet vectors");
    let mut data: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert!(
        data.len() >= (n + QUERIES) * DIMS,
        "{} has too few rows",
        path.display()
    );
    data.truncate((n + QUERIES) * DIMS);
    data.chunks_mut(DIMS).for_each(normalise);
    eprintln!(
        "vector bench: {n} WordNet gloss vectors from {}",
        path.display()
    );
    Some(data)
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn open(dir: &std::path::Path, q: Quantization) -> (SegmentedIndex, Duration) {
    let started = Instant::now();
    let mut builder = VectorIndexBuilder::new();
    // Cheaper graphs for open-time runs at 1M (`MOLTSEARCH_BENCH_M`,
    // `MOLTSEARCH_BENCH_EFC`); opening does not depend on them.
    if let Some(m) = env_usize("MOLTSEARCH_BENCH_M") {
        builder = builder.m(m);
    }
    if let Some(ef) = env_usize("MOLTSEARCH_BENCH_EFC") {
        builder = builder.ef_construction(ef);
    }
    let index = builder
        .dims(DIMS)
        .quantization(q)
        .directory(dir)
        .build()
        .expect("open");
    (index, started.elapsed())
}

fn fixture() -> Fixture {
    let n: usize = std::env::var("MOLTSEARCH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Queries come from the same distribution (same centroids), held out.
    let mut data = wordnet(n).unwrap_or_else(|| clustered(n + QUERIES, DIMS, 200, 1.0, 42));
    let queries = data.split_off(n * DIMS);
    let docs: Vec<DocId> = (0..n as u32).collect();

    let (tmp, dir) = match std::env::var_os("MOLTSEARCH_BENCH_DIR") {
        Some(d) => (None, std::path::PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir().expect("temp dir");
            let d = t.path().to_owned();
            (Some(t), d)
        }
    };
    let (existing, _) = open(&dir, Quantization::None);
    let reuse = existing.len() == n;
    drop(existing);
    if !reuse {
        SegmentedIndex::wipe(&dir).expect("wipe");
        let (index, _) = open(&dir, Quantization::None);
        let started = Instant::now();
        index.insert_batch(&docs, &data).expect("bulk insert");
        index.flush();
        eprintln!(
            "vector bench: built and persisted HNSW over {n} x {DIMS}-d in {:.1} s ({} threads; {:?})",
            started.elapsed().as_secs_f64(),
            rayon::current_num_threads(),
            index.stats().segment_rows,
        );
    }
    for q in [
        Quantization::None,
        Quantization::Int8,
        Quantization::None,
        Quantization::Int8,
    ] {
        let (index, spent) = open(&dir, q);
        eprintln!(
            "vector bench: reopened {} rows ({q}) in {:.0} ms",
            index.len(),
            spent.as_secs_f64() * 1e3
        );
    }
    let (index, _) = open(&dir, Quantization::None);
    let (int8, _) = open(&dir, Quantization::Int8);
    for (name, idx) in [("f32", &index), ("int8", &int8)] {
        let s = idx.stats();
        eprintln!(
            "vector bench: {name:<4} vectors {:>7.1} MiB heap, {:>7.1} MiB mapped ({})",
            s.vector_bytes_heap as f64 / (1 << 20) as f64,
            s.vector_bytes_mapped as f64 / (1 << 20) as f64,
            idx.describe()
        );
    }
    let exact = FlatIndex::new(DIMS).expect("flat");
    exact.insert_batch(&docs, &data).expect("flat insert");

    let mut rng = StdRng::seed_from_u64(7);
    let mut filter =
        |p: f64| -> RoaringBitmap { (0..n as u32).filter(|_| rng.random_bool(p)).collect() };
    let filters = vec![
        ("10%", filter(0.1)),
        ("1%", filter(0.01)),
        ("0.1%", filter(0.001)),
    ];
    Fixture {
        index,
        int8,
        exact,
        queries,
        filters,
        _tmp: tmp,
    }
}

/// recall@10 of the index (as configured) against brute force, and mean
/// latency over all queries (timed in one loop after the brute-force pass,
/// so its streaming of every vector does not evict the index from cache).
fn recall(fx: &Fixture, index: &SegmentedIndex, filter: Option<&RoaringBitmap>) -> (f64, Duration) {
    let truth: Vec<Vec<DocId>> = fx
        .queries
        .chunks(DIMS)
        .map(|q| {
            let hits = fx.exact.search(q, 10, filter).expect("exact");
            hits.iter().map(|h| h.doc).collect()
        })
        .collect();
    let started = Instant::now();
    let got: Vec<_> = fx
        .queries
        .chunks(DIMS)
        .map(|q| index.search(q, 10, filter).expect("search"))
        .collect();
    let spent = started.elapsed();
    let (mut found, mut total) = (0usize, 0usize);
    for (got, truth) in got.iter().zip(&truth) {
        assert_eq!(got.len(), truth.len(), "under-filled result");
        total += truth.len();
        found += got.iter().filter(|h| truth.contains(&h.doc)).count();
    }
    (found as f64 / total.max(1) as f64, spent / QUERIES as u32)
}

fn bench_config(
    c: &mut Criterion,
    fx: &Fixture,
    name: &str,
    params: SearchParams,
    filter: Option<&RoaringBitmap>,
) {
    bench_on(c, fx, &fx.index, name, params, filter);
}

fn bench_on(
    c: &mut Criterion,
    fx: &Fixture,
    index: &SegmentedIndex,
    name: &str,
    params: SearchParams,
    filter: Option<&RoaringBitmap>,
) {
    index.set_search_params(params).expect("params");
    let (r, mean) = recall(fx, index, filter);
    eprintln!(
        "vector bench: {name:<28} recall@10 {r:.3}  mean {:>7.1} us  ({:.0} q/s)",
        mean.as_secs_f64() * 1e6,
        1.0 / mean.as_secs_f64()
    );
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            let q = &fx.queries[(i % QUERIES) * DIMS..][..DIMS];
            i += 1;
            index.search(q, 10, filter).expect("search")
        })
    });
}

fn benches(c: &mut Criterion) {
    let fx = fixture();
    let auto = fx.index.search_params();
    let graph_only = SearchParams {
        exact_scan_max: 0,
        exact_scan_fraction: 0.0,
        ..auto
    };
    let exact_only = SearchParams {
        exact_scan_max: usize::MAX,
        ..auto
    };
    for ef in [32, 48, 64, 96, 128] {
        let name = format!("unfiltered/hnsw_ef{ef}");
        bench_config(
            c,
            &fx,
            &name,
            SearchParams {
                ef_search: ef,
                ..auto
            },
            None,
        );
    }
    for (label, f) in &fx.filters {
        bench_config(c, &fx, &format!("filtered_{label}/auto"), auto, Some(f));
    }
    let one = &fx.filters[1].1;
    bench_config(
        c,
        &fx,
        "filtered_10%/graph_forced",
        graph_only,
        Some(&fx.filters[0].1),
    );
    bench_config(c, &fx, "filtered_1%/graph_forced", graph_only, Some(one));
    bench_config(c, &fx, "filtered_1%/exact_scan", exact_only, Some(one));
    fx.index.set_search_params(auto).expect("params");
    // The same graph, f32 rows vs int8 codes + exact re-scoring.
    for ef in [32, 48, 64] {
        let params = SearchParams {
            ef_search: ef,
            ..auto
        };
        bench_on(
            c,
            &fx,
            &fx.index,
            &format!("quant/f32_ef{ef}"),
            params,
            None,
        );
        bench_on(
            c,
            &fx,
            &fx.int8,
            &format!("quant/int8_ef{ef}"),
            params,
            None,
        );
    }
    for (label, params) in [("exact_scan", exact_only), ("graph_forced", graph_only)] {
        for (name, idx) in [("f32", &fx.index), ("int8", &fx.int8)] {
            let f = Some(one);
            bench_on(c, &fx, idx, &format!("quant/{name}_1%_{label}"), params, f);
        }
    }
    fx.index.set_search_params(auto).expect("params");
    fx.int8.set_search_params(auto).expect("params");
}

criterion_group! {
    name = vector;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(vector);
