//! The idempotent producer's state, with one owner ([`Idempotence`]), after the
//! idempotent part of Kafka's `TransactionManager`: the producer id and epoch, each
//! partition's sequences (see `sequences`), and what the producer does when a leader
//! refuses a sequence or a batch fails for good.
//!
//! It knows nothing of queues: the producer's `State` shows it each batch as a
//! [`BatchRef`] when the drain takes it, when its answer comes and when it expires.
//!
//! Two releases' rules, chosen by `ProducerConfig::idempotent_epoch_bump`:
//!
//! - Kafka 2.5 and later (KIP-360, KAFKA-8805), the default. OUT_OF_ORDER_SEQUENCE for
//!   the batch that follows the last acknowledged one means the leader lost records of
//!   ours (an unclean election, a truncation): the producer bumps its epoch, restarts the
//!   partition's sequences at 0, rewriting its in-flight batches in order, and retries.
//!   UNKNOWN_PRODUCER_ID always retries with a bump. A batch that fails for good while
//!   retries remain, or expired in a retry leaving a gap once the partition has nothing
//!   in flight, bumps the epoch too. Other partitions move to the new epoch once their
//!   own in-flight batches completed (KAFKA-12152). Only an exhausted epoch resets the
//!   producer id.
//! - Kafka 1.0 to 2.4 (KAFKA-5793). OUT_OF_ORDER_SEQUENCE for the next batch, and
//!   UNKNOWN_PRODUCER_ID unless the leader's log start passed our last acknowledged
//!   offset (retention deleted our records: the sequences restart at 0 under the same
//!   epoch), fail the batch with an OutOfOrderSequenceException and reset the producer
//!   id: a new InitProducerId, every partition's sequences forgotten. Batches sequenced
//!   under the old id keep it: a retry of one is failed ("the producer id changed"), a
//!   queued one is still sent with it. A batch that fails for good otherwise closes its
//!   gap by shifting the later sequences down; an expired retry that leaves a gap
//!   resets the producer id.
//!
//! In both, a retried batch goes out only when it is its partition's first batch in
//! flight (by sequence), and new batches wait while an expired retry's outcome is
//! unresolved (`RecordAccumulator.shouldStopDrainBatchesForPartition`).
//!
//! Like Kafka, the recovery trusts the answering leader's log: a rewritten batch whose
//! earlier attempt some replica did append is appended again under the new epoch if that
//! replica leads again; the checkers report it as `duplicate`.

use super::sequences::{BatchId, BatchSequence, PartitionSequences, Sequence, TrackedBatch};
use crate::protocol::{ErrorCode, Offset, ProducerIdAndEpoch, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// A batch as the idempotence state sees it.
#[derive(Clone, Copy, Debug)]
pub(super) struct BatchRef<'a> {
    /// Its partition.
    pub tp: &'a TopicPartition,
    /// Its identity.
    pub id: BatchId,
    /// What its last attempt carried, if it was sent.
    pub sent: Option<BatchSequence>,
    /// How many records it holds.
    pub records: usize,
}

/// How a batch failed for good, as `TransactionManager.handleFailedBatch` tells them apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Failure {
    /// An OutOfOrderSequenceException (OUT_OF_ORDER_SEQUENCE, or UNKNOWN_PRODUCER_ID,
    /// whose exception is one): the log has a gap.
    OutOfOrderSequence,
    /// Any other error, or the delivery timeout.
    Other,
}

/// The idempotent producer's id and epoch and its per-partition sequences.
pub(super) struct Idempotence {
    /// Kafka 2.5+ rules (epoch bumps, KIP-360) or Kafka 1.0 to 2.4 rules (producer id
    /// resets); see the module docs.
    epoch_bump: bool,
    /// The producer id and epoch, once InitProducerId answered.
    producer: Option<ProducerIdAndEpoch>,
    /// The sequences per partition.
    partitions: BTreeMap<TopicPartition, PartitionSequences>,
    /// The partitions where a batch expired in a retry, so its outcome is unknown until
    /// the partition's in-flight batches complete; with the sequence that follows the
    /// expired batch (`partitionsWithUnresolvedSequences`).
    unresolved: BTreeMap<TopicPartition, Sequence>,
    /// The partitions whose sequences restart at the next epoch bump
    /// (`partitionsToRewriteSequences`; a bump is due while any is listed).
    partitions_to_rewrite: BTreeSet<TopicPartition>,
}

impl Idempotence {
    /// No producer id yet; `epoch_bump` picks the release's rules (see the module docs).
    pub fn new(epoch_bump: bool) -> Self {
        Idempotence {
            epoch_bump,
            producer: None,
            partitions: BTreeMap::new(),
            unresolved: BTreeMap::new(),
            partitions_to_rewrite: BTreeSet::new(),
        }
    }

    /// The current producer id and epoch, if any.
    pub fn producer(&self) -> Option<ProducerIdAndEpoch> {
        self.producer
    }

    /// Takes the producer id and epoch InitProducerId answered.
    pub fn start(&mut self, producer: ProducerIdAndEpoch) {
        self.producer = Some(producer);
    }

    /// Takes a new producer id or epoch from the transaction coordinator: every
    /// partition's sequences start again at 0 (a transactional producer's
    /// `initTransactions`, and its re-initialisation after an abort).
    pub fn restart(&mut self, producer: ProducerIdAndEpoch) {
        if self.producer != Some(producer) {
            self.reset_producer_id();
        }
        self.producer = Some(producer);
    }

    /// What the batch carries now: its tracked (possibly rewritten) sequence, else what
    /// it was last sent with.
    pub fn sequence_of(&self, batch: BatchRef) -> Option<BatchSequence> {
        self.tracked(batch).map(|t| t.sequence).or(batch.sent)
    }

    /// The sequence the drain sends `batch` with, or `None` if it must wait
    /// (`RecordAccumulator.shouldStopDrainBatchesForPartition`, then the sequence
    /// assignment of `drainBatchesForOneNode`):
    ///
    /// - nothing is sent without a producer id;
    /// - a batch without a sequence waits while its partition's outcome is unresolved,
    ///   and (2.5+) while batches of an older epoch are in flight: a new epoch must not
    ///   start at 0 ahead of them. Once they completed, the partition moves to the
    ///   current epoch from 0 (`maybeUpdateProducerIdAndEpoch`);
    /// - a batch with a sequence (a retry) goes only as the partition's first batch in
    ///   flight, and keeps its sequence: a new one could make a retry of an appended
    ///   batch a duplicate.
    pub fn sequence_for_drain(&mut self, batch: BatchRef) -> Option<BatchSequence> {
        let current = self.producer?;
        let entry = self.partitions.get(batch.tp);
        if let Some(carried) = self.sequence_of(batch) {
            if entry.and_then(PartitionSequences::first_in_flight).is_some_and(|first| first != carried.base) {
                return None;
            }
            if let Some(tracked) = self.tracked_mut(batch) {
                tracked.reset = false;
            }
            return Some(carried);
        }
        let in_flight = entry.is_some_and(|e| !e.in_flight.is_empty());
        let stale = entry.is_some_and(|e| e.producer != current);
        if (self.epoch_bump && in_flight && stale) || self.unresolved.contains_key(batch.tp) {
            return None;
        }
        let entry = self.partitions.entry(batch.tp.clone()).or_insert_with(|| PartitionSequences::fresh(current));
        if entry.producer != current {
            entry.start_at_beginning(current);
        }
        let sequence = BatchSequence { producer: current, base: entry.next };
        entry.next = entry.next.offset_by(batch.records as i32);
        entry.in_flight.insert(batch.id, TrackedBatch { sequence, records: batch.records, reset: false });
        Some(sequence)
    }

    /// Records an acknowledged batch, at `base_offset` when known
    /// (`TransactionManager.handleCompletedBatch`). Up to 2.4 an answer for a batch of
    /// an old producer id changes nothing.
    pub fn completed(&mut self, batch: BatchRef, base_offset: Option<Offset>) {
        let Some(sequence) = self.sequence_of(batch) else { return };
        if !self.epoch_bump && Some(sequence.producer) != self.producer {
            return;
        }
        let entry =
            self.partitions.entry(batch.tp.clone()).or_insert_with(|| PartitionSequences::fresh(sequence.producer));
        let last_offset = base_offset.map(|base| base + batch.records as Offset - 1);
        entry.acknowledged(sequence.last(batch.records), last_offset);
        entry.finish(batch.id);
    }

    /// Whether a batch the leader refused with `error` (`None`: the request failed as a
    /// whole) is retried, given that `retries` and `delivery.timeout.ms` allow it and
    /// whether the error is `retriable` (`Sender.canRetry` with
    /// `TransactionManager.canRetry`). May request an epoch bump (2.5+) or restart the
    /// partition's sequences (up to 2.4).
    pub fn can_retry(
        &mut self,
        batch: BatchRef,
        error: Option<ErrorCode>,
        log_start_offset: Option<Offset>,
        retriable: bool,
    ) -> bool {
        if !self.epoch_bump {
            // Kafka up to 2.4: `RetriableException || transactionManager.canRetry(...)`.
            return retriable || self.can_retry_2_4(batch, error, log_start_offset);
        }
        let reset = self.tracked(batch).is_some_and(|t| t.reset);
        match error {
            Some(ErrorCode::UnknownProducerId) => {
                // Unknown log start: retry until a leader tells it. A batch rewritten
                // since it was sent retries as it is. Otherwise, whether retention
                // deleted our records or the leader lost them: bump and retry.
                if log_start_offset.is_some() && !reset {
                    self.request_epoch_bump(batch.tp);
                }
                true
            }
            Some(ErrorCode::OutOfOrderSequence) => {
                let unresolved = self.unresolved.get(batch.tp).copied();
                let base = self.sequence_of(batch).map(|s| s.base);
                let next = base.is_some_and(|b| self.is_next_sequence(batch.tp, b));
                if unresolved.is_none() && (reset || !next) {
                    // Not the next batch: an earlier one may still close the gap.
                    return true;
                }
                // A real gap: the next batch, or the one after an unresolved expiry.
                if unresolved.is_none() || unresolved == base {
                    self.request_epoch_bump(batch.tp);
                }
                true
            }
            _ => retriable,
        }
    }

    /// `TransactionManager.canRetry` for a transactional producer (3.x): a sequence
    /// error of a batch that is not its partition's next one is retried (an earlier
    /// batch, being retried itself, may still close the gap); UNKNOWN_PRODUCER_ID is
    /// retried while the log start is unknown or once the batch's sequences restarted,
    /// and restarts the partition's sequences when retention removed its records. Any
    /// other sequence or epoch error fails the batch, and the transaction must abort:
    /// only the coordinator bumps a transactional producer's epoch.
    pub fn can_retry_transactional(
        &mut self,
        batch: BatchRef,
        error: Option<ErrorCode>,
        log_start_offset: Option<Offset>,
        retriable: bool,
    ) -> bool {
        let reset = self.tracked(batch).is_some_and(|t| t.reset);
        match error {
            Some(ErrorCode::UnknownProducerId) => {
                let Some(log_start) = log_start_offset else { return true };
                if reset {
                    return true;
                }
                let entry = self.partitions.get(batch.tp);
                let deleted = entry.and_then(|e| e.last_acked_offset).is_none_or(|acked| acked < log_start);
                if let (true, Some(producer)) = (deleted, self.producer) {
                    if let Some(entry) = self.partitions.get_mut(batch.tp) {
                        entry.start_at_beginning(producer);
                    }
                }
                deleted
            }
            Some(ErrorCode::OutOfOrderSequence) => {
                let base = self.sequence_of(batch).map(|s| s.base);
                let next = base.is_some_and(|b| self.is_next_sequence(batch.tp, b));
                !self.unresolved.contains_key(batch.tp) && (reset || !next)
            }
            _ => retriable,
        }
    }

    /// `TransactionManager.canRetry` up to 2.4, for the errors that are not retriable.
    fn can_retry_2_4(&mut self, batch: BatchRef, error: Option<ErrorCode>, log_start_offset: Option<Offset>) -> bool {
        let Some(sequence) = self.sequence_of(batch).filter(|s| Some(s.producer) == self.producer) else {
            return false;
        };
        let reset = self.tracked(batch).is_some_and(|t| t.reset);
        let entry = self.partitions.get(batch.tp);
        match error {
            Some(ErrorCode::OutOfOrderSequence) => {
                let next = self.is_next_sequence(batch.tp, sequence.base);
                !self.unresolved.contains_key(batch.tp) && (reset || !next)
            }
            Some(ErrorCode::UnknownProducerId) => {
                let Some(log_start) = log_start_offset else { return true };
                if reset {
                    return true;
                }
                let deleted = entry.and_then(|e| e.last_acked_offset).is_none_or(|acked| acked < log_start);
                if deleted {
                    // Retention deleted our records: restart at 0, same epoch.
                    if let Some(entry) = self.partitions.get_mut(batch.tp) {
                        entry.start_at_beginning(sequence.producer);
                    }
                }
                deleted
            }
            _ => false,
        }
    }

    /// Whether a retry must be dropped because the producer id changed since the batch
    /// was sequenced (Kafka up to 2.4, `Sender.completeBatch`: "Attempted to retry
    /// sending a batch but the producer id changed"); 2.5+ retries it.
    pub fn producer_id_changed(&self, batch: BatchRef) -> bool {
        !self.epoch_bump && self.sequence_of(batch).is_some_and(|s| Some(s.producer) != self.producer)
    }

    /// Records a batch that failed for good (`TransactionManager.handleFailedBatch`);
    /// `adjust` says whether its retries were not exhausted (then its sequence was
    /// definitely not taken). A batch of another producer id or epoch changes nothing.
    pub fn failed(&mut self, batch: BatchRef, failure: Failure, adjust: bool) {
        let matches = self.sequence_of(batch).is_some_and(|s| Some(s.producer) == self.producer);
        if self.epoch_bump {
            self.remove_in_flight(batch);
            if matches && (failure == Failure::OutOfOrderSequence || adjust) {
                self.request_epoch_bump(batch.tp);
            }
        } else if matches && failure == Failure::OutOfOrderSequence {
            self.reset_producer_id();
        } else if matches {
            let sequence = self.sequence_of(batch);
            self.remove_in_flight(batch);
            if let (true, Some(sequence), Some(entry)) = (adjust, sequence, self.partitions.get_mut(batch.tp)) {
                entry.close_gap(sequence.base, batch.records);
            }
        }
    }

    /// Records a batch that expired in the accumulator (`Sender.sendProducerData`:
    /// `failBatch` without adjusting sequences, then `markSequenceUnresolved` if it was
    /// in a retry, when whether an attempt was appended is unknown).
    pub fn expired(&mut self, batch: BatchRef, in_retry: bool) {
        let sequence = self.sequence_of(batch);
        self.failed(batch, Failure::Other, false);
        if let (true, Some(sequence)) = (in_retry, sequence) {
            let after = sequence.last(batch.records).offset_by(1);
            let entry = self.unresolved.entry(batch.tp.clone()).or_insert(after);
            *entry = (*entry).max(after);
        }
    }

    /// What the sender does before each drain: settles the unresolved partitions whose
    /// in-flight batches all completed, then bumps the epoch if one was requested
    /// (2.5+: `maybeResolveSequences`, `bumpIdempotentEpochAndResetIdIfNeeded`), or
    /// resets the producer id if a gap remains (up to 2.4: `resetProducerIdIfNeeded`).
    /// A partition is settled if its next sequence follows the last acknowledged one:
    /// later batches succeeded, so the expired one was appended.
    pub fn resolve_sequences(&mut self) {
        let settled: Vec<(TopicPartition, bool)> = self
            .unresolved
            .keys()
            .filter_map(|tp| {
                let entry = self.partitions.get(tp);
                if entry.is_some_and(|e| !e.in_flight.is_empty()) {
                    return None;
                }
                let next = entry.map_or(Sequence::FIRST, |e| e.next);
                Some((tp.clone(), self.is_next_sequence(tp, next)))
            })
            .collect();
        for (tp, gapless) in settled {
            if !gapless && !self.epoch_bump {
                self.reset_producer_id();
                return;
            }
            self.unresolved.remove(&tp);
            if !gapless {
                self.request_epoch_bump(&tp);
            }
        }
        if !self.partitions_to_rewrite.is_empty() {
            self.bump_epoch();
        }
    }

    /// `requestEpochBumpForPartition`.
    fn request_epoch_bump(&mut self, tp: &TopicPartition) {
        self.partitions_to_rewrite.insert(tp.clone());
    }

    /// `bumpIdempotentProducerEpoch`: the epoch goes up by one and the partitions that
    /// asked for it restart their sequences at 0 under it. An exhausted epoch resets the
    /// producer id instead (a new InitProducerId); those partitions' batches then keep
    /// what they carry (Kafka rewrites them to no producer id; no run comes near 32767
    /// bumps).
    fn bump_epoch(&mut self) {
        let Some(producer) = self.producer else { return };
        self.producer =
            (producer.epoch < i16::MAX).then_some(ProducerIdAndEpoch { epoch: producer.epoch + 1, ..producer });
        for tp in std::mem::take(&mut self.partitions_to_rewrite) {
            match self.producer {
                Some(bumped) => {
                    if let Some(entry) = self.partitions.get_mut(&tp) {
                        entry.start_at_beginning(bumped);
                    }
                }
                None => {
                    self.partitions.remove(&tp);
                }
            }
            self.unresolved.remove(&tp);
        }
    }

    /// `resetProducerId` (up to 2.4): no producer id until InitProducerId answers again,
    /// and every partition's sequences forgotten.
    fn reset_producer_id(&mut self) {
        self.producer = None;
        self.partitions.clear();
        self.unresolved.clear();
    }

    /// Whether `sequence` follows the partition's last acknowledged one (`isNextSequence`;
    /// with nothing acknowledged, sequence 0 does).
    fn is_next_sequence(&self, tp: &TopicPartition, sequence: Sequence) -> bool {
        self.partitions.get(tp).map_or(sequence == Sequence::FIRST, |e| e.is_next(sequence))
    }

    fn tracked(&self, batch: BatchRef) -> Option<&TrackedBatch> {
        self.partitions.get(batch.tp)?.in_flight.get(&batch.id)
    }

    fn tracked_mut(&mut self, batch: BatchRef) -> Option<&mut TrackedBatch> {
        self.partitions.get_mut(batch.tp)?.in_flight.get_mut(&batch.id)
    }

    fn remove_in_flight(&mut self, batch: BatchRef) {
        if let Some(entry) = self.partitions.get_mut(batch.tp) {
            entry.finish(batch.id);
        }
    }
}
