//! Liveness and readiness.

use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use moltsearch_engine::{Scope, SearchMode, SearchRequest};

use crate::http::dto::{ComponentHealth, Components, Liveness, Readiness};
use crate::http::state::AppState;
use crate::http::writes::Store;

/// Liveness: the process answers.
#[utoipa::path(get, operation_id = "health", path = "/health", tag = "health",
    responses((status = 200, body = Liveness)))]
pub async fn live() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".into(),
    })
}

fn component(start: Instant, result: Result<(), String>) -> ComponentHealth {
    ComponentHealth {
        status: if result.is_ok() { "ok" } else { "down" }.to_string(),
        latency_ms: start.elapsed().as_secs_f64() * 1e3,
        error: result.err(),
    }
}

/// Runs `f` on the blocking pool and times it.
async fn probe(f: impl FnOnce() -> Result<(), String> + Send + 'static) -> ComponentHealth {
    let start = Instant::now();
    let result = tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    component(start, result)
}

/// Readiness: the model embeds, the indexes answer, storage takes writes;
/// 503 and `degraded` when one does not, or while shutting down.
#[utoipa::path(get, operation_id = "ready", path = "/health/ready", tag = "health",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let e = s.engine.clone();
    let model = probe(move || {
        e.embedder()
            .embed_queries(&["readiness probe"])
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;
    let e = s.engine.clone();
    let index = probe(move || {
        let req = SearchRequest {
            mode: SearchMode::Text,
            limit: 1,
            ..SearchRequest::new("readiness", Scope::Public)
        };
        e.search(&req).map(|_| ()).map_err(|e| e.to_string())
    })
    .await;
    let index = match s.freshness.as_ref().and_then(|f| f.stuck()) {
        Some(why) => ComponentHealth {
            status: "down".into(),
            error: Some(why),
            ..index
        },
        None => index,
    };
    let start = Instant::now();
    let mut storage = component(start, s.writes.probe().await);
    if s.draining.load(Ordering::Acquire) {
        storage = ComponentHealth {
            status: "down".into(),
            latency_ms: 0.0,
            error: Some("the server is shutting down".into()),
        };
    }
    let (storage, database) = match s.writes.store() {
        Store::DataFolder => (Some(storage), None),
        Store::Database => (None, Some(storage)),
    };
    let r = Readiness::new(Components {
        model,
        index,
        storage,
        database,
    });
    let status = if r.status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(r))
}
