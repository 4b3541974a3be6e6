//! Tests of the group state machine, driven by hand inside a madsim runtime (member ids
//! draw from its seeded generator).

use super::*;
use madsim::runtime::Runtime;

const DELAY: Duration = Duration::from_millis(3_000);
const REBALANCE: Duration = Duration::from_millis(30_000);

fn in_sim(test: impl FnOnce() + Send + 'static) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { test() });
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A member subscribed to `t`, heard from `now`, not parked.
fn member(now: Instant) -> Member {
    Member {
        client_id: "c".into(),
        instance_id: None,
        topics: vec!["t".into()],
        owned: Vec::new(),
        owned_generation: None,
        session_timeout: ms(10_000),
        rebalance_timeout: REBALANCE,
        last_heard: now,
        join_reply: None,
        sync_reply: None,
        assignment: Vec::new(),
    }
}

/// A member's JoinGroup (or SyncGroup): what it carries to the group and where its
/// answer arrives.
fn parked(now: Instant) -> (Member, oneshot::Receiver<GroupResponse>) {
    let (tx, rx) = oneshot::channel();
    (Member { join_reply: Some(tx), ..member(now) }, rx)
}

fn joined_as(rx: &mut oneshot::Receiver<GroupResponse>) -> (u32, String, usize) {
    match rx.try_recv() {
        Ok(GroupResponse::Joined { error: None, generation, leader, members, .. }) => {
            (generation, leader, members.len())
        }
        other => panic!("not joined: {other:?}"),
    }
}

/// A stable group of `ids` in generation `generation`, led by the first.
fn stable(ids: &[&str], generation: u32, now: Instant) -> Group {
    let mut group = Group::new(DELAY);
    group.generation = generation;
    group.state = GroupState::Stable;
    group.leader = Some(ids[0].to_string());
    for id in ids {
        group.members.insert(id.to_string(), member(now));
    }
    group
}

#[test]
fn member_ids_are_the_client_id_and_a_random_uuid() {
    in_sim(|| {
        let a = new_member_id("consumer-1");
        let b = new_member_id("consumer-1");
        assert_ne!(a, b);
        let uuid = a.strip_prefix("consumer-1-").expect("client.id prefix");
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert_eq!(&uuid[14..15], "4", "version 4: {uuid}");
        assert!("89ab".contains(&uuid[19..20]), "variant 10: {uuid}");
    });
}

#[test]
fn generations_count_1_2_3_from_the_first_join_phase() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = Group::new(Duration::ZERO);
        let (a, mut rx) = parked(now);
        group.add_member("a".into(), a, now);
        // A zero initial delay expires at once (Kafka's timer runs an expired delayed
        // join right away).
        assert_eq!(group.state, GroupState::CompletingRebalance);
        assert_eq!(joined_as(&mut rx), (1, "a".to_string(), 1));
        group.complete_sync(&BTreeMap::new(), now);
        let (b, mut rx_b) = parked(now);
        group.add_member("b".into(), b, now);
        let (a, mut rx_a) = parked(now);
        group.rejoin("a", a, now);
        assert_eq!(joined_as(&mut rx_b).0, 2);
        assert_eq!(joined_as(&mut rx_a).0, 2);
    });
}

#[test]
fn the_leader_stays_leader_when_it_rejoins_after_a_newer_member() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = stable(&["leader", "other"], 4, now);
        // A new member starts a rebalance and is the first to join it; the others follow.
        let (new, mut rx_new) = parked(now);
        group.add_member("new".into(), new, now);
        let (other, _rx_other) = parked(now);
        group.rejoin("other", other, now);
        let (leader, mut rx_leader) = parked(now);
        group.rejoin("leader", leader, now);
        assert_eq!(joined_as(&mut rx_new), (5, "leader".to_string(), 0));
        assert_eq!(joined_as(&mut rx_leader), (5, "leader".to_string(), 3), "the leader gets the roster");
    });
}

#[test]
fn a_leader_that_does_not_rejoin_is_replaced_in_member_map_order() {
    in_sim(|| {
        let now = Instant::now();
        // Java's HashMap iterates c3, c1, c2 (see protocol::java).
        let mut group = stable(&["c2", "c1", "c3"], 1, now);
        group.prepare_rebalance(now);
        let (c1, mut rx_c1) = parked(now);
        group.rejoin("c1", c1, now);
        let (c3, mut rx_c3) = parked(now);
        group.rejoin("c3", c3, now);
        group.on_timer(now + REBALANCE);
        assert_eq!(joined_as(&mut rx_c1), (2, "c3".to_string(), 0));
        assert_eq!(joined_as(&mut rx_c3), (2, "c3".to_string(), 2));
        assert_eq!(group.members.keys().collect::<Vec<_>>(), ["c1", "c3"]);
    });
}

#[test]
fn the_first_rebalance_waits_the_initial_delay_and_longer_while_members_arrive() {
    in_sim(|| {
        let t0 = Instant::now();
        let mut group = Group::new(DELAY);
        let (a, mut rx_a) = parked(t0);
        group.add_member("a".into(), a, t0);
        group.on_timer(t0 + ms(2_999));
        assert!(rx_a.try_recv().is_err(), "everyone joined, but the delay runs");
        // b joins during the delay: the join phase is extended by another delay.
        let (b, mut rx_b) = parked(t0);
        group.add_member("b".into(), b, t0 + ms(1_000));
        group.on_timer(t0 + ms(3_000));
        assert!(rx_a.try_recv().is_err(), "extended");
        group.on_timer(t0 + ms(5_999));
        assert!(rx_b.try_recv().is_err());
        group.on_timer(t0 + ms(6_000));
        assert_eq!(joined_as(&mut rx_a), (1, "a".to_string(), 2));
        assert_eq!(joined_as(&mut rx_b), (1, "a".to_string(), 0));
    });
}

#[test]
fn the_initial_delay_ends_within_the_rebalance_timeout() {
    in_sim(|| {
        let t0 = Instant::now();
        let mut group = Group::new(DELAY);
        let timeout = ms(5_000);
        let (a, mut rx_a) = parked(t0);
        group.add_member("a".into(), Member { rebalance_timeout: timeout, ..a }, t0);
        // 5 s of rebalance timeout: a first delay of 3 s, then at most the 2 s left.
        let (b, _rx) = parked(t0);
        group.add_member("b".into(), Member { rebalance_timeout: timeout, ..b }, t0 + ms(1_000));
        group.on_timer(t0 + ms(3_000));
        assert!(rx_a.try_recv().is_err(), "extended by the 2 s left");
        let (c, _rx) = parked(t0);
        group.add_member("c".into(), Member { rebalance_timeout: timeout, ..c }, t0 + ms(4_000));
        group.on_timer(t0 + ms(4_999));
        assert!(rx_a.try_recv().is_err());
        group.on_timer(t0 + ms(5_000));
        assert_eq!(joined_as(&mut rx_a), (1, "a".to_string(), 3), "no time left to extend again");
    });
}

#[test]
fn a_follower_rejoining_a_stable_group_unchanged_gets_its_generation_back() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = stable(&["leader", "follower"], 7, now);
        let (again, mut rx) = parked(now);
        group.rejoin("follower", again, now);
        assert_eq!(joined_as(&mut rx), (7, "leader".to_string(), 0));
        assert_eq!(group.state, GroupState::Stable, "no rebalance");
        // A changed subscription, or the leader's rejoin, starts one.
        let (changed, _rx) = parked(now);
        group.rejoin("follower", Member { topics: vec!["u".into()], ..changed }, now);
        assert_eq!(group.state, GroupState::PreparingRebalance);
        let mut group = stable(&["leader", "follower"], 7, now);
        let (leader, _rx) = parked(now);
        group.rejoin("leader", leader, now);
        assert_eq!(group.state, GroupState::PreparingRebalance);
    });
}

#[test]
fn the_last_member_leaving_empties_the_group_in_a_new_generation() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = stable(&["only"], 3, now);
        group.remove_member("only", now);
        assert_eq!((group.state, group.generation, group.leader.clone()), (GroupState::Empty, 4, None));
        assert!(group.take_emptied(), "to be stored");
        assert!(!group.take_emptied());
    });
}

#[test]
fn members_that_do_not_rejoin_before_the_deadline_are_dropped() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = stable(&["slow", "quick"], 4, now);
        group.prepare_rebalance(now);
        let (quick, mut rx) = parked(now);
        group.rejoin("quick", quick, now);
        group.on_timer(now + REBALANCE - ms(1));
        assert!(rx.try_recv().is_err());
        group.on_timer(now + REBALANCE);
        assert_eq!(joined_as(&mut rx), (5, "quick".to_string(), 1));
        assert_eq!(group.members.keys().collect::<Vec<_>>(), vec!["quick"]);
        assert_eq!(group.validate("quick", None, 4), Some(ErrorCode::IllegalGeneration));
        assert_eq!(group.validate("slow", None, 5), Some(ErrorCode::UnknownMemberId));
        assert_eq!(group.validate("quick", None, 5), None);
    });
}

#[test]
fn a_loaded_group_is_stable_in_its_stored_generation_with_fresh_sessions() {
    in_sim(|| {
        let then = Instant::now();
        let mut group = stable(&["a", "b"], 9, then);
        let assignment: BTreeMap<String, Vec<TopicPartition>> =
            [("a".to_string(), vec![TopicPartition::new("t", 0)])].into_iter().collect();
        let stored = group.metadata(&assignment);
        group.complete_sync(&assignment, then);
        let later = then + ms(60_000);
        let loaded = Group::loaded(stored, DELAY, later);
        assert_eq!((loaded.state, loaded.generation, loaded.leader.as_deref()), (GroupState::Stable, 9, Some("a")));
        assert_eq!(loaded.members["a"].assignment, [TopicPartition::new("t", 0)]);
        assert!(loaded.members["b"].assignment.is_empty());
        assert!(loaded.expired_members(later + ms(10_000)).is_empty(), "sessions restart at load");
        assert_eq!(loaded.expired_members(later + ms(10_001)).len(), 2);
        let empty = Group::loaded(GroupMetadata { generation: 4, leader: None, members: vec![] }, DELAY, later);
        assert_eq!((empty.state, empty.generation), (GroupState::Empty, 4));
    });
}

#[test]
fn unloading_answers_parked_requests_not_coordinator() {
    in_sim(|| {
        let now = Instant::now();
        let mut group = stable(&["a", "b"], 2, now);
        let (a, mut rx) = parked(now);
        group.rejoin("a", a, now);
        group.unload();
        match rx.try_recv() {
            Ok(GroupResponse::Joined { error, .. }) => assert_eq!(error, Some(ErrorCode::NotCoordinator)),
            other => panic!("{other:?}"),
        }
    });
}

/// A stable group of `others` and the static member `old` (instance `pod-1`, owning
/// `t-0`; the leader if `leads`, else the first of `others`) in `generation`, whose
/// restarted process has just rejoined and taken its place as `new` (Kafka's
/// `replaceStaticMember`); with the rejoin's answer.
fn restarted_static_member(
    others: &[&str],
    leads: bool,
    generation: u32,
    now: Instant,
) -> (Group, oneshot::Receiver<GroupResponse>) {
    let mut group = stable(others, generation, now);
    let old =
        Member { instance_id: Some("pod-1".into()), assignment: vec![TopicPartition::new("t", 0)], ..member(now) };
    group.members.insert("old".into(), old);
    if leads {
        group.leader = Some("old".into());
    }
    assert_eq!(group.static_member_id("pod-1"), Some("old"));
    let (rejoin, rx) = parked(now);
    group.replace_static_member("old", "new", Member { instance_id: Some("pod-1".into()), ..rejoin });
    (group, rx)
}

// As Kafka's GroupCoordinatorTest `staticMemberRejoinWithKnownMemberId` /
// `staticMemberFenceDuplicateRejoinedFollower` and `staticMemberRejoinAsFollower...`:
// a restarted static member takes its old place under a new id without a rebalance, and
// the old id is fenced.
#[test]
fn a_restarted_static_member_takes_its_place_back_without_a_rebalance_and_fences_the_old_id() {
    in_sim(|| {
        let now = Instant::now();
        let (mut group, mut rx) = restarted_static_member(&["leader"], false, 3, now);
        assert_eq!(group.static_rejoin("new", now), StaticRejoin::StoreThenAnswer);
        assert_eq!(group.state, GroupState::Stable, "no rebalance");
        assert_eq!(group.members["new"].assignment, vec![TopicPartition::new("t", 0)], "its assignment kept");
        group.answer_static_rejoin("new", "leader");
        assert_eq!(joined_as(&mut rx), (3, "leader".to_string(), 0), "the same generation, as a follower");
        // The old incarnation is fenced; the new one is the member.
        assert_eq!(group.validate("old", Some("pod-1"), 3), Some(ErrorCode::FencedInstanceId));
        assert_eq!(group.validate("new", Some("pod-1"), 3), None);
        assert_eq!(group.validate("old", None, 3), Some(ErrorCode::UnknownMemberId));
        let stored = group.current_metadata();
        let new = stored.members.iter().find(|m| m.member_id == "new").expect("stored under its new id");
        assert_eq!(new.group_instance_id.as_deref(), Some("pod-1"));
    });
}

#[test]
fn a_static_leader_restarting_stays_leader_under_its_new_id_and_a_failed_store_reverts() {
    in_sim(|| {
        let now = Instant::now();
        let (mut group, mut rx) = restarted_static_member(&["other"], true, 2, now);
        assert!(group.is_leader("new"), "the leadership follows the instance");
        group.revert_static_member("new", "old", ErrorCode::NotCoordinator);
        assert!(group.is_leader("old"));
        assert!(group.members.contains_key("old") && !group.members.contains_key("new"));
        assert!(matches!(rx.try_recv(), Ok(GroupResponse::Joined { error: Some(ErrorCode::NotCoordinator), .. })));
    });
}

#[test]
fn a_static_member_restarting_after_the_join_phase_starts_a_new_rebalance() {
    in_sim(|| {
        let now = Instant::now();
        let (mut group, _rx) = restarted_static_member(&["leader"], false, 2, now);
        group.state = GroupState::CompletingRebalance;
        // The leader may be assigning to the old id: Kafka's `prepareRebalance`.
        assert_eq!(group.static_rejoin("new", now), StaticRejoin::Parked);
        assert_eq!(group.state, GroupState::PreparingRebalance);
    });
}
