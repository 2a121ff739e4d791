//! Engines that mirror an external source of truth
//! (`EngineBuilder::external_source`): replicas fed the same changes hold
//! the same data and answer searches alike; replays are skipped or change
//! nothing; a reopened cache reports the source sequence it holds; local
//! writes and foreign caches are refused; a bad change applies nothing.
//! Real model, real indexes, real data folders.

use std::path::Path;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{Entry, EntryPatch, Relation, RelationKind};
use moltsearch_engine::store::StoreError;
use moltsearch_engine::{
    Access, Applied, Change, Diary, Engine, EntryChange, Error, NewEntry, Scope, SearchRequest,
    Visibility,
};
use time::OffsetDateTime;
use uuid::Uuid;

const SOURCE: &str = "postgres:7312345678901234567:moltnet";

fn embedder() -> Embedder {
    Embedder::builder().build().expect("model bootstrapped")
}

fn mirror(dir: &Path, e: &Embedder) -> Engine {
    Engine::builder()
        .embedder(e.clone())
        .data_dir(dir)
        .external_source(SOURCE)
        .open()
        .expect("open the mirror")
}

/// Ids and contents of a team search, in rank order.
fn search(engine: &Engine, team: Uuid, query: &str) -> Vec<(Uuid, String)> {
    engine
        .search(&SearchRequest::new(query, Scope::Team { team_id: team }))
        .expect("search")
        .hits
        .into_iter()
        .map(|h| (h.entry.id, h.entry.content))
        .collect()
}

/// An entry's id, content, tags and CID.
type Held = (Uuid, String, Vec<String>, String);

/// Every entry the engine holds, by id, without access counts (replicas
/// count their own searches).
fn entries(engine: &Engine, ids: &[Uuid]) -> Vec<Option<Held>> {
    ids.iter()
        .map(|id| {
            engine
                .get_entry(*id)
                .map(|r| (r.id, r.content, r.tags, r.content_hash))
        })
        .collect()
}

fn apply(engine: &Engine, seq: u64, changes: &[Change]) -> Applied {
    engine
        .apply_changes(seq, changes.to_vec())
        .expect("apply changes")
}

#[test]
fn replicas_fed_the_same_changes_agree_and_replays_change_nothing() {
    let e = embedder();
    let (dir_a, dir_b) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let (a, b) = (mirror(dir_a.path(), &e), mirror(dir_b.path(), &e));
    assert_eq!(a.source_seq(), 0);
    assert_eq!(a.external_source(), Some(SOURCE));

    // What a server would do: prepare on one replica, commit to the
    // source (here: a list of sequenced changes), apply on every replica.
    let team = Uuid::now_v7();
    let diary = Diary::new(team, "ops".into(), Visibility::Private).expect("diary");
    let mut feed: Vec<(u64, Vec<Change>)> = vec![(1, vec![Change::PutDiary(diary.clone())])];
    apply(&a, 1, &feed[0].1);
    let texts = [
        "Rotated the signing key of the notifier agent after the audit.",
        "Deployed the notifier to production behind a feature flag.",
        "Ducks on the pond at lunch; nothing to do with work.",
        "The staging database ran out of disk during the load test.",
    ];
    let batch: Vec<PutEntry> = texts
        .iter()
        .map(|t| NewEntry::new(diary.id, *t).into())
        .collect();
    let prepared = a.prepare_entries(batch).expect("prepare");
    assert_eq!(a.len(), 0, "preparing writes nothing");
    let ids: Vec<Uuid> = prepared
        .iter()
        .map(|c| match c {
            Change::PutEntry(p) => p.record.id,
            other => panic!("prepare_entries gave {other:?}"),
        })
        .collect();
    feed.push((2, prepared));

    // An edit that changes the text (re-embedded: a new doc on replay) and
    // a relation; then a delete.
    for (seq, changes) in &feed[1..] {
        apply(&a, *seq, changes);
    }
    let edit = EntryPatch {
        content: Some("Rotated the signing key of the notifier agent twice this week.".into()),
        ..EntryPatch::default()
    };
    let edited = a
        .prepare_update(ids[0], edit)
        .expect("prepare update")
        .expect("the patch changes something");
    let (e0, e1) = (
        Entry::from_record(a.get_entry(ids[0]).expect("0")).expect("valid"),
        Entry::from_record(a.get_entry(ids[1]).expect("1")).expect("valid"),
    );
    let relation = Relation::new(
        &e1,
        &e0,
        RelationKind::References,
        OffsetDateTime::now_utc(),
    )
    .expect("rel");
    feed.push((3, vec![edited, Change::PutRelation(relation.clone())]));
    feed.push((5, vec![Change::DeleteEntry { id: ids[2] }])); // the source may skip numbers
    for (seq, changes) in &feed[2..] {
        assert_eq!(apply(&a, *seq, changes), Applied::Applied);
    }
    for (seq, changes) in &feed {
        assert_eq!(apply(&b, *seq, changes), Applied::Applied);
    }

    for engine in [&a, &b] {
        assert_eq!(engine.source_seq(), 5);
        assert_eq!(engine.len(), 3);
        assert!(engine.get_entry(ids[2]).is_none(), "deleted");
        assert_eq!(engine.relations_of(ids[0]), vec![relation.clone()]);
        assert!(engine.check_indexes().expect("check").is_consistent());
    }
    assert_eq!(entries(&a, &ids), entries(&b, &ids));
    let edited_content = a.get_entry(ids[0]).expect("edited").content;
    assert!(edited_content.contains("twice"), "{edited_content}");
    for query in ["signing key rotation", "notifier production", "ducks pond"] {
        let (ra, rb) = (search(&a, team, query), search(&b, team, query));
        assert_eq!(ra, rb, "{query}");
        assert!(
            ra.iter().all(|(id, _)| *id != ids[2]),
            "{query}: a deleted entry is found: {ra:?}"
        );
    }
    assert_eq!(search(&a, team, "staging disk")[0].0, ids[3]);
    assert!(search(&a, team, "rotated key")
        .iter()
        .all(|(_, c)| !c.contains("after the audit")));

    // Replays: an old sequence is skipped whole; the same changes at a new
    // sequence (a torn call applied again) change nothing but the sequence.
    let before = (entries(&a, &ids), search(&a, team, "notifier"));
    for (seq, changes) in &feed {
        assert_eq!(apply(&a, *seq, changes), Applied::Skipped);
    }
    assert_eq!(
        apply(&a, 4, &feed[1].1),
        Applied::Skipped,
        "below the held 5"
    );
    let all: Vec<Change> = feed.iter().flat_map(|(_, c)| c.clone()).collect();
    assert_eq!(apply(&a, 6, &all), Applied::Applied);
    assert_eq!(a.source_seq(), 6);
    assert_eq!(a.len(), 3, "no duplicates");
    assert_eq!((entries(&a, &ids), search(&a, team, "notifier")), before);
    assert!(a.check_indexes().expect("check").is_consistent());

    // Access counts from the source (another replica's searches) show.
    let at = OffsetDateTime::now_utc();
    let counted = Change::Accesses(vec![Access {
        id: ids[1],
        count: 41,
        at,
    }]);
    assert_eq!(apply(&b, 6, &[counted]), Applied::Applied);
    assert_eq!(b.get_entry(ids[1]).expect("entry").access_count, 41);

    // Reopened, each cache reports the sequence it holds and goes on.
    drop((a, b));
    let a = mirror(dir_a.path(), &e);
    assert_eq!(a.source_seq(), 6);
    assert_eq!(a.open_report().source_seq, 6);
    assert_eq!(entries(&a, &ids), before.0);
    a.checkpoint().expect("checkpoint");
    drop(a);
    let a = mirror(dir_a.path(), &e);
    assert_eq!(a.source_seq(), 6, "through a snapshot too");
    assert_eq!(
        apply(&a, 7, &[Change::DeleteDiary { id: diary.id }]),
        Applied::Applied
    );
    assert_eq!(a.len(), 0);
    assert!(search(&a, team, "notifier").is_empty());
    let b = mirror(dir_b.path(), &e);
    assert_eq!(b.source_seq(), 6);
    assert_eq!(b.get_entry(ids[1]).expect("entry").access_count, 41);
}

#[test]
fn a_mirror_refuses_local_writes_foreign_sources_and_bad_changes() {
    let e = embedder();
    let dir = tempfile::tempdir().expect("dir");
    let m = mirror(dir.path(), &e);
    let team = Uuid::now_v7();
    let diary = Diary::new(team, "d".into(), Visibility::Private).expect("diary");
    apply(&m, 1, &[Change::PutDiary(diary.clone())]);

    let refused = m.put_entry(NewEntry::new(diary.id, "a local write"));
    assert!(
        matches!(&refused, Err(Error::ExternalSource { source_id }) if source_id == SOURCE),
        "{refused:?}"
    );
    assert!(matches!(
        m.create_diary(Diary::new(team, "x".into(), Visibility::Private).expect("d")),
        Err(Error::ExternalSource { .. })
    ));

    // A bad change fails the whole call, naming it; nothing is applied.
    let mut good = match m
        .prepare_entries(vec![NewEntry::new(diary.id, "a fine entry").into()])
        .expect("prepare")
        .pop()
    {
        Some(Change::PutEntry(p)) => *p,
        other => panic!("{other:?}"),
    };
    let orphan = EntryChange {
        record: moltsearch_engine::entry::EntryRecord {
            id: Uuid::now_v7(),
            diary_id: Uuid::now_v7(),
            ..good.record.clone()
        },
        ..good.clone()
    };
    let other_model = EntryChange {
        model_id: "another-model".into(),
        ..good.clone()
    };
    let short = EntryChange {
        vector: vec![0.5; 3],
        ..good.clone()
    };
    for (bad, what) in [
        (orphan, "not held"),
        (other_model, "another-model"),
        (short, "dimension"),
    ] {
        let changes = vec![
            Change::PutEntry(Box::new(good.clone())),
            Change::PutEntry(Box::new(bad)),
        ];
        match m.apply_changes(2, changes) {
            Err(Error::InvalidChange {
                source_seq: 2,
                index: 1,
                reason,
            }) => assert!(reason.contains(what), "{reason}"),
            other => panic!("expected InvalidChange for {what}, got {other:?}"),
        }
        assert_eq!(m.len(), 0, "nothing of the call applied");
        assert_eq!(m.source_seq(), 1);
    }
    good.record.importance = 9;
    apply(&m, 2, &[Change::PutEntry(Box::new(good.clone()))]);
    assert_eq!(m.get_entry(good.record.id).expect("put").importance, 9);
    drop(m);

    // The cache belongs to its source: a writable open without it, or with
    // another one, is refused; a read-only open may search it.
    for other in [None, Some("postgres:1:another")] {
        let mut builder = Engine::builder().embedder(e.clone()).data_dir(dir.path());
        if let Some(s) = other {
            builder = builder.external_source(s);
        }
        let opened = builder.open();
        assert!(
            matches!(
                &opened,
                Err(Error::Store(StoreError::SourceMismatch { stored: Some(s), .. })) if s == SOURCE
            ),
            "{:?}",
            opened.err()
        );
    }
    let reader = Engine::builder()
        .embedder(e.clone())
        .data_dir(dir.path())
        .read_only(true)
        .open()
        .expect("read-only open of a cache");
    assert_eq!(reader.len(), 1);
    assert_eq!(reader.source_seq(), 2);
    drop(reader);

    // A folder that is its own truth is not adopted by a source, and a
    // local engine does not take changes.
    let own = tempfile::tempdir().expect("own");
    let local = Engine::builder()
        .embedder(e.clone())
        .data_dir(own.path())
        .open()
        .expect("local");
    assert!(matches!(
        local.apply_changes(1, vec![Change::PutDiary(diary.clone())]),
        Err(Error::InvalidConfig(_))
    ));
    drop(local);
    assert!(matches!(
        Engine::builder()
            .embedder(e)
            .data_dir(own.path())
            .external_source(SOURCE)
            .open(),
        Err(Error::Store(StoreError::SourceMismatch {
            stored: None,
            ..
        }))
    ));
}
