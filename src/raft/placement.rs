//! Where the active controller puts the replicas of new partitions: Kafka's
//! `StripedReplicaPlacer` (metadata module, `placement` package) for a cluster without
//! racks, which is every kafkasim cluster.
//!
//! Without `broker.rack` every broker sits in one rack (`Optional.empty()`), so the
//! placer's rack striping does nothing and what is left is its round robin within that
//! rack: the unfenced brokers sorted by id and read from a random offset, the offset
//! moving on by one for each partition, the first replica (the leader) always
//! unfenced, fenced brokers used only once the unfenced ones run out, and every broker
//! list shuffled once the placer has handed out as many partitions as there are
//! unfenced brokers.

use crate::protocol::{BrokerId, ErrorCode};
use rand::Rng;

/// The random draws the placer makes: `java.util.Random.nextInt(bound)`. The
/// simulation draws from its seeded generator; the tests replay Kafka's `MockRandom`,
/// so that they check the placements Kafka's own tests expect.
pub trait PlacementRandom {
    /// A number in `0..bound`.
    fn next_int(&mut self, bound: usize) -> usize;
}

impl<R: Rng> PlacementRandom for R {
    fn next_int(&mut self, bound: usize) -> usize {
        self.gen_range(0..bound)
    }
}

/// A broker the placer may use (`UsableBroker`): registered and not in controlled
/// shutdown (`ClusterControlManager.usableBrokers`), fenced or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsableBroker {
    /// The broker.
    pub id: BrokerId,
    /// Whether it is fenced: it may hold followers, never a new leader.
    pub fenced: bool,
}

/// One list of brokers read round robin from an offset (`StripedReplicaPlacer.BrokerList`).
#[derive(Clone, Debug, Default)]
struct BrokerList {
    brokers: Vec<BrokerId>,
    /// The next position to read, relative to `offset`, in this epoch.
    index: usize,
    offset: usize,
    epoch: u32,
}

impl BrokerList {
    /// Sorts the brokers and draws the starting offset (`initialize`).
    fn initialize(&mut self, rng: &mut impl PlacementRandom) {
        if !self.brokers.is_empty() {
            self.brokers.sort();
            self.offset = rng.next_int(self.brokers.len());
        }
    }

    /// `Collections.shuffle`: from the end, each position swapped with one drawn
    /// at or before it.
    fn shuffle(&mut self, rng: &mut impl PlacementRandom) {
        for i in (1..self.brokers.len()).rev() {
            let j = rng.next_int(i + 1);
            self.brokers.swap(i, j);
        }
    }

    /// The next broker of this placement `epoch` (one epoch per partition), if the list
    /// has one left: a new epoch starts from the next offset (`next`).
    fn next(&mut self, epoch: u32) -> Option<BrokerId> {
        if self.brokers.is_empty() {
            return None;
        }
        if self.epoch != epoch {
            self.epoch = epoch;
            self.index = 0;
            self.offset = (self.offset + 1) % self.brokers.len();
        }
        if self.index >= self.brokers.len() {
            return None;
        }
        let broker = self.brokers[(self.index + self.offset) % self.brokers.len()];
        self.index += 1;
        Some(broker)
    }
}

/// The placer for one CreateTopics or CreatePartitions (Kafka builds a `RackList` per
/// call).
pub struct ReplicaPlacer {
    unfenced: BrokerList,
    fenced: BrokerList,
    total: usize,
    epoch: u32,
}

impl ReplicaPlacer {
    /// A placer over `brokers` (`new RackList(random, usableBrokers)`).
    pub fn new(brokers: &[UsableBroker], rng: &mut impl PlacementRandom) -> Self {
        let mut unfenced = BrokerList::default();
        let mut fenced = BrokerList::default();
        for broker in brokers {
            if broker.fenced {
                fenced.brokers.push(broker.id);
            } else {
                unfenced.brokers.push(broker.id);
            }
        }
        // `RackList`'s constructor initializes each rack's fenced list, then its
        // unfenced list; the rack offset it draws next is 0 with one rack.
        fenced.initialize(rng);
        unfenced.initialize(rng);
        let _rack_offset = rng.next_int(1);
        ReplicaPlacer { total: brokers.len(), unfenced, fenced, epoch: 0 }
    }

    /// The replicas of the next partition, leader first (`RackList.place`), or
    /// INVALID_REPLICATION_FACTOR when the factor is not positive, exceeds the usable
    /// brokers, or no broker is unfenced.
    pub fn place(
        &mut self,
        replication_factor: u32,
        rng: &mut impl PlacementRandom,
    ) -> Result<Vec<BrokerId>, ErrorCode> {
        let factor = replication_factor as usize;
        if factor == 0 || factor > self.total || self.unfenced.brokers.is_empty() {
            return Err(ErrorCode::InvalidReplicationFactor);
        }
        // Once as many partitions as unfenced brokers are placed, shuffle to avoid
        // repeating the same assignments (never with one unfenced broker).
        let unfenced_count = self.unfenced.brokers.len();
        if self.epoch as usize == unfenced_count && unfenced_count > 1 {
            self.fenced.shuffle(rng);
            self.unfenced.shuffle(rng);
            self.epoch = 0;
        }
        let leader = self.unfenced.next(self.epoch).expect("an unfenced broker is left in a new epoch");
        let mut replicas = vec![leader];
        while replicas.len() < factor {
            let next = self.unfenced.next(self.epoch).or_else(|| self.fenced.next(self.epoch));
            match next {
                Some(broker) => replicas.push(broker),
                None => return Err(ErrorCode::InvalidReplicationFactor),
            }
        }
        self.epoch += 1;
        Ok(replicas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn brokers(unfenced: &[u32], fenced: &[u32]) -> Vec<UsableBroker> {
        let up = unfenced.iter().map(|&id| UsableBroker { id: BrokerId(id), fenced: false });
        up.chain(fenced.iter().map(|&id| UsableBroker { id: BrokerId(id), fenced: true })).collect()
    }

    fn ids(replicas: &[BrokerId]) -> Vec<u32> {
        replicas.iter().map(|b| b.0).collect()
    }

    /// Kafka's `MockRandom` (a `java.util.Random` with a fixed linear generator, state
    /// 17) and `Random.nextInt(bound)` over it.
    struct MockRandom(i64);

    impl MockRandom {
        fn next(&mut self, bits: u32) -> i32 {
            self.0 = self.0.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(3_037_000_493);
            ((self.0 as u64) >> (64 - bits)) as i32
        }
    }

    impl PlacementRandom for MockRandom {
        fn next_int(&mut self, bound: usize) -> usize {
            let bound = bound as i32;
            if bound & -bound == bound {
                return ((i64::from(bound) * i64::from(self.next(31))) >> 31) as usize;
            }
            loop {
                let bits = self.next(31);
                let value = bits % bound;
                if bits.wrapping_sub(value).wrapping_add(bound - 1) >= 0 {
                    return value as usize;
                }
            }
        }
    }

    #[test]
    fn kafka_tests_striped_placement_on_a_single_rack() {
        // StripedReplicaPlacerTest.testAvoidFencedReplicaIfPossibleOnSingleRack.
        let mut random = MockRandom(17);
        let mut placer = ReplicaPlacer::new(&brokers(&[3, 0, 4, 2], &[1]), &mut random);
        assert_eq!(placer.place(0, &mut random), Err(ErrorCode::InvalidReplicationFactor));
        let mut next = || ids(&placer.place(4, &mut random).unwrap());
        assert_eq!(next(), vec![3, 4, 0, 2]);
        assert_eq!(next(), vec![4, 0, 2, 3]);
        assert_eq!(next(), vec![0, 2, 3, 4]);
        assert_eq!(next(), vec![2, 3, 4, 0]);
        // Four partitions on four unfenced brokers: the lists are shuffled.
        assert_eq!(next(), vec![0, 4, 3, 2]);
    }

    #[test]
    fn kafka_tests_placement_on_a_fenced_replica_when_needed() {
        // StripedReplicaPlacerTest.testPlacementOnFencedReplicaOnSingleRack.
        let mut random = MockRandom(17);
        let mut placer = ReplicaPlacer::new(&brokers(&[3, 2], &[1]), &mut random);
        let mut next = || ids(&placer.place(3, &mut random).unwrap());
        assert_eq!(next(), vec![3, 2, 1]);
        assert_eq!(next(), vec![2, 3, 1]);
        assert_eq!(next(), vec![3, 2, 1]);
        assert_eq!(next(), vec![2, 3, 1]);
    }

    #[test]
    fn partitions_stripe_across_the_brokers_one_offset_apart() {
        // The class comment: successive partitions start one broker further on.
        let mut rng = StdRng::seed_from_u64(7);
        let mut placer = ReplicaPlacer::new(&brokers(&[1, 2, 3], &[]), &mut rng);
        let first = ids(&placer.place(3, &mut rng).unwrap());
        let second = ids(&placer.place(3, &mut rng).unwrap());
        let third = ids(&placer.place(3, &mut rng).unwrap());
        let start = first[0];
        assert_eq!(second[0], start % 3 + 1);
        assert_eq!(third[0], second[0] % 3 + 1);
        for placement in [&first, &second, &third] {
            let mut sorted = placement.clone();
            sorted.sort();
            assert_eq!(sorted, vec![1, 2, 3], "each replica once: {placement:?}");
        }
    }

    #[test]
    fn a_fenced_broker_is_used_last_and_never_leads() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut placer = ReplicaPlacer::new(&brokers(&[1, 2], &[3]), &mut rng);
        for _ in 0..6 {
            let replicas = ids(&placer.place(3, &mut rng).unwrap());
            assert_ne!(replicas[0], 3, "{replicas:?}");
            assert_eq!(replicas[2], 3, "{replicas:?}");
        }
    }

    #[test]
    fn impossible_factors_are_invalid_replication_factors() {
        // StripedReplicaPlacerTest.testNotEnoughBrokers / testAllBrokersFenced.
        let mut rng = StdRng::seed_from_u64(1);
        let mut placer = ReplicaPlacer::new(&brokers(&[1, 2], &[]), &mut rng);
        assert_eq!(placer.place(3, &mut rng), Err(ErrorCode::InvalidReplicationFactor));
        assert_eq!(placer.place(0, &mut rng), Err(ErrorCode::InvalidReplicationFactor));
        let mut all_fenced = ReplicaPlacer::new(&brokers(&[], &[1, 2]), &mut rng);
        assert_eq!(all_fenced.place(1, &mut rng), Err(ErrorCode::InvalidReplicationFactor));
    }
}
