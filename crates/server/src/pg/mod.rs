//! Postgres as the source of truth.
//!
//! With `--database-url` the tables (`migrations/`) hold every diary,
//! entry (with its vector), relation, team and key; each server's data
//! folder is an index cache of them, stamped with the database's identity
//! and the change-log sequence it holds. Writes go to Postgres first
//! ([`writes::PgWrites`]); every server applies the change log to its
//! engine ([`feed::Feed`]); a missing, damaged, foreign or pruned-past
//! cache is rebuilt from the tables ([`snapshot`]) without embedding.

pub mod feed;
pub mod listen;
pub mod log;
pub mod migrate;
pub mod mirror;
pub mod reembed;
pub mod rows;
pub mod snapshot;
pub mod writes;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use moltsearch_engine::Engine;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use uuid::Uuid;

/// How to reach the database.
#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// Postgres URL (postgres://user:pass@host:port/db). With it the
    /// database holds the truth and the data folder is an index cache.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most connections in the pool.
    #[arg(long, env = "MOLTSEARCH_DB_POOL", default_value_t = 10)]
    pub db_pool: u32,
    /// Longest wait for a pooled connection, seconds (then 503).
    #[arg(long, default_value_t = 5.0)]
    pub db_acquire_timeout: f64,
    /// Longest a statement may run, seconds (then 503).
    #[arg(long, default_value_t = 30.0)]
    pub db_statement_timeout: f64,
    /// Seconds change records are kept (default 7 days). A server whose
    /// cache is older than that rebuilds it from the tables at start.
    #[arg(long, default_value_t = 604_800.0)]
    pub change_retention: f64,
}

impl DbArgs {
    /// `--change-retention` as a duration.
    pub fn retention(&self) -> anyhow::Result<Duration> {
        Duration::try_from_secs_f64(self.change_retention)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--change-retention must be a positive number of seconds, got {}",
                    self.change_retention
                )
            })
    }
}

impl DbArgs {
    /// The pool, if a URL was given (connecting lazily: a server starts
    /// its checks with a clear error when the database is away).
    pub fn pool(&self) -> anyhow::Result<Option<PgPool>> {
        let Some(url) = &self.database_url else {
            return Ok(None);
        };
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(Duration::from_secs_f64(v))
            } else {
                Err(anyhow::anyhow!(
                    "--{name} must be a positive number of seconds, got {v}"
                ))
            }
        };
        let acquire = positive("db-acquire-timeout", self.db_acquire_timeout)?;
        let statement = positive("db-statement-timeout", self.db_statement_timeout)?;
        if self.db_pool == 0 {
            bail!("--db-pool must be at least 1");
        }
        check_url(url)?;
        let opts: PgConnectOptions = url
            .parse()
            .context("--database-url is not a Postgres URL (postgres://user:pass@host:port/db)")?;
        let opts = opts
            .application_name("moltsearch")
            .options([("statement_timeout", format!("{}ms", statement.as_millis()))]);
        Ok(Some(
            PgPoolOptions::new()
                .max_connections(self.db_pool)
                .acquire_timeout(acquire)
                .connect_lazy_with(opts),
        ))
    }
}

/// Refuses a URL that is not Postgres', naming its scheme (never the
/// password).
fn check_url(url: &str) -> anyhow::Result<()> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(());
    }
    bail!(
        "--database-url must be a Postgres URL (postgres://user:pass@host:port/db), got one \
         starting {:?}",
        url.split("://").next().unwrap_or_default()
    )
}

/// A pool of at most `max` connections for a command-line tool, connected
/// now: a tool fails at once, with the reason, when the database is away.
pub async fn connect(url: &str, max: u32) -> anyhow::Result<PgPool> {
    check_url(url)?;
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
        .context("connecting to --database-url")
}

/// The database's identity and model, from `moltsearch_meta`.
#[derive(Clone, Debug)]
pub struct Meta {
    /// Stable id, made by the first migration.
    pub database_id: Uuid,
    /// The model the stored vectors come from (set by the first server).
    pub model_id: Option<String>,
    /// How far the change log is pruned.
    pub pruned_through: u64,
}

impl Meta {
    /// The engine's external-source name for this database.
    pub fn source(&self) -> String {
        format!("postgres:{}", self.database_id)
    }
}

/// Reads the meta row.
pub async fn meta(pool: &PgPool) -> sqlx::Result<Meta> {
    let (database_id, model_id, pruned): (Uuid, Option<String>, i64) =
        sqlx::query_as("SELECT database_id, model_id, pruned_through FROM moltsearch_meta")
            .fetch_one(pool)
            .await?;
    Ok(Meta {
        database_id,
        model_id,
        pruned_through: u64::try_from(pruned).unwrap_or(0),
    })
}

/// Records `model` as the database's model when none is, and refuses a
/// server whose model differs from the one the vectors come from.
pub async fn claim_model(pool: &PgPool, model: &str, dims: usize) -> anyhow::Result<()> {
    sqlx::query("UPDATE moltsearch_meta SET model_id = $1, dims = $2 WHERE model_id IS NULL")
        .bind(model)
        .bind(i32::try_from(dims).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    let held = meta(pool).await?.model_id.unwrap_or_default();
    if held != model {
        bail!(
            "the database's vectors come from model `{held}`, this server runs `{model}`: \
             start with --model {held}, or switch the database with `moltsearch reindex --reembed --model {model}`"
        );
    }
    Ok(())
}

/// What opening the cache did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheOpen {
    /// The cache was current up to its sequence; the feed catches up.
    Reused,
    /// It was missing, damaged, foreign, cut short or pruned past: rebuilt.
    Rebuilt,
}

/// Opens the index cache in `dir` for the database `meta` describes,
/// rebuilding it from the tables when it cannot be reused. `open` opens
/// an engine on `dir` as a mirror of `meta.source()`. Refuses a folder
/// that is its own truth (embedded storage): that is data, not a cache.
pub async fn open_cache(
    pool: &PgPool,
    meta: &Meta,
    dir: &Path,
    open: impl Fn() -> moltsearch_engine::Result<Engine>,
) -> anyhow::Result<(Arc<Engine>, CacheOpen)> {
    let source = meta.source();
    let discard = |why: &str| -> anyhow::Result<()> {
        tracing::warn!(dir = %dir.display(), why, "discarding the index cache; rebuilding from the database");
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("removing the index cache {}", dir.display()))
    };
    match moltsearch_engine::store::stored_source(dir) {
        Ok(Some(None)) => bail!(
            "{} holds embedded-storage data (a server without --database-url keeps its truth \
             there), not an index cache: give --data-dir another folder, or load it into the \
             database with `moltsearch import --database-url`",
            dir.display()
        ),
        Ok(Some(Some(s))) if s != source => discard(&format!("it caches another database ({s})"))?,
        Ok(_) => {}
        Err(e) => bail!(
            "{}: {e}; it may not be an index cache, so it is left alone: remove it to rebuild",
            dir.display()
        ),
    }
    let engine = match open() {
        Ok(e) => e,
        // Another process uses the folder: it is not damaged, and removing
        // it would pull the cache from under that server.
        Err(e @ moltsearch_engine::Error::Store(moltsearch_engine::StoreError::Locked { .. })) => {
            return Err(anyhow::Error::new(e).context(format!(
                "the index cache {} is in use: give each server its own --data-dir",
                dir.display()
            )))
        }
        Err(e) => {
            discard(&format!("it does not open: {e}"))?;
            open().context("opening a new index cache")?
        }
    };
    let held = engine.source_seq();
    let cut_short = held == 0 && !engine.is_empty();
    let pruned_past = held > 0 && held < meta.pruned_through;
    let (engine, how) = if held > 0 && !pruned_past {
        (engine, CacheOpen::Reused)
    } else {
        let engine = if cut_short || pruned_past {
            drop(engine);
            discard(if cut_short {
                "a rebuild was cut short"
            } else {
                "it is behind the change log's retention"
            })?;
            open().context("opening a new index cache")?
        } else {
            engine
        };
        let engine = Arc::new(engine);
        let done = snapshot::rebuild(pool, &engine, None)
            .await
            .context("rebuilding the index cache from the database")?;
        metrics::counter!("moltsearch_cache_rebuilds_total").increment(1);
        tracing::info!(
            seq = done.seq,
            diaries = done.diaries,
            entries = done.entries,
            relations = done.relations,
            "index cache rebuilt from the database"
        );
        return Ok((engine, CacheOpen::Rebuilt));
    };
    Ok((Arc::new(engine), how))
}
