//! Arrays that live either on the heap or, zero-copy, in a memory-mapped
//! segment file.
//!
//! A sealed segment's `f32` matrix and bottom-layer graph links are by far
//! its biggest parts (1.5 GB and 190 MB at 1M × 384-d, M 24). Reading them
//! into `Vec`s on open would cost seconds and double-count memory with the
//! page cache; instead they are viewed in place as `&[f32]` / `&[u32]` over
//! the mapping. That is only sound if the bytes are little-endian, aligned
//! and in bounds, so [`Backing::from_map`] checks all three and otherwise
//! decodes a heap copy (big-endian hosts) or reports the problem.
//!
//! The mapping's soundness also needs the file not to change while mapped:
//! the index owns its folder exclusively and never rewrites a segment file
//! (new data goes to new files; old ones are unlinked, which leaves existing
//! mappings intact on Unix).

use std::ops::Deref;
use std::sync::Arc;

use memmap2::Mmap;

/// Plain little-endian numbers that may be viewed in place from file bytes:
/// every bit pattern is a valid value, no padding, no pointers.
pub(crate) trait Pod: Copy + Send + Sync + 'static {
    /// Decodes one value from its little-endian bytes (`size_of::<Self>()`).
    fn read_le(bytes: &[u8]) -> Self;
    /// Appends the little-endian bytes of `self`.
    fn put_le(self, out: &mut Vec<u8>);
}

impl Pod for u32 {
    fn read_le(b: &[u8]) -> Self {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Pod for f32 {
    fn read_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Pod for i8 {
    fn read_le(b: &[u8]) -> Self {
        b[0] as i8
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
}

/// The bytes of a slice of [`Pod`] values in little-endian order: borrowed
/// on little-endian hosts (the in-memory layout already is the file layout),
/// converted otherwise.
pub(crate) fn le_bytes<T: Pod>(values: &[T]) -> std::borrow::Cow<'_, [u8]> {
    if cfg!(target_endian = "little") {
        // SAFETY: `T: Pod` has no padding and every byte of it is
        // initialised; `u8` has alignment 1 and the length is the slice's
        // size in bytes, so the view covers exactly the same memory.
        std::borrow::Cow::Borrowed(unsafe {
            std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
        })
    } else {
        let mut out = Vec::with_capacity(std::mem::size_of_val(values));
        values.iter().for_each(|v| v.put_le(&mut out));
        std::borrow::Cow::Owned(out)
    }
}

/// A `[T]` owned on the heap or borrowed from a shared mapping.
pub(crate) enum Backing<T: Pod> {
    /// Heap storage (write buffers, fresh builds, in-memory indexes).
    Owned(Vec<T>),
    /// `len` values starting `offset` bytes into `map`; checked by
    /// [`Backing::from_map`] to be in bounds and aligned.
    Mapped {
        /// Keeps the mapping alive as long as any view of it.
        map: Arc<Mmap>,
        /// Byte offset of the first value.
        offset: usize,
        /// Number of values.
        len: usize,
    },
}

impl<T: Pod> Backing<T> {
    /// A view of `len` values at byte `offset` of `map`: zero-copy when the
    /// host is little-endian and the address is aligned for `T`, a decoded
    /// heap copy otherwise. `None` when the range is out of bounds.
    pub(crate) fn from_map(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Self> {
        let size = std::mem::size_of::<T>();
        let end = len.checked_mul(size)?.checked_add(offset)?;
        let bytes = map.get(offset..end)?;
        let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>());
        if cfg!(target_endian = "little") && aligned {
            return Some(Self::Mapped {
                map: Arc::clone(map),
                offset,
                len,
            });
        }
        Some(Self::Owned(
            bytes.chunks_exact(size).map(T::read_le).collect(),
        ))
    }

    /// Whether the values are borrowed from a mapping.
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self, Self::Mapped { .. })
    }

    /// The values as a mutable `Vec`, copying them to the heap first if
    /// they are mapped (never the case on the paths that mutate: only write
    /// buffers and the flat index do, and they are never mapped).
    pub(crate) fn to_mut(&mut self) -> &mut Vec<T> {
        if let Self::Mapped { .. } = self {
            *self = Self::Owned(self.to_vec());
        }
        match self {
            Self::Owned(v) => v,
            Self::Mapped { .. } => unreachable!("converted to owned just above"),
        }
    }
}

impl<T: Pod> Deref for Backing<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match self {
            Self::Owned(v) => v,
            Self::Mapped { map, offset, len } => {
                // SAFETY: `from_map` checked that `offset + len · size_of::<T>()`
                // is within the mapping and that the address is aligned for
                // `T`; `T: Pod` accepts any bit pattern and the host is
                // little-endian (the file's byte order). The mapping is
                // read-only, lives as long as `map`, and its file is never
                // modified while mapped (see the module docs).
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*offset).cast::<T>(), *len) }
            }
        }
    }
}

impl<T: Pod> Clone for Backing<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Owned(v) => Self::Owned(v.clone()),
            Self::Mapped { map, offset, len } => Self::Mapped {
                map: Arc::clone(map),
                offset: *offset,
                len: *len,
            },
        }
    }
}

impl<T: Pod> Default for Backing<T> {
    fn default() -> Self {
        Self::Owned(Vec::new())
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Backing<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_mapped() { "mapped" } else { "owned" };
        write!(f, "Backing::{kind}({} values)", self.len())
    }
}

impl<T: Pod + PartialEq> PartialEq for Backing<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_aligned_ranges_and_rejects_out_of_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let values: Vec<f32> = (0..100).map(|i| i as f32 * 0.5).collect();
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&[0u8; 64]).unwrap();
        file.write_all(&le_bytes(&values)).unwrap();
        drop(file);
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: a private temporary file nobody else writes.
        let map = Arc::new(unsafe { Mmap::map(&file) }.unwrap());
        let b = Backing::<f32>::from_map(&map, 64, 100).unwrap();
        assert!(b.is_mapped() || cfg!(target_endian = "big"));
        assert_eq!(&*b, &values[..]);
        // Misaligned: decoded copy, same values.
        let odd = Backing::<u32>::from_map(&map, 65, 3).unwrap();
        assert!(!odd.is_mapped());
        assert!(Backing::<f32>::from_map(&map, 64, 101).is_none());
        assert!(Backing::<f32>::from_map(&map, usize::MAX - 2, 1).is_none());
        let mut c = b.clone();
        c.to_mut()[0] = 9.0;
        assert!(!c.is_mapped());
        assert_eq!(c[0], 9.0);
        assert_eq!(b[0], 0.0);
    }
}
