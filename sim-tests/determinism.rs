//! Determinism is the product: the same seed gives the same trace hash, twice in one
//! process and across processes, for every scenario; and a thousand seeds in one process
//! leave no memory behind.

mod support;

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

/// Held by the tests that run simulations in this process: the memory test measures
/// the whole process's resident set, which a concurrent heavy run (scenarios/bench.toml
/// peaks at well over 100 MB) would inflate.
static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn every_scenario_gives_the_same_history_twice_in_one_process() {
    let _alone = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
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
        let in_process = {
            let _alone = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
            format!("{:016x}", runner::run_seed(&scenario, seed).trace_hash)
        };
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

#[test]
fn a_thousand_seeds_in_one_process_do_not_grow_memory() {
    let text = r#"
        seeds = "1..2"
        duration = "1s"
        liveness_timeout = "10s"
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
    let _alone = IN_PROCESS.lock().unwrap_or_else(|e| e.into_inner());
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
