//! The controller, as in Kafka's ZooKeeper mode: every broker runs a candidate; the
//! first to create the ephemeral `/controller` node is the controller. It bumps the
//! controller epoch (`/controller_epoch`), watches the live brokers (`/brokers/ids`),
//! elects partition leaders from the ISR, stores partition state with conditional writes
//! fenced by the controller epoch, and sends LeaderAndIsr / UpdateMetadata to brokers.
//! Leaders change ISRs through it with AlterIsr (KIP-497).

mod channel;
mod deletion;
pub mod election;
mod topics;

pub use topics::{place_new_topic, write_new_topic};

use crate::coverage::ReachedState;
use crate::history::{ElectionReason, Event, Tracer};
use crate::metastore::{MetaClient, MetaClientError};
use crate::protocol::kraft::TopicAdmin;
use crate::protocol::{
    AlterIsrRequest, BrokerEndpoint, BrokerId, ErrorCode, LeaderAndIsrRequest, MetaError, MetaEvent, MetaOp,
    PartitionState, Request, Response, TopicAssignment, TopicId, TopicPartition,
};
use crate::sim::clock;
use crate::sim::net::{Addr, NodeNet};
use channel::BrokerChannel;
use futures_util::future::join_all;
use madsim::time::{sleep, sleep_until, Instant};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const CONTROLLER_PATH: &str = "/controller";
const CONTROLLER_EPOCH_PATH: &str = "/controller_epoch";
const BROKER_IDS_PATH: &str = "/brokers/ids";

/// The metastore path of a partition's state.
pub fn partition_state_path(tp: &TopicPartition) -> String {
    format!("/brokers/topics/{}/partitions/{}/state", tp.topic, tp.partition)
}

/// The metastore path of a broker's registration.
pub fn broker_path(id: BrokerId) -> String {
    format!("{BROKER_IDS_PATH}/{}", id.0)
}

/// A request for the controller that arrived at its broker.
pub enum ControllerCommand {
    /// A leader's ISR change.
    AlterIsr(AlterIsrRequest, oneshot::Sender<Response>),
    /// A broker about to shut down asks for its leaderships to move (controlled shutdown).
    ControlledShutdown(BrokerId, oneshot::Sender<Response>),
    /// An administrator's CreateTopics or CreatePartitions, which only the active
    /// controller's broker answers in ZooKeeper mode (see `topics`).
    TopicAdmin(TopicAdmin, oneshot::Sender<Result<(), ErrorCode>>),
}

impl ControllerCommand {
    /// Answers the command with NOT_CONTROLLER: this broker is not the active controller.
    pub fn refuse(self) {
        match self {
            ControllerCommand::AlterIsr(_, reply) => {
                let _ = reply.send(Response::AlterIsr { error: Some(ErrorCode::NotController), state: None });
            }
            ControllerCommand::ControlledShutdown(_, reply) => {
                let _ = reply.send(Response::ControlledShutdown {
                    error: Some(ErrorCode::NotController),
                    remaining: Vec::new(),
                });
            }
            ControllerCommand::TopicAdmin(_, reply) => {
                let _ = reply.send(Err(ErrorCode::NotController));
            }
        }
    }
}

/// The automatic preferred-leader rebalance (`auto.leader.rebalance.enable`), Kafka's
/// `KafkaController.checkAndTriggerAutoLeaderRebalance`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoRebalance {
    /// `leader.imbalance.check.interval.seconds`, in milliseconds (default 300000).
    pub check_interval_ms: u64,
    /// `leader.imbalance.per.broker.percentage` (default 10).
    pub imbalance_percentage: u32,
}

/// The first imbalance check after a controller takes office, as Kafka's
/// `onControllerFailover` schedules it (`scheduleAutoLeaderRebalanceTask(delay = 5 s)`).
const FIRST_IMBALANCE_CHECK_MS: u64 = 5_000;

/// What the controller component needs from its broker.
#[derive(Clone)]
pub struct ControllerContext {
    /// The hosting broker.
    pub id: BrokerId,
    /// The broker's network handle.
    pub net: NodeNet<Request, Response>,
    /// The broker's trace.
    pub tracer: Tracer,
    /// The topics to create if the metastore has none (the administrator's step).
    pub topics: Vec<TopicAssignment>,
    /// Whether topics may be created or grown while the cluster runs (the scenario has
    /// topic events): the controller then reads and watches `/brokers/topics`. Without
    /// them it skips those reads, which would change nothing but the run's timing.
    pub topic_watches: bool,
    /// The settings of a topic created while the cluster runs (the cluster's defaults).
    pub topic_defaults: TopicAssignment,
    /// Timeout for requests to brokers, in milliseconds.
    pub request_timeout_ms: u64,
    /// The bug planted in this controller, if any (the hosting broker's setting).
    pub plant: Option<crate::plant::PlantedBug>,
    /// The automatic leader rebalance, if enabled.
    pub auto_rebalance: Option<AutoRebalance>,
    /// `delete.topic.enable`: whether DeleteTopics may delete (default true).
    pub delete_topic_enable: bool,
}

/// Runs the controller candidate for one metastore session: contends for `/controller`,
/// acts as controller while elected, and returns when the session expires.
pub async fn run_candidate(
    ctx: &ControllerContext,
    meta: &MetaClient,
    commands: &mut mpsc::UnboundedReceiver<ControllerCommand>,
) {
    let mut expired = meta.expired();
    let Some(mut events) = meta.take_events() else {
        return;
    };
    loop {
        if *expired.borrow() {
            return;
        }
        let holds_office = match meta.create(CONTROLLER_PATH, &ctx.id.0.to_string(), true).await {
            Ok(_) => true,
            // After a resignation the node may still be ours (same session): keep it.
            Err(MetaClientError::Meta(MetaError::NodeExists)) => match meta.get(CONTROLLER_PATH, true).await {
                Ok(Some(node)) if node.ephemeral_owner == Some(meta.session_id()) => true,
                Ok(Some(_)) => {
                    wait_for_vacancy(&mut events, commands, &mut expired).await;
                    false
                }
                Ok(None) => false,
                Err(_) => {
                    sleep(Duration::from_millis(100)).await;
                    false
                }
            },
            Err(_) => {
                sleep(Duration::from_millis(100)).await;
                false
            }
        };
        if holds_office {
            if let Some(mut active) = ActiveController::take_office(ctx, meta).await {
                active.serve(&mut events, commands, &mut expired).await;
            } else {
                sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Waits (answering NOT_CONTROLLER) until the watched `/controller` node changes or
/// the session expires.
async fn wait_for_vacancy(
    events: &mut mpsc::UnboundedReceiver<MetaEvent>,
    commands: &mut mpsc::UnboundedReceiver<ControllerCommand>,
    expired: &mut tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
        biased;
            event = events.recv() => match event {
                Some(MetaEvent::Deleted(path)) | Some(MetaEvent::DataChanged(path)) if path == CONTROLLER_PATH => return,
                None => return,
                _ => {}
            },
            command = commands.recv() => match command {
                Some(command) => command.refuse(),
                None => return,
            },
            _ = expired.changed() => return,
        }
    }
}

/// The controller while in office.
struct ActiveController<'a> {
    ctx: &'a ControllerContext,
    meta: &'a MetaClient,
    epoch: u64,
    /// The version of `/controller_epoch` this controller wrote: every write checks it.
    epoch_version: u64,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    live: BTreeMap<BrokerId, BrokerEndpoint>,
    /// Each live broker's registration session: a new one means the broker restarted
    /// (KIP-380's broker epoch), even if the controller never saw it gone.
    broker_epochs: BTreeMap<BrokerId, u64>,
    channels: BTreeMap<BrokerId, BrokerChannel>,
    /// Set when a broker or the metastore said a newer controller exists.
    fenced: Arc<AtomicBool>,
    /// Brokers shutting down under control (Kafka's `shuttingDownBrokerIds`): no
    /// election picks them; they leave the set when their registration goes.
    shutting_down: BTreeSet<BrokerId>,
    /// When the next leader imbalance check is due, if the rebalance is enabled.
    next_imbalance_check: Option<Instant>,
    /// Every topic the controller knows with its replica assignment: the scenario's, as
    /// grown by administrators, and those created since (Kafka's
    /// `ControllerContext.partitionAssignments`).
    topics: Vec<TopicAssignment>,
    /// The ids of the topics created while the cluster runs, as their nodes hold them
    /// (see [`topics::initial_topic_id`] for the scenario's own).
    topic_ids: BTreeMap<String, crate::protocol::TopicId>,
    /// The topics queued for deletion, by name (`TopicDeletionManager`); their
    /// partitions are not in `partitions`.
    deleting: BTreeMap<String, deletion::TopicDeletion>,
    /// Where the broker channels report the StopReplica requests brokers accepted...
    replicas_deleted: mpsc::UnboundedSender<deletion::ReplicasDeleted>,
    /// ...and where `serve` reads them (taken when it starts).
    replicas_deleted_rx: Option<mpsc::UnboundedReceiver<deletion::ReplicasDeleted>>,
}

/// How a stored partition state is traced.
#[derive(Clone, Copy, Debug)]
enum StateChange {
    /// A new leader (or none): `leader-election`.
    Election {
        /// Elected from outside the ISR.
        unclean: bool,
        /// What caused it.
        reason: ElectionReason,
    },
    /// The same leader, another ISR: `isr-change`.
    Isr,
}

/// Why the controller stops serving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resign {
    Fenced,
    Unavailable,
}

impl<'a> ActiveController<'a> {
    /// Bumps the controller epoch and loads the cluster state. `None` if that failed.
    async fn take_office(ctx: &'a ControllerContext, meta: &'a MetaClient) -> Option<ActiveController<'a>> {
        let (epoch, epoch_version) = bump_controller_epoch(meta).await?;
        ctx.tracer.emit(Event::ControllerElected { broker: ctx.id.0, controller_epoch: epoch });
        if epoch > 1 {
            // An earlier controller held office (the epoch node outlives them).
            ctx.tracer.reached(ReachedState::ControllerFailover);
        }
        let (replicas_deleted, replicas_deleted_rx) = mpsc::unbounded_channel();
        let mut active = ActiveController {
            ctx,
            meta,
            epoch,
            epoch_version,
            partitions: BTreeMap::new(),
            live: BTreeMap::new(),
            broker_epochs: BTreeMap::new(),
            channels: BTreeMap::new(),
            fenced: Arc::new(AtomicBool::new(false)),
            shutting_down: BTreeSet::new(),
            next_imbalance_check: ctx
                .auto_rebalance
                .map(|_| clock::now() + Duration::from_millis(FIRST_IMBALANCE_CHECK_MS)),
            topics: ctx.topics.clone(),
            topic_ids: BTreeMap::new(),
            deleting: BTreeMap::new(),
            replicas_deleted,
            replicas_deleted_rx: Some(replicas_deleted_rx),
        };
        active.refresh_live_brokers().await.ok()?;
        if ctx.topic_watches {
            active.read_topics().await.ok()?;
            active.read_deletions().await.ok()?;
        }
        active.load_partitions().await.ok()?;
        let live: BTreeSet<BrokerId> = active.live.keys().copied().collect();
        active.reevaluate_all(ElectionReason::ControllerFailover, &live).await.ok()?;
        let everyone: Vec<BrokerId> = active.live.keys().copied().collect();
        active.send_leader_and_isr(&everyone, None);
        active.send_update_metadata(None);
        active.resume_deletions().await.ok()?;
        Some(active)
    }

    async fn serve(
        &mut self,
        events: &mut mpsc::UnboundedReceiver<MetaEvent>,
        commands: &mut mpsc::UnboundedReceiver<ControllerCommand>,
        expired: &mut tokio::sync::watch::Receiver<bool>,
    ) {
        let Some(mut replicas_deleted) = self.replicas_deleted_rx.take() else {
            return;
        };
        loop {
            if self.fenced.load(Ordering::Relaxed) || *expired.borrow() {
                return;
            }
            let outcome = tokio::select! {
            biased;
                    event = events.recv() => match event {
                        Some(MetaEvent::ChildrenChanged(path)) if path == BROKER_IDS_PATH => self.on_brokers_changed().await,
                        Some(MetaEvent::ChildrenChanged(path)) if path == topics::TOPICS_PATH => self.on_topics_changed().await,
                        Some(MetaEvent::DataChanged(path)) if topics::topic_of_path(&path).is_some() => self.on_topics_changed().await,
                        Some(MetaEvent::ChildrenChanged(path)) if path == deletion::DELETE_TOPICS_PATH => self.on_deletions_changed().await,
                        Some(MetaEvent::Deleted(path)) if path == CONTROLLER_PATH => Err(Resign::Fenced),
                        None => Err(Resign::Unavailable),
                        _ => Ok(()),
                    },
                    command = commands.recv() => match command {
                        Some(ControllerCommand::AlterIsr(request, reply)) => {
                            let response = self.alter_isr(request).await;
                            let _ = reply.send(response);
                            Ok(())
                        }
                        Some(ControllerCommand::ControlledShutdown(broker, reply)) => {
                            let outcome = self.controlled_shutdown(broker).await;
                            let response = match &outcome {
                                Ok(Ok(remaining)) => Response::ControlledShutdown { error: None, remaining: remaining.clone() },
                                Ok(Err(error)) => Response::ControlledShutdown { error: Some(*error), remaining: Vec::new() },
                                Err(_) => Response::ControlledShutdown { error: Some(ErrorCode::NotController), remaining: Vec::new() },
                            };
                            let _ = reply.send(response);
                            outcome.map(|_| ())
                        }
                        Some(ControllerCommand::TopicAdmin(request, reply)) => {
                            let outcome = self.topic_admin(&request).await;
                            let _ = reply.send(outcome.as_ref().map_or(Err(ErrorCode::NotController), |r| *r));
                            outcome.map(|_| ())
                        }
                        None => Err(Resign::Unavailable),
                    },
                    Some(deleted) = replicas_deleted.recv() => self.on_replicas_deleted(deleted).await,
                    _ = expired.changed() => Err(Resign::Unavailable),
                    _ = sleep_until_due(self.next_imbalance_check) => self.check_leader_imbalance().await,
                    // Re-check fencing from broker channels now and then.
                    _ = sleep(Duration::from_millis(500)) => Ok(()),
                };
            if outcome.is_err() {
                tracing::debug!(controller = %self.ctx.id, epoch = self.epoch, "controller resigns");
                return;
            }
        }
    }

    /// [`ActiveController::load_partitions`], returning the partitions it started.
    async fn load_new_partitions(&mut self) -> Result<BTreeSet<TopicPartition>, Resign> {
        let known_before: BTreeSet<TopicPartition> = self.partitions.keys().cloned().collect();
        self.load_partitions().await?;
        Ok(self.partitions.keys().filter(|tp| !known_before.contains(*tp)).cloned().collect())
    }

    /// Reads every partition state. A topic absent from the metastore is created once all
    /// its replicas are registered, as an administrator creates topics on a running
    /// cluster, so that its first ISR holds every replica.
    ///
    /// The reads go out together, then the creations, as Kafka's controller pipelines
    /// them (`KafkaZkClient.getTopicPartitionStates` when it takes office,
    /// `createTopicPartitionStatesRaw` from `ZkPartitionStateMachine.initializeLeaderAndIsrForPartitions`):
    /// a topic of 2,000 partitions is created in two round trips, not 4,000.
    async fn load_partitions(&mut self) -> Result<(), Resign> {
        let mut unknown: Vec<(TopicPartition, Vec<BrokerId>, TopicId)> = Vec::new();
        for topic in self.topics.iter().filter(|t| !self.deleting.contains_key(&t.name)) {
            let topic_id = self.topic_id(&topic.name);
            // One name shared by the topic's partitions: every request and map that
            // holds them then compares their topics by address (`TopicPartition`'s
            // `Ord`), not by text, in the brokers' per-partition lookups.
            let name: Arc<str> = topic.name.as_str().into();
            for (partition, replicas) in topic.replicas.iter().enumerate() {
                let tp = TopicPartition::new(Arc::clone(&name), partition as u32);
                if !self.partitions.contains_key(&tp) {
                    unknown.push((tp, replicas.clone(), topic_id));
                }
            }
        }
        let paths: Vec<String> = unknown.iter().map(|(tp, _, _)| partition_state_path(tp)).collect();
        let reads = join_all(paths.iter().map(|path| self.meta.get(path, false))).await;
        let mut to_create = Vec::new();
        for ((tp, replicas, topic_id), read) in unknown.into_iter().zip(reads) {
            match read.map_err(|_| Resign::Unavailable)? {
                Some(node) => {
                    let mut state: PartitionState =
                        serde_json::from_str(&node.data).map_err(|_| Resign::Unavailable)?;
                    state.partition_epoch = node.version;
                    state.topic_id = topic_id;
                    // Trace the state as found: a write of the previous controller whose
                    // answer was lost may have landed unseen, and the trace (which the
                    // liveness phase and the nemesis read) must show the true ISR (found
                    // by the swarm scenario, seed 361).
                    self.trace_isr(&state);
                    self.partitions.insert(tp, state);
                }
                None if !replicas.iter().all(|r| self.live.contains_key(r)) => {}
                // Kafka's `initializeLeaderAndIsrForPartitions` (and KRaft's
                // `PartitionRegistration`): the first live replica leads in leader
                // epoch 0 (`LeaderAndIsr.InitialLeaderEpoch`), every live replica
                // in the ISR, partition epoch 0.
                None => to_create.push(PartitionState {
                    tp,
                    leader: replicas.first().copied(),
                    leader_epoch: 0,
                    isr: replicas.clone(),
                    replicas,
                    partition_epoch: 0,
                    topic_id,
                }),
            }
        }
        let nodes: Vec<(String, String)> = to_create
            .iter()
            .map(|state| {
                let data = serde_json::to_string(state).expect("partition state serializes");
                (partition_state_path(&state.tp), data)
            })
            .collect();
        let creations = join_all(nodes.iter().map(|(path, data)| self.meta.create(path, data, false))).await;
        let mut outcome = Ok(());
        for (state, created) in to_create.into_iter().zip(creations) {
            let Ok(version) = created else {
                // What did land is read back by the next controller.
                outcome = Err(Resign::Unavailable);
                continue;
            };
            let state = PartitionState { partition_epoch: version, ..state };
            // A partition an administrator created (not one of the scenario's
            // topics at its own count) is traced as KRaft's controller traces
            // it: the runner learns its replicas from it.
            let key = self.partition_key(&state);
            if !crate::history::incarnations::is_first_incarnation(&key)
                || !TopicAssignment::hold_partition(&self.ctx.topics, &state.tp.topic, state.tp.partition)
            {
                self.ctx
                    .tracer
                    .emit(Event::PartitionCreated { tp: key, replicas: state.replicas.iter().map(|b| b.0).collect() });
            }
            self.trace_election(&state, false, ElectionReason::TopicCreation);
            self.partitions.insert(state.tp.clone(), state);
        }
        outcome
    }

    /// Reads the live brokers and leaves a watch for changes. Returns the brokers that
    /// died and those that (re)started; a broker that restarted between two reads is in
    /// both.
    async fn refresh_live_brokers(&mut self) -> Result<(BTreeSet<BrokerId>, BTreeSet<BrokerId>), Resign> {
        let names = self.meta.children(BROKER_IDS_PATH, true).await.map_err(|_| Resign::Unavailable)?;
        let mut live = BTreeMap::new();
        let mut epochs = BTreeMap::new();
        for name in names {
            let Ok(id) = name.parse::<u32>() else {
                continue;
            };
            let id = BrokerId(id);
            // A failed read (a lost answer) says nothing about the broker: give up the
            // refresh rather than declare it dead. Taking it for dead made a controller
            // under packet loss remove itself from every ISR and leave its partitions
            // without a leader for good (found by the swarm scenario, seed 2).
            let read = self.meta.get(&broker_path(id), false).await.map_err(|_| Resign::Unavailable)?;
            if let Some(node) = read {
                if let Ok(endpoint) = serde_json::from_str::<BrokerEndpoint>(&node.data) {
                    live.insert(id, endpoint);
                    epochs.insert(id, node.ephemeral_owner.unwrap_or(0));
                }
            }
        }
        let before: BTreeSet<BrokerId> = self.live.keys().copied().collect();
        let after: BTreeSet<BrokerId> = live.keys().copied().collect();
        let bounced: BTreeSet<BrokerId> =
            after.intersection(&before).filter(|b| self.broker_epochs.get(b) != epochs.get(b)).copied().collect();
        let dead = before.difference(&after).chain(&bounced).copied().collect();
        let new = after.difference(&before).chain(&bounced).copied().collect();
        self.live = live;
        self.broker_epochs = epochs;
        self.sync_channels();
        Ok((dead, new))
    }

    /// Keeps one channel per live broker.
    fn sync_channels(&mut self) {
        self.channels.retain(|id, _| self.live.contains_key(id));
        for (id, endpoint) in &self.live {
            self.channels.entry(*id).or_insert_with(|| {
                BrokerChannel::start(
                    self.ctx.net.clone(),
                    Addr::new(&endpoint.host),
                    Duration::from_millis(self.ctx.request_timeout_ms),
                    self.fenced.clone(),
                )
            });
        }
    }

    async fn on_brokers_changed(&mut self) -> Result<(), Resign> {
        let (dead, new) = self.refresh_live_brokers().await?;
        tracing::debug!(controller = %self.ctx.id, ?dead, ?new, "live brokers changed");
        if dead.is_empty() && new.is_empty() {
            return Ok(());
        }
        // Kafka's `onBrokerFailure`: a dead broker is no longer shutting down, and its
        // replicas of topics being deleted wait for it.
        self.shutting_down.retain(|b| !dead.contains(b));
        self.fail_replica_deletions(&dead);
        let created = self.load_new_partitions().await?;
        // A broker that restarted unseen first counts as failed (its leaderships and ISR
        // places go), then as started, as Kafka's controller treats bounced brokers.
        let bounced: BTreeSet<BrokerId> = dead.intersection(&new).copied().collect();
        let mut changed = BTreeSet::new();
        if !bounced.is_empty() {
            let without_bounced: BTreeSet<BrokerId> =
                self.electable().into_iter().filter(|b| !bounced.contains(b)).collect();
            changed.extend(self.reevaluate_all(ElectionReason::BrokerFailure, &without_bounced).await?);
        }
        let reason = if dead.is_empty() { ElectionReason::BrokerStartup } else { ElectionReason::BrokerFailure };
        let live = self.electable();
        changed.extend(self.reevaluate_all(reason, &live).await?);
        changed.extend(created);
        // Returning brokers learn every partition they host; others learn what changed.
        let new: Vec<BrokerId> = new.into_iter().collect();
        self.send_leader_and_isr(&new, None);
        let others: Vec<BrokerId> = self.live.keys().filter(|b| !new.contains(b)).copied().collect();
        self.send_leader_and_isr(&others, Some(&changed));
        self.send_update_metadata_to(&new, None);
        self.send_update_metadata_to(&others, Some(&changed));
        // `onBrokerStartup`: the deletions waiting for a returning broker go on.
        self.resume_deletions().await
    }

    /// Re-elects leaders and prunes ISRs for every partition against `live`; returns
    /// the partitions that changed.
    async fn reevaluate_all(
        &mut self,
        reason: ElectionReason,
        live: &BTreeSet<BrokerId>,
    ) -> Result<BTreeSet<TopicPartition>, Resign> {
        // Every partition's decision first, then one batch of writes (Kafka's
        // `ZkPartitionStateMachine.doElectLeaderForPartitions` elects the partitions of a
        // state change together and stores them with one `updateLeaderAndIsr`).
        let writes: Vec<(StateChange, PartitionState)> = self
            .partitions
            .values()
            .filter_map(|state| {
                let decision = election::reevaluate(state, live, self.unclean_allowed(&state.tp))?;
                let change = match decision.leader_changed {
                    true => StateChange::Election { unclean: decision.unclean, reason },
                    false => StateChange::Isr,
                };
                Some((change, decision.state))
            })
            .collect();
        self.write_and_trace(writes).await
    }

    /// Stores `writes` in one batch ([`ActiveController::write_states`]), traces each
    /// stored state as its change, and returns the partitions stored.
    async fn write_and_trace(
        &mut self,
        writes: Vec<(StateChange, PartitionState)>,
    ) -> Result<BTreeSet<TopicPartition>, Resign> {
        let (stored, outcome) = self.write_states(writes).await;
        for (change, state) in &stored {
            match *change {
                StateChange::Election { unclean, reason } => {
                    self.trace_election(state, unclean, reason);
                    if unclean {
                        self.ctx.tracer.reached(ReachedState::UncleanElection);
                    }
                }
                StateChange::Isr => self.trace_isr(state),
            }
            self.probe_isr_shrunk_to_leader(state);
        }
        outcome?;
        Ok(stored.into_iter().map(|(_, state)| state.tp).collect())
    }

    /// The live brokers an election may pick: those not shutting down (Kafka's
    /// `ControllerContext.isReplicaOnline` without `includeShuttingDownBrokers`).
    fn electable(&self) -> BTreeSet<BrokerId> {
        self.live.keys().filter(|b| !self.shutting_down.contains(b)).copied().collect()
    }

    /// Kafka's `KafkaController.doControlledShutdown`: marks `broker` as shutting down,
    /// moves the leadership of every replicated partition it leads to another live ISR
    /// member, removes it from the ISR of the partitions it follows, tells the replicas,
    /// and returns the partitions it still leads (none when every move succeeded). The
    /// broker epoch check of KIP-380 is not modelled (a restarted broker re-registers
    /// before it can shut down again). Kafka also sends the broker StopReplica for the
    /// partitions it follows; here the broker exits right after the answer, and the
    /// ISR change reaches the leader through LeaderAndIsr.
    async fn controlled_shutdown(
        &mut self,
        broker: BrokerId,
    ) -> Result<Result<Vec<TopicPartition>, ErrorCode>, Resign> {
        if !self.live.contains_key(&broker) {
            return Ok(Err(ErrorCode::BrokerNotAvailable));
        }
        self.shutting_down.insert(broker);
        let live: BTreeSet<BrokerId> = self.live.keys().copied().collect();
        let acting: Vec<TopicPartition> = self
            .partitions
            .values()
            .filter(|s| s.replicas.len() > 1 && s.replicas.contains(&broker))
            .map(|s| s.tp.clone())
            .collect();
        let election = StateChange::Election { unclean: false, reason: ElectionReason::ControlledShutdown };
        let writes: Vec<(StateChange, PartitionState)> = acting
            .iter()
            .filter_map(|tp| {
                let state = &self.partitions[tp];
                if state.leader == Some(broker) {
                    election::controlled_shutdown_leader(state, &live, &self.shutting_down)
                        .map(|decision| (election, decision.state))
                } else if state.leader.is_some() {
                    election::remove_from_isr(state, broker).map(|next| (StateChange::Isr, next))
                } else {
                    None
                }
            })
            .collect();
        let changed = self.write_and_trace(writes).await?;
        if !changed.is_empty() {
            let everyone: Vec<BrokerId> = self.live.keys().copied().collect();
            self.send_leader_and_isr(&everyone, Some(&changed));
            self.send_update_metadata(Some(&changed));
        }
        Ok(Ok(self
            .partitions
            .values()
            .filter(|s| s.leader == Some(broker) && s.replicas.len() > 1)
            .map(|s| s.tp.clone())
            .collect()))
    }

    /// Kafka's `processAutoPreferredReplicaLeaderElection`: elects the preferred replica
    /// of the partitions of every broker whose leader imbalance is above the percentage,
    /// then schedules the next check one interval later.
    async fn check_leader_imbalance(&mut self) -> Result<(), Resign> {
        let Some(rebalance) = self.ctx.auto_rebalance else {
            self.next_imbalance_check = None;
            return Ok(());
        };
        self.next_imbalance_check = Some(clock::now() + Duration::from_millis(rebalance.check_interval_ms));
        let live = self.electable();
        let tps = election::imbalanced_partitions(self.partitions.values(), &live, rebalance.imbalance_percentage);
        let election = StateChange::Election { unclean: false, reason: ElectionReason::PreferredReplica };
        let writes = tps
            .iter()
            .filter_map(|tp| election::preferred_leader(&self.partitions[tp], &live))
            .map(|decision| (election, decision.state))
            .collect();
        let changed = self.write_and_trace(writes).await?;
        if !changed.is_empty() {
            let everyone: Vec<BrokerId> = self.live.keys().copied().collect();
            self.send_leader_and_isr(&everyone, Some(&changed));
            self.send_update_metadata(Some(&changed));
        }
        Ok(())
    }

    fn unclean_allowed(&self, tp: &TopicPartition) -> bool {
        if crate::plant::is_planted(self.ctx.plant, crate::plant::PlantedBug::UncleanElectionIgnoresFlag) {
            // PLANTED BUG unclean-election-ignores-flag: the topic's setting is not read.
            return true;
        }
        self.topics.iter().find(|t| *t.name == *tp.topic).is_some_and(|t| t.unclean_leader_election_enable)
    }

    /// A partition's name in the trace (`topic#k-N` for a re-created topic's).
    fn partition_key(&self, state: &PartitionState) -> Arc<str> {
        self.ctx.tracer.recorder().partition_key(&state.tp, Some(state.topic_id))
    }

    fn trace_election(&self, state: &PartitionState, unclean: bool, reason: ElectionReason) {
        self.ctx.tracer.emit(Event::LeaderElection {
            tp: self.partition_key(state),
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: state.isr.iter().map(|b| b.0).collect(),
            unclean,
            reason,
        });
    }

    /// Probes a stored ISR change: the ISR is the leader alone, though the partition
    /// has other replicas (`min.insync.replicas` = 1 then acknowledges on one copy).
    fn probe_isr_shrunk_to_leader(&self, state: &PartitionState) {
        if state.replicas.len() > 1
            && state.leader.is_some()
            && state.isr == state.leader.into_iter().collect::<Vec<_>>()
        {
            self.ctx.tracer.reached(ReachedState::IsrShrunkToLeader);
        }
    }

    fn trace_isr(&self, state: &PartitionState) {
        self.ctx.tracer.emit(Event::IsrChange {
            tp: self.partition_key(state),
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            partition_epoch: state.partition_epoch,
            isr: state.isr.iter().map(|b| b.0).collect(),
        });
    }

    /// Runs `ops` in one transaction with a check that this controller's epoch is still
    /// current (Kafka's writes conditional on `epochZkVersion`). A failed check means a
    /// newer controller exists: this one is fenced. Returns the versions after `ops`, or
    /// the transaction's other failure.
    async fn write_as_controller(&self, ops: Vec<MetaOp>) -> Result<Result<Vec<u64>, MetaClientError>, Resign> {
        let answer = self.write_fenced(ops).await;
        if answer.is_err() {
            self.ctx.tracer.reached(ReachedState::ZombieControllerFenced);
        }
        answer
    }

    /// [`ActiveController::write_as_controller`] without the probe: a batch of writes
    /// reaches "fenced" once, however many of its writes were refused.
    async fn write_fenced(&self, ops: Vec<MetaOp>) -> Result<Result<Vec<u64>, MetaClientError>, Resign> {
        let check = MetaOp::Check { path: CONTROLLER_EPOCH_PATH.to_string(), version: self.epoch_version };
        match self.meta.multi(std::iter::once(check).chain(ops).collect()).await {
            Ok(mut versions) => {
                versions.remove(0);
                Ok(Ok(versions))
            }
            Err(MetaClientError::MultiFailed { error: MetaError::BadVersion, op_index: 0 }) => {
                // A newer controller bumped the epoch: this one is a zombie, fenced.
                self.fenced.store(true, Ordering::Relaxed);
                Err(Resign::Fenced)
            }
            Err(error) => Ok(Err(error)),
        }
    }

    /// Stores a partition state conditionally on its version and on this controller's
    /// epoch still being current.
    async fn write_state(&mut self, next: PartitionState) -> Result<PartitionState, Resign> {
        let (mut stored, outcome) = self.write_states(vec![((), next)]).await;
        match stored.pop() {
            Some(((), state)) => Ok(state),
            None => Err(outcome.expect_err("a write that stored nothing failed")),
        }
    }

    /// Stores many partition states at once, each conditionally on its version and on
    /// this controller's epoch, as Kafka's `KafkaZkClient.updateLeaderAndIsr` does: one
    /// conditional SetData per partition (wrapped with the controller-epoch check), all
    /// sent together and awaited together (`retryRequestsUntilConnected` pipelines them),
    /// so that a broker failure moving hundreds of leaderships costs one round trip, not
    /// hundreds. Each write carries a `tag` of the caller's (what to trace); returns the
    /// states stored, with their tags, in the order given, and why the controller must
    /// resign if a write failed. A write refused without fencing re-reads the partition
    /// (see [`ActiveController::resolve_failed_write`]) once the batch is answered.
    async fn write_states<T>(
        &mut self,
        writes: Vec<(T, PartitionState)>,
    ) -> (Vec<(T, PartitionState)>, Result<(), Resign>) {
        let cached_versions: Vec<u64> =
            writes.iter().map(|(_, next)| self.partitions.get(&next.tp).map_or(0, |s| s.partition_epoch)).collect();
        let requests = writes.iter().zip(&cached_versions).map(|((_, next), &version)| {
            let data = serde_json::to_string(next).expect("partition state serializes");
            let path = partition_state_path(&next.tp);
            self.write_fenced(vec![MetaOp::SetData { path, data, expected_version: Some(version) }])
        });
        let answers = join_all(requests).await;
        let mut stored = Vec::with_capacity(writes.len());
        let mut outcome = Ok(());
        for (((tag, mut next), answer), cached_version) in writes.into_iter().zip(answers).zip(cached_versions) {
            match answer {
                Ok(Ok(versions)) => {
                    next.partition_epoch = versions.first().copied().unwrap_or(cached_version + 1);
                    self.partitions.insert(next.tp.clone(), next.clone());
                    stored.push((tag, next));
                }
                Ok(Err(_)) if outcome.is_ok() => match self.resolve_failed_write(&next, cached_version).await {
                    Ok(state) => stored.push((tag, state)),
                    Err(resign) => outcome = Err(resign),
                },
                // Resigning already: the next controller reads what landed.
                Ok(Err(_)) => {}
                Err(resign) => outcome = Err(resign),
            }
        }
        if outcome == Err(Resign::Fenced) {
            self.ctx.tracer.reached(ReachedState::ZombieControllerFenced);
        }
        (stored, outcome)
    }

    /// After a partition write failed without fencing: re-reads the stored state, so that
    /// the cached version matches the metastore again. A write whose answer was lost (a
    /// timeout) may still have landed; without this every later conditional write of the
    /// partition fails with BadVersion and its ISR can never change again (found by the
    /// swarm scenario, seed 34: packet loss delayed a metastore answer past its timeout).
    /// Kafka's ZooKeeper-mode controller likewise re-reads the partition state on a
    /// version conflict. Returns the stored state if it is the one `next` asked for.
    async fn resolve_failed_write(
        &mut self,
        next: &PartitionState,
        cached_version: u64,
    ) -> Result<PartitionState, Resign> {
        let path = partition_state_path(&next.tp);
        let Ok(Some(node)) = self.meta.get(&path, false).await else {
            return Err(Resign::Unavailable);
        };
        let Ok(mut stored) = serde_json::from_str::<PartitionState>(&node.data) else {
            return Err(Resign::Unavailable);
        };
        stored.partition_epoch = node.version;
        stored.topic_id = next.topic_id; // Kept in the topic's node, not the state's.
        self.partitions.insert(next.tp.clone(), stored.clone());
        let landed = stored.leader == next.leader
            && stored.leader_epoch == next.leader_epoch
            && stored.isr == next.isr
            && stored.replicas == next.replicas;
        if landed {
            return Ok(stored);
        }
        if stored.partition_epoch != cached_version {
            // An earlier write whose answer was lost had landed: trace it and tell the
            // replicas, so that the leader's next AlterIsr carries the current version.
            self.trace_isr(&stored);
            let only = BTreeSet::from([stored.tp.clone()]);
            self.send_leader_and_isr(&stored.replicas, Some(&only));
        }
        Err(Resign::Unavailable)
    }

    /// Sends LeaderAndIsr to `brokers` for the partitions they host (only `only` if given).
    fn send_leader_and_isr(&self, brokers: &[BrokerId], only: Option<&BTreeSet<TopicPartition>>) {
        for broker in brokers {
            let partitions: Vec<PartitionState> = self
                .partitions
                .values()
                .filter(|s| s.replicas.contains(broker))
                .filter(|s| only.is_none_or(|set| set.contains(&s.tp)))
                .cloned()
                .collect();
            if partitions.is_empty() {
                continue;
            }
            if let Some(channel) = self.channels.get(broker) {
                channel.send(Request::LeaderAndIsr(LeaderAndIsrRequest {
                    controller_id: self.ctx.id,
                    controller_epoch: self.epoch,
                    partitions,
                    live_brokers: self.live.values().cloned().collect(),
                }));
            }
        }
    }

    /// Sends the live brokers and the state of the partitions in `only` (every partition
    /// if `None`) to every live broker: Kafka's `sendUpdateMetadataRequest(brokers,
    /// partitions)` after a state change names the partitions that changed
    /// (`AbstractControllerBrokerRequestBatch.addUpdateMetadataRequestForBrokers`); only a
    /// new controller and a (re)started broker get every partition.
    fn send_update_metadata(&self, only: Option<&BTreeSet<TopicPartition>>) {
        let everyone: Vec<BrokerId> = self.channels.keys().copied().collect();
        self.send_update_metadata_to(&everyone, only);
    }

    /// [`ActiveController::send_update_metadata`] to `brokers` only.
    fn send_update_metadata_to(&self, brokers: &[BrokerId], only: Option<&BTreeSet<TopicPartition>>) {
        let partitions: Vec<PartitionState> = match only {
            None => self.partitions.values().cloned().collect(),
            Some(only) => only.iter().filter_map(|tp| self.partitions.get(tp)).cloned().collect(),
        };
        for channel in brokers.iter().filter_map(|broker| self.channels.get(broker)) {
            channel.send(Request::UpdateMetadata {
                controller_epoch: self.epoch,
                live_brokers: self.live.values().cloned().collect(),
                partitions: partitions.clone(),
                deleting: self.deleting.values().flat_map(|d| d.partitions()).cloned().collect(),
            });
        }
    }

    /// Handles a leader's AlterIsr: the leadership and version must be current, and the
    /// new ISR must hold the leader and only live assigned replicas.
    async fn alter_isr(&mut self, request: AlterIsrRequest) -> Response {
        let refuse = |error| Response::AlterIsr { error: Some(error), state: None };
        // A request from an earlier incarnation of the broker, as one held in a queue
        // through a power loss, is stale (`KafkaController.tryProcessAlterPartition`);
        // without this check a restarted leader kept the ISR it was given while the
        // controller stored its previous process's shrink (swarm seed 6953).
        if self.broker_epochs.get(&request.broker_id) != Some(&request.broker_epoch) {
            return refuse(ErrorCode::StaleBrokerEpoch);
        }
        let Some(current) = self.partitions.get(&request.tp).cloned() else {
            return refuse(ErrorCode::UnknownTopicOrPartition);
        };
        if current.leader != Some(request.broker_id) {
            return refuse(ErrorCode::NotLeaderOrFollower);
        }
        if request.leader_epoch != current.leader_epoch {
            return refuse(ErrorCode::FencedLeaderEpoch);
        }
        // A request for the state the partition already has (a retry whose answer was
        // lost) gets that state back whatever partition epoch it carries, checked before
        // the partition-epoch fencing "to maintain idempotency"
        // (`KafkaController.processAlterPartition`, `LeaderAndIsr.equalsAllowStalePartitionEpoch`;
        // `equalsIgnoreZk` since AlterIsr came in 2.7). Without it a leader whose shrink
        // was stored but not answered retried it forever with its stale partition epoch,
        // refused each time, and never took a follower back (swarm seed 6953).
        // PLANTED BUG (isr-not-restored-after-zombie): the idempotency check is skipped, so
        // the retry of a change a paused (zombie) controller stored without answering is
        // refused with INVALID_UPDATE_VERSION forever.
        let already_stored = request.new_isr == current.isr && request.partition_epoch <= current.partition_epoch;
        if already_stored && request.partition_epoch < current.partition_epoch {
            self.ctx.tracer.reached(ReachedState::AlterIsrAnswerLost);
        }
        let idempotent = !crate::plant::is_planted(self.ctx.plant, crate::plant::PlantedBug::IsrNotRestoredAfterZombie);
        if idempotent && already_stored {
            return Response::AlterIsr { error: None, state: Some(current) };
        }
        if request.partition_epoch != current.partition_epoch {
            return refuse(ErrorCode::InvalidUpdateVersion);
        }
        let valid = request.new_isr.contains(&request.broker_id)
            && request.new_isr.iter().all(|b| current.replicas.contains(b) && self.live.contains_key(b));
        if !valid {
            return refuse(ErrorCode::InvalidUpdateVersion);
        }
        // KIP-841 (Kafka 3.3, `KafkaController.processAlterPartition`): a broker shutting
        // down is not live for the ISR, so a leader cannot take it back in between its
        // controlled shutdown and its exit. (Before 3.3 it could, until the broker's
        // session ended; that window is not modelled.)
        if request.new_isr.iter().any(|b| self.shutting_down.contains(b)) {
            return refuse(ErrorCode::IneligibleReplica);
        }
        let next = PartitionState { isr: request.new_isr.clone(), ..current };
        match self.write_state(next).await {
            Ok(stored) => {
                self.trace_isr(&stored);
                self.probe_isr_shrunk_to_leader(&stored);
                self.send_update_metadata(Some(&BTreeSet::from([stored.tp.clone()])));
                Response::AlterIsr { error: None, state: Some(stored) }
            }
            Err(_) => refuse(ErrorCode::NotController),
        }
    }
}

/// Sleeps until `due`, or forever when there is nothing due.
async fn sleep_until_due(due: Option<Instant>) {
    match due {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Increments `/controller_epoch` (creating it at 1); returns the epoch and the node
/// version that fences this controller's writes.
async fn bump_controller_epoch(meta: &MetaClient) -> Option<(u64, u64)> {
    match meta.get(CONTROLLER_EPOCH_PATH, false).await.ok()? {
        None => {
            let version = meta.create(CONTROLLER_EPOCH_PATH, "1", false).await.ok()?;
            Some((1, version))
        }
        Some(node) => {
            let epoch = node.data.parse::<u64>().ok()? + 1;
            let version = meta.set_data(CONTROLLER_EPOCH_PATH, &epoch.to_string(), Some(node.version)).await.ok()?;
            Some((epoch, version))
        }
    }
}
