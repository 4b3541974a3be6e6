//! Where `send` puts a record, as `KafkaProducer.doSend` and `RecordAccumulator.append`
//! decide together: an explicit partition, else the key's murmur2 hash, else the topic's
//! partitioner for unkeyed records, whose rules need the accumulator's answers (would the
//! record start a new batch, are the partition's batches full) and its append (how many
//! bytes went in). See [`UnkeyedPartitioning`] for the three releases' rules.

use super::config::ProducerConfig;
use super::delivery::Completion;
use super::state::State;
use super::ProducerRecord;
use crate::client::partitioner::{partition_for_key, TopicPartitioner};
use crate::protocol::UnkeyedPartitioning;
use crate::protocol::{Record, TopicPartition};

/// Where [`State::append_record`] put a record.
pub struct Appended {
    /// The record's partition.
    pub tp: TopicPartition,
    /// Whether the append started or filled a batch, so that the sender has something
    /// new to drain (`RecordAccumulator.RecordAppendResult`).
    pub wakes_sender: bool,
}

impl State {
    /// Places `record` (stored as `stored`) in a partition of its topic, which has
    /// `partitions` partitions, and appends it to that partition's batch. Returns the
    /// partition, and whether the sender must wake for it.
    pub fn append_record(
        &mut self,
        config: &ProducerConfig,
        record: &ProducerRecord,
        stored: Record,
        completion: Completion,
        partitions: u32,
    ) -> Appended {
        let fixed =
            record.partition.or_else(|| record.key.as_ref().map(|k| partition_for_key(k.as_bytes(), partitions)));
        let size = stored.size_bytes();
        // The metadata's own name for the topic where it has one: the brokers' partition
        // maps share it, so the lookups of this record's batch, here and at its leader,
        // compare pointers instead of text (`TopicPartition`'s `Ord`).
        let topic = match self.available_partitions.get_key_value(&*record.topic) {
            Some((name, _)) => name.clone(),
            None => record.topic.clone(),
        };
        let tp = |partition| TopicPartition::new(topic.clone(), partition);
        let partition = match config.partitioner {
            UnkeyedPartitioning::RoundRobin => fixed.unwrap_or_else(|| {
                let (partitioner, available) = self.partitioner(&record.topic);
                partitioner.round_robin(available, partitions)
            }),
            UnkeyedPartitioning::Sticky => self.place_sticky(config, &record.topic, fixed, size, partitions),
            UnkeyedPartitioning::UniformSticky => match fixed {
                Some(partition) => partition,
                None => self.place_uniform_sticky(config, &record.topic, partitions),
            },
        };
        let new_batch = self.accumulator.append(tp(partition), stored, completion, config.batch_size);
        if fixed.is_none() && config.partitioner == UnkeyedPartitioning::UniformSticky {
            // `BuiltInPartitioner.updatePartitionInfo` after the append, with switching
            // allowed only if the partition's batches are full.
            let full = self.accumulator.all_batches_full(&tp(partition), config.batch_size);
            let (partitioner, available) = self.partitioner(&record.topic);
            partitioner.produced(size, config.batch_size, full, available, partitions);
        }
        // `KafkaProducer.doSend` wakes the sender only when the append started a batch or
        // filled one (`result.batchIsFull || result.newBatchCreated`): a record joining an
        // open batch makes nothing ready that was not.
        let wakes_sender = new_batch || self.accumulator.batch_is_full(&tp(partition), config.batch_size);
        Appended { tp: tp(partition), wakes_sender }
    }

    /// Kafka 2.4 to 3.2: the record's partition (its own, or the sticky one); if it
    /// would start a new batch there, `onNewBatch` may move the sticky partition and the
    /// record is placed again (KIP-480: `append` with `abortOnNewBatch`, for every record).
    fn place_sticky(
        &mut self,
        config: &ProducerConfig,
        topic: &str,
        fixed: Option<u32>,
        size: u64,
        partitions: u32,
    ) -> u32 {
        let first = fixed.unwrap_or_else(|| {
            let (partitioner, available) = self.partitioner(topic);
            partitioner.sticky(available, partitions)
        });
        let tp = TopicPartition::new(topic, first);
        if self.accumulator.joins_last_batch(&tp, size, config.batch_size) {
            return first;
        }
        let (partitioner, available) = self.partitioner(topic);
        let sticky = partitioner.on_new_batch(Some(first), available, partitions);
        fixed.unwrap_or(sticky)
    }

    /// Kafka 3.3 and later: the sticky partition, moved on first if the bytes produced
    /// to it reached `batch.size` and its batches are now full (`RecordAccumulator.partitionChanged`).
    fn place_uniform_sticky(&mut self, config: &ProducerConfig, topic: &str, partitions: u32) -> u32 {
        let (partitioner, available) = self.partitioner(topic);
        let current = partitioner.uniform_sticky(available, partitions);
        let full = self.accumulator.all_batches_full(&TopicPartition::new(topic, current), config.batch_size);
        let (partitioner, available) = self.partitioner(topic);
        if full && partitioner.produced(0, config.batch_size, true, available, partitions) {
            return partitioner.uniform_sticky(available, partitions);
        }
        current
    }

    /// The topic's partitioner state, and its partitions with a known leader (in order;
    /// borrowed, not copied for every record).
    fn partitioner(&mut self, topic: &str) -> (&mut TopicPartitioner, &[u32]) {
        if !self.partitioners.contains_key(topic) {
            self.partitioners.insert(topic.to_string(), TopicPartitioner::default());
        }
        let available = self.available_partitions.get(topic).map_or(&[][..], Vec::as_slice);
        (self.partitioners.get_mut(topic).expect("inserted above"), available)
    }
}
