//! Reading and writing histories as JSON Lines.

use super::doc::{Doc, Syntax};
use super::file::{HistoryFile, HistoryParseError};
use super::op::Op;
use super::parse::{OpReader, Read};
use std::io::{self, BufRead, Write};

/// Writes ops as JSON Lines, one op per line.
pub fn write_history_jsonl(ops: &[Op], out: &mut impl Write) -> io::Result<()> {
    for op in ops {
        writeln!(out, "{}", op.to_json())?;
    }
    Ok(())
}

/// Reads ops from JSON Lines; blank lines are skipped. Values that are not integers
/// below 2^63 get ids named in [`HistoryFile::values`]. The error names the line and
/// column of the offending part and what was expected there.
pub fn read_history_jsonl(input: impl BufRead) -> Result<HistoryFile, HistoryParseError> {
    let mut file = HistoryFile::default();
    for (i, line) in input.lines().enumerate() {
        let line_number = i + 1;
        let line = line.map_err(|e| HistoryParseError::new(line_number, 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc = Doc::from_json_text(&line, line_number)
            .map_err(|(column, message)| HistoryParseError::new(line_number, column, message))?;
        match OpReader::new(Syntax::Json, &mut file.values).op(&doc, file.ops.len() as u64) {
            Ok(Read::Op(op)) => {
                file.ops.push(*op);
                file.positions.push((line_number, 1));
            }
            Ok(Read::Skipped(what)) => *file.skipped.entry(what).or_default() += 1,
            Err(e) => return Err(HistoryParseError::new(line_number, e.at.column.max(1), e.message)),
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{MicroOp, OpType, ValueNames};

    #[test]
    fn a_bad_line_is_reported_with_its_number_and_column() {
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"poll\",\"value\":[[\"poll\"]]}\n\nnot json\n";
        let err = read_history_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!((err.line, err.column), (3, 2));
        assert!(err.to_string().starts_with("3:2: not valid JSON: expected ident"), "{err}");
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"done\",\"f\":\"poll\",\"value\":[[\"poll\"]]}\n";
        let err = read_history_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!((err.line, err.column), (1, 40));
        assert!(err.message.starts_with("field `type`: expected one of invoke, ok, fail, info, got \"done\""), "{err}");
    }

    #[test]
    fn written_histories_read_back_identically() {
        let text = "{\"index\":0,\"time\":0,\"process\":0,\"type\":\"invoke\",\"f\":\"poll\",\"value\":[[\"poll\"]]}\n";
        let file = read_history_jsonl(text.as_bytes()).unwrap();
        assert!(file.values.is_empty());
        let mut out = Vec::new();
        write_history_jsonl(&file.ops, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text);
    }

    #[test]
    fn string_values_get_one_id_each_across_the_file() {
        let text = concat!(
            r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"send","value":[["send",1,"a"]]}"#,
            "\n",
            r#"{"index":1,"time":1,"process":0,"type":"info","f":"send","value":[["send",1,"a"]]}"#,
            "\n",
        );
        let file = read_history_jsonl(text.as_bytes()).unwrap();
        let a = ValueNames::FIRST_ID;
        for op in &file.ops {
            assert_eq!(op.micro_ops(), [MicroOp::Send { key: "1".into(), value: a, offset: None }]);
        }
        assert_eq!(file.ops[1].kind, OpType::Info);
        assert_eq!((file.values.len(), file.values.render(a)), (1, "\"a\"".to_string()));
    }
}
