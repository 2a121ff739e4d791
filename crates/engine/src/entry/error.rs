//! The one error type of the entry model.

/// Why an entry, diary, relation, key or signature was refused.
///
/// Every variant names the offending field (and the limit, when there is
/// one) so the server can answer with a precise 4xx instead of a string the
/// client has to parse; nothing is ever silently truncated or fixed up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// A required text is empty, so it would carry no meaning.
    #[error("{field} must not be empty")]
    Empty {
        /// The field, as named in the API (camelCase).
        field: &'static str,
    },
    /// A required text holds only whitespace: as meaningless as an empty
    /// one, and it would embed to noise and match no search.
    #[error("{field} must not be blank (it holds only whitespace)")]
    Blank {
        /// The field, as named in the API (camelCase).
        field: &'static str,
    },
    /// A text is longer than its limit, counted in Unicode scalar values.
    #[error("{field} is too long: {got} characters, at most {max} allowed")]
    TooLong {
        /// The field, as named in the API (camelCase).
        field: &'static str,
        /// The largest accepted length.
        max: usize,
        /// The length received.
        got: usize,
    },
    /// More tags than an entry may carry.
    #[error("too many tags: {got}, at most {max} allowed")]
    TooManyTags {
        /// The largest accepted number of tags.
        max: usize,
        /// The number received.
        got: usize,
    },
    /// A number lies outside its accepted range.
    #[error("{field} out of range: {got}, expected {min}..={max}")]
    OutOfRange {
        /// The field, as named in the API (camelCase).
        field: &'static str,
        /// The smallest accepted value.
        min: i64,
        /// The largest accepted value.
        max: i64,
        /// The value received.
        got: i64,
    },
    /// A string does not name any variant of an enumeration.
    #[error("unknown {field} {got:?}, expected one of {expected:?}")]
    UnknownVariant {
        /// The field, as named in the API (camelCase).
        field: &'static str,
        /// The string received.
        got: String,
        /// Every accepted spelling.
        expected: &'static [&'static str],
    },
    /// The client sent a content hash that differs from the one computed
    /// here: the entry it signed is not the entry it sent.
    #[error("contentHash mismatch: got {got}, computed {computed}")]
    ContentHashMismatch {
        /// The CID the client sent.
        got: String,
        /// The CID of the fields actually received.
        computed: String,
    },
    /// Only some of signature, signing nonce and signer key were given; a
    /// signature cannot be checked without all three.
    #[error("incomplete signature: {missing} is missing")]
    IncompleteSignature {
        /// The missing field, as named in the API (camelCase).
        missing: &'static str,
    },
    /// A key or signature is not valid base64, or lacks its prefix.
    #[error("{field} is malformed: {reason}")]
    Malformed {
        /// The field or argument, as named in the API (camelCase).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A decoded key or signature has the wrong number of bytes.
    #[error("{field} must be {expected} bytes, got {got}")]
    WrongLength {
        /// The field or argument, as named in the API (camelCase).
        field: &'static str,
        /// The required number of bytes.
        expected: usize,
        /// The number of bytes decoded.
        got: usize,
    },
    /// The bytes of a public key are not a usable Ed25519 point.
    #[error("publicKey is not a valid Ed25519 public key")]
    InvalidPublicKey,
    /// The signature does not verify against the key and signed bytes.
    #[error("signature does not verify")]
    InvalidSignature,
    /// A content id is not a CIDv1 (raw, sha2-256, base32 lower-case).
    #[error("invalid content id {got:?}: {reason}")]
    InvalidCid {
        /// The string received.
        got: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An update would change a field that a signature covers (or that the
    /// signed-entry policy freezes); the server maps this to 409.
    #[error("{field} of a signed entry cannot change")]
    ImmutableSigned {
        /// The frozen field, as named in the API (camelCase).
        field: &'static str,
    },
    /// Signed entries are permanent; supersede them instead (409).
    #[error("a signed entry cannot be deleted; supersede it instead")]
    SignedNotDeletable,
    /// A diary holding signed entries cannot be deleted: they are
    /// permanent, and deleting the diary would delete them (409).
    #[error("the diary holds {signed} signed entries, which are permanent; it cannot be deleted")]
    DiaryHoldsSigned {
        /// Signed entries in the diary.
        signed: usize,
    },
    /// The signing nonce already signs another entry: a nonce is used once,
    /// so a replayed signature cannot create a second entry (409).
    #[error("signingNonce {nonce:?} is already used by another entry")]
    NonceInUse {
        /// The nonce.
        nonce: String,
    },
    /// A relation from an entry to itself carries no information.
    #[error("a relation must link two different entries")]
    SelfRelation,
    /// Relations only link entries of one diary.
    #[error("relation links entries of different diaries ({source_diary} and {target_diary})")]
    CrossDiaryRelation {
        /// The diary of the source entry.
        source_diary: uuid::Uuid,
        /// The diary of the target entry.
        target_diary: uuid::Uuid,
    },
    /// A relation with the same (source, target, relation) exists (409).
    #[error("relation {relation} from {source_id} to {target_id} already exists")]
    DuplicateRelation {
        /// See [`Relation::source_id`](super::Relation::source_id).
        source_id: uuid::Uuid,
        /// See [`Relation::target_id`](super::Relation::target_id).
        target_id: uuid::Uuid,
        /// See [`Relation::relation`](super::Relation::relation).
        relation: super::RelationKind,
    },
}
