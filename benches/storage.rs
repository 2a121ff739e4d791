//! Durable storage on real data (WordNet glosses with their real vectors):
//!
//! - `ingest_precomputed`: bulk ingest with precomputed vectors into a new
//!   data folder, acknowledged writes per second (graph builds go on in the
//!   background; the time until they finish is printed);
//! - `concurrent_single_puts`: writers on several threads, each putting
//!   one entry per call (the server's case), durable and visible per call;
//!   shows the group commit of the log fsync and the text index commit;
//! - `checkpoint_after_10k`: a snapshot of the 100k folder's store after
//!   10,000 more entries (bytes written are printed): vectors are written
//!   once, in runs, so a checkpoint writes the new vectors and the records;
//! - `open_to_first_search`: opening a data folder of 100k entries (and 1M
//!   with `MOLTSEARCH_BENCH_1M=1`) until the first hybrid search returns,
//!   page cache warm. Folders are built once into `<cache>/bench/`.
//!
//! Run: `cargo bench -p moltsearch-engine --bench storage` (after
//! `scripts/bootstrap.sh`; the first run embeds WordNet, several minutes on
//! 2 cores, and builds the 100k folder, about 2 minutes; the 1M folder takes
//! about 15 minutes more).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use moltsearch_engine::embed::{runtime, Embeddings};
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::store::Durability;
use moltsearch_engine::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "common/wordnet.rs"]
mod wordnet;
use wordnet::{proc_status_kib, rss_mib, Wordnet};

/// Entries per timed ingest run.
const INGEST: usize = 20_000;

fn bench_dir() -> PathBuf {
    let dir = runtime::cache_dir().join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An engine on a new folder under the bench cache, with the WordNet
/// diaries; the folder goes when the `TempDir` is dropped.
fn fresh_engine(
    w: &Wordnet,
    durability: Durability,
) -> (tempfile::TempDir, Engine, Vec<uuid::Uuid>) {
    let tmp = tempfile::tempdir_in(bench_dir()).unwrap();
    let engine = Engine::builder()
        .embedder(w.embedder.clone())
        .data_dir(tmp.path())
        .durability(durability)
        .open()
        .unwrap();
    let (_, diaries) = wordnet::diaries(&engine);
    (tmp, engine, diaries)
}

fn ingest(c: &mut Criterion, w: &Wordnet) {
    let n = INGEST.min(w.corpus.len());
    let mut g = c.benchmark_group("ingest_precomputed");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));
    // (name, durability, batch, graph builds paused by `bulk_load`)
    let cases = [
        (
            "builds_running_sync_batch1000",
            Durability::Sync,
            1000,
            false,
        ),
        ("bulk_sync_batch1000", Durability::Sync, 1000, true),
        ("bulk_sync_batch5000", Durability::Sync, 5000, true),
        ("bulk_buffered_batch1000", Durability::Buffered, 1000, true),
    ];
    for (name, durability, batch, bulk) in cases {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_tmp, engine, diaries) = fresh_engine(w, durability);
                    let start = Instant::now();
                    let guard = bulk.then(|| engine.bulk_load());
                    for first in (0..n).step_by(batch) {
                        let end = (first + batch).min(n);
                        let puts = (first..end)
                            .map(|i| wordnet::entry(&w.corpus[i], i, &diaries))
                            .collect();
                        let rows = wordnet::rows(&w.vectors, first..end);
                        engine.put_entries_with_vectors(puts, &rows).unwrap();
                    }
                    let took = start.elapsed();
                    total += took;
                    drop(guard);
                    engine.flush_indexes();
                    eprintln!(
                        "{name}: {n} entries acknowledged in {:.2} s ({:.0}/s); graphs built \
                         {:.2} s later",
                        took.as_secs_f64(),
                        n as f64 / took.as_secs_f64(),
                        (start.elapsed() - took).as_secs_f64()
                    );
                }
                total
            })
        });
    }
    g.finish();
}

/// Builds the folder `name` once with `load`, which gets a fresh engine;
/// a `READY` marker makes later runs reuse it.
fn fixture(
    name: &str,
    vector: VectorIndexBuilder,
    w: &Wordnet,
    load: impl FnOnce(&Engine),
) -> PathBuf {
    let dir = bench_dir().join(format!("{name}-{}", w.embedder.model_id()));
    if dir.join("READY").exists() {
        return dir;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let start = Instant::now();
    let engine = Engine::builder()
        .embedder(w.embedder.clone())
        .vector_index(vector)
        .data_dir(&dir)
        .durability(Durability::Buffered)
        .open()
        .unwrap();
    load(&engine);
    engine.flush_indexes();
    engine.checkpoint().unwrap();
    eprintln!(
        "built {name}: {} entries in {:.0} s; {}",
        engine.len(),
        start.elapsed().as_secs_f64(),
        engine.describe_vector_index()
    );
    drop(engine);
    std::fs::write(dir.join("READY"), b"").unwrap();
    dir
}

/// Loads `total` entries: the corpus over and over, each pass with its
/// own suffix on the text and its vectors jittered (renormalised), so the
/// copies are distinct entries with distinct vectors.
fn load_entries(engine: &Engine, w: &Wordnet, total: usize) {
    let (_, diaries) = wordnet::diaries(engine);
    let _bulk = engine.bulk_load();
    let dims = w.vectors.dims();
    let mut rng = StdRng::seed_from_u64(7);
    let batch = 5000;
    let started = Instant::now();
    let mut n = 0;
    while n < total {
        let pass = n / w.corpus.len();
        let first = n % w.corpus.len();
        let end = (first + batch).min(w.corpus.len()).min(first + total - n);
        let puts = (first..end)
            .map(|i| {
                let mut e = wordnet::entry(&w.corpus[i], n + i - first, &diaries);
                if pass > 0 {
                    e.entry.content = format!("{} (pass {pass})", e.entry.content);
                }
                e
            })
            .collect();
        let rows = if pass == 0 {
            wordnet::rows(&w.vectors, first..end)
        } else {
            let mut flat = w.vectors.as_slice()[first * dims..end * dims].to_vec();
            for row in flat.chunks_mut(dims) {
                row.iter_mut()
                    .for_each(|x| *x += rng.random_range(-0.02..0.02));
                let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                row.iter_mut().for_each(|x| *x /= norm);
            }
            Embeddings::from_flat(dims, flat).unwrap()
        };
        engine.put_entries_with_vectors(puts, &rows).unwrap();
        n += end - first;
        if n % 100_000 < batch {
            eprintln!("  {n} entries in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
}

fn open_and_search(dir: &Path, w: &Wordnet, query: &(String, Vec<f32>)) -> Engine {
    let engine = Engine::builder()
        .embedder(w.embedder.clone())
        .data_dir(dir)
        .open()
        .unwrap();
    let team = engine.list_diaries(None)[0].team_id;
    let mut req = SearchRequest::new(query.0.clone(), Scope::Team { team_id: team });
    req.text_match = TextMatch::Any;
    req.query_vector = Some(query.1.clone());
    let hits = engine.search(&req).unwrap().hits;
    assert_eq!(hits.len(), 10);
    engine
}

fn open_bench(c: &mut Criterion, w: &Wordnet) {
    let query = {
        let text = w.corpus[4242].title.replace(['_', ','], " ");
        let v = w
            .embedder
            .embed_queries(std::slice::from_ref(&text))
            .unwrap();
        (text, v.row(0).to_vec())
    };
    let n100k = 100_000.min(w.corpus.len());
    let mut folders = vec![(
        "open_100k",
        fixture("storage-100k", VectorIndexBuilder::new(), w, |e| {
            load_entries(e, w, n100k);
            e.optimize_indexes();
        }),
    )];
    if std::env::var("MOLTSEARCH_BENCH_1M").is_ok_and(|v| v == "1") {
        // Segments of at most 256k rows built once each, no merges: a 1M
        // graph through the default tiered merges would be rebuilt 4 times.
        let vector = VectorIndexBuilder::new()
            .seal_threshold(1 << 18)
            .max_segment_len(1 << 18);
        folders.push((
            "open_1m",
            fixture("storage-1m", vector, w, |e| load_entries(e, w, 1_000_000)),
        ));
    }
    let mut g = c.benchmark_group("open_to_first_search");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    for (name, dir) in &folders {
        let before = (rss_mib(), proc_status_kib("RssAnon:") / 1024.0);
        let engine = open_and_search(dir, w, &query);
        eprintln!(
            "{name}: {} entries; {:?}; {:?}; RSS +{:.0} MiB ({:.0} MiB anonymous); {}",
            engine.len(),
            engine.open_report(),
            engine.open_timings(),
            rss_mib() - before.0,
            proc_status_kib("RssAnon:") / 1024.0 - before.1,
            engine.describe_vector_index()
        );
        drop(engine);
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let engine = open_and_search(dir, w, &query);
                    total += start.elapsed();
                    drop(engine);
                }
                total
            })
        });
    }
    g.finish();
}

/// Single-entry writes per call on 1, 4 and 16 threads.
fn concurrent_puts(c: &mut Criterion, w: &Wordnet) {
    const PUTS: usize = 400;
    let mut g = c.benchmark_group("concurrent_single_puts");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(PUTS as u64));
    for threads in [1usize, 4, 16] {
        g.bench_function(format!("threads{threads}_sync"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_tmp, engine, diaries) = fresh_engine(w, Durability::Sync);
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for t in 0..threads {
                            let (engine, diaries) = (&engine, &diaries);
                            s.spawn(move || {
                                for i in (t..PUTS).step_by(threads) {
                                    let put = wordnet::entry(&w.corpus[i], i, diaries);
                                    let row = wordnet::rows(&w.vectors, i..i + 1);
                                    engine.put_entries_with_vectors(vec![put], &row).unwrap();
                                }
                            });
                        }
                    });
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

/// Checkpoints of a copy of the 100k folder's store (log, snapshot and
/// runs; no indexes), each after 10,000 more WordNet entries.
fn checkpoint_bench(c: &mut Criterion, w: &Wordnet) {
    use moltsearch_engine::entry::Entry;
    use moltsearch_engine::store::{Record, Store, StoreOptions, StoredEntry};

    const MORE: usize = 10_000;
    let source = fixture("storage-100k", VectorIndexBuilder::new(), w, |e| {
        load_entries(e, w, 100_000.min(w.corpus.len()));
        e.optimize_indexes();
    });
    let tmp = tempfile::tempdir_in(bench_dir()).unwrap();
    for file in std::fs::read_dir(&source).unwrap() {
        let path = file.unwrap().path();
        if path.is_file() && path.file_name().is_some_and(|n| n != "LOCK") {
            std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let options = StoreOptions::new(w.embedder.model_id(), w.embedder.dims());
    let (store, recovered) = Store::open_path(tmp.path(), options).unwrap();
    let diaries: Vec<uuid::Uuid> = recovered.diaries.iter().map(|d| d.id).collect();
    let folder_bytes = |dir: &Path| -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|f| f.unwrap().metadata().unwrap().len())
            .sum()
    };
    let mut g = c.benchmark_group("checkpoint_after_10k");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    g.bench_function("store_100k_plus_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let first = store.next_doc();
                let entries = (0..MORE)
                    .map(|i| {
                        let n = i % w.corpus.len();
                        let put = wordnet::entry(&w.corpus[n], n, &diaries);
                        let entry = Entry::create(put.entry, time::OffsetDateTime::now_utc());
                        StoredEntry {
                            record: std::sync::Arc::new(entry.unwrap().to_record()),
                            doc: first + i as u32,
                            vector: w.vectors.row(n).to_vec(),
                        }
                    })
                    .collect();
                store.append(vec![Record::PutEntries(entries)]).unwrap();
                let before = folder_bytes(tmp.path());
                let start = Instant::now();
                store.checkpoint().unwrap();
                total += start.elapsed();
                let snapshot = format!("{:020}", store.last_seq());
                let written: u64 = std::fs::read_dir(tmp.path())
                    .unwrap()
                    .map(|f| f.unwrap())
                    .filter(|f| f.file_name().to_string_lossy().contains(&snapshot))
                    .map(|f| f.metadata().unwrap().len())
                    .sum();
                eprintln!(
                    "checkpoint of {} entries wrote {:.1} MiB (folder {:.0} MiB before)",
                    store.len(),
                    written as f64 / (1 << 20) as f64,
                    before as f64 / (1 << 20) as f64
                );
            }
            total
        })
    });
    g.finish();
}

/// Whether the command line's filter (if any) can select benchmarks of
/// `group`: fixtures are built only for groups that will run.
fn wanted(group: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    filters.is_empty()
        || filters
            .iter()
            .any(|f| group.contains(f.as_str()) || f.contains(group))
}

fn storage_benches(c: &mut Criterion) {
    let w = wordnet::load();
    if wanted("ingest_precomputed") {
        ingest(c, &w);
    }
    if wanted("concurrent_single_puts") {
        concurrent_puts(c, &w);
    }
    if wanted("checkpoint_after_10k") {
        checkpoint_bench(c, &w);
    }
    if wanted("open_to_first_search") {
        open_bench(c, &w);
    }
}

criterion_group!(benches, storage_benches);
criterion_main!(benches);
