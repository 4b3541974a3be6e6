//! Reading and writing histories as JSON Lines.

use super::op::Op;
use std::fmt;
use std::io::{self, BufRead, Write};

/// A history line that could not be read.
#[derive(Debug)]
pub struct HistoryParseError {
    /// The 1-based line number.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for HistoryParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for HistoryParseError {}

/// Writes ops as JSON Lines, one op per line.
pub fn write_history_jsonl(ops: &[Op], out: &mut impl Write) -> io::Result<()> {
    for op in ops {
        writeln!(out, "{}", op.to_json())?;
    }
    Ok(())
}

/// Reads ops from JSON Lines; blank lines are skipped. The error names the line.
pub fn read_history_jsonl(input: impl BufRead) -> Result<Vec<Op>, HistoryParseError> {
    let mut ops = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let line_number = i + 1;
        let line = line.map_err(|e| HistoryParseError { line: line_number, message: e.to_string() })?;
        if line.trim().is_empty() {
            continue;
        }
        let json: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| HistoryParseError { line: line_number, message: format!("not valid JSON: {e}") })?;
        let op = Op::from_json(&json).map_err(|message| HistoryParseError { line: line_number, message })?;
        ops.push(op);
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_reported_with_its_number() {
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"poll\",\"value\":[[\"poll\"]]}\n\nnot json\n";
        let err = read_history_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.to_string().starts_with("line 3: not valid JSON"));
    }

    #[test]
    fn written_histories_read_back_identically() {
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"poll\",\"value\":[[\"poll\"]]}\n";
        let ops = read_history_jsonl(text.as_bytes()).unwrap();
        let mut out = Vec::new();
        write_history_jsonl(&ops, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }
}
