//! Locating and loading ONNX Runtime and the bootstrap cache.
//!
//! ONNX Runtime is loaded dynamically (`ort`'s `load-dynamic`) from the
//! `libonnxruntime.so` shipped in the PyPI `onnxruntime` wheel, which
//! `scripts/bootstrap.sh` copies into `<cache>/ort/`. The library is loaded
//! once per process; a failed load can be retried with another path.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::{Error, Result};

/// File name of the ONNX Runtime build the project pins (`onnxruntime==1.31.1`).
pub const RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";

/// Environment variable naming the bootstrap cache folder.
pub const CACHE_ENV: &str = "MOLTSEARCH_CACHE";

/// Environment variable (shared with `ort`) naming the ONNX Runtime library.
pub const RUNTIME_ENV: &str = "ORT_DYLIB_PATH";

/// The bootstrap cache folder: `$MOLTSEARCH_CACHE`, else the first `.cache`
/// folder found walking up from the working directory, then from the running
/// executable (so tests, benches and installed binaries all find the cache of
/// the checkout they were built from). Falls back to `./.cache`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV) {
        return PathBuf::from(dir);
    }
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf)),
    ];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let candidate = dir.join(".cache");
            if candidate.join("ort").is_dir() || candidate.join("models").is_dir() {
                return candidate;
            }
        }
    }
    PathBuf::from(".cache")
}

/// Where the ONNX Runtime library is expected: `$ORT_DYLIB_PATH`, else
/// `<cache>/ort/libonnxruntime.so.1.31.1`.
pub fn default_runtime_path() -> PathBuf {
    match std::env::var_os(RUNTIME_ENV) {
        Some(p) => PathBuf::from(p),
        None => cache_dir().join("ort").join(RUNTIME_FILE),
    }
}

static ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub(crate) fn environment(path: &Path) -> Result<ort::environment::Environment> {
    let mut slot = ENVIRONMENT.lock();
    if let Some(env) = slot.as_ref() {
        return Ok(env.clone());
    }
    if !path.is_file() {
        return Err(Error::RuntimeMissing {
            path: path.to_path_buf(),
        });
    }
    let load_err = |message: String| Error::RuntimeLoad {
        path: path.to_path_buf(),
        message,
    };
    let env = ort::init_from(path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("moltsearch")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    *slot = Some(env.clone());
    Ok(env)
}
