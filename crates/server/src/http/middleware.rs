//! What wraps every request: its id and context, its log line and
//! metrics, and its deadline.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;
use uuid::Uuid;

use super::problem::{ApiError, RequestContext, REQUEST};
use super::state::AppState;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// A client's request id, if it is a sane one (visible ASCII, ≤ 128 bytes).
fn given_id(req: &Request) -> Option<String> {
    let v = req.headers().get(REQUEST_ID)?.to_str().ok()?;
    (!v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| v.to_string())
}

/// Outermost layer: takes or makes the request id, sets the context
/// problem bodies read, logs one line per request (never a key or
/// content), records metrics, and echoes the id back.
pub async fn context(req: Request, next: Next) -> Response {
    let id = given_id(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %path,
        key = tracing::field::Empty,
    );
    // A body the handler may not have read (an early refusal, a GET with a
    // body): hyper then cannot reuse the connection, so say so, or a client
    // would send its next request on a connection about to close.
    let had_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let reads_no_body = matches!(method, Method::GET | Method::HEAD | Method::DELETE);
    let ctx = RequestContext {
        request_id: id.clone(),
        path,
    };
    let start = Instant::now();
    let mut res = REQUEST
        .scope(ctx, next.run(req).instrument(span.clone()))
        .await;
    let elapsed = start.elapsed();
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(status, ms = elapsed.as_secs_f64() * 1e3, "answered");
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("moltsearch_http_requests_total", &labels).increment(1);
    metrics::histogram!("moltsearch_http_request_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    if had_body && (status >= 400 || reads_no_body) {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    res
}

/// Inside the context: a request that takes longer than the configured
/// timeout is answered 503 (its engine work, already on the blocking pool,
/// still finishes; a write may then be stored though unacknowledged).
pub async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let limit = s.settings.request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ApiError::unavailable(
            format!("the request took longer than {} s", limit.as_secs_f64()),
            1,
        )
        .into_response(),
    }
}
