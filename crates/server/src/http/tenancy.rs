//! The tenant boundary: a key sees its team's objects only.
//!
//! Every lookup of a diary, entry or relation by id goes through here, and
//! another team's object is answered exactly like a missing one (404), so a
//! key cannot even learn that an id exists elsewhere.

use moltsearch_engine::{Diary, Engine, EntryRecord, Relation};
use uuid::Uuid;

use super::problem::{ApiError, ApiResult};
use crate::keys::Caller;

/// The diary `id` if it belongs to the caller's team.
pub fn diary(engine: &Engine, caller: &Caller, id: Uuid) -> ApiResult<Diary> {
    engine
        .get_diary(id)
        .filter(|d| d.team_id == caller.team_id)
        .ok_or_else(|| ApiError::not_found("diary", id))
}

/// The entry `id` (and its diary) if its diary belongs to the caller's team.
pub fn entry(engine: &Engine, caller: &Caller, id: Uuid) -> ApiResult<(EntryRecord, Diary)> {
    let found = engine.get_entry(id).and_then(|e| {
        let d = engine.get_diary(e.diary_id)?;
        (d.team_id == caller.team_id).then_some((e, d))
    });
    found.ok_or_else(|| ApiError::not_found("entry", id))
}

/// The relation `id` if its diary belongs to the caller's team.
pub fn relation(engine: &Engine, caller: &Caller, id: Uuid) -> ApiResult<Relation> {
    engine
        .get_relation(id)
        .filter(|r| {
            engine
                .get_diary(r.diary_id)
                .is_some_and(|d| d.team_id == caller.team_id)
        })
        .ok_or_else(|| ApiError::not_found("relation", id))
}
