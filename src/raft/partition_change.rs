//! How the KRaft controller changes a partition: elect a leader, set the ISR and the
//! eligible leader replicas, and write one `PartitionChangeRecord` (or none when nothing
//! changes). A port of Kafka 3.9's `PartitionChangeBuilder`, without reassignments and
//! log directories.
//!
//! Two rules a ZooKeeper-era reader does not expect:
//! - Without ELR the ISR never empties: when its last member is fenced, the record keeps
//!   it in the ISR and only takes the leadership away, so that a clean election can
//!   bring it back.
//! - The leader epoch moves only with a leader in the record (see
//!   [`LeaderChange`]); a shrinking ISR bumps it only under metadata versions before
//!   3.6 (KAFKA-15021), through [`PartitionChangeBuilder::bump_leader_epoch_on_isr_shrink`].

use super::metadata::{LeaderChange, LeaderRecoveryState, MetadataRecord, PartitionRegistration, TopicId};
use crate::protocol::BrokerId;
use std::collections::BTreeSet;

/// Which leader an election may pick (Kafka's `PartitionChangeBuilder.Election`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Election {
    /// The preferred (first) replica if it is eligible, else as `Online`.
    Preferred,
    /// A leader from the ISR (or the ELR when the ISR is empty).
    Online,
    /// As `Online`, else any live replica (`unclean.leader.election.enable`).
    Unclean,
}

/// The outcome of an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Elected {
    leader: Option<BrokerId>,
    unclean: bool,
}

/// A partition change in the making.
pub struct PartitionChangeBuilder<'a> {
    partition: &'a PartitionRegistration,
    topic_id: TopicId,
    partition_id: u32,
    /// Whether a broker may lead: registered, unfenced, not shutting down (Kafka's
    /// `ClusterControlManager.isActive`), with the adjustments the caller makes for the
    /// broker being fenced or unfenced.
    is_acceptable_leader: &'a dyn Fn(BrokerId) -> bool,
    /// The topic's effective `min.insync.replicas`.
    min_isr: usize,
    target_isr: Vec<BrokerId>,
    target_elr: Vec<BrokerId>,
    unclean_shutdown_replicas: Vec<BrokerId>,
    election: Election,
    target_leader_recovery: LeaderRecoveryState,
    elr_enabled: bool,
    /// Metadata versions before 3.6 bump the leader epoch when the ISR shrinks (KAFKA-15021).
    pub bump_leader_epoch_on_isr_shrink: bool,
}

impl<'a> PartitionChangeBuilder<'a> {
    /// A change of `partition` that, as built, changes nothing.
    pub fn new(
        partition: &'a PartitionRegistration,
        topic_id: TopicId,
        partition_id: u32,
        is_acceptable_leader: &'a dyn Fn(BrokerId) -> bool,
        min_isr: usize,
    ) -> Self {
        PartitionChangeBuilder {
            partition,
            topic_id,
            partition_id,
            is_acceptable_leader,
            min_isr,
            target_isr: partition.isr.clone(),
            target_elr: partition.elr.clone(),
            unclean_shutdown_replicas: Vec::new(),
            election: Election::Online,
            target_leader_recovery: partition.leader_recovery,
            elr_enabled: false,
            bump_leader_epoch_on_isr_shrink: false,
        }
    }

    /// The ISR the change aims at.
    pub fn target_isr(mut self, isr: Vec<BrokerId>) -> Self {
        self.target_isr = isr;
        self
    }

    /// The election to hold if the leader must change.
    pub fn election(mut self, election: Election) -> Self {
        self.election = election;
        self
    }

    /// KIP-966's eligible leader replicas (`eligible.leader.replicas.version` ≥ 1).
    pub fn eligible_leader_replicas(mut self, enabled: bool) -> Self {
        self.elr_enabled = enabled;
        self
    }

    /// Brokers that restarted after an unclean shutdown: they may have lost unflushed
    /// records, so they are no longer eligible leaders (KIP-966).
    pub fn unclean_shutdown_replicas(mut self, replicas: Vec<BrokerId>) -> Self {
        self.unclean_shutdown_replicas = replicas;
        self
    }

    /// The leader recovery state the change aims at.
    pub fn target_leader_recovery(mut self, state: LeaderRecoveryState) -> Self {
        self.target_leader_recovery = state;
        self
    }

    /// The record, or `None` when it would change nothing (`PartitionChangeBuilder.build`).
    pub fn build(mut self) -> Option<MetadataRecord> {
        let mut change = Change {
            leader: LeaderChange::Unchanged,
            isr: None,
            elr: None,
            last_known_elr: None,
            leader_recovery: None,
        };
        self.maybe_populate_target_elr();
        self.try_election(&mut change);
        self.maybe_update_record_elr(&mut change);
        // Without ELR an empty target ISR is not written: the last member stays.
        if change.isr.is_none()
            && (!self.target_isr.is_empty() || self.elr_enabled)
            && self.target_isr != self.partition.isr
        {
            change.isr = Some(self.target_isr.clone());
        }
        self.trigger_leader_epoch_bump_for_isr_shrink(&mut change);
        self.maybe_update_last_known_leader(&mut change);
        if self.target_leader_recovery != self.partition.leader_recovery {
            change.leader_recovery = Some(self.target_leader_recovery);
        }
        let Change { leader, isr, elr, last_known_elr, leader_recovery } = change;
        let no_op = leader == LeaderChange::Unchanged
            && isr.is_none()
            && elr.is_none()
            && last_known_elr.is_none()
            && leader_recovery.is_none();
        (!no_op).then_some(MetadataRecord::PartitionChange {
            topic_id: self.topic_id,
            partition: self.partition_id,
            leader,
            isr,
            elr,
            last_known_elr,
            replicas: None,
            leader_recovery,
        })
    }

    fn is_valid_new_leader(&self, replica: Option<BrokerId>) -> bool {
        let Some(r) = replica else { return false };
        (self.target_isr.contains(&r) || (self.target_isr.is_empty() && self.target_elr.contains(&r)))
            && (self.is_acceptable_leader)(r)
    }

    fn elect_leader(&self) -> Elected {
        let clean = |leader| Elected { leader: Some(leader), unclean: false };
        let replicas = &self.partition.replicas;
        if self.election == Election::Preferred {
            if let Some(&preferred) = replicas.first().filter(|&&r| self.is_valid_new_leader(Some(r))) {
                return clean(preferred);
            }
        }
        if self.is_valid_new_leader(self.partition.leader) {
            return Elected { leader: self.partition.leader, unclean: false };
        }
        if let Some(&online) = replicas.iter().find(|&&r| self.is_valid_new_leader(Some(r))) {
            return clean(online);
        }
        if self.can_elect_last_known_leader() {
            return Elected { leader: self.partition.last_known_elr.first().copied(), unclean: true };
        }
        if self.election == Election::Unclean {
            if let Some(&any) = replicas.iter().find(|&&r| (self.is_acceptable_leader)(r)) {
                return Elected { leader: Some(any), unclean: true };
            }
        }
        Elected { leader: None, unclean: false }
    }

    /// `canElectLastKnownLeader`: with ELR, an empty ISR and ELR, and one last known
    /// leader. Kafka 3.9 elects it whether or not it is alive (its liveness test only
    /// logs); this port does the same.
    fn can_elect_last_known_leader(&self) -> bool {
        self.elr_enabled
            && self.target_elr.is_empty()
            && self.target_isr.is_empty()
            && self.partition.last_known_elr.len() == 1
    }

    fn try_election(&mut self, change: &mut Change) {
        let elected = self.elect_leader();
        if elected.leader == self.partition.leader {
            return;
        }
        if let Some(leader) = elected.leader.filter(|l| self.target_elr.contains(l)) {
            // A leader from the ELR becomes the ISR, alone.
            self.target_isr = vec![leader];
            self.target_elr.retain(|&r| r != leader);
        }
        change.leader = LeaderChange::To(elected.leader);
        if elected.unclean {
            change.isr = elected.leader.map(|l| vec![l]);
            if self.partition.leader_recovery != LeaderRecoveryState::Recovering {
                change.leader_recovery = Some(LeaderRecoveryState::Recovering);
            }
        }
    }

    /// `maybePopulateTargetElr`: with ELR, an ISR below `min.insync.replicas` keeps its
    /// former members (except those that shut down uncleanly) as eligible leaders.
    /// Members are listed in ascending id order (Java's `HashSet` of small integers).
    /// Kafka 3.9 also computes a target last known ELR here that it never writes (its
    /// `useLastKnownLeaderInBalancedRecovery` is on): the port leaves it out.
    fn maybe_populate_target_elr(&mut self) {
        if !self.elr_enabled {
            return;
        }
        if self.target_isr.len() >= self.min_isr {
            self.target_elr.clear();
            return;
        }
        let candidates: BTreeSet<BrokerId> = self.target_elr.iter().chain(&self.partition.isr).copied().collect();
        self.target_elr = candidates
            .into_iter()
            .filter(|r| !self.target_isr.contains(r) && !self.unclean_shutdown_replicas.contains(r))
            .collect();
    }

    /// `maybeUpdateRecordElr` (with Kafka 3.9's `useLastKnownLeaderInBalancedRecovery`
    /// on, the last known ELR is written only by [`Self::maybe_update_last_known_leader`]).
    fn maybe_update_record_elr(&mut self, change: &mut Change) {
        let clean_election = change.isr.is_none();
        if !clean_election || !self.elr_enabled {
            self.target_elr.clear();
        }
        if self.target_elr != self.partition.elr {
            change.elr = Some(self.target_elr.clone());
        }
    }

    /// `triggerLeaderEpochBumpForIsrShrinkIfNeeded`: under old metadata versions the
    /// leader is named again (same leader, next epoch) when the ISR loses a member.
    fn trigger_leader_epoch_bump_for_isr_shrink(&self, change: &mut Change) {
        if !self.bump_leader_epoch_on_isr_shrink || change.leader != LeaderChange::Unchanged {
            return;
        }
        if let Some(isr) = &change.isr {
            if !self.partition.isr.iter().all(|r| isr.contains(r)) {
                change.leader = LeaderChange::To(self.partition.leader);
            }
        }
    }

    /// `maybeUpdateLastKnownLeader`: when the ISR empties, the last leader is remembered
    /// as the last known ELR; a new leader clears it.
    fn maybe_update_last_known_leader(&self, change: &mut Change) {
        if !self.elr_enabled {
            return;
        }
        let isr_empties = change.isr.as_ref().is_some_and(|isr| isr.is_empty());
        let remembered =
            self.partition.last_known_elr.len() == 1 && Some(self.partition.last_known_elr[0]) == self.partition.leader;
        if isr_empties && !remembered {
            // Kafka writes NO_LEADER (-1) here when the partition had no leader; the model
            // has no such broker id and writes an empty list instead.
            change.last_known_elr = Some(self.partition.leader.into_iter().collect());
        } else if (matches!(change.leader, LeaderChange::To(Some(_)))
            || (self.partition.leader.is_some() && change.leader != LeaderChange::To(None)))
            && !self.partition.last_known_elr.is_empty()
        {
            change.last_known_elr = Some(Vec::new());
        }
    }
}

/// The fields of the record being built.
struct Change {
    leader: LeaderChange,
    isr: Option<Vec<BrokerId>>,
    elr: Option<Vec<BrokerId>>,
    last_known_elr: Option<Vec<BrokerId>>,
    leader_recovery: Option<LeaderRecoveryState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ids: &[u32]) -> Vec<BrokerId> {
        ids.iter().map(|&i| BrokerId(i)).collect()
    }

    fn partition(leader: Option<u32>, isr: &[u32]) -> PartitionRegistration {
        PartitionRegistration::for_tests(leader, isr)
    }

    /// A change's leader, ISR and ELR fields.
    type Fields = (LeaderChange, Option<Vec<BrokerId>>, Option<Vec<BrokerId>>);

    fn fields(record: Option<MetadataRecord>) -> Option<Fields> {
        record.map(|r| match r {
            MetadataRecord::PartitionChange { leader, isr, elr, .. } => (leader, isr, elr),
            other => panic!("not a partition change: {other:?}"),
        })
    }

    #[test]
    fn fencing_the_leader_elects_the_next_isr_member_and_shrinks_the_isr() {
        let p = partition(Some(1), &[1, 2, 3]);
        let alive = |r: BrokerId| r != BrokerId(1);
        let record = PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).target_isr(b(&[2, 3])).build();
        assert_eq!(fields(record), Some((LeaderChange::To(Some(BrokerId(2))), Some(b(&[2, 3])), None)));
    }

    #[test]
    fn without_elr_the_last_isr_member_stays_in_the_isr_when_fenced() {
        let p = partition(Some(1), &[1]);
        let alive = |r: BrokerId| r != BrokerId(1);
        let record = PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).target_isr(Vec::new()).build();
        assert_eq!(fields(record), Some((LeaderChange::To(None), None, None)), "ISR [1] is kept");
        let unclean =
            PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).target_isr(Vec::new()).election(Election::Unclean).build();
        assert_eq!(fields(unclean), Some((LeaderChange::To(Some(BrokerId(2))), Some(b(&[2])), None)));
    }

    #[test]
    fn with_elr_members_leaving_an_isr_below_min_isr_stay_eligible_and_one_is_elected_alone() {
        let p = partition(Some(1), &[1, 2]);
        let alive = |r: BrokerId| r != BrokerId(1);
        // min.insync.replicas = 2: broker-1 fenced leaves ISR [2], ELR [1].
        let record =
            PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).eligible_leader_replicas(true).target_isr(b(&[2])).build();
        assert_eq!(fields(record), Some((LeaderChange::To(Some(BrokerId(2))), Some(b(&[2])), Some(b(&[1])))));

        // Then broker-2 is fenced as well: the ISR empties, both are ELR, no leader.
        let mut p = partition(Some(2), &[2]);
        p.elr = b(&[1]);
        let none_alive = |_: BrokerId| false;
        let record = PartitionChangeBuilder::new(&p, 1, 0, &none_alive, 2)
            .eligible_leader_replicas(true)
            .target_isr(Vec::new())
            .build();
        assert_eq!(fields(record), Some((LeaderChange::To(None), Some(Vec::new()), Some(b(&[1, 2])))));

        // broker-1 comes back: elected from the ELR, it becomes the ISR alone.
        let mut p = partition(None, &[]);
        p.elr = b(&[1, 2]);
        let one = |r: BrokerId| r == BrokerId(1);
        let record = PartitionChangeBuilder::new(&p, 1, 0, &one, 2).eligible_leader_replicas(true).build();
        assert_eq!(fields(record), Some((LeaderChange::To(Some(BrokerId(1))), Some(b(&[1])), Some(b(&[2])))));
    }

    #[test]
    fn an_uncleanly_shut_down_replica_is_not_eligible() {
        let p = partition(Some(3), &[2, 3]);
        let alive = |r: BrokerId| r != BrokerId(2);
        let record = PartitionChangeBuilder::new(&p, 1, 0, &alive, 3)
            .eligible_leader_replicas(true)
            .unclean_shutdown_replicas(b(&[2]))
            .target_isr(b(&[3]))
            .build();
        assert_eq!(fields(record), Some((LeaderChange::Unchanged, Some(b(&[3])), None)));
    }

    #[test]
    fn an_isr_shrink_bumps_the_leader_epoch_only_under_old_metadata_versions() {
        let p = partition(Some(1), &[1, 2, 3]);
        let alive = |r: BrokerId| r != BrokerId(3);
        let record = PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).target_isr(b(&[1, 2])).build();
        assert_eq!(fields(record), Some((LeaderChange::Unchanged, Some(b(&[1, 2])), None)));
        let mut old = PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).target_isr(b(&[1, 2]));
        old.bump_leader_epoch_on_isr_shrink = true;
        assert_eq!(fields(old.build()), Some((LeaderChange::To(Some(BrokerId(1))), Some(b(&[1, 2])), None)));
    }

    #[test]
    fn a_change_to_nothing_writes_no_record() {
        let p = partition(Some(1), &[1, 2, 3]);
        let alive = |_: BrokerId| true;
        assert_eq!(PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).build(), None);
    }

    #[test]
    fn a_preferred_election_moves_leadership_back_to_the_first_replica() {
        let p = partition(Some(2), &[1, 2, 3]);
        let alive = |_: BrokerId| true;
        let record = PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).election(Election::Preferred).build();
        assert_eq!(fields(record), Some((LeaderChange::To(Some(BrokerId(1))), None, None)));
        assert_eq!(PartitionChangeBuilder::new(&p, 1, 0, &alive, 2).build(), None, "an online election keeps 2");
    }
}
