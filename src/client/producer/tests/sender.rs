//! The sender task against a simulated broker: how often it asks for metadata.

use super::plain;
use crate::client::metadata::test_broker::spawn_empty_broker;
use crate::client::producer::{Producer, ProducerConfig, ProducerRecord};
use crate::protocol::{Request, Response};
use crate::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};
use std::sync::atomic::Ordering;

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
                let record = ProducerRecord {
                    topic: "orders".into(),
                    partition: None,
                    key: None,
                    value: 1,
                    value_bytes: crate::protocol::Record::PLAIN_VALUE_BYTES,
                };
                producer.send(record).await.wait().await
            })
            .await
            .expect("the client task ran");
        let error = outcome.expect_err("the topic never appears");
        assert!(error.reason.contains("max.block.ms") && error.definite, "{error:?}");
        asked.load(Ordering::SeqCst)
    })
}
