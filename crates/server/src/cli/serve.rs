//! `moltsearch serve`: the REST server on embedded storage.

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
use crate::http::state::{AppState, Settings};
use crate::http::writes::EmbeddedWrites;
use crate::keys::FileKeys;

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
    /// Data folder: entries, indexes and API keys (created when missing).
    #[arg(long, env = "MOLTSEARCH_DATA_DIR", default_value = "./moltsearch-data")]
    pub data_dir: PathBuf,
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

/// Runs the subcommand.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let request_timeout = seconds("request-timeout", args.request_timeout)?;
    let shutdown_timeout = seconds("shutdown-timeout", args.shutdown_timeout)?;
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
    let metrics = if args.no_metrics {
        None
    } else {
        Some(
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .context("installing the metrics recorder")?,
        )
    };
    let state = AppState {
        writes: Arc::new(EmbeddedWrites::new(engine.clone(), args.data_dir.clone())),
        engine,
        keys,
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
    };
    let cors = match args.cors_origins.as_slice() {
        [] => Cors::Off,
        list if list.iter().any(|o| o == "*") => Cors::Any,
        list => Cors::Origins(list.to_vec()),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = args.http_threads {
        rt.worker_threads(n.max(1));
    }
    rt.build()
        .context("starting the async runtime")?
        .block_on(serve(
            state,
            ServeOptions {
                listen: args.listen,
                cors,
                shutdown_timeout,
            },
        ))?;
    Ok(ExitCode::SUCCESS)
}
