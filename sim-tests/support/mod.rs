//! Shared helpers for the simulation tests.

use kafkasim::check::AnomalyKind;
use kafkasim::runner::{self, RunOutcome};
use kafkasim::scenario::{self, Scenario};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Mutex;

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

/// A fresh, empty scratch directory `kafkasim-<name>-<pid>` in the system's temp dir.
///
/// All the simulation tests run in one process, so they share its pid: two tests using
/// the same name would wipe each other's files. A name asked for twice fails the test.
pub fn scratch_dir(name: &str) -> PathBuf {
    static TAKEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let first_use = TAKEN.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string());
    assert!(first_use, "two tests use the scratch directory name `{name}`: give each its own");
    let dir = std::env::temp_dir().join(format!("kafkasim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory created");
    dir
}

/// The path of a scenario in the catalog.
pub fn scenario_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"))
}

/// Loads a catalog scenario, failing the test with the scenario error if it is invalid.
pub fn load(name: &str) -> Scenario {
    scenario::load(&scenario_path(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Every scenario of the catalog (`scenarios/*.toml`), in file name order.
pub fn catalog() -> Vec<Scenario> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenarios/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files.iter().map(|f| scenario::load(f).unwrap_or_else(|e| panic!("{e}"))).collect()
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
