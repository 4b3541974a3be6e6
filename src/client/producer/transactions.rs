//! The transactional part of the producer (Kafka's `TransactionManager` with a
//! `transactional.id`): its state machine, and the requests it sends the transaction
//! coordinator.
//!
//! - `init_transactions`: FindCoordinator, then InitProducerId with the id, retried
//!   while the coordinator answers CONCURRENT_TRANSACTIONS (it is aborting or completing
//!   the id's previous transaction); the answer's epoch fences every older producer of
//!   the id.
//! - `send` within a transaction: a record for a partition not yet in the transaction
//!   marks the partition new; the sender adds new partitions with AddPartitionsToTxn
//!   before it drains their batches (`isSendToPartitionAllowed`), and marks the
//!   batches transactional. Under transaction version 2 (KIP-890 part 2, the cluster's
//!   finalized feature, learnt with the producer id) the producer sends no
//!   AddPartitionsToTxn: the partition leader adds the partition on the first write.
//! - `commit_transaction` flushes, then sends EndTxn(commit), retried while the
//!   coordinator answers CONCURRENT_TRANSACTIONS or moves; a batch of the transaction
//!   that failed makes the transaction abortable instead. `abort_transaction` fails the
//!   batches not yet sent, waits for those in flight, and sends EndTxn(abort).
//! - `send_offsets_to_transaction` (KIP-98, KIP-447): AddOffsetsToTxn to the
//!   transaction coordinator (which adds the group's `__consumer_offsets` partition to
//!   the transaction, so its markers go there too), then TxnOffsetCommit with the
//!   consumer's group metadata to the group coordinator. A group coordinator that
//!   refuses the metadata (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION: the consumer is a
//!   zombie of an older generation) makes the transaction abortable, as Kafka's
//!   `CommitFailedException`; see [`txn_offset_commit_handling`].
//! - Errors: PRODUCER_FENCED, INVALID_PRODUCER_EPOCH and INVALID_PRODUCER_ID_MAPPING are
//!   fatal (the application must close the producer); other failures of a transaction's
//!   batches are abortable. A commit whose EndTxn got no answer within `max.block.ms`
//!   leaves the outcome unknown, as Kafka's `TimeoutException` does. Under version 2
//!   the EndTxn answer carries the bumped epoch the next transaction writes under, every
//!   sequence restarting at 0.
//!
//! A failed batch leaves its partition's sequence unknown: once the application has
//! aborted the transaction, the producer sends InitProducerId again and takes the next
//! epoch, restarting every sequence at 0 (KIP-360's `epochBumpRequired`). Simplified:
//! Kafka sends the current id and epoch with that request, so the coordinator can tell
//! a retry from a zombie; here the request is the plain InitProducerId, which the
//! coordinator answers the same way once the abort is complete.

use super::state::Shared;
use crate::client::group::coordinator::{txn_response_error, CoordinatorLink, LinkError};
use crate::client::group::ConsumerGroupMetadata;
use crate::protocol::{
    ErrorCode, GroupRequest, GroupResponse, Offset, ProducerIdAndEpoch, TopicPartition, TransactionVersion, TxnRequest,
    TxnResponse, TxnResult,
};
use crate::sim::clock;
use madsim::time::{sleep, Instant};
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// Kafka's `TransactionManager.State`, as far as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// `initTransactions` has not completed.
    Uninitialized,
    /// No transaction open.
    Ready,
    /// A transaction is open.
    InTransaction,
    /// A batch of the open transaction failed: only an abort may follow.
    AbortableError(String),
    /// The producer was fenced or broke the protocol: it must be closed.
    FatalError(String),
}

/// The transactional state shared by the application's calls and the sender.
pub(super) struct TxnState {
    /// The phase.
    pub phase: Phase,
    /// Partitions the coordinator added to the open transaction.
    pub added: BTreeSet<TopicPartition>,
    /// Partitions the open transaction wrote to that are not added yet.
    pub new_partitions: BTreeSet<TopicPartition>,
    /// A batch failed, so its sequence may be missing from (or late to reach) a
    /// partition: after the abort, the producer takes a new epoch from the coordinator,
    /// restarting every sequence (`TransactionManager.epochBumpRequired`, KIP-360).
    pub epoch_bump_required: bool,
    /// The cluster's transaction protocol, as the last InitProducerId answer told it.
    pub version: TransactionVersion,
    /// AddOffsetsToTxn succeeded in the open transaction: the coordinator knows it even
    /// if it wrote no record, so it must be ended with EndTxn (Kafka's
    /// `transactionStarted`).
    pub offsets_added: bool,
    /// See [`ProducerConfig::invalid_epoch_abortable`](super::ProducerConfig).
    invalid_epoch_abortable: bool,
}

impl TxnState {
    /// Before `initTransactions`.
    pub fn new(invalid_epoch_abortable: bool) -> Self {
        TxnState {
            invalid_epoch_abortable,
            phase: Phase::Uninitialized,
            added: BTreeSet::new(),
            new_partitions: BTreeSet::new(),
            epoch_bump_required: false,
            version: TransactionVersion::Tv0,
            offsets_added: false,
        }
    }

    /// The open transaction wrote a record to `tp`: under version 2 the partition is in
    /// the transaction as of now (its leader adds it); otherwise it waits for
    /// AddPartitionsToTxn unless already added.
    pub fn wrote_to(&mut self, tp: &TopicPartition) {
        if self.version.bumps_epoch_per_transaction() {
            self.added.insert(tp.clone());
        } else if !self.added.contains(tp) {
            self.new_partitions.insert(tp.clone());
        }
    }

    /// Whether the transaction can only abort now (an abortable or fatal error).
    pub fn must_abort(&self) -> bool {
        matches!(self.phase, Phase::AbortableError(_) | Phase::FatalError(_))
    }

    /// Whether the sender may drain batches of `tp` (`isSendToPartitionAllowed`).
    pub fn may_send(&self, tp: &TopicPartition) -> bool {
        self.added.contains(tp) && matches!(self.phase, Phase::InTransaction | Phase::AbortableError(_))
    }

    /// A batch of the transaction failed for good: the transaction must abort, or, if
    /// the producer was fenced, the producer must close.
    pub fn batch_failed(&mut self, error: Option<ErrorCode>, reason: &str) {
        if matches!(self.phase, Phase::FatalError(_)) {
            return;
        }
        self.epoch_bump_required = true;
        let fatal = match error {
            // KIP-588 (2.7): the broker answers INVALID_PRODUCER_EPOCH where it answered
            // PRODUCER_FENCED, and the producer takes it as abortable
            // (`TransactionManager.maybeTransitionToErrorState`).
            Some(ErrorCode::InvalidProducerEpoch) => !self.invalid_epoch_abortable,
            Some(code) => is_fatal(code),
            None => false,
        };
        self.phase =
            if fatal { Phase::FatalError(reason.to_string()) } else { Phase::AbortableError(reason.to_string()) };
    }
}

/// Errors after which Kafka's producer can only be closed (the transaction
/// coordinator's INVALID_PRODUCER_EPOCH is PRODUCER_FENCED to its request handlers).
fn is_fatal(error: ErrorCode) -> bool {
    matches!(error, ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch | ErrorCode::InvalidProducerIdMapping)
}

/// Errors fatal in the answer to one request only: EndTxn's INVALID_TXN_STATE (the
/// coordinator holds another outcome for the transaction; Kafka's `EndTxnHandler`).
fn fatal_answer_to(request: &TxnRequest, error: ErrorCode) -> bool {
    matches!(request, TxnRequest::EndTxn { .. }) && error == ErrorCode::InvalidTxnState
}

/// How a transactional call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnError {
    /// The transaction cannot commit; `abort_transaction` ends it (Kafka's
    /// `TransactionAbortableException` and the exceptions it wraps).
    Abortable(String),
    /// The producer must be closed (`ProducerFencedException`, ...).
    Fatal(String),
    /// No answer in time: the transaction's outcome is unknown (`TimeoutException`).
    Timeout(String),
}

impl fmt::Display for TxnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxnError::Abortable(reason) => write!(f, "abortable: {reason}"),
            TxnError::Fatal(reason) => write!(f, "fatal: {reason}"),
            TxnError::Timeout(reason) => write!(f, "timeout: {reason}"),
        }
    }
}

/// The pause before a request the coordinator answered CONCURRENT_TRANSACTIONS is sent
/// again (Kafka's producer retries AddPartitions after 20 ms; `retry.backoff.ms`
/// elsewhere).
const CONCURRENT_TRANSACTIONS_BACKOFF: Duration = Duration::from_millis(20);

/// Sends `request` to the transaction coordinator until it gets an answer that is not
/// retriable, or `deadline` passes (Kafka's `max.block.ms` for the blocking calls).
pub(super) async fn call_until_settled(
    shared: &Shared,
    link: &mut CoordinatorLink,
    request: TxnRequest,
    deadline: Instant,
) -> Result<TxnResponse, TxnError> {
    let timeout = Duration::from_millis(shared.config.request_timeout_ms);
    let backoff = Duration::from_millis(shared.config.retry_backoff_ms.max(1));
    loop {
        if clock::now() >= deadline {
            return Err(TxnError::Timeout(format!("{} not answered within max.block.ms", request.name())));
        }
        let answer = link.call_txn(request.clone(), timeout).await;
        tracing::debug!(request = request.name(), ?answer, "transaction coordinator answer");
        match answer {
            Ok(response) => match txn_response_error(&response) {
                None => return Ok(response),
                Some(ErrorCode::ConcurrentTransactions) => sleep(CONCURRENT_TRANSACTIONS_BACKOFF).await,
                Some(error) if error.is_retriable() => sleep(backoff).await,
                Some(error) if is_fatal(error) || fatal_answer_to(&request, error) => {
                    return Err(TxnError::Fatal(error.kafka_name().to_string()))
                }
                Some(error) => return Err(TxnError::Abortable(error.kafka_name().to_string())),
            },
            Err(LinkError::CoordinatorUnknown | LinkError::Indeterminate) => sleep(backoff).await,
        }
    }
}

/// InitProducerId with the `transactional.id`: the producer id and epoch, and the
/// cluster's transaction protocol.
pub(super) async fn init_producer_id(
    shared: &Shared,
    link: &mut CoordinatorLink,
    deadline: Instant,
) -> Result<(ProducerIdAndEpoch, TransactionVersion), TxnError> {
    let request = TxnRequest::InitProducerId {
        transactional_id: transactional_id(shared),
        transaction_timeout_ms: shared.config.transaction_timeout_ms,
    };
    match call_until_settled(shared, link, request, deadline).await? {
        TxnResponse::ProducerId { producer: Some(producer), transaction_version, .. } => {
            Ok((producer, transaction_version))
        }
        other => Err(TxnError::Fatal(format!("unexpected InitProducerId answer {other:?}"))),
    }
}

/// EndTxn with `result` for the producer's current id and epoch; under version 2, the
/// id and epoch the producer goes on with.
pub(super) async fn end_txn(
    shared: &Shared,
    link: &mut CoordinatorLink,
    producer: ProducerIdAndEpoch,
    result: TxnResult,
    transaction_version: TransactionVersion,
    deadline: Instant,
) -> Result<Option<ProducerIdAndEpoch>, TxnError> {
    let request =
        TxnRequest::EndTxn { transactional_id: transactional_id(shared), producer, result, transaction_version };
    match call_until_settled(shared, link, request, deadline).await? {
        TxnResponse::Ended { next_producer, .. } => Ok(next_producer),
        other => Err(TxnError::Fatal(format!("unexpected EndTxn answer {other:?}"))),
    }
}

/// AddPartitionsToTxn for the partitions the open transaction wrote to and the
/// coordinator has not added yet (the sender calls this before each drain). Returns
/// whether it made progress.
pub(super) async fn add_new_partitions(shared: &Shared, link: &mut CoordinatorLink) {
    let (partitions, producer) = {
        let state = shared.lock();
        let txn = state.txn.as_ref().expect("a transactional producer");
        if txn.new_partitions.is_empty() || txn.phase != Phase::InTransaction {
            return;
        }
        (txn.new_partitions.iter().cloned().collect::<Vec<_>>(), state.idempotence.producer())
    };
    let Some(producer) = producer else { return };
    let request = TxnRequest::AddPartitions {
        transactional_id: transactional_id(shared),
        producer,
        partitions: partitions.clone(),
        verify_only: false,
        transaction_version: TransactionVersion::Tv0,
    };
    // Bounded by the delivery timeout: the batches waiting for the partitions expire
    // then anyway.
    let deadline = clock::now() + Duration::from_millis(shared.config.delivery_timeout_ms);
    let answer = call_until_settled(shared, link, request, deadline).await;
    let mut state = shared.lock();
    let txn = state.txn.as_mut().expect("a transactional producer");
    match answer {
        Ok(_) => {
            for tp in partitions {
                txn.new_partitions.remove(&tp);
                txn.added.insert(tp);
            }
        }
        Err(TxnError::Fatal(reason)) => txn.phase = Phase::FatalError(reason),
        Err(TxnError::Abortable(reason) | TxnError::Timeout(reason)) => txn.phase = Phase::AbortableError(reason),
    }
}

fn transactional_id(shared: &Shared) -> String {
    shared.config.transactional_id.clone().expect("a transactional producer")
}

/// What the producer does with an AddOffsetsToTxn error that `call_until_settled`
/// classified (Kafka 3.9's `AddOffsetsToTxnHandler`): INVALID_TXN_STATE is fatal there,
/// where other calls treat it as abortable.
pub(super) fn add_offsets_error(error: TxnError) -> TxnError {
    match error {
        TxnError::Abortable(reason) if reason == ErrorCode::InvalidTxnState.kafka_name() => TxnError::Fatal(reason),
        other => other,
    }
}

/// What the producer does with a TxnOffsetCommit answer's error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum OffsetCommitHandling {
    /// Send it again after `retry.backoff.ms`; `lookup`: find the group coordinator
    /// first.
    Retry {
        /// The coordinator moved or did not answer: look it up again.
        lookup: bool,
    },
    /// The transaction must be aborted.
    Abortable(String),
    /// The producer must be closed.
    Fatal(String),
}

/// Kafka 3.9's `TransactionManager.TxnOffsetCommitHandler.handleResponse`, error by
/// error: a moved or unavailable coordinator (or a timeout) is looked up again; other
/// retriable errors are retried as they are; the group's refusal of a zombie member
/// (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION) is a `CommitFailedException` that the
/// application handles by aborting, as are FENCED_INSTANCE_ID and
/// TRANSACTION_ABORTABLE; a fenced producer epoch is fatal, as is anything unexpected.
pub(super) fn txn_offset_commit_handling(error: ErrorCode) -> OffsetCommitHandling {
    use OffsetCommitHandling::{Abortable, Fatal, Retry};
    match error {
        ErrorCode::CoordinatorNotAvailable | ErrorCode::NotCoordinator | ErrorCode::RequestTimedOut => {
            Retry { lookup: true }
        }
        ErrorCode::UnknownMemberId | ErrorCode::IllegalGeneration => Abortable(format!(
            "CommitFailedException: Transaction offset Commit failed due to consumer group metadata mismatch: {}",
            error.kafka_name()
        )),
        ErrorCode::FencedInstanceId | ErrorCode::TransactionAbortable => Abortable(error.kafka_name().to_string()),
        // Kafka maps INVALID_PRODUCER_EPOCH to PRODUCER_FENCED here.
        ErrorCode::InvalidProducerEpoch | ErrorCode::ProducerFenced => {
            Fatal(ErrorCode::ProducerFenced.kafka_name().to_string())
        }
        // Kafka's RetriableException subclasses among the codes a group coordinator
        // answers TxnOffsetCommit with (REBALANCE_IN_PROGRESS is not retriable in Kafka's
        // Errors and not answered to TxnOffsetCommit).
        ErrorCode::CoordinatorLoadInProgress
        | ErrorCode::UnknownTopicOrPartition
        | ErrorCode::NotEnoughReplicas
        | ErrorCode::NotEnoughReplicasAfterAppend
        | ErrorCode::ConcurrentTransactions
        | ErrorCode::NotLeaderOrFollower => Retry { lookup: false },
        other => Fatal(format!("Unexpected error in TxnOffsetCommitResponse: {}", other.kafka_name())),
    }
}

/// TxnOffsetCommit of `offsets` for the consumer described by `metadata`, sent to its
/// group coordinator until it is settled or `deadline` passes.
pub(super) async fn txn_offset_commit(
    shared: &Shared,
    link: &mut CoordinatorLink,
    producer: ProducerIdAndEpoch,
    offsets: &[(TopicPartition, Offset)],
    metadata: &ConsumerGroupMetadata,
    deadline: Instant,
) -> Result<(), TxnError> {
    let timeout = Duration::from_millis(shared.config.request_timeout_ms);
    let backoff = Duration::from_millis(shared.config.retry_backoff_ms.max(1));
    let request = GroupRequest::TxnOffsetCommit {
        transactional_id: transactional_id(shared),
        group: metadata.group_id.clone(),
        producer,
        generation: metadata.generation_id,
        member_id: metadata.member_id.clone(),
        offsets: offsets.to_vec(),
    };
    loop {
        if clock::now() >= deadline {
            return Err(TxnError::Timeout("TxnOffsetCommit not answered within max.block.ms".into()));
        }
        let answer = link.call(request.clone(), timeout).await;
        tracing::debug!(?answer, "TxnOffsetCommit answer");
        match answer {
            Ok(GroupResponse::Ack { error: None }) => return Ok(()),
            Ok(GroupResponse::Ack { error: Some(error) }) => match txn_offset_commit_handling(error) {
                OffsetCommitHandling::Retry { lookup } => {
                    if lookup {
                        link.mark_unknown();
                    }
                    sleep(backoff).await;
                }
                OffsetCommitHandling::Abortable(reason) => return Err(TxnError::Abortable(reason)),
                OffsetCommitHandling::Fatal(reason) => return Err(TxnError::Fatal(reason)),
            },
            Ok(_) | Err(LinkError::CoordinatorUnknown | LinkError::Indeterminate) => {
                link.mark_unknown();
                sleep(backoff).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_offset_commit_errors_are_handled_as_kafkas_transaction_manager_does() {
        use OffsetCommitHandling::{Abortable, Fatal, Retry};
        for moved in [ErrorCode::CoordinatorNotAvailable, ErrorCode::NotCoordinator, ErrorCode::RequestTimedOut] {
            assert_eq!(txn_offset_commit_handling(moved), Retry { lookup: true }, "{moved}");
        }
        for retriable in [ErrorCode::CoordinatorLoadInProgress, ErrorCode::UnknownTopicOrPartition] {
            assert_eq!(txn_offset_commit_handling(retriable), Retry { lookup: false }, "{retriable}");
        }
        // A zombie consumer's group metadata: CommitFailedException, abortable.
        for zombie in [ErrorCode::UnknownMemberId, ErrorCode::IllegalGeneration] {
            let Abortable(reason) = txn_offset_commit_handling(zombie) else { panic!("{zombie} is abortable") };
            assert!(reason.starts_with("CommitFailedException") && reason.ends_with(zombie.kafka_name()), "{reason}");
        }
        assert!(matches!(txn_offset_commit_handling(ErrorCode::FencedInstanceId), Abortable(_)));
        assert!(matches!(txn_offset_commit_handling(ErrorCode::TransactionAbortable), Abortable(_)));
        for fenced in [ErrorCode::ProducerFenced, ErrorCode::InvalidProducerEpoch] {
            assert_eq!(txn_offset_commit_handling(fenced), Fatal("PRODUCER_FENCED".into()), "{fenced}");
        }
        // REBALANCE_IN_PROGRESS is retriable in kafkasim's table but not an answer to
        // TxnOffsetCommit: unexpected, hence fatal, as Kafka's handler treats it.
        assert!(matches!(txn_offset_commit_handling(ErrorCode::RebalanceInProgress), Fatal(_)));
    }

    #[test]
    fn a_record_refused_as_from_an_old_epoch_is_abortable_from_kip_588_and_fatal_before() {
        for (abortable, expected_fatal) in [(true, false), (false, true)] {
            let mut txn = TxnState::new(abortable);
            txn.phase = Phase::InTransaction;
            txn.batch_failed(Some(ErrorCode::InvalidProducerEpoch), "INVALID_PRODUCER_EPOCH");
            assert_eq!(matches!(txn.phase, Phase::FatalError(_)), expected_fatal, "KIP-588 behaviour {abortable}");
            assert!(txn.must_abort());
        }
        // A fenced producer is fenced whatever the release.
        let mut txn = TxnState::new(true);
        txn.phase = Phase::InTransaction;
        txn.batch_failed(Some(ErrorCode::ProducerFenced), "PRODUCER_FENCED");
        assert!(matches!(txn.phase, Phase::FatalError(_)));
    }

    #[test]
    fn add_offsets_to_txn_makes_invalid_txn_state_fatal_and_keeps_the_rest() {
        let invalid = TxnError::Abortable("INVALID_TXN_STATE".into());
        assert_eq!(add_offsets_error(invalid), TxnError::Fatal("INVALID_TXN_STATE".into()));
        let other = TxnError::Abortable("TRANSACTION_ABORTABLE".into());
        assert_eq!(add_offsets_error(other.clone()), other);
        let timeout = TxnError::Timeout("x".into());
        assert_eq!(add_offsets_error(timeout.clone()), timeout);
    }
}
