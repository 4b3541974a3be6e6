//! One replica's partition log: record batches in memory, persisted to the node's disk,
//! with the leader epoch cache of KIP-101.
//!
//! The in-memory copy serves reads; the disk (page cache or flushed) is what a restarted
//! process finds. Each batch is one disk entry, so a truncation is a truncation of the
//! entry list (rewriting a partial batch when the cut falls inside one).

use super::producer_state::ProducerState;
use crate::protocol::{LeaderEpoch, Offset, Record, RecordBatch, TopicPartition};
use crate::sim::disk::Disk;
use bytes::Bytes;

/// The start offset of each leader epoch on this replica: Kafka's leader-epoch-checkpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochCache {
    /// `(epoch, start offset)`, increasing in both.
    entries: Vec<(LeaderEpoch, Offset)>,
}

impl EpochCache {
    /// The latest epoch, if any.
    pub fn latest_epoch(&self) -> Option<LeaderEpoch> {
        self.entries.last().map(|(e, _)| *e)
    }

    /// Records that `epoch` starts at `start_offset` (ignored unless it is newer).
    pub fn assign(&mut self, epoch: LeaderEpoch, start_offset: Offset) -> bool {
        if self.latest_epoch().is_some_and(|latest| epoch <= latest) {
            return false;
        }
        // An epoch cannot start before a later-recorded one did: drop entries it supersedes.
        self.entries.retain(|(_, start)| *start < start_offset);
        self.entries.push((epoch, start_offset));
        true
    }

    /// KIP-101/279: the largest epoch at most `epoch` and the offset where the next epoch
    /// starts (or `log_end_offset` when it is the latest). `None` if no epoch is that old.
    pub fn end_offset_for(&self, epoch: LeaderEpoch, log_end_offset: Offset) -> Option<(LeaderEpoch, Offset)> {
        let index = self.entries.iter().rposition(|(e, _)| *e <= epoch)?;
        let found = self.entries[index].0;
        let end = self.entries.get(index + 1).map_or(log_end_offset, |(_, start)| *start);
        Some((found, end))
    }

    /// Forgets epochs that start at or after `offset` (after a truncation).
    pub fn truncate_from(&mut self, offset: Offset) {
        self.entries.retain(|(_, start)| *start < offset);
    }

    fn encode(&self) -> Bytes {
        Bytes::from(bincode::serialize(&self.entries).expect("epoch cache serializes"))
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        bincode::deserialize(bytes).ok().map(|entries| EpochCache { entries })
    }
}

/// A replica's log of one partition.
pub struct PartitionLog {
    tp: TopicPartition,
    batches: Vec<RecordBatch>,
    log_start_offset: Offset,
    epochs: EpochCache,
    disk: Disk,
    /// Records appended since the last flush (for `flush.messages`).
    unflushed_records: u64,
    /// The idempotent producers seen in this log, kept in step with its batches.
    producers: ProducerState,
}

impl PartitionLog {
    fn log_path(tp: &TopicPartition) -> String {
        format!("{tp}/00000000000000000000.log")
    }

    fn epoch_path(tp: &TopicPartition) -> String {
        format!("{tp}/leader-epoch-checkpoint")
    }

    /// Loads the log from disk (empty if never written). Undecodable entries end the log,
    /// as Kafka's recovery stops at the first corrupt batch.
    pub fn load(tp: TopicPartition, disk: Disk) -> Self {
        let mut batches: Vec<RecordBatch> = Vec::new();
        let entries = disk.read(&Self::log_path(&tp)).unwrap_or_default();
        for entry in &entries {
            match bincode::deserialize::<RecordBatch>(entry) {
                Ok(batch) if batches.last().is_none_or(|b| b.next_offset() == batch.base_offset) => batches.push(batch),
                _ => break,
            }
        }
        if batches.len() < entries.len() {
            disk.truncate(&Self::log_path(&tp), batches.len());
        }
        let epochs = disk
            .read(&Self::epoch_path(&tp))
            .and_then(|entries| entries.last().and_then(|e| EpochCache::decode(e)))
            .unwrap_or_default();
        let producers = ProducerState::rebuild(&batches);
        let mut log = PartitionLog { tp, batches, log_start_offset: 0, epochs, disk, unflushed_records: 0, producers };
        // The checkpoint may mention epochs whose batches did not survive (power loss):
        // Kafka's recovery drops entries starting at or after the log end.
        let end = log.log_end_offset();
        log.epochs.truncate_from(end);
        log.rebuild_missing_epochs();
        log
    }

    /// Makes sure every batch epoch in the log has an entry (Kafka rebuilds the cache
    /// from the log when the checkpoint is behind).
    fn rebuild_missing_epochs(&mut self) {
        let mut changed = false;
        for batch in &self.batches {
            if self.epochs.latest_epoch().is_none_or(|latest| batch.partition_leader_epoch > latest) {
                changed |= self.epochs.assign(batch.partition_leader_epoch, batch.base_offset);
            }
        }
        if changed {
            self.write_epoch_checkpoint();
        }
    }

    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        &self.tp
    }

    /// The offset after the last record.
    pub fn log_end_offset(&self) -> Offset {
        self.batches.last().map_or(self.log_start_offset, RecordBatch::next_offset)
    }

    /// The first offset still in the log.
    pub fn log_start_offset(&self) -> Offset {
        self.log_start_offset
    }

    /// The leader epoch cache.
    pub fn epochs(&self) -> &EpochCache {
        &self.epochs
    }

    /// The idempotent producer state of this log.
    pub fn producers(&self) -> &ProducerState {
        &self.producers
    }

    /// Drops the idempotent-producer state (it is rebuilt from the batches on the next
    /// load or truncation). Only the planted bug `forget-idempotence-on-leader-change`
    /// calls this: a correct replica always keeps the state in step with its log.
    pub fn forget_producers(&mut self) {
        self.producers = ProducerState::default();
    }

    /// Every record's key and value, in offset order (the group coordinator loads
    /// `__consumer_offsets` from these).
    pub fn key_values(&self) -> Vec<(Option<String>, u64)> {
        self.batches.iter().flat_map(|b| b.records.iter().map(|r| (r.key.clone(), r.value))).collect()
    }

    /// Every record with its offset and batch epoch, for the trace.
    pub fn all_records(&self) -> Vec<(Offset, u64, LeaderEpoch)> {
        self.batches
            .iter()
            .flat_map(|b| b.offsets_and_records().map(move |(o, r)| (o, r.value, b.partition_leader_epoch)))
            .collect()
    }

    /// Appends records as leader in `epoch`; returns the batch as stored.
    pub fn append_as_leader(&mut self, mut batch: RecordBatch, epoch: LeaderEpoch) -> RecordBatch {
        batch.base_offset = self.log_end_offset();
        batch.partition_leader_epoch = epoch;
        if self.epochs.assign(epoch, batch.base_offset) {
            self.write_epoch_checkpoint();
        }
        self.push(batch.clone());
        batch
    }

    /// Appends a batch fetched from the leader; it must start at the log end offset.
    /// Returns false (and appends nothing) when it does not.
    pub fn append_as_follower(&mut self, batch: RecordBatch) -> bool {
        if batch.base_offset != self.log_end_offset() || batch.records.is_empty() {
            return false;
        }
        if self.epochs.assign(batch.partition_leader_epoch, batch.base_offset) {
            self.write_epoch_checkpoint();
        }
        self.push(batch);
        true
    }

    fn push(&mut self, batch: RecordBatch) {
        self.unflushed_records += batch.records.len() as u64;
        self.producers.record(&batch);
        self.disk
            .append(&Self::log_path(&self.tp), Bytes::from(bincode::serialize(&batch).expect("batches serialize")));
        self.batches.push(batch);
    }

    /// Records that `epoch` starts at the current log end (a new leader does this).
    pub fn assign_epoch_at_end(&mut self, epoch: LeaderEpoch) {
        let end = self.log_end_offset();
        if self.epochs.assign(epoch, end) {
            self.write_epoch_checkpoint();
        }
    }

    /// Removes every record at or after `offset`; returns the removed
    /// `(offset, value, leader epoch of its batch)`.
    pub fn truncate_to(&mut self, offset: Offset) -> Vec<(Offset, u64, LeaderEpoch)> {
        if offset >= self.log_end_offset() {
            return Vec::new();
        }
        let keep = self.batches.partition_point(|b| b.next_offset() <= offset);
        let mut removed: Vec<(Offset, u64, LeaderEpoch)> = Vec::new();
        let mut partial: Option<RecordBatch> = None;
        for batch in self.batches.drain(keep..) {
            if batch.base_offset < offset {
                let split = (offset - batch.base_offset) as usize;
                let mut kept = batch.clone();
                kept.records.truncate(split);
                let epoch = batch.partition_leader_epoch;
                removed.extend(batch.offsets_and_records().skip(split).map(|(o, r)| (o, r.value, epoch)));
                partial = Some(kept);
            } else {
                let epoch = batch.partition_leader_epoch;
                removed.extend(batch.offsets_and_records().map(|(o, r)| (o, r.value, epoch)));
            }
        }
        let path = Self::log_path(&self.tp);
        self.disk.truncate(&path, keep);
        if let Some(kept) = partial {
            self.push(kept);
        }
        self.epochs.truncate_from(offset);
        self.write_epoch_checkpoint();
        // Truncated batches must be forgotten, or their retries would be taken for duplicates.
        self.producers = ProducerState::rebuild(&self.batches);
        removed
    }

    /// Batches holding records from `from` (exclusive of earlier records) up to `until`,
    /// at most `max_bytes` (at least one batch, as Kafka always returns one).
    pub fn read(&self, from: Offset, until: Offset, max_bytes: u64) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut bytes = 0;
        let first = self.batches.partition_point(|b| b.next_offset() <= from);
        for batch in &self.batches[first..] {
            if batch.base_offset >= until || (!out.is_empty() && bytes >= max_bytes) {
                break;
            }
            // Copy only the records wanted (a fetch usually wants a batch's tail or all of
            // it): cloning whole batches and trimming them showed up in profiles.
            let skip = from.saturating_sub(batch.base_offset) as usize;
            let end = (until.min(batch.next_offset()) - batch.base_offset) as usize;
            let slice = RecordBatch {
                base_offset: batch.base_offset + skip as Offset,
                partition_leader_epoch: batch.partition_leader_epoch,
                producer_id: batch.producer_id,
                producer_epoch: batch.producer_epoch,
                base_sequence: batch.base_sequence,
                records: batch.records[skip..end].to_vec(),
            };
            bytes += slice.records.iter().map(Record::size_bytes).sum::<u64>();
            out.push(slice);
        }
        out
    }

    /// The first offset whose record timestamp is at or after `timestamp_ms`.
    pub fn offset_for_timestamp(&self, timestamp_ms: u64) -> Option<Offset> {
        self.batches
            .iter()
            .flat_map(RecordBatch::offsets_and_records)
            .find(|(_, r)| r.timestamp_ms >= timestamp_ms)
            .map(|(o, _)| o)
    }

    /// How many records were appended since the last flush.
    pub fn unflushed_records(&self) -> u64 {
        self.unflushed_records
    }

    /// Flushes the log file (fsync).
    pub fn flush(&mut self) {
        self.disk.flush(&Self::log_path(&self.tp));
        self.unflushed_records = 0;
    }

    fn write_epoch_checkpoint(&self) {
        // Kafka writes the leader-epoch checkpoint with fsync on every change.
        self.disk.overwrite_durably(&Self::epoch_path(&self.tp), self.epochs.encode());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::disk::DiskStore;

    fn batch(values: &[u64]) -> RecordBatch {
        RecordBatch::plain(values.iter().map(|v| Record { key: None, value: *v, timestamp_ms: *v }).collect())
    }

    #[test]
    fn appends_assign_offsets_and_epochs_and_survive_reload() {
        let store = DiskStore::new();
        let tp = TopicPartition::new("t", 0);
        let mut log = PartitionLog::load(tp.clone(), store.disk("b1"));
        log.append_as_leader(batch(&[10, 11]), 1);
        log.append_as_leader(batch(&[12]), 3);
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(log.epochs().end_offset_for(1, 3), Some((1, 2)));
        assert_eq!(log.epochs().end_offset_for(2, 3), Some((1, 2)));
        assert_eq!(log.epochs().end_offset_for(3, 3), Some((3, 3)));
        assert_eq!(log.epochs().end_offset_for(0, 3), None);
        let reloaded = PartitionLog::load(tp, store.disk("b1"));
        assert_eq!(reloaded.all_records(), vec![(0, 10, 1), (1, 11, 1), (2, 12, 3)]);
    }

    #[test]
    fn truncation_inside_a_batch_keeps_its_head() {
        let store = DiskStore::new();
        let tp = TopicPartition::new("t", 0);
        let mut log = PartitionLog::load(tp.clone(), store.disk("b1"));
        log.append_as_leader(batch(&[1, 2, 3]), 1);
        log.append_as_leader(batch(&[4]), 2);
        assert_eq!(log.truncate_to(1), vec![(1, 2, 1), (2, 3, 1), (3, 4, 2)]);
        assert_eq!(log.log_end_offset(), 1);
        assert_eq!(log.epochs().latest_epoch(), Some(1));
        let reloaded = PartitionLog::load(tp, store.disk("b1"));
        assert_eq!(reloaded.all_records(), vec![(0, 1, 1)]);
    }

    #[test]
    fn power_loss_drops_unflushed_batches_and_their_epochs() {
        let store = DiskStore::new();
        let tp = TopicPartition::new("t", 0);
        let mut log = PartitionLog::load(tp.clone(), store.disk("b1"));
        log.append_as_leader(batch(&[1]), 1);
        log.flush();
        log.append_as_leader(batch(&[2]), 2);
        store.lose_page_cache("b1");
        let reloaded = PartitionLog::load(tp, store.disk("b1"));
        assert_eq!(reloaded.all_records(), vec![(0, 1, 1)]);
        assert_eq!(reloaded.epochs().latest_epoch(), Some(1));
    }

    #[test]
    fn reads_slice_batches_to_the_requested_range() {
        let store = DiskStore::new();
        let mut log = PartitionLog::load(TopicPartition::new("t", 0), store.disk("b1"));
        log.append_as_leader(batch(&[1, 2, 3]), 1);
        log.append_as_leader(batch(&[4, 5]), 1);
        let read = log.read(1, 4, u64::MAX);
        let values: Vec<_> = read.iter().flat_map(|b| b.offsets_and_records().map(|(o, r)| (o, r.value))).collect();
        assert_eq!(values, vec![(1, 2), (2, 3), (3, 4)]);
        assert_eq!(log.offset_for_timestamp(4), Some(3));
    }
}
