//! The fault catalog's scenarios teach what they claim: page-cache loss, an isolated
//! leader, fast leader changes (KIP-279), a zombie controller, and a network that
//! reorders or duplicates messages, each next to the configuration that prevents it.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::fault::FaultKind;
use kafkasim::history::{Event, OpFn, OpType, OpValue};
use kafkasim::runner::Status;

/// Runs every seed of `name`, checks its expectations, and returns the kinds per seed.
fn run_all(name: &str) -> Vec<(kafkasim::runner::RunOutcome, Vec<AnomalyKind>)> {
    let scenario = load(name);
    scenario
        .seeds
        .iter()
        .map(|&seed| {
            let outcome = run(&scenario, seed);
            assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
            let found = kinds(&outcome);
            (outcome, found)
        })
        .collect()
}

#[test]
fn a_correlated_power_loss_loses_acknowledged_writes_unless_every_record_is_flushed() {
    for (outcome, found) in run_all("page-cache-loss") {
        assert!(found.contains(&AnomalyKind::LostWrite), "{}", describe(&outcome));
        // The idempotent producer recovers from leaders that lost its state with the
        // power (UNKNOWN_PRODUCER_ID, epoch bump, KIP-360): it keeps producing, every
        // send is acknowledged, and nothing is written twice.
        assert!(!found.contains(&AnomalyKind::Duplicate), "{}", describe(&outcome));
        assert_eq!(outcome.stats.acked, outcome.stats.sent, "{}", describe(&outcome));
        let power_lost_ns = outcome
            .history
            .trace
            .iter()
            .filter(|e| matches!(&e.event, Event::Fault { kind, .. } if *kind == FaultKind::PowerLoss))
            .map(|e| e.time_ns)
            .next()
            .expect("the power loss fired");
        let acked_after = outcome
            .history
            .ops
            .iter()
            .filter(|op| op.f == OpFn::Send && op.kind == OpType::Ok && op.time_ns > power_lost_ns)
            .map(|op| match &op.value {
                OpValue::Txn(sends) => sends.len(),
                _ => 0,
            })
            .sum::<usize>();
        assert!(acked_after > 1_000, "{acked_after} sends acknowledged after the power loss: {}", describe(&outcome));
    }
    for (outcome, found) in run_all("page-cache-loss-flushed") {
        assert!(found.is_empty(), "{}", describe(&outcome));
        assert!(outcome.stats.acked > 1_000, "{}", describe(&outcome));
        assert!(outcome.stats.consumed >= outcome.stats.acked, "{}", describe(&outcome));
    }
}

#[test]
fn an_isolated_leader_loses_acks1_writes_and_cannot_acknowledge_acks_all_writes() {
    for (outcome, found) in run_all("isolated-leader") {
        assert!(found.contains(&AnomalyKind::LostWrite), "{}", describe(&outcome));
    }
    for (outcome, found) in run_all("isolated-leader-acks-all") {
        assert!(found.is_empty(), "{}", describe(&outcome));
        // Nothing acknowledged is lost; the producer's retries reach the new leader.
        assert!(outcome.stats.acked > 0, "{}", describe(&outcome));
    }
}

#[test]
fn fast_leader_changes_make_legacy_replicas_diverge_and_leader_epochs_do_not() {
    for (outcome, found) in run_all("kip279-fast-leader-changes") {
        assert!(found.contains(&AnomalyKind::ReplicaDivergence), "{}", describe(&outcome));
        assert!(found.contains(&AnomalyKind::InconsistentOffsets), "{}", describe(&outcome));
    }
    for (outcome, found) in run_all("kip279-leader-epoch") {
        assert!(!found.contains(&AnomalyKind::ReplicaDivergence), "{}", describe(&outcome));
        assert!(!found.contains(&AnomalyKind::InconsistentOffsets), "{}", describe(&outcome));
        let elections = outcome.history.trace.iter().filter(|e| matches!(e.event, Event::LeaderElection { .. }));
        assert!(elections.count() >= 4, "several leader changes");
    }
}

#[test]
fn a_zombie_controller_is_fenced_by_the_controller_epoch() {
    for (outcome, found) in run_all("zombie-controller") {
        assert!(found.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace;
        let newest = trace
            .iter()
            .filter_map(|e| match e.event {
                Event::ControllerElected { controller_epoch, .. } => Some(controller_epoch),
                _ => None,
            })
            .max()
            .unwrap();
        assert!(newest >= 2, "a new controller was elected");
        let fenced = trace.iter().find_map(|e| match e.event {
            Event::StaleControllerFenced { controller_epoch, known_epoch, .. } => Some((controller_epoch, known_epoch)),
            _ => None,
        });
        let (stale, known) = fenced.unwrap_or_else(|| panic!("no broker fenced the zombie: {}", describe(&outcome)));
        assert!(stale < known, "{stale} < {known}");
    }
}

#[test]
fn reordering_and_duplication_hurt_a_non_idempotent_producer_only() {
    for (outcome, found) in run_all("network-reorder") {
        assert!(found.contains(&AnomalyKind::NonmonotonicSend), "{}", describe(&outcome));
    }
    for (outcome, found) in run_all("network-duplicate") {
        assert!(found.contains(&AnomalyKind::Duplicate), "{}", describe(&outcome));
    }
    for name in ["network-reorder-idempotent", "network-duplicate-idempotent"] {
        for (outcome, found) in run_all(name) {
            assert!(found.is_empty(), "{}", describe(&outcome));
            assert_eq!(outcome.stats.consumed, outcome.stats.acked, "{}", describe(&outcome));
        }
    }
}
