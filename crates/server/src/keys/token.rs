//! API key tokens: how one is made, what is stored of it, how one is checked.
//!
//! A token is `msk_<prefix>_<secret>`: 8 lower-case base32 characters of
//! public prefix (40 random bits, the lookup key, safe to show and log) and
//! 43 base64url characters of secret (256 random bits). Only the SHA-256 of
//! the whole token is stored. A fast hash is enough here: the token is
//! random, not a password, so there is nothing to guess from the hash.

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const TAG: &str = "msk_";
const PREFIX_LEN: usize = 8;
const SECRET_BYTES: usize = 32;

/// A new token and what is stored of it.
pub struct Minted {
    /// The token, shown once to whoever created it.
    pub token: String,
    /// Its public prefix.
    pub prefix: String,
    /// The SHA-256 of the token, hex.
    pub hash: String,
}

/// Makes a new random token. `rand::rng()` is a CSPRNG (ChaCha) seeded
/// from the operating system and reseeded periodically.
pub fn mint() -> Minted {
    let mut rng = rand::rng();
    let mut p = [0u8; 5];
    rng.fill_bytes(&mut p);
    // 5 bytes are 8 base32 characters, unpadded.
    let prefix = data_encoding::BASE32_NOPAD.encode(&p).to_ascii_lowercase();
    let mut secret = [0u8; SECRET_BYTES];
    rng.fill_bytes(&mut secret);
    let token = format!(
        "{TAG}{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    Minted {
        hash: hash(&token),
        prefix,
        token,
    }
}

/// The SHA-256 of a token, hex.
pub fn hash(token: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

/// The public prefix of a well-formed token; `None` for anything else.
pub fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == PREFIX_LEN && !secret.is_empty()).then_some(prefix)
}

/// Whether `token` hashes to `stored`, compared in constant time so the
/// time taken says nothing about how much of the hash matched.
pub fn matches(token: &str, stored: &str) -> bool {
    hash(token).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_distinct_parse_and_match_only_themselves() {
        let a = mint();
        let b = mint();
        assert_ne!(a.token, b.token);
        assert_eq!(prefix_of(&a.token), Some(a.prefix.as_str()));
        assert!(matches(&a.token, &a.hash));
        assert!(!matches(&b.token, &a.hash));
        assert!(a.token.len() >= TAG.len() + PREFIX_LEN + 1 + 43);
    }

    #[test]
    fn malformed_tokens_have_no_prefix() {
        for t in [
            "",
            "msk_",
            "msk_abc_x",
            "xyz_abcdefgh_secret",
            "msk_abcdefgh_",
        ] {
            assert_eq!(prefix_of(t), None, "{t:?}");
        }
    }
}
