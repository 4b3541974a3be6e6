//! The produce path, in three steps as Kafka's `ReplicaManager.appendRecords`: admit each
//! batch (leadership, `min.insync.replicas`, idempotence checks, then the leader append),
//! await replication (the acks=all purgatory), and answer (trace each acknowledgement
//! and return one response per batch).

use super::partition::Partition;
use super::producer_state::SequenceCheck;
use super::txn_verification::VerificationGuard;
use super::{ReplicaState, SharedBroker};
use crate::coverage::ReachedState;
use crate::history::Event;
use crate::plant::PlantedBug;
use crate::protocol::{
    Acks, ErrorCode, LeaderEpoch, Offset, ProducePartitionResponse, ProduceRequest, RecordBatch, Request,
    TopicPartition,
};
use crate::sim::clock;
use madsim::time::Instant;
use std::sync::Arc;
use std::time::Duration;

/// Appends every batch of a produce request; with acks=all, waits until the ISR has
/// them or the request's timeout passes.
pub async fn produce(shared: &SharedBroker, request: ProduceRequest) -> Vec<ProducePartitionResponse> {
    let (batches, mut unverified) = match &request.transactional_id {
        Some(id) => super::txn_verify::verify(shared, id, request.transaction_version, request.batches).await,
        None => (request.batches.into_iter().map(IncomingBatch::unguarded).collect(), Vec::new()),
    };
    // KIP-890: transactional batches are appended only in a transaction the coordinator
    // confirmed (part 1) or that the leader added them to (part 2, transaction version 2).
    let verified_only = request.transactional_id.is_some()
        && (shared.config.txn.partition_verification || request.transaction_version.bumps_epoch_per_transaction());
    let mut admissions = admit(shared, request.acks, verified_only, batches);
    admissions.append(&mut unverified);
    let deadline = clock::now() + Duration::from_millis(request.timeout_ms);
    await_replication(shared, &mut admissions, deadline).await;
    answer(shared, request.acks, admissions)
}

/// A batch of a produce request on its way to admission.
pub(super) struct IncomingBatch {
    pub tp: TopicPartition,
    pub batch: RecordBatch,
    /// The guard of the KIP-890 verification the coordinator confirmed for it, if it
    /// needed one (see `txn_verification`).
    pub guard: Option<VerificationGuard>,
}

impl IncomingBatch {
    /// A batch that needed no verification (yet).
    pub(super) fn unguarded((tp, batch): (TopicPartition, RecordBatch)) -> Self {
        IncomingBatch { tp, batch, guard: None }
    }
}

/// What admission decided for one batch of a produce request.
pub(super) struct Admission {
    /// The answer so far: an error, or the batch's base offset.
    response: ProducePartitionResponse,
    /// For a batch in the log, what its acknowledgement traces.
    acknowledgeable: Option<Acknowledgeable>,
    /// For acks=all, the replication the answer waits for.
    awaiting: Option<AwaitingReplication>,
}

/// A batch in the leader's log (appended now, or by an earlier try of an idempotent
/// producer), as its acknowledgement is traced.
struct Acknowledgeable {
    /// The partition's name.
    tp: Arc<str>,
    /// The number of records in the batch.
    count: u64,
    /// The leader epoch that took it.
    leader_epoch: LeaderEpoch,
}

/// A batch waiting in the purgatory for acks=all.
struct AwaitingReplication {
    tp: TopicPartition,
    /// The high watermark that commits the whole batch.
    required_offset: Offset,
    /// The leader epoch it was appended in. Only the end of that leadership answers
    /// NOT_LEADER_OR_FOLLOWER: a newer epoch of the same, unbroken leadership (an ISR
    /// change) keeps the wait going, as Kafka's `DelayedProduce` does
    /// (`Partition.checkEnoughReplicasReachOffset` looks at the high watermark only, and
    /// becoming a follower completes the purgatory's requests with the error).
    leader_epoch: LeaderEpoch,
    /// The topic of the log it was appended to: a partition of a topic re-created under
    /// the same name is another partition (`stopPartitions` completed the wait with
    /// NOT_LEADER_OR_FOLLOWER when the old one went).
    topic_id: Option<crate::protocol::TopicId>,
}

impl Admission {
    /// Refused by a broker that is not the partition's leader (or before any check, by
    /// the transaction verification).
    pub(super) fn refused(tp: TopicPartition, error: ErrorCode) -> Self {
        let response =
            ProducePartitionResponse { tp, error: Some(error), base_offset: 0, log_start_offset: None, topic_id: None };
        Admission { response, acknowledgeable: None, awaiting: None }
    }

    /// Refused by the partition's leader, which tells its log start offset (Kafka's
    /// `ReplicaManager.appendToLocalLog` answers errors other than leadership ones with
    /// the partition's `logStartOffset`).
    fn refused_by_leader(partition: &Partition, tp: TopicPartition, error: ErrorCode) -> Self {
        let mut refused = Self::refused(tp, error);
        refused.response.log_start_offset = Some(partition.log().log_start_offset());
        refused
    }
}

/// Step 1: checks and appends every batch under one lock, then wakes the fetch
/// long-polls and the purgatory.
fn admit(shared: &SharedBroker, acks: Acks, verified_only: bool, batches: Vec<IncomingBatch>) -> Vec<Admission> {
    let admissions = {
        let mut state = shared.lock();
        batches.into_iter().map(|incoming| admit_batch(shared, &mut state, acks, verified_only, incoming)).collect()
    };
    shared.wake_watchers();
    admissions
}

/// Checks one batch (leadership, `min.insync.replicas` for acks=all, KIP-890's
/// verification when `verified_only`, the idempotent producer's sequence) and appends it
/// if it passes.
fn admit_batch(
    shared: &SharedBroker,
    state: &mut ReplicaState,
    acks: Acks,
    verified_only: bool,
    IncomingBatch { tp, batch, guard }: IncomingBatch,
) -> Admission {
    let min_isr = shared.config.min_insync_replicas(&tp.topic);
    let Some(partition) = state.partitions.get_mut(&tp) else {
        return Admission::refused(tp, ErrorCode::UnknownTopicOrPartition);
    };
    if !partition.is_leader() {
        return Admission::refused(tp, ErrorCode::NotLeaderOrFollower);
    }
    if acks == Acks::All && partition.isr().len() < min_isr {
        shared.tracer.reached(ReachedState::NotEnoughReplicas);
        return Admission::refused_by_leader(partition, tp, ErrorCode::NotEnoughReplicas);
    }
    if let Some(marker) = batch.control {
        return admit_marker(shared, partition, acks, tp, batch, marker);
    }
    let log = partition.log();
    if batch.transactional
        && verified_only
        && !log.txns().is_open_under(batch.producer_id, batch.producer_epoch)
        && !guard.is_some_and(|guard| log.verifications().holds(batch.producer_id, guard))
    {
        // KIP-890 (`UnifiedLog.batchMissingRequiredVerification`): the coordinator did
        // not confirm this partition is in the producer's open transaction, or a batch
        // or marker of the producer was appended since it did.
        return Admission::refused_by_leader(partition, tp, ErrorCode::InvalidTxnState);
    }
    let mut check = log.producers().check(&batch, shared.config.unknown_producer_sequence);
    if check == SequenceCheck::Append && log.verifications().blocks_sequence(batch.producer_id, batch.base_sequence) {
        // A lower sequence of the producer is still being verified: appending this one
        // first would refuse that one forever (`ProducerAppendInfo.checkSequence`).
        check = SequenceCheck::OutOfOrder;
    }
    if check == SequenceCheck::UnknownProducer && shared.config.planted(PlantedBug::ForgetIdempotenceOnLeaderChange) {
        // PLANTED BUG forget-idempotence-on-leader-change: a producer this leader
        // has no state for is taken as starting afresh at whatever sequence.
        check = SequenceCheck::Append;
    }
    if check == SequenceCheck::StaleEpoch && shared.config.planted(PlantedBug::FencedEpochAccepted) {
        // PLANTED BUG fenced-epoch-accepted: the batch of an older producer epoch than
        // this partition knows (`ProducerAppendInfo.checkProducerEpoch` throws
        // InvalidProducerEpochException) is appended like any other.
        check = SequenceCheck::Append;
    }
    match check {
        SequenceCheck::Append => append(shared, partition, acks, tp, batch),
        // A retry of a batch already in the log: answer with its offset. With acks=all
        // it must still wait until that batch is replicated.
        SequenceCheck::Duplicate { base_offset } => {
            shared.tracer.reached(ReachedState::DuplicateBatchDeduplicated);
            let count = batch.records.len() as u64;
            admitted(partition, acks, tp, base_offset, count)
        }
        SequenceCheck::OutOfOrder => Admission::refused_by_leader(partition, tp, ErrorCode::OutOfOrderSequence),
        SequenceCheck::UnknownProducer => Admission::refused_by_leader(partition, tp, ErrorCode::UnknownProducerId),
        SequenceCheck::StaleEpoch => {
            // A zombie: its transactional id (or its own bump) moved to a newer epoch.
            shared.tracer.reached(ReachedState::ProducerFenced);
            Admission::refused_by_leader(partition, tp, ErrorCode::InvalidProducerEpoch)
        }
    }
}

/// Checks a transaction marker before the leader appends it (Kafka's
/// `ProducerAppendInfo.appendEndTxnMarker`): a marker from a coordinator older than the
/// last one this partition saw for the producer is fenced
/// (TRANSACTION_COORDINATOR_FENCED), and so is one with an older producer epoch than
/// the partition knows (INVALID_PRODUCER_EPOCH).
fn admit_marker(
    shared: &SharedBroker,
    partition: &mut Partition,
    acks: Acks,
    tp: TopicPartition,
    batch: RecordBatch,
    marker: crate::protocol::ControlMarker,
) -> Admission {
    let log = partition.log();
    if log.txns().coordinator_epoch(batch.producer_id).is_some_and(|seen| seen > marker.coordinator_epoch) {
        return Admission::refused_by_leader(partition, tp, ErrorCode::TransactionCoordinatorFenced);
    }
    if log.producers().check(&batch, shared.config.unknown_producer_sequence) == SequenceCheck::StaleEpoch {
        return Admission::refused_by_leader(partition, tp, ErrorCode::InvalidProducerEpoch);
    }
    append(shared, partition, acks, tp, batch)
}

/// Whether appending `request`'s batches would bring one of its partitions here to
/// `flush.messages` unflushed records, so that the append fsyncs (for the cost model:
/// judged when the handler gets to the append, before the produce is validated).
pub fn reaches_flush_messages(shared: &SharedBroker, request: &Request) -> bool {
    let (Request::Produce(produce), Some(flush_messages)) = (request, shared.config.flush_messages) else {
        return false;
    };
    let batches = produce.batches.iter().map(|(tp, batch)| (tp, batch.records.len() as u64));
    shared.lock().any_flush_due(batches, flush_messages)
}

/// Appends an admitted batch as leader; `flush.messages` and the high watermark follow.
fn append(
    shared: &SharedBroker,
    partition: &mut Partition,
    acks: Acks,
    tp: TopicPartition,
    batch: RecordBatch,
) -> Admission {
    let me = shared.id();
    let stored = partition.append_as_leader(me, batch, &shared.tracer);
    partition.flush_if_due(shared.config.flush_messages);
    partition.maybe_advance_high_watermark(me, &shared.tracer);
    if shared.config.planted(PlantedBug::HwBeforeIsr) {
        // PLANTED BUG hw-before-isr: commit the batch at once, as if every ISR
        // member already had it; the purgatory then answers immediately.
        partition.commit_log_end(me, &shared.tracer);
    }
    admitted(partition, acks, tp, stored.base_offset, stored.records.len() as u64)
}

/// A batch of `count` records at `base_offset` in the leader's log: answered with its
/// offset, after replication for acks=all.
fn admitted(partition: &Partition, acks: Acks, tp: TopicPartition, base_offset: Offset, count: u64) -> Admission {
    let leader_epoch = partition.leader_epoch();
    let topic_id = partition.topic_id();
    let awaiting = (acks == Acks::All).then(|| AwaitingReplication {
        tp: tp.clone(),
        required_offset: base_offset + count,
        leader_epoch,
        topic_id,
    });
    let acknowledgeable = Acknowledgeable { tp: partition.name().clone(), count, leader_epoch };
    let log_start_offset = Some(partition.log().log_start_offset());
    Admission {
        response: ProducePartitionResponse { tp, error: None, base_offset, log_start_offset, topic_id },
        acknowledgeable: Some(acknowledgeable),
        awaiting,
    }
}

/// Step 2: waits, batch after batch, until each acks=all batch is replicated; a batch
/// that is not by `deadline` (or loses its leader) gets the error to answer.
async fn await_replication(shared: &SharedBroker, admissions: &mut [Admission], deadline: Instant) {
    for admission in admissions {
        let Some(wait) = &admission.awaiting else { continue };
        if let Some(error) = replicated(shared, wait, deadline).await {
            admission.response.error = Some(error);
        }
    }
}

/// The acks=all purgatory for one batch: `None` once the high watermark passes it with
/// enough replicas in sync, else the error to answer (Kafka's
/// `Partition.checkEnoughReplicasReachOffset`).
async fn replicated(shared: &SharedBroker, wait: &AwaitingReplication, deadline: Instant) -> Option<ErrorCode> {
    if shared.config.planted(PlantedBug::AcksAllLeaderOnly) {
        // PLANTED BUG acks-all-leader-only: the leader's own write is taken as enough.
        return None;
    }
    let min_isr = shared.config.min_insync_replicas(&wait.tp.topic);
    high_watermark_reaches(shared, wait, deadline, Some(min_isr)).await
}

/// Waits until the high watermark of `tp`, which this broker leads, reaches the log's
/// end as it is now: a group coordinator's answer that writes nothing waits so for the
/// writes before it (Kafka's `CoordinatorRuntime`: a write operation that produced no
/// records completes at once only if nothing is pending, otherwise once
/// `lastCommittedOffset` reaches `lastWrittenOffset`; here the offsets partition's log
/// end stands for the coordinator's last written offset). NOT_LEADER_OR_FOLLOWER when
/// the leadership ends (or the partition is not led here), REQUEST_TIMED_OUT at
/// `deadline`.
pub(crate) async fn log_end_committed(
    shared: &SharedBroker,
    tp: &TopicPartition,
    deadline: Instant,
) -> Option<ErrorCode> {
    let wait = {
        let state = shared.lock();
        let Some(partition) = state.partitions.get(tp).filter(|p| p.is_leader()) else {
            return Some(ErrorCode::NotLeaderOrFollower);
        };
        if partition.high_watermark() >= partition.log_end_offset() {
            return None;
        }
        AwaitingReplication {
            tp: tp.clone(),
            required_offset: partition.log_end_offset(),
            leader_epoch: partition.leader_epoch(),
            topic_id: partition.topic_id(),
        }
    };
    high_watermark_reaches(shared, &wait, deadline, None).await
}

/// Waits until the high watermark passes `wait`'s offset: `None` then (or, with
/// `min_isr`, NOT_ENOUGH_REPLICAS_AFTER_APPEND if fewer replicas are in sync), the error
/// to answer if the leadership ends first or `deadline` passes.
async fn high_watermark_reaches(
    shared: &SharedBroker,
    wait: &AwaitingReplication,
    deadline: Instant,
    min_isr: Option<usize>,
) -> Option<ErrorCode> {
    let mut expiry = std::pin::pin!(crate::sim::timer::sleep_until_once(deadline));
    // Woken by every change to the partition: find the replica by its slot, not by name,
    // at each look.
    let (slot, watch) = {
        let mut state = shared.lock();
        let slot = state.partitions.slot(&wait.tp);
        (slot, state.partitions.watch([slot]))
    };
    loop {
        let changed = watch.notified();
        {
            let state = shared.lock();
            let Some(partition) = state.partitions.by_slot(slot).filter(|p| p.topic_id() == wait.topic_id) else {
                return Some(ErrorCode::NotLeaderOrFollower);
            };
            if partition.leadership_start_epoch().is_none_or(|start| start > wait.leader_epoch) {
                return Some(ErrorCode::NotLeaderOrFollower);
            }
            if partition.high_watermark() >= wait.required_offset {
                if min_isr.is_some_and(|min_isr| partition.isr().len() < min_isr) {
                    shared.tracer.reached(ReachedState::NotEnoughReplicas);
                    return Some(ErrorCode::NotEnoughReplicasAfterAppend);
                }
                return None;
            }
        }
        tokio::select! {
        biased;
            _ = changed => {}
            _ = &mut expiry => return Some(ErrorCode::RequestTimedOut),
        }
    }
}

/// Step 3: traces the acknowledgement of every batch answered without error (acks=0
/// acknowledges nothing) and returns the responses in request order.
fn answer(shared: &SharedBroker, acks: Acks, admissions: Vec<Admission>) -> Vec<ProducePartitionResponse> {
    let me = shared.id();
    admissions
        .into_iter()
        .map(|admission| {
            if let (true, None, Some(acked)) =
                (acks != Acks::None, admission.response.error, &admission.acknowledgeable)
            {
                shared.tracer.emit(Event::ProduceAcknowledged {
                    tp: acked.tp.clone(),
                    broker: me.0,
                    leader_epoch: acked.leader_epoch,
                    acks,
                    base_offset: admission.response.base_offset,
                    count: acked.count,
                });
            }
            admission.response
        })
        .collect()
}
