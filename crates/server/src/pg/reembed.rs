//! Re-embedding a database with another model, resumably, then switching
//! the model in one step.
//!
//! 1. Stage: every entry without a staged vector of the new model for its
//!    current CID is embedded (batches in id order) and its vector written
//!    to `entry_embeddings_next`. Killed, it resumes where it stopped;
//!    entries written or edited meanwhile are picked up by the next pass.
//! 2. Switch, in one transaction holding `diary_entries` exclusively
//!    (writers wait): the few entries still unstaged are embedded, the
//!    database's model id is set, every vector replaced from the staging
//!    table, which is emptied. A trigger refuses vectors of any other model
//!    from then on, so a server still running the old one cannot write.
//!    Every server must restart with the new model; its cache (of the old
//!    model) is rebuilt from the tables.

use indicatif::ProgressBar;
use moltsearch_engine::embed::{Embedder, PassageText};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

/// What a re-embed did.
#[derive(Clone, Copy, Debug, Default)]
pub struct Reembedded {
    /// Entries embedded by this run (staged plus at the switch).
    pub embedded: usize,
    /// Entries whose vectors were swapped.
    pub switched: u64,
}

/// Entries not yet staged for `model`, after `after`, at most `limit`.
const UNSTAGED: &str =
    "SELECT e.id, e.title, e.content, e.tags, e.content_hash FROM diary_entries e \
     LEFT JOIN entry_embeddings_next n ON n.entry_id = e.id \
       AND n.model_id = $1 AND n.content_hash = e.content_hash \
     WHERE n.entry_id IS NULL AND e.id > $2 ORDER BY e.id LIMIT $3";

/// Embeds one page of unstaged entries and stages them; the last id, or
/// `None` when nothing was left.
async fn stage_page(
    conn: &mut PgConnection,
    embedder: &Embedder,
    after: Uuid,
    batch: i64,
) -> anyhow::Result<Option<(Uuid, usize)>> {
    let rows = sqlx::query(UNSTAGED)
        .bind(embedder.model_id())
        .bind(after)
        .bind(batch)
        .fetch_all(&mut *conn)
        .await?;
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let last: Uuid = last.try_get("id")?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    let mut texts = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<Uuid, _>("id")?);
        hashes.push(r.try_get::<String, _>("content_hash")?);
        texts.push(PassageText {
            title: r.try_get("title")?,
            content: r.try_get("content")?,
            tags: r.try_get("tags")?,
        });
    }
    let e = embedder.clone();
    let vectors = tokio::task::spawn_blocking(move || e.embed_passages(&texts)).await??;
    let dims = vectors.dims();
    let flat = vectors.into_vec();
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "INSERT INTO entry_embeddings_next (entry_id, model_id, content_hash, embedding) ",
    );
    q.push_values(
        ids.iter().zip(&hashes).enumerate(),
        |mut b, (i, (id, hash))| {
            b.push_bind(*id)
                .push_bind(embedder.model_id().to_string())
                .push_bind(hash.clone())
                .push_bind(flat[i * dims..(i + 1) * dims].to_vec());
        },
    );
    q.push(
        " ON CONFLICT (entry_id) DO UPDATE SET model_id = excluded.model_id, \
         content_hash = excluded.content_hash, embedding = excluded.embedding",
    );
    q.build().execute(&mut *conn).await?;
    Ok(Some((last, ids.len())))
}

/// Re-embeds every entry with `embedder` and switches the database to its
/// model (see the module docs).
pub async fn reembed(
    pool: &PgPool,
    embedder: &Embedder,
    batch: usize,
    progress: &ProgressBar,
) -> anyhow::Result<Reembedded> {
    let batch = i64::try_from(batch.max(1)).unwrap_or(256);
    let mut done = Reembedded::default();
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM diary_entries")
        .fetch_one(pool)
        .await?;
    progress.set_length(u64::try_from(total).unwrap_or(0));
    let mut conn = pool.acquire().await?;
    // Passes until a pass finds nothing new (writes land meanwhile).
    loop {
        let mut after = Uuid::nil();
        let mut pass = 0;
        while let Some((last, n)) = stage_page(&mut conn, embedder, after, batch).await? {
            after = last;
            pass += n;
            progress.inc(n as u64);
        }
        done.embedded += pass;
        if pass == 0 {
            break;
        }
    }
    let mut tx = pool.begin().await?;
    sqlx::query("LOCK TABLE diary_entries IN EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let mut after = Uuid::nil();
    while let Some((last, n)) = stage_page(&mut tx, embedder, after, batch).await? {
        after = last;
        done.embedded += n;
    }
    sqlx::query("UPDATE moltsearch_meta SET model_id = $1, dims = $2")
        .bind(embedder.model_id())
        .bind(i32::try_from(embedder.dims()).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await?;
    done.switched = sqlx::query(
        "UPDATE diary_entries e SET embedding = n.embedding, model_id = n.model_id \
         FROM entry_embeddings_next n WHERE n.entry_id = e.id AND n.model_id = $1",
    )
    .bind(embedder.model_id())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM entry_embeddings_next")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done)
}
