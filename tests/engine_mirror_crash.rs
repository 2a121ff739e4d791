//! Kill -9 test of a mirror (`EngineBuilder::external_source`) with the
//! real model: a child process applies a fixed feed of source changes
//! (puts, re-embedding edits, deletes) from the sequence its cache holds,
//! printing each acknowledged sequence; the parent kills it at random
//! points, reopens the cache and checks that it holds at least every
//! acknowledged sequence with consistent indexes. Once the feed is through,
//! the cache must hold exactly what a replica fed once without kills holds.
//!
//! The child is this test binary re-executed with `MOLTSEARCH_MIRROR_CHILD`
//! set and the filter `--exact child_mirror`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use moltsearch_engine::embed::{Embedder, PassageText};
use moltsearch_engine::entry::Entry;
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::search::request::SearchMode;
use moltsearch_engine::{
    Change, Diary, Engine, EntryChange, NewEntry, Scope, SearchRequest, Visibility,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use uuid::Uuid;

const CHILD_ENV: &str = "MOLTSEARCH_MIRROR_CHILD";
const SOURCE: &str = "crash-test-source";
/// Source sequence numbers in the feed (1 is the diary).
const FEED: u64 = 36;

fn diary_id() -> Uuid {
    Uuid::from_u128(42)
}

fn entry_id(n: u64) -> Uuid {
    Uuid::from_u128(1_000 + u128::from(n))
}

fn text(n: u64, edited: bool) -> String {
    let demo = include_str!("../data/demo-diary.jsonl");
    let lines: Vec<&str> = demo.lines().collect();
    let v: serde_json::Value =
        serde_json::from_str(lines[n as usize % lines.len()]).expect("demo line");
    let content = v["content"].as_str().expect("content");
    match edited {
        false => format!("{content} marker{n}zq"),
        true => format!("Edited: {content} marker{n}zq"),
    }
}

/// The upsert of entry `n`: a fixed record and its embedding, the same in
/// every process (as a source would store it).
fn upsert(embedder: &Embedder, n: u64, edited: bool) -> Change {
    let content = text(n, edited);
    let created = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000 + n as i64);
    let entry = Entry::create_with_id(
        entry_id(n),
        NewEntry::new(diary_id(), content.clone()),
        created,
    )
    .expect("valid entry");
    let vector = embedder
        .embed_passages(&[PassageText {
            title: None,
            content,
            tags: Vec::new(),
        }])
        .expect("embed")
        .into_vec();
    Change::PutEntry(Box::new(EntryChange {
        record: entry.to_record(),
        vector,
        model_id: embedder.model_id().to_string(),
    }))
}

/// The source's changes at `seq`: the diary first, then one new entry per
/// sequence, an edit (new text, new vector) of an earlier one every 4th and
/// a delete every 6th.
fn changes_at(embedder: &Embedder, seq: u64) -> Vec<Change> {
    if seq == 1 {
        let diary = Diary::with_id(diary_id(), Uuid::nil(), "crash".into(), Visibility::Private)
            .expect("diary");
        return vec![Change::PutDiary(diary)];
    }
    let mut out = vec![upsert(embedder, seq, false)];
    if seq.is_multiple_of(4) {
        out.push(upsert(embedder, seq - 2, true));
    }
    if seq.is_multiple_of(6) {
        out.push(Change::DeleteEntry {
            id: entry_id(seq - 3),
        });
    }
    out
}

fn open(dir: &Path, embedder: &Embedder) -> Engine {
    Engine::builder()
        .embedder(embedder.clone())
        .data_dir(dir)
        .external_source(SOURCE)
        .checkpoint_bytes(32 << 10)
        // Tiny segments, so kills also land while segment files and the
        // vector manifest are written.
        .vector_index(
            VectorIndexBuilder::new()
                .seal_threshold(5)
                .min_graph_rows(4),
        )
        .open()
        .expect("mirror opens")
}

fn embedder() -> Embedder {
    Embedder::builder().build().expect("model bootstrapped")
}

#[test]
fn child_mirror() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let e = embedder();
    let engine = open(Path::new(&dir), &e);
    println!("READY {}", engine.source_seq());
    for seq in engine.source_seq() + 1..=FEED {
        let changes = changes_at(&e, seq);
        engine.apply_changes(seq, changes).expect("apply");
        println!("ACK {seq}");
    }
    println!("DONE");
}

/// Runs the child on `dir` and kills it (SIGKILL) `linger` after its
/// `kill_after`-th acknowledgement; returns the last sequence it
/// acknowledged (0 for none) and whether it got through the feed.
fn run_until_killed(dir: &Path, kill_after: usize, linger: Duration) -> (u64, bool) {
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "child_mirror",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut last, mut acks, mut done) = (0, 0, false);
    for line in lines.by_ref() {
        if read(&line.expect("line"), &mut last, &mut done) {
            acks += 1;
            if acks == kill_after {
                std::thread::sleep(linger);
                break;
            }
        }
    }
    let _ = child.kill();
    child.wait().expect("wait");
    for line in lines.map_while(Result::ok) {
        read(&line, &mut last, &mut done);
    }
    (last, done)
}

/// Reads one line of the child: records an `ACK seq` (returning true) or
/// `DONE`.
fn read(line: &str, last: &mut u64, done: &mut bool) -> bool {
    if let Some(n) = line.strip_prefix("ACK ") {
        *last = n.trim().parse().expect("seq");
        return true;
    }
    *done |= line.trim() == "DONE";
    false
}

fn live(n: u64) -> Option<bool> {
    // Deleted at the next multiple of 6 at or after n + 3, if within the
    // feed; otherwise live, edited if some multiple of 4 named it.
    let deleted = (n + 3).is_multiple_of(6) && n + 3 <= FEED;
    (!deleted).then_some((n + 2).is_multiple_of(4) && n + 2 <= FEED)
}

fn found_by_text(engine: &Engine, n: u64) -> bool {
    let mut req = SearchRequest::new(
        format!("marker{n}zq"),
        Scope::Team {
            team_id: Uuid::nil(),
        },
    );
    req.mode = SearchMode::Text;
    engine
        .search(&req)
        .expect("search")
        .hits
        .first()
        .is_some_and(|h| h.entry.id == entry_id(n))
}

#[test]
fn a_mirror_killed_mid_feed_resumes_to_the_same_state() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let e = embedder();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(0x5eed_feed);
    let mut acknowledged = 0;
    let mut kills = 0;
    loop {
        let kill_after = rng.random_range(1..=5);
        let linger = Duration::from_millis(rng.random_range(0..30));
        let (last, done) = run_until_killed(dir.path(), kill_after, linger);
        acknowledged = acknowledged.max(last);
        let engine = open(dir.path(), &e);
        assert!(
            engine.source_seq() >= acknowledged,
            "the cache holds {} but {acknowledged} was acknowledged",
            engine.source_seq()
        );
        assert!(
            engine.check_indexes().expect("check").is_consistent(),
            "indexes after kill {kills}"
        );
        if done || engine.source_seq() == FEED {
            break;
        }
        kills += 1;
        assert!(kills < 60, "the feed never got through");
    }
    assert!(kills > 0, "the child was never killed");

    let reference_dir = tempfile::tempdir().expect("reference");
    let reference = open(reference_dir.path(), &e);
    for seq in 1..=FEED {
        reference
            .apply_changes(seq, changes_at(&e, seq))
            .expect("apply");
    }
    let engine = open(dir.path(), &e);
    assert_eq!(engine.source_seq(), FEED);
    assert_eq!(engine.len(), reference.len());
    for n in 2..=FEED {
        let (got, want) = (
            engine.get_entry(entry_id(n)),
            reference.get_entry(entry_id(n)),
        );
        assert_eq!(got, want, "entry {n}");
        match live(n) {
            None => assert!(got.is_none(), "entry {n} was deleted"),
            Some(edited) => {
                let content = got.expect("live entry").content;
                assert_eq!(content.starts_with("Edited: "), edited, "entry {n}");
                assert!(found_by_text(&engine, n), "entry {n} by text");
            }
        }
    }
}
