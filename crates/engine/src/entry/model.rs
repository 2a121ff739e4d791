//! The validated entry and its storage form.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::cid::compute_content_cid;
use super::signature::{PublicKey, Signature};
use super::validate::{
    check_importance, check_len, check_max, check_tags, MAX_CONTENT_CHARS, MAX_NONCE_CHARS,
    MAX_TITLE_CHARS,
};
use super::{EntryError, EntryType};

/// Who signed an entry and how: the three values needed to re-check the
/// signature over the entry's CID at any later time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySignature {
    /// Ed25519 signature over the signing bytes of (CID, nonce).
    pub signature: Signature,
    /// The one-time nonce the signature is bound to.
    pub nonce: String,
    /// The signer's key, identifying the agent.
    pub public_key: PublicKey,
}

impl EntrySignature {
    /// Checks the nonce limit (1 to [`MAX_NONCE_CHARS`] characters).
    pub(crate) fn validate(&self) -> Result<(), EntryError> {
        check_len("signingNonce", &self.nonce, MAX_NONCE_CHARS)
    }

    /// Whether the signature covers `cid`.
    pub fn covers(&self, cid: &str) -> bool {
        self.public_key.verify(cid, &self.nonce, &self.signature)
    }
}

/// A validated diary entry.
///
/// Fields are private so the rules hold by construction: the content hash is
/// always the CID of the hashed fields as last set here, and once signed the
/// hashed fields can only be read. Create one from a
/// [`NewEntry`](super::NewEntry) with [`Entry::create`], change it with
/// [`EntryPatch::apply`](super::EntryPatch::apply), load one with
/// [`Entry::from_record`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryRecord", into = "EntryRecord")]
pub struct Entry {
    pub(crate) id: Uuid,
    pub(crate) diary_id: Uuid,
    pub(crate) title: Option<String>,
    pub(crate) content: String,
    pub(crate) tags: Vec<String>,
    pub(crate) entry_type: EntryType,
    pub(crate) importance: u8,
    pub(crate) content_hash: String,
    pub(crate) signature: Option<EntrySignature>,
    pub(crate) injection_risk: bool,
    pub(crate) access_count: u64,
    pub(crate) last_accessed_at: Option<OffsetDateTime>,
    pub(crate) created_at: OffsetDateTime,
    pub(crate) updated_at: OffsetDateTime,
}

/// Checks the hashed fields; shared by creation, patching and loading so the
/// three can never disagree on a limit.
pub(crate) fn check_hashed_fields(
    title: Option<&str>,
    content: &str,
    tags: &[String],
) -> Result<(), EntryError> {
    check_len("content", content, MAX_CONTENT_CHARS)?;
    if let Some(title) = title {
        check_max("title", title, MAX_TITLE_CHARS)?;
    }
    check_tags(tags)
}

impl Entry {
    /// Stable identifier.
    pub fn id(&self) -> Uuid {
        self.id
    }
    /// The diary the entry belongs to.
    pub fn diary_id(&self) -> Uuid {
        self.diary_id
    }
    /// Optional title.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }
    /// The text that is embedded, indexed and hashed.
    pub fn content(&self) -> &str {
        &self.content
    }
    /// Tags in the order given (exact, case-sensitive; the CID sorts them).
    pub fn tags(&self) -> &[String] {
        &self.tags
    }
    /// Kind of memory.
    pub fn entry_type(&self) -> EntryType {
        self.entry_type
    }
    /// 1 (trivia) to 10 (essential); a ranking signal.
    pub fn importance(&self) -> u8 {
        self.importance
    }
    /// The CID as stored (see [`Entry::verify`] to re-check it).
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }
    /// The signature, if the entry is signed.
    pub fn signature(&self) -> Option<&EntrySignature> {
        self.signature.as_ref()
    }
    /// Whether the signed-entry rules apply.
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }
    /// Whether a scanner judged the content a prompt-injection risk; search
    /// results carry it so agents can be careful with the text.
    pub fn injection_risk(&self) -> bool {
        self.injection_risk
    }
    /// How many times the entry was served; a ranking signal.
    pub fn access_count(&self) -> u64 {
        self.access_count
    }
    /// When the entry was last served.
    pub fn last_accessed_at(&self) -> Option<OffsetDateTime> {
        self.last_accessed_at
    }
    /// When the entry was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }
    /// When a field other than access bookkeeping last changed.
    pub fn updated_at(&self) -> OffsetDateTime {
        self.updated_at
    }

    /// The CID of the current hashed fields, recomputed.
    pub fn compute_cid(&self) -> String {
        compute_content_cid(
            self.entry_type.as_str(),
            self.title.as_deref(),
            &self.content,
            &self.tags,
        )
    }

    /// Records the scanner's verdict. Not a content change, so signed
    /// entries accept it and `updated_at` is left alone.
    pub fn set_injection_risk(&mut self, risk: bool) {
        self.injection_risk = risk;
    }

    /// Counts one read. Reads are not edits: `updated_at` is left alone.
    pub fn record_access(&mut self, at: OffsetDateTime) {
        self.access_count = self.access_count.saturating_add(1);
        self.last_accessed_at = Some(at);
    }

    /// Refuses deletion of a signed entry (signed memory is permanent; the
    /// way to retire it is a `supersedes` relation).
    pub fn ensure_deletable(&self) -> Result<(), EntryError> {
        if self.is_signed() {
            Err(EntryError::SignedNotDeletable)
        } else {
            Ok(())
        }
    }

    /// Signs an existing unsigned entry after the fact (MoltNet's "create,
    /// then sign the CID" flow). The signature must cover the entry's CID.
    pub fn attach_signature(
        &mut self,
        signature: EntrySignature,
        now: OffsetDateTime,
    ) -> Result<(), EntryError> {
        if self.is_signed() {
            return Err(EntryError::ImmutableSigned {
                field: "contentSignature",
            });
        }
        signature.validate()?;
        let cid = self.compute_cid();
        if !signature.covers(&cid) {
            return Err(EntryError::InvalidSignature);
        }
        self.content_hash = cid;
        self.signature = Some(signature);
        self.updated_at = now;
        Ok(())
    }

    /// Loads an entry from storage, re-checking every limit. The stored
    /// content hash is kept as is, not recomputed: if storage was tampered
    /// with, [`Entry::verify`] must be able to say so.
    pub fn from_record(r: EntryRecord) -> Result<Self, EntryError> {
        Self::check_record(&r)?;
        let importance = r.importance;
        let signature = match (r.content_signature, r.signing_nonce, r.signer_public_key) {
            (Some(signature), Some(nonce), Some(public_key)) => Some(EntrySignature {
                signature,
                nonce,
                public_key,
            }),
            _ => None,
        };
        Ok(Entry {
            id: r.id,
            diary_id: r.diary_id,
            title: r.title,
            content: r.content,
            tags: r.tags,
            entry_type: r.entry_type,
            importance,
            content_hash: r.content_hash,
            signature,
            injection_risk: r.injection_risk,
            access_count: r.access_count,
            last_accessed_at: r.last_accessed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }

    /// Checks every limit [`Entry::from_record`] checks, without building
    /// an entry (the engine shares stored records rather than copying them).
    pub fn check_record(r: &EntryRecord) -> Result<(), EntryError> {
        check_hashed_fields(r.title.as_deref(), &r.content, &r.tags)?;
        check_importance(r.importance.into())?;
        match (&r.content_signature, &r.signing_nonce, &r.signer_public_key) {
            (None, None, None) => Ok(()),
            (Some(_), Some(nonce), Some(_)) => check_len("signingNonce", nonce, MAX_NONCE_CHARS),
            (None, ..) => Err(missing("contentSignature")),
            (_, None, _) => Err(missing("signingNonce")),
            (.., None) => Err(missing("signerPublicKey")),
        }
    }

    /// The storage form.
    pub fn to_record(&self) -> EntryRecord {
        self.clone().into()
    }
}

pub(crate) fn missing(field: &'static str) -> EntryError {
    EntryError::IncompleteSignature { missing: field }
}

/// An entry as stored and as sent over the API (camelCase JSON, RFC 3339
/// times): plain data, not yet checked. Turn it into an [`Entry`] with
/// [`Entry::from_record`], which validates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryRecord {
    /// See [`Entry::id`].
    pub id: Uuid,
    /// See [`Entry::diary_id`].
    pub diary_id: Uuid,
    /// See [`Entry::title`].
    #[serde(default)]
    pub title: Option<String>,
    /// See [`Entry::content`].
    pub content: String,
    /// See [`Entry::tags`].
    #[serde(default)]
    pub tags: Vec<String>,
    /// See [`Entry::entry_type`].
    #[serde(default)]
    pub entry_type: EntryType,
    /// See [`Entry::importance`].
    pub importance: u8,
    /// See [`Entry::content_hash`].
    pub content_hash: String,
    /// See [`EntrySignature::signature`]; all three signature fields are
    /// present or none is.
    #[serde(default)]
    pub content_signature: Option<Signature>,
    /// See [`EntrySignature::nonce`].
    #[serde(default)]
    pub signing_nonce: Option<String>,
    /// See [`EntrySignature::public_key`].
    #[serde(default)]
    pub signer_public_key: Option<PublicKey>,
    /// See [`Entry::injection_risk`].
    #[serde(default)]
    pub injection_risk: bool,
    /// See [`Entry::access_count`].
    #[serde(default)]
    pub access_count: u64,
    /// See [`Entry::last_accessed_at`].
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_accessed_at: Option<OffsetDateTime>,
    /// See [`Entry::created_at`].
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// See [`Entry::updated_at`].
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Entry> for EntryRecord {
    fn from(e: Entry) -> Self {
        let (content_signature, signing_nonce, signer_public_key) = match e.signature {
            Some(s) => (Some(s.signature), Some(s.nonce), Some(s.public_key)),
            None => (None, None, None),
        };
        EntryRecord {
            id: e.id,
            diary_id: e.diary_id,
            title: e.title,
            content: e.content,
            tags: e.tags,
            entry_type: e.entry_type,
            importance: e.importance,
            content_hash: e.content_hash,
            content_signature,
            signing_nonce,
            signer_public_key,
            injection_risk: e.injection_risk,
            access_count: e.access_count,
            last_accessed_at: e.last_accessed_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

impl TryFrom<EntryRecord> for Entry {
    type Error = EntryError;

    fn try_from(r: EntryRecord) -> Result<Self, EntryError> {
        Entry::from_record(r)
    }
}
