//! Kafka's `CooperativeStickyAssignor` (Kafka 2.4, KIP-429): the sticky assignment, then
//! `adjustAssignment` takes out every partition that would go straight from a member
//! still claiming it to another member. Such a partition is assigned to nobody in this
//! generation: its owner sees it missing from its new assignment, revokes it
//! (`onPartitionsRevoked`) and rejoins, and in the follow-up rebalance nobody claims it,
//! so the assignor hands it to its new member. No partition is ever owned by two members
//! at once, without a stop-the-world revocation of everything.

use super::sticky::{sticky, StickyAssignment};
use super::{Assignment, MemberSubscription};
use crate::protocol::{StickyAlgorithm, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// The cooperative sticky assignment (`CooperativeStickyAssignor.assignPartitions`).
pub(super) fn cooperative_sticky(
    order: &[&str],
    members: &BTreeMap<&str, &MemberSubscription>,
    partitions: &BTreeMap<String, u32>,
    algorithm: StickyAlgorithm,
) -> Assignment {
    let StickyAssignment { mut assignment, transferring } = sticky(order, members, partitions, algorithm);
    let transferring = transferring.unwrap_or_else(|| transferring_ownership(members, &assignment));
    for (tp, taker) in transferring {
        if let Some(list) = assignment.get_mut(&taker) {
            list.retain(|t| *t != tp);
        }
    }
    assignment
}

/// Kafka's `computePartitionsTransferringOwnership`, for an assignment of the general
/// algorithm: a partition some member is newly given while some member (claiming it in
/// its JoinGroup, whatever its generation) loses it, with the member it goes to.
fn transferring_ownership(
    members: &BTreeMap<&str, &MemberSubscription>,
    assignment: &Assignment,
) -> BTreeMap<TopicPartition, String> {
    let mut added: BTreeMap<TopicPartition, String> = BTreeMap::new();
    let mut revoked: BTreeSet<&TopicPartition> = BTreeSet::new();
    for (member, assigned) in assignment {
        let owned = members.get(member.as_str()).map_or(&[][..], |m| &m.owned[..]);
        added.extend(assigned.iter().filter(|tp| !owned.contains(tp)).map(|tp| (tp.clone(), member.clone())));
        revoked.extend(owned.iter().filter(|tp| !assigned.contains(tp)));
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}
