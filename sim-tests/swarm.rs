//! Swarm mode and the nemesis: the `swarm` scenario (the safe configuration under random
//! faults and random configurations) shows no anomaly over 500 seeds, and every seed
//! replays from the seed alone: same drawn parameters, same trace hash.

mod support;

use kafkasim::history::Event;
use kafkasim::runner::sweep;
use kafkasim::scenario::NEMESIS_KINDS;
use std::collections::BTreeSet;
use std::process::Command;
use support::{describe, load, run, scenario_path};

/// What the big sweep keeps of each seed (a run's history is dropped on its worker).
struct Seen {
    seed: u64,
    failure: Option<String>,
    brokers: String,
    kinds: Vec<String>,
    faults: u64,
}

#[test]
fn swarm_shows_no_anomaly_over_five_hundred_seeds() {
    let scenario = load("swarm");
    assert!(scenario.seeds.len() >= 500);
    let started = std::time::Instant::now();
    // The seeds run on worker threads, each in its own runtime, as `kafkasim sweep` does.
    let seen = sweep::parallel_seeds(
        &scenario.seeds,
        sweep::default_jobs(),
        |seed| {
            let outcome = run(&scenario, seed);
            let failure = (!outcome.anomalies.is_empty() || outcome.panic.is_some())
                .then(|| format!("{}\n{:?}\npanic: {:?}", describe(&outcome), outcome.drawn, outcome.panic));
            let drawn = outcome.drawn.as_ref().expect("swarm draws");
            let kinds = drawn.nemesis_kinds.iter().map(|(k, _)| k.clone()).collect();
            Seen { seed, failure, brokers: drawn.swarm[0].1.clone(), kinds, faults: outcome.stats.faults }
        },
        None,
        |_| {},
    );
    let failures: Vec<String> =
        seen.iter().filter_map(|s| s.failure.as_ref().map(|f| format!("seed {}: {f}", s.seed))).collect();
    assert!(failures.is_empty(), "{} failing seeds:\n{}", failures.len(), failures.join("\n"));
    // The seeds explored different clusters, every fault kind and many faults.
    let brokers: BTreeSet<&str> = seen.iter().map(|s| s.brokers.as_str()).collect();
    assert_eq!(brokers.len(), 3, "broker counts drawn: {brokers:?}");
    let kinds: BTreeSet<&str> = seen.iter().flat_map(|s| s.kinds.iter().map(String::as_str)).collect();
    assert_eq!(kinds.len(), NEMESIS_KINDS.len(), "kinds enabled: {kinds:?}");
    let faults: u64 = seen.iter().map(|s| s.faults).sum();
    assert!(faults > 1_000, "only {faults} faults over {} seeds", seen.len());
    eprintln!(
        "swarm: {} seeds in {:.1} s on {} threads",
        seen.len(),
        started.elapsed().as_secs_f64(),
        sweep::default_jobs()
    );
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
        // Each drawn fault leaves one event of its own kind (undoing it leaves others:
        // restart, resume, heal, ...). The liveness phase's healing comes after.
        let liveness_starts = outcome
            .history
            .trace
            .iter()
            .position(|e| matches!(&e.event, Event::Phase { name } if name == "liveness"))
            .expect("a liveness phase");
        let traced = outcome.history.trace[..liveness_starts]
            .iter()
            .filter(|e| e.node == "nemesis")
            .filter(|e| matches!(&e.event, Event::Fault { kind, .. } if NEMESIS_KINDS.iter().any(|(n, _)| n == kind)))
            .count();
        assert_eq!(traced, drawn.faults.len(), "seed {seed}: {:?}", drawn.faults);
    }
}
