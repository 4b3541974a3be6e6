//! The idempotent producer's state, with one owner ([`Idempotence`]), after Kafka's
//! `TransactionManager` (idempotent part, Kafka 2.5+ with KIP-360): the producer id and
//! epoch, and per partition which producer id and epoch its sequences belong to, the
//! next sequence, the last acknowledged one, and what an UNKNOWN_PRODUCER_ID answer
//! means.
//!
//! It knows nothing of batches or queues: the producer's `State` asks it for a batch's
//! sequence when the batch is first drained, reports acknowledged batches, and passes
//! along what only the accumulator knows (whether a partition's earlier batches are
//! still unresolved).
//!
//! UNKNOWN_PRODUCER_ID means the leader's log holds no batch of ours (a power loss wiped
//! it, or retention deleted it). Whether that is safe to recover from depends on the
//! refused batch (`TransactionManager.canRetry` / `isNextSequence`):
//!
//! - its sequence follows the last acknowledged one: nothing of ours lies between the
//!   acknowledged records and this batch, so the state was simply lost. The producer
//!   bumps its epoch and restarts that partition's sequences at 0, in order
//!   (`requestEpochBumpForPartition`, `startSequencesAtBeginning`); the leader accepts a
//!   higher epoch from sequence 0, and the batch is retried: no failure, no duplicate.
//! - the batch was sequenced under an epoch the partition has since left (the bump
//!   above already re-sequenced the partition): it is re-sequenced and retried
//!   (`sequenceHasBeenReset`); the refusal proves this attempt was not appended.
//! - an earlier batch of the partition is still unresolved (in flight or queued): the
//!   gap may yet close, so the batch waits and retries behind it, as for
//!   OUT_OF_ORDER_SEQUENCE.
//! - otherwise the batches between the last acknowledged one and this one have unknown
//!   outcomes and the producer cannot know what the log should hold: the batch fails
//!   and the producer id is reset, failing every batch whose outcome is unknown
//!   (`State::reset_producer_id`). Kafka's idempotent producer bumps the epoch for
//!   every UNKNOWN_PRODUCER_ID; this model keeps the conservative answer where an
//!   earlier outcome is unknown.
//!
//! Like Kafka, the recovery trusts the answering leader's log: a batch appended only
//! on a replica that later leads again without truncating it (leadership flapping
//! before a follower reconciles) would be appended a second time under the new epoch.
//! The checkers report that as `duplicate`, so a sweep would find it.

use crate::protocol::{ProducerIdAndEpoch, TopicPartition};
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

/// What an idempotent batch carries once first sent (Kafka's `ProducerBatch` producer id,
/// epoch and base sequence): kept across retries, given anew only when its partition's
/// sequences restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct BatchSequence {
    /// The producer id and epoch the batch was sequenced under.
    pub producer: ProducerIdAndEpoch,
    /// The sequence of the batch's first record.
    pub base: Sequence,
}

impl BatchSequence {
    /// The sequence of the last of the batch's `record_count` records.
    pub fn last(self, record_count: usize) -> Sequence {
        self.base.offset_by(record_count as i32 - 1)
    }
}

/// One partition's sequences under one producer id and epoch (Kafka's
/// `TopicPartitionEntry`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct PartitionSequences {
    /// The producer id and epoch the sequences belong to.
    producer: ProducerIdAndEpoch,
    /// The first sequence of the next batch.
    next: Sequence,
    /// The last sequence of the highest acknowledged batch, if any.
    last_acked: Option<Sequence>,
}

impl PartitionSequences {
    fn fresh(producer: ProducerIdAndEpoch) -> Self {
        PartitionSequences { producer, next: Sequence::FIRST, last_acked: None }
    }
}

/// What bumping the producer epoch did (see [`Idempotence::bump_epoch`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EpochBump {
    /// The epoch went up by one and the partition's sequences restart at 0.
    Bumped,
    /// The epoch is at its maximum: the producer must reset its id instead.
    Exhausted,
    /// There is no producer id to bump.
    NoProducerId,
}

/// What to do with a batch the leader refused with UNKNOWN_PRODUCER_ID (see the module
/// docs), in the order the cases are tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UnknownProducerRecovery {
    /// The batch was sequenced under sequences its partition has since left: the refusal
    /// proves this attempt is not in the log, so it is re-sequenced and retried
    /// (`TransactionManager.sequenceHasBeenReset`).
    Resequence,
    /// The batch follows the last acknowledged one: bump the epoch, restart the
    /// partition's sequences at 0 and retry the batch re-sequenced
    /// (`TransactionManager.isNextSequence`, `requestEpochBumpForPartition`).
    BumpEpoch,
    /// An earlier batch of the partition may still resolve and close the gap: retry
    /// behind it.
    RetryBehindEarlier,
    /// The outcome of the batches before it is unknown: fail it (unknown outcome), which
    /// resets the producer id.
    Fail,
}

/// The idempotent producer's id and epoch and its per-partition sequences.
#[derive(Default)]
pub(super) struct Idempotence {
    /// The producer id and epoch, once InitProducerId answered; the epoch is bumped
    /// locally when a leader lost our state (KIP-360).
    producer: Option<ProducerIdAndEpoch>,
    /// The sequences per partition.
    partitions: BTreeMap<TopicPartition, PartitionSequences>,
}

impl Idempotence {
    /// The current producer id and epoch, if any.
    pub fn producer(&self) -> Option<ProducerIdAndEpoch> {
        self.producer
    }

    /// Takes the producer id and epoch InitProducerId answered.
    pub fn start(&mut self, producer: ProducerIdAndEpoch) {
        self.producer = Some(producer);
    }

    /// Forgets the producer id and every partition's sequences: the next batches start
    /// new sequences under a new id.
    pub fn reset(&mut self) {
        self.producer = None;
        self.partitions.clear();
    }

    /// The sequence for a batch of `record_count` records about to be sent to `tp` for
    /// the first time, or `None` if the batch must wait: the partition's sequences belong
    /// to an older producer id or epoch and `old_batches_unresolved` says batches
    /// sequenced under it are still in flight or queued. Kafka's drain does not start a
    /// new epoch at sequence 0 while such batches are in flight, or they would land out
    /// of sequence (`RecordAccumulator.shouldStopDrainBatchesForPartition`).
    pub fn next_sequence(
        &mut self,
        tp: &TopicPartition,
        record_count: usize,
        old_batches_unresolved: impl FnOnce() -> bool,
    ) -> Option<BatchSequence> {
        let current = self.producer?;
        if self.partitions.get(tp).is_none_or(|s| s.producer != current) {
            if old_batches_unresolved() {
                return None;
            }
            self.partitions.insert(tp.clone(), PartitionSequences::fresh(current));
        }
        let entry = self.partitions.get_mut(tp).expect("ensured above");
        let sequence = BatchSequence { producer: current, base: entry.next };
        entry.next = entry.next.offset_by(record_count as i32);
        Some(sequence)
    }

    /// Whether a batch sequenced as `sequence` belongs to sequences its partition has
    /// since left (an epoch bump re-sequenced the partition, or the producer id was reset).
    pub fn is_stale(&self, tp: &TopicPartition, sequence: Option<BatchSequence>) -> bool {
        match sequence {
            Some(sequence) => self.partitions.get(tp).is_none_or(|s| s.producer != sequence.producer),
            None => false,
        }
    }

    /// Records an acknowledged batch (`TransactionManager.handleCompletedBatch`): the last
    /// acknowledged sequence only moves forward, and only for the partition's current
    /// sequences.
    pub fn acknowledged(&mut self, tp: &TopicPartition, sequence: Option<BatchSequence>, record_count: usize) {
        let Some(sequence) = sequence else { return };
        let Some(entry) = self.partitions.get_mut(tp).filter(|s| s.producer == sequence.producer) else { return };
        let last = sequence.last(record_count);
        if entry.last_acked.is_none_or(|acked| last > acked) {
            entry.last_acked = Some(last);
        }
    }

    /// Whether the batch is the next one after the last acknowledged batch of its
    /// partition (`TransactionManager.isNextSequence`): nothing of ours can lie between
    /// them.
    pub fn is_next_sequence(&self, tp: &TopicPartition, sequence: Option<BatchSequence>) -> bool {
        let Some(sequence) = sequence else { return false };
        match self.partitions.get(tp) {
            Some(entry) if entry.producer == sequence.producer => {
                sequence.base == entry.last_acked.map_or(Sequence::FIRST, |acked| acked.offset_by(1))
            }
            _ => false,
        }
    }

    /// What an UNKNOWN_PRODUCER_ID answer to a batch sequenced as `sequence` calls for
    /// (see the module docs). `earlier_unresolved` says whether an earlier batch of the
    /// partition may still resolve; it is asked only when the answer depends on it.
    pub fn unknown_producer_id(
        &self,
        tp: &TopicPartition,
        sequence: Option<BatchSequence>,
        earlier_unresolved: impl FnOnce() -> bool,
    ) -> UnknownProducerRecovery {
        if self.is_stale(tp, sequence) {
            UnknownProducerRecovery::Resequence
        } else if self.is_next_sequence(tp, sequence) {
            UnknownProducerRecovery::BumpEpoch
        } else if earlier_unresolved() {
            UnknownProducerRecovery::RetryBehindEarlier
        } else {
            UnknownProducerRecovery::Fail
        }
    }

    /// Bumps the producer epoch for `tp` (`TransactionManager.requestEpochBumpForPartition`
    /// followed by `bumpIdempotentProducerEpoch`): the partition's sequences restart at 0
    /// under the new epoch; the caller takes the sequences off its queued batches so they
    /// get new ones, in order, when next sent. Other partitions move to the new epoch once
    /// their own batches in flight resolve (see [`Idempotence::next_sequence`]). An
    /// exhausted epoch is left alone: the caller resets the producer id, as Kafka does.
    pub fn bump_epoch(&mut self, tp: &TopicPartition) -> EpochBump {
        let Some(producer) = self.producer else { return EpochBump::NoProducerId };
        if producer.epoch == i16::MAX {
            return EpochBump::Exhausted;
        }
        self.producer = Some(ProducerIdAndEpoch { epoch: producer.epoch + 1, ..producer });
        self.partitions.remove(tp);
        EpochBump::Bumped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Producer id 7 at `epoch`.
    fn producer_7(epoch: i16) -> ProducerIdAndEpoch {
        ProducerIdAndEpoch { id: 7, epoch }
    }

    /// Producer id 7's sequence `base` at `epoch`.
    fn at(epoch: i16, base: i32) -> BatchSequence {
        BatchSequence { producer: producer_7(epoch), base: Sequence(base) }
    }

    fn tp(n: u32) -> TopicPartition {
        TopicPartition::new("orders", n)
    }

    /// Idempotence state of producer 7 at epoch 0.
    fn started() -> Idempotence {
        let mut idempotence = Idempotence::default();
        idempotence.start(producer_7(0));
        idempotence
    }

    #[test]
    fn sequences_count_records_per_partition_and_need_a_producer_id() {
        let mut idempotence = Idempotence::default();
        assert_eq!(idempotence.next_sequence(&tp(0), 1, || false), None, "no producer id yet");
        idempotence.start(producer_7(0));
        assert_eq!(idempotence.next_sequence(&tp(0), 3, || false), Some(at(0, 0)));
        assert_eq!(idempotence.next_sequence(&tp(0), 2, || false), Some(at(0, 3)));
        assert_eq!(idempotence.next_sequence(&tp(1), 1, || false), Some(at(0, 0)), "each partition its own");
        assert_eq!(at(0, 3).last(2), Sequence(4));
    }

    #[test]
    fn a_partition_moves_to_a_new_epoch_from_zero_once_its_old_batches_resolved() {
        let mut idempotence = started();
        let old = idempotence.next_sequence(&tp(0), 1, || false);
        assert_eq!(idempotence.bump_epoch(&tp(1)), EpochBump::Bumped);
        assert_eq!(idempotence.producer(), Some(producer_7(1)));
        assert!(!idempotence.is_stale(&tp(0), old), "partition 0 keeps epoch 0 until it moves");
        assert_eq!(idempotence.next_sequence(&tp(0), 1, || true), None, "epoch 0's batch is unresolved");
        assert_eq!(idempotence.next_sequence(&tp(0), 1, || false), Some(at(1, 0)));
        assert!(idempotence.is_stale(&tp(0), old), "partition 0 left epoch 0");
        assert!(!idempotence.is_stale(&tp(0), None), "an unsequenced batch is never stale");
    }

    #[test]
    fn the_last_acknowledged_sequence_only_moves_forward_within_the_current_sequences() {
        let mut idempotence = started();
        let batches: Vec<BatchSequence> =
            (0..3).map(|_| idempotence.next_sequence(&tp(0), 2, || false).expect("sequenced")).collect();
        assert!(idempotence.is_next_sequence(&tp(0), Some(batches[0])), "nothing acknowledged: 0 is next");
        idempotence.acknowledged(&tp(0), Some(batches[1]), 2);
        idempotence.acknowledged(&tp(0), Some(batches[0]), 2);
        assert!(idempotence.is_next_sequence(&tp(0), Some(batches[2])), "sequences 0..=3 acknowledged");
        // An answer for epoch 0 after the partition moved to epoch 1 changes nothing.
        idempotence.bump_epoch(&tp(0));
        let fresh = idempotence.next_sequence(&tp(0), 1, || false);
        idempotence.acknowledged(&tp(0), Some(batches[2]), 2);
        assert!(idempotence.is_next_sequence(&tp(0), fresh));
        assert!(!idempotence.is_next_sequence(&tp(0), Some(batches[2])));
    }

    #[test]
    fn unknown_producer_id_is_recovered_only_where_nothing_unknown_lies_before_the_batch() {
        let mut idempotence = started();
        let first = idempotence.next_sequence(&tp(0), 1, || false);
        let second = idempotence.next_sequence(&tp(0), 1, || false);
        let decide = |idempotence: &Idempotence, sequence, earlier_unresolved: bool| {
            idempotence.unknown_producer_id(&tp(0), sequence, || earlier_unresolved)
        };
        assert_eq!(decide(&idempotence, first, true), UnknownProducerRecovery::BumpEpoch, "the next sequence");
        assert_eq!(decide(&idempotence, second, true), UnknownProducerRecovery::RetryBehindEarlier);
        assert_eq!(decide(&idempotence, second, false), UnknownProducerRecovery::Fail);
        assert_eq!(idempotence.bump_epoch(&tp(0)), EpochBump::Bumped);
        assert_eq!(decide(&idempotence, second, false), UnknownProducerRecovery::Resequence, "sequences left");
    }

    #[test]
    fn an_exhausted_epoch_is_not_bumped() {
        let mut idempotence = Idempotence::default();
        assert_eq!(idempotence.bump_epoch(&tp(0)), EpochBump::NoProducerId);
        idempotence.start(ProducerIdAndEpoch { id: 7, epoch: i16::MAX });
        let sequence = idempotence.next_sequence(&tp(0), 1, || false);
        assert_eq!(idempotence.bump_epoch(&tp(0)), EpochBump::Exhausted);
        assert_eq!(idempotence.producer(), Some(ProducerIdAndEpoch { id: 7, epoch: i16::MAX }));
        assert!(!idempotence.is_stale(&tp(0), sequence), "the partition's sequences are untouched");
    }
}
