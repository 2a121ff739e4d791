//! Embedding moltsearch in a Rust program: a durable diary, a few entries,
//! a relation, and hybrid searches with filters and `explain`.
//!
//! Run after `scripts/bootstrap.sh`:
//! `cargo run --release -p moltsearch-engine --example diary_search`

use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{
    Diary, EntryType, NewEntry, RelationKind, RelationStatus, Visibility,
};
use moltsearch_engine::search::request::{Scope, SearchRequest};
use moltsearch_engine::Engine;
use uuid::Uuid;

fn entry(diary: Uuid, title: &str, content: &str, tags: &[&str], ty: EntryType) -> PutEntry {
    let mut e = NewEntry::new(diary, content);
    e.title = Some(title.into());
    e.tags = Some(tags.iter().map(|t| t.to_string()).collect());
    e.entry_type = Some(ty);
    e.into()
}

fn main() -> moltsearch_engine::Result<()> {
    let dir = std::env::temp_dir().join(format!("moltsearch-example-{}", std::process::id()));
    let engine = Engine::builder().data_dir(&dir).open()?;
    let diary = engine.create_diary(Diary::new(
        Uuid::now_v7(),
        "ops".into(),
        Visibility::Private,
    )?)?;

    let recs = engine.put_entries(vec![
        entry(
            diary.id,
            "Key rotation policy",
            "Signing keys rotate every 90 days.",
            &["security"],
            EntryType::Semantic,
        ),
        entry(
            diary.id,
            "Key rotation policy, revised",
            "Signing keys now rotate every 30 days.",
            &["security"],
            EntryType::Semantic,
        ),
        entry(
            diary.id,
            "Staging deploy",
            "Deployed recall to staging; smoke tests passed.",
            &["deploy", "staging"],
            EntryType::Episodic,
        ),
        entry(
            diary.id,
            "Production deploy",
            // No "staging" here: `deploy -staging` below excludes every
            // entry that mentions the word, wherever it is.
            "Deployed recall to production behind a canary; error rates flat.",
            &["deploy", "production"],
            EntryType::Episodic,
        ),
    ])?;
    let rel = engine.relate(recs[1].id, recs[0].id, RelationKind::Supersedes)?;
    engine.set_relation_status(rel.id, RelationStatus::Accepted)?;

    let scope = Scope::Diaries {
        ids: vec![diary.id],
    };
    let mut req = SearchRequest::new("how often do keys rotate", scope.clone());
    req.filters.exclude_superseded = true;
    req.explain = true;
    let mut deploys = SearchRequest::new("deploy -staging", scope);
    deploys.explain = true;
    for q in [req, deploys] {
        let resp = engine.search(&q)?;
        println!("{:?}: {} hit(s)", q.query, resp.total);
        for h in resp.hits {
            let x = h.explain.unwrap_or_default();
            println!(
                "  {:.3} {}  (vector #{:?} cos {:?}, text #{:?})",
                h.score,
                h.entry.title.unwrap_or_default(),
                x.vector_rank,
                x.cosine,
                x.text_rank
            );
        }
    }
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
