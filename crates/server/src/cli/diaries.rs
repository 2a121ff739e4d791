//! `moltsearch diaries`: the diaries of a data folder, with their entry counts.

use std::process::ExitCode;

use moltsearch_engine::engine::ListRequest;
use moltsearch_engine::search::request::Scope;

use super::engine_args::EngineArgs;

/// List the diaries of a data folder.
#[derive(clap::Args, Debug)]
pub struct DiariesArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print a JSON array (`id`, `teamId`, `name`, `visibility`, `entries`).
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: DiariesArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.open_with(|b| b.create_if_missing(false))?;
    let mut rows = Vec::new();
    for d in engine.list_diaries(None) {
        // One-entry page: only its total is wanted.
        let entries = engine
            .list(&ListRequest {
                scope: Scope::Diaries { ids: vec![d.id] },
                limit: 1,
                ..Default::default()
            })?
            .total;
        rows.push((d, entries));
    }
    if args.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(d, entries)| {
                serde_json::json!({
                    "id": d.id,
                    "teamId": d.team_id,
                    "name": d.name,
                    "visibility": d.visibility.as_str(),
                    "entries": entries,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no diaries in {}", args.engine.data_dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<36}  {:<36}  {:<10}  {:>8}  name",
        "id", "team", "visibility", "entries"
    );
    for (d, entries) in &rows {
        println!(
            "{:<36}  {:<36}  {:<10}  {:>8}  {}",
            d.id,
            d.team_id,
            d.visibility.as_str(),
            entries,
            d.name
        );
    }
    Ok(ExitCode::SUCCESS)
}
