//! `moltsearch verify`: check a MoltNet signature.

use std::process::ExitCode;

use moltsearch_engine::entry::{PublicKey, Signature};

/// Check that SIGNATURE signs MESSAGE under NONCE with PUBLIC_KEY and print
/// `{"valid": bool}`.
///
/// Exit status: 0 valid, 1 invalid, 2 unusable input (bad base64, wrong key
/// or signature length), so scripts can tell a forgery from a typo.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The signer's key, `ed25519:<base64 of 32 bytes>`.
    #[arg(long)]
    pub public_key: String,
    /// The nonce the signature is bound to.
    #[arg(long)]
    pub nonce: String,
    /// The signed message; for an entry, its CID.
    #[arg(long)]
    pub message: String,
    /// The signature, standard base64 (88 characters).
    #[arg(long)]
    pub signature: String,
}

/// Exit status for input that cannot even be checked.
const BAD_INPUT: u8 = 2;

fn verify(args: &VerifyArgs) -> anyhow::Result<bool> {
    let key = PublicKey::parse_field("--public-key", &args.public_key)?;
    let signature = Signature::parse_field("--signature", &args.signature)?;
    Ok(key.verify(&args.message, &args.nonce, &signature))
}

/// Runs the subcommand.
pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match verify(&args) {
        Ok(valid) => {
            println!("{}", serde_json::json!({ "valid": valid }));
            Ok(if valid {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(err) => {
            eprintln!("error: {}", super::common::error_line(&err));
            Ok(ExitCode::from(BAD_INPUT))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(signature: &str) -> VerifyArgs {
        VerifyArgs {
            public_key: "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into(),
            nonce: "f47ac10b-58cc-4372-a567-0e02b2c3d479".into(),
            message: "line1\nline2\nline3".into(),
            signature: signature.into(),
        }
    }

    const SIG: &str =
        "5YWAAbGXrGg/UCT/b6n7s3rvfDisiCknZKeZ4+jUfHEs/ZqN2oQA+jcFxRiloAufiMGjhAXjbZ0PIR+cb9qwAQ==";

    #[test]
    fn moltnet_vector_verifies() {
        assert!(verify(&args(SIG)).unwrap());
        let mut other = args(SIG);
        other.message.push('!');
        assert!(!verify(&other).unwrap());
    }

    #[test]
    fn bad_input_is_an_error_not_a_verdict() {
        let msg = verify(&args("AAAA")).err().unwrap().to_string();
        assert!(
            msg.contains("--signature") && msg.contains("64 bytes"),
            "{msg}"
        );
        let mut bad_key = args(SIG);
        bad_key.public_key = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into();
        let msg = verify(&bad_key).err().unwrap().to_string();
        assert!(
            msg.contains("--public-key") && msg.contains("ed25519:"),
            "{msg}"
        );
    }
}
