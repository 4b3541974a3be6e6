//! Swarm draws: per-seed configurations and nemesis schedules, in both metadata modes.

use super::*;
use crate::scenario::parse;
use std::path::Path;

const TEXT: &str = r#"
seeds = [1]
duration = "10s"
[cluster.config]
"min.insync.replicas" = 2
[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 10
[[consumers]]
topic = "orders"
[[consumers]]
topic = "orders"
mode = "subscribe"
group = "g"
count = 2
[nemesis]
kinds = ["crash", "partition", "packet-loss", "latency", "power-loss", "pause", "clog", "reorder", "duplicate", "stall", "leave", "stop", "rolling-restart"]
interval = "500ms"
start = "1s"
duration_min = "200ms"
duration_max = "2s"
packet_loss_rate_max = 0.3
latency_max = "150ms"
[swarm]
brokers = [3, 7]
"replication.factor" = [2, 3]
partitions = [1, 4]
producers = [1, 3]
"max.in.flight.requests.per.connection" = [1, 5]
nemesis_interval = ["100ms", "1s"]
"#;

fn scenario() -> Scenario {
    parse(TEXT, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `text` under Kafka 3.9, the last release that runs ZooKeeper (and by default), on
/// the text's empty first line so that every line keeps its number.
fn on_3_9(text: &str) -> String {
    assert!(text.starts_with('\n'), "the text begins with an empty line");
    format!("kafka_version = \"3.9\"{text}")
}

/// TEXT under Kafka 3.9: a ZooKeeper cluster.
fn zookeeper_scenario() -> Scenario {
    parse(&on_3_9(TEXT), Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_generator_is_fixed_by_seed_and_stream() {
    let mut a = SeedRng::new(7, SWARM_STREAM);
    let mut b = SeedRng::new(7, SWARM_STREAM);
    let mut c = SeedRng::new(7, NEMESIS_STREAM);
    let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
    assert_eq!(xs, (0..8).map(|_| b.next_u64()).collect::<Vec<_>>());
    assert_ne!(xs, (0..8).map(|_| c.next_u64()).collect::<Vec<_>>());
    // SplitMix64's published first output for state 0 pins the algorithm.
    assert_eq!(SeedRng(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    for _ in 0..1_000 {
        let x = a.range(3, 5);
        assert!((3..=5).contains(&x));
        assert!((0.0..1.0).contains(&a.unit()));
    }
}

#[test]
fn every_draw_stays_within_its_bounds() {
    // ZooKeeper: the crashed, paused, powered-off or partitioned node is a broker or the
    // metastore.
    let base = zookeeper_scenario();
    for seed in 0..300 {
        let (s, drawn) = instantiate(&base, seed);
        let drawn = drawn.expect("drawn");
        assert!((3..=7).contains(&s.cluster.brokers));
        let rf = s.topics[0].replication_factor;
        assert!((2..=3).contains(&rf) && rf <= s.cluster.brokers);
        assert!((1..=4).contains(&s.topics[0].partitions));
        assert!((1..=3).contains(&s.producers[0].count));
        assert!((1..=5).contains(&s.producers[0].config.max_in_flight_requests_per_connection));
        let nemesis = s.nemesis.as_ref().expect("nemesis");
        assert!(!nemesis.kinds.is_empty() && nemesis.kinds.len() <= 13);
        assert!((100..=1_000).contains(&nemesis.interval_ms));
        assert_eq!(drawn.faults.len(), s.faults.len());
        for fault in &s.faults {
            assert!(fault.at_ms > 1_000 && fault.at_ms < 10_000, "{fault}");
            assert!((200..=2_000).contains(&fault.duration_ms.expect("timed")), "{fault}");
            assert!(nemesis.kinds.iter().any(|(k, _)| *k == fault.action.kind()), "{fault}");
            match &fault.action {
                FaultAction::PacketLoss { rate } => assert!(*rate > 0.0 && *rate <= 0.3),
                FaultAction::Duplicate { rate, .. } => assert!(*rate > 0.0 && *rate <= 0.2),
                FaultAction::Latency { latency_ms_max, .. } => assert!((5..=150).contains(latency_ms_max)),
                // Only the group members (consumer-2 and -3), never the assign-mode consumer-1.
                FaultAction::Stall { target: Target::Node(n) } | FaultAction::Leave { target: Target::Node(n) } => {
                    assert!(n == "consumer-2" || n == "consumer-3", "{fault}");
                }
                FaultAction::Crash { target: Target::Node(n) }
                | FaultAction::Pause { target: Target::Node(n) }
                | FaultAction::PowerLoss { target: Target::Node(n) }
                | FaultAction::Partition { target: Target::Node(n), .. } => {
                    let ok = n == "metastore"
                        || n.strip_prefix("broker-")
                            .and_then(|i| i.parse::<u32>().ok())
                            .is_some_and(|i| (1..=s.cluster.brokers).contains(&i));
                    assert!(ok, "{fault}");
                }
                _ => {}
            }
        }
        assert!(s.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    }
}

#[test]
fn every_enabled_kind_and_partition_shape_is_drawn_in_some_seed() {
    // The machine faults came later: enabled here only, so that the other tests' draws
    // (and their digest) stay those of the original list.
    let text =
        TEXT.replace("\"stop\", \"rolling-restart\"]", "\"stop\", \"rolling-restart\", \"slow-disk\", \"cpu-steal\"]");
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let mut kinds = std::collections::BTreeSet::new();
    let mut shapes = std::collections::BTreeSet::new();
    for seed in 0..200 {
        for fault in instantiate(&base, seed).0.faults {
            kinds.insert(fault.action.kind());
            if let FaultAction::Split { shape, .. } = fault.action {
                shapes.insert(shape.name());
            }
        }
    }
    let all: std::collections::BTreeSet<FaultKind> = FaultKind::drawable().collect();
    assert_eq!(kinds, all);
    assert_eq!(shapes, ["bridge", "majority-minority"].into_iter().collect());
}

/// FNV-1a over every drawn fault of seeds 0 to 99, one line per seed.
fn digest_of_drawn_faults(base: &Scenario) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for seed in 0..100 {
        let drawn = instantiate(base, seed).1.expect("drawn");
        for byte in format!("{seed}:{}\n", drawn.faults.join("|")).bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[test]
fn zookeeper_draws_are_those_drawn_before_kraft_targets_existed() {
    // The digest of the 2205 faults this scenario (ZooKeeper, the default release then
    // being 3.9) drew over seeds 0 to 99 before the nemesis knew KRaft controllers
    // (commit 87eca8a, through `kafkasim sweep --out`): a ZooKeeper seed makes the same
    // draws in the same order, so its faults, and with them every ZooKeeper trace hash,
    // stay as they were.
    assert_eq!(digest_of_drawn_faults(&zookeeper_scenario()), 0xaa02_b54a_3a07_0314);
}

#[test]
fn a_kraft_nemesis_draws_controllers_where_zookeeper_s_draws_the_controller_broker_or_the_metastore() {
    let text = TEXT.replace("[cluster.config]", "[cluster]\nmetadata = \"kraft\"\ncontrollers = 3\n[cluster.config]");
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let (s, _) = instantiate(&base, seed);
        assert_eq!(s.cluster.controllers, 3);
        for fault in &s.faults {
            for target in fault.action.targets() {
                // No metastore runs, and "the controller" would only repeat "the
                // active controller": the draws name controllers by role or by name.
                assert_ne!(*target, Target::Node(METASTORE.to_string()), "{fault}");
                assert_ne!(*target, Target::Controller, "{fault}");
                if let Target::Node(n) = target {
                    if let Some(i) = n.strip_prefix("controller-") {
                        assert!((1..=3).contains(&i.parse::<u32>().expect("a number")), "{fault}");
                    }
                }
            }
            let kind = fault.action.kind().name();
            match &fault.action {
                FaultAction::Partition { target, peers, .. } => {
                    seen.insert(format!("{kind} {} | {}", class(target), peer_class(peers)));
                }
                FaultAction::Clog { target, peers } => {
                    seen.insert(format!("{kind} {} | {}", class(target), peer_class(peers)));
                }
                action => {
                    for target in action.targets().into_iter().take(1) {
                        seen.insert(format!("{kind} {}", class(target)));
                    }
                }
            }
        }
    }
    for expected in [
        "crash the active controller",
        "crash a named controller",
        "crash a named broker",
        "power-loss the active controller",
        "power-loss a named controller",
        "pause a majority of controllers",
        "pause all controllers",
        "pause the active controller",
        "partition a majority of controllers | everyone else",
        "partition all controllers | everyone else",
        "partition the active controller | all controllers",
        "clog a named broker | all controllers",
        "clog the active controller | all controllers",
        "reorder a named controller",
        "duplicate the active controller",
        "stop the active controller",
        "stop a named controller",
        "stop a named broker",
    ] {
        assert!(seen.contains(expected), "{expected} never drawn in 300 seeds: {seen:#?}");
    }
}

/// A target's role, with numbered nodes grouped.
fn class(target: &Target) -> String {
    match target {
        Target::Node(n) if n.starts_with("controller-") => "a named controller".into(),
        Target::Node(n) if n.starts_with("broker-") => "a named broker".into(),
        t => t.to_string(),
    }
}

fn peer_class(peers: &Target) -> String {
    match peers {
        Target::Node(n) if n.starts_with("broker-") => "a named broker".into(),
        t => t.to_string(),
    }
}

#[test]
fn the_only_controller_is_cut_off_from_everyone_else_rather_than_from_itself() {
    let text = TEXT.replace("[cluster.config]", "[cluster]\nmetadata = \"kraft\"\ncontrollers = 1\n[cluster.config]");
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    for seed in 0..300 {
        for fault in instantiate(&base, seed).0.faults {
            if let FaultAction::Partition { target, peers, .. } | FaultAction::Clog { target, peers } = &fault.action {
                let controller = matches!(target, Target::ActiveController)
                    || matches!(target, Target::Node(n) if n == "controller-1");
                assert!(!(controller && *peers == Target::AllControllers), "{fault}");
            }
        }
    }
}

#[test]
fn the_metadata_mode_and_the_controller_count_are_drawn_and_the_nemesis_follows_the_drawn_mode() {
    // Under 3.9, which runs both modes (4.0 removed ZooKeeper).
    let text =
        on_3_9(&TEXT.replace("[swarm]\n", "[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\ncontrollers = [1, 5]\n"));
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let (mut modes, mut counts) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for seed in 0..200 {
        let (s, drawn) = instantiate(&base, seed);
        let drawn = drawn.expect("drawn");
        // Drawn right after the broker count, and the count only for a KRaft cluster.
        assert_eq!(drawn.swarm[1].0, "metadata");
        let kraft = s.cluster.metadata == MetadataMode::Kraft;
        assert_eq!(drawn.swarm[1].1, if kraft { "kraft" } else { "zookeeper" });
        modes.insert(s.cluster.metadata == MetadataMode::Kraft);
        if kraft {
            assert_eq!(drawn.swarm[2], ("controllers".to_string(), s.cluster.controllers.to_string()));
            counts.insert(s.cluster.controllers);
        } else {
            assert_eq!(s.cluster.controllers, 0);
            assert!(drawn.swarm.iter().all(|(k, _)| k != "controllers"));
        }
        for fault in &s.faults {
            for target in fault.action.targets() {
                let names_controllers =
                    matches!(target, Target::ActiveController | Target::MajorityOfControllers | Target::AllControllers)
                        || matches!(target, Target::Node(n) if n.starts_with("controller-"));
                let metastore = *target == Target::Node(METASTORE.to_string());
                assert!(if kraft { !metastore } else { !names_controllers }, "seed {seed}: {fault}");
                if let Target::Node(n) = target {
                    if let Some(i) = n.strip_prefix("controller-") {
                        assert!(i.parse::<u32>().is_ok_and(|i| i <= s.cluster.controllers), "{fault}");
                    }
                }
            }
        }
    }
    assert_eq!(modes.len(), 2, "both modes drawn");
    assert_eq!(counts, [1, 3, 5].into_iter().collect(), "every odd count in [1, 5]");
    // A narrower range draws only the counts it holds.
    let text = on_3_9(&TEXT.replace("[swarm]\n", "[swarm]\nmetadata = \"kraft\"\ncontrollers = [3, 5]\n"));
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let counts: std::collections::BTreeSet<u32> =
        (0..50).map(|seed| instantiate(&base, seed).0.cluster.controllers).collect();
    assert_eq!(counts, [3, 5].into_iter().collect());
    // A file written for ZooKeeper drawing KRaft runs its own `controllers` and
    // `pre_vote`, which a ZooKeeper cluster ignores.
    let text = on_3_9(
        &TEXT
            .replace("[cluster.config]", "[cluster]\ncontrollers = 5\npre_vote = true\n[cluster.config]")
            .replace("[swarm]\n", "[swarm]\nmetadata = [\"kraft\"]\n"),
    );
    let base = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((base.cluster.metadata, base.cluster.controllers), (MetadataMode::Zookeeper, 0));
    let (s, _) = instantiate(&base, 1);
    assert_eq!((s.cluster.metadata, s.cluster.controllers, s.cluster.pre_vote), (MetadataMode::Kraft, 5, true));
}

#[test]
fn the_same_seed_draws_the_same_scenario_and_other_seeds_vary() {
    let base = scenario();
    assert_eq!(instantiate(&base, 42), instantiate(&base, 42));
    let counts: std::collections::BTreeSet<u32> =
        (0..50).map(|seed| instantiate(&base, seed).0.cluster.brokers).collect();
    assert_eq!(counts.len(), 5, "{counts:?}");
    // A scenario without [swarm] and [nemesis] runs as written and draws nothing.
    let plain = parse("seeds = [1]\nduration = \"1s\"\n", Path::new("x.toml")).expect("valid");
    assert_eq!(instantiate(&plain, 3), (plain.clone(), None));
}

#[test]
fn a_draw_takes_its_settings_and_faults_from_its_seeds_and_edits_the_schedule_in_order() {
    use super::super::draw::Draw;
    let s = parse(TEXT, Path::new("x.toml")).unwrap();
    let draw = |text: &str| text.parse::<Draw>().unwrap();
    let faults = |d: &Draw| instantiate_draw(&s, 999, Some(d)).1.unwrap().faults;
    // The plain draw of a seed is that seed's run, whatever the run's own seed.
    assert_eq!(instantiate_draw(&s, 999, Some(&Draw::plain(4))).1.unwrap().swarm, instantiate(&s, 4).1.unwrap().swarm);
    assert_eq!(faults(&Draw::plain(7)), instantiate(&s, 7).1.unwrap().faults);
    // The swarm draws the nemesis' kinds and interval with the settings; the times,
    // kinds and targets come from the faults seed.
    let plain = faults(&draw("settings=4,faults=7"));
    assert_ne!(plain, faults(&draw("settings=4,faults=8")), "the schedule follows the faults seed");
    assert!(plain.len() > 3, "{plain:?}");
    // Remove, then shift what is now fault 0 far back: it clamps to the nemesis' start.
    let edited = faults(&draw("settings=4,faults=7,remove=0,shift=0:-60000ms,stretch=1:333ms"));
    assert_eq!(edited.len(), plain.len() - 1);
    assert!(edited[0].starts_with("at 1s: "), "{edited:?}");
    assert!(edited[1].ends_with(" for 333ms"), "{edited:?}");
    // An added fault lands in time order; a retarget keeps kind, time and duration.
    let added = faults(&draw("settings=4,faults=7,add=1001ms:5"));
    assert_eq!(added.len(), plain.len() + 1);
    assert!(added.iter().any(|f| f.starts_with("at 1.001s: ")), "{added:?}");
    let retargeted = faults(&draw("settings=4,faults=7,retarget=0:12345"));
    let kind = |f: &str| f.split(": ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_eq!((kind(&retargeted[0]), retargeted.len()), (kind(&plain[0]), plain.len()));
    assert!(Draw::check(&draw(&format!("settings=4,faults=7,remove={}", plain.len())), &s, 1).is_err());
}
