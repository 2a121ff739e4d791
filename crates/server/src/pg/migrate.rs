//! Schema migrations: the SQL files of `migrations/`, embedded in the
//! binary, applied under sqlx's advisory lock (two servers starting
//! together apply them once), refusing a database migrated by a newer
//! binary.

use anyhow::bail;
use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// The migrations this binary knows.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// What [`run`] did.
#[derive(Clone, Debug)]
pub struct Migrated {
    /// Versions applied now.
    pub applied: Vec<i64>,
    /// The newest version the database has.
    pub version: i64,
}

/// Applies the migrations the database lacks.
pub async fn run(pool: &PgPool) -> anyhow::Result<Migrated> {
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    let newest_known = known.iter().copied().max().unwrap_or(0);
    let before = applied_versions(pool).await?;
    if let Some(v) = before.iter().find(|v| !known.contains(v)) {
        bail!(
            "the database has schema version {v}, which this binary does not know (it knows up \
             to {newest_known}): it was migrated by a newer moltsearch; upgrade this binary"
        );
    }
    MIGRATOR.run(pool).await?;
    let after = applied_versions(pool).await?;
    Ok(Migrated {
        applied: after
            .iter()
            .filter(|v| !before.contains(v))
            .copied()
            .collect(),
        version: after.iter().copied().max().unwrap_or(0),
    })
}

async fn applied_versions(pool: &PgPool) -> anyhow::Result<Vec<i64>> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    if !exists {
        return Ok(Vec::new());
    }
    Ok(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await?,
    )
}
