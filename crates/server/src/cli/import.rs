//! `moltsearch import`: load a file of entries into a diary, all or
//! nothing, and repeatably.
//!
//! 1. **Validate everything first.** Every line is parsed and checked by
//!    the engine's own entry validation ([`lines`]) before the data folder
//!    is even opened. A refused line is reported as `file:line: field:
//!    why`; unless `--partial` is given, one refused line means nothing of
//!    the file is stored (and no folder or diary is created).
//! 2. **One id per line.** Each line's entry id is its idempotency key
//!    ([`key`]): the line's `id` field (BEIR: `_id`) when it has one, else
//!    a UUID derived from the diary, the line's canonical fields and how
//!    many identical lines precede it. "The same import" is the same lines
//!    into the same diary: their ids are the same, whatever the line
//!    numbers, order or file name.
//! 3. **Store what is missing.** Ids already in the diary are skipped; the
//!    rest is stored in batches, each batch atomic in the log. An import
//!    killed or failing mid-way has stored whole batches only, and running
//!    it again stores exactly the lines still missing ("stored N, already
//!    present M").
//!
//! The folder must be an existing data folder, or missing or empty; when
//! `import` made it and then fails before storing anything, it removes
//! what it made ([`folder`]). With `--database-url` the same steps write
//! through the database's write path instead ([`database`]).

mod database;
mod folder;
mod key;
mod lines;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use moltsearch_engine::engine::{ListRequest, PutEntry};
use moltsearch_engine::entry::Visibility;
use moltsearch_engine::search::request::Scope;
use moltsearch_engine::{Diary, Engine, Error};
use uuid::Uuid;

use self::folder::Target;
use self::lines::{Line, LineError};
use super::common::progress;
use super::engine_args::{find_diary, DiaryArgs, EngineArgs};

/// Import a file into a diary of a data folder.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The diary (created by `import` when missing).
    #[command(flatten)]
    pub target: DiaryArgs,
    /// Input format.
    #[arg(long, value_enum, default_value = "entries")]
    pub format: Format,
    /// Entries per write batch (one embedding batch and one durable log write).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Store the valid lines even if some are refused (those are listed as
    /// `file:line: field: why`, and the exit code is 1). Without it, one
    /// refused line means nothing of the file is stored.
    #[arg(long)]
    pub partial: bool,
    /// Import into the database of servers run with --database-url,
    /// through the same write path (embedded here, rows and change records
    /// committed per batch, every server's feed applies them). The data
    /// folder is then this command's own index cache of the database (not
    /// a running server's: that one is locked).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// The file: JSON lines.
    pub file: PathBuf,
}

/// Input formats.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Format {
    /// BEIR corpus lines `{"_id", "title", "text", "metadata"}`: title →
    /// title, text → content, `_id` → the entry's idempotency key
    /// (`metadata` is not stored).
    Beir,
    /// Entry lines: `{"title", "content", "tags", "entryType", "importance",
    /// "createdAt", "id", ...}` (MoltNet's fields, camelCase); other fields
    /// are refused.
    Entries,
}

/// Refused lines printed before the summary; the rest are counted.
const MAX_LISTED: usize = 50;

/// Runs the subcommand.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let file = args.file.display().to_string();
    let parsed = lines::read(&args.file, args.format)?;
    let mut errors = parsed.errors;
    if !errors.is_empty() && !args.partial {
        list(&errors);
        bail!(
            "{file}: {} of {} lines refused, nothing was imported; fix them and run again, \
             or pass --partial to store the valid lines",
            errors.len(),
            errors.len() + parsed.lines.len()
        );
    }
    if parsed.lines.is_empty() {
        list(&errors);
        return finish(&file, &errors, "no valid line to store");
    }
    if let Some(url) = &args.database_url {
        let sink = database::Database::open(&args, url)?;
        let stored = match store(&sink, &args, parsed.lines, &mut errors) {
            Ok(s) => s,
            Err(failure) => {
                list(&errors);
                return Err(failure.error);
            }
        };
        list(&errors);
        report(&file, &stored, diary_len(sink.engine(), stored.diary)?);
        return finish(&file, &errors, "the other lines are stored");
    }
    let target = Target::check(&args.engine.data_dir)?;
    let engine = args.engine.open()?;
    let sink = Local(&engine);
    let stored = match store(&sink, &args, parsed.lines, &mut errors) {
        Ok(s) => s,
        Err(failure) => {
            if failure.stored == 0 {
                drop(engine);
                if let Some(note) = target.undo() {
                    eprintln!("warning: {note}");
                }
            }
            list(&errors);
            return Err(failure.error);
        }
    };
    list(&errors);
    report(&file, &stored, diary_len(&engine, stored.diary)?);
    finish(&file, &errors, "the other lines are stored")
}

fn report(file: &str, stored: &Stored, diary_len: usize) {
    println!(
        "imported {file}: stored {}, already present {} ({} lines) into diary {:?} ({}) in {:.1} s; \
         diary now has {diary_len} entries",
        stored.stored,
        stored.present,
        stored.stored + stored.present,
        stored.diary_name,
        stored.diary,
        stored.secs,
    );
}

/// Where an import writes: the engine's own folder, or a database.
pub(crate) trait Sink {
    /// The engine to read from (what is stored, diaries by name).
    fn engine(&self) -> &Engine;
    /// Creates a diary.
    fn create_diary(&self, diary: Diary) -> anyhow::Result<Diary>;
    /// Stores a batch, all or nothing (an engine error is returned as
    /// itself, so `InBatch` names the line).
    fn put_entries(&self, batch: Vec<PutEntry>) -> anyhow::Result<()>;
    /// Deletes a diary this run created (when it stored nothing).
    fn delete_diary(&self, id: Uuid) -> anyhow::Result<()>;
    /// Holds graph builds until the import ends (local folders only).
    fn bulk(&self) -> Option<moltsearch_engine::BulkLoad<'_>> {
        None
    }
}

/// Importing into the engine's own data folder.
struct Local<'a>(&'a Engine);

impl Sink for Local<'_> {
    fn engine(&self) -> &Engine {
        self.0
    }
    fn create_diary(&self, diary: Diary) -> anyhow::Result<Diary> {
        Ok(self.0.create_diary(diary)?)
    }
    fn put_entries(&self, batch: Vec<PutEntry>) -> anyhow::Result<()> {
        self.0.put_entries(batch)?;
        Ok(())
    }
    fn delete_diary(&self, id: Uuid) -> anyhow::Result<()> {
        Ok(self.0.delete_diary(id)?)
    }
    fn bulk(&self) -> Option<moltsearch_engine::BulkLoad<'_>> {
        Some(self.0.bulk_load())
    }
}

/// What [`store`] did.
struct Stored {
    diary: Uuid,
    diary_name: String,
    stored: usize,
    present: usize,
    secs: f64,
}

/// A failed [`store`], with how many entries it stored before failing.
struct Failure {
    error: anyhow::Error,
    stored: usize,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure {
            error: e.into(),
            stored: 0,
        }
    }
}

/// Finds the diary (creating it when missing), skips lines already
/// stored, stores the rest. A diary this run created is deleted again when
/// the run fails before storing anything: a failed import leaves nothing.
fn store(
    sink: &dyn Sink,
    args: &ImportArgs,
    lines: Vec<Line>,
    errors: &mut Vec<LineError>,
) -> Result<Stored, Failure> {
    let (diary, created) = match find_diary(sink.engine(), args.target.team, &args.target.diary)? {
        Some(d) => (d, false),
        None if Uuid::parse_str(args.target.diary.trim()).is_ok() => {
            // A diary asked for by id is never invented under that id's name.
            return Err(anyhow!("no diary with id {}", args.target.diary).into());
        }
        None => {
            let d = Diary::new(
                args.target.team,
                args.target.diary.clone(),
                Visibility::Private,
            )?;
            (sink.create_diary(d)?, true)
        }
    };
    let id = diary.id;
    let result = store_into(sink, args, diary, lines, errors);
    if let Err(failure) = &result {
        if created && failure.stored == 0 {
            if let Err(e) = sink.delete_diary(id) {
                eprintln!("warning: could not remove the diary this import created ({id}): {e}");
            }
        }
    }
    result
}

/// [`store`] into a diary that exists.
fn store_into(
    sink: &dyn Sink,
    args: &ImportArgs,
    diary: Diary,
    lines: Vec<Line>,
    errors: &mut Vec<LineError>,
) -> Result<Stored, Failure> {
    let file = args.file.display().to_string();
    let engine = sink.engine();
    let mut todo: Vec<(usize, PutEntry)> = Vec::with_capacity(lines.len());
    let mut present = 0;
    for line in lines {
        let id = line.key.entry_id(diary.id);
        match engine.get_entry(id) {
            Some(e) if e.diary_id == diary.id => present += 1,
            Some(e) => errors.push(LineError {
                file: file.clone(),
                line: line.number,
                field: Some("id".into()),
                message: format!("{id} is an entry of another diary ({})", e.diary_id),
            }),
            None => {
                let mut put = line.put;
                put.entry.diary_id = diary.id;
                put.id = Some(id);
                todo.push((line.number, put));
            }
        }
    }
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() && !args.partial {
        return Err(anyhow!(
            "{file}: {} lines refused, nothing was imported; fix them and run again, \
             or pass --partial to store the valid lines",
            errors.len()
        )
        .into());
    }
    let start = Instant::now();
    let bar = progress(todo.len() as u64, "importing");
    // Without a terminal the bar is hidden: a line now and then instead,
    // for logs (and for whoever waits to see entries land).
    let log = !std::io::stderr().is_terminal();
    let mut logged: Option<Instant> = None;
    let total = todo.len();
    let mut stored = 0;
    // Graph builds wait for the end: the model gets every core meanwhile,
    // and one build of everything is less work than tiers of merges.
    let bulk = sink.bulk();
    for chunk in todo.chunks(args.batch) {
        let batch: Vec<PutEntry> = chunk.iter().map(|(_, p)| p.clone()).collect();
        if let Err(e) = sink.put_entries(batch) {
            let error = match e.downcast_ref::<Error>() {
                Some(Error::InBatch { index, cause }) => {
                    anyhow!("{file}:{}: {cause}", chunk.get(*index).map_or(0, |c| c.0))
                }
                _ => e.context(format!(
                    "storing lines {}..={} of {file}",
                    chunk.first().map_or(0, |c| c.0),
                    chunk.last().map_or(0, |c| c.0)
                )),
            };
            bar.abandon();
            let error = if stored > 0 {
                error.context(format!(
                    "{stored} entries were stored before the failure; running the same \
                     import again stores the {} missing",
                    total - stored
                ))
            } else {
                error
            };
            return Err(Failure { error, stored });
        }
        stored += chunk.len();
        bar.inc(chunk.len() as u64);
        if log && logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            eprintln!("import: stored {stored} of {total}");
            logged = Some(Instant::now());
        }
    }
    bar.finish_and_clear();
    drop(bulk);
    if stored > 0 {
        // One graph answers faster than the tier of segments a bulk load leaves.
        engine.optimize_indexes();
    }
    Ok(Stored {
        diary: diary.id,
        diary_name: diary.name,
        stored,
        present,
        secs: start.elapsed().as_secs_f64(),
    })
}

/// Prints refused lines on stderr, the first [`MAX_LISTED`] of them.
fn list(errors: &[LineError]) {
    for e in errors.iter().take(MAX_LISTED) {
        eprintln!("{e}");
    }
    if errors.len() > MAX_LISTED {
        eprintln!("… and {} more refused lines", errors.len() - MAX_LISTED);
    }
}

/// Success, or the `--partial` failure when lines were refused.
fn finish(file: &str, errors: &[LineError], rest: &str) -> anyhow::Result<ExitCode> {
    if errors.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    bail!(
        "{file}: {} lines refused (listed above); {rest}",
        errors.len()
    )
}

fn diary_len(engine: &Engine, diary: Uuid) -> anyhow::Result<usize> {
    Ok(engine
        .list(&ListRequest {
            scope: Scope::Diaries { ids: vec![diary] },
            limit: 1,
            ..Default::default()
        })?
        .total)
}

/// One `entries` line as an entry of `diary` (with its `id` field, if
/// any), validated; for callers that load trusted files (`demo`).
pub fn entry_line(line: &str, diary: Uuid) -> anyhow::Result<PutEntry> {
    let (mut put, _) = lines::entry_fields(line)?;
    put.entry.diary_id = diary;
    Ok(put)
}
