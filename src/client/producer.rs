//! The producer, built like Kafka's: `send` picks a partition and appends the record to
//! that partition's batch in the accumulator; one sender task drains ready batches to
//! their leaders, at most one batch per partition per request and at most
//! `max.in.flight.requests.per.connection` requests per broker; failed batches are
//! re-enqueued at the front of their partition's queue and retried after
//! `retry.backoff.ms` while `retries` and `delivery.timeout.ms` allow.
//!
//! Duplicates and reordering come from these mechanisms alone: a retry after a lost
//! response appends the batch again, and with more than one request in flight a failed
//! batch retried after a later one succeeded lands behind it.

use super::metadata::ClusterView;
use super::partitioner::{partition_for_key, StickyPartitioner};
use crate::protocol::{
    Acks, BrokerId, ErrorCode, Offset, ProduceRequest, Record, RecordBatch, Request, Response, TopicPartition,
};
use crate::sim::net::{Addr, NetError, NodeNet, PendingResponse};
use madsim::time::{sleep, sleep_until, Instant};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{oneshot, Notify};

/// Producer settings, with Kafka's names and meanings.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<Addr>,
    /// `acks`.
    pub acks: Acks,
    /// `retries`: how many times a failed batch is sent again.
    pub retries: u32,
    /// `request.timeout.ms`: how long to wait for a produce response.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`: the pause before a batch is retried.
    pub retry_backoff_ms: u64,
    /// `delivery.timeout.ms`: the bound on the time from `send` to success or failure.
    pub delivery_timeout_ms: u64,
    /// `batch.size`, in bytes.
    pub batch_size: u64,
    /// `linger.ms`: how long a non-full batch waits for more records.
    pub linger_ms: u64,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight_requests_per_connection: u32,
    /// `max.block.ms`: how long `send` waits for metadata.
    pub max_block_ms: u64,
}

/// A record to send.
#[derive(Clone, Debug)]
pub struct ProducerRecord {
    /// The topic.
    pub topic: String,
    /// An explicit partition, overriding the partitioner.
    pub partition: Option<u32>,
    /// The key.
    pub key: Option<String>,
    /// The value.
    pub value: u64,
}

/// Where an acknowledged record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset, unknown with acks=0.
    pub offset: Option<Offset>,
}

/// Why a send failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// Kafka's exception or error name, e.g. `NOT_ENOUGH_REPLICAS` or `TimeoutException`.
    pub reason: String,
    /// True if no attempt can have been appended (every attempt was refused before
    /// append); false if the outcome is unknown.
    pub definite: bool,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

type Completion = oneshot::Sender<Result<RecordMetadata, SendError>>;

/// A batch in the accumulator or in flight.
struct Batch {
    tp: TopicPartition,
    records: Vec<Record>,
    completions: Vec<Completion>,
    size_bytes: u64,
    created: Instant,
    attempts: u32,
    retry_at: Option<Instant>,
    /// Whether some attempt may have been appended by a leader.
    maybe_appended: bool,
    last_error: Option<String>,
}

impl Batch {
    fn complete(self, base_offset: Option<Offset>) {
        for (i, completion) in self.completions.into_iter().enumerate() {
            let offset = base_offset.map(|b| b + i as Offset);
            let _ = completion.send(Ok(RecordMetadata { tp: self.tp.clone(), offset }));
        }
    }

    fn fail(self, reason: &str) {
        let error = SendError { reason: reason.to_string(), definite: !self.maybe_appended };
        for completion in self.completions {
            let _ = completion.send(Err(error.clone()));
        }
    }
}

#[derive(Default)]
struct State {
    queues: BTreeMap<TopicPartition, VecDeque<Batch>>,
    in_flight: BTreeMap<BrokerId, u32>,
    /// Partitions with a batch in flight, when ordering is guaranteed (in-flight = 1).
    muted: BTreeSet<TopicPartition>,
    partition_counts: BTreeMap<String, u32>,
    need_metadata: bool,
    disconnect: BTreeSet<BrokerId>,
    sticky: BTreeMap<String, StickyPartitioner>,
    flushing: bool,
}

struct Shared {
    config: ProducerConfig,
    state: Mutex<State>,
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("producer state poisoned")
    }
}

/// A Kafka producer. Cheap to share; its sender task ends when the node dies.
pub struct Producer {
    shared: Arc<Shared>,
    sender: madsim::task::JoinHandle<()>,
}

/// A pending send's outcome.
pub struct Delivery {
    rx: Option<oneshot::Receiver<Result<RecordMetadata, SendError>>>,
    early_error: Option<SendError>,
}

impl Delivery {
    /// Waits for the outcome.
    pub async fn wait(self) -> Result<RecordMetadata, SendError> {
        if let Some(error) = self.early_error {
            return Err(error);
        }
        match self.rx {
            Some(rx) => {
                rx.await.unwrap_or_else(|_| Err(SendError { reason: "producer closed".into(), definite: false }))
            }
            None => Err(SendError { reason: "producer closed".into(), definite: true }),
        }
    }
}

impl Producer {
    /// Starts a producer and its sender task on the calling node.
    pub fn new(net: NodeNet<Request, Response>, config: ProducerConfig) -> Self {
        let view = ClusterView::new(net, config.bootstrap.clone());
        let shared = Arc::new(Shared { config, state: Mutex::default(), wake: Notify::new() });
        let sender_shared = shared.clone();
        let sender = madsim::task::spawn(async move { run_sender(sender_shared, view).await });
        Producer { shared, sender }
    }

    /// Partitions the record and appends it to the accumulator, waiting up to
    /// `max.block.ms` for the topic's metadata. The returned [`Delivery`] resolves when
    /// the record is acknowledged or fails.
    pub async fn send(&self, record: ProducerRecord) -> Delivery {
        let deadline = Instant::now() + Duration::from_millis(self.shared.config.max_block_ms);
        loop {
            let known = self.shared.lock().partition_counts.get(&record.topic).copied();
            if let Some(count) = known {
                return self.append(record, count);
            }
            self.shared.lock().need_metadata = true;
            self.shared.wake.notify_waiters();
            // Created after our own notification, so only the sender's answer wakes it.
            let notified = self.shared.wake.notified();
            tokio::select! {
            biased;
                    _ = notified => {}
                    _ = sleep(Duration::from_millis(50)) => {}
                    _ = sleep_until(deadline) => {
                        return Delivery {
                            rx: None,
                            early_error: Some(SendError {
                                reason: "TimeoutException: metadata not available within max.block.ms".into(),
                                definite: true,
                            }),
                        };
                    }
                }
        }
    }

    /// The partition a record goes to, as Kafka's default partitioner decides.
    fn choose_partition(state: &mut State, record: &ProducerRecord, partitions: u32) -> u32 {
        if let Some(p) = record.partition {
            return p;
        }
        if let Some(key) = &record.key {
            return partition_for_key(key.as_bytes(), partitions);
        }
        state.sticky.entry(record.topic.clone()).or_default().partition(partitions)
    }

    fn append(&self, record: ProducerRecord, partitions: u32) -> Delivery {
        let (tx, rx) = oneshot::channel();
        let config = &self.shared.config;
        {
            let mut state = self.shared.lock();
            let partition = Self::choose_partition(&mut state, &record, partitions);
            let tp = TopicPartition::new(&record.topic, partition);
            let stored = Record { key: record.key.clone(), value: record.value, timestamp_ms: now_ms() };
            let size = stored.size_bytes();
            let queue = state.queues.entry(tp.clone()).or_default();
            let fits = queue.back().is_some_and(|b| b.attempts == 0 && b.size_bytes + size <= config.batch_size);
            if !fits {
                let batch_was_open = !queue.is_empty();
                queue.push_back(Batch {
                    tp,
                    records: Vec::new(),
                    completions: Vec::new(),
                    size_bytes: 0,
                    created: Instant::now(),
                    attempts: 0,
                    retry_at: None,
                    maybe_appended: false,
                    last_error: None,
                });
                if batch_was_open && record.partition.is_none() && record.key.is_none() {
                    // KIP-480: a new batch moves the sticky partition on.
                    state.sticky.entry(record.topic.clone()).or_default().next_partition(partitions);
                }
            }
            let queue = state.queues.get_mut(&TopicPartition::new(&record.topic, partition)).expect("just created");
            let batch = queue.back_mut().expect("just ensured");
            batch.records.push(stored);
            batch.completions.push(tx);
            batch.size_bytes += size;
        }
        self.shared.wake.notify_waiters();
        Delivery { rx: Some(rx), early_error: None }
    }

    /// Makes every buffered batch ready at once (as `flush()` does) and waits until the
    /// accumulator is empty and nothing is in flight.
    pub async fn flush(&self) {
        self.shared.lock().flushing = true;
        loop {
            self.shared.wake.notify_waiters();
            let notified = self.shared.wake.notified();
            {
                let state = self.shared.lock();
                let empty = state.queues.values().all(VecDeque::is_empty) && state.in_flight.values().all(|n| *n == 0);
                if empty {
                    drop(state);
                    self.shared.lock().flushing = false;
                    return;
                }
            }
            tokio::select! {
            biased;
                    _ = notified => {}
                    _ = sleep(Duration::from_millis(10)) => {}
                }
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.sender.abort();
    }
}

fn now_ms() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_millis() as u64
}

/// A produce request on its way, with the batches it carries.
struct InFlight {
    leader: BrokerId,
    batches: Vec<Batch>,
    response: PendingResponse<Response>,
}

async fn run_sender(shared: Arc<Shared>, mut view: ClusterView) {
    let config = shared.config.clone();
    let request_timeout = Duration::from_millis(config.request_timeout_ms);
    loop {
        let notified = shared.wake.notified();
        let (disconnect, need_metadata) = {
            let mut state = shared.lock();
            (std::mem::take(&mut state.disconnect), std::mem::take(&mut state.need_metadata))
        };
        for broker in disconnect {
            view.disconnect(broker);
        }
        if need_metadata || view.take_disconnect() {
            let topics: Vec<String> = Vec::new();
            if view.refresh(&topics, request_timeout).await {
                shared.lock().partition_counts.extend(view.partition_counts());
                shared.wake.notify_waiters();
            } else {
                shared.lock().need_metadata = true;
                sleep(Duration::from_millis(config.retry_backoff_ms.max(1))).await;
                continue;
            }
        }
        let (requests, next_wake) = drain_ready(&shared, &view);
        if tracing::enabled!(tracing::Level::TRACE) {
            let state = shared.lock();
            let queued: Vec<(String, usize)> = state.queues.iter().map(|(tp, q)| (tp.to_string(), q.len())).collect();
            tracing::trace!(?queued, in_flight = ?state.in_flight, muted = ?state.muted, ready = requests.len(), "sender round");
        }
        for (leader, batches) in requests {
            send_batches(&shared, &mut view, leader, batches);
        }
        let wake_at = next_wake.unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        tokio::select! {
        biased;
            _ = notified => {}
            _ = sleep_until(wake_at) => {}
        }
    }
}

/// Takes the ready batches off the accumulator, grouped by leader; fails expired ones.
/// Returns them and the next time something becomes ready.
fn drain_ready(shared: &Shared, view: &ClusterView) -> (BTreeMap<BrokerId, Vec<Batch>>, Option<Instant>) {
    let config = &shared.config;
    let now = Instant::now();
    let linger = Duration::from_millis(config.linger_ms);
    let delivery_timeout = Duration::from_millis(config.delivery_timeout_ms);
    let mut state = shared.lock();
    let state = &mut *state;
    let mut ready: BTreeMap<BrokerId, Vec<Batch>> = BTreeMap::new();
    let mut next_wake: Option<Instant> = None;
    let mut earliest = |at: Instant| next_wake = Some(next_wake.map_or(at, |w: Instant| w.min(at)));
    for (tp, queue) in state.queues.iter_mut() {
        // Expire batches that waited past delivery.timeout.ms (never one in flight).
        while queue.front().is_some_and(|b| now.duration_since(b.created) >= delivery_timeout) {
            let batch = queue.pop_front().expect("checked");
            let reason =
                batch.last_error.clone().unwrap_or_else(|| "TimeoutException: delivery.timeout.ms expired".into());
            batch.fail(&format!("TimeoutException: expired in the accumulator after {reason}"));
        }
        let Some(front) = queue.front() else { continue };
        earliest(front.created + delivery_timeout);
        if state.muted.contains(tp) {
            continue;
        }
        if let Some(retry_at) = front.retry_at {
            if retry_at > now {
                earliest(retry_at);
                continue;
            }
        }
        let full = queue.len() > 1 || front.size_bytes >= config.batch_size;
        let lingered = now >= front.created + linger;
        if !(full || lingered || state.flushing || front.attempts > 0) {
            earliest(front.created + linger);
            continue;
        }
        let Some((leader, _)) = view.leader(tp) else {
            state.need_metadata = true;
            continue;
        };
        // One request per broker per round carries every ready partition's batch, so the
        // limit applies to requests already in flight.
        let in_flight = state.in_flight.get(&leader).copied().unwrap_or(0);
        if in_flight >= config.max_in_flight_requests_per_connection {
            continue;
        }
        let batch = queue.pop_front().expect("front exists");
        ready.entry(leader).or_default().push(batch);
    }
    for (leader, batches) in &ready {
        *state.in_flight.entry(*leader).or_default() += 1;
        if config.max_in_flight_requests_per_connection == 1 {
            state.muted.extend(batches.iter().map(|b| b.tp.clone()));
        }
    }
    (ready, next_wake)
}

/// Sends one produce request to `leader` and spawns the task that handles its answer.
fn send_batches(shared: &Arc<Shared>, view: &mut ClusterView, leader: BrokerId, mut batches: Vec<Batch>) {
    let config = &shared.config;
    for batch in &mut batches {
        batch.attempts += 1;
    }
    let request = ProduceRequest {
        acks: config.acks,
        timeout_ms: config.request_timeout_ms,
        batches: batches.iter().map(|b| (b.tp.clone(), RecordBatch::plain(b.records.clone()))).collect(),
    };
    let Some(conn) = view.connection(leader) else {
        requeue_all(shared, leader, batches, "NetworkException: no connection to the leader", false);
        return;
    };
    if config.acks == Acks::None {
        // acks=0: the record counts as sent once it is on the wire.
        let sent = conn.send_without_response(Request::Produce(request));
        {
            let mut state = shared.lock();
            release(&mut state, leader, &batches, config);
        }
        for batch in batches {
            if sent {
                batch.complete(None);
            } else {
                batch.fail("NetworkException: connection closed");
            }
        }
        shared.wake.notify_waiters();
        return;
    }
    tracing::debug!(%leader, batches = batches.len(), "produce request sent");
    let response = conn.send(Request::Produce(request));
    let shared = shared.clone();
    madsim::task::spawn(async move {
        let in_flight = InFlight { leader, batches, response };
        handle_response(&shared, in_flight).await;
    });
}

fn release(state: &mut State, leader: BrokerId, batches: &[Batch], config: &ProducerConfig) {
    if let Some(n) = state.in_flight.get_mut(&leader) {
        *n = n.saturating_sub(1);
    }
    if config.max_in_flight_requests_per_connection == 1 {
        for batch in batches {
            state.muted.remove(&batch.tp);
        }
    }
}

/// Whether an error leaves open that the leader appended the batch. NOT_LEADER_OR_FOLLOWER
/// does: a leader that loses its leadership while an acks=all batch waits in its purgatory
/// answers with it after the append, and the new leader may hold the batch.
fn may_have_appended(error: ErrorCode) -> bool {
    matches!(
        error,
        ErrorCode::RequestTimedOut | ErrorCode::NotEnoughReplicasAfterAppend | ErrorCode::NotLeaderOrFollower
    )
}

async fn handle_response(shared: &Arc<Shared>, in_flight: InFlight) {
    let config = &shared.config;
    let result = in_flight.response.wait(Duration::from_millis(config.request_timeout_ms)).await;
    let leader = in_flight.leader;
    tracing::debug!(%leader, ok = result.is_ok(), "produce response");
    match result {
        Ok(Response::Produce(parts)) => {
            let mut retry = Vec::new();
            for batch in in_flight.batches {
                let part = parts.iter().find(|p| p.tp == batch.tp);
                match part.map(|p| (p.error, p.base_offset)) {
                    Some((None, base_offset)) => {
                        let mut state = shared.lock();
                        release_one(&mut state, &batch, config);
                        drop(state);
                        batch.complete(Some(base_offset));
                    }
                    Some((Some(error), _)) => retry.push((batch, error)),
                    None => retry.push((batch, ErrorCode::UnknownTopicOrPartition)),
                }
            }
            let mut state = shared.lock();
            if let Some(n) = state.in_flight.get_mut(&leader) {
                *n = n.saturating_sub(1);
            }
            for (mut batch, error) in retry {
                if error.needs_metadata_refresh() {
                    state.need_metadata = true;
                }
                batch.maybe_appended |= may_have_appended(error);
                release_one(&mut state, &batch, config);
                retry_or_fail(&mut state, config, batch, error.kafka_name(), error.is_retriable());
            }
        }
        Ok(_) | Err(NetError::Disconnected) | Err(NetError::Timeout) => {
            let reason = match result {
                Err(NetError::Timeout) => "TimeoutException: request.timeout.ms expired",
                _ => "NetworkException: disconnected",
            };
            requeue_all(shared, leader, in_flight.batches, reason, true);
        }
    }
    shared.wake.notify_waiters();
}

/// A request failed as a whole (timeout or disconnect): the connection is closed, as
/// Kafka's NetworkClient does, and every batch is retried or failed.
fn requeue_all(shared: &Arc<Shared>, leader: BrokerId, batches: Vec<Batch>, reason: &str, maybe_appended: bool) {
    let config = &shared.config;
    let mut state = shared.lock();
    release(&mut state, leader, &batches, config);
    state.need_metadata = true;
    state.disconnect.insert(leader);
    for mut batch in batches {
        batch.maybe_appended |= maybe_appended;
        retry_or_fail(&mut state, config, batch, reason, true);
    }
    drop(state);
    shared.wake.notify_waiters();
}

fn release_one(state: &mut State, batch: &Batch, config: &ProducerConfig) {
    if config.max_in_flight_requests_per_connection == 1 {
        state.muted.remove(&batch.tp);
    }
}

/// Re-enqueues a failed batch at the front of its partition's queue (Kafka's
/// `reenqueue`), or fails it when retries or the delivery timeout are exhausted.
fn retry_or_fail(state: &mut State, config: &ProducerConfig, mut batch: Batch, reason: &str, retriable: bool) {
    let now = Instant::now();
    let within_deadline = now.duration_since(batch.created) < Duration::from_millis(config.delivery_timeout_ms);
    if retriable && batch.attempts <= config.retries && within_deadline {
        batch.retry_at = Some(now + Duration::from_millis(config.retry_backoff_ms));
        batch.last_error = Some(reason.to_string());
        state.queues.entry(batch.tp.clone()).or_default().push_front(batch);
    } else {
        batch.fail(reason);
    }
}
