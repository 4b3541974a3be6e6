//! The `kafkasim` command line: exit codes, the replay command it prints, clear errors
//! for bad input, and `check` on hand-written histories.

use crate::support::{kafkasim, scratch_dir, stdout};
use std::path::{Path, PathBuf};
use std::process::Output;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn line_starting(text: &str, prefix: &str) -> String {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{text}"))
        .to_string()
}

#[test]
fn run_prints_a_replay_command_that_reproduces_the_run_exactly() {
    let first = kafkasim(&["run", "scenarios/acks1-leader-crash.toml", "--seed", "3"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(text.contains("lost-write"), "{text}");
    for word in ["sends:", "faults fired:", "anomalies:", "trace hash:"] {
        assert!(text.contains(word), "missing {word} in:\n{text}");
    }
    let command = line_starting(&text, "reproduce: ");
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[0], "kafkasim");
    let replay = kafkasim(&args[1..]);
    assert_eq!(line_starting(&stdout(&replay), "trace hash: "), line_starting(&text, "trace hash: "));
}

#[test]
fn run_writes_the_history_as_json_lines() {
    let dir = scratch_dir("history");
    let path = dir.join("history.jsonl");
    let output = kafkasim(&["run", "scenarios/acks-all-safe.toml", "--seed", "1", "--history", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).expect("history written");
    let ops = kafkasim::history::read_history_jsonl(text.as_bytes()).expect("valid history").ops;
    assert!(ops.iter().any(|op| op.f == kafkasim::history::OpFn::Send));
    assert!(ops.iter().any(|op| op.f == kafkasim::history::OpFn::Poll));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_invalid_scenario_is_reported_with_file_line_column_and_field() {
    let dir = scratch_dir("bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "seeds = [1]\nduration = \"5s\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"t\"\n\"replication.factor\" = 4\n",
    )
    .unwrap();
    let output = kafkasim(&["run", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(65));
    let message = stderr(&output);
    assert!(message.contains("bad.toml:7:"), "{message}");
    assert!(message.contains("replication.factor"), "{message}");
    assert!(message.contains("at most 3"), "{message}");
    let missing = kafkasim(&["run", dir.join("absent.toml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(66), "{}", stderr(&missing));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn usage_errors_exit_with_64() {
    assert_eq!(kafkasim(&["run"]).status.code(), Some(64));
    assert_eq!(kafkasim(&["no-such-command"]).status.code(), Some(64));
    assert_eq!(kafkasim(&["--help"]).status.code(), Some(0));
}

fn history(name: &str) -> PathBuf {
    Path::new("sim-tests").join("histories").join(name)
}

#[test]
fn check_finds_the_lost_write_in_a_hand_written_history() {
    let output = kafkasim(&["check", history("lost-write.jsonl").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("lost-write"), "{text}");
    assert!(text.contains("value 2"), "{text}");
    let json = kafkasim(&["check", "--json", history("lost-write.jsonl").to_str().unwrap()]);
    let anomalies: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    assert!(anomalies.as_array().unwrap().iter().any(|a| a["kind"] == "lost-write"));
}

#[test]
fn check_passes_a_clean_history_and_rejects_a_malformed_one_with_its_line() {
    let clean = kafkasim(&["check", history("clean.jsonl").to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    let malformed = kafkasim(&["check", history("malformed.jsonl").to_str().unwrap()]);
    assert_eq!(malformed.status.code(), Some(65));
    let message = stderr(&malformed);
    assert!(message.contains("malformed.jsonl:2:46: field `type`: expected one of invoke"), "{message}");
}

#[test]
fn check_prints_string_values_as_written_and_reads_jepsen_info_completions() {
    let output = kafkasim(&["check", history("jepsen-strings.jsonl").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    // Integer key 3 and string key "3" are one key; "d" is acknowledged at offset 3 and
    // never polled although "e" at offset 4 was.
    assert!(text.contains("lost-write             3: value \"d\" at offset 3"), "{text}");
    assert!(text.contains("polled value \"e\" at offset 4"), "{text}");
    assert!(text.contains("unseen                 3: 1 acknowledged send"), "{text}");
    assert!(text.contains("polled value \"f\" from 7 at offset 1, but the send of \"f\""), "{text}");
    // "b" completed `info` as Jepsen writes it (the invocation's value, no offset) and
    // nobody read it: unknown, so neither lost nor unseen. "c" completed `ok` with
    // `[null, "c"]` and was read. The txn's send "x" and poll count like any others.
    assert!(!text.contains("\"b\""), "{text}");
    assert!(!text.contains("\"c\""), "{text}");
    assert!(text.contains("18 ops, 3 anomalies"), "{text}");
    assert!(!text.contains("922337"), "no id may show through:\n{text}");

    let json = kafkasim(&["check", "--json", history("jepsen-strings.jsonl").to_str().unwrap()]);
    let anomalies: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    let lost = &anomalies[0];
    assert_eq!(lost["kind"], "lost-write");
    assert_eq!(lost["records"][0]["key"], "3");
    assert_eq!(lost["records"][0]["value"], "d");
    assert_eq!(lost["records"][1]["value"], "e");
    assert!(lost["description"].as_str().unwrap().contains("value \"d\""), "{lost}");
}

#[test]
fn check_reads_jepsen_edn_histories() {
    let output = kafkasim(&["check", history("jepsen-history.edn").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("18 ops, 4 anomalies"), "{text}");
    assert!(
        text.contains("skipped 5 ops kafkasim does not check: :debug-topic-partitions 2, :nemesis process 3"),
        "{text}"
    );
    assert!(text.contains("lost-write             5: value 2 at offset 12, acknowledged to process 2"), "{text}");
    assert!(text.contains("unseen                 5:"), "{text}");
    // Value 3 is an `info` send with `:error [:timeout]` that nobody read: not reported.
    assert!(!text.contains("value 3"), "{text}");

    // Jepsen's own lost-write test, with keywords as keys and values, in one vector:
    // Jepsen reports :a and :b lost, and so does kafkasim.
    let keywords = kafkasim(&["check", history("jepsen-keywords.edn").to_str().unwrap()]);
    let text = stdout(&keywords);
    let lost: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with("lost-write")).collect();
    assert_eq!(lost.len(), 2, "{text}");
    assert!(lost[0].contains("x: value :a at offset 0") && lost[0].contains("polled value :c at offset 2"), "{text}");
    assert!(lost[1].contains("x: value :b at offset 1"), "{text}");
    let json = kafkasim(&["check", "--json", history("jepsen-keywords.edn").to_str().unwrap()]);
    let anomalies: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON output");
    assert_eq!(anomalies[0]["records"][0]["value"], ":a");

    let clean = kafkasim(&["check", history("jepsen-clean.edn").to_str().unwrap()]);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("10 ops, no anomalies"), "{}", stdout(&clean));
}

#[test]
fn check_rejects_malformed_histories_with_file_line_and_column() {
    for (name, expected) in [
        ("malformed.edn", "malformed.edn:2:78: `:value`: send: expected an offset (a non-negative integer), got :zero"),
        ("malformed-syntax.edn", "malformed-syntax.edn:2:85: not valid EDN: unmatched `]`"),
        (
            "malformed-value.jsonl",
            "malformed-value.jsonl:2:84: field `value`: send: expected a value (a number, string, keyword or other \
             scalar), got {\"v\":\"a\"}",
        ),
    ] {
        let output = kafkasim(&["check", history(name).to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(65), "{name}: {}", stdout(&output));
        let message = stderr(&output);
        assert!(message.starts_with("error: ") && message.contains(expected), "{name}: {message}");
    }
}

/// A small cluster with one leader crash; `acks` and `expect` vary.
fn small_scenario(seeds: &str, acks: &str, expect: &str) -> String {
    format!(
        r#"seeds = {seeds}
duration = "8s"
[metastore]
tickTime = 500
[cluster]
brokers = 3
[cluster.config]
"zookeeper.session.timeout.ms" = 2000
"replica.lag.time.max.ms" = 10000
[network]
latency_min = "10ms"
latency_max = "40ms"
[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 400
send = "async"
[producers.config]
acks = "{acks}"
[[consumers]]
topic = "orders"
[consumers.config]
"auto.offset.reset" = "earliest"
[[faults]]
at = "3s"
kind = "crash"
target = "the leader of orders-0"
duration = "3s"
[expect]
{expect}
"#
    )
}

/// acks=1 with every anomaly forbidden: seeds that lose a write fail with exit code 1.
fn lossy(dir: &Path) -> PathBuf {
    let file = dir.join("lossy.toml");
    std::fs::write(&file, small_scenario("[1]", "1", "absent = [\"*\"]")).unwrap();
    file
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn suite_writes_json_and_junit_and_exits_with_the_worst_outcome() {
    let dir = scratch_dir("suite");
    std::fs::write(dir.join("a-safe.toml"), small_scenario("[1, 2]", "all", "absent = [\"*\"]")).unwrap();
    std::fs::write(
        dir.join("b-lesson.toml"),
        small_scenario("[1, 2]", "1", "present = [\"lost-write\"]\nabsent = [\"no-progress\"]"),
    )
    .unwrap();
    let junit = dir.join("junit.xml");
    let output =
        kafkasim(&["suite", dir.to_str().unwrap(), "--json", "--junit", junit.to_str().unwrap(), "--jobs", "2"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&output), stderr(&output)));
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 2);
    assert_eq!(scenarios[0]["scenario"], "a-safe");
    assert_eq!(scenarios[0]["status"], "pass", "{report:#}");
    let seeds = scenarios[0]["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 2);
    for key in ["seed", "status", "anomalies", "trace_hash", "replay"] {
        assert!(seeds[0].get(key).is_some(), "missing {key} in {}", seeds[0]);
    }
    assert_eq!(output.status.code(), report["exit_code"].as_i64().map(|c| c as i32));
    let xml = std::fs::read_to_string(&junit).expect("JUnit report written");
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<testsuite name=\"a-safe\" tests=\"2\""), "{xml}");
    assert!(xml.contains("classname=\"kafkasim.a-safe\" name=\"seed 1\""), "{xml}");
    assert!(xml.contains("name=\"expected anomalies\""), "{xml}");

    // A forbidden anomaly fails the suite with exit code 1, and the table names the seed.
    std::fs::copy(lossy(&dir), dir.join("c-lossy.toml")).unwrap();
    std::fs::remove_file(dir.join("lossy.toml")).unwrap();
    let table = kafkasim(&["suite", dir.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    let text = stdout(&table);
    if text.contains("c-lossy") && text.contains("FAIL (safety)") {
        assert_eq!(table.status.code(), Some(1), "{text}");
        assert!(text.contains("replay with: kafkasim run"), "{text}");
        assert!(std::fs::read_to_string(&junit).unwrap().contains("<failure type=\"safety\""));
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bench_measures_a_scenario_against_the_baselines_and_times_the_suite() {
    let dir = scratch_dir("bench");
    let file = dir.join("small-bench.toml");
    std::fs::write(&file, small_scenario("[1]", "all", "absent = [\"lost-write\"]")).unwrap();
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(suite.join("other.toml"), small_scenario("[1, 2]", "all", "absent = [\"lost-write\"]")).unwrap();
    let output = kafkasim(&[
        "bench",
        "--file",
        file.to_str().unwrap(),
        "--suite",
        suite.to_str().unwrap(),
        "--jobs",
        "2",
        "--linearity",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(line_starting(&text, "bench run: ").contains("status pass"), "{text}");
    for row in ["small-bench seed 1", "baseline: request/response over sim::net", "baseline: request/response over"] {
        assert!(text.contains(row), "missing {row} in:\n{text}");
    }
    let ratio: f64 = line_starting(&text, "messages per wall second, kafkasim / sim::net baseline: ")
        .parse()
        .unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert!(ratio > 0.0, "{text}");
    assert!(text.contains("peak memory (VmHWM) after the bench run"), "{text}");
    assert!(line_starting(&text, "other ").trim_start().starts_with("2 seeds"), "{text}");
    for target in [
        "bench scenario wall time",
        "peak memory after the bench run",
        "whole suite",
        "CPU per record, simulation and checking: ",
        "simulation cost per message / sim::net baseline's: ",
        "peak memory per simulated record: ",
        "bench compression (simulated s per wall s): ",
        "light lessons' compression (simulated s per CPU s): ",
        "swarm seeds per wall second: ",
        "checking linear (difference of µs per record): ",
    ] {
        assert!(text.contains(target), "missing target {target} in:\n{text}");
    }
    let per_record = line_starting(&text, "per record: ");
    assert!(per_record.contains("µs of simulation") && per_record.contains("µs of checking"), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sweep_lines_carry_the_parameters_each_seed_drew() {
    let dir = scratch_dir("sweep-drawn");
    let file = dir.join("drawn.toml");
    let scenario = small_scenario("[1]", "all", "absent = [\"*\"]")
        + "[nemesis]\nkinds = [\"crash\", \"latency\"]\ninterval = \"2s\"\n[swarm]\nbrokers = [3, 4]\n";
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("drawn.jsonl");
    let output = kafkasim(&["sweep", file.to_str().unwrap(), "--seeds", "1..4", "--out", out.to_str().unwrap()]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 3, "{}", stdout(&output));
    for line in &lines {
        let drawn = &line["drawn"];
        // The same as `run` prints for the seed: the swarm's draws, the kinds' odds, the
        // mean interval and the drawn faults.
        let brokers = &drawn["swarm"][0];
        assert_eq!(brokers[0], "brokers", "{line}");
        assert!(["3", "4"].contains(&brokers[1].as_str().unwrap()), "{line}");
        assert_eq!(drawn["nemesis_interval_ms"], 2_000, "{line}");
        let kinds: Vec<&str> =
            drawn["nemesis_kinds"].as_array().unwrap().iter().map(|k| k[0].as_str().unwrap()).collect();
        assert!(!kinds.is_empty() && kinds.iter().all(|k| ["crash", "latency"].contains(k)), "{line}");
        let faults = drawn["faults"].as_array().unwrap();
        assert!(!faults.is_empty(), "{line}");
        let run = kafkasim(&["run", file.to_str().unwrap(), "--seed", &line["seed"].to_string()]);
        let printed = stdout(&run);
        assert!(printed.contains(&format!("{} faults drawn", faults.len())), "{printed}\n{line}");
        assert!(printed.contains(&format!("brokers = {}", brokers[1].as_str().unwrap())), "{printed}\n{line}");
    }
    // Different seeds draw differently.
    let distinct: std::collections::BTreeSet<String> = lines.iter().map(|l| l["drawn"].to_string()).collect();
    assert_eq!(distinct.len(), 3);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn suite_of_a_missing_directory_is_an_input_error() {
    assert_eq!(kafkasim(&["suite", "no/such/dir"]).status.code(), Some(66));
}

#[test]
fn sweep_results_do_not_depend_on_jobs_and_shards_concatenate_to_the_whole() {
    let dir = scratch_dir("sweep");
    let file = lossy(&dir);
    let file = file.to_str().unwrap();
    let out = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let one = kafkasim(&["sweep", file, "--seeds", "1..7", "--jobs", "1", "--out", &out("one.jsonl")]);
    let three = kafkasim(&["sweep", file, "--seeds", "1..7", "--jobs", "3", "--out", &out("three.jsonl")]);
    assert_eq!(stdout(&one), stdout(&three));
    assert_eq!(one.status.code(), three.status.code());
    let lines = json_lines(&dir.join("one.jsonl"));
    assert_eq!(lines, json_lines(&dir.join("three.jsonl")));
    assert_eq!(lines.iter().map(|l| l["seed"].as_u64().unwrap()).collect::<Vec<_>>(), (1..7).collect::<Vec<_>>());
    for line in &lines {
        assert_eq!(line["scenario"], "lossy");
        assert!(line["trace_hash"].as_str().unwrap().len() == 16, "{line}");
        assert!(line["drawn"].is_null(), "a scenario without [swarm] or [nemesis] draws nothing: {line}");
        assert!(line["anomalies"].is_object(), "{line}");
        assert!(line["replay"].as_str().unwrap().ends_with(&format!("--seed {}", line["seed"])), "{line}");
    }
    // Failing seeds are printed with their anomalies and replay command; the exit code
    // is the worst seed's.
    let failing: Vec<&serde_json::Value> = lines.iter().filter(|l| l["status"] != "pass").collect();
    assert!(!failing.is_empty(), "acks=1 with a leader crash lost no write in 6 seeds: {}", stdout(&one));
    assert_eq!(one.status.code(), Some(1), "{}", stdout(&one));
    let text = stdout(&one);
    for line in &failing {
        assert!(text.contains(&format!("seed {}: FAIL (safety)", line["seed"])), "{text}");
        assert!(text.contains(line["replay"].as_str().unwrap()), "{text}");
    }
    assert!(text.contains("lost-write"), "{text}");

    let shard = |k: &str| {
        kafkasim(&[
            "sweep",
            file,
            "--seeds",
            "1..7",
            "--shard",
            k,
            "--out",
            &out(&format!("{k}.jsonl").replace('/', "of")),
        ])
    };
    let (first, second) = (shard("1/2"), shard("2/2"));
    assert_eq!(first.status.code().max(second.status.code()), one.status.code());
    let mut merged = json_lines(&dir.join("1of2.jsonl"));
    assert_eq!(merged.iter().map(|l| l["seed"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 3, 5]);
    merged.extend(json_lines(&dir.join("2of2.jsonl")));
    merged.sort_by_key(|l| l["seed"].as_u64());
    assert_eq!(merged, lines);

    // --stop-after-first: every seed up to the first failing one, whatever --jobs is.
    let first_failing = failing[0]["seed"].as_u64().unwrap();
    for jobs in ["1", "4"] {
        let stopped = kafkasim(&[
            "sweep",
            file,
            "--seeds",
            "1..7",
            "--jobs",
            jobs,
            "--stop-after-first",
            "--out",
            &out("stop.jsonl"),
        ]);
        assert_eq!(stopped.status.code(), Some(1));
        let seeds: Vec<u64> = json_lines(&dir.join("stop.jsonl")).iter().map(|l| l["seed"].as_u64().unwrap()).collect();
        assert_eq!(seeds, (1..=first_failing).collect::<Vec<_>>());
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn sweep_rejects_bad_ranges_and_shards() {
    let file = "scenarios/acks-all-safe.toml";
    assert_eq!(kafkasim(&["sweep", file, "--seeds", "5..5"]).status.code(), Some(64));
    assert_eq!(kafkasim(&["sweep", file, "--seeds", "1..9", "--shard", "3/2"]).status.code(), Some(64));
    assert_eq!(kafkasim(&["sweep", file]).status.code(), Some(64));
}

/// The JSON message of each `tracing` line of a target, from `run --trace` output.
fn traced(stderr: &str, target: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| l.split_once(&format!("{target}: ")).map(|(_, json)| json))
        .map(|json| serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}")))
        .collect()
}

#[test]
fn run_trace_prints_the_run_in_simulated_time_and_filters_by_partition_and_value() {
    let dir = scratch_dir("trace");
    let file = dir.join("safe.toml");
    std::fs::write(&file, small_scenario("[1]", "all", "absent = [\"*\"]")).unwrap();
    let file = file.to_str().unwrap();
    let full = kafkasim(&["run", file, "--trace"]);
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let log = stderr(&full);
    let first = log.lines().find(|l| l.contains("kafkasim::trace")).unwrap_or_else(|| panic!("no trace in {log}"));
    assert!(first.starts_with("   0.") && first.contains("s "), "simulated seconds first: {first}");
    let last = log.lines().rfind(|l| l.contains("kafkasim::history")).unwrap();
    let secs: f64 = last.split_whitespace().next().unwrap().trim_end_matches('s').parse().unwrap();
    assert!(secs >= 8.0, "the run lasts past the 8 s safety phase: {last}");
    let events = traced(&log, "kafkasim::trace");
    assert!(events.iter().any(|e| e["tp"] == "orders-1"));
    assert!(!traced(&log, "kafkasim::history").is_empty());
    // Tracing does not change the run.
    let plain = stdout(&kafkasim(&["run", file]));
    assert_eq!(line_starting(&stdout(&full), "trace hash: "), line_starting(&plain, "trace hash: "));

    let partition = stderr(&kafkasim(&["run", file, "--trace", "--partition", "orders-0"]));
    let events = traced(&partition, "kafkasim::trace");
    assert!(events.iter().any(|e| e["tp"] == "orders-0"), "{partition}");
    assert!(events.iter().all(|e| e.get("tp").is_none_or(|tp| tp == "orders-0")), "{partition}");
    for op in traced(&partition, "kafkasim::history") {
        assert!(!op.to_string().contains("orders-1") || op.to_string().contains("orders-0"), "{op}");
    }

    let value = stderr(&kafkasim(&["run", file, "--trace", "--value", "5"]));
    let ops = traced(&value, "kafkasim::history");
    assert!(ops.iter().any(|op| op["f"] == "send"), "the value's send is kept: {value}");
    for op in &ops {
        let text = op["value"].to_string();
        assert!(text.contains(",5]") || text.contains("[5,") || op["f"] == "crash", "{op}");
    }
    for event in traced(&value, "kafkasim::trace") {
        let kind = event["event"].as_str().unwrap();
        assert!(
            [
                "fault",
                "fault-ended",
                "phase",
                "broker-started",
                "controller-elected",
                "quorum-leader",
                "broker-registration",
                "append",
                "log-loaded",
                "truncate"
            ]
            .contains(&kind),
            "{event}"
        );
    }

    assert_eq!(kafkasim(&["run", file, "--partition", "orders-0"]).status.code(), Some(64), "needs --trace");
    assert_eq!(kafkasim(&["run", file, "--trace", "--partition", "orders-9"]).status.code(), Some(64));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_determinism_passes_a_deterministic_scenario() {
    let dir = scratch_dir("determinism");
    let file = lossy(&dir);
    let output = kafkasim(&["check-determinism", file.to_str().unwrap(), "--seeds", "1..4", "--jobs", "2"]);
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(stdout(&output).contains("3 seeds, each run twice: identical trace hashes"), "{}", stdout(&output));
    assert_eq!(kafkasim(&["check-determinism", file.to_str().unwrap()]).status.code(), Some(64));
    let _ = std::fs::remove_dir_all(dir);
}

/// `run` names what the seed drew before the run starts (so a hang still shows it), and
/// `--partition` accepts the partitions the seed drew, not only the file's.
#[test]
fn run_prints_the_draw_first_and_accepts_drawn_partitions() {
    let output = kafkasim(&["run", "scenarios/swarm.toml", "--seed", "2013", "--trace", "--partition", "orders-2"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let drew = out.find("swarm drew: brokers = 5").expect("the draw is printed");
    let sends = out.find("sends:").expect("the run's counts are printed");
    assert!(drew < sends, "{out}");
    // The internal topics' partitions, which anomalies name, are accepted too.
    let internal =
        kafkasim(&["run", "scenarios/swarm.toml", "--seed", "2013", "--trace", "--partition", "__consumer_offsets-1"]);
    assert_eq!(internal.status.code(), Some(0), "{}", stderr(&internal));
    let beyond =
        kafkasim(&["run", "scenarios/swarm.toml", "--seed", "2013", "--trace", "--partition", "__consumer_offsets-99"]);
    assert_eq!(beyond.status.code(), Some(64));
    assert!(
        stderr(&beyond).contains("(and the internal __consumer_offsets-0–4, __transaction_state-0–4)"),
        "{}",
        stderr(&beyond)
    );
}

#[test]
fn set_overrides_the_file_and_the_replay_command_repeats_it() {
    let dir = scratch_dir("set");
    let file = dir.join("safe.toml");
    std::fs::write(&file, small_scenario("[1]", "all", "absent = [\"*\"]")).unwrap();
    let path = file.to_str().unwrap();
    let safe = kafkasim(&["run", path]);
    assert_eq!(safe.status.code(), Some(0), "{}", stderr(&safe));
    let lossy = kafkasim(&["run", path, "--set", "acks=1", "--set", "enable.idempotence=false"]);
    let text = stdout(&lossy);
    assert_ne!(line_starting(&text, "trace hash: "), line_starting(&stdout(&safe), "trace hash: "));
    let command = line_starting(&text, "reproduce: ");
    assert!(command.ends_with("--seed 1 --set acks=1 --set enable.idempotence=false"), "{command}");
    let args: Vec<&str> = command.split_whitespace().collect();
    let replay = kafkasim(&args[1..]);
    assert_eq!(line_starting(&stdout(&replay), "trace hash: "), line_starting(&text, "trace hash: "));

    let bad = kafkasim(&["run", path, "--set", "acks=2"]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(stderr(&bad).contains("--set acks=2 (over "), "{}", stderr(&bad));
    let malformed = kafkasim(&["run", path, "--set", "acks"]);
    assert_eq!(malformed.status.code(), Some(64), "{}", stderr(&malformed));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn compare_runs_every_combination_over_the_same_seeds() {
    let dir = scratch_dir("compare");
    let file = dir.join("crash.toml");
    std::fs::write(&file, small_scenario("[1]", "all", "absent = [\"*\"]")).unwrap();
    let path = file.to_str().unwrap();
    let args = ["compare", path, "--vary", "acks=1,all", "--set", "enable.idempotence=false", "--seeds", "1..3"];
    let output = kafkasim(&[&args[..], &["--json"]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("one JSON document");
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0]["varied"][0], serde_json::json!(["acks", "1"]));
    assert_eq!(cells[1]["seeds"], 2);
    // Each cell is what a sweep of the same settings finds.
    let lost = |cell: &serde_json::Value| cell["anomalies"]["lost-write"].as_u64().unwrap_or(0);
    for (cell, acks) in cells.iter().zip(["1", "all"]) {
        let mut showing = 0;
        for seed in ["1", "2"] {
            let acks_set = format!("acks={acks}");
            let run = kafkasim(&["run", path, "--seed", seed, "--set", &acks_set, "--set", "enable.idempotence=false"]);
            showing += u64::from(stdout(&run).contains("lost-write"));
        }
        assert_eq!(lost(cell), showing, "acks={acks}");
    }
    let table = stdout(&kafkasim(&args));
    assert!(
        table.contains(
            "| acks | anomalies (seeds showing each) | acked/s | failed / unknown sends | longest without a leader (median) |"
        ),
        "{table}"
    );
    let bad = kafkasim(&["compare", path, "--vary", "acks=1,2"]);
    assert_eq!(bad.status.code(), Some(65));
    assert!(stderr(&bad).contains("--set acks=2"), "{}", stderr(&bad));
    let _ = std::fs::remove_dir_all(dir);
}

/// A reader that stops early (`kafkasim run ... | head -1`) ends the process as it ends
/// `cat`: by SIGPIPE, without a panic (exit 101 and a backtrace, before).
#[cfg(unix)]
#[test]
fn output_into_a_closed_pipe_ends_the_process_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(["run", "scenarios/acks1-leader-crash.toml", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafkasim starts");
    // The reader goes away before the first line is written.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("kafkasim ends");
    assert_eq!(output.status.signal(), Some(libc::SIGPIPE), "{:?}: {}", output.status, stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

/// `RUST_LOG` must be a log filter (a typo is a usage error, not silence), and `warn`
/// shows no madsim warning about std's HashMap seeds, which reads as an alarm about
/// kafkasim's determinism (the same-seed tests guard that).
#[test]
fn rust_log_is_checked_and_warn_level_is_quiet_on_a_clean_run() {
    let with_log = |filter: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kafkasim"))
            .args(["run", "scenarios/acks1-leader-crash.toml", "--seed", "3"])
            .env("RUST_LOG", filter)
            .output()
            .expect("kafkasim runs")
    };
    let bad = with_log("kafkasim=loud");
    assert_eq!(bad.status.code(), Some(64), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("RUST_LOG=\"kafkasim=loud\" is not a log filter"), "{}", stderr(&bad));
    let warn = with_log("warn");
    assert_eq!(warn.status.code(), Some(0), "{}", stderr(&warn));
    assert!(!stderr(&warn).contains("HashMap"), "{}", stderr(&warn));
}

/// An output path that cannot be written fails before the run (nothing printed, exit
/// 74), not after minutes of simulation.
#[test]
fn output_paths_are_checked_before_the_work_starts() {
    let dir = scratch_dir("unwritable-outputs");
    let missing = dir.join("no-such-dir").join("out");
    let missing = missing.to_str().expect("a UTF-8 path");
    for args in [
        vec!["run", "scenarios/acks1-leader-crash.toml", "--seed", "3", "--history", missing],
        vec!["run", "scenarios/acks1-leader-crash.toml", "--seed", "3", "--trace-out", missing],
        vec!["shrink", "scenarios/acks1-leader-crash.toml", "--seed", "4", "--out", missing],
        vec!["sweep", "scenarios/acks1-leader-crash.toml", "--seeds", "1..3", "--out", missing],
        vec!["suite", "scenarios", "--junit", missing],
    ] {
        let output = kafkasim(&args);
        assert_eq!(output.status.code(), Some(74), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("cannot write"), "{args:?}: {}", stderr(&output));
        assert_eq!(stdout(&output), "", "{args:?}: the run started");
    }
}

/// A file that is not UTF-8 is invalid input (65), located by line and column, for
/// every command that reads one; it was "unreadable" (66) for scenarios and 1:1 for
/// EDN histories before.
#[test]
fn a_file_that_is_not_utf8_is_reported_the_same_way_by_every_command() {
    let dir = scratch_dir("not-utf8");
    let scenario = dir.join("bad.toml");
    std::fs::write(&scenario, b"seeds = [1]\nduration = \"1s\"\n# \xff\n").unwrap();
    let suite_dir = dir.join("suite");
    std::fs::create_dir_all(&suite_dir).unwrap();
    std::fs::copy(&scenario, suite_dir.join("bad.toml")).unwrap();
    let history = dir.join("bad.edn");
    std::fs::write(&history, b"{:index 0 :time 0 :process 0 :type :invoke :f :poll\n :value [[:poll \xff]]}\n")
        .unwrap();
    let (scenario, suite_dir, history) =
        (scenario.to_str().unwrap(), suite_dir.to_str().unwrap(), history.to_str().unwrap());
    for (args, at) in [
        (vec!["run", scenario], "bad.toml:3:3:"),
        (vec!["describe", scenario], "bad.toml:3:3:"),
        (vec!["sweep", scenario, "--seeds", "1..2"], "bad.toml:3:3:"),
        (vec!["suite", suite_dir], "bad.toml:3:3:"),
        (vec!["check", history], "bad.edn:2:17:"),
    ] {
        let output = kafkasim(&args);
        assert_eq!(output.status.code(), Some(65), "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains(&format!("{at} not valid UTF-8 (byte 0xff)")),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

/// A run that cannot fit the memory budget is refused before it starts (exit 65), by
/// every command that runs it, with the estimate, the budget and the settings to change.
#[test]
fn a_run_over_the_memory_budget_is_refused_before_it_starts() {
    let dir = scratch_dir("memory-budget");
    let year = dir.join("year.toml");
    // A year at 300 records a second.
    let text = small_scenario("[1]", "all", "")
        .replace("duration = \"8s\"", "duration = \"8760h\"")
        .replace("rate_per_sec = 400", "rate_per_sec = 300");
    assert!(text.contains("8760h") && text.contains("= 300"), "the small scenario changed: {text}");
    std::fs::write(&year, text).expect("scenario written");
    let year = year.to_str().expect("a UTF-8 path");
    for args in [vec!["run", year], vec!["sweep", year, "--seeds", "1..3"], vec!["explain", year]] {
        let output = kafkasim(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(65), "{args:?}: {err}");
        for part in ["MiB of memory", "budget of", "`duration`", "`rate_per_sec`", "`count`", "--memory-limit-mb"] {
            assert!(err.contains(part), "{args:?}: {part}: {err}");
        }
        assert_eq!(stdout(&output), "", "{args:?}: the run started");
    }
    // The same small scenario fits, and --memory-limit-mb lowers the budget under it.
    let output = kafkasim(&["run", "scenarios/acks1-leader-crash.toml", "--seed", "3", "--memory-limit-mb", "1"]);
    assert_eq!(output.status.code(), Some(65), "{}", stderr(&output));
    assert!(stderr(&output).contains("budget of 1 MiB"), "{}", stderr(&output));
    let _ = std::fs::remove_dir_all(dir);
}

/// `sweep` and `suite` run only as many seeds side by side as fit the budget: one
/// acks1-leader-crash run (about 30 MiB) fits 40 MiB, two do not.
#[test]
fn a_sweep_runs_fewer_seeds_at_once_when_more_would_not_fit_the_budget() {
    let output = kafkasim(&[
        "sweep",
        "scenarios/acks1-leader-crash.toml",
        "--seeds",
        "3..5",
        "--jobs",
        "2",
        "--memory-limit-mb",
        "40",
    ]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("running 1 seed(s) at a time instead of 2"), "{err}");
    assert!(err.contains("on 1 threads"), "{err}");
}

/// `--partition` is checked against the partitions the seed drew: seed 2013 of swarm.toml
/// draws three (the file has two), so orders-2 is accepted and orders-3 refused naming the draw.
#[test]
fn run_partition_outside_the_seeds_draw_is_refused_naming_the_draw() {
    let output = kafkasim(&["run", "scenarios/swarm.toml", "--seed", "2013", "--trace", "--partition", "orders-3"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(64), "{err}");
    assert!(err.contains("seed 2013 drew orders-0, orders-1, orders-2"), "{err}");
}
