//! Entries: create (one or a batch), list, tags, read, edit, delete, verify.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use moltsearch_engine::entry::Entry;
use moltsearch_engine::{EntryPatch, EntryType, Filters, ListRequest, NewEntry, PutEntry, Scope};
use uuid::Uuid;

use crate::http::dto::{
    parse_time, parse_types, split_list, BatchEntry, BatchRequest, BatchResponse, CreateEntry,
    EntryPage, EntryView, ListEntriesQuery, PatchEntry, TagView, TagsQuery, TagsResponse,
    VerifyView,
};
use crate::http::extract::{ApiJson, ApiQuery, PathId, Writer};
use crate::http::problem::{ApiError, ApiResult, ReadErrors, WriteErrors};
use crate::http::state::AppState;
use crate::http::tenancy;
use crate::http::writes::{blocking, WriteError};
use crate::keys::Caller;

/// Most entries one batch may carry.
pub const MAX_BATCH: usize = 1000;
/// Largest page of a listing.
pub const MAX_PAGE: usize = 100;

/// An optional `entryType`, parsed by the engine's own rule (400 naming it).
fn parse_entry_type(value: Option<&str>) -> ApiResult<Option<EntryType>> {
    value.map(|t| t.parse().map_err(ApiError::from)).transpose()
}

/// The engine's request for one item of a create.
fn put_entry(diary_id: Uuid, e: BatchEntry) -> ApiResult<PutEntry> {
    let entry_type = parse_entry_type(e.entry_type.as_deref())?;
    let created_at = match e.created_at.as_deref() {
        Some(t) => Some(parse_time("createdAt", t)?),
        None => None,
    };
    let (content_signature, signing_nonce, signer_public_key) = match e.signature {
        Some(s) => (Some(s.signature_base64), Some(s.nonce), Some(s.public_key)),
        None => (None, None, None),
    };
    Ok(PutEntry {
        entry: NewEntry {
            diary_id,
            title: e.title,
            content: e.content,
            tags: e.tags,
            entry_type,
            importance: e.importance,
            content_hash: e.content_hash,
            content_signature,
            signing_nonce,
            signer_public_key,
        },
        id: e.id,
        created_at,
    })
}

/// Creates one entry in a diary; the server computes its CID (a given
/// `contentHash` must equal it) and checks a signature over it.
#[utoipa::path(post, operation_id = "createEntry", path = "/diaries/{id}/entries", tag = "entries", request_body = CreateEntry,
    params(("id" = Uuid, Path, description = "Diary id")),
    responses((status = 201, body = EntryView), WriteErrors), security(("apiKey" = [])))]
pub async fn create(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(diary): PathId,
    ApiJson(body): ApiJson<CreateEntry>,
) -> ApiResult<impl IntoResponse> {
    s.limits.write(caller.key_id)?;
    tenancy::diary(&s.engine, &caller, diary)?;
    let put = put_entry(diary, body.into())?;
    let mut stored = match s.writes.put_entries(vec![put]).await {
        Ok(v) => v,
        // One entry: its errors name its fields, not `entries[0]`.
        Err(WriteError::Engine(moltsearch_engine::Error::InBatch { cause, .. })) => {
            return Err((*cause).into())
        }
        Err(e) => return Err(e.into()),
    };
    let entry = stored
        .pop()
        .ok_or_else(|| ApiError::internal(&"the engine stored no entry"))?;
    let location = format!("/entries/{}", entry.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(EntryView::from(entry)),
    ))
}

/// Creates up to 1,000 entries, all or nothing, embedded in batches;
/// answers them in request order. `id` and `createdAt` may be given, for
/// imports of existing data.
#[utoipa::path(post, operation_id = "createEntries", path = "/diaries/{id}/entries:batch", tag = "entries",
    request_body = BatchRequest,
    params(("id" = Uuid, Path, description = "Diary id")),
    responses((status = 201, body = BatchResponse), WriteErrors), security(("apiKey" = [])))]
pub async fn batch(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(diary): PathId,
    ApiJson(body): ApiJson<BatchRequest>,
) -> ApiResult<impl IntoResponse> {
    s.limits.write(caller.key_id)?;
    tenancy::diary(&s.engine, &caller, diary)?;
    let n = body.entries.len();
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::invalid(
            "entries",
            format!("a batch holds 1 to {MAX_BATCH} entries, got {n}"),
        ));
    }
    let batch = body
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| put_entry(diary, e).map_err(|err| err.within(&format!("entries[{i}]"))))
        .collect::<ApiResult<Vec<_>>>()?;
    let items = s.writes.put_entries(batch).await?;
    metrics::counter!("moltsearch_entries_written_total").increment(items.len() as u64);
    Ok((
        StatusCode::CREATED,
        Json(BatchResponse {
            items: items.into_iter().map(EntryView::from).collect(),
        }),
    ))
}

/// Lists a diary's entries newest first, under filters, with the exact total.
#[utoipa::path(get, operation_id = "listEntries", path = "/diaries/{id}/entries", tag = "entries",
    params(("id" = Uuid, Path, description = "Diary id"), ListEntriesQuery),
    responses((status = 200, body = EntryPage), ReadErrors), security(("apiKey" = [])))]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
    PathId(diary): PathId,
    ApiQuery(q): ApiQuery<ListEntriesQuery>,
) -> ApiResult<Json<EntryPage>> {
    tenancy::diary(&s.engine, &caller, diary)?;
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be within 1..={MAX_PAGE}, got {limit}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    let req = ListRequest {
        scope: Scope::Diaries { ids: vec![diary] },
        filters: Filters {
            tags: split_list(q.tags.as_deref())
                .into_iter()
                .map(String::from)
                .collect(),
            exclude_tags: split_list(q.exclude_tags.as_deref())
                .into_iter()
                .map(String::from)
                .collect(),
            entry_types: parse_types("entryType", split_list(q.entry_type.as_deref()))?,
            ..Filters::default()
        },
        limit,
        offset,
    };
    let e = s.engine.clone();
    let page = blocking(move || e.list(&req)).await?;
    Ok(Json(EntryPage {
        items: page.entries.into_iter().map(EntryView::from).collect(),
        total: page.total,
        limit,
        offset,
    }))
}

/// Tags used in a diary with their counts, most used first.
#[utoipa::path(get, operation_id = "listTags", path = "/diaries/{id}/tags", tag = "entries",
    params(("id" = Uuid, Path, description = "Diary id"), TagsQuery),
    responses((status = 200, body = TagsResponse), ReadErrors), security(("apiKey" = [])))]
pub async fn tags(
    State(s): State<AppState>,
    caller: Caller,
    PathId(diary): PathId,
    ApiQuery(q): ApiQuery<TagsQuery>,
) -> ApiResult<Json<TagsResponse>> {
    tenancy::diary(&s.engine, &caller, diary)?;
    let types = parse_types("entryTypes", split_list(q.entry_types.as_deref()))?;
    let min_count = q.min_count.unwrap_or(1).max(1);
    let e = s.engine.clone();
    let tags = blocking(move || {
        Ok(e.tag_counts(
            &Scope::Diaries { ids: vec![diary] },
            q.prefix.as_deref(),
            min_count,
            &types,
        ))
    })
    .await?;
    Ok(Json(TagsResponse {
        total: tags.len(),
        tags: tags.into_iter().map(TagView::from).collect(),
    }))
}

/// One entry.
#[utoipa::path(get, operation_id = "getEntry", path = "/entries/{id}", tag = "entries",
    params(("id" = Uuid, Path, description = "Entry id")),
    responses((status = 200, body = EntryView), ReadErrors), security(("apiKey" = [])))]
pub async fn get(
    State(s): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<EntryView>> {
    Ok(Json(tenancy::entry(&s.engine, &caller, id)?.0.into()))
}

/// Edits an entry; a signed entry's content, title, type and tags cannot
/// change (409). Changed text is embedded again.
#[utoipa::path(patch, operation_id = "updateEntry", path = "/entries/{id}", tag = "entries", request_body = PatchEntry,
    params(("id" = Uuid, Path, description = "Entry id")),
    responses((status = 200, body = EntryView), WriteErrors), security(("apiKey" = [])))]
pub async fn update(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
    ApiJson(body): ApiJson<PatchEntry>,
) -> ApiResult<Json<EntryView>> {
    s.limits.write(caller.key_id)?;
    tenancy::entry(&s.engine, &caller, id)?;
    let entry_type = parse_entry_type(body.entry_type.as_deref())?;
    let patch = EntryPatch {
        title: body.title,
        content: body.content,
        tags: body.tags,
        entry_type,
        importance: body.importance,
    };
    Ok(Json(s.writes.update_entry(id, patch).await?.into()))
}

/// Deletes an unsigned entry and its relations (a signed one: 409).
#[utoipa::path(delete, operation_id = "deleteEntry", path = "/entries/{id}", tag = "entries",
    params(("id" = Uuid, Path, description = "Entry id")),
    responses((status = 204, description = "Deleted"), WriteErrors), security(("apiKey" = [])))]
pub async fn delete(
    State(s): State<AppState>,
    Writer(caller): Writer,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    s.limits.write(caller.key_id)?;
    tenancy::entry(&s.engine, &caller, id)?;
    s.writes.delete_entry(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-checks an entry's CID and signature.
#[utoipa::path(get, operation_id = "verifyEntry", path = "/entries/{id}/verify", tag = "entries",
    params(("id" = Uuid, Path, description = "Entry id")),
    responses((status = 200, body = VerifyView), ReadErrors), security(("apiKey" = [])))]
pub async fn verify(
    State(s): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> ApiResult<Json<VerifyView>> {
    let (record, _) = tenancy::entry(&s.engine, &caller, id)?;
    let entry = Entry::from_record(record).map_err(|e| ApiError::internal(&e))?;
    Ok(Json(entry.verify().into()))
}
