//! Vectors by doc id, as the store keeps them.
//!
//! Rows written by snapshots stay in their memory-mapped vector files
//! ("runs": page cache, not heap), and only vectors added since live on the
//! heap, one `Arc<[f32]>` each, keyed by doc id. A doc id's vector never
//! changes meaning (a re-embedded entry gets a new doc id), which is what
//! lets rows be looked up by doc id alone, in whichever run holds them.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use crate::index::DocId;
use crate::store::run::Run;

/// Vectors by doc id: mapped runs plus a heap overlay.
#[derive(Clone, Debug, Default)]
pub(crate) struct Vectors {
    /// The vector files the last snapshot lists, oldest first. Runs may
    /// hold rows of deleted entries; a full rewrite drops them.
    pub runs: Vec<Arc<Run>>,
    pub overlay: HashMap<DocId, Arc<[f32]>>,
}

impl Vectors {
    /// The run and row holding `doc`, newest run first.
    fn find(&self, doc: DocId) -> Option<(&Run, usize)> {
        self.runs
            .iter()
            .rev()
            .find_map(|run| run.file.find(doc).map(|row| (&**run, row)))
    }

    /// The vector of `doc`, copied out.
    pub fn get(&self, doc: DocId) -> Option<Vec<f32>> {
        if let Some(v) = self.overlay.get(&doc) {
            return Some(v.to_vec());
        }
        self.find(doc).map(|(run, row)| run.file.row(row))
    }

    /// Whether `doc` currently has exactly `vector` (bitwise).
    pub fn holds(&self, doc: DocId, vector: &[f32]) -> bool {
        if let Some(v) = self.overlay.get(&doc) {
            return same_bits(v, vector);
        }
        self.find(doc)
            .is_some_and(|(run, row)| run.file.row_eq(row, vector))
    }

    /// Whether `doc`'s vector is in the heap overlay (not in a run yet).
    pub fn in_overlay(&self, doc: DocId) -> bool {
        self.overlay.contains_key(&doc)
    }

    /// Rows in all runs, live or not.
    pub fn run_rows(&self) -> usize {
        self.runs.iter().map(|r| r.file.len()).sum()
    }

    /// Writes `doc`'s vector as little-endian f32s.
    pub fn write_row(&self, doc: DocId, out: &mut impl Write) -> io::Result<()> {
        if let Some(v) = self.overlay.get(&doc) {
            for x in v.iter() {
                out.write_all(&x.to_le_bytes())?;
            }
            return Ok(());
        }
        match self.find(doc) {
            Some((run, row)) => out.write_all(run.file.row_bytes(row)),
            None => Err(io::Error::other(format!("doc {doc} has no vector"))),
        }
    }

    /// Switches to the runs a snapshot just listed. `written` is the
    /// overlay the snapshot was written from: its rows are now in a run, so
    /// the same `Arc`s are dropped from the live overlay (rows replaced
    /// since then differ by pointer and stay).
    pub fn rebase(&mut self, runs: Vec<Arc<Run>>, written: &HashMap<DocId, Arc<[f32]>>) {
        self.runs = runs;
        let runs = &self.runs;
        self.overlay.retain(|doc, v| {
            !(written.get(doc).is_some_and(|w| Arc::ptr_eq(w, v))
                && runs.iter().any(|r| r.file.find(*doc).is_some()))
        });
    }
}

/// Whether two vectors are bitwise equal (`-0.0` differs from `0.0`, a NaN
/// equals the same NaN): a vector is stored exactly as it was given.
pub(crate) fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}
