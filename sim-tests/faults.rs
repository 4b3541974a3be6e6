//! The nemesis's faults do what the scenario says, seen from the recorded trace and
//! history: crashing the controller moves the controller, a partition between a follower
//! and its leader shrinks and then re-expands the ISR, packet loss and latency slow the
//! cluster down without breaking it, restarting "crashed" restarts every crashed node,
//! and isolating the metastore expires the brokers' sessions.
//!
//! Each scenario is written inline and runs a few simulated seconds.

use crate::support::{describe, run};
use kafkasim::fault::FaultKind;
use kafkasim::history::{Event, OpFn, OpType, RunPhase, TraceEvent};
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::{self, Scenario};
use std::collections::BTreeMap;
use std::path::Path;

const MS: u64 = 1_000_000;

/// The cluster every test uses: three brokers, one topic `t` with three partitions
/// replicated three times, short timeouts, and a producer configured so that no fault
/// can make it lose, duplicate or reorder a write (acks=all, min.insync.replicas=2, no
/// retries, one request in flight). `extra_config` adds `[cluster.config]` lines;
/// `rest` adds tables such as `[[faults]]`. A ZooKeeper cluster: Kafka 3.9, the last
/// release with one.
fn scenario(duration: &str, extra_config: &str, producer: &str, rest: &str) -> Scenario {
    let text = format!(
        r#"
        kafka_version = "3.9"
        seeds = [1, 2, 3]
        duration = "{duration}"
        liveness_timeout = "20s"

        [metastore]
        tickTime = 500
        [cluster]
        brokers = 3

        [cluster.config]
        "min.insync.replicas" = 2
        "zookeeper.session.timeout.ms" = 1000
        {extra_config}

        [network]
        latency_min = "1ms"
        latency_max = "5ms"

        [[topics]]
        name = "t"
        partitions = 3
        "replication.factor" = 3

        [[producers]]
        topic = "t"
        {producer}

        [producers.config]
        acks = "all"
        "enable.idempotence" = false
        retries = 0
        "max.in.flight.requests.per.connection" = 1
        "request.timeout.ms" = 3000
        "delivery.timeout.ms" = 3000

        [[consumers]]
        topic = "t"

        [consumers.config]
        "auto.offset.reset" = "earliest"

        {rest}

        [expect]
        absent = ["*"]
        "#
    );
    scenario::parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"))
}

const ASYNC_PRODUCER: &str = r#"rate_per_sec = 100
        send = "async""#;

/// The broker id in a node name such as `broker-2`.
fn broker_id(name: &str) -> u32 {
    name.strip_prefix("broker-").and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("not a broker: {name}"))
}

fn trace(outcome: &RunOutcome) -> Vec<TraceEvent> {
    outcome.history.trace.to_vec()
}

/// The time of the start of the liveness phase (every fault healed), in nanoseconds.
fn liveness_start_ns(outcome: &RunOutcome) -> u64 {
    trace(outcome)
        .iter()
        .find(|e| matches!(&e.event, Event::Phase { name } if *name == RunPhase::Liveness))
        .map(|e| e.time_ns)
        .unwrap_or_else(|| panic!("no liveness phase: {}", describe(outcome)))
}

/// The start of the safety phase (when faults' times begin), in nanoseconds.
fn safety_start_ns(outcome: &RunOutcome) -> u64 {
    trace(outcome)
        .iter()
        .find(|e| matches!(&e.event, Event::Phase { name } if *name == RunPhase::Safety))
        .map(|e| e.time_ns)
        .unwrap_or_else(|| panic!("no safety phase: {}", describe(outcome)))
}

/// The faults of this kind the nemesis fired, as (time, targets).
fn faults(outcome: &RunOutcome, kind: FaultKind) -> Vec<(u64, Vec<String>)> {
    trace(outcome)
        .iter()
        .filter_map(|e| match &e.event {
            Event::Fault { kind: k, targets, .. } if *k == kind => Some((e.time_ns, targets.clone())),
            _ => None,
        })
        .collect()
}

/// When faults of this kind ended, and for whom.
fn ended(outcome: &RunOutcome, kind: FaultKind) -> Vec<(u64, Vec<String>)> {
    trace(outcome)
        .iter()
        .filter_map(|e| match &e.event {
            Event::FaultEnded { kind: k, targets, .. } if *k == kind => Some((e.time_ns, targets.clone())),
            _ => None,
        })
        .collect()
}

/// The one fault of this kind fired during the safety phase.
fn the_fault(outcome: &RunOutcome, kind: FaultKind) -> (u64, Vec<String>) {
    let end = liveness_start_ns(outcome);
    let fired: Vec<_> = faults(outcome, kind).into_iter().filter(|(at, _)| *at < end).collect();
    assert_eq!(fired.len(), 1, "expected one {kind} fault: {fired:?}; {}", describe(outcome));
    fired[0].clone()
}

/// Every controller election, as (time, broker, controller epoch).
fn controller_elections(outcome: &RunOutcome) -> Vec<(u64, u32, u64)> {
    trace(outcome)
        .iter()
        .filter_map(|e| match e.event {
            Event::ControllerElected { broker, controller_epoch } => Some((e.time_ns, broker, controller_epoch)),
            _ => None,
        })
        .collect()
}

/// Every ISR the controller recorded for a partition (elections and ISR changes), as
/// (time, leader, ISR).
fn isr_history(outcome: &RunOutcome, partition: &str) -> Vec<(u64, Option<u32>, Vec<u32>)> {
    trace(outcome)
        .iter()
        .filter_map(|e| match &e.event {
            Event::LeaderElection { tp, leader, isr, .. } | Event::IsrChange { tp, leader, isr, .. }
                if &**tp == partition =>
            {
                Some((e.time_ns, *leader, isr.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Asserts that at the end of the run every partition of `t` has a leader and all three
/// replicas in its ISR.
fn assert_fully_replicated(outcome: &RunOutcome) {
    for p in 0..3 {
        let tp = format!("t-{p}");
        let last = isr_history(outcome, &tp).pop().unwrap_or_else(|| panic!("{tp} never had a leader"));
        assert!(last.1.is_some(), "{tp} ends without a leader: {}", describe(outcome));
        let mut isr = last.2.clone();
        isr.sort_unstable();
        assert_eq!(isr, vec![1, 2, 3], "{tp} ends under-replicated: {}", describe(outcome));
    }
}

fn assert_clean(outcome: &RunOutcome) {
    assert!(outcome.panic.is_none(), "{:?}", outcome.panic);
    assert!(outcome.anomalies.is_empty(), "{}", describe(outcome));
}

#[test]
fn crashing_the_controller_elects_another_with_a_higher_epoch_and_elections_go_on() {
    let scenario = scenario(
        "5s",
        "",
        ASYNC_PRODUCER,
        r#"
        [[faults]]
        at = "1s"
        kind = "crash"
        target = "the controller"
        duration = "3s"

        [[faults]]
        at = "2500ms"
        kind = "crash"
        target = "the leader of t-0"
        duration = "2s"
        "#,
    );
    // The second crash lasts longer than a session timeout plus a controller failover:
    // when the leader of t-0 is also the new controller (seed 2), only the third broker
    // can elect anyone, and it learns of the crash no sooner than the session expiry. A
    // 1 s crash lets the crashed broker restart, win the controller race again and keep
    // its leadership, which is correct Kafka behaviour but elects no one.
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let elections = controller_elections(&outcome);
        let crashes = faults(&outcome, FaultKind::Crash);
        let (crashed_at, crashed) = crashes.first().cloned().expect("the controller crashed");
        let old = broker_id(&crashed[0]);
        // The fault hit the controller of the moment.
        let (_, before, old_epoch) =
            *elections.iter().rfind(|(at, _, _)| *at < crashed_at).expect("a controller before the crash");
        assert_eq!(before, old, "seed {seed}: the fault did not target the controller: {elections:?}");
        // Another broker took over, with a higher epoch, within a session timeout or so.
        let &(took_over_at, new, new_epoch) =
            elections.iter().find(|(at, _, _)| *at > crashed_at).expect("a controller after the crash");
        assert_ne!(new, old, "seed {seed}: {elections:?}");
        assert!(new_epoch > old_epoch, "seed {seed}: {elections:?}");
        assert!(took_over_at - crashed_at <= 2_000 * MS, "seed {seed}: took {} ms", (took_over_at - crashed_at) / MS);

        // The new controller moved the old one's partitions to live leaders while the old
        // one was down ...
        let old_back_at = ended(&outcome, FaultKind::Crash)
            .into_iter()
            .find(|(_, back)| *back == crashed)
            .map(|(at, _)| at)
            .expect("the old controller restarts");
        let leaders_after: Vec<(std::sync::Arc<str>, Option<u32>)> = trace(&outcome)
            .iter()
            .filter(|e| e.time_ns > crashed_at && e.time_ns < old_back_at && *e.node == *format!("broker-{new}"))
            .filter_map(|e| match &e.event {
                Event::LeaderElection { tp, leader, .. } => Some((tp.clone(), *leader)),
                _ => None,
            })
            .collect();
        assert!(!leaders_after.is_empty(), "seed {seed}: the new controller elected nothing");
        assert!(leaders_after.iter().all(|(_, l)| *l != Some(old)), "seed {seed}: {leaders_after:?}");
        // ... and still elects a leader when the leader of t-0 crashes later.
        let (second_at, second) = crashes.get(1).expect("the second crash");
        let t0_leader = broker_id(&second[0]);
        let reelected = isr_history(&outcome, "t-0")
            .into_iter()
            .find(|(at, leader, _)| at > second_at && leader.is_some_and(|l| l != t0_leader))
            .unwrap_or_else(|| panic!("seed {seed}: t-0 got no new leader after {second:?} crashed"));
        assert!(reelected.0 - second_at <= 2_000 * MS, "seed {seed}: re-election took too long");
        assert_fully_replicated(&outcome);
    }
}

#[test]
fn cutting_a_follower_off_its_leader_shrinks_the_isr_and_healing_expands_it() {
    // Followers back off 1 s after a failed first fetch at boot; a lag time above that
    // keeps the boot quiet, and the cut starts once every follower fetches.
    const LAG_MS: u64 = 1_500;
    let scenario = scenario(
        "6s",
        &format!("\"replica.lag.time.max.ms\" = {LAG_MS}\n\"replica.fetch.wait.max.ms\" = 100"),
        ASYNC_PRODUCER,
        r#"
        [[faults]]
        at = "2s"
        kind = "partition"
        target = "a follower of t-0"
        peers = "the leader of t-0"
        duration = "2500ms"
        "#,
    );
    let (mut shrunk_in, mut held_in, mut caught_up_in) = (Vec::new(), Vec::new(), Vec::new());
    // Which follower is cut is drawn from the seed; so is the controller. Fourteen
    // seeds, so that a shrink is seen as often as asserted below (with the runs of
    // 2026-12-07 the first ten showed one in seeds 1 and 3 only).
    for seed in 1..=14 {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let (cut_at, cut) = the_fault(&outcome, FaultKind::Partition);
        let follower = broker_id(&cut[0]);
        let history = isr_history(&outcome, "t-0");
        let (_, leader, isr_before) =
            history.iter().rfind(|(at, _, _)| *at < cut_at).cloned().expect("t-0 led before the cut");
        assert_eq!(isr_before.len(), 3, "seed {seed}: the ISR was full before the cut: {history:?}");
        let leader = leader.expect("a leader");
        assert_ne!(leader, follower);
        let healed_at =
            ended(&outcome, FaultKind::Partition).iter().map(|(at, _)| *at).find(|at| *at > cut_at).expect("a heal");
        assert_eq!((healed_at - cut_at) / MS, 2_500, "the partition lasts its duration");
        let controller = controller_elections(&outcome).iter().rfind(|(at, _, _)| *at < cut_at).map(|(_, b, _)| *b);

        let shrink = history.iter().find(|(at, _, isr)| *at > cut_at && !isr.contains(&follower)).cloned();
        // The first record the leader appends to t-0 after the cut: until one arrives, a
        // follower that had fetched everything is at the leader's log end and stays in
        // sync (KAFKA-7152).
        let first_append_at = trace(&outcome)
            .iter()
            .find(|e| {
                e.time_ns > cut_at && matches!(&e.event, Event::Append { tp, as_leader: true, .. } if &**tp == "t-0")
            })
            .map(|e| e.time_ns);
        let first_append_ms = first_append_at.map_or(0, |at| (at - cut_at) / MS);
        // The latest a shrink may come (see below); if that is before the heal, it must.
        let must_shrink =
            first_append_at.is_some_and(|_| cut_at + (LAG_MS.max(first_append_ms) + LAG_MS / 2 + 50) * MS < healed_at);
        if controller == Some(follower) {
            // The leader asks the controller to shrink the ISR, and the controller is the
            // follower it cannot reach: the ISR stays as it was until the heal.
            assert!(shrink.as_ref().is_none_or(|(at, _, _)| *at > healed_at), "seed {seed}: {history:?}");
            held_in.push(seed);
        } else if shrink.as_ref().is_none_or(|(at, _, _)| *at > healed_at) {
            // The workload's acks=all sends to the partition the cut holds up (its leader
            // waits for the follower it cannot reach) held t-0's next record back: the
            // follower stayed at the leader's log end until too late for a shrink.
            assert!(
                !must_shrink,
                "seed {seed}: no shrink, first append {first_append_ms} ms after the cut: {history:?}"
            );
            caught_up_in.push(seed);
        } else {
            // The leader drops the follower once it has not caught up for the lag time.
            let (shrunk_at, shrunk_leader, shrunk_isr) =
                shrink.unwrap_or_else(|| panic!("seed {seed}: the ISR never shrank: {history:?}"));
            shrunk_in.push(seed);
            assert_eq!(shrunk_leader, Some(leader), "seed {seed}: the same leader shrinks its ISR");
            assert_eq!(shrunk_isr.len(), 2, "seed {seed}: only the cut follower leaves: {shrunk_isr:?}");
            let after_ms = (shrunk_at - cut_at) / MS;
            // The follower's last fetch may have been one fetch wait before the cut; the
            // expiry check runs every half lag time. A follower whose last fetch took
            // everything stays in sync while the leader appends nothing more (it is at
            // the leader's log end, KAFKA-7152): the lag counts only once a record
            // arrives after the cut, which the workload's acks=all sends to other
            // partitions may hold up (seed 6).
            assert!(after_ms >= LAG_MS - 100, "seed {seed}: shrank {after_ms} ms after the cut, before the lag time");
            assert!(
                after_ms <= LAG_MS.max(first_append_ms) + LAG_MS / 2 + 50,
                "seed {seed}: shrank only {after_ms} ms after the cut (first append {first_append_ms} ms after it)"
            );
            // Nothing brings it back while the partition lasts.
            assert!(
                !history.iter().any(|(at, _, isr)| *at > shrunk_at && *at < healed_at && isr.contains(&follower)),
                "seed {seed}: {history:?}"
            );

            // After the heal it fetches again, catches up and rejoins the ISR.
            let (back_at, back_leader, _) = history
                .iter()
                .find(|(at, _, isr)| *at > healed_at && isr.contains(&follower))
                .cloned()
                .unwrap_or_else(|| panic!("seed {seed}: the follower never rejoined: {history:?}"));
            assert_eq!(back_leader, Some(leader));
            assert!(back_at < liveness_start_ns(&outcome), "seed {seed}: rejoined only in the liveness phase");
        }
        // Either way the safety phase ends with the follower in the ISR of the same leader.
        let end = liveness_start_ns(&outcome);
        let (_, last_leader, last_isr) = history.iter().rfind(|(at, _, _)| *at < end).cloned().unwrap();
        assert_eq!(last_leader, Some(leader), "seed {seed}: {history:?}");
        assert!(last_isr.contains(&follower), "seed {seed}: {history:?}");
        // The cut concerns two brokers only: the third stays in every ISR.
        let bystander = 6 - leader - follower;
        for tp in ["t-0", "t-1", "t-2"] {
            let during = isr_history(&outcome, tp).into_iter().filter(|(at, _, _)| *at > cut_at);
            assert!(during.into_iter().all(|(_, _, isr)| isr.contains(&bystander)), "seed {seed}: {tp}");
        }
        assert_fully_replicated(&outcome);
    }
    assert!(
        shrunk_in.len() >= 3,
        "too few seeds where the follower was not the controller and lagged: {shrunk_in:?} (caught up in \
         {caught_up_in:?})"
    );
    assert!(!held_in.is_empty(), "no seed cut the controller off the leader");
}

/// One sync send: when it was invoked and how long it took to be acknowledged (`None`:
/// it failed or its outcome is unknown), in nanoseconds.
fn send_latencies(outcome: &RunOutcome) -> Vec<(u64, Option<u64>)> {
    let mut open: BTreeMap<u64, u64> = BTreeMap::new();
    let mut sends = Vec::new();
    for op in outcome.history.ops.iter().filter(|op| op.f == OpFn::Send) {
        match op.kind {
            OpType::Invoke => {
                open.insert(op.process, op.time_ns);
            }
            kind => {
                let invoked = open.remove(&op.process).expect("a completion follows an invocation");
                sends.push((invoked, (kind == OpType::Ok).then(|| op.time_ns - invoked)));
            }
        }
    }
    sends
}

/// The mean latency (ms) and the acknowledged sends per second of sends invoked in
/// `[from_ms, to_ms)`.
fn window(sends: &[(u64, Option<u64>)], from_ms: u64, to_ms: u64) -> (f64, f64) {
    let inside: Vec<u64> =
        sends.iter().filter(|(at, _)| (from_ms * MS..to_ms * MS).contains(at)).filter_map(|(_, l)| *l).collect();
    assert!(!inside.is_empty(), "no acknowledged send in [{from_ms}, {to_ms}) ms");
    let mean_ms = inside.iter().sum::<u64>() as f64 / inside.len() as f64 / MS as f64;
    let per_sec = inside.len() as f64 * 1000.0 / (to_ms - from_ms) as f64;
    (mean_ms, per_sec)
}

#[test]
fn latency_and_packet_loss_slow_delivery_down_without_breaking_anything() {
    let scenario = scenario(
        "7s",
        "",
        r#"rate_per_sec = 200
        send = "sync""#,
        r#"
        [[faults]]
        at = "2s"
        kind = "latency"
        latency_min = "40ms"
        latency_max = "60ms"
        duration = "1500ms"

        [[faults]]
        at = "4500ms"
        kind = "packet-loss"
        rate = 0.2
        duration = "1500ms"
        "#,
    );
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let (latency_at, _) = the_fault(&outcome, FaultKind::Latency);
        let (loss_at, _) = the_fault(&outcome, FaultKind::PacketLoss);
        let start = safety_start_ns(&outcome);
        let restored: Vec<u64> = [FaultKind::Latency, FaultKind::PacketLoss]
            .into_iter()
            .flat_map(|kind| ended(&outcome, kind))
            .map(|(at, _)| (at - start) / MS)
            .collect();
        assert_eq!(((latency_at - start) / MS, (loss_at - start) / MS), (2_000, 4_500), "seed {seed}");
        assert!(restored.contains(&3_500) && restored.contains(&6_000), "seed {seed}: {restored:?}");

        // Windows in ms of the safety phase (followers fetch from about 1 s on), leaving
        // room after each change for the sends in flight.
        let sends: Vec<(u64, Option<u64>)> =
            send_latencies(&outcome).into_iter().map(|(at, l)| (at - start, l)).collect();
        let (base_ms, base_rate) = window(&sends, 1_200, 2_000);
        let (slow_ms, slow_rate) = window(&sends, 2_000, 3_400);
        let (between_ms, between_rate) = window(&sends, 3_700, 4_500);
        let (lossy_ms, lossy_rate) = window(&sends, 4_500, 5_900);
        let summary = format!(
            "seed {seed}: mean ms / acks per s: before {base_ms:.1}/{base_rate:.0}, latency {slow_ms:.1}/{slow_rate:.0}, \
             between {between_ms:.1}/{between_rate:.0}, loss {lossy_ms:.1}/{lossy_rate:.0}"
        );
        // An acks=all produce takes at least two trips (request and answer) of 40 ms and
        // the follower's fetch; outside the faults a trip is at most 5 ms.
        assert!(base_ms < 30.0 && between_ms < 30.0, "{summary}");
        assert!(slow_ms >= 80.0, "{summary}");
        assert!(slow_rate < base_rate / 3.0, "{summary}");
        // A lost packet costs a 200 ms retransmission: fewer sends per second, and slower.
        assert!(lossy_ms > 2.0 * between_ms, "{summary}");
        assert!(lossy_rate < between_rate, "{summary}");
        // The network recovers in between.
        assert!(between_rate > slow_rate * 3.0, "{summary}");
        assert_fully_replicated(&outcome);
        assert!(outcome.stats.acked > 100, "{}", describe(&outcome));
    }
}

#[test]
fn restarting_crashed_restarts_every_crashed_node() {
    let scenario = scenario(
        "4s",
        "",
        ASYNC_PRODUCER,
        r#"
        [[faults]]
        at = "500ms"
        kind = "crash"
        target = "broker-1"

        [[faults]]
        at = "1s"
        kind = "crash"
        target = "broker-3"

        [[faults]]
        at = "2500ms"
        kind = "restart"
        target = "crashed"
        "#,
    );
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let crashed: Vec<String> = faults(&outcome, FaultKind::Crash).into_iter().flat_map(|(_, t)| t).collect();
        assert_eq!(crashed, vec!["broker-1", "broker-3"]);
        let (restart_at, restarted) = the_fault(&outcome, FaultKind::Restart);
        assert_eq!(restarted, vec!["broker-1", "broker-3"], "seed {seed}: every crashed node, and only those");
        assert_eq!((restart_at - safety_start_ns(&outcome)) / MS, 2_500);
        let started = |broker: u32| -> Vec<u64> {
            trace(&outcome)
                .iter()
                .filter(|e| matches!(e.event, Event::BrokerStarted { broker: b } if b == broker))
                .map(|e| e.time_ns)
                .collect()
        };
        for broker in [1, 3] {
            let times = started(broker);
            assert_eq!(times.len(), 2, "seed {seed}: broker-{broker} boots once and restarts once: {times:?}");
            assert_eq!(times[1] / MS, restart_at / MS, "seed {seed}: broker-{broker} restarted by the fault");
        }
        assert_eq!(started(2).len(), 1, "seed {seed}: broker-2 never crashed");
        // The restarted brokers rejoin every ISR before the safety phase ends.
        let rejoined = ["t-0", "t-1", "t-2"]
            .iter()
            .all(|tp| isr_history(&outcome, tp).iter().any(|(at, _, isr)| *at > restart_at && isr.len() == 3));
        assert!(rejoined && liveness_start_ns(&outcome) > restart_at, "seed {seed}");
        assert_fully_replicated(&outcome);
    }
}

#[test]
fn isolating_the_metastore_expires_broker_sessions_and_a_controller_is_elected_after_the_heal() {
    let scenario = scenario(
        "6s",
        "",
        ASYNC_PRODUCER,
        r#"
        [[faults]]
        at = "1s"
        kind = "partition"
        target = "metastore"
        duration = "2s"
        "#,
    );
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let (cut_at, cut) = the_fault(&outcome, FaultKind::Partition);
        assert_eq!(cut, vec!["metastore"]);
        let healed_at =
            ended(&outcome, FaultKind::Partition).iter().map(|(at, _)| *at).find(|at| *at > cut_at).expect("a heal");
        let elections = controller_elections(&outcome);
        let (_, _, epoch_before) =
            *elections.iter().rfind(|(at, _, _)| *at < cut_at).expect("a controller before the cut");
        // No broker can reach the metastore, so no one can be elected while it is cut off.
        assert!(
            !elections.iter().any(|(at, _, _)| *at > cut_at && *at < healed_at),
            "seed {seed}: elected while the metastore was unreachable: {elections:?}"
        );
        // The sessions (1 s) expired during the 2 s cut: the controller's ephemeral node is
        // gone, so a controller is elected again after the heal, with a higher epoch.
        let &(elected_at, _, epoch_after) = elections
            .iter()
            .find(|(at, _, _)| *at > healed_at)
            .unwrap_or_else(|| panic!("seed {seed}: no controller election after the heal: {elections:?}"));
        assert!(epoch_after > epoch_before, "seed {seed}: {elections:?}");
        assert!(elected_at - healed_at <= 1_500 * MS, "seed {seed}: took {} ms", (elected_at - healed_at) / MS);
        assert!(elected_at < liveness_start_ns(&outcome));
        assert_fully_replicated(&outcome);
    }
}

/// Issue 18: `cpu-steal` slows one broker's machine; its request pipeline's samples show
/// its threads busy for as long as the fault lasts, and idle again after.
#[test]
fn cpu_steal_keeps_a_brokers_threads_busy_while_it_lasts() {
    let scenario = scenario(
        "8s",
        "",
        ASYNC_PRODUCER,
        r#"
        [[faults]]
        at = "2s"
        kind = "cpu-steal"
        target = "broker-1"
        factor = 200
        duration = "3s"
        "#,
    );
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_clean(&outcome);
        let (from, slowed) = the_fault(&outcome, FaultKind::CpuSteal);
        assert_eq!(slowed, vec!["broker-1"]);
        let (to, _) = ended(&outcome, FaultKind::CpuSteal)[0].clone();
        assert_eq!((to - from) / MS, 3_000, "the fault lasts its duration");
        // Broker-1's handler utilisation per sample window, before, during and after.
        let busy = |lo: u64, hi: u64| -> Vec<u32> {
            trace(&outcome)
                .iter()
                .filter_map(|e| match e.event {
                    Event::BrokerLoad { broker: 1, window_start_ms, handler_busy_permille, .. }
                        if (lo..hi).contains(&(window_start_ms * MS)) =>
                    {
                        Some(handler_busy_permille)
                    }
                    _ => None,
                })
                .collect()
        };
        let during = busy(from + 200 * MS, to - 200 * MS);
        let before = busy(from - 1_000 * MS, from - 100 * MS);
        let after = busy(to + 200 * MS, to + 1_200 * MS);
        assert!(!during.is_empty() && !before.is_empty() && !after.is_empty(), "seed {seed}: no samples");
        let mean = |v: &[u32]| v.iter().sum::<u32>() / v.len() as u32;
        assert!(mean(&during) >= 20 * mean(&before).max(1), "seed {seed}: {before:?} then {during:?}");
        assert!(mean(&after) * 20 <= mean(&during), "seed {seed}: {during:?} then {after:?}");
    }
}

/// Faults that fired but changed nothing are named (issue 20): a crash of a broker that
/// is down already, a partition between two clients that never talk to each other, and
/// packet loss while every node is paused; the same faults with an effect are not.
#[test]
fn faults_that_changed_nothing_are_named_and_those_that_acted_are_not() {
    use kafkasim::coverage::idle::Idleness;
    let scenario = kafkasim::scenario::parse(
        r#"
seeds = [1]
duration = "6s"
[cluster]
brokers = 3
[[topics]]
name = "orders"
partitions = 1
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 50
[[consumers]]
topic = "orders"
[[faults]]
at = "1s"
kind = "crash"
target = "broker-1"
duration = "3s"
[[faults]]
at = "2s"
kind = "crash"
target = "broker-1"
duration = "1s"
[[faults]]
at = "1500ms"
kind = "partition"
target = "producer-1"
peers = "consumer-1"
duration = "1s"
[[faults]]
at = "1500ms"
kind = "partition"
target = "broker-2"
peers = "the cluster"
duration = "1s"
"#,
        std::path::Path::new("inline.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = crate::support::run(&scenario, 1);
    let idle: Vec<(FaultKind, Idleness)> = outcome.idle_faults.iter().map(|f| (f.kind, f.why)).collect();
    assert_eq!(
        idle,
        // In the order noted: a process fault when it fires, a link fault when it ends.
        [(FaultKind::Crash, Idleness::TargetsAlreadyDown), (FaultKind::Partition, Idleness::NoMessageOnItsLinks)],
        "{:?}",
        outcome.idle_faults
    );
    let partition = outcome.idle_faults.iter().find(|f| f.kind == FaultKind::Partition).unwrap();
    assert_eq!(partition.targets, ["producer-1"], "the clients' partition, not broker-2's");
    assert_eq!(outcome.stats.faults, 4);
    // The trace tells the second crash for what it was: nothing.
    let crashes: Vec<(Vec<String>, String)> = (outcome.history.trace.iter())
        .filter_map(|e| match &e.event {
            Event::Fault { kind: FaultKind::Crash, targets, detail } => Some((targets.clone(), detail.clone())),
            _ => None,
        })
        .collect();
    let expected = [
        (vec!["broker-1".to_string()], "process killed; page cache kept".to_string()),
        (vec![], "nothing: its target named no node that was up".to_string()),
    ];
    assert_eq!(crashes, expected);
}
