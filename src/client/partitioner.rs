//! Kafka's default partitioner: an explicit partition wins; otherwise murmur2 of the key
//! (Kafka's `Utils.murmur2`, seed 0x9747b28c) modulo the partition count; otherwise the
//! sticky partitioner of KIP-480 (stay on one random partition until its batch is sent).

use madsim::rand::{thread_rng, Rng};

/// Kafka's `Utils.murmur2` over the key's bytes.
pub fn kafka_murmur2(key: &[u8]) -> i32 {
    murmur2::murmur2(key, 0x9747_b28c) as i32
}

/// The partition of a keyed record: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    ((kafka_murmur2(key) & 0x7fff_ffff) as u32) % partitions
}

/// The sticky partition choice for keyless records.
#[derive(Debug, Default)]
pub struct StickyPartitioner {
    current: Option<u32>,
}

impl StickyPartitioner {
    /// The partition for the next keyless record.
    pub fn partition(&mut self, partitions: u32) -> u32 {
        match self.current {
            Some(p) if p < partitions => p,
            _ => self.next_partition(partitions),
        }
    }

    /// Called when the sticky partition's batch is complete: move to another partition.
    pub fn next_partition(&mut self, partitions: u32) -> u32 {
        let chosen = if partitions <= 1 {
            0
        } else {
            // A different partition from the current one, uniformly.
            let offset = thread_rng().gen_range(1..partitions);
            (self.current.unwrap_or(0) + offset) % partitions
        };
        self.current = Some(chosen);
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
