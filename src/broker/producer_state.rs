//! Idempotent producer state of one partition replica (Kafka's `ProducerStateManager`):
//! for each producer id, its epoch and the metadata of its last five batches, so that a
//! retried batch is answered with its original offset instead of being appended twice,
//! and a sequence gap is refused with OUT_OF_ORDER_SEQUENCE.
//!
//! A producer this replica has no state for must start at sequence 0; any other first
//! sequence is refused with UNKNOWN_PRODUCER_ID, as Kafka's `ProducerStateManager`
//! (`checkSequence`, 1.0 to 2.4) answers: "found no record of producerId on the broker".
//! That answer is what lets a KIP-360 producer tell "this leader lost my state" (a
//! power loss wiped the log, retention deleted it) from a gap in its own sequences
//! (OUT_OF_ORDER_SEQUENCE), and recover by bumping its epoch (`client::producer`). A
//! higher epoch starting at sequence 0 is accepted; an older epoch is fenced. (Brokers
//! since 2.5 accept any first sequence from an unknown idempotent producer instead; the
//! older answer is kept here because it is the one the KIP-360 client logic reasons
//! about, and it never appends across a gap.)
//!
//! Leaders and followers both keep it, from every batch they append, and rebuild it
//! from the log after loading or truncating; so it survives leader changes.

use crate::protocol::{Offset, ProducerId, RecordBatch, NO_PRODUCER_ID};
use std::collections::{BTreeMap, VecDeque};

/// How many batches per producer are remembered (Kafka's limit, which is why
/// `max.in.flight.requests.per.connection` may be at most 5 with idempotence).
pub const CACHED_BATCHES_PER_PRODUCER: usize = 5;

/// What a leader must do with an incoming idempotent batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequenceCheck {
    /// Not idempotent, or the next batch in sequence: append it.
    Append,
    /// Already appended at this offset: answer with it, append nothing.
    Duplicate {
        /// The offset the batch was first appended at.
        base_offset: Offset,
    },
    /// A gap: an earlier batch of this producer is missing.
    OutOfOrder,
    /// No state for this producer and a first sequence other than 0: this replica's log
    /// holds no batch of the producer (lost, truncated or deleted), so it cannot tell
    /// whether the batches before this one were ever appended (UNKNOWN_PRODUCER_ID).
    UnknownProducer,
    /// The producer's epoch is older than one already seen (a zombie producer).
    StaleEpoch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct CachedBatch {
    first_sequence: i32,
    last_sequence: i32,
    base_offset: Offset,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<CachedBatch>,
}

/// The idempotent producers of one replica.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerState {
    producers: BTreeMap<ProducerId, ProducerEntry>,
}

fn last_sequence(batch: &RecordBatch) -> i32 {
    batch.base_sequence.wrapping_add(batch.records.len() as i32 - 1)
}

impl ProducerState {
    /// Rebuilds the state from a log's batches, in order.
    pub fn rebuild<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Self {
        let mut state = ProducerState::default();
        for batch in batches {
            state.record(batch);
        }
        state
    }

    /// Decides what to do with a batch before a leader appends it (Kafka's
    /// `ProducerAppendInfo.checkSequence`).
    pub fn check(&self, batch: &RecordBatch) -> SequenceCheck {
        if batch.producer_id == NO_PRODUCER_ID {
            return SequenceCheck::Append;
        }
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            // An unknown producer must start at sequence 0.
            return if batch.base_sequence == 0 { SequenceCheck::Append } else { SequenceCheck::UnknownProducer };
        };
        if batch.producer_epoch < entry.epoch {
            return SequenceCheck::StaleEpoch;
        }
        if batch.producer_epoch > entry.epoch {
            return if batch.base_sequence == 0 { SequenceCheck::Append } else { SequenceCheck::OutOfOrder };
        }
        let last = last_sequence(batch);
        if let Some(cached) =
            entry.batches.iter().find(|c| c.first_sequence == batch.base_sequence && c.last_sequence == last)
        {
            return SequenceCheck::Duplicate { base_offset: cached.base_offset };
        }
        let expected = entry.batches.back().map_or(0, |c| c.last_sequence.wrapping_add(1));
        if batch.base_sequence == expected {
            SequenceCheck::Append
        } else {
            SequenceCheck::OutOfOrder
        }
    }

    /// Whether any batch of `producer_id` is remembered.
    pub fn knows(&self, producer_id: ProducerId) -> bool {
        self.producers.contains_key(&producer_id)
    }

    /// Remembers an appended batch (leader or follower).
    pub fn record(&mut self, batch: &RecordBatch) {
        if batch.producer_id == NO_PRODUCER_ID || batch.records.is_empty() {
            return;
        }
        let entry = self
            .producers
            .entry(batch.producer_id)
            .or_insert_with(|| ProducerEntry { epoch: batch.producer_epoch, batches: VecDeque::new() });
        if batch.producer_epoch > entry.epoch {
            entry.epoch = batch.producer_epoch;
            entry.batches.clear();
        }
        entry.batches.push_back(CachedBatch {
            first_sequence: batch.base_sequence,
            last_sequence: last_sequence(batch),
            base_offset: batch.base_offset,
        });
        while entry.batches.len() > CACHED_BATCHES_PER_PRODUCER {
            entry.batches.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Record;

    fn batch(
        producer_id: ProducerId,
        epoch: i16,
        base_sequence: i32,
        count: usize,
        base_offset: Offset,
    ) -> RecordBatch {
        let mut batch =
            RecordBatch::plain((0..count).map(|i| Record { key: None, value: i as u64, timestamp_ms: 0 }).collect());
        batch.producer_id = producer_id;
        batch.producer_epoch = epoch;
        batch.base_sequence = base_sequence;
        batch.base_offset = base_offset;
        batch
    }

    #[test]
    fn a_retried_batch_is_a_duplicate_with_its_original_offset() {
        let mut state = ProducerState::default();
        let first = batch(7, 0, 0, 3, 10);
        assert_eq!(state.check(&first), SequenceCheck::Append);
        state.record(&first);
        assert_eq!(state.check(&batch(7, 0, 0, 3, 99)), SequenceCheck::Duplicate { base_offset: 10 });
        assert_eq!(state.check(&batch(7, 0, 3, 2, 13)), SequenceCheck::Append);
    }

    #[test]
    fn a_gap_is_out_of_order_and_an_unknown_producer_must_start_at_zero() {
        let mut state = ProducerState::default();
        assert_eq!(state.check(&batch(7, 0, 5, 1, 0)), SequenceCheck::UnknownProducer);
        assert_eq!(state.check(&batch(7, 0, 0, 1, 0)), SequenceCheck::Append);
        state.record(&batch(7, 0, 0, 2, 0));
        assert_eq!(state.check(&batch(7, 0, 3, 1, 2)), SequenceCheck::OutOfOrder);
        assert_eq!(state.check(&batch(NO_PRODUCER_ID, -1, -1, 1, 2)), SequenceCheck::Append);
    }

    #[test]
    fn epochs_fence_zombies_and_a_new_epoch_restarts_sequences() {
        let mut state = ProducerState::default();
        state.record(&batch(7, 1, 0, 2, 0));
        assert_eq!(state.check(&batch(7, 0, 2, 1, 2)), SequenceCheck::StaleEpoch);
        assert_eq!(state.check(&batch(7, 2, 0, 1, 2)), SequenceCheck::Append);
        assert_eq!(state.check(&batch(7, 2, 4, 1, 2)), SequenceCheck::OutOfOrder);
    }

    #[test]
    fn a_producer_whose_state_was_lost_is_unknown_until_it_bumps_its_epoch() {
        // The replica knew producer 7 up to sequence 9, then lost its log (power loss).
        let state = ProducerState::rebuild(std::iter::empty());
        assert!(!state.knows(7));
        // The producer's next batch continues its sequence: refused as unknown, not as a gap.
        assert_eq!(state.check(&batch(7, 0, 10, 2, 0)), SequenceCheck::UnknownProducer);
        // The KIP-360 answer: the same batch under a bumped epoch from sequence 0.
        let mut state = state;
        let bumped = batch(7, 1, 0, 2, 0);
        assert_eq!(state.check(&bumped), SequenceCheck::Append);
        state.record(&bumped);
        // From then on the old epoch is fenced and the new one continues in sequence.
        assert_eq!(state.check(&batch(7, 0, 12, 1, 2)), SequenceCheck::StaleEpoch);
        assert_eq!(state.check(&batch(7, 1, 2, 1, 2)), SequenceCheck::Append);
        assert_eq!(state.check(&batch(7, 1, 0, 2, 9)), SequenceCheck::Duplicate { base_offset: 0 });
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_state_rebuilds_from_the_log() {
        let batches: Vec<RecordBatch> = (0..7).map(|i| batch(7, 0, i, 1, i as Offset)).collect();
        let state = ProducerState::rebuild(&batches);
        assert_eq!(state.check(&batches[6]), SequenceCheck::Duplicate { base_offset: 6 });
        assert_eq!(state.check(&batches[2]), SequenceCheck::Duplicate { base_offset: 2 });
        // Batch 1 has left the cache: a retry of it can no longer be recognised.
        assert_eq!(state.check(&batches[1]), SequenceCheck::OutOfOrder);
    }
}
