//! Persisted vector index (`VectorIndexBuilder::directory`) and int8
//! quantized search: reopening gives the same answers, replaced files go,
//! leftovers are cleaned, damaged files are typed errors naming the file,
//! `retain` and the `before_persist` hook, and the recall cost of int8.
//!
//! Sizes are small (the dev profile builds graphs ~30× slower than release)
//! except where the property needs size; `MOLTSEARCH_TEST_VECTORS=20000`
//! runs the int8 graph recall test at full size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use moltsearch_engine::index::vector::{
    kernel, FileProblem, Hit, Quantization, SegmentedIndex, VectorIndex, VectorIndexBuilder,
    VectorIndexError, VectorLifecycle, VectorRead, VectorWrite, MANIFEST_FILE,
};
use moltsearch_engine::index::DocId;
use moltsearch_engine::Error;
use roaring::RoaringBitmap;

#[path = "common/synthetic.rs"]
mod synthetic;
use synthetic::clustered;

const DIMS: usize = 16;

/// A small persisted index with inline builds (deterministic layout).
fn builder(dir: &Path) -> VectorIndexBuilder {
    VectorIndexBuilder::new()
        .dims(DIMS)
        .m(8)
        .ef_construction(32)
        .seal_threshold(300)
        .min_graph_rows(100)
        .merge_factor(3)
        .background_builds(false)
        .directory(dir)
}

fn fill(idx: &SegmentedIndex, docs: std::ops::Range<u32>, seed: u64) -> Vec<f32> {
    let data = clustered(docs.len(), DIMS, 20, 1.0, seed);
    for (doc, v) in docs.zip(data.chunks(DIMS)) {
        idx.insert(doc, v).unwrap();
    }
    data
}

/// Segment files present in `dir`, sorted.
fn segment_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("segment-") && n.ends_with(".vec"))
        .collect();
    names.sort();
    names
}

/// Segment files the manifest lists, sorted.
fn manifest_files(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(MANIFEST_FILE)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut names: Vec<String> = json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn all_results(idx: &dyn VectorIndex, queries: &[f32], dims: usize) -> Vec<Vec<Hit>> {
    let filter: RoaringBitmap = (0..5000).step_by(3).collect();
    queries
        .chunks(dims)
        .flat_map(|q| {
            [
                idx.search(q, 10, None).unwrap(),
                idx.search(q, 7, Some(&filter)).unwrap(),
            ]
        })
        .collect()
}

fn corrupt_error(e: Error) -> (PathBuf, FileProblem) {
    match e {
        Error::VectorIndex(VectorIndexError::CorruptFile { path, problem }) => (path, problem),
        other => panic!("expected a CorruptFile error, got {other:?}"),
    }
}

#[test]
fn reopen_gives_identical_results_and_members() {
    let dir = tempfile::tempdir().unwrap();
    let queries = clustered(20, DIMS, 20, 1.0, 99);
    let (before, members, stats) = {
        let idx = builder(dir.path()).build().unwrap();
        fill(&idx, 0..2000, 1);
        for d in (0..2000).step_by(13) {
            idx.delete(d);
        }
        idx.flush();
        let stats = idx.stats();
        assert_eq!(stats.buffered_rows, 0);
        assert_eq!(stats.persisted_segments, stats.segments, "{stats:?}");
        assert!(stats.graph_segments >= 1, "{stats:?}");
        // f32 mode with a directory: rows are mapped, none on the heap.
        assert_eq!(stats.vector_bytes_heap, 0, "{stats:?}");
        assert!(stats.vector_bytes_mapped >= (2000 * DIMS * 4) as u64 * 8 / 10);
        (all_results(&idx, &queries, DIMS), idx.members(), stats)
    };
    let idx = builder(dir.path()).build().unwrap();
    // Deletes after the last install are not persisted: the engine's
    // `retain` restores them (see `retain_tombstones_in_one_go`). Segments
    // rebuilt without tombstones keep them out anyway.
    let mut reopened = idx.members();
    assert!(members.is_subset(&reopened));
    let stale = &reopened - &members;
    assert_eq!(idx.retain(&members), stale.len() as usize);
    reopened = idx.members();
    assert_eq!(reopened, members);
    assert_eq!(idx.stats().segment_rows, stats.segment_rows);
    assert_eq!(all_results(&idx, &queries, DIMS), before);
    assert!(idx.describe().contains("persisted"), "{}", idx.describe());
}

#[test]
fn merges_delete_replaced_files_and_the_manifest_lists_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let idx = builder(dir.path()).build().unwrap();
    fill(&idx, 0..3000, 2);
    idx.flush();
    let stats = idx.stats();
    assert!(stats.segments >= 2, "{stats:?}");
    assert_eq!(segment_files(dir.path()), manifest_files(dir.path()));
    assert_eq!(segment_files(dir.path()).len(), stats.segments);
    let before = segment_files(dir.path());
    idx.optimize();
    assert_eq!(idx.stats().segments, 1);
    let after = segment_files(dir.path());
    assert_eq!(after.len(), 1);
    assert_eq!(after, manifest_files(dir.path()));
    assert!(!before.contains(&after[0]), "the merge wrote a new file");
    assert_eq!(idx.len(), 3000);
    drop(idx);
    let idx = builder(dir.path()).build().unwrap();
    assert_eq!(idx.len(), 3000);
    assert_eq!(idx.stats().segments, 1);
}

#[test]
fn leftover_tmp_and_unlisted_files_are_removed_and_ids_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let idx = builder(dir.path()).build().unwrap();
        fill(&idx, 0..400, 3);
        idx.flush();
    }
    let listed = manifest_files(dir.path());
    std::fs::write(dir.path().join("segments.json.tmp"), b"{half").unwrap();
    std::fs::write(dir.path().join("segment-77.vec.tmp"), b"x").unwrap();
    std::fs::write(dir.path().join("segment-999.vec"), b"unlisted").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
    let idx = builder(dir.path()).build().unwrap();
    assert_eq!(idx.len(), 400);
    assert_eq!(segment_files(dir.path()), listed);
    assert!(!dir.path().join("segments.json.tmp").exists());
    assert!(!dir.path().join("segment-77.vec.tmp").exists());
    assert!(dir.path().join("notes.txt").exists());
    // New segments get ids above any file ever seen.
    fill(&idx, 400..800, 4);
    idx.flush();
    let ids: Vec<u64> = segment_files(dir.path())
        .iter()
        .filter(|n| !listed.contains(n))
        .map(|n| n["segment-".len()..n.len() - 4].parse().unwrap())
        .collect();
    assert!(!ids.is_empty() && ids.iter().all(|&id| id > 999), "{ids:?}");
}

/// A persisted index with one segment; returns the segment file.
fn one_segment(dir: &Path) -> PathBuf {
    let idx = builder(dir).build().unwrap();
    fill(&idx, 0..500, 5);
    idx.optimize();
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    dir.join(&files[0])
}

#[test]
fn truncated_segment_file_is_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = one_segment(dir.path());
    let len = std::fs::metadata(&file).unwrap().len();
    for cut in [len - 1, 300, 10, 0] {
        let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let err = builder(dir.path()).build().err().expect("must fail");
        let msg = err.to_string();
        let (path, problem) = corrupt_error(err);
        assert_eq!(path, file);
        assert!(msg.contains(&*file.to_string_lossy()), "{msg}");
        assert!(
            matches!(problem, FileProblem::Truncated { got, .. } if got == cut),
            "{cut}: {problem:?}"
        );
    }
    std::fs::remove_file(&file).unwrap();
    let (path, problem) = corrupt_error(builder(dir.path()).build().err().unwrap());
    assert_eq!((path, problem), (file, FileProblem::Missing));
}

#[test]
fn flipped_bytes_anywhere_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let file = one_segment(dir.path());
    let pristine = std::fs::read(&file).unwrap();
    let len = pristine.len();
    // Header, doc ids, the vectors, the codes, the links, the last byte.
    for at in [3, 20, 70, 260, 300, len / 3, len / 2, 3 * len / 4, len - 1] {
        let mut bytes = pristine.clone();
        bytes[at] ^= 0x10;
        std::fs::write(&file, &bytes).unwrap();
        let err = builder(dir.path())
            .build()
            .err()
            .unwrap_or_else(|| panic!("flip at {at} of {len} not detected"));
        let (path, problem) = corrupt_error(err);
        assert_eq!(path, file);
        assert!(
            matches!(
                problem,
                FileProblem::Checksum { .. } | FileProblem::BadMagic | FileProblem::Invalid(_)
            ),
            "{at}: {problem:?}"
        );
    }
    std::fs::write(&file, &pristine).unwrap();
    assert_eq!(builder(dir.path()).build().unwrap().len(), 500);
    // A damaged manifest names the manifest.
    std::fs::write(dir.path().join(MANIFEST_FILE), b"{\"format\":1,").unwrap();
    let (path, _) = corrupt_error(builder(dir.path()).build().err().unwrap());
    assert_eq!(path, dir.path().join(MANIFEST_FILE));
    // Wiping leaves an empty index.
    SegmentedIndex::wipe(dir.path()).unwrap();
    assert!(segment_files(dir.path()).is_empty());
    assert!(builder(dir.path()).build().unwrap().is_empty());
}

#[test]
fn wrong_dimension_is_refused_and_wipe_recovers() {
    let dir = tempfile::tempdir().unwrap();
    one_segment(dir.path());
    let err = VectorIndexBuilder::new()
        .dims(DIMS + 1)
        .directory(dir.path())
        .build()
        .err()
        .unwrap();
    let (path, problem) = corrupt_error(err);
    assert_eq!(path, dir.path().join(MANIFEST_FILE));
    assert!(matches!(problem, FileProblem::Dims { .. }), "{problem:?}");
    SegmentedIndex::wipe(dir.path()).unwrap();
    let idx = VectorIndexBuilder::new()
        .dims(DIMS + 1)
        .directory(dir.path())
        .build()
        .unwrap();
    assert!(idx.is_empty());
}

#[test]
fn missing_manifest_or_folder_is_an_empty_index() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b/vectors");
    let idx = builder(&sub).build().unwrap();
    assert!(idx.is_empty() && sub.is_dir());
    assert!(!sub.join(MANIFEST_FILE).exists(), "nothing to list yet");
    drop(idx);
    // Segment files without a manifest were never committed: removed.
    let file = one_segment(dir.path());
    std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
    let idx = builder(dir.path()).build().unwrap();
    assert!(idx.is_empty());
    assert!(!file.exists());
    // Wiping a folder that does not exist is fine.
    SegmentedIndex::wipe(dir.path().join("nope")).unwrap();
}

#[test]
fn retain_tombstones_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let queries = clustered(5, DIMS, 20, 1.0, 98);
    {
        let idx = builder(dir.path()).build().unwrap();
        fill(&idx, 0..1000, 6);
        idx.flush();
    }
    let idx = builder(dir.path()).build().unwrap();
    // Also something in the write buffer and in the default impl's path.
    fill(&idx, 1000..1050, 7);
    let keep: RoaringBitmap = (0..1050).filter(|d| d % 4 != 0).collect();
    let removed = idx.retain(&keep);
    assert_eq!(removed, 1050 - keep.len() as usize);
    assert_eq!(idx.members(), keep);
    assert_eq!(idx.len(), keep.len() as usize);
    assert_eq!(idx.retain(&keep), 0);
    for q in queries.chunks(DIMS) {
        let hits = idx.search(q, 1050, None).unwrap();
        assert_eq!(hits.len(), keep.len() as usize);
        assert!(hits.iter().all(|h| keep.contains(h.doc)));
    }
    // The trait's default (one delete at a time) agrees.
    let flat = VectorIndexBuilder::new().dims(DIMS).build_flat().unwrap();
    let data = clustered(100, DIMS, 5, 1.0, 8);
    let docs: Vec<DocId> = (0..100).collect();
    flat.insert_batch(&docs, &data).unwrap();
    assert_eq!(flat.retain(&(0..50).collect()), 50);
    assert_eq!(flat.members(), (0..50).collect());
}

#[test]
fn failing_before_persist_hook_keeps_the_manifest_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let hook = {
        let (ok, calls) = (Arc::clone(&ok), Arc::clone(&calls));
        Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            if ok.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err(std::io::Error::other("log fsync failed"))
            }
        })
    };
    let idx = builder(dir.path()).before_persist(hook).build().unwrap();
    fill(&idx, 0..700, 9);
    idx.flush();
    assert!(calls.load(Ordering::SeqCst) >= 1);
    assert!(!dir.path().join(MANIFEST_FILE).exists());
    // Still searchable in memory.
    assert_eq!(idx.len(), 700);
    // A reopen now would see nothing; the next successful write lists all.
    ok.store(true, Ordering::SeqCst);
    idx.flush();
    assert_eq!(segment_files(dir.path()), manifest_files(dir.path()));
    drop(idx);
    assert_eq!(builder(dir.path()).build().unwrap().len(), 700);
}

#[test]
fn docs_in_two_segments_take_the_newest_copy() {
    // Replacing a doc's vector leaves its old copy in an older persisted
    // segment (tombstones are not persisted): reopening must pick the new one.
    let dir = tempfile::tempdir().unwrap();
    let data = clustered(2, DIMS, 2, 1.0, 10);
    let (old, new) = data.split_at(DIMS);
    {
        let idx = builder(dir.path()).merge_factor(10).build().unwrap();
        fill(&idx, 0..400, 11);
        idx.insert(5000, old).unwrap();
        idx.flush();
        idx.insert(5000, new).unwrap();
        fill(&idx, 400..500, 12);
        idx.flush();
        assert!(idx.stats().segments >= 2);
    }
    let idx = builder(dir.path()).merge_factor(10).build().unwrap();
    assert_eq!(idx.len(), 501);
    assert_eq!(idx.get(5000).unwrap(), new.to_vec());
    assert_eq!(idx.search(new, 1, None).unwrap()[0].doc, 5000);
}

#[test]
fn large_batches_after_open_are_buffered_and_built_in_background() {
    let dir = tempfile::tempdir().unwrap();
    let idx = builder(dir.path()).background_builds(true).build().unwrap();
    let data = clustered(3000, DIMS, 20, 1.0, 13);
    let docs: Vec<DocId> = (0..3000).collect();
    idx.insert_batch(&docs, &data).unwrap();
    // Searchable (exactly) at once.
    assert_eq!(idx.len(), 3000);
    let hit = idx.search(&data[42 * DIMS..43 * DIMS], 1, None).unwrap();
    assert_eq!(hit[0].doc, 42);
    idx.flush();
    let stats = idx.stats();
    assert_eq!(stats.frozen_buffers, 0);
    assert_eq!(stats.persisted_segments, stats.segments);
    drop(idx);
    assert_eq!(builder(dir.path()).build().unwrap().len(), 3000);
}

/// recall@10 of `idx` against `truth`.
fn recall(idx: &dyn VectorIndex, truth: &[Vec<Hit>], queries: &[f32], dims: usize) -> f64 {
    let (mut found, mut total) = (0, 0);
    for (q, t) in queries.chunks(dims).zip(truth) {
        let got = idx.search(q, 10, None).unwrap();
        assert_eq!(got.len(), t.len());
        total += t.len();
        found += got
            .iter()
            .filter(|h| t.iter().any(|x| x.doc == h.doc))
            .count();
        // Distances returned are exact f32 ones.
        for h in &got {
            let v = idx.get(h.doc).unwrap();
            let exact = kernel::cosine_distance(q, &v);
            assert!(
                (h.distance - exact).abs() < 1e-6,
                "{} vs {exact}",
                h.distance
            );
        }
    }
    found as f64 / total as f64
}

#[test]
fn int8_exact_scan_recall_and_memory_at_20k() {
    // 20k × 384 without graphs: the int8 scan + f32 re-scoring path against
    // exact f32, and the memory it holds.
    let (n, dims) = (20_000usize, 384);
    let data = clustered(n + 50, dims, 200, 1.0, 21);
    let (data, queries) = data.split_at(n * dims);
    let docs: Vec<DocId> = (0..n as u32).collect();
    let dir = tempfile::tempdir().unwrap();
    let open = |q: Quantization| {
        VectorIndexBuilder::new()
            .dims(dims)
            .min_graph_rows(usize::MAX)
            .background_builds(false)
            .quantization(q)
            .directory(dir.path())
            .build()
            .unwrap()
    };
    let f32_idx = open(Quantization::None);
    f32_idx.insert_batch(&docs, data).unwrap();
    f32_idx.flush();
    let truth: Vec<Vec<Hit>> = queries
        .chunks(dims)
        .map(|q| f32_idx.search(q, 10, None).unwrap())
        .collect();
    let f32_stats = f32_idx.stats();
    drop(f32_idx);
    let int8 = open(Quantization::Int8);
    let stats = int8.stats();
    let r = recall(&int8, &truth, queries, dims);
    let f32_bytes = (n * dims * 4) as u64;
    eprintln!(
        "int8 exact scan: recall@10 {r:.4}; heap {} B (f32 mode: heap {} B, mapped {} B; f32 rows {f32_bytes} B)",
        stats.vector_bytes_heap, f32_stats.vector_bytes_heap, f32_stats.vector_bytes_mapped
    );
    assert!(r >= 0.99, "recall@10 {r}");
    assert_eq!(stats.quantization, Quantization::Int8);
    assert!(
        stats.vector_bytes_heap as f64 <= 0.4 * f32_bytes as f64,
        "{stats:?}"
    );
    assert_eq!(stats.vector_bytes_mapped, f32_bytes);
}

#[test]
fn int8_graph_recall_loss_is_small_and_reopen_is_identical() {
    // One graph, built once, searched in f32 then (reopened) in int8 mode:
    // the same walk at equal ef, on codes, re-scored exactly.
    let n: usize = std::env::var("MOLTSEARCH_TEST_VECTORS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dims = 384;
    let data = clustered(n + 100, dims, 200, 1.0, 22);
    let (data, queries) = data.split_at(n * dims);
    let docs: Vec<DocId> = (0..n as u32).collect();
    let exact = VectorIndexBuilder::new().dims(dims).build_flat().unwrap();
    exact.insert_batch(&docs, data).unwrap();
    let truth: Vec<Vec<Hit>> = queries
        .chunks(dims)
        .map(|q| exact.search(q, 10, None).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let open = |q: Quantization| {
        VectorIndexBuilder::new()
            .dims(dims)
            .m(16)
            .ef_construction(64)
            .ef_search(32)
            .background_builds(false)
            .quantization(q)
            .directory(dir.path())
            .build()
            .unwrap()
    };
    let f32_idx = open(Quantization::None);
    f32_idx.insert_batch(&docs, data).unwrap();
    f32_idx.flush();
    assert_eq!(f32_idx.stats().graph_segments, 1);
    let r_f32 = recall(&f32_idx, &truth, queries, dims);
    drop(f32_idx);
    let int8 = open(Quantization::Int8);
    let r_int8 = recall(&int8, &truth, queries, dims);
    eprintln!("graph (n {n}, ef 32): recall@10 f32 {r_f32:.4}, int8 {r_int8:.4}");
    assert!(r_int8 >= r_f32 - 0.01, "f32 {r_f32} int8 {r_int8}");
    // Filtered (exact-scan and graph paths) keep working in int8 mode.
    let filter: RoaringBitmap = (0..n as u32).step_by(7).collect();
    for q in queries.chunks(dims).take(10) {
        let want = exact.search(q, 10, Some(&filter)).unwrap();
        let got = int8.search(q, 10, Some(&filter)).unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got.iter().all(|h| filter.contains(h.doc)));
    }
    // Reopening in int8 mode answers identically.
    let before: Vec<Vec<Hit>> = queries
        .chunks(dims)
        .map(|q| int8.search(q, 10, None).unwrap())
        .collect();
    drop(int8);
    let again = open(Quantization::Int8);
    let after: Vec<Vec<Hit>> = queries
        .chunks(dims)
        .map(|q| again.search(q, 10, None).unwrap())
        .collect();
    assert_eq!(before, after);
}

#[test]
fn int8_in_memory_keeps_f32_on_the_heap() {
    let idx = VectorIndexBuilder::new()
        .dims(DIMS)
        .seal_threshold(300)
        .min_graph_rows(100)
        .background_builds(false)
        .quantization(Quantization::Int8)
        .build()
        .unwrap();
    let data = fill(&idx, 0..600, 14);
    idx.flush();
    let s = idx.stats();
    assert_eq!(s.vector_bytes_mapped, 0);
    assert_eq!(
        s.vector_bytes_heap,
        (600 * DIMS * 5 + 600 * 4) as u64,
        "{s:?}"
    );
    for (doc, q) in data.chunks(DIMS).enumerate().step_by(50) {
        assert_eq!(idx.search(q, 1, None).unwrap()[0].doc, doc as DocId);
    }
}

#[test]
fn random_damage_is_an_error_or_a_working_index_never_a_panic() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let file = one_segment(dir.path());
    let pristine = std::fs::read(&file).unwrap();
    let manifest = dir.path().join(MANIFEST_FILE);
    let pristine_manifest = std::fs::read(&manifest).unwrap();
    let query = clustered(1, DIMS, 3, 1.0, 77);
    let mut rng = StdRng::seed_from_u64(0xdead);
    let (mut refused, mut accepted) = (0, 0);
    for round in 0..300 {
        let mut bytes = pristine.clone();
        let mut meta = pristine_manifest.clone();
        match round % 4 {
            // A run of random bytes anywhere.
            0 | 1 => {
                let at = rng.random_range(0..bytes.len());
                let run = rng.random_range(1..=16).min(bytes.len() - at);
                bytes[at..at + run]
                    .iter_mut()
                    .for_each(|b| *b = rng.random());
            }
            // A random length.
            2 => bytes.truncate(rng.random_range(0..bytes.len())),
            // A damaged manifest.
            _ => {
                let at = rng.random_range(0..meta.len());
                meta[at] = rng.random();
            }
        }
        std::fs::write(&file, &bytes).unwrap();
        std::fs::write(&manifest, &meta).unwrap();
        match builder(dir.path()).build() {
            Err(_) => refused += 1,
            Ok(idx) => {
                accepted += 1;
                idx.search(&query, 5, None).unwrap();
            }
        }
    }
    // Restore so the index is usable again.
    std::fs::write(&file, &pristine).unwrap();
    std::fs::write(&manifest, &pristine_manifest).unwrap();
    assert_eq!(builder(dir.path()).build().unwrap().len(), 500);
    assert!(refused > 250, "refused {refused}, accepted {accepted}");
}
