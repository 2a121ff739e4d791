//! The index folder of a persisted [`SegmentedIndex`]: segment files
//! written by jobs, the manifest (with the pushed stamp) and loading it all
//! back on open.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::super::config::{Config, PersistHook};
use super::super::file::{self, Manifest, ManifestEntry};
use super::super::segment::{Kind, Part, Segment};
use super::super::{vector_error, VectorIndexError};
use super::{Inner, SegmentedIndex};
use crate::Result;

/// The index folder and what is known to be on disk.
pub(super) struct Disk {
    pub(super) dir: PathBuf,
    pub(super) hook: Option<PersistHook>,
    /// The last position pushed by [`VectorWrite::set_applied`] (starting
    /// at the loaded manifest's stamp): every change up to it was inserted.
    pub(super) applied: Mutex<Option<u64>>,
    /// Taken (lock order: disk, then writer) for a segment file write, the
    /// install that follows and the manifest write.
    pub(super) state: Mutex<DiskState>,
}

#[derive(Default)]
pub(super) struct DiskState {
    /// Segment ids listed by the manifest on disk, ascending.
    pub(super) listed: Vec<u64>,
    /// The stamp of the manifest on disk.
    pub(super) stamp: Option<u64>,
    /// Files of segments no longer in the index: deleted once a manifest
    /// without them is durable.
    pub(super) obsolete: Vec<u64>,
}

impl Disk {
    /// Writes the manifest if the persisted segments changed since the
    /// last one, after the `before_persist` hook, then deletes the files it
    /// no longer lists. Failures are logged: the in-memory index is intact
    /// and the next call retries.
    pub(super) fn sync_manifest(&self, inner: &Inner, state: &mut DiskState) {
        // Read before the segment list is captured: the changes up to it
        // were inserted before it was pushed, so they are in `snap` (listed,
        // or in a buffer the owner re-inserts after reopening).
        let stamp = *self.applied.lock();
        let snap = inner.load();
        let mut entries: Vec<ManifestEntry> = snap
            .segments
            .iter()
            .filter_map(|p| match &p.kind {
                Kind::Sealed(s) => s.file_id.map(|id| ManifestEntry {
                    id,
                    file: file::segment_file_name(id),
                    rows: s.store.len() as u64,
                }),
                Kind::Buffer(_) => None,
            })
            .collect();
        entries.sort_by_key(|e| e.id);
        let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
        if ids != state.listed {
            if let Some(hook) = &self.hook {
                if let Err(e) = (hook.0)() {
                    tracing::warn!(error = %e, "before_persist hook failed; vector index manifest not written");
                    return;
                }
            }
            let manifest = Manifest {
                format: file::MANIFEST_FORMAT,
                dims: inner.cfg.dims,
                next_id: inner.writer.lock().next_id,
                segments: entries,
                stamp,
            };
            if let Err(e) = file::write_manifest(&self.dir, &manifest) {
                tracing::warn!(error = %e, "cannot write the vector index manifest");
                return;
            }
            state.listed = ids;
            state.stamp = stamp;
        }
        let obsolete = std::mem::take(&mut state.obsolete);
        let mut removed = false;
        for id in obsolete {
            if state.listed.contains(&id) {
                state.obsolete.push(id);
                continue;
            }
            let path = file::segment_path(&self.dir, id);
            match std::fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "cannot delete a replaced vector segment");
                }
            }
        }
        if removed {
            if let Err(e) = file::sync_dir(&self.dir) {
                tracing::warn!(error = %e, "cannot sync the vector index folder");
            }
        }
    }
}

/// Writes `segment` as file `id` in `dir` and reopens it mapped (so the
/// installed segment is exactly what a reopen will see, and its `f32` rows
/// leave the heap). On failure the in-memory segment is kept, unpersisted.
pub(super) fn persist_segment(dir: &Path, id: u64, segment: Segment, cfg: &Config) -> Segment {
    let path = file::segment_path(dir, id);
    let started = std::time::Instant::now();
    let written = file::write_segment(&path, id, &segment)
        .and_then(|()| file::open_segment(&path, id, cfg, false));
    match written {
        Ok(mapped) => {
            tracing::debug!(
                file = %path.display(),
                rows = mapped.store.len(),
                ms = started.elapsed().as_millis() as u64,
                "vector segment persisted"
            );
            mapped
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot persist a vector segment; keeping it in memory only");
            let _ = std::fs::remove_file(&path);
            segment
        }
    }
}

impl SegmentedIndex {
    /// Deletes a persisted index's files in `dir` (the manifest first, so a
    /// crash half-way leaves an empty index, then segment and temporary
    /// files); other files and the folder itself stay. For the engine's
    /// recovery after a [`CorruptFile`](VectorIndexError::CorruptFile)
    /// error: wipe, reopen empty, re-insert the stored vectors. The index
    /// must not be open.
    pub fn wipe(dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let manifest = dir.join(file::MANIFEST_FILE);
        match std::fs::remove_file(&manifest) {
            Ok(()) => file::sync_dir(dir).map_err(vector_error)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(vector_error(VectorIndexError::io("remove", &manifest, &e))),
        }
        match std::fs::metadata(dir) {
            Ok(_) => file::clean_folder(dir, &[]).map_err(vector_error)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(vector_error(VectorIndexError::io("open", dir, &e))),
        };
        Ok(())
    }

    /// The index folder, if persisted.
    pub fn directory(&self) -> Option<&Path> {
        self.inner.disk.as_ref().map(|d| d.dir.as_path())
    }

    /// The stamp of the manifest on disk: the last position pushed by
    /// [`set_applied`](crate::index::vector::VectorWrite::set_applied) before that manifest
    /// captured its segment list. `None` without a directory, or while no
    /// manifest with a stamp was written (nothing pushed yet).
    pub fn persisted_stamp(&self) -> Option<u64> {
        match &self.inner.disk {
            Some(d) => d.state.lock().stamp,
            None => self.inner.loaded_stamp,
        }
    }

    /// Writes the manifest if it does not list the current segments yet.
    pub(super) fn sync_manifest(&self) {
        if let Some(disk) = &self.inner.disk {
            let mut state = disk.state.lock();
            disk.sync_manifest(&self.inner, &mut state);
        }
    }
}

/// Opens the index persisted in `dir`: reads the manifest, removes leftover
/// files, opens the listed segments in parallel (each verifying its
/// checksums in parallel) and resolves docs listed twice (the newest
/// segment wins). Returns the parts, the disk state and the next id.
pub(super) fn load_dir(
    dir: &Path,
    cfg: &Config,
) -> std::result::Result<(Vec<Part>, DiskState, u64), VectorIndexError> {
    if cfg.read_only && !dir.is_dir() {
        return Ok((Vec::new(), DiskState::default(), 0));
    }
    if !cfg.read_only {
        std::fs::create_dir_all(dir).map_err(|e| VectorIndexError::io("create", dir, &e))?;
    }
    let manifest = file::read_manifest(dir, cfg.dims)?;
    let entries = manifest.as_ref().map_or(&[][..], |m| &m.segments[..]);
    let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
    // A read-only open leaves other processes' files alone; its own parts
    // never reach the folder, so their ids need not avoid files on disk.
    let max_file_id = if cfg.read_only {
        0
    } else {
        file::clean_folder(dir, &ids)?
    };
    let started = std::time::Instant::now();
    let segments: Vec<Segment> = entries
        .par_iter()
        .map(|e| {
            let path = dir.join(&e.file);
            let seg = file::open_segment(&path, e.id, cfg, true)?;
            if seg.store.len() as u64 != e.rows {
                return Err(VectorIndexError::corrupt(
                    &path,
                    super::super::FileProblem::Invalid(format!(
                        "{} rows where the manifest says {}",
                        seg.store.len(),
                        e.rows
                    )),
                ));
            }
            Ok(seg)
        })
        .collect::<std::result::Result<_, _>>()?;
    // Newest first: a doc already seen in a newer segment is a tombstone.
    let mut seen = RoaringBitmap::new();
    let mut parts = Vec::with_capacity(segments.len());
    for seg in segments.into_iter().rev() {
        let dup = &seg.members & &seen;
        if !dup.is_empty() {
            tracing::warn!(
                segment = seg.file_id,
                docs = dup.len(),
                "vector index: docs listed in a newer segment too; the newer copy wins"
            );
        }
        seen |= &seg.members;
        let id = seg.file_id.unwrap_or_default();
        parts.push(Part::sealed(id, Arc::new(seg), dup));
    }
    parts.reverse();
    let next_id = ids
        .iter()
        .copied()
        .chain([max_file_id, manifest.as_ref().map_or(0, |m| m.next_id)])
        .max()
        .unwrap_or(0);
    if !ids.is_empty() {
        tracing::info!(
            segments = ids.len(),
            rows = parts.iter().map(Part::rows).sum::<u64>(),
            ms = started.elapsed().as_millis() as u64,
            dir = %dir.display(),
            "vector index opened"
        );
    }
    let state = DiskState {
        listed: ids,
        stamp: manifest.as_ref().and_then(|m| m.stamp),
        obsolete: Vec::new(),
    };
    Ok((parts, state, next_id))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{v, DIMS};
    use crate::index::vector::{VectorIndexBuilder, VectorWrite};

    #[test]
    fn the_manifest_records_the_last_pushed_position() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let open = || {
            VectorIndexBuilder::new()
                .dims(DIMS)
                .seal_threshold(4)
                .min_graph_rows(1)
                .background_builds(false)
                .directory(tmp.path())
                .build()
                .expect("open")
        };
        {
            let idx = open();
            for d in 0..8 {
                idx.insert(d, &v(d)).expect("insert");
            }
            idx.flush();
            assert_eq!(idx.persisted_stamp(), None, "nothing pushed yet");
            idx.set_applied(5);
            idx.set_applied(3); // lower: ignored
            idx.insert(8, &v(8)).expect("insert");
            idx.flush();
            assert_eq!(idx.persisted_stamp(), Some(5));
        }
        let idx = open();
        assert_eq!(idx.persisted_stamp(), Some(5));
        // Without a directory there is nothing to stamp.
        let memory = VectorIndexBuilder::new().dims(DIMS).build().expect("open");
        memory.set_applied(9);
        memory.flush();
        assert_eq!(memory.persisted_stamp(), None);
    }
}
