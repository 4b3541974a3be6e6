//! Client operations, in the Jepsen Kafka workload's shape.

use super::doc::{Doc, Syntax};
use super::parse::{OpReader, Read};
use super::rewind::Rewind;
use super::values::ValueNames;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Jepsen process ids from here on belong to the liveness phase's final drain, which
/// the runner starts after every client: above any id a client can take.
pub const DRAIN_PROCESS: u64 = 1_000_000;

/// Jepsen process ids from here (up to [`DRAIN_PROCESS`]) belong to the administrator's
/// group offset resets (`rewind` events with a `group`), one per `[[events]]` entry:
/// above any id a client takes in a run.
pub const ADMIN_PROCESS: u64 = 900_000;

/// Records a poll returned, per key (topic-partition): `(offset, value)` in log order.
pub type PolledRecords = BTreeMap<String, Vec<(u64, u64)>>;

/// Whether an op is the start or the end of an operation, and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpType {
    /// The operation started.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Its outcome is unknown (e.g. a timeout).
    Info,
}

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpFn {
    /// Produce records.
    Send,
    /// Consume records.
    Poll,
    /// Sends and polls in one operation.
    Txn,
    /// Standalone assignment of keys to a consumer (resets its position).
    Assign,
    /// Group subscription (resets its position).
    Subscribe,
    /// The client process crashed; a new process id takes over.
    Crash,
    /// A consumer committed offsets.
    Commit,
    /// A consumer finished processing records.
    Process,
    /// A group member gave partitions up while still in its group (Kafka's
    /// `onPartitionsRevoked`); value: the keys.
    Revoke,
    /// A group member's partitions were taken from it without a revocation (Kafka's
    /// `onPartitionsLost`: it was no longer in the group); value: the keys.
    Lose,
    /// A group member gave up processing records (every attempt failed) and routes them
    /// to its dead-letter topic instead of its output; value: the records, as for
    /// `process`; recorded as a bare `ok`, before the dead-letter send, with the
    /// processing failure as its `error` (what Kafka Connect writes in a dead-letter
    /// record's `__connect.errors.exception.message` header).
    DeadLetter,
    /// A consumer moved its positions on purpose (`offsetsForTimes` and `seek`), or an
    /// administrator reset a group's committed offsets; value: a [`Rewind`].
    Rewind,
}

/// One micro-operation of a send, poll or txn.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MicroOp {
    /// `["send", KEY, VALUE]`, or `["send", KEY, [OFFSET, VALUE]]` once acknowledged.
    Send {
        /// The topic-partition, e.g. `orders-2` (shared: a run writes it twice per
        /// record).
        key: Arc<str>,
        /// The value written.
        value: u64,
        /// The offset the broker assigned, when known.
        offset: Option<u64>,
    },
    /// `["poll"]`, or `["poll", {KEY: [[OFFSET, VALUE], ...]}]` once completed.
    Poll {
        /// The records returned, when completed.
        records: Option<PolledRecords>,
    },
}

/// The value of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OpValue {
    /// Micro-operations (for `send`, `poll` and `txn`).
    Txn(Vec<MicroOp>),
    /// Keys (for `assign`, `subscribe`, `revoke` and `lose`).
    Keys(Vec<String>),
    /// Offsets per key (for `commit`: the next offset to consume).
    Offsets(BTreeMap<String, u64>),
    /// Records per key (for `process` and `dead-letter`).
    Records(PolledRecords),
    /// No value (`crash`).
    Nil,
    /// What a rewind asked for and did (for `rewind`).
    Rewind(Rewind),
}

/// One line of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Position in the history, from 0.
    pub index: u64,
    /// Simulated time, in nanoseconds since the run started.
    pub time_ns: u64,
    /// The client process (a crashed client comes back with a new process id).
    pub process: u64,
    /// Invoke, ok, fail or info.
    pub kind: OpType,
    /// The function.
    pub f: OpFn,
    /// The value.
    pub value: OpValue,
    /// Why the operation failed or is unknown, for completions that carry one; for a
    /// `dead-letter`, why processing the records failed.
    pub error: Option<String>,
    /// The consumer group context of a group member's op (`"group"`, `"member"` and
    /// `"generation"` in the JSON line), for the consumer-group checkers.
    pub group: Option<GroupContext>,
    /// The Kafka record key of each keyed record an op writes, by value (`"record_keys"`
    /// in the JSON line, `:record-keys` in EDN): on the invocation of a `send` or `txn`
    /// whose records carry keys, for the checkers that follow one key's records across
    /// partitions. `None` for every other op, and then absent from the line.
    pub record_keys: Option<BTreeMap<u64, Arc<str>>>,
    /// The delay every record of the op asks for (`"delay"` in the JSON line, `:delay`
    /// in EDN): on the invocation of a `send` or `txn` to a delay queue's tier topic,
    /// for the [`delay_queue`](crate::check::delay_queue) checker. `None` for every
    /// other op, and then absent from the line.
    pub delay: Option<RecordDelay>,
}

/// When a delay queue must deliver a record, relative to the record's timestamp (its
/// producer's create time, Kafka's `CreateTime`): not before `due_after_ms`, and not
/// later than `late_after_ms`. Written `{"due_after_ms": 1000, "late_after_ms": 6100}`
/// (EDN `{:due-after-ms 1000, :late-after-ms 6100}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RecordDelay {
    /// The tier's delay: the record is due this long after its timestamp.
    pub due_after_ms: u64,
    /// The record is late if it has not been forwarded this long after its timestamp
    /// (the delay plus the queue's bound); never below `due_after_ms`.
    pub late_after_ms: u64,
}

impl RecordDelay {
    /// The JSON object of the delay, as the history writes it.
    fn to_json(self) -> Value {
        json!({"due_after_ms": self.due_after_ms, "late_after_ms": self.late_after_ms})
    }
}

/// Field by field, as `derive(Hash)` would, except that `record_keys` and `delay` add
/// nothing when they are `None`: the trace hash of a history without them stays what it
/// was before the fields existed (the committed reports and determinism tests pin them).
impl std::hash::Hash for Op {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let Op { index, time_ns, process, kind, f, value, error, group, record_keys, delay } = self;
        index.hash(state);
        time_ns.hash(state);
        process.hash(state);
        kind.hash(state);
        f.hash(state);
        value.hash(state);
        error.hash(state);
        group.hash(state);
        if let Some(keys) = record_keys {
            keys.hash(state);
        }
        if let Some(delay) = delay {
            delay.hash(state);
        }
    }
}

/// Which group member did an op, in which generation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupContext {
    /// The `group.id`.
    pub group: String,
    /// The member id the coordinator assigned.
    pub member: String,
    /// The group generation the member was in.
    pub generation: u32,
    /// The member's `group.instance.id`, if it is static (`"instance"` in the JSON
    /// line): successive member ids of one instance are one member restarted.
    pub instance: Option<String>,
    /// The group protocol. Under the consumer protocol (KIP-848) `generation` is the
    /// member's own epoch, which the JSON line writes as `"member_epoch"` instead of
    /// `"generation"`.
    pub protocol: crate::protocol::GroupProtocol,
}

impl GroupContext {
    /// Who owns what this member is assigned: its `group.instance.id` when it is static
    /// (a restarted static member is the same owner under a new member id), else its
    /// member id.
    pub fn owner(&self) -> &str {
        self.instance.as_deref().unwrap_or(&self.member)
    }
}

impl OpType {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "invoke" => OpType::Invoke,
            "ok" => OpType::Ok,
            "fail" => OpType::Fail,
            "info" => OpType::Info,
            _ => return None,
        })
    }
}

impl OpFn {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OpFn::Send => "send",
            OpFn::Poll => "poll",
            OpFn::Txn => "txn",
            OpFn::Assign => "assign",
            OpFn::Subscribe => "subscribe",
            OpFn::Crash => "crash",
            OpFn::Commit => "commit",
            OpFn::Process => "process",
            OpFn::Revoke => "revoke",
            OpFn::Lose => "lose",
            OpFn::DeadLetter => "dead-letter",
            OpFn::Rewind => "rewind",
        }
    }

    /// Whether the op writes records (`send` and `txn`).
    pub fn writes(self) -> bool {
        matches!(self, OpFn::Send | OpFn::Txn)
    }

    /// Whether kafkasim records the op as a bare completion, with no invocation of its
    /// own (`process` and `dead-letter`: what an application did, not what it attempted).
    pub fn is_recorded_bare(self) -> bool {
        matches!(self, OpFn::Process | OpFn::DeadLetter)
    }

    pub(super) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "send" => OpFn::Send,
            "poll" => OpFn::Poll,
            "txn" => OpFn::Txn,
            "assign" => OpFn::Assign,
            "subscribe" => OpFn::Subscribe,
            "crash" => OpFn::Crash,
            "commit" => OpFn::Commit,
            "process" => OpFn::Process,
            "revoke" => OpFn::Revoke,
            "lose" => OpFn::Lose,
            "dead-letter" => OpFn::DeadLetter,
            "rewind" => OpFn::Rewind,
            _ => return None,
        })
    }
}

impl Op {
    /// Whether this completion stands alone rather than completing the process's
    /// `outstanding` invocation: a group member's bare `process` or `dead-letter`
    /// completion (it records what happened, not what was attempted) beside any op but
    /// an invocation of its own function — an asynchronous commit may be in flight while
    /// the member processes, a pipeline's send or txn op while it dead-letters.
    pub fn stands_alone_beside(&self, outstanding: Option<OpFn>) -> bool {
        self.f.is_recorded_bare() && self.kind != OpType::Invoke && outstanding != Some(self.f)
    }

    /// The micro-operations, for `send`, `poll` and `txn` ops (empty otherwise).
    pub fn micro_ops(&self) -> &[MicroOp] {
        match &self.value {
            OpValue::Txn(mops) => mops,
            _ => &[],
        }
    }

    /// The JSON object of this op, in the history format.
    pub fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("index".into(), json!(self.index));
        object.insert("time".into(), json!(self.time_ns));
        object.insert("process".into(), json!(self.process));
        object.insert("type".into(), json!(self.kind.as_str()));
        object.insert("f".into(), json!(self.f.as_str()));
        object.insert("value".into(), value_to_json(&self.value));
        if let Some(error) = &self.error {
            object.insert("error".into(), json!(error));
        }
        if let Some(keys) = &self.record_keys {
            // JSON object keys are strings: the value's decimal number.
            let map: Map<String, Value> = keys.iter().map(|(v, k)| (v.to_string(), json!(&**k))).collect();
            object.insert("record_keys".into(), Value::Object(map));
        }
        if let Some(delay) = self.delay {
            object.insert("delay".into(), delay.to_json());
        }
        if let Some(ctx) = &self.group {
            object.insert("group".into(), json!(ctx.group));
            object.insert("member".into(), json!(ctx.member));
            let epoch_name = match ctx.protocol {
                crate::protocol::GroupProtocol::Classic => "generation",
                crate::protocol::GroupProtocol::Consumer => "member_epoch",
            };
            object.insert(epoch_name.into(), json!(ctx.generation));
            if let Some(instance) = &ctx.instance {
                object.insert("instance".into(), json!(instance));
            }
        }
        Value::Object(object)
    }

    /// Reads an op from its JSON object; the error says which field is wrong and why.
    /// A value that is not an integer below 2^63 gets an id (see
    /// [`ValueNames`](super::ValueNames)) whose name this op alone cannot keep: read
    /// whole files with [`read_history_jsonl`](super::read_history_jsonl) to keep them.
    pub fn from_json(json: &Value) -> Result<Op, String> {
        let doc = Doc::from_json_value(json);
        let mut names = ValueNames::default();
        match OpReader::new(Syntax::Json, &mut names).op(&doc, 0) {
            Ok(Read::Op(op)) => Ok(*op),
            Ok(Read::Skipped(what)) => Err(format!("not a client op: {what}")),
            Err(e) => Err(e.message),
        }
    }
}

fn records_to_json(records: &PolledRecords) -> Value {
    let mut map = Map::new();
    for (key, pairs) in records {
        map.insert(key.clone(), json!(pairs.iter().map(|(o, v)| json!([o, v])).collect::<Vec<_>>()));
    }
    Value::Object(map)
}

fn value_to_json(value: &OpValue) -> Value {
    match value {
        OpValue::Txn(mops) => Value::Array(
            mops.iter()
                .map(|mop| match mop {
                    MicroOp::Send { key, value, offset: None } => json!(["send", key, value]),
                    MicroOp::Send { key, value, offset: Some(o) } => json!(["send", key, [o, value]]),
                    MicroOp::Poll { records: None } => json!(["poll"]),
                    MicroOp::Poll { records: Some(r) } => json!(["poll", records_to_json(r)]),
                })
                .collect(),
        ),
        OpValue::Keys(keys) => json!(keys),
        OpValue::Offsets(offsets) => json!(offsets),
        OpValue::Records(records) => records_to_json(records),
        OpValue::Nil => Value::Null,
        OpValue::Rewind(rewind) => rewind.to_json(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_and_poll_ops_round_trip_through_the_documented_json() {
        let line = r#"{"index":3,"time":2104000000,"process":0,"type":"ok","f":"send","value":[["send","orders-2",[812,17]]]}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(
            op.value,
            OpValue::Txn(vec![MicroOp::Send { key: "orders-2".into(), value: 17, offset: Some(812) }])
        );
        assert_eq!(op.to_json().to_string(), line);

        let poll = r#"{"index":4,"time":5,"process":1,"type":"ok","f":"poll","value":[["poll",{"orders-2":[[812,17],[813,18]]}]]}"#;
        let op = Op::from_json(&serde_json::from_str(poll).unwrap()).unwrap();
        assert_eq!(op.to_json().to_string(), poll);
    }

    #[test]
    fn a_send_completed_without_an_offset_reads_as_jepsen_writes_it() {
        // Jepsen's `[nil 17]`: acknowledged or not, the client never learned the offset.
        let line =
            r#"{"index":3,"time":2,"process":0,"type":"info","f":"send","value":[["send","orders-2",[null,17]]]}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(op.value, OpValue::Txn(vec![MicroOp::Send { key: "orders-2".into(), value: 17, offset: None }]));
        let bad = serde_json::json!({"index":0,"time":0,"process":0,"type":"ok","f":"send","value":[["send","k",[null,[1]]]]});
        assert!(Op::from_json(&bad).unwrap_err().contains("send: expected a value"));
    }

    #[test]
    fn a_dead_letter_op_round_trips_and_stands_alone_beside_a_send_or_txn() {
        let line = r#"{"index":9,"time":5,"process":3,"type":"ok","f":"dead-letter","value":{"orders-1":[[40,14]]},"error":"processing failed 3 times: poison record","group":"g","member":"m","generation":2}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(op.f, OpFn::DeadLetter);
        assert_eq!(op.value, OpValue::Records([("orders-1".to_string(), vec![(40, 14)])].into_iter().collect()));
        assert_eq!(op.to_json().to_string(), line);
        // Recorded while the pipeline's send or txn op is outstanding, it completes none.
        assert!(op.stands_alone_beside(Some(OpFn::Send)) && op.stands_alone_beside(Some(OpFn::Txn)));
        assert!(op.stands_alone_beside(None));
        assert!(!op.stands_alone_beside(Some(OpFn::DeadLetter)), "an invoked dead-letter op is completed by it");
        let send = Op { f: OpFn::Send, ..op };
        assert!(!send.stands_alone_beside(Some(OpFn::Send)));
    }

    #[test]
    fn a_malformed_op_names_the_field() {
        let bad = serde_json::json!({"index":0,"time":0,"process":0,"type":"maybe","f":"send","value":[]});
        assert!(Op::from_json(&bad).unwrap_err().contains("`type`"));
        let bad = serde_json::json!({"index":0,"time":0,"process":0,"type":"ok","f":"send","value":[["send","k",[1]]]});
        assert!(Op::from_json(&bad).unwrap_err().contains("`value`"));
    }
}

#[cfg(test)]
mod record_keys_tests {
    use super::*;
    use std::hash::{DefaultHasher, Hash, Hasher};

    #[test]
    fn record_keys_round_trip_and_are_optional() {
        let line = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"send","value":[["send","orders-2",17],["send","orders-0",9]],"record_keys":{"9":"key-1","17":"key-3"}}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        let keys: BTreeMap<u64, Arc<str>> = [(9, "key-1".into()), (17, "key-3".into())].into_iter().collect();
        assert_eq!(op.record_keys, Some(keys));
        assert_eq!(op.to_json().to_string(), line);
        let without = Op { record_keys: None, ..op };
        assert!(!without.to_json().to_string().contains("record_keys"));
        let null = line.replace(r#"{"9":"key-1","17":"key-3"}"#, "null");
        assert_eq!(Op::from_json(&serde_json::from_str(&null).unwrap()).unwrap().record_keys, None);
    }

    #[test]
    fn malformed_record_keys_name_the_field() {
        let line = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"send","value":[],"record_keys":{"17":3}}"#;
        let e = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap_err();
        assert!(e.starts_with("field `record_keys`: expected the record key of \"17\" (a string), got 3"), "{e}");
        let line = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"send","value":[],"record_keys":[]}"#;
        let e = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap_err();
        assert!(e.starts_with("field `record_keys`: expected a map"), "{e}");
    }

    /// `Op` as it was before `record_keys`, with its derived `Hash`.
    #[derive(Hash)]
    struct OpBefore<'a> {
        index: u64,
        time_ns: u64,
        process: u64,
        kind: OpType,
        f: OpFn,
        value: &'a OpValue,
        error: &'a Option<String>,
        group: &'a Option<GroupContext>,
    }

    fn hash_of(x: &impl Hash) -> u64 {
        let mut h = DefaultHasher::new();
        x.hash(&mut h);
        h.finish()
    }

    #[test]
    fn an_op_without_record_keys_hashes_as_before_the_field_existed() {
        let line = r#"{"index":4,"time":5,"process":1,"type":"ok","f":"poll","value":[["poll",{"orders-2":[[812,17]]}]],"error":"e"}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        let before = OpBefore {
            index: op.index,
            time_ns: op.time_ns,
            process: op.process,
            kind: op.kind,
            f: op.f,
            value: &op.value,
            error: &op.error,
            group: &op.group,
        };
        assert_eq!(hash_of(&op), hash_of(&before));
        let keyed = Op { record_keys: Some(BTreeMap::new()), ..op.clone() };
        assert_ne!(hash_of(&keyed), hash_of(&op), "record keys, when present, are hashed");
    }
}

#[cfg(test)]
mod group_context_tests {
    use super::*;

    #[test]
    fn group_fields_round_trip_and_are_optional() {
        let line = r#"{"index":7,"time":9,"process":2,"type":"ok","f":"commit","value":{"orders-0":12},"group":"billing","member":"consumer-2-1","generation":3}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(
            op.group,
            Some(GroupContext {
                group: "billing".into(),
                member: "consumer-2-1".into(),
                generation: 3,
                instance: None,
                protocol: crate::protocol::GroupProtocol::Classic,
            })
        );
        assert_eq!(op.to_json().to_string(), line);
        // A consumer-protocol member names its member epoch instead.
        let epoch_line = line.replace("\"generation\"", "\"member_epoch\"");
        let op = Op::from_json(&serde_json::from_str(&epoch_line).unwrap()).unwrap();
        assert_eq!(
            op.group.as_ref().map(|g| (g.generation, g.protocol)),
            Some((3, crate::protocol::GroupProtocol::Consumer))
        );
        assert_eq!(op.to_json().to_string(), epoch_line);
        let bad = r#"{"index":7,"time":9,"process":2,"type":"ok","f":"commit","value":{},"group":"billing"}"#;
        assert!(Op::from_json(&serde_json::from_str(bad).unwrap()).unwrap_err().contains("`member`"));
    }
}

#[cfg(test)]
mod delay_tests {
    use super::*;
    use std::hash::{DefaultHasher, Hash, Hasher};

    fn hash_of(op: &Op) -> u64 {
        let mut h = DefaultHasher::new();
        op.hash(&mut h);
        h.finish()
    }

    #[test]
    fn a_delay_round_trips_through_json_and_reads_from_edn() {
        let line = r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"send","value":[["send","delay-1s-0",17]],"delay":{"due_after_ms":1000,"late_after_ms":6100}}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(op.delay, Some(RecordDelay { due_after_ms: 1000, late_after_ms: 6100 }));
        assert_eq!(op.to_json().to_string(), line);
        let edn = r#"{:index 0, :time 5, :type :invoke, :process 0, :f :send, :value [[:send "delay-1s-0" 17]], :delay {:due-after-ms 1000, :late-after-ms 6100}}"#;
        assert_eq!(crate::history::read_history_edn(edn).unwrap().ops, std::slice::from_ref(&op));
        // Absent or null: no delay, and nothing written; a delay changes the op's hash.
        let without = Op { delay: None, ..op.clone() };
        assert!(!without.to_json().to_string().contains("\"delay\""));
        let null = line.replace(r#"{"due_after_ms":1000,"late_after_ms":6100}"#, "null");
        assert_eq!(Op::from_json(&serde_json::from_str(&null).unwrap()).unwrap(), without);
        assert_ne!(hash_of(&without), hash_of(&op));
    }

    #[test]
    fn a_malformed_delay_names_the_field() {
        let with = |delay: &str| {
            let line =
                format!(r#"{{"index":0,"time":5,"process":0,"type":"invoke","f":"send","value":[],"delay":{delay}}}"#);
            Op::from_json(&serde_json::from_str(&line).unwrap()).unwrap_err()
        };
        assert!(
            with("1000").starts_with("field `delay`: expected a map of `due_after_ms` and `late_after_ms`, got 1000")
        );
        let e = with(r#"{"due_after_ms":1000}"#);
        assert!(e.starts_with("field `delay`: missing field `late_after_ms`"), "{e}");
        let e = with(r#"{"due_after_ms":-1,"late_after_ms":5}"#);
        assert!(e.starts_with("field `delay`: field `due_after_ms`: expected a non-negative integer, got -1"), "{e}");
        let e = with(r#"{"due_after_ms":1000,"late_after_ms":999}"#);
        assert!(e.contains("expected `late_after_ms` (999) at least `due_after_ms` (1000)"), "{e}");
    }
}
