//! A send's outcome, from both ends: the [`Delivery`] that `send` returns and the
//! [`Completion`] its batch carries until the record is acknowledged or fails.

use crate::protocol::{Offset, TopicPartition};
use std::fmt;
use tokio::sync::oneshot;

/// Where an acknowledged record landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset, unknown with acks=0.
    pub offset: Option<Offset>,
    /// The topic whose log took the record, as the leader's answer tells the history
    /// (see [`crate::protocol::ProducePartitionResponse::topic_id`]); `None` with acks=0.
    pub topic_id: Option<crate::protocol::TopicId>,
    /// When the producer learned of the acknowledgement, the moment Kafka calls the
    /// record's callback: a send's latency ends here, not when the application reads
    /// the outcome.
    pub acknowledged_at: madsim::time::Instant,
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

/// Where a record's outcome goes: the producer's end of a [`Delivery`].
pub(super) type Completion = oneshot::Sender<Result<RecordMetadata, SendError>>;

/// A pending send's outcome.
pub struct Delivery(Pending);

/// Where a [`Delivery`]'s outcome comes from.
enum Pending {
    /// The record is in the accumulator, in a batch of this partition, which will
    /// complete it.
    Accumulated(TopicPartition, oneshot::Receiver<Result<RecordMetadata, SendError>>),
    /// The send failed before its record reached the accumulator.
    Failed(SendError),
}

impl Delivery {
    /// The delivery of a record appended to a batch of `tp`, whose [`Completion`] end
    /// reports to `rx`.
    pub(super) fn accumulated(
        tp: TopicPartition,
        rx: oneshot::Receiver<Result<RecordMetadata, SendError>>,
    ) -> Delivery {
        Delivery(Pending::Accumulated(tp, rx))
    }

    /// The partition the record was appended to, as Kafka's callback and future learn it
    /// (`None` if the send failed before the partitioner placed it).
    pub fn partition(&self) -> Option<&TopicPartition> {
        match &self.0 {
            Pending::Accumulated(tp, _) => Some(tp),
            Pending::Failed(_) => None,
        }
    }

    /// A send that failed before its record reached the accumulator.
    pub(super) fn failed(error: SendError) -> Delivery {
        Delivery(Pending::Failed(error))
    }

    /// Waits for the outcome. A completion dropped unanswered (the producer was dropped)
    /// reports an unknown outcome.
    pub async fn wait(self) -> Result<RecordMetadata, SendError> {
        match self.0 {
            Pending::Failed(error) => Err(error),
            Pending::Accumulated(_, rx) => {
                rx.await.unwrap_or_else(|_| Err(SendError { reason: "producer closed".into(), definite: false }))
            }
        }
    }
}
