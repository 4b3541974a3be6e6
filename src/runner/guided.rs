//! Coverage-guided search (`sweep --guided`): instead of one fresh seed per run, keep the
//! runs that reached named protocol states ([`crate::coverage`]) few runs have reached so
//! far, and breed new runs from them by editing their fault schedules and settings
//! ([`Draw`]): a fault moved in time, retargeted, lengthened, removed or one added, the
//! settings drawn again, or the schedule of another kept run. Rare states are then
//! reached in fewer runs than with plain seeds, as a fuzzer's corpus reaches rare
//! branches (AFL's energy for rare edges; FoundationDB's buggify is its manual twin).
//!
//! # The same runs, whatever the threads
//!
//! Run `i` of a guided sweep over seeds `S` is either the plain run of seed `S[i]` or a
//! draw bred from an earlier run, run with seed `S[i]` or its parent's (the madsim
//! runtime's seed: its message timing). The runs go in batches of [`BATCH`]: a batch's draws are
//! chosen from the results of the batches before it only, with a [`SeedRng`] of the
//! range's first seed, so the runs and their order depend on the file, the seeds and
//! the options, never on `jobs` or timing. Every run replays alone with `kafkasim run
//! FILE --seed S[i] --draw DRAW`, as its replay command says.

use super::draw::{Draw, Edit};
use super::swarm::{try_instantiate_draw, SeedRng};
use super::sweep::parallel_seeds;
use super::{run_seed_with, RunOptions, RunOutcome};
use crate::coverage::{ReachedState, ReachedStates};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

/// The stream constant of the guided search's choices ("guided" in ASCII).
const GUIDED_STREAM: u64 = 0x0000_6775_6964_6564;
/// Runs whose draws are chosen together, from what the earlier batches reached.
pub const BATCH: usize = 16;
/// The first runs are plain seeds: the search needs something to breed from.
const WARM_UP_RUNS: usize = 2 * BATCH;
/// After the warm-up, the share of runs that are plain seeds still (new ground).
const PLAIN_SHARE: f64 = 0.25;
/// A state is rare while at most this share of the runs so far reached it (or at most
/// [`RARE_RUNS`] runs).
const RARE_SHARE: f64 = 0.05;
/// See [`RARE_SHARE`].
const RARE_RUNS: u64 = 3;
/// The most runs kept to breed from; the least rare go first.
const CORPUS_MAX: usize = 128;
/// The most edits a draw accumulates; a longer one starts again from its seeds.
const MAX_EDITS: usize = 12;

/// A kept run: how it was drawn and what it reached.
#[derive(Clone, Debug)]
struct Kept {
    /// The seed it ran with (the runtime's: message timing).
    seed: u64,
    draw: Draw,
    reached: BTreeSet<ReachedState>,
    /// The faults its schedule has (an edit names one by its index).
    faults: usize,
    /// Runs bred from it so far: a parent whose children keep missing loses its turn to
    /// fresher ones (AFL's fading energy).
    children: u32,
}

/// The search's state between batches.
struct Search<'a> {
    scenario: &'a Scenario,
    rng: SeedRng,
    /// Runs so far reaching each state.
    hits: BTreeMap<ReachedState, u64>,
    runs: u64,
    corpus: Vec<Kept>,
}

/// What a guided sweep runs: which scenario, how many runs (one per seed), on how many
/// threads, with which options.
#[derive(Clone, Copy, Debug)]
pub struct GuidedPlan<'a> {
    /// The scenario (with `[nemesis]`: without one every run is a plain seed).
    pub scenario: &'a Scenario,
    /// One run per seed, in order.
    pub seeds: &'a [u64],
    /// Worker threads (the runs do not depend on it).
    pub jobs: usize,
    /// Options of every run (a planted bug); the search sets each run's draw.
    pub options: &'a RunOptions,
}

/// Runs a guided sweep: one run per seed of the plan, in order, each with the plan's
/// options and the draw the search chose (`None`: the seed's plain run). `work` turns
/// each outcome into the caller's result and `reached` reads the states back from it;
/// `stop` and `emit` are as in [`parallel_seeds`] (the first stopping result ends the
/// sweep).
pub fn guided_sweep<T: Send>(
    plan: GuidedPlan<'_>,
    work: impl Fn(RunOutcome) -> T + Sync,
    reached: impl Fn(&T) -> &ReachedStates,
    stop: Option<&(dyn Fn(&T) -> bool + Sync)>,
    mut emit: impl FnMut(&T),
) -> Vec<T> {
    let GuidedPlan { scenario, seeds, jobs, options } = plan;
    let first = seeds.first().copied().unwrap_or(0);
    let mut search = Search {
        scenario,
        rng: SeedRng::new(first, GUIDED_STREAM),
        hits: BTreeMap::new(),
        runs: 0,
        corpus: Vec::new(),
    };
    let mut results = Vec::new();
    for batch in seeds.chunks(BATCH) {
        let runs: Vec<(u64, Option<Draw>)> =
            batch.iter().enumerate().map(|(i, &seed)| search.next_run(results.len() + i, seed)).collect();
        let positions: Vec<u64> = (0..batch.len() as u64).collect();
        let mut stopped = false;
        let done = parallel_seeds(
            &positions,
            jobs,
            |i| {
                let (seed, draw) = &runs[i as usize];
                let options = RunOptions { draw: draw.clone(), ..options.clone() };
                work(run_seed_with(scenario, *seed, &options))
            },
            stop,
            |result| {
                stopped |= stop.is_some_and(|stop| stop(result));
                emit(result);
            },
        );
        for (result, (seed, draw)) in done.iter().zip(&runs) {
            let draw = draw.clone().unwrap_or_else(|| Draw::plain(*seed));
            search.learn(*seed, draw, reached(result).states());
        }
        results.extend(done);
        if stopped {
            break;
        }
    }
    results
}

impl Search<'_> {
    /// The seed and draw of run `index`, whose own seed is `seed`: that seed's plain run,
    /// or a draw bred from the corpus. A child runs with its parent's seed half the time:
    /// the same message timing up to its first edited fault, so what the parent reached
    /// before that is reached again, and the edit explores from there.
    fn next_run(&mut self, index: usize, seed: u64) -> (u64, Option<Draw>) {
        if self.scenario.nemesis.is_none() || index < WARM_UP_RUNS || self.corpus.is_empty() {
            return (seed, None);
        }
        if self.rng.chance(PLAIN_SHARE) {
            return (seed, None);
        }
        let parent = self.pick_parent();
        let run_seed = if self.rng.chance(0.5) { parent.seed } else { seed };
        (run_seed, Some(self.breed(&parent, seed)))
    }

    /// A kept run, chosen with a weight that grows with the rarity of the rarest state
    /// it reached and fades with the children it already had.
    fn pick_parent(&mut self) -> Kept {
        let weights: Vec<f64> =
            self.corpus.iter().map(|k| self.rarity(&k.reached).powi(2) / (1.0 + f64::from(k.children))).collect();
        let total: f64 = weights.iter().sum();
        let mut x = self.rng.unit() * total;
        let mut chosen = self.corpus.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                chosen = i;
                break;
            }
            x -= w;
        }
        self.corpus[chosen].children += 1;
        self.corpus[chosen].clone()
    }

    /// How rare a set of states is now: one over the runs that reached its rarest state.
    fn rarity(&self, reached: &BTreeSet<ReachedState>) -> f64 {
        let fewest = reached.iter().map(|s| self.hits.get(s).copied().unwrap_or(1).max(1)).min();
        fewest.map_or(0.0, |runs| 1.0 / runs as f64)
    }

    /// A child of `parent` for run seed `seed`: one or two new edits, or now and then its
    /// settings drawn again or another kept run's schedule. Edits that do not apply (a
    /// schedule changed by new settings) are dropped, so every draw replays.
    fn breed(&mut self, parent: &Kept, seed: u64) -> Draw {
        let mut draw = parent.draw.clone();
        let mut faults = parent.faults;
        if draw.edits.len() >= MAX_EDITS {
            draw.edits.clear();
            faults = self.schedule_len(&draw);
        }
        let roll = self.rng.unit();
        if roll < 0.1 {
            // New settings, same schedule seed and edits (where they still apply).
            draw.settings_seed = seed;
            return self.applicable(draw);
        }
        if roll < 0.2 && self.corpus.len() > 1 {
            // This run's settings with another kept run's faults.
            let other = self.rng.range(0, self.corpus.len() as u64 - 1) as usize;
            let donor = &self.corpus[other].draw;
            draw.faults_seed = donor.faults_seed;
            draw.edits = donor.edits.clone();
            return self.applicable(draw);
        }
        for _ in 0..self.rng.range(1, 2) {
            let edit = self.edit(faults);
            faults = match edit {
                Edit::Add { .. } => faults + 1,
                Edit::Remove { .. } => faults - 1,
                _ => faults,
            };
            draw.edits.push(edit);
        }
        draw
    }

    /// One random edit of a schedule of `faults` faults.
    fn edit(&mut self, faults: usize) -> Edit {
        let nemesis = self.scenario.nemesis.as_ref().expect("guided draws need a nemesis");
        let rng = &mut self.rng;
        let fault = |rng: &mut SeedRng| rng.range(0, faults as u64 - 1) as usize;
        let roll = if faults == 0 { 0.6 } else { rng.unit() };
        match roll {
            r if r < 0.3 => {
                let span = nemesis.interval_ms as i64;
                let delta_ms = rng.range(0, 2 * span as u64) as i64 - span;
                Edit::Shift { fault: fault(rng), delta_ms }
            }
            r if r < 0.55 => Edit::Retarget { fault: fault(rng), seed: rng.range(0, 999_999) },
            r if r < 0.75 => {
                let at_ms = rng.range(nemesis.start_ms, self.scenario.duration_ms.saturating_sub(1));
                Edit::Add { at_ms, seed: rng.range(0, 999_999) }
            }
            r if r < 0.9 || faults < 2 => {
                let duration_ms = rng.range(nemesis.duration_ms_min, nemesis.duration_ms_max);
                Edit::Stretch { fault: fault(rng), duration_ms }
            }
            _ => Edit::Remove { fault: fault(rng) },
        }
    }

    /// `draw` with the edits that no longer apply dropped (from the first that does not).
    fn applicable(&self, mut draw: Draw) -> Draw {
        while try_instantiate_draw(self.scenario, 0, Some(&draw)).is_err() {
            draw.edits.pop();
        }
        draw
    }

    /// The faults `draw`'s schedule has.
    fn schedule_len(&self, draw: &Draw) -> usize {
        try_instantiate_draw(self.scenario, 0, Some(draw))
            .ok()
            .and_then(|(_, drawn)| drawn)
            .map_or(0, |drawn| drawn.faults.len())
    }

    /// Counts a finished run and keeps it when it reached a state that is rare so far.
    fn learn(&mut self, seed: u64, draw: Draw, reached: BTreeSet<ReachedState>) {
        self.runs += 1;
        for state in &reached {
            *self.hits.entry(*state).or_default() += 1;
        }
        let rare_below = RARE_RUNS.max((self.runs as f64 * RARE_SHARE) as u64);
        if !reached.iter().any(|s| self.hits[s] <= rare_below) {
            return;
        }
        let faults = self.schedule_len(&draw);
        self.corpus.push(Kept { seed, draw, reached, faults, children: 0 });
        if self.corpus.len() > CORPUS_MAX {
            let least = (0..self.corpus.len())
                .min_by(|&a, &b| self.rarity(&self.corpus[a].reached).total_cmp(&self.rarity(&self.corpus[b].reached)))
                .expect("a non-empty corpus");
            self.corpus.remove(least);
        }
    }
}
