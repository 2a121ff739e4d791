//! Segment files and the manifest of a persisted index (see the
//! [module docs](super) for the layout and the crash story).
//!
//! Everything here is plain `std::fs` + `memmap2`: a segment file is written
//! once, fsynced, then only ever mapped read-only until it is unlinked.
//! Every read of file bytes is bounds-checked; a bad file is a
//! [`VectorIndexError::CorruptFile`] naming it, never a panic.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use rayon::prelude::*;
use roaring::RoaringBitmap;
use serde::{Deserialize, Serialize};

use super::config::{Config, Quantization};
use super::graph::{Graph, Layer, NONE};
use super::mapped::{le_bytes, Backing, Pod};
use super::quant::Codes;
use super::segment::Segment;
use super::store::VectorStore;
use super::{FileProblem, VectorIndexError};
use crate::index::DocId;

/// Name of the manifest in the index folder.
pub const MANIFEST_FILE: &str = "segments.json";
/// Version of the segment file format this build writes and reads.
pub const SEGMENT_FORMAT_VERSION: u32 = 1;
/// Version of the manifest format: written and checked through this one
/// constant, so a format change cannot update one side only.
pub(crate) const MANIFEST_FORMAT: u32 = 1;

const MAGIC: [u8; 8] = *b"MOLTVSEG";
const HEADER_LEN: usize = 256;
/// Where the header checksum sits (it covers every byte before it).
const HEADER_CRC_AT: usize = HEADER_LEN - 4;
/// Section alignment: a cache line, and more than any element's alignment,
/// so mapped sections can be used in place as `&[f32]` / `&[u32]`.
const ALIGN: u64 = 64;
const FLAG_GRAPH: u32 = 1;
/// Sections are checksummed in pieces of this size in parallel, the pieces'
/// CRCs combined (`crc32fast::Hasher::combine`) into the section's.
const CRC_PIECE: usize = 8 << 20;

type Res<T> = std::result::Result<T, VectorIndexError>;

/// The sections of a segment file, in file order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    Docs = 0,
    Vectors,
    Codes,
    Scales,
    Links,
    Upper,
}

const SECTIONS: [Section; 6] = [
    Section::Docs,
    Section::Vectors,
    Section::Codes,
    Section::Scales,
    Section::Links,
    Section::Upper,
];

impl Section {
    fn name(self) -> &'static str {
        match self {
            Self::Docs => "doc ids",
            Self::Vectors => "f32 vectors",
            Self::Codes => "int8 codes",
            Self::Scales => "int8 scales",
            Self::Links => "graph links",
            Self::Upper => "upper graph layers",
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct SectionEntry {
    offset: u64,
    len: u64,
    crc: u32,
}

/// The file name of segment `id`.
pub(crate) fn segment_file_name(id: u64) -> String {
    format!("segment-{id}.vec")
}

/// The id in a segment file name, if it is one.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    name.strip_prefix("segment-")?
        .strip_suffix(".vec")?
        .parse()
        .ok()
}

fn align_up(x: u64) -> u64 {
    x.div_ceil(ALIGN) * ALIGN
}

/// CRC32 of `bytes`, in parallel pieces for large inputs.
fn crc_parallel(bytes: &[u8]) -> u32 {
    if bytes.len() <= 2 * CRC_PIECE {
        return crc32fast::hash(bytes);
    }
    let pieces: Vec<crc32fast::Hasher> = bytes
        .par_chunks(CRC_PIECE)
        .map(|piece| {
            let mut h = crc32fast::Hasher::new();
            h.update(piece);
            h
        })
        .collect();
    let mut all = crc32fast::Hasher::new();
    for piece in &pieces {
        all.combine(piece);
    }
    all.finalize()
}

/// A writer that checksums what it writes, section by section.
struct SectionWriter<W: Write> {
    out: W,
    pos: u64,
    crc: crc32fast::Hasher,
    start: u64,
}

impl<W: Write> SectionWriter<W> {
    fn begin(&mut self) -> std::io::Result<()> {
        let pad = align_up(self.pos) - self.pos;
        self.out.write_all(&vec![0u8; pad as usize])?;
        self.pos += pad;
        self.start = self.pos;
        self.crc = crc32fast::Hasher::new();
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn end(&mut self) -> SectionEntry {
        SectionEntry {
            offset: self.start,
            len: self.pos - self.start,
            crc: std::mem::take(&mut self.crc).finalize(),
        }
    }
}

/// Upper graph layers as a `u32` stream: per layer (1, 2, ...) its node
/// count, then per node (ascending slot) `slot, n, links[n]`.
fn encode_upper(graph: &Graph) -> Vec<u8> {
    let mut out = Vec::new();
    for layer in &graph.upper {
        (layer.len() as u32).put_le(&mut out);
        let mut nodes: Vec<(&u32, &Box<[u32]>)> = layer.iter().collect();
        nodes.sort_unstable_by_key(|(slot, _)| **slot);
        for (slot, links) in nodes {
            slot.put_le(&mut out);
            (links.len() as u32).put_le(&mut out);
            links.iter().for_each(|l| l.put_le(&mut out));
        }
    }
    out
}

/// Writes `seg` as segment `id` to `path` and fsyncs it. The int8 codes
/// are always written (computed here if the segment has none), so
/// quantization stays a choice made when opening.
pub(crate) fn write_segment(path: &Path, id: u64, seg: &Segment) -> Res<()> {
    let io = |op| move |e: std::io::Error| VectorIndexError::io(op, path, &e);
    let file = File::create(path).map_err(io("create"))?;
    let store = &seg.store;
    let dims = store.dims();
    let rows = store.len();
    let mut w = SectionWriter {
        out: BufWriter::with_capacity(1 << 20, file),
        pos: 0,
        crc: crc32fast::Hasher::new(),
        start: 0,
    };
    let mut table = [SectionEntry::default(); 6];
    let write = || -> std::io::Result<()> {
        w.put(&[0u8; HEADER_LEN])?;
        w.begin()?;
        w.put(&le_bytes(store.docs()))?;
        table[Section::Docs as usize] = w.end();
        w.begin()?;
        for piece in store.matrix().chunks(CRC_PIECE / 4) {
            w.put(&le_bytes(piece))?;
        }
        table[Section::Vectors as usize] = w.end();
        // Codes, quantized in parallel blocks when the segment has none.
        let computed;
        let codes = match &seg.codes {
            Some(c) => c,
            None => {
                computed = Codes::quantize(store);
                &computed
            }
        };
        w.begin()?;
        w.put(&le_bytes(&codes.codes))?;
        table[Section::Codes as usize] = w.end();
        w.begin()?;
        w.put(&le_bytes(&codes.scales))?;
        table[Section::Scales as usize] = w.end();
        w.begin()?;
        if let Some(g) = &seg.graph {
            for piece in g.links0.chunks(CRC_PIECE / 4) {
                w.put(&le_bytes(piece))?;
            }
        }
        table[Section::Links as usize] = w.end();
        w.begin()?;
        if let Some(g) = &seg.graph {
            w.put(&encode_upper(g))?;
        }
        table[Section::Upper as usize] = w.end();
        // Header last, now that the table is known.
        let header = encode_header(&Header {
            flags: if seg.graph.is_some() { FLAG_GRAPH } else { 0 },
            dims: dims as u32,
            width: seg.graph.as_ref().map_or(0, |g| g.width as u32),
            rows: rows as u64,
            id,
            entry: seg.graph.as_ref().map_or(0, |g| g.entry),
            upper_layers: seg.graph.as_ref().map_or(0, |g| g.upper.len() as u32),
            table,
        });
        let mut file = w.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&header)?;
        file.sync_all()
    };
    write().map_err(io("write"))
}

struct Header {
    flags: u32,
    dims: u32,
    width: u32,
    rows: u64,
    id: u64,
    entry: u32,
    upper_layers: u32,
    table: [SectionEntry; 6],
}

fn encode_header(h: &Header) -> [u8; HEADER_LEN] {
    let mut b = Vec::with_capacity(HEADER_LEN);
    b.extend_from_slice(&MAGIC);
    SEGMENT_FORMAT_VERSION.put_le(&mut b);
    h.flags.put_le(&mut b);
    h.dims.put_le(&mut b);
    h.width.put_le(&mut b);
    b.extend_from_slice(&h.rows.to_le_bytes());
    b.extend_from_slice(&h.id.to_le_bytes());
    h.entry.put_le(&mut b);
    h.upper_layers.put_le(&mut b);
    b.resize(64, 0);
    for e in &h.table {
        b.extend_from_slice(&e.offset.to_le_bytes());
        b.extend_from_slice(&e.len.to_le_bytes());
        e.crc.put_le(&mut b);
        0u32.put_le(&mut b);
    }
    b.resize(HEADER_CRC_AT, 0);
    crc32fast::hash(&b).put_le(&mut b);
    let mut out = [0u8; HEADER_LEN];
    out.copy_from_slice(&b);
    out
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::read_le(&b[at..at + 4])
}

fn decode_header(b: &[u8]) -> std::result::Result<Header, FileProblem> {
    if b[..8] != MAGIC {
        return Err(FileProblem::BadMagic);
    }
    if crc32fast::hash(&b[..HEADER_CRC_AT]) != u32_at(b, HEADER_CRC_AT) {
        return Err(FileProblem::Checksum { section: "header" });
    }
    let version = u32_at(b, 8);
    if version != SEGMENT_FORMAT_VERSION {
        return Err(FileProblem::Version {
            found: version,
            supported: SEGMENT_FORMAT_VERSION,
        });
    }
    let mut table = [SectionEntry::default(); 6];
    for (i, e) in table.iter_mut().enumerate() {
        let at = 64 + 24 * i;
        *e = SectionEntry {
            offset: u64_at(b, at),
            len: u64_at(b, at + 8),
            crc: u32_at(b, at + 16),
        };
    }
    Ok(Header {
        flags: u32_at(b, 12),
        dims: u32_at(b, 16),
        width: u32_at(b, 20),
        rows: u64_at(b, 24),
        id: u64_at(b, 32),
        entry: u32_at(b, 40),
        upper_layers: u32_at(b, 44),
        table,
    })
}

/// Parses the upper-layer stream of a graph over `rows` nodes.
fn decode_upper(bytes: &[u8], layers: u32, rows: usize) -> std::result::Result<Vec<Layer>, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err("upper layers are not a whole number of u32".into());
    }
    let mut words = bytes.chunks_exact(4).map(u32::read_le);
    let mut next = || words.next().ok_or("upper layers end early");
    let slot_ok = |s: u32| (s as usize) < rows;
    let mut upper = Vec::new();
    for layer in 0..layers {
        let count = next()? as usize;
        if count > rows {
            return Err(format!("layer {} lists {count} nodes", layer + 1));
        }
        let mut map = HashMap::with_capacity(count);
        for _ in 0..count {
            let slot = next()?;
            let n = next()? as usize;
            if !slot_ok(slot) || n > rows {
                return Err(format!(
                    "bad node {slot} ({n} links) in layer {}",
                    layer + 1
                ));
            }
            let links = (0..n).map(|_| next()).collect::<Result<Box<[u32]>, _>>()?;
            if let Some(bad) = links.iter().find(|&&l| !slot_ok(l)) {
                return Err(format!(
                    "link to node {bad} of {rows} in layer {}",
                    layer + 1
                ));
            }
            map.insert(slot, links);
        }
        upper.push(map);
    }
    if next().is_ok() {
        return Err("trailing bytes after the upper layers".into());
    }
    Ok(upper)
}

/// Opens segment file `path` (id `id` in the manifest) for an index
/// configured by `cfg`: maps it, checks the header and, when `verify`, every
/// section's checksum (in parallel), validates the structure, and returns a
/// segment whose `f32` rows and bottom-layer links are borrowed from the
/// mapping (int8 codes are copied to the heap in int8 mode).
pub(crate) fn open_segment(path: &Path, id: u64, cfg: &Config, verify: bool) -> Res<Segment> {
    let bad = |problem| VectorIndexError::corrupt(path, problem);
    let invalid = |msg: String| bad(FileProblem::Invalid(msg));
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(bad(FileProblem::Missing));
        }
        Err(e) => return Err(VectorIndexError::io("open", path, &e)),
    };
    // SAFETY: the index owns its folder and never modifies a segment file
    // after writing it (see `mapped`); the mapping is read-only.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| VectorIndexError::io("map", path, &e))?;
    let map = Arc::new(map);
    let len = map.len() as u64;
    if map.len() < HEADER_LEN {
        return Err(bad(FileProblem::Truncated {
            expected: HEADER_LEN as u64,
            got: len,
        }));
    }
    let h = decode_header(&map[..HEADER_LEN]).map_err(bad)?;
    if h.id != id {
        return Err(invalid(format!(
            "holds segment {} where {id} was expected",
            h.id
        )));
    }
    if h.dims as usize != cfg.dims {
        return Err(bad(FileProblem::Dims {
            expected: cfg.dims,
            found: h.dims as usize,
        }));
    }
    let rows = usize::try_from(h.rows).map_err(|_| invalid(format!("{} rows", h.rows)))?;
    if rows >= NONE as usize {
        return Err(invalid(format!(
            "{rows} rows is more than a segment can hold"
        )));
    }
    let dims = cfg.dims;
    let has_graph = h.flags & FLAG_GRAPH != 0;
    let width = h.width as usize;
    if has_graph && (width == 0 || rows == 0) {
        return Err(invalid("graph without rows or links".into()));
    }
    // Expected section sizes (checked arithmetic: the header is untrusted).
    let want = |n: usize, size: usize| n.checked_mul(size).map(|b| b as u64);
    let expected = [
        want(rows, 4),
        rows.checked_mul(dims).and_then(|n| want(n, 4)),
        rows.checked_mul(dims).and_then(|n| want(n, 1)),
        want(rows, 4),
        if has_graph {
            rows.checked_mul(width).and_then(|n| want(n, 4))
        } else {
            Some(0)
        },
    ];
    let mut end = HEADER_LEN as u64;
    for (section, e) in SECTIONS.iter().zip(&h.table) {
        if let Some(Some(want)) = expected.get(*section as usize) {
            if e.len != *want {
                return Err(invalid(format!(
                    "{} section has {} bytes, expected {want}",
                    section.name(),
                    e.len
                )));
            }
        }
        if !e.offset.is_multiple_of(ALIGN) || e.offset < end {
            return Err(invalid(format!(
                "{} section at offset {}",
                section.name(),
                e.offset
            )));
        }
        end = e
            .offset
            .checked_add(e.len)
            .ok_or_else(|| invalid(format!("{} section overflows", section.name())))?;
    }
    if len < end {
        return Err(bad(FileProblem::Truncated {
            expected: end,
            got: len,
        }));
    }
    let bytes = |s: Section| {
        let e = &h.table[s as usize];
        &map[e.offset as usize..(e.offset + e.len) as usize]
    };
    if verify {
        // Sections one after the other, each split across the rayon pool.
        for s in SECTIONS {
            if crc_parallel(bytes(s)) != h.table[s as usize].crc {
                return Err(bad(FileProblem::Checksum { section: s.name() }));
            }
        }
    }
    let docs: Vec<DocId> = bytes(Section::Docs)
        .chunks_exact(4)
        .map(u32::read_le)
        .collect();
    if let Some(w) = docs.windows(2).find(|w| w[0] >= w[1]) {
        return Err(invalid(format!(
            "doc ids not strictly increasing ({} then {})",
            w[0], w[1]
        )));
    }
    let entry = |s: Section| h.table[s as usize].offset as usize;
    let data = Backing::<f32>::from_map(&map, entry(Section::Vectors), rows * dims)
        .ok_or_else(|| invalid("vectors out of bounds".into()))?;
    let store = VectorStore::from_parts(dims, docs, data);
    let graph = if has_graph {
        let links0 = Backing::<u32>::from_map(&map, entry(Section::Links), rows * width)
            .ok_or_else(|| invalid("graph links out of bounds".into()))?;
        let ok = links0
            .par_chunks(1 << 16)
            .all(|c| c.iter().all(|&l| l == NONE || (l as usize) < rows));
        if !ok {
            return Err(invalid("a graph link points past the last row".into()));
        }
        if h.entry as usize >= rows {
            return Err(invalid(format!("graph entry {} of {rows} rows", h.entry)));
        }
        let upper = decode_upper(bytes(Section::Upper), h.upper_layers, rows).map_err(invalid)?;
        Some(Graph {
            links0,
            width,
            upper,
            entry: h.entry,
        })
    } else {
        None
    };
    let codes = if cfg.quantization == Quantization::Int8 {
        let scales: Vec<f32> = bytes(Section::Scales)
            .chunks_exact(4)
            .map(f32::read_le)
            .collect();
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
            return Err(invalid(format!("int8 scale {s}")));
        }
        // Copied to anonymous memory (the walk's hot data), in parallel.
        let src = bytes(Section::Codes);
        let mut codes = vec![0i8; src.len()];
        codes
            .par_chunks_mut(CRC_PIECE)
            .zip(src.par_chunks(CRC_PIECE))
            .for_each(|(dst, src)| {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = *s as i8;
                }
            });
        Some(Codes {
            dims,
            codes,
            scales,
        })
    } else {
        None
    };
    let members = RoaringBitmap::from_sorted_iter(store.docs().iter().copied())
        .map_err(|_| invalid("doc ids not sorted".into()))?;
    Ok(Segment {
        store,
        members,
        graph,
        codes,
        file_id: Some(id),
    })
}

/// One persisted segment as listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestEntry {
    pub(crate) id: u64,
    pub(crate) file: String,
    pub(crate) rows: u64,
}

/// The manifest: which segment files make up the index.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) dims: usize,
    /// Highest id handed out so far, so ids are never reused.
    pub(crate) next_id: u64,
    /// Oldest first; on a doc listed twice, the newest segment wins.
    pub(crate) segments: Vec<ManifestEntry>,
    /// The owner's position included by these segments (the last one
    /// pushed by `VectorWrite::set_applied`); absent while none was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stamp: Option<u64>,
}

/// Reads the manifest of `dir`; `None` if there is none (a new index).
pub(crate) fn read_manifest(dir: &Path, dims: usize) -> Res<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(VectorIndexError::io("read", &path, &e)),
    };
    let invalid = |msg: String| VectorIndexError::corrupt(&path, FileProblem::Invalid(msg));
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
    if m.format != MANIFEST_FORMAT {
        return Err(VectorIndexError::corrupt(
            &path,
            FileProblem::Version {
                found: m.format,
                supported: MANIFEST_FORMAT,
            },
        ));
    }
    if m.dims != dims {
        return Err(VectorIndexError::corrupt(
            &path,
            FileProblem::Dims {
                expected: dims,
                found: m.dims,
            },
        ));
    }
    for e in &m.segments {
        if parse_segment_file_name(&e.file) != Some(e.id) {
            return Err(invalid(format!("entry {} names file {:?}", e.id, e.file)));
        }
    }
    if m.segments.windows(2).any(|w| w[0].id >= w[1].id) {
        return Err(invalid("segment ids not increasing".into()));
    }
    Ok(Some(m))
}

/// Replaces the manifest atomically: write a temporary file, fsync it,
/// rename it over the old one, fsync the folder.
pub(crate) fn write_manifest(dir: &Path, m: &Manifest) -> Res<()> {
    let path = dir.join(MANIFEST_FILE);
    let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
    let io = |op, p: &Path| {
        let p = p.to_owned();
        move |e: std::io::Error| VectorIndexError::io(op, &p, &e)
    };
    let bytes = serde_json::to_vec_pretty(m).map_err(|e| {
        VectorIndexError::io("encode", &path, &std::io::Error::other(e.to_string()))
    })?;
    let mut f = File::create(&tmp).map_err(io("create", &tmp))?;
    f.write_all(&bytes).map_err(io("write", &tmp))?;
    f.sync_all().map_err(io("sync", &tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io("rename", &path))?;
    sync_dir(dir)
}

/// Makes the folder's entries (renames, unlinks) durable.
pub(crate) fn sync_dir(dir: &Path) -> Res<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| VectorIndexError::io("sync folder", dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Deletes leftover temporary files and segment files not in `listed`;
/// returns the highest segment id seen in a file name (listed or not).
pub(crate) fn clean_folder(dir: &Path, listed: &[u64]) -> Res<u64> {
    let mut max_id = 0;
    let entries = fs::read_dir(dir).map_err(|e| VectorIndexError::io("list", dir, &e))?;
    let mut removed = false;
    for entry in entries {
        let entry = entry.map_err(|e| VectorIndexError::io("list", dir, &e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let stale = if name.ends_with(".tmp") {
            true
        } else if let Some(id) = parse_segment_file_name(name) {
            max_id = max_id.max(id);
            !listed.contains(&id)
        } else {
            false
        };
        if stale {
            let path = entry.path();
            tracing::info!(file = %path.display(), "removing leftover vector index file");
            fs::remove_file(&path).map_err(|e| VectorIndexError::io("remove", &path, &e))?;
            removed = true;
        }
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(max_id)
}

/// The path of segment `id` in `dir`.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment_file_name(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::vector::VectorIndexBuilder;

    #[test]
    fn round_trip_keeps_graph_rows_and_codes_exactly() {
        let dims = 24;
        let cfg = VectorIndexBuilder::new()
            .dims(dims)
            .m(6)
            .ef_construction(20)
            .min_graph_rows(10)
            .quantization(Quantization::Int8)
            .validated_for_tests();
        let mut store = VectorStore::new(dims);
        for d in 0..3000u32 {
            let mut v: Vec<f32> = (0..dims)
                .map(|i| ((d as f32 * 0.37 + 1.0) * (i as f32 + 0.5)).sin())
                .collect();
            let n = kernel_norm(&v);
            v.iter_mut().for_each(|x| *x /= n);
            store.push(d * 2 + 1, &v);
        }
        let built = Segment::build(store, &cfg);
        let dir = tempfile::tempdir().unwrap();
        let path = segment_path(dir.path(), 7);
        write_segment(&path, 7, &built).unwrap();
        let opened = open_segment(&path, 7, &cfg, true).unwrap();
        assert!(opened.store.is_mapped() || cfg!(target_endian = "big"));
        assert_eq!(opened.store.docs(), built.store.docs());
        assert_eq!(opened.store.matrix(), built.store.matrix());
        assert_eq!(opened.members, built.members);
        let (a, b) = (
            built.graph.as_ref().unwrap(),
            opened.graph.as_ref().unwrap(),
        );
        assert_eq!(&*a.links0, &*b.links0);
        assert_eq!(a.width, b.width);
        assert_eq!(a.entry, b.entry);
        assert_eq!(a.upper, b.upper);
        assert!(!a.upper.is_empty());
        let (ca, cb) = (
            built.codes.as_ref().unwrap(),
            opened.codes.as_ref().unwrap(),
        );
        assert_eq!(ca.codes, cb.codes);
        assert_eq!(ca.scales, cb.scales);
        // Wrong id or dims: typed errors.
        assert!(open_segment(&path, 8, &cfg, true).is_err());
        let other = VectorIndexBuilder::new()
            .dims(dims + 1)
            .validated_for_tests();
        assert!(matches!(
            open_segment(&path, 7, &other, true),
            Err(VectorIndexError::CorruptFile {
                problem: FileProblem::Dims { .. },
                ..
            })
        ));
    }

    fn kernel_norm(v: &[f32]) -> f32 {
        super::super::kernel::norm_squared(v).sqrt()
    }
}
