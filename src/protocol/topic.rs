//! A topic as the administrator creates it: the replicas of each partition and the
//! topic-level settings. The controller creates topics from it and the brokers apply
//! its settings, so it lives here rather than with either.

use super::ids::BrokerId;

/// Kafka's default `segment.bytes`: 1 GiB.
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;

/// A topic as the administrator created it: the replicas of each partition and the
/// topic-level settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicAssignment {
    /// The topic name.
    pub name: String,
    /// The replicas of each partition, preferred leader first.
    pub replicas: Vec<Vec<BrokerId>>,
    /// `min.insync.replicas` for this topic.
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable` for this topic.
    pub unclean_leader_election_enable: bool,
    /// `retention.ms`, `retention.bytes` and `segment.bytes` for this topic.
    pub retention: RetentionConfig,
}

impl TopicAssignment {
    /// Whether `topics` (the scenario's, as it created them) hold partition `partition`
    /// of `topic`: any other partition was created by an administrator while the
    /// cluster ran.
    pub fn hold_partition(topics: &[TopicAssignment], topic: &str, partition: u32) -> bool {
        topics.iter().any(|t| t.name == topic && (partition as usize) < t.replicas.len())
    }

    /// Whether this is one of Kafka's internal topics, `__consumer_offsets` and
    /// `__transaction_state` (`org.apache.kafka.common.internals.Topic.isInternal`).
    pub fn is_internal(&self) -> bool {
        Self::is_internal_name(&self.name)
    }

    /// Whether `topic` names one of Kafka's internal topics.
    pub fn is_internal_name(topic: &str) -> bool {
        INTERNAL_TOPIC_NAMES.contains(&topic)
    }
}

/// Kafka's internal topics (`org.apache.kafka.common.internals.Topic.INTERNAL_TOPICS`).
pub const INTERNAL_TOPIC_NAMES: [&str; 2] = ["__consumer_offsets", "__transaction_state"];

/// A topic's retention and segment settings, with Kafka's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `retention.ms`: delete a closed segment once its newest record is older than
    /// this, in milliseconds; `None` is Kafka's -1, keep forever (default 7 days).
    pub retention_ms: Option<u64>,
    /// `retention.bytes`: delete the oldest closed segments while the log stays at least
    /// this large without them, in bytes; `None` is Kafka's -1, no limit (the default).
    pub retention_bytes: Option<u64>,
    /// `segment.bytes`: the size at which the active segment is closed and a new one
    /// started, in bytes (default 1 GiB).
    pub segment_bytes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            retention_ms: Some(7 * 24 * 60 * 60 * 1000),
            retention_bytes: None,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
        }
    }
}
