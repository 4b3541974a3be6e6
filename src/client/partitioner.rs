//! Kafka's built-in partitioning. An explicit partition wins; otherwise murmur2 of the key
//! (Kafka's `Utils.murmur2`, seed 0x9747b28c) modulo the partition count; otherwise the
//! topic's partitioner for records without a key, which changed twice across releases
//! (see [`UnkeyedPartitioning`]). [`TopicPartitioner`] keeps one topic's state for all
//! three; when each rule applies (a new batch, bytes appended) is the producer's.
//!
//! "Available" partitions are those whose leader the producer's metadata knows
//! (`Cluster.availablePartitionsForTopic`), in partition order.

use madsim::rand::{thread_rng, Rng};

/// Kafka's `Utils.murmur2` over the key's bytes.
pub fn kafka_murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, 0x9747_b28c) as i32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions` (every
/// release's `DefaultPartitioner`, and `BuiltInPartitioner.partitionForKey` from 3.3).
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    ((kafka_murmur2(key) & 0x7fff_ffff) as u32) % partitions
}

/// The queue length of each partition of a topic that the adaptive partitioner may
/// choose, as `RecordAccumulator.partitionReady` collects them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueSizes {
    /// Batches queued per included partition, in partition order.
    pub sizes: Vec<u32>,
    /// The included partitions, in the same order.
    pub partitions: Vec<u32>,
    /// How many partitions of the topic have a queue at all, included or not (Kafka's
    /// `queueSizes.length`).
    pub queues: usize,
}

/// The adaptive partitioner's cumulative frequency table (`PartitionLoadStats`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct LoadStats {
    cumulative: Vec<u32>,
    partitions: Vec<u32>,
}

/// One topic's partitioner state.
#[derive(Clone, Debug, Default)]
pub struct TopicPartitioner {
    /// The round-robin counter (`DefaultPartitioner.topicCounterMap`, up to 2.3).
    counter: Option<i32>,
    /// The sticky partition (`StickyPartitionCache`, or `StickyPartitionInfo` from 3.3).
    sticky: Option<u32>,
    /// Bytes produced to the sticky partition since it was chosen (3.3+).
    produced_bytes: u64,
    /// The queue lengths the sender last handed over, from which the adaptive
    /// partitioner's load statistics come (3.3+); turned into statistics only when a
    /// switch reads them (see [`TopicPartitioner::load`]).
    queues: Option<QueueSizes>,
}

/// `Utils.toPositive(ThreadLocalRandom.current().nextInt()) % n`, as an index.
fn random_below(n: usize) -> usize {
    thread_rng().gen_range(0..n)
}

impl TopicPartitioner {
    /// The partition currently stuck to, if any.
    pub fn sticky_partition(&self) -> Option<u32> {
        self.sticky
    }

    /// Up to 2.3: the next partition in turn (`DefaultPartitioner.partition` without a
    /// key): `toPositive(counter++) % available`, over all partitions if none is available.
    pub fn round_robin(&mut self, available: &[u32], partitions: u32) -> u32 {
        let next = *self.counter.get_or_insert_with(|| thread_rng().gen::<i32>());
        self.counter = Some(next.wrapping_add(1));
        let positive = (next & 0x7fff_ffff) as usize;
        if available.is_empty() {
            (positive % partitions as usize) as u32
        } else {
            available[positive % available.len()]
        }
    }

    /// 2.4 to 3.2: the sticky partition, chosen now if there is none
    /// (`StickyPartitionCache.partition`).
    pub fn sticky(&mut self, available: &[u32], partitions: u32) -> u32 {
        match self.sticky {
            Some(partition) => partition,
            None => self.on_new_batch(None, available, partitions),
        }
    }

    /// 2.4 to 3.2: a record about to start a new batch on `previous` moves the sticky
    /// partition to another available one, unless it already moved away from `previous`
    /// (`StickyPartitionCache.nextPartition`). Returns the sticky partition.
    pub fn on_new_batch(&mut self, previous: Option<u32>, available: &[u32], partitions: u32) -> u32 {
        let old = self.sticky;
        if let Some(sticky) = old.filter(|_| old != previous) {
            return sticky;
        }
        let new = match available {
            [] => random_below(partitions as usize) as u32,
            [only] => *only,
            _ => loop {
                let candidate = available[random_below(available.len())];
                if Some(candidate) != old {
                    break candidate;
                }
            },
        };
        self.sticky = Some(new);
        new
    }

    /// 3.3+: the sticky partition, chosen now if there is none
    /// (`BuiltInPartitioner.peekCurrentPartitionInfo`).
    pub fn uniform_sticky(&mut self, available: &[u32], partitions: u32) -> u32 {
        match self.sticky {
            Some(partition) => partition,
            None => self.switch_partition(available, partitions),
        }
    }

    /// 3.3+: counts `appended` bytes produced to the sticky partition and moves on once
    /// `batch_size` bytes were produced and `enable_switch` (its batches are all full),
    /// or at twice `batch_size` regardless (`BuiltInPartitioner.updatePartitionInfo`).
    /// Returns whether it moved.
    pub fn produced(
        &mut self,
        appended: u64,
        batch_size: u64,
        enable_switch: bool,
        available: &[u32],
        partitions: u32,
    ) -> bool {
        self.produced_bytes += appended;
        let enough = self.produced_bytes >= batch_size.max(1);
        if (enough && enable_switch) || self.produced_bytes >= 2 * batch_size.max(1) {
            self.switch_partition(available, partitions);
            return true;
        }
        false
    }

    /// 3.3+: a new sticky partition with nothing produced to it
    /// (`BuiltInPartitioner.nextPartition`): uniformly among the available partitions
    /// (all partitions if none is), or by the load statistics when there are some. The
    /// new one may be the old one.
    fn switch_partition(&mut self, available: &[u32], partitions: u32) -> u32 {
        let partition = match &self.load() {
            Some(load) => {
                let total = *load.cumulative.last().expect("never empty");
                let weighted = random_below(total as usize) as u32;
                // The first partition whose cumulative frequency exceeds the draw.
                let index = load.cumulative.partition_point(|&c| c <= weighted);
                load.partitions[index]
            }
            None if available.is_empty() => random_below(partitions as usize) as u32,
            None => available[random_below(available.len())],
        };
        self.sticky = Some(partition);
        self.produced_bytes = 0;
        partition
    }

    /// 3.3+ with adaptive partitioning: takes the queue lengths the accumulator saw
    /// (`BuiltInPartitioner.updatePartitionLoadStats`). `None`, fewer than two queues,
    /// no included partition, or equal queues with none excluded leave no statistics:
    /// the next switch is uniform. Otherwise a partition's weight is the longest queue
    /// plus one minus its own.
    pub fn update_load_stats(&mut self, queues: Option<QueueSizes>) {
        self.queues = queues;
    }

    /// The load statistics of the queue lengths last handed over: a function of them
    /// alone, so computing them when a switch reads them, not at every hand-over (each
    /// sender wake-up), changes no choice.
    fn load(&self) -> Option<LoadStats> {
        self.queues.as_ref().and_then(|q| {
            let length = q.sizes.len();
            if length < 1 || q.queues < 2 {
                return None;
            }
            let max_plus_1 = q.sizes.iter().copied().max().expect("not empty") + 1;
            let all_equal = q.sizes.iter().all(|&s| s == q.sizes[0]);
            if all_equal && length == q.queues {
                return None;
            }
            let cumulative = q
                .sizes
                .iter()
                .scan(0, |sum, &size| {
                    *sum += max_plus_1 - size;
                    Some(*sum)
                })
                .collect();
            Some(LoadStats { cumulative, partitions: q.partitions.clone() })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Runtime;

    /// Runs `f` inside a madsim runtime (the partitioners draw from its seeded generator).
    fn in_sim(f: impl FnOnce() + Send + 'static) {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { f() });
    }

    #[test]
    fn murmur2_matches_kafkas_utils_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2.
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(kafka_murmur2(key.as_bytes()), expected, "key {key}");
        }
    }

    #[test]
    fn keyed_partitions_are_stable_and_in_range() {
        let p = partition_for_key(b"foobar", 6);
        assert!(p < 6);
        assert_eq!(p, partition_for_key(b"foobar", 6));
        assert_eq!(p, ((-790_332_482i32 & 0x7fff_ffff) as u32) % 6);
    }

    #[test]
    fn round_robin_cycles_through_the_available_partitions() {
        in_sim(|| {
            let mut partitioner = TopicPartitioner::default();
            let chosen: Vec<u32> = (0..6).map(|_| partitioner.round_robin(&[0, 2, 3], 4)).collect();
            // From a random start, each available partition in turn; 1 has no leader.
            let start = chosen.iter().position(|&p| p == 0).expect("0 is chosen");
            assert!(start < 3);
            assert_eq!(chosen[start..start + 3], [0, 2, 3]);
            assert_eq!(chosen[..3], chosen[3..]);
            // With no partition available, all of them take turns.
            let chosen: Vec<u32> = (0..4).map(|_| partitioner.round_robin(&[], 4)).collect();
            assert_eq!(chosen.iter().collect::<std::collections::BTreeSet<_>>().len(), 4);
        });
    }

    #[test]
    fn the_kip_480_sticky_partition_moves_to_another_one_on_a_new_batch_of_its_own() {
        in_sim(|| {
            let available = [0, 1, 2];
            let mut partitioner = TopicPartitioner::default();
            let first = partitioner.sticky(&available, 3);
            assert_eq!(partitioner.sticky(&available, 3), first, "it sticks");
            // A new batch on another partition (a keyed record's) does not move it.
            let other = (first + 1) % 3;
            assert_eq!(partitioner.on_new_batch(Some(other), &available, 3), first);
            // A new batch on the sticky partition moves it to a different one.
            for _ in 0..20 {
                let before = partitioner.sticky(&available, 3);
                let after = partitioner.on_new_batch(Some(before), &available, 3);
                assert_ne!(after, before);
                assert!(available.contains(&after));
            }
            // A single available partition is the only choice.
            let mut partitioner = TopicPartitioner::default();
            assert_eq!(partitioner.sticky(&[2], 3), 2);
            assert_eq!(partitioner.on_new_batch(Some(2), &[2], 3), 2);
        });
    }

    #[test]
    fn the_kip_794_partitioner_switches_after_batch_size_bytes_when_its_batches_are_full() {
        in_sim(|| {
            let available = [0, 1, 2];
            let mut partitioner = TopicPartitioner::default();
            let first = partitioner.uniform_sticky(&available, 3);
            // 100 bytes of a 250-byte batch.size: no switch yet.
            assert!(!partitioner.produced(100, 250, true, &available, 3));
            assert!(!partitioner.produced(100, 250, true, &available, 3));
            assert_eq!(partitioner.sticky_partition(), Some(first));
            // Enough bytes, but the last batch is not full: the switch waits...
            assert!(!partitioner.produced(100, 250, false, &available, 3));
            // ...for a full batch (an append of 0 bytes, as `partitionChanged` does)...
            assert!(partitioner.produced(0, 250, true, &available, 3));
            // ...or at twice batch.size regardless.
            assert!(!partitioner.produced(499, 250, false, &available, 3));
            assert!(partitioner.produced(1, 250, false, &available, 3));
        });
    }

    #[test]
    fn adaptive_partitioning_prefers_shorter_queues_and_stays_uniform_when_they_are_equal() {
        in_sim(|| {
            let mut partitioner = TopicPartitioner::default();
            // Queues 0, 3 and 1: weights 4, 1 and 3 (Kafka's example), cumulative 4 5 8.
            let queues = QueueSizes { sizes: vec![0, 3, 1], partitions: vec![0, 1, 2], queues: 3 };
            partitioner.update_load_stats(Some(queues));
            let load = partitioner.load().expect("statistics");
            assert_eq!(load.cumulative, vec![4, 5, 8]);
            let mut counts = [0u32; 3];
            for _ in 0..800 {
                partitioner.produced(2, 1, true, &[0, 1, 2], 3);
                counts[partitioner.sticky_partition().expect("chosen") as usize] += 1;
            }
            assert!(counts[0] > counts[2] && counts[2] > counts[1], "{counts:?}");
            // Equal queues, none excluded: uniform.
            let equal = QueueSizes { sizes: vec![2, 2, 2], partitions: vec![0, 1, 2], queues: 3 };
            partitioner.update_load_stats(Some(equal));
            assert!(partitioner.load().is_none());
            // Equal queues, partition 1 excluded (its broker is slow): only 0 and 2.
            let excluded = QueueSizes { sizes: vec![2, 2], partitions: vec![0, 2], queues: 3 };
            partitioner.update_load_stats(Some(excluded));
            for _ in 0..50 {
                partitioner.produced(2, 1, true, &[0, 1, 2], 3);
                assert_ne!(partitioner.sticky_partition(), Some(1));
            }
            // One queue only: no statistics.
            partitioner.update_load_stats(Some(QueueSizes { sizes: vec![1], partitions: vec![0], queues: 1 }));
            assert!(partitioner.load().is_none());
        });
    }
}
