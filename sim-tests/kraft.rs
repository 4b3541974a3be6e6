//! KRaft mode end to end: the controller quorum over the simulated network and disks,
//! brokers replicating the metadata log as observers, the lesson
//! `kraft-controller-failover` teaching what it says, and `planted-kraft-quorum` (the
//! target of the Raft planted bugs) doing what its text says when nothing is planted.

use crate::support::{describe, load, run};
use kafkasim::history::{ElectionReason, Event};
use std::collections::BTreeSet;

#[test]
fn kraft_controller_failover_elects_new_quorum_leaders_and_fences_only_the_crashed_broker() {
    let scenario = load("kraft-controller-failover");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace;
        // Two failovers: three leaderships, each in a higher epoch, on different controllers.
        let leaders: Vec<(u32, u32)> = trace
            .iter()
            .filter_map(|e| match e.event {
                Event::QuorumLeader { controller, epoch, .. } => Some((controller, epoch)),
                _ => None,
            })
            .collect();
        assert!(leaders.len() >= 3, "seed {seed}: quorum leaders {leaders:?}");
        assert!(leaders.windows(2).all(|w| w[0].1 < w[1].1 && w[0].0 != w[1].0), "seed {seed}: {leaders:?}");
        // Every controller and every broker applied committed metadata.
        let applied: BTreeSet<&str> =
            trace.iter().filter(|e| matches!(e.event, Event::MetadataApplied { .. })).map(|e| &*e.node).collect();
        for node in ["controller-1", "controller-2", "controller-3", "broker-1", "broker-2", "broker-3"] {
            assert!(applied.contains(node), "seed {seed}: {node} applied nothing");
        }
        // Only the crashed broker ever leaves an ISR: the others kept their sessions with
        // each new active controller.
        for event in trace {
            let (Event::IsrChange { isr, .. } | Event::LeaderElection { isr, .. }) = &event.event else { continue };
            if isr.len() < 3 {
                assert!(!isr.contains(&2) && isr.len() == 2, "seed {seed}: ISR {isr:?} at {} ns", event.time_ns);
            }
        }
        let fenced_elections = trace
            .iter()
            .filter(|e| matches!(e.event, Event::LeaderElection { reason: ElectionReason::BrokerFailure, .. }))
            .count();
        assert!(fenced_elections >= 1, "seed {seed}: broker-2's leadership moved when its session expired");
    }
}

#[test]
fn a_kraft_run_is_deterministic_and_runs_no_metastore() {
    let kraft = load("kraft-controller-failover");
    let seed = kraft.seeds[0];
    let (first, second) = (run(&kraft, seed), run(&kraft, seed));
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.history, second.history);
    assert!(first.history.trace.iter().all(|e| &*e.node != "metastore"), "no ZooKeeper in a KRaft run");
}

#[test]
fn planted_kraft_quorum_fails_over_three_times_and_the_cut_off_controller_drops_only_what_it_did_not_commit() {
    let scenario = load("planted-kraft-quorum");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace;
        // The first leader and one after each of the three controller faults, one per epoch.
        let epochs: Vec<u32> = trace
            .iter()
            .filter_map(|e| match e.event {
                Event::QuorumLeader { epoch, .. } => Some(epoch),
                _ => None,
            })
            .collect();
        assert!(epochs.len() >= 4, "seed {seed}: quorum leaders in epochs {epochs:?}");
        assert!(epochs.windows(2).all(|w| w[0] < w[1]), "seed {seed}: {epochs:?}");
        // The cut-off controller wrote entries it could not commit and truncates them when it
        // follows the new leader: down to its high watermark, not below.
        let dropped_uncommitted = trace.iter().any(|e| {
            matches!(e.event, Event::QuorumTruncate { to_offset, high_watermark, .. }
                if high_watermark > 0 && to_offset == high_watermark)
        });
        assert!(dropped_uncommitted, "seed {seed}: no controller truncated its uncommitted entries");
    }
}
