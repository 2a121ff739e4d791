//! Offline re-embedding of a whole data folder after a model change.
//!
//! The folder is read with the model it was written with, every entry is
//! re-embedded in batches with the new model, and a new folder is written
//! beside it (same entry records, doc ids, diaries and relations; new
//! vectors and model id), checkpointed, then swapped in. Until the swap the
//! original folder is untouched, so an interrupted run loses nothing: run it
//! again (the half-written `<dir>.reembed-tmp` is discarded).
//!
//! The swap is two renames: `<dir>` to `<dir>.pre-reembed`, then
//! `<dir>.reembed-tmp` (complete by then) to `<dir>`. A crash between them
//! leaves no `<dir>`; `finish_interrupted_swap` runs before every open of
//! a data folder and completes the swap, so the folder is never mistaken
//! for a missing one (and replaced by a new, empty database).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::embed::{Embedder, PassageText};
use crate::store::{stored_model, Record, Store, StoreError, StoreOptions, StoredEntry, META_FILE};
use crate::{Error, Result};

/// What a re-embedding run did.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReembedReport {
    /// Model the folder was written with.
    pub from_model: String,
    /// Model it holds now.
    pub to_model: String,
    /// Entries re-embedded.
    pub entries: usize,
    /// Diaries carried over.
    pub diaries: usize,
    /// Relations carried over.
    pub relations: usize,
    /// Seconds spent in the model.
    pub embed_seconds: f64,
    /// Seconds in all.
    pub total_seconds: f64,
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    dir.with_file_name(name)
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Makes renames in `dir`'s parent durable.
fn sync_parent(dir: &Path) -> Result<()> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|f| f.sync_all())
        .map_err(io("syncing", parent))
}

/// Completes a re-embed's folder swap that a crash interrupted, and removes
/// the retired folder of one that finished. Does nothing when no re-embed
/// left anything behind.
pub(crate) fn finish_interrupted_swap(dir: &Path) -> Result<()> {
    let retired = sibling(dir, ".pre-reembed");
    if !retired.exists() {
        return Ok(());
    }
    if !dir.exists() {
        let tmp = sibling(dir, ".reembed-tmp");
        // The first rename happens only after the new folder is complete
        // and closed; without it (never written by `reembed`), the retired
        // folder is the data.
        let (from, what) = if tmp.join(META_FILE).is_file() {
            (tmp, "re-embedded")
        } else {
            (retired.clone(), "original")
        };
        tracing::warn!(
            dir = %dir.display(),
            from = %from.display(),
            "finishing a re-embed interrupted during its folder swap: the {what} folder \
             becomes the data folder"
        );
        std::fs::rename(&from, dir).map_err(io("renaming", &from))?;
        sync_parent(dir)?;
        if from == retired {
            return Ok(());
        }
    }
    std::fs::remove_dir_all(&retired).map_err(io("removing", &retired))?;
    Ok(())
}

/// Re-embeds every entry of the data folder `dir` with `embedder`, `batch`
/// entries per model call; `progress(done, total)` is called after each batch.
pub fn reembed(
    dir: &Path,
    embedder: &Embedder,
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<ReembedReport> {
    let start = Instant::now();
    finish_interrupted_swap(dir)?;
    let (from_model, dims) = stored_model(dir)?.ok_or_else(|| StoreError::NoDataFolder {
        path: dir.to_path_buf(),
    })?;
    let (old, state) = Store::open_path(dir, StoreOptions::new(from_model.clone(), dims))?;
    let tmp = sibling(dir, ".reembed-tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("removing", &tmp))?;
    }
    let (new, _) = Store::open_path(
        &tmp,
        StoreOptions::new(embedder.model_id(), embedder.dims()),
    )?;
    new.append(
        state
            .diaries
            .iter()
            .cloned()
            .map(Record::PutDiary)
            .collect(),
    )?;
    let mut entries = state.entries;
    entries.sort_by_key(|e| e.doc);
    let total = entries.len();
    let mut embed_seconds = 0.0;
    let mut done = 0;
    for chunk in entries.chunks(batch.max(1)) {
        let passages: Vec<PassageText> = chunk
            .iter()
            .map(|e| PassageText {
                title: e.record.title.clone(),
                content: e.record.content.clone(),
                tags: e.record.tags.clone(),
            })
            .collect();
        let t = Instant::now();
        let vectors = embedder.embed_passages(&passages)?;
        embed_seconds += t.elapsed().as_secs_f64();
        let stored = chunk
            .iter()
            .zip(vectors.rows())
            .map(|(e, v)| StoredEntry {
                record: Arc::clone(&e.record),
                doc: e.doc,
                vector: v.to_vec(),
            })
            .collect();
        new.append(vec![Record::PutEntries(stored)])?;
        done += chunk.len();
        progress(done, total);
    }
    let relations = state.relations.len();
    if relations > 0 {
        new.append(
            state
                .relations
                .into_iter()
                .map(Record::PutRelation)
                .collect(),
        )?;
    }
    new.checkpoint()?;
    new.close()?;
    old.close()?;
    let retired = sibling(dir, ".pre-reembed");
    if retired.exists() {
        std::fs::remove_dir_all(&retired).map_err(io("removing", &retired))?;
    }
    std::fs::rename(dir, &retired).map_err(io("renaming", dir))?;
    sync_parent(dir)?;
    std::fs::rename(&tmp, dir).map_err(io("renaming", &tmp))?;
    sync_parent(dir)?;
    std::fs::remove_dir_all(&retired).map_err(io("removing", &retired))?;
    Ok(ReembedReport {
        from_model,
        to_model: embedder.model_id().to_string(),
        entries: total,
        diaries: state.diaries.len(),
        relations,
        embed_seconds,
        total_seconds: start.elapsed().as_secs_f64(),
    })
}
