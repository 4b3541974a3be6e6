//! Valid values: seeds, durations, targets, expectations, inline tables, files and the
//! example in the module docs.

use super::tests::ok;
use super::*;
use crate::check::AnomalyKind;

#[test]
fn seeds_accept_lists_and_half_open_ranges() {
    let seeds = |v: &str| ok(&format!("seeds = {v}\nduration = \"1s\"")).seeds;
    assert_eq!(seeds("\"1..4\""), vec![1, 2, 3]);
    assert_eq!(seeds("\"1..=3\""), vec![1, 2, 3]);
    assert_eq!(seeds("\"0..1\""), vec![0]);
    assert_eq!(seeds("[5, 3, 9]"), vec![5, 3, 9]);
    assert_eq!(seeds("\"1..51\"").len(), 50);
    assert_eq!(parse_seed_range("10..12"), Ok(vec![10, 11]));
    assert!(parse_seed_range("1..1000001").unwrap_err().contains("at most 100000"));
    assert!(parse_seed_range("3..1").unwrap_err().contains("is empty"));
    assert!(parse_seed_range("a..b").is_err());
}

#[test]
fn durations_parse_with_units_and_format_back() {
    for (text, ms) in [
        ("150ms", 150),
        ("2s", 2_000),
        ("2.5s", 2_500),
        ("1m", 60_000),
        ("1m30s", 90_000),
        ("1h", 3_600_000),
        ("0.5s", 500),
        ("0s", 0),
        (" 3s ", 3_000),
        ("0.001s", 1),
    ] {
        assert_eq!(parse_duration_ms(text), Ok(ms), "{text}");
        assert_eq!(parse_duration_ms(&format_duration_ms(ms)), Ok(ms), "{text} round trip");
    }
    for bad in ["", "20", "2.5", "s", "1.5ms", "1x", "-1s", "1..5s", ".5s", "5.s", "1 s", "99999999999999999999999h"] {
        assert!(parse_duration_ms(bad).is_err(), "{bad:?} should be rejected");
    }
    assert_eq!(format_duration_ms(2_500), "2.5s");
    assert_eq!(format_duration_ms(150), "150ms");
    assert_eq!(format_duration_ms(90_000), "1m30s");
    assert_eq!(format_duration_ms(120_000), "2m");
}

#[test]
fn every_target_form_parses() {
    let leader = Target::LeaderOf("orders-0".into());
    for (text, target) in [
        ("broker-2", Target::Node("broker-2".into())),
        ("metastore", Target::Node("metastore".into())),
        ("producer-1", Target::Node("producer-1".into())),
        ("consumer-12", Target::Node("consumer-12".into())),
        ("controller", Target::Controller),
        ("the controller", Target::Controller),
        ("leader of orders-0", leader.clone()),
        ("the leader of orders-0", leader.clone()),
        ("the current leader of orders-0", leader.clone()),
        ("The  Leader of orders-0", leader),
        ("followers of my-topic-10", Target::FollowersOf("my-topic-10".into())),
        ("the followers of orders-1", Target::FollowersOf("orders-1".into())),
        ("a follower of Orders-1", Target::AFollowerOf("Orders-1".into())),
        ("a random broker", Target::RandomBroker),
        ("random broker", Target::RandomBroker),
        ("all brokers", Target::AllBrokers),
        ("crashed", Target::Crashed),
        ("everyone else", Target::Everyone),
        ("everyone", Target::Everyone),
    ] {
        assert_eq!(Target::parse(text), Some(target.clone()), "{text}");
        assert_eq!(Target::parse(&target.to_string()), Some(target), "{text}: Display round trip");
    }
    for bad in ["", "broker", "broker-", "broker-x", "the leader of orders", "leader of -1", "the boss", "zookeeper-1"]
    {
        assert_eq!(Target::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn targets_resolve_against_the_scenario() {
    // Under Kafka 3.9, whose ZooKeeper cluster runs the metastore.
    let s = ok(r#"kafka_version = "3.9"
seeds = [1]
duration = "10s"
[[topics]]
name = "orders"
partitions = 2
replication.factor = 3
[[consumers]]
topic = "orders"
[[faults]]
at = "1s"
kind = "crash"
target = "a follower of orders-1"
[[faults]]
at = "2s"
kind = "partition"
target = "consumer-1"
peers = "all brokers"
[[faults]]
at = "3s"
kind = "crash"
target = "metastore"
duration = "1s"
"#);
    assert_eq!(s.faults[0].action, FaultAction::Crash { target: Target::AFollowerOf("orders-1".into()) });
    assert_eq!(s.faults[2].to_string(), "at 3s: crash metastore for 1s");
}

#[test]
fn absent_star_means_every_kind_not_present() {
    let s = ok("seeds = [1]\nduration = \"1s\"\n[expect]\npresent = [\"duplicate\"]\nabsent = [\"*\"]\n");
    assert_eq!(s.expect.present, vec![AnomalyKind::Duplicate]);
    assert_eq!(s.expect.absent.len(), AnomalyKind::ALL.len() - 1);
    assert!(!s.expect.absent.contains(&AnomalyKind::Duplicate));
}

#[test]
fn inline_tables_and_arrays_of_inline_tables_are_accepted() {
    let s = ok(r#"seeds = [1]
duration = "1s"
cluster = { brokers = 5, config = { min.insync.replicas = 2 } }
topics = [{ name = "a", "replication.factor" = 5 }, { name = "b" }]
"#);
    assert_eq!(s.cluster.brokers, 5);
    assert_eq!(s.cluster.config.min_insync_replicas, 2);
    assert_eq!(s.topics.len(), 2);
    assert_eq!(s.topics[0].replication_factor, 5);
}

#[test]
fn load_reads_the_file_and_reports_unreadable_files() {
    let dir = std::env::temp_dir().join(format!("kafkasim-scenario-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-scenario.toml");
    std::fs::write(&path, "seeds = [1]\nduration = \"1s\"\n").unwrap();
    let s = load(&path).unwrap();
    assert_eq!(s.name, "my-scenario");
    std::fs::remove_dir_all(&dir).unwrap();
    let e = load(&path).unwrap_err();
    assert_eq!((e.line, e.column, e.field.as_deref()), (0, 0, None));
    assert!(e.to_string().starts_with(&format!("{}: cannot read the scenario file: ", path.display())), "{e}");
    assert_eq!(e.snippet(), None);
}

#[test]
fn the_example_in_the_module_docs_parses() {
    let doc: String = include_str!("mod.rs")
        .lines()
        .skip_while(|l| !l.starts_with("//! ```toml"))
        .skip(1)
        .take_while(|l| !l.starts_with("//! ```"))
        .map(|l| format!("{}\n", l.trim_start_matches("//!").strip_prefix(' ').unwrap_or("")))
        .collect();
    let s = ok(&doc);
    assert_eq!(s.name, "acks-1-leader-crash");
    assert_eq!(s.seeds.len(), 50);
    assert_eq!(Theme::from_name("loss"), s.theme);
    assert_eq!(s.faults[0].to_string(), "at 5s: crash the leader of orders-0 for 3s");
    // Every kind but the one present and the one allowed.
    assert_eq!(s.expect.absent.len(), crate::check::AnomalyKind::ALL.len() - 2);
    assert!(!s.expect.absent.contains(&crate::check::AnomalyKind::G0));
}
