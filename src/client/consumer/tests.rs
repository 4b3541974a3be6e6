//! Tests of the consumer against scripted brokers: offset lookups (partitions grouped by
//! leader, one request per leader, every leader asked at once) and fetching.

use super::*;
use crate::protocol::{
    BrokerEndpoint, ErrorCode, FetchPartition, FetchPartitionResponse, ListOffsetsPartitionResponse, MetadataResponse,
    PartitionMetadata, RecordBatch,
};
use crate::sim::net::{NetConfig, Network, ServerConn};
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Instant};
use std::sync::{Arc, Mutex};

/// What a scripted broker was asked: (broker, arrival time, the partitions a
/// ListOffsets named).
type Asked = Arc<Mutex<Vec<(u32, Instant, Vec<TopicPartition>)>>>;

/// How long a scripted broker takes to answer ListOffsets.
const ANSWER_DELAY: Duration = Duration::from_millis(500);

/// Six partitions of `t`: broker 1 leads the even ones, broker 2 the odd ones.
fn metadata() -> MetadataResponse {
    let endpoint = |id: u32| BrokerEndpoint { id: BrokerId(id), host: format!("broker-{id}") };
    let partition = |p: u32| PartitionMetadata {
        tp: TopicPartition::new("t", p),
        leader: Some(BrokerId(1 + p % 2)),
        leader_epoch: 0,
        replicas: vec![BrokerId(1), BrokerId(2)],
        isr: vec![BrokerId(1), BrokerId(2)],
        topic_id: 1,
    };
    MetadataResponse {
        brokers: vec![endpoint(1), endpoint(2)],
        controller: None,
        partitions: (0..6).map(partition).collect(),
    }
}

/// Runs `test` in a fresh simulation, with the network its scripted brokers and its
/// consumer share.
fn simulate<F: std::future::Future<Output = ()>>(test: impl FnOnce(Network<Request, Response>) -> F) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let wire = Handle::current().create_node().name("wire").build();
        test(Network::new(NetConfig::default(), wire)).await
    });
}

/// Starts scripted broker `id` on its own node: each connection to it is served by
/// `serve` in a task of its own.
fn spawn_scripted_broker<F, S>(net: &Network<Request, Response>, id: u32, serve: S)
where
    S: Fn(ServerConn<Request, Response>) -> F + Send + 'static,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let host = net.add_host(&Addr::new(&format!("broker-{id}")));
    let node = Handle::current().create_node().name(format!("broker-{id}")).build();
    node.spawn(async move {
        let mut listener = host.listen();
        while let Some(conn) = listener.accept().await {
            crate::sim::tasks::spawn(serve(conn));
        }
    });
}

/// Starts scripted broker `id`: it answers Metadata with `metadata` and ListOffsets
/// after [`ANSWER_DELAY`], each partition it leads as [`metadata`] says with offset
/// `100 + partition` and NOT_LEADER_OR_FOLLOWER for any other.
fn spawn_broker(net: &Network<Request, Response>, id: u32, asked: Asked, metadata: MetadataResponse) {
    spawn_scripted_broker(net, id, move |mut conn| {
        let (asked, metadata) = (asked.clone(), metadata.clone());
        async move {
            while let Some(incoming) = conn.recv().await {
                let (request, responder) = incoming.into_parts();
                let Request::ListOffsets(list) = request else {
                    responder.reply(Response::Metadata(metadata.clone()));
                    continue;
                };
                let tps = list.partitions.iter().map(|p| p.tp.clone()).collect();
                asked.lock().unwrap().push((id, Instant::now(), tps));
                sleep(ANSWER_DELAY).await;
                let answers = list
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let led = 1 + p.tp.partition % 2 == id;
                        ListOffsetsPartitionResponse {
                            offset: led.then_some(100 + u64::from(p.tp.partition)),
                            error: (!led).then_some(ErrorCode::NotLeaderOrFollower),
                            tp: p.tp,
                            topic_id: Some(1),
                        }
                    })
                    .collect();
                responder.reply(Response::ListOffsets(answers));
            }
        }
    });
}

/// Brokers 1 and 2, both answering Metadata with `metadata`.
fn spawn_brokers(net: &Network<Request, Response>, asked: &Asked, metadata: MetadataResponse) {
    for id in [1, 2] {
        spawn_broker(net, id, asked.clone(), metadata.clone());
    }
}

/// [`metadata`], except that it names broker `leader` as t-1's leader.
fn metadata_naming_t1_leader(leader: u32) -> MetadataResponse {
    let mut stale = metadata();
    stale.partitions[1].leader = Some(BrokerId(leader));
    stale
}

fn consumer(net: &Network<Request, Response>) -> Consumer {
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
        fetch_topic_ids: false,
        allow_auto_create_topics: false,
        connections: Default::default(),
    };
    Consumer::new(net.add_host(&Addr::new("client")), config)
}

#[test]
fn end_offsets_ask_each_leader_once_for_its_partitions_and_every_leader_at_once() {
    simulate(|net| async move {
        let asked: Asked = Arc::default();
        spawn_brokers(&net, &asked, metadata());
        let mut consumer = consumer(&net);
        let partitions = consumer.partitions_for("t").await;
        assert_eq!(partitions.len(), 6);
        let started = Instant::now();
        let ends = consumer.end_offsets(&partitions).await;
        let expected: BTreeMap<_, _> =
            partitions.iter().map(|tp| (tp.clone(), 100 + u64::from(tp.partition))).collect();
        assert_eq!(ends, expected);
        // One request per leader, naming the partitions it leads (Kafka's
        // `groupListOffsetRequests`), both sent before either was answered: the lookup
        // takes one answer delay, not two.
        let asked = asked.lock().unwrap().clone();
        let named = |broker: u32| -> Vec<Vec<u32>> {
            let requests = asked.iter().filter(|(b, _, _)| *b == broker);
            requests.map(|(_, _, tps)| tps.iter().map(|tp| tp.partition).collect()).collect()
        };
        assert_eq!(named(1), vec![vec![0, 2, 4]]);
        assert_eq!(named(2), vec![vec![1, 3, 5]]);
        assert!(started.elapsed() < 2 * ANSWER_DELAY, "{:?}", started.elapsed());
    });
}

#[test]
fn a_partition_answered_with_an_error_is_left_out_and_the_others_are_kept() {
    // Kafka's `OffsetFetcher.handleListOffsetResponse`: NOT_LEADER_OR_FOLLOWER fails
    // that partition alone, which is retried after a metadata refresh.
    simulate(|net| async move {
        let asked: Asked = Arc::default();
        // Stale metadata: broker 1 is named leader of t-1, which it does not lead.
        spawn_brokers(&net, &asked, metadata_naming_t1_leader(1));
        let mut consumer = consumer(&net);
        let partitions = consumer.partitions_for("t").await;
        consumer.need_metadata = false;
        let ends = consumer.end_offsets(&partitions).await;
        let expected: BTreeMap<_, _> = partitions
            .iter()
            .filter(|tp| tp.partition != 1)
            .map(|tp| (tp.clone(), 100 + u64::from(tp.partition)))
            .collect();
        assert_eq!(ends, expected);
        assert!(consumer.need_metadata, "the error asks for a metadata refresh");
    });
}

#[test]
fn a_leader_whose_broker_the_metadata_does_not_list_asks_for_a_metadata_update() {
    // Kafka's `Metadata.currentLeader` gives no leader when the leader id has no node in
    // the metadata, and `AbstractFetch.prepareFetchRequests` then requests an update
    // instead of fetching: without one the partition would wait out metadata.max.age.ms.
    simulate(|net| async move {
        let asked: Asked = Arc::default();
        // Broker 3 is named leader of t-1 but missing from the brokers the answer lists.
        spawn_brokers(&net, &asked, metadata_naming_t1_leader(3));
        let mut consumer = consumer(&net);
        let t1 = TopicPartition::new("t", 1);
        assert_eq!(consumer.partitions_for("t").await.len(), 6);
        consumer.need_metadata = false;
        consumer.assign(vec![t1.clone()]);
        consumer.seek(&t1, 0);
        let records = consumer.poll().await.expect("no error to raise");
        assert!(records.is_empty());
        assert!(consumer.need_metadata, "the leader without a node asks for a metadata refresh");
    });
}

/// Fetches a scripted broker was sent: (broker, the partitions named).
type Fetches = Arc<Mutex<Vec<(u32, Vec<TopicPartition>)>>>;

/// Starts scripted broker `id` for fetching: it answers Metadata with [`metadata`] and
/// each Fetch at once with `records_per_answer` records of every partition named, from
/// the fetch offset on (value = offset: an endless log), unless `silent`, when it
/// never answers a Fetch (a broker cut off after the request reached it).
fn spawn_fetch_broker(
    net: &Network<Request, Response>,
    id: u32,
    fetches: Fetches,
    records_per_answer: u64,
    silent: bool,
) {
    spawn_scripted_broker(net, id, move |mut conn| {
        let fetches = fetches.clone();
        async move {
            let mut unanswered = Vec::new();
            while let Some(incoming) = conn.recv().await {
                let (request, responder) = incoming.into_parts();
                let Request::Fetch(fetch) = request else {
                    responder.reply(Response::Metadata(metadata()));
                    continue;
                };
                fetches.lock().unwrap().push((id, fetch.partitions.iter().map(|p| p.tp.clone()).collect()));
                if silent {
                    unanswered.push(responder);
                    continue;
                }
                let answer = |p: FetchPartition| {
                    let records = (p.fetch_offset..p.fetch_offset + records_per_answer)
                        .map(|value| crate::protocol::Record::new(None, value, 0))
                        .collect();
                    let batch = RecordBatch { base_offset: p.fetch_offset, ..RecordBatch::plain(records) };
                    let end = p.fetch_offset + records_per_answer;
                    FetchPartitionResponse {
                        tp: p.tp,
                        error: None,
                        high_watermark: end,
                        log_start_offset: 0,
                        log_end_offset: end,
                        batches: vec![batch],
                        last_stable_offset: end,
                        aborted_transactions: Vec::new(),
                        topic_id: Some(1),
                    }
                };
                responder.reply(Response::Fetch(fetch.partitions.into_iter().map(answer).collect()));
            }
        }
    });
}

/// A consumer assigned `partitions` of `t`, each at offset 0, with metadata loaded.
async fn fetching_consumer(net: &Network<Request, Response>, partitions: &[u32]) -> Consumer {
    let mut consumer = consumer(net);
    assert_eq!(consumer.partitions_for("t").await.len(), 6);
    consumer.need_metadata = false;
    let assigned: Vec<TopicPartition> = partitions.iter().map(|p| TopicPartition::new("t", *p)).collect();
    consumer.assign(assigned.clone());
    for tp in &assigned {
        consumer.seek(tp, 0);
    }
    consumer
}

/// The partitions of `records`, in the order they first appear.
fn partitions_of(records: &[ConsumedRecord]) -> Vec<u32> {
    let mut partitions: Vec<u32> = Vec::new();
    for record in records {
        if partitions.last() != Some(&record.tp.partition) {
            partitions.push(record.tp.partition);
        }
    }
    partitions
}

#[test]
fn a_poll_does_not_wait_for_a_leader_that_does_not_answer() {
    // Kafka's `pollForFetches` returns once a fetch completes, or after the poll's
    // timeout; a fetch in flight stays in flight (`nodesWithPendingFetchRequests`: no
    // other fetch to that node) until it is answered or times out.
    simulate(|net| async move {
        let fetches: Fetches = Arc::default();
        spawn_fetch_broker(&net, 1, fetches.clone(), 10, false);
        spawn_fetch_broker(&net, 2, fetches.clone(), 10, true);
        let mut consumer = fetching_consumer(&net, &[0, 1, 2, 3]).await;
        let started = Instant::now();
        let first = consumer.poll().await.expect("no error to raise");
        assert!(started.elapsed() < Duration::from_millis(100), "waited {:?}", started.elapsed());
        // Broker 1's partitions (even) come back; broker 2 (odd) holds its fetch.
        assert_eq!(partitions_of(&first), vec![0, 2]);
        assert_eq!(first.len(), 20);
        let second = consumer.poll().await.expect("no error to raise");
        assert_eq!(second.iter().map(|r| (r.tp.partition, r.offset)).min(), Some((0, 10)));
        let to_broker_2 = || fetches.lock().unwrap().iter().filter(|(broker, _)| *broker == 2).count();
        assert_eq!(to_broker_2(), 1, "one fetch in flight to broker 2, not one per poll");
        // Past request.timeout.ms (2 s) plus fetch.max.wait.ms the fetch times out, the
        // connection is closed and the metadata refreshed; broker 2 waits out its
        // reconnect backoff (50 ms ±20%: `isUnavailable`), then is asked again.
        sleep(Duration::from_millis(2_200)).await;
        consumer.poll().await.expect("no error to raise");
        assert!(consumer.need_metadata, "the timed-out fetch asks for a metadata refresh");
        assert_eq!(to_broker_2(), 1, "no fetch to broker 2 in its reconnect backoff");
        sleep(Duration::from_millis(100)).await;
        consumer.poll().await.expect("no error to raise");
        // The fetch waits behind the new connection's handshake.
        sleep(Duration::from_millis(100)).await;
        assert_eq!(to_broker_2(), 2);
        assert_eq!(consumer.position(&TopicPartition::new("t", 1)), Some(0));
    });
}

#[test]
fn a_busy_partition_does_not_keep_the_others_records_out_of_the_polls() {
    // Fetched records wait in a buffer that polls drain in the order the answers came,
    // at most max.poll.records each (`FetchCollector.collectFetch`), and a partition is
    // fetched again only once its buffered records are returned: a partition that
    // always has more than max.poll.records to give cannot starve the others.
    simulate(|net| async move {
        let fetches: Fetches = Arc::default();
        spawn_fetch_broker(&net, 1, fetches.clone(), 150, false);
        spawn_fetch_broker(&net, 2, fetches.clone(), 150, false);
        let mut consumer = fetching_consumer(&net, &[0, 2]).await;
        let mut polls = Vec::new();
        for _ in 0..4 {
            let records = consumer.poll().await.expect("no error to raise");
            assert!(records.len() <= 100, "max.poll.records");
            polls.push(partitions_of(&records));
        }
        assert_eq!(polls, vec![vec![0], vec![0, 2], vec![2], vec![0]]);
        // Every record returned once, in offset order per partition.
        assert_eq!(consumer.position(&TopicPartition::new("t", 0)), Some(250));
        assert_eq!(consumer.position(&TopicPartition::new("t", 2)), Some(150));
    });
}

#[test]
fn a_metadata_request_names_each_assigned_topic_once_in_first_named_order() {
    let assignment: Vec<TopicPartition> =
        [("u", 1), ("t", 0), ("u", 0), ("t", 2)].iter().map(|&(topic, p)| TopicPartition::new(topic, p)).collect();
    assert_eq!(metadata_topics(&assignment), ["u", "t"]);
    assert_eq!(metadata_topics(&[]), Vec::<String>::new());
}
