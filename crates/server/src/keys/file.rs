//! Keys in a file of the data folder (`keys.json`), for embedded storage.
//!
//! Every change is a read-modify-write under an exclusive lock on
//! `keys.lock`, written to a temporary file, synced and renamed over the
//! old one, so `keys create` in one process and a running server in another
//! never lose each other's changes, and a crash leaves the old file or the
//! new one, never half of one. A server notices the file changed by its
//! identity (inode, size, modification time), checked on every
//! authentication: a key made or revoked while it runs counts at the next
//! request.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::token;
use super::{ApiKey, Caller, KeyError, KeyStore, Team};

const FILE: &str = "keys.json";
const LOCK: &str = "keys.lock";
pub(super) const MAX_TEAM_NAME: usize = 128;

/// The file's contents.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFile {
    /// Format version (1).
    pub version: u32,
    /// Teams by creation.
    pub teams: Vec<Team>,
    /// Keys by creation, revoked ones included.
    pub keys: Vec<ApiKey>,
}

/// What identifies one version of the file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

struct Loaded {
    stamp: Option<Stamp>,
    by_prefix: HashMap<String, ApiKey>,
}

/// Keys kept in `<data-dir>/keys.json`.
pub struct FileKeys {
    path: PathBuf,
    lock: PathBuf,
    loaded: RwLock<Loaded>,
    /// Last use per key since the last flush.
    used: Mutex<HashMap<Uuid, OffsetDateTime>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl FileKeys {
    /// Keys of the data folder `dir` (created if missing).
    pub fn open(dir: &Path) -> Result<Self, KeyError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let keys = Self {
            path: dir.join(FILE),
            lock: dir.join(LOCK),
            loaded: RwLock::new(Loaded {
                stamp: None,
                by_prefix: HashMap::new(),
            }),
            used: Mutex::new(HashMap::new()),
        };
        keys.refresh()?;
        Ok(keys)
    }

    /// Every team and key (revoked keys included).
    pub fn list(&self) -> Result<KeyFile, KeyError> {
        self.read()
    }

    /// Makes a key for team `team` (made too when new, under `team_id` when
    /// given: to serve diaries made elsewhere, such as `moltsearch import`'s
    /// nil-UUID team); returns the stored key and the token, which is not
    /// kept anywhere.
    pub fn create(
        &self,
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
        let now = OffsetDateTime::now_utc();
        let minted = token::mint();
        self.change(|file| {
            let team = match file.teams.iter().find(|t| t.name == team) {
                Some(t) if team_id.is_some_and(|id| id != t.id) => {
                    return Err(KeyError::InvalidTeam(format!(
                        "team {team:?} exists with id {}; leave out --team-id or name another team",
                        t.id
                    )))
                }
                Some(t) => t.clone(),
                None if team_id.is_some_and(|id| file.teams.iter().any(|t| t.id == id)) => {
                    return Err(KeyError::InvalidTeam(format!(
                        "another team has id {}",
                        team_id.unwrap_or_default()
                    )))
                }
                None => {
                    let t = Team {
                        id: team_id.unwrap_or_else(Uuid::now_v7),
                        name: team.to_string(),
                        created_at: now,
                    };
                    file.teams.push(t.clone());
                    t
                }
            };
            let key = ApiKey {
                id: Uuid::now_v7(),
                prefix: minted.prefix.clone(),
                hash: minted.hash.clone(),
                team_id: team.id,
                read_only,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            };
            file.keys.push(key.clone());
            Ok((key, team, minted.token.clone()))
        })
    }

    /// Revokes the key with this id or prefix (again: no change).
    pub fn revoke(&self, id_or_prefix: &str) -> Result<ApiKey, KeyError> {
        let wanted = id_or_prefix.trim();
        let now = OffsetDateTime::now_utc();
        self.change(|file| {
            let key = file
                .keys
                .iter_mut()
                .find(|k| k.id.to_string() == wanted || k.prefix == wanted)
                .ok_or_else(|| KeyError::NoSuchKey(wanted.to_string()))?;
            key.revoked_at.get_or_insert(now);
            Ok(key.clone())
        })
    }

    fn read(&self) -> Result<KeyFile, KeyError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyError::Damaged {
                path: self.path.clone(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(KeyFile {
                version: 1,
                ..KeyFile::default()
            }),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    /// Read-modify-write under the lock; the file is replaced atomically.
    fn change<T>(
        &self,
        f: impl FnOnce(&mut KeyFile) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock)
            .map_err(io(&self.lock))?;
        fs4::fs_std::FileExt::lock_exclusive(&lock).map_err(io(&self.lock))?;
        let mut file = self.read()?;
        let out = f(&mut file)?;
        file.version = 1;
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| KeyError::Damaged {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        {
            let mut t = File::create(&tmp).map_err(io(&tmp))?;
            t.write_all(&bytes).map_err(io(&tmp))?;
            t.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        drop(lock);
        self.refresh()?;
        Ok(out)
    }

    fn stamp(&self) -> Result<Option<Stamp>, KeyError> {
        match fs::metadata(&self.path) {
            Ok(m) => Ok(Some(Stamp {
                ino: m.ino(),
                len: m.len(),
                mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&self.path)(e)),
        }
    }

    /// Reloads the file if it changed since it was last read.
    fn refresh(&self) -> Result<(), KeyError> {
        let stamp = self.stamp()?;
        if stamp.is_some() && self.loaded.read().stamp == stamp {
            return Ok(());
        }
        let file = self.read()?;
        let mut loaded = self.loaded.write();
        loaded.stamp = stamp;
        loaded.by_prefix = file
            .keys
            .into_iter()
            .map(|k| (k.prefix.clone(), k))
            .collect();
        Ok(())
    }
}

impl KeyStore for FileKeys {
    fn authenticate(&self, token: &str) -> Result<Option<Caller>, KeyError> {
        let Some(prefix) = token::prefix_of(token) else {
            return Ok(None);
        };
        self.refresh()?;
        let loaded = self.loaded.read();
        let Some(key) = loaded.by_prefix.get(prefix) else {
            return Ok(None);
        };
        let caller = key.caller_for(token);
        if caller.is_some() {
            self.used.lock().insert(key.id, OffsetDateTime::now_utc());
        }
        Ok(caller)
    }

    fn flush(&self) -> Result<(), KeyError> {
        let used = std::mem::take(&mut *self.used.lock());
        if used.is_empty() {
            return Ok(());
        }
        self.change(|file| {
            for key in &mut file.keys {
                if let Some(&at) = used.get(&key.id) {
                    key.last_used_at = Some(key.last_used_at.map_or(at, |t| t.max(at)));
                }
            }
            Ok(())
        })
    }
}
