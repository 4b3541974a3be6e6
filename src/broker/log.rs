//! One replica's partition log: record batches in segments, in memory and persisted to
//! the node's disk (one file per segment), with the log start offset and the leader
//! epoch cache of KIP-101.
//!
//! The in-memory copy serves reads; the disk (page cache or flushed) is what a restarted
//! process finds. Each batch is one disk entry, so a truncation is a truncation of the
//! entry list (rewriting a partial batch when the cut falls inside one). Retention
//! deletes whole segments from the front and moves the log start offset.

use super::epoch_cache::EpochCache;
use super::producer_state::ProducerState;
use super::retention::SegmentInfo;
use super::segment::Segment;
use super::txn_index::TxnIndex;
use super::txn_verification::TxnVerifications;
use crate::protocol::{
    LeaderEpoch, Offset, ProducerId, Record, RecordBatch, TopicId, TopicPartition, DEFAULT_SEGMENT_BYTES,
};
use crate::sim::disk::Disk;
use bincode::Options;
use bytes::Bytes;
use std::collections::BTreeMap;

/// A replica's log of one partition.
pub struct PartitionLog {
    tp: TopicPartition,
    /// The segments in offset order; never empty: the last one is the active segment.
    segments: Vec<Segment>,
    /// The first offset still readable. Whole segments below it are deleted; a follower
    /// that adopts its leader's log start may keep a segment that starts below it.
    log_start_offset: Offset,
    /// The active segment's next offset, kept as the segments change
    /// ([`PartitionLog::sync_log_end`]): every fetch of every partition asks for it, and
    /// reaching it through the segment and batch vectors missed the cache twice.
    log_end_offset: Offset,
    epochs: EpochCache,
    disk: Disk,
    /// Records appended since the last flush (for `flush.messages`).
    unflushed_records: u64,
    /// The idempotent producers seen in this log, kept in step with its batches.
    producers: ProducerState,
    /// The transactions in this log, kept in step with its batches.
    txns: TxnIndex,
    /// The KIP-890 verifications this replica started as leader; not persisted.
    verifications: TxnVerifications,
    /// `segment.bytes`: a batch that would take the active segment past this starts a new one.
    segment_bytes: u64,
    /// The id of the topic this log belongs to (Kafka's `partition.metadata` file), once
    /// the broker learned it; `None` for a log written before it did.
    topic_id: Option<TopicId>,
}

impl PartitionLog {
    fn epoch_path(tp: &TopicPartition) -> String {
        format!("{tp}/leader-epoch-checkpoint")
    }

    fn log_start_path(tp: &TopicPartition) -> String {
        format!("{tp}/log-start-offset-checkpoint")
    }

    fn topic_id_path(tp: &TopicPartition) -> String {
        format!("{tp}/partition.metadata")
    }

    /// Deletes every file of `tp`'s log: its segments and checkpoints. Returns whether
    /// there was any.
    pub fn delete_files(disk: &Disk, tp: &TopicPartition) -> bool {
        let paths = disk.list(&format!("{tp}/"));
        for path in &paths {
            disk.delete(path);
        }
        !paths.is_empty()
    }

    /// Moves every file of `tp`'s log under the directory `dir` (a stray log's new home).
    pub fn move_files(disk: &Disk, tp: &TopicPartition, dir: &str) {
        let prefix = format!("{tp}/");
        for path in disk.list(&prefix) {
            let entries = disk.read(&path).unwrap_or_default();
            let moved = format!("{dir}/{}", &path[prefix.len()..]);
            for entry in entries {
                disk.append(&moved, &entry);
            }
            disk.flush(&moved);
            disk.delete(&path);
        }
    }

    /// Loads the log from disk (empty if never written) with Kafka's default 1 GiB
    /// segments.
    pub fn load(tp: TopicPartition, disk: Disk) -> Self {
        Self::load_with_segment_bytes(tp, disk, DEFAULT_SEGMENT_BYTES)
    }

    /// Loads the log from disk (empty if never written), rolling segments at
    /// `segment_bytes`. Undecodable entries end the log, as Kafka's recovery stops at
    /// the first corrupt batch; a segment that does not continue where the previous
    /// one ends is dropped with every later one.
    pub fn load_with_segment_bytes(tp: TopicPartition, disk: Disk, segment_bytes: u64) -> Self {
        let checkpointed_start: Offset = disk
            .read(&Self::log_start_path(&tp))
            .and_then(|entries| entries.last().and_then(|e| bincode::deserialize(e).ok()))
            .unwrap_or(0);
        let segments = Self::load_segments(&tp, &disk);
        let epochs = disk
            .read(&Self::epoch_path(&tp))
            .and_then(|entries| entries.last().and_then(|e| EpochCache::decode(e)))
            .unwrap_or_default();
        let topic_id = disk
            .read(&Self::topic_id_path(&tp))
            .and_then(|entries| entries.last().and_then(|e| bincode::deserialize(e).ok()));
        let mut log = PartitionLog {
            tp,
            segments,
            log_start_offset: 0,
            log_end_offset: 0,
            epochs,
            disk,
            unflushed_records: 0,
            producers: ProducerState::default(),
            txns: TxnIndex::default(),
            verifications: TxnVerifications::default(),
            segment_bytes,
            topic_id,
        };
        if log.segments.is_empty() {
            log.segments.push(Segment::new(&log.tp, checkpointed_start));
        }
        log.sync_log_end();
        log.log_start_offset = checkpointed_start.max(log.segments[0].base_offset);
        if log.log_start_offset > log.log_end_offset() {
            // The checkpoint outlived the data (a power loss after a follower restarted
            // its log at its leader's log start): start empty there, as Kafka does.
            let start = log.log_start_offset;
            log.delete_segments(log.segments.len());
            log.segments.push(Segment::new(&log.tp, start));
            log.sync_log_end();
        }
        log.producers = ProducerState::rebuild(log.batches());
        log.txns = TxnIndex::rebuild(log.batches());
        // The checkpoint may mention epochs whose batches did not survive (power loss):
        // Kafka's recovery drops entries starting at or after the log end.
        let end = log.log_end_offset();
        if log.epochs.truncate_from(end) {
            log.write_epoch_checkpoint();
        }
        log.rebuild_missing_epochs();
        log
    }

    /// Reads the segment files in offset order, stopping at the first corrupt batch or gap.
    fn load_segments(tp: &TopicPartition, disk: &Disk) -> Vec<Segment> {
        let mut segments: Vec<Segment> = Vec::new();
        let mut files: Vec<(Offset, String)> = disk
            .list(&format!("{tp}/"))
            .into_iter()
            .filter_map(|path| Segment::base_offset_of(&path).map(|base| (base, path)))
            .collect();
        files.sort();
        let mut intact = true;
        for (base, path) in files {
            let continues = segments.last().is_none_or(|prev| prev.next_offset() == base);
            if !intact || !continues {
                intact = false;
                disk.delete(&path);
                continue;
            }
            let mut segment = Segment::new(tp, base);
            let entries = disk.read(&path).unwrap_or_default();
            for entry in &entries {
                match decode_batch(entry) {
                    Ok(batch) if batch.base_offset == segment.next_offset() => segment.push(batch),
                    _ => break,
                }
            }
            if segment.batches.len() < entries.len() {
                disk.truncate(&path, segment.batches.len());
                intact = false;
            }
            segments.push(segment);
        }
        segments
    }

    /// Makes sure every batch epoch in the log has an entry (Kafka rebuilds the cache
    /// from the log when the checkpoint is behind).
    fn rebuild_missing_epochs(&mut self) {
        let mut changed = false;
        let starts: Vec<(LeaderEpoch, Offset)> =
            self.batches().map(|b| (b.partition_leader_epoch, b.base_offset)).collect();
        for (epoch, base_offset) in starts {
            if self.epochs.latest_epoch().is_none_or(|latest| epoch > latest) {
                changed |= self.epochs.assign(epoch, base_offset);
            }
        }
        if changed {
            self.write_epoch_checkpoint();
        }
    }

    /// Every batch held, in offset order (including any below the log start in the first
    /// segment).
    fn batches(&self) -> impl Iterator<Item = &RecordBatch> {
        self.segments.iter().flat_map(|s| s.batches.iter())
    }

    /// Every readable record (at or after the log start) with its batch epoch.
    fn readable_records(&self) -> impl Iterator<Item = (Offset, &Record, LeaderEpoch)> {
        let start = self.log_start_offset;
        self.batches()
            .flat_map(|b| b.offsets_and_records().map(move |(o, r)| (o, r, b.partition_leader_epoch)))
            .filter(move |(o, _, _)| *o >= start)
    }

    /// The id of the topic this log belongs to, if recorded.
    pub fn topic_id(&self) -> Option<TopicId> {
        self.topic_id
    }

    /// Records the topic's id with the log, durably, if it has none yet
    /// (`UnifiedLog.initializeTopicId`). Kafka flushes `partition.metadata`
    /// asynchronously but always before the first append (`maybeFlushMetadataFile`);
    /// writing it durably at once is the same as far as any reader can tell.
    pub fn record_topic_id(&mut self, id: TopicId) {
        if self.topic_id.is_none() {
            self.topic_id = Some(id);
            let entry = bincode::serialize(&id).expect("a topic id serializes");
            self.disk.overwrite_durably(&Self::topic_id_path(&self.tp), Bytes::from(entry));
        }
    }

    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        &self.tp
    }

    /// The offset after the last record.
    pub fn log_end_offset(&self) -> Offset {
        debug_assert_eq!(self.log_end_offset, self.segments.last().map_or(self.log_start_offset, Segment::next_offset));
        self.log_end_offset
    }

    /// Updates the cached log end offset after the segments changed.
    fn sync_log_end(&mut self) {
        self.log_end_offset = self.segments.last().map_or(self.log_start_offset, Segment::next_offset);
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

    /// The transactions of this log: open ones, and the aborted-transactions index.
    pub fn txns(&self) -> &TxnIndex {
        &self.txns
    }

    /// The KIP-890 verifications in progress on this replica.
    pub fn verifications(&self) -> &TxnVerifications {
        &self.verifications
    }

    /// The verifications, to start one.
    pub fn verifications_mut(&mut self) -> &mut TxnVerifications {
        &mut self.verifications
    }

    /// Every readable record's key and value as a `read_committed` reader sees them
    /// (records of open or aborted transactions and markers left out), and the records
    /// of each transaction still open, per producer: the group coordinator loads
    /// transactional offset commits from these.
    pub fn committed_key_values(&self) -> (Vec<(Option<String>, u64)>, OpenTxnRecords) {
        let mut out = Vec::new();
        let mut open: BTreeMap<ProducerId, Vec<(Option<String>, u64)>> = BTreeMap::new();
        for batch in self.batches().filter(|b| b.next_offset() > self.log_start_offset) {
            let pairs = batch.records.iter().map(|r| (r.key.clone(), r.value));
            match (batch.transactional, batch.control) {
                (false, _) => out.extend(pairs),
                (true, None) => open.entry(batch.producer_id).or_default().extend(pairs),
                (true, Some(marker)) => {
                    let pending = open.remove(&batch.producer_id).unwrap_or_default();
                    if marker.result == crate::protocol::TxnResult::Commit {
                        out.extend(pending);
                    }
                }
            }
        }
        (out, open)
    }

    /// Drops the idempotent-producer state (it is rebuilt from the batches on the next
    /// load or truncation). Only the planted bug `forget-idempotence-on-leader-change`
    /// calls this: a correct replica always keeps the state in step with its log.
    pub fn forget_producers(&mut self) {
        self.producers = ProducerState::default();
    }

    /// Every readable record's key and value, in offset order (the group coordinator
    /// loads `__consumer_offsets` from these).
    pub fn key_values(&self) -> Vec<(Option<String>, u64)> {
        self.readable_records().map(|(_, r, _)| (r.key.clone(), r.value)).collect()
    }

    /// Every readable record with its offset and batch epoch, for the trace.
    pub fn all_records(&self) -> Vec<(Offset, u64, LeaderEpoch)> {
        self.readable_records().map(|(o, r, e)| (o, r.value, e)).collect()
    }

    /// The segments' retention facts, oldest first, for [`super::retention`].
    pub fn segment_infos(&self) -> Vec<SegmentInfo> {
        self.segments
            .iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset,
                next_offset: s.next_offset(),
                size_bytes: s.size_bytes,
                largest_timestamp_ms: s.largest_timestamp_ms(),
            })
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
        let active = self.segments.last().expect("a log always has an active segment");
        if !active.batches.is_empty() && active.size_bytes + batch.size_bytes() > self.segment_bytes {
            self.roll();
        }
        self.unflushed_records += batch.records.len() as u64;
        self.producers.record(&batch);
        self.txns.record(&batch);
        self.verifications.record(&batch);
        let active = self.segments.last_mut().expect("a log always has an active segment");
        write_batch(&self.disk, &active.file, &batch);
        active.push(batch);
        self.sync_log_end();
    }

    /// Closes the active segment and starts a new one at the log end. Kafka flushes the
    /// closed segment right after a roll, so it is durable from then on.
    fn roll(&mut self) {
        self.flush();
        let end = self.log_end_offset();
        self.segments.push(Segment::new(&self.tp, end));
    }

    /// Records that `epoch` starts at the current log end (a new leader does this).
    pub fn assign_epoch_at_end(&mut self, epoch: LeaderEpoch) {
        let end = self.log_end_offset();
        if self.epochs.assign(epoch, end) {
            self.write_epoch_checkpoint();
        }
    }

    /// Removes every record at or after `offset`; returns the removed
    /// `(offset, value, leader epoch of its batch)`. Segments that start after `offset`
    /// are deleted; the one holding it becomes the active segment. Below the log start
    /// the log restarts empty at `offset`, as Kafka's `truncateFullyAndStartAt`.
    pub fn truncate_to(&mut self, offset: Offset) -> Vec<(Offset, u64, LeaderEpoch)> {
        if offset >= self.log_end_offset() {
            return Vec::new();
        }
        if offset < self.log_start_offset {
            let removed = self.all_records();
            self.restart_at(offset);
            return removed;
        }
        // Segments after the one holding `offset` go whole (the log start is at or below
        // `offset`, so the first segment always stays).
        let first_gone = self.segments.partition_point(|s| s.base_offset <= offset);
        let mut removed: Vec<(Offset, u64, LeaderEpoch)> = Vec::new();
        for segment in self.segments.drain(first_gone..) {
            self.disk.delete(&segment.file);
            for b in &segment.batches {
                removed.extend(b.offsets_and_records().map(|(o, r)| (o, r.value, b.partition_leader_epoch)));
            }
        }
        let active = self.segments.last_mut().expect("a log always has an active segment");
        let (mut tail, whole) = active.truncate_to(offset);
        tail.append(&mut removed);
        self.disk.truncate(&active.file, whole);
        for partial in active.batches.iter().skip(whole) {
            write_batch(&self.disk, &active.file, partial);
        }
        self.sync_log_end();
        // Kafka writes the checkpoint (and so fsyncs, committing the file system's
        // journal with this truncation) only when epochs went
        // (`LeaderEpochFileCache.truncateFromEndAsyncFlush`).
        if self.epochs.truncate_from(offset) {
            self.write_epoch_checkpoint();
        }
        // Kafka truncates the transaction index and reloads the producer state's open
        // transactions from the log (`ProducerStateManager.truncateAndReload`).
        self.txns = TxnIndex::rebuild(self.batches());
        // Truncated batches must be forgotten, or their retries would be taken for duplicates.
        self.producers = ProducerState::rebuild(self.batches());
        tail
    }

    /// Moves the log start forward to `new_start` (retention, or a follower adopting
    /// its leader's log start) and deletes every segment wholly below it; at or past
    /// the log end the log restarts empty there. Returns the records that stopped being
    /// readable, `(offset, value, leader epoch of its batch)`; empty if `new_start` is
    /// not ahead of the current log start.
    ///
    /// The new log start is checkpointed durably before segments are deleted, and
    /// deletions are durable at once (file-system metadata), so a crash or power loss
    /// never brings deleted records back.
    pub fn advance_log_start(&mut self, new_start: Offset) -> Vec<(Offset, u64, LeaderEpoch)> {
        if new_start <= self.log_start_offset {
            return Vec::new();
        }
        let removed: Vec<_> =
            self.readable_records().take_while(|(o, _, _)| *o < new_start).map(|(o, r, e)| (o, r.value, e)).collect();
        if new_start >= self.log_end_offset() {
            self.restart_at(new_start);
            return removed;
        }
        self.write_log_start_checkpoint(new_start);
        let below = self.segments.iter().take_while(|s| s.next_offset() <= new_start).count();
        self.delete_segments(below);
        self.log_start_offset = new_start;
        if self.epochs.truncate_from_start(new_start) {
            self.write_epoch_checkpoint();
        }
        // Producer state is kept: Kafka keeps an idempotent producer's state after its
        // batches are deleted, until the producer id expires.
        removed
    }

    /// Deletes the first `count` segments and their files.
    fn delete_segments(&mut self, count: usize) {
        for segment in self.segments.drain(..count) {
            self.disk.delete(&segment.file);
        }
        self.sync_log_end();
    }

    /// Deletes everything and starts an empty log at `offset`.
    fn restart_at(&mut self, offset: Offset) {
        self.write_log_start_checkpoint(offset);
        self.delete_segments(self.segments.len());
        self.segments.push(Segment::new(&self.tp, offset));
        self.log_start_offset = offset;
        self.sync_log_end();
        self.unflushed_records = 0;
        self.epochs = EpochCache::default();
        self.write_epoch_checkpoint();
        self.producers = ProducerState::default();
        self.txns = TxnIndex::default();
    }

    /// Batches holding records from `from` (exclusive of earlier records) up to `until`,
    /// within `limits` (at least one batch, as Kafka always returns one).
    pub fn read(&self, from: Offset, until: Offset, limits: ReadLimits) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        // Most fetches find nothing new (a follower at the log end, a consumer at the
        // high watermark): answer those without searching the segments.
        if limits.max_records == 0 || from >= until || from >= self.log_end_offset() {
            return out;
        }
        let (mut bytes, mut records) = (0, 0);
        let first_segment = self.segments.partition_point(|s| s.next_offset() <= from);
        for segment in &self.segments[first_segment..] {
            let first = segment.batches.partition_point(|b| b.next_offset() <= from);
            for batch in &segment.batches[first..] {
                let full = bytes >= limits.max_bytes || records >= limits.max_records;
                if batch.base_offset >= until || (!out.is_empty() && full) {
                    return out;
                }
                // Share only the records wanted (a fetch usually wants a batch's tail or
                // all of it).
                let skip = from.saturating_sub(batch.base_offset) as usize;
                let end = (until.min(batch.next_offset()) - batch.base_offset) as usize;
                let end = end.min(skip.saturating_add(limits.max_records - records));
                let slice = RecordBatch {
                    base_offset: batch.base_offset + skip as Offset,
                    partition_leader_epoch: batch.partition_leader_epoch,
                    producer_id: batch.producer_id,
                    producer_epoch: batch.producer_epoch,
                    base_sequence: batch.base_sequence,
                    records: batch.records.slice(skip..end),
                    transactional: batch.transactional,
                    control: batch.control,
                };
                bytes += slice.size_bytes();
                records += slice.records.len();
                out.push(slice);
            }
        }
        out
    }

    /// The first readable offset whose record timestamp is at or after `timestamp_ms`,
    /// from the segments' time indexes: the first segment whose largest timestamp
    /// reaches the target holds it (Kafka's `fetchOffsetByTimestamp`).
    pub fn offset_for_timestamp(&self, timestamp_ms: u64) -> Option<Offset> {
        self.segments
            .iter()
            .filter(|s| s.largest_timestamp_ms().is_some_and(|largest| largest >= timestamp_ms))
            .find_map(|s| s.offset_for_timestamp(timestamp_ms, self.log_start_offset))
    }

    /// How many records were appended since the last flush.
    pub fn unflushed_records(&self) -> u64 {
        self.unflushed_records
    }

    /// Flushes the log's segment files (fsync).
    pub fn flush(&mut self) {
        for segment in &self.segments {
            self.disk.flush(&segment.file);
        }
        self.unflushed_records = 0;
    }

    fn write_epoch_checkpoint(&self) {
        // Kafka writes the leader-epoch checkpoint with fsync on every change.
        self.disk.overwrite_durably(&Self::epoch_path(&self.tp), self.epochs.encode());
    }

    fn write_log_start_checkpoint(&self, start: Offset) {
        let bytes = bincode::serialize(&start).expect("offsets serialize");
        self.disk.overwrite_durably(&Self::log_start_path(&self.tp), Bytes::from(bytes));
    }
}

/// The key and value of every record of each open transaction, per producer id.
pub type OpenTxnRecords = BTreeMap<ProducerId, Vec<(Option<String>, u64)>>;

/// How much one [`PartitionLog::read`] may return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// No batch is added once this many bytes are read (a fetch's byte limit).
    pub max_bytes: u64,
    /// At most this many records; the last batch is cut short to fit (a consumer's
    /// `max.poll.records`). Reading stops there instead of reading to `until` and
    /// trimming, which cost a consumer far behind a copy of the whole log per fetch.
    pub max_records: usize,
}

impl ReadLimits {
    /// No limit.
    pub const NONE: ReadLimits = ReadLimits { max_bytes: u64::MAX, max_records: usize::MAX };
}

/// Appends `batch` to the segment file `file` as one entry: bincode with
/// variable-length integers, which store the small numbers of a batch (values,
/// timestamps, counts) in a few bytes each instead of eight (half the benchmark's disk
/// memory). The encoding goes through one buffer per thread, which the disk copies, so
/// an append allocates nothing (and bincode needs no pass to size it first).
fn write_batch(disk: &Disk, file: &str, batch: &RecordBatch) {
    thread_local! {
        static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    ENCODED.with_borrow_mut(|encoded| {
        encoded.clear();
        bincode::options().serialize_into(&mut *encoded, batch).expect("batches serialize");
        disk.append(file, encoded);
    });
}

/// The batch of a segment-file entry written by [`write_batch`].
fn decode_batch(entry: &[u8]) -> bincode::Result<RecordBatch> {
    bincode::options().deserialize(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::disk::DiskStore;

    fn batch(values: &[u64]) -> RecordBatch {
        RecordBatch::plain(values.iter().map(|v| Record::new(None, *v, *v)).collect())
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
        // A 0.11-1.1 leader answers epoch 2, which it never had, with epoch 3's start,
        // and only an epoch beyond all it knows with UNDEFINED (None).
        assert_eq!(log.epochs().end_offset_kip101(2, 3), Some(2));
        assert_eq!(log.epochs().end_offset_kip101(0, 3), Some(0));
        assert_eq!(log.epochs().end_offset_kip101(3, 3), Some(3));
        assert_eq!(log.epochs().end_offset_kip101(4, 3), None);
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

    /// A log of two batches: offsets 0..3 hold values 1..=3, offsets 3..5 values 4 and 5.
    fn two_batches(store: &DiskStore) -> PartitionLog {
        let mut log = PartitionLog::load(TopicPartition::new("t", 0), store.disk("b1"));
        log.append_as_leader(batch(&[1, 2, 3]), 1);
        log.append_as_leader(batch(&[4, 5]), 1);
        log
    }

    /// The `(offset, value)` pairs of a read.
    fn offsets_and_values(read: &[RecordBatch]) -> Vec<(Offset, u64)> {
        read.iter().flat_map(|b| b.offsets_and_records().map(|(o, r)| (o, r.value))).collect()
    }

    #[test]
    fn reads_slice_batches_to_the_requested_range() {
        let log = two_batches(&DiskStore::new());
        assert_eq!(offsets_and_values(&log.read(1, 4, ReadLimits::NONE)), vec![(1, 2), (2, 3), (3, 4)]);
        assert_eq!(log.offset_for_timestamp(4), Some(3));
    }

    #[test]
    fn reads_stop_at_the_record_limit_cutting_the_last_batch_short() {
        let log = two_batches(&DiskStore::new());
        let values = |max_records| offsets_and_values(&log.read(1, 5, ReadLimits { max_bytes: u64::MAX, max_records }));
        assert_eq!(values(0), vec![]);
        assert_eq!(values(1), vec![(1, 2)]);
        assert_eq!(values(3), vec![(1, 2), (2, 3), (3, 4)]);
        assert_eq!(values(99), vec![(1, 2), (2, 3), (3, 4), (4, 5)]);
        // The byte limit still lets the first batch through whole.
        let one_batch = log.read(0, 5, ReadLimits { max_bytes: 1, max_records: usize::MAX });
        assert_eq!(one_batch.len(), 1);
        assert_eq!(one_batch[0].records.len(), 3);
    }

    /// A log whose segments hold two 1-record batches (78 bytes each).
    fn small_segments(store: &DiskStore) -> PartitionLog {
        PartitionLog::load_with_segment_bytes(TopicPartition::new("t", 0), store.disk("b1"), 2 * 78)
    }

    #[test]
    fn segments_roll_at_segment_bytes_and_reads_span_them() {
        let store = DiskStore::new();
        let mut log = small_segments(&store);
        for v in 1..=5 {
            log.append_as_leader(batch(&[v]), 1);
        }
        let bases: Vec<Offset> = log.segment_infos().iter().map(|s| s.base_offset).collect();
        assert_eq!(bases, vec![0, 2, 4]);
        assert_eq!(store.disk("b1").list("t-0/").iter().filter(|p| p.ends_with(".log")).count(), 3);
        let values: Vec<u64> =
            log.read(1, 5, ReadLimits::NONE).iter().flat_map(|b| b.records.iter().map(|r| r.value)).collect();
        assert_eq!(values, vec![2, 3, 4, 5]);
        // A roll flushes the closed segment: a power loss keeps it.
        store.lose_page_cache("b1");
        let reloaded = small_segments(&store);
        assert_eq!(reloaded.all_records(), vec![(0, 1, 1), (1, 2, 1), (2, 3, 1), (3, 4, 1)]);
    }

    #[test]
    fn advancing_the_log_start_deletes_whole_segments_for_good() {
        let store = DiskStore::new();
        let mut log = small_segments(&store);
        for v in 1..=5 {
            log.append_as_leader(batch(&[v]), 1);
        }
        assert_eq!(log.advance_log_start(2), vec![(0, 1, 1), (1, 2, 1)]);
        assert_eq!(log.log_start_offset(), 2);
        assert_eq!(log.segment_infos()[0].base_offset, 2);
        assert_eq!(log.advance_log_start(1), vec![], "the log start never goes back");
        // Mid-segment (a follower adopting its leader's log start): the segment stays,
        // its head is no longer readable.
        assert_eq!(log.advance_log_start(3), vec![(2, 3, 1)]);
        assert_eq!(log.segment_infos()[0].base_offset, 2);
        assert_eq!(log.all_records(), vec![(3, 4, 1), (4, 5, 1)]);
        // Neither a crash nor a power loss brings deleted records back.
        store.lose_page_cache("b1");
        let reloaded = small_segments(&store);
        assert_eq!((reloaded.log_start_offset(), reloaded.log_end_offset()), (3, 4));
        assert_eq!(reloaded.all_records(), vec![(3, 4, 1)]);
    }

    #[test]
    fn a_log_start_past_the_end_restarts_the_log_there() {
        let store = DiskStore::new();
        let mut log = small_segments(&store);
        log.append_as_leader(batch(&[1, 2]), 1);
        assert_eq!(log.advance_log_start(10), vec![(0, 1, 1), (1, 2, 1)]);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (10, 10));
        assert_eq!(log.epochs().latest_epoch(), None);
        let mut fetched = batch(&[11]);
        fetched.base_offset = 10;
        fetched.partition_leader_epoch = 3;
        assert!(log.append_as_follower(fetched));
        let reloaded = small_segments(&store);
        assert_eq!(reloaded.all_records(), vec![(10, 11, 3)]);
        assert_eq!(reloaded.log_start_offset(), 10);
    }

    #[test]
    fn truncation_across_segments_deletes_the_later_ones() {
        let store = DiskStore::new();
        let mut log = small_segments(&store);
        for v in 1..=5 {
            log.append_as_leader(batch(&[v]), 1);
        }
        assert_eq!(log.truncate_to(1), vec![(1, 2, 1), (2, 3, 1), (3, 4, 1), (4, 5, 1)]);
        assert_eq!(log.segment_infos().len(), 1);
        log.append_as_leader(batch(&[9]), 2);
        let reloaded = small_segments(&store);
        assert_eq!(reloaded.all_records(), vec![(0, 1, 1), (1, 9, 2)]);
    }

    #[test]
    fn the_time_lookup_uses_each_segment_and_skips_deleted_records() {
        let store = DiskStore::new();
        let mut log = small_segments(&store);
        // Timestamps equal values: 10, 20, 30, 40, 50 at offsets 0-4.
        for v in [10, 20, 30, 40, 50] {
            log.append_as_leader(batch(&[v]), 1);
        }
        assert_eq!(log.offset_for_timestamp(0), Some(0));
        assert_eq!(log.offset_for_timestamp(25), Some(2));
        assert_eq!(log.offset_for_timestamp(50), Some(4));
        assert_eq!(log.offset_for_timestamp(51), None);
        log.advance_log_start(3);
        assert_eq!(log.offset_for_timestamp(0), Some(3), "never below the log start");
        assert_eq!(log.offset_for_timestamp(35), Some(3));
    }
}
