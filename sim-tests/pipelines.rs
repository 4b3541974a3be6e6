//! Consume-transform-produce pipelines (`[[pipelines]]`) on their catalog lessons: the
//! at-least-once pipeline duplicates its output after a crash and after a zombie's
//! stall; the exactly-once pipeline, same faults, forwards every input record once. With
//! a dead-letter queue, the at-least-once pipeline dead-letters poison records twice
//! after a crash, the exactly-once one once.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{OpFn, OpType, OpValue};
use kafkasim::runner::RunOutcome;
use std::collections::BTreeMap;

/// The errors of the ops of function `f` that completed with `kind`.
fn errors(outcome: &RunOutcome, f: OpFn, kind: OpType) -> Vec<String> {
    let ops = outcome.history.ops.iter().filter(|o| o.f == f && o.kind == kind);
    ops.map(|o| o.error.clone().unwrap_or_default()).collect()
}

#[test]
fn an_at_least_once_pipeline_duplicates_its_output_when_it_crashes_and_an_exactly_once_one_does_not() {
    let lesson = load("pipeline-at-least-once");
    for &seed in &lesson.seeds[..2] {
        let outcome = run(&lesson, seed);
        assert!(kinds(&outcome).contains(&AnomalyKind::ExactlyOnce), "seed {seed}: {}", describe(&outcome));
    }
    let twin = load("pipeline-exactly-once");
    for &seed in &twin.seeds[..2] {
        let outcome = run(&twin, seed);
        assert!(kinds(&outcome).is_empty(), "seed {seed}: {}", describe(&outcome));
        let committed = errors(&outcome, OpFn::Txn, OpType::Ok).len();
        let crashed = errors(&outcome, OpFn::Txn, OpType::Info);
        assert!(committed > 0, "seed {seed}: the pipeline committed transactions: {}", describe(&outcome));
        assert!(
            crashed.iter().any(|e| e.contains("crashed")),
            "seed {seed}: a crash struck inside a transaction: {crashed:?}"
        );
    }
}

#[test]
fn a_zombie_pipeline_instance_duplicates_without_transactions_and_is_fenced_by_its_generation_with_them() {
    let lesson = load("pipeline-zombie");
    for &seed in &lesson.seeds[..2] {
        let outcome = run(&lesson, seed);
        assert!(kinds(&outcome).contains(&AnomalyKind::ExactlyOnce), "seed {seed}: {}", describe(&outcome));
        let refused = errors(&outcome, OpFn::Commit, OpType::Fail);
        assert!(refused.iter().any(|e| e == "UNKNOWN_MEMBER_ID"), "seed {seed}: the zombie's commitSync: {refused:?}");
    }
    let twin = load("pipeline-zombie-fenced");
    for &seed in &twin.seeds[..2] {
        let outcome = run(&twin, seed);
        assert!(kinds(&outcome).is_empty(), "seed {seed}: {}", describe(&outcome));
        // KIP-447: the zombie's TxnOffsetCommit carried its old member id; the
        // transaction was aborted.
        let aborted = errors(&outcome, OpFn::Txn, OpType::Fail);
        assert!(
            aborted.iter().any(|e| e.contains("CommitFailedException") && e.contains("UNKNOWN_MEMBER_ID")),
            "seed {seed}: the zombie's transaction was fenced: {aborted:?}"
        );
    }
}

/// How many `dead-letter` ops named each value.
fn dead_lettered(outcome: &RunOutcome) -> BTreeMap<u64, usize> {
    let mut given_up: BTreeMap<u64, usize> = BTreeMap::new();
    for op in outcome.history.ops.iter().filter(|o| o.f == OpFn::DeadLetter && o.kind == OpType::Ok) {
        let OpValue::Records(records) = &op.value else { panic!("a dead-letter op names records: {op:?}") };
        for &(_, value) in records.values().flatten() {
            *given_up.entry(value).or_default() += 1;
        }
    }
    given_up
}

#[test]
fn a_dead_letter_queue_gets_poison_records_twice_at_least_once_and_once_in_transactions() {
    let lesson = load("dead-letter-queue");
    for &seed in &lesson.seeds[..2] {
        let outcome = run(&lesson, seed);
        let found = kinds(&outcome);
        assert!(found.contains(&AnomalyKind::DeadLetterDuplicate), "seed {seed}: {}", describe(&outcome));
        // The duplicates are copies in the dead-letter topic of poison records only.
        for a in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::DeadLetterDuplicate) {
            assert!(a.records[1..].iter().all(|r| r.key.starts_with("orders-dlq-")), "{a:?}");
            assert!(a.records[0].value.is_some_and(|v| v % 7 == 0), "{a:?}");
        }
        // A record given up on is done with: the commits past it skip nothing.
        assert!(!found.contains(&AnomalyKind::ConsumeSkip), "seed {seed}: {}", describe(&outcome));
        assert!(!found.contains(&AnomalyKind::DeadLetterLost), "seed {seed}: {}", describe(&outcome));
        let given_up = dead_lettered(&outcome);
        assert!(given_up.keys().all(|v| v % 7 == 0), "only poison records are dead-lettered: {given_up:?}");
    }
    let twin = load("dead-letter-queue-exactly-once");
    for &seed in &twin.seeds[..2] {
        let outcome = run(&twin, seed);
        assert!(kinds(&outcome).is_empty(), "seed {seed}: {}", describe(&outcome));
        // The fix was put to work: a crash struck inside a transaction, and poison records
        // of an aborted one were given up on again and dead-lettered in a committed one.
        let crashed = errors(&outcome, OpFn::Txn, OpType::Info);
        assert!(crashed.iter().any(|e| e.contains("crashed")), "seed {seed}: {crashed:?}");
        let again = dead_lettered(&outcome).values().filter(|&&n| n > 1).count();
        assert!(again > 0, "seed {seed}: no poison record was dead-lettered twice: {}", describe(&outcome));
    }
}
