//! The broker process: loads its logs, serves requests, runs background work, keeps its
//! registration in the metastore alive (re-registering after session expiry, as a Kafka
//! broker does) and hosts the controller candidate on the same session.

use super::background::{self, read_high_watermark_checkpoint};
use super::fetcher::Fetchers;
use super::log::PartitionLog;
use super::partition::Partition;
use super::pipeline::RequestPipeline;
use super::shutdown::{self, StopSwitch};
use super::{handlers, BrokerConfig, MetadataCache, ReplicaState, Shared, SharedBroker};
use crate::controller::{self, ControllerCommand, ControllerContext};
use crate::history::{Event, Tracer};
use crate::metastore::MetaClient;
use crate::protocol::kraft::{ControllerRequest, ControllerResponse};
use crate::protocol::{BrokerEndpoint, ErrorCode, Request, Response, TopicPartition};
use crate::sim::disk::Disk;
use crate::sim::machine::Machine;
use crate::sim::net::{NodeNet, ServerConn};
use madsim::time::sleep;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};

/// Everything a broker process is started with.
#[derive(Clone)]
pub struct BrokerContext {
    /// Settings.
    pub config: BrokerConfig,
    /// The node's network handle.
    pub net: NodeNet<Request, Response>,
    /// The node's disk.
    pub disk: Disk,
    /// The node's machine: its speed (the request pipeline's costs) and slowdowns.
    pub machine: Machine,
    /// The node's tracer.
    pub tracer: Tracer,
    /// Where a clean stop is requested (the nemesis' `stop` fault).
    pub stop: StopSwitch,
}

/// The broker process's main: never returns while the process lives.
pub async fn run_broker(ctx: BrokerContext) {
    let stop = ctx.stop.clone();
    let shared = start(ctx);
    let (commands_tx, mut commands_rx) = mpsc::unbounded_channel();
    let listener_shared = shared.clone();
    crate::sim::tasks::spawn(async move { serve(listener_shared, commands_tx).await });
    crate::sim::tasks::spawn(background::run_isr_expiry(shared.clone()));
    crate::sim::tasks::spawn(super::coordinator::service::run_expiry(shared.clone()));
    if shared.config.topic(super::txn::TRANSACTION_TOPIC).is_some() {
        // Only in clusters with transactions: a timer task changes every run's schedule.
        crate::sim::tasks::spawn(super::txn::coordinator::run_timers(shared.clone()));
    }
    crate::sim::tasks::spawn(background::run_high_watermark_checkpoint(shared.clone()));
    if shared.config.uses_retention() {
        let interval_ms = shared.config.log_retention_check_interval_ms;
        crate::sim::tasks::spawn(super::retention::run_retention_check(shared.clone(), interval_ms));
    }
    if let Some(flush_ms) = shared.config.flush_ms {
        crate::sim::tasks::spawn(background::run_periodic_flush(shared.clone(), flush_ms));
    }
    // The clean shutdown runs beside the registration loop in this task (a task of its
    // own would change every run's schedule): the loop returns only once the shutdown
    // asked it to close the metastore session.
    let (close_session, closing) = watch::channel(false);
    {
        let shutdown = shutdown::run(shared.clone(), stop.clone(), close_session);
        // A KRaft broker hosts no controller: its lifecycle with the active controller
        // replaces the metastore registration and the controller candidate.
        let registered: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> = match shared.config.kraft.clone() {
            Some(kraft) => {
                crate::sim::tasks::spawn(super::kraft::run_metadata_observer(shared.clone(), kraft.clone()));
                let lifecycle = super::kraft::run_lifecycle(shared.clone(), kraft, closing);
                Box::pin(refusing_commands(&mut commands_rx, lifecycle))
            }
            None => Box::pin(keep_registered(&shared, &mut commands_rx, closing)),
        };
        tokio::pin!(shutdown, registered);
        let mut shutdown_done = false;
        loop {
            tokio::select! {
                biased;
                _ = &mut registered => break,
                _ = &mut shutdown, if !shutdown_done => shutdown_done = true,
            }
        }
    }
    // The session is closed: the process may be killed now.
    stop.mark_exited();
    refusing_commands(&mut commands_rx, std::future::pending::<()>()).await;
}

/// Loads every partition log from disk and traces what was found.
pub(super) fn start(ctx: BrokerContext) -> SharedBroker {
    let me = ctx.config.id;
    ctx.tracer.emit(Event::BrokerStarted { broker: me.0 });
    let checkpoint = read_high_watermark_checkpoint(&ctx.disk);
    // Every partition directory with a segment file (a log has one file per segment),
    // in path order as listed.
    let mut tps: Vec<TopicPartition> = Vec::new();
    for path in ctx.disk.list("") {
        let Some((dir, file)) = path.split_once('/') else { continue };
        let Some(tp) = TopicPartition::parse(dir).filter(|_| file.ends_with(".log")) else { continue };
        if tps.last() != Some(&tp) {
            tps.push(tp);
        }
    }
    let mut partitions = super::hosted::HostedPartitions::default();
    for tp in tps {
        let segment_bytes = ctx.config.retention_for(&tp.topic).segment_bytes;
        let log = PartitionLog::load_with_segment_bytes(tp.clone(), ctx.disk.clone(), segment_bytes);
        let rule = ctx.config.high_watermark_rule(&tp.topic);
        let name = ctx.tracer.recorder().partition_key(&tp, log.topic_id());
        let partition = Partition::new(log, checkpoint.get(&tp).copied().unwrap_or(0), rule).named(name);
        ctx.tracer.emit(Event::LogLoaded {
            tp: partition.name().clone(),
            broker: me.0,
            records: partition.log().all_records(),
            high_watermark: partition.high_watermark(),
        });
        partitions.get_or_insert_with(&tp, || partition);
    }
    let next_producer_id = handlers::load_producer_id_counter(me, &ctx.disk);
    let pipeline = RequestPipeline::new(me.0, ctx.config.pipeline, ctx.machine, ctx.tracer.clone());
    Arc::new(Shared {
        pipeline,
        state: Mutex::new(ReplicaState {
            id: me,
            partitions,
            metadata: MetadataCache::default(),
            followers: Default::default(),
        }),
        config: ctx.config,
        net: ctx.net,
        disk: ctx.disk,
        tracer: ctx.tracer,
        fetchers: Fetchers::default(),
        next_producer_id: Mutex::new(next_producer_id),
        coordinator: super::coordinator::Coordinator::default(),
        txn_coordinator: super::txn::Coordinator::default(),
        kraft: Mutex::new(super::kraft::KraftView::default()),
        auto_create_in_flight: Mutex::default(),
    })
}

/// Accepts connections; each is served by its own task, one request at a time in
/// order (Kafka mutes a connection until its request is answered), through the request
/// pipeline's network thread, queue and handlers.
async fn serve(shared: SharedBroker, controller: mpsc::UnboundedSender<ControllerCommand>) {
    super::kraft::until_running(&shared).await;
    let mut listener = shared.net.listen();
    while let Some(conn) = listener.accept().await {
        let shared = shared.clone();
        let controller = controller.clone();
        crate::sim::tasks::spawn(async move { serve_connection(shared, controller, conn).await });
    }
}

async fn serve_connection(
    shared: SharedBroker,
    controller: mpsc::UnboundedSender<ControllerCommand>,
    mut conn: ServerConn<Request, Response>,
) {
    let processor = shared.pipeline.accept();
    while let Some(incoming) = conn.recv().await {
        let (request, responder) = incoming.into_parts();
        shared
            .pipeline
            .serve_locally(processor, &request, || super::produce::reaches_flush_messages(&shared, &request))
            .await;
        let response = handle(&shared, &controller, request).await;
        shared.pipeline.send_response(processor, &response).await;
        let produce_failed = matches!(&response, Response::Produce(parts) if parts.iter().any(|p| p.error.is_some()));
        if !responder.expects_response() && produce_failed {
            // An acks=0 produce has no answer to carry its error, so the broker closes
            // the connection and the producer, finding it closed, refreshes its metadata
            // (`KafkaApis.handleProduceRequest`, "Closing connection due to error during
            // produce request ... with ack=0").
            responder.close_connection();
            return;
        }
        responder.reply(response);
    }
}

async fn handle(
    shared: &SharedBroker,
    controller: &mpsc::UnboundedSender<ControllerCommand>,
    request: Request,
) -> Response {
    match request {
        Request::Metadata { topics, allow_auto_topic_creation } => {
            handlers::metadata(shared, &topics, allow_auto_topic_creation)
        }
        Request::Produce(produce) => Response::Produce(super::produce::produce(shared, produce).await),
        Request::Fetch(fetch) => Response::Fetch(handlers::fetch(shared, fetch).await),
        Request::ListOffsets(list) => handlers::list_offsets(shared, &list),
        Request::OffsetForLeaderEpoch(partitions) => handlers::offset_for_leader_epoch(shared, &partitions),
        Request::LeaderAndIsr(request) => handlers::leader_and_isr(shared, request),
        Request::UpdateMetadata { controller_epoch, live_brokers, partitions, deleting } => {
            handlers::update_metadata(shared, controller_epoch, &live_brokers, partitions, &deleting)
        }
        Request::StopReplica { controller_epoch, partitions } => {
            handlers::stop_replica(shared, controller_epoch, &partitions)
        }
        Request::AlterIsr(request) => {
            let (reply, answer) = oneshot::channel();
            if controller.send(ControllerCommand::AlterIsr(request, reply)).is_err() {
                return Response::AlterIsr { error: Some(ErrorCode::NotController), state: None };
            }
            answer.await.unwrap_or(Response::AlterIsr { error: Some(ErrorCode::NotController), state: None })
        }
        Request::InitProducerId => handlers::init_producer_id(shared),
        Request::ControlledShutdown { broker_id } => {
            let refused = Response::ControlledShutdown { error: Some(ErrorCode::NotController), remaining: Vec::new() };
            let (reply, answer) = oneshot::channel();
            if controller.send(ControllerCommand::ControlledShutdown(broker_id, reply)).is_err() {
                return refused;
            }
            answer.await.unwrap_or(refused)
        }
        Request::Group(request) => Response::Group(super::coordinator::service::handle(shared, request).await),
        Request::Txn(request) => Response::Txn(super::txn::coordinator::handle(shared, request).await),
        Request::WriteTxnMarkers(entries) => {
            Response::WriteTxnMarkers(super::txn::write_txn_markers(shared, entries).await)
        }
        // ZooKeeper mode: CreateTopics and CreatePartitions go to the controller's broker
        // (KafkaApis refuses them with NOT_CONTROLLER elsewhere). A KRaft broker takes no
        // controller requests: its administrators talk to the controllers.
        Request::Controller(ControllerRequest::TopicAdmin(request)) if shared.config.kraft.is_none() => {
            let (reply, answer) = oneshot::channel();
            let result = if controller.send(ControllerCommand::TopicAdmin(request, reply)).is_err() {
                Err(ErrorCode::NotController)
            } else {
                answer.await.unwrap_or(Err(ErrorCode::NotController))
            };
            Response::Controller(ControllerResponse::TopicAdmin(result))
        }
        Request::Meta(_) | Request::Controller(_) => Response::Error(ErrorCode::UnsupportedRequest),
    }
}

/// Registers the broker in the metastore and runs the controller candidate; when the
/// session expires, starts over with a new session. Returns once `closing` turns true
/// (a clean shutdown), after closing the session it holds.
async fn keep_registered(
    shared: &SharedBroker,
    commands: &mut mpsc::UnboundedReceiver<ControllerCommand>,
    closing: watch::Receiver<bool>,
) {
    let me = shared.id();
    let endpoint = BrokerEndpoint { id: me, host: BrokerConfig::host_of(me) };
    let registration = serde_json::to_string(&endpoint).expect("endpoint serializes");
    let controller_ctx = ControllerContext {
        id: me,
        net: shared.net.clone(),
        tracer: shared.tracer.clone(),
        topics: shared.config.topics.clone(),
        topic_watches: shared.config.topic_watches,
        topic_defaults: shared.config.topic_defaults.clone(),
        request_timeout_ms: shared.config.inter_broker_timeout_ms,
        plant: shared.config.plant,
        auto_rebalance: shared.config.auto_rebalance,
        delete_topic_enable: shared.config.delete_topic_enable,
    };
    loop {
        let connect =
            MetaClient::connect(shared.net.clone(), shared.config.metastore.clone(), shared.config.session_timeout_ms);
        let meta = match refusing_commands(commands, until_closing(&closing, connect)).await {
            None => return,
            Some(Ok(meta)) => meta,
            Some(Err(_)) => {
                if refusing_commands(commands, until_closing(&closing, sleep(Duration::from_millis(200))))
                    .await
                    .is_none()
                {
                    return;
                }
                continue;
            }
        };
        let registered = refusing_commands(
            commands,
            until_closing(&closing, register(&meta, &controller::broker_path(me), &registration)),
        )
        .await;
        let closed = match registered {
            None => true,
            Some(false) => false,
            Some(true) => {
                shared.lock().metadata.zk_broker_epoch = Some(meta.session_id());
                let candidate = controller::run_candidate(&controller_ctx, &meta, commands);
                until_closing(&closing, candidate).await.is_none()
            }
        };
        if closed {
            // `KafkaServer.shutdown` closes the ZooKeeper client: the session and its
            // ephemeral registration end now.
            let _ = refusing_commands(commands, meta.close()).await;
            return;
        }
    }
}

/// Runs `work` unless `closing` turns true first (`None` then).
async fn until_closing<T>(closing: &watch::Receiver<bool>, work: impl std::future::Future<Output = T>) -> Option<T> {
    let mut closing = closing.clone();
    tokio::select! {
        biased;
        Ok(_) = closing.wait_for(|c| *c) => None,
        out = work => Some(out),
    }
}

/// Runs `work` while answering every controller command with NOT_CONTROLLER: a broker
/// that is not running for controller (it is connecting or registering) must not leave
/// a leader's AlterIsr unanswered until the inter-broker timeout (found by the swarm
/// scenario, seed 630: a restarted old controller held a leader's ISR change).
async fn refusing_commands<T>(
    commands: &mut mpsc::UnboundedReceiver<ControllerCommand>,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return out,
            command = commands.recv() => match command {
                Some(command) => command.refuse(),
                None => return work.await,
            },
        }
    }
}

/// Creates the broker's ephemeral registration. The previous process's registration may
/// linger until its session expires: wait for it, on the same session (a Kafka broker
/// does the same). A node this session owns is the registration itself, created by an
/// attempt whose answer was lost (`KafkaZkClient.checkedEphemeralCreate`); without that
/// check such a broker waited forever and never registered (swarm seed 5805). Returns
/// false if the session is lost first.
async fn register(meta: &MetaClient, path: &str, registration: &str) -> bool {
    use crate::metastore::MetaClientError;
    loop {
        match meta.create(path, registration, true).await {
            Ok(_) => return true,
            Err(MetaClientError::Meta(crate::protocol::MetaError::NodeExists)) => {
                if let Ok(Some(node)) = meta.get(path, false).await {
                    if node.ephemeral_owner == Some(meta.session_id()) {
                        return true;
                    }
                }
                sleep(Duration::from_millis(200)).await;
            }
            Err(MetaClientError::Unavailable) => sleep(Duration::from_millis(200)).await,
            Err(_) => return false,
        }
    }
}
