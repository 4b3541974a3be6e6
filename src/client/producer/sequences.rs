//! The idempotent producer's sequence bookkeeping per partition, after Kafka's
//! `TransactionManager` (idempotent part, Kafka 2.5+ with KIP-360): which producer id
//! and epoch a partition's sequences belong to, the next sequence, the last acknowledged
//! one, and what to do when the leader answers UNKNOWN_PRODUCER_ID.
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

use super::accumulator::{Batch, State};
use super::ProducerConfig;
use crate::protocol::{ErrorCode, ProducerIdAndEpoch, TopicPartition};

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
pub(super) struct PartitionSequences {
    /// The producer id and epoch the sequences belong to.
    pub producer: ProducerIdAndEpoch,
    /// The first sequence of the next batch.
    pub next: Sequence,
    /// The last sequence of the highest acknowledged batch, if any.
    pub last_acked: Option<Sequence>,
}

impl PartitionSequences {
    fn fresh(producer: ProducerIdAndEpoch) -> Self {
        PartitionSequences { producer, next: Sequence::FIRST, last_acked: None }
    }
}

/// The producer id and epoch a batch was sequenced under.
fn owner(batch: &Batch) -> Option<ProducerIdAndEpoch> {
    batch.sequence.map(|sequence| sequence.producer)
}

impl State {
    /// Gives a batch about to be sent its sequence number. Returns false if the batch
    /// must wait: its partition's sequences belong to an older producer id or epoch and
    /// batches sequenced under it are still unresolved (Kafka's drain does not start a
    /// new epoch at sequence 0 while such batches are in flight, or they would land
    /// out of sequence).
    pub(super) fn assign_sequence(&mut self, batch: &mut Batch) -> bool {
        if batch.sequence.is_some() {
            return true;
        }
        let Some(current) = self.producer_id else { return false };
        let tp = batch.tp.clone();
        if self.sequences.get(&tp).is_none_or(|s| s.producer != current) {
            let in_flight = self.has_in_flight(&tp);
            let queued = self.queues.get(&tp).is_some_and(|q| q.iter().any(|b| b.sequence.is_some()));
            if in_flight || queued {
                return false;
            }
            self.sequences.insert(tp.clone(), PartitionSequences::fresh(current));
        }
        let entry = self.sequences.get_mut(&tp).expect("ensured above");
        batch.sequence = Some(BatchSequence { producer: current, base: entry.next });
        entry.next = entry.next.offset_by(batch.records.len() as i32);
        true
    }

    /// Whether a sequenced batch belongs to sequences its partition has since left
    /// (an epoch bump re-sequenced the partition, or the producer id was reset).
    pub(super) fn is_stale(&self, batch: &Batch) -> bool {
        match owner(batch) {
            Some(producer) => self.sequences.get(&batch.tp).is_none_or(|s| s.producer != producer),
            None => false,
        }
    }

    /// Records an acknowledged batch (`handleCompletedBatch`): the last acknowledged
    /// sequence only moves forward, and only for the partition's current sequences.
    pub(super) fn acknowledged(&mut self, batch: &Batch) {
        let Some(sequence) = batch.sequence else { return };
        let Some(entry) = self.sequences.get_mut(&batch.tp).filter(|s| s.producer == sequence.producer) else {
            return;
        };
        let last = sequence.last(batch.records.len());
        if entry.last_acked.is_none_or(|acked| last > acked) {
            entry.last_acked = Some(last);
        }
    }

    /// Whether the batch is the next one after the last acknowledged batch of its
    /// partition (`isNextSequence`): nothing of ours can lie between them.
    pub(super) fn is_next_sequence(&self, batch: &Batch) -> bool {
        let Some(sequence) = batch.sequence else { return false };
        match self.sequences.get(&batch.tp) {
            Some(entry) if entry.producer == sequence.producer => {
                sequence.base == entry.last_acked.map_or(Sequence::FIRST, |acked| acked.offset_by(1))
            }
            _ => false,
        }
    }

    /// Whether an earlier batch of the partition (same sequences, lower sequence) may
    /// still resolve: one is queued for a retry, or some batch is in flight.
    fn has_earlier_unresolved(&self, batch: &Batch) -> bool {
        let Some(sequence) = batch.sequence else { return false };
        let in_flight = self.has_in_flight(&batch.tp);
        let queued = self.queues.get(&batch.tp).is_some_and(|q| {
            q.iter().any(|b| b.sequence.is_some_and(|s| s.producer == sequence.producer && s.base < sequence.base))
        });
        in_flight || queued
    }

    /// Bumps the producer epoch for `tp` (`requestEpochBumpForPartition` followed by
    /// `bumpIdempotentProducerEpoch`): the partition's sequences restart at 0 under the
    /// new epoch, so its queued batches lose their sequences and get new ones, in order,
    /// when next sent. Other partitions move to the new epoch once their own batches in
    /// flight resolve (see [`State::assign_sequence`]). An exhausted epoch resets the
    /// producer id instead, as Kafka does.
    pub(super) fn bump_epoch(&mut self, tp: &TopicPartition) {
        let Some(producer) = self.producer_id else { return };
        if producer.epoch == i16::MAX {
            self.reset_producer_id();
            return;
        }
        self.producer_id = Some(ProducerIdAndEpoch { epoch: producer.epoch + 1, ..producer });
        self.sequences.remove(tp);
        if let Some(queue) = self.queues.get_mut(tp) {
            for batch in queue.iter_mut() {
                batch.sequence = None;
            }
        }
    }

    /// Handles UNKNOWN_PRODUCER_ID for one batch of an idempotent producer: recover by
    /// an epoch bump, retry, or fail (see the module docs).
    pub(super) fn unknown_producer_id(&mut self, config: &ProducerConfig, mut batch: Batch) {
        let reason = ErrorCode::UnknownProducerId.kafka_name();
        if self.is_stale(&batch) {
            // Refused, so this attempt is not in the log: re-sequence it in order.
            batch.sequence = None;
            self.retry_or_fail(config, batch, reason, true);
        } else if self.is_next_sequence(&batch) {
            tracing::debug!(tp = %batch.tp, "UNKNOWN_PRODUCER_ID for the next sequence: bumping the producer epoch");
            self.bump_epoch(&batch.tp);
            batch.sequence = None;
            self.retry_or_fail(config, batch, reason, true);
        } else if self.has_earlier_unresolved(&batch) {
            self.retry_or_fail(config, batch, reason, true);
        } else {
            self.retry_or_fail(
                config,
                batch,
                "UnknownProducerIdException: the leader lost this producer's state and earlier batches have unknown outcomes",
                false,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Acks, BrokerId, LeaderEpoch, Offset, Record};
    use madsim::runtime::Runtime;
    use tokio::sync::oneshot;

    type Outcome = oneshot::Receiver<Result<super::super::RecordMetadata, super::super::SendError>>;

    fn config() -> ProducerConfig {
        ProducerConfig {
            bootstrap: Vec::new(),
            acks: Acks::All,
            retries: u32::MAX,
            request_timeout_ms: 1000,
            retry_backoff_ms: 0,
            delivery_timeout_ms: 60_000,
            batch_size: 1,
            linger_ms: 0,
            max_in_flight_requests_per_connection: 5,
            max_block_ms: 1000,
            enable_idempotence: true,
        }
    }

    fn tp() -> TopicPartition {
        TopicPartition::new("orders", 0)
    }

    fn leader(_: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
        Some((BrokerId(1), 0))
    }

    /// Runs `f` inside a madsim runtime (batches read the simulated clock).
    fn in_sim(f: impl FnOnce() + Send + 'static) {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { f() });
    }

    /// A producer with id 7 at epoch 0 that queued `count` one-record batches.
    fn producer(count: usize) -> (State, Vec<Outcome>) {
        let mut state = State { producer_id: Some(producer_7(0)), ..State::default() };
        let outcomes = (0..count)
            .map(|i| {
                let (tx, rx) = oneshot::channel();
                state.append(tp(), Record { key: None, value: i as u64, timestamp_ms: 0 }, tx, 1);
                rx
            })
            .collect();
        (state, outcomes)
    }

    /// Drains the ready batches of the one partition and counts the attempt, as the
    /// sender does.
    fn drain(state: &mut State) -> Vec<Batch> {
        let (mut ready, _) = state.drain_ready(&config(), leader);
        let mut batches = ready.remove(&BrokerId(1)).unwrap_or_default();
        for batch in &mut batches {
            batch.attempts += 1;
        }
        batches
    }

    /// Marks a request's batches as answered (the sender's bookkeeping).
    fn answered(state: &mut State, batches: &[Batch]) {
        state.release(BrokerId(1), batches);
    }

    /// The leader acknowledged `batch` at `offset`: answered, recorded and completed.
    fn acknowledge(state: &mut State, batch: Batch, offset: Offset) {
        answered(state, std::slice::from_ref(&batch));
        state.acknowledged(&batch);
        batch.complete(Some(offset));
    }

    /// Producer id 7 at `epoch`.
    fn producer_7(epoch: i16) -> ProducerIdAndEpoch {
        ProducerIdAndEpoch { id: 7, epoch }
    }

    /// Producer id 7's sequence `base` at `epoch`.
    fn at(epoch: i16, base: i32) -> BatchSequence {
        BatchSequence { producer: producer_7(epoch), base: Sequence(base) }
    }

    fn sequence(batch: &Batch) -> BatchSequence {
        batch.sequence.expect("sequenced")
    }

    #[test]
    fn unknown_producer_for_the_next_sequence_bumps_the_epoch_and_resends_from_zero() {
        in_sim(|| {
            let (mut state, mut outcomes) = producer(3);
            // Batch 0 is acknowledged; batches 1 and 2 are in flight when the leader's
            // replicas all lose power and come back without our state.
            let first = drain(&mut state).pop().unwrap();
            acknowledge(&mut state, first, 0);
            let mut in_flight = drain(&mut state);
            in_flight.extend(drain(&mut state));
            assert_eq!(in_flight.iter().map(sequence).collect::<Vec<_>>(), vec![at(0, 1), at(0, 2)]);
            answered(&mut state, &in_flight);
            for batch in &mut in_flight {
                batch.maybe_appended = true; // The disconnect left their outcome open.
            }
            let mut in_flight = in_flight.into_iter();
            let (next, later) = (in_flight.next().unwrap(), in_flight.next().unwrap());
            assert!(state.is_next_sequence(&next) && !state.is_next_sequence(&later));

            state.unknown_producer_id(&config(), next);
            assert_eq!(state.producer_id, Some(producer_7(1)), "the epoch was bumped");
            // The later batch's refusal arrives after the bump: it is re-sequenced too.
            assert!(state.is_stale(&later));
            state.unknown_producer_id(&config(), later);
            assert_eq!(state.producer_id, Some(producer_7(1)), "one bump for the partition");

            // Both go out again in their original order, one at a time (retries), from
            // sequence 0 of epoch 1, and are acknowledged.
            let mut resent = Vec::new();
            for offset in 1..=2 {
                let batch = drain(&mut state).pop().expect("ready");
                assert!(drain(&mut state).is_empty(), "a retry waits for the one before it");
                resent.push((sequence(&batch), batch.records[0].value));
                acknowledge(&mut state, batch, offset as Offset);
            }
            assert_eq!(resent, vec![(at(1, 0), 1), (at(1, 1), 2)]);
            for (i, outcome) in outcomes.iter_mut().enumerate() {
                let metadata = outcome.try_recv().expect("resolved").expect("acknowledged, not failed");
                assert_eq!(metadata.offset, Some(i as Offset));
            }
        });
    }

    #[test]
    fn unknown_producer_after_a_batch_with_an_unknown_outcome_fails_without_a_bump() {
        in_sim(|| {
            let (mut state, mut outcomes) = producer(3);
            let first = drain(&mut state).pop().unwrap();
            acknowledge(&mut state, first, 0);
            // Batch 1 times out (maybe appended) and waits for its retry; batch 2 is
            // refused as unknown: not the next sequence, and batch 1 may still resolve.
            let mut timed_out = drain(&mut state).pop().unwrap();
            let mut refused = drain(&mut state).pop().unwrap();
            answered(&mut state, std::slice::from_ref(&timed_out));
            answered(&mut state, std::slice::from_ref(&refused));
            timed_out.maybe_appended = true;
            refused.maybe_appended = true;
            state.retry_or_fail(&config(), timed_out, "TimeoutException", true);
            assert!(!state.is_next_sequence(&refused));
            state.unknown_producer_id(&config(), refused);
            assert_eq!(state.producer_id, Some(producer_7(0)), "no epoch bump behind an unresolved batch");
            assert!(outcomes[2].try_recv().is_err(), "still pending behind batch 1");

            // Batch 1's delivery timeout passes: it fails, and so does batch 2, whose
            // outcome is unknown, instead of being resent under a new sequence.
            let expired = state.queues.get_mut(&tp()).unwrap().pop_front().unwrap();
            state.retry_or_fail(
                &ProducerConfig { delivery_timeout_ms: 0, ..config() },
                expired,
                "TimeoutException",
                true,
            );
            assert_eq!(state.producer_id, None, "the producer id was reset, not bumped");
            for outcome in &mut outcomes[1..] {
                let error = outcome.try_recv().expect("resolved").expect_err("failed");
                assert!(!error.definite, "unknown outcome: {error:?}");
            }
        });
    }

    #[test]
    fn unknown_producer_not_next_with_nothing_unresolved_fails_with_an_unknown_outcome() {
        in_sim(|| {
            let (mut state, mut outcomes) = producer(2);
            let mut lost = drain(&mut state).pop().unwrap();
            let mut refused = drain(&mut state).pop().unwrap();
            answered(&mut state, std::slice::from_ref(&lost));
            answered(&mut state, std::slice::from_ref(&refused));
            // Batch 0's answer never came and nothing acknowledged it; batch 1 (sequence 1)
            // is refused as unknown: whether batch 0 is in some log is unknown.
            lost.maybe_appended = true;
            refused.maybe_appended = true;
            drop(lost);
            state.unknown_producer_id(&config(), refused);
            assert_eq!(state.producer_id, None, "the producer id was reset, not bumped");
            let error = outcomes[1].try_recv().expect("resolved").expect_err("failed");
            assert!(!error.definite && error.reason.starts_with("UnknownProducerIdException"), "{error:?}");
        });
    }

    #[test]
    fn a_new_epoch_starts_at_zero_only_once_the_old_epochs_batches_resolved() {
        in_sim(|| {
            let (mut state, _outcomes) = producer(2);
            let old = drain(&mut state).pop().unwrap();
            assert_eq!(sequence(&old), at(0, 0));
            // Another partition's recovery bumped the epoch meanwhile.
            state.producer_id = Some(producer_7(1));
            assert!(drain(&mut state).is_empty(), "batch 1 waits for batch 0 of epoch 0");
            answered(&mut state, std::slice::from_ref(&old));
            let next = drain(&mut state).pop().unwrap();
            assert_eq!(sequence(&next), at(1, 0));
        });
    }
}
