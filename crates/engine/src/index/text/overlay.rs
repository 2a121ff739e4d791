//! A tantivy [`Directory`] that reads an index folder and writes nothing to
//! it: what a read-only open of a data folder searches.
//!
//! Another process may own the folder (holding tantivy's writer lock and
//! committing to it). A reader still has to bring the index in line with
//! the log it recovered: add the documents the last commit lacks, delete
//! the ones deleted since. Rather than re-index everything into memory, the
//! reader layers a [`RamDirectory`] over the folder: files are read from
//! the folder unless written in memory, writes (new segments, `meta.json`,
//! tantivy's own lock and bookkeeping) go to memory, and deletes only hide
//! a folder file from this process. So the reader runs tantivy's ordinary
//! writer and commit over the folder's segments, with global BM25
//! statistics, while the folder stays byte for byte as the owner left it
//! (segments tantivy maps stay valid even if the owner deletes them later:
//! a mapped file outlives its name).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    DirectoryLock, FileHandle, Lock, MmapDirectory, RamDirectory, WatchCallback, WatchHandle,
    WritePtr,
};
use tantivy::Directory;

/// The folder below, memory above; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct OverlayDirectory {
    base: MmapDirectory,
    ram: RamDirectory,
    /// Folder files deleted in this process (they stay on disk).
    hidden: Arc<RwLock<HashSet<PathBuf>>>,
}

impl OverlayDirectory {
    /// Reads `base`, writes to memory.
    pub fn new(base: MmapDirectory) -> Self {
        Self {
            base,
            ram: RamDirectory::create(),
            hidden: Arc::default(),
        }
    }

    fn in_ram(&self, path: &Path) -> bool {
        self.ram.exists(path).unwrap_or(false)
    }

    fn hidden(&self, path: &Path) -> bool {
        self.hidden.read().contains(path)
    }

    fn not_found(path: &Path) -> OpenReadError {
        OpenReadError::FileDoesNotExist(path.to_path_buf())
    }
}

impl Directory for OverlayDirectory {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        if self.in_ram(path) {
            return self.ram.get_file_handle(path);
        }
        if self.hidden(path) {
            return Err(Self::not_found(path));
        }
        self.base.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        if self.in_ram(path) {
            return self.ram.delete(path);
        }
        self.hidden.write().insert(path.to_path_buf());
        Ok(())
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        if self.in_ram(path) {
            return Ok(true);
        }
        if self.hidden(path) {
            return Ok(false);
        }
        self.base.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let taken = self
            .exists(path)
            .map_err(|e| OpenWriteError::wrap_io_error(io::Error::other(e), path.to_path_buf()))?;
        if taken {
            return Err(OpenWriteError::FileAlreadyExists(path.to_path_buf()));
        }
        self.hidden.write().remove(path);
        self.ram.open_write(path)
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        if self.in_ram(path) {
            return self.ram.atomic_read(path);
        }
        if self.hidden(path) {
            return Err(Self::not_found(path));
        }
        self.base.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        self.hidden.write().remove(path);
        self.ram.atomic_write(path, data)
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    /// In memory: the folder's own lock belongs to the process that owns
    /// the folder, and this writer never touches the folder.
    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.ram.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.ram.watch(watch_callback)
    }
}
