//! `kafkasim suite [DIR] [--json] [--junit FILE] [--jobs N]`: every scenario of a
//! directory over its seeds; a table, a JSON document or a JUnit XML report; the exit
//! status of the worst outcome. A scenario fails when no seed reached one of its `reach`
//! goals; the named protocol states the seeds reached are reported per scenario (JSON)
//! and over the whole suite.

use super::run::render_anomalies;
use super::{load_with, EXIT_NO_INPUT, EXIT_OUTPUT};
use crate::coverage::idle::IdleFaults;
use crate::coverage::{Coverage, CoverageReport, ReachedState};
use crate::runner::sweep::{parallel_seeds, status_name, SeedRecord};
use crate::runner::{self, ScenarioVerdict, SeedVerdict, Status};
use crate::scenario::Scenario;
use crate::scenario::{SetScope, Setting};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The options of `suite`.
#[derive(Debug)]
pub struct SuiteOptions<'a> {
    /// Print one JSON document on stdout instead of the table.
    pub json: bool,
    /// Also write a JUnit XML report here.
    pub junit: Option<&'a Path>,
    /// Also write the catalog's claims (what each scenario's seeds showed) here.
    pub claims: Option<&'a Path>,
    /// Worker threads for each scenario's seeds.
    pub jobs: usize,
    /// A bug planted in every run (`--plant BUG`).
    pub plant: Option<crate::plant::PlantedBug>,
    /// The `--set` settings over every scenario that has a table for them.
    pub settings: &'a [Setting],
}

/// One seed of the suite, small enough to hand back from a worker thread.
struct SeedResult {
    record: SeedRecord,
    verdict: SeedVerdict,
    anomalies: String,
    wall_ms: u64,
}

/// One scenario's result, as in `suite --json`.
#[derive(Serialize)]
struct ScenarioReport {
    scenario: String,
    file: String,
    status: &'static str,
    exit_code: i32,
    /// Kinds the scenario expects in some seed (`present`) that appeared in none.
    missing: Vec<String>,
    /// The scenario's `reach` goals that no seed reached (a vacuous lesson).
    missed_goals: Vec<ReachedState>,
    /// The share of its seeds that reached each named protocol state.
    coverage: CoverageReport,
    seeds: Vec<SeedRecord>,
    #[serde(skip)]
    results: Vec<SeedResult>,
    #[serde(skip)]
    expects_present: Vec<String>,
    #[serde(skip)]
    reach: Vec<ReachedState>,
    #[serde(skip)]
    verdict: ScenarioVerdict,
}

/// The whole suite, as printed by `suite --json`.
#[derive(Serialize)]
struct SuiteReport {
    status: &'static str,
    exit_code: i32,
    /// The share of all the suite's seeds that reached each named protocol state.
    coverage: CoverageReport,
    scenarios: Vec<ScenarioReport>,
}

/// Runs the suite; returns the exit code of the worst outcome.
pub fn suite(dir: &Path, options: SuiteOptions<'_>) -> i32 {
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
    // The JUnit file exists before the runs, so that a path that cannot be written fails
    // at once, not after the whole suite.
    let junit = match super::run::open_if_asked(options.junit) {
        Ok(junit) => junit,
        Err(code) => return code,
    };
    let claims = match super::run::open_if_asked(options.claims) {
        Ok(claims) => claims,
        Err(code) => return code,
    };
    let mut scenarios = Vec::new();
    for file in &files {
        match load_with(file, options.settings, SetScope::Catalog) {
            Ok(s) => scenarios.push(s),
            Err(code) => return code,
        }
    }
    if !options.json {
        println!("{:<32} {:>5}  {:<16} anomalies (seeds showing each)", "scenario", "seeds", "result");
    }
    let mut reports = Vec::new();
    let mut worst = Status::Pass;
    for scenario in &scenarios {
        let jobs = super::jobs_within_budget(scenario, options.jobs);
        let report = run_one(scenario, jobs, &runner::RunOptions { plant: options.plant, draw: None });
        if !options.json {
            println!("{}", render_suite_row(&report.verdict));
            for result in report.results.iter().filter(|r| r.record.failed()) {
                println!("    failing seed, replay with: {}", result.record.replay);
            }
            if !report.missed_goals.is_empty() {
                println!("    {}", describe_missed_goals(&report.missed_goals));
            }
        }
        worst = worst.max(report.verdict.status);
        reports.push(report);
    }
    let mut coverage = Coverage::default();
    for seed in reports.iter().flat_map(|r| &r.verdict.seeds) {
        coverage.add(&seed.reached);
    }
    if !options.json {
        print!("{}", coverage.render());
        let mut idle = IdleFaults::default();
        for record in reports.iter().flat_map(|r| &r.results).map(|r| &r.record) {
            idle.add(record.faults_fired, &record.idle_faults);
        }
        if let Some(line) = idle.line() {
            println!("{line}");
        }
    }
    let report = SuiteReport {
        status: status_name(worst),
        exit_code: worst.exit_code(),
        coverage: coverage.report(),
        scenarios: reports,
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("the suite report serializes"));
    }
    let claims = claims.map(|(file, path)| {
        let verdicts: Vec<ScenarioVerdict> = report.scenarios.iter().map(|s| s.verdict.clone()).collect();
        (file, path, crate::report::claims::render(&claims_command(dir, path, &options), &verdicts))
    });
    let junit = junit.map(|(file, path)| (file, path, junit_xml(&report)));
    for (mut file, path, text) in junit.into_iter().chain(claims) {
        if let Err(e) = std::io::Write::write_all(&mut file, text.as_bytes()) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return EXIT_OUTPUT;
        }
    }
    worst.exit_code()
}

fn run_one(scenario: &Scenario, jobs: usize, run_options: &runner::RunOptions) -> ScenarioReport {
    let work = |seed| {
        let outcome = runner::run_seed_with(scenario, seed, run_options);
        SeedResult {
            record: SeedRecord::new(scenario, &outcome),
            verdict: outcome.verdict(scenario),
            anomalies: render_anomalies(&outcome.anomalies),
            wall_ms: outcome.stats.wall_ms,
        }
    };
    let results = parallel_seeds(&scenario.seeds, jobs, work, None, |_| {});
    let verdict = ScenarioVerdict::judge(scenario, results.iter().map(|r| r.verdict.clone()).collect());
    ScenarioReport {
        scenario: scenario.name.clone(),
        file: scenario.path.display().to_string(),
        status: status_name(verdict.status),
        exit_code: verdict.status.exit_code(),
        missing: verdict.missing.iter().map(|k| k.name().to_string()).collect(),
        missed_goals: verdict.missed_goals.clone(),
        coverage: verdict.coverage().report(),
        seeds: results.iter().map(|r| r.record.clone()).collect(),
        results,
        expects_present: scenario.expect.present.iter().map(|k| k.name().to_string()).collect(),
        reach: scenario.expect.reach.clone(),
        verdict,
    }
}

/// One line of the suite table.
pub fn render_suite_row(verdict: &ScenarioVerdict) -> String {
    let seen = crate::report::claims::claim_of(verdict).kinds;
    let mut anomalies: Vec<String> = seen.iter().map(|(k, n)| format!("{} ({n})", k.name())).collect();
    if anomalies.is_empty() {
        anomalies.push("none".into());
    }
    let mut result = verdict.status.word().to_string();
    if !verdict.missing.is_empty() {
        let names: Vec<&str> = verdict.missing.iter().map(|k| k.name()).collect();
        result += &format!(" missing {}", names.join(", "));
    }
    if !verdict.missed_goals.is_empty() {
        let names: Vec<&str> = verdict.missed_goals.iter().map(|s| s.name()).collect();
        result += &format!(" unreached {}", names.join(", "));
    }
    format!("{:<32} {:>5}  {:<16} {}", verdict.scenario, verdict.seeds.len(), result, anomalies.join(", "))
}

/// The command line that regenerates a claims document, for its header: the settings
/// and planted bug are part of what it claims.
fn claims_command(dir: &Path, path: &Path, options: &SuiteOptions<'_>) -> String {
    let mut command = format!("kafkasim suite {} --claims {}", dir.display(), path.display());
    if let Some(bug) = options.plant {
        command += &format!(" --plant {bug}");
    }
    command += &crate::scenario::set_arguments(options.settings);
    command
}

/// Why a scenario whose `reach` goals no seed reached fails.
pub fn describe_missed_goals(missed: &[ReachedState]) -> String {
    let names: Vec<&str> = missed.iter().map(|s| s.name()).collect();
    format!(
        "vacuous: no seed reached {} (listed in `reach`): the lesson depends on a state its runs never got to",
        names.join(", ")
    )
}

/// Escapes text for an XML attribute or element.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: one `<testsuite>` per scenario, one `<testcase>` per seed
/// (named `seed N`, class `kafkasim.SCENARIO`), plus a testcase `expected anomalies`
/// for a scenario whose `present` list must show up in some seed. A safety or liveness
/// failure is a `<failure>`, a simulated panic an `<error>`; each carries the anomalies
/// and the replay command.
fn junit_xml(report: &SuiteReport) -> String {
    let mut suites = String::new();
    let (mut total_tests, mut total_failures, mut total_errors, mut total_ms) = (0, 0, 0, 0u64);
    for scenario in &report.scenarios {
        let (mut tests, mut failures, mut errors, mut ms) = (0, 0, 0, 0u64);
        let mut cases = String::new();
        let class = xml(&format!("kafkasim.{}", scenario.scenario));
        for result in &scenario.results {
            tests += 1;
            ms += result.wall_ms;
            let r = &result.record;
            cases += &format!(
                "    <testcase classname=\"{class}\" name=\"seed {}\" time=\"{:.3}\"",
                r.seed,
                result.wall_ms as f64 / 1000.0
            );
            if !r.failed() {
                cases += "/>\n";
                continue;
            }
            let (element, message) = match &r.panic {
                Some(panic) => {
                    errors += 1;
                    ("error", format!("a simulated node panicked: {panic}"))
                }
                None => {
                    failures += 1;
                    ("failure", format!("forbidden anomalies: {}", r.forbidden.join(", ")))
                }
            };
            let body = format!("{}trace hash: {}\nreproduce: {}\n", result.anomalies, r.trace_hash, r.replay);
            cases += &format!(
                ">\n      <{element} type=\"{}\" message=\"{}\">{}</{element}>\n    </testcase>\n",
                r.status,
                xml(&message),
                xml(&body)
            );
        }
        // The expectations judged over all seeds: one testcase each, failed with `message`.
        let mut over_seeds = |name: &str, failure: Option<String>| {
            tests += 1;
            cases += &format!("    <testcase classname=\"{class}\" name=\"{name}\" time=\"0\"");
            match failure {
                None => cases += "/>\n",
                Some(message) => {
                    failures += 1;
                    cases += &format!(
                        ">\n      <failure type=\"safety\" message=\"{}\"/>\n    </testcase>\n",
                        xml(&message)
                    );
                }
            }
        };
        if !scenario.expects_present.is_empty() {
            let failure = (!scenario.missing.is_empty()).then(|| {
                format!(
                    "expected in some seed but seen in none: {} (expected: {})",
                    scenario.missing.join(", "),
                    scenario.expects_present.join(", ")
                )
            });
            over_seeds("expected anomalies", failure);
        }
        if !scenario.reach.is_empty() {
            over_seeds(
                "reach goals",
                (!scenario.missed_goals.is_empty()).then(|| describe_missed_goals(&scenario.missed_goals)),
            );
        }
        suites += &format!(
            "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\" file=\"{}\">\n{cases}  </testsuite>\n",
            xml(&scenario.scenario),
            ms as f64 / 1000.0,
            xml(&scenario.file)
        );
        total_tests += tests;
        total_failures += failures;
        total_errors += errors;
        total_ms += ms;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kafkasim\" tests=\"{total_tests}\" failures=\"{total_failures}\" errors=\"{total_errors}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        total_ms as f64 / 1000.0
    )
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
