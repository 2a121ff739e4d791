//! `moltsearch serve`: the REST server, on embedded storage or with
//! Postgres as the source of truth (`--database-url`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::Engine;

use super::engine_args::QuantizeArg;
use super::model_args::ModelArgs;
use crate::http::rate::{Limit, RateLimits};
use crate::http::router::Cors;
use crate::http::serve::{serve, ServeOptions};
use crate::http::state::{AppState, Freshness, Settings};
use crate::http::writes::{EmbeddedWrites, Writes};
use crate::keys::{FileKeys, KeyStore, PgKeys};
use crate::pg::writes::PgWrites;
use crate::pg::{self, DbArgs};

/// Log line format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Serve MoltNet's diary API over HTTP on a data folder.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the bound address is
    /// printed on stdout).
    #[arg(long, env = "MOLTSEARCH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Data folder: entries, indexes and API keys (created when missing);
    /// with --database-url, the index cache only (rebuilt when needed).
    #[arg(long, env = "MOLTSEARCH_DATA_DIR", default_value = "./moltsearch-data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Vector index precision (see `import --help`).
    #[arg(long, value_enum, default_value_t = QuantizeArg::F32)]
    pub quantize: QuantizeArg,
    /// Searches per second per key, sustained (0: unlimited).
    #[arg(long, env = "MOLTSEARCH_SEARCH_RATE", default_value_t = 200)]
    pub search_rate: u32,
    /// Searches a key may make at once, above the rate.
    #[arg(long, env = "MOLTSEARCH_SEARCH_BURST", default_value_t = 400)]
    pub search_burst: u32,
    /// Writes per second per key, sustained (0: unlimited).
    #[arg(long, env = "MOLTSEARCH_WRITE_RATE", default_value_t = 50)]
    pub write_rate: u32,
    /// Writes a key may make at once, above the rate.
    #[arg(long, env = "MOLTSEARCH_WRITE_BURST", default_value_t = 100)]
    pub write_burst: u32,
    /// Largest request body, bytes, on every route but the batch one.
    #[arg(long, env = "MOLTSEARCH_BODY_LIMIT", default_value_t = 2 * 1024 * 1024)]
    pub body_limit: usize,
    /// Largest body of `POST /diaries/{id}/entries:batch`, bytes.
    #[arg(long, env = "MOLTSEARCH_BATCH_BODY_LIMIT", default_value_t = 64 * 1024 * 1024)]
    pub batch_body_limit: usize,
    /// Seconds a request may take before a 503.
    #[arg(long, env = "MOLTSEARCH_REQUEST_TIMEOUT", default_value_t = 60.0)]
    pub request_timeout: f64,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT.
    #[arg(long, env = "MOLTSEARCH_SHUTDOWN_TIMEOUT", default_value_t = 30.0)]
    pub shutdown_timeout: f64,
    /// Origins browsers may call from (repeat, or `*` for any); CORS is off
    /// when none is given.
    #[arg(
        long = "cors-origin",
        env = "MOLTSEARCH_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Serve no `/metrics`.
    #[arg(long)]
    pub no_metrics: bool,
    /// Log format (level by RUST_LOG, default info).
    #[arg(long, env = "MOLTSEARCH_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Threads serving HTTP (default: cores); engine work runs on a
    /// separate blocking pool.
    #[arg(long, env = "MOLTSEARCH_HTTP_THREADS")]
    pub http_threads: Option<usize>,
}

fn seconds(field: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v)
        .with_context(|| format!("--{field} must be a positive number of seconds"))
}

/// Where the server's truth and keys live, opened.
struct Stores {
    engine: Arc<Engine>,
    writes: Arc<dyn Writes>,
    keys: Arc<dyn KeyStore>,
    freshness: Option<Arc<dyn Freshness>>,
}

/// Runs the subcommand.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let request_timeout = seconds("request-timeout", args.request_timeout)?;
    let shutdown_timeout = seconds("shutdown-timeout", args.shutdown_timeout)?;
    let metrics = if args.no_metrics {
        None
    } else {
        Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .context("installing the metrics recorder")?,
        )
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.http_threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().context("starting the async runtime")?;
    let pool = {
        // The pool's maintenance task needs the runtime.
        let _rt = rt.enter();
        args.db.pool()?
    };
    let stores = match pool {
        None => embedded(&args)?,
        Some(pool) => rt.block_on(on_postgres(&args, pool))?,
    };
    let state = AppState {
        writes: stores.writes,
        engine: stores.engine,
        keys: stores.keys,
        limits: Arc::new(RateLimits::new(
            Limit {
                rate: args.search_rate,
                burst: args.search_burst,
            },
            Limit {
                rate: args.write_rate,
                burst: args.write_burst,
            },
        )),
        settings: Arc::new(Settings {
            request_timeout,
            body_limit: args.body_limit,
            batch_body_limit: args.batch_body_limit,
        }),
        metrics,
        draining: Arc::new(AtomicBool::new(false)),
        freshness: stores.freshness,
    };
    let cors = match args.cors_origins.as_slice() {
        [] => Cors::Off,
        list if list.iter().any(|o| o == "*") => Cors::Any,
        list => Cors::Origins(list.to_vec()),
    };
    rt.block_on(serve(
        state,
        ServeOptions {
            listen: args.listen,
            cors,
            shutdown_timeout,
        },
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Embedded storage: the data folder is the truth, keys in `keys.json`.
fn embedded(args: &ServeArgs) -> anyhow::Result<Stores> {
    let keys = Arc::new(FileKeys::open(&args.data_dir)?);
    let model = args.model.name_for_folder(&args.data_dir)?;
    let engine = Engine::builder()
        .embedder(args.model.for_server().embedder_for(&model)?)
        .vector_index(VectorIndexBuilder::new().quantization(args.quantize.into()))
        .data_dir(&args.data_dir)
        .open()
        .with_context(|| format!("opening data folder {}", args.data_dir.display()))?;
    let warm = engine
        .embedder()
        .warm_up()
        .context("loading the embedding model")?;
    tracing::info!(
        entries = engine.len(),
        model = engine.embedder().model_id(),
        warm_up_ms = warm.as_millis() as u64,
        data_dir = %args.data_dir.display(),
        "engine open"
    );
    let engine = Arc::new(engine);
    Ok(Stores {
        writes: Arc::new(EmbeddedWrites::new(engine.clone(), args.data_dir.clone())),
        engine,
        keys,
        freshness: None,
    })
}

/// Postgres holds the truth and the keys; the data folder is an index
/// cache, reused when current, rebuilt from the tables when not, caught
/// up on the change log before the server answers.
async fn on_postgres(args: &ServeArgs, pool: sqlx::PgPool) -> anyhow::Result<Stores> {
    let model_args = args.model.for_server();
    let mirror = pg::mirror::open(
        &pool,
        &args.data_dir,
        VectorIndexBuilder::new().quantization(args.quantize.into()),
        |held| {
            let model = args.model.name_for_database(held);
            model_args.embedder_for(&model)
        },
    )
    .await?;
    let (open_ms, catch_up_ms, seq_before) = (
        mirror.open_time.as_millis() as u64,
        mirror.catch_up_time.as_millis() as u64,
        mirror.seq_before,
    );
    let (engine, feed, how, held) = (mirror.engine, mirror.feed, mirror.cache, mirror.seq);
    let e = engine.clone();
    let warm = tokio::task::spawn_blocking(move || e.embedder().warm_up())
        .await?
        .context("loading the embedding model")?;
    tracing::info!(
        entries = engine.len(),
        seq = held,
        seq_before,
        cache = ?how,
        open_ms,
        catch_up_ms,
        model = engine.embedder().model_id(),
        warm_up_ms = warm.as_millis() as u64,
        data_dir = %args.data_dir.display(),
        "index cache open on the database"
    );
    tokio::spawn(feed.clone().run(FEED_POLL, std::future::pending()));
    let keys = PgKeys::load(pool.clone()).await?;
    tokio::spawn(keys.clone().watch(KEYS_POLL, std::future::pending()));
    {
        let (pool, engine) = (pool.clone(), engine.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ACCESS_FLUSH);
            loop {
                tick.tick().await;
                if let Err(e) = pg::writes::flush_accesses(&pool, &engine).await {
                    tracing::warn!(error = %e, "could not store access counts");
                }
            }
        });
    }
    {
        let (pool, retention) = (pool.clone(), args.db.retention()?);
        // Every server prunes; an advisory lock lets one do it at a time.
        let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(600));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match pg::log::prune(&pool, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(records = n, "pruned the change log"),
                    Err(e) => tracing::warn!(error = %e, "could not prune the change log"),
                }
            }
        });
    }
    Ok(Stores {
        writes: Arc::new(PgWrites::new(pool, engine.clone(), feed.clone())),
        engine,
        keys,
        freshness: Some(feed),
    })
}

/// The change feed's poll, when no notification wakes it.
const FEED_POLL: Duration = Duration::from_millis(500);
/// How often the key copy is reloaded regardless of notifications.
const KEYS_POLL: Duration = Duration::from_secs(2);
/// How often access counts go to the database.
const ACCESS_FLUSH: Duration = Duration::from_secs(5);
