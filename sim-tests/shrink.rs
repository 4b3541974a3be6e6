//! `kafkasim shrink`: a failing run shrinks to a smaller scenario that still shows the
//! anomaly, the written file parses and replays it, the result does not depend on
//! `--jobs`, and runs with nothing to preserve are refused clearly.

use crate::support::{kafkasim, load, scratch_dir};
use kafkasim::check::AnomalyKind;
use kafkasim::plant::PlantedBug;
use kafkasim::runner::{run_seed_with, RunOptions};
use kafkasim::scenario;
use kafkasim::shrink::{shrink, ShrinkError, ShrinkOptions, Shrunk};
use std::path::PathBuf;

fn options(seed: u64, plant: Option<PlantedBug>, max_tries: usize, jobs: usize) -> ShrinkOptions {
    ShrinkOptions { seed, anomaly: None, run: RunOptions { plant, draw: None }, max_tries, jobs }
}

/// Where a test writes the shrunk scenario `name`.
fn scratch(name: &str) -> PathBuf {
    scratch_dir(&format!("shrink-{name}")).join(format!("{name}.toml"))
}

/// Writes the shrunk file, reads it back with the scenario parser and runs its seed.
fn replay_written(shrunk: &Shrunk, name: &str, seed: u64, run: &RunOptions) -> Vec<AnomalyKind> {
    let path = scratch(name);
    std::fs::write(&path, shrunk.file_text("the original", &path.display().to_string(), seed, run)).unwrap();
    let written = scenario::load(&path).unwrap_or_else(|e| panic!("the written file parses: {e}"));
    assert_eq!(written.seeds, vec![seed], "the written file names its seed");
    let outcome = run_seed_with(&written, seed, run);
    outcome.anomalies.iter().map(|a| a.kind).collect()
}

#[test]
fn a_lost_write_shrinks_to_a_short_run_with_one_fault_and_the_file_replays_it() {
    let original = load("acks1-leader-crash");
    let shrunk = shrink(&original, &options(4, None, 120, 2), |_| {}).expect("seed 4 loses writes");
    assert_eq!(shrunk.anomaly, AnomalyKind::LostWrite, "the scenario's first anomaly kind in report order");
    let (before, after) = (&shrunk.original, &shrunk.minimal);
    assert!(!shrunk.steps.is_empty());
    assert!(after.faults.len() <= before.faults.len());
    assert!(after.run_ms < before.run_ms / 2, "{} -> {}", before.summary(), after.summary());
    assert!(after.records() * 10 < before.records(), "{} -> {}", before.summary(), after.summary());
    assert!(after.clients() < before.clients(), "the consumer is not needed to see the loss");
    let kinds = replay_written(&shrunk, "acks1", 4, &RunOptions::default());
    assert!(kinds.contains(&AnomalyKind::LostWrite), "the written file replays the loss: {kinds:?}");
}

#[test]
fn a_planted_bug_shrinks_to_fewer_faults_that_still_catch_it() {
    let original = load("acks-all-safe");
    let plant = Some(PlantedBug::AcksAllLeaderOnly);
    let shrunk = shrink(&original, &options(1, plant, 40, 2), |_| {}).expect("the planted bug shows");
    // acks-all-safe forbids every kind, so the first kind shown is kept.
    assert_eq!(shrunk.anomaly, shrunk.original_anomalies[0]);
    assert!(shrunk.minimal.faults.len() < shrunk.original.faults.len(), "{}", shrunk.minimal.summary());
    assert!(shrunk.minimal.records() < shrunk.original.records());
    let run = RunOptions { plant, draw: None };
    let kinds = replay_written(&shrunk, "planted", 1, &run);
    assert!(kinds.contains(&shrunk.anomaly), "the written file replays {}: {kinds:?}", shrunk.anomaly);
    let without = replay_written(&shrunk, "unplanted", 1, &RunOptions::default());
    assert!(!without.contains(&shrunk.anomaly), "without the bug the minimal scenario is clean: {without:?}");
}

#[test]
fn the_result_does_not_depend_on_jobs() {
    let original = load("acks1-leader-crash");
    let one = shrink(&original, &options(4, None, 25, 1), |_| {}).unwrap();
    let three = shrink(&original, &options(4, None, 25, 3), |_| {}).unwrap();
    assert_eq!(one.text, three.text);
    assert_eq!(one.tries, three.tries);
    assert_eq!(one.steps.len(), three.steps.len());
}

#[test]
fn a_run_without_the_anomaly_is_refused() {
    let original = load("acks1-leader-crash");
    let wanted = ShrinkOptions { anomaly: Some(AnomalyKind::Duplicate), ..options(4, None, 10, 1) };
    match shrink(&original, &wanted, |_| {}) {
        Err(ShrinkError::NotShown { wanted, shown }) => {
            assert_eq!(wanted, AnomalyKind::Duplicate);
            assert!(shown.contains(&AnomalyKind::LostWrite));
        }
        other => panic!("expected NotShown, got {other:?}"),
    }
    let clean = load("acks-all-safe");
    assert_eq!(shrink(&clean, &options(1, None, 10, 1), |_| {}).unwrap_err(), ShrinkError::NoAnomaly);
}

#[test]
fn the_command_writes_the_file_and_refuses_bad_requests_with_64() {
    let out = scratch("cli");
    let ok = kafkasim(&[
        "shrink",
        "scenarios/acks1-leader-crash.toml",
        "--seed",
        "4",
        "--anomaly",
        "inconsistent-offsets",
        "--max-tries",
        "15",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}{}", String::from_utf8_lossy(&ok.stderr));
    assert!(text.contains(&format!("written to {}", out.display())), "{text}");
    assert!(text.contains("keeping `inconsistent-offsets`"), "{text}");
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.starts_with("# Shrunk by `kafkasim shrink scenarios/acks1-leader-crash.toml --seed 4`"));
    scenario::parse(&written, &out).expect("the written file parses");

    let clean = kafkasim(&["shrink", "scenarios/acks-all-safe.toml", "--seed", "1"]);
    assert_eq!(clean.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&clean.stderr).contains("shows no anomaly: nothing to shrink"));
    // The output file, created before the search to fail early, is not left behind empty.
    assert!(!std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("acks-all-safe-shrunk-seed1.toml").exists());
    let unknown = kafkasim(&["shrink", "scenarios/acks1-leader-crash.toml", "--anomaly", "lost"]);
    assert_eq!(unknown.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown anomaly kind `lost`"));
}
