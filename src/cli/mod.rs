//! The `kafkasim` command line, one file per command: `run`, `suite`, `sweep`,
//! `check-determinism`, `check`, `planted-report`, `bench`, `shrink`, `list`, `explain`
//! (and its `--prove-fix` and `--what-if`: `prove_fix`), `report`, `compare` and
//! `experiment`.
//!
//! Exit codes: 0 pass, 1 safety expectation failed, 2 liveness failed, 3 a simulated
//! node panicked, 4 nondeterminism found (`check-determinism`), 64 usage error, 65
//! invalid input (scenario or history, or a run over the memory budget), 66 unreadable input, 74 output error.

mod bench;
mod check;
mod compare;
mod describe;
mod determinism;
mod experiment;
mod explain;
mod list;
mod measures;
mod planted;
mod prove_fix;
mod report;
mod run;
mod shrink;
mod suite;
mod sweep;
pub mod trace;

pub use determinism::EXIT_NONDETERMINISTIC;
pub use list::render_list;
pub use run::render_run;
pub use suite::render_suite_row;

use crate::history::{write_history_jsonl, History};
use crate::plant::PlantedBug;
use crate::runner::sweep::{default_jobs, SeedRange, Shard};
use crate::scenario::{self, Lang, Scenario, SetScope, Setting};
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Exit code for a usage error.
pub const EXIT_USAGE: i32 = 64;
/// Exit code for invalid input (a scenario or history that does not parse).
pub const EXIT_INPUT: i32 = 65;
/// Exit code for input that cannot be read.
pub const EXIT_NO_INPUT: i32 = 66;
/// Exit code for output that cannot be written.
pub const EXIT_OUTPUT: i32 = 74;

/// kafkasim: a deterministic simulation testbed for Kafka's replication and delivery
/// semantics.
#[derive(Parser, Debug)]
#[command(name = "kafkasim", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// The memory one run may need, in MiB (default: 8 GiB, or the machine's memory when
    /// less). A scenario whose estimate is over it is refused before it runs (exit 65).
    #[arg(long, value_name = "MIB", global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_limit_mb: Option<u64>,
}

/// The memory budget of each run, in bytes, set from `--memory-limit-mb` when the
/// command line is parsed; 0 means the default.
static MEMORY_BUDGET_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The memory budget of each run this command starts, in bytes.
fn memory_budget_bytes() -> u64 {
    match MEMORY_BUDGET_BYTES.load(std::sync::atomic::Ordering::Relaxed) {
        0 => crate::runner::memory_budget::default_budget_bytes(),
        bytes => bytes,
    }
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs one seed of a scenario and prints a summary with the command that replays it.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// The seed (default: the scenario's first seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Writes the client history as JSON Lines to this file.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// Writes the internal trace as JSON Lines to this file.
        #[arg(long, value_name = "FILE")]
        trace_out: Option<PathBuf>,
        /// Prints the whole run on stderr as `tracing` output with simulated timestamps:
        /// every client operation (target `kafkasim::history`), every internal event
        /// (`kafkasim::trace`) and the nodes' own logs. Filter with RUST_LOG (default
        /// "warn,madsim=error,kafkasim=debug").
        #[arg(long)]
        trace: bool,
        /// With --trace: keep only what concerns this partition, such as `orders-0`.
        #[arg(long, value_name = "TOPIC-N", requires = "trace")]
        partition: Option<String>,
        /// With --trace: keep only what concerns the record with this value.
        #[arg(long, value_name = "VALUE", requires = "trace")]
        value: Option<u64>,
        /// Plants a known bug in the brokers and controller, to see the checkers catch it.
        #[arg(long, value_name = "BUG")]
        plant: Option<PlantedBug>,
        /// Replays a run of `sweep --guided`: the seeds its settings and faults were drawn
        /// from and the edits to its fault schedule, as the sweep's replay command gives
        /// them (`settings=12,faults=40,shift=3:+250ms,add=1500ms:77`).
        #[arg(long, value_name = "DRAW")]
        draw: Option<crate::runner::draw::Draw>,
        /// Overrides a scenario setting by its scenario key or Kafka name, as if the file
        /// set it (repeatable): `--set acks=1 --set min.insync.replicas=2`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// The language of the scenario's title: `en` (default) or `zh` (its `[zh]`
        /// table); the rest of the summary stays English.
        #[arg(long, value_name = "LANG", default_value = "en")]
        lang: Lang,
        /// Prints the seed's result as one JSON document (as a `sweep --out` line: status,
        /// anomalies, trace hash, replay command, the named protocol states reached and
        /// the `reach` goals missed) instead of the summary.
        #[arg(long, conflicts_with = "trace")]
        json: bool,
    },
    /// Runs every scenario in a directory over its seeds and prints a table; exits with
    /// the worst outcome.
    Suite {
        /// The directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// Prints one JSON document on stdout instead of the table.
        #[arg(long)]
        json: bool,
        /// Also writes a JUnit XML report (one testcase per scenario and seed) to FILE.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also writes the catalog's claims to FILE: a Markdown table of every anomaly
        /// kind each scenario's seeds showed, and in how many (`scenarios/CLAIMS.md`).
        #[arg(long, value_name = "FILE")]
        claims: Option<PathBuf>,
        /// Worker threads for each scenario's seeds (default: the available cores).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Plants a known bug in every run: a scenario that still passes did not catch it.
        #[arg(long, value_name = "BUG")]
        plant: Option<PlantedBug>,
        /// Overrides a setting in every scenario that has a table for it, as if the file
        /// set it (repeatable): `--set kafka_version=2.0`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
    },
    /// Runs many seeds of a scenario on worker threads, prints each failing seed with its
    /// anomalies and replay command, and exits with the worst outcome.
    Sweep {
        /// The scenario file.
        file: PathBuf,
        /// The seeds: A..B (B excluded), A..=B, or one seed N.
        #[arg(long, value_name = "A..B")]
        seeds: SeedRange,
        /// Worker threads (default: the available cores). Results do not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Runs only the K-th (from 1) of N disjoint slices of the range: the seeds at
        /// positions K-1, K-1+N, K-1+2N, ... Shard results concatenate into the whole.
        #[arg(long, value_name = "K/N")]
        shard: Option<Shard>,
        /// Stops at the first failing seed (in seed order; earlier seeds all run).
        #[arg(long)]
        stop_after_first: bool,
        /// Writes one JSON object per seed (JSON Lines) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overrides a scenario setting by its scenario key or Kafka name, as if the file
        /// set it (repeatable): `--set acks=1 --set min.insync.replicas=2`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// Coverage-guided: after the first runs, breeds most runs from earlier runs that
        /// reached rare protocol states, by editing their fault schedules and settings
        /// (needs [nemesis]). Run i still uses the i-th seed; each failing run's replay
        /// command carries its `--draw`.
        #[arg(long)]
        guided: bool,
        /// Plants a known bug in every run, to see how soon the sweep catches it.
        #[arg(long, value_name = "BUG")]
        plant: Option<PlantedBug>,
    },
    /// Runs each seed twice and compares the trace hashes; on a mismatch prints the first
    /// diverging history op or trace event and exits with 4.
    CheckDeterminism {
        /// The scenario file.
        file: PathBuf,
        /// The seeds: A..B (B excluded), A..=B, or one seed N.
        #[arg(long, value_name = "A..B")]
        seeds: SeedRange,
        /// Worker threads (default: the available cores).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
    },
    /// Checks a history recorded elsewhere and prints the anomalies found: kafkasim's
    /// JSON Lines, or Jepsen's EDN `history.edn` (by the extension `.edn`, else by the
    /// content), for example one recorded against a real Kafka cluster.
    Check {
        /// The history file.
        file: PathBuf,
        /// Prints the anomalies as JSON.
        #[arg(long)]
        json: bool,
    },
    /// For every planted bug, sweeps its target scenario and prints the seeds it took the
    /// checkers to catch it, next to a clean sweep without the bug (a Markdown table).
    PlantedReport(planted::ReportArgs),
    /// Runs scenarios/bench.toml and a bare-network baseline and prints throughput, peak
    /// memory and the suite's seeds per second.
    Bench(bench::BenchArgs),
    /// Reduces a failing run to a minimal scenario (fewer faults, records, clients and
    /// partitions; shorter and later faults) that still shows the anomaly, prints it and
    /// writes it as a new scenario file.
    Shrink(shrink::ShrinkArgs),
    /// Lists every scenario with its one-line lesson, grouped by theme.
    List {
        /// The directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
        /// The language of the headings and titles: `en` (default) or `zh` (each
        /// scenario's `[zh]` table; English where a scenario has none).
        #[arg(long, value_name = "LANG", default_value = "en")]
        lang: Lang,
    },
    /// Prints the glossary of the terms the stories use (docs/glossary.md is its output).
    Glossary {
        /// One language only: `en` or `zh` (default: both, English first).
        #[arg(long, value_name = "LANG")]
        lang: Option<Lang>,
    },
    /// Runs one seed and tells the life of each record involved in an anomaly (the first
    /// of each kind), ending with its cause and the configuration that prevents it.
    Explain {
        /// The scenario file.
        file: PathBuf,
        /// The seed (default: the scenario's first seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Only anomalies of this kind, such as `lost-write`.
        #[arg(long, value_name = "KIND", value_parser = explain::parse_kind)]
        anomaly: Option<crate::check::AnomalyKind>,
        /// Every anomaly, not only the first of each kind.
        #[arg(long)]
        all: bool,
        /// The language of the stories: `en` (default) or `zh` (Simplified Chinese:
        /// headings, record lives, causes, preventions and glossary terms; the checker's
        /// one-line anomaly descriptions stay English).
        #[arg(long, value_name = "LANG", default_value = "en")]
        lang: Lang,
        /// Overrides a scenario setting by its scenario key or Kafka name, as if the file
        /// set it (repeatable): `--set acks=1 --set min.insync.replicas=2`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// Proves the lesson's fix: applies the scenario's `[fix] set`, reruns the seed
        /// and --seeds-more more, and prints "prevented in N/N seeds" (exit 0) or the
        /// first seed that still shows one of the lesson's anomalies, with its story
        /// (exit 1).
        #[arg(long, conflicts_with_all = ["anomaly", "all", "what_if"])]
        prove_fix: bool,
        /// A candidate setting, as --set takes it (repeatable): reruns the seed and
        /// --seeds-more more under each candidate alone, then in pairs if none is enough,
        /// and names the smallest set that prevents every anomaly kind of the run.
        #[arg(long = "what-if", value_name = "KEY=VALUE", conflicts_with_all = ["anomaly", "all"])]
        what_if: Vec<Setting>,
        /// Tells a run of `sweep --guided`, as its replay command gives it.
        #[arg(long, value_name = "DRAW", conflicts_with_all = ["prove_fix", "what_if"])]
        draw: Option<crate::runner::draw::Draw>,
        /// With --prove-fix or --what-if: how many seeds to run after the first (the
        /// scenario's own seeds first, then the following numbers).
        #[arg(long, value_name = "M", default_value_t = crate::prove::DEFAULT_MORE_SEEDS)]
        seeds_more: usize,
    },
    /// Runs one seed and prints the topics and consumer groups as `kafka-topics.sh
    /// --describe` and `kafka-consumer-groups.sh --describe` would have shown them at the
    /// end of the run, or at `--at`: leaders, replicas, ISR and high watermarks, topic
    /// events, committed offsets, lag and owners.
    Describe {
        /// The scenario file.
        file: PathBuf,
        /// The seed (default: the scenario's first seed).
        #[arg(long)]
        seed: Option<u64>,
        /// When, counted from the start of the safety phase as a scenario's `at` is, such
        /// as `12s` (default: the end of the run).
        #[arg(long, value_name = "DURATION", value_parser = describe::parse_at)]
        at: Option<u64>,
        /// Overrides a scenario setting by its scenario key or Kafka name, as if the file
        /// set it (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
    },
    /// Runs a scenario under every combination of the varied settings over the same
    /// seeds and prints, per combination, each anomaly with the number of seeds showing
    /// it and the acknowledged throughput (a grid when two settings vary).
    Compare {
        /// The scenario file.
        file: PathBuf,
        /// A setting and the values to try, comma-separated (repeatable; the
        /// combinations are the cross product): `--vary kafka_version=0.10.2,0.11,2.0`.
        #[arg(long, value_name = "KEY=V1,V2,...", required = true)]
        vary: Vec<crate::scenario::Dimension>,
        /// A setting held fixed in every combination (repeatable), as in `run --set`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// The seeds: A..B (B excluded), A..=B, or one seed N (default: the scenario's).
        #[arg(long, value_name = "A..B")]
        seeds: Option<SeedRange>,
        /// Worker threads (default: the available cores). Results do not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Prints one JSON document instead of the table.
        #[arg(long)]
        json: bool,
    },
    /// Runs a parameter sweep measured for capacity: per combination of the varied
    /// settings (--vary, else the scenario's [experiment] section), the acknowledged
    /// throughput, send latency percentiles, batch fill and the busiest broker's thread
    /// utilisation, as a table (and with --out, a Markdown page and an SVG plot).
    Experiment {
        /// The scenario file.
        file: PathBuf,
        /// A setting and the values to try, comma-separated (repeatable; the
        /// combinations are the cross product; default: the [experiment] section's).
        #[arg(long, value_name = "KEY=V1,V2,...")]
        vary: Vec<crate::scenario::Dimension>,
        /// A setting held fixed in every combination (repeatable), as in `run --set`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// The seeds: A..B (B excluded), A..=B, or one seed N (default: the
        /// [experiment] section's, else the scenario's).
        #[arg(long, value_name = "A..B")]
        seeds: Option<SeedRange>,
        /// Worker threads (default: the available cores). Results do not depend on it.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        jobs: Option<u64>,
        /// Prints one JSON document instead of the table.
        #[arg(long)]
        json: bool,
        /// Also writes DIR/<scenario>.md (the table) and DIR/<scenario>.svg (the plot).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Runs each scenario's report seed (its first seed, or --seed) and writes a
    /// self-contained HTML page and a Markdown summary into OUT/<scenario>/.
    Report {
        /// The scenario files (`scenarios/*.toml` regenerates the whole catalog).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The seed (default: each scenario's first seed, as the committed reports use).
        #[arg(long)]
        seed: Option<u64>,
        /// The reports root.
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
        /// Overrides a scenario setting by its scenario key or Kafka name, as if the file
        /// set it (repeatable): `--set acks=1 --set min.insync.replicas=2`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<Setting>,
        /// One language only: `en` (report.html, README.md) or `zh` (report.zh.html,
        /// README.zh.md: headings, explanations, the scenario's texts and the stories in
        /// Chinese). Default: both, from the same run.
        #[arg(long, value_name = "LANG")]
        lang: Option<Lang>,
    },
}

/// Parses the arguments and runs the command; returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { EXIT_USAGE } else { 0 };
            let _ = error.print();
            return code;
        }
    };
    let budget = cli.memory_limit_mb.map_or(0, |mib| mib.saturating_mul(1 << 20));
    MEMORY_BUDGET_BYTES.store(budget, std::sync::atomic::Ordering::Relaxed);
    let jobs = |jobs: Option<u64>| jobs.map_or_else(default_jobs, |n| n as usize);
    match cli.command {
        Command::Run { file, seed, history, trace_out, trace, partition, value, plant, draw, set, lang, json } => {
            let options = run::RunOptions {
                json,
                settings: &set,
                seed,
                plant,
                draw,
                history_out: history.as_deref(),
                trace_out: trace_out.as_deref(),
                trace: trace.then_some(trace::Focus { partition, value }),
                lang,
            };
            run::run(&file, options)
        }
        Command::Suite { dir, json, junit, claims, jobs: n, plant, set } => {
            let options = suite::SuiteOptions {
                json,
                junit: junit.as_deref(),
                claims: claims.as_deref(),
                jobs: jobs(n),
                plant,
                settings: &set,
            };
            suite::suite(&dir, options)
        }
        Command::Sweep { file, seeds, jobs: n, shard, stop_after_first, out, set, guided, plant } => {
            let options = sweep::SweepOptions {
                guided,
                plant,
                settings: &set,
                seeds,
                jobs: jobs(n),
                shard: shard.unwrap_or(Shard::ALL),
                stop_after_first,
                out: out.as_deref(),
            };
            sweep::sweep(&file, options)
        }
        Command::CheckDeterminism { file, seeds, jobs: n } => determinism::check_determinism(&file, &seeds, jobs(n)),
        Command::Check { file, json } => check::check_file(&file, json),
        Command::PlantedReport(args) => planted::report(&args),
        Command::Bench(args) => bench::bench(&args),
        Command::Shrink(args) => shrink::shrink(&args),
        Command::List { dir, lang } => list::list(&dir, lang),
        Command::Glossary { lang } => {
            let text = lang.map_or_else(crate::explain::glossary::document, crate::explain::glossary::markdown);
            print!("{text}");
            0
        }
        Command::Explain { file, seed, anomaly, all, lang, set, prove_fix, what_if, seeds_more, draw } => {
            let options = prove_fix::ProveOptions { settings: &set, seed, more: seeds_more, lang };
            if prove_fix {
                prove_fix::prove_fix(&file, options)
            } else if !what_if.is_empty() {
                prove_fix::what_if(&file, options, &what_if)
            } else {
                let options = explain::ExplainOptions { seed, draw, kind: anomaly, all, lang };
                explain::explain_run(&file, &set, options)
            }
        }
        Command::Report { files, seed, out, set, lang } => {
            let langs = lang.map_or(Lang::ALL.to_vec(), |l| vec![l]);
            report::report(&files, &set, seed, &out, &langs)
        }
        Command::Describe { file, seed, at, set } => describe::describe_run(&file, &set, seed, at),
        Command::Compare { file, vary, set, seeds, jobs: n, json } => {
            let options =
                compare::CompareOptions { vary: &vary, settings: &set, seeds: seeds.as_ref(), jobs: jobs(n), json };
            compare::compare(&file, options)
        }
        Command::Experiment { file, vary, set, seeds, jobs: n, json, out } => {
            let options = experiment::ExperimentOptions {
                vary: &vary,
                settings: &set,
                seeds: seeds.as_ref(),
                jobs: jobs(n),
                json,
                out: out.as_deref(),
            };
            experiment::experiment(&file, options)
        }
    }
}

/// Installs the simulated-time `tracing` subscriber when `RUST_LOG` is set (any command);
/// `run --trace` installs it whether or not RUST_LOG is set. An invalid `RUST_LOG` is a
/// usage error: the message and the exit code to end with.
pub fn init_logging_from_env() -> Result<(), i32> {
    if std::env::var_os("RUST_LOG").is_none() {
        return Ok(());
    }
    trace::install("warn", trace::Focus::default()).map_err(|message| {
        eprintln!("error: {message}");
        EXIT_USAGE
    })
}

fn load(file: &Path) -> Result<Scenario, i32> {
    load_with(file, &[], SetScope::OneScenario)
}

/// Loads a scenario with `--set` settings applied; prints the error and returns the exit
/// code if it cannot, or if one run of it would need more memory than the budget
/// (`--memory-limit-mb`; see `runner::memory_budget`).
fn load_with(file: &Path, settings: &[Setting], scope: SetScope) -> Result<Scenario, i32> {
    let scenario = scenario::load_with(file, settings, scope).map_err(|error| {
        eprintln!("error: {error}");
        if error.is_unreadable() {
            EXIT_NO_INPUT
        } else {
            EXIT_INPUT
        }
    })?;
    crate::runner::memory_budget::check(&scenario, memory_budget_bytes()).map_err(|message| {
        eprintln!("error: {message}");
        EXIT_INPUT
    })?;
    Ok(scenario)
}

/// The worker threads for `scenario`'s runs: `jobs`, lowered (with a note on stderr) to
/// as many runs as fit the memory budget side by side. Results do not depend on it.
fn jobs_within_budget(scenario: &Scenario, jobs: usize) -> usize {
    let budget = memory_budget_bytes();
    let fit = crate::runner::memory_budget::jobs_within(scenario, budget, jobs);
    if fit < jobs {
        eprintln!(
            "note: {}: running {fit} seed(s) at a time instead of {jobs}: one run needs about {} MiB and the \
             memory budget is {} MiB (--memory-limit-mb)",
            scenario.name,
            crate::runner::memory_budget::estimate(scenario).bytes >> 20,
            budget >> 20
        );
    }
    fit
}

/// Creates an output file the command will write when it is done, so that a path it
/// cannot write fails before the work starts (exit 74), not after it.
fn open_output(path: &Path) -> Result<File, i32> {
    File::create(path).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        EXIT_OUTPUT
    })
}

/// Writes the history's ops, or its trace, as JSON Lines to `file`, opened at `path`.
fn write_jsonl((file, path): (File, &Path), history: &History, trace: bool) -> Result<(), i32> {
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(file);
        if trace {
            for event in &history.trace {
                writeln!(out, "{}", serde_json::to_string(&event).expect("trace events serialize"))?;
            }
        } else {
            write_history_jsonl(&history.ops, &mut out)?;
        }
        out.flush()
    };
    write().map_err(|e| {
        eprintln!("error: cannot write {}: {e}", path.display());
        EXIT_OUTPUT
    })
}
