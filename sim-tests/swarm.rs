//! Swarm mode and the nemesis: the `swarm` scenario (the safe configuration under random
//! faults and random configurations) shows no anomaly over 500 seeds, and every seed
//! replays from the seed alone: same drawn parameters, same trace hash.

use crate::support::{describe, kinds, load, run, scenario_path};
use kafkasim::fault::FaultKind;
use kafkasim::history::{Event, OpType, RunPhase};
use kafkasim::runner::sweep;
use std::collections::BTreeSet;
use std::process::Command;

/// Runs every seed of a swarm scenario (at least 500) on worker threads, each in its own
/// runtime as `kafkasim sweep` does, asserts that none shows an anomaly or panics, and
/// returns what `keep` takes of each run, in seed order.
fn sweep_without_anomalies<T: Send>(
    scenario: &kafkasim::scenario::Scenario,
    keep: impl Fn(&kafkasim::runner::RunOutcome) -> T + Sync,
) -> Vec<T> {
    assert!(scenario.seeds.len() >= 500, "{} lists fewer than 500 seeds", scenario.name);
    let started = std::time::Instant::now();
    let seen = sweep::parallel_seeds(
        &scenario.seeds,
        sweep::default_jobs(),
        |seed| {
            let outcome = run(scenario, seed);
            let unexpected = !kinds(&outcome).is_empty() || outcome.panic.is_some();
            let failure = unexpected.then(|| {
                format!("seed {seed}: {}\n{:?}\npanic: {:?}", describe(&outcome), outcome.drawn, outcome.panic)
            });
            (failure, keep(&outcome))
        },
        None,
        |_| {},
    );
    let failures: Vec<String> = seen.iter().filter_map(|(failure, _)| failure.clone()).collect();
    assert!(failures.is_empty(), "{} failing seeds:\n{}", failures.len(), failures.join("\n"));
    eprintln!(
        "{}: {} seeds in {:.1} s on {} threads",
        scenario.name,
        seen.len(),
        started.elapsed().as_secs_f64(),
        sweep::default_jobs()
    );
    seen.into_iter().map(|(_, kept)| kept).collect()
}

/// What the big sweep keeps of each seed (a run's history is dropped on its worker).
struct Seen {
    brokers: String,
    kinds: Vec<String>,
    faults: u64,
}

#[test]
fn swarm_shows_no_anomaly_over_five_hundred_seeds() {
    let scenario = load("swarm");
    let seen = sweep_without_anomalies(&scenario, |outcome| {
        let drawn = outcome.drawn.as_ref().expect("swarm draws");
        let kinds = drawn.nemesis_kinds.iter().map(|(k, _)| k.clone()).collect();
        Seen { brokers: drawn.swarm[0].1.clone(), kinds, faults: outcome.stats.faults }
    });
    // The seeds explored different clusters, every fault kind and many faults.
    let brokers: BTreeSet<&str> = seen.iter().map(|s| s.brokers.as_str()).collect();
    assert_eq!(brokers.len(), 3, "broker counts drawn: {brokers:?}");
    // Every kind the scenario enables; `stall` and `leave` need group consumers, which
    // this scenario about the brokers has none of (see the consumer nemesis test below);
    // `stop` and `rolling-restart` are an operator's clean operations, not failures,
    // tested in `operations`; `slow-disk` and `cpu-steal` came later, and enabling them
    // here would change every seed's draws, the pinned seeds below included (their
    // draws are tested in `runner::swarm`, their effects in `faults`).
    let kinds: BTreeSet<&str> = seen.iter().flat_map(|s| s.kinds.iter().map(String::as_str)).collect();
    let enabled = &scenario.nemesis.as_ref().expect("a nemesis").kinds;
    assert_eq!(kinds.len(), enabled.len(), "kinds enabled: {kinds:?}");
    assert_eq!(enabled.len(), FaultKind::drawable().count() - 6, "every broker and network kind");
    let faults: u64 = seen.iter().map(|s| s.faults).sum();
    assert!(faults > 1_000, "only {faults} faults over {} seeds", seen.len());
}

/// What the KRaft sweep keeps of each seed.
struct SeenKraft {
    controllers: String,
    /// The fired faults that hit a controller, as `kind targets`.
    on_controllers: Vec<String>,
    /// The traced splits' details (`minority ... | majority ...`, `... with bridge ...`).
    splits: Vec<String>,
}

#[test]
fn the_kraft_swarm_shows_no_anomaly_over_five_hundred_seeds_with_faults_on_the_controllers() {
    let scenario = load("swarm-kraft");
    let seen = sweep_without_anomalies(&scenario, |outcome| {
        let drawn = outcome.drawn.as_ref().expect("swarm draws");
        let controllers = drawn.swarm.iter().find(|(k, _)| k == "controllers").expect("drawn").1.clone();
        let mut on_controllers = Vec::new();
        let mut splits = Vec::new();
        for event in &outcome.history.trace {
            let Event::Fault { kind, targets, detail } = &event.event else { continue };
            if targets.iter().any(|t| t.starts_with("controller-")) {
                on_controllers.push(format!("{kind} {}", targets.join(",")));
            }
            if detail.starts_with("majority-minority") || detail.starts_with("bridge") {
                splits.push(detail.to_string());
            }
        }
        SeenKraft { controllers, on_controllers, splits }
    });
    let counts: BTreeSet<&str> = seen.iter().map(|s| s.controllers.as_str()).collect();
    assert_eq!(counts, ["1", "3", "5"].into_iter().collect(), "controller counts drawn");
    // The nemesis hit the controllers, one at a time and as a quorum, in every kind that
    // takes a process or link target.
    let on_controllers: Vec<&String> = seen.iter().flat_map(|s| &s.on_controllers).collect();
    for kind in ["crash", "power-loss", "pause", "partition", "clog", "reorder", "duplicate"] {
        assert!(on_controllers.iter().any(|f| f.starts_with(&format!("{kind} "))), "no {kind} on a controller");
    }
    let quorum_lost = on_controllers.iter().filter(|f| f.matches("controller-").count() >= 2).count();
    assert!(quorum_lost > 10, "only {quorum_lost} faults on several controllers at once");
    assert!(on_controllers.len() > 300, "only {} faults on controllers", on_controllers.len());
    // A split around a controller leaves it with the minority, the rest of the quorum with
    // the majority of brokers.
    let splits: Vec<&String> = seen.iter().flat_map(|s| &s.splits).collect();
    let with_minority_controller = splits.iter().filter(|d| {
        d.split_once(" | ").is_some_and(|(minority, _)| minority.contains("controller-")) && d.starts_with("majority")
    });
    assert!(with_minority_controller.count() > 0, "no split with a controller in the minority: {splits:?}");
}

#[test]
fn the_zookeeper_swarm_drawing_the_metadata_mode_runs_both_ways() {
    // swarm.toml is written for ZooKeeper ([metastore], zookeeper.session.timeout.ms):
    // drawn KRaft, those have no effect and Kafka's KRaft defaults run.
    let text = std::fs::read_to_string(scenario_path("swarm")).expect("swarm.toml");
    let text = text.replace("[swarm]\n", "[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n");
    let scenario = kafkasim::scenario::parse(&text, &scenario_path("swarm")).unwrap_or_else(|e| panic!("{e}"));
    let mut modes = BTreeSet::new();
    for seed in 1..=16 {
        let outcome = run(&scenario, seed);
        assert!(kinds(&outcome).is_empty() && outcome.panic.is_none(), "seed {seed}: {}", describe(&outcome));
        let drawn = outcome.drawn.as_ref().expect("drawn");
        let mode = drawn.swarm.iter().find(|(k, _)| k == "metadata").expect("metadata drawn").1.clone();
        // A KRaft run's controllers trace the quorum; a ZooKeeper run has none.
        let controllers_ran = outcome.history.trace.iter().any(|e| e.node.starts_with("controller-"));
        assert_eq!(controllers_ran, mode == "kraft", "seed {seed}");
        modes.insert(mode);
    }
    assert_eq!(modes.len(), 2, "both modes drawn in 16 seeds: {modes:?}");
}

#[test]
fn a_seed_draws_the_same_parameters_and_trace_hash_every_time() {
    let scenario = load("swarm");
    for seed in [1, 2, 3, 77, 400] {
        let first = run(&scenario, seed);
        let second = run(&scenario, seed);
        assert_eq!(first.drawn, second.drawn, "seed {seed}");
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.history, second.history, "seed {seed}");
    }
    let kraft = load("swarm-kraft");
    for seed in [1, 2, 3, 77, 400] {
        let (first, second) = (run(&kraft, seed), run(&kraft, seed));
        assert_eq!(first.drawn, second.drawn, "swarm-kraft seed {seed}");
        assert_eq!(first.trace_hash, second.trace_hash, "swarm-kraft seed {seed}");
        assert_eq!(first.history, second.history, "swarm-kraft seed {seed}");
    }
    // Other seeds draw other configurations.
    let drawn: BTreeSet<String> = (1..20).map(|seed| format!("{:?}", run(&scenario, seed).drawn)).collect();
    assert!(drawn.len() > 15, "only {} distinct draws over 19 seeds", drawn.len());
}

#[test]
fn the_drawn_parameters_are_printed_first_and_replay_across_processes() {
    let path = scenario_path("swarm");
    let in_process = run(&load("swarm"), 9);
    let output = Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(["run", path.to_str().expect("utf-8 path"), "--seed", "9"])
        .output()
        .expect("the kafkasim binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text.lines().collect();
    // The scenario line, its title, then what the seed drew.
    assert!(lines[2].trim().starts_with("swarm drew: brokers = "), "{text}");
    assert!(lines[3].trim().starts_with("nemesis: "), "{text}");
    let drawn = in_process.drawn.expect("drawn");
    assert_eq!(lines[2].trim(), drawn.lines()[0]);
    assert!(text.contains(&format!("trace hash: {:016x}", in_process.trace_hash)), "{text}");
}

#[test]
fn every_drawn_fault_fires_and_is_traced() {
    let scenario = load("swarm");
    for seed in 1..30 {
        let outcome = run(&scenario, seed);
        let drawn = outcome.drawn.as_ref().expect("drawn");
        // The swarm scenario schedules no faults of its own: every fault is drawn.
        assert_eq!(outcome.stats.faults, drawn.faults.len() as u64, "seed {seed}");
        // Each drawn fault leaves one `fault` event (undoing it leaves a `fault-ended`).
        // The liveness phase's healing comes after.
        let liveness_starts = outcome
            .history
            .trace
            .iter()
            .position(|e| matches!(&e.event, Event::Phase { name } if *name == RunPhase::Liveness))
            .expect("a liveness phase");
        let traced = outcome
            .history
            .trace
            .iter()
            .take(liveness_starts)
            .filter(|e| &*e.node == "nemesis")
            .filter(|e| matches!(&e.event, Event::Fault { kind, .. } if !kind.is_undo()))
            .count();
        assert_eq!(traced, drawn.faults.len(), "seed {seed}: {:?}", drawn.faults);
    }
}

/// A nemesis drawing only the consumer kinds, over a group of three members and one
/// assign-mode consumer (consumer-1, never a target).
const CONSUMER_NEMESIS: &str = r#"
seeds = [1, 2, 3, 4]
duration = "8s"
[cluster.config]
"min.insync.replicas" = 2
"group.min.session.timeout.ms" = 3000
[[topics]]
name = "orders"
partitions = 3
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 100
[[consumers]]
topic = "orders"
[[consumers]]
count = 3
topic = "orders"
mode = "subscribe"
group = "billing"
poll_interval = "20ms"
commit = "after-processing"
[consumers.config]
"auto.offset.reset" = "earliest"
"enable.auto.commit" = false
"session.timeout.ms" = 3000
"heartbeat.interval.ms" = 500
"max.poll.interval.ms" = 1000
[nemesis]
kinds = ["stall", "leave"]
interval = "1500ms"
start = "1s"
duration_min = "500ms"
duration_max = "2500ms"
[expect]
absent = ["split-ownership", "commit-regression", "consume-skip", "lost-write"]
"#;

#[test]
fn the_nemesis_draws_stall_and_leave_against_group_members_and_replays_them() {
    use kafkasim::history::OpFn;
    use kafkasim::runner::Status;
    let scenario = kafkasim::scenario::parse(CONSUMER_NEMESIS, std::path::Path::new("consumer-nemesis.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut kinds_fired = BTreeSet::new();
    let mut rebalanced_seeds = 0;
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let drawn = outcome.drawn.clone().expect("the nemesis draws");
        assert!(!drawn.faults.is_empty(), "seed {seed} drew no fault");
        // Every drawn fault fired against a group member, and nothing else fired.
        let fired: Vec<(FaultKind, Vec<String>)> = outcome
            .history
            .trace
            .iter()
            .filter_map(|e| match &e.event {
                Event::Fault { kind, targets, .. } if kind.targets_group_consumers() => Some((*kind, targets.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(fired.len(), drawn.faults.len(), "seed {seed}: {:?} vs {:?}", fired, drawn.faults);
        assert_eq!(outcome.stats.faults, drawn.faults.len() as u64, "seed {seed}");
        for (kind, targets) in &fired {
            assert!(
                matches!(targets.as_slice(), [t] if ["consumer-2", "consumer-3", "consumer-4"].contains(&t.as_str())),
                "seed {seed}: {kind} hit {targets:?}"
            );
            kinds_fired.insert(*kind);
        }
        // Their effect: members leave (or are expelled for stalling past
        // max.poll.interval.ms) and the group rebalances into later generations.
        let generations: BTreeSet<u32> = outcome
            .history
            .ops
            .iter()
            .filter(|op| op.f == OpFn::Assign && op.kind == OpType::Ok)
            .filter_map(|op| op.group.as_ref().map(|g| g.generation))
            .collect();
        if generations.len() > 2 {
            rebalanced_seeds += 1;
        }
        // Same seed, same drawn faults and same run.
        let again = run(&scenario, seed);
        assert_eq!(again.drawn, outcome.drawn, "seed {seed}");
        assert_eq!(again.trace_hash, outcome.trace_hash, "seed {seed}");
    }
    assert_eq!(kinds_fired, [FaultKind::Leave, FaultKind::Stall].into_iter().collect());
    assert!(rebalanced_seeds >= 3, "only {rebalanced_seeds} seeds rebalanced beyond the first generations");
}

/// swarm.toml seed 6953 (outside the suite's seeds): broker-1's AlterIsr shrink of
/// orders-0 to [1, 3] waits in the controller's queue while the controller is cut off
/// from the metastore and all three replicas lose power. The controller, elected again,
/// must refuse it: it comes from broker-1's previous process (a stale broker epoch,
/// `KafkaController.tryProcessAlterPartition`). Storing it left the restarted leader
/// with ISR [1, 2, 3] while the controller held [1, 3], so broker-2 was never taken back.
#[test]
fn an_isr_change_from_a_previous_incarnation_of_the_leader_is_refused() {
    let outcome = run(&load("swarm"), 6953);
    let powered_off =
        outcome.history.trace.iter().any(
            |e| matches!(&e.event, Event::Fault { kind: FaultKind::PowerLoss, targets, .. } if targets.len() == 3),
        );
    assert!(powered_off, "the seed no longer powers off three brokers: {}", describe(&outcome));
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

/// swarm.toml seed 5805: broker-3, restarted after a power loss, creates its registration
/// while reordered messages lose the answer; its retry finds the node its own session
/// made. It must take that for its registration (`checkedEphemeralCreate`): waiting for
/// the node to go left it unregistered for good, without a broker epoch, so its ISR
/// changes were never sent and orders-2's ISR never grew back.
#[test]
fn a_broker_whose_registration_answer_was_lost_is_registered() {
    let outcome = run(&load("swarm"), 5805);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

/// swarm.toml seed 21627: leader broker-1 of orders-0 loses power 7 ms before the faults
/// heal. The liveness phase must not take the trace's last view of broker-1 (leading,
/// high watermark at its log end) for a recovered partition at the instant it restarts
/// it: the drain then stopped at broker-2's high watermark, held below a record
/// broker-1 had acknowledged while the ISR was below min.insync.replicas, and reported
/// that record unseen.
#[test]
fn the_liveness_phase_waits_for_a_leader_restarted_by_the_heal() {
    let outcome = run(&load("swarm"), 21627);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}
