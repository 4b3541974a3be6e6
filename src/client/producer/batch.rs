//! A producer batch: the records of one partition sent together, their completions, and
//! what the producer remembers about its attempts (Kafka's `ProducerBatch`).

use super::config::ProducerConfig;
use super::delivery::{Completion, RecordMetadata, SendError};
use super::idempotence::BatchRef;
use super::outlook::RefusalMark;
use super::sequences::BatchSequence;
use crate::protocol::{Offset, Record, RecordBatch, TopicPartition};
use crate::sim::clock;
use madsim::time::Instant;
use std::time::Duration;

/// A batch in the accumulator or in flight.
pub(super) struct Batch {
    /// The partition all its records go to.
    pub tp: TopicPartition,
    /// The records, in `send` order.
    pub records: Vec<Record>,
    /// One completion per record, in the same order.
    pub completions: Vec<Completion>,
    /// The records' nominal size, compared with `batch.size`.
    pub size_bytes: u64,
    /// When the batch was created: `linger.ms` and `delivery.timeout.ms` count from here.
    pub created: Instant,
    /// How many times the batch was sent.
    pub attempts: u32,
    /// When a failed batch may be sent again (`retry.backoff.ms` after the failure).
    pub retry_at: Option<Instant>,
    /// Whether some attempt may have been appended by a leader.
    pub maybe_appended: bool,
    /// The error of the last failed attempt, quoted when the batch finally fails.
    pub last_error: Option<String>,
    /// The idempotent producer id, epoch and first sequence its last attempt carried:
    /// given at the first drain, kept across retries, rewritten only when its partition's
    /// sequences restart or shift (the idempotence state tracks it meanwhile).
    pub sequence: Option<BatchSequence>,
    /// The batch's place in its partition's send order (creation order, unique in the
    /// producer), which retries of an idempotent producer keep whatever their sequence
    /// numbers; the idempotence state knows the batch by it.
    pub order: u64,
    /// Held while the batch's last attempt was refused by a leader and the producer
    /// retries it (see [`super::outlook`]); dropped with the batch.
    pub refusal: Option<RefusalMark>,
}

impl Batch {
    /// An empty batch for `tp`, created now.
    pub fn new(tp: TopicPartition, order: u64) -> Self {
        Batch {
            tp,
            records: Vec::new(),
            completions: Vec::new(),
            size_bytes: 0,
            created: clock::now(),
            attempts: 0,
            retry_at: None,
            maybe_appended: false,
            last_error: None,
            sequence: None,
            order,
            refusal: None,
        }
    }

    /// The batch as the idempotence state sees it.
    pub fn idempotence_ref(&self) -> BatchRef<'_> {
        BatchRef { tp: &self.tp, id: self.order, sent: self.sequence, records: self.records.len() }
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

    /// Whether `retries` and `delivery.timeout.ms` still allow another attempt (Kafka's
    /// `Sender.canRetry`, without the error's own retriability).
    pub fn may_retry(&self, config: &ProducerConfig, now: Instant) -> bool {
        self.attempts <= config.retries && !self.delivery_timed_out(config, now)
    }

    /// Whether `delivery.timeout.ms` has passed since the batch was created.
    pub fn delivery_timed_out(&self, config: &ProducerConfig, now: Instant) -> bool {
        now >= self.delivery_deadline(config)
    }

    /// When `delivery.timeout.ms` ends for this batch.
    pub fn delivery_deadline(&self, config: &ProducerConfig) -> Instant {
        self.created + Duration::from_millis(config.delivery_timeout_ms)
    }

    /// Reports success to every record's sender (offsets unknown with acks=0).
    pub fn complete(self, base_offset: Option<Offset>, topic_id: Option<crate::protocol::TopicId>) {
        let acknowledged_at = clock::now();
        for (i, completion) in self.completions.into_iter().enumerate() {
            let offset = base_offset.map(|b| b + i as Offset);
            let _ = completion.send(Ok(RecordMetadata { tp: self.tp.clone(), offset, topic_id, acknowledged_at }));
        }
    }

    /// Fails a batch that waited in the accumulator past `delivery.timeout.ms`.
    pub fn expire(self) {
        let reason = self.last_error.clone().unwrap_or_else(|| "no attempt".into());
        self.fail(&format!("TimeoutException: delivery.timeout.ms expired (last error: {reason})"));
    }

    /// Reports failure; definite only if no attempt can have been appended.
    pub fn fail(self, reason: &str) {
        let error = SendError { reason: reason.to_string(), definite: !self.maybe_appended };
        for completion in self.completions {
            let _ = completion.send(Err(error.clone()));
        }
    }
}
