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
//! that one, and fails with an unknown outcome if it cannot be resolved (`idempotence`).
//!
//! Files, each with one owner, dependencies pointing one way: `config` (the settings),
//! `delivery` (a send's outcome), `batch` (a batch and its attempts), `accumulator` (the
//! batch queues and the rules for draining, re-enqueueing and expiring them; it knows
//! nothing of sequences), `idempotence` (the producer id and epoch, the sequence numbers
//! per partition and the recovery from UNKNOWN_PRODUCER_ID; it knows nothing of
//! batches), `state` (the state `send` and the sender share, and the rules that need
//! both the accumulator and the idempotence state) and `sender` (the sender task and
//! produce responses).

mod accumulator;
mod batch;
mod config;
mod delivery;
mod idempotence;
mod sender;
mod state;
#[cfg(test)]
mod tests;

pub use config::ProducerConfig;
pub use delivery::{Delivery, RecordMetadata, SendError};

use super::metadata::ClusterView;
use super::partitioner::partition_for_key;
use crate::protocol::{Record, Request, Response, TopicPartition};
use crate::sim::net::NodeNet;
use madsim::time::{sleep, sleep_until, Instant};
use state::{Shared, State};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

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

/// A Kafka producer. Cheap to share; its sender task ends when the node dies.
pub struct Producer {
    shared: Arc<Shared>,
    sender: madsim::task::JoinHandle<()>,
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
                    return Delivery::failed(SendError {
                        reason: "TimeoutException: metadata not available within max.block.ms".into(),
                        definite: true,
                    });
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
        let (completion, delivery) = Delivery::channel();
        {
            let mut state = self.shared.lock();
            let partition = Self::choose_partition(&mut state, &record, partitions);
            let tp = TopicPartition::new(record.topic.clone(), partition);
            let stored = Record { key: record.key.clone(), value: record.value, timestamp_ms: now_ms() };
            let started = state.accumulator.append(tp, stored, completion, self.shared.config.batch_size);
            if started && record.partition.is_none() && record.key.is_none() {
                // KIP-480: a new batch moves the sticky partition on.
                state.sticky.entry(record.topic.to_string()).or_default().next_partition(partitions);
            }
        }
        self.shared.wake.notify_waiters();
        delivery
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
        self.shared.lock().accumulator.flushing = true;
        loop {
            self.shared.wake.notify_waiters();
            let notified = self.shared.wake.notified();
            let idle = self.shared.lock().accumulator.is_idle();
            if idle {
                self.shared.lock().accumulator.flushing = false;
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
