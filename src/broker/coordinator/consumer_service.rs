//! ConsumerGroupHeartbeat on the coordinator (KIP-848): Kafka's
//! `GroupCoordinatorService.consumerGroupHeartbeat`, a write operation of the
//! coordinator runtime. The group applies the heartbeat's records at once (Kafka replays
//! them into its in-memory state as it appends them to the leader's log) and the answer
//! waits until they are replicated (Kafka's deferred event, completed when the high
//! watermark passes them). A write that fails after the local append leaves the state as
//! Kafka's does: the records stay in the leader's log and in memory (a lost leadership
//! unloads the partition anyway).
//!
//! A heartbeat that writes nothing is answered once the partition's earlier writes are
//! replicated: at once if they are, otherwise when the high watermark reaches the log's
//! end (Kafka's `CoordinatorRuntime` defers such a read-only write event until
//! `lastCommittedOffset` reaches `lastWrittenOffset`).

use super::consumer_group::{regex, ConsumerGroup, Context};
use super::ownership::owned_partition;
use super::records::{self, ConsumerGroupRecord};
use super::service::{append, earlier_writes_committed, now_ms, State};
use crate::broker::SharedBroker;
use crate::coverage::ReachedState;
use crate::protocol::{ConsumerHeartbeat, ErrorCode, GroupResponse, TopicPartition};
use crate::sim::clock;
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet};

/// Answers a ConsumerGroupHeartbeat.
pub(super) async fn heartbeat(shared: &SharedBroker, request: ConsumerHeartbeat) -> GroupResponse {
    let settings = &shared.config.group_coordinator;
    let refuse = |error| GroupResponse::ConsumerHeartbeat {
        error: Some(error),
        member_id: request.member_id.clone(),
        member_epoch: request.member_epoch,
        heartbeat_interval_ms: settings.consumer.heartbeat_interval_ms,
        assignment: None,
    };
    if !settings.consumer_protocol_enabled {
        return refuse(ErrorCode::UnsupportedRequest);
    }
    let tp = match owned_partition(shared, &request.group) {
        Ok((tp, _)) => tp,
        Err(error) => return refuse(error),
    };
    let topics = topic_partition_counts(shared);
    let written = {
        let mut coordinator = shared.coordinator.lock();
        let last_image_with_new_topics = coordinator.last_image_with_new_topics.unwrap_or(0);
        if coordinator.groups.get(&request.group).is_some_and(|g| !g.members.is_empty()) {
            // A classic group with members: Kafka 4.0 may upgrade it online; kafkasim
            // keeps each group on one protocol.
            return refuse(ErrorCode::GroupIdNotFound);
        }
        let joining = request.member_epoch == super::consumer_group::JOIN_EPOCH;
        let group = match coordinator.consumer_groups.get_mut(&request.group) {
            Some(group) => group,
            None if joining => coordinator.consumer_groups.entry(request.group.clone()).or_default(),
            None => return refuse(ErrorCode::GroupIdNotFound),
        };
        let cx = Context {
            now: clock::now(),
            now_ms: now_ms(),
            topics: &topics,
            last_image_with_new_topics,
            settings: &settings.consumer,
        };
        group.heartbeat(&request, &cx).map(|written| (written, group.take_regex_refresh()))
    };
    let ((records, answer), regex_refresh) = match written {
        Ok(written) => written,
        Err(error) => {
            if error == ErrorCode::FencedMemberEpoch {
                shared.tracer.reached(ReachedState::MemberFenced);
            }
            return refuse(error);
        }
    };

    if let Some(regexes) = regex_refresh {
        resolve_regexes(shared, tp.clone(), request.group.clone(), regexes);
    }
    tracing::debug!(group = %request.group, member = %answer.member_id, epoch = answer.member_epoch, records = records.len(), "ConsumerGroupHeartbeat");
    let stored = match records.is_empty() {
        true => earlier_writes_committed(shared, &tp).await,
        false => store(shared, &tp, &request.group, &records).await,
    };
    if let Err(error) = stored {
        return refuse(error);
    }
    if request.member_epoch > 0 && answer.member_epoch > request.member_epoch {
        shared.tracer.reached(ReachedState::Kip848MemberEpochBumped);
    }
    GroupResponse::ConsumerHeartbeat {
        error: None,
        member_id: answer.member_id,
        member_epoch: answer.member_epoch,
        heartbeat_interval_ms: settings.consumer.heartbeat_interval_ms,
        assignment: answer.assignment,
    }
}

/// Resolves a group's regular expressions off its write path (Kafka's
/// `CoordinatorExecutor` task, `refreshRegularExpressions` against the broker's metadata
/// as it is when the task runs) and writes what the group makes of the result
/// (`handleRegularExpressionsResult`, a write operation of its own). A group gone by
/// then (its partition unloaded) takes nothing.
fn resolve_regexes(shared: &SharedBroker, tp: TopicPartition, group_id: String, regexes: BTreeSet<String>) {
    let shared = shared.clone();
    crate::sim::tasks::spawn(async move {
        let topics = topic_partition_counts(&shared);
        let version = shared.kraft().applied_offset;
        let resolved = regex::resolve(&regexes, topics.keys().map(String::as_str), version, now_ms());
        let records = {
            let mut coordinator = shared.coordinator.lock();
            let Some(group) = coordinator.consumer_groups.get_mut(&group_id) else { return };
            group.regexes_resolved(resolved, &topics)
        };
        tracing::debug!(group = %group_id, records = records.len(), "regular expressions resolved");
        let _ = store(&shared, &tp, &group_id, &records).await;
    });
}

/// Writes a consumer group's records to its offsets partition (nothing to do for none).
pub(super) async fn store(
    shared: &SharedBroker,
    tp: &TopicPartition,
    group: &str,
    records: &[ConsumerGroupRecord],
) -> Result<(), ErrorCode> {
    if records.is_empty() {
        return Ok(());
    }
    let now_ms = now_ms();
    let records = records.iter().map(|r| records::consumer_group_record(group, r, now_ms)).collect();
    append(shared, tp, records).await
}

/// Every topic the broker's metadata knows, with its partition count.
fn topic_partition_counts(shared: &SharedBroker) -> BTreeMap<String, u32> {
    TopicPartition::counts(shared.lock().metadata.partitions.keys())
}

/// Why a commit (or fetch) by `member_id` at `epoch` must be refused by consumer group
/// `group`, if it must (Kafka's `ConsumerGroup.validateOffsetCommit`): a commit without
/// a member epoch is accepted only while the group has no members; an unknown member is
/// UNKNOWN_MEMBER_ID; another epoch than the member's, older or newer, is
/// STALE_MEMBER_EPOCH. Kafka does not check that the member owns the partitions: the
/// epoch alone fences a zombie.
pub(super) fn commit_refusal(group: &ConsumerGroup, member_id: &str, epoch: Option<u32>) -> Option<ErrorCode> {
    let Some(epoch) = epoch else {
        return (!group.members.is_empty()).then_some(ErrorCode::UnknownMemberId);
    };
    let Some(member) = group.members.get(member_id) else { return Some(ErrorCode::UnknownMemberId) };
    (member.epoch() != epoch as i32).then_some(ErrorCode::StaleMemberEpoch)
}

/// The coordinator's timer for consumer groups: fences the members whose session or
/// rebalance timer expired and writes the records without waiting (a failure is only
/// logged, as Kafka's timer operations are).
pub(super) fn expire(
    shared: &SharedBroker,
    coordinator: &mut State,
    now: Instant,
    partition_of: impl Fn(&str) -> TopicPartition,
) {
    for (group_id, group) in &mut coordinator.consumer_groups {
        let (records, fenced) = group.expire(now);
        for _ in &fenced {
            shared.tracer.reached(ReachedState::MemberFenced);
        }
        if records.is_empty() {
            continue;
        }
        tracing::debug!(group = %group_id, ?fenced, "consumer group members fenced by their timers");
        let (shared, tp, group_id) = (shared.clone(), partition_of(group_id), group_id.clone());
        crate::sim::tasks::spawn(async move {
            let _ = store(&shared, &tp, &group_id, &records).await;
        });
    }
}
