//! Determinism is the product: the same seed gives the same trace hash, twice in one
//! process and across processes, for every scenario; and a thousand seeds in one process
//! leave no memory behind.

use kafkasim::runner;
use kafkasim::scenario;
use std::path::PathBuf;
use std::process::Command;

fn catalog() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn hash_printed_by(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("trace hash: "))
        .unwrap_or_else(|| panic!("no trace hash in:\n{output}"))
        .to_string()
}

#[test]
fn every_scenario_gives_the_same_history_twice_in_one_process() {
    let files = catalog();
    assert!(!files.is_empty());
    for file in files {
        let scenario = scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario.seeds[0];
        let first = runner::run_seed(&scenario, seed);
        let second = runner::run_seed(&scenario, seed);
        assert_eq!(first.trace_hash, second.trace_hash, "{} seed {seed}", file.display());
        assert_eq!(first.history, second.history, "{} seed {seed}", file.display());
        assert!(!first.history.trace.is_empty());
    }
}

#[test]
fn every_scenario_gives_the_same_trace_hash_across_processes() {
    let binary = env!("CARGO_BIN_EXE_kafkasim");
    for file in catalog() {
        let scenario = scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let seed = scenario.seeds[0];
        let in_process = format!("{:016x}", runner::run_seed(&scenario, seed).trace_hash);
        for _ in 0..2 {
            let output = Command::new(binary)
                .args(["run", file.to_str().expect("utf-8 path"), "--seed", &seed.to_string()])
                .output()
                .expect("the kafkasim binary runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(hash_printed_by(&stdout), in_process, "{} seed {seed}", file.display());
        }
    }
}

/// The resident set size of this process, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).expect("statm field");
    pages * 4096
}

/// Set on the child process in which the memory test measures; never in this process.
const MEMORY_CHILD_VAR: &str = "KAFKASIM_TEST_MEMORY_CHILD";

/// Runs the test `name` (a function of this module) alone, in a child process of this
/// test binary with [`MEMORY_CHILD_VAR`] set, and fails with its output if it fails or
/// does not run.
fn run_alone_in_a_child_process(name: &str) {
    // Test names leave out the crate: `determinism::NAME`, not `sim::determinism::NAME`.
    let module = module_path!().split_once("::").map_or(module_path!(), |(_crate, module)| module);
    let test = format!("{module}::{name}");
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([test.as_str(), "--exact", "--test-threads=1"])
        .env(MEMORY_CHILD_VAR, "1")
        .output()
        .expect("the test binary runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "{test} failed in its child process:
{report}"
    );
    assert!(
        report.contains("test result: ok. 1 passed"),
        "{test} did not run in its child process:
{report}"
    );
}

#[test]
fn a_thousand_seeds_in_one_process_do_not_grow_memory() {
    // The resident set is the whole process's: in this test binary, the other tests run
    // simulations on threads beside this one and would inflate it (scenarios/bench.toml
    // alone peaks well over 100 MB). So the measurement runs alone in a child process.
    if std::env::var_os(MEMORY_CHILD_VAR).is_none() {
        run_alone_in_a_child_process("a_thousand_seeds_in_one_process_do_not_grow_memory");
        return;
    }
    let text = r#"
        seeds = "1..2"
        duration = "1s"
        liveness_timeout = "10s"
        [metastore]
        tickTime = 500
        [cluster]
        brokers = 3
        [cluster.config]
        "zookeeper.session.timeout.ms" = 1000
        [[topics]]
        name = "t"
        partitions = 2
        "replication.factor" = 3
        [[producers]]
        topic = "t"
        rate_per_sec = 200
        send = "async"
        [producers.config]
        acks = "all"
        [[consumers]]
        topic = "t"
        [[faults]]
        at = "300ms"
        kind = "crash"
        target = "the leader of t-0"
        [expect]
        absent = ["*"]
    "#;
    let scenario = scenario::parse(text, std::path::Path::new("memory.toml")).unwrap_or_else(|e| panic!("{e}"));
    // Warm up allocator pools and lazily initialised statics first.
    for seed in 0..100 {
        runner::run_seed(&scenario, seed);
    }
    let before = resident_bytes();
    for seed in 100..1_000 {
        let outcome = runner::run_seed(&scenario, seed);
        assert!(outcome.panic.is_none(), "seed {seed}: {:?}", outcome.panic);
    }
    let after = resident_bytes();
    let grown_mib = after.saturating_sub(before) as f64 / (1024.0 * 1024.0);
    assert!(grown_mib < 32.0, "900 seeds grew the process by {grown_mib:.1} MiB");
}
