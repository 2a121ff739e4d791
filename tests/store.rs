//! Durability of the store: round trips, torn tails, corruption, locking,
//! model checks, checkpoints, failure injection, group commit, and a
//! property test against an in-memory model.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use moltsearch_engine::entry::{
    Diary, EntryRecord, EntryType, PrivateKey, Relation, RelationKind, RelationStatus, Visibility,
};
use moltsearch_engine::index::DocId;
use moltsearch_engine::store::{
    Access, DirFile, Directory, Durability, FileBytes, RamDirectory, Record, Recovered, Store,
    StoreError, StoreOptions, StoredEntry,
};
use proptest::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

const DIMS: usize = 4;
const MODEL: &str = "test-model-v1";

fn opts() -> StoreOptions {
    StoreOptions::new(MODEL, DIMS)
}

fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_700_000_000 + secs).expect("valid time")
}

fn diary(n: u128) -> Diary {
    Diary {
        id: Uuid::from_u128(n),
        team_id: Uuid::from_u128(7),
        name: format!("diary {n}"),
        visibility: Visibility::Private,
    }
}

fn vector(doc: DocId, salt: u32) -> Vec<f32> {
    let d = doc as f32;
    vec![d, salt as f32 * 0.5, -d - 0.25, 1.0 / (d + 1.0)]
}

fn record(n: u128, diary: u128, content: &str) -> EntryRecord {
    EntryRecord {
        id: Uuid::from_u128(n),
        diary_id: Uuid::from_u128(diary),
        title: Some(format!("title {n}")),
        content: content.to_owned(),
        tags: vec!["a".into(), format!("t{n}")],
        entry_type: EntryType::Semantic,
        importance: 5,
        content_hash: format!("hash-{n}-{content}"),
        content_signature: None,
        signing_nonce: None,
        signer_public_key: None,
        injection_risk: false,
        access_count: 0,
        last_accessed_at: None,
        created_at: at(n as i64),
        updated_at: at(n as i64),
    }
}

fn entry(n: u128, diary: u128, doc: DocId, content: &str) -> StoredEntry {
    StoredEntry {
        record: Arc::new(record(n, diary, content)),
        doc,
        vector: vector(doc, 0),
    }
}

fn signed(mut e: StoredEntry) -> StoredEntry {
    let key = PrivateKey::from_seed(&[9; 32]);
    let r = Arc::make_mut(&mut e.record);
    r.content_signature = Some(key.sign_raw(r.content_hash.as_bytes()));
    r.signing_nonce = Some("nonce-1".into());
    r.signer_public_key = Some(key.public_key());
    r.last_accessed_at = Some(at(99));
    r.access_count = 3;
    e
}

fn relation(n: u128, source: u128, target: u128) -> Relation {
    Relation {
        id: Uuid::from_u128(n),
        diary_id: Uuid::from_u128(1),
        source_id: Uuid::from_u128(source),
        target_id: Uuid::from_u128(target),
        relation: RelationKind::Supersedes,
        status: RelationStatus::Proposed,
        created_at: at(5),
        updated_at: at(5),
    }
}

/// The reference semantics, written independently of the store.
#[derive(Clone, Debug, Default)]
struct Model {
    diaries: BTreeMap<Uuid, Diary>,
    entries: BTreeMap<Uuid, StoredEntry>,
    relations: BTreeMap<Uuid, Relation>,
    next_doc: DocId,
    last_seq: u64,
    source_seq: u64,
}

impl Model {
    fn apply(&mut self, r: &Record) {
        match r {
            Record::PutDiary(d) => {
                self.diaries.insert(d.id, d.clone());
            }
            Record::PutEntries(es) => {
                for e in es {
                    self.put(e.clone());
                }
            }
            Record::UpdateEntry(e) => self.put((**e).clone()),
            Record::DeleteEntry { id } => {
                self.entries.remove(id);
                self.relations
                    .retain(|_, r| r.source_id != *id && r.target_id != *id);
            }
            Record::PutRelation(r) => {
                self.relations.insert(r.id, r.clone());
            }
            Record::SetRelationStatus { id, status, at } => {
                if let Some(r) = self.relations.get_mut(id) {
                    if r.status != *status {
                        r.status = *status;
                        r.updated_at = *at;
                    }
                }
            }
            Record::DeleteRelation { id } => {
                self.relations.remove(id);
            }
            Record::RecordAccesses(accesses) => {
                for a in accesses {
                    if let Some(e) = self.entries.get_mut(&a.id) {
                        let r = Arc::make_mut(&mut e.record);
                        r.access_count = a.count;
                        r.last_accessed_at = Some(a.at);
                    }
                }
            }
            Record::DeleteDiary { id } => {
                self.diaries.remove(id);
                self.entries.retain(|_, e| e.record.diary_id != *id);
                self.relations.retain(|_, r| r.diary_id != *id);
            }
            Record::SourceSeq(seq) => self.source_seq = self.source_seq.max(*seq),
        }
        self.last_seq += 1;
    }

    fn put(&mut self, e: StoredEntry) {
        self.next_doc = self.next_doc.max(e.doc + 1);
        self.entries.insert(e.record.id, e);
    }

    fn apply_all(&mut self, rs: &[Record]) {
        rs.iter().for_each(|r| self.apply(r));
    }

    fn assert_matches(&self, store: &Store, got: &Recovered, context: &str) {
        let diaries: Vec<Diary> = self.diaries.values().cloned().collect();
        assert_eq!(got.diaries, diaries, "{context}: diaries");
        let mut entries: Vec<StoredEntry> = self.entries.values().cloned().collect();
        entries.sort_by_key(|e| e.doc);
        assert_eq!(got.entries.len(), entries.len(), "{context}: entry count");
        for (g, want) in got.entries.iter().zip(&entries) {
            assert_eq!(g.record, want.record, "{context}: entry");
            assert_eq!(g.doc, want.doc, "{context}: doc");
            assert_eq!(
                store.vector(g.doc).as_ref(),
                Some(&want.vector),
                "{context}: vector"
            );
        }
        let relations: Vec<Relation> = self.relations.values().cloned().collect();
        assert_eq!(got.relations, relations, "{context}: relations");
        assert_eq!(got.next_doc, self.next_doc, "{context}: next_doc");
        assert_eq!(got.last_seq, self.last_seq, "{context}: last_seq");
        assert_eq!(got.source_seq, self.source_seq, "{context}: source_seq");
        assert_eq!(got.model_id, MODEL);
        assert_eq!(got.dims, DIMS);
    }
}

/// Append calls exercising every record kind.
fn workload() -> Vec<Vec<Record>> {
    vec![
        vec![Record::PutDiary(diary(1)), Record::PutDiary(diary(2))],
        vec![Record::PutEntries(vec![
            entry(10, 1, 0, "first"),
            signed(entry(11, 1, 1, "second")),
            entry(12, 2, 2, "third"),
        ])],
        vec![Record::PutRelation(relation(100, 11, 10))],
        vec![Record::SetRelationStatus {
            id: Uuid::from_u128(100),
            status: RelationStatus::Accepted,
            at: at(50),
        }],
        // Update without re-embedding: same doc, same vector.
        vec![Record::UpdateEntry(Box::new(StoredEntry {
            record: Arc::new(EntryRecord {
                importance: 9,
                ..record(12, 2, "third")
            }),
            doc: 2,
            vector: vector(2, 0),
        }))],
        // Re-embedded update: new doc and vector.
        vec![Record::UpdateEntry(Box::new(StoredEntry {
            record: Arc::new(record(10, 1, "first, edited")),
            doc: 3,
            vector: vector(3, 1),
        }))],
        vec![
            Record::PutRelation(relation(101, 12, 11)),
            Record::PutRelation(relation(102, 10, 12)),
        ],
        vec![Record::DeleteRelation {
            id: Uuid::from_u128(101),
        }],
        // Deleting entry 12 also drops relation 102 (12 is its target).
        vec![Record::DeleteEntry {
            id: Uuid::from_u128(12),
        }],
        // A diary deleted with its entries and relations.
        vec![
            Record::PutDiary(diary(3)),
            Record::PutEntries(vec![entry(13, 3, 4, "fourth"), entry(14, 3, 5, "fifth")]),
            Record::PutRelation(Relation {
                diary_id: Uuid::from_u128(3),
                ..relation(103, 14, 13)
            }),
        ],
        vec![
            Record::DeleteDiary {
                id: Uuid::from_u128(3),
            },
            Record::SourceSeq(7),
        ],
    ]
}

fn run_workload(store: &Store, model: &mut Model) {
    for call in workload() {
        model.apply_all(&call);
        let last = store.append(call).expect("append");
        assert_eq!(last, model.last_seq);
    }
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("wal-"))
        })
        .collect();
    out.sort();
    out
}

fn names_with_prefix(dir: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.expect("entry").file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    out
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).expect("metadata").len()
}

// ---------------------------------------------------------------------------

#[test]
fn round_trip_in_ram() {
    let dir = RamDirectory::new();
    let mut model = Model::default();
    let (store, rec) = Store::open(dir.clone(), opts()).expect("open");
    model.assert_matches(&store, &rec, "empty");
    run_workload(&store, &mut model);
    // The deletion cascaded to relation 102; 100 survives, accepted.
    assert_eq!(model.relations.len(), 1);
    model.assert_matches(&store, &store.state(), "live");
    assert_eq!(store.next_doc(), 6, "the deleted diary's docs stay used");
    assert_eq!(
        store.vector(4),
        None,
        "the deleted diary's vectors are gone"
    );
    assert!(model.diaries.len() == 2 && store.state().diaries.len() == 2);
    assert_eq!(store.vector(3), Some(vector(3, 1)));
    assert_eq!(store.vector(0), None, "re-embedded doc 0 is retired");
    drop(store);
    let (store, rec) = Store::open(dir.clone(), opts()).expect("reopen");
    model.assert_matches(&store, &rec, "reopened");
    assert_eq!(rec.snapshot_seq, None);
    assert_eq!(rec.replayed_records, model.last_seq);
    assert!(rec.torn_tail.is_none());
    let signed_back = store.entry(Uuid::from_u128(11)).expect("signed entry");
    assert_eq!(signed_back, signed(entry(11, 1, 1, "second")));
}

#[test]
fn log_bytes_track_what_recovery_would_replay() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    let dir = RamDirectory::new();
    let (store, rec) = Store::open(dir.clone(), opts()).expect("open");
    assert_eq!((rec.last_seq, store.log_bytes()), (0, 0));
    store
        .checkpoint()
        .expect("checkpoint of nothing is a no-op");
    assert_eq!(store.snapshot_seq(), None);
    run_workload(&store, &mut Model::default());
    let bytes = store.log_bytes();
    let segment = dir.file_bytes(&segment_of(&dir)).expect("segment");
    assert_eq!(bytes, segment.len() as u64);
    drop(store);
    let (store, _) = Store::open(dir.clone(), opts()).expect("reopen");
    assert_eq!(store.log_bytes(), bytes);
    store.checkpoint().expect("checkpoint");
    assert_eq!(store.log_bytes(), 0);
    store
        .append(vec![Record::PutDiary(diary(9))])
        .expect("append");
    assert!(store.log_bytes() > 0);
}

#[test]
fn round_trip_on_disk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut model = Model::default();
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        run_workload(&store, &mut model);
    }
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    model.assert_matches(&store, &rec, "reopened from disk");
    let meta = std::fs::read_to_string(tmp.path().join("meta.json")).expect("meta");
    assert!(meta.contains(MODEL), "{meta}");
}

#[test]
fn torn_tail_is_cut_and_the_log_stays_usable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let calls = workload();
    let mut model = Model::default();
    let wal;
    let last_start;
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        wal = wal_files(tmp.path()).pop().expect("a segment");
        for call in &calls[..3] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
        last_start = file_len(&wal);
        store
            .append(calls[3].clone())
            .expect("append the record to tear");
    }
    let full = file_len(&wal);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&wal)
        .expect("open wal");
    file.set_len(full - 3).expect("truncate");
    drop(file);

    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("opens despite the tear");
    let torn = rec.torn_tail.clone().expect("tear reported");
    assert_eq!(torn.file, wal);
    assert_eq!(torn.offset, last_start);
    assert_eq!(torn.dropped_bytes, full - 3 - last_start);
    model.assert_matches(&store, &rec, "after tear");
    assert_eq!(file_len(&wal), last_start, "tail cut on disk");

    // Appends after recovery continue the sequence and survive a reopen.
    model.apply_all(&calls[4]);
    assert_eq!(
        store.append(calls[4].clone()).expect("append"),
        model.last_seq
    );
    drop(store);
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    assert!(rec.torn_tail.is_none());
    model.assert_matches(&store, &rec, "after append following the tear");
}

#[test]
fn checksum_mismatch_in_the_last_record_is_a_tear() {
    let dir = RamDirectory::new();
    let mut model = Model::default();
    let (store, _) = Store::open(dir.clone(), opts()).expect("open");
    run_workload(&store, &mut model);
    drop(store);
    let name = segment_of(&dir);
    let mut bytes = dir.file_bytes(&name).expect("segment");
    let n = bytes.len();
    bytes[n - 2] ^= 0x10;
    dir.write_file(&name, bytes);
    let (_store, rec) = Store::open(dir.clone(), opts()).expect("open");
    assert!(rec.torn_tail.expect("tear").reason.contains("checksum"));
    assert_eq!(rec.last_seq, model.last_seq - 1);
}

#[test]
fn zero_filled_tail_is_a_tear() {
    let dir = RamDirectory::new();
    let mut model = Model::default();
    let (store, _) = Store::open(dir.clone(), opts()).expect("open");
    run_workload(&store, &mut model);
    drop(store);
    let name = segment_of(&dir);
    let mut bytes = dir.file_bytes(&name).expect("segment");
    bytes.extend_from_slice(&[0u8; 4096]);
    dir.write_file(&name, bytes);
    let (store, rec) = Store::open(dir.clone(), opts()).expect("open");
    assert_eq!(rec.torn_tail.as_ref().expect("tear").dropped_bytes, 4096);
    model.assert_matches(&store, &rec, "zero tail");
}

fn segment_of(dir: &RamDirectory) -> String {
    let mut names: Vec<String> = dir
        .list()
        .expect("list")
        .into_iter()
        .filter(|n| n.starts_with("wal-"))
        .collect();
    names.sort();
    names.pop().expect("a segment")
}

#[test]
fn flipped_byte_mid_log_is_corruption_naming_file_and_offset() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let calls = workload();
    let second_start;
    let wal;
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        wal = wal_files(tmp.path()).pop().expect("segment");
        store.append(calls[0].clone()).expect("append");
        second_start = file_len(&wal);
        for call in &calls[1..] {
            store.append(call.clone()).expect("append");
        }
    }
    let mut bytes = std::fs::read(&wal).expect("read");
    bytes[second_start as usize + 8 + 20] ^= 0x04;
    std::fs::write(&wal, &bytes).expect("write");
    match Store::open_path(tmp.path(), opts()) {
        Err(StoreError::Corrupt {
            file,
            offset,
            reason,
        }) => {
            assert_eq!(file, wal);
            assert_eq!(offset, second_start);
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Nothing was "repaired": the file is untouched.
    assert_eq!(std::fs::read(&wal).expect("read"), bytes);
}

#[test]
fn second_open_of_a_folder_is_locked() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
    match Store::open_path(tmp.path(), opts()) {
        Err(e @ StoreError::Locked { .. }) => {
            let StoreError::Locked { path } = &e else {
                unreachable!()
            };
            assert_eq!(path, tmp.path());
            assert!(e.to_string().contains(&tmp.path().display().to_string()));
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(store);
    Store::open_path(tmp.path(), opts()).expect("reopen after close");
}

#[test]
fn a_missing_folder_is_refused_when_creating_is_off() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("typo");
    let existing_only = || opts().create_if_missing(false);
    for path in [&missing, &tmp.path().to_path_buf()] {
        match Store::open_path(path, existing_only()) {
            Err(StoreError::NoDataFolder { path: got }) => assert_eq!(&got, path),
            other => panic!(
                "expected NoDataFolder for {}, got {other:?}",
                path.display()
            ),
        }
    }
    assert!(!missing.exists(), "nothing is created");
    assert_eq!(std::fs::read_dir(tmp.path()).expect("list").count(), 0);

    let (store, _) = Store::open_path(&missing, opts()).expect("created by default");
    drop(store);
    Store::open_path(&missing, existing_only()).expect("an existing folder opens");
}

#[test]
fn other_model_or_dims_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    drop(Store::open_path(tmp.path(), opts()).expect("create"));
    match Store::open_path(tmp.path(), StoreOptions::new("other-model", DIMS)) {
        Err(e @ StoreError::ModelMismatch { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("moltsearch reindex --reembed"), "{msg}");
            assert!(msg.contains(MODEL) && msg.contains("other-model"), "{msg}");
        }
        other => panic!("expected ModelMismatch, got {other:?}"),
    }
    assert!(matches!(
        Store::open_path(tmp.path(), StoreOptions::new(MODEL, DIMS + 1)),
        Err(StoreError::DimsMismatch {
            stored: DIMS,
            requested: 5
        })
    ));
    assert!(matches!(
        Store::open_path(tmp.path(), StoreOptions::new("", DIMS)),
        Err(StoreError::InvalidOptions(_))
    ));
    Store::open_path(tmp.path(), opts()).expect("the right model still opens");
}

#[test]
fn checkpoint_then_reopen_gives_the_same_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut model = Model::default();
    let calls = workload();
    let snap_seq;
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        for call in &calls[..5] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
        let before = store.log_bytes();
        assert!(before > 0);
        store.checkpoint().expect("checkpoint");
        snap_seq = model.last_seq;
        assert_eq!(store.snapshot_seq(), Some(snap_seq));
        assert_eq!(store.log_bytes(), 0);
        // Vectors now come from the mapped file.
        assert_eq!(store.vector(2), Some(vector(2, 0)));
        for call in &calls[5..] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
        assert!(store.log_bytes() > 0);
        model.assert_matches(&store, &store.state(), "live after checkpoint");
    }
    assert_eq!(
        names_with_prefix(tmp.path(), "snapshot-"),
        vec![format!("snapshot-{snap_seq:020}.bin")]
    );
    assert_eq!(
        names_with_prefix(tmp.path(), "vectors-"),
        vec![format!("vectors-{snap_seq:020}.f32")]
    );
    assert_eq!(
        names_with_prefix(tmp.path(), "wal-"),
        vec![format!("wal-{snap_seq:020}.log")],
        "segments before the snapshot are deleted"
    );
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    model.assert_matches(&store, &rec, "reopened after checkpoint");
    assert_eq!(rec.snapshot_seq, Some(snap_seq));
    assert_eq!(rec.replayed_records, model.last_seq - snap_seq);

    // A second checkpoint folds everything; nothing left to replay.
    store.checkpoint().expect("checkpoint 2");
    store.checkpoint().expect("no-op checkpoint");
    drop(store);
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen 2");
    model.assert_matches(&store, &rec, "reopened after second checkpoint");
    assert_eq!(rec.replayed_records, 0);
    assert_eq!(rec.snapshot_seq, Some(model.last_seq));
}

#[test]
fn leftovers_of_an_interrupted_checkpoint_are_ignored() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut model = Model::default();
    let snap_seq;
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        let calls = workload();
        for call in &calls[..4] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
        store.checkpoint().expect("checkpoint");
        snap_seq = model.last_seq;
        for call in &calls[4..] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
    }
    let later = model.last_seq;
    // Half-written snapshot and vectors, and a vector file renamed before
    // its snapshot was.
    std::fs::write(
        tmp.path().join(format!("snapshot-{later:020}.bin.tmp")),
        b"MOLTSNAP half",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join(format!("vectors-{later:020}.f32.tmp")),
        b"MOLTVEC1 half",
    )
    .expect("write");
    std::fs::write(
        tmp.path().join(format!("vectors-{later:020}.f32")),
        b"MOLTVEC1 orphan",
    )
    .expect("write");
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("open");
    model.assert_matches(&store, &rec, "with leftovers");
    assert_eq!(rec.snapshot_seq, Some(snap_seq));
    let leftovers: Vec<String> = names_with_prefix(tmp.path(), "")
        .into_iter()
        .filter(|n| n.ends_with(".tmp") || *n == format!("vectors-{later:020}.f32"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn damaged_snapshot_or_vectors_are_corruption() {
    // Bytes from the start, or from the end when negative: the snapshot's
    // records, the vector file's doc ids and its last row.
    for (prefix, at_byte) in [("snapshot-", 40isize), ("vectors-", 30), ("vectors-", -1)] {
        let tmp = tempfile::tempdir().expect("tempdir");
        {
            let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
            run_workload(&store, &mut Model::default());
            store.checkpoint().expect("checkpoint");
        }
        let name = names_with_prefix(tmp.path(), prefix).pop().expect("file");
        let path = tmp.path().join(&name);
        let mut bytes = std::fs::read(&path).expect("read");
        let at = if at_byte < 0 {
            bytes.len() - at_byte.unsigned_abs()
        } else {
            at_byte.unsigned_abs()
        };
        bytes[at] ^= 0x01;
        std::fs::write(&path, bytes).expect("write");
        match Store::open_path(tmp.path(), opts()) {
            Err(StoreError::Corrupt { file, .. }) => assert_eq!(file, path, "{prefix} {at_byte}"),
            other => panic!("{prefix} {at_byte}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn doc_ids_are_never_reused_and_bad_records_write_nothing() {
    let dir = RamDirectory::new();
    let (store, _) = Store::open(dir.clone(), opts()).expect("open");
    store
        .append(vec![
            Record::PutDiary(diary(1)),
            Record::PutEntries(vec![
                entry(1, 1, 0, "a"),
                entry(2, 1, 1, "b"),
                entry(3, 1, 2, "c"),
            ]),
            Record::DeleteEntry {
                id: Uuid::from_u128(3),
            },
        ])
        .expect("append");
    assert_eq!(store.next_doc(), 3);
    let last = store.last_seq();
    let bytes = store.log_bytes();
    // Doc 2 belonged to a deleted entry: refused.
    match store.append(vec![
        Record::PutDiary(diary(2)),
        Record::PutEntries(vec![entry(4, 1, 2, "d")]),
    ]) {
        Err(StoreError::InvalidRecord { index: 1, reason }) => {
            assert!(reason.contains("doc id 2"), "{reason}")
        }
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    // Wrong dimension: refused.
    let mut bad = entry(5, 1, 3, "e");
    bad.vector.push(1.0);
    assert!(matches!(
        store.append(vec![Record::PutEntries(vec![bad])]),
        Err(StoreError::InvalidRecord { index: 0, .. })
    ));
    // An update must keep its doc or take a new one.
    let mut moved = entry(1, 1, 1, "a2");
    moved.vector = vector(1, 0);
    assert!(matches!(
        store.append(vec![Record::UpdateEntry(Box::new(moved))]),
        Err(StoreError::InvalidRecord { .. })
    ));
    assert_eq!((store.last_seq(), store.log_bytes()), (last, bytes));
    store.checkpoint().expect("checkpoint");
    drop(store);
    let (store, rec) = Store::open(dir.clone(), opts()).expect("reopen");
    assert_eq!(rec.next_doc, 3, "the deleted entry's doc stays taken");
    assert_eq!(rec.last_seq, last);
    assert_eq!(rec.diaries.len(), 1);
    store
        .append(vec![Record::PutEntries(vec![entry(4, 1, 3, "d")])])
        .expect("a fresh doc id is fine");
}

#[test]
fn power_loss_keeps_every_synced_append_and_buffered_loses_only_unsynced_ones() {
    // Sync: every acknowledged append survives.
    let dir = RamDirectory::new();
    let mut model = Model::default();
    let (store, _) = Store::open(dir.clone(), opts()).expect("open");
    run_workload(&store, &mut model);
    std::mem::forget(store); // crash: no clean shutdown
    dir.simulate_power_loss();
    let (store, rec) = Store::open(dir.clone(), opts()).expect("reopen");
    model.assert_matches(&store, &rec, "sync after power loss");
    drop(store);

    // Buffered: appends since the last sync may vanish, without damage.
    let dir = RamDirectory::new();
    let options = opts().durability(Durability::Buffered);
    let (store, _) = Store::open(dir.clone(), options.clone()).expect("open");
    let calls = workload();
    let mut model = Model::default();
    for call in &calls[..3] {
        model.apply_all(call);
        store.append(call.clone()).expect("append");
    }
    store.sync().expect("sync");
    for call in &calls[3..] {
        store.append(call.clone()).expect("append");
    }
    std::mem::forget(store);
    dir.simulate_power_loss();
    let (store, rec) = Store::open(dir.clone(), options.clone()).expect("reopen");
    model.assert_matches(
        &store,
        &rec,
        "buffered after power loss: synced prefix only",
    );
    // A clean close under Buffered syncs.
    for call in &calls[3..] {
        model.apply_all(call);
        store.append(call.clone()).expect("append");
    }
    store.close().expect("close");
    dir.simulate_power_loss();
    let (store, rec) = Store::open(dir.clone(), options).expect("reopen");
    model.assert_matches(&store, &rec, "buffered after clean close");
}

// --- failure injection ------------------------------------------------------

/// Wraps a RamDirectory to fail chosen operations and count fsyncs.
#[derive(Default)]
struct FaultyDir {
    inner: RamDirectory,
    fail_snapshot_rename: AtomicBool,
    fail_vectors_create: AtomicBool,
    fail_sync: AtomicBool,
    slow_sync: AtomicBool,
    syncs: Arc<AtomicUsize>,
}

impl fmt::Debug for FaultyDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyDir({:?})", self.inner)
    }
}

#[derive(Debug)]
struct FaultyFile {
    inner: Arc<dyn DirFile>,
    dir: Arc<FaultyDir>,
}

impl DirFile for FaultyFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.inner.append(buf)
    }
    fn sync(&self) -> io::Result<()> {
        if self.dir.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        if self.dir.slow_sync.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.dir.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.sync()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

/// The Directory impl needs an `Arc<FaultyDir>` to hand to its files.
#[derive(Debug, Clone)]
struct Faulty(Arc<FaultyDir>);

impl Directory for Faulty {
    fn path_of(&self, name: &str) -> PathBuf {
        self.0.inner.path_of(name)
    }
    fn list(&self) -> Result<Vec<String>, StoreError> {
        self.0.inner.list()
    }
    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        self.0.inner.exists(name)
    }
    fn read(&self, name: &str) -> Result<FileBytes, StoreError> {
        self.0.inner.read(name)
    }
    fn open_append(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        Ok(Arc::new(FaultyFile {
            inner: self.0.inner.open_append(name)?,
            dir: self.0.clone(),
        }))
    }
    fn create(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        if name.starts_with("vectors-") && self.0.fail_vectors_create.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                op: "create",
                path: self.path_of(name),
                source: io::Error::other("injected create failure"),
            });
        }
        Ok(Arc::new(FaultyFile {
            inner: self.0.inner.create(name)?,
            dir: self.0.clone(),
        }))
    }
    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        if to.starts_with("snapshot-") && self.0.fail_snapshot_rename.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                op: "rename",
                path: self.path_of(from),
                source: io::Error::other("injected rename failure"),
            });
        }
        self.0.inner.rename(from, to)
    }
    fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.0.inner.delete(name)
    }
    fn truncate(&self, name: &str, len: u64) -> Result<(), StoreError> {
        self.0.inner.truncate(name, len)
    }
    fn sync_dir(&self) -> Result<(), StoreError> {
        self.0.inner.sync_dir()
    }
}

#[test]
fn a_checkpoint_failing_midway_loses_nothing() {
    // Failing before anything of the snapshot is durable, and at its very
    // last step.
    for fail_early in [true, false] {
        let faulty = Faulty(Arc::new(FaultyDir::default()));
        let ram = faulty.0.inner.clone();
        let mut model = Model::default();
        let calls = workload();
        let (store, _) = Store::open_shared(Arc::new(faulty.clone()), opts()).expect("open");
        for call in &calls[..4] {
            model.apply_all(call);
            store.append(call.clone()).expect("append");
        }
        let flag = if fail_early {
            &faulty.0.fail_vectors_create
        } else {
            &faulty.0.fail_snapshot_rename
        };
        flag.store(true, Ordering::SeqCst);
        assert!(matches!(store.checkpoint(), Err(StoreError::Io { .. })));
        assert_eq!(store.snapshot_seq(), None);
        // The store keeps working in the new segment.
        for call in &calls[4..] {
            model.apply_all(call);
            store
                .append(call.clone())
                .expect("append after failed checkpoint");
        }
        std::mem::forget(store);
        ram.simulate_power_loss();
        let mut segments: Vec<String> = ram
            .list()
            .expect("list")
            .into_iter()
            .filter(|n| n.starts_with("wal-"))
            .collect();
        segments.sort();
        assert_eq!(segments.len(), 2, "{segments:?}");
        let (store, rec) = Store::open(ram.clone(), opts()).expect("recover");
        model.assert_matches(
            &store,
            &rec,
            &format!("after failed checkpoint (early: {fail_early})"),
        );
        assert_eq!(rec.snapshot_seq, None);
        drop(store);

        // Losing the older segment is detected, not papered over.
        ram.delete(&segments[0]).expect("delete");
        match Store::open(ram.clone(), opts()) {
            Err(StoreError::Corrupt { reason, .. }) => {
                assert!(reason.contains("missing"), "{reason}")
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn a_failed_fsync_poisons_the_store_until_reopened() {
    let faulty = Faulty(Arc::new(FaultyDir::default()));
    let (store, _) = Store::open_shared(Arc::new(faulty.clone()), opts()).expect("open");
    store
        .append(vec![Record::PutDiary(diary(1))])
        .expect("append");
    faulty.0.fail_sync.store(true, Ordering::SeqCst);
    assert!(matches!(
        store.append(vec![Record::PutDiary(diary(2))]),
        Err(StoreError::Io { op: "sync", .. })
    ));
    faulty.0.fail_sync.store(false, Ordering::SeqCst);
    assert!(matches!(
        store.append(vec![Record::PutDiary(diary(3))]),
        Err(StoreError::Poisoned { .. })
    ));
    assert!(matches!(
        store.checkpoint(),
        Err(StoreError::Poisoned { .. })
    ));
    drop(store);
    let (store, rec) = Store::open_shared(Arc::new(faulty.clone()), opts()).expect("reopen");
    assert!(rec.diaries.iter().any(|d| d.id == Uuid::from_u128(1)));
    assert!(!rec.diaries.iter().any(|d| d.id == Uuid::from_u128(3)));
    store
        .append(vec![Record::PutDiary(diary(3))])
        .expect("writes again after reopening");
}

#[test]
fn concurrent_appenders_share_fsyncs() {
    const THREADS: u128 = 8;
    const PER_THREAD: u128 = 25;
    let faulty = Faulty(Arc::new(FaultyDir::default()));
    faulty.0.slow_sync.store(true, Ordering::SeqCst);
    let (store, _) = Store::open_shared(Arc::new(faulty.clone()), opts()).expect("open");
    let before = faulty.0.syncs.load(Ordering::SeqCst);
    let mut seqs: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            store
                                .append(vec![Record::PutDiary(diary(1000 * (t + 1) + i))])
                                .expect("append")
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let total = (THREADS * PER_THREAD) as u64;
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=total).collect::<Vec<u64>>());
    let syncs = faulty.0.syncs.load(Ordering::SeqCst) - before;
    assert!(
        (syncs as u64) < total / 2,
        "{syncs} fsyncs for {total} appends: group commit is not batching"
    );
    std::mem::forget(store);
    faulty.0.inner.simulate_power_loss();
    let (_store, rec) = Store::open(faulty.0.inner.clone(), opts()).expect("reopen");
    assert_eq!(rec.diaries.len() as u64, total);
}

#[test]
fn checkpoints_racing_appenders_lose_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
    store
        .append(vec![Record::PutDiary(diary(1))])
        .expect("diary");
    std::thread::scope(|s| {
        let store = &store;
        s.spawn(move || {
            for i in 0..150u32 {
                let doc = store.next_doc();
                let mut e = entry(10_000 + u128::from(i), 1, doc, "x");
                e.vector = vector(doc, i);
                store
                    .append(vec![Record::PutEntries(vec![e])])
                    .expect("entry");
                if i % 3 == 0 && i > 0 {
                    // Same doc, new vector: must not be lost by rebasing.
                    let prev = store
                        .entry(Uuid::from_u128(10_000 + u128::from(i - 1)))
                        .expect("previous entry");
                    let mut updated = prev.clone();
                    updated.vector = vector(prev.doc, 1_000 + i);
                    store
                        .append(vec![Record::UpdateEntry(Box::new(updated))])
                        .expect("update");
                }
            }
        });
        for t in 0..3u128 {
            s.spawn(move || {
                for i in 0..100u128 {
                    store
                        .append(vec![Record::PutDiary(diary(100 + t * 1000 + i))])
                        .expect("diary");
                }
            });
        }
        s.spawn(move || {
            for _ in 0..15 {
                store.checkpoint().expect("checkpoint");
                std::thread::sleep(Duration::from_millis(3));
            }
        });
    });
    let live = store.state();
    assert_eq!(live.entries.len(), 150);
    let vectors: Vec<Option<Vec<f32>>> = live.entries.iter().map(|e| store.vector(e.doc)).collect();
    drop(store);
    let (store, mut rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    rec.snapshot_seq = live.snapshot_seq;
    rec.replayed_records = live.replayed_records;
    assert_eq!(rec, live);
    let reopened: Vec<Option<Vec<f32>>> = rec.entries.iter().map(|e| store.vector(e.doc)).collect();
    assert_eq!(reopened, vectors);
}

// --- property test ------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Diary(u8),
    Put(Vec<(u8, u8)>),
    /// pick, mode (0: re-embed to a new doc, 1: same doc and vector, 2: same
    /// doc with a new vector), content
    Update(u8, u8, u8),
    Delete(u8),
    Relate(u8, u8, u8),
    Status(u8, u8, u16),
    Unrelate(u8),
    Reopen,
    Checkpoint,
    PowerLoss,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<u8>().prop_map(Op::Diary),
        4 => prop::collection::vec((any::<u8>(), any::<u8>()), 1..4).prop_map(Op::Put),
        3 => (any::<u8>(), 0u8..3, any::<u8>()).prop_map(|(p, m, c)| Op::Update(p, m, c)),
        2 => any::<u8>().prop_map(Op::Delete),
        2 => (any::<u8>(), any::<u8>(), 0u8..6).prop_map(|(a, b, k)| Op::Relate(a, b, k)),
        2 => (any::<u8>(), 0u8..3, any::<u16>()).prop_map(|(p, s, t)| Op::Status(p, s, t)),
        1 => any::<u8>().prop_map(Op::Unrelate),
        1 => Just(Op::Reopen),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::PowerLoss),
    ]
}

fn pick<T: Clone>(items: &[T], p: u8) -> Option<T> {
    (!items.is_empty()).then(|| items[p as usize % items.len()].clone())
}

/// Turns an abstract op into records against the model's current state.
fn records_for(op: &Op, model: &Model, counter: &mut u128) -> Vec<Record> {
    let diary_ids: Vec<Uuid> = model.diaries.keys().copied().collect();
    let entry_ids: Vec<Uuid> = model.entries.keys().copied().collect();
    let relation_ids: Vec<Uuid> = model.relations.keys().copied().collect();
    *counter += 1;
    let n = *counter;
    match op {
        Op::Diary(p) => {
            // Sometimes replace an existing diary.
            let id = match pick(&diary_ids, *p) {
                Some(id) if p % 3 == 0 => id,
                _ => Uuid::from_u128(n),
            };
            vec![Record::PutDiary(Diary {
                id,
                team_id: Uuid::from_u128(7),
                name: format!("diary {p}"),
                visibility: Visibility::ALL[*p as usize % 3],
            })]
        }
        Op::Put(items) => {
            let mut doc = model.next_doc;
            let entries = items
                .iter()
                .enumerate()
                .map(|(i, (d, c))| {
                    let diary = pick(&diary_ids, *d).unwrap_or(Uuid::from_u128(1));
                    let mut r = record(n * 16 + i as u128, 0, &format!("content {c}"));
                    r.diary_id = diary;
                    r.created_at = at(i64::from(*c) * 1_000 + 123);
                    let e = StoredEntry {
                        record: Arc::new(r),
                        doc,
                        vector: vector(doc, u32::from(*c)),
                    };
                    doc += 1;
                    e
                })
                .collect();
            vec![Record::PutEntries(entries)]
        }
        Op::Update(p, mode, c) => {
            let Some(id) = pick(&entry_ids, *p) else {
                return Vec::new();
            };
            let old = &model.entries[&id];
            let mut e = old.clone();
            let r = Arc::make_mut(&mut e.record);
            r.content = format!("updated {c}");
            r.updated_at = at(i64::from(*c) + 10_000);
            match mode {
                0 => {
                    e.doc = model.next_doc;
                    e.vector = vector(e.doc, u32::from(*c) + 7);
                }
                1 => {}
                _ => e.vector = vector(e.doc, u32::from(*c) + 500),
            }
            vec![Record::UpdateEntry(Box::new(e))]
        }
        Op::Delete(p) => {
            let id = if p % 5 == 0 {
                Uuid::from_u128(u128::MAX - n) // missing: a no-op
            } else {
                match pick(&entry_ids, *p) {
                    Some(id) => id,
                    None => return Vec::new(),
                }
            };
            vec![Record::DeleteEntry { id }]
        }
        Op::Relate(a, b, k) => {
            let (Some(s), Some(t)) = (pick(&entry_ids, *a), pick(&entry_ids, *b)) else {
                return Vec::new();
            };
            vec![Record::PutRelation(Relation {
                id: Uuid::from_u128(n),
                diary_id: model.entries[&s].record.diary_id,
                source_id: s,
                target_id: t,
                relation: RelationKind::ALL[*k as usize],
                status: RelationStatus::Proposed,
                created_at: at(i64::from(*a)),
                updated_at: at(i64::from(*a)),
            })]
        }
        Op::Status(p, s, t) => {
            let id = pick(&relation_ids, *p).unwrap_or(Uuid::from_u128(u128::MAX - n));
            let at = OffsetDateTime::from_unix_timestamp_nanos(
                1_700_000_000_000_000_000 + i128::from(*t) * 1_000_003,
            )
            .expect("valid time");
            vec![Record::SetRelationStatus {
                id,
                status: RelationStatus::ALL[*s as usize],
                at,
            }]
        }
        Op::Unrelate(p) => match pick(&relation_ids, *p) {
            Some(id) => vec![Record::DeleteRelation { id }],
            None => Vec::new(),
        },
        Op::Reopen | Op::Checkpoint | Op::PowerLoss => Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = RamDirectory::new();
        let mut model = Model::default();
        let mut counter = 0u128;
        let (mut store, rec) = Store::open(dir.clone(), opts()).expect("open");
        model.assert_matches(&store, &rec, "empty");
        for (step, op) in ops.iter().enumerate() {
            let context = format!("step {step} {op:?}");
            match op {
                Op::Reopen => {
                    drop(store);
                    let (s, rec) = Store::open(dir.clone(), opts()).expect("reopen");
                    model.assert_matches(&s, &rec, &context);
                    store = s;
                }
                Op::PowerLoss => {
                    std::mem::forget(store);
                    dir.simulate_power_loss();
                    let (s, rec) = Store::open(dir.clone(), opts()).expect("reopen");
                    model.assert_matches(&s, &rec, &context);
                    store = s;
                }
                Op::Checkpoint => store.checkpoint().expect("checkpoint"),
                _ => {
                    let records = records_for(op, &model, &mut counter);
                    if records.is_empty() {
                        continue;
                    }
                    model.apply_all(&records);
                    let last = store.append(records).expect("append");
                    prop_assert_eq!(last, model.last_seq);
                }
            }
            model.assert_matches(&store, &store.state(), &context);
        }
        drop(store);
        let (store, rec) = Store::open(dir.clone(), opts()).expect("final reopen");
        model.assert_matches(&store, &rec, "final");
    }
}

#[test]
fn access_counts_replay_and_survive_checkpoints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let when = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    {
        let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
        store
            .append(vec![
                Record::PutDiary(diary(1)),
                Record::PutEntries(vec![
                    entry(10, 1, 0, "read often"),
                    entry(11, 1, 1, "never"),
                ]),
            ])
            .expect("append");
        let access = |count| Access {
            id: Uuid::from_u128(10),
            count,
            at: when,
        };
        // Absolute values: replaying an older record then a newer one ends
        // at the newer; an unknown entry is skipped.
        let ghost = Access {
            id: Uuid::from_u128(99),
            count: 1,
            at: when,
        };
        store
            .append(vec![Record::RecordAccesses(vec![access(2), ghost])])
            .expect("append");
        store
            .append(vec![Record::RecordAccesses(vec![access(5)])])
            .expect("append");
    }
    let check = |rec: &Recovered, context: &str| {
        let read = rec
            .entries
            .iter()
            .find(|e| e.record.id == Uuid::from_u128(10))
            .unwrap();
        assert_eq!(read.record.access_count, 5, "{context}");
        assert_eq!(read.record.last_accessed_at, Some(when), "{context}");
        let never = rec
            .entries
            .iter()
            .find(|e| e.record.id == Uuid::from_u128(11))
            .unwrap();
        assert_eq!(never.record.access_count, 0, "{context}");
        assert_eq!(rec.entries.len(), 2, "{context}");
    };
    let (store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    check(&rec, "replayed from the log");
    store.checkpoint().expect("checkpoint");
    drop(store);
    let (_store, rec) = Store::open_path(tmp.path(), opts()).expect("reopen");
    assert_eq!(rec.replayed_records, 0);
    check(&rec, "from the snapshot");
}

/// Folders written by earlier snapshot formats still open and are
/// rewritten in the current one: `tests/fixtures/store-v1` (one vector
/// file per snapshot) and `store-v2` (runs, no source sequence; written by
/// b1f368c), each with entries 10, 11, 12 at docs 0–2 in the snapshot, then
/// entry 13 at doc 3 and the deletion of 11 in the log.
#[test]
fn folders_in_earlier_snapshot_formats_still_open() {
    for format in ["store-v1", "store-v2"] {
        open_fixture(format);
    }
}

fn open_fixture(format: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(format);
    for file in std::fs::read_dir(&fixture).expect("fixture") {
        let file = file.expect("entry").path();
        let name = file.file_name().expect("name");
        std::fs::copy(&file, tmp.path().join(name)).expect("copy");
    }
    let expect = |store: &Store, got: &Recovered, context: &str| {
        let ids: Vec<u128> = got.entries.iter().map(|e| e.record.id.as_u128()).collect();
        assert_eq!(ids, [10, 12, 13], "{context}");
        for (e, doc) in got.entries.iter().zip([0, 2, 3]) {
            assert_eq!(e.doc, doc, "{context}");
            assert_eq!(store.vector(doc), Some(vector(doc, 0)), "{context}");
            assert_eq!(
                e.record.content,
                format!("content {}", e.record.id.as_u128())
            );
        }
        assert_eq!(got.diaries, vec![diary(1)], "{context}");
        assert_eq!(got.source_seq, 0, "{context}");
    };
    let (store, got) = Store::open_path(tmp.path(), opts()).expect("opens");
    expect(&store, &got, &format!("{format} as written"));
    // Written again in the current format, it still holds the same.
    store.checkpoint().expect("checkpoint");
    drop(store);
    let (store, got) = Store::open_path(tmp.path(), opts()).expect("reopens");
    expect(&store, &got, &format!("{format} after a checkpoint"));
}

/// Rows in each vector file (run) of `dir`, oldest first.
fn run_rows(dir: &Path) -> Vec<u64> {
    names_with_prefix(dir, "vectors-")
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).expect("run");
            u64::from_le_bytes(bytes[16..24].try_into().expect("count"))
        })
        .collect()
}

#[test]
fn checkpoints_write_each_vector_once_until_runs_are_mostly_dead() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let put = |store: &Store, docs: std::ops::Range<u32>| {
        let entries = docs
            .map(|d| entry(1_000 + u128::from(d), 1, d, &format!("e{d}")))
            .collect();
        store
            .append(vec![Record::PutEntries(entries)])
            .expect("put");
    };
    let check = |store: &Store, live: &[u32], context: &str| {
        assert_eq!(store.len(), live.len(), "{context}");
        for &d in live {
            assert_eq!(store.vector(d), Some(vector(d, 0)), "{context}: doc {d}");
        }
    };
    let (store, _) = Store::open_path(tmp.path(), opts()).expect("open");
    store
        .append(vec![Record::PutDiary(diary(1))])
        .expect("diary");
    put(&store, 0..100);
    store.checkpoint().expect("checkpoint");
    assert_eq!(run_rows(tmp.path()), [100]);

    // Only the ten new vectors are written; the first run is kept.
    put(&store, 100..110);
    store.checkpoint().expect("checkpoint");
    assert_eq!(run_rows(tmp.path()), [100, 10]);
    let all: Vec<u32> = (0..110).collect();
    check(&store, &all, "two runs");
    drop(store);
    let (store, _) = Store::open_path(tmp.path(), opts()).expect("reopen");
    check(&store, &all, "two runs, reopened");

    // 80 of the 110 rows now belong to deleted entries: one run of the
    // live vectors replaces both.
    let gone = (0..80).map(|d| Record::DeleteEntry {
        id: Uuid::from_u128(1_000 + d),
    });
    store.append(gone.collect()).expect("delete");
    store.checkpoint().expect("checkpoint");
    assert_eq!(run_rows(tmp.path()), [30]);
    let live: Vec<u32> = (80..110).collect();
    check(&store, &live, "rewritten");

    // Small checkpoints never leave more than MAX_RUNS runs.
    for d in 110..130 {
        put(&store, d..d + 1);
        store.checkpoint().expect("checkpoint");
        assert!(
            run_rows(tmp.path()).len() <= 8,
            "{:?}",
            run_rows(tmp.path())
        );
    }
    let live: Vec<u32> = (80..130).collect();
    check(&store, &live, "many runs");
    drop(store);
    let (store, _) = Store::open_path(tmp.path(), opts()).expect("reopen");
    check(&store, &live, "many runs, reopened");
    drop(store);

    // A damaged older run is found on open, named.
    let names = names_with_prefix(tmp.path(), "vectors-");
    assert!(names.len() > 1, "{names:?}");
    let oldest = tmp.path().join(&names[0]);
    let mut bytes = std::fs::read(&oldest).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&oldest, bytes).expect("write");
    match Store::open_path(tmp.path(), opts()) {
        Err(StoreError::Corrupt { file, .. }) => assert_eq!(file, oldest),
        other => panic!(
            "expected Corrupt naming {}, got {other:?}",
            oldest.display()
        ),
    }
}
