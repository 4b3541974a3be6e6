//! Behaviour modes that a scenario chooses and a node runs by: one type each for the
//! scenario parser, which maps the text of a scenario file to it, and for the broker or
//! client that acts on it.

use std::fmt;

/// How a follower reconciles its log with a new leader after a leader change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TruncationMode {
    /// Pre-KIP-101 (Kafka 0.10 and before): truncate to the local high watermark, then
    /// fetch. Reproduces the data loss and replica divergence KIP-101 describes.
    Legacy,
    /// KIP-101 as Kafka 0.11 to 1.1 shipped it: ask the leader with OffsetForLeaderEpoch
    /// for the end offset of the follower's latest epoch and truncate there, or to the
    /// high watermark when the leader does not know that epoch. Fast leader changes can
    /// still make logs diverge (KIP-279's motivating cases).
    LeaderEpochKip101,
    /// KIP-101 with KIP-279 (Kafka 2.0 and later): the leader answers with the largest
    /// epoch it knows up to the follower's latest and that epoch's end; the follower
    /// truncates to the smaller of that end and its own end of that epoch.
    LeaderEpoch,
}

/// Which new leader epochs make a follower start over: stop fetching, reconcile its log
/// with the leader (truncation), and fetch again. Kafka's `Partition.makeFollower` returns
/// whether to, and `ReplicaManager.makeFollowers` restarts only the partitions it names;
/// a new epoch that is not a restart only updates the replica's epoch and ISR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FollowerRestart {
    /// Only when the leader changes (Kafka up to 2.0.0). An ISR change that bumps the
    /// epoch under the same leader is no restart, nor is a leadership the follower never
    /// heard of if the leader it ends up with is the one it followed before. Legacy
    /// truncation (0.10) always follows this rule.
    LeaderChange,
    /// When the leader changes or the epoch jumps by more than one, that is the follower
    /// missed a leadership (Kafka 2.0.1, KAFKA-7164).
    LeaderChangeOrMissedEpoch,
    /// On every new leader epoch (Kafka 2.1 onwards: KIP-320, KAFKA-7395).
    #[default]
    EveryLeaderEpoch,
}

/// Where a consumer starts reading a partition for which it has no valid position (no
/// committed offset, or one out of range): Kafka's `auto.offset.reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetReset {
    /// From the log start.
    Earliest,
    /// From the high watermark: only records written after the consumer started.
    Latest,
}

/// An assignment strategy, as named by `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AssignmentStrategy {
    /// Kafka's `RangeAssignor` (Kafka's default before 3.0).
    Range,
    /// Kafka's `RoundRobinAssignor`.
    RoundRobin,
    /// Kafka's `StickyAssignor`.
    Sticky,
}

impl AssignmentStrategy {
    /// Every strategy, in the order the assignor-comparison scenario reports them.
    pub const ALL: [AssignmentStrategy; 3] =
        [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin, AssignmentStrategy::Sticky];

    /// The short name used in scenario files: `range`, `roundrobin` or `sticky`.
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::Sticky => "sticky",
        }
    }

    /// The strategy for a `partition.assignment.strategy` value: the short name
    /// (`range`, `roundrobin` or `round-robin`, `sticky`) or Kafka's class name, fully
    /// qualified (`org.apache.kafka.clients.consumer.RangeAssignor`) or not, so a Kafka
    /// user's configuration reads as written.
    pub fn parse(value: &str) -> Option<AssignmentStrategy> {
        let simple = value.trim().rsplit('.').next().unwrap_or_default();
        Some(match simple.to_ascii_lowercase().as_str() {
            "range" | "rangeassignor" => AssignmentStrategy::Range,
            "roundrobin" | "round-robin" | "roundrobinassignor" => AssignmentStrategy::RoundRobin,
            "sticky" | "stickyassignor" => AssignmentStrategy::Sticky,
            _ => return None,
        })
    }
}

impl fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
