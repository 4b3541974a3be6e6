//! `tracing` output for `kafkasim run --trace` (and for any command when `RUST_LOG` is
//! set): timestamps in simulated time, and the `--partition` / `--value` focus filters.
//!
//! Every recorded client operation and trace event is also emitted as a `tracing` event
//! at INFO, under the targets `kafkasim::history` and `kafkasim::trace`, with its JSON
//! line as the message; nodes add their own log events (DEBUG and TRACE) under their
//! module paths. So one stream, in simulated-time order, tells the whole run.

use crate::history::{Event, MicroOp, Op, OpValue, TraceEvent, HISTORY_TARGET, TRACE_TARGET};
use std::fmt;
use std::io::IsTerminal;
use tracing::field::{Field, Visit};
use tracing::Subscriber;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// The filter `run --trace` uses when `RUST_LOG` is not set: every recorded operation and
/// event, and the nodes' DEBUG logs.
pub const DEFAULT_TRACE_FILTER: &str = "warn,madsim=error,kafkasim=debug";

/// Prints simulated seconds since the run started, such as `"  12.345s"`, read from the
/// madsim runtime of the current thread (its clock starts at zero with the runtime, which
/// `run_seed` creates fresh for each run). Outside a runtime it prints `"-"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SimulatedTime;

impl SimulatedTime {
    /// The formatted time for `elapsed` simulated time.
    pub fn format(elapsed: std::time::Duration) -> String {
        format!("{:>4}.{:03}s", elapsed.as_secs(), elapsed.subsec_millis())
    }
}

impl FormatTime for SimulatedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match madsim::time::TimeHandle::try_current() {
            Some(time) => w.write_str(&SimulatedTime::format(time.elapsed())),
            None => write!(w, "{:>9}", "-"),
        }
    }
}

/// What `run --trace --partition P --value V` keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Focus {
    /// Keep only what concerns this partition, e.g. `orders-0`.
    pub partition: Option<String>,
    /// Keep only what concerns the record with this value.
    pub value: Option<u64>,
}

impl Focus {
    /// Whether any filter is set.
    pub fn is_active(&self) -> bool {
        self.partition.is_some() || self.value.is_some()
    }

    /// Whether a client operation concerns the focus: a send, poll, txn or process that
    /// touches the partition / carries the value, or an assign, subscribe or commit naming
    /// the partition (those carry no value). Client crashes are always kept.
    pub fn keeps_op(&self, op: &Op) -> bool {
        let partition_ok = |key: &str| self.partition.as_deref().is_none_or(|p| p == key);
        let value_ok = |value: u64| self.value.is_none_or(|v| v == value);
        match &op.value {
            OpValue::Txn(mops) => mops.iter().any(|mop| match mop {
                MicroOp::Send { key, value, .. } => partition_ok(key) && value_ok(*value),
                MicroOp::Poll { records: Some(records) } => {
                    records.iter().any(|(key, list)| partition_ok(key) && list.iter().any(|(_, v)| value_ok(*v)))
                }
                MicroOp::Poll { records: None } => false,
            }),
            OpValue::Records(records) => {
                records.iter().any(|(key, list)| partition_ok(key) && list.iter().any(|(_, v)| value_ok(*v)))
            }
            OpValue::Keys(keys) => self.value.is_none() && keys.iter().any(|k| partition_ok(k)),
            OpValue::Offsets(offsets) => self.value.is_none() && offsets.keys().any(|k| partition_ok(k)),
            OpValue::Nil => true,
            OpValue::Rewind(rewind) => self.value.is_none() && rewind.partitions.keys().any(|k| partition_ok(k)),
        }
    }

    /// Whether an internal event concerns the focus: events of the partition (appends,
    /// truncations, log start moves and log loads holding the value when one is set), and always the events
    /// that give context to any partition: faults, topic events, phases, broker starts and
    /// controller elections.
    pub fn keeps_event(&self, event: &TraceEvent) -> bool {
        let (tp, value_ok) = match &event.event {
            Event::Fault { .. }
            | Event::FaultEnded { .. }
            | Event::Phase { .. }
            | Event::BrokerStarted { .. }
            | Event::ControllerElected { .. }
            | Event::QuorumLeader { .. }
            | Event::TopicAdmin { .. }
            | Event::TopicDeleted { .. }
            | Event::BrokerRegistration { .. } => return true,
            Event::QuorumCommitted { .. }
            | Event::QuorumTruncate { .. }
            | Event::MetadataApplied { .. }
            | Event::BrokerLoad { .. }
            | Event::LinkLoad { .. }
            | Event::DiskLoad { .. } => {
                return self.partition.is_none() && self.value.is_none();
            }
            Event::StaleControllerFenced { .. } => return self.value.is_none(),
            Event::Append { tp, values, .. } => (tp, self.holds(values.iter().copied())),
            Event::LogLoaded { tp, records, .. } => (tp, self.holds(records.iter().map(|r| r.1))),
            Event::Truncate { tp, removed, .. } | Event::LogStartAdvanced { tp, removed, .. } => {
                (tp, self.holds(removed.iter().map(|r| r.1)))
            }
            Event::ProduceAcknowledged { tp, .. } => (tp, self.value.is_none()),
            Event::HighWatermark { tp, .. }
            | Event::BecomeLeader { tp, .. }
            | Event::BecomeFollower { tp, .. }
            | Event::IsrChange { tp, .. }
            | Event::PartitionCreated { tp, .. }
            | Event::PartitionDeleted { tp, .. }
            | Event::PartitionStray { tp, .. }
            | Event::LeaderElection { tp, .. } => (tp, self.value.is_none()),
        };
        value_ok && self.partition.as_deref().is_none_or(|p| p == &**tp)
    }

    /// Whether `values` holds the focused value (true without a value focus).
    fn holds(&self, mut values: impl Iterator<Item = u64>) -> bool {
        self.value.is_none_or(|v| values.any(|x| x == v))
    }

    /// Whether a node's own log event (not a recorded op or trace event) is kept: with a
    /// value focus, never; with a partition focus only, when one of its fields or its
    /// message names the partition.
    fn keeps_log(&self, fields: &[String]) -> bool {
        match (&self.partition, self.value) {
            (_, Some(_)) => false,
            (Some(p), None) => fields.iter().any(|f| mentions(f, p)),
            (None, None) => true,
        }
    }
}

/// Whether `text` names partition `p` as a whole word (`orders-1` is not `orders-10`).
fn mentions(text: &str, p: &str) -> bool {
    text.match_indices(p).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + p.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_' || c == '.');
        !part(before) && !part(after)
    })
}

/// Collects an event's field values as text.
#[derive(Default)]
struct Fields {
    message: String,
    all: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        }
        self.all.push(value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text.clone();
        }
        self.all.push(text);
    }
}

/// Drops the events a [`Focus`] does not keep.
struct FocusLayer(Focus);

impl<S: Subscriber> Layer<S> for FocusLayer {
    fn event_enabled(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) -> bool {
        let mut fields = Fields::default();
        event.record(&mut fields);
        match event.metadata().target() {
            HISTORY_TARGET => serde_json::from_str(&fields.message)
                .ok()
                .and_then(|json| Op::from_json(&json).ok())
                .is_some_and(|op| self.0.keeps_op(&op)),
            TRACE_TARGET => {
                serde_json::from_str::<TraceEvent>(&fields.message).is_ok_and(|event| self.0.keeps_event(&event))
            }
            _ => self.0.keeps_log(&fields.all),
        }
    }
}

/// Installs the process-wide subscriber: human-readable lines on stderr with simulated
/// timestamps, filtered by `RUST_LOG` (or `default_filter` when it is unset) and by
/// `focus`. Does nothing if a subscriber is already installed. A `RUST_LOG` that is not a
/// filter is refused, with the reason.
///
/// madsim warns at every run that std's `HashMap` seeds will not be deterministic; the
/// warning is silenced (unless `RUST_LOG` names `madsim::sim::rand`) because kafkasim
/// never lets a std `HashMap`'s order decide anything (the same-seed tests guard it),
/// and at `warn` it reads as an alarm about kafkasim's determinism.
pub fn install(default_filter: &str, focus: Focus) -> Result<(), String> {
    let filter = filter_from_env(default_filter)?;
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(SimulatedTime);
    let focus = focus.is_active().then_some(FocusLayer(focus));
    let _ = tracing_subscriber::registry().with(filter).with(focus).with(format).try_init();
    Ok(())
}

/// The filter `RUST_LOG` sets, or `default_filter` when it is unset.
fn filter_from_env(default_filter: &str) -> Result<EnvFilter, String> {
    const HASH_MAP_WARNING: &str = "madsim::sim::rand";
    let spec = match std::env::var("RUST_LOG") {
        Ok(spec) => spec,
        Err(std::env::VarError::NotPresent) => default_filter.to_string(),
        Err(std::env::VarError::NotUnicode(_)) => return Err("RUST_LOG is not valid UTF-8".to_string()),
    };
    let filter = EnvFilter::builder().parse(&spec).map_err(|error| {
        format!("RUST_LOG={spec:?} is not a log filter ({error}); expected directives such as \"debug\" or \"kafkasim=debug,madsim=warn\"")
    })?;
    if spec.contains(HASH_MAP_WARNING) {
        return Ok(filter);
    }
    Ok(filter.add_directive(format!("{HASH_MAP_WARNING}=error").parse().expect("a valid directive")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_jsonl;

    fn op(line: &str) -> Op {
        read_history_jsonl(line.as_bytes()).unwrap().ops.remove(0)
    }

    #[test]
    fn simulated_time_prints_seconds_with_milliseconds() {
        assert_eq!(SimulatedTime::format(std::time::Duration::from_millis(12_345)), "  12.345s");
    }

    #[test]
    fn a_partition_focus_keeps_its_sends_and_polls_only() {
        let focus = Focus { partition: Some("t-1".into()), value: None };
        let send = op(r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"send","value":[["send","t-1",5]]}"#);
        let other = op(r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"send","value":[["send","t-10",5]]}"#);
        let poll = op(r#"{"index":1,"time":0,"process":1,"type":"ok","f":"poll","value":[["poll",{"t-1":[[0,5]]}]]}"#);
        assert!(focus.keeps_op(&send));
        assert!(!focus.keeps_op(&other));
        assert!(focus.keeps_op(&poll));
        assert!(!focus.keeps_log(&["fetch from t-10".into()]));
        assert!(focus.keeps_log(&["fetch from t-1".into()]));
    }

    #[test]
    fn a_value_focus_keeps_the_records_life() {
        let focus = Focus { partition: None, value: Some(812) };
        let event = |event| TraceEvent { time_ns: 0, node: "broker-1".into(), event };
        let append = Event::Append {
            tp: "t-0".into(),
            broker: 1,
            as_leader: true,
            leader_epoch: 0,
            base_offset: 3,
            values: smallvec::smallvec![811, 812],
        };
        assert!(focus.keeps_event(&event(append)));
        let truncate = Event::Truncate {
            tp: "t-0".into(),
            broker: 1,
            to_offset: 0,
            removed: vec![(0, 7, 0)],
            reason: crate::history::TruncationReason::LeaderEpoch,
        };
        assert!(!focus.keeps_event(&event(truncate)));
        assert!(focus.keeps_event(&event(Event::Phase { name: crate::history::RunPhase::Liveness })));
        let poll =
            op(r#"{"index":1,"time":0,"process":1,"type":"ok","f":"poll","value":[["poll",{"t-1":[[0,812]]}]]}"#);
        assert!(focus.keeps_op(&poll));
        assert!(!focus.keeps_log(&["anything".into()]));
    }
}
