//! Shared helpers for the simulation tests.
#![allow(dead_code)]

use kafkasim::check::AnomalyKind;
use kafkasim::runner::{self, RunOutcome};
use kafkasim::scenario::{self, Scenario};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `kafkasim` binary in the repository root.
pub fn kafkasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the kafkasim binary runs")
}

/// A command's standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The path of a scenario in the catalog.
pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"))
}

/// Loads a catalog scenario, failing the test with the scenario error if it is invalid.
pub fn load(name: &str) -> Scenario {
    scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one seed.
pub fn run(scenario: &Scenario, seed: u64) -> RunOutcome {
    runner::run_seed(scenario, seed)
}

/// The kinds found in a run.
pub fn kinds(outcome: &RunOutcome) -> Vec<AnomalyKind> {
    outcome.counts().into_keys().collect()
}

/// A one-line summary for assertion messages.
pub fn describe(outcome: &RunOutcome) -> String {
    let kinds: Vec<String> = outcome.counts().iter().map(|(k, n)| format!("{k} x{n}")).collect();
    format!(
        "{} seed {}: {} acked of {} sent; anomalies [{}]; first: {}",
        outcome.scenario,
        outcome.seed,
        outcome.stats.acked,
        outcome.stats.sent,
        kinds.join(", "),
        outcome.anomalies.first().map_or("-".to_string(), |a| a.description.clone())
    )
}
