//! `moltsearch search`: query a diary of a data folder.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use moltsearch_engine::entry::EntryType;
use moltsearch_engine::search::request::{Filters, Scope, SearchMode, SearchRequest};
use time::OffsetDateTime;

use super::common::{MatchArg, ModeArg};
use super::engine_args::{find_diary, DiaryArgs, EngineArgs};
use super::eval::parse_fusion;

/// Search a diary.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "A query that starts with `-` goes after `--`, which ends the options: \
                        moltsearch search --data-dir D --diary notes -- '-staging deploy'"
)]
pub struct SearchArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The diary.
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
    /// Text matching: any term may match (ranks natural-language queries
    /// best), or all terms (MoltNet's websearch_to_tsquery semantics).
    #[arg(long, value_enum, default_value = "any")]
    pub text_match: MatchArg,
    /// Fusion: rrf, weighted:<wv>:<wt>, convex:<alpha>.
    #[arg(long, default_value = "rrf")]
    pub fusion: String,
    /// Only entries with this tag (repeat for several: all are required).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Leave out entries with this tag (repeatable).
    #[arg(long = "exclude-tag", value_name = "TAG")]
    pub exclude_tags: Vec<String>,
    /// Only entries of this type: episodic, semantic, procedural, reflection
    /// (repeat for several: any of them).
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_entry_type)]
    pub entry_types: Vec<EntryType>,
    /// Only entries created at or after this time (RFC 3339, or a date
    /// YYYY-MM-DD meaning its midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub after: Option<OffsetDateTime>,
    /// Only entries created strictly before this time (RFC 3339, or a date
    /// YYYY-MM-DD meaning its midnight UTC).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub before: Option<OffsetDateTime>,
    /// Hide entries another entry supersedes (an accepted `supersedes` relation).
    #[arg(long)]
    pub exclude_superseded: bool,
    /// Vector hits farther than this cosine distance (0..=2) are dropped.
    #[arg(long, default_value_t = 0.6)]
    pub max_distance: f32,
    /// Print the whole response as JSON (with per-arm explain data).
    #[arg(long)]
    pub json: bool,
    /// The query (websearch syntax: words, "phrases", OR, -word).
    pub query: String,
}

/// Parses an `--type` value in MoltNet's spelling.
fn parse_entry_type(s: &str) -> Result<EntryType, String> {
    s.parse::<EntryType>().map_err(|e| e.to_string())
}

/// Parses an RFC 3339 time or a `YYYY-MM-DD` date (its midnight UTC).
pub fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    use time::format_description::well_known::Rfc3339;
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &day)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            format!(
                "{s:?} is neither an RFC 3339 time (2026-08-01T12:00:00Z) nor a date (2026-08-01)"
            )
        })
}

/// Runs the subcommand.
pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    // Opening the folder and loading the model are timed apart from the
    // search: a one-shot command pays both, a running server never does.
    // Read-only: searches never lock the folder, so any number can run at
    // once, also beside a process writing it.
    let load_start = Instant::now();
    let engine = args.engine.open_with(|b| b.read_only(true))?;
    let diary = find_diary(&engine, args.target.team, &args.target.diary)?.with_context(|| {
        format!(
            "no diary named {:?} in {}",
            args.target.diary,
            args.engine.data_dir.display()
        )
    })?;
    let mode: SearchMode = args.mode.into();
    if mode != SearchMode::Text {
        // A model that cannot load is the search's to report (hybrid falls
        // back to the text arm with a warning), so the error is not raised here.
        let _ = engine.embedder().warm_up();
    }
    let loaded = load_start.elapsed();
    let mut req = SearchRequest::new(
        args.query.clone(),
        Scope::Diaries {
            ids: vec![diary.id],
        },
    );
    req.limit = args.limit;
    req.offset = args.offset;
    req.mode = mode;
    req.text_match = args.text_match.into();
    req.fusion = parse_fusion(&args.fusion)?;
    req.max_distance = args.max_distance;
    req.filters = Filters {
        tags: args.tags.clone(),
        exclude_tags: args.exclude_tags.clone(),
        entry_types: args.entry_types.clone(),
        exclude_superseded: args.exclude_superseded,
        created_after: args.after,
        created_before: args.before,
        ..Filters::default()
    };
    req.explain = true;
    let start = Instant::now();
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
        "{} of {}{} results for {:?} ({:?}, search {:.1} ms; opening the folder and loading the model {:.0} ms)",
        resp.hits.len(),
        resp.total,
        if resp.total_is_lower_bound { "+" } else { "" },
        args.query,
        resp.mode,
        took.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3
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

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn times_and_dates_parse_and_noise_is_refused() {
        let t = parse_time("2026-08-01T12:30:00Z").expect("RFC 3339");
        assert_eq!((t.hour(), t.minute()), (12, 30));
        let d = parse_time("2026-08-01").expect("date");
        assert_eq!((d.year(), d.day(), d.hour()), (2026, 1, 0));
        let err = parse_time("last week").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
        assert!(parse_time("2026-13-01").is_err());
    }
}
