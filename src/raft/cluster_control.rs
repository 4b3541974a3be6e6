//! The active KRaft controller's view of the brokers: registrations, heartbeats and the
//! sessions they keep alive, fencing and unfencing, controlled shutdown, and the
//! partition changes each of those calls for. A port of Kafka 3.9's
//! `ClusterControlManager.registerBroker`, `BrokerHeartbeatManager` and the broker
//! handlers of `ReplicationControlManager`.
//!
//! Sessions live only in the active controller's memory, as in Kafka: a controller that
//! takes office starts every registered broker's session afresh ([`ClusterControl::activate`]).
//! Everything else it decides goes into the metadata log as records, which the caller
//! appends through the quorum and replays into the [`MetadataImage`].

use super::metadata::{MetadataImage, MetadataRecord, TopicId};
use super::partition_change::{Election, PartitionChangeBuilder};
pub use crate::protocol::kraft::{Heartbeat, HeartbeatReply, Registration};
use crate::protocol::{BrokerId, ErrorCode};
use std::collections::BTreeMap;

/// What the controller needs to know about a topic to change its partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicPolicy {
    /// The topic's effective `min.insync.replicas`.
    pub min_insync_replicas: usize,
    /// The topic's effective `unclean.leader.election.enable`.
    pub unclean_leader_election: bool,
}

/// The controller's settings for partition changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplicationSettings {
    /// KIP-966 eligible leader replicas.
    pub eligible_leader_replicas: bool,
    /// Metadata versions before 3.6 bump the leader epoch on an ISR shrink (KAFKA-15021).
    pub bump_leader_epoch_on_isr_shrink: bool,
}

/// How the controller changes partitions: cluster settings and each topic's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policies {
    /// Cluster-wide settings.
    pub settings: ReplicationSettings,
    /// The policy of a topic without its own settings.
    pub default_topic: TopicPolicy,
    /// Topics with their own settings.
    pub topics: BTreeMap<TopicId, TopicPolicy>,
}

impl Policies {
    /// The effective policy of `topic`.
    pub fn topic(&self, topic: TopicId) -> TopicPolicy {
        self.topics.get(&topic).copied().unwrap_or(self.default_topic)
    }
}

/// Why a registration or heartbeat was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerRequestError {
    /// Another live process holds this broker id (`DUPLICATE_BROKER_REGISTRATION`).
    DuplicateBrokerRegistration,
    /// The heartbeat names an epoch other than the broker's registration
    /// (`STALE_BROKER_EPOCH`): an old incarnation, fenced by its epoch.
    StaleBrokerEpoch,
    /// The broker is not registered (`BROKER_ID_NOT_REGISTERED`).
    BrokerIdNotRegistered,
}

impl From<BrokerRequestError> for ErrorCode {
    fn from(error: BrokerRequestError) -> Self {
        match error {
            BrokerRequestError::DuplicateBrokerRegistration => ErrorCode::DuplicateBrokerRegistration,
            BrokerRequestError::StaleBrokerEpoch => ErrorCode::StaleBrokerEpoch,
            BrokerRequestError::BrokerIdNotRegistered => ErrorCode::BrokerIdNotRegistered,
        }
    }
}

/// A broker's state as the heartbeat manager computes it (`BrokerControlState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ControlState {
    Fenced,
    Unfenced,
    ControlledShutdown,
    ShutdownNow,
}

/// One broker's session (`BrokerHeartbeatState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Session {
    last_contact_ms: u64,
    metadata_offset: u64,
    /// The log offset at which the broker's controlled shutdown will be complete.
    controlled_shutdown_offset: Option<u64>,
}

/// The active controller's broker sessions.
#[derive(Clone, Debug)]
pub struct ClusterControl {
    /// `broker.session.timeout.ms` (9000).
    session_timeout_ms: u64,
    policies: Policies,
    sessions: BTreeMap<BrokerId, Session>,
}

impl ClusterControl {
    /// A controller taking office: every registered broker gets a fresh session.
    pub fn activate(image: &MetadataImage, session_timeout_ms: u64, policies: Policies, now_ms: u64) -> Self {
        let sessions = image
            .brokers
            .keys()
            .map(|&b| (b, Session { last_contact_ms: now_ms, metadata_offset: 0, controlled_shutdown_offset: None }))
            .collect();
        ClusterControl { session_timeout_ms, policies, sessions }
    }

    /// Replaces the partition-change policies (a topic was created since activation).
    pub fn set_policies(&mut self, policies: Policies) {
        self.policies = policies;
    }

    /// `hasValidSession`: an unfenced broker heard from within the session timeout.
    fn has_valid_session(&self, image: &MetadataImage, broker: BrokerId, now_ms: u64) -> bool {
        let fenced = image.brokers.get(&broker).is_none_or(|r| r.fenced);
        let session = self.sessions.get(&broker);
        !fenced && session.is_some_and(|s| s.last_contact_ms + self.session_timeout_ms >= now_ms)
    }

    /// `ClusterControlManager.registerBroker`: the records of a (re-)registration and the
    /// broker's epoch. A new incarnation gets `next_offset` as its epoch and starts
    /// fenced. A new incarnation whose clean-shutdown marker does not hold the epoch of
    /// the registration it replaces restarted uncleanly (Kafka 4.0's
    /// `isUncleanShutdownRegistration`, KAFKA-18635): it may have lost unflushed records,
    /// so with ELR its replicas leave every ISR and ELR first
    /// (`handleBrokerUncleanShutdown`). The same incarnation registering again keeps its
    /// epoch and state.
    pub fn register_broker(
        &mut self,
        image: &MetadataImage,
        request: Registration,
        next_offset: u64,
        now_ms: u64,
    ) -> Result<(Vec<MetadataRecord>, u64), BrokerRequestError> {
        let Registration { broker, incarnation_id, previous_broker_epoch } = request;
        let existing = image.brokers.get(&broker);
        let new_incarnation = existing.is_none_or(|r| r.incarnation_id != incarnation_id);
        if new_incarnation && existing.is_some() && self.has_valid_session(image, broker, now_ms) {
            return Err(BrokerRequestError::DuplicateBrokerRegistration);
        }
        let mut records = Vec::new();
        let register = match existing.filter(|_| !new_incarnation) {
            Some(r) => MetadataRecord::RegisterBroker {
                broker,
                incarnation_id,
                broker_epoch: r.broker_epoch,
                fenced: r.fenced,
                in_controlled_shutdown: r.in_controlled_shutdown,
            },
            None => {
                let unclean = existing.is_some_and(|r| previous_broker_epoch != Some(r.broker_epoch));
                if self.policies.settings.eligible_leader_replicas && unclean {
                    let updates = Updates { unclean_shutdown: Some(broker), ..Updates::default() };
                    records.extend(
                        updates.generate(image, &self.policies, |p| p.isr.contains(&broker) || p.elr.contains(&broker)),
                    );
                }
                MetadataRecord::RegisterBroker {
                    broker,
                    incarnation_id,
                    broker_epoch: next_offset,
                    fenced: true,
                    in_controlled_shutdown: false,
                }
            }
        };
        let MetadataRecord::RegisterBroker { broker_epoch, .. } = register else { unreachable!("built above") };
        records.push(register);
        let session = Session { last_contact_ms: now_ms, metadata_offset: 0, controlled_shutdown_offset: None };
        if new_incarnation {
            self.sessions.insert(broker, session);
        } else {
            self.sessions.entry(broker).or_insert(session);
        }
        Ok((records, broker_epoch))
    }

    /// `ReplicationControlManager.processBrokerHeartbeat`: the broker's next state, the
    /// records that move it there, and the reply. `registration_offset` is where the
    /// broker's registration record sits in the log: a fenced broker is unfenced once it
    /// has replayed that far. `next_offset` is where these records will go.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        request: Heartbeat,
        registration_offset: u64,
        next_offset: u64,
        now_ms: u64,
    ) -> Result<(Vec<MetadataRecord>, HeartbeatReply), BrokerRequestError> {
        let broker = request.broker;
        let registration = image.brokers.get(&broker).ok_or(BrokerRequestError::BrokerIdNotRegistered)?;
        if registration.broker_epoch != request.broker_epoch {
            return Err(BrokerRequestError::StaleBrokerEpoch);
        }
        let current = match (registration.fenced, registration.in_controlled_shutdown) {
            (true, _) => ControlState::Fenced,
            (false, true) => ControlState::ControlledShutdown,
            (false, false) => ControlState::Unfenced,
        };
        let has_leaderships = image.topics.values().any(|t| t.partitions.values().any(|p| p.leader == Some(broker)));
        let next = self.next_state(image, current, request, registration_offset, has_leaderships);
        let mut records = Vec::new();
        if next != current {
            let epoch = request.broker_epoch;
            match next {
                ControlState::Fenced | ControlState::ShutdownNow => {
                    records.extend(fence_records(image, broker, epoch, &self.policies));
                }
                ControlState::Unfenced => {
                    records.push(MetadataRecord::BrokerRegistrationChange {
                        broker,
                        broker_epoch: epoch,
                        fenced: Some(false),
                        in_controlled_shutdown: None,
                    });
                    // Leaderless partitions may now elect it (`handleBrokerUnfenced`).
                    let updates = Updates { add: Some(broker), ..Updates::default() };
                    records.extend(updates.generate(image, &self.policies, |p| p.leader.is_none()));
                }
                ControlState::ControlledShutdown => {
                    records.push(MetadataRecord::BrokerRegistrationChange {
                        broker,
                        broker_epoch: epoch,
                        fenced: None,
                        in_controlled_shutdown: Some(true),
                    });
                    let updates = Updates { remove: Some(broker), ..Updates::default() };
                    records.extend(updates.generate(image, &self.policies, |p| p.isr.contains(&broker)));
                }
            }
        }
        let fenced = matches!(next, ControlState::Fenced | ControlState::ShutdownNow);
        let session = self.sessions.entry(broker).or_insert(Session {
            last_contact_ms: now_ms,
            metadata_offset: 0,
            controlled_shutdown_offset: None,
        });
        session.last_contact_ms = now_ms;
        session.metadata_offset = request.current_metadata_offset;
        if fenced {
            session.controlled_shutdown_offset = None;
        } else if next == ControlState::ControlledShutdown && session.controlled_shutdown_offset.is_none() {
            // `maybeUpdateControlledShutdownOffset`: done once the brokers have replayed
            // the records that move its leaderships away.
            session.controlled_shutdown_offset = Some(next_offset + records.len() as u64);
        }
        let reply = HeartbeatReply {
            is_caught_up: request.current_metadata_offset >= registration_offset,
            is_fenced: fenced,
            in_controlled_shutdown: next == ControlState::ControlledShutdown,
            should_shut_down: next == ControlState::ShutdownNow,
        };
        Ok((records, reply))
    }

    /// `BrokerHeartbeatManager.calculateNextBrokerState`.
    fn next_state(
        &self,
        image: &MetadataImage,
        current: ControlState,
        request: Heartbeat,
        registration_offset: u64,
        has_leaderships: bool,
    ) -> ControlState {
        match current {
            ControlState::Fenced if request.want_shut_down => ControlState::ShutdownNow,
            ControlState::Fenced if !request.want_fence && request.current_metadata_offset >= registration_offset => {
                ControlState::Unfenced
            }
            ControlState::Fenced => ControlState::Fenced,
            ControlState::Unfenced if request.want_fence && request.want_shut_down => ControlState::ShutdownNow,
            ControlState::Unfenced if request.want_fence => ControlState::Fenced,
            ControlState::Unfenced if request.want_shut_down && has_leaderships => ControlState::ControlledShutdown,
            ControlState::Unfenced if request.want_shut_down => ControlState::ShutdownNow,
            ControlState::Unfenced => ControlState::Unfenced,
            ControlState::ControlledShutdown if has_leaderships => ControlState::ControlledShutdown,
            ControlState::ControlledShutdown => {
                let done_at = self.sessions.get(&request.broker).and_then(|s| s.controlled_shutdown_offset);
                if done_at.unwrap_or(0) <= self.lowest_active_offset(image) {
                    ControlState::ShutdownNow
                } else {
                    ControlState::ControlledShutdown
                }
            }
            ControlState::ShutdownNow => ControlState::ShutdownNow,
        }
    }

    /// `lowestActiveOffset`: how far the slowest active broker (unfenced, not shutting
    /// down) has replayed the log.
    fn lowest_active_offset(&self, image: &MetadataImage) -> u64 {
        let active = |b: &BrokerId| image.brokers.get(b).is_some_and(|r| !r.fenced && !r.in_controlled_shutdown);
        self.sessions.iter().filter(|(b, _)| active(b)).map(|(_, s)| s.metadata_offset).min().unwrap_or(u64::MAX)
    }

    /// `maybeFenceOneStaleBroker`: fences the unfenced broker heard from longest ago, if
    /// its session has expired. One at a time, as Kafka does, so that each fencing's
    /// partition changes are in the log before the next one is decided.
    pub fn fence_one_stale_broker(&mut self, image: &MetadataImage, now_ms: u64) -> Vec<MetadataRecord> {
        let stale = self
            .sessions
            .iter()
            .filter(|(b, _)| image.brokers.get(b).is_some_and(|r| !r.fenced))
            .min_by_key(|(&b, s)| (s.last_contact_ms, b))
            .filter(|(&b, _)| !self.has_valid_session(image, b, now_ms))
            .map(|(&b, _)| b);
        let Some(broker) = stale else { return Vec::new() };
        if let Some(session) = self.sessions.get_mut(&broker) {
            session.controlled_shutdown_offset = None;
        }
        let epoch = image.brokers[&broker].broker_epoch;
        fence_records(image, broker, epoch, &self.policies)
    }

    /// `maybeBalancePartitionLeaders`: a preferred-leader election for each partition
    /// whose leader is not its first replica, at most `max_elections` (Kafka's
    /// `MAX_ELECTIONS_PER_IMBALANCE`, 1000) per call. Unlike the ZooKeeper-era controller,
    /// KRaft's ignores `leader.imbalance.per.broker.percentage`: every imbalanced
    /// partition is rebalanced on each `leader.imbalance.check.interval.seconds`.
    pub fn balance_partition_leaders(&self, image: &MetadataImage, max_elections: usize) -> Vec<MetadataRecord> {
        let active = |r: BrokerId| image.brokers.get(&r).is_some_and(|reg| !reg.fenced && !reg.in_controlled_shutdown);
        let mut records = Vec::new();
        for (&topic_id, topic) in &image.topics {
            let min_isr = self.policies.topic(topic_id).min_insync_replicas;
            for (&partition_id, partition) in &topic.partitions {
                if records.len() >= max_elections {
                    return records;
                }
                if partition.leader.is_none() || partition.leader == partition.replicas.first().copied() {
                    continue;
                }
                let builder = PartitionChangeBuilder::new(partition, topic_id, partition_id, &active, min_isr)
                    .election(Election::Preferred)
                    .eligible_leader_replicas(self.policies.settings.eligible_leader_replicas);
                records.extend(builder.build());
            }
        }
        records
    }

    /// When the next session may expire, if any broker is unfenced.
    pub fn next_session_expiry_ms(&self, image: &MetadataImage) -> Option<u64> {
        self.sessions
            .iter()
            .filter(|(b, _)| image.brokers.get(b).is_some_and(|r| !r.fenced))
            .map(|(_, s)| s.last_contact_ms + self.session_timeout_ms + 1)
            .min()
    }
}

/// `handleBrokerFenced`: the broker leaves every ISR and leadership, then is fenced.
fn fence_records(
    image: &MetadataImage,
    broker: BrokerId,
    broker_epoch: u64,
    policies: &Policies,
) -> Vec<MetadataRecord> {
    let updates = Updates { remove: Some(broker), ..Updates::default() };
    let mut records = updates.generate(image, policies, |p| p.isr.contains(&broker));
    records.push(MetadataRecord::BrokerRegistrationChange {
        broker,
        broker_epoch,
        fenced: Some(true),
        in_controlled_shutdown: None,
    });
    records
}

/// `generateLeaderAndIsrUpdates`: one partition change per partition selected, with a
/// broker removed, added as acceptable leader, or excluded after an unclean shutdown.
#[derive(Clone, Copy, Debug, Default)]
struct Updates {
    remove: Option<BrokerId>,
    add: Option<BrokerId>,
    unclean_shutdown: Option<BrokerId>,
}

impl Updates {
    fn generate(
        self,
        image: &MetadataImage,
        policies: &Policies,
        selected: impl Fn(&super::metadata::PartitionRegistration) -> bool,
    ) -> Vec<MetadataRecord> {
        let excluded = |r: BrokerId| Some(r) == self.remove || Some(r) == self.unclean_shutdown;
        let acceptable = |r: BrokerId| {
            !excluded(r)
                && (Some(r) == self.add
                    || image.brokers.get(&r).is_some_and(|reg| !reg.fenced && !reg.in_controlled_shutdown))
        };
        let mut records = Vec::new();
        for (&topic_id, topic) in &image.topics {
            let topic_policy = policies.topic(topic_id);
            for (&partition_id, partition) in topic.partitions.iter().filter(|(_, p)| selected(p)) {
                let target_isr: Vec<BrokerId> = partition.isr.iter().copied().filter(|&r| !excluded(r)).collect();
                let mut builder = PartitionChangeBuilder::new(
                    partition,
                    topic_id,
                    partition_id,
                    &acceptable,
                    topic_policy.min_insync_replicas,
                )
                .eligible_leader_replicas(policies.settings.eligible_leader_replicas)
                .target_isr(target_isr);
                builder.bump_leader_epoch_on_isr_shrink = policies.settings.bump_leader_epoch_on_isr_shrink;
                if topic_policy.unclean_leader_election {
                    builder = builder.election(Election::Unclean);
                }
                if let Some(b) = self.unclean_shutdown {
                    builder = builder.unclean_shutdown_replicas(vec![b]);
                }
                records.extend(builder.build());
            }
        }
        records
    }
}

#[cfg(test)]
#[path = "cluster_control_tests.rs"]
mod tests;
