//! moltsearch-engine: embedded hybrid search for AI agents' signed diaries.
//!
//! The crate is organised the way a write and a search flow through it:
//! - [`embed`]: batched ONNX inference turning text into L2-normalised vectors;
//! - [`entry`]: the diary data model, MoltNet-compatible content ids (CIDv1)
//!   and Ed25519 signatures.
#![deny(missing_docs)]

pub mod embed;
pub mod entry;
mod error;

pub use error::{Error, Result};
