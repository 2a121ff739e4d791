//! `moltsearch keys`: API keys of a data folder, or of a database.
//!
//! Works whether or not a server runs: on embedded storage keys live in
//! `keys.json`, changed under a lock, and a running server reads a change
//! at its next request; with `--database-url` they live in `api_keys`, and
//! every server on the database is notified at once (a new key works at
//! once, a revoked one stops).

use std::path::PathBuf;
use std::process::ExitCode;

use time::format_description::well_known::Rfc3339;

use crate::keys::{FileKeys, PgKeys};

/// Manage API keys.
#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// Where the keys are.
#[derive(clap::Args, Debug)]
pub struct KeysDir {
    /// Data folder (as given to `serve`).
    #[arg(long, env = "MOLTSEARCH_DATA_DIR", default_value = "./moltsearch-data")]
    pub data_dir: PathBuf,
    /// The database of servers run with --database-url: keys live there
    /// (the data folder is then not used).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `keys` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Make a key for a team (made too when new); prints the key once.
    Create {
        /// Team name.
        #[arg(long)]
        team: String,
        /// The id of a new team (default: a fresh one). Folders loaded by
        /// `moltsearch import` hold their diaries in the nil-UUID team:
        /// `--team local --team-id 00000000-0000-0000-0000-000000000000`
        /// serves them.
        #[arg(long)]
        team_id: Option<uuid::Uuid>,
        /// The key can read and search but not write.
        #[arg(long)]
        read_only: bool,
        #[command(flatten)]
        dir: KeysDir,
    },
    /// List teams and keys (never the keys themselves).
    List {
        #[command(flatten)]
        dir: KeysDir,
    },
    /// Revoke a key by id or prefix; it authenticates nothing from the
    /// next request on.
    Revoke {
        /// Key id or prefix.
        id: String,
        #[command(flatten)]
        dir: KeysDir,
    },
}

fn when(t: Option<time::OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}

/// A runtime and a migrated database when `--database-url` is given.
fn database(dir: &KeysDir) -> anyhow::Result<Option<(tokio::runtime::Runtime, sqlx::PgPool)>> {
    let Some(url) = &dir.database_url else {
        return Ok(None);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pool = rt.block_on(async {
        let pool = crate::pg::connect(url, 1).await?;
        crate::pg::migrate::run(&pool).await?;
        anyhow::Ok(pool)
    })?;
    Ok(Some((rt, pool)))
}

/// Runs the subcommand.
pub fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        KeysCommand::Create {
            team,
            team_id,
            read_only,
            dir,
        } => {
            let (key, team, token) = match database(&dir)? {
                Some((rt, pool)) => {
                    rt.block_on(PgKeys::create(&pool, &team, team_id, read_only))?
                }
                None => FileKeys::open(&dir.data_dir)?.create(&team, team_id, read_only)?,
            };
            if dir.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "key": token,
                        "id": key.id,
                        "prefix": key.prefix,
                        "teamId": team.id,
                        "team": team.name,
                        "readOnly": key.read_only,
                    })
                );
            } else {
                println!("{token}");
                eprintln!(
                    "key {} (prefix {}) for team {:?} ({}){}; it is shown only now",
                    key.id,
                    key.prefix,
                    team.name,
                    team.id,
                    if key.read_only { ", read-only" } else { "" }
                );
            }
        }
        KeysCommand::List { dir } => {
            let file = match database(&dir)? {
                Some((rt, pool)) => rt.block_on(PgKeys::list(&pool))?,
                None => FileKeys::open(&dir.data_dir)?.list()?,
            };
            if dir.json {
                let keys: Vec<_> = file
                    .keys
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "id": k.id, "prefix": k.prefix, "teamId": k.team_id,
                            "readOnly": k.read_only, "createdAt": when(Some(k.created_at)),
                            "lastUsedAt": k.last_used_at.map(|t| when(Some(t))),
                            "revokedAt": k.revoked_at.map(|t| when(Some(t))),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({ "teams": file.teams, "keys": keys })
                );
            } else {
                for k in &file.keys {
                    let team = file
                        .teams
                        .iter()
                        .find(|t| t.id == k.team_id)
                        .map_or("?", |t| t.name.as_str());
                    println!(
                        "{}  {}  team={team}  {}  created={}  lastUsed={}  revoked={}",
                        k.id,
                        k.prefix,
                        if k.read_only {
                            "read-only"
                        } else {
                            "read-write"
                        },
                        when(Some(k.created_at)),
                        when(k.last_used_at),
                        when(k.revoked_at),
                    );
                }
            }
        }
        KeysCommand::Revoke { id, dir } => {
            let key = match database(&dir)? {
                Some((rt, pool)) => rt.block_on(PgKeys::revoke(&pool, &id))?,
                None => FileKeys::open(&dir.data_dir)?.revoke(&id)?,
            };
            if dir.json {
                println!(
                    "{}",
                    serde_json::json!({ "id": key.id, "prefix": key.prefix, "revokedAt": when(key.revoked_at) })
                );
            } else {
                println!(
                    "revoked {} ({}) at {}",
                    key.id,
                    key.prefix,
                    when(key.revoked_at)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
