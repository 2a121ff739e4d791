//! The records of the write-ahead log: one per engine mutation.
//!
//! Records carry complete values (a whole entry with its doc id and
//! vector, a whole relation) rather than deltas, so replaying a record never
//! depends on recomputing anything (no embedding, no validation that might
//! change between versions): recovery is a pure fold of records over state.
//!
//! # Encoding
//!
//! Records are not encoded through the API types' own serde attributes:
//! those are tuned for camelCase JSON (RFC 3339 times, optional times read
//! with `deserialize_any`, which bincode cannot do; enums that bincode
//! would store by declaration index, so reordering variants would silently
//! change stored data). Instead private wire structs fix the on-disk form:
//! enums as their stable wire spellings (`"semantic"`, `"supersedes"`…),
//! times in `time`'s compact binary form, signatures and keys as their text
//! forms. The API types can evolve their JSON without touching old data
//! folders. New record kinds must be appended at the end of `WireRecord`.

use std::borrow::Cow;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;
use time::OffsetDateTime;

use uuid::Uuid;

use crate::entry::{
    Diary, EntryRecord, EntryType, PublicKey, Relation, RelationKind, RelationStatus, Signature,
    Visibility,
};
use crate::index::DocId;

/// An entry as the store keeps it: its data, the doc id both indexes key it
/// by, and its embedding (`dims` floats, from the model recorded in
/// `meta.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEntry {
    /// The entry's data, unvalidated plain form. Shared: the store's state
    /// and the engine read the same allocation.
    pub record: Arc<EntryRecord>,
    /// Doc id the indexes use; never reused once assigned.
    pub doc: DocId,
    /// The embedding of the entry's passage text.
    pub vector: Vec<f32>,
}

/// One logged mutation. Each gets a sequence number when appended.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// Creates or replaces a diary (by id).
    PutDiary(Diary),
    /// Stores new entries (a whole engine batch, so it is atomic on crash).
    /// Doc ids must be unused (at least [`Store::next_doc`](super::Store::next_doc))
    /// and ascending.
    PutEntries(Vec<StoredEntry>),
    /// Replaces an entry (by id). A re-embedded entry carries a new doc id
    /// and vector; otherwise it keeps its doc id and carries the old vector.
    /// Boxed because an entry is much larger than the other records.
    UpdateEntry(Box<StoredEntry>),
    /// Deletes an entry and, as the engine does, every relation touching it.
    DeleteEntry {
        /// The entry.
        id: Uuid,
    },
    /// Creates or replaces a relation (by id).
    PutRelation(Relation),
    /// Changes a relation's status, as [`Relation::set_status`] does (the
    /// time is recorded so replay reproduces `updated_at` exactly).
    SetRelationStatus {
        /// The relation.
        id: Uuid,
        /// Its new status.
        status: RelationStatus,
        /// When the change happened.
        at: OffsetDateTime,
    },
    /// Deletes a relation.
    DeleteRelation {
        /// The relation.
        id: Uuid,
    },
    /// Sets entries' read bookkeeping (absolute values, so replaying twice
    /// is harmless); entries gone since are skipped.
    RecordAccesses(Vec<Access>),
    /// Deletes a diary with every entry and relation in it (the engine
    /// refuses it while the diary holds signed entries).
    DeleteDiary {
        /// The diary.
        id: Uuid,
    },
    /// Marks that the records before it include every change of an
    /// external source of truth up to this sequence number (a folder that
    /// is an index cache of a database: see `Engine::apply_changes`).
    SourceSeq(u64),
}

/// An entry's read bookkeeping as of a moment: how often search returned it
/// and when last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The entry.
    pub id: Uuid,
    /// Times returned by a search.
    pub count: u64,
    /// When last returned.
    pub at: OffsetDateTime,
}

impl Access {
    /// Writes these counts into `record` (an entry's record as last written).
    pub fn apply_to(&self, record: &mut EntryRecord) {
        record.access_count = self.count;
        record.last_accessed_at = Some(self.at);
    }
}

impl Record {
    /// A short name for logs and error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::PutDiary(_) => "PutDiary",
            Record::PutEntries(_) => "PutEntries",
            Record::UpdateEntry(_) => "UpdateEntry",
            Record::DeleteEntry { .. } => "DeleteEntry",
            Record::PutRelation(_) => "PutRelation",
            Record::SetRelationStatus { .. } => "SetRelationStatus",
            Record::DeleteRelation { .. } => "DeleteRelation",
            Record::RecordAccesses(_) => "RecordAccesses",
            Record::DeleteDiary { .. } => "DeleteDiary",
            Record::SourceSeq(_) => "SourceSeq",
        }
    }
}

// ---------------------------------------------------------------------------
// Wire forms
// ---------------------------------------------------------------------------

fn parse<T: FromStr>(what: &str, text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e| format!("{what}: {e}"))
}

/// A diary on disk.
#[derive(Serialize, Deserialize)]
pub(crate) struct WireDiary<'a> {
    id: Uuid,
    team_id: Uuid,
    name: Cow<'a, str>,
    visibility: Cow<'a, str>,
}

impl<'a> From<&'a Diary> for WireDiary<'a> {
    fn from(d: &'a Diary) -> Self {
        Self {
            id: d.id,
            team_id: d.team_id,
            name: Cow::Borrowed(&d.name),
            visibility: Cow::Borrowed(d.visibility.as_str()),
        }
    }
}

impl WireDiary<'_> {
    /// Back to the model type. Stored diaries are not re-validated: the
    /// store returns what it was given.
    pub fn into_diary(self) -> Result<Diary, String> {
        Ok(Diary {
            id: self.id,
            team_id: self.team_id,
            name: self.name.into_owned(),
            visibility: parse::<Visibility>("visibility", &self.visibility)?,
        })
    }
}

/// An entry record on disk.
#[derive(Serialize, Deserialize)]
pub(crate) struct WireEntry<'a> {
    id: Uuid,
    diary_id: Uuid,
    title: Option<Cow<'a, str>>,
    content: Cow<'a, str>,
    tags: Cow<'a, [String]>,
    entry_type: Cow<'a, str>,
    importance: u8,
    content_hash: Cow<'a, str>,
    /// Base64 text form.
    content_signature: Option<String>,
    signing_nonce: Option<Cow<'a, str>>,
    /// `ed25519:<base64>` text form.
    signer_public_key: Option<String>,
    injection_risk: bool,
    access_count: u64,
    last_accessed_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl<'a> From<&'a EntryRecord> for WireEntry<'a> {
    fn from(r: &'a EntryRecord) -> Self {
        Self {
            id: r.id,
            diary_id: r.diary_id,
            title: r.title.as_deref().map(Cow::Borrowed),
            content: Cow::Borrowed(&r.content),
            tags: Cow::Borrowed(&r.tags),
            entry_type: Cow::Borrowed(r.entry_type.as_str()),
            importance: r.importance,
            content_hash: Cow::Borrowed(&r.content_hash),
            content_signature: r.content_signature.as_ref().map(ToString::to_string),
            signing_nonce: r.signing_nonce.as_deref().map(Cow::Borrowed),
            signer_public_key: r.signer_public_key.as_ref().map(ToString::to_string),
            injection_risk: r.injection_risk,
            access_count: r.access_count,
            last_accessed_at: r.last_accessed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl WireEntry<'_> {
    /// Back to the model type.
    pub fn into_record(self) -> Result<EntryRecord, String> {
        Ok(EntryRecord {
            id: self.id,
            diary_id: self.diary_id,
            title: self.title.map(Cow::into_owned),
            content: self.content.into_owned(),
            tags: self.tags.into_owned(),
            entry_type: parse::<EntryType>("entryType", &self.entry_type)?,
            importance: self.importance,
            content_hash: self.content_hash.into_owned(),
            content_signature: self
                .content_signature
                .map(|s| parse::<Signature>("contentSignature", &s))
                .transpose()?,
            signing_nonce: self.signing_nonce.map(Cow::into_owned),
            signer_public_key: self
                .signer_public_key
                .map(|s| parse::<PublicKey>("signerPublicKey", &s))
                .transpose()?,
            injection_risk: self.injection_risk,
            access_count: self.access_count,
            last_accessed_at: self.last_accessed_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A relation on disk.
#[derive(Serialize, Deserialize)]
pub(crate) struct WireRelation<'a> {
    id: Uuid,
    diary_id: Uuid,
    source_id: Uuid,
    target_id: Uuid,
    relation: Cow<'a, str>,
    status: Cow<'a, str>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl<'a> From<&'a Relation> for WireRelation<'a> {
    fn from(r: &'a Relation) -> Self {
        Self {
            id: r.id,
            diary_id: r.diary_id,
            source_id: r.source_id,
            target_id: r.target_id,
            relation: Cow::Borrowed(r.relation.as_str()),
            status: Cow::Borrowed(r.status.as_str()),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl WireRelation<'_> {
    /// Back to the model type.
    pub fn into_relation(self) -> Result<Relation, String> {
        Ok(Relation {
            id: self.id,
            diary_id: self.diary_id,
            source_id: self.source_id,
            target_id: self.target_id,
            relation: parse::<RelationKind>("relation", &self.relation)?,
            status: parse::<RelationStatus>("status", &self.status)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireStored<'a> {
    entry: WireEntry<'a>,
    doc: DocId,
    vector: Cow<'a, [f32]>,
}

impl<'a> From<&'a StoredEntry> for WireStored<'a> {
    fn from(e: &'a StoredEntry) -> Self {
        Self {
            entry: WireEntry::from(&*e.record),
            doc: e.doc,
            vector: Cow::Borrowed(&e.vector),
        }
    }
}

impl WireStored<'_> {
    fn into_stored(self) -> Result<StoredEntry, String> {
        Ok(StoredEntry {
            record: Arc::new(self.entry.into_record()?),
            doc: self.doc,
            vector: self.vector.into_owned(),
        })
    }
}

/// The on-disk record; variant order is part of the format.
#[derive(Serialize, Deserialize)]
enum WireRecord<'a> {
    PutDiary(WireDiary<'a>),
    PutEntries(Vec<WireStored<'a>>),
    UpdateEntry(WireStored<'a>),
    DeleteEntry {
        id: Uuid,
    },
    PutRelation(WireRelation<'a>),
    SetRelationStatus {
        id: Uuid,
        status: Cow<'a, str>,
        at: OffsetDateTime,
    },
    DeleteRelation {
        id: Uuid,
    },
    RecordAccesses(Vec<(Uuid, u64, OffsetDateTime)>),
    DeleteDiary {
        id: Uuid,
    },
    SourceSeq(u64),
}

impl<'a> From<&'a Record> for WireRecord<'a> {
    fn from(r: &'a Record) -> Self {
        match r {
            Record::PutDiary(d) => WireRecord::PutDiary(d.into()),
            Record::PutEntries(es) => WireRecord::PutEntries(es.iter().map(Into::into).collect()),
            Record::UpdateEntry(e) => WireRecord::UpdateEntry((&**e).into()),
            Record::DeleteEntry { id } => WireRecord::DeleteEntry { id: *id },
            Record::PutRelation(r) => WireRecord::PutRelation(r.into()),
            Record::SetRelationStatus { id, status, at } => WireRecord::SetRelationStatus {
                id: *id,
                status: Cow::Borrowed(status.as_str()),
                at: *at,
            },
            Record::DeleteRelation { id } => WireRecord::DeleteRelation { id: *id },
            Record::RecordAccesses(a) => {
                WireRecord::RecordAccesses(a.iter().map(|a| (a.id, a.count, a.at)).collect())
            }
            Record::DeleteDiary { id } => WireRecord::DeleteDiary { id: *id },
            Record::SourceSeq(seq) => WireRecord::SourceSeq(*seq),
        }
    }
}

impl WireRecord<'_> {
    fn into_record(self) -> Result<Record, String> {
        Ok(match self {
            WireRecord::PutDiary(d) => Record::PutDiary(d.into_diary()?),
            WireRecord::PutEntries(es) => Record::PutEntries(
                es.into_iter()
                    .map(WireStored::into_stored)
                    .collect::<Result<_, _>>()?,
            ),
            WireRecord::UpdateEntry(e) => Record::UpdateEntry(Box::new(e.into_stored()?)),
            WireRecord::DeleteEntry { id } => Record::DeleteEntry { id },
            WireRecord::PutRelation(r) => Record::PutRelation(r.into_relation()?),
            WireRecord::SetRelationStatus { id, status, at } => Record::SetRelationStatus {
                id,
                status: parse::<RelationStatus>("status", &status)?,
                at,
            },
            WireRecord::DeleteRelation { id } => Record::DeleteRelation { id },
            WireRecord::RecordAccesses(a) => Record::RecordAccesses(
                a.into_iter()
                    .map(|(id, count, at)| Access { id, count, at })
                    .collect(),
            ),
            WireRecord::DeleteDiary { id } => Record::DeleteDiary { id },
            WireRecord::SourceSeq(seq) => Record::SourceSeq(seq),
        })
    }
}

impl Serialize for Record {
    /// Serialises the wire form described in the module docs.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireRecord::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Record {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WireRecord::deserialize(d)?
            .into_record()
            .map_err(serde::de::Error::custom)
    }
}

impl Serialize for StoredEntry {
    /// Serialises the wire form described in the module docs.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WireStored::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for StoredEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        WireStored::deserialize(d)?
            .into_stored()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::PrivateKey;

    fn sample_entry() -> StoredEntry {
        let key = PrivateKey::from_seed(&[3; 32]);
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .expect("valid time");
        StoredEntry {
            record: Arc::new(EntryRecord {
                id: Uuid::from_u128(1),
                diary_id: Uuid::from_u128(2),
                title: Some("t".into()),
                content: "c".into(),
                tags: vec!["x".into()],
                entry_type: EntryType::Procedural,
                importance: 7,
                content_hash: "h".into(),
                content_signature: Some(key.sign_raw(b"h")),
                signing_nonce: Some("n".into()),
                signer_public_key: Some(key.public_key()),
                injection_risk: true,
                access_count: 4,
                last_accessed_at: Some(t),
                created_at: t,
                updated_at: t,
            }),
            doc: 9,
            vector: vec![1.0, -0.0, f32::MIN_POSITIVE],
        }
    }

    #[test]
    fn every_record_round_trips_through_bincode() {
        let e = sample_entry();
        let t = e.record.created_at;
        let records = vec![
            Record::PutDiary(Diary {
                id: Uuid::from_u128(5),
                team_id: Uuid::from_u128(6),
                name: "d".into(),
                visibility: Visibility::Moltnet,
            }),
            Record::PutEntries(vec![e.clone(), e.clone()]),
            Record::UpdateEntry(Box::new(e)),
            Record::DeleteEntry {
                id: Uuid::from_u128(7),
            },
            Record::PutRelation(Relation {
                id: Uuid::from_u128(8),
                diary_id: Uuid::from_u128(2),
                source_id: Uuid::from_u128(1),
                target_id: Uuid::from_u128(3),
                relation: RelationKind::CausedBy,
                status: RelationStatus::Rejected,
                created_at: t,
                updated_at: t,
            }),
            Record::SetRelationStatus {
                id: Uuid::from_u128(8),
                status: RelationStatus::Accepted,
                at: t,
            },
            Record::DeleteRelation {
                id: Uuid::from_u128(8),
            },
            Record::RecordAccesses(vec![Access {
                id: Uuid::from_u128(1),
                count: 42,
                at: t,
            }]),
            Record::DeleteDiary {
                id: Uuid::from_u128(5),
            },
            Record::SourceSeq(41),
        ];
        for r in records {
            let bytes =
                bincode::serde::encode_to_vec(&r, super::super::bincode_config()).expect("encode");
            let (back, used): (Record, usize) =
                bincode::serde::decode_from_slice(&bytes, super::super::bincode_config())
                    .expect("decode");
            assert_eq!(used, bytes.len());
            assert_eq!(back, r);
        }
    }
}
