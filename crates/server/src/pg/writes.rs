//! Writes with Postgres as the source of truth.
//!
//! Each write: validate and embed through the engine ([`Engine::prepare_entries`],
//! [`Engine::prepare_update`]: outside any transaction), then one
//! transaction with the rows and their change record ([`log::append`]),
//! commit, then wait until this server's feed has applied that sequence,
//! so the answer is durable in Postgres and the next search here sees it.
//! If the apply fails after the commit nothing is lost: the feed applies
//! the change again on its next read.
//!
//! The engine's checks run on the local index (which may trail other
//! servers' writes by the feed's lag); the schema's constraints are the
//! final word, and their violations map to the same errors.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use moltsearch_engine::entry::{EntryError, Relation};
use moltsearch_engine::{
    Change, Diary, Engine, EntryChange, EntryPatch, EntryRecord, Error as EngineError, PutEntry,
    RelationKind, RelationStatus,
};
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::feed::{Feed, FeedError};
use super::log::{self, Kind};
use super::rows::{bind_entry, ENTRY_COLUMNS};
use crate::http::writes::{blocking, Store, WriteError, WriteResult, Writes};

/// How long a write waits for its own change to reach the local index.
const APPLY_WAIT: Duration = Duration::from_secs(10);

/// Writes to Postgres, then to the local index through the feed.
pub struct PgWrites {
    pool: PgPool,
    engine: Arc<Engine>,
    feed: Arc<Feed>,
}

impl PgWrites {
    /// Writes through `pool`; `feed` applies them to `engine`.
    pub fn new(pool: PgPool, engine: Arc<Engine>, feed: Arc<Feed>) -> Self {
        Self { pool, engine, feed }
    }

    /// Ends a write: records `objects` in the change log, commits, then
    /// waits until this server's index holds the write (applying `own`,
    /// the values it committed, directly when its sequence is the next
    /// one), so the answer is durable and read-your-writes.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'_, Postgres>,
        objects: &[(Kind, Uuid)],
        own: Option<Vec<Change>>,
    ) -> WriteResult<()> {
        let seq = log::append(&mut tx, objects).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let done = match own {
            Some(c) => self.feed.apply_own(seq, c, APPLY_WAIT).await,
            None => self.feed.wait_for(seq, APPLY_WAIT).await,
        };
        done.map_err(|e| match e {
            // Committed: the answer is a success the index shows shortly.
            FeedError::Timeout { .. } => WriteError::Unavailable(format!(
                "the write is committed but this server's index has not applied it yet: {e}"
            )),
            other => WriteError::Unavailable(other.to_string()),
        })
    }
}

/// Maps a database error: constraint violations to what the engine would
/// have said, everything else (unreachable, timeouts) to 503.
fn db(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(d) = &e {
        let constraint = d.constraint().unwrap_or_default().to_string();
        match d.code().as_deref() {
            Some("23505") if constraint == "diary_entries_signature" => {
                return WriteError::Conflict("the signature already signs another entry".into())
            }
            Some("23505") if constraint == "diary_entries_nonce" => {
                return WriteError::Conflict(
                    "the signing nonce is already used by another entry".into(),
                )
            }
            Some("23505") if constraint.starts_with("entry_relations_source_id_target_id") => {
                return WriteError::Conflict("the relation exists".into())
            }
            Some("23505") => {
                return WriteError::Conflict(format!(
                    "an object with this id exists ({constraint})"
                ))
            }
            Some("23503") => {
                return WriteError::Conflict(format!(
                    "a referenced object was deleted meanwhile ({constraint})"
                ))
            }
            Some(code) if code.starts_with("23") => {
                return WriteError::Invalid(format!(
                    "the database refused the row: {}",
                    d.message()
                ))
            }
            _ => {}
        }
    }
    WriteError::Unavailable(format!("database: {e}"))
}

async fn insert_entries(tx: &mut sqlx::PgConnection, entries: &[&EntryChange]) -> sqlx::Result<()> {
    // 18 binds a row: 1,000 rows stay under Postgres' 65,535 binds.
    for chunk in entries.chunks(1_000) {
        let mut q: QueryBuilder<Postgres> =
            QueryBuilder::new(format!("INSERT INTO diary_entries ({ENTRY_COLUMNS}) "));
        q.push_values(chunk.iter(), |b, e| bind_entry(b, e));
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

fn entry_changes(changes: Vec<Change>) -> Vec<EntryChange> {
    changes
        .into_iter()
        .filter_map(|c| match c {
            Change::PutEntry(e) => Some(*e),
            _ => None,
        })
        .collect()
}

#[async_trait]
impl Writes for PgWrites {
    fn store(&self) -> Store {
        Store::Database
    }

    async fn create_diary(&self, diary: Diary) -> WriteResult<Diary> {
        diary.validate().map_err(EngineError::from)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO diaries (id, team_id, name, visibility) VALUES ($1, $2, $3, $4)")
            .bind(diary.id)
            .bind(diary.team_id)
            .bind(&diary.name)
            .bind(diary.visibility.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.finish(
            tx,
            &[(Kind::Diary, diary.id)],
            Some(vec![Change::PutDiary(diary.clone())]),
        )
        .await?;
        Ok(diary)
    }

    async fn update_diary(&self, diary: Diary) -> WriteResult<Diary> {
        diary.validate().map_err(EngineError::from)?;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let n = sqlx::query(
            "UPDATE diaries SET name = $2, visibility = $3, updated_at = now() WHERE id = $1",
        )
        .bind(diary.id)
        .bind(&diary.name)
        .bind(diary.visibility.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 0 {
            return Err(not_found("diary", diary.id));
        }
        self.finish(tx, &[(Kind::Diary, diary.id)], None).await?;
        Ok(diary)
    }

    async fn delete_diary(&self, id: Uuid) -> WriteResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Locks the diary row: an insert into it waits (its foreign key
        // check needs a share lock), so the signed count cannot change
        // between the check and the delete.
        let held: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM diaries WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if held.is_none() {
            return Err(not_found("diary", id));
        }
        let signed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM diary_entries WHERE diary_id = $1 AND content_signature IS NOT NULL",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if signed > 0 {
            return Err(EngineError::from(EntryError::DiaryHoldsSigned {
                signed: usize::try_from(signed).unwrap_or(usize::MAX),
            })
            .into());
        }
        sqlx::query("DELETE FROM diaries WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        self.finish(tx, &[(Kind::Diary, id)], None).await
    }

    async fn put_entries(&self, batch: Vec<PutEntry>) -> WriteResult<Vec<EntryRecord>> {
        let e = self.engine.clone();
        let entries = entry_changes(blocking(move || e.prepare_entries(batch)).await?);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let refs: Vec<&EntryChange> = entries.iter().collect();
        insert_entries(&mut tx, &refs).await.map_err(db)?;
        let named: Vec<(Kind, Uuid)> = entries.iter().map(|e| (Kind::Entry, e.record.id)).collect();
        let records = entries.iter().map(|e| e.record.clone()).collect();
        let changes = entries
            .into_iter()
            .map(|e| Change::PutEntry(Box::new(e)))
            .collect();
        self.finish(tx, &named, Some(changes)).await?;
        Ok(records)
    }

    async fn update_entry(&self, id: Uuid, patch: EntryPatch) -> WriteResult<EntryRecord> {
        let e = self.engine.clone();
        let Some(change) = blocking(move || e.prepare_update(id, patch)).await? else {
            return self
                .engine
                .get_entry(id)
                .ok_or_else(|| not_found("entry", id));
        };
        let Change::PutEntry(entry) = change else {
            return Err(WriteError::Invalid("the engine prepared no entry".into()));
        };
        let r = &entry.record;
        let mut tx = self.pool.begin().await.map_err(db)?;
        // A signed entry's signed fields never change, whatever the local
        // index believed: the WHERE clause is the database's own guard.
        let n = sqlx::query(
            "UPDATE diary_entries SET title = $2, content = $3, tags = $4, entry_type = $5, \
             importance = $6, content_hash = $7, injection_risk = $8, updated_at = $9, \
             embedding = $10, model_id = $11 \
             WHERE id = $1 AND (content_signature IS NULL OR (content = $3 \
               AND title IS NOT DISTINCT FROM $2 AND tags = $4 AND entry_type = $5))",
        )
        .bind(r.id)
        .bind(&r.title)
        .bind(&r.content)
        .bind(&r.tags)
        .bind(r.entry_type.as_str())
        .bind(i16::from(r.importance))
        .bind(&r.content_hash)
        .bind(r.injection_risk)
        .bind(r.updated_at)
        .bind(&entry.vector)
        .bind(&entry.model_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if n == 0 {
            return Err(WriteError::Conflict(
                "the entry was deleted or signed meanwhile".into(),
            ));
        }
        self.finish(tx, &[(Kind::Entry, id)], None).await?;
        Ok(entry.record)
    }

    async fn delete_entry(&self, id: Uuid) -> WriteResult<()> {
        match self.engine.get_entry(id) {
            None => return Err(not_found("entry", id)),
            Some(r) if r.content_signature.is_some() => {
                return Err(EngineError::from(EntryError::SignedNotDeletable).into())
            }
            Some(_) => {}
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        let n =
            sqlx::query("DELETE FROM diary_entries WHERE id = $1 AND content_signature IS NULL")
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        if n == 0 {
            return Err(not_found("entry", id));
        }
        self.finish(tx, &[(Kind::Entry, id)], None).await
    }

    async fn relate(
        &self,
        source: Uuid,
        target: Uuid,
        kind: RelationKind,
        status: RelationStatus,
    ) -> WriteResult<Relation> {
        let (s, t) = (
            self.engine
                .get_entry(source)
                .ok_or_else(|| not_found("entry", source))?,
            self.engine
                .get_entry(target)
                .ok_or_else(|| not_found("entry", target))?,
        );
        let (s, t) = (
            moltsearch_engine::entry::Entry::from_record(s).map_err(EngineError::from)?,
            moltsearch_engine::entry::Entry::from_record(t).map_err(EngineError::from)?,
        );
        let mut relation = Relation::new(&s, &t, kind, time::OffsetDateTime::now_utc())
            .map_err(EngineError::from)?;
        relation.status = status;
        let mut tx = self.pool.begin().await.map_err(db)?;
        let inserted = sqlx::query(
            "INSERT INTO entry_relations \
             (id, diary_id, source_id, target_id, relation, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (source_id, target_id, relation) DO NOTHING",
        )
        .bind(relation.id)
        .bind(relation.diary_id)
        .bind(source)
        .bind(target)
        .bind(kind.as_str())
        .bind(status.as_str())
        .bind(relation.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(db)?;
            // The route answers 200 with the relation held.
            return Err(EngineError::from(EntryError::DuplicateRelation {
                source_id: source,
                target_id: target,
                relation: kind,
            })
            .into());
        }
        self.finish(
            tx,
            &[(Kind::Relation, relation.id)],
            Some(vec![Change::PutRelation(relation.clone())]),
        )
        .await?;
        Ok(relation)
    }

    async fn set_relation_status(&self, id: Uuid, status: RelationStatus) -> WriteResult<Relation> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let n =
            sqlx::query("UPDATE entry_relations SET status = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(status.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?
                .rows_affected();
        if n == 0 {
            return Err(not_found("relation", id));
        }
        self.finish(tx, &[(Kind::Relation, id)], None).await?;
        self.engine
            .get_relation(id)
            .ok_or_else(|| not_found("relation", id))
    }

    async fn delete_relation(&self, id: Uuid) -> WriteResult<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let n = sqlx::query("DELETE FROM entry_relations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if n == 0 {
            return Err(not_found("relation", id));
        }
        self.finish(tx, &[(Kind::Relation, id)], None).await
    }

    async fn flush(&self) -> WriteResult<()> {
        flush_accesses(&self.pool, &self.engine).await
    }

    async fn probe(&self) -> Result<(), String> {
        match sqlx::query_scalar::<_, i32>("SELECT 1")
            .fetch_one(&self.pool)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("database: {e}")),
        }
    }
}

fn not_found(what: &'static str, id: Uuid) -> WriteError {
    EngineError::NotFound { what, id }.into()
}

/// Stores the access counts searches recorded here since the last call,
/// in one statement and one change record, so every replica converges.
/// Counts only grow: a replica's older count never lowers a newer one.
pub async fn flush_accesses(pool: &PgPool, engine: &Arc<Engine>) -> WriteResult<()> {
    let taken = engine.take_access_changes();
    if taken.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = taken.iter().map(|a| a.id).collect();
    let counts: Vec<i64> = taken
        .iter()
        .map(|a| i64::try_from(a.count).unwrap_or(i64::MAX))
        .collect();
    let ats: Vec<time::OffsetDateTime> = taken.iter().map(|a| a.at).collect();
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query(
        "UPDATE diary_entries e SET access_count = greatest(e.access_count, t.count), \
         last_accessed_at = greatest(e.last_accessed_at, t.at) \
         FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS t(id, count, at) \
         WHERE e.id = t.id",
    )
    .bind(&ids)
    .bind(&counts)
    .bind(&ats)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let named: Vec<(Kind, Uuid)> = ids.iter().map(|id| (Kind::Access, *id)).collect();
    log::append(&mut tx, &named).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(())
}
