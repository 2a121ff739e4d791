//! The `cid`, `sign` and `verify` subcommands, run as a user would run them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const GOLDEN: &str = "bafkreicz3furirhe4c3y5da5lbns7mfn76b2yhjl4yut55zhx2brk7w2ne";
const SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
const PUBLIC_KEY: &str = "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
const NONCE: &str = "f47ac10b-58cc-4372-a567-0e02b2c3d479";
const MESSAGE: &str = "line1\nline2\nline3";
const SIGNATURE: &str =
    "5YWAAbGXrGg/UCT/b6n7s3rvfDisiCknZKeZ4+jUfHEs/ZqN2oQA+jcFxRiloAufiMGjhAXjbZ0PIR+cb9qwAQ==";

fn moltsearch(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_moltsearch"))
        .args(args)
        .env_remove("MOLTSEARCH_PRIVATE_KEY_BASE64")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn moltsearch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for moltsearch")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn cid_prints_one_cid_per_line() {
    let input = concat!(
        r#"{"entryType":"semantic","title":"Test <html>","content":"Content with &amp; entities","tags":["a<b","c&d"]}"#,
        "\n",
        r#"{"entryType":"semantic","title":null,"content":"x","tags":null}"#,
        "\n",
        r#"{"entryType":"semantic","content":"x"}"#,
        "\n",
    );
    let o = moltsearch(&["cid"], input);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], GOLDEN);
    assert_eq!(lines[1], lines[2]);
}

#[test]
fn cid_reports_bad_lines_and_fails_at_the_end() {
    let input = concat!(
        r#"{"entryType":"semantic","content":"ok"}"#,
        "\n",
        "not json\n",
        r#"{"entryType":"semantic","content":"also ok"}"#,
        "\n",
    );
    let o = moltsearch(&["cid"], input);
    assert!(!o.status.success());
    assert_eq!(stdout(&o).lines().count(), 2, "good lines still get a CID");
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

#[test]
fn sign_reproduces_moltnet_vector() {
    let o = moltsearch(
        &[
            "sign",
            "--private-key-base64",
            SEED,
            "--nonce",
            NONCE,
            "--message",
            MESSAGE,
        ],
        "",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON output");
    assert_eq!(v["signatureBase64"], SIGNATURE);
    assert_eq!(v["publicKey"], PUBLIC_KEY);
    assert_eq!(v["fingerprint"], "21FE-31DF-A154-A261");
    assert_eq!(
        v["signingBytesHex"],
        "6d6f6c746e65743a7631000000206bb6a5ad9b9c43a7cb535e636578716b64ac42edea814a4cad102ba4049468370000002466343761633130622d353863632d343337322d613536372d306530326232633364343739"
    );
}

#[test]
fn sign_refuses_bad_keys_without_panicking() {
    for key in [
        "not base64!",
        "AAAA",
        "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    ] {
        let o = moltsearch(
            &[
                "sign",
                "--private-key-base64",
                key,
                "--nonce",
                "n",
                "--message",
                "m",
            ],
            "",
        );
        assert!(!o.status.success(), "{key}");
        let err = stderr(&o);
        assert!(err.contains("--private-key-base64"), "{key}: {err}");
        assert!(!err.contains("panicked"), "{key}: {err}");
    }
}

fn verify(public_key: &str, message: &str, signature: &str) -> Output {
    moltsearch(
        &[
            "verify",
            "--public-key",
            public_key,
            "--nonce",
            NONCE,
            "--message",
            message,
            "--signature",
            signature,
        ],
        "",
    )
}

#[test]
fn verify_reports_valid_and_invalid() {
    let o = verify(PUBLIC_KEY, MESSAGE, SIGNATURE);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), r#"{"valid":true}"#);

    let o = verify(PUBLIC_KEY, "line1\nline2\nline4", SIGNATURE);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o).trim(), r#"{"valid":false}"#);
}

#[test]
fn verify_refuses_bad_input_without_panicking() {
    for (key, sig, needle) in [
        ("ed25519:AAAA", SIGNATURE, "--public-key"),
        (
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            SIGNATURE,
            "--public-key",
        ),
        (PUBLIC_KEY, "AAAA", "--signature"),
        (PUBLIC_KEY, "%%%", "--signature"),
    ] {
        let o = verify(key, MESSAGE, sig);
        assert!(!o.status.success(), "{key} {sig}");
        assert_ne!(o.status.code(), Some(1), "bad input is not a verdict");
        let err = stderr(&o);
        assert!(err.contains(needle), "{key} {sig}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
