//! A producer process of the workload: sends run-unique values at the scenario's rate,
//! recording each send op as Jepsen's Kafka workload does.

use super::pacing::Pacer;
use super::{Incarnation, WorkloadContext};
use crate::client::partitioner::partition_for_key;
use crate::client::producer::{Delivery, Producer, ProducerConfig, ProducerRecord};
use crate::history::{MicroOp, OpFn, OpType, OpValue, RunPhase};
use crate::protocol::{Request, Response, TopicId, TopicPartition};
use crate::scenario::{Partitioning, ProducerSpec, SendMode};
use crate::sim::clock;
use crate::sim::net::NodeNet;
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep_until, Instant};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// madsim's timer resolution: every sleep lasts at least this long, even one until an
/// instant already past.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// One producer process: sends at the spec's rate (each step of its schedule in turn,
/// see [`super::pacing`]) until stopped or out of records.
/// `process` is its Jepsen process id at boot; a restart continues under a new id
/// (see [`ProcessIds`]), and a crash mid-op completes the op as `info` and records a
/// `crash` for the old id.
///
/// A Jepsen process has one operation outstanding at a time. In `sync` mode each op is
/// one send that waits for its result. In `async` mode an op groups the sends due in a
/// short window (as Jepsen's multi-send ops do): they are issued at the rate without
/// waiting, each with its own completion callback, and the op completes once every
/// callback has fired; reordering inside the op is what `nonmonotonic-send` sees.
///
/// Explicit records name their partition; keyed ones are hashed by the producer (murmur2,
/// so the invoke can name the partition in advance); unkeyed ones are placed by the
/// producer's partitioner, so an op's unkeyed records are sent together and the invoke,
/// recorded right after, names the partitions they went to.
///
/// `name` is the producer's node name: the nemesis stalls a transactional producer's
/// application by it.
pub fn run_producer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    config: ProducerConfig,
    partitions: u32,
    process: u64,
    name: String,
) -> impl std::future::Future<Output = ()> {
    // Claimed now, when the node (re)starts, not when the task first runs.
    let life = ctx.incarnation(process, RunPhase::Liveness);
    async move {
        if config.transactional_id.is_some() {
            super::transactional::produce_in_transactions(ctx, net, spec, config, partitions, life, name).await;
        } else {
            produce(ctx, net, spec, config, partitions, life).await;
        }
    }
}

async fn produce(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    config: ProducerConfig,
    partitions: u32,
    mut life: Incarnation,
) {
    let producer = ctx.producer(net, config);
    let topic: Arc<str> = spec.topic.as_str().into();
    let mut partition_names = PartitionNames::new(topic.clone(), partitions);
    let pacer = Pacer::new(&ctx, &spec.rate_per_sec);
    let mut next_send = clock::now();
    let mut sent: u64 = 0;
    while !ctx.safety_over() {
        // The op's pace: its first record's step decides it (a constant rate gives the
        // same interval and op size every time).
        let pace = pacer.at(next_send);
        let interval = pace.interval;
        let op_size = match spec.send_mode {
            SendMode::Sync => 1,
            SendMode::Async => pace.async_op_size(),
        };
        // A producer faster than one record per timer tick would be capped at one record
        // per millisecond by sleeping before every send: it sends the records already due
        // without sleeping instead, so it keeps its rate on average. (Slower producers
        // always sleep, as they always did: their runs, and their trace hashes, are
        // unchanged.)
        let catch_up = interval < TIMER_RESOLUTION;
        let remaining = spec.records.map_or(u64::MAX, |limit| limit.saturating_sub(sent));
        let size = op_size.min(remaining);
        if size == 0 {
            break;
        }
        wait_until(next_send, catch_up).await;
        if ctx.safety_over() {
            break;
        }
        // Decide the op's records up front: the invoke names every send.
        let mut planned = plan(&ctx, &spec, &mut sent, size, &producer, &mut partition_names);
        // When the application called `send` for each record: its latency starts there.
        let mut sent_at = Vec::with_capacity(planned.len());
        let deliveries = if spec.partitioning == Partitioning::Unkeyed {
            // The partitioner places an unkeyed record when `send` appends it, so the op's
            // records are appended together, as Jepsen's multi-send ops issue theirs, and
            // the invoke then names where they went: nothing runs in between, so the
            // invoke still precedes every effect of the op.
            sent_at.resize(planned.len(), clock::now());
            let deliveries = append_all(&producer, &topic, &mut planned, &mut partition_names).await;
            life.invoke_send(OpFn::Send, invoke_value(&planned), BTreeMap::new(), spec.delay);
            next_send += interval * (size as u32 - 1);
            deliveries
        } else {
            life.invoke_send(OpFn::Send, invoke_value(&planned), record_keys(&planned), spec.delay);
            let mut deliveries = Vec::new();
            for (i, send) in planned.iter().enumerate() {
                if i > 0 {
                    next_send += interval;
                    wait_until(next_send, catch_up).await;
                }
                sent_at.push(clock::now());
                deliveries.push(producer.send(send.record(&topic)).await);
            }
            deliveries
        };
        next_send += interval;
        let mut results = Vec::new();
        for (delivery, sent_at) in deliveries.into_iter().zip(sent_at) {
            let result = delivery.wait().await;
            if let Ok(metadata) = &result {
                let acked_at_ns = ctx.recorder.ns_at(metadata.acknowledged_at);
                ctx.send_latencies.record(sent_at, metadata.acknowledged_at, acked_at_ns);
            }
            results.push(result);
        }
        let (kind, value, error) = send_completion(&life, &planned, results);
        life.complete(kind, value, error);
    }
    drop(producer);
}

/// Sleeps until `deadline`; with `catch_up`, not at all when it has passed.
pub(super) async fn wait_until(deadline: Instant, catch_up: bool) {
    if !catch_up || deadline > clock::now() {
        sleep_until(deadline).await;
    }
}

/// Sends the op's records one after the other without waiting between them, and names
/// each planned send after the partition its record was appended to. A send that failed
/// before the partitioner placed it (no metadata within `max.block.ms`) is named after
/// partition 0: it definitely failed, so its key does not matter to the checkers.
pub(super) async fn append_all(
    producer: &Producer,
    topic: &Arc<str>,
    planned: &mut [PlannedSend],
    partition_names: &mut PartitionNames,
) -> Vec<Delivery> {
    let mut deliveries = Vec::new();
    for send in planned.iter_mut() {
        let delivery = producer.send(send.record(topic)).await;
        let partition = delivery.partition().map_or(0, |tp| tp.partition);
        send.name = Some(partition_names.get(partition));
        deliveries.push(delivery);
    }
    deliveries
}

/// The invoke of a send op: every planned send, without offsets.
pub(super) fn invoke_value(planned: &[PlannedSend]) -> OpValue {
    OpValue::Txn(planned.iter().map(|p| MicroOp::Send { key: p.name(), value: p.value, offset: None }).collect())
}

/// The Kafka record key of each keyed planned send, by value: the invoke's
/// `record_keys` (empty when no record carries a key).
pub(super) fn record_keys(planned: &[PlannedSend]) -> BTreeMap<u64, Arc<str>> {
    planned.iter().filter_map(|p| Some((p.value, Arc::from(p.record_key()?)))).collect()
}

/// One record of a send op, decided before the op starts.
pub(super) struct PlannedSend {
    route: Route,
    /// The partition's name as the history writes it, shared by the invoke and the
    /// completion; for an unkeyed record, known once the partitioner placed it.
    pub name: Option<Arc<str>>,
    pub value: u64,
    /// The value's size in bytes (the producer's `value_bytes`).
    pub value_bytes: u32,
}

impl PlannedSend {
    /// The producer record: an unkeyed one is placed by the producer's partitioner; a
    /// keyed one carries the partition its key hashed to when the op was planned, with
    /// the producer's own partition count (see [`plan`]), so that the record goes where
    /// the invoke says even if a metadata refresh lands between two sends of one op.
    pub fn record(&self, topic: &Arc<str>) -> ProducerRecord {
        let (partition, key) = match &self.route {
            Route::Explicit(partition) => (Some(*partition), None),
            Route::Keyed { key, partition } => (Some(*partition), Some(key.clone())),
            Route::Unkeyed => (None, None),
        };
        ProducerRecord { topic: topic.clone(), partition, key, value: self.value, value_bytes: self.value_bytes }
    }

    /// The record's Kafka key, if it has one.
    pub fn record_key(&self) -> Option<&str> {
        match &self.route {
            Route::Keyed { key, .. } => Some(key.as_str()),
            Route::Explicit(_) | Route::Unkeyed => None,
        }
    }

    /// The partition's name.
    pub fn name(&self) -> Arc<str> {
        self.name.clone().expect("named before the invoke")
    }
}

/// A send op's completion: `ok` if every send was acknowledged, `fail` if every one
/// definitely failed, else `info` (outcome unknown) with the offsets that are known. An
/// acknowledged send is named after the topic whose log took it (a topic deleted and
/// created again under its name is another topic, see [`crate::history::incarnations`]).
fn send_completion(
    life: &Incarnation,
    planned: &[PlannedSend],
    results: Vec<Result<crate::client::producer::RecordMetadata, crate::client::producer::SendError>>,
) -> (OpType, OpValue, Option<String>) {
    let all_ok = results.iter().all(Result::is_ok);
    let all_definite = results.iter().all(|r| r.as_ref().is_err_and(|e| e.definite));
    let error = results.iter().find_map(|r| r.as_ref().err().map(|e| e.reason.clone()));
    // One key per partition and topic an op's sends went to, looked up once.
    let mut keys: BTreeMap<(&TopicPartition, TopicId), Arc<str>> = BTreeMap::new();
    let mops = planned
        .iter()
        .zip(&results)
        .map(|(planned, result)| {
            let acknowledged = result.as_ref().ok();
            let key = match acknowledged.and_then(|m| Some((&m.tp, m.topic_id?))) {
                Some((tp, id)) => keys.entry((tp, id)).or_insert_with(|| life.partition_key(tp, Some(id))).clone(),
                None => planned.name(),
            };
            MicroOp::Send { key, value: planned.value, offset: acknowledged.and_then(|m| m.offset) }
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

/// The next `size` records of a producer that has planned `sent` so far: each with a
/// run-unique value and its route (named when the route knows its partition).
///
/// A keyed record's partition is `murmur2(key) % count` with the producer's own cached
/// partition count (`Producer::partition_count`), as `KafkaProducer.partition` computes
/// it in `send`; before the producer's first metadata, the topic's count at the start.
/// The route is decided when the op starts so that the invoke can name it: an async op
/// spans a few milliseconds, within which a metadata refresh that changes the count
/// takes effect from the next op.
pub(super) fn plan(
    ctx: &WorkloadContext,
    spec: &ProducerSpec,
    sent: &mut u64,
    size: u64,
    producer: &Producer,
    partition_names: &mut PartitionNames,
) -> Vec<PlannedSend> {
    let partitions = producer.partition_count(&spec.topic).unwrap_or(partition_names.initial);
    (0..size)
        .map(|_| {
            let value = ctx.next_value.fetch_add(1, Ordering::Relaxed);
            let route = route(spec, *sent, partitions);
            *sent += 1;
            let name = route.partition().map(|p| partition_names.get(p));
            PlannedSend { route, name, value, value_bytes: spec.value_bytes }
        })
        .collect()
}

/// The history's names of one topic's partitions (`orders-2`), each made once and shared
/// by every op that names it; a partition added while the run goes on gets its name when
/// first used.
pub(super) struct PartitionNames {
    topic: Arc<str>,
    names: Vec<Arc<str>>,
    /// The topic's partition count when the run started.
    initial: u32,
}

impl PartitionNames {
    /// The names of a topic that starts with `partitions` partitions.
    pub fn new(topic: Arc<str>, partitions: u32) -> Self {
        let names = (0..partitions).map(|p| Arc::from(TopicPartition::new(topic.clone(), p).to_string())).collect();
        PartitionNames { topic, names, initial: partitions }
    }

    /// The name of partition `partition`.
    pub fn get(&mut self, partition: u32) -> Arc<str> {
        while self.names.len() <= partition as usize {
            let next = self.names.len() as u32;
            self.names.push(Arc::from(TopicPartition::new(self.topic.clone(), next).to_string()));
        }
        self.names[partition as usize].clone()
    }
}

/// Where the producer's `n`-th record goes, per its partitioning mode.
enum Route {
    /// To partition `n % partitions`, named in the record.
    Explicit(u32),
    /// With a key drawn from `key_count` keys, which the producer hashes to `partition`
    /// (Kafka's murmur2, the same function).
    Keyed {
        /// The key.
        key: String,
        /// The partition it hashes to.
        partition: u32,
    },
    /// Without a key: the producer's partitioner decides.
    Unkeyed,
}

impl Route {
    /// The partition, when known before the producer places the record.
    fn partition(&self) -> Option<u32> {
        match self {
            Route::Explicit(partition) | Route::Keyed { partition, .. } => Some(*partition),
            Route::Unkeyed => None,
        }
    }
}

/// The route of the producer's `n`-th record.
fn route(spec: &ProducerSpec, n: u64, partitions: u32) -> Route {
    match spec.partitioning {
        Partitioning::Explicit => Route::Explicit((n % u64::from(partitions)) as u32),
        Partitioning::Keyed => {
            let key = format!("key-{}", thread_rng().gen_range(0..spec.key_count.max(1)));
            let partition = partition_for_key(key.as_bytes(), partitions);
            Route::Keyed { key, partition }
        }
        Partitioning::Unkeyed => Route::Unkeyed,
    }
}
