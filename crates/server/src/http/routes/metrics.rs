//! Prometheus metrics (`/metrics`).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

use crate::http::state::AppState;

/// Prometheus metrics: requests by route and status, latencies, engine size.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let Some(handle) = &s.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off (--no-metrics)").into_response();
    };
    metrics::gauge!("moltsearch_entries").set(s.engine.len() as f64);
    metrics::gauge!("moltsearch_diaries").set(s.engine.list_diaries(None).len() as f64);
    let (queries, passages) = s.engine.embedder().embedded_counts();
    metrics::counter!("moltsearch_embedded_texts_total", "kind" => "query").absolute(queries);
    metrics::counter!("moltsearch_embedded_texts_total", "kind" => "passage").absolute(passages);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
