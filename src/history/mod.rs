//! The recorded history (client operations, Jepsen-compatible) and the trace (internal
//! events of brokers and the controller), their JSON Lines form and the trace hash.
//!
//! A history line looks like
//! `{"index":3,"time":2104000000,"process":0,"type":"ok","f":"send","value":[["send","orders-2",[812,17]]]}`.
//!
//! Histories recorded elsewhere come in through [`read_history`]: JSON Lines
//! ([`read_history_jsonl`]) or Jepsen's EDN ([`read_history_edn`]), both parsed into one
//! format-neutral tree (`doc`) that one op reader (`parse`) walks, so the two syntaxes
//! accept the same shapes and report errors alike (line, column, what was expected).
//! Values other than integers below 2^63 become ids named in [`ValueNames`]: the
//! history types and the checkers keep `u64` values.

mod diff;
mod doc;
mod edn;
mod file;
pub mod incarnations;
mod jsonl;
mod name_numbers;
mod op;
mod parse;
mod recorder;
mod rewind;
pub mod state;
mod trace;
mod trace_store;
mod values;

pub use diff::{first_divergence, Divergence};
pub use edn::read_history_edn;
pub use file::{read_history, HistoryFile, HistoryFormat, HistoryParseError};
pub use jsonl::{read_history_jsonl, write_history_jsonl};
pub use op::{
    GroupContext, MicroOp, Op, OpFn, OpType, OpValue, PolledRecords, RecordDelay, ADMIN_PROCESS, DRAIN_PROCESS,
};
pub use recorder::{Recorder, Tracer, HISTORY_TARGET, TRACE_TARGET};
pub use rewind::{Rewind, RewindMove};
pub use state::{BrokerRegistrationView, ClusterState, MetadataView};
pub use trace::{AppendedValues, ElectionReason, Event, LogStartReason, RunPhase, TraceEvent, TruncationReason};
pub use trace_store::{Trace, TraceIter};
pub use values::{ValueName, ValueNames};

use std::hash::{Hash, Hasher};

/// Everything a run recorded: what clients did and saw, and what happened inside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Client operations in the order they were recorded (invocations and completions).
    pub ops: Vec<Op>,
    /// Internal events of the cluster, in simulated-time order.
    pub trace: Trace,
}

impl History {
    /// When the run entered `phase`, in simulated nanoseconds: its [`Event::Phase`] in the
    /// trace, if the run got there.
    pub fn phase_start_ns(&self, phase: RunPhase) -> Option<u64> {
        let mut events = self.trace.other_than_replica_traffic();
        events.find(|e| matches!(&e.event, Event::Phase { name } if *name == phase)).map(|e| e.time_ns)
    }

    /// When each topic an administrator deleted went: the first [`Event::TopicDeleted`]
    /// of the topic (a ZooKeeper-mode controller taking office during a deletion traces
    /// it again as it starts the deletion over), by topic.
    pub fn topic_deletions(&self) -> std::collections::BTreeMap<std::sync::Arc<str>, u64> {
        let mut deletions = std::collections::BTreeMap::new();
        for e in self.trace.other_than_replica_traffic() {
            if let Event::TopicDeleted { topic } = &e.event {
                deletions.entry(topic.clone()).or_insert(e.time_ns);
            }
        }
        deletions
    }

    /// Every completion (`ok`, `fail`, `info`) with its history index and the index of
    /// its invocation, as the checkers pair them: a process has one op outstanding, and
    /// a completion belongs to it only if it is of the same function (a bare `process`
    /// or `dead-letter` completion, [`Op::stands_alone_beside`], has none).
    pub fn completions(&self) -> impl Iterator<Item = (usize, &Op, Option<usize>)> + '_ {
        let mut pending: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        self.ops.iter().enumerate().filter_map(move |(at, op)| {
            if op.kind == OpType::Invoke {
                pending.insert(op.process, at);
                return None;
            }
            let outstanding = pending.get(&op.process).map(|&i| self.ops[i].f);
            let invoked_at = if op.stands_alone_beside(outstanding) {
                None
            } else {
                pending.remove(&op.process).filter(|&i| self.ops[i].f == op.f)
            };
            Some((at, op, invoked_at))
        })
    }

    /// A 64-bit hash (FNV-1a) over every op and trace event, field by field: the same
    /// run gives the same hash in any process and build (debug or release) of the same
    /// kafkasim. Each value is fed through its derived [`Hash`] with integers in
    /// little-endian order, so no platform detail leaks in; serialising to JSON first
    /// gave the same guarantee at five times the cost (a fifth of a long run).
    pub fn trace_hash(&self) -> u64 {
        let mut hasher = Fnv1a::new();
        self.ops.hash(&mut hasher);
        self.trace.hash(&mut hasher);
        hasher.finish()
    }
}

/// The 64-bit FNV-1a hash: tiny and defined byte by byte, so stable across platforms.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    // Integers go in little-endian whatever the platform (the defaults use native order),
    // and `usize` (lengths, enum discriminants) always as 8 bytes.
    fn write_u16(&mut self, n: u16) {
        self.write(&n.to_le_bytes());
    }

    fn write_u32(&mut self, n: u32) {
        self.write(&n.to_le_bytes());
    }

    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as i64 as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        let mut h = Fnv1a::new();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
