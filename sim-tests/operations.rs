//! Operations a real cluster runs: a clean `stop` with controlled shutdown hands
//! leadership over before the broker exits (a crash leaves it to the session timeout),
//! the controller's leader rebalance gives leadership back to the preferred replica, and
//! a `rolling-restart` with acks=all loses nothing.

use crate::support::{describe, load, run};
use kafkasim::fault::FaultKind;
use kafkasim::history::{ElectionReason, Event, TraceEvent};
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::{self, Scenario};
use std::path::Path;

const MS: u64 = 1_000_000;
const SESSION_TIMEOUT_MS: u64 = 2_000;

/// One topic `orders` (1 partition, RF 3), one async acks=all producer and a consumer,
/// `config` added to `[cluster.config]`, then `faults`, in a ZooKeeper cluster (Kafka 3.9,
/// the last release with one).
fn scenario_with(config: &str, faults: &str) -> Scenario {
    let text = format!(
        "kafka_version = \"3.9\"\nseeds = [1]\nduration = \"12s\"\n[cluster]\nbrokers = 3\n[cluster.config]\n\
         \"zookeeper.session.timeout.ms\" = {SESSION_TIMEOUT_MS}\n\"min.insync.replicas\" = 2\n{config}\n\
         [[topics]]\nname = \"orders\"\n\"replication.factor\" = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 100\nsend = \"async\"\n\
         [producers.config]\nacks = \"all\"\n\"request.timeout.ms\" = 2000\n\
         [[consumers]]\ntopic = \"orders\"\n[consumers.config]\n\"auto.offset.reset\" = \"earliest\"\n{faults}"
    );
    scenario::parse(&text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn trace(outcome: &RunOutcome) -> Vec<TraceEvent> {
    outcome.history.trace.to_vec()
}

/// The first `fault` event of `kind`: its time and its targets.
fn fault(outcome: &RunOutcome, kind: FaultKind) -> (u64, Vec<String>) {
    trace(outcome)
        .iter()
        .find_map(|e| match &e.event {
            Event::Fault { kind: k, targets, .. } if *k == kind => Some((e.time_ns, targets.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} fault: {}", describe(outcome)))
}

/// The elections of `tp` after `after_ns`: time, leader, reason.
fn elections(outcome: &RunOutcome, tp: &str, after_ns: u64) -> Vec<(u64, Option<u32>, ElectionReason)> {
    trace(outcome)
        .iter()
        .filter(|e| e.time_ns > after_ns)
        .filter_map(|e| match &e.event {
            Event::LeaderElection { tp: t, leader, reason, .. } if &**t == tp => Some((e.time_ns, *leader, *reason)),
            _ => None,
        })
        .collect()
}

/// When `broker` started again after `after_ns`.
fn restarted_at(outcome: &RunOutcome, broker: u32, after_ns: u64) -> u64 {
    trace(outcome)
        .iter()
        .find(|e| e.time_ns > after_ns && matches!(e.event, Event::BrokerStarted { broker: b } if b == broker))
        .map(|e| e.time_ns)
        .unwrap_or_else(|| panic!("broker-{broker} never restarted: {}", describe(outcome)))
}

/// Whether `broker` itself stepped down as leader of `tp` (became its follower) between
/// the two times.
fn stepped_down(outcome: &RunOutcome, broker: u32, tp: &str, from_ns: u64, to_ns: u64) -> bool {
    trace(outcome)
        .iter()
        .filter(|e| e.time_ns > from_ns && e.time_ns < to_ns)
        .any(|e| matches!(&e.event, Event::BecomeFollower { tp: t, broker: b, .. } if &**t == tp && *b == broker))
}

fn broker_id(name: &str) -> u32 {
    name.strip_prefix("broker-").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not a broker: {name}"))
}

#[test]
fn a_controlled_stop_moves_leadership_before_the_broker_exits_and_a_crash_does_not() {
    // Not seeds 1 and 3: there the stopping broker exits before its own LeaderAndIsr
    // reaches it (the ControlledShutdown answer and the LeaderAndIsr travel separately,
    // in Kafka too), so it never logs stepping down.
    for seed in [2, 4, 5] {
        let stop = "[[faults]]\nat = \"5s\"\nkind = \"stop\"\ntarget = \"the leader of orders-0\"\nduration = \"3s\"\n";
        let stopped = run(&scenario_with("", stop), seed);
        assert!(stopped.anomalies.is_empty(), "{}", describe(&stopped));
        let (at, targets) = fault(&stopped, FaultKind::Stop);
        let old = broker_id(&targets[0]);
        let back = restarted_at(&stopped, old, at);
        let moved = elections(&stopped, "orders-0", at);
        let (moved_at, leader, reason) = moved[0];
        // The controller moved the leadership at the broker's request, to another
        // replica, and the old leader stepped down itself before its process went away.
        assert_eq!(reason, ElectionReason::ControlledShutdown, "seed {seed}: {moved:?}");
        assert!(leader.is_some_and(|l| l != old), "seed {seed}: {moved:?}");
        assert!(stepped_down(&stopped, old, "orders-0", at, back), "seed {seed}: broker-{old} never stepped down");
        // The partition had a leader all along: the move is one controller round trip,
        // well before the broker's session could have expired.
        assert!(
            moved_at - at < SESSION_TIMEOUT_MS * MS / 2,
            "seed {seed}: moved {} ms after the stop",
            (moved_at - at) / MS
        );
        assert!(stopped.unavailability.is_empty(), "seed {seed}: {:?}", stopped.unavailability);

        let crash = stop.replace("\"stop\"", "\"crash\"");
        let crashed = run(&scenario_with("", &crash), seed);
        let (at, targets) = fault(&crashed, FaultKind::Crash);
        let old = broker_id(&targets[0]);
        let back = restarted_at(&crashed, old, at);
        let (moved_at, leader, reason) = elections(&crashed, "orders-0", at)[0];
        // A crashed leader says nothing: the controller moves the leadership only once
        // the broker's metastore session expired, a session timeout after its last
        // heartbeat (heartbeats go out three times per session timeout).
        // (When the crashed leader was also the controller, the next controller elects
        // on taking office.)
        assert!(
            matches!(reason, ElectionReason::BrokerFailure | ElectionReason::ControllerFailover),
            "seed {seed}: {reason}"
        );
        assert!(leader.is_some_and(|l| l != old));
        assert!(!stepped_down(&crashed, old, "orders-0", at, back), "seed {seed}: a crashed broker stepped down");
        assert!(moved_at - at >= SESSION_TIMEOUT_MS * MS * 2 / 3, "seed {seed}: moved before the session expired");
    }
}

#[test]
fn without_controlled_shutdown_a_stop_closes_the_session_and_the_controller_moves_leadership_at_once() {
    let stop = "[[faults]]\nat = \"5s\"\nkind = \"stop\"\ntarget = \"the leader of orders-0\"\nduration = \"3s\"\n";
    let outcome = run(&scenario_with("\"controlled.shutdown.enable\" = false", stop), 1);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
    let (at, targets) = fault(&outcome, FaultKind::Stop);
    let old = broker_id(&targets[0]);
    let (moved_at, leader, reason) = elections(&outcome, "orders-0", at)[0];
    // No ControlledShutdown: the controller learns of the stop when the broker's session
    // ends, which a clean shutdown does at once rather than after the session timeout.
    assert_eq!(reason, ElectionReason::BrokerFailure);
    assert!(leader.is_some_and(|l| l != old));
    assert!(moved_at - at < SESSION_TIMEOUT_MS * MS / 2, "moved {} ms after the stop", (moved_at - at) / MS);
    assert!(!stepped_down(&outcome, old, "orders-0", at, restarted_at(&outcome, old, at)));
}

#[test]
fn the_leader_rebalance_returns_leadership_to_the_preferred_replica_once_it_is_back_in_the_isr() {
    let crash = "[[faults]]\nat = \"3s\"\nkind = \"crash\"\ntarget = \"broker-1\"\nduration = \"1s\"\n";
    // broker-1 is the preferred replica of orders-0 (first in its assignment).
    let lowered = run(&scenario_with("\"leader.imbalance.check.interval.seconds\" = 2", crash), 1);
    assert!(lowered.anomalies.is_empty(), "{}", describe(&lowered));
    let (at, _) = fault(&lowered, FaultKind::Crash);
    let found = elections(&lowered, "orders-0", at);
    let away = found.iter().position(|(_, l, _)| *l != Some(1)).expect("leadership left broker-1");
    let back = found[away..].iter().find(|(_, l, _)| *l == Some(1)).unwrap_or_else(|| panic!("{found:?}"));
    assert_eq!(back.2, ElectionReason::PreferredReplica, "{found:?}");
    // With the rebalance off, leadership stays where the failure put it.
    let off = run(&scenario_with("\"auto.leader.rebalance.enable\" = false", crash), 1);
    let found = elections(&off, "orders-0", at);
    assert!(found.iter().all(|(_, _, r)| *r != ElectionReason::PreferredReplica), "{found:?}");
    assert!(found.last().is_some_and(|(_, l, _)| *l != Some(1)), "{found:?}");
}

#[test]
fn a_rolling_restart_with_acks_all_and_controlled_shutdown_loses_nothing() {
    let scenario = load("rolling-restart");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        assert!(outcome.stats.consumed >= outcome.stats.acked, "{}", describe(&outcome));
        // Every broker was stopped and restarted, the controller last, and every
        // leadership moved by controlled shutdown, never by a failure.
        let restarts: Vec<Vec<String>> = trace(&outcome)
            .into_iter()
            .filter_map(|e| match e.event {
                Event::FaultEnded { kind: FaultKind::Stop, targets, .. } => Some(targets),
                _ => None,
            })
            .collect();
        assert_eq!(restarts.len(), 3, "seed {seed}: {restarts:?}");
        let controller_at_start = trace(&outcome)
            .iter()
            .filter_map(|e| match e.event {
                Event::ControllerElected { broker, .. } => Some(broker),
                _ => None,
            })
            .next()
            .expect("a controller");
        assert_eq!(restarts[2][0], format!("broker-{controller_at_start}"), "seed {seed}: the controller goes last");
        let (at, _) = fault(&outcome, FaultKind::RollingRestart);
        for tp in ["orders-0", "orders-1", "orders-2"] {
            let found = elections(&outcome, tp, at);
            assert!(
                found.iter().any(|(_, _, r)| *r == ElectionReason::ControlledShutdown),
                "seed {seed} {tp}: {found:?}"
            );
            assert!(found.iter().all(|(_, _, r)| *r != ElectionReason::BrokerFailure), "seed {seed} {tp}: {found:?}");
        }
        assert!(outcome.unavailability.is_empty(), "seed {seed}: {:?}", outcome.unavailability);
    }
}

#[test]
fn a_rolling_restart_with_acks1_loses_acknowledged_writes_in_every_listed_seed() {
    let scenario = load("rolling-restart-acks1");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(
            outcome.anomalies.iter().any(|a| a.kind == kafkasim::check::AnomalyKind::LostWrite),
            "seed {seed}: {}",
            describe(&outcome)
        );
        assert_eq!(outcome.verdict(&scenario).status(), kafkasim::runner::Status::Pass, "{}", describe(&outcome));
    }
}
