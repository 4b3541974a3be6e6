//! Identifiers.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A broker's id, as in Kafka's `broker.id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BrokerId(pub u32);

impl fmt::Display for BrokerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A KRaft node's id (Kafka's `node.id`): a controller's, or a broker's in KRaft mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A position in a partition's log. Offsets start at 0.
pub type Offset = u64;

/// The epoch of a partition's leadership; bumped by the controller on every leader change.
pub type LeaderEpoch = u32;

/// A topic's id (KIP-516: Kafka's topic `Uuid`, random and never reused). A KRaft
/// controller numbers topics from 1 (`MetadataImage::next_topic_id`); a ZooKeeper-mode
/// administrator draws one at random, as `AdminZkClient` does. The name of a deleted
/// topic may come back under a new id: the id tells the two incarnations apart.
pub type TopicId = u64;

/// A producer id assigned by InitProducerId (idempotent producers).
pub type ProducerId = i64;

/// The producer id carried by batches of a non-idempotent producer.
pub const NO_PRODUCER_ID: ProducerId = -1;

/// An idempotent producer's identity: the id InitProducerId assigned and the epoch it
/// currently writes under (Kafka's `ProducerIdAndEpoch`). Batches carry both fields, in
/// [`RecordBatch`](super::RecordBatch)'s `producer_id` and `producer_epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProducerIdAndEpoch {
    /// The producer id.
    pub id: ProducerId,
    /// The producer epoch; a higher epoch fences the same id's older epochs.
    pub epoch: i16,
}

/// A topic and partition number; displayed the Kafka way, `orders-2`. Ordered by topic
/// name, then partition.
// The hand-written `PartialEq` below is content equality (a pointer check first, then
// the names), so equal values hash alike under the derived `Hash`.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// The topic name, shared by every copy (requests, responses, records and maps all
    /// carry topic-partitions; cloning one allocates nothing).
    pub topic: Arc<str>,
    /// The partition number within the topic.
    pub partition: u32,
}

// Topic-partitions key the hottest maps of the simulation (a broker's partitions, its
// metadata, the fetch sessions). Copies share their topic's allocation, so comparing
// the pointers first skips most string comparisons; the order is the derived one.
impl PartialEq for TopicPartition {
    fn eq(&self, other: &Self) -> bool {
        self.partition == other.partition && (Arc::ptr_eq(&self.topic, &other.topic) || self.topic == other.topic)
    }
}

impl Ord for TopicPartition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let topics = match Arc::ptr_eq(&self.topic, &other.topic) {
            true => std::cmp::Ordering::Equal,
            false => self.topic.cmp(&other.topic),
        };
        topics.then(self.partition.cmp(&other.partition))
    }
}

impl PartialOrd for TopicPartition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TopicPartition {
    /// Builds a topic-partition.
    pub fn new(topic: impl Into<Arc<str>>, partition: u32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }

    /// Parses the `topic-N` form used in histories. The topic may itself contain dashes.
    pub fn parse(key: &str) -> Option<Self> {
        let (topic, partition) = key.rsplit_once('-')?;
        if topic.is_empty() {
            return None;
        }
        Some(TopicPartition { topic: topic.into(), partition: partition.parse().ok()? })
    }

    /// The topic of a `topic-N` key (the whole key if it has no dash).
    pub fn topic_of(key: &str) -> &str {
        key.rsplit_once('-').map_or(key, |(topic, _)| topic)
    }

    /// The entries of `map` whose partition belongs to `topic`, in partition order: a
    /// range of the map, not a scan of every topic.
    pub fn of_topic<'a, V>(
        map: &'a BTreeMap<TopicPartition, V>,
        topic: &'a str,
    ) -> impl Iterator<Item = (&'a TopicPartition, &'a V)> + 'a {
        map.range(TopicPartition::new(topic, 0)..).take_while(move |(tp, _)| *tp.topic == *topic)
    }

    /// Each topic's partition count (its highest partition plus one) among `partitions`.
    pub fn counts<'a>(partitions: impl IntoIterator<Item = &'a TopicPartition>) -> BTreeMap<String, u32> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for tp in partitions {
            let count = counts.entry(tp.topic.to_string()).or_default();
            *count = (*count).max(tp.partition + 1);
        }
        counts
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::partition_name(&self.topic, self.partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_partition_round_trips_through_its_display_form() {
        let tp = TopicPartition::new("my-orders", 12);
        assert_eq!(tp.to_string(), "my-orders-12");
        assert_eq!(TopicPartition::parse("my-orders-12"), Some(tp));
        assert_eq!(TopicPartition::parse("orders"), None);
        assert_eq!(TopicPartition::parse("-3"), None);
    }
}

/// A broker id and the host name clients connect to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerEndpoint {
    /// The broker id.
    pub id: BrokerId,
    /// The host name on the simulated network, e.g. `broker-1`.
    pub host: String,
}
