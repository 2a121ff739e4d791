//! Keys in Postgres (`teams`, `api_keys`), shared by every server on the
//! database.
//!
//! Authentication runs on every request, so it reads an in-memory copy of
//! the table; the copy is reloaded when `keys create` or `keys revoke`
//! notifies (channel [`KEYS_CHANNEL`]) and every few seconds regardless,
//! so a new key works at once and a revoked one stops within that poll
//! even if a notification is lost. `lastUsedAt` is saved in batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use sqlx::{PgPool, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::file::{KeyFile, MAX_TEAM_NAME};
use super::{token, ApiKey, Caller, KeyError, KeyStore, Team};
use crate::pg::listen::Listen;

/// The channel key changes are announced on.
pub const KEYS_CHANNEL: &str = "moltsearch_keys";

/// Keys held in the database.
pub struct PgKeys {
    pool: PgPool,
    by_prefix: ArcSwap<HashMap<String, ApiKey>>,
    used: Mutex<HashMap<Uuid, OffsetDateTime>>,
    runtime: tokio::runtime::Handle,
}

fn key(row: &sqlx::postgres::PgRow) -> Result<ApiKey, sqlx::Error> {
    Ok(ApiKey {
        id: row.try_get("id")?,
        prefix: row.try_get("prefix")?,
        hash: row.try_get("hash")?,
        team_id: row.try_get("team_id")?,
        read_only: row.try_get("read_only")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

fn team_row(row: &sqlx::postgres::PgRow) -> Result<Team, sqlx::Error> {
    Ok(Team {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}

const KEY_COLUMNS: &str =
    "id, prefix, hash, team_id, read_only, created_at, last_used_at, revoked_at";

impl PgKeys {
    /// Loads the keys (call inside the runtime that will serve).
    pub async fn load(pool: PgPool) -> Result<Arc<Self>, KeyError> {
        let keys = Arc::new(Self {
            pool,
            by_prefix: ArcSwap::from_pointee(HashMap::new()),
            used: Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
        });
        keys.reload().await?;
        Ok(keys)
    }

    /// Reads the table again.
    pub async fn reload(&self) -> Result<(), KeyError> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys"))
            .fetch_all(&self.pool)
            .await?;
        let mut map = HashMap::with_capacity(rows.len());
        for row in &rows {
            let k = key(row)?;
            map.insert(k.prefix.clone(), k);
        }
        self.by_prefix.store(Arc::new(map));
        Ok(())
    }

    /// Keeps the copy current until `stop` resolves: on notifications and
    /// every `poll`.
    pub async fn watch(
        self: Arc<Self>,
        poll: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let mut listen = Listen::new(self.pool.clone(), KEYS_CHANNEL);
        loop {
            listen.ensure().await;
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "keys: reload failed; keeping the last copy");
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(poll) => {}
                () = listen.notified() => {}
            }
        }
    }

    /// Makes a key for team `team` (made too when new); see
    /// [`FileKeys::create`](super::FileKeys::create).
    pub async fn create(
        pool: &PgPool,
        team: &str,
        team_id: Option<Uuid>,
        read_only: bool,
    ) -> Result<(ApiKey, Team, String), KeyError> {
        let team = team.trim();
        if team.is_empty() || team.chars().count() > MAX_TEAM_NAME {
            return Err(KeyError::InvalidTeam(format!(
                "a team name has 1 to {MAX_TEAM_NAME} characters"
            )));
        }
        let mut tx = pool.begin().await?;
        sqlx::query("LOCK TABLE teams IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let held = sqlx::query("SELECT id, name, created_at FROM teams WHERE name = $1 OR id = $2")
            .bind(team)
            .bind(team_id)
            .fetch_all(&mut *tx)
            .await?;
        let held: Vec<Team> = held
            .iter()
            .map(team_row)
            .collect::<Result<_, sqlx::Error>>()?;
        let team = match held.iter().find(|t| t.name == team) {
            Some(t) if team_id.is_some_and(|id| id != t.id) => {
                return Err(KeyError::InvalidTeam(format!(
                    "team {team:?} exists with id {}; leave out --team-id or name another team",
                    t.id
                )))
            }
            Some(t) => t.clone(),
            None if !held.is_empty() => {
                return Err(KeyError::InvalidTeam(format!(
                    "another team has id {}",
                    team_id.unwrap_or_default()
                )))
            }
            None => {
                let t = Team {
                    id: team_id.unwrap_or_else(Uuid::now_v7),
                    name: team.to_string(),
                    created_at: OffsetDateTime::now_utc(),
                };
                sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(t.id)
                    .bind(&t.name)
                    .bind(t.created_at)
                    .execute(&mut *tx)
                    .await?;
                t
            }
        };
        let minted = token::mint();
        let key = ApiKey {
            id: Uuid::now_v7(),
            prefix: minted.prefix.clone(),
            hash: minted.hash.clone(),
            team_id: team.id,
            read_only,
            created_at: OffsetDateTime::now_utc(),
            last_used_at: None,
            revoked_at: None,
        };
        sqlx::query(
            "INSERT INTO api_keys (id, prefix, hash, team_id, read_only, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(key.id)
        .bind(&key.prefix)
        .bind(&key.hash)
        .bind(key.team_id)
        .bind(key.read_only)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, 'create')")
            .bind(KEYS_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((key, team, minted.token))
    }

    /// Revokes a key by id or prefix (again: no change).
    pub async fn revoke(pool: &PgPool, id_or_prefix: &str) -> Result<ApiKey, KeyError> {
        let wanted = id_or_prefix.trim();
        let id = Uuid::parse_str(wanted).ok();
        let mut tx = pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) \
             WHERE id = $1 OR prefix = $2 RETURNING {KEY_COLUMNS}"
        ))
        .bind(id)
        .bind(wanted)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| KeyError::NoSuchKey(wanted.to_string()))?;
        sqlx::query("SELECT pg_notify($1, 'revoke')")
            .bind(KEYS_CHANNEL)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(key(&row)?)
    }

    /// Every team and key.
    pub async fn list(pool: &PgPool) -> Result<KeyFile, KeyError> {
        let teams = sqlx::query("SELECT id, name, created_at FROM teams ORDER BY created_at")
            .fetch_all(pool)
            .await?
            .iter()
            .map(team_row)
            .collect::<Result<_, sqlx::Error>>()?;
        let keys = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at"
        ))
        .fetch_all(pool)
        .await?
        .iter()
        .map(key)
        .collect::<Result<_, _>>()?;
        Ok(KeyFile {
            version: 1,
            teams,
            keys,
        })
    }

    async fn save_used(&self) -> Result<(), KeyError> {
        let used: Vec<(Uuid, OffsetDateTime)> = self.used.lock().drain().collect();
        if used.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = used.iter().map(|(id, _)| *id).collect();
        let ats: Vec<OffsetDateTime> = used.iter().map(|(_, at)| *at).collect();
        sqlx::query(
            "UPDATE api_keys k SET last_used_at = greatest(k.last_used_at, t.at) \
             FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at) WHERE k.id = t.id",
        )
        .bind(&ids)
        .bind(&ats)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

impl KeyStore for PgKeys {
    fn authenticate(&self, token: &str) -> Result<Option<Caller>, KeyError> {
        let Some(prefix) = token::prefix_of(token) else {
            return Ok(None);
        };
        let keys = self.by_prefix.load();
        let Some(key) = keys.get(prefix) else {
            return Ok(None);
        };
        let caller = key.caller_for(token);
        if caller.is_some() {
            self.used.lock().insert(key.id, OffsetDateTime::now_utc());
        }
        Ok(caller)
    }

    fn flush(&self) -> Result<(), KeyError> {
        self.runtime.block_on(self.save_used())
    }
}
