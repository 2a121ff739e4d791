//! Persisted indexes of a data folder: a reopen loads them and indexes only
//! what the log has and they lack; missing, damaged or too-new index folders
//! are rebuilt from the store, with the same search results and without
//! running the model.

use std::path::Path;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{Engine, OpenReport, PutEntry, TEXT_DIR, VECTORS_DIR};
use moltsearch_engine::entry::{Diary, EntryPatch, NewEntry, Visibility};
use moltsearch_engine::index::text::TextIndex;
use moltsearch_engine::index::vector::{VectorIndexBuilder, VectorRead, VectorWrite};
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use uuid::Uuid;

const TOPICS: [&str; 8] = [
    "Rotated the Ed25519 signing key for the notifier agent",
    "Postgres migration added an index on entries created_at",
    "The HNSW graph rebuild took nine minutes on staging",
    "Ducks on the park webcam during the lunch break",
    "Decided to keep signing keys for ninety days",
    "Tantivy segment merges stalled the import job",
    "The recency weight now decays over thirty days",
    "Agents share a team diary for incident notes",
];

fn embedder() -> Embedder {
    Embedder::builder().build().expect("model bootstrapped")
}

/// Small segments with graphs, so a few dozen entries exercise persisted
/// HNSW segments.
fn open(dir: &Path, e: &Embedder, rebuild: bool) -> Engine {
    Engine::builder()
        .embedder(e.clone())
        .vector_index(
            VectorIndexBuilder::new()
                .seal_threshold(16)
                .min_graph_rows(8),
        )
        .data_dir(dir)
        .rebuild_indexes(rebuild)
        .open()
        .unwrap()
}

/// Fills a diary with 48 entries, lets the vector index persist its
/// segments, then deletes one entry and rewrites another (after the last
/// persist, so the saved indexes are behind the log). Returns the diary.
fn fill(dir: &Path, e: &Embedder) -> Uuid {
    let engine = open(dir, e, false);
    let diary = engine
        .create_diary(Diary::new(Uuid::now_v7(), "d".into(), Visibility::Private).unwrap())
        .unwrap();
    let batch: Vec<PutEntry> = (0..48)
        .map(|i| {
            let text = format!("{} (note {i})", TOPICS[i % TOPICS.len()]);
            PutEntry::from(NewEntry::new(diary.id, text))
        })
        .collect();
    let recs = engine.put_entries(batch).unwrap();
    engine.flush_indexes();
    engine.delete_entry(recs[3].id).unwrap();
    let patch: EntryPatch =
        serde_json::from_str(r#"{"content": "Ducks replaced by geese on the webcam"}"#).unwrap();
    engine.update_entry(recs[11].id, patch).unwrap();
    diary.id
}

fn queries(diary: Uuid) -> Vec<SearchRequest> {
    let scope = Scope::Diaries { ids: vec![diary] };
    let mut out = Vec::new();
    for q in [
        "signing key rotation",
        "webcam birds",
        "index merges",
        "team",
    ] {
        for mode in [SearchMode::Hybrid, SearchMode::Vector, SearchMode::Text] {
            let mut r = SearchRequest::new(q, scope.clone());
            r.mode = mode;
            r.limit = 8;
            out.push(r);
        }
    }
    out
}

fn answers(engine: &Engine, diary: Uuid) -> Vec<Vec<(Uuid, String)>> {
    queries(diary)
        .iter()
        .map(|q| {
            engine
                .search(q)
                .unwrap()
                .hits
                .into_iter()
                .map(|h| (h.entry.id, h.entry.content))
                .collect()
        })
        .collect()
}

/// Answers right after filling, from a fresh reopen that rebuilds
/// everything (the reference the other opens must match).
fn reference(dir: &Path, e: &Embedder, diary: Uuid) -> Vec<Vec<(Uuid, String)>> {
    let engine = open(dir, e, true);
    engine.flush_indexes();
    answers(&engine, diary)
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join(VECTORS_DIR))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "vec"))
        .collect();
    files.sort();
    files
}

#[test]
fn a_reopen_indexes_only_what_the_saved_indexes_lack() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let diary = fill(tmp.path(), &e);

    let e2 = embedder();
    let engine = open(tmp.path(), &e2, false);
    assert!(!e2.is_loaded(), "opening must not run the model");
    let report = engine.open_report().clone();
    // Text commits follow every write: nothing to catch up.
    assert_eq!(
        (report.text_added, report.text_removed),
        (0, 0),
        "{report:?}"
    );
    // The normal path: the text stamp covers the last entry change, so the
    // index is not compared doc by doc; both indexes carry the stamp the
    // engine pushed.
    assert!(!report.text_compared, "{report:?}");
    assert!(report.applied_seq > 0, "{report:?}");
    assert!(
        report.text_stamp.is_some_and(|s| s <= report.applied_seq),
        "{report:?}"
    );
    assert!(
        report
            .vectors_stamp
            .is_some_and(|s| s <= report.applied_seq),
        "{report:?}"
    );
    assert!(
        !report.text_rebuilt && !report.vectors_rebuilt,
        "{report:?}"
    );
    // The delete and the rewrite came after the last vector segment was
    // persisted: the deleted doc and the rewritten entry's old doc are
    // tombstoned, its new doc is inserted, and nothing else.
    assert_eq!(report.vectors_removed, 2, "{report:?}");
    assert_eq!(report.vectors_added, 1, "{report:?}");
    assert!(!segment_files(tmp.path()).is_empty());
    engine.flush_indexes();
    let got = answers(&engine, diary);
    drop(engine);

    // After the flush the new doc is in a persisted segment; tombstones are
    // not persisted (the log has them), so they are re-applied.
    let engine = open(tmp.path(), &e2, false);
    let want = OpenReport {
        vectors_removed: 2,
        // Reads counted by `answers` were logged at the close.
        applied_seq: engine.open_report().applied_seq.max(report.applied_seq),
        text_stamp: report.text_stamp,
        vectors_stamp: engine.open_report().vectors_stamp,
        ..OpenReport::default()
    };
    assert_eq!(*engine.open_report(), want);
    assert_eq!(answers(&engine, diary), got);
    drop(engine);

    assert_eq!(got, reference(tmp.path(), &e2, diary));
}

#[test]
fn missing_or_damaged_indexes_are_rebuilt_from_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let diary = fill(tmp.path(), &e);
    let want = reference(tmp.path(), &e, diary);
    let live = 47;

    // No text index at all: everything is indexed again.
    std::fs::remove_dir_all(tmp.path().join(TEXT_DIR)).unwrap();
    let engine = open(tmp.path(), &e, false);
    assert!(engine.open_report().text_compared, "the repair path");
    assert_eq!(engine.open_report().text_added, live);
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
    drop(engine);

    // A damaged text index (its metadata overwritten) is rebuilt.
    std::fs::write(tmp.path().join(TEXT_DIR).join("meta.json"), b"{ not json").unwrap();
    let engine = open(tmp.path(), &e, false);
    assert!(engine.open_report().text_rebuilt);
    assert_eq!(engine.open_report().text_added, live);
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
    drop(engine);

    // A flipped byte in a vector segment file: rebuilt from stored vectors.
    let files = segment_files(tmp.path());
    let victim = files.last().unwrap();
    let mut bytes = std::fs::read(victim).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(victim, bytes).unwrap();
    let engine = open(tmp.path(), &e, false);
    assert!(
        engine.open_report().vectors_rebuilt,
        "{:?}",
        engine.open_report()
    );
    assert_eq!(engine.open_report().vectors_added, live);
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
    drop(engine);

    // A segment file gone missing: same.
    let files = segment_files(tmp.path());
    std::fs::remove_file(&files[0]).unwrap();
    let engine = open(tmp.path(), &e, false);
    assert!(engine.open_report().vectors_rebuilt);
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
}

#[test]
fn a_text_index_ahead_of_the_log_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let diary = fill(tmp.path(), &e);
    let want = reference(tmp.path(), &e, diary);
    {
        // As if a power failure under buffered durability had lost log
        // records the text index had already committed.
        let text = TextIndex::open_or_create(tmp.path().join(TEXT_DIR)).unwrap();
        text.add(9_999, None, "a ghost of a lost write", &[])
            .unwrap();
        text.commit_stamped(1 << 40).unwrap();
    }
    let engine = open(tmp.path(), &e, false);
    assert!(engine.open_report().text_rebuilt);
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
    let mut ghost = SearchRequest::new("ghost lost write", Scope::Diaries { ids: vec![diary] });
    ghost.mode = SearchMode::Text;
    assert!(engine.search(&ghost).unwrap().hits.is_empty());
}

#[test]
fn rebuild_indexes_reindexes_everything_without_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let diary = fill(tmp.path(), &e);
    let e2 = embedder();
    let engine = open(tmp.path(), &e2, true);
    let report = engine.open_report().clone();
    assert_eq!((report.text_added, report.vectors_added), (47, 47));
    assert!(!e2.is_loaded());
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary).len(), queries(diary).len());
}

#[test]
fn paused_graph_builds_keep_vectors_searchable_until_resumed() {
    let dims = 8;
    let index = VectorIndexBuilder::new()
        .dims(dims)
        .seal_threshold(16)
        .min_graph_rows(8)
        .build()
        .unwrap();
    index.pause_builds(true);
    let mut flat = Vec::new();
    for doc in 0..64u32 {
        let mut v: Vec<f32> = (0..dims)
            .map(|d| ((doc as usize * 7 + d * 13) % 17) as f32 - 8.0)
            .collect();
        v[doc as usize % dims] += 20.0;
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        flat.extend(v.iter().map(|x| x / norm));
    }
    let docs: Vec<u32> = (0..64).collect();
    for chunk in 0..4 {
        let rows = chunk * 16..(chunk + 1) * 16;
        index
            .insert_batch(
                &docs[rows.clone()],
                &flat[rows.start * dims..rows.end * dims],
            )
            .unwrap();
    }
    let paused = index.stats();
    assert_eq!(paused.graph_segments, 0, "{paused:?}");
    assert_eq!(paused.frozen_buffers, 4, "{paused:?}");
    assert!(!paused.job_running);
    for doc in 0..64usize {
        let hits = index
            .search(&flat[doc * dims..(doc + 1) * dims], 1, None)
            .unwrap();
        assert_eq!(hits[0].doc, doc as u32);
    }
    index.pause_builds(false);
    index.wait_idle();
    let resumed = index.stats();
    assert_eq!(resumed.frozen_buffers, 0, "{resumed:?}");
    assert!(resumed.graph_segments >= 1, "{resumed:?}");
    assert_eq!(resumed.live, 64);
}

#[test]
fn a_vector_index_ahead_of_the_log_is_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let diary = fill(tmp.path(), &e);
    let want = reference(tmp.path(), &e, diary);
    // The manifest records the log position its segments include.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(tmp.path().join(VECTORS_DIR).join("segments.json")).unwrap(),
    )
    .unwrap();
    assert!(
        manifest["stamp"].as_u64().is_some_and(|s| s > 0),
        "{manifest}"
    );
    {
        // As if the index had persisted a segment holding writes the log
        // lost (only possible if its log sync were skipped).
        let index = VectorIndexBuilder::new()
            .directory(tmp.path().join(VECTORS_DIR))
            .build()
            .unwrap();
        index.set_applied(1 << 40);
        let mut ghost = vec![0.0f32; index.dims()];
        ghost[0] = 1.0;
        index.insert_batch(&[9_999], &ghost).unwrap();
        index.flush();
        assert_eq!(index.persisted_stamp(), Some(1 << 40));
    }
    let engine = open(tmp.path(), &e, false);
    assert!(
        engine.open_report().vectors_rebuilt,
        "{:?}",
        engine.open_report()
    );
    assert!(engine.check_indexes().unwrap().is_consistent());
    engine.flush_indexes();
    assert_eq!(answers(&engine, diary), want);
}
