//! The configuration facts a story's prevention sentence depends on, read from the
//! scenario (or unknown, when only a history file is explained).

use crate::protocol::{Acks, TruncationMode};
use crate::scenario::Scenario;

/// What the run was configured with, as far as the explanations need it. Every field is
/// `None` when unknown (a history checked without its scenario).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// The producers' `acks` (the first producer's, when they differ).
    pub acks: Option<Acks>,
    /// Whether the producers are idempotent (`enable.idempotence`).
    pub idempotence: Option<bool>,
    /// Whether the producers' idempotence is off only because `enable.idempotence` was not
    /// set and acks (or retries, or requests in flight) contradicted Kafka 3.x's default.
    pub idempotence_quietly_disabled: Option<bool>,
    /// `max.in.flight.requests.per.connection` of the first producer.
    pub max_in_flight: Option<u32>,
    /// `min.insync.replicas` of the first topic.
    pub min_insync_replicas: Option<u32>,
    /// `unclean.leader.election.enable` of the first topic.
    pub unclean_election: Option<bool>,
    /// The replication factor of the first topic.
    pub replication_factor: Option<u32>,
    /// How followers truncate after a leader change.
    pub truncation: Option<TruncationMode>,
    /// `flush.messages`, when set.
    pub flush_messages: Option<u64>,
    /// Whether consumers commit automatically (`enable.auto.commit`), when any consumer is
    /// in a group.
    pub auto_commit: Option<bool>,
}

impl Setup {
    /// The facts of a scenario.
    pub fn from_scenario(scenario: &Scenario) -> Setup {
        let producer = scenario.producers.first();
        let topic = scenario.topics.first();
        Setup {
            acks: producer.map(|p| p.config.acks),
            idempotence: producer.map(|p| p.config.enable_idempotence),
            idempotence_quietly_disabled: producer.map(|p| p.config.idempotence_quietly_disabled),
            max_in_flight: producer.map(|p| p.config.max_in_flight_requests_per_connection),
            min_insync_replicas: topic.map(|t| t.min_insync_replicas(&scenario.cluster.config)),
            unclean_election: topic.map(|t| t.unclean_leader_election_enable(&scenario.cluster.config)),
            replication_factor: topic.map(|t| t.replication_factor),
            truncation: Some(scenario.cluster.truncation),
            flush_messages: scenario.cluster.config.flush_messages,
            auto_commit: scenario.consumers.iter().find(|c| c.group.is_some()).map(|c| c.config.enable_auto_commit),
        }
    }
}
