//! What a broker does when a topic is deleted: it stops hosting the topic's partitions,
//! deletes their logs, forgets them in its metadata cache and has its group coordinator
//! drop the offsets committed for them. Kafka's KRaft broker does this in
//! `ReplicaManager.applyDelta` ("deletes first") through `stopPartitions` with
//! `deleteLocalLog = true`, then `groupCoordinator.onPartitionsDeleted`
//! (`BrokerMetadataPublisher.onMetadataUpdate`).
//!
//! Simplified: Kafka renames a deleted log's directory `-delete` and removes it after
//! `file.delete.delay.ms`; here the files go at once (nothing reads them in between).
//! A broker that was down while its topic was deleted keeps the stale files, which
//! nothing loads since the topic is not in its metadata when it comes back (Kafka
//! renames them `-stray`); kafkasim does not re-create a deleted topic's name, so no
//! newer topic can adopt them.

use super::log::PartitionLog;
use super::SharedBroker;
use crate::history::Event;
use crate::protocol::TopicPartition;

/// Stops hosting `deleted` (partitions of deleted topics), deletes their logs and tells
/// the waiting fetches and produce requests, which then answer UNKNOWN_TOPIC_OR_PARTITION.
pub fn delete_partitions(shared: &SharedBroker, deleted: &[TopicPartition]) {
    if deleted.is_empty() {
        return;
    }
    {
        let mut state = shared.lock();
        let me = state.id;
        for tp in deleted {
            state.metadata.partitions.remove(tp);
            if state.partitions.remove(tp).is_some() {
                PartitionLog::delete_files(&shared.disk, tp);
                shared.tracer.emit(Event::PartitionDeleted { tp: tp.to_string().into(), broker: me.0 });
            }
        }
    }
    shared.changed.notify_waiters();
    shared.coordinator.on_partitions_deleted(shared, deleted);
}
