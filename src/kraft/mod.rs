//! KRaft's processes: the dedicated controller (a Raft voter driving a
//! [`QuorumNode`](crate::raft::QuorumNode) over `sim::net` and `sim::disk`, and, while it
//! leads, the active controller), and the transport both controllers and brokers use
//! for quorum messages. The broker's own KRaft side (replicating the metadata log as an
//! observer, registration and heartbeats) lives in `broker::kraft`.
//!
//! Files: `transport` (quorum messages over connections), `controller` (the process and
//! its trace of the quorum), `active` (the decisions of the active controller).
//!
//! Simplified, as the README says: no snapshots (the log stays small), a fixed voter set
//! (no KIP-853), and brokers keep their copy of the metadata log in memory, replaying it
//! from the start after a restart.

mod active;
mod controller;
pub mod transport;

pub use controller::{run_controller, ControllerContext};

use crate::protocol::TopicAssignment;
use crate::raft::cluster_control::{ReplicationSettings, TopicPolicy};

/// What the active controller needs to know of the cluster's settings.
#[derive(Clone, Debug)]
pub struct ControllerSettings {
    /// `broker.session.timeout.ms`.
    pub broker_session_timeout_ms: u64,
    /// ELR and the leader-epoch bump on ISR shrinks.
    pub replication: ReplicationSettings,
    /// The cluster's `min.insync.replicas` and `unclean.leader.election.enable`, for
    /// topics without their own.
    pub default_topic: TopicPolicy,
    /// The topics the administrator creates once their replicas are up.
    pub topics: Vec<TopicAssignment>,
    /// `leader.imbalance.check.interval.seconds` in milliseconds, when
    /// `auto.leader.rebalance.enable`.
    pub leader_imbalance_check_interval_ms: Option<u64>,
    /// `delete.topic.enable`: whether DeleteTopics may delete (default true).
    pub delete_topic_enable: bool,
    /// `metadata.max.idle.interval.ms`, unless 0: the period of the active controller's
    /// `NoOpRecord`s (KIP-835).
    pub max_idle_interval_ms: Option<u64>,
}
