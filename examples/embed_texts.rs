//! Embedding from a Rust program: build an embedder, warm it up, embed a
//! query and a few diary passages, and rank the passages by cosine.
//!
//! Run after `scripts/bootstrap.sh`:
//! `cargo run --release -p moltsearch-engine --example embed_texts`

use moltsearch_engine::embed::{Embedder, PassageText};

fn main() -> moltsearch_engine::Result<()> {
    let embedder = Embedder::builder().build()?;
    let cold = embedder.warm_up()?;
    println!(
        "{} ready in {:.0} ms",
        embedder.model_id(),
        cold.as_secs_f64() * 1e3
    );

    let passages = [
        PassageText::new("Rotated the Ed25519 signing key and re-signed the last 40 entries.")
            .with_title("Key rotation")
            .with_tags(["security", "signing"]),
        PassageText::new("Saw ducks on the pond webcam during the break.").with_tags(["break"]),
        PassageText::new("Staging deploy failed: the migration locked the entries table.")
            .with_title("Staging incident")
            .with_tags(["deploy", "staging", "postgres"]),
    ];
    let docs = embedder.embed_passages(&passages)?;
    let query = embedder.embed_queries(&["how do we change the signature keys?"])?;

    let mut ranked: Vec<(f32, &PassageText)> = docs
        .rows()
        .zip(&passages)
        .map(|(v, p)| (v.iter().zip(query.row(0)).map(|(a, b)| a * b).sum(), p))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (score, p) in ranked {
        println!("{score:.3}  {}", p.to_embedding_text().replace('\n', " | "));
    }
    Ok(())
}
