//! The one application state every handler gets.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use moltsearch_engine::Engine;

use super::rate::RateLimits;
use super::writes::Writes;
use crate::keys::KeyStore;

/// Settings handlers read.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Longest a request may take before a 503.
    pub request_timeout: Duration,
    /// Body limit of every route but the batch one, bytes.
    pub body_limit: usize,
    /// Body limit of the batch route, bytes.
    pub batch_body_limit: usize,
}

/// How current the engine is with the source of truth, for a server whose
/// truth lives elsewhere (Postgres): searches report it.
pub trait Freshness: Send + Sync {
    /// The source sequence applied, and how long ago the engine was last
    /// known to hold everything committed (`None`: not yet confirmed).
    fn applied(&self) -> (u64, Option<Duration>);
    /// Why the engine cannot follow the source any more (it answers, but
    /// stale until a restart rebuilds it), if so.
    fn stuck(&self) -> Option<String>;
}

/// What the server holds: the engine (the index, read by every search and
/// listing), where writes go ([`Writes`]), where keys live ([`KeyStore`]),
/// the rate limiters and the settings. Cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    /// The engine: every read goes here.
    pub engine: Arc<Engine>,
    /// Where writes go: the engine itself on embedded storage.
    pub writes: Arc<dyn Writes>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// Per-key limits.
    pub limits: Arc<RateLimits>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Renders `/metrics`.
    pub metrics: Option<PrometheusHandle>,
    /// Set once shutdown began: readiness answers 503.
    pub draining: Arc<AtomicBool>,
    /// How far behind the source of truth the engine is (Postgres mode).
    pub freshness: Option<Arc<dyn Freshness>>,
}
