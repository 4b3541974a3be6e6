//! Reading Jepsen's EDN histories (`history.edn`, as `jepsen.tests.kafka` records
//! them against a real cluster).
//!
//! Jepsen writes one op per line, either a plain map
//! `{:type :invoke, :f :send, :value [[:send 5 1]], :time 123, :process 0, :index 0}` or,
//! since Jepsen 0.3, its `Op` record `#jepsen.history.Op{:index 0, :time 123, ...}`
//! (the tag is ignored). A whole history written as one vector of ops, as Jepsen's tests
//! and REPL sessions print it, reads the same. Keys, micro-ops and values follow the
//! JSON Lines format with EDN spelling: `[:send 5 [12 :a]]`, `[:send 5 [nil :a]]`,
//! `[:poll {5 [[11 0] [12 1]]}]`; `:assign` and `:subscribe` take a vector of keys.
//! Ops of non-client processes (`:nemesis`) and functions kafkasim does not check
//! (`:debug-topic-partitions`) are skipped and counted; other fields (`:error` and the
//! optional `:record-keys {17 "key-3"}` of a keyed send aside) are ignored. Parsing is
//! `clojure-reader`'s, which reports where each form starts.

use super::doc::{Doc, DocKind, Pos, Syntax};
use super::file::{HistoryFile, HistoryParseError};
use super::parse::{OpReader, Read};
use clojure_reader::edn::Edn;
use clojure_reader::error::{Code, Error};
use clojure_reader::parse::{parse, Node, NodeKind, SourceReader, Span};

/// Nodes nested deeper than this are refused rather than walked (serde_json's limit).
const MAX_DEPTH: usize = 128;

/// Reads an EDN history: op maps one after another, or vectors of op maps. Values that
/// are not integers below 2^63 get ids named in [`HistoryFile::values`]. The error
/// names the line and column of the offending form and what was expected there.
pub fn read_history_edn(text: &str) -> Result<HistoryFile, HistoryParseError> {
    let mut file = HistoryFile::default();
    let mut reader = SourceReader::new(text);
    let mut ordinal = 0;
    loop {
        if reader.remaining().trim_start_matches(|c: char| c.is_whitespace() || c == ',').is_empty() {
            break;
        }
        let node = parse(&mut reader).map_err(syntax_error)?;
        let source = text.get(node.span.0.ptr..node.span.1.ptr).unwrap_or_default();
        if node.kind == NodeKind::Nil && source != "nil" {
            break; // Only comments and discarded forms were left.
        }
        let forms = match &node.kind {
            NodeKind::Vector(items, _) | NodeKind::List(items, _) => items.iter().collect(),
            _ => vec![&node],
        };
        let mut read = Ok(());
        for form in forms {
            read = to_doc(text, form, 0).and_then(|doc| {
                match OpReader::new(Syntax::Edn, &mut file.values).op(&doc, ordinal) {
                    Ok(Read::Op(op)) => {
                        file.ops.push(*op);
                        file.positions.push((doc.at.line.max(1), doc.at.column.max(1)));
                    }
                    Ok(Read::Skipped(what)) => *file.skipped.entry(what).or_default() += 1,
                    Err(e) => return Err(HistoryParseError::new(e.at.line.max(1), e.at.column.max(1), e.message)),
                }
                Ok(())
            });
            if read.is_err() {
                break;
            }
            ordinal += 1;
        }
        drop_flat(node);
        read?;
    }
    Ok(file)
}

/// Drops a syntax tree without recursion: a form nested a million levels deep (which
/// the reader parses without recursion) would otherwise overflow the stack as it drops.
fn drop_flat(node: Node<'_>) {
    let mut stack = vec![node];
    while let Some(mut node) = stack.pop() {
        stack.extend(node.leading_discards.drain(..).map(|d| d.0));
        match &mut node.kind {
            NodeKind::Vector(items, discards) | NodeKind::List(items, discards) | NodeKind::Set(items, discards) => {
                stack.append(items);
                stack.extend(discards.drain(..).map(|d| d.0));
            }
            NodeKind::Map(entries, discards) => {
                for (k, v) in entries.drain(..) {
                    stack.push(k);
                    stack.push(v);
                }
                stack.extend(discards.drain(..).map(|d| d.0));
            }
            NodeKind::Tagged(_, _, inner) => stack.push(std::mem::take(&mut **inner)),
            _ => {}
        }
    }
}

fn pos(span: Span) -> Pos {
    Pos { line: span.0.line, column: span.0.column }
}

fn error_at(span: Span, message: impl Into<String>) -> HistoryParseError {
    HistoryParseError::new(span.0.line, span.0.column, message)
}

/// One EDN node as a [`Doc`]: vectors, lists and sets become lists, a tag on a map or
/// vector is dropped, and scalars the history format has no use for keep their text.
fn to_doc(text: &str, node: &Node<'_>, depth: usize) -> Result<Doc, HistoryParseError> {
    if depth > MAX_DEPTH {
        return Err(error_at(node.span, format!("nested more than {MAX_DEPTH} levels deep")));
    }
    let source = || text.get(node.span.0.ptr..node.span.1.ptr).unwrap_or_default().to_string();
    let kind = match &node.kind {
        NodeKind::Vector(items, _) | NodeKind::List(items, _) | NodeKind::Set(items, _) => {
            DocKind::List(items.iter().map(|n| to_doc(text, n, depth + 1)).collect::<Result<_, _>>()?)
        }
        NodeKind::Map(entries, _) => DocKind::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((to_doc(text, k, depth + 1)?, to_doc(text, v, depth + 1)?)))
                .collect::<Result<_, HistoryParseError>>()?,
        ),
        NodeKind::Tagged(_, _, inner) if matches!(inner.kind, NodeKind::Map(..) | NodeKind::Vector(..)) => {
            return Ok(Doc { at: pos(node.span), ..to_doc(text, inner, depth + 1)? });
        }
        NodeKind::Key(k) => DocKind::Keyword((*k).to_string()),
        NodeKind::Str(raw) => match Edn::try_from(Node::no_discards(NodeKind::Str(raw), node.span)) {
            Ok(Edn::Str(ref s)) => DocKind::Str(s.to_string()),
            Ok(_) => DocKind::Str((*raw).to_string()),
            Err(e) => return Err(syntax_error(e)),
        },
        NodeKind::Int(n) => DocKind::Int(i128::from(*n)),
        NodeKind::Double(x) => DocKind::Float(x.into_inner()),
        NodeKind::Bool(b) => DocKind::Bool(*b),
        NodeKind::Nil => DocKind::Null,
        _ => DocKind::Other(source()),
    };
    Ok(Doc { kind, at: pos(node.span) })
}

/// A syntax error of the EDN reader, worded for a person.
fn syntax_error(e: Error) -> HistoryParseError {
    let what = match &e.code {
        Code::UnexpectedEOF => "unexpected end of file (a `[`, `{`, `(` or `\"` left open?)".to_string(),
        Code::UnmatchedDelimiter(c) => format!("unmatched `{c}`"),
        Code::InvalidChar => "unexpected character".to_string(),
        Code::InvalidEscape => "invalid escape in a string".to_string(),
        Code::InvalidKeyword => "invalid keyword".to_string(),
        Code::InvalidNumber => "invalid number (integers must fit 64 bits)".to_string(),
        Code::InvalidTag => "invalid tag".to_string(),
        Code::HashMapDuplicateKey => "duplicate key in a map".to_string(),
        Code::SetDuplicateKey => "duplicate element in a set".to_string(),
        other => format!("{other:?}"),
    };
    HistoryParseError::new(e.line.unwrap_or(1), e.column.unwrap_or(1), format!("not valid EDN: {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{MicroOp, OpFn, OpType, OpValue, PolledRecords, ValueNames};

    #[test]
    fn jepsen_ops_read_as_kafkasim_ops() {
        let text = r#"
{:type :invoke, :f :send, :value [[:send 5 :a]], :time 1, :process 0, :index 0}
#jepsen.history.Op{:index 1, :time 2, :type :ok, :process 0, :f :send, :value [[:send 5 [12 :a]]], :rebalance-log []}
{:index 2, :time 3, :type :info, :process :nemesis, :f :start-partition, :value nil}
{:index 3, :time 4, :type :invoke, :process 1, :f :txn, :value [[:send "5" 2] [:poll]]}
{:index 4, :time 5, :type :info, :process 1, :f :txn, :value [[:send 5 [nil 2]] [:poll {5 [[12 :a]]}]], :error [:timeout "x"]}
{:index 5, :time 6, :type :invoke, :process 2, :f :assign, :value [5 6]}
{:index 6, :time 7, :type :invoke, :process 2, :f :debug-topic-partitions, :value [5]}
"#;
        let file = read_history_edn(text).unwrap();
        let a = ValueNames::FIRST_ID;
        assert_eq!(file.ops.len(), 5);
        assert_eq!(file.ops[1].micro_ops(), [MicroOp::Send { key: "5".into(), value: a, offset: Some(12) }]);
        assert_eq!(file.values.render(a), ":a");
        let txn = &file.ops[3];
        assert_eq!((txn.index, txn.kind, txn.f), (4, OpType::Info, OpFn::Txn));
        assert_eq!(txn.error.as_deref(), Some("[:timeout \"x\"]"));
        let polled: PolledRecords = [("5".to_string(), vec![(12, a)])].into_iter().collect();
        assert_eq!(
            txn.value,
            OpValue::Txn(vec![
                MicroOp::Send { key: "5".into(), value: 2, offset: None },
                MicroOp::Poll { records: Some(polled) },
            ])
        );
        assert_eq!(file.ops[4].value, OpValue::Keys(vec!["5".into(), "6".into()]));
        let skipped: Vec<(&str, usize)> = file.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(skipped, [(":debug-topic-partitions", 1), (":nemesis process", 1)]);
    }

    #[test]
    fn a_history_in_one_vector_reads_the_same_with_default_index_and_time() {
        let text = "; a comment\n[{:type :invoke, :process 0, :f :poll, :value [[:poll]]}\n {:type :ok, :process 0, :f :poll, :value [[:poll {:x [[0 \"a\"]]}]]}]\n#_ {:ignored true}\n";
        let file = read_history_edn(text).unwrap();
        assert_eq!(file.ops.iter().map(|op| (op.index, op.time_ns)).collect::<Vec<_>>(), [(0, 0), (1, 0)]);
        let polled: PolledRecords = [("x".to_string(), vec![(0, ValueNames::FIRST_ID)])].into_iter().collect();
        assert_eq!(file.ops[1].micro_ops(), [MicroOp::Poll { records: Some(polled) }]);
        assert_eq!(file.values.render(ValueNames::FIRST_ID), "\"a\"");
    }

    #[test]
    fn record_keys_read_from_edn_and_round_trip_through_json() {
        let text = r#"{:index 0, :time 1, :type :invoke, :process 0, :f :send, :value [[:send "orders-2" 17] [:send "orders-0" :a]], :record-keys {17 "key-3", :a "key-1"}}"#;
        let file = read_history_edn(text).unwrap();
        let a = ValueNames::FIRST_ID;
        let keys: std::collections::BTreeMap<u64, std::sync::Arc<str>> =
            [(17, "key-3".into()), (a, "key-1".into())].into_iter().collect();
        assert_eq!(file.ops[0].record_keys, Some(keys));
        // No EDN writer: the JSON line kafkasim writes reads back as the same op.
        let mut out = Vec::new();
        crate::history::write_history_jsonl(&file.ops, &mut out).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(line.contains(&format!(r#""record_keys":{{"17":"key-3","{a}":"key-1"}}"#)), "{line}");
        assert_eq!(crate::history::read_history_jsonl(line.as_bytes()).unwrap().ops, file.ops);
        let err =
            read_history_edn(r#"{:type :invoke, :process 0, :f :send, :value [], :record-keys {17 :k}}"#).unwrap_err();
        assert_eq!(err.to_string(), "1:67: `:record-keys`: expected the record key of 17 (a string), got :k");
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read_history_edn("{:type :invoke, :process 0, :f :send, :value [[:send 5 1]]}\n{:type :ok, :process 0, :f :send, :value [[:send 5 [1 [2]]]]}\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 55));
        assert!(err.message.starts_with("`:value`: send: expected a value"), "{err}");
        let err = read_history_edn("{:type :maybe, :process 0, :f :send}").unwrap_err();
        assert_eq!(err.to_string(), "1:8: `:type`: expected one of :invoke, :ok, :fail, :info, got :maybe");
        let err = read_history_edn("{:type :ok, :f :send}").unwrap_err();
        assert_eq!(err.to_string(), "1:1: missing key `:process`");
        let err = read_history_edn("\n\n  {:type :ok, :process 0, :f :send, :value [[:send 5 1]]").unwrap_err();
        assert!(err.message.starts_with("not valid EDN: unexpected end of file"), "{err}");
        let err = read_history_edn("[:send 1]").unwrap_err();
        assert_eq!((err.line, err.column), (1, 2));
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        assert!(read_history_edn(&deep).unwrap_err().message.contains("nested more than"));
        let deeper = format!("{{:value {}{}}}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert!(read_history_edn(&deeper).unwrap_err().message.contains("nested more than"));
        let unclosed = "[".repeat(1_000_000);
        assert!(read_history_edn(&unclosed).unwrap_err().message.contains("unexpected end of file"));
    }
}
