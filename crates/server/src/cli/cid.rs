//! `moltsearch cid`: MoltNet content ids for JSON lines read from stdin.
//!
//! Lets agents and scripts compute, without MoltNet, the exact CID they will
//! sign, and lets anyone check this engine against MoltNet's own output.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use moltsearch_engine::entry::compute_content_cid;
use serde::Deserialize;

/// Read `{"entryType","title","content","tags"}` lines from stdin and print
/// one CID per line.
///
/// `title` and `tags` may be null or absent. `entryType` is hashed as given,
/// like MoltNet's `computeContentCid` does, so types this engine does not
/// store still get MoltNet's CID. Blank lines are skipped. A bad line is
/// reported on stderr with its line number, prints nothing on stdout, and
/// makes the command exit non-zero once all lines are done.
#[derive(clap::Args, Debug)]
pub struct CidArgs {}

/// One input line; other fields (e.g. a whole stored entry) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CidInput {
    entry_type: String,
    #[serde(default)]
    title: Option<String>,
    content: String,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The CID of one line, or why it has none.
fn cid_of(line: &[u8]) -> Result<String, serde_json::Error> {
    let input: CidInput = serde_json::from_slice(line)?;
    Ok(compute_content_cid(
        &input.entry_type,
        input.title.as_deref(),
        &input.content,
        input.tags.as_deref().unwrap_or(&[]),
    ))
}

/// Runs the subcommand over stdin.
pub fn run(_args: CidArgs) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut line = Vec::new();
    let (mut number, mut failed) = (0usize, 0usize);
    loop {
        line.clear();
        // Bytes, not `lines()`: a line that is not UTF-8 is that line's
        // error, not the end of the input.
        if input
            .read_until(b'\n', &mut line)
            .context("reading stdin")?
            == 0
        {
            break;
        }
        number += 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match cid_of(&line) {
            Ok(cid) => writeln!(out, "{cid}").context("writing stdout")?,
            Err(err) => {
                failed += 1;
                eprintln!("line {number}: {err}");
            }
        }
    }
    out.flush().context("writing stdout")?;
    if failed > 0 {
        eprintln!("error: {failed} of {number} lines had no CID");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_line() {
        let line = br#"{"entryType":"semantic","title":"Test <html>","content":"Content with &amp; entities","tags":["c&d","a<b"]}"#;
        assert_eq!(
            cid_of(line).unwrap(),
            "bafkreicz3furirhe4c3y5da5lbns7mfn76b2yhjl4yut55zhx2brk7w2ne"
        );
    }

    #[test]
    fn null_and_absent_optionals_agree() {
        let a = cid_of(br#"{"entryType":"semantic","content":"x"}"#).unwrap();
        let b =
            cid_of(br#"{"entryType":"semantic","content":"x","title":null,"tags":null}"#).unwrap();
        let c = cid_of(
            b"{\"entryType\":\"semantic\",\"content\":\"x\",\"title\":\"\",\"tags\":[]}\r\n",
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(cid_of(b"not json").is_err());
        assert!(cid_of(br#"{"content":"x"}"#).is_err());
        assert!(cid_of(br#"{"entryType":"semantic","content":"x","tags":[1]}"#).is_err());
        assert!(cid_of(b"{\"entryType\":\"semantic\",\"content\":\"\xff\"}").is_err());
    }
}
