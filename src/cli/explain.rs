//! `kafkasim explain FILE --seed N [--anomaly K] [--all]`: runs one seed and tells the
//! story of the first anomaly of each kind (or of every anomaly), in English or Chinese
//! (`--lang zh`).

use super::load_with;
use crate::check::AnomalyKind;
use crate::explain::{self, Setup};
use crate::runner;
use crate::runner::draw::Draw;
use crate::scenario::{Lang, SetScope, Setting};
use std::path::Path;

/// Parses an anomaly kind name for `--anomaly`, listing the valid names on error.
pub fn parse_kind(name: &str) -> Result<AnomalyKind, String> {
    AnomalyKind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown anomaly kind `{name}`; expected one of {}", names.join(", "))
    })
}

/// What `explain` tells: which run, which anomalies, in which language.
#[derive(Clone, Debug, Default)]
pub struct ExplainOptions {
    /// The seed (default: the scenario's first).
    pub seed: Option<u64>,
    /// A guided sweep's draw to replay (`--draw`).
    pub draw: Option<Draw>,
    /// Only anomalies of this kind.
    pub kind: Option<AnomalyKind>,
    /// Every anomaly, not one of each kind.
    pub all: bool,
    /// The language of the stories.
    pub lang: Lang,
}

/// Runs the seed and prints the stories in the options' language; returns the exit code
/// (0 whether or not anomalies were found: explaining is not judging).
pub fn explain_run(file: &Path, settings: &[Setting], options: ExplainOptions) -> i32 {
    let ExplainOptions { seed, draw, kind, all, lang } = options;
    let scenario = match load_with(file, settings, SetScope::OneScenario) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seed = seed.unwrap_or_else(|| crate::report::report_seed(&scenario));
    if let Some(Err(message)) = draw.as_ref().map(|d| d.check(&scenario, seed)) {
        eprintln!("error: --draw {}: {message}", draw.as_ref().expect("checked"));
        return super::EXIT_USAGE;
    }
    let run_options = runner::RunOptions { plant: None, draw };
    let outcome = runner::run_seed_with(&scenario, seed, &run_options);
    let found = outcome.anomalies.len();
    println!(
        "{}",
        lang.pick(
            format!("scenario {} (seed {seed}): {found} anomalies", scenario.name),
            format!("场景 {}（种子 {seed}）：{found} 个异常", scenario.name),
        )
    );
    if let Some(panic) = &outcome.panic {
        println!(
            "{}",
            lang.pick(format!("a simulated node panicked: {panic}"), format!("一个模拟节点发生了 panic：{panic}"))
        );
        return 3;
    }
    if let Some(line) = explain::mechanism::RefusedCommits::of(&outcome.history).line_in(lang) {
        println!("{line}");
    }
    // The configuration this seed ran: `[swarm]` may draw acks, idempotence, the ISR
    // minimum, ..., which the stories' prevention sentences depend on.
    let setup = Setup::from_scenario(&outcome.instance(&scenario));
    // One example per kind (explain::examples), or every anomaly with --all.
    let shown: Vec<usize> =
        if all { (0..outcome.anomalies.len()).collect() } else { explain::examples(&outcome.anomalies) };
    let anomalies: Vec<_> =
        shown.into_iter().map(|i| &outcome.anomalies[i]).filter(|a| kind.is_none_or(|k| a.kind == k)).collect();
    let tell = |lang| -> Vec<_> {
        anomalies.iter().map(|anomaly| explain::explain(&outcome.history, anomaly, &setup, lang)).collect()
    };
    let stories = tell(lang);
    // Jargon is introduced before the stories use it (issue 19). The glossary finds its
    // terms by their English words, so it reads the English telling of the same stories.
    let english = if lang == Lang::En { stories.clone() } else { tell(Lang::En) };
    let terms = explain::glossary::render_terms(&explain::terms_of(&english), lang);
    if !terms.is_empty() {
        print!("\n{terms}");
    }
    for story in &stories {
        println!("\n{}", explain::render_text(story));
    }
    if stories.is_empty() {
        let found: Vec<String> = outcome.counts().keys().map(|k| k.to_string()).collect();
        let found = if found.is_empty() { lang.pick("none", "无").to_string() } else { found.join(", ") };
        let text = match kind {
            Some(k) => lang.pick(
                format!("no {k} anomaly in this run (anomalies found: {found})"),
                format!("这次运行中没有 {k} 异常（发现的异常：{found}）"),
            ),
            None => lang.pick("no anomaly in this run: nothing to explain", "这次运行中没有异常：无可解释").to_string(),
        };
        println!("{text}");
    }
    println!("{}{}", lang.pick("reproduce: ", "复现："), runner::replay_command_with(&scenario, seed, &run_options));
    0
}
