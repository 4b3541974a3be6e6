//! Which offsets partitions this broker's coordinator serves, kept in step with the
//! broker's leadership of `__consumer_offsets` (Kafka's `onElection` / `onResignation`):
//! when a leadership of a partition begins, the coordinator replays the partition's log
//! into the committed offsets and the groups' metadata (`loadGroupsAndOffsets`), every
//! loaded member's session starting then; when it ends, the partition's groups are
//! dropped and their parked requests answered NOT_COORDINATOR (`onUnloaded`).
//!
//! A leadership is named by the leader epoch it began in
//! ([`Partition::leadership_start_epoch`](crate::broker::Partition::leadership_start_epoch)):
//! a leader epoch bump that keeps this broker leader (an ISR change) keeps the loaded
//! state, as Kafka loads only when `makeLeader` reports a new leader. The check runs on
//! every group request and on the coordinator's timer, so a change is seen within one
//! timer tick even when no member asks.

use super::consumer_group::ConsumerGroup;
use super::group::Group;
use super::offsets_partition_for;
use super::records;
use super::service::{State, OFFSETS_TOPIC};
use crate::broker::SharedBroker;
use crate::coverage::ReachedState;
use crate::protocol::{ErrorCode, LeaderEpoch, TopicPartition};
use crate::sim::clock;
use std::time::Duration;

/// How many partitions `__consumer_offsets` has in this cluster (0 if it does not exist).
pub(super) fn offsets_partitions(shared: &SharedBroker) -> u32 {
    shared.config.topic(OFFSETS_TOPIC).map_or(0, |t| t.replicas.len() as u32)
}

/// The offsets partition of `group` and the leadership this broker serves it in, if it
/// leads it (loading it first if this leadership has not been loaded yet); else the
/// error to answer.
pub(super) fn owned_partition(shared: &SharedBroker, group: &str) -> Result<(TopicPartition, LeaderEpoch), ErrorCode> {
    let count = offsets_partitions(shared);
    if count == 0 {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    let tp = TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(group, count));
    match sync_partition(shared, &tp) {
        Some(leadership) => Ok((tp, leadership)),
        None => Err(ErrorCode::NotCoordinator),
    }
}

/// Brings the coordinator's view of one offsets partition in line with the broker's
/// role: loads a leadership it has not loaded, unloads one that ended. Returns the
/// leadership this broker holds, if any.
pub(super) fn sync_partition(shared: &SharedBroker, tp: &TopicPartition) -> Option<LeaderEpoch> {
    let (leadership, log) = {
        let state = shared.lock();
        let partition = state.partitions.get(tp);
        let leadership = partition.and_then(|p| p.leadership_start_epoch());
        if shared.coordinator.lock().loaded.get(&tp.partition).copied() == leadership {
            return leadership;
        }
        (leadership, partition.filter(|_| leadership.is_some()).map(|p| p.log().committed_key_values()))
    };
    let mut coordinator = shared.coordinator.lock();
    unload(&mut coordinator, tp.partition, offsets_partitions(shared));
    if let (Some(epoch), Some((log, open))) = (leadership, log) {
        for (producer_id, records) in open {
            let pending = coordinator.pending_txn_offsets.entry(producer_id).or_default();
            pending.extend(records::replay(records).offsets);
        }
        let delay = Duration::from_millis(shared.config.group_coordinator.group_initial_rebalance_delay_ms);
        let replayed = records::replay(log);
        let now = clock::now();
        coordinator.offsets.extend(replayed.offsets);
        for (id, metadata) in replayed.groups {
            coordinator.groups.insert(id, Group::loaded(metadata, delay, now));
        }
        let settings = &shared.config.group_coordinator.consumer;
        for (id, records) in replayed.consumer_groups {
            coordinator.consumer_groups.insert(id, ConsumerGroup::loaded(&records, settings, now));
        }
        coordinator.loaded.insert(tp.partition, epoch);
        if epoch > 0 {
            // Leader epoch 0 is the partition's first leader: a later one took the groups over.
            shared.tracer.reached(ReachedState::CoordinatorMoved);
        }
    }
    leadership
}

/// Drops every group and offset of offsets partition `partition` (of `count`),
/// answering the groups' parked requests NOT_COORDINATOR.
fn unload(coordinator: &mut State, partition: u32, count: u32) {
    coordinator.loaded.remove(&partition);
    coordinator.offsets.retain(|(g, _), _| offsets_partition_for(g, count) != partition);
    for pending in coordinator.pending_txn_offsets.values_mut() {
        pending.retain(|(g, _), _| offsets_partition_for(g, count) != partition);
    }
    coordinator.pending_txn_offsets.retain(|_, pending| !pending.is_empty());
    let ids: Vec<String> =
        coordinator.groups.keys().filter(|g| offsets_partition_for(g, count) == partition).cloned().collect();
    for id in ids {
        if let Some(group) = coordinator.groups.remove(&id) {
            group.unload();
        }
    }
    coordinator.consumer_groups.retain(|g, _| offsets_partition_for(g, count) != partition);
}
