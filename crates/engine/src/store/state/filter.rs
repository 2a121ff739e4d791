//! Filters as bitmaps: the allowed-document set both search arms get
//! before they run, and the scope of lists and tag counts.

use roaring::RoaringBitmap;
use time::OffsetDateTime;
use uuid::Uuid;

use super::State;
use crate::entry::Visibility;
use crate::search::request::{Filters, Scope};

impl State {
    /// Diaries a scope covers.
    pub fn scope_diaries(&self, scope: &Scope) -> Vec<Uuid> {
        match scope {
            Scope::Diaries { ids } => ids
                .iter()
                .filter(|id| self.diaries.contains_key(id))
                .copied()
                .collect(),
            Scope::Team { team_id } => self
                .diaries
                .values()
                .filter(|d| d.team_id == *team_id)
                .map(|d| d.id)
                .collect(),
            Scope::Public => self
                .diaries
                .values()
                .filter(|d| d.visibility == Visibility::Public)
                .map(|d| d.id)
                .collect(),
        }
    }

    /// Every live doc in scope that passes the filters.
    pub fn allowed(&self, scope: &Scope, filters: &Filters) -> RoaringBitmap {
        let p = &self.postings;
        let mut allow = RoaringBitmap::new();
        for diary in self.scope_diaries(scope) {
            if let Some(b) = p.by_diary.get(&diary) {
                allow |= b;
            }
        }
        for tag in &filters.tags {
            match p.by_tag.get(tag) {
                Some(b) => allow &= b,
                None => return RoaringBitmap::new(),
            }
        }
        for tag in &filters.exclude_tags {
            if let Some(b) = p.by_tag.get(tag) {
                allow -= b;
            }
        }
        if !filters.entry_types.is_empty() {
            let mut types = RoaringBitmap::new();
            for t in &filters.entry_types {
                if let Some(b) = p.by_type.get(t) {
                    types |= b;
                }
            }
            allow &= types;
        }
        if filters.exclude_suspicious {
            allow -= &p.suspicious;
        }
        if filters.exclude_superseded {
            for id in &self.superseded {
                if let Some(slot) = self.entries.get(id) {
                    allow.remove(slot.doc);
                }
            }
        }
        if filters.created_before.is_some() || filters.created_after.is_some() {
            let before = filters.created_before.map(OffsetDateTime::unix_timestamp);
            let after = filters.created_after.map(OffsetDateTime::unix_timestamp);
            allow = allow
                .iter()
                .filter(|&doc| {
                    let t = p.created_of(doc);
                    before.is_none_or(|b| t < b) && after.is_none_or(|a| t >= a)
                })
                .collect();
        }
        allow &= p.live();
        allow
    }
}
