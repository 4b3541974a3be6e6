//! The quorum as a whole: voters driven over an in-memory network with delays, drops,
//! partitions and crashes, checked for Raft's safety properties (one leader per epoch,
//! committed entries never change, a new leader holds every committed entry) and for
//! liveness once the faults end. Pre-vote is checked against the disruption it prevents.

use super::*;
use crate::protocol::NodeId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

/// A message on the wire.
struct InFlight {
    from: NodeId,
    to: NodeId,
    message: QuorumMessage<u32>,
}

/// A quorum on an in-memory network, and what the checks remember.
struct Quorum {
    config: QuorumConfig,
    ids: Vec<NodeId>,
    /// Running voters; a crashed one is absent and restarts from `stored`.
    nodes: BTreeMap<NodeId, QuorumNode<u32>>,
    stored: BTreeMap<NodeId, (ElectionState, RaftLog<u32>)>,
    /// Deliveries by (time, sequence).
    wire: BTreeMap<(u64, u64), InFlight>,
    sequence: u64,
    /// Links cut, both ways.
    cut: BTreeSet<(NodeId, NodeId)>,
    drop_rate: f64,
    now_ms: u64,
    rng: StdRng,
    /// The leader seen in each epoch.
    leaders: BTreeMap<Epoch, NodeId>,
    /// The longest committed prefix any voter has shown, each entry with the epoch of
    /// the voter that first showed it committed.
    committed: Vec<(Entry<u32>, Epoch)>,
    next_value: u32,
}

impl Quorum {
    fn new(voters: u32, config: QuorumConfig, seed: u64) -> Self {
        let ids: Vec<NodeId> = (1..=voters).map(NodeId).collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let nodes = ids
            .iter()
            .map(|&id| {
                (id, QuorumNode::start(id, &ids, config, ElectionState::default(), RaftLog::default(), 0, &mut rng))
            })
            .collect();
        Quorum {
            config,
            ids,
            nodes,
            stored: BTreeMap::new(),
            wire: BTreeMap::new(),
            sequence: 0,
            cut: BTreeSet::new(),
            drop_rate: 0.0,
            now_ms: 0,
            rng,
            leaders: BTreeMap::new(),
            committed: Vec::new(),
            next_value: 0,
        }
    }

    fn send(&mut self, from: NodeId, out: Vec<Outbound<u32>>) {
        for Outbound { to, message } in out {
            if self.cut.contains(&(from, to)) || self.rng.gen_bool(self.drop_rate) {
                continue;
            }
            let at = self.now_ms + self.rng.gen_range(1..=5);
            self.sequence += 1;
            self.wire.insert((at, self.sequence), InFlight { from, to, message });
        }
    }

    /// Runs until `until_ms`, appending a record to the leader every `append_every_ms`.
    fn run_until(&mut self, until_ms: u64, append_every_ms: Option<u64>) {
        while self.now_ms < until_ms {
            self.now_ms += 1;
            while let Some(entry) = self.wire.first_entry() {
                if entry.key().0 > self.now_ms {
                    break;
                }
                let InFlight { from, to, message } = entry.remove();
                let (now, rng) = (self.now_ms, &mut self.rng);
                if let Some(node) = self.nodes.get_mut(&to) {
                    let out = node.handle(from, message, now, rng);
                    self.send(to, out);
                }
            }
            let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
            for id in ids {
                let node = self.nodes.get_mut(&id).expect("listed");
                if node.next_deadline_ms() <= self.now_ms {
                    let out = node.tick(self.now_ms, &mut self.rng);
                    self.send(id, out);
                }
            }
            if append_every_ms.is_some_and(|every| self.now_ms.is_multiple_of(every)) {
                self.append_to_leader();
            }
            self.check_election_safety();
            // Comparing whole committed prefixes is the costly check: every 10 ms.
            if self.now_ms.is_multiple_of(10) {
                self.check_committed_entries();
            }
        }
    }

    fn append_to_leader(&mut self) {
        let leader =
            self.nodes.values().filter(|n| n.role() == RoleKind::Leader).max_by_key(|n| n.epoch()).map(|n| n.id());
        if let Some(id) = leader {
            self.next_value += 1;
            let value = self.next_value;
            let (_, out) = self.nodes.get_mut(&id).expect("running").append(vec![value]).expect("leads");
            self.send(id, out);
        }
    }

    /// Election safety: at most one leader per epoch.
    fn check_election_safety(&mut self) {
        for node in self.nodes.values().filter(|n| n.role() == RoleKind::Leader) {
            let first = *self.leaders.entry(node.epoch()).or_insert(node.id());
            assert_eq!(first, node.id(), "two leaders in epoch {} at {} ms", node.epoch(), self.now_ms);
        }
    }

    /// Committed entries never change, and leader completeness: a leader holds every
    /// entry committed before its epoch.
    fn check_committed_entries(&mut self) {
        for node in self.nodes.values() {
            if node.role() == RoleKind::Leader {
                // Leader completeness: what was committed before its epoch is in its log.
                let log = node.log();
                let mut earlier = self.committed.iter().enumerate().filter(|(_, (_, e))| *e < node.epoch());
                assert!(
                    earlier.all(|(o, (entry, _))| log.get(o as u64) == Some(entry)),
                    "leader {} of epoch {} lacks a committed entry at {} ms",
                    node.id(),
                    node.epoch(),
                    self.now_ms
                );
            }
            let Some(hw) = node.high_watermark() else { continue };
            assert!(hw <= node.log().end_offset(), "node {} has a high watermark past its log", node.id());
            for offset in 0..hw {
                let entry = node.log().get(offset).expect("below the end");
                match self.committed.get(offset as usize).map(|(e, _)| e) {
                    Some(committed) => assert_eq!(
                        committed,
                        entry,
                        "node {} holds another entry at committed offset {offset} at {} ms",
                        node.id(),
                        self.now_ms
                    ),
                    None => self.committed.push((entry.clone(), node.epoch())),
                }
            }
        }
    }

    /// Starts a node that replicates the log without a vote (a broker).
    fn add_observer(&mut self, id: NodeId) {
        let node = QuorumNode::start(
            id,
            &self.ids,
            self.config,
            ElectionState::default(),
            RaftLog::default(),
            0,
            &mut self.rng,
        );
        assert!(!node.is_voter());
        self.nodes.insert(id, node);
    }

    fn crash(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.remove(&id) {
            self.stored.insert(id, (node.election_state(), node.log().clone()));
        }
    }

    fn restart(&mut self, id: NodeId) {
        if let Some((state, log)) = self.stored.remove(&id) {
            let node = QuorumNode::start(id, &self.ids, self.config, state, log, self.now_ms, &mut self.rng);
            self.nodes.insert(id, node);
        }
    }

    fn isolate(&mut self, id: NodeId) {
        for &other in &self.ids {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn describe(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .values()
            .map(|n| {
                format!(
                    "{}: {:?} e{} leader {:?} end {:?} hw {:?}",
                    n.id(),
                    n.role(),
                    n.epoch(),
                    n.leader(),
                    n.log().end_offset_and_epoch(),
                    n.high_watermark()
                )
            })
            .collect();
        format!("at {} ms: {}", self.now_ms, nodes.join("; "))
    }

    /// The one leader of the highest epoch, if every running voter follows it.
    fn settled_leader(&self) -> Option<NodeId> {
        let epoch = self.nodes.values().map(|n| n.epoch()).max()?;
        let leader = self.nodes.values().find(|n| n.role() == RoleKind::Leader && n.epoch() == epoch)?.id();
        self.nodes.values().all(|n| n.epoch() == epoch && n.leader() == Some(leader)).then_some(leader)
    }
}

#[test]
fn three_voters_elect_one_leader_and_replicate() {
    let mut q = Quorum::new(3, QuorumConfig::default(), 1);
    q.run_until(5_000, None);
    let leader = q.settled_leader().expect("a leader within 5 s");
    q.run_until(10_000, Some(20));
    let end = q.nodes[&leader].log().end_offset();
    q.run_until(12_000, None);
    for node in q.nodes.values() {
        assert_eq!(node.high_watermark(), Some(end), "node {} is current", node.id());
        assert_eq!(node.log(), q.nodes[&leader].log());
    }
}

#[test]
fn an_observer_replicates_the_committed_log_without_voting_and_finds_the_next_leader() {
    let observer = NodeId(100);
    let mut q = Quorum::new(3, QuorumConfig::default(), 7);
    q.add_observer(observer);
    q.run_until(5_000, Some(20));
    let leader = q.settled_leader().expect("a leader the observer follows within 5 s");
    q.crash(leader);
    q.run_until(15_000, Some(20));
    let next = q.settled_leader().unwrap_or_else(|| panic!("no leader followed by all: {}", q.describe()));
    assert_ne!(next, leader);
    q.run_until(17_000, None);
    let (seen, next) = (&q.nodes[&observer], &q.nodes[&next]);
    assert_eq!(seen.log(), next.log());
    assert_eq!(seen.high_watermark(), next.high_watermark());
    assert_eq!(seen.election_state().voted, None, "an observer never votes nor stands");
    assert!(q.leaders.values().all(|&l| l != observer));
}

#[test]
fn an_observer_cut_off_from_its_leader_keeps_naming_it_while_it_asks_the_other_voters() {
    let observer = NodeId(100);
    let mut q = Quorum::new(3, QuorumConfig::default(), 7);
    q.add_observer(observer);
    q.run_until(5_000, Some(20));
    let leader = q.settled_leader().expect("a leader the observer follows within 5 s");
    // Only the observer's links with the leader fail, for three fetch timeouts: the
    // voters keep their leader, and the observer, which asks them in turn, hears of no
    // other. Kafka's observer stays in `FollowerState` meanwhile (`pollFollowerAsObserver`),
    // so its broker keeps sending heartbeats to the active controller it knows.
    q.cut.insert((observer, leader));
    q.cut.insert((leader, observer));
    let until = q.now_ms + 3 * q.config.fetch_timeout_ms;
    while q.now_ms < until {
        let next = q.now_ms + 1;
        q.run_until(next, Some(20));
        assert_eq!(q.nodes[&observer].leader(), Some(leader), "at {} ms: {}", q.now_ms, q.describe());
    }
    assert_eq!(q.settled_leader(), Some(leader));
    q.heal();
    q.run_until(q.now_ms + 3_000, None);
    let (seen, leads) = (&q.nodes[&observer], &q.nodes[&leader]);
    assert_eq!(seen.log(), leads.log(), "caught up once the leader answers again");
    assert_eq!(seen.high_watermark(), leads.high_watermark());
}

#[test]
fn a_single_voter_leads_at_once_and_commits_alone() {
    let mut q = Quorum::new(1, QuorumConfig::default(), 1);
    q.run_until(3_000, Some(10));
    let node = &q.nodes[&NodeId(1)];
    assert_eq!(node.role(), RoleKind::Leader);
    assert_eq!(node.high_watermark(), Some(node.log().end_offset()));
}

#[test]
fn a_leader_cut_off_from_the_majority_resigns_and_the_rest_elect_another() {
    let mut q = Quorum::new(3, QuorumConfig::default(), 2);
    q.run_until(5_000, Some(20));
    let old = q.settled_leader().expect("a leader");
    let old_epoch = q.nodes[&old].epoch();
    q.isolate(old);
    // Check quorum: 1.5 × fetch timeout without a majority's fetches.
    q.run_until(5_000 + q.config.check_quorum_timeout_ms() + 100, Some(20));
    assert_ne!(q.nodes[&old].role(), RoleKind::Leader, "the cut-off leader resigned");
    q.run_until(15_000, Some(20));
    let new = q.nodes.values().find(|n| n.id() != old && n.role() == RoleKind::Leader);
    let (new, new_epoch) = new.map(|n| (n.id(), n.epoch())).expect("the majority elected a leader");
    assert!(new_epoch > old_epoch);
    q.heal();
    q.run_until(25_000, None);
    // The old leader, back, learns the new epoch and follows (with pre-vote it cannot
    // unseat the new leader).
    assert_eq!(q.settled_leader(), Some(new), "after the heal every voter follows the new leader");
}

#[test]
fn a_minority_cannot_commit_and_its_entries_are_truncated_after_the_heal() {
    let mut q = Quorum::new(5, QuorumConfig::default(), 3);
    q.run_until(5_000, Some(20));
    let old = q.settled_leader().expect("a leader");
    let follower = *q.ids.iter().find(|&&id| id != old).expect("five voters");
    // The leader and one follower on one side, three voters on the other.
    for &a in &[old, follower] {
        for &b in &q.ids {
            if b != old && b != follower {
                q.cut.insert((a, b));
                q.cut.insert((b, a));
            }
        }
    }
    let committed_before = q.committed.len();
    // The old leader takes appends it cannot commit until it resigns.
    for _ in 0..20 {
        q.next_value += 1;
        let value = q.next_value;
        let (_, out) = q.nodes.get_mut(&old).unwrap().append(vec![value]).expect("still leads");
        q.send(old, out);
    }
    q.run_until(15_000, Some(20));
    assert!(q.nodes[&old].high_watermark() <= Some(committed_before as u64 + 20));
    q.heal();
    q.run_until(30_000, Some(20));
    let leader = q.settled_leader().expect("settled after the heal");
    q.run_until(32_000, None);
    for node in q.nodes.values() {
        assert_eq!(node.log(), q.nodes[&leader].log(), "node {} matches the leader", node.id());
    }
}

#[test]
fn safety_holds_under_random_crashes_partitions_and_drops_and_the_quorum_recovers() {
    for seed in 0..40 {
        let voters = [3, 5][seed as usize % 2];
        let config = QuorumConfig { pre_vote: seed % 4 < 2, ..QuorumConfig::default() };
        let mut q = Quorum::new(voters, config, seed);
        q.drop_rate = 0.05;
        let mut fault_rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        for round in 0..12u64 {
            let id = NodeId(fault_rng.gen_range(1..=voters));
            match fault_rng.gen_range(0..3) {
                0 => q.crash(id),
                1 => q.isolate(id),
                _ => {}
            }
            q.run_until((round + 1) * 2_500, Some(25));
            q.heal();
            for id in q.ids.clone() {
                if fault_rng.gen_bool(0.7) {
                    q.restart(id);
                }
            }
        }
        for id in q.ids.clone() {
            q.restart(id);
        }
        q.drop_rate = 0.0;
        let faults_end = q.now_ms;
        q.run_until(faults_end + 20_000, Some(25));
        let leader = q
            .settled_leader()
            .unwrap_or_else(|| panic!("seed {seed}: no settled leader 20 s after the faults: {}", q.describe()));
        q.run_until(faults_end + 23_000, None);
        let end = q.nodes[&leader].log().end_offset();
        for node in q.nodes.values() {
            assert_eq!(node.high_watermark(), Some(end), "seed {seed}: node {} is current", node.id());
        }
        assert!(q.committed.len() > 100, "seed {seed}: the quorum made progress");
    }
}

/// A voter cut off for a while, then back: how many epochs the quorum went through.
fn epochs_after_a_voter_returns(pre_vote: bool, seed: u64) -> (Epoch, Epoch) {
    let mut q = Quorum::new(3, QuorumConfig { pre_vote, ..QuorumConfig::default() }, seed);
    q.run_until(5_000, Some(20));
    let leader = q.settled_leader().expect("a leader");
    let before = q.nodes[&leader].epoch();
    let outsider = *q.ids.iter().find(|&&id| id != leader).expect("three voters");
    q.isolate(outsider);
    q.run_until(20_000, Some(20));
    q.heal();
    q.run_until(30_000, Some(20));
    q.settled_leader().unwrap_or_else(|| panic!("seed {seed} pre-vote {pre_vote}: not settled: {}", q.describe()));
    (before, q.nodes[&leader].epoch().max(q.nodes.values().map(|n| n.epoch()).max().unwrap()))
}

#[test]
fn without_pre_vote_a_returning_voter_disrupts_the_leader_and_with_it_does_not() {
    for seed in 0..5 {
        let (before, after) = epochs_after_a_voter_returns(false, seed);
        assert!(after > before, "seed {seed}: the returning candidate's epoch forces an election");
        let (before, after) = epochs_after_a_voter_returns(true, seed);
        assert_eq!(after, before, "seed {seed}: pre-vote keeps the leader");
    }
}

#[test]
fn a_restarted_leader_starts_resigned_and_never_votes_twice_in_an_epoch() {
    let mut rng = StdRng::seed_from_u64(1);
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let stored = ElectionState { epoch: 4, leader: Some(NodeId(1)), voted: None };
    let mut node: QuorumNode<u32> =
        QuorumNode::start(NodeId(1), &ids, QuorumConfig::default(), stored, RaftLog::default(), 0, &mut rng);
    assert_eq!(node.role(), RoleKind::Resigned);
    let last = OffsetAndEpoch { epoch: 0, offset: 0 };
    let out = node.handle(NodeId(2), QuorumMessage::Vote { epoch: 4, last, pre_vote: false }, 1, &mut rng);
    assert!(matches!(out[0].message, QuorumMessage::VoteResponse { granted: false, .. }));

    let stored = ElectionState { epoch: 4, leader: None, voted: Some(NodeId(3)) };
    let mut node: QuorumNode<u32> =
        QuorumNode::start(NodeId(1), &ids, QuorumConfig::default(), stored, RaftLog::default(), 0, &mut rng);
    let out = node.handle(NodeId(2), QuorumMessage::Vote { epoch: 4, last, pre_vote: false }, 1, &mut rng);
    assert!(matches!(out[0].message, QuorumMessage::VoteResponse { granted: false, .. }), "voted for 3 in epoch 4");
    let out = node.handle(NodeId(3), QuorumMessage::Vote { epoch: 4, last, pre_vote: false }, 1, &mut rng);
    assert!(matches!(out[0].message, QuorumMessage::VoteResponse { granted: true, .. }), "the same vote again");
}

#[test]
fn planted_quorum_vote_twice_grants_a_second_candidate_of_the_epoch() {
    let mut rng = StdRng::seed_from_u64(1);
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let config = QuorumConfig { plant: Some(crate::plant::PlantedBug::QuorumVoteTwice), ..QuorumConfig::default() };
    let last = OffsetAndEpoch { epoch: 0, offset: 0 };
    let vote = QuorumMessage::Vote { epoch: 4, last, pre_vote: false };
    let granted = |out: &[Outbound<u32>]| matches!(out[0].message, QuorumMessage::VoteResponse { granted: true, .. });
    // A voter that voted for 3 in epoch 4 votes for 2 as well.
    let stored = ElectionState { epoch: 4, leader: None, voted: Some(NodeId(3)) };
    let mut node: QuorumNode<u32> = QuorumNode::start(NodeId(1), &ids, config, stored, RaftLog::default(), 0, &mut rng);
    assert!(granted(&node.handle(NodeId(2), vote.clone(), 1, &mut rng)));
    // A candidate of epoch 4 (it voted for itself) votes for another and stands on.
    let stored = ElectionState { epoch: 4, leader: None, voted: Some(NodeId(1)) };
    let mut node: QuorumNode<u32> = QuorumNode::start(NodeId(1), &ids, config, stored, RaftLog::default(), 0, &mut rng);
    assert_eq!(node.role(), RoleKind::Candidate);
    assert!(granted(&node.handle(NodeId(2), vote.clone(), 1, &mut rng)));
    assert_eq!(node.role(), RoleKind::Candidate);
    // Without the plant, neither votes.
    let mut node: QuorumNode<u32> =
        QuorumNode::start(NodeId(1), &ids, QuorumConfig::default(), stored, RaftLog::default(), 0, &mut rng);
    assert!(!granted(&node.handle(NodeId(2), vote, 1, &mut rng)));
}

#[test]
fn a_voter_refuses_a_candidate_whose_log_is_behind() {
    let mut rng = StdRng::seed_from_u64(1);
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let mut log = RaftLog::default();
    log.append(Entry { epoch: 2, payload: Payload::Data(7) });
    let stored = ElectionState { epoch: 2, leader: None, voted: None };
    let mut node = QuorumNode::start(NodeId(1), &ids, QuorumConfig::default(), stored, log, 0, &mut rng);
    let behind = OffsetAndEpoch { epoch: 1, offset: 5 };
    let out = node.handle(NodeId(2), QuorumMessage::Vote { epoch: 3, last: behind, pre_vote: false }, 1, &mut rng);
    assert!(matches!(out[0].message, QuorumMessage::VoteResponse { epoch: 3, granted: false, .. }));
    let level = OffsetAndEpoch { epoch: 2, offset: 1 };
    let out = node.handle(NodeId(3), QuorumMessage::Vote { epoch: 3, last: level, pre_vote: false }, 1, &mut rng);
    assert!(matches!(out[0].message, QuorumMessage::VoteResponse { epoch: 3, granted: true, .. }));
    assert_eq!(node.election_state(), ElectionState { epoch: 3, leader: None, voted: Some(NodeId(3)) });
}

#[test]
fn a_new_leader_reports_no_high_watermark_until_it_commits_an_entry_of_its_epoch() {
    let mut rng = StdRng::seed_from_u64(1);
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let config = QuorumConfig { pre_vote: false, ..QuorumConfig::default() };
    let mut log = RaftLog::default();
    for value in 0..3 {
        log.append(Entry { epoch: 1, payload: Payload::Data(value) });
    }
    let stored = ElectionState { epoch: 1, leader: Some(NodeId(2)), voted: None };
    let mut node = QuorumNode::start(NodeId(1), &ids, config, stored, log, 0, &mut rng);
    // As a follower it learns that all three entries are committed.
    let answer = QuorumMessage::FetchResponse {
        epoch: 1,
        leader: Some(NodeId(2)),
        error: None,
        diverging: None,
        from_offset: 3,
        entries: Vec::new(),
        high_watermark: Some(3),
    };
    node.handle(NodeId(2), answer, 1, &mut rng);
    assert_eq!(node.high_watermark(), Some(3));
    // The leader goes silent; this node stands and wins epoch 2 with voter 3's vote.
    node.tick(config.fetch_timeout_ms + 2, &mut rng);
    assert_eq!((node.role(), node.epoch()), (RoleKind::Candidate, 2));
    let vote = QuorumMessage::VoteResponse { epoch: 2, leader: None, granted: true, pre_vote: false, error: None };
    node.handle(NodeId(3), vote, config.fetch_timeout_ms + 3, &mut rng);
    assert_eq!(node.role(), RoleKind::Leader);
    let high_watermark_answered = |out: Vec<Outbound<u32>>| match out.first().map(|o| &o.message) {
        Some(QuorumMessage::FetchResponse { high_watermark, entries, .. }) => (*high_watermark, entries.len()),
        other => panic!("expected a fetch response, got {other:?}"),
    };
    // An observer starting from an empty log gets every entry but no high watermark:
    // Kafka's LeaderState has none before an entry of its epoch is committed.
    let fetch = |offset, epoch| QuorumMessage::Fetch { epoch: 2, fetch_offset: offset, last_fetched_epoch: epoch };
    let out = node.handle(NodeId(100), fetch(0, 0), config.fetch_timeout_ms + 4, &mut rng);
    assert_eq!(high_watermark_answered(out), (None, 4), "three entries and the LeaderChange");
    assert_eq!(node.high_watermark(), Some(3), "what it knew committed stays committed for itself");
    // Voter 3 fetches past the LeaderChange: committed, and from now on reported.
    node.handle(NodeId(3), fetch(4, 2), config.fetch_timeout_ms + 5, &mut rng);
    let out = node.handle(NodeId(100), fetch(0, 0), config.fetch_timeout_ms + 6, &mut rng);
    assert_eq!(high_watermark_answered(out), (Some(4), 4));
}

/// A leader of epoch 2 (node 1 of three, empty log but its LeaderChange entry) holding
/// voter 3's fetch at its log end, with the time it was parked.
fn leader_holding_a_fetch(rng: &mut StdRng) -> (QuorumNode<u32>, QuorumConfig, u64) {
    let ids = [NodeId(1), NodeId(2), NodeId(3)];
    let config = QuorumConfig { pre_vote: false, ..QuorumConfig::default() };
    let stored = ElectionState { epoch: 1, leader: Some(NodeId(2)), voted: None };
    let mut node = QuorumNode::start(NodeId(1), &ids, config, stored, RaftLog::default(), 0, rng);
    let mut now_ms = config.fetch_timeout_ms + 2;
    node.tick(now_ms, rng);
    let vote = QuorumMessage::VoteResponse { epoch: 2, leader: None, granted: true, pre_vote: false, error: None };
    node.handle(NodeId(3), vote, now_ms, rng);
    assert_eq!((node.role(), node.epoch()), (RoleKind::Leader, 2));
    let fetch = QuorumMessage::Fetch { epoch: 2, fetch_offset: 1, last_fetched_epoch: 2 };
    // The first fetch at the log end commits the LeaderChange and is answered; the next
    // finds nothing new and is held.
    now_ms += 1;
    assert!(answers_to(NodeId(3), &node.handle(NodeId(3), fetch.clone(), now_ms, rng)).len() == 1);
    now_ms += 1;
    assert!(answers_to(NodeId(3), &node.handle(NodeId(3), fetch, now_ms, rng)).is_empty(), "held");
    (node, config, now_ms)
}

/// The fetch responses among `out` addressed to `to`.
fn answers_to(to: NodeId, out: &[Outbound<u32>]) -> Vec<&QuorumMessage<u32>> {
    out.iter()
        .filter(|o| o.to == to && matches!(o.message, QuorumMessage::FetchResponse { .. }))
        .map(|o| &o.message)
        .collect()
}

#[test]
fn a_leader_that_follows_a_newer_one_answers_the_fetch_it_held_at_once_with_not_leader() {
    let mut rng = StdRng::seed_from_u64(1);
    let (mut node, _, now_ms) = leader_holding_a_fetch(&mut rng);
    // Voter 2 won epoch 3: `onBecomeFollower` completes the fetch purgatory.
    let out = node.handle(NodeId(2), QuorumMessage::BeginQuorumEpoch { epoch: 3 }, now_ms + 1, &mut rng);
    assert_eq!(node.role(), RoleKind::Follower);
    match answers_to(NodeId(3), &out)[..] {
        [QuorumMessage::FetchResponse {
            epoch: 3,
            leader: Some(NodeId(2)),
            error: Some(QuorumError::NotLeaderOrFollower),
            ..
        }] => {}
        ref other => panic!("expected NOT_LEADER_OR_FOLLOWER naming the new leader, got {other:?}"),
    }
    assert!(answers_to(NodeId(3), &node.tick(now_ms + 10_000, &mut rng)).is_empty(), "answered once");
}

#[test]
fn a_leader_that_becomes_unattached_answers_the_fetch_it_held_when_it_expires_as_it_was() {
    let mut rng = StdRng::seed_from_u64(1);
    let (mut node, config, now_ms) = leader_holding_a_fetch(&mut rng);
    // A vote request of epoch 3 (refused: node 2's log is behind) makes it unattached:
    // Kafka's `transitionToUnattached` leaves the fetch purgatory alone.
    let behind = OffsetAndEpoch { offset: 0, epoch: 0 };
    let vote = QuorumMessage::Vote { epoch: 3, last: behind, pre_vote: false };
    let out = node.handle(NodeId(2), vote, now_ms + 1, &mut rng);
    assert_eq!((node.role(), node.epoch()), (RoleKind::Unattached, 3));
    assert!(answers_to(NodeId(3), &out).is_empty(), "held on");
    assert!(answers_to(NodeId(3), &node.tick(now_ms + config.fetch_max_wait_ms - 1, &mut rng)).is_empty());
    assert!(node.next_deadline_ms() <= now_ms + config.fetch_max_wait_ms, "the driver wakes it by the expiry");
    let out = node.tick(now_ms + config.fetch_max_wait_ms, &mut rng);
    match answers_to(NodeId(3), &out)[..] {
        [QuorumMessage::FetchResponse {
            epoch: 2,
            leader: Some(NodeId(1)),
            error: None,
            high_watermark: Some(1),
            ..
        }] => {}
        ref other => panic!("expected the empty answer of epoch 2, got {other:?}"),
    }
}
