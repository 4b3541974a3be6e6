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
    /// Where each op of `ops` starts in the file: (line, column), 1-based.
    pub positions: Vec<(usize, usize)>,
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

/// Reads a history in either format, and refuses one that no run could have written
/// ([`check_structure`]).
pub fn read_history(format: HistoryFormat, mut input: impl BufRead) -> Result<HistoryFile, HistoryParseError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(|e| HistoryParseError::new(1, 1, e.to_string()))?;
    let text = crate::utf8::decode(bytes).map_err(|bad| HistoryParseError::new(bad.line, bad.column, bad.message))?;
    let file = match format {
        HistoryFormat::JsonLines => super::read_history_jsonl(text.as_bytes())?,
        HistoryFormat::Edn => super::read_history_edn(&text)?,
    };
    check_structure(&file)?;
    Ok(file)
}

/// The rules every history keeps, as Jepsen's `history` does: at least one op; indices
/// unique (the readers already keep them within a Java `long`); time never going backwards; each process
/// single-threaded (an invocation completes, once and with the same function, before the
/// process invokes again; a completion follows its invocation). kafkasim's `process` ops
/// are events, outside that rule.
pub fn check_structure(file: &HistoryFile) -> Result<(), HistoryParseError> {
    let at = |i: usize, message: String| {
        let (line, column) = file.positions.get(i).copied().unwrap_or((1, 1));
        Err(HistoryParseError::new(line, column, message))
    };
    if file.ops.is_empty() {
        let skipped: usize = file.skipped.values().sum();
        let besides =
            if skipped > 0 { format!(" (only {skipped} ops kafkasim does not check)") } else { String::new() };
        return at(0, format!("the history is empty: no client operation{besides}; expected at least one op"));
    }
    let mut first_with_index: BTreeMap<u64, usize> = BTreeMap::new();
    // Each process's invocation not completed yet, by its position in `ops`.
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let line_of = |i: usize| file.positions.get(i).map_or(1, |p| p.0);
    for (i, op) in file.ops.iter().enumerate() {
        if let Some(&first) = first_with_index.get(&op.index) {
            return at(
                i,
                format!(
                    "index {} again (first on line {}); expected each op to have its own index",
                    op.index,
                    line_of(first)
                ),
            );
        }
        first_with_index.insert(op.index, i);
        if let Some(previous) = i.checked_sub(1).map(|p| &file.ops[p]) {
            if op.time_ns < previous.time_ns {
                return at(
                    i,
                    format!(
                        "time goes backwards: {} ns after {} ns on line {}; expected ops in time order",
                        op.time_ns,
                        previous.time_ns,
                        line_of(i - 1)
                    ),
                );
            }
        }
        if op.f.is_recorded_bare() {
            // kafkasim's record of the application processing (or dead-lettering)
            // records: an event, with no invocation of its own.
            continue;
        }
        match (op.kind, pending.get(&op.process)) {
            (super::OpType::Invoke, Some(&open)) => {
                return at(i, format!(
                    "process {} invokes again while its invocation on line {} has not completed; expected one op at a time per process",
                    op.process, line_of(open)
                ));
            }
            (super::OpType::Invoke, None) => {
                pending.insert(op.process, i);
            }
            (kind, None) => {
                return at(
                    i,
                    format!(
                        "a completion ({}) of process {} without its invocation before it; expected an invoke op first",
                        kind.as_str(),
                        op.process
                    ),
                );
            }
            (kind, Some(&open)) if file.ops[open].f != op.f => {
                return at(
                    i,
                    format!(
                        "a completion ({}) of {} for process {}'s invocation of {} on line {}; expected the same function",
                        kind.as_str(),
                        op.f.as_str(),
                        op.process,
                        file.ops[open].f.as_str(),
                        line_of(open)
                    ),
                );
            }
            (_, Some(_)) => {
                pending.remove(&op.process);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The structure check of a JSON Lines history, one op per `(index, time, process,
    /// type, f)`.
    fn structure(ops: &[(u64, u64, u64, &str, &str)]) -> Result<(), String> {
        let text: String = ops
            .iter()
            .map(|(index, time, process, kind, f)| {
                let value = match *f {
                    "send" => r#"[["send","t-1",5]]"#,
                    "poll" => r#"[["poll"]]"#,
                    _ => r#"{"t-1":[[0,5]]}"#,
                };
                format!(
                    "{{\"index\":{index},\"time\":{time},\"process\":{process},\"type\":\"{kind}\",\"f\":\"{f}\",\"value\":{value}}}\n"
                )
            })
            .collect();
        read_history(HistoryFormat::JsonLines, text.as_bytes()).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_history_no_run_could_write_is_refused_where_it_goes_wrong() {
        let send = |index, time, process, kind| (index, time, process, kind, "send");
        // Well formed: two processes interleaved, a `process` event, an open invocation.
        let fine = [
            send(0, 0, 0, "invoke"),
            send(1, 1, 1, "invoke"),
            send(2, 2, 0, "ok"),
            (3, 2, 0, "ok", "process"),
            send(4, 3, 1, "info"),
            send(5, 4, 0, "invoke"),
        ];
        assert_eq!(structure(&fine), Ok(()));
        assert!(structure(&[]).unwrap_err().starts_with("1:1: the history is empty"));
        let twice = structure(&[send(0, 0, 0, "invoke"), send(0, 1, 0, "ok")]).unwrap_err();
        assert!(twice.starts_with("2:1: index 0 again (first on line 1)"), "{twice}");
        let backwards = structure(&[send(0, 5, 0, "invoke"), send(1, 4, 0, "ok")]).unwrap_err();
        assert!(backwards.starts_with("2:1: time goes backwards: 4 ns after 5 ns on line 1"), "{backwards}");
        let orphan = structure(&[send(0, 0, 1, "invoke"), send(1, 0, 0, "ok")]).unwrap_err();
        assert!(orphan.starts_with("2:1: a completion (ok) of process 0 without its invocation"), "{orphan}");
        let early = structure(&[send(0, 0, 0, "ok"), send(1, 1, 0, "invoke")]).unwrap_err();
        assert!(early.starts_with("1:1: a completion (ok) of process 0 without its invocation"), "{early}");
        let again = structure(&[send(0, 0, 0, "invoke"), send(1, 1, 0, "invoke")]).unwrap_err();
        assert!(again.starts_with("2:1: process 0 invokes again while its invocation on line 1"), "{again}");
        let other = structure(&[send(0, 0, 0, "invoke"), (1, 1, 0, "ok", "poll")]).unwrap_err();
        assert!(other.starts_with("2:1: a completion (ok) of poll for process 0's invocation of send"), "{other}");
    }

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
