//! Proof of a fix, and what-if: a scenario rerun under settings (its `[fix] set`, or
//! candidate `--what-if KEY=VALUE` settings) over a seed and more seeds, each run judged
//! by the same checkers as `run` and `suite`, against the anomaly kinds the fix must
//! prevent.
//!
//! A fix *prevents* the anomalies when no seed tried shows any of the target kinds: the
//! kinds its `[fix] prevents` names (a release fix of one bug among the lesson's kinds),
//! else those the unfixed scenario's `[expect] present` lists, or, without that list, the
//! kinds the unfixed run of the chosen seed shows. A seed in which a simulated node
//! panicked proves nothing, so it counts as not prevented. Anomalies of other kinds
//! that appear under the fix are reported beside the verdict, never hidden, but do not
//! change it: a fix that trades skips for duplicates
//! (`commit-before-processing-skips`) prevents the skips.
//!
//! `what_if` holds the search for the smallest preventing set among candidates.

pub mod what_if;

use crate::check::AnomalyKind;
use crate::runner::sweep::parallel_seeds;
use crate::runner::{self, RunOutcome};
use crate::scenario::{Lang, Scenario, Setting};
use std::collections::{BTreeMap, BTreeSet};

/// How many seeds beyond the first `explain --prove-fix` and `--what-if` run by default.
pub const DEFAULT_MORE_SEEDS: usize = 20;

/// How many seeds beyond the report's seed a report's "Proof of the fix" runs (the
/// scenario's own first): few, so that regenerating the catalog's reports, and the test
/// that does it, stay quick; `explain --prove-fix` runs more.
pub const REPORT_MORE_SEEDS: usize = 3;

/// The seeds a proof runs: `first`, then `more` others: the scenario's own seeds first
/// (in file order), then the numbers after the largest seed used so far.
pub fn proof_seeds(scenario: &Scenario, first: u64, more: usize) -> Vec<u64> {
    let mut seeds = vec![first];
    for &seed in &scenario.seeds {
        if seeds.len() > more {
            break;
        }
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }
    let mut next = seeds.iter().copied().max().unwrap_or(0);
    while seeds.len() <= more {
        next += 1;
        if !seeds.contains(&next) {
            seeds.push(next);
        }
    }
    seeds
}

/// The anomaly kinds a fix of `scenario` must prevent: those its `[fix] prevents` names,
/// else those its `[expect] present` lists, or, when it lists none, those an unfixed run
/// shows (`shown`, called only then).
pub fn target_kinds(scenario: &Scenario, shown: impl FnOnce() -> Vec<AnomalyKind>) -> Vec<AnomalyKind> {
    if !scenario.fix_prevents.is_empty() {
        let named: BTreeSet<AnomalyKind> = scenario.fix_prevents.iter().copied().collect();
        named.into_iter().collect()
    } else if scenario.expect.present.is_empty() {
        shown()
    } else {
        let listed: BTreeSet<AnomalyKind> = scenario.expect.present.iter().copied().collect();
        listed.into_iter().collect()
    }
}

/// One seed run under the settings, judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trial {
    /// The seed.
    pub seed: u64,
    /// The target kinds this seed still shows.
    pub left: Vec<AnomalyKind>,
    /// Kinds this seed shows that are not targets.
    pub other: Vec<AnomalyKind>,
    /// The panic message, if a simulated node panicked (nothing is proved then).
    pub panic: Option<String>,
}

impl Trial {
    /// Judges one run against the targets.
    pub fn judge(outcome: &RunOutcome, targets: &[AnomalyKind]) -> Trial {
        let (left, other) = outcome.counts().into_keys().partition(|k| targets.contains(k));
        Trial { seed: outcome.seed, left, other, panic: outcome.panic.clone() }
    }

    /// Whether the settings prevented every target kind in this seed.
    pub fn prevented(&self) -> bool {
        self.left.is_empty() && self.panic.is_none()
    }
}

/// Settings tried over seeds, judged against the target kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The settings applied over the scenario, as `--set` takes them.
    pub settings: Vec<Setting>,
    /// The kinds they must prevent.
    pub targets: Vec<AnomalyKind>,
    /// Each seed tried, in the order run.
    pub trials: Vec<Trial>,
}

impl Proof {
    /// Runs `fixed` (the scenario loaded with `settings` applied) over `seeds` on `jobs`
    /// worker threads, judging each run against `targets`.
    pub fn run(fixed: &Scenario, settings: &[Setting], seeds: &[u64], targets: &[AnomalyKind], jobs: usize) -> Proof {
        let trials =
            parallel_seeds(seeds, jobs, |seed| Trial::judge(&runner::run_seed(fixed, seed), targets), None, |_| {});
        Proof { settings: settings.to_vec(), targets: targets.to_vec(), trials }
    }

    /// Whether every seed tried was prevented.
    pub fn prevented(&self) -> bool {
        self.trials.iter().all(Trial::prevented)
    }

    /// How many seeds were prevented.
    pub fn prevented_seeds(&self) -> usize {
        self.trials.iter().filter(|t| t.prevented()).count()
    }

    /// The first seed (in the order run) not prevented.
    pub fn counterexample(&self) -> Option<&Trial> {
        self.trials.iter().find(|t| !t.prevented())
    }

    /// Per target kind left, the number of seeds that still show it.
    pub fn left(&self) -> BTreeMap<AnomalyKind, usize> {
        count_seeds(self.trials.iter().flat_map(|t| &t.left))
    }

    /// Per other kind, the number of seeds that show it under the settings.
    pub fn other(&self) -> BTreeMap<AnomalyKind, usize> {
        count_seeds(self.trials.iter().flat_map(|t| &t.other))
    }

    /// The verdict in one line: `prevented in 21/21 seeds`, or `not prevented: seed S
    /// still shows KIND` (or `... a simulated node panicked`).
    pub fn verdict_line(&self, lang: Lang) -> String {
        let (prevented, tried) = (self.prevented_seeds(), self.trials.len());
        match self.counterexample() {
            None => lang.pick(
                format!("prevented in {prevented}/{tried} seeds"),
                format!("在 {prevented}/{tried} 个种子中都被阻止"),
            ),
            Some(Trial { seed, panic: Some(panic), .. }) => lang.pick(
                format!("not prevented: in seed {seed} a simulated node panicked ({panic})"),
                format!("没有被阻止：在种子 {seed} 中一个模拟节点发生了 panic（{panic}）"),
            ),
            Some(Trial { seed, left, .. }) => {
                let left = names_in(left, lang);
                lang.pick(
                    format!("not prevented: seed {seed} still shows {left}"),
                    format!("没有被阻止：种子 {seed} 仍然出现 {left}"),
                )
            }
        }
    }

    /// The lines after the verdict: the targets, the seeds, what is left and what else
    /// appeared under the settings.
    pub fn detail_lines(&self, lang: Lang) -> Vec<String> {
        let seeds: Vec<String> = self.trials.iter().map(|t| t.seed.to_string()).collect();
        let (targets, seeds) = (names_in(&self.targets, lang), seeds.join(", "));
        let mut lines = vec![
            lang.pick(format!("the lesson's anomalies: {targets}"), format!("本课要讲的异常：{targets}")),
            lang.pick(format!("seeds tried: {seeds}"), format!("试过的种子：{seeds}")),
        ];
        if !self.prevented() {
            let (prevented, tried, left) = (self.prevented_seeds(), self.trials.len(), seed_counts(&self.left(), lang));
            lines.push(lang.pick(
                format!("prevented in {prevented}/{tried} seeds; still shown: {left}"),
                format!("在 {prevented}/{tried} 个种子中被阻止；仍然出现：{left}"),
            ));
        }
        let other = self.other();
        if !other.is_empty() {
            let other = seed_counts(&other, lang);
            lines.push(lang.pick(
                format!("other anomalies under the fix (not judged): {other}"),
                format!("修复后出现的其他异常（不作评判）：{other}"),
            ));
        }
        lines
    }
}

fn count_seeds<'k>(kinds: impl Iterator<Item = &'k AnomalyKind>) -> BTreeMap<AnomalyKind, usize> {
    let mut counts = BTreeMap::new();
    for kind in kinds {
        *counts.entry(*kind).or_default() += 1;
    }
    counts
}

/// `lost-write, duplicate`; `none` when empty.
pub fn names(kinds: &[AnomalyKind]) -> String {
    names_in(kinds, Lang::En)
}

/// [`names`] in `lang` (the kinds keep their names; "none" is translated).
pub fn names_in(kinds: &[AnomalyKind], lang: Lang) -> String {
    if kinds.is_empty() {
        return lang.pick("none", "无").to_string();
    }
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

/// `lost-write (3 seeds), duplicate (1 seed)`; `none` when empty.
pub fn seed_counts(counts: &BTreeMap<AnomalyKind, usize>, lang: Lang) -> String {
    if counts.is_empty() {
        return lang.pick("none", "无").to_string();
    }
    let each = counts.iter().map(|(k, n)| {
        lang.pick(format!("{k} ({n} seed{})", if *n == 1 { "" } else { "s" }), format!("{k}（{n} 个种子）"))
    });
    each.collect::<Vec<_>>().join(", ")
}

/// The command-line arguments that load a scenario with `settings` over the command
/// line's `base` (` --set a=1 --set b=2`), as a replay command repeats them.
pub fn set_arguments_over(base: &[Setting], settings: &[Setting]) -> String {
    let all: Vec<Setting> = base.iter().chain(settings).cloned().collect();
    crate::scenario::set_arguments(&all)
}

/// The settings as `KEY=VALUE` words, comma-separated.
pub fn settings_text(settings: &[Setting]) -> String {
    settings.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
