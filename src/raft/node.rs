//! One member of the KRaft controller quorum as a state machine without I/O: messages and
//! timer ticks in, messages out. It follows Kafka's `KafkaRaftClient` and `QuorumState`
//! (3.9) and KIP-996's pre-vote (4.0): roles Unattached, Prospective, Candidate, Leader,
//! Follower and Resigned; votes with the log-up-to-date check; randomized election
//! timeouts and exponential election backoff; fetch-based replication with truncation
//! on a diverging epoch; the high watermark; check-quorum resignation.
//!
//! The driver (the controller process) persists [`QuorumNode::election_state`] and the
//! log before it sends what a call returned, as Kafka writes `quorum-state` on every
//! transition and voters flush before their next fetch.
//!
//! A node whose id is not among the voters is an observer (a broker replicating the
//! metadata log): it never stands or votes; without a leader it fetches from the voters
//! in turn until one names the leader (`pollUnattachedAsObserver`,
//! `maybeSendAnyVoterFetch`), and when its leader stops answering for the fetch timeout
//! it goes back to that search while it still follows that leader, whom it keeps naming
//! (`pollFollowerAsObserver`: the observer stays in `FollowerState`, so the broker keeps
//! sending its heartbeats to the active controller it knows), until a fetch from the
//! leader succeeds or a voter names another leader.
//!
//! Simplified: one in-flight request per destination and no connection backoff
//! (`RequestManager`'s retry backoff); a fixed voter set (no KIP-853 reconfiguration);
//! no snapshots; observers try the voters in id order rather than at random.

use super::config::QuorumConfig;
use super::election::{random_election_timeout_ms, Ballot};
use super::leader::{LeaderState, ParkedFetch};
use super::log::{Entry, Epoch, Payload, RaftLog};
use super::message::{Outbound, QuorumError, QuorumMessage};
use crate::protocol::{NodeId, Offset};
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

#[path = "node_requests.rs"]
mod requests;

/// The network client's first reconnect backoff (`reconnect.backoff.ms`).
const RECONNECT_BACKOFF_MS: u64 = 50;
/// Its longest (`reconnect.backoff.max.ms`).
const RECONNECT_BACKOFF_MAX_MS: u64 = 1_000;

/// What a voter persists in its `quorum-state` file (Kafka's `ElectionState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ElectionState {
    /// The current epoch.
    pub epoch: Epoch,
    /// The leader of that epoch, once known.
    pub leader: Option<NodeId>,
    /// The candidate this voter voted for in that epoch (itself when it stood).
    pub voted: Option<NodeId>,
}

/// A quorum member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum RoleKind {
    /// No leader known in the epoch; may have voted.
    Unattached,
    /// Asking for pre-votes before standing (KIP-996).
    Prospective,
    /// Standing for election in its epoch.
    Candidate,
    /// Leading its epoch.
    Leader,
    /// Following the epoch's leader.
    Follower,
    /// A leader that gave up its epoch and waits for the next election.
    Resigned,
}

/// An expired timer, and what it calls for.
enum Due {
    /// Stand for election (after `retries` lost ones).
    Stand(u32),
    /// The election timed out: back off before the next.
    BackOff,
    /// Check quorum failed: resign, naming these successors.
    Resign(Vec<NodeId>),
    Nothing,
}

#[derive(Clone, Debug)]
enum Role {
    Unattached {
        voted: Option<NodeId>,
        election_deadline_ms: u64,
    },
    /// Keeps the vote it cast in its epoch, which it must not cast again.
    Prospective {
        ballot: Ballot,
        voted: Option<NodeId>,
    },
    Candidate(Ballot),
    Leader(LeaderState),
    Follower {
        leader: NodeId,
        fetch_deadline_ms: u64,
        has_fetched: bool,
        /// An observer whose fetch timeout passed: it asks the voters in turn (still
        /// following `leader`) until the leader answers a fetch.
        searching: bool,
    },
    Resigned {
        election_deadline_ms: u64,
        unacknowledged: BTreeSet<NodeId>,
        successors: Vec<NodeId>,
    },
}

/// One voter of the quorum.
#[derive(Clone, Debug)]
pub struct QuorumNode<R> {
    me: NodeId,
    voters: Vec<NodeId>,
    config: QuorumConfig,
    epoch: Epoch,
    role: Role,
    log: RaftLog<R>,
    /// The highest offset known committed; never moves back.
    high_watermark: Option<Offset>,
    /// When each outstanding request is given up (sent again): one per destination
    /// (`RequestManager`).
    in_flight: BTreeMap<NodeId, u64>,
    /// An observer's turn through the voters while it looks for the leader.
    bootstrap_turn: usize,
    /// Requests to each peer that failed in a row, for the reconnect backoff.
    failures: BTreeMap<NodeId, u32>,
    /// Fetches held until there is something new, one per follower (Kafka's
    /// `fetchPurgatory`).
    parked: BTreeMap<NodeId, ParkedFetch>,
    /// The answers to held fetches that a change of role completed, to go out with what
    /// the call that changed it returns.
    answered_on_transition: Vec<Outbound<R>>,
}

impl<R: Clone> QuorumNode<R> {
    /// A voter starting from what it persisted: its election state and its log
    /// (`QuorumState.initialize`). A former leader starts resigned, so that it cannot
    /// vote again in its epoch; a former candidate stands again in the same epoch.
    pub fn start(
        me: NodeId,
        voters: &[NodeId],
        config: QuorumConfig,
        stored: ElectionState,
        log: RaftLog<R>,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Self {
        let mut voters = voters.to_vec();
        voters.sort_unstable();
        voters.dedup();
        let election_deadline_ms = now_ms + random_election_timeout_ms(&config, rng);
        let last_epoch = log.last_epoch();
        let (epoch, role) = if stored.epoch < last_epoch {
            (last_epoch, Role::Unattached { voted: None, election_deadline_ms })
        } else if stored.leader == Some(me) {
            let others = voters.iter().copied().filter(|&v| v != me).collect();
            (stored.epoch, Role::Resigned { election_deadline_ms, unacknowledged: others, successors: Vec::new() })
        } else if stored.voted == Some(me) {
            (stored.epoch, Role::Candidate(Ballot::new(me, 1, election_deadline_ms)))
        } else if let Some(voted) = stored.voted {
            (stored.epoch, Role::Unattached { voted: Some(voted), election_deadline_ms })
        } else if let Some(leader) = stored.leader {
            let fetch_deadline_ms = now_ms + config.fetch_timeout_ms;
            (stored.epoch, Role::Follower { leader, fetch_deadline_ms, has_fetched: false, searching: false })
        } else {
            (stored.epoch, Role::Unattached { voted: None, election_deadline_ms })
        };
        QuorumNode {
            me,
            voters,
            config,
            epoch,
            role,
            log,
            high_watermark: None,
            in_flight: BTreeMap::new(),
            bootstrap_turn: 0,
            failures: BTreeMap::new(),
            parked: BTreeMap::new(),
            answered_on_transition: Vec::new(),
        }
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// Whether this node votes (else it observes).
    pub fn is_voter(&self) -> bool {
        self.voters.binary_search(&self.me).is_ok()
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// Whether this node lost its current election (no majority granted its vote before
    /// the election timeout, or a majority refused it) and is backing off before standing
    /// again (Kafka's `CandidateState`/`ProspectiveState` backoff).
    pub fn election_lost(&self) -> bool {
        match &self.role {
            Role::Prospective { ballot, .. } | Role::Candidate(ballot) => ballot.backoff_until_ms.is_some(),
            _ => false,
        }
    }

    /// The current role.
    pub fn role(&self) -> RoleKind {
        match self.role {
            Role::Unattached { .. } => RoleKind::Unattached,
            Role::Prospective { .. } => RoleKind::Prospective,
            Role::Candidate(_) => RoleKind::Candidate,
            Role::Leader(_) => RoleKind::Leader,
            Role::Follower { .. } => RoleKind::Follower,
            Role::Resigned { .. } => RoleKind::Resigned,
        }
    }

    /// The leader of the current epoch as this node knows it.
    pub fn leader(&self) -> Option<NodeId> {
        match self.role {
            Role::Leader(_) | Role::Resigned { .. } => Some(self.me),
            Role::Follower { leader, .. } => Some(leader),
            _ => None,
        }
    }

    /// What the driver must persist before it sends anything this node returned.
    pub fn election_state(&self) -> ElectionState {
        let voted = match &self.role {
            Role::Unattached { voted, .. } | Role::Prospective { voted, .. } => *voted,
            Role::Candidate(_) => Some(self.me),
            _ => None,
        };
        ElectionState { epoch: self.epoch, leader: self.leader(), voted }
    }

    /// The replicated log.
    pub fn log(&self) -> &RaftLog<R> {
        &self.log
    }

    /// The highest offset this node knows committed (exclusive), if any.
    pub fn high_watermark(&self) -> Option<Offset> {
        self.high_watermark
    }

    /// Appends `records` as the leader, in its epoch, and returns the offset after them;
    /// `None` when this node does not lead.
    pub fn append(&mut self, records: Vec<R>) -> Option<(Offset, Vec<Outbound<R>>)> {
        let Role::Leader(_) = self.role else {
            return None;
        };
        for record in records {
            self.log.append(Entry { epoch: self.epoch, payload: Payload::Data(record) });
        }
        let out = self.leader_progress();
        Some((self.log.end_offset(), out))
    }

    /// The earliest time [`QuorumNode::tick`] has something to do.
    pub fn next_deadline_ms(&self) -> u64 {
        let role_deadline = match &self.role {
            Role::Unattached { election_deadline_ms, .. } | Role::Resigned { election_deadline_ms, .. } => {
                *election_deadline_ms
            }
            Role::Prospective { ballot: b, .. } | Role::Candidate(b) => {
                b.backoff_until_ms.unwrap_or(b.election_deadline_ms)
            }
            Role::Leader(l) if self.voters.len() > 1 => l.check_quorum_deadline_ms,
            Role::Leader(_) => u64::MAX,
            Role::Follower { fetch_deadline_ms, searching: false, .. } => *fetch_deadline_ms,
            Role::Follower { searching: true, .. } => u64::MAX,
        };
        let resend = self.in_flight.values().copied().min();
        let parked = self.parked.values().map(|p| p.expires_at_ms).min();
        role_deadline.min(resend.unwrap_or(u64::MAX)).min(parked.unwrap_or(u64::MAX))
    }

    /// Runs the timers due at `now_ms`: elections, fetch timeouts, check quorum, held
    /// fetches, and requests to send (again).
    pub fn tick(&mut self, now_ms: u64, rng: &mut impl Rng) -> Vec<Outbound<R>> {
        let before = self.in_flight.len();
        self.in_flight.retain(|_, due| *due > now_ms);
        if self.in_flight.len() < before {
            // An observer whose fetch went unanswered asks the next voter.
            self.next_bootstrap_voter();
        }
        let mut out = Vec::new();
        match self.due(now_ms) {
            Due::Stand(retries) => self.stand(now_ms, retries, rng),
            Due::BackOff => {
                if let Role::Prospective { ballot, .. } | Role::Candidate(ballot) = &mut self.role {
                    ballot.back_off(&self.config, now_ms, rng);
                }
            }
            Due::Resign(successors) => self.resign(successors, now_ms, rng),
            Due::Nothing => {}
        }
        out.extend(self.answer_expired_fetches(now_ms));
        out.append(&mut self.answered_on_transition);
        out.extend(self.send_requests(now_ms));
        out
    }

    /// Which timer of the current role has expired at `now_ms`.
    fn due(&self, now_ms: u64) -> Due {
        match &self.role {
            Role::Unattached { election_deadline_ms: deadline, .. }
            | Role::Resigned { election_deadline_ms: deadline, .. }
            | Role::Follower { fetch_deadline_ms: deadline, searching: false, .. }
                if now_ms >= *deadline =>
            {
                Due::Stand(0)
            }
            Role::Prospective { ballot, .. } | Role::Candidate(ballot) => match ballot.backoff_until_ms {
                Some(until) if now_ms >= until => Due::Stand(ballot.retries),
                None if now_ms >= ballot.election_deadline_ms => Due::BackOff,
                _ => Due::Nothing,
            },
            Role::Leader(leader) if self.voters.len() > 1 && now_ms >= leader.check_quorum_deadline_ms => {
                Due::Resign(leader.successors_by_descending_end_offset())
            }
            _ => Due::Nothing,
        }
    }

    /// A clean shutdown (`KafkaRaftClient.shutdown`): a leader resigns and tells the
    /// other voters with EndQuorumEpoch, longest log first as successors, so that one of
    /// them stands at once instead of waiting out its fetch timeout. Returns what to send
    /// before the process exits. Simplified: Kafka's leader also waits (up to the
    /// shutdown timeout) for the voters to acknowledge; here EndQuorumEpoch has no answer.
    pub fn shut_down(&mut self, now_ms: u64, rng: &mut impl Rng) -> Vec<Outbound<R>> {
        if let Role::Leader(leader) = &self.role {
            let successors = leader.successors_by_descending_end_offset();
            self.resign(successors, now_ms, rng);
        }
        let mut out = std::mem::take(&mut self.answered_on_transition);
        out.extend(self.send_requests(now_ms));
        out
    }

    /// The request to `to` failed without an answer (the connection was refused or
    /// reset): it is sent again after `controller.quorum.retry.backoff.ms`, and an
    /// observer asks the next voter meanwhile (`RequestManager.onResponseResult`).
    pub fn request_failed(&mut self, to: NodeId, now_ms: u64) {
        let failures = self.failures.entry(to).or_insert(0);
        // The connection itself is retried with the network client's exponential
        // reconnect backoff (`reconnect.backoff.ms` 50 up to `reconnect.backoff.max.ms`
        // 1000, without its jitter).
        let reconnect_ms = (RECONNECT_BACKOFF_MS << (*failures).min(10)).min(RECONNECT_BACKOFF_MAX_MS);
        *failures += 1;
        if let Some(due) = self.in_flight.get_mut(&to) {
            *due = now_ms + self.config.retry_backoff_ms.max(reconnect_ms);
            self.next_bootstrap_voter();
        }
    }

    /// Handles one message from `from`, and returns what to send.
    pub fn handle(
        &mut self,
        from: NodeId,
        message: QuorumMessage<R>,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Vec<Outbound<R>> {
        self.failures.remove(&from);
        let mut out = Vec::new();
        match message {
            QuorumMessage::Vote { epoch, last, pre_vote } => {
                out.push(self.on_vote(from, epoch, last, pre_vote, now_ms, rng));
            }
            QuorumMessage::VoteResponse { epoch, leader, granted, pre_vote, error } => {
                self.in_flight.remove(&from);
                if !self.common_response(epoch, leader, error, now_ms, rng) {
                    self.on_vote_response(from, epoch, granted, pre_vote, now_ms, rng);
                }
            }
            QuorumMessage::BeginQuorumEpoch { epoch } => {
                let error = if epoch < self.epoch {
                    Some(QuorumError::FencedLeaderEpoch)
                } else {
                    self.maybe_transition(Some(from), epoch, now_ms, rng);
                    None
                };
                let message = QuorumMessage::BeginQuorumEpochResponse { epoch: self.epoch, error };
                out.push(Outbound { to: from, message });
            }
            QuorumMessage::BeginQuorumEpochResponse { epoch, error } => {
                self.in_flight.remove(&from);
                if !self.common_response(epoch, None, error, now_ms, rng) {
                    if let Role::Leader(leader) = &mut self.role {
                        leader.acknowledged.insert(from);
                    }
                }
            }
            QuorumMessage::EndQuorumEpoch { epoch, preferred_successors } => {
                self.on_end_quorum_epoch(from, epoch, &preferred_successors, now_ms, rng);
            }
            QuorumMessage::Fetch { epoch, fetch_offset, last_fetched_epoch } => {
                out.extend(self.on_fetch(from, epoch, fetch_offset, last_fetched_epoch, now_ms));
            }
            QuorumMessage::FetchResponse { epoch, leader, error, diverging, from_offset, entries, high_watermark } => {
                self.in_flight.remove(&from);
                if !self.common_response(epoch, leader, error, now_ms, rng) {
                    self.on_fetch_response(from, diverging, from_offset, entries, high_watermark, now_ms);
                }
                // A voter that answered without naming a leader the observer can follow:
                // the next one.
                self.next_bootstrap_voter();
            }
        }
        out.append(&mut self.answered_on_transition);
        out.extend(self.send_requests(now_ms));
        out
    }

    // ---- transitions ----

    /// Stands for election after a timeout: a pre-vote first when KIP-996 is on, else a
    /// candidacy in the next epoch.
    fn stand(&mut self, now_ms: u64, retries: u32, rng: &mut impl Rng) {
        if !self.is_voter() {
            // An observer never stands: it looks for the leader at the next voter, still
            // following the leader it knows, if any.
            self.bootstrap_turn += 1;
            if let Role::Follower { searching, .. } = &mut self.role {
                *searching = true;
                return;
            }
            let election_deadline_ms = now_ms + random_election_timeout_ms(&self.config, rng);
            self.enter(Role::Unattached { voted: None, election_deadline_ms });
            return;
        }
        if self.config.pre_vote && self.voters.len() > 1 {
            let voted = self.election_state().voted;
            let ballot = Ballot::new(self.me, retries, now_ms + random_election_timeout_ms(&self.config, rng));
            self.enter(Role::Prospective { ballot, voted });
        } else {
            self.become_candidate(now_ms, retries, rng);
        }
    }

    /// `transitionToCandidate`: the next epoch, a vote for itself.
    fn become_candidate(&mut self, now_ms: u64, retries: u32, rng: &mut impl Rng) {
        self.epoch += 1;
        let election_deadline_ms = now_ms + random_election_timeout_ms(&self.config, rng);
        self.enter(Role::Candidate(Ballot::new(self.me, retries, election_deadline_ms)));
        self.maybe_become_leader(now_ms);
    }

    fn maybe_become_leader(&mut self, now_ms: u64) {
        let Role::Candidate(ballot) = &self.role else {
            return;
        };
        if ballot.granted.len() < self.majority() {
            return;
        }
        // `onBecomeLeader`: a LeaderChange entry at once, so that the new leader can
        // commit an entry of its epoch and with it everything before.
        let epoch_start_offset = self.log.end_offset();
        let deadline = now_ms + self.config.check_quorum_timeout_ms();
        let leader = LeaderState::new(self.me, &self.voters, epoch_start_offset, deadline, self.config.plant);
        self.enter(Role::Leader(leader));
        self.log.append(Entry { epoch: self.epoch, payload: Payload::LeaderChange });
        // A lone voter commits it at once. Fetches still held from an older leadership
        // are answered with its error (`tryCompleteFetchRequest` on completion).
        let answers = self.leader_progress();
        self.answered_on_transition.extend(answers);
    }

    fn become_follower(&mut self, epoch: Epoch, leader: NodeId, now_ms: u64) {
        self.epoch = epoch;
        let fetch_deadline_ms = now_ms + self.config.fetch_timeout_ms;
        self.enter(Role::Follower { leader, fetch_deadline_ms, has_fetched: false, searching: false });
    }

    /// `QuorumState.transitionToUnattached`: a higher epoch without a leader. An
    /// unattached voter or a candidate keeps the election time it has left, so that a
    /// stream of new epochs (a candidate that keeps losing) cannot hold off its own
    /// candidacy for ever; the other roles draw a new timeout.
    fn become_unattached(&mut self, epoch: Epoch, now_ms: u64, rng: &mut impl Rng) {
        let election_deadline_ms = match &self.role {
            Role::Unattached { election_deadline_ms, .. } => *election_deadline_ms,
            Role::Candidate(ballot) => ballot.election_deadline_ms,
            _ => now_ms + random_election_timeout_ms(&self.config, rng),
        };
        self.epoch = epoch;
        self.enter(Role::Unattached { voted: None, election_deadline_ms });
    }

    /// `transitionToResigned`: gives up the epoch and tells the voters, longest log first.
    fn resign(&mut self, successors: Vec<NodeId>, now_ms: u64, rng: &mut impl Rng) {
        let unacknowledged = self.voters.iter().copied().filter(|&v| v != self.me).collect();
        let election_deadline_ms = now_ms + random_election_timeout_ms(&self.config, rng);
        self.enter(Role::Resigned { election_deadline_ms, unacknowledged, successors });
    }

    /// Takes up `role`; its requests start afresh (Kafka's `resetConnections` on every
    /// transition). A follower or a resigned leader answers the fetches it held at once
    /// with NOT_LEADER_OR_FOLLOWER, so that their senders fetch again from the leader
    /// without waiting for the fetches to expire (`KafkaRaftClient.onBecomeFollower` and
    /// `transitionToResigned` complete the fetch purgatory exceptionally); a leader that
    /// becomes unattached keeps them, answered when they expire
    /// ([`answer_expired_fetches`](Self::answer_expired_fetches)), as Kafka's
    /// `transitionToUnattached` does.
    fn enter(&mut self, role: Role) {
        self.in_flight.clear();
        self.role = role;
        if matches!(self.role, Role::Follower { .. } | Role::Resigned { .. }) {
            for (to, parked) in std::mem::take(&mut self.parked) {
                let error = QuorumError::NotLeaderOrFollower;
                self.answered_on_transition.push(self.fetch_error(to, error, parked.fetch_offset));
            }
        }
    }

    /// `KafkaRaftClient.maybeTransition`: a message showed `epoch` and perhaps its leader.
    fn maybe_transition(&mut self, leader: Option<NodeId>, epoch: Epoch, now_ms: u64, rng: &mut impl Rng) {
        let leader = leader.filter(|&l| l != self.me);
        if epoch > self.epoch {
            match leader {
                Some(l) => self.become_follower(epoch, l, now_ms),
                None => self.become_unattached(epoch, now_ms, rng),
            }
        } else if epoch == self.epoch && self.leader().is_none() {
            if let Some(l) = leader {
                self.become_follower(epoch, l, now_ms);
            }
        }
    }

    /// `maybeHandleCommonResponse`: returns true when the response is fully handled
    /// (stale, or it changed this node's epoch or leader, or an error).
    fn common_response(
        &mut self,
        epoch: Epoch,
        leader: Option<NodeId>,
        error: Option<QuorumError>,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> bool {
        if epoch < self.epoch || error == Some(QuorumError::UnknownLeaderEpoch) {
            return true;
        }
        if epoch > self.epoch
            || matches!(error, Some(QuorumError::FencedLeaderEpoch | QuorumError::NotLeaderOrFollower))
        {
            self.maybe_transition(leader, epoch, now_ms, rng);
            return true;
        }
        if let Some(l) = leader.filter(|&l| l != self.me) {
            if self.leader().is_none() {
                self.become_follower(epoch, l, now_ms);
                return error.is_some();
            }
        }
        error.is_some()
    }

    /// The requests this role keeps sending, to each destination without one in flight.
    fn send_requests(&mut self, now_ms: u64) -> Vec<Outbound<R>> {
        let last = self.log.end_offset_and_epoch();
        let fetch =
            QuorumMessage::Fetch { epoch: self.epoch, fetch_offset: last.offset, last_fetched_epoch: last.epoch };
        let wanted: Vec<(NodeId, QuorumMessage<R>)> = match &self.role {
            Role::Prospective { ballot: b, .. } | Role::Candidate(b) if b.backoff_until_ms.is_none() => {
                let pre_vote = matches!(self.role, Role::Prospective { .. });
                self.voters
                    .iter()
                    .filter(|v| !b.granted.contains(v) && !b.rejected.contains(v))
                    .map(|&v| (v, QuorumMessage::Vote { epoch: self.epoch, last, pre_vote }))
                    .collect()
            }
            Role::Leader(l) => self
                .voters
                .iter()
                .filter(|&&v| v != self.me && !l.acknowledged.contains(&v))
                .map(|&v| (v, QuorumMessage::BeginQuorumEpoch { epoch: self.epoch }))
                .collect(),
            // An observer looking for its leader (none known, or its leader silent): one
            // fetch at a time, to the next voter, as Kafka's observer sends.
            Role::Follower { searching: true, .. } | Role::Unattached { .. }
                if !self.is_voter() && !self.voters.is_empty() =>
            {
                let next = self.voters[self.bootstrap_turn % self.voters.len()];
                self.in_flight.is_empty().then_some((next, fetch)).into_iter().collect()
            }
            Role::Follower { leader, .. } => vec![(*leader, fetch)],
            Role::Resigned { unacknowledged, successors, .. } => unacknowledged
                .iter()
                .map(|&v| {
                    let message =
                        QuorumMessage::EndQuorumEpoch { epoch: self.epoch, preferred_successors: successors.clone() };
                    (v, message)
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut out = Vec::new();
        for (to, message) in wanted {
            if self.in_flight.contains_key(&to) {
                continue;
            }
            // EndQuorumEpoch has no answer in this model: sent once per voter.
            if let Role::Resigned { unacknowledged, .. } = &mut self.role {
                unacknowledged.remove(&to);
            } else {
                self.in_flight.insert(to, now_ms + self.config.request_timeout_ms);
            }
            out.push(Outbound { to, message });
        }
        out
    }

    /// An observer without a leader, or searching for its leader, moves on to the next
    /// voter to ask (`RequestManager.findReadyBootstrapServer`, in id order rather than
    /// at random).
    fn next_bootstrap_voter(&mut self) {
        let searching = matches!(self.role, Role::Unattached { .. } | Role::Follower { searching: true, .. });
        if !self.is_voter() && searching {
            self.bootstrap_turn += 1;
        }
    }

    fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}
