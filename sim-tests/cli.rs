//! The `kafkasim` command line: exit codes, the replay command it prints, clear errors
//! for bad input, and `check` on hand-written histories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kafkasim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafkasim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the kafkasim binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

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
    let first = kafkasim(&["run", "scenarios/acks1-leader-crash.toml", "--seed", "2"]);
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
    let path = std::env::temp_dir().join(format!("kafkasim-history-{}.jsonl", std::process::id()));
    let output = kafkasim(&["run", "scenarios/acks-all-safe.toml", "--seed", "1", "--history", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).expect("history written");
    let ops = kafkasim::history::read_history_jsonl(text.as_bytes()).expect("valid history");
    assert!(ops.iter().any(|op| op.f == kafkasim::history::OpFn::Send));
    assert!(ops.iter().any(|op| op.f == kafkasim::history::OpFn::Poll));
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_invalid_scenario_is_reported_with_file_line_column_and_field() {
    let dir = std::env::temp_dir().join(format!("kafkasim-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("`type`"), "{message}");
}

#[test]
fn a_consumer_group_scenario_is_refused_clearly_until_groups_are_implemented() {
    let dir = std::env::temp_dir().join(format!("kafkasim-group-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("group.toml");
    std::fs::write(
        &file,
        "seeds = [1]\nduration = \"5s\"\n[[topics]]\nname = \"t\"\n[[consumers]]\ntopic = \"t\"\nmode = \"subscribe\"\ngroup = \"g\"\n",
    )
    .unwrap();
    let output = kafkasim(&["run", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(65), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("group.toml") && message.contains("not implemented yet"), "{message}");
    let _ = std::fs::remove_dir_all(dir);
}
