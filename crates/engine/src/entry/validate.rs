//! Limits of the model and the checks that enforce them.
//!
//! Lengths are counted in Unicode scalar values (Rust `char`s), as
//! PostgreSQL counts `varchar(n)` and JSON Schema counts `maxLength`, so an
//! entry MoltNet accepts is accepted here too.

use super::EntryError;

/// Longest diary name.
pub const MAX_DIARY_NAME_CHARS: usize = 255;
/// Longest entry title.
pub const MAX_TITLE_CHARS: usize = 255;
/// Longest entry content.
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Most tags on one entry.
pub const MAX_TAGS: usize = 20;
/// Longest tag.
pub const MAX_TAG_CHARS: usize = 128;
/// Longest signing nonce (MoltNet issues UUIDs, 36 characters).
pub const MAX_NONCE_CHARS: usize = 255;
/// Lowest importance.
pub const MIN_IMPORTANCE: u8 = 1;
/// Highest importance.
pub const MAX_IMPORTANCE: u8 = 10;
/// Importance of an entry created without one.
pub const DEFAULT_IMPORTANCE: u8 = 5;

/// Number of Unicode scalar values in `s`, without walking it when its byte
/// length already proves it short (the common case for 100k-char content).
fn char_len_exceeds(s: &str, max: usize) -> Option<usize> {
    if s.len() <= max {
        return None;
    }
    let n = s.chars().count();
    (n > max).then_some(n)
}

/// Checks a text that may be empty but not longer than `max`.
pub fn check_max(field: &'static str, s: &str, max: usize) -> Result<(), EntryError> {
    match char_len_exceeds(s, max) {
        Some(got) => Err(EntryError::TooLong { field, max, got }),
        None => Ok(()),
    }
}

/// Checks a text that must hold 1 to `max` characters.
pub fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), EntryError> {
    if s.is_empty() {
        return Err(EntryError::Empty { field });
    }
    check_max(field, s, max)
}

/// Refuses a text that is empty or only whitespace (Unicode `White_Space`,
/// as [`str::trim`] counts it). Applied where an entry's content is
/// created or changed, not when a stored record is checked on open: a
/// folder written before the rule must still open.
pub fn check_not_blank(field: &'static str, s: &str) -> Result<(), EntryError> {
    if s.is_empty() {
        return Err(EntryError::Empty { field });
    }
    if s.trim().is_empty() {
        return Err(EntryError::Blank { field });
    }
    Ok(())
}

/// Checks the tag list: at most [`MAX_TAGS`] tags of 1 to
/// [`MAX_TAG_CHARS`] characters each. Tags are kept exactly as given
/// (case, order and duplicates), because the CID hashes them verbatim.
pub fn check_tags<S: AsRef<str>>(tags: &[S]) -> Result<(), EntryError> {
    if tags.len() > MAX_TAGS {
        return Err(EntryError::TooManyTags {
            max: MAX_TAGS,
            got: tags.len(),
        });
    }
    tags.iter()
        .try_for_each(|t| check_len("tags", t.as_ref(), MAX_TAG_CHARS))
}

/// Turns a client-supplied importance into the stored one, refusing
/// anything outside [`MIN_IMPORTANCE`]`..=`[`MAX_IMPORTANCE`]. Takes an
/// `i64` so that any JSON integer yields this typed error, not a parse one.
pub fn check_importance(got: i64) -> Result<u8, EntryError> {
    u8::try_from(got)
        .ok()
        .filter(|v| (MIN_IMPORTANCE..=MAX_IMPORTANCE).contains(v))
        .ok_or(EntryError::OutOfRange {
            field: "importance",
            min: MIN_IMPORTANCE.into(),
            max: MAX_IMPORTANCE.into(),
            got,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_chars_not_bytes() {
        let s = "é".repeat(MAX_TITLE_CHARS);
        assert!(s.len() > MAX_TITLE_CHARS);
        assert_eq!(check_len("title", &s, MAX_TITLE_CHARS), Ok(()));
        let s = "é".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(
            check_len("title", &s, MAX_TITLE_CHARS),
            Err(EntryError::TooLong {
                field: "title",
                max: 255,
                got: 256
            })
        );
    }

    #[test]
    fn empty_is_refused_only_where_required() {
        assert_eq!(
            check_len("content", "", 10),
            Err(EntryError::Empty { field: "content" })
        );
        assert_eq!(check_max("title", "", 10), Ok(()));
    }

    #[test]
    fn blank_is_refused_and_named() {
        assert_eq!(
            check_not_blank("content", ""),
            Err(EntryError::Empty { field: "content" })
        );
        for blank in [" ", "\n\t ", "\u{a0}\u{2003}"] {
            assert_eq!(
                check_not_blank("content", blank),
                Err(EntryError::Blank { field: "content" }),
                "{blank:?}"
            );
        }
        assert_eq!(check_not_blank("content", " x "), Ok(()));
    }

    #[test]
    fn tags_limits() {
        let ok: Vec<String> = (0..MAX_TAGS).map(|i| i.to_string()).collect();
        assert_eq!(check_tags(&ok), Ok(()));
        let many: Vec<String> = (0..=MAX_TAGS).map(|i| i.to_string()).collect();
        assert_eq!(
            check_tags(&many),
            Err(EntryError::TooManyTags { max: 20, got: 21 })
        );
        assert_eq!(check_tags(&[""]), Err(EntryError::Empty { field: "tags" }));
        let long = "x".repeat(MAX_TAG_CHARS + 1);
        assert_eq!(
            check_tags(&[long]),
            Err(EntryError::TooLong {
                field: "tags",
                max: 128,
                got: 129
            })
        );
        assert_eq!(check_tags(&["x".repeat(MAX_TAG_CHARS)]), Ok(()));
    }

    #[test]
    fn importance_range() {
        assert_eq!(check_importance(1), Ok(1));
        assert_eq!(check_importance(10), Ok(10));
        for bad in [0, 11, -1, 256, i64::MAX, i64::MIN] {
            assert_eq!(
                check_importance(bad),
                Err(EntryError::OutOfRange {
                    field: "importance",
                    min: 1,
                    max: 10,
                    got: bad
                })
            );
        }
    }
}
