//! The group coordinator's request handling on a broker. A broker coordinates the groups
//! whose `__consumer_offsets` partition it leads; it answers NOT_COORDINATOR otherwise.
//!
//! Committed offsets and group metadata are records of that partition, written through
//! the ordinary produce path with acks=all (`offsets.commit.timeout.ms`), so they are
//! replicated like any user record. A group's metadata (its generation, leader, members
//! and their assignments) is written when the leader's SyncGroup completes a generation,
//! and when the group empties; the SyncGroup answers wait for that write, as in Kafka's
//! `storeGroup`. A broker that becomes leader of an offsets partition loads both (see
//! `ownership`), so after a coordinator moves its members carry on in their generation:
//! their heartbeats and commits find the new coordinator and no rebalance happens.

use super::group::{new_member_id, Group, GroupState, Member, StaticRejoin};
use super::offsets_partition_for;
use super::ownership::{offsets_partitions, owned_partition, sync_partition};
use super::records::{self, GroupMetadata};
use crate::broker::{produce, SharedBroker};
use crate::coverage::ReachedState;
use crate::plant::PlantedBug;
use crate::protocol::{
    Acks, ErrorCode, GroupRequest, GroupResponse, LeaderEpoch, Offset, ProduceRequest, Record, RecordBatch,
    TopicPartition,
};
use crate::sim::clock;
use madsim::time::{sleep, Instant};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// The internal topic holding committed offsets and group metadata.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// `offsets.commit.timeout.ms`: how long a write to an offsets partition may wait for
/// its ISR, in milliseconds.
const COMMIT_TIMEOUT_MS: u64 = 5_000;

/// What the coordinator holds for the offsets partitions it leads.
#[derive(Default)]
pub(super) struct State {
    /// The classic-protocol groups.
    pub(super) groups: BTreeMap<String, Group>,
    /// The consumer-protocol groups (KIP-848); a group id is in one map or the other.
    pub(super) consumer_groups: BTreeMap<String, super::consumer_group::ConsumerGroup>,
    /// The committed offsets.
    pub(super) offsets: BTreeMap<(String, TopicPartition), Offset>,
    /// Offsets partitions loaded, with the leader epoch their leadership began in.
    pub(super) loaded: BTreeMap<u32, LeaderEpoch>,
    /// Offsets committed in transactions not ended yet, per producer id: applied when
    /// the commit marker is written, dropped on abort (Kafka's
    /// `pendingTransactionalOffsetCommits`).
    pub(super) pending_txn_offsets: BTreeMap<crate::protocol::ProducerId, BTreeMap<(String, TopicPartition), Offset>>,
    /// The offset of the last metadata image that created a topic, from the first image
    /// on (Kafka's `lastMetadataImageWithNewTopics`; KRaft only).
    pub(super) last_image_with_new_topics: Option<u64>,
}

/// The coordinator of one broker.
#[derive(Default)]
pub struct Coordinator {
    state: Mutex<State>,
}

impl Coordinator {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("coordinator state poisoned")
    }

    /// The broker applied the metadata image ending at `offset`; `created_topics` if it
    /// created a topic (Kafka's `onNewMetadataImage`: consumer groups resolve their
    /// regular expressions again once an image created topics).
    pub fn on_metadata_image(&self, offset: u64, created_topics: bool) {
        let mut state = self.lock();
        if created_topics || state.last_image_with_new_topics.is_none() {
            state.last_image_with_new_topics = Some(offset);
        }
    }

    /// The broker's metadata changed the partitions of `topics` (added, created or
    /// deleted): the consumer-protocol groups subscribed to one recompute their
    /// subscription metadata at their next heartbeat (`onNewMetadataImage`).
    pub fn on_topics_changed(&self, topics: &std::collections::BTreeSet<String>) {
        for group in self.lock().consumer_groups.values_mut() {
            group.on_topics_changed(topics);
        }
    }

    /// The partitions `deleted` went with their topic: every group this broker
    /// coordinates forgets its committed and pending transactional offsets for them,
    /// and a tombstone per forgotten offset goes to the group's offsets partition
    /// (Kafka 4.0's `OffsetMetadataManager.onPartitionsDeleted`, run on every
    /// coordinator shard; the tombstones keep a coordinator that loads the partition
    /// later from bringing the offsets back). A group stays, even with no offsets left.
    ///
    /// Simplified: Kafka 3.9's classic coordinator, which also marks an empty group
    /// whose offsets are all gone Dead, is not told apart from 4.0's; the tombstones are
    /// written with acks=all where Kafka's old coordinator used acks=0, and the
    /// coordinator forgets the offsets without waiting for them.
    pub fn on_partitions_deleted(&self, shared: &SharedBroker, deleted: &[TopicPartition]) {
        let forgotten: Vec<(String, TopicPartition)> = {
            let mut state = self.lock();
            let forgotten: Vec<(String, TopicPartition)> =
                state.offsets.keys().filter(|(_, tp)| deleted.contains(tp)).cloned().collect();
            for key in &forgotten {
                state.offsets.remove(key);
            }
            for pending in state.pending_txn_offsets.values_mut() {
                pending.retain(|(_, tp), _| !deleted.contains(tp));
            }
            forgotten
        };
        let count = offsets_partitions(shared);
        let mut tombstones: BTreeMap<TopicPartition, Vec<Record>> = BTreeMap::new();
        for (group, tp) in forgotten {
            let offsets_tp = TopicPartition::new(OFFSETS_TOPIC, super::offsets_partition_for(&group, count));
            tombstones.entry(offsets_tp).or_default().push(records::offset_tombstone(&group, &tp, now_ms()));
        }
        for (offsets_tp, records) in tombstones {
            let shared = shared.clone();
            crate::sim::tasks::spawn(async move {
                let _ = append(&shared, &offsets_tp, records).await;
            });
        }
    }
}

/// Who sends a request: its member id and, for a static member, its
/// `group.instance.id` (Kafka validates both, `validateCurrentMember`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Who<'a> {
    pub member_id: &'a str,
    pub instance_id: Option<&'a str>,
}

/// Answers one group request.
pub async fn handle(shared: &SharedBroker, request: GroupRequest) -> GroupResponse {
    match request {
        GroupRequest::FindCoordinator { group } => find_coordinator(shared, &group),
        GroupRequest::JoinGroup {
            group,
            member_id,
            client_id,
            group_instance_id,
            session_timeout_ms,
            rebalance_timeout_ms,
            topics,
            owned,
            owned_generation,
        } => {
            let member = Member {
                client_id,
                instance_id: group_instance_id,
                topics,
                owned,
                owned_generation,
                session_timeout: Duration::from_millis(session_timeout_ms),
                rebalance_timeout: Duration::from_millis(rebalance_timeout_ms),
                last_heard: clock::now(),
                join_reply: None,
                sync_reply: None,
                assignment: Vec::new(),
            };
            join_group(shared, &group, member_id, member).await
        }
        GroupRequest::SyncGroup { group, generation, member_id, group_instance_id, assignments } => {
            let who = Who { member_id: &member_id, instance_id: group_instance_id.as_deref() };
            sync_group(shared, &group, generation, who, assignments.into_iter().collect()).await
        }
        GroupRequest::Heartbeat { group, generation, member_id, group_instance_id } => heartbeat(
            shared,
            &group,
            generation,
            Who { member_id: &member_id, instance_id: group_instance_id.as_deref() },
        ),
        GroupRequest::LeaveGroup { group, member_id, group_instance_id } => {
            leave_group(shared, &group, Who { member_id: &member_id, instance_id: group_instance_id.as_deref() })
        }
        GroupRequest::OffsetCommit { group, generation, member_id, group_instance_id, offsets } => {
            let who = Who { member_id: &member_id, instance_id: group_instance_id.as_deref() };
            commit(shared, &group, generation, who, offsets).await
        }
        GroupRequest::TxnOffsetCommit { transactional_id, group, producer, generation, member_id, offsets } => {
            let commit = super::txn_offsets::TxnCommit { transactional_id, producer, generation, member_id, offsets };
            super::txn_offsets::commit(shared, &group, commit).await
        }
        GroupRequest::OffsetFetch { group, member, partitions } => fetch_offsets(shared, &group, member, partitions),
        GroupRequest::ConsumerGroupHeartbeat(request) => super::consumer_service::heartbeat(shared, request).await,
        GroupRequest::DescribeGroup { group } => describe_group(shared, &group),
    }
}

/// The group's state, as DescribeGroups (a classic group) or ConsumerGroupDescribe (a
/// consumer-protocol group) answers it; a group the coordinator does not know is Dead
/// (Kafka answers DescribeGroups so, with no error).
fn describe_group(shared: &SharedBroker, group_id: &str) -> GroupResponse {
    use crate::protocol::DescribedGroupState as Described;
    if let Err(error) = owned_partition(shared, group_id) {
        return GroupResponse::Described { error: Some(error), state: None };
    }
    let coordinator = shared.coordinator.lock();
    let state = if let Some(group) = coordinator.consumer_groups.get(group_id) {
        use super::consumer_group::ConsumerGroupState as State;
        match group.state() {
            State::Empty => Described::Empty,
            State::Assigning => Described::Assigning,
            State::Reconciling => Described::Reconciling,
            State::Stable => Described::Stable,
        }
    } else {
        match coordinator.groups.get(group_id).map(|group| group.state) {
            Some(GroupState::Empty) => Described::Empty,
            Some(GroupState::PreparingRebalance) => Described::PreparingRebalance,
            Some(GroupState::CompletingRebalance) => Described::CompletingRebalance,
            Some(GroupState::Stable) => Described::Stable,
            None => Described::Dead,
        }
    };
    GroupResponse::Described { error: None, state: Some(state) }
}

fn find_coordinator(shared: &SharedBroker, group: &str) -> GroupResponse {
    let count = offsets_partitions(shared);
    let unavailable = GroupResponse::Coordinator { error: Some(ErrorCode::CoordinatorNotAvailable), coordinator: None };
    if count == 0 {
        return unavailable;
    }
    let tp = TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(group, count));
    let state = shared.lock();
    let leader = state.metadata.partitions.get(&tp).and_then(|p| p.leader);
    match leader.and_then(|l| state.metadata.live_brokers.get(&l)) {
        Some(endpoint) => GroupResponse::Coordinator { error: None, coordinator: Some(endpoint.clone()) },
        None => unavailable,
    }
}

fn joined_error(error: ErrorCode, member_id: String) -> GroupResponse {
    GroupResponse::Joined { error: Some(error), generation: 0, member_id, leader: String::new(), members: Vec::new() }
}

/// JoinGroup: a new member (empty `member_id`) gets an id and joins; a known one rejoins.
/// A static member (KIP-345) that restarted joins with its `group.instance.id` and no
/// member id: it takes over its earlier member's place under a new id. A session
/// timeout outside the broker's limits is refused (Kafka's `handleJoinGroup` checks it
/// right after the coordinator's own state).
async fn join_group(shared: &SharedBroker, group_id: &str, member_id: String, mut member: Member) -> GroupResponse {
    let tp = match owned_partition(shared, group_id) {
        Ok((tp, _)) => tp,
        Err(error) => return joined_error(error, member_id),
    };
    let limits = &shared.config.group_coordinator;
    let session_ms = member.session_timeout.as_millis() as u64;
    if session_ms < limits.group_min_session_timeout_ms || session_ms > limits.group_max_session_timeout_ms {
        return joined_error(ErrorCode::InvalidSessionTimeout, member_id);
    }
    if shared.coordinator.lock().consumer_groups.get(group_id).is_some_and(|g| !g.members.is_empty()) {
        // A consumer-protocol group: Kafka 4.0 lets classic members join it
        // (`classicGroupJoinToConsumerGroup`); kafkasim keeps each group on one protocol.
        return joined_error(ErrorCode::InconsistentGroupProtocol, member_id);
    }
    let (reply, answer) = oneshot::channel();
    member.join_reply = Some(reply);
    let pending = {
        let now = clock::now();
        let delay = Duration::from_millis(limits.group_initial_rebalance_delay_ms);
        let mut coordinator = shared.coordinator.lock();
        if member_id.is_empty() {
            let group = coordinator.groups.entry(group_id.to_string()).or_insert_with(|| Group::new(delay));
            join_without_member_id(group, member, now)
        } else {
            // A member id the group does not know (or a group that does not exist), or a
            // static member another incarnation replaced.
            let Some(group) = coordinator.groups.get_mut(group_id) else {
                return joined_error(ErrorCode::UnknownMemberId, member_id);
            };
            if let Some(error) = group.validate_member(&member_id, member.instance_id.as_deref()) {
                return joined_error(error, member_id);
            }
            group.rejoin(&member_id, member, now);
            None
        }
    };
    if let Some(PendingStaticRejoin { old_id, new_id, leader_before, metadata }) = pending {
        // The new member id must be stored before it is answered, or a failover would
        // bring back the old one (Kafka's `storeGroup` in `updateStaticMemberAndRebalance`).
        let stored = store_group(shared, &tp, group_id, &metadata).await;
        let mut coordinator = shared.coordinator.lock();
        if let Some(group) = coordinator.groups.get_mut(group_id) {
            match stored {
                Ok(()) => group.answer_static_rejoin(&new_id, &leader_before),
                Err(error) => group.revert_static_member(&new_id, &old_id, error),
            }
        }
    }
    answer.await.unwrap_or_else(|_| joined_error(ErrorCode::RebalanceInProgress, String::new()))
}

/// A static member's rejoin into a stable group under a new member id, answered once the
/// group's metadata with that id is stored.
struct PendingStaticRejoin {
    old_id: String,
    new_id: String,
    /// The leader before the rejoin, as the answer names it.
    leader_before: String,
    metadata: GroupMetadata,
}

/// A member without a member id joins: a static member the group knows (it restarted)
/// takes its earlier place under a new id; anyone else joins as a new member. Returns
/// the rejoin to store first, when the group is stable.
fn join_without_member_id(group: &mut Group, member: Member, now: Instant) -> Option<PendingStaticRejoin> {
    // Kafka's `generateMemberId`: a static member's id starts with its instance id.
    let new_id = new_member_id(member.instance_id.as_deref().unwrap_or(&member.client_id));
    let known = member.instance_id.as_deref().and_then(|i| group.static_member_id(i)).map(str::to_string);
    let Some(old_id) = known else {
        group.add_member(new_id, member, now);
        return None;
    };
    let leader_before = group.leader.clone().unwrap_or_default();
    group.replace_static_member(&old_id, &new_id, member);
    match group.static_rejoin(&new_id, now) {
        StaticRejoin::StoreThenAnswer => {
            let metadata = group.current_metadata();
            Some(PendingStaticRejoin { old_id, new_id, leader_before, metadata })
        }
        StaticRejoin::Parked => None,
    }
}

/// SyncGroup: a follower waits for the leader's assignment; the leader's assignment is
/// written with the group's metadata, and only once it is stored does every member get
/// its assignment (Kafka's `doSyncGroup` and `storeGroup`).
async fn sync_group(
    shared: &SharedBroker,
    group_id: &str,
    generation: u32,
    who: Who<'_>,
    assignment: BTreeMap<String, Vec<TopicPartition>>,
) -> GroupResponse {
    let member_id = who.member_id;
    let refuse = |error| GroupResponse::Synced { error: Some(error), assignment: Vec::new() };
    let (tp, leadership) = match owned_partition(shared, group_id) {
        Ok(owned) => owned,
        Err(error) => return refuse(error),
    };
    let (reply, answer) = oneshot::channel();
    let to_store = {
        let mut coordinator = shared.coordinator.lock();
        let Some(group) = coordinator.groups.get_mut(group_id) else { return refuse(ErrorCode::UnknownMemberId) };
        if let Some(error) = group.validate(member_id, who.instance_id, generation) {
            return refuse(error);
        }
        match group.state {
            GroupState::PreparingRebalance => return refuse(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let member = group.members.get_mut(member_id).expect("validated");
                member.last_heard = clock::now();
                return GroupResponse::Synced { error: None, assignment: member.assignment.clone() };
            }
            GroupState::Empty => return refuse(ErrorCode::UnknownMemberId),
            GroupState::CompletingRebalance => {}
        }
        group.members.get_mut(member_id).expect("validated").sync_reply = Some(reply);
        group.is_leader(member_id).then(|| group.metadata(&assignment))
    };
    if let Some(metadata) = to_store {
        let stored = store_group(shared, &tp, group_id, &metadata).await;
        let now = clock::now();
        let mut coordinator = shared.coordinator.lock();
        let still_loaded = coordinator.loaded.get(&tp.partition) == Some(&leadership);
        let group = coordinator.groups.get_mut(group_id).filter(|g| still_loaded && g.generation == generation);
        // The group may have moved on (a new member started another rebalance) meanwhile.
        if let Some(group) = group.filter(|g| g.state == GroupState::CompletingRebalance) {
            match stored {
                Ok(()) => {
                    group.complete_sync(&assignment, now);
                    shared.tracer.reached(ReachedState::RebalanceCompleted);
                }
                Err(error) => group.fail_sync(error, now),
            }
        }
    }
    answer.await.unwrap_or_else(|_| refuse(ErrorCode::RebalanceInProgress))
}

/// Appends `records` to the offsets partition `tp` with acks=all and waits for the ISR;
/// a failure is told the way Kafka's coordinator tells it (`appendGroupMetadataErrorToResponseError`):
/// the partition moved (NOT_COORDINATOR) or could not replicate in time
/// (COORDINATOR_NOT_AVAILABLE; the records may still be committed later).
pub(super) async fn append(shared: &SharedBroker, tp: &TopicPartition, records: Vec<Record>) -> Result<(), ErrorCode> {
    append_batch(shared, tp, RecordBatch::plain(records), None).await
}

/// Appends one batch (transactional, for TxnOffsetCommit) as [`append`] does.
pub(super) async fn append_batch(
    shared: &SharedBroker,
    tp: &TopicPartition,
    batch: RecordBatch,
    transactional_id: Option<String>,
) -> Result<(), ErrorCode> {
    let transactional = batch.transactional;
    let request = ProduceRequest {
        acks: Acks::All,
        timeout_ms: COMMIT_TIMEOUT_MS,
        batches: vec![(tp.clone(), batch)],
        transactional_id,
        // Simplified: a TxnOffsetCommit is verified as transactions v1 verify (the
        // producer added the offsets partition with AddOffsetsToTxn), under either
        // transaction version.
        transaction_version: Default::default(),
    };
    let written = produce::produce(shared, request).await;
    match written.first().and_then(|r| r.error) {
        None => Ok(()),
        // A transactional batch of a fenced producer epoch, told as the produce path
        // tells it; the caller answers PRODUCER_FENCED.
        Some(ErrorCode::InvalidProducerEpoch) if transactional => Err(ErrorCode::InvalidProducerEpoch),
        Some(error) => Err(write_failed(error)),
    }
}

/// Waits until the offsets partition's earlier writes are replicated, within
/// `offsets.commit.timeout.ms`: a write operation that produced no records (see
/// `consumer_service`), with the errors a failed write answers.
pub(super) async fn earlier_writes_committed(shared: &SharedBroker, tp: &TopicPartition) -> Result<(), ErrorCode> {
    let deadline = clock::now() + Duration::from_millis(COMMIT_TIMEOUT_MS);
    match produce::log_end_committed(shared, tp, deadline).await {
        None => Ok(()),
        Some(error) => Err(write_failed(error)),
    }
}

/// What a coordinator answers when its write to the offsets partition fails
/// (`GroupCoordinatorService.handleOperationException`): NOT_COORDINATOR when the broker
/// no longer leads the partition, COORDINATOR_NOT_AVAILABLE otherwise.
fn write_failed(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
        _ => ErrorCode::CoordinatorNotAvailable,
    }
}

pub(super) fn now_ms() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_millis() as u64
}

/// Writes a group's metadata record (Kafka's `storeGroup`).
async fn store_group(
    shared: &SharedBroker,
    tp: &TopicPartition,
    group_id: &str,
    metadata: &GroupMetadata,
) -> Result<(), ErrorCode> {
    append(shared, tp, vec![records::group_record(group_id, metadata, now_ms())]).await
}

fn heartbeat(shared: &SharedBroker, group_id: &str, generation: u32, who: Who<'_>) -> GroupResponse {
    let member_id = who.member_id;
    let ack = |error| GroupResponse::Ack { error };
    if let Err(error) = owned_partition(shared, group_id) {
        return ack(Some(error));
    }
    let mut coordinator = shared.coordinator.lock();
    let Some(group) = coordinator.groups.get_mut(group_id) else { return ack(Some(ErrorCode::UnknownMemberId)) };
    if let Some(error) = group.validate(member_id, who.instance_id, generation) {
        return ack(Some(error));
    }
    group.members.get_mut(member_id).expect("validated").last_heard = clock::now();
    if group.state == GroupState::PreparingRebalance {
        return ack(Some(ErrorCode::RebalanceInProgress));
    }
    ack(None)
}

fn leave_group(shared: &SharedBroker, group_id: &str, who: Who<'_>) -> GroupResponse {
    let tp = match owned_partition(shared, group_id) {
        Ok((tp, _)) => tp,
        Err(error) => return GroupResponse::Ack { error: Some(error) },
    };
    let mut coordinator = shared.coordinator.lock();
    let Some(group) = coordinator.groups.get_mut(group_id) else {
        return GroupResponse::Ack { error: Some(ErrorCode::UnknownMemberId) };
    };
    if let Some(error) = group.validate_member(who.member_id, who.instance_id) {
        return GroupResponse::Ack { error: Some(error) };
    }
    group.remove_member(who.member_id, clock::now());
    if group.take_emptied() {
        spawn_store_emptied(shared, tp, group_id, group);
    }
    GroupResponse::Ack { error: None }
}

/// Writes the metadata of a group that just emptied, without waiting: Kafka only logs a
/// failure (the previous generation then reloads after a move, and its members expire).
fn spawn_store_emptied(shared: &SharedBroker, tp: TopicPartition, group_id: &str, group: &Group) {
    let (shared, group_id, metadata) = (shared.clone(), group_id.to_string(), group.metadata(&BTreeMap::new()));
    crate::sim::tasks::spawn(async move {
        let _ = store_group(&shared, &tp, &group_id, &metadata).await;
    });
}

/// Commits offsets: refused from an unknown member or a stale generation (a standalone
/// commit, without a generation, is accepted only while the group has no members);
/// written to the offsets partition with acks=all; visible to OffsetFetch once written.
async fn commit(
    shared: &SharedBroker,
    group_id: &str,
    generation: Option<u32>,
    who: Who<'_>,
    offsets: Vec<(TopicPartition, Offset)>,
) -> GroupResponse {
    let ack = |error| GroupResponse::Ack { error };
    let tp = match owned_partition(shared, group_id) {
        Ok((tp, _)) => tp,
        Err(error) => return ack(Some(error)),
    };
    if let Some(error) = commit_refusal(shared, group_id, generation, who) {
        if generation.is_some() {
            // A member's commit from a generation (or member epoch) the group left behind.
            shared.tracer.reached(ReachedState::StaleCommitRefused);
        }
        return ack(Some(error));
    }
    // `KafkaApis.handleOffsetCommitRequest`: the partitions of a topic the broker's
    // metadata does not know (deleted) get UNKNOWN_TOPIC_OR_PARTITION. Simplified:
    // Kafka commits the request's other partitions and answers per partition; the
    // answer here carries one error, so the commit is refused whole.
    let unknown_topic = {
        let state = shared.lock();
        offsets.iter().any(|(at, _)| !state.metadata.knows_topic(&at.topic))
    };
    if unknown_topic {
        return ack(Some(ErrorCode::UnknownTopicOrPartition));
    }
    let now_ms = now_ms();
    let records = offsets.iter().map(|(at, offset)| records::offset_record(group_id, at, *offset, now_ms)).collect();
    if let Err(error) = append(shared, &tp, records).await {
        return ack(Some(error));
    }
    let mut coordinator = shared.coordinator.lock();
    for (at, offset) in offsets {
        coordinator.offsets.insert((group_id.to_string(), at), offset);
    }
    ack(None)
}

/// Why a commit must be refused, if it must: a member the group does not know, or a
/// generation that is not the group's current one, is fenced; a standalone commit (no
/// generation) is refused while the group has members.
pub(super) fn commit_refusal(
    shared: &SharedBroker,
    group_id: &str,
    generation: Option<u32>,
    who: Who<'_>,
) -> Option<ErrorCode> {
    let coordinator = shared.coordinator.lock();
    if let Some(group) = coordinator.consumer_groups.get(group_id) {
        let error = super::consumer_service::commit_refusal(group, who.member_id, generation);
        if generation.is_some() && shared.config.planted(PlantedBug::StaleGenerationCommit) {
            // PLANTED BUG stale-generation-commit, as below: the member epoch is not checked.
            return None;
        }
        return error;
    }
    let group = coordinator.groups.get(group_id);
    let error = match (generation, group) {
        (Some(generation), Some(group)) => group.validate(who.member_id, who.instance_id, generation),
        (Some(_), None) => Some(ErrorCode::UnknownMemberId),
        (None, Some(group)) if !group.members.is_empty() => Some(ErrorCode::UnknownMemberId),
        (None, _) => None,
    };
    if generation.is_some() && shared.config.planted(PlantedBug::StaleGenerationCommit) {
        // PLANTED BUG stale-generation-commit: a member fenced by a rebalance (or one the
        // group forgot) still has its commit written, over the new owner's offsets.
        return None;
    }
    error
}

fn fetch_offsets(
    shared: &SharedBroker,
    group_id: &str,
    member: Option<(String, u32)>,
    partitions: Vec<TopicPartition>,
) -> GroupResponse {
    if let Err(error) = owned_partition(shared, group_id) {
        return GroupResponse::Offsets { error: Some(error), offsets: Vec::new() };
    }
    let coordinator = shared.coordinator.lock();
    // OffsetFetch v9 (KIP-848, `ConsumerGroup.validateOffsetFetch`): a member must be
    // the group's, at its current epoch. Simplified: Kafka reads the member as of the
    // last committed offset; here as of now.
    if let (Some((member_id, epoch)), Some(group)) = (&member, coordinator.consumer_groups.get(group_id)) {
        if let Some(error) = super::consumer_service::commit_refusal(group, member_id, Some(*epoch)) {
            return GroupResponse::Offsets { error: Some(error), offsets: Vec::new() };
        }
    }
    // KIP-447 (Kafka 2.5+): the consumer always asks for stable offsets
    // (`OffsetFetchRequest.requireStable`); a partition with transactional offsets
    // pending (a TxnOffsetCommit whose transaction has not ended yet) is answered
    // UNSTABLE_OFFSET_COMMIT, and the consumer asks again (`GroupMetadataManager.getOffsets`,
    // `hasPendingOffsetCommitsForTopicPartition`). Simplified: Kafka answers per
    // partition; here the whole answer carries the error, which the consumer retries
    // the same way.
    let pending = |tp: &TopicPartition| {
        coordinator.pending_txn_offsets.values().any(|p| p.contains_key(&(group_id.to_string(), tp.clone())))
    };
    if partitions.iter().any(pending) {
        return GroupResponse::Offsets { error: Some(ErrorCode::UnstableOffsetCommit), offsets: Vec::new() };
    }
    let offsets = partitions
        .into_iter()
        .map(|tp| {
            let committed = coordinator.offsets.get(&(group_id.to_string(), tp.clone())).copied();
            (tp, committed)
        })
        .collect();
    GroupResponse::Offsets { error: None, offsets }
}

/// The coordinator's timer, every 100 ms of simulated time: follows the broker's
/// leadership of the offsets partitions (loading and unloading them), removes members
/// whose session expired and ends join phases whose time is up (Kafka's heartbeat and
/// join purgatories).
pub async fn run_expiry(shared: SharedBroker) {
    loop {
        sleep(Duration::from_millis(100)).await;
        let count = offsets_partitions(&shared);
        for partition in 0..count {
            sync_partition(&shared, &TopicPartition::new(OFFSETS_TOPIC, partition));
        }
        let now = clock::now();
        let mut coordinator = shared.coordinator.lock();
        let partition_of = |group: &str| TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(group, count));
        super::consumer_service::expire(&shared, &mut coordinator, now, partition_of);
        for (group_id, group) in &mut coordinator.groups {
            for member in group.expired_members(now) {
                group.remove_member(&member, now);
                shared.tracer.reached(ReachedState::MemberFenced);
            }
            group.on_timer(now);
            if group.take_emptied() {
                let tp = TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(group_id, count));
                spawn_store_emptied(&shared, tp, group_id, group);
            }
        }
    }
}
