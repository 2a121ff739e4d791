//! Ed25519 keys and signatures in MoltNet's wire formats.
//!
//! MoltNet never signs a message directly: it signs the *signing bytes*
//! `"moltnet:v1" ‖ u32be(32) ‖ SHA-256(message) ‖ u32be(len nonce) ‖ nonce`,
//! which separates the domain from other Ed25519 uses of the same key and
//! binds each signature to a one-time nonce. Keys travel as
//! `ed25519:<base64>` and signatures as standard base64 (88 characters).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::EntryError;

/// Domain-separation prefix of the signing bytes.
pub const SIGNING_DOMAIN: &[u8] = b"moltnet:v1";

/// Prefix of a public key's text form.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// Length of a signature in base64, which MoltNet uses to tell a signature
/// from a signing-request id.
pub const SIGNATURE_BASE64_LEN: usize = 88;

/// The exact bytes an agent signs for `message` under `nonce`.
///
/// Fails only for a nonce longer than `u32::MAX` bytes, whose length cannot
/// be framed.
pub fn signing_bytes(message: &str, nonce: &str) -> Result<Vec<u8>, EntryError> {
    let nonce_len = u32::try_from(nonce.len()).map_err(|_| EntryError::TooLong {
        field: "nonce",
        max: u32::MAX as usize,
        got: nonce.len(),
    })?;
    let digest = Sha256::digest(message.as_bytes());
    let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + 4 + digest.len() + 4 + nonce.len());
    out.extend_from_slice(SIGNING_DOMAIN);
    // The digest length is the constant 32; framing it keeps the layout
    // self-describing, as MoltNet does.
    out.extend_from_slice(&32u32.to_be_bytes());
    out.extend_from_slice(&digest);
    out.extend_from_slice(&nonce_len.to_be_bytes());
    out.extend_from_slice(nonce.as_bytes());
    Ok(out)
}

/// A short, human-comparable name for a key: the first 16 hex digits of
/// SHA-256 of its 32 bytes, upper-case, as `XXXX-XXXX-XXXX-XXXX`. MoltNet
/// identifies agents by it (e.g. in shares), so it must match exactly.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    let digest = Sha256::digest(public_key);
    let hex = data_encoding::HEXUPPER.encode(&digest[..8]);
    let mut out = String::with_capacity(19);
    for (i, group) in hex.as_bytes().chunks(4).enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.extend(group.iter().map(|&b| char::from(b)));
    }
    out
}

/// Decodes standard, padded base64 and checks the decoded length, so every
/// key and signature error names its field and the expected size.
fn decode_fixed<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], EntryError> {
    let bytes = BASE64.decode(text).map_err(|e| EntryError::Malformed {
        field,
        reason: format!("not standard base64: {e}"),
    })?;
    let got = bytes.len();
    bytes.try_into().map_err(|_| EntryError::WrongLength {
        field,
        expected: N,
        got,
    })
}

/// An agent's Ed25519 public key; the identity a signature is checked
/// against.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Accepts 32 raw bytes, refusing those that are not a curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, EntryError> {
        VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| EntryError::InvalidPublicKey)
    }

    /// Parses `ed25519:<base64>`, naming `field` in any error so the API
    /// can point at the argument that was wrong.
    pub fn parse_field(field: &'static str, text: &str) -> Result<Self, EntryError> {
        let b64 = text
            .strip_prefix(PUBLIC_KEY_PREFIX)
            .ok_or_else(|| EntryError::Malformed {
                field,
                reason: format!("expected \"{PUBLIC_KEY_PREFIX}<base64 of 32 bytes>\""),
            })?;
        Self::from_bytes(&decode_fixed::<32>(field, b64)?)
    }

    /// The 32 raw bytes, for storage.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// See [`fingerprint`].
    pub fn fingerprint(&self) -> String {
        fingerprint(self.as_bytes())
    }

    /// Whether `signature` signs `message` under `nonce` (MoltNet's
    /// `verifyWithNonce`). Uses strict verification: honest signers never
    /// produce the malleable or weak-key signatures it rejects.
    pub fn verify(&self, message: &str, nonce: &str, signature: &Signature) -> bool {
        signing_bytes(message, nonce).is_ok_and(|bytes| self.verify_raw(&bytes, signature))
    }

    /// Whether `signature` signs exactly `bytes`, with no framing; MoltNet
    /// uses this for registration challenges.
    pub fn verify_raw(&self, bytes: &[u8], signature: &Signature) -> bool {
        self.0.verify_strict(bytes, &signature.0).is_ok()
    }
}

impl FromStr for PublicKey {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("publicKey", s)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", BASE64.encode(self.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A 64-byte Ed25519 signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature(ed25519_dalek::Signature);

impl Signature {
    /// Wraps 64 raw bytes; whether they verify is decided later.
    pub fn from_bytes(bytes: &[u8; 64]) -> Self {
        Self(ed25519_dalek::Signature::from_bytes(bytes))
    }

    /// Parses standard base64, naming `field` in any error.
    pub fn parse_field(field: &'static str, text: &str) -> Result<Self, EntryError> {
        decode_fixed::<64>(field, text).map(|b| Self::from_bytes(&b))
    }

    /// The 64 raw bytes, for storage.
    pub fn to_bytes(&self) -> [u8; 64] {
        self.0.to_bytes()
    }
}

impl FromStr for Signature {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("signature", s)
    }
}

impl fmt::Display for Signature {
    /// Standard base64, 88 characters, as MoltNet transports it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&BASE64.encode(self.to_bytes()))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An Ed25519 private key (the 32-byte seed MoltNet stores as base64).
///
/// The engine itself only verifies; signing exists for the CLI, tests and
/// tools that act as an agent. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct PrivateKey(SigningKey);

impl PrivateKey {
    /// Builds the key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// Parses the base64 seed, naming `field` in any error.
    pub fn parse_field(field: &'static str, text: &str) -> Result<Self, EntryError> {
        decode_fixed::<32>(field, text).map(|seed| Self::from_seed(&seed))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `message` under `nonce` (MoltNet's `signWithNonce`).
    pub fn sign(&self, message: &str, nonce: &str) -> Result<Signature, EntryError> {
        signing_bytes(message, nonce).map(|bytes| self.sign_raw(&bytes))
    }

    /// Signs exactly `bytes`, with no framing.
    pub fn sign_raw(&self, bytes: &[u8]) -> Signature {
        Signature(self.0.sign(bytes))
    }
}

impl FromStr for PrivateKey {
    type Err = EntryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("privateKey", s)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(<redacted>, public {})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> PrivateKey {
        PrivateKey::from_seed(&[seed; 32])
    }

    #[test]
    fn signing_bytes_layout() {
        let bytes = signing_bytes("hello", "n0nce").expect("short nonce");
        assert_eq!(&bytes[..10], b"moltnet:v1");
        assert_eq!(&bytes[10..14], &[0, 0, 0, 32]);
        assert_eq!(&bytes[14..46], Sha256::digest(b"hello").as_slice());
        assert_eq!(&bytes[46..50], &[0, 0, 0, 5]);
        assert_eq!(&bytes[50..], b"n0nce");
        // The nonce length counts UTF-8 bytes, not characters.
        let bytes = signing_bytes("m", "é").expect("short nonce");
        assert_eq!(&bytes[46..50], &[0, 0, 0, 2]);
    }

    #[test]
    fn sign_verify_round_trip() {
        let k = key(7);
        let pk = k.public_key();
        let sig = k.sign("msg", "nonce").expect("sign");
        assert!(pk.verify("msg", "nonce", &sig));
        assert!(!pk.verify("msg2", "nonce", &sig));
        assert!(!pk.verify("msg", "nonce2", &sig));
        assert!(!key(8).public_key().verify("msg", "nonce", &sig));
        assert_eq!(sig.to_string().len(), SIGNATURE_BASE64_LEN);
    }

    #[test]
    fn text_forms_round_trip() {
        let k = key(3);
        let pk = k.public_key();
        let text = pk.to_string();
        assert!(text.starts_with(PUBLIC_KEY_PREFIX));
        assert_eq!(text.parse::<PublicKey>(), Ok(pk));
        let sig = k.sign_raw(b"x");
        assert_eq!(sig.to_string().parse::<Signature>(), Ok(sig));
        let json = serde_json::to_string(&pk).expect("serialise");
        assert_eq!(serde_json::from_str::<PublicKey>(&json).expect("parse"), pk);
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let pk = key(1).public_key().to_string();
        let bare = pk.trim_start_matches(PUBLIC_KEY_PREFIX);
        assert!(matches!(
            bare.parse::<PublicKey>(),
            Err(EntryError::Malformed {
                field: "publicKey",
                ..
            })
        ));
        assert!(matches!(
            "ed25519:not base64!".parse::<PublicKey>(),
            Err(EntryError::Malformed {
                field: "publicKey",
                ..
            })
        ));
        assert_eq!(
            "ed25519:AAAA".parse::<PublicKey>(),
            Err(EntryError::WrongLength {
                field: "publicKey",
                expected: 32,
                got: 3
            })
        );
        assert_eq!(
            "AAAA".parse::<Signature>(),
            Err(EntryError::WrongLength {
                field: "signature",
                expected: 64,
                got: 3
            })
        );
        assert_eq!(
            BASE64.encode([0u8; 64]).parse::<PrivateKey>().map(|_| ()),
            Err(EntryError::WrongLength {
                field: "privateKey",
                expected: 32,
                got: 64
            })
        );
    }

    #[test]
    fn non_point_public_key_is_refused() {
        // y = 2 is not the y-coordinate of any point on edwards25519.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert_eq!(
            PublicKey::from_bytes(&bytes),
            Err(EntryError::InvalidPublicKey)
        );
    }

    #[test]
    fn fingerprint_shape() {
        let fp = key(9).public_key().fingerprint();
        assert_eq!(fp.len(), 19);
        let groups: Vec<&str> = fp.split('-').collect();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.len() == 4
            && g.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))));
    }

    #[test]
    fn debug_hides_the_secret() {
        let k = key(5);
        let seed_b64 = BASE64.encode([5u8; 32]);
        assert!(!format!("{k:?}").contains(&seed_b64));
    }
}
