//! `--set KEY=VALUE`: settings go where the file would have put them, win over it, are
//! checked like it, and their errors name the flag.

use std::path::Path;

use super::*;
use crate::protocol::{Acks, TruncationMode};

const FILE: &str = r#"seeds = [1, 2]
duration = "10s"
[[topics]]
name = "orders"
[topics.config]
"min.insync.replicas" = 1
[[producers]]
topic = "orders"
rate_per_sec = 10
[producers.config]
acks = "all"
"#;

fn settings(list: &[&str]) -> Vec<Setting> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn with(text: &str, list: &[&str]) -> Result<Scenario, ScenarioError> {
    parse_with(text, Path::new("scenarios/x.toml"), &settings(list), SetScope::OneScenario)
}

#[test]
fn settings_win_over_the_file_and_fill_tables_it_lacks() {
    let list = ["acks=1", "min.insync.replicas=2", "replication.factor=3", "duration=5s", "seeds=3..5", "brokers=5"];
    let s = with(FILE, &list).unwrap();
    assert_eq!(s.producers[0].config.acks, Acks::Leader);
    assert_eq!(s.cluster.config.min_insync_replicas, 2, "[cluster.config] made for it");
    assert_eq!(s.topics[0].config.min_insync_replicas, Some(2), "the topic's own override is overridden too");
    assert_eq!((s.duration_ms, s.seeds.clone(), s.cluster.brokers), (5_000, vec![3, 4], 5));
    assert_eq!(s.set_arguments(), list.iter().map(|s| format!(" --set {s}")).collect::<String>());
    assert_eq!(with(FILE, &[]).unwrap().set_arguments(), "");
}

#[test]
fn a_value_is_the_text_where_a_string_is_wanted_and_toml_elsewhere() {
    let s = with(FILE, &["kafka_version=2.0", "enable.idempotence=false", "truncation=legacy"]).unwrap();
    assert_eq!(s.profile.version.to_string(), "2.0");
    assert!(!s.producers[0].config.enable_idempotence);
    assert_eq!(s.cluster.truncation, TruncationMode::Legacy);
    let quoted = with(FILE, &["acks=\"1\""]).unwrap();
    assert_eq!(quoted.producers[0].config.acks, Acks::Leader);
}

#[test]
fn errors_in_a_setting_name_the_flag_and_what_was_expected() {
    let e = with(FILE, &["acks=2"]).unwrap_err().to_string();
    assert!(e.starts_with("--set acks=2 (over scenarios/x.toml): `producers[0].config.acks`: "), "{e}");
    let e = with(FILE, &["brokers=many"]).unwrap_err().to_string();
    assert!(e.starts_with("--set brokers=many (over scenarios/x.toml): `cluster.brokers`: expected"), "{e}");
    let e = with(FILE, &["min.insync.replica=2"]).unwrap_err().to_string();
    assert!(e.contains("unknown setting `min.insync.replica` (did you mean `min.insync.replicas`?)"), "{e}");
    // A file error is still reported at its line, with settings present.
    let e = with("seeds = [1]\nduration = 5\n", &["brokers=3"]).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (2, Some("duration")));
}

#[test]
fn a_setting_without_a_table_is_an_error_for_one_scenario_and_skipped_in_a_catalog() {
    let no_consumers = with(FILE, &["auto.offset.reset=earliest"]).unwrap_err().to_string();
    let expected = "this scenario has no [consumers.config] or [pipelines.consumer] for `auto.offset.reset`";
    assert!(no_consumers.contains(expected), "{no_consumers}");
    let catalog =
        parse_with(FILE, Path::new("x.toml"), &settings(&["auto.offset.reset=earliest"]), SetScope::Catalog).unwrap();
    assert!(catalog.consumers.is_empty());
}

#[test]
fn a_setting_reaches_a_nested_table_and_makes_it_when_missing() {
    let s = with(FILE, &["vm.dirty_expire_centisecs=100", "vm.dirty_writeback_centisecs=50"]).unwrap();
    assert_eq!((s.cluster.os.dirty_expire_centisecs, s.cluster.os.dirty_writeback_centisecs), (100, 50));
    let file = format!("{FILE}[cluster.os]\n\"vm.dirty_expire_centisecs\" = 700\n");
    let s = with(&file, &["vm.dirty_expire_centisecs=200"]).unwrap();
    assert_eq!(s.cluster.os.dirty_expire_centisecs, 200, "the setting wins over the file");
    let e = with(FILE, &["vm.dirty_expire_centisecs=-5"]).unwrap_err().to_string();
    assert!(e.starts_with("--set vm.dirty_expire_centisecs=-5 (over scenarios/x.toml): `cluster.os."), "{e}");
}

#[test]
fn a_setting_reaches_the_metastore_table() {
    let s = with(FILE, &["tickTime=500", "zookeeper.session.timeout.ms=1000"]).unwrap();
    assert_eq!((s.metastore.min_session_timeout_ms, s.metastore.max_session_timeout_ms), (1_000, 10_000));
    assert_eq!(s.cluster.config.zookeeper_session_timeout_ms, 1_000);
}
