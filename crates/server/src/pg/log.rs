//! Appending to the change log (`changes`) inside a write's transaction.
//!
//! Sequence values of concurrent transactions would become visible out of
//! order (the one that took 41 may commit after the one that took 42), and
//! a replica that had read 42 would then skip 41 for ever. So every append
//! first takes one transaction-level advisory lock, then the next sequence
//! value: appends commit one at a time, in sequence order, and a commit is
//! visible before its lock is released. The lock is taken last, after the
//! rows are written, so it is held only for a few statements and the
//! commit.

use sqlx::PgConnection;
use uuid::Uuid;

/// The `LISTEN`/`NOTIFY` channel a commit wakes replicas on (payload: the
/// sequence).
pub const CHANNEL: &str = "moltsearch_changes";

/// The advisory lock key serialising appends (`'molt'` as an integer).
const APPEND_LOCK: i64 = 0x6d6f_6c74;

/// What changed, as the `changes.kind` column spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A diary (absent at read: deleted with everything in it).
    Diary,
    /// An entry.
    Entry,
    /// A relation.
    Relation,
    /// An entry's access counts only.
    Access,
}

impl Kind {
    /// The column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Diary => "diary",
            Kind::Entry => "entry",
            Kind::Relation => "relation",
            Kind::Access => "access",
        }
    }

    /// Parses the column value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "diary" => Kind::Diary,
            "entry" => Kind::Entry,
            "relation" => Kind::Relation,
            "access" => Kind::Access,
            _ => return None,
        })
    }
}

/// Records that `objects` changed, at a new sequence number, and wakes the
/// replicas at commit. Call it last in the transaction; returns the
/// sequence, which the write's response waits for.
pub async fn append(tx: &mut PgConnection, objects: &[(Kind, Uuid)]) -> sqlx::Result<u64> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await?;
    let seq: i64 = sqlx::query_scalar("SELECT nextval('change_seq')")
        .fetch_one(&mut *tx)
        .await?;
    let kinds: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    let ids: Vec<Uuid> = objects.iter().map(|(_, id)| *id).collect();
    sqlx::query(
        "INSERT INTO changes (seq, kind, object_id) \
         SELECT $1, k, id FROM unnest($2::text[], $3::uuid[]) AS t(k, id) \
         ON CONFLICT DO NOTHING",
    )
    .bind(seq)
    .bind(&kinds)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(seq.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(u64::try_from(seq).unwrap_or(0))
}

/// Deletes change records older than `retention`, always keeping the
/// newest, and records how far the log is pruned: a replica holding an
/// older sequence can no longer catch up from the log and rebuilds from
/// the tables instead. Safe to run from every server at once (one of them
/// prunes; the others skip). Returns the records deleted.
pub async fn prune(pool: &sqlx::PgPool, retention: std::time::Duration) -> sqlx::Result<u64> {
    let mut tx = pool.begin().await?;
    let ours: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(PRUNE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !ours {
        return Ok(0);
    }
    let secs = retention.as_secs_f64();
    let gone: (i64, Option<i64>) = sqlx::query_as(
        "WITH gone AS (DELETE FROM changes \
             WHERE committed_at < now() - make_interval(secs => $1) \
               AND seq < (SELECT max(seq) FROM changes) \
             RETURNING seq) \
         SELECT count(*), max(seq) FROM gone",
    )
    .bind(secs)
    .fetch_one(&mut *tx)
    .await?;
    if let (n, Some(through)) = gone {
        sqlx::query("UPDATE moltsearch_meta SET pruned_through = greatest(pruned_through, $1)")
            .bind(through)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(u64::try_from(n).unwrap_or(0));
    }
    tx.commit().await?;
    Ok(0)
}

/// The advisory lock key of [`prune`] (`'prun'`).
const PRUNE_LOCK: i64 = 0x7072_756e;
