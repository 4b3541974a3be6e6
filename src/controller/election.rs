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

/// Kafka's `ControlledShutdownPartitionLeaderElectionStrategy`
/// (`Election.leaderForControlledShutdown` and
/// `PartitionLeaderElectionAlgorithms.controlledShutdownPartitionLeaderElection`): the
/// first replica in assignment order that is live, in the ISR and not shutting down
/// leads; the shutting-down brokers leave the ISR; the leader epoch is bumped. `None`
/// when no such replica exists: the partition keeps its leader, and the broker's
/// ControlledShutdown answer lists it as remaining.
pub fn controlled_shutdown_leader(
    state: &PartitionState,
    live: &BTreeSet<BrokerId>,
    shutting_down: &BTreeSet<BrokerId>,
) -> Option<Decision> {
    let leader =
        state.replicas.iter().find(|r| live.contains(r) && state.isr.contains(r) && !shutting_down.contains(r))?;
    let mut next = state.clone();
    next.leader = Some(*leader);
    next.leader_epoch += 1;
    next.isr = state.isr.iter().filter(|r| !shutting_down.contains(r)).copied().collect();
    Some(Decision { state: next, unclean: false, leader_changed: true })
}

/// The ISR change of a follower on a broker that shuts down under control (Kafka's
/// replica state machine moving the replica to `OfflineReplica`,
/// `ReplicaStateMachine.removeReplicasFromIsr`): the broker leaves the ISR and the leader
/// epoch is bumped; the leader stays. The last ISR member is never removed, as in Kafka.
/// `None` when the broker is not in the ISR.
pub fn remove_from_isr(state: &PartitionState, broker: BrokerId) -> Option<PartitionState> {
    if !state.isr.contains(&broker) || state.isr.len() == 1 {
        return None;
    }
    let mut next = state.clone();
    next.isr.retain(|r| *r != broker);
    next.leader_epoch += 1;
    Some(next)
}

/// Kafka's `PreferredReplicaPartitionLeaderElectionStrategy`
/// (`PartitionLeaderElectionAlgorithms.preferredReplicaPartitionLeaderElection`): the
/// first assigned replica leads if it is live and in the ISR; the ISR stays, the leader
/// epoch is bumped. `None` when it cannot lead or already does.
pub fn preferred_leader(state: &PartitionState, live: &BTreeSet<BrokerId>) -> Option<Decision> {
    let preferred = *state.replicas.first()?;
    if state.leader == Some(preferred) || !live.contains(&preferred) || !state.isr.contains(&preferred) {
        return None;
    }
    let mut next = state.clone();
    next.leader = Some(preferred);
    next.leader_epoch += 1;
    Some(Decision { state: next, unclean: false, leader_changed: true })
}

/// Kafka's `KafkaController.checkAndTriggerAutoLeaderRebalance`: for each preferred
/// broker (the first replica of an assignment), the share of its partitions led by
/// another broker (or by none) is its imbalance; when it is above
/// `leader.imbalance.per.broker.percentage`, those of its partitions whose preferred
/// replica is live and in the ISR (`canPreferredReplicaBeLeader`) get a preferred
/// election. Returns those partitions, in partition order.
pub fn imbalanced_partitions<'a>(
    partitions: impl IntoIterator<Item = &'a PartitionState>,
    live: &BTreeSet<BrokerId>,
    imbalance_percentage: u32,
) -> Vec<crate::protocol::TopicPartition> {
    let mut by_preferred: std::collections::BTreeMap<BrokerId, Vec<&PartitionState>> = Default::default();
    for state in partitions {
        if let Some(preferred) = state.replicas.first() {
            by_preferred.entry(*preferred).or_default().push(state);
        }
    }
    let mut out = Vec::new();
    for (broker, states) in by_preferred {
        let not_preferred: Vec<&&PartitionState> = states.iter().filter(|s| s.leader != Some(broker)).collect();
        let ratio = not_preferred.len() as f64 / states.len() as f64;
        if ratio > f64::from(imbalance_percentage) / 100.0 {
            out.extend(not_preferred.into_iter().filter(|s| preferred_leader(s, live).is_some()).map(|s| s.tp.clone()));
        }
    }
    out.sort();
    out
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
            topic_id: 1,
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

    #[test]
    fn controlled_shutdown_moves_leadership_to_the_next_live_isr_replica_and_drops_the_broker_from_the_isr() {
        let s = state(Some(1), &[1, 2, 3], &[1, 2, 3]);
        let shutting = live(&[1]);
        let d = controlled_shutdown_leader(&s, &live(&[1, 2, 3]), &shutting).unwrap();
        assert_eq!(d.state.leader, Some(BrokerId(2)));
        assert_eq!(d.state.isr, vec![BrokerId(2), BrokerId(3)]);
        assert_eq!(d.state.leader_epoch, 6);
        // A replica out of the ISR, or dead, or also shutting down, is passed over.
        let s = state(Some(1), &[1, 3], &[1, 2, 3]);
        assert_eq!(
            controlled_shutdown_leader(&s, &live(&[1, 2, 3]), &shutting).unwrap().state.leader,
            Some(BrokerId(3))
        );
        assert_eq!(controlled_shutdown_leader(&s, &live(&[1, 2]), &shutting), None);
        assert_eq!(controlled_shutdown_leader(&s, &live(&[1, 2, 3]), &live(&[1, 3])), None);
    }

    #[test]
    fn a_follower_shutting_down_leaves_the_isr_but_never_empties_it() {
        let s = state(Some(1), &[1, 2], &[1, 2, 3]);
        let next = remove_from_isr(&s, BrokerId(2)).unwrap();
        assert_eq!(next.isr, vec![BrokerId(1)]);
        assert_eq!(next.leader, Some(BrokerId(1)));
        assert_eq!(next.leader_epoch, 6);
        assert_eq!(remove_from_isr(&s, BrokerId(3)), None);
        assert_eq!(remove_from_isr(&state(Some(1), &[1], &[1, 2]), BrokerId(1)), None);
    }

    #[test]
    fn the_imbalance_check_elects_preferred_replicas_only_above_the_percentage_and_when_they_can_lead() {
        let part = |p: u32, leader: u32, isr: &[u32], replicas: &[u32]| PartitionState {
            tp: TopicPartition::new("t", p),
            ..state(Some(leader), isr, replicas)
        };
        // Broker 1 prefers partitions 0..4 and leads 2 of them: imbalance 50%.
        let partitions = vec![
            part(0, 1, &[1, 2], &[1, 2]),
            part(1, 1, &[1, 2], &[1, 2]),
            part(2, 2, &[1, 2], &[1, 2]),
            part(3, 2, &[2], &[1, 2]),
            part(4, 2, &[2, 1], &[2, 1]),
        ];
        let all = live(&[1, 2]);
        // Partition 3's preferred replica is out of the ISR: it is not elected.
        assert_eq!(imbalanced_partitions(&partitions, &all, 10), vec![TopicPartition::new("t", 2)]);
        // 50% is not above 50%.
        assert!(imbalanced_partitions(&partitions, &all, 50).is_empty());
        // A dead preferred replica cannot lead.
        assert!(imbalanced_partitions(&partitions, &live(&[2]), 10).is_empty());
        let d = preferred_leader(&partitions[2], &all).unwrap();
        assert_eq!(
            (d.state.leader, d.state.leader_epoch, d.state.isr.clone()),
            (Some(BrokerId(1)), 6, vec![BrokerId(1), BrokerId(2)])
        );
        assert_eq!(preferred_leader(&partitions[0], &all), None);
    }
}
