//! `import --database-url`: the import's steps through the database's
//! write path ([`PgWrites`]): passages embedded here, each batch's rows and
//! change record committed in one transaction, then applied to this
//! command's own index cache (and, through the change feed, to every
//! server's).

use std::time::Duration;

use moltsearch_engine::index::vector::VectorIndexBuilder;
use moltsearch_engine::{Diary, Engine, PutEntry};
use uuid::Uuid;

use super::{ImportArgs, Sink};
use crate::http::writes::{WriteError, Writes};
use crate::pg::mirror;
use crate::pg::writes::PgWrites;

/// A database to import into, with the runtime its calls run on.
pub struct Database {
    rt: tokio::runtime::Runtime,
    engine: std::sync::Arc<Engine>,
    writes: PgWrites,
}

impl Database {
    /// Connects, migrates and opens the index cache in `--data-dir`,
    /// caught up.
    pub fn open(args: &ImportArgs, url: &str) -> anyhow::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (engine, writes) = rt.block_on(async {
            let pool = crate::pg::connect(url, 4).await?;
            let m = mirror::open(
                &pool,
                &args.engine.data_dir,
                VectorIndexBuilder::new().quantization(args.engine.quantize.into()),
                |held| {
                    let model = args.engine.model.name_for_database(held);
                    args.engine.model.embedder_for(&model)
                },
            )
            .await?;
            tokio::spawn(
                m.feed
                    .clone()
                    .run(Duration::from_millis(500), std::future::pending()),
            );
            let writes = PgWrites::new(pool, m.engine.clone(), m.feed);
            anyhow::Ok((m.engine, writes))
        })?;
        Ok(Self { rt, engine, writes })
    }
}

/// An engine error as itself (so the import can name the line), others
/// with their message.
fn unwrap(e: WriteError) -> anyhow::Error {
    match e {
        WriteError::Engine(e) => anyhow::Error::new(e),
        other => anyhow::Error::new(other),
    }
}

impl Sink for Database {
    fn engine(&self) -> &Engine {
        &self.engine
    }

    fn create_diary(&self, diary: Diary) -> anyhow::Result<Diary> {
        self.rt
            .block_on(self.writes.create_diary(diary))
            .map_err(unwrap)
    }

    fn put_entries(&self, batch: Vec<PutEntry>) -> anyhow::Result<()> {
        self.rt
            .block_on(self.writes.put_entries(batch))
            .map(|_| ())
            .map_err(unwrap)
    }

    fn delete_diary(&self, id: Uuid) -> anyhow::Result<()> {
        self.rt
            .block_on(self.writes.delete_diary(id))
            .map_err(unwrap)
    }

    fn bulk(&self) -> Option<moltsearch_engine::BulkLoad<'_>> {
        // The feed applies each batch to this cache: graph builds wait for
        // the end here too, so the model gets the cores meanwhile.
        Some(self.engine.bulk_load())
    }
}
