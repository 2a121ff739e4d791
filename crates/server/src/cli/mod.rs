//! One module per subcommand; each exposes `XArgs` and `run`.

pub mod cid;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod model_args;
pub mod sign;
pub mod verify;
