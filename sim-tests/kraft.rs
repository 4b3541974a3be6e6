//! KRaft mode end to end: the controller quorum over the simulated network and disks,
//! brokers replicating the metadata log as observers, the lessons
//! `kraft-controller-failover`, `kraft-quorum-loss`, `kraft-partitioned-controller`
//! (with `-pre-vote`) and `kip966-last-replica-standing` (with `-fixed`) teaching what
//! they say, and `planted-kraft-quorum` (the target of the Raft planted bugs) doing what
//! its text says when nothing is planted.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::fault::FaultKind;
use kafkasim::history::{ElectionReason, Event};
use std::collections::BTreeSet;

#[test]
fn kraft_controller_failover_elects_new_quorum_leaders_and_fences_only_the_crashed_broker() {
    let scenario = load("kraft-controller-failover");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace.to_vec();
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

/// The broker that lost power, and every leader orders-0 got after that.
fn power_lost_broker_and_later_leaders(outcome: &kafkasim::runner::RunOutcome) -> (u32, Vec<Option<u32>>) {
    let trace = &outcome.history.trace;
    let (at, broker) = trace
        .iter()
        .find_map(|e| match &e.event {
            Event::Fault { kind: FaultKind::PowerLoss, targets, .. } => {
                Some((e.time_ns, targets[0].trim_start_matches("broker-").parse::<u32>().unwrap()))
            }
            _ => None,
        })
        .expect("the leader loses power");
    let leaders = trace
        .iter()
        .filter(|e| e.time_ns > at)
        .filter_map(|e| match &e.event {
            Event::LeaderElection { tp, leader, .. } if &**tp == "orders-0" => Some(*leader),
            _ => None,
        })
        .collect();
    (broker, leaders)
}

#[test]
fn kip966_the_last_replica_standing_is_elected_again_in_4_0_and_an_eligible_follower_in_4_1() {
    let old = load("kip966-last-replica-standing");
    for &seed in &old.seeds {
        let outcome = run(&old, seed);
        assert!(kinds(&outcome).contains(&AnomalyKind::LostWrite), "{}", describe(&outcome));
        let (lost_power, leaders) = power_lost_broker_and_later_leaders(&outcome);
        // Fenced, then elected again from the ISR it never left, with an empty log.
        assert_eq!(leaders.iter().flatten().next(), Some(&lost_power), "seed {seed}: {leaders:?}");
    }
    let fixed = load("kip966-last-replica-standing-fixed");
    for &seed in &fixed.seeds {
        let outcome = run(&fixed, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let (lost_power, leaders) = power_lost_broker_and_later_leaders(&outcome);
        // No leader until a follower from the ELR returns.
        let first = leaders.iter().flatten().next();
        assert!(first.is_some_and(|&l| l != lost_power), "seed {seed}: {leaders:?}");
    }
}

#[test]
fn kraft_quorum_loss_freezes_the_metadata_until_a_majority_of_controllers_returns() {
    let scenario = load("kraft-quorum-loss");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace;
        let broker_crash = trace
            .iter()
            .find(|e| matches!(&e.event, Event::Fault { kind: FaultKind::Crash, targets, .. } if targets[0].starts_with("broker-")))
            .expect("a broker crashes")
            .time_ns;
        let quorum_back = trace
            .iter()
            .find(|e| e.time_ns > broker_crash && matches!(e.event, Event::QuorumLeader { .. }))
            .expect("the quorum elects a leader once the controllers return")
            .time_ns;
        // Between the broker's crash and the quorum's return nothing changes: no election,
        // no ISR change, however long the partitions wait.
        let changes: Vec<u64> = trace
            .iter()
            .filter(|e| (broker_crash..quorum_back).contains(&e.time_ns))
            .filter(|e| matches!(e.event, Event::LeaderElection { .. } | Event::IsrChange { .. }))
            .map(|e| e.time_ns)
            .collect();
        assert!(changes.is_empty(), "seed {seed}: metadata changed without a quorum at {changes:?}");
        // Then the crashed leader's partition gets a new leader, from its ISR.
        let elected = trace.iter().find(|e| {
            e.time_ns > quorum_back
                && matches!(&e.event, Event::LeaderElection { tp, leader: Some(_), unclean: false, .. } if &**tp == "orders-0")
        });
        assert!(elected.is_some(), "seed {seed}: orders-0 got a leader after the quorum returned");
    }
}

/// The epochs of the quorum leaderships traced from `from_ns` on, in trace order.
fn quorum_leader_epochs(outcome: &kafkasim::runner::RunOutcome, from_ns: u64) -> Vec<u32> {
    let trace = outcome.history.trace.iter().filter(|e| e.time_ns >= from_ns);
    trace
        .filter_map(|e| match e.event {
            Event::QuorumLeader { epoch, .. } => Some(epoch),
            _ => None,
        })
        .collect()
}

/// The epochs of the quorum leaders elected after the first partition healed.
fn quorum_leaders_after_heal(outcome: &kafkasim::runner::RunOutcome) -> Vec<u32> {
    let healed = outcome
        .history
        .trace
        .iter()
        .find(|e| matches!(e.event, Event::FaultEnded { kind: FaultKind::Partition, .. }))
        .expect("the partition heals")
        .time_ns;
    quorum_leader_epochs(outcome, healed + 1)
}

#[test]
fn a_returning_partitioned_controller_unseats_the_leader_without_pre_vote_and_not_with_it() {
    let without = load("kraft-partitioned-controller");
    let with = load("kraft-partitioned-controller-pre-vote");
    for &seed in &without.seeds {
        let outcome = run(&without, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let epochs = quorum_leaders_after_heal(&outcome);
        // The candidate's epochs climbed while it was cut off: the new leadership is
        // several epochs above the first.
        assert!(epochs.first().is_some_and(|&e| e > 2), "seed {seed}: leaders after the heal in epochs {epochs:?}");
    }
    for &seed in &with.seeds {
        let outcome = run(&with, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        assert_eq!(quorum_leaders_after_heal(&outcome), Vec::<u32>::new(), "seed {seed}: the leader stays");
        assert_eq!(quorum_leader_epochs(&outcome, 0), vec![1], "seed {seed}: one leadership, in the first epoch");
    }
}

#[test]
fn planted_kraft_quorum_fails_over_three_times_and_the_cut_off_controller_drops_only_what_it_did_not_commit() {
    let scenario = load("planted-kraft-quorum");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let trace = &outcome.history.trace;
        // The first leader and one after each of the three controller faults, one per epoch.
        let epochs = quorum_leader_epochs(&outcome, 0);
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

/// The one span a partition had no live leader, in milliseconds.
fn leaderless_ms(outcome: &kafkasim::runner::RunOutcome) -> u64 {
    let spans = &outcome.unavailability;
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans[0].until_ms.expect("a new leader is elected") - spans[0].from_ms
}

#[test]
fn a_crashed_leader_is_replaced_after_the_broker_session_in_kraft_and_the_zookeeper_session_in_zookeeper_mode() {
    let zookeeper = load("broker-failure-zookeeper");
    let kraft = load("broker-failure-kraft");
    assert_eq!(
        (zookeeper.cluster.config.clone(), zookeeper.topics.clone()),
        (kraft.cluster.config.clone(), kraft.topics.clone())
    );
    for &seed in &kraft.seeds {
        let (zk, kr) = (run(&zookeeper, seed), run(&kraft, seed));
        assert!(zk.anomalies.is_empty() && kr.anomalies.is_empty(), "{}\n{}", describe(&zk), describe(&kr));
        // ZooKeeper: the 18 s session after the broker's last ping, a third of it apart.
        let zk_ms = leaderless_ms(&zk);
        assert!((12_000..=18_500).contains(&zk_ms), "seed {seed}: {zk_ms} ms without a leader in ZooKeeper mode");
        // KRaft: the 9 s broker session after the last heartbeat, 2 s apart.
        let kraft_ms = leaderless_ms(&kr);
        assert!((7_000..=9_500).contains(&kraft_ms), "seed {seed}: {kraft_ms} ms without a leader in KRaft mode");
    }
}

#[test]
fn a_stopped_active_controller_resigns_and_another_leads_at_once() {
    // kraft-controller-failover with its first fault a clean stop instead of a crash.
    let path = crate::support::scenario_path("kraft-controller-failover");
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "kind = \"crash\"\ntarget = \"the active controller\"",
        "kind = \"stop\"\ntarget = \"the active controller\"",
        1,
    );
    assert!(text.contains("kind = \"stop\""), "the file's first fault crashes the active controller");
    // Without pre-vote (3.9) the first preferred successor stands at once and wins. With
    // pre-vote (4.x) the other follower, which has fetched from the resigned leader,
    // refuses its pre-vote (`FollowerState.canGrantVote`), so the second successor wins
    // once its strict backoff (half of election.backoff.max.ms's 1000 ms) runs out.
    for (pre_vote, window_ms) in [("false", 0..500), ("true", 500..1_000)] {
        let text = text.replacen("[cluster]\n", &format!("[cluster]\npre_vote = {pre_vote}\n"), 1);
        assert!(text.contains(&format!("pre_vote = {pre_vote}")), "the file has a [cluster] table");
        stopped_leader_is_replaced_within(&kafkasim::scenario::parse(&text, &path).unwrap(), window_ms);
    }
}

/// When the first fault of `kind` fired (simulated nanoseconds) and its targets.
fn first_fault(outcome: &kafkasim::runner::RunOutcome, kind: FaultKind) -> (u64, Vec<String>) {
    outcome
        .history
        .trace
        .iter()
        .find_map(|e| match &e.event {
            Event::Fault { kind: k, targets, .. } if *k == kind => Some((e.time_ns, targets.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind:?} fault fired"))
}

/// Runs every seed of `scenario` (whose first fault stops the active controller) and
/// checks that a new quorum leader comes within `window_ms` of the stop.
fn stopped_leader_is_replaced_within(scenario: &kafkasim::scenario::Scenario, window_ms: std::ops::Range<u64>) {
    for &seed in &scenario.seeds {
        let outcome = run(scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let (stopped, _) = first_fault(&outcome, FaultKind::Stop);
        // EndQuorumEpoch makes a successor stand well inside the 2 s fetch timeout a crash
        // would make the followers wait out.
        let next = quorum_leader_epochs(&outcome, stopped);
        let elected = outcome
            .history
            .trace
            .iter()
            .find(|e| e.time_ns >= stopped && matches!(e.event, Event::QuorumLeader { .. }));
        let after_ms = elected.map(|e| (e.time_ns - stopped) / 1_000_000);
        assert!(
            after_ms.is_some_and(|ms| window_ms.contains(&ms)),
            "seed {seed}: new leader {after_ms:?} ms after the stop, expected within {window_ms:?} ({next:?})"
        );
    }
}

#[test]
fn in_combined_mode_the_active_controllers_machine_takes_its_broker_and_its_partitions_wait_for_two_failovers() {
    let combined = load("kraft-combined-mode");
    assert!(combined.cluster.combined);
    let mut dedicated = combined.clone();
    dedicated.cluster.combined = false;
    for &seed in &combined.seeds {
        let outcome = run(&combined, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let (_, crash) = first_fault(&outcome, FaultKind::Crash);
        assert_eq!(crash.len(), 2, "seed {seed}: one machine, a controller and its broker: {crash:?}");
        assert_eq!(crash[0].strip_prefix("controller-"), crash[1].strip_prefix("broker-"), "seed {seed}: {crash:?}");
        // The quorum's fetch timeout (2 s), an election (two rounds when the first
        // splits the vote: seeds 3 and 4 elect in epoch 3, 3.3 s after the crash), then a
        // whole fresh broker session (9 s).
        let without_leader_ms = leaderless_ms(&outcome);
        assert!((10_500..=13_500).contains(&without_leader_ms), "seed {seed}: {without_leader_ms} ms");
        // With dedicated controllers the same fault hits no broker.
        let outcome = run(&dedicated, seed);
        assert!(outcome.anomalies.is_empty() && outcome.unavailability.is_empty(), "{}", describe(&outcome));
    }
}
