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
        subscribed_topic_regex: None,
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
    /// The broker's topics.
    topics: BTreeMap<String, u32>,
    /// The coordinator's clock, in milliseconds.
    now_ms: u64,
    /// The last metadata image that created a topic.
    last_image_with_new_topics: u64,
}

impl Harness {
    fn new() -> Self {
        Harness {
            group: ConsumerGroup::default(),
            records: Vec::new(),
            settings: settings(),
            topics: topics(),
            now_ms: 0,
            last_image_with_new_topics: 0,
        }
    }

    fn send(&mut self, request: ConsumerHeartbeat) -> Result<HeartbeatAnswer, ErrorCode> {
        let cx = Context {
            now: Instant::now(),
            now_ms: self.now_ms,
            topics: &self.topics,
            last_image_with_new_topics: self.last_image_with_new_topics,
            settings: &self.settings,
        };
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

/// A member that joins with a regular expression and no topic names.
fn join_by_regex(member: &str, regex: &str) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        subscribed_topics: Some(Vec::new()),
        subscribed_topic_regex: Some(regex.into()),
        ..join(member)
    }
}

impl Harness {
    /// Runs the resolution the group asked for, against image offset `version`, and
    /// applies its result; returns the regexes it resolved.
    fn resolve(&mut self, version: u64) -> Option<BTreeSet<String>> {
        let regexes = self.group.take_regex_refresh()?;
        let resolved = regex::resolve(&regexes, self.topics.keys().map(String::as_str), version, self.now_ms);
        let records = self.group.regexes_resolved(resolved, &self.topics);
        self.records.extend(records);
        Some(regexes)
    }
}

#[test]
fn a_new_regex_is_resolved_off_the_heartbeat_and_its_topics_assigned_at_the_next_epoch() {
    // GroupMetadataManagerTest.testConsumerGroupMemberJoinsWithNewRegex: the heartbeat
    // that brings a new regex writes the member and asks for a resolution, without a
    // bump; the result writes the resolved regex and bumps the group epoch.
    sim(|| {
        let mut h = Harness::new();
        h.topics.insert("bar".into(), 2);
        h.send(join("m1")).unwrap();
        let before = h.records.len();
        let b = h.send(join_by_regex("m2", "ba.*")).unwrap();
        assert_eq!((b.member_epoch, assigned(&b)), (1, Some(vec![])), "no bump before the resolution");
        assert!(matches!(&h.records[before..], [ConsumerGroupRecord::MemberMetadata { .. }, ..]));
        assert!(!h.records[before..].iter().any(|r| matches!(r, ConsumerGroupRecord::GroupEpoch { .. })));
        assert_eq!(h.resolve(7), Some(BTreeSet::from(["ba.*".to_string()])));
        assert_eq!(h.group.resolved_regexes["ba.*"].topics, ["bar"]);
        assert_eq!(h.group.resolved_regexes["ba.*"].version, 7);
        assert_eq!(h.group.group_epoch, 2);
        assert_eq!(h.group.subscription_metadata, BTreeMap::from([("bar".into(), 2), ("foo".into(), 4)]));
        // The next heartbeat computes the target: foo stays with m1, bar goes to m2.
        h.send(beat("m1", 1, Some(&[0, 1, 2, 3]))).unwrap();
        let b = h.send(beat("m2", 1, Some(&[]))).unwrap();
        let bar: Vec<TopicPartition> = (0..2).map(|p| TopicPartition::new("bar", p)).collect();
        assert_eq!((b.member_epoch, b.assignment), (2, Some(bar)));
        assert!(!h.group.is_homogeneous());
        // GroupMetadataManagerTest.testConsumerGroupMemberPicksUpExistingResolvedRegularExpression:
        // a second member on the same regex bumps at once and needs no resolution.
        h.send(join_by_regex("m3", "ba.*")).unwrap();
        assert_eq!((h.group.group_epoch, h.group.take_regex_refresh()), (3, None));
    });
}

#[test]
fn regexes_are_resolved_again_after_a_topic_creation_at_most_every_ten_seconds() {
    // GroupMetadataManagerTest.testConsumerGroupMemberJoinRefreshesExpiredRegexes.
    sim(|| {
        let mut h = Harness::new();
        h.now_ms = 1_000;
        h.send(join_by_regex("m1", "fo.*")).unwrap();
        h.resolve(5).expect("a new regex is resolved");
        assert!(h.group.is_homogeneous(), "one regex, no names");
        // foo-eu is created in image 9.
        h.topics.insert("foo-eu".into(), 1);
        h.last_image_with_new_topics = 9;
        h.now_ms = 11_000;
        assert_eq!(h.send(beat("m1", 1, None)).unwrap().member_epoch, 2);
        assert_eq!(h.resolve(9), None, "10 s since the last resolution have not passed");
        h.now_ms = 11_001;
        h.send(beat("m1", 2, None)).unwrap();
        assert!(h.resolve(9).is_some(), "a topic was created since");
        assert_eq!(h.group.resolved_regexes["fo.*"].topics, ["foo", "foo-eu"]);
        assert_eq!(h.group.group_epoch, 3, "the resolved set changed");
        // Nothing new since image 9: no resolution, however long it has been.
        h.now_ms = 60_000;
        assert_eq!(h.send(beat("m1", 2, None)).unwrap().member_epoch, 3);
        assert_eq!(h.resolve(10), None);
    });
}

#[test]
fn a_regex_that_does_not_compile_is_refused_and_the_last_member_on_a_regex_takes_it_away() {
    sim(|| {
        let mut h = Harness::new();
        h.send(join("m1")).unwrap();
        let before = h.group.clone();
        assert_eq!(h.send(join_by_regex("m2", "(fo")), Err(ErrorCode::InvalidRegularExpression));
        assert_eq!(h.group, before, "a refused heartbeat changes nothing");
        h.topics.insert("bar".into(), 2);
        h.send(join_by_regex("m2", "bar")).unwrap();
        h.resolve(3).unwrap();
        assert_eq!(h.group.subscription_metadata.len(), 2);
        // m2 leaves: its regex's resolution is deleted and bar leaves the subscription.
        h.send(ConsumerHeartbeat { member_epoch: LEAVE_EPOCH, ..beat("m2", 2, None) }).unwrap();
        assert!(h.group.resolved_regexes.is_empty());
        assert!(matches!(
            h.records.iter().rev().find(|r| matches!(r, ConsumerGroupRecord::RegularExpression { .. })),
            Some(ConsumerGroupRecord::RegularExpression { resolved: None, .. })
        ));
        assert_eq!(h.group.subscription_metadata, BTreeMap::from([("foo".into(), 4)]));
        // A group loaded from the records knows what was resolved.
        h.send(join_by_regex("m3", "bar")).unwrap();
        h.resolve(4).unwrap();
        let loaded = ConsumerGroup::loaded(&h.records, &h.settings, Instant::now());
        assert_eq!(loaded.resolved_regexes, h.group.resolved_regexes);
    });
}
