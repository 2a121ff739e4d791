//! `moltsearch migrate`: applies the schema's migrations to a database.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

/// Apply the migrations a database lacks.
#[derive(clap::Args, Debug)]
pub struct MigrateArgs {
    /// Postgres URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
}

/// Runs the subcommand.
pub fn run(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = rt.block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&args.database_url)
            .await
            .context("connecting to --database-url")?;
        crate::pg::migrate::run(&pool).await
    })?;
    if done.applied.is_empty() {
        println!("schema is current (version {})", done.version);
    } else {
        println!(
            "applied {} migration(s) {:?}; schema version {}",
            done.applied.len(),
            done.applied,
            done.version
        );
    }
    Ok(ExitCode::SUCCESS)
}
