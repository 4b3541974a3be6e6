//! Request handlers: fetch (long-poll), list offsets, OffsetForLeaderEpoch, metadata,
//! and the controller's LeaderAndIsr and UpdateMetadata (produce has its own file,
//! `produce`).

use super::hosted::{Slot, Touched};
use super::partition::{Partition, StateNews};
use super::{fetcher, MetadataCache, SharedBroker};
use crate::broker::log::{PartitionLog, ReadLimits};
use crate::coverage::ReachedState;
use crate::history::{Event, TruncationReason};
use crate::plant::PlantedBug;
use crate::protocol::{
    BrokerEndpoint, ErrorCode, FetchPartition, FetchPartitionResponse, FetchRequest, FollowerRestart, IsolationLevel,
    LeaderAndIsrRequest, LeaderEpoch, ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest,
    MetadataResponse, OffsetForLeaderEpochPartition, OffsetForLeaderEpochResponse, OffsetSpec, PartitionMetadata,
    PartitionState, Response, TopicPartition, TruncationMode,
};
use crate::sim::clock;
use madsim::time::Instant;
use std::time::Duration;

/// Answers a Metadata request from the broker's metadata cache; a request that names
/// topics and allows it has the unknown ones created (see `auto_create`).
pub fn metadata(shared: &SharedBroker, topics: &[String], allow_auto_topic_creation: bool) -> Response {
    super::auto_create::maybe_create(shared, topics, allow_auto_topic_creation);
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
            topic_id: p.topic_id,
        })
        .collect();
    Response::Metadata(MetadataResponse {
        brokers: cache.live_brokers.values().cloned().collect(),
        controller: cache.controller,
        partitions,
    })
}

/// Serves a fetch from a consumer or a follower, waiting up to `max_wait_ms` for data.
///
/// The wait watches the requested partitions (see [`super::purgatory`]): woken by a
/// change to one of them, it re-reads only those that may have changed since its last
/// read (see [`super::hosted`]), as Kafka's purgatory checks a delayed fetch only for
/// changes to its partitions.
pub async fn fetch(shared: &SharedBroker, request: FetchRequest) -> Vec<FetchPartitionResponse> {
    let deadline = clock::now() + Duration::from_millis(request.max_wait_ms);
    // Each requested partition's slot, found once: every read below reaches the
    // replica by it.
    let (slots, watch) = {
        let mut state = shared.lock();
        let slots: Vec<Slot> = request.partitions.iter().map(|wanted| state.partitions.slot(&wanted.tp)).collect();
        let watch = state.partitions.watch(slots.iter().copied());
        (slots, watch)
    };
    if let Some(follower) = request.replica_id {
        record_follower_progress(shared, follower, &request, &slots);
    }
    // The slots with their positions, sorted, to find the touched ones.
    let mut positions: Vec<(Slot, usize)> = slots.iter().copied().zip(0..).collect();
    positions.sort_unstable();
    let mut responses = Vec::new();
    let mut read_at: Option<u64> = None;
    let mut expiry = std::pin::pin!(crate::sim::timer::sleep_until_once(deadline));
    loop {
        let changed = watch.notified();
        {
            let state = shared.lock();
            match read_at.map(|mark| state.partitions.touched_since(mark)) {
                None | Some(Touched::Everything) => {
                    responses = request
                        .partitions
                        .iter()
                        .zip(&slots)
                        .map(|(wanted, &slot)| read_partition(shared, &state, &request, wanted, slot))
                        .collect();
                }
                Some(Touched::Only(touched)) => {
                    let mut stale: Vec<usize> = touched
                        .into_iter()
                        .flat_map(|slot| {
                            let first = positions.partition_point(|(wanted, _)| *wanted < slot);
                            positions[first..].iter().take_while(move |(wanted, _)| *wanted == slot).map(|(_, at)| *at)
                        })
                        .collect();
                    stale.sort_unstable();
                    stale.dedup();
                    for at in stale {
                        responses[at] = read_partition(shared, &state, &request, &request.partitions[at], slots[at]);
                    }
                }
            }
            read_at = Some(state.partitions.change_mark());
        }
        let ready = responses.iter().any(|r| r.error.is_some() || !r.batches.is_empty());
        if ready || clock::now() >= deadline {
            return responses;
        }
        tokio::select! {
        biased;
            _ = changed => {}
            _ = &mut expiry => {}
        }
    }
}

/// Leader side of a follower fetch: its fetch offset is its log end offset, which may
/// move the high watermark and let it rejoin the ISR if it is eligible (in KRaft, by this
/// broker's metadata and the broker epoch the fetch carried).
fn record_follower_progress(
    shared: &SharedBroker,
    follower: crate::protocol::BrokerId,
    request: &FetchRequest,
    slots: &[Slot],
) {
    let now = clock::now();
    let broker_epoch = request.replica_broker_epoch;
    let mut expansions = Vec::new();
    let mut moved = false;
    {
        let mut state = shared.lock();
        let me = state.id;
        for (wanted, &slot) in request.partitions.iter().zip(slots) {
            if topic_id_error(&state, wanted, slot).is_some() {
                continue;
            }
            let Some(partition) = state.partitions.by_slot_mut_unnoted(slot) else {
                continue;
            };
            if !partition.is_leader() || wanted.current_leader_epoch != Some(partition.leader_epoch()) {
                continue;
            }
            // An out-of-range fetch reads nothing, so it says nothing of the follower's
            // progress (Kafka updates the follower's state only after a read).
            let log = partition.log();
            if wanted.fetch_offset > log.log_end_offset() || wanted.fetch_offset < log.log_start_offset() {
                continue;
            }
            partition.record_follower_fetch(follower, wanted.fetch_offset, broker_epoch, now);
            let advanced = partition.maybe_advance_high_watermark(me, &shared.tracer);
            if let Some(new_isr) = partition.expanded_isr(follower) {
                expansions.push((wanted.tp.clone(), new_isr));
            }
            if advanced {
                // What a fetch of the partition reads moved (see `by_slot_mut_unnoted`).
                state.partitions.note_slot_changed(slot);
                moved = true;
            }
        }
    }
    if moved {
        shared.wake_watchers();
    }
    // Eligibility is the follower's, not a partition's (the fetch's epoch is what every
    // partition stored), so one check after the fact, only when there is an expansion.
    if !expansions.is_empty() && !super::kraft::isr_eligible(shared, follower, broker_epoch) {
        return;
    }
    for (tp, new_isr) in expansions {
        super::background::propose_isr(shared, &tp, new_isr);
    }
}

/// Reads one requested partition (hosted, if at all, in `slot`) without waiting.
fn read_partition(
    shared: &SharedBroker,
    state: &super::ReplicaState,
    request: &FetchRequest,
    wanted: &FetchPartition,
    slot: Slot,
) -> FetchPartitionResponse {
    let is_follower = request.replica_id.is_some();
    let mut response = FetchPartitionResponse {
        tp: wanted.tp.clone(),
        error: None,
        high_watermark: 0,
        log_start_offset: 0,
        log_end_offset: 0,
        batches: Vec::new(),
        last_stable_offset: 0,
        aborted_transactions: Vec::new(),
        topic_id: None,
    };
    if let Some(error) = topic_id_error(state, wanted, slot) {
        response.error = Some(error);
        return response;
    }
    let Some(partition) = state.partitions.by_slot(slot) else {
        response.error = Some(ErrorCode::UnknownTopicOrPartition);
        return response;
    };
    response.topic_id = partition.topic_id();
    if let Some(error) = epoch_error(partition, wanted.current_leader_epoch) {
        response.error = Some(error);
        return response;
    }
    let log = partition.log();
    response.high_watermark = partition.high_watermark();
    response.log_start_offset = log.log_start_offset();
    response.log_end_offset = log.log_end_offset();
    response.last_stable_offset = last_stable_offset(shared, partition);
    if wanted.fetch_offset > log.log_end_offset() || wanted.fetch_offset < log.log_start_offset() {
        response.error = Some(ErrorCode::OffsetOutOfRange);
        return response;
    }
    // Consumers see only committed records (`read_committed` ones only records
    // below the last stable offset); followers read up to the log end.
    let read_committed = request.isolation_level == IsolationLevel::ReadCommitted;
    let until = match () {
        _ if is_follower => log.log_end_offset(),
        _ if read_committed => response.last_stable_offset,
        _ => partition.high_watermark(),
    };
    let limits = if is_follower {
        ReadLimits { max_bytes: shared.config.replica_fetch_max_bytes, max_records: usize::MAX }
    } else {
        ReadLimits { max_bytes: u64::MAX, max_records: request.max_records }
    };
    response.batches = log.read(wanted.fetch_offset, until, limits);
    if read_committed && !is_follower {
        response.aborted_transactions = log.txns().aborted_between(wanted.fetch_offset, until);
    }
    response
}

/// KIP-516 for a fetch that names its topic id (Fetch v13+): UNKNOWN_TOPIC_ID when this
/// broker's metadata does not hold the id under the partition's name
/// (`KafkaApis.handleFetchRequest` resolves ids through the metadata cache), and
/// INCONSISTENT_TOPIC_ID when the replica hosted here belongs to another id
/// (`ReplicaManager.readFromLocalLog`). A fetch by name checks nothing. `slot` is the
/// partition's slot on this broker.
fn topic_id_error(state: &super::ReplicaState, wanted: &FetchPartition, slot: Slot) -> Option<ErrorCode> {
    let id = wanted.topic_id?;
    if state.metadata.partitions.get(&wanted.tp).is_none_or(|known| known.topic_id != id) {
        return Some(ErrorCode::UnknownTopicId);
    }
    let hosted = state.partitions.by_slot(slot)?.topic_id();
    hosted.is_some_and(|hosted| hosted != id).then_some(ErrorCode::InconsistentTopicId)
}

/// The partition's last stable offset, as this broker serves it.
fn last_stable_offset(shared: &SharedBroker, partition: &Partition) -> crate::protocol::Offset {
    if shared.config.planted(PlantedBug::LsoPastOpenTransaction) {
        // PLANTED BUG lso-past-open-transaction: open transactions do not hold the last
        // stable offset back; read_committed consumers read up to the high watermark.
        return partition.high_watermark();
    }
    partition.last_stable_offset()
}

/// KIP-320 fencing: the request's leader epoch must match the leader's.
fn epoch_error(partition: &Partition, requested: Option<LeaderEpoch>) -> Option<ErrorCode> {
    if !partition.is_leader() {
        return Some(ErrorCode::NotLeaderOrFollower);
    }
    match requested {
        Some(epoch) if epoch < partition.leader_epoch() => Some(ErrorCode::FencedLeaderEpoch),
        Some(epoch) if epoch > partition.leader_epoch() => Some(ErrorCode::UnknownLeaderEpoch),
        _ => None,
    }
}

/// Answers ListOffsets, one entry per partition asked for: each partition is looked up
/// on its own and fails on its own (NOT_LEADER_OR_FOLLOWER for one this broker does not
/// lead) while the others are answered, as Kafka's `KafkaApis.handleListOffsetRequest`
/// answers per partition (`ReplicaManager.fetchOffset`).
pub fn list_offsets(shared: &SharedBroker, request: &ListOffsetsRequest) -> Response {
    let state = shared.lock();
    let answers =
        request.partitions.iter().map(|wanted| list_offset(shared, &state, wanted, request.isolation_level)).collect();
    Response::ListOffsets(answers)
}

/// One partition of a ListOffsets request, answered from the leader.
fn list_offset(
    shared: &SharedBroker,
    state: &super::ReplicaState,
    wanted: &ListOffsetsPartition,
    isolation_level: IsolationLevel,
) -> ListOffsetsPartitionResponse {
    let tp = wanted.tp.clone();
    let Some(partition) = state.partitions.get(&wanted.tp) else {
        let error = Some(ErrorCode::UnknownTopicOrPartition);
        return ListOffsetsPartitionResponse { tp, error, offset: None, topic_id: None };
    };
    let topic_id = partition.topic_id();
    if !partition.is_leader() {
        let error = Some(ErrorCode::NotLeaderOrFollower);
        return ListOffsetsPartitionResponse { tp, error, offset: None, topic_id };
    }
    // Kafka's `lastFetchableOffset`: the last stable offset for `read_committed`.
    let last_fetchable = match isolation_level {
        IsolationLevel::ReadCommitted => last_stable_offset(shared, partition),
        IsolationLevel::ReadUncommitted => partition.high_watermark(),
    };
    let offset = match wanted.spec {
        OffsetSpec::Earliest => Some(partition.log().log_start_offset()),
        OffsetSpec::Latest => Some(last_fetchable),
        // Kafka's `Partition.fetchOffsetForTimestamp`: the first offset whose timestamp is
        // at or after the time, kept only below the last fetchable offset (the high
        // watermark for a consumer); otherwise none, which ListOffsets answers as offset
        // -1 (UNKNOWN_OFFSET) and `offsetsForTimes` as null.
        OffsetSpec::Timestamp(ms) => partition.log().offset_for_timestamp(ms).filter(|o| *o < last_fetchable),
    };
    ListOffsetsPartitionResponse { tp, error: None, offset, topic_id }
}

/// KIP-101/279: answers OffsetForLeaderEpoch, one entry per partition asked for, each
/// on its own (Kafka's `KafkaApis.handleOffsetForLeaderEpochRequest` →
/// `ReplicaManager.lastOffsetForLeaderEpoch`, per partition).
pub fn offset_for_leader_epoch(shared: &SharedBroker, partitions: &[OffsetForLeaderEpochPartition]) -> Response {
    let state = shared.lock();
    let answers =
        partitions.iter().map(|wanted| (wanted.tp.clone(), epoch_end_offset(shared, &state, wanted))).collect();
    Response::OffsetForLeaderEpoch(answers)
}

/// The end offset of the asked epoch (or the largest earlier epoch) on the leader.
fn epoch_end_offset(
    shared: &SharedBroker,
    state: &super::ReplicaState,
    wanted: &OffsetForLeaderEpochPartition,
) -> OffsetForLeaderEpochResponse {
    let answer = |error, leader_epoch, end_offset| OffsetForLeaderEpochResponse { error, leader_epoch, end_offset };
    let epoch = wanted.leader_epoch;
    let Some(partition) = state.partitions.get(&wanted.tp) else {
        return answer(Some(ErrorCode::UnknownTopicOrPartition), 0, None);
    };
    if let Some(error) = epoch_error(partition, Some(wanted.current_leader_epoch)) {
        return answer(Some(error), 0, None);
    }
    let log = partition.log();
    if shared.config.truncation == TruncationMode::LeaderEpochKip101 {
        // A 0.11-1.1 leader: the end offset alone (OffsetForLeaderEpoch v0).
        return answer(None, epoch, log.epochs().end_offset_kip101(epoch, log.log_end_offset()));
    }
    match log.epochs().end_offset_for(epoch, log.log_end_offset()) {
        Some((found, end_offset)) => answer(None, found, Some(end_offset)),
        // No epoch that old: the follower must truncate everything it has.
        None => answer(None, epoch, Some(log.log_start_offset())),
    }
}

/// Applies a LeaderAndIsr request from the controller.
pub fn leader_and_isr(shared: &SharedBroker, request: LeaderAndIsrRequest) -> Response {
    {
        let mut guard = shared.lock();
        let state = &mut *guard;
        if let Some(error) = fence_controller(shared, &mut state.metadata, request.controller_epoch) {
            return Response::ControllerAck { error: Some(error) };
        }
        // An ISR change in flight to the previous controller stays pending: it is sent
        // to this one when the old connection fails or answers NOT_CONTROLLER
        // (`NodeToControllerRequestThread`), as `background::propose_isr` does.
        state.metadata.controller = Some(request.controller_id);
    }
    apply_partition_states(shared, &request.partitions, &request.live_brokers);
    Response::ControllerAck { error: None }
}

/// Takes the role each partition state gives this broker and caches every state and
/// the live brokers: what a LeaderAndIsr request does, and what a KRaft broker does
/// with the partition changes it replays (`ReplicaManager.applyDelta`).
pub fn apply_partition_states(shared: &SharedBroker, partitions: &[PartitionState], live_brokers: &[BrokerEndpoint]) {
    {
        let mut guard = shared.lock();
        let state = &mut *guard;
        let me = state.id;
        update_live_brokers(&mut state.metadata, live_brokers);
        let now = clock::now();
        for partition_state in partitions {
            state.cache_partition_state(partition_state.clone());
            if !partition_state.replicas.contains(&me) {
                continue;
            }
            let tp = &partition_state.tp;
            let hosted_id = state.partitions.get(tp).and_then(Partition::topic_id);
            if hosted_id.is_some_and(|id| id != partition_state.topic_id) {
                if shared.config.kraft.is_none() {
                    // ZooKeeper mode: LeaderAndIsr answers INCONSISTENT_TOPIC_ID for the
                    // partition and the replica takes no role (`becomeLeaderOrFollower`).
                    // kafkasim's controller deletes every replica before a name can be
                    // reused, so this cannot happen here; kept for faithfulness.
                    continue;
                }
                // KRaft: a log of a deleted topic whose name came back under a new id
                // while this broker was down is stray (`isStrayKraftReplica`).
                if let Some(stray) = state.partitions.remove(tp) {
                    super::deletion::stray_replica(shared, me, &stray);
                }
            }
            let partition = state.partitions.get_or_insert_with(tp, || {
                let segment_bytes = shared.config.retention_for(&tp.topic).segment_bytes;
                let log = PartitionLog::load_with_segment_bytes(tp.clone(), shared.disk.clone(), segment_bytes);
                let name = shared.tracer.recorder().partition_key(tp, Some(partition_state.topic_id));
                Partition::new(log, 0, shared.config.high_watermark_rule(&tp.topic)).named(name)
            });
            partition.record_topic_id(partition_state.topic_id);
            apply_partition_state(shared, me, partition, partition_state, now);
        }
    }
    shared.wake_watchers();
    fetcher::ensure_fetchers(shared);
}

/// Takes the role a partition state gives this broker, if it is news.
fn apply_partition_state(
    shared: &SharedBroker,
    me: crate::protocol::BrokerId,
    partition: &mut Partition,
    state: &PartitionState,
    now: Instant,
) {
    match partition.news(state) {
        StateNews::Stale => return, // An older leadership than the one we know.
        StateNews::SameLeadership => {
            // Same leadership: only the ISR may have changed.
            partition.adopt_newer_isr(state);
            return;
        }
        StateNews::NewLeadership => {}
    }
    if state.leader == Some(me) {
        partition.become_leader(me, state, now, &shared.tracer);
        if shared.config.planted(PlantedBug::ForgetIdempotenceOnLeaderChange) {
            // PLANTED BUG forget-idempotence-on-leader-change: the new leader starts
            // without the producer state its log holds (see also `produce`).
            partition.forget_producers();
        }
        return;
    }
    let legacy = shared.config.truncation == TruncationMode::Legacy;
    // Kafka 0.10 (the legacy truncation's release) restarts a follower only when its
    // leader changes (`Partition.makeFollower`); later releases by `follower_restart`.
    let rule = if legacy { FollowerRestart::LeaderChange } else { shared.config.follower_restart };
    let restart = partition.restarts_follower(state, rule);
    partition.become_follower(me, state, restart, &shared.tracer);
    if shared.config.planted(PlantedBug::NoFollowerTruncation) {
        // PLANTED BUG no-follower-truncation: keep the whole log and fetch from its end.
        partition.mark_reconciled();
        return;
    }
    if legacy {
        if restart {
            // Pre-KIP-101 (0.10's `ReplicaManager.makeFollowers`): drop everything above
            // the local high watermark before fetching from the new leader.
            let high_watermark = partition.high_watermark();
            partition.truncate(me, high_watermark, TruncationReason::HighWatermark, &shared.tracer);
        }
        partition.mark_reconciled();
    }
}

/// Applies UpdateMetadata from the controller; partitions being deleted are forgotten.
pub fn update_metadata(
    shared: &SharedBroker,
    controller_epoch: u64,
    live_brokers: &[BrokerEndpoint],
    partitions: Vec<PartitionState>,
    deleting: &[TopicPartition],
) -> Response {
    {
        let mut state = shared.lock();
        if let Some(error) = fence_controller(shared, &mut state.metadata, controller_epoch) {
            return Response::ControllerAck { error: Some(error) };
        }
        update_live_brokers(&mut state.metadata, live_brokers);
        for partition in partitions {
            state.cache_partition_state(partition);
        }
    }
    super::deletion::forget_partitions(shared, deleting);
    Response::ControllerAck { error: None }
}

/// Applies StopReplica from the controller: stops hosting the partitions of a topic
/// being deleted and deletes their logs (`ReplicaManager.stopReplicas`).
pub fn stop_replica(shared: &SharedBroker, controller_epoch: u64, partitions: &[TopicPartition]) -> Response {
    if let Some(error) = fence_controller(shared, &mut shared.lock().metadata, controller_epoch) {
        return Response::ControllerAck { error: Some(error) };
    }
    super::deletion::stop_and_delete_replicas(shared, partitions);
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
        shared.tracer.reached(ReachedState::ZombieControllerFenced);
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
    Response::InitProducerId { producer_id: allocate_producer_id(shared), producer_epoch: 0 }
}

/// Hands out the next producer id of this broker's block, persisting the counter first.
pub fn allocate_producer_id(shared: &SharedBroker) -> i64 {
    let mut next = shared.next_producer_id.lock().expect("producer id counter poisoned");
    let producer_id = *next;
    *next += 1;
    let bytes = bincode::serialize(&*next).expect("counter serializes");
    shared.disk.overwrite_durably(PRODUCER_ID_COUNTER, bytes::Bytes::from(bytes));
    producer_id
}

#[cfg(test)]
#[path = "handlers_tests.rs"]
mod tests;
