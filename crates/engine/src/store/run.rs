//! Runs: the vector files a snapshot lists, memory-mapped, rows found by
//! doc id. Below both the snapshot (which writes and lists them) and the
//! state (which reads vectors from them), so neither imports the other
//! for it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::directory::{Directory, FileBytes};
use super::{StoreError, FORMAT_VERSION};
use crate::index::DocId;

/// Magic at the start of a vector file.
pub(crate) const VEC_MAGIC: &[u8; 8] = b"MOLTVEC1";
/// `[magic][u32 version][u32 dims][u64 count]`.
pub(crate) const VEC_HEADER: usize = 8 + 4 + 4 + 8;

/// A run a snapshot lists: its file name, length and crc32.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRef {
    pub file: String,
    pub len: u64,
    pub crc: u32,
}

/// A listed run, memory-mapped.
#[derive(Debug)]
pub(crate) struct Run {
    pub reference: RunRef,
    pub file: VectorFile,
}

impl Run {
    /// Maps the run `reference` names and checks its length and structure
    /// (not its checksum: the caller does, or computed it while writing).
    /// `snapshot` is the snapshot that lists it, for error messages.
    pub(crate) fn open(
        dir: &dyn Directory,
        reference: RunRef,
        dims: usize,
        snapshot: &Path,
    ) -> Result<Run, StoreError> {
        let bytes = dir.read(&reference.file)?;
        if bytes.len() as u64 != reference.len {
            return Err(run_differs(dir, &reference, snapshot));
        }
        let file = VectorFile::parse(bytes, &dir.path_of(&reference.file), dims)?;
        Ok(Run { reference, file })
    }
}

/// A vector file, usually memory-mapped.
pub(crate) struct VectorFile {
    pub(crate) bytes: FileBytes,
    dims: usize,
    count: usize,
}

impl std::fmt::Debug for VectorFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VectorFile")
            .field("dims", &self.dims)
            .field("count", &self.count)
            .field("mapped", &self.bytes.is_mapped())
            .finish()
    }
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl VectorFile {
    /// Checks the header and doc ids (ascending) of a vector file.
    fn parse(bytes: FileBytes, file: &Path, dims: usize) -> Result<Self, StoreError> {
        let corrupt = |offset: usize, reason: String| StoreError::Corrupt {
            file: file.to_path_buf(),
            offset: offset as u64,
            reason,
        };
        if bytes.len() < VEC_HEADER || &bytes[..8] != VEC_MAGIC {
            return Err(corrupt(0, "not a vector file (bad magic)".into()));
        }
        let version = read_u32(&bytes, 8);
        if version != FORMAT_VERSION {
            return Err(StoreError::UnsupportedFormat {
                file: file.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let file_dims = read_u32(&bytes, 12) as usize;
        if file_dims != dims {
            return Err(corrupt(
                12,
                format!("holds {file_dims}-dimensional vectors, expected {dims}"),
            ));
        }
        let count = usize::try_from(read_u64(&bytes, 16))
            .map_err(|_| corrupt(16, "vector count overflows".into()))?;
        let expected = count
            .checked_mul(4 * (dims + 1))
            .and_then(|n| n.checked_add(VEC_HEADER));
        if expected != Some(bytes.len()) {
            return Err(corrupt(
                16,
                format!(
                    "{count} vectors of {dims} dimensions need {expected:?} bytes, file has {}",
                    bytes.len()
                ),
            ));
        }
        let v = Self { bytes, dims, count };
        for i in 1..count {
            if v.doc(i) <= v.doc(i - 1) {
                return Err(corrupt(
                    VEC_HEADER + 4 * i,
                    "doc ids are not strictly ascending".into(),
                ));
            }
        }
        Ok(v)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Doc id of row `i`.
    pub fn doc(&self, i: usize) -> DocId {
        read_u32(&self.bytes, VEC_HEADER + 4 * i)
    }

    /// Row of `doc`, by binary search over the doc id array.
    pub fn find(&self, doc: DocId) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.doc(mid).cmp(&doc) {
                std::cmp::Ordering::Equal => return Some(mid),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// The raw little-endian bytes of row `i`.
    pub fn row_bytes(&self, i: usize) -> &[u8] {
        let start = VEC_HEADER + 4 * self.count + 4 * self.dims * i;
        &self.bytes[start..start + 4 * self.dims]
    }

    /// Row `i` as floats.
    pub fn row(&self, i: usize) -> Vec<f32> {
        self.row_bytes(i)
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }

    /// Whether row `i` is bitwise equal to `v`.
    pub fn row_eq(&self, i: usize, v: &[f32]) -> bool {
        v.len() == self.dims
            && self
                .row_bytes(i)
                .chunks_exact(4)
                .zip(v)
                .all(|(c, x)| c == x.to_le_bytes())
    }
}

/// The error for a run whose length or checksum is not what `snapshot`
/// recorded.
pub(crate) fn run_differs(dir: &dyn Directory, run: &RunRef, snapshot: &Path) -> StoreError {
    StoreError::Corrupt {
        file: dir.path_of(&run.file),
        offset: 0,
        reason: format!(
            "length or checksum differs from what {} recorded",
            snapshot.display()
        ),
    }
}
