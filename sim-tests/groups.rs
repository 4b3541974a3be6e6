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

#[test]
fn a_group_moves_to_the_new_coordinator_and_resumes_from_its_committed_offsets() {
    let scenario = load("coordinator-failover");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let ops = &outcome.history.ops;
        // Generations are numbered per leader epoch of the offsets partition: a member
        // assigned in a later era was assigned by the new coordinator.
        let eras: BTreeSet<u32> =
            ops.iter().filter(|o| o.f == OpFn::Assign).filter_map(|o| o.group.as_ref()).map(|g| g.generation / 10_000).collect();
        assert!(eras.len() >= 2, "seed {seed}: the group never moved: {eras:?}");
        let new_era = *eras.iter().max().unwrap();
        // In the new era, each partition's first poll starts exactly at the offset last
        // committed before it (resume from the committed offsets, not a reset).
        let mut committed: std::collections::BTreeMap<String, u64> = Default::default();
        let mut resumed: BTreeSet<String> = BTreeSet::new();
        for op in ops.iter().filter(|o| o.kind == OpType::Ok && o.group.is_some()) {
            let era = op.group.as_ref().unwrap().generation / 10_000;
            match (&op.value, op.f) {
                (OpValue::Offsets(offsets), OpFn::Commit) => committed.extend(offsets.clone()),
                (_, OpFn::Poll) if era == new_era => {
                    for mop in op.micro_ops() {
                        let kafkasim::history::MicroOp::Poll { records: Some(records) } = mop else { continue };
                        for (key, pairs) in records {
                            if let (Some((first, _)), true) = (pairs.first(), resumed.insert(key.clone())) {
                                let expected = committed.get(key).copied().unwrap_or(0);
                                assert_eq!(*first, expected, "seed {seed}: {key} resumed at {first}, committed {expected}");
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(!resumed.is_empty(), "seed {seed}: nothing was consumed after the failover");
    }
}

#[test]
fn a_consumer_slower_than_retention_skips_records_that_were_deleted_unread() {
    let scenario = load("retention-outruns-consumer");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let skips: Vec<_> = outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::ConsumeSkip).collect();
        assert!(!skips.is_empty(), "seed {seed}: {}", describe(&outcome));
        let deleted_unread = skips.iter().flat_map(|a| &a.records).filter(|r| r.note.contains("deleted by retention")).count();
        assert!(deleted_unread > 0, "seed {seed}: the skipped records include ones retention deleted");
        // Retention is not loss: no acknowledged write is reported lost or unseen.
        let found = kinds(&outcome);
        assert!(!found.contains(&AnomalyKind::LostWrite) && !found.contains(&AnomalyKind::Unseen), "{}", describe(&outcome));
    }
}
