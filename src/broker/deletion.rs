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
//! A KRaft broker that was down while its topic was deleted keeps the stale files, which
//! nothing loads since the topic is not in its metadata when it comes back (Kafka
//! renames them `-stray`); kafkasim does not re-create a deleted topic's name, so no
//! newer topic can adopt them. (A ZooKeeper-mode controller waits for such a broker and
//! has it delete them.)

use super::log::PartitionLog;
use super::SharedBroker;
use crate::history::Event;
use crate::protocol::TopicPartition;

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
            let hosted = state.partitions.remove(tp).is_some();
            if PartitionLog::delete_files(&shared.disk, tp) || hosted {
                shared.tracer.emit(Event::PartitionDeleted { tp: tp.to_string().into(), broker: me.0 });
            }
        }
    }
    shared.changed.notify_waiters();
}

/// Forgets `deleted` in the metadata cache (clients asking for them get
/// UNKNOWN_TOPIC_OR_PARTITION) and has the group coordinator drop the offsets committed
/// for those it knew.
pub fn forget_partitions(shared: &SharedBroker, deleted: &[TopicPartition]) {
    let forgotten: Vec<TopicPartition> = {
        let mut state = shared.lock();
        deleted.iter().filter(|tp| state.metadata.partitions.remove(*tp).is_some()).cloned().collect()
    };
    if !forgotten.is_empty() {
        shared.coordinator.on_partitions_deleted(shared, &forgotten);
    }
}
