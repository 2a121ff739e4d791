//! Reading an import file: every line parsed and validated before anything
//! is stored, each problem named by file, line and field.
//!
//! Validation is the engine's own ([`Entry::create_with_id`]), run here on
//! each line so that a bad line 290 is found before line 1 is stored; what
//! `put_entries` checks beyond it (the diary exists, ids are new) is the
//! caller's business once the diary is known.

use std::collections::HashMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::{Entry, EntryError, EntryType, NewEntry};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::key::{canonical_digest, KeySource};
use super::Format;

/// Fields of an `entries` line (MoltNet's, camelCase, plus `id` and
/// `createdAt`); any other field is refused.
pub const ENTRY_FIELDS: &[&str] = &[
    "id",
    "createdAt",
    "title",
    "content",
    "tags",
    "entryType",
    "importance",
    "contentHash",
    "contentSignature",
    "signingNonce",
    "signerPublicKey",
];

/// Fields of a BEIR corpus line; `metadata` is accepted and not stored.
pub const BEIR_FIELDS: &[&str] = &["_id", "title", "text", "metadata"];

/// One valid line, ready to store once its diary is known.
#[derive(Debug)]
pub struct Line {
    /// 1-based line number in the file.
    pub number: usize,
    /// The entry, with a nil diary id and no id yet.
    pub put: PutEntry,
    /// Where its entry id comes from.
    pub key: KeySource,
}

/// A refused line: `file:line: field: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// The file, as given on the command line.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// The offending field, when one is to blame.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LineError {}

/// Every line of a file: the valid ones and what is wrong with the others.
#[derive(Debug, Default)]
pub struct FileLines {
    /// Valid lines, in file order.
    pub lines: Vec<Line>,
    /// Refused lines, in file order.
    pub errors: Vec<LineError>,
}

/// Why one line is refused, before the file and line are attached.
#[derive(Debug)]
struct Refusal {
    field: Option<String>,
    message: String,
}

impl Refusal {
    fn line(message: impl Into<String>) -> Self {
        Refusal {
            field: None,
            message: message.into(),
        }
    }

    fn field(field: &str, message: impl Into<String>) -> Self {
        Refusal {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }
}

/// Reads, parses and validates every line of `path`. Blank lines are
/// skipped. Only a file that cannot be opened or read is an `Err`; bad
/// lines are collected in [`FileLines::errors`].
pub fn read(path: &Path, format: Format) -> anyhow::Result<FileLines> {
    let file = path.display().to_string();
    let raw = std::fs::File::open(path).with_context(|| format!("opening {file}"))?;
    let mut reader = std::io::BufReader::new(raw);
    let mut out = FileLines::default();
    let mut occurrences: HashMap<[u8; 32], u64> = HashMap::new();
    let mut ids: HashMap<Uuid, usize> = HashMap::new();
    let mut beir_ids: HashMap<String, usize> = HashMap::new();
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {file} after line {number}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        let parsed = match std::str::from_utf8(&buf) {
            Err(e) => Err(Refusal::line(format!("not UTF-8 text: {e}"))),
            Ok(text) => {
                let text = text.trim_end_matches(['\n', '\r']);
                let text = if number == 1 {
                    text.trim_start_matches('\u{feff}')
                } else {
                    text
                };
                if text.trim().is_empty() {
                    continue;
                }
                match format {
                    Format::Entries => parse_entry(text).map(|(put, id)| {
                        let key = match id {
                            Some(id) => KeySource::Given(id),
                            None => {
                                let digest = canonical_digest(&put);
                                let seen = occurrences.entry(digest).or_default();
                                let occurrence = *seen;
                                *seen += 1;
                                KeySource::Content { digest, occurrence }
                            }
                        };
                        (put, key)
                    }),
                    Format::Beir => parse_beir(text).map(|(put, id)| (put, KeySource::Beir(id))),
                }
            }
        };
        // The first line with an id keeps it; later ones are the mistake.
        let unique = parsed.and_then(|(put, key)| {
            let earlier = match &key {
                KeySource::Given(id) => first_line(&mut ids, *id, number).map(|n| ("id", n)),
                KeySource::Beir(id) => {
                    first_line(&mut beir_ids, id.clone(), number).map(|n| ("_id", n))
                }
                KeySource::Content { .. } => None,
            };
            match earlier {
                Some((field, first)) => Err(Refusal::field(
                    field,
                    format!("the same {field} as line {first}"),
                )),
                None => Ok((put, key)),
            }
        });
        match unique {
            Ok((put, key)) => out.lines.push(Line { number, put, key }),
            Err(r) => out.errors.push(LineError {
                file: file.clone(),
                line: number,
                field: r.field,
                message: r.message,
            }),
        }
    }
    Ok(out)
}

/// The line that first used `key`, recording `number` when none did.
fn first_line<K: std::hash::Hash + Eq>(
    seen: &mut HashMap<K, usize>,
    key: K,
    number: usize,
) -> Option<usize> {
    match seen.entry(key) {
        std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(number);
            None
        }
    }
}

/// Parses one `entries` line into a validated entry (nil diary) and its
/// `id` field, if any.
pub fn entry_fields(line: &str) -> anyhow::Result<(PutEntry, Option<Uuid>)> {
    parse_entry(line).map_err(|r| match r.field {
        Some(field) => anyhow::anyhow!("{field}: {}", r.message),
        None => anyhow::anyhow!("{}", r.message),
    })
}

fn parse_entry(line: &str) -> Result<(PutEntry, Option<Uuid>), Refusal> {
    let mut obj = object(line, ENTRY_FIELDS)?;
    let id = take::<String>(&mut obj, "id")?
        .map(|s| {
            Uuid::parse_str(&s)
                .map_err(|e| Refusal::field("id", format!("{s:?} is not a UUID: {e}")))
        })
        .transpose()?;
    let created_at = take::<String>(&mut obj, "createdAt")?
        .map(|s| {
            OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339).map_err(|e| {
                Refusal::field("createdAt", format!("{s:?} is not an RFC 3339 time: {e}"))
            })
        })
        .transpose()?;
    let entry_type = take::<String>(&mut obj, "entryType")?
        .map(|s| EntryType::from_str(&s).map_err(|e| entry_refusal(&e, |f| f)))
        .transpose()?;
    let entry = NewEntry {
        diary_id: Uuid::nil(),
        title: take(&mut obj, "title")?,
        content: take(&mut obj, "content")?
            .ok_or_else(|| Refusal::field("content", "missing (every entry needs content)"))?,
        tags: take(&mut obj, "tags")?,
        entry_type,
        importance: take(&mut obj, "importance")?,
        content_hash: take(&mut obj, "contentHash")?,
        content_signature: take(&mut obj, "contentSignature")?,
        signing_nonce: take(&mut obj, "signingNonce")?,
        signer_public_key: take(&mut obj, "signerPublicKey")?,
    };
    let put = PutEntry {
        entry,
        id,
        created_at,
    };
    validate(&put, |f| f)?;
    Ok((put, id))
}

fn parse_beir(line: &str) -> Result<(PutEntry, String), Refusal> {
    let mut obj = object(line, BEIR_FIELDS)?;
    let id = match obj.remove("_id") {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Err(Refusal::field("_id", "missing")),
        Some(other) => {
            return Err(Refusal::field(
                "_id",
                format!("must be a non-empty string or a number, got {other}"),
            ))
        }
    };
    let title: Option<String> = take(&mut obj, "title")?;
    let text: String = take(&mut obj, "text")?.ok_or_else(|| Refusal::field("text", "missing"))?;
    let mut entry = NewEntry::new(Uuid::nil(), text);
    entry.title = title.filter(|t| !t.trim().is_empty());
    let put = PutEntry::from(entry);
    validate(&put, |f| match f {
        "content" => "text",
        other => other,
    })?;
    Ok((put, id))
}

/// The line as a JSON object whose keys are all in `known`.
fn object(line: &str, known: &[&str]) -> Result<Map<String, Value>, Refusal> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| Refusal::line(format!("not JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(Refusal::line("each line must be a JSON object"));
    };
    if let Some(unknown) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        let hint = if unknown == "diaryId" {
            " (the diary is the one named by --diary)".to_string()
        } else {
            known
                .iter()
                .find(|k| similar(k, unknown))
                .map(|k| format!(" (did you mean {k}?)"))
                .unwrap_or_default()
        };
        return Err(Refusal::field(
            unknown,
            format!(
                "unknown field{hint}; the known fields are {}",
                known.join(", ")
            ),
        ));
    }
    Ok(obj)
}

/// A likely misspelling: same letters up to case, `_`/`-`, or a plural s.
fn similar(known: &str, got: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (k, g) = (norm(known), norm(got));
    k == g || k == format!("{g}s") || g == format!("{k}s")
}

/// Removes `field` from `obj`; absent and `null` are both `None`.
fn take<T: DeserializeOwned>(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<T>, Refusal> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| Refusal::field(field, e.to_string())),
    }
}

/// Runs the engine's validation; `name` maps the engine's field names to
/// the format's.
fn validate(put: &PutEntry, name: fn(&'static str) -> &'static str) -> Result<(), Refusal> {
    let at = put.created_at.unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Entry::create_with_id(Uuid::nil(), put.entry.clone(), at)
        .map(drop)
        .map_err(|e| entry_refusal(&e, name))
}

fn entry_refusal(e: &EntryError, name: fn(&'static str) -> &'static str) -> Refusal {
    let field = match e {
        EntryError::Empty { field }
        | EntryError::Blank { field }
        | EntryError::TooLong { field, .. }
        | EntryError::OutOfRange { field, .. }
        | EntryError::UnknownVariant { field, .. }
        | EntryError::Malformed { field, .. }
        | EntryError::WrongLength { field, .. } => Some(*field),
        EntryError::IncompleteSignature { missing } => Some(*missing),
        EntryError::TooManyTags { .. } => Some("tags"),
        EntryError::ContentHashMismatch { .. } => Some("contentHash"),
        EntryError::InvalidPublicKey => Some("signerPublicKey"),
        EntryError::InvalidSignature => Some("contentSignature"),
        _ => None,
    };
    Refusal {
        field: field.map(|f| name(f).to_string()),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(line: &str) -> (Option<String>, String) {
        let r = parse_entry(line).expect_err(line);
        (r.field, r.message)
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases = [
            (r#"{"content":"x","tag":["a"]}"#, "tag"),
            (r#"{"content":"x","importance":11}"#, "importance"),
            (r#"{"content":"x","importance":"high"}"#, "importance"),
            (r#"{"content":" \t"}"#, "content"),
            (r#"{"title":"t"}"#, "content"),
            (r#"{"content":"x","createdAt":"yesterday"}"#, "createdAt"),
            (r#"{"content":"x","id":"nope"}"#, "id"),
            (r#"{"content":"x","entryType":"dream"}"#, "entryType"),
            (r#"{"content":"x","tags":"a"}"#, "tags"),
            (r#"{"content":"x","signingNonce":"n"}"#, "contentSignature"),
        ];
        for (line, field) in cases {
            assert_eq!(refusal(line).0.as_deref(), Some(field), "{line}");
        }
        let (_, msg) = refusal(r#"{"content":"x","tag":["a"]}"#);
        assert!(msg.contains("did you mean tags?"), "{msg}");
        assert!(msg.contains("content, tags, entryType"), "{msg}");
        assert_eq!(refusal("[1]").0, None);
        assert_eq!(refusal("{").0, None);
    }

    #[test]
    fn beir_lines() {
        let (put, id) = parse_beir(r#"{"_id":7,"title":"","text":"t","metadata":{}}"#).unwrap();
        assert_eq!((id.as_str(), put.entry.title), ("7", None));
        let r = parse_beir(r#"{"_id":"1","text":"  "}"#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("text"));
        let r = parse_beir(r#"{"text":"x"}"#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("_id"));
        let r = parse_beir(r#"{"_id":"1","text":"x","body":"y"}"#).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("body"));
    }

    #[test]
    fn canonical_form_ignores_spelling_not_meaning() {
        let a = parse_entry(r#"{"content":"x","importance":5,"tags":[]}"#)
            .unwrap()
            .0;
        let b = parse_entry(r#"{ "tags" : null , "content" : "x" }"#)
            .unwrap()
            .0;
        let c = parse_entry(r#"{"content":"x","importance":6}"#).unwrap().0;
        assert_eq!(canonical_digest(&a), canonical_digest(&b));
        assert_ne!(canonical_digest(&a), canonical_digest(&c));
        let t1 = parse_entry(r#"{"content":"x","createdAt":"2026-01-01T01:00:00+01:00"}"#)
            .unwrap()
            .0;
        let t2 = parse_entry(r#"{"content":"x","createdAt":"2026-01-01T00:00:00Z"}"#)
            .unwrap()
            .0;
        assert_eq!(canonical_digest(&t1), canonical_digest(&t2));
    }
}
