//! A narrow view of a folder of named files, in the spirit of tantivy's
//! `Directory`: just the operations the store needs (append, read whole,
//! atomic rename, delete, truncate, fsync of files and of the folder).
//!
//! Keeping the surface this small is what lets the same store code run on
//! [`FsDirectory`] (a real data folder) and on [`RamDirectory`] (memory,
//! for tests), and lets tests wrap a directory to inject failures or count
//! fsyncs. [`RamDirectory`] also models what a power loss keeps (only
//! fsynced bytes and folder entries made durable by [`Directory::sync_dir`]),
//! so durability rules can be tested without pulling a plug.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::Mutex;

use super::StoreError;

/// Name of the lock file [`FsDirectory`] holds an exclusive lock on.
pub const LOCK_FILE: &str = "LOCK";

/// A folder of named files. Names are plain file names (no separators).
///
/// Every method that can fail names the file in its error, so a failure is
/// actionable without a debugger.
pub trait Directory: Send + Sync + fmt::Debug {
    /// Where `name` lives, for error messages and logs.
    fn path_of(&self, name: &str) -> PathBuf;

    /// Names of the files in the folder, in no particular order.
    fn list(&self) -> Result<Vec<String>, StoreError>;

    /// Whether `name` exists.
    fn exists(&self, name: &str) -> Result<bool, StoreError>;

    /// The whole content of `name`: memory-mapped for [`FsDirectory`], so
    /// large snapshot and vector files cost page cache, not heap.
    fn read(&self, name: &str) -> Result<FileBytes, StoreError>;

    /// Opens `name` for appending, creating it empty if missing.
    fn open_append(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError>;

    /// Creates `name` empty (truncating any previous content) for writing.
    fn create(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError>;

    /// Atomically renames `from` to `to`, replacing `to` if it exists.
    /// Durable only after [`Directory::sync_dir`].
    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError>;

    /// Deletes `name`; deleting a missing file is not an error.
    fn delete(&self, name: &str) -> Result<(), StoreError>;

    /// Cuts `name` to `len` bytes and makes the new length durable (used to
    /// drop a torn last log record).
    fn truncate(&self, name: &str, len: u64) -> Result<(), StoreError>;

    /// Makes creations, renames and deletions in the folder durable (fsync
    /// of the directory on Unix).
    fn sync_dir(&self) -> Result<(), StoreError>;
}

/// An open file of a [`Directory`], written by appending.
///
/// Methods take `&self` so that one thread can fsync a log segment while
/// another appends to it (group commit); implementations serialise
/// internally where needed.
pub trait DirFile: Send + Sync + fmt::Debug {
    /// Appends all of `buf` at the end of the file (handed to the OS: it
    /// survives a process crash, not a power loss, until [`DirFile::sync`]).
    fn append(&self, buf: &[u8]) -> io::Result<()>;

    /// Makes every appended byte durable (fdatasync).
    fn sync(&self) -> io::Result<()>;

    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        self.len().map(|n| n == 0)
    }

    /// Cuts or extends the file to `len` bytes (used to undo a partial
    /// append after a write error).
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// The bytes of a file read whole: a memory map or an owned buffer.
pub struct FileBytes(Bytes);

enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl FileBytes {
    /// Wraps an owned buffer (used by [`RamDirectory`] and for empty files,
    /// which cannot be mapped portably).
    pub fn owned(bytes: Vec<u8>) -> Self {
        Self(Bytes::Owned(bytes))
    }

    /// Whether the bytes are a memory map (as opposed to a heap copy).
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Bytes::Mapped(_))
    }
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBytes")
            .field("len", &self.len())
            .field("mapped", &self.is_mapped())
            .finish()
    }
}

/// Wraps an I/O error with the operation and file it concerns.
pub(crate) fn io_err(op: &'static str, path: PathBuf) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io { op, path, source }
}

// ---------------------------------------------------------------------------
// File system
// ---------------------------------------------------------------------------

/// A data folder on disk, held exclusively by this process.
///
/// Opening takes an exclusive advisory lock on `<folder>/LOCK` (flock on
/// Unix), so a second process (or a second open in this process) gets
/// [`StoreError::Locked`] instead of two writers interleaving log records.
/// The lock is released when the value is dropped, or by the OS when the
/// process dies, so a crash never leaves a stale lock behind.
pub struct FsDirectory {
    root: PathBuf,
    /// Held only for its lock; never read or written. `None` when opened
    /// read-only ([`FsDirectory::open_read_only`]).
    _lock: Option<File>,
}

impl fmt::Debug for FsDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FsDirectory")
            .field("root", &self.root)
            .finish()
    }
}

impl FsDirectory {
    /// Opens (creating if needed) the folder `root` and locks it.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(io_err("create folder", root.clone()))?;
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err("open lock file", lock_path.clone()))?;
        let locked =
            fs4::fs_std::FileExt::try_lock_exclusive(&lock).map_err(io_err("lock", lock_path))?;
        if !locked {
            return Err(StoreError::Locked { path: root });
        }
        Ok(Self {
            root,
            _lock: Some(lock),
        })
    }

    /// Opens the existing folder `root` without locking it, for a reader
    /// that writes nothing there while another process may own it (see
    /// [`StoreOptions::read_only`](super::StoreOptions::read_only)). Log
    /// segments are then read by copying, not mapped: their owner may be
    /// appending to them.
    pub fn open_read_only(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(StoreError::NoDataFolder { path: root });
        }
        Ok(Self { root, _lock: None })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Directory for FsDirectory {
    fn path_of(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        let read = fs::read_dir(&self.root).map_err(io_err("list", self.root.clone()))?;
        let mut out = Vec::new();
        for item in read {
            let item = item.map_err(io_err("list", self.root.clone()))?;
            let is_file = item
                .file_type()
                .map_err(io_err("stat", item.path()))?
                .is_file();
            if let (true, Ok(name)) = (is_file, item.file_name().into_string()) {
                out.push(name);
            }
        }
        Ok(out)
    }

    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        let path = self.path_of(name);
        path.try_exists().map_err(io_err("stat", path))
    }

    fn read(&self, name: &str) -> Result<FileBytes, StoreError> {
        let path = self.path_of(name);
        if self._lock.is_none() && name.ends_with(".log") {
            let bytes = fs::read(&path).map_err(io_err("read", path))?;
            return Ok(FileBytes::owned(bytes));
        }
        let file = File::open(&path).map_err(io_err("open", path.clone()))?;
        let len = file.metadata().map_err(io_err("stat", path.clone()))?.len();
        if len == 0 {
            return Ok(FileBytes::owned(Vec::new()));
        }
        // SAFETY: a map is undefined behaviour if the file changes under it.
        // The store holds the folder's exclusive lock, and never modifies a
        // mapped file: snapshot and vector files are immutable once renamed
        // into place, and a log segment is mapped only during recovery, the
        // map being dropped before the segment is truncated or appended to.
        // A read-only opener maps only those immutable files (logs are
        // copied above). A process that ignores the lock is outside what the
        // store supports.
        let map = unsafe { Mmap::map(&file) }.map_err(io_err("map", path))?;
        Ok(FileBytes(Bytes::Mapped(map)))
    }

    fn open_append(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        let path = self.path_of(name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err("open for append", path))?;
        Ok(Arc::new(FsFile(file)))
    }

    fn create(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        let path = self.path_of(name);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err("create", path))?;
        Ok(Arc::new(FsFile(file)))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let from = self.path_of(from);
        fs::rename(&from, self.path_of(to)).map_err(io_err("rename", from))
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path_of(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("delete", path)(e)),
            _ => Ok(()),
        }
    }

    fn truncate(&self, name: &str, len: u64) -> Result<(), StoreError> {
        let path = self.path_of(name);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io_err("open for truncation", path.clone()))?;
        file.set_len(len)
            .map_err(io_err("truncate", path.clone()))?;
        file.sync_all().map_err(io_err("sync", path))
    }

    fn sync_dir(&self) -> Result<(), StoreError> {
        #[cfg(unix)]
        {
            let dir = File::open(&self.root).map_err(io_err("open folder", self.root.clone()))?;
            dir.sync_all()
                .map_err(io_err("sync folder", self.root.clone()))?;
        }
        Ok(())
    }
}

/// A file of an [`FsDirectory`].
#[derive(Debug)]
struct FsFile(File);

impl DirFile for FsFile {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        (&self.0).write_all(buf)
    }

    fn sync(&self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        self.0.metadata().map(|m| m.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// An in-memory directory for tests. Clones share the same files, so a
/// test can drop a store and reopen another on a clone.
///
/// It keeps two views: the files as the running process sees them, and
/// what would survive a power loss (bytes up to the last [`DirFile::sync`]
/// of each file, and the folder entries as of the last
/// [`Directory::sync_dir`]). [`RamDirectory::simulate_power_loss`] reverts
/// to the second view. It takes no lock: sharing is explicit via `clone`.
#[derive(Clone, Default)]
pub struct RamDirectory {
    inner: Arc<Mutex<RamFolder>>,
}

#[derive(Default)]
struct RamFolder {
    /// The folder as the process sees it.
    files: HashMap<String, Arc<RamFile>>,
    /// The folder entries a power loss would leave.
    durable: HashMap<String, Arc<RamFile>>,
}

#[derive(Default)]
struct RamFile {
    data: Mutex<RamData>,
}

#[derive(Default)]
struct RamData {
    bytes: Vec<u8>,
    /// Length of the prefix made durable by the last sync.
    synced: usize,
}

impl fmt::Debug for RamFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data.lock();
        f.debug_struct("RamFile")
            .field("len", &d.bytes.len())
            .field("synced", &d.synced)
            .finish()
    }
}

impl fmt::Debug for RamDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let folder = self.inner.lock();
        let mut names: Vec<&String> = folder.files.keys().collect();
        names.sort();
        f.debug_struct("RamDirectory")
            .field("files", &names)
            .finish()
    }
}

impl RamDirectory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of `name`'s bytes, if it exists (for tests that inspect or
    /// damage files).
    pub fn file_bytes(&self, name: &str) -> Option<Vec<u8>> {
        let folder = self.inner.lock();
        folder.files.get(name).map(|f| f.data.lock().bytes.clone())
    }

    /// Replaces `name`'s bytes (creating it), durably, to simulate damage
    /// or leftovers of an interrupted run.
    pub fn write_file(&self, name: &str, bytes: Vec<u8>) {
        let mut folder = self.inner.lock();
        let synced = bytes.len();
        let file = Arc::new(RamFile {
            data: Mutex::new(RamData { bytes, synced }),
        });
        folder.files.insert(name.to_owned(), file.clone());
        folder.durable.insert(name.to_owned(), file);
    }

    /// Reverts to what a power loss would leave: folder entries as of the
    /// last `sync_dir`, each file cut to its last synced length. Call it
    /// after dropping every store that uses the directory.
    pub fn simulate_power_loss(&self) {
        let mut folder = self.inner.lock();
        folder.files = folder.durable.clone();
        for file in folder.files.values() {
            let mut d = file.data.lock();
            let synced = d.synced;
            d.bytes.truncate(synced);
        }
    }

    fn get(&self, name: &str) -> Result<Arc<RamFile>, StoreError> {
        self.inner
            .lock()
            .files
            .get(name)
            .cloned()
            .ok_or_else(|| StoreError::Io {
                op: "open",
                path: self.path_of(name),
                source: io::ErrorKind::NotFound.into(),
            })
    }
}

impl Directory for RamDirectory {
    fn path_of(&self, name: &str) -> PathBuf {
        PathBuf::from(format!("ram://{name}"))
    }

    fn list(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.inner.lock().files.keys().cloned().collect())
    }

    fn exists(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.inner.lock().files.contains_key(name))
    }

    fn read(&self, name: &str) -> Result<FileBytes, StoreError> {
        let file = self.get(name)?;
        let bytes = file.data.lock().bytes.clone();
        Ok(FileBytes::owned(bytes))
    }

    fn open_append(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        let mut folder = self.inner.lock();
        let file = folder.files.entry(name.to_owned()).or_default().clone();
        Ok(Arc::new(RamHandle(file)))
    }

    fn create(&self, name: &str) -> Result<Arc<dyn DirFile>, StoreError> {
        let mut folder = self.inner.lock();
        let file = folder.files.entry(name.to_owned()).or_default().clone();
        {
            let mut d = file.data.lock();
            d.bytes.clear();
            d.synced = 0;
        }
        Ok(Arc::new(RamHandle(file)))
    }

    fn rename(&self, from: &str, to: &str) -> Result<(), StoreError> {
        let mut folder = self.inner.lock();
        let file = folder.files.remove(from).ok_or_else(|| StoreError::Io {
            op: "rename",
            path: self.path_of(from),
            source: io::ErrorKind::NotFound.into(),
        })?;
        folder.files.insert(to.to_owned(), file);
        Ok(())
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.inner.lock().files.remove(name);
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> Result<(), StoreError> {
        let file = self.get(name)?;
        let mut d = file.data.lock();
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        d.bytes.truncate(len);
        d.synced = d.bytes.len();
        Ok(())
    }

    fn sync_dir(&self) -> Result<(), StoreError> {
        let mut folder = self.inner.lock();
        folder.durable = folder.files.clone();
        Ok(())
    }
}

/// An open [`RamDirectory`] file.
#[derive(Debug)]
struct RamHandle(Arc<RamFile>);

impl DirFile for RamHandle {
    fn append(&self, buf: &[u8]) -> io::Result<()> {
        self.0.data.lock().bytes.extend_from_slice(buf);
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let mut d = self.0.data.lock();
        d.synced = d.bytes.len();
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.data.lock().bytes.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::other("length too large"))?;
        let mut d = self.0.data.lock();
        d.bytes.resize(len, 0);
        d.synced = d.synced.min(len);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_power_loss_keeps_only_synced_state() {
        let dir = RamDirectory::new();
        let a = dir.open_append("a").expect("open a");
        a.append(b"hello").expect("append");
        a.sync().expect("sync");
        a.append(b" world").expect("append");
        let b = dir.create("b.tmp").expect("create b");
        b.append(b"x").expect("append");
        b.sync().expect("sync");
        dir.sync_dir().expect("sync dir");
        dir.rename("b.tmp", "b").expect("rename");
        dir.simulate_power_loss();
        assert_eq!(dir.file_bytes("a").as_deref(), Some(&b"hello"[..]));
        // The rename was never made durable.
        assert!(dir.file_bytes("b").is_none());
        assert_eq!(dir.file_bytes("b.tmp").as_deref(), Some(&b"x"[..]));
    }

    #[test]
    fn fs_directory_basics_and_lock() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = FsDirectory::open(tmp.path()).expect("open");
        match FsDirectory::open(tmp.path()) {
            Err(StoreError::Locked { path }) => assert_eq!(path, tmp.path()),
            other => panic!("expected Locked, got {other:?}"),
        }
        let f = dir.create("x.tmp").expect("create");
        f.append(b"abc").expect("append");
        f.sync().expect("sync");
        dir.rename("x.tmp", "x").expect("rename");
        dir.sync_dir().expect("sync dir");
        let bytes = dir.read("x").expect("read");
        assert!(bytes.is_mapped());
        assert_eq!(&*bytes, b"abc");
        dir.truncate("x", 1).expect("truncate");
        assert_eq!(&*dir.read("x").expect("read"), b"a");
        let mut names = dir.list().expect("list");
        names.sort();
        assert_eq!(names, vec![LOCK_FILE.to_string(), "x".to_string()]);
        dir.delete("x").expect("delete");
        dir.delete("x").expect("delete twice");
        assert!(!dir.exists("x").expect("exists"));
        drop(dir);
        FsDirectory::open(tmp.path()).expect("lock released on drop");
    }
}
