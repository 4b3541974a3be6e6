//! One consumer group's membership state machine on its coordinator (Kafka's
//! `GroupMetadata` + the join/sync parts of `GroupCoordinator`), with no waiting: the
//! coordinator task calls these transitions and answers the parked requests they release.
//!
//! States: `Empty` (no members) → `PreparingRebalance` (members rejoin) →
//! `CompletingRebalance` (the leader computes the assignment) → `Stable`. A join, a leave,
//! an expired session or a member that did not rejoin in time starts a new rebalance; every
//! completed join phase bumps the generation.

use crate::protocol::{ErrorCode, GroupMember, GroupResponse, TopicPartition};
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::oneshot;

/// Where a group is in its rebalance protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupState {
    /// No members.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Everyone has an assignment.
    Stable,
}

/// A parked JoinGroup or SyncGroup request.
pub type Reply = oneshot::Sender<GroupResponse>;

/// One member.
pub struct Member {
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// What it owned before (sticky assignor input).
    pub owned: Vec<TopicPartition>,
    /// The generation it owned `owned` in.
    pub owned_generation: Option<u32>,
    /// `session.timeout.ms`.
    pub session_timeout: Duration,
    /// `max.poll.interval.ms`: the longest a rebalance waits for it.
    pub rebalance_timeout: Duration,
    /// When the coordinator last heard from it.
    pub last_heard: Instant,
    /// Its JoinGroup, parked until the join phase ends.
    pub join_reply: Option<Reply>,
    /// Its SyncGroup, parked until the leader's assignment arrives.
    pub sync_reply: Option<Reply>,
    /// Its assignment in the current generation.
    pub assignment: Vec<TopicPartition>,
}

/// One group.
pub struct Group {
    /// The state.
    pub state: GroupState,
    /// The generation: bumped when each join phase completes.
    pub generation: u32,
    /// Members by id, in id order.
    pub members: BTreeMap<String, Member>,
    /// The leader (first member to join the current rebalance).
    pub leader: Option<String>,
    /// When the current join phase must end, however many members have rejoined.
    pub rebalance_deadline: Option<Instant>,
    /// Members created so far, to make member ids unique.
    next_member: u64,
}

impl Group {
    /// A new, empty group whose generations start after `generation`.
    pub fn new(generation: u32) -> Self {
        Group {
            state: GroupState::Empty,
            generation,
            members: BTreeMap::new(),
            leader: None,
            rebalance_deadline: None,
            next_member: 1,
        }
    }

    /// A member id for a new member of client `client_id`.
    pub fn new_member_id(&mut self, client_id: &str) -> String {
        let id = format!("{client_id}-{}", self.next_member);
        self.next_member += 1;
        id
    }

    /// Starts a rebalance (if one is not already under way): every member must rejoin
    /// within the largest rebalance timeout.
    pub fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        // Members parked in SyncGroup learn that the generation moved on.
        for member in self.members.values_mut() {
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced {
                    error: Some(ErrorCode::RebalanceInProgress),
                    assignment: Vec::new(),
                });
            }
        }
        let timeout = self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or(Duration::ZERO);
        self.state = GroupState::PreparingRebalance;
        self.leader = None;
        self.rebalance_deadline = Some(now + timeout);
    }

    /// Whether every member has rejoined, or the deadline passed.
    pub fn join_phase_done(&self, now: Instant) -> bool {
        self.state == GroupState::PreparingRebalance
            && (self.members.values().all(|m| m.join_reply.is_some())
                || self.rebalance_deadline.is_some_and(|d| now >= d))
    }

    /// Ends the join phase: members that did not rejoin are removed, the generation is
    /// bumped, and every parked join is answered (the leader gets the member list).
    pub fn complete_join(&mut self) {
        self.members.retain(|_, m| m.join_reply.is_some());
        self.generation += 1;
        self.rebalance_deadline = None;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            return;
        }
        let leader = self.leader.clone().filter(|l| self.members.contains_key(l));
        let leader = leader.unwrap_or_else(|| self.members.keys().next().expect("non-empty").clone());
        self.leader = Some(leader.clone());
        self.state = GroupState::CompletingRebalance;
        let roster: Vec<GroupMember> = self
            .members
            .iter()
            .map(|(id, m)| GroupMember {
                member_id: id.clone(),
                topics: m.topics.clone(),
                owned: m.owned.clone(),
                owned_generation: m.owned_generation,
            })
            .collect();
        for (id, member) in &mut self.members {
            member.assignment.clear();
            if let Some(reply) = member.join_reply.take() {
                let members = if *id == leader { roster.clone() } else { Vec::new() };
                let _ = reply.send(GroupResponse::Joined {
                    error: None,
                    generation: self.generation,
                    member_id: id.clone(),
                    leader: leader.clone(),
                    members,
                });
            }
        }
    }

    /// Applies the leader's assignment: the group is stable and every parked sync is
    /// answered.
    pub fn complete_sync(&mut self, assignments: Vec<(String, Vec<TopicPartition>)>) {
        let assigned: BTreeMap<String, Vec<TopicPartition>> = assignments.into_iter().collect();
        for (id, member) in &mut self.members {
            member.assignment = assigned.get(id).cloned().unwrap_or_default();
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced { error: None, assignment: member.assignment.clone() });
            }
        }
        self.state = GroupState::Stable;
    }

    /// Removes a member (left, or its session expired) and rebalances the rest.
    pub fn remove_member(&mut self, member_id: &str, now: Instant) {
        if let Some(mut member) = self.members.remove(member_id) {
            let error = Some(ErrorCode::UnknownMemberId);
            if let Some(reply) = member.join_reply.take() {
                let _ = reply.send(GroupResponse::Joined {
                    error,
                    generation: self.generation,
                    member_id: member_id.to_string(),
                    leader: String::new(),
                    members: Vec::new(),
                });
            }
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced { error, assignment: Vec::new() });
            }
        }
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.leader = None;
            self.rebalance_deadline = None;
        } else {
            self.prepare_rebalance(now);
        }
    }

    /// Members whose session expired by `now`.
    pub fn expired_members(&self, now: Instant) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.join_reply.is_none() && now.duration_since(m.last_heard) > m.session_timeout)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Whether a member may commit or heartbeat in `generation` (Kafka's generation and
    /// member checks).
    pub fn validate(&self, member_id: &str, generation: u32) -> Option<ErrorCode> {
        if !self.members.contains_key(member_id) {
            Some(ErrorCode::UnknownMemberId)
        } else if generation != self.generation {
            Some(ErrorCode::IllegalGeneration)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(now: Instant) -> Member {
        Member {
            topics: vec!["t".into()],
            owned: Vec::new(),
            owned_generation: None,
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            last_heard: now,
            join_reply: None,
            sync_reply: None,
            assignment: Vec::new(),
        }
    }

    #[test]
    fn a_join_phase_bumps_the_generation_and_only_the_leader_gets_the_roster() {
        let now = Instant::now();
        let mut group = Group::new(0);
        let (a, b) = (group.new_member_id("c"), group.new_member_id("c"));
        let (tx_a, mut rx_a) = oneshot::channel();
        let (tx_b, mut rx_b) = oneshot::channel();
        // b is a member from before; a joins and starts the rebalance.
        group.members.insert(b.clone(), member(now));
        group.members.insert(a.clone(), Member { join_reply: Some(tx_a), ..member(now) });
        group.leader = None;
        group.prepare_rebalance(now);
        group.leader = Some(a.clone());
        assert!(!group.join_phase_done(now));
        group.members.get_mut(&b).unwrap().join_reply = Some(tx_b);
        assert!(group.join_phase_done(now));
        group.complete_join();
        assert_eq!((group.generation, group.state), (1, GroupState::CompletingRebalance));
        let GroupResponse::Joined { members, leader, .. } = rx_a.try_recv().unwrap() else { panic!() };
        assert_eq!((leader.as_str(), members.len()), (a.as_str(), 2));
        let GroupResponse::Joined { members, .. } = rx_b.try_recv().unwrap() else { panic!() };
        assert!(members.is_empty());
        assert_eq!(group.validate(&b, 0), Some(ErrorCode::IllegalGeneration));
        assert_eq!(group.validate("nobody", 1), Some(ErrorCode::UnknownMemberId));
        assert_eq!(group.validate(&b, 1), None);
    }

    #[test]
    fn members_that_do_not_rejoin_before_the_deadline_are_dropped() {
        let now = Instant::now();
        let mut group = Group::new(4);
        group.members.insert("slow".into(), member(now));
        let (tx, _rx) = oneshot::channel();
        group.members.insert("quick".into(), Member { join_reply: Some(tx), ..member(now) });
        group.prepare_rebalance(now);
        assert!(!group.join_phase_done(now));
        assert!(group.join_phase_done(now + Duration::from_secs(31)));
        group.complete_join();
        assert_eq!(group.members.keys().collect::<Vec<_>>(), vec!["quick"]);
        assert_eq!(group.generation, 5);
    }
}
