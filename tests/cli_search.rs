//! `moltsearch import`, `search` and `reindex` end to end on a data folder,
//! with the real model.

use std::path::Path;
use std::process::{Command, Output};

fn moltsearch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moltsearch"))
        .args(args)
        .output()
        .expect("moltsearch runs")
}

/// Runs `moltsearch args` and requires it to succeed.
fn moltsearch_ok(args: &[&str]) -> Output {
    let out = moltsearch(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `moltsearch import --data-dir dir --diary diary file`.
fn import(dir: &str, diary: &str, file: &Path) -> Output {
    let file = file.to_str().expect("utf-8 path");
    moltsearch(&["import", "--data-dir", dir, "--diary", diary, file])
}

fn search_json(dir: &str, query: &str) -> serde_json::Value {
    search_json_with(dir, query, "f32")
}

fn search_json_with(dir: &str, query: &str, quantize: &str) -> serde_json::Value {
    let out = moltsearch_ok(&[
        "search",
        "--data-dir",
        dir,
        "--diary",
        "demo",
        "--json",
        "--limit",
        "8",
        "--quantize",
        quantize,
        query,
    ]);
    serde_json::from_slice(&out.stdout).expect("JSON response")
}

#[test]
fn import_search_reindex_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir = dir.to_str().unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-diary.jsonl");
    let out = import(dir, "demo", &demo);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("diary now has 300 entries"));

    let resp = search_json(dir, "deploy -staging");
    let hits = resp["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    for h in hits {
        let text = h["entry"]["content"].as_str().unwrap().to_lowercase();
        let title = h["entry"]["title"].as_str().unwrap_or("").to_lowercase();
        let tags = h["entry"]["tags"].to_string();
        assert!(
            !text.contains("staging") && !title.contains("staging") && !tags.contains("staging"),
            "{h}"
        );
    }

    let before = search_json(dir, "how do we rotate the signing keys?");
    let out = moltsearch_ok(&["reindex", "--data-dir", dir]);
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("rebuilt the indexes of 300 entries")
            && summary.contains("text (300 documents) and vectors (300 rows)"),
        "{summary}"
    );
    let after = search_json(dir, "how do we rotate the signing keys?");
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["entry"]["id"].to_string())
            .collect()
    };
    assert_eq!(ids(&before), ids(&after));
    // int8 codes with exact re-scoring rank these entries like f32.
    let int8 = search_json_with(dir, "how do we rotate the signing keys?", "int8");
    assert_eq!(ids(&int8), ids(&after));
}

#[test]
fn bad_input_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir = dir.to_str().unwrap();
    // Reading or rebuilding a folder that does not exist is an error, and
    // a mistyped path does not become a new empty database.
    for args in [
        &["search", "--data-dir", dir, "--diary", "nope", "x"][..],
        &["reindex", "--data-dir", dir],
        &["reindex", "--reembed", "--data-dir", dir],
    ] {
        let out = moltsearch(args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no moltsearch data folder at"),
            "{args:?}: {err}"
        );
        assert!(!Path::new(dir).exists(), "{args:?} created {dir}");
    }

    let fine = tmp.path().join("fine.jsonl");
    std::fs::write(&fine, "{\"content\": \"fine\"}\n").unwrap();
    let out = import(dir, "d", &fine);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = moltsearch(&["search", "--data-dir", dir, "--diary", "nope", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no diary named \"nope\""));

    let bad = tmp.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"content\": \"fine\"}\n{\"content\": \"\"}\n").unwrap();
    let out = import(dir, "d", &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content"), "{err}");
}
