//! The store seam: where the server's writes go.
//!
//! Handlers read from the engine (it is the index in every mode) and write
//! through [`Writes`], which knows where the truth lives. On embedded
//! storage ([`EmbeddedWrites`]) the engine's data folder is the truth and a
//! write is the engine's own durable write. With Postgres as the source of
//! truth, an implementation writes the rows and their change records there
//! and then applies the changes to the engine (`Engine::apply_changes`);
//! the handlers stay the same.
//!
//! Every method is async, and the engine's blocking work runs on the
//! blocking pool, never on the executor's threads.

use std::sync::Arc;

use async_trait::async_trait;
use moltsearch_engine::{
    Diary, Engine, EntryPatch, EntryRecord, PutEntry, Relation, RelationKind, RelationStatus,
};
use uuid::Uuid;

use super::problem::ApiError;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The engine refused or failed it (validation errors included).
    #[error(transparent)]
    Engine(#[from] moltsearch_engine::Error),
    /// The blocking task running it died.
    #[error("the write task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The source of truth refused it: it conflicts with what it holds
    /// (a unique or a foreign key, a concurrent change).
    #[error("{0}")]
    Conflict(String),
    /// The source of truth refused a value the engine let through.
    #[error("{0}")]
    Invalid(String),
    /// The source of truth cannot be written now (unreachable, timed
    /// out): nothing was written, or it was committed and is not yet
    /// applied here (the message says which). Retry.
    #[error("{0}")]
    Unavailable(String),
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Engine(e) => e.into(),
            WriteError::Task(e) => e.into(),
            WriteError::Conflict(m) => ApiError::conflict(m),
            WriteError::Invalid(m) => ApiError::bad_request(m),
            WriteError::Unavailable(m) => ApiError::unavailable(m, 2),
        }
    }
}

/// What a write answers.
pub type WriteResult<T> = Result<T, WriteError>;

/// Where the truth lives (readiness names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// The engine's data folder (embedded storage).
    DataFolder,
    /// Postgres.
    Database,
}

/// Where writes go. Each method validates as the engine does and answers
/// only once the write is durable where the truth lives.
#[async_trait]
pub trait Writes: Send + Sync {
    /// Where the truth lives.
    fn store(&self) -> Store;
    /// Creates a diary.
    async fn create_diary(&self, diary: Diary) -> WriteResult<Diary>;
    /// Replaces a diary's name or visibility.
    async fn update_diary(&self, diary: Diary) -> WriteResult<Diary>;
    /// Deletes a diary and everything in it (refused while it holds signed
    /// entries).
    async fn delete_diary(&self, id: Uuid) -> WriteResult<()>;
    /// Stores a batch, all or nothing, in request order.
    async fn put_entries(&self, batch: Vec<PutEntry>) -> WriteResult<Vec<EntryRecord>>;
    /// Patches an entry.
    async fn update_entry(&self, id: Uuid, patch: EntryPatch) -> WriteResult<EntryRecord>;
    /// Deletes an unsigned entry.
    async fn delete_entry(&self, id: Uuid) -> WriteResult<()>;
    /// Links two entries; `status` other than proposed is set right after.
    async fn relate(
        &self,
        source: Uuid,
        target: Uuid,
        kind: RelationKind,
        status: RelationStatus,
    ) -> WriteResult<Relation>;
    /// Changes a relation's status.
    async fn set_relation_status(&self, id: Uuid, status: RelationStatus) -> WriteResult<Relation>;
    /// Deletes a relation.
    async fn delete_relation(&self, id: Uuid) -> WriteResult<()>;
    /// Makes pending bookkeeping durable (access counts) and compacts, for
    /// a clean shutdown.
    async fn flush(&self) -> WriteResult<()>;
    /// Checks that the truth can be written now (readiness); the error says
    /// what failed.
    async fn probe(&self) -> Result<(), String>;
}

/// Runs blocking engine work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, moltsearch_engine::Error> + Send + 'static,
) -> WriteResult<T> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Writes on embedded storage: the engine's data folder is the truth.
pub struct EmbeddedWrites {
    engine: Arc<Engine>,
    data_dir: std::path::PathBuf,
}

impl EmbeddedWrites {
    /// Writes go to `engine`'s own store, in `data_dir`.
    pub fn new(engine: Arc<Engine>, data_dir: std::path::PathBuf) -> Self {
        Self { engine, data_dir }
    }
}

#[async_trait]
impl Writes for EmbeddedWrites {
    fn store(&self) -> Store {
        Store::DataFolder
    }

    async fn create_diary(&self, diary: Diary) -> WriteResult<Diary> {
        let e = self.engine.clone();
        blocking(move || e.create_diary(diary)).await
    }

    async fn update_diary(&self, diary: Diary) -> WriteResult<Diary> {
        let e = self.engine.clone();
        blocking(move || e.update_diary(diary)).await
    }

    async fn delete_diary(&self, id: Uuid) -> WriteResult<()> {
        let e = self.engine.clone();
        blocking(move || e.delete_diary(id)).await
    }

    async fn put_entries(&self, batch: Vec<PutEntry>) -> WriteResult<Vec<EntryRecord>> {
        let e = self.engine.clone();
        blocking(move || e.put_entries(batch)).await
    }

    async fn update_entry(&self, id: Uuid, patch: EntryPatch) -> WriteResult<EntryRecord> {
        let e = self.engine.clone();
        blocking(move || e.update_entry(id, patch)).await
    }

    async fn delete_entry(&self, id: Uuid) -> WriteResult<()> {
        let e = self.engine.clone();
        blocking(move || e.delete_entry(id)).await
    }

    async fn relate(
        &self,
        source: Uuid,
        target: Uuid,
        kind: RelationKind,
        status: RelationStatus,
    ) -> WriteResult<Relation> {
        let e = self.engine.clone();
        blocking(move || {
            let r = e.relate(source, target, kind)?;
            if status == r.status {
                Ok(r)
            } else {
                e.set_relation_status(r.id, status)
            }
        })
        .await
    }

    async fn set_relation_status(&self, id: Uuid, status: RelationStatus) -> WriteResult<Relation> {
        let e = self.engine.clone();
        blocking(move || e.set_relation_status(id, status)).await
    }

    async fn delete_relation(&self, id: Uuid) -> WriteResult<()> {
        let e = self.engine.clone();
        blocking(move || e.delete_relation(id)).await
    }

    async fn flush(&self) -> WriteResult<()> {
        let e = self.engine.clone();
        blocking(move || {
            e.flush_accesses()?;
            e.checkpoint()
        })
        .await
    }

    async fn probe(&self) -> Result<(), String> {
        let dir = self.data_dir.clone();
        let probe = move || -> std::io::Result<()> {
            use std::io::Write as _;
            let path = dir.join(".ready-probe");
            let mut f = std::fs::File::create(&path)?;
            f.write_all(b"ok")?;
            f.sync_all()?;
            std::fs::remove_file(&path)
        };
        match tokio::task::spawn_blocking(probe).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("the data folder is not writable: {e}")),
            Err(e) => Err(e.to_string()),
        }
    }
}
