//! The idempotency key of an import line: the entry id it is stored under.
//!
//! A line's id is derived from what the line says, never from when or how
//! often it is imported, so that importing the same lines into the same
//! diary again finds every entry already stored instead of adding copies.

use moltsearch_engine::engine::PutEntry;
use moltsearch_engine::entry::validate::DEFAULT_IMPORTANCE;
use sha2::{Digest, Sha256};
use uuid::{Builder, Uuid};

/// Domain separation: a change of the derivation gets a new tag, so ids
/// derived one way can never be mistaken for ids derived another way.
const TAG: &[u8] = b"moltsearch import v1\0";

/// What a line's id comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// The line's own `id` field, used as it is.
    Given(Uuid),
    /// A BEIR document's `_id`: unique in its corpus.
    Beir(String),
    /// An entry line without an `id`: the digest of its canonical fields,
    /// and how many lines before it in the file have the same digest (so
    /// that two identical lines are two entries, and a line keeps its id
    /// when other lines are inserted, removed or reordered).
    Content {
        /// SHA-256 of the canonical fields (see `lines::canonical_digest`).
        digest: [u8; 32],
        /// 0 for the first line with this digest, 1 for the second, ….
        occurrence: u64,
    },
}

impl KeySource {
    /// The entry id of this line in `diary`: the given id, or a version 8
    /// UUID made of the first 16 bytes of SHA-256 over the diary and the
    /// source (the same line in two diaries is two entries).
    pub fn entry_id(&self, diary: Uuid) -> Uuid {
        if let KeySource::Given(id) = self {
            return *id;
        }
        let mut h = Sha256::new();
        h.update(TAG);
        h.update(diary.as_bytes());
        match self {
            KeySource::Given(_) => {}
            KeySource::Beir(id) => {
                h.update(b"beir\0");
                h.update(id.as_bytes());
            }
            KeySource::Content { digest, occurrence } => {
                h.update(b"entry\0");
                h.update(digest);
                h.update(occurrence.to_le_bytes());
            }
        }
        let out = h.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&out[..16]);
        Builder::from_custom_bytes(bytes).into_uuid()
    }
}

/// SHA-256 of an entry line's fields in one fixed form: defaults filled in
/// (no `importance` is importance 5, no `tags` is `[]`), `createdAt` as an
/// instant (any offset), key order and JSON spacing irrelevant. The diary
/// is not part of it (it is added by [`KeySource::entry_id`]), nor is
/// `contentHash` (it only restates the other fields).
pub fn canonical_digest(put: &PutEntry) -> [u8; 32] {
    let e = &put.entry;
    let fields = serde_json::json!([
        e.title,
        e.content,
        e.tags.as_deref().unwrap_or_default(),
        e.entry_type.unwrap_or_default().as_str(),
        e.importance.unwrap_or(DEFAULT_IMPORTANCE.into()),
        put.created_at.map(|t| t.unix_timestamp_nanos().to_string()),
        e.content_signature,
        e.signing_nonce,
        e.signer_public_key,
    ]);
    Sha256::digest(fields.to_string().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_diary_and_source_only() {
        let d1 = Uuid::from_u128(1);
        let d2 = Uuid::from_u128(2);
        let a = KeySource::Content {
            digest: [7; 32],
            occurrence: 0,
        };
        let a2 = KeySource::Content {
            digest: [7; 32],
            occurrence: 1,
        };
        assert_eq!(a.entry_id(d1), a.clone().entry_id(d1));
        assert_eq!(a.entry_id(d1).get_version_num(), 8);
        assert_ne!(a.entry_id(d1), a.entry_id(d2));
        assert_ne!(a.entry_id(d1), a2.entry_id(d1));
        let b = KeySource::Beir("7".into());
        assert_ne!(b.entry_id(d1), KeySource::Beir("8".into()).entry_id(d1));
        let given = Uuid::from_u128(99);
        assert_eq!(KeySource::Given(given).entry_id(d1), given);
    }
}
