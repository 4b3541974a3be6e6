//! Sequence numbers and one partition's sequence bookkeeping (Kafka's `TxnPartitionEntry`,
//! formerly `TransactionManager.TopicPartitionEntry`): which producer id and epoch the
//! partition's sequences belong to, the next sequence, the last acknowledged sequence and
//! offset, and the batches sent and not yet completed, by sequence.

use crate::protocol::{Offset, ProducerIdAndEpoch};
use std::collections::BTreeMap;

/// A record's sequence number in one partition's sequences under one producer id and
/// epoch: a batch carries its first record's, and the next batch starts where it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Sequence(pub i32);

impl Sequence {
    /// Where a partition's sequences start, and restart after an epoch bump.
    pub const FIRST: Sequence = Sequence(0);

    /// The sequence `delta` records later. It wraps as `i32` arithmetic does (Kafka wraps
    /// to 0 instead; no run comes near 2^31 records per partition).
    pub fn offset_by(self, delta: i32) -> Sequence {
        Sequence(self.0.wrapping_add(delta))
    }
}

/// What an idempotent batch carries (Kafka's `ProducerBatch` producer id, epoch and base
/// sequence): given at its first drain, kept across retries, rewritten only when its
/// partition's sequences restart or shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BatchSequence {
    /// The producer id and epoch the batch carries.
    pub producer: ProducerIdAndEpoch,
    /// The sequence of the batch's first record.
    pub base: Sequence,
}

impl BatchSequence {
    /// The sequence of the last of the batch's `record_count` records.
    pub fn last(self, record_count: usize) -> Sequence {
        self.base.offset_by(record_count as i32 - 1)
    }

    /// Kafka's order of in-flight batches (`TxnPartitionEntry.PRODUCER_BATCH_COMPARATOR`):
    /// producer id, epoch, base sequence.
    fn order_key(self) -> (i64, i16, i32) {
        (self.producer.id, self.producer.epoch, self.base.0)
    }
}

/// A batch's identity while the producer tracks it: its creation order number, unique
/// in the producer.
pub(super) type BatchId = u64;

/// A batch sent at least once and not yet completed, acknowledged or failed for good
/// (an entry of Kafka's `inflightBatchesBySequence`; a batch back in the queue for a
/// retry is still one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TrackedBatch {
    /// What the batch carries on its next attempt (rewritten in place, as Kafka's
    /// `ProducerBatch.resetProducerState`).
    pub sequence: BatchSequence,
    /// How many records it holds.
    pub records: usize,
    /// Whether `sequence` was rewritten since the batch was last drained (Kafka's
    /// `ProducerBatch.sequenceHasBeenReset`: set by `resetProducerState`, cleared when
    /// the drain closes the batch).
    pub reset: bool,
}

/// One partition's sequences.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PartitionSequences {
    /// The producer id and epoch the sequences belong to (Kafka 2.8+ keeps it per
    /// partition, KAFKA-12152; before, the first in-flight batch's told the same).
    pub producer: ProducerIdAndEpoch,
    /// The base sequence of the next batch.
    pub next: Sequence,
    /// The last sequence of the highest acknowledged batch, if any.
    pub last_acked: Option<Sequence>,
    /// The last offset of the highest acknowledged batch, if any: it tells a leader that
    /// deleted our records by retention from one that lost them (UNKNOWN_PRODUCER_ID).
    pub last_acked_offset: Option<Offset>,
    /// The batches sent and not completed.
    pub in_flight: BTreeMap<BatchId, TrackedBatch>,
}

impl PartitionSequences {
    /// Forgets an in-flight batch. The last one out frees the map's node too: a producer
    /// writing to thousands of partitions would otherwise keep one node per partition
    /// for batches long gone (a `BTreeMap` keeps its emptied root).
    pub fn finish(&mut self, id: BatchId) {
        self.in_flight.remove(&id);
        if self.in_flight.is_empty() {
            self.in_flight = BTreeMap::new();
        }
    }

    /// Sequences of `producer` from 0, nothing sent.
    pub fn fresh(producer: ProducerIdAndEpoch) -> Self {
        PartitionSequences {
            producer,
            next: Sequence::FIRST,
            last_acked: None,
            last_acked_offset: None,
            in_flight: BTreeMap::new(),
        }
    }

    /// The base sequence of the first in-flight batch in Kafka's order, if any
    /// (`TransactionManager.firstInFlightSequence`).
    pub fn first_in_flight(&self) -> Option<Sequence> {
        self.in_flight.values().map(|t| t.sequence).min_by_key(|s| s.order_key()).map(|s| s.base)
    }

    /// Whether `sequence` follows the last acknowledged one (`isNextSequence`).
    pub fn is_next(&self, sequence: Sequence) -> bool {
        sequence.0.wrapping_sub(self.last_acked.map_or(-1, |s| s.0)) == 1
    }

    /// Raises the last acknowledged sequence to `last` if it is higher
    /// (`maybeUpdateLastAckedSequence`).
    pub fn acknowledged(&mut self, last: Sequence, last_offset: Option<Offset>) {
        if self.last_acked.is_none_or(|acked| last > acked) {
            self.last_acked = Some(last);
        }
        if let Some(offset) = last_offset.filter(|o| self.last_acked_offset.is_none_or(|acked| *o > acked)) {
            self.last_acked_offset = Some(offset);
        }
    }

    /// Restarts the sequences at 0 under `producer`: the in-flight batches are rewritten
    /// from 0 in their order, the next batch follows them, and nothing counts as
    /// acknowledged (`startSequencesAtBeginning`).
    pub fn start_at_beginning(&mut self, producer: ProducerIdAndEpoch) {
        let mut ids: Vec<BatchId> = self.in_flight.keys().copied().collect();
        ids.sort_by_key(|id| self.in_flight[id].sequence.order_key());
        let mut next = Sequence::FIRST;
        for id in ids {
            let tracked = self.in_flight.get_mut(&id).expect("listed above");
            tracked.sequence = BatchSequence { producer, base: next };
            tracked.reset = true;
            next = next.offset_by(tracked.records as i32);
        }
        self.producer = producer;
        self.next = next;
        self.last_acked = None;
    }

    /// Closes the gap a batch failed for good leaves (`adjustSequencesDueToFailedBatch`,
    /// Kafka up to 2.4 for the idempotent producer): the next sequence and every
    /// in-flight batch after it move down by its record count.
    pub fn close_gap(&mut self, failed: Sequence, records: usize) {
        let shift = records as i32;
        self.next = self.next.offset_by(-shift);
        for tracked in self.in_flight.values_mut().filter(|t| t.sequence.base >= failed) {
            tracked.sequence.base = tracked.sequence.base.offset_by(-shift);
            tracked.reset = true;
        }
    }
}
