//! Kafka's partition assignors as pure functions: the group leader runs one of them over
//! the members' subscriptions during a rebalance (JoinGroup → SyncGroup), chosen by
//! `partition.assignment.strategy`.
//!
//! - [`Strategy::Range`] (`RangeAssignor`): per topic, the subscribed members sorted by
//!   member id take consecutive ranges of partitions; with `n` partitions and `m`
//!   members each takes `n / m` and the first `n % m` take one more.
//! - [`Strategy::RoundRobin`] (`RoundRobinAssignor`): every partition of every
//!   subscribed topic, sorted by topic then partition, is dealt to the members sorted by
//!   member id in a circle, skipping members not subscribed to the partition's topic.
//! - [`Strategy::Sticky`] (`StickyAssignor`): balanced first, then as much of each
//!   member's previous assignment ([`MemberSubscription::owned`]) as possible.
//!
//! Everything is ordered (`BTreeMap`, sorted vectors), so the same input always gives the
//! same assignment: the simulation replays byte for byte.

use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An assignment strategy, as named by `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Kafka's `RangeAssignor` (Kafka's default before 3.0).
    Range,
    /// Kafka's `RoundRobinAssignor`.
    RoundRobin,
    /// Kafka's `StickyAssignor`.
    Sticky,
}

impl Strategy {
    /// Every strategy, in the order the assignor-comparison scenario reports them.
    pub const ALL: [Strategy; 3] = [Strategy::Range, Strategy::RoundRobin, Strategy::Sticky];

    /// The short name used in scenario files: `range`, `roundrobin` or `sticky`.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Range => "range",
            Strategy::RoundRobin => "roundrobin",
            Strategy::Sticky => "sticky",
        }
    }

    /// The strategy for a `partition.assignment.strategy` value: the short name
    /// (`range`, `roundrobin` or `round-robin`, `sticky`) or Kafka's class name, fully
    /// qualified (`org.apache.kafka.clients.consumer.RangeAssignor`) or not, so a Kafka
    /// user's configuration reads as written.
    pub fn parse(value: &str) -> Option<Strategy> {
        let simple = value.trim().rsplit('.').next().unwrap_or_default();
        Some(match simple.to_ascii_lowercase().as_str() {
            "range" | "rangeassignor" => Strategy::Range,
            "roundrobin" | "round-robin" | "roundrobinassignor" => Strategy::RoundRobin,
            "sticky" | "stickyassignor" => Strategy::Sticky,
            _ => return None,
        })
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one member of a group told the coordinator in JoinGroup.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    /// The member id the coordinator assigned.
    pub member_id: String,
    /// The topics the member subscribes to.
    pub topics: Vec<String>,
    /// The partitions the member owned in the previous generation (empty for a new
    /// member). Only [`Strategy::Sticky`] reads it.
    pub owned: Vec<TopicPartition>,
}

/// A group's assignment: member id → its partitions, sorted by topic then partition.
/// Every member appears, with an empty list when it gets nothing.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Assigns the partitions of the members' subscribed topics to the members.
/// `partitions` maps a topic to its partition count; subscribed topics missing from it
/// (not created yet) get nothing. Member ids are expected to be unique; a repeated id
/// keeps its first subscription. The result depends only on the input.
pub fn assign(strategy: Strategy, members: &[MemberSubscription], partitions: &BTreeMap<String, u32>) -> Assignment {
    let members = by_member_id(members);
    let mut result = match strategy {
        Strategy::Range => range(&members, partitions),
        Strategy::RoundRobin => round_robin(&members, partitions),
        Strategy::Sticky => sticky(&members, partitions),
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

/// `StickyAssignor`, in three steps:
///
/// 1. **Keep.** Each member keeps the partitions it owned that still exist and that it
///    still subscribes to. A partition two members claim (possible after a split
///    generation) stays with the one whose id sorts first.
/// 2. **Fill.** Unowned partitions go out one by one, those with the fewest eligible
///    members first (then by topic and partition), each to the eligible member that
///    holds the fewest partitions (ties: smallest member id). Filling the most
///    constrained partitions first is what lets members with narrow subscriptions keep
///    their own topics.
/// 3. **Balance.** While some member holds at least two more partitions than another
///    member that could take one of them, one partition moves: from the fullest such
///    member to the emptiest (ties: smallest member ids), preferring a partition the
///    giver did not own before this rebalance, then the last in topic-partition order.
///
/// When every member subscribes to the same topics, the result is balanced (sizes
/// differ by at most one) and keeps the most previous ownership possible: a partition
/// only leaves a member that must shrink, and only to the smallest member, which can
/// never become big enough to give one away again. With different subscriptions it
/// stops when no single move between eligible members reduces the imbalance, which is
/// the StickyAssignor's own notion of balanced.
fn sticky(members: &BTreeMap<&str, &MemberSubscription>, partitions: &BTreeMap<String, u32>) -> Assignment {
    let all = subscribed_partitions(members, partitions);
    let eligible: BTreeMap<&TopicPartition, Vec<&str>> = all
        .iter()
        .map(|tp| (tp, members.iter().filter(|(_, m)| subscribes(m, &tp.topic)).map(|(id, _)| *id).collect()))
        .collect();
    let mut held: BTreeMap<&str, BTreeSet<TopicPartition>> = members.keys().map(|id| (*id, BTreeSet::new())).collect();
    let mut owner: BTreeMap<TopicPartition, &str> = BTreeMap::new();

    // 1. Keep.
    for (id, m) in members {
        for tp in &m.owned {
            let valid = eligible.get(tp).is_some_and(|ids| ids.contains(id));
            if valid && !owner.contains_key(tp) {
                owner.insert(tp.clone(), id);
                held.get_mut(id).expect("every member is held").insert(tp.clone());
            }
        }
    }

    // 2. Fill.
    let mut unowned: Vec<&TopicPartition> = all.iter().filter(|tp| !owner.contains_key(*tp)).collect();
    unowned.sort_by_key(|tp| (eligible[tp].len(), *tp));
    for tp in unowned {
        let taker = eligible[tp].iter().min_by_key(|id| (held[**id].len(), **id)).copied();
        if let Some(taker) = taker {
            owner.insert(tp.clone(), taker);
            held.get_mut(taker).expect("every member is held").insert(tp.clone());
        }
    }

    // 3. Balance. Every move lowers the sum of squared sizes, so the loop ends.
    while let Some((giver, taker, tp)) = best_move(members, &eligible, &held) {
        held.get_mut(giver).expect("every member is held").remove(&tp);
        held.get_mut(taker).expect("every member is held").insert(tp);
    }
    held.into_iter().map(|(id, tps)| (id.to_string(), tps.into_iter().collect())).collect()
}

/// The next balancing move of the sticky assignor, if any: `(giver, taker, partition)`.
fn best_move<'a>(
    members: &BTreeMap<&'a str, &MemberSubscription>,
    eligible: &BTreeMap<&TopicPartition, Vec<&'a str>>,
    held: &BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) -> Option<(&'a str, &'a str, TopicPartition)> {
    // Givers from the fullest down, takers from the emptiest up; ids break ties.
    let mut order: Vec<&'a str> = held.keys().copied().collect();
    order.sort_by_key(|id| (std::cmp::Reverse(held[id].len()), *id));
    for &giver in &order {
        let mut takers: Vec<&'a str> =
            order.iter().copied().filter(|t| held[t].len() + 1 < held[giver].len()).collect();
        takers.sort_by_key(|id| (held[id].len(), *id));
        for taker in takers {
            let movable = held[giver].iter().filter(|tp| eligible.get(tp).is_some_and(|ids| ids.contains(&taker)));
            // A partition the giver did not own before costs no stickiness to move.
            let previously = |tp: &TopicPartition| members[giver].owned.contains(tp);
            let choice = movable.max_by_key(|tp| (!previously(tp), (*tp).clone()));
            if let Some(tp) = choice {
                return Some((giver, taker, tp.clone()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(topic: &str, partition: u32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: vec![],
        }
    }

    fn topics(counts: &[(&str, u32)]) -> BTreeMap<String, u32> {
        counts.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// The assignment as `member: [t0p0, ...]` lists, to compare with Kafka's javadoc.
    fn short(assignment: &Assignment) -> Vec<(String, Vec<String>)> {
        assignment
            .iter()
            .map(|(m, tps)| (m.clone(), tps.iter().map(|tp| format!("{}p{}", tp.topic, tp.partition)).collect()))
            .collect()
    }

    fn expect(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs.iter().map(|(m, tps)| (m.to_string(), tps.iter().map(|s| s.to_string()).collect())).collect()
    }

    /// The members of a previous assignment, owning what they were assigned.
    fn owning(assignment: &Assignment, subscriptions: &[MemberSubscription]) -> Vec<MemberSubscription> {
        subscriptions
            .iter()
            .map(|m| MemberSubscription {
                owned: assignment.get(&m.member_id).cloned().unwrap_or_default(),
                ..m.clone()
            })
            .collect()
    }

    #[test]
    fn strategies_parse_from_short_and_class_names() {
        assert_eq!(Strategy::parse("range"), Some(Strategy::Range));
        assert_eq!(Strategy::parse("round-robin"), Some(Strategy::RoundRobin));
        assert_eq!(Strategy::parse("org.apache.kafka.clients.consumer.RoundRobinAssignor"), Some(Strategy::RoundRobin));
        assert_eq!(Strategy::parse("StickyAssignor"), Some(Strategy::Sticky));
        assert_eq!(Strategy::parse("cooperative-sticky"), None);
        for s in Strategy::ALL {
            assert_eq!(Strategy::parse(s.name()), Some(s));
        }
    }

    #[test]
    fn range_splits_10_partitions_over_3_consumers_4_3_3() {
        let members = [member("c0", &["t"]), member("c1", &["t"]), member("c2", &["t"])];
        let a = assign(Strategy::Range, &members, &topics(&[("t", 10)]));
        assert_eq!(a["c0"], (0..4).map(|p| tp("t", p)).collect::<Vec<_>>());
        assert_eq!(a["c1"], (4..7).map(|p| tp("t", p)).collect::<Vec<_>>());
        assert_eq!(a["c2"], (7..10).map(|p| tp("t", p)).collect::<Vec<_>>());
    }

    #[test]
    fn range_javadoc_example_two_topics_two_consumers() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let a = assign(Strategy::Range, &members, &topics(&[("t0", 3), ("t1", 3)]));
        assert_eq!(short(&a), expect(&[("C0", &["t0p0", "t0p1", "t1p0", "t1p1"]), ("C1", &["t0p2", "t1p2"])]));
    }

    #[test]
    fn range_sorts_members_by_id_and_skips_unsubscribed_members() {
        // Input order does not matter; C1 does not subscribe to t1, so C0 and C2 share it.
        let members = [member("C2", &["t0", "t1"]), member("C1", &["t0"]), member("C0", &["t0", "t1"])];
        let a = assign(Strategy::Range, &members, &topics(&[("t0", 4), ("t1", 3), ("unused", 5)]));
        assert_eq!(
            short(&a),
            expect(&[("C0", &["t0p0", "t0p1", "t1p0", "t1p1"]), ("C1", &["t0p2"]), ("C2", &["t0p3", "t1p2"])])
        );
    }

    #[test]
    fn round_robin_javadoc_example_same_subscriptions() {
        let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
        let a = assign(Strategy::RoundRobin, &members, &topics(&[("t0", 3), ("t1", 3)]));
        assert_eq!(short(&a), expect(&[("C0", &["t0p0", "t0p2", "t1p1"]), ("C1", &["t0p1", "t1p0", "t1p2"])]));
    }

    #[test]
    fn round_robin_javadoc_example_different_subscriptions() {
        let members = [member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
        let a = assign(Strategy::RoundRobin, &members, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        assert_eq!(
            short(&a),
            expect(&[("C0", &["t0p0"]), ("C1", &["t1p0"]), ("C2", &["t1p1", "t2p0", "t2p1", "t2p2"])])
        );
    }

    /// StickyAssignor javadoc, example 1: three consumers, four topics of two partitions.
    fn four_topics() -> (Vec<MemberSubscription>, BTreeMap<String, u32>) {
        let all = ["t0", "t1", "t2", "t3"];
        let members = vec![member("C0", &all), member("C1", &all), member("C2", &all)];
        (members, topics(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)]))
    }

    #[test]
    fn sticky_javadoc_example_1_initial_assignment_is_balanced() {
        let (members, parts) = four_topics();
        let a = assign(Strategy::Sticky, &members, &parts);
        assert_eq!(
            short(&a),
            expect(&[("C0", &["t0p0", "t1p1", "t3p0"]), ("C1", &["t0p1", "t2p0", "t3p1"]), ("C2", &["t1p0", "t2p1"]),])
        );
    }

    #[test]
    fn sticky_javadoc_example_1_after_c1_leaves_moves_only_c1s_partitions() {
        let (members, parts) = four_topics();
        let sticky_before = assign(Strategy::Sticky, &members, &parts);
        let rest = owning(&sticky_before, &[members[0].clone(), members[2].clone()]);
        let sticky_after = assign(Strategy::Sticky, &rest, &parts);
        assert_eq!(
            short(&sticky_after),
            expect(&[("C0", &["t0p0", "t1p1", "t2p0", "t3p0"]), ("C2", &["t0p1", "t1p0", "t2p1", "t3p1"])])
        );
        assert_eq!(moved(&sticky_before, &sticky_after), 3, "only C1's three partitions move");

        let rr_before = assign(Strategy::RoundRobin, &members, &parts);
        assert_eq!(rr_before, sticky_before, "the javadoc's starting point is the same for both");
        let rr_after = assign(Strategy::RoundRobin, &rest, &parts);
        assert_eq!(
            short(&rr_after),
            expect(&[("C0", &["t0p0", "t1p0", "t2p0", "t3p0"]), ("C2", &["t0p1", "t1p1", "t2p1", "t3p1"])])
        );
        assert_eq!(moved(&rr_before, &rr_after), 5);
    }

    #[test]
    fn sticky_javadoc_example_2_different_subscriptions() {
        let members = vec![member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
        let parts = topics(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let before = assign(Strategy::Sticky, &members, &parts);
        assert_eq!(
            short(&before),
            expect(&[("C0", &["t0p0"]), ("C1", &["t1p0", "t1p1"]), ("C2", &["t2p0", "t2p1", "t2p2"])])
        );
        // C0 leaves: sticky moves only t0p0, round robin moves three partitions.
        let rest = owning(&before, &members[1..]);
        let after = assign(Strategy::Sticky, &rest, &parts);
        assert_eq!(short(&after), expect(&[("C1", &["t0p0", "t1p0", "t1p1"]), ("C2", &["t2p0", "t2p1", "t2p2"])]));
        assert_eq!(moved(&before, &after), 1);

        let rr_before = assign(Strategy::RoundRobin, &members, &parts);
        let rr_after = assign(Strategy::RoundRobin, &members[1..], &parts);
        assert_eq!(short(&rr_after), expect(&[("C1", &["t0p0", "t1p1"]), ("C2", &["t1p0", "t2p0", "t2p1", "t2p2"])]));
        assert_eq!(moved(&rr_before, &rr_after), 3);
    }

    #[test]
    fn sticky_rebalances_a_joining_member_with_the_fewest_moves() {
        let old = [member("a", &["t"]), member("b", &["t"])];
        let parts = topics(&[("t", 8)]);
        let before = assign(Strategy::Sticky, &old, &parts);
        let mut joined = owning(&before, &old);
        joined.push(member("c", &["t"]));
        let after = assign(Strategy::Sticky, &joined, &parts);
        let sizes: Vec<usize> = after.values().map(Vec::len).collect();
        assert_eq!(sizes, vec![3, 3, 2]);
        assert_eq!(moved(&before, &after), 2, "8 over 3 needs exactly two partitions to move");
        assert_eq!(after, assign(Strategy::Sticky, &joined, &parts), "deterministic");
    }

    #[test]
    fn sticky_drops_stale_and_double_claimed_ownership() {
        // b claims a partition a also claims, and one of a topic it no longer reads.
        let members = [
            MemberSubscription { member_id: "a".into(), topics: vec!["t".into()], owned: vec![tp("t", 0), tp("t", 1)] },
            MemberSubscription { member_id: "b".into(), topics: vec!["t".into()], owned: vec![tp("t", 1), tp("u", 0)] },
        ];
        let a = assign(Strategy::Sticky, &members, &topics(&[("t", 4), ("u", 1)]));
        assert_eq!(a["a"], vec![tp("t", 0), tp("t", 1)]);
        assert_eq!(a["b"], vec![tp("t", 2), tp("t", 3)]);
    }

    #[test]
    fn every_strategy_assigns_each_partition_exactly_once() {
        let members = [member("m1", &["x", "y"]), member("m2", &["y"]), member("m3", &["x", "y", "z"])];
        let parts = topics(&[("x", 5), ("y", 7), ("z", 2)]);
        for s in Strategy::ALL {
            let a = assign(s, &members, &parts);
            let mut all: Vec<&TopicPartition> = a.values().flatten().collect();
            all.sort();
            let expected: Vec<TopicPartition> =
                parts.iter().flat_map(|(t, &n)| (0..n).map(move |p| tp(t, p))).collect();
            assert_eq!(all, expected.iter().collect::<Vec<_>>(), "{s}");
            for (m, tps) in &a {
                let subs = &members.iter().find(|x| &x.member_id == m).unwrap().topics;
                assert!(
                    tps.iter().all(|tp| subs.iter().any(|t| **t == *tp.topic)),
                    "{s}: {m} got an unsubscribed topic"
                );
            }
        }
    }

    #[test]
    fn no_members_or_no_topics_assign_nothing() {
        for s in Strategy::ALL {
            assert!(assign(s, &[], &topics(&[("t", 3)])).is_empty());
            let a = assign(s, &[member("m", &["missing"])], &topics(&[("t", 3)]));
            assert_eq!(a["m"], vec![]);
        }
    }

    proptest::proptest! {
        /// With equal subscriptions, sticky is balanced, each member keeps
        /// `min(owned, final size)` of its previous partitions, and the total kept is the
        /// most any balanced assignment could keep.
        #[test]
        fn sticky_is_balanced_then_as_sticky_as_possible(
            count in 1u32..24,
            members in 1usize..6,
            previous in proptest::collection::vec(0usize..8, 24),
        ) {
            let parts = topics(&[("t", count)]);
            let ids: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
            // Partition p was owned by previous[p]; owners past `members` have left.
            let subs: Vec<MemberSubscription> = ids
                .iter()
                .enumerate()
                .map(|(i, id)| MemberSubscription {
                    member_id: id.clone(),
                    topics: vec!["t".into()],
                    owned: (0..count).filter(|&p| previous[p as usize] == i).map(|p| tp("t", p)).collect(),
                })
                .collect();
            let a = assign(Strategy::Sticky, &subs, &parts);
            let sizes: Vec<usize> = a.values().map(Vec::len).collect();
            let (min, max) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
            proptest::prop_assert!(max - min <= 1, "unbalanced: {sizes:?}");
            proptest::prop_assert_eq!(sizes.iter().sum::<usize>(), count as usize);
            let mut kept_total = 0;
            for m in &subs {
                let now = &a[&m.member_id];
                let kept = m.owned.iter().filter(|tp| now.contains(tp)).count();
                proptest::prop_assert_eq!(kept, m.owned.len().min(now.len()), "{} lost more than needed", m.member_id);
                kept_total += kept;
            }
            // The best any balanced assignment can keep: everyone keeps up to the quota,
            // and the `count % members` larger slots go to the members owning the most.
            let quota = count as usize / members;
            let mut owned: Vec<usize> = subs.iter().map(|m| m.owned.len()).collect();
            owned.sort_unstable_by(|x, y| y.cmp(x));
            let best: usize = owned
                .iter()
                .enumerate()
                .map(|(i, &o)| o.min(quota + usize::from(i < count as usize % members)))
                .sum();
            proptest::prop_assert_eq!(kept_total, best, "not as sticky as possible: {:?}", a);
            proptest::prop_assert_eq!(&a, &assign(Strategy::Sticky, &subs, &parts));
        }
    }

    #[test]
    fn moved_counts_owner_changes_not_first_assignments() {
        let before: Assignment = [("a".to_string(), vec![tp("t", 0), tp("t", 1)])].into_iter().collect();
        let after: Assignment = [("a".to_string(), vec![tp("t", 0)]), ("b".to_string(), vec![tp("t", 1), tp("t", 2)])]
            .into_iter()
            .collect();
        assert_eq!(moved(&before, &after), 1);
        assert_eq!(moved(&before, &Assignment::new()), 2);
        assert_eq!(moved(&Assignment::new(), &after), 0);
    }
}
