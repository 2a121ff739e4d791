//! proptest: a random sequence of puts, updates, deletes, relations and
//! reopens on a data folder gives the same lists and searches as an
//! in-memory engine that saw the same operations (real model, real indexes).

use std::sync::OnceLock;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{ListRequest, PutEntry};
use moltsearch_engine::entry::{
    Diary, EntryPatch, NewEntry, RelationKind, RelationStatus, Visibility,
};
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;
use proptest::prelude::*;
use uuid::Uuid;

const TEXTS: [&str; 8] = [
    "Rotated the Ed25519 signing key for the notifier.",
    "Deployed recall to staging; smoke tests passed.",
    "Deployed recall to production after review.",
    "Postgres migration added an index on created_at.",
    "Raised ef_search to 64 for better recall.",
    "Ducks on the park webcam during lunch.",
    "The tantivy upgrade changed the collector API.",
    "Incident: the embedder ran out of memory at batch 256.",
];

#[derive(Clone, Debug)]
enum Op {
    Put(usize),
    Update(usize, usize),
    Importance(usize, i64),
    Delete(usize),
    Supersede(usize, usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TEXTS.len()).prop_map(Op::Put),
        2 => (0..16usize, 0..TEXTS.len()).prop_map(|(e, t)| Op::Update(e, t)),
        1 => (0..16usize, 1..=10i64).prop_map(|(e, i)| Op::Importance(e, i)),
        1 => (0..16usize).prop_map(Op::Delete),
        1 => (0..16usize, 0..16usize).prop_map(|(a, b)| Op::Supersede(a, b)),
        2 => Just(Op::Reopen),
    ]
}

fn embedder() -> Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| Embedder::builder().build().expect("model bootstrapped"))
        .clone()
}

/// Applies one op to an engine; ids are chosen by the caller so both
/// engines name entries alike. Returns whether the op succeeded.
fn apply(engine: &Engine, op: &Op, ids: &mut Vec<Uuid>, diary: Uuid, n: &mut u128) -> bool {
    let pick = |i: usize, ids: &Vec<Uuid>| (!ids.is_empty()).then(|| ids[i % ids.len()]);
    match *op {
        Op::Put(t) => {
            *n += 1;
            let id = Uuid::from_u128(*n);
            let put =
                PutEntry::from(NewEntry::new(diary, format!("{} (#{n})", TEXTS[t]))).with_id(id);
            engine.put_entry(put).is_ok() && {
                ids.push(id);
                true
            }
        }
        Op::Update(e, t) => pick(e, ids).is_some_and(|id| {
            let patch: EntryPatch =
                serde_json::from_value(serde_json::json!({ "content": TEXTS[t] })).unwrap();
            engine.update_entry(id, patch).is_ok()
        }),
        Op::Importance(e, i) => pick(e, ids).is_some_and(|id| {
            let patch: EntryPatch =
                serde_json::from_value(serde_json::json!({ "importance": i })).unwrap();
            engine.update_entry(id, patch).is_ok()
        }),
        Op::Delete(e) => pick(e, ids).is_some_and(|id| {
            let ok = engine.delete_entry(id).is_ok();
            if ok {
                ids.retain(|x| *x != id);
            }
            ok
        }),
        Op::Supersede(a, b) => match (pick(a, ids), pick(b, ids)) {
            (Some(a), Some(b)) => engine
                .relate(a, b, RelationKind::Supersedes)
                .and_then(|r| engine.set_relation_status(r.id, RelationStatus::Accepted))
                .is_ok(),
            _ => false,
        },
        Op::Reopen => true,
    }
}

fn observe(engine: &Engine, diary: Uuid) -> Vec<Vec<(Uuid, String, u8)>> {
    let scope = Scope::Diaries { ids: vec![diary] };
    let list = engine
        .list(&ListRequest {
            scope: scope.clone(),
            limit: 100,
            ..ListRequest::default()
        })
        .unwrap()
        .entries
        .into_iter()
        .map(|e| (e.id, e.content, e.importance))
        .collect();
    let mut out = vec![list];
    for q in ["deployed recall", "signing key", "memory incident"] {
        for hide in [false, true] {
            let mut r = SearchRequest::new(q, scope.clone());
            r.filters.exclude_superseded = hide;
            out.push(
                engine
                    .search(&r)
                    .unwrap()
                    .hits
                    .into_iter()
                    .map(|h| (h.entry.id, h.entry.content, h.entry.importance))
                    .collect(),
            );
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn durable_engine_equals_in_memory_engine(ops in prop::collection::vec(op(), 1..24)) {
        let dir = tempfile::tempdir().unwrap();
        // Tiny vector segments, so reopens load persisted segments.
        let open = || {
            Engine::builder()
                .embedder(embedder())
                .vector_index(VectorIndexBuilder::new().seal_threshold(4).min_graph_rows(2))
                .data_dir(dir.path())
                .open()
                .unwrap()
        };
        let model = Engine::builder().embedder(embedder()).open_in_memory().unwrap();
        let diary = Diary::with_id(Uuid::from_u128(u128::MAX), Uuid::nil(), "d".into(), Visibility::Private).unwrap();
        model.create_diary(diary.clone()).unwrap();
        let mut durable = open();
        durable.create_diary(diary.clone()).unwrap();
        let (mut ids_m, mut ids_d, mut n_m, mut n_d) = (Vec::new(), Vec::new(), 0u128, 0u128);
        for op in &ops {
            if matches!(op, Op::Reopen) {
                drop(durable);
                durable = open();
                let check = durable.check_indexes().unwrap();
                prop_assert!(check.is_consistent(), "{:?}", check);
            }
            let a = apply(&model, op, &mut ids_m, diary.id, &mut n_m);
            let b = apply(&durable, op, &mut ids_d, diary.id, &mut n_d);
            prop_assert_eq!(a, b, "op {:?} succeeded on one engine only", op);
        }
        drop(durable);
        let durable = open();
        let check = durable.check_indexes().unwrap();
        prop_assert!(check.is_consistent(), "{:?}", check);
        prop_assert_eq!(observe(&model, diary.id), observe(&durable, diary.id));
    }
}
