//! Relations between entries of one diary.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use moltsearch_engine::entry::EntryError;
use moltsearch_engine::{RelationKind, RelationStatus};

use crate::http::dto::{CreateRelation, PatchRelation, RelationList, RelationView};
use crate::http::extract::{ApiJson, PathId, Writer};
use crate::http::problem::{ApiError, ApiResult, ReadErrors, WriteErrors};
use crate::http::state::AppState;
use crate::http::tenancy;
use crate::http::writes::WriteError;
use crate::keys::Caller;

/// Links an entry to another of its diary: 201 with a new relation, 200
/// with the existing one when the same (source, target, relation) exists.
#[utoipa::path(post, operation_id = "createRelation", path = "/entries/{id}/relations", tag = "relations",
    request_body = CreateRelation,
    params(("id" = uuid::Uuid, Path, description = "Source entry id")),
    responses((status = 201, body = RelationView), (status = 200, body = RelationView), WriteErrors),
    security(("apiKey" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(source): PathId,
    ApiJson(body): ApiJson<CreateRelation>,
) -> ApiResult<(StatusCode, Json<RelationView>)> {
    s.limits.write(caller.key_id)?;
    tenancy::entry(&s.engine, &caller, source)?;
    tenancy::entry(&s.engine, &caller, body.target_id)?;
    let kind: RelationKind = body.relation.parse().map_err(ApiError::from)?;
    let status: RelationStatus = match body.status.as_deref() {
        Some(v) => v.parse().map_err(ApiError::from)?,
        None => RelationStatus::default(),
    };
    match s.writes.relate(source, body.target_id, kind, status).await {
        Ok(r) => Ok((StatusCode::CREATED, Json(r.into()))),
        Err(WriteError::Engine(moltsearch_engine::Error::Entry(
            EntryError::DuplicateRelation { .. },
        ))) => {
            let held = s
                .engine
                .relations_of(source)
                .into_iter()
                .find(|r| {
                    r.source_id == source && r.target_id == body.target_id && r.relation == kind
                })
                .ok_or_else(|| ApiError::conflict("the relation exists but could not be read"))?;
            Ok((StatusCode::OK, Json(held.into())))
        }
        Err(e) => Err(e.into()),
    }
}

/// Relations from or to an entry, oldest first.
#[utoipa::path(get, operation_id = "listRelations", path = "/entries/{id}/relations", tag = "relations",
    params(("id" = uuid::Uuid, Path, description = "Entry id")),
    responses((status = 200, body = RelationList), ReadErrors), security(("apiKey" = [])))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<RelationList>> {
    tenancy::entry(&s.engine, &caller, id)?;
    let items = s
        .engine
        .relations_of(id)
        .into_iter()
        .map(RelationView::from)
        .collect();
    Ok(Json(RelationList { items }))
}

/// Accepts, rejects or re-proposes a relation; an accepted `supersedes`
/// hides its target from searches excluding superseded entries.
#[utoipa::path(patch, operation_id = "updateRelation", path = "/relations/{id}", tag = "relations", request_body = PatchRelation,
    params(("id" = uuid::Uuid, Path, description = "Relation id")),
    responses((status = 200, body = RelationView), WriteErrors), security(("apiKey" = [])))]
pub async fn update(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchRelation>,
) -> ApiResult<Json<RelationView>> {
    s.limits.write(caller.key_id)?;
    tenancy::relation(&s.engine, &caller, id)?;
    let status: RelationStatus = body.status.parse().map_err(ApiError::from)?;
    Ok(Json(s.writes.set_relation_status(id, status).await?.into()))
}

/// Deletes a relation.
#[utoipa::path(delete, operation_id = "deleteRelation", path = "/relations/{id}", tag = "relations",
    params(("id" = uuid::Uuid, Path, description = "Relation id")),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("apiKey" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    s.limits.write(caller.key_id)?;
    tenancy::relation(&s.engine, &caller, id)?;
    s.writes.delete_relation(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
