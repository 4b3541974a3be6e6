//! The idempotent producer through its shared state, as the sender drives it: sequence
//! numbers on the first send and kept across retries, retries in sequence order, and
//! what sequence errors, failures and expiries do under Kafka 2.5+ rules (epoch bumps,
//! KIP-360) and Kafka 1.0 to 2.4 rules (producer id resets).

use super::super::batch::Batch;
use super::super::config::ProducerConfig;
use super::super::sequences::{BatchSequence, Sequence};
use super::super::state::State;
use super::{broker_1, idempotent, in_sim, in_sim_async, record, tp, values, Outcome};
use crate::client::connection_states::Readiness;
use crate::protocol::{BrokerId, ErrorCode, Offset, ProducerIdAndEpoch, TopicPartition};
use std::time::Duration;
use tokio::sync::oneshot;

/// Producer id 7 at `epoch`.
fn producer_7(epoch: i16) -> ProducerIdAndEpoch {
    ProducerIdAndEpoch { id: 7, epoch }
}

/// Producer id 7's sequence `base` at `epoch`.
fn at(epoch: i16, base: i32) -> BatchSequence {
    BatchSequence { producer: producer_7(epoch), base: Sequence(base) }
}

/// The sequence a sent batch carries.
fn sequence(batch: &Batch) -> BatchSequence {
    batch.sequence.expect("sequenced")
}

/// [`idempotent`] with Kafka 1.0 to 2.4's rules.
fn idempotent_2_4() -> ProducerConfig {
    ProducerConfig { idempotent_epoch_bump: false, ..idempotent() }
}

/// A producer's shared state and its settings, driven as the sender drives them.
struct Producer {
    state: State,
    config: ProducerConfig,
}

impl Producer {
    /// A producer with id 7 at epoch 0.
    fn new(config: ProducerConfig) -> Self {
        let mut state = State::new(&config);
        state.idempotence.start(producer_7(0));
        Producer { state, config }
    }

    /// A producer with id 7 at epoch 0 that queued one-record batches of values
    /// `0..count` for partition 0.
    fn with_batches(config: ProducerConfig, count: u64) -> (Self, Vec<Outcome>) {
        let mut producer = Producer::new(config);
        let outcomes = (0..count).map(|value| producer.append(tp(0), value)).collect();
        (producer, outcomes)
    }

    /// Queues a one-record batch.
    fn append(&mut self, tp: TopicPartition, value: u64) -> Outcome {
        let (completion, outcome) = oneshot::channel();
        self.state.accumulator.append(tp, record(value), completion, 1);
        outcome
    }

    /// What the sender does before a drain, then the drain for broker 1, counting the
    /// attempts.
    fn drain(&mut self) -> Vec<Batch> {
        self.state.resolve_sequences();
        let (mut ready, _) = self.state.drain_ready(&self.config, 0, broker_1, |_| Readiness::Ready);
        let mut batches = ready.remove(&BrokerId(1)).unwrap_or_default();
        for batch in &mut batches {
            batch.attempts += 1;
        }
        batches
    }

    /// Drains exactly one batch.
    fn drain_one(&mut self) -> Batch {
        let mut batches = self.drain();
        assert_eq!(batches.len(), 1, "one batch drained");
        batches.pop().expect("checked")
    }

    /// Marks a request's batches as answered (the sender's bookkeeping).
    fn answered(&mut self, batches: &[Batch]) {
        self.state.accumulator.release(BrokerId(1), batches);
    }

    /// The leader acknowledged `batch` at `offset`.
    fn acknowledge(&mut self, batch: Batch, offset: Offset) {
        self.answered(std::slice::from_ref(&batch));
        self.state.acknowledged(batch, Some(offset), None);
    }

    /// The leader, whose log starts at `log_start`, refused `batch` with `error`.
    fn refuse_at(&mut self, batch: Batch, error: ErrorCode, log_start: Option<Offset>) {
        self.answered(std::slice::from_ref(&batch));
        self.state.attempt_failed(&self.config, batch, Some(error), log_start, error.kafka_name());
    }

    /// The leader, whose log starts at 0, refused `batch` with `error`.
    fn refuse(&mut self, batch: Batch, error: ErrorCode) {
        self.refuse_at(batch, error, Some(0));
    }

    /// The request carrying `batch` timed out: its outcome is unknown.
    fn time_out(&mut self, mut batch: Batch) {
        self.answered(std::slice::from_ref(&batch));
        batch.maybe_appended = true;
        self.state.attempt_failed(&self.config, batch, None, None, "TimeoutException");
    }

    /// The values queued for partition 0, front first.
    fn queued_values(&self) -> Vec<u64> {
        self.state.accumulator.queued(&tp(0)).flat_map(values).collect()
    }
}

/// The offsets each outcome reports, or the error's reason.
fn resolved(outcomes: &mut [Outcome]) -> Vec<Result<Option<Offset>, String>> {
    outcomes.iter_mut().map(|o| o.try_recv().expect("resolved").map(|m| m.offset).map_err(|e| e.reason)).collect()
}

#[test]
fn a_batch_is_sequenced_on_its_first_send_and_keeps_its_sequence_across_retries() {
    in_sim(|| {
        for config in [idempotent(), idempotent_2_4()] {
            let (mut producer, _outcomes) = Producer::with_batches(config, 3);
            assert!(producer.state.accumulator.queued(&tp(0)).all(|b| b.sequence.is_none()), "no sequence yet");
            let [first, second, third]: [Batch; 3] = std::array::from_fn(|_| producer.drain_one());
            assert_eq!([&first, &second, &third].map(sequence), [at(0, 0), at(0, 1), at(0, 2)]);

            producer.refuse(second, ErrorCode::NotLeaderOrFollower);
            assert!(producer.drain().is_empty(), "the retry waits while batch 0 is first in flight");
            producer.acknowledge(first, 0);
            // Now the first in flight by sequence: it goes although batch 2 is in flight
            // (`RecordAccumulator.shouldStopDrainBatchesForPartition`).
            let resent = producer.drain_one();
            assert_eq!((sequence(&resent), resent.attempts, values(&resent)), (at(0, 1), 2, vec![1]));
            producer.acknowledge(third, 2);
        }
    });
}

#[test]
fn idempotent_retries_go_back_in_send_order_each_once_it_is_first_in_flight() {
    in_sim(|| {
        let (mut producer, _outcomes) = Producer::with_batches(idempotent(), 7);
        let mut sent: Vec<Option<Batch>> = (0..5).map(|_| Some(producer.drain_one())).collect();
        assert!(producer.drain().is_empty(), "five requests in flight: batch 5 waits");

        // Batch 1 fails, then batch 3: a plain producer would queue 3 before 1
        // (`reenqueue` pushes to the front); the idempotent one keeps send order.
        for i in [1, 3] {
            producer.refuse(sent[i].take().expect("in flight"), ErrorCode::NotLeaderOrFollower);
        }
        assert_eq!(producer.queued_values(), vec![1, 3, 5, 6]);
        assert!(producer.drain().is_empty(), "batch 0 is first in flight");
        producer.acknowledge(sent[0].take().expect("in flight"), 0);

        let retry_1 = producer.drain_one();
        assert_eq!((values(&retry_1), sequence(&retry_1)), (vec![1], at(0, 1)));
        assert!(producer.drain().is_empty(), "batch 3's retry waits for batch 1's");
        for i in [2, 4] {
            producer.acknowledge(sent[i].take().expect("in flight"), i as Offset);
        }
        producer.acknowledge(retry_1, 5);
        // Batch 5, never sent, follows batch 3's retry without waiting.
        let retry_3 = producer.drain_one();
        let fresh = producer.drain_one();
        assert_eq!((values(&retry_3), sequence(&retry_3)), (vec![3], at(0, 3)));
        assert_eq!((values(&fresh), sequence(&fresh)), (vec![5], at(0, 5)));
    });
}

/// Batch 0 is acknowledged, batches 1 and 2 are in flight, and the leader lost batch 0
/// (an unclean election): it refuses both with OUT_OF_ORDER_SEQUENCE.
fn lost_acknowledged_batch(config: ProducerConfig) -> (Producer, Vec<Outcome>, Batch, Batch) {
    let (mut producer, outcomes) = Producer::with_batches(config, 3);
    let first = producer.drain_one();
    producer.acknowledge(first, 0);
    let next = producer.drain_one();
    let later = producer.drain_one();
    (producer, outcomes, next, later)
}

#[test]
fn out_of_order_sequence_for_the_next_batch_bumps_the_epoch_and_resends_from_zero() {
    in_sim(|| {
        let (mut producer, mut outcomes, next, later) = lost_acknowledged_batch(idempotent());
        producer.refuse(next, ErrorCode::OutOfOrderSequence);
        // Not the next batch: retried as it is, no second bump.
        producer.refuse(later, ErrorCode::OutOfOrderSequence);
        // Before the drain the epoch goes up and both batches restart from 0 in order.
        let resent = producer.drain_one();
        assert_eq!(producer.state.idempotence.producer(), Some(producer_7(1)));
        assert_eq!((values(&resent), sequence(&resent)), (vec![1], at(1, 0)));
        assert!(producer.drain().is_empty(), "batch 2 waits for batch 1, first in flight");
        producer.acknowledge(resent, 1);
        let resent = producer.drain_one();
        assert_eq!((values(&resent), sequence(&resent)), (vec![2], at(1, 1)));
        producer.acknowledge(resent, 2);
        assert_eq!(resolved(&mut outcomes), vec![Ok(Some(0)), Ok(Some(1)), Ok(Some(2))], "nothing failed");
    });
}

#[test]
fn out_of_order_sequence_for_the_next_batch_fails_it_and_resets_the_producer_id_up_to_2_4() {
    in_sim(|| {
        let (mut producer, mut outcomes, next, later) = lost_acknowledged_batch(idempotent_2_4());
        producer.refuse(next, ErrorCode::OutOfOrderSequence);
        assert_eq!(producer.state.idempotence.producer(), None, "InitProducerId again");
        // A batch of the old producer id is not retried.
        producer.refuse(later, ErrorCode::OutOfOrderSequence);
        let failure = "OUT_OF_ORDER_SEQUENCE_NUMBER".to_string();
        assert_eq!(resolved(&mut outcomes), vec![Ok(Some(0)), Err(failure.clone()), Err(failure)]);
        // New batches start over under the new producer id.
        let mut fresh = producer.append(tp(0), 3);
        let new_id = ProducerIdAndEpoch { id: 8, epoch: 0 };
        producer.state.idempotence.start(new_id);
        let batch = producer.drain_one();
        assert_eq!(sequence(&batch), BatchSequence { producer: new_id, base: Sequence(0) });
        producer.acknowledge(batch, 1);
        assert!(fresh.try_recv().expect("resolved").is_ok());
    });
}

#[test]
fn out_of_order_sequence_behind_an_unresolved_batch_is_retried_without_a_bump() {
    in_sim(|| {
        for config in [idempotent(), idempotent_2_4()] {
            let (mut producer, _outcomes) = Producer::with_batches(config, 2);
            let [first, second]: [Batch; 2] = std::array::from_fn(|_| producer.drain_one());
            // Batch 0 was lost on its way: batch 1 arrives with a gap before it.
            producer.refuse(second, ErrorCode::OutOfOrderSequence);
            producer.refuse(first, ErrorCode::NotLeaderOrFollower);
            let first = producer.drain_one();
            assert_eq!(sequence(&first), at(0, 0), "no bump: batch 0 may still close the gap");
            producer.acknowledge(first, 0);
            assert_eq!(sequence(&producer.drain_one()), at(0, 1));
        }
    });
}

#[test]
fn unknown_producer_id_always_bumps_the_epoch_and_retries() {
    in_sim(|| {
        let (mut producer, mut outcomes) = Producer::with_batches(idempotent(), 2);
        let first = producer.drain_one();
        producer.acknowledge(first, 5);
        let second = producer.drain_one();
        // A leader that does not know its log start yet: retried as it is.
        producer.refuse_at(second, ErrorCode::UnknownProducerId, None);
        let second = producer.drain_one();
        assert_eq!(sequence(&second), at(0, 1));
        // A leader whose log starts below our last acknowledged offset lost our state.
        producer.refuse_at(second, ErrorCode::UnknownProducerId, Some(0));
        let second = producer.drain_one();
        assert_eq!(sequence(&second), at(1, 0));
        producer.acknowledge(second, 6);
        assert_eq!(resolved(&mut outcomes), vec![Ok(Some(5)), Ok(Some(6))]);
    });
}

#[test]
fn the_probe_hears_of_each_retry_and_of_the_epoch_bump_but_not_of_a_producer_id_reset() {
    use crate::coverage::ReachedState::{ProducerBatchRetried, ProducerEpochBumped};
    use std::sync::{Arc, Mutex};
    in_sim(|| {
        for (config, bumped) in [(idempotent(), true), (idempotent_2_4(), false)] {
            let heard = Arc::new(Mutex::new(Vec::new()));
            let (mut producer, _outcomes) = Producer::with_batches(config, 2);
            let log = heard.clone();
            producer.state.probe = Some(Arc::new(move |state| log.lock().unwrap().push(state)));
            let first = producer.drain_one();
            producer.acknowledge(first, 5);
            let second = producer.drain_one();
            producer.refuse_at(second, ErrorCode::OutOfOrderSequence, Some(0));
            producer.drain();
            let expected = if bumped { vec![ProducerBatchRetried, ProducerEpochBumped] } else { Vec::new() };
            // Up to 2.4 the next batch's sequence error fails it and resets the producer
            // id: no retry, and a new id is not an epoch bump.
            assert_eq!(*heard.lock().unwrap(), expected, "epoch bump rules: {bumped}");
        }
    });
}

#[test]
fn unknown_producer_id_up_to_2_4_restarts_the_sequences_only_after_retention_deleted_our_records() {
    in_sim(|| {
        // The leader's log starts past our last acknowledged offset: retention deleted
        // our records, the sequences restart at 0 under the same epoch.
        let (mut producer, _outcomes) = Producer::with_batches(idempotent_2_4(), 2);
        let first = producer.drain_one();
        producer.acknowledge(first, 5);
        let second = producer.drain_one();
        producer.refuse_at(second, ErrorCode::UnknownProducerId, Some(10));
        assert_eq!(sequence(&producer.drain_one()), at(0, 0));

        // It does not: the leader lost the state, and the producer cannot tell what the
        // log should hold. The batch fails and the producer id is reset.
        let (mut producer, mut outcomes) = Producer::with_batches(idempotent_2_4(), 2);
        let first = producer.drain_one();
        producer.acknowledge(first, 5);
        let second = producer.drain_one();
        producer.refuse_at(second, ErrorCode::UnknownProducerId, Some(0));
        assert_eq!(producer.state.idempotence.producer(), None);
        assert_eq!(resolved(&mut outcomes), vec![Ok(Some(5)), Err("UNKNOWN_PRODUCER_ID".to_string())]);
    });
}

#[test]
fn a_batch_failed_for_good_with_retries_left_bumps_the_epoch_or_closes_its_gap_up_to_2_4() {
    in_sim(|| {
        for (config, rewritten) in [(idempotent(), at(1, 0)), (idempotent_2_4(), at(0, 0))] {
            let (mut producer, mut outcomes) = Producer::with_batches(config, 2);
            let [first, second]: [Batch; 2] = std::array::from_fn(|_| producer.drain_one());
            producer.refuse(first, ErrorCode::InvalidProducerEpoch);
            assert!(resolved(&mut outcomes[..1])[0].is_err());
            // Batch 1, in flight, is refused for the gap and retried with the rewritten
            // sequence: from 0 under a new epoch, or shifted down by one.
            producer.refuse(second, ErrorCode::OutOfOrderSequence);
            let second = producer.drain_one();
            assert_eq!(sequence(&second), rewritten, "epoch bump: {}", producer.config.idempotent_epoch_bump);
        }
    });
}

#[test]
fn a_retry_of_a_batch_sequenced_under_a_reset_producer_id_fails_up_to_2_4() {
    in_sim(|| {
        let (mut producer, mut outcomes, next, later) = lost_acknowledged_batch(idempotent_2_4());
        producer.refuse(next, ErrorCode::OutOfOrderSequence);
        producer.state.idempotence.start(ProducerIdAndEpoch { id: 8, epoch: 0 });
        producer.refuse(later, ErrorCode::NotLeaderOrFollower);
        let failed = resolved(&mut outcomes).pop().expect("three").expect_err("dropped");
        assert!(failed.contains("the producer id changed"), "{failed}");
    });
}

#[test]
fn a_new_epoch_starts_at_zero_only_once_the_old_epochs_batches_completed() {
    in_sim(|| {
        let mut producer = Producer::new(idempotent());
        let _outcomes = [producer.append(tp(0), 0), producer.append(tp(1), 10), producer.append(tp(0), 1)];
        let mut request = producer.drain();
        let (old, other) = (request.remove(0), request.remove(0));
        assert_eq!((sequence(&old), sequence(&other)), (at(0, 0), at(0, 0)));
        // Partition 1's leader lost everything: the epoch is bumped for it.
        producer.refuse(other, ErrorCode::OutOfOrderSequence);
        let resent = producer.drain_one();
        assert_eq!((resent.tp.partition, sequence(&resent)), (1, at(1, 0)));
        assert!(producer.drain().is_empty(), "batch 1 of partition 0 waits for batch 0 of epoch 0");
        producer.acknowledge(old, 0);
        let next = producer.drain_one();
        assert_eq!((next.tp.partition, sequence(&next)), (0, at(1, 0)));
    });
}

#[test]
fn an_expired_retry_holds_its_partition_until_later_batches_tell_whether_it_was_appended() {
    in_sim_async(|| async {
        for (config, after_gap) in [(idempotent(), Some(at(1, 0))), (idempotent_2_4(), None)] {
            let config = ProducerConfig { delivery_timeout_ms: 100, ..config };
            // Batch 0's request times out (and batch 1's, in the second run); the retries
            // expire in the queue, and a new batch waits while batch 1 tells.
            for acknowledged in [true, false] {
                let (mut producer, mut outcomes) = Producer::with_batches(config.clone(), 2);
                let [first, second]: [Batch; 2] = std::array::from_fn(|_| producer.drain_one());
                producer.time_out(first);
                let mut second = Some(second);
                if !acknowledged {
                    producer.time_out(second.take().expect("in flight"));
                }
                madsim::time::sleep(Duration::from_millis(150)).await;
                let mut fresh = producer.append(tp(0), 2);
                assert!(producer.drain().is_empty(), "unresolved: batch 2 waits");
                assert!(resolved(&mut outcomes[..1])[0].as_ref().is_err_and(|e| e.starts_with("TimeoutException")));
                if let Some(second) = second {
                    // Batch 1 followed it: batch 0 was appended, nothing to recover.
                    producer.acknowledge(second, 1);
                    assert_eq!(sequence(&producer.drain_one()), at(0, 2), "{config:?}");
                    continue;
                }
                // Both outcomes unknown and a gap may remain: bump, or reset the producer id.
                producer.state.idempotence.resolve_sequences();
                match after_gap {
                    Some(bumped) => assert_eq!(sequence(&producer.drain_one()), bumped),
                    None => {
                        assert_eq!(producer.state.idempotence.producer(), None);
                        producer.state.idempotence.start(ProducerIdAndEpoch { id: 8, epoch: 0 });
                        assert_eq!(producer.drain_one().sequence.map(|s| s.producer.id), Some(8));
                    }
                }
                assert!(fresh.try_recv().is_err(), "in flight");
            }
        }
    });
}

#[test]
fn an_expired_batch_does_not_drop_the_batches_the_same_drain_took_for_other_partitions() {
    in_sim_async(|| async {
        let config = ProducerConfig { delivery_timeout_ms: 100, ..idempotent() };
        let mut producer = Producer::new(config);
        // Partition 1's batch is sent, fails and waits for its retry, long enough to expire.
        let mut expiring = producer.append(tp(1), 10);
        let failed = producer.drain_one();
        producer.refuse(failed, ErrorCode::NotLeaderOrFollower);
        madsim::time::sleep(Duration::from_millis(150)).await;
        // Partition 0's fresh batch is drained first, in the same round as the expiry.
        let mut fresh = producer.append(tp(0), 0);
        let request = producer.drain();
        assert_eq!(request.iter().map(values).collect::<Vec<_>>(), vec![vec![0]], "partition 0's batch goes out");
        let timeout = expiring.try_recv().expect("resolved").expect_err("expired");
        assert!(timeout.reason.starts_with("TimeoutException"), "{timeout:?}");
        assert!(fresh.try_recv().is_err(), "in flight, not dropped as `producer closed`");
        assert!(producer.state.accumulator.has_in_flight(&tp(0)));
        producer.answered(&request);
        assert!(!producer.state.accumulator.has_in_flight(&tp(0)), "its answer frees the partition");
    });
}

/// [`idempotent`] with a `transactional.id`, its transaction open and partition 0 added.
fn transactional() -> Producer {
    use super::super::transactions::Phase;
    let config = ProducerConfig { transactional_id: Some("t".into()), ..idempotent() };
    let mut producer = Producer::new(config);
    let txn = producer.state.txn.as_mut().expect("transactional");
    txn.phase = Phase::InTransaction;
    txn.added.insert(tp(0));
    producer
}

#[test]
fn a_transactional_batch_that_is_not_the_next_retries_its_sequence_error_and_the_next_one_ends_the_transaction() {
    in_sim(|| {
        // Kafka's `TransactionManager.canRetry`: batch 1 is refused while batch 0, refused
        // with a retriable error (its leader still adding the partition to the
        // transaction), has not been appended: batch 1 waits for batch 0 and retries.
        let mut producer = transactional();
        let mut outcomes: Vec<Outcome> = (0..2).map(|value| producer.append(tp(0), value)).collect();
        let (first, second) = (producer.drain_one(), producer.drain_one());
        assert_eq!((sequence(&first), sequence(&second)), (at(0, 0), at(0, 1)), "both in flight");
        producer.refuse(first, ErrorCode::NotEnoughReplicas);
        producer.refuse(second, ErrorCode::OutOfOrderSequence);
        assert!(!producer.state.txn.as_ref().expect("transactional").must_abort());
        let resent = producer.drain_one();
        assert_eq!((values(&resent), sequence(&resent)), (vec![0], at(0, 0)));
        producer.acknowledge(resent, 0);
        let resent = producer.drain_one();
        assert_eq!((values(&resent), sequence(&resent)), (vec![1], at(0, 1)));
        producer.acknowledge(resent, 1);
        assert_eq!(resolved(&mut outcomes), vec![Ok(Some(0)), Ok(Some(1))]);
        // The next batch's sequence error is a real gap: the transaction can only abort.
        let mut outcome = producer.append(tp(0), 2);
        let next = producer.drain_one();
        producer.refuse(next, ErrorCode::OutOfOrderSequence);
        assert!(producer.state.txn.as_ref().expect("transactional").must_abort());
        assert!(outcome.try_recv().expect("resolved").is_err(), "failed, not retried");
    });
}

/// The 6163 case of swarm-wide-nightly: after an unclean election the new leader took
/// batches 1 and 2 while batch 0 went to the old one; batch 0's retries are refused
/// OUT_OF_ORDER_SEQUENCE_NUMBER and retried (it is not the next sequence), so the
/// partition waits on a refusal until batch 0's delivery timeout, which is what the
/// liveness phase may grant it. A wrong-leader answer or an unanswered attempt is no
/// refusal; a send in another partition waits on something else.
#[test]
fn a_partition_behind_a_refused_batch_waits_until_its_delivery_timeout() {
    use super::super::outlook::SendsOutlook;
    in_sim(|| {
        let (mut producer, _outcomes) = Producer::with_batches(idempotent(), 3);
        let [first, second, third]: [Batch; 3] = std::array::from_fn(|_| producer.drain_one());
        let deadline = first.delivery_deadline(&producer.config);
        producer.refuse(first, ErrorCode::NotLeaderOrFollower);
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::Waiting, "a wrong leader refuses nothing");
        producer.acknowledge(second, 0);
        producer.acknowledge(third, 1);
        let first = producer.drain_one();
        producer.refuse(first, ErrorCode::OutOfOrderSequence);
        assert_eq!(producer.queued_values(), vec![0], "retried without an epoch bump");
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::RefusedUntil(deadline));
        let _later = producer.append(tp(0), 3);
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::RefusedUntil(deadline), "held behind batch 0");
        let first = producer.drain_one();
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::RefusedUntil(deadline), "in flight again");
        producer.time_out(first);
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::Waiting, "an unanswered attempt refuses nothing");
        let first = producer.drain_one();
        producer.refuse(first, ErrorCode::OutOfOrderSequence);
        let _elsewhere = producer.append(tp(1), 4);
        assert_eq!(producer.state.sends_outlook(), SendsOutlook::Waiting, "partition 1 waits on no refusal");
    });
}

/// `refused-batch-expired`: a batch its leader kept refusing fails at its delivery
/// timeout, in the queue or in flight; one whose attempts went unanswered does not count.
#[test]
fn the_probe_hears_of_a_refused_batch_that_expires() {
    use crate::coverage::ReachedState::RefusedBatchExpired;
    use std::sync::{Arc, Mutex};
    in_sim_async(|| async {
        let config = ProducerConfig { delivery_timeout_ms: 100, ..idempotent() };
        let expired_where = [("queued", true), ("in flight", true), ("unanswered", false)];
        for (case, counted) in expired_where {
            let heard = Arc::new(Mutex::new(Vec::new()));
            let (mut producer, _outcomes) = Producer::with_batches(config.clone(), 3);
            let log = heard.clone();
            producer.state.probe = Some(Arc::new(move |state| log.lock().unwrap().push(state)));
            let [first, second, third]: [Batch; 3] = std::array::from_fn(|_| producer.drain_one());
            producer.acknowledge(second, 0);
            producer.acknowledge(third, 1);
            match case {
                "unanswered" => producer.time_out(first),
                _ => producer.refuse(first, ErrorCode::OutOfOrderSequence),
            }
            let in_flight = (case == "in flight").then(|| producer.drain_one());
            madsim::time::sleep(Duration::from_millis(150)).await;
            match in_flight {
                Some(batch) => producer.refuse(batch, ErrorCode::OutOfOrderSequence),
                None => drop(producer.drain()),
            }
            let expired = heard.lock().unwrap().contains(&RefusedBatchExpired);
            assert_eq!(expired, counted, "{case}");
        }
    });
}
