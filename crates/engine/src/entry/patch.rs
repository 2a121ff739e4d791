//! Updating entries under the signed-entry rules.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use super::cid::sorted_tags;
use super::model::check_hashed_fields;
use super::validate::{check_importance, check_not_blank};
use super::{Entry, EntryError, EntryType};

/// A partial update from a client (camelCase JSON). An absent field is left
/// alone; `title: null` clears the title; `tags: []` clears the tags.
///
/// [`EntryPatch::apply`] enforces the rules of signed entries: their title,
/// content, tags and type are covered by the signature and cannot change,
/// and a signed `reflection` keeps its importance (it is a stance taken).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPatch {
    /// `Some(None)` clears the title, `None` leaves it.
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    /// New content.
    #[serde(default)]
    pub content: Option<String>,
    /// New tags (replace all).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New type.
    #[serde(default)]
    pub entry_type: Option<EntryType>,
    /// New importance; `i64` so any JSON integer gets a typed range error.
    #[serde(default)]
    pub importance: Option<i64>,
}

/// Distinguishes a field sent as `null` (`Some(None)`) from an absent one
/// (`None`, via `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl EntryPatch {
    /// Whether the patch asks for nothing.
    pub fn is_empty(&self) -> bool {
        self == &EntryPatch::default()
    }

    /// Applies the patch atomically: either every field is checked and
    /// applied, or `entry` is left untouched and the first violation is
    /// returned. Setting a field to its current value is not a change (so a
    /// client may resend a signed entry unchanged); reordering tags is not a
    /// change either, since the CID hashes them sorted.
    ///
    /// Recomputes the CID when a hashed field changes and sets `updated_at`
    /// to `now` when anything changes. Returns whether anything changed.
    pub fn apply(self, entry: &mut Entry, now: OffsetDateTime) -> Result<bool, EntryError> {
        let title = self.title.filter(|t| *t != entry.title);
        let content = self.content.filter(|c| *c != entry.content);
        let tags = self.tags.filter(|t| *t != entry.tags);
        let entry_type = self.entry_type.filter(|t| *t != entry.entry_type);
        let importance = match self.importance {
            Some(i) => Some(check_importance(i)?).filter(|i| *i != entry.importance),
            None => None,
        };

        if let Some(content) = &content {
            check_not_blank("content", content)?;
        }
        check_hashed_fields(
            title.as_ref().unwrap_or(&entry.title).as_deref(),
            content.as_ref().unwrap_or(&entry.content),
            tags.as_ref().unwrap_or(&entry.tags),
        )?;

        if entry.is_signed() {
            let tags_changed = tags
                .as_ref()
                .is_some_and(|t| sorted_tags(t) != sorted_tags(&entry.tags));
            let frozen = [
                ("title", title.is_some()),
                ("content", content.is_some()),
                ("tags", tags_changed),
                ("entryType", entry_type.is_some()),
                (
                    "importance",
                    importance.is_some() && entry.entry_type == EntryType::Reflection,
                ),
            ];
            if let Some((field, _)) = frozen.into_iter().find(|(_, changed)| *changed) {
                return Err(EntryError::ImmutableSigned { field });
            }
        }

        let rehash = title.is_some() || content.is_some() || tags.is_some() || entry_type.is_some();
        let changed = rehash || importance.is_some();
        if let Some(t) = title {
            entry.title = t;
        }
        if let Some(c) = content {
            entry.content = c;
        }
        if let Some(t) = tags {
            entry.tags = t;
        }
        if let Some(t) = entry_type {
            entry.entry_type = t;
        }
        if let Some(i) = importance {
            entry.importance = i;
        }
        // A signed entry's hashed fields can at most be reordered, which
        // leaves the CID unchanged; its stored hash stays as signed.
        if rehash && !entry.is_signed() {
            entry.content_hash = entry.compute_cid();
        }
        if changed {
            entry.updated_at = now;
        }
        Ok(changed)
    }
}
