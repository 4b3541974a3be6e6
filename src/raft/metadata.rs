//! The metadata log's records (KIP-631) and the image every controller and broker builds
//! by replaying them in log order (Kafka's `MetadataDelta` / `ClusterDelta` /
//! `TopicsDelta` and `PartitionRegistration.merge`).
//!
//! Only the records the model needs: broker registrations and fencing, topics and
//! partitions, partition changes (leader, ISR, ELR, leader recovery). Configs, quotas,
//! ACLs, features and producer-id blocks are left out.

pub use crate::protocol::kraft::{LeaderChange, LeaderRecoveryState, MetadataRecord, PartitionRegistration, TopicId};
use crate::protocol::BrokerId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

impl PartitionRegistration {
    /// Applies a [`MetadataRecord::PartitionChange`] (any other record changes nothing):
    /// Kafka's `PartitionRegistration.merge`. The leader epoch moves only with a leader in
    /// the record; the partition epoch with every change.
    pub fn merge(&mut self, record: &MetadataRecord) {
        let MetadataRecord::PartitionChange { leader, isr, elr, last_known_elr, replicas, leader_recovery, .. } =
            record
        else {
            return;
        };
        if let LeaderChange::To(new_leader) = leader {
            self.leader = *new_leader;
            self.leader_epoch += 1;
        }
        for (field, value) in [
            (&mut self.isr, isr),
            (&mut self.elr, elr),
            (&mut self.last_known_elr, last_known_elr),
            (&mut self.replicas, replicas),
        ] {
            if let Some(v) = value {
                field.clone_from(v);
            }
        }
        if let Some(state) = leader_recovery {
            self.leader_recovery = *state;
        }
        self.partition_epoch += 1;
    }
}

#[cfg(test)]
impl PartitionRegistration {
    /// The tests' partition: replicas [1, 2, 3], `leader` and `isr` as given, nothing
    /// else, epochs 0.
    pub(crate) fn for_tests(leader: Option<u32>, isr: &[u32]) -> Self {
        PartitionRegistration {
            replicas: vec![BrokerId(1), BrokerId(2), BrokerId(3)],
            isr: isr.iter().map(|&i| BrokerId(i)).collect(),
            elr: Vec::new(),
            last_known_elr: Vec::new(),
            leader: leader.map(BrokerId),
            leader_recovery: LeaderRecoveryState::Recovered,
            leader_epoch: 0,
            partition_epoch: 0,
        }
    }
}

/// A broker's registration in the image (Kafka's `BrokerRegistration`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrokerRegistration {
    /// The process incarnation that registered.
    pub incarnation_id: u64,
    /// The broker epoch: the offset of its registration record.
    pub broker_epoch: u64,
    /// Fenced brokers lead nothing and are left out of ISRs.
    pub fenced: bool,
    /// Whether the broker is shutting down.
    pub in_controlled_shutdown: bool,
}

/// A topic in the image.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TopicImage {
    /// Its name.
    pub name: Arc<str>,
    /// Its partitions by number.
    pub partitions: BTreeMap<u32, PartitionRegistration>,
}

/// Why a record could not be replayed. Kafka throws `IllegalStateException` on these: a
/// correct controller never writes such a record, so seeing one is a bug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The record names a broker that is not registered.
    UnknownBroker(BrokerId),
    /// The record names another registration of the broker than the current one.
    StaleBrokerEpoch {
        /// The broker.
        broker: BrokerId,
        /// The epoch the record names.
        record_epoch: u64,
        /// The registered epoch.
        registered_epoch: u64,
    },
    /// The record names a topic that does not exist.
    UnknownTopic(TopicId),
    /// A topic name or id already exists.
    DuplicateTopic(TopicId),
    /// The record names a partition that does not exist (or, for a `Partition`
    /// record, one that already does).
    UnknownPartition(TopicId, u32),
}

/// The cluster's metadata as of some offset of the metadata log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataImage {
    /// Registered brokers.
    pub brokers: BTreeMap<BrokerId, BrokerRegistration>,
    /// Topics by id.
    pub topics: BTreeMap<TopicId, TopicImage>,
    /// The highest topic id ever created: ids are never reused, as Kafka's random
    /// UUIDs never are, so a re-created topic is told apart from the deleted one.
    pub highest_topic_id: TopicId,
    /// The names of deleted topics that were not created again. Model bookkeeping, not
    /// a Kafka record: the administrator who creates the scenario's topics at startup
    /// creates each once, and a topic a scenario event deleted stays deleted.
    pub deleted_names: BTreeSet<Arc<str>>,
}

impl MetadataImage {
    /// Applies one record, as every member of the cluster does in log order.
    pub fn replay(&mut self, record: &MetadataRecord) -> Result<(), ReplayError> {
        match record {
            MetadataRecord::RegisterBroker { broker, incarnation_id, broker_epoch, fenced, in_controlled_shutdown } => {
                let registration = BrokerRegistration {
                    incarnation_id: *incarnation_id,
                    broker_epoch: *broker_epoch,
                    fenced: *fenced,
                    in_controlled_shutdown: *in_controlled_shutdown,
                };
                self.brokers.insert(*broker, registration);
            }
            MetadataRecord::UnregisterBroker { broker, broker_epoch } => {
                self.registered(*broker, *broker_epoch)?;
                self.brokers.remove(broker);
            }
            MetadataRecord::BrokerRegistrationChange { broker, broker_epoch, fenced, in_controlled_shutdown } => {
                let registration = self.registered(*broker, *broker_epoch)?;
                if let Some(fenced) = fenced {
                    registration.fenced = *fenced;
                }
                if let Some(shutting_down) = in_controlled_shutdown {
                    registration.in_controlled_shutdown = *shutting_down;
                }
            }
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(topic_id) || self.topic_id(name).is_some() {
                    return Err(ReplayError::DuplicateTopic(*topic_id));
                }
                self.topics.insert(*topic_id, TopicImage { name: name.clone(), partitions: BTreeMap::new() });
                self.highest_topic_id = self.highest_topic_id.max(*topic_id);
                self.deleted_names.remove(name);
            }
            MetadataRecord::Partition { topic_id, partition, registration } => {
                let topic = self.topics.get_mut(topic_id).ok_or(ReplayError::UnknownTopic(*topic_id))?;
                if topic.partitions.insert(*partition, registration.clone()).is_some() {
                    return Err(ReplayError::UnknownPartition(*topic_id, *partition));
                }
            }
            MetadataRecord::PartitionChange { topic_id, partition, .. } => {
                let topic = self.topics.get_mut(topic_id).ok_or(ReplayError::UnknownTopic(*topic_id))?;
                let p =
                    topic.partitions.get_mut(partition).ok_or(ReplayError::UnknownPartition(*topic_id, *partition))?;
                p.merge(record);
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let topic = self.topics.remove(topic_id).ok_or(ReplayError::UnknownTopic(*topic_id))?;
                self.deleted_names.insert(topic.name);
            }
            MetadataRecord::NoOp => {}
        }
        Ok(())
    }

    /// The id the next created topic gets.
    pub fn next_topic_id(&self) -> TopicId {
        self.highest_topic_id + 1
    }

    /// The id of the topic named `name`.
    pub fn topic_id(&self, name: &str) -> Option<TopicId> {
        self.topics.iter().find(|(_, t)| &*t.name == name).map(|(&id, _)| id)
    }

    /// The registration of `broker` with epoch `broker_epoch` (`ClusterDelta.getBrokerOrThrow`).
    fn registered(&mut self, broker: BrokerId, broker_epoch: u64) -> Result<&mut BrokerRegistration, ReplayError> {
        let registration = self.brokers.get_mut(&broker).ok_or(ReplayError::UnknownBroker(broker))?;
        if registration.broker_epoch != broker_epoch {
            return Err(ReplayError::StaleBrokerEpoch {
                broker,
                record_epoch: broker_epoch,
                registered_epoch: registration.broker_epoch,
            });
        }
        Ok(registration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ids: &[u32]) -> Vec<BrokerId> {
        ids.iter().map(|&i| BrokerId(i)).collect()
    }

    fn image_with_one_partition() -> MetadataImage {
        let mut image = MetadataImage::default();
        let records = [
            MetadataRecord::RegisterBroker {
                broker: BrokerId(1),
                incarnation_id: 11,
                broker_epoch: 5,
                fenced: true,
                in_controlled_shutdown: false,
            },
            MetadataRecord::Topic { name: "orders".into(), topic_id: 1 },
            MetadataRecord::Partition {
                topic_id: 1,
                partition: 0,
                registration: PartitionRegistration::for_tests(Some(1), &[1, 2, 3]),
            },
        ];
        for record in &records {
            image.replay(record).expect("a consistent log");
        }
        image
    }

    fn change(leader: LeaderChange, isr: Option<&[u32]>) -> MetadataRecord {
        MetadataRecord::PartitionChange {
            topic_id: 1,
            partition: 0,
            leader,
            isr: isr.map(b),
            elr: None,
            last_known_elr: None,
            replicas: None,
            leader_recovery: None,
        }
    }

    #[test]
    fn an_isr_change_bumps_the_partition_epoch_and_only_a_leader_in_the_record_the_leader_epoch() {
        let mut image = image_with_one_partition();
        image.replay(&change(LeaderChange::Unchanged, Some(&[1, 2]))).unwrap();
        let p = &image.topics[&1].partitions[&0];
        assert_eq!((p.leader_epoch, p.partition_epoch, p.isr.clone()), (0, 1, b(&[1, 2])));
        // The same leader named again: a forced leader epoch bump.
        image.replay(&change(LeaderChange::To(Some(BrokerId(1))), None)).unwrap();
        let p = &image.topics[&1].partitions[&0];
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (Some(BrokerId(1)), 1, 2));
        image.replay(&change(LeaderChange::To(None), Some(&[]))).unwrap();
        let p = &image.topics[&1].partitions[&0];
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (None, 2, 3));
    }

    #[test]
    fn a_record_for_an_older_incarnation_of_a_broker_is_refused() {
        let mut image = image_with_one_partition();
        let unfence = |epoch| MetadataRecord::BrokerRegistrationChange {
            broker: BrokerId(1),
            broker_epoch: epoch,
            fenced: Some(false),
            in_controlled_shutdown: None,
        };
        image.replay(&unfence(5)).unwrap();
        assert!(!image.brokers[&BrokerId(1)].fenced);
        // The broker restarts and registers again at offset 40: a new epoch.
        let register = MetadataRecord::RegisterBroker {
            broker: BrokerId(1),
            incarnation_id: 12,
            broker_epoch: 40,
            fenced: true,
            in_controlled_shutdown: false,
        };
        image.replay(&register).unwrap();
        assert_eq!(
            image.replay(&unfence(5)),
            Err(ReplayError::StaleBrokerEpoch { broker: BrokerId(1), record_epoch: 5, registered_epoch: 40 })
        );
        assert!(image.brokers[&BrokerId(1)].fenced, "the refused record changed nothing");
        assert_eq!(image.replay(&unfence(40)), Ok(()));
    }

    #[test]
    fn records_for_unknown_topics_partitions_and_brokers_are_refused() {
        let mut image = image_with_one_partition();
        let mut unknown = change(LeaderChange::Unchanged, None);
        if let MetadataRecord::PartitionChange { partition, .. } = &mut unknown {
            *partition = 7;
        }
        assert_eq!(image.replay(&unknown), Err(ReplayError::UnknownPartition(1, 7)));
        assert_eq!(image.replay(&MetadataRecord::RemoveTopic { topic_id: 9 }), Err(ReplayError::UnknownTopic(9)));
        let again = MetadataRecord::Topic { name: "orders".into(), topic_id: 2 };
        assert_eq!(image.replay(&again), Err(ReplayError::DuplicateTopic(2)));
        let gone = MetadataRecord::UnregisterBroker { broker: BrokerId(3), broker_epoch: 1 };
        assert_eq!(image.replay(&gone), Err(ReplayError::UnknownBroker(BrokerId(3))));
        image.replay(&MetadataRecord::RemoveTopic { topic_id: 1 }).unwrap();
        assert_eq!(image.topic_id("orders"), None);
    }
}
