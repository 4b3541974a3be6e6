//! The sender task against a simulated broker: how often it asks for metadata.

use super::plain;
use crate::client::metadata::test_broker::spawn_empty_broker;
use crate::client::producer::{Producer, ProducerConfig};
use crate::protocol::{Request, Response};
use crate::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
                    madsim::time::sleep(Duration::from_millis(10)).await;
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

/// A leader the producer cannot connect to takes nothing: the batches for it stay
/// queued, in order and without an attempt, until it connects (`Sender.sendProducerData`
/// leaves out the nodes `NetworkClient.ready` refuses), so even `retries = 0` loses
/// nothing. Here broker-2, the leader, listens only from 3 s on: every connection before
/// is refused, and the producer tries again after its reconnect backoff.
#[test]
fn batches_for_a_leader_the_producer_cannot_connect_to_wait_in_order_without_an_attempt() {
    let (produced, acknowledged_at) = five_records_to_broker_2_first(|net, leader, produced| {
        spawn_broker_naming_the_leader(net, 2, Duration::from_secs(3), leader, produced);
    });
    assert_eq!(produced, [1, 2, 3, 4, 5], "each batch once, in send order");
    // Acknowledged once broker-2 listens, within its reconnect backoff (at most 1 s) and
    // a round trip or two.
    let secs = acknowledged_at.as_secs_f64();
    assert!((3.0..4.1).contains(&secs), "acknowledged {secs} s in");
}

/// Sends records 1-5 to `orders-0`, each in its own batch, from a producer with
/// `retries = 0` bootstrapped at broker-1, which names the broker in `leader` (2 at
/// first) the leader; `more` starts the rest of the cluster. Returns the values the
/// brokers appended, in order, and when the last record was acknowledged.
fn five_records_to_broker_2_first(
    more: impl FnOnce(&Network<Request, Response>, Arc<AtomicU32>, Arc<Mutex<Vec<u64>>>),
) -> (Vec<u64>, Duration) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let start = madsim::time::Instant::now();
        let wire = Handle::current().create_node().name("wire").build();
        let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
        let produced = Arc::new(Mutex::new(Vec::new()));
        let leader = Arc::new(AtomicU32::new(2));
        spawn_broker_naming_the_leader(&net, 1, Duration::ZERO, leader.clone(), produced.clone());
        more(&net, leader, produced.clone());
        let config = ProducerConfig { bootstrap: vec![Addr::new("broker-1")], retries: 0, ..plain() };
        let client = Handle::current().create_node().name("client").build();
        let host = net.add_host(&Addr::new("client"));
        let acknowledged_at = client
            .spawn(async move {
                let producer = Producer::new(host, config);
                let mut pending = Vec::new();
                for value in 1..=5 {
                    pending.push(producer.send(super::orders_record(Some(0), None, value)).await);
                    madsim::time::sleep(Duration::from_millis(10)).await;
                }
                for delivery in pending {
                    delivery.wait().await.expect("no attempt failed: every record is acknowledged");
                }
                madsim::time::Instant::now()
            })
            .await
            .expect("the client task ran");
        let values = produced.lock().expect("test log").clone();
        (values, acknowledged_at - start)
    })
}

/// Broker `id` (`broker-<id>`), which answers Metadata naming broker `leader` the leader
/// of `orders-0` and acknowledges every Produce request, logging its records' values;
/// its process listens only after `listen_after` (before, connections are refused).
fn spawn_broker_naming_the_leader(
    net: &Network<Request, Response>,
    id: u32,
    listen_after: Duration,
    leader: Arc<AtomicU32>,
    produced: Arc<Mutex<Vec<u64>>>,
) {
    use crate::protocol::{BrokerEndpoint, BrokerId, MetadataResponse, PartitionMetadata, ProducePartitionResponse};
    let name = format!("broker-{id}");
    let broker = net.add_host(&Addr::new(&name));
    let node = Handle::current().create_node().name(&name).build();
    node.spawn(async move {
        madsim::time::sleep(listen_after).await;
        let mut listener = broker.listen();
        while let Some(mut conn) = listener.accept().await {
            let (produced, leader) = (produced.clone(), leader.clone());
            crate::sim::tasks::spawn(async move {
                while let Some(incoming) = conn.recv().await {
                    let (request, responder) = incoming.into_parts();
                    let answer = match request {
                        Request::Produce(produce) => {
                            let mut log = produced.lock().expect("test log");
                            let answers = produce
                                .batches
                                .iter()
                                .map(|(tp, batch)| {
                                    log.extend(batch.records.iter().map(|r| r.value));
                                    ProducePartitionResponse {
                                        tp: tp.clone(),
                                        error: None,
                                        base_offset: log.len() as u64 - 1,
                                        log_start_offset: Some(0),
                                        topic_id: Some(1),
                                    }
                                })
                                .collect();
                            Response::Produce(answers)
                        }
                        _ => Response::Metadata(MetadataResponse {
                            brokers: [1, 2]
                                .map(|id| BrokerEndpoint { id: BrokerId(id), host: format!("broker-{id}") })
                                .to_vec(),
                            controller: None,
                            partitions: vec![PartitionMetadata {
                                tp: crate::protocol::TopicPartition::new("orders", 0),
                                leader: Some(BrokerId(leader.load(Ordering::SeqCst))),
                                leader_epoch: 0,
                                replicas: vec![BrokerId(1), BrokerId(2)],
                                isr: vec![BrokerId(1), BrokerId(2)],
                                topic_id: 1,
                            }],
                        }),
                    };
                    responder.reply(answer);
                }
            });
        }
    });
}

/// A leader that stays down: the producer's failed connections ask for metadata, and
/// once it names another leader the queued batches go there, in order
/// (`DefaultMetadataUpdater.handleServerDisconnect` requests the update).
#[test]
fn batches_for_a_leader_that_stays_down_go_to_the_next_leader_the_metadata_names() {
    let (produced, acknowledged_at) = five_records_to_broker_2_first(|net, leader, _| {
        net.add_host(&Addr::new("broker-2")); // never listens
        Handle::current().create_node().name("controller").build().spawn(async move {
            madsim::time::sleep(Duration::from_secs(2)).await;
            leader.store(1, Ordering::SeqCst);
        });
    });
    assert_eq!(produced, [1, 2, 3, 4, 5], "each batch once, in send order");
    // The refreshes back off too (`retry.backoff.ms`, 0 here, so each failed connection's
    // refresh goes at once): the move is seen within a reconnect backoff of it.
    let secs = acknowledged_at.as_secs_f64();
    assert!((2.0..3.1).contains(&secs), "acknowledged {secs} s in");
}
