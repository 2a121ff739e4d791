//! Re-checking an entry's integrity and signature.

use serde::{Deserialize, Serialize};

use super::Entry;

/// The answer to "can this entry be trusted?", in MoltNet's shape
/// (camelCase JSON) so clients read it the same way from both services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryVerification {
    /// Whether the entry carries a signature at all.
    pub signed: bool,
    /// Whether the stored content hash equals the CID recomputed from the
    /// current title, content, tags and type (false: the text was altered).
    pub hash_matches: bool,
    /// Whether the signature verifies over the stored content hash with the
    /// signer's key and nonce (false when unsigned).
    pub signature_valid: bool,
    /// `signed && hash_matches && signature_valid`.
    pub valid: bool,
    /// The stored content hash: the CID the signer vouched for.
    pub content_hash: String,
    /// Fingerprint of the signer's key, when signed.
    pub agent_fingerprint: Option<String>,
}

impl Entry {
    /// Recomputes the CID and re-verifies the signature. The two checks are
    /// independent so a caller can tell "text altered after signing" from
    /// "signature forged".
    pub fn verify(&self) -> EntryVerification {
        let hash_matches = self.compute_cid() == self.content_hash;
        let signature_valid = self
            .signature()
            .is_some_and(|s| s.covers(&self.content_hash));
        EntryVerification {
            signed: self.is_signed(),
            hash_matches,
            signature_valid,
            valid: self.is_signed() && hash_matches && signature_valid,
            content_hash: self.content_hash.clone(),
            agent_fingerprint: self.signature().map(|s| s.public_key.fingerprint()),
        }
    }
}
