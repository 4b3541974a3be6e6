//! The group coordinator's own assignors for consumer-protocol groups (KIP-848,
//! `group.consumer.assignors`), which compute a group's target assignment on the broker
//! instead of on a member. So far: `range` (Kafka 4.0's
//! `org.apache.kafka.coordinator.group.assignor.RangeAssignor`); `uniform`, Kafka's
//! default, comes with the protocol's heartbeat (see
//! `docs/design/kip848-consumer-protocol.md` §4).

use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};

/// What the coordinator knows of a member when it assigns (Kafka's `MemberSubscription`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSpec {
    /// The member id.
    pub member_id: String,
    /// `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// The topics it subscribes to.
    pub topics: BTreeSet<String>,
}

/// A target assignment: member id → its partitions (every member appears).
pub type TargetAssignment = BTreeMap<String, BTreeSet<TopicPartition>>;

/// Why an assignment could not be computed (Kafka's `PartitionAssignorException`; the
/// member whose heartbeat triggered it gets UNKNOWN_SERVER_ERROR).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTopic(pub String);

/// Kafka 4.0's server-side `RangeAssignor` ("range"): members in order, static members
/// first by instance id, then the others by member id (`sortMemberIds`); for each topic,
/// its `n` subscribers in that order take consecutive ranges of its `P` partitions,
/// `P / n` each and one more for the first `P % n` (`addPartitionsToAssignment`). Topics
/// with equal partition counts are co-partitioned. Not sticky: a member id that sorts
/// differently after a restart may get another range, unless the member is static.
/// `partitions` maps each existing topic to its partition count.
pub fn range(members: &[MemberSpec], partitions: &BTreeMap<String, u32>) -> Result<TargetAssignment, UnknownTopic> {
    let mut order: Vec<&MemberSpec> = members.iter().collect();
    order.sort_by(|a, b| match (&a.instance_id, &b.instance_id) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.member_id.cmp(&b.member_id),
    });
    // Per topic: (partition count, subscribers, next partition to hand out, handed out).
    let mut topics: BTreeMap<&str, (u32, u32, u32, u32)> = BTreeMap::new();
    for member in &order {
        for topic in &member.topics {
            let count = *partitions.get(topic).ok_or_else(|| UnknownTopic(topic.clone()))?;
            topics.entry(topic).or_insert((count, 0, 0, 0)).1 += 1;
        }
    }
    let mut out = TargetAssignment::new();
    for member in order {
        let mut assigned = BTreeSet::new();
        for topic in &member.topics {
            let (count, subscribers, next, served) = topics.get_mut(topic.as_str()).expect("counted above");
            let quota = *count / *subscribers + u32::from(*served < *count % *subscribers);
            let end = (*next + quota).min(*count);
            assigned.extend((*next..end).map(|p| TopicPartition::new(topic.as_str(), p)));
            *next = end;
            *served += 1;
        }
        out.insert(member.member_id.clone(), assigned);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, instance: Option<&str>, topics: &[&str]) -> MemberSpec {
        MemberSpec {
            member_id: id.into(),
            instance_id: instance.map(str::to_string),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn lines(assignment: &TargetAssignment) -> Vec<String> {
        assignment
            .iter()
            .map(|(m, tps)| format!("{m} {}", tps.iter().map(TopicPartition::to_string).collect::<Vec<_>>().join(",")))
            .collect()
    }

    fn counts(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn kafka_test_first_assignment_three_members_three_topics_different_subscriptions() {
        // RangeAssignorTest.testFirstAssignmentThreeMembersThreeTopicsDifferentSubscriptions.
        let members = [spec("A", None, &["T1", "T2"]), spec("B", None, &["T3"]), spec("C", None, &["T2", "T3"])];
        let got = range(&members, &counts(&[("T1", 3), ("T2", 3), ("T3", 2)])).unwrap();
        assert_eq!(lines(&got), ["A T1-0,T1-1,T1-2,T2-0,T2-1", "B T3-0", "C T2-2,T3-1"]);
    }

    #[test]
    fn static_members_come_first_by_instance_id_so_their_ranges_survive_new_member_ids() {
        // The class javadoc's example: I0 and I1 keep their ranges whatever their member
        // ids sort to; a dynamic member sorts after every static one.
        let members = [spec("m-z", Some("I0"), &["T1", "T2"]), spec("m-a", Some("I1"), &["T1", "T2"])];
        let got = range(&members, &counts(&[("T1", 3), ("T2", 3)])).unwrap();
        assert_eq!(lines(&got), ["m-a T1-2,T2-2", "m-z T1-0,T1-1,T2-0,T2-1"]);
        let mixed = [spec("a", None, &["T1"]), spec("z", Some("I0"), &["T1"])];
        let got = range(&mixed, &counts(&[("T1", 3)])).unwrap();
        assert_eq!(lines(&got), ["a T1-2", "z T1-0,T1-1"]);
    }

    #[test]
    fn more_members_than_partitions_leave_the_last_ones_empty_and_unknown_topics_fail() {
        let members = [spec("a", None, &["T1"]), spec("b", None, &["T1"]), spec("c", None, &["T1"])];
        let got = range(&members, &counts(&[("T1", 2)])).unwrap();
        assert_eq!(lines(&got), ["a T1-0", "b T1-1", "c "]);
        assert!(range(&[], &counts(&[("T1", 2)])).unwrap().is_empty());
        assert_eq!(range(&[spec("a", None, &["gone"])], &counts(&[])), Err(UnknownTopic("gone".into())));
    }
}
