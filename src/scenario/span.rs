//! Positions in the scenario text: byte spans, field paths, values tagged with both, and
//! the problems found at them before they are tied to a file ([`Issue`]). The bottom
//! layer of the scenario reader: it depends on nothing else in `scenario`.

use std::ops::Range;

/// A byte range in the scenario text.
pub(super) type Span = Range<usize>;

/// A problem found in the text, not yet tied to a file name and a line.
#[derive(Clone, Debug)]
pub(super) struct Issue {
    /// Where the problem is; `None` means the start of the file.
    pub span: Option<Span>,
    /// The field path, e.g. `topics[0].replication.factor`; `None` for syntax errors.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

/// The result type of the scenario readers.
pub(super) type Res<T> = Result<T, Issue>;

/// Where a value is: its span in the text and its field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pos {
    /// The byte range of the value (or of its key, or table header, when it has none).
    pub span: Option<Span>,
    /// The field path, e.g. `faults[2].target`; empty for the document root.
    pub field: String,
}

impl Pos {
    /// An issue at this position.
    pub fn issue(&self, message: impl Into<String>) -> Issue {
        let field = (!self.field.is_empty()).then(|| self.field.clone());
        Issue { span: self.span.clone(), field, message: message.into() }
    }

    /// The position of `key` inside this table; `span` defaults to the table's.
    pub fn child(&self, key: &str, span: Option<Span>) -> Pos {
        let field = if self.field.is_empty() { key.to_string() } else { format!("{}.{key}", self.field) };
        Pos { span: span.or_else(|| self.span.clone()), field }
    }

    /// The 1-based line this position starts on (line 1 when it has no span).
    pub fn line(&self, text: &str) -> usize {
        line_column(text, self.span.as_ref().map_or(0, |s| s.start)).0
    }
}

/// A value with its position.
#[derive(Clone, Debug)]
pub(super) struct Sp<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub pos: Pos,
}

impl<T: Copy> Sp<T> {
    /// Fails with `message` at this value's position unless `ok(value)`.
    pub fn check(self, ok: impl Fn(T) -> bool, message: impl FnOnce(T) -> String) -> Res<Sp<T>> {
        if ok(self.value) {
            Ok(self)
        } else {
            Err(self.pos.issue(message(self.value)))
        }
    }
}

/// The 1-based line and character column of a byte offset, and the line's text. Offsets
/// past the end or inside a character are clamped; never panics.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize, String) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    let line_text = text[line_start..line_end].trim_end_matches('\r').to_string();
    (line, column, line_text)
}
