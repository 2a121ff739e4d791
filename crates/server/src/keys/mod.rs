//! API keys and the teams they act for.
//!
//! A key belongs to one team and acts for it only; a read-only key cannot
//! write. [`KeyStore`] is the seam between the HTTP layer and where keys
//! live: a file in the data folder on embedded storage ([`FileKeys`]),
//! the `teams` and `api_keys` tables when Postgres is the source of truth
//! ([`PgKeys`]).

mod file;
mod postgres;
pub mod token;

pub use file::FileKeys;
pub use postgres::PgKeys;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A team: the tenant boundary. Diaries belong to one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    /// Stable id (diaries carry it).
    pub id: Uuid,
    /// Unique name, as given to `keys create --team`.
    pub name: String,
    /// When the first key of the team was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// What is stored of a key: never the token itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    /// Stable id (`keys revoke` takes it, or the prefix).
    pub id: Uuid,
    /// The token's public prefix (see [`token`]).
    pub prefix: String,
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The team it acts for.
    pub team_id: Uuid,
    /// Refused every write when set.
    pub read_only: bool,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last authenticated a request (saved every few seconds).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked; a revoked key authenticates nothing.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKey {
    /// The caller `token` authenticates as, if it is this key's token and
    /// the key is not revoked (constant-time comparison). Every key store
    /// checks a token this way once it has found the key by its prefix.
    pub fn caller_for(&self, token: &str) -> Option<Caller> {
        if self.revoked_at.is_some() || !token::matches(token, &self.hash) {
            return None;
        }
        Some(Caller {
            key_id: self.id,
            prefix: self.prefix.clone(),
            team_id: self.team_id,
            read_only: self.read_only,
        })
    }
}

/// Who a request acts for, once its key is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key's id (rate limits are per key).
    pub key_id: Uuid,
    /// The key's prefix (safe to log).
    pub prefix: String,
    /// The team.
    pub team_id: Uuid,
    /// Whether writes are refused.
    pub read_only: bool,
}

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The key file holds something that is not a key file.
    #[error("key file {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No key has this id or prefix.
    #[error("no key with id or prefix {0:?}")]
    NoSuchKey(String),
    /// A team name is empty or too long.
    #[error("invalid team name: {0}")]
    InvalidTeam(String),
    /// The keys table could not be read or written.
    #[error("keys in the database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Where keys live, as the server needs them.
pub trait KeyStore: Send + Sync {
    /// The caller a token authenticates, or `None` for an unknown,
    /// malformed or revoked token. Cheap: called on every request.
    fn authenticate(&self, token: &str) -> Result<Option<Caller>, KeyError>;
    /// Saves what authentication noted since the last call (`lastUsedAt`).
    /// Blocking: call it on the blocking pool.
    fn flush(&self) -> Result<(), KeyError>;
}
