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
    /// Every term must match (MoltNet's websearch_to_tsquery semantics).
    All,
    /// Any term may match, more matches rank higher (the default).
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

/// An error and its causes on one line, for the terminal. Library errors
/// often repeat their source's message in their own (so that a log line
/// with only `{}` says everything); a cause whose text already ends the
/// line is not printed twice.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod error_line_tests {
    use super::error_line;

    /// Shows its source in its own message and returns it as the source.
    #[derive(Debug)]
    struct Repeats {
        source: std::io::Error,
    }

    impl std::fmt::Display for Repeats {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "could not open x: {}", self.source)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn causes_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AlreadyExists, "File exists");
        let err = anyhow::Error::new(Repeats { source: io }).context("opening data folder x");
        assert_eq!(
            error_line(&err),
            "opening data folder x: could not open x: File exists"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_line(&plain), "outer: inner");
    }
}
