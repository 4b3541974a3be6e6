//! The replicas a broker hosts, with a record of which ones may have changed.
//!
//! A fetch long-poll and an acks=all produce wait for changes to their partitions. The
//! record of changes tells [`HostedPartitions::wake_watchers`] whose watches to wake
//! (see [`super::purgatory`]: Kafka's purgatory keys each delayed operation by its
//! partitions, `TopicPartitionOperationKey`), and a woken fetch learns from
//! [`HostedPartitions::touched_since`] which partitions were handed out for mutation
//! since its last read and re-reads only those of its own; an untouched partition would
//! read the same as before.
//!
//! The record is conservative, which is what keeps it exact: every mutable access
//! counts as a change whether or not it changed anything, and an access that can reach
//! any partition (`values_mut`, `entry`, a removal) counts as a change to all of them.
//!
//! The replicas are stored by slot, so a fetch that resolved its partitions' slots once
//! reaches each replica by index at every read instead of searching by name (a follower
//! fetch names dozens of partitions, and is read again at every change).

use super::partition::Partition;
use super::purgatory::{Watch, Watchers};
use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// How many recent changes are remembered. A fetch that last read before the oldest of
/// them re-reads everything, so the bound costs only a re-read.
const REMEMBERED_CHANGES: usize = 4_096;

/// A partition's number on this broker: given the first time the partition is seen and
/// kept for good, so that a change record compares integers, not names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot(u32);

impl Slot {
    /// The slot's number, from 0 in first-seen order: an index for per-slot vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The slot numbered `index`, for tests of per-slot structures.
    #[cfg(test)]
    pub fn for_tests(index: u32) -> Self {
        Slot(index)
    }
}

/// The slots of one topic's partitions, by partition number.
#[derive(Default)]
struct TopicSlots {
    /// The slots of partitions numbered below [`TopicSlots::DENSE`], by number.
    dense: Vec<Option<Slot>>,
    /// The slots of higher-numbered partitions (a request may name any number; a
    /// vector indexed by it could be made to take gigabytes).
    sparse: BTreeMap<u32, Slot>,
}

impl TopicSlots {
    /// Partition numbers below this are kept in a vector.
    const DENSE: u32 = 1 << 16;

    fn get(&self, partition: u32) -> Option<Slot> {
        match partition < Self::DENSE {
            true => self.dense.get(partition as usize).copied().flatten(),
            false => self.sparse.get(&partition).copied(),
        }
    }

    fn insert(&mut self, partition: u32, slot: Slot) {
        if partition >= Self::DENSE {
            self.sparse.insert(partition, slot);
            return;
        }
        let at = partition as usize;
        if self.dense.len() <= at {
            self.dense.resize(at + 1, None);
        }
        self.dense[at] = Some(slot);
    }
}

/// One entry of the change record.
#[derive(Clone, Copy, Debug)]
enum Change {
    /// One partition was handed out for mutation (or its cached metadata changed).
    Partition(Slot),
    /// Anything may have changed.
    Everything,
}

/// What changed since a given point of the record.
pub enum Touched<'a> {
    /// Anything may have changed: read everything again.
    Everything,
    /// Only these partitions may have changed (possibly with repeats).
    Only(TouchedSlots<'a>),
}

/// The slots of the partitions that may have changed, read off the change record
/// (a fetch asks after every change on its broker: collecting them cost an allocation
/// each time).
pub struct TouchedSlots<'a>(std::collections::vec_deque::Iter<'a, (u64, Change)>);

impl Iterator for TouchedSlots<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        self.0.find_map(|(_, change)| match change {
            Change::Partition(slot) => Some(*slot),
            Change::Everything => None,
        })
    }
}

/// The replicas hosted by a broker, by slot, with the change record.
#[derive(Default)]
pub struct HostedPartitions {
    /// The replica of each slot, if hosted here (indexed by the slot's number): `Some`
    /// exactly for the slots in `hosted`.
    replicas: Vec<Option<Partition>>,
    /// The hosted partitions' slots, in partition order (a broker sees many more
    /// partitions than it hosts: iterating over `slots` would visit them all).
    hosted: BTreeMap<TopicPartition, Slot>,
    /// Every partition's slot, hosted or not, once seen: by topic, then by partition
    /// number. A fetch looks up every partition it names, and a follower fetch names
    /// hundreds: one topic comparison per lookup, then an index, instead of comparing
    /// the topic at every step of a search over thousands of partitions.
    slots: BTreeMap<Arc<str>, TopicSlots>,
    /// The most recent changes, oldest first, each with its sequence number.
    changes: VecDeque<(u64, Change)>,
    /// The sequence number the next change gets.
    next_change: u64,
    /// The waiting requests' watches, by the slots they watch.
    watchers: Watchers,
    /// The point of the record up to which the watches of changed slots were woken.
    woken_through: u64,
}

impl HostedPartitions {
    /// The replica of `tp`, if hosted here.
    pub fn get(&self, tp: &TopicPartition) -> Option<&Partition> {
        self.by_slot(*self.hosted.get(tp)?)
    }

    /// The replica of `slot`, if hosted here.
    pub fn by_slot(&self, slot: Slot) -> Option<&Partition> {
        self.replicas.get(slot.0 as usize)?.as_ref()
    }

    /// The hosted replicas in partition order.
    pub fn iter(&self) -> impl Iterator<Item = (&TopicPartition, &Partition)> {
        self.hosted.iter().filter_map(|(tp, slot)| Some((tp, self.by_slot(*slot)?)))
    }

    /// The hosted replicas with their slots, in partition order.
    pub fn with_slots(&self) -> impl Iterator<Item = (Slot, &Partition)> {
        self.hosted.values().filter_map(|&slot| Some((slot, self.by_slot(slot)?)))
    }

    /// The hosted replicas' states in partition order.
    pub fn values(&self) -> impl Iterator<Item = &Partition> {
        self.iter().map(|(_, replica)| replica)
    }

    /// The replica of `tp` for mutation; counts as a change to `tp`.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        let slot = *self.hosted.get(tp)?;
        let replica = self.replicas[slot.0 as usize].as_mut()?;
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
        Some(replica)
    }

    /// The replica of `slot` for a mutation that changes nothing a fetch reads, without
    /// counting as a change: the caller must call [`HostedPartitions::note_slot_changed`]
    /// if it moved what a fetch reads. Two callers use it, each for bookkeeping that would
    /// otherwise wake every fetch of its partitions for nothing:
    /// - the leader's record of a follower fetch (what a fetch reads moves only with the
    ///   high watermark, which the caller notes);
    /// - the follower's application of a fetch response: a fetch of a partition this
    ///   broker follows answers NOT_LEADER_OR_FOLLOWER whatever its log holds, and the
    ///   response changes neither the replica's role nor its topic id.
    pub fn by_slot_mut_unnoted(&mut self, slot: Slot) -> Option<&mut Partition> {
        self.replicas.get_mut(slot.0 as usize)?.as_mut()
    }

    /// Every replica for mutation, in partition order; counts as a change to all of them.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Partition> {
        self.note_everything_changed();
        // Slots are handed out in first-seen order: visit them in partition order, as
        // callers that trace what they change expect.
        let order: Vec<usize> = self.hosted.values().map(|slot| slot.0 as usize).collect();
        let mut by_slot: Vec<Option<&mut Partition>> = self.replicas.iter_mut().map(Option::as_mut).collect();
        order.into_iter().filter_map(move |at| by_slot[at].take())
    }

    /// The replica of `tp`, created with `create` when not hosted yet; counts as a
    /// change to `tp`.
    pub fn get_or_insert_with(&mut self, tp: &TopicPartition, create: impl FnOnce() -> Partition) -> &mut Partition {
        let slot = self.slot(tp);
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
        if !self.hosted.contains_key(tp) {
            self.hosted.insert(tp.clone(), slot);
        }
        self.replicas[slot.0 as usize].get_or_insert_with(create)
    }

    /// Stops hosting `tp`, returning its replica; counts as a change to `tp`.
    pub fn remove(&mut self, tp: &TopicPartition) -> Option<Partition> {
        let slot = self.hosted.remove(tp)?;
        let replica = self.replicas[slot.0 as usize].take()?;
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
        Some(replica)
    }

    /// Records that what a fetch of `tp` reads changed (outside the replica, or through
    /// [`HostedPartitions::by_slot_mut_unnoted`]).
    pub fn note_changed(&mut self, tp: &TopicPartition) {
        let slot = self.slot(tp);
        self.note_slot_changed(slot);
    }

    /// [`HostedPartitions::note_changed`] for a partition known by its slot.
    pub fn note_slot_changed(&mut self, slot: Slot) {
        Self::record(&mut self.changes, &mut self.next_change, Change::Partition(slot));
    }

    /// Records that anything a fetch reads may have changed.
    fn note_everything_changed(&mut self) {
        Self::record(&mut self.changes, &mut self.next_change, Change::Everything);
    }

    /// The slot of `tp`, given now if it has none yet.
    pub fn slot(&mut self, tp: &TopicPartition) -> Slot {
        if let Some(slot) = self.slots.get(&*tp.topic).and_then(|partitions| partitions.get(tp.partition)) {
            return slot;
        }
        // Slots are numbered in first-seen order, as indexes into `replicas`.
        let next = Slot(self.replicas.len() as u32);
        self.slots.entry(tp.topic.clone()).or_default().insert(tp.partition, next);
        self.replicas.push(None);
        next
    }

    /// The point of the record now: pass it to [`HostedPartitions::touched_since`] later.
    pub fn change_mark(&self) -> u64 {
        self.next_change
    }

    /// The partitions that may have changed since `mark`.
    pub fn touched_since(&self, mark: u64) -> Touched<'_> {
        touched_since(&self.changes, self.next_change, mark)
    }

    /// A watch for a waiting request, woken by [`HostedPartitions::wake_watchers`] after
    /// a change to any of `slots`.
    pub fn watch(&mut self, slots: impl IntoIterator<Item = Slot>) -> Watch {
        self.watchers.watch(slots)
    }

    /// Wakes the watches of the partitions changed since the last call (every watch if
    /// anything may have changed): Kafka's `DelayedOperationPurgatory.checkAndComplete`
    /// for each changed partition's key.
    pub fn wake_watchers(&mut self) {
        match touched_since(&self.changes, self.next_change, self.woken_through) {
            Touched::Everything => self.watchers.wake_all(),
            Touched::Only(slots) => slots.for_each(|slot| self.watchers.wake(slot)),
        }
        self.woken_through = self.next_change;
    }

    fn record(changes: &mut VecDeque<(u64, Change)>, next_change: &mut u64, change: Change) {
        if changes.len() == REMEMBERED_CHANGES {
            changes.pop_front();
        }
        changes.push_back((*next_change, change));
        *next_change += 1;
    }
}

/// The partitions of a change record that may have changed since `mark`.
fn touched_since(changes: &VecDeque<(u64, Change)>, next_change: u64, mark: u64) -> Touched<'_> {
    let forgotten = mark < next_change && changes.front().is_none_or(|(oldest, _)| *oldest > mark);
    if forgotten {
        return Touched::Everything;
    }
    // The record's sequence numbers are consecutive: `mark` is at its distance from the
    // oldest one (or past the end).
    let start = changes.front().map_or(0, |(oldest, _)| mark.saturating_sub(*oldest) as usize);
    let since = changes.range(start.min(changes.len())..);
    if since.clone().any(|(_, change)| matches!(change, Change::Everything)) {
        return Touched::Everything;
    }
    Touched::Only(TouchedSlots(since))
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

    /// The touched slots since `mark`, `None` for everything.
    fn touched(hosted: &HostedPartitions, mark: u64) -> Option<Vec<Slot>> {
        match hosted.touched_since(mark) {
            Touched::Everything => None,
            Touched::Only(slots) => Some(slots.collect()),
        }
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
        assert_eq!(touched(&hosted, mark), Some(vec![]));
        hosted.get(&b);
        hosted.get_mut(&a);
        hosted.by_slot_mut_unnoted(slot_b);
        assert_eq!(touched(&hosted, mark), Some(vec![slot_a]));
        hosted.note_changed(&b);
        assert_eq!(touched(&hosted, mark), Some(vec![slot_a, slot_b]));
        let unhosted = TopicPartition::new("t", 2);
        let slot = hosted.slot(&unhosted);
        hosted.get_or_insert_with(&unhosted, || replica(&unhosted));
        assert_eq!(hosted.slot(&unhosted), slot, "a slot given before hosting is kept");
        let later = hosted.change_mark();
        assert_eq!(touched(&hosted, later), Some(vec![]));
    }

    #[test]
    fn access_to_every_replica_and_forgotten_marks_mean_everything() {
        let a = TopicPartition::new("t", 0);
        let mut hosted = hosted(std::slice::from_ref(&a));
        let mark = hosted.change_mark();
        hosted.values_mut().for_each(drop);
        assert_eq!(touched(&hosted, mark), None);
        let mark = hosted.change_mark();
        for _ in 0..=REMEMBERED_CHANGES {
            hosted.get_mut(&a);
        }
        assert_eq!(touched(&hosted, mark), None, "the mark fell out of the record");
        let recent = hosted.change_mark() - 1;
        assert_eq!(touched(&hosted, recent), Some(vec![hosted.slot(&a)]));
    }

    #[test]
    fn replicas_are_reached_by_slot_and_listed_in_partition_order() {
        let (a, b, c) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1), TopicPartition::new("t", 2));
        let mut hosted = HostedPartitions::default();
        // Slots in first-seen order (c, a, b), one partition seen but never hosted (b).
        let slot_c = hosted.slot(&c);
        hosted.get_or_insert_with(&a, || replica(&a));
        let slot_b = hosted.slot(&b);
        hosted.get_or_insert_with(&c, || replica(&c));
        let listed: Vec<&TopicPartition> = hosted.iter().map(|(tp, _)| tp).collect();
        assert_eq!(listed, [&a, &c], "hosted ones only, in partition order");
        let by_value: Vec<&TopicPartition> = hosted.values().map(Partition::tp).collect();
        assert_eq!(by_value, [&a, &c]);
        let mutable: Vec<TopicPartition> = hosted.values_mut().map(|p| p.tp().clone()).collect();
        assert_eq!(mutable, [a.clone(), c.clone()]);
        let with_slots: Vec<Slot> = hosted.with_slots().map(|(slot, _)| slot).collect();
        assert_eq!(with_slots, [hosted.slot(&a), slot_c]);
        assert_eq!(hosted.by_slot(slot_c).map(Partition::tp), Some(&c));
        assert!(hosted.by_slot(slot_b).is_none() && hosted.get(&b).is_none());
        assert!(hosted.by_slot_mut_unnoted(slot_c).is_some());
        // Removing stops hosting; hosting again reuses the slot.
        assert!(hosted.remove(&c).is_some());
        assert!(hosted.by_slot(slot_c).is_none() && hosted.get(&c).is_none());
        assert_eq!(hosted.iter().count(), 1);
        hosted.get_or_insert_with(&c, || replica(&c));
        assert_eq!(hosted.slot(&c), slot_c);
        assert_eq!(hosted.get(&c).map(Partition::tp), Some(&c));
    }

    #[test]
    fn slots_of_any_partition_number_are_kept_apart_per_topic() {
        let mut hosted = HostedPartitions::default();
        let names = [("t", 0), ("t", 5), ("u", 5), ("t", u32::MAX), ("t", TopicSlots::DENSE)];
        let tps: Vec<TopicPartition> = names.iter().map(|&(topic, p)| TopicPartition::new(topic, p)).collect();
        let slots: Vec<Slot> = tps.iter().map(|tp| hosted.slot(tp)).collect();
        assert_eq!(slots, (0..5).map(Slot).collect::<Vec<_>>(), "numbered in first-seen order");
        let again: Vec<Slot> = tps.iter().rev().map(|tp| hosted.slot(tp)).collect();
        assert_eq!(again, (0..5).rev().map(Slot).collect::<Vec<_>>(), "and kept");
    }
}
