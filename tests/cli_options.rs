//! The CLI's options end to end through the real binary and model: search
//! filters and paging, `diaries`, diaries named twice or given by id, the
//! model a data folder remembers, the eval vector cache, help texts.

use std::path::Path;
use std::process::{Command, Output};

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::entry::{Diary, Visibility};
use moltsearch_engine::Engine;
use uuid::Uuid;

/// `moltsearch args` with no model chosen by the environment, so that the
/// folder's own model (or the default) applies unless a test says otherwise.
fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_moltsearch"));
    c.args(args)
        .env_remove("MOLTSEARCH_MODEL")
        .env_remove("MOLTSEARCH_MODEL_DIR")
        .env_remove("MOLTSEARCH_DATA_DIR");
    c
}

fn moltsearch(args: &[&str]) -> Output {
    command(args).output().expect("moltsearch runs")
}

fn moltsearch_ok(args: &[&str]) -> Output {
    let out = moltsearch(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The error output of a run that must fail.
fn moltsearch_err(args: &[&str]) -> String {
    let out = moltsearch(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn demo_file() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/demo-diary.jsonl")
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// `search --json` over diary `demo` of `dir` with extra options.
fn hits(dir: &str, extra: &[&str], query: &str) -> Vec<serde_json::Value> {
    let mut args = vec!["search", "--data-dir", dir, "--diary", "demo", "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", query]);
    let out = moltsearch_ok(&args);
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON response");
    resp["hits"].as_array().expect("hits").clone()
}

fn tags(hit: &serde_json::Value) -> Vec<String> {
    hit["entry"]["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_string())
        .collect()
}

fn ids(hits: &[serde_json::Value]) -> Vec<String> {
    hits.iter().map(|h| h["entry"]["id"].to_string()).collect()
}

#[test]
fn search_filters_paging_text_match_and_diaries() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("data");
    let dir = dir.to_str().expect("utf-8 path");
    moltsearch_ok(&["import", "--data-dir", dir, "--diary", "demo", &demo_file()]);

    // Tags: all of the repeated --tag values are required.
    let both = hits(
        dir,
        &["--limit", "50", "--tag", "deploy", "--tag", "staging"],
        "deploy",
    );
    assert!(!both.is_empty());
    for h in &both {
        let t = tags(h);
        assert!(
            t.contains(&"deploy".into()) && t.contains(&"staging".into()),
            "{h}"
        );
    }
    assert!(
        both.len() <= 16,
        "16 demo entries carry both tags, got {}",
        both.len()
    );
    let without = hits(
        dir,
        &["--limit", "50", "--exclude-tag", "staging"],
        "deploy",
    );
    assert!(!without.is_empty());
    assert!(without.iter().all(|h| !tags(h).contains(&"staging".into())));

    // Types: any of the repeated values.
    let typed = hits(
        dir,
        &[
            "--limit",
            "50",
            "--type",
            "procedural",
            "--type",
            "reflection",
        ],
        "deploy",
    );
    assert!(!typed.is_empty());
    for h in &typed {
        let t = h["entry"]["entryType"].as_str().expect("type");
        assert!(t == "procedural" || t == "reflection", "{h}");
    }
    let err = moltsearch_err(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "demo",
        "--type",
        "diary",
        "x",
    ]);
    assert!(
        err.contains("entryType") || err.contains("episodic"),
        "{err}"
    );

    // Time range: a date and an RFC 3339 time.
    let august = hits(
        dir,
        &[
            "--limit",
            "50",
            "--after",
            "2026-08-01",
            "--before",
            "2026-09-01T00:00:00Z",
        ],
        "deploy",
    );
    assert!(!august.is_empty());
    for h in &august {
        let at = h["entry"]["createdAt"].as_str().expect("createdAt");
        assert!(at.starts_with("2026-08-"), "{at}");
    }
    let err = moltsearch_err(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "demo",
        "--after",
        "last week",
        "x",
    ]);
    assert!(
        err.contains("RFC 3339") && err.contains("last week"),
        "{err}"
    );
    let err = moltsearch_err(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "demo",
        "--after",
        "2026-09-01",
        "--before",
        "2026-08-01",
        "x",
    ]);
    assert!(err.contains("createdBefore"), "{err}");
    // Nothing in the demo diary is superseded: the flag keeps everything.
    let first = hits(dir, &["--limit", "4"], "rotate the signing keys");
    assert_eq!(
        ids(&hits(
            dir,
            &["--limit", "4", "--exclude-superseded"],
            "rotate the signing keys"
        )),
        ids(&first)
    );

    // Paging: offset 2 continues the first page.
    let page2 = hits(
        dir,
        &["--limit", "2", "--offset", "2"],
        "rotate the signing keys",
    );
    assert_eq!(ids(&page2), ids(&first)[2..4].to_vec());

    // A tight cosine-distance cap leaves fewer vector hits than a loose one.
    let loose = hits(
        dir,
        &["--mode", "vector", "--limit", "50", "--max-distance", "2"],
        "keys",
    );
    let tight = hits(
        dir,
        &["--mode", "vector", "--limit", "50", "--max-distance", "0.3"],
        "keys",
    );
    assert_eq!(loose.len(), 50);
    assert!(
        tight.len() < loose.len(),
        "{} vs {}",
        tight.len(),
        loose.len()
    );

    // Text matching defaults to `any`; MoltNet's `all` is one option away.
    let query = "kubectl zzqxnotaword";
    assert!(!hits(dir, &["--mode", "text"], query).is_empty());
    assert!(hits(dir, &["--mode", "text", "--text-match", "all"], query).is_empty());

    // The human-readable line times the search apart from the load.
    let out = moltsearch_ok(&["search", "--data-dir", dir, "--diary", "demo", "keys"]);
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.contains("search ") && line.contains("loading the model"),
        "{line}"
    );

    // `diaries`: id, team, visibility and entry count.
    let out = moltsearch_ok(&["diaries", "--data-dir", dir, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON list");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["entries"], 300);
    assert_eq!(list[0]["visibility"], "private");
    assert_eq!(list[0]["teamId"], Uuid::nil().to_string());
    assert!(Uuid::parse_str(list[0]["id"].as_str().expect("id")).is_ok());
    let out = moltsearch_ok(&["diaries", "--data-dir", dir]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("demo") && table.contains("300"), "{table}");
}

#[test]
fn a_name_two_diaries_share_is_refused_and_an_id_is_accepted() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("data");
    let (a, b) = {
        let engine = Engine::builder()
            .embedder(Embedder::builder().build().expect("default model"))
            .data_dir(&dir)
            .open()
            .expect("engine");
        let mk = || {
            engine
                .create_diary(
                    Diary::new(Uuid::nil(), "dup".into(), Visibility::Private).expect("diary"),
                )
                .expect("create")
        };
        (mk().id, mk().id)
    };
    let dir = dir.to_str().expect("utf-8 path");
    let file = tmp.path().join("one.jsonl");
    std::fs::write(
        &file,
        "{\"content\": \"the lighthouse keeper logs the tides\"}\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8 path");

    for args in [
        &["search", "--data-dir", dir, "--diary", "dup", "tides"][..],
        &["import", "--data-dir", dir, "--diary", "dup", file],
    ] {
        let err = moltsearch_err(args);
        assert!(
            err.contains("2 diaries are named \"dup\"")
                && err.contains(&a.to_string())
                && err.contains(&b.to_string()),
            "{args:?}: {err}"
        );
    }
    let a = a.to_string();
    moltsearch_ok(&["import", "--data-dir", dir, "--diary", &a, file]);
    let out = moltsearch_ok(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        &a,
        "--json",
        "tides",
    ]);
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(resp["hits"].as_array().expect("hits").len(), 1);
    let out = moltsearch_ok(&["diaries", "--data-dir", dir, "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let counts: Vec<(String, u64)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_string(),
                d["entries"].as_u64().expect("n"),
            )
        })
        .collect();
    assert!(
        counts.contains(&(a.clone(), 1)) && counts.contains(&(b.to_string(), 0)),
        "{counts:?}"
    );
    // An id that names no diary is an error, not a new diary called so.
    let nobody = Uuid::now_v7().to_string();
    let err = moltsearch_err(&["import", "--data-dir", dir, "--diary", &nobody, file]);
    assert!(err.contains("no diary with id"), "{err}");
}

#[test]
fn commands_use_the_model_a_folder_was_built_with() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("data");
    let dir = dir.to_str().expect("utf-8 path");
    let file = tmp.path().join("few.jsonl");
    std::fs::write(
        &file,
        "{\"content\": \"rotate the signing keys every quarter\"}\n\
         {\"content\": \"the staging cluster runs on spot instances\"}\n",
    )
    .expect("write");
    let file = file.to_str().expect("utf-8 path");
    moltsearch_ok(&["import", "--data-dir", dir, "--diary", "d", file]);
    moltsearch_ok(&[
        "reindex",
        "--data-dir",
        dir,
        "--reembed",
        "--model",
        "all-minilm-l6-v2",
    ]);
    let meta = std::fs::read_to_string(Path::new(dir).join("meta.json")).expect("meta.json");
    assert!(meta.contains("\"all-minilm-l6-v2\""), "{meta}");

    // No --model: every command reads the folder's.
    let out = moltsearch_ok(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "d",
        "--json",
        "--max-distance",
        "2",
        "keys",
    ]);
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(resp["warnings"].as_array().map_or(0, Vec::len), 0, "{resp}");
    assert!(
        resp["hits"][0]["explain"]["vectorRank"].is_number(),
        "{resp}"
    );
    moltsearch_ok(&["import", "--data-dir", dir, "--diary", "d", file]);
    moltsearch_ok(&["reindex", "--data-dir", dir]);
    moltsearch_ok(&["diaries", "--data-dir", dir]);

    // An explicit model still wins, and a mismatch is still a clear error.
    let mismatch = "built with embedding model `all-minilm-l6-v2`";
    let err = moltsearch_err(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "d",
        "--model",
        "all-minilm-l6-v2-int8",
        "keys",
    ]);
    assert!(err.contains(mismatch), "{err}");
    let out = command(&["search", "--data-dir", dir, "--diary", "d", "keys"])
        .env("MOLTSEARCH_MODEL", "all-minilm-l6-v2-int8")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(mismatch));
}

/// Runs `eval beir` with the vector cache in `cache`.
fn eval_mrr(cache: &Path, beir: &Path) -> f64 {
    let out = command(&[
        "eval",
        "beir",
        beir.to_str().expect("utf-8 path"),
        "--split",
        "test",
        "--mode",
        "vector",
    ])
    .env("MOLTSEARCH_CACHE", cache)
    .output()
    .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metrics JSON");
    m["mrr@10"].as_f64().expect("mrr")
}

/// Writes a three-document BEIR folder `parent/tiny` whose one query
/// ("why do cats purr") is answered by document `answer`.
fn tiny_beir(parent: &Path, texts: [&str; 3], answer: &str) -> std::path::PathBuf {
    let dir = parent.join("tiny");
    std::fs::create_dir_all(dir.join("qrels")).expect("mkdir");
    let corpus: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{{\"_id\":\"d{i}\",\"title\":\"\",\"text\":\"{t}\"}}\n"))
        .collect();
    std::fs::write(dir.join("corpus.jsonl"), corpus).expect("corpus");
    std::fs::write(
        dir.join("queries.jsonl"),
        "{\"_id\":\"q\",\"text\":\"why do cats purr\"}\n",
    )
    .expect("queries");
    std::fs::write(
        dir.join("qrels/test.tsv"),
        format!("query-id\tcorpus-id\tscore\nq\t{answer}\t1\n"),
    )
    .expect("qrels");
    dir
}

#[test]
fn eval_vector_cache_is_keyed_by_corpus_content() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // A cache of our own (the eval vectors land in it) that borrows the
    // real runtime and models.
    let real = moltsearch_engine::embed::runtime::cache_dir();
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).expect("mkdir");
    for part in ["ort", "models"] {
        std::os::unix::fs::symlink(
            std::fs::canonicalize(real.join(part)).expect("real cache"),
            cache.join(part),
        )
        .expect("symlink");
    }
    let cats = "Cats purr when they are content and relaxed.";
    let rust = "The Rust compiler checks borrows at compile time.";
    let tides = "Ocean tides follow the pull of the moon.";
    let a = tiny_beir(&tmp.path().join("a"), [cats, rust, tides], "d0");
    // Same folder name, same size, the answer elsewhere.
    let b = tiny_beir(&tmp.path().join("b"), [tides, cats, rust], "d1");
    assert_eq!(eval_mrr(&cache, &a), 1.0);
    assert_eq!(eval_mrr(&cache, &b), 1.0);
    let files = std::fs::read_dir(cache.join("eval"))
        .expect("eval cache")
        .count();
    assert_eq!(files, 2);
    // The same corpus again reuses its entry.
    assert_eq!(eval_mrr(&cache, &a), 1.0);
    assert_eq!(
        std::fs::read_dir(cache.join("eval"))
            .expect("eval cache")
            .count(),
        2
    );
}

#[test]
fn help_texts_say_what_the_commands_do() {
    let help = |args: &[&str]| String::from_utf8_lossy(&moltsearch_ok(args).stdout).into_owned();
    let search = help(&["search", "--help"]);
    assert!(search.contains("-- '-staging deploy'"), "{search}");
    assert!(search.contains("model-int8.onnx"), "{search}");
    let top = help(&["--help"]);
    assert!(!top.contains("in memory"), "{top}");
    assert!(top.contains("diaries"), "{top}");
}

#[test]
fn database_options_are_checked_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let err = moltsearch_err(&[
        "serve",
        "--data-dir",
        dir,
        "--database-url",
        "mysql://u:secret@h/db",
    ]);
    assert!(err.contains("must be a Postgres URL"), "{err}");
    assert!(
        !err.contains("secret"),
        "the password is never printed: {err}"
    );
    let err = moltsearch_err(&[
        "serve",
        "--data-dir",
        dir,
        "--database-url",
        "postgres://u@127.0.0.1:1/db",
        "--db-pool",
        "0",
    ]);
    assert!(err.contains("--db-pool"), "{err}");
    let help = String::from_utf8_lossy(&moltsearch_ok(&["serve", "--help"]).stdout).into_owned();
    for flag in [
        "--database-url",
        "--db-statement-timeout",
        "--change-retention",
        "--embed-workers",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}
