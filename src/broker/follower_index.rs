//! Which hosted replicas follow which leader, kept up to date from the change record of
//! [`HostedPartitions`].
//!
//! A fetcher asks at every round for the partitions it follows on its leader. Scanning
//! every hosted replica for that visited a few hundred replicas per round where
//! partitions are many (a tenth of a 2,000-partition run went there); Kafka's fetcher
//! threads keep their own partition sets, changed only when a replica becomes leader
//! or follower (`AbstractFetcherThread.partitionStates`, `addPartitions` and
//! `removePartitions`). Here the index re-reads only the replicas the change record says
//! may have changed since its last look, so it answers exactly what the scan would (a
//! debug build checks that at every look).

use super::hosted::{HostedPartitions, Slot, Touched};
use super::partition::Partition;
use crate::protocol::{BrokerId, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// The followed replicas by leader, as of a point of the change record.
#[derive(Default)]
pub struct FollowerIndex {
    /// The change record's mark the index is up to date with; `None` before the first
    /// look.
    mark: Option<u64>,
    /// Each slot's followed leader and partition as last seen, by slot number.
    leader_of: Vec<Option<(BrokerId, TopicPartition)>>,
    /// The followed replicas' slots by leader, in partition order.
    by_leader: BTreeMap<BrokerId, BTreeMap<TopicPartition, Slot>>,
}

impl FollowerIndex {
    /// The replicas in `hosted` that follow `leader`, with their slots, in partition
    /// order (what `hosted.with_slots()` filtered by [`Partition::followed_leader`]
    /// lists).
    pub fn followed_on<'a>(
        &'a mut self,
        hosted: &'a HostedPartitions,
        leader: BrokerId,
    ) -> impl Iterator<Item = (Slot, &'a Partition)> + 'a {
        self.catch_up(hosted);
        debug_assert_eq!(
            self.by_leader.get(&leader).map(|slots| slots.values().copied().collect::<Vec<_>>()).unwrap_or_default(),
            hosted
                .with_slots()
                .filter(|(_, p)| p.followed_leader() == Some(leader))
                .map(|(slot, _)| slot)
                .collect::<Vec<_>>(),
            "the follower index of leader {leader}"
        );
        self.by_leader
            .get(&leader)
            .into_iter()
            .flat_map(|slots| slots.values())
            .filter_map(|&slot| Some((slot, hosted.by_slot(slot)?)))
    }

    /// The leaders some replica in `hosted` follows, in order.
    pub fn leaders(&mut self, hosted: &HostedPartitions) -> Vec<BrokerId> {
        self.catch_up(hosted);
        let leaders: Vec<BrokerId> = self.by_leader.keys().copied().collect();
        debug_assert_eq!(
            leaders,
            hosted
                .values()
                .filter_map(Partition::followed_leader)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
            "the followed leaders"
        );
        leaders
    }

    /// Re-reads the replicas that may have changed since the last look.
    fn catch_up(&mut self, hosted: &HostedPartitions) {
        match self.mark.map(|mark| hosted.touched_since(mark)) {
            None | Some(Touched::Everything) => {
                self.leader_of.clear();
                self.by_leader.clear();
                for (slot, replica) in hosted.with_slots() {
                    self.update(slot, Some(replica));
                }
            }
            Some(Touched::Only(touched)) => {
                for slot in touched {
                    self.update(slot, hosted.by_slot(slot));
                }
            }
        }
        self.mark = Some(hosted.change_mark());
    }

    /// Files `slot` under the leader `replica` now follows, if it changed.
    fn update(&mut self, slot: Slot, replica: Option<&Partition>) {
        let at = slot.index();
        if self.leader_of.len() <= at {
            self.leader_of.resize(at + 1, None);
        }
        let now = replica.and_then(|r| Some((r.followed_leader()?, r)));
        let unchanged = match (&self.leader_of[at], now) {
            (Some((was, tp)), Some((leader, r))) => *was == leader && tp == r.tp(),
            (None, None) => true,
            _ => false,
        };
        if unchanged {
            return;
        }
        if let Some((was, tp)) = self.leader_of[at].take() {
            let slots = self.by_leader.get_mut(&was).expect("an indexed leader has an entry");
            slots.remove(&tp);
            if slots.is_empty() {
                self.by_leader.remove(&was);
            }
        }
        if let Some((leader, replica)) = now {
            self.by_leader.entry(leader).or_default().insert(replica.tp().clone(), slot);
            self.leader_of[at] = Some((leader, replica.tp().clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::log::PartitionLog;
    use crate::broker::partition::HighWatermarkRule;
    use crate::history::Recorder;
    use crate::protocol::PartitionState;
    use crate::sim::disk::DiskStore;

    const ME: BrokerId = BrokerId(1);

    fn replica(tp: &TopicPartition) -> Partition {
        let log = PartitionLog::load(tp.clone(), DiskStore::new().disk("b1"));
        Partition::new(log, 0, HighWatermarkRule::FOLLOW_ISR)
    }

    fn state(tp: &TopicPartition, leader: BrokerId) -> PartitionState {
        PartitionState {
            tp: tp.clone(),
            leader: Some(leader),
            leader_epoch: 1,
            isr: vec![ME, BrokerId(2), BrokerId(3)],
            replicas: vec![ME, BrokerId(2), BrokerId(3)],
            partition_epoch: 0,
            topic_id: 1,
        }
    }

    fn followed(index: &mut FollowerIndex, hosted: &HostedPartitions, leader: u32) -> Vec<TopicPartition> {
        index.followed_on(hosted, BrokerId(leader)).map(|(_, p)| p.tp().clone()).collect()
    }

    #[test]
    fn follows_role_changes_removals_and_rebuilds_in_partition_order() {
        madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let tracer = Recorder::new().tracer("broker-1");
            let tps: Vec<TopicPartition> = (0..4).rev().map(|p| TopicPartition::new("t", p)).collect();
            let mut hosted = HostedPartitions::default();
            let mut index = FollowerIndex::default();
            // Hosted in reverse order: listed in partition order all the same.
            for tp in &tps {
                let leader = BrokerId(2 + tp.partition % 2);
                hosted.get_or_insert_with(tp, || replica(tp)).become_follower(ME, &state(tp, leader), true, &tracer);
            }
            let t = |p| TopicPartition::new("t", p);
            assert_eq!(followed(&mut index, &hosted, 2), [t(0), t(2)]);
            assert_eq!(followed(&mut index, &hosted, 3), [t(1), t(3)]);
            // A follower of 2 now follows 3; another becomes leader; one is removed.
            hosted.get_mut(&t(2)).expect("hosted").become_follower(ME, &state(&t(2), BrokerId(3)), true, &tracer);
            let now = madsim::time::Instant::now();
            hosted.get_mut(&t(1)).expect("hosted").become_leader(ME, &state(&t(1), ME), now, &tracer);
            hosted.remove(&t(3));
            assert_eq!(followed(&mut index, &hosted, 2), [t(0)]);
            assert_eq!(followed(&mut index, &hosted, 3), [t(2)]);
            assert_eq!(followed(&mut index, &hosted, 1), Vec::<TopicPartition>::new());
            assert_eq!(index.leaders(&hosted), [BrokerId(2), BrokerId(3)]);
            // Every replica touched at once: the index is built again.
            for replica in hosted.values_mut() {
                let tp = replica.tp().clone();
                replica.become_follower(ME, &state(&tp, BrokerId(2)), false, &tracer);
            }
            assert_eq!(followed(&mut index, &hosted, 2), [t(0), t(1), t(2)]);
            assert_eq!(followed(&mut index, &hosted, 3), Vec::<TopicPartition>::new());
            assert_eq!(index.leaders(&hosted), [BrokerId(2)]);
        });
    }
}
