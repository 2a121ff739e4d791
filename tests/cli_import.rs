//! `moltsearch import` through the real binary and model: refused lines are
//! named by file, line and field; a refused file stores nothing (unless
//! `--partial`); running an import again, after a failure or a SIGKILL,
//! leaves each line stored exactly once; only data folders (or new, empty
//! ones) are written to.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn moltsearch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_moltsearch"))
        .args(args)
        .output()
        .expect("moltsearch runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `moltsearch import --data-dir dir --diary diary [extra...] file`.
fn import(dir: &Path, diary: &str, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "import",
        "--data-dir",
        dir.to_str().expect("utf-8 path"),
        "--diary",
        diary,
    ];
    args.extend_from_slice(extra);
    args.push(file.to_str().expect("utf-8 path"));
    moltsearch(&args)
}

/// Runs an import that must succeed; returns (stored, already present).
fn import_ok(dir: &Path, diary: &str, file: &Path, extra: &[&str]) -> (usize, usize) {
    let out = import(dir, diary, file, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    counts(&stdout(&out))
}

/// The "stored N, already present M" of an import's summary.
fn counts(summary: &str) -> (usize, usize) {
    let number_after = |label: &str| -> usize {
        let at = summary
            .find(label)
            .unwrap_or_else(|| panic!("{label:?} in {summary}"));
        summary[at + label.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("a number after {label:?} in {summary}"))
    };
    (number_after("stored "), number_after("already present "))
}

/// Entries of `diary` whose text holds `word` (text search: exact total).
fn found(dir: &Path, diary: &str, word: &str) -> usize {
    let out = moltsearch(&[
        "search",
        "--data-dir",
        dir.to_str().expect("utf-8 path"),
        "--diary",
        diary,
        "--mode",
        "text",
        "--json",
        "--limit",
        "1",
        word,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON response");
    resp["total"].as_u64().expect("total") as usize
}

/// Entry line `i`: the word `probe` in every line, `lineI` in line i only.
fn line(i: usize) -> String {
    format!(
        r#"{{"content": "probe line{i} about the deploy of service number {i}", "tags": ["t{i}"], "importance": 5}}"#
    )
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write the import file");
}

fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            let p = e.expect("dir entry").path();
            let bytes = std::fs::read(&p).expect("read file");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_bad_line_stores_nothing_and_a_fixed_rerun_stores_each_line_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("notes.jsonl");
    let mut lines: Vec<String> = (1..=300).map(line).collect();
    lines[289] = r#"{"content": "probe line290 with a bad importance", "importance": 11}"#.into();
    write_lines(&file, &lines);

    // Into a new folder: refused, and no folder is left behind.
    let out = import(&dir, "notes", &file, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}:290: importance: ", file.display())),
        "{err}"
    );
    assert!(!err.contains("batch item"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(!dir.exists(), "a refused import created {}", dir.display());

    // Into an existing data folder: still nothing of the file is stored
    // (the first 256 lines were, before).
    let other = tmp.path().join("other.jsonl");
    write_lines(&other, &[r#"{"content": "an unrelated note"}"#.into()]);
    assert_eq!(import_ok(&dir, "notes", &other, &[]), (1, 0));
    let out = import(&dir, "notes", &file, &[]);
    assert!(!out.status.success());
    assert_eq!(found(&dir, "notes", "probe"), 0);

    // Fixed: every line stored once; again: nothing new.
    lines[289] = line(290);
    write_lines(&file, &lines);
    assert_eq!(import_ok(&dir, "notes", &file, &[]), (300, 0));
    assert_eq!(import_ok(&dir, "notes", &file, &[]), (0, 300));
    assert_eq!(found(&dir, "notes", "probe"), 300);
    for i in [1, 256, 257, 290, 300] {
        assert_eq!(found(&dir, "notes", &format!("line{i}")), 1, "line{i}");
    }
    // The same lines in another order are the same import.
    lines.reverse();
    write_lines(&file, &lines);
    assert_eq!(import_ok(&dir, "notes", &file, &[]), (0, 300));
}

#[test]
fn partial_stores_the_valid_lines_reports_the_others_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("mixed.jsonl");
    let mut lines: Vec<String> = (1..=5).map(line).collect();
    lines[1] = r#"{"content": "probe line2", "tag": ["typo"]}"#.into();
    lines[3] = r#"{"content": " \t "}"#.into();
    write_lines(&file, &lines);
    let out = import(&dir, "d", &file, &["--partial"]);
    assert!(!out.status.success(), "a refused line must fail the run");
    let err = stderr(&out);
    let f = file.display();
    assert!(err.contains(&format!("{f}:2: tag: unknown field")), "{err}");
    assert!(err.contains(&format!("{f}:4: content: ")), "{err}");
    assert!(err.contains("2 lines refused"), "{err}");
    assert_eq!(counts(&stdout(&out)), (3, 0));
    assert_eq!(found(&dir, "d", "probe"), 3);

    // Fixed: only the two missing lines are stored.
    lines[1] = line(2);
    lines[3] = line(4);
    write_lines(&file, &lines);
    assert_eq!(import_ok(&dir, "d", &file, &[]), (2, 3));
    for i in 1..=5 {
        assert_eq!(found(&dir, "d", &format!("line{i}")), 1, "line{i}");
    }
}

#[test]
fn unknown_fields_and_blank_content_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let cases = [
        (
            r#"{"content": "x", "tag": ["a"]}"#,
            "tag: unknown field (did you mean tags?); the known fields are id, createdAt, title, content, tags",
        ),
        (r#"{"content": "x", "diaryId": "d"}"#, "diaryId: unknown field"),
        (r#"{"content": "   "}"#, "content: content must not be blank"),
        (r#"{"content": "\n\t"}"#, "content: content must not be blank"),
        (r#"{"content": ""}"#, "content: content must not be empty"),
        (r#"{"title": "no content"}"#, "content: missing"),
        (r#"{"content": "x", "importance": "high"}"#, "importance: invalid type"),
        (r#"{"content": "x", "createdAt": "soon"}"#, "createdAt: \"soon\" is not an RFC 3339 time"),
        (r#"{"content": "x""#, ":2: not JSON"),
    ];
    for (bad, want) in cases {
        let file = tmp.path().join("bad.jsonl");
        write_lines(&file, &[line(1), bad.to_string()]);
        let out = import(&dir, "d", &file, &[]);
        assert!(!out.status.success(), "{bad}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{}:2: ", file.display())),
            "{bad}: {err}"
        );
        assert!(err.contains(want), "{bad}: want {want:?} in {err}");
        assert!(!dir.exists(), "{bad}: created {}", dir.display());
    }
}

#[test]
fn only_data_folders_or_new_ones_are_written() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("ok.jsonl");
    write_lines(&file, &[line(1)]);

    let notes = tmp.path().join("my-notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("todo.txt"), "buy milk").unwrap();
    let before = listing(&notes);
    let out = import(&notes, "d", &file, &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{} is not empty and is not a moltsearch data folder",
            notes.display()
        )),
        "{err}"
    );
    assert_eq!(listing(&notes), before, "the folder must be left as it was");

    let plain = tmp.path().join("ok.jsonl");
    let out = import(&plain, "d", &file, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a file, not a moltsearch data folder"));

    // Import creates the folder, then fails (the diary name is too long):
    // what it created is removed.
    let fresh = tmp.path().join("fresh");
    let out = import(&fresh, &"n".repeat(300), &file, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("name"), "{}", stderr(&out));
    assert!(!fresh.exists(), "left {} behind", fresh.display());

    // An empty folder is fine, and so is a data folder.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(import_ok(&empty, "d", &file, &[]), (1, 0));
    assert_eq!(import_ok(&empty, "d", &file, &[]), (0, 1));
}

#[test]
fn beir_imports_are_keyed_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("corpus.jsonl");
    let doc = |id: &str, text: &str| {
        format!(r#"{{"_id": "{id}", "title": "", "text": "{text}", "metadata": {{}}}}"#)
    };
    let mut lines = vec![
        doc("a", "probe alpha"),
        doc("b", " "),
        doc("c", "probe gamma"),
    ];
    write_lines(&file, &lines);
    let out = import(&dir, "beir", &file, &["--format", "beir"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("{}:2: text: ", file.display())),
        "{}",
        stderr(&out)
    );
    assert!(!dir.exists());

    lines[1] = doc("a", "probe beta");
    write_lines(&file, &lines);
    let out = import(&dir, "beir", &file, &["--format", "beir"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(":2: _id: the same _id as line 1"),
        "{}",
        stderr(&out)
    );

    lines[1] = doc("b", "probe beta");
    write_lines(&file, &lines);
    assert_eq!(
        import_ok(&dir, "beir", &file, &["--format", "beir"]),
        (3, 0)
    );
    // The same documents, edited text included: the _id is the key.
    lines[2] = doc("c", "probe gamma edited");
    write_lines(&file, &lines);
    assert_eq!(
        import_ok(&dir, "beir", &file, &["--format", "beir"]),
        (0, 3)
    );
    assert_eq!(found(&dir, "beir", "probe"), 3);
}

#[test]
fn an_import_killed_mid_way_completes_on_rerun_without_copies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("big.jsonl");
    const N: usize = 4000;
    write_lines(&file, &(1..=N).map(line).collect::<Vec<_>>());

    let mut child = Command::new(env!("CARGO_BIN_EXE_moltsearch"))
        .args([
            "import",
            "--data-dir",
            dir.to_str().unwrap(),
            "--diary",
            "big",
            "--batch",
            "16",
            file.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("moltsearch runs");
    // Its first progress line says a batch is durable: kill it then.
    let mut progress = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        let n = progress.read_line(&mut l).expect("read stderr");
        assert!(n > 0, "import ended before storing anything: {seen}");
        seen.push_str(&l);
        if l.starts_with("import: stored ") {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let (stored, present) = import_ok(&dir, "big", &file, &[]);
    assert!(present > 0, "nothing had landed before the kill");
    assert!(present < N, "the import finished before the kill; grow N");
    assert_eq!(stored + present, N);
    assert_eq!(import_ok(&dir, "big", &file, &[]), (0, N));
    assert_eq!(found(&dir, "big", "probe"), N);
}

#[test]
fn a_failed_import_into_a_new_diary_leaves_no_diary_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let file = tmp.path().join("first.jsonl");
    let id = "0190f5a0-0000-7000-8000-000000000001";
    write_lines(
        &file,
        &[format!(r#"{{"id": "{id}", "content": "probe one"}}"#)],
    );
    assert_eq!(import_ok(&dir, "first", &file, &[]), (1, 0));
    // The same id into another, new diary: refused, and "second" is gone.
    let out = import(&dir, "second", &file, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("is an entry of another diary"),
        "{}",
        stderr(&out)
    );
    let out = moltsearch(&["diaries", "--data-dir", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = stdout(&out);
    assert!(listed.contains("\"first\""), "{listed}");
    assert!(!listed.contains("\"second\""), "{listed}");
}
