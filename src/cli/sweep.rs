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
use crate::runner::sweep::{for_each_seed, SeedRange, SeedRecord, Shard};
use crate::runner::{self, RunOptions, RunOutcome, Status};
use crate::scenario::{Scenario, SetScope, Setting};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
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
    let stop = |(record, _): &(SeedRecord, String)| record.failed();
    let stop = options.stop_after_first.then_some(&stop as &(dyn Fn(&(SeedRecord, String)) -> bool + Sync));
    let mut tally = SweepTally::default();
    let mut write_error = None;
    let mut emit = |(record, anomalies): &(SeedRecord, String)| {
        tally.add(record);
        bar.inc(1);
        if record.failed() {
            bar.set_message(format!("{} failures", tally.failures));
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
    if options.guided {
        let plan = GuidedPlan { scenario: &scenario, seeds: &seeds, jobs, options: &run_options };
        let record = |outcome: RunOutcome| seed_record(&scenario, &outcome);
        guided_sweep(plan, record, |(r, _)| &r.reached, stop, &mut emit);
    } else {
        sweep_seeds(&scenario, &seeds, jobs, &run_options, stop, |result| emit(&result));
    }
    bar.finish_and_clear();
    if let Some(e) = write_error {
        eprintln!("error: cannot write {}: {e}", options.out.expect("set").display());
        return EXIT_OUTPUT;
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{}: {} seeds run, {} passed, {} failed ({} safety, {} liveness, {} panic){}",
        scenario.name,
        tally.seeds,
        tally.count("pass"),
        tally.failures,
        tally.count("safety"),
        tally.count("liveness"),
        tally.count("panic"),
        if options.stop_after_first && tally.failures > 0 { "; stopped at the first failing seed" } else { "" }
    );
    print!("{}", tally.coverage.render());
    if let Some(line) = tally.idle.line() {
        println!("{line}");
    }
    eprintln!("{:.1} s wall, {:.1} seeds per second", wall, tally.seeds as f64 / wall.max(1e-9));
    debug_assert!(tally.worst <= Status::Crash.exit_code());
    tally.worst
}

/// One seed's record and its anomalies as `sweep` prints them.
fn seed_record(scenario: &Scenario, outcome: &RunOutcome) -> (SeedRecord, String) {
    (SeedRecord::new(scenario, outcome), render_anomalies(&outcome.anomalies))
}

/// Says, for a seed's record and its printed line, whether the sweep stops there.
type StopAt = dyn Fn(&(SeedRecord, String)) -> bool + Sync;

/// Runs `seeds` of `scenario` as `sweep` does (without `--guided`) and hands each seed's
/// record to `emit` in seed order; keeps only the tally, so its memory does not grow with
/// the number of seeds (`kafkasim bench --sweep-memory` measures that).
pub(crate) fn sweep_seeds(
    scenario: &Scenario,
    seeds: &[u64],
    jobs: usize,
    options: &RunOptions,
    stop: Option<&StopAt>,
    emit: impl FnMut((SeedRecord, String)),
) {
    let work = |seed| seed_record(scenario, &runner::run_seed_with(scenario, seed, options));
    for_each_seed(seeds, jobs, work, stop, emit);
}

/// What a sweep keeps of its seeds once each is reported: counts by status, the worst
/// exit code, the coverage of named states and the idle faults, not the seeds' records.
#[derive(Debug, Default)]
pub(crate) struct SweepTally {
    /// Seeds counted.
    pub seeds: usize,
    /// Seeds that failed.
    pub failures: usize,
    /// The worst exit code.
    pub worst: i32,
    /// Seeds by status name ([`crate::runner::sweep::status_name`]).
    by_status: BTreeMap<String, usize>,
    /// The share of seeds that reached each named state.
    pub coverage: Coverage,
    /// The faults that fired but changed nothing.
    pub idle: IdleFaults,
}

impl SweepTally {
    /// Counts one seed.
    pub fn add(&mut self, record: &SeedRecord) {
        self.seeds += 1;
        self.failures += usize::from(record.failed());
        self.worst = self.worst.max(record.exit_code);
        *self.by_status.entry(record.status.clone()).or_default() += 1;
        self.coverage.add(&record.reached_states());
        self.idle.add(record.faults_fired, &record.idle_faults);
    }

    /// Seeds with this status name.
    pub fn count(&self, status: &str) -> usize {
        self.by_status.get(status).copied().unwrap_or(0)
    }
}
