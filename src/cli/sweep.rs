//! `kafkasim sweep FILE --seeds A..B [--jobs N] [--shard K/N] [--stop-after-first]
//! [--out results.jsonl]`: many seeds on worker threads, a progress bar, each failing
//! seed with its anomalies and replay command, the share of seeds that reached each named
//! protocol state, results as JSON Lines (each seed's reached states among them).

use super::run::render_anomalies;
use super::{load_with, EXIT_OUTPUT, EXIT_USAGE};
use crate::coverage::idle::IdleFaults;
use crate::coverage::Coverage;
use crate::plant::PlantedBug;
use crate::runner::guided::{guided_sweep, GuidedPlan};
use crate::runner::sweep::{parallel_seeds, SeedRange, SeedRecord, Shard};
use crate::runner::{self, RunOptions, RunOutcome, Status};
use crate::scenario::{SetScope, Setting};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// The options of `sweep`.
#[derive(Debug)]
pub struct SweepOptions<'a> {
    /// The seed range.
    pub seeds: SeedRange,
    /// Worker threads.
    pub jobs: usize,
    /// Which slice of the range to run.
    pub shard: Shard,
    /// Stop at the first failing seed (in seed order).
    pub stop_after_first: bool,
    /// Where to write one JSON line per seed.
    pub out: Option<&'a Path>,
    /// The `--set` settings over the scenario file.
    pub settings: &'a [Setting],
    /// Breed runs from those that reached rare states (`--guided`, see
    /// [`crate::runner::guided`]) instead of running each seed's plain draw.
    pub guided: bool,
    /// A bug planted in every run (`--plant BUG`).
    pub plant: Option<PlantedBug>,
}

/// A progress bar on stderr: seeds done, failures so far, seeds per second. Hidden when
/// stderr is not a terminal (indicatif's default), so logs and tests stay clean.
pub(super) fn progress_bar(total: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let template = format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} seeds, {{msg}}, {{per_sec}} {what}");
    bar.set_style(ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> "));
    bar.set_message("0 failures");
    bar
}

/// Runs the sweep; returns the exit code of the worst seed.
pub fn sweep(file: &Path, options: SweepOptions<'_>) -> i32 {
    let scenario = match load_with(file, options.settings, SetScope::OneScenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seeds = options.shard.seeds(&options.seeds);
    let mut out = match options.out.map(File::create).transpose() {
        Ok(file) => file.map(BufWriter::new),
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", options.out.expect("set").display());
            return EXIT_OUTPUT;
        }
    };
    if options.guided && scenario.nemesis.is_none() {
        eprintln!(
            "error: --guided needs a scenario with [nemesis]: it breeds new runs by editing the fault schedule the \
             nemesis draws, and {} has none",
            file.display()
        );
        return EXIT_USAGE;
    }
    let jobs = super::jobs_within_budget(&scenario, options.jobs);
    eprintln!(
        "sweeping {} over seeds {} (shard {}/{}: {} seeds{}) on {} threads",
        scenario.name,
        options.seeds,
        options.shard.index,
        options.shard.count,
        seeds.len(),
        if options.guided { ", guided by the states reached" } else { "" },
        jobs.min(seeds.len()).max(1)
    );
    let started = Instant::now();
    let bar = progress_bar(seeds.len(), "");
    let run_options = RunOptions { plant: options.plant, draw: None };
    let record = |outcome: RunOutcome| (SeedRecord::new(&scenario, &outcome), render_anomalies(&outcome.anomalies));
    let stop = |(record, _): &(SeedRecord, String)| record.failed();
    let stop = options.stop_after_first.then_some(&stop as &(dyn Fn(&(SeedRecord, String)) -> bool + Sync));
    let mut failures = 0usize;
    let mut write_error = None;
    let mut emit = |(record, anomalies): &(SeedRecord, String)| {
        bar.inc(1);
        if record.failed() {
            failures += 1;
            bar.set_message(format!("{failures} failures"));
            bar.suspend(|| {
                println!("seed {}: FAIL ({})", record.seed, record.status);
                if let Some(panic) = &record.panic {
                    println!("  a simulated node panicked: {panic}");
                }
                print!("{anomalies}");
                println!("  trace hash: {}", record.trace_hash);
                println!("  reproduce: {}", record.replay);
            });
        }
        if let (Some(out), None) = (out.as_mut(), &write_error) {
            let line = serde_json::to_string(record).expect("seed records serialize");
            if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                write_error = Some(e);
            }
        }
    };
    let results = if options.guided {
        let plan = GuidedPlan { scenario: &scenario, seeds: &seeds, jobs, options: &run_options };
        guided_sweep(plan, record, |(r, _)| &r.reached, stop, &mut emit)
    } else {
        let work = |seed| record(runner::run_seed_with(&scenario, seed, &run_options));
        parallel_seeds(&seeds, jobs, work, stop, &mut emit)
    };
    bar.finish_and_clear();
    if let Some(e) = write_error {
        eprintln!("error: cannot write {}: {e}", options.out.expect("set").display());
        return EXIT_OUTPUT;
    }
    let wall = started.elapsed().as_secs_f64();
    let worst = results.iter().map(|(r, _)| r.exit_code).max().unwrap_or(0);
    let count = |status: &str| results.iter().filter(|(r, _)| r.status == status).count();
    println!(
        "{}: {} seeds run, {} passed, {} failed ({} safety, {} liveness, {} panic){}",
        scenario.name,
        results.len(),
        count("pass"),
        failures,
        count("safety"),
        count("liveness"),
        count("panic"),
        if options.stop_after_first && failures > 0 { "; stopped at the first failing seed" } else { "" }
    );
    let reached: Vec<_> = results.iter().map(|(r, _)| r.reached_states()).collect();
    print!("{}", Coverage::of(&reached).render());
    let mut idle = IdleFaults::default();
    for (record, _) in &results {
        idle.add(record.faults_fired, &record.idle_faults);
    }
    if let Some(line) = idle.line() {
        println!("{line}");
    }
    eprintln!("{:.1} s wall, {:.1} seeds per second", wall, results.len() as f64 / wall.max(1e-9));
    debug_assert!(worst <= Status::Crash.exit_code());
    worst
}
