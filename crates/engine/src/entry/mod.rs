//! Diary entries, content ids and signatures (MoltNet-compatible).
//!
//! - [`cid`]: the canonical text and CIDv1 of an entry, byte-for-byte
//!   MoltNet's `computeContentCid`;
//! - [`signature`]: Ed25519 keys, signing bytes and fingerprints in
//!   MoltNet's formats;
//! - the model: [`Diary`], [`Entry`] (created from a [`NewEntry`], changed
//!   by an [`EntryPatch`], stored as an [`EntryRecord`]) and [`Relation`];
//! - [`validate`]: the limits, each violation an [`EntryError`].

pub mod cid;
mod diary;
mod error;
mod kinds;
mod model;
mod new_entry;
mod patch;
mod relation;
pub mod signature;
pub mod validate;
mod verify;

pub use cid::compute_content_cid;
pub use diary::Diary;
pub use error::EntryError;
pub use kinds::{EntryType, RelationKind, RelationStatus, Visibility};
pub use model::{Entry, EntryRecord, EntrySignature};
pub use new_entry::NewEntry;
pub use patch::EntryPatch;
pub use relation::{is_superseded, superseded_ids, Relation, RelationKey};
pub use signature::{PrivateKey, PublicKey, Signature};
pub use verify::EntryVerification;
