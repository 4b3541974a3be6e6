//! Shrinking: reduce a failing run to a minimal reproduction. Starting from the scenario
//! file's text, a greedy delta-debugging loop tries smaller variants ([`edits`]: fewer
//! faults, a shorter run, fewer records, clients and partitions, shorter and later
//! faults), runs each with the same seed, and keeps the first that still shows the chosen
//! anomaly kind, until no variant does. It edits the file as a `toml_edit` document, so
//! comments and untouched settings survive, and every variant is read back by the
//! scenario parser before it runs: the result is a scenario file like any other.
//!
//! Determinism: candidates are tried in a fixed order and the first that reproduces wins,
//! so the result depends only on the file, the seed and the options, not on `jobs` (which
//! only evaluates the next few candidates side by side) nor on timing.

pub mod doc;
pub mod edits;

use crate::check::AnomalyKind;
use crate::runner::{self, RunOptions, RunOutcome};
use crate::scenario::{self, Scenario};
use doc::Dims;
use edits::Edit;
use std::collections::BTreeMap;
use std::fmt;
use toml_edit::DocumentMut;

/// The default bound on candidates tried (see [`ShrinkOptions::max_tries`]).
pub const DEFAULT_MAX_TRIES: usize = 300;

/// How to shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// The seed of the failing run.
    pub seed: u64,
    /// The anomaly kind to preserve; `None` chooses one ([`choose_anomaly`]).
    pub anomaly: Option<AnomalyKind>,
    /// Options for every run (for example a planted bug).
    pub run: RunOptions,
    /// The most candidates to run (counted as if they ran one by one, whatever `jobs`);
    /// the shrinker stops with the smallest scenario so far after that.
    pub max_tries: usize,
    /// How many candidates to run side by side (does not change the result).
    pub jobs: usize,
}

/// One accepted reduction.
#[derive(Clone, Debug)]
pub struct Step {
    /// What changed, e.g. "removed fault 2 (crash at 5s)".
    pub description: String,
    /// The scenario's sizes after the step.
    pub dims: Dims,
    /// Candidates tried so far.
    pub tries: usize,
}

/// The result of shrinking.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The anomaly kind every accepted step preserved.
    pub anomaly: AnomalyKind,
    /// The anomaly kinds the original run showed.
    pub original_anomalies: Vec<AnomalyKind>,
    /// The original scenario's sizes.
    pub original: Dims,
    /// The minimal scenario's sizes.
    pub minimal: Dims,
    /// The minimal scenario's file text (without the header [`Shrunk::file_text`] adds).
    pub text: String,
    /// The accepted steps, in order.
    pub steps: Vec<Step>,
    /// Candidates run, counted as if one by one (see [`ShrinkOptions::max_tries`]).
    pub tries: usize,
    /// Simulations actually run, the original included (with `jobs` above 1, some run
    /// ahead and are discarded).
    pub runs: usize,
    /// True when `max_tries` stopped the search before no candidate reproduced.
    pub exhausted: bool,
}

/// Why shrinking could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShrinkError {
    /// The run panicked instead of showing anomalies (panics are not shrunk).
    Panicked(String),
    /// The run showed no anomaly: nothing to preserve.
    NoAnomaly,
    /// The anomaly asked for did not appear; the run showed these.
    NotShown {
        /// The kind asked for.
        wanted: AnomalyKind,
        /// The kinds the run showed.
        shown: Vec<AnomalyKind>,
    },
    /// The scenario text could not be edited (not valid TOML for `toml_edit`).
    Unreadable(String),
    /// The same run, with only the scenario's name and seed list rewritten, no longer
    /// showed the anomaly (a determinism bug: the name should not change a run).
    Unstable(AnomalyKind),
}

impl fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShrinkError::Panicked(message) => {
                write!(f, "the run panicked ({message}); shrink preserves anomalies, not panics")
            }
            ShrinkError::NoAnomaly => f.write_str("the run shows no anomaly: nothing to shrink"),
            ShrinkError::NotShown { wanted, shown } => {
                let shown: Vec<&str> = shown.iter().map(|k| k.name()).collect();
                write!(f, "the run does not show `{wanted}`; it shows: {}", shown.join(", "))
            }
            ShrinkError::Unreadable(message) => write!(f, "cannot edit the scenario text: {message}"),
            ShrinkError::Unstable(kind) => write!(
                f,
                "the run no longer shows `{kind}` once the scenario's name and seeds are rewritten: \
                 the run is not deterministic (try `kafkasim check-determinism`)"
            ),
        }
    }
}

/// The kind to preserve: `wanted` when the run shows it; otherwise the first kind (in
/// report order, [`AnomalyKind::ALL`]) that the scenario forbids (`absent`), else the
/// first kind shown.
pub fn choose_anomaly(
    scenario: &Scenario,
    outcome: &RunOutcome,
    wanted: Option<AnomalyKind>,
) -> Result<AnomalyKind, ShrinkError> {
    if let Some(message) = &outcome.panic {
        return Err(ShrinkError::Panicked(message.clone()));
    }
    let shown = kinds(outcome);
    match wanted {
        Some(kind) if shown.contains(&kind) => Ok(kind),
        Some(kind) => Err(ShrinkError::NotShown { wanted: kind, shown }),
        None => shown
            .iter()
            .find(|k| outcome.forbidden_kinds(scenario).contains(k))
            .or(shown.first())
            .copied()
            .ok_or(ShrinkError::NoAnomaly),
    }
}

fn kinds(outcome: &RunOutcome) -> Vec<AnomalyKind> {
    let mut kinds: Vec<AnomalyKind> = outcome.anomalies.iter().map(|a| a.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Shrinks a run of `scenario` (its file text, [`Scenario::source`]) to a minimal
/// scenario that still shows the anomaly. `on_step` sees every accepted reduction.
pub fn shrink(
    scenario: &Scenario,
    options: &ShrinkOptions,
    mut on_step: impl FnMut(&Step),
) -> Result<Shrunk, ShrinkError> {
    let first = runner::run_seed_with(scenario, options.seed, &options.run);
    let anomaly = choose_anomaly(scenario, &first, options.anomaly)?;
    let mut doc: DocumentMut =
        scenario.source.parse().map_err(|e: toml_edit::TomlError| ShrinkError::Unreadable(e.to_string()))?;
    // The written file names itself and its seed, so `kafkasim run FILE` replays it.
    doc["name"] = toml_edit::value(format!("{}-shrunk", scenario.name));
    doc["seeds"] = toml_edit::value(toml_edit::Array::from_iter([options.seed as i64]));
    let original = Dims::read(&doc);
    let mut search = Search { scenario, options, anomaly, known: BTreeMap::new(), tries: 0, runs: 1 };
    let mut steps = Vec::new();
    let mut exhausted = false;
    let mut text = doc.to_string();
    if search.verdict(&text) != Verdict::Reproduces {
        return Err(ShrinkError::Unstable(anomaly));
    }
    {
        loop {
            let dims = Dims::read(&doc);
            let candidates = candidate_texts(&doc, &dims, &text);
            match search.first_reproducing(&candidates) {
                Found::Yes(i) => {
                    let (edit, next) = &candidates[i];
                    let description = edit.describe(&dims);
                    text = next.clone();
                    doc = text.parse().expect("a candidate the scenario parser accepted is valid TOML");
                    let step = Step { description, dims: Dims::read(&doc), tries: search.tries };
                    on_step(&step);
                    steps.push(step);
                }
                Found::No => break,
                Found::OutOfTries => {
                    exhausted = true;
                    break;
                }
            }
        }
    }
    Ok(Shrunk {
        anomaly,
        original_anomalies: kinds(&first),
        original,
        minimal: Dims::read(&doc),
        text,
        steps,
        tries: search.tries,
        runs: search.runs,
        exhausted,
    })
}

impl Shrunk {
    /// The file to write: a comment saying where it came from and how to replay it, then
    /// the minimal scenario. `source` is the original file's command-line form, `out`
    /// the path the text is written to.
    pub fn file_text(&self, source: &str, out: &str, seed: u64, options: &RunOptions) -> String {
        let plant = options.plant.map_or(String::new(), |bug| format!(" --plant {bug}"));
        format!(
            "# Shrunk by `kafkasim shrink {source} --seed {seed}{plant}`, keeping `{}`.\n\
             # Original: {}.\n# Minimal:  {}.\n# Replay:   kafkasim run {out} --seed {seed}{plant}\n\n{}",
            self.anomaly,
            self.original.summary(),
            self.minimal.summary(),
            self.text
        )
    }
}

/// The candidates for one round, as (edit, file text), without repeats or no-ops.
fn candidate_texts(doc: &DocumentMut, dims: &Dims, current: &str) -> Vec<(Edit, String)> {
    let mut out: Vec<(Edit, String)> = Vec::new();
    for edit in edits::candidates(dims) {
        let mut next = doc.clone();
        if edit.apply(&mut next) {
            let text = next.to_string();
            if text != current && !out.iter().any(|(_, t)| *t == text) {
                out.push((edit, text));
            }
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// The scenario parser refused the text (for example a fault past the run's end).
    Invalid,
    Reproduces,
    Gone,
}

enum Found {
    Yes(usize),
    No,
    OutOfTries,
}

struct Search<'a> {
    scenario: &'a Scenario,
    options: &'a ShrinkOptions,
    anomaly: AnomalyKind,
    /// Every text run so far and whether it reproduced: a run depends only on its text
    /// and the seed.
    known: BTreeMap<String, Verdict>,
    tries: usize,
    runs: usize,
}

impl Search<'_> {
    /// Runs one text (or recalls its result).
    fn verdict(&mut self, text: &str) -> Verdict {
        if let Some(v) = self.known.get(text) {
            return *v;
        }
        let v = match self.parse(text) {
            Some(candidate) => {
                self.runs += 1;
                self.judge(&runner::run_seed_with(&candidate, self.options.seed, &self.options.run))
            }
            None => Verdict::Invalid,
        };
        self.known.insert(text.to_string(), v);
        v
    }

    fn parse(&self, text: &str) -> Option<Scenario> {
        scenario::parse(text, &self.scenario.path).ok()
    }

    fn judge(&self, outcome: &RunOutcome) -> Verdict {
        if outcome.panic.is_none() && outcome.anomalies.iter().any(|a| a.kind == self.anomaly) {
            Verdict::Reproduces
        } else {
            Verdict::Gone
        }
    }

    /// The first candidate, in order, that reproduces. Runs up to `jobs` unknown
    /// candidates side by side, but keeps (and counts as tries) only the verdicts up to
    /// the first success, exactly what running them one by one would have produced: the
    /// result and the try count do not depend on `jobs`.
    fn first_reproducing(&mut self, candidates: &[(Edit, String)]) -> Found {
        let jobs = self.options.jobs.max(1);
        let mut next = 0;
        while next < candidates.len() {
            // The next `jobs` candidates whose verdict is unknown and that parse.
            let mut batch: Vec<(usize, Scenario)> = Vec::new();
            for (i, (_, text)) in candidates.iter().enumerate().skip(next) {
                if batch.len() == jobs {
                    break;
                }
                if self.known.contains_key(text) {
                    continue;
                }
                match self.parse(text) {
                    Some(s) => batch.push((i, s)),
                    None => {
                        self.known.insert(text.clone(), Verdict::Invalid);
                    }
                }
            }
            let fresh: BTreeMap<usize, Verdict> = std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .iter()
                    .map(|(i, s)| (*i, scope.spawn(|| runner::run_seed_with(s, self.options.seed, &self.options.run))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| (i, self.judge(&h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))))
                    .collect()
            });
            self.runs += fresh.len();
            // Walk the candidates whose verdicts are now known, in order.
            while next < candidates.len() {
                let text = &candidates[next].1;
                let verdict = match (self.known.get(text), fresh.get(&next)) {
                    (Some(&v), _) => v,
                    (None, Some(&v)) => {
                        if self.tries >= self.options.max_tries {
                            return Found::OutOfTries;
                        }
                        self.tries += 1;
                        self.known.insert(text.clone(), v);
                        v
                    }
                    (None, None) => break,
                };
                if verdict == Verdict::Reproduces {
                    return Found::Yes(next);
                }
                next += 1;
            }
        }
        Found::No
    }
}
