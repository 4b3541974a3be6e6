//! The "Proof of the fix" section of a report, for a scenario with `[fix] set`: the
//! fix's settings applied, the report's seed and [`REPORT_MORE_SEEDS`] more (the
//! scenario's own first) rerun, and the verdict of [`crate::prove`] against the
//! lesson's anomalies, as `kafkasim explain --prove-fix` gives it over more seeds.

use super::markdown::scenario_path;
use super::svg::esc;
use super::ReportData;
use crate::prove::{self, proof_seeds, settings_text, target_kinds, Proof, REPORT_MORE_SEEDS};
use crate::runner::sweep::default_jobs;
use crate::runner::RunOutcome;
use crate::scenario::{self, Scenario, SetScope, Setting};

/// The proof, or why the fix could not be applied; `None` without `[fix] set`.
pub(crate) fn prove(scenario: &Scenario, outcome: &RunOutcome) -> Option<Result<Proof, String>> {
    if scenario.fix_settings.is_empty() {
        return None;
    }
    let settings: Vec<Setting> = scenario.settings.iter().chain(&scenario.fix_settings).cloned().collect();
    let fixed = match scenario::parse_with(&scenario.source, &scenario.path, &settings, SetScope::OneScenario) {
        Ok(fixed) => fixed,
        Err(e) => return Some(Err(e.to_string())),
    };
    let targets = target_kinds(scenario, || outcome.counts().into_keys().collect());
    let seeds = proof_seeds(scenario, outcome.seed, REPORT_MORE_SEEDS);
    Some(Ok(Proof::run(&fixed, &scenario.fix_settings, &seeds, &targets, default_jobs())))
}

/// The section's sentences, in order: what was applied and the verdict, the details,
/// the command that replays a counterexample, and the command that proves it further.
fn lines(data: &ReportData<'_>, proof: &Proof) -> Vec<String> {
    let (path, lang) = (scenario_path(data), data.lang);
    let (settings, verdict) = (settings_text(&proof.settings), proof.verdict_line(lang));
    let mut out = vec![lang.pick(
        format!("With the fix's settings applied ({settings}), rerun over the report's seed and {REPORT_MORE_SEEDS} more: {verdict}."),
        format!("应用修复的设置（{settings}）后，重跑报告的种子和另外 {REPORT_MORE_SEEDS} 个种子：{verdict}。"),
    )];
    out.extend(proof.detail_lines(lang).into_iter().map(|l| format!("{l}{}", lang.pick(".", "。"))));
    if let Some(trial) = proof.counterexample() {
        let set = prove::set_arguments_over(&data.scenario.settings, &proof.settings);
        let command = format!("kafkasim run {path} --seed {}{set}", trial.seed);
        out.push(lang.pick(
            format!("The counterexample replays with `{command}`."),
            format!("用 `{command}` 可以重放这个反例。"),
        ));
    }
    let command =
        format!("kafkasim explain {path} --seed {}{} --prove-fix", data.outcome.seed, data.scenario.set_arguments());
    out.push(lang.pick(
        format!("More seeds, and the story of a counterexample: `{command}`."),
        format!("更多种子以及反例的经过：`{command} --lang zh`。"),
    ));
    out
}

/// The section's heading.
fn heading(data: &ReportData<'_>) -> &'static str {
    data.lang.pick("Proof of the fix", "修复的证明")
}

/// The sentence said when the fix's settings do not apply.
fn refusal(data: &ReportData<'_>, error: &str) -> String {
    data.lang.pick(format!("The fix's settings could not be applied: {error}"), format!("无法应用修复的设置：{error}"))
}

/// The section in Markdown, or nothing.
pub(crate) fn markdown(data: &ReportData<'_>) -> String {
    match &data.proof {
        None => String::new(),
        Some(Err(e)) => format!("\n## {}\n\n{}\n", heading(data), refusal(data, e)),
        Some(Ok(proof)) => {
            let mut md = format!("\n## {}\n\n", heading(data));
            for line in lines(data, proof) {
                md += &format!("- {line}\n");
            }
            md
        }
    }
}

/// The section in HTML, or nothing.
pub(crate) fn html(data: &ReportData<'_>) -> String {
    match &data.proof {
        None => String::new(),
        Some(Err(e)) => format!("<h2>{}</h2>\n<p>{}</p>\n", heading(data), esc(&refusal(data, e))),
        Some(Ok(proof)) => {
            let mut h = format!("<h2>{}</h2>\n<ul id=\"proof\">", heading(data));
            for line in lines(data, proof) {
                h += &format!("<li>{}</li>", esc(&line));
            }
            h + "</ul>\n"
        }
    }
}
