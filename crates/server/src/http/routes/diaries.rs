//! `/diaries`: a team's diaries.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use moltsearch_engine::Diary;

use crate::http::dto::{parse_visibility, CreateDiary, DiaryList, DiaryView, UpdateDiary};
use crate::http::extract::{ApiJson, PathId, Writer};
use crate::http::problem::{ApiResult, ReadErrors, WriteErrors};
use crate::http::state::AppState;
use crate::http::tenancy;
use crate::keys::Caller;

/// Creates a diary in the key's team.
#[utoipa::path(post, operation_id = "createDiary", path = "/diaries", tag = "diaries", request_body = CreateDiary,
    responses((status = 201, body = DiaryView), WriteErrors), security(("apiKey" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Writer(caller): Writer,
    ApiJson(body): ApiJson<CreateDiary>,
) -> ApiResult<impl IntoResponse> {
    s.limits.write(caller.key_id)?;
    let visibility = match body.visibility.as_deref() {
        Some(v) => parse_visibility(v)?,
        None => Default::default(),
    };
    let diary = Diary::new(caller.team_id, body.name, visibility)?;
    let diary = s.writes.create_diary(diary).await?;
    let location = format!("/diaries/{}", diary.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(DiaryView::from(diary)),
    ))
}

/// Lists the key's team's diaries, by name.
#[utoipa::path(get, operation_id = "listDiaries", path = "/diaries", tag = "diaries",
    responses((status = 200, body = DiaryList), ReadErrors), security(("apiKey" = [])))]
pub async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<DiaryList>> {
    let items = s
        .engine
        .list_diaries(Some(caller.team_id))
        .into_iter()
        .map(DiaryView::from)
        .collect();
    Ok(Json(DiaryList { items }))
}

/// One diary.
#[utoipa::path(get, operation_id = "getDiary", path = "/diaries/{id}", tag = "diaries",
    params(("id" = uuid::Uuid, Path, description = "Diary id")),
    responses((status = 200, body = DiaryView), ReadErrors), security(("apiKey" = [])))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<DiaryView>> {
    Ok(Json(tenancy::diary(&s.engine, &caller, id)?.into()))
}

/// Renames a diary or changes its visibility.
#[utoipa::path(patch, operation_id = "updateDiary", path = "/diaries/{id}", tag = "diaries", request_body = UpdateDiary,
    params(("id" = uuid::Uuid, Path, description = "Diary id")),
    responses((status = 200, body = DiaryView), WriteErrors), security(("apiKey" = [])))]
pub async fn update(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
    ApiJson(body): ApiJson<UpdateDiary>,
) -> ApiResult<Json<DiaryView>> {
    s.limits.write(caller.key_id)?;
    let held = tenancy::diary(&s.engine, &caller, id)?;
    let visibility = match body.visibility.as_deref() {
        Some(v) => parse_visibility(v)?,
        None => held.visibility,
    };
    let diary = Diary::with_id(
        held.id,
        held.team_id,
        body.name.unwrap_or(held.name),
        visibility,
    )?;
    Ok(Json(s.writes.update_diary(diary).await?.into()))
}

/// Deletes a diary and its entries (409 while it holds signed entries).
#[utoipa::path(delete, operation_id = "deleteDiary", path = "/diaries/{id}", tag = "diaries",
    params(("id" = uuid::Uuid, Path, description = "Diary id")),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("apiKey" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    s.limits.write(caller.key_id)?;
    tenancy::diary(&s.engine, &caller, id)?;
    s.writes.delete_diary(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
