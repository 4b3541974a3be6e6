//! Standalone consumers of the workload (`mode = "assign"`) and the liveness phase's
//! final drain, which reads every partition to its high watermark.

use super::rewind::{rewind, RewindRecord};
use super::{poll_value, Incarnation, Recovery, WorkloadContext};
use crate::client::connection_states::ConnectionSettings;
use crate::client::consumer::{Consumer, ConsumerConfig};
use crate::history::{MicroOp, OpFn, OpType, OpValue, Recorder, RunPhase};
use crate::protocol::{IsolationLevel, OffsetReset, Request, Response, TopicPartition};
use crate::scenario::ConsumerSpec;
use crate::sim::clock;
use crate::sim::net::{Addr, NodeNet};
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::time::Duration;

/// One standalone consumer process: assigns every partition of its topic and polls
/// until stopped, recording each poll. Process ids behave as in [`run_producer`].
pub fn run_consumer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    (spec, name): (ConsumerSpec, String),
    config: ConsumerConfig,
    process: u64,
) -> impl std::future::Future<Output = ()> {
    let life = ctx.incarnation(process, RunPhase::Liveness);
    consume(ctx, net, (spec, name), config, life)
}

async fn consume(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    (spec, name): (ConsumerSpec, String),
    config: ConsumerConfig,
    mut life: Incarnation,
) {
    let mut consumer = Consumer::new(net, config);
    let mut partitions = Vec::new();
    while partitions.is_empty() && !ctx.safety_over() {
        partitions = consumer.partitions_for(&spec.topic).await;
        if partitions.is_empty() {
            sleep(Duration::from_millis(100)).await;
        }
    }
    let keys: Vec<String> = partitions.iter().map(TopicPartition::to_string).collect();
    life.invoke(OpFn::Assign, OpValue::Keys(keys.clone()));
    consumer.assign(partitions);
    life.complete(OpType::Ok, OpValue::Keys(keys), None);
    while !ctx.safety_over() {
        if let Some(request) = ctx.rewinds.take(&name) {
            let ids = consumer.topic_ids();
            let key_of = |life: &Incarnation, tp: &TopicPartition| {
                life.partition_key(tp, ids.of_position(tp).or_else(|| ids.get(&tp.topic))).to_string()
            };
            let record = RewindRecord { life: &mut life, group: None, key_of: &key_of };
            let timeout = Duration::from_millis(spec.config.default_api_timeout_ms);
            rewind(&mut consumer, &request, timeout, record).await;
        }
        poll_once(&mut life, &mut consumer).await;
        sleep(Duration::from_millis(spec.poll_interval_ms)).await;
    }
}

/// One recorded poll: invoke, fetch, ok with the records per partition. A poll that
/// raised an error (only under `auto.offset.reset = "none"`) is recorded as failed with
/// the error, and the application seeks as [`Recovery`] says.
async fn poll_once(life: &mut Incarnation, consumer: &mut Consumer) -> usize {
    let poll = || OpValue::Txn(vec![MicroOp::Poll { records: None }]);
    life.invoke(OpFn::Poll, poll());
    match consumer.poll().await {
        Ok(records) => {
            let value = poll_value(life, &records);
            life.complete(OpType::Ok, value, None);
            records.len()
        }
        Err(error) => {
            life.complete(OpType::Fail, poll(), Some(error.to_string()));
            match Recovery::after(&error) {
                Recovery::Seek(tp, offset) => consumer.seek(&tp, offset),
                Recovery::SeekTo(tp, reset) => consumer.seek_to(&tp, reset),
            }
            0
        }
    }
}

/// The drain's overall bound, in liveness timeouts: it gives up after this many even
/// while it still progresses. Progress resets the no-progress timeout, so without a bound
/// a drain that keeps reading but never finishes (records still arriving, or a position
/// that keeps being reset and read again) would loop forever; ten timeouts is far more
/// than any scenario's data needs (a drain of 2,000 partitions takes a few seconds).
pub const DRAIN_BOUND_TIMEOUTS: u32 = 10;

/// What the liveness drain found.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// The partitions it could not read to their high watermark in time.
    pub unfinished: Vec<TopicPartition>,
    /// The high watermark each finished partition was read to (for a `read_committed`
    /// drain held back by an unstable transaction, its last stable offset).
    pub end_offsets: BTreeMap<TopicPartition, u64>,
    /// The partitions a `read_committed` drain read to their last stable offset but no
    /// further: when it ran out of time a transaction still held the last stable offset
    /// below the high watermark. Each with `(last stable offset, high watermark)`.
    pub held: BTreeMap<TopicPartition, (u64, u64)>,
}

/// The liveness drain: reads every partition from its start to its high watermark.
/// It gives up only when `timeout` (the scenario's `liveness_timeout`) passes without
/// progress, never before: no partition finished, no record read and no position moved
/// in that time (so a drain of many partitions or much data gets the time the data
/// needs); and in any case after [`DRAIN_BOUND_TIMEOUTS`] times `timeout` in all.
pub async fn drain(
    recorder: Recorder,
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    expected: Vec<TopicPartition>,
    process: u64,
    timeout: Duration,
    isolation_level: IsolationLevel,
) -> Drained {
    let config = ConsumerConfig {
        bootstrap,
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_wait_ms: 100,
        max_poll_records: 10_000,
        request_timeout_ms: 5_000,
        metadata_max_age_ms: 300_000,
        retry_backoff_ms: 100,
        // The checker's reader, not a client of the scenario's release: a fixed backoff.
        retry_backoff_max_ms: None,
        // Nor does it keep leader epochs: it takes each metadata answer as it comes.
        rejects_stale_metadata: false,
        // The drain reads from the log start: there is no position to validate.
        offset_validation: Default::default(),
        isolation_level,
        // By name: the drain reads whatever topic holds the name now, and the history
        // tells topics apart by the id the leader's answer carries.
        fetch_topic_ids: false,
        // The drain must not bring a deleted topic back.
        allow_auto_create_topics: false,
        // Kafka's current defaults, whatever the scenario's release.
        connections: ConnectionSettings::default(),
    };
    let mut consumer = Consumer::new(net, config);
    let topics: std::collections::BTreeSet<String> = expected.iter().map(|tp| tp.topic.to_string()).collect();
    let mut all = Vec::new();
    for topic in &topics {
        all.extend(consumer.partitions_for(topic).await);
    }
    // A partition the metadata does not list (no leader yet) is still to be drained.
    for tp in expected {
        if !all.contains(&tp) {
            all.push(tp);
        }
    }
    // The drain reads whatever topic holds each name now; its results name that topic
    // as the history does (see `crate::history::incarnations`).
    let ids = consumer.topic_ids();
    let spelled =
        |tp: &TopicPartition| TopicPartition::new(recorder.topic_key(&tp.topic, ids.get(&tp.topic)), tp.partition);
    let keys: Vec<String> = all.iter().map(|tp| spelled(tp).to_string()).collect();
    let mut life = Incarnation::unguarded(recorder.clone(), process);
    life.invoke(OpFn::Assign, OpValue::Keys(keys.clone()));
    consumer.assign(all.clone());
    life.complete(OpType::Ok, OpValue::Keys(keys), None);
    let mut unfinished = all;
    let mut end_offsets = BTreeMap::new();
    let mut held = BTreeMap::new();
    let started = clock::now();
    let mut last_progress = started;
    while !unfinished.is_empty() {
        let now = clock::now();
        if now >= last_progress + timeout || now >= started + timeout * DRAIN_BOUND_TIMEOUTS {
            break;
        }
        // One batched lookup per loop for every partition still to drain (Kafka's
        // `endOffsets(Collection)`: one ListOffsets per leader, all at once), not one
        // request per partition: with thousands of partitions the lookups alone would
        // outlast the timeout.
        let ends = consumer.end_offsets(&unfinished).await;
        let reached: Vec<TopicPartition> = unfinished
            .iter()
            .filter(|tp| ends.get(*tp).zip(consumer.position(tp)).is_some_and(|(end, position)| position >= *end))
            .cloned()
            .collect();
        // At read_committed the end is the last stable offset: the drain waits for it to
        // reach the high watermark, so that a transaction still being completed (or
        // aborted when it times out) is read whole. One batched lookup too.
        let high_watermarks = match isolation_level {
            IsolationLevel::ReadCommitted if !reached.is_empty() => consumer.high_watermarks(&reached).await,
            _ => BTreeMap::new(),
        };
        let before = unfinished.len();
        let mut still = Vec::new();
        for tp in unfinished {
            let end = match (ends.get(&tp), consumer.position(&tp)) {
                (Some(&end), Some(position)) if position >= end => end,
                _ => {
                    held.remove(&tp);
                    still.push(tp);
                    continue;
                }
            };
            if isolation_level == IsolationLevel::ReadCommitted {
                match high_watermarks.get(&tp) {
                    Some(&hw) if hw > end => {
                        held.insert(tp.clone(), (end, hw));
                        still.push(tp);
                        continue;
                    }
                    Some(_) => {}
                    None => {
                        still.push(tp);
                        continue;
                    }
                }
            }
            held.remove(&tp);
            end_offsets.insert(tp, end);
        }
        unfinished = still;
        let mut progressed = unfinished.len() < before;
        if !unfinished.is_empty() {
            let positions: Vec<_> = unfinished.iter().map(|tp| consumer.position(tp)).collect();
            progressed |= poll_once(&mut life, &mut consumer).await > 0;
            progressed |= unfinished.iter().zip(&positions).any(|(tp, before)| consumer.position(tp) != *before);
        }
        if progressed {
            last_progress = clock::now();
        }
    }
    // A partition read to its last stable offset, which an open transaction held below
    // the high watermark until the end: read as far as a read_committed consumer can.
    unfinished.retain(|tp| match held.get(tp) {
        Some(&(lso, _)) => {
            end_offsets.insert(tp.clone(), lso);
            false
        }
        None => true,
    });
    Drained {
        unfinished: unfinished.iter().map(spelled).collect(),
        end_offsets: end_offsets.into_iter().map(|(tp, end)| (spelled(&tp), end)).collect(),
        held: held.into_iter().map(|(tp, offsets)| (spelled(&tp), offsets)).collect(),
    }
}
