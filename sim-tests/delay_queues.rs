//! Delay queues (`[[delay_queues]]`) on their catalog lessons: an at-least-once
//! forwarder's crashes duplicate records in the target, an exactly-once one's do not,
//! and neither forwards a record early or too late. Also the consumer calls the
//! forwarders are built on, against a real broker: record timestamps, `pause`, `resume`.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{OpFn, OpType};
use kafkasim::protocol::RetentionConfig;
use madsim::time::Instant;
use std::time::Duration;

#[test]
fn an_at_least_once_delay_queue_duplicates_records_when_its_forwarder_crashes_and_an_exactly_once_one_does_not() {
    let lesson = load("delay-queue");
    for &seed in &lesson.seeds[..2] {
        let outcome = run(&lesson, seed);
        let found = kinds(&outcome);
        for duplicated in [AnomalyKind::ExactlyOnce, AnomalyKind::Duplicate] {
            assert!(found.contains(&duplicated), "seed {seed}: {}", describe(&outcome));
        }
        for never in [AnomalyKind::DeliveredEarly, AnomalyKind::DeliveredLate] {
            assert!(!found.contains(&never), "seed {seed}: {}", describe(&outcome));
        }
    }
    let twin = load("delay-queue-exactly-once");
    for &seed in &twin.seeds[..2] {
        let outcome = run(&twin, seed);
        // int-send-skip: an aborted transaction's copies interleave with the committed
        // ones (see the scenario's mechanism); nothing else.
        let found = kinds(&outcome);
        assert!(found.iter().all(|k| *k == AnomalyKind::IntSendSkip), "seed {seed}: {}", describe(&outcome));
        let ops = &outcome.history.ops;
        let committed = ops.iter().filter(|o| o.f == OpFn::Txn && o.kind == OpType::Ok && o.micro_ops().len() > 1);
        assert!(committed.count() > 0, "seed {seed}: the forwarders committed transactions");
        let crashed = ops.iter().filter(|o| o.f == OpFn::Txn && o.kind == OpType::Info);
        assert!(
            crashed.filter_map(|o| o.error.as_deref()).any(|e| e.contains("crashed")),
            "seed {seed}: a crash struck inside a transaction"
        );
    }
}

#[test]
fn a_tier_producers_sends_carry_the_delay_and_the_forwarders_subscribe_to_every_tier() {
    let lesson = load("delay-queue");
    let outcome = run(&lesson, lesson.seeds[0]);
    let ops = &outcome.history.ops;
    let delays: Vec<(u64, u64)> =
        ops.iter().filter_map(|o| o.delay).map(|d| (d.due_after_ms, d.late_after_ms)).collect();
    // Every invocation of both producers: the tiers' delays, late after the delay, the
    // 100 ms period and the 10 s bound.
    assert!(delays.contains(&(1_000, 11_100)) && delays.contains(&(5_000, 15_100)), "{delays:?}");
    let invocations = |f: OpFn| ops.iter().filter(move |o| o.f == f && o.kind == OpType::Invoke);
    assert!(invocations(OpFn::Send).filter(|o| o.process < 2).all(|o| o.delay.is_some()));
    assert!(invocations(OpFn::Send).filter(|o| o.process >= 2).all(|o| o.delay.is_none()), "forwards carry none");
    // The forwarders subscribe to both tiers.
    let subscribed = ops.iter().find(|o| o.f == OpFn::Subscribe).map(|o| o.value.clone());
    let both = kafkasim::history::OpValue::Keys(vec!["delay-1s".into(), "delay-5s".into()]);
    assert_eq!(subscribed, Some(both));
}

#[test]
fn the_liveness_phase_waits_for_the_forwarders_and_says_so_when_records_stay_unforwarded() {
    // A tier whose records are due long after the liveness phase gives up.
    let text = r#"
        seeds = [1]
        duration = "3s"
        liveness_timeout = "4s"
        [[topics]]
        name = "delay-1m"
        [[topics]]
        name = "orders"
        [[producers]]
        topic = "delay-1m"
        rate_per_sec = 20
        records = 10
        [[delay_queues]]
        tiers = [{topic = "delay-1m", delay = "60s"}]
        target = "orders"
        group = "delayer"
        guarantee = "at-least-once"
        max_lateness = "1s"
        [delay_queues.consumer]
        "auto.offset.reset" = "earliest"
    "#;
    let scenario = kafkasim::scenario::parse(text, std::path::Path::new("inline.toml")).expect("valid");
    let outcome = run(&scenario, 1);
    let stuck: Vec<&kafkasim::check::Anomaly> =
        outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::NoProgress).collect();
    assert_eq!(stuck.len(), 1, "{}", describe(&outcome));
    let text = &stuck[0].description;
    assert!(text.contains("delay queues had not forwarded 10 records of their tiers: delay-1m-0 value 0"), "{text}");
    // Not judged late: their deadline is past the end of the run.
    assert!(!kinds(&outcome).contains(&AnomalyKind::DeliveredLate), "{}", describe(&outcome));
}

#[test]
fn a_consumer_sees_record_timestamps_and_fetches_nothing_from_a_paused_partition_until_resumed() {
    const RECORDS: &[(u64, u64)] = &[(100, 1_000), (101, 2_000), (102, 3_000)];
    crate::retention::against_a_broker(11, RetentionConfig::default(), RECORDS, |mut consumer, tp| async move {
        consumer.assign(vec![tp.clone()]);
        let polled = consumer.poll().await.unwrap();
        let stamped: Vec<(u64, u64)> = polled.iter().map(|r| (r.value, r.timestamp_ms)).collect();
        assert_eq!(stamped, [(100, 1_000), (101, 2_000), (102, 3_000)]);
        // Back to offset 1 and paused: polls return nothing at once, and keep the position.
        consumer.seek(&tp, 1);
        consumer.pause(&tp);
        assert!(consumer.is_paused(&tp));
        let started = Instant::now();
        assert!(consumer.poll().await.unwrap().is_empty());
        assert!(started.elapsed() < Duration::from_millis(100), "no fetch waited: {:?}", started.elapsed());
        assert_eq!(consumer.position(&tp), Some(1));
        consumer.resume(&tp);
        // The fetch sent before the pause (from offset 3) answers first and is dropped,
        // the position having moved back; the next round fetches from offset 1. An
        // application polls again until records come, as it would here.
        let mut values: Vec<u64> = Vec::new();
        for _ in 0..3 {
            values = consumer.poll().await.unwrap().iter().map(|r| r.value).collect();
            if !values.is_empty() {
                break;
            }
        }
        assert_eq!(values, [101, 102]);
        // A partition given up forgets its pause; pausing one not assigned does nothing.
        consumer.pause(&tp);
        consumer.assign(Vec::new());
        consumer.assign(vec![tp.clone()]);
        assert!(!consumer.is_paused(&tp));
        consumer.assign(Vec::new());
        consumer.pause(&tp);
        assert!(!consumer.is_paused(&tp));
    });
}
