//! The phases of a run and their exit codes: a liveness failure exits 2, a panic of a
//! simulated node exits 3 with the seed and the replay command, and a panicking seed
//! does not stop a multi-seed `suite` (the panic is planted with the test-only
//! `KAFKASIM_PLANT_PANIC_AT` hook, set on the child process only).

use kafkasim::runner::{self, PLANT_PANIC_VAR};
use kafkasim::scenario;
use std::path::PathBuf;
use std::process::{Command, Output};

/// A small scenario: 3 brokers, one producer, one consumer, a leader crash.
const SMALL: &str = r#"
seeds = [4, 5]
duration = "1s"
liveness_timeout = "10s"
[cluster.config]
"min.insync.replicas" = 2
"zookeeper.session.timeout.ms" = 600
[[topics]]
name = "t"
"replication.factor" = 3
[[producers]]
topic = "t"
rate_per_sec = 50
[[consumers]]
topic = "t"
[consumers.config]
"auto.offset.reset" = "earliest"
[[faults]]
at = "300ms"
kind = "crash"
target = "the leader of t-0"
duration = "300ms"
[expect]
absent = ["*"]
"#;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafkasim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn kafkasim(args: &[&str], panic_at: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kafkasim"));
    command.args(args).env_remove(PLANT_PANIC_VAR);
    if let Some(at) = panic_at {
        command.env(PLANT_PANIC_VAR, at);
    }
    command.output().expect("the kafkasim binary runs")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_planted_panic_reports_the_seed_and_replay_command_and_exits_3() {
    let dir = temp_dir("panic-run");
    let file = dir.join("small.toml");
    std::fs::write(&file, SMALL).expect("write scenario");
    let output = kafkasim(&["run", file.to_str().unwrap(), "--seed", "5"], Some("700ms"));
    let out = text(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    assert!(out.contains("PANIC in the simulation: planted panic"), "{out}");
    assert!(out.contains(&format!("reproduce: kafkasim run {} --seed 5", file.display())), "{out}");
    // Without the hook the same run passes.
    let clean = kafkasim(&["run", file.to_str().unwrap(), "--seed", "5"], None);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
}

#[test]
fn a_panicking_seed_does_not_stop_a_suite() {
    let dir = temp_dir("panic-suite");
    std::fs::write(dir.join("a.toml"), SMALL).expect("write");
    std::fs::write(dir.join("b.toml"), SMALL).expect("write");
    let output = kafkasim(&["suite", dir.to_str().unwrap()], Some("700ms"));
    let out = text(&output);
    assert_eq!(output.status.code(), Some(3), "{out}");
    // Both scenarios ran every seed, each reported with its replay command.
    for name in ["a", "b"] {
        let row = out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no row for {name}:\n{out}"));
        assert!(row.contains("FAIL (panic)") && row.contains("    2  "), "{row}");
        for seed in [4, 5] {
            let replay = format!("replay with: kafkasim run {} --seed {seed}", dir.join(format!("{name}.toml")).display());
            assert!(out.contains(&replay), "missing `{replay}` in:\n{out}");
        }
    }
}

#[test]
fn an_unrecovered_cluster_is_a_liveness_failure_with_exit_code_2() {
    // Every broker crashes just before the liveness phase, which is given too little
    // time to recover: no-progress, and nothing else (acknowledged records the drain
    // could not reach are not reported as `unseen`, a safety anomaly).
    let text_ = SMALL
        .replace("liveness_timeout = \"10s\"", "liveness_timeout = \"200ms\"")
        .replace("at = \"300ms\"\nkind = \"crash\"\ntarget = \"the leader of t-0\"\nduration = \"300ms\"", "at = \"900ms\"\nkind = \"crash\"\ntarget = \"all brokers\"");
    assert_ne!(text_, SMALL);
    let dir = temp_dir("liveness");
    let file = dir.join("stuck.toml");
    std::fs::write(&file, &text_).expect("write");
    let s = scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, 4);
    let kinds: Vec<_> = outcome.counts().into_keys().collect();
    assert_eq!(kinds, vec![kafkasim::check::AnomalyKind::NoProgress], "{:?}", outcome.anomalies);
    let described: Vec<&str> = outcome.anomalies.iter().map(|a| a.description.as_str()).collect();
    assert!(
        described.iter().any(|d| d.contains("could not be read to their high watermark within 200ms")),
        "{described:?}"
    );
    let output = kafkasim(&["run", file.to_str().unwrap(), "--seed", "4"], None);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}
