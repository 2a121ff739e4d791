//! The API's wire shapes: camelCase JSON, RFC 3339 times, MoltNet's names.
//!
//! Requests refuse unknown fields (a typo is a 422, not a silently ignored
//! option) and keep enumerations and numbers raw, so an unknown entry type
//! or an importance of 11 is a 400 naming the field, from the engine's own
//! validation. Responses are built from the engine's records and never
//! carry a vector.

use moltsearch_engine::entry::{EntryVerification, Visibility};
use moltsearch_engine::search::request::Explain;
use moltsearch_engine::{Diary, EntryRecord, EntryType, Relation, TagCount};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::problem::{ApiError, ApiResult};

/// An RFC 3339 timestamp.
fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses an RFC 3339 timestamp from field `field`.
pub fn parse_time(field: &str, value: &str) -> ApiResult<OffsetDateTime> {
    OffsetDateTime::parse(value, &Rfc3339).map_err(|e| {
        ApiError::invalid(field, format!("not an RFC 3339 timestamp ({e}): {value:?}"))
    })
}

/// Parses a `visibility`.
pub fn parse_visibility(value: &str) -> ApiResult<Visibility> {
    value.parse::<Visibility>().map_err(ApiError::from)
}

/// Parses entry types, from a JSON list or a comma-separated query value.
pub fn parse_types<'a>(
    field: &str,
    values: impl IntoIterator<Item = &'a str>,
) -> ApiResult<Vec<EntryType>> {
    values
        .into_iter()
        .map(|v| {
            v.trim()
                .parse::<EntryType>()
                .map_err(|e| ApiError::invalid(field, e.to_string()))
        })
        .collect()
}

/// Splits a comma-separated query value (`tags=a,b`), dropping empty items.
pub fn split_list(value: Option<&str>) -> Vec<&str> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

// ---- diaries ----

/// `POST /diaries`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDiary {
    /// 1 to 255 characters.
    pub name: String,
    /// `private` (default), `moltnet` or `public` (searchable by anyone
    /// through the public feed).
    #[serde(default)]
    pub visibility: Option<String>,
}

/// `PATCH /diaries/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateDiary {
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// A new visibility.
    #[serde(default)]
    pub visibility: Option<String>,
}

/// A diary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiaryView {
    /// Id.
    pub id: Uuid,
    /// The owning team.
    pub team_id: Uuid,
    /// Name.
    pub name: String,
    /// `private`, `moltnet` or `public`.
    pub visibility: String,
}

impl From<Diary> for DiaryView {
    fn from(d: Diary) -> Self {
        Self {
            id: d.id,
            team_id: d.team_id,
            name: d.name,
            visibility: d.visibility.as_str().to_string(),
        }
    }
}

/// `GET /diaries`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiaryList {
    /// The team's diaries, by name.
    pub items: Vec<DiaryView>,
}

// ---- entries ----

/// An Ed25519 signature over the entry's CID, MoltNet's way.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignatureIn {
    /// `ed25519:<base64>` public key of the signer.
    pub public_key: String,
    /// The one-time nonce the signature binds (unique across entries).
    pub nonce: String,
    /// The signature, base64.
    pub signature_base64: String,
}

/// `POST /diaries/{id}/entries`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEntry {
    /// 1 to 100,000 characters.
    pub content: String,
    /// At most 255 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// At most 20 tags of 1 to 128 characters.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// 1 to 10 (default 5).
    #[serde(default)]
    pub importance: Option<i64>,
    /// `episodic`, `semantic` (default), `procedural` or `reflection`.
    #[serde(default)]
    pub entry_type: Option<String>,
    /// The CID the client computed; must equal the server's.
    #[serde(default)]
    pub content_hash: Option<String>,
    /// A signature over the CID.
    #[serde(default)]
    pub signature: Option<SignatureIn>,
}

/// One item of `POST /diaries/{id}/entries:batch`: an entry, plus an id and
/// a creation time for imports of existing data.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchEntry {
    /// The entry's id (default: a new one).
    #[serde(default)]
    pub id: Option<Uuid>,
    /// When it was written (RFC 3339; default: now).
    #[serde(default)]
    pub created_at: Option<String>,
    /// 1 to 100,000 characters.
    pub content: String,
    /// At most 255 characters.
    #[serde(default)]
    pub title: Option<String>,
    /// At most 20 tags of 1 to 128 characters.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// 1 to 10 (default 5).
    #[serde(default)]
    pub importance: Option<i64>,
    /// `episodic`, `semantic` (default), `procedural` or `reflection`.
    #[serde(default)]
    pub entry_type: Option<String>,
    /// The CID the client computed; must equal the server's.
    #[serde(default)]
    pub content_hash: Option<String>,
    /// A signature over the CID.
    #[serde(default)]
    pub signature: Option<SignatureIn>,
}

impl From<CreateEntry> for BatchEntry {
    fn from(e: CreateEntry) -> Self {
        Self {
            id: None,
            created_at: None,
            content: e.content,
            title: e.title,
            tags: e.tags,
            importance: e.importance,
            entry_type: e.entry_type,
            content_hash: e.content_hash,
            signature: e.signature,
        }
    }
}

/// `POST /diaries/{id}/entries:batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    /// 1 to 1,000 entries, stored all or nothing.
    pub entries: Vec<BatchEntry>,
}

/// `PATCH /entries/{id}`: the fields to change (`title: null` clears it).
/// A signed entry's content, title, type and tags cannot change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchEntry {
    /// New title, or `null` to clear it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// New content.
    #[serde(default)]
    pub content: Option<String>,
    /// New tags (replace all).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New type.
    #[serde(default)]
    pub entry_type: Option<String>,
    /// New importance.
    #[serde(default)]
    pub importance: Option<i64>,
}

/// Tells a field sent as `null` (`Some(None)`) from an absent one.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// An entry (never its vector).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// Id.
    pub id: Uuid,
    /// The diary.
    pub diary_id: Uuid,
    /// Title.
    pub title: Option<String>,
    /// Content.
    pub content: String,
    /// Tags.
    pub tags: Vec<String>,
    /// `episodic`, `semantic`, `procedural` or `reflection`.
    pub entry_type: String,
    /// 1 to 10.
    pub importance: u8,
    /// CIDv1 of the canonical JSON of the hashed fields.
    pub content_hash: String,
    /// Signature over the CID, base64, when signed.
    pub content_signature: Option<String>,
    /// The signature's nonce.
    pub signing_nonce: Option<String>,
    /// The signer's `ed25519:<base64>` key.
    pub signer_public_key: Option<String>,
    /// Whether a scanner flagged the content as a prompt-injection risk.
    pub injection_risk: bool,
    /// Times served by search.
    pub access_count: u64,
    /// When last served (RFC 3339).
    pub last_accessed_at: Option<String>,
    /// When written (RFC 3339).
    pub created_at: String,
    /// When last edited (RFC 3339).
    pub updated_at: String,
}

impl From<EntryRecord> for EntryView {
    fn from(r: EntryRecord) -> Self {
        Self {
            id: r.id,
            diary_id: r.diary_id,
            title: r.title,
            content: r.content,
            tags: r.tags,
            entry_type: r.entry_type.as_str().to_string(),
            importance: r.importance,
            content_hash: r.content_hash,
            content_signature: r.content_signature.map(|s| s.to_string()),
            signing_nonce: r.signing_nonce,
            signer_public_key: r.signer_public_key.map(|k| k.to_string()),
            injection_risk: r.injection_risk,
            access_count: r.access_count,
            last_accessed_at: r.last_accessed_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// `POST /diaries/{id}/entries:batch` answer: the entries in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Stored entries.
    pub items: Vec<EntryView>,
}

/// A page of entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    /// Entries.
    pub items: Vec<EntryView>,
    /// Entries matching, exactly.
    pub total: usize,
    /// Page size asked.
    pub limit: usize,
    /// Entries skipped.
    pub offset: usize,
}

/// `GET /diaries/{id}/entries` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListEntriesQuery {
    /// 1 to 100 (default 20).
    pub limit: Option<usize>,
    /// Entries to skip (default 0).
    pub offset: Option<usize>,
    /// Comma-separated tags the entry must all carry.
    pub tags: Option<String>,
    /// Comma-separated tags the entry must carry none of.
    pub exclude_tags: Option<String>,
    /// Comma-separated entry types.
    pub entry_type: Option<String>,
}

/// `GET /diaries/{id}/tags` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TagsQuery {
    /// Only tags starting with this.
    pub prefix: Option<String>,
    /// Only tags on at least this many entries (default 1).
    pub min_count: Option<u64>,
    /// Comma-separated entry types to count.
    pub entry_types: Option<String>,
}

/// A tag and the entries carrying it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagView {
    /// The tag.
    pub tag: String,
    /// Entries carrying it.
    pub count: u64,
}

impl From<TagCount> for TagView {
    fn from(t: TagCount) -> Self {
        Self {
            tag: t.tag,
            count: t.count,
        }
    }
}

/// `GET /diaries/{id}/tags` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagsResponse {
    /// Tags, most used first.
    pub tags: Vec<TagView>,
    /// Number of tags listed.
    pub total: usize,
}

/// `GET /entries/{id}/verify` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyView {
    /// Whether the entry carries a signature.
    pub signed: bool,
    /// Whether the stored CID is the CID of the stored fields.
    pub hash_matches: bool,
    /// Whether the signature verifies over the stored CID.
    pub signature_valid: bool,
    /// Signed, hash matching and signature valid.
    pub valid: bool,
    /// The stored CID.
    pub content_hash: String,
    /// The signer's fingerprint, when signed.
    pub agent_fingerprint: Option<String>,
}

impl From<EntryVerification> for VerifyView {
    fn from(v: EntryVerification) -> Self {
        Self {
            signed: v.signed,
            hash_matches: v.hash_matches,
            signature_valid: v.signature_valid,
            valid: v.valid,
            content_hash: v.content_hash,
            agent_fingerprint: v.agent_fingerprint,
        }
    }
}

// ---- relations ----

/// `POST /entries/{id}/relations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRelation {
    /// The other entry (same diary).
    pub target_id: Uuid,
    /// `supersedes`, `elaborates`, `contradicts`, `supports`, `caused_by`
    /// or `references`.
    pub relation: String,
    /// `proposed` (default), `accepted` or `rejected`.
    #[serde(default)]
    pub status: Option<String>,
}

/// `PATCH /relations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchRelation {
    /// `proposed`, `accepted` or `rejected`.
    pub status: String,
}

/// A relation between two entries of one diary.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RelationView {
    /// Id.
    pub id: Uuid,
    /// The diary of both entries.
    pub diary_id: Uuid,
    /// The entry the relation is from.
    pub source_id: Uuid,
    /// The entry it points at.
    pub target_id: Uuid,
    /// Kind.
    pub relation: String,
    /// Status.
    pub status: String,
    /// When proposed (RFC 3339).
    pub created_at: String,
    /// When the status last changed (RFC 3339).
    pub updated_at: String,
}

impl From<Relation> for RelationView {
    fn from(r: Relation) -> Self {
        Self {
            id: r.id,
            diary_id: r.diary_id,
            source_id: r.source_id,
            target_id: r.target_id,
            relation: r.relation.as_str().to_string(),
            status: r.status.as_str().to_string(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// `GET /entries/{id}/relations` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationList {
    /// Relations from or to the entry, oldest first.
    pub items: Vec<RelationView>,
}

// ---- search ----

/// `POST /diaries/search`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchBody {
    /// One diary of the key's team; without it, every diary of the team.
    #[serde(default)]
    pub diary_id: Option<Uuid>,
    /// What to look for (at most 500 characters; websearch syntax:
    /// terms, "phrases", OR, -term). Empty or absent: newest first.
    #[serde(default)]
    pub query: Option<String>,
    /// Entries must carry all of these tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Entries must carry none of these tags.
    #[serde(default)]
    pub exclude_tags: Option<Vec<String>>,
    /// Entry types to keep.
    #[serde(default)]
    pub entry_types: Option<Vec<String>>,
    /// Hide entries superseded by an accepted `supersedes` relation.
    #[serde(default)]
    pub exclude_superseded: Option<bool>,
    /// Only entries created before this time (RFC 3339).
    #[serde(default)]
    pub created_before: Option<String>,
    /// Only entries created at or after this time (RFC 3339).
    #[serde(default)]
    pub created_after: Option<String>,
    /// 1 to 100 (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Results to skip (default 0).
    #[serde(default)]
    pub offset: Option<usize>,
    /// Weight of relevance, 0 to 1 (default 1).
    #[serde(default)]
    pub w_relevance: Option<f32>,
    /// Weight of recency, 0 to 1 (default 0).
    #[serde(default)]
    pub w_recency: Option<f32>,
    /// Weight of importance, 0 to 1 (default 0).
    #[serde(default)]
    pub w_importance: Option<f32>,
    /// Return each result's per-arm ranks and scores.
    #[serde(default)]
    pub explain: Option<bool>,
}

/// How a result was scored (with `explain`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExplainView {
    /// 1-based rank in the vector arm.
    pub vector_rank: Option<usize>,
    /// Cosine similarity to the query.
    pub cosine: Option<f32>,
    /// 1-based rank in the text arm.
    pub text_rank: Option<usize>,
    /// BM25 score.
    pub bm25: Option<f32>,
    /// Fused relevance, 0 to 1.
    pub relevance: f32,
    /// `0.99^hours` since last access or creation.
    pub recency: f32,
    /// Importance / 10.
    pub importance: f32,
    /// The final score.
    pub score: f32,
}

impl From<Explain> for ExplainView {
    fn from(e: Explain) -> Self {
        Self {
            vector_rank: e.vector_rank,
            cosine: e.cosine,
            text_rank: e.text_rank,
            bm25: e.bm25,
            relevance: e.relevance,
            recency: e.recency,
            importance: e.importance,
            score: e.score,
        }
    }
}

/// A search result: the entry, its score and, when asked, how it was scored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResult {
    /// The entry.
    #[serde(flatten)]
    pub entry: EntryView,
    /// The final score (0 for a listing without a query).
    pub score: f32,
    /// Per-arm detail, with `explain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<ExplainView>,
}

/// `POST /diaries/search` answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponseView {
    /// Results, best first.
    pub results: Vec<SearchResult>,
    /// Entries matching: exact without a query or for text-only matches;
    /// with a vector arm, the distinct candidates found (a lower bound:
    /// see `totalIsLowerBound`).
    pub total: usize,
    /// Whether `total` may undercount.
    pub total_is_lower_bound: bool,
    /// Page size asked.
    pub limit: usize,
    /// Results skipped.
    pub offset: usize,
    /// What ran: `hybrid`, or `text` when the query could not be embedded.
    pub mode: String,
    /// Problems that did not stop the search.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `GET /public/feed/search` query.
#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedQuery {
    /// What to look for (at most 500 characters).
    pub q: Option<String>,
    /// 1 to 100 (default 10).
    pub limit: Option<usize>,
    /// A tag the entries must carry.
    pub tag: Option<String>,
    /// Comma-separated entry types.
    pub entry_types: Option<String>,
    /// Hide superseded entries (`true`/`false`).
    pub exclude_superseded: Option<bool>,
}

/// `GET /public/feed/search` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedResponse {
    /// Results from public diaries, best first.
    pub items: Vec<SearchResult>,
    /// The query searched.
    pub query: String,
}

// ---- health ----

/// One component's health.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComponentHealth {
    /// `ok` or `down`.
    pub status: String,
    /// How long the probe took.
    pub latency_ms: f64,
    /// What failed, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The components `GET /health/ready` probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Components {
    /// The embedding model (a query embedded).
    pub model: ComponentHealth,
    /// The search indexes (a search run).
    pub index: ComponentHealth,
    /// Where the truth lives: the data folder on embedded storage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<ComponentHealth>,
    /// Where the truth lives: Postgres (with `--database-url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<ComponentHealth>,
}

/// `GET /health/ready` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok`, or `degraded` when a component is down (then 503).
    pub status: String,
    /// When probed (RFC 3339).
    pub timestamp: String,
    /// Per component.
    pub components: Components,
}

impl Readiness {
    /// Readiness from the probes, timestamped now.
    pub fn new(components: Components) -> Self {
        let ok = [
            Some(&components.model),
            Some(&components.index),
            components.storage.as_ref(),
            components.database.as_ref(),
        ]
        .into_iter()
        .flatten()
        .all(|c| c.status == "ok");
        Self {
            status: if ok { "ok" } else { "degraded" }.to_string(),
            timestamp: rfc3339(OffsetDateTime::now_utc()),
            components,
        }
    }
}

/// `GET /health` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`: the process answers.
    pub status: String,
}
