//! What a quorum leader tracks: its followers' log ends, the high watermark they allow,
//! the check-quorum timer and the voters yet to acknowledge its epoch (Kafka's
//! `LeaderState`); and the fetches it holds until there is something new, which the
//! node keeps (Kafka's fetch purgatory, see [`ParkedFetch`]).

use super::log::Epoch;
use crate::plant::{is_planted, PlantedBug};
use crate::protocol::{NodeId, Offset};
use std::collections::{BTreeMap, BTreeSet};

/// A fetch the leader holds until new entries arrive, the high watermark moves, or it
/// expires: an entry of `KafkaRaftClient`'s `fetchPurgatory`, which belongs to the node
/// and not to the leadership, so it outlives a leadership lost to a higher epoch (see
/// `QuorumNode::enter` for what answers it then).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ParkedFetch {
    /// The follower's log end.
    pub fetch_offset: Offset,
    /// The epoch of the follower's last entry.
    pub last_fetched_epoch: Epoch,
    /// When it is answered anyway, with the empty answer it had when parked.
    pub expires_at_ms: u64,
    /// The epoch it was parked in (the request's, the leader's then).
    pub epoch: Epoch,
    /// The leader's high watermark when it was parked, for that empty answer.
    pub high_watermark: Option<Offset>,
}

/// A leader's view of its quorum.
#[derive(Clone, Debug)]
pub(super) struct LeaderState {
    /// The log end when this leader was elected: it may expose nothing before it has
    /// committed an entry past it (an entry of its own epoch).
    pub epoch_start_offset: Offset,
    /// The highest offset a majority of voters holds, once past the epoch start.
    pub high_watermark: Option<Offset>,
    /// Each other voter's log end, as its last valid fetch showed it.
    follower_end_offsets: BTreeMap<NodeId, Option<Offset>>,
    /// Voters that have acknowledged this epoch (BeginQuorumEpoch answer or a fetch).
    pub acknowledged: BTreeSet<NodeId>,
    /// Voters that fetched since the check-quorum timer was last reset.
    fetched_since_check: BTreeSet<NodeId>,
    /// When the leader resigns unless a majority has fetched by then.
    pub check_quorum_deadline_ms: u64,
    /// The bug planted in this node's Raft code, if any.
    plant: Option<PlantedBug>,
}

impl LeaderState {
    /// A new leadership over `voters` (this node among them), with the node's planted
    /// bug if any.
    pub fn new(
        me: NodeId,
        voters: &[NodeId],
        epoch_start_offset: Offset,
        check_quorum_deadline_ms: u64,
        plant: Option<PlantedBug>,
    ) -> Self {
        LeaderState {
            epoch_start_offset,
            high_watermark: None,
            follower_end_offsets: voters.iter().filter(|&&v| v != me).map(|&v| (v, None)).collect(),
            acknowledged: BTreeSet::new(),
            fetched_since_check: BTreeSet::new(),
            check_quorum_deadline_ms,
            plant,
        }
    }

    /// Records a valid fetch from `follower` at `fetch_offset` and returns whether the
    /// high watermark moved (`LeaderState.updateReplicaState`). Resets the check-quorum
    /// timer once a majority of voters (this leader counted) has fetched
    /// (`updateCheckQuorumForFollowingVoter`).
    pub fn on_fetch(
        &mut self,
        follower: NodeId,
        fetch_offset: Offset,
        leader_end_offset: Offset,
        now_ms: u64,
        check_quorum_timeout_ms: u64,
    ) -> bool {
        let Some(end) = self.follower_end_offsets.get_mut(&follower) else {
            return false;
        };
        *end = Some(fetch_offset);
        self.acknowledged.insert(follower);
        self.fetched_since_check.insert(follower);
        let voters = self.follower_end_offsets.len() + 1;
        if self.fetched_since_check.len() >= voters / 2 {
            self.fetched_since_check.clear();
            self.check_quorum_deadline_ms = now_ms + check_quorum_timeout_ms;
        }
        self.maybe_advance_high_watermark(leader_end_offset)
    }

    /// Moves the high watermark to the largest offset a majority holds, if that is past
    /// the epoch start and the current mark (`LeaderState.maybeUpdateHighWatermark`: a
    /// leader commits nothing from earlier epochs before an entry of its own).
    pub fn maybe_advance_high_watermark(&mut self, leader_end_offset: Offset) -> bool {
        let mut ends: Vec<Option<Offset>> = self.follower_end_offsets.values().copied().collect();
        ends.push(Some(leader_end_offset));
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let majority_end = if is_planted(self.plant, PlantedBug::QuorumCommitWithoutMajority) {
            // PLANTED BUG quorum-commit-without-majority: the leader's own log end is
            // taken for what a majority holds, so it commits what no follower has.
            Some(leader_end_offset)
        } else {
            ends[ends.len() / 2]
        };
        let Some(majority_end) = majority_end else {
            return false;
        };
        if majority_end <= self.epoch_start_offset || self.high_watermark.is_some_and(|hw| majority_end <= hw) {
            return false;
        }
        self.high_watermark = Some(majority_end);
        true
    }

    /// The other voters, longest log first: the successors a resigning leader prefers
    /// (`nonLeaderVotersByDescendingFetchOffset`).
    pub fn successors_by_descending_end_offset(&self) -> Vec<NodeId> {
        let mut voters: Vec<(NodeId, Option<Offset>)> =
            self.follower_end_offsets.iter().map(|(&v, &end)| (v, end)).collect();
        voters.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        voters.into_iter().map(|(v, _)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_watermark_is_what_a_majority_holds_past_the_epoch_start() {
        let voters = [NodeId(1), NodeId(2), NodeId(3)];
        let mut leader = LeaderState::new(NodeId(1), &voters, 10, 3000, None);
        // Only the leader has its LeaderChange entry: no majority yet.
        assert!(!leader.maybe_advance_high_watermark(11));
        // A follower at the epoch start: a majority holds 10, not past the start.
        assert!(!leader.on_fetch(NodeId(2), 10, 11, 0, 3000));
        assert_eq!(leader.high_watermark, None);
        assert!(leader.on_fetch(NodeId(2), 11, 11, 0, 3000));
        assert_eq!(leader.high_watermark, Some(11));
        // A slower follower does not move it back.
        assert!(!leader.on_fetch(NodeId(3), 5, 11, 0, 3000));
        assert_eq!(leader.high_watermark, Some(11));
    }

    #[test]
    fn planted_commit_without_majority_commits_the_leaders_own_log_end() {
        let voters = [NodeId(1), NodeId(2), NodeId(3)];
        let plant = Some(PlantedBug::QuorumCommitWithoutMajority);
        let mut leader = LeaderState::new(NodeId(1), &voters, 10, 3000, plant);
        // Only the leader has its LeaderChange entry, and it is committed.
        assert!(leader.maybe_advance_high_watermark(11));
        assert_eq!(leader.high_watermark, Some(11));
        assert!(leader.maybe_advance_high_watermark(15));
        assert_eq!(leader.high_watermark, Some(15));
    }

    #[test]
    fn check_quorum_resets_once_a_majority_has_fetched() {
        let voters = [NodeId(1), NodeId(2), NodeId(3), NodeId(4), NodeId(5)];
        let mut leader = LeaderState::new(NodeId(1), &voters, 0, 3000, None);
        leader.on_fetch(NodeId(2), 0, 1, 1000, 3000);
        assert_eq!(leader.check_quorum_deadline_ms, 3000, "two of five is no majority");
        leader.on_fetch(NodeId(2), 0, 1, 1500, 3000);
        assert_eq!(leader.check_quorum_deadline_ms, 3000, "the same voter twice is still one");
        leader.on_fetch(NodeId(4), 0, 1, 2000, 3000);
        assert_eq!(leader.check_quorum_deadline_ms, 5000);
    }
}
