//! The record accumulator (Kafka's `RecordAccumulator`): one queue of batches per
//! partition, when a batch is ready, how many requests may be in flight, where a failed
//! batch goes back, and when a queued batch expires.
//!
//! It knows nothing of producer ids or sequence numbers: whether a ready batch may
//! actually be sent is asked of the caller's gate at drain time (the idempotent producer
//! assigns its sequence there, see `state`).

use super::batch::Batch;
use super::config::ProducerConfig;
use super::delivery::Completion;
use crate::client::connection_states::Readiness;
use crate::client::partitioner::QueueSizes;
use crate::protocol::{BrokerId, LeaderEpoch, Record, TopicPartition};
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// The batches waiting to be sent and the requests in flight.
#[derive(Default)]
pub(super) struct Accumulator {
    /// The queued batches per partition, oldest first. A queue stays once created, as
    /// Kafka's deques do (the adaptive partitioner counts them).
    queues: BTreeMap<TopicPartition, VecDeque<Batch>>,
    /// The partitions whose queue holds a batch: what a drain or an expiry looks at.
    /// (Kafka's `ready` walks every deque and skips the empty ones; with thousands of
    /// partitions and a drain at every wake-up, walking only these keeps a run's cost
    /// proportional to its traffic.)
    waiting: BTreeSet<TopicPartition>,
    /// Requests in flight per broker connection.
    in_flight: BTreeMap<BrokerId, u32>,
    /// Batches in flight per partition.
    partition_in_flight: BTreeMap<TopicPartition, u32>,
    /// The order number of the next batch created.
    next_order: u64,
    /// Whether a `flush()` is waiting: every batch is ready at once (Kafka's
    /// `RecordAccumulator.flushInProgress`).
    pub flushing: bool,
    /// The adaptive partitioner's queue lengths per topic as last computed, kept up to
    /// date as the queues change (see [`Accumulator::queue_sizes`]).
    load_cache: BTreeMap<Arc<str>, CachedQueueSizes>,
    /// When each leader last had batches ready and last could take them, kept only with
    /// a `partitioner.availability.timeout.ms` (`RecordAccumulator.nodeStats`).
    node_latency: BTreeMap<BrokerId, NodeLatency>,
}

/// When a leader last had ready batches and when it last could take them
/// (`RecordAccumulator.NodeLatencyStats`).
#[derive(Clone, Copy, Debug)]
struct NodeLatency {
    ready: Instant,
    drained: Instant,
}

/// [`Accumulator::queue_sizes`]'s last answer for a topic.
struct CachedQueueSizes {
    /// The generation of the metadata the leaders were read from
    /// ([`crate::client::metadata::ClusterView::generation`]).
    metadata_generation: u64,
    /// The topic's partition count it was computed for.
    partitions: u32,
    /// The answer, its lengths kept current by [`Accumulator::note_queue`].
    sizes: Option<QueueSizes>,
}

/// What one drain took off the accumulator.
pub(super) struct Drain {
    /// One request's batches per leader: at most one batch per partition, in partition
    /// order.
    pub requests: BTreeMap<BrokerId, Vec<Batch>>,
    /// The next time a queued batch becomes ready or expires, if any is queued.
    pub next_wake: Option<Instant>,
    /// Whether a batch was ready for a partition whose leader is unknown, so the
    /// metadata needs a refresh.
    pub leader_unknown: bool,
}

impl Accumulator {
    /// Whether nothing is buffered or in flight.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.values().all(|n| *n == 0)
    }

    /// Keeps [`Accumulator::waiting`] and the cached queue lengths in step after `tp`'s
    /// queue changed.
    fn note_queue(&mut self, tp: &TopicPartition) {
        if let Some(sizes) = self.load_cache.get_mut(&tp.topic).and_then(|cache| cache.sizes.as_mut()) {
            if let Ok(index) = sizes.partitions.binary_search(&tp.partition) {
                sizes.sizes[index] = self.queues.get(tp).map_or(0, VecDeque::len) as u32;
            }
        }
        match self.queues.get(tp).is_some_and(|queue| !queue.is_empty()) {
            true => {
                if !self.waiting.contains(tp) {
                    self.waiting.insert(tp.clone());
                }
            }
            false => {
                self.waiting.remove(tp);
                // An empty queue keeps its entry (see `queues`) but not its storage: a
                // producer writing to thousands of partitions would otherwise hold room
                // for four batches on each of them, most of the time for nothing.
                if let Some(queue) = self.queues.get_mut(tp) {
                    *queue = VecDeque::new();
                }
            }
        }
    }

    /// Adds a record to its partition's last batch, or a new batch when it does not fit
    /// (`batch.size`) or the last batch was already sent. Returns whether a new batch was
    /// started.
    pub fn append(&mut self, tp: TopicPartition, record: Record, completion: Completion, batch_size: u64) -> bool {
        let size = record.size_bytes();
        let started = !self.joins_last_batch(&tp, size, batch_size);
        self.forget_sizes_if_new(&tp);
        let queue = self.queues.entry(tp.clone()).or_default();
        if started {
            queue.push_back(Batch::new(tp.clone(), self.next_order));
            self.next_order += 1;
        }
        let batch = queue.back_mut().expect("ensured above");
        batch.records.push(record);
        batch.completions.push(completion);
        batch.size_bytes += size;
        if started {
            self.note_queue(&tp);
        }
        started
    }

    /// Whether a record of `size` bytes would join the partition's last batch rather
    /// than start a new one (Kafka's `tryAppend` succeeding).
    pub fn joins_last_batch(&self, tp: &TopicPartition, size: u64, batch_size: u64) -> bool {
        let last = self.queues.get(tp).and_then(VecDeque::back);
        last.is_some_and(|b| b.attempts == 0 && b.size_bytes + size <= batch_size)
    }

    /// Whether the partition's queue holds a full batch: two batches or more, or a last
    /// one that reached `batch_size` (`RecordAccumulator.append`'s `batchIsFull`).
    pub fn batch_is_full(&self, tp: &TopicPartition, batch_size: u64) -> bool {
        self.queues
            .get(tp)
            .is_some_and(|queue| queue.len() > 1 || queue.back().is_some_and(|batch| batch.size_bytes >= batch_size))
    }

    /// Whether the partition's last queued batch, if any, takes no more records: it
    /// reached `batch.size` or was sent (`RecordAccumulator.allBatchesFull`).
    pub fn all_batches_full(&self, tp: &TopicPartition, batch_size: u64) -> bool {
        let last = self.queues.get(tp).and_then(VecDeque::back);
        last.is_none_or(|b| b.attempts > 0 || b.size_bytes >= batch_size)
    }

    /// The queue lengths the adaptive partitioner weighs (`RecordAccumulator.partitionReady`),
    /// or `None` until every one of the topic's `partitions` has a queue. Partitions
    /// without a known leader are left out, and with a `partitioner.availability.timeout.ms`
    /// so are those with batches waiting whose leader had batches ready but could take no
    /// request for longer than it.
    ///
    /// Kafka walks every partition in every `ready`; here the answer is kept and its
    /// lengths updated as queues change, and walked again only when the metadata's
    /// `generation` or the partition count changed, a queue was created, or with a
    /// `partitioner.availability.timeout.ms` (whose answer moves with time): the same
    /// answers, without a walk over thousands of partitions at every sender wake-up.
    pub fn queue_sizes(
        &mut self,
        config: &ProducerConfig,
        topic: &str,
        partitions: u32,
        generation: u64,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> Option<QueueSizes> {
        if config.partitioner_availability_timeout_ms > 0 {
            return self.walk_queue_sizes(config, topic, partitions, leader_of);
        }
        if let Some(cache) = self.load_cache.get(topic) {
            if cache.metadata_generation == generation && cache.partitions == partitions {
                return cache.sizes.clone();
            }
        }
        let sizes = self.walk_queue_sizes(config, topic, partitions, leader_of);
        let cache = CachedQueueSizes { metadata_generation: generation, partitions, sizes: sizes.clone() };
        self.load_cache.insert(topic.into(), cache);
        sizes
    }

    /// Forgets the cached queue lengths of `tp`'s topic if `tp` has no queue yet: the
    /// count of queues changes.
    fn forget_sizes_if_new(&mut self, tp: &TopicPartition) {
        if !self.queues.contains_key(tp) {
            self.load_cache.remove(&tp.topic);
        }
    }

    /// [`Accumulator::queue_sizes`] from a walk over the topic's queues.
    fn walk_queue_sizes(
        &self,
        config: &ProducerConfig,
        topic: &str,
        partitions: u32,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
    ) -> Option<QueueSizes> {
        let queues: Vec<(&TopicPartition, &VecDeque<Batch>)> = TopicPartition::of_topic(&self.queues, topic).collect();
        if queues.len() < partitions as usize {
            return None;
        }
        let timeout = Duration::from_millis(config.partitioner_availability_timeout_ms);
        let mut sizes = QueueSizes { queues: queues.len(), ..QueueSizes::default() };
        for (tp, queue) in queues {
            let Some((leader, _)) = leader_of(tp) else { continue };
            let unavailable = !queue.is_empty()
                && !timeout.is_zero()
                && self.node_latency.get(&leader).is_some_and(|n| n.ready.duration_since(n.drained) > timeout);
            if !unavailable {
                sizes.sizes.push(queue.len() as u32);
                sizes.partitions.push(tp.partition);
            }
        }
        Some(sizes)
    }

    /// The batches queued for `tp`, oldest first (none in flight).
    #[cfg(test)]
    pub fn queued(&self, tp: &TopicPartition) -> impl Iterator<Item = &Batch> {
        self.queues.get(tp).into_iter().flatten()
    }

    /// The partitions with a batch queued or in flight.
    pub fn unfinished_partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        let in_flight = self.partition_in_flight.iter().filter(|(tp, &n)| n > 0 && !self.waiting.contains(*tp));
        self.waiting.iter().chain(in_flight.map(|(tp, _)| tp))
    }

    /// Whether some batch of the partition is in flight.
    pub fn has_in_flight(&self, tp: &TopicPartition) -> bool {
        self.partition_in_flight.get(tp).is_some_and(|&n| n > 0)
    }

    /// Marks a request to `leader` and its batches as no longer in flight.
    pub fn release(&mut self, leader: BrokerId, batches: &[Batch]) {
        self.release_request(leader);
        for batch in batches {
            self.release_partition(&batch.tp);
        }
    }

    /// Marks one request to `leader` as no longer in flight.
    pub fn release_request(&mut self, leader: BrokerId) {
        if let Some(n) = self.in_flight.get_mut(&leader) {
            *n = n.saturating_sub(1);
        }
    }

    /// Marks one batch of a partition as no longer in flight.
    pub fn release_partition(&mut self, tp: &TopicPartition) {
        if let Some(n) = self.partition_in_flight.get_mut(tp) {
            *n = n.saturating_sub(1);
        }
    }

    /// Queues a failed batch for another attempt after the retry backoff:
    /// `retry.backoff.ms`, from Kafka 3.7 `backoff(attempts - 1)` growing to
    /// `retry.backoff.max.ms` (KIP-580, `RecordAccumulator.shouldBackoff`). A plain
    /// producer puts it at the front of its partition's queue (`RecordAccumulator.reenqueue`);
    /// an idempotent one inserts it in send order (`insertInSequenceOrder`), behind the
    /// partition's earlier batches that came back before it.
    pub fn reenqueue(&mut self, config: &ProducerConfig, mut batch: Batch, reason: &str, now: Instant) {
        // Kafka draws the jitter anew at every ready check (`RecordAccumulator.ready` and
        // `drain` call `retryBackoff.backoff(attempts - 1)` each time); kafkasim draws it
        // once per retry, from the seeded RNG: one wait in the same band.
        let attempts = u64::from(batch.attempts).saturating_sub(1);
        batch.retry_at = Some(now + config.retry_backoff().backoff(attempts));
        batch.last_error = Some(reason.to_string());
        let tp = batch.tp.clone();
        self.forget_sizes_if_new(&tp);
        let queue = self.queues.entry(tp.clone()).or_default();
        if config.enable_idempotence {
            let position = queue.iter().position(|b| b.order > batch.order).unwrap_or(queue.len());
            queue.insert(position, batch);
        } else {
            queue.push_front(batch);
        }
        self.note_queue(&tp);
    }

    /// Takes the ready batches off the accumulator, grouped by leader (`leader_of`, from
    /// the cluster metadata) (Kafka's `ready` and `drain` in one pass over the
    /// partitions).
    ///
    /// A partition's front batch goes if it is ready (`batch.size` reached, `linger.ms`
    /// passed, a flush, or a retry whose backoff passed), its leader is known and below
    /// `max.in.flight.requests.per.connection`, and `admit` lets it: `admit` gets the
    /// batch, already off its queue, and may refuse it, when the batch goes back to the
    /// front (an idempotent producer's sequence rules, see `idempotence`; Kafka's drain
    /// stops at such a batch for the whole broker and starts its next drain after it,
    /// this one skips it). Each drained leader counts one request more in flight.
    ///
    pub fn drain(
        &mut self,
        config: &ProducerConfig,
        now: Instant,
        leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
        mut connection_ready: impl FnMut(BrokerId) -> Readiness,
        mut admit: impl FnMut(&mut Batch) -> bool,
    ) -> Drain {
        let linger = Duration::from_millis(config.linger_ms);
        let delivery_timeout = Duration::from_millis(config.delivery_timeout_ms);
        let mut requests: BTreeMap<BrokerId, Vec<Batch>> = BTreeMap::new();
        let mut next_wake: Option<Instant> = None;
        let mut earliest = |at: Instant| next_wake = Some(next_wake.map_or(at, |w: Instant| w.min(at)));
        let mut leader_unknown = false;
        // Asked once per leader and drain, as `Sender.sendProducerData` asks
        // `NetworkClient.ready` once per node with a ready batch.
        let mut readiness: BTreeMap<BrokerId, Readiness> = BTreeMap::new();
        let tps: Vec<TopicPartition> = self.waiting.iter().cloned().collect();
        for tp in tps {
            let partition_busy = self.has_in_flight(&tp);
            let queue = self.queues.get_mut(&tp).expect("listed above");
            let Some(front) = queue.front() else { continue };
            earliest(front.created + delivery_timeout);
            // In-flight 1 guarantees order by sending one batch per partition at a time
            // (`RecordAccumulator.drainBatchesForOneNode`: a muted partition is skipped).
            if config.max_in_flight_requests_per_connection == 1 && partition_busy {
                continue;
            }
            if let Some(retry_at) = front.retry_at.filter(|at| *at > now) {
                earliest(retry_at);
                continue;
            }
            // `RecordAccumulator.batchReady`: a queue of two batches means the first is full.
            let full = queue.len() > 1 || front.size_bytes >= config.batch_size;
            let lingered = now >= front.created + linger;
            if !(full || lingered || self.flushing || front.attempts > 0) {
                earliest(front.created + linger);
                continue;
            }
            let Some((leader, _)) = leader_of(&tp) else {
                leader_unknown = true;
                continue;
            };
            // A leader without an established connection takes nothing: its batches stay
            // queued, in order and without an attempt, until it connects or the metadata
            // names another leader (`Sender.sendProducerData` removes the nodes
            // `NetworkClient.ready` refuses and polls again at `pollDelayMs`).
            let connected = match *readiness.entry(leader).or_insert_with(|| connection_ready(leader)) {
                Readiness::Ready => true,
                Readiness::NotReady { poll_at } => {
                    if let Some(at) = poll_at {
                        earliest(at);
                    }
                    false
                }
            };
            // One request per broker per drain carries every ready partition's batch, so
            // the limit applies to requests already in flight.
            let can_drain = connected
                && self.in_flight.get(&leader).copied().unwrap_or(0) < config.max_in_flight_requests_per_connection;
            if config.partitioner_availability_timeout_ms > 0 {
                node_ready(&mut self.node_latency, leader, now, can_drain);
            }
            if !can_drain {
                continue;
            }
            let mut batch = queue.pop_front().expect("front exists");
            if !admit(&mut batch) {
                self.queues.get_mut(&tp).expect("listed above").push_front(batch);
                continue;
            }
            self.note_queue(&tp);
            // One batch per partition per request (`drainBatchesForOneNode`); the next
            // waits for the next drain, which Kafka's Sender runs at once while the leader
            // can take another request: a node still ready makes `sendProducerData` poll
            // with a zero timeout.
            let more_queued = self.queues.get(&tp).is_some_and(|queue| !queue.is_empty());
            let room =
                self.in_flight.get(&leader).copied().unwrap_or(0) + 1 < config.max_in_flight_requests_per_connection;
            if more_queued && room {
                earliest(now);
            }
            *self.partition_in_flight.entry(tp.clone()).or_default() += 1;
            requests.entry(leader).or_default().push(batch);
        }
        for leader in requests.keys() {
            *self.in_flight.entry(*leader).or_default() += 1;
        }
        Drain { requests, next_wake, leader_unknown }
    }

    /// Takes every queued batch off its queue (never one in flight): what an aborted
    /// transaction fails (`RecordAccumulator.abortUndrainedBatches`).
    pub fn take_queued(&mut self) -> Vec<Batch> {
        self.waiting.clear();
        self.load_cache.clear();
        self.queues.values_mut().flat_map(|queue| queue.drain(..)).collect()
    }

    /// Whether nothing is in flight.
    pub fn nothing_in_flight(&self) -> bool {
        self.in_flight.values().all(|n| *n == 0)
    }

    /// Takes off every partition's queue the batches at its front that waited past
    /// `delivery.timeout.ms` (never one in flight), partition by partition, oldest
    /// first; the caller fails them (Kafka's `RecordAccumulator.expiredBatches`).
    pub fn expired(&mut self, config: &ProducerConfig, now: Instant) -> Vec<Batch> {
        let mut expired = Vec::new();
        // Asked at every sender wake-up, with every waiting partition's queue usually
        // unchanged: only the queues that lost a batch are noted.
        let mut changed = Vec::new();
        for tp in &self.waiting {
            let queue = self.queues.get_mut(tp).expect("a waiting partition has a queue");
            let before = expired.len();
            while queue.front().is_some_and(|b| b.delivery_timed_out(config, now)) {
                expired.push(queue.pop_front().expect("checked"));
            }
            if expired.len() > before {
                changed.push(tp.clone());
            }
        }
        for tp in changed {
            self.note_queue(&tp);
        }
        expired
    }
}

/// A leader had batches ready now, and could take them or not
/// (`RecordAccumulator.updateNodeLatencyStats`, from `Sender.sendProducerData`).
fn node_ready(stats: &mut BTreeMap<BrokerId, NodeLatency>, leader: BrokerId, now: Instant, can_drain: bool) {
    let latency = stats.entry(leader).or_insert(NodeLatency { ready: now, drained: now });
    latency.ready = now;
    if can_drain {
        latency.drained = now;
    }
}
