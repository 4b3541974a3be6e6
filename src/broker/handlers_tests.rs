//! Tests of the ListOffsets and OffsetForLeaderEpoch handlers: one broker's shared
//! state, its partitions given roles by hand (no controller, no network traffic), asked
//! about many partitions in one request.

use super::*;
use crate::broker::server::{start, BrokerContext};
use crate::broker::{BrokerConfig, TopicAssignment};
use crate::history::Recorder;
use crate::protocol::{
    Acks, BrokerId, OffsetForLeaderEpochPartition, ProduceRequest, Record, RecordBatch, RetentionConfig,
    UnknownProducerSequence,
};
use crate::sim::disk::DiskStore;
use crate::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};

/// The broker under test; broker 2 leads the partition it follows.
const ME: BrokerId = BrokerId(1);
const B2: BrokerId = BrokerId(2);

fn tp(partition: u32) -> TopicPartition {
    TopicPartition::new("t", partition)
}

fn config() -> BrokerConfig {
    let assignment = |name: &str| TopicAssignment {
        name: name.into(),
        replicas: Vec::new(),
        min_insync_replicas: 1,
        unclean_leader_election_enable: false,
        retention: RetentionConfig::default(),
    };
    BrokerConfig {
        id: ME,
        truncation: TruncationMode::LeaderEpoch,
        follower_restart: FollowerRestart::default(),
        high_watermark_holds_under_min_isr: true,
        topics: vec![TopicAssignment { replicas: vec![vec![ME]; 3], ..assignment("t") }],
        topic_defaults: assignment(""),
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

/// Broker 1 leading t-0 (records 10, 11, 12 in epoch 0, then 13 in epoch 2) and t-1
/// (empty, epoch 0), following broker 2 for t-2; t-3 is not hosted here. `test` runs
/// with the broker's shared state inside a madsim runtime.
fn with_broker<F: FnOnce(SharedBroker) + Send + 'static>(test: F) {
    with_broker_awaiting(|shared| async move { test(shared) });
}

/// [`with_broker`] for a test that awaits.
fn with_broker_awaiting<F, T>(test: F)
where
    F: FnOnce(SharedBroker) -> T + Send + 'static,
    T: std::future::Future<Output = ()>,
{
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move {
        let handle = Handle::current();
        let network = Network::new(NetConfig::default(), handle.create_node().name("wire").build());
        let ctx = BrokerContext {
            config: config(),
            net: network.add_host(&Addr::new("broker-1")),
            disk: DiskStore::new().disk("broker-1"),
            machine: crate::sim::machine::Machine::new(Default::default()),
            tracer: Recorder::new().tracer("broker-1"),
            stop: Default::default(),
        };
        let shared = start(ctx);
        let state = |partition, leader, leader_epoch, replicas: &[BrokerId]| PartitionState {
            tp: tp(partition),
            leader: Some(leader),
            leader_epoch,
            isr: replicas.to_vec(),
            replicas: replicas.to_vec(),
            partition_epoch: 0,
            topic_id: 1,
        };
        let produce = |values: &[u64]| ProduceRequest {
            acks: Acks::Leader,
            timeout_ms: 1_000,
            batches: vec![(tp(0), RecordBatch::plain(values.iter().map(|&v| Record::new(None, v, v)).collect()))],
            transactional_id: None,
            transaction_version: Default::default(),
        };
        let states = [state(0, ME, 0, &[ME]), state(1, ME, 0, &[ME]), state(2, B2, 0, &[B2, ME])];
        apply_partition_states(&shared, &states, &[]);
        let answer = super::super::produce::produce(&shared, produce(&[10, 11, 12])).await;
        assert_eq!(answer[0].error, None);
        apply_partition_states(&shared, &[state(0, ME, 2, &[ME])], &[]);
        let answer = super::super::produce::produce(&shared, produce(&[13])).await;
        assert_eq!(answer[0].error, None);
        test(shared).await;
    });
}

#[test]
fn a_coordinator_read_waits_until_the_log_end_it_saw_is_committed() {
    with_broker_awaiting(|shared| async move {
        let started = clock::now();
        let deadline = started + Duration::from_millis(200);
        // t-0: every write committed (its ISR is this broker alone): answered at once.
        assert_eq!(super::super::produce::log_end_committed(&shared, &tp(0), deadline).await, None);
        assert!(clock::now() - started < Duration::from_millis(1), "at once");
        // t-2 is followed here: not this broker's to answer.
        let followed = super::super::produce::log_end_committed(&shared, &tp(2), deadline).await;
        assert_eq!(followed, Some(ErrorCode::NotLeaderOrFollower));
        // t-1 with broker 2 in its ISR, which never fetches: a write with acks=1 stays
        // above the high watermark, and the read waits for it until its deadline.
        let state = PartitionState {
            tp: tp(1),
            leader: Some(ME),
            leader_epoch: 1,
            isr: vec![ME, B2],
            replicas: vec![ME, B2],
            partition_epoch: 1,
            topic_id: 1,
        };
        apply_partition_states(&shared, &[state], &[]);
        let write = ProduceRequest {
            acks: Acks::Leader,
            timeout_ms: 1_000,
            batches: vec![(tp(1), RecordBatch::plain(vec![Record::new(None, 7, 7)]))],
            transactional_id: None,
            transaction_version: Default::default(),
        };
        assert_eq!(super::super::produce::produce(&shared, write).await[0].error, None);
        let waited = super::super::produce::log_end_committed(&shared, &tp(1), deadline).await;
        assert_eq!(waited, Some(ErrorCode::RequestTimedOut));
        assert!(clock::now() - deadline < Duration::from_millis(1), "until its deadline");
    });
}

fn listed(response: Response) -> Vec<(TopicPartition, Option<ErrorCode>, Option<crate::protocol::Offset>)> {
    let Response::ListOffsets(answers) = response else { panic!("not a ListOffsets answer: {response:?}") };
    answers.into_iter().map(|a| (a.tp, a.error, a.offset)).collect()
}

#[test]
fn list_offsets_answers_every_partition_on_its_own() {
    with_broker(|shared| {
        let wanted = |partition, spec| ListOffsetsPartition { tp: tp(partition), spec };
        let request = ListOffsetsRequest {
            partitions: vec![
                wanted(0, OffsetSpec::Latest),
                wanted(2, OffsetSpec::Latest),
                wanted(1, OffsetSpec::Earliest),
                wanted(3, OffsetSpec::Earliest),
                wanted(0, OffsetSpec::Timestamp(11)),
                wanted(0, OffsetSpec::Timestamp(99)),
            ],
            isolation_level: IsolationLevel::ReadUncommitted,
        };
        // Answered in the request's order; the followed and the unknown partitions fail
        // alone, as Kafka's `handleListOffsetRequest` answers each partition.
        assert_eq!(
            listed(list_offsets(&shared, &request)),
            vec![
                (tp(0), None, Some(4)),
                (tp(2), Some(ErrorCode::NotLeaderOrFollower), None),
                (tp(1), None, Some(0)),
                (tp(3), Some(ErrorCode::UnknownTopicOrPartition), None),
                (tp(0), None, Some(1)),
                (tp(0), None, None),
            ]
        );
    });
}

#[test]
fn offset_for_leader_epoch_answers_every_partition_on_its_own() {
    with_broker(|shared| {
        let asked = |partition, current_leader_epoch, leader_epoch| OffsetForLeaderEpochPartition {
            tp: tp(partition),
            current_leader_epoch,
            leader_epoch,
        };
        let request = [asked(0, 2, 0), asked(2, 0, 0), asked(0, 2, 1), asked(1, 0, 0), asked(0, 1, 0), asked(3, 0, 0)];
        let Response::OffsetForLeaderEpoch(answers) = offset_for_leader_epoch(&shared, &request) else {
            panic!("not an OffsetForLeaderEpoch answer");
        };
        let answer = |error, leader_epoch, end_offset| OffsetForLeaderEpochResponse { error, leader_epoch, end_offset };
        assert_eq!(
            answers,
            vec![
                // Epoch 0 ends where epoch 2 starts.
                (tp(0), answer(None, 0, Some(3))),
                (tp(2), answer(Some(ErrorCode::NotLeaderOrFollower), 0, None)),
                // No epoch 1 on the leader: the largest earlier one, 0 (KIP-279).
                (tp(0), answer(None, 0, Some(3))),
                // An empty log: the log end.
                (tp(1), answer(None, 0, Some(0))),
                // A stale current epoch is fenced, for this partition only (KIP-320).
                (tp(0), answer(Some(ErrorCode::FencedLeaderEpoch), 0, None)),
                (tp(3), answer(Some(ErrorCode::UnknownTopicOrPartition), 0, None)),
            ]
        );
    });
}
