//! The recorded history (client operations, Jepsen-compatible) and the trace (internal
//! events of brokers and the controller), their JSON Lines form and the trace hash.
//!
//! A history line looks like
//! `{"index":3,"time":2104000000,"process":0,"type":"ok","f":"send","value":[["send","orders-2",[812,17]]]}`.

mod diff;
mod jsonl;
mod op;
mod recorder;
mod trace;

pub use diff::{first_divergence, Divergence};
pub use jsonl::{read_history_jsonl, write_history_jsonl, HistoryParseError};
pub use op::{GroupContext, MicroOp, Op, OpFn, OpType, OpValue, PolledRecords};
pub use recorder::{Recorder, Tracer, HISTORY_TARGET, TRACE_TARGET};
pub use trace::{Event, TraceEvent};

/// Everything a run recorded: what clients did and saw, and what happened inside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// Client operations in the order they were recorded (invocations and completions).
    pub ops: Vec<Op>,
    /// Internal events of the cluster, in simulated-time order.
    pub trace: Vec<TraceEvent>,
}

impl History {
    /// A stable 64-bit hash (FNV-1a) over the JSON form of every op and trace event:
    /// the same run gives the same hash in any process and build.
    pub fn trace_hash(&self) -> u64 {
        // The JSON is streamed into the hash rather than built as strings: the same bytes,
        // without an allocation per event (hashing was a third of a long run's time).
        let mut hash = Fnv1a::new();
        for op in &self.ops {
            serde_json::to_writer(&mut hash, &op.to_json()).expect("ops serialize");
            hash.write(b"\n");
        }
        for event in &self.trace {
            serde_json::to_writer(&mut hash, event).expect("trace events serialize");
            hash.write(b"\n");
        }
        hash.finish()
    }
}

/// The 64-bit FNV-1a hash: tiny, stable across platforms and Rust versions.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        Fnv1a::write(self, bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
