//! The consumer-protocol group against Kafka 4.0's `GroupMetadataManagerTest` cases (see
//! `docs/design/kip848-consumer-protocol.md`), with the range assignor so that targets
//! do not depend on hash order.

use super::*;
use crate::protocol::ServerAssignor;

fn settings() -> ConsumerGroupSettings {
    ConsumerGroupSettings { assignors: vec![ServerAssignor::Range], ..ConsumerGroupSettings::default() }
}

fn topics() -> BTreeMap<String, u32> {
    BTreeMap::from([("foo".to_string(), 4)])
}

fn tps(partitions: &[u32]) -> Vec<TopicPartition> {
    partitions.iter().map(|p| TopicPartition::new("foo", *p)).collect()
}

fn join(member: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group: "g".into(),
        member_id: member.into(),
        member_epoch: JOIN_EPOCH,
        instance_id: None,
        client_id: "client".into(),
        rebalance_timeout_ms: Some(300_000),
        subscribed_topics: Some(vec!["foo".into()]),
        server_assignor: None,
        owned: Some(Vec::new()),
    }
}

fn beat(member: &str, epoch: i32, owned: Option<&[u32]>) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        member_epoch: epoch,
        rebalance_timeout_ms: None,
        subscribed_topics: None,
        owned: owned.map(tps),
        ..join(member)
    }
}

/// Runs `f` inside a simulation (the group reads the simulated clock).
fn sim<T>(f: impl FnOnce() -> T) -> T {
    madsim::runtime::Runtime::new().block_on(async move { f() })
}

struct Harness {
    group: ConsumerGroup,
    records: Vec<ConsumerGroupRecord>,
    settings: ConsumerGroupSettings,
}

impl Harness {
    fn new() -> Self {
        Harness { group: ConsumerGroup::default(), records: Vec::new(), settings: settings() }
    }

    fn send(&mut self, request: ConsumerHeartbeat) -> Result<HeartbeatAnswer, ErrorCode> {
        let topics = topics();
        let cx = Context { now: Instant::now(), topics: &topics, settings: &self.settings };
        let (records, answer) = self.group.heartbeat(&request, &cx)?;
        self.records.extend(records);
        Ok(answer)
    }

    /// m1 and then m2 join; m1 learns it must revoke foo-2 and foo-3 (still at epoch 1).
    fn two_members_joined(&mut self) {
        self.send(join("m1")).unwrap();
        self.send(join("m2")).unwrap();
        self.send(beat("m1", 1, Some(&[0, 1, 2, 3]))).unwrap();
    }

    fn member(&self, id: &str) -> &ConsumerMember {
        &self.group.members[id]
    }
}

fn assigned(answer: &HeartbeatAnswer) -> Option<Vec<u32>> {
    answer.assignment.as_ref().map(|a| a.iter().map(|tp| tp.partition).collect())
}

#[test]
fn a_partition_moves_only_after_its_owner_revoked_it() {
    sim(|| {
        let mut h = Harness::new();
        let a = h.send(join("m1")).unwrap();
        assert_eq!((a.member_epoch, assigned(&a)), (1, Some(vec![0, 1, 2, 3])));
        // m2 joins: epoch 2, range gives m1 {0,1} and m2 {2,3}, which m1 still holds.
        let b = h.send(join("m2")).unwrap();
        assert_eq!((b.member_epoch, assigned(&b)), (2, Some(vec![])));
        assert_eq!(h.member("m2").assignment.state, MemberState::UnreleasedPartitions);
        assert_eq!(h.group.state(), ConsumerGroupState::Reconciling);
        // m1 learns it must revoke {2,3}; it keeps epoch 1 until it has.
        let a = h.send(beat("m1", 1, Some(&[0, 1, 2, 3]))).unwrap();
        assert_eq!((a.member_epoch, assigned(&a)), (1, Some(vec![0, 1])));
        assert_eq!(h.member("m1").assignment.state, MemberState::UnrevokedPartitions);
        // A heartbeat without owned partitions acknowledges nothing; m2 still waits.
        assert_eq!(assigned(&h.send(beat("m1", 1, None)).unwrap()), None);
        assert_eq!(assigned(&h.send(beat("m2", 2, None)).unwrap()), None);
        // m1 acknowledges: epoch 2. Then m2's next heartbeat receives {2,3}.
        let a = h.send(beat("m1", 1, Some(&[0, 1]))).unwrap();
        assert_eq!(a.member_epoch, 2);
        let b = h.send(beat("m2", 2, None)).unwrap();
        assert_eq!((b.member_epoch, assigned(&b)), (2, Some(vec![2, 3])));
        assert_eq!(h.group.state(), ConsumerGroupState::Stable);
    });
}

#[test]
fn the_assignor_the_members_name_most_assigns_and_an_unconfigured_one_is_refused() {
    sim(|| {
        let mut h = Harness::new();
        h.settings.assignors = vec![ServerAssignor::Uniform, ServerAssignor::Range];
        let range = |member: &str| ConsumerHeartbeat { server_assignor: Some(ServerAssignor::Range), ..join(member) };
        h.send(range("m1")).unwrap();
        assert_eq!(preferred_assignor(&h.group, &h.settings), ServerAssignor::Range);
        h.send(join("m2")).unwrap();
        assert_eq!(preferred_assignor(&h.group, &h.settings), ServerAssignor::Range, "one vote to none");
        h.send(ConsumerHeartbeat { server_assignor: Some(ServerAssignor::Uniform), ..join("m4") }).unwrap();
        assert_eq!(preferred_assignor(&h.group, &h.settings), ServerAssignor::Uniform, "a tie: the first listed");
        h.settings.assignors = vec![ServerAssignor::Uniform];
        assert_eq!(h.send(range("m3")), Err(ErrorCode::UnsupportedAssignor));
        assert!(!h.group.members.contains_key("m3"));
        let empty = ConsumerGroup::default();
        assert_eq!(preferred_assignor(&empty, &h.settings), ServerAssignor::Uniform, "the broker's first");
    });
}

#[test]
fn a_loaded_group_is_the_group_its_records_describe() {
    sim(|| {
        let mut h = Harness::new();
        h.two_members_joined();
        let loaded = ConsumerGroup::loaded(&h.records, &h.settings, Instant::now());
        assert_eq!(loaded.group_epoch, h.group.group_epoch);
        assert_eq!(loaded.assignment_epoch, h.group.assignment_epoch);
        assert_eq!(loaded.target, h.group.target);
        for (id, member) in &h.group.members {
            assert_eq!(loaded.members[id].metadata, member.metadata);
            assert_eq!(loaded.members[id].assignment, member.assignment, "{id}");
        }
    });
}

#[test]
fn heartbeats_from_other_epochs_are_fenced_unless_an_answer_was_lost() {
    sim(|| {
        let mut h = Harness::new();
        h.two_members_joined();
        h.send(beat("m1", 1, Some(&[0, 1]))).unwrap(); // Now at epoch 2, previous 1.
        let before = h.group.clone();
        assert_eq!(h.send(beat("m1", 3, None)), Err(ErrorCode::FencedMemberEpoch));
        // The previous epoch owning more than it is assigned: fenced.
        assert_eq!(h.send(beat("m1", 1, Some(&[0, 1, 2]))), Err(ErrorCode::FencedMemberEpoch));
        assert_eq!(h.group, before, "a refused heartbeat changes nothing");
        // The previous epoch with a subset: the answer that moved it on was lost.
        assert_eq!(h.send(beat("m1", 1, Some(&[0, 1]))).unwrap().member_epoch, 2);
        assert_eq!(h.send(beat("nobody", 2, None)), Err(ErrorCode::UnknownMemberId));
    });
}

#[test]
fn a_known_member_rejoining_with_epoch_zero_is_fenced_until_kafka_4_2() {
    sim(|| {
        let mut h = Harness::new();
        h.send(join("m1")).unwrap();
        // At epoch 1 from 0, a rejoin passes as the previous epoch with nothing owned.
        assert_eq!(h.send(join("m1")).map(|a| a.member_epoch), Ok(1));
        h.send(join("m2")).unwrap();
        h.send(beat("m1", 1, Some(&[0, 1, 2, 3]))).unwrap();
        h.send(beat("m1", 1, Some(&[0, 1]))).unwrap(); // Epoch 2, previous 1.
        assert_eq!(h.send(join("m1")), Err(ErrorCode::FencedMemberEpoch), "KAFKA-19233");
        h.settings.fence_epoch_zero_rejoin = false;
        let a = h.send(join("m1")).unwrap();
        assert_eq!((a.member_epoch, assigned(&a)), (2, Some(vec![0, 1])));
    });
}

#[test]
fn leaving_or_expiring_removes_the_member_and_bumps_the_group_epoch() {
    sim(|| {
        let mut h = Harness::new();
        h.send(join("m1")).unwrap();
        h.send(join("m2")).unwrap();
        let left = h.send(beat("m2", LEAVE_EPOCH, None)).unwrap();
        assert_eq!(left.member_epoch, LEAVE_EPOCH);
        assert!(!h.group.members.contains_key("m2"));
        assert_eq!((h.group.group_epoch, h.group.state()), (3, ConsumerGroupState::Assigning));
        // The next heartbeat computes the target without m2.
        h.send(beat("m1", 1, Some(&[0, 1, 2, 3]))).unwrap();
        assert_eq!(h.group.assignment_epoch, 3);
        // A member silent for a session timeout is fenced.
        let later = Instant::now() + Duration::from_millis(h.settings.session_timeout_ms);
        let (records, fenced) = h.group.expire(later);
        assert_eq!(fenced, ["m1"]);
        assert!(records.contains(&ConsumerGroupRecord::GroupEpoch { epoch: 4 }));
        assert_eq!(h.group.state(), ConsumerGroupState::Empty);
    });
}

#[test]
fn a_static_member_that_returns_in_time_gets_its_partitions_back_without_a_rebalance() {
    sim(|| {
        let mut h = Harness::new();
        let static_join = |member: &str| ConsumerHeartbeat { instance_id: Some("pod-1".into()), ..join(member) };
        h.send(static_join("a1")).unwrap();
        h.send(join("m2")).unwrap();
        h.send(ConsumerHeartbeat { instance_id: Some("pod-1".into()), ..beat("a1", 1, Some(&[0, 1, 2, 3])) }).unwrap();
        h.send(ConsumerHeartbeat { instance_id: Some("pod-1".into()), ..beat("a1", 1, Some(&[0, 1])) }).unwrap();
        let epoch = h.group.group_epoch;
        // It restarts: a temporary leave keeps its place and partitions.
        let leave = ConsumerHeartbeat { instance_id: Some("pod-1".into()), ..beat("a1", STATIC_LEAVE_EPOCH, None) };
        assert_eq!(h.send(leave).unwrap().member_epoch, STATIC_LEAVE_EPOCH);
        assert_eq!(h.group.group_epoch, epoch, "no rebalance");
        // It rejoins under a new member id: the same partitions, at the same epoch.
        assert_eq!(h.send(static_join("a2")).map(|a| a.member_epoch), Ok(epoch as i32));
        assert_eq!(
            assigned(
                &h.send(ConsumerHeartbeat { instance_id: Some("pod-1".into()), ..beat("a2", epoch as i32, None) })
                    .unwrap()
            ),
            None
        );
        assert_eq!(h.group.group_epoch, epoch, "the replacement took the same place");
        assert_eq!(h.member("a2").assignment.assigned, tps(&[0, 1]).into_iter().collect());
        assert!(!h.group.members.contains_key("a1"));
        // Another process claiming the instance while a2 holds it is refused.
        assert_eq!(h.send(static_join("a3")), Err(ErrorCode::UnreleasedInstanceId));
    });
}

#[test]
fn commits_must_carry_the_members_current_epoch() {
    sim(|| {
        let mut h = Harness::new();
        h.send(join("m1")).unwrap();
        let refusal = |epoch| consumer_service_refusal(&h.group, "m1", epoch);
        assert_eq!(refusal(Some(1)), None);
        assert_eq!(refusal(Some(0)), Some(ErrorCode::StaleMemberEpoch));
        assert_eq!(refusal(Some(2)), Some(ErrorCode::StaleMemberEpoch), "newer epochs too");
        assert_eq!(consumer_service_refusal(&h.group, "m9", Some(1)), Some(ErrorCode::UnknownMemberId));
        assert_eq!(refusal(None), Some(ErrorCode::UnknownMemberId), "a standalone commit while members exist");
        assert_eq!(consumer_service_refusal(&ConsumerGroup::default(), "", None), None);
        // A member that left is unknown to the group.
        let leave = ConsumerHeartbeat { instance_id: None, ..beat("m1", LEAVE_EPOCH, None) };
        h.send(leave).unwrap();
        assert_eq!(consumer_service_refusal(&h.group, "m1", Some(1)), Some(ErrorCode::UnknownMemberId), "it left");
    });
}

fn consumer_service_refusal(group: &ConsumerGroup, member: &str, epoch: Option<u32>) -> Option<ErrorCode> {
    super::super::consumer_service::commit_refusal(group, member, epoch)
}
