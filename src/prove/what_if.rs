//! `--what-if`: which of some candidate settings prevents a failing run's anomalies.
//!
//! Each candidate alone is tried first, every one of them, for the table. If none
//! prevents every target kind in every seed, pairs are tried in candidate order
//! (`a+b`, `a+c`, ..., `b+c`, ...; a pair that sets one key twice is no combination and
//! is skipped) until one does. The answer is the smallest preventing set, ties broken by
//! candidate order; larger sets are not searched.

use super::{names_in, seed_counts, Proof};
use crate::scenario::Lang;
use crate::scenario::Setting;

/// One set of candidates tried, with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The candidates' positions in the candidate list, increasing.
    pub candidates: Vec<usize>,
    /// How the set fared.
    pub proof: Proof,
}

/// The result of a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatIf {
    /// The candidates, in command-line order.
    pub candidates: Vec<Setting>,
    /// Every set tried: the single candidates in order, then the pairs tried.
    pub rows: Vec<Row>,
}

/// The largest set of candidates tried together.
pub const MAX_SET: usize = 2;

/// Tries the candidates alone, then in pairs while none prevents; `try_set` runs one set
/// of settings over the seeds (an error, such as a setting the scenario has no table
/// for, ends the search).
pub fn search<E>(candidates: &[Setting], mut try_set: impl FnMut(&[Setting]) -> Result<Proof, E>) -> Result<WhatIf, E> {
    let mut rows = Vec::new();
    for size in 1..=MAX_SET {
        for set in sets(candidates, size) {
            let settings: Vec<Setting> = set.iter().map(|&i| candidates[i].clone()).collect();
            let proof = try_set(&settings)?;
            let prevented = proof.prevented();
            rows.push(Row { candidates: set, proof });
            // The singles all run, for the table; the first preventing pair ends it.
            if prevented && size > 1 {
                break;
            }
        }
        if rows.iter().any(|r| r.proof.prevented()) {
            break;
        }
    }
    Ok(WhatIf { candidates: candidates.to_vec(), rows })
}

/// The sets of `size` candidates, in candidate order, without two settings of one key.
pub fn sets(candidates: &[Setting], size: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = vec![vec![]];
    for _ in 0..size {
        let mut longer = Vec::new();
        for set in &out {
            let start = set.last().map_or(0, |&l| l + 1);
            for i in start..candidates.len() {
                if set.iter().all(|&j| candidates[j].key != candidates[i].key) {
                    longer.push([set.as_slice(), &[i]].concat());
                }
            }
        }
        out = longer;
    }
    out
}

impl WhatIf {
    /// The smallest preventing set: the first preventing row, since rows go by size and
    /// then by candidate order.
    pub fn answer(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.proof.prevented())
    }

    /// A set's settings as `a=1 + b=2`.
    pub fn label(&self, row: &Row) -> String {
        row.candidates.iter().map(|&i| self.candidates[i].to_string()).collect::<Vec<_>>().join(" + ")
    }

    /// The table of every set tried and the answer, as `explain --what-if` prints them,
    /// in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let labels: Vec<String> = self.rows.iter().map(|r| self.label(r)).collect();
        let (candidate, prevented) = (lang.pick("candidate", "候选"), lang.pick("prevented", "阻止"));
        // Padding counts characters; a CJK character is two columns wide, so the Chinese
        // headings get the columns they take.
        let columns = |text: &str| text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
        let width = labels.iter().map(|l| l.chars().count()).chain([columns(candidate)]).max().unwrap_or(0);
        let pad = |text: &str, to: usize| " ".repeat(to.saturating_sub(columns(text)));
        let mut out = format!(
            "{candidate}{}  {}{prevented}  {}\n",
            pad(candidate, width),
            pad(prevented, 9),
            lang.pick("anomalies left (seeds showing each)", "剩下的异常（出现它的种子数）")
        );
        for (row, label) in self.rows.iter().zip(&labels) {
            let proof = &row.proof;
            let mut left = seed_counts(&proof.left(), lang);
            let panics = proof.trials.iter().filter(|t| t.panic.is_some()).count();
            if panics > 0 {
                left += &lang.pick(
                    format!("; a simulated node panicked in {panics} seed(s)"),
                    format!("；在 {panics} 个种子中有模拟节点发生了 panic"),
                );
            }
            let tally = format!("{}/{}", proof.prevented_seeds(), proof.trials.len());
            out += &format!("{label:<width$}  {tally:>9}  {left}\n");
        }
        match self.answer() {
            Some(row) => {
                let (change, kinds) = (self.label(row), names_in(&row.proof.targets, lang));
                out += &lang.pick(
                    format!("\nsmallest preventing change: {change} (prevents {kinds} in every seed tried)\n"),
                    format!("\n能阻止异常的最小改动：{change}（在试过的每个种子中都阻止了 {kinds}）\n"),
                )
            }
            None => {
                let pairs = self.candidates.len() > 1;
                let kinds = names_in(self.rows.first().map_or(&[][..], |r| &r.proof.targets), lang);
                out += &lang.pick(
                    format!(
                        "\nno candidate {}prevents {kinds} in every seed tried\n",
                        if pairs { "alone or in pairs " } else { "" }
                    ),
                    format!(
                        "\n没有哪个候选{}能在试过的每个种子中阻止 {kinds}\n",
                        if pairs { "（单独或两两组合）" } else { "" }
                    ),
                )
            }
        }
        out
    }
}
