//! One simulated run, inside the runtime: boot, safety phase, liveness phase, shutdown.

use super::nemesis::{Nemesis, SharedNodes};
use super::observer::observe;
use super::{no_progress, trace_phase, RunOptions};
use crate::broker::coordinator::OFFSETS_TOPIC;
use crate::broker::{run_broker, BrokerConfig, BrokerContext};
use crate::check::Anomaly;
use crate::history::{Recorder, RunPhase};
use crate::metastore::run_metastore;
use crate::protocol::{BrokerId, RetentionConfig, TopicAssignment};
use crate::scenario::{self, Scenario};
use crate::sim::disk::DiskStore;
use crate::sim::net::{Addr, NetConfig, Network};
use crate::sim::nodes::NodeSet;
use crate::workload::{self, WorkloadContext};
use madsim::runtime::Handle;
use madsim::time::{sleep, sleep_until, Instant};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a finished simulation hands back.
pub struct Simulated {
    /// Everything recorded.
    pub recorder: Recorder,
    /// `no-progress` findings of the liveness phase.
    pub liveness_failures: Vec<Anomaly>,
    /// The partitions the liveness phase could not read to their high watermark; an
    /// acknowledged record there that nobody read is a liveness failure, not a loss.
    pub undrained: Vec<String>,
    /// Faults fired.
    pub faults_fired: u64,
    /// Network messages delivered.
    pub messages: u64,
}

/// The administrator's replica assignment: partition `p` of a topic with replication
/// factor `r` on `n` brokers gets brokers `p+1, p+2, ... p+r` (mod n), so leaders spread.
pub fn replica_assignment(partitions: u32, replication_factor: u32, brokers: u32) -> Vec<Vec<BrokerId>> {
    (0..partitions).map(|p| (0..replication_factor).map(|i| BrokerId((p + i) % brokers + 1)).collect()).collect()
}

/// Every topic of the scenario with its assignment and topic-level settings, and
/// `__consumer_offsets` when a consumer group needs it (Kafka creates it on the first
/// FindCoordinator; here it exists from the start, which only saves the wait).
pub fn topic_assignments(scenario: &Scenario) -> Vec<TopicAssignment> {
    let defaults = &scenario.cluster.config;
    let mut topics: Vec<TopicAssignment> = scenario
        .topics
        .iter()
        .map(|t| TopicAssignment {
            name: t.name.clone(),
            replicas: replica_assignment(t.partitions, t.replication_factor, scenario.cluster.brokers),
            min_insync_replicas: t.config.min_insync_replicas.unwrap_or(defaults.min_insync_replicas),
            unclean_leader_election_enable: t
                .config
                .unclean_leader_election_enable
                .unwrap_or(defaults.unclean_leader_election_enable),
            retention: RetentionConfig {
                retention_ms: t.config.retention_ms.unwrap_or(defaults.log_retention_ms),
                retention_bytes: t.config.retention_bytes.unwrap_or(defaults.log_retention_bytes),
                segment_bytes: t.config.segment_bytes.unwrap_or(defaults.log_segment_bytes),
            },
        })
        .collect();
    if scenario.consumers.iter().any(|c| c.mode == scenario::ConsumerMode::Subscribe) {
        topics.push(TopicAssignment {
            name: OFFSETS_TOPIC.to_string(),
            replicas: replica_assignment(
                defaults.offsets_topic_num_partitions,
                defaults.offsets_topic_replication_factor,
                scenario.cluster.brokers,
            ),
            min_insync_replicas: defaults.min_insync_replicas,
            unclean_leader_election_enable: false,
            // Compacted in Kafka, with its own `offsets.topic.segment.bytes`: the
            // cluster's retention settings do not apply (see `BrokerConfig::retention_for`).
            retention: RetentionConfig::default(),
        });
    }
    topics
}

fn broker_config(scenario: &Scenario, options: &RunOptions, id: u32, topics: &[TopicAssignment]) -> BrokerConfig {
    let c = &scenario.cluster.config;
    BrokerConfig {
        id: BrokerId(id),
        truncation: scenario.cluster.truncation,
        topics: topics.to_vec(),
        replica_lag_time_max_ms: c.replica_lag_time_max_ms,
        session_timeout_ms: c.zookeeper_session_timeout_ms,
        replica_fetch_wait_max_ms: c.replica_fetch_wait_max_ms,
        replica_fetch_max_bytes: c.replica_fetch_max_bytes,
        replica_fetch_backoff_ms: 1000,
        high_watermark_checkpoint_interval_ms: c.replica_high_watermark_checkpoint_interval_ms,
        flush_messages: c.flush_messages,
        flush_ms: c.flush_ms,
        log_retention_check_interval_ms: c.log_retention_check_interval_ms,
        inter_broker_timeout_ms: 30_000,
        metastore: Addr::new(METASTORE),
        plant: options.plant,
    }
}

const METASTORE: &str = "metastore";

/// How long the cluster may take to elect every partition's first leader.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the whole simulation. Must be called inside a fresh runtime.
pub async fn simulate(scenario: &Scenario, options: &RunOptions) -> Simulated {
    let handle = Handle::current();
    let recorder = Recorder::new();
    let wire = handle.create_node().name("wire").build();
    let wire_id = wire.id();
    let net_config = NetConfig {
        latency_ms_min: scenario.network.latency_ms_min,
        latency_ms_max: scenario.network.latency_ms_max,
        packet_loss_rate: scenario.network.packet_loss_rate,
        ..NetConfig::default()
    };
    let network = Network::new(net_config, wire);
    let disks = DiskStore::new();
    let nodes: SharedNodes = Arc::new(Mutex::new(NodeSet::new(handle.clone(), network.clone(), disks.clone())));
    let topics = topic_assignments(scenario);
    boot_cluster(scenario, options, &nodes, &network, &disks, &recorder, &topics);

    let mut liveness_failures = Vec::new();
    let partition_names: Vec<String> =
        topics.iter().flat_map(|t| (0..t.replicas.len()).map(move |p| format!("{}-{p}", t.name))).collect();
    if !wait_until(BOOT_TIMEOUT, || all_led(&recorder, &partition_names)).await {
        liveness_failures.push(no_progress(format!(
            "the cluster did not elect a leader for every partition within {} s of booting",
            BOOT_TIMEOUT.as_secs()
        )));
    }

    // Safety phase: workload and faults.
    trace_phase(&recorder, RunPhase::Safety);
    let bootstrap: Vec<Addr> = (1..=scenario.cluster.brokers).map(|i| Addr::new(&format!("broker-{i}"))).collect();
    let ctx = WorkloadContext::new(recorder.clone(), bootstrap.clone());
    boot_clients(scenario, &nodes, &network, &ctx);
    let assignments: BTreeMap<String, Vec<u32>> = topics
        .iter()
        .flat_map(|t| {
            t.replicas
                .iter()
                .enumerate()
                .map(move |(p, r)| (format!("{}-{p}", t.name), r.iter().map(|b| b.0).collect()))
        })
        .collect();
    let nemesis =
        Nemesis::new(nodes.clone(), recorder.clone(), scenario.cluster.brokers, assignments, ctx.app_faults.clone());
    let nemesis = Arc::new(Mutex::new(nemesis));
    let safety_start = Instant::now();
    let armed: ArmedFaults = Arc::default();
    let schedule = run_schedule(scenario, nemesis.clone(), safety_start, armed.clone());
    sleep_until(safety_start + Duration::from_millis(scenario.duration_ms)).await;
    schedule.abort();
    for task in armed.lock().expect("armed faults poisoned").drain(..) {
        task.abort();
    }
    ctx.stop.store(true, Ordering::Relaxed);

    // Liveness phase: heal, restart, let in-flight sends finish, recover, drain.
    trace_phase(&recorder, RunPhase::Liveness);
    nemesis.lock().expect("nemesis poisoned").heal_everything();
    let liveness_deadline = Duration::from_millis(scenario.liveness_timeout_ms);
    let outstanding = ctx.outstanding.clone();
    if !wait_until(liveness_deadline, || outstanding.load(Ordering::Relaxed) == 0).await {
        liveness_failures.push(no_progress(format!(
            "{} sends were still unanswered {} after the faults healed",
            ctx.outstanding.load(Ordering::Relaxed),
            scenario::format_duration_ms(liveness_deadline.as_millis() as u64)
        )));
    }
    let full_isr = |recorder: &Recorder| fully_replicated(recorder, &topics);
    if !wait_until(liveness_deadline, || full_isr(&recorder)).await {
        liveness_failures.push(no_progress(describe_unrecovered(&recorder, &topics, liveness_deadline)));
    }
    let drain_net = network.add_host(&Addr::new("drain"));
    let deadline = Instant::now() + liveness_deadline;
    // Every partition the scenario has, so that one missing from the metadata (no leader)
    // counts as undrained rather than as drained by default.
    let expected: Vec<crate::protocol::TopicPartition> = scenario
        .topics
        .iter()
        .flat_map(|t| (0..t.partitions).map(move |p| crate::protocol::TopicPartition::new(t.name.as_str(), p)))
        .collect();
    let drain_process = 1_000_000;
    let recorder_for_drain = recorder.clone();
    let drain_node = handle.create_node().name("drain").build();
    let drained = drain_node
        .spawn(async move {
            workload::drain(recorder_for_drain, drain_net, bootstrap, expected, drain_process, deadline).await
        })
        .await
        .unwrap_or_default();
    if !drained.unfinished.is_empty() {
        let names: Vec<String> = drained.unfinished.iter().map(ToString::to_string).collect();
        liveness_failures.push(no_progress(format!(
            "after healing, partitions {} could not be read to their high watermark within {}",
            names.join(", "),
            scenario::format_duration_ms(liveness_deadline.as_millis() as u64)
        )));
    }
    let groups = group_topics(scenario);
    let unprocessed = ctx.unprocessed.clone();
    let caught_up = |recorder: &Recorder| {
        groups_behind(recorder, &groups, &drained.end_offsets).is_empty() && unprocessed.load(Ordering::Relaxed) == 0
    };
    if !groups.is_empty() && !wait_until(liveness_deadline, || caught_up(&recorder)).await {
        let mut behind = groups_behind(&recorder, &groups, &drained.end_offsets);
        let left = ctx.unprocessed.load(Ordering::Relaxed);
        if left > 0 {
            behind.push(format!("{left} polled records not processed yet"));
        }
        liveness_failures.push(no_progress(format!(
            "{} s after the faults healed, consumer groups had not committed up to the end of every \
             partition: {}",
            liveness_deadline.as_secs(),
            behind.join("; ")
        )));
    }
    ctx.run_over.store(true, Ordering::Relaxed);

    let undrained: Vec<String> = drained.unfinished.iter().map(ToString::to_string).collect();
    let faults_fired = nemesis.lock().expect("nemesis poisoned").fired;
    let messages = network.stats().messages_delivered;
    nodes.lock().expect("nodes poisoned").kill_all();
    handle.kill(drain_node.id());
    handle.kill(wire_id);
    Simulated { recorder, liveness_failures, undrained, faults_fired, messages }
}

/// Boots the metastore and every broker.
fn boot_cluster(
    scenario: &Scenario,
    options: &RunOptions,
    nodes: &SharedNodes,
    network: &Network<crate::protocol::Request, crate::protocol::Response>,
    disks: &DiskStore,
    recorder: &Recorder,
    topics: &[TopicAssignment],
) {
    let mut nodes = nodes.lock().expect("nodes poisoned");
    let meta_net = network.add_host(&Addr::new(METASTORE));
    let meta_disk = disks.disk(METASTORE);
    nodes.boot(METASTORE, move || run_metastore(meta_net.clone(), meta_disk.clone()));
    for id in 1..=scenario.cluster.brokers {
        let name = format!("broker-{id}");
        let ctx = BrokerContext {
            config: broker_config(scenario, options, id, topics),
            net: network.add_host(&Addr::new(&name)),
            disk: disks.disk(&name),
            tracer: recorder.tracer(&name),
        };
        nodes.boot(&name, move || run_broker(ctx.clone()));
    }
}

/// Boots every producer and consumer process. Process ids: producers first, then
/// consumers, in scenario order.
fn boot_clients(
    scenario: &Scenario,
    nodes: &SharedNodes,
    network: &Network<crate::protocol::Request, crate::protocol::Response>,
    ctx: &WorkloadContext,
) {
    let mut nodes = nodes.lock().expect("nodes poisoned");
    let mut process = 0u64;
    let mut producer_number = 0;
    for spec in &scenario.producers {
        let partitions = scenario.topics.iter().find(|t| t.name == spec.topic).map_or(1, |t| t.partitions);
        for _ in 0..spec.count {
            producer_number += 1;
            let name = format!("producer-{producer_number}");
            let net = network.add_host(&Addr::new(&name));
            let (ctx, spec, this) = (ctx.clone(), spec.clone(), process);
            nodes.boot(&name, move || workload::run_producer(ctx.clone(), net.clone(), spec.clone(), partitions, this));
            process += 1;
        }
    }
    let mut consumer_number = 0;
    for spec in &scenario.consumers {
        for _ in 0..spec.count {
            consumer_number += 1;
            let name = format!("consumer-{consumer_number}");
            let net = network.add_host(&Addr::new(&name));
            let (ctx, spec, this) = (ctx.clone(), spec.clone(), process);
            match spec.mode {
                scenario::ConsumerMode::Assign => {
                    nodes.boot(&name, move || workload::run_consumer(ctx.clone(), net.clone(), spec.clone(), this));
                }
                scenario::ConsumerMode::Subscribe => {
                    let member = name.clone();
                    nodes.boot(&name, move || {
                        workload::run_group_consumer(ctx.clone(), net.clone(), spec.clone(), member.clone(), this)
                    });
                }
            }
            process += 1;
        }
    }
}

/// Fires the fault schedule (times relative to the safety phase's start) on its own
/// task, undoing timed faults when their duration ends.
/// Faults waiting for their trigger, each on its own task; aborted when the safety phase
/// ends.
type ArmedFaults = Arc<Mutex<Vec<madsim::task::JoinHandle<()>>>>;

fn run_schedule(
    scenario: &Scenario,
    nemesis: Arc<Mutex<Nemesis>>,
    start: Instant,
    armed: ArmedFaults,
) -> madsim::task::JoinHandle<()> {
    let faults = scenario.faults.clone();
    madsim::task::spawn(async move {
        // Pending undos, by due time; kept sorted so that they fire in order.
        let mut undos: Vec<(Instant, super::nemesis::Undo)> = Vec::new();
        let mut faults = faults.into_iter().peekable();
        loop {
            let next_fault = faults.peek().map(|f| start + Duration::from_millis(f.at_ms));
            let next_undo = undos.first().map(|(at, _)| *at);
            let next = match (next_fault, next_undo) {
                (Some(f), Some(u)) => f.min(u),
                (Some(f), None) => f,
                (None, Some(u)) => u,
                (None, None) => return,
            };
            sleep_until(next).await;
            if next_undo == Some(next) {
                let (_, undo) = undos.remove(0);
                nemesis.lock().expect("nemesis poisoned").undo(undo);
                continue;
            }
            let fault = faults.next().expect("peeked");
            if let Some(trigger) = fault.trigger.clone() {
                let task = madsim::task::spawn(fire_on_trigger(nemesis.clone(), fault, trigger));
                armed.lock().expect("armed faults poisoned").push(task);
                continue;
            }
            let undo = nemesis.lock().expect("nemesis poisoned").fire(&fault);
            if let (Some(undo), Some(duration)) = (undo, fault.duration_ms) {
                undos.push((Instant::now() + Duration::from_millis(duration), undo));
                undos.sort_by_key(|(at, _)| *at);
            }
        }
    })
}

/// An armed fault: fires at the first matching trace event, then undoes itself after
/// its duration.
async fn fire_on_trigger(nemesis: Arc<Mutex<Nemesis>>, fault: scenario::FaultSpec, trigger: scenario::Trigger) {
    let recorder = nemesis.lock().expect("nemesis poisoned").recorder().clone();
    let mut seen = recorder.trace_len();
    loop {
        let events = recorder.trace_since(seen).await;
        seen += events.len();
        if events.iter().any(|e| trigger_matches(&trigger, &e.event)) {
            break;
        }
    }
    let undo = nemesis.lock().expect("nemesis poisoned").fire(&fault);
    if let (Some(undo), Some(duration)) = (undo, fault.duration_ms) {
        sleep(Duration::from_millis(duration)).await;
        nemesis.lock().expect("nemesis poisoned").undo(undo);
    }
}

fn trigger_matches(trigger: &scenario::Trigger, event: &crate::history::Event) -> bool {
    use crate::history::Event;
    use scenario::TriggerEvent as T;
    let tp = match (trigger.event, event) {
        (T::Truncate, Event::Truncate { tp, .. })
        | (T::LeaderElection, Event::LeaderElection { tp, .. })
        | (T::IsrChange, Event::IsrChange { tp, .. })
        | (T::BecomeFollower, Event::BecomeFollower { tp, .. })
        | (T::BecomeLeader, Event::BecomeLeader { tp, .. }) => tp,
        _ => return false,
    };
    **tp == *trigger.tp
}

/// Each consumer group of the scenario with the topics its members subscribe to.
fn group_topics(scenario: &Scenario) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in scenario.consumers.iter().filter(|c| c.mode == scenario::ConsumerMode::Subscribe) {
        let topics = groups.entry(c.group.clone().unwrap_or_default()).or_default();
        if !topics.contains(&c.topic) {
            topics.push(c.topic.clone());
        }
    }
    groups
}

/// For each group, the partitions of its topics whose last accepted commit is below the
/// end offset the drain read them to (`group t-0 at 12 of 40`). A group has caught up
/// when this is empty: it stabilised and consumed everything written.
fn groups_behind(
    recorder: &Recorder,
    groups: &BTreeMap<String, Vec<String>>,
    end_offsets: &BTreeMap<crate::protocol::TopicPartition, u64>,
) -> Vec<String> {
    use crate::history::{OpFn, OpType, OpValue};
    let committed: BTreeMap<(String, String), u64> = recorder.with_ops(|ops| {
        let mut committed = BTreeMap::new();
        for op in ops.iter().filter(|o| o.f == OpFn::Commit && o.kind == OpType::Ok) {
            let (Some(ctx), OpValue::Offsets(offsets)) = (&op.group, &op.value) else { continue };
            for (key, offset) in offsets {
                committed.insert((ctx.group.clone(), key.clone()), *offset);
            }
        }
        committed
    });
    let mut behind = Vec::new();
    for (group, topics) in groups {
        for (tp, end) in end_offsets.iter().filter(|(tp, _)| topics.iter().any(|t| **t == *tp.topic)) {
            let at = committed.get(&(group.clone(), tp.to_string())).copied().unwrap_or(0);
            if at < *end {
                behind.push(format!("{group} {tp} at {at} of {end}"));
            }
        }
    }
    behind
}

/// Polls `condition` every 100 ms of simulated time until it holds or `limit` passes.
async fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(100)).await;
    }
}

fn all_led(recorder: &Recorder, partitions: &[String]) -> bool {
    let observation = observe(recorder);
    partitions.iter().all(|p| observation.acting_leader(p).is_some())
}

/// Whether every partition has a leader that has committed its whole log and every
/// assigned replica back in its ISR.
fn fully_replicated(recorder: &Recorder, topics: &[TopicAssignment]) -> bool {
    let observation = observe(recorder);
    topics.iter().all(|t| {
        t.replicas.iter().enumerate().all(|(p, replicas)| {
            observation
                .partitions
                .get(format!("{}-{p}", t.name).as_str())
                .is_some_and(|s| replicas.iter().all(|r| s.isr.contains(&r.0)))
                && observation.leader_committed_all(&format!("{}-{p}", t.name))
        })
    })
}

fn describe_unrecovered(recorder: &Recorder, topics: &[TopicAssignment], limit: Duration) -> String {
    let observation = observe(recorder);
    let mut problems = Vec::new();
    for t in topics {
        for (p, replicas) in t.replicas.iter().enumerate() {
            let name = format!("{}-{p}", t.name);
            let Some(s) = observation.partitions.get(name.as_str()) else {
                problems.push(format!("{name} was never created"));
                continue;
            };
            if observation.acting_leader(&name).is_none() {
                problems.push(format!("{name} has no leader"));
                continue;
            }
            let missing: Vec<String> =
                replicas.iter().filter(|r| !s.isr.contains(&r.0)).map(|r| format!("broker-{}", r.0)).collect();
            if !missing.is_empty() {
                problems.push(format!("{name} ISR lacks {}", missing.join(", ")));
            }
            if !observation.leader_committed_all(&name) {
                problems
                    .push(format!("{name}'s leader has not committed its whole log (high watermark below its end)"));
            }
        }
    }
    let limit = scenario::format_duration_ms(limit.as_millis() as u64);
    format!("{limit} after the faults healed: {}", problems.join("; "))
}
