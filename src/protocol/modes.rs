//! Behaviour modes that a scenario chooses and a node runs by: one type each for the
//! scenario parser, which maps the text of a scenario file to it, and for the broker or
//! client that acts on it.

use std::fmt;

/// Where a cluster keeps its metadata and how it elects its controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum MetadataMode {
    /// A ZooKeeper ensemble (the metastore): the controller is the broker that created
    /// `/controller` first (Kafka up to 3.x).
    #[default]
    Zookeeper,
    /// A Raft quorum of dedicated controllers replicating the metadata log (KIP-500,
    /// KIP-595, KIP-631); brokers replicate that log as observers.
    Kraft,
}

impl MetadataMode {
    /// The mode as a scenario file writes it (`[cluster] metadata`).
    pub const fn name(self) -> &'static str {
        match self {
            MetadataMode::Zookeeper => "zookeeper",
            MetadataMode::Kraft => "kraft",
        }
    }
}

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
    /// No reset: the consumer raises an error to the application instead (Kafka's
    /// `NoOffsetForPartitionException`, `OffsetOutOfRangeException` and, with KIP-320
    /// validation, `LogTruncationException`), which must seek.
    None,
}

/// Whether a consumer checks its position against the log after a leader change
/// (KIP-320's consumer side, Kafka 2.3, KAFKA-7747). There is no Kafka setting for it:
/// the scenario key is `offset_validation` under `[consumers.config]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum OffsetValidation {
    /// Kafka up to 2.2: the consumer fetches from the new leader at its position, without
    /// a leader epoch; only OFFSET_OUT_OF_RANGE makes it reset. If the new leader's log
    /// diverged below the position (unclean election) and has since grown past it, the
    /// consumer reads on from there, never seeing the records that replaced the ones it
    /// read (`"none"`).
    None,
    /// Kafka 2.3 and later: fetches carry the consumer's leader epoch (fenced with
    /// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), and a new leader epoch in metadata
    /// puts the position in "awaiting validation": the consumer asks the leader with
    /// OffsetsForLeaderEpoch where the epoch of its last fetched record ends, and if that
    /// is below its position, it detected log truncation and rewinds to the divergence
    /// point, or raises it to the application under `auto.offset.reset = "none"`
    /// (`"kip-320"`).
    #[default]
    Kip320,
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
    /// Kafka's `CooperativeStickyAssignor` (Kafka 2.4, KIP-429): the sticky assignment
    /// without the partitions that must first be revoked by their owner, under the
    /// cooperative rebalance protocol.
    CooperativeSticky,
}

/// How a group member gives partitions up in a rebalance of the classic group protocol
/// (Kafka's `ConsumerPartitionAssignor.RebalanceProtocol`), chosen by the assignor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Every partition is revoked before the member rejoins (stop the world).
    Eager,
    /// The member keeps its partitions while it rejoins and revokes only those the new
    /// assignment takes away, then rejoins so that they can be handed over (KIP-429).
    Cooperative,
}

/// Which group membership protocol a consumer speaks (`group.protocol`, Kafka 3.7+,
/// KIP-848).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat, with the assignment computed by the group's
    /// leader (`"classic"`, the default in every release so far).
    #[default]
    Classic,
    /// ConsumerGroupHeartbeat, with the target assignment computed by the coordinator
    /// and reconciled member by member (`"consumer"`, KIP-848: early access in 3.7,
    /// generally available in 4.0).
    Consumer,
}

impl GroupProtocol {
    /// The `group.protocol` value.
    pub fn name(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "classic",
            GroupProtocol::Consumer => "consumer",
        }
    }

    /// What a member's number is called: its group's generation (classic) or its own
    /// member epoch (consumer).
    pub fn epoch_name(self) -> &'static str {
        match self {
            GroupProtocol::Classic => "generation",
            GroupProtocol::Consumer => "member epoch",
        }
    }
}

impl fmt::Display for GroupProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A group coordinator's assignor for consumer-protocol groups (`group.consumer.assignors`
/// on the broker, `group.remote.assignor` on the consumer; KIP-848).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerAssignor {
    /// `"uniform"` (Kafka's `UniformAssignor`, the default): balanced, then sticky.
    Uniform,
    /// `"range"` (Kafka's server-side `RangeAssignor`): co-partitions topics, not sticky.
    Range,
}

impl ServerAssignor {
    /// Its name in `group.consumer.assignors` and `group.remote.assignor`.
    pub fn name(self) -> &'static str {
        match self {
            ServerAssignor::Uniform => "uniform",
            ServerAssignor::Range => "range",
        }
    }

    /// The assignor a `group.consumer.assignors` entry names: the short name or Kafka's
    /// class name (`org.apache.kafka.coordinator.group.assignor.UniformAssignor`).
    pub fn parse(value: &str) -> Option<ServerAssignor> {
        let simple = value.trim().rsplit('.').next().unwrap_or_default();
        Some(match simple.to_ascii_lowercase().as_str() {
            "uniform" | "uniformassignor" => ServerAssignor::Uniform,
            "range" | "rangeassignor" => ServerAssignor::Range,
            _ => return None,
        })
    }
}

impl fmt::Display for ServerAssignor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl AssignmentStrategy {
    /// Every strategy, in the order the assignor-comparison scenario reports them.
    pub const ALL: [AssignmentStrategy; 4] = [
        AssignmentStrategy::Range,
        AssignmentStrategy::RoundRobin,
        AssignmentStrategy::Sticky,
        AssignmentStrategy::CooperativeSticky,
    ];

    /// The short name used in scenario files: `range`, `roundrobin`, `sticky` or
    /// `cooperative-sticky`.
    pub fn name(self) -> &'static str {
        match self {
            AssignmentStrategy::Range => "range",
            AssignmentStrategy::RoundRobin => "roundrobin",
            AssignmentStrategy::Sticky => "sticky",
            AssignmentStrategy::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The rebalance protocol a group using this assignor runs: cooperative for the
    /// cooperative sticky assignor, eager for the others (their `supportedProtocols`).
    pub fn protocol(self) -> RebalanceProtocol {
        match self {
            AssignmentStrategy::CooperativeSticky => RebalanceProtocol::Cooperative,
            _ => RebalanceProtocol::Eager,
        }
    }

    /// The strategy for a `partition.assignment.strategy` value: the short name
    /// (`range`, `roundrobin` or `round-robin`, `sticky`, `cooperative-sticky`) or Kafka's class name, fully
    /// qualified (`org.apache.kafka.clients.consumer.RangeAssignor`) or not, so a Kafka
    /// user's configuration reads as written.
    pub fn parse(value: &str) -> Option<AssignmentStrategy> {
        let simple = value.trim().rsplit('.').next().unwrap_or_default();
        Some(match simple.to_ascii_lowercase().as_str() {
            "range" | "rangeassignor" => AssignmentStrategy::Range,
            "roundrobin" | "round-robin" | "roundrobinassignor" => AssignmentStrategy::RoundRobin,
            "sticky" | "stickyassignor" => AssignmentStrategy::Sticky,
            "cooperative-sticky" | "cooperativestickyassignor" => AssignmentStrategy::CooperativeSticky,
            _ => return None,
        })
    }
}

impl fmt::Display for AssignmentStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a replica answers an idempotent producer it has no state for, when the batch
/// does not start at sequence 0. A batch at sequence 0 is appended in every release.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownProducerSequence {
    /// Kafka 0.11: refused with OUT_OF_ORDER_SEQUENCE, as any gap (0.11's
    /// `ProducerIdEntry.validateAppend`).
    OutOfOrder,
    /// Kafka 1.0 to 2.4 (KAFKA-5793): refused with UNKNOWN_PRODUCER_ID, "found no record
    /// of producerId on the broker" (`ProducerAppendInfo.checkSequence`), so that the
    /// producer can tell lost state from a gap in its own sequences.
    UnknownProducerId,
    /// Kafka 2.5 and later (KIP-360, KAFKA-8710): appended at whatever sequence: "if
    /// there is no current producer epoch (possibly because all producer records have
    /// been deleted due to retention or the DeleteRecords API) accept writes with any
    /// sequence number" (`ProducerAppendInfo.checkSequence`).
    #[default]
    Accept,
}

/// How the producer places records with neither a partition nor a key: a release switch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnkeyedPartitioning {
    /// Kafka up to 2.3: `DefaultPartitioner` sends each record to the next available
    /// partition in turn, from a per-topic counter that starts at a random value.
    RoundRobin,
    /// Kafka 2.4 to 3.2 (KIP-480, KAFKA-8601): `DefaultPartitioner` with its
    /// `StickyPartitionCache` keeps one partition per topic until a record would start a
    /// new batch on it; then `onNewBatch` moves to another available partition, chosen at
    /// random, and the record goes there.
    Sticky,
    /// Kafka 3.3 and later (KIP-794, KAFKA-10888): `BuiltInPartitioner` keeps one
    /// partition per topic until `batch.size` bytes were produced to it (switching when
    /// its batches are full, or at twice that), then picks the next one uniformly among
    /// the available partitions or, with `partitioner.adaptive.partitioning.enable`,
    /// weighted towards the partitions with the shortest queues.
    #[default]
    UniformSticky,
}

/// Which release's sticky assignor the leader runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StickyAlgorithm {
    /// Kafka 0.11 to 2.5.0 (KIP-54): one balancing algorithm for every group.
    General,
    /// Kafka 2.5.1 and later (KAFKA-9987; KAFKA-12464 in 3.0; KAFKA-16277 in 3.8): when
    /// every member subscribes to the same topics, members are filled up to their quota
    /// (`AbstractStickyAssignor.constrainedAssign`), and previous ownership is settled by
    /// generation (KAFKA-12984, 3.0).
    #[default]
    Constrained,
}
