//! Ops from parsed forms ([`Doc`]), for both history syntaxes: the fields and value
//! shapes of the history format, values turned into `u64` through [`ValueNames`], and
//! errors that say which part of the op is wrong, where, and what was expected.
//!
//! What is accepted, beyond what kafkasim itself writes:
//!
//! - a record value may be any scalar (see [`ValueNames`] for how it becomes a `u64`);
//! - a key may be a string or an integer, and an integer key is the string of its
//!   decimal digits (JSON object keys are strings anyway, so `3` and `"3"` are one key);
//!   an EDN keyword key is its name (`:x` is the key `x`);
//! - names (`type`, `f`, micro-op tags) may be strings or EDN keywords;
//! - EDN only: ops of a process that is not an integer (Jepsen's `:nemesis`) and ops
//!   whose `f` kafkasim does not check (Jepsen's `:debug-topic-partitions`) are skipped
//!   and counted; `:index` defaults to the op's position in the file, `:time` to 0.
//!   JSON Lines, kafkasim's own format, still rejects such ops;
//! - fields the format does not define (Jepsen's `:rebalance-log`, `:poll-ms`, ...)
//!   are ignored in both syntaxes;
//! - the optional record keys of a keyed send are `"record_keys"` in JSON and
//!   `:record-keys` in EDN (EDN spells its keywords with dashes), and so is the optional
//!   delay of a delay queue's send: `"delay"` with `"due_after_ms"` and `"late_after_ms"`,
//!   `:delay` with `:due-after-ms` and `:late-after-ms`.

use super::doc::{float_text, Doc, DocKind, Pos, Syntax};
use super::op::{GroupContext, MicroOp, Op, OpFn, OpType, OpValue, PolledRecords, RecordDelay};
use super::rewind::{Rewind, RewindMove};
use super::values::ValueNames;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Something wrong in an op, and where.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FieldError {
    /// Where the offending node starts (line 0 when unknown).
    pub at: Pos,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FieldError {
    fn new(at: Pos, message: impl Into<String>) -> Self {
        FieldError { at, message: message.into() }
    }

    /// The same error under a heading such as ``field `value` ``.
    fn within(mut self, heading: &str) -> Self {
        self.message = format!("{heading}: {}", self.message);
        self
    }
}

/// What a form turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Read {
    /// A client op to check (boxed: an op is many times a skipped form's size).
    Op(Box<Op>),
    /// An op kafkasim does not check, with what it was (`:nemesis` process,
    /// `:debug-topic-partitions`), for the count of skipped ops.
    Skipped(String),
}

/// Reads ops of one file, in one syntax, into one table of value names.
pub(super) struct OpReader<'n> {
    syntax: Syntax,
    names: &'n mut ValueNames,
}

type Result<T> = std::result::Result<T, FieldError>;

impl<'n> OpReader<'n> {
    /// A reader for ops in `syntax` that interns values into `names`.
    pub fn new(syntax: Syntax, names: &'n mut ValueNames) -> Self {
        OpReader { syntax, names }
    }

    /// A field as messages name it: ``field `type` `` in JSON, `` `:type` `` in EDN.
    fn field_name(&self, name: &str) -> String {
        match self.syntax {
            Syntax::Json => format!("field `{name}`"),
            Syntax::Edn => format!("`:{name}`"),
        }
    }

    /// Names as this syntax spells them, for "expected one of" lists.
    fn spellings(&self, names: &[&str]) -> String {
        let prefix = if self.syntax == Syntax::Edn { ":" } else { "" };
        names.iter().map(|n| format!("{prefix}{n}")).collect::<Vec<_>>().join(", ")
    }

    fn got(&self, doc: &Doc) -> String {
        let text = doc.render(self.syntax);
        if text.chars().count() > 60 {
            format!("{}...", text.chars().take(57).collect::<String>())
        } else {
            text
        }
    }

    /// Reads one op; `ordinal` (its position in the file, from 0) is its index when
    /// an EDN op has none.
    pub fn op(&mut self, doc: &Doc, ordinal: u64) -> Result<Read> {
        if !matches!(doc.kind, DocKind::Map(_)) {
            let expected = match self.syntax {
                Syntax::Json => "expected a JSON object",
                Syntax::Edn => "expected an op map such as {:type :invoke, :f :send, :value [...], :process 0}",
            };
            return Err(FieldError::new(doc.at, format!("{expected}, got {}", self.got(doc))));
        }
        let edn = self.syntax == Syntax::Edn;
        let process_doc = self.required(doc, "process")?;
        if edn && !matches!(process_doc.kind, DocKind::Int(_)) {
            return Ok(Read::Skipped(format!("{} process", process_doc.render(self.syntax))));
        }
        let process = self.uint_field(doc, "process")?;
        let kind_doc = self.required(doc, "type")?;
        let kind = kind_doc.as_name().and_then(OpType::parse).ok_or_else(|| {
            FieldError::new(
                kind_doc.at,
                format!(
                    "{}: expected one of {}, got {}",
                    self.field_name("type"),
                    self.spellings(&["invoke", "ok", "fail", "info"]),
                    self.got(kind_doc)
                ),
            )
        })?;
        let f_doc = self.required(doc, "f")?;
        let Some(f) = f_doc.as_name().and_then(OpFn::parse) else {
            if edn {
                return Ok(Read::Skipped(f_doc.render(self.syntax)));
            }
            let all = ["send", "poll", "txn", "assign", "subscribe", "crash", "commit", "process"];
            return Err(FieldError::new(
                f_doc.at,
                format!("{}: expected one of {}, got {}", self.field_name("f"), self.spellings(&all), self.got(f_doc)),
            ));
        };
        let index = match doc.field("index") {
            None if edn => ordinal,
            _ => self.uint_field(doc, "index")?,
        };
        let time_ns = match doc.field("time") {
            None if edn => 0,
            _ => self.uint_field(doc, "time")?,
        };
        let null = Doc { kind: DocKind::Null, at: doc.at };
        let value_doc = doc.field("value").unwrap_or(&null);
        let value = self.value(f, value_doc).map_err(|e| e.within(&self.field_name("value")))?;
        let error = match doc.field("error") {
            None => None,
            Some(Doc { kind: DocKind::Null, .. }) => None,
            Some(Doc { kind: DocKind::Str(s), .. }) => Some(s.clone()),
            Some(other) => Some(other.render(self.syntax)),
        };
        let group = match doc.field("group") {
            None => None,
            Some(g) if g.is_null() => None,
            Some(g) => {
                // A consumer-protocol member's op names its member epoch instead.
                let (epoch_name, protocol) = match doc.field("member_epoch") {
                    Some(_) => ("member_epoch", crate::protocol::GroupProtocol::Consumer),
                    None => ("generation", crate::protocol::GroupProtocol::Classic),
                };
                Some(GroupContext {
                    group: self.string(g, "group")?,
                    member: self.string(self.required(doc, "member")?, "member")?,
                    generation: u32::try_from(self.uint_field(doc, epoch_name)?).map_err(|_| {
                        FieldError::new(
                            doc.field(epoch_name).map_or(doc.at, |g| g.at),
                            format!("{}: expected a 32-bit integer", self.field_name(epoch_name)),
                        )
                    })?,
                    protocol,
                    instance: match doc.field("instance") {
                        None => None,
                        Some(i) if i.is_null() => None,
                        Some(i) => Some(self.string(i, "instance")?),
                    },
                })
            }
        };
        let record_keys = self.record_keys(doc)?;
        let delay = self.delay(doc)?;
        Ok(Read::Op(Box::new(Op { index, time_ns, process, kind, f, value, error, group, record_keys, delay })))
    }

    /// The optional delay of a delay queue's send: `"delay": {"due_after_ms": 1000,
    /// "late_after_ms": 6100}` in JSON, `:delay {:due-after-ms 1000, :late-after-ms 6100}`
    /// in EDN; the record cannot be late before it is due.
    fn delay(&mut self, doc: &Doc) -> Result<Option<RecordDelay>> {
        let Some(map_doc) = doc.field("delay").filter(|d| !d.is_null()) else { return Ok(None) };
        let (due, late) = match self.syntax {
            Syntax::Json => ("due_after_ms", "late_after_ms"),
            Syntax::Edn => ("due-after-ms", "late-after-ms"),
        };
        if !matches!(map_doc.kind, DocKind::Map(_)) {
            let expected = format!("a map of `{due}` and `{late}`");
            let message = format!("{}: expected {expected}, got {}", self.field_name("delay"), self.got(map_doc));
            return Err(FieldError::new(map_doc.at, message));
        }
        let within = |e: FieldError| e.within(&self.field_name("delay"));
        let due_after_ms = self.uint_field(map_doc, due).map_err(within)?;
        let late_after_ms = self.uint_field(map_doc, late).map_err(within)?;
        if late_after_ms < due_after_ms {
            let message = format!(
                "{}: expected `{late}` ({late_after_ms}) at least `{due}` ({due_after_ms}): a record cannot be late \
                 before it is due",
                self.field_name("delay")
            );
            return Err(FieldError::new(map_doc.at, message));
        }
        Ok(Some(RecordDelay { due_after_ms, late_after_ms }))
    }

    /// The optional map of record keys: `"record_keys": {"17": "key-3"}` in JSON,
    /// `:record-keys {17 "key-3"}` in EDN. A key of the map is a record value, read as
    /// values are; a JSON object key is always a string, so there the decimal text of an
    /// integer stands for that integer (as kafkasim writes it) and any other text for the
    /// string value.
    fn record_keys(&mut self, doc: &Doc) -> Result<Option<BTreeMap<u64, Arc<str>>>> {
        let name = match self.syntax {
            Syntax::Json => "record_keys",
            Syntax::Edn => "record-keys",
        };
        let map_doc = match doc.field(name) {
            None => return Ok(None),
            Some(d) if d.is_null() => return Ok(None),
            Some(d) => d,
        };
        let DocKind::Map(entries) = &map_doc.kind else {
            let message =
                format!("{}: expected a map of value -> record key, got {}", self.field_name(name), self.got(map_doc));
            return Err(FieldError::new(map_doc.at, message));
        };
        let mut keys = BTreeMap::new();
        for (value_doc, key_doc) in entries {
            let value = match (&value_doc.kind, self.syntax) {
                (DocKind::Str(text), Syntax::Json) => match text.parse::<i128>() {
                    Ok(n) if n.to_string() == *text => {
                        self.record_value(&Doc { kind: DocKind::Int(n), at: value_doc.at })
                    }
                    _ => self.record_value(value_doc),
                },
                _ => self.record_value(value_doc),
            }
            .map_err(|e| e.within(&self.field_name(name)))?;
            let DocKind::Str(key) = &key_doc.kind else {
                let message = format!(
                    "{}: expected the record key of {} (a string), got {}",
                    self.field_name(name),
                    self.got(value_doc),
                    self.got(key_doc)
                );
                return Err(FieldError::new(key_doc.at, message));
            };
            keys.insert(value, Arc::from(key.as_str()));
        }
        Ok(Some(keys))
    }

    fn required<'d>(&self, doc: &'d Doc, name: &str) -> Result<&'d Doc> {
        doc.field(name).ok_or_else(|| {
            let field = match self.syntax {
                Syntax::Json => format!("field `{name}`"),
                Syntax::Edn => format!("key `:{name}`"),
            };
            FieldError::new(doc.at, format!("missing {field}"))
        })
    }

    fn uint_field(&self, doc: &Doc, name: &str) -> Result<u64> {
        let field = self.required(doc, name)?;
        int_below_2_63(field).ok_or_else(|| {
            FieldError::new(
                field.at,
                format!("{}: expected a non-negative integer, got {}", self.field_name(name), self.got(field)),
            )
        })
    }

    fn string(&self, doc: &Doc, name: &str) -> Result<String> {
        match &doc.kind {
            DocKind::Str(s) => Ok(s.clone()),
            _ => Err(FieldError::new(
                doc.at,
                format!("{}: expected a string, got {}", self.field_name(name), self.got(doc)),
            )),
        }
    }

    /// An op's value, by function.
    fn value(&mut self, f: OpFn, doc: &Doc) -> Result<OpValue> {
        match f {
            OpFn::Send | OpFn::Poll | OpFn::Txn => {
                let mops = doc.as_list().ok_or_else(|| {
                    FieldError::new(doc.at, format!("expected a list of micro-ops, got {}", self.got(doc)))
                })?;
                Ok(OpValue::Txn(mops.iter().map(|m| self.micro_op(m)).collect::<Result<_>>()?))
            }
            OpFn::Assign | OpFn::Subscribe | OpFn::Revoke | OpFn::Lose => {
                let keys = doc.as_list().ok_or_else(|| {
                    FieldError::new(doc.at, format!("expected a list of keys, got {}", self.got(doc)))
                })?;
                keys.iter().map(|k| self.key(k)).collect::<Result<_>>().map(OpValue::Keys)
            }
            OpFn::Commit => {
                if doc.is_null() {
                    return Ok(OpValue::Nil);
                }
                let DocKind::Map(entries) = &doc.kind else {
                    return Err(FieldError::new(
                        doc.at,
                        format!("expected a map of key -> offset, got {}", self.got(doc)),
                    ));
                };
                let mut offsets = BTreeMap::new();
                for (k, o) in entries {
                    let key = self.key(k)?;
                    let offset = self.offset(o).map_err(|e| e.within(&format!("offset for `{key}`")))?;
                    offsets.insert(key, offset);
                }
                Ok(OpValue::Offsets(offsets))
            }
            OpFn::Process | OpFn::DeadLetter => {
                if doc.is_null() {
                    return Ok(OpValue::Nil);
                }
                Ok(OpValue::Records(self.records(doc)?))
            }
            OpFn::Crash => Ok(OpValue::Nil),
            OpFn::Rewind => self.rewind(doc).map(OpValue::Rewind),
        }
    }

    /// A `rewind` op's value (see [`Rewind`]): `{"to_time_ms": T, "group": G,
    /// "partitions": {KEY: [FROM, TO], ...}}`, every key optional, `null` for an unknown
    /// `FROM` or a `TO` that a lookup by time did not find.
    fn rewind(&mut self, doc: &Doc) -> Result<Rewind> {
        let DocKind::Map(entries) = &doc.kind else {
            let message = format!(
                "expected a map such as {}, got {}",
                match self.syntax {
                    Syntax::Json => r#"{"to_time_ms": 2000, "partitions": {"orders-0": [57, 12]}}"#,
                    Syntax::Edn => r#"{:to-time-ms 2000, :partitions {"orders-0" [57 12]}}"#,
                },
                self.got(doc)
            );
            return Err(FieldError::new(doc.at, message));
        };
        let names: [&str; 3] = match self.syntax {
            Syntax::Json => ["to_time_ms", "group", "partitions"],
            Syntax::Edn => ["to-time-ms", "group", "partitions"],
        };
        let mut rewind = Rewind::default();
        for (name_doc, value) in entries {
            let Some(index) = names.iter().position(|n| name_doc.is_name(n)) else {
                let shown = name_doc.as_name().map_or_else(|| name_doc.render(self.syntax), str::to_string);
                let message = format!("unknown key `{shown}`; expected {}", self.spellings(&names));
                return Err(FieldError::new(name_doc.at, message));
            };
            let within = |e: FieldError| e.within(&format!("`{}`", names[index]));
            match index {
                0 => {
                    let ms = int_below_2_63(value).ok_or_else(|| {
                        FieldError::new(value.at, format!("expected a time in milliseconds, got {}", self.got(value)))
                    });
                    rewind.to_time_ms = Some(ms.map_err(within)?);
                }
                1 => rewind.group = Some(self.string(value, names[index])?),
                _ => rewind.partitions = self.rewind_moves(value).map_err(within)?,
            }
        }
        Ok(rewind)
    }

    /// `{KEY: [FROM, TO], ...}`, each of `FROM` and `TO` an offset or `null`.
    fn rewind_moves(&self, doc: &Doc) -> Result<BTreeMap<String, RewindMove>> {
        let DocKind::Map(entries) = &doc.kind else {
            let message = format!("expected a map of key -> [from, to], got {}", self.got(doc));
            return Err(FieldError::new(doc.at, message));
        };
        let mut moves = BTreeMap::new();
        for (k, pair) in entries {
            let key = self.key(k)?;
            let offset_or_null = |d: &Doc| if d.is_null() { Ok(None) } else { self.offset(d).map(Some) };
            let read = match pair.as_list() {
                Some([from, to]) => {
                    offset_or_null(from).and_then(|from| Ok(RewindMove { from, to: offset_or_null(to)? }))
                }
                _ => Err(FieldError::new(pair.at, format!("expected [from, to], got {}", self.got(pair)))),
            };
            moves.insert(key.clone(), read.map_err(|e| e.within(&format!("partition `{key}`")))?);
        }
        Ok(moves)
    }

    fn micro_op(&mut self, doc: &Doc) -> Result<MicroOp> {
        let expected = match self.syntax {
            Syntax::Json => "expected a [\"send\", ...] or [\"poll\", ...] micro-op",
            Syntax::Edn => "expected a [:send ...] or [:poll ...] micro-op",
        };
        let Some(parts) = doc.as_list() else {
            return Err(FieldError::new(doc.at, format!("{expected}, got {}", self.got(doc))));
        };
        match parts.first().and_then(Doc::as_name) {
            Some("send") => {
                let key_doc = parts.get(1).ok_or_else(|| FieldError::new(doc.at, "send: missing the key"))?;
                let key = self.key(key_doc).map_err(|e| e.within("send"))?;
                let payload = parts.get(2).ok_or_else(|| FieldError::new(doc.at, "send: missing the value"))?;
                let (offset, value) = match payload.as_list() {
                    // Jepsen writes `[nil v]` for a send whose offset the client never
                    // learned: the value without an offset.
                    Some([o, v]) if o.is_null() => (None, self.record_value(v)),
                    Some([o, v]) => (Some(self.offset(o)), self.record_value(v)),
                    Some(_) => {
                        let message = format!("send: expected [offset, value] or a value, got {}", self.got(payload));
                        return Err(FieldError::new(payload.at, message));
                    }
                    None => (None, self.record_value(payload)),
                };
                let offset = offset.transpose().map_err(|e| e.within("send"))?;
                let value = value.map_err(|e| e.within("send"))?;
                Ok(MicroOp::Send { key: key.into(), value, offset })
            }
            Some("poll") => {
                let records = match parts.get(1) {
                    None => None,
                    Some(d) if d.is_null() => None,
                    Some(d) => Some(self.records(d).map_err(|e| e.within("poll"))?),
                };
                Ok(MicroOp::Poll { records })
            }
            _ => Err(FieldError::new(doc.at, format!("{expected}, got {}", self.got(doc)))),
        }
    }

    /// `{KEY: [[OFFSET, VALUE], ...]}`.
    fn records(&mut self, doc: &Doc) -> Result<PolledRecords> {
        let DocKind::Map(entries) = &doc.kind else {
            let message = format!("expected a map of key -> [[offset, value], ...], got {}", self.got(doc));
            return Err(FieldError::new(doc.at, message));
        };
        let mut records = PolledRecords::new();
        for (k, pairs_doc) in entries {
            let key = self.key(k)?;
            let pairs = pairs_doc.as_list().ok_or_else(|| {
                FieldError::new(
                    pairs_doc.at,
                    format!("records of `{key}`: expected a list, got {}", self.got(pairs_doc)),
                )
            })?;
            let mut list = Vec::with_capacity(pairs.len());
            for pair in pairs {
                let read = match pair.as_list() {
                    Some([o, v]) => self.offset(o).and_then(|o| Ok((o, self.record_value(v)?))),
                    _ => Err(FieldError::new(pair.at, format!("expected [offset, value], got {}", self.got(pair)))),
                };
                list.push(read.map_err(|e| e.within(&format!("records of `{key}`")))?);
            }
            // `3` and `"3"` are one key: their records go together.
            records.entry(key).or_default().extend(list);
        }
        Ok(records)
    }

    /// A key: a string, an integer (its decimal text) or a keyword (its name).
    fn key(&self, doc: &Doc) -> Result<String> {
        match &doc.kind {
            DocKind::Str(s) | DocKind::Keyword(s) => Ok(s.clone()),
            DocKind::Int(n) => Ok(n.to_string()),
            _ => {
                Err(FieldError::new(doc.at, format!("expected a key (a string or an integer), got {}", self.got(doc))))
            }
        }
    }

    /// An offset: a non-negative integer below 2^63 (Kafka's offsets are signed 64-bit).
    fn offset(&self, doc: &Doc) -> Result<u64> {
        int_below_2_63(doc).ok_or_else(|| {
            FieldError::new(doc.at, format!("expected an offset (a non-negative integer), got {}", self.got(doc)))
        })
    }

    /// A record value: a non-negative integer below 2^63 as itself, any other scalar as
    /// its id in the table of names.
    fn record_value(&mut self, doc: &Doc) -> Result<u64> {
        if let Some(v) = int_below_2_63(doc) {
            return Ok(v);
        }
        let (text, json) = match &doc.kind {
            DocKind::Null => (doc.render(self.syntax), Value::Null),
            DocKind::Bool(b) => (b.to_string(), Value::Bool(*b)),
            DocKind::Int(n) => (n.to_string(), int_json(*n)),
            DocKind::Float(x) => {
                (float_text(*x), serde_json::Number::from_f64(*x).map_or(Value::String(x.to_string()), Value::Number))
            }
            DocKind::Str(s) => (doc.render(self.syntax), Value::String(s.clone())),
            DocKind::Keyword(_) | DocKind::Other(_) => {
                let text = doc.render(self.syntax);
                (text.clone(), Value::String(text))
            }
            DocKind::List(_) | DocKind::Map(_) => {
                let message =
                    format!("expected a value (a number, string, keyword or other scalar), got {}", self.got(doc));
                return Err(FieldError::new(doc.at, message));
            }
        };
        Ok(self.names.intern(text, json))
    }
}

/// An integer from 0 to 2^63 - 1.
fn int_below_2_63(doc: &Doc) -> Option<u64> {
    match doc.kind {
        DocKind::Int(n) if (0..=i128::from(i64::MAX)).contains(&n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// An integer as a JSON number (every integer a file can hold fits `i64` or `u64`).
fn int_json(n: i128) -> Value {
    match (i64::try_from(n), u64::try_from(n)) {
        (Ok(i), _) => Value::from(i),
        (_, Ok(u)) => Value::from(u),
        _ => Value::String(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_json(text: &str, names: &mut ValueNames) -> Result<Op> {
        let doc = Doc::from_json_text(text, 1).map_err(|(c, m)| FieldError::new(Pos { line: 1, column: c }, m))?;
        match OpReader::new(Syntax::Json, names).op(&doc, 0)? {
            Read::Op(op) => Ok(*op),
            Read::Skipped(what) => panic!("JSON ops are never skipped, got {what}"),
        }
    }

    fn send(key: &str, value: u64, offset: Option<u64>) -> MicroOp {
        MicroOp::Send { key: key.into(), value, offset }
    }

    #[test]
    fn any_scalar_is_a_value_and_integer_keys_are_their_digits() {
        let mut names = ValueNames::default();
        let line = r#"{"index":0,"time":0,"process":0,"type":"ok","f":"txn","value":[["send",3,"a"],["send","3",[4,-1]],["send",3,[null,2.5]],["send",3,true],["poll",{"3":[[0,"a"],[1,7]]}]]}"#;
        let op = read_json(line, &mut names).unwrap();
        let a = ValueNames::FIRST_ID;
        let records: PolledRecords = [("3".to_string(), vec![(0, a), (1, 7)])].into_iter().collect();
        assert_eq!(
            op.value,
            OpValue::Txn(vec![
                send("3", a, None),
                send("3", a + 1, Some(4)),
                send("3", a + 2, None),
                send("3", a + 3, None),
                MicroOp::Poll { records: Some(records) },
            ])
        );
        let texts: Vec<String> = (0..4).map(|i| names.render(a + i)).collect();
        assert_eq!(texts, ["\"a\"", "-1", "2.5", "true"]);
        assert_eq!(names.to_json(a + 1), serde_json::json!(-1));
    }

    #[test]
    fn integers_below_two_to_the_63_stand_for_themselves() {
        let mut names = ValueNames::default();
        let line = r#"{"index":0,"time":0,"process":0,"type":"ok","f":"send","value":[["send","k",[1,9223372036854775807]],["send","k",9223372036854775808]]}"#;
        let op = read_json(line, &mut names).unwrap();
        assert_eq!(op.micro_ops()[0], send("k", i64::MAX as u64, Some(1)));
        assert_eq!(op.micro_ops()[1], send("k", ValueNames::FIRST_ID, None));
        assert_eq!(names.render(ValueNames::FIRST_ID), "9223372036854775808");
    }

    #[test]
    fn errors_point_at_the_offending_part() {
        let mut names = ValueNames::default();
        let line = r#"{"index":0,"time":0,"process":0,"type":"ok","f":"send","value":[["send","k",[1,[2]]]]}"#;
        let e = read_json(line, &mut names).unwrap_err();
        assert_eq!(e.at, Pos { line: 1, column: 80 });
        assert!(e.message.starts_with("field `value`: send: expected a value"), "{}", e.message);
        let line = r#"{"index":0,"time":0,"process":0,"type":"ok","f":"poll","value":[["poll",{"k":[[-1,2]]}]]}"#;
        let e = read_json(line, &mut names).unwrap_err();
        assert_eq!(e.at.column, 80);
        assert!(e.message.contains("records of `k`: expected an offset"), "{}", e.message);
        let e = read_json(r#"{"index":0,"time":0,"type":"ok","f":"send"}"#, &mut names).unwrap_err();
        assert_eq!((e.at.column, e.message.as_str()), (1, "missing field `process`"));
        let e = read_json(r#"{"index":0,"time":0,"process":0,"type":"ok","f":"debug"}"#, &mut names).unwrap_err();
        assert_eq!(e.at.column, 49);
        assert!(e.message.starts_with("field `f`: expected one of send, poll"), "{}", e.message);
    }
}
