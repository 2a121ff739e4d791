//! A request value out of its allowed range, as data: the field (named as
//! the API names it, camelCase) and the reason. A server turns it into a 400
//! whose problem body points at the field, without parsing a message.

use std::borrow::Cow;

/// A request field with a value the engine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct InvalidField {
    /// The field, camelCase as in the API (`limit`, `wRecency`,
    /// `createdBefore`…).
    pub field: Cow<'static, str>,
    /// Why its value is refused, with the allowed range when there is one.
    pub reason: String,
}

impl InvalidField {
    /// `field` is refused because of `reason`.
    pub fn new(field: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
