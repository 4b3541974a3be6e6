//! One consumer-protocol group (KIP-848, `group.protocol = "consumer"`) on its
//! coordinator: Kafka 4.0's `ConsumerGroup` and the consumer-group parts of its
//! `GroupMetadataManager` (`consumerGroupHeartbeat`, `consumerGroupLeave`, the session
//! and rebalance timers). See `docs/design/kip848-consumer-protocol.md` §1-§2.
//!
//! Every change is a [`ConsumerGroupRecord`] first: a heartbeat computes the records it
//! writes and the group applies each one with [`ConsumerGroup::replay`], the same code
//! that rebuilds the group when a coordinator loads its `__consumer_offsets` partition,
//! so a failover finds exactly the group the old coordinator had written. A refused
//! request changes nothing (Kafka's write operation throws before it returns records).
//! Timers are not records: a loaded group starts every member's session timer afresh
//! (`onLoaded`).
//!
//! Members subscribe by topic name or by a regular expression the coordinator resolves
//! ([`regex`]). Simplified: no racks; classic-protocol members cannot join a consumer
//! group, nor can a classic group be upgraded online (scenarios keep a group on one
//! protocol); `group.consumer.max.size` is unlimited.

pub mod regex;

use self::regex::RegexRefresh;
use super::reconciliation::{MemberAssignment, MemberState, Reconciliation};
use super::records::{ConsumerGroupRecord, ConsumerMemberMetadata, CurrentAssignment, ResolvedRegex};
use super::server_assignor::{self, MemberSpec, TargetAssignment};
use crate::protocol::{java, ConsumerHeartbeat, ErrorCode, ServerAssignor, TopicPartition};
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The member epoch of a heartbeat that joins (`JOIN_GROUP_MEMBER_EPOCH`).
pub const JOIN_EPOCH: i32 = 0;
/// The member epoch of a heartbeat that leaves (`LEAVE_GROUP_MEMBER_EPOCH`).
pub const LEAVE_EPOCH: i32 = -1;
/// The member epoch of a static member's temporary leave
/// (`LEAVE_GROUP_STATIC_MEMBER_EPOCH`): it keeps its partitions until its session ends.
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// The broker's consumer-group settings (Kafka's `GroupCoordinatorConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupSettings {
    /// `group.consumer.session.timeout.ms` (default 45000).
    pub session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms` (default 5000).
    pub heartbeat_interval_ms: u64,
    /// `group.consumer.assignors` (default `uniform,range`; the first is the default).
    pub assignors: Vec<ServerAssignor>,
    /// Whether a member the group still knows is fenced when it rejoins with epoch 0
    /// (KAFKA-19233: Kafka 4.0 and 4.1 fence it, FENCED_MEMBER_EPOCH, until its session
    /// expires; 4.2 lets it rejoin).
    pub fence_epoch_zero_rejoin: bool,
    /// Which members the uniform assignor lets hold an extra partition (changed in
    /// Kafka 4.1, KAFKA-18688).
    pub uniform_extra_partitions: server_assignor::ExtraPartitionRule,
}

impl Default for ConsumerGroupSettings {
    fn default() -> Self {
        ConsumerGroupSettings {
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            assignors: vec![ServerAssignor::Uniform, ServerAssignor::Range],
            fence_epoch_zero_rejoin: true,
            uniform_extra_partitions: server_assignor::ExtraPartitionRule::GiveBack,
        }
    }
}

/// One member (Kafka's `ConsumerGroupMember`), with its timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerMember {
    /// What it told the coordinator (record 5).
    pub metadata: ConsumerMemberMetadata,
    /// Its reconciliation (record 8).
    pub assignment: MemberAssignment,
    /// A static member that left with epoch -2: it keeps its partitions, and its place,
    /// until its session expires.
    pub left_temporarily: bool,
    /// When its session expires unless it heartbeats (not persisted).
    session_deadline: Option<Instant>,
    /// When it is fenced unless it has moved past the epoch it must revoke in (not
    /// persisted).
    rebalance_deadline: Option<(Instant, u32)>,
}

impl ConsumerMember {
    fn new(metadata: ConsumerMemberMetadata) -> Self {
        ConsumerMember {
            metadata,
            assignment: MemberAssignment::joining(),
            left_temporarily: false,
            session_deadline: None,
            rebalance_deadline: None,
        }
    }

    /// Its member epoch as the protocol tells it (-2 after a static leave).
    pub fn epoch(&self) -> i32 {
        if self.left_temporarily {
            STATIC_LEAVE_EPOCH
        } else {
            self.assignment.epoch as i32
        }
    }

    /// The epoch before its last update (-1: none).
    fn previous_epoch(&self) -> i32 {
        self.assignment.previous_epoch.map_or(-1, |e| e as i32)
    }

    fn current_record(&self, member_id: &str) -> ConsumerGroupRecord {
        let a = &self.assignment;
        let assignment = CurrentAssignment {
            member_epoch: self.epoch(),
            previous_member_epoch: self.previous_epoch(),
            state: a.state,
            assigned: a.assigned.iter().cloned().collect(),
            pending_revocation: a.pending_revocation.iter().cloned().collect(),
        };
        ConsumerGroupRecord::CurrentAssignment { member_id: member_id.to_string(), assignment: Some(assignment) }
    }
}

/// Where the group stands (Kafka's `ConsumerGroup.ConsumerGroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumerGroupState {
    /// No members.
    Empty,
    /// The group epoch moved past the target assignment's.
    Assigning,
    /// Some member is not reconciled to the target.
    Reconciling,
    /// Every member holds its target.
    Stable,
}

/// What the coordinator knows besides the group when it answers.
pub struct Context<'a> {
    /// Now.
    pub now: Instant,
    /// Now, in milliseconds of simulated time (what records carry).
    pub now_ms: u64,
    /// The partition count of every topic in the broker's metadata.
    pub topics: &'a BTreeMap<String, u32>,
    /// The offset of the last metadata image that created a topic (Kafka's
    /// `lastMetadataImageWithNewTopics`): regular expressions resolved against an older
    /// image are resolved again.
    pub last_image_with_new_topics: u64,
    /// The broker's settings.
    pub settings: &'a ConsumerGroupSettings,
}

/// A heartbeat's answer (the response fields besides the error and interval).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatAnswer {
    /// The member id.
    pub member_id: String,
    /// The member epoch now.
    pub member_epoch: i32,
    /// The member's assigned partitions, when the response carries them.
    pub assignment: Option<Vec<TopicPartition>>,
}

/// One consumer-protocol group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerGroup {
    /// The group epoch: bumped when membership or subscriptions change.
    pub group_epoch: u32,
    /// The group epoch the target assignment was computed at.
    pub assignment_epoch: u32,
    /// The members by id.
    pub members: BTreeMap<String, ConsumerMember>,
    /// Every member's target partitions.
    pub target: TargetAssignment,
    /// The partition count of each subscribed topic, as of the last computation.
    pub subscription_metadata: BTreeMap<String, u32>,
    /// What each regular expression the members subscribe to resolved to.
    pub resolved_regexes: BTreeMap<String, ResolvedRegex>,
    /// Whether a resolution of the regular expressions is asked for or running.
    regex_refresh: RegexRefresh,
    /// The first heartbeat after a load recomputes the subscription metadata (Kafka's
    /// empty metadata refresh deadline).
    metadata_refresh_needed: bool,
}

impl ConsumerGroup {
    /// Applies one record (Kafka's `GroupMetadataManager.replay` overloads).
    pub fn replay(&mut self, record: &ConsumerGroupRecord) {
        match record {
            ConsumerGroupRecord::GroupEpoch { epoch } => self.group_epoch = *epoch,
            ConsumerGroupRecord::SubscriptionMetadata { partitions } => self.subscription_metadata = partitions.clone(),
            ConsumerGroupRecord::MemberMetadata { member_id, metadata: Some(metadata) } => {
                let member =
                    self.members.entry(member_id.clone()).or_insert_with(|| ConsumerMember::new(metadata.clone()));
                member.metadata = metadata.clone();
            }
            ConsumerGroupRecord::MemberMetadata { member_id, metadata: None } => {
                self.members.remove(member_id);
            }
            ConsumerGroupRecord::TargetMember { member_id, partitions: Some(partitions) } => {
                self.target.insert(member_id.clone(), partitions.iter().cloned().collect());
            }
            ConsumerGroupRecord::TargetMember { member_id, partitions: None } => {
                self.target.remove(member_id);
            }
            ConsumerGroupRecord::TargetEpoch { epoch } => self.assignment_epoch = *epoch,
            ConsumerGroupRecord::RegularExpression { regex, resolved: Some(resolved) } => {
                self.resolved_regexes.insert(regex.clone(), resolved.clone());
            }
            ConsumerGroupRecord::RegularExpression { regex, resolved: None } => {
                self.resolved_regexes.remove(regex);
            }
            ConsumerGroupRecord::CurrentAssignment { member_id, assignment } => {
                let Some(member) = self.members.get_mut(member_id) else { return };
                match assignment {
                    Some(a) => {
                        member.left_temporarily = a.member_epoch == STATIC_LEAVE_EPOCH;
                        let epoch =
                            if member.left_temporarily { member.assignment.epoch } else { a.member_epoch as u32 };
                        member.assignment = MemberAssignment {
                            state: a.state,
                            epoch,
                            previous_epoch: u32::try_from(a.previous_member_epoch).ok(),
                            assigned: a.assigned.iter().cloned().collect(),
                            pending_revocation: a.pending_revocation.iter().cloned().collect(),
                        };
                    }
                    None => member.assignment = MemberAssignment::joining(),
                }
            }
        }
    }

    /// Asks the next heartbeat of any member to recompute the subscription metadata if a
    /// member subscribes to one of `changed_topics` (Kafka's
    /// `GroupMetadataManager.onNewMetadataImage`, which calls
    /// `requestMetadataRefresh()` on the groups subscribed to a topic whose partitions
    /// changed, or that was created or deleted). Nothing is written until that heartbeat.
    pub fn on_topics_changed(&mut self, changed_topics: &BTreeSet<String>) {
        let subscribed =
            self.members.values().any(|m| self.member_topics(m).iter().any(|t| changed_topics.contains(t)));
        if subscribed {
            self.metadata_refresh_needed = true;
        }
    }

    /// The group a coordinator loads from `records` (in log order), every member's
    /// session timer starting `now` and every member that must revoke getting a full
    /// rebalance timeout (Kafka's `onLoaded`).
    pub fn loaded(records: &[ConsumerGroupRecord], settings: &ConsumerGroupSettings, now: Instant) -> Self {
        let mut group = ConsumerGroup::default();
        for record in records {
            group.replay(record);
        }
        group.metadata_refresh_needed = true;
        let session = Duration::from_millis(settings.session_timeout_ms);
        for member in group.members.values_mut() {
            member.session_deadline = Some(now + session);
            if member.assignment.state == MemberState::UnrevokedPartitions {
                let timeout = Duration::from_millis(member.metadata.rebalance_timeout_ms);
                member.rebalance_deadline = Some((now + timeout, member.assignment.epoch));
            }
        }
        group
    }

    /// The group's state (Kafka's `maybeUpdateGroupState`).
    pub fn state(&self) -> ConsumerGroupState {
        if self.members.is_empty() {
            ConsumerGroupState::Empty
        } else if self.group_epoch > self.assignment_epoch {
            ConsumerGroupState::Assigning
        } else if self.members.values().any(|m| !m.assignment.is_reconciled_to(self.assignment_epoch)) {
            ConsumerGroupState::Reconciling
        } else {
            ConsumerGroupState::Stable
        }
    }

    /// The member id of the static member `instance_id`, if any.
    fn static_member_id(&self, instance_id: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(_, m)| m.metadata.instance_id.as_deref() == Some(instance_id))
            .map(|(id, _)| id.as_str())
    }

    /// Whether some member holds `tp`, as assigned or pending revocation (Kafka's
    /// `currentPartitionEpoch(tp) != -1`).
    fn is_held(&self, tp: &TopicPartition) -> bool {
        self.members
            .values()
            .any(|m| m.assignment.assigned.contains(tp) || m.assignment.pending_revocation.contains(tp))
    }

    /// Answers a ConsumerGroupHeartbeat (Kafka's `consumerGroupHeartbeat`, or
    /// `consumerGroupLeave` for epochs -1 and -2). Returns the records written, already
    /// applied, and the answer; a refusal leaves the group as it was.
    pub fn heartbeat(
        &mut self,
        request: &ConsumerHeartbeat,
        cx: &Context<'_>,
    ) -> Result<(Vec<ConsumerGroupRecord>, HeartbeatAnswer), ErrorCode> {
        validate(request, cx.settings)?;
        let before = self.clone();
        let mut records = Records { group: self, written: Vec::new() };
        let answer = if request.member_epoch < 0 { records.leave(request) } else { records.heartbeat(request, cx) };
        let written = records.written;
        match answer {
            Ok(answer) => Ok((written, answer)),
            Err(error) => {
                *self = before;
                Err(error)
            }
        }
    }

    /// The members whose session or rebalance timer expired at `now` are fenced
    /// (Kafka's session and rebalance timeout operations). Returns the records written,
    /// already applied, and the fenced member ids.
    pub fn expire(&mut self, now: Instant) -> (Vec<ConsumerGroupRecord>, Vec<String>) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                let session = m.session_deadline.is_some_and(|d| now >= d);
                // The rebalance timer fires only if the member still has the epoch it
                // had to revoke in.
                let rebalance = m.rebalance_deadline.is_some_and(|(d, epoch)| now >= d && m.assignment.epoch == epoch);
                session || rebalance
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut records = Records { group: self, written: Vec::new() };
        for id in &expired {
            records.fence(id);
        }
        (records.written, expired)
    }
}

/// Kafka's `throwIfConsumerGroupHeartbeatRequestIsInvalid`: INVALID_REQUEST, or
/// UNSUPPORTED_ASSIGNOR for a server assignor the coordinator does not run.
fn validate(request: &ConsumerHeartbeat, settings: &ConsumerGroupSettings) -> Result<(), ErrorCode> {
    if request.server_assignor.is_some_and(|a| !settings.assignors.contains(&a)) {
        return Err(ErrorCode::UnsupportedAssignor);
    }
    let invalid = request.member_id.is_empty()
        || request.group.is_empty()
        || request.instance_id.as_deref() == Some("")
        || request.member_epoch < STATIC_LEAVE_EPOCH
        || (request.member_epoch == STATIC_LEAVE_EPOCH && request.instance_id.is_none())
        || (request.member_epoch == JOIN_EPOCH
            && (request.rebalance_timeout_ms.is_none()
                || (request.subscribed_topics.is_none() && request.subscribed_topic_regex.is_none())
                || request.owned.as_ref().is_none_or(|owned| !owned.is_empty())));
    if invalid {
        Err(ErrorCode::InvalidRequest)
    } else {
        Ok(())
    }
}

/// A group being changed by one request: each record is applied as it is written.
struct Records<'g> {
    group: &'g mut ConsumerGroup,
    written: Vec<ConsumerGroupRecord>,
}

impl Records<'_> {
    fn write(&mut self, record: ConsumerGroupRecord) {
        self.group.replay(&record);
        self.written.push(record);
    }

    /// The heartbeat of a member that joins (epoch 0) or is in the group.
    fn heartbeat(&mut self, request: &ConsumerHeartbeat, cx: &Context<'_>) -> Result<HeartbeatAnswer, ErrorCode> {
        let member_id = request.member_id.as_str();
        let owned: Option<BTreeSet<TopicPartition>> = request.owned.as_ref().map(|o| o.iter().cloned().collect());
        let joining = request.member_epoch == JOIN_EPOCH;
        // Step 2: the member, new or known (static members by their instance id).
        let member = match &request.instance_id {
            None => self.dynamic_member(member_id, request.member_epoch, owned.as_ref(), cx)?,
            Some(instance) => self.static_member(member_id, instance, request.member_epoch, owned.as_ref())?,
        };
        // Step 4: the member's metadata with what the request changed.
        let mut metadata = member.metadata.clone();
        if let Some(instance) = &request.instance_id {
            metadata.instance_id = Some(instance.clone());
        }
        if let Some(timeout) = request.rebalance_timeout_ms {
            metadata.rebalance_timeout_ms = timeout;
        }
        if let Some(assignor) = request.server_assignor {
            metadata.server_assignor = Some(assignor);
        }
        if let Some(topics) = &request.subscribed_topics {
            let mut topics = topics.clone();
            topics.sort();
            topics.dedup();
            metadata.topics = topics;
        }
        if let Some(regex) = &request.subscribed_topic_regex {
            metadata.regex = (!regex.is_empty()).then(|| regex.clone());
        }
        metadata.client_id = request.client_id.clone();
        let known = self.group.members.contains_key(member_id);
        let mut bump = self.group.group_epoch == 0;
        let regex_update = self.plan_regex_update(member.metadata.regex.as_deref(), metadata.regex.as_deref(), cx)?;
        if !known || metadata != member.metadata {
            // Kafka's `hasMemberSubscriptionChanged`: the record is written on any
            // change, the epoch bumped only when the subscribed topic names changed.
            bump |= metadata.topics != member.metadata.topics;
            let record =
                ConsumerGroupRecord::MemberMetadata { member_id: member_id.to_string(), metadata: Some(metadata) };
            self.write(record);
        }
        bump |= self.apply_regex_update(regex_update);
        // Step 5: the subscribed topics' partition counts, and the group epoch.
        if bump || self.group.metadata_refresh_needed {
            self.group.metadata_refresh_needed = false;
            self.update_subscription_metadata(cx.topics, bump);
        }
        // Step 6: a new target assignment when the group epoch moved past it.
        if self.group.group_epoch > self.group.assignment_epoch {
            self.update_target(cx)?;
        }
        // Step 7: the member's next step towards its target.
        let previous = self.group.members[member_id].assignment.clone();
        self.reconcile(member_id, owned.as_ref(), cx.now);
        // Step 8: its session goes on.
        let member = self.group.members.get_mut(member_id).expect("the member was written");
        member.session_deadline = Some(cx.now + Duration::from_millis(cx.settings.session_timeout_ms));
        let subscribed = request.subscribed_topics.is_some() || request.subscribed_topic_regex.is_some();
        let full = request.rebalance_timeout_ms.is_some() && subscribed && owned.is_some();
        let changed = member.assignment.assigned != previous.assigned;
        let assignment = (joining || full || changed).then(|| member.assignment.assigned.iter().cloned().collect());
        Ok(HeartbeatAnswer { member_id: member_id.to_string(), member_epoch: member.epoch(), assignment })
    }

    /// Kafka's `getOrMaybeSubscribeDynamicConsumerGroupMember` and
    /// `throwIfConsumerGroupMemberEpochIsInvalid`.
    fn dynamic_member(
        &self,
        member_id: &str,
        epoch: i32,
        owned: Option<&BTreeSet<TopicPartition>>,
        cx: &Context<'_>,
    ) -> Result<ConsumerMember, ErrorCode> {
        match self.group.members.get(member_id) {
            None if epoch == JOIN_EPOCH => Ok(ConsumerMember::new(ConsumerMemberMetadata::default())),
            None => Err(ErrorCode::UnknownMemberId),
            // KAFKA-19233, fixed in 4.2: "Epoch 0 is a special value indicating the
            // member wants to (re)join the group."
            Some(member) if epoch == JOIN_EPOCH && !cx.settings.fence_epoch_zero_rejoin => Ok(member.clone()),
            Some(member) => {
                check_epoch(member, epoch, owned)?;
                Ok(member.clone())
            }
        }
    }

    /// Kafka's `getOrMaybeSubscribeStaticConsumerGroupMember`: a static member joining
    /// with an instance id a member left with epoch -2 takes that member's place and
    /// partitions under its new member id; one whose holder has not left is refused.
    fn static_member(
        &mut self,
        member_id: &str,
        instance: &str,
        epoch: i32,
        owned: Option<&BTreeSet<TopicPartition>>,
    ) -> Result<ConsumerMember, ErrorCode> {
        let holder = self.group.static_member_id(instance).map(str::to_string);
        if epoch != JOIN_EPOCH {
            let holder = holder.ok_or(ErrorCode::UnknownMemberId)?;
            if holder != member_id {
                return Err(ErrorCode::FencedInstanceId);
            }
            let member = &self.group.members[&holder];
            check_epoch(member, epoch, owned)?;
            return Ok(member.clone());
        }
        let Some(old_id) = holder else { return Ok(ConsumerMember::new(ConsumerMemberMetadata::default())) };
        let old = self.group.members[&old_id].clone();
        if !old.left_temporarily {
            return Err(ErrorCode::UnreleasedInstanceId);
        }
        // Kafka's `replaceMember`: the old member's records go, the new one gets its
        // metadata, target and partitions, at epoch 0.
        let target = self.group.target.get(&old_id).cloned();
        self.remove_member_records(&old_id);
        let mut replacement = ConsumerMember::new(old.metadata.clone());
        replacement.assignment = MemberAssignment {
            epoch: 0,
            previous_epoch: Some(0),
            state: MemberState::Stable,
            assigned: old.assignment.assigned.clone(),
            pending_revocation: BTreeSet::new(),
        };
        let id = member_id.to_string();
        self.write(ConsumerGroupRecord::MemberMetadata { member_id: id.clone(), metadata: Some(old.metadata) });
        if let Some(target) = target {
            self.write(ConsumerGroupRecord::TargetMember {
                member_id: id.clone(),
                partitions: Some(target.into_iter().collect()),
            });
        }
        self.write(replacement.current_record(member_id));
        Ok(replacement)
    }

    /// The subscribed topics, by name or through a resolved regular expression, that
    /// exist, with their partition counts (Kafka's `computeSubscriptionMetadata`).
    fn subscription_metadata(&self, topics: &BTreeMap<String, u32>) -> BTreeMap<String, u32> {
        let group = &self.group;
        let subscribed: BTreeSet<String> = group.members.values().flat_map(|m| group.member_topics(m)).collect();
        subscribed.into_iter().filter_map(|t| topics.get(&t).map(|&n| (t, n))).collect()
    }

    /// Kafka's `updateTargetAssignment`: the preferred assignor over every member, a
    /// record for every member whose target changed, then the target's epoch.
    fn update_target(&mut self, cx: &Context<'_>) -> Result<(), ErrorCode> {
        let group = &self.group;
        let existing = &group.subscription_metadata;
        // The members in the order Kafka's `GroupSpec.memberIds()` iterates them (a
        // HashMap's; the range assignor sorts them itself). Unknown topic names are left
        // out, as Kafka's TargetAssignmentBuilder resolves names through the metadata image.
        let specs: Vec<MemberSpec> = java::hash_map_order(group.members.keys().map(String::as_str))
            .into_iter()
            .map(|id| {
                let member = &group.members[id];
                MemberSpec {
                    member_id: id.to_string(),
                    instance_id: member.metadata.instance_id.clone(),
                    topics: group.member_topics(member).into_iter().filter(|t| existing.contains_key(t)).collect(),
                }
            })
            .collect();
        let assigned = match preferred_assignor(group, cx.settings) {
            ServerAssignor::Range => server_assignor::range(&specs, existing),
            ServerAssignor::Uniform => {
                let rule = cx.settings.uniform_extra_partitions;
                server_assignor::uniform(&specs, group.is_homogeneous(), &group.target, existing, rule)
            }
        };
        let target = assigned.map_err(|_| ErrorCode::UnknownServerError)?;
        let epoch = group.group_epoch;
        let changed: Vec<(String, BTreeSet<TopicPartition>)> =
            target.into_iter().filter(|(id, partitions)| self.group.target.get(id) != Some(partitions)).collect();
        for (member_id, partitions) in changed {
            self.write(ConsumerGroupRecord::TargetMember {
                member_id,
                partitions: Some(partitions.into_iter().collect()),
            });
        }
        self.write(ConsumerGroupRecord::TargetEpoch { epoch });
        Ok(())
    }

    /// Kafka's `maybeReconcile`: the member's next state, written if it changed; a
    /// member that must now revoke gets a rebalance timer, any other loses it.
    fn reconcile(&mut self, member_id: &str, owned: Option<&BTreeSet<TopicPartition>>, now: Instant) {
        let group = &self.group;
        let member = &group.members[member_id];
        if member.assignment.is_reconciled_to(group.assignment_epoch) {
            return;
        }
        let empty = BTreeSet::new();
        let target = group.target.get(member_id).unwrap_or(&empty);
        let step = Reconciliation { target_epoch: group.assignment_epoch, target, owned, held: |tp| group.is_held(tp) };
        let next = step.next(&member.assignment);
        if next == member.assignment {
            return;
        }
        let mut updated = member.clone();
        updated.assignment = next;
        self.write(updated.current_record(member_id));
        let member = self.group.members.get_mut(member_id).expect("still a member");
        member.rebalance_deadline = (member.assignment.state == MemberState::UnrevokedPartitions).then(|| {
            let timeout = Duration::from_millis(member.metadata.rebalance_timeout_ms);
            (now + timeout, member.assignment.epoch)
        });
    }

    /// Kafka's `consumerGroupLeave`: epoch -1 removes the member and bumps the group
    /// epoch; epoch -2 (a static member) keeps it, and its partitions, until its
    /// session expires.
    fn leave(&mut self, request: &ConsumerHeartbeat) -> Result<HeartbeatAnswer, ErrorCode> {
        let member_id = match &request.instance_id {
            Some(instance) => {
                let holder = self.group.static_member_id(instance).ok_or(ErrorCode::UnknownMemberId)?;
                if holder != request.member_id {
                    return Err(ErrorCode::FencedInstanceId);
                }
                holder.to_string()
            }
            None if self.group.members.contains_key(&request.member_id) => request.member_id.clone(),
            None => return Err(ErrorCode::UnknownMemberId),
        };
        if request.member_epoch == STATIC_LEAVE_EPOCH {
            let mut member = self.group.members[&member_id].clone();
            member.left_temporarily = true;
            member.assignment.pending_revocation.clear();
            self.write(member.current_record(&member_id));
        } else {
            self.fence(&member_id);
        }
        Ok(HeartbeatAnswer { member_id, member_epoch: request.member_epoch, assignment: None })
    }

    /// Kafka's `consumerGroupFenceMember`: the member's records go, the subscription
    /// metadata follows, and the group epoch is bumped (the new target is computed on
    /// the next heartbeat).
    fn fence(&mut self, member_id: &str) {
        self.remove_member_records(member_id);
        self.drop_unused_regexes();
        let topics = self.group.subscription_metadata.clone();
        self.update_subscription_metadata(&topics, true);
    }

    /// Kafka's `updateSubscriptionMetadata`: the subscribed topics' partition counts over
    /// `topics`, written if they changed, then a group epoch bump if they changed or
    /// `bump`. Returns whether the group epoch moved.
    fn update_subscription_metadata(&mut self, topics: &BTreeMap<String, u32>, mut bump: bool) -> bool {
        let subscribed = self.subscription_metadata(topics);
        if subscribed != self.group.subscription_metadata {
            bump = true;
            self.write(ConsumerGroupRecord::SubscriptionMetadata { partitions: subscribed });
        }
        if bump {
            let epoch = self.group.group_epoch + 1;
            self.write(ConsumerGroupRecord::GroupEpoch { epoch });
        }
        bump
    }

    /// The tombstones of a member, in Kafka's order: current assignment, target, metadata.
    fn remove_member_records(&mut self, member_id: &str) {
        let id = member_id.to_string();
        self.write(ConsumerGroupRecord::CurrentAssignment { member_id: id.clone(), assignment: None });
        self.write(ConsumerGroupRecord::TargetMember { member_id: id.clone(), partitions: None });
        self.write(ConsumerGroupRecord::MemberMetadata { member_id: id, metadata: None });
    }
}

/// Kafka's `throwIfConsumerGroupMemberEpochIsInvalid`: a heartbeat from a later epoch
/// than the member's is fenced; one from an earlier epoch too, unless it is the
/// member's previous epoch and it owns no more than it is assigned (the answer that
/// moved it on was lost).
fn check_epoch(member: &ConsumerMember, epoch: i32, owned: Option<&BTreeSet<TopicPartition>>) -> Result<(), ErrorCode> {
    let (current, previous) = (member.epoch(), member.previous_epoch());
    let subset = owned.is_none_or(|owned| owned.is_subset(&member.assignment.assigned));
    if epoch > current || (epoch < current && (epoch != previous || !subset)) {
        return Err(ErrorCode::FencedMemberEpoch);
    }
    Ok(())
}

/// The assignor the members name most, else the broker's first (Kafka's
/// `computePreferredServerAssignor`; a tie goes to the one listed first in
/// `group.consumer.assignors`, where Kafka's depends on `HashMap` order). Members name
/// only configured assignors (see `validate`).
fn preferred_assignor(group: &ConsumerGroup, settings: &ConsumerGroupSettings) -> ServerAssignor {
    let named = |a: ServerAssignor| group.members.values().filter(|m| m.metadata.server_assignor == Some(a)).count();
    // `max_by_key` keeps the last of equal keys, so the list goes in reverse.
    settings.assignors.iter().copied().rev().max_by_key(|a| named(*a)).unwrap_or(ServerAssignor::Uniform)
}

#[cfg(test)]
mod tests;
