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
//! retries; a retried batch goes out only as its partition's first batch in flight. The
//! leader answers a duplicate with its first offset and refuses a gap
//! (OUT_OF_ORDER_SEQUENCE), so retries neither duplicate nor reorder.
//!
//! When a leader refuses a sequence because it lost records or the producer's state (an
//! unclean election, a power loss, retention), Kafka 2.5 and later (KIP-360) bump the
//! producer epoch, restart the partition's sequences at 0 and go on; Kafka 1.0 to 2.4
//! fail the batch and reset the producer id. `ProducerConfig::idempotent_epoch_bump`
//! picks the release; the rules are in `idempotence`.
//!
//! Files, each with one owner, dependencies pointing one way: `config` (the settings),
//! `delivery` (a send's outcome), `batch` (a batch and its attempts), `placement` (the
//! partition a record goes to), `accumulator` (the
//! batch queues and the rules for draining, re-enqueueing and expiring them; it knows
//! nothing of sequences), `sequences` (one partition's sequence bookkeeping),
//! `idempotence` (the producer id and epoch, the sequences per partition and the
//! recovery from refused sequences; it knows nothing of batch queues), `state` (the
//! state `send` and the sender share, and the rules that need both the accumulator and
//! the idempotence state) and `sender` (the sender task and produce responses).

mod accumulator;
mod batch;
mod config;
mod delivery;
mod idempotence;
mod placement;
mod sender;
mod sequences;
mod state;
#[cfg(test)]
mod tests;

pub use config::ProducerConfig;
pub use delivery::{Delivery, RecordMetadata, SendError};

use super::metadata::ClusterView;
use crate::protocol::{Record, Request, Response};
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
        let state = Mutex::new(State::new(&config));
        let shared = Arc::new(Shared { config, state, wake: Notify::new() });
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

    /// Places the record in a partition (see `placement`) and appends it.
    fn append(&self, record: ProducerRecord, partitions: u32) -> Delivery {
        let config = &self.shared.config;
        let delivery = {
            let mut state = self.shared.lock();
            let (completion, rx) = tokio::sync::oneshot::channel();
            let stored = Record { key: record.key.clone(), value: record.value, timestamp_ms: now_ms() };
            let tp = state.append_record(config, &record, stored, completion, partitions);
            Delivery::accumulated(tp, rx)
        };
        self.shared.wake.notify_waiters();
        delivery
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
