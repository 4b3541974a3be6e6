//! The `kafkasim` command line: `run`, `suite` and `check`.
//!
//! Exit codes: 0 pass, 1 safety expectation failed, 2 liveness failed, 3 a simulated
//! node panicked, 64 usage error, 65 invalid input (scenario or history), 66 unreadable
//! input, 74 output error.

use crate::check::{self, Anomaly};
use crate::history::{read_history_jsonl, write_history_jsonl, History};
use crate::runner::{self, RunOutcome, ScenarioVerdict, SeedVerdict};
use crate::scenario::{self, Scenario};
use clap::{Parser, Subcommand};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
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
    },
    /// Runs every scenario in a directory over its seeds and prints a table.
    Suite {
        /// The directory of scenario files.
        #[arg(default_value = "scenarios")]
        dir: PathBuf,
    },
    /// Checks a history in kafkasim's JSON Lines format (for example one recorded
    /// against a real Kafka cluster) and prints the anomalies found.
    Check {
        /// The history file.
        file: PathBuf,
        /// Prints the anomalies as JSON.
        #[arg(long)]
        json: bool,
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
    match cli.command {
        Command::Run { file, seed, history, trace_out } => run(&file, seed, history.as_deref(), trace_out.as_deref()),
        Command::Suite { dir } => suite(&dir),
        Command::Check { file, json } => check_file(&file, json),
    }
}

fn load(file: &Path) -> Result<Scenario, i32> {
    scenario::load(file).map_err(|error| {
        eprintln!("error: {error}");
        if error.to_string().contains("cannot read") {
            EXIT_NO_INPUT
        } else {
            EXIT_INPUT
        }
    })
}

fn run(file: &Path, seed: Option<u64>, history_out: Option<&Path>, trace_out: Option<&Path>) -> i32 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.or_else(|| scenario.seeds.first().copied()).unwrap_or(0);
    let outcome = runner::run_seed(&scenario, seed);
    print!("{}", render_run(&scenario, &outcome));
    if let Some(path) = history_out {
        if let Err(code) = write_jsonl(path, &outcome.history, false) {
            return code;
        }
    }
    if let Some(path) = trace_out {
        if let Err(code) = write_jsonl(path, &outcome.history, true) {
            return code;
        }
    }
    outcome.verdict(&scenario).status().exit_code()
}

fn write_jsonl(path: &Path, history: &History, trace: bool) -> Result<(), i32> {
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(File::create(path)?);
        if trace {
            for event in &history.trace {
                writeln!(out, "{}", serde_json::to_string(event).expect("trace events serialize"))?;
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

/// Seconds with millisecond precision, as in "2.104 s".
fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// The human summary of one run.
pub fn render_run(scenario: &Scenario, outcome: &RunOutcome) -> String {
    // Describe the processes this seed ran, after `[swarm]` drew their number and modes.
    let (instance, _) = runner::swarm::instantiate(scenario, outcome.seed);
    let scenario = &instance;
    let mut out = String::new();
    let s = &outcome.stats;
    out += &format!("scenario {} (seed {})\n", scenario.name, outcome.seed);
    if let Some(title) = &scenario.title {
        out += &format!("  {title}\n");
    }
    for line in outcome.drawn.iter().flat_map(|d| d.lines()) {
        out += &format!("  {line}\n");
    }
    if let Some(panic) = &outcome.panic {
        out += &format!("  PANIC in the simulation: {panic}\n");
    } else {
        out += &format!(
            "  sends: {} invoked, {} acknowledged, {} failed, {} unknown; {} distinct values consumed\n",
            s.sent, s.acked, s.failed, s.unknown, s.consumed
        );
        out += &format!(
            "  faults fired: {}; network messages: {}; simulated {} in {} wall\n",
            s.faults,
            s.messages,
            seconds(s.simulated_ms),
            seconds(s.wall_ms)
        );
        let safety_s = scenario.duration_ms as f64 / 1000.0;
        for (process, (name, spec)) in scenario.producer_instances().iter().enumerate() {
            let acked = s.acked_by_process.get(&(process as u64)).copied().unwrap_or(0);
            let mode = match spec.send_mode {
                crate::scenario::SendMode::Sync => "sync",
                crate::scenario::SendMode::Async => "async",
            };
            out += &format!(
                "  {name} ({mode} sends, process {process}): {acked} acknowledged, {:.1} per second of the safety phase\n",
                acked as f64 / safety_s
            );
        }
        for span in &outcome.unavailability {
            let until = span.until_ms.map_or("the end".to_string(), seconds);
            out += &format!("  unavailable: {} had no leader from {} to {}\n", span.tp, seconds(span.from_ms), until);
        }
        out += &render_anomalies(&outcome.anomalies);
    }
    let verdict = outcome.verdict(scenario);
    out += &format!("  expectation: {}\n", describe_seed_verdict(scenario, &verdict));
    out += &format!("  trace hash: {:016x}\n", outcome.trace_hash);
    out += &format!("  reproduce: {}\n", runner::replay_command(scenario, outcome.seed));
    out
}

fn render_anomalies(anomalies: &[Anomaly]) -> String {
    if anomalies.is_empty() {
        return "  anomalies: none\n".to_string();
    }
    let mut by_kind: BTreeMap<_, Vec<&Anomaly>> = BTreeMap::new();
    for anomaly in anomalies {
        by_kind.entry(anomaly.kind).or_default().push(anomaly);
    }
    let mut out = "  anomalies:\n".to_string();
    for (kind, list) in by_kind {
        out += &format!("    {kind} x{}: e.g. {}\n", list.len(), list[0].description);
    }
    out
}

fn describe_seed_verdict(scenario: &Scenario, verdict: &SeedVerdict) -> String {
    if let Some(panic) = &verdict.panic {
        return format!("FAIL: a simulated node panicked ({panic})");
    }
    if !verdict.forbidden.is_empty() {
        let names: Vec<&str> = verdict.forbidden.iter().map(|k| k.name()).collect();
        return format!("FAIL: forbidden anomalies appeared: {}", names.join(", "));
    }
    let expected: Vec<&str> = scenario.expect.present.iter().map(|k| k.name()).collect();
    let shown: Vec<&str> =
        scenario.expect.present.iter().filter(|k| verdict.counts.contains_key(k)).map(|k| k.name()).collect();
    if expected.is_empty() {
        "pass (no forbidden anomaly)".to_string()
    } else {
        format!(
            "pass (no forbidden anomaly); lesson anomalies shown in this seed: {} of {}",
            if shown.is_empty() { "none".to_string() } else { shown.join(", ") },
            expected.join(", ")
        )
    }
}

fn suite(dir: &Path) -> i32 {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => {
            eprintln!("error: cannot read directory {}: {e}", dir.display());
            return EXIT_NO_INPUT;
        }
    };
    files.sort();
    let mut scenarios = Vec::new();
    for file in &files {
        match load(file) {
            Ok(s) => scenarios.push(s),
            Err(code) => return code,
        }
    }
    println!("{:<32} {:>5}  {:<16} anomalies (seeds showing each)", "scenario", "seeds", "result");
    // The worst status, not the largest exit code: a safety failure outranks a liveness
    // failure although its code is smaller.
    let mut worst = runner::Status::Pass;
    for scenario in &scenarios {
        let mut failures = Vec::new();
        let verdict = runner::run_scenario(scenario, |outcome| {
            if outcome.verdict(scenario).status().exit_code() != 0 {
                failures.push(runner::replay_command(scenario, outcome.seed));
            }
        });
        println!("{}", render_suite_row(&verdict));
        for command in failures {
            println!("    failing seed, replay with: {command}");
        }
        worst = worst.max(verdict.status);
    }
    worst.exit_code()
}

/// One line of the suite table.
pub fn render_suite_row(verdict: &ScenarioVerdict) -> String {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in &verdict.seeds {
        for kind in seed.counts.keys() {
            *seen.entry(kind.name()).or_default() += 1;
        }
    }
    let mut anomalies: Vec<String> = seen.iter().map(|(k, n)| format!("{k} ({n})")).collect();
    if anomalies.is_empty() {
        anomalies.push("none".into());
    }
    let mut result = verdict.status.word().to_string();
    if !verdict.missing.is_empty() {
        let names: Vec<&str> = verdict.missing.iter().map(|k| k.name()).collect();
        result += &format!(" missing {}", names.join(", "));
    }
    format!("{:<32} {:>5}  {:<16} {}", verdict.scenario, verdict.seeds.len(), result, anomalies.join(", "))
}

fn check_file(file: &Path, json: bool) -> i32 {
    let reader = match File::open(file) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return EXIT_NO_INPUT;
        }
    };
    let ops = match read_history_jsonl(reader) {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("error: {}:{e}", file.display());
            return EXIT_INPUT;
        }
    };
    let history = History { ops, trace: Vec::new() };
    let anomalies = check::check_all(&history);
    if json {
        println!("{}", serde_json::to_string_pretty(&anomalies).expect("anomalies serialize"));
    } else if anomalies.is_empty() {
        println!("{}: {} ops, no anomalies", file.display(), history.ops.len());
    } else {
        println!("{}: {} ops, {} anomalies", file.display(), history.ops.len(), anomalies.len());
        for anomaly in &anomalies {
            println!("  {:<22} {}", anomaly.kind.name(), anomaly.description);
        }
    }
    if anomalies.is_empty() {
        0
    } else {
        1
    }
}
