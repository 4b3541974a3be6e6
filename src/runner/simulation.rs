//! One simulated run, inside the runtime, in the shape of a simulator: boot, the safety
//! phase (workload and faults), the liveness phase (heal, recover, drain), shutdown.

use super::admin::EventSchedule;
use super::configure;
use super::nemesis::{ClusterSize, Levers, Nemesis, Placement, SharedNodes};
use super::observer::Observer;
use super::probes::{self, wait_until};
use super::schedule::FaultSchedule;
use super::{trace_phase, RunOptions};
use crate::broker::{run_broker, BrokerContext};
use crate::check::liveness::LivenessCause;
use crate::check::{self, Anomaly};
use crate::client::producer::SendsOutlook;
use crate::history::{Recorder, RunPhase, DRAIN_PROCESS};
use crate::kraft::{run_controller, ControllerContext};
use crate::metastore::run_metastore;
use crate::protocol::{broker_name, partition_name, MetadataMode, NodeName, TopicAssignment, METASTORE};
use crate::protocol::{BrokerId, Request, Response, TopicPartition};
use crate::scenario::{self, Scenario};
use crate::sim::clock;
use crate::sim::disk::DiskStore;
use crate::sim::net::{Addr, Network};
use crate::sim::nodes::NodeSet;
use crate::workload::{self, Drained, PhaseAnnouncer, WorkloadContext};
use madsim::runtime::{Handle, NodeHandle};
use madsim::time::{sleep_until, Instant};
use std::collections::BTreeMap;
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
    /// The partitions a `read_committed` drain could read only to their last stable
    /// offset, which an open transaction held below the high watermark: `(last stable
    /// offset, high watermark)` by partition name.
    pub held: BTreeMap<String, (u64, u64)>,
    /// Faults fired.
    pub faults_fired: u64,
    /// Network messages delivered.
    pub messages: u64,
    /// The plain producers' per-record send latencies.
    pub send_latencies: crate::workload::LatencyDistribution,
}

/// The administrator's node and host name.
const ADMIN: &str = "admin";

/// How long the cluster may take to elect every partition's first leader.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// A run in progress: the simulated world and what the phases found so far.
struct Run<'s> {
    scenario: &'s Scenario,
    handle: Handle,
    recorder: Recorder,
    observer: Observer,
    network: Network<Request, Response>,
    nodes: SharedNodes,
    /// The node carrying the network's own tasks.
    wire: NodeHandle,
    topics: Vec<TopicAssignment>,
    workload: WorkloadContext,
    phases: PhaseAnnouncer,
    nemesis: Arc<Mutex<Nemesis>>,
    liveness_failures: Vec<Anomaly>,
    drained: Drained,
    /// The node the final drain ran on, killed with the others at shutdown.
    drain_node: Option<NodeHandle>,
    /// The node the administrator's topic events ran on, if the scenario has any.
    admin_node: Option<NodeHandle>,
    /// The bug planted in this run, for the clients that read one (the producer).
    plant: Option<crate::plant::PlantedBug>,
}

/// Runs the whole simulation. Must be called inside a fresh runtime.
pub async fn simulate(scenario: &Scenario, options: &RunOptions) -> Simulated {
    let mut run = boot(scenario, options).await;
    safety_phase(&mut run).await;
    liveness_phase(&mut run).await;
    shutdown(run)
}

/// Boots the metastore and every broker, and waits until every partition has a leader.
async fn boot<'s>(scenario: &'s Scenario, options: &RunOptions) -> Run<'s> {
    let handle = Handle::current();
    let recorder = Recorder::new();
    let wire = handle.create_node().name("wire").build();
    let network = Network::new(configure::net_config(scenario), wire.clone());
    let started = clock::now();
    let disks = DiskStore::with_clock(Arc::new(move || started.elapsed().as_millis() as u64));
    let hardware = crate::sim::machine::Hardware::new(scenario.cluster.machine);
    let nodes: SharedNodes = Arc::new(Mutex::new(NodeSet::new(handle.clone(), network.clone(), disks.clone())));
    let topics = configure::topic_assignments(scenario);
    let mut stop_switches = std::collections::BTreeMap::new();
    {
        let mut nodes = nodes.lock().expect("nodes poisoned");
        match scenario.cluster.metadata {
            MetadataMode::Zookeeper => {
                let meta_net = network.add_host(&Addr::new(METASTORE));
                let meta_disk = disks.disk(METASTORE);
                let meta_config = scenario.metastore;
                nodes.boot(METASTORE, move || run_metastore(meta_net.clone(), meta_disk.clone(), meta_config));
            }
            MetadataMode::Kraft => {
                let (quorum, settings) = configure::controller_config(scenario, options, &topics);
                let settings = Arc::new(settings);
                let voters = configure::controller_ids(scenario);
                for &id in &voters {
                    let name = NodeName::of_kraft_node(id).to_string();
                    disks.set_write_back(&name, configure::write_back(scenario));
                    let stop = crate::broker::StopSwitch::default();
                    stop_switches.insert(name.clone(), stop.clone());
                    let ctx = ControllerContext {
                        stop,
                        id,
                        voters: voters.clone(),
                        quorum,
                        settings: settings.clone(),
                        net: network.add_host(&Addr::new(&name)),
                        disk: disks.disk(&name),
                        tracer: recorder.tracer(&name),
                    };
                    nodes.boot(&name, move || run_controller(ctx.clone()));
                }
            }
        }
        for id in 1..=scenario.cluster.brokers {
            let name = broker_name(id);
            let stop = crate::broker::StopSwitch::default();
            stop_switches.insert(name.clone(), stop.clone());
            let ctx = BrokerContext {
                stop,
                config: configure::broker_config(scenario, options, id, &topics),
                net: network.add_host(&Addr::new(&name)),
                disk: {
                    disks.set_write_back(&name, configure::write_back(scenario));
                    disks.disk(&name)
                },
                machine: hardware.machine(&name),
                tracer: recorder.tracer(&name),
            };
            nodes.boot(&name, move || run_broker(ctx.clone()));
        }
    }
    let observer = Observer::new(recorder.clone());
    let (workload, phases) = WorkloadContext::new(recorder.clone());
    let levers = Levers { nodes: nodes.clone(), stop_switches, hardware, app_faults: workload.app_faults.clone() };
    let nemesis = Nemesis::new(
        levers,
        recorder.clone(),
        observer.clone(),
        ClusterSize {
            brokers: scenario.cluster.brokers,
            controllers: scenario.cluster.controllers,
            combined: scenario.cluster.combined,
        },
        Placement { assignments: replica_sets(&topics), transactional_ids: configure::transactional_ids(scenario) },
    );
    let mut run = Run {
        scenario,
        handle,
        recorder,
        observer,
        network,
        nodes,
        wire,
        topics,
        workload,
        phases,
        nemesis: Arc::new(Mutex::new(nemesis)),
        liveness_failures: Vec::new(),
        drained: Drained::default(),
        drain_node: None,
        admin_node: None,
        plant: options.plant,
    };
    let partitions = probes::partition_names(&run.topics);
    if !wait_until(BOOT_TIMEOUT, || probes::all_led(&run.observer.now(), &partitions)).await {
        run.fail(LivenessCause::NoLeaderAtBoot { timeout_s: BOOT_TIMEOUT.as_secs() });
    }
    run
}

/// The replicas of each partition, by name (`orders-0`).
fn replica_sets(topics: &[TopicAssignment]) -> BTreeMap<String, Vec<u32>> {
    topics
        .iter()
        .flat_map(|t| {
            t.replicas
                .iter()
                .enumerate()
                .map(move |(p, r)| (partition_name(&t.name, p as u32), r.iter().map(|b| b.0).collect()))
        })
        .collect()
}

/// The workload runs and the fault schedule fires for the scenario's `duration`.
async fn safety_phase(run: &mut Run<'_>) {
    trace_phase(&run.recorder, RunPhase::Safety);
    run.phases.announce(RunPhase::Safety);
    boot_clients(run);
    let start = clock::now();
    let schedule = FaultSchedule::start(run.scenario.faults.clone(), run.nemesis.clone(), start);
    let events = start_events(run, start);
    sleep_until(start + Duration::from_millis(run.scenario.duration_ms)).await;
    schedule.stop();
    if let Some(events) = events {
        events.stop();
    }
    run.topics = with_admin_partitions(&run.topics, &run.observer.now(), run.scenario);
    run.phases.announce(RunPhase::Liveness);
}

/// Starts the administrator's `[[events]]` on a node of its own, if the scenario has
/// any (a run without them boots no such node, so its schedule is unchanged).
fn start_events(run: &mut Run<'_>, start: Instant) -> Option<EventSchedule> {
    if run.scenario.events.is_empty() {
        return None;
    }
    let net = run.network.add_host(&Addr::new(ADMIN));
    let node = run.handle.create_node().name(ADMIN).build();
    let controllers = configure::admin_targets(run.scenario);
    let targets = (controllers, configure::bootstrap(run.scenario));
    let schedule =
        EventSchedule::start(&run.scenario.events, &node, net, targets, run.recorder.clone(), &run.workload, start);
    run.admin_node = Some(node);
    Some(schedule)
}

/// The topics as the safety phase left them: the scenario's, less those an
/// administrator deleted, and the partitions an administrator created, with the
/// replicas the controller placed them on (new topics take the cluster's topic settings).
fn with_admin_partitions(
    topics: &[TopicAssignment],
    state: &crate::history::ClusterState,
    scenario: &Scenario,
) -> Vec<TopicAssignment> {
    let mut topics = topics.to_vec();
    topics.retain(|t| !state.deleted_topics().contains(&*t.name));
    for (tp, replicas) in state.created_by_admin() {
        let Some(tp) = TopicPartition::parse(tp) else { continue };
        let replicas: Vec<BrokerId> = replicas.iter().map(|&b| BrokerId(b)).collect();
        let index = match topics.iter().position(|t| *t.name == *tp.topic) {
            Some(index) => index,
            None => {
                topics.push(configure::new_topic_assignment(scenario, &tp.topic));
                topics.len() - 1
            }
        };
        let partitions = &mut topics[index].replicas;
        if partitions.len() <= tp.partition as usize {
            partitions.resize(tp.partition as usize + 1, Vec::new());
        }
        partitions[tp.partition as usize] = replicas;
    }
    topics
}

/// Boots every producer, consumer, pipeline and delay queue forwarder process. Process
/// ids: producers first, then consumers, then pipeline instances, then forwarders, in
/// scenario order.
fn boot_clients(run: &Run<'_>) {
    let scenario = run.scenario;
    let bootstrap = configure::bootstrap(scenario);
    let mut nodes = run.nodes.lock().expect("nodes poisoned");
    let mut process = 0u64;
    let mut producer_number = 0;
    for spec in &scenario.producers {
        let partitions = scenario.topics.iter().find(|t| t.name == spec.topic).map_or(1, |t| t.partitions);
        for index in 0..spec.count {
            let config = crate::client::producer::ProducerConfig {
                plant: run.plant,
                ..configure::producer_config(spec, index, bootstrap.clone(), scenario)
            };
            producer_number += 1;
            let name = NodeName::producer(producer_number).to_string();
            let net = run.network.add_host(&Addr::new(&name));
            let (ctx, spec, config, this) = (run.workload.clone(), spec.clone(), config.clone(), process);
            let node = name.clone();
            nodes.boot(&name, move || {
                let (spec, config, node) = (spec.clone(), config.clone(), node.clone());
                workload::run_producer(ctx.clone(), net.clone(), spec, config, partitions, this, node)
            });
            process += 1;
        }
    }
    let mut consumer_number = 0;
    for spec in &scenario.consumers {
        let config = configure::consumer_config(spec, bootstrap.clone(), scenario);
        for index in 0..spec.count {
            consumer_number += 1;
            let name = NodeName::consumer(consumer_number).to_string();
            let net = run.network.add_host(&Addr::new(&name));
            let (ctx, spec, config, this) = (run.workload.clone(), spec.clone(), config.clone(), process);
            match (spec.mode, &spec.group) {
                (scenario::ConsumerMode::Assign, None) => {
                    let consumer = name.clone();
                    nodes.boot(&name, move || {
                        let named = (spec.clone(), consumer.clone());
                        workload::run_consumer(ctx.clone(), net.clone(), named, config.clone(), this)
                    });
                }
                (mode, Some(_)) => {
                    // A member of the group, or an assign-mode consumer committing to it.
                    let manual = (mode == scenario::ConsumerMode::Assign).then(|| {
                        let count = scenario.topic(&spec.topic).map_or(1, |t| t.partitions);
                        let share = spec.partitions.share(count, index, spec.count);
                        share.map(|p| TopicPartition::new(spec.topic.as_str(), p)).collect::<Vec<_>>()
                    });
                    let configs = (config, configure::group_config(&spec, &name, index));
                    let member = name.clone();
                    nodes.boot(&name, move || {
                        workload::run_group_consumer(
                            ctx.clone(),
                            net.clone(),
                            spec.clone(),
                            configs.clone(),
                            (member.clone(), manual.clone()),
                            this,
                        )
                    });
                }
                (scenario::ConsumerMode::Subscribe, None) => unreachable!("a subscribed consumer has a group"),
            }
            process += 1;
        }
    }
    let mut pipeline_number = 0;
    for spec in &scenario.pipelines {
        let output_partitions = scenario.topic(&spec.output).map_or(1, |t| t.partitions);
        for index in 0..spec.count {
            pipeline_number += 1;
            let name = NodeName::pipeline(pipeline_number).to_string();
            let net = run.network.add_host(&Addr::new(&name));
            let configs = configure::pipeline_configs(spec, index, &name, bootstrap.clone(), scenario);
            let (ctx, spec, this, member) = (run.workload.clone(), spec.clone(), process, name.clone());
            nodes.boot(&name, move || {
                workload::run_pipeline(
                    ctx.clone(),
                    net.clone(),
                    spec.clone(),
                    configs.clone(),
                    member.clone(),
                    output_partitions,
                    this,
                )
            });
            process += 1;
        }
    }
    let mut forwarder_number = 0;
    for queue in &scenario.delay_queues {
        let target_partitions = scenario.topic(&queue.target).map_or(1, |t| t.partitions);
        for index in 0..queue.count {
            forwarder_number += 1;
            let name = NodeName::forwarder(forwarder_number).to_string();
            let net = run.network.add_host(&Addr::new(&name));
            let configs = configure::pipeline_configs(&queue.as_pipeline(), index, &name, bootstrap.clone(), scenario);
            let (ctx, queue, this, member) = (run.workload.clone(), queue.clone(), process, name.clone());
            nodes.boot(&name, move || {
                let (queue, configs, member) = (queue.clone(), configs.clone(), member.clone());
                workload::run_forwarder(ctx.clone(), net.clone(), queue, configs, member, target_partitions, this)
            });
            process += 1;
        }
    }
}

/// Heals every fault and restarts every node, then waits, each step within the
/// scenario's `liveness_timeout`, for the producers' sends to be answered, for every
/// partition to recover, for the final drain to read every partition, and for every
/// consumer group to catch up.
async fn liveness_phase(run: &mut Run<'_>) {
    trace_phase(&run.recorder, RunPhase::Liveness);
    let healed_at = madsim::time::Instant::now();
    run.nemesis.lock().expect("nemesis poisoned").heal_everything();
    let limit = Duration::from_millis(run.scenario.liveness_timeout_ms);
    let waited_ms = run.scenario.liveness_timeout_ms;
    let progress = run.workload.progress.clone();
    if let Some(cause) = wait_for_sends(&progress, limit, healed_at).await {
        run.fail(cause);
    }
    if run.scenario.cluster.metadata == MetadataMode::Kraft {
        let mark = probes::QuorumMark {
            committed_end: run.observer.now().metadata().committed_end,
            idle_writes: run.scenario.cluster.config.metadata_max_idle_interval_ms > 0,
        };
        let (brokers, observer) = (run.scenario.cluster.brokers, run.observer.clone());
        let problems = move || probes::quorum_problems(&observer.now(), brokers, mark);
        if !wait_until(limit, || problems().is_empty()).await {
            run.fail(LivenessCause::QuorumNotRecovered { waited_ms, problems: problems() });
        }
    }
    let topics = run.topics.clone();
    if !wait_until(limit, || probes::partition_problems(&run.observer.now(), &topics).is_empty()).await {
        let problems = probes::partition_problems(&run.observer.now(), &topics);
        run.fail(LivenessCause::NotRecovered { waited_ms, problems });
    }
    if !run.scenario.delay_queues.is_empty() {
        // The forwarders hold back what is not due yet: the drain reads the targets once
        // every acknowledged tier record has been forwarded.
        let left = || run.recorder.with_ops(check::delay_queue::unforwarded);
        if !wait_until(limit, || left().is_empty()).await {
            let left = left();
            let first = left.iter().take(5).map(|(key, value)| format!("{key} value {value}")).collect();
            run.fail(LivenessCause::DelayedNotForwarded { waited_ms, count: left.len() as u64, first });
        }
    }
    let pipelines = probes::pipeline_routes(run.scenario);
    if !pipelines.is_empty() {
        // Pipelines forward what they read, perhaps a backlog the faults left them: the
        // drain reads their outputs once they have forwarded every acknowledged input
        // record, or stopped making headway (no verdict here: the checkers judge what the
        // drain reads).
        let left = || run.recorder.with_ops(|ops| probes::unforwarded_by_pipelines(ops, &pipelines));
        probes::wait_while_progressing(limit, workload::DRAIN_BOUND_TIMEOUTS, || left() == 0, left).await;
    }
    run.drained = drain(run, limit).await;
    if !run.drained.unfinished.is_empty() {
        let partitions = run.drained.unfinished.iter().map(ToString::to_string).collect();
        run.fail(LivenessCause::Undrained { partitions, waited_ms });
    }
    let groups = probes::group_topics(run.scenario);
    let end_offsets = &run.drained.end_offsets;
    let caught_up =
        || probes::groups_behind(&run.recorder, &groups, end_offsets).is_empty() && progress.unprocessed_records() == 0;
    // Records the groups still have to commit or process: while it falls the groups are
    // working off what the faults left them, however long that takes (within the drain's
    // bound), and only a stall of `liveness_timeout` is no progress, or of a JoinGroup's
    // timeout if that is longer: a member whose coordinator lost power mid-rebalance
    // waits for its JoinGroup that long (305 s by default) in Kafka too, then rejoins.
    let group_limit = limit.max(probes::longest_join_wait(run.scenario));
    let remaining = || {
        let behind = probes::groups_behind(&run.recorder, &groups, end_offsets);
        behind.iter().map(|lag| lag.end - lag.committed).sum::<u64>() + progress.unprocessed_records()
    };
    if !groups.is_empty()
        && !probes::wait_while_progressing(group_limit, workload::DRAIN_BOUND_TIMEOUTS, caught_up, remaining).await
    {
        let behind = probes::groups_behind(&run.recorder, &groups, end_offsets);
        let unprocessed = progress.unprocessed_records();
        let waited_ms = healed_at.elapsed().as_millis() as u64;
        run.fail(LivenessCause::GroupsBehind { waited_ms, behind, unprocessed });
    }
    run.phases.announce(RunPhase::Shutdown);
}

/// Waits for the producers' sends to be answered: within `limit` (the scenario's
/// `liveness_timeout`), or, if by then every unfinished send waits in a partition whose
/// leader keeps refusing a batch the producer retries, until the latest such batch's
/// delivery timeout and `limit` more for what it held up. Kafka bounds such a send by
/// `delivery.timeout.ms` (see `client::producer::outlook`); a send waiting on anything
/// else (no leader known, no answer) gets no such grace, so a producer that stops trying
/// is still caught at `limit`. Returns why the sends were not answered, if they were not.
async fn wait_for_sends(progress: &workload::Progress, limit: Duration, healed_at: Instant) -> Option<LivenessCause> {
    let answered = || progress.outstanding_sends() == 0;
    if wait_until(limit, answered).await {
        return None;
    }
    let refused_until = match progress.sends_outlook() {
        SendsOutlook::RefusedUntil(deadline) => deadline,
        SendsOutlook::Idle | SendsOutlook::Waiting => {
            let waited_ms = limit.as_millis() as u64;
            return Some(LivenessCause::SendsUnanswered {
                count: progress.outstanding_sends(),
                waited_ms,
                refused: false,
            });
        }
    };
    if wait_until(refused_until.saturating_duration_since(clock::now()) + limit, answered).await {
        return None;
    }
    let waited_ms = healed_at.elapsed().as_millis() as u64;
    Some(LivenessCause::SendsUnanswered { count: progress.outstanding_sends(), waited_ms, refused: true })
}

/// The final drain: a consumer on its own node reads every partition the scenario has to
/// its high watermark, giving up once `timeout` passes without progress (see
/// [`workload::drain`]).
async fn drain(run: &mut Run<'_>, timeout: Duration) -> Drained {
    let net = run.network.add_host(&Addr::new("drain"));
    // Every partition the scenario has, and those an administrator added, so that one
    // missing from the metadata (no leader) counts as undrained rather than as drained
    // by default.
    let expected: Vec<TopicPartition> = run
        .topics
        .iter()
        .filter(|t| !t.is_internal())
        .flat_map(|t| {
            // The drain asks for a topic by its name (`orders` for the history's `orders#2`).
            let (name, _) = crate::history::incarnations::split_incarnation(&t.name);
            (0..t.replicas.len() as u32).map(move |p| TopicPartition::new(name, p))
        })
        .collect();
    let (recorder, bootstrap) = (run.recorder.clone(), configure::bootstrap(run.scenario));
    let isolation = configure::drain_isolation(run.scenario);
    let node = run.handle.create_node().name("drain").build();
    let drained = node
        .spawn(
            async move { workload::drain(recorder, net, bootstrap, expected, DRAIN_PROCESS, timeout, isolation).await },
        )
        .await
        .unwrap_or_default();
    run.drain_node = Some(node);
    drained
}

/// Kills every node so that no task outlives the run, and hands back what it recorded.
fn shutdown(run: Run<'_>) -> Simulated {
    let undrained: Vec<String> = run.drained.unfinished.iter().map(ToString::to_string).collect();
    let held = run.drained.held.iter().map(|(tp, &offsets)| (tp.to_string(), offsets)).collect();
    let faults_fired = run.nemesis.lock().expect("nemesis poisoned").fired;
    let messages = run.network.stats().messages_delivered;
    run.nodes.lock().expect("nodes poisoned").kill_all();
    for node in run.drain_node.iter().chain(&run.admin_node) {
        run.handle.kill(node.id());
    }
    run.handle.kill(run.wire.id());
    Simulated {
        recorder: run.recorder,
        liveness_failures: run.liveness_failures,
        undrained,
        held,
        faults_fired,
        messages,
        send_latencies: run.workload.send_latencies.take(),
    }
}

impl Run<'_> {
    /// Records a liveness failure.
    fn fail(&mut self, cause: LivenessCause) {
        self.liveness_failures.push(Anomaly::no_progress(cause));
    }
}
