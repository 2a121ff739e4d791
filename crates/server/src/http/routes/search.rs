//! Hybrid search: a team's diaries (`POST /diaries/search`) and public
//! diaries for anyone (`GET /public/feed/search`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::Json;
use moltsearch_engine::search::fusion::Weights;
use moltsearch_engine::{Filters, Scope, SearchRequest, SearchResponse};

use crate::http::dto::{
    parse_time, parse_types, split_list, EntryView, FeedQuery, FeedResponse, SearchBody,
    SearchResponseView, SearchResult,
};
use crate::http::extract::{ApiJson, ApiQuery};
use crate::http::problem::{ApiError, ApiResult, ReadErrors};
use crate::http::state::AppState;
use crate::http::tenancy;
use crate::http::writes::blocking;
use crate::keys::Caller;

/// Longest query, in characters (MoltNet's limit).
pub const MAX_QUERY_CHARS: usize = 500;
/// Largest page.
pub const MAX_LIMIT: usize = 100;

fn check_query(field: &str, q: &str) -> ApiResult<()> {
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_QUERY_CHARS} characters, got {n}"),
        ));
    }
    Ok(())
}

fn check_limit(limit: usize) -> ApiResult<()> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(
            "limit",
            format!("must be within 1..={MAX_LIMIT}, got {limit}"),
        ));
    }
    Ok(())
}

fn results(resp: SearchResponse) -> Vec<SearchResult> {
    resp.hits
        .into_iter()
        .map(|h| SearchResult {
            entry: EntryView::from(h.entry),
            score: h.score,
            explain: h.explain.map(Into::into),
        })
        .collect()
}

/// Searches one diary of the key's team (`diaryId`) or all of them:
/// hybrid (vector + full text, fused by RRF), under filters, re-weighted
/// by recency and importance when asked. Without a query: newest first.
#[utoipa::path(post, operation_id = "searchDiaries", path = "/diaries/search", tag = "search", request_body = SearchBody,
    responses((status = 200, body = SearchResponseView), ReadErrors), security(("apiKey" = [])))]
pub async fn search(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<SearchBody>,
) -> ApiResult<(HeaderMap, Json<SearchResponseView>)> {
    s.limits.search(caller.key_id)?;
    let query = body.query.unwrap_or_default();
    check_query("query", &query)?;
    let limit = body.limit.unwrap_or(10);
    check_limit(limit)?;
    let offset = body.offset.unwrap_or(0);
    let scope = match body.diary_id {
        Some(id) => {
            tenancy::diary(&s.engine, &caller, id)?;
            Scope::Diaries { ids: vec![id] }
        }
        None => Scope::Team {
            team_id: caller.team_id,
        },
    };
    let types = body.entry_types.unwrap_or_default();
    let filters = Filters {
        tags: body.tags.unwrap_or_default(),
        exclude_tags: body.exclude_tags.unwrap_or_default(),
        entry_types: parse_types("entryTypes", types.iter().map(String::as_str))?,
        exclude_superseded: body.exclude_superseded.unwrap_or(false),
        created_before: body
            .created_before
            .as_deref()
            .map(|t| parse_time("createdBefore", t))
            .transpose()?,
        created_after: body
            .created_after
            .as_deref()
            .map(|t| parse_time("createdAfter", t))
            .transpose()?,
        ..Filters::default()
    };
    let defaults = Weights::default();
    let req = SearchRequest {
        query,
        scope,
        filters,
        limit,
        offset,
        weights: Weights {
            relevance: body.w_relevance.unwrap_or(defaults.relevance),
            recency: body.w_recency.unwrap_or(defaults.recency),
            importance: body.w_importance.unwrap_or(defaults.importance),
        },
        explain: body.explain.unwrap_or(false),
        ..SearchRequest::default()
    };
    let e = s.engine.clone();
    let resp = blocking(move || e.search(&req)).await?;
    metrics::counter!("moltsearch_searches_total", "mode" => resp.mode_name()).increment(1);
    Ok((
        freshness_headers(&s),
        Json(SearchResponseView {
            total: resp.total,
            total_is_lower_bound: resp.total_is_lower_bound,
            limit,
            offset,
            mode: resp.mode_name().to_string(),
            warnings: resp.warnings.clone(),
            results: results(resp),
        }),
    ))
}

/// With Postgres as the truth, how current the index that answered is:
/// `X-Moltsearch-Applied-Seq` (the change-log sequence it holds) and
/// `X-Moltsearch-Index-Age-Ms` (since it was last known to hold everything
/// committed; grows while the database is unreachable).
fn freshness_headers(s: &AppState) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(f) = &s.freshness {
        let (seq, age) = f.applied();
        h.insert("x-moltsearch-applied-seq", HeaderValue::from(seq));
        if let Some(age) = age {
            h.insert(
                "x-moltsearch-index-age-ms",
                HeaderValue::from(u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
            );
        }
    }
    h
}

/// Searches every public diary; no key needed (limited per client address).
#[utoipa::path(get, operation_id = "searchPublicFeed", path = "/public/feed/search", tag = "search", params(FeedQuery),
    responses((status = 200, body = FeedResponse), ReadErrors))]
pub async fn public_feed(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> ApiResult<(HeaderMap, Json<FeedResponse>)> {
    s.limits.public(peer.ip())?;
    let query = q.q.unwrap_or_default();
    check_query("q", &query)?;
    let limit = q.limit.unwrap_or(10);
    check_limit(limit)?;
    let req = SearchRequest {
        query: query.clone(),
        scope: Scope::Public,
        filters: Filters {
            tags: q.tag.into_iter().collect(),
            entry_types: parse_types("entryTypes", split_list(q.entry_types.as_deref()))?,
            exclude_superseded: q.exclude_superseded.unwrap_or(false),
            ..Filters::default()
        },
        limit,
        ..SearchRequest::default()
    };
    let e = s.engine.clone();
    let resp = blocking(move || e.search(&req)).await?;
    Ok((
        freshness_headers(&s),
        Json(FeedResponse {
            items: results(resp),
            query,
        }),
    ))
}

trait ModeName {
    fn mode_name(&self) -> &'static str;
}

impl ModeName for SearchResponse {
    fn mode_name(&self) -> &'static str {
        match self.mode {
            moltsearch_engine::SearchMode::Hybrid => "hybrid",
            moltsearch_engine::SearchMode::Vector => "vector",
            moltsearch_engine::SearchMode::Text => "text",
        }
    }
}
