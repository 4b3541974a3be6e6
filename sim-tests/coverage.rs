//! Named protocol states (code probes) and `reach` goals, end to end: a lesson reaches
//! its state and its fixed twin does not, a goal no seed reaches fails the suite, and
//! probes leave every run as it was (its trace hash).

use crate::support::{kafkasim, load, run, scratch_dir, stdout};
use kafkasim::coverage::ReachedState;
use kafkasim::runner::{self, Status};
use kafkasim::scenario;
use std::path::Path;

/// The trace hash a committed report shows for `seed` of the catalog scenario `name`.
fn committed_hash(name: &str, seed: u64) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports").join(name).join("README.md");
    let text = std::fs::read_to_string(&path).expect("the committed report exists");
    assert!(text.contains(&format!("seed {seed}")), "the report of {name} is of seed {seed}");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("- trace hash: "))
        .unwrap_or_else(|| panic!("no trace hash in {}", path.display()))
        .to_string()
}

#[test]
fn an_unclean_election_reaches_its_state_and_probes_change_no_trace_hash() {
    let lesson = run(&load("unclean-election"), 1);
    assert!(lesson.reached.contains(ReachedState::UncleanElection), "{:?}", lesson.reached);
    assert!(lesson.reached.contains(ReachedState::IsrShrunkToLeader), "{:?}", lesson.reached);
    // The probes are counted beside the trace: the run is the one the committed report shows.
    assert_eq!(format!("{:016x}", lesson.trace_hash), committed_hash("unclean-election", 1));
    let verdict = lesson.verdict(&load("unclean-election"));
    assert!(verdict.reached.contains(&ReachedState::UncleanElection));
}

#[test]
fn the_fixed_twin_never_elects_an_unclean_leader() {
    let fixed = load("unclean-election-disabled");
    for &seed in &fixed.seeds {
        let outcome = run(&fixed, seed);
        assert!(!outcome.reached.contains(ReachedState::UncleanElection), "seed {seed}: {:?}", outcome.reached);
    }
}

/// Two brokers, a replicated topic, a producer and no fault: nothing is ever elected
/// uncleanly, so the goal is missed.
const QUIET: &str = "seeds = [1, 2]\nduration = \"4s\"\n[cluster]\nbrokers = 2\n\
    [[topics]]\nname = \"orders\"\npartitions = 1\n\"replication.factor\" = 2\n\
    [[producers]]\ntopic = \"orders\"\nrate_per_sec = 20\n[producers.config]\nacks = \"all\"\n\
    [expect]\nabsent = [\"lost-write\"]\nreach = [\"unclean-election\"]\n";

#[test]
fn a_reach_goal_no_seed_reaches_fails_the_scenario_as_vacuous() {
    let scenario = scenario::parse(QUIET, Path::new("quiet.toml")).unwrap_or_else(|e| panic!("{e}"));
    let verdict = runner::run_scenario(&scenario, |_| {});
    assert_eq!(verdict.missed_goals, [ReachedState::UncleanElection]);
    assert_eq!(verdict.status, Status::SafetyFailure);
    assert!(verdict.seeds.iter().all(|s| s.status() == Status::Pass), "each seed alone passes");
    // A goal every seed reaches: the KRaft quorum (the default metadata mode) elects a leader.
    let reachable = QUIET.replace("\"unclean-election\"", "\"kraft-leader-elected\"");
    let reachable = scenario::parse(&reachable, Path::new("quiet.toml")).unwrap_or_else(|e| panic!("{e}"));
    let verdict = runner::run_scenario(&reachable, |_| {});
    assert!(verdict.missed_goals.is_empty(), "{:?}", verdict.coverage());
    assert_eq!(verdict.status, Status::Pass);

    // The suite says why it fails, and its JSON carries the missed goals and the coverage.
    let dir = scratch_dir("coverage-vacuous");
    std::fs::write(dir.join("quiet.toml"), QUIET).unwrap();
    let table = kafkasim(&["suite", dir.to_str().unwrap()]);
    assert_eq!(table.status.code(), Some(1));
    let text = stdout(&table);
    assert!(text.contains("unreached unclean-election"), "{text}");
    assert!(text.contains("vacuous: no seed reached unclean-election"), "{text}");
    assert!(text.contains("states never reached:"), "{text}");
    let json = kafkasim(&["suite", "--json", dir.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("suite --json is JSON");
    assert_eq!(report["scenarios"][0]["missed_goals"], serde_json::json!(["unclean-election"]));
    assert_eq!(report["coverage"]["seeds"], 2);
    let never = report["coverage"]["never_reached"].as_array().unwrap();
    assert!(never.contains(&serde_json::json!("unclean-election")));
}

#[test]
fn run_prints_the_states_reached_and_the_goals_its_seed_missed() {
    let text = stdout(&kafkasim(&["run", "scenarios/unclean-election.toml", "--seed", "1"]));
    assert!(text.contains("states reached: isr-shrunk-to-leader x"), "{text}");
    assert!(text.contains("unclean-election x1"), "{text}");
    let json = kafkasim(&["run", "scenarios/unclean-election.toml", "--seed", "1", "--json"]);
    let record: serde_json::Value = serde_json::from_slice(&json.stdout).expect("run --json is JSON");
    assert_eq!(record["reached"]["unclean-election"]["count"], 1);
    assert_eq!(record["missed_goals"], serde_json::json!([]));
}
