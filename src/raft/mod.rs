//! KRaft: the controller quorum (KIP-595's fetch-based Raft, KIP-996's pre-vote).
//!
//! - [`log`]: the replicated log and its epoch queries (`ReplicatedLog`).
//! - [`message`]: the quorum's requests and responses.
//! - [`config`]: `controller.quorum.*` settings with Kafka's defaults.
//! - [`metadata`]: the metadata log's records (KIP-631) and the image replaying them
//!   builds (`MetadataDelta`, `PartitionRegistration.merge`).
//! - [`partition_change`]: how the controller changes a partition: elections, ISR,
//!   ELR (`PartitionChangeBuilder`).
//! - [`alter_partition`]: a leader's ISR change request and the controller's checks
//!   (`ReplicationControlManager.alterPartition`).
//! - [`cluster_control`]: the active controller's broker sessions: registration,
//!   heartbeats, fencing, controlled shutdown (`ClusterControlManager`,
//!   `BrokerHeartbeatManager`).
//! - [`store`]: the quorum-state file and the metadata log on the controller's disk.
//! - [`node`]: one voter as a state machine without I/O (`KafkaRaftClient`,
//!   `QuorumState`); the controller process drives it over `sim::net` and `sim::disk`.
//!   Its message handlers live in `node_requests.rs`, its election timers and ballots in
//!   `election` (Kafka's `CandidateState`/`ProspectiveState` backoff).
//!
//! Everything here but [`store`] (which writes through `sim::disk`, as every node
//! stores) does no I/O.
//!
//! This module does not know it is simulated: time comes in as `now_ms`, randomness as
//! an `Rng`, and messages go out as values.

pub mod alter_partition;
pub mod cluster_control;
pub mod config;
mod election;
mod leader;
pub mod log;
pub mod message;
pub mod metadata;
pub mod node;
pub mod partition_change;
pub mod placement;
pub mod store;
pub mod topic_admin;

#[cfg(test)]
mod tests;

pub use config::QuorumConfig;
pub use log::{Entry, Epoch, FetchPosition, OffsetAndEpoch, Payload, RaftLog};
pub use message::{Outbound, QuorumError, QuorumMessage};
pub use metadata::{MetadataImage, MetadataRecord};
pub use node::{ElectionState, QuorumNode, RoleKind};
