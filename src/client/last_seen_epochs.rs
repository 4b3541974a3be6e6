//! The leader epoch a client last saw for each partition (Kafka's
//! `Metadata.lastSeenLeaderEpochs`, KAFKA-7738, Kafka 2.2): a metadata answer that gives
//! a partition an older leader epoch than one already seen comes from a broker that has
//! not heard of the newer leadership (a paused or partitioned old leader still believes
//! it leads), and the client keeps what it had for that partition rather than go back to
//! the old leader. Before 2.2 a client took every answer as it came.

use crate::protocol::{LeaderEpoch, PartitionMetadata, TopicId, TopicPartition};
use std::collections::BTreeMap;

/// What a client remembers of the leader epochs it saw, and whether it checks answers
/// against them at all.
#[derive(Clone, Debug)]
pub(super) struct LastSeenEpochs {
    /// Whether answers are checked (Kafka 2.2 and later).
    checked: bool,
    /// Per partition: the topic id and the greatest leader epoch seen under it.
    seen: BTreeMap<TopicPartition, (TopicId, LeaderEpoch)>,
}

/// What one partition's answer does to the cache.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Admitted {
    /// The partition's metadata to cache: the answer's, or, for an older epoch, what
    /// was cached already (`None`: nothing was).
    pub metadata: Option<PartitionMetadata>,
    /// Whether the answer moved the partition forward: first seen, a new topic id (the
    /// topic was recreated) or a greater leader epoch (KIP-580 counts the answers that
    /// move nothing as equivalent).
    pub moved_forward: bool,
}

impl LastSeenEpochs {
    /// Checks answers when `checked` (Kafka 2.2 and later).
    pub fn new(checked: bool) -> Self {
        LastSeenEpochs { checked, seen: BTreeMap::new() }
    }

    /// `Metadata.updateLatestMetadata`: what to cache for `answer`, given what is cached
    /// for its partition (`cached`).
    pub fn admit(&mut self, answer: PartitionMetadata, cached: Option<&PartitionMetadata>) -> Admitted {
        if !self.checked {
            return Admitted { metadata: Some(answer), moved_forward: true };
        }
        let now = (answer.topic_id, answer.leader_epoch);
        match self.seen.get_mut(&answer.tp) {
            None => {
                self.seen.insert(answer.tp.clone(), now);
                Admitted { metadata: Some(answer), moved_forward: true }
            }
            Some(last) if last.0 != answer.topic_id || answer.leader_epoch >= last.1 => {
                let moved_forward = last.0 != answer.topic_id || answer.leader_epoch > last.1;
                *last = now;
                Admitted { metadata: Some(answer), moved_forward }
            }
            // An older epoch: keep what is cached (Kafka logs "Got metadata for an older
            // epoch ..., not updating").
            Some(_) => Admitted { metadata: cached.cloned(), moved_forward: false },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::BrokerId;

    fn partition(leader: u32, epoch: LeaderEpoch, topic_id: TopicId) -> PartitionMetadata {
        PartitionMetadata {
            tp: TopicPartition::new("orders", 0),
            leader: Some(BrokerId(leader)),
            leader_epoch: epoch,
            replicas: vec![BrokerId(1), BrokerId(2)],
            isr: vec![BrokerId(1), BrokerId(2)],
            topic_id,
        }
    }

    #[test]
    fn an_answer_with_an_older_leader_epoch_keeps_the_cached_leader_from_kafka_2_2() {
        let id: TopicId = 1;
        let mut epochs = LastSeenEpochs::new(true);
        let first = epochs.admit(partition(1, 0, id), None);
        assert_eq!(first, Admitted { metadata: Some(partition(1, 0, id)), moved_forward: true });
        let newer = epochs.admit(partition(2, 1, id), first.metadata.as_ref());
        assert_eq!(newer, Admitted { metadata: Some(partition(2, 1, id)), moved_forward: true });
        // The old leader, back from a pause, still answers that it leads in epoch 0.
        let stale = epochs.admit(partition(1, 0, id), newer.metadata.as_ref());
        assert_eq!(stale, Admitted { metadata: Some(partition(2, 1, id)), moved_forward: false });
        // The same epoch again is taken (its ISR may have changed) but moves nothing.
        let same = epochs.admit(partition(2, 1, id), stale.metadata.as_ref());
        assert_eq!(same, Admitted { metadata: Some(partition(2, 1, id)), moved_forward: false });
    }

    #[test]
    fn a_recreated_topic_resets_the_epoch_and_before_kafka_2_2_every_answer_is_taken() {
        let (old, new): (TopicId, TopicId) = (1, 7);
        let mut epochs = LastSeenEpochs::new(true);
        epochs.admit(partition(2, 5, old), None);
        let recreated = epochs.admit(partition(1, 0, new), None);
        assert_eq!(recreated, Admitted { metadata: Some(partition(1, 0, new)), moved_forward: true });
        let mut unchecked = LastSeenEpochs::new(false);
        unchecked.admit(partition(2, 5, old), None);
        assert_eq!(unchecked.admit(partition(1, 0, old), None).metadata, Some(partition(1, 0, old)));
    }
}
