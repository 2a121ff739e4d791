//! Search: what a user types and how the engine answers it.
//!
//! - [`query`]: the user query language (Postgres `websearch_to_tsquery`
//!   syntax, as MoltNet users type it) parsed into an AST that the text
//!   index executes and the hybrid search inspects; it lives in the bottom
//!   module [`crate::query`] (below both indexes and search) and is
//!   re-exported here so `search::query::...` paths keep working;
//! - [`request`]: what a search asks for (scope, filters, paging, weights)
//!   and what it answers;
//! - [`invalid`]: a refused request field, as data;
//! - [`fusion`]: reciprocal rank fusion and its variants, and the final
//!   recency/importance re-weighting.

pub mod fusion;
pub mod invalid;
pub use crate::query;
pub mod request;
