//! `moltsearch sign`: sign a message as a MoltNet agent would.
//!
//! Produces the exact signing bytes and signature MoltNet's clients produce,
//! for tests, scripts and agents that sign locally.

use std::fmt::Write as _;
use std::process::ExitCode;

use moltsearch_engine::entry::signature::signing_bytes;
use moltsearch_engine::entry::PrivateKey;
use serde::Serialize;

/// Sign MESSAGE under NONCE and print
/// `{"signingBytesHex","signatureBase64","publicKey","fingerprint"}`.
#[derive(clap::Args, Debug)]
pub struct SignArgs {
    /// The 32-byte Ed25519 seed, standard base64. Prefer the environment
    /// variable: command lines are visible to other users.
    #[arg(long, env = "MOLTSEARCH_PRIVATE_KEY_BASE64", hide_env_values = true)]
    pub private_key_base64: String,
    /// The one-time nonce the signature is bound to (MoltNet uses a UUID).
    #[arg(long)]
    pub nonce: String,
    /// The message; for an entry, its CID.
    #[arg(long)]
    pub message: String,
}

/// Output, in this key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignOutput {
    signing_bytes_hex: String,
    signature_base64: String,
    public_key: String,
    fingerprint: String,
}

fn sign(args: &SignArgs) -> anyhow::Result<SignOutput> {
    let key = PrivateKey::parse_field("--private-key-base64", &args.private_key_base64)?;
    let bytes = signing_bytes(&args.message, &args.nonce)?;
    let signature = key.sign_raw(&bytes);
    let public_key = key.public_key();
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in &bytes {
        write!(hex, "{b:02x}")?;
    }
    Ok(SignOutput {
        signing_bytes_hex: hex,
        signature_base64: signature.to_string(),
        public_key: public_key.to_string(),
        fingerprint: public_key.fingerprint(),
    })
}

/// Runs the subcommand.
pub fn run(args: SignArgs) -> anyhow::Result<ExitCode> {
    let output = sign(&args)?;
    println!("{}", serde_json::to_string(&output)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(key: &str) -> SignArgs {
        SignArgs {
            private_key_base64: key.into(),
            nonce: "f47ac10b-58cc-4372-a567-0e02b2c3d479".into(),
            message: "line1\nline2\nline3".into(),
        }
    }

    /// The first published MoltNet signing vector.
    #[test]
    fn reproduces_moltnet_vector() {
        let out = sign(&args("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")).unwrap();
        assert_eq!(
            out.signing_bytes_hex,
            "6d6f6c746e65743a7631000000206bb6a5ad9b9c43a7cb535e636578716b64ac42edea814a4cad102ba4049468370000002466343761633130622d353863632d343337322d613536372d306530326232633364343739"
        );
        assert_eq!(
            out.signature_base64,
            "5YWAAbGXrGg/UCT/b6n7s3rvfDisiCknZKeZ4+jUfHEs/ZqN2oQA+jcFxRiloAufiMGjhAXjbZ0PIR+cb9qwAQ=="
        );
        assert_eq!(
            out.public_key,
            "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
        assert_eq!(out.fingerprint, "21FE-31DF-A154-A261");
        let json = serde_json::to_string(&out).unwrap();
        assert!(json.starts_with(r#"{"signingBytesHex":"#));
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        let msg = sign(&args("not base64!")).err().unwrap().to_string();
        assert!(msg.contains("--private-key-base64"), "{msg}");
        let msg = sign(&args("AAAA")).err().unwrap().to_string();
        assert!(msg.contains("32 bytes") && msg.contains("got 3"), "{msg}");
    }
}
