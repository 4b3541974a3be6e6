//! What a broker does when a topic is deleted: it stops hosting the topic's partitions,
//! deletes their logs, forgets them in its metadata cache and has its group coordinator
//! drop the offsets committed for them.
//!
//! KRaft: all at once, when the broker applies the `RemoveTopicRecord`
//! (`ReplicaManager.applyDelta` "deletes first" through `stopPartitions` with
//! `deleteLocalLog = true`, then `groupCoordinator.onPartitionsDeleted` from
//! `BrokerMetadataPublisher.onMetadataUpdate`).
//!
//! ZooKeeper mode: in two steps the controller drives (`TopicDeletionManager`). Every
//! broker forgets the partitions when an UpdateMetadata names them as being deleted
//! (`KafkaApis.handleUpdateMetadataRequest` hands the removed partitions to
//! `groupCoordinator.handleDeletedPartitions`); each replica stops and deletes its log
//! when the controller's StopReplica with `deletePartition` reaches it.
//!
//! Simplified: Kafka renames a deleted log's directory `-delete` and removes it after
//! `file.delete.delay.ms`; here the files go at once (nothing reads them in between).
//!
//! Stray logs (KRaft): a broker that was down while its topic was deleted finds the log
//! on its disk when it comes back, and the topic may have been created again under the
//! same name with a new id meanwhile (a KRaft controller frees the name as soon as the
//! `RemoveTopicRecord` commits). Kafka's `LogManager.isStrayKraftReplica` calls a log
//! stray when it has no topic id, its id is not in the metadata image, or the image's
//! partition does not list the broker; the log is renamed `<tp>.<id>-stray` and kept,
//! never read ([`stray_replica`], [`stray_orphans`]). A ZooKeeper-mode controller instead
//! waits for such a broker and has it delete the log before the name can be reused.

use super::log::PartitionLog;
use super::partition::Partition;
use super::SharedBroker;
use crate::history::Event;
use crate::protocol::{BrokerId, TopicId, TopicPartition};

/// Stops hosting `deleted` (partitions of deleted topics), deletes their logs, forgets
/// them and drops their committed offsets (KRaft's single step).
pub fn delete_partitions(shared: &SharedBroker, deleted: &[TopicPartition]) {
    stop_and_delete_replicas(shared, deleted);
    forget_partitions(shared, deleted);
}

/// Stops hosting `deleted` and deletes their logs; the waiting fetches and produce
/// requests then answer UNKNOWN_TOPIC_OR_PARTITION. A log on disk that the broker does
/// not host is deleted too: a ZooKeeper-mode broker that was down when the deletion
/// began loads its logs at startup, and no LeaderAndIsr makes it host those
/// (`ReplicaManager.stopReplicas`, `HostedPartition.None`: "this could happen when topic
/// is being deleted while broker is down and recovers").
pub fn stop_and_delete_replicas(shared: &SharedBroker, deleted: &[TopicPartition]) {
    if deleted.is_empty() {
        return;
    }
    {
        let mut state = shared.lock();
        let me = state.id;
        for tp in deleted {
            let hosted = state.partitions.remove(tp);
            if PartitionLog::delete_files(&shared.disk, tp) || hosted.is_some() {
                let name = hosted.map_or_else(|| tp.to_string().into(), |p| p.name().clone());
                shared.tracer.emit(Event::PartitionDeleted { tp: name, broker: me.0 });
            }
        }
    }
    shared.wake_watchers();
}

/// Forgets `deleted` in the metadata cache (clients asking for them get
/// UNKNOWN_TOPIC_OR_PARTITION) and has the group coordinator drop the offsets committed
/// for those it knew.
pub fn forget_partitions(shared: &SharedBroker, deleted: &[TopicPartition]) {
    let forgotten: Vec<TopicPartition> = {
        let mut state = shared.lock();
        deleted.iter().filter(|tp| state.forget_partition_state(tp)).cloned().collect()
    };
    if !forgotten.is_empty() {
        shared.coordinator.on_partitions_deleted(shared, &forgotten);
    }
}

/// Sets a stray replica aside: its files move to `<tp>.<id>-stray/` (a directory the
/// startup scan does not read back as a partition) and a [`Event::PartitionStray`] is
/// traced under the stray log's own topic.
pub fn stray_replica(shared: &SharedBroker, me: BrokerId, stray: &Partition) {
    let tp = stray.tp();
    let id = stray.topic_id().map_or_else(|| "unknown".to_string(), |id| id.to_string());
    PartitionLog::move_files(&shared.disk, tp, &format!("{tp}.{id}-stray"));
    let records = stray.log_end_offset() - stray.log().log_start_offset();
    shared.tracer.emit(Event::PartitionStray { tp: stray.name().clone(), broker: me.0, records });
}

/// The KRaft startup scan, once the broker has caught up with the metadata log
/// (`BrokerMetadataPublisher.initializeManagers` → `LogManager.startup(isStray)`): every
/// replica on this broker that the image does not give it under the log's own topic id
/// is stray: one loaded from disk for a topic that has gone (or gone and come back).
pub fn stray_orphans(shared: &SharedBroker, is_current: impl Fn(&TopicPartition, TopicId) -> bool) {
    let mut state = shared.lock();
    let me = state.id;
    let strays: Vec<TopicPartition> = state
        .partitions
        .iter()
        .filter(|(tp, p)| p.topic_id().is_none_or(|id| !is_current(tp, id)))
        .map(|(tp, _)| tp.clone())
        .collect();
    for tp in strays {
        if let Some(stray) = state.partitions.remove(&tp) {
            stray_replica(shared, me, &stray);
        }
    }
}
