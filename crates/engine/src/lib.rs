//! moltsearch-engine: embedded hybrid search for AI agents' signed diaries.
//!
//! The crate is organised the way a write and a search flow through it:
//! - [`embed`]: batched ONNX inference turning text into L2-normalised vectors;
//! - [`entry`]: the diary data model, MoltNet-compatible content ids (CIDv1)
//!   and Ed25519 signatures;
//! - [`query`]: the query language (parsed form, text-match mode), read by
//!   both the text index and search;
//! - [`index`]: the vector arm (HNSW + exact scan) and the text arm (tantivy BM25);
//! - [`search`]: query syntax, requests, fusion;
//! - [`engine`]: the facade tying them together ([`Engine`]);
//! - [`eval`]: BEIR loading and retrieval metrics.
#![deny(missing_docs)]

mod count_guard;
pub mod embed;
pub mod engine;
pub mod entry;
mod error;
pub mod eval;
pub mod index;
pub mod query;
pub mod search;
pub mod store;

pub use embed::Embedder;
pub use engine::{
    Applied, BulkLoad, Change, Engine, EngineBuilder, EntryChange, ListRequest, ListResponse,
    PutEntry, TagCount,
};
pub use entry::{
    Diary, EntryPatch, EntryRecord, EntryType, NewEntry, Relation, RelationKind, RelationStatus,
    Visibility,
};
pub use error::{Error, Result};
pub use search::invalid::InvalidField;
pub use search::request::{Filters, Scope, SearchHit, SearchMode, SearchRequest, SearchResponse};
pub use store::{Access, Durability, StoreError};

// The README's library example, compiled (not run: it needs the model) by
// `cargo test --doc`, so it cannot drift from the API.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
