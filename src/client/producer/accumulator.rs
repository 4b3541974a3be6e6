//! The record accumulator: one queue of batches per partition, the rules for when a
//! batch is ready, how many requests may be in flight, and where a failed batch goes.

use super::sequences::{BatchSequence, PartitionSequences};
use super::{ProducerConfig, RecordMetadata, SendError};
use crate::client::partitioner::StickyPartitioner;
use crate::protocol::{BrokerId, LeaderEpoch, Offset, ProducerIdAndEpoch, Record, RecordBatch, TopicPartition};
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use tokio::sync::oneshot;

/// Where a record's outcome goes.
pub(super) type Completion = oneshot::Sender<Result<RecordMetadata, SendError>>;

/// A batch in the accumulator or in flight.
pub(super) struct Batch {
    pub tp: TopicPartition,
    pub records: Vec<Record>,
    pub completions: Vec<Completion>,
    pub size_bytes: u64,
    pub created: Instant,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
    /// Whether some attempt may have been appended by a leader.
    pub maybe_appended: bool,
    pub last_error: Option<String>,
    /// The idempotent producer id, epoch and first sequence, fixed at the first send
    /// (and given anew only when the partition's sequences restart, see `sequences`).
    pub sequence: Option<BatchSequence>,
    /// The batch's place in its partition's send order (creation order), which retries
    /// of an idempotent producer keep whatever their sequence numbers.
    pub order: u64,
}

impl Batch {
    pub fn new(tp: TopicPartition) -> Self {
        Batch {
            tp,
            records: Vec::new(),
            completions: Vec::new(),
            size_bytes: 0,
            created: Instant::now(),
            attempts: 0,
            retry_at: None,
            maybe_appended: false,
            last_error: None,
            sequence: None,
            order: 0,
        }
    }

    /// The wire form of this batch.
    pub fn to_record_batch(&self) -> RecordBatch {
        let mut batch = RecordBatch::plain(self.records.clone());
        if let Some(sequence) = self.sequence {
            batch.producer_id = sequence.producer.id;
            batch.producer_epoch = sequence.producer.epoch;
            batch.base_sequence = sequence.base.0;
        }
        batch
    }

    /// Reports success to every record's sender (offsets unknown with acks=0).
    pub fn complete(self, base_offset: Option<Offset>) {
        for (i, completion) in self.completions.into_iter().enumerate() {
            let offset = base_offset.map(|b| b + i as Offset);
            let _ = completion.send(Ok(RecordMetadata { tp: self.tp.clone(), offset }));
        }
    }

    /// Reports failure; definite only if no attempt can have been appended.
    pub fn fail(self, reason: &str) {
        let error = SendError { reason: reason.to_string(), definite: !self.maybe_appended };
        for completion in self.completions {
            let _ = completion.send(Err(error.clone()));
        }
    }
}

/// The producer's mutable state, shared by `send` and the sender task.
#[derive(Default)]
pub(super) struct State {
    pub queues: BTreeMap<TopicPartition, VecDeque<Batch>>,
    /// Requests in flight per broker connection.
    pub in_flight: BTreeMap<BrokerId, u32>,
    /// Batches in flight per partition.
    pub partition_in_flight: BTreeMap<TopicPartition, u32>,
    pub partition_counts: BTreeMap<String, u32>,
    pub need_metadata: bool,
    pub disconnect: BTreeSet<BrokerId>,
    pub sticky: BTreeMap<String, StickyPartitioner>,
    pub flushing: bool,
    /// The idempotent producer's id and epoch, once InitProducerId answered; the epoch
    /// is bumped locally when a leader lost our state (KIP-360, see `sequences`).
    pub producer_id: Option<ProducerIdAndEpoch>,
    /// The sequence bookkeeping per partition (idempotence).
    pub sequences: BTreeMap<TopicPartition, PartitionSequences>,
    /// The order number of the next batch created.
    pub next_order: u64,
}

impl State {
    /// Whether nothing is buffered or in flight.
    pub fn is_idle(&self) -> bool {
        self.queues.values().all(VecDeque::is_empty) && self.in_flight.values().all(|n| *n == 0)
    }

    /// Adds a record to its partition's last batch, or a new batch when it does not fit
    /// (`batch.size`). Returns whether a new batch was started.
    pub fn append(&mut self, tp: TopicPartition, record: Record, completion: Completion, batch_size: u64) -> bool {
        let size = record.size_bytes();
        let queue = self.queues.entry(tp.clone()).or_default();
        let fits = queue.back().is_some_and(|b| b.attempts == 0 && b.size_bytes + size <= batch_size);
        let started = !fits;
        if started {
            let mut batch = Batch::new(tp);
            batch.order = self.next_order;
            self.next_order += 1;
            queue.push_back(batch);
        }
        let batch = queue.back_mut().expect("ensured above");
        batch.records.push(record);
        batch.completions.push(completion);
        batch.size_bytes += size;
        started
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
        self.producer_id = None;
        self.sequences.clear();
        for queue in self.queues.values_mut() {
            for batch in std::mem::take(queue) {
                if batch.maybe_appended && batch.sequence.is_some() {
                    let reason = batch.last_error.clone().unwrap_or_else(|| "unknown".into());
                    batch.fail(&format!(
                        "OutOfOrderSequenceException: the producer id was reset while this batch's outcome was \
                         unknown (last error: {reason})"
                    ));
                } else {
                    let mut batch = batch;
                    batch.sequence = None;
                    queue.push_back(batch);
                }
            }
        }
    }

    /// Marks a request's batches as no longer in flight.
    pub fn release(&mut self, leader: BrokerId, batches: &[Batch]) {
        if let Some(n) = self.in_flight.get_mut(&leader) {
            *n = n.saturating_sub(1);
        }
        for batch in batches {
            self.release_partition(&batch.tp);
        }
    }

    /// Whether some batch of the partition is in flight.
    pub fn has_in_flight(&self, tp: &TopicPartition) -> bool {
        self.partition_in_flight.get(tp).is_some_and(|&n| n > 0)
    }

    /// Marks one batch of a partition as no longer in flight.
    pub fn release_partition(&mut self, tp: &TopicPartition) {
        if let Some(n) = self.partition_in_flight.get_mut(tp) {
            *n = n.saturating_sub(1);
        }
    }

    /// Re-enqueues a failed batch for another attempt, or fails it when retries or the
    /// delivery timeout are exhausted. A plain producer puts it at the front of its
    /// partition's queue (Kafka's `reenqueue`); an idempotent one inserts it in send
    /// order (`insertInSequenceOrder`).
    ///
    /// An idempotent batch whose partition's sequences were restarted while it was in
    /// flight (an epoch bump or a producer id reset) cannot keep its old sequence: it is
    /// re-sequenced if no attempt can have been appended, and failed with an unknown
    /// outcome otherwise (as `reset_producer_id` does), without resetting anything again.
    pub fn retry_or_fail(&mut self, config: &ProducerConfig, mut batch: Batch, reason: &str, retriable: bool) {
        let now = Instant::now();
        let within_deadline = now.duration_since(batch.created) < Duration::from_millis(config.delivery_timeout_ms);
        let stale = self.is_stale(&batch);
        if !(retriable && batch.attempts <= config.retries && within_deadline) {
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
        batch.retry_at = Some(now + Duration::from_millis(config.retry_backoff_ms));
        batch.last_error = Some(reason.to_string());
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        if config.enable_idempotence {
            let position = queue.iter().position(|b| b.order > batch.order).unwrap_or(queue.len());
            queue.insert(position, batch);
        } else {
            queue.push_front(batch);
        }
    }

    /// Takes the ready batches off the accumulator, grouped by leader (`leader_of`, from
    /// the cluster metadata), and fails the ones that waited past `delivery.timeout.ms`.
    /// Returns them and the next time something becomes ready.
    pub fn drain_ready(
        &mut self,
        config: &ProducerConfig,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> (BTreeMap<BrokerId, Vec<Batch>>, Option<Instant>) {
        let now = Instant::now();
        let linger = Duration::from_millis(config.linger_ms);
        let delivery_timeout = Duration::from_millis(config.delivery_timeout_ms);
        let mut ready: BTreeMap<BrokerId, Vec<Batch>> = BTreeMap::new();
        let mut next_wake: Option<Instant> = None;
        let mut earliest = |at: Instant| next_wake = Some(next_wake.map_or(at, |w: Instant| w.min(at)));
        let idempotent = config.enable_idempotence;
        if idempotent && self.producer_id.is_none() {
            return (ready, None);
        }
        let tps: Vec<TopicPartition> = self.queues.keys().cloned().collect();
        for tp in tps {
            let expired = self.expire(&tp, now, delivery_timeout);
            if expired && idempotent {
                self.reset_producer_id();
                return (BTreeMap::new(), Some(now));
            }
            let partition_busy = self.has_in_flight(&tp);
            let queue = self.queues.get_mut(&tp).expect("listed above");
            let Some(front) = queue.front() else { continue };
            earliest(front.created + delivery_timeout);
            // In-flight 1 guarantees order by sending one batch per partition at a time;
            // an idempotent retry waits until its partition's earlier sends resolved.
            let ordered = config.max_in_flight_requests_per_connection == 1 || (idempotent && front.attempts > 0);
            if ordered && partition_busy {
                continue;
            }
            if let Some(retry_at) = front.retry_at.filter(|at| *at > now) {
                earliest(retry_at);
                continue;
            }
            let full = queue.len() > 1 || front.size_bytes >= config.batch_size;
            let lingered = now >= front.created + linger;
            if !(full || lingered || self.flushing || front.attempts > 0) {
                earliest(front.created + linger);
                continue;
            }
            let Some((leader, _)) = leader_of(&tp) else {
                self.need_metadata = true;
                continue;
            };
            // One request per broker per round carries every ready partition's batch, so
            // the limit applies to requests already in flight.
            if self.in_flight.get(&leader).copied().unwrap_or(0) >= config.max_in_flight_requests_per_connection {
                continue;
            }
            let mut batch = queue.pop_front().expect("front exists");
            if idempotent && !self.assign_sequence(&mut batch) {
                // The partition's batches of an older epoch are still unresolved.
                self.queues.get_mut(&tp).expect("listed above").push_front(batch);
                continue;
            }
            *self.partition_in_flight.entry(tp.clone()).or_default() += 1;
            ready.entry(leader).or_default().push(batch);
        }
        for leader in ready.keys() {
            *self.in_flight.entry(*leader).or_default() += 1;
        }
        (ready, next_wake)
    }

    /// Fails the batches at the front of a partition's queue that are past the delivery
    /// timeout (never one in flight). Returns whether any expired.
    fn expire(&mut self, tp: &TopicPartition, now: Instant, delivery_timeout: Duration) -> bool {
        let Some(queue) = self.queues.get_mut(tp) else { return false };
        let mut expired = false;
        while queue.front().is_some_and(|b| now.duration_since(b.created) >= delivery_timeout) {
            let batch = queue.pop_front().expect("checked");
            let reason = batch.last_error.clone().unwrap_or_else(|| "no attempt".into());
            batch.fail(&format!("TimeoutException: delivery.timeout.ms expired (last error: {reason})"));
            expired = true;
        }
        expired
    }
}
