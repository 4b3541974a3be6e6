//! A history read from a file: which syntax it is in, what it holds, and what is wrong
//! with it when it cannot be read.

use super::op::Op;
use super::values::ValueNames;
use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;
use std::path::Path;

/// The ops of a history file and the names of its values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryFile {
    /// The client ops, in file order.
    pub ops: Vec<Op>,
    /// The original text of every value that is not an integer below 2^63; the ops
    /// hold ids in its place (see [`ValueNames`]).
    pub values: ValueNames,
    /// Ops the file holds that kafkasim does not check, counted by what they are
    /// (`:nemesis process`, `:debug-topic-partitions`): EDN only.
    pub skipped: BTreeMap<String, usize>,
}

/// A history file that could not be read, and where.
///
/// `Display` renders `LINE:COLUMN: message`; the command line puts the file in front.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryParseError {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
}

impl HistoryParseError {
    /// An error at a line and column.
    pub fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        HistoryParseError { line, column, message: message.into() }
    }
}

impl fmt::Display for HistoryParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for HistoryParseError {}

/// The syntaxes `kafkasim check` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    /// kafkasim's JSON Lines: one JSON object per line.
    JsonLines,
    /// Jepsen's `history.edn`: EDN op maps (one per line as Jepsen writes them, or
    /// within one vector).
    Edn,
}

impl HistoryFormat {
    /// The format of a file: `.edn` is EDN, `.jsonl` and `.json` are JSON Lines; any
    /// other name is decided by the start of its content (`start`, the first bytes): a
    /// JSON object starts `{"` or `{}`, anything else is taken for EDN.
    pub fn detect(path: &Path, start: &[u8]) -> HistoryFormat {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("edn") => HistoryFormat::Edn,
            Some("jsonl" | "json") => HistoryFormat::JsonLines,
            _ => {
                let mut meaningful = start.iter().filter(|b| !b.is_ascii_whitespace() && **b != b',');
                match (meaningful.next(), meaningful.next()) {
                    (Some(b'{'), Some(b'"' | b'}')) => HistoryFormat::JsonLines,
                    (None, _) => HistoryFormat::JsonLines,
                    _ => HistoryFormat::Edn,
                }
            }
        }
    }
}

/// Reads a history in either format.
pub fn read_history(format: HistoryFormat, mut input: impl BufRead) -> Result<HistoryFile, HistoryParseError> {
    match format {
        HistoryFormat::JsonLines => super::read_history_jsonl(input),
        HistoryFormat::Edn => {
            let mut text = String::new();
            input.read_to_string(&mut text).map_err(|e| HistoryParseError::new(1, 1, e.to_string()))?;
            super::read_history_edn(&text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_decides_and_else_the_content() {
        let detect = |name: &str, start: &str| HistoryFormat::detect(Path::new(name), start.as_bytes());
        assert_eq!(detect("h.edn", "{\"a\""), HistoryFormat::Edn);
        assert_eq!(detect("h.jsonl", "{:a"), HistoryFormat::JsonLines);
        assert_eq!(detect("history.txt", "  {\"index\":0"), HistoryFormat::JsonLines);
        assert_eq!(detect("history", "{:index 0"), HistoryFormat::Edn);
        assert_eq!(detect("history", "#jepsen.history.Op{"), HistoryFormat::Edn);
        assert_eq!(detect("history", "[{:index 0"), HistoryFormat::Edn);
        assert_eq!(detect("history", ""), HistoryFormat::JsonLines);
    }
}
