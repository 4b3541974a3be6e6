//! The sender task against a simulated broker: how often it asks for metadata.

use super::plain;
use crate::client::metadata::test_broker::spawn_empty_broker;
use crate::client::producer::{Producer, ProducerConfig};
use crate::protocol::{Request, Response};
use crate::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// A producer whose topic the cluster does not know asks for metadata once per
/// `retry.backoff.ms` while `send()` blocks for it (`Metadata.timeToAllowUpdate`), not
/// once per round trip, and the send fails when `max.block.ms` runs out.
#[test]
fn metadata_for_an_unknown_topic_is_asked_once_per_retry_backoff_until_max_block_ms() {
    let requests = metadata_requests_for_an_unknown_topic(ProducerConfig {
        retry_backoff_ms: 100,
        max_block_ms: 2_000,
        ..plain()
    });
    // 2 s at one request per 100 ms: about 20 (the first goes at once).
    assert!((15..=22).contains(&requests), "{requests} metadata requests in 2 s");
}

/// From Kafka 3.7 (KIP-580) the same producer backs off exponentially: each answer
/// without the topic moves nothing forward (`equivalentResponseCount`), so the waits
/// grow 100, 200, 400, 800 ms to `retry.backoff.max.ms` (1 s), each ±20%: about 9
/// requests in 5 s instead of about 50.
#[test]
fn kip580_metadata_for_an_unknown_topic_is_asked_ever_less_often_up_to_retry_backoff_max_ms() {
    let requests = metadata_requests_for_an_unknown_topic(ProducerConfig {
        retry_backoff_ms: 100,
        retry_backoff_max_ms: Some(1_000),
        max_block_ms: 5_000,
        ..plain()
    });
    // At once, then after ~100, 100, 200, 400, 800, 1000, 1000, 1000 ms (the first
    // answer brings the cluster's brokers but no partition: an equivalent answer).
    assert!((7..=11).contains(&requests), "{requests} metadata requests in 5 s");
}

/// Sends one record to a topic the only broker never has, with `config` (bootstrapped
/// at that broker), until `max.block.ms` fails the send; returns how many metadata
/// requests the broker got.
fn metadata_requests_for_an_unknown_topic(config: ProducerConfig) -> u64 {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let wire = Handle::current().create_node().name("wire").build();
        let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
        let asked = spawn_empty_broker(&net);
        let config = ProducerConfig { bootstrap: vec![Addr::new("broker-1")], ..config };
        let client = Handle::current().create_node().name("client").build();
        let host = net.add_host(&Addr::new("client"));
        let outcome = client
            .spawn(async move {
                let producer = Producer::new(host, config);
                producer.send(super::orders_record(None, None, 1)).await.wait().await
            })
            .await
            .expect("the client task ran");
        let error = outcome.expect_err("the topic never appears");
        assert!(error.reason.contains("max.block.ms") && error.definite, "{error:?}");
        asked.load(Ordering::SeqCst)
    })
}

/// A produce request that times out closes its connection, and the requests in flight
/// behind it fail with it even if their answers came: Kafka's NetworkClient fails every
/// request in flight on a connection it closes (`handleTimedOutRequests` →
/// `processDisconnection`), and TCP delivers nothing behind an answer that never came.
/// Here the broker never answers the first request and answers the next two at once; the
/// network holds those answers behind the first, and when it times out they are not
/// read: their batches are sent again (read, they would have acknowledged later batches
/// before the first was resolved, which let an idempotent producer bump its epoch and
/// append the first batch twice).
#[test]
fn the_answers_behind_a_timed_out_produce_request_are_not_read() {
    let produced = Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let wire = Handle::current().create_node().name("wire").build();
        let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
        let produced = spawn_broker_ignoring_the_first_produce(&net);
        let config = ProducerConfig { bootstrap: vec![Addr::new("broker-1")], request_timeout_ms: 1_000, ..plain() };
        let client = Handle::current().create_node().name("client").build();
        let host = net.add_host(&Addr::new("client"));
        client
            .spawn(async move {
                let producer = Producer::new(host, config);
                let mut pending = Vec::new();
                for value in 1..=3 {
                    pending.push(producer.send(super::orders_record(Some(0), None, value)).await);
                    // Each record in its own request: a send wakes the sender, which
                    // drains the record's batch at once.
                    madsim::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                for delivery in pending {
                    delivery.wait().await.expect("every record is acknowledged in the end");
                }
            })
            .await
            .expect("the client task ran");
        let values = produced.lock().expect("test log").clone();
        values
    });
    // Record 1's request goes unanswered; 2 and 3 are answered but not read, so all three
    // go out again once record 1's request times out.
    assert_eq!(produced[..3], [1, 2, 3], "{produced:?}");
    for value in [2, 3] {
        assert_eq!(produced.iter().filter(|&&v| v == value).count(), 2, "record {value}: {produced:?}");
    }
}

/// `broker-1`, leader of `orders-0`: it answers Metadata, leaves its first Produce
/// request unanswered (holding the responder, so the connection stays open) and
/// acknowledges every later one at once; returns the first record value of each Produce
/// request it got, in order.
fn spawn_broker_ignoring_the_first_produce(net: &Network<Request, Response>) -> Arc<Mutex<Vec<u64>>> {
    use crate::protocol::{BrokerEndpoint, BrokerId, MetadataResponse, PartitionMetadata, ProducePartitionResponse};
    let produced = Arc::new(Mutex::new(Vec::new()));
    let log = produced.clone();
    let broker = net.add_host(&Addr::new("broker-1"));
    let node = Handle::current().create_node().name("broker-1").build();
    node.spawn(async move {
        let mut listener = broker.listen();
        while let Some(mut conn) = listener.accept().await {
            let log = log.clone();
            crate::sim::tasks::spawn(async move {
                while let Some(incoming) = conn.recv().await {
                    let (request, responder) = incoming.into_parts();
                    match request {
                        Request::Produce(produce) => {
                            let mut log = log.lock().expect("test log");
                            log.push(produce.batches[0].1.records[0].value);
                            if log.len() == 1 {
                                // Never answered; held so that the connection stays open.
                                crate::sim::tasks::spawn(async move {
                                    let _unanswered = responder;
                                    std::future::pending::<()>().await
                                });
                                continue;
                            }
                            let answers = produce
                                .batches
                                .iter()
                                .map(|(tp, _)| ProducePartitionResponse {
                                    tp: tp.clone(),
                                    error: None,
                                    base_offset: log.len() as u64,
                                    log_start_offset: Some(0),
                                    topic_id: Some(1),
                                })
                                .collect();
                            responder.reply(Response::Produce(answers));
                        }
                        _ => {
                            let brokers = vec![BrokerEndpoint { id: BrokerId(1), host: "broker-1".into() }];
                            let partitions = vec![PartitionMetadata {
                                tp: crate::protocol::TopicPartition::new("orders", 0),
                                leader: Some(BrokerId(1)),
                                leader_epoch: 0,
                                replicas: vec![BrokerId(1)],
                                isr: vec![BrokerId(1)],
                                topic_id: 1,
                            }];
                            responder.reply(Response::Metadata(MetadataResponse {
                                brokers,
                                controller: None,
                                partitions,
                            }));
                        }
                    }
                }
            });
        }
    });
    produced
}
