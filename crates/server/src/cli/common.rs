//! Argument types and terminal helpers shared by several subcommands.

use indicatif::{ProgressBar, ProgressStyle};
use moltsearch_engine::index::text::TextMatch;
use moltsearch_engine::search::request::SearchMode;

/// `--mode` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ModeArg {
    /// Both arms, fused.
    Hybrid,
    /// Vector arm only.
    Vector,
    /// Text arm only.
    Text,
}

/// `--text-match` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum MatchArg {
    /// Every term must match (websearch semantics).
    All,
    /// Any term may match.
    Any,
}

impl From<ModeArg> for SearchMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Hybrid => SearchMode::Hybrid,
            ModeArg::Vector => SearchMode::Vector,
            ModeArg::Text => SearchMode::Text,
        }
    }
}

impl From<MatchArg> for TextMatch {
    fn from(m: MatchArg) -> Self {
        match m {
            MatchArg::All => TextMatch::All,
            MatchArg::Any => TextMatch::Any,
        }
    }
}

/// A progress bar on stderr labelled `msg`.
pub fn progress(len: u64, msg: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(msg);
    bar
}

/// A spinner with elapsed time, for steps that report no progress (an HNSW
/// graph build); ticks on its own.
pub fn spinner(msg: &'static str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(msg);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}
