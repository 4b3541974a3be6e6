//! Offsets committed inside a transaction (KIP-98's TxnOffsetCommit, sent by
//! `sendOffsetsToTransaction`; Kafka's `GroupMetadataManager.storeOffsets` with a
//! producer id and `pendingTransactionalOffsetCommits`). The offset records are written
//! to the group's offsets partition as a transactional batch of the producer; they stay
//! pending, invisible to OffsetFetch, until the transaction's marker reaches that
//! partition: a commit marker applies them, an abort marker drops them. A coordinator
//! that loads the partition applies the committed ones and keeps the open ones pending.

use super::service::{append_batch, commit_refusal, now_ms};
use super::{offsets_partition_for, records};
use crate::broker::SharedBroker;
use crate::coverage::ReachedState;
use crate::protocol::{
    ErrorCode, GroupResponse, Offset, ProducerIdAndEpoch, RecordBatch, TopicPartition, TxnMarkerEntry, TxnResult,
};

/// A TxnOffsetCommit request's content.
pub(super) struct TxnCommit {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id and epoch.
    pub producer: ProducerIdAndEpoch,
    /// The consumer's generation (KIP-447), if given.
    pub generation: Option<u32>,
    /// The consumer's member id (empty if not given).
    pub member_id: String,
    /// The offsets.
    pub offsets: Vec<(TopicPartition, Offset)>,
}

/// The `__consumer_offsets` partition of `group`, if the topic exists.
pub fn offsets_partition_of(shared: &SharedBroker, group: &str) -> Option<TopicPartition> {
    let count = super::ownership::offsets_partitions(shared);
    (count > 0).then(|| TopicPartition::new(super::OFFSETS_TOPIC, offsets_partition_for(group, count)))
}

/// TxnOffsetCommit: fenced like an OffsetCommit when the consumer's group metadata is
/// given (KIP-447: a member of an older generation is a zombie); written as the
/// producer's transactional batch; pending until the transaction ends.
pub(super) async fn commit(shared: &SharedBroker, group: &str, commit: TxnCommit) -> GroupResponse {
    let ack = |error| GroupResponse::Ack { error };
    let tp = match super::ownership::owned_partition(shared, group) {
        Ok((tp, _)) => tp,
        Err(error) => return ack(Some(error)),
    };
    if commit.generation.is_some() {
        // Simplified: TxnOffsetCommit carries no `group.instance.id` here (Kafka's does,
        // from the consumer's group metadata); pipelines have no static members.
        let who = super::service::Who { member_id: &commit.member_id, instance_id: None };
        if let Some(error) = commit_refusal(shared, group, commit.generation, who) {
            // `validateTransactionalOffsetCommit` tells a consumer-protocol member's
            // stale epoch as ILLEGAL_GENERATION, which the producer understands.
            let error = if error == ErrorCode::StaleMemberEpoch { ErrorCode::IllegalGeneration } else { error };
            shared.tracer.reached(ReachedState::StaleCommitRefused);
            return ack(Some(error));
        }
    }
    let now = now_ms();
    let offset_records = commit.offsets.iter().map(|(at, offset)| records::offset_record(group, at, *offset, now));
    let batch = RecordBatch {
        producer_id: commit.producer.id,
        producer_epoch: commit.producer.epoch,
        transactional: true,
        ..RecordBatch::plain(offset_records.collect())
    };
    if let Err(error) = append_batch(shared, &tp, batch, Some(commit.transactional_id)).await {
        // A fenced producer is told so; verification failures as the produce path
        // tells them.
        return ack(Some(match error {
            ErrorCode::InvalidProducerEpoch => ErrorCode::ProducerFenced,
            other => other,
        }));
    }
    let mut coordinator = shared.coordinator.lock();
    let pending = coordinator.pending_txn_offsets.entry(commit.producer.id).or_default();
    for (at, offset) in commit.offsets {
        pending.insert((group.to_string(), at), offset);
    }
    ack(None)
}

/// After this broker appended transaction markers to offsets partition `tp`: the
/// pending offsets of each committed producer in that partition take effect, those of
/// each aborted one are dropped (`GroupMetadataManager.scheduleHandleTxnCompletion`).
pub fn complete_txn_offsets(shared: &SharedBroker, tp: &TopicPartition, entries: &[TxnMarkerEntry]) {
    if *tp.topic != *super::OFFSETS_TOPIC {
        return;
    }
    let count = super::ownership::offsets_partitions(shared);
    let mut coordinator = shared.coordinator.lock();
    for entry in entries.iter().filter(|e| e.partitions.contains(tp)) {
        let Some(pending) = coordinator.pending_txn_offsets.get_mut(&entry.producer.id) else { continue };
        let in_partition: Vec<(String, TopicPartition)> =
            pending.keys().filter(|(group, _)| offsets_partition_for(group, count) == tp.partition).cloned().collect();
        let mut applied = Vec::new();
        for key in in_partition {
            if let Some(offset) = pending.remove(&key) {
                applied.push((key, offset));
            }
        }
        if pending.is_empty() {
            coordinator.pending_txn_offsets.remove(&entry.producer.id);
        }
        if entry.result == TxnResult::Commit {
            coordinator.offsets.extend(applied);
        }
    }
}
