//! Kill -9 test of the whole engine on a data folder, with the real model:
//! a child process imports batches of diary entries and reports each
//! acknowledged batch; the parent kills it at random points, reopens the
//! folder and checks that every acknowledged entry is there and is found by
//! text and by vector search, that both indexes hold exactly the live
//! entries, and that nothing unacknowledged beyond the batch in flight
//! appeared.
//!
//! The child is this test binary re-executed with `MOLTSEARCH_ENGINE_CHILD`
//! set and the filter `--exact child_entry` (or `child_concurrent_entry`:
//! several threads putting one entry per call, so kills land in the group
//! commit that acknowledges them together).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use moltsearch_engine::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

const CHILD_ENV: &str = "MOLTSEARCH_ENGINE_CHILD";
/// Writer threads of the concurrent child.
const WRITERS: usize = 3;
const BATCH: usize = 3;
const ROUNDS: usize = 6;

fn diary_id() -> Uuid {
    Uuid::from_u128(42)
}

fn entry_id(n: usize) -> Uuid {
    Uuid::from_u128(1_000 + n as u128)
}

/// Entry `n`: a line of the demo diary plus a unique marker word.
fn content(n: usize) -> String {
    let demo = include_str!("../data/demo-diary.jsonl");
    let lines: Vec<&str> = demo.lines().collect();
    let v: serde_json::Value = serde_json::from_str(lines[n % lines.len()]).expect("demo line");
    format!("{} marker{n}zq", v["content"].as_str().expect("content"))
}

fn open(dir: &Path) -> Engine {
    Engine::builder()
        .embedder(Embedder::builder().build().expect("model bootstrapped"))
        .data_dir(dir)
        .checkpoint_bytes(64 << 10)
        // Tiny segments, so kills also land while segment files and the
        // vector manifest are written.
        .vector_index(
            VectorIndexBuilder::new()
                .seal_threshold(6)
                .min_graph_rows(4),
        )
        .open()
        .expect("engine opens")
}

/// In a child process: the engine on the folder the parent named, with the
/// test diary (`None` when not running as a child).
fn child_engine() -> Option<Engine> {
    let dir = std::env::var_os(CHILD_ENV)?;
    let engine = open(Path::new(&dir));
    if engine.get_diary(diary_id()).is_none() {
        engine
            .create_diary(
                Diary::with_id(diary_id(), Uuid::nil(), "crash".into(), Visibility::Private)
                    .unwrap(),
            )
            .unwrap();
    }
    Some(engine)
}

/// Starts this test binary as the child test `name` on `dir`, its stdout
/// piped.
fn spawn_child(name: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn child_entry() {
    let Some(engine) = child_engine() else {
        return;
    };
    let mut next = engine.len();
    println!("READY {next}");
    loop {
        let batch = (next..next + BATCH)
            .map(|n| PutEntry::from(NewEntry::new(diary_id(), content(n))).with_id(entry_id(n)))
            .collect();
        engine.put_entries(batch).unwrap();
        next += BATCH;
        println!("ACK {next}");
    }
}

#[test]
fn child_concurrent_entry() {
    let Some(engine) = child_engine() else {
        return;
    };
    // Entries lost with a kill leave holes: continue after the highest.
    let next = (0..10_000)
        .rev()
        .find(|&n| engine.get_entry(entry_id(n)).is_some())
        .map_or(0, |n| n + 1);
    let counter = std::sync::atomic::AtomicUsize::new(next);
    println!("READY {next}");
    std::thread::scope(|s| {
        for _ in 0..WRITERS {
            let (engine, counter) = (&engine, &counter);
            s.spawn(move || loop {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let put =
                    PutEntry::from(NewEntry::new(diary_id(), content(n))).with_id(entry_id(n));
                engine.put_entries(vec![put]).unwrap();
                println!("ACK {n}");
            });
        }
    });
}

/// Runs the child test `name` on `dir` and kills it (SIGKILL) `linger`
/// after its `kill_after`-th acknowledgement; returns the numbers of every
/// acknowledgement it printed, those still in the pipe at the kill too.
fn run_until_killed(name: &str, dir: &Path, kill_after: usize, linger: Duration) -> Vec<usize> {
    let mut child = spawn_child(name, dir);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acks = Vec::new();
    for line in lines.by_ref() {
        if let Some(n) = acknowledged(&line.unwrap()) {
            acks.push(n);
            if acks.len() == kill_after {
                std::thread::sleep(linger);
                break;
            }
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    acks.extend(lines.map_while(Result::ok).filter_map(|l| acknowledged(&l)));
    acks
}

/// The entry number of a child's `ACK n` line.
fn acknowledged(line: &str) -> Option<usize> {
    line.strip_prefix("ACK ")?.trim().parse().ok()
}

/// Text search finds entry `n` by its marker, exactly once.
fn found_by_text(engine: &Engine, n: usize) -> bool {
    let scope = Scope::Diaries {
        ids: vec![diary_id()],
    };
    let mut text = SearchRequest::new(format!("marker{n}zq"), scope);
    text.mode = SearchMode::Text;
    let hits = engine.search(&text).unwrap().hits;
    hits.len() == 1 && hits[0].entry.id == entry_id(n)
}

#[test]
fn entries_acknowledged_by_a_group_commit_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(11);
    let mut acked = std::collections::BTreeSet::new();
    for round in 0..4 {
        let linger = Duration::from_millis(rng.random_range(0..30));
        let kill_after = rng.random_range(3..=12);
        acked.extend(run_until_killed(
            "child_concurrent_entry",
            &dir,
            kill_after,
            linger,
        ));

        let engine = open(&dir);
        let check = engine.check_indexes().unwrap();
        assert!(check.is_consistent(), "round {round}: {check:?}");
        for &n in &acked {
            let got = engine.get_entry(entry_id(n));
            assert!(got.is_some(), "round {round}: acknowledged entry {n} lost");
            assert!(
                found_by_text(&engine, n),
                "round {round}: entry {n} not found"
            );
        }
        // Beyond the acknowledged, at most one write per thread was in flight.
        let stored = engine.len();
        assert!(
            stored >= acked.len() && stored <= acked.len() + WRITERS,
            "round {round}: {stored} stored, {} acknowledged",
            acked.len()
        );
        // What survived unacknowledged is durable now: expected from here on.
        acked.extend((0..10_000).filter(|&n| engine.get_entry(entry_id(n)).is_some()));
    }
    assert!(acked.len() >= 12);
}

#[test]
fn acknowledged_entries_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(7);
    let mut acked = 0usize;
    for round in 0..ROUNDS {
        // The linger lets the next batch start, so some kills land mid-write.
        let linger = Duration::from_millis(rng.random_range(0..60));
        let kill_after = rng.random_range(1..=4);
        let acks = run_until_killed("child_entry", &dir, kill_after, linger);
        acked = acks.into_iter().max().unwrap_or(acked);

        let engine = open(&dir);
        let check = engine.check_indexes().unwrap();
        assert!(check.is_consistent(), "round {round}: {check:?}");
        let stored = engine.len();
        assert!(
            stored >= acked && stored <= acked + BATCH,
            "round {round}: {stored} stored, {acked} acknowledged"
        );
        let scope = Scope::Diaries {
            ids: vec![diary_id()],
        };
        let e = Embedder::builder().build().unwrap();
        for n in (0..acked).step_by(2) {
            let got = engine
                .get_entry(entry_id(n))
                .expect("acknowledged entry present");
            assert_eq!(got.content, content(n));
            assert!(
                found_by_text(&engine, n),
                "round {round}: text search for entry {n}"
            );
            // The query text only matters for negations (demo lines hold
            // `--flags`); the vector is the content's own embedding.
            let mut vector = SearchRequest::new(format!("entry {n}"), scope.clone());
            vector.mode = SearchMode::Vector;
            vector.limit = 3;
            vector.query_vector = Some(e.embed_queries(&[content(n)]).unwrap().into_vec());
            let ids: Vec<Uuid> = engine
                .search(&vector)
                .unwrap()
                .hits
                .iter()
                .map(|h| h.entry.id)
                .collect();
            assert!(
                ids.contains(&entry_id(n)),
                "round {round}: vector search for entry {n}: {ids:?}"
            );
        }
        acked = stored;
    }
    assert!(acked >= ROUNDS * BATCH);
}
