//! Producer bursts and the overload cascade (issue 18): a `rate_per_sec` schedule paces a
//! producer step by step; in `overload-cascade` a burst on a broker with a slow disk makes
//! acks=all requests outlast a short request.timeout.ms, and the retries of a producer
//! without idempotence write duplicates; `overload-cascade-idempotent` shows none.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{Event, OpFn, OpType, RunPhase};
use kafkasim::runner::{RunOutcome, Status};
use kafkasim::scenario::{self, Scenario, SetScope, Setting};
use std::path::Path;

const MS: u64 = 1_000_000;

fn inline(text: &str) -> Scenario {
    scenario::parse(text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A catalog scenario with `--set` settings.
fn load_with(name: &str, settings: &[&str]) -> Scenario {
    let settings: Vec<Setting> = settings.iter().map(|s| s.parse().expect("KEY=VALUE")).collect();
    let path = crate::support::scenario_path(name);
    scenario::load_with(&path, &settings, SetScope::OneScenario).unwrap_or_else(|e| panic!("{e}"))
}

/// When the safety phase (the clock of `rate_per_sec` steps and faults) began.
fn safety_start_ns(outcome: &RunOutcome) -> u64 {
    let phase = outcome.history.trace.iter().find(|e| matches!(e.event, Event::Phase { name: RunPhase::Safety }));
    phase.map(|e| e.time_ns).unwrap_or_else(|| panic!("no safety phase: {}", describe(outcome)))
}

/// How many records the producers' send invokes name between `from_ms` and `to_ms` of
/// the safety phase.
fn records_invoked(outcome: &RunOutcome, from_ms: u64, to_ms: u64) -> usize {
    let start = safety_start_ns(outcome);
    let window = (start + from_ms * MS)..(start + to_ms * MS);
    let invokes = outcome.history.ops.iter().filter(|o| o.f == OpFn::Send && o.kind == OpType::Invoke);
    invokes.filter(|o| window.contains(&o.time_ns)).map(|o| o.micro_ops().len()).sum()
}

const BURST: &str = "seeds = [1]\nduration = \"6s\"\n[cluster]\nbrokers = 1\n\
    [[topics]]\nname = \"orders\"\npartitions = 2\n\"replication.factor\" = 1\n\
    [[producers]]\ntopic = \"orders\"\nsend = \"async\"\n";

#[test]
fn a_producer_sends_each_step_of_its_rate_schedule_at_that_steps_rate() {
    let schedule =
        "rate_per_sec = [{ at = \"0s\", rate = 50 }, { at = \"2s\", rate = 1000 }, { at = \"4s\", rate = 50 }]\n";
    let scenario = inline(&format!("{BURST}{schedule}"));
    let outcome = run(&scenario, 1);
    assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
    // Each op holds the records of one step only, so the steps' records are exact.
    assert_eq!(records_invoked(&outcome, 0, 2_000), 100, "{}", describe(&outcome));
    assert_eq!(records_invoked(&outcome, 2_000, 4_000), 2_000, "{}", describe(&outcome));
    assert_eq!(records_invoked(&outcome, 4_000, 6_000), 100, "{}", describe(&outcome));
    assert_eq!(outcome.stats.acked, 2_200);
    // The burst's ops still span the async window (200 ms): 200 records each.
    let start = safety_start_ns(&outcome);
    let burst_ops = outcome.history.ops.iter().filter(|o| {
        o.f == OpFn::Send && o.kind == OpType::Invoke && (start + 2_000 * MS..start + 4_000 * MS).contains(&o.time_ns)
    });
    assert!(burst_ops.map(|o| o.micro_ops().len()).all(|n| n == 200));
}

#[test]
fn a_constant_rate_runs_the_same_written_as_a_number_or_as_one_step() {
    let number = inline(&format!("{BURST}rate_per_sec = 300\n"));
    let one_step = inline(&format!("{BURST}rate_per_sec = [{{ at = \"0s\", rate = 300 }}]\n"));
    let (a, b) = (run(&number, 3), run(&one_step, 3));
    assert_eq!(a.trace_hash, b.trace_hash, "{} / {}", describe(&a), describe(&b));
    assert_eq!(a.stats.acked, 1_800);
}

/// The partitions (history keys) that hold a duplicated value.
fn duplicated_partitions(outcome: &RunOutcome) -> Vec<String> {
    let mut keys: Vec<String> = outcome
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::Duplicate)
        .flat_map(|a| a.records.iter().map(|r| r.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn the_overload_cascade_duplicates_retried_batches_on_the_partitions_the_slow_broker_follows() {
    let scenario = load("overload-cascade");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let found = kinds(&outcome);
        assert!(found.contains(&AnomalyKind::Duplicate), "{}", describe(&outcome));
        assert!(found.contains(&AnomalyKind::NonmonotonicSend), "{}", describe(&outcome));
        // Every acknowledged send was acknowledged once the cascade cleared.
        assert_eq!((outcome.stats.acked, outcome.stats.failed, outcome.stats.unknown), (54_000, 0, 0));
        // The slow disk is broker-1's, the leader of orders-0: its own partition keeps
        // its requests under the timeout; those it follows wait for it in the purgatory.
        let (slowed_at, slowed) = outcome
            .history
            .trace
            .iter()
            .find_map(|e| match &e.event {
                Event::Fault { targets, .. } => Some((e.time_ns, targets.clone())),
                _ => None,
            })
            .expect("the slow-disk fault fired");
        assert_eq!(slowed, ["broker-1"], "seed {seed}");
        assert_eq!(duplicated_partitions(&outcome), ["orders-1", "orders-2"], "seed {seed}");
        // The leader's request handlers saturate (busy 90 % of a window or more) and its
        // request queue holds requests while the burst meets the slow disk.
        let busy_windows = outcome.history.trace.iter().filter(|e| {
            matches!(e.event, Event::BrokerLoad { broker: 1, handler_busy_permille, queue_time_max_us, .. }
                if handler_busy_permille >= 900 && queue_time_max_us > 10_000)
                && (slowed_at..slowed_at + 10_000 * MS).contains(&e.time_ns)
        });
        assert!(busy_windows.count() >= 3, "seed {seed}: broker-1's handlers were not saturated");
        // broker-1 stays in every ISR: acks=all waits for it rather than dropping it.
        assert!(!outcome.history.trace.iter().any(|e| matches!(e.event, Event::IsrChange { .. })), "seed {seed}");
    }
    // The timeout is what turns the wait into retries: with Kafka's 30 s no request
    // times out, and nothing is written twice.
    let patient = load_with("overload-cascade", &["request.timeout.ms=30000"]);
    let outcome = run(&patient, patient.seeds[0]);
    assert!(kinds(&outcome).is_empty(), "{}", describe(&outcome));
}

#[test]
fn the_idempotent_producer_with_kafkas_request_timeout_shows_no_anomaly_in_the_cascade() {
    let scenario = load("overload-cascade-idempotent");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(kinds(&outcome).is_empty(), "{}", describe(&outcome));
        assert_eq!((outcome.stats.acked, outcome.stats.consumed), (54_000, 54_000), "{}", describe(&outcome));
    }
    // Idempotence alone: with the lesson's 3 s timeout the producers time out and retry,
    // and the leaders recognise every retried batch by its producer id and sequence.
    let hasty = load_with("overload-cascade-idempotent", &["request.timeout.ms=3000"]);
    let outcome = run(&hasty, hasty.seeds[0]);
    assert!(kinds(&outcome).is_empty(), "{}", describe(&outcome));
}

/// The ISR changes of a run: when (since the safety phase began, in ms), which
/// partition, and its new ISR.
fn isr_changes(outcome: &RunOutcome) -> Vec<(u64, String, Vec<u32>)> {
    let start = safety_start_ns(outcome);
    let changes = outcome.history.trace.iter().filter_map(|e| match &e.event {
        Event::IsrChange { tp, isr, .. } => Some((e.time_ns.saturating_sub(start) / MS, tp.to_string(), isr.clone())),
        _ => None,
    });
    changes.collect()
}

#[test]
fn a_follower_slower_than_a_short_replica_lag_time_leaves_the_isr_and_rejoins_once_it_catches_up() {
    // At Kafka's 30 s replica.lag.time.max.ms the 10 s slow disk never shrinks an ISR
    // (the cascade test above asserts it). At 2 s, broker-1 (slow, following orders-1
    // and orders-2) has not caught up to either leader's log end for 2 s while the burst
    // runs, and each leader shrinks its ISR (Partition.maybeShrinkIsr); acks=all then
    // waits for the two replicas left, min.insync.replicas = 2 still holds, and once the
    // disk is fast again broker-1 catches up and is added back (maybeExpandIsr).
    let scenario = load_with("overload-cascade-idempotent", &["replica.lag.time.max.ms=2000"]);
    let outcome = run(&scenario, 1);
    assert!(kinds(&outcome).is_empty(), "{}", describe(&outcome));
    assert_eq!((outcome.stats.acked, outcome.stats.consumed), (54_000, 54_000), "{}", describe(&outcome));
    let changes = isr_changes(&outcome);
    let mut shrunk: Vec<&str> =
        changes.iter().filter(|(_, _, isr)| !isr.contains(&1)).map(|(_, tp, _)| tp.as_str()).collect();
    let mut restored: Vec<&str> =
        changes.iter().filter(|(_, _, isr)| isr.len() == 3).map(|(_, tp, _)| tp.as_str()).collect();
    // In whichever order the two leaders notice the lag (each checks on its own
    // schedule), and broker-1 catches up with them: once each.
    shrunk.sort();
    restored.sort();
    assert_eq!((shrunk, restored), (vec!["orders-1", "orders-2"], vec!["orders-1", "orders-2"]), "{changes:?}");
    // Each shrink falls inside the fault (5 s to 15 s of the safety phase) and after
    // broker-1 lagged for the 2 s; each expansion after it ends.
    for (at_ms, tp, isr) in &changes {
        let window = if isr.len() == 3 { 15_000..30_000 } else { 7_000..15_000 };
        assert!(window.contains(at_ms), "{tp} -> {isr:?} at {at_ms} ms: {changes:?}");
    }
}
