//! The handlers, one file per resource.

pub mod diaries;
pub mod entries;
pub mod health;
pub mod metrics;
pub mod relations;
pub mod search;
