//! The group coordinator: each broker coordinates the groups whose `__consumer_offsets`
//! partition it leads. `group` is the membership state machine; `records` the offset and
//! group metadata records of `__consumer_offsets`; `service` answers the group requests,
//! writes those records through the replicated log and loads them when the broker
//! becomes leader of an offsets partition. `txn_offsets` handles offsets committed
//! inside transactions. `consumer_group` is a KIP-848 consumer-protocol group
//! (`group.protocol = "consumer"`), answered by `consumer_service`; it moves members
//! towards their target with `reconciliation` and computes targets with
//! `server_assignor`.

pub mod consumer_group;
mod consumer_service;
pub mod group;
mod ownership;
pub mod reconciliation;
pub mod records;
pub mod server_assignor;
pub mod service;
mod txn_offsets;

pub use service::{Coordinator, OFFSETS_TOPIC};
pub use txn_offsets::{complete_txn_offsets, offsets_partition_of};

use crate::protocol::java;

/// The coordinator's settings, with Kafka's broker setting names and defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinatorConfig {
    /// `group.min.session.timeout.ms`: a JoinGroup with a smaller `session.timeout.ms`
    /// is refused with INVALID_SESSION_TIMEOUT (default 6000).
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`: a JoinGroup with a larger `session.timeout.ms` is
    /// refused with INVALID_SESSION_TIMEOUT (default 1800000 since Kafka 2.3, KIP-345 /
    /// KAFKA-7862; 300000 from 0.10.0, KAFKA-3636; 30000 in 0.9).
    pub group_max_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty
    /// group waits for more members (default 3000, since Kafka 0.11, KIP-134 /
    /// KAFKA-4925; 0 gives the behaviour of older releases).
    pub group_initial_rebalance_delay_ms: u64,
    /// Whether `group.coordinator.rebalance.protocols` lists `consumer` (Kafka 3.7+;
    /// the default from 4.0): without it a ConsumerGroupHeartbeat is answered
    /// UNSUPPORTED_VERSION.
    pub consumer_protocol_enabled: bool,
    /// The settings of consumer-protocol groups (`group.consumer.*`).
    pub consumer: consumer_group::ConsumerGroupSettings,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            consumer_protocol_enabled: false,
            consumer: consumer_group::ConsumerGroupSettings::default(),
        }
    }
}

/// The partition of `__consumer_offsets` that holds `group`'s offsets:
/// `abs(group.hashCode()) % partitions`, with Java's `String.hashCode`, as Kafka does.
pub fn offsets_partition_for(group: &str, partitions: u32) -> u32 {
    let hash = java::string_hash(group);
    // Kafka's Utils.abs maps i32::MIN to 0.
    let positive = if hash == i32::MIN { 0 } else { hash.abs() };
    positive as u32 % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_partitions_follow_javas_string_hash() {
        // "abc".hashCode() == 96354; "billing".hashCode() == -109829509 (Java).
        assert_eq!(offsets_partition_for("abc", 50), 96354 % 50);
        assert_eq!(offsets_partition_for("billing", 50), 109_829_509 % 50);
        assert_eq!(offsets_partition_for("", 5), 0);
    }
}
