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
//!
//! With `enable.idempotence` the producer first gets a producer id (InitProducerId);
//! each batch gets a sequence number per partition when first sent and keeps it across
//! retries; retried batches go back in sequence order and are sent only once their
//! partition's earlier requests resolved. The leader answers a duplicate with its first
//! offset and refuses a gap (OUT_OF_ORDER_SEQUENCE, retried), so neither anomaly can
//! happen. A batch that fails for good resets the producer id (Kafka bumps the epoch),
//! failing the queued batches whose outcome is unknown.
//!
//! A leader that lost the producer's state (a power loss wiped every replica's unflushed
//! log) refuses its next batch with UNKNOWN_PRODUCER_ID. If that batch's sequence follows
//! the last acknowledged one, nothing of the producer's can be in the log between them:
//! as Kafka 2.5+ does (KIP-360), the producer bumps its epoch, restarts the partition's
//! sequences at 0 in order and retries, without failing anything. If an earlier batch's
//! outcome is unknown, the producer keeps the safe behaviour: the batch waits behind
//! that one, and fails with an unknown outcome if it cannot be resolved (`sequences`).
//!
//! Files: `accumulator` (batches and the rules for draining and re-enqueueing them),
//! `sender` (the sender task and produce responses), `sequences` (the idempotent
//! producer's sequence numbers per partition and its recovery from UNKNOWN_PRODUCER_ID).

mod accumulator;
mod sender;
mod sequences;

use super::metadata::ClusterView;
use super::partitioner::partition_for_key;
use crate::protocol::{Acks, Offset, Record, Request, Response, TopicPartition};
use crate::sim::net::{Addr, NodeNet};
use accumulator::State;
use madsim::time::{sleep, sleep_until, Instant};
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
    /// `enable.idempotence`: producer id and sequence numbers, so that the leader drops
    /// retried duplicates and refuses gaps; the producer bumps its epoch when a leader
    /// lost its state (KIP-360).
    pub enable_idempotence: bool,
}

/// A record to send.
#[derive(Clone, Debug)]
pub struct ProducerRecord {
    /// The topic (shared: a producer sends many records to one topic).
    pub topic: Arc<str>,
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
        let sender = madsim::task::spawn(async move { sender::run_sender(sender_shared, view).await });
        Producer { shared, sender }
    }

    /// Partitions the record and appends it to the accumulator, waiting up to
    /// `max.block.ms` for the topic's metadata. The returned [`Delivery`] resolves when
    /// the record is acknowledged or fails.
    pub async fn send(&self, record: ProducerRecord) -> Delivery {
        let deadline = Instant::now() + Duration::from_millis(self.shared.config.max_block_ms);
        loop {
            let known = self.shared.lock().partition_counts.get(&*record.topic).copied();
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
        state.sticky.entry(record.topic.to_string()).or_default().partition(partitions)
    }

    fn append(&self, record: ProducerRecord, partitions: u32) -> Delivery {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            let partition = Self::choose_partition(&mut state, &record, partitions);
            let tp = TopicPartition::new(record.topic.clone(), partition);
            let stored = Record { key: record.key.clone(), value: record.value, timestamp_ms: now_ms() };
            let started = state.append(tp, stored, tx, self.shared.config.batch_size);
            if started && record.partition.is_none() && record.key.is_none() {
                // KIP-480: a new batch moves the sticky partition on.
                state.sticky.entry(record.topic.to_string()).or_default().next_partition(partitions);
            }
        }
        self.shared.wake.notify_waiters();
        Delivery { rx: Some(rx), early_error: None }
    }

    /// Asynchronous send with a completion callback, as Kafka's `send(record, callback)`:
    /// the record is in the accumulator when this returns, and `callback` runs on the
    /// producer's node when the record is acknowledged or fails.
    pub async fn send_with_callback<F>(&self, record: ProducerRecord, callback: F)
    where
        F: FnOnce(Result<RecordMetadata, SendError>) + Send + 'static,
    {
        let delivery = self.send(record).await;
        madsim::task::spawn(async move { callback(delivery.wait().await) });
    }

    /// Makes every buffered batch ready at once (as `flush()` does) and waits until the
    /// accumulator is empty and nothing is in flight.
    pub async fn flush(&self) {
        self.shared.lock().flushing = true;
        loop {
            self.shared.wake.notify_waiters();
            let notified = self.shared.wake.notified();
            let idle = self.shared.lock().is_idle();
            if idle {
                self.shared.lock().flushing = false;
                return;
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
