//! How a consumer-protocol group member moves towards its target assignment (KIP-848):
//! Kafka 4.0's `CurrentAssignmentBuilder` (group-coordinator module,
//! `modern/consumer/CurrentAssignmentBuilder.java`), run by the group coordinator on
//! every ConsumerGroupHeartbeat of a member that is not yet reconciled to the target.
//!
//! A member never holds a partition another member still holds: partitions the target
//! takes away are first *pending revocation* (the member keeps its epoch, so its commits
//! of them still validate, until a heartbeat's owned partitions no longer list them);
//! partitions the target adds are handed over only once no member holds them (until then
//! they are *unreleased*). The member's epoch reaches the target epoch as soon as it holds
//! nothing outside its target. See `docs/design/kip848-consumer-protocol.md`.
//!
//! Simplified: Kafka's `UNKNOWN` state (a coordinator downgraded below a release that
//! added states) cannot occur in kafkasim and is not modelled.

use crate::protocol::TopicPartition;
use std::collections::BTreeSet;

/// Where a member stands in its reconciliation (Kafka's `MemberState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberState {
    /// Reconciled to the epoch it holds.
    Stable,
    /// Waiting for the member to revoke partitions pending revocation.
    UnrevokedPartitions,
    /// At the target epoch, waiting for partitions other members still hold.
    UnreleasedPartitions,
}

/// A member's current assignment as the coordinator keeps it (Kafka's
/// `ConsumerGroupMember` fields that reconciliation reads and writes; persisted as the
/// ConsumerGroupCurrentMemberAssignment record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAssignment {
    /// The reconciliation state.
    pub state: MemberState,
    /// The member epoch (0 while joining).
    pub epoch: u32,
    /// The epoch before the last update (`None`: Kafka's -1, a member never updated).
    pub previous_epoch: Option<u32>,
    /// The partitions the member may use.
    pub assigned: BTreeSet<TopicPartition>,
    /// The partitions it must revoke before it moves on.
    pub pending_revocation: BTreeSet<TopicPartition>,
}

impl MemberAssignment {
    /// A member that just joined: epoch 0, nothing assigned (Kafka's new
    /// `ConsumerGroupMember.Builder`).
    pub fn joining() -> Self {
        MemberAssignment {
            state: MemberState::Stable,
            epoch: 0,
            previous_epoch: None,
            assigned: BTreeSet::new(),
            pending_revocation: BTreeSet::new(),
        }
    }

    /// Whether the member is reconciled to `target_epoch` (Kafka's `isReconciledTo`).
    pub fn is_reconciled_to(&self, target_epoch: u32) -> bool {
        self.state == MemberState::Stable && self.epoch == target_epoch
    }

    /// A copy in `state` at `epoch` (Kafka's `updateMemberEpoch`: the previous epoch
    /// becomes the current one).
    fn moved(&self, state: MemberState, epoch: u32, assigned: BTreeSet<TopicPartition>) -> Self {
        MemberAssignment {
            state,
            epoch,
            previous_epoch: Some(self.epoch),
            assigned,
            pending_revocation: BTreeSet::new(),
        }
    }
}

/// What the coordinator reconciles a member against.
pub struct Reconciliation<'a, F: Fn(&TopicPartition) -> bool> {
    /// The target assignment's epoch.
    pub target_epoch: u32,
    /// The member's target partitions.
    pub target: &'a BTreeSet<TopicPartition>,
    /// The partitions the member's heartbeat says it owns (`None` when the heartbeat
    /// left them out, which never acknowledges a revocation).
    pub owned: Option<&'a BTreeSet<TopicPartition>>,
    /// Whether some member of the group (this one included) holds the partition, as
    /// assigned or pending revocation (Kafka's `currentPartitionEpoch != -1`).
    pub held: F,
}

impl<F: Fn(&TopicPartition) -> bool> Reconciliation<'_, F> {
    /// The member's next state (Kafka's `CurrentAssignmentBuilder.build`).
    pub fn next(&self, member: &MemberAssignment) -> MemberAssignment {
        match member.state {
            MemberState::Stable if member.epoch == self.target_epoch => member.clone(),
            MemberState::Stable | MemberState::UnreleasedPartitions => self.compute(member, member.epoch),
            MemberState::UnrevokedPartitions if self.owns_any(&member.pending_revocation) => member.clone(),
            // Revoked all it had to: on to the next epoch.
            MemberState::UnrevokedPartitions => self.compute(member, member.epoch + 1),
        }
    }

    /// Whether the heartbeat's owned partitions include one of `partitions` (true when it
    /// gave none: Kafka's `ownsRevokedPartitions`).
    fn owns_any(&self, partitions: &BTreeSet<TopicPartition>) -> bool {
        self.owned.is_none_or(|owned| !owned.is_disjoint(partitions))
    }

    /// Kafka's `computeNextAssignment` from the member's assigned partitions, at `epoch`
    /// if it must first revoke.
    fn compute(&self, member: &MemberAssignment, epoch: u32) -> MemberAssignment {
        let kept: BTreeSet<TopicPartition> = member.assigned.intersection(self.target).cloned().collect();
        let revoke: BTreeSet<TopicPartition> = member.assigned.difference(&kept).cloned().collect();
        let (free, unreleased): (Vec<TopicPartition>, Vec<TopicPartition>) =
            self.target.difference(&kept).cloned().partition(|tp| !(self.held)(tp));
        if !revoke.is_empty() && self.owns_any(&revoke) {
            return MemberAssignment {
                state: MemberState::UnrevokedPartitions,
                epoch,
                previous_epoch: Some(member.epoch),
                assigned: kept,
                pending_revocation: revoke,
            };
        }
        let state = if unreleased.is_empty() { MemberState::Stable } else { MemberState::UnreleasedPartitions };
        let assigned = kept.into_iter().chain(free).collect();
        member.moved(state, self.target_epoch, assigned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tps(list: &[(&str, &[u32])]) -> BTreeSet<TopicPartition> {
        list.iter().flat_map(|(t, ps)| ps.iter().map(move |p| TopicPartition::new(*t, *p))).collect()
    }

    fn member(
        state: MemberState,
        epoch: u32,
        assigned: &[(&str, &[u32])],
        pending: &[(&str, &[u32])],
    ) -> MemberAssignment {
        MemberAssignment {
            state,
            epoch,
            previous_epoch: Some(epoch),
            assigned: tps(assigned),
            pending_revocation: tps(pending),
        }
    }

    fn nobody_holds(_: &TopicPartition) -> bool {
        false
    }

    // The cases of Kafka's CurrentAssignmentBuilderTest (4.0), topics t1 and t2.

    #[test]
    fn kafka_test_stable_to_unrevoked_partitions() {
        let m = member(MemberState::Stable, 10, &[("t1", &[1, 2, 3]), ("t2", &[4, 5, 6])], &[]);
        let target = tps(&[("t1", &[2, 3, 4]), ("t2", &[5, 6, 7])]);
        let next = Reconciliation { target_epoch: 11, target: &target, owned: None, held: nobody_holds }.next(&m);
        let expected = member(
            MemberState::UnrevokedPartitions,
            10,
            &[("t1", &[2, 3]), ("t2", &[5, 6])],
            &[("t1", &[1]), ("t2", &[4])],
        );
        assert_eq!(next, expected);
    }

    #[test]
    fn kafka_test_stable_to_unreleased_partitions() {
        let m = member(MemberState::Stable, 10, &[("t1", &[1, 2, 3]), ("t2", &[4, 5, 6])], &[]);
        let target = tps(&[("t1", &[1, 2, 3, 4]), ("t2", &[4, 5, 6, 7])]);
        let next =
            Reconciliation { target_epoch: 11, target: &target, owned: None, held: |_: &TopicPartition| true }.next(&m);
        let mut expected =
            member(MemberState::UnreleasedPartitions, 11, &[("t1", &[1, 2, 3]), ("t2", &[4, 5, 6])], &[]);
        expected.previous_epoch = Some(10);
        assert_eq!(next, expected);
    }

    #[test]
    fn kafka_test_stable_to_unreleased_when_the_owned_partitions_lack_the_revoked_ones() {
        // The heartbeat owns nothing, so t2-6 needs no revocation: straight on to epoch 11.
        let m = member(MemberState::Stable, 10, &[("t1", &[1, 2, 3]), ("t2", &[4, 5, 6])], &[]);
        let target = tps(&[("t1", &[1, 2, 3]), ("t2", &[4, 5, 7])]);
        let owned = BTreeSet::new();
        let held = |tp: &TopicPartition| tp.topic.as_ref() == "t2";
        let next = Reconciliation { target_epoch: 11, target: &target, owned: Some(&owned), held }.next(&m);
        let mut expected = member(MemberState::UnreleasedPartitions, 11, &[("t1", &[1, 2, 3]), ("t2", &[4, 5])], &[]);
        expected.previous_epoch = Some(10);
        assert_eq!(next, expected);
    }

    #[test]
    fn kafka_test_unrevoked_partitions_to_stable_and_remaining_unrevoked() {
        let m = member(
            MemberState::UnrevokedPartitions,
            10,
            &[("t1", &[2, 3]), ("t2", &[5, 6])],
            &[("t1", &[1]), ("t2", &[4])],
        );
        let target = tps(&[("t1", &[2, 3]), ("t2", &[5, 6])]);
        let acked = tps(&[("t1", &[2, 3]), ("t2", &[5, 6])]);
        let next =
            Reconciliation { target_epoch: 11, target: &target, owned: Some(&acked), held: nobody_holds }.next(&m);
        let mut expected = member(MemberState::Stable, 11, &[("t1", &[2, 3]), ("t2", &[5, 6])], &[]);
        expected.previous_epoch = Some(10);
        assert_eq!(next, expected);
        // testRemainsInUnrevokedPartitions: no owned partitions given, or still owning t1-1.
        let later = tps(&[("t1", &[3]), ("t2", &[6])]);
        let still = tps(&[("t1", &[1, 2, 3]), ("t2", &[5, 6])]);
        for owned in [None, Some(&still)] {
            let r = Reconciliation { target_epoch: 12, target: &later, owned, held: nobody_holds };
            assert_eq!(r.next(&m), m);
        }
    }

    /// Kafka's GroupMetadataManagerTest.testReconciliationProcess, driven member by
    /// member with the group's partition holders kept as the coordinator keeps them.
    #[test]
    fn kafka_test_reconciliation_process() {
        let mut m1 = member(MemberState::Stable, 10, &[("foo", &[0, 1, 2]), ("bar", &[0, 1])], &[]);
        let mut m2 = member(MemberState::Stable, 10, &[("foo", &[3, 4, 5]), ("bar", &[2])], &[]);
        let mut m3 = MemberAssignment::joining();
        let targets = [
            tps(&[("foo", &[0, 1]), ("bar", &[0])]),
            tps(&[("foo", &[2, 3]), ("bar", &[2])]),
            tps(&[("foo", &[4, 5]), ("bar", &[1])]),
        ];
        fn held_by(members: &[&MemberAssignment]) -> BTreeSet<TopicPartition> {
            members.iter().flat_map(|m| m.assigned.iter().chain(&m.pending_revocation).cloned()).collect()
        }
        let step = |m: &MemberAssignment,
                    target: &BTreeSet<TopicPartition>,
                    owned: Option<&BTreeSet<TopicPartition>>,
                    held: BTreeSet<TopicPartition>| {
            Reconciliation { target_epoch: 11, target, owned, held: |tp: &TopicPartition| held.contains(tp) }.next(m)
        };
        // 1. m3 joins: everything it is given is still held.
        m3 = step(&m3, &targets[2], Some(&BTreeSet::new()), held_by(&[&m1, &m2, &m3]));
        assert_eq!((m3.state, m3.epoch, m3.assigned.len()), (MemberState::UnreleasedPartitions, 11, 0));
        // 2. m1 must revoke foo-2 and bar-1.
        m1 = step(&m1, &targets[0], None, held_by(&[&m1, &m2, &m3]));
        assert_eq!((m1.state, m1.epoch), (MemberState::UnrevokedPartitions, 10));
        assert_eq!(m1.pending_revocation, tps(&[("foo", &[2]), ("bar", &[1])]));
        // 3. m2 must revoke foo-4 and foo-5.
        m2 = step(&m2, &targets[1], None, held_by(&[&m1, &m2, &m3]));
        assert_eq!((m2.state, m2.epoch), (MemberState::UnrevokedPartitions, 10));
        assert_eq!(m2.pending_revocation, tps(&[("foo", &[4, 5])]));
        // 4. m1 acknowledges (owns only what it keeps): it holds exactly its target, so it
        //    is stable at epoch 11, and foo-2 and bar-1 are free.
        let m1_owned = m1.assigned.clone();
        m1 = step(&m1, &targets[0], Some(&m1_owned), held_by(&[&m1, &m2, &m3]));
        assert_eq!((m1.state, m1.epoch), (MemberState::Stable, 11));
        // 5. m2 heartbeats without its owned partitions: nothing moves.
        let before = m2.clone();
        m2 = step(&m2, &targets[1], None, held_by(&[&m1, &m2, &m3]));
        assert_eq!(m2, before);
        // 6. m3 gets bar-1, which m1 released.
        m3 = step(&m3, &targets[2], Some(&BTreeSet::new()), held_by(&[&m1, &m2, &m3]));
        assert_eq!((m3.state, m3.assigned.clone()), (MemberState::UnreleasedPartitions, tps(&[("bar", &[1])])));
        // 7. m2 acknowledges: it gets foo-2, which m1 released.
        let m2_owned = m2.assigned.clone();
        m2 = step(&m2, &targets[1], Some(&m2_owned), held_by(&[&m1, &m2, &m3]));
        assert_eq!((m2.state, m2.epoch, m2.assigned.clone()), (MemberState::Stable, 11, targets[1].clone()));
        // 8. m3 gets foo-4 and foo-5.
        let m3_owned = m3.assigned.clone();
        m3 = step(&m3, &targets[2], Some(&m3_owned), held_by(&[&m1, &m2, &m3]));
        assert_eq!((m3.state, m3.epoch, m3.assigned.clone()), (MemberState::Stable, 11, targets[2].clone()));
    }
}
