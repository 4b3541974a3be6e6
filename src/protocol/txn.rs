//! Transactions on the wire (KIP-98, KIP-447, KIP-890): the requests a transactional
//! producer sends its transaction coordinator, the markers the coordinator writes to
//! every partition of a transaction, and the isolation level a fetch reads at. They
//! travel as [`super::Request::Txn`] and [`super::Response::Txn`], and
//! [`super::Request::WriteTxnMarkers`].

use super::error::ErrorCode;
use super::ids::{BrokerEndpoint, Offset, ProducerId, ProducerIdAndEpoch, TopicPartition};
use serde::{Deserialize, Serialize};

/// How a transaction ends: Kafka's `TransactionResult`, the marker's control type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TxnResult {
    /// The transaction's records become visible to `read_committed` consumers.
    Commit,
    /// The transaction's records are skipped by `read_committed` consumers.
    Abort,
}

impl TxnResult {
    /// `commit` or `abort`, for traces and messages.
    pub fn name(self) -> &'static str {
        match self {
            TxnResult::Commit => "commit",
            TxnResult::Abort => "abort",
        }
    }
}

/// `isolation.level` of a consumer (Kafka's `IsolationLevel`), sent in every fetch and
/// ListOffsets request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IsolationLevel {
    /// Read up to the high watermark, records of open and aborted transactions
    /// included (Kafka's default).
    #[default]
    ReadUncommitted,
    /// Read up to the last stable offset and skip records of aborted transactions.
    ReadCommitted,
}

/// The cluster's finalized `transaction.version` feature (Kafka's `TransactionVersion`,
/// KIP-890, KIP-1022): which transaction protocol producers and brokers speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TransactionVersion {
    /// Level 0: the protocol of KIP-98 (Kafka 0.11 to 3.9).
    #[default]
    Tv0,
    /// Level 1 (Kafka 4.0): flexible `__transaction_state` records; on the wire the
    /// protocol is level 0's, which is all kafkasim models of it.
    Tv1,
    /// Level 2 (Kafka 4.0, KIP-890 part 2): every EndTxn bumps the producer epoch and
    /// the markers carry the new one; producers send no AddPartitionsToTxn, the
    /// partition leader adds the partition to the transaction itself.
    Tv2,
}

impl TransactionVersion {
    /// The feature level, as `transaction.version` writes it.
    pub fn level(self) -> u8 {
        match self {
            TransactionVersion::Tv0 => 0,
            TransactionVersion::Tv1 => 1,
            TransactionVersion::Tv2 => 2,
        }
    }

    /// Whether every EndTxn bumps the producer epoch (`supportsEpochBump`, level 2).
    pub fn bumps_epoch_per_transaction(self) -> bool {
        self == TransactionVersion::Tv2
    }
}

/// The channel name of a transactional producer's connections to its transaction
/// coordinator (the handle of a `stuck-connection` fault on them).
pub const TRANSACTION_COORDINATOR_CHANNEL: &str = "transaction-coordinator";

/// A request to a transaction coordinator (FindCoordinator goes to any broker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnRequest {
    /// Which broker coordinates `transactional_id` (FindCoordinator, key type
    /// TRANSACTION).
    FindCoordinator {
        /// The `transactional.id`.
        transactional_id: String,
    },
    /// InitProducerId with a `transactional.id`: fences older epochs of the id, aborting
    /// (or completing) its open transaction first.
    InitProducerId {
        /// The `transactional.id`.
        transactional_id: String,
        /// `transaction.timeout.ms`.
        transaction_timeout_ms: u64,
    },
    /// AddPartitionsToTxn: adds partitions to the producer's transaction before its
    /// first write to them (transaction versions 0 and 1). With `verify_only`, a
    /// partition leader asks whether they were added (KIP-890 part 1, Kafka 3.6+); under
    /// version 2 the partition leader itself adds a partition on the producer's first
    /// write there (KIP-890 part 2).
    AddPartitions {
        /// The `transactional.id`.
        transactional_id: String,
        /// The producer id and epoch the producer writes under.
        producer: ProducerIdAndEpoch,
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Only check, change nothing (the broker's verification request).
        verify_only: bool,
        /// The protocol of the producer whose partitions these are.
        transaction_version: TransactionVersion,
    },
    /// AddOffsetsToTxn: adds the group's `__consumer_offsets` partition to the
    /// transaction, before TxnOffsetCommit (`sendOffsetsToTransaction`).
    AddOffsets {
        /// The `transactional.id`.
        transactional_id: String,
        /// The producer id and epoch.
        producer: ProducerIdAndEpoch,
        /// The consumer group whose offsets the transaction commits.
        group: String,
    },
    /// EndTxn: commit or abort the open transaction.
    EndTxn {
        /// The `transactional.id`.
        transactional_id: String,
        /// The producer id and epoch.
        producer: ProducerIdAndEpoch,
        /// Commit or abort.
        result: TxnResult,
        /// The protocol the producer speaks (EndTxn v5 and later: level 2).
        transaction_version: TransactionVersion,
    },
}

impl TxnRequest {
    /// A short name for traces and errors.
    pub fn name(&self) -> &'static str {
        match self {
            TxnRequest::FindCoordinator { .. } => "FindCoordinator",
            TxnRequest::InitProducerId { .. } => "InitProducerId",
            TxnRequest::AddPartitions { .. } => "AddPartitionsToTxn",
            TxnRequest::AddOffsets { .. } => "AddOffsetsToTxn",
            TxnRequest::EndTxn { .. } => "EndTxn",
        }
    }
}

/// A transaction coordinator's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnResponse {
    /// Answer to FindCoordinator.
    Coordinator {
        /// Why no coordinator is known, if none is.
        error: Option<ErrorCode>,
        /// The coordinator.
        coordinator: Option<BrokerEndpoint>,
    },
    /// Answer to InitProducerId.
    ProducerId {
        /// Why it failed, if it did.
        error: Option<ErrorCode>,
        /// The producer id and epoch to write under.
        producer: Option<ProducerIdAndEpoch>,
        /// The cluster's finalized `transaction.version`. Simplified: Kafka's producer
        /// reads the finalized features from ApiVersions responses; here the
        /// coordinator's InitProducerId answer carries them.
        transaction_version: TransactionVersion,
    },
    /// Answer to AddPartitionsToTxn: one result per partition.
    Partitions(Vec<(TopicPartition, Option<ErrorCode>)>),
    /// Answer to AddOffsetsToTxn.
    Ack {
        /// Why it failed, if it did.
        error: Option<ErrorCode>,
    },
    /// Answer to EndTxn.
    Ended {
        /// Why it failed, if it did.
        error: Option<ErrorCode>,
        /// Under transaction version 2, the producer id and epoch the producer's next
        /// transaction writes under (EndTxn v5's `ProducerId` and `ProducerEpoch`).
        next_producer: Option<ProducerIdAndEpoch>,
    },
}

/// One WriteTxnMarkers entry: the marker of one producer's transaction for the
/// partitions of it that the receiving broker leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnMarkerEntry {
    /// The producer id and the epoch the marker is written with.
    pub producer: ProducerIdAndEpoch,
    /// Commit or abort.
    pub result: TxnResult,
    /// The coordinator's epoch (the leader epoch of its `__transaction_state`
    /// partition): a partition refuses markers from an older coordinator.
    pub coordinator_epoch: u32,
    /// The partitions.
    pub partitions: Vec<TopicPartition>,
}

/// A transaction of a partition's log that was aborted (Kafka's `AbortedTxn`, as the
/// fetch response lists it): `read_committed` consumers skip the producer's
/// transactional records from `first_offset` up to its abort marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AbortedTxn {
    /// The producer.
    pub producer_id: ProducerId,
    /// The offset of the transaction's first record in the partition.
    pub first_offset: Offset,
}
