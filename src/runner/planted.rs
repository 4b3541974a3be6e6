//! Are the checkers any good? Sweeps a scenario's seeds with a bug planted in the
//! system under test and counts how many seeds it takes until the checkers catch it;
//! the same sweep without a planted bug must be clean. Used by `kafkasim planted-report`
//! and by `sim-tests/planted.rs`.

use super::{replay_command_with, run_seed_with, RunOptions, Status};
use crate::check::AnomalyKind;
use crate::plant::PlantedBug;
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::BTreeMap;

/// One seed of a planted-bug sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepSeed {
    /// The seed.
    pub seed: u64,
    /// The run's status against the scenario's expectations (not `Pass`: caught).
    pub status: Status,
    /// Anomaly counts by kind.
    pub counts: BTreeMap<AnomalyKind, usize>,
}

/// A sweep of one scenario with one planted bug (or none).
#[derive(Clone, Debug, Serialize)]
pub struct PlantedSweep {
    /// The planted bug; `None` for the clean control sweep.
    pub bug: Option<PlantedBug>,
    /// The scenario's name.
    pub scenario: String,
    /// The seeds run, in order (a sweep that stops at the first detection runs fewer
    /// than it was given).
    pub seeds: Vec<SweepSeed>,
    /// The replay command of the first seed that failed its expectations.
    pub first_replay: Option<String>,
}

impl PlantedSweep {
    /// How many seeds were run up to and including the first that failed the
    /// scenario's expectations: the seeds-to-detection. `None` if none failed.
    pub fn seeds_to_detection(&self) -> Option<usize> {
        self.seeds.iter().position(|s| s.status != Status::Pass).map(|i| i + 1)
    }

    /// How many of the seeds run failed the scenario's expectations.
    pub fn detections(&self) -> usize {
        self.seeds.iter().filter(|s| s.status != Status::Pass).count()
    }

    /// Anomaly kinds over the seeds run, with the number of seeds showing each.
    pub fn kinds(&self) -> BTreeMap<AnomalyKind, usize> {
        let mut kinds = BTreeMap::new();
        for seed in &self.seeds {
            for kind in seed.counts.keys() {
                *kinds.entry(*kind).or_default() += 1;
            }
        }
        kinds
    }

    /// Whether a safety anomaly (not only `no-progress` or a panic) was among the
    /// findings: a planted safety bug should be caught as one.
    pub fn caught_as_safety(&self) -> bool {
        self.seeds.iter().any(|s| s.status == Status::SafetyFailure)
    }
}

/// Runs `seeds` of `scenario` with `bug` planted (none for the control sweep), in
/// order, stopping after the first seed that fails the scenario's expectations when
/// `stop_at_first` is set.
pub fn sweep_planted(scenario: &Scenario, bug: Option<PlantedBug>, seeds: &[u64], stop_at_first: bool) -> PlantedSweep {
    let options = RunOptions { plant: bug, draw: None };
    let mut sweep = PlantedSweep {
        bug,
        scenario: scenario.name.clone(),
        seeds: Vec::with_capacity(seeds.len()),
        first_replay: None,
    };
    for &seed in seeds {
        let outcome = run_seed_with(scenario, seed, &options);
        let verdict = outcome.verdict(scenario);
        let status = verdict.status();
        sweep.seeds.push(SweepSeed { seed, status, counts: verdict.counts });
        if status != Status::Pass {
            sweep.first_replay.get_or_insert_with(|| replay_command_with(scenario, seed, &options));
            if stop_at_first {
                break;
            }
        }
    }
    sweep
}
