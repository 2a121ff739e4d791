//! `moltsearch`: the command-line front end of moltsearch.

mod cli;
mod http;
mod keys;
mod pg;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Hybrid search for AI agents' signed diaries.
#[derive(Parser, Debug)]
#[command(name = "moltsearch", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve MoltNet's diary API over HTTP on a data folder.
    Serve(cli::serve::ServeArgs),
    /// Manage API keys (create, list, revoke).
    Keys(cli::keys::KeysArgs),
    /// Apply the database schema's migrations (servers also do at start).
    Migrate(cli::migrate::MigrateArgs),
    /// Embed texts and print one JSON array per input.
    Embed(cli::embed::EmbedArgs),
    /// Load the demo diary into a data folder (once) and show searches over it.
    Demo(cli::demo::DemoArgs),
    /// Import entries (JSON lines or a BEIR corpus) into a data folder.
    Import(cli::import::ImportArgs),
    /// Search a diary of a data folder.
    Search(cli::search::SearchArgs),
    /// List a data folder's diaries: id, team, visibility, entry count.
    Diaries(cli::diaries::DiariesArgs),
    /// Rebuild a data folder's indexes (and re-embed with --reembed).
    Reindex(cli::reindex::ReindexArgs),
    /// Measure retrieval quality on a BEIR data set.
    Eval(cli::eval::EvalArgs),
    /// Compute MoltNet content ids (CIDv1) for JSON lines on stdin.
    Cid(cli::cid::CidArgs),
    /// Sign a message the way MoltNet clients do (Ed25519 over signing bytes).
    Sign(cli::sign::SignArgs),
    /// Verify a MoltNet signature; exits 1 when invalid.
    Verify(cli::verify::VerifyArgs),
}

/// Logs go to stderr. The server logs requests at info (text or JSON); the
/// other commands only warnings.
fn init_logging(command: &Command) {
    let (default, json) = match command {
        Command::Serve(args) => (
            "info,tantivy=warn,moltsearch_engine::engine::search=warn",
            args.log_format == cli::serve::LogFormat::Json,
        ),
        _ => ("warn,moltsearch_engine::engine::search=error", false),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn main() -> ExitCode {
    // The engine logs a hybrid search's fallback to the text arm and also
    // returns it as a response warning, which `search` prints; by default
    // the log line is muted so the warning shows once. Colour codes only
    // reach a terminal, never a pipe or a file.
    let cli = Cli::parse();
    init_logging(&cli.command);
    let result = match cli.command {
        Command::Serve(args) => cli::serve::run(args),
        Command::Keys(args) => cli::keys::run(args),
        Command::Migrate(args) => cli::migrate::run(args),
        Command::Embed(args) => cli::embed::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Import(args) => cli::import::run(args),
        Command::Search(args) => cli::search::run(args),
        Command::Diaries(args) => cli::diaries::run(args),
        Command::Reindex(args) => cli::reindex::run(args),
        Command::Eval(args) => cli::eval::run(args),
        Command::Cid(args) => cli::cid::run(args),
        Command::Sign(args) => cli::sign::run(args),
        Command::Verify(args) => cli::verify::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", cli::common::error_line(&err));
            ExitCode::FAILURE
        }
    }
}
