//! Tests of the assignors: Kafka's javadoc examples, Kafka's own assignor tests
//! (`AbstractStickyAssignorTest`, `StickyAssignorTest`, `CooperativeStickyAssignorTest`)
//! and properties.

use super::*;

fn tp(topic: &str, partition: u32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn member(id: &str, topics: &[&str]) -> MemberSubscription {
    MemberSubscription {
        member_id: id.into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned: vec![],
        generation: None,
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
            generation: Some(1),
            ..m.clone()
        })
        .collect()
}

#[test]
fn strategies_parse_from_short_and_class_names() {
    assert_eq!(AssignmentStrategy::parse("range"), Some(AssignmentStrategy::Range));
    assert_eq!(AssignmentStrategy::parse("round-robin"), Some(AssignmentStrategy::RoundRobin));
    assert_eq!(
        AssignmentStrategy::parse("org.apache.kafka.clients.consumer.RoundRobinAssignor"),
        Some(AssignmentStrategy::RoundRobin)
    );
    assert_eq!(AssignmentStrategy::parse("StickyAssignor"), Some(AssignmentStrategy::Sticky));
    assert_eq!(
        AssignmentStrategy::parse("org.apache.kafka.clients.consumer.CooperativeStickyAssignor"),
        Some(AssignmentStrategy::CooperativeSticky)
    );
    assert_eq!(AssignmentStrategy::parse("cooperative"), None);
    for s in AssignmentStrategy::ALL {
        assert_eq!(AssignmentStrategy::parse(s.name()), Some(s));
    }
}

#[test]
fn range_splits_10_partitions_over_3_consumers_4_3_3() {
    let members = [member("c0", &["t"]), member("c1", &["t"]), member("c2", &["t"])];
    let a = assign(AssignmentStrategy::Range, &members, &topics(&[("t", 10)]));
    assert_eq!(a["c0"], (0..4).map(|p| tp("t", p)).collect::<Vec<_>>());
    assert_eq!(a["c1"], (4..7).map(|p| tp("t", p)).collect::<Vec<_>>());
    assert_eq!(a["c2"], (7..10).map(|p| tp("t", p)).collect::<Vec<_>>());
}

#[test]
fn range_javadoc_example_two_topics_two_consumers() {
    let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let a = assign(AssignmentStrategy::Range, &members, &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(short(&a), expect(&[("C0", &["t0p0", "t0p1", "t1p0", "t1p1"]), ("C1", &["t0p2", "t1p2"])]));
}

#[test]
fn range_sorts_members_by_id_and_skips_unsubscribed_members() {
    // Input order does not matter; C1 does not subscribe to t1, so C0 and C2 share it.
    let members = [member("C2", &["t0", "t1"]), member("C1", &["t0"]), member("C0", &["t0", "t1"])];
    let a = assign(AssignmentStrategy::Range, &members, &topics(&[("t0", 4), ("t1", 3), ("unused", 5)]));
    assert_eq!(
        short(&a),
        expect(&[("C0", &["t0p0", "t0p1", "t1p0", "t1p1"]), ("C1", &["t0p2"]), ("C2", &["t0p3", "t1p2"])])
    );
}

#[test]
fn round_robin_javadoc_example_same_subscriptions() {
    let members = [member("C0", &["t0", "t1"]), member("C1", &["t0", "t1"])];
    let a = assign(AssignmentStrategy::RoundRobin, &members, &topics(&[("t0", 3), ("t1", 3)]));
    assert_eq!(short(&a), expect(&[("C0", &["t0p0", "t0p2", "t1p1"]), ("C1", &["t0p1", "t1p0", "t1p2"])]));
}

#[test]
fn round_robin_javadoc_example_different_subscriptions() {
    let members = [member("C0", &["t0"]), member("C1", &["t0", "t1"]), member("C2", &["t0", "t1", "t2"])];
    let a = assign(AssignmentStrategy::RoundRobin, &members, &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]));
    assert_eq!(short(&a), expect(&[("C0", &["t0p0"]), ("C1", &["t1p0"]), ("C2", &["t1p1", "t2p0", "t2p1", "t2p2"])]));
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
    let a = assign(AssignmentStrategy::Sticky, &members, &parts);
    assert_eq!(
        short(&a),
        expect(&[("C0", &["t0p0", "t1p1", "t3p0"]), ("C1", &["t0p1", "t2p0", "t3p1"]), ("C2", &["t1p0", "t2p1"]),])
    );
}

#[test]
fn sticky_javadoc_example_1_after_c1_leaves_moves_only_c1s_partitions() {
    let (members, parts) = four_topics();
    let sticky_before = assign(AssignmentStrategy::Sticky, &members, &parts);
    let rest = owning(&sticky_before, &[members[0].clone(), members[2].clone()]);
    // Kafka 2.6+ fills C0 and C2 round-robin up to their quota of 4 (Kafka's own
    // AbstractStickyAssignor gives this, run on the same input).
    let sticky_after = assign(AssignmentStrategy::Sticky, &rest, &parts);
    assert_eq!(
        short(&sticky_after),
        expect(&[("C0", &["t0p0", "t0p1", "t1p1", "t3p0"]), ("C2", &["t1p0", "t2p0", "t2p1", "t3p1"])])
    );
    assert_eq!(moved(&sticky_before, &sticky_after), 3, "only C1's three partitions move");
    // The javadoc's own result, from the general algorithm of 0.11 to 2.5.
    let general = assign_with(AssignmentStrategy::Sticky, StickyAlgorithm::General, &rest, &parts);
    assert_eq!(
        short(&general),
        expect(&[("C0", &["t0p0", "t1p1", "t2p0", "t3p0"]), ("C2", &["t0p1", "t1p0", "t2p1", "t3p1"])])
    );
    assert_eq!(moved(&sticky_before, &general), 3);

    let rr_before = assign(AssignmentStrategy::RoundRobin, &members, &parts);
    assert_eq!(rr_before, sticky_before, "the javadoc's starting point is the same for both");
    let rr_after = assign(AssignmentStrategy::RoundRobin, &rest, &parts);
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
    let before = assign(AssignmentStrategy::Sticky, &members, &parts);
    assert_eq!(
        short(&before),
        expect(&[("C0", &["t0p0"]), ("C1", &["t1p0", "t1p1"]), ("C2", &["t2p0", "t2p1", "t2p2"])])
    );
    // C0 leaves: sticky moves only t0p0, round robin moves three partitions.
    let rest = owning(&before, &members[1..]);
    let after = assign(AssignmentStrategy::Sticky, &rest, &parts);
    assert_eq!(short(&after), expect(&[("C1", &["t0p0", "t1p0", "t1p1"]), ("C2", &["t2p0", "t2p1", "t2p2"])]));
    assert_eq!(moved(&before, &after), 1);

    let rr_before = assign(AssignmentStrategy::RoundRobin, &members, &parts);
    let rr_after = assign(AssignmentStrategy::RoundRobin, &members[1..], &parts);
    assert_eq!(short(&rr_after), expect(&[("C1", &["t0p0", "t1p1"]), ("C2", &["t1p0", "t2p0", "t2p1", "t2p2"])]));
    assert_eq!(moved(&rr_before, &rr_after), 3);
}

#[test]
fn sticky_rebalances_a_joining_member_with_the_fewest_moves() {
    let old = [member("a", &["t"]), member("b", &["t"])];
    let parts = topics(&[("t", 8)]);
    let before = assign(AssignmentStrategy::Sticky, &old, &parts);
    let mut joined = owning(&before, &old);
    joined.push(member("c", &["t"]));
    let after = assign(AssignmentStrategy::Sticky, &joined, &parts);
    let sizes: Vec<usize> = after.values().map(Vec::len).collect();
    assert_eq!(sizes, vec![3, 3, 2]);
    assert_eq!(moved(&before, &after), 2, "8 over 3 needs exactly two partitions to move");
    assert_eq!(after, assign(AssignmentStrategy::Sticky, &joined, &parts), "deterministic");
}

#[test]
fn sticky_drops_stale_and_double_claimed_ownership() {
    // b claims a partition a also claims in the same generation (taken from both), and
    // one of a topic nobody reads any more.
    let members = [sub("a", Some(3), &["t"], &["t-0", "t-1"]), sub("b", Some(3), &["t"], &["t-1", "u-0"])];
    let a = assign(AssignmentStrategy::Sticky, &members, &topics(&[("t", 4), ("u", 1)]));
    assert_eq!(a["a"], vec![tp("t", 0), tp("t", 1)]);
    assert_eq!(a["b"], vec![tp("t", 2), tp("t", 3)]);
}

#[test]
fn every_strategy_assigns_each_partition_exactly_once() {
    let members = [member("m1", &["x", "y"]), member("m2", &["y"]), member("m3", &["x", "y", "z"])];
    let parts = topics(&[("x", 5), ("y", 7), ("z", 2)]);
    for s in AssignmentStrategy::ALL {
        let a = assign(s, &members, &parts);
        let mut all: Vec<&TopicPartition> = a.values().flatten().collect();
        all.sort();
        let expected: Vec<TopicPartition> = parts.iter().flat_map(|(t, &n)| (0..n).map(move |p| tp(t, p))).collect();
        assert_eq!(all, expected.iter().collect::<Vec<_>>(), "{s}");
        for (m, tps) in &a {
            let subs = &members.iter().find(|x| &x.member_id == m).unwrap().topics;
            assert!(tps.iter().all(|tp| subs.iter().any(|t| **t == *tp.topic)), "{s}: {m} got an unsubscribed topic");
        }
    }
}

#[test]
fn no_members_or_no_topics_assign_nothing() {
    for s in AssignmentStrategy::ALL {
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
                generation: Some(1),
            })
            .collect();
        let a = assign(AssignmentStrategy::Sticky, &subs, &parts);
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
        proptest::prop_assert_eq!(&a, &assign(AssignmentStrategy::Sticky, &subs, &parts));
    }
}

#[test]
fn moved_counts_owner_changes_not_first_assignments() {
    let before: Assignment = [("a".to_string(), vec![tp("t", 0), tp("t", 1)])].into_iter().collect();
    let after: Assignment =
        [("a".to_string(), vec![tp("t", 0)]), ("b".to_string(), vec![tp("t", 1), tp("t", 2)])].into_iter().collect();
    assert_eq!(moved(&before, &after), 1);
    assert_eq!(moved(&before, &Assignment::new()), 2);
    assert_eq!(moved(&Assignment::new(), &after), 0);
}

/// A member as Kafka's assignor tests build one: its id, the generation of its previous
/// assignment, its topics and the partitions it owned, written `topic-N`.
fn sub(id: &str, generation: Option<u32>, topics: &[&str], owned: &[&str]) -> MemberSubscription {
    let parse = |s: &&str| {
        let (topic, partition) = s.rsplit_once('-').expect("topic-N");
        tp(topic, partition.parse().expect("a partition number"))
    };
    MemberSubscription {
        member_id: id.into(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        owned: owned.iter().map(parse).collect(),
        generation,
    }
}

/// The assignment as `member topic-N,topic-N` lines, as the Kafka oracle printed them.
fn lines(assignment: &Assignment) -> Vec<String> {
    assignment
        .iter()
        .map(|(m, tps)| format!("{m} {}", tps.iter().map(|tp| tp.to_string()).collect::<Vec<_>>().join(",")))
        .collect()
}

/// Kafka's sticky assignment of `members` (in the order the leader received them) over
/// `partitions`.
fn sticky(partitions: &[(&str, u32)], members: &[MemberSubscription]) -> Vec<String> {
    lines(&assign(AssignmentStrategy::Sticky, members, &topics(partitions)))
}

// The cases below reproduce Kafka's `AbstractStickyAssignorTest` and `StickyAssignorTest`
// (same member ids, topics and previous assignments: member ids decide the order Kafka's
// HashMap visits members in). Each expectation is what Kafka's own
// `AbstractStickyAssignor` (trunk, 2024) returned for the same input, which also
// satisfies the assertions of the Kafka test named.

#[test]
fn sticky_fills_orphaned_partitions_as_constrained_assign_does() {
    // Issue 14's example: c1 held 0-3, c2 4-6, c3 7-9; c3 left.
    let members =
        [sub("c1", Some(1), &["t"], &["t-0", "t-1", "t-2", "t-3"]), sub("c2", Some(1), &["t"], &["t-4", "t-5", "t-6"])];
    assert_eq!(sticky(&[("t", 10)], &members), ["c1 t-0,t-1,t-2,t-3,t-7", "c2 t-4,t-5,t-6,t-8,t-9"]);
    // Before Kafka 2.6 the general algorithm gave each orphan to the smallest member.
    let general = assign_with(AssignmentStrategy::Sticky, StickyAlgorithm::General, &members, &topics(&[("t", 10)]));
    assert_eq!(lines(&general), ["c1 t-0,t-1,t-2,t-3,t-8", "c2 t-4,t-5,t-6,t-7,t-9"]);
}

#[test]
fn kafka_test_consumer_owning_min_quota_expected_max_quota() {
    let t = ["topic1", "topic2"];
    let members = [
        sub("consumer1", Some(1), &t, &["topic1-0", "topic2-1"]),
        sub("consumer2", Some(1), &t, &["topic1-1", "topic2-2"]),
    ];
    assert_eq!(
        sticky(&[("topic1", 2), ("topic2", 3)], &members),
        ["consumer1 topic1-0,topic2-0,topic2-1", "consumer2 topic1-1,topic2-2"]
    );
}

#[test]
fn kafka_test_max_quota_consumer_more_than_num_expected_max_capacity_members() {
    // Both consumer1 and consumer2 own the max quota; one max-quota slot exists, and
    // consumer2 comes first in Kafka's HashMap.
    let t = ["topic1", "topic2"];
    let members = [
        sub("consumer1", Some(1), &t, &["topic1-0", "topic2-0"]),
        sub("consumer2", Some(1), &t, &["topic1-1", "topic2-1"]),
        sub("consumer3", Some(1), &t, &[]),
    ];
    assert_eq!(
        sticky(&[("topic1", 2), ("topic2", 2)], &members),
        ["consumer1 topic1-0", "consumer2 topic1-1,topic2-1", "consumer3 topic2-0"]
    );
}

#[test]
fn kafka_test_all_consumers_are_under_min_quota() {
    let t = ["topic1", "topic2"];
    let members = [
        sub("consumer1", Some(1), &t, &["topic1-0"]),
        sub("consumer2", Some(1), &t, &["topic1-1"]),
        sub("consumer3", Some(1), &t, &[]),
    ];
    assert_eq!(
        sticky(&[("topic1", 2), ("topic2", 3)], &members),
        ["consumer1 topic1-0,topic2-1", "consumer2 topic1-1,topic2-2", "consumer3 topic2-0"]
    );
}

#[test]
fn kafka_test_all_consumers_reach_expected_quota_and_are_considered_filled() {
    let members = [
        sub("consumer1", Some(1), &["topic"], &["topic-0", "topic-1"]),
        sub("consumer2", Some(1), &["topic"], &["topic-2"]),
        sub("consumer3", Some(1), &["topic"], &[]),
    ];
    assert_eq!(
        sticky(&[("topic", 4)], &members),
        ["consumer1 topic-0,topic-1", "consumer2 topic-2", "consumer3 topic-3"]
    );
}

#[test]
fn kafka_tests_a_partition_claimed_twice_in_one_generation_goes_to_someone_else() {
    // testPartitionsTransferringOwnershipIncludeThePartitionClaimedByMultipleConsumersInSameGeneration
    // and StickyAssignorTest's ...WithEqualPartitionsPerConsumer / ...WithUnequalPartitionsPerConsumer.
    let members = [
        sub("consumer1", Some(1), &["topic"], &["topic-0", "topic-1"]),
        sub("consumer2", Some(1), &["topic"], &["topic-0", "topic-2"]),
        sub("consumer3", Some(1), &["topic"], &[]),
    ];
    assert_eq!(sticky(&[("topic", 3)], &members), ["consumer1 topic-1", "consumer2 topic-2", "consumer3 topic-0"]);
    assert_eq!(
        sticky(&[("topic", 4)], &members),
        ["consumer1 topic-1,topic-3", "consumer2 topic-2", "consumer3 topic-0"]
    );
}

#[test]
fn kafka_tests_owned_partitions_of_an_older_or_no_generation_are_invalidated() {
    // testOwnedPartitionsAreInvalidatedForConsumerWithStaleGeneration / ...WithNoGeneration.
    let t = ["topic", "topic2"];
    let owned = ["topic-0", "topic-2", "topic2-1"];
    for stale in [Some(9), None] {
        let members = [sub("consumer1", Some(10), &t, &owned), sub("consumer2", stale, &t, &owned)];
        assert_eq!(
            sticky(&[("topic", 3), ("topic2", 3)], &members),
            ["consumer1 topic-0,topic-2,topic2-1", "consumer2 topic-1,topic2-0,topic2-2"],
            "{stale:?}"
        );
    }
    // testOwnedPartitionsAreInvalidatedForConsumerWithMultipleGeneration.
    let members = [
        sub("consumer1", Some(10), &t, &["topic-0", "topic2-1", "topic-1"]),
        sub("consumer2", Some(8), &t, &["topic-0", "topic2-1", "topic2-2"]),
    ];
    assert_eq!(
        sticky(&[("topic", 3), ("topic2", 3)], &members),
        ["consumer1 topic-0,topic-1,topic2-1", "consumer2 topic-2,topic2-0,topic2-2"]
    );
}

#[test]
fn kafka_test_ensure_partitions_assigned_to_highest_generation() {
    let t = ["topic", "topic2", "topic3"];
    let members = [
        sub("consumer1", Some(10), &t, &["topic-0", "topic2-0", "topic3-0"]),
        sub("consumer2", Some(9), &t, &["topic-1", "topic2-1", "topic3-1"]),
        sub("consumer3", Some(8), &t, &["topic2-1", "topic3-0", "topic3-2"]),
    ];
    assert_eq!(
        sticky(&[("topic", 3), ("topic2", 3), ("topic3", 3)], &members),
        [
            "consumer1 topic-0,topic2-0,topic3-0",
            "consumer2 topic-1,topic2-1,topic3-1",
            "consumer3 topic-2,topic2-2,topic3-2"
        ]
    );
}

#[test]
fn kafka_test_no_reassignment_on_current_members() {
    let t = ["topic", "topic2", "topic3", "topic1"];
    let members = [
        sub("consumer1", None, &t, &[]),
        sub("consumer2", Some(9), &t, &["topic-0", "topic2-0", "topic1-0"]),
        sub("consumer3", Some(8), &t, &["topic3-2", "topic2-2", "topic1-1"]),
        sub("consumer4", Some(7), &t, &["topic3-1", "topic-1", "topic-2"]),
    ];
    assert_eq!(
        sticky(&[("topic", 3), ("topic1", 3), ("topic2", 3), ("topic3", 3)], &members),
        [
            "consumer1 topic1-2,topic2-1,topic3-0",
            "consumer2 topic-0,topic1-0,topic2-0",
            "consumer3 topic1-1,topic2-2,topic3-2",
            "consumer4 topic-1,topic-2,topic3-1"
        ]
    );
}

#[test]
fn kafka_test_assignment_with_conflicting_previous_generations() {
    let t = ["topic", "topic2", "topic3"];
    let members = [
        sub("consumer1", Some(1), &t, &["topic-0", "topic-1", "topic-2", "topic2-2", "topic2-3", "topic3-0"]),
        sub("consumer2", Some(2), &t, &["topic-0", "topic-1", "topic2-0", "topic2-1", "topic2-2", "topic2-3"]),
        sub("consumer3", Some(2), &t, &["topic-2", "topic-3", "topic3-0", "topic3-1", "topic3-2", "topic3-3"]),
    ];
    assert_eq!(
        sticky(&[("topic", 4), ("topic2", 4), ("topic3", 4)], &members),
        [
            "consumer1 topic-3,topic2-2,topic2-3,topic3-3",
            "consumer2 topic-0,topic-1,topic2-0,topic2-1",
            "consumer3 topic-2,topic3-0,topic3-1,topic3-2"
        ]
    );
}

/// Kafka's cooperative sticky assignment of `members` over `partitions`.
fn cooperative(partitions: &[(&str, u32)], members: &[MemberSubscription]) -> Vec<String> {
    lines(&assign(AssignmentStrategy::CooperativeSticky, members, &topics(partitions)))
}

#[test]
fn kafka_test_cooperative_partition_claimed_twice_is_assigned_to_nobody_equal_quotas() {
    // CooperativeStickyAssignorTest.testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimed-
    // ByMultipleConsumersInSameGenerationWithEqualPartitionsPerConsumer: topic-0 "has to be
    // considered owned and so it can't be assigned until both have revoked it".
    let members = [
        sub("consumer1", Some(1), &["topic"], &["topic-0", "topic-1"]),
        sub("consumer2", Some(1), &["topic"], &["topic-0", "topic-2"]),
        sub("consumer3", Some(1), &["topic"], &[]),
    ];
    assert_eq!(cooperative(&[("topic", 3)], &members), ["consumer1 topic-1", "consumer2 topic-2", "consumer3 "]);
    // The eager sticky assignor hands it over at once.
    assert_eq!(sticky(&[("topic", 3)], &members), ["consumer1 topic-1", "consumer2 topic-2", "consumer3 topic-0"]);
}

#[test]
fn kafka_test_cooperative_partition_claimed_twice_is_assigned_to_nobody_unequal_quotas() {
    // ...WithUnequalPartitionsPerConsumer.
    let members = [
        sub("consumer1", Some(1), &["topic"], &["topic-0", "topic-1"]),
        sub("consumer2", Some(1), &["topic"], &["topic-0", "topic-2"]),
        sub("consumer3", Some(1), &["topic"], &[]),
    ];
    assert_eq!(
        cooperative(&[("topic", 4)], &members),
        ["consumer1 topic-1,topic-3", "consumer2 topic-2", "consumer3 "]
    );
}

#[test]
fn kafka_test_cooperative_new_member_gets_only_unclaimed_partitions() {
    // testAssignorWithOldVersionSubscriptions: nothing moves, the free partition is dealt.
    let members = [
        sub("consumer1", Some(1), &["topic1"], &["topic1-0"]),
        sub("consumer2", Some(1), &["topic1"], &["topic1-1"]),
        sub("consumer3", Some(1), &["topic1"], &[]),
    ];
    let expected = ["consumer1 topic1-0", "consumer2 topic1-1", "consumer3 topic1-2"];
    assert_eq!(cooperative(&[("topic1", 3)], &members), expected);
}

#[test]
fn cooperative_joining_member_waits_for_revocation_under_both_sticky_algorithms() {
    // c1 owns everything; c2 joins. Balanced would move 2 partitions to c2, but c1 still
    // claims them: c2 gets nothing this round (the general algorithm too, through
    // computePartitionsTransferringOwnership), and c1 gives them up.
    let members = [sub("c1", Some(3), &["t"], &["t-0", "t-1", "t-2", "t-3"]), sub("c2", None, &["t"], &[])];
    for algorithm in [StickyAlgorithm::Constrained, StickyAlgorithm::General] {
        let a = assign_with(AssignmentStrategy::CooperativeSticky, algorithm, &members, &topics(&[("t", 4)]));
        assert_eq!(a["c1"].len(), 2, "{algorithm:?}: c1 keeps its quota");
        assert!(a["c2"].is_empty(), "{algorithm:?}: nothing moves straight to c2");
        // The follow-up rebalance: c1 claims only what it kept.
        let second = [sub("c1", Some(4), &["t"], &[]), sub("c2", Some(4), &["t"], &[])];
        let second = [MemberSubscription { owned: a["c1"].clone(), ..second[0].clone() }, second[1].clone()];
        let b = assign_with(AssignmentStrategy::CooperativeSticky, algorithm, &second, &topics(&[("t", 4)]));
        assert_eq!(b["c1"], a["c1"], "{algorithm:?}: c1 keeps what it kept");
        assert_eq!(b["c2"].len(), 2, "{algorithm:?}: the revoked partitions go to c2");
    }
}

proptest::proptest! {
    /// CooperativeStickyAssignorTest.verifyValidityAndBalance: no round gives a member a
    /// partition another member gives up in the same round, and repeating rebalances
    /// with each member owning its new assignment reaches a balanced assignment of every
    /// partition within 4 rounds, which the eager sticky assignor would have produced.
    #[test]
    fn cooperative_never_moves_a_claimed_partition_and_converges(
        count in 1u32..20,
        members in 1usize..6,
        previous in proptest::collection::vec(0usize..8, 20),
    ) {
        let parts = topics(&[("t", count)]);
        let mut subs: Vec<MemberSubscription> = (0..members)
            .map(|i| MemberSubscription {
                member_id: format!("m{i}"),
                topics: vec!["t".into()],
                owned: (0..count).filter(|&p| previous[p as usize] == i).map(|p| tp("t", p)).collect(),
                generation: Some(1),
            })
            .collect();
        let mut rounds = 0;
        loop {
            let a = assign(AssignmentStrategy::CooperativeSticky, &subs, &parts);
            let revoked: BTreeSet<&TopicPartition> =
                subs.iter().flat_map(|m| m.owned.iter().filter(|tp| !a[&m.member_id].contains(tp))).collect();
            let added: BTreeSet<&TopicPartition> =
                subs.iter().flat_map(|m| a[&m.member_id].iter().filter(|tp| !m.owned.contains(tp))).collect();
            proptest::prop_assert!(revoked.is_disjoint(&added), "moved straight across: {:?}", a);
            let settled = revoked.is_empty();
            rounds += 1;
            for m in &mut subs {
                m.owned = a[&m.member_id].clone();
                m.generation = Some(1 + rounds);
            }
            if settled {
                let sizes: Vec<usize> = a.values().map(Vec::len).collect();
                let (min, max) = (*sizes.iter().min().unwrap(), *sizes.iter().max().unwrap());
                proptest::prop_assert!(max - min <= 1, "unbalanced: {sizes:?}");
                proptest::prop_assert_eq!(sizes.iter().sum::<usize>(), count as usize);
                break;
            }
            proptest::prop_assert!(rounds <= 4, "no convergence in 4 rounds");
        }
    }
}
