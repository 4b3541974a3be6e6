//! `kafkasim explain FILE --seed N --prove-fix [--seeds-more M]` and `kafkasim explain
//! FILE --seed N --what-if KEY=VALUE ... [--seeds-more M]`: a scenario rerun under its
//! `[fix] set`, or under candidate settings, over seed N and M more seeds (see
//! [`crate::prove`]).
//!
//! Exit codes: 0 prevented (or nothing to prevent), 1 not prevented, 3 a simulated node
//! panicked in the counterexample, 64 a scenario without `[fix] set`, 65/66 a scenario
//! (or a setting) that does not load.

use super::{load_with, EXIT_USAGE};
use crate::check::AnomalyKind;
use crate::explain::{self, Setup};
use crate::prove::what_if;
use crate::prove::{self, proof_seeds, settings_text, target_kinds, Proof};
use crate::runner;
use crate::runner::sweep::default_jobs;
use crate::scenario::{Lang, Scenario, SetScope, Setting};
use std::path::Path;

/// What `explain` is asked to prove.
#[derive(Clone, Copy, Debug)]
pub struct ProveOptions<'a> {
    /// `--set` settings, applied under every run, fixed or not.
    pub settings: &'a [Setting],
    /// The first seed (default: the scenario's first).
    pub seed: Option<u64>,
    /// How many seeds after the first.
    pub more: usize,
    /// The language of what is printed (the stories of counterexamples too).
    pub lang: Lang,
}

/// The scenario loaded with `extra` settings over the command line's.
fn load_under(file: &Path, options: &ProveOptions<'_>, extra: &[Setting]) -> Result<Scenario, i32> {
    let all: Vec<Setting> = options.settings.iter().chain(extra).cloned().collect();
    load_with(file, &all, SetScope::OneScenario)
}

/// `--prove-fix`: returns the exit code.
pub fn prove_fix(file: &Path, options: ProveOptions<'_>) -> i32 {
    let scenario = match load_under(file, &options, &[]) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if scenario.fix_settings.is_empty() {
        eprintln!(
            "error: {} has no [fix] set: no settings to apply; --prove-fix needs a [fix] table with the \
             settings of the fix, such as set = {{ \"enable.idempotence\" = true }} (or try candidates with \
             --what-if KEY=VALUE)",
            file.display()
        );
        return EXIT_USAGE;
    }
    let fixed = match load_under(file, &options, &scenario.fix_settings) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (seed, lang) = (options.seed.unwrap_or_else(|| crate::report::report_seed(&scenario)), options.lang);
    let (name, settings) = (&scenario.name, settings_text(&scenario.fix_settings));
    println!(
        "{}",
        lang.pick(
            format!("scenario {name}: proof of the fix ({settings})"),
            format!("场景 {name}：修复的证明（{settings}）")
        )
    );
    let Some(targets) = targets(&scenario, seed, lang) else { return 0 };
    let seeds = proof_seeds(&scenario, seed, options.more);
    let proof = Proof::run(&fixed, &scenario.fix_settings, &seeds, &targets, default_jobs());
    for line in proof.detail_lines(lang) {
        println!("{line}");
    }
    println!("{}", proof.verdict_line(lang));
    match proof.counterexample() {
        None => 0,
        Some(trial) => {
            tell_counterexample(&fixed, trial.seed, &trial.left, lang);
            if trial.panic.is_some() {
                3
            } else {
                1
            }
        }
    }
}

/// The kinds to prevent, printed with where they come from; `None` (after saying so)
/// when there is nothing to prevent.
fn targets(scenario: &Scenario, seed: u64, lang: Lang) -> Option<Vec<AnomalyKind>> {
    if !scenario.expect.present.is_empty() {
        return Some(target_kinds(scenario, Vec::new));
    }
    let targets = target_kinds(scenario, || runner::run_seed(scenario, seed).counts().into_keys().collect());
    if targets.is_empty() {
        println!(
            "{}",
            lang.pick(
                format!("seed {seed} shows no anomaly without the fix: nothing to prevent"),
                format!("种子 {seed} 在没有修复时不出现异常：无可阻止"),
            )
        );
        return None;
    }
    let shown = prove::names_in(&targets, lang);
    println!(
        "{}",
        lang.pick(
            format!("seed {seed} without the fix shows: {shown}"),
            format!("种子 {seed} 在没有修复时出现：{shown}")
        )
    );
    Some(targets)
}

/// The story of the first anomaly of the first kind left in `seed` under the settings,
/// and the command that replays it.
fn tell_counterexample(fixed: &Scenario, seed: u64, left: &[AnomalyKind], lang: Lang) {
    let outcome = runner::run_seed(fixed, seed);
    let setup = Setup::from_scenario(fixed);
    if let Some(anomaly) = left.first().and_then(|k| outcome.anomalies.iter().find(|a| a.kind == *k)) {
        println!("\n{}", explain::render_text(&explain::explain(&outcome.history, anomaly, &setup, lang)));
    }
    println!("{}{}", lang.pick("reproduce: ", "复现："), runner::replay_command(fixed, seed));
}

/// `--what-if`: returns the exit code.
pub fn what_if(file: &Path, options: ProveOptions<'_>, candidates: &[Setting]) -> i32 {
    let scenario = match load_under(file, &options, &[]) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Every candidate loads alone before anything runs (pairs load when they are tried).
    for candidate in candidates {
        if let Err(code) = load_under(file, &options, std::slice::from_ref(candidate)) {
            return code;
        }
    }
    let (seed, lang) = (options.seed.unwrap_or_else(|| crate::report::report_seed(&scenario)), options.lang);
    let unfixed = runner::run_seed(&scenario, seed);
    if let Some(panic) = &unfixed.panic {
        println!(
            "{}",
            lang.pick(
                format!("seed {seed}: a simulated node panicked without the candidates ({panic})"),
                format!("种子 {seed}：不加候选设置时一个模拟节点发生了 panic（{panic}）"),
            )
        );
        return 3;
    }
    let targets: Vec<AnomalyKind> = unfixed.counts().into_keys().collect();
    let (name, shown) = (&scenario.name, prove::names_in(&targets, lang));
    println!(
        "{}",
        lang.pick(format!("scenario {name} seed {seed}: {shown}"), format!("场景 {name} 种子 {seed}：{shown}"))
    );
    if targets.is_empty() {
        println!(
            "{}",
            lang.pick(
                "no anomaly in this run: nothing for --what-if to prevent",
                "这次运行中没有异常：--what-if 无可阻止"
            )
        );
        return 0;
    }
    let seeds = proof_seeds(&scenario, seed, options.more);
    let seed_list: Vec<String> = seeds.iter().map(u64::to_string).collect();
    println!("{}{}\n", lang.pick("seeds tried: ", "试过的种子："), seed_list.join(", "));
    let result = what_if::search(candidates, |set| {
        let fixed = load_under(file, &options, set)?;
        Ok::<_, i32>(Proof::run(&fixed, set, &seeds, &targets, default_jobs()))
    });
    match result {
        Err(code) => code,
        Ok(found) => {
            print!("{}", found.render(lang));
            if found.answer().is_some() {
                0
            } else {
                1
            }
        }
    }
}
