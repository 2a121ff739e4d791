//! `moltsearch migrate`: applies the schema's migrations to a database.

use std::process::ExitCode;

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
        let pool = crate::pg::connect(&args.database_url, 1).await?;
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
