//! The group coordinator's own assignors for consumer-protocol groups (KIP-848,
//! `group.consumer.assignors`), which compute a group's target assignment on the broker
//! instead of on a member: `range` (Kafka 4.0's
//! `org.apache.kafka.coordinator.group.assignor.RangeAssignor`) and `uniform`, Kafka's
//! default, with its two builders: `UniformHomogeneousAssignmentBuilder` for groups whose
//! members all subscribe to the same topics, and [`heterogeneous`] for the others.
//! See `docs/design/kip848-consumer-protocol.md` §4.

mod heterogeneous;

pub use heterogeneous::uniform_heterogeneous;

use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};

/// Which members of a uniform assignment may hold one partition more than the minimum
/// quota (`UniformHomogeneousAssignmentBuilder.maybeRevokePartitions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtraPartitionRule {
    /// Kafka 4.0: the first `N % M` members in iteration order, whatever they hold, so a
    /// member holding the extra may have to give it up to one that did not.
    FirstMembers,
    /// Kafka 4.1 (KAFKA-18688): a member keeps an extra only if it already holds it;
    /// the last members take the extras nobody kept.
    GiveBack,
}

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

/// Kafka 4.0's `UniformAssignor` ("uniform"): `members` in the order Kafka's
/// `GroupSpec.memberIds()` iterates them, each with the existing topics it subscribes to;
/// `homogeneous` when every member subscribes to the same topic names, existing or not
/// (Kafka's `ModernGroup.subscriptionType`), which picks [`uniform_homogeneous`],
/// otherwise [`uniform_heterogeneous`].
pub fn uniform(
    members: &[MemberSpec],
    homogeneous: bool,
    current: &TargetAssignment,
    partitions: &BTreeMap<String, u32>,
    rule: ExtraPartitionRule,
) -> Result<TargetAssignment, UnknownTopic> {
    if !homogeneous {
        return uniform_heterogeneous(members, current, partitions);
    }
    let ids: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
    let topics = members.first().map(|m| m.topics.clone()).unwrap_or_default();
    uniform_homogeneous(&ids, &topics, current, partitions, rule)
}

/// Kafka 4.0's `UniformHomogeneousAssignmentBuilder` ("uniform" when every member
/// subscribes to `topics`): balanced first, then sticky to the current target
/// assignment. `members` come in the order Kafka's `GroupSpec.memberIds()` iterates them
/// (a Java `HashMap`: the coordinator passes [`crate::protocol::java::hash_map_order`];
/// Kafka's unit tests use sorted order). With `N` partitions and `M` members, the first
/// `N % M` members in that order may hold one more than `N / M` whatever they held
/// ([`ExtraPartitionRule::FirstMembers`], Kafka 4.0), or only members that already
/// hold more than `N / M` keep one more, unless the last members must take the extras
/// ([`ExtraPartitionRule::GiveBack`], Kafka 4.1, KAFKA-18688). `maybeRevokePartitions`: each member
/// keeps its current target up to its quota, topic by topic and partition by partition,
/// and gives up the rest; `assignRemainingPartitions`: the partitions nobody holds, then
/// those given up, in that order, fill the members left below their quota, in member
/// order. Simplified: topics in name order and partitions in ascending order (Kafka
/// iterates hash sets of topic ids and of partition numbers; the latter is ascending for
/// partition numbers below the set's table size).
pub fn uniform_homogeneous(
    members: &[&str],
    topics: &BTreeSet<String>,
    current: &TargetAssignment,
    partitions: &BTreeMap<String, u32>,
    rule: ExtraPartitionRule,
) -> Result<TargetAssignment, UnknownTopic> {
    if members.is_empty() || topics.is_empty() {
        return Ok(members.iter().map(|m| (m.to_string(), BTreeSet::new())).collect());
    }
    let mut all = Vec::new();
    for topic in topics {
        let count = *partitions.get(topic).ok_or_else(|| UnknownTopic(topic.clone()))?;
        all.extend((0..count).map(|p| TopicPartition::new(topic.as_str(), p)));
    }
    let held: BTreeSet<&TopicPartition> = current.values().flatten().collect();
    let mut unassigned: Vec<TopicPartition> = all.iter().filter(|tp| !held.contains(tp)).cloned().collect();
    let (min_quota, mut extra) = (all.len() / members.len(), all.len() % members.len());
    let mut target = TargetAssignment::new();
    let mut unfilled: Vec<(&str, usize)> = Vec::new();
    for (index, &member) in members.iter().enumerate() {
        let mut has_extra = extra > 0;
        let mut quota = min_quota + usize::from(has_extra);
        if rule == ExtraPartitionRule::FirstMembers {
            extra = extra.saturating_sub(1);
        }
        let mut kept = BTreeSet::new();
        let previous = current.get(member).into_iter().flatten().filter(|tp| topics.contains(tp.topic.as_ref()));
        for tp in previous {
            if quota > 0 {
                quota -= 1;
                kept.insert(tp.clone());
            } else {
                unassigned.push(tp.clone());
            }
        }
        // Kafka 4.1: a member that could not fill its extra gives it back for another
        // member to claim, unless it is among the last that must take one.
        if rule == ExtraPartitionRule::GiveBack && quota > 0 && has_extra && members.len() - index > extra {
            quota -= 1;
            has_extra = false;
        }
        if quota > 0 {
            unfilled.push((member, quota));
        }
        if rule == ExtraPartitionRule::GiveBack && has_extra {
            extra -= 1;
        }
        target.insert(member.to_string(), kept);
    }
    let mut next = unassigned.into_iter();
    for (member, quota) in unfilled {
        target.get_mut(member).expect("inserted above").extend(next.by_ref().take(quota));
    }
    // The quotas add up to the partition count, so nothing is left (Kafka throws if it were).
    debug_assert!(next.next().is_none(), "partitions left unassigned");
    Ok(target)
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

    fn target(list: &[(&str, &[(&str, u32)])]) -> TargetAssignment {
        list.iter()
            .map(|(m, tps)| (m.to_string(), tps.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect()))
            .collect()
    }

    #[test]
    fn kafka_test_uniform_reassignment_when_a_member_joins_two_members_two_topics() {
        // UniformHomogeneousAssignmentBuilderTest (OptimizedUniformAssignmentBuilderTest
        // in 3.7) testReassignmentWhenOneMemberAddedAfterInitialAssignmentWithTwoMembersTwoTopics.
        let current = target(&[("A", &[("T1", 0), ("T1", 2), ("T2", 0)]), ("B", &[("T1", 1), ("T2", 1), ("T2", 2)])]);
        let topics: BTreeSet<String> = ["T1".to_string(), "T2".to_string()].into();
        let got = uniform_homogeneous(
            &["A", "B", "C"],
            &topics,
            &current,
            &counts(&[("T1", 3), ("T2", 3)]),
            ExtraPartitionRule::FirstMembers,
        )
        .unwrap();
        assert_eq!(lines(&got), ["A T1-0,T1-2", "B T1-1,T2-1", "C T2-0,T2-2"]);
    }

    #[test]
    fn uniform_first_assignment_deals_in_member_order_and_a_leaving_member_frees_only_its_own() {
        let topics: BTreeSet<String> = ["t".to_string()].into();
        let first =
            uniform_homogeneous(&["b", "a", "c"], &topics, &TargetAssignment::new(), &counts(&[("t", 7)]), FIRST)
                .unwrap();
        // 7 over 3: the first member in iteration order (b) takes 3.
        assert_eq!(lines(&first), ["a t-3,t-4", "b t-0,t-1,t-2", "c t-5,t-6"]);
        // c leaves: a and b keep theirs and share c's two.
        let mut current = first.clone();
        current.remove("c");
        let after = uniform_homogeneous(&["b", "a"], &topics, &current, &counts(&[("t", 7)]), FIRST).unwrap();
        assert_eq!(lines(&after), ["a t-3,t-4,t-6", "b t-0,t-1,t-2,t-5"]);
        assert_eq!(
            uniform_homogeneous(&["a"], &topics, &TargetAssignment::new(), &counts(&[]), FIRST),
            Err(UnknownTopic("t".into()))
        );
    }

    const FIRST: ExtraPartitionRule = ExtraPartitionRule::FirstMembers;

    #[test]
    fn kafka_4_1_lets_the_member_that_holds_the_extra_partition_keep_it() {
        // 7 partitions over A, B, C (in iteration order): B holds three, A and C two.
        let topics: BTreeSet<String> = ["t".to_string()].into();
        let current = target(&[
            ("A", &[("t", 0), ("t", 1)]),
            ("B", &[("t", 2), ("t", 3), ("t", 4)]),
            ("C", &[("t", 5), ("t", 6)]),
        ]);
        let assign =
            |rule| uniform_homogeneous(&["A", "B", "C"], &topics, &current, &counts(&[("t", 7)]), rule).unwrap();
        // Kafka 4.0: A, first, gets the extra, so B must give t-4 up to it.
        assert_eq!(lines(&assign(FIRST)), ["A t-0,t-1,t-4", "B t-2,t-3", "C t-5,t-6"]);
        // Kafka 4.1: A gives the extra back; B keeps its three; nothing moves.
        assert_eq!(lines(&assign(ExtraPartitionRule::GiveBack)), lines(&current));
        // The last member takes an extra nobody kept.
        let fresh = uniform_homogeneous(
            &["A", "B", "C"],
            &topics,
            &TargetAssignment::new(),
            &counts(&[("t", 7)]),
            ExtraPartitionRule::GiveBack,
        )
        .unwrap();
        assert_eq!(lines(&fresh), ["A t-0,t-1", "B t-2,t-3", "C t-4,t-5,t-6"]);
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
