//! Errors as RFC 9457 problem details (`application/problem+json`).
//!
//! Every error the server answers goes through [`ApiError`]: a status, a
//! stable `type` slug, a human `detail`, and for validation the failing
//! fields. The request id and path (`instance`) come from the request's
//! [`RequestContext`], set by the outermost middleware, so a handler never
//! threads them through by hand.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use moltsearch_engine::entry::EntryError;
use moltsearch_engine::Error as EngineError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The request being answered (see [`RequestContext`]).
    pub static REQUEST: RequestContext;
}

/// What a problem body says about the request it answers.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The `x-request-id` taken from the request or made for it.
    pub request_id: String,
    /// The request's path, the problem's `instance`.
    pub path: String,
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A field that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, camelCase as in the request (`entries[3].content`, `limit`).
    pub field: String,
    /// Why its value is refused.
    pub reason: String,
}

/// An RFC 9457 problem body.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:moltsearch:problem:<slug>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The request path.
    pub instance: String,
    /// The request id (also in the `x-request-id` header).
    pub request_id: String,
    /// The failing fields, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    www_authenticate: bool,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: String) -> Self {
        Self {
            status,
            slug,
            title,
            detail,
            errors: Vec::new(),
            retry_after: None,
            www_authenticate: false,
        }
    }

    /// 400: a value out of its allowed range; `field` names it.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let (field, reason) = (field.into(), reason.into());
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "validation",
            "Invalid request",
            format!("{field}: {reason}"),
        );
        e.errors.push(FieldError { field, reason });
        e
    }

    /// 400: a request that cannot be read (malformed JSON, a bad query string).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Malformed request",
            detail.into(),
        )
    }

    /// 401: no key, or one that is unknown or revoked.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail.into(),
        );
        e.www_authenticate = true;
        e
    }

    /// 403: the key may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            detail.into(),
        )
    }

    /// 404: no such object for this key's team (also when it exists in
    /// another team: tenancy never tells one from the other).
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} {id} not found"),
        )
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no route for {path}"),
        )
    }

    /// 405: the path exists, the method does not.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this path does not accept that method".into(),
        )
    }

    /// 409: the request conflicts with what is stored.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail.into())
    }

    /// 413: the body is over the route's limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the request body is over this route's limit of {limit} bytes"),
        )
    }

    /// 415: the body is not JSON.
    pub fn unsupported_media(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            detail.into(),
        )
    }

    /// 422: well-formed JSON of the wrong shape (a missing or unknown
    /// field, a string where a number belongs).
    pub fn unprocessable(field: Option<String>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wrong-shape",
            "Unprocessable body",
            match &field {
                Some(f) => format!("{f}: {reason}"),
                None => reason.clone(),
            },
        );
        e.errors.push(FieldError {
            field: field.unwrap_or_default(),
            reason,
        });
        e
    }

    /// 429: the key's rate limit is spent; retry after `secs`.
    pub fn too_many(what: &str, secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
            format!("this key's {what} rate limit is reached; retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    }

    /// 503: the server cannot answer now (shutting down, a timeout, storage
    /// unavailable); retry after `secs`.
    pub fn unavailable(detail: impl Into<String>, secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail.into(),
        );
        e.retry_after = Some(secs);
        e
    }

    /// 500: our fault. The cause is logged, not sent: it may name files.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to answer this request; it is logged under the request id".into(),
        )
    }

    /// Prefixes every field (and the detail) with `prefix`, e.g. the batch
    /// item an error belongs to.
    pub fn within(mut self, prefix: &str) -> Self {
        for f in &mut self.errors {
            f.field = if f.field.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}.{}", f.field)
            };
        }
        self.detail = format!("{prefix}: {}", self.detail);
        self
    }

    /// The body, with the current request's id and path.
    pub fn problem(&self) -> Problem {
        let ctx = REQUEST.try_with(Clone::clone).unwrap_or_default();
        Problem {
            kind: format!("urn:moltsearch:problem:{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: ctx.path,
            request_id: ctx.request_id,
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"moltsearch\""),
            );
        }
        res
    }
}

/// The field an entry-model error is about, when it names one.
fn entry_error_field(e: &EntryError) -> Option<&'static str> {
    Some(match e {
        EntryError::Empty { field }
        | EntryError::Blank { field }
        | EntryError::TooLong { field, .. }
        | EntryError::OutOfRange { field, .. }
        | EntryError::UnknownVariant { field, .. }
        | EntryError::Malformed { field, .. }
        | EntryError::WrongLength { field, .. } => field,
        EntryError::IncompleteSignature { missing } => missing,
        EntryError::TooManyTags { .. } => "tags",
        EntryError::ContentHashMismatch { .. } => "contentHash",
        EntryError::InvalidPublicKey => "signature.publicKey",
        EntryError::InvalidSignature => "signature",
        EntryError::InvalidCid { .. } => "contentHash",
        EntryError::SelfRelation | EntryError::CrossDiaryRelation { .. } => "targetId",
        _ => return None,
    })
}

/// The request's names for engine field names that the API spells otherwise
/// (the signature is one object here, three fields in the engine).
fn api_field(field: &str) -> &str {
    match field {
        "contentSignature" => "signature.signatureBase64",
        "signingNonce" => "signature.nonce",
        "signerPublicKey" => "signature.publicKey",
        other => other,
    }
}

impl From<EntryError> for ApiError {
    fn from(e: EntryError) -> Self {
        match &e {
            EntryError::ImmutableSigned { .. }
            | EntryError::SignedNotDeletable
            | EntryError::DiaryHoldsSigned { .. }
            | EntryError::DuplicateRelation { .. }
            | EntryError::NonceInUse { .. } => ApiError::conflict(e.to_string()),
            _ => match entry_error_field(&e) {
                Some(field) => ApiError::invalid(api_field(field), e.to_string()),
                None => ApiError::bad_request(e.to_string()),
            },
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound { what, id } => ApiError::not_found(what, id),
            EngineError::AlreadyExists { what, id } => {
                ApiError::conflict(format!("{what} {id} already exists"))
            }
            EngineError::Invalid(f) => ApiError::invalid(f.field.into_owned(), f.reason),
            EngineError::Entry(e) => e.into(),
            EngineError::InBatch { index, cause } => {
                ApiError::from(*cause).within(&format!("entries[{index}]"))
            }
            EngineError::Tokenize(m) => {
                ApiError::bad_request(format!("the text cannot be tokenized: {m}"))
            }
            EngineError::EmbedderClosed => {
                ApiError::unavailable("the embedder is shutting down", 1)
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::internal(&e)
    }
}

/// Handlers' result.
pub type ApiResult<T> = Result<T, ApiError>;

/// The errors a read route may answer (for the OpenAPI document).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ReadErrors {
    /// A value out of range, or a malformed request.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// No such object in the key's team.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The key's rate limit is spent (see `Retry-After`).
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// Timed out or shutting down (see `Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The errors a write route may answer (for the OpenAPI document).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum WriteErrors {
    /// A value out of range (the failing fields in `errors`), or malformed JSON.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No key, or an unknown or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// A read-only key.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such object in the key's team.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// Conflicts with what is stored (a signed entry, a used nonce, an id).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// The body is over the route's limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not JSON.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// Well-formed JSON of the wrong shape (missing or unknown field, wrong type).
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
    /// The key's rate limit is spent (see `Retry-After`).
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Problem),
    /// Timed out or shutting down (see `Retry-After`).
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}
