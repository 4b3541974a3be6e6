//! `kafkasim check-determinism FILE --seeds A..B [--jobs N]`: runs each seed twice, each
//! time in a fresh runtime, and compares trace hashes; on a mismatch prints the first
//! diverging history op or trace event.

use super::load;
use super::sweep::progress_bar;
use crate::history::first_divergence;
use crate::runner;
use crate::runner::sweep::{parallel_seeds, SeedRange};
use std::path::Path;

/// Exit code when some seed gave two different runs.
pub const EXIT_NONDETERMINISTIC: i32 = 4;

/// One seed's two runs.
struct Comparison {
    seed: u64,
    hashes: (u64, u64),
    /// What differed, for a person; `None` when both runs were identical.
    difference: Option<String>,
}

/// Runs the check; returns 0 when every seed replayed identically, else
/// [`EXIT_NONDETERMINISTIC`].
pub fn check_determinism(file: &Path, seeds: &SeedRange, jobs: usize) -> i32 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let seeds: Vec<u64> = seeds.0.clone().collect();
    let bar = progress_bar(seeds.len(), "");
    let work = |seed| {
        let first = runner::run_seed(&scenario, seed);
        let second = runner::run_seed(&scenario, seed);
        let difference = if first.panic != second.panic {
            Some(format!("run 1 panicked: {:?}\n  run 2 panicked: {:?}", first.panic, second.panic))
        } else {
            first_divergence(&first.history, &second.history).map(|d| d.to_string())
        };
        Comparison { seed, hashes: (first.trace_hash, second.trace_hash), difference }
    };
    let mut mismatches = 0;
    let results = parallel_seeds(&seeds, jobs, work, None, |c: &Comparison| {
        bar.inc(1);
        if c.difference.is_some() || c.hashes.0 != c.hashes.1 {
            mismatches += 1;
            bar.set_message(format!("{mismatches} failures"));
            bar.suspend(|| {
                println!("seed {}: NOT deterministic: trace hash {:016x} then {:016x}", c.seed, c.hashes.0, c.hashes.1);
                println!("  {}", c.difference.as_deref().unwrap_or("the hashes differ but the recordings are equal"));
                println!("  reproduce: {} (twice)", runner::replay_command(&scenario, c.seed));
            });
        }
    });
    bar.finish_and_clear();
    if mismatches == 0 {
        println!("{}: {} seeds, each run twice: identical trace hashes", scenario.name, results.len());
        0
    } else {
        println!("{}: {mismatches} of {} seeds gave two different runs", scenario.name, results.len());
        EXIT_NONDETERMINISTIC
    }
}
