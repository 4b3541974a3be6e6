//! Topic incarnations: a topic name an administrator deleted may be created again, under a
//! new topic id (KIP-516), and the two topics are different logs that share every
//! partition name. The history keeps them apart by spelling a partition of the k-th topic
//! of a name `orders#k-2` for k ≥ 2 (`orders-2` for the first, so runs that never re-create
//! a name are recorded exactly as before). `#` is not a legal character of a Kafka topic
//! name (`Topic.LEGAL_CHARS = [a-zA-Z0-9._-]`), so no real topic can collide with it, and
//! every checker that groups keys by topic treats each incarnation as its own topic.
//!
//! k is the rank of the topic's id among the ids the name has had, in the order the
//! cluster created them: controllers register each topic they create when the creation
//! commits (KRaft: the `TopicRecord`; ZooKeeper mode: the topic's node), and the first
//! id a name is seen with (the scenario's own topics) is registered when first spelled.
//! This is an observer's bookkeeping, like the trace: no node reads it to decide anything.

use crate::protocol::{TopicId, TopicPartition};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The separator between a topic name and its incarnation number in a history key.
pub const INCARNATION_SEPARATOR: char = '#';

/// The ids each topic name has had, in creation order.
#[derive(Debug, Default)]
pub struct TopicIncarnations {
    ids_by_name: BTreeMap<Arc<str>, Vec<TopicId>>,
    /// Every partition key spelled so far, by partition and incarnation: one shared
    /// string per partition, not one per op (a long run records millions of ops).
    partition_keys: BTreeMap<(TopicPartition, u32), Arc<str>>,
}

impl TopicIncarnations {
    /// Registers `id` as the newest topic named `name` (nothing if already registered)
    /// and returns its incarnation number, from 1.
    pub fn register(&mut self, name: &str, id: TopicId) -> u32 {
        let ids = match self.ids_by_name.get_mut(name) {
            Some(ids) => ids,
            None => self.ids_by_name.entry(Arc::from(name)).or_default(),
        };
        let position = match ids.iter().position(|&known| known == id) {
            Some(position) => position,
            None => {
                ids.push(id);
                ids.len() - 1
            }
        };
        position as u32 + 1
    }

    /// The incarnation number of topic `name` under `id`, registering a new id; with no
    /// id (a client that does not know the topic yet), the newest topic of the name.
    fn incarnation(&mut self, name: &str, id: Option<TopicId>) -> u32 {
        match id {
            Some(id) => self.register(name, id),
            None => self.ids_by_name.get(name).map_or(1, |ids| ids.len().max(1) as u32),
        }
    }

    /// The topic part of a history key for topic `name` under `id`: the name itself for
    /// its first incarnation, `name#k` for the k-th (the newest when `id` is unknown).
    pub fn topic_key(&mut self, name: &str, id: Option<TopicId>) -> Arc<str> {
        match self.incarnation(name, id) {
            1 => Arc::from(name),
            k => Arc::from(spell(name, k)),
        }
    }

    /// The history key of partition `tp` of the topic with id `id` (see
    /// [`topic_key`](Self::topic_key)).
    pub fn partition_key(&mut self, tp: &TopicPartition, id: Option<TopicId>) -> Arc<str> {
        let k = self.incarnation(&tp.topic, id);
        if let Some(key) = self.partition_keys.get(&(tp.clone(), k)) {
            return key.clone();
        }
        let key: Arc<str> = match k {
            1 => Arc::from(tp.to_string()),
            k => Arc::from(format!("{}-{}", spell(&tp.topic, k), tp.partition)),
        };
        self.partition_keys.insert((tp.clone(), k), key.clone());
        key
    }
}

/// `name#k`, the spelling of the k-th topic of a name (k ≥ 2).
fn spell(name: &str, k: u32) -> String {
    format!("{name}{INCARNATION_SEPARATOR}{k}")
}

/// Whether a partition's history key names the first topic of its name (`orders-2`, not
/// `orders#2-2`).
pub fn is_first_incarnation(partition_key: &str) -> bool {
    split_incarnation(TopicPartition::topic_of(partition_key)).1 == 1
}

/// The topic name and incarnation number of the topic part of a history key:
/// `("orders", 2)` for `orders#2`, `("orders", 1)` for `orders`.
pub fn split_incarnation(topic_key: &str) -> (&str, u32) {
    match topic_key.rsplit_once(INCARNATION_SEPARATOR) {
        Some((name, k)) => match k.parse::<u32>() {
            Ok(k) if k >= 2 => (name, k),
            _ => (topic_key, 1),
        },
        None => (topic_key, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_topic_of_a_name_keeps_its_name_and_later_ones_are_numbered() {
        let mut names = TopicIncarnations::default();
        let tp = TopicPartition::new("orders", 2);
        assert_eq!(&*names.partition_key(&tp, Some(7)), "orders-2");
        assert_eq!(&*names.partition_key(&tp, None), "orders-2", "an unknown id is the name alone");
        assert_eq!(names.register("orders", 9), 2);
        assert_eq!(&*names.partition_key(&tp, Some(9)), "orders#2-2");
        assert_eq!(&*names.partition_key(&tp, Some(7)), "orders-2", "the first keeps its spelling");
        assert_eq!(&*names.partition_key(&tp, None), "orders#2-2", "an unknown id is the newest topic");
        assert_eq!(&*names.topic_key("orders", Some(4)), "orders#3", "a new id is the next incarnation");
        assert_eq!(&*names.topic_key("payments", Some(9)), "payments", "numbering is per name");
    }

    #[test]
    fn keys_split_back_into_name_and_incarnation() {
        assert_eq!(split_incarnation("orders#2"), ("orders", 2));
        assert_eq!(split_incarnation("orders"), ("orders", 1));
        assert_eq!(split_incarnation("odd#x"), ("odd#x", 1));
        assert!(is_first_incarnation("orders-2") && !is_first_incarnation("orders#2-2"));
        assert_eq!(TopicPartition::parse("orders#2-0").map(|tp| tp.topic.to_string()), Some("orders#2".to_string()));
    }
}
