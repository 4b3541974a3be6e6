//! Reports a person would rather look at: for one run of a scenario, a self-contained
//! HTML page (inline SVG charts, no network access needed) and a Markdown summary,
//! written to `reports/<scenario>/`. Everything in them comes from the scenario and the
//! recorded history, never from the wall clock, so the same seed gives the same bytes
//! and the committed reports can be regenerated and compared.
//!
//! `timeline` reads what the charts draw from the history and trace; `svg` draws them;
//! `html` and `markdown` lay out the two documents from one [`ReportData`]. `plot` draws
//! the line plot of `kafkasim experiment` (figures over a varied setting's values).
//! `group_lanes` follows each consumer group's members and generations for its chart.
//! `lag` follows each consumer group's lag per partition over the run. `claims` is the
//! catalog's generated record of what the suite found per scenario.

pub mod claims;
pub mod describe;
mod group_lanes;
mod html;
pub mod lag;
mod markdown;
pub mod plot;
mod proof;
mod svg;
mod timeline;

use crate::check::AnomalyKind;
use crate::explain::{self, Setup, Story};
use crate::history::Event;
use crate::runner::{self, RunOutcome};
use crate::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The width of a throughput bucket, in simulated nanoseconds (1 s: the workload groups
/// sends into 200 ms operations, so shorter buckets alias).
const BUCKET_NS: u64 = 1_000_000_000;

/// The two documents of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The self-contained HTML page (`report.html`).
    pub html: String,
    /// The Markdown summary (`README.md`).
    pub markdown: String,
}

/// Everything a report shows, gathered once from a scenario and a run.
pub(crate) struct ReportData<'a> {
    pub scenario: &'a Scenario,
    pub outcome: &'a RunOutcome,
    /// `(time, kind, targets, detail)` of every fault fired.
    pub faults: Vec<(u64, String, Vec<String>, String)>,
    /// Per anomaly kind: how many, and the story of the first.
    pub stories: Vec<(AnomalyKind, usize, Story)>,
    /// Records consumers received after a later-sent record of another partition.
    pub overtaken: u64,
    /// The last simulated instant of the run, in nanoseconds.
    pub end_ns: u64,
    /// The verdict against the scenario's expectations, one line.
    pub verdict: String,
    /// The topics and groups at the end of the run, as `kafkasim describe` prints them.
    pub described: String,
    /// Each consumer group's lag per partition over the run.
    pub lags: Vec<lag::GroupLag>,
    /// The proof of the fix, for a scenario with `[fix] set` (or why its settings could
    /// not be applied).
    pub proof: Option<Result<crate::prove::Proof, String>>,
}

/// The seed a scenario's committed report uses: the first of its seeds.
pub fn report_seed(scenario: &Scenario) -> u64 {
    scenario.seeds.first().copied().unwrap_or(0)
}

/// Where a scenario's report goes under a reports root: `ROOT/<scenario name>/`.
pub fn report_dir(root: &Path, scenario: &Scenario) -> PathBuf {
    root.join(&scenario.name)
}

/// Runs the seed and builds its report.
pub fn generate(scenario: &Scenario, seed: u64) -> Report {
    build(scenario, &runner::run_seed(scenario, seed))
}

/// Builds the report of a finished run.
pub fn build(scenario: &Scenario, outcome: &RunOutcome) -> Report {
    let history = &outcome.history;
    let end_ns =
        history.ops.iter().map(|o| o.time_ns).chain(history.trace.iter().map(|e| e.time_ns)).max().unwrap_or(0);
    let faults = history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::Fault { kind, targets, detail } => {
                Some((e.time_ns, kind.to_string(), targets.clone(), detail.clone()))
            }
            Event::FaultEnded { kind, targets, detail } => {
                Some((e.time_ns, format!("{kind} ends"), targets.clone(), detail.clone()))
            }
            _ => None,
        })
        .collect();
    let setup = Setup::from_scenario(scenario);
    // One story per kind, in kind order, told of the example explain picks.
    let first: BTreeMap<AnomalyKind, usize> =
        explain::examples(&outcome.anomalies).into_iter().map(|i| (outcome.anomalies[i].kind, i)).collect();
    let stories = first
        .into_iter()
        .map(|(kind, i)| {
            let count = outcome.anomalies.iter().filter(|a| a.kind == kind).count();
            (kind, count, explain::explain(history, &outcome.anomalies[i], &setup, crate::scenario::Lang::En))
        })
        .collect();
    let verdict = verdict_line(scenario, outcome);
    let described = describe::render_text(&describe::describe(history, &runner::topic_assignments(scenario), None));
    let data = ReportData {
        scenario,
        outcome,
        faults,
        stories,
        overtaken: timeline::overtaken_across_partitions(history),
        end_ns,
        verdict,
        described,
        lags: lag::group_lags(history),
        proof: proof::prove(scenario, outcome),
    };
    Report { html: html::render(&data), markdown: markdown::render(&data) }
}

/// Writes `report.html` and `README.md` into `dir`, creating it.
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.html"), &report.html)?;
    std::fs::write(dir.join("README.md"), &report.markdown)
}

/// Records consumers received after a record their producer sent later, in another
/// partition (Kafka orders records only within a partition). Shown in reports; the
/// ordering lesson's tests read it.
pub fn overtaken_across_partitions(history: &crate::history::History) -> u64 {
    timeline::overtaken_across_partitions(history)
}

/// The run judged against the scenario's expectations, one line.
fn verdict_line(scenario: &Scenario, outcome: &RunOutcome) -> String {
    let verdict = outcome.verdict(scenario);
    if let Some(panic) = &verdict.panic {
        return format!("FAIL: a simulated node panicked ({panic})");
    }
    if !verdict.forbidden.is_empty() {
        let names: Vec<&str> = verdict.forbidden.iter().map(|k| k.name()).collect();
        return format!("FAIL: forbidden anomalies appeared: {}", names.join(", "));
    }
    let shown: Vec<&str> =
        scenario.expect.present.iter().filter(|k| verdict.counts.contains_key(k)).map(|k| k.name()).collect();
    if scenario.expect.present.is_empty() {
        "pass: no forbidden anomaly".to_string()
    } else if shown.is_empty() {
        "pass: no forbidden anomaly; the lesson's anomalies did not appear in this seed".to_string()
    } else {
        format!("pass: no forbidden anomaly; the lesson's anomalies shown: {}", shown.join(", "))
    }
}

/// Simulated time as text, e.g. `2.104 s`.
fn secs(ns: u64) -> String {
    crate::check::describe::secs(ns)
}
