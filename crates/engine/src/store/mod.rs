//! Durable storage: a write-ahead log plus snapshots, in one data folder.
//!
//! The engine keeps everything it searches in memory; this module makes it
//! survive restarts, crashes and power loss. Every mutation is first
//! appended to the log as a [`Record`] ([`Store::append`]); on open
//! ([`Store::open`]) the latest snapshot is loaded and the log written since
//! is replayed, yielding a [`Recovered`] state the engine rebuilds its
//! indexes from. [`Store::checkpoint`] folds the log into a new snapshot so
//! replay stays short.
//!
//! # Files
//!
//! A data folder holds:
//!
//! - `LOCK`: held with an exclusive advisory lock while a store is open
//!   ([`StoreError::Locked`] for a second opener);
//! - `meta.json`: `{"format":1,"model_id":…,"dims":…}`, plus `"source":…`
//!   for a folder that caches an external source of truth, written once.
//!   The vectors only make sense for the model that produced them, so
//!   opening with another model is [`StoreError::ModelMismatch`] (and with
//!   another source, [`StoreError::SourceMismatch`]);
//! - `wal-<S>.log`: log segment holding the records with sequence numbers
//!   above `S` (20-digit zero-padded), each framed as
//!   `[u32 le length][u32 le crc32(payload)][payload = bincode((seq, Record))]`
//!   (bincode 2, standard configuration); see `wal.rs`;
//! - `snapshot-<S>.bin` + `vectors-<S>.f32`: the state as of record `S`,
//!   the vectors as one contiguous little-endian f32 matrix with a doc-id
//!   array, memory-mapped on open; see `snapshot.rs`.
//!
//! Sequence numbers start at 1 and increase by one per record, across
//! segments; recovery checks this, so a missing segment or record is
//! detected rather than silently skipped.
//!
//! # Durability
//!
//! [`Durability`] decides when [`Store::append`] returns:
//!
//! - [`Durability::Sync`] (default): after an fsync (fdatasync) covering the
//!   call's records. An acknowledged append survives a process kill and a
//!   power loss or kernel crash. Concurrent appenders share fsyncs (group
//!   commit: one waiting thread fsyncs for every record written before it
//!   started), so throughput grows with concurrency while each call still
//!   waits for its own durability. Cost: one fsync of latency per call.
//! - [`Durability::Buffered`]: after the records are handed to the OS
//!   (`write`, no fsync). Survives a crash or kill of this process, since
//!   the kernel still holds the data; a power loss or kernel crash may lose
//!   the appends since the last fsync (any [`Store::sync`], checkpoint, or
//!   clean drop). Recovery then sees a shorter log, never a damaged one in
//!   the middle: the lost suffix is either absent or a torn tail. Use it
//!   when the source of truth can be replayed (imports, mirrors), or call
//!   [`Store::sync`] on a timer to bound the loss window.
//!
//! Records of one [`Store::append`] call are written with a single write,
//! but a crash during it can keep a prefix of them: records are each
//! atomic, a call is not. Put what must be atomic into one record (a whole
//! engine batch is one [`Record::PutEntries`]).
//!
//! After a failed write that cannot be undone, or a failed fsync, the store
//! is poisoned ([`StoreError::Poisoned`]): the kernel may have dropped the
//! unsynced pages, so the only safe continuation is reopening, which
//! recovers from what is really on disk.
//!
//! # Recovery
//!
//! 1. `meta.json` is checked against [`StoreOptions`].
//! 2. `*.tmp` files (an interrupted checkpoint) are deleted.
//! 3. The newest `snapshot-<S>.bin` is loaded and checked (trailer, crc32,
//!    vector file length and crc32, doc ids). Since snapshots only appear by
//!    atomic rename after being fsynced, a damaged one is real corruption and
//!    fails the open ([`StoreError::Corrupt`]).
//! 4. Log segments are replayed in order, records up to `S` skipped. In the
//!    last segment, a damaged final write (incomplete frame at end of file,
//!    a crc mismatch in the frame ending exactly at end of file, or a
//!    zero-filled tail) is a torn append: it is cut off with a
//!    `tracing::warn!` naming file, offset and bytes dropped, and reported
//!    in [`Recovered::torn_tail`]. Any other damage (a crc mismatch or
//!    undecodable record before the end, a sequence gap, damage in an older
//!    segment) is [`StoreError::Corrupt`] with file and offset: nothing is
//!    dropped silently.
//!
//! # Checkpoints
//!
//! [`Store::checkpoint`] at sequence `S`: under the writer lock, fsync the
//! current segment, start `wal-<S>.log` (folder fsynced), and take a cheap
//! copy of the state (entries are shared, not copied); then, with no lock
//! held, write `vectors-<S>.f32` and `snapshot-<S>.bin` under `.tmp` names,
//! fsync, rename, fsync the folder; finally map the new vector file and
//! delete older segments, snapshots and vector files. A crash at any point
//! leaves either the old snapshot with every segment since it, or the new
//! snapshot: both recover the same state. [`Store::log_bytes`] tells the
//! engine when a checkpoint is worth it (e.g. beyond 64 MiB).
//!
//! # Memory
//!
//! The store keeps the materialised state (diaries, entries, relations) so
//! a checkpoint needs nothing from the engine. Vectors from the last
//! snapshot stay in its memory-mapped file (page cache, reclaimable);
//! only vectors appended since are on the heap, one `Arc<[f32]>` each.

pub mod directory;
pub mod record;
mod run;
mod snapshot;
pub(crate) mod state;
mod wal;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::{fmt, io};

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

pub use self::directory::{DirFile, Directory, FileBytes, FsDirectory, RamDirectory};
pub use self::record::{Access, Record, StoredEntry};
use self::state::State;
use self::wal::{Wal, Writer};
use crate::entry::{Diary, Relation};
use crate::index::DocId;

/// Version of the on-disk format, recorded in `meta.json`, snapshots and
/// vector files; a mismatch is [`StoreError::UnsupportedFormat`].
pub const FORMAT_VERSION: u32 = 1;

/// Name of the file recording the format, model and dimensions.
pub const META_FILE: &str = "meta.json";

/// The bincode configuration of every encoded byte in the folder.
pub(crate) fn bincode_config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// What can go wrong in the store, with the file and position involved so a
/// damaged folder can be diagnosed from the message alone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An operating-system call failed.
    #[error("could not {op} {}: {source}", path.display())]
    Io {
        /// What was being done ("append to", "sync", "rename", …).
        op: &'static str,
        /// The file or folder concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file's content fails its checks; the store refuses to guess.
    #[error(
        "{} is corrupt at byte {offset}: {reason}; restore the folder from a backup, \
         or move the damaged file away and reindex from the source of truth",
        file.display()
    )]
    Corrupt {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged frame, item or field.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// There is no data folder where one was required (no `meta.json`).
    #[error(
        "no moltsearch data folder at {} (it has no {META_FILE}); check the path, or create \
         one by importing entries (`moltsearch import`)",
        path.display()
    )]
    NoDataFolder {
        /// The path given.
        path: PathBuf,
    },
    /// Another process (or another store in this process) has the folder
    /// open.
    #[error(
        "data folder {} is locked by another moltsearch process (or another store in this \
         process); stop it first, only one writer may use a folder",
        path.display()
    )]
    Locked {
        /// The data folder.
        path: PathBuf,
    },
    /// The folder's vectors come from another embedding model.
    #[error(
        "data folder was built with embedding model `{stored}` but `{requested}` was \
         requested; vectors of different models cannot be mixed: run \
         `moltsearch reindex --reembed` to re-embed every entry with `{requested}`, \
         or keep using `{stored}`"
    )]
    ModelMismatch {
        /// The model recorded in `meta.json`.
        stored: String,
        /// The model asked for.
        requested: String,
    },
    /// The folder caches another source of truth than the one asked for,
    /// or is its own truth while a source was asked for, or the reverse.
    #[error(
        "data folder {} belongs to {}, but {} was requested; \
         a cache of another source must be rebuilt, not reused",
        path.display(),
        describe_source(stored),
        describe_source(requested)
    )]
    SourceMismatch {
        /// The folder.
        path: PathBuf,
        /// The source recorded in `meta.json` (`None`: its own truth).
        stored: Option<String>,
        /// The source asked for.
        requested: Option<String>,
    },
    /// The folder's vectors have another dimension.
    #[error(
        "data folder holds {stored}-dimensional vectors but {requested} were requested; \
         run `moltsearch reindex --reembed` to rebuild the vectors"
    )]
    DimsMismatch {
        /// Dimensions recorded in `meta.json`.
        stored: usize,
        /// Dimensions asked for.
        requested: usize,
    },
    /// A file was written by a newer (or unknown) format version.
    #[error(
        "{} has format version {found}; this build reads version {supported}",
        file.display()
    )]
    UnsupportedFormat {
        /// The file.
        file: PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A record of an append was refused before anything was written.
    #[error("record {index} of the append was refused: {reason}")]
    InvalidRecord {
        /// 0-based position in the call.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A record could not be encoded (e.g. a time outside RFC 3339's range).
    #[error("could not encode {reason}")]
    Encode {
        /// What failed.
        reason: String,
    },
    /// [`StoreOptions`] are unusable.
    #[error("invalid store options: {0}")]
    InvalidOptions(String),
    /// The store was opened read-only ([`StoreOptions::read_only`]).
    #[error(
        "data folder {} is open read-only in this process; writes go through the process \
         that owns it (or open it without read-only)",
        path.display()
    )]
    ReadOnly {
        /// The data folder.
        path: PathBuf,
    },
    /// An earlier write or fsync failed; the store refuses further writes.
    #[error(
        "the store stopped accepting writes after an I/O failure ({reason}); reopen the \
         data folder to recover from what is on disk"
    )]
    Poisoned {
        /// The failure.
        reason: String,
    },
}

/// When an append counts as done; see the module docs for what each risks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync before returning (group-committed): survives power loss.
    #[default]
    Sync,
    /// Handed to the OS before returning, no fsync: survives a process
    /// crash, not a power loss or kernel crash.
    Buffered,
}

/// How to open a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Id of the embedding model the vectors come from; recorded on first
    /// open and required to match afterwards.
    pub model_id: String,
    /// Vector dimensions; recorded and checked like the model id.
    pub dims: usize,
    /// When appends return.
    pub durability: Durability,
    /// Whether [`Store::open_path`] may create a new data folder where none
    /// is. `false` for tools that only read or rebuild an existing one, so
    /// a mistyped path is an error instead of a new empty database.
    pub create_if_missing: bool,
    /// Open without the folder lock and write nothing (no log repair, no
    /// clean-up, appends refused): any number of read-only stores may open
    /// a folder while one process writes it. The state is the log as it was
    /// at open (a torn last record, possibly an append in progress, is left
    /// out, not cut).
    pub read_only: bool,
    /// The identity of the external source of truth the folder caches
    /// (e.g. a database's system identifier and name), recorded on first
    /// open; `None` for a folder that is its own truth. A writable open
    /// with another value (or none) is [`StoreError::SourceMismatch`], so
    /// a cache of one database is never fed from another, and a cache is
    /// never written as if it were the truth. A read-only open may omit it.
    pub source: Option<String>,
}

impl StoreOptions {
    /// Options for `model_id` vectors of `dims` dimensions, durability
    /// [`Durability::Sync`].
    pub fn new(model_id: impl Into<String>, dims: usize) -> Self {
        Self {
            model_id: model_id.into(),
            dims,
            durability: Durability::Sync,
            create_if_missing: true,
            read_only: false,
            source: None,
        }
    }

    /// Sets the external source of truth the folder caches (default none).
    pub fn source(mut self, source: Option<String>) -> Self {
        self.source = source;
        self
    }

    /// Sets whether the store is opened read-only (default `false`).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets whether opening may create a new data folder (default `true`).
    pub fn create_if_missing(mut self, create: bool) -> Self {
        self.create_if_missing = create;
        self
    }

    /// Sets the durability policy.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.model_id.trim().is_empty() {
            return Err(StoreError::InvalidOptions("model_id is empty".into()));
        }
        if self.dims == 0 || u32::try_from(self.dims).is_err() {
            return Err(StoreError::InvalidOptions(format!(
                "dims must be within 1..=u32::MAX, got {}",
                self.dims
            )));
        }
        Ok(())
    }
}

/// A torn last append that recovery cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The log segment.
    pub file: PathBuf,
    /// Where it was cut (the start of the damaged frame).
    pub offset: u64,
    /// Bytes removed.
    pub dropped_bytes: u64,
    /// Why the bytes were judged a torn write.
    pub reason: String,
}

/// The state a store holds, as handed to the engine on open (and by
/// [`Store::state`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Recovered {
    /// Diaries, by id.
    pub diaries: Vec<Diary>,
    /// Live entries (latest version, deleted ones gone), by doc id. Their
    /// vectors stay in the store (mostly in the memory-mapped snapshot):
    /// fetch the ones you need with [`Store::vector`], so opening a large
    /// folder does not copy every vector onto the heap.
    pub entries: Vec<RecoveredEntry>,
    /// Relations, by id.
    pub relations: Vec<Relation>,
    /// One past the largest doc id ever used, deleted ones included: the
    /// engine must start assigning here so doc ids are never reused.
    pub next_doc: DocId,
    /// Sequence number of the last record (0 for an empty store).
    pub last_seq: u64,
    /// Sequence number of the last record that changed what the indexes
    /// hold (entry puts, updates, deletes), at most `last_seq`: an index
    /// stamped in `last_index_change..=last_seq` is up to date. Equal to
    /// the snapshot's sequence when no such record follows it.
    pub last_index_change: u64,
    /// The external source's sequence the state includes (0 for a folder
    /// that is its own truth); see [`Record::SourceSeq`].
    pub source_seq: u64,
    /// The embedding model recorded in `meta.json`.
    pub model_id: String,
    /// Vector dimensions.
    pub dims: usize,
    /// Sequence number of the snapshot loaded, if any.
    pub snapshot_seq: Option<u64>,
    /// Records replayed from the log after the snapshot.
    pub replayed_records: u64,
    /// The torn last append that was cut off, if any.
    pub torn_tail: Option<TornTail>,
}

/// A live entry as recovered: its record (shared with the store, not
/// copied) and its doc id.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveredEntry {
    /// The entry's data, as last logged.
    pub record: Arc<crate::entry::EntryRecord>,
    /// Doc id the indexes use.
    pub doc: DocId,
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format: u32,
    model_id: String,
    dims: usize,
    /// The external source of truth this folder is an index cache of
    /// (absent: the folder is its own truth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
}

/// The model id and dimension recorded in a data folder's `meta.json`, or
/// `None` for a folder that holds no store yet. Lets a tool open a folder
/// written by another model (e.g. to re-embed it).
pub fn stored_model(
    path: impl AsRef<std::path::Path>,
) -> Result<Option<(String, usize)>, StoreError> {
    Ok(read_meta(path.as_ref())?.map(|m| (m.model_id, m.dims)))
}

/// Whose data a folder holds, from its `meta.json`: `None` for a folder
/// that holds no store yet, `Some(None)` for a folder that is its own
/// truth, `Some(Some(source))` for an index cache of that external source
/// (see [`EngineBuilder::external_source`](crate::EngineBuilder::external_source)).
/// Lets a caller tell a cache it may discard and rebuild from a folder
/// that holds the only copy of its data.
pub fn stored_source(
    path: impl AsRef<std::path::Path>,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(read_meta(path.as_ref())?.map(|m| m.source))
}

fn read_meta(path: &std::path::Path) -> Result<Option<Meta>, StoreError> {
    let file = path.join(META_FILE);
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                op: "read",
                path: file,
                source,
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            file,
            offset: 0,
            reason: format!("not valid metadata JSON: {e}"),
        })
}

/// The durable store of one data folder. `Send + Sync`: share it (e.g. in
/// an `Arc`) between threads; appends from many threads are group-committed.
pub struct Store {
    dir: Arc<dyn Directory>,
    options: StoreOptions,
    /// `None` when read-only.
    wal: Option<Wal>,
    /// The fold of every applied record; shared with the engine, which
    /// applies its own writes (see [`Store::write`]).
    state: Arc<RwLock<State>>,
    /// Records [`Store::append`] wrote, waiting to be applied in order.
    unapplied: Mutex<std::collections::VecDeque<(u64, Record)>>,
    /// Serialises checkpoints (held while a snapshot is written).
    checkpoint: Mutex<()>,
    /// Sequence number of the newest durable snapshot; its own lock so
    /// readers never wait for a checkpoint.
    snapshot_seq: Mutex<Option<u64>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("options", &self.options)
            .field("last_seq", &self.last_seq())
            .finish()
    }
}

/// Files of a folder, by role.
#[derive(Default)]
struct Listing {
    segments: Vec<u64>,
    snapshots: Vec<u64>,
    vectors: Vec<u64>,
    temps: Vec<String>,
    has_meta: bool,
}

impl Listing {
    fn of(dir: &dyn Directory) -> Result<Self, StoreError> {
        let mut l = Listing::default();
        for name in dir.list()? {
            if name.ends_with(snapshot::TMP_SUFFIX) {
                l.temps.push(name);
            } else if let Some(s) = wal::parse_segment_name(&name) {
                l.segments.push(s);
            } else if let Some(s) = snapshot::parse_snapshot_name(&name) {
                l.snapshots.push(s);
            } else if let Some(s) = snapshot::parse_vectors_name(&name) {
                l.vectors.push(s);
            } else if name == META_FILE {
                l.has_meta = true;
            }
        }
        l.segments.sort_unstable();
        l.snapshots.sort_unstable();
        l.vectors.sort_unstable();
        Ok(l)
    }
}

impl Store {
    /// Opens the store in `dir` (creating it if empty) and recovers its
    /// state; see the module docs for the steps and what fails how.
    pub fn open(
        dir: impl Directory + 'static,
        options: StoreOptions,
    ) -> Result<(Store, Recovered), StoreError> {
        Self::open_shared(Arc::new(dir), options)
    }

    /// Opens the data folder at `path`, locking it; creates it when missing
    /// unless [`StoreOptions::create_if_missing`] is off.
    pub fn open_path(
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<(Store, Recovered), StoreError> {
        let path = path.as_ref();
        if (options.read_only || !options.create_if_missing) && !path.join(META_FILE).is_file() {
            return Err(StoreError::NoDataFolder {
                path: path.to_path_buf(),
            });
        }
        if options.read_only {
            return Self::open(FsDirectory::open_read_only(path)?, options);
        }
        Self::open(FsDirectory::open(path)?, options)
    }

    /// [`Store::open`] on a directory shared with the caller (e.g. a test
    /// wrapper that injects failures).
    pub fn open_shared(
        dir: Arc<dyn Directory>,
        options: StoreOptions,
    ) -> Result<(Store, Recovered), StoreError> {
        options.check()?;
        let read_only = options.read_only;
        let listing = Listing::of(&*dir)?;
        if read_only && !listing.has_meta {
            return Err(StoreError::NoDataFolder {
                path: dir.path_of(""),
            });
        }
        check_meta(&*dir, &listing, &options)?;

        if !read_only {
            for name in &listing.temps {
                tracing::warn!(
                    file = %dir.path_of(name).display(),
                    "deleting a leftover of an interrupted checkpoint"
                );
            }
            remove_files(&*dir, &listing.temps);
        }

        let snap_seq = listing.snapshots.last().copied();
        let mut state = match snap_seq {
            Some(seq) => {
                let loaded = snapshot::read(&*dir, seq, options.dims)?;
                if loaded.model_id != options.model_id {
                    return Err(StoreError::Corrupt {
                        file: dir.path_of(&snapshot::snapshot_name(seq)),
                        offset: 12,
                        reason: format!(
                            "built with model `{}` but {META_FILE} says `{}`",
                            loaded.model_id, options.model_id
                        ),
                    });
                }
                loaded.state
            }
            None => State::default(),
        };
        state.derive_indexes();
        let base_seq = state.last_seq;

        // Segments whose successor starts at or before the snapshot hold
        // nothing the snapshot lacks.
        let segs = &listing.segments;
        let first_live = (0..segs.len())
            .find(|&i| i + 1 >= segs.len() || segs[i + 1] > base_seq)
            .unwrap_or(segs.len());
        let (obsolete, live) = segs.split_at(first_live);

        let mut replayed = 0u64;
        let mut torn_tail = None;
        let mut log_bytes = 0u64;
        for (i, &start) in live.iter().enumerate() {
            let is_last = i + 1 == live.len();
            let name = wal::segment_name(start);
            let path = dir.path_of(&name);
            if start > state.last_seq {
                return Err(StoreError::Corrupt {
                    file: path,
                    offset: 0,
                    reason: format!(
                        "segment holds records after {start}, but the snapshot and earlier \
                         segments end at {}: records are missing",
                        state.last_seq
                    ),
                });
            }
            let bytes = dir.read(&name)?;
            let total = bytes.len() as u64;
            let mut prev = 0u64;
            let end = wal::scan(&bytes, &path, is_last, |offset, seq, record| {
                let corrupt = |reason: String| StoreError::Corrupt {
                    file: path.clone(),
                    offset,
                    reason,
                };
                if seq <= prev {
                    return Err(corrupt(format!(
                        "sequence number {seq} follows {prev}: out of order"
                    )));
                }
                prev = seq;
                if seq <= base_seq {
                    return Ok(()); // already in the snapshot
                }
                if seq != state.last_seq + 1 {
                    return Err(corrupt(format!(
                        "expected sequence number {}, found {seq}: records are missing",
                        state.last_seq + 1
                    )));
                }
                if let Err((_, reason)) = check_dims(&record, options.dims) {
                    return Err(corrupt(reason));
                }
                state.apply(seq, record);
                replayed += 1;
                Ok(())
            })?;
            drop(bytes); // unmap before truncating
            if let (true, Some(reason)) = (read_only, &end.torn) {
                // The owner may be writing this record right now.
                tracing::debug!(file = %path.display(), offset = end.valid_len, reason = %reason,
                    "read-only open: leaving out an incomplete last log record");
            } else if let Some(reason) = end.torn {
                let dropped_bytes = total - end.valid_len;
                tracing::warn!(
                    file = %path.display(),
                    offset = end.valid_len,
                    dropped_bytes,
                    reason = %reason,
                    "cutting off a torn last log record (an append interrupted by a crash)"
                );
                dir.truncate(&name, end.valid_len)?;
                torn_tail = Some(TornTail {
                    file: path,
                    offset: end.valid_len,
                    dropped_bytes,
                    reason,
                });
            }
            log_bytes += end.valid_len;
        }

        let writer = if read_only {
            None
        } else {
            Some(match live.last() {
                Some(&start) => {
                    let name = wal::segment_name(start);
                    let file = dir.open_append(&name)?;
                    let len = file
                        .len()
                        .map_err(directory::io_err("stat", dir.path_of(&name)))?;
                    Writer {
                        file,
                        name,
                        start,
                        len,
                        retired_bytes: log_bytes.saturating_sub(len),
                        last_seq: state.last_seq,
                    }
                }
                None => {
                    let start = state.last_seq;
                    let name = wal::segment_name(start);
                    let file = dir.create(&name)?;
                    dir.sync_dir()?;
                    Writer {
                        file,
                        name,
                        start,
                        len: 0,
                        retired_bytes: 0,
                        last_seq: start,
                    }
                }
            })
        };

        // Tidy up what the loaded snapshot made obsolete. Failing to delete
        // costs disk space only, so it is a warning.
        let mut stale: Vec<String> = obsolete.iter().map(|&s| wal::segment_name(s)).collect();
        stale.extend(
            listing
                .snapshots
                .iter()
                .filter(|&&s| Some(s) != snap_seq)
                .map(|&s| snapshot::snapshot_name(s)),
        );
        let listed: HashSet<&str> = state
            .vectors
            .runs
            .iter()
            .map(|r| r.reference.file.as_str())
            .collect();
        stale.extend(
            listing
                .vectors
                .iter()
                .map(|&s| snapshot::vectors_name(s))
                .filter(|name| !listed.contains(name.as_str())),
        );
        if !read_only {
            remove_files(&*dir, &stale);
        }

        state.fold_accesses();
        let mut recovered = state.to_recovered(&options.model_id, options.dims, snap_seq);
        recovered.replayed_records = replayed;
        recovered.torn_tail = torn_tail;
        tracing::debug!(
            snapshot = ?snap_seq,
            replayed,
            last_seq = recovered.last_seq,
            entries = recovered.entries.len(),
            "store recovered"
        );
        let store = Store {
            wal: writer.map(|w| Wal::new(dir.clone(), w)),
            dir,
            options,
            state: Arc::new(RwLock::new(state)),
            unapplied: Mutex::new(Default::default()),
            checkpoint: Mutex::new(()),
            snapshot_seq: Mutex::new(snap_seq),
        };
        Ok((store, recovered))
    }

    /// Logs `records` with consecutive sequence numbers, waits until they
    /// are durable as [`Durability`] says, and applies them to the store's
    /// state; returns the last sequence number (the current one for an
    /// empty call).
    ///
    /// Records are checked first for what the store relies on
    /// ([`StoreError::InvalidRecord`]: vector dimensions; doc ids of new
    /// entries unused and ascending; an update keeps its doc id or takes an
    /// unused one); a refused call writes nothing. Everything else (diary
    /// names, existence of referenced entries) is the writer's to check.
    ///
    /// Concurrent appenders share fsyncs: each waits for durability
    /// without a lock, then whoever gets the state first applies every
    /// durable record queued so far, in sequence order. A store opened by
    /// an engine is written through the engine only, which applies its
    /// records itself once its indexes hold them.
    pub fn append(&self, records: Vec<Record>) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(self.last_seq());
        }
        let last = {
            let state = self.state.read();
            self.write_then(records, &state, |first, records| {
                let mut queue = self.unapplied.lock();
                for (i, record) in records.into_iter().enumerate() {
                    queue.push_back((first + i as u64, record));
                }
            })?
        };
        self.wait_durable(last)?;
        let mut state = self.state.write();
        let mut queue = self.unapplied.lock();
        while queue.front().is_some_and(|(seq, _)| *seq <= last) {
            if let Some((seq, record)) = queue.pop_front() {
                state.apply(seq, record);
            }
        }
        Ok(last)
    }

    /// Writes `records` to the log with consecutive sequence numbers and
    /// returns the last one, without waiting for durability and without
    /// applying them: the caller waits ([`Store::wait_durable`], so that
    /// concurrent writers share one fsync) and then applies them, in
    /// sequence order, to the [`shared state`](Store::shared_state). That
    /// is how the engine publishes a write only once both its indexes hold
    /// it. Checked as [`Store::append`] says; encoding happens before the
    /// log's lock is taken, so writers only serialise on the write itself.
    ///
    /// The records come back with the first sequence number, for the
    /// caller to apply.
    pub(crate) fn write(&self, records: Vec<Record>) -> Result<(u64, Vec<Record>), StoreError> {
        // Locks are always taken state first, then the log.
        let state = self.state.read();
        let mut out = None;
        let last = self.write_then(records, &state, |first, records| {
            out = Some((first, records));
        })?;
        Ok(out.unwrap_or((last + 1, Vec::new())))
    }

    /// [`Store::write`], checked against `state` (records written but not
    /// applied yet are the caller's: it picks their doc ids under its own
    /// lock); `written` runs with the first sequence number while the log
    /// is still locked, so it sees writes in sequence order.
    fn write_then(
        &self,
        records: Vec<Record>,
        state: &State,
        written: impl FnOnce(u64, Vec<Record>),
    ) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(self.last_seq());
        }
        let bodies = records
            .iter()
            .map(wal::encode_body)
            .collect::<Result<Vec<_>, _>>()?;
        #[cfg(debug_assertions)]
        for (body, record) in bodies.iter().zip(&records) {
            // A value that encodes but does not decode would make the log
            // unreadable; catch such types in tests.
            let decoded: Result<(Record, usize), _> =
                bincode::serde::decode_from_slice(body, bincode_config());
            if let Err(e) = decoded {
                return Err(StoreError::Encode {
                    reason: format!("{} record: it does not decode back ({e})", record.kind()),
                });
            }
        }
        let frame_bytes: usize = bodies.iter().map(|b| b.len() + 2 * wal::FRAME_HEADER).sum();
        let wal = self.wal()?;
        let mut w = wal.writer();
        wal.check_poison()?;
        state
            .validate(&records, self.options.dims)
            .map_err(|(index, reason)| StoreError::InvalidRecord { index, reason })?;
        let first = w.last_seq + 1;
        let mut frames = Vec::with_capacity(frame_bytes);
        for (i, body) in bodies.iter().enumerate() {
            wal::append_frame(first + i as u64, body, &mut frames)?;
        }
        drop(bodies);
        let last = first + records.len() as u64 - 1;
        wal.write(&mut w, &frames, last)?;
        written(first, records);
        Ok(last)
    }

    /// The state the store applies records to, shared: the engine reads
    /// it for searches and applies its own writes to it.
    pub(crate) fn shared_state(&self) -> Arc<RwLock<State>> {
        Arc::clone(&self.state)
    }

    /// Returns once every record up to `seq` is durable as [`Durability`]
    /// says (at once under [`Durability::Buffered`]). Waiting writers share
    /// one fsync.
    pub fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        match self.options.durability {
            // Read-only: nothing was appended, nothing to wait for.
            Durability::Sync => self.wal.as_ref().map_or(Ok(()), |w| w.wait_durable(seq)),
            Durability::Buffered => Ok(()),
        }
    }

    /// Makes every append so far durable (for [`Durability::Buffered`]: call
    /// it on a timer or before reporting success of a bulk job).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.wal.as_ref().map_or(Ok(()), Wal::sync_all)
    }

    /// Writes a snapshot of the current state and starts a new log segment,
    /// then deletes the files it makes obsolete. Appenders are blocked only
    /// while the segment is switched and the state copied; the snapshot is
    /// written from the copy. Does nothing if nothing was appended since the
    /// last snapshot. Safe to crash at any point (see the module docs).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let wal = self.wal()?;
        let _one_at_a_time = self.checkpoint.lock();
        wal.check_poison()?;
        let newest = *self.snapshot_seq.lock();
        // The snapshot holds what is applied; records written but not
        // applied yet (the engine applies once its indexes hold them) stay
        // in the segment the rotation closes, which is deleted only when
        // the snapshot covers all of it (the rule recovery uses).
        let copy = self.state.read().clone();
        let seq = copy.last_seq;
        if newest == Some(seq) || (seq == 0 && newest.is_none()) {
            return Ok(());
        }
        wal.rotate(&mut wal.writer())?;
        let dims = self.options.dims;
        let listed = snapshot::write(&*self.dir, &copy, seq, &self.options.model_id, dims)?;
        *self.snapshot_seq.lock() = Some(seq);
        wal.writer().retired_bytes = 0;
        let runs = snapshot::listed_runs(&*self.dir, seq, listed, &copy.vectors.runs, dims)?;
        let keep: HashSet<String> = runs.iter().map(|r| r.reference.file.clone()).collect();
        self.state
            .write()
            .vectors
            .rebase(runs, &copy.vectors.overlay);
        drop(copy);

        let listing = Listing::of(&*self.dir)?;
        let segs = &listing.segments;
        let mut stale: Vec<String> = (0..segs.len().saturating_sub(1))
            .filter(|&i| segs[i + 1] <= seq)
            .map(|i| wal::segment_name(segs[i]))
            .collect();
        stale.extend(
            listing
                .snapshots
                .iter()
                .filter(|&&s| s < seq)
                .map(|&s| snapshot::snapshot_name(s)),
        );
        // Runs the new snapshot no longer lists (a full rewrite replaced
        // them); a run written after this snapshot began is newer than it.
        stale.extend(
            listing
                .vectors
                .iter()
                .filter(|&&s| s <= seq)
                .map(|&s| snapshot::vectors_name(s))
                .filter(|name| !keep.contains(name)),
        );
        remove_files(&*self.dir, &stale);
        tracing::debug!(seq, "checkpoint written");
        Ok(())
    }

    /// Syncs (under [`Durability::Buffered`]) and closes the store,
    /// reporting a failure that `Drop` could only log.
    pub fn close(self) -> Result<(), StoreError> {
        let result = match self.options.durability {
            Durability::Buffered => self.sync(),
            Durability::Sync => Ok(()),
        };
        // Drop finds nothing left to sync.
        drop(self);
        result
    }

    /// Bytes of log that recovery would replay now: the engine checkpoints
    /// when this grows past a threshold (e.g. 64 MiB).
    pub fn log_bytes(&self) -> u64 {
        self.wal.as_ref().map_or(0, |wal| {
            let w = wal.writer();
            w.len + w.retired_bytes
        })
    }

    /// The data folder (as the directory names it).
    pub fn path(&self) -> PathBuf {
        self.dir.path_of("")
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.wal.is_none()
    }

    fn wal(&self) -> Result<&Wal, StoreError> {
        self.wal
            .as_ref()
            .ok_or_else(|| StoreError::ReadOnly { path: self.path() })
    }

    /// Sequence number of the last record written to the log (0 if none;
    /// for a read-only store, the last one recovered).
    pub fn last_seq(&self) -> u64 {
        match &self.wal {
            Some(wal) => wal.writer().last_seq,
            None => self.state.read().last_seq,
        }
    }

    /// The first doc id never used: what the engine should assign next.
    pub fn next_doc(&self) -> DocId {
        self.state.read().next_doc
    }

    /// Sequence number of the newest durable snapshot.
    pub fn snapshot_seq(&self) -> Option<u64> {
        *self.snapshot_seq.lock()
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// An entry with its doc id and vector, as last appended.
    pub fn entry(&self, id: uuid::Uuid) -> Option<StoredEntry> {
        let state = self.state.read();
        let slot = state.entries.get(&id)?;
        Some(StoredEntry {
            record: state.record_of(slot),
            doc: slot.doc,
            vector: state.vectors.get(slot.doc)?,
        })
    }

    /// The vector stored for `doc` (e.g. to log an update that keeps its
    /// doc id, which must carry the old vector).
    pub fn vector(&self, doc: DocId) -> Option<Vec<f32>> {
        self.state.read().vectors.get(doc)
    }

    /// Bytes of the live vectors (entries × dims × 4): most of what a
    /// snapshot writes, so the engine scales its checkpoint interval by it.
    pub fn vector_bytes(&self) -> u64 {
        self.len() as u64 * self.options.dims as u64 * 4
    }

    /// Live entries.
    pub fn len(&self) -> usize {
        self.state.read().entries.len()
    }

    /// Whether no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the store holds `record` itself for its entry (the same
    /// allocation, not an equal copy).
    #[cfg(test)]
    pub(crate) fn shares_record(&self, record: &Arc<crate::entry::EntryRecord>) -> bool {
        self.state
            .read()
            .entries
            .get(&record.id)
            .is_some_and(|s| Arc::ptr_eq(&s.record, record))
    }

    /// The current state in the form [`Store::open`] returns (records are
    /// shared, vectors stay in the store: see [`Store::vector`]).
    pub fn state(&self) -> Recovered {
        let snap = *self.snapshot_seq.lock();
        self.state
            .read()
            .to_recovered(&self.options.model_id, self.options.dims, snap)
    }
}

impl Drop for Store {
    /// Under [`Durability::Buffered`], a clean shutdown still fsyncs, so
    /// only crashes lose unsynced appends. Errors can only be logged here;
    /// use [`Store::close`] to see them.
    fn drop(&mut self) {
        if self.options.durability == Durability::Buffered {
            if let Some(Err(e)) = self.wal.as_ref().map(Wal::sync_all) {
                tracing::warn!(error = %e, "could not sync the log while closing the store");
            }
        }
    }
}

/// Checks vector lengths of a record read back from the log.
fn check_dims(record: &Record, dims: usize) -> Result<(), (usize, String)> {
    let bad = |e: &StoredEntry| {
        (e.vector.len() != dims).then(|| {
            (
                0,
                format!(
                    "entry {} has a {}-dimensional vector, expected {dims}",
                    e.record.id,
                    e.vector.len()
                ),
            )
        })
    };
    let found = match record {
        Record::PutEntries(entries) => entries.iter().find_map(bad),
        Record::UpdateEntry(e) => bad(e),
        _ => None,
    };
    found.map_or(Ok(()), Err)
}

/// Reads or creates `meta.json` and checks it against `options`.
fn check_meta(
    dir: &dyn Directory,
    listing: &Listing,
    options: &StoreOptions,
) -> Result<(), StoreError> {
    let path = dir.path_of(META_FILE);
    if !listing.has_meta {
        if !listing.segments.is_empty() || !listing.snapshots.is_empty() {
            return Err(StoreError::Corrupt {
                file: path,
                offset: 0,
                reason: "missing, but the folder holds log or snapshot files".into(),
            });
        }
        let meta = Meta {
            format: FORMAT_VERSION,
            model_id: options.model_id.clone(),
            dims: options.dims,
            source: options.source.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|e| StoreError::Encode {
            reason: format!("{META_FILE}: {e}"),
        })?;
        let tmp = format!("{META_FILE}{}", snapshot::TMP_SUFFIX);
        let file = dir.create(&tmp)?;
        file.append(&json)
            .map_err(directory::io_err("write", dir.path_of(&tmp)))?;
        file.sync()
            .map_err(directory::io_err("sync", dir.path_of(&tmp)))?;
        dir.rename(&tmp, META_FILE)?;
        return dir.sync_dir();
    }
    let bytes = dir.read(META_FILE)?;
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
        file: path.clone(),
        offset: 0,
        reason: format!("not valid metadata JSON: {e}"),
    })?;
    if meta.format != FORMAT_VERSION {
        return Err(StoreError::UnsupportedFormat {
            file: path,
            found: meta.format,
            supported: FORMAT_VERSION,
        });
    }
    if meta.model_id != options.model_id {
        return Err(StoreError::ModelMismatch {
            stored: meta.model_id,
            requested: options.model_id.clone(),
        });
    }
    let reading_cache = options.read_only && options.source.is_none();
    if meta.source != options.source && !reading_cache {
        return Err(StoreError::SourceMismatch {
            path: dir.path_of(""),
            stored: meta.source,
            requested: options.source.clone(),
        });
    }
    if meta.dims != options.dims {
        return Err(StoreError::DimsMismatch {
            stored: meta.dims,
            requested: options.dims,
        });
    }
    Ok(())
}

fn describe_source(source: &Option<String>) -> String {
    match source {
        Some(s) => format!("source `{s}`"),
        None => "no external source (a folder that is its own truth)".into(),
    }
}

/// Deletes files made obsolete by a durable snapshot; failures only cost
/// space (the next open or checkpoint retries), so they are warnings.
fn remove_files(dir: &dyn Directory, names: &[String]) {
    for name in names {
        if let Err(e) = dir.delete(name) {
            tracing::warn!(error = %e, "could not delete an obsolete store file");
        }
    }
}
