//! What text is embedded for a diary entry.

use serde::{Deserialize, Serialize};

/// The embeddable part of a diary entry.
///
/// MoltNet embeds `title\ncontent\ntag:t1\ntag:t2` (the title line only when
/// there is a title; the entry type is not embedded), so that tags pull
/// vectors towards their topic without a separate field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassageText {
    /// Optional title, first line.
    pub title: Option<String>,
    /// The entry's body.
    pub content: String,
    /// Tags, one `tag:<t>` line each, in the given order.
    pub tags: Vec<String>,
}

impl PassageText {
    /// A passage with content only.
    pub fn new(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            ..Self::default()
        }
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the tags.
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// The exact text handed to the model (before the profile's prefix).
    pub fn to_embedding_text(&self) -> String {
        let tag_len: usize = self.tags.iter().map(|t| t.len() + 5).sum();
        let mut out = String::with_capacity(
            self.title.as_ref().map_or(0, |t| t.len() + 1) + self.content.len() + tag_len,
        );
        if let Some(title) = self.title.as_deref().filter(|t| !t.is_empty()) {
            out.push_str(title);
            out.push('\n');
        }
        out.push_str(&self.content);
        for tag in &self.tags {
            out.push_str("\ntag:");
            out.push_str(tag);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moltnet_layout() {
        let p = PassageText::new("body")
            .with_title("Title")
            .with_tags(["a", "b"]);
        assert_eq!(p.to_embedding_text(), "Title\nbody\ntag:a\ntag:b");
        assert_eq!(PassageText::new("body").to_embedding_text(), "body");
        assert_eq!(
            PassageText::new("body").with_title("").to_embedding_text(),
            "body"
        );
    }
}
