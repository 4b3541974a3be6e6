//! Records and record batches, the unit the log stores and replicates.

use super::ids::{LeaderEpoch, Offset, ProducerId, NO_PRODUCER_ID};
use serde::{Deserialize, Serialize};

/// One record. Values are the workload's unique integers, so that every checker can
/// tell records apart; keys drive partitioning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The record key, hashed with murmur2 by the default partitioner.
    pub key: Option<String>,
    /// The record value: unique per workload run.
    pub value: u64,
    /// The producer's create time, in simulated milliseconds.
    pub timestamp_ms: u64,
}

impl Record {
    /// The nominal size of the record on the wire and on disk, in bytes: Kafka's record
    /// overhead plus the key and an 8-byte value. Drives `batch.size` and fetch limits.
    pub fn size_bytes(&self) -> u64 {
        const OVERHEAD_BYTES: u64 = 70;
        OVERHEAD_BYTES + 8 + self.key.as_ref().map_or(0, |k| k.len() as u64)
    }
}

/// A batch of records as produced, appended and replicated: Kafka's RecordBatch v2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordBatch {
    /// The offset of the first record; assigned by the leader on append.
    pub base_offset: Offset,
    /// The leader epoch of the leader that appended the batch (KIP-101).
    pub partition_leader_epoch: LeaderEpoch,
    /// The idempotent producer's id, or [`NO_PRODUCER_ID`].
    pub producer_id: ProducerId,
    /// The idempotent producer's epoch.
    pub producer_epoch: i16,
    /// The sequence number of the first record (idempotent producers), else -1.
    pub base_sequence: i32,
    /// The records, at offsets `base_offset..base_offset + records.len()`.
    pub records: Vec<Record>,
}

impl RecordBatch {
    /// A batch from a non-idempotent producer; offsets and epoch are set by the leader.
    pub fn plain(records: Vec<Record>) -> Self {
        RecordBatch {
            base_offset: 0,
            partition_leader_epoch: 0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: -1,
            records,
        }
    }

    /// The offset after the last record of the batch.
    pub fn next_offset(&self) -> Offset {
        self.base_offset + self.records.len() as Offset
    }

    /// The offset of the last record.
    pub fn last_offset(&self) -> Offset {
        self.next_offset().saturating_sub(1)
    }

    /// The batch's nominal size in bytes: the sum of its records' [`Record::size_bytes`]
    /// (what segment rolling and `retention.bytes` count).
    pub fn size_bytes(&self) -> u64 {
        self.records.iter().map(Record::size_bytes).sum()
    }

    /// The largest record timestamp of the batch, in milliseconds (Kafka's batch
    /// `maxTimestamp`); `None` for an empty batch.
    pub fn max_timestamp_ms(&self) -> Option<u64> {
        self.records.iter().map(|r| r.timestamp_ms).max()
    }

    /// The records with their offsets.
    pub fn offsets_and_records(&self) -> impl Iterator<Item = (Offset, &Record)> {
        self.records.iter().enumerate().map(move |(i, r)| (self.base_offset + i as Offset, r))
    }
}
