//! The replicas a broker hosts, with a record of which ones may have changed.
//!
//! A fetch long-poll waits on the broker's one `changed` notification, which every
//! append, high-watermark move and role change fires. With thousands of partitions most
//! of those wake-ups concern partitions the fetch does not ask for. Kafka's purgatory
//! keys each delayed fetch by its partitions (`DelayedOperationPurgatory` watch keys,
//! `TopicPartitionOperationKey`), so an append checks only the fetches that asked for its
//! partition. Here the fetch learns from [`HostedPartitions::touched_since`] which
//! partitions were handed out for mutation since its last read and re-reads only those
//! of its own; an untouched partition would read the same as before.
//!
//! The record is conservative, which is what keeps it exact: every mutable access
//! counts as a change whether or not it changed anything, and an access that can reach
//! any partition (`values_mut`, `entry`, a removal) counts as a change to all of them.

use super::partition::Partition;
use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, VecDeque};

/// How many recent changes are remembered. A fetch that last read before the oldest of
/// them re-reads everything, so the bound costs only a re-read.
const REMEMBERED_CHANGES: usize = 4_096;

/// One entry of the change record.
#[derive(Clone, Debug)]
enum Change {
    /// One partition was handed out for mutation (or its cached metadata changed).
    Partition(TopicPartition),
    /// Anything may have changed.
    Everything,
}

/// What changed since a given point of the record.
#[derive(Debug, PartialEq, Eq)]
pub enum Touched<'a> {
    /// Anything may have changed: read everything again.
    Everything,
    /// Only these partitions may have changed (possibly with repeats).
    Only(Vec<&'a TopicPartition>),
}

/// The replicas hosted by a broker, keyed by partition, with the change record.
#[derive(Default)]
pub struct HostedPartitions {
    replicas: BTreeMap<TopicPartition, Partition>,
    /// The most recent changes, oldest first, each with its sequence number.
    changes: VecDeque<(u64, Change)>,
    /// The sequence number the next change gets.
    next_change: u64,
}

impl HostedPartitions {
    /// The replica of `tp`, if hosted here.
    pub fn get(&self, tp: &TopicPartition) -> Option<&Partition> {
        self.replicas.get(tp)
    }

    /// Whether `tp` is hosted here.
    pub fn contains_key(&self, tp: &TopicPartition) -> bool {
        self.replicas.contains_key(tp)
    }

    /// The hosted replicas in partition order.
    pub fn iter(&self) -> std::collections::btree_map::Iter<'_, TopicPartition, Partition> {
        self.replicas.iter()
    }

    /// The hosted replicas' states in partition order.
    pub fn values(&self) -> std::collections::btree_map::Values<'_, TopicPartition, Partition> {
        self.replicas.values()
    }

    /// The map itself, read-only (for range lookups such as `TopicPartition::of_topic`).
    pub fn as_map(&self) -> &BTreeMap<TopicPartition, Partition> {
        &self.replicas
    }

    /// The replica of `tp` for mutation; counts as a change to `tp`.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        let replica = self.replicas.get_mut(tp)?;
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(tp.clone()));
        Some(replica)
    }

    /// The replica of `tp` for a mutation that changes nothing a fetch reads (a
    /// follower's progress), without counting as a change: the caller must call
    /// [`HostedPartitions::note_changed`] if it moved what a fetch reads (the high
    /// watermark). Only the leader's bookkeeping of follower fetches uses it: every
    /// follower fetch touches each of its partitions, and counting those would wake every
    /// consumer fetch of the same partitions for nothing.
    pub fn get_mut_unnoted(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        self.replicas.get_mut(tp)
    }

    /// Every replica for mutation; counts as a change to all of them.
    pub fn values_mut(&mut self) -> std::collections::btree_map::ValuesMut<'_, TopicPartition, Partition> {
        self.note_everything_changed();
        self.replicas.values_mut()
    }

    /// The replica of `tp`, created with `create` when not hosted yet; counts as a
    /// change to `tp`.
    pub fn get_or_insert_with(&mut self, tp: &TopicPartition, create: impl FnOnce() -> Partition) -> &mut Partition {
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(tp.clone()));
        self.replicas.entry(tp.clone()).or_insert_with(create)
    }

    /// Stops hosting `tp`, returning its replica; counts as a change to `tp`.
    pub fn remove(&mut self, tp: &TopicPartition) -> Option<Partition> {
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(tp.clone()));
        self.replicas.remove(tp)
    }

    /// Records that what a fetch of `tp` reads changed outside the replica (the
    /// metadata cache's entry for it).
    pub fn note_changed(&mut self, tp: &TopicPartition) {
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(tp.clone()));
    }

    /// Records that anything a fetch reads may have changed.
    pub fn note_everything_changed(&mut self) {
        Self::record(&mut self.changes, &mut self.next_change, Change::Everything);
    }

    /// The point of the record now: pass it to [`HostedPartitions::touched_since`] later.
    pub fn change_mark(&self) -> u64 {
        self.next_change
    }

    /// The partitions that may have changed since `mark`.
    pub fn touched_since(&self, mark: u64) -> Touched<'_> {
        let forgotten = mark < self.next_change && self.changes.front().is_none_or(|(oldest, _)| *oldest > mark);
        if forgotten {
            return Touched::Everything;
        }
        let start = self.changes.partition_point(|(seq, _)| *seq < mark);
        let mut touched = Vec::new();
        for (_, change) in self.changes.range(start..) {
            match change {
                Change::Partition(tp) => touched.push(tp),
                Change::Everything => return Touched::Everything,
            }
        }
        Touched::Only(touched)
    }

    fn record(changes: &mut VecDeque<(u64, Change)>, next_change: &mut u64, change: Change) {
        if changes.len() == REMEMBERED_CHANGES {
            changes.pop_front();
        }
        changes.push_back((*next_change, change));
        *next_change += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::log::PartitionLog;
    use crate::broker::partition::HighWatermarkRule;
    use crate::sim::disk::DiskStore;

    fn replica(tp: &TopicPartition) -> Partition {
        let log = PartitionLog::load(tp.clone(), DiskStore::new().disk("b1"));
        Partition::new(log, 0, HighWatermarkRule::FOLLOW_ISR)
    }

    fn hosted(tps: &[TopicPartition]) -> HostedPartitions {
        let mut hosted = HostedPartitions::default();
        for tp in tps {
            hosted.get_or_insert_with(tp, || replica(tp));
        }
        hosted
    }

    #[test]
    fn a_mutable_access_is_a_change_to_that_partition_only() {
        let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
        let mut hosted = hosted(&[a.clone(), b.clone()]);
        let mark = hosted.change_mark();
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![]));
        hosted.get(&b);
        hosted.get_mut(&a);
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![&a]));
        hosted.note_changed(&b);
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![&a, &b]));
        let later = hosted.change_mark();
        assert_eq!(hosted.touched_since(later), Touched::Only(vec![]));
    }

    #[test]
    fn access_to_every_replica_and_forgotten_marks_mean_everything() {
        let a = TopicPartition::new("t", 0);
        let mut hosted = hosted(&[a.clone()]);
        let mark = hosted.change_mark();
        hosted.values_mut().for_each(drop);
        assert_eq!(hosted.touched_since(mark), Touched::Everything);
        let mark = hosted.change_mark();
        for _ in 0..=REMEMBERED_CHANGES {
            hosted.get_mut(&a);
        }
        assert_eq!(hosted.touched_since(mark), Touched::Everything, "the mark fell out of the record");
        let recent = hosted.change_mark() - 1;
        assert_eq!(hosted.touched_since(recent), Touched::Only(vec![&a]));
    }
}
