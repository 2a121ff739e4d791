//! Typed links between entries of one diary.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Entry, EntryError, RelationKind, RelationStatus};

/// A directed, typed link `source → target` between two entries of one
/// diary, e.g. "B supersedes A". Relations are how signed (immutable)
/// entries get corrected: the correction supersedes them.
///
/// Fields are public for storage; [`Relation::new`] checks the invariants
/// (two distinct entries, one diary) and [`Relation::check_unique`] the
/// uniqueness of (source, target, relation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Relation {
    /// Stable identifier.
    pub id: Uuid,
    /// The diary both entries belong to.
    pub diary_id: Uuid,
    /// The entry the relation starts from.
    pub source_id: Uuid,
    /// The entry the relation points at.
    pub target_id: Uuid,
    /// How the source bears on the target.
    pub relation: RelationKind,
    /// Review state; only accepted relations take effect.
    #[serde(default)]
    pub status: RelationStatus,
    /// When the relation was proposed.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When its status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The identity of a relation for uniqueness: at most one relation of each
/// kind from one entry to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationKey {
    /// See [`Relation::source_id`].
    pub source_id: Uuid,
    /// See [`Relation::target_id`].
    pub target_id: Uuid,
    /// See [`Relation::relation`].
    pub relation: RelationKind,
}

impl Relation {
    /// Proposes `source → target` (status `proposed`), refusing a self-link
    /// or a link across diaries.
    pub fn new(
        source: &Entry,
        target: &Entry,
        relation: RelationKind,
        now: OffsetDateTime,
    ) -> Result<Self, EntryError> {
        if source.id() == target.id() {
            return Err(EntryError::SelfRelation);
        }
        if source.diary_id() != target.diary_id() {
            return Err(EntryError::CrossDiaryRelation {
                source_diary: source.diary_id(),
                target_diary: target.diary_id(),
            });
        }
        Ok(Relation {
            id: Uuid::now_v7(),
            diary_id: source.diary_id(),
            source_id: source.id(),
            target_id: target.id(),
            relation,
            status: RelationStatus::Proposed,
            created_at: now,
            updated_at: now,
        })
    }

    /// The uniqueness key.
    pub fn key(&self) -> RelationKey {
        RelationKey {
            source_id: self.source_id,
            target_id: self.target_id,
            relation: self.relation,
        }
    }

    /// Moves the relation to `status` (any transition is allowed: a
    /// rejected relation may be reconsidered).
    pub fn set_status(&mut self, status: RelationStatus, now: OffsetDateTime) {
        if self.status != status {
            self.status = status;
            self.updated_at = now;
        }
    }

    /// The entry this relation supersedes, if it is an accepted
    /// `supersedes`; proposals and rejections supersede nothing.
    pub fn superseded_target(&self) -> Option<Uuid> {
        (self.relation == RelationKind::Supersedes && self.status == RelationStatus::Accepted)
            .then_some(self.target_id)
    }

    /// Refuses `self` if `existing` already holds a relation with the same
    /// key (other than `self` itself, by id), so the server can answer 409.
    pub fn check_unique<'a>(
        &self,
        existing: impl IntoIterator<Item = &'a Relation>,
    ) -> Result<(), EntryError> {
        let key = self.key();
        if existing
            .into_iter()
            .any(|r| r.id != self.id && r.key() == key)
        {
            return Err(EntryError::DuplicateRelation {
                source_id: key.source_id,
                target_id: key.target_id,
                relation: key.relation,
            });
        }
        Ok(())
    }
}

/// Whether `entry_id` is superseded: the target of an accepted `supersedes`
/// relation among `relations`.
pub fn is_superseded<'a>(
    entry_id: Uuid,
    relations: impl IntoIterator<Item = &'a Relation>,
) -> bool {
    relations
        .into_iter()
        .any(|r| r.superseded_target() == Some(entry_id))
}

/// Every superseded entry among `relations`, for filtering search results
/// in one pass.
pub fn superseded_ids<'a>(relations: impl IntoIterator<Item = &'a Relation>) -> HashSet<Uuid> {
    relations
        .into_iter()
        .filter_map(Relation::superseded_target)
        .collect()
}
