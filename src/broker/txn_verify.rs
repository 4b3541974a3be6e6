//! KIP-890 part 1 (Kafka 3.6+, `transaction.partition.verification.enable`): before a
//! leader appends a producer's first transactional batch to a partition where the
//! producer has no transaction open, it asks the transaction coordinator whether the
//! partition was added to the producer's open transaction (AddPartitionsToTxn with
//! `verifyOnly`, `ReplicaManager.appendRecordsWithTransactionVerification`). A batch
//! the coordinator does not confirm is refused, so a produce request that arrives after
//! its transaction ended (a retry delayed in the network) cannot open a transaction
//! that no coordinator will ever end: the hanging transaction that blocks every
//! `read_committed` consumer at the last stable offset.
//!
//! Under transaction version 2 (KIP-890 part 2) the same step adds the partition to the
//! transaction instead of verifying it (the producer sends no AddPartitionsToTxn), and
//! it runs whatever `transaction.partition.verification.enable` says
//! (`ReplicaManager.maybeSendPartitionsToTransactionCoordinator` skips it only for
//! producers that cannot bump their epoch).

use super::produce::{Admission, IncomingBatch};
use super::txn::coordinator::txn_partition;
use super::{BrokerConfig, SharedBroker};
use crate::protocol::{
    ErrorCode, ProducerIdAndEpoch, RecordBatch, Request, Response, TopicPartition, TransactionVersion, TxnRequest,
    TxnResponse,
};
use crate::sim::clock;
use crate::sim::net::Addr;
use madsim::time::sleep;
use std::time::Duration;

/// Splits a transactional produce request's batches into those that may go on to
/// admission and the refusals of those the coordinator did not confirm. Each batch that
/// needed a verification starts one in its partition and, once confirmed, carries its
/// guard to admission (`ReplicaManager.appendRecordsWithTransactionVerification`).
pub(super) async fn verify(
    shared: &SharedBroker,
    transactional_id: &str,
    version: TransactionVersion,
    batches: Vec<(TopicPartition, RecordBatch)>,
) -> (Vec<IncomingBatch>, Vec<Admission>) {
    let mut incoming: Vec<IncomingBatch> = batches.into_iter().map(IncomingBatch::unguarded).collect();
    if !version.bumps_epoch_per_transaction() && !shared.config.txn.partition_verification {
        return (incoming, Vec::new());
    }
    let started = clock::now();
    let retry_timeout = Duration::from_millis(shared.config.txn.add_partitions_retry_timeout_ms);
    let answers = loop {
        let needing = start_verifications(shared, &mut incoming);
        let Some(first) = incoming.first().filter(|_| !needing.is_empty()) else { return (incoming, Vec::new()) };
        let producer = ProducerIdAndEpoch { id: first.batch.producer_id, epoch: first.batch.producer_epoch };
        let answers = ask_coordinator(shared, transactional_id, producer, needing, version).await;
        // Under version 2 the leader asks again while the coordinator is still ending the
        // producer's previous transaction (CONCURRENT_TRANSACTIONS), rather than make the
        // producer retry the whole produce request after its backoff
        // (`ReplicaManager.maybeRetryOnConcurrentTransactions`, Kafka 4.0).
        let concurrent = answers.iter().any(|(_, error)| *error == Some(ErrorCode::ConcurrentTransactions));
        if !version.bumps_epoch_per_transaction() || !concurrent || started.elapsed() >= retry_timeout {
            break answers;
        }
        sleep(Duration::from_millis(shared.config.txn.add_partitions_retry_backoff_ms)).await;
    };
    let mut refused = Vec::new();
    let mut admitted = Vec::new();
    for pending in incoming {
        if pending.guard.is_none() {
            admitted.push(pending);
            continue;
        }
        match answers.iter().find(|(answered, _)| *answered == pending.tp).map(|(_, error)| *error) {
            Some(None) => admitted.push(pending),
            Some(Some(error)) => refused.push(Admission::refused(pending.tp, client_error(error))),
            None => refused.push(Admission::refused(pending.tp, ErrorCode::NotEnoughReplicas)),
        }
    }
    (admitted, refused)
}

/// Starts (or joins) a verification in each partition where a transactional batch of the
/// request has no transaction of its producer epoch open; the batch keeps the guard.
/// Returns the partitions to ask the coordinator about.
fn start_verifications(shared: &SharedBroker, incoming: &mut [IncomingBatch]) -> Vec<TopicPartition> {
    let mut state = shared.lock();
    let mut needing = Vec::new();
    for pending in incoming {
        pending.guard = None;
        let batch = &pending.batch;
        if !batch.transactional || batch.control.is_some() {
            continue;
        }
        let Some(partition) = state.partitions.get_mut(&pending.tp) else { continue };
        if partition.is_leader() && !partition.log().txns().is_open_under(batch.producer_id, batch.producer_epoch) {
            pending.guard = Some(partition.start_txn_verification(batch));
            needing.push(pending.tp.clone());
        }
    }
    needing
}

/// The error the producer gets for a failed verification: the coordinator's own when it
/// is final (INVALID_TXN_STATE, ...; PRODUCER_FENCED as INVALID_PRODUCER_EPOCH, as
/// `AddPartitionsToTxnManager` maps it); NOT_ENOUGH_REPLICAS, which the producer
/// retries, when the coordinator could not answer (Kafka's mapping in `ReplicaManager`,
/// for clients that predate the coordinator errors in Produce).
fn client_error(error: ErrorCode) -> ErrorCode {
    match error {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
        ErrorCode::CoordinatorNotAvailable
        | ErrorCode::NotCoordinator
        | ErrorCode::CoordinatorLoadInProgress
        | ErrorCode::ConcurrentTransactions
        | ErrorCode::RequestTimedOut => ErrorCode::NotEnoughReplicas,
        other => other,
    }
}

/// Asks the coordinator of `transactional_id`, as this broker's metadata knows it.
async fn ask_coordinator(
    shared: &SharedBroker,
    transactional_id: &str,
    producer: ProducerIdAndEpoch,
    partitions: Vec<TopicPartition>,
    version: TransactionVersion,
) -> Vec<(TopicPartition, Option<ErrorCode>)> {
    let unanswered = |partitions: Vec<TopicPartition>| {
        partitions.into_iter().map(|tp| (tp, Some(ErrorCode::CoordinatorNotAvailable))).collect()
    };
    let coordinator = txn_partition(shared, transactional_id)
        .and_then(|tp| shared.lock().metadata.partitions.get(&tp).and_then(|p| p.leader));
    let Some(coordinator) = coordinator else { return unanswered(partitions) };
    let request = Request::Txn(TxnRequest::AddPartitions {
        transactional_id: transactional_id.to_string(),
        producer,
        partitions: partitions.clone(),
        verify_only: !version.bumps_epoch_per_transaction(),
        transaction_version: version,
    });
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let conn = shared.net.connect(&Addr::new(&BrokerConfig::host_of(coordinator)));
    match conn.call(request, timeout).await {
        Ok(Response::Txn(TxnResponse::Partitions(results))) => results,
        _ => unanswered(partitions),
    }
}
