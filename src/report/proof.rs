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
    let path = scenario_path(data);
    let mut out = vec![format!(
        "With the fix's settings applied ({}), rerun over the report's seed and {} more: {}.",
        settings_text(&proof.settings),
        REPORT_MORE_SEEDS,
        proof.verdict_line()
    )];
    out.extend(prove::Proof::detail_lines(proof).into_iter().map(|l| format!("{l}.")));
    if let Some(trial) = proof.counterexample() {
        let set = prove::set_arguments_over(&data.scenario.settings, &proof.settings);
        out.push(format!("The counterexample replays with `kafkasim run {path} --seed {}{set}`.", trial.seed));
    }
    let set = data.scenario.set_arguments();
    out.push(format!(
        "More seeds, and the story of a counterexample: `kafkasim explain {path} --seed {}{set} --prove-fix`.",
        data.outcome.seed
    ));
    out
}

/// The section in Markdown, or nothing.
pub(crate) fn markdown(data: &ReportData<'_>) -> String {
    match &data.proof {
        None => String::new(),
        Some(Err(e)) => format!("\n## Proof of the fix\n\nThe fix's settings could not be applied: {e}\n"),
        Some(Ok(proof)) => {
            let mut md = "\n## Proof of the fix\n\n".to_string();
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
        Some(Err(e)) => {
            format!("<h2>Proof of the fix</h2>\n<p>The fix's settings could not be applied: {}</p>\n", esc(e))
        }
        Some(Ok(proof)) => {
            let mut h = "<h2>Proof of the fix</h2>\n<ul id=\"proof\">".to_string();
            for line in lines(data, proof) {
                h += &format!("<li>{}</li>", esc(&line));
            }
            h + "</ul>\n"
        }
    }
}
