//! A transactional id's state (Kafka's `TransactionMetadata` and `TransactionState`),
//! the transitions the coordinator's requests make, and the records of
//! `__transaction_state` (`TransactionLog`): one record per transition, keyed by the
//! transactional id, the latest winning when a coordinator loads the partition.
//!
//! kafkasim's records carry an integer value, so a record's key carries the metadata
//! (as JSON), as the group coordinator's records do: `["txn", id, metadata]`, with the
//! producer epoch as the value.

use crate::protocol::{ProducerIdAndEpoch, Record, TopicPartition, TxnResult};
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
        }
    }

    /// `prepareAddPartitions`: the transaction is open with `partitions` added; it began
    /// now unless it was already open.
    pub fn with_partitions(&self, partitions: &[TopicPartition], now_ms: u64) -> TxnMetadata {
        let mut next = self.clone();
        if self.state != TxnState::Ongoing {
            next.partitions.clear();
            next.start_ms = now_ms;
        }
        next.state = TxnState::Ongoing;
        next.partitions.extend(partitions.iter().cloned());
        next
    }

    /// `prepareAbortOrCommit`.
    pub fn prepared(&self, result: TxnResult) -> TxnMetadata {
        TxnMetadata { state: TxnState::prepare(result), ..self.clone() }
    }

    /// `prepareComplete`: every marker written, nothing open.
    pub fn completed(&self) -> TxnMetadata {
        let state = TxnState::complete(self.state.result().expect("only a Prepare state completes"));
        TxnMetadata { state, partitions: BTreeSet::new(), ..self.clone() }
    }
}

/// The `__transaction_state` record of a transition.
pub fn txn_record(transactional_id: &str, metadata: &TxnMetadata, timestamp_ms: u64) -> Record {
    let key = serde_json::to_string(&("txn", transactional_id, metadata)).expect("keys serialize");
    Record { key: Some(key), value: metadata.producer_epoch as u64, timestamp_ms }
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
        }
    }

    #[test]
    fn a_transaction_goes_from_empty_through_prepare_to_complete_and_replays_from_its_records() {
        let tp = TopicPartition::new("orders", 1);
        let open = empty().with_partitions(std::slice::from_ref(&tp), 500);
        assert_eq!((open.state, open.start_ms), (TxnState::Ongoing, 500));
        let more = open.with_partitions(&[TopicPartition::new("orders", 2)], 900);
        assert_eq!((more.partitions.len(), more.start_ms), (2, 500), "still the same transaction");
        let prepared = more.prepared(TxnResult::Commit);
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
    fn an_exhausted_epoch_rotates_the_producer_id() {
        let exhausted = TxnMetadata { producer_epoch: i16::MAX - 1, ..empty() };
        let next = exhausted.next_incarnation(1, || 99);
        assert_eq!(next.producer(), ProducerIdAndEpoch { id: 99, epoch: 0 });
    }
}
