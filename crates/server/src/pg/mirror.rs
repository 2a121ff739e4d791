//! Opening this process's engine as a mirror of the database: migrate,
//! check the model, open (or rebuild) the index cache, catch up on the
//! change log. `serve`, `import` and `reindex` all start this way.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use moltsearch_engine::embed::Embedder;
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::{Durability, Engine};
use sqlx::PgPool;

use super::feed::Feed;
use super::{claim_model, meta, migrate, open_cache, CacheOpen};

/// A caught-up mirror.
pub struct Mirror {
    /// The engine (index cache in the data folder).
    pub engine: Arc<Engine>,
    /// Its change feed (not yet tailing: spawn [`Feed::run`]).
    pub feed: Arc<Feed>,
    /// Whether the cache was reused or rebuilt.
    pub cache: CacheOpen,
    /// The sequence held after catching up.
    pub seq: u64,
    /// The sequence the cache held before catching up.
    pub seq_before: u64,
    /// How long opening (or rebuilding) the cache took.
    pub open_time: std::time::Duration,
    /// How long catching up on the change log took.
    pub catch_up_time: std::time::Duration,
}

/// Opens the mirror in `dir`. `embedder` gets the database's model (when
/// one is recorded) and returns the embedder to use; its model becomes
/// the database's when none is recorded, and must match otherwise.
pub async fn open(
    pool: &PgPool,
    dir: &Path,
    vectors: VectorIndexBuilder,
    embedder: impl FnOnce(Option<&str>) -> anyhow::Result<Embedder>,
) -> anyhow::Result<Mirror> {
    let migrated = migrate::run(pool)
        .await
        .context("migrating the database (is --database-url reachable?)")?;
    if !migrated.applied.is_empty() {
        tracing::info!(applied = ?migrated.applied, version = migrated.version, "database migrated");
    }
    let meta = meta(pool).await.context("reading moltsearch_meta")?;
    let embedder = embedder(meta.model_id.as_deref())?;
    claim_model(pool, embedder.model_id(), embedder.dims()).await?;
    let (dir_owned, source) = (dir.to_path_buf(), meta.source());
    let open = move || {
        // The cache needs no fsync per apply: Postgres holds the truth, a
        // process crash keeps what was handed to the OS, and after a power
        // cut the cache reopens at the sequence its log holds (or is
        // rebuilt) and the feed applies the rest again.
        Engine::builder()
            .embedder(embedder.clone())
            .vector_index(vectors.clone())
            .data_dir(&dir_owned)
            .durability(Durability::Buffered)
            .external_source(source.clone())
            .open()
    };
    let started = std::time::Instant::now();
    let (engine, cache) = open_cache(pool, &meta, dir, open).await?;
    let open_time = started.elapsed();
    let seq_before = engine.source_seq();
    let feed = Feed::new(pool.clone(), engine.clone());
    let started = std::time::Instant::now();
    let seq = feed
        .catch_up()
        .await
        .context("catching up on the database's change log")?;
    Ok(Mirror {
        engine,
        feed,
        cache,
        seq,
        seq_before,
        open_time,
        catch_up_time: started.elapsed(),
    })
}
