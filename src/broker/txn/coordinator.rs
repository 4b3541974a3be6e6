//! The transaction coordinator's request handling on a broker (Kafka's
//! `TransactionCoordinator`): a broker coordinates the transactional ids whose
//! `__transaction_state` partition it leads and answers NOT_COORDINATOR otherwise.
//!
//! Every transition is first marked pending on the id (concurrent requests get
//! CONCURRENT_TRANSACTIONS), then written to the partition with acks=all, and takes
//! effect only once written (`TransactionStateManager.appendTransactionToLog`), so a
//! coordinator that takes over after a failover finds every decision its predecessor
//! answered. EndTxn answers once the Prepare state is written; the markers follow (see
//! `markers`). The coordinator epoch, which markers carry, is the leader epoch its
//! leadership of the partition began in.

use super::markers;
use super::metadata::{self, TxnMetadata, TxnState};
use super::txn_partition_for;
use crate::broker::{produce, SharedBroker};
use crate::coverage::ReachedState;
use crate::plant::PlantedBug;
use crate::protocol::{
    Acks, ErrorCode, LeaderEpoch, ProduceRequest, ProducerIdAndEpoch, RecordBatch, TopicPartition, TransactionVersion,
    TxnRequest, TxnResponse, TxnResult,
};
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The internal topic holding the transactions' state.
pub const TRANSACTION_TOPIC: &str = "__transaction_state";

/// One transactional id as the coordinator holds it.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The state as last written.
    pub metadata: TxnMetadata,
    /// A transition being written (Kafka's `pendingState`): other requests wait.
    pub pending: bool,
}

/// What the coordinator holds for the partitions it leads.
#[derive(Default)]
pub(super) struct State {
    /// The transactional ids.
    pub txns: BTreeMap<String, Entry>,
    /// Loaded partitions, with the leader epoch (coordinator epoch) their leadership
    /// began in.
    pub loaded: BTreeMap<u32, LeaderEpoch>,
}

/// The transaction coordinator of one broker.
#[derive(Default)]
pub struct Coordinator {
    state: Mutex<State>,
}

impl Coordinator {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("transaction coordinator state poisoned")
    }
}

/// How many partitions `__transaction_state` has (0 if it does not exist).
fn txn_partitions(shared: &SharedBroker) -> u32 {
    shared.config.topic(TRANSACTION_TOPIC).map_or(0, |t| t.replicas.len() as u32)
}

/// The `__transaction_state` partition of a transactional id.
pub(crate) fn txn_partition(shared: &SharedBroker, transactional_id: &str) -> Option<TopicPartition> {
    let count = txn_partitions(shared);
    (count > 0).then(|| TopicPartition::new(TRANSACTION_TOPIC, txn_partition_for(transactional_id, count)))
}

/// The partition of `transactional_id` and the coordinator epoch this broker serves it
/// in, loading it first if needed; else the error to answer.
pub(super) fn owned_partition(
    shared: &SharedBroker,
    transactional_id: &str,
) -> Result<(TopicPartition, LeaderEpoch), ErrorCode> {
    let tp = txn_partition(shared, transactional_id).ok_or(ErrorCode::CoordinatorNotAvailable)?;
    match sync_partition(shared, &tp) {
        Some(epoch) => Ok((tp, epoch)),
        None => Err(ErrorCode::NotCoordinator),
    }
}

/// Brings the coordinator's view of one `__transaction_state` partition in line with
/// the broker's role (`onElection` / `onResignation`): loads a leadership not loaded
/// yet, resuming the markers of every transaction found in a Prepare state; unloads one
/// that ended. Returns the leadership held, if any.
fn sync_partition(shared: &SharedBroker, tp: &TopicPartition) -> Option<LeaderEpoch> {
    let (leadership, log) = {
        let state = shared.lock();
        let partition = state.partitions.get(tp);
        let leadership = partition.and_then(|p| p.leadership_start_epoch());
        if shared.txn_coordinator.lock().loaded.get(&tp.partition).copied() == leadership {
            return leadership;
        }
        (leadership, partition.filter(|_| leadership.is_some()).map(|p| p.log().key_values()))
    };
    let count = txn_partitions(shared);
    let mut resumed = Vec::new();
    {
        let mut coordinator = shared.txn_coordinator.lock();
        coordinator.loaded.remove(&tp.partition);
        coordinator.txns.retain(|id, _| txn_partition_for(id, count) != tp.partition);
        if let (Some(epoch), Some(log)) = (leadership, log) {
            for (id, metadata) in metadata::replay(log) {
                if metadata.state.is_prepare() {
                    resumed.push((id.clone(), metadata.clone()));
                }
                coordinator.txns.insert(id, Entry { metadata, pending: false });
            }
            coordinator.loaded.insert(tp.partition, epoch);
        }
    }
    if let Some(epoch) = leadership {
        for (id, metadata) in resumed {
            markers::spawn_completion(shared, id, epoch, metadata);
        }
    }
    leadership
}

/// Whether the coordinator still serves `transactional_id` in the leadership it began
/// in `epoch`.
pub(super) fn still_owned(shared: &SharedBroker, tp: &TopicPartition, epoch: LeaderEpoch) -> bool {
    shared.txn_coordinator.lock().loaded.get(&tp.partition) == Some(&epoch)
}

/// Answers one transaction request.
pub async fn handle(shared: &SharedBroker, request: TxnRequest) -> TxnResponse {
    match request {
        TxnRequest::FindCoordinator { transactional_id } => find_coordinator(shared, &transactional_id),
        TxnRequest::InitProducerId { transactional_id, transaction_timeout_ms } => {
            let answer = init_producer_id(shared, &transactional_id, transaction_timeout_ms).await;
            let transaction_version = shared.config.txn.transaction_version;
            match answer {
                Ok(producer) => TxnResponse::ProducerId { error: None, producer: Some(producer), transaction_version },
                Err(error) => TxnResponse::ProducerId { error: Some(error), producer: None, transaction_version },
            }
        }
        TxnRequest::AddPartitions { transactional_id, producer, partitions, verify_only: true, .. } => {
            verify_partitions(shared, &transactional_id, producer, partitions)
        }
        TxnRequest::AddPartitions {
            transactional_id,
            producer,
            partitions,
            verify_only: false,
            transaction_version,
        } => {
            let error =
                add_partitions(shared, &transactional_id, producer, &partitions, transaction_version).await.err();
            probe_fenced(shared, error);
            TxnResponse::Partitions(partitions.into_iter().map(|tp| (tp, error)).collect())
        }
        TxnRequest::AddOffsets { transactional_id, producer, group } => {
            let offsets = crate::broker::coordinator::offsets_partition_of(shared, &group);
            let error = match offsets {
                Some(tp) => {
                    add_partitions(shared, &transactional_id, producer, &[tp], TransactionVersion::Tv0).await.err()
                }
                None => Some(ErrorCode::CoordinatorNotAvailable),
            };
            TxnResponse::Ack { error }
        }
        TxnRequest::EndTxn { transactional_id, producer, result, transaction_version } => {
            let ended = end_transaction(shared, &transactional_id, producer, result, true, transaction_version).await;
            match ended {
                // EndTxn v5 (level 2) tells the producer the id and epoch it goes on with.
                Ok(next) => TxnResponse::Ended {
                    error: None,
                    next_producer: transaction_version.bumps_epoch_per_transaction().then_some(next),
                },
                Err(error) => {
                    probe_fenced(shared, Some(error));
                    TxnResponse::Ended { error: Some(error), next_producer: None }
                }
            }
        }
    }
}

/// Probes an answer that fences a producer of an older epoch (PRODUCER_FENCED).
fn probe_fenced(shared: &SharedBroker, error: Option<ErrorCode>) {
    if error == Some(ErrorCode::ProducerFenced) {
        shared.tracer.reached(ReachedState::ProducerFenced);
    }
}

fn find_coordinator(shared: &SharedBroker, transactional_id: &str) -> TxnResponse {
    let unavailable = TxnResponse::Coordinator { error: Some(ErrorCode::CoordinatorNotAvailable), coordinator: None };
    let Some(tp) = txn_partition(shared, transactional_id) else { return unavailable };
    let state = shared.lock();
    let leader = state.metadata.partitions.get(&tp).and_then(|p| p.leader);
    match leader.and_then(|l| state.metadata.live_brokers.get(&l)) {
        Some(endpoint) => TxnResponse::Coordinator { error: None, coordinator: Some(endpoint.clone()) },
        None => unavailable,
    }
}

/// Appends a transition's record with acks=all, waiting up to the transaction timeout
/// as Kafka does; a failure is told as Kafka's coordinator tells it
/// (`TransactionStateManager.appendTransactionToLog`): the partition moved
/// (NOT_COORDINATOR) or could not replicate in time (COORDINATOR_NOT_AVAILABLE).
async fn write(shared: &SharedBroker, tp: &TopicPartition, id: &str, metadata: &TxnMetadata) -> Result<(), ErrorCode> {
    let record = metadata::txn_record(id, metadata, now_ms());
    let request = ProduceRequest {
        acks: Acks::All,
        timeout_ms: metadata.timeout_ms,
        batches: vec![(tp.clone(), RecordBatch::plain(vec![record]))],
        transactional_id: None,
        transaction_version: Default::default(),
    };
    match produce::produce(shared, request).await.first().and_then(|r| r.error) {
        None => Ok(()),
        Some(ErrorCode::NotLeaderOrFollower | ErrorCode::UnknownTopicOrPartition) => Err(ErrorCode::NotCoordinator),
        Some(_) => Err(ErrorCode::CoordinatorNotAvailable),
    }
}

/// Writes `next` for `id` (already marked pending) and applies it if the coordinator
/// still serves the id in the same leadership; clears the pending mark either way.
pub(super) async fn transition(
    shared: &SharedBroker,
    tp: &TopicPartition,
    epoch: LeaderEpoch,
    id: &str,
    next: TxnMetadata,
) -> Result<(), ErrorCode> {
    let written = write(shared, tp, id, &next).await;
    let owned = still_owned(shared, tp, epoch);
    let mut coordinator = shared.txn_coordinator.lock();
    let Some(entry) = coordinator.txns.get_mut(id) else { return Err(ErrorCode::NotCoordinator) };
    entry.pending = false;
    written?;
    if !owned {
        return Err(ErrorCode::NotCoordinator);
    }
    entry.metadata = next;
    Ok(())
}

/// Marks `id` pending with the transition `decide` picks from its current metadata, or
/// answers the error it picks.
fn begin_transition(
    shared: &SharedBroker,
    id: &str,
    decide: impl FnOnce(Option<&TxnMetadata>) -> Result<Option<TxnMetadata>, ErrorCode>,
) -> Result<Option<TxnMetadata>, ErrorCode> {
    let mut coordinator = shared.txn_coordinator.lock();
    let entry = coordinator.txns.get(id);
    if entry.is_some_and(|e| e.pending) {
        return Err(ErrorCode::ConcurrentTransactions);
    }
    let next = decide(entry.map(|e| &e.metadata))?;
    if let Some(next) = &next {
        let entry =
            coordinator.txns.entry(id.to_string()).or_insert_with(|| Entry { metadata: next.clone(), pending: false });
        entry.pending = true;
    }
    Ok(next)
}

/// InitProducerId (`handleInitProducerId`, `prepareInitProducerIdTransit`): a new id
/// gets a producer id at epoch 0; an id with nothing open gets its next epoch, which
/// fences every older producer of the id; an open transaction is aborted first, under
/// a bumped epoch, and the producer told CONCURRENT_TRANSACTIONS to retry.
async fn init_producer_id(shared: &SharedBroker, id: &str, timeout_ms: u64) -> Result<ProducerIdAndEpoch, ErrorCode> {
    if timeout_ms > shared.config.txn.transaction_max_timeout_ms || timeout_ms == 0 {
        return Err(ErrorCode::InvalidRequest);
    }
    let (tp, epoch) = owned_partition(shared, id)?;
    let mut fence = None;
    let next = begin_transition(shared, id, |current| match current {
        None => Ok(Some(TxnMetadata {
            producer_id: crate::broker::handlers::allocate_producer_id(shared),
            producer_epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: Default::default(),
            start_ms: now_ms(),
            transaction_version: TransactionVersion::Tv0,
            next_producer_id: None,
        })),
        Some(m) if m.state.is_prepare() => Err(ErrorCode::ConcurrentTransactions),
        Some(m) if m.state == TxnState::Ongoing => {
            fence = Some(m.clone());
            Ok(None)
        }
        Some(m) => Ok(Some(m.next_incarnation(timeout_ms, || crate::broker::handlers::allocate_producer_id(shared)))),
    })?;
    if let Some(open) = fence {
        // `prepareFenceProducerEpoch`, then the abort: the bumped epoch is never
        // returned; the retry bumps it once more.
        fence_and_abort(shared, id, open).await;
        return Err(ErrorCode::ConcurrentTransactions);
    }
    let next = next.expect("a transition was chosen");
    let producer = next.producer();
    let bumped = next.producer_epoch > 0;
    transition(shared, &tp, epoch, id, next).await?;
    if bumped {
        // A new incarnation of a known transactional id: every older producer is fenced.
        shared.tracer.reached(ReachedState::ProducerEpochBumped);
    }
    Ok(producer)
}

/// Aborts `open` under the next epoch, as the coordinator does for a timed-out
/// transaction or an InitProducerId that finds one open (`prepareFenceProducerEpoch`,
/// then `endTransaction(ABORT, isFromClient = false)`).
pub(super) async fn fence_and_abort(shared: &SharedBroker, id: &str, open: TxnMetadata) {
    let fenced = TxnMetadata { producer_epoch: open.producer_epoch.saturating_add(1), ..open };
    {
        let mut coordinator = shared.txn_coordinator.lock();
        let Some(entry) = coordinator.txns.get_mut(id) else { return };
        if entry.pending || entry.metadata.producer_id != fenced.producer_id {
            return;
        }
        // The bumped epoch is what the abort checks against; it is written with the
        // PrepareAbort record.
        entry.metadata.producer_epoch = fenced.producer_epoch;
    }
    shared.tracer.reached(ReachedState::ProducerEpochBumped);
    let _ = end_transaction(shared, id, fenced.producer(), TxnResult::Abort, false, fenced.transaction_version).await;
}

/// The checks every request of a producer with an open transaction passes
/// (`INVALID_PRODUCER_ID_MAPPING`, `PRODUCER_FENCED`).
fn check_producer(current: Option<&TxnMetadata>, producer: ProducerIdAndEpoch) -> Result<&TxnMetadata, ErrorCode> {
    let m = current.ok_or(ErrorCode::InvalidProducerIdMapping)?;
    if m.producer_id != producer.id {
        return Err(ErrorCode::InvalidProducerIdMapping);
    }
    if m.producer_epoch != producer.epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    Ok(m)
}

/// AddPartitionsToTxn (`handleAddPartitionsToTransaction`): from a producer under
/// transaction version 0 or 1, or from a partition leader adding a level-2 producer's
/// partition on its first write there (KIP-890 part 2).
async fn add_partitions(
    shared: &SharedBroker,
    id: &str,
    producer: ProducerIdAndEpoch,
    partitions: &[TopicPartition],
    version: TransactionVersion,
) -> Result<(), ErrorCode> {
    let (tp, epoch) = owned_partition(shared, id)?;
    let now = now_ms();
    let next = begin_transition(shared, id, |current| {
        let m = check_producer(current, producer)?;
        if m.state.is_prepare() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return Ok(None);
        }
        Ok(Some(m.with_partitions(partitions, now, version)))
    })?;
    match next {
        Some(next) => transition(shared, &tp, epoch, id, next).await,
        None => Ok(()),
    }
}

/// AddPartitionsToTxn with `verifyOnly`, from a partition leader (KIP-890 part 1,
/// `handleVerifyPartitionsInTransaction`): whether each partition is in the producer's
/// open transaction, changing nothing.
fn verify_partitions(
    shared: &SharedBroker,
    id: &str,
    producer: ProducerIdAndEpoch,
    partitions: Vec<TopicPartition>,
) -> TxnResponse {
    let all = |error: ErrorCode, partitions: Vec<TopicPartition>| {
        TxnResponse::Partitions(partitions.into_iter().map(|tp| (tp, Some(error))).collect())
    };
    if let Err(error) = owned_partition(shared, id) {
        return all(error, partitions);
    }
    let coordinator = shared.txn_coordinator.lock();
    let current = coordinator.txns.get(id).map(|e| &e.metadata);
    let m = match check_producer(current, producer) {
        Ok(m) => m,
        Err(error) => return all(error, partitions),
    };
    if m.state.is_prepare() {
        return all(ErrorCode::ConcurrentTransactions, partitions);
    }
    let added = |tp: &TopicPartition| m.state == TxnState::Ongoing && m.partitions.contains(tp);
    TxnResponse::Partitions(
        partitions.into_iter().map(|tp| (tp.clone(), (!added(&tp)).then_some(ErrorCode::InvalidTxnState))).collect(),
    )
}

/// EndTxn (`endTransaction`): an open transaction moves to PrepareCommit or
/// PrepareAbort, written before the answer; the markers follow. Returns the producer id
/// and epoch the producer goes on with. `from_client` requests must carry the current
/// epoch (or, under level 2, the one just before it, for a retry); the coordinator's own
/// aborts carry the epoch it just bumped.
pub(super) async fn end_transaction(
    shared: &SharedBroker,
    id: &str,
    producer: ProducerIdAndEpoch,
    result: TxnResult,
    from_client: bool,
    version: TransactionVersion,
) -> Result<ProducerIdAndEpoch, ErrorCode> {
    let (tp, epoch) = owned_partition(shared, id)?;
    let mut current = None;
    let next = begin_transition(shared, id, |m| {
        let m = m.ok_or(ErrorCode::InvalidProducerIdMapping)?;
        current = Some(m.producer());
        if m.producer_id != producer.id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        let decision = if version.bumps_epoch_per_transaction() {
            end_decision_v2(m, producer, result, from_client)
        } else {
            end_decision_v1(m, producer, result, from_client)
        }?;
        let new_producer_id = || crate::broker::handlers::allocate_producer_id(shared);
        Ok(decision.map(|result| m.prepared(result, version, new_producer_id)))
    })?;
    let Some(prepared) = next else { return Ok(current.expect("looked up")) };
    let next_producer = prepared.completed().producer();
    if shared.config.planted(PlantedBug::MarkersBeforeDecision) {
        // PLANTED BUG markers-before-decision: every marker is written first, then the
        // Prepare record; a coordinator that fails in between leaves markers of a
        // decision that no replica of `__transaction_state` holds.
        let written = markers::write_markers(shared, &tp, epoch, &prepared).await;
        transition(shared, &tp, epoch, id, prepared.clone()).await?;
        if written {
            markers::spawn_complete_state(shared, id.to_string(), epoch, prepared);
        }
        return Ok(next_producer);
    }
    // Kafka's `TransactionCoordinator.endTransaction` sends the markers only from the
    // callback of the Prepare record's append: a decision no replica holds is never acted on.
    transition(shared, &tp, epoch, id, prepared.clone()).await?;
    if prepared.state == TxnState::PrepareAbort {
        shared.tracer.reached(ReachedState::TransactionAborted);
    }
    markers::spawn_completion(shared, id.to_string(), epoch, prepared);
    Ok(next_producer)
}

/// EndTxn's rules under transaction versions 0 and 1 (Kafka 3.9's `endTransaction`):
/// the outcome to prepare, `None` for a retry answered with success (the transaction
/// already completed that way), or the error. The epoch says nothing about which
/// transaction a request belongs to: a late EndTxn of an earlier transaction ends the
/// open one (KAFKA-17754).
fn end_decision_v1(
    m: &TxnMetadata,
    producer: ProducerIdAndEpoch,
    result: TxnResult,
    from_client: bool,
) -> Result<Option<TxnResult>, ErrorCode> {
    if (from_client && producer.epoch != m.producer_epoch) || producer.epoch < m.producer_epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    match m.state {
        TxnState::Ongoing => Ok(Some(result)),
        TxnState::CompleteCommit | TxnState::CompleteAbort if m.state.result() == Some(result) => Ok(None),
        TxnState::PrepareCommit | TxnState::PrepareAbort if m.state.result() == Some(result) => {
            Err(ErrorCode::ConcurrentTransactions)
        }
        _ => Err(ErrorCode::InvalidTxnState),
    }
}

/// EndTxn's rules under transaction version 2 (Kafka 4.0's `endTransaction`, the table
/// above it): every end bumps the epoch, so a retry carries the epoch just before the
/// current one and is told apart from the next transaction's end, which carries the
/// current one; a late EndTxn of an earlier transaction is fenced.
fn end_decision_v2(
    m: &TxnMetadata,
    producer: ProducerIdAndEpoch,
    result: TxnResult,
    from_client: bool,
) -> Result<Option<TxnResult>, ErrorCode> {
    let retry = from_client && producer.epoch.checked_add(1) == Some(m.producer_epoch);
    let current = producer.epoch == m.producer_epoch;
    let valid_epoch = if from_client {
        match m.state {
            TxnState::Ongoing | TxnState::Empty => current,
            TxnState::PrepareCommit | TxnState::PrepareAbort => retry,
            TxnState::CompleteCommit | TxnState::CompleteAbort => retry || current,
        }
    } else {
        producer.epoch >= m.producer_epoch
    };
    if !valid_epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    let same_outcome = m.state.result() == Some(result);
    match m.state {
        TxnState::Ongoing => Ok(Some(result)),
        TxnState::CompleteCommit | TxnState::CompleteAbort if same_outcome && retry => Ok(None),
        // An abort with nothing open still bumps the epoch (the producer's way to
        // fence its own earlier requests after an error).
        TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
            if result == TxnResult::Abort && !retry =>
        {
            Ok(Some(TxnResult::Abort))
        }
        TxnState::PrepareCommit | TxnState::PrepareAbort if same_outcome => Err(ErrorCode::ConcurrentTransactions),
        _ => Err(ErrorCode::InvalidTxnState),
    }
}

/// The coordinator's timers: every 100 ms of simulated time it follows the broker's
/// leadership of `__transaction_state` (loading and unloading partitions); every
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` it aborts, under a
/// bumped epoch, every transaction open longer than its timeout
/// (`abortTimedOutTransactions`).
pub async fn run_timers(shared: SharedBroker) {
    let interval_ms = shared.config.txn.abort_timed_out_interval_ms.max(100);
    let mut since_abort_check_ms = 0;
    loop {
        sleep(Duration::from_millis(100)).await;
        for partition in 0..txn_partitions(&shared) {
            sync_partition(&shared, &TopicPartition::new(TRANSACTION_TOPIC, partition));
        }
        since_abort_check_ms += 100;
        if since_abort_check_ms < interval_ms {
            continue;
        }
        since_abort_check_ms = 0;
        let now = now_ms();
        let timed_out: Vec<(String, TxnMetadata)> = shared
            .txn_coordinator
            .lock()
            .txns
            .iter()
            .filter(|(_, e)| {
                !e.pending && e.metadata.state == TxnState::Ongoing && e.metadata.start_ms + e.metadata.timeout_ms < now
            })
            .map(|(id, e)| (id.clone(), e.metadata.clone()))
            .collect();
        for (id, open) in timed_out {
            shared.tracer.reached(ReachedState::TransactionTimedOut);
            let shared = shared.clone();
            crate::sim::tasks::spawn(async move { fence_and_abort(&shared, &id, open).await });
        }
    }
}

pub(super) fn now_ms() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(state: TxnState, epoch: i16) -> TxnMetadata {
        TxnMetadata {
            producer_id: 7,
            producer_epoch: epoch,
            timeout_ms: 60_000,
            state,
            partitions: Default::default(),
            start_ms: 0,
            transaction_version: TransactionVersion::Tv2,
            next_producer_id: None,
        }
    }

    fn producer(epoch: i16) -> ProducerIdAndEpoch {
        ProducerIdAndEpoch { id: 7, epoch }
    }

    #[test]
    fn under_version_0_a_late_end_of_the_previous_transaction_ends_the_open_one() {
        // KAFKA-17754: the late EndTxn carries the same id and epoch as the open
        // transaction's, so nothing tells them apart.
        let open = txn(TxnState::Ongoing, 3);
        assert_eq!(end_decision_v1(&open, producer(3), TxnResult::Commit, true), Ok(Some(TxnResult::Commit)));
        let done = txn(TxnState::CompleteCommit, 3);
        assert_eq!(end_decision_v1(&done, producer(3), TxnResult::Commit, true), Ok(None), "a retry");
        assert_eq!(end_decision_v1(&done, producer(3), TxnResult::Abort, true), Err(ErrorCode::InvalidTxnState));
        assert_eq!(end_decision_v1(&open, producer(2), TxnResult::Commit, true), Err(ErrorCode::ProducerFenced));
    }

    #[test]
    fn under_version_2_the_epoch_tells_a_retry_from_a_late_request_as_kafkas_table_does() {
        let (commit, abort) = (TxnResult::Commit, TxnResult::Abort);
        // The open transaction (epoch 4) ends only with its own epoch; the previous
        // transaction's EndTxn (epoch 3) is fenced.
        let open = txn(TxnState::Ongoing, 4);
        assert_eq!(end_decision_v2(&open, producer(4), commit, true), Ok(Some(commit)));
        assert_eq!(end_decision_v2(&open, producer(3), commit, true), Err(ErrorCode::ProducerFenced));
        // Complete states: a retry (epoch just before) of the same outcome succeeds,
        // of the other is INVALID_TXN_STATE; the current epoch may abort (an epoch
        // bump with nothing open) but not commit.
        let committed = txn(TxnState::CompleteCommit, 4);
        assert_eq!(end_decision_v2(&committed, producer(3), commit, true), Ok(None));
        assert_eq!(end_decision_v2(&committed, producer(3), abort, true), Err(ErrorCode::InvalidTxnState));
        assert_eq!(end_decision_v2(&committed, producer(4), abort, true), Ok(Some(abort)));
        assert_eq!(end_decision_v2(&committed, producer(4), commit, true), Err(ErrorCode::InvalidTxnState));
        let aborted = txn(TxnState::CompleteAbort, 4);
        assert_eq!(end_decision_v2(&aborted, producer(3), abort, true), Ok(None));
        assert_eq!(end_decision_v2(&aborted, producer(4), abort, true), Ok(Some(abort)));
        assert_eq!(end_decision_v2(&aborted, producer(3), commit, true), Err(ErrorCode::InvalidTxnState));
        // Empty: a retry is fenced; abort bumps; commit is invalid.
        let empty = txn(TxnState::Empty, 4);
        assert_eq!(end_decision_v2(&empty, producer(3), abort, true), Err(ErrorCode::ProducerFenced));
        assert_eq!(end_decision_v2(&empty, producer(4), abort, true), Ok(Some(abort)));
        assert_eq!(end_decision_v2(&empty, producer(4), commit, true), Err(ErrorCode::InvalidTxnState));
        // Prepare states accept only a retry, answered CONCURRENT_TRANSACTIONS.
        let preparing = txn(TxnState::PrepareCommit, 5);
        assert_eq!(end_decision_v2(&preparing, producer(4), commit, true), Err(ErrorCode::ConcurrentTransactions));
        assert_eq!(end_decision_v2(&preparing, producer(5), commit, true), Err(ErrorCode::ProducerFenced));
        // The coordinator's own abort carries the epoch it fenced with.
        assert_eq!(end_decision_v2(&open, producer(5), abort, false), Ok(Some(abort)));
    }
}
