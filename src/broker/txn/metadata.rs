//! A transactional id's state (Kafka's `TransactionMetadata` and `TransactionState`),
//! the transitions the coordinator's requests make, and the records of
//! `__transaction_state` (`TransactionLog`): one record per transition, keyed by the
//! transactional id, the latest winning when a coordinator loads the partition.
//!
//! kafkasim's records carry an integer value, so a record's key carries the metadata
//! (as JSON), as the group coordinator's records do: `["txn", id, metadata]`, with the
//! producer epoch as the value.

use crate::protocol::{ProducerIdAndEpoch, Record, TopicPartition, TransactionVersion, TxnResult};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Kafka's `TransactionState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    /// No transaction open (after InitProducerId).
    Empty,
    /// A transaction is open: partitions were added.
    Ongoing,
    /// The commit is decided and written; markers are being written.
    PrepareCommit,
    /// The abort is decided and written; markers are being written.
    PrepareAbort,
    /// Every marker of the commit is written.
    CompleteCommit,
    /// Every marker of the abort is written.
    CompleteAbort,
}

impl TxnState {
    /// The Prepare state of `result`.
    pub fn prepare(result: TxnResult) -> TxnState {
        match result {
            TxnResult::Commit => TxnState::PrepareCommit,
            TxnResult::Abort => TxnState::PrepareAbort,
        }
    }

    /// The Complete state of `result`.
    pub fn complete(result: TxnResult) -> TxnState {
        match result {
            TxnResult::Commit => TxnState::CompleteCommit,
            TxnResult::Abort => TxnState::CompleteAbort,
        }
    }

    /// The outcome a Prepare or Complete state stands for.
    pub fn result(self) -> Option<TxnResult> {
        match self {
            TxnState::PrepareCommit | TxnState::CompleteCommit => Some(TxnResult::Commit),
            TxnState::PrepareAbort | TxnState::CompleteAbort => Some(TxnResult::Abort),
            TxnState::Empty | TxnState::Ongoing => None,
        }
    }

    /// Whether the state is PrepareCommit or PrepareAbort (markers are being written).
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// What the coordinator stores for one transactional id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMetadata {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch; a request with another epoch is fenced.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms`.
    pub timeout_ms: u64,
    /// The state.
    pub state: TxnState,
    /// The partitions of the open (or completing) transaction.
    pub partitions: BTreeSet<TopicPartition>,
    /// When the open transaction began (its first AddPartitions), in simulated
    /// milliseconds.
    pub start_ms: u64,
    /// The transaction protocol of the producer's last request that opened or ended a
    /// transaction (Kafka's `clientTransactionVersion`): under level 2 every end bumps
    /// the epoch, the coordinator's own timeout aborts included.
    #[serde(default)]
    pub transaction_version: TransactionVersion,
    /// Under transaction version 2, the producer id the producer continues with once a
    /// transaction that exhausted the epoch completes (Kafka's `nextProducerId`).
    #[serde(default)]
    pub next_producer_id: Option<i64>,
}

impl TxnMetadata {
    /// The producer id and epoch.
    pub fn producer(&self) -> ProducerIdAndEpoch {
        ProducerIdAndEpoch { id: self.producer_id, epoch: self.producer_epoch }
    }

    /// `prepareIncrementProducerEpoch` / `prepareProducerIdRotation` for InitProducerId
    /// from Empty or a Complete state: the next epoch (a new producer id, from
    /// `new_producer_id`, once the epoch is exhausted), nothing open.
    pub fn next_incarnation(&self, timeout_ms: u64, new_producer_id: impl FnOnce() -> i64) -> TxnMetadata {
        let (producer_id, producer_epoch) = if self.producer_epoch >= i16::MAX - 1 {
            (new_producer_id(), 0)
        } else {
            (self.producer_id, self.producer_epoch + 1)
        };
        TxnMetadata {
            producer_id,
            producer_epoch,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: self.start_ms,
            transaction_version: self.transaction_version,
            next_producer_id: None,
        }
    }

    /// Whether the epoch cannot be bumped again (`isProducerEpochExhausted`).
    pub fn epoch_exhausted(&self) -> bool {
        self.producer_epoch >= i16::MAX - 1
    }

    /// `prepareAddPartitions`: the transaction is open with `partitions` added; it began
    /// now unless it was already open.
    pub fn with_partitions(
        &self,
        partitions: &[TopicPartition],
        now_ms: u64,
        version: TransactionVersion,
    ) -> TxnMetadata {
        let mut next = self.clone();
        // A producer's protocol does not go back: AddOffsetsToTxn speaks version 0
        // whatever the producer (Kafka's `handleAddOffsetsToTxnRequest` passes TV_0).
        next.transaction_version = version.max(self.transaction_version);
        if self.state != TxnState::Ongoing {
            next.partitions.clear();
            next.start_ms = now_ms;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next
    }

    /// `prepareAbortOrCommit`, for a request of protocol `version`. Under level 2 the
    /// epoch is bumped here, so the markers carry the new epoch and fence every request
    /// the producer sent under the old one (KIP-890 part 2); an exhausted epoch moves to
    /// `new_producer_id()` once the transaction completes.
    pub fn prepared(
        &self,
        result: TxnResult,
        version: TransactionVersion,
        new_producer_id: impl FnOnce() -> i64,
    ) -> TxnMetadata {
        let mut next = TxnMetadata { state: TxnState::prepare(result), transaction_version: version, ..self.clone() };
        if version.bumps_epoch_per_transaction() {
            if self.epoch_exhausted() {
                next.next_producer_id = Some(new_producer_id());
            }
            next.producer_epoch = self.producer_epoch.saturating_add(1);
        }
        next
    }

    /// `prepareComplete`: every marker written, nothing open; a producer id whose epoch
    /// ran out is replaced by the next one, at epoch 0.
    pub fn completed(&self) -> TxnMetadata {
        let state = TxnState::complete(self.state.result().expect("only a Prepare state completes"));
        let mut next = TxnMetadata { state, partitions: BTreeSet::new(), next_producer_id: None, ..self.clone() };
        if let Some(producer_id) = self.next_producer_id {
            next.producer_id = producer_id;
            next.producer_epoch = 0;
        }
        next
    }
}

/// The `__transaction_state` record of a transition.
pub fn txn_record(transactional_id: &str, metadata: &TxnMetadata, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("txn", transactional_id, metadata)).expect("keys serialize");
    Record::new(Some(key), metadata.producer_epoch as u64, timestamp_ms)
}

/// Replays a `__transaction_state` partition's records (key, value) in log order: the
/// latest record of each transactional id wins. Records that are not transaction
/// records are skipped.
pub fn replay(records: Vec<(Option<String>, u64)>) -> BTreeMap<String, TxnMetadata> {
    let mut txns = BTreeMap::new();
    for (key, _) in records {
        let Some(key) = key else { continue };
        if let Ok((kind, id, metadata)) = serde_json::from_str::<(String, String, TxnMetadata)>(&key) {
            if kind == "txn" {
                txns.insert(id, metadata);
            }
        }
    }
    txns
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> TxnMetadata {
        TxnMetadata {
            producer_id: 7,
            producer_epoch: 0,
            timeout_ms: 60_000,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: 0,
            transaction_version: TransactionVersion::Tv0,
            next_producer_id: None,
        }
    }

    #[test]
    fn a_transaction_goes_from_empty_through_prepare_to_complete_and_replays_from_its_records() {
        let tp = TopicPartition::new("orders", 1);
        let open = empty().with_partitions(std::slice::from_ref(&tp), 500, TransactionVersion::Tv0);
        assert_eq!((open.state, open.start_ms), (TxnState::Ongoing, 500));
        let more = open.with_partitions(&[TopicPartition::new("orders", 2)], 900, TransactionVersion::Tv0);
        assert_eq!((more.partitions.len(), more.start_ms), (2, 500), "still the same transaction");
        let prepared = more.prepared(TxnResult::Commit, TransactionVersion::Tv0, || unreachable!());
        assert_eq!(prepared.producer_epoch, 0, "version 0 keeps the epoch");
        assert!(prepared.state.is_prepare());
        let done = prepared.completed();
        assert_eq!((done.state, done.partitions.len()), (TxnState::CompleteCommit, 0));
        let next = done.next_incarnation(30_000, || unreachable!("epoch not exhausted"));
        assert_eq!((next.producer_epoch, next.state, next.timeout_ms), (1, TxnState::Empty, 30_000));
        let records = [&open, &prepared, &done]
            .iter()
            .map(|m| txn_record("t1", m, 0))
            .chain([txn_record("t2", &empty(), 0)])
            .map(|r| (r.key, r.value))
            .collect();
        let replayed = replay(records);
        assert_eq!(replayed["t1"], done);
        assert_eq!(replayed["t2"], empty());
    }

    #[test]
    fn under_version_2_every_end_bumps_the_epoch_and_an_exhausted_one_rotates_the_id_on_completion() {
        let tv2 = TransactionVersion::Tv2;
        let open = empty().with_partitions(&[TopicPartition::new("orders", 0)], 0, tv2);
        let prepared = open.prepared(TxnResult::Abort, tv2, || unreachable!("epoch not exhausted"));
        assert_eq!(prepared.producer(), ProducerIdAndEpoch { id: 7, epoch: 1 }, "the markers carry the new epoch");
        assert_eq!(prepared.completed().producer(), ProducerIdAndEpoch { id: 7, epoch: 1 });
        let last = TxnMetadata { producer_epoch: i16::MAX - 1, ..open };
        let prepared = last.prepared(TxnResult::Commit, tv2, || 99);
        assert_eq!(prepared.producer(), ProducerIdAndEpoch { id: 7, epoch: i16::MAX });
        assert_eq!(prepared.completed().producer(), ProducerIdAndEpoch { id: 99, epoch: 0 });
    }

    #[test]
    fn an_exhausted_epoch_rotates_the_producer_id() {
        let exhausted = TxnMetadata { producer_epoch: i16::MAX - 1, ..empty() };
        let next = exhausted.next_incarnation(1, || 99);
        assert_eq!(next.producer(), ProducerIdAndEpoch { id: 99, epoch: 0 });
    }
}
