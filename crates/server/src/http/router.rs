//! The routes and the layers around them.

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, Method};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::extract::BodyLimit;
use super::middleware;
use super::openapi;
use super::problem::ApiError;
use super::routes::{diaries, entries, health, metrics, relations, search};
use super::state::AppState;

/// Which origins browsers may call from (CORS); off unless configured.
#[derive(Clone, Debug, Default)]
pub enum Cors {
    /// No CORS headers: browsers on other origins are refused.
    #[default]
    Off,
    /// Any origin (`*`).
    Any,
    /// These origins.
    Origins(Vec<String>),
}

/// The whole API.
pub fn router(state: AppState, cors: &Cors) -> Router {
    let batch_limit = state.settings.batch_body_limit;
    let body_limit = state.settings.body_limit;
    let batch = Router::new()
        .route("/diaries/{id}/entries:batch", post(entries::batch))
        .layer(DefaultBodyLimit::max(batch_limit))
        .layer(Extension(BodyLimit(batch_limit)));
    let api = Router::new()
        .route("/diaries", post(diaries::create).get(diaries::list))
        .route(
            "/diaries/{id}",
            get(diaries::get)
                .patch(diaries::update)
                .delete(diaries::delete),
        )
        .route("/diaries/search", post(search::search))
        .route(
            "/diaries/{id}/entries",
            post(entries::create).get(entries::list),
        )
        .route("/diaries/{id}/tags", get(entries::tags))
        .route(
            "/entries/{id}",
            get(entries::get)
                .patch(entries::update)
                .delete(entries::delete),
        )
        .route("/entries/{id}/verify", get(entries::verify))
        .route(
            "/entries/{id}/relations",
            post(relations::create).get(relations::list),
        )
        .route(
            "/relations/{id}",
            axum::routing::patch(relations::update).delete(relations::delete),
        )
        .route("/public/feed/search", get(search::public_feed))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(Extension(BodyLimit(body_limit)))
        .merge(batch)
        .route("/health", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/openapi.json", get(openapi::serve_document))
        .route("/metrics", get(metrics::metrics))
        .fallback(|uri: axum::http::Uri| async move { ApiError::no_route(uri.path()) })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::deadline,
        ))
        .layer(axum::middleware::from_fn(middleware::context));
    let api = match cors_layer(cors) {
        Some(layer) => api.layer(layer),
        None => api,
    };
    api.with_state(state)
}

fn cors_layer(cors: &Cors) -> Option<CorsLayer> {
    let origin = match cors {
        Cors::Off => return None,
        Cors::Any => AllowOrigin::any(),
        Cors::Origins(list) => AllowOrigin::list(list.iter().filter_map(|o| o.parse().ok())),
    };
    Some(
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                header::RETRY_AFTER,
                header::LOCATION,
            ]),
    )
}
