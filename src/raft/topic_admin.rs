//! An administrator's topic changes as the active controller decides them: the checks and
//! the records of Kafka 3.9's `ReplicationControlManager.createTopic`,
//! `createPartitions` and `deleteTopic` (unchanged in 4.0), for topics without configs
//! of their own and without manual replica assignments.
//!
//! Creating a topic writes a `TopicRecord` and one `PartitionRecord` per partition, all
//! or nothing in one batch; adding partitions writes a `PartitionRecord` per new
//! partition; deleting a topic writes one `RemoveTopicRecord`, nothing per partition, and
//! never waits for replicas: brokers delete their copies when they replay it, and a
//! broker that was down deletes its stray copy when it comes back. A deleted topic's name
//! can be created again at once.

use super::metadata::{LeaderRecoveryState, MetadataImage, MetadataRecord, PartitionRegistration, TopicId};
use super::placement::{PlacementRandom, ReplicaPlacer, UsableBroker};
pub use crate::protocol::kraft::TopicAdmin;
use crate::protocol::{BrokerId, ErrorCode};

/// The controller's answer: the records to append (none on an error) and the outcome.
pub type TopicAdminResult = (Vec<MetadataRecord>, Result<(), ErrorCode>);

/// Decides an administrator's topic change against `image`. `delete_topic_enable` is
/// the controller's `delete.topic.enable` (`ControllerApis.deleteTopics` refuses with
/// TOPIC_DELETION_DISABLED when it is false).
pub fn topic_admin(
    image: &MetadataImage,
    request: &TopicAdmin,
    delete_topic_enable: bool,
    rng: &mut impl PlacementRandom,
) -> TopicAdminResult {
    let outcome = match request {
        TopicAdmin::CreateTopic { name, partitions, replication_factor } => {
            create_topic(image, name, *partitions, *replication_factor, rng)
        }
        TopicAdmin::CreatePartitions { topic, count } => create_partitions(image, topic, *count, rng),
        TopicAdmin::DeleteTopic { .. } if !delete_topic_enable => Err(ErrorCode::TopicDeletionDisabled),
        TopicAdmin::DeleteTopic { topic } => image
            .topic_id(topic)
            .map(|topic_id| vec![MetadataRecord::RemoveTopic { topic_id }])
            .ok_or(ErrorCode::UnknownTopicOrPartition),
    };
    match outcome {
        Ok(records) => (records, Ok(())),
        Err(error) => (Vec::new(), Err(error)),
    }
}

/// `createTopic`: TOPIC_ALREADY_EXISTS for a name in use, INVALID_PARTITIONS for no
/// partitions, then the placement of every partition.
fn create_topic(
    image: &MetadataImage,
    name: &str,
    partitions: u32,
    replication_factor: u32,
    rng: &mut impl PlacementRandom,
) -> Result<Vec<MetadataRecord>, ErrorCode> {
    if image.topic_id(name).is_some() {
        return Err(ErrorCode::TopicAlreadyExists);
    }
    if partitions == 0 {
        return Err(ErrorCode::InvalidPartitions);
    }
    let topic_id = image.next_topic_id();
    let mut records = vec![MetadataRecord::Topic { name: name.into(), topic_id }];
    records.extend(new_partitions(image, topic_id, 0..partitions, replication_factor, rng)?);
    Ok(records)
}

/// `createPartitions`: UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist,
/// INVALID_PARTITIONS unless the count grows ("Topic already has N partitions" or
/// "cannot be reduced"), then the new partitions with partition 0's replication factor.
fn create_partitions(
    image: &MetadataImage,
    topic: &str,
    count: u32,
    rng: &mut impl PlacementRandom,
) -> Result<Vec<MetadataRecord>, ErrorCode> {
    let topic_id = image.topic_id(topic).ok_or(ErrorCode::UnknownTopicOrPartition)?;
    let existing = &image.topics[&topic_id].partitions;
    let current = existing.len() as u32;
    if count <= current {
        return Err(ErrorCode::InvalidPartitions);
    }
    let replication_factor = existing.values().next().map_or(1, |p| p.replicas.len() as u32);
    new_partitions(image, topic_id, current..count, replication_factor, rng)
}

/// The `PartitionRecord`s of new partitions (`buildPartitionRegistration`): replicas from
/// the placer, the ISR the replicas that are active (unfenced, not shutting down), the
/// first of them leading in epoch 0. A partition none of whose replicas is active
/// cannot be created (INVALID_REPLICATION_FACTOR, "all brokers are fenced").
fn new_partitions(
    image: &MetadataImage,
    topic_id: TopicId,
    numbers: std::ops::Range<u32>,
    replication_factor: u32,
    rng: &mut impl PlacementRandom,
) -> Result<Vec<MetadataRecord>, ErrorCode> {
    let usable: Vec<UsableBroker> = image
        .brokers
        .iter()
        .filter(|(_, r)| !r.in_controlled_shutdown)
        .map(|(&id, r)| UsableBroker { id, fenced: r.fenced })
        .collect();
    let active = |b: &BrokerId| image.brokers.get(b).is_some_and(|r| !r.fenced && !r.in_controlled_shutdown);
    let mut placer = ReplicaPlacer::new(&usable, rng);
    let mut records = Vec::new();
    for partition in numbers {
        let replicas = placer.place(replication_factor, rng)?;
        let isr: Vec<BrokerId> = replicas.iter().copied().filter(active).collect();
        let Some(&leader) = isr.first() else {
            return Err(ErrorCode::InvalidReplicationFactor);
        };
        let registration = PartitionRegistration {
            replicas,
            isr,
            elr: Vec::new(),
            last_known_elr: Vec::new(),
            leader: Some(leader),
            leader_recovery: LeaderRecoveryState::Recovered,
            leader_epoch: 0,
            partition_epoch: 0,
        };
        records.push(MetadataRecord::Partition { topic_id, partition, registration });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::metadata::BrokerRegistration;
    use rand::{rngs::StdRng, SeedableRng};

    fn cluster(fenced: &[u32]) -> MetadataImage {
        let mut image = MetadataImage::default();
        for id in 1..=3 {
            let registration = BrokerRegistration {
                incarnation_id: u64::from(id),
                broker_epoch: u64::from(id),
                fenced: fenced.contains(&id),
                in_controlled_shutdown: false,
            };
            image.brokers.insert(BrokerId(id), registration);
        }
        image
    }

    fn apply(image: &mut MetadataImage, request: TopicAdmin) -> Result<(), ErrorCode> {
        let (records, outcome) = topic_admin(image, &request, true, &mut StdRng::seed_from_u64(5));
        for record in &records {
            image.replay(record).unwrap();
        }
        outcome
    }

    fn create(name: &str, partitions: u32, replication_factor: u32) -> TopicAdmin {
        TopicAdmin::CreateTopic { name: name.into(), partitions, replication_factor }
    }

    #[test]
    fn kafka_tests_create_topics() {
        // ReplicationControlManagerTest.testCreateTopics: every replica active, so the
        // ISR is the replica set and the first replica leads in epoch 0.
        let mut image = cluster(&[]);
        assert_eq!(apply(&mut image, create("orders", 3, 3)), Ok(()));
        let topic = &image.topics[&image.topic_id("orders").unwrap()];
        assert_eq!(topic.partitions.len(), 3);
        for p in topic.partitions.values() {
            assert_eq!(p.isr, p.replicas);
            assert_eq!(p.leader, Some(p.replicas[0]));
            assert_eq!((p.leader_epoch, p.partition_epoch), (0, 0));
        }
        assert_eq!(apply(&mut image, create("orders", 1, 1)), Err(ErrorCode::TopicAlreadyExists));
        assert_eq!(apply(&mut image, create("empty", 0, 1)), Err(ErrorCode::InvalidPartitions));
        assert_eq!(apply(&mut image, create("wide", 1, 4)), Err(ErrorCode::InvalidReplicationFactor));
    }

    #[test]
    fn kafka_tests_create_topics_isr_invariants() {
        // ReplicationControlManagerTest.testCreateTopicsISRInvariants: a fenced replica
        // is placed but left out of the ISR, and never leads.
        let mut image = cluster(&[2]);
        assert_eq!(apply(&mut image, create("orders", 4, 3)), Ok(()));
        for p in image.topics[&image.topic_id("orders").unwrap()].partitions.values() {
            assert!(p.replicas.contains(&BrokerId(2)));
            assert!(!p.isr.contains(&BrokerId(2)));
            assert_ne!(p.leader, Some(BrokerId(2)));
        }
    }

    #[test]
    fn kafka_tests_create_partitions() {
        // ReplicationControlManagerTest.testCreatePartitions: growth only, new numbers
        // after the last, partition 0's replication factor.
        let mut image = cluster(&[]);
        apply(&mut image, create("orders", 2, 2)).unwrap();
        let grow = |count| TopicAdmin::CreatePartitions { topic: "orders".into(), count };
        assert_eq!(apply(&mut image, grow(2)), Err(ErrorCode::InvalidPartitions));
        assert_eq!(apply(&mut image, grow(1)), Err(ErrorCode::InvalidPartitions));
        assert_eq!(apply(&mut image, grow(5)), Ok(()));
        let topic = &image.topics[&image.topic_id("orders").unwrap()];
        assert_eq!(topic.partitions.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
        assert!(topic.partitions.values().all(|p| p.replicas.len() == 2));
        let unknown = TopicAdmin::CreatePartitions { topic: "nope".into(), count: 3 };
        assert_eq!(apply(&mut image, unknown), Err(ErrorCode::UnknownTopicOrPartition));
    }

    #[test]
    fn kafka_tests_delete_topics() {
        // ReplicationControlManagerTest.testDeleteTopics: one RemoveTopicRecord, and the
        // name is free again at once.
        let mut image = cluster(&[]);
        apply(&mut image, create("orders", 2, 3)).unwrap();
        let first_id = image.topic_id("orders").unwrap();
        let delete = TopicAdmin::DeleteTopic { topic: "orders".into() };
        let (records, outcome) = topic_admin(&image, &delete, true, &mut StdRng::seed_from_u64(1));
        assert_eq!((records.as_slice(), outcome), (&[MetadataRecord::RemoveTopic { topic_id: first_id }][..], Ok(())));
        apply(&mut image, delete.clone()).unwrap();
        assert_eq!(image.topic_id("orders"), None);
        assert_eq!(apply(&mut image, delete.clone()), Err(ErrorCode::UnknownTopicOrPartition));
        apply(&mut image, create("orders", 1, 1)).unwrap();
        assert_ne!(image.topic_id("orders"), Some(first_id), "a re-created topic has a new id");
        // `delete.topic.enable=false`: refused, nothing written.
        let (records, outcome) = topic_admin(&image, &delete, false, &mut StdRng::seed_from_u64(1));
        assert!(records.is_empty());
        assert_eq!(outcome, Err(ErrorCode::TopicDeletionDisabled));
    }
}
