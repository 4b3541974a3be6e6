//! The group coordinator: each broker coordinates the groups whose `__consumer_offsets`
//! partition it leads. `group` is the membership state machine; `service` answers the
//! group requests and stores offsets in the replicated `__consumer_offsets` topic.
//! (Consumer groups are issue 4, in progress: the consumer side is not built yet.)

pub mod group;
pub mod service;

pub use service::{Coordinator, OFFSETS_TOPIC};

use crate::protocol::java;

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
