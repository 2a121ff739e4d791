//! Diaries: the containers entries live in and the unit of visibility.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::validate::{check_len, MAX_DIARY_NAME_CHARS};
use super::{EntryError, Visibility};

/// A named collection of entries owned by a team; searches are scoped to
/// diaries and filtered by their visibility.
///
/// Fields are public for storage; build through [`Diary::new`] (or call
/// [`Diary::validate`] after loading) so the name limit holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "DiaryWire")]
pub struct Diary {
    /// Stable identifier.
    pub id: Uuid,
    /// The owning team, the tenant boundary.
    pub team_id: Uuid,
    /// Human-readable name, 1 to [`MAX_DIARY_NAME_CHARS`] characters.
    pub name: String,
    /// Who may read the diary.
    pub visibility: Visibility,
}

/// Deserialisation goes through this so stored or received diaries are
/// validated like new ones.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiaryWire {
    id: Uuid,
    team_id: Uuid,
    name: String,
    #[serde(default)]
    visibility: Visibility,
}

impl TryFrom<DiaryWire> for Diary {
    type Error = EntryError;

    fn try_from(w: DiaryWire) -> Result<Self, EntryError> {
        let diary = Diary {
            id: w.id,
            team_id: w.team_id,
            name: w.name,
            visibility: w.visibility,
        };
        diary.validate().map(|()| diary)
    }
}

impl Diary {
    /// Creates a diary with a fresh time-ordered (v7) id, so ids sort by
    /// creation in storage.
    pub fn new(team_id: Uuid, name: String, visibility: Visibility) -> Result<Self, EntryError> {
        Self::with_id(Uuid::now_v7(), team_id, name, visibility)
    }

    /// Creates a diary whose id was assigned elsewhere (e.g. by MoltNet).
    pub fn with_id(
        id: Uuid,
        team_id: Uuid,
        name: String,
        visibility: Visibility,
    ) -> Result<Self, EntryError> {
        let diary = Diary {
            id,
            team_id,
            name,
            visibility,
        };
        diary.validate().map(|()| diary)
    }

    /// Re-checks the limits, e.g. after editing the public fields.
    pub fn validate(&self) -> Result<(), EntryError> {
        check_len("name", &self.name, MAX_DIARY_NAME_CHARS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_limits() {
        let team = Uuid::nil();
        assert_eq!(
            Diary::new(team, String::new(), Visibility::Private),
            Err(EntryError::Empty { field: "name" })
        );
        assert!(Diary::new(team, "n".repeat(255), Visibility::Public).is_ok());
        assert_eq!(
            Diary::new(team, "n".repeat(256), Visibility::Public),
            Err(EntryError::TooLong {
                field: "name",
                max: 255,
                got: 256
            })
        );
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let d = Diary::new(Uuid::now_v7(), "notes".into(), Visibility::Moltnet).expect("valid");
        let json = serde_json::to_value(&d).expect("serialise");
        assert_eq!(json["visibility"], "moltnet");
        assert!(json.get("teamId").is_some());
        assert_eq!(serde_json::from_value::<Diary>(json).expect("parse"), d);
        let bad = serde_json::json!({"id": d.id, "teamId": d.team_id, "name": ""});
        assert!(serde_json::from_value::<Diary>(bad).is_err());
        let default_vis = serde_json::json!({"id": d.id, "teamId": d.team_id, "name": "x"});
        let parsed: Diary = serde_json::from_value(default_vis).expect("parse");
        assert_eq!(parsed.visibility, Visibility::Private);
    }
}
