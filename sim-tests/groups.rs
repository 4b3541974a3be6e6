//! The consumer-group catalog scenarios teach what they claim, from the same mechanisms
//! as in Kafka: auto-commit skips what a crashed worker had polled, committing after
//! processing turns the same crash into duplicates, rebalances never split a partition,
//! and groups survive their coordinator's crash.

mod support;

use kafkasim::check::AnomalyKind;
use kafkasim::history::{OpFn, OpType, OpValue};
use kafkasim::runner::{RunOutcome, Status};
use std::collections::BTreeSet;
use support::{describe, kinds, load, run};

/// The Jepsen processes that crashed during the run.
fn crashed_processes(outcome: &RunOutcome) -> BTreeSet<u64> {
    outcome.history.ops.iter().filter(|o| o.f == OpFn::Crash && o.kind == OpType::Info).map(|o| o.process).collect()
}

/// (key, offset) of every record `process` polled.
fn polled_by(outcome: &RunOutcome, process: u64) -> BTreeSet<(String, u64)> {
    let mut polled = BTreeSet::new();
    for op in outcome.history.ops.iter().filter(|o| o.process == process && o.f == OpFn::Poll && o.kind == OpType::Ok) {
        for mop in op.micro_ops() {
            if let kafkasim::history::MicroOp::Poll { records: Some(records) } = mop {
                for (key, pairs) in records {
                    polled.extend(pairs.iter().map(|(offset, _)| (key.clone(), *offset)));
                }
            }
        }
    }
    polled
}

/// (key, offset) of every record `process` finished processing.
fn processed_by(outcome: &RunOutcome, process: u64) -> BTreeSet<(String, u64)> {
    let mut processed = BTreeSet::new();
    for op in outcome.history.ops.iter().filter(|o| o.process == process && o.f == OpFn::Process && o.kind == OpType::Ok) {
        if let OpValue::Records(records) = &op.value {
            for (key, pairs) in records {
                processed.extend(pairs.iter().map(|(offset, _)| (key.clone(), *offset)));
            }
        }
    }
    processed
}

#[test]
fn auto_commit_skips_records_a_crashed_worker_had_polled_but_not_processed() {
    let scenario = load("auto-commit-loss");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let skips: Vec<_> = outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::ConsumeSkip).collect();
        assert!(!skips.is_empty(), "seed {seed}: {}", describe(&outcome));
        // The skipped records are the crashed member's backlog: it polled them, nobody
        // processed them.
        let crashed = crashed_processes(&outcome);
        assert_eq!(crashed.len(), 1, "seed {seed}: one consumer crashed");
        let polled = polled_by(&outcome, *crashed.first().unwrap());
        let skipped: Vec<(String, u64)> = skips
            .iter()
            .flat_map(|a| a.records.iter())
            .filter_map(|r| Some((r.key.clone(), r.offset?)))
            .collect();
        assert!(!skipped.is_empty(), "seed {seed}: skips name their records");
        assert!(skipped.iter().all(|r| polled.contains(r)), "seed {seed}: {skipped:?} not all polled by the crashed member");
    }
}

#[test]
fn committing_after_processing_turns_a_crash_into_duplicates_and_never_skips() {
    let scenario = load("crash-before-commit-duplicates");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let found = kinds(&outcome);
        assert!(found.contains(&AnomalyKind::ConsumeDuplicate), "seed {seed}: {}", describe(&outcome));
        assert!(!found.contains(&AnomalyKind::ConsumeSkip), "seed {seed}: {}", describe(&outcome));
        // What was processed twice was first processed by the member that crashed.
        let crashed = crashed_processes(&outcome);
        let first_life = processed_by(&outcome, *crashed.first().expect("a consumer crashed"));
        for anomaly in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::ConsumeDuplicate) {
            let record = anomaly.records.first().expect("a duplicate names its record");
            let at = (record.key.clone(), record.offset.unwrap());
            assert!(first_life.contains(&at), "seed {seed}: {at:?} was not processed by the crashed member");
        }
    }
}
