//! Where two recordings of the same run part ways: the first client operation, or else
//! the first trace event, that differs. Used by `check-determinism`.

use super::History;
use std::fmt;

/// The first difference between two histories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// `"history op"` or `"trace event"`.
    pub what: &'static str,
    /// The 0-based position in the op list or the trace.
    pub index: usize,
    /// The first recording's line at that position (JSON), or `None` if it ended.
    pub first: Option<String>,
    /// The second recording's line at that position (JSON), or `None` if it ended.
    pub second: Option<String>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |line: &Option<String>| line.clone().unwrap_or_else(|| "(none: the recording ended)".to_string());
        writeln!(f, "first diverging {} at index {}:", self.what, self.index)?;
        writeln!(f, "  run 1: {}", show(&self.first))?;
        write!(f, "  run 2: {}", show(&self.second))
    }
}

/// The first position where `a` and `b` differ: client operations are compared first
/// (they are what a user sees), then trace events. `None` when they are identical.
pub fn first_divergence(a: &History, b: &History) -> Option<Divergence> {
    let op_lines = |h: &History| h.ops.iter().map(|op| op.to_json().to_string()).collect::<Vec<_>>();
    let event_lines = |h: &History| {
        h.trace.iter().map(|e| serde_json::to_string(&e).expect("trace events serialize")).collect::<Vec<_>>()
    };
    first_difference("history op", &op_lines(a), &op_lines(b))
        .or_else(|| first_difference("trace event", &event_lines(a), &event_lines(b)))
}

fn first_difference(what: &'static str, a: &[String], b: &[String]) -> Option<Divergence> {
    let index = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))?;
    Some(Divergence { what, index, first: a.get(index).cloned(), second: b.get(index).cloned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{read_history_jsonl, Event, TraceEvent};

    fn ops(text: &str) -> History {
        History { ops: read_history_jsonl(text.as_bytes()).unwrap().ops, trace: Default::default() }
    }

    const A: &str = r#"{"index":0,"time":0,"process":0,"type":"invoke","f":"send","value":[["send","t-0",1]]}
{"index":1,"time":5,"process":0,"type":"ok","f":"send","value":[["send","t-0",[0,1]]]}
"#;

    #[test]
    fn identical_histories_do_not_diverge() {
        assert_eq!(first_divergence(&ops(A), &ops(A)), None);
    }

    #[test]
    fn the_first_differing_op_is_reported_with_both_versions() {
        let b = A.replace("[0,1]", "[3,1]");
        let d = first_divergence(&ops(A), &ops(&b)).expect("they differ");
        assert_eq!((d.what, d.index), ("history op", 1));
        assert!(d.first.as_deref().unwrap().contains("[0,1]"));
        assert!(d.second.as_deref().unwrap().contains("[3,1]"));
        assert!(d.to_string().contains("first diverging history op at index 1"));
    }

    #[test]
    fn a_shorter_recording_diverges_where_it_ends() {
        let short = A.lines().next().unwrap();
        let d = first_divergence(&ops(A), &ops(short)).expect("they differ");
        assert_eq!(d.index, 1);
        assert_eq!(d.second, None);
    }

    #[test]
    fn trace_events_are_compared_after_equal_ops() {
        let event =
            |broker| TraceEvent { time_ns: 7, node: "controller".into(), event: Event::BrokerStarted { broker } };
        let mut a = ops(A);
        let mut b = ops(A);
        a.trace = vec![event(1), event(2)].into();
        b.trace = vec![event(1), event(3)].into();
        let d = first_divergence(&a, &b).expect("they differ");
        assert_eq!((d.what, d.index), ("trace event", 1));
        assert!(d.second.unwrap().contains("\"broker\":3"));
    }
}
