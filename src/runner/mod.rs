//! Runs a scenario for one seed: boots the cluster in a fresh madsim runtime, runs the
//! workload and the fault schedule (the safety phase), then heals everything, restarts
//! every node and drains every partition (the liveness phase), kills every node, and
//! checks the history. Also runs a scenario over all its seeds against its expectations.

mod cluster;
mod nemesis;
mod observer;
mod outcome;
mod planted;
pub mod swarm;

pub use cluster::{replica_assignment, topic_assignments};
pub use observer::{observe, ClusterObservation, ObservedPartition};
pub use planted::PLANT_PANIC_VAR;
pub use swarm::DrawnParameters;
pub use outcome::{RunOutcome, RunStats, ScenarioVerdict, SeedVerdict, Status, Unavailability};

use crate::check::{self, Anomaly, AnomalyKind};
use crate::history::{Event, Recorder};
use crate::scenario::Scenario;
use madsim::runtime::Runtime;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The command that replays one run exactly.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!("kafkasim run {} --seed {seed}", scenario.path.display())
}

/// Runs one seed of a scenario in a fresh runtime. `[swarm]` and `[nemesis]` are drawn
/// from the seed first (see [`swarm`]). A panic inside the simulation is caught and
/// reported as the outcome's `panic`, so a sweep goes on.
pub fn run_seed(scenario: &Scenario, seed: u64) -> RunOutcome {
    let started = std::time::Instant::now();
    let (instance, drawn) = swarm::instantiate(scenario, seed);
    let planted = planted::planted_panic_at();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.block_on(async move {
            if let Some(at) = planted {
                planted::plant(at);
            }
            cluster::simulate(&instance).await
        })
    }));
    let wall_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(simulated) => {
            let history = simulated.recorder.snapshot();
            let mut anomalies = check::check_all(&history);
            // `unseen` where the drain could not read is a consequence of the liveness
            // failure reported for those partitions, not evidence of loss.
            anomalies.retain(|a| {
                a.kind != AnomalyKind::Unseen || !a.records.iter().all(|r| simulated.undrained.contains(&r.key))
            });
            anomalies.extend(simulated.liveness_failures);
            anomalies.sort_by_key(|a| a.kind);
            let stats = RunStats::from_history(&history, simulated.faults_fired, simulated.messages, wall_ms);
            let unavailability = outcome::unavailability(&history);
            RunOutcome {
                scenario: scenario.name.clone(),
                seed,
                trace_hash: history.trace_hash(),
                history,
                anomalies,
                stats,
                unavailability,
                panic: None,
                drawn,
            }
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a simulated node panicked".to_string());
            RunOutcome { drawn, ..RunOutcome::panicked(&scenario.name, seed, message, wall_ms) }
        }
    }
}

/// Runs every seed of a scenario and judges its expectations.
pub fn run_scenario(scenario: &Scenario, mut on_seed: impl FnMut(&RunOutcome)) -> ScenarioVerdict {
    let mut seeds = Vec::new();
    for &seed in &scenario.seeds {
        let outcome = run_seed(scenario, seed);
        on_seed(&outcome);
        seeds.push(outcome.verdict(scenario));
    }
    ScenarioVerdict::judge(scenario, seeds)
}

/// A `no-progress` anomaly with its description.
pub(crate) fn no_progress(description: String) -> Anomaly {
    Anomaly { kind: AnomalyKind::NoProgress, description, records: Vec::new() }
}

/// Records the start of a run phase.
pub(crate) fn trace_phase(recorder: &Recorder, name: &str) {
    tracing::info!(phase = name, "phase begins");
    recorder.trace("runner", Event::Phase { name: name.to_string() });
}
