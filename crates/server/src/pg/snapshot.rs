//! Rebuilding a server's index cache from the tables, without embedding:
//! the vectors come from `diary_entries.embedding`.
//!
//! One `REPEATABLE READ` transaction reads the sequence it sees and every
//! row, in id order, a chunk at a time; the engine loads each chunk
//! ([`Engine::load_snapshot_part`]) while the next one is read, graph
//! builds held until the end (one build of everything), and the sequence
//! is stamped only once all of it is in. A rebuild cut short
//! leaves a cache at sequence 0, which the next start discards and
//! rebuilds.

use std::sync::Arc;

use indicatif::ProgressBar;
use moltsearch_engine::{Change, Engine};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::feed::FeedError;
use super::rows::{self, DIARY_COLUMNS, ENTRY_COLUMNS, RELATION_COLUMNS};

/// Entries read per chunk.
const CHUNK: i64 = 2_000;

/// What a rebuild loaded.
#[derive(Clone, Copy, Debug)]
pub struct Rebuilt {
    /// The sequence the snapshot holds.
    pub seq: u64,
    /// Diaries, entries and relations loaded.
    pub diaries: usize,
    /// Entries loaded.
    pub entries: usize,
    /// Relations loaded.
    pub relations: usize,
}

/// Loads every row into `engine` (an empty mirror) and stamps the
/// snapshot's sequence. `progress`, when given, counts entries.
pub async fn rebuild(
    pool: &PgPool,
    engine: &Arc<Engine>,
    progress: Option<&ProgressBar>,
) -> Result<Rebuilt, FeedError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let seq: i64 = sqlx::query_scalar(
        "SELECT greatest(coalesce((SELECT max(seq) FROM changes), 0), \
                (SELECT pruned_through FROM moltsearch_meta))",
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(p) = progress {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM diary_entries")
            .fetch_one(&mut *tx)
            .await?;
        p.set_length(u64::try_from(total).unwrap_or(0));
    }
    let diaries: Vec<Change> = sqlx::query(&format!("SELECT {DIARY_COLUMNS} FROM diaries"))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| rows::diary(r).map(Change::PutDiary))
        .collect::<Result<_, _>>()?;
    let mut done = Rebuilt {
        seq: u64::try_from(seq).unwrap_or(0),
        diaries: diaries.len(),
        entries: 0,
        relations: 0,
    };
    // Graph builds wait for the end (one build of everything, the cores
    // meanwhile for decoding and indexing), as a bulk import does.
    let bulk = engine.bulk_load();
    let mut pending = Some(load(engine, diaries));
    let mut after = Uuid::nil();
    loop {
        let chunk = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM diary_entries WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(CHUNK)
        .fetch_all(&mut *tx)
        .await?;
        // The previous chunk loads while this one was read.
        if let Some(p) = pending.take() {
            p.await??;
        }
        let Some(last) = chunk.last() else { break };
        after = last.try_get("id")?;
        let changes: Vec<Change> = chunk
            .iter()
            .map(|r| rows::entry_change(r).map(|e| Change::PutEntry(Box::new(e))))
            .collect::<Result<_, _>>()?;
        done.entries += changes.len();
        if let Some(p) = progress {
            p.inc(changes.len() as u64);
        }
        pending = Some(load(engine, changes));
    }
    let relations: Vec<Change> =
        sqlx::query(&format!("SELECT {RELATION_COLUMNS} FROM entry_relations"))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| rows::relation(r).map(Change::PutRelation))
            .collect::<Result<_, _>>()?;
    tx.commit().await?;
    done.relations = relations.len();
    load(engine, relations).await??;
    drop(bulk);
    let e = engine.clone();
    let stamp = done.seq;
    tokio::task::spawn_blocking(move || {
        e.optimize_indexes();
        e.apply_changes(stamp, Vec::new())
    })
    .await??;
    Ok(done)
}

fn load(
    engine: &Arc<Engine>,
    changes: Vec<Change>,
) -> tokio::task::JoinHandle<Result<(), moltsearch_engine::Error>> {
    let e = engine.clone();
    tokio::task::spawn_blocking(move || {
        if changes.is_empty() {
            Ok(())
        } else {
            e.load_snapshot_part(changes)
        }
    })
}
