//! The group coordinator's request handling on a broker. A broker coordinates the groups
//! whose `__consumer_offsets` partition it leads; it answers NOT_COORDINATOR otherwise.
//! Committed offsets are records of that partition, written through the ordinary produce
//! path with acks=all, so they are replicated like any user record; a broker that becomes
//! leader of an offsets partition loads them from its log before answering.
//!
//! Deviation from Kafka, on purpose: group membership is not written to the log, only
//! offsets; after a coordinator moves, members rejoin (a rebalance) instead of carrying on.
//! Generations stay unique across moves: a coordinator that loads a partition in leader
//! epoch E numbers its generations from `E * GENERATIONS_PER_EPOCH`.

use super::group::{Group, GroupState, Member};
use super::offsets_partition_for;
use crate::broker::{produce, SharedBroker};
use crate::plant::PlantedBug;
use crate::protocol::{
    Acks, ErrorCode, GroupRequest, GroupResponse, LeaderEpoch, Offset, ProduceRequest, Record, RecordBatch,
    TopicPartition,
};
use madsim::time::{sleep, Instant};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// The internal topic holding committed offsets.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Generation numbers reserved per leader epoch of an offsets partition.
pub const GENERATIONS_PER_EPOCH: u32 = 10_000;

/// How long a commit may wait for the offsets partition's ISR, in milliseconds.
const COMMIT_TIMEOUT_MS: u64 = 5_000;

#[derive(Default)]
struct State {
    groups: BTreeMap<String, Group>,
    offsets: BTreeMap<(String, TopicPartition), Offset>,
    /// Offsets partitions loaded, with the leader epoch they were loaded in.
    loaded: BTreeMap<u32, LeaderEpoch>,
}

/// The coordinator of one broker.
#[derive(Default)]
pub struct Coordinator {
    state: Mutex<State>,
}

/// The key of an offset commit record in `__consumer_offsets`: a JSON array, so that
/// any group or topic name round-trips.
fn offset_key(group: &str, tp: &TopicPartition) -> String {
    serde_json::to_string(&("offset", group, &tp.topic, tp.partition)).expect("keys serialize")
}

/// Reads an offset commit record's key back.
fn parse_offset_key(key: &str) -> Option<(String, TopicPartition)> {
    let (kind, group, topic, partition): (String, String, String, u32) = serde_json::from_str(key).ok()?;
    (kind == "offset").then(|| (group, TopicPartition::new(topic, partition)))
}

impl Coordinator {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("coordinator state poisoned")
    }
}

/// How many partitions `__consumer_offsets` has in this cluster (0 if it does not exist).
fn offsets_partitions(shared: &SharedBroker) -> u32 {
    shared.config.topic(OFFSETS_TOPIC).map_or(0, |t| t.replicas.len() as u32)
}

/// The offsets partition of `group` if this broker leads it, loading it first if this
/// leadership has not loaded it yet; else the error to answer.
fn owned_partition(shared: &SharedBroker, group: &str) -> Result<TopicPartition, ErrorCode> {
    let count = offsets_partitions(shared);
    if count == 0 {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    let tp = TopicPartition::new(OFFSETS_TOPIC, offsets_partition_for(group, count));
    let (epoch, records) = {
        let state = shared.lock();
        let partition = state.partitions.get(&tp).filter(|p| p.is_leader()).ok_or(ErrorCode::NotCoordinator)?;
        let epoch = partition.leader_epoch();
        if shared.coordinator.lock().loaded.get(&tp.partition) == Some(&epoch) {
            return Ok(tp);
        }
        (epoch, partition.log().key_values())
    };
    let mut coordinator = shared.coordinator.lock();
    coordinator.offsets.retain(|(g, _), _| offsets_partition_for(g, count) != tp.partition);
    coordinator.groups.retain(|g, _| offsets_partition_for(g, count) != tp.partition);
    for (key, value) in records {
        if let Some(at) = key.as_deref().and_then(parse_offset_key) {
            coordinator.offsets.insert(at, value);
        }
    }
    coordinator.loaded.insert(tp.partition, epoch);
    Ok(tp)
}

/// Answers one group request.
pub async fn handle(shared: &SharedBroker, request: GroupRequest) -> GroupResponse {
    match request {
        GroupRequest::FindCoordinator { group } => find_coordinator(shared, &group),
        GroupRequest::JoinGroup {
            group,
            member_id,
            client_id,
            session_timeout_ms,
            rebalance_timeout_ms,
            topics,
            owned,
            owned_generation,
        } => {
            let join = JoinRequest {
                member_id,
                client_id,
                session_timeout_ms,
                rebalance_timeout_ms,
                topics,
                owned,
                owned_generation,
            };
            join_group(shared, &group, join).await
        }
        GroupRequest::SyncGroup { group, generation, member_id, assignments } => {
            sync_group(shared, &group, generation, &member_id, assignments).await
        }
        GroupRequest::Heartbeat { group, generation, member_id } => heartbeat(shared, &group, generation, &member_id),
        GroupRequest::LeaveGroup { group, member_id } => leave_group(shared, &group, &member_id),
        GroupRequest::OffsetCommit { group, generation, member_id, offsets } => {
            commit(shared, &group, generation, &member_id, offsets).await
        }
        GroupRequest::OffsetFetch { group, partitions } => fetch_offsets(shared, &group, partitions),
    }
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

struct JoinRequest {
    member_id: String,
    client_id: String,
    session_timeout_ms: u64,
    rebalance_timeout_ms: u64,
    topics: Vec<String>,
    owned: Vec<TopicPartition>,
    owned_generation: Option<u32>,
}

fn joined_error(error: ErrorCode, member_id: String) -> GroupResponse {
    GroupResponse::Joined { error: Some(error), generation: 0, member_id, leader: String::new(), members: Vec::new() }
}

async fn join_group(shared: &SharedBroker, group_id: &str, join: JoinRequest) -> GroupResponse {
    let tp = match owned_partition(shared, group_id) {
        Ok(tp) => tp,
        Err(error) => return joined_error(error, join.member_id),
    };
    let epoch = shared.coordinator.lock().loaded.get(&tp.partition).copied().unwrap_or(0);
    let (reply, answer) = oneshot::channel();
    {
        let now = Instant::now();
        let mut coordinator = shared.coordinator.lock();
        let group =
            coordinator.groups.entry(group_id.to_string()).or_insert_with(|| Group::new(epoch * GENERATIONS_PER_EPOCH));
        let member_id =
            if join.member_id.is_empty() { group.new_member_id(&join.client_id) } else { join.member_id.clone() };
        if !join.member_id.is_empty() && !group.members.contains_key(&member_id) {
            return joined_error(ErrorCode::UnknownMemberId, member_id);
        }
        let member = Member {
            topics: join.topics,
            owned: join.owned,
            owned_generation: join.owned_generation,
            session_timeout: Duration::from_millis(join.session_timeout_ms),
            rebalance_timeout: Duration::from_millis(join.rebalance_timeout_ms),
            last_heard: now,
            join_reply: Some(reply),
            sync_reply: None,
            assignment: Vec::new(),
        };
        if let Some(old) = group.members.insert(member_id.clone(), member) {
            drop(old); // A duplicate join replaces the parked one, whose sender is dropped.
        }
        if group.state != GroupState::PreparingRebalance {
            group.prepare_rebalance(now);
        }
        if group.leader.is_none() {
            group.leader = Some(member_id);
        }
        if group.join_phase_done(now) {
            group.complete_join();
        }
    }
    answer.await.unwrap_or_else(|_| joined_error(ErrorCode::RebalanceInProgress, String::new()))
}

async fn sync_group(
    shared: &SharedBroker,
    group_id: &str,
    generation: u32,
    member_id: &str,
    assignments: Vec<(String, Vec<TopicPartition>)>,
) -> GroupResponse {
    let refuse = |error| GroupResponse::Synced { error: Some(error), assignment: Vec::new() };
    if let Err(error) = owned_partition(shared, group_id) {
        return refuse(error);
    }
    let (reply, answer) = oneshot::channel();
    {
        let mut coordinator = shared.coordinator.lock();
        let Some(group) = coordinator.groups.get_mut(group_id) else { return refuse(ErrorCode::UnknownMemberId) };
        if let Some(error) = group.validate(member_id, generation) {
            return refuse(error);
        }
        match group.state {
            GroupState::PreparingRebalance => return refuse(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let assignment = group.members[member_id].assignment.clone();
                return GroupResponse::Synced { error: None, assignment };
            }
            GroupState::Empty => return refuse(ErrorCode::UnknownMemberId),
            GroupState::CompletingRebalance => {}
        }
        let member = group.members.get_mut(member_id).expect("validated");
        member.sync_reply = Some(reply);
        member.last_heard = Instant::now();
        if group.leader.as_deref() == Some(member_id) {
            group.complete_sync(assignments);
        }
    }
    answer.await.unwrap_or_else(|_| refuse(ErrorCode::RebalanceInProgress))
}

fn heartbeat(shared: &SharedBroker, group_id: &str, generation: u32, member_id: &str) -> GroupResponse {
    let ack = |error| GroupResponse::Ack { error };
    if let Err(error) = owned_partition(shared, group_id) {
        return ack(Some(error));
    }
    let mut coordinator = shared.coordinator.lock();
    let Some(group) = coordinator.groups.get_mut(group_id) else { return ack(Some(ErrorCode::UnknownMemberId)) };
    if let Some(error) = group.validate(member_id, generation) {
        return ack(Some(error));
    }
    group.members.get_mut(member_id).expect("validated").last_heard = Instant::now();
    if group.state == GroupState::PreparingRebalance {
        return ack(Some(ErrorCode::RebalanceInProgress));
    }
    ack(None)
}

fn leave_group(shared: &SharedBroker, group_id: &str, member_id: &str) -> GroupResponse {
    if let Err(error) = owned_partition(shared, group_id) {
        return GroupResponse::Ack { error: Some(error) };
    }
    let mut coordinator = shared.coordinator.lock();
    let Some(group) = coordinator.groups.get_mut(group_id) else {
        return GroupResponse::Ack { error: Some(ErrorCode::UnknownMemberId) };
    };
    if !group.members.contains_key(member_id) {
        return GroupResponse::Ack { error: Some(ErrorCode::UnknownMemberId) };
    }
    group.remove_member(member_id, Instant::now());
    GroupResponse::Ack { error: None }
}

/// Commits offsets: refused from an unknown member or a stale generation (a standalone
/// commit, without a generation, is accepted only while the group has no members);
/// written to the offsets partition with acks=all; visible to OffsetFetch once written.
async fn commit(
    shared: &SharedBroker,
    group_id: &str,
    generation: Option<u32>,
    member_id: &str,
    offsets: Vec<(TopicPartition, Offset)>,
) -> GroupResponse {
    let ack = |error| GroupResponse::Ack { error };
    let tp = match owned_partition(shared, group_id) {
        Ok(tp) => tp,
        Err(error) => return ack(Some(error)),
    };
    if let Some(error) = commit_refusal(shared, group_id, generation, member_id) {
        return ack(Some(error));
    }
    let now_ms = madsim::time::TimeHandle::current().elapsed().as_millis() as u64;
    let records = offsets
        .iter()
        .map(|(at, offset)| Record { key: Some(offset_key(group_id, at)), value: *offset, timestamp_ms: now_ms })
        .collect();
    let request = ProduceRequest {
        acks: Acks::All,
        timeout_ms: COMMIT_TIMEOUT_MS,
        batches: vec![(tp, RecordBatch::plain(records))],
    };
    let written = produce::produce(shared, request).await;
    if let Some(error) = written.first().and_then(|r| r.error) {
        // The partition moved or could not replicate: the client finds the coordinator again.
        let error = match error {
            ErrorCode::NotLeaderOrFollower => ErrorCode::NotCoordinator,
            _ => ErrorCode::CoordinatorNotAvailable,
        };
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
fn commit_refusal(
    shared: &SharedBroker,
    group_id: &str,
    generation: Option<u32>,
    member_id: &str,
) -> Option<ErrorCode> {
    let coordinator = shared.coordinator.lock();
    let group = coordinator.groups.get(group_id);
    let error = match (generation, group) {
        (Some(generation), Some(group)) => group.validate(member_id, generation),
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

fn fetch_offsets(shared: &SharedBroker, group_id: &str, partitions: Vec<TopicPartition>) -> GroupResponse {
    if let Err(error) = owned_partition(shared, group_id) {
        return GroupResponse::Offsets { error: Some(error), offsets: Vec::new() };
    }
    let coordinator = shared.coordinator.lock();
    let offsets = partitions
        .into_iter()
        .map(|tp| {
            let committed = coordinator.offsets.get(&(group_id.to_string(), tp.clone())).copied();
            (tp, committed)
        })
        .collect();
    GroupResponse::Offsets { error: None, offsets }
}

/// Ends join phases whose deadline passed and removes members whose session expired,
/// every 100 ms of simulated time (Kafka's delayed join and heartbeat purgatories).
pub async fn run_expiry(shared: SharedBroker) {
    loop {
        sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        let mut coordinator = shared.coordinator.lock();
        for group in coordinator.groups.values_mut() {
            for member in group.expired_members(now) {
                group.remove_member(&member, now);
            }
            if group.join_phase_done(now) {
                group.complete_join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_record_keys_round_trip() {
        let tp = TopicPartition::new("my-orders", 7);
        assert_eq!(
            parse_offset_key(&offset_key("billing|\"eu\"", &tp)),
            Some(("billing|\"eu\"".to_string(), tp.clone()))
        );
        assert_eq!(parse_offset_key(&offset_key("billing", &tp)), Some(("billing".to_string(), tp)));
        assert_eq!(parse_offset_key("[\"generation\",\"billing\"]"), None);
        assert_eq!(parse_offset_key("not json"), None);
    }
}
