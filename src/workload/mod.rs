//! The workload: producer and consumer processes driven by the scenario, recording every
//! operation in the history as Jepsen's Kafka workload does (`send` with the partition as
//! its key and a run-unique integer value; `poll` with what each partition returned),
//! and the final drain that reads every partition to its high watermark.

mod group;
mod process;

pub use group::{group_config, run_group_consumer};
pub use process::{Incarnation, ProcessIds};

use crate::client::consumer::{ConsumedRecord, Consumer, ConsumerConfig};
use crate::client::producer::{Producer, ProducerConfig, ProducerRecord};
use crate::fault::FaultKind;
use crate::history::{Event, MicroOp, OpFn, OpType, OpValue, PolledRecords, Recorder};
use crate::protocol::{OffsetReset, Request, Response, TopicPartition};
use crate::scenario::{self, Partitioning, ProducerSpec, SendMode};
use crate::sim::net::{Addr, NodeNet};
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep, sleep_until, Instant};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Shared among every workload process of a run.
#[derive(Clone)]
pub struct WorkloadContext {
    /// The run's recorder.
    pub recorder: Recorder,
    /// The next value to send: values are unique across the run.
    pub next_value: Arc<AtomicU64>,
    /// Set when the safety phase ends: producers and standalone consumers stop.
    pub stop: Arc<AtomicBool>,
    /// Set when the run ends: consumer group members, which keep consuming through the
    /// liveness phase so that the runner can see their groups catch up, stop.
    pub run_over: Arc<AtomicBool>,
    /// Records group members polled and have not processed (nor dropped) yet; the
    /// liveness phase waits for it to reach zero.
    pub unprocessed: Arc<AtomicU64>,
    /// Application faults the nemesis put on consumers (by node name): stalls and
    /// clean departures, each with when it ends.
    pub app_faults: AppFaults,
    /// Sends invoked but not yet completed, so that the runner can wait for them.
    pub outstanding: Arc<AtomicU64>,
    /// The brokers clients bootstrap from.
    pub bootstrap: Vec<Addr>,
    /// Process ids: a restarted client continues under a new one.
    pub processes: ProcessIds,
}

impl WorkloadContext {
    /// A fresh context.
    pub fn new(recorder: Recorder, bootstrap: Vec<Addr>) -> Self {
        WorkloadContext {
            recorder: recorder.clone(),
            next_value: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            run_over: Arc::new(AtomicBool::new(false)),
            app_faults: AppFaults::new(recorder.clone()),
            unprocessed: Arc::default(),
            outstanding: Arc::new(AtomicU64::new(0)),
            bootstrap,
            processes: ProcessIds::default(),
        }
    }

    /// This start's incarnation of the client booted as process `initial`; a kill counts
    /// as a crash until `over` is set ([`stop`](Self::stop) for producers and standalone
    /// consumers, [`run_over`](Self::run_over) for group members).
    fn incarnation(&self, initial: u64, over: &Arc<AtomicBool>) -> Incarnation {
        let process = self.processes.start(initial);
        Incarnation::new(self.recorder.clone(), process, over.clone(), self.outstanding.clone())
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn run_over(&self) -> bool {
        self.run_over.load(Ordering::Relaxed)
    }

    /// Waits while the nemesis stalls the consumer `name`.
    async fn wait_while_stalled(&self, name: &str) {
        while let Some(until) = self.app_faults.active(name, AppFault::Stall) {
            sleep_until(until).await;
        }
    }
}

/// A fault in a consumer's application rather than its process or network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppFault {
    /// The application thread stops (the heartbeat thread carries on).
    Stall,
    /// The consumer closes cleanly and joins again later.
    Leave,
}

impl AppFault {
    /// The fault kind the nemesis fired.
    pub fn kind(self) -> FaultKind {
        match self {
            AppFault::Stall => FaultKind::Stall,
            AppFault::Leave => FaultKind::Leave,
        }
    }
}

/// The application faults in force, by consumer node name. The nemesis puts them on
/// (and traces that); the consumer's application, which is what wakes when one ends,
/// traces its end: the first time it looks after the fault's end. The runner has no
/// task of its own waking then, and adding one would change the run.
#[derive(Clone)]
pub struct AppFaults {
    faults: Arc<Mutex<BTreeMap<String, InForce>>>,
    recorder: Recorder,
}

/// One application fault in force.
struct InForce {
    fault: AppFault,
    until: Instant,
    /// Whether the application has seen it in force (and so acted on it).
    noticed: bool,
}

impl AppFaults {
    /// No faults yet; their ends are traced on `recorder`.
    pub fn new(recorder: Recorder) -> Self {
        AppFaults { faults: Arc::default(), recorder }
    }

    /// Puts `fault` on consumer `name` until `until`, replacing (and ending) any earlier one.
    pub fn set(&self, name: &str, fault: AppFault, until: Instant) {
        let replaced = self.lock().insert(name.to_string(), InForce { fault, until, noticed: false }).map(|f| f.fault);
        if let Some(replaced) = replaced {
            self.trace_end(name, replaced, "replaced by a later application fault");
        }
    }

    /// When `fault` on `name` ends, if it is in force now. A fault found over is
    /// forgotten and its end traced.
    pub fn active(&self, name: &str, fault: AppFault) -> Option<Instant> {
        let mut faults = self.lock();
        let entry = faults.get_mut(name)?;
        if Instant::now() < entry.until {
            entry.noticed |= entry.fault == fault;
            return (entry.fault == fault).then_some(entry.until);
        }
        let over = faults.remove(name).expect("looked up");
        drop(faults);
        let detail = match (over.noticed, over.fault) {
            (false, _) => "over before the application noticed it",
            (true, AppFault::Stall) => "application thread runs again",
            (true, AppFault::Leave) => "joins its group again as a new member",
        };
        self.trace_end(name, over.fault, detail);
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, InForce>> {
        self.faults.lock().expect("app faults poisoned")
    }

    fn trace_end(&self, name: &str, fault: AppFault, detail: &str) {
        let event = Event::FaultEnded { kind: fault.kind(), targets: vec![name.to_string()], detail: detail.into() };
        self.recorder.trace("nemesis", event);
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
        enable_idempotence: c.enable_idempotence,
    }
}

/// How many simulated milliseconds of sends one asynchronous op groups.
const ASYNC_OP_WINDOW_MS: f64 = 200.0;

/// madsim's timer resolution: every sleep lasts at least this long, even one until an
/// instant already past.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// One producer process: sends at the spec's rate until stopped or out of records.
/// `process` is its Jepsen process id at boot; a restart continues under a new id
/// (see [`ProcessIds`]), and a crash mid-op completes the op as `info` and records a
/// `crash` for the old id.
///
/// A Jepsen process has one operation outstanding at a time. In `sync` mode each op is
/// one send that waits for its result. In `async` mode an op groups the sends due in a
/// short window (as Jepsen's multi-send ops do): they are issued at the rate without
/// waiting, each with its own completion callback, and the op completes once every
/// callback has fired; reordering inside the op is what `nonmonotonic-send` sees.
pub fn run_producer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    partitions: u32,
    process: u64,
) -> impl std::future::Future<Output = ()> {
    // Claimed now, when the node (re)starts, not when the task first runs.
    let life = ctx.incarnation(process, &ctx.stop);
    produce(ctx, net, spec, partitions, life)
}

async fn produce(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    partitions: u32,
    mut life: Incarnation,
) {
    let producer = Producer::new(net, producer_config(&spec, ctx.bootstrap.clone()));
    let topic: Arc<str> = spec.topic.as_str().into();
    let partition_names: Vec<Arc<str>> =
        (0..partitions).map(|p| Arc::from(TopicPartition::new(topic.clone(), p).to_string())).collect();
    let interval = Duration::from_secs_f64(1.0 / spec.rate_per_sec.max(0.001));
    let op_size = match spec.send_mode {
        SendMode::Sync => 1,
        SendMode::Async => ((spec.rate_per_sec * ASYNC_OP_WINDOW_MS / 1000.0).ceil() as u64).max(1),
    };
    // A producer faster than one record per timer tick would be capped at one record per
    // millisecond by sleeping before every send: it sends the records already due without
    // sleeping instead, so it keeps its rate on average. (Slower producers always sleep,
    // as they always did: their runs, and their trace hashes, are unchanged.)
    let catch_up = interval < TIMER_RESOLUTION;
    let mut next_send = Instant::now();
    let mut sent: u64 = 0;
    while !ctx.stopped() {
        let remaining = spec.records.map_or(u64::MAX, |limit| limit.saturating_sub(sent));
        let size = op_size.min(remaining);
        if size == 0 {
            break;
        }
        wait_until(next_send, catch_up).await;
        if ctx.stopped() {
            break;
        }
        // Decide the op's records up front: the invoke names every send.
        let mut planned = Vec::new();
        for _ in 0..size {
            let value = ctx.next_value.fetch_add(1, Ordering::Relaxed);
            let (partition, key) = route(&spec, sent, partitions);
            sent += 1;
            let tp = TopicPartition::new(topic.clone(), partition);
            planned.push(PlannedSend { tp, name: partition_names[partition as usize].clone(), key, value });
        }
        let invoke =
            planned.iter().map(|p| MicroOp::Send { key: p.name.clone(), value: p.value, offset: None }).collect();
        life.invoke(OpFn::Send, OpValue::Txn(invoke));
        let mut deliveries = Vec::new();
        for (i, PlannedSend { tp, key, value, .. }) in planned.iter().enumerate() {
            if i > 0 {
                next_send += interval;
                wait_until(next_send, catch_up).await;
            }
            let record =
                ProducerRecord { topic: topic.clone(), partition: Some(tp.partition), key: key.clone(), value: *value };
            deliveries.push(producer.send(record).await);
        }
        next_send += interval;
        let mut results = Vec::new();
        for delivery in deliveries {
            results.push(delivery.wait().await);
        }
        let (kind, value, error) = send_completion(&planned, results);
        life.complete(kind, value, error);
    }
    drop(producer);
}

/// Sleeps until `deadline`; with `catch_up`, not at all when it has passed.
async fn wait_until(deadline: Instant, catch_up: bool) {
    if !catch_up || deadline > Instant::now() {
        sleep_until(deadline).await;
    }
}

/// A send op's completion: `ok` if every send was acknowledged, `fail` if every one
/// definitely failed, else `info` (outcome unknown) with the offsets that are known.
/// One record of a send op, decided before the op starts: the invoke names every send.
struct PlannedSend {
    tp: TopicPartition,
    /// The partition's name as the history writes it, shared by the invoke and the
    /// completion.
    name: Arc<str>,
    key: Option<String>,
    value: u64,
}

fn send_completion(
    planned: &[PlannedSend],
    results: Vec<Result<crate::client::producer::RecordMetadata, crate::client::producer::SendError>>,
) -> (OpType, OpValue, Option<String>) {
    let all_ok = results.iter().all(Result::is_ok);
    let all_definite = results.iter().all(|r| r.as_ref().is_err_and(|e| e.definite));
    let error = results.iter().find_map(|r| r.as_ref().err().map(|e| e.reason.clone()));
    let mops = planned
        .iter()
        .zip(&results)
        .map(|(planned, result)| MicroOp::Send {
            key: planned.name.clone(),
            value: planned.value,
            offset: result.as_ref().ok().and_then(|m| m.offset),
        })
        .collect();
    let kind = if all_ok {
        OpType::Ok
    } else if all_definite {
        OpType::Fail
    } else {
        OpType::Info
    };
    (kind, OpValue::Txn(mops), error)
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
        auto_offset_reset: spec.config.auto_offset_reset,
        fetch_max_wait_ms: spec.config.fetch_max_wait_ms,
        max_poll_records: spec.config.max_poll_records as usize,
        request_timeout_ms: 30_000,
    }
}

/// One standalone consumer process: assigns every partition of its topic and polls
/// until stopped, recording each poll. Process ids behave as in [`run_producer`].
pub fn run_consumer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: scenario::ConsumerSpec,
    process: u64,
) -> impl std::future::Future<Output = ()> {
    let life = ctx.incarnation(process, &ctx.stop);
    consume(ctx, net, spec, life)
}

async fn consume(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: scenario::ConsumerSpec,
    mut life: Incarnation,
) {
    let mut consumer = Consumer::new(net, consumer_config(&spec, ctx.bootstrap.clone()));
    let mut partitions = Vec::new();
    while partitions.is_empty() && !ctx.stopped() {
        partitions = consumer.partitions_for(&spec.topic).await;
        if partitions.is_empty() {
            sleep(Duration::from_millis(100)).await;
        }
    }
    let keys: Vec<String> = partitions.iter().map(TopicPartition::to_string).collect();
    life.invoke(OpFn::Assign, OpValue::Keys(keys.clone()));
    consumer.assign(partitions);
    life.complete(OpType::Ok, OpValue::Keys(keys), None);
    while !ctx.stopped() {
        poll_once(&mut life, &mut consumer).await;
        sleep(Duration::from_millis(spec.poll_interval_ms)).await;
    }
}

/// One recorded poll: invoke, fetch, ok with the records per partition.
async fn poll_once(life: &mut Incarnation, consumer: &mut Consumer) -> usize {
    life.invoke(OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: None }]));
    let records = consumer.poll().await;
    life.complete(OpType::Ok, poll_value(&records), None);
    records.len()
}

/// A completed poll's value: what each partition returned, in offset order.
fn poll_value(records: &[ConsumedRecord]) -> OpValue {
    let mut polled = PolledRecords::new();
    add_polled(&mut polled, records, |r| r);
    OpValue::Txn(vec![MicroOp::Poll { records: Some(polled) }])
}

/// Adds the consumed records of `items` to `polled`, under their partition's name. A
/// poll returns runs of one partition's records: each run is named and looked up once
/// (naming every record showed in the benchmark's profile).
fn add_polled<T>(polled: &mut PolledRecords, items: &[T], record: impl Fn(&T) -> &ConsumedRecord) {
    for run in items.chunk_by(|a, b| record(a).tp == record(b).tp) {
        let list = polled.entry(record(&run[0]).tp.to_string()).or_default();
        list.extend(run.iter().map(|item| (record(item).offset, record(item).value)));
    }
}

/// What the liveness drain found.
#[derive(Clone, Debug, Default)]
pub struct Drained {
    /// The partitions it could not read to their high watermark in time.
    pub unfinished: Vec<TopicPartition>,
    /// The high watermark each finished partition was read to.
    pub end_offsets: BTreeMap<TopicPartition, u64>,
}

/// The liveness drain: reads every partition from its start to its high watermark.
pub async fn drain(
    recorder: Recorder,
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    expected: Vec<TopicPartition>,
    process: u64,
    deadline: Instant,
) -> Drained {
    let config = ConsumerConfig {
        bootstrap,
        auto_offset_reset: OffsetReset::Earliest,
        fetch_max_wait_ms: 100,
        max_poll_records: 10_000,
        request_timeout_ms: 5_000,
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
    let keys: Vec<String> = all.iter().map(TopicPartition::to_string).collect();
    let mut life = Incarnation::unguarded(recorder, process);
    life.invoke(OpFn::Assign, OpValue::Keys(keys.clone()));
    consumer.assign(all.clone());
    life.complete(OpType::Ok, OpValue::Keys(keys), None);
    let mut unfinished = all;
    let mut end_offsets = BTreeMap::new();
    while !unfinished.is_empty() && Instant::now() < deadline {
        let mut still = Vec::new();
        for tp in unfinished {
            match (consumer.end_offset(&tp).await, consumer.position(&tp)) {
                (Some(end), Some(position)) if position >= end => {
                    end_offsets.insert(tp, end);
                }
                _ => still.push(tp),
            }
        }
        unfinished = still;
        if !unfinished.is_empty() {
            poll_once(&mut life, &mut consumer).await;
        }
    }
    Drained { unfinished, end_offsets }
}
