//! `kafkasim planted-report`: the seeds-to-detection table of the planted bugs.

use super::{load, EXIT_USAGE};
use crate::plant::PlantedBug;
use crate::runner::{sweep_planted, PlantedSweep};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Arguments of `kafkasim planted-report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// The directory holding each bug's target scenario.
    #[arg(long, default_value = "scenarios")]
    pub dir: PathBuf,
    /// How many seeds of each target scenario to run (its first N seeds), with the bug
    /// and without it.
    #[arg(long, default_value_t = 10)]
    pub seeds: usize,
    /// Only this bug (default: every planted bug).
    #[arg(long, value_name = "BUG")]
    pub bug: Option<PlantedBug>,
}

/// Runs the report; exit code 0 when every bug was caught and every control sweep was
/// clean, 1 otherwise.
pub fn report(args: &ReportArgs) -> i32 {
    if args.seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return EXIT_USAGE;
    }
    let bugs: Vec<PlantedBug> = match args.bug {
        Some(bug) => vec![bug],
        None => PlantedBug::ALL.to_vec(),
    };
    let mut scenarios: BTreeMap<&str, Scenario> = BTreeMap::new();
    for bug in &bugs {
        let name = bug.target_scenario();
        if !scenarios.contains_key(name) {
            match load(&args.dir.join(format!("{name}.toml"))) {
                Ok(s) => scenarios.insert(name, s),
                Err(code) => return code,
            };
        }
    }
    // The control sweeps: each target scenario without a planted bug.
    let mut controls: BTreeMap<&str, PlantedSweep> = BTreeMap::new();
    for (name, scenario) in &scenarios {
        eprintln!("control: {name} without a planted bug ...");
        controls.insert(name, sweep_planted(scenario, None, first_seeds(scenario, args.seeds), false));
    }
    let mut rows = Vec::new();
    for bug in &bugs {
        let scenario = &scenarios[bug.target_scenario()];
        eprintln!("planted: {bug} in {} ...", scenario.name);
        rows.push(sweep_planted(scenario, Some(*bug), first_seeds(scenario, args.seeds), false));
    }
    print!("{}", render(&rows, &controls));
    let all_caught = rows.iter().all(|r| r.seeds_to_detection().is_some());
    let all_clean = controls.values().all(|c| c.detections() == 0);
    if all_caught && all_clean {
        0
    } else {
        1
    }
}

fn first_seeds(scenario: &Scenario, n: usize) -> &[u64] {
    &scenario.seeds[..n.min(scenario.seeds.len())]
}

/// The Markdown table, then the replay command of each bug's first detection. Holds no
/// wall-clock figure, so the same arguments always print the same text.
pub fn render(rows: &[PlantedSweep], controls: &BTreeMap<&str, PlantedSweep>) -> String {
    let mut out = String::new();
    out += "| planted bug | target scenario | seeds to detection | seeds caught | anomalies (seeds showing each) | same seeds, no bug |\n";
    out += "|---|---|---|---|---|---|\n";
    for row in rows {
        let bug = row.bug.map_or("-", PlantedBug::name);
        let first =
            row.seeds_to_detection().map_or_else(|| format!("not within {}", row.seeds.len()), |n| n.to_string());
        let kinds: Vec<String> = row.kinds().iter().map(|(k, n)| format!("{k} ({n})")).collect();
        let kinds = if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") };
        let control = controls.get(row.scenario.as_str()).map_or("-".to_string(), |c| {
            if c.detections() == 0 {
                format!("clean ({} seeds)", c.seeds.len())
            } else {
                format!("NOT CLEAN ({} of {} seeds fail)", c.detections(), c.seeds.len())
            }
        });
        out += &format!(
            "| `{bug}` | {} | {first} | {}/{} | {kinds} | {control} |\n",
            row.scenario,
            row.detections(),
            row.seeds.len()
        );
    }
    out += "\n";
    for row in rows {
        if let (Some(bug), Some(replay)) = (row.bug, &row.first_replay) {
            out += &format!("{bug}: first caught by `{replay}`\n");
        }
    }
    out
}
