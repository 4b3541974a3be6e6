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
use crate::fault::FaultKind;
use crate::history::Event;
use crate::runner::{self, RunOutcome};
use crate::scenario::{Lang, Scenario};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The width of a throughput bucket, in simulated nanoseconds (1 s: the workload groups
/// sends into 200 ms operations, so shorter buckets alias).
const BUCKET_NS: u64 = 1_000_000_000;

/// The two documents of a report, in one language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The language of the headings, the explanations and the stories.
    pub lang: Lang,
    /// The self-contained HTML page (`report.html`, `report.zh.html`).
    pub html: String,
    /// The Markdown summary (`README.md`, `README.zh.md`).
    pub markdown: String,
}

impl Report {
    /// The file names of the two documents in `lang`: English keeps the plain names, so
    /// a Chinese report sits beside the English one without replacing it.
    pub fn file_names(lang: Lang) -> (&'static str, &'static str) {
        match lang {
            Lang::En => ("report.html", "README.md"),
            Lang::Zh => ("report.zh.html", "README.zh.md"),
        }
    }
}

/// A row of the report's fault table: a fault fired, or its end.
pub(crate) struct FaultRow {
    pub time_ns: u64,
    pub kind: FaultKind,
    /// Whether this row is the fault's end.
    pub ended: bool,
    pub targets: Vec<String>,
    /// What it did, as the nemesis traced it.
    pub detail: String,
}

impl FaultRow {
    /// The fault column: `crash`, or `crash ends`.
    pub fn label(&self) -> String {
        match self.ended {
            false => self.kind.to_string(),
            true => format!("{} ends", self.kind),
        }
    }

    /// The targets column: the nodes named, every link for a network-wide fault, or
    /// none for a fault whose target named no node that was up.
    pub fn targets_text(&self, lang: Lang) -> String {
        match (self.targets.is_empty(), self.kind.is_network_wide()) {
            (false, _) => self.targets.join(", "),
            (true, true) => lang.pick("every link", "所有链路").to_string(),
            (true, false) => lang.pick("none", "无").to_string(),
        }
    }
}

/// Everything a report shows, gathered once from a scenario and a run.
pub(crate) struct ReportData<'a> {
    /// The language the documents are written in.
    pub lang: Lang,
    pub scenario: &'a Scenario,
    pub outcome: &'a RunOutcome,
    /// Every fault fired and ended, in trace order.
    pub faults: Vec<FaultRow>,
    /// Per anomaly kind: how many, and the story of the first, told in `lang`.
    pub stories: Vec<(AnomalyKind, usize, Story)>,
    /// The glossary terms the stories use, in reading order (found in their English
    /// telling, which is what the glossary matches).
    pub terms: Vec<explain::glossary::Term>,
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

/// Runs the seed and builds its report in each of `langs`.
pub fn generate(scenario: &Scenario, seed: u64, langs: &[Lang]) -> Vec<Report> {
    build(scenario, &runner::run_seed(scenario, seed), langs)
}

/// Builds the report of a finished run in each of `langs`. What does not depend on the
/// language (the proof of the fix's reruns above all) is computed once.
pub fn build(scenario: &Scenario, outcome: &RunOutcome, langs: &[Lang]) -> Vec<Report> {
    let history = &outcome.history;
    let end_ns =
        history.ops.iter().map(|o| o.time_ns).chain(history.trace.iter().map(|e| e.time_ns)).max().unwrap_or(0);
    let faults = history
        .trace
        .iter()
        .filter_map(|e| {
            let (kind, targets, detail, ended) = match &e.event {
                Event::Fault { kind, targets, detail } => (kind, targets, detail, false),
                Event::FaultEnded { kind, targets, detail } => (kind, targets, detail, true),
                _ => return None,
            };
            let (targets, detail) = (targets.clone(), detail.clone());
            Some(FaultRow { time_ns: e.time_ns, kind: *kind, ended, targets, detail })
        })
        .collect();
    // The cluster and settings this seed ran (`[swarm]` may draw them): the stories'
    // prevention sentences and the describe tables depend on them.
    let drawn = outcome.instance(scenario);
    let setup = Setup::from_scenario(&drawn);
    // One story per kind, in kind order, told of the example explain picks.
    let first: BTreeMap<AnomalyKind, usize> =
        explain::examples(&outcome.anomalies).into_iter().map(|i| (outcome.anomalies[i].kind, i)).collect();
    let stories = |lang: Lang| {
        first
            .iter()
            .map(|(&kind, &i)| {
                let count = outcome.anomalies.iter().filter(|a| a.kind == kind).count();
                (kind, count, explain::explain(history, &outcome.anomalies[i], &setup, lang))
            })
            .collect()
    };
    let described = describe::render_text(&describe::describe(history, &runner::topic_assignments(&drawn), None));
    let english: Vec<(AnomalyKind, usize, Story)> = stories(Lang::En);
    let terms = explain::terms_of(english.iter().map(|(_, _, story)| story));
    let mut data = ReportData {
        lang: Lang::En,
        scenario,
        outcome,
        faults,
        stories: english,
        terms,
        overtaken: timeline::overtaken_across_partitions(history),
        end_ns,
        verdict: String::new(),
        described,
        lags: lag::group_lags(history),
        proof: proof::prove(scenario, outcome),
    };
    let mut reports = Vec::new();
    for &lang in langs {
        if lang != data.lang {
            data.lang = lang;
            data.stories = stories(lang);
        }
        data.verdict = verdict_line(scenario, outcome, lang);
        reports.push(Report { lang, html: html::render(&data), markdown: markdown::render(&data) });
    }
    reports
}

/// Writes the report's two documents into `dir`, creating it, under their names in the
/// report's language ([`Report::file_names`]).
pub fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let (html_file, markdown_file) = Report::file_names(report.lang);
    std::fs::write(dir.join(html_file), &report.html)?;
    std::fs::write(dir.join(markdown_file), &report.markdown)
}

/// Records consumers received after a record their producer sent later, in another
/// partition (Kafka orders records only within a partition). Shown in reports; the
/// ordering lesson's tests read it.
pub fn overtaken_across_partitions(history: &crate::history::History) -> u64 {
    timeline::overtaken_across_partitions(history)
}

/// The run judged against the scenario's expectations, one line in `lang`.
fn verdict_line(scenario: &Scenario, outcome: &RunOutcome, lang: Lang) -> String {
    let verdict = outcome.verdict(scenario);
    if let Some(panic) = &verdict.panic {
        return lang.pick(
            format!("FAIL: a simulated node panicked ({panic})"),
            format!("失败：一个模拟节点发生了 panic（{panic}）"),
        );
    }
    if !verdict.forbidden.is_empty() {
        let names: Vec<&str> = verdict.forbidden.iter().map(|k| k.name()).collect();
        let names = names.join(", ");
        return lang.pick(
            format!("FAIL: forbidden anomalies appeared: {names}"),
            format!("失败：出现了被禁止的异常：{names}"),
        );
    }
    let shown: Vec<&str> =
        scenario.expect.present.iter().filter(|k| verdict.counts.contains_key(k)).map(|k| k.name()).collect();
    let shown = shown.join(", ");
    if scenario.expect.present.is_empty() {
        lang.pick("pass: no forbidden anomaly", "通过：没有被禁止的异常").to_string()
    } else if shown.is_empty() {
        lang.pick(
            "pass: no forbidden anomaly; the lesson's anomalies did not appear in this seed",
            "通过：没有被禁止的异常；本课要讲的异常没有在这个种子中出现",
        )
        .to_string()
    } else {
        lang.pick(
            format!("pass: no forbidden anomaly; the lesson's anomalies shown: {shown}"),
            format!("通过：没有被禁止的异常；本课要讲的异常出现了：{shown}"),
        )
    }
}

/// Simulated time as text, e.g. `2.104 s`.
fn secs(ns: u64) -> String {
    crate::check::describe::secs(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: FaultKind, ended: bool, targets: &[&str]) -> FaultRow {
        let targets = targets.iter().map(|t| t.to_string()).collect();
        FaultRow { time_ns: 0, kind, ended, targets, detail: String::new() }
    }

    #[test]
    fn a_fault_row_names_its_targets_every_link_or_none() {
        let crash = row(FaultKind::Crash, false, &["broker-1", "broker-2"]);
        assert_eq!((crash.label(), crash.targets_text(Lang::En)), ("crash".into(), "broker-1, broker-2".into()));
        let loss = row(FaultKind::PacketLoss, true, &[]);
        assert_eq!((loss.label(), loss.targets_text(Lang::En)), ("packet-loss ends".into(), "every link".into()));
        assert_eq!(loss.targets_text(Lang::Zh), "所有链路");
        let idle = row(FaultKind::Crash, false, &[]);
        assert_eq!((idle.targets_text(Lang::En), idle.targets_text(Lang::Zh)), ("none".into(), "无".into()));
    }
}
