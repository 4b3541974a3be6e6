//! The uniform assignor for a group whose members subscribe to different topics: a port
//! of Kafka 4.0's `UniformHeterogeneousAssignmentBuilder` (as reworked by KAFKA-17710),
//! step by step and with its tie-breaks, so the same group gets the same target
//! assignment as on a real coordinator.
//!
//! Balance comes before stickiness: each member keeps the partitions of its current
//! target that it still subscribes to; the partitions nobody holds go, topic by topic,
//! to the least loaded subscribers; then partitions move from the most to the least
//! loaded subscribers of each topic, round after round over the topics, until a whole
//! round moves nothing or 16 rounds have run (`MAX_ITERATION_COUNT`). With overlapping
//! subscriptions the result can be one partition short of the best balance, as in Kafka.
//!
//! One simplification: Kafka breaks the last tie between topics by topic id, a random
//! UUID the controller draws when it creates the topic; kafkasim breaks it by topic name
//! (Kafka's own tests give their topics ids in name order).

use super::{MemberSpec, TargetAssignment, UnknownTopic};
use crate::protocol::TopicPartition;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// The most rounds over the topics the balancing phase runs (`MAX_ITERATION_COUNT`).
const MAX_BALANCING_ROUNDS: usize = 16;

/// The target assignment for `members`, given in the order Kafka's `GroupSpec.memberIds()`
/// iterates them (the order numbers them, and ties between equally loaded members go to
/// the lower number), each with the existing topics it subscribes to. `current` is the
/// group's current target assignment, `partitions` each existing topic's partition count.
pub fn uniform_heterogeneous(
    members: &[MemberSpec],
    current: &TargetAssignment,
    partitions: &BTreeMap<String, u32>,
) -> Result<TargetAssignment, UnknownTopic> {
    let mut builder = Builder::new(members, partitions)?;
    if !builder.subscribers.is_empty() {
        builder.keep_subscribed_partitions(members, current);
        builder.assign_unowned_partitions();
        builder.balance();
    }
    Ok(members.iter().map(|m| m.member_id.clone()).zip(builder.target).collect())
}

/// The builder's state; members are numbered by their position in the iteration order.
struct Builder<'a> {
    /// Each subscribed topic's subscribers, ascending.
    subscribers: BTreeMap<&'a str, Vec<usize>>,
    /// Each subscribed topic's partitions' owners in the new target (one entry per
    /// partition: the topic's partition count is its length).
    owners: BTreeMap<&'a str, Vec<Option<usize>>>,
    /// Each member's new target.
    target: Vec<BTreeSet<TopicPartition>>,
    /// The size of each member's new target (`memberTargetAssignmentSizes`).
    sizes: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn new(members: &'a [MemberSpec], partitions: &BTreeMap<String, u32>) -> Result<Self, UnknownTopic> {
        let mut builder = Builder {
            subscribers: BTreeMap::new(),
            owners: BTreeMap::new(),
            target: vec![BTreeSet::new(); members.len()],
            sizes: vec![0; members.len()],
        };
        for (index, member) in members.iter().enumerate() {
            for topic in &member.topics {
                let count = *partitions.get(topic).ok_or_else(|| UnknownTopic(topic.clone()))?;
                let topic = topic.as_str();
                builder.subscribers.entry(topic).or_default().push(index);
                builder.owners.entry(topic).or_insert_with(|| vec![None; count as usize]);
            }
        }
        Ok(builder)
    }

    /// Kafka's `topicComparator`: partitions per subscriber, descending; then subscriber
    /// count, ascending; then (kafkasim's stand-in for the topic id) name, ascending.
    fn topic_order(&self, a: &str, b: &str) -> Ordering {
        let (partitions_a, subscribers_a) = (self.owners[a].len() as u64, self.subscribers[a].len() as u64);
        let (partitions_b, subscribers_b) = (self.owners[b].len() as u64, self.subscribers[b].len() as u64);
        // b's ratio against a's, by cross-multiplying (exact where Java divides doubles).
        (partitions_b * subscribers_a)
            .cmp(&(partitions_a * subscribers_b))
            .then(subscribers_a.cmp(&subscribers_b))
            .then(a.cmp(b))
    }

    fn sorted_topics(&self, topics: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
        let mut sorted: Vec<&'a str> = topics.into_iter().collect();
        sorted.sort_by(|a, b| self.topic_order(a, b));
        sorted
    }

    /// Kafka's `maybeRevokePartitions`: each member keeps the partitions of its current
    /// target whose topics it still subscribes to.
    fn keep_subscribed_partitions(&mut self, members: &[MemberSpec], current: &TargetAssignment) {
        for (index, member) in members.iter().enumerate() {
            let held = current.get(&member.member_id).into_iter().flatten();
            for tp in held.filter(|tp| member.topics.contains(tp.topic.as_ref())) {
                // A partition number beyond the topic's count cannot occur (Kafka never
                // removes partitions); it would be dropped.
                if let Some(owner) =
                    self.owners.get_mut(tp.topic.as_ref()).and_then(|o| o.get_mut(tp.partition as usize))
                {
                    *owner = Some(index);
                    self.sizes[index] += 1;
                    self.target[index].insert(tp.clone());
                }
            }
        }
    }

    /// Kafka's `computeUnassignedPartitions` and `assignRemainingPartitions`: topic by
    /// topic in [`Self::topic_order`], each partition nobody holds, ascending, goes to the
    /// topic's least loaded subscriber.
    fn assign_unowned_partitions(&mut self) {
        let unowned: BTreeMap<&'a str, Vec<u32>> = self
            .owners
            .iter()
            .map(|(&topic, owners)| {
                (topic, (0..owners.len() as u32).filter(|&p| owners[p as usize].is_none()).collect())
            })
            .filter(|(_, free): &(&str, Vec<u32>)| !free.is_empty())
            .collect();
        let mut balancer = Balancer::default();
        for topic in self.sorted_topics(unowned.keys().copied()) {
            balancer.initialize(&self.subscribers[topic], &self.sizes);
            for &partition in &unowned[topic] {
                let member = balancer.next_least_loaded(&self.sizes);
                self.assign(topic, partition, member);
            }
        }
    }

    /// Kafka's `balance` and `balanceTopics`: rounds over the topics with two or more
    /// subscribers, until a whole round has moved nothing or the round limit is reached.
    fn balance(&mut self) {
        let movable = self.subscribers.iter().filter(|(_, s)| s.len() >= 2).map(|(&t, _)| t);
        let topics = self.sorted_topics(movable.collect::<Vec<_>>());
        let mut balancer = Balancer::default();
        // The topic that last moved something (or the first one balanced).
        let mut last_moved: Option<usize> = None;
        for _ in 0..MAX_BALANCING_ROUNDS {
            for (index, &topic) in topics.iter().enumerate() {
                if last_moved == Some(index) {
                    return;
                }
                if self.balance_topic(topic, &mut balancer) > 0 || last_moved.is_none() {
                    last_moved = Some(index);
                }
            }
        }
    }

    /// Kafka's `balanceTopic`: moves the topic's partitions from its most loaded to its
    /// least loaded subscribers (by whole target size) until their counts differ by one or
    /// less, or the most loaded hold none of the topic; returns how many moved. A member
    /// gives up its highest-numbered partition of the topic first.
    fn balance_topic(&mut self, topic: &'a str, balancer: &mut Balancer) -> usize {
        if balancer.initialize(&self.subscribers[topic], &self.sizes) <= 1 {
            return 0;
        }
        // The partitions grouped by owner, and each owner's range in that list.
        let owners = &self.owners[topic];
        let mut by_owner: Vec<u32> = (0..owners.len() as u32).collect();
        by_owner.sort_by_key(|&p| (owners[p as usize], p));
        let mut ranges: BTreeMap<Option<usize>, (usize, usize)> = BTreeMap::new();
        for (i, &p) in by_owner.iter().enumerate() {
            ranges.entry(owners[p as usize]).or_insert((i, i)).1 = i + 1;
        }
        let mut moved = 0;
        while !balancer.is_balanced() {
            let giver = loop {
                let Some(member) = balancer.next_most_loaded(&self.sizes) else { break None };
                match ranges.get(&Some(member)) {
                    Some((start, end)) if end > start => break Some(member),
                    _ => balancer.exclude_most_loaded(),
                }
            };
            let Some(giver) = giver else { break };
            let range = ranges.get_mut(&Some(giver)).expect("checked above");
            range.1 -= 1;
            let partition = by_owner[range.1];
            let taker = balancer.next_least_loaded(&self.sizes);
            if balancer.is_balanced() {
                break;
            }
            self.assign(topic, partition, taker);
            moved += 1;
        }
        moved
    }

    /// Kafka's `assignPartition`: the partition leaves its owner, if any, for `member`.
    fn assign(&mut self, topic: &'a str, partition: u32, member: usize) {
        let tp = TopicPartition::new(topic, partition);
        let owner = &mut self.owners.get_mut(topic).expect("a subscribed topic")[partition as usize];
        if let Some(previous) = owner.replace(member) {
            self.target[previous].remove(&tp);
            self.sizes[previous] -= 1;
        }
        self.target[member].insert(tp);
        self.sizes[member] += 1;
    }
}

/// Kafka's `MemberAssignmentBalancer`: one topic's subscribers sorted by target size
/// (then number), with a least loaded range growing rightwards from the start and a most
/// loaded range growing leftwards from the end. Each range remembers the count its
/// members had when the range reached them, so handing out or taking back partitions
/// one member at a time keeps a range level until every member in it has had its turn.
#[derive(Default)]
struct Balancer {
    sorted: Vec<usize>,
    /// `[0, least_end)` is the least loaded range.
    least_end: usize,
    least_count: i64,
    next_least: usize,
    /// `[most_start, most_end)` is the most loaded range; members holding none of the
    /// topic are swapped out past its end.
    most_start: usize,
    most_end: usize,
    most_count: i64,
    /// The next member of the most loaded range to give up a partition; -1 when none.
    next_most: isize,
}

impl Balancer {
    /// Starts over with `members` (at least one); returns the difference between the
    /// largest and smallest target sizes among them.
    fn initialize(&mut self, members: &[usize], sizes: &[usize]) -> usize {
        self.sorted.clear();
        self.sorted.extend_from_slice(members);
        self.sorted.sort_by_key(|&m| (sizes[m], m));
        let (smallest, largest) = (sizes[self.sorted[0]], sizes[*self.sorted.last().expect("at least one member")]);
        self.least_end = 0;
        self.least_count = smallest as i64 - 1;
        self.next_least = 0;
        self.most_start = self.sorted.len();
        self.most_end = self.sorted.len();
        self.most_count = largest as i64 + 1;
        self.next_most = self.sorted.len() as isize - 1;
        largest - smallest
    }

    /// The member to give the next partition to (`nextLeastLoadedMember`): the next in
    /// the least loaded range; when each has had one, the range's level rises by one and
    /// it takes in the members that already hold that many.
    fn next_least_loaded(&mut self, sizes: &[usize]) -> usize {
        if self.next_least >= self.least_end {
            self.least_count += 1;
            while self.least_end < self.sorted.len() && sizes[self.sorted[self.least_end]] as i64 == self.least_count {
                self.least_end += 1;
            }
            self.next_least = 0;
        }
        let member = self.sorted[self.next_least];
        self.next_least += 1;
        member
    }

    /// The member to take the next partition from (`nextMostLoadedMember`), or `None`
    /// when no member is left that could give one up.
    fn next_most_loaded(&mut self, sizes: &[usize]) -> Option<usize> {
        if self.next_most < self.most_start as isize {
            if self.most_end <= self.most_start && self.most_start > 0 {
                // Exclusions emptied the range: restart its level at the next member's
                // count so that the range surely grows below.
                self.most_count = sizes[self.sorted[self.most_start - 1]] as i64;
            } else {
                self.most_count -= 1;
            }
            while self.most_start > 0 && sizes[self.sorted[self.most_start - 1]] as i64 == self.most_count {
                self.most_start -= 1;
            }
            self.next_most = self.most_end as isize - 1;
        }
        let index = usize::try_from(self.next_most).ok()?;
        self.next_most -= 1;
        Some(self.sorted[index])
    }

    /// Takes the member [`Self::next_most_loaded`] just returned out of the most loaded
    /// range (`excludeMostLoadedMember`): it holds none of the topic to give up.
    fn exclude_most_loaded(&mut self) {
        let returned = (self.next_most + 1) as usize;
        self.sorted.swap(returned, self.most_end - 1);
        self.most_end -= 1;
    }

    /// Whether the two ranges' levels differ by one or less.
    fn is_balanced(&self) -> bool {
        self.most_count - self.least_count <= 1
    }
}

#[cfg(test)]
mod tests {
    //! Kafka's `UniformHeterogeneousAssignmentBuilderTest` (4.0), whose group spec
    //! iterates members in sorted order, as these tests pass them.
    use super::*;

    fn member(id: &str, topics: &[&str]) -> MemberSpec {
        MemberSpec { member_id: id.into(), instance_id: None, topics: topics.iter().map(|t| t.to_string()).collect() }
    }

    /// Partitions per topic, as a test writes them.
    type TopicPartitions<'a> = &'a [(&'a str, &'a [u32])];

    fn held(list: &[(&str, TopicPartitions)]) -> TargetAssignment {
        list.iter()
            .map(|(m, topics)| {
                let tps = topics.iter().flat_map(|(t, ps)| ps.iter().map(|p| TopicPartition::new(*t, *p)));
                (m.to_string(), tps.collect())
            })
            .collect()
    }

    fn counts(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn assign(members: &[MemberSpec], current: &TargetAssignment, partitions: &[(&str, u32)]) -> TargetAssignment {
        uniform_heterogeneous(members, current, &counts(partitions)).unwrap()
    }

    #[test]
    fn kafka_test_first_assignment_two_members_two_topics() {
        let members = [member("A", &["T1", "T3"]), member("B", &["T3"])];
        let got = assign(&members, &TargetAssignment::new(), &[("T1", 3), ("T3", 6)]);
        assert_eq!(got, held(&[("A", &[("T1", &[0, 1, 2]), ("T3", &[4])]), ("B", &[("T3", &[0, 1, 2, 3, 5])])]));
    }

    #[test]
    fn kafka_test_first_assignment_more_members_than_partitions_and_no_subscriptions() {
        let members = [member("A", &["T3"]), member("B", &["T3"]), member("C", &["T1"])];
        let got = assign(&members, &TargetAssignment::new(), &[("T3", 1), ("T1", 2)]);
        assert_eq!(got, held(&[("A", &[("T3", &[0])]), ("B", &[]), ("C", &[("T1", &[0, 1])])]));
        // testFirstAssignmentWithTwoMembersIncludingOneWithoutSubscriptions.
        let members = [member("A", &["T1"]), member("B", &[])];
        let got = assign(&members, &TargetAssignment::new(), &[("T1", 3)]);
        assert_eq!(got, held(&[("A", &[("T1", &[0, 1, 2])]), ("B", &[])]));
        // testTwoMembersNoTopicSubscription and testTwoMembersSubscribedToNonexistentTopics.
        let members = [member("A", &[]), member("B", &[])];
        assert_eq!(assign(&members, &TargetAssignment::new(), &[("T1", 3)]), held(&[("A", &[]), ("B", &[])]));
        let members = [member("A", &["T3"]), member("B", &["T2"])];
        assert!(uniform_heterogeneous(&members, &TargetAssignment::new(), &counts(&[("T1", 3)])).is_err());
    }

    #[test]
    fn kafka_test_reassignment_for_two_members_three_topics_given_unbalanced_prev_assignment() {
        let members = [member("A", &["T1"]), member("B", &["T1", "T2"]), member("C", &["T1", "T2", "T3"])];
        let current = held(&[
            ("A", &[("T1", &[0, 1, 2])]),
            ("B", &[("T1", &[3]), ("T2", &[0])]),
            ("C", &[("T1", &[4, 5]), ("T2", &[1, 2, 3]), ("T3", &[0, 1, 2, 3])]),
        ]);
        let got = assign(&members, &current, &[("T1", 6), ("T2", 4), ("T3", 4)]);
        assert_eq!(
            got,
            held(&[
                ("A", &[("T1", &[0, 1, 2, 5])]),
                ("B", &[("T1", &[3]), ("T2", &[0, 1, 2, 3])]),
                ("C", &[("T1", &[4]), ("T3", &[0, 1, 2, 3])]),
            ])
        );
    }

    #[test]
    fn kafka_test_reassignment_when_partitions_are_added_for_two_members() {
        let members = [member("A", &["T1", "T3"]), member("B", &["T1", "T2", "T3", "T4"])];
        let current =
            held(&[("A", &[("T1", &[0, 1, 2, 3]), ("T3", &[0, 1])]), ("B", &[("T2", &[0, 1, 2]), ("T4", &[0, 1, 2])])]);
        let got = assign(&members, &current, &[("T1", 6), ("T2", 5), ("T3", 3), ("T4", 3)]);
        assert_eq!(
            got,
            held(&[
                ("A", &[("T1", &[0, 1, 2, 3, 4, 5]), ("T3", &[0, 1, 2])]),
                ("B", &[("T2", &[0, 1, 2, 3, 4]), ("T4", &[0, 1, 2])]),
            ])
        );
    }

    #[test]
    fn kafka_test_reassignment_when_one_member_added_and_partitions_added_two_members_two_topics() {
        let members = [member("A", &["T1"]), member("B", &["T1", "T2"]), member("C", &["T1", "T2"])];
        let current = held(&[("A", &[("T1", &[0, 2]), ("T2", &[0])]), ("B", &[("T1", &[1]), ("T2", &[1, 2])])]);
        let got = assign(&members, &current, &[("T1", 6), ("T2", 7)]);
        assert_eq!(
            got,
            held(&[
                ("A", &[("T1", &[0, 2, 3, 4, 5])]),
                ("B", &[("T1", &[1]), ("T2", &[1, 2, 6])]),
                ("C", &[("T2", &[0, 3, 4, 5])]),
            ])
        );
    }

    #[test]
    fn kafka_test_reassignment_when_a_member_or_a_subscription_is_removed() {
        // testReassignmentWhenOneMemberRemovedAfterInitialAssignmentWithThreeMembersThreeTopics.
        let members = [member("A", &["T1", "T3"]), member("B", &["T2"])];
        let current = held(&[("A", &[("T1", &[0, 1, 2]), ("T3", &[0, 1])]), ("B", &[("T2", &[3, 4, 5, 6])])]);
        let got = assign(&members, &current, &[("T1", 3), ("T2", 8), ("T3", 3)]);
        assert_eq!(
            got,
            held(&[("A", &[("T1", &[0, 1, 2]), ("T3", &[0, 1, 2])]), ("B", &[("T2", &[0, 1, 2, 3, 4, 5, 6, 7])])])
        );
        // testReassignmentWhenOneSubscriptionRemovedAfterInitialAssignmentWithTwoMembersTwoTopics.
        let members = [member("A", &["T1"]), member("B", &["T1", "T2"])];
        let current = held(&[("A", &[("T1", &[0, 2]), ("T2", &[1, 3])]), ("B", &[("T1", &[1]), ("T2", &[0, 2, 4])])]);
        let got = assign(&members, &current, &[("T1", 3), ("T2", 5)]);
        assert_eq!(got, held(&[("A", &[("T1", &[0, 1, 2])]), ("B", &[("T2", &[0, 1, 2, 3, 4])])]));
    }

    #[test]
    fn kafka_test_reassignment_when_topic_partitions_run_out_and_members_have_no_partitions() {
        let members = [member("A", &["T1", "T2", "T3"]), member("B", &["T1", "T2", "T3"])];
        let current = held(&[("A", &[("T1", &[0, 1]), ("T2", &[0, 1]), ("T3", &[0, 1])])]);
        let got = assign(&members, &current, &[("T1", 2), ("T2", 2), ("T3", 2)]);
        assert_eq!(got, held(&[("A", &[("T2", &[0]), ("T3", &[0, 1])]), ("B", &[("T1", &[0, 1]), ("T2", &[1])])]));
    }

    #[test]
    fn overlapping_subscriptions_end_within_one_partition_of_balance_per_topic() {
        // The builder's javadoc: members 1, 2 on the first topic, 2, 3 on the second. Each
        // topic's subscribers end within one partition of each other, and every partition
        // has exactly one owner.
        let members = [member("m1", &["a"]), member("m2", &["a", "b"]), member("m3", &["b"])];
        let got = assign(&members, &TargetAssignment::new(), &[("a", 15), ("b", 15)]);
        let size = |m: &str| got[m].len() as i64;
        assert!((size("m1") - size("m2")).abs() <= 1 && (size("m2") - size("m3")).abs() <= 1, "{got:?}");
        let owned: Vec<&TopicPartition> = got.values().flatten().collect();
        assert_eq!(owned.len(), 30);
        assert_eq!(owned.iter().collect::<BTreeSet<_>>().len(), 30);
    }
}
