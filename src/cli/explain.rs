//! `kafkasim explain FILE --seed N [--anomaly K] [--all]`: runs one seed and tells the
//! story of the first anomaly of each kind (or of every anomaly).

use super::load_with;
use crate::check::AnomalyKind;
use crate::explain::{self, Setup};
use crate::runner;
use crate::scenario::{SetScope, Setting};
use std::path::Path;

/// Parses an anomaly kind name for `--anomaly`, listing the valid names on error.
pub fn parse_kind(name: &str) -> Result<AnomalyKind, String> {
    AnomalyKind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown anomaly kind `{name}`; expected one of {}", names.join(", "))
    })
}

/// Runs the seed and prints the stories; returns the exit code (0 whether or not
/// anomalies were found: explaining is not judging).
pub fn explain_run(file: &Path, settings: &[Setting], seed: Option<u64>, kind: Option<AnomalyKind>, all: bool) -> i32 {
    let scenario = match load_with(file, settings, SetScope::OneScenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or_else(|| crate::report::report_seed(&scenario));
    let outcome = runner::run_seed(&scenario, seed);
    println!("scenario {} (seed {}): {} anomalies", scenario.name, seed, outcome.anomalies.len());
    if let Some(panic) = &outcome.panic {
        println!("a simulated node panicked: {panic}");
        return 3;
    }
    if let Some(line) = explain::mechanism::RefusedCommits::of(&outcome.history).line() {
        println!("{line}");
    }
    let setup = Setup::from_scenario(&scenario);
    // One example per kind (explain::examples), or every anomaly with --all.
    let shown: Vec<usize> =
        if all { (0..outcome.anomalies.len()).collect() } else { explain::examples(&outcome.anomalies) };
    let stories: Vec<_> = shown
        .into_iter()
        .map(|i| &outcome.anomalies[i])
        .filter(|a| kind.is_none_or(|k| a.kind == k))
        .map(|anomaly| explain::explain(&outcome.history, anomaly, &setup))
        .collect();
    // Jargon is introduced before the stories use it (issue 19).
    let terms = explain::glossary::render_terms(&explain::terms_of(&stories));
    if !terms.is_empty() {
        print!("\n{terms}");
    }
    for story in &stories {
        println!("\n{}", explain::render_text(story));
    }
    if stories.is_empty() {
        let found: Vec<String> = outcome.counts().keys().map(|k| k.to_string()).collect();
        let found = if found.is_empty() { "none".to_string() } else { found.join(", ") };
        match kind {
            Some(k) => println!("no {k} anomaly in this run (anomalies found: {found})"),
            None => println!("no anomaly in this run: nothing to explain"),
        }
    }
    println!("reproduce: {}", runner::replay_command(&scenario, seed));
    0
}
