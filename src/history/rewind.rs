//! The value of a `rewind` op: a consumer moved its positions back (or forward) on
//! purpose, or an administrator reset a group's committed offsets.
//!
//! Two kinds of rewind exist in Kafka, and the history records both the same way:
//!
//! - a consumer's application rewinds itself: `offsetsForTimes` then `seek` for each
//!   partition it holds, or a plain `seek` to an offset (the op's process is the
//!   consumer's, and a group member's op carries its group context);
//! - an administrator resets a group (`kafka-consumer-groups.sh --reset-offsets`), which
//!   only an inactive group accepts: `group` names it, and the op's process is the
//!   administrator's.
//!
//! In a JSON Lines history:
//!
//! ```text
//! {"f":"rewind","type":"invoke","value":{"to_time_ms":2000}, ...}
//! {"f":"rewind","type":"ok","value":{"to_time_ms":2000,"partitions":{"orders-0":[57,12],"orders-1":[60,null]}}, ...}
//! {"f":"rewind","type":"ok","value":{"group":"billing","partitions":{"orders-0":[57,0]}}, ...}
//! ```
//!
//! `to_time_ms` is the target of a rewind by time (a record timestamp: milliseconds of
//! simulated time since the run started, the clock the producers stamp CreateTime
//! with); without it the rewind was to offsets. `partitions` maps each partition key the
//! rewind moved to `[from, to]`: `from` the consumer's position before it (for a group
//! reset, the group's committed offset), `null` when there was none; `to` the offset it
//! moved to, `null` when a lookup by time found no record that recent (the consumer then
//! seeks to the end; the administrator's tool falls back to the log end offset). EDN
//! spells the keys `:to-time-ms`, `:group` and `:partitions`.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What a rewind asked for and what it did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rewind {
    /// The time a rewind by time looked up (`offsetsForTimes`), in milliseconds of
    /// simulated time since the run started; `None` for a rewind to offsets.
    pub to_time_ms: Option<u64>,
    /// The group an administrator reset; `None` for a consumer's own rewind.
    pub group: Option<String>,
    /// Per partition key, where the position was and where it went (empty on the
    /// invocation).
    pub partitions: BTreeMap<String, RewindMove>,
}

/// One partition's move.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RewindMove {
    /// The position before the rewind (the next offset the consumer would have read; for
    /// a group reset, the committed offset), if there was one.
    pub from: Option<u64>,
    /// The offset the rewind moved to; `None` when a lookup by time found no record at or
    /// after the time.
    pub to: Option<u64>,
}

impl Rewind {
    /// The JSON object of the value.
    pub(super) fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(group) = &self.group {
            object.insert("group".into(), json!(group));
        }
        if let Some(ms) = self.to_time_ms {
            object.insert("to_time_ms".into(), json!(ms));
        }
        if !self.partitions.is_empty() {
            let moves: Map<String, Value> =
                self.partitions.iter().map(|(key, m)| (key.clone(), json!([m.from, m.to]))).collect();
            object.insert("partitions".into(), Value::Object(moves));
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{Op, OpFn, OpValue};

    #[test]
    fn a_rewind_round_trips_through_its_json() {
        let line = r#"{"index":5,"time":7,"process":2,"type":"ok","f":"rewind","value":{"to_time_ms":2000,"partitions":{"orders-0":[57,12],"orders-1":[null,null]}}}"#;
        let op = Op::from_json(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(op.f, OpFn::Rewind);
        let OpValue::Rewind(rewind) = &op.value else { panic!("{:?}", op.value) };
        assert_eq!(rewind.to_time_ms, Some(2000));
        assert_eq!(rewind.partitions["orders-0"].from, Some(57));
        assert_eq!(rewind.partitions["orders-1"].to, None);
        assert_eq!(op.to_json().to_string(), line);
        let reset = r#"{"index":0,"time":1,"process":900000,"type":"invoke","f":"rewind","value":{"group":"billing"}}"#;
        let op = Op::from_json(&serde_json::from_str(reset).unwrap()).unwrap();
        assert_eq!(op.to_json().to_string(), reset);
    }

    #[test]
    fn a_malformed_rewind_names_the_part() {
        let bad = |value: &str| {
            let line = format!(r#"{{"index":0,"time":1,"process":0,"type":"ok","f":"rewind","value":{value}}}"#);
            Op::from_json(&serde_json::from_str(&line).unwrap()).unwrap_err()
        };
        assert!(bad("[]").contains("expected a map such as"), "{}", bad("[]"));
        assert!(
            bad(r#"{"to_time_ms":-1}"#).contains("`to_time_ms`: expected a time"),
            "{}",
            bad(r#"{"to_time_ms":-1}"#)
        );
        let e = bad(r#"{"partitions":{"x-0":[1]}}"#);
        assert!(e.contains("partition `x-0`: expected [from, to]"), "{e}");
        let e = bad(r#"{"partitions":{"x-0":[1,"a"]}}"#);
        assert!(e.contains("partition `x-0`: expected an offset"), "{e}");
        let e = bad(r#"{"group":3}"#);
        assert!(e.contains("`group`: expected a string"), "{e}");
        let e = bad(r#"{"to":3}"#);
        assert!(e.contains("unknown key `to`"), "{e}");
    }
}
