//! Valid scenarios: full parse, defaults, seeds, durations and targets.

use std::path::{Path, PathBuf};

use super::*;
use crate::check::AnomalyKind;
use crate::protocol::{
    Acks, AssignmentStrategy, MetadataMode, OffsetReset, StickyAlgorithm, TruncationMode, UnkeyedPartitioning,
};

/// A scenario that uses every section, in both quoted and dotted key styles.
pub(super) const FULL: &str = r#"
name = "acks-1-leader-crash"
title = "acks=1 loses acknowledged writes"
lesson = "The leader acknowledges before followers have the record."
mechanism = "The leader crashes; a follower without the record becomes leader."
fix = "acks = all with min.insync.replicas = 2"
theme = "loss"
seeds = [1, 2, 3]
duration = "20s"
liveness_timeout = "45s"

[cluster]
brokers = 3
truncation = "legacy"

[cluster.config]
"min.insync.replicas" = 2
unclean.leader.election.enable = true
"replica.lag.time.max.ms" = 10000
"log.flush.interval.messages" = 1

[network]
latency_min = "2ms"
latency_max = "10ms"
packet_loss_rate = 0.01

[[topics]]
name = "orders"
partitions = 3
"replication.factor" = 3

[topics.config]
"min.insync.replicas" = 3

[[topics]]
name = "audit-log"
replication.factor = 2

[[producers]]
count = 2
topic = "orders"
rate_per_sec = 50
records = 1000
partitioning = "keyed"
key_count = 10
send = "async"

[producers.config]
acks = 1
"linger.ms" = 5
retries = 3

[[producers]]
topic = "audit-log"
rate_per_sec = 2.5

[[consumers]]
count = 2
topic = "orders"
mode = "subscribe"
group = "billing"
poll_interval = "50ms"

[consumers.config]
"auto.offset.reset" = "earliest"
"enable.auto.commit" = false
"partition.assignment.strategy" = "org.apache.kafka.clients.consumer.StickyAssignor"

[[faults]]
at = "5s"
kind = "partition"
target = "the leader of orders-0"
duration = "3s"

[[faults]]
at = "2.5s"
kind = "crash"
target = "broker-2"

[[faults]]
at = "10s"
kind = "restart"
target = "crashed"

[[faults]]
at = "11s"
kind = "packet-loss"
rate = 0.2
duration = "1s"

[[faults]]
at = "12s"
kind = "latency"
latency_min = "50ms"
latency_max = "200ms"

[[faults]]
at = "5s"
kind = "partition"
target = "producer-3"
peers = "broker-1"
one_way = true

[[faults]]
at = "15s"
kind = "heal"

[expect]
present = ["lost-write"]
absent = ["duplicate", "G1a"]
all_acked_consumed = true
"#;

pub(super) fn ok(text: &str) -> Scenario {
    match parse(text, Path::new("scenarios/x.toml")) {
        Ok(s) => s,
        Err(e) => panic!("{e}\n{}", e.snippet().unwrap_or_default()),
    }
}

#[test]
fn a_full_scenario_parses_to_the_expected_structs() {
    // Under Kafka 3.9 (a ZooKeeper cluster, linger.ms 0), whose defaults the structs
    // below take; on FULL's empty first line, so that every line keeps its number.
    let text = format!("kafka_version = \"3.9\"{FULL}");
    let s = ok(&text);
    assert_eq!(s.name, "acks-1-leader-crash");
    assert_eq!(s.path, PathBuf::from("scenarios/x.toml"));
    assert_eq!(s.title.as_deref(), Some("acks=1 loses acknowledged writes"));
    assert_eq!(s.lesson.as_deref(), Some("The leader acknowledges before followers have the record."));
    assert_eq!(s.mechanism.as_deref(), Some("The leader crashes; a follower without the record becomes leader."));
    assert_eq!(s.fix.as_deref(), Some("acks = all with min.insync.replicas = 2"));
    assert_eq!(s.theme, Some(Theme::Loss));
    assert_eq!(s.seeds, vec![1, 2, 3]);
    assert_eq!(s.duration_ms, 20_000);
    assert_eq!(s.liveness_timeout_ms, 45_000);
    assert_eq!(s.source, text);
    assert_eq!(
        s.cluster,
        ClusterSpec {
            brokers: 3,
            truncation: TruncationMode::Legacy,
            config: BrokerSettings {
                min_insync_replicas: 2,
                unclean_leader_election_enable: true,
                replica_lag_time_max_ms: 10_000,
                flush_messages: Some(1),
                ..BrokerSettings::default()
            },
            ..ClusterSpec::default()
        }
    );
    assert_eq!(s.network, NetworkSpec { latency_ms_min: 2, latency_ms_max: 10, packet_loss_rate: 0.01 });
    assert_eq!(
        s.topics,
        vec![
            TopicSpec {
                name: "orders".into(),
                partitions: 3,
                replication_factor: 3,
                config: TopicSettings { min_insync_replicas: Some(3), ..TopicSettings::default() },
            },
            TopicSpec {
                name: "audit-log".into(),
                partitions: 1,
                replication_factor: 2,
                config: TopicSettings::default()
            },
        ]
    );
    assert_eq!(s.topics[0].min_insync_replicas(&s.cluster.config), 3);
    assert_eq!(s.topics[1].min_insync_replicas(&s.cluster.config), 2);
    assert!(s.topics[1].unclean_leader_election_enable(&s.cluster.config));
    assert_eq!(
        s.producers,
        vec![
            ProducerSpec {
                count: 2,
                topic: "orders".into(),
                rate_per_sec: RateSchedule::constant(50.0),
                records: Some(1000),
                value_bytes: 8,
                partitioning: Partitioning::Keyed,
                key_count: 10,
                send_mode: SendMode::Async,
                partitioner: UnkeyedPartitioning::UniformSticky,
                idempotent_epoch_bump: true,
                invalid_epoch_abortable: true,
                records_per_transaction: 1,
                abort_every: None,
                delay: None,
                config: ProducerSettings {
                    acks: Acks::Leader,
                    linger_ms: 5,
                    retries: 3,
                    enable_idempotence: false,
                    idempotence_quietly_disabled: true,
                    ..ProducerSettings::default()
                },
            },
            ProducerSpec {
                count: 1,
                topic: "audit-log".into(),
                rate_per_sec: RateSchedule::constant(2.5),
                records: None,
                value_bytes: 8,
                partitioning: Partitioning::Explicit,
                key_count: 100,
                send_mode: SendMode::Sync,
                partitioner: UnkeyedPartitioning::UniformSticky,
                idempotent_epoch_bump: true,
                invalid_epoch_abortable: true,
                records_per_transaction: 1,
                abort_every: None,
                delay: None,
                config: ProducerSettings::default(),
            },
        ]
    );
    assert_eq!(
        s.consumers,
        vec![ConsumerSpec {
            count: 2,
            topic: "orders".into(),
            mode: ConsumerMode::Subscribe,
            group: Some("billing".into()),
            poll_interval_ms: 50,
            processing: Processing::Sync,
            process_time_ms: 0,
            commit: CommitPolicy::AfterProcessing,
            commit_mode: CommitMode::Sync,
            commit_on_revoke: false,
            partitions: Default::default(),
            sticky_assignor: StickyAlgorithm::Constrained,
            config: ConsumerSettings {
                auto_offset_reset: OffsetReset::Earliest,
                enable_auto_commit: false,
                partition_assignment_strategy: AssignmentStrategy::Sticky,
                ..ConsumerSettings::default()
            },
        }]
    );
    let leader = Target::LeaderOf("orders-0".into());
    let faults: Vec<(u64, FaultAction, Option<u64>)> =
        s.faults.iter().map(|f| (f.at_ms, f.action.clone(), f.duration_ms)).collect();
    assert_eq!(
        faults,
        vec![
            (2_500, FaultAction::Crash { target: Target::Node("broker-2".into()) }, None),
            (5_000, FaultAction::Partition { target: leader, peers: Target::Everyone, one_way: false }, Some(3_000)),
            (
                5_000,
                FaultAction::Partition {
                    target: Target::Node("producer-3".into()),
                    peers: Target::Node("broker-1".into()),
                    one_way: true,
                },
                None,
            ),
            (10_000, FaultAction::Restart { target: Target::Crashed }, None),
            (11_000, FaultAction::PacketLoss { rate: 0.2 }, Some(1_000)),
            (12_000, FaultAction::Latency { latency_ms_min: 50, latency_ms_max: 200 }, None),
            (15_000, FaultAction::Heal, None),
        ]
    );
    let lines: Vec<usize> = s.faults.iter().map(|f| f.line).collect();
    assert_eq!(lines, vec![75, 69, 97, 80, 85, 91, 104]);
    assert_eq!(
        s.expect,
        Expectations {
            present: vec![AnomalyKind::LostWrite],
            absent: vec![AnomalyKind::Duplicate, AnomalyKind::G1a],
            all_acked_consumed: true,
            reach: vec![],
            promised: false,
        }
    );
    assert_eq!(
        s.notes,
        vec![
            "line 49, `producers[0].config.acks`: idempotence is disabled because acks is \"1\", not \"all\", \
              as Kafka 3.x does when enable.idempotence is not set"
        ]
    );
    let names: Vec<String> = s.producer_instances().into_iter().map(|(n, p)| format!("{n}:{}", p.topic)).collect();
    assert_eq!(names, ["producer-1:orders", "producer-2:orders", "producer-3:audit-log"]);
    assert_eq!(s.consumer_instances().len(), 2);
    assert_eq!(s.broker_names(), ["broker-1", "broker-2", "broker-3"]);
}

#[test]
fn defaults_apply_to_a_minimal_scenario() {
    let s = ok("seeds = [7]\nduration = \"1s\"\n");
    assert_eq!(s.name, "x", "the name defaults to the file stem");
    assert_eq!((s.title, s.lesson, s.mechanism, s.fix, s.theme), (None, None, None, None, None));
    assert_eq!(s.liveness_timeout_ms, 30_000);
    // The default release, 4.1, runs KRaft: three controllers, pre-vote (4.0, KIP-996),
    // transaction version 2 (4.0, KIP-890 part 2) and eligible leader replicas (4.1,
    // KIP-966); the rest is ClusterSpec's default.
    assert_eq!(
        s.cluster,
        ClusterSpec {
            metadata: MetadataMode::Kraft,
            controllers: 3,
            pre_vote: true,
            config: BrokerSettings {
                eligible_leader_replicas_enable: true,
                transaction_version: crate::protocol::TransactionVersion::Tv2,
                group_consumer: super::model::ConsumerGroupBrokerSettings {
                    rebalance_protocols: vec![
                        crate::protocol::GroupProtocol::Classic,
                        crate::protocol::GroupProtocol::Consumer
                    ],
                    ..Default::default()
                },
                ..BrokerSettings::default()
            },
            ..ClusterSpec::default()
        }
    );
    // Kafka 3.9, the last release with ZooKeeper, runs ClusterSpec's default itself.
    assert_eq!(ok("kafka_version = \"3.9\"\nseeds = [7]\nduration = \"1s\"\n").cluster, ClusterSpec::default());
    let c = &s.cluster.config;
    assert_eq!((c.min_insync_replicas, c.unclean_leader_election_enable), (1, false));
    assert_eq!(
        (c.replica_lag_time_max_ms, c.zookeeper_session_timeout_ms, c.replica_fetch_wait_max_ms),
        (30_000, 18_000, 500)
    );
    assert_eq!((c.replica_fetch_max_bytes, c.replica_high_watermark_checkpoint_interval_ms), (1_048_576, 5_000));
    assert_eq!((c.flush_messages, c.flush_ms), (None, None));
    assert_eq!(s.network, NetworkSpec { latency_ms_min: 1, latency_ms_max: 5, packet_loss_rate: 0.0 });
    assert!(s.topics.is_empty() && s.producers.is_empty() && s.consumers.is_empty() && s.faults.is_empty());
    // Without `[expect]`, only `no-progress` is forbidden: a stuck run never passes silently.
    assert_eq!(
        s.expect,
        Expectations {
            present: vec![],
            absent: vec![AnomalyKind::NoProgress],
            all_acked_consumed: false,
            reach: vec![],
            promised: false,
        }
    );
    assert!(s.notes.is_empty());
}

#[test]
fn client_defaults_are_kafka_3_defaults() {
    let s = ok(r#"kafka_version = "3.9"
seeds = [1]
duration = "1s"
[[topics]]
name = "t"
[[producers]]
topic = "t"
rate_per_sec = 10
[[consumers]]
topic = "t"
[[consumers]]
topic = "t"
mode = "subscribe"
group = "g"
"#);
    let p = &s.producers[0];
    assert_eq!(
        (p.count, p.records, p.partitioning, p.key_count, p.send_mode),
        (1, None, Partitioning::Explicit, 100, SendMode::Sync)
    );
    let pc = &p.config;
    assert_eq!((pc.acks, pc.retries, pc.enable_idempotence), (Acks::All, 2_147_483_647, true));
    assert_eq!((pc.request_timeout_ms, pc.retry_backoff_ms, pc.delivery_timeout_ms), (30_000, 100, 120_000));
    assert_eq!((pc.batch_size, pc.linger_ms, pc.max_in_flight_requests_per_connection), (16_384, 0, 5));
    let assign = &s.consumers[0];
    assert_eq!((assign.mode, assign.group.as_deref(), assign.poll_interval_ms), (ConsumerMode::Assign, None, 100));
    assert!(!assign.config.enable_auto_commit, "no group, no auto-commit (as Kafka)");
    let sub = &s.consumers[1].config;
    assert_eq!(*sub, ConsumerSettings::default());
    assert_eq!((sub.auto_offset_reset, sub.fetch_max_wait_ms, sub.max_poll_records), (OffsetReset::Latest, 500, 500));
    assert_eq!((sub.enable_auto_commit, sub.auto_commit_interval_ms), (true, 5_000));
    assert_eq!((sub.session_timeout_ms, sub.max_poll_interval_ms), (45_000, 300_000));
    assert_eq!(sub.partition_assignment_strategy, AssignmentStrategy::Range);
}

#[test]
fn kafka_adjusts_delivery_timeout_and_idempotence_quietly_when_not_set() {
    let text = r#"seeds = [1]
duration = "1s"
[[topics]]
name = "t"
[[producers]]
topic = "t"
rate_per_sec = 1
config = { "request.timeout.ms" = 200000, "max.in.flight.requests.per.connection" = 6 }
"#;
    // Kafka 3.9: linger.ms 0, so delivery.timeout.ms rises to request.timeout.ms.
    let s = ok(&format!("kafka_version = \"3.9\"\n{text}"));
    let c = &s.producers[0].config;
    assert_eq!(c.delivery_timeout_ms, 200_000);
    assert!(!c.enable_idempotence);
    assert_eq!(s.notes.len(), 2, "{:?}", s.notes);
    // The default release (4.1) lingers 5 ms (KIP-1030), which the floor adds.
    let s = ok(text);
    let c = &s.producers[0].config;
    assert_eq!((c.linger_ms, c.delivery_timeout_ms), (5, 200_005));
    assert!(!c.enable_idempotence);
    assert_eq!(s.notes.len(), 2, "{:?}", s.notes);
}

#[test]
fn acks_accepts_kafka_spellings() {
    for (text, acks) in [
        ("\"all\"", Acks::All),
        ("\"-1\"", Acks::All),
        ("-1", Acks::All),
        ("\"1\"", Acks::Leader),
        ("1", Acks::Leader),
        ("0", Acks::None),
        ("\"0\"", Acks::None),
    ] {
        let s = ok(&format!(
            "seeds = [1]\nduration = \"1s\"\n[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\nrate_per_sec = 1\n[producers.config]\nacks = {text}\n"
        ));
        assert_eq!(s.producers[0].config.acks, acks, "acks = {text}");
    }
}

#[test]
fn group_coordinator_limits_default_to_kafkas_and_can_be_lowered() {
    let d = BrokerSettings::default();
    assert_eq!(
        (d.group_min_session_timeout_ms, d.group_max_session_timeout_ms, d.group_initial_rebalance_delay_ms),
        (6_000, 1_800_000, 3_000)
    );
    let text = "seeds = [1]\nduration = \"5s\"\n[cluster.config]\n\"group.min.session.timeout.ms\" = 1000\n\
                \"group.max.session.timeout.ms\" = 60000\n\"group.initial.rebalance.delay.ms\" = 0\n";
    let s = parse(text, std::path::Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let c = &s.cluster.config;
    assert_eq!(
        (c.group_min_session_timeout_ms, c.group_max_session_timeout_ms, c.group_initial_rebalance_delay_ms),
        (1_000, 60_000, 0)
    );
    let text = "seeds = [1]\nduration = \"5s\"\n[cluster.config]\n\"group.max.session.timeout.ms\" = 5000\n";
    let e = parse(text, std::path::Path::new("x.toml")).expect_err("max below the default min").to_string();
    assert!(e.contains("expected at least group.min.session.timeout.ms (6000), found 5000"), "{e}");
}

#[test]
fn retention_settings_default_to_kafkas_and_minus_one_means_no_limit() {
    let d = BrokerSettings::default();
    assert_eq!(
        (d.log_retention_ms, d.log_retention_bytes, d.log_segment_bytes, d.log_retention_check_interval_ms),
        (Some(604_800_000), None, 1_073_741_824, 1_000)
    );
    let text = "seeds = [1]\nduration = \"5s\"\n[cluster.config]\n\"log.retention.ms\" = -1\n\
                \"log.retention.bytes\" = 4096\n\"log.segment.bytes\" = 1024\n\
                \"log.retention.check.interval.ms\" = 250\n[[topics]]\nname = \"t\"\n[topics.config]\n\
                \"retention.ms\" = 2000\n\"retention.bytes\" = -1\n\"segment.bytes\" = 512\n";
    let s = parse(text, std::path::Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let c = &s.cluster.config;
    assert_eq!(
        (c.log_retention_ms, c.log_retention_bytes, c.log_segment_bytes, c.log_retention_check_interval_ms),
        (None, Some(4096), 1024, 250)
    );
    let t = &s.topics[0].config;
    assert_eq!((t.retention_ms, t.retention_bytes, t.segment_bytes), (Some(Some(2000)), Some(None), Some(512)));
}
