//! `moltsearch embed`: texts in, one JSON vector per line out.

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use moltsearch_engine::embed::{Embedder, TextKind};

use super::model_args::ModelArgs;

/// Embed texts given as arguments, or stdin lines when there are none.
#[derive(clap::Args, Debug)]
pub struct EmbedArgs {
    /// Treat inputs as search queries (the default).
    #[arg(long, conflicts_with = "passage")]
    pub query: bool,
    /// Treat inputs as passages (stored entries).
    #[arg(long)]
    pub passage: bool,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Texts to embed; read from stdin, one per line, when absent.
    pub texts: Vec<String>,
}

/// Lines are embedded in chunks of this many, so stdin streams through
/// batched inference without holding everything in memory.
const CHUNK: usize = 256;

/// Runs the subcommand.
pub fn run(args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let kind = if args.passage {
        TextKind::Passage
    } else {
        TextKind::Query
    };
    let embedder = args.model.embedder()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if !args.texts.is_empty() {
        emit(&embedder, kind, args.texts, &mut out)?;
    } else {
        let mut chunk = Vec::with_capacity(CHUNK);
        for line in std::io::stdin().lock().lines() {
            chunk.push(line.context("reading stdin")?);
            if chunk.len() == CHUNK {
                emit(&embedder, kind, std::mem::take(&mut chunk), &mut out)?;
            }
        }
        emit(&embedder, kind, chunk, &mut out)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn emit(
    embedder: &Embedder,
    kind: TextKind,
    texts: Vec<String>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let vectors = embedder.embed_texts(kind, texts)?;
    for row in vectors.rows() {
        serde_json::to_writer(&mut *out, row)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
