//! KIP-320's consumer side under an unclean leader election: a consumer that read past
//! the point where the new leader's log diverges. Kafka 2.2 consumers only reset on
//! OFFSET_OUT_OF_RANGE (re-reading from 0 with `earliest`, or silently reading on when the
//! new log has grown past their position); Kafka 2.3 consumers validate their position
//! with OffsetsForLeaderEpoch and rewind to the divergence point.

use crate::support::{describe, load, run};
use kafkasim::history::{Event, MicroOp, OpFn, OpType};
use kafkasim::protocol::OffsetReset;
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::Scenario;
use std::collections::BTreeSet;

/// The standalone consumer's process id (the producer is process 0).
const CONSUMER: u64 = 1;

/// What the consumer's successful polls of `orders-0` read, in order: `(offset, value)`.
fn consumer_reads(outcome: &RunOutcome) -> Vec<(u64, u64)> {
    let mut reads = Vec::new();
    for op in outcome.history.ops.iter().filter(|op| op.process == CONSUMER && op.kind == OpType::Ok) {
        for micro in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = micro {
                reads.extend(records.get("orders-0").into_iter().flatten().copied());
            }
        }
    }
    reads
}

/// Where the consumer's reads stopped being consecutive: `(last offset, next offset)`.
fn jumps(reads: &[(u64, u64)]) -> Vec<(u64, u64)> {
    reads.windows(2).filter(|w| w[1].0 != w[0].0 + 1).map(|w| (w[0].0, w[1].0)).collect()
}

/// The first offset the unclean election replaced: where the old leader truncated.
fn divergence_point(outcome: &RunOutcome) -> u64 {
    outcome
        .history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::Truncate { to_offset, removed, .. } if !removed.is_empty() => Some(*to_offset),
            _ => None,
        })
        .min()
        .unwrap_or_else(|| panic!("no truncation: {}", describe(outcome)))
}

/// Records of the final log (as the drain read it) at or below the consumer's last
/// offset that the consumer never read.
fn never_read(outcome: &RunOutcome, reads: &[(u64, u64)]) -> Vec<u64> {
    let seen: BTreeSet<u64> = reads.iter().map(|(_, v)| *v).collect();
    let last = reads.last().map_or(0, |(o, _)| *o);
    let mut missing = BTreeSet::new();
    for op in outcome.history.ops.iter().filter(|op| op.process != CONSUMER && op.kind == OpType::Ok) {
        if op.f != OpFn::Poll {
            continue;
        }
        for micro in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = micro {
                for (offset, value) in records.get("orders-0").into_iter().flatten() {
                    if *offset <= last && !seen.contains(value) {
                        missing.insert(*offset);
                    }
                }
            }
        }
    }
    missing.into_iter().collect()
}

/// The catalog pair with the consumer cut off for `outage_ms` from the leader's crash.
fn with_outage(name: &str, outage_ms: u64) -> Scenario {
    let mut scenario = load(name);
    let cut = scenario.faults.iter_mut().find(|f| f.duration_ms.is_some()).expect("the consumer's partition fault");
    cut.duration_ms = Some(outage_ms);
    scenario
}

#[test]
fn a_2_3_consumer_rewinds_to_the_divergence_point_and_a_2_2_consumer_rereads_from_zero() {
    let old = load("kip320-consumer-truncation");
    let new = load("kip320-consumer-truncation-fixed");
    for &seed in &old.seeds {
        let outcome = run(&old, seed);
        let reads = consumer_reads(&outcome);
        let jumped = jumps(&reads);
        assert_eq!(jumped.len(), 1, "{jumped:?}: {}", describe(&outcome));
        assert!(jumped[0].0 > divergence_point(&outcome) && jumped[0].1 == 0, "{jumped:?}");
    }
    for &seed in &new.seeds {
        let outcome = run(&new, seed);
        let reads = consumer_reads(&outcome);
        let jumped = jumps(&reads);
        assert_eq!(jumped, vec![(jumped[0].0, divergence_point(&outcome))], "{}", describe(&outcome));
        assert!(jumped[0].0 > jumped[0].1);
        assert!(never_read(&outcome, &reads).is_empty());
    }
}

#[test]
fn after_a_long_outage_a_2_2_consumer_silently_skips_the_replacing_records_and_2_3_does_not() {
    // Cut off for 9 s, the consumer comes back when the new leader's log has grown past
    // its position: no OFFSET_OUT_OF_RANGE, so Kafka 2.2 reads on from there.
    let old = with_outage("kip320-consumer-truncation", 9_000);
    let outcome = run(&old, 1);
    let reads = consumer_reads(&outcome);
    assert!(jumps(&reads).is_empty(), "it never went back: {:?}", jumps(&reads));
    let missing = never_read(&outcome, &reads);
    let divergence = divergence_point(&outcome);
    assert!(missing.len() > 500, "{} records skipped", missing.len());
    assert_eq!(missing.first(), Some(&divergence));
    // The checkers see no poll-skip: Jepsen's version order keeps one value per offset
    // (the smallest, the replaced record's), and the consumer's offsets are consecutive.
    // The skip shows only as inconsistent-offsets, which the election causes anyway.
    let kinds = crate::support::kinds(&outcome);
    assert!(!kinds.contains(&kafkasim::check::AnomalyKind::PollSkip), "{kinds:?}");
    assert!(kinds.contains(&kafkasim::check::AnomalyKind::InconsistentOffsets), "{kinds:?}");

    let new = with_outage("kip320-consumer-truncation-fixed", 9_000);
    let outcome = run(&new, 1);
    let reads = consumer_reads(&outcome);
    assert_eq!(jumps(&reads).len(), 1);
    assert_eq!(jumps(&reads)[0].1, divergence_point(&outcome));
    assert!(never_read(&outcome, &reads).is_empty());
}

#[test]
fn with_auto_offset_reset_none_the_truncation_is_raised_and_the_application_seeks_to_the_divergence() {
    let mut scenario = load("kip320-consumer-truncation-fixed");
    scenario.consumers[0].config.auto_offset_reset = OffsetReset::None;
    let outcome = run(&scenario, 1);
    let divergence = divergence_point(&outcome);
    let failed: Vec<&str> = outcome
        .history
        .ops
        .iter()
        .filter(|op| op.process == CONSUMER && op.f == OpFn::Poll && op.kind == OpType::Fail)
        .filter_map(|op| op.error.as_deref())
        .collect();
    let expected = format!("first divergent offset {divergence}");
    assert!(
        failed.iter().any(|e| e.starts_with("log truncation detected for orders-0") && e.ends_with(&expected)),
        "{failed:?}"
    );
    let reads = consumer_reads(&outcome);
    assert_eq!(jumps(&reads).iter().map(|j| j.1).collect::<Vec<_>>(), vec![divergence]);
}
