//! The engine on a data folder: everything acknowledged survives a reopen,
//! searches give the same answers, and a reopen never runs the model.

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{Engine, PutEntry};
use moltsearch_engine::entry::cid::compute_content_cid;
use moltsearch_engine::entry::{
    Diary, EntryError, EntryPatch, NewEntry, PrivateKey, RelationKind, RelationStatus, Visibility,
};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Error;
use uuid::Uuid;

fn embedder() -> Embedder {
    Embedder::builder().build().expect("model bootstrapped")
}

/// An engine on `dir` with the default model.
fn open_at(dir: &std::path::Path, e: &Embedder) -> Engine {
    Engine::builder()
        .embedder(e.clone())
        .data_dir(dir)
        .open()
        .unwrap()
}

/// A fresh private diary.
fn new_diary(engine: &Engine) -> Diary {
    engine
        .create_diary(Diary::new(Uuid::now_v7(), "d".into(), Visibility::Private).unwrap())
        .unwrap()
}

fn hits(engine: &Engine, req: &SearchRequest) -> Vec<(Uuid, String)> {
    engine
        .search(req)
        .unwrap()
        .hits
        .into_iter()
        .map(|h| (h.entry.id, h.entry.content))
        .collect()
}

#[test]
fn state_and_search_results_survive_reopen_without_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let (diary, kept, updated, superseded, deleted, queries) = {
        let engine = open_at(dir.path(), &e);
        let diary = new_diary(&engine);
        let texts = [
            "Rotated the Ed25519 signing key for the notifier agent.",
            "Postgres migration 42 added an index on entries.created_at.",
            "The HNSW graph rebuild took nine minutes on staging.",
            "Lunch break: ducks on the park webcam.",
            "Decided to keep signing keys for 90 days.",
        ];
        let recs = engine
            .put_entries(
                texts
                    .iter()
                    .map(|t| PutEntry::from(NewEntry::new(diary.id, *t)))
                    .collect(),
            )
            .unwrap();
        let patch: EntryPatch = serde_json::from_str(r#"{"content": "Postgres migration 43 dropped the old trigram index.", "importance": 9}"#).unwrap();
        engine.update_entry(recs[1].id, patch).unwrap();
        let importance_only: EntryPatch = serde_json::from_str(r#"{"importance": 2}"#).unwrap();
        engine.update_entry(recs[2].id, importance_only).unwrap();
        engine.delete_entry(recs[3].id).unwrap();
        let rel = engine
            .relate(recs[0].id, recs[4].id, RelationKind::Supersedes)
            .unwrap();
        engine
            .set_relation_status(rel.id, RelationStatus::Accepted)
            .unwrap();
        let scope = Scope::Diaries {
            ids: vec![diary.id],
        };
        let mut queries = vec![
            SearchRequest::new("signing key", scope.clone()),
            SearchRequest::new("postgres index migration", scope.clone()),
            SearchRequest::new("graph rebuild", scope.clone()),
            SearchRequest::new("", scope.clone()),
        ];
        let mut q = SearchRequest::new("signing keys", scope);
        q.filters.exclude_superseded = true;
        queries.push(q);
        let before: Vec<_> = queries.iter().map(|q| hits(&engine, q)).collect();
        (
            diary.id, before, recs[1].id, recs[4].id, recs[3].id, queries,
        )
    };

    // Reopen with an embedder that is never loaded by the recovery itself.
    let e2 = embedder();
    let engine = Engine::builder()
        .embedder(e2.clone())
        .data_dir(dir.path())
        .open()
        .unwrap();
    assert!(!e2.is_loaded(), "opening must not run the model");
    assert!(engine.get_diary(diary).is_some());
    assert_eq!(engine.len(), 4);
    assert!(engine.get_entry(deleted).is_none());
    let up = engine.get_entry(updated).unwrap();
    assert!(up.content.contains("trigram"));
    assert_eq!(up.importance, 9);
    let after: Vec<_> = queries.iter().map(|q| hits(&engine, q)).collect();
    assert_eq!(after, kept);
    assert!(!after[4].iter().any(|(id, _)| *id == superseded));

    // New writes after a reopen get fresh doc ids and survive another reopen.
    engine
        .put_entry(NewEntry::new(diary, "A fresh entry after the restart."))
        .unwrap();
    engine.checkpoint().unwrap();
    drop(engine);
    let engine = Engine::builder()
        .embedder(e2)
        .data_dir(dir.path())
        .open()
        .unwrap();
    assert_eq!(engine.len(), 5);
    let r = SearchRequest::new("fresh entry restart", Scope::Diaries { ids: vec![diary] });
    assert!(hits(&engine, &r)[0].1.contains("fresh entry"));
}

#[test]
fn a_second_engine_on_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Engine::builder()
        .embedder(embedder())
        .data_dir(dir.path())
        .open()
        .unwrap();
    let err = Engine::builder()
        .embedder(embedder())
        .data_dir(dir.path())
        .open()
        .err()
        .unwrap();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert!(err.to_string().to_lowercase().contains("lock"), "{err}");
}

#[test]
fn another_model_is_refused_with_a_pointer_to_reindex() {
    let dir = tempfile::tempdir().unwrap();
    drop(
        Engine::builder()
            .embedder(embedder())
            .data_dir(dir.path())
            .open()
            .unwrap(),
    );
    let fp32 = Embedder::builder()
        .model("all-minilm-l6-v2")
        .build()
        .unwrap();
    let err = Engine::builder()
        .embedder(fp32)
        .data_dir(dir.path())
        .open()
        .err()
        .unwrap();
    assert!(err.to_string().contains("reindex --reembed"), "{err}");
}

#[test]
fn reembed_moves_a_folder_to_another_model_keeping_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (diary, ids, rel) = {
        let engine = Engine::builder()
            .embedder(embedder())
            .data_dir(&data)
            .open()
            .unwrap();
        let diary = new_diary(&engine);
        let recs = engine
            .put_entries(
                [
                    "Rotated the signing key.",
                    "Ducks on the webcam.",
                    "Signing keys last 90 days.",
                ]
                .iter()
                .map(|t| PutEntry::from(NewEntry::new(diary.id, *t)))
                .collect(),
            )
            .unwrap();
        let rel = engine
            .relate(recs[0].id, recs[2].id, RelationKind::Supersedes)
            .unwrap();
        engine
            .set_relation_status(rel.id, RelationStatus::Accepted)
            .unwrap();
        (
            diary.id,
            recs.iter().map(|r| r.id).collect::<Vec<_>>(),
            rel.id,
        )
    };
    let fp32 = Embedder::builder()
        .model("all-minilm-l6-v2")
        .build()
        .unwrap();
    let report = moltsearch_engine::engine::reindex::reembed(&data, &fp32, 2, |_, _| {}).unwrap();
    assert_eq!(
        (report.entries, report.diaries, report.relations),
        (3, 1, 1)
    );
    assert_eq!(report.to_model, "all-minilm-l6-v2");
    // The old model is now refused, the new one opens with everything.
    assert!(Engine::builder()
        .embedder(embedder())
        .data_dir(&data)
        .open()
        .is_err());
    let engine = Engine::builder()
        .embedder(fp32)
        .data_dir(&data)
        .open()
        .unwrap();
    assert_eq!(engine.len(), 3);
    assert_eq!(engine.relations_of(ids[0])[0].id, rel);
    let mut r = SearchRequest::new("signing key", Scope::Diaries { ids: vec![diary] });
    r.filters.exclude_superseded = true;
    let got: Vec<Uuid> = engine
        .search(&r)
        .unwrap()
        .hits
        .iter()
        .map(|h| h.entry.id)
        .collect();
    assert!(got.contains(&ids[0]) && !got.contains(&ids[2]), "{got:?}");
}

#[test]
fn vector_arm_works_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let diary = {
        let engine = Engine::builder()
            .embedder(embedder())
            .data_dir(dir.path())
            .open()
            .unwrap();
        let diary = new_diary(&engine);
        engine
            .put_entry(NewEntry::new(
                diary.id,
                "The automobile battery was flat this morning.",
            ))
            .unwrap();
        engine
            .put_entry(NewEntry::new(diary.id, "Reviewed the tantivy upgrade."))
            .unwrap();
        diary.id
    };
    let engine = Engine::builder()
        .embedder(embedder())
        .data_dir(dir.path())
        .open()
        .unwrap();
    let mut r = SearchRequest::new(
        "my car had a dead battery",
        Scope::Diaries { ids: vec![diary] },
    );
    r.mode = moltsearch_engine::search::request::SearchMode::Vector;
    let hits = engine.search(&r).unwrap().hits;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].entry.content.contains("automobile"));
}

#[test]
fn bad_vectors_and_duplicate_ids_are_refused_before_logging() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let engine = open_at(dir.path(), &e);
    let diary = new_diary(&engine);
    let mut flat = vec![0.1f32; 2 * e.dims()];
    flat[e.dims() + 3] = f32::NAN;
    let vectors = moltsearch_engine::embed::Embeddings::from_flat(e.dims(), flat).unwrap();
    let puts = vec![
        PutEntry::from(NewEntry::new(diary.id, "fine")),
        PutEntry::from(NewEntry::new(diary.id, "has a NaN vector")),
    ];
    let err = engine.put_entries_with_vectors(puts, &vectors).unwrap_err();
    assert!(matches!(err, Error::InBatch { index: 1, .. }), "{err}");
    let id = Uuid::now_v7();
    let twice = vec![
        PutEntry::from(NewEntry::new(diary.id, "one")).with_id(id),
        PutEntry::from(NewEntry::new(diary.id, "two")).with_id(id),
    ];
    assert!(matches!(
        engine.put_entries(twice),
        Err(Error::InBatch { index: 1, .. })
    ));
    assert_eq!(engine.len(), 0);
    drop(engine);
    let engine = Engine::builder()
        .embedder(e)
        .data_dir(dir.path())
        .open()
        .unwrap();
    assert_eq!(engine.len(), 0, "nothing of a refused batch was logged");
}

#[test]
fn access_counts_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let (diary, id) = {
        let engine = open_at(dir.path(), &e);
        let diary = new_diary(&engine);
        let rec = engine
            .put_entry(NewEntry::new(
                diary.id,
                "Rotated the notifier's signing key.",
            ))
            .unwrap();
        let req = SearchRequest::new(
            "signing key",
            Scope::Diaries {
                ids: vec![diary.id],
            },
        );
        for _ in 0..3 {
            assert_eq!(hits(&engine, &req).len(), 1);
        }
        assert_eq!(engine.get_entry(rec.id).unwrap().access_count, 3);
        // A checkpoint logs them too; then two more reads, logged on close.
        engine.checkpoint().unwrap();
        for _ in 0..2 {
            hits(&engine, &req);
        }
        (diary.id, rec.id)
    };
    let engine = open_at(dir.path(), &e);
    let got = engine.get_entry(id).unwrap();
    assert_eq!(got.access_count, 5);
    assert!(got.last_accessed_at.is_some());
    assert_eq!(
        got.updated_at, got.created_at,
        "reads do not touch updatedAt"
    );
    assert!(engine.get_diary(diary).is_some());
}

/// The entries' contents of a folder, sorted.
fn contents(engine: &Engine, diary: Uuid) -> Vec<String> {
    let req = moltsearch_engine::engine::ListRequest {
        scope: Scope::Diaries { ids: vec![diary] },
        limit: 100,
        ..Default::default()
    };
    let mut out: Vec<String> = engine
        .list(&req)
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.content)
        .collect();
    out.sort();
    out
}

/// A data folder at `dir` holding one diary with `texts`.
fn folder_with(dir: &std::path::Path, e: &Embedder, texts: &[&str]) -> Uuid {
    let engine = open_at(dir, e);
    let diary = new_diary(&engine);
    engine
        .put_entries(
            texts
                .iter()
                .map(|t| NewEntry::new(diary.id, *t).into())
                .collect::<Vec<PutEntry>>(),
        )
        .unwrap();
    diary.id
}

#[test]
fn a_reembed_interrupted_during_its_folder_swap_is_finished_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let data = tmp.path().join("data");
    let retired = tmp.path().join("data.pre-reembed");
    let new = tmp.path().join("data.reembed-tmp");

    // Killed between the two renames: no `data`, the complete new folder
    // and the retired one beside it.
    let diary = folder_with(&new, &e, &["re-embedded one", "re-embedded two"]);
    folder_with(&retired, &e, &["original"]);
    let engine = open_at(&data, &e);
    assert_eq!(
        contents(&engine, diary),
        ["re-embedded one", "re-embedded two"],
        "the new folder became the data folder, not an empty database"
    );
    assert!(!retired.exists() && !new.exists());
    drop(engine);

    // Killed after the swap, before the retired folder was removed.
    folder_with(&retired, &e, &["stale"]);
    let engine = open_at(&data, &e);
    assert_eq!(contents(&engine, diary).len(), 2);
    assert!(!retired.exists());
}

#[path = "common/synthetic.rs"]
mod synthetic;

#[test]
fn concurrent_single_entry_writers_share_commits_and_lose_nothing() {
    use moltsearch_engine::embed::Embeddings;
    use moltsearch_engine::search::request::SearchMode;

    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let dims = e.dims();
    let (threads, each) = (8usize, 15usize);
    let vectors = synthetic::clustered(threads * each, dims, 8, 0.1, 7);
    let engine = open_at(tmp.path(), &e);
    let diary = new_diary(&engine);
    let contested = Uuid::now_v7();
    let wins = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (engine, vectors, wins) = (&engine, &vectors, &wins);
            s.spawn(move || {
                // Every writer also races for one explicit id: exactly one
                // may get it, however the group commits interleave.
                let put: PutEntry = NewEntry::new(diary.id, format!("contested by {t}")).into();
                let row = vectors[..dims].to_vec();
                let one = Embeddings::from_flat(dims, row).unwrap();
                match engine.put_entries_with_vectors(vec![put.with_id(contested)], &one) {
                    Ok(_) => {
                        wins.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    Err(err) => assert!(
                        err.to_string().contains("already exists"),
                        "writer {t}: {err}"
                    ),
                }
                for i in 0..each {
                    let n = t * each + i;
                    let put: PutEntry =
                        NewEntry::new(diary.id, format!("marker{n}x written by {t}")).into();
                    let row = vectors[n * dims..(n + 1) * dims].to_vec();
                    let one = Embeddings::from_flat(dims, row).unwrap();
                    engine.put_entries_with_vectors(vec![put], &one).unwrap();
                }
            });
        }
    });
    assert_eq!(wins.into_inner(), 1, "one writer gets the contested id");

    let check = |engine: &Engine, context: &str| {
        assert_eq!(engine.len(), threads * each + 1, "{context}");
        assert!(engine.check_indexes().unwrap().is_consistent(), "{context}");
        for n in [0, threads * each / 2, threads * each - 1] {
            let mut req = SearchRequest::new(
                format!("marker{n}x"),
                Scope::Diaries {
                    ids: vec![diary.id],
                },
            );
            req.mode = SearchMode::Text;
            let found = hits(engine, &req);
            assert_eq!(found.len(), 1, "{context}: marker{n}x");
        }
    };
    check(&engine, "after the writers returned");
    drop(engine);
    let engine = open_at(tmp.path(), &e);
    check(&engine, "after a reopen");
    assert_eq!(
        engine.open_report().text_added,
        0,
        "every write was committed"
    );
}

#[test]
fn concurrent_updates_of_one_entry_leave_one_version_indexed() {
    use moltsearch_engine::search::request::SearchMode;

    let tmp = tempfile::tempdir().unwrap();
    let e = embedder();
    let engine = open_at(tmp.path(), &e);
    let diary = new_diary(&engine);
    let id = engine
        .put_entry(NewEntry::new(diary.id, "version zero"))
        .unwrap()
        .id;
    let (threads, rounds) = (4usize, 3usize);
    std::thread::scope(|s| {
        // Beside the content writers (each re-embeds, so each races with
        // the others for long), one writer changes only the importance: its
        // last value must survive, whatever the content writers read.
        let engine_ref = &engine;
        s.spawn(move || {
            for importance in [2i64, 4, 6, 8, 9] {
                let patch = EntryPatch {
                    importance: Some(importance),
                    ..EntryPatch::default()
                };
                engine_ref.update_entry(id, patch).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        });
        for t in 0..threads {
            let engine = &engine;
            s.spawn(move || {
                for r in 0..rounds {
                    let patch = EntryPatch {
                        content: Some(format!("version w{t}r{r}x")),
                        ..EntryPatch::default()
                    };
                    engine.update_entry(id, patch).unwrap();
                }
            });
        }
    });

    let check = |engine: &Engine, context: &str| {
        let entry = engine.get_entry(id).unwrap();
        assert_eq!(entry.importance, 9, "{context}: no update was lost");
        let last = entry.content;
        assert_eq!(engine.len(), 1, "{context}");
        // Every replaced version left both indexes: only the last is found.
        assert!(engine.check_indexes().unwrap().is_consistent(), "{context}");
        for t in 0..threads {
            for r in 0..rounds {
                let word = format!("w{t}r{r}x");
                let mut req = SearchRequest::new(
                    word.clone(),
                    Scope::Diaries {
                        ids: vec![diary.id],
                    },
                );
                req.mode = SearchMode::Text;
                let found = hits(engine, &req).len();
                let want = usize::from(last.contains(&word));
                assert_eq!(found, want, "{context}: {word} (last: {last})");
            }
        }
    };
    check(&engine, "after the updates");
    drop(engine);
    check(&open_at(tmp.path(), &e), "after a reopen");
}

/// An update whose indexing fails after its record is logged keeps the new
/// doc id it logged: the next put takes another one (the store refuses a
/// doc id twice, so reusing it blocked every later put until a reopen), and
/// a reopen has both writes.
#[test]
fn a_failed_update_leaves_later_puts_their_own_doc_ids() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let engine = open_at(dir.path(), &e);
    let diary = new_diary(&engine);
    let entry = engine
        .put_entry(NewEntry::new(diary.id, "first version"))
        .unwrap();
    // Without its folder the text index cannot commit: the update fails
    // after its record reached the log.
    std::fs::remove_dir_all(dir.path().join("text")).unwrap();
    let patch = EntryPatch {
        content: Some("second version".into()),
        ..EntryPatch::default()
    };
    let err = engine.update_entry(entry.id, patch).unwrap_err();
    assert!(matches!(err, Error::TextIndex(_)), "{err}");
    // This put fails at the same commit, but only after it was logged;
    // with the update's doc id taken again the store refused to log it.
    let err = engine
        .put_entry(NewEntry::new(diary.id, "a later entry"))
        .unwrap_err();
    assert!(matches!(err, Error::TextIndex(_)), "{err}");
    drop(engine);
    let engine = open_at(dir.path(), &e);
    assert_eq!(
        contents(&engine, diary.id),
        ["a later entry", "second version"]
    );
}

/// Ids of the hits of `query` over `diaries`.
fn hit_ids(engine: &Engine, query: &str, diaries: &[Uuid]) -> Vec<Uuid> {
    let req = SearchRequest::new(
        query,
        Scope::Diaries {
            ids: diaries.to_vec(),
        },
    );
    hits(engine, &req).into_iter().map(|(id, _)| id).collect()
}

#[test]
fn deleting_a_diary_removes_its_entries_and_relations_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let (keep, gone, kept, lost) = {
        let engine = open_at(dir.path(), &e);
        let keep = new_diary(&engine);
        let gone = new_diary(&engine);
        let kept = engine
            .put_entry(NewEntry::new(
                keep.id,
                "Kept: the deploy checklist for the notifier.",
            ))
            .unwrap();
        let lost = engine
            .put_entries(vec![
                NewEntry::new(gone.id, "Gone: a deploy checklist draft.").into(),
                NewEntry::new(gone.id, "Gone: notes on the staging deploy.").into(),
            ])
            .unwrap();
        engine
            .relate(lost[0].id, lost[1].id, RelationKind::Supersedes)
            .unwrap();
        let both = [keep.id, gone.id];
        assert_eq!(hit_ids(&engine, "deploy checklist", &both).len(), 3);

        engine.delete_diary(gone.id).unwrap();
        assert!(engine.get_diary(gone.id).is_none());
        assert!(lost.iter().all(|r| engine.get_entry(r.id).is_none()));
        assert!(engine.relations_of(lost[1].id).is_empty());
        assert_eq!(hit_ids(&engine, "deploy checklist", &both), vec![kept.id]);
        assert!(engine.check_indexes().unwrap().is_consistent());
        assert!(matches!(
            engine.delete_diary(gone.id),
            Err(Error::NotFound { what: "diary", .. })
        ));
        (keep, gone, kept, lost)
    };
    let engine = open_at(dir.path(), &e);
    assert!(engine.get_diary(gone.id).is_none());
    assert!(engine.get_diary(keep.id).is_some());
    assert!(lost.iter().all(|r| engine.get_entry(r.id).is_none()));
    assert_eq!(engine.len(), 1);
    assert_eq!(
        hit_ids(&engine, "deploy checklist", &[keep.id, gone.id]),
        vec![kept.id]
    );
    assert!(engine.check_indexes().unwrap().is_consistent());
}

#[test]
fn a_diary_holding_signed_entries_is_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let engine = open_at(dir.path(), &e);
    let diary = new_diary(&engine);
    let key = PrivateKey::from_seed(&[7; 32]);
    let mut signed = NewEntry::new(diary.id, "Signed: rotate keys every 90 days.");
    let cid = compute_content_cid::<&str>("semantic", None, &signed.content, &[]);
    signed.content_signature = Some(key.sign(&cid, "nonce-1").unwrap().to_string());
    signed.content_hash = Some(cid);
    signed.signing_nonce = Some("nonce-1".into());
    signed.signer_public_key = Some(key.public_key().to_string());
    let signed = engine.put_entry(signed).unwrap();
    let plain = engine
        .put_entry(NewEntry::new(diary.id, "Unsigned: lunch notes."))
        .unwrap();

    match engine.delete_diary(diary.id) {
        Err(Error::Entry(EntryError::DiaryHoldsSigned { signed: 1 })) => {}
        other => panic!("expected a refusal naming one signed entry, got {other:?}"),
    }
    // Nothing was deleted, now or after a reopen.
    drop(engine);
    let engine = open_at(dir.path(), &e);
    assert!(engine.get_diary(diary.id).is_some());
    assert!(engine.get_entry(signed.id).is_some());
    assert!(engine.get_entry(plain.id).is_some());
}

/// A signed entry for `diary` under `nonce`.
fn signed_entry(diary: Uuid, content: &str, nonce: &str) -> NewEntry {
    let key = PrivateKey::from_seed(&[3; 32]);
    let cid = compute_content_cid("semantic", None, content, &[] as &[&str]);
    NewEntry {
        content_signature: Some(key.sign(&cid, nonce).unwrap().to_string()),
        signing_nonce: Some(nonce.into()),
        signer_public_key: Some(key.public_key().to_string()),
        ..NewEntry::new(diary, content)
    }
}

fn is_nonce_in_use(err: &Error) -> bool {
    matches!(err, Error::InBatch { cause, .. }
        if matches!(**cause, Error::Entry(EntryError::NonceInUse { .. })))
}

#[test]
fn diary_edits_relation_deletes_and_used_nonces_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let e = embedder();
    let (diary, relation) = {
        let engine = open_at(dir.path(), &e);
        let diary = new_diary(&engine);
        let renamed = Diary {
            name: "renamed".into(),
            visibility: Visibility::Public,
            ..diary.clone()
        };
        engine.update_diary(renamed).unwrap();
        let moved = Diary {
            team_id: Uuid::now_v7(),
            ..diary.clone()
        };
        let err = engine.update_diary(moved).unwrap_err();
        assert!(
            matches!(err, Error::Invalid(ref f) if f.field == "teamId"),
            "{err}"
        );
        let missing = Diary {
            id: Uuid::now_v7(),
            ..diary.clone()
        };
        assert!(matches!(
            engine.update_diary(missing),
            Err(Error::NotFound { what: "diary", .. })
        ));

        engine
            .put_entry(signed_entry(diary.id, "first signed", "nonce-a"))
            .unwrap();
        let err = engine
            .put_entry(signed_entry(diary.id, "second signed", "nonce-a"))
            .unwrap_err();
        assert!(is_nonce_in_use(&err), "{err}");
        let err = engine
            .put_entries(vec![
                signed_entry(diary.id, "x", "nonce-b").into(),
                signed_entry(diary.id, "y", "nonce-b").into(),
            ])
            .unwrap_err();
        assert!(is_nonce_in_use(&err), "same nonce twice in a batch: {err}");
        // Concurrent writers with one nonce: exactly one wins.
        let winners = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let engine = &engine;
                    s.spawn(move || {
                        engine
                            .put_entry(signed_entry(diary.id, &format!("racer {i}"), "nonce-c"))
                            .is_ok()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|&ok| ok)
                .count()
        });
        assert_eq!(winners, 1);

        let a = engine
            .put_entry(NewEntry::new(diary.id, "old fact"))
            .unwrap();
        let b = engine
            .put_entry(NewEntry::new(diary.id, "new fact"))
            .unwrap();
        let r = engine.relate(b.id, a.id, RelationKind::Supersedes).unwrap();
        engine
            .set_relation_status(r.id, RelationStatus::Accepted)
            .unwrap();
        assert_eq!(
            engine.get_relation(r.id).unwrap().status,
            RelationStatus::Accepted
        );
        engine.delete_relation(r.id).unwrap();
        assert!(matches!(
            engine.delete_relation(r.id),
            Err(Error::NotFound {
                what: "relation",
                ..
            })
        ));
        (diary.id, r.id)
    };
    let engine = open_at(dir.path(), &e);
    let d = engine.get_diary(diary).unwrap();
    assert_eq!(
        (d.name.as_str(), d.visibility),
        ("renamed", Visibility::Public)
    );
    assert!(engine.get_relation(relation).is_none());
    let err = engine
        .put_entry(signed_entry(diary, "after reopen", "nonce-a"))
        .unwrap_err();
    assert!(
        is_nonce_in_use(&err),
        "the nonce stays used after a reopen: {err}"
    );
    engine.checkpoint().unwrap();
    drop(engine);
    let engine = open_at(dir.path(), &e);
    let err = engine
        .put_entry(signed_entry(diary, "after checkpoint", "nonce-c"))
        .unwrap_err();
    assert!(is_nonce_in_use(&err), "and after a snapshot load: {err}");
    engine
        .put_entry(signed_entry(diary, "a fresh nonce", "nonce-d"))
        .unwrap();
}
