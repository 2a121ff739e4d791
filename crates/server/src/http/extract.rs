//! Extractors whose rejections are problem+json: a JSON body, a query
//! string, path ids, and the caller behind the API key.
//!
//! axum's own extractors answer plain text; these map each failure to the
//! status the API promises: 415 (not JSON), 413 (over the body limit), 400
//! (malformed JSON, a bad query or id), 422 (well-formed JSON of the wrong
//! shape, naming the field), 401 and 403.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::problem::ApiError;
use super::state::AppState;
use crate::keys::Caller;

/// A JSON body of type `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .is_some_and(|m| {
                m.type_() == "application"
                    && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            });
        if !json {
            return Err(ApiError::unsupported_media(
                "send the body as JSON, with Content-Type: application/json",
            ));
        }
        let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| body_rejection(e, limit))?;
        // serde reads a struct from an array too (`["x"]` as `{content: "x"}`):
        // every body of this API is an object, so anything else is the wrong shape.
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first.is_some_and(|b| *b != b'{')
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            return Err(ApiError::unprocessable(
                None,
                "the body must be a JSON object",
            ));
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                match inner.classify() {
                    serde_json::error::Category::Data => Err(ApiError::unprocessable(
                        (path != ".").then_some(path),
                        inner.to_string(),
                    )),
                    _ => Err(ApiError::bad_request(format!("malformed JSON: {inner}"))),
                }
            }
        }
    }
}

/// The body limit of the route, recorded for the 413 message.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

fn body_rejection(e: BytesRejection, limit: usize) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(limit)
    } else {
        ApiError::bad_request(format!("the body could not be read: {e}"))
    }
}

/// A query string of type `T`.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str::<T>(q)
            .map(ApiQuery)
            .map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
    }
}

/// A path id (`/entries/{id}`): a UUID, or 404 (no such object can exist).
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| ApiError::invalid("id", format!("not a UUID: {raw:?}")))
    }
}

/// The token a request carries: `Authorization: Bearer <key>` or
/// `X-API-Key: <key>`.
fn token(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        let (scheme, rest) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim());
    }
    parts
        .headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The caller a valid key authenticates; 401 otherwise.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(token) = token(parts) else {
            return Err(ApiError::unauthorized(
                "send an API key: Authorization: Bearer <key> (or X-API-Key: <key>)",
            ));
        };
        match state.keys.authenticate(token) {
            Ok(Some(caller)) => {
                tracing::Span::current().record("key", caller.prefix.as_str());
                Ok(caller)
            }
            Ok(None) => Err(ApiError::unauthorized("the API key is unknown or revoked")),
            Err(e) => Err(ApiError::internal(&e)),
        }
    }
}

/// A caller allowed to write: its key is not read-only (403 otherwise).
pub struct Writer(pub Caller);

impl FromRequestParts<AppState> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if caller.read_only {
            return Err(ApiError::forbidden("this API key is read-only"));
        }
        Ok(Writer(caller))
    }
}
