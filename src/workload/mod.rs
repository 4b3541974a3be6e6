//! The workload: producer and consumer processes driven by the scenario, recording every
//! operation in the history as Jepsen's Kafka workload does (`send` with the partition as
//! its key and a run-unique integer value; `poll` with what each partition returned),
//! and the final drain that reads every partition to its high watermark.

use crate::client::consumer::{Consumer, ConsumerConfig, OffsetReset};
use crate::client::producer::{Producer, ProducerConfig, ProducerRecord};
use crate::history::{MicroOp, OpFn, OpType, OpValue, PolledRecords, Recorder};
use crate::protocol::{Request, Response, TopicPartition};
use crate::scenario::{self, Partitioning, ProducerSpec, SendMode};
use crate::sim::net::{Addr, NodeNet};
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep, sleep_until, Instant};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Shared among every workload process of a run.
#[derive(Clone)]
pub struct WorkloadContext {
    /// The run's recorder.
    pub recorder: Recorder,
    /// The next value to send: values are unique across the run.
    pub next_value: Arc<AtomicU64>,
    /// Set when the safety phase ends: producers and consumers stop.
    pub stop: Arc<AtomicBool>,
    /// Sends invoked but not yet completed, so that the runner can wait for them.
    pub outstanding: Arc<AtomicU64>,
    /// The brokers clients bootstrap from.
    pub bootstrap: Vec<Addr>,
}

impl WorkloadContext {
    /// A fresh context.
    pub fn new(recorder: Recorder, bootstrap: Vec<Addr>) -> Self {
        WorkloadContext {
            recorder,
            next_value: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            outstanding: Arc::new(AtomicU64::new(0)),
            bootstrap,
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The client settings of a producer spec.
pub fn producer_config(spec: &ProducerSpec, bootstrap: Vec<Addr>) -> ProducerConfig {
    let c = &spec.config;
    ProducerConfig {
        bootstrap,
        acks: c.acks,
        retries: c.retries,
        request_timeout_ms: c.request_timeout_ms,
        retry_backoff_ms: c.retry_backoff_ms,
        delivery_timeout_ms: c.delivery_timeout_ms,
        batch_size: c.batch_size,
        linger_ms: c.linger_ms,
        max_in_flight_requests_per_connection: c.max_in_flight_requests_per_connection,
        max_block_ms: 60_000,
    }
}

/// One producer process: sends at the spec's rate until stopped or out of records.
/// `process` is its Jepsen process id; `index` its position among the spec's producers.
pub async fn run_producer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    partitions: u32,
    process: u64,
) {
    let producer = Producer::new(net, producer_config(&spec, ctx.bootstrap.clone()));
    let interval = Duration::from_secs_f64(1.0 / spec.rate_per_sec.max(0.001));
    let mut next_send = Instant::now();
    let mut sent: u64 = 0;
    while !ctx.stopped() && spec.records.is_none_or(|limit| sent < limit) {
        sleep_until(next_send).await;
        next_send += interval;
        if ctx.stopped() {
            break;
        }
        let value = ctx.next_value.fetch_add(1, Ordering::Relaxed);
        let (partition, key) = route(&spec, sent, partitions);
        let tp = TopicPartition::new(&spec.topic, partition);
        let record = ProducerRecord { topic: spec.topic.clone(), partition: Some(partition), key, value };
        sent += 1;
        let invoke = vec![MicroOp::Send { key: tp.to_string(), value, offset: None }];
        ctx.recorder.op(process, OpType::Invoke, OpFn::Send, OpValue::Txn(invoke), None);
        ctx.outstanding.fetch_add(1, Ordering::Relaxed);
        let delivery = producer.send(record).await;
        let recorder = ctx.recorder.clone();
        let outstanding = ctx.outstanding.clone();
        let key = tp.to_string();
        let complete = async move {
            let result = delivery.wait().await;
            let (kind, offset, error) = match result {
                Ok(metadata) => (OpType::Ok, metadata.offset, None),
                Err(e) if e.definite => (OpType::Fail, None, Some(e.reason)),
                Err(e) => (OpType::Info, None, Some(e.reason)),
            };
            let value = OpValue::Txn(vec![MicroOp::Send { key, value, offset }]);
            recorder.op(process, kind, OpFn::Send, value, error);
            outstanding.fetch_sub(1, Ordering::Relaxed);
        };
        match spec.send_mode {
            SendMode::Sync => complete.await,
            SendMode::Async => {
                madsim::task::spawn(complete);
            }
        }
    }
    // Keep the producer (and its sender task) alive until every send completed.
    while ctx.outstanding.load(Ordering::Relaxed) > 0 {
        sleep(Duration::from_millis(50)).await;
    }
    drop(producer);
}

/// The partition (and key) of the producer's `n`-th record, per its partitioning mode.
/// The partition is always explicit in the record so that the invoke can name it.
fn route(spec: &ProducerSpec, n: u64, partitions: u32) -> (u32, Option<String>) {
    match spec.partitioning {
        Partitioning::Explicit => ((n % u64::from(partitions)) as u32, None),
        Partitioning::Keyed => {
            let key = format!("key-{}", thread_rng().gen_range(0..spec.key_count.max(1)));
            (crate::client::partitioner::partition_for_key(key.as_bytes(), partitions), Some(key))
        }
        Partitioning::Unkeyed => (thread_rng().gen_range(0..partitions), None),
    }
}

/// The client settings of a consumer spec.
pub fn consumer_config(spec: &scenario::ConsumerSpec, bootstrap: Vec<Addr>) -> ConsumerConfig {
    ConsumerConfig {
        bootstrap,
        auto_offset_reset: match spec.config.auto_offset_reset {
            scenario::OffsetReset::Earliest => OffsetReset::Earliest,
            scenario::OffsetReset::Latest => OffsetReset::Latest,
        },
        fetch_max_wait_ms: spec.config.fetch_max_wait_ms,
        max_poll_records: spec.config.max_poll_records as usize,
        request_timeout_ms: 30_000,
    }
}

/// One standalone consumer process: assigns every partition of its topic and polls
/// until stopped, recording each poll.
pub async fn run_consumer(ctx: WorkloadContext, net: NodeNet<Request, Response>, spec: scenario::ConsumerSpec, process: u64) {
    let mut consumer = Consumer::new(net, consumer_config(&spec, ctx.bootstrap.clone()));
    let mut partitions = Vec::new();
    while partitions.is_empty() && !ctx.stopped() {
        partitions = consumer.partitions_for(&spec.topic).await;
        if partitions.is_empty() {
            sleep(Duration::from_millis(100)).await;
        }
    }
    let keys: Vec<String> = partitions.iter().map(TopicPartition::to_string).collect();
    ctx.recorder.op(process, OpType::Invoke, OpFn::Assign, OpValue::Keys(keys.clone()), None);
    consumer.assign(partitions);
    ctx.recorder.op(process, OpType::Ok, OpFn::Assign, OpValue::Keys(keys), None);
    while !ctx.stopped() {
        poll_once(&ctx.recorder, &mut consumer, process).await;
        sleep(Duration::from_millis(spec.poll_interval_ms)).await;
    }
}

/// One recorded poll: invoke, fetch, ok with the records per partition.
async fn poll_once(recorder: &Recorder, consumer: &mut Consumer, process: u64) -> usize {
    recorder.op(process, OpType::Invoke, OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: None }]), None);
    let records = consumer.poll().await;
    let count = records.len();
    let mut polled = PolledRecords::new();
    for record in records {
        polled.entry(record.tp.to_string()).or_default().push((record.offset, record.value));
    }
    recorder.op(process, OpType::Ok, OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: Some(polled) }]), None);
    count
}

/// The liveness drain: reads every partition from its start to its high watermark.
/// Returns the partitions it could not finish before `deadline`.
pub async fn drain(
    recorder: Recorder,
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    topics: Vec<String>,
    process: u64,
    deadline: Instant,
) -> Vec<TopicPartition> {
    let config = ConsumerConfig {
        bootstrap,
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_wait_ms: 100,
        max_poll_records: 10_000,
        request_timeout_ms: 5_000,
    };
    let mut consumer = Consumer::new(net, config);
    let mut all = Vec::new();
    for topic in &topics {
        all.extend(consumer.partitions_for(topic).await);
    }
    let keys: Vec<String> = all.iter().map(TopicPartition::to_string).collect();
    recorder.op(process, OpType::Invoke, OpFn::Assign, OpValue::Keys(keys.clone()), None);
    consumer.assign(all.clone());
    recorder.op(process, OpType::Ok, OpFn::Assign, OpValue::Keys(keys), None);
    let mut unfinished = all;
    while !unfinished.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for tp in unfinished {
            match (consumer.end_offset(&tp).await, consumer.position(&tp)) {
                (Some(end), Some(position)) if position >= end => {}
                _ => still.push(tp),
            }
        }
        unfinished = still;
        if !unfinished.is_empty() {
            poll_once(&recorder, &mut consumer, process).await;
        }
    }
    unfinished
}
