//! Retention end to end: segments roll, retention deletes them on every replica and moves
//! the log start, a consumer that falls behind is answered OFFSET_OUT_OF_RANGE and resets
//! by `auto.offset.reset`, and the checkers do not take deleted records for lost ones.
//! Also `Consumer::offsets_for_times` and `Consumer::seek` against a real broker.

use kafkasim::broker::{run_broker, BrokerConfig, BrokerContext};
use kafkasim::check::AnomalyKind;
use kafkasim::client::consumer::{Consumer, ConsumerConfig};
use kafkasim::history::{Event, LogStartReason, OpFn, OpType, Recorder};
use kafkasim::metastore::{run_metastore, MetastoreConfig};
use kafkasim::protocol::UnknownProducerSequence;
use kafkasim::protocol::{
    Acks, BrokerId, FollowerRestart, OffsetReset, ProduceRequest, Record, RecordBatch, Request, Response,
    RetentionConfig, TopicAssignment, TopicPartition, TruncationMode,
};
use kafkasim::runner;
use kafkasim::scenario;
use kafkasim::sim::disk::DiskStore;
use kafkasim::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// A producer far faster than a consumer that reads 5 records every 3 s, on segments of
/// about 10 records that expire 2 s after their newest record.
const SCENARIO: &str = r#"
seeds = [1, 3]
duration = "15s"

[cluster]
brokers = 3

[cluster.config]
"min.insync.replicas" = 2
"log.retention.check.interval.ms" = 500

[[topics]]
name = "events"
"replication.factor" = 3

[topics.config]
"segment.bytes" = 800
"retention.ms" = 2000

[[producers]]
topic = "events"
rate_per_sec = 40

[producers.config]
acks = "all"

[[consumers]]
topic = "events"
poll_interval = "3s"

[consumers.config]
"auto.offset.reset" = "latest"
"max.poll.records" = 5
"#;

/// `(first, last)` offset of each non-empty poll of `events-0` by the workload consumer
/// (the first consumer process; the drain is process 1000000), in history order.
fn consumer_polls(outcome: &kafkasim::runner::RunOutcome, process: u64) -> Vec<(u64, u64)> {
    outcome
        .history
        .ops
        .iter()
        .filter(|op| op.process == process && op.f == OpFn::Poll && op.kind == OpType::Ok)
        .filter_map(|op| {
            let offsets: Vec<u64> = op
                .micro_ops()
                .iter()
                .filter_map(|m| match m {
                    kafkasim::history::MicroOp::Poll { records: Some(r) } => r.get("events-0").cloned(),
                    _ => None,
                })
                .flatten()
                .map(|(o, _)| o)
                .collect();
            Some((*offsets.first()?, *offsets.last()?))
        })
        .collect()
}

#[test]
fn a_consumer_behind_retention_resets_to_latest_and_nothing_is_reported_lost() {
    let scenario = scenario::parse(SCENARIO, Path::new("retention-inline.toml")).unwrap_or_else(|e| panic!("{e}"));
    // Seeds whose consumer polls a record before retention passes its position, so
    // that the skip shows in its polls (2, 4, 5, 7 and 8 of seeds 1-8, the runs of
    // 2026-12-07; in the others no poll before the reset read anything).
    for seed in [2, 4] {
        let outcome = runner::run_seed(&scenario, seed);
        let summary = crate::support::describe(&outcome);
        assert!(outcome.panic.is_none(), "{summary}");

        // The log start moved on every replica: by retention on each, or by following
        // the leader's.
        let mut moved_on: BTreeSet<u32> = BTreeSet::new();
        let mut retention_removed = 0;
        for e in &outcome.history.trace {
            if let Event::LogStartAdvanced { tp, broker, removed, reason, .. } = &e.event {
                assert_eq!(&**tp, "events-0");
                moved_on.insert(*broker);
                if reason.is_retention() {
                    retention_removed += removed.len();
                }
            }
        }
        assert_eq!(moved_on, BTreeSet::from([1, 2, 3]), "{summary}");
        assert!(retention_removed > 100, "retention deleted only {retention_removed} records: {summary}");

        // The consumer (process 1, after the producer) fell behind, was answered
        // OFFSET_OUT_OF_RANGE and reset to the latest offset: one of its polls starts far
        // past where the previous one ended, or, if it polled nothing before the reset,
        // past offset 0, where it started (assigned with `latest` before the producer's
        // first record).
        let polls = consumer_polls(&outcome, 1);
        let expected_starts = std::iter::once(0).chain(polls.iter().map(|&(_, last)| last + 1));
        let jumps: Vec<u64> =
            polls.iter().zip(expected_starts).map(|(&(first, _), expected)| first.saturating_sub(expected)).collect();
        assert!(jumps.iter().any(|&j| j > 20), "no reset: polls {polls:?}; {summary}");

        // Deleted records are not lost or unseen; the skip itself is reported.
        let kinds = crate::support::kinds(&outcome);
        assert!(!kinds.contains(&AnomalyKind::LostWrite), "{summary}");
        assert!(!kinds.contains(&AnomalyKind::Unseen), "{summary}");
        assert!(kinds.contains(&AnomalyKind::PollSkip), "{summary}");
        assert!(!kinds.contains(&AnomalyKind::NoProgress), "{summary}");

        // The same seed replays the same run.
        assert_eq!(runner::run_seed(&scenario, seed).trace_hash, outcome.trace_hash, "seed {seed}");
    }
}

/// One broker, topic `t` with one partition of segments of two records.
fn broker_config(retention: RetentionConfig) -> BrokerConfig {
    BrokerConfig {
        id: BrokerId(1),
        truncation: TruncationMode::LeaderEpoch,
        follower_restart: FollowerRestart::default(),
        high_watermark_holds_under_min_isr: true,
        topics: vec![TopicAssignment {
            name: "t".into(),
            replicas: vec![vec![BrokerId(1)]],
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention,
        }],
        topic_defaults: TopicAssignment {
            name: String::new(),
            replicas: Vec::new(),
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention: RetentionConfig::default(),
        },
        topic_watches: false,
        replica_lag_time_max_ms: 10_000,
        replica_caught_up_at_leader_log_end: true,
        session_timeout_ms: 6_000,
        replica_fetch_wait_max_ms: 500,
        replica_fetch_max_bytes: 1 << 20,
        replica_fetch_backoff_ms: 1_000,
        high_watermark_checkpoint_interval_ms: 5_000,
        flush_messages: None,
        flush_ms: None,
        log_retention_check_interval_ms: 100,
        inter_broker_timeout_ms: 5_000,
        metastore: Addr::new("metastore"),
        unknown_producer_sequence: UnknownProducerSequence::default(),
        group_coordinator: Default::default(),
        controlled_shutdown: Default::default(),
        auto_rebalance: None,
        delete_topic_enable: true,
        plant: None,
        kraft: None,
        txn: Default::default(),
        fetch_topic_ids: true,
        pipeline: Default::default(),
        auto_create_topics: None,
    }
}

/// One broker with topic `t` (one partition, `retention`) and its metastore, in a fresh
/// runtime seeded with `seed`; on a client node, a consumer (`auto.offset.reset =
/// earliest`, nothing assigned) once the partition has a leader, after one batch per
/// `(value, timestamp_ms)` of `records` was produced to it: `body` then runs with the
/// consumer. Every node is killed afterwards; returns the recorder of the broker's trace.
pub(crate) fn against_a_broker<F, Fut>(
    seed: u64,
    retention: RetentionConfig,
    records: &'static [(u64, u64)],
    body: F,
) -> Recorder
where
    F: FnOnce(Consumer, TopicPartition) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(async move {
        let handle = Handle::current();
        let network = Network::new(NetConfig::default(), handle.create_node().name("wire").build());
        let disks = DiskStore::new();
        let recorder = Recorder::new();
        let meta = (network.add_host(&Addr::new("metastore")), disks.disk("metastore"));
        let metastore = handle
            .create_node()
            .name("metastore")
            .init(move || run_metastore(meta.0.clone(), meta.1.clone(), MetastoreConfig::default()))
            .build();
        let ctx = BrokerContext {
            config: broker_config(retention),
            net: network.add_host(&Addr::new("broker-1")),
            disk: disks.disk("broker-1"),
            machine: kafkasim::sim::machine::Machine::new(Default::default()),
            tracer: recorder.tracer("broker-1"),
            stop: Default::default(),
        };
        let broker = handle.create_node().name("broker-1").init(move || run_broker(ctx.clone())).build();

        let client_net = network.add_host(&Addr::new("client"));
        let client = handle.create_node().name("client").build();
        client
            .spawn(async move {
                let tp = TopicPartition::new("t", 0);
                let config = ConsumerConfig {
                    bootstrap: vec![Addr::new("broker-1")],
                    auto_offset_reset: OffsetReset::Earliest,
                    fetch_max_wait_ms: 100,
                    max_poll_records: 100,
                    request_timeout_ms: 2_000,
                    metadata_max_age_ms: 300_000,
                    retry_backoff_ms: 100,
                    retry_backoff_max_ms: None,
                    rejects_stale_metadata: true,
                    offset_validation: Default::default(),
                    isolation_level: Default::default(),
                    fetch_topic_ids: true,
                    allow_auto_create_topics: false,
                    connections: Default::default(),
                };
                let mut consumer = Consumer::new(client_net.clone(), config);
                while consumer.end_offset(&tp).await.is_none() {
                    madsim::time::sleep(Duration::from_millis(200)).await;
                    consumer.partitions_for("t").await;
                }
                let conn = client_net.connect(&Addr::new("broker-1"));
                for &(value, timestamp_ms) in records {
                    let record = Record::new(None, value, timestamp_ms);
                    let request = ProduceRequest {
                        acks: Acks::All,
                        timeout_ms: 1_000,
                        batches: vec![(tp.clone(), RecordBatch::plain(vec![record]))],
                        transactional_id: None,
                        transaction_version: Default::default(),
                    };
                    let answer = conn.call(Request::Produce(request), Duration::from_secs(2)).await;
                    assert!(matches!(answer, Ok(Response::Produce(ref r)) if r[0].error.is_none()), "{answer:?}");
                }
                body(consumer, tp).await;
            })
            .await
            .expect("the client task finished");
        // Nothing may stay pending past the test (see the runner's end of run).
        for node in [metastore.id(), broker.id(), client.id()] {
            handle.kill(node);
        }
        recorder
    })
}

#[test]
fn offsets_for_times_seek_and_out_of_range_against_a_broker() {
    // Two records per segment; keep at least 4 records' worth (312 bytes).
    let retention = RetentionConfig { retention_ms: None, retention_bytes: Some(4 * 78), segment_bytes: 2 * 78 };
    // Six records, one batch each, stamped 1000, 2000, ... 6000 ms.
    const RECORDS: &[(u64, u64)] = &[(101, 1000), (102, 2000), (103, 3000), (104, 4000), (105, 5000), (106, 6000)];
    let recorder = against_a_broker(7, retention, RECORDS, |mut consumer, tp| async move {
        let at = |ms: u64| BTreeMap::from([(tp.clone(), ms)]);
        assert_eq!(consumer.offsets_for_times(&at(2500)).await, BTreeMap::from([(tp.clone(), Some(2))]));
        assert_eq!(consumer.offsets_for_times(&at(1000)).await, BTreeMap::from([(tp.clone(), Some(0))]));
        assert_eq!(consumer.offsets_for_times(&at(6000)).await, BTreeMap::from([(tp.clone(), Some(5))]));
        // Nothing that recent: null, as Kafka's offsetsForTimes answers (the
        // broker's ListOffsets says offset -1), not the high watermark.
        assert_eq!(consumer.offsets_for_times(&at(6001)).await, BTreeMap::from([(tp.clone(), None)]));
        assert_eq!(consumer.offsets_for_times(&at(9000)).await, BTreeMap::from([(tp.clone(), None)]));

        consumer.assign(vec![tp.clone()]);
        consumer.seek(&tp, 4);
        let values: Vec<u64> = consumer.poll().await.unwrap().iter().map(|r| r.value).collect();
        assert_eq!(values, vec![105, 106]);

        // retention.bytes keeps two of the three segments: the log starts at 2.
        madsim::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(consumer.offsets_for_times(&at(0)).await, BTreeMap::from([(tp.clone(), Some(2))]));
        // A seek below the log start is answered OFFSET_OUT_OF_RANGE, and the
        // consumer resets to the earliest offset still there.
        consumer.seek(&tp, 0);
        assert!(consumer.poll().await.unwrap().is_empty());
        let values: Vec<u64> = consumer.poll().await.unwrap().iter().map(|r| r.value).collect();
        assert_eq!(values, vec![103, 104, 105, 106]);
    });
    let moved = recorder.with_trace(|trace| {
        trace
            .filter_map(|e| match &e.event {
                Event::LogStartAdvanced { log_start_offset, reason, removed, .. } => {
                    Some((*log_start_offset, *reason, removed.len()))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(moved, vec![(2, LogStartReason::RetentionBytes, 2)]);
}
