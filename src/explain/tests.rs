//! Snapshot tests: one hand-written history per failure story, every anomaly the
//! checkers find in it explained; together they cover every anomaly kind.

use super::*;
use crate::check::testkit::Hist;
use crate::check::LivenessCause;
use crate::check::{check_all, Anomaly, AnomalyKind};
use crate::fault::FaultKind;
use crate::history::Event;
use crate::history::{ElectionReason, LogStartReason, TruncationReason};
use crate::protocol::Acks;
use crate::protocol::TruncationMode;
use std::collections::BTreeSet;

const DRAIN: u64 = crate::history::DRAIN_PROCESS;

fn append(broker: u32, as_leader: bool, epoch: u32, base: u64, values: &[u64]) -> Event {
    Event::Append { tp: "x".into(), broker, as_leader, leader_epoch: epoch, base_offset: base, values: values.into() }
}

fn acked(broker: u32, acks: Acks, base: u64, count: u64) -> Event {
    Event::ProduceAcknowledged { tp: "x".into(), broker, leader_epoch: 1, acks, base_offset: base, count }
}

fn leader(broker: u32, epoch: u32, leo: u64, unclean: bool) -> [Event; 2] {
    [
        Event::LeaderElection {
            tp: "x".into(),
            leader: Some(broker),
            leader_epoch: epoch,
            partition_epoch: u64::from(epoch),
            isr: vec![broker],
            unclean,
            reason: ElectionReason::BrokerFailure,
        },
        Event::BecomeLeader { tp: "x".into(), broker, leader_epoch: epoch, log_end_offset: leo, isr: vec![broker] },
    ]
}

fn hw(broker: u32, epoch: u32, old: u64, new: u64) -> Event {
    Event::HighWatermark { tp: "x".into(), broker, is_leader: true, leader_epoch: epoch, old, new }
}

fn fault(kind: FaultKind, target: &str) -> Event {
    Event::Fault { kind, targets: vec![target.into()], detail: "as scheduled".into() }
}

fn fault_ended(kind: FaultKind, target: &str) -> Event {
    Event::FaultEnded { kind, targets: vec![target.into()], detail: "as scheduled".into() }
}

fn truncate(broker: u32, to: u64, removed: &[(u64, u64, u32)], reason: TruncationReason) -> Event {
    Event::Truncate { tp: "x".into(), broker, to_offset: to, removed: removed.to_vec(), reason }
}

/// Every anomaly in the history, explained, as `kafkasim explain` prints them.
fn explain_all(history: &crate::history::History, anomalies: &[Anomaly], setup: &Setup) -> String {
    anomalies.iter().map(|a| render_text(&explain(history, a, setup, Lang::En))).collect::<Vec<_>>().join("\n")
}

fn kinds(anomalies: &[Anomaly]) -> BTreeSet<AnomalyKind> {
    anomalies.iter().map(|a| a.kind).collect()
}

fn acks1() -> Setup {
    Setup {
        acks: Some(Acks::Leader),
        idempotence: Some(false),
        min_insync_replicas: Some(1),
        unclean_election: Some(false),
        ..Setup::default()
    }
}

/// acks=1: the leader acknowledges value 10, crashes before broker-2 fetched it; broker-2
/// leads with log end 0, writes 11 at offset 0; broker-1 truncates 10 on return.
fn acks1_leader_crash() -> crate::history::History {
    let [e1, l1] = leader(1, 1, 0, false);
    let [e2, l2] = leader(2, 2, 0, false);
    Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 10)
        .event("broker-1", append(1, true, 1, 0, &[10]))
        .event("broker-1", acked(1, Acks::Leader, 0, 1))
        .send_done(0, "x", 0, 10)
        .event("nemesis", fault(FaultKind::Crash, "broker-1"))
        .event("controller", e2)
        .event("broker-2", l2)
        .event("broker-2", append(2, true, 2, 0, &[11]))
        .send_ok(2, "x", 0, 11)
        .event("broker-2", append(2, true, 2, 1, &[12]))
        .send_ok(2, "x", 1, 12)
        .event("nemesis", fault_ended(FaultKind::Crash, "broker-1"))
        .event("broker-1", truncate(1, 0, &[(0, 10, 1)], TruncationReason::LeaderEpoch))
        .poll_ok(DRAIN, &[("x", &[(0, 11), (1, 12)])])
        .build()
}

#[test]
fn acks1_leader_crash_story() {
    let h = acks1_leader_crash();
    let found = check_all(&h);
    assert_eq!(kinds(&found), [AnomalyKind::LostWrite, AnomalyKind::InconsistentOffsets, AnomalyKind::Unseen].into());
    let text = explain_all(&h, &found, &acks1());
    assert!(text.contains("acks=all with min.insync.replicas=2 would have prevented the loss."), "{text}");
    insta::assert_snapshot!(text);
}

/// Unclean election: broker-1 commits 20 (HW passes it) and crashes; out-of-sync broker-3
/// is elected uncleanly, commits 21 at offset 0; broker-1 truncates 20 on return.
fn unclean_election() -> crate::history::History {
    let [e1, l1] = leader(1, 1, 0, false);
    let [e3, l3] = leader(3, 2, 0, true);
    Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 20)
        .event("broker-1", append(1, true, 1, 0, &[20]))
        .event("broker-1", hw(1, 1, 0, 1))
        .event("broker-1", acked(1, Acks::All, 0, 1))
        .send_done(0, "x", 0, 20)
        .event("nemesis", fault(FaultKind::Crash, "broker-1"))
        .event("controller", e3)
        .event("broker-3", l3)
        .event("broker-3", append(3, true, 2, 0, &[21]))
        .event("broker-3", hw(3, 2, 0, 1))
        .send_ok(0, "x", 0, 21)
        .event("broker-3", append(3, true, 2, 1, &[22]))
        .send_ok(0, "x", 1, 22)
        .event("broker-1", truncate(1, 0, &[(0, 20, 1)], TruncationReason::LeaderEpoch))
        .poll_ok(DRAIN, &[("x", &[(0, 21), (1, 22)])])
        .build()
}

#[test]
fn unclean_election_story() {
    let h = unclean_election();
    let found = check_all(&h);
    for kind in [AnomalyKind::LostWrite, AnomalyKind::ReplicaDivergence, AnomalyKind::CommittedTruncation] {
        assert!(kinds(&found).contains(&kind), "{kind} in {found:?}");
    }
    let setup = Setup { acks: Some(Acks::All), min_insync_replicas: Some(1), unclean_election: Some(true), ..acks1() };
    let text = explain_all(&h, &found, &setup);
    assert!(text.contains("uncleanly"), "{text}");
    insta::assert_snapshot!(text);
}

/// A clean election, then an unclean one: the loss is told by the first new leader, whose
/// own election was clean (kip279-fast-leader-changes seed 1 called it unclean because a
/// later election of the story was).
#[test]
fn a_new_leader_is_called_unclean_only_when_its_own_election_was() {
    let [e1, l1] = leader(1, 1, 0, false);
    let [e2, l2] = leader(2, 2, 0, false);
    let [e3, l3] = leader(3, 3, 1, true);
    let h = Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 20)
        .event("broker-1", append(1, true, 1, 0, &[20]))
        .event("broker-1", hw(1, 1, 0, 1))
        .event("broker-1", acked(1, Acks::All, 0, 1))
        .send_done(0, "x", 0, 20)
        .event("nemesis", fault(FaultKind::Crash, "broker-1"))
        .event("controller", e2)
        .event("broker-2", l2)
        .event("broker-2", append(2, true, 2, 0, &[21]))
        .send_ok(0, "x", 0, 21)
        .event("nemesis", fault(FaultKind::Crash, "broker-2"))
        .event("controller", e3)
        .event("broker-3", l3)
        .poll_ok(DRAIN, &[("x", &[(0, 21)])])
        .build();
    let found = check_all(&h);
    assert!(kinds(&found).contains(&AnomalyKind::LostWrite), "{found:?}");
    let setup = Setup { acks: Some(Acks::All), min_insync_replicas: Some(1), unclean_election: Some(true), ..acks1() };
    let text = explain_all(&h, &found, &setup);
    assert!(text.contains("broker-2 became leader in epoch 2"), "{text}");
    assert!(!text.contains("broker-2 became leader uncleanly"), "{text}");
    assert!(text.contains("elects broker-3 leader of x in epoch 3, an unclean election"), "{text}");
}

/// A record's story can begin before the record (its offset held another value first):
/// the faults and leaders of that earlier time took nothing of it, and the cause tells
/// what came after its acknowledgement. Offset 0 first holds 10 (broker-1, epoch 1), read
/// by a consumer; broker-2 is paused and comes back; broker-1 crashes, broker-2 is elected
/// uncleanly without 10 and writes 20 at offset 0, acknowledged; broker-2 crashes and
/// broker-3, elected without 20, writes 21 there.
#[test]
fn the_cause_tells_what_came_after_the_acknowledgement() {
    let [e1, l1] = leader(1, 1, 0, false);
    let [e2, l2] = leader(2, 2, 0, true);
    let [e3, l3] = leader(3, 3, 0, true);
    let h = Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 10)
        .event("broker-1", append(1, true, 1, 0, &[10]))
        .send_done(0, "x", 0, 10)
        .poll_ok(1, &[("x", &[(0, 10)])])
        .event("nemesis", fault(FaultKind::Pause, "broker-2"))
        .event("nemesis", fault_ended(FaultKind::Pause, "broker-2"))
        .event("nemesis", fault(FaultKind::Crash, "broker-1"))
        .event("controller", e2)
        .event("broker-2", l2)
        .send_invoke(0, "x", 20)
        .event("broker-2", append(2, true, 2, 0, &[20]))
        .event("broker-2", acked(2, Acks::Leader, 0, 1))
        .send_done(0, "x", 0, 20)
        .event("nemesis", fault(FaultKind::Crash, "broker-2"))
        .event("controller", e3)
        .event("broker-3", l3)
        .event("broker-3", append(3, true, 3, 0, &[21]))
        .send_ok(0, "x", 0, 21)
        .poll_ok(DRAIN, &[("x", &[(0, 21)])])
        .build();
    let found = check_all(&h);
    let lost: Vec<Anomaly> =
        found.into_iter().filter(|a| a.kind == AnomalyKind::LostWrite && a.description.contains("value 20")).collect();
    assert_eq!(lost.len(), 1, "{lost:?}");
    let text = explain_all(&h, &lost, &acks1());
    assert!(text.contains("broker-2 crashed at"), "{text}");
    assert!(!text.contains("broker-2 was paused"), "{text}");
    assert!(text.contains("broker-3 became leader uncleanly, from outside the ISR, in epoch 3"), "{text}");
}

/// Power loss: both replicas acknowledge 30 and lose it with the page cache; legacy
/// truncation elsewhere is not involved.
#[test]
fn power_loss_story() {
    let [e1, l1] = leader(1, 1, 0, false);
    let h = Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 30)
        .event("broker-1", append(1, true, 1, 0, &[30]))
        .event("broker-2", append(2, false, 1, 0, &[30]))
        .event("broker-1", hw(1, 1, 0, 1))
        .event("broker-1", acked(1, Acks::All, 0, 1))
        .send_done(0, "x", 0, 30)
        .event("nemesis", fault(FaultKind::PowerLoss, "broker-1"))
        .event("broker-1", Event::LogLoaded { tp: "x".into(), broker: 1, records: vec![], high_watermark: 0 })
        .event("broker-1", append(1, true, 1, 0, &[31]))
        .send_ok(0, "x", 0, 31)
        .send_ok(0, "x", 1, 32)
        .poll_ok(DRAIN, &[("x", &[(0, 31), (1, 32)])])
        .build();
    let found: Vec<Anomaly> = check_all(&h).into_iter().filter(|a| a.kind == AnomalyKind::LostWrite).collect();
    let text = explain_all(&h, &found, &Setup { acks: Some(Acks::All), min_insync_replicas: Some(2), ..acks1() });
    assert!(text.contains("flush.messages=1"), "{text}");
    insta::assert_snapshot!(text);
}

/// Retries without idempotence: 41 is appended twice (a retry after a lost answer) and
/// lands behind 42, sent later; a consumer sees the order go back and, within one poll,
/// skip.
#[test]
fn retry_duplicates_and_reordering_story() {
    let h = Hist::new()
        .send_invoke(0, "x", 40)
        .event("broker-1", append(1, true, 1, 0, &[40]))
        .event("broker-1", append(1, true, 1, 1, &[42]))
        .event("broker-1", append(1, true, 1, 2, &[41]))
        .event("broker-1", append(1, true, 1, 3, &[41]))
        .send_done(0, "x", 0, 40)
        .send_ok(0, "x", 3, 41)
        .send_ok(0, "x", 1, 42)
        .poll_ok(1, &[("x", &[(0, 40), (2, 41)])])
        .poll_ok(1, &[("x", &[(1, 42)])])
        .poll_ok(DRAIN, &[("x", &[(0, 40), (1, 42), (2, 41), (3, 41)])])
        .build();
    let found = check_all(&h);
    for kind in
        [AnomalyKind::Duplicate, AnomalyKind::NonmonotonicSend, AnomalyKind::NonmonotonicPoll, AnomalyKind::IntPollSkip]
    {
        assert!(kinds(&found).contains(&kind), "{kind} in {found:?}");
    }
    let setup = Setup { acks: Some(Acks::All), idempotence: Some(false), max_in_flight: Some(5), ..Setup::default() };
    let text = explain_all(&h, &found, &setup);
    assert!(text.contains("enable.idempotence=true"), "{text}");
    insta::assert_snapshot!(text);
}

/// A send that failed (the leader answered after a timeout) was appended and is read.
#[test]
fn failed_send_seen_story() {
    let h = Hist::new()
        .event("broker-1", append(1, true, 1, 0, &[50]))
        .send_fail(0, "x", 50)
        .poll_ok(1, &[("x", &[(0, 50)])])
        .build();
    let found = check_all(&h);
    assert_eq!(kinds(&found), [AnomalyKind::G1a].into());
    insta::assert_snapshot!(explain_all(&h, &found, &Setup::default()));
}

/// Legacy truncation, a regressing high watermark and two leaders in one epoch.
#[test]
fn log_invariant_stories() {
    let h = Hist::new()
        .event("broker-1", append(1, true, 1, 0, &[60, 61]))
        .event("broker-1", hw(1, 1, 0, 2))
        .event("broker-1", hw(1, 1, 2, 1))
        .event("broker-2", append(2, true, 1, 2, &[62]))
        .build();
    let mut found = check_all(&h);
    let no_leader = crate::check::liveness::PartitionProblem::NoLeader { tp: "x".into() };
    found.push(Anomaly::no_progress(LivenessCause::NotRecovered { waited_ms: 30_000, problems: vec![no_leader] }));
    assert_eq!(
        kinds(&found),
        [AnomalyKind::HwRegression, AnomalyKind::MultipleLeaders, AnomalyKind::NoProgress].into()
    );
    let setup = Setup { truncation: Some(TruncationMode::Legacy), unclean_election: Some(false), ..Setup::default() };
    insta::assert_snapshot!(explain_all(&h, &found, &setup));
}

/// Consumer groups: auto-commit before processing then a crash (skip), processing twice
/// across a rebalance (duplicate), a stale commit (regression), a split assignment.
#[test]
fn consumer_group_stories() {
    let h = Hist::new()
        .member(1, "g", "m1", 1)
        .assign(1, &["x"])
        .poll_ok(1, &[("x", &[(0, 70), (1, 71), (2, 72)])])
        .process_ok(1, &[("x", &[(0, 70)])])
        .commit_ok(1, &[("x", 3)])
        .crash(1)
        .member(2, "g", "m2", 2)
        .assign(2, &["x"])
        .member(3, "g", "m3", 2)
        .assign(3, &["x"])
        .poll_ok(2, &[("x", &[(0, 70), (1, 71), (2, 72), (3, 73)])])
        .process_ok(2, &[("x", &[(0, 70), (3, 73)])])
        .commit_ok(2, &[("x", 1)])
        .build();
    let found = check_all(&h);
    for kind in [
        AnomalyKind::ConsumeSkip,
        AnomalyKind::ConsumeDuplicate,
        AnomalyKind::CommitRegression,
        AnomalyKind::SplitOwnership,
    ] {
        assert!(kinds(&found).contains(&kind), "{kind} in {found:?}");
    }
    let text = explain_all(&h, &found, &Setup { auto_commit: Some(true), ..Setup::default() });
    assert!(text.contains("enable.auto.commit=false"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn every_anomaly_kind_has_a_story_with_a_cause_and_a_prevention() {
    let setup = Setup::default();
    for kind in AnomalyKind::ALL {
        let anomaly = Anomaly::new(kind, "d".into(), vec![crate::check::RecordRef::new("x", Some(0), Some(1), "n")]);
        let story = explain(&acks1_leader_crash(), &anomaly, &setup, Lang::En);
        assert!(story.cause.ends_with('.') && story.prevention.ends_with('.'), "{kind}: {story:?}");
        assert!(!story.records.is_empty(), "{kind}");
    }
}

/// Retention deletes a record's segment before anyone read it.
#[test]
fn retention_story() {
    let h = Hist::new()
        .event("broker-1", append(1, true, 1, 0, &[80, 81]))
        .send_ok(0, "x", 0, 80)
        .send_ok(0, "x", 1, 81)
        .event(
            "broker-1",
            Event::LogStartAdvanced {
                tp: "x".into(),
                broker: 1,
                is_leader: true,
                log_start_offset: 1,
                removed: vec![(0, 80, 1)],
                reason: LogStartReason::RetentionMs,
            },
        )
        .poll_ok(DRAIN, &[("x", &[(1, 81)])])
        .build();
    // The checkers excuse records retention removed; a consumer that fell behind still
    // skips them (poll-skip, consume-skip), and that story must name retention.
    let skipped = crate::check::RecordRef::new("x", Some(0), Some(80), "skipped").subject();
    let anomaly = Anomaly::new(AnomalyKind::PollSkip, "d".into(), vec![skipped]);
    let text = render_text(&explain(&h, &anomaly, &Setup::default(), Lang::En));
    assert!(
        text.contains("leader broker-1 deletes it with its old segment (retention.ms); the log now starts at offset 1"),
        "{text}"
    );
    assert!(text.contains("Skipped because broker-1 deleted the record with its segment"), "{text}");
    assert!(text.contains("retention.ms or retention.bytes larger"), "{text}");
}

/// The lines of partition `x`'s story over a trace of `(milliseconds, node, event)`.
fn story_of_x(trace: impl IntoIterator<Item = (u64, &'static str, Event)>) -> Vec<String> {
    let trace = trace
        .into_iter()
        .map(|(ms, node, event)| crate::history::TraceEvent { time_ns: ms * 1_000_000, node: node.into(), event })
        .collect();
    let history = crate::history::History { ops: Vec::new(), trace };
    life::partition_story(&history, Some("x"), (0, u64::MAX), Lang::En).lines.into_iter().map(|l| l.text).collect()
}

#[test]
fn a_topic_creation_reads_as_the_partitions_first_leadership() {
    let created = Event::LeaderElection {
        tp: "x".into(),
        leader: Some(1),
        leader_epoch: 0,
        partition_epoch: 0,
        isr: vec![1, 2],
        unclean: false,
        reason: ElectionReason::TopicCreation,
    };
    let [elected, _] = leader(2, 1, 5, false);
    assert_eq!(
        story_of_x([(1, "broker-1", created), (2, "broker-1", elected)]),
        [
            "the controller creates x with broker-1 as leader in epoch 0 (ISR [1, 2])",
            "the controller elects broker-2 leader of x in epoch 1 (broker-failure; ISR [2])",
        ]
    );
}

/// Issue 19: a record whose leader crashed before its answer reached the producer, and
/// which the producer retried onto the new leader, is a retried record: told as that
/// from the trace (two appends as leader, the producer told the second's offset), not as
/// a loss.
#[test]
fn a_retried_record_is_told_as_retried_not_lost() {
    let [e1, l1] = leader(1, 1, 0, false);
    let [e2, l2] = leader(2, 2, 0, false);
    let h = Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 10)
        .event("broker-1", append(1, true, 1, 0, &[10]))
        .event("broker-1", acked(1, Acks::Leader, 0, 1))
        .event("nemesis", fault(FaultKind::Crash, "broker-1"))
        .event("controller", e2)
        .event("broker-2", l2)
        .event("broker-2", append(2, true, 2, 0, &[11]))
        .event("broker-2", append(2, true, 2, 1, &[10]))
        .send_done(0, "x", 1, 10)
        .event("nemesis", fault_ended(FaultKind::Crash, "broker-1"))
        .event("broker-1", truncate(1, 0, &[(0, 10, 1)], TruncationReason::LeaderEpoch))
        .poll_ok(DRAIN, &[("x", &[(0, 11), (1, 10)])])
        .build();
    let setup = Setup { idempotence_quietly_disabled: Some(true), ..acks1() };
    let subject = crate::check::RecordRef::new("x", Some(1), Some(10), "sent first").subject();
    let later = crate::check::RecordRef::new("x", Some(0), Some(11), "sent later");
    let reordered = Anomaly::new(AnomalyKind::NonmonotonicSend, "d".into(), vec![subject.clone(), later]);
    let story = explain(&h, &reordered, &setup, Lang::En);
    assert!(story.cause.contains("because it was retried: broker-1 appended it at offset 0"), "{}", story.cause);
    assert!(story.cause.contains("broker-1 crashed at"), "{}", story.cause);
    assert!(story.cause.contains("before its answer reached the producer, which sent it again"), "{}", story.cause);
    assert!(story.cause.contains("appended the retry at offset 1 in epoch 2"), "{}", story.cause);
    assert!(!story.cause.contains("Lost"), "{}", story.cause);
    // Issue 19 (c): acks=1 with enable.idempotence unset quietly disables idempotence.
    assert!(story.cause.contains("acks=1 contradicts it, so the producer quietly turned it off"), "{}", story.cause);
    let original = crate::check::RecordRef::new("x", Some(0), Some(10), "first copy").subject();
    let replaced = Anomaly::new(AnomalyKind::InconsistentOffsets, "d".into(), vec![original]);
    let story = explain(&h, &replaced, &setup, Lang::En);
    assert!(story.cause.starts_with("Not lost: broker-1 appended it at offset 0"), "{}", story.cause);
    assert!(story.cause.ends_with("process 1000000 read it at offset 1."), "{}", story.cause);
}

/// Issue 19 (b): with the idempotent producer, a power loss of the replicas erased the
/// first copy together with the producer state rebuilt from the log, so the leader took
/// the retry for a new batch: told as that, not as a broker bug.
#[test]
fn a_duplicate_after_a_power_loss_names_the_lost_producer_state() {
    let [e1, l1] = leader(1, 1, 0, false);
    let h = Hist::new()
        .event("controller", e1)
        .event("broker-1", l1)
        .send_invoke(0, "x", 30)
        .event("broker-1", append(1, true, 1, 0, &[30]))
        .poll_ok(1, &[("x", &[(0, 30)])])
        .event("nemesis", fault(FaultKind::PowerLoss, "broker-1"))
        .event("broker-1", Event::LogLoaded { tp: "x".into(), broker: 1, records: vec![], high_watermark: 0 })
        .event("broker-1", append(1, true, 1, 0, &[31]))
        .event("broker-1", append(1, true, 1, 1, &[30]))
        .send_done(0, "x", 1, 30)
        .send_ok(0, "x", 0, 31)
        .poll_ok(DRAIN, &[("x", &[(0, 31), (1, 30)])])
        .build();
    let found: Vec<Anomaly> = check_all(&h).into_iter().filter(|a| a.kind == AnomalyKind::Duplicate).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    let setup = Setup { acks: Some(Acks::All), idempotence: Some(true), ..Setup::default() };
    let text = explain_all(&h, &found, &setup);
    assert!(!text.contains("broker bug"), "{text}");
    assert!(text.contains("broker-1 lost power at"), "{text}");
    assert!(text.contains("ProducerStateManager"), "{text}");
    insta::assert_snapshot!(text);
}

/// Issue 19 (d): a new controller that loads the stored state (the same version the trace
/// already told) reads as that, not as an ISR change; a real change still reads as one.
#[test]
fn a_new_controller_loading_the_stored_isr_is_not_a_broker_rejoining() {
    let stored = |isr: Vec<u32>, partition_epoch| Event::IsrChange {
        tp: "x".into(),
        leader: Some(1),
        leader_epoch: 1,
        partition_epoch,
        isr,
    };
    let trace = [
        (1, "broker-1", stored(vec![1, 2, 3], 4)),
        (2, "broker-2", stored(vec![1, 2, 3], 4)),
        (3, "broker-2", stored(vec![1, 2], 5)),
    ];
    assert_eq!(
        story_of_x(trace),
        [
            "the ISR of x becomes [1, 2, 3]",
            "a new controller (broker-2) loads the state of x from the metadata store as the previous controller left it: leader broker-1, epoch 1, ISR [1, 2, 3]",
            "the ISR of x becomes [1, 2]",
        ]
    );
}

/// Issue 19: the reorder explain shows by default is one that is not also a duplicate.
#[test]
fn the_example_of_a_reordered_send_is_not_a_duplicate() {
    let rec = |v| crate::check::RecordRef::new("x", Some(0), Some(v), "n");
    let anomalies = [
        Anomaly::new(AnomalyKind::Duplicate, "d".into(), vec![rec(41)]),
        Anomaly::new(AnomalyKind::NonmonotonicSend, "d".into(), vec![rec(41), rec(42)]),
        Anomaly::new(AnomalyKind::NonmonotonicSend, "d".into(), vec![rec(50), rec(51)]),
        Anomaly::new(AnomalyKind::NonmonotonicPoll, "d".into(), vec![rec(41)]),
    ];
    assert_eq!(examples(&anomalies), [0, 2, 3]);
    assert_eq!(examples(&anomalies[..2]), [0, 1], "without another, the duplicate's reorder is shown");
}

/// Issue 19: an asynchronous producer's `info` op carries the offsets of the sends the
/// broker answered; lost-write and inconsistent-offsets both call them acknowledged.
#[test]
fn an_info_ops_offset_reads_as_acknowledged_everywhere() {
    use crate::check::testkit::M;
    use crate::history::OpType;
    let h = Hist::new()
        .event("broker-1", append(1, true, 1, 0, &[10]))
        .sends(0, OpType::Info, &[M::Send("x", Some(0), 10), M::Send("x", None, 11)])
        .event("broker-2", append(2, true, 2, 0, &[12]))
        .poll_ok(DRAIN, &[("x", &[(0, 12)])])
        .build();
    let found = check_all(&h);
    let inconsistent = found.iter().find(|a| a.kind == AnomalyKind::InconsistentOffsets).expect("inconsistent-offsets");
    assert!(inconsistent.description.contains("10 (acknowledged"), "{}", inconsistent.description);
    assert!(!inconsistent.description.contains("unknown outcome"), "{}", inconsistent.description);
    let story = render_text(&explain(&h, inconsistent, &Setup::default(), Lang::En));
    assert!(story.contains("process 0's send was acknowledged at offset 0"), "{story}");
}

/// Issue 19: in a truncation to the high watermark (before KIP-101) the story shows the
/// follower's own high watermark, behind the leader's.
#[test]
fn a_truncation_to_the_high_watermark_shows_the_followers_own() {
    let follower_hw =
        Event::HighWatermark { tp: "x".into(), broker: 2, is_leader: false, leader_epoch: 1, old: 0, new: 1 };
    let h = Hist::new()
        .send_invoke(0, "x", 60)
        .event("broker-1", append(1, true, 1, 0, &[59, 60]))
        .event("broker-2", append(2, false, 1, 0, &[59, 60]))
        .event("broker-2", follower_hw)
        .event("broker-1", hw(1, 1, 0, 2))
        .event("broker-2", truncate(2, 1, &[(1, 60, 1)], TruncationReason::HighWatermark))
        .build();
    let focus = crate::check::RecordRef::new("x", Some(1), Some(60), "n").subject();
    let text = render_text(&explain(
        &h,
        &Anomaly::new(AnomalyKind::LostWrite, "d".into(), vec![focus]),
        &Setup::default(),
        Lang::En,
    ));
    assert!(
        text.contains("broker-2 truncates x to offset 1 (high-watermark), removing it (offset 1, epoch 1); its own high watermark, to which it truncates, was 1 (since 0.400 s), while leader broker-1's had reached 2"),
        "{text}"
    );
}

/// Unanswered sends: the cause names what held them, the leaders' refusals past their
/// delivery timeout or sends no leader could answer.
#[test]
fn unanswered_sends_are_told_by_what_held_them() {
    let h = Hist::new().send_ok(0, "x", 0, 10).build();
    let story = |refused: bool| {
        let cause = LivenessCause::SendsUnanswered { count: 1, waited_ms: 80_000, refused };
        render_text(&explain(&h, &Anomaly::no_progress(cause), &Setup::default(), Lang::En))
    };
    let (refused, silent) = (story(true), story(false));
    assert!(
        refused.contains("the batches their leaders kept refusing had reached their delivery timeout"),
        "{refused}"
    );
    assert!(silent.contains("sends that no leader could accept or refuse"), "{silent}");
}
