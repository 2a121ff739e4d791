//! The data folder an import writes to: an existing data folder, or a new
//! (missing or empty) one that `import` may remove again if it fails
//! before storing anything. Any other folder is refused, so a mistyped
//! `--data-dir` never turns someone's folder into a database.

use std::path::{Path, PathBuf};

use anyhow::bail;
use moltsearch_engine::store::META_FILE;

/// What the folder was before the import touched it.
#[derive(Debug)]
pub struct Target {
    path: PathBuf,
    before: Before,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    /// A data folder already: never removed.
    DataFolder,
    /// Absent: the import creates it.
    Missing,
    /// An empty folder: the import fills it.
    Empty,
}

impl Target {
    /// Checks `path`: a data folder (it has `meta.json`), a missing path
    /// or an empty folder are fine; a file or a non-empty folder without
    /// `meta.json` is refused, naming the path.
    pub fn check(path: &Path) -> anyhow::Result<Target> {
        let before = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Before::Missing,
            Err(e) => bail!("cannot use {} as a data folder: {e}", path.display()),
            Ok(m) if !m.is_dir() => {
                bail!("{} is a file, not a moltsearch data folder", path.display())
            }
            Ok(_) if path.join(META_FILE).is_file() => Before::DataFolder,
            Ok(_) => match std::fs::read_dir(path).map(|mut c| c.next().is_none()) {
                Err(e) => bail!("cannot read {}: {e}", path.display()),
                Ok(true) => Before::Empty,
                Ok(false) => bail!(
                    "{} is not empty and is not a moltsearch data folder (it has no {META_FILE}); \
                     import into a new or empty folder, or into an existing data folder",
                    path.display()
                ),
            },
        };
        Ok(Target {
            path: path.to_path_buf(),
            before,
        })
    }

    /// Undoes what the import did to the folder, if it made it: removes a
    /// folder it created, empties one that was empty. Call only once the
    /// engine is closed and nothing was stored. Returns a note for the
    /// user when the removal fails (the import's own error matters more).
    pub fn undo(&self) -> Option<String> {
        let removed = match self.before {
            Before::DataFolder => return None,
            Before::Missing => std::fs::remove_dir_all(&self.path),
            Before::Empty => std::fs::read_dir(&self.path).and_then(|children| {
                children.into_iter().try_for_each(|child| {
                    let child = child?;
                    if child.file_type()?.is_dir() {
                        std::fs::remove_dir_all(child.path())
                    } else {
                        std::fs::remove_file(child.path())
                    }
                })
            }),
        };
        match removed {
            Ok(()) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!(
                "could not remove what the import created in {}: {e}",
                self.path.display()
            )),
        }
    }
}
