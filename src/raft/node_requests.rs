//! How a voter answers each quorum message (Kafka's `KafkaRaftClient.handle*`): the
//! other half of [`QuorumNode`](super::QuorumNode)'s implementation, kept apart from
//! its state, timers and transitions.

use super::{QuorumNode, Role};
use crate::plant::{is_planted, PlantedBug};
use crate::protocol::{NodeId, Offset};
use crate::raft::election::{random_election_timeout_ms, strict_election_backoff_ms};
use crate::raft::leader::ParkedFetch;
use crate::raft::log::{Entry, Epoch, FetchPosition, OffsetAndEpoch};
use crate::raft::message::{Outbound, QuorumError, QuorumMessage};
use rand::Rng;

impl<R: Clone> QuorumNode<R> {
    pub(super) fn on_vote(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        last: OffsetAndEpoch,
        pre_vote: bool,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Outbound<R> {
        let answer = |node: &Self, granted: bool, error: Option<QuorumError>| {
            // A follower granting a pre-vote names no leader, so that the prospective
            // does not fall back to following it (KIP-996).
            let leader = if granted { None } else { node.leader() };
            let message = QuorumMessage::VoteResponse { epoch: node.epoch, leader, granted, pre_vote, error };
            Outbound { to: from, message }
        };
        if epoch < self.epoch {
            return answer(self, false, Some(QuorumError::FencedLeaderEpoch));
        }
        // A pre-vote changes nobody's epoch (KIP-996). Its answer then carries this
        // voter's older epoch, which the prospective ignores as stale: a voter behind in
        // epochs helps a pre-vote only once it has caught up (it learns the epoch from
        // the prospective's own later requests or from the leader).
        if epoch > self.epoch && !pre_vote {
            self.become_unattached(epoch, now_ms, rng);
        }
        let up_to_date = last >= self.log.end_offset_and_epoch();
        let granted = if !self.is_voter() {
            false
        } else if pre_vote {
            // KIP-996: granted by a voter whose log is not ahead and that has not heard
            // from a leader: not a leader, nor a follower that has fetched successfully.
            up_to_date
                && match &self.role {
                    Role::Leader(_) => false,
                    Role::Follower { has_fetched, .. } => !has_fetched,
                    _ => true,
                }
        } else if is_planted(self.config.plant, PlantedBug::QuorumVoteTwice) {
            // PLANTED BUG quorum-vote-twice: the vote already cast in this epoch is not
            // looked at; a voter that knows no leader grants every candidate whose log is
            // up to date, though it voted for another (or, standing, for itself).
            up_to_date && self.leader().is_none()
        } else {
            // `EpochState.canGrantVote`: only an unattached voter votes, once per epoch.
            match &self.role {
                Role::Unattached { voted: Some(v), .. } => *v == from,
                Role::Unattached { voted: None, .. } => up_to_date,
                _ => false,
            }
        };
        if granted && !pre_vote {
            if let Role::Unattached { voted: voted @ None, election_deadline_ms } = &mut self.role {
                *voted = Some(from);
                *election_deadline_ms = now_ms + random_election_timeout_ms(&self.config, rng);
            }
        }
        answer(self, granted, None)
    }

    pub(super) fn on_vote_response(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        granted: bool,
        pre_vote: bool,
        now_ms: u64,
        rng: &mut impl Rng,
    ) {
        let majority = self.majority();
        let voters = self.voters.len();
        let ballot = match (&mut self.role, pre_vote) {
            (Role::Prospective { ballot, .. }, true) | (Role::Candidate(ballot), false) if epoch == self.epoch => {
                ballot
            }
            _ => return,
        };
        if granted {
            ballot.granted.insert(from);
        } else {
            ballot.rejected.insert(from);
        }
        if ballot.granted.len() >= majority {
            let retries = ballot.retries;
            if pre_vote {
                self.become_candidate(now_ms, retries, rng);
            } else {
                self.maybe_become_leader(now_ms);
            }
        } else if voters - ballot.rejected.len() < majority && ballot.backoff_until_ms.is_none() {
            // Lost: back off at once rather than wait for the election timeout.
            ballot.back_off(&self.config, now_ms, rng);
        }
    }

    /// `handleEndQuorumEpochRequest`: a follower of the resigning leader stands after a
    /// backoff that grows with its place among the preferred successors.
    pub(super) fn on_end_quorum_epoch(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        successors: &[NodeId],
        now_ms: u64,
        rng: &mut impl Rng,
    ) {
        if epoch < self.epoch {
            return;
        }
        self.maybe_transition(Some(from), epoch, now_ms, rng);
        if let Role::Follower { leader, fetch_deadline_ms, .. } = &mut self.role {
            if *leader == from {
                let position = successors.iter().position(|&s| s == self.me);
                *fetch_deadline_ms = now_ms + strict_election_backoff_ms(&self.config, position, successors.len());
            }
        }
    }

    pub(super) fn on_fetch(
        &mut self,
        from: NodeId,
        epoch: Epoch,
        fetch_offset: Offset,
        last_fetched_epoch: Epoch,
        now_ms: u64,
    ) -> Vec<Outbound<R>> {
        // A newer fetch from the peer replaces the one held (whose connection the
        // transport has answered already).
        self.parked.remove(&from);
        if let Some(error) = self.leader_only_error(epoch) {
            return vec![self.fetch_error(from, error, fetch_offset)];
        }
        let position = self.log.validate_fetch_position(fetch_offset, last_fetched_epoch);
        let end = self.log.end_offset();
        let check_quorum_timeout_ms = self.config.check_quorum_timeout_ms();
        let Role::Leader(leader) = &mut self.role else { unreachable!("checked above") };
        if position == FetchPosition::Valid {
            let moved = leader.on_fetch(from, fetch_offset, end, now_ms, check_quorum_timeout_ms);
            if fetch_offset >= end && !moved {
                let expires_at_ms = now_ms + self.config.fetch_max_wait_ms;
                let (epoch, high_watermark) = (self.epoch, leader.high_watermark);
                let parked = ParkedFetch { fetch_offset, last_fetched_epoch, expires_at_ms, epoch, high_watermark };
                self.parked.insert(from, parked);
                return Vec::new();
            }
        }
        let mut out = vec![self.fetch_answer(from, fetch_offset, last_fetched_epoch)];
        out.extend(self.leader_progress());
        out
    }

    /// The leader's answer to a fetch at `fetch_offset`: a diverging epoch, or the
    /// entries from there and the high watermark. The high watermark is the leadership's
    /// own (`LeaderState.highWatermark`): none until this leader has committed an entry
    /// of its epoch, even though it knew one as a follower, as Kafka answers -1 then. So
    /// an observer that starts meanwhile (a restarted broker replaying the metadata log)
    /// learns where the committed log ends only from a leader that has caught up with it,
    /// and does not act on a prefix missing entries the previous leader committed.
    pub(super) fn fetch_answer(&self, to: NodeId, fetch_offset: Offset, last_fetched_epoch: Epoch) -> Outbound<R> {
        let (diverging, entries) = match self.log.validate_fetch_position(fetch_offset, last_fetched_epoch) {
            FetchPosition::Diverging(at) => (Some(at), Vec::new()),
            FetchPosition::Valid => (None, self.log.read_from(fetch_offset).to_vec()),
        };
        let high_watermark = match &self.role {
            Role::Leader(leader) => leader.high_watermark,
            _ => None,
        };
        let message = QuorumMessage::FetchResponse {
            epoch: self.epoch,
            leader: Some(self.me),
            error: None,
            diverging,
            from_offset: fetch_offset,
            entries,
            high_watermark,
        };
        Outbound { to, message }
    }

    /// After the leader's log or high watermark moved: the new mark, and the held fetches
    /// answered (Kafka completes its fetch purgatory on both, and `tryCompleteFetchRequest`
    /// answers one held since an older leadership with its epoch's error).
    pub(super) fn leader_progress(&mut self) -> Vec<Outbound<R>> {
        let end = self.log.end_offset();
        let Role::Leader(leader) = &mut self.role else {
            return Vec::new();
        };
        leader.maybe_advance_high_watermark(end);
        if leader.high_watermark > self.high_watermark {
            self.high_watermark = leader.high_watermark;
        }
        let parked = std::mem::take(&mut self.parked);
        parked
            .into_iter()
            .map(|(to, p)| match self.leader_only_error(p.epoch) {
                Some(error) => self.fetch_error(to, error, p.fetch_offset),
                None => self.fetch_answer(to, p.fetch_offset, p.last_fetched_epoch),
            })
            .collect()
    }

    /// The held fetches whose wait is over at `now_ms`, answered: by the leader that
    /// held them as it would have answered at once (nothing new); by a node that no
    /// longer leads, with the empty answer they had when held (Kafka's purgatory
    /// expiry returns the response computed at arrival).
    pub(super) fn answer_expired_fetches(&mut self, now_ms: u64) -> Vec<Outbound<R>> {
        let expired: Vec<NodeId> =
            self.parked.iter().filter(|(_, p)| now_ms >= p.expires_at_ms).map(|(&to, _)| to).collect();
        let mut out = Vec::with_capacity(expired.len());
        for to in expired {
            let p = self.parked.remove(&to).expect("listed above");
            if self.leader_only_error(p.epoch).is_none() {
                out.push(self.fetch_answer(to, p.fetch_offset, p.last_fetched_epoch));
            } else {
                let message = QuorumMessage::FetchResponse {
                    epoch: p.epoch,
                    leader: Some(self.me),
                    error: None,
                    diverging: None,
                    from_offset: p.fetch_offset,
                    entries: Vec::new(),
                    high_watermark: p.high_watermark,
                };
                out.push(Outbound { to, message });
            }
        }
        out
    }

    /// Why a leader-only request in `epoch` is refused here, if it is
    /// (`validateLeaderOnlyRequest`).
    fn leader_only_error(&self, epoch: Epoch) -> Option<QuorumError> {
        if epoch < self.epoch {
            Some(QuorumError::FencedLeaderEpoch)
        } else if epoch > self.epoch {
            Some(QuorumError::UnknownLeaderEpoch)
        } else if !matches!(self.role, Role::Leader(_)) {
            Some(QuorumError::NotLeaderOrFollower)
        } else {
            None
        }
    }

    /// A fetch refused with `error`: this node's epoch and leader, nothing else
    /// (`buildEmptyFetchResponse`).
    pub(super) fn fetch_error(&self, to: NodeId, error: QuorumError, fetch_offset: Offset) -> Outbound<R> {
        let message = QuorumMessage::FetchResponse {
            epoch: self.epoch,
            leader: self.leader(),
            error: Some(error),
            diverging: None,
            from_offset: fetch_offset,
            entries: Vec::new(),
            high_watermark: None,
        };
        Outbound { to, message }
    }

    pub(super) fn on_fetch_response(
        &mut self,
        from: NodeId,
        diverging: Option<OffsetAndEpoch>,
        from_offset: Offset,
        entries: Vec<Entry<R>>,
        high_watermark: Option<Offset>,
        now_ms: u64,
    ) {
        let fetch_timeout_ms = self.config.fetch_timeout_ms;
        let Role::Follower { leader, fetch_deadline_ms, has_fetched, searching } = &mut self.role else {
            return;
        };
        if *leader != from {
            return;
        }
        *searching = false;
        if let Some(at) = diverging {
            // Kafka throws if asked to truncate below its high watermark: it cannot happen
            // in a correct quorum, and the Raft checkers report it if it does.
            self.log.truncate_to_diverging(at);
        } else if from_offset == self.log.end_offset() {
            for entry in entries {
                self.log.append(entry);
            }
            // `updateFollowerHighWatermark`: no further than this log reaches.
            if let Some(hw) = high_watermark.map(|hw| hw.min(self.log.end_offset())) {
                if Some(hw) > self.high_watermark {
                    self.high_watermark = Some(hw);
                }
            }
        }
        *has_fetched = true;
        *fetch_deadline_ms = now_ms + fetch_timeout_ms;
    }
}
