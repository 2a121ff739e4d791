//! `moltsearch search` opens the data folder read-only: several searches
//! run at once, also while another process holds the folder for writing.

use std::path::Path;
use std::process::{Command, Stdio};

use moltsearch_engine::embed::Embedder;
use moltsearch_engine::Engine;

fn moltsearch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_moltsearch"))
}

#[test]
fn concurrent_searches_beside_a_writer_all_succeed_and_agree() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-diary.jsonl");
    let out = moltsearch()
        .args(["import", "--data-dir"])
        .arg(&dir)
        .args(["--diary", "demo"])
        .arg(&demo)
        .output()
        .expect("import runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // This process holds the folder open for writing (and its lock).
    let writer = Engine::builder()
        .embedder(Embedder::builder().build().expect("model bootstrapped"))
        .data_dir(&dir)
        .open()
        .expect("open for writing");
    let locked = moltsearch()
        .args(["import", "--data-dir"])
        .arg(&dir)
        .args(["--diary", "demo"])
        .arg(&demo)
        .output()
        .expect("import runs");
    assert!(!locked.status.success(), "a second writer is refused");
    assert!(
        String::from_utf8_lossy(&locked.stderr).contains("locked"),
        "{}",
        String::from_utf8_lossy(&locked.stderr)
    );

    let searches: Vec<_> = (0..3)
        .map(|_| {
            moltsearch()
                .args(["search", "--data-dir"])
                .arg(&dir)
                .args(["--diary", "demo", "--json", "--limit", "5", "signing key"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("search starts")
        })
        .collect();
    let mut results = Vec::new();
    for child in searches {
        let out = child.wait_with_output().expect("search ends");
        assert!(
            out.status.success(),
            "search failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        let ids: Vec<String> = json["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["entry"]["id"].as_str().expect("id").to_string())
            .collect();
        assert_eq!(ids.len(), 5);
        results.push(ids);
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    drop(writer);
}
