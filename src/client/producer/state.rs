//! The producer's state shared by `send` and the sender task: the accumulator, the
//! idempotence state, and what the two ends ask of each other (metadata refreshes,
//! connections to close). The rules that need both the accumulator and the idempotence
//! state live here: draining with sequence numbers, expiry, and what an answer does to
//! a batch (Kafka's `Sender.completeBatch`). The accumulator and the idempotence state
//! do not know each other.

use super::accumulator::Accumulator;
use super::batch::Batch;
use super::config::ProducerConfig;
use super::idempotence::{Failure, Idempotence};
use super::outlook::{Refusals, SendsOutlook};
use super::transactions::TxnState;
use crate::client::connection_states::Readiness;
use crate::client::partitioner::TopicPartitioner;
use crate::client::Probe;
use crate::coverage::ReachedState;
use crate::protocol::UnkeyedPartitioning;
use crate::protocol::{BrokerId, ErrorCode, LeaderEpoch, Offset, TopicPartition};
use crate::sim::clock;
use crate::sim::net::ConnId;
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
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
pub(super) struct State {
    /// The batches queued and in flight.
    pub accumulator: Accumulator,
    /// The idempotent producer's id, epoch and sequences.
    pub idempotence: Idempotence,
    /// The number of partitions per topic, from the metadata.
    pub partition_counts: BTreeMap<String, u32>,
    /// The partitions per topic whose leader the metadata knows, in order, by the
    /// metadata's name of the topic.
    pub available_partitions: BTreeMap<Arc<str>, Vec<u32>>,
    /// Whether the sender should refresh the metadata.
    pub need_metadata: bool,
    /// Whether `send` was called for a topic it had not named before since the sender
    /// last looked (`ProducerMetadata.add` → `requestUpdateForNewTopics`, which clears
    /// KIP-580's equivalent responses).
    pub new_topics: bool,
    /// The topics `send` was called for: the sender's metadata requests name them, so
    /// that a broker may create one it does not know (`ProducerMetadata` keeps its
    /// topics until `metadata.max.idle.ms` passes without a send; here, for the run).
    pub topics: BTreeSet<String>,
    /// The connections the sender should close, with their brokers: each carried a
    /// request that failed as a whole.
    pub disconnect: BTreeSet<(BrokerId, ConnId)>,
    /// The partitioner state per topic, for records with neither partition nor key.
    pub partitioners: BTreeMap<String, TopicPartitioner>,
    /// A transactional producer's transaction state (`None` without a
    /// `transactional.id`).
    pub txn: Option<TxnState>,
    /// Where the producer reports the named states it reaches (see [`Probe`]).
    pub probe: Option<Probe>,
    /// The batches a leader refused at their last attempt (see [`super::outlook`]).
    pub refusals: Refusals,
    /// Sends waiting in `send` for their topic's metadata (in no batch yet).
    pub sends_awaiting_metadata: u32,
    /// Per leader, the signal that the answer to the last produce request sent there
    /// was handled (its sender dropped): the next answer waits for it.
    pub answers_handled: BTreeMap<BrokerId, tokio::sync::oneshot::Receiver<()>>,
    /// Per leader, how many times a request failed as a whole and closed the connection
    /// (see `sender::requeue_all`): an answer to a request sent before the latest close
    /// is not read.
    pub connection_closes: BTreeMap<BrokerId, u64>,
}

impl State {
    /// A producer's state before anything was sent.
    pub fn new(config: &ProducerConfig) -> Self {
        State {
            accumulator: Accumulator::default(),
            idempotence: Idempotence::new(config.idempotent_epoch_bump),
            partition_counts: BTreeMap::new(),
            available_partitions: BTreeMap::new(),
            need_metadata: false,
            new_topics: false,
            topics: BTreeSet::new(),
            disconnect: BTreeSet::new(),
            partitioners: BTreeMap::new(),
            txn: config.transactional_id.as_ref().map(|_| TxnState::new(config.invalid_epoch_abortable)),
            probe: None,
            refusals: Refusals::default(),
            sends_awaiting_metadata: 0,
            answers_handled: BTreeMap::new(),
            connection_closes: BTreeMap::new(),
        }
    }

    /// Reports a named state to the probe, if one is set.
    pub fn reached(&self, state: ReachedState) {
        if let Some(probe) = &self.probe {
            probe(state);
        }
    }

    /// Re-enqueues a failed batch for another attempt (`RecordAccumulator.reenqueue`).
    /// The batch is marked refused if its leader answered the attempt with `error`, and
    /// unmarked if nobody answered it or the broker was not the leader (an error that
    /// sends the producer to its metadata: the cluster did not refuse the batch, the
    /// producer asked the wrong broker); see [`super::outlook`].
    fn retry(
        &mut self,
        config: &ProducerConfig,
        mut batch: Batch,
        error: Option<ErrorCode>,
        reason: &str,
        now: Instant,
    ) {
        self.reached(ReachedState::ProducerBatchRetried);
        let refused = error.is_some_and(is_refusal);
        if !refused {
            batch.refusal = None;
        } else if batch.refusal.is_none() {
            batch.refusal = Some(self.refusals.mark(&batch.tp, batch.order, batch.delivery_deadline(config)));
        }
        self.accumulator.reenqueue(config, batch, reason, now);
    }

    /// What the unfinished sends wait on (see [`super::outlook`]): refused until the
    /// latest delivery deadline if every partition with a batch queued or in flight
    /// holds a batch a leader refused at its last attempt and no send waits for
    /// metadata.
    pub fn sends_outlook(&self) -> SendsOutlook {
        if self.sends_awaiting_metadata > 0 {
            return SendsOutlook::Waiting;
        }
        let mut outlook = SendsOutlook::Idle;
        for tp in self.accumulator.unfinished_partitions() {
            match self.refusals.until(tp) {
                Some(deadline) => outlook = outlook.and(SendsOutlook::RefusedUntil(deadline)),
                None => return SendsOutlook::Waiting,
            }
        }
        outlook
    }

    /// Settles expired retries and bumps the idempotent producer's epoch if a partition
    /// asked for it ([`Idempotence::resolve_sequences`]), reporting a bump (KIP-360).
    pub fn resolve_sequences(&mut self) {
        let before = self.idempotence.producer();
        self.idempotence.resolve_sequences();
        let after = self.idempotence.producer();
        if let (Some(before), Some(after)) = (before, after) {
            if after.id == before.id && after.epoch > before.epoch {
                self.reached(ReachedState::ProducerEpochBumped);
            }
        }
    }

    /// Takes the ready batches off the accumulator, grouped by leader (`leader_of`, from
    /// the cluster metadata), giving an idempotent producer's batches their sequence
    /// numbers (see [`Idempotence::sequence_for_drain`]). Returns them and the next time
    /// something becomes ready (see [`Accumulator::drain`]).
    ///
    /// First the batches that waited past `delivery.timeout.ms` fail, as Kafka's
    /// `Sender.sendProducerData` fails them; an idempotent producer marks the partition
    /// of one that was in a retry unresolved (its outcome is unknown) and settles it
    /// before a later drain. An expiry never holds back the other partitions' batches.
    /// (Kafka drains before it expires, so an expired retry at the front of its queue
    /// may go out once more and expire in flight; here it expires first.)
    ///
    /// `metadata_generation` names the metadata `leader_of` reads
    /// ([`crate::client::metadata::ClusterView::generation`]): what is computed from one
    /// generation's leaders is reused while it lasts (see [`Accumulator::queue_sizes`]).
    pub fn drain_ready(
        &mut self,
        config: &ProducerConfig,
        metadata_generation: u64,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
        connection_ready: impl FnMut(BrokerId) -> Readiness,
    ) -> (BTreeMap<BrokerId, Vec<Batch>>, Option<Instant>) {
        let now = clock::now();
        let idempotent = config.enable_idempotence;
        if idempotent && self.idempotence.producer().is_none() {
            return (BTreeMap::new(), None);
        }
        self.update_load_stats(config, metadata_generation, &leader_of);
        for batch in self.accumulator.expired(config, now) {
            if batch.refusal.is_some() {
                self.reached(ReachedState::RefusedBatchExpired);
            }
            if idempotent {
                // Only a retry waits in the queue after a send (Kafka's `inRetry`).
                self.idempotence.expired(batch.idempotence_ref(), batch.attempts > 0);
            }
            if let Some(txn) = &mut self.txn {
                txn.batch_failed(None, "TimeoutException: delivery.timeout.ms expired");
            }
            batch.expire();
        }
        if self.txn.as_ref().is_some_and(TxnState::must_abort) {
            // The transaction can only abort: what has not gone out never will
            // (`Sender.maybeSendAndPollTransactionalRequest` calls
            // `RecordAccumulator.abortUndrainedBatches`), a retry waiting in its queue
            // included, so that a flush before commit or abort does not wait for it.
            for batch in self.accumulator.take_queued() {
                batch.fail("TransactionAbortedException: the transaction can only abort");
            }
        }
        let idempotence = &mut self.idempotence;
        let txn = &self.txn;
        let drain = self.accumulator.drain(config, now, leader_of, connection_ready, |batch| {
            if txn.as_ref().is_some_and(|txn| !txn.may_send(&batch.tp)) {
                return false;
            }
            if !idempotent {
                return true;
            }
            let sequence = idempotence.sequence_for_drain(batch.idempotence_ref());
            batch.sequence = sequence.or(batch.sequence);
            sequence.is_some()
        });
        if drain.leader_unknown {
            self.need_metadata = true;
        }
        (drain.requests, drain.next_wake)
    }

    /// Hands each topic's KIP-794 partitioner the queue lengths it weighs when adaptive
    /// partitioning is on (Kafka's `RecordAccumulator.ready`, before the drain).
    fn update_load_stats(
        &mut self,
        config: &ProducerConfig,
        metadata_generation: u64,
        leader_of: &impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) {
        let adaptive =
            config.partitioner == UnkeyedPartitioning::UniformSticky && config.partitioner_adaptive_partitioning_enable;
        if !adaptive {
            return;
        }
        for (topic, partitioner) in &mut self.partitioners {
            let partitions = self.partition_counts.get(topic).copied().unwrap_or(0);
            let queues = self.accumulator.queue_sizes(config, topic, partitions, metadata_generation, leader_of);
            partitioner.update_load_stats(queues);
        }
    }

    /// Records an acknowledged batch (at `base_offset`, unknown with acks=0, in the log
    /// of topic `topic_id` as the leader's answer tells the history) and completes it.
    pub fn acknowledged(
        &mut self,
        batch: Batch,
        base_offset: Option<Offset>,
        topic_id: Option<crate::protocol::TopicId>,
    ) {
        self.idempotence.completed(batch.idempotence_ref(), base_offset);
        batch.complete(base_offset, topic_id);
    }

    /// A batch's attempt failed: the leader refused it with `error` (and told its
    /// `log_start_offset`), or the request failed as a whole (`error` is `None`). As
    /// Kafka's `Sender.completeBatch`: the batch is re-enqueued if `retries` and
    /// `delivery.timeout.ms` allow and the error is retriable, or the idempotent
    /// producer's rules retry it (see [`Idempotence::can_retry`]); else it fails with
    /// `reason`, and an idempotent producer records the failure
    /// ([`Idempotence::failed`]).
    pub fn attempt_failed(
        &mut self,
        config: &ProducerConfig,
        batch: Batch,
        error: Option<ErrorCode>,
        log_start_offset: Option<Offset>,
        reason: &str,
    ) {
        let now = clock::now();
        let may_retry = batch.may_retry(config, now);
        let retriable = error.is_none_or(ErrorCode::is_retriable);
        if batch.refusal.is_some() && batch.delivery_timed_out(config, now) {
            self.reached(ReachedState::RefusedBatchExpired);
        }
        if !config.enable_idempotence {
            if may_retry && retriable {
                self.retry(config, batch, error, reason, now);
            } else {
                batch.fail(reason);
            }
            return;
        }
        let r = batch.idempotence_ref();
        if let Some(txn) = &mut self.txn {
            // A transactional producer retries what `TransactionManager.canRetry` lets
            // it, unless its transaction can no longer commit (`Sender.maybeAbortBatches`
            // aborts re-enqueued batches then); it does not recover from other sequence or
            // epoch errors by itself: the transaction must abort (`handleFailedBatch`).
            if may_retry
                && !txn.must_abort()
                && self.idempotence.can_retry_transactional(r, error, log_start_offset, retriable)
            {
                self.retry(config, batch, error, reason, now);
            } else {
                txn.batch_failed(error, reason);
                self.idempotence.failed(r, Failure::Other, false);
                batch.fail(reason);
            }
            return;
        }
        if may_retry && self.idempotence.can_retry(r, error, log_start_offset, retriable) {
            if self.idempotence.producer_id_changed(r) {
                self.idempotence.failed(r, Failure::OutOfOrderSequence, false);
                batch.fail(&format!(
                    "OutOfOrderSequenceException: Attempted to retry sending a batch but the producer id changed \
                     in the mean time (last error: {reason})"
                ));
            } else {
                self.retry(config, batch, error, reason, now);
            }
            return;
        }
        let failure = match error {
            Some(ErrorCode::OutOfOrderSequence | ErrorCode::UnknownProducerId) => Failure::OutOfOrderSequence,
            _ => Failure::Other,
        };
        // Kafka adjusts sequences only if retries were not exhausted: with retries left
        // the broker definitely did not take the sequence.
        let adjust = batch.attempts <= config.retries;
        self.idempotence.failed(r, failure, adjust);
        batch.fail(reason);
    }
}

/// Whether a leader's error answer refuses the batch itself: not an error that sends the
/// producer to its metadata (the broker is not the leader, or does not know the topic),
/// where the producer asked the wrong broker (see [`super::outlook`]).
fn is_refusal(error: ErrorCode) -> bool {
    !error.needs_metadata_refresh()
}
