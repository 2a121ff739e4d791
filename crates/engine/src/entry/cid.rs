//! Content ids: byte-for-byte MoltNet's `computeContentCid`.
//!
//! The CID is what an agent signs, so any difference from MoltNet (key
//! order, escaping, tag order, multibase) would make every signed entry fail
//! to verify here. The canonical text is the JSON object
//! `{"c","t","tags","type","v"}` as JavaScript's `JSON.stringify` writes it;
//! `serde_json` escapes exactly the same characters (`"`, `\` and controls
//! below U+0020, short forms for `\b\t\n\f\r`, lower-case `\u00xx`
//! otherwise) and leaves `<`, `>`, `&` and non-ASCII alone, so a struct with
//! fields in that order serialises to the same bytes.

use std::cmp::Ordering;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EntryError;

/// Domain-separation tag hashed into every canonical text; MoltNet bumps it
/// if the canonical form ever changes.
pub const CANONICAL_VERSION: &str = "moltnet:diary:v1";

/// CIDv1 header: version 1, multicodec `raw` (0x55), multihash sha2-256
/// (0x12) of 32 (0x20) bytes.
const CID_PREFIX: [u8; 4] = [0x01, 0x55, 0x12, 0x20];

/// Multibase prefix of base32 lower-case, no padding.
const MULTIBASE_BASE32: char = 'b';

/// Length of every content id this module produces: `b` + base32 of 36 bytes.
pub const CID_LEN: usize = 59;

/// The canonical object; field order is the serialised key order.
#[derive(Serialize)]
struct Canonical<'a> {
    c: &'a str,
    t: &'a str,
    tags: Vec<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
    v: &'static str,
}

/// Orders strings as JavaScript's default `Array.prototype.sort` does: by
/// UTF-16 code units. It differs from byte (and `char`) order once a string
/// holds a character outside the Basic Multilingual Plane (surrogates
/// 0xD800–0xDFFF sort before U+E000–U+FFFF), and MoltNet sorts this way.
pub fn js_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The tags as MoltNet hashes them: sorted with [`js_string_cmp`], duplicates
/// kept.
pub fn sorted_tags<S: AsRef<str>>(tags: &[S]) -> Vec<&str> {
    let mut sorted: Vec<&str> = tags.iter().map(AsRef::as_ref).collect();
    sorted.sort_by(|a, b| js_string_cmp(a, b));
    sorted
}

/// The canonical text whose SHA-256 the CID wraps. `entry_type` is a plain
/// string because MoltNet hashes whatever type string it is given (it knows
/// more types than this engine stores); a missing title hashes as `""`,
/// missing tags as `[]`.
pub fn canonical_text<S: AsRef<str>>(
    entry_type: &str,
    title: Option<&str>,
    content: &str,
    tags: &[S],
) -> String {
    let canonical = Canonical {
        c: content,
        t: title.unwrap_or(""),
        tags: sorted_tags(tags),
        kind: entry_type,
        v: CANONICAL_VERSION,
    };
    // Serialising a struct of strings into a String cannot fail: there is no
    // I/O, no map key and no custom Serialize impl. Not user-reachable.
    serde_json::to_string(&canonical).expect("a struct of strings always serialises")
}

/// Wraps a SHA-256 digest as a CIDv1 (raw codec) in multibase base32
/// lower-case, e.g. `bafkrei…`.
pub fn cid_from_digest(digest: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(CID_PREFIX.len() + digest.len());
    bytes.extend_from_slice(&CID_PREFIX);
    bytes.extend_from_slice(digest);
    let mut out = String::with_capacity(CID_LEN);
    out.push(MULTIBASE_BASE32);
    out.push_str(&data_encoding::BASE32_NOPAD.encode(&bytes));
    out.make_ascii_lowercase();
    out
}

/// MoltNet's `computeContentCid(entryType, title, content, tags)`.
pub fn compute_content_cid<S: AsRef<str>>(
    entry_type: &str,
    title: Option<&str>,
    content: &str,
    tags: &[S],
) -> String {
    let text = canonical_text(entry_type, title, content, tags);
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    cid_from_digest(&digest)
}

/// Extracts the SHA-256 digest from a content id, so storage can keep 32
/// bytes instead of 59 characters and a client-supplied id can be checked
/// for shape before comparing. Only the canonical spelling is accepted
/// (lower-case base32, raw codec, sha2-256), since that is the only one
/// MoltNet produces and signs.
pub fn parse_cid(cid: &str) -> Result<[u8; 32], EntryError> {
    let invalid = |reason| EntryError::InvalidCid {
        got: cid.to_owned(),
        reason,
    };
    let body = cid
        .strip_prefix(MULTIBASE_BASE32)
        .ok_or_else(|| invalid("expected multibase prefix 'b' (base32 lower-case)"))?;
    if !body
        .bytes()
        .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
    {
        return Err(invalid("expected lower-case base32 characters"));
    }
    let bytes = data_encoding::BASE32_NOPAD_NOCASE
        .decode(body.as_bytes())
        .map_err(|_| invalid("not valid base32"))?;
    let digest = bytes
        .strip_prefix(&CID_PREFIX[..])
        .ok_or_else(|| invalid("expected CIDv1, raw codec, sha2-256 multihash"))?;
    digest
        .try_into()
        .map_err(|_| invalid("expected a 32-byte sha2-256 digest"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOLDEN: &str = "bafkreicz3furirhe4c3y5da5lbns7mfn76b2yhjl4yut55zhx2brk7w2ne";

    #[test]
    fn golden_vector() {
        let cid = compute_content_cid(
            "semantic",
            Some("Test <html>"),
            "Content with &amp; entities",
            &["a<b", "c&d"],
        );
        assert_eq!(cid, GOLDEN);
        assert_eq!(cid.len(), CID_LEN);
    }

    #[test]
    fn canonical_text_matches_moltnet() {
        assert_eq!(
            canonical_text("semantic", Some("Title"), "Content", &["tag1"]),
            r#"{"c":"Content","t":"Title","tags":["tag1"],"type":"semantic","v":"moltnet:diary:v1"}"#
        );
    }

    #[test]
    fn escapes_like_json_stringify() {
        let content = "q\" b\\ \u{8}\t\n\u{c}\r \u{0}\u{1f} \u{7f} <>& é 🔑 \u{2028}";
        let text = canonical_text::<&str>("semantic", None, content, &[]);
        assert_eq!(
            text,
            "{\"c\":\"q\\\" b\\\\ \\b\\t\\n\\f\\r \\u0000\\u001f \u{7f} <>& é 🔑 \u{2028}\",\
             \"t\":\"\",\"tags\":[],\"type\":\"semantic\",\"v\":\"moltnet:diary:v1\"}"
        );
    }

    #[test]
    fn missing_title_and_tags_hash_as_empty() {
        let none = compute_content_cid::<&str>("semantic", None, "x", &[]);
        assert_eq!(
            none,
            compute_content_cid::<&str>("semantic", Some(""), "x", &[])
        );
    }

    #[test]
    fn tags_sort_by_utf16_code_units() {
        // U+FF5E (fullwidth tilde) is one code unit 0xFF5E; U+1F600 is the
        // surrogate pair 0xD83D 0xDE00. Byte order puts U+FF5E first, UTF-16
        // order puts the emoji first, as JavaScript does.
        let tags = ["\u{ff5e}", "\u{1f600}"];
        assert_eq!(sorted_tags(&tags), vec!["\u{1f600}", "\u{ff5e}"]);
        let mut bytewise = tags.to_vec();
        bytewise.sort();
        assert_eq!(bytewise, vec!["\u{ff5e}", "\u{1f600}"]);
        // Case-sensitive, upper-case first, prefixes first.
        assert_eq!(
            sorted_tags(&["b", "B", "a", "ab"]),
            vec!["B", "a", "ab", "b"]
        );
    }

    #[test]
    fn parse_round_trips_and_rejects_noise() {
        let digest = parse_cid(GOLDEN).expect("golden parses");
        assert_eq!(cid_from_digest(&digest), GOLDEN);
        for bad in [
            "",
            "b",
            &GOLDEN[1..],
            &GOLDEN.to_uppercase(),
            &format!("{GOLDEN}a"),
            &GOLDEN[..GOLDEN.len() - 1],
            "bafyreicz3furirhe4c3y5da5lbns7mfn76b2yhjl4yut55zhx2brk7w2ne",
            "b!!!",
        ] {
            assert!(
                matches!(parse_cid(bad), Err(EntryError::InvalidCid { .. })),
                "{bad:?} should be refused"
            );
        }
    }
}
