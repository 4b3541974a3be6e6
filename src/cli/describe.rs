//! `kafkasim describe FILE [--seed N] [--at DURATION]`: runs one seed and prints the
//! topics and consumer groups as Kafka's describe tools would have shown them.

use super::load_with;
use crate::history::RunPhase;
use crate::report::describe;
use crate::runner;
use crate::scenario::{parse_duration_ms, SetScope, Setting};
use std::path::Path;

/// Parses `--at` (`12s`, `2500ms`) into milliseconds.
pub fn parse_at(text: &str) -> Result<u64, String> {
    parse_duration_ms(text).map_err(|e| format!("{e}; expected a duration such as \"12s\""))
}

/// Runs the seed and prints the description; returns the exit code (0: describing is
/// not judging).
pub fn describe_run(file: &Path, settings: &[Setting], seed: Option<u64>, at_ms: Option<u64>) -> i32 {
    let scenario = match load_with(file, settings, SetScope::OneScenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or_else(|| crate::report::report_seed(&scenario));
    let outcome = runner::run_seed(&scenario, seed);
    // The run's own cluster: `[swarm]` may draw the brokers, partitions and replication.
    let scenario = outcome.instance(&scenario);
    if let Some(panic) = &outcome.panic {
        println!("a simulated node panicked: {panic}");
        return 3;
    }
    // `--at` counts from the safety phase's start, as the scenario's `at` does.
    let safety_start_ns = outcome.history.phase_start_ns(RunPhase::Safety).unwrap_or(0);
    let at_ns = at_ms.map(|ms| safety_start_ns + ms * 1_000_000);
    let description = describe::describe(&outcome.history, &runner::topic_assignments(&scenario), at_ns);
    match at_ms {
        Some(ms) => println!(
            "scenario {} (seed {seed}) at {} into the safety phase ({} into the run, the clock of the times below):",
            scenario.name,
            crate::scenario::format_duration_ms(ms),
            crate::check::describe::secs(safety_start_ns + ms * 1_000_000)
        ),
        None => println!("scenario {} (seed {seed}) at the end of the run:", scenario.name),
    }
    print!("{}", describe::render_text(&description));
    for line in describe::rate_schedule_lines(&scenario, at_ms) {
        println!("{line}");
    }
    println!("reproduce: {}", runner::replay_command(&scenario, seed));
    0
}
