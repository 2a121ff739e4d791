//! MoltNet's search behaviours, on the real model, real tantivy and HNSW.

use std::sync::OnceLock;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{Engine, ListRequest, PutEntry};
use moltsearch_engine::entry::{
    Diary, EntryPatch, EntryRecord, EntryType, NewEntry, RelationKind, RelationStatus, Visibility,
};
use moltsearch_engine::search::request::{Filters, Scope, SearchMode, SearchRequest};
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

fn embedder() -> Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| {
        Embedder::builder()
            .build()
            .expect("model bootstrapped (scripts/bootstrap.sh)")
    })
    .clone()
}

struct Fixture {
    engine: Engine,
    diary: Uuid,
    team: Uuid,
}

fn fixture() -> Fixture {
    let engine = Engine::builder()
        .embedder(embedder())
        .open_in_memory()
        .unwrap();
    let team = Uuid::now_v7();
    let diary = engine
        .create_diary(Diary::new(team, "agent diary".into(), Visibility::Private).unwrap())
        .unwrap()
        .id;
    Fixture {
        engine,
        diary,
        team,
    }
}

impl Fixture {
    fn put(&self, title: Option<&str>, content: &str, tags: &[&str], ty: EntryType) -> EntryRecord {
        self.put_at(title, content, tags, ty, OffsetDateTime::now_utc())
    }

    fn put_at(
        &self,
        title: Option<&str>,
        content: &str,
        tags: &[&str],
        ty: EntryType,
        at: OffsetDateTime,
    ) -> EntryRecord {
        let mut e = NewEntry::new(self.diary, content);
        e.title = title.map(str::to_string);
        e.tags = Some(tags.iter().map(|t| t.to_string()).collect());
        e.entry_type = Some(ty);
        self.engine
            .put_entry(PutEntry::from(e).created_at(at))
            .unwrap()
    }

    fn req(&self, q: &str) -> SearchRequest {
        SearchRequest::new(
            q,
            Scope::Diaries {
                ids: vec![self.diary],
            },
        )
    }

    fn ids(&self, req: &SearchRequest) -> Vec<Uuid> {
        self.engine
            .search(req)
            .unwrap()
            .hits
            .into_iter()
            .map(|h| h.entry.id)
            .collect()
    }
}

#[test]
fn cryptographic_signatures_finds_only_the_ed25519_entry() {
    let f = fixture();
    let sig = f.put(
        Some("Signing entries"),
        // The vector arm alone puts this entry at cosine 0.405 under MiniLM
        // int8, on the 0.4 cut-off: batch-dependent int8 noise flipped it.
        // Worded as MoltNet's fixture would be, both arms find it.
        "Every diary entry carries an Ed25519 signature over its content id: cryptographic proof of authorship.",
        &["security"],
        EntryType::Semantic,
    );
    f.put(
        None,
        "Watched the ducks in the park pond this afternoon, they were chasing bread crumbs.",
        &["personal"],
        EntryType::Episodic,
    );
    assert_eq!(f.ids(&f.req("cryptographic signatures")), vec![sig.id]);
}

#[test]
fn quoted_phrase_ranks_the_exact_phrase_first() {
    let f = fixture();
    f.put(
        None,
        "The index rebuild was slow, and the memory usage grew during the night.",
        &[],
        EntryType::Episodic,
    );
    let exact = f.put(
        None,
        "We saw memory usage grow after the index rebuild finished.",
        &[],
        EntryType::Episodic,
    );
    f.put(
        None,
        "Rebuild the search index weekly; memory is cheap.",
        &[],
        EntryType::Procedural,
    );
    let ids = f.ids(&f.req("\"index rebuild finished\""));
    assert_eq!(ids.first(), Some(&exact.id), "{ids:?}");
}

#[test]
fn negation_excludes_entries_even_when_semantically_close() {
    let f = fixture();
    let staging = f.put(
        Some("Deploy to staging"),
        "Deployed the recall service to the staging cluster.",
        &["deploy"],
        EntryType::Episodic,
    );
    let prod = f.put(
        Some("Deploy to production"),
        "Deployed the recall service to the production cluster.",
        &["deploy"],
        EntryType::Episodic,
    );
    let ids = f.ids(&f.req("deploy -staging"));
    assert!(
        ids.contains(&prod.id) && !ids.contains(&staging.id),
        "{ids:?}"
    );
    let ids = f.ids(&f.req("deploy -production"));
    assert!(
        ids.contains(&staging.id) && !ids.contains(&prod.id),
        "{ids:?}"
    );
}

#[test]
fn exact_title_and_tag_only_terms_are_found_by_text() {
    let f = fixture();
    f.put(
        Some("Weekly review"),
        "Reviewed the backlog with the team.",
        &[],
        EntryType::Reflection,
    );
    let titled = f.put(
        Some("Postgres vacuum schedule"),
        "Autovacuum now runs nightly at 02:00.",
        &[],
        EntryType::Procedural,
    );
    let tagged = f.put(
        None,
        "Tuned the cache eviction policy after the incident.",
        &["k8s-prod"],
        EntryType::Episodic,
    );
    let mut r = f.req("Postgres vacuum schedule");
    r.mode = SearchMode::Text;
    assert_eq!(f.ids(&r).first(), Some(&titled.id));
    let mut r = f.req("k8s-prod");
    r.mode = SearchMode::Text;
    assert_eq!(f.ids(&r), vec![tagged.id]);
}

#[test]
fn filters_are_exact() {
    let f = fixture();
    let a = f.put(
        None,
        "deploy notes alpha",
        &["deploy", "staging"],
        EntryType::Episodic,
    );
    let b = f.put(
        None,
        "deploy notes beta",
        &["deploy", "production"],
        EntryType::Procedural,
    );
    let c = f.put(None, "deploy notes gamma", &["deploy"], EntryType::Semantic);
    let mut r = f.req("deploy notes");
    r.filters.tags = vec!["deploy".into(), "staging".into()];
    assert_eq!(f.ids(&r), vec![a.id]);
    let mut r = f.req("deploy notes");
    r.filters.exclude_tags = vec!["staging".into(), "production".into()];
    assert_eq!(f.ids(&r), vec![c.id]);
    let mut r = f.req("deploy notes");
    r.filters.entry_types = vec![EntryType::Procedural, EntryType::Semantic];
    let mut got = f.ids(&r);
    got.sort();
    let mut want = vec![b.id, c.id];
    want.sort();
    assert_eq!(got, want);
    // Unknown tag: nothing, not everything.
    let mut r = f.req("deploy notes");
    r.filters.tags = vec!["Deploy".into()];
    assert!(f.ids(&r).is_empty(), "tags are case-sensitive");
}

#[test]
fn exclude_superseded_hides_exactly_accepted_supersedes_targets() {
    let f = fixture();
    let old = f.put(
        None,
        "Decision: rotate signing keys every 90 days.",
        &["keys"],
        EntryType::Semantic,
    );
    let new = f.put(
        None,
        "Revised decision: rotate signing keys every 30 days.",
        &["keys"],
        EntryType::Semantic,
    );
    let other = f.put(
        None,
        "Decision: keep signing keys in the vault.",
        &["keys"],
        EntryType::Semantic,
    );
    let proposed = f
        .engine
        .relate(new.id, old.id, RelationKind::Supersedes)
        .unwrap();
    // An elaborates relation, even accepted, supersedes nothing.
    let el = f
        .engine
        .relate(other.id, new.id, RelationKind::Elaborates)
        .unwrap();
    f.engine
        .set_relation_status(el.id, RelationStatus::Accepted)
        .unwrap();
    let mut r = f.req("signing keys decision");
    r.filters.exclude_superseded = true;
    assert_eq!(f.ids(&r).len(), 3, "proposed relation hides nothing");
    f.engine
        .set_relation_status(proposed.id, RelationStatus::Accepted)
        .unwrap();
    let ids = f.ids(&r);
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&old.id));
    r.filters.exclude_superseded = false;
    assert_eq!(f.ids(&r).len(), 3);
}

#[test]
fn nonsense_sentinel_returns_nothing() {
    let f = fixture();
    f.put(
        None,
        "Deployed the recall service to staging.",
        &["deploy"],
        EntryType::Episodic,
    );
    f.put(
        None,
        "Postgres migration added an index on entries.",
        &["postgres"],
        EntryType::Episodic,
    );
    let resp = f
        .engine
        .search(&f.req("xqzvlorp blentwich sentinel-9f3a"))
        .unwrap();
    assert!(resp.hits.is_empty(), "{:?}", resp.hits);
    assert_eq!(resp.total, 0);
}

#[test]
fn limit_total_and_offset() {
    let f = fixture();
    let t0 = datetime!(2026-01-01 0:00 UTC);
    for i in 0..5 {
        f.put_at(
            None,
            &format!("incident report number {i} about the indexer"),
            &["incident"],
            EntryType::Episodic,
            t0 + time::Duration::hours(i),
        );
    }
    let mut r = f.req("incident report indexer");
    r.limit = 2;
    r.mode = SearchMode::Text;
    let resp = f.engine.search(&r).unwrap();
    assert_eq!(resp.hits.len(), 2);
    assert_eq!(resp.total, 5);
    assert!(!resp.total_is_lower_bound);
    let first_page: Vec<Uuid> = resp.hits.iter().map(|h| h.entry.id).collect();
    r.offset = 2;
    let second: Vec<Uuid> = f.ids(&r);
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|id| !first_page.contains(id)));
    // Hybrid and list paths page too.
    r.mode = SearchMode::Hybrid;
    assert_eq!(f.ids(&r).len(), 2);
    let list = f
        .engine
        .list(&ListRequest {
            scope: Scope::Diaries { ids: vec![f.diary] },
            limit: 2,
            offset: 4,
            ..ListRequest::default()
        })
        .unwrap();
    assert_eq!((list.entries.len(), list.total), (1, 5));
}

#[test]
fn time_window_on_list_text_and_vector_paths() {
    let f = fixture();
    let old = f.put_at(
        None,
        "memory leak in the embedding worker",
        &[],
        EntryType::Episodic,
        datetime!(2026-03-01 0:00 UTC),
    );
    let new = f.put_at(
        None,
        "memory leak in the embedding worker again",
        &[],
        EntryType::Episodic,
        datetime!(2026-06-01 0:00 UTC),
    );
    for mode in [SearchMode::Text, SearchMode::Vector, SearchMode::Hybrid] {
        let mut r = f.req("memory leak embedding worker");
        r.mode = mode;
        r.filters.created_before = Some(datetime!(2026-04-01 0:00 UTC));
        assert_eq!(f.ids(&r), vec![old.id], "{mode:?} before");
        r.filters.created_before = None;
        r.filters.created_after = Some(datetime!(2026-04-01 0:00 UTC));
        assert_eq!(f.ids(&r), vec![new.id], "{mode:?} after");
    }
    let mut r = f.req("");
    r.filters.created_after = Some(datetime!(2026-04-01 0:00 UTC));
    assert_eq!(f.ids(&r), vec![new.id], "list path");
}

#[test]
fn another_teams_diary_is_never_searched() {
    let f = fixture();
    let mine = f.put(
        None,
        "quarterly key rotation finished",
        &[],
        EntryType::Episodic,
    );
    let other_team = Uuid::now_v7();
    let theirs = f
        .engine
        .create_diary(Diary::new(other_team, "theirs".into(), Visibility::Public).unwrap())
        .unwrap();
    let mut e = NewEntry::new(theirs.id, "quarterly key rotation finished too");
    e.tags = Some(vec![]);
    f.engine.put_entry(e).unwrap();
    let r = SearchRequest::new("quarterly key rotation", Scope::Team { team_id: f.team });
    assert_eq!(f.ids(&r), vec![mine.id]);
    let r = SearchRequest::new("quarterly key rotation", Scope::Public);
    assert_eq!(f.ids(&r).len(), 1);
    assert_ne!(f.ids(&r), vec![mine.id]);
}

#[test]
fn vector_only_paraphrase_is_found() {
    let f = fixture();
    let target = f.put(
        None,
        "The automobile would not start this morning because its battery was flat.",
        &[],
        EntryType::Episodic,
    );
    f.put(
        None,
        "Reviewed pull requests for the tantivy upgrade.",
        &[],
        EntryType::Episodic,
    );
    let resp = f
        .engine
        .search(&f.req("my car had a dead battery"))
        .unwrap();
    assert_eq!(resp.hits.first().map(|h| h.entry.id), Some(target.id));
}

#[test]
fn explain_reports_both_arms_and_reads_do_not_touch_updated_at() {
    let f = fixture();
    let e = f.put(
        Some("HNSW tuning"),
        "Raised ef_search to 64 for better recall.",
        &["hnsw"],
        EntryType::Semantic,
    );
    let mut r = f.req("HNSW recall tuning");
    r.explain = true;
    let resp = f.engine.search(&r).unwrap();
    let hit = &resp.hits[0];
    assert_eq!(hit.entry.id, e.id);
    let x = hit.explain.as_ref().unwrap();
    assert_eq!(x.vector_rank, Some(1));
    assert!(x.cosine.unwrap() > 0.4);
    assert_eq!(x.text_rank, Some(1));
    assert!(x.bm25.unwrap() > 0.0);
    assert!((x.relevance - 1.0).abs() < 1e-6);
    let after = f.engine.get_entry(e.id).unwrap();
    assert_eq!(after.updated_at, e.updated_at);
    assert!(after.access_count >= 1);
}

#[test]
fn update_reembeds_and_delete_removes() {
    let f = fixture();
    let e = f.put(
        None,
        "The cache warms up slowly after restarts.",
        &[],
        EntryType::Episodic,
    );
    let patch: EntryPatch =
        serde_json::from_str(r#"{"content": "Swapped the database driver for a faster one."}"#)
            .unwrap();
    f.engine.update_entry(e.id, patch).unwrap();
    let mut r = f.req("database driver");
    r.mode = SearchMode::Text;
    assert_eq!(f.ids(&r), vec![e.id]);
    let r2 = f.req("cache warms up slowly after restarts");
    assert!(!f.ids(&r2).contains(&e.id), "old text must be gone");
    f.engine.delete_entry(e.id).unwrap();
    assert!(f.ids(&f.req("database driver")).is_empty());
    assert!(f.engine.get_entry(e.id).is_none());
}

#[test]
fn bad_requests_are_typed_errors() {
    let f = fixture();
    let mut r = f.req("x");
    r.limit = 0;
    match f.engine.search(&r) {
        Err(moltsearch_engine::Error::Invalid(e)) => {
            assert_eq!(e.field, "limit");
            assert!(e.reason.contains("1..=1000"), "{}", e.reason);
        }
        other => panic!("expected an invalid limit, got {other:?}"),
    }
    let mut r = f.req("x");
    r.weights.recency = 3.0;
    match f.engine.search(&r) {
        Err(moltsearch_engine::Error::Invalid(e)) => assert_eq!(e.field, "wRecency"),
        other => panic!("expected an invalid wRecency, got {other:?}"),
    }
    let mut r = f.req("x");
    r.offset = 10_000;
    match f.engine.search(&r) {
        Err(moltsearch_engine::Error::Invalid(e)) => assert_eq!(e.field, "offset"),
        other => panic!("expected an invalid offset, got {other:?}"),
    }
    let err = f
        .engine
        .put_entry(NewEntry::new(Uuid::now_v7(), "no such diary"))
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    // Garbage query syntax never fails.
    for q in ["\"unterminated", "-", "OR OR", "((", "-\"\"", "🚀 -🚀"] {
        f.engine.search(&f.req(q)).unwrap();
    }
    let _ = Filters::default();
}

#[test]
fn failed_query_embedding_falls_back_to_text_and_says_so() {
    // An embedder whose model file is not a model: building succeeds (the
    // files exist), every embedding call fails.
    let dir = tempfile::tempdir().unwrap();
    let good = embedder();
    let tokenizer = good.graph_path().parent().unwrap().join("tokenizer.json");
    std::fs::copy(&tokenizer, dir.path().join("tokenizer.json")).unwrap();
    std::fs::write(dir.path().join("model-int8.onnx"), b"not an onnx model").unwrap();
    let broken = Embedder::builder().model_dir(dir.path()).build().unwrap();
    let engine = Engine::builder().embedder(broken).open_in_memory().unwrap();
    let diary = engine
        .create_diary(Diary::new(Uuid::now_v7(), "d".into(), Visibility::Private).unwrap())
        .unwrap();
    let texts = ["rotated the signing key", "ducks in the park"];
    let vectors = good
        .embed_passages(&texts.map(moltsearch_engine::embed::PassageText::new))
        .unwrap();
    let puts = texts
        .iter()
        .map(|t| PutEntry::from(NewEntry::new(diary.id, *t)))
        .collect();
    engine.put_entries_with_vectors(puts, &vectors).unwrap();

    let req = SearchRequest::new(
        "signing key",
        Scope::Diaries {
            ids: vec![diary.id],
        },
    );
    let resp = engine.search(&req).unwrap();
    assert_eq!(resp.mode, SearchMode::Text);
    assert_eq!(resp.hits.len(), 1);
    assert!(
        resp.warnings[0].contains("embedding failed"),
        "{:?}",
        resp.warnings
    );
    // Asked for the vector arm explicitly, the failure is an error.
    let mut req = req.clone();
    req.mode = SearchMode::Vector;
    assert!(engine.search(&req).is_err());
}
