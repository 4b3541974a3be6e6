//! The active controller: what the quorum leader decides once it has committed an entry
//! of its own epoch (and so replayed everything before it), as Kafka's `QuorumController`
//! claims leadership. It answers brokers' registrations, heartbeats and AlterPartition
//! requests and an administrator's topic changes, fences brokers whose sessions expire,
//! creates the scenario's topics once their replicas are up, and balances leaders. Every decision is a list of metadata
//! records for the caller to append; its own image already holds them (Kafka's timeline
//! data structures), so that the next decision sees the last one before it commits.

use super::ControllerSettings;
use crate::history::ElectionReason;
use crate::protocol::kraft::{ControllerRequest, ControllerResponse, PartitionRegistration};
use crate::protocol::{ErrorCode, TopicAssignment};
use crate::raft::alter_partition::alter_partition;
use crate::raft::cluster_control::{ClusterControl, Policies, TopicPolicy};
use crate::raft::log::Epoch;
use crate::raft::metadata::{LeaderRecoveryState, MetadataImage, MetadataRecord};
use crate::raft::placement::PlacementRandom;
use crate::raft::topic_admin::topic_admin;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kafka's `ReplicationControlManager.MAX_ELECTIONS_PER_IMBALANCE`.
const MAX_ELECTIONS_PER_IMBALANCE: usize = 1_000;

/// Records to append, and why (for the trace of the partition changes among them).
pub(super) struct Decision {
    /// The records, in order.
    pub records: Vec<MetadataRecord>,
    /// Why the partition changes among them happened; `None` for records that change no
    /// partition (the idle writer's `NoOpRecord`).
    pub reason: Option<ElectionReason>,
}

/// A broker request's outcome: records to append and the answer to give once they (and
/// everything before them) are committed.
pub(super) struct Answered {
    /// What to append (perhaps nothing).
    pub decision: Decision,
    /// The answer.
    pub response: ControllerResponse,
}

/// The active controller of one Raft epoch.
pub(super) struct ActiveController {
    /// The epoch it leads.
    pub epoch: Epoch,
    /// The committed image with this controller's own uncommitted records on top.
    pub image: MetadataImage,
    control: ClusterControl,
    settings: Arc<ControllerSettings>,
    /// When leaders are next balanced, if `auto.leader.rebalance.enable`.
    next_balance_ms: Option<u64>,
    /// When the next `NoOpRecord` is due, if `metadata.max.idle.interval.ms` is not 0.
    next_no_op_ms: Option<u64>,
}

impl ActiveController {
    /// Takes office in `epoch` over the committed `image`: every registered broker's
    /// session starts now (`ClusterControlManager.activate`).
    pub fn activate(epoch: Epoch, image: MetadataImage, settings: Arc<ControllerSettings>, now_ms: u64) -> Self {
        let control =
            ClusterControl::activate(&image, settings.broker_session_timeout_ms, policies(&settings, &image), now_ms);
        let next_balance_ms = settings.leader_imbalance_check_interval_ms.map(|every| now_ms + every);
        let next_no_op_ms = settings.max_idle_interval_ms.map(|every| now_ms + every);
        ActiveController { epoch, image, control, settings, next_balance_ms, next_no_op_ms }
    }

    /// Applies records this controller appended to its own image.
    pub fn speculate(&mut self, records: &[MetadataRecord]) {
        for record in records {
            if let Err(error) = self.image.replay(record) {
                tracing::error!(?error, ?record, "the active controller wrote a record it cannot replay");
            }
        }
        if records.iter().any(|r| matches!(r, MetadataRecord::Topic { .. })) {
            self.control.set_policies(policies(&self.settings, &self.image));
        }
    }

    /// Decides a broker's or an administrator's request; `next_offset` is where its
    /// records will go; `rng` places the replicas of new partitions.
    pub fn serve(
        &mut self,
        request: ControllerRequest,
        next_offset: u64,
        now_ms: u64,
        rng: &mut impl PlacementRandom,
    ) -> Answered {
        let nothing = || Decision { records: Vec::new(), reason: None };
        match request {
            ControllerRequest::BrokerRegistration(registration) => {
                match self.control.register_broker(&self.image, registration, next_offset, now_ms) {
                    // A new incarnation's unclean-shutdown records (ELR) take it out of
                    // ISRs: a broker failure, then a start.
                    Ok((records, epoch)) => Answered {
                        decision: Decision { records, reason: Some(ElectionReason::BrokerFailure) },
                        response: ControllerResponse::BrokerRegistration(Ok(epoch)),
                    },
                    Err(error) => Answered {
                        decision: nothing(),
                        response: ControllerResponse::BrokerRegistration(Err(error.into())),
                    },
                }
            }
            ControllerRequest::BrokerHeartbeat(heartbeat) => {
                // The broker's registration record sits at its broker epoch.
                let registration_offset = heartbeat.broker_epoch;
                match self.control.heartbeat(&self.image, heartbeat, registration_offset, next_offset, now_ms) {
                    Ok((records, reply)) => {
                        let reason = if heartbeat.want_shut_down {
                            ElectionReason::ControlledShutdown
                        } else if reply.is_fenced {
                            ElectionReason::BrokerFailure
                        } else {
                            ElectionReason::BrokerStartup
                        };
                        Answered {
                            decision: Decision { records, reason: Some(reason) },
                            response: ControllerResponse::BrokerHeartbeat(Ok(reply)),
                        }
                    }
                    Err(error) => Answered {
                        decision: nothing(),
                        response: ControllerResponse::BrokerHeartbeat(Err(error.into())),
                    },
                }
            }
            ControllerRequest::AlterPartition(request) => {
                let policies = policies(&self.settings, &self.image);
                let (record, result) = alter_partition(&self.image, &policies, &request);
                Answered {
                    decision: Decision {
                        records: record.into_iter().collect(),
                        reason: Some(ElectionReason::BrokerFailure),
                    },
                    response: ControllerResponse::AlterPartition(result),
                }
            }
            ControllerRequest::TopicAdmin(request) => {
                let (records, outcome) = topic_admin(&self.image, &request, self.settings.delete_topic_enable, rng);
                Answered {
                    decision: Decision { records, reason: Some(ElectionReason::TopicCreation) },
                    response: ControllerResponse::TopicAdmin(outcome),
                }
            }
            ControllerRequest::Quorum { .. } => Answered {
                decision: nothing(),
                response: ControllerResponse::AlterPartition(Err(ErrorCode::InvalidRequest)),
            },
        }
    }

    /// The periodic work due at `now_ms`, one decision at a time, as Kafka schedules each
    /// as its own event: fencing a broker whose session expired
    /// (`maybeFenceOneStaleBroker`), creating a topic whose replicas are all up, and
    /// balancing leaders (`maybeBalancePartitionLeaders`), and the idle writer's
    /// `NoOpRecord` (`QuorumController.maybeScheduleNextWriteNoOpRecord`, KIP-835: every
    /// `metadata.max.idle.interval.ms` whatever else was written, so that the log, and
    /// every voter's and observer's view of how current it is, keeps moving).
    pub fn due(&mut self, now_ms: u64) -> Option<Decision> {
        let fenced = self.control.fence_one_stale_broker(&self.image, now_ms);
        if !fenced.is_empty() {
            return Some(Decision { records: fenced, reason: Some(ElectionReason::BrokerFailure) });
        }
        if let Some(records) = self.create_a_topic() {
            return Some(Decision { records, reason: Some(ElectionReason::TopicCreation) });
        }
        if self.next_balance_ms.is_some_and(|at| now_ms >= at) {
            self.next_balance_ms = self.settings.leader_imbalance_check_interval_ms.map(|every| now_ms + every);
            let records = self.control.balance_partition_leaders(&self.image, MAX_ELECTIONS_PER_IMBALANCE);
            if !records.is_empty() {
                return Some(Decision { records, reason: Some(ElectionReason::PreferredReplica) });
            }
        }
        if self.next_no_op_ms.is_some_and(|at| now_ms >= at) {
            self.next_no_op_ms = self.settings.max_idle_interval_ms.map(|every| now_ms + every);
            return Some(Decision { records: vec![MetadataRecord::NoOp], reason: None });
        }
        None
    }

    /// When [`ActiveController::due`] next has something to do.
    pub fn next_deadline_ms(&self) -> u64 {
        let expiry = self.control.next_session_expiry_ms(&self.image).unwrap_or(u64::MAX);
        [self.next_balance_ms, self.next_no_op_ms].into_iter().flatten().fold(expiry, u64::min)
    }

    /// The first scenario topic never created whose replicas are all registered and
    /// unfenced, as records: the administrator creates it with its replica assignment,
    /// every replica in the ISR, the first leading in epoch 0
    /// (`ReplicationControlManager.createTopic` with a manual assignment). A scenario
    /// topic that a `delete-topic` event deleted is not created again.
    fn create_a_topic(&self) -> Option<Vec<MetadataRecord>> {
        let up = |b| self.image.brokers.get(b).is_some_and(|r| !r.fenced && !r.in_controlled_shutdown);
        let topic = self.settings.topics.iter().find(|t| {
            self.image.topic_id(&t.name).is_none()
                && !self.image.deleted_names.contains(t.name.as_str())
                && t.replicas.iter().flatten().all(&up)
        })?;
        let topic_id = self.image.next_topic_id();
        let mut records = vec![MetadataRecord::Topic { name: topic.name.as_str().into(), topic_id }];
        for (partition, replicas) in topic.replicas.iter().enumerate() {
            let registration = PartitionRegistration {
                replicas: replicas.clone(),
                isr: replicas.clone(),
                elr: Vec::new(),
                last_known_elr: Vec::new(),
                leader: replicas.first().copied(),
                leader_recovery: LeaderRecoveryState::Recovered,
                leader_epoch: 0,
                partition_epoch: 0,
            };
            records.push(MetadataRecord::Partition { topic_id, partition: partition as u32, registration });
        }
        Some(records)
    }
}

/// Each topic's policy from the scenario's topic settings, by the ids the image gave them.
fn policies(settings: &ControllerSettings, image: &MetadataImage) -> Policies {
    let by_name: BTreeMap<&str, &TopicAssignment> = settings.topics.iter().map(|t| (t.name.as_str(), t)).collect();
    let topics = image
        .topics
        .iter()
        .filter_map(|(&id, topic)| {
            let assignment = by_name.get(&*topic.name)?;
            let policy = TopicPolicy {
                min_insync_replicas: assignment.min_insync_replicas as usize,
                unclean_leader_election: assignment.unclean_leader_election_enable,
            };
            Some((id, policy))
        })
        .collect();
    Policies { settings: settings.replication, default_topic: settings.default_topic, topics }
}
