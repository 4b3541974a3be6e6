//! Request handlers: produce (with the acks=all purgatory), fetch (long-poll), list
//! offsets, OffsetForLeaderEpoch, metadata, and the controller's LeaderAndIsr and
//! UpdateMetadata.

use super::partition::{Partition, Role};
use super::producer_state::SequenceCheck;
use super::{fetcher, MetadataCache, SharedBroker, TruncationMode};
use crate::broker::log::{PartitionLog, ReadLimits};
use crate::history::{Event, TruncationReason};
use crate::plant::PlantedBug;
use crate::protocol::{
    Acks, BrokerEndpoint, ErrorCode, FetchPartitionResponse, FetchRequest, LeaderAndIsrRequest, LeaderEpoch,
    ListOffsetsRequest, MetadataResponse, Offset, OffsetForLeaderEpochResponse, OffsetSpec, PartitionMetadata,
    PartitionState, ProducePartitionResponse, ProduceRequest, Response, TopicPartition,
};
use madsim::time::{sleep_until, Instant};
use std::sync::Arc;
use std::time::Duration;

/// Answers a Metadata request from the broker's metadata cache.
pub fn metadata(shared: &SharedBroker, topics: &[String]) -> Response {
    let state = shared.lock();
    let cache = &state.metadata;
    let partitions = cache
        .partitions
        .values()
        .filter(|p| topics.is_empty() || topics.iter().any(|t| **t == *p.tp.topic))
        .map(|p| PartitionMetadata {
            tp: p.tp.clone(),
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
        })
        .collect();
    Response::Metadata(MetadataResponse {
        brokers: cache.live_brokers.values().cloned().collect(),
        controller: cache.controller,
        partitions,
    })
}

/// A batch waiting in the purgatory for acks=all.
struct AwaitingReplication {
    index: usize,
    tp: TopicPartition,
    required_offset: Offset,
    leader_epoch: LeaderEpoch,
}

/// Appends every batch of a produce request; with acks=all, waits until the ISR has
/// them or the request's timeout passes.
pub async fn produce(shared: &SharedBroker, request: ProduceRequest) -> Vec<ProducePartitionResponse> {
    let mut results = Vec::with_capacity(request.batches.len());
    let mut awaiting = Vec::new();
    // Per batch, the partition's name, record count and leader epoch, to trace each
    // acknowledgement.
    let mut acked_batches: Vec<Option<(Arc<str>, u64, LeaderEpoch)>> = Vec::with_capacity(request.batches.len());
    let me;
    {
        let mut state = shared.lock();
        me = state.id;
        for (index, (tp, batch)) in request.batches.into_iter().enumerate() {
            acked_batches.push(None);
            let min_isr = shared.config.topic(&tp.topic).map_or(1, |t| t.min_insync_replicas) as usize;
            let Some(partition) = state.partitions.get_mut(&tp) else {
                results.push(failed(tp, ErrorCode::UnknownTopicOrPartition));
                continue;
            };
            if !partition.is_leader() {
                results.push(failed(tp, ErrorCode::NotLeaderOrFollower));
                continue;
            }
            if request.acks == Acks::All && partition.isr.len() < min_isr {
                results.push(failed(tp, ErrorCode::NotEnoughReplicas));
                continue;
            }
            let mut check = partition.log.producers().check(&batch);
            if check == SequenceCheck::UnknownProducer
                && shared.config.planted(PlantedBug::ForgetIdempotenceOnLeaderChange)
            {
                // PLANTED BUG forget-idempotence-on-leader-change: a producer this leader
                // has no state for is taken as starting afresh at whatever sequence.
                check = SequenceCheck::Append;
            }
            match check {
                SequenceCheck::Append => {}
                SequenceCheck::Duplicate { base_offset } => {
                    // A retry of a batch already in the log: answer with its offset. With
                    // acks=all it must still wait until that batch is replicated.
                    if request.acks == Acks::All {
                        let required_offset = base_offset + batch.records.len() as Offset;
                        let leader_epoch = partition.leader_epoch;
                        awaiting.push(AwaitingReplication { index, tp: tp.clone(), required_offset, leader_epoch });
                    }
                    acked_batches[index] =
                        Some((partition.name().clone(), batch.records.len() as u64, partition.leader_epoch));
                    results.push(ProducePartitionResponse { tp, error: None, base_offset });
                    continue;
                }
                SequenceCheck::OutOfOrder => {
                    results.push(failed(tp, ErrorCode::OutOfOrderSequence));
                    continue;
                }
                SequenceCheck::UnknownProducer => {
                    results.push(failed(tp, ErrorCode::UnknownProducerId));
                    continue;
                }
                SequenceCheck::StaleEpoch => {
                    results.push(failed(tp, ErrorCode::InvalidProducerEpoch));
                    continue;
                }
            }
            let epoch = partition.leader_epoch;
            let stored = partition.log.append_as_leader(batch, epoch);
            acked_batches[index] = Some((partition.name().clone(), stored.records.len() as u64, epoch));
            shared.tracer.emit(Event::Append {
                tp: partition.name().clone(),
                broker: me.0,
                as_leader: true,
                leader_epoch: epoch,
                base_offset: stored.base_offset,
                values: stored.records.iter().map(|r| r.value).collect(),
            });
            flush_if_due(partition, shared.config.flush_messages);
            partition.maybe_advance_high_watermark(me, &shared.tracer);
            if shared.config.planted(PlantedBug::HwBeforeIsr) {
                // PLANTED BUG hw-before-isr: commit the batch at once, as if every ISR
                // member already had it; the purgatory below then answers immediately.
                let end = partition.log.log_end_offset();
                partition.set_high_watermark(me, end, &shared.tracer);
            }
            if request.acks == Acks::All {
                awaiting.push(AwaitingReplication {
                    index,
                    tp: tp.clone(),
                    required_offset: stored.next_offset(),
                    leader_epoch: epoch,
                });
            }
            results.push(ProducePartitionResponse { tp, error: None, base_offset: stored.base_offset });
        }
    }
    shared.changed.notify_waiters();
    let deadline = Instant::now() + Duration::from_millis(request.timeout_ms);
    for wait in awaiting {
        if let Some(error) = await_replication(shared, &wait, deadline).await {
            results[wait.index].error = Some(error);
        }
    }
    if request.acks != Acks::None {
        for (result, batch) in results.iter().zip(&acked_batches) {
            if let (None, Some((name, count, leader_epoch))) = (&result.error, batch) {
                shared.tracer.emit(Event::ProduceAcknowledged {
                    tp: name.clone(),
                    broker: me.0,
                    leader_epoch: *leader_epoch,
                    acks: request.acks,
                    base_offset: result.base_offset,
                    count: *count,
                });
            }
        }
    }
    results
}

fn failed(tp: TopicPartition, error: ErrorCode) -> ProducePartitionResponse {
    ProducePartitionResponse { tp, error: Some(error), base_offset: 0 }
}

/// Fsyncs the log once `flush.messages` records have accumulated.
pub fn flush_if_due(partition: &mut Partition, flush_messages: Option<u64>) {
    if flush_messages.is_some_and(|n| partition.log.unflushed_records() >= n) {
        partition.log.flush();
    }
}

/// The acks=all purgatory: `None` once the high watermark passes the batch with enough
/// replicas in sync, else the error to answer (Kafka's `checkEnoughReplicasReachOffset`).
async fn await_replication(shared: &SharedBroker, wait: &AwaitingReplication, deadline: Instant) -> Option<ErrorCode> {
    let min_isr = shared.config.topic(&wait.tp.topic).map_or(1, |t| t.min_insync_replicas) as usize;
    if shared.config.planted(PlantedBug::AcksAllLeaderOnly) {
        // PLANTED BUG acks-all-leader-only: the leader's own write is taken as enough.
        return None;
    }
    loop {
        let changed = shared.changed.notified();
        {
            let state = shared.lock();
            let Some(partition) = state.partitions.get(&wait.tp) else {
                return Some(ErrorCode::NotLeaderOrFollower);
            };
            if !partition.is_leader() || partition.leader_epoch != wait.leader_epoch {
                return Some(ErrorCode::NotLeaderOrFollower);
            }
            if partition.high_watermark >= wait.required_offset {
                return (partition.isr.len() < min_isr).then_some(ErrorCode::NotEnoughReplicasAfterAppend);
            }
        }
        tokio::select! {
        biased;
            _ = changed => {}
            _ = sleep_until(deadline) => return Some(ErrorCode::RequestTimedOut),
        }
    }
}

/// Serves a fetch from a consumer or a follower, waiting up to `max_wait_ms` for data.
pub async fn fetch(shared: &SharedBroker, request: FetchRequest) -> Vec<FetchPartitionResponse> {
    let deadline = Instant::now() + Duration::from_millis(request.max_wait_ms);
    if let Some(follower) = request.replica_id {
        record_follower_progress(shared, follower, &request);
    }
    loop {
        let changed = shared.changed.notified();
        let responses = read_partitions(shared, &request);
        let ready = responses.iter().any(|r| r.error.is_some() || !r.batches.is_empty());
        if ready || Instant::now() >= deadline {
            return responses;
        }
        tokio::select! {
        biased;
            _ = changed => {}
            _ = sleep_until(deadline) => {}
        }
    }
}

/// Leader side of a follower fetch: its fetch offset is its log end offset, which may
/// move the high watermark and let it rejoin the ISR.
fn record_follower_progress(shared: &SharedBroker, follower: crate::protocol::BrokerId, request: &FetchRequest) {
    let now = Instant::now();
    let mut expansions = Vec::new();
    let mut moved = false;
    {
        let mut state = shared.lock();
        let me = state.id;
        for wanted in &request.partitions {
            let Some(partition) = state.partitions.get_mut(&wanted.tp) else {
                continue;
            };
            if !partition.is_leader() || wanted.current_leader_epoch != Some(partition.leader_epoch) {
                continue;
            }
            // An out-of-range fetch reads nothing, so it says nothing of the follower's
            // progress (Kafka updates the follower's state only after a read).
            let log = &partition.log;
            if wanted.fetch_offset > log.log_end_offset() || wanted.fetch_offset < log.log_start_offset() {
                continue;
            }
            partition.record_follower_fetch(follower, wanted.fetch_offset, now);
            moved |= partition.maybe_advance_high_watermark(me, &shared.tracer);
            if partition.pending_isr().is_none() && partition.caught_up_outside_isr().contains(&follower) {
                let mut new_isr = partition.isr.clone();
                new_isr.push(follower);
                expansions.push((wanted.tp.clone(), new_isr));
            }
        }
    }
    if moved {
        shared.changed.notify_waiters();
    }
    for (tp, new_isr) in expansions {
        super::background::propose_isr(shared, &tp, new_isr);
    }
}

/// Reads each requested partition without waiting.
fn read_partitions(shared: &SharedBroker, request: &FetchRequest) -> Vec<FetchPartitionResponse> {
    let state = shared.lock();
    let is_follower = request.replica_id.is_some();
    request
        .partitions
        .iter()
        .map(|wanted| {
            let mut response = FetchPartitionResponse {
                tp: wanted.tp.clone(),
                error: None,
                high_watermark: 0,
                log_start_offset: 0,
                log_end_offset: 0,
                batches: Vec::new(),
            };
            let Some(partition) = state.partitions.get(&wanted.tp) else {
                response.error = Some(ErrorCode::UnknownTopicOrPartition);
                return response;
            };
            if let Some(error) = epoch_error(partition, wanted.current_leader_epoch) {
                response.error = Some(error);
                return response;
            }
            let log = &partition.log;
            response.high_watermark = partition.high_watermark;
            response.log_start_offset = log.log_start_offset();
            response.log_end_offset = log.log_end_offset();
            if wanted.fetch_offset > log.log_end_offset() || wanted.fetch_offset < log.log_start_offset() {
                response.error = Some(ErrorCode::OffsetOutOfRange);
                return response;
            }
            // Consumers see only committed records; followers read up to the log end.
            let until = if is_follower { log.log_end_offset() } else { partition.high_watermark };
            let limits = if is_follower {
                ReadLimits { max_bytes: shared.config.replica_fetch_max_bytes, max_records: usize::MAX }
            } else {
                ReadLimits { max_bytes: u64::MAX, max_records: request.max_records }
            };
            response.batches = log.read(wanted.fetch_offset, until, limits);
            response
        })
        .collect()
}

/// KIP-320 fencing: the request's leader epoch must match the leader's.
fn epoch_error(partition: &Partition, requested: Option<LeaderEpoch>) -> Option<ErrorCode> {
    if !partition.is_leader() {
        return Some(ErrorCode::NotLeaderOrFollower);
    }
    match requested {
        Some(epoch) if epoch < partition.leader_epoch => Some(ErrorCode::FencedLeaderEpoch),
        Some(epoch) if epoch > partition.leader_epoch => Some(ErrorCode::UnknownLeaderEpoch),
        _ => None,
    }
}

/// Answers ListOffsets from the leader.
pub fn list_offsets(shared: &SharedBroker, request: &ListOffsetsRequest) -> Response {
    let state = shared.lock();
    let answer = |error: Option<ErrorCode>, offset| Response::ListOffsets { error, offset };
    let Some(partition) = state.partitions.get(&request.tp) else {
        return answer(Some(ErrorCode::UnknownTopicOrPartition), 0);
    };
    if !partition.is_leader() {
        return answer(Some(ErrorCode::NotLeaderOrFollower), 0);
    }
    let offset = match request.spec {
        OffsetSpec::Earliest => partition.log.log_start_offset(),
        OffsetSpec::Latest => partition.high_watermark,
        OffsetSpec::Timestamp(ms) => partition
            .log
            .offset_for_timestamp(ms)
            .filter(|o| *o < partition.high_watermark)
            .unwrap_or(partition.high_watermark),
    };
    answer(None, offset)
}

/// KIP-101/279: the end offset of `epoch` (or the largest earlier epoch) on the leader.
pub fn offset_for_leader_epoch(
    shared: &SharedBroker,
    tp: &TopicPartition,
    current_leader_epoch: LeaderEpoch,
    epoch: LeaderEpoch,
) -> Response {
    let state = shared.lock();
    let answer = |error, leader_epoch, end_offset| {
        Response::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse { error, leader_epoch, end_offset })
    };
    let Some(partition) = state.partitions.get(tp) else {
        return answer(Some(ErrorCode::UnknownTopicOrPartition), 0, 0);
    };
    if let Some(error) = epoch_error(partition, Some(current_leader_epoch)) {
        return answer(Some(error), 0, 0);
    }
    let end = partition.log.log_end_offset();
    match partition.log.epochs().end_offset_for(epoch, end) {
        Some((found, end_offset)) => answer(None, found, end_offset),
        // No epoch that old: the follower must truncate everything it has.
        None => answer(None, epoch, partition.log.log_start_offset()),
    }
}

/// Applies a LeaderAndIsr request from the controller.
pub fn leader_and_isr(shared: &SharedBroker, request: LeaderAndIsrRequest) -> Response {
    {
        let mut guard = shared.lock();
        let state = &mut *guard;
        let me = state.id;
        if let Some(error) = fence_controller(shared, &mut state.metadata, request.controller_epoch) {
            return Response::ControllerAck { error: Some(error) };
        }
        let new_controller = state.metadata.controller != Some(request.controller_id);
        state.metadata.controller = Some(request.controller_id);
        update_live_brokers(&mut state.metadata, &request.live_brokers);
        let now = Instant::now();
        if new_controller {
            // An ISR change sent to the previous controller may never be answered (it can
            // hang until the inter-broker timeout), and while it is pending no other one
            // is proposed: forget it, so the next fetch proposes to the new controller
            // (found by the swarm scenario, seed 630). The controller checks the
            // partition epoch, so a late answer to the old request does no harm.
            for partition in state.partitions.values_mut() {
                partition.set_pending_isr(None);
            }
        }
        for partition_state in &request.partitions {
            state.metadata.partitions.insert(partition_state.tp.clone(), partition_state.clone());
            if !partition_state.replicas.contains(&me) {
                continue;
            }
            let partition = state.partitions.entry(partition_state.tp.clone()).or_insert_with(|| {
                let segment_bytes = shared.config.retention_for(&partition_state.tp.topic).segment_bytes;
                let log = PartitionLog::load_with_segment_bytes(
                    partition_state.tp.clone(),
                    shared.disk.clone(),
                    segment_bytes,
                );
                Partition::new(log, 0)
            });
            apply_partition_state(shared, me, partition, partition_state, now);
        }
    }
    shared.changed.notify_waiters();
    fetcher::ensure_fetchers(shared);
    Response::ControllerAck { error: None }
}

/// Takes the role a partition state gives this broker, if it is news.
fn apply_partition_state(
    shared: &SharedBroker,
    me: crate::protocol::BrokerId,
    partition: &mut Partition,
    state: &PartitionState,
    now: Instant,
) {
    let has_role = !matches!(partition.role, Role::None);
    if has_role && state.leader_epoch < partition.leader_epoch {
        return; // An older leadership than the one we know.
    }
    if has_role && state.leader_epoch == partition.leader_epoch {
        // Same leadership: only the ISR may have changed.
        if state.partition_epoch > partition.partition_epoch {
            partition.apply_state(state);
        }
        return;
    }
    if state.leader == Some(me) {
        partition.become_leader(me, state, now, &shared.tracer);
        if shared.config.planted(PlantedBug::ForgetIdempotenceOnLeaderChange) {
            // PLANTED BUG forget-idempotence-on-leader-change: the new leader starts
            // without the producer state its log holds (see also `produce`).
            partition.log.forget_producers();
        }
        return;
    }
    partition.become_follower(me, state, &shared.tracer);
    if shared.config.planted(PlantedBug::NoFollowerTruncation) {
        // PLANTED BUG no-follower-truncation: keep the whole log and fetch from its end.
        if let Role::Follower { needs_truncation, .. } = &mut partition.role {
            *needs_truncation = false;
        }
        return;
    }
    if shared.config.truncation == TruncationMode::Legacy {
        // Pre-KIP-101: drop everything above the local high watermark before fetching.
        let high_watermark = partition.high_watermark;
        partition.truncate(me, high_watermark, TruncationReason::HighWatermark, &shared.tracer);
        if let Role::Follower { needs_truncation, .. } = &mut partition.role {
            *needs_truncation = false;
        }
    }
}

/// Applies UpdateMetadata from the controller.
pub fn update_metadata(
    shared: &SharedBroker,
    controller_epoch: u64,
    live_brokers: &[BrokerEndpoint],
    partitions: Vec<PartitionState>,
) -> Response {
    let mut state = shared.lock();
    if let Some(error) = fence_controller(shared, &mut state.metadata, controller_epoch) {
        return Response::ControllerAck { error: Some(error) };
    }
    update_live_brokers(&mut state.metadata, live_brokers);
    for partition in partitions {
        state.metadata.partitions.insert(partition.tp.clone(), partition);
    }
    Response::ControllerAck { error: None }
}

/// Refuses requests from a controller older than the newest one seen (zombie fencing).
fn fence_controller(shared: &SharedBroker, metadata: &mut MetadataCache, epoch: u64) -> Option<ErrorCode> {
    if epoch < metadata.controller_epoch {
        shared.tracer.emit(Event::StaleControllerFenced {
            broker: shared.id().0,
            controller_epoch: epoch,
            known_epoch: metadata.controller_epoch,
        });
        return Some(ErrorCode::StaleControllerEpoch);
    }
    metadata.controller_epoch = epoch;
    None
}

fn update_live_brokers(metadata: &mut MetadataCache, live_brokers: &[BrokerEndpoint]) {
    metadata.live_brokers = live_brokers.iter().map(|b| (b.id, b.clone())).collect();
}

/// The durable file holding the next producer id this broker hands out.
const PRODUCER_ID_COUNTER: &str = "producer-id-counter";

/// Reads the producer id counter: ids are `broker id << 32 | n`, unique across brokers
/// and restarts. (Kafka allocates blocks of ids through ZooKeeper; a per-broker durable
/// counter gives the same uniqueness.)
pub fn load_producer_id_counter(me: crate::protocol::BrokerId, disk: &crate::sim::disk::Disk) -> i64 {
    disk.read(PRODUCER_ID_COUNTER)
        .and_then(|entries| entries.last().and_then(|e| bincode::deserialize::<i64>(e).ok()))
        .unwrap_or((i64::from(me.0)) << 32)
}

/// Hands out a new producer id (epoch 0), persisting the counter first.
pub fn init_producer_id(shared: &SharedBroker) -> Response {
    let mut next = shared.next_producer_id.lock().expect("producer id counter poisoned");
    let producer_id = *next;
    *next += 1;
    let bytes = bincode::serialize(&*next).expect("counter serializes");
    shared.disk.overwrite_durably(PRODUCER_ID_COUNTER, bytes::Bytes::from(bytes));
    Response::InitProducerId { producer_id, producer_epoch: 0 }
}
