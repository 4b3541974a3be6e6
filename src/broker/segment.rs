//! One segment of a partition log: a run of batches from a base offset, stored as one
//! disk file, with its size and a time index (Kafka's `LogSegment` with its `.timeindex`).
//!
//! The time index is sparse, as Kafka's is: `LogSegment.append` adds an entry only once
//! more than `index.interval.bytes` (4096 by default) were appended since the last one,
//! and `TimeIndex.maybeAppend` only when the segment's largest timestamp so far has grown.
//! An entry `(largest timestamp so far, batch count)` says that every batch before that
//! count holds only records at or before that timestamp. To find the first record at
//! or after a target time, the lookup starts after the last entry below the target and
//! scans forward (Kafka's `findOffsetByTimestamp` scans from its index position too),
//! which is what `offsetsForTimes` looks for.

use crate::protocol::{LeaderEpoch, Offset, RecordBatch, TopicPartition};

/// One segment held in memory.
#[derive(Clone, Debug)]
pub(super) struct Segment {
    /// The offset of the segment's first record; also its file name.
    pub base_offset: Offset,
    /// The segment's file, [`Segment::path`] (kept: every append names it).
    pub file: String,
    /// The batches, contiguous from `base_offset`.
    pub batches: Vec<RecordBatch>,
    /// The sum of the batches' sizes, in bytes.
    pub size_bytes: u64,
    /// `(largest timestamp so far, batch count)`, both increasing (see the module).
    time_index: Vec<(u64, usize)>,
    /// The largest record timestamp of the segment.
    largest_timestamp_ms: Option<u64>,
    /// Bytes appended since the last time-index entry (Kafka's `bytesSinceLastIndexEntry`).
    bytes_since_index_entry: u64,
}

/// Kafka's `index.interval.bytes` default: the bytes appended between two index entries.
const INDEX_INTERVAL_BYTES: u64 = 4096;

impl Segment {
    /// An empty segment of partition `tp` starting at `base_offset`.
    pub fn new(tp: &TopicPartition, base_offset: Offset) -> Self {
        Self::in_file(Self::path(tp, base_offset), base_offset)
    }

    fn in_file(file: String, base_offset: Offset) -> Self {
        Segment {
            base_offset,
            file,
            batches: Vec::new(),
            size_bytes: 0,
            time_index: Vec::new(),
            largest_timestamp_ms: None,
            bytes_since_index_entry: 0,
        }
    }

    /// The segment's file: `{tp}/{base offset, 20 digits}.log`, as Kafka names segments
    /// (the fixed width makes the file names sort in offset order).
    pub fn path(tp: &TopicPartition, base_offset: Offset) -> String {
        format!("{tp}/{base_offset:020}.log")
    }

    /// The base offset a segment file name stands for, if it is one.
    pub fn base_offset_of(path: &str) -> Option<Offset> {
        let name = path.rsplit('/').next()?;
        name.strip_suffix(".log")?.parse().ok()
    }

    /// The offset after the segment's last record (its base offset when empty).
    pub fn next_offset(&self) -> Offset {
        self.batches.last().map_or(self.base_offset, RecordBatch::next_offset)
    }

    /// The largest record timestamp in the segment, in milliseconds.
    pub fn largest_timestamp_ms(&self) -> Option<u64> {
        self.largest_timestamp_ms
    }

    /// Appends a batch (which must start at [`Segment::next_offset`]).
    pub fn push(&mut self, batch: RecordBatch) {
        let batch_bytes = batch.size_bytes();
        self.size_bytes += batch_bytes;
        if let Some(max) = batch.max_timestamp_ms() {
            self.largest_timestamp_ms = Some(self.largest_timestamp_ms.map_or(max, |largest| largest.max(max)));
        }
        self.batches.push(batch);
        // `LogSegment.append`: the index check comes before this batch's bytes count.
        if self.bytes_since_index_entry > INDEX_INTERVAL_BYTES {
            if let Some(largest) = self.largest_timestamp_ms {
                if self.time_index.last().is_none_or(|&(indexed, _)| largest > indexed) {
                    self.time_index.push((largest, self.batches.len()));
                }
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += batch_bytes;
    }

    /// Removes every record at or after `offset`; returns the removed `(offset, value,
    /// epoch)` and how many leading batches were kept whole (the disk file keeps that
    /// many entries; a batch cut in two is re-appended by the caller from `batches`).
    pub fn truncate_to(&mut self, offset: Offset) -> (Vec<(Offset, u64, LeaderEpoch)>, usize) {
        let keep = self.batches.partition_point(|b| b.next_offset() <= offset);
        let mut removed = Vec::new();
        let mut partial = None;
        for batch in self.batches.drain(keep..) {
            let epoch = batch.partition_leader_epoch;
            let split = offset.saturating_sub(batch.base_offset) as usize;
            removed.extend(batch.offsets_and_records().skip(split).map(|(o, r)| (o, r.value, epoch)));
            if split > 0 {
                let mut kept = batch.clone();
                kept.records.truncate(split);
                partial = Some(kept);
            }
        }
        // Rebuilding is simpler than trimming and truncation is rare.
        let batches = std::mem::take(&mut self.batches);
        *self = Segment::in_file(std::mem::take(&mut self.file), self.base_offset);
        batches.into_iter().chain(partial).for_each(|b| self.push(b));
        (removed, keep)
    }

    /// The first offset at or after `from` whose record timestamp is at least
    /// `timestamp_ms`, found through the time index.
    pub fn offset_for_timestamp(&self, timestamp_ms: u64, from: Offset) -> Option<Offset> {
        if self.largest_timestamp_ms? < timestamp_ms {
            return None;
        }
        // Every batch before the last entry below the target is older than it.
        let below = self.time_index.partition_point(|(ts, _)| *ts < timestamp_ms);
        let by_time = below.checked_sub(1).map_or(0, |entry| self.time_index[entry].1);
        let by_offset = self.batches.partition_point(|b| b.next_offset() <= from);
        self.batches[by_time.max(by_offset)..]
            .iter()
            .flat_map(RecordBatch::offsets_and_records)
            .find(|(o, r)| *o >= from && r.timestamp_ms >= timestamp_ms)
            .map(|(o, _)| o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Record;

    fn batch(base_offset: Offset, timestamps: &[u64]) -> RecordBatch {
        let mut b = RecordBatch::plain(timestamps.iter().map(|t| Record::new(None, 100 + t, *t)).collect());
        b.base_offset = base_offset;
        b
    }

    #[test]
    fn the_time_index_finds_the_first_record_at_or_after_a_time() {
        let mut s = Segment::new(&TopicPartition::new("t", 0), 10);
        s.push(batch(10, &[5, 7]));
        s.push(batch(12, &[6])); // out of order: no index entry
        s.push(batch(13, &[9, 8, 12]));
        assert_eq!(s.largest_timestamp_ms(), Some(12));
        assert_eq!(s.offset_for_timestamp(0, 0), Some(10));
        assert_eq!(s.offset_for_timestamp(6, 0), Some(11));
        assert_eq!(s.offset_for_timestamp(8, 0), Some(13));
        assert_eq!(s.offset_for_timestamp(10, 0), Some(15));
        assert_eq!(s.offset_for_timestamp(13, 0), None);
        // Records below `from` (below the log start) are not answers.
        assert_eq!(s.offset_for_timestamp(6, 12), Some(12));
        assert_eq!(s.size_bytes, 6 * 78);
    }

    proptest::proptest! {
        /// Hundreds of batches, so that the index is sparse, with timestamps out of order.
        #[test]
        fn the_sparse_index_finds_what_a_scan_of_every_record_finds(
            batches in proptest::collection::vec(proptest::collection::vec(0u64..1_000, 1..4), 1..300),
            target in 0u64..1_100,
            from in 0u64..900,
        ) {
            let mut s = Segment::new(&TopicPartition::new("t", 0), 0);
            let mut next = 0;
            for timestamps in &batches {
                s.push(batch(next, timestamps));
                next += timestamps.len() as Offset;
            }
            let scanned = (0..).zip(batches.iter().flatten()).find(|&(o, &ts)| o >= from && ts >= target).map(|(o, _)| o);
            proptest::prop_assert_eq!(s.offset_for_timestamp(target, from), scanned);
            proptest::prop_assert!(s.time_index.len() <= 1 + s.size_bytes as usize / INDEX_INTERVAL_BYTES as usize);
        }
    }

    #[test]
    fn truncation_keeps_the_index_and_size_in_step() {
        let mut s = Segment::new(&TopicPartition::new("t", 0), 0);
        s.push(batch(0, &[1, 2]));
        s.push(batch(2, &[30]));
        let (removed, whole) = s.truncate_to(1);
        assert_eq!(removed, vec![(1, 102, 0), (2, 130, 0)]);
        assert_eq!(whole, 0);
        assert_eq!((s.next_offset(), s.size_bytes, s.largest_timestamp_ms()), (1, 78, Some(1)));
        assert_eq!(s.offset_for_timestamp(2, 0), None);
    }

    #[test]
    fn file_names_sort_in_offset_order_and_parse_back() {
        let tp = TopicPartition::new("t", 0);
        assert_eq!(Segment::path(&tp, 42), "t-0/00000000000000000042.log");
        assert_eq!(Segment::base_offset_of(&Segment::path(&tp, 42)), Some(42));
        assert_eq!(Segment::base_offset_of("t-0/leader-epoch-checkpoint"), None);
        assert!(Segment::path(&tp, 9) < Segment::path(&tp, 10));
    }
}
