//! Kafka's partition assignors as pure functions: the group leader runs one of them over
//! the members' subscriptions during a rebalance (JoinGroup → SyncGroup), chosen by
//! `partition.assignment.strategy`.
//!
//! - [`AssignmentStrategy::Range`] (`RangeAssignor`): per topic, the subscribed members sorted by
//!   member id take consecutive ranges of partitions; with `n` partitions and `m`
//!   members each takes `n / m` and the first `n % m` take one more.
//! - [`AssignmentStrategy::RoundRobin`] (`RoundRobinAssignor`): every partition of every
//!   subscribed topic, sorted by topic then partition, is dealt to the members sorted by
//!   member id in a circle, skipping members not subscribed to the partition's topic.
//! - [`AssignmentStrategy::Sticky`] (`StickyAssignor`): balanced first, then as much of each
//!   member's previous assignment ([`MemberSubscription::owned`]) as possible (see
//!   `sticky`).
//! - [`AssignmentStrategy::CooperativeSticky`] (`CooperativeStickyAssignor`, KIP-429): the
//!   sticky assignment minus every partition that would move straight from a member still
//!   claiming it to another member; the owner revokes it and rejoins, and the next
//!   rebalance hands it over (see `cooperative`).
//!
//! Everything is ordered (`BTreeMap`, sorted vectors), so the same input always gives the
//! same assignment: the simulation replays byte for byte.

mod cooperative;
mod sticky;
#[cfg(test)]
mod tests;

use crate::protocol::{AssignmentStrategy, StickyAlgorithm, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// What one member of a group told the coordinator in JoinGroup.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// The topics the member subscribes to.
    pub topics: Vec<String>,
    /// The partitions the member owned in the previous generation (empty for a new
    /// member). Only the sticky assignors read it.
    pub owned: Vec<TopicPartition>,
    /// The generation in which it owned them (`None` for a new member).
    pub generation: Option<u32>,
}

/// A group's assignment: member id → its partitions, sorted by topic then partition.
/// Every member appears, with an empty list when it gets nothing.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Assigns the partitions of the members' subscribed topics to the members, with the
/// newest Kafka's rules. `partitions` maps a topic to its partition count; subscribed
/// topics missing from it (not created yet) get nothing. Member ids are expected to be
/// unique; a repeated id keeps its first subscription. `members` come in the order the
/// leader received them. The result depends only on the input.
pub fn assign(
    strategy: AssignmentStrategy,
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, u32>,
) -> Assignment {
    assign_with(strategy, StickyAlgorithm::default(), members, partitions)
}

/// [`assign`] with the sticky assignor of a given release.
pub fn assign_with(
    strategy: AssignmentStrategy,
    sticky_algorithm: StickyAlgorithm,
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, u32>,
) -> Assignment {
    let order: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
    let members = by_member_id(members);
    let order: Vec<&str> =
        order.iter().enumerate().filter(|(i, id)| !order[..*i].contains(id)).map(|(_, id)| *id).collect();
    let mut result = match strategy {
        AssignmentStrategy::Range => range(&members, partitions),
        AssignmentStrategy::RoundRobin => round_robin(&members, partitions),
        AssignmentStrategy::Sticky => sticky::sticky(&order, &members, partitions, sticky_algorithm).assignment,
        AssignmentStrategy::CooperativeSticky => {
            cooperative::cooperative_sticky(&order, &members, partitions, sticky_algorithm)
        }
    };
    for list in result.values_mut() {
        list.sort();
    }
    result
}

/// How many partitions changed owner from `before` to `after`: those owned by someone
/// in `before` that are owned by someone else, or by nobody, in `after`. A partition
/// first owned in `after` is an initial assignment, not a move. This is the cost of a
/// rebalance the assignor-comparison scenario reports: every moved partition is revoked
/// from one consumer and its processing restarts on another.
pub fn moved(before: &Assignment, after: &Assignment) -> usize {
    let owner_after: BTreeMap<&TopicPartition, &String> =
        after.iter().flat_map(|(member, tps)| tps.iter().map(move |tp| (tp, member))).collect();
    before
        .iter()
        .flat_map(|(member, tps)| tps.iter().map(move |tp| (tp, member)))
        .filter(|(tp, member)| owner_after.get(tp) != Some(member))
        .count()
}

/// The members keyed (and so sorted) by member id; a repeated id keeps its first entry.
fn by_member_id(members: &[MemberSubscription]) -> BTreeMap<&str, &MemberSubscription> {
    let mut map = BTreeMap::new();
    for m in members {
        map.entry(m.member_id.as_str()).or_insert(m);
    }
    map
}

/// An empty list for every member, so members that get nothing still appear.
fn empty(members: &BTreeMap<&str, &MemberSubscription>) -> Assignment {
    members.keys().map(|id| (id.to_string(), Vec::new())).collect()
}

fn subscribes(member: &MemberSubscription, topic: &str) -> bool {
    member.topics.iter().any(|t| t == topic)
}

/// Every partition of every topic some member subscribes to, sorted by topic then
/// partition.
fn subscribed_partitions(
    members: &BTreeMap<&str, &MemberSubscription>,
    partitions: &BTreeMap<String, u32>,
) -> Vec<TopicPartition> {
    let topics: BTreeSet<&str> = members.values().flat_map(|m| m.topics.iter().map(String::as_str)).collect();
    topics
        .into_iter()
        .filter_map(|t| partitions.get(t).map(|&n| (t, n)))
        .flat_map(|(t, n)| (0..n).map(move |p| TopicPartition::new(t, p)))
        .collect()
}

/// `RangeAssignor`: topic by topic, so a member's partitions of co-partitioned topics
/// line up (the reason range exists, and why it piles extra partitions on the first
/// members when there are many topics).
fn range(members: &BTreeMap<&str, &MemberSubscription>, partitions: &BTreeMap<String, u32>) -> Assignment {
    let mut result = empty(members);
    for (topic, &count) in partitions {
        let subscribed: Vec<&str> = members.iter().filter(|(_, m)| subscribes(m, topic)).map(|(id, _)| *id).collect();
        if subscribed.is_empty() {
            continue;
        }
        let (each, extra) = (count as usize / subscribed.len(), count as usize % subscribed.len());
        let mut next = 0u32;
        for (i, id) in subscribed.iter().enumerate() {
            let take = each + usize::from(i < extra);
            let list = result.get_mut(*id).expect("every member has a list");
            list.extend((next..next + take as u32).map(|p| TopicPartition::new(topic.as_str(), p)));
            next += take as u32;
        }
    }
    result
}

/// `RoundRobinAssignor`: one circular pass over the sorted members; for each partition
/// the pointer moves on until it reaches a member subscribed to the partition's topic,
/// which takes it, and then moves one further (as Kafka's `CircularIterator` does).
fn round_robin(members: &BTreeMap<&str, &MemberSubscription>, partitions: &BTreeMap<String, u32>) -> Assignment {
    let mut result = empty(members);
    let ids: Vec<&str> = members.keys().copied().collect();
    let mut at = 0usize;
    for tp in subscribed_partitions(members, partitions) {
        // Some member subscribes to every listed topic, so this stops within one lap.
        while !subscribes(members[ids[at]], &tp.topic) {
            at = (at + 1) % ids.len();
        }
        result.get_mut(ids[at]).expect("every member has a list").push(tp);
        at = (at + 1) % ids.len();
    }
    result
}
