//! One consumer group's membership state machine on its coordinator (Kafka's
//! `ClassicGroup` and the classic-protocol parts of the Java `GroupMetadataManager`), with
//! no waiting: the coordinator's request handlers and its timer loop call these
//! transitions and answer the parked requests they release.
//!
//! States: `Empty` (no members) → `PreparingRebalance` (members rejoin) →
//! `CompletingRebalance` (the leader computes the assignment) → `Stable`. A new member, a
//! leave, an expired session, the leader's rejoin or a member whose subscription changed
//! starts a rebalance. Every completed join phase bumps the generation by one
//! (`ClassicGroup.initNextGeneration`), so a group's generations are 1, 2, 3 …; they are
//! stored with the group's metadata and go on from there after a coordinator moves.
//!
//! The leader is the first member to join an empty group and stays leader while it is a
//! member (`ClassicGroup.add`); when it leaves or fails to rejoin, the first remaining
//! member in the members map's (Java `HashMap`) order takes over (`ClassicGroup.remove`).
//! The first rebalance of an empty group waits `group.initial.rebalance.delay.ms` even if
//! everyone has joined, longer while new members keep arriving, up to the rebalance
//! timeout (`tryCompleteInitialRebalanceElseSchedule`).

use super::records::{GroupMetadata, MemberMetadata};
use crate::protocol::{java, ErrorCode, GroupMember, GroupResponse, TopicPartition};
use madsim::rand::{thread_rng, Rng};
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
    /// The `client.id` it joined with.
    pub client_id: String,
    /// Its `group.instance.id`, if it is a static member (KIP-345).
    pub instance_id: Option<String>,
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
    /// When the coordinator last heard from it (its session expires a session timeout
    /// later).
    pub last_heard: Instant,
    /// Its JoinGroup, parked until the join phase ends.
    pub join_reply: Option<Reply>,
    /// Its SyncGroup, parked until the leader's assignment is stored.
    pub sync_reply: Option<Reply>,
    /// Its assignment in the current generation.
    pub assignment: Vec<TopicPartition>,
}

impl Member {
    /// Whether a rejoin carries the same subscription (Kafka's `ClassicGroupMember.matches`
    /// over the protocol metadata: topics and the sticky assignor's user data).
    fn matches(&self, other: &Member) -> bool {
        self.topics == other.topics && self.owned == other.owned && self.owned_generation == other.owned_generation
    }
}

/// What a static member's rejoin under a new member id leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticRejoin {
    /// The group is stable: store its metadata (the member's new id), then answer with
    /// the current generation (no rebalance).
    StoreThenAnswer,
    /// The member's join is parked in a rebalance, answered when its join phase ends.
    Parked,
}

/// How the current join phase ends (Kafka's delayed join operations).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinPhase {
    /// A rebalance of a group with members: it ends when every member has rejoined, or
    /// at the deadline without the others.
    Rejoin { deadline: Instant },
    /// The first rebalance of an empty group: it ends only at the deadline, which moves
    /// by `delay` while new members keep joining and `remaining` lasts.
    Initial { deadline: Instant, delay: Duration, remaining: Duration },
}

/// One group.
pub struct Group {
    /// The state.
    pub state: GroupState,
    /// The generation: bumped by one when each join phase completes.
    pub generation: u32,
    /// Members by id.
    pub members: BTreeMap<String, Member>,
    /// The leader.
    pub leader: Option<String>,
    /// How the current join phase ends (while preparing a rebalance).
    join_phase: Option<JoinPhase>,
    /// A member joined during the initial rebalance (Kafka's `newMemberAdded`).
    new_member_added: bool,
    /// `group.initial.rebalance.delay.ms`.
    initial_rebalance_delay: Duration,
    /// Set when the group became empty; the coordinator then writes its metadata.
    emptied: bool,
}

/// A new member id: the `client.id`, a dash and a random UUID, as Kafka's
/// `ClassicGroup.generateMemberId` makes them (drawn from the simulation's seeded
/// generator, so a run replays them).
pub fn new_member_id(client_id: &str) -> String {
    let bits: u128 = thread_rng().gen();
    // A version 4 UUID: the version nibble 4, the variant bits 10.
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{client_id}-{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn joined(members: Vec<GroupMember>, generation: u32, member_id: &str, leader: &str) -> GroupResponse {
    GroupResponse::Joined {
        error: None,
        generation,
        member_id: member_id.to_string(),
        leader: leader.to_string(),
        members,
    }
}

impl Group {
    /// A new, empty group.
    pub fn new(initial_rebalance_delay: Duration) -> Self {
        Group {
            state: GroupState::Empty,
            generation: 0,
            members: BTreeMap::new(),
            leader: None,
            join_phase: None,
            new_member_added: false,
            initial_rebalance_delay,
            emptied: false,
        }
    }

    /// The group a metadata record describes, as a coordinator loads it: stable in its
    /// generation (or empty), every member's session starting `now` (Kafka's `onLoaded`
    /// schedules every member's heartbeat expiration).
    pub fn loaded(metadata: GroupMetadata, initial_rebalance_delay: Duration, now: Instant) -> Self {
        let mut group = Group::new(initial_rebalance_delay);
        group.generation = metadata.generation;
        group.leader = metadata.leader;
        for m in metadata.members {
            let member = Member {
                client_id: m.client_id,
                instance_id: m.group_instance_id,
                topics: m.topics,
                owned: m.owned,
                owned_generation: m.owned_generation,
                session_timeout: Duration::from_millis(m.session_timeout_ms),
                rebalance_timeout: Duration::from_millis(m.rebalance_timeout_ms),
                last_heard: now,
                join_reply: None,
                sync_reply: None,
                assignment: m.assignment,
            };
            group.members.insert(m.member_id, member);
        }
        group.state = if group.members.is_empty() { GroupState::Empty } else { GroupState::Stable };
        group
    }

    /// The group's metadata with `assignment` as every member's assignment (a member it
    /// does not name gets none, as Kafka's `doSyncGroup` fills missing members).
    pub fn metadata(&self, assignment: &BTreeMap<String, Vec<TopicPartition>>) -> GroupMetadata {
        let members = self
            .members
            .iter()
            .map(|(id, m)| MemberMetadata {
                member_id: id.clone(),
                client_id: m.client_id.clone(),
                group_instance_id: m.instance_id.clone(),
                session_timeout_ms: m.session_timeout.as_millis() as u64,
                rebalance_timeout_ms: m.rebalance_timeout.as_millis() as u64,
                topics: m.topics.clone(),
                owned: m.owned.clone(),
                owned_generation: m.owned_generation,
                assignment: assignment.get(id).cloned().unwrap_or_default(),
            })
            .collect();
        GroupMetadata { generation: self.generation, leader: self.leader.clone(), members }
    }

    /// The group's metadata with every member's current assignment.
    pub fn current_metadata(&self) -> GroupMetadata {
        let assignment = self.members.iter().map(|(id, m)| (id.clone(), m.assignment.clone())).collect();
        self.metadata(&assignment)
    }

    /// Whether the group became empty since the last call (its metadata must be written).
    pub fn take_emptied(&mut self) -> bool {
        std::mem::take(&mut self.emptied)
    }

    /// The member ids in the order Kafka's members `HashMap` iterates them (member ids
    /// end in a random UUID, so insertion order only breaks ties within a bucket; id
    /// order stands in for it).
    fn members_in_map_order(&self) -> Vec<&str> {
        java::hash_map_order(self.members.keys().map(String::as_str))
    }

    /// A new member (its id just made by [`new_member_id`]) joins: Kafka's
    /// `addMemberThenRebalanceOrCompleteJoin`.
    pub fn add_member(&mut self, id: String, member: Member, now: Instant) {
        if matches!(self.join_phase, Some(JoinPhase::Initial { .. })) {
            self.new_member_added = true;
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        self.members.insert(id, member);
        self.rebalance_or_complete_join(now);
    }

    /// A known member rejoins with `update` (carrying its parked reply): Kafka's
    /// `classicGroupJoinExistingMember`. During a rebalance it joins it; otherwise a
    /// follower whose subscription did not change gets the current generation back at
    /// once (it missed the JoinGroup answer), and anything else starts a rebalance.
    pub fn rejoin(&mut self, id: &str, mut update: Member, now: Instant) {
        let current = self.members.get_mut(id).expect("the caller checked the member");
        let same = current.matches(&update);
        let answer_now = match self.state {
            GroupState::CompletingRebalance => same,
            GroupState::Stable => same && self.leader.as_deref() != Some(id),
            GroupState::Empty | GroupState::PreparingRebalance => false,
        };
        if answer_now {
            let reply = update.join_reply.take().expect("a join carries its reply");
            let roster = if self.leader.as_deref() == Some(id) { self.roster() } else { Vec::new() };
            let leader = self.leader.clone().unwrap_or_default();
            let _ = reply.send(joined(roster, self.generation, id, &leader));
            return;
        }
        update.assignment = std::mem::take(&mut current.assignment);
        update.sync_reply = current.sync_reply.take();
        *current = update; // A parked earlier join of the member is dropped (its sender closes).
        self.rebalance_or_complete_join(now);
    }

    /// The member id a `group.instance.id` is mapped to (Kafka's `currentStaticMemberId`).
    pub fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members.iter().find(|(_, m)| m.instance_id.as_deref() == Some(instance_id)).map(|(id, _)| id.as_str())
    }

    /// A known static member rejoins under a new member id (it restarted, so it knows
    /// only its `group.instance.id`): the member keeps its assignment under `new_id`, and
    /// the old id is fenced from now on (Kafka's `replaceStaticMember`, which also moves
    /// the leadership to the new id). `update` carries the join's subscription and reply.
    pub fn replace_static_member(&mut self, old_id: &str, new_id: &str, mut update: Member) {
        let old = self.members.remove(old_id).expect("the caller found the static member");
        update.assignment = old.assignment;
        update.sync_reply = None;
        if let Some(reply) = old.join_reply {
            // The old incarnation's parked join is answered as fenced.
            let _ = reply.send(GroupResponse::Joined {
                error: Some(ErrorCode::FencedInstanceId),
                generation: self.generation,
                member_id: old_id.to_string(),
                leader: String::new(),
                members: Vec::new(),
            });
        }
        if let Some(reply) = old.sync_reply {
            let _ =
                reply.send(GroupResponse::Synced { error: Some(ErrorCode::FencedInstanceId), assignment: Vec::new() });
        }
        if self.is_leader(old_id) {
            self.leader = Some(new_id.to_string());
        }
        self.members.insert(new_id.to_string(), update);
    }

    /// What a static member that rejoined under a new id (see
    /// [`Group::replace_static_member`]) does next, by the group's state (Kafka's
    /// `updateStaticMemberAndRebalance`): in a stable group it gets the current
    /// generation back without a rebalance once the group's metadata, with its new id,
    /// is stored; during a join phase it takes part in it; after the join phase (the
    /// leader may already be assigning to the old id) a new rebalance starts.
    pub fn static_rejoin(&mut self, new_id: &str, now: Instant) -> StaticRejoin {
        match self.state {
            GroupState::Stable => StaticRejoin::StoreThenAnswer,
            GroupState::PreparingRebalance => {
                self.maybe_complete_join(now);
                StaticRejoin::Parked
            }
            GroupState::CompletingRebalance => {
                self.prepare_rebalance(now);
                StaticRejoin::Parked
            }
            GroupState::Empty => unreachable!("a group with a static member {new_id} has members"),
        }
    }

    /// Answers a static member's rejoin into a stable group once its metadata is stored:
    /// the current generation, with the leader as it was before the member's restart (a
    /// restarted leader then acts as a follower and assigns nothing: Kafka's JoinGroup
    /// before version 9 returns `currentLeader`).
    pub fn answer_static_rejoin(&mut self, new_id: &str, leader_before: &str) {
        let Some(member) = self.members.get_mut(new_id) else { return };
        if let Some(reply) = member.join_reply.take() {
            let _ = reply.send(joined(Vec::new(), self.generation, new_id, leader_before));
        }
    }

    /// The group's metadata with a static member's new id could not be stored: the old id
    /// is the member's again and the rejoin is answered with `error` (Kafka reverts
    /// `replaceStaticMember` in `updateStaticMemberAndRebalance`).
    pub fn revert_static_member(&mut self, new_id: &str, old_id: &str, error: ErrorCode) {
        let Some(mut member) = self.members.remove(new_id) else { return };
        if let Some(reply) = member.join_reply.take() {
            let _ = reply.send(GroupResponse::Joined {
                error: Some(error),
                generation: self.generation,
                member_id: String::new(),
                leader: self.leader.clone().unwrap_or_default(),
                members: Vec::new(),
            });
        }
        if self.is_leader(new_id) {
            self.leader = Some(old_id.to_string());
        }
        self.members.insert(old_id.to_string(), member);
    }

    /// Kafka's `maybePrepareRebalanceOrCompleteJoin`.
    fn rebalance_or_complete_join(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance {
            self.maybe_complete_join(now);
        } else {
            self.prepare_rebalance(now);
        }
    }

    /// Starts a rebalance (Kafka's `prepareRebalance`): members parked in SyncGroup learn
    /// that the generation moved on; every member must rejoin within the largest
    /// rebalance timeout. An empty group's first join phase waits the initial delay.
    pub fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance {
            return;
        }
        if self.state == GroupState::CompletingRebalance {
            self.reset_and_propagate(ErrorCode::RebalanceInProgress, now);
        }
        let timeout = self.rebalance_timeout();
        let initial = self.state == GroupState::Empty;
        self.state = GroupState::PreparingRebalance;
        if initial {
            let delay = self.initial_rebalance_delay;
            let remaining = timeout.saturating_sub(delay);
            self.new_member_added = false;
            self.join_phase = Some(JoinPhase::Initial { deadline: now + delay, delay, remaining });
            // A delay of zero expires at once, as Kafka's timer fires right after the join.
            self.on_timer(now);
        } else {
            self.join_phase = Some(JoinPhase::Rejoin { deadline: now + timeout });
            self.maybe_complete_join(now);
        }
    }

    /// The largest rebalance timeout of the members.
    fn rebalance_timeout(&self) -> Duration {
        self.members.values().map(|m| m.rebalance_timeout).max().unwrap_or(Duration::ZERO)
    }

    /// Ends the join phase if every member has rejoined (Kafka's `maybeCompleteJoinPhase`;
    /// never during the initial rebalance, which ends only when its delay runs out).
    fn maybe_complete_join(&mut self, now: Instant) {
        let all_joined = self.members.values().all(|m| m.join_reply.is_some());
        if matches!(self.join_phase, Some(JoinPhase::Rejoin { .. })) && all_joined {
            self.complete_join(now);
        }
    }

    /// The timer: ends a join phase whose deadline passed, or extends the initial one
    /// while new members keep joining (Kafka's `tryCompleteInitialRebalanceElseSchedule`).
    pub fn on_timer(&mut self, now: Instant) {
        match self.join_phase {
            Some(JoinPhase::Rejoin { deadline }) if now >= deadline => self.complete_join(now),
            Some(JoinPhase::Initial { deadline, delay, remaining }) if now >= deadline => {
                if self.new_member_added && !remaining.is_zero() {
                    self.new_member_added = false;
                    let next_delay = self.initial_rebalance_delay.min(remaining);
                    let deadline = now + next_delay;
                    let remaining = remaining.saturating_sub(delay);
                    self.join_phase = Some(JoinPhase::Initial { deadline, delay: next_delay, remaining });
                } else {
                    self.complete_join(now);
                }
            }
            _ => {}
        }
    }

    /// Ends the join phase (Kafka's `completeClassicGroupJoin`): members that did not
    /// rejoin are removed, the generation is bumped, and every parked join is answered
    /// (the leader gets the member list); an emptied group is marked to be stored.
    fn complete_join(&mut self, now: Instant) {
        let gone: Vec<String> =
            self.members.iter().filter(|(_, m)| m.join_reply.is_none()).map(|(id, _)| id.clone()).collect();
        for id in gone {
            self.forget(&id);
        }
        self.join_phase = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.emptied = true;
            return;
        }
        self.state = GroupState::CompletingRebalance;
        let leader = self.leader.clone().expect("a group with members has a leader");
        let roster = self.roster();
        for (id, member) in &mut self.members {
            member.assignment.clear();
            member.last_heard = now;
            if let Some(reply) = member.join_reply.take() {
                let members = if *id == leader { roster.clone() } else { Vec::new() };
                let _ = reply.send(joined(members, self.generation, id, &leader));
            }
        }
    }

    /// Every member's subscription, as the leader receives it, in members-map order.
    fn roster(&self) -> Vec<GroupMember> {
        self.members_in_map_order()
            .into_iter()
            .map(|id| {
                let m = &self.members[id];
                GroupMember {
                    member_id: id.to_string(),
                    topics: m.topics.clone(),
                    owned: m.owned.clone(),
                    owned_generation: m.owned_generation,
                }
            })
            .collect()
    }

    /// Whether `member_id` leads the group.
    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// Applies the leader's assignment once it is stored: the group is stable and every
    /// parked sync is answered.
    pub fn complete_sync(&mut self, assignment: &BTreeMap<String, Vec<TopicPartition>>, now: Instant) {
        for (id, member) in &mut self.members {
            member.assignment = assignment.get(id).cloned().unwrap_or_default();
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced { error: None, assignment: member.assignment.clone() });
                member.last_heard = now;
            }
        }
        self.state = GroupState::Stable;
    }

    /// The leader's assignment could not be stored: every parked sync fails with `error`
    /// and the group rebalances (Kafka's `resetAndPropagateAssignmentError` then
    /// `maybePrepareRebalance`).
    pub fn fail_sync(&mut self, error: ErrorCode, now: Instant) {
        self.reset_and_propagate(error, now);
        self.prepare_rebalance(now);
    }

    fn reset_and_propagate(&mut self, error: ErrorCode, now: Instant) {
        for member in self.members.values_mut() {
            member.assignment.clear();
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced { error: Some(error), assignment: Vec::new() });
                member.last_heard = now;
            }
        }
    }

    /// Removes a member (it left, or its session expired) and rebalances the rest
    /// (Kafka's `removeMemberAndUpdateGroup`).
    pub fn remove_member(&mut self, member_id: &str, now: Instant) {
        if let Some(member) = self.members.get_mut(member_id) {
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
        self.forget(member_id);
        match self.state {
            GroupState::Empty => {}
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
        }
    }

    /// Kafka's `ClassicGroup.remove`: a leader that goes is replaced by the first
    /// remaining member in map order.
    fn forget(&mut self, member_id: &str) {
        self.members.remove(member_id);
        if self.is_leader(member_id) {
            self.leader = self.members_in_map_order().first().map(|id| id.to_string());
        }
    }

    /// Members whose session expired by `now`. Members parked in a join or a sync are
    /// waiting for the coordinator and do not expire (`hasSatisfiedHeartbeat`).
    pub fn expired_members(&self, now: Instant) -> Vec<String> {
        self.members
            .iter()
            .filter(|(_, m)| m.join_reply.is_none() && m.sync_reply.is_none())
            .filter(|(_, m)| now.duration_since(m.last_heard) > m.session_timeout)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The coordinator no longer leads the group's partition (Kafka's `onUnloaded`):
    /// every parked request is answered NOT_COORDINATOR, so that members look for the
    /// new coordinator.
    pub fn unload(mut self) {
        let error = Some(ErrorCode::NotCoordinator);
        for (id, member) in &mut self.members {
            if let Some(reply) = member.join_reply.take() {
                let _ = reply.send(GroupResponse::Joined {
                    error,
                    generation: 0,
                    member_id: id.clone(),
                    leader: String::new(),
                    members: Vec::new(),
                });
            }
            if let Some(reply) = member.sync_reply.take() {
                let _ = reply.send(GroupResponse::Synced { error, assignment: Vec::new() });
            }
        }
    }

    /// Whether the request of `member_id`, a static member if it names its
    /// `group.instance.id`, comes from the group's current member (Kafka's
    /// `validateCurrentMember`): an instance id now mapped to another member id is
    /// fenced (FENCED_INSTANCE_ID, the restarted instance replaced this one).
    pub fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> Option<ErrorCode> {
        match instance_id.map(|instance| self.static_member_id(instance)) {
            Some(Some(current)) if current != member_id => Some(ErrorCode::FencedInstanceId),
            Some(None) => Some(ErrorCode::UnknownMemberId),
            _ if !self.members.contains_key(member_id) => Some(ErrorCode::UnknownMemberId),
            _ => None,
        }
    }

    /// Whether a member may commit, heartbeat or sync in `generation`: the member checks
    /// of [`Group::validate_member`], then the generation's.
    pub fn validate(&self, member_id: &str, instance_id: Option<&str>, generation: u32) -> Option<ErrorCode> {
        self.validate_member(member_id, instance_id)
            .or_else(|| (generation != self.generation).then_some(ErrorCode::IllegalGeneration))
    }
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
