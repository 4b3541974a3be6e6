//! The controller, as in Kafka's ZooKeeper mode: every broker runs a candidate; the
//! first to create the ephemeral `/controller` node is the controller. It bumps the
//! controller epoch (`/controller_epoch`), watches the live brokers (`/brokers/ids`),
//! elects partition leaders from the ISR, stores partition state with conditional writes
//! fenced by the controller epoch, and sends LeaderAndIsr / UpdateMetadata to brokers.
//! Leaders change ISRs through it with AlterIsr (KIP-497).

mod brokers;
mod channel;
mod deletion;
pub mod election;
mod leadership;
mod store;
mod topics;

pub use topics::{place_new_topic, write_new_topic};

use crate::coverage::ReachedState;
use crate::history::{ElectionReason, Event, Tracer};
use crate::metastore::{MetaClient, MetaClientError};
use crate::protocol::kraft::TopicAdmin;
use crate::protocol::{
    AlterIsrRequest, BrokerEndpoint, BrokerId, ErrorCode, MetaError, MetaEvent, PartitionState, Request, Response,
    TopicAssignment, TopicPartition,
};
use crate::sim::clock;
use crate::sim::net::NodeNet;
use channel::BrokerChannel;
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
