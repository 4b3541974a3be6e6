//! The transactions of one replica's log: which producers have a transaction open in
//! it, which completed transactions' markers are not yet below the high watermark, and
//! the aborted-transactions index. Kafka keeps the first two in `ProducerStateManager`
//! (`ongoingTxns`, `unreplicatedTxns`) and the last in the `.txnindex` files
//! (`TransactionIndex`).
//!
//! The last stable offset (Kafka's `UnifiedLog.lastStableOffset`) is the high watermark
//! held back by the first offset of any transaction still open, or completed by a marker
//! the high watermark has not passed yet (`firstUnstableOffset`): a `read_committed`
//! consumer reads below it only, so it never sees a record whose transaction's outcome
//! is not settled on every in-sync replica.
//!
//! Like the idempotent producer state beside it, the index is kept in step with every
//! batch the log appends and rebuilt from the log's batches when the log is loaded,
//! truncated or trimmed at its start.

use crate::protocol::{AbortedTxn, Offset, ProducerId, RecordBatch, TxnResult};

/// A producer epoch.
type ProducerEpoch = i16;
use std::collections::BTreeMap;

/// One aborted transaction with the offset of its abort marker (Kafka's `AbortedTxn`
/// `lastOffset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Aborted {
    txn: AbortedTxn,
    marker_offset: Offset,
}

/// The transactions of one log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnIndex {
    /// Producer id → the first offset of its open transaction, and the producer epoch
    /// it was opened under.
    ongoing: BTreeMap<ProducerId, (Offset, ProducerEpoch)>,
    /// Marker offset → the first offset of the transaction it completed.
    completed: BTreeMap<Offset, Offset>,
    /// Aborted transactions in marker order.
    aborted: Vec<Aborted>,
    /// Producer id → the coordinator epoch of its last marker, which fences markers
    /// from older coordinators (`ProducerStateEntry.coordinatorEpoch`).
    coordinator_epochs: BTreeMap<ProducerId, u32>,
}

impl TxnIndex {
    /// The index of a log holding `batches`, in offset order.
    pub fn rebuild<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Self {
        let mut index = TxnIndex::default();
        for batch in batches {
            index.record(batch);
        }
        index
    }

    /// Takes an appended batch into account: a transactional data batch opens (or
    /// continues) its producer's transaction; a marker completes it.
    pub fn record(&mut self, batch: &RecordBatch) {
        if !batch.transactional || batch.records.is_empty() {
            return;
        }
        let Some(marker) = batch.control else {
            self.ongoing.entry(batch.producer_id).or_insert((batch.base_offset, batch.producer_epoch));
            return;
        };
        self.coordinator_epochs.insert(batch.producer_id, marker.coordinator_epoch);
        // A marker for a producer with nothing open here (a retried WriteTxnMarkers, an
        // abort of a transaction that never wrote here) completes nothing, as Kafka's
        // `ProducerAppendInfo.appendEndTxnMarker` does not add a completed transaction.
        let Some((first_offset, _)) = self.ongoing.remove(&batch.producer_id) else { return };
        self.completed.insert(batch.base_offset, first_offset);
        if marker.result == TxnResult::Abort {
            let txn = AbortedTxn { producer_id: batch.producer_id, first_offset };
            self.aborted.push(Aborted { txn, marker_offset: batch.base_offset });
        }
    }

    /// Whether `producer_id` has a transaction open in this log.
    pub fn is_open(&self, producer_id: ProducerId) -> bool {
        self.ongoing.contains_key(&producer_id)
    }

    /// Whether the producer has a transaction open here under `epoch`, which its next
    /// transactional batch of that epoch joins without a verification. The epoch matters
    /// under transaction version 2 (Kafka 4.0's `UnifiedLog.hasOngoingTransaction(producerId,
    /// producerEpoch)`): the next transaction's first batch, under the bumped epoch, must
    /// not join the previous transaction before that one's marker is written here.
    pub fn is_open_under(&self, producer_id: ProducerId, epoch: ProducerEpoch) -> bool {
        self.ongoing.get(&producer_id).is_some_and(|&(_, open_epoch)| open_epoch == epoch)
    }

    /// The coordinator epoch of the producer's last marker here, if any.
    pub fn coordinator_epoch(&self, producer_id: ProducerId) -> Option<u32> {
        self.coordinator_epochs.get(&producer_id).copied()
    }

    /// The first offset of any transaction still open, or completed by a marker at or
    /// above `high_watermark` (Kafka's `firstUnstableOffset`).
    pub fn first_unstable_offset(&self, high_watermark: Offset) -> Option<Offset> {
        let open = self.ongoing.values().map(|&(first, _)| first).min();
        let unreplicated = self.completed.range(high_watermark..).map(|(_, first)| *first).min();
        open.into_iter().chain(unreplicated).min()
    }

    /// The aborted transactions a `read_committed` fetch of `from..until` must be told
    /// about: those whose records may lie in the range (Kafka's
    /// `UnifiedLog.collectAbortedTransactions`: first offset below `until`, abort marker
    /// at or after `from`).
    pub fn aborted_between(&self, from: Offset, until: Offset) -> Vec<AbortedTxn> {
        // In marker order, so the markers before `from` are skipped by a binary search:
        // every read_committed fetch asks.
        let first = self.aborted.partition_point(|a| a.marker_offset < from);
        self.aborted[first..].iter().filter(|a| a.txn.first_offset < until).map(|a| a.txn).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ControlMarker, Record};

    fn data(producer_id: ProducerId, base_offset: Offset, count: u64) -> RecordBatch {
        let records = (0..count).map(|i| Record::new(None, i, 0)).collect();
        RecordBatch { base_offset, producer_id, producer_epoch: 0, transactional: true, ..RecordBatch::plain(records) }
    }

    fn marker(producer_id: ProducerId, base_offset: Offset, result: TxnResult) -> RecordBatch {
        let mut batch = RecordBatch::marker(producer_id, 0, ControlMarker { result, coordinator_epoch: 3 }, 0);
        batch.base_offset = base_offset;
        batch
    }

    #[test]
    fn an_open_transaction_holds_the_last_stable_offset_until_its_marker_is_replicated() {
        let mut index = TxnIndex::default();
        index.record(&RecordBatch { base_offset: 0, ..RecordBatch::plain(vec![]) });
        index.record(&data(7, 2, 2));
        index.record(&data(7, 5, 1));
        assert!(index.is_open(7));
        assert_eq!(index.first_unstable_offset(9), Some(2));
        index.record(&marker(7, 6, TxnResult::Commit));
        assert!(!index.is_open(7));
        assert_eq!(index.first_unstable_offset(6), Some(2), "the marker is not below the high watermark yet");
        assert_eq!(index.first_unstable_offset(7), None);
        assert_eq!(index.coordinator_epoch(7), Some(3));
        assert!(index.aborted_between(0, 10).is_empty());
    }

    #[test]
    fn aborted_transactions_are_listed_for_the_fetches_they_overlap() {
        let batches = [data(7, 0, 2), data(8, 2, 1), marker(7, 3, TxnResult::Abort), marker(8, 4, TxnResult::Commit)];
        let index = TxnIndex::rebuild(&batches);
        let seven = AbortedTxn { producer_id: 7, first_offset: 0 };
        assert_eq!(index.aborted_between(0, 5), vec![seven]);
        assert_eq!(index.aborted_between(3, 5), vec![seven], "the marker itself is in the range");
        assert!(index.aborted_between(4, 5).is_empty());
        // A marker for a producer with nothing open completes nothing.
        let mut index = index;
        index.record(&marker(9, 5, TxnResult::Abort));
        assert_eq!(index.aborted_between(0, 9), vec![seven]);
        assert_eq!(index.first_unstable_offset(6), None);
    }
}
