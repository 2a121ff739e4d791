//! moltsearch-engine: embedded hybrid search for AI agents' signed diaries.
//!
//! The crate is organised the way a write and a search flow through it:
//! - [`embed`]: batched ONNX inference turning text into L2-normalised vectors;
//! - [`entry`]: the diary data model, MoltNet-compatible content ids (CIDv1)
//!   and Ed25519 signatures;
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
pub mod search;
pub mod store;

pub use engine::{Engine, EngineBuilder};
pub use error::{Error, Result};
