//! MoltNet's published Ed25519 vectors (`shared/vectors/moltnet-crypto-vectors.json`):
//! every vector must reproduce here byte for byte, or signatures made by
//! MoltNet's clients would not verify in this engine.
//!
//! The file is found through `MOLTSEARCH_SHARED` (a relative value is taken
//! from the repository root), defaulting to `../shared` next to the
//! repository.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use moltsearch_engine::entry::signature::{fingerprint, signing_bytes};
use moltsearch_engine::entry::{PrivateKey, PublicKey, Signature};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    signing_vectors: SigningVectors,
    vectors: Vec<KeyVector>,
}

#[derive(Deserialize)]
struct SigningVectors {
    private_key_base64: String,
    public_key: String,
    vectors: Vec<SigningVector>,
}

#[derive(Deserialize)]
struct SigningVector {
    comment: String,
    message: String,
    nonce: String,
    signature_base64: String,
    signing_bytes_hex: String,
    signing_input_base64: String,
}

#[derive(Deserialize)]
struct KeyVector {
    comment: String,
    fingerprint: String,
    private_key_base64: String,
    public_key: String,
    sign_input: String,
    signature_base64: String,
}

fn vectors() -> VectorFile {
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shared = match std::env::var_os("MOLTSEARCH_SHARED") {
        Some(dir) => repo_root.join(dir),
        None => repo_root.join("../shared"),
    };
    let path = shared.join("vectors/moltnet-crypto-vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read MoltNet vectors at {}: {e}; set MOLTSEARCH_SHARED to the shared/ \
             directory (default: ../shared next to the repository)",
            path.display()
        )
    });
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not the expected vector file: {e}", path.display()))
}

fn flip_bit(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8] ^= 1 << (bit % 8);
}

#[test]
fn vector_file_is_not_empty() {
    let v = vectors();
    assert!(!v.signing_vectors.vectors.is_empty());
    assert!(!v.vectors.is_empty());
}

#[test]
fn signing_key_pair_matches() {
    let v = vectors().signing_vectors;
    let sk = PrivateKey::parse_field("private_key_base64", &v.private_key_base64).unwrap();
    assert_eq!(sk.public_key().to_string(), v.public_key);
    assert_eq!(v.public_key.parse::<PublicKey>().unwrap(), sk.public_key());
}

#[test]
fn signing_bytes_match_every_vector() {
    for v in vectors().signing_vectors.vectors {
        let bytes = signing_bytes(&v.message, &v.nonce).unwrap();
        assert_eq!(
            data_encoding::HEXLOWER.encode(&bytes),
            v.signing_bytes_hex,
            "{}",
            v.comment
        );
        assert_eq!(
            BASE64.encode(&bytes),
            v.signing_input_base64,
            "{}",
            v.comment
        );
    }
}

#[test]
fn signatures_match_every_vector() {
    let file = vectors().signing_vectors;
    let sk = PrivateKey::parse_field("private_key_base64", &file.private_key_base64).unwrap();
    let pk: PublicKey = file.public_key.parse().unwrap();
    for v in file.vectors {
        // Ed25519 is deterministic: same key and bytes, same signature.
        let sig = sk.sign(&v.message, &v.nonce).unwrap();
        assert_eq!(sig.to_string(), v.signature_base64, "{}", v.comment);
        let published: Signature = v.signature_base64.parse().unwrap();
        assert!(pk.verify(&v.message, &v.nonce, &published), "{}", v.comment);
    }
}

#[test]
fn tampering_breaks_every_vector() {
    let file = vectors().signing_vectors;
    let pk: PublicKey = file.public_key.parse().unwrap();
    for v in file.vectors {
        let sig: Signature = v.signature_base64.parse().unwrap();
        let mut altered = v.message.clone();
        altered.push(' ');
        assert!(
            !pk.verify(&altered, &v.nonce, &sig),
            "{}: message",
            v.comment
        );
        assert!(
            !pk.verify(&v.message, "00000000-0000-0000-0000-000000000000", &sig),
            "{}: nonce",
            v.comment
        );
        for bit in [0, 100, 255, 256, 300, 511] {
            let mut bytes = sig.to_bytes();
            flip_bit(&mut bytes, bit);
            assert!(
                !pk.verify(&v.message, &v.nonce, &Signature::from_bytes(&bytes)),
                "{}: signature bit {bit}",
                v.comment
            );
        }
    }
}

#[test]
fn key_vectors_public_keys_and_fingerprints() {
    for v in vectors().vectors {
        let sk = PrivateKey::parse_field("private_key_base64", &v.private_key_base64).unwrap();
        let pk = sk.public_key();
        assert_eq!(pk.to_string(), v.public_key, "{}", v.comment);
        assert_eq!(pk.fingerprint(), v.fingerprint, "{}", v.comment);
        assert_eq!(fingerprint(pk.as_bytes()), v.fingerprint, "{}", v.comment);
    }
}

#[test]
fn key_vectors_raw_signatures() {
    for v in vectors().vectors {
        let sk = PrivateKey::parse_field("private_key_base64", &v.private_key_base64).unwrap();
        let pk: PublicKey = v.public_key.parse().unwrap();
        let sig = sk.sign_raw(v.sign_input.as_bytes());
        assert_eq!(sig.to_string(), v.signature_base64, "{}", v.comment);
        let published: Signature = v.signature_base64.parse().unwrap();
        assert!(
            pk.verify_raw(v.sign_input.as_bytes(), &published),
            "{}",
            v.comment
        );
        assert!(
            !pk.verify_raw(format!("{}.", v.sign_input).as_bytes(), &published),
            "{}: tampered input",
            v.comment
        );
    }
}
