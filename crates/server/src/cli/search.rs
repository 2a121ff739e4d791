//! `moltsearch search`: query a diary of a data folder.

use std::process::ExitCode;

use anyhow::Context;
use moltsearch_engine::search::request::{Scope, SearchRequest};

use super::common::{MatchArg, ModeArg};
use super::engine_args::{find_diary, DiaryArgs, EngineArgs};
use super::eval::parse_fusion;

/// Search a diary.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The diary (created by `import` when missing).
    #[command(flatten)]
    pub target: DiaryArgs,
    /// Results.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Results to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Arms to run.
    #[arg(long, value_enum, default_value = "hybrid")]
    pub mode: ModeArg,
    /// Text matching: all terms (MoltNet's websearch semantics) or any.
    #[arg(long, value_enum, default_value = "all")]
    pub text_match: MatchArg,
    /// Fusion: rrf, weighted:<wv>:<wt>, convex:<alpha>.
    #[arg(long, default_value = "rrf")]
    pub fusion: String,
    /// Print the whole response as JSON (with per-arm explain data).
    #[arg(long)]
    pub json: bool,
    /// The query (websearch syntax: words, "phrases", OR, -word).
    pub query: String,
}

/// Runs the subcommand.
pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    // Read-only: searches never lock the folder, so any number can run at
    // once, also beside a process writing it.
    let engine = args.engine.open_with(|b| b.read_only(true))?;
    let diary = find_diary(&engine, args.target.team, &args.target.diary).with_context(|| {
        format!(
            "no diary named {:?} in {}",
            args.target.diary,
            args.engine.data_dir.display()
        )
    })?;
    let mut req = SearchRequest::new(
        args.query.clone(),
        Scope::Diaries {
            ids: vec![diary.id],
        },
    );
    req.limit = args.limit;
    req.offset = args.offset;
    req.mode = args.mode.into();
    req.text_match = args.text_match.into();
    req.fusion = parse_fusion(&args.fusion)?;
    req.explain = true;
    let start = std::time::Instant::now();
    let resp = engine.search(&req)?;
    let took = start.elapsed();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&resp)?);
        return Ok(ExitCode::SUCCESS);
    }
    for w in &resp.warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "{} of {}{} results for {:?} ({:?}, {:.1} ms)",
        resp.hits.len(),
        resp.total,
        if resp.total_is_lower_bound { "+" } else { "" },
        args.query,
        resp.mode,
        took.as_secs_f64() * 1e3
    );
    for (i, h) in resp.hits.iter().enumerate() {
        let e = &h.entry;
        let title = e
            .title
            .clone()
            .unwrap_or_else(|| e.content.chars().take(70).collect());
        let arms = h.explain.as_ref().map_or(String::new(), |x| {
            format!(
                "vector #{} text #{}",
                x.vector_rank.map_or("-".into(), |r| r.to_string()),
                x.text_rank.map_or("-".into(), |r| r.to_string())
            )
        });
        println!(
            "{:>3}. {:.3}  [{}] {}  {{{}}}  ({arms})",
            args.offset + i + 1,
            h.score,
            e.entry_type.as_str(),
            title,
            e.tags.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
