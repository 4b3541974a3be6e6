//! What the coordinator writes to `__consumer_offsets` and reads back when it loads a
//! partition (Kafka's `GroupMetadataManager`: offset commit records, written by
//! `storeOffsets`, and group metadata records, written by `storeGroup` when a generation
//! completes or the group empties, replayed by `loadGroupsAndOffsets`, the latest record
//! of a key winning).
//!
//! kafkasim's records carry an integer value, so a record's key says what it is and, for
//! a group, also carries the group's metadata (as JSON, so any group or topic name
//! round-trips): `["offset", group, topic, partition]` with the committed offset as the
//! value, and `["group", group, metadata]` with the generation as the value.
//!
//! A consumer-protocol group (KIP-848) is stored as Kafka 4.0's group coordinator stores
//! it: one record per fact, `["consumer-group", group, record]` with a
//! [`ConsumerGroupRecord`], replayed in log order (see `consumer_group`).

use super::reconciliation::MemberState;
use crate::protocol::{Offset, Record, ServerAssignor, TopicPartition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A group as Kafka's `GroupMetadataValue` stores it: the generation, its leader and
/// every member with its subscription and assignment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMetadata {
    /// The generation.
    pub generation: u32,
    /// The leader's member id (`None` for an empty group).
    pub leader: Option<String>,
    /// The members, in member id order.
    pub members: Vec<MemberMetadata>,
}

/// One member as the group metadata record stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadata {
    /// The member id.
    pub member_id: String,
    /// The `client.id` it joined with.
    pub client_id: String,
    /// Its `group.instance.id`, if it is a static member (KIP-345; absent in records
    /// written before static membership, as in Kafka's `MemberMetadata` v3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_instance_id: Option<String>,
    /// Its `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// Its rebalance timeout (`max.poll.interval.ms`).
    pub rebalance_timeout_ms: u64,
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The partitions it owned before this generation (sticky assignor user data).
    pub owned: Vec<TopicPartition>,
    /// The generation it owned them in.
    pub owned_generation: Option<u32>,
    /// Its assignment in this generation.
    pub assignment: Vec<TopicPartition>,
}

/// One record of a consumer-protocol group (KIP-848), with Kafka's record type ids
/// (`group-coordinator/src/main/resources/common/message/*.json`). A `None` value is a
/// tombstone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum ConsumerGroupRecord {
    /// `ConsumerGroupMetadata` (3): the group epoch, written on every bump.
    GroupEpoch {
        /// The group epoch.
        epoch: u32,
    },
    /// `ConsumerGroupPartitionMetadata` (4): the partition count of every subscribed
    /// topic that exists, as of the last target assignment.
    SubscriptionMetadata {
        /// Topic → partition count.
        partitions: BTreeMap<String, u32>,
    },
    /// `ConsumerGroupMemberMetadata` (5): what the member told the coordinator.
    MemberMetadata {
        /// The member id.
        member_id: String,
        /// Its metadata; `None` removes the member.
        metadata: Option<ConsumerMemberMetadata>,
    },
    /// `ConsumerGroupTargetAssignmentMember` (7): a member's target partitions, written
    /// for every member whose target changed.
    TargetMember {
        /// The member id.
        member_id: String,
        /// Its target; `None` removes it.
        partitions: Option<Vec<TopicPartition>>,
    },
    /// `ConsumerGroupTargetAssignmentMetadata` (6): the epoch of the target assignment.
    TargetEpoch {
        /// The group epoch the target was computed at.
        epoch: u32,
    },
    /// `ConsumerGroupCurrentMemberAssignment` (8): where the member's reconciliation
    /// stands.
    CurrentAssignment {
        /// The member id.
        member_id: String,
        /// Its assignment; `None` before the member is removed.
        assignment: Option<CurrentAssignment>,
    },
    /// `ConsumerGroupRegularExpression` (16): the topics a regular expression the group's
    /// members subscribe to resolved to.
    RegularExpression {
        /// The regular expression.
        regex: String,
        /// What it resolved to; `None` once no member subscribes to it.
        resolved: Option<ResolvedRegex>,
    },
}

/// The value of a `ConsumerGroupRegularExpression` record (Kafka's
/// `ResolvedRegularExpression`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedRegex {
    /// The topics it matched, sorted.
    pub topics: Vec<String>,
    /// The offset of the metadata image it was resolved against.
    pub version: u64,
    /// When it was resolved, in milliseconds of simulated time.
    pub timestamp_ms: u64,
}

/// The value of a `ConsumerGroupMemberMetadata` record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerMemberMetadata {
    /// `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// The `client.id`.
    pub client_id: String,
    /// The subscribed topic names, sorted.
    pub topics: Vec<String>,
    /// The subscribed regular expression (`subscribe(SubscriptionPattern)`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The rebalance timeout (`max.poll.interval.ms`).
    pub rebalance_timeout_ms: u64,
    /// `group.remote.assignor`, if the member named one.
    pub server_assignor: Option<ServerAssignor>,
}

/// The value of a `ConsumerGroupCurrentMemberAssignment` record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentAssignment {
    /// The member epoch (-2: a static member that left for now).
    pub member_epoch: i32,
    /// The epoch before (-1: none).
    pub previous_member_epoch: i32,
    /// The reconciliation state.
    pub state: MemberState,
    /// The partitions it may use.
    pub assigned: Vec<TopicPartition>,
    /// The partitions it must revoke.
    pub pending_revocation: Vec<TopicPartition>,
}

/// What one record of `__consumer_offsets` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoordinatorRecord {
    /// `group` committed `offset` for `tp`.
    Offset {
        /// The group.
        group: String,
        /// The partition.
        tp: TopicPartition,
        /// The next offset to consume.
        offset: Offset,
    },
    /// `group`'s offset for `tp` was deleted with its topic (Kafka's offset tombstone:
    /// the offset key with a null value).
    OffsetTombstone {
        /// The group.
        group: String,
        /// The partition.
        tp: TopicPartition,
    },
    /// `group`'s metadata, as of its latest completed generation.
    Group {
        /// The group.
        group: String,
        /// The metadata.
        metadata: GroupMetadata,
    },
    /// One record of a consumer-protocol group.
    ConsumerGroup {
        /// The group.
        group: String,
        /// The record.
        record: ConsumerGroupRecord,
    },
}

/// The record of an offset commit.
pub fn offset_record(group: &str, tp: &TopicPartition, offset: Offset, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("offset", group, &tp.topic, tp.partition)).expect("keys serialize");
    Record::new(Some(key), offset, timestamp_ms)
}

/// The tombstone of `group`'s offset for `tp` (`OffsetMetadataManager.onPartitionsDeleted`).
/// Records carry a number, not bytes, so the key says what Kafka's null value says.
pub fn offset_tombstone(group: &str, tp: &TopicPartition, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("offset-tombstone", group, &tp.topic, tp.partition)).expect("keys serialize");
    Record::new(Some(key), 0, timestamp_ms)
}

/// The record of a group's metadata.
pub fn group_record(group: &str, metadata: &GroupMetadata, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("group", group, metadata)).expect("keys serialize");
    Record::new(Some(key), u64::from(metadata.generation), timestamp_ms)
}

/// A record of a consumer-protocol group.
pub fn consumer_group_record(group: &str, record: &ConsumerGroupRecord, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("consumer-group", group, record)).expect("keys serialize");
    Record::new(Some(key), 0, timestamp_ms)
}

/// Reads a record back; `None` for a record the coordinator did not write.
pub fn parse(key: &str, value: u64) -> Option<CoordinatorRecord> {
    if let Ok((kind, group, topic, partition)) = serde_json::from_str::<(String, String, String, u32)>(key) {
        let tp = TopicPartition::new(topic, partition);
        return match kind.as_str() {
            "offset" => Some(CoordinatorRecord::Offset { group, tp, offset: value }),
            "offset-tombstone" => Some(CoordinatorRecord::OffsetTombstone { group, tp }),
            _ => None,
        };
    }
    if let Ok((kind, group, record)) = serde_json::from_str::<(String, String, ConsumerGroupRecord)>(key) {
        return (kind == "consumer-group").then_some(CoordinatorRecord::ConsumerGroup { group, record });
    }
    let (kind, group, metadata): (String, String, GroupMetadata) = serde_json::from_str(key).ok()?;
    (kind == "group").then_some(CoordinatorRecord::Group { group, metadata })
}

/// What a partition of `__consumer_offsets` holds once replayed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// The latest committed offset per group and partition.
    pub offsets: BTreeMap<(String, TopicPartition), Offset>,
    /// The latest metadata per group.
    pub groups: BTreeMap<String, GroupMetadata>,
    /// Every record of each consumer-protocol group, in log order.
    pub consumer_groups: BTreeMap<String, Vec<ConsumerGroupRecord>>,
}

/// Replays a partition's records in offset order: the latest record of each key wins.
pub fn replay(records: impl IntoIterator<Item = (Option<String>, u64)>) -> Replayed {
    let mut replayed = Replayed::default();
    for (key, value) in records {
        match key.as_deref().and_then(|key| parse(key, value)) {
            Some(CoordinatorRecord::Offset { group, tp, offset }) => {
                replayed.offsets.insert((group, tp), offset);
            }
            Some(CoordinatorRecord::OffsetTombstone { group, tp }) => {
                replayed.offsets.remove(&(group, tp));
            }
            Some(CoordinatorRecord::Group { group, metadata }) => {
                replayed.groups.insert(group, metadata);
            }
            Some(CoordinatorRecord::ConsumerGroup { group, record }) => {
                replayed.consumer_groups.entry(group).or_default().push(record);
            }
            None => {}
        }
    }
    replayed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(generation: u32) -> GroupMetadata {
        GroupMetadata {
            generation,
            leader: Some("c-1".into()),
            members: vec![MemberMetadata {
                member_id: "c-1".into(),
                client_id: "c".into(),
                group_instance_id: Some("c-instance".into()),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 300_000,
                topics: vec!["orders".into()],
                owned: vec![TopicPartition::new("orders", 1)],
                owned_generation: Some(generation - 1),
                assignment: vec![TopicPartition::new("orders", 0)],
            }],
        }
    }

    fn key_value(record: Record) -> (Option<String>, u64) {
        (record.key, record.value)
    }

    #[test]
    fn records_round_trip_whatever_the_names() {
        let tp = TopicPartition::new("my-orders", 7);
        let record = offset_record("billing|\"eu\"", &tp, 42, 0);
        let expected = CoordinatorRecord::Offset { group: "billing|\"eu\"".into(), tp, offset: 42 };
        assert_eq!(parse(record.key.as_deref().unwrap(), record.value), Some(expected));
        let record = group_record("[\"offset\"]", &metadata(3), 0);
        assert_eq!(record.value, 3);
        let expected = CoordinatorRecord::Group { group: "[\"offset\"]".into(), metadata: metadata(3) };
        assert_eq!(parse(record.key.as_deref().unwrap(), record.value), Some(expected));
        assert_eq!(parse("[\"generation\",\"billing\"]", 1), None);
        assert_eq!(parse("not json", 1), None);
    }

    #[test]
    fn replay_keeps_the_latest_record_of_each_key() {
        let tp = TopicPartition::new("orders", 0);
        let replayed = replay([
            key_value(offset_record("g", &tp, 5, 0)),
            key_value(group_record("g", &metadata(1), 0)),
            (Some("a user key".into()), 9),
            (None, 9),
            key_value(offset_record("g", &tp, 8, 0)),
            key_value(group_record("g", &metadata(2), 0)),
            key_value(offset_record("h", &tp, 1, 0)),
            key_value(offset_record("d", &tp, 4, 0)),
            key_value(offset_tombstone("d", &tp, 0)),
            key_value(consumer_group_record("k", &ConsumerGroupRecord::GroupEpoch { epoch: 1 }, 0)),
            key_value(consumer_group_record("k", &ConsumerGroupRecord::TargetEpoch { epoch: 1 }, 0)),
        ]);
        let epochs = [ConsumerGroupRecord::GroupEpoch { epoch: 1 }, ConsumerGroupRecord::TargetEpoch { epoch: 1 }];
        assert_eq!(replayed.consumer_groups["k"], epochs, "every consumer-group record, in log order");
        assert_eq!(replayed.offsets.get(&("g".to_string(), tp.clone())), Some(&8));
        assert_eq!(replayed.offsets.get(&("h".to_string(), tp.clone())), Some(&1));
        assert_eq!(replayed.offsets.get(&("d".to_string(), tp)), None, "a tombstone deletes the offset");
        assert_eq!(replayed.groups.keys().collect::<Vec<_>>(), ["g"]);
        assert_eq!(replayed.groups["g"].generation, 2);
    }
}
