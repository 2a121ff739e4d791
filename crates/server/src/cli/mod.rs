//! One module per subcommand; each exposes `XArgs` and `run`.

pub mod cid;
pub mod common;
pub mod demo;
pub mod diaries;
pub mod embed;
pub mod engine_args;
pub mod eval;
pub mod import;
pub mod keys;
pub mod migrate;
pub mod model_args;
pub mod reindex;
pub mod search;
pub mod serve;
pub mod sign;
pub mod verify;
