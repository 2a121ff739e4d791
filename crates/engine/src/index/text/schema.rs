//! The tantivy schema of the text index and its analyzers.
//!
//! | field | type | analyzer | why |
//! |---|---|---|---|
//! | `doc` | u64, indexed + fast | - | the engine's [`DocId`](crate::index::DocId): indexed to delete/update by id and find a document's segment address, fast to map hits back and filter inside the search |
//! | `body` | text, freqs + positions | `en_stem` | title, content and tags (one value each, so phrases never span two of them): the main BM25 field, and what matching is decided on |
//! | `title` | text, freqs + positions | `en_stem` | the title again, for a title boost |
//! | `tags` | text (one value per tag), freqs + positions | `en_stem` | the tags again as words, for a tag boost |
//! | `tag` | text (one value per tag), freqs | [`EXACT_TAG_ANALYZER`] | the whole tag as one lower-cased term, so `k8s-prod` or `ed25519` typed as a word meets the tag exactly |
//!
//! Why one combined `body` field rather than BM25 per field: BM25 over the
//! concatenation normalises length once per entry and scored better on
//! SciFact train (nDCG@10 0.696 for `body` + title boost 0.15, against at
//! best 0.685 for title 0.5 + content 1 scored separately); the public BEIR
//! numbers show the same (BM25 0.679 single field vs 0.665 multi-field).
//! Content has no field of its own, since `body` holds it.
//!
//! Nothing is stored: the engine keeps the entries; the index only answers
//! with ids and scores.

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer, TokenStream};
use tantivy::Index;

/// tantivy's built-in English analyzer: `SimpleTokenizer` (alphanumeric
/// runs), `RemoveLongFilter(40)`, `LowerCaser`, `Stemmer(English)`.
/// [`crate::query`] mirrors its first two stages.
pub const TEXT_ANALYZER: &str = "en_stem";

/// The analyzer of the exact-tag field: the whole tag, lower-cased, as one
/// term (tags longer than [`MAX_EXACT_TAG_BYTES`] are not indexed exactly,
/// only as words).
pub const EXACT_TAG_ANALYZER: &str = "moltsearch_exact_tag";

/// Longest tag (in bytes) indexed as an exact term.
pub const MAX_EXACT_TAG_BYTES: usize = 256;

pub(super) const DOC: &str = "doc";
pub(super) const TITLE: &str = "title";
pub(super) const TAGS: &str = "tags";
pub(super) const TAG: &str = "tag";
pub(super) const BODY: &str = "body";

/// Handles of the schema's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub doc: Field,
    pub body: Field,
    pub title: Field,
    pub tags: Field,
    pub tag: Field,
}

/// Builds the schema. Changing it makes existing index directories fail to
/// open with a schema error (tantivy compares schemas on open).
pub(super) fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(EXACT_TAG_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        doc: builder.add_u64_field(DOC, INDEXED | FAST),
        body: builder.add_text_field(BODY, text.clone()),
        title: builder.add_text_field(TITLE, text.clone()),
        tags: builder.add_text_field(TAGS, text),
        tag: builder.add_text_field(TAG, exact),
    };
    (builder.build(), fields)
}

/// Registers the analyzers the schema names but tantivy does not ship.
/// Must run on every open: tokenizers are not persisted in the index.
pub(super) fn register_analyzers(index: &Index) {
    index.tokenizers().register(
        EXACT_TAG_ANALYZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_EXACT_TAG_BYTES + 1))
            .filter(LowerCaser)
            .build(),
    );
}

/// Runs `analyzer` on `text` and returns its first token, if any. Used on
/// single query tokens (which the text analyzer keeps as one token) and on
/// whole tags (which the exact-tag analyzer keeps whole).
pub(super) fn analyze_one(analyzer: &mut TextAnalyzer, text: &str) -> Option<String> {
    let mut stream = analyzer.token_stream(text);
    if stream.advance() {
        Some(stream.token().text.clone())
    } else {
        None
    }
}
