//! The leader epoch cache of KIP-101: the start offset of each leader epoch on a replica
//! (Kafka's `leader-epoch-checkpoint`), which OffsetForLeaderEpoch answers from.

use crate::protocol::{LeaderEpoch, Offset};
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

    /// Records that `epoch` starts at `start_offset`, as Kafka's
    /// `LeaderEpochFileCache.assign` has since KAFKA-7415 (2.0.1): nothing to do when the
    /// latest entry is that epoch starting no later; otherwise every entry that is not
    /// both of an older epoch and earlier is dropped, and the new one appended. So an
    /// older epoch is recorded too: a replica that led an epoch without writing in it
    /// (its entry sits at its log end, as a new leader records it) and then fetches the
    /// next leader's older-epoch records at that offset keeps the epoch of what it holds,
    /// rather than claiming the later epoch for it. Returns whether the cache changed.
    pub fn assign(&mut self, epoch: LeaderEpoch, start_offset: Offset) -> bool {
        let update_needed = self.entries.last().is_none_or(|&(e, start)| e != epoch || start_offset < start);
        if !update_needed {
            return false;
        }
        // `truncateAndAppend`: keep only the entries that precede the new one in both.
        self.entries.retain(|&(e, start)| e < epoch && start < start_offset);
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

    /// KIP-101 as Kafka 0.11 to 1.1 answered OffsetForLeaderEpoch
    /// (`LeaderEpochFileCache.endOffsetFor` in 1.1): `log_end_offset` for the latest
    /// epoch, else the start offset of the first epoch larger than `epoch` (even when
    /// `epoch` itself is unknown here: the flaw KIP-279 fixed), and `None`
    /// (UNDEFINED_EPOCH_OFFSET) when no epoch is larger.
    pub fn end_offset_kip101(&self, epoch: LeaderEpoch, log_end_offset: Offset) -> Option<Offset> {
        if self.latest_epoch() == Some(epoch) {
            return Some(log_end_offset);
        }
        self.entries.iter().find(|(e, _)| *e > epoch).map(|(_, start)| *start)
    }

    /// Forgets epochs that end at or before `offset` (after the log start moved there):
    /// the epoch in force at `offset` is kept and now starts there, as Kafka's
    /// `truncateFromStart` does. Returns whether the cache changed (Kafka writes its
    /// checkpoint only then).
    pub fn truncate_from_start(&mut self, offset: Offset) -> bool {
        let before = self.entries.clone();
        let in_force = self.entries.partition_point(|(_, start)| *start <= offset);
        if in_force > 0 {
            self.entries.drain(..in_force - 1);
            self.entries[0].1 = self.entries[0].1.max(offset);
        }
        self.entries != before
    }

    /// Forgets epochs that start at or after `offset` (after a truncation). Returns
    /// whether any went (Kafka's `truncateFromEnd` writes its checkpoint only then).
    pub fn truncate_from(&mut self, offset: Offset) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(_, start)| *start < offset);
        self.entries.len() != before
    }

    pub(super) fn encode(&self) -> Bytes {
        Bytes::from(bincode::serialize(&self.entries).expect("epoch cache serializes"))
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        bincode::deserialize(bytes).ok().map(|entries| EpochCache { entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_cache_keeps_the_epoch_in_force_at_the_log_start() {
        let mut cache = EpochCache::default();
        cache.assign(1, 0);
        cache.assign(2, 5);
        cache.assign(4, 9);
        cache.truncate_from_start(7);
        assert_eq!(cache.end_offset_for(2, 12), Some((2, 9)));
        assert_eq!(cache.end_offset_for(1, 12), None);
        assert_eq!(cache.entries, vec![(2, 7), (4, 9)]);
    }

    #[test]
    fn an_older_epoch_fetched_where_a_later_one_was_recorded_replaces_it() {
        // A replica led epoch 3 from offset 5 without writing, then fetches the next
        // leader's epoch-2 records from offset 5 (Kafka's truncateAndAppend, KAFKA-7415).
        let mut cache = EpochCache::default();
        cache.assign(1, 0);
        cache.assign(3, 5);
        assert!(cache.assign(2, 5));
        assert_eq!(cache.entries, vec![(1, 0), (2, 5)]);
        // Its end is where the log ends, not where epoch 3 was said to start.
        assert_eq!(cache.end_offset_for(2, 8), Some((2, 8)));
        // The same epoch again, or starting later, changes nothing.
        assert!(!cache.assign(2, 5));
        assert!(!cache.assign(2, 7));
        // A newer epoch appends; the same epoch from an earlier offset moves its start.
        assert!(cache.assign(4, 8));
        assert!(cache.assign(4, 6));
        assert_eq!(cache.entries, vec![(1, 0), (2, 5), (4, 6)]);
    }
}
