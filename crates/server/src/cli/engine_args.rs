//! Opening the engine on a data folder, shared by `import` and `search`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use moltsearch_engine::entry::Diary;
use moltsearch_engine::index::vector::{Quantization, VectorIndexBuilder};
use moltsearch_engine::{Engine, EngineBuilder};
use uuid::Uuid;

use super::model_args::ModelArgs;

/// Where the data lives and which model indexes it.
#[derive(clap::Args, Debug, Clone)]
pub struct EngineArgs {
    /// Data folder (`import` creates it; other commands need an existing one).
    #[arg(long, env = "MOLTSEARCH_DATA_DIR")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// How the vector index holds vectors for searching: `f32`, or `int8`
    /// codes (a quarter of the memory) with exact re-scoring of the best
    /// candidates. A search-time choice: the folder stores both.
    #[arg(long, value_enum, default_value_t = QuantizeArg::F32)]
    pub quantize: QuantizeArg,
}

/// `--quantize` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantizeArg {
    /// Full-precision vectors.
    F32,
    /// int8 scalar quantization with exact re-scoring.
    Int8,
}

impl From<QuantizeArg> for Quantization {
    fn from(q: QuantizeArg) -> Self {
        match q {
            QuantizeArg::F32 => Quantization::None,
            QuantizeArg::Int8 => Quantization::Int8,
        }
    }
}

impl EngineArgs {
    /// Opens the engine on the data folder.
    pub fn open(&self) -> anyhow::Result<Engine> {
        self.open_with(|b| b)
    }

    /// Opens the engine on the data folder after `configure` adjusts the
    /// builder.
    pub fn open_with(
        &self,
        configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
    ) -> anyhow::Result<Engine> {
        let model = self.model.name_for_folder(&self.data_dir)?;
        let builder = Engine::builder()
            .embedder(self.model.embedder_for(&model)?)
            .vector_index(VectorIndexBuilder::new().quantization(self.quantize.into()))
            .data_dir(&self.data_dir);
        configure(builder)
            .open()
            .with_context(|| format!("opening data folder {}", self.data_dir.display()))
    }
}

/// Which diary a command works on.
#[derive(clap::Args, Debug, Clone)]
pub struct DiaryArgs {
    /// Diary name, or its id (a UUID, as `moltsearch diaries` lists them).
    #[arg(long)]
    pub diary: String,
    /// Team owning the diary (default: the nil UUID, "local"); a diary
    /// given by id is found in any team.
    #[arg(long, default_value_t = Uuid::nil())]
    pub team: Uuid,
}

/// The diary `name_or_id` names: the diary with that id (in any team),
/// else the one diary called so in `team`. `Ok(None)` when there is none;
/// an error when several share the name, listing their ids, since picking
/// one would read or write the wrong diary silently.
pub fn find_diary(engine: &Engine, team: Uuid, name_or_id: &str) -> anyhow::Result<Option<Diary>> {
    if let Ok(id) = Uuid::parse_str(name_or_id.trim()) {
        if let Some(d) = engine.get_diary(id) {
            return Ok(Some(d));
        }
    }
    let mut named: Vec<Diary> = engine
        .list_diaries(Some(team))
        .into_iter()
        .filter(|d| d.name == name_or_id)
        .collect();
    match named.len() {
        0 | 1 => Ok(named.pop()),
        n => {
            let ids: Vec<String> = named.iter().map(|d| d.id.to_string()).collect();
            bail!(
                "{n} diaries are named {name_or_id:?} in team {team}; pass one of their ids \
                 with --diary: {}",
                ids.join(", ")
            )
        }
    }
}
