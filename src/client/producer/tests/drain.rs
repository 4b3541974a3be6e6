//! The accumulator alone: batching by `batch.size` and `linger.ms`, the drain order, the
//! in-flight limits, re-enqueueing and delivery timeouts.

use super::super::accumulator::{Accumulator, Drain};
use super::super::batch::Batch;
use super::super::config::ProducerConfig;
use super::{broker_1, idempotent, in_sim, in_sim_async, plain, record, tp, values, Outcome};
use crate::client::connection_states::Readiness;
use crate::protocol::{BrokerId, LeaderEpoch, TopicPartition};
use crate::sim::clock;
use madsim::time::Instant;
use std::time::Duration;
use tokio::sync::oneshot;

/// Appends a record of `value` to `tp`; returns whether it started a batch, and its outcome.
fn append(accumulator: &mut Accumulator, config: &ProducerConfig, tp: TopicPartition, value: u64) -> (bool, Outcome) {
    let (completion, outcome) = oneshot::channel();
    (accumulator.append(tp, record(value), completion, config.batch_size), outcome)
}

/// Appends one-record batches of `values` to `tp` (with `batch.size` 1), dropping their outcomes.
fn append_all(accumulator: &mut Accumulator, tp: TopicPartition, values: impl IntoIterator<Item = u64>) {
    for value in values {
        append(accumulator, &plain(), tp.clone(), value);
    }
}

/// Drains at `now`, admitting every ready batch.
fn drain_at(
    accumulator: &mut Accumulator,
    config: &ProducerConfig,
    now: Instant,
    leader_of: impl Fn(&TopicPartition) -> Option<(BrokerId, LeaderEpoch)>,
) -> Drain {
    accumulator.drain(config, now, leader_of, |_| Readiness::Ready, |_| true)
}

/// Drains now with every partition led by broker 1 and counts the attempts, as the
/// sender does; returns broker 1's request.
fn send(accumulator: &mut Accumulator, config: &ProducerConfig) -> Vec<Batch> {
    let mut drain = drain_at(accumulator, config, clock::now(), broker_1);
    let mut batches = drain.requests.remove(&BrokerId(1)).unwrap_or_default();
    for batch in &mut batches {
        batch.attempts += 1;
    }
    batches
}

/// One request as the tests compare it: the broker and, per batch, the partition and the
/// record values.
type RequestSummary = (u32, Vec<(u32, Vec<u64>)>);

/// The requests of a drain, in broker order.
fn requests(drain: &Drain) -> Vec<RequestSummary> {
    drain
        .requests
        .iter()
        .map(|(broker, batches)| (broker.0, batches.iter().map(|b| (b.tp.partition, values(b))).collect()))
        .collect()
}

/// The values queued for `tp`, front first.
fn queued_values(accumulator: &Accumulator, tp: &TopicPartition) -> Vec<u64> {
    accumulator.queued(tp).flat_map(values).collect()
}

/// Partitions 0 and 1 led by broker 1, the others by broker 2.
fn two_brokers(tp: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
    Some((BrokerId(if tp.partition < 2 { 1 } else { 2 }), 0))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn records_share_a_batch_up_to_batch_size_and_a_full_batch_does_not_linger() {
    in_sim(|| {
        let config = ProducerConfig { batch_size: 2 * record(0).size_bytes(), linger_ms: 1000, ..plain() };
        let mut accumulator = Accumulator::default();
        let started: Vec<bool> = (0..3).map(|v| append(&mut accumulator, &config, tp(0), v).0).collect();
        assert_eq!(started, vec![true, false, true]);
        let now = clock::now();
        let drain = drain_at(&mut accumulator, &config, now, broker_1);
        assert_eq!(requests(&drain), vec![(1, vec![(0, vec![0, 1])])], "full: a second batch is behind it");
        let lingering = drain_at(&mut accumulator, &config, now, broker_1);
        assert!(lingering.requests.is_empty());
        assert_eq!(lingering.next_wake, Some(now + ms(1000)), "the second batch waits for linger.ms");
    });
}

#[test]
fn a_record_never_joins_a_batch_already_sent() {
    in_sim(|| {
        let config = ProducerConfig { batch_size: 16_384, ..plain() };
        let mut accumulator = Accumulator::default();
        append(&mut accumulator, &config, tp(0), 0);
        let sent = send(&mut accumulator, &config).pop().expect("lingered 0 ms");
        accumulator.release(BrokerId(1), std::slice::from_ref(&sent));
        accumulator.reenqueue(&config, sent, "NETWORK_EXCEPTION", clock::now());
        assert!(append(&mut accumulator, &config, tp(0), 1).0, "a new batch behind the retry");
        assert_eq!(accumulator.queued(&tp(0)).map(values).collect::<Vec<_>>(), vec![vec![0], vec![1]]);
    });
}

#[test]
fn a_batch_is_ready_once_linger_ms_passed_or_at_a_flush() {
    in_sim(|| {
        let config = ProducerConfig { batch_size: 16_384, linger_ms: 10, ..plain() };
        let mut accumulator = Accumulator::default();
        append(&mut accumulator, &config, tp(0), 0);
        let created = accumulator.queued(&tp(0)).next().expect("queued").created;
        let early = drain_at(&mut accumulator, &config, created + ms(9), broker_1);
        assert!(early.requests.is_empty());
        assert_eq!(early.next_wake, Some(created + ms(10)));
        let lingered = drain_at(&mut accumulator, &config, created + ms(10), broker_1);
        assert_eq!(requests(&lingered), vec![(1, vec![(0, vec![0])])]);

        let mut flushed = Accumulator::default();
        append(&mut flushed, &config, tp(0), 0);
        flushed.flushing = true;
        let drain = drain_at(&mut flushed, &config, created, broker_1);
        assert_eq!(requests(&drain), vec![(1, vec![(0, vec![0])])], "a flush does not wait for linger.ms");
    });
}

#[test]
fn a_drain_takes_one_batch_per_partition_in_order_and_one_request_per_broker() {
    in_sim(|| {
        let config = ProducerConfig { max_in_flight_requests_per_connection: 1, ..plain() };
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(2), [20, 21]);
        append_all(&mut accumulator, tp(1), [10, 11]);
        append_all(&mut accumulator, tp(0), [0, 1]);
        let first = drain_at(&mut accumulator, &config, clock::now(), two_brokers);
        assert_eq!(requests(&first), vec![(1, vec![(0, vec![0]), (1, vec![10])]), (2, vec![(2, vec![20])])]);
        assert!(drain_at(&mut accumulator, &config, clock::now(), two_brokers).requests.is_empty());

        // Broker 1's one request answered: both its partitions go on, broker 2 still waits.
        accumulator.release(BrokerId(1), &first.requests[&BrokerId(1)]);
        let second = drain_at(&mut accumulator, &config, clock::now(), two_brokers);
        assert_eq!(requests(&second), vec![(1, vec![(0, vec![1]), (1, vec![11])])]);
    });
}

/// A drain takes one batch of a partition per request; with more of the partition's
/// batches queued and room for another request, the sender must drain again at once
/// (Kafka's `sendProducerData` polls with a zero timeout while a node is ready), not
/// at the next unrelated wake-up.
#[test]
fn a_partition_with_more_batches_queued_asks_for_another_drain_at_once() {
    in_sim(|| {
        let config = plain();
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), [0, 1]);
        let now = clock::now();
        let first = drain_at(&mut accumulator, &config, now, broker_1);
        assert_eq!(requests(&first), vec![(1, vec![(0, vec![0])])]);
        assert_eq!(first.next_wake, Some(now), "batch 1 is ready and broker 1 takes 5 requests");
        let second = drain_at(&mut accumulator, &config, now, broker_1);
        assert_eq!(requests(&second), vec![(1, vec![(0, vec![1])])]);

        // At the in-flight limit the next drain can take nothing: no wake-up for it.
        let config = ProducerConfig { max_in_flight_requests_per_connection: 2, ..plain() };
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), [0, 1, 2]);
        assert_eq!(drain_at(&mut accumulator, &config, now, broker_1).next_wake, Some(now));
        assert_ne!(drain_at(&mut accumulator, &config, now, broker_1).next_wake, Some(now));
    });
}

#[test]
fn nothing_is_drained_to_a_broker_at_its_in_flight_limit() {
    in_sim(|| {
        let config = ProducerConfig { max_in_flight_requests_per_connection: 2, ..plain() };
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), 0..4);
        let first = send(&mut accumulator, &config);
        assert_eq!(first.iter().map(values).collect::<Vec<_>>(), vec![vec![0]]);
        assert_eq!(send(&mut accumulator, &config).iter().map(values).collect::<Vec<_>>(), vec![vec![1]]);
        assert!(send(&mut accumulator, &config).is_empty(), "two requests in flight");

        // Another broker is not held back by broker 1's limit.
        append_all(&mut accumulator, tp(2), [20]);
        let other = drain_at(&mut accumulator, &config, clock::now(), two_brokers);
        assert_eq!(requests(&other), vec![(2, vec![(2, vec![20])])]);

        accumulator.release(BrokerId(1), &first);
        assert_eq!(send(&mut accumulator, &config).iter().map(values).collect::<Vec<_>>(), vec![vec![2]]);
    });
}

#[test]
fn with_one_request_in_flight_a_partition_waits_for_its_batch_even_under_a_new_leader() {
    in_sim(|| {
        let config = ProducerConfig { max_in_flight_requests_per_connection: 1, ..plain() };
        let broker_2 = |_: &TopicPartition| Some((BrokerId(2), 0));
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), [0, 1]);
        let first = send(&mut accumulator, &config);
        assert_eq!(first.len(), 1);
        assert!(drain_at(&mut accumulator, &config, clock::now(), broker_2).requests.is_empty());
        accumulator.release(BrokerId(1), &first);
        let moved = drain_at(&mut accumulator, &config, clock::now(), broker_2);
        assert_eq!(requests(&moved), vec![(2, vec![(0, vec![1])])]);
    });
}

#[test]
fn a_failed_batch_goes_back_to_the_front_or_in_send_order_with_idempotence() {
    in_sim(|| {
        // Batch 1 fails, then batch 3: `reenqueue` puts each at the front, so 3 lands
        // before 1; `insertInSequenceOrder` keeps the send order.
        for (config, expected) in [(plain(), vec![3, 1, 4, 5]), (idempotent(), vec![1, 3, 4, 5])] {
            let mut accumulator = Accumulator::default();
            append_all(&mut accumulator, tp(0), 0..6);
            let mut sent: Vec<Option<Batch>> = (0..4).map(|_| send(&mut accumulator, &config).pop()).collect();
            for i in [1, 3] {
                let batch = sent[i].take().expect("sent");
                accumulator.release(BrokerId(1), std::slice::from_ref(&batch));
                accumulator.reenqueue(&config, batch, "NOT_LEADER_OR_FOLLOWER", clock::now());
            }
            assert_eq!(queued_values(&accumulator, &tp(0)), expected, "idempotence {}", config.enable_idempotence);
        }
    });
}

#[test]
fn a_retry_waits_out_retry_backoff_ms_and_holds_its_partition_meanwhile() {
    in_sim(|| {
        let config = ProducerConfig { retry_backoff_ms: 100, ..plain() };
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), 0..3);
        let failed = send(&mut accumulator, &config).pop().expect("sent");
        accumulator.release(BrokerId(1), std::slice::from_ref(&failed));
        let now = clock::now();
        accumulator.reenqueue(&config, failed, "NOT_ENOUGH_REPLICAS", now);
        let backing_off = drain_at(&mut accumulator, &config, now, broker_1);
        assert!(backing_off.requests.is_empty(), "batch 1 does not overtake the retry");
        assert_eq!(backing_off.next_wake, Some(now + ms(100)));
        let retried = drain_at(&mut accumulator, &config, now + ms(100), broker_1);
        assert_eq!(requests(&retried), vec![(1, vec![(0, vec![0])])]);
    });
}

#[test]
fn kip580_each_retry_of_a_batch_waits_twice_as_long_up_to_retry_backoff_max_ms() {
    in_sim_async(|| async {
        // `RecordAccumulator.shouldBackoff`: backoff(attempts - 1), 100 ms doubling to 1 s,
        // each ±20%; before Kafka 3.7 every retry waits 100 ms.
        for (max, terms) in [(Some(1_000), [100, 200, 400, 800, 1_000, 1_000]), (None, [100; 6])] {
            let config = ProducerConfig { retry_backoff_ms: 100, retry_backoff_max_ms: max, ..plain() };
            let mut accumulator = Accumulator::default();
            append_all(&mut accumulator, tp(0), 0..1);
            for term in terms {
                let failed = send(&mut accumulator, &config).pop().expect("sent");
                accumulator.release(BrokerId(1), std::slice::from_ref(&failed));
                let now = clock::now();
                accumulator.reenqueue(&config, failed, "NOT_ENOUGH_REPLICAS", now);
                let wait = drain_at(&mut accumulator, &config, now, broker_1).next_wake.expect("backing off") - now;
                let wait = wait.as_millis() as u64;
                match max {
                    Some(max) => {
                        assert!((term * 8 / 10..=(term * 12 / 10).min(max)).contains(&wait), "{wait} ms, term {term}")
                    }
                    None => assert_eq!(wait, term),
                }
                madsim::time::sleep(ms(wait)).await;
            }
        }
    });
}

#[test]
fn a_retry_goes_out_behind_later_batches_in_flight() {
    in_sim(|| {
        // The accumulator holds back nothing for a retry: with five requests in flight it
        // goes behind batch 1, the reordering a plain producer allows (an idempotent
        // producer's sequence rules hold it back, see `sequences`).
        let config = plain();
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), 0..3);
        let failed = send(&mut accumulator, &config).pop().expect("batch 0");
        let _later = send(&mut accumulator, &config);
        accumulator.release(BrokerId(1), std::slice::from_ref(&failed));
        accumulator.reenqueue(&config, failed, "NOT_LEADER_OR_FOLLOWER", clock::now());
        let retried = send(&mut accumulator, &config);
        assert_eq!(retried.iter().map(values).collect::<Vec<_>>(), vec![vec![0]]);
    });
}

#[test]
fn queued_batches_past_delivery_timeout_ms_fail_and_one_in_flight_does_not() {
    in_sim(|| {
        for config in [plain(), idempotent()] {
            let config = ProducerConfig { delivery_timeout_ms: 100, ..config };
            let mut accumulator = Accumulator::default();
            let mut outcomes: Vec<Outcome> = (0..3).map(|v| append(&mut accumulator, &config, tp(0), v).1).collect();
            let created = accumulator.queued(&tp(0)).next().expect("queued").created;
            let in_flight = send(&mut accumulator, &config);
            assert_eq!(in_flight.len(), 1);

            let expired = accumulator.expired(&config, created + ms(100));
            assert_eq!(expired.iter().map(values).collect::<Vec<_>>(), vec![vec![1], vec![2]]);
            expired.into_iter().for_each(Batch::expire);
            assert!(drain_at(&mut accumulator, &config, created + ms(100), broker_1).requests.is_empty());
            assert!(outcomes[0].try_recv().is_err(), "in flight: its answer decides");
            for outcome in &mut outcomes[1..] {
                let error = outcome.try_recv().expect("resolved").expect_err("expired");
                assert_eq!(error.reason, "TimeoutException: delivery.timeout.ms expired (last error: no attempt)");
                assert!(error.definite, "never sent");
            }
            assert_eq!(accumulator.queued(&tp(0)).count(), 0);
        }
    });
}

#[test]
fn a_partition_without_a_known_leader_waits_and_asks_for_metadata() {
    in_sim(|| {
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), [0]);
        let drain = drain_at(&mut accumulator, &plain(), clock::now(), |_| None);
        assert!(drain.requests.is_empty() && drain.leader_unknown);
        assert_eq!(queued_values(&accumulator, &tp(0)), vec![0]);
    });
}

#[test]
fn a_batch_the_gate_refuses_stays_at_the_front_and_is_not_in_flight() {
    in_sim(|| {
        let config = plain();
        let mut accumulator = Accumulator::default();
        append_all(&mut accumulator, tp(0), [0, 1]);
        append_all(&mut accumulator, tp(1), [10]);
        let drain = accumulator.drain(&config, clock::now(), broker_1, |_| Readiness::Ready, |batch| batch.tp != tp(0));
        assert_eq!(requests(&drain), vec![(1, vec![(1, vec![10])])]);
        assert_eq!(queued_values(&accumulator, &tp(0)), vec![0, 1]);
        assert!(!accumulator.has_in_flight(&tp(0)) && accumulator.has_in_flight(&tp(1)));
    });
}
