//! Kill -9 test: a child process appends with `Durability::Sync` and
//! reports each acknowledged append; the parent kills it at random moments
//! (mid-append, mid-fsync, mid-checkpoint) and checks that every
//! acknowledged entry comes back intact.
//!
//! The child is this same test binary, re-executed with
//! `MOLTSEARCH_CRASH_CHILD=<folder>` and the filter `--exact child_entry`;
//! without the variable `child_entry` returns at once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use moltsearch_engine::entry::{Diary, EntryRecord, EntryType, Visibility};
use moltsearch_engine::index::DocId;
use moltsearch_engine::store::{Record, RecoveredEntry, Store, StoreOptions, StoredEntry};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use uuid::Uuid;

const CHILD_ENV: &str = "MOLTSEARCH_CRASH_CHILD";
const DIMS: usize = 16;
const MODEL: &str = "crash-test-model";
const ROUNDS: usize = 20;
/// The child checkpoints after this many appends, so kills also land in
/// checkpoints.
const CHECKPOINT_EVERY: u64 = 20;
/// Safety net: a child whose parent died stops on its own.
const CHILD_LIFETIME: Duration = Duration::from_secs(20);

fn opts() -> StoreOptions {
    StoreOptions::new(MODEL, DIMS)
}

fn diary_id() -> Uuid {
    Uuid::from_u128(1)
}

/// Entries per batch, derived from the record's sequence number.
fn batch_len(seq: u64) -> u64 {
    1 + seq % 4
}

fn entry_id(seq: u64, i: u64) -> Uuid {
    Uuid::from_u128((u128::from(seq) << 16) | u128::from(i))
}

/// The entry the child writes as item `i` of the record numbered `seq`;
/// the parent regenerates it to compare (doc ids aside).
fn expected_entry(seq: u64, i: u64) -> (EntryRecord, Vec<f32>) {
    let t = OffsetDateTime::from_unix_timestamp(1_700_000_000 + seq as i64).expect("valid time");
    let record = EntryRecord {
        id: entry_id(seq, i),
        diary_id: diary_id(),
        title: Some(format!("batch {seq} item {i}")),
        content: format!("content of {seq}/{i} ").repeat(1 + (seq % 7) as usize),
        tags: vec![format!("seq{}", seq % 10)],
        entry_type: EntryType::Episodic,
        importance: 1 + (seq % 10) as u8,
        content_hash: format!("hash-{seq}-{i}"),
        content_signature: None,
        signing_nonce: None,
        signer_public_key: None,
        injection_risk: false,
        access_count: 0,
        last_accessed_at: None,
        created_at: t,
        updated_at: t,
    };
    let vector = (0..DIMS)
        .map(|d| (seq as f32) * 0.001 + (i as f32) * 0.1 + d as f32)
        .collect();
    (record, vector)
}

#[test]
fn child_entry() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    run_child(Path::new(&dir));
}

fn run_child(dir: &Path) {
    let (store, _) = Store::open_path(dir, opts()).expect("child: open");
    let mut out = std::io::stdout().lock();
    if store.last_seq() == 0 {
        let diary = Diary {
            id: diary_id(),
            team_id: Uuid::from_u128(2),
            name: "crash".into(),
            visibility: Visibility::Private,
        };
        store
            .append(vec![Record::PutDiary(diary)])
            .expect("child: diary");
    }
    let started = Instant::now();
    let mut appended = 0u64;
    while started.elapsed() < CHILD_LIFETIME {
        let seq = store.last_seq() + 1;
        let mut doc: DocId = store.next_doc();
        let batch = (0..batch_len(seq))
            .map(|i| {
                let (record, vector) = expected_entry(seq, i);
                let e = StoredEntry {
                    record: std::sync::Arc::new(record),
                    doc,
                    vector,
                };
                doc += 1;
                e
            })
            .collect();
        let last = store
            .append(vec![Record::PutEntries(batch)])
            .expect("child: append");
        assert_eq!(last, seq);
        writeln!(out, "ACK {last}").expect("child: stdout");
        out.flush().expect("child: flush");
        appended += 1;
        if appended.is_multiple_of(CHECKPOINT_EVERY) {
            writeln!(out, "CHECKPOINT").expect("child: stdout");
            out.flush().expect("child: flush");
            store.checkpoint().expect("child: checkpoint");
        }
    }
}

/// When to kill the child.
#[derive(Clone, Copy, Debug)]
enum KillAt {
    /// After this many acknowledged appends.
    Acks(usize),
    /// Once it announces its first checkpoint (so the kill usually lands
    /// inside the checkpoint).
    Checkpoint,
}

/// Runs one child until `at`, waits `delay_us`, kills it; returns the
/// highest acknowledged sequence number.
fn run_and_kill(dir: &Path, at: KillAt, delay_us: u64) -> u64 {
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(exe)
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    // Kept open until the child is dead, so it never dies of a broken pipe
    // instead of the kill.
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = 0u64;
    let mut seen = 0usize;
    let mut reached = false;
    for line in lines.by_ref() {
        let line = line.expect("read child output");
        if let Some(seq) = line.strip_prefix("ACK ") {
            acked = seq.trim().parse().expect("ACK carries a number");
            seen += 1;
        }
        reached = match at {
            KillAt::Acks(n) => seen >= n,
            KillAt::Checkpoint => line == "CHECKPOINT",
        };
        if reached {
            break;
        }
    }
    assert!(
        reached,
        "child exited after {seen} acks before {at:?} (see its stderr above)"
    );
    std::thread::sleep(Duration::from_micros(delay_us));
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    drop(lines);
    acked
}

/// Reopens the folder and checks every record up to `acked` (and any
/// durable one after it) is present and intact.
fn verify(dir: &Path, acked: u64, round: usize) -> u64 {
    let (store, rec) = Store::open_path(dir, opts()).expect("reopen after kill");
    assert!(
        rec.last_seq >= acked,
        "round {round}: acknowledged seq {acked} lost, recovered up to {}",
        rec.last_seq
    );
    let by_id: HashMap<Uuid, &RecoveredEntry> =
        rec.entries.iter().map(|e| (e.record.id, e)).collect();
    // Seq 1 is the diary; every later seq is one batch.
    let mut expected_count = 0usize;
    for seq in 2..=rec.last_seq {
        for i in 0..batch_len(seq) {
            let (record, vector) = expected_entry(seq, i);
            let got = by_id.get(&record.id).unwrap_or_else(|| {
                panic!(
                    "round {round}: entry {i} of seq {seq} missing (acked up to {acked}, \
                     recovered up to {})",
                    rec.last_seq
                )
            });
            assert_eq!(*got.record, record, "round {round}: seq {seq} item {i}");
            assert_eq!(
                store.vector(got.doc),
                Some(vector),
                "round {round}: seq {seq} item {i} vector"
            );
            expected_count += 1;
        }
    }
    assert_eq!(
        rec.entries.len(),
        expected_count,
        "round {round}: extra entries"
    );
    let mut docs: Vec<DocId> = rec.entries.iter().map(|e| e.doc).collect();
    docs.sort_unstable();
    docs.dedup();
    assert_eq!(docs.len(), expected_count, "round {round}: doc ids reused");
    assert!(rec.next_doc as usize >= expected_count);
    drop(store);
    rec.last_seq
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir: PathBuf = tmp.path().join("data");
    let mut rng = StdRng::seed_from_u64(0x6d6f_6c74);
    let started = Instant::now();
    let mut acked = 0u64;
    for round in 0..ROUNDS {
        let at = if rng.random_bool(0.3) {
            KillAt::Checkpoint
        } else {
            KillAt::Acks(rng.random_range(1..=60))
        };
        let delay_us = rng.random_range(0..2_000);
        let round_acked = run_and_kill(&dir, at, delay_us);
        assert!(round_acked > acked, "round {round}: no progress");
        acked = round_acked;
        let recovered = verify(&dir, acked, round);
        acked = acked.max(recovered);
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}
