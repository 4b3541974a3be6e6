//! `sweep --guided`: runs bred from those that reached rare protocol states reach them
//! far more often than plain seeds, the same runs come out whatever the threads, every
//! guided run replays alone from its `--draw`, and bad draws are refused clearly.

use crate::support::{kafkasim, load, scratch_dir, stdout};
use kafkasim::coverage::{ReachedState, ReachedStates};
use kafkasim::runner::guided::{guided_sweep, GuidedPlan};
use kafkasim::runner::{self, RunOptions, RunOutcome};

/// The states at most 1% of swarm.toml's plain seeds reach (1,000 seeds: 2, 10 and 2).
const RARE: [ReachedState; 3] =
    [ReachedState::ZombieControllerFenced, ReachedState::ProducerEpochBumped, ReachedState::PowerLossLostUnflushed];

/// What a test keeps of a run: its trace hash, states and replay options.
struct Kept {
    seed: u64,
    trace_hash: u64,
    reached: ReachedStates,
    options: RunOptions,
}

fn keep(outcome: RunOutcome) -> Kept {
    Kept { seed: outcome.seed, trace_hash: outcome.trace_hash, options: outcome.options(), reached: outcome.reached }
}

fn guided(seeds: std::ops::Range<u64>, jobs: usize) -> Vec<Kept> {
    let seeds: Vec<u64> = seeds.collect();
    let (scenario, options) = (load("swarm"), RunOptions::default());
    let plan = GuidedPlan { scenario: &scenario, seeds: &seeds, jobs, options: &options };
    guided_sweep(plan, keep, |k| &k.reached, None, |_| {})
}

fn rare_hits(reached: impl Iterator<Item = ReachedStates>) -> usize {
    reached.map(|r| RARE.iter().filter(|s| r.contains(**s)).count()).sum()
}

#[test]
fn guided_runs_reach_rare_states_many_times_more_often_than_plain_seeds() {
    let swarm = load("swarm");
    // README's 1,000 runs each: the search needs a few hundred runs before its corpus
    // holds rare states (at 320 runs, 18 hits against 8; at 640, 48 against 10).
    let plain = rare_hits((1..1001).map(|seed| runner::run_seed(&swarm, seed).reached));
    let guided = guided(1..1001, 2);
    let bred = guided.iter().filter(|k| k.options.draw.is_some()).count();
    let hits = rare_hits(guided.into_iter().map(|k| k.reached));
    // Measured: 101 against 14 (README, "Coverage-guided search"; 79 against 8 before a
    // client took a connection's responses in request order on a reordering link, 212
    // against 8 before the purgatory woke only the requests watching a changed partition).
    assert!(hits >= 5 * plain.max(1), "rare-state hits: guided {hits}, plain {plain}");
    assert!(bred > 500, "most runs after the warm-up are bred ({bred} of 1000)");
}

#[test]
fn a_guided_sweep_is_the_same_on_any_thread_count_and_each_run_replays_from_its_draw() {
    let one = guided(1..65, 1);
    let two = guided(1..65, 2);
    let hashes = |runs: &[Kept]| runs.iter().map(|k| (k.seed, k.trace_hash)).collect::<Vec<_>>();
    assert_eq!(hashes(&one), hashes(&two));
    let swarm = load("swarm");
    let bred: Vec<&Kept> = two.iter().filter(|k| k.options.draw.is_some()).collect();
    assert!(bred.len() >= 10, "the second half is mostly bred");
    for kept in bred.iter().take(3) {
        let alone = runner::run_seed_with(&swarm, kept.seed, &kept.options);
        assert_eq!(
            alone.trace_hash,
            kept.trace_hash,
            "{}",
            runner::replay_command_with(&swarm, kept.seed, &kept.options)
        );
    }
}

#[test]
fn guided_sweeps_and_draws_are_refused_clearly_where_they_cannot_apply() {
    // A scenario without a nemesis has no schedule to breed from.
    let output = kafkasim(&["sweep", "scenarios/acks1-leader-crash.toml", "--seeds", "1..3", "--guided"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--guided needs a scenario with [nemesis]"));
    // An edit of a fault the schedule does not have.
    let output = kafkasim(&["run", "scenarios/swarm.toml", "--seed", "1", "--draw", "settings=1,faults=1,remove=99"]);
    assert_eq!(output.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edit 1 (`remove=99`) names fault 99, but the schedule has"), "{stderr}");
    let output = kafkasim(&["run", "scenarios/swarm.toml", "--draw", "settings=1,faults=1,move=2"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown edit `move`"));
    // A draw runs and says so; a sweep's JSON line carries it in the replay command.
    let output =
        kafkasim(&["run", "scenarios/swarm.toml", "--seed", "3", "--draw", "settings=3,faults=5,shift=0:+100ms"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("guided draw: settings=3,faults=5,shift=0:+100ms"), "{text}");
    assert!(text
        .contains("reproduce: kafkasim run scenarios/swarm.toml --seed 3 --draw settings=3,faults=5,shift=0:+100ms"));
    let output =
        kafkasim(&["explain", "scenarios/swarm.toml", "--seed", "3", "--draw", "settings=3,faults=5,shift=0:+100ms"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("reproduce: kafkasim run scenarios/swarm.toml --seed 3 --draw settings=3,faults=5")
    );
    let output = kafkasim(&["explain", "scenarios/swarm.toml", "--draw", "settings=1,faults=1,stretch=99:5ms"]);
    assert_eq!(output.status.code(), Some(64));
    let out = scratch_dir("guided").join("runs.jsonl");
    let args = ["sweep", "scenarios/swarm.toml", "--seeds", "1..49", "--guided", "--out", out.to_str().unwrap()];
    assert_eq!(kafkasim(&args).status.code(), Some(0));
    let lines = std::fs::read_to_string(&out).unwrap();
    assert_eq!(lines.lines().count(), 48);
    assert!(lines.lines().skip(32).any(|l| l.contains("--draw settings=")), "bred runs after the warm-up");
}
