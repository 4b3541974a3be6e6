//! The idempotent producer through its shared state, as the sender drives it: sequence
//! numbers on the first send and kept across retries, retries in send order behind the
//! batches in flight, and the producer id and epoch rules (KIP-360).

use super::super::batch::Batch;
use super::super::config::ProducerConfig;
use super::super::idempotence::{BatchSequence, Sequence};
use super::super::state::State;
use super::{broker_1, idempotent, in_sim, in_sim_async, record, tp, values, Outcome};
use crate::protocol::{BrokerId, ErrorCode, Offset, ProducerIdAndEpoch, TopicPartition};
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

/// A producer with id 7 at epoch 0 that queued one-record batches of values `0..count`
/// for partition 0.
fn producer(count: u64) -> (State, Vec<Outcome>) {
    let mut state = State::default();
    state.idempotence.start(producer_7(0));
    let outcomes = (0..count).map(|value| append(&mut state, tp(0), value)).collect();
    (state, outcomes)
}

/// Queues a one-record batch.
fn append(state: &mut State, tp: TopicPartition, value: u64) -> Outcome {
    let (completion, outcome) = oneshot::channel();
    state.accumulator.append(tp, record(value), completion, 1);
    outcome
}

/// Drains the ready batches for broker 1 and counts the attempt, as the sender does.
fn drain(state: &mut State) -> Vec<Batch> {
    let (mut ready, _) = state.drain_ready(&idempotent(), broker_1);
    let mut batches = ready.remove(&BrokerId(1)).unwrap_or_default();
    for batch in &mut batches {
        batch.attempts += 1;
    }
    batches
}

/// Drains exactly one batch.
fn drain_one(state: &mut State) -> Batch {
    let mut batches = drain(state);
    assert_eq!(batches.len(), 1, "one batch drained");
    batches.pop().expect("checked")
}

/// Marks a request's batches as answered (the sender's bookkeeping).
fn answered(state: &mut State, batches: &[Batch]) {
    state.accumulator.release(BrokerId(1), batches);
}

/// The leader acknowledged `batch` at `offset`: answered, recorded and completed.
fn acknowledge(state: &mut State, batch: Batch, offset: Offset) {
    answered(state, std::slice::from_ref(&batch));
    state.acknowledged(&batch);
    batch.complete(Some(offset));
}

/// Sends the next `N` batches one request each and loses their answers: the
/// connection broke, so they are no longer in flight and their outcomes are unknown.
fn lose_answers<const N: usize>(state: &mut State) -> [Batch; N] {
    let mut batches: [Batch; N] = std::array::from_fn(|_| drain_one(state));
    for batch in &mut batches {
        answered(state, std::slice::from_ref(batch));
        batch.maybe_appended = true;
    }
    batches
}

/// The leader refused `batch` with a retriable error: answered and retried.
fn refuse(state: &mut State, batch: Batch, error: ErrorCode) {
    answered(state, std::slice::from_ref(&batch));
    state.retry_or_fail(&idempotent(), batch, error.kafka_name(), true);
}

/// The values queued for partition 0, front first.
fn queued_values(state: &State) -> Vec<u64> {
    state.accumulator.queued(&tp(0)).flat_map(values).collect()
}

#[test]
fn a_batch_is_sequenced_on_its_first_send_and_keeps_its_sequence_across_retries() {
    in_sim(|| {
        let (mut state, _outcomes) = producer(3);
        assert!(state.accumulator.queued(&tp(0)).all(|b| b.sequence.is_none()), "no sequence before the send");
        let [first, second, third]: [Batch; 3] = std::array::from_fn(|_| drain_one(&mut state));
        assert_eq!([&first, &second, &third].map(sequence), [at(0, 0), at(0, 1), at(0, 2)]);

        refuse(&mut state, second, ErrorCode::NotLeaderOrFollower);
        assert!(drain(&mut state).is_empty(), "the retry waits for the batches in flight around it");
        acknowledge(&mut state, first, 0);
        assert!(drain(&mut state).is_empty(), "batch 2 is still in flight");
        acknowledge(&mut state, third, 2);
        let resent = drain_one(&mut state);
        assert_eq!((sequence(&resent), resent.attempts, values(&resent)), (at(0, 1), 2, vec![1]));
    });
}

#[test]
fn idempotent_retries_go_back_in_send_order_with_at_most_five_requests_in_flight() {
    in_sim(|| {
        let (mut state, _outcomes) = producer(7);
        let mut sent: Vec<Option<Batch>> = (0..5).map(|_| Some(drain_one(&mut state))).collect();
        assert!(drain(&mut state).is_empty(), "five requests in flight: batch 5 waits");

        // Batch 1 fails, then batch 3: a plain producer would queue 3 before 1
        // (`reenqueue` pushes to the front); the idempotent one keeps send order.
        for i in [1, 3] {
            refuse(&mut state, sent[i].take().expect("in flight"), ErrorCode::NotLeaderOrFollower);
        }
        assert_eq!(queued_values(&state), vec![1, 3, 5, 6]);
        assert!(drain(&mut state).is_empty(), "retries wait while batches 0, 2 and 4 are in flight");
        for i in [0, 2, 4] {
            acknowledge(&mut state, sent[i].take().expect("in flight"), i as Offset);
        }

        // The retries go one at a time, each once the one before it resolved, with their
        // sequences; batch 5, never sent, follows batch 3 without waiting.
        let retry_1 = drain_one(&mut state);
        assert!(drain(&mut state).is_empty(), "batch 3's retry waits for batch 1's");
        assert_eq!((values(&retry_1), sequence(&retry_1)), (vec![1], at(0, 1)));
        acknowledge(&mut state, retry_1, 5);
        let retry_3 = drain_one(&mut state);
        let fresh = drain_one(&mut state);
        assert_eq!((values(&retry_3), sequence(&retry_3)), (vec![3], at(0, 3)));
        assert_eq!((values(&fresh), sequence(&fresh)), (vec![5], at(0, 5)));
    });
}

#[test]
fn an_expired_batch_resets_the_producer_id_and_fails_the_unknown_outcomes() {
    in_sim(|| {
        let mut state = State::default();
        state.idempotence.start(producer_7(0));
        let mut expiring = append(&mut state, tp(0), 0);
        let mut unknown = append(&mut state, tp(1), 10);
        // Batches 0 and 10 go in one request, which times out.
        let request = drain(&mut state);
        answered(&mut state, &request);
        for mut batch in request {
            batch.maybe_appended = true;
            state.retry_or_fail(&idempotent(), batch, "TimeoutException", true);
        }

        let expiry = ProducerConfig { delivery_timeout_ms: 0, ..idempotent() };
        let (ready, next_wake) = state.drain_ready(&expiry, broker_1);
        assert!(ready.is_empty() && next_wake.is_some(), "nothing is sent; the sender comes back at once");
        assert_eq!(state.idempotence.producer(), None, "the producer id was reset");
        for outcome in [&mut expiring, &mut unknown] {
            let timeout = outcome.try_recv().expect("resolved").expect_err("expired");
            assert!(timeout.reason.starts_with("TimeoutException") && !timeout.definite, "{timeout:?}");
        }

        // A new producer id: a new batch starts its partition's new sequences.
        let _unsent = append(&mut state, tp(1), 11);
        let new_id = ProducerIdAndEpoch { id: 8, epoch: 0 };
        state.idempotence.start(new_id);
        let batch = drain_one(&mut state);
        assert_eq!(
            (values(&batch), sequence(&batch)),
            (vec![11], BatchSequence { producer: new_id, base: Sequence(0) })
        );
    });
}

#[test]
fn an_expired_batch_does_not_drop_the_batches_the_same_drain_took_for_other_partitions() {
    in_sim_async(|| async {
        let config = ProducerConfig { delivery_timeout_ms: 100, ..idempotent() };
        let mut state = State::default();
        state.idempotence.start(producer_7(0));
        // Partition 1's batch is sent, fails and waits for its retry, long enough to expire.
        let mut expiring = append(&mut state, tp(1), 10);
        let failed = drain_one(&mut state);
        refuse(&mut state, failed, ErrorCode::NotLeaderOrFollower);
        madsim::time::sleep(std::time::Duration::from_millis(150)).await;
        // Partition 0's fresh batch is drained first, in the same round as the expiry.
        let mut fresh = append(&mut state, tp(0), 0);
        let (mut ready, _) = state.drain_ready(&config, broker_1);
        let request = ready.remove(&BrokerId(1)).unwrap_or_default();
        assert_eq!(request.iter().map(values).collect::<Vec<_>>(), vec![vec![0]], "partition 0's batch goes out");
        let timeout = expiring.try_recv().expect("resolved").expect_err("expired");
        assert!(timeout.reason.starts_with("TimeoutException"), "{timeout:?}");
        assert!(fresh.try_recv().is_err(), "in flight, not dropped as `producer closed`");
        assert!(state.accumulator.has_in_flight(&tp(0)));
        answered(&mut state, &request);
        assert!(!state.accumulator.has_in_flight(&tp(0)), "its answer frees the partition");
    });
}

#[test]
fn unknown_producer_for_the_next_sequence_bumps_the_epoch_and_resends_from_zero() {
    in_sim(|| {
        let (mut state, mut outcomes) = producer(3);
        // Batch 0 is acknowledged; batches 1 and 2 are in flight when the leader's
        // replicas all lose power and come back without our state.
        let first = drain_one(&mut state);
        acknowledge(&mut state, first, 0);
        let [next, later] = lose_answers(&mut state);
        assert_eq!((sequence(&next), sequence(&later)), (at(0, 1), at(0, 2)));
        let idempotence = &state.idempotence;
        assert!(idempotence.is_next_sequence(&next.tp, next.sequence));
        assert!(!idempotence.is_next_sequence(&later.tp, later.sequence));

        state.unknown_producer_id(&idempotent(), next);
        assert_eq!(state.idempotence.producer(), Some(producer_7(1)), "the epoch was bumped");
        // The later batch's refusal arrives after the bump: it is re-sequenced too.
        assert!(state.idempotence.is_stale(&later.tp, later.sequence));
        state.unknown_producer_id(&idempotent(), later);
        assert_eq!(state.idempotence.producer(), Some(producer_7(1)), "one bump for the partition");

        // Both go out again in their original order, one at a time (retries), from
        // sequence 0 of epoch 1, and are acknowledged.
        let mut resent = Vec::new();
        for offset in 1..=2 {
            let batch = drain_one(&mut state);
            assert!(drain(&mut state).is_empty(), "a retry waits for the one before it");
            resent.push((sequence(&batch), batch.records[0].value));
            acknowledge(&mut state, batch, offset as Offset);
        }
        assert_eq!(resent, vec![(at(1, 0), 1), (at(1, 1), 2)]);
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            let metadata = outcome.try_recv().expect("resolved").expect("acknowledged, not failed");
            assert_eq!(metadata.offset, Some(i as Offset));
        }
    });
}

#[test]
fn unknown_producer_after_a_batch_with_an_unknown_outcome_fails_without_a_bump() {
    in_sim(|| {
        let (mut state, mut outcomes) = producer(3);
        let first = drain_one(&mut state);
        acknowledge(&mut state, first, 0);
        // Batch 1 times out (maybe appended) and waits for its retry; batch 2 is
        // refused as unknown: not the next sequence, and batch 1 may still resolve.
        let [timed_out, refused] = lose_answers(&mut state);
        state.retry_or_fail(&idempotent(), timed_out, "TimeoutException", true);
        assert!(!state.idempotence.is_next_sequence(&refused.tp, refused.sequence));
        state.unknown_producer_id(&idempotent(), refused);
        assert_eq!(state.idempotence.producer(), Some(producer_7(0)), "no epoch bump behind an unresolved batch");
        assert!(outcomes[2].try_recv().is_err(), "still pending behind batch 1");

        // Batch 1's retry goes out and its delivery timeout passes: it fails, and so does
        // batch 2, whose outcome is unknown, instead of being resent under a new sequence.
        let expired = drain_one(&mut state);
        assert_eq!(values(&expired), vec![1]);
        answered(&mut state, std::slice::from_ref(&expired));
        let expiry = ProducerConfig { delivery_timeout_ms: 0, ..idempotent() };
        state.retry_or_fail(&expiry, expired, "TimeoutException", true);
        assert_eq!(state.idempotence.producer(), None, "the producer id was reset, not bumped");
        for outcome in &mut outcomes[1..] {
            let error = outcome.try_recv().expect("resolved").expect_err("failed");
            assert!(!error.definite, "unknown outcome: {error:?}");
        }
    });
}

#[test]
fn unknown_producer_not_next_with_nothing_unresolved_fails_with_an_unknown_outcome() {
    in_sim(|| {
        let (mut state, mut outcomes) = producer(2);
        // Batch 0's answer never came and nothing acknowledged it; batch 1 (sequence 1)
        // is refused as unknown: whether batch 0 is in some log is unknown.
        let [lost, refused] = lose_answers(&mut state);
        drop(lost);
        state.unknown_producer_id(&idempotent(), refused);
        assert_eq!(state.idempotence.producer(), None, "the producer id was reset, not bumped");
        let error = outcomes[1].try_recv().expect("resolved").expect_err("failed");
        assert!(!error.definite && error.reason.starts_with("UnknownProducerIdException"), "{error:?}");
    });
}

#[test]
fn a_new_epoch_starts_at_zero_only_once_the_old_epochs_batches_resolved() {
    in_sim(|| {
        let (mut state, _outcomes) = producer(2);
        let old = drain_one(&mut state);
        assert_eq!(sequence(&old), at(0, 0));
        // Another partition's recovery bumped the epoch meanwhile.
        state.idempotence.bump_epoch(&tp(1));
        assert!(drain(&mut state).is_empty(), "batch 1 waits for batch 0 of epoch 0");
        answered(&mut state, std::slice::from_ref(&old));
        let next = drain_one(&mut state);
        assert_eq!(sequence(&next), at(1, 0));
    });
}
