//! Checkers: pure functions from a recorded [`History`] to the anomalies it contains.
//! They never run the system, so they check histories recorded anywhere.
//!
//! One file per family: `jepsen` (client-visible anomalies, defined as in Jepsen's Kafka
//! workload) and `log` (replication invariants over the internal trace).

use crate::history::History;
use serde::Serialize;
use std::fmt;

/// The kinds of anomaly kafkasim reports. Jepsen's names where Jepsen has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum AnomalyKind {
    /// An acknowledged send that a later poll should have seen but no poll ever saw.
    LostWrite,
    /// One value appears at more than one offset of a partition.
    Duplicate,
    /// One offset of a partition holds different values in different observations.
    InconsistentOffsets,
    /// An acknowledged send never seen by any poll by the end of the run.
    Unseen,
    /// A producer's successive acknowledged sends to one partition went backwards.
    NonmonotonicSend,
    /// A consumer's successive polls of one partition went backwards.
    NonmonotonicPoll,
    /// A consumer skipped offsets between successive polls of one partition.
    PollSkip,
    /// A poll saw a value whose send definitely failed.
    G1a,
    /// A group committed past a record no member finished processing.
    ConsumeSkip,
    /// A record processed more than once within a group.
    ConsumeDuplicate,
    /// A group's committed offset moved backwards without a seek.
    CommitRegression,
    /// Two members of a group owned one partition in the same generation.
    SplitOwnership,
    /// Two replicas disagree below their common high watermark.
    ReplicaDivergence,
    /// A leader's high watermark went backwards within one leadership.
    HwRegression,
    /// A record below the high watermark was truncated from a replica.
    CommittedTruncation,
    /// Two brokers accepted writes for one partition in one leader epoch.
    MultipleLeaders,
    /// The cluster did not recover after the faults healed (liveness).
    NoProgress,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 17] = [
        AnomalyKind::LostWrite,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::Unseen,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::PollSkip,
        AnomalyKind::G1a,
        AnomalyKind::ConsumeSkip,
        AnomalyKind::ConsumeDuplicate,
        AnomalyKind::CommitRegression,
        AnomalyKind::SplitOwnership,
        AnomalyKind::ReplicaDivergence,
        AnomalyKind::HwRegression,
        AnomalyKind::CommittedTruncation,
        AnomalyKind::MultipleLeaders,
        AnomalyKind::NoProgress,
    ];

    /// The anomaly's name as written in scenarios and reports, e.g. `lost-write`.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::ConsumeSkip => "consume-skip",
            AnomalyKind::ConsumeDuplicate => "consume-duplicate",
            AnomalyKind::CommitRegression => "commit-regression",
            AnomalyKind::SplitOwnership => "split-ownership",
            AnomalyKind::ReplicaDivergence => "replica-divergence",
            AnomalyKind::HwRegression => "hw-regression",
            AnomalyKind::CommittedTruncation => "committed-truncation",
            AnomalyKind::MultipleLeaders => "multiple-leaders",
            AnomalyKind::NoProgress => "no-progress",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the kind is a liveness (rather than safety) property.
    pub fn is_liveness(self) -> bool {
        self == AnomalyKind::NoProgress
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record involved in an anomaly, with what is known of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordRef {
    /// The topic-partition, e.g. `orders-0`.
    pub key: String,
    /// The offset, when known.
    pub offset: Option<u64>,
    /// The value, when known.
    pub value: Option<u64>,
    /// The client process or broker involved, when known (`process 3`, `broker-2`).
    pub by: Option<String>,
    /// The simulated time of the observation, in nanoseconds, when known.
    pub time_ns: Option<u64>,
    /// The history op index of the observation, when it comes from an op.
    pub op_index: Option<u64>,
    /// What this record's role is in the anomaly (`acknowledged`, `polled`, ...).
    pub note: String,
}

/// One violation found in a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// The kind.
    pub kind: AnomalyKind,
    /// One sentence a person can follow.
    pub description: String,
    /// The records involved.
    pub records: Vec<RecordRef>,
}

/// Runs every safety checker over a history; anomalies sorted by kind, then as found.
pub fn check_all(history: &History) -> Vec<Anomaly> {
    let _ = history;
    Vec::new()
}
