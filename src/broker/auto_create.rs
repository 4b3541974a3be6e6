//! Topic auto-creation (`auto.create.topics.enable`, default true): a broker asked for
//! metadata of a topic it does not know creates it, with `num.partitions` partitions of
//! `default.replication.factor` replicas (`AutoTopicCreationManager`, called from
//! `KafkaApis.handleTopicMetadataRequest` when the request names its topics and allows
//! creation: producers always do, consumers when `allow.auto.create.topics`). The answer
//! does not wait: the topic is absent from this response (Kafka answers it with
//! LEADER_NOT_AVAILABLE in ZooKeeper mode, UNKNOWN_TOPIC_OR_PARTITION in KRaft), and the
//! client asks again after its backoff.
//!
//! In kafkasim clients name only the scenario's topics, so this matters once one of them
//! was deleted under running clients: their next metadata request brings it back, as a
//! new topic of one partition on one replica by default (Kafka's
//! `ProducerSendWhileDeletionTest.testSendWithTopicDeletionMidWay`).
//!
//! - KRaft: a CreateTopics forwarded to the active controller on the forwarding channel
//!   (`sendCreateTopicRequest`), at most one in flight per topic and broker
//!   (`inflightTopics`).
//! - ZooKeeper mode: the broker writes the topic's node itself (`createTopicsInZk`,
//!   see [`crate::controller::write_new_topic`]), refused while the name is
//!   marked for deletion. Simplified: kafkasim's broker opens a metastore session for the
//!   write, where Kafka's uses the one it holds.

use super::SharedBroker;
use crate::metastore::MetaClient;
use crate::protocol::kraft::{ControllerChannel, ControllerRequest, TopicAdmin};
use crate::protocol::TopicAssignment;
use std::time::Duration;

/// What an auto-created topic looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoCreateTopics {
    /// `num.partitions` (default 1).
    pub num_partitions: u32,
    /// `default.replication.factor` (default 1).
    pub default_replication_factor: u32,
}

/// Creates the topics of `asked` this broker's metadata does not know, if auto-creation
/// is on and the request allows it. Returns at once; the creation goes on in the
/// background.
pub fn maybe_create(shared: &SharedBroker, asked: &[String], allowed: bool) {
    let Some(settings) = shared.config.auto_create_topics.filter(|_| allowed) else { return };
    let unknown: Vec<String> = {
        let state = shared.lock();
        asked
            .iter()
            .filter(|t| !TopicAssignment::is_internal_name(t) && !state.metadata.knows_topic(t))
            .cloned()
            .collect()
    };
    for topic in unknown {
        if shared.config.kraft.is_some() {
            if !shared.auto_create_in_flight.lock().expect("in-flight topics poisoned").insert(topic.clone()) {
                continue;
            }
            let shared = shared.clone();
            crate::sim::tasks::spawn(async move {
                forward_create(&shared, &topic, settings).await;
                shared.auto_create_in_flight.lock().expect("in-flight topics poisoned").remove(&topic);
            });
        } else {
            // Placed at once, as `ZkAdminManager.createTopics` does in the request
            // thread: a broker that has not heard from the controller yet knows no live
            // broker and is refused (INVALID_REPLICATION_FACTOR) before the metastore is
            // asked anything.
            let live: Vec<_> = shared.lock().metadata.live_brokers.keys().copied().collect();
            let placed =
                crate::controller::place_new_topic(&live, settings.num_partitions, settings.default_replication_factor);
            match placed {
                Ok(replicas) => {
                    let shared = shared.clone();
                    crate::sim::tasks::spawn(async move { create_in_zookeeper(&shared, &topic, &replicas).await });
                }
                Err(error) => tracing::debug!(broker = %shared.id(), topic, ?error, "topic auto-creation refused"),
            }
        }
    }
}

/// KRaft: CreateTopics to the active controller (`sendCreateTopicRequest`).
async fn forward_create(shared: &SharedBroker, topic: &str, settings: AutoCreateTopics) {
    let request = ControllerRequest::TopicAdmin(TopicAdmin::CreateTopic {
        name: topic.into(),
        partitions: settings.num_partitions,
        replication_factor: settings.default_replication_factor,
    });
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let answer = super::kraft::call_controller(shared, ControllerChannel::Forwarding, request, timeout).await;
    tracing::debug!(broker = %shared.id(), topic, ?answer, "auto-created a topic");
}

/// ZooKeeper mode: the topic's node, written by this broker (`createTopicsInZk`).
async fn create_in_zookeeper(shared: &SharedBroker, topic: &str, replicas: &[Vec<crate::protocol::BrokerId>]) {
    let config = &shared.config;
    let connect = MetaClient::connect(shared.net.clone(), config.metastore.clone(), config.session_timeout_ms);
    let Ok(meta) = connect.await else { return };
    let created = crate::controller::write_new_topic(&meta, shared.tracer.recorder(), topic, replicas).await;
    let _ = meta.close().await;
    tracing::debug!(broker = %shared.id(), topic, ?created, "auto-created a topic");
}
