//! Resolving a fault's target phrase to node names at the moment it fires, from what the
//! trace tells of the cluster (never from a node's memory).

use super::Nemesis;
use crate::broker::coordinator::{offsets_partition_for, OFFSETS_TOPIC};
use crate::broker::txn::{txn_partition_for, TRANSACTION_TOPIC};
use crate::history::ClusterState;
use crate::protocol::{broker_name, broker_names, NodeId, NodeName, METASTORE};
use crate::scenario::Target;
use madsim::rand::{seq::SliceRandom, thread_rng};

impl Nemesis {
    /// Every broker's node name.
    pub(super) fn brokers(&self) -> Vec<String> {
        broker_names(self.size.brokers)
    }

    /// Every KRaft controller's node name (none in ZooKeeper mode).
    pub(super) fn controllers(&self) -> Vec<String> {
        (1..=self.size.controllers).map(|n| NodeName::controller(n).to_string()).collect()
    }

    /// The name of the partition of an internal topic (`__consumer_offsets`,
    /// `__transaction_state`) that `pick` chooses from the topic's partition count; `None`
    /// if the cluster has no such topic.
    fn internal_partition(&self, topic: &str, pick: impl FnOnce(u32) -> u32) -> Option<String> {
        let prefix = format!("{topic}-");
        let count = self.assignments.keys().filter(|tp| tp.starts_with(&prefix)).count() as u32;
        (count > 0).then(|| format!("{prefix}{}", pick(count)))
    }

    /// Resolves a target to node names, now: in combined mode with the nodes sharing
    /// their machines (a fault on `broker-1` is one on `controller-1` too, and back).
    pub fn resolve(&self, target: &Target, observation: &ClusterState) -> Vec<String> {
        self.size.machines().whole(self.resolve_nodes(target, observation))
    }

    /// The nodes a target names, now, each alone.
    fn resolve_nodes(&self, target: &Target, observation: &ClusterState) -> Vec<String> {
        let broker = broker_name;
        let partition = |tp: &str| observation.partition(tp).filter(|p| p.created);
        let leader_of = |tp: &str| partition(tp).and_then(|p| p.leader).map(broker);
        let active_controller = || {
            let leader = observation.quorum_leader().map(|l| NodeName::of_kraft_node(NodeId(l.controller)).to_string());
            leader.into_iter().collect::<Vec<String>>()
        };
        match target {
            Target::Node(name) => vec![name.clone()],
            Target::Controller if self.size.controllers > 0 => active_controller(),
            Target::Controller => observation.controller().map(|c| broker(c.broker)).into_iter().collect(),
            Target::ActiveController => active_controller(),
            Target::AController => self.controllers().choose(&mut thread_rng()).cloned().into_iter().collect(),
            Target::AFollowerController => {
                let active = active_controller();
                let followers: Vec<String> = self.controllers().into_iter().filter(|c| !active.contains(c)).collect();
                followers.choose(&mut thread_rng()).cloned().into_iter().collect()
            }
            Target::MajorityOfControllers => {
                // The active controller and, drawn from the seed, others up to a majority.
                let mut chosen = active_controller();
                let mut others: Vec<String> = self.controllers().into_iter().filter(|c| !chosen.contains(c)).collect();
                others.shuffle(&mut thread_rng());
                let majority = self.size.controllers as usize / 2 + 1;
                chosen.extend(others.into_iter().take(majority.saturating_sub(chosen.len())));
                chosen
            }
            Target::AllControllers => self.controllers(),
            Target::LeaderOf(tp) => leader_of(tp).into_iter().collect(),
            Target::CoordinatorOf(group) => {
                let partition = self.internal_partition(OFFSETS_TOPIC, |count| offsets_partition_for(group, count));
                partition.and_then(|tp| leader_of(&tp)).into_iter().collect()
            }
            Target::TransactionCoordinatorOf(producer) => {
                let Some(id) = self.transactional_ids.get(producer) else { return Vec::new() };
                let partition = self.internal_partition(TRANSACTION_TOPIC, |count| txn_partition_for(id, count));
                partition.and_then(|tp| leader_of(&tp)).into_iter().collect()
            }
            Target::FollowersOf(tp) | Target::AFollowerOf(tp) => {
                let Some(partition) = partition(tp) else {
                    return Vec::new();
                };
                let mut followers: Vec<String> =
                    self.replicas_of(tp).into_iter().filter(|b| Some(*b) != partition.leader).map(broker).collect();
                if matches!(target, Target::AFollowerOf(_)) {
                    followers.shuffle(&mut thread_rng());
                    followers.truncate(1);
                }
                followers
            }
            Target::RandomBroker => self.brokers().choose(&mut thread_rng()).cloned().into_iter().collect(),
            Target::AllBrokers => self.brokers(),
            Target::ReplicasOf(tp) => self.replicas_of(tp).into_iter().map(broker).collect(),
            Target::Cluster => {
                let mut names = self.brokers();
                if self.size.controllers > 0 {
                    names.extend(self.controllers());
                } else {
                    names.push(METASTORE.to_string());
                }
                names
            }
            Target::Crashed => self.nodes.lock().expect("nodes poisoned").down(),
            Target::Paused => self.nodes.lock().expect("nodes poisoned").paused(),
            Target::Everyone => self.nodes.lock().expect("nodes poisoned").names(),
        }
    }

    /// Both sides of a link fault: `target` and `peers` (the rest of `peers` when they
    /// overlap), resolved now.
    pub(super) fn sides(
        &self,
        target: &Target,
        peers: &Target,
        observation: &ClusterState,
    ) -> (Vec<String>, Vec<String>) {
        let side_a = self.resolve(target, observation);
        let side_b = self.resolve(peers, observation).into_iter().filter(|n| !side_a.contains(n)).collect();
        (side_a, side_b)
    }

    /// The assigned replicas of a partition (the administrator's assignment).
    fn replicas_of(&self, tp: &str) -> Vec<u32> {
        self.assignments.get(tp).cloned().unwrap_or_default()
    }
}
