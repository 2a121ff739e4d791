//! A search's pages are slices of one ranking: the first `n` results of
//! `limit n` are the first `n` of any larger limit (up to 50), pages of any
//! size concatenate to the same list, and a negation never starves the
//! vector arm. On the demo diary and on part of SciFact, with the real
//! model, tantivy and HNSW, in every mode, with and without negations.
//!
//! Every request here sets `weights.recency` to 0. Recency is
//! `0.99^hours since the last access`, and each search counts an access of
//! every hit it returns, so with a recency weight two identical searches in
//! a row may rank differently for a reason that has nothing to do with
//! paging (and the clock moves between them too). Importance is stable, so
//! it keeps a weight.

use std::collections::HashSet;
use std::sync::OnceLock;

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::engine::{Engine, PutEntry};
use moltsearch_engine::entry::{Diary, NewEntry, Visibility};
use moltsearch_engine::eval::{shared_dir, BeirDataset};
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::search::fusion::Weights;
use moltsearch_engine::search::request::{Scope, SearchMode, SearchRequest};
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

/// Largest page end the agreement is promised for (see `MIN_ARM_DEPTH`).
const WINDOW: usize = 50;

struct Corpus {
    engine: Engine,
    diary: Uuid,
}

/// The default model, embedding one text per run: the int8 model quantizes
/// activations per batch, so a query embedded in a batch with another
/// test's query comes out slightly different, and a hit near the distance
/// cut-off could come and go between two searches run in parallel tests.
fn embedder() -> Embedder {
    static E: OnceLock<Embedder> = OnceLock::new();
    E.get_or_init(|| {
        Embedder::builder()
            .max_batch_size(1)
            .build()
            .expect("model bootstrapped (scripts/bootstrap.sh)")
    })
    .clone()
}

fn load(entries: impl FnOnce(Uuid) -> Vec<PutEntry>) -> Corpus {
    let engine = Engine::builder()
        .embedder(embedder())
        .open_in_memory()
        .expect("engine");
    let diary = engine
        .create_diary(Diary::new(Uuid::now_v7(), "paging".into(), Visibility::Private).unwrap())
        .unwrap()
        .id;
    engine.put_entries(entries(diary)).expect("corpus loads");
    // One graph, built now: a background build finishing between two
    // searches would change what the vector arm answers.
    engine.optimize_indexes();
    Corpus { engine, diary }
}

/// The 300 entries of `data/demo-diary.jsonl`, in one diary.
fn demo() -> &'static Corpus {
    static C: OnceLock<Corpus> = OnceLock::new();
    C.get_or_init(|| {
        load(|diary| {
            include_str!("../data/demo-diary.jsonl")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|line| {
                    let mut v: serde_json::Value = serde_json::from_str(line).expect("demo line");
                    let obj = v.as_object_mut().expect("object");
                    let created = obj
                        .remove("createdAt")
                        .and_then(|c| c.as_str().map(str::to_string))
                        .expect("createdAt");
                    obj.insert("diaryId".into(), diary.to_string().into());
                    let entry: NewEntry = serde_json::from_value(v).expect("demo entry");
                    let at = OffsetDateTime::parse(
                        &created,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .expect("RFC 3339");
                    PutEntry::from(entry).created_at(at)
                })
                .collect()
        })
    })
}

/// SciFact test queries and part of its corpus: the documents judged for
/// the first queries plus the first corpus documents, enough that both arms
/// have more candidates than their depth.
struct SciFact {
    corpus: Corpus,
    queries: Vec<String>,
}

const SCIFACT_QUERIES: usize = 10;
const SCIFACT_FILLER_DOCS: usize = 130;

fn scifact() -> &'static SciFact {
    static C: OnceLock<SciFact> = OnceLock::new();
    C.get_or_init(|| {
        let data = BeirDataset::load(&shared_dir().join("data/scifact"), "test")
            .expect("SciFact in MOLTSEARCH_SHARED/data/scifact");
        let queries: Vec<_> = data.queries.iter().take(SCIFACT_QUERIES).collect();
        let judged: HashSet<&str> = queries
            .iter()
            .flat_map(|q| data.qrels[&q.id].keys().map(String::as_str))
            .collect();
        let docs: Vec<_> = data
            .corpus
            .iter()
            .enumerate()
            .filter(|(i, d)| *i < SCIFACT_FILLER_DOCS || judged.contains(d.id.as_str()))
            .map(|(_, d)| d)
            .collect();
        let corpus = load(|diary| {
            docs.iter()
                .map(|d| {
                    let mut e = NewEntry::new(diary, d.text.clone());
                    let title: String = d.title.chars().take(200).collect();
                    e.title = (!title.is_empty()).then_some(title);
                    PutEntry::from(e).created_at(datetime!(2026-01-01 0:00 UTC))
                })
                .collect()
        });
        SciFact {
            corpus,
            queries: queries.iter().map(|q| q.text.clone()).collect(),
        }
    })
}

fn request(c: &Corpus, query: &str, mode: SearchMode, text_match: TextMatch) -> SearchRequest {
    let mut r = SearchRequest::new(query, Scope::Diaries { ids: vec![c.diary] });
    r.mode = mode;
    r.text_match = text_match;
    // No recency: see the module docs.
    r.weights = Weights {
        relevance: 1.0,
        recency: 0.0,
        importance: 0.1,
    };
    r
}

#[derive(Debug, PartialEq)]
struct Page {
    ids: Vec<Uuid>,
    total: usize,
    lower_bound: bool,
}

fn page(c: &Corpus, base: &SearchRequest, limit: usize, offset: usize) -> Page {
    let mut r = base.clone();
    r.limit = limit;
    r.offset = offset;
    let resp = c.engine.search(&r).expect("search");
    Page {
        ids: resp.hits.into_iter().map(|h| h.entry.id).collect(),
        total: resp.total,
        lower_bound: resp.total_is_lower_bound,
    }
}

/// Checks every promise of paging for one request; returns the first
/// `WINDOW` results.
fn check_paging(c: &Corpus, base: &SearchRequest, limits: &[usize], sizes: &[usize]) -> Page {
    let label = format!("{:?} {:?} {:?}", base.query, base.mode, base.text_match);
    let full = page(c, base, WINDOW, 0);
    for &limit in limits {
        let got = page(c, base, limit, 0);
        let want = &full.ids[..limit.min(full.ids.len())];
        assert_eq!(got.ids, want, "{label}: limit {limit} vs limit {WINDOW}");
        assert_eq!(
            (got.total, got.lower_bound),
            (full.total, full.lower_bound),
            "{label}: total with limit {limit}"
        );
    }
    for &size in sizes {
        let mut joined = Vec::new();
        let mut offset = 0;
        while offset + size <= WINDOW {
            let got = page(c, base, size, offset);
            assert_eq!(got.total, full.total, "{label}: total at offset {offset}");
            joined.extend(got.ids);
            offset += size;
        }
        assert_eq!(
            joined,
            &full.ids[..offset.min(full.ids.len())],
            "{label}: pages of {size}"
        );
    }
    // The total counts at least what paging reaches, and exactly that when
    // it says it is exact and fits the window.
    assert!(full.total >= full.ids.len(), "{label}: {full:?}");
    if !full.lower_bound {
        assert_eq!(full.ids.len(), full.total.min(WINDOW), "{label}: {full:?}");
    }
    full
}

const MODES: [(SearchMode, TextMatch); 5] = [
    (SearchMode::Hybrid, TextMatch::All),
    (SearchMode::Hybrid, TextMatch::Any),
    (SearchMode::Vector, TextMatch::All),
    (SearchMode::Text, TextMatch::All),
    (SearchMode::Text, TextMatch::Any),
];

#[test]
fn demo_diary_pages_are_slices_of_one_ranking() {
    let c = demo();
    for query in [
        "deploy -staging",
        "deploy",
        "key rotation",
        "how do we roll back a bad deploy",
        "production incident -postgres",
        "\"key rotation\" -revised",
        "rotation OR pagination -ed25519",
        "-staging",
        "latency",
    ] {
        for (mode, text_match) in MODES {
            let base = request(c, query, mode, text_match);
            check_paging(c, &base, &[1, 2, 3, 5, 10, 20], &[1, 3, 7, 10]);
        }
    }
}

#[test]
fn scifact_pages_are_slices_of_one_ranking() {
    let s = scifact();
    let negations = ["cells", "patients", "risk"];
    for (i, query) in s.queries.iter().enumerate() {
        let negated = format!("{query} -{}", negations[i % negations.len()]);
        for q in [query.as_str(), negated.as_str()] {
            for (mode, text_match) in MODES {
                let base = request(&s.corpus, q, mode, text_match);
                check_paging(&s.corpus, &base, &[1, 3, 10, 25], &[7, 10]);
            }
        }
    }
}

/// The reported case: on the demo diary `deploy -staging` put a different
/// entry first with `--limit 1` than with `--limit 10`, and the vector arm
/// alone found nothing for limits 1 to 3.
#[test]
fn a_negation_does_not_starve_the_vector_arm() {
    let c = demo();
    let hybrid = request(c, "deploy -staging", SearchMode::Hybrid, TextMatch::All);
    let first = page(c, &hybrid, 1, 0);
    let ten = page(c, &hybrid, 10, 0);
    assert_eq!(first.ids.len(), 1);
    assert_eq!(first.ids[..], ten.ids[..1]);

    let mut vector = request(c, "deploy -staging", SearchMode::Vector, TextMatch::All);
    // No distance cut: what is tested is that the filter fills the arm,
    // not where int8 inference (which differs by CPU: AVX2 vs VNNI
    // kernels) puts an entry relative to the cut.
    vector.max_distance = 2.0;
    for limit in 1..=3 {
        let mut r = vector.clone();
        r.limit = limit;
        let resp = c.engine.search(&r).unwrap();
        assert_eq!(resp.hits.len(), limit, "vector arm, limit {limit}");
        for h in &resp.hits {
            let e = &h.entry;
            let text = format!(
                "{} {} {}",
                e.title.as_deref().unwrap_or(""),
                e.content,
                e.tags.join(" ")
            )
            .to_lowercase();
            assert!(text.contains("deploy"), "{text}");
            assert!(!text.contains("staging"), "{text}");
        }
    }

    // Every vector hit matches the text query, so the text arm's exact
    // count is the hybrid total.
    let text = page(
        c,
        &request(c, "deploy -staging", SearchMode::Text, TextMatch::All),
        10,
        0,
    );
    assert!(!text.lower_bound);
    assert_eq!((ten.total, ten.lower_bound), (text.total, false));
}

/// A hybrid total adds the text matches beyond the text arm's depth to the
/// candidates both arms found, without counting twice those the vector arm
/// found among them.
#[test]
fn hybrid_total_counts_each_entry_once() {
    let c = demo();
    let ids = |mode, depth: Option<usize>, limit| {
        let mut r = request(c, "deploy", mode, TextMatch::All);
        r.depth = depth;
        r.limit = limit;
        // No distance cut (see a_negation_does_not_starve_the_vector_arm).
        r.max_distance = 2.0;
        let resp = c.engine.search(&r).unwrap();
        let ids: HashSet<Uuid> = resp.hits.iter().map(|h| h.entry.id).collect();
        (ids, resp.total, resp.total_is_lower_bound)
    };
    // Every text match, exactly.
    let (text_all, text_total, _) = ids(SearchMode::Text, None, 1000);
    assert_eq!(text_all.len(), text_total);
    assert!(text_total > 20, "the query must match more than the depth");
    let depth = Some(5);
    let (vector, _, _) = ids(SearchMode::Vector, depth, 5);
    let (_, hybrid_total, lower_bound) = ids(SearchMode::Hybrid, depth, 5);
    assert!(lower_bound, "five vector hits of many");
    let distinct: HashSet<Uuid> = text_all.union(&vector).copied().collect();
    assert!(
        vector.iter().any(|id| text_all.contains(id)),
        "the vector arm finds text matches too"
    );
    assert_eq!(hybrid_total, distinct.len());
}
