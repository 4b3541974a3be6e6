//! Many seeds on worker threads: seed ranges, shards, and a parallel map that hands
//! results back in seed order, so that what a sweep reports does not depend on how many
//! threads ran it.
//!
//! Each seed still runs in its own fresh madsim runtime ([`super::run_seed`]); a madsim
//! runtime lives on the thread that created it, so workers share no simulation state.

use super::{replay_command_with, DrawnParameters, RunOutcome, Status};
use crate::coverage::idle::IdleFault;
use crate::coverage::{ReachedState, ReachedStates};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

/// Stack size of a worker thread. Simulated nodes run as futures polled on the worker's
/// stack; the main thread has 8 MiB, spawned threads only 2 MiB by default.
const WORKER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// A half-open range of seeds given on the command line: `A..B` (B excluded) or
/// `A..=B` (B included); a single number `N` means `N..=N`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRange(pub Range<u64>);

impl std::str::FromStr for SeedRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("expected a seed range such as 1..1001 (half-open) or 1..=1000, found {text:?}");
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| expected());
        let s = text.trim();
        let range = if let Some((a, b)) = s.split_once("..=") {
            num(a)?..num(b)?.checked_add(1).ok_or_else(expected)?
        } else if let Some((a, b)) = s.split_once("..") {
            num(a)?..num(b)?
        } else {
            let n = num(s)?;
            n..n.checked_add(1).ok_or_else(expected)?
        };
        if range.is_empty() {
            return Err(format!("the seed range {text:?} is empty; expected an end larger than the start"));
        }
        Ok(SeedRange(range))
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.0.start, self.0.end)
    }
}

/// One of `count` disjoint slices of a seed range, `index` counted from 1 (`--shard K/N`).
///
/// Shard K of N holds the seeds at positions K-1, K-1+N, K-1+2N, ... of the range
/// (striding, so that slow and fast seeds spread evenly). The N shards are disjoint and
/// together hold every seed of the range exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which slice, from 1 to `count`.
    pub index: u64,
    /// How many slices.
    pub count: u64,
}

impl Shard {
    /// The whole range as one shard.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// The seeds of `range` in this shard, in increasing order.
    pub fn seeds(self, range: &SeedRange) -> Vec<u64> {
        range.0.clone().skip((self.index - 1) as usize).step_by(self.count as usize).collect()
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expected = || format!("expected a shard K/N with 1 <= K <= N, such as 2/8, found {text:?}");
        let (k, n) = text.split_once('/').ok_or_else(expected)?;
        let index: u64 = k.trim().parse().map_err(|_| expected())?;
        let count: u64 = n.trim().parse().map_err(|_| expected())?;
        if index == 0 || count == 0 || index > count {
            return Err(expected());
        }
        Ok(Shard { index, count })
    }
}

/// The short status name used in JSON output: `pass`, `safety`, `liveness` or `panic`.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::SafetyFailure => "safety",
        Status::LivenessFailure => "liveness",
        Status::Crash => "panic",
    }
}

/// One seed's result as a JSON Lines record (`sweep --out`). Shards' files can simply be
/// concatenated: every line stands alone and names its scenario and seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRecord {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as given.
    pub file: String,
    /// The seed.
    pub seed: u64,
    /// `pass`, `safety`, `liveness` or `panic` (see [`status_name`]); judged against the
    /// scenario's `absent` list only, since `present` is judged over a set of seeds.
    pub status: String,
    /// The process exit code this status maps to.
    pub exit_code: i32,
    /// Anomaly counts by kind name.
    pub anomalies: BTreeMap<String, usize>,
    /// Kinds found that the scenario forbids.
    pub forbidden: Vec<String>,
    /// The trace hash, as 16 hex digits.
    pub trace_hash: String,
    /// What the seed drew with `[swarm]` and `[nemesis]` (the configuration, the fault
    /// kinds' probabilities, the mean interval and every drawn fault), as `run` prints
    /// it; null for a scenario that draws nothing.
    #[serde(default)]
    pub drawn: Option<DrawnParameters>,
    /// The panic message, if a simulated node panicked.
    pub panic: Option<String>,
    /// The command that replays this seed exactly.
    pub replay: String,
    /// The named protocol states the seed reached: per state, how often and when first
    /// (simulated nanoseconds).
    #[serde(default)]
    pub reached: ReachedStates,
    /// The scenario's `reach` goals this seed did not reach (the scenario misses a goal
    /// only when every seed does).
    #[serde(default)]
    pub missed_goals: Vec<ReachedState>,
    /// Faults fired in the run.
    #[serde(default)]
    pub faults_fired: u64,
    /// The faults that fired but changed nothing: kind, when, targets and why.
    #[serde(default)]
    pub idle_faults: Vec<IdleFault>,
}

impl SeedRecord {
    /// Summarises one run.
    pub fn new(scenario: &Scenario, outcome: &RunOutcome) -> Self {
        let verdict = outcome.verdict(scenario);
        let status = verdict.status();
        SeedRecord {
            scenario: scenario.name.clone(),
            file: scenario.path.display().to_string(),
            seed: outcome.seed,
            status: status_name(status).to_string(),
            exit_code: status.exit_code(),
            anomalies: verdict.counts.iter().map(|(k, n)| (k.name().to_string(), *n)).collect(),
            forbidden: verdict.forbidden.iter().map(|k| k.name().to_string()).collect(),
            trace_hash: format!("{:016x}", outcome.trace_hash),
            drawn: outcome.drawn.clone(),
            panic: outcome.panic.clone(),
            replay: replay_command_with(scenario, outcome.seed, &outcome.options()),
            reached: outcome.reached.clone(),
            missed_goals: scenario.expect.reach.iter().copied().filter(|g| !outcome.reached.contains(*g)).collect(),
            faults_fired: outcome.stats.faults,
            idle_faults: outcome.idle_faults.clone(),
        }
    }

    /// Whether the seed failed.
    pub fn failed(&self) -> bool {
        self.exit_code != 0
    }

    /// The states the seed reached.
    pub fn reached_states(&self) -> BTreeSet<ReachedState> {
        self.reached.states()
    }
}

/// Runs `work` over `seeds` on `jobs` worker threads and calls `emit` on the calling
/// thread with each result **in the order of `seeds`**, as soon as every earlier seed is
/// done. Returns the results in that order.
///
/// With `stop` set, the first result (in seed order) for which `stop` returns true ends
/// the sweep: seeds after it are not started, and results after it are dropped, so the
/// results are the same whatever `jobs` is: every seed up to and including the first
/// stopping one.
pub fn parallel_seeds<T: Send>(
    seeds: &[u64],
    jobs: usize,
    work: impl Fn(u64) -> T + Sync,
    stop: Option<&(dyn Fn(&T) -> bool + Sync)>,
    mut emit: impl FnMut(&T),
) -> Vec<T> {
    let mut ordered = Vec::new();
    for_each_seed(seeds, jobs, work, stop, |result| {
        emit(&result);
        ordered.push(result);
    });
    ordered
}

/// [`parallel_seeds`] without keeping the results: `emit` takes each one, in the order
/// of `seeds`, and what it does not keep is freed at once, so a long sweep holds only
/// what its caller tallies (a 10,000-seed sweep must hold no more than a 100-seed one).
/// Returns how many results were emitted.
pub fn for_each_seed<T: Send>(
    seeds: &[u64],
    jobs: usize,
    work: impl Fn(u64) -> T + Sync,
    stop: Option<&(dyn Fn(&T) -> bool + Sync)>,
    mut emit: impl FnMut(T),
) -> usize {
    let jobs = jobs.clamp(1, seeds.len().max(1));
    // Workers take positions in increasing order; `limit` is one past the last position
    // still worth running (lowered when a stopping result is found).
    let next = AtomicUsize::new(0);
    let limit = AtomicUsize::new(seeds.len());
    let (sender, receiver) = mpsc::channel::<(usize, T)>();
    let first_panic: Mutex<Option<Box<dyn std::any::Any + Send>>> = Mutex::new(None);
    let mut emitted = 0;
    std::thread::scope(|scope| {
        for worker in 0..jobs {
            let sender = sender.clone();
            let (next, limit, work, first_panic) = (&next, &limit, &work, &first_panic);
            std::thread::Builder::new()
                .name(format!("kafkasim-worker-{worker}"))
                .stack_size(WORKER_STACK_BYTES)
                .spawn_scoped(scope, move || loop {
                    let position = next.fetch_add(1, Ordering::SeqCst);
                    if position >= limit.load(Ordering::SeqCst) {
                        return;
                    }
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(seeds[position]))) {
                        Ok(result) => {
                            if sender.send((position, result)).is_err() {
                                return;
                            }
                        }
                        Err(payload) => {
                            // A panic outside the simulation (run_seed catches those
                            // inside): stop everyone and re-raise on the caller.
                            first_panic.lock().expect("not poisoned").get_or_insert(payload);
                            limit.store(0, Ordering::SeqCst);
                            return;
                        }
                    }
                })
                .expect("a worker thread starts");
        }
        drop(sender);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        for (position, result) in receiver {
            pending.insert(position, result);
            while let Some(result) = pending.remove(&emitted) {
                if emitted >= limit.load(Ordering::SeqCst) {
                    break;
                }
                if stop.is_some_and(|stop| stop(&result)) {
                    limit.fetch_min(emitted + 1, Ordering::SeqCst);
                }
                emit(result);
                emitted += 1;
            }
        }
    });
    if let Some(payload) = first_panic.into_inner().expect("not poisoned") {
        std::panic::resume_unwind(payload);
    }
    emitted
}

/// The default number of worker threads: the machine's available parallelism.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_are_half_open_or_inclusive() {
        assert_eq!("1..4".parse::<SeedRange>().unwrap().0, 1..4);
        assert_eq!("1..=4".parse::<SeedRange>().unwrap().0, 1..5);
        assert_eq!("7".parse::<SeedRange>().unwrap().0, 7..8);
        assert!("4..4".parse::<SeedRange>().is_err());
        assert!("a..b".parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_range() {
        let range: SeedRange = "10..31".parse().unwrap();
        let mut all: Vec<u64> = (1..=4).flat_map(|k| Shard { index: k, count: 4 }.seeds(&range)).collect();
        all.sort();
        assert_eq!(all, (10..31).collect::<Vec<_>>());
        assert_eq!(Shard { index: 2, count: 4 }.seeds(&range), vec![11, 15, 19, 23, 27]);
        assert_eq!("2/4".parse::<Shard>().unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/4", "5/4", "1/0", "1", "a/b"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn results_come_back_in_seed_order_whatever_the_job_count() {
        let seeds: Vec<u64> = (0..40).collect();
        for jobs in [1, 2, 7] {
            let mut emitted = Vec::new();
            let results = parallel_seeds(&seeds, jobs, |s| s * 2, None, |r| emitted.push(*r));
            assert_eq!(results, seeds.iter().map(|s| s * 2).collect::<Vec<_>>());
            assert_eq!(emitted, results);
        }
    }

    #[test]
    fn stopping_keeps_every_seed_up_to_the_first_stopping_one() {
        let seeds: Vec<u64> = (0..100).collect();
        for jobs in [1, 3, 8] {
            let stop = |r: &u64| *r % 17 == 16;
            let results = parallel_seeds(&seeds, jobs, |s| s, Some(&stop), |_| {});
            assert_eq!(results, (0..=16).collect::<Vec<_>>(), "jobs {jobs}");
        }
    }
}
