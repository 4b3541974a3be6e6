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

/// A partition's number on this broker: given the first time the partition is seen and
/// kept for good, so that a change record compares integers, not names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot(u32);

/// One entry of the change record.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// One partition was handed out for mutation (or its cached metadata changed).
    Partition(Slot),
    /// Anything may have changed.
    Everything,
}

/// What changed since a given point of the record.
#[derive(Debug, PartialEq, Eq)]
pub enum Touched {
    /// Anything may have changed: read everything again.
    Everything,
    /// Only these partitions may have changed (possibly with repeats).
    Only(Vec<Slot>),
}

/// A hosted replica with its slot.
struct Hosted {
    slot: Slot,
    replica: Partition,
}

/// The replicas hosted by a broker, keyed by partition, with the change record.
#[derive(Default)]
pub struct HostedPartitions {
    replicas: BTreeMap<TopicPartition, Hosted>,
    /// Every partition's slot, hosted or not, once seen.
    slots: BTreeMap<TopicPartition, Slot>,
    /// The most recent changes, oldest first, each with its sequence number.
    changes: VecDeque<(u64, Change)>,
    /// The sequence number the next change gets.
    next_change: u64,
}

impl HostedPartitions {
    /// The replica of `tp`, if hosted here.
    pub fn get(&self, tp: &TopicPartition) -> Option<&Partition> {
        self.replicas.get(tp).map(|hosted| &hosted.replica)
    }

    /// The hosted replicas in partition order.
    pub fn iter(&self) -> impl Iterator<Item = (&TopicPartition, &Partition)> {
        self.replicas.iter().map(|(tp, hosted)| (tp, &hosted.replica))
    }

    /// The hosted replicas' states in partition order.
    pub fn values(&self) -> impl Iterator<Item = &Partition> {
        self.replicas.values().map(|hosted| &hosted.replica)
    }

    /// The replica of `tp` for mutation; counts as a change to `tp`.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        let hosted = self.replicas.get_mut(tp)?;
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(hosted.slot));
        Some(&mut hosted.replica)
    }

    /// The replica of `tp` for a mutation that changes nothing a fetch reads, without
    /// counting as a change: the caller must call [`HostedPartitions::note_changed`] if
    /// it moved what a fetch reads. Two callers use it, each for bookkeeping that would
    /// otherwise wake every fetch of its partitions for nothing:
    /// - the leader's record of a follower fetch (what a fetch reads moves only with the
    ///   high watermark, which the caller notes);
    /// - the follower's application of a fetch response: a fetch of a partition this
    ///   broker follows answers NOT_LEADER_OR_FOLLOWER whatever its log holds, and the
    ///   response changes neither the replica's role nor its topic id.
    pub fn get_mut_unnoted(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        self.replicas.get_mut(tp).map(|hosted| &mut hosted.replica)
    }

    /// Every replica for mutation; counts as a change to all of them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Partition> {
        self.note_everything_changed();
        self.replicas.values_mut().map(|hosted| &mut hosted.replica)
    }

    /// The replica of `tp`, created with `create` when not hosted yet; counts as a
    /// change to `tp`.
    pub fn get_or_insert_with(&mut self, tp: &TopicPartition, create: impl FnOnce() -> Partition) -> &mut Partition {
        let slot = self.slot(tp);
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
        &mut self.replicas.entry(tp.clone()).or_insert_with(|| Hosted { slot, replica: create() }).replica
    }

    /// Stops hosting `tp`, returning its replica; counts as a change to `tp`.
    pub fn remove(&mut self, tp: &TopicPartition) -> Option<Partition> {
        let hosted = self.replicas.remove(tp)?;
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(hosted.slot));
        Some(hosted.replica)
    }

    /// Records that what a fetch of `tp` reads changed (outside the replica, or through
    /// [`HostedPartitions::get_mut_unnoted`]).
    pub fn note_changed(&mut self, tp: &TopicPartition) {
        let slot = self.slot(tp);
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
    }

    /// Records that anything a fetch reads may have changed.
    fn note_everything_changed(&mut self) {
        Self::record(&mut self.changes, &mut self.next_change, Change::Everything);
    }

    /// The slot of `tp`, given now if it has none yet.
    pub fn slot(&mut self, tp: &TopicPartition) -> Slot {
        if let Some(slot) = self.slots.get(tp) {
            return *slot;
        }
        let next = Slot(self.slots.len() as u32);
        self.slots.insert(tp.clone(), next);
        next
    }

    /// The point of the record now: pass it to [`HostedPartitions::touched_since`] later.
    pub fn change_mark(&self) -> u64 {
        self.next_change
    }

    /// The partitions that may have changed since `mark`.
    pub fn touched_since(&self, mark: u64) -> Touched {
        let forgotten = mark < self.next_change && self.changes.front().is_none_or(|(oldest, _)| *oldest > mark);
        if forgotten {
            return Touched::Everything;
        }
        let start = self.changes.partition_point(|(seq, _)| *seq < mark);
        let mut touched = Vec::new();
        for (_, change) in self.changes.range(start..) {
            match change {
                Change::Partition(slot) => touched.push(*slot),
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
        let (slot_a, slot_b) = (hosted.slot(&a), hosted.slot(&b));
        assert_ne!(slot_a, slot_b);
        let mark = hosted.change_mark();
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![]));
        hosted.get(&b);
        hosted.get_mut(&a);
        hosted.get_mut_unnoted(&b);
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![slot_a]));
        hosted.note_changed(&b);
        assert_eq!(hosted.touched_since(mark), Touched::Only(vec![slot_a, slot_b]));
        let unhosted = TopicPartition::new("t", 2);
        let slot = hosted.slot(&unhosted);
        hosted.get_or_insert_with(&unhosted, || replica(&unhosted));
        assert_eq!(hosted.slot(&unhosted), slot, "a slot given before hosting is kept");
        let later = hosted.change_mark();
        assert_eq!(hosted.touched_since(later), Touched::Only(vec![]));
    }

    #[test]
    fn access_to_every_replica_and_forgotten_marks_mean_everything() {
        let a = TopicPartition::new("t", 0);
        let mut hosted = hosted(std::slice::from_ref(&a));
        let mark = hosted.change_mark();
        hosted.values_mut().for_each(drop);
        assert_eq!(hosted.touched_since(mark), Touched::Everything);
        let mark = hosted.change_mark();
        for _ in 0..=REMEMBERED_CHANGES {
            hosted.get_mut(&a);
        }
        assert_eq!(hosted.touched_since(mark), Touched::Everything, "the mark fell out of the record");
        let recent = hosted.change_mark() - 1;
        assert_eq!(hosted.touched_since(recent), Touched::Only(vec![hosted.slot(&a)]));
    }
}
