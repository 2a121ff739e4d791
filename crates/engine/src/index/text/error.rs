//! Errors of the text index, with the operation and the index location they
//! happened at, so a log line says what to look at.

use std::fmt;
use std::path::PathBuf;

/// Where a text index lives, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexLocation {
    /// An in-memory index ([`TextIndex::create_in_ram`](super::TextIndex::create_in_ram)).
    InMemory,
    /// An index in this directory.
    Dir(PathBuf),
}

impl fmt::Display for IndexLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IndexLocation::InMemory => f.write_str("in-memory index"),
            IndexLocation::Dir(path) => write!(f, "index at {}", path.display()),
        }
    }
}

/// The text index operation that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// Creating or opening the index (schema, tokenizers).
    Open,
    /// Creating the index writer (takes the directory's writer lock).
    CreateWriter,
    /// Creating the index reader.
    OpenReader,
    /// Queueing a document for indexing.
    Add,
    /// Committing queued writes to disk.
    Commit,
    /// Reloading the reader after a commit.
    Reload,
    /// Running a search.
    Search,
    /// Checking which candidates match a query.
    Match,
}

impl fmt::Display for TextOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TextOp::Open => "open",
            TextOp::CreateWriter => "create writer",
            TextOp::OpenReader => "open reader",
            TextOp::Add => "add document",
            TextOp::Commit => "commit",
            TextOp::Reload => "reload reader",
            TextOp::Search => "search",
            TextOp::Match => "match candidates",
        })
    }
}

/// Everything that can go wrong in the text index.
///
/// Query parsing cannot fail (every string is a query), so these are all
/// storage or engine failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TextIndexError {
    /// The index directory could not be created.
    #[error("cannot create text index directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The index directory could not be opened (missing, not a directory,
    /// not readable).
    #[error("cannot open text index directory {path}: {source}")]
    OpenDir {
        /// The directory.
        path: PathBuf,
        /// tantivy's message.
        #[source]
        source: tantivy::directory::error::OpenDirectoryError,
    },
    /// tantivy failed during an operation (corrupt or incompatible index,
    /// I/O, writer lock held by another process, dead indexing thread).
    #[error("text {location}: {op} failed: {source}")]
    Tantivy {
        /// What was being done.
        op: TextOp,
        /// Which index.
        location: IndexLocation,
        /// tantivy's error.
        #[source]
        source: tantivy::TantivyError,
    },
}
