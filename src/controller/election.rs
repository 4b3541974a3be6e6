//! The controller's decisions as pure functions: who leads a partition and what its ISR
//! becomes when brokers die or return. Kafka's `PartitionLeaderElectionAlgorithms`.

use crate::protocol::{BrokerId, PartitionState};
use std::collections::BTreeSet;

/// The outcome of re-evaluating one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The partition's new state (leader epoch bumped when the leader or ISR changed).
    pub state: PartitionState,
    /// Whether the leader was elected from outside the ISR.
    pub unclean: bool,
    /// Whether the leader changed (rather than only the ISR).
    pub leader_changed: bool,
}

/// Kafka's offline-partition election: the first live replica, in assignment order,
/// that is in the ISR; if none and unclean election is allowed, the first live replica.
/// Returns the leader and whether the election was unclean.
pub fn elect_leader(
    state: &PartitionState,
    live: &BTreeSet<BrokerId>,
    unclean_allowed: bool,
) -> Option<(BrokerId, bool)> {
    let clean = state.replicas.iter().find(|r| live.contains(r) && state.isr.contains(r));
    if let Some(leader) = clean {
        return Some((*leader, false));
    }
    if unclean_allowed {
        return state.replicas.iter().find(|r| live.contains(r)).map(|r| (*r, true));
    }
    None
}

/// Re-evaluates a partition against the live brokers: elects a leader if the current
/// one is dead (or absent), and removes dead replicas from the ISR. `None` means nothing
/// changes. As in Kafka, an offline partition keeps its last ISR, so that the last
/// in-sync replica can lead again when it returns.
pub fn reevaluate(state: &PartitionState, live: &BTreeSet<BrokerId>, unclean_allowed: bool) -> Option<Decision> {
    let leader_alive = state.leader.is_some_and(|l| live.contains(&l));
    if leader_alive {
        let isr: Vec<BrokerId> = state.isr.iter().filter(|b| live.contains(b)).copied().collect();
        if isr == state.isr {
            return None;
        }
        let mut next = state.clone();
        next.isr = isr;
        next.leader_epoch += 1;
        return Some(Decision { state: next, unclean: false, leader_changed: false });
    }
    match elect_leader(state, live, unclean_allowed) {
        Some((leader, unclean)) => {
            let mut next = state.clone();
            next.leader = Some(leader);
            next.leader_epoch += 1;
            next.isr =
                if unclean { vec![leader] } else { state.isr.iter().filter(|b| live.contains(b)).copied().collect() };
            Some(Decision { state: next, unclean, leader_changed: true })
        }
        None if state.leader.is_some() => {
            // No eligible replica: the partition goes offline, keeping its ISR.
            let mut next = state.clone();
            next.leader = None;
            next.leader_epoch += 1;
            Some(Decision { state: next, unclean: false, leader_changed: true })
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicPartition;

    fn state(leader: Option<u32>, isr: &[u32], replicas: &[u32]) -> PartitionState {
        PartitionState {
            tp: TopicPartition::new("t", 0),
            leader: leader.map(BrokerId),
            leader_epoch: 5,
            isr: isr.iter().copied().map(BrokerId).collect(),
            replicas: replicas.iter().copied().map(BrokerId).collect(),
            partition_epoch: 0,
        }
    }

    fn live(ids: &[u32]) -> BTreeSet<BrokerId> {
        ids.iter().copied().map(BrokerId).collect()
    }

    #[test]
    fn the_first_live_isr_replica_in_assignment_order_leads() {
        let s = state(Some(1), &[3, 1, 2], &[1, 2, 3]);
        let decision = reevaluate(&s, &live(&[2, 3]), false).unwrap();
        assert_eq!(decision.state.leader, Some(BrokerId(2)));
        assert_eq!(decision.state.leader_epoch, 6);
        assert_eq!(decision.state.isr, vec![BrokerId(3), BrokerId(2)]);
        assert!(!decision.unclean);
    }

    #[test]
    fn without_a_live_isr_member_the_partition_goes_offline_unless_unclean_is_allowed() {
        let s = state(Some(1), &[1], &[1, 2, 3]);
        let offline = reevaluate(&s, &live(&[2, 3]), false).unwrap();
        assert_eq!(offline.state.leader, None);
        assert_eq!(offline.state.isr, vec![BrokerId(1)]);
        let unclean = reevaluate(&s, &live(&[2, 3]), true).unwrap();
        assert_eq!(unclean.state.leader, Some(BrokerId(2)));
        assert_eq!(unclean.state.isr, vec![BrokerId(2)]);
        assert!(unclean.unclean);
    }

    #[test]
    fn a_dead_follower_leaves_the_isr_and_bumps_the_epoch() {
        let s = state(Some(1), &[1, 2, 3], &[1, 2, 3]);
        let decision = reevaluate(&s, &live(&[1, 2]), false).unwrap();
        assert_eq!(decision.state.leader, Some(BrokerId(1)));
        assert_eq!(decision.state.isr, vec![BrokerId(1), BrokerId(2)]);
        assert!(!decision.leader_changed);
        assert_eq!(reevaluate(&decision.state, &live(&[1, 2]), false), None);
    }

    #[test]
    fn an_offline_partition_comes_back_when_its_last_isr_member_returns() {
        let s = state(None, &[1], &[1, 2]);
        assert_eq!(reevaluate(&s, &live(&[2]), false), None);
        let back = reevaluate(&s, &live(&[1, 2]), false).unwrap();
        assert_eq!(back.state.leader, Some(BrokerId(1)));
    }
}
