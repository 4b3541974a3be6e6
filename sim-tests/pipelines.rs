//! Consume-transform-produce pipelines (`[[pipelines]]`) on their catalog lessons: the
//! at-least-once pipeline duplicates its output after a crash and after a zombie's
//! stall; the exactly-once pipeline, same faults, forwards every input record once.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{OpFn, OpType};
use kafkasim::runner::RunOutcome;

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
