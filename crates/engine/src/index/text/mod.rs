//! The BM25 arm of hybrid search: a tantivy index over entries' title,
//! content and tags, answering with the engine's document ids and scores.
//!
//! # Design
//!
//! - **Ids.** Documents are keyed by the engine's dense
//!   [`DocId`], stored in an indexed + fast `u64`
//!   field: indexed to delete or replace by id, fast to turn tantivy's
//!   segment-local addresses back into ids during collection. Nothing else
//!   is stored (see [`schema`]).
//! - **Fields.** One `body` field holds title, content and tags and carries
//!   the BM25 score and the matching; `title` and `tags` are indexed again
//!   for small boosts, and each tag once more whole and lower-cased, so a
//!   tag typed as a word (`k8s-prod`, `ed25519`) meets it exactly (see
//!   [`schema`] for why one combined field).
//! - **Analysis.** tantivy's `en_stem` analyzer (alphanumeric runs,
//!   lower-cased, English Snowball stemmer). Queries come from
//!   [`crate::query`] (Postgres `websearch_to_tsquery` syntax, stop
//!   words dropped like Postgres) and their tokens go through the fields'
//!   own analyzer, so stemming agrees (`deploying` finds `deployed`).
//! - **Scoring.** BM25 (tantivy's k1 = 1.2, b = 0.75) per field, times the
//!   field's [`FieldBoosts`] weight, summed; the defaults were measured on
//!   SciFact train.
//! - **Matching.** [`TextMatch::All`] is MoltNet's `@@` semantics (all words,
//!   Postgres precedence); [`TextMatch::Any`] lets any bare word match while
//!   phrases stay required and negations excluded (much better recall for
//!   natural-language queries; see [`TextMatch`]).
//! - **Filters inside the search.** An optional allow-list
//!   ([`RoaringBitmap`] of ids) is checked for every matching document
//!   while the query runs, before it enters the top-k or the count, so
//!   `total_matches` and pagination are those of the filtered result.
//! - **Concurrency and visibility.** One [`IndexWriter`] behind a mutex
//!   (writes are batched by the engine); searches take a snapshot
//!   [`Searcher`] from a reader with
//!   [`ReloadPolicy::Manual`] and never block on the writer. Writes become
//!   visible to searches **when [`TextIndex::commit`] returns** (it commits
//!   and then reloads the reader), not before; a search running during a
//!   commit sees the state before or after it, never half of it.
//! - **Durability.** For an index on disk, what `commit` returned for
//!   survives a crash or reopen; uncommitted writes are lost.

mod build;
mod error;
mod overlay;
pub mod schema;

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;

use parking_lot::Mutex;
use roaring::RoaringBitmap;
use tantivy::directory::MmapDirectory;
use tantivy::query::{EnableScoring, Query};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
    TERMINATED,
};

pub use error::{IndexLocation, TextIndexError, TextOp};
use schema::Fields;

use crate::index::DocId;
use crate::query::ParsedQuery;
pub use crate::query::TextMatch;

/// Memory budget of the index writer, split across its indexing threads
/// (tantivy flushes a segment when a thread's share fills up).
pub const WRITER_MEMORY_BYTES: usize = 50_000_000;

/// Per-field weights of the BM25 score: a literal's score is the sum of
/// each field's BM25 times the field's boost.
///
/// Chosen on SciFact **train** only (never test or Cranfield); nDCG@10 of
/// [`TextMatch::Any`] on train, `body` = 1:
///
/// | title boost | 0 | 0.05 | 0.1 | **0.15** | 0.2 | 0.25 | 0.4 |
/// |---|---|---|---|---|---|---|---|
/// | train | 0.6912 | 0.6943 | 0.6953 | **0.6963** | 0.6960 | 0.6941 | 0.6912 |
///
/// (BM25 per field instead of one `body` field peaked at 0.6854 with title
/// 0.5 + content 1; disjunction-max instead of a sum, 0.6951.) SciFact has no
/// tags, so the tag boosts are a judgement: a tag word weighs like a title
/// word, and a literal equal to a whole tag gets a further 0.3, so a tag
/// match outranks the same word in the content.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldBoosts {
    /// Boost of `body` (title + content + tags). `body` decides whether a
    /// literal matches, so 0 only removes its score, not its matches.
    pub body: f32,
    /// Extra boost of the title (0 ignores it).
    pub title: f32,
    /// Extra boost of tags searched as words (0 ignores it).
    pub tags: f32,
    /// Boost of a literal equal to a whole tag, case-insensitive (0 ignores
    /// it, and then a tag matches only through its words).
    pub exact_tag: f32,
}

impl Default for FieldBoosts {
    fn default() -> Self {
        FieldBoosts {
            body: 1.0,
            title: 0.15,
            tags: 0.15,
            exact_tag: 0.3,
        }
    }
}

/// One page of a text search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextHits {
    /// Documents and their BM25 scores, best first (ties by ascending id).
    pub hits: Vec<(DocId, f32)>,
    /// How many documents match the query and the allow-list in total,
    /// regardless of `limit` and `offset`.
    pub total_matches: usize,
}

/// A BM25 full-text index over diary entries. `Send + Sync`: share it in an
/// `Arc`; search from any number of threads while one thread writes.
pub struct TextIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    fields: Fields,
    boosts: FieldBoosts,
    text_analyzer: TextAnalyzer,
    tag_analyzer: TextAnalyzer,
    location: IndexLocation,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex")
            .field("location", &self.location)
            .field("boosts", &self.boosts)
            .finish_non_exhaustive()
    }
}

impl TextIndex {
    /// A new, empty index in memory (tests, ephemeral engines).
    pub fn create_in_ram() -> Result<TextIndex, TextIndexError> {
        let (schema, fields) = schema::schema();
        TextIndex::from_index(
            Index::create_in_ram(schema),
            fields,
            IndexLocation::InMemory,
        )
    }

    /// Opens the index in `dir`, creating the directory and an empty index
    /// if needed. Fails if the directory holds an index with another schema
    /// or is already open for writing (tantivy's writer lock).
    pub fn open_or_create(dir: impl AsRef<Path>) -> Result<TextIndex, TextIndexError> {
        let path = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| TextIndexError::CreateDir {
            path: path.clone(),
            source,
        })?;
        let directory = MmapDirectory::open(&path).map_err(|source| TextIndexError::OpenDir {
            path: path.clone(),
            source,
        })?;
        let location = IndexLocation::Dir(path);
        let (schema, fields) = schema::schema();
        let index =
            Index::open_or_create(directory, schema).map_err(|source| TextIndexError::Tantivy {
                op: TextOp::Open,
                location: location.clone(),
                source,
            })?;
        TextIndex::from_index(index, fields, location)
    }

    /// Opens the index in `dir` for a process that must not write there
    /// (another may own it): adds, deletes and commits work as usual but
    /// stay in this process's memory (an overlay directory, `index::text::overlay`). Fails if `dir`
    /// holds no readable index.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<TextIndex, TextIndexError> {
        let path = dir.as_ref().to_path_buf();
        let directory = MmapDirectory::open(&path).map_err(|source| TextIndexError::OpenDir {
            path: path.clone(),
            source,
        })?;
        let location = IndexLocation::Dir(path);
        let (schema, fields) = schema::schema();
        let index = Index::open(overlay::OverlayDirectory::new(directory)).map_err(|source| {
            TextIndexError::Tantivy {
                op: TextOp::Open,
                location: location.clone(),
                source,
            }
        })?;
        if index.schema() != schema {
            return Err(TextIndexError::Tantivy {
                op: TextOp::Open,
                location,
                source: tantivy::TantivyError::SchemaError(
                    "the folder's index has another schema".into(),
                ),
            });
        }
        TextIndex::from_index(index, fields, location)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        location: IndexLocation,
    ) -> Result<TextIndex, TextIndexError> {
        let err = |op| {
            let location = location.clone();
            move |source| TextIndexError::Tantivy {
                op,
                location,
                source,
            }
        };
        schema::register_analyzers(&index);
        let text_analyzer = index
            .tokenizer_for_field(fields.body)
            .map_err(err(TextOp::Open))?;
        let tag_analyzer = index
            .tokenizer_for_field(fields.tag)
            .map_err(err(TextOp::Open))?;
        let writer = index
            .writer(WRITER_MEMORY_BYTES)
            .map_err(err(TextOp::CreateWriter))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(err(TextOp::OpenReader))?;
        Ok(TextIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            boosts: FieldBoosts::default(),
            text_analyzer,
            tag_analyzer,
            location,
        })
    }

    /// Replaces the field boosts (query-time only: takes effect for the
    /// next search, no reindexing).
    pub fn with_boosts(mut self, boosts: FieldBoosts) -> TextIndex {
        self.boosts = boosts;
        self
    }

    /// The field boosts in force.
    pub fn boosts(&self) -> FieldBoosts {
        self.boosts
    }

    /// Where the index lives.
    pub fn location(&self) -> &IndexLocation {
        &self.location
    }

    fn error(&self, op: TextOp) -> impl FnOnce(tantivy::TantivyError) -> TextIndexError + '_ {
        move |source| TextIndexError::Tantivy {
            op,
            location: self.location.clone(),
            source,
        }
    }

    fn document(
        &self,
        doc: DocId,
        title: Option<&str>,
        content: &str,
        tags: &[String],
    ) -> TantivyDocument {
        let f = &self.fields;
        let mut document = TantivyDocument::new();
        document.add_u64(f.doc, u64::from(doc));
        if let Some(title) = title {
            document.add_text(f.body, title);
            document.add_text(f.title, title);
        }
        document.add_text(f.body, content);
        for tag in tags {
            document.add_text(f.body, tag);
            document.add_text(f.tags, tag);
            document.add_text(f.tag, tag);
        }
        document
    }

    /// Queues a document for indexing; visible after the next
    /// [`commit`](TextIndex::commit).
    ///
    /// Adding an id that is already indexed adds a second copy: to replace
    /// an entry, [`delete`](TextIndex::delete) it first (in the same batch
    /// is fine: a delete only affects documents added before it), or use
    /// [`replace`](TextIndex::replace).
    pub fn add(
        &self,
        doc: DocId,
        title: Option<&str>,
        content: &str,
        tags: &[String],
    ) -> Result<(), TextIndexError> {
        let document = self.document(doc, title, content, tags);
        self.writer
            .lock()
            .add_document(document)
            .map_err(self.error(TextOp::Add))?;
        Ok(())
    }

    /// Queues the deletion of every document with this id; effective after
    /// the next [`commit`](TextIndex::commit). Deleting an unknown id is a
    /// no-op. Cannot fail today (tantivy queues deletes in memory); the
    /// `Result` keeps every write fallible alike for callers.
    pub fn delete(&self, doc: DocId) -> Result<(), TextIndexError> {
        let term = Term::from_field_u64(self.fields.doc, u64::from(doc));
        self.writer.lock().delete_term(term);
        Ok(())
    }

    /// Deletes `doc` and adds its new version, under one lock so no other
    /// write interleaves; visible after the next commit.
    pub fn replace(
        &self,
        doc: DocId,
        title: Option<&str>,
        content: &str,
        tags: &[String],
    ) -> Result<(), TextIndexError> {
        let document = self.document(doc, title, content, tags);
        let writer = self.writer.lock();
        writer.delete_term(Term::from_field_u64(self.fields.doc, u64::from(doc)));
        writer
            .add_document(document)
            .map_err(self.error(TextOp::Add))?;
        Ok(())
    }

    /// Makes every queued write durable and visible: commits, then reloads
    /// the reader. When this returns, new searches see the writes.
    /// Meant to be called once per batch of writes (each commit writes
    /// segment files and costs milliseconds).
    pub fn commit(&self) -> Result<(), TextIndexError> {
        let mut writer = self.writer.lock();
        writer.commit().map_err(self.error(TextOp::Commit))?;
        self.reader.reload().map_err(self.error(TextOp::Reload))?;
        Ok(())
    }

    /// Like [`commit`](TextIndex::commit), and records `stamp` with the
    /// commit (tantivy's commit payload) so a reopened index can tell which
    /// write-ahead-log position it includes ([`TextIndex::stamp`]).
    pub fn commit_stamped(&self, stamp: u64) -> Result<(), TextIndexError> {
        let mut writer = self.writer.lock();
        let mut prepared = writer
            .prepare_commit()
            .map_err(self.error(TextOp::Commit))?;
        prepared.set_payload(&stamp.to_string());
        prepared.commit().map_err(self.error(TextOp::Commit))?;
        self.reader.reload().map_err(self.error(TextOp::Reload))?;
        Ok(())
    }

    /// The stamp of the last [`commit_stamped`](TextIndex::commit_stamped)
    /// (`None` for a new index, or one last committed without a stamp).
    pub fn stamp(&self) -> Result<Option<u64>, TextIndexError> {
        let metas = self.index.load_metas().map_err(self.error(TextOp::Open))?;
        Ok(metas.payload.and_then(|p| p.parse().ok()))
    }

    /// The ids of every searchable document (as of the last commit), read
    /// from the id fast field: what the engine compares with its log on open
    /// to index only what is missing and delete what is gone.
    pub fn doc_ids(&self) -> Result<RoaringBitmap, TextIndexError> {
        let searcher = self.reader.searcher();
        let mut ids = RoaringBitmap::new();
        for segment in searcher.segment_readers() {
            let column = segment
                .fast_fields()
                .u64(schema::DOC)
                .map_err(self.error(TextOp::Open))?;
            let alive = segment.alive_bitset();
            for local in 0..segment.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(local)) {
                    continue;
                }
                if let Some(id) = column.first(local) {
                    ids.insert(id as DocId);
                }
            }
        }
        Ok(ids)
    }

    /// Number of searchable documents (as of the last commit).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn build(&self, query: &ParsedQuery, mode: TextMatch) -> Option<Box<dyn Query>> {
        build::QueryBuilder {
            fields: &self.fields,
            boosts: &self.boosts,
            text_analyzer: self.text_analyzer.clone(),
            tag_analyzer: self.tag_analyzer.clone(),
        }
        .build(query, mode)
    }

    /// Searches: the `limit` best documents after skipping `offset`, by
    /// BM25, among those matching `query` (under `mode`) and, if given,
    /// whose id is in `allow`. The allow-list is applied inside the search,
    /// so `total_matches` counts only allowed documents and a page is never
    /// short because of filtering. An empty query matches nothing.
    pub fn search(
        &self,
        query: &ParsedQuery,
        mode: TextMatch,
        limit: usize,
        offset: usize,
        allow: Option<&RoaringBitmap>,
    ) -> Result<TextHits, TextIndexError> {
        self.collect(query, mode, limit, offset, allow, None)
    }

    /// Like [`search`](TextIndex::search), and also returns the ids of every
    /// allowed document that matches (the set `total_matches` counts). The
    /// hybrid search passes it to the vector arm as its filter when the
    /// query has a negation; the search visits these documents anyway, so
    /// the set costs one bitmap insert per match.
    pub fn search_matching(
        &self,
        query: &ParsedQuery,
        mode: TextMatch,
        limit: usize,
        offset: usize,
        allow: Option<&RoaringBitmap>,
    ) -> Result<(TextHits, RoaringBitmap), TextIndexError> {
        let mut matched = RoaringBitmap::new();
        let hits = self.collect(query, mode, limit, offset, allow, Some(&mut matched))?;
        Ok((hits, matched))
    }

    fn collect(
        &self,
        query: &ParsedQuery,
        mode: TextMatch,
        limit: usize,
        offset: usize,
        allow: Option<&RoaringBitmap>,
        mut matched: Option<&mut RoaringBitmap>,
    ) -> Result<TextHits, TextIndexError> {
        let Some(tantivy_query) = self.build(query, mode) else {
            return Ok(TextHits::default());
        };
        let searcher = self.reader.searcher();
        let err = || self.error(TextOp::Search);
        let weight = tantivy_query
            .weight(EnableScoring::enabled_from_searcher(&searcher))
            .map_err(err())?;
        let mut top = TopK::new(offset.saturating_add(limit));
        let mut total = 0usize;
        for segment in searcher.segment_readers() {
            let ids = segment.fast_fields().u64(schema::DOC).map_err(err())?;
            let alive = segment.alive_bitset();
            weight
                .for_each(segment, &mut |doc, score| {
                    if alive.is_some_and(|a| a.is_deleted(doc)) {
                        return;
                    }
                    let Some(id) = ids.first(doc).and_then(|id| DocId::try_from(id).ok()) else {
                        return;
                    };
                    if allow.is_some_and(|allow| !allow.contains(id)) {
                        return;
                    }
                    total += 1;
                    top.push(id, score);
                    if let Some(m) = matched.as_deref_mut() {
                        m.insert(id);
                    }
                })
                .map_err(err())?;
        }
        let hits = top.into_sorted().into_iter().skip(offset).collect();
        Ok(TextHits {
            hits,
            total_matches: total,
        })
    }

    /// Which of `candidates` match `query` under `mode` (no scoring). The
    /// hybrid search uses it for the negation rule: a vector hit for a
    /// query with a negation is kept only if it matches the full text
    /// query. Costs a term lookup per candidate and segment, not a scan of
    /// the query's matches, so it stays cheap for queries such as
    /// `-staging` that match almost everything. Unknown ids never match.
    pub fn matching(
        &self,
        query: &ParsedQuery,
        mode: TextMatch,
        candidates: &[DocId],
    ) -> Result<RoaringBitmap, TextIndexError> {
        let mut matched = RoaringBitmap::new();
        if candidates.is_empty() {
            return Ok(matched);
        }
        let Some(tantivy_query) = self.build(query, mode) else {
            return Ok(matched);
        };
        let searcher = self.reader.searcher();
        let err = || self.error(TextOp::Match);
        let weight = tantivy_query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(err())?;
        let mut targets: Vec<(tantivy::DocId, DocId)> = Vec::new();
        for segment in searcher.segment_readers() {
            targets.clear();
            let postings_index = segment.inverted_index(self.fields.doc).map_err(err())?;
            for &id in candidates {
                let term = Term::from_field_u64(self.fields.doc, u64::from(id));
                let postings = postings_index
                    .read_postings(&term, IndexRecordOption::Basic)
                    .map_err(|e| err()(e.into()))?;
                if let Some(mut postings) = postings {
                    while postings.doc() != TERMINATED {
                        if segment
                            .alive_bitset()
                            .is_none_or(|a| a.is_alive(postings.doc()))
                        {
                            targets.push((postings.doc(), id));
                        }
                        postings.advance();
                    }
                }
            }
            if targets.is_empty() {
                continue;
            }
            targets.sort_unstable();
            let mut scorer = weight.scorer(segment, 1.0).map_err(err())?;
            for &(target, id) in &targets {
                if scorer.doc() < target {
                    scorer.seek(target);
                }
                if scorer.doc() == target {
                    matched.insert(id);
                }
            }
        }
        Ok(matched)
    }

    /// Which documents of `allow` match `query` under `mode` (no scoring):
    /// the vector arm's filter for a query with a negation when no text
    /// search runs beside it. A small allow-list is checked candidate by
    /// candidate ([`matching`](TextIndex::matching), a term lookup each);
    /// a large one by one pass over the query's matches, which costs about a
    /// nanosecond a document where a lookup costs a microsecond or so.
    pub fn matching_in(
        &self,
        query: &ParsedQuery,
        mode: TextMatch,
        allow: &RoaringBitmap,
    ) -> Result<RoaringBitmap, TextIndexError> {
        let searcher = self.reader.searcher();
        let segments = searcher.segment_readers().len().max(1) as u64;
        if allow
            .len()
            .saturating_mul(segments)
            .saturating_mul(LOOKUP_COST)
            <= searcher.num_docs()
        {
            let candidates: Vec<DocId> = allow.iter().collect();
            return self.matching(query, mode, &candidates);
        }
        let mut matched = RoaringBitmap::new();
        let Some(tantivy_query) = self.build(query, mode) else {
            return Ok(matched);
        };
        let err = || self.error(TextOp::Match);
        let weight = tantivy_query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(err())?;
        for segment in searcher.segment_readers() {
            let ids = segment.fast_fields().u64(schema::DOC).map_err(err())?;
            let alive = segment.alive_bitset();
            weight
                .for_each_no_score(segment, &mut |docs| {
                    for &doc in docs {
                        if alive.is_some_and(|a| a.is_deleted(doc)) {
                            continue;
                        }
                        if let Some(id) = ids.first(doc).and_then(|id| DocId::try_from(id).ok()) {
                            if allow.contains(id) {
                                matched.insert(id);
                            }
                        }
                    }
                })
                .map_err(err())?;
        }
        Ok(matched)
    }

    /// A consistent snapshot for callers that run several operations
    /// against the same committed state (tests, diagnostics).
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The underlying tantivy index (schema inspection, diagnostics).
    pub fn tantivy_index(&self) -> &Index {
        &self.index
    }
}

/// Roughly what one candidate's term lookup in [`TextIndex::matching`]
/// costs, in documents a scan of the query's matches visits meanwhile.
const LOOKUP_COST: u64 = 64;

/// A hit ordered so that the heap's maximum is the worst kept hit: lower
/// score, or equal score and higher id.
#[derive(Clone, Copy)]
struct Ranked {
    score: f32,
    id: DocId,
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

/// The `k` best hits seen so far (a bounded max-heap of the worst).
struct TopK {
    k: usize,
    heap: BinaryHeap<Ranked>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::new(),
        }
    }

    fn push(&mut self, id: DocId, score: f32) {
        let hit = Ranked { score, id };
        if self.heap.len() < self.k {
            self.heap.push(hit);
        } else if let Some(mut worst) = self.heap.peek_mut() {
            if hit < *worst {
                *worst = hit;
            }
        }
    }

    /// Best first.
    fn into_sorted(self) -> Vec<(DocId, f32)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| (r.id, r.score))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|t| t.to_string()).collect()
    }

    fn ids(hits: &TextHits) -> Vec<DocId> {
        hits.hits.iter().map(|h| h.0).collect()
    }

    fn q(text: &str) -> ParsedQuery {
        ParsedQuery::parse(text)
    }

    fn sample() -> TextIndex {
        let index = TextIndex::create_in_ram().expect("index");
        index
            .add(
                1,
                Some("Key rotation"),
                "We rotate the keys every month.",
                &s(&["security"]),
            )
            .expect("add");
        index
            .add(
                2,
                None,
                "Deployed the staging cluster today.",
                &s(&["k8s-prod"]),
            )
            .expect("add");
        index
            .add(
                3,
                Some("Release"),
                "Deploying to production went fine.",
                &[],
            )
            .expect("add");
        index.commit().expect("commit");
        index
    }

    #[test]
    fn text_index_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<TextIndex>();
        assert_send_sync::<TextIndexError>();
    }

    #[test]
    fn top_k_keeps_best_with_id_tiebreak() {
        let mut top = TopK::new(3);
        for (id, score) in [(5, 1.0), (1, 3.0), (9, 2.0), (2, 2.0), (7, 0.5)] {
            top.push(id, score);
        }
        assert_eq!(top.into_sorted(), vec![(1, 3.0), (2, 2.0), (9, 2.0)]);
        let mut none = TopK::new(0);
        none.push(1, 1.0);
        assert!(none.into_sorted().is_empty());
    }

    #[test]
    fn all_and_any_modes() {
        let index = sample();
        let all = index
            .search(&q("deploy production"), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&all), vec![3]);
        let any = index
            .search(&q("deploy production"), TextMatch::Any, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&any), vec![3, 2]);
        assert_eq!(any.total_matches, 2);
    }

    #[test]
    fn phrases_required_in_any_mode() {
        let index = sample();
        let hits = index
            .search(
                &q(r#"deploy "rotate the keys""#),
                TextMatch::Any,
                10,
                0,
                None,
            )
            .unwrap();
        assert_eq!(ids(&hits), vec![1]);
        let gap = index
            .search(&q(r#""rotate keys""#), TextMatch::All, 10, 0, None)
            .unwrap();
        assert!(gap.hits.is_empty(), "positions must be respected");
    }

    #[test]
    fn negation_only_matches_the_rest_with_zero_score() {
        let index = sample();
        let hits = index
            .search(&q("-deploy"), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(hits.hits, vec![(1, 0.0)]);
        assert!(index
            .search(&q("the"), TextMatch::All, 10, 0, None)
            .unwrap()
            .hits
            .is_empty());
    }

    #[test]
    fn exact_tag_and_tag_words() {
        let index = sample();
        let hits = index
            .search(&q("K8s-Prod"), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&hits), vec![2]);
        let hits = index
            .search(&q("security"), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&hits), vec![1]);
    }

    #[test]
    fn parser_token_limit_mirrors_the_analyzer() {
        // The parser drops what the analyzer would never index, so an AND
        // query is not made unmatchable by an over-long word.
        use crate::query::MAX_TOKEN_BYTES;
        let index = TextIndex::create_in_ram().unwrap();
        let fits = "a".repeat(MAX_TOKEN_BYTES - 1);
        let long = "b".repeat(MAX_TOKEN_BYTES);
        index
            .add(1, None, &format!("{fits} {long} deploy"), &[])
            .unwrap();
        index.commit().unwrap();
        let hits = index
            .search(&q(&fits), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&hits), vec![1]);
        let hits = index
            .search(&q(&format!("deploy {long}")), TextMatch::All, 10, 0, None)
            .unwrap();
        assert_eq!(ids(&hits), vec![1]);
        assert!(q(&long).is_empty());
    }

    #[test]
    fn matching_checks_candidates() {
        let index = sample();
        let m = index
            .matching(&q("deploy -staging"), TextMatch::All, &[1, 2, 3, 42])
            .unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![3]);
        let m = index
            .matching(&q("-staging"), TextMatch::All, &[3, 2, 1])
            .unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![1, 3]);
        let m = index
            .matching(&q("the"), TextMatch::All, &[1, 2, 3])
            .unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn search_matching_and_matching_in_agree_with_matching() {
        let index = sample();
        // Enough other documents that a one-doc allow-list takes the lookup
        // path of `matching_in` and the whole index the scan path.
        for doc in 10..200 {
            let content = if doc % 2 == 0 {
                "deploy notes"
            } else {
                "staging deploy"
            };
            index.add(doc, None, content, &[]).unwrap();
        }
        index.commit().unwrap();
        let all: RoaringBitmap = (1..200).collect();
        // One doc, two segments: 1 × 2 × LOOKUP_COST ≤ 193 docs.
        let few: RoaringBitmap = [3].into_iter().collect();
        for text in [
            "deploy -staging",
            "-staging",
            "deploy",
            "the",
            "rotate OR -deploy",
        ] {
            let query = q(text);
            let (hits, matched) = index
                .search_matching(&query, TextMatch::All, 1, 0, Some(&all))
                .unwrap();
            assert_eq!(hits.total_matches as u64, matched.len(), "{text}");
            let candidates: Vec<DocId> = all.iter().collect();
            let oracle = index.matching(&query, TextMatch::All, &candidates).unwrap();
            assert_eq!(matched, oracle, "{text}");
            assert_eq!(
                index.matching_in(&query, TextMatch::All, &all).unwrap(),
                oracle,
                "{text}: scan"
            );
            assert_eq!(
                index.matching_in(&query, TextMatch::All, &few).unwrap(),
                &oracle & &few,
                "{text}: lookups"
            );
        }
        let sample_docs: RoaringBitmap = [1, 2, 3].into_iter().collect();
        let (_, matched) = index
            .search_matching(
                &q("deploy -staging"),
                TextMatch::All,
                10,
                0,
                Some(&sample_docs),
            )
            .unwrap();
        assert_eq!(matched.iter().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn pagination() {
        let index = sample();
        let all = index
            .search(&q("the"), TextMatch::Any, 10, 0, None)
            .unwrap();
        assert!(all.hits.is_empty());
        let full = index
            .search(&q("deploy rotate"), TextMatch::Any, 10, 0, None)
            .unwrap();
        assert_eq!(full.total_matches, 3);
        let page = index
            .search(&q("deploy rotate"), TextMatch::Any, 1, 1, None)
            .unwrap();
        assert_eq!(page.hits, full.hits[1..2].to_vec());
        assert_eq!(page.total_matches, 3);
        let past = index
            .search(&q("deploy rotate"), TextMatch::Any, 5, 10, None)
            .unwrap();
        assert!(past.hits.is_empty());
        assert_eq!(past.total_matches, 3);
        let huge = index
            .search(&q("deploy"), TextMatch::Any, usize::MAX, usize::MAX, None)
            .unwrap();
        assert!(huge.hits.is_empty());
    }
}
