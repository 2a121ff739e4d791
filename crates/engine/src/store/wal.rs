//! The write-ahead log: framing, replay, and group commit.
//!
//! A log segment `wal-<start>.log` holds the records with sequence numbers
//! above `<start>`, back to back, each framed as
//!
//! ```text
//! [u32 le payload length][u32 le crc32(payload)][payload = bincode((seq, Record))]
//! ```
//!
//! Writers append whole calls with one `write`; with [`Durability::Sync`]
//! they then wait for an fsync that covers their last record. Waiting
//! writers elect one leader that fsyncs on behalf of all of them (group
//! commit), so N threads arriving together cost one fsync, not N.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::directory::{io_err, DirFile, Directory};
use super::record::Record;
use super::{bincode_config, StoreError};

/// Bytes of a frame header (length + crc).
pub(crate) const FRAME_HEADER: usize = 8;

/// Name of the segment holding records after `start`. Zero-padded so that
/// `ls` lists segments in order.
pub(crate) fn segment_name(start: u64) -> String {
    format!("wal-{start:020}.log")
}

/// The start sequence number of a segment file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    digits.parse().ok()
}

/// Encodes a record (without its sequence number), outside any lock.
pub(crate) fn encode_body(record: &Record) -> Result<Vec<u8>, StoreError> {
    bincode::serde::encode_to_vec(record, bincode_config()).map_err(|e| StoreError::Encode {
        reason: format!("{} record: {e}", record.kind()),
    })
}

/// Appends the frame of `(seq, record)` to `out`, given the record's
/// encoded body. bincode encodes a tuple as its fields back to back, so the
/// payload is `bincode(seq) ++ body` and decodes as `(u64, Record)`.
pub(crate) fn append_frame(seq: u64, body: &[u8], out: &mut Vec<u8>) -> Result<(), StoreError> {
    let seq_bytes =
        bincode::serde::encode_to_vec(seq, bincode_config()).map_err(|e| StoreError::Encode {
            reason: format!("sequence number: {e}"),
        })?;
    let len = seq_bytes.len() + body.len();
    let len32 = u32::try_from(len).map_err(|_| StoreError::Encode {
        reason: format!("record of {len} bytes exceeds the 4 GiB frame limit; split the batch"),
    })?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq_bytes);
    crc.update(body);
    out.extend_from_slice(&len32.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq_bytes);
    out.extend_from_slice(body);
    Ok(())
}

/// How a segment scan ended.
#[derive(Debug)]
pub(crate) struct ScanEnd {
    /// Bytes of whole, valid frames from the start of the segment.
    pub valid_len: u64,
    /// Why the bytes after `valid_len` were judged a torn last write.
    pub torn: Option<String>,
}

/// Reads every frame of a segment, calling `f(offset, seq, record)` for
/// each. In the last segment, a damaged final write (incomplete header or
/// payload at end of file, a checksum mismatch in the frame that ends
/// exactly at end of file, or a zero-filled tail) ends the scan and is
/// reported in [`ScanEnd::torn`]; anywhere else, and in older segments
/// (which were fsynced before the next one was started), any damage is
/// [`StoreError::Corrupt`].
pub(crate) fn scan(
    bytes: &[u8],
    file: &Path,
    is_last: bool,
    mut f: impl FnMut(u64, u64, Record) -> Result<(), StoreError>,
) -> Result<ScanEnd, StoreError> {
    let total = bytes.len();
    let mut off = 0usize;
    while off < total {
        let rest = &bytes[off..];
        let corrupt = |reason: String| StoreError::Corrupt {
            file: file.to_path_buf(),
            offset: off as u64,
            reason,
        };
        let torn = |reason: String| -> Result<ScanEnd, StoreError> {
            if is_last {
                Ok(ScanEnd {
                    valid_len: off as u64,
                    torn: Some(reason),
                })
            } else {
                Err(corrupt(format!(
                    "{reason} in a log segment that is not the last one"
                )))
            }
        };
        if rest.len() < FRAME_HEADER {
            if rest.iter().all(|b| *b == 0) {
                return torn("zero-filled tail".into());
            }
            return torn(format!(
                "incomplete frame header ({} of {FRAME_HEADER} bytes)",
                rest.len()
            ));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len == 0 {
            if rest.iter().all(|b| *b == 0) {
                return torn("zero-filled tail".into());
            }
            return Err(corrupt("zero-length frame".into()));
        }
        let available = rest.len() - FRAME_HEADER;
        if available < len {
            return torn(format!(
                "frame of {len} bytes runs past end of file ({available} bytes present)"
            ));
        }
        let payload = &rest[FRAME_HEADER..FRAME_HEADER + len];
        if crc32fast::hash(payload) != crc {
            let at_end = off + FRAME_HEADER + len == total;
            if at_end {
                return torn("checksum mismatch in the last record".into());
            }
            return Err(corrupt("checksum mismatch".into()));
        }
        let (seq, record): (u64, Record) =
            bincode::serde::decode_from_slice(payload, bincode_config())
                .map_err(|e| corrupt(format!("undecodable record: {e}")))
                .and_then(|(value, used)| {
                    if used == len {
                        Ok(value)
                    } else {
                        Err(corrupt(format!(
                            "record decodes from {used} of its {len} bytes"
                        )))
                    }
                })?;
        f(off as u64, seq, record)?;
        off += FRAME_HEADER + len;
    }
    Ok(ScanEnd {
        valid_len: total as u64,
        torn: None,
    })
}

/// The segment being appended to. Guarded by [`Wal::writer`]; whoever holds
/// the guard is the only one assigning sequence numbers.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The open segment.
    pub file: Arc<dyn DirFile>,
    /// Its file name.
    pub name: String,
    /// Records in it have sequence numbers above this.
    pub start: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Bytes of older segments still needed by recovery (not yet covered by
    /// a durable snapshot).
    pub retired_bytes: u64,
    /// Sequence number of the last record written.
    pub last_seq: u64,
}

#[derive(Debug)]
struct SyncState {
    /// Every record up to this one is durable.
    synced_seq: u64,
    /// A thread is fsyncing right now.
    leader: bool,
    /// Set after a failed write or fsync; the store refuses writes.
    poison: Option<String>,
}

/// The log writer with group commit.
#[derive(Debug)]
pub(crate) struct Wal {
    dir: Arc<dyn Directory>,
    writer: Mutex<Writer>,
    sync: Mutex<SyncState>,
    synced: Condvar,
}

impl Wal {
    /// Wraps an open segment whose records up to `writer.last_seq` are all
    /// durable (they were recovered from disk, or there are none).
    pub fn new(dir: Arc<dyn Directory>, writer: Writer) -> Self {
        let synced_seq = writer.last_seq;
        Self {
            dir,
            writer: Mutex::new(writer),
            sync: Mutex::new(SyncState {
                synced_seq,
                leader: false,
                poison: None,
            }),
            synced: Condvar::new(),
        }
    }

    /// Locks the writer: sequence numbers are assigned and frames written
    /// under this guard.
    pub fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock()
    }

    /// Fails if an earlier write or fsync failed.
    pub fn check_poison(&self) -> Result<(), StoreError> {
        match &self.sync.lock().poison {
            Some(reason) => Err(StoreError::Poisoned {
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn poison(&self, reason: String) {
        let mut s = self.sync.lock();
        if s.poison.is_none() {
            s.poison = Some(reason);
        }
        self.synced.notify_all();
    }

    /// Writes `frames` (whole frames ending at `last_seq`) to the segment.
    /// On a write error the segment is cut back to its previous length so
    /// the log never holds a partial frame followed by later ones; if that
    /// fails too, the store is poisoned.
    pub fn write(&self, w: &mut Writer, frames: &[u8], last_seq: u64) -> Result<(), StoreError> {
        let path = self.dir.path_of(&w.name);
        if let Err(e) = w.file.append(frames) {
            if let Err(undo) = w.file.set_len(w.len) {
                self.poison(format!(
                    "append to {} failed ({e}) and cutting back its partial frame failed ({undo})",
                    path.display()
                ));
            }
            return Err(io_err("append to", path)(e));
        }
        w.len += frames.len() as u64;
        w.last_seq = last_seq;
        Ok(())
    }

    /// Waits until every record up to `seq` is durable, fsyncing as the
    /// leader if no other thread is. One fsync covers every record written
    /// before it started, so concurrent callers share it.
    pub fn wait_durable(&self, seq: u64) -> Result<(), StoreError> {
        let mut s = self.sync.lock();
        loop {
            if let Some(reason) = &s.poison {
                return Err(StoreError::Poisoned {
                    reason: reason.clone(),
                });
            }
            if s.synced_seq >= seq {
                return Ok(());
            }
            if s.leader {
                self.synced.wait(&mut s);
                continue;
            }
            s.leader = true;
            let result = MutexGuard::unlocked(&mut s, || {
                let (file, name, target) = {
                    let w = self.writer.lock();
                    (w.file.clone(), w.name.clone(), w.last_seq)
                };
                file.sync()
                    .map(|()| target)
                    .map_err(|e| (self.dir.path_of(&name), e))
            });
            s.leader = false;
            match result {
                Ok(target) => s.synced_seq = s.synced_seq.max(target),
                Err((path, e)) => {
                    // After a failed fsync the kernel may have dropped the
                    // dirty pages: nothing written since the last good sync
                    // can be trusted, so stop accepting writes.
                    s.poison = Some(format!("fsync of {} failed: {e}", path.display()));
                    self.synced.notify_all();
                    return Err(io_err("sync", path)(e));
                }
            }
            self.synced.notify_all();
        }
    }

    /// Makes every record written so far durable.
    pub fn sync_all(&self) -> Result<(), StoreError> {
        let last = self.writer.lock().last_seq;
        self.wait_durable(last)
    }

    /// Starts a new segment after `w.last_seq`: fsyncs the current one (so
    /// older segments are always complete), creates the new file and makes
    /// its folder entry durable before any record can be acknowledged in
    /// it. Returns the sequence number the old segments end at.
    pub fn rotate(&self, w: &mut Writer) -> Result<u64, StoreError> {
        let seq = w.last_seq;
        if w.start == seq {
            // The current segment holds nothing yet; it already starts here.
            return Ok(seq);
        }
        let old_path = self.dir.path_of(&w.name);
        if let Err(e) = w.file.sync() {
            self.poison(format!("fsync of {} failed: {e}", old_path.display()));
            return Err(io_err("sync", old_path)(e));
        }
        {
            let mut s = self.sync.lock();
            s.synced_seq = s.synced_seq.max(seq);
            self.synced.notify_all();
        }
        let name = segment_name(seq);
        let file = self.dir.create(&name)?;
        self.dir.sync_dir()?;
        w.retired_bytes += w.len;
        w.file = file;
        w.name = name;
        w.start = seq;
        w.len = 0;
        Ok(seq)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn frames(records: &[(u64, Record)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (seq, r) in records {
            let body = encode_body(r).expect("encode");
            append_frame(*seq, &body, &mut out).expect("frame");
        }
        out
    }

    fn collect(bytes: &[u8], is_last: bool) -> Result<(Vec<(u64, u64)>, ScanEnd), StoreError> {
        let mut seen = Vec::new();
        let end = scan(bytes, &PathBuf::from("seg"), is_last, |off, seq, _| {
            seen.push((off, seq));
            Ok(())
        })?;
        Ok((seen, end))
    }

    fn sample() -> Vec<(u64, Record)> {
        (1..=3)
            .map(|i| {
                (
                    i,
                    Record::DeleteRelation {
                        id: uuid::Uuid::from_u128(i.into()),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("wal-x.log"), None);
        assert_eq!(parse_segment_name("snapshot-1.bin"), None);
    }

    #[test]
    fn frames_decode_in_order() {
        let bytes = frames(&sample());
        let (seen, end) = collect(&bytes, true).expect("scan");
        assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(seen[0].0, 0);
        assert_eq!(end.valid_len, bytes.len() as u64);
        assert!(end.torn.is_none());
    }

    #[test]
    fn torn_tails_are_cut_only_in_the_last_segment() {
        let bytes = frames(&sample());
        let last_start = collect(&bytes, true).expect("scan").0[2].0;
        for cut in 1..(bytes.len() as u64 - last_start) {
            let short = &bytes[..bytes.len() - cut as usize];
            let (seen, end) = collect(short, true).expect("torn tail tolerated");
            assert_eq!(seen.len(), 2, "cut {cut}");
            assert_eq!(end.valid_len, last_start);
            assert!(end.torn.is_some());
            assert!(matches!(
                collect(short, false),
                Err(StoreError::Corrupt { offset, .. }) if offset == last_start
            ));
        }
        // A flipped byte in the last frame's payload at end of file.
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 1] ^= 0x40;
        let (seen, end) = collect(&flipped, true).expect("torn");
        assert_eq!((seen.len(), end.valid_len), (2, last_start));
        // Zero-filled tail after valid frames.
        let mut zeros = bytes.clone();
        zeros.extend_from_slice(&[0u8; 37]);
        let (seen, end) = collect(&zeros, true).expect("zero tail");
        assert_eq!((seen.len(), end.valid_len), (3, bytes.len() as u64));
    }

    #[test]
    fn damage_before_the_end_is_corruption() {
        let bytes = frames(&sample());
        let second = collect(&bytes, true).expect("scan").0[1].0;
        let mut bad = bytes.clone();
        bad[second as usize + FRAME_HEADER + 1] ^= 0x01;
        match collect(&bad, true) {
            Err(StoreError::Corrupt { offset, reason, .. }) => {
                assert_eq!(offset, second);
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
