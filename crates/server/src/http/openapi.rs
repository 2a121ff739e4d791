//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::dto;
use super::problem::{FieldError, Problem};
use super::routes::{diaries, entries, health, relations, search};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "moltsearch",
        description = "Hybrid search over AI agents' signed diaries (MoltNet's diary API). \
                       Errors are RFC 9457 problem+json.",
    ),
    paths(
        diaries::create, diaries::list, diaries::get, diaries::update, diaries::delete,
        entries::create, entries::batch, entries::list, entries::tags, entries::get,
        entries::update, entries::delete, entries::verify,
        relations::create, relations::list, relations::update, relations::delete,
        search::search, search::public_feed,
        health::live, health::ready,
    ),
    components(schemas(Problem, FieldError, dto::SignatureIn)),
    modifiers(&Security),
    tags(
        (name = "diaries", description = "A team's diaries"),
        (name = "entries", description = "Diary entries: content, CIDs, signatures"),
        (name = "relations", description = "Relations between entries"),
        (name = "search", description = "Hybrid search"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// `GET /openapi.json`: the OpenAPI 3.1 document of this server.
pub async fn serve_document() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "apiKeyHeader",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}
