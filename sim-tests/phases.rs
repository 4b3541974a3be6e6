//! The phases of a run and their exit codes: each of the three `no-progress` conditions
//! (no leader, ISR not recovered, acknowledged records not readable, each within the
//! liveness timeout), a liveness failure exits 2, a panic of a simulated node exits 3
//! with the seed and the replay command, and a panicking seed does not stop a
//! multi-seed `suite` (the panic is planted with the test-only
//! `KAFKASIM_PLANT_PANIC_AT` hook, set on the child process only).

use crate::support::scratch_dir;
use kafkasim::runner::{self, PLANT_PANIC_VAR};
use kafkasim::scenario;
use std::process::{Command, Output};

/// A small scenario: 3 brokers, one producer, one consumer, a leader crash, in a
/// ZooKeeper cluster (Kafka 3.9, the last release with one).
const SMALL: &str = r#"
kafka_version = "3.9"
seeds = [4, 5]
duration = "1s"
liveness_timeout = "10s"
[metastore]
tickTime = 300
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
    let dir = scratch_dir("panic-run");
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
    let dir = scratch_dir("panic-suite");
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
            let replay =
                format!("replay with: kafkasim run {} --seed {seed}", dir.join(format!("{name}.toml")).display());
            assert!(out.contains(&replay), "missing `{replay}` in:\n{out}");
        }
    }
}

#[test]
fn an_unrecovered_cluster_is_a_liveness_failure_with_exit_code_2() {
    // Every broker crashes just before the liveness phase, which is given too little
    // time to recover: no-progress, and nothing else (acknowledged records the drain
    // could not reach are not reported as `unseen`, a safety anomaly).
    let text_ = SMALL.replace("liveness_timeout = \"10s\"", "liveness_timeout = \"200ms\"").replace(
        "at = \"300ms\"\nkind = \"crash\"\ntarget = \"the leader of t-0\"\nduration = \"300ms\"",
        "at = \"900ms\"\nkind = \"crash\"\ntarget = \"all brokers\"",
    );
    assert_ne!(text_, SMALL);
    let dir = scratch_dir("liveness");
    let file = dir.join("stuck.toml");
    std::fs::write(&file, &text_).expect("write");
    let s = scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, 4);
    let kinds: Vec<_> = outcome.counts().into_keys().collect();
    assert_eq!(kinds, vec![kafkasim::check::AnomalyKind::NoProgress], "{:?}", outcome.anomalies);
    let described: Vec<&str> = outcome.anomalies.iter().map(|a| a.description.as_str()).collect();
    assert!(
        described.iter().any(|d| d
            .contains("could not be read to their high watermark (the drain gives up after 200ms without progress)")),
        "{described:?}"
    );
    let output = kafkasim(&["run", file.to_str().unwrap(), "--seed", "4"], None);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
}

/// Runs `text` (a variant of [`SMALL`]) for one seed in this process and returns its
/// `no-progress` descriptions, asserting that no other anomaly appeared.
fn no_progress_findings(text: &str, seed: u64) -> Vec<String> {
    let s = scenario::parse(text, std::path::Path::new("phases.toml")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, seed);
    let kinds: Vec<_> = outcome.counts().into_keys().collect();
    assert_eq!(kinds, vec![kafkasim::check::AnomalyKind::NoProgress], "{:?}", outcome.anomalies);
    outcome.anomalies.iter().map(|a| a.description.clone()).collect()
}

/// [`SMALL`] with its fault replaced and a shorter liveness phase.
fn variant(fault: &str, liveness_timeout: &str) -> String {
    let old_fault = "at = \"300ms\"\nkind = \"crash\"\ntarget = \"the leader of t-0\"\nduration = \"300ms\"";
    let text = SMALL
        .replace("liveness_timeout = \"10s\"", &format!("liveness_timeout = \"{liveness_timeout}\""))
        .replace(old_fault, fault);
    assert!(!text.contains(old_fault) && text.contains(liveness_timeout));
    text
}

#[test]
fn no_progress_when_a_partition_has_no_leader_in_time() {
    // Every broker loses power just before the liveness phase; restarted, they cannot
    // register and elect a controller and leaders within 100 ms.
    let text = variant("at = \"990ms\"\nkind = \"power-loss\"\ntarget = \"all brokers\"", "100ms");
    let found = no_progress_findings(&text, 4);
    assert!(
        found.iter().any(|d| d.contains("100ms after the faults healed") && d.contains("t-0 has no leader")),
        "{found:?}"
    );
}

#[test]
fn no_progress_when_the_isr_does_not_recover_in_time() {
    // One follower is cut off for the whole safety phase and drops out of the ISR; the
    // leader stays. After healing, the follower needs more than 20 ms to catch up and be
    // added back, while the partition keeps its leader.
    let text = variant("at = \"100ms\"\nkind = \"partition\"\ntarget = \"a follower of t-0\"", "20ms");
    let found = no_progress_findings(&text, 4);
    let isr = found.iter().find(|d| d.contains("after the faults healed") && d.contains("t-0 ISR lacks broker-"));
    assert!(isr.is_some(), "{found:?}");
    assert!(!found.iter().any(|d| d.contains("has no leader")), "{found:?}");
}

#[test]
fn a_slow_drain_that_keeps_progressing_is_not_no_progress() {
    // The network is slow (100 ms one way; the liveness phase restores the scenario's
    // latency, so the fault here changes nothing after it) and the liveness timeout is
    // 150 ms, shorter than one round trip of the drain's lookups and fetches. The drain
    // gives up only after the timeout passes without progress, and every round of it
    // progresses (a position found, records read, partitions finished): it reads every
    // partition, where a drain with a fixed deadline of 150 ms could not.
    let text = variant("at = \"100ms\"\nkind = \"latency\"\nlatency_min = \"1ms\"\nlatency_max = \"2ms\"", "150ms")
        .replace("[cluster.config]", "[network]\nlatency_min = \"100ms\"\nlatency_max = \"100ms\"\n\n[cluster.config]");
    let s = scenario::parse(&text, std::path::Path::new("phases.toml")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, 4);
    let undrained: Vec<&str> = outcome
        .anomalies
        .iter()
        .map(|a| a.description.as_str())
        .filter(|d| d.contains("could not be read to their high watermark"))
        .collect();
    assert!(undrained.is_empty(), "{undrained:?}");
}

/// Many partitions (384 on 3 brokers) and a short liveness timeout (2 s): the drain asks
/// each leader for the end offsets of all its partitions in one ListOffsets per round,
/// and its consumer resets its positions with one ListOffsets per leader, so that every
/// round is short and the drain reads every partition. With one request per partition
/// and round, each waited for in turn, no partition was drained within 2 s (it took
/// 5 s it did): `no-progress` naming all 384.
const WIDE: &str = r#"
kafka_version = "3.9"
seeds = [1]
duration = "10s"
liveness_timeout = "2s"
[metastore]
tickTime = 300
[cluster]
brokers = 3
[cluster.config]
"min.insync.replicas" = 2
"zookeeper.session.timeout.ms" = 600
[[topics]]
name = "wide"
partitions = 384
"replication.factor" = 3
[[producers]]
topic = "wide"
rate_per_sec = 200
[[consumers]]
topic = "wide"
[consumers.config]
"auto.offset.reset" = "earliest"
[expect]
absent = ["*"]
"#;

#[test]
fn a_drain_of_hundreds_of_partitions_finishes() {
    let s = scenario::parse(WIDE, std::path::Path::new("wide.toml")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, 1);
    assert!(outcome.anomalies.is_empty(), "{:?}", outcome.anomalies);
}

/// A follower crashed for the whole safety phase, under min.insync.replicas=3: once the
/// ISR has shrunk, every produce is refused NOT_ENOUGH_REPLICAS (Kafka 3.6: before
/// KAFKA-15583 the high watermark advances under the min ISR, so even the request in
/// flight is answered NOT_ENOUGH_REPLICAS_AFTER_APPEND) and retried. After the heal the
/// follower needs about 12 s to be back in the ISR (its ZooKeeper session), longer than
/// the 5 s liveness timeout, while the refused batches' delivery timeout is Kafka's 120 s:
/// the liveness phase waits for them until then, and they are acknowledged, where a fixed
/// limit would have called the run `no-progress`. Seed 2: the follower that crashes is not
/// the controller (in seeds 1, 6 and 7 of the runs of 2026-12-07 it is, and the ISR
/// cannot shrink, nor a produce be refused, before its ZooKeeper session expires).
const REFUSED_PAST_THE_LIMIT: &str = r#"
kafka_version = "3.6"
seeds = [2]
duration = "6s"
liveness_timeout = "5s"
[cluster.config]
"min.insync.replicas" = 3
"replica.lag.time.max.ms" = 1000
[[topics]]
name = "orders"
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 50
send = "async"
[producers.config]
acks = "all"
[[consumers]]
topic = "orders"
[[faults]]
at = "2s"
kind = "crash"
target = "a follower of orders-0"
duration = "60s"
"#;

#[test]
fn sends_their_leader_keeps_refusing_get_their_delivery_timeout_after_the_heal() {
    use kafkasim::history::{OpFn, OpType, RunPhase};
    let s =
        scenario::parse(REFUSED_PAST_THE_LIMIT, std::path::Path::new("refused.toml")).unwrap_or_else(|e| panic!("{e}"));
    let outcome = runner::run_seed(&s, 2);
    assert!(outcome.anomalies.is_empty(), "{:?}", outcome.anomalies.iter().map(|a| &a.description).collect::<Vec<_>>());
    assert!(outcome.reached.contains(kafkasim::coverage::ReachedState::NotEnoughReplicas), "no produce was refused");
    let healed_ns = outcome.history.phase_start_ns(RunPhase::Liveness).expect("a liveness phase");
    let limit_ns = 5_000_000_000;
    let last_ack_ns = outcome
        .history
        .ops
        .iter()
        .filter(|op| op.f == OpFn::Send && op.kind == OpType::Ok)
        .map(|op| op.time_ns)
        .max()
        .expect("acknowledged sends");
    assert!(
        last_ack_ns > healed_ns + limit_ns,
        "every send was acknowledged within the liveness timeout ({} ms after the heal): the grace was not needed",
        (last_ack_ns - healed_ns) / 1_000_000
    );
}
