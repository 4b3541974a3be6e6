//! The producer's state shared by `send` and the sender task: the accumulator, the
//! idempotence state, and what the two ends ask of each other (metadata refreshes,
//! connections to close). The rules that need both the accumulator and the idempotence
//! state live here: draining with sequence numbers, retry or fail, the producer id reset
//! and the UNKNOWN_PRODUCER_ID recovery. The accumulator and the idempotence state do
//! not know each other.

use super::accumulator::Accumulator;
use super::batch::Batch;
use super::config::ProducerConfig;
use super::idempotence::{EpochBump, Idempotence, UnknownProducerRecovery};
use crate::client::partitioner::StickyPartitioner;
use crate::protocol::{BrokerId, ErrorCode, LeaderEpoch, TopicPartition};
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// What the producer handle and its sender task share.
pub(super) struct Shared {
    /// The producer's settings.
    pub config: ProducerConfig,
    /// The state, locked briefly and never across an await.
    pub state: Mutex<State>,
    /// Wakes the other side: the sender when records or requests arrive, `send` and
    /// `flush` when metadata or outcomes arrive.
    pub wake: Notify,
}

impl Shared {
    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("producer state poisoned")
    }
}

/// The producer's mutable state, shared by `send` and the sender task.
#[derive(Default)]
pub(super) struct State {
    /// The batches queued and in flight.
    pub accumulator: Accumulator,
    /// The idempotent producer's id, epoch and sequences.
    pub idempotence: Idempotence,
    /// The number of partitions per topic, from the metadata.
    pub partition_counts: BTreeMap<String, u32>,
    /// Whether the sender should refresh the metadata.
    pub need_metadata: bool,
    /// The brokers whose connection the sender should close.
    pub disconnect: BTreeSet<BrokerId>,
    /// The sticky partitioner per topic, for records with neither partition nor key.
    pub sticky: BTreeMap<String, StickyPartitioner>,
}

impl State {
    /// Takes the ready batches off the accumulator, grouped by leader (`leader_of`, from
    /// the cluster metadata), giving an idempotent producer's batches their sequence
    /// numbers on their first send. Returns them and the next time something becomes
    /// ready (see [`Accumulator::drain`]).
    ///
    /// An idempotent producer sends nothing without a producer id. Batches that waited
    /// past `delivery.timeout.ms` fail; for an idempotent producer an expired batch with
    /// a sequence then resets the producer id, after the drain, as Kafka's
    /// `Sender.sendProducerData` fails expired batches only after draining: the batches
    /// the drain took for other partitions go out.
    pub fn drain_ready(
        &mut self,
        config: &ProducerConfig,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> (BTreeMap<BrokerId, Vec<Batch>>, Option<Instant>) {
        let now = Instant::now();
        let idempotent = config.enable_idempotence;
        if idempotent && self.idempotence.producer().is_none() {
            return (BTreeMap::new(), None);
        }
        let idempotence = &mut self.idempotence;
        let drain = self.accumulator.drain(config, now, leader_of, |batch, accumulator| {
            !idempotent || Self::assign_sequence(idempotence, batch, accumulator)
        });
        if drain.leader_unknown {
            self.need_metadata = true;
        }
        let expired_any = !drain.expired.is_empty();
        for batch in drain.expired {
            batch.expire();
        }
        if idempotent && expired_any {
            self.reset_producer_id();
            return (drain.requests, Some(now));
        }
        (drain.requests, drain.next_wake)
    }

    /// Gives a batch about to be sent its sequence number, unless it has one (a retry
    /// keeps its sequence). Returns false if the batch must wait for the partition's
    /// batches of an older producer id or epoch, in flight or queued with a sequence.
    fn assign_sequence(idempotence: &mut Idempotence, batch: &mut Batch, accumulator: &Accumulator) -> bool {
        if batch.sequence.is_some() {
            return true;
        }
        let tp = &batch.tp;
        let old_batches_unresolved =
            || accumulator.has_in_flight(tp) || accumulator.queued(tp).any(|b| b.sequence.is_some());
        let Some(sequence) = idempotence.next_sequence(tp, batch.records.len(), old_batches_unresolved) else {
            return false;
        };
        batch.sequence = Some(sequence);
        true
    }

    /// Records an acknowledged batch in the idempotence state.
    pub fn acknowledged(&mut self, batch: &Batch) {
        self.idempotence.acknowledged(&batch.tp, batch.sequence, batch.records.len());
    }

    /// Forgets the producer id after a batch failed for good: the next batches start a
    /// new sequence under a new id (Kafka bumps the epoch, to the same effect).
    ///
    /// A queued batch that an earlier attempt may already have put in a log is failed
    /// here with an unknown outcome instead of being re-sequenced: under a new id and
    /// sequence the leader could not recognise it as a retry and would append it a
    /// second time (found by the swarm scenario, seed 140). Kafka likewise never
    /// re-sends an unresolved batch under a new epoch; it fails it.
    pub fn reset_producer_id(&mut self) {
        self.idempotence.reset();
        self.accumulator.retain_queued(|mut batch| {
            if batch.maybe_appended && batch.sequence.is_some() {
                let reason = batch.last_error.clone().unwrap_or_else(|| "unknown".into());
                batch.fail(&format!(
                    "OutOfOrderSequenceException: the producer id was reset while this batch's outcome was \
                     unknown (last error: {reason})"
                ));
                None
            } else {
                batch.sequence = None;
                Some(batch)
            }
        });
    }

    /// Re-enqueues a failed batch for another attempt, or fails it when the error is not
    /// retriable or retries or the delivery timeout are exhausted (failing a sequenced
    /// batch resets the producer id).
    ///
    /// An idempotent batch whose partition's sequences were restarted while it was in
    /// flight (an epoch bump or a producer id reset) cannot keep its old sequence: it is
    /// re-sequenced if no attempt can have been appended, and failed with an unknown
    /// outcome otherwise (as `reset_producer_id` does), without resetting anything again.
    pub fn retry_or_fail(&mut self, config: &ProducerConfig, mut batch: Batch, reason: &str, retriable: bool) {
        let now = Instant::now();
        let stale = self.idempotence.is_stale(&batch.tp, batch.sequence);
        if !(retriable && batch.may_retry(config, now)) {
            if batch.sequence.is_some() && !stale {
                self.reset_producer_id();
            }
            batch.fail(reason);
            return;
        }
        if stale {
            if batch.maybe_appended {
                batch.fail(&format!(
                    "OutOfOrderSequenceException: the partition's sequences were reset while this batch's outcome \
                     was unknown (last error: {reason})"
                ));
                return;
            }
            batch.sequence = None;
        }
        self.accumulator.reenqueue(config, batch, reason, now);
    }

    /// Handles UNKNOWN_PRODUCER_ID for one batch of an idempotent producer: recover by
    /// an epoch bump, retry, or fail (see [`UnknownProducerRecovery`]).
    pub fn unknown_producer_id(&mut self, config: &ProducerConfig, mut batch: Batch) {
        let reason = ErrorCode::UnknownProducerId.kafka_name();
        let recovery =
            self.idempotence.unknown_producer_id(&batch.tp, batch.sequence, || self.has_earlier_unresolved(&batch));
        match recovery {
            UnknownProducerRecovery::Resequence => {
                // Refused, so this attempt is not in the log: re-sequence it in order.
                batch.sequence = None;
                self.retry_or_fail(config, batch, reason, true);
            }
            UnknownProducerRecovery::BumpEpoch => {
                tracing::debug!(tp = %batch.tp, "UNKNOWN_PRODUCER_ID for the next sequence: bumping the producer epoch");
                self.bump_epoch(&batch.tp);
                batch.sequence = None;
                self.retry_or_fail(config, batch, reason, true);
            }
            UnknownProducerRecovery::RetryBehindEarlier => self.retry_or_fail(config, batch, reason, true),
            UnknownProducerRecovery::Fail => self.retry_or_fail(
                config,
                batch,
                "UnknownProducerIdException: the leader lost this producer's state and earlier batches have unknown outcomes",
                false,
            ),
        }
    }

    /// Bumps the producer epoch for `tp`: the partition's queued batches lose their
    /// sequences and get new ones, in order, when next sent. An exhausted epoch resets
    /// the producer id instead, as Kafka does.
    fn bump_epoch(&mut self, tp: &TopicPartition) {
        match self.idempotence.bump_epoch(tp) {
            EpochBump::Bumped => {
                for batch in self.accumulator.queued_mut(tp) {
                    batch.sequence = None;
                }
            }
            EpochBump::Exhausted => self.reset_producer_id(),
            EpochBump::NoProducerId => {}
        }
    }

    /// Whether an earlier batch of the partition (same sequences, lower sequence) may
    /// still resolve: one is queued for a retry, or some batch is in flight.
    fn has_earlier_unresolved(&self, batch: &Batch) -> bool {
        let Some(sequence) = batch.sequence else { return false };
        let in_flight = self.accumulator.has_in_flight(&batch.tp);
        let queued = self
            .accumulator
            .queued(&batch.tp)
            .any(|b| b.sequence.is_some_and(|s| s.producer == sequence.producer && s.base < sequence.base));
        in_flight || queued
    }
}
