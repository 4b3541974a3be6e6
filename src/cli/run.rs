//! `kafkasim run FILE --seed N [--json] [--trace [--partition P] [--value V]]`: one seed,
//! a summary (the named protocol states it reached among it) with the command that
//! replays it, or the same as JSON; optionally the whole run as a `tracing` stream in
//! simulated time.

use super::trace::{self, Focus};
use super::{load_with, open_output, write_jsonl};
use crate::check::Anomaly;
use crate::coverage::idle::IdleFaults;
use crate::runner::draw::Draw;
use crate::runner::{self, RunOutcome, SeedVerdict};
use crate::scenario::SetScope;
use crate::scenario::{Lang, Scenario};
use std::collections::BTreeMap;
use std::path::Path;

/// The options of `run`.
#[derive(Debug, Default)]
pub struct RunOptions<'a> {
    /// The seed (default: the scenario's first seed).
    pub seed: Option<u64>,
    /// Where to write the client history.
    pub history_out: Option<&'a Path>,
    /// Where to write the internal trace.
    pub trace_out: Option<&'a Path>,
    /// Whether to print the `tracing` stream, and what to keep of it.
    pub trace: Option<Focus>,
    /// A bug to plant in the system under test (`--plant BUG`).
    pub plant: Option<crate::plant::PlantedBug>,
    /// A guided sweep's draw to replay (`--draw`).
    pub draw: Option<Draw>,
    /// The `--set` settings over the scenario file.
    pub settings: &'a [crate::scenario::Setting],
    /// The language of the scenario's title in the header (`--lang`).
    pub lang: Lang,
    /// Print the result as one JSON document instead of the summary (`--json`).
    pub json: bool,
}

/// An output file, created now, with its path, if the command line asked for one.
pub(super) fn open_if_asked(path: Option<&Path>) -> Result<Option<(std::fs::File, &Path)>, i32> {
    path.map(|p| open_output(p).map(|file| (file, p))).transpose()
}

/// Runs one seed and prints its summary; returns the exit code.
pub fn run(file: &Path, options: RunOptions<'_>) -> i32 {
    let scenario = match load_with(file, options.settings, SetScope::OneScenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = options.seed.or_else(|| scenario.seeds.first().copied()).unwrap_or(0);
    if let Some(draw) = &options.draw {
        if let Err(message) = draw.check(&scenario, seed) {
            eprintln!("error: --draw {draw}: {message}");
            return super::EXIT_USAGE;
        }
    }
    let run_options = runner::RunOptions { plant: options.plant, draw: options.draw.clone() };
    let tracing = options.trace.is_some();
    if let Some(focus) = options.trace {
        if let Some(p) = &focus.partition {
            // The partitions this seed's run has: `[swarm]` may draw how many.
            let (instance, _) = runner::swarm::instantiate_draw(&scenario, seed, run_options.draw.as_ref());
            let known: Vec<String> = instance
                .topics
                .iter()
                .flat_map(|t| (0..t.partitions).map(move |i| crate::protocol::partition_name(&t.name, i)))
                .collect();
            // The internal topics too: anomalies name their partitions (a coordinator's
            // state in `__consumer_offsets-3`), and brokers create them on first use.
            let config = &instance.cluster.config;
            let internal = [
                (crate::broker::coordinator::service::OFFSETS_TOPIC, config.offsets_topic_num_partitions),
                (crate::broker::txn::coordinator::TRANSACTION_TOPIC, config.transaction_state_log_num_partitions),
            ];
            let is_internal = internal
                .iter()
                .any(|&(topic, count)| (0..count).any(|i| crate::protocol::partition_name(topic, i) == *p));
            if !known.contains(p) && !is_internal {
                // Name the seed: with `[swarm]` another seed may draw the partition.
                let drawn =
                    if scenario.swarm.is_some() { format!("seed {seed} drew") } else { "the scenario has".into() };
                let internal_ranges: Vec<String> =
                    internal.iter().map(|&(topic, count)| format!("{topic}-0–{}", count.saturating_sub(1))).collect();
                eprintln!(
                    "error: --partition {p}: the run of seed {seed} has no such partition; {drawn} {} (and the internal {})",
                    known.join(", "),
                    internal_ranges.join(", ")
                );
                return super::EXIT_USAGE;
            }
        }
        if let Err(message) = trace::install(trace::DEFAULT_TRACE_FILTER, focus) {
            eprintln!("error: {message}");
            return super::EXIT_USAGE;
        }
    }
    // The output files exist before the run, so that a path that cannot be written fails
    // at once.
    let (history_out, trace_out) = match (open_if_asked(options.history_out), open_if_asked(options.trace_out)) {
        (Ok(history), Ok(trace)) => (history, trace),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    if !options.json {
        print!("{}", render_header(&scenario, seed, &run_options, options.lang));
    }
    if tracing {
        // What the release decided, since a trace is read against Kafka's code of that release.
        for line in crate::scenario::render_switch_settings(&scenario) {
            println!("  {line}");
        }
    }
    // Shown before the run starts, so that a run that hangs still shows what it drew.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let outcome = runner::run_seed_with(&scenario, seed, &run_options);
    if options.json {
        let record = runner::sweep::SeedRecord::new(&scenario, &outcome);
        println!("{}", serde_json::to_string_pretty(&record).expect("seed records serialize"));
    } else {
        print!("{}", render_outcome(&scenario, &outcome));
    }
    if let Some(out) = history_out {
        if let Err(code) = write_jsonl(out, &outcome.history, false) {
            return code;
        }
    }
    if let Some(out) = trace_out {
        if let Err(code) = write_jsonl(out, &outcome.history, true) {
            return code;
        }
    }
    outcome.verdict(&scenario).status().exit_code()
}

/// Seconds with millisecond precision, as in "2.104 s".
fn seconds(ms: u64) -> String {
    format!("{}.{:03} s", ms / 1000, ms % 1000)
}

/// The human summary of one run.
pub fn render_run(scenario: &Scenario, outcome: &RunOutcome) -> String {
    render_header(scenario, outcome.seed, &outcome.options(), Lang::En) + &render_outcome(scenario, outcome)
}

/// What a run is, known before it runs: the scenario and seed, a planted bug, and what
/// the seed drew (`[swarm]`, `[nemesis]`). `run` prints it first, as TigerBeetle's VOPR
/// does, so that a run that hangs still shows its parameters. The title is in `lang`.
pub fn render_header(scenario: &Scenario, seed: u64, options: &runner::RunOptions, lang: Lang) -> String {
    let (instance, drawn) = runner::swarm::instantiate_draw(scenario, seed, options.draw.as_ref());
    let mut out = format!("scenario {} (seed {})\n", instance.name, seed);
    if let Some(bug) = options.plant {
        out += &format!("  PLANTED BUG {bug}: {}\n", bug.summary());
    }
    if let Some(title) = &instance.texts(lang).title {
        out += &format!("  {title}\n");
    }
    for line in drawn.iter().flat_map(|d| d.lines()) {
        out += &format!("  {line}\n");
    }
    out
}

/// What happened in a run: counts, anomalies, verdict, hash and replay command.
fn render_outcome(scenario: &Scenario, outcome: &RunOutcome) -> String {
    // Describe the processes this seed ran, after `[swarm]` drew their number and modes.
    let instance = outcome.instance(scenario);
    let scenario = &instance;
    let mut out = String::new();
    let s = &outcome.stats;
    if let Some(panic) = &outcome.panic {
        out += &format!("  PANIC in the simulation: {panic}\n");
    } else {
        out += &format!(
            "  sends: {} invoked, {} acknowledged, {} failed, {} unknown; {} distinct values consumed\n",
            s.sent, s.acked, s.failed, s.unknown, s.consumed
        );
        out += &format!(
            "  faults fired: {}; network messages: {}; simulated {} in {} wall, checked in {}\n",
            s.faults,
            s.messages,
            seconds(s.simulated_ms),
            seconds(s.wall_ms),
            seconds(s.check_wall_ms)
        );
        let safety_s = scenario.duration_ms as f64 / 1000.0;
        for (process, (name, spec)) in scenario.producer_instances().iter().enumerate() {
            let acked = s.acked_by_process.get(&(process as u64)).copied().unwrap_or(0);
            let mode = match spec.send_mode {
                crate::scenario::SendMode::Sync => "sync",
                crate::scenario::SendMode::Async => "async",
            };
            // A schedule is named with its steps (a constant rate is the file's number).
            let schedule = match spec.rate_per_sec.is_constant() {
                true => String::new(),
                false => format!(" at {}", spec.rate_per_sec),
            };
            out += &format!(
                "  {name} ({mode} sends{schedule}, process {process}): {acked} acknowledged, {:.1} per second of the safety phase\n",
                acked as f64 / safety_s
            );
        }
        for event in crate::report::describe::topic_events(&outcome.history, u64::MAX) {
            out += &format!("  {}\n", crate::report::describe::topic_event_line(&event));
        }
        for group in runner::grouped_unavailability(&outcome.unavailability) {
            let until = group.until_ms.map_or("the end".to_string(), seconds);
            let partitions = group.partitions_phrase(crate::scenario::Lang::En);
            out +=
                &format!("  unavailable: {partitions} had no live leader from {} to {until}\n", seconds(group.from_ms));
        }
        out += &render_rebalances(&outcome.history);
        if let Some(line) = crate::explain::mechanism::RefusedCommits::of(&outcome.history).line() {
            out += &format!("  {line}\n");
        }
        out += &render_anomalies(&outcome.anomalies);
        out += &render_reached(scenario, outcome);
    }
    let verdict = outcome.verdict(scenario);
    out += &format!("  expectation: {}\n", describe_seed_verdict(scenario, &verdict));
    out += &format!("  trace hash: {:016x}\n", outcome.trace_hash);
    out += &format!("  reproduce: {}\n", runner::replay_command_with(scenario, outcome.seed, &outcome.options()));
    out
}

/// One line per consumer group: its generations with the partitions each rebalance
/// moved (`range: 3 generations, moved 0, 3, 2`) and, when some generation left members
/// without partitions, how many (`; idle members 1, 0, 0`); then one line per group with
/// the time its partitions had no owner; nothing without groups.
fn render_rebalances(history: &crate::history::History) -> String {
    let all = crate::check::groups::rebalances(history);
    // Per group: its protocol, and each generation's (or member epoch's) moves and idle members.
    type Moves = (crate::protocol::GroupProtocol, Vec<(usize, usize)>);
    let mut by_group: std::collections::BTreeMap<&str, Moves> = std::collections::BTreeMap::new();
    for r in &all {
        by_group.entry(r.group.as_str()).or_insert((r.protocol, Vec::new())).1.push((r.moved, r.idle));
    }
    if by_group.is_empty() {
        return String::new();
    }
    let mut out = "  rebalances (partitions moved by each generation's or member epoch's assignment):
"
    .to_string();
    for (group, (protocol, generations)) in by_group {
        let moved: Vec<String> = generations.iter().map(|(moved, _)| moved.to_string()).collect();
        let idle = if generations.iter().any(|(_, idle)| *idle > 0) {
            let idle: Vec<String> = generations.iter().map(|(_, idle)| idle.to_string()).collect();
            format!("; idle members {}", idle.join(", "))
        } else {
            String::new()
        };
        let count = generations.len();
        out += &format!("    {group}: {count} {}s, moved {}{idle}\n", protocol.epoch_name(), moved.join(", "));
    }
    out += "  assignments (each generation's or member epoch's partitions per member):\n";
    for r in &all {
        out += &format!("    {} {}: {}\n", r.group, r.label(), r.assignment_line());
    }
    for gap in crate::check::groups::ownerless_time(history) {
        out += &format!("    {}: {}\n", gap.group, gap.summary());
    }
    out
}

/// The named protocol states the run reached, with how often, and the scenario's
/// `reach` goals it missed (a goal is judged over all seeds; one seed may miss it).
fn render_reached(scenario: &Scenario, outcome: &RunOutcome) -> String {
    let reached: Vec<String> = outcome.reached.iter().map(|(state, r)| format!("{state} x{}", r.count)).collect();
    let mut out =
        format!("  states reached: {}\n", if reached.is_empty() { "none".to_string() } else { reached.join(", ") });
    let missed: Vec<&str> =
        scenario.expect.reach.iter().filter(|g| !outcome.reached.contains(**g)).map(|g| g.name()).collect();
    if !missed.is_empty() {
        out += &format!("  reach goals not reached in this seed: {}\n", missed.join(", "));
    }
    out += &render_idle_faults(outcome);
    out
}

/// How many idle faults `run` names one by one; beyond that it counts them by kind and
/// reason, as `sweep` does, and names the first few (a long nightly run fires hundreds).
const IDLE_FAULTS_NAMED: usize = 8;

/// The faults that fired but changed nothing: each one, or counts and the first few.
fn render_idle_faults(outcome: &RunOutcome) -> String {
    let faults = &outcome.idle_faults;
    if faults.is_empty() {
        return String::new();
    }
    let named: Vec<String> = faults
        .iter()
        .take(IDLE_FAULTS_NAMED)
        .map(|f| {
            let on = if f.targets.is_empty() { String::new() } else { format!(" of {}", f.targets.join(", ")) };
            format!("{}{on} at {} ({})", f.kind, crate::check::describe::secs(f.fired_ns), f.why.describe())
        })
        .collect();
    if faults.len() <= IDLE_FAULTS_NAMED {
        return format!("  faults that changed nothing: {}\n", named.join("; "));
    }
    let mut counts = IdleFaults::default();
    counts.add(outcome.stats.faults, faults);
    let line = counts.line().unwrap_or_default();
    format!("  {line}; the first {IDLE_FAULTS_NAMED}: {}\n", named.join("; "))
}

pub(super) fn render_anomalies(anomalies: &[Anomaly]) -> String {
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

pub(super) fn describe_seed_verdict(scenario: &Scenario, verdict: &SeedVerdict) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::idle::{IdleFault, Idleness};
    use crate::fault::FaultKind;

    fn outcome_with_idle_pauses(n: u64) -> RunOutcome {
        let mut outcome = RunOutcome::panicked("s", 1, String::new(), 0);
        outcome.stats.faults = 2 * n;
        outcome.idle_faults = (0..n)
            .map(|i| IdleFault {
                kind: FaultKind::Pause,
                fired_ns: (i + 1) * 1_000_000_000,
                targets: vec!["broker-1".to_string()],
                why: Idleness::TargetsAlreadyDown,
            })
            .collect();
        outcome
    }

    #[test]
    fn a_few_idle_faults_are_named_and_many_are_counted_with_the_first_eight_named() {
        let few = render_idle_faults(&outcome_with_idle_pauses(2));
        assert_eq!(
            few,
            "  faults that changed nothing: pause of broker-1 at 1.000 s (every target was down already); \
             pause of broker-1 at 2.000 s (every target was down already)\n"
        );
        let many = render_idle_faults(&outcome_with_idle_pauses(30));
        assert!(
            many.starts_with(
                "  faults that fired but changed nothing: 30 of 60 (pause 30: every target was down already); \
                 the first 8: pause of broker-1 at 1.000 s"
            ),
            "{many}"
        );
        assert!(many.contains("at 8.000 s") && !many.contains("at 9.000 s"), "{many}");
        assert_eq!(render_idle_faults(&outcome_with_idle_pauses(0)), "");
    }
}
