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
mod outlook;
mod placement;
mod sender;
mod sequences;
mod state;
#[cfg(test)]
mod tests;
mod transactions;

pub use config::ProducerConfig;
pub use delivery::{Delivery, RecordMetadata, SendError};
pub use outlook::SendsOutlook;
pub use transactions::TxnError;

use super::backoff::RetryBackoff;
use super::connection_states::NodeConnections;
use super::group::coordinator::CoordinatorLink;
use super::metadata::ClusterView;
use crate::protocol::{Record, Request, Response, TxnResult};
use crate::sim::clock;
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
    /// The value's size in bytes ([`Record::value_bytes`]).
    pub value_bytes: u32,
}

/// Tells what a producer's unfinished sends wait on; [`SendsOutlook::Idle`] once the
/// producer is gone (its node killed).
#[derive(Clone)]
pub struct OutlookHandle(std::sync::Weak<Shared>);

impl OutlookHandle {
    /// What the producer's unfinished sends wait on now.
    pub fn outlook(&self) -> SendsOutlook {
        self.0.upgrade().map_or(SendsOutlook::Idle, |shared| shared.lock().sends_outlook())
    }
}

/// Counts a `send` among those waiting for their topic's metadata while it lives.
struct AwaitingMetadata<'a>(&'a Shared);

impl<'a> AwaitingMetadata<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.lock().sends_awaiting_metadata += 1;
        AwaitingMetadata(shared)
    }
}

impl Drop for AwaitingMetadata<'_> {
    fn drop(&mut self) {
        self.0.lock().sends_awaiting_metadata -= 1;
    }
}

/// A Kafka producer. Cheap to share; its sender task ends when the node dies.
pub struct Producer {
    shared: Arc<Shared>,
    sender: madsim::task::JoinHandle<()>,
    /// A transactional producer's link to its transaction coordinator, for the
    /// application's calls (the sender has its own for AddPartitionsToTxn).
    txn_link: Option<tokio::sync::Mutex<CoordinatorLink>>,
    /// Links to group coordinators for TxnOffsetCommit, by `group.id`, made on first use.
    group_links: tokio::sync::Mutex<std::collections::BTreeMap<String, CoordinatorLink>>,
    /// The producer's network, for the group links.
    net: NodeNet<Request, Response>,
}

impl Producer {
    /// Starts a producer and its sender task on the calling node.
    pub fn new(net: NodeNet<Request, Response>, config: ProducerConfig) -> Self {
        let txn_link = config.transactional_id.as_ref().map(|id| {
            let link = CoordinatorLink::for_transactions(net.clone(), config.bootstrap.clone(), id);
            tokio::sync::Mutex::new(link.connecting_with(config.connections))
        });
        let mut view = ClusterView::new(net.clone(), config.bootstrap.clone());
        view.set_connection_settings(config.connections);
        view.allow_auto_topic_creation(true);
        let refresh_backoff = RetryBackoff::new(config.retry_backoff_ms.max(1), config.retry_backoff_max_ms);
        view.set_refresh_backoff(refresh_backoff, Duration::from_millis(config.metadata_max_age_ms));
        view.set_rejects_stale_metadata(config.rejects_stale_metadata);
        let state = Mutex::new(State::new(&config));
        let shared = Arc::new(Shared { config, state, wake: Notify::new() });
        let sender_shared = shared.clone();
        let connections = NodeConnections::new(net.clone(), shared.config.connections);
        let sender =
            crate::sim::tasks::spawn(async move { sender::run_sender(sender_shared, view, connections).await });
        Producer { shared, sender, txn_link, group_links: Default::default(), net }
    }

    /// Reports the named states the producer reaches to `probe` from now on (see
    /// [`crate::client::Probe`]).
    pub fn set_probe(&self, probe: crate::client::Probe) {
        self.shared.lock().probe = Some(probe);
    }

    /// A handle that tells what this producer's unfinished sends wait on, for as long as
    /// the producer lives (see [`SendsOutlook`]).
    pub fn outlook(&self) -> OutlookHandle {
        OutlookHandle(Arc::downgrade(&self.shared))
    }

    /// The partition count of `topic` in the producer's cached metadata, if it has any:
    /// the count `send` hashes keys with (`KafkaProducer.partition`).
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.shared.lock().partition_counts.get(topic).copied()
    }

    /// Partitions the record and appends it to the accumulator, waiting up to
    /// `max.block.ms` for the topic's metadata. The returned [`Delivery`] resolves when
    /// the record is acknowledged or fails.
    pub async fn send(&self, record: ProducerRecord) -> Delivery {
        let deadline = clock::now() + Duration::from_millis(self.shared.config.max_block_ms);
        if !self.shared.lock().topics.contains(&*record.topic) {
            let mut state = self.shared.lock();
            state.topics.insert(record.topic.to_string());
            state.new_topics = true;
        }
        let mut awaiting_metadata = None;
        loop {
            let known = self.shared.lock().partition_counts.get(&*record.topic).copied();
            if let Some(count) = known {
                return self.append(record, count);
            }
            awaiting_metadata.get_or_insert_with(|| AwaitingMetadata::new(&self.shared));
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

    /// Places the record in a partition (see `placement`) and appends it. A
    /// transactional producer outside an open transaction refuses the record (Kafka
    /// throws); a partition new to the open transaction is marked for
    /// AddPartitionsToTxn.
    fn append(&self, record: ProducerRecord, partitions: u32) -> Delivery {
        let config = &self.shared.config;
        let (delivery, wakes_sender) = {
            let mut state = self.shared.lock();
            if let Some(txn) = &state.txn {
                if txn.phase != transactions::Phase::InTransaction {
                    let reason = format!("IllegalStateException: send outside a transaction ({:?})", txn.phase);
                    return Delivery::failed(SendError { reason, definite: true });
                }
            }
            let (completion, rx) = tokio::sync::oneshot::channel();
            let stored =
                Record { value_bytes: record.value_bytes, ..Record::new(record.key.clone(), record.value, now_ms()) };
            let appended = state.append_record(config, &record, stored, completion, partitions);
            if let Some(txn) = &mut state.txn {
                txn.wrote_to(&appended.tp);
            }
            (Delivery::accumulated(appended.tp, rx), appended.wakes_sender)
        };
        if wakes_sender {
            self.shared.wake.notify_waiters();
        }
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

/// The transactional API (`initTransactions`, `beginTransaction`, `commitTransaction`,
/// `abortTransaction`); see `transactions`. Each blocks at most `max.block.ms`.
impl Producer {
    /// Gets the producer id and epoch for the `transactional.id` from its coordinator,
    /// fencing every older producer of the id.
    pub async fn init_transactions(&self) -> Result<(), TxnError> {
        let link = self.txn_link.as_ref().expect("init_transactions needs a transactional.id");
        let deadline = self.deadline();
        let (producer, version) =
            transactions::init_producer_id(&self.shared, &mut *link.lock().await, deadline).await?;
        let mut state = self.shared.lock();
        state.idempotence.restart(producer);
        let txn = state.txn.as_mut().expect("transactional");
        txn.phase = transactions::Phase::Ready;
        txn.version = version;
        Ok(())
    }

    /// Opens a transaction (no request: the coordinator learns of it from the first
    /// AddPartitionsToTxn).
    pub fn begin_transaction(&self) -> Result<(), TxnError> {
        let mut state = self.shared.lock();
        let txn = state.txn.as_mut().expect("begin_transaction needs a transactional.id");
        match &txn.phase {
            transactions::Phase::Ready => {
                txn.phase = transactions::Phase::InTransaction;
                Ok(())
            }
            transactions::Phase::FatalError(reason) => Err(TxnError::Fatal(reason.clone())),
            other => Err(TxnError::Fatal(format!("IllegalStateException: begin_transaction in {other:?}"))),
        }
    }

    /// Flushes the open transaction's records, then commits it. A failed record makes the
    /// transaction abortable instead: the caller must abort.
    pub async fn commit_transaction(&self) -> Result<(), TxnError> {
        self.flush().await;
        let producer = {
            let state = self.shared.lock();
            let txn = state.txn.as_ref().expect("commit_transaction needs a transactional.id");
            match &txn.phase {
                transactions::Phase::InTransaction => {}
                transactions::Phase::AbortableError(reason) => return Err(TxnError::Abortable(reason.clone())),
                transactions::Phase::FatalError(reason) => return Err(TxnError::Fatal(reason.clone())),
                other => return Err(TxnError::Fatal(format!("IllegalStateException: commit in {other:?}"))),
            }
            state.idempotence.producer().expect("initialized")
        };
        self.end_transaction(producer, TxnResult::Commit).await
    }

    /// Adds the consumer's `offsets` (next offsets to consume) to the open transaction
    /// (Kafka's `sendOffsetsToTransaction(offsets, groupMetadata)`): AddOffsetsToTxn to
    /// the transaction coordinator, then TxnOffsetCommit to the group's coordinator
    /// with the consumer's group metadata (KIP-447). The offsets take effect if the
    /// transaction commits. A refusal of the metadata (the consumer was fenced by a
    /// newer generation) makes the transaction abortable; a fenced producer is fatal;
    /// no answer within `max.block.ms` is a timeout.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &[(crate::protocol::TopicPartition, crate::protocol::Offset)],
        metadata: &super::group::ConsumerGroupMetadata,
    ) -> Result<(), TxnError> {
        let producer = {
            let state = self.shared.lock();
            let txn = state.txn.as_ref().expect("send_offsets_to_transaction needs a transactional.id");
            match &txn.phase {
                transactions::Phase::InTransaction => {}
                transactions::Phase::AbortableError(reason) => return Err(TxnError::Abortable(reason.clone())),
                transactions::Phase::FatalError(reason) => return Err(TxnError::Fatal(reason.clone())),
                other => {
                    return Err(TxnError::Fatal(format!(
                        "IllegalStateException: sendOffsetsToTransaction in {other:?}"
                    )))
                }
            }
            state.idempotence.producer().expect("initialized")
        };
        let deadline = self.deadline();
        let link = self.txn_link.as_ref().expect("transactional");
        let request = crate::protocol::TxnRequest::AddOffsets {
            transactional_id: self.shared.config.transactional_id.clone().expect("transactional"),
            producer,
            group: metadata.group_id.clone(),
        };
        let added = transactions::call_until_settled(&self.shared, &mut *link.lock().await, request, deadline).await;
        if let Err(error) = added {
            return Err(self.txn_call_failed(transactions::add_offsets_error(error)));
        }
        self.shared.lock().txn.as_mut().expect("transactional").offsets_added = true;
        let mut links = self.group_links.lock().await;
        let group_link = links.entry(metadata.group_id.clone()).or_insert_with(|| {
            CoordinatorLink::new(self.net.clone(), self.shared.config.bootstrap.clone(), &metadata.group_id)
                .connecting_with(self.shared.config.connections)
        });
        transactions::txn_offset_commit(&self.shared, group_link, producer, offsets, metadata, deadline)
            .await
            .map_err(|error| self.txn_call_failed(error))
    }

    /// Moves the transaction to the error phase a failed call leaves it in (Kafka's
    /// `abortableError` / `fatalError`); a timeout leaves it as it was.
    fn txn_call_failed(&self, error: TxnError) -> TxnError {
        let mut state = self.shared.lock();
        let txn = state.txn.as_mut().expect("transactional");
        match &error {
            TxnError::Fatal(reason) => txn.phase = transactions::Phase::FatalError(reason.clone()),
            TxnError::Abortable(reason) if txn.phase == transactions::Phase::InTransaction => {
                txn.phase = transactions::Phase::AbortableError(reason.clone())
            }
            _ => {}
        }
        error
    }

    /// Aborts the open transaction: records not sent yet fail, those in flight are
    /// awaited, then EndTxn(abort).
    pub async fn abort_transaction(&self) -> Result<(), TxnError> {
        let producer = {
            let mut state = self.shared.lock();
            if let Some(transactions::Phase::FatalError(reason)) = state.txn.as_ref().map(|t| &t.phase) {
                return Err(TxnError::Fatal(reason.clone()));
            }
            for batch in state.accumulator.take_queued() {
                batch.fail("TransactionAbortedException: the transaction was aborted");
            }
            state.idempotence.producer()
        };
        self.shared.wake.notify_waiters();
        self.await_in_flight().await;
        let Some(producer) = producer else { return Err(TxnError::Fatal("not initialized".into())) };
        self.end_transaction(producer, TxnResult::Abort).await?;
        self.bump_epoch_if_required().await
    }

    /// Sends EndTxn and, on success, returns to Ready with nothing added. A transaction
    /// that added no partition never reached the coordinator: there is nothing to end
    /// (Kafka sends no EndTxn then).
    async fn end_transaction(
        &self,
        producer: crate::protocol::ProducerIdAndEpoch,
        result: TxnResult,
    ) -> Result<(), TxnError> {
        let link = self.txn_link.as_ref().expect("transactional");
        let deadline = self.deadline();
        let (added_nothing, version) = {
            let state = self.shared.lock();
            let txn = state.txn.as_ref().expect("transactional");
            (txn.added.is_empty() && !txn.offsets_added, txn.version)
        };
        if !added_nothing {
            let ended =
                transactions::end_txn(&self.shared, &mut *link.lock().await, producer, result, version, deadline).await;
            match ended {
                // Level 2: the next transaction writes under the epoch the coordinator
                // bumped, every sequence from 0 again.
                Ok(Some(next)) => self.shared.lock().idempotence.restart(next),
                Ok(None) => {}
                Err(error) => {
                    if let (TxnError::Fatal(reason), Some(txn)) = (&error, self.shared.lock().txn.as_mut()) {
                        txn.phase = transactions::Phase::FatalError(reason.clone());
                    }
                    return Err(error);
                }
            }
        }
        self.finish_transaction();
        Ok(())
    }

    /// Back to Ready: the next transaction adds its partitions afresh.
    fn finish_transaction(&self) {
        let mut state = self.shared.lock();
        let txn = state.txn.as_mut().expect("transactional");
        txn.phase = transactions::Phase::Ready;
        txn.added.clear();
        txn.new_partitions.clear();
        txn.offsets_added = false;
    }

    /// After an abort that followed a failed batch: a new epoch, every sequence from 0.
    /// Under transaction version 2 the abort's EndTxn already bumped it.
    async fn bump_epoch_if_required(&self) -> Result<(), TxnError> {
        let required = self.shared.lock().txn.as_mut().is_some_and(|t| {
            if t.version.bumps_epoch_per_transaction() {
                t.epoch_bump_required = false;
            }
            t.epoch_bump_required
        });
        if !required {
            return Ok(());
        }
        let link = self.txn_link.as_ref().expect("transactional");
        let (producer, _) =
            transactions::init_producer_id(&self.shared, &mut *link.lock().await, self.deadline()).await?;
        let mut state = self.shared.lock();
        state.idempotence.restart(producer);
        state.txn.as_mut().expect("transactional").epoch_bump_required = false;
        Ok(())
    }

    /// Waits until no produce request is in flight.
    async fn await_in_flight(&self) {
        loop {
            let notified = self.shared.wake.notified();
            if self.shared.lock().accumulator.nothing_in_flight() {
                return;
            }
            tokio::select! {
                biased;
                _ = notified => {}
                _ = sleep(Duration::from_millis(10)) => {}
            }
        }
    }

    fn deadline(&self) -> Instant {
        clock::now() + Duration::from_millis(self.shared.config.max_block_ms)
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
