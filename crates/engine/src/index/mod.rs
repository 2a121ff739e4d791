//! Indexes over diary entries: the vector arm ([`vector`]) and the BM25 text
//! arm ([`text`]) of hybrid search.

pub mod text;
pub mod vector;

/// Dense internal document id, assigned by the engine.
///
/// Both arms key their postings by it so that filters (a `RoaringBitmap` of
/// allowed ids) and fusion work on plain integers rather than content ids.
pub type DocId = u32;
