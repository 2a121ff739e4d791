//! The change feed: each server tails the change log and applies it, in
//! sequence order, to its engine (the local index).
//!
//! A read is one `REPEATABLE READ` transaction: the next sequences after
//! the one the engine holds (whole sequences, never part of one), and the
//! current rows of the objects they name, from the same snapshot. Each
//! object becomes one complete value ([`Change`]): a put of its row, or a
//! delete when the row is gone. Values, not deltas, so applying twice is
//! harmless and a change whose apply failed after its commit is simply
//! applied again on the next read. Changes go in the order their objects
//! were first named (a diary before its entries, entries before their
//! relations), accesses last.
//!
//! `LISTEN` wakes the feed at every commit; polling every `poll` is the
//! fallback when a notification is lost (a dropped connection). A writer
//! of this server nudges the feed directly and waits for its sequence
//! ([`Feed::wait_for`]): read-your-writes without a round trip through
//! `NOTIFY`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moltsearch_engine::{Access, Change, Engine};
use parking_lot::Mutex;
use sqlx::{PgPool, Row};
use tokio::sync::{watch, Notify};
use uuid::Uuid;

use super::listen::Listen;
use super::log::{Kind, CHANNEL};
use super::rows::{self, RowError, DIARY_COLUMNS, ENTRY_COLUMNS, RELATION_COLUMNS};
use crate::http::state::Freshness;

/// Sequences read per apply call: bounds a call's memory when a replica
/// catches up on many batch writes.
const SEQS_PER_READ: i64 = 64;

/// Why the feed could not read or apply.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Postgres failed or is unreachable.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A row does not decode.
    #[error(transparent)]
    Row(#[from] RowError),
    /// The engine refused or failed the apply.
    #[error("applying changes: {0}")]
    Apply(#[from] moltsearch_engine::Error),
    /// The blocking task died.
    #[error("apply task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The changes after the sequence held were pruned from the log: the
    /// cache must be rebuilt from the tables (a restart does it).
    #[error(
        "this index holds sequence {held} but the change log is pruned through {pruned}: \
         restart the server to rebuild its cache from the tables"
    )]
    Pruned {
        /// The sequence held.
        held: u64,
        /// How far the log is pruned.
        pruned: u64,
    },
    /// A write's sequence was not applied within the wait.
    #[error("sequence {seq} was committed but not applied within {waited:?}")]
    Timeout {
        /// The sequence waited for.
        seq: u64,
        /// How long.
        waited: Duration,
    },
}

/// One server's tail of the change log.
pub struct Feed {
    pool: PgPool,
    engine: Arc<Engine>,
    applied: watch::Sender<u64>,
    wake: Notify,
    confirmed: Mutex<Option<Instant>>,
    /// Why the feed cannot follow the log (it needs a rebuild or the data
    /// is refused), until a catch-up succeeds; not set for an unreachable
    /// database (readiness names that itself).
    stuck: Mutex<Option<String>>,
    /// Serialises reads-and-applies (the loop and writers' nudges).
    busy: tokio::sync::Mutex<()>,
}

impl Feed {
    /// A feed applying to `engine` from `pool`.
    pub fn new(pool: PgPool, engine: Arc<Engine>) -> Arc<Self> {
        let (applied, _) = watch::channel(engine.source_seq());
        Arc::new(Self {
            pool,
            engine,
            applied,
            wake: Notify::new(),
            confirmed: Mutex::new(None),
            stuck: Mutex::new(None),
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// Reads and applies until nothing is left; returns the sequence held.
    pub async fn catch_up(&self) -> Result<u64, FeedError> {
        let result = self.catch_up_once().await;
        *self.stuck.lock() = match &result {
            Ok(_) | Err(FeedError::Database(_)) | Err(FeedError::Timeout { .. }) => None,
            Err(e) => Some(e.to_string()),
        };
        result
    }

    async fn catch_up_once(&self) -> Result<u64, FeedError> {
        let _busy = self.busy.lock().await;
        loop {
            let after = self.engine.source_seq();
            let Some((seq, changes)) = read_after(&self.pool, after).await? else {
                *self.confirmed.lock() = Some(Instant::now());
                return Ok(after);
            };
            let engine = self.engine.clone();
            let n = changes.len();
            tokio::task::spawn_blocking(move || engine.apply_changes(seq, changes)).await??;
            metrics::counter!("moltsearch_feed_changes_applied_total").increment(n as u64);
            metrics::gauge!("moltsearch_feed_applied_seq").set(seq as f64);
            self.applied.send_replace(seq);
        }
    }

    /// Applies a write of this server, committed at `seq`, from the values
    /// it wrote when `seq` is the very next sequence (no read back from
    /// Postgres: the values are what the rows hold at `seq`); otherwise,
    /// or when that apply fails, waits for the feed to read it
    /// ([`Feed::wait_for`]).
    pub async fn apply_own(
        &self,
        seq: u64,
        changes: Vec<Change>,
        within: Duration,
    ) -> Result<(), FeedError> {
        {
            let _busy = self.busy.lock().await;
            if self.engine.source_seq() + 1 == seq {
                let engine = self.engine.clone();
                let n = changes.len();
                let applied =
                    tokio::task::spawn_blocking(move || engine.apply_changes(seq, changes)).await;
                if let Ok(Ok(_)) = applied {
                    metrics::counter!("moltsearch_feed_changes_applied_total").increment(n as u64);
                    metrics::gauge!("moltsearch_feed_applied_seq").set(seq as f64);
                    self.applied.send_replace(seq);
                    return Ok(());
                }
            }
        }
        self.wait_for(seq, within).await
    }

    /// Waits until sequence `seq` (a write of this server, committed) is
    /// applied, nudging the feed to read it now.
    pub async fn wait_for(&self, seq: u64, within: Duration) -> Result<(), FeedError> {
        let mut rx = self.applied.subscribe();
        if *rx.borrow() >= seq {
            return Ok(());
        }
        self.wake.notify_one();
        let reached = tokio::time::timeout(within, rx.wait_for(|held| *held >= seq))
            .await
            .is_ok_and(|r| r.is_ok());
        if reached {
            Ok(())
        } else {
            Err(FeedError::Timeout {
                seq,
                waited: within,
            })
        }
    }

    /// Tails the log until `stop` resolves: wakes on `NOTIFY`, on a nudge,
    /// or every `poll`; on errors (Postgres away) retries with backoff and
    /// reconnects the listener.
    pub async fn run(self: Arc<Self>, poll: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let mut listen = Listen::new(self.pool.clone(), CHANNEL);
        let mut backoff = Duration::from_millis(100);
        loop {
            listen.ensure().await;
            let wait = match self.catch_up().await {
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    poll
                }
                Err(e) => {
                    tracing::warn!(error = %e, "feed: catch-up failed; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                () = &mut stop => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = listen.notified() => {}
            }
        }
    }
}

impl Freshness for Feed {
    fn applied(&self) -> (u64, Option<Duration>) {
        (
            *self.applied.borrow(),
            self.confirmed.lock().map(|at| at.elapsed()),
        )
    }

    fn stuck(&self) -> Option<String> {
        self.stuck.lock().clone()
    }
}

/// Reads the sequences after `after` (up to [`SEQS_PER_READ`]) and
/// resolves them to changes; `None` when there are none.
pub async fn read_after(
    pool: &PgPool,
    after: u64,
) -> Result<Option<(u64, Vec<Change>)>, FeedError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let pruned: i64 = sqlx::query_scalar("SELECT pruned_through FROM moltsearch_meta")
        .fetch_one(&mut *tx)
        .await?;
    let pruned = u64::try_from(pruned).unwrap_or(0);
    if pruned > after {
        return Err(FeedError::Pruned {
            held: after,
            pruned,
        });
    }
    let rows = sqlx::query(
        "WITH s AS (SELECT DISTINCT seq FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2) \
         SELECT c.seq, c.kind, c.object_id FROM changes c JOIN s USING (seq) \
         ORDER BY c.seq, c.kind, c.object_id",
    )
    .bind(i64::try_from(after).unwrap_or(i64::MAX))
    .bind(SEQS_PER_READ)
    .fetch_all(&mut *tx)
    .await?;
    let Some(last) = rows.last() else {
        tx.commit().await?;
        return Ok(None);
    };
    let last_seq: i64 = last.try_get("seq")?;
    let mut named: Vec<(Kind, Uuid)> = Vec::with_capacity(rows.len());
    let mut seen = std::collections::HashSet::new();
    for row in &rows {
        let kind: String = row.try_get("kind")?;
        let id: Uuid = row.try_get("object_id")?;
        let Some(kind) = Kind::parse(&kind) else {
            continue;
        };
        if seen.insert((kind, id)) {
            named.push((kind, id));
        }
    }
    let ids = |k: Kind| -> Vec<Uuid> {
        named
            .iter()
            .filter(|(kind, _)| *kind == k)
            .map(|(_, id)| *id)
            .collect()
    };
    let mut diaries = HashMap::new();
    for row in sqlx::query(&format!(
        "SELECT {DIARY_COLUMNS} FROM diaries WHERE id = ANY($1)"
    ))
    .bind(ids(Kind::Diary))
    .fetch_all(&mut *tx)
    .await?
    {
        let d = rows::diary(&row)?;
        diaries.insert(d.id, d);
    }
    let mut entries = HashMap::new();
    for row in sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM diary_entries WHERE id = ANY($1)"
    ))
    .bind(ids(Kind::Entry))
    .fetch_all(&mut *tx)
    .await?
    {
        let e = rows::entry_change(&row)?;
        entries.insert(e.record.id, e);
    }
    let mut relations = HashMap::new();
    for row in sqlx::query(&format!(
        "SELECT {RELATION_COLUMNS} FROM entry_relations WHERE id = ANY($1)"
    ))
    .bind(ids(Kind::Relation))
    .fetch_all(&mut *tx)
    .await?
    {
        let r = rows::relation(&row)?;
        relations.insert(r.id, r);
    }
    let mut accesses = Vec::new();
    for row in sqlx::query(
        "SELECT id, access_count, last_accessed_at FROM diary_entries \
         WHERE id = ANY($1) AND last_accessed_at IS NOT NULL",
    )
    .bind(ids(Kind::Access))
    .fetch_all(&mut *tx)
    .await?
    {
        let count: i64 = row.try_get("access_count")?;
        let at: Option<time::OffsetDateTime> = row.try_get("last_accessed_at")?;
        if let Some(at) = at {
            accesses.push(Access {
                id: row.try_get("id")?,
                count: u64::try_from(count).unwrap_or(0),
                at,
            });
        }
    }
    tx.commit().await?;
    let mut changes = Vec::with_capacity(named.len() + 1);
    for (kind, id) in named {
        changes.push(match kind {
            Kind::Diary => match diaries.remove(&id) {
                Some(d) => Change::PutDiary(d),
                None => Change::DeleteDiary { id },
            },
            Kind::Entry => match entries.remove(&id) {
                Some(e) => Change::PutEntry(Box::new(e)),
                None => Change::DeleteEntry { id },
            },
            Kind::Relation => match relations.remove(&id) {
                Some(r) => Change::PutRelation(r),
                None => Change::DeleteRelation { id },
            },
            Kind::Access => continue,
        });
    }
    if !accesses.is_empty() {
        changes.push(Change::Accesses(accesses));
    }
    Ok(Some((u64::try_from(last_seq).unwrap_or(0), changes)))
}
