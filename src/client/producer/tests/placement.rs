//! Where `send` puts a record (`placement`): an explicit partition, the key's hash, or
//! the topic's partitioner for unkeyed records under each release's rules, driven through
//! the producer's shared state as `send` and the sender drive it.

use super::super::config::ProducerConfig;
use super::super::state::State;
use super::{broker_1, in_sim, in_sim_async, plain, record, Outcome};
use crate::client::connection_states::Readiness;
use crate::client::partitioner::partition_for_key;
use crate::protocol::UnkeyedPartitioning;
use crate::protocol::{BrokerId, LeaderEpoch, TopicPartition};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::oneshot;

/// A producer's state that knows topic `orders` with `partitions` partitions, all led.
fn state(config: &ProducerConfig, partitions: u32) -> State {
    let mut state = State::new(config);
    state.partition_counts.insert("orders".into(), partitions);
    state.available_partitions.insert("orders".into(), (0..partitions).collect());
    state
}

/// Sends a record of `value` (with `partition` and `key`, if any); returns its partition.
fn send(state: &mut State, config: &ProducerConfig, partition: Option<u32>, key: Option<&str>, value: u64) -> u32 {
    let (completion, _outcome): (_, Outcome) = oneshot::channel();
    let record = super::orders_record(partition, key, value);
    let partitions = state.partition_counts["orders"];
    state.append_record(config, &record, super::record(value), completion, partitions).tp.partition
}

/// Sends an unkeyed record; returns its partition.
fn unkeyed(state: &mut State, config: &ProducerConfig, value: u64) -> u32 {
    send(state, config, None, None, value)
}

/// Drains every ready batch to broker 1 and answers it at once, as a sync producer's
/// sender would between two sends.
fn drain_and_answer(state: &mut State, config: &ProducerConfig) {
    let (mut requests, _) = state.drain_ready(config, 0, broker_1, |_| Readiness::Ready);
    let batches = requests.remove(&BrokerId(1)).unwrap_or_default();
    state.accumulator.release(BrokerId(1), &batches);
}

/// [`plain`] with `partitioner` and `batch.size` 16384.
fn with(partitioner: UnkeyedPartitioning) -> ProducerConfig {
    ProducerConfig { partitioner, batch_size: 16_384, linger_ms: 10, ..plain() }
}

/// How many times the partition changes along `partitions`.
fn switches(partitions: &[u32]) -> usize {
    partitions.windows(2).filter(|w| w[0] != w[1]).count()
}

#[test]
fn an_explicit_partition_wins_and_a_key_hashes_with_murmur2_in_every_release() {
    in_sim(|| {
        for partitioner in
            [UnkeyedPartitioning::RoundRobin, UnkeyedPartitioning::Sticky, UnkeyedPartitioning::UniformSticky]
        {
            let config = with(partitioner);
            let mut state = state(&config, 6);
            for value in 0..20 {
                assert_eq!(send(&mut state, &config, Some(4), Some("foobar"), value), 4);
                let key = format!("key-{value}");
                let hashed = send(&mut state, &config, None, Some(&key), value);
                assert_eq!(hashed, partition_for_key(key.as_bytes(), 6), "{partitioner:?}");
            }
        }
    });
}

#[test]
fn up_to_2_3_unkeyed_records_go_round_robin_over_the_available_partitions() {
    in_sim(|| {
        let config = with(UnkeyedPartitioning::RoundRobin);
        let mut state = state(&config, 4);
        // Partition 2 has no known leader.
        state.available_partitions.insert("orders".into(), vec![0, 1, 3]);
        let chosen: Vec<u32> = (0..9).map(|value| unkeyed(&mut state, &config, value)).collect();
        // Every record moves on, though they all fit one batch.
        assert_eq!(switches(&chosen), 8, "{chosen:?}");
        assert_eq!(chosen[..3], chosen[3..6]);
        assert_eq!(chosen[..3].iter().collect::<BTreeSet<_>>(), [0, 1, 3].iter().collect(), "{chosen:?}");
    });
}

#[test]
fn from_2_4_unkeyed_records_stick_to_a_partition_until_a_record_starts_a_new_batch() {
    in_sim(|| {
        let config = with(UnkeyedPartitioning::Sticky);
        let mut state = state(&config, 3);
        // Records that share a batch (linger.ms 10) stay on one partition.
        let lingering: Vec<u32> = (0..5).map(|value| unkeyed(&mut state, &config, value)).collect();
        assert_eq!(switches(&lingering), 0, "{lingering:?}");
        // Once the batch is sent, the next record would start a new batch there: the
        // sticky partition moves on (`onNewBatch`) and the record goes to the new one.
        state.accumulator.flushing = true;
        drain_and_answer(&mut state, &config);
        state.accumulator.flushing = false;
        let next = unkeyed(&mut state, &config, 5);
        assert_ne!(next, lingering[0]);
        // A sync producer (one record per batch) switches on every record.
        let mut state = self::state(&config, 3);
        let chosen: Vec<u32> = (0..10)
            .map(|value| {
                let partition = unkeyed(&mut state, &config, value);
                drain_and_answer(&mut state, &ProducerConfig { linger_ms: 0, ..config.clone() });
                partition
            })
            .collect();
        assert_eq!(switches(&chosen), 9, "{chosen:?}");
    });
}

#[test]
fn from_3_3_unkeyed_records_stick_to_a_partition_for_batch_size_bytes() {
    in_sim(|| {
        let config = ProducerConfig { linger_ms: 0, ..with(UnkeyedPartitioning::UniformSticky) };
        let per_partition = config.batch_size.div_ceil(record(0).size_bytes()) as usize;
        let mut state = state(&config, 3);
        // A sync producer: each record is its own batch, sent before the next one.
        let chosen: Vec<u32> = (0..3 * per_partition as u64 + 1)
            .map(|value| {
                let partition = unkeyed(&mut state, &config, value);
                drain_and_answer(&mut state, &config);
                partition
            })
            .collect();
        // The partition is kept for batch.size bytes, then chosen anew (possibly again).
        for run in chosen.chunks(per_partition) {
            assert_eq!(switches(run), 0, "{} records of {} bytes", run.len(), record(0).size_bytes());
        }
        let starts: BTreeSet<u32> = chosen.iter().step_by(per_partition).copied().collect();
        assert!(starts.iter().all(|p| *p < 3));
    });
}

#[test]
fn from_3_3_records_lingering_in_one_batch_move_on_when_it_is_full() {
    in_sim(|| {
        // A long linger: records pile up in one open batch of ten records' batch.size;
        // the record that fills it moves the partition on (possibly to the same one).
        let config = ProducerConfig {
            batch_size: 10 * record(0).size_bytes(),
            linger_ms: 60_000,
            ..with(UnkeyedPartitioning::UniformSticky)
        };
        let mut state = state(&config, 3);
        let chosen: Vec<u32> = (0..40).map(|value| unkeyed(&mut state, &config, value)).collect();
        for run in chosen.chunks(10) {
            assert_eq!(switches(run), 0, "{chosen:?}");
        }
        assert!(switches(&chosen) > 0, "{chosen:?}");
    });
}

#[test]
fn adaptive_partitioning_leaves_out_the_partitions_of_a_leader_that_takes_no_requests() {
    in_sim_async(|| async {
        // Partitions 0 and 1 are led by broker 1, 2 and 3 by broker 2, which answers nothing.
        let leaders = |tp: &TopicPartition| -> Option<(BrokerId, LeaderEpoch)> {
            Some((BrokerId(if tp.partition < 2 { 1 } else { 2 }), 0))
        };
        let config = ProducerConfig {
            batch_size: 1,
            max_in_flight_requests_per_connection: 1,
            partitioner_availability_timeout_ms: 100,
            ..with(UnkeyedPartitioning::UniformSticky)
        };
        let mut state = state(&config, 4);
        // Every partition gets a queue; broker 2's first request stays in flight.
        for partition in 0..3 {
            send(&mut state, &config, Some(partition), None, u64::from(partition));
        }
        let (mut requests, _) = state.drain_ready(&config, 0, leaders, |_| Readiness::Ready);
        let to_broker_1 = requests.remove(&BrokerId(1)).expect("partitions 0 and 1");
        state.accumulator.release(BrokerId(1), &to_broker_1);
        // Partitions 2 and 3 have batches waiting; partition 3's is ready, and broker 2
        // cannot take it for longer than partitioner.availability.timeout.ms.
        send(&mut state, &config, Some(2), None, 3);
        send(&mut state, &config, Some(3), None, 4);
        for _ in 0..3 {
            madsim::time::sleep(Duration::from_millis(60)).await;
            state.drain_ready(&config, 0, leaders, |_| Readiness::Ready);
        }
        let chosen: Vec<u32> = (10..60)
            .map(|value| {
                let partition = unkeyed(&mut state, &config, value);
                let (mut requests, _) = state.drain_ready(&config, 0, leaders, |_| Readiness::Ready);
                let batches = requests.remove(&BrokerId(1)).unwrap_or_default();
                state.accumulator.release(BrokerId(1), &batches);
                partition
            })
            .collect();
        assert!(chosen.iter().all(|p| *p < 2), "{chosen:?}");
        assert!(chosen.contains(&0) && chosen.contains(&1), "{chosen:?}");
        // Without the timeout, broker 2's partitions stay in the draw.
        let config = ProducerConfig { partitioner_availability_timeout_ms: 0, ..config };
        state.drain_ready(&config, 0, leaders, |_| Readiness::Ready);
        let chosen: BTreeSet<u32> = (60..160).map(|value| unkeyed(&mut state, &config, value)).collect();
        assert!(chosen.contains(&2) || chosen.contains(&3), "{chosen:?}");
    });
}

#[test]
fn only_an_append_that_starts_or_fills_a_batch_wakes_the_sender() {
    in_sim(|| {
        let size = record(0).size_bytes();
        // Three records fill a batch.
        let config = ProducerConfig { batch_size: 3 * size, linger_ms: 10, ..plain() };
        let mut state = state(&config, 1);
        let append = |state: &mut State, value: u64| {
            let (completion, _outcome): (_, Outcome) = oneshot::channel();
            let record = super::orders_record(Some(0), None, value);
            state.append_record(&config, &record, super::record(value), completion, 1).wakes_sender
        };
        // `KafkaProducer.doSend`: `result.batchIsFull || result.newBatchCreated`.
        let wakes: Vec<bool> = (0..4).map(|value| append(&mut state, value)).collect();
        // Starts a batch; joins it; fills it; starts a second while the full one waits
        // (the queue holds a full batch either way).
        assert_eq!(wakes, [true, false, true, true]);
        // Once the full batch is sent, a record joining the open one wakes nobody, and
        // the one that fills it does.
        drain_and_answer(&mut state, &config);
        assert!(!append(&mut state, 4));
        assert!(append(&mut state, 5));
    });
}
