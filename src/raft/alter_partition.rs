//! A partition leader asks the KRaft controller to change its ISR (AlterPartition,
//! KIP-497 and KIP-841 for the broker epochs): the checks the controller makes and the
//! partition change it writes. A port of Kafka 3.9's
//! `ReplicationControlManager.alterPartition` and `validateAlterPartitionData`, without
//! reassignments.

use super::cluster_control::Policies;
use super::metadata::{LeaderChange, LeaderRecoveryState, MetadataImage, MetadataRecord, PartitionRegistration};
use super::partition_change::{Election, PartitionChangeBuilder};
pub use crate::protocol::kraft::AlterPartition;
use crate::protocol::{BrokerId, ErrorCode};

/// The controller's answer: the record to append (if any) and the partition's state
/// after it, or the error.
pub type AlterPartitionResult = (Option<MetadataRecord>, Result<PartitionRegistration, ErrorCode>);

/// Decides an AlterPartition against `image`.
pub fn alter_partition(image: &MetadataImage, policies: &Policies, request: &AlterPartition) -> AlterPartitionResult {
    match image.brokers.get(&request.broker) {
        Some(r) if r.broker_epoch == request.broker_epoch => {}
        _ => return (None, Err(ErrorCode::StaleBrokerEpoch)),
    }
    let partition = image.topics.get(&request.topic_id).and_then(|t| t.partitions.get(&request.partition));
    let Some(partition) = partition else {
        return (None, Err(ErrorCode::UnknownTopicOrPartition));
    };
    if let Err(error) = validate(image, partition, request) {
        return (None, Err(error));
    }
    let policy = policies.topic(request.topic_id);
    let active = |r: BrokerId| image.brokers.get(&r).is_some_and(|reg| !reg.fenced && !reg.in_controlled_shutdown);
    let mut builder = PartitionChangeBuilder::new(
        partition,
        request.topic_id,
        request.partition,
        &active,
        policy.min_insync_replicas,
    )
    .eligible_leader_replicas(policies.settings.eligible_leader_replicas)
    .target_isr(request.new_isr.iter().map(|&(b, _)| b).collect())
    .target_leader_recovery(request.leader_recovery);
    builder.bump_leader_epoch_on_isr_shrink = policies.settings.bump_leader_epoch_on_isr_shrink;
    if policy.unclean_leader_election {
        builder = builder.election(Election::Unclean);
    }
    let Some(record) = builder.build() else {
        return (None, Ok(partition.clone()));
    };
    let mut changed = partition.clone();
    changed.merge(&record);
    let leader_moved = matches!(record, MetadataRecord::PartitionChange { leader: LeaderChange::To(l), .. } if l != Some(request.broker));
    if leader_moved {
        return (Some(record), Err(ErrorCode::NewLeaderElected));
    }
    (Some(record), Ok(changed))
}

/// `validateAlterPartitionData`, in Kafka's order.
fn validate(
    image: &MetadataImage,
    partition: &PartitionRegistration,
    request: &AlterPartition,
) -> Result<(), ErrorCode> {
    // Epochs ahead of the controller's: this controller is likely no longer active.
    if request.leader_epoch > partition.leader_epoch || request.partition_epoch > partition.partition_epoch {
        return Err(ErrorCode::NotController);
    }
    if request.leader_epoch < partition.leader_epoch {
        return Err(ErrorCode::FencedLeaderEpoch);
    }
    if Some(request.broker) != partition.leader {
        return Err(ErrorCode::InvalidRequest);
    }
    if request.partition_epoch < partition.partition_epoch {
        return Err(ErrorCode::InvalidUpdateVersion);
    }
    let isr: Vec<BrokerId> = request.new_isr.iter().map(|&(b, _)| b).collect();
    let mut distinct = isr.clone();
    distinct.sort_unstable();
    distinct.dedup();
    // `Replicas.validateIsr`: replicas only, no repeats; and the leader always in.
    if distinct.len() != isr.len()
        || !isr.iter().all(|r| partition.replicas.contains(r))
        || !isr.contains(&request.broker)
    {
        return Err(ErrorCode::InvalidRequest);
    }
    if request.leader_recovery == LeaderRecoveryState::Recovering && isr.len() > 1 {
        return Err(ErrorCode::InvalidRequest);
    }
    if partition.leader_recovery == LeaderRecoveryState::Recovered
        && request.leader_recovery == LeaderRecoveryState::Recovering
    {
        return Err(ErrorCode::InvalidRequest);
    }
    // KIP-841: every member registered, unfenced, not shutting down, and (KIP-903) of the
    // broker epoch the leader saw.
    let eligible = |&(b, epoch): &(BrokerId, Option<u64>)| {
        image
            .brokers
            .get(&b)
            .is_some_and(|r| !r.fenced && !r.in_controlled_shutdown && epoch.is_none_or(|e| e == r.broker_epoch))
    };
    if !request.new_isr.iter().all(eligible) {
        return Err(ErrorCode::IneligibleReplica);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::cluster_control::{ReplicationSettings, TopicPolicy};
    use crate::raft::metadata::{BrokerRegistration, TopicImage};
    use std::collections::BTreeMap;

    fn image() -> MetadataImage {
        let broker = |epoch| BrokerRegistration {
            incarnation_id: epoch,
            broker_epoch: epoch,
            fenced: false,
            in_controlled_shutdown: false,
        };
        let mut image = MetadataImage::default();
        for id in 1..=3 {
            image.brokers.insert(BrokerId(id), broker(u64::from(id) * 10));
        }
        let partition = PartitionRegistration {
            leader_epoch: 4,
            partition_epoch: 7,
            ..PartitionRegistration::for_tests(Some(1), &[1, 2])
        };
        image.topics.insert(1, TopicImage { name: "orders".into(), partitions: BTreeMap::from([(0, partition)]) });
        image
    }

    fn policies() -> Policies {
        Policies {
            settings: ReplicationSettings { eligible_leader_replicas: false, bump_leader_epoch_on_isr_shrink: false },
            default_topic: TopicPolicy { min_insync_replicas: 2, unclean_leader_election: false },
            topics: BTreeMap::new(),
        }
    }

    fn expand_to_3() -> AlterPartition {
        AlterPartition {
            broker: BrokerId(1),
            broker_epoch: 10,
            topic_id: 1,
            partition: 0,
            leader_epoch: 4,
            partition_epoch: 7,
            new_isr: vec![(BrokerId(1), Some(10)), (BrokerId(2), Some(20)), (BrokerId(3), Some(30))],
            leader_recovery: LeaderRecoveryState::Recovered,
        }
    }

    #[test]
    fn an_isr_expansion_bumps_the_partition_epoch_and_keeps_the_leader_epoch() {
        let (record, after) = alter_partition(&image(), &policies(), &expand_to_3());
        assert!(record.is_some());
        let after = after.expect("accepted");
        assert_eq!((after.leader_epoch, after.partition_epoch, after.isr.len()), (4, 8, 3));
    }

    #[test]
    fn a_stale_partition_epoch_a_follower_and_an_old_leader_epoch_are_refused() {
        let stale = AlterPartition { partition_epoch: 6, ..expand_to_3() };
        assert_eq!(alter_partition(&image(), &policies(), &stale).1, Err(ErrorCode::InvalidUpdateVersion));
        let follower = AlterPartition { broker: BrokerId(2), broker_epoch: 20, ..expand_to_3() };
        assert_eq!(alter_partition(&image(), &policies(), &follower).1, Err(ErrorCode::InvalidRequest));
        let old = AlterPartition { leader_epoch: 3, ..expand_to_3() };
        assert_eq!(alter_partition(&image(), &policies(), &old).1, Err(ErrorCode::FencedLeaderEpoch));
        let ahead = AlterPartition { leader_epoch: 5, ..expand_to_3() };
        assert_eq!(alter_partition(&image(), &policies(), &ahead).1, Err(ErrorCode::NotController));
        let old_incarnation = AlterPartition { broker_epoch: 9, ..expand_to_3() };
        assert_eq!(alter_partition(&image(), &policies(), &old_incarnation).1, Err(ErrorCode::StaleBrokerEpoch));
    }

    #[test]
    fn a_fenced_replica_or_one_of_another_incarnation_cannot_join_the_isr() {
        let mut fenced = image();
        fenced.brokers.get_mut(&BrokerId(3)).unwrap().fenced = true;
        assert_eq!(alter_partition(&fenced, &policies(), &expand_to_3()).1, Err(ErrorCode::IneligibleReplica));
        let mut request = expand_to_3();
        request.new_isr[2].1 = Some(29);
        assert_eq!(alter_partition(&image(), &policies(), &request).1, Err(ErrorCode::IneligibleReplica));
    }

    #[test]
    fn an_isr_without_the_leader_or_with_a_stranger_is_invalid() {
        let mut request = expand_to_3();
        request.new_isr.remove(0);
        assert_eq!(alter_partition(&image(), &policies(), &request).1, Err(ErrorCode::InvalidRequest));
        let mut request = expand_to_3();
        request.new_isr.push((BrokerId(4), None));
        assert_eq!(alter_partition(&image(), &policies(), &request).1, Err(ErrorCode::InvalidRequest));
    }
}
