//! Runs a scenario for one seed: boots the cluster in a fresh madsim runtime, runs the
//! workload and the fault schedule (the safety phase), then heals everything, restarts
//! every node and drains every partition (the liveness phase), kills every node, and
//! checks the history. Also runs a scenario over all its seeds against its expectations.
//!
//! Files: `simulation` (the phases of one run: boot, safety, liveness, shutdown),
//! `configure` (the one scenario-to-system configuration mapping), `schedule` (the fault
//! schedule), `nemesis` (firing and undoing each fault kind), `observer` (the cluster
//! state folded from the trace while the run goes), `probes` (what the liveness phase
//! waits for), `swarm` (what a seed draws), `outcome` and `sweep` (verdicts over seeds),
//! `admin` (the `[[events]]`) and `group_reset` (an administrator's group offset reset).

mod admin;
mod configure;
pub mod draw;
mod group_reset;
pub mod guided;
mod held;
pub mod memory_budget;
mod nemesis;
mod observer;
mod outcome;
mod panic_hook;
mod planted;
mod probes;
pub mod promise;
mod reached;
mod schedule;
mod simulation;
pub mod swarm;
mod swarm_wide;
pub mod sweep;

pub use configure::{replica_assignment, topic_assignments};
pub use outcome::{
    grouped_unavailability, RunOutcome, RunStats, ScenarioVerdict, SeedVerdict, Status, Unavailability,
    UnavailableGroup,
};
pub use panic_hook::PLANT_PANIC_VAR;
pub use planted::{sweep_planted, PlantedSweep, SweepSeed};
pub use swarm::DrawnParameters;

use crate::check::{self, AnomalyKind};
use crate::history::{Event, Recorder, RunPhase};
use crate::plant::PlantedBug;
use crate::scenario::Scenario;
use draw::Draw;
use madsim::runtime::Runtime;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// How to run a scenario beyond what its file says. The default is a faithful run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// A known-broken behaviour to swap into the brokers and controllers, to test that
    /// the checkers catch it (`--plant BUG`); `None` runs the real system.
    pub plant: Option<PlantedBug>,
    /// A guided sweep's draw (`--draw`): the seeds of the settings and of the fault
    /// schedule and the schedule's edits; `None` draws both from the run's seed.
    pub draw: Option<Draw>,
}

impl RunOutcome {
    /// The options the run ran with, as its replay command needs them: the planted bug
    /// and a guided sweep's draw.
    pub fn options(&self) -> RunOptions {
        RunOptions { plant: self.plant, draw: self.draw.clone() }
    }

    /// The scenario this run ran, `scenario` (the file's) with what the seed drew: under
    /// `[swarm]` its cluster and settings, under `[nemesis]` its faults.
    pub fn instance(&self, scenario: &Scenario) -> Scenario {
        swarm::instantiate_draw(scenario, self.seed, self.draw.as_ref()).0
    }
}

/// The command that replays one run exactly.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!("kafkasim run {} --seed {seed}{}", scenario.path.display(), scenario.set_arguments())
}

/// The command that replays one run exactly, with its options.
pub fn replay_command_with(scenario: &Scenario, seed: u64, options: &RunOptions) -> String {
    let mut command = replay_command(scenario, seed);
    if let Some(bug) = options.plant {
        command += &format!(" --plant {bug}");
    }
    if let Some(draw) = &options.draw {
        command += &format!(" --draw {draw}");
    }
    command
}

/// Runs one seed of a scenario in a fresh runtime. `[swarm]` and `[nemesis]` are drawn
/// from the seed first (see [`swarm`]). A panic inside the simulation is caught and
/// reported as the outcome's `panic`, so a sweep goes on.
pub fn run_seed(scenario: &Scenario, seed: u64) -> RunOutcome {
    run_seed_with(scenario, seed, &RunOptions::default())
}

/// [`run_seed`] with options (for example a planted bug).
pub fn run_seed_with(scenario: &Scenario, seed: u64, options: &RunOptions) -> RunOutcome {
    let started = std::time::Instant::now();
    let (instance, drawn) = swarm::instantiate_draw(scenario, seed, options.draw.as_ref());
    let liveness_timeout_ms = instance.liveness_timeout_ms;
    let planted = panic_hook::planted_panic_at();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        let options = options.clone();
        runtime.block_on(async move {
            if let Some(at) = planted {
                panic_hook::plant(at);
            }
            simulation::simulate(&instance, &options).await
        })
    }));
    let wall_ms = started.elapsed().as_millis() as u64;
    let mut outcome = match result {
        Ok(simulated) => {
            // The runtime and every task are gone: nothing records any more.
            let history = simulated.recorder.take();
            let mut reached = simulated.recorder.reached_states();
            let idle_faults = simulated.recorder.idle_faults();
            reached::derive_after_the_run(&history, &mut reached);
            let checking_started = std::time::Instant::now();
            // Hashing reads the history as the checkers do, and allocates nothing: beside
            // them on a second core (a pure speedup).
            let (mut anomalies, trace_hash) = std::thread::scope(|scope| {
                let hashing = scope.spawn(|| history.trace_hash());
                let anomalies = check::check_all(&history);
                (anomalies, hashing.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            });
            // `unseen` where the drain could not read is a consequence of the liveness
            // failure reported for those partitions, not evidence of loss.
            anomalies.retain(|a| {
                a.kind != AnomalyKind::Unseen || !a.records.iter().all(|r| simulated.undrained.contains(&r.key))
            });
            // So is `unseen` above the last stable offset an open transaction held.
            held::account_for_held(&mut anomalies, &simulated.held, &history, liveness_timeout_ms);
            anomalies.extend(simulated.liveness_failures);
            anomalies.sort_by_key(|a| a.kind);
            let mut stats = RunStats::from_history(&history, simulated.faults_fired, simulated.messages, wall_ms);
            let unavailability = outcome::unavailability(&history);
            stats.check_wall_ms = checking_started.elapsed().as_millis() as u64;
            RunOutcome {
                scenario: scenario.name.clone(),
                seed,
                trace_hash,
                history,
                anomalies,
                stats,
                unavailability,
                panic: None,
                plant: None,
                draw: None,
                drawn,
                send_latencies: simulated.send_latencies,
                reached,
                idle_faults,
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
    };
    outcome.plant = options.plant;
    outcome.draw = options.draw.clone();
    outcome
}

/// Runs every seed of a scenario and judges its expectations.
pub fn run_scenario(scenario: &Scenario, on_seed: impl FnMut(&RunOutcome)) -> ScenarioVerdict {
    run_scenario_with(scenario, &RunOptions::default(), on_seed)
}

/// [`run_scenario`] with options (for example a planted bug).
pub fn run_scenario_with(
    scenario: &Scenario,
    options: &RunOptions,
    mut on_seed: impl FnMut(&RunOutcome),
) -> ScenarioVerdict {
    let mut seeds = Vec::new();
    for &seed in &scenario.seeds {
        let outcome = run_seed_with(scenario, seed, options);
        on_seed(&outcome);
        seeds.push(outcome.verdict(scenario));
    }
    ScenarioVerdict::judge(scenario, seeds)
}

/// Records the start of a run phase.
pub(crate) fn trace_phase(recorder: &Recorder, phase: RunPhase) {
    tracing::info!(phase = %phase, "phase begins");
    recorder.trace("runner", Event::Phase { name: phase });
}
