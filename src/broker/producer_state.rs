//! Idempotent producer state of one partition replica (Kafka's `ProducerStateManager`):
//! for each producer id, its epoch and the metadata of its last five batches, so that a
//! retried batch is answered with its original offset instead of being appended twice,
//! and a sequence gap is refused with OUT_OF_ORDER_SEQUENCE.
//!
//! The checks follow `ProducerAppendInfo.checkProducerEpoch` and `checkSequence`, after
//! the duplicate lookup (`ProducerStateEntry.findDuplicateBatch`): an epoch older than
//! the one seen is fenced; a known producer's new epoch must start at sequence 0; within
//! an epoch the batch must follow the last one. What a replica answers a producer it has
//! no state for (its log never had, or no longer has, a batch of it: a power loss wiped
//! the log, an unclean election made a replica that never saw it leader, a truncation
//! removed its batches) changed across releases, and is the broker's
//! [`UnknownProducerSequence`] setting.
//!
//! Leaders and followers both keep it, from every batch they append, and rebuild it
//! from the log after loading or truncating; so it survives leader changes.

use crate::protocol::{Offset, ProducerId, RecordBatch, UnknownProducerSequence, NO_PRODUCER_ID};
use std::collections::{BTreeMap, VecDeque};

/// The sequence of a batch written without one (Kafka's `RecordBatch.NO_SEQUENCE`): a
/// group coordinator's TxnOffsetCommit batch.
const NO_SEQUENCE: i32 = -1;

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
    /// No state for this producer and a first sequence other than 0, refused with
    /// UNKNOWN_PRODUCER_ID (Kafka 1.0 to 2.4, see [`UnknownProducerSequence`]): this
    /// replica's log holds no batch of the producer, so it cannot tell whether the
    /// batches before this one were ever appended.
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
    /// `ProducerAppendInfo.checkProducerEpoch` and `checkSequence`); `unknown` is what
    /// the release answers a producer without state (see [`UnknownProducerSequence`]).
    pub fn check(&self, batch: &RecordBatch, unknown: UnknownProducerSequence) -> SequenceCheck {
        if batch.producer_id == NO_PRODUCER_ID {
            return SequenceCheck::Append;
        }
        if batch.base_sequence == NO_SEQUENCE {
            // A group coordinator's TxnOffsetCommit batch (`AppendOrigin.COORDINATOR`):
            // Kafka checks its epoch but not its sequence (`maybeValidateDataBatch`
            // checks sequences of client batches only).
            return match self.producers.get(&batch.producer_id) {
                Some(entry) if batch.producer_epoch < entry.epoch => SequenceCheck::StaleEpoch,
                _ => SequenceCheck::Append,
            };
        }
        let Some(entry) = self.producers.get(&batch.producer_id) else {
            return match unknown {
                _ if batch.base_sequence == 0 => SequenceCheck::Append,
                UnknownProducerSequence::OutOfOrder => SequenceCheck::OutOfOrder,
                UnknownProducerSequence::UnknownProducerId => SequenceCheck::UnknownProducer,
                UnknownProducerSequence::Accept => SequenceCheck::Append,
            };
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
        if batch.control.is_some() || batch.base_sequence == NO_SEQUENCE {
            // A coordinator's batch without sequence (see `check`) only moves the epoch.
            // A transaction marker carries no sequence: it only moves the epoch
            // (`ProducerAppendInfo.appendEndTxnMarker`), so a marker written after a
            // coordinator fenced the producer fences its older epoch here too.
            return;
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
            RecordBatch::plain((0..count).map(|i| Record::new(None, i as u64, 0)).collect());
        batch.producer_id = producer_id;
        batch.producer_epoch = epoch;
        batch.base_sequence = base_sequence;
        batch.base_offset = base_offset;
        batch
    }

    /// The newest rule, Kafka's default.
    const NEWEST: UnknownProducerSequence = UnknownProducerSequence::Accept;
    /// Kafka 1.0 to 2.4.
    const KAFKA_2_4: UnknownProducerSequence = UnknownProducerSequence::UnknownProducerId;

    #[test]
    fn a_retried_batch_is_a_duplicate_with_its_original_offset() {
        let mut state = ProducerState::default();
        let first = batch(7, 0, 0, 3, 10);
        assert_eq!(state.check(&first, NEWEST), SequenceCheck::Append);
        state.record(&first);
        assert_eq!(state.check(&batch(7, 0, 0, 3, 99), NEWEST), SequenceCheck::Duplicate { base_offset: 10 });
        assert_eq!(state.check(&batch(7, 0, 3, 2, 13), NEWEST), SequenceCheck::Append);
    }

    #[test]
    fn a_coordinators_batches_without_sequence_are_checked_for_epoch_only() {
        // TxnOffsetCommit batches (`AppendOrigin.COORDINATOR`) carry NO_SEQUENCE.
        let mut state = ProducerState::default();
        for rule in [UnknownProducerSequence::OutOfOrder, KAFKA_2_4, NEWEST] {
            assert_eq!(state.check(&batch(7, 1, NO_SEQUENCE, 2, 0), rule), SequenceCheck::Append);
        }
        state.record(&batch(7, 1, NO_SEQUENCE, 2, 0));
        assert_eq!(state.check(&batch(7, 1, NO_SEQUENCE, 2, 2), NEWEST), SequenceCheck::Append);
        assert_eq!(state.check(&batch(7, 0, NO_SEQUENCE, 2, 2), NEWEST), SequenceCheck::StaleEpoch);
    }

    #[test]
    fn a_gap_of_a_known_producer_is_out_of_order_in_every_release() {
        let mut state = ProducerState::default();
        state.record(&batch(7, 0, 0, 2, 0));
        for rule in [UnknownProducerSequence::OutOfOrder, KAFKA_2_4, NEWEST] {
            assert_eq!(state.check(&batch(7, 0, 3, 1, 2), rule), SequenceCheck::OutOfOrder);
            assert_eq!(state.check(&batch(7, 0, 2, 1, 2), rule), SequenceCheck::Append);
            assert_eq!(state.check(&batch(NO_PRODUCER_ID, -1, -1, 1, 2), rule), SequenceCheck::Append);
        }
    }

    #[test]
    fn an_unknown_producer_is_refused_or_accepted_past_sequence_zero_as_its_release_did() {
        let state = ProducerState::default();
        let past_zero = batch(7, 0, 5, 1, 0);
        assert_eq!(state.check(&past_zero, UnknownProducerSequence::OutOfOrder), SequenceCheck::OutOfOrder);
        assert_eq!(state.check(&past_zero, KAFKA_2_4), SequenceCheck::UnknownProducer);
        assert_eq!(state.check(&past_zero, NEWEST), SequenceCheck::Append, "KIP-360: any first sequence");
        for rule in [UnknownProducerSequence::OutOfOrder, KAFKA_2_4, NEWEST] {
            assert_eq!(state.check(&batch(7, 0, 0, 1, 0), rule), SequenceCheck::Append, "sequence 0: {rule:?}");
        }
    }

    #[test]
    fn epochs_fence_zombies_and_a_new_epoch_restarts_sequences() {
        let mut state = ProducerState::default();
        state.record(&batch(7, 1, 0, 2, 0));
        assert_eq!(state.check(&batch(7, 0, 2, 1, 2), NEWEST), SequenceCheck::StaleEpoch);
        assert_eq!(state.check(&batch(7, 2, 0, 1, 2), NEWEST), SequenceCheck::Append);
        assert_eq!(state.check(&batch(7, 2, 4, 1, 2), NEWEST), SequenceCheck::OutOfOrder);
    }

    #[test]
    fn a_producer_whose_state_was_lost_is_unknown_to_a_2_4_broker_until_it_restarts_at_zero() {
        // The replica knew producer 7 up to sequence 9, then lost its log (power loss).
        let state = ProducerState::rebuild(std::iter::empty());
        assert!(!state.knows(7));
        // The producer's next batch continues its sequence: refused as unknown, not as a gap.
        assert_eq!(state.check(&batch(7, 0, 10, 2, 0), KAFKA_2_4), SequenceCheck::UnknownProducer);
        // A bumped epoch (KIP-360) or restarted sequences (Kafka 1.0's client) from 0.
        let mut state = state;
        let bumped = batch(7, 1, 0, 2, 0);
        assert_eq!(state.check(&bumped, KAFKA_2_4), SequenceCheck::Append);
        state.record(&bumped);
        // From then on the old epoch is fenced and the new one continues in sequence.
        assert_eq!(state.check(&batch(7, 0, 12, 1, 2), KAFKA_2_4), SequenceCheck::StaleEpoch);
        assert_eq!(state.check(&batch(7, 1, 2, 1, 2), KAFKA_2_4), SequenceCheck::Append);
        assert_eq!(state.check(&batch(7, 1, 0, 2, 9), KAFKA_2_4), SequenceCheck::Duplicate { base_offset: 0 });
    }

    #[test]
    fn only_the_last_five_batches_are_remembered_and_state_rebuilds_from_the_log() {
        let batches: Vec<RecordBatch> = (0..7).map(|i| batch(7, 0, i, 1, i as Offset)).collect();
        let state = ProducerState::rebuild(&batches);
        assert_eq!(state.check(&batches[6], NEWEST), SequenceCheck::Duplicate { base_offset: 6 });
        assert_eq!(state.check(&batches[2], NEWEST), SequenceCheck::Duplicate { base_offset: 2 });
        // Batch 1 has left the cache: a retry of it can no longer be recognised.
        assert_eq!(state.check(&batches[1], NEWEST), SequenceCheck::OutOfOrder);
    }
}
