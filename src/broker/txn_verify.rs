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

use super::produce::Admission;
use super::txn::coordinator::txn_partition;
use super::{BrokerConfig, SharedBroker};
use crate::protocol::{
    ErrorCode, ProducerIdAndEpoch, RecordBatch, Request, Response, TopicPartition, TransactionVersion, TxnRequest,
    TxnResponse,
};
use crate::sim::net::Addr;
use std::time::Duration;

/// Splits a transactional produce request's batches into those that may go on to
/// admission and the refusals of those the coordinator did not confirm. Confirmed
/// partitions are marked verified in their logs (the `VerificationGuard`).
pub(super) async fn verify(
    shared: &SharedBroker,
    transactional_id: &str,
    version: TransactionVersion,
    batches: Vec<(TopicPartition, RecordBatch)>,
) -> (Vec<(TopicPartition, RecordBatch)>, Vec<Admission>) {
    let adds = version.bumps_epoch_per_transaction();
    if !adds && !shared.config.txn.partition_verification {
        return (batches, Vec::new());
    }
    let (needing, producer) = {
        let state = shared.lock();
        let needs = |tp: &TopicPartition, batch: &RecordBatch| {
            batch.transactional
                && batch.control.is_none()
                && state.partitions.get(tp).is_some_and(|p| {
                    p.is_leader() && !p.log().txns().may_append(batch.producer_id, batch.producer_epoch)
                })
        };
        let needing: Vec<TopicPartition> =
            batches.iter().filter(|(tp, b)| needs(tp, b)).map(|(tp, _)| tp.clone()).collect();
        let producer = batches.first().map(|(_, b)| ProducerIdAndEpoch { id: b.producer_id, epoch: b.producer_epoch });
        (needing, producer)
    };
    let (Some(producer), false) = (producer, needing.is_empty()) else { return (batches, Vec::new()) };
    let answers = ask_coordinator(shared, transactional_id, producer, needing.clone(), version).await;
    let mut refused = Vec::new();
    let mut admitted = Vec::new();
    {
        let mut state = shared.lock();
        for (tp, batch) in batches {
            if !needing.contains(&tp) {
                admitted.push((tp, batch));
                continue;
            }
            match answers.iter().find(|(answered, _)| *answered == tp).map(|(_, error)| *error) {
                Some(None) => {
                    if let Some(partition) = state.partitions.get_mut(&tp) {
                        partition.mark_txn_verified(producer);
                    }
                    admitted.push((tp, batch));
                }
                Some(Some(error)) => refused.push(Admission::refused(tp, client_error(error))),
                None => refused.push(Admission::refused(tp, ErrorCode::NotEnoughReplicas)),
            }
        }
    }
    (admitted, refused)
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
