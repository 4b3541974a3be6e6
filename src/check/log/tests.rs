//! Tiny hand-written traces for each log invariant: one that must break it, and near
//! misses that Kafka produces legitimately and must not.

use super::*;
use crate::check::testkit::Hist;
use crate::history::{RunPhase, TruncationReason};

const TP: &str = "t-0";

fn append(broker: u32, as_leader: bool, leader_epoch: u32, base_offset: u64, values: &[u64]) -> Event {
    Event::Append { tp: TP.into(), broker, as_leader, leader_epoch, base_offset, values: values.into() }
}

fn hw(broker: u32, is_leader: bool, leader_epoch: u32, old: u64, new: u64) -> Event {
    Event::HighWatermark { tp: TP.into(), broker, is_leader, leader_epoch, old, new }
}

/// A truncation removing `(offset, value, epoch)` records.
fn truncate(broker: u32, to_offset: u64, removed: &[(u64, u64, u32)]) -> Event {
    Event::Truncate {
        tp: TP.into(),
        broker,
        to_offset,
        removed: removed.to_vec(),
        reason: TruncationReason::HighWatermark,
    }
}

/// A log loaded with `(offset, value, epoch)` records.
fn loaded(broker: u32, records: &[(u64, u64, u32)], high_watermark: u64) -> Event {
    Event::LogLoaded { tp: TP.into(), broker, records: records.to_vec(), high_watermark }
}

/// A history whose trace is these events, 100 ms apart from 0.1 s.
fn trace(events: Vec<Event>) -> History {
    events.into_iter().fold(Hist::new(), |h, e| h.event("broker", e)).build()
}

/// `(offset, value)` of each record of each anomaly.
fn records(anomalies: &[Anomaly]) -> Vec<Vec<(Option<u64>, Option<u64>)>> {
    anomalies.iter().map(|a| a.records.iter().map(|r| (r.offset, r.value)).collect()).collect()
}

/// Broker 1 leads epoch 1 and commits 10, 11 at offsets 0-1; broker 2 follows.
fn committed_pair() -> Vec<Event> {
    vec![
        append(1, true, 1, 0, &[10, 11]),
        append(2, false, 1, 0, &[10, 11]),
        hw(1, true, 1, 0, 2),
        hw(2, false, 1, 0, 2),
    ]
}

#[test]
fn a_new_leader_overwriting_a_committed_offset_diverges() {
    let mut events = committed_pair();
    events.extend([
        Event::BrokerStarted { broker: 2 },
        loaded(2, &[(0, 10, 1)], 1),
        append(2, true, 2, 1, &[21]),
        hw(2, true, 2, 1, 2),
    ]);
    let found = replica_divergence(&trace(events));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, AnomalyKind::ReplicaDivergence);
    assert_eq!(records(&found), vec![vec![(Some(1), Some(11)), (Some(1), Some(21))]]);
    assert_eq!(found[0].records[1].by.as_deref(), Some("broker-2"));
    assert_eq!(
        found[0].description,
        "t-0 offset 1: broker-2 held value 21 (epoch 2) below its high watermark 2 at 0.800 s, but broker-1 had held \
         value 11 (epoch 1) there below its high watermark 2 at 0.300 s."
    );
}

#[test]
fn a_follower_replacing_an_uncommitted_tail_does_not_diverge() {
    // Broker 2 holds 19 at offset 1 above its high watermark, truncates and refetches 11.
    let events = vec![
        append(1, true, 1, 0, &[10, 11]),
        hw(1, true, 1, 0, 1),
        loaded(2, &[(0, 10, 1), (1, 19, 1)], 1),
        truncate(2, 1, &[(1, 19, 1)]),
        append(2, false, 1, 1, &[11]),
        hw(1, true, 1, 1, 2),
        hw(2, false, 1, 1, 2),
    ];
    let h = trace(events);
    assert!(replica_divergence(&h).is_empty());
    assert!(committed_truncations(&h).is_empty());
}

#[test]
fn a_leader_lowering_its_high_watermark_in_one_epoch_regresses() {
    let events = vec![append(1, true, 1, 0, &[10, 11, 12]), hw(1, true, 1, 0, 3), hw(1, true, 1, 3, 1)];
    let found = hw_regressions(&trace(events));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, AnomalyKind::HwRegression);
    assert_eq!(records(&found), vec![vec![(Some(1), Some(11)), (Some(2), Some(12))]]);
    assert_eq!(
        found[0].description,
        "Broker-1, leader of t-0 in epoch 1, lowered its high watermark from 3 (at 0.200 s) to 1 at 0.300 s."
    );
}

#[test]
fn follower_restart_and_new_epoch_high_watermarks_may_go_back() {
    let events = vec![
        hw(2, false, 1, 0, 5),
        hw(2, false, 1, 5, 3),
        hw(1, true, 1, 0, 5),
        Event::BrokerStarted { broker: 1 },
        hw(1, true, 1, 0, 4),
        hw(1, true, 2, 4, 2),
    ];
    assert!(hw_regressions(&trace(events)).is_empty());
}

#[test]
fn truncating_records_below_the_leader_high_watermark_is_committed_truncation() {
    let mut events = committed_pair();
    events.push(truncate(2, 0, &[(0, 10, 1), (1, 11, 1)]));
    let found = committed_truncations(&trace(events));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, AnomalyKind::CommittedTruncation);
    assert_eq!(records(&found), vec![vec![(Some(0), Some(10)), (Some(1), Some(11))]]);
    assert_eq!(found[0].records[0].note, "truncated from broker-2; committed by leader broker-1 at 0.300 s");
    assert_eq!(
        found[0].description,
        "Broker-2 truncated t-0 to offset 0 at 0.500 s (reason high-watermark), removing 2 committed records \
         (offsets 0-1, values 10, 11, epoch 1) that leader broker-1 had committed at 0.300 s."
    );
}

fn role(broker: u32, leads: bool, leader_epoch: u32, leader: u32) -> Event {
    if leads {
        Event::BecomeLeader { tp: TP.into(), broker, leader_epoch, log_end_offset: 0, isr: vec![broker] }
    } else {
        Event::BecomeFollower { tp: TP.into(), broker, leader: Some(leader), leader_epoch, log_end_offset: 0 }
    }
}

#[test]
fn a_follower_of_an_older_leadership_truncating_a_record_committed_later_is_not_committed_truncation() {
    // Broker 3 leads epoch 2 and commits 10 at offset 0 (appended in epoch 1); broker 1,
    // which has not yet heard of epoch 2, truncates it following epoch 1's leader
    // broker 2, whose log was shorter. Once it follows epoch 2, the same is an anomaly.
    let shared = vec![
        role(1, false, 1, 2),
        role(3, true, 2, 3),
        append(3, false, 1, 0, &[10]),
        append(1, false, 1, 0, &[10]),
        hw(3, true, 2, 0, 1),
    ];
    let mut stale = shared.clone();
    stale.push(truncate(1, 0, &[(0, 10, 1)]));
    assert!(committed_truncations(&trace(stale)).is_empty());
    let mut current = shared;
    current.extend([role(1, false, 2, 3), truncate(1, 0, &[(0, 10, 1)])]);
    assert_eq!(committed_truncations(&trace(current)).len(), 1);
}

#[test]
fn truncating_above_the_leader_high_watermark_or_a_different_value_is_not_committed_truncation() {
    let events = vec![
        append(1, true, 1, 0, &[10, 11, 12]),
        append(2, false, 1, 0, &[10, 11, 12]),
        // Only a follower's high watermark passes offset 2: not committed by a leader.
        hw(1, true, 1, 0, 2),
        hw(2, false, 1, 0, 3),
        truncate(2, 2, &[(2, 12, 1)]),
        // Broker 3 holds a divergent 19 at committed offset 1 and drops it: not a committed record.
        loaded(3, &[(0, 10, 1), (1, 19, 1)], 1),
        truncate(3, 1, &[(1, 19, 1)]),
    ];
    assert!(committed_truncations(&trace(events)).is_empty());
}

#[test]
fn truncating_an_older_epoch_copy_of_a_retried_value_is_not_committed_truncation() {
    // Seen in a run: broker-1 (leader in epoch 1) held value 3995 at offset 3995
    // uncommitted; the producer retried it and the new leader broker-2 (epoch 2) appended
    // the same value at the same offset and committed it. Broker-1 then truncated its own
    // epoch-1 copy: the committed epoch-2 record was never removed anywhere.
    let events = vec![
        append(1, true, 1, 3994, &[3994]),
        append(2, false, 1, 3994, &[3994]),
        hw(1, true, 1, 3994, 3995),
        hw(2, false, 1, 3994, 3995),
        append(1, true, 1, 3995, &[3995]),
        append(2, true, 2, 3995, &[3995]),
        hw(2, true, 2, 3995, 3996),
        truncate(1, 3995, &[(3995, 3995, 1)]),
        append(1, false, 2, 3995, &[3995]),
        hw(1, false, 2, 3995, 3996),
    ];
    let h = trace(events);
    assert!(committed_truncations(&h).is_empty());
    assert!(check(&h).is_empty(), "{:#?}", check(&h));
}

#[test]
fn an_equal_value_from_another_epoch_is_another_record() {
    // Broker-1 commits 11 at offset 1 in epoch 1; broker-2 never gets it, and as leader
    // of epoch 2 appends an equal 11 there. Same value, different log entry.
    let mut events = committed_pair();
    events.extend([
        Event::BrokerStarted { broker: 2 },
        loaded(2, &[(0, 10, 1)], 1),
        append(2, true, 2, 1, &[11]),
        hw(2, true, 2, 1, 2),
        truncate(1, 1, &[(1, 11, 1)]),
    ]);
    let h = trace(events);
    let found = replica_divergence(&h);
    assert_eq!(records(&found), vec![vec![(Some(1), Some(11)), (Some(1), Some(11))]]);
    assert_eq!(found[0].records[0].note, "epoch 1, below the high watermark of broker-1");
    assert_eq!(found[0].records[1].note, "epoch 2, below the high watermark of broker-2, diverging");
    let found = committed_truncations(&h);
    assert_eq!(records(&found), vec![vec![(Some(1), Some(11))]]);
    assert_eq!(
        found[0].description,
        "Broker-1 truncated t-0 to offset 1 at 0.900 s (reason high-watermark), removing 1 committed record \
         (offset 1, value 11, epoch 1) that leader broker-1 had committed at 0.300 s."
    );
}

#[test]
fn an_unclean_election_diverging_on_many_offsets_is_one_anomaly() {
    // Broker-1 commits offsets 0-29 in epoch 1; broker-2 comes back with offset 0 only,
    // is elected uncleanly and writes 29 other records over two high watermark moves;
    // broker-3 then follows broker-2 and holds the same divergent records.
    let old: Vec<u64> = (100..130).collect();
    let new: Vec<u64> = (201..230).collect();
    let events = vec![
        append(1, true, 1, 0, &old),
        hw(1, true, 1, 0, 30),
        Event::BrokerStarted { broker: 2 },
        loaded(2, &[(0, 100, 1)], 1),
        append(2, true, 2, 1, &new),
        hw(2, true, 2, 1, 15),
        hw(2, true, 2, 15, 30),
        append(3, false, 1, 0, &[100]),
        append(3, false, 2, 1, &new),
        hw(3, false, 2, 0, 30),
    ];
    let found = replica_divergence(&trace(events));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, AnomalyKind::ReplicaDivergence);
    assert_eq!(found[0].records.len(), 2 * DIVERGENCE_LISTED_OFFSETS);
    assert_eq!(found[0].records[0].offset, Some(1));
    assert_eq!(found[0].records[2 * DIVERGENCE_LISTED_OFFSETS - 1].offset, Some(DIVERGENCE_LISTED_OFFSETS as u64));
    assert_eq!(
        found[0].description,
        "t-0 offsets 1-29: broker-2 held 29 records below its high watermark (between 0.600 s and 0.700 s) that \
         differ from the entries broker-1 had held there below its high watermark (at 0.200 s): offset 1 has value \
         201 (epoch 2) instead of value 101 (epoch 1), offset 2 has value 202 (epoch 2) instead of value 102 \
         (epoch 1), offset 3 has value 203 (epoch 2) instead of value 103 (epoch 1) and 26 more; the records list \
         the first 20 offsets."
    );
}

#[test]
fn divergence_splits_by_pair_of_replicas_and_by_gaps_in_offsets() {
    let committed: Vec<(u64, u64, u32)> = (0..10).map(|o| (o, 100 + o, 1)).collect();
    let mut on_2 = committed.clone();
    for o in [3, 4, 7] {
        on_2[o as usize] = (o, 900 + o, 2);
    }
    let mut on_3 = committed.clone();
    on_3[3] = (3, 803, 3);
    let events = vec![loaded(1, &committed, 10), loaded(2, &on_2, 10), loaded(3, &on_3, 10)];
    let found = replica_divergence(&trace(events));
    let offsets: Vec<Vec<Option<u64>>> = found.iter().map(|a| a.records.iter().map(|r| r.offset).collect()).collect();
    assert_eq!(offsets, vec![vec![Some(3), Some(3), Some(4), Some(4)], vec![Some(7), Some(7)], vec![Some(3), Some(3)]]);
    assert_eq!(found[2].records[1].by.as_deref(), Some("broker-3"));
    assert_eq!(
        found[0].description,
        "t-0 offsets 3-4: broker-2 held 2 records below its high watermark (at 0.200 s) that differ from the entries \
         broker-1 had held there below its high watermark (at 0.100 s): offset 3 has value 903 (epoch 2) instead of \
         value 103 (epoch 1), offset 4 has value 904 (epoch 2) instead of value 104 (epoch 1)."
    );
    assert!(found[1].description.starts_with("t-0 offset 7: broker-2 held value 907 (epoch 2)"));
}

#[test]
fn two_brokers_appending_as_leader_in_one_epoch_are_multiple_leaders() {
    let events = vec![append(1, true, 3, 0, &[10]), append(2, true, 3, 0, &[20]), append(2, true, 3, 1, &[21])];
    let found = multiple_leaders(&trace(events));
    assert_eq!(found.len(), 1, "reported once per extra broker");
    assert_eq!(found[0].kind, AnomalyKind::MultipleLeaders);
    assert_eq!(records(&found), vec![vec![(Some(0), Some(10)), (Some(0), Some(20))]]);
    assert_eq!(
        found[0].description,
        "t-0 had two leaders in epoch 3: broker-1 appended value 10 at offset 0 at 0.100 s and broker-2 appended \
         value 20 at offset 0 at 0.200 s, both as leader."
    );
}

#[test]
fn one_leader_per_epoch_and_follower_appends_are_not_multiple_leaders() {
    let events = vec![
        append(1, true, 3, 0, &[10]),
        append(1, true, 3, 1, &[11]),
        append(2, false, 3, 0, &[10, 11]),
        append(2, true, 4, 2, &[12]),
        append(1, true, 3, 5, &[]),
    ];
    assert!(multiple_leaders(&trace(events)).is_empty());
}

#[test]
fn traces_with_unknown_replicas_and_odd_events_do_not_panic() {
    let events = vec![
        truncate(7, 0, &[(3, 30, 1)]),
        loaded(6, &[(5, 50, 1), (5, 51, 2), (2, 20, 1)], 9),
        hw(8, true, 1, 9, 0),
        append(9, true, 1, u64::MAX, &[1, 2, 3]),
        hw(9, true, 1, 0, u64::MAX),
        Event::Phase { name: RunPhase::Liveness },
        Event::BrokerStarted { broker: 42 },
    ];
    let h = trace(events);
    assert!(check(&h).is_empty());
}
