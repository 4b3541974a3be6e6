//! Records and record batches, the unit the log stores and replicates.

use super::ids::{LeaderEpoch, Offset, ProducerId, NO_PRODUCER_ID};
use super::txn::TxnResult;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, Range};
use std::sync::Arc;

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
    /// The value's size on the wire and on disk, in bytes: the 8 bytes of the integer
    /// unless the producer pads its records (`value_bytes`, as
    /// `kafka-producer-perf-test --record-size` sizes them).
    pub value_bytes: u32,
}

impl Record {
    /// The size of a value that is just its integer, in bytes.
    pub const PLAIN_VALUE_BYTES: u32 = 8;

    /// A record whose value is its integer alone ([`Record::PLAIN_VALUE_BYTES`]).
    pub fn new(key: Option<String>, value: u64, timestamp_ms: u64) -> Self {
        Record { key, value, timestamp_ms, value_bytes: Self::PLAIN_VALUE_BYTES }
    }

    /// The nominal size of the record on the wire and on disk, in bytes: Kafka's record
    /// overhead plus the key and the value. Drives `batch.size`, fetch limits, segment
    /// sizes and the cost model.
    pub fn size_bytes(&self) -> u64 {
        const OVERHEAD_BYTES: u64 = 70;
        OVERHEAD_BYTES + u64::from(self.value_bytes) + self.key.as_ref().map_or(0, |k| k.len() as u64)
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
    pub records: Records,
    /// Whether the batch belongs to a transaction (Kafka's `isTransactional` attribute):
    /// `read_committed` consumers see it only once its transaction commits.
    pub transactional: bool,
    /// For a control batch (Kafka's `isControlBatch` attribute), the transaction marker
    /// it holds; `None` for a batch of data records. A control batch holds exactly one
    /// record, whose value is [`ControlMarker::record_value`].
    pub control: Option<ControlMarker>,
}

/// A transaction marker: the control record a transaction coordinator has every leader
/// of the transaction's partitions append (Kafka's `EndTransactionMarker`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ControlMarker {
    /// Commit or abort.
    pub result: TxnResult,
    /// The epoch of the coordinator that wrote it.
    pub coordinator_epoch: u32,
}

impl ControlMarker {
    /// The value of the marker's record. Kafka's control record has a key (the control
    /// type) and a value (version and coordinator epoch), never a user value; kafkasim's
    /// records carry one integer, so a marker's record carries one reserved far above
    /// any workload value (a commit `u64::MAX`, an abort `u64::MAX - 1`). The trace then
    /// lists markers like any entry, so the replica checkers compare them too.
    pub fn record_value(self) -> u64 {
        match self.result {
            TxnResult::Commit => COMMIT_MARKER_VALUE,
            TxnResult::Abort => ABORT_MARKER_VALUE,
        }
    }
}

/// The record value of a commit marker (see [`ControlMarker::record_value`]).
pub const COMMIT_MARKER_VALUE: u64 = u64::MAX;
/// The record value of an abort marker (see [`ControlMarker::record_value`]).
pub const ABORT_MARKER_VALUE: u64 = u64::MAX - 1;

impl RecordBatch {
    /// A batch from a non-idempotent producer; offsets and epoch are set by the leader.
    pub fn plain(records: Vec<Record>) -> Self {
        RecordBatch {
            base_offset: 0,
            partition_leader_epoch: 0,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: -1,
            records: Records::from(records),
            transactional: false,
            control: None,
        }
    }

    /// A control batch holding one transaction marker of `producer_id` at `epoch`.
    pub fn marker(producer_id: ProducerId, producer_epoch: i16, marker: ControlMarker, timestamp_ms: u64) -> Self {
        let record = Record::new(None, marker.record_value(), timestamp_ms);
        RecordBatch {
            producer_id,
            producer_epoch,
            transactional: true,
            control: Some(marker),
            ..RecordBatch::plain(vec![record])
        }
    }

    /// The offset after the last record of the batch.
    pub fn next_offset(&self) -> Offset {
        self.base_offset + self.records.len() as Offset
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

/// A batch's records: immutable once the producer closes the batch, and shared by every
/// copy of it, so the leader's log, the followers' logs, fetch responses and retries
/// hold one copy of each record. Kafka copies the bytes at every hop; sharing them here
/// changes nothing a run can observe, because records are never changed in place: a
/// copy only ever narrows its own window (a fetch takes a batch's tail, a truncation
/// or `max.poll.records` cuts one short). It halves the benchmark's log memory.
#[derive(Clone, Default)]
pub struct Records {
    shared: Arc<[Record]>,
    /// The window of `shared` this copy holds.
    window: Range<usize>,
}

impl Records {
    /// The records in `range` (positions within this copy), sharing the storage.
    pub fn slice(&self, range: Range<usize>) -> Records {
        assert!(range.start <= range.end && range.end <= self.len(), "{range:?} out of 0..{}", self.len());
        let start = self.window.start + range.start;
        Records { shared: Arc::clone(&self.shared), window: start..start + range.len() }
    }

    /// Keeps the first `len` records (all of them if there are fewer), as `Vec::truncate`.
    pub fn truncate(&mut self, len: usize) {
        self.window.end = self.window.end.min(self.window.start + len);
    }
}

impl Deref for Records {
    type Target = [Record];

    fn deref(&self) -> &[Record] {
        &self.shared[self.window.clone()]
    }
}

impl From<Vec<Record>> for Records {
    fn from(records: Vec<Record>) -> Self {
        let window = 0..records.len();
        Records { shared: Arc::from(records), window }
    }
}

impl FromIterator<Record> for Records {
    fn from_iter<I: IntoIterator<Item = Record>>(records: I) -> Self {
        Records::from(records.into_iter().collect::<Vec<_>>())
    }
}

impl PartialEq for Records {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Records {}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Written as a plain sequence, exactly as a `Vec<Record>` is (the disk format).
impl Serialize for Records {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Records {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Record>::deserialize(deserializer).map(Records::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(values: &[u64]) -> Records {
        values.iter().map(|v| Record::new(None, *v, 0)).collect()
    }

    fn values(records: &Records) -> Vec<u64> {
        records.iter().map(|r| r.value).collect()
    }

    #[test]
    fn slices_and_truncation_narrow_the_window_without_touching_other_copies() {
        let all = records(&[1, 2, 3, 4, 5]);
        let tail = all.slice(2..5);
        assert_eq!(values(&tail), [3, 4, 5]);
        assert_eq!(values(&tail.slice(1..2)), [4]);
        let mut cut = tail.clone();
        cut.truncate(1);
        assert_eq!(values(&cut), [3]);
        cut.truncate(9);
        assert_eq!(values(&cut), [3]);
        assert_eq!(values(&tail), [3, 4, 5]);
        assert_eq!(values(&all), [1, 2, 3, 4, 5]);
        assert_eq!(tail, records(&[3, 4, 5]));
    }

    #[test]
    fn records_are_written_as_a_vec_of_records_is() {
        let all = records(&[7, 8, 9]);
        let tail = all.slice(1..3);
        let as_vec: Vec<Record> = tail.to_vec();
        let bytes = bincode::serialize(&tail).expect("serializes");
        assert_eq!(bytes, bincode::serialize(&as_vec).expect("serializes"));
        assert_eq!(bincode::deserialize::<Records>(&bytes).expect("deserializes"), tail);
    }
}
