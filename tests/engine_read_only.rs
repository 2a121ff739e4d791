//! Read-only opens (`EngineBuilder::read_only`): many readers of one data
//! folder at once, beside the process that writes it, and a folder left
//! byte for byte as it was. Also: searches count accesses without writing,
//! and the counts reach the log in the background.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{Engine, PutEntry};
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::store::StoreError;
use moltsearch_engine::Error;
use uuid::Uuid;

fn embedder() -> Embedder {
    Embedder::builder().build().expect("model bootstrapped")
}

fn writer(dir: &Path, e: &Embedder) -> Engine {
    Engine::builder()
        .embedder(e.clone())
        .data_dir(dir)
        .open()
        .expect("open for writing")
}

fn reader(dir: &Path, e: &Embedder) -> Engine {
    Engine::builder()
        .embedder(e.clone())
        .data_dir(dir)
        .read_only(true)
        .open()
        .expect("open read-only")
}

/// Every file under `dir` with its length and modification time.
fn listing(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for item in std::fs::read_dir(&d).expect("list") {
            let item = item.expect("entry");
            let meta = item.metadata().expect("stat");
            if meta.is_dir() {
                stack.push(item.path());
            } else {
                let path = item.path();
                let name = path.strip_prefix(dir).expect("under dir").display();
                out.insert(
                    name.to_string(),
                    (meta.len(), meta.modified().expect("mtime")),
                );
            }
        }
    }
    out
}

fn put(engine: &Engine, diary: Uuid, texts: &[&str]) -> Vec<Uuid> {
    let batch: Vec<PutEntry> = texts
        .iter()
        .map(|t| NewEntry::new(diary, *t).into())
        .collect();
    engine
        .put_entries(batch)
        .expect("put")
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn found(engine: &Engine, team: Uuid, query: &str) -> Vec<String> {
    engine
        .search(&SearchRequest::new(query, Scope::Team { team_id: team }))
        .expect("search")
        .hits
        .into_iter()
        .map(|h| h.entry.content)
        .collect()
}

#[test]
fn readers_share_a_folder_with_its_writer_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = embedder();
    let team = Uuid::now_v7();
    let w = writer(dir.path(), &e);
    let diary = w
        .create_diary(Diary::new(team, "d".into(), Visibility::Private).expect("diary"))
        .expect("create");
    put(
        &w,
        diary.id,
        &[
            "Rotated the signing key of the notifier agent.",
            "Ducks on the pond at lunch.",
        ],
    );
    // The writer keeps the folder (and its lock) open; its access journal
    // is off so that nothing it does in the background touches the folder.
    drop(w);
    let w = Engine::builder()
        .embedder(e.clone())
        .data_dir(dir.path())
        .access_journal_interval(None)
        .open()
        .expect("reopen for writing");
    put(&w, diary.id, &["The pond froze over in January."]);
    let before = listing(dir.path());

    let (r1, r2) = (reader(dir.path(), &e), reader(dir.path(), &e));
    for r in [&r1, &r2] {
        assert!(r.is_read_only());
        assert_eq!(r.len(), 3, "a reader sees every write durable at its open");
        let hits = found(r, team, "pond");
        assert!(hits.iter().any(|c| c.contains("froze")), "{hits:?}");
        assert!(hits.iter().any(|c| c.contains("Ducks")), "{hits:?}");
        assert!(r.check_indexes().expect("check").is_consistent());
    }
    // Writes are refused, with the typed error, before anything is spent.
    let refused = r1.put_entry(NewEntry::new(diary.id, "should not land"));
    assert!(
        matches!(refused, Err(Error::Store(StoreError::ReadOnly { .. }))),
        "{refused:?}"
    );
    assert!(matches!(
        r1.checkpoint(),
        Err(Error::Store(StoreError::ReadOnly { .. }))
    ));

    drop((r1, r2));
    assert_eq!(listing(dir.path()), before, "the readers wrote nothing");

    // The writer goes on; a reader sees the folder as of its open, a new
    // reader sees the new write.
    let r1 = reader(dir.path(), &e);
    put(&w, diary.id, &["A heron came to the pond."]);
    assert!(!found(&r1, team, "heron pond")
        .iter()
        .any(|c| c.contains("heron")));
    let before = listing(dir.path());
    let r3 = reader(dir.path(), &e);
    assert!(found(&r3, team, "heron pond")
        .iter()
        .any(|c| c.contains("heron")));
    drop((r1, r3));
    assert_eq!(listing(dir.path()), before, "the readers wrote nothing");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for item in std::fs::read_dir(from).expect("list") {
        let item = item.expect("entry");
        std::fs::copy(item.path(), to.join(item.file_name())).expect("copy");
    }
}

#[test]
fn a_reader_indexes_in_memory_what_the_folder_lacks_and_leaves_it_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old_text = tempfile::tempdir().expect("tempdir");
    let e = embedder();
    let team = Uuid::now_v7();
    let (first, later) = {
        let w = writer(dir.path(), &e);
        let diary = w
            .create_diary(Diary::new(team, "d".into(), Visibility::Private).expect("diary"))
            .expect("create");
        let first = put(
            &w,
            diary.id,
            &["Key rotation runbook for agents.", "Lunch menu."],
        );
        copy_dir(&dir.path().join("text"), old_text.path());
        let later = put(&w, diary.id, &["Rotate the key again in March."]);
        w.delete_entry(first[1]).expect("delete");
        (first, later)
    };
    // The text index as of before the last put and the delete (it lacks a
    // doc and holds a deleted one), and no vector index at all: a reader
    // must bring both in line with the log, in memory.
    std::fs::remove_dir_all(dir.path().join("text")).expect("remove text index");
    copy_dir(old_text.path(), &dir.path().join("text"));
    std::fs::remove_dir_all(dir.path().join("vectors")).expect("remove vector index");
    let before = listing(dir.path());
    let r = reader(dir.path(), &e);
    let report = r.open_report().clone();
    assert!(
        !report.text_rebuilt,
        "the folder's text index is used: {report:?}"
    );
    assert_eq!(
        (report.text_added, report.text_removed),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(report.vectors_added, 2);
    assert!(r.check_indexes().expect("check").is_consistent());
    let hits = found(&r, team, "rotate key");
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(r.get_entry(later[0]).is_some() && r.get_entry(first[1]).is_none());
    drop(r);
    assert_eq!(listing(dir.path()), before, "the reader wrote nothing");
    assert!(!dir.path().join("vectors").exists());
}

#[test]
fn a_read_only_open_of_a_missing_folder_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("typo");
    let err = Engine::builder()
        .embedder(embedder())
        .data_dir(&missing)
        .read_only(true)
        .open()
        .err()
        .expect("refused");
    assert!(
        matches!(err, Error::Store(StoreError::NoDataFolder { .. })),
        "{err:?}"
    );
    assert!(!missing.exists(), "nothing created");
}

#[test]
fn searches_count_accesses_and_the_journal_logs_them_without_a_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e = embedder();
    let team = Uuid::now_v7();
    let w = Engine::builder()
        .embedder(e.clone())
        .data_dir(dir.path())
        .access_journal_interval(Some(Duration::from_millis(50)))
        .open()
        .expect("open");
    let diary = w
        .create_diary(Diary::new(team, "d".into(), Visibility::Private).expect("diary"))
        .expect("create");
    let ids = put(&w, diary.id, &["Ducks on the pond.", "Geese on the pond."]);
    // Searches from several threads at once: every read is counted.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    assert_eq!(found(&w, team, "pond").len(), 2);
                }
            });
        }
    });
    for id in &ids {
        assert_eq!(w.get_entry(*id).expect("entry").access_count, 20);
    }
    // No write happens; the journal logs the counts within its interval,
    // and a reader opened beside the live writer sees them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = reader(dir.path(), &e);
        let counts: Vec<u64> = ids
            .iter()
            .map(|id| r.get_entry(*id).expect("entry").access_count)
            .collect();
        if counts == [20, 20] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "counts not journaled: {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Taken out by the caller: then the engine does not log them itself.
    found(&w, team, "pond");
    let taken = w.take_access_changes();
    assert_eq!(taken.len(), 2);
    assert!(taken.iter().all(|a| a.count == 21));
    assert!(w.take_access_changes().is_empty());
}
