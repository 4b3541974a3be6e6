//! The replicated log of a KRaft quorum: entries tagged with the epoch of the leader that
//! appended them, and the epoch queries Kafka's `ReplicatedLog` answers
//! (`endOffsetForEpoch`, `validateOffsetAndEpoch`, `truncateToEndOffset`).
//!
//! The model keeps the whole log in memory and has no snapshots: a run's metadata log
//! stays small (thousands of records), so the leader never needs `FETCH_SNAPSHOT`.

pub use crate::protocol::kraft::{Entry, Epoch, OffsetAndEpoch, Payload};
use crate::protocol::Offset;

/// The answer to a follower's fetch position (Kafka's `ValidOffsetAndEpoch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchPosition {
    /// The follower's log matches the leader's up to the fetch offset.
    Valid,
    /// The follower's log diverges: it must truncate to at most this epoch's end offset
    /// and fetch again.
    Diverging(OffsetAndEpoch),
}

/// A replicated log, whole, from offset 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftLog<R> {
    entries: Vec<Entry<R>>,
}

impl<R> Default for RaftLog<R> {
    fn default() -> Self {
        RaftLog { entries: Vec::new() }
    }
}

impl<R: Clone> RaftLog<R> {
    /// The next offset to be written.
    pub fn end_offset(&self) -> Offset {
        self.entries.len() as Offset
    }

    /// The log's end with the epoch of its last entry (epoch 0 for an empty log).
    pub fn end_offset_and_epoch(&self) -> OffsetAndEpoch {
        OffsetAndEpoch { epoch: self.last_epoch(), offset: self.end_offset() }
    }

    /// The epoch of the last entry, 0 when empty.
    pub fn last_epoch(&self) -> Epoch {
        self.entries.last().map_or(0, |e| e.epoch)
    }

    /// The entry at `offset`.
    pub fn get(&self, offset: Offset) -> Option<&Entry<R>> {
        self.entries.get(offset as usize)
    }

    /// Every entry from `offset` on.
    pub fn read_from(&self, offset: Offset) -> &[Entry<R>] {
        self.entries.get(offset as usize..).unwrap_or(&[])
    }

    /// Appends one entry.
    pub fn append(&mut self, entry: Entry<R>) {
        debug_assert!(entry.epoch >= self.last_epoch(), "epochs never go back in a log");
        self.entries.push(entry);
    }

    /// Removes every entry from `offset` on.
    pub fn truncate_to(&mut self, offset: Offset) {
        self.entries.truncate(offset as usize);
    }

    /// The largest epoch in the log up to `epoch`, and the offset where it ends (the
    /// start of the next epoch, or the log end). An epoch below every entry answers
    /// `(epoch, 0)`, the start of the log, as Kafka's `LeaderEpochFileCache.endOffsetFor`
    /// does for an epoch before its first one (KAFKA-7415).
    pub fn end_offset_for_epoch(&self, epoch: Epoch) -> OffsetAndEpoch {
        // Entries are sorted by epoch: the first entry past `epoch` ends it.
        let end = self.entries.partition_point(|e| e.epoch <= epoch);
        match end.checked_sub(1).map(|last| self.entries[last].epoch) {
            Some(found) => OffsetAndEpoch { epoch: found, offset: end as Offset },
            None => OffsetAndEpoch { epoch, offset: 0 },
        }
    }

    /// Whether a follower whose log ends at `fetch_offset` with an entry of
    /// `last_fetched_epoch` matches this (the leader's) log: Kafka's
    /// `ReplicatedLog.validateOffsetAndEpoch`, without the snapshot cases.
    pub fn validate_fetch_position(&self, fetch_offset: Offset, last_fetched_epoch: Epoch) -> FetchPosition {
        if fetch_offset == 0 {
            return FetchPosition::Valid;
        }
        let end = self.end_offset_for_epoch(last_fetched_epoch);
        if end.epoch != last_fetched_epoch || end.offset < fetch_offset {
            FetchPosition::Diverging(end)
        } else {
            FetchPosition::Valid
        }
    }

    /// Truncates where the leader said the logs diverge, and returns the new end:
    /// Kafka's `ReplicatedLog.truncateToEndOffset`. When this log has the leader's epoch,
    /// it keeps the smaller of the two ends of that epoch; when it does not, it keeps
    /// what it has up to its own largest epoch below.
    pub fn truncate_to_diverging(&mut self, diverging: OffsetAndEpoch) -> Offset {
        let to = if diverging.epoch == 0 {
            diverging.offset.min(self.end_offset())
        } else {
            let local = self.end_offset_for_epoch(diverging.epoch);
            if local.epoch == diverging.epoch {
                local.offset.min(diverging.offset)
            } else {
                local.offset
            }
        };
        self.truncate_to(to);
        to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(epochs: &[Epoch]) -> RaftLog<u32> {
        let mut log = RaftLog::default();
        for (i, &epoch) in epochs.iter().enumerate() {
            log.append(Entry { epoch, payload: Payload::Data(i as u32) });
        }
        log
    }

    #[test]
    fn the_end_of_an_epoch_is_the_start_of_the_next_or_the_log_end() {
        let l = log(&[1, 1, 3, 3, 3, 5]);
        assert_eq!(l.end_offset_for_epoch(1), OffsetAndEpoch { epoch: 1, offset: 2 });
        // Epoch 2 is not in the log: the largest epoch below it is 1.
        assert_eq!(l.end_offset_for_epoch(2), OffsetAndEpoch { epoch: 1, offset: 2 });
        assert_eq!(l.end_offset_for_epoch(3), OffsetAndEpoch { epoch: 3, offset: 5 });
        assert_eq!(l.end_offset_for_epoch(9), OffsetAndEpoch { epoch: 5, offset: 6 });
        assert_eq!(l.end_offset_for_epoch(0), OffsetAndEpoch { epoch: 0, offset: 0 });
    }

    #[test]
    fn a_fetch_position_is_valid_only_where_the_logs_agree() {
        let leader = log(&[1, 1, 3, 3, 3]);
        assert_eq!(leader.validate_fetch_position(0, 0), FetchPosition::Valid);
        assert_eq!(leader.validate_fetch_position(2, 1), FetchPosition::Valid);
        assert_eq!(leader.validate_fetch_position(4, 3), FetchPosition::Valid);
        // The follower has epoch-1 entries past where the leader's epoch 1 ends.
        assert_eq!(
            leader.validate_fetch_position(3, 1),
            FetchPosition::Diverging(OffsetAndEpoch { epoch: 1, offset: 2 })
        );
        // The follower has an epoch the leader never had: the leader answers its largest below.
        assert_eq!(
            leader.validate_fetch_position(3, 2),
            FetchPosition::Diverging(OffsetAndEpoch { epoch: 1, offset: 2 })
        );
    }

    #[test]
    fn a_diverging_follower_truncates_to_the_smaller_end_of_the_common_epoch() {
        // The follower wrote epoch 2 the leader never had.
        let mut follower = log(&[1, 1, 1, 2, 2]);
        let leader = log(&[1, 1, 3, 3]);
        let FetchPosition::Diverging(at) = leader.validate_fetch_position(5, 2) else { panic!("diverges") };
        assert_eq!(follower.truncate_to_diverging(at), 2);
        assert_eq!(follower.end_offset_and_epoch(), OffsetAndEpoch { epoch: 1, offset: 2 });
        assert_eq!(leader.validate_fetch_position(2, 1), FetchPosition::Valid);
    }
}
