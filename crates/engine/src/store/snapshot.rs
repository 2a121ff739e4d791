//! Snapshots: the materialised state written whole, so recovery replays
//! only the log written since.
//!
//! A checkpoint at sequence number `S` writes up to two files:
//!
//! - `vectors-<S>.f32`, a *run*: a 24-byte header (`MOLTVEC1`, u32
//!   version, u32 dims, u64 count), then `count` u32 doc ids in ascending
//!   order, then `count × dims` f32 rows in the same order, all
//!   little-endian. Fixed offsets make it usable straight from a memory
//!   map: row `i` is at `24 + 4·count + 4·dims·i`.
//! - `snapshot-<S>.bin`: `MOLTSNAP`, u32 version, then bincode of a
//!   [`SnapshotHeader`] followed by every diary, `(doc, entry)` pair (in
//!   doc order) and relation; then a trailer `[u64 content length][u32
//!   crc32 of everything before the trailer] MOLTSEND`. The header lists
//!   the runs holding the entries' vectors, each with its length and
//!   crc32, so the set is checked as a unit.
//!
//! Vectors are written once, not at every checkpoint: a checkpoint writes
//! a run of the vectors added since the last one and lists it after the
//! earlier runs. Runs keep rows of entries deleted or re-embedded since; when
//! those are more than half the rows, or there are [`MAX_RUNS`] runs, the
//! checkpoint writes one run of every live vector instead, and the others
//! are deleted once the snapshot no longer lists them. Format 1 snapshots
//! (one run of every vector per checkpoint) are read as a single run.
//!
//! Both are written under `.tmp` names, fsynced, then renamed (run first,
//! each rename followed by a folder fsync): a `snapshot-<S>.bin` that
//! exists is complete, and leftovers of an interrupted checkpoint are only
//! ever `.tmp` files (or a run no snapshot lists), which recovery deletes.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::directory::{io_err, DirFile, Directory};
use super::record::{WireDiary, WireEntry, WireRelation};
use super::run::{read_u32, read_u64, run_differs, Run, RunRef, VEC_MAGIC};
use super::state::{Slot, State, Vectors};
use super::{bincode_config, StoreError, FORMAT_VERSION};

/// Version of snapshot files this build writes (it reads 1, 2 and 3).
pub(crate) const SNAPSHOT_VERSION: u32 = 3;

/// Runs a snapshot may list before a checkpoint rewrites them into one.
pub(crate) const MAX_RUNS: usize = 8;
use crate::entry::{Diary, Relation};
use crate::index::DocId;

const SNAP_MAGIC: &[u8; 8] = b"MOLTSNAP";
const SNAP_END: &[u8; 8] = b"MOLTSEND";
/// `[u64 content length][u32 crc][end magic]`.
const SNAP_TRAILER: usize = 8 + 4 + 8;

/// Suffix of files being written; never read, deleted on open.
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Name of the snapshot taken at `seq`.
pub(crate) fn snapshot_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.bin")
}

/// Name of the vector file of the snapshot taken at `seq`.
pub(crate) fn vectors_name(seq: u64) -> String {
    format!("vectors-{seq:020}.f32")
}

/// The sequence number of a snapshot file name.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<u64> {
    name.strip_prefix("snapshot-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

/// The sequence number of a vector file name.
pub(crate) fn parse_vectors_name(name: &str) -> Option<u64> {
    name.strip_prefix("vectors-")?
        .strip_suffix(".f32")?
        .parse()
        .ok()
}

/// What a snapshot file starts with.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotHeader {
    seq: u64,
    next_doc: DocId,
    model_id: String,
    dims: u32,
    diaries: u64,
    entries: u64,
    relations: u64,
    /// Oldest first; a doc in several runs has its row in the newest.
    runs: Vec<RunRef>,
    /// The external source's sequence the state includes (format 3; 0
    /// before, and for a folder that is its own truth).
    source_seq: u64,
}

/// Format 2's header: format 3's without `source_seq`.
#[derive(Debug, Deserialize)]
struct SnapshotHeaderV2 {
    seq: u64,
    next_doc: DocId,
    model_id: String,
    dims: u32,
    diaries: u64,
    entries: u64,
    relations: u64,
    runs: Vec<RunRef>,
}

impl From<SnapshotHeaderV2> for SnapshotHeader {
    fn from(h: SnapshotHeaderV2) -> Self {
        Self {
            seq: h.seq,
            next_doc: h.next_doc,
            model_id: h.model_id,
            dims: h.dims,
            diaries: h.diaries,
            entries: h.entries,
            relations: h.relations,
            runs: h.runs,
            source_seq: 0,
        }
    }
}

/// Format 1's header: one run holding exactly the entries' vectors.
#[derive(Debug, Deserialize)]
struct SnapshotHeaderV1 {
    seq: u64,
    next_doc: DocId,
    model_id: String,
    dims: u32,
    diaries: u64,
    entries: u64,
    relations: u64,
    vectors_file: String,
    vectors_len: u64,
    vectors_crc: u32,
}

impl From<SnapshotHeaderV1> for SnapshotHeader {
    fn from(h: SnapshotHeaderV1) -> Self {
        Self {
            seq: h.seq,
            next_doc: h.next_doc,
            model_id: h.model_id,
            dims: h.dims,
            diaries: h.diaries,
            entries: h.entries,
            relations: h.relations,
            runs: vec![RunRef {
                file: h.vectors_file,
                len: h.vectors_len,
                crc: h.vectors_crc,
            }],
            source_seq: 0,
        }
    }
}

/// An `io::Write` over a [`DirFile`] that checksums and counts what it
/// writes (wrap it in a `BufWriter`: every `write` is an append call).
struct FileWriter {
    file: Arc<dyn DirFile>,
    crc: crc32fast::Hasher,
    written: u64,
}

impl FileWriter {
    fn new(file: Arc<dyn DirFile>) -> Self {
        Self {
            file,
            crc: crc32fast::Hasher::new(),
            written: 0,
        }
    }
}

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.append(buf)?;
        self.crc.update(buf);
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

const WRITE_BUFFER: usize = 1 << 20;

fn encode_into<T: Serialize>(value: &T, out: &mut impl Write) -> io::Result<()> {
    bincode::serde::encode_into_std_write(value, out, bincode_config())
        .map(|_| ())
        .map_err(|e| match e {
            bincode::error::EncodeError::Io { inner, .. } => inner,
            other => io::Error::other(other.to_string()),
        })
}

/// Writes `state` as the snapshot at `seq` and makes it durable; returns
/// the runs it lists. The state is an immutable copy, so this runs without
/// any store lock.
pub(crate) fn write(
    dir: &dyn Directory,
    state: &State,
    seq: u64,
    model_id: &str,
    dims: usize,
) -> Result<Vec<RunRef>, StoreError> {
    let vec_name = vectors_name(seq);
    let snap_name = snapshot_name(seq);
    let vec_tmp = format!("{vec_name}{TMP_SUFFIX}");
    let snap_tmp = format!("{snap_name}{TMP_SUFFIX}");
    let result = write_files(dir, state, seq, model_id, dims, &vec_tmp, &snap_tmp);
    let (wrote_run, runs) = match result {
        Ok(written) => written,
        Err(e) => {
            // Best effort: recovery deletes leftovers anyway.
            let _ = dir.delete(&vec_tmp);
            let _ = dir.delete(&snap_tmp);
            return Err(e);
        }
    };
    if wrote_run {
        dir.rename(&vec_tmp, &vec_name)?;
        dir.sync_dir()?;
    }
    dir.rename(&snap_tmp, &snap_name)?;
    dir.sync_dir()?;
    Ok(runs)
}

/// Whether a checkpoint rewrites every live vector into one run: when
/// there is no run yet, when there are [`MAX_RUNS`], or when more than half
/// the rows in runs belong to deleted or re-embedded entries.
fn rewrite_all(state: &State, slots: &[&Slot]) -> bool {
    let runs = &state.vectors.runs;
    let live_in_runs = slots
        .iter()
        .filter(|s| !state.vectors.in_overlay(s.doc))
        .count();
    runs.is_empty() || runs.len() >= MAX_RUNS || state.vectors.run_rows() > 2 * live_in_runs
}

/// Writes the new run (if it has rows) and the snapshot; returns whether a
/// run was written, and the runs the snapshot lists.
fn write_files(
    dir: &dyn Directory,
    state: &State,
    seq: u64,
    model_id: &str,
    dims: usize,
    vec_tmp: &str,
    snap_tmp: &str,
) -> Result<(bool, Vec<RunRef>), StoreError> {
    let mut slots: Vec<&Slot> = state.entries.values().collect();
    slots.sort_by_key(|s| s.doc);

    let (mut runs, rows): (Vec<RunRef>, Vec<&Slot>) = if rewrite_all(state, &slots) {
        (Vec::new(), slots.clone())
    } else {
        let kept = state.vectors.runs.iter().map(|r| r.reference.clone());
        let new = slots
            .iter()
            .copied()
            .filter(|s| state.vectors.in_overlay(s.doc));
        (kept.collect(), new.collect())
    };
    // The run first: the snapshot header records its checksum.
    let wrote_run = !rows.is_empty();
    if wrote_run {
        let vec_path = dir.path_of(vec_tmp);
        let file = dir.create(vec_tmp)?;
        let (len, crc) = write_vectors(file.clone(), &rows, &state.vectors, dims)
            .map_err(io_err("write", vec_path.clone()))?;
        file.sync().map_err(io_err("sync", vec_path))?;
        runs.push(RunRef {
            file: vectors_name(seq),
            len,
            crc,
        });
    }

    let snap_path = dir.path_of(snap_tmp);
    let file = dir.create(snap_tmp)?;
    let header = SnapshotHeader {
        seq,
        next_doc: state.next_doc,
        model_id: model_id.to_owned(),
        dims: u32::try_from(dims).unwrap_or(u32::MAX),
        diaries: state.diaries.len() as u64,
        entries: slots.len() as u64,
        relations: state.relations.len() as u64,
        runs: runs.clone(),
        source_seq: state.source_seq,
    };
    write_snapshot(file.clone(), &header, state, &slots)
        .map_err(io_err("write", snap_path.clone()))?;
    file.sync().map_err(io_err("sync", snap_path))?;
    Ok((wrote_run, runs))
}

fn write_vectors(
    file: Arc<dyn DirFile>,
    slots: &[&Slot],
    vectors: &Vectors,
    dims: usize,
) -> io::Result<(u64, u32)> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, FileWriter::new(file));
    out.write_all(VEC_MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    let dims32 = u32::try_from(dims).map_err(|_| io::Error::other("dims overflow u32"))?;
    out.write_all(&dims32.to_le_bytes())?;
    out.write_all(&(slots.len() as u64).to_le_bytes())?;
    for s in slots {
        out.write_all(&s.doc.to_le_bytes())?;
    }
    for s in slots {
        vectors.write_row(s.doc, &mut out)?;
    }
    let inner = out.into_inner().map_err(|e| e.into_error())?;
    Ok((inner.written, inner.crc.finalize()))
}

fn write_snapshot(
    file: Arc<dyn DirFile>,
    header: &SnapshotHeader,
    state: &State,
    slots: &[&Slot],
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, FileWriter::new(file.clone()));
    out.write_all(SNAP_MAGIC)?;
    out.write_all(&SNAPSHOT_VERSION.to_le_bytes())?;
    encode_into(header, &mut out)?;
    let mut diaries: Vec<&Diary> = state.diaries.values().collect();
    diaries.sort_by_key(|d| d.id);
    for d in diaries {
        encode_into(&WireDiary::from(d), &mut out)?;
    }
    for s in slots {
        encode_into(&(s.doc, WireEntry::from(&*state.record_of(s))), &mut out)?;
    }
    let mut relations: Vec<&Relation> = state.relations.values().collect();
    relations.sort_by_key(|r| r.id);
    for r in relations {
        encode_into(&WireRelation::from(r), &mut out)?;
    }
    let inner = out.into_inner().map_err(|e| e.into_error())?;
    let mut trailer = Vec::with_capacity(SNAP_TRAILER);
    trailer.extend_from_slice(&inner.written.to_le_bytes());
    trailer.extend_from_slice(&inner.crc.finalize().to_le_bytes());
    trailer.extend_from_slice(SNAP_END);
    file.append(&trailer)
}

/// A snapshot read back.
pub(crate) struct Loaded {
    pub state: State,
    pub model_id: String,
}

/// Reads and checks the snapshot taken at `seq` and its vector file.
pub(crate) fn read(dir: &dyn Directory, seq: u64, dims: usize) -> Result<Loaded, StoreError> {
    let name = snapshot_name(seq);
    let path = dir.path_of(&name);
    let bytes = dir.read(&name)?;
    let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
        file: path.clone(),
        offset: offset as u64,
        reason,
    };
    let len = bytes.len();
    if len < 12 + SNAP_TRAILER || &bytes[..8] != SNAP_MAGIC {
        return Err(corrupt(
            0,
            "not a snapshot file (bad magic or too short)".into(),
        ));
    }
    let content = len - SNAP_TRAILER;
    if &bytes[len - 8..] != SNAP_END || read_u64(&bytes, content) != content as u64 {
        return Err(corrupt(content, "bad trailer (file cut short?)".into()));
    }
    if crc32fast::hash(&bytes[..content]) != read_u32(&bytes, content + 8) {
        return Err(corrupt(content, "checksum mismatch".into()));
    }
    let version = read_u32(&bytes, 8);
    let body = &bytes[..content];
    let mut off = 12;
    let header: SnapshotHeader = match version {
        1 => decode_at::<SnapshotHeaderV1>(body, &mut off, &path, "header")?.into(),
        2 => decode_at::<SnapshotHeaderV2>(body, &mut off, &path, "header")?.into(),
        SNAPSHOT_VERSION => decode_at(body, &mut off, &path, "header")?,
        found => {
            return Err(StoreError::UnsupportedFormat {
                file: path.clone(),
                found,
                supported: SNAPSHOT_VERSION,
            })
        }
    };
    if header.seq != seq {
        return Err(corrupt(
            12,
            format!("header says seq {}, name says {seq}", header.seq),
        ));
    }
    if header.dims as usize != dims {
        return Err(corrupt(
            12,
            format!("holds {}-dimensional vectors, expected {dims}", header.dims),
        ));
    }

    // The runs, checked against the header before they are trusted:
    // structure first (header, doc ids; each error names the file and
    // offset), then the checksums (the bulk of the bytes) on one core while
    // the records are decoded on another. Decoding reads only doc ids, and
    // nothing decoded is used unless both pass.
    let mut runs = Vec::with_capacity(header.runs.len());
    for reference in &header.runs {
        if parse_vectors_name(&reference.file).is_none_or(|s| s > seq) {
            return Err(corrupt(12, format!("lists vector file {}", reference.file)));
        }
        runs.push(Run::open(dir, reference.clone(), dims, &path)?);
    }
    let (crcs, decoded) = rayon::join(
        || {
            runs.par_iter()
                .map(|r| crc32fast::hash(&r.file.bytes))
                .collect::<Vec<u32>>()
        },
        || decode_body(body, off, &header, seq, &runs, &path),
    );
    if let Some(run) = runs
        .iter()
        .zip(crcs)
        .find(|(r, crc)| *crc != r.reference.crc)
    {
        return Err(run_differs(dir, &run.0.reference, &path));
    }
    let mut state = decoded?;
    state.vectors.runs = runs.into_iter().map(Arc::new).collect();
    Ok(Loaded {
        state,
        model_id: header.model_id,
    })
}

/// Decodes the diaries, entries and relations of a snapshot whose checksum
/// was verified; `off` is where the header ended.
fn decode_body(
    body: &[u8],
    mut off: usize,
    header: &SnapshotHeader,
    seq: u64,
    runs: &[Run],
    path: &Path,
) -> Result<State, StoreError> {
    let content = body.len();
    let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };

    let mut state = State::default();
    state.next_doc = header.next_doc;
    state.last_seq = seq;
    state.last_index_change = seq;
    state.source_seq = header.source_seq;
    for _ in 0..header.diaries {
        let at = off;
        let d: WireDiary = decode_at(body, &mut off, path, "diary")?;
        let d = d
            .into_diary()
            .map_err(|e| corrupt(at, format!("diary: {e}")))?;
        state.diaries.insert(d.id, d);
    }
    // Entries come in doc order, as do each run's rows: one cursor per run
    // checks that every entry has a vector in a single pass.
    let mut cursors = vec![0usize; runs.len()];
    let mut last_doc = None;
    for _ in 0..header.entries {
        let at = off;
        let (doc, record): (DocId, WireEntry) = decode_at(body, &mut off, path, "entry")?;
        let record = record
            .into_record()
            .map_err(|e| corrupt(at, format!("entry: {e}")))?;
        if last_doc.is_some_and(|last| doc <= last) {
            return Err(corrupt(
                at,
                format!("entry {} is out of doc order", record.id),
            ));
        }
        last_doc = Some(doc);
        let mut held = false;
        for (run, cursor) in runs.iter().zip(cursors.iter_mut()) {
            while *cursor < run.file.len() && run.file.doc(*cursor) < doc {
                *cursor += 1;
            }
            held |= *cursor < run.file.len() && run.file.doc(*cursor) == doc;
        }
        if !held {
            return Err(corrupt(
                at,
                format!(
                    "entry {} has doc {doc}, which no vector file holds",
                    record.id
                ),
            ));
        }
        if doc >= state.next_doc {
            return Err(corrupt(
                at,
                format!("doc {doc} is not below next_doc {}", state.next_doc),
            ));
        }
        let id: Uuid = record.id;
        let slot = Slot {
            record: Arc::new(record),
            doc,
        };
        if state.entries.insert(id, slot).is_some() {
            return Err(corrupt(at, format!("entry {id} appears twice")));
        }
    }
    for _ in 0..header.relations {
        let at = off;
        let r: WireRelation = decode_at(body, &mut off, path, "relation")?;
        let r = r
            .into_relation()
            .map_err(|e| corrupt(at, format!("relation: {e}")))?;
        state.relations.insert(r.id, r);
    }
    if off != content {
        return Err(corrupt(
            off,
            "unexpected bytes after the last relation".into(),
        ));
    }
    Ok(state)
}

/// The runs the snapshot just written at `seq` lists, mapped: those it
/// kept are taken from `previous`, a new one is opened (its checksum was
/// computed while writing).
pub(crate) fn listed_runs(
    dir: &dyn Directory,
    seq: u64,
    listed: Vec<RunRef>,
    previous: &[Arc<Run>],
    dims: usize,
) -> Result<Vec<Arc<Run>>, StoreError> {
    let snapshot = dir.path_of(&snapshot_name(seq));
    listed
        .into_iter()
        .map(
            |reference| match previous.iter().find(|r| r.reference == reference) {
                Some(run) => Ok(Arc::clone(run)),
                None => Run::open(dir, reference, dims, &snapshot).map(Arc::new),
            },
        )
        .collect()
}

fn decode_at<T: serde::de::DeserializeOwned>(
    body: &[u8],
    off: &mut usize,
    path: &Path,
    what: &str,
) -> Result<T, StoreError> {
    let (value, used) = bincode::serde::decode_from_slice(&body[*off..], bincode_config())
        .map_err(|e| StoreError::Corrupt {
            file: path.to_path_buf(),
            offset: *off as u64,
            reason: format!("undecodable {what}: {e}"),
        })?;
    *off += used;
    Ok(value)
}
