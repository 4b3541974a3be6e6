//! What a consumer returns from the batches of one fetched partition, by its
//! `isolation.level` (Kafka's `CompletedFetch.nextFetchedRecord`): every data record
//! for `read_uncommitted`; for `read_committed`, data records except those of aborted
//! transactions, which the fetch response lists (`abortedTransactions`). Control
//! batches (transaction markers) are never returned, but the position moves past them,
//! and past skipped aborted batches, as Kafka's `nextFetchOffset` does.

use crate::protocol::{AbortedTxn, IsolationLevel, LeaderEpoch, Offset, ProducerId, RecordBatch};
use std::collections::BTreeSet;

/// One item of a fetched partition, in offset order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// A record to return.
    Record {
        /// Its offset.
        offset: Offset,
        /// Its value.
        value: u64,
        /// Its timestamp (the producer's create time), in milliseconds.
        timestamp_ms: u64,
        /// The leader epoch of its batch.
        epoch: LeaderEpoch,
    },
    /// A batch the consumer skips (a marker, or an aborted transaction's records): the
    /// position may move to `next_offset` without returning anything.
    Skipped {
        /// The offset after the batch.
        next_offset: Offset,
        /// The leader epoch of the batch.
        epoch: LeaderEpoch,
    },
}

/// The items of `batches` from `position` on, as a consumer at `isolation` sees them.
pub fn fetched_items(
    batches: &[RecordBatch],
    aborted: &[AbortedTxn],
    isolation: IsolationLevel,
    position: Offset,
) -> Vec<Fetched> {
    let read_committed = isolation == IsolationLevel::ReadCommitted;
    let mut pending_aborts: Vec<AbortedTxn> = aborted.to_vec();
    pending_aborts.sort_by_key(|a| std::cmp::Reverse(a.first_offset));
    let mut aborted_producers: BTreeSet<ProducerId> = BTreeSet::new();
    let mut items = Vec::new();
    for batch in batches {
        let skipped = Fetched::Skipped { next_offset: batch.next_offset(), epoch: batch.partition_leader_epoch };
        if let Some(marker) = batch.control {
            if read_committed && marker.result == crate::protocol::TxnResult::Abort {
                aborted_producers.remove(&batch.producer_id);
            }
            items.push(skipped);
            continue;
        }
        if read_committed && batch.transactional {
            // `consumeAbortedTransactionsUpTo(batch.lastOffset())`.
            let last_offset = batch.next_offset().saturating_sub(1);
            while pending_aborts.last().is_some_and(|a| a.first_offset <= last_offset) {
                let txn = pending_aborts.pop().expect("checked");
                aborted_producers.insert(txn.producer_id);
            }
            if aborted_producers.contains(&batch.producer_id) {
                items.push(skipped);
                continue;
            }
        }
        for (offset, record) in batch.offsets_and_records() {
            if offset >= position {
                let (value, timestamp_ms, epoch) = (record.value, record.timestamp_ms, batch.partition_leader_epoch);
                items.push(Fetched::Record { offset, value, timestamp_ms, epoch });
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ControlMarker, Record, TxnResult};

    fn data(producer_id: ProducerId, base_offset: Offset, values: &[u64], transactional: bool) -> RecordBatch {
        let records = values.iter().map(|v| Record::new(None, *v, 0)).collect();
        RecordBatch { base_offset, producer_id, transactional, ..RecordBatch::plain(records) }
    }

    fn marker(producer_id: ProducerId, base_offset: Offset, result: TxnResult) -> RecordBatch {
        let marker = ControlMarker { result, coordinator_epoch: 0 };
        RecordBatch { base_offset, ..RecordBatch::marker(producer_id, 0, marker, 0) }
    }

    fn values(items: &[Fetched]) -> Vec<u64> {
        items.iter().filter_map(|i| if let Fetched::Record { value, .. } = i { Some(*value) } else { None }).collect()
    }

    #[test]
    fn read_committed_skips_aborted_transactions_and_markers_read_uncommitted_only_markers() {
        let batches = [
            data(7, 0, &[10, 11], true),
            data(8, 2, &[20], true),
            data(-1, 3, &[30], false),
            marker(7, 4, TxnResult::Abort),
            marker(8, 5, TxnResult::Commit),
            data(7, 6, &[12], true),
        ];
        let aborted = [AbortedTxn { producer_id: 7, first_offset: 0 }];
        let committed = fetched_items(&batches, &aborted, IsolationLevel::ReadCommitted, 0);
        assert_eq!(values(&committed), [20, 30, 12], "producer 7's next transaction is not aborted");
        assert_eq!(committed[0], Fetched::Skipped { next_offset: 2, epoch: 0 });
        let uncommitted = fetched_items(&batches, &aborted, IsolationLevel::ReadUncommitted, 1);
        assert_eq!(values(&uncommitted), [11, 20, 30, 12]);
        assert_eq!(uncommitted.len(), 6, "two markers skipped");
    }
}
