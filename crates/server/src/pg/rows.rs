//! Rows of the schema (`migrations/`) to the engine's types and back.
//!
//! Every read of an entry selects [`ENTRY_COLUMNS`] and decodes with
//! [`entry_change`], so the column list and its decoding live in one place.

use moltsearch_engine::{
    Diary, EntryChange, EntryRecord, EntryType, Relation, RelationKind, RelationStatus, Visibility,
};
use sqlx::postgres::PgRow;
use sqlx::Row;

/// The columns [`entry_change`] decodes, in a `SELECT` list.
pub const ENTRY_COLUMNS: &str = "id, diary_id, title, content, tags, entry_type, importance, \
     content_hash, content_signature, signing_nonce, signer_public_key, injection_risk, \
     access_count, last_accessed_at, created_at, updated_at, embedding, model_id";

/// The columns [`diary`] decodes.
pub const DIARY_COLUMNS: &str = "id, team_id, name, visibility";

/// The columns [`relation`] decodes.
pub const RELATION_COLUMNS: &str =
    "id, diary_id, source_id, target_id, relation, status, created_at, updated_at";

/// A row the schema's CHECKs should have kept out (the database and this
/// binary disagree, e.g. a row written by hand).
#[derive(Debug, thiserror::Error)]
#[error("row {id} of {table}: {reason}")]
pub struct BadRow {
    /// The table.
    pub table: &'static str,
    /// The row's id.
    pub id: uuid::Uuid,
    /// What does not decode.
    pub reason: String,
}

/// Why a row could not become an engine value.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// A column is missing or of another type.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// A value breaks the model's rules.
    #[error(transparent)]
    Bad(#[from] BadRow),
}

fn parse<T: std::str::FromStr>(
    table: &'static str,
    id: uuid::Uuid,
    column: &str,
    text: &str,
) -> Result<T, BadRow>
where
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| BadRow {
        table,
        id,
        reason: format!("{column}: {e}"),
    })
}

/// A `diaries` row.
pub fn diary(row: &PgRow) -> Result<Diary, RowError> {
    let id: uuid::Uuid = row.try_get("id")?;
    let visibility: String = row.try_get("visibility")?;
    Ok(Diary {
        id,
        team_id: row.try_get("team_id")?,
        name: row.try_get("name")?,
        visibility: parse::<Visibility>("diaries", id, "visibility", &visibility)?,
    })
}

/// An `entry_relations` row.
pub fn relation(row: &PgRow) -> Result<Relation, RowError> {
    let id: uuid::Uuid = row.try_get("id")?;
    let kind: String = row.try_get("relation")?;
    let status: String = row.try_get("status")?;
    Ok(Relation {
        id,
        diary_id: row.try_get("diary_id")?,
        source_id: row.try_get("source_id")?,
        target_id: row.try_get("target_id")?,
        relation: parse::<RelationKind>("entry_relations", id, "relation", &kind)?,
        status: parse::<RelationStatus>("entry_relations", id, "status", &status)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A `diary_entries` row with its vector.
pub fn entry_change(row: &PgRow) -> Result<EntryChange, RowError> {
    let id: uuid::Uuid = row.try_get("id")?;
    let t = "diary_entries";
    let entry_type: String = row.try_get("entry_type")?;
    let importance: i16 = row.try_get("importance")?;
    let access_count: i64 = row.try_get("access_count")?;
    let signature: Option<String> = row.try_get("content_signature")?;
    let public_key: Option<String> = row.try_get("signer_public_key")?;
    let record = EntryRecord {
        id,
        diary_id: row.try_get("diary_id")?,
        title: row.try_get("title")?,
        content: row.try_get("content")?,
        tags: row.try_get("tags")?,
        entry_type: parse::<EntryType>(t, id, "entry_type", &entry_type)?,
        importance: u8::try_from(importance).map_err(|_| BadRow {
            table: t,
            id,
            reason: format!("importance {importance} out of range"),
        })?,
        content_hash: row.try_get("content_hash")?,
        content_signature: signature
            .map(|s| parse(t, id, "content_signature", &s))
            .transpose()?,
        signing_nonce: row.try_get("signing_nonce")?,
        signer_public_key: public_key
            .map(|s| parse(t, id, "signer_public_key", &s))
            .transpose()?,
        injection_risk: row.try_get("injection_risk")?,
        access_count: u64::try_from(access_count).unwrap_or(0),
        last_accessed_at: row.try_get("last_accessed_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    Ok(EntryChange {
        record,
        vector: row.try_get("embedding")?,
        model_id: row.try_get("model_id")?,
    })
}

/// Binds an entry change's columns, in [`ENTRY_COLUMNS`] order, onto a
/// `push_values` row of a query builder.
pub fn bind_entry(
    mut b: sqlx::query_builder::Separated<'_, '_, sqlx::Postgres, &'static str>,
    e: &EntryChange,
) {
    let r = &e.record;
    b.push_bind(r.id)
        .push_bind(r.diary_id)
        .push_bind(r.title.clone())
        .push_bind(r.content.clone())
        .push_bind(r.tags.clone())
        .push_bind(r.entry_type.as_str())
        .push_bind(i16::from(r.importance))
        .push_bind(r.content_hash.clone())
        .push_bind(r.content_signature.as_ref().map(ToString::to_string))
        .push_bind(r.signing_nonce.clone())
        .push_bind(r.signer_public_key.as_ref().map(ToString::to_string))
        .push_bind(r.injection_risk)
        .push_bind(i64::try_from(r.access_count).unwrap_or(i64::MAX))
        .push_bind(r.last_accessed_at)
        .push_bind(r.created_at)
        .push_bind(r.updated_at)
        .push_bind(e.vector.clone())
        .push_bind(e.model_id.clone());
}
