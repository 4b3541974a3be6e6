//! A dedicated KRaft controller process: one voter of the quorum. It reads its quorum
//! files, runs its [`QuorumNode`] on messages and timers, writes the files durably
//! before anything it decided leaves the node, replays committed records into its
//! metadata image, and while it leads with its own epoch committed, acts as the active
//! controller. It traces the quorum for the Raft checkers (`QuorumLeader`,
//! `QuorumCommitted`, `QuorumTruncate`, `MetadataApplied`) and, as the leader that
//! commits them, the partition changes (`LeaderElection`, `IsrChange`) the rest of
//! kafkasim reads.

use super::active::{ActiveController, Answered, Decision};
use super::transport::{Answer, QuorumTransport};
use super::ControllerSettings;
use crate::broker::StopSwitch;
use crate::coverage::ReachedState;
use crate::history::{ElectionReason, Event, Tracer};
use crate::protocol::kraft::{ControllerRequest, ControllerResponse, LeaderChange, Payload};
use crate::protocol::{ErrorCode, NodeId, Offset, Request, Response, TopicPartition};
use crate::raft::metadata::{MetadataImage, MetadataRecord, PartitionRegistration};
use crate::raft::store::QuorumStore;
use crate::raft::{QuorumConfig, QuorumNode, RoleKind};
use crate::sim::clock;
use crate::sim::disk::Disk;
use crate::sim::net::{Incoming, NodeNet, Responder};
use madsim::rand::{thread_rng, GlobalRng};
use madsim::time::{sleep, sleep_until};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Everything a controller process is started with.
#[derive(Clone)]
pub struct ControllerContext {
    /// Its node id (`node.id`).
    pub id: NodeId,
    /// The quorum's voters (`controller.quorum.voters`).
    pub voters: Vec<NodeId>,
    /// `controller.quorum.*`.
    pub quorum: QuorumConfig,
    /// What the active controller needs.
    pub settings: Arc<ControllerSettings>,
    /// The node's network handle.
    pub net: NodeNet<Request, Response>,
    /// The node's disk.
    pub disk: Disk,
    /// The node's trace.
    pub tracer: Tracer,
    /// Where a clean stop is requested (the nemesis' `stop` fault).
    pub stop: StopSwitch,
}

/// How long a stopping controller lingers after its last messages, so that they leave
/// the node before the process exits (Kafka's leader waits up to its shutdown timeout for
/// the voters to acknowledge its EndQuorumEpoch; here EndQuorumEpoch has no answer).
const SHUTDOWN_LINGER: Duration = Duration::from_millis(100);

/// The longest sleep of the loop when nothing is due (a timer far away).
const IDLE_WAKE_MS: u64 = 60_000;

/// The controller process's main: never returns while the process lives.
pub async fn run_controller(ctx: ControllerContext) {
    let started = clock::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let (store, state, log) = match QuorumStore::open(ctx.disk.clone()) {
        Ok(opened) => opened,
        Err(corrupt) => {
            // Kafka refuses to start on a corrupt quorum-state or log: so does this node.
            tracing::error!(?corrupt, controller = %ctx.id, "cannot read the quorum files");
            return std::future::pending().await;
        }
    };
    let mut rng = thread_rng();
    let node = QuorumNode::start(ctx.id, &ctx.voters, ctx.quorum, state, log, now_ms(), &mut rng);
    let timeout = Duration::from_millis(ctx.quorum.request_timeout_ms);
    let (transport, mut answers) = QuorumTransport::new(ctx.id, ctx.net.clone(), timeout);
    let (requests_tx, mut requests) = mpsc::unbounded_channel();
    crate::sim::tasks::spawn(accept_requests(ctx.net.clone(), requests_tx));
    let mut controller = Controller {
        end_offset: node.log().end_offset(),
        node,
        store,
        transport,
        image: MetadataImage::default(),
        applied: 0,
        traced_leader_epoch: None,
        active: None,
        waiting: Vec::new(),
        reasons: BTreeMap::new(),
        ctx,
    };
    let stop = controller.ctx.stop.clone();
    let stop_requested = stop.requested();
    tokio::pin!(stop_requested);
    loop {
        let now = now_ms();
        let wake_ms = controller.next_deadline_ms().min(now + IDLE_WAKE_MS);
        let step = tokio::select! {
            biased;
            () = &mut stop_requested => break,
            Some(answer) = answers.recv() => Step::Answer(answer),
            Some(incoming) = requests.recv() => Step::Request(incoming),
            _ = sleep_until(started + Duration::from_millis(wake_ms)) => Step::Tick,
        };
        controller.step(step, now_ms(), &mut rng);
    }
    controller.shut_down(now_ms(), &mut rng);
    sleep(SHUTDOWN_LINGER).await;
    stop.mark_exited();
    std::future::pending().await
}

/// Hands every request that reaches the node to the controller's loop.
async fn accept_requests(
    net: NodeNet<Request, Response>,
    requests: mpsc::UnboundedSender<Incoming<Request, Response>>,
) {
    let mut listener = net.listen();
    while let Some(mut conn) = listener.accept().await {
        let requests = requests.clone();
        crate::sim::tasks::spawn(async move {
            while let Some(incoming) = conn.recv().await {
                if requests.send(incoming).is_err() {
                    return;
                }
            }
        });
    }
}

/// What woke the loop.
enum Step {
    Answer(Answer),
    Request(Incoming<Request, Response>),
    Tick,
}

/// A broker's answer held until the log is committed up to `offset`.
struct Waiting {
    offset: Offset,
    responder: Responder<Request, Response>,
    response: ControllerResponse,
}

struct Controller {
    ctx: ControllerContext,
    node: QuorumNode<MetadataRecord>,
    store: QuorumStore,
    transport: QuorumTransport,
    /// The committed records replayed, up to `applied`.
    image: MetadataImage,
    applied: Offset,
    /// The log end after the last step, to see truncations.
    end_offset: Offset,
    /// The last epoch this node traced itself leading.
    traced_leader_epoch: Option<u32>,
    active: Option<ActiveController>,
    waiting: Vec<Waiting>,
    /// Why the active controller wrote the partition changes at these offsets.
    reasons: BTreeMap<Offset, ElectionReason>,
}

impl Controller {
    fn next_deadline_ms(&self) -> u64 {
        let active = self.active.as_ref().map_or(u64::MAX, ActiveController::next_deadline_ms);
        self.node.next_deadline_ms().min(active)
    }

    /// A clean shutdown: the quorum files are already durable; a leader resigns with
    /// EndQuorumEpoch, and the brokers' waiting requests are answered NOT_CONTROLLER so
    /// that they try the next controller.
    fn shut_down(&mut self, now_ms: u64, rng: &mut GlobalRng) {
        let out = self.node.shut_down(now_ms, rng);
        self.persist_and_send(out);
        self.leave_office();
    }

    /// No longer the active controller: what waited is answered NOT_CONTROLLER.
    fn leave_office(&mut self) {
        self.active = None;
        for w in std::mem::take(&mut self.waiting) {
            w.responder.reply(Response::Controller(refusal(&w.response)));
        }
    }

    fn step(&mut self, step: Step, now_ms: u64, rng: &mut GlobalRng) {
        let lost_before = self.node.election_lost();
        let out = match step {
            Step::Answer(answer) => answer.deliver(&mut self.node, &self.transport, now_ms, rng),
            Step::Tick => {
                let led = self.node.role() == RoleKind::Leader;
                let out = self.node.tick(now_ms, rng);
                if led && self.node.role() == RoleKind::Resigned {
                    // Only check-quorum resigns on a tick (a shutdown resigns elsewhere):
                    // a majority of voters stopped fetching (KIP-595 `checkQuorum`).
                    self.ctx.tracer.reached(ReachedState::KraftQuorumLost);
                }
                out
            }
            Step::Request(incoming) => {
                let (request, responder) = incoming.into_parts();
                match request {
                    Request::Controller(ControllerRequest::Quorum { from, message }) => {
                        self.transport.hold(from, responder);
                        self.node.handle(from, message, now_ms, rng)
                    }
                    Request::Controller(request) => {
                        self.serve(request, responder, now_ms, rng);
                        Vec::new()
                    }
                    _ => {
                        responder.reply(Response::Error(ErrorCode::UnsupportedRequest));
                        Vec::new()
                    }
                }
            }
        };
        if !lost_before && self.node.election_lost() {
            // Too few voters reachable to win (or a split vote): the quorum cannot elect.
            self.ctx.tracer.reached(ReachedState::KraftElectionFailed);
        }
        self.persist_and_send(out);
        self.observe(now_ms);
        while let Some(decision) = self.active.as_mut().and_then(|a| a.due(now_ms)) {
            self.append(decision, now_ms);
        }
        self.answer_committed();
    }

    /// Makes the quorum files durable, then sends: a vote or an entry a peer counts on
    /// survives a power loss (Kafka's `quorum-state` write and log flush).
    fn persist_and_send(&mut self, out: Vec<crate::raft::Outbound<MetadataRecord>>) {
        self.store.persist(self.node.election_state(), self.node.log());
        self.transport.send(out);
    }

    /// Appends the active controller's records; returns the log end after them.
    fn append(&mut self, decision: Decision, now_ms: u64) -> Offset {
        let Decision { records, reason } = decision;
        let base = self.node.log().end_offset();
        if records.is_empty() {
            return base;
        }
        let Some((end, out)) = self.node.append(records.clone()) else {
            return base;
        };
        if let Some(reason) = reason {
            self.reasons.extend((base..end).map(|offset| (offset, reason)));
        }
        if let Some(active) = &mut self.active {
            active.speculate(&records);
        }
        self.persist_and_send(out);
        // A lone voter commits at once.
        self.observe(now_ms);
        end
    }

    /// Answers a broker's request, once what it decided is committed; NOT_CONTROLLER
    /// from any controller that is not active.
    fn serve(
        &mut self,
        request: ControllerRequest,
        responder: Responder<Request, Response>,
        now_ms: u64,
        rng: &mut GlobalRng,
    ) {
        let next_offset = self.node.log().end_offset();
        let Some(active) = &mut self.active else {
            responder.reply(Response::Controller(not_controller(&request)));
            return;
        };
        let Answered { decision, response } = active.serve(request, next_offset, now_ms, rng);
        let offset = self.append(decision, now_ms);
        // Even an answer without records waits for what is already written to commit
        // (Kafka's `ControllerWriteEvent` completes at the write offset).
        self.waiting.push(Waiting { offset, responder, response });
    }

    /// Sends the answers whose records are committed.
    fn answer_committed(&mut self) {
        let committed = self.applied;
        let (ready, still): (Vec<Waiting>, Vec<Waiting>) =
            std::mem::take(&mut self.waiting).into_iter().partition(|w| w.offset <= committed);
        self.waiting = still;
        for w in ready {
            w.responder.reply(Response::Controller(w.response));
        }
    }

    /// Traces what the step did to the quorum, replays newly committed records, and
    /// takes or leaves the active controller's office.
    fn observe(&mut self, now_ms: u64) {
        let me = self.ctx.id.0;
        let end = self.node.log().end_offset();
        let high_watermark = self.node.high_watermark().unwrap_or(0);
        if end < self.end_offset {
            self.ctx.tracer.emit(Event::QuorumTruncate { controller: me, to_offset: end, high_watermark });
            self.reasons.retain(|&offset, _| offset < end);
        }
        self.end_offset = end;
        let leads = self.node.role() == RoleKind::Leader;
        if leads && self.traced_leader_epoch != Some(self.node.epoch()) {
            self.traced_leader_epoch = Some(self.node.epoch());
            let event = Event::QuorumLeader { controller: me, epoch: self.node.epoch(), log_end_offset: end };
            self.ctx.tracer.emit(event);
            self.ctx.tracer.reached(ReachedState::KraftLeaderElected);
            if self.node.log().end_offset_for_epoch(self.node.epoch().saturating_sub(1)).offset > 0 {
                // Its log holds entries of an earlier epoch's leader: a failover.
                self.ctx.tracer.reached(ReachedState::ControllerFailover);
            }
        }
        if high_watermark > self.applied {
            self.apply_committed(high_watermark, leads);
        }
        self.maybe_change_office(now_ms);
    }

    /// Replays the entries from `applied` to `high_watermark`: traced as committed on
    /// this node, applied to its image, and, on the leader that commits them, the
    /// partition changes among them.
    fn apply_committed(&mut self, high_watermark: Offset, leads: bool) {
        let me = self.ctx.id.0;
        let base = self.applied;
        let entries = self.node.log().read_from(base)[..(high_watermark - base) as usize].to_vec();
        let digests = entries.iter().map(|e| (e.epoch, digest(&e.payload))).collect();
        let epoch = self.node.epoch();
        self.ctx.tracer.emit(Event::QuorumCommitted { controller: me, epoch, base_offset: base, entries: digests });
        for (offset, entry) in (base..).zip(&entries) {
            let Payload::Data(record) = &entry.payload else { continue };
            let before = partition_of(&self.image, record).cloned();
            let recorder = self.ctx.tracer.recorder();
            let removed_topic = match record {
                MetadataRecord::RemoveTopic { topic_id } => {
                    self.image.topics.get(topic_id).map(|t| recorder.topic_key(&t.name, Some(*topic_id)))
                }
                MetadataRecord::Topic { name, topic_id } => {
                    recorder.register_topic(name, *topic_id);
                    None
                }
                _ => None,
            };
            if let Err(error) = self.image.replay(record) {
                tracing::error!(?error, controller = me, offset, "a committed record does not replay");
                continue;
            }
            if leads {
                if let Some(topic) = removed_topic {
                    self.ctx.tracer.emit(Event::TopicDeleted { topic });
                }
                trace_admin_partition(&self.ctx.tracer, &self.ctx.settings, &self.image, record);
                let reason = self.reasons.get(&offset).copied().unwrap_or(ElectionReason::ControllerFailover);
                trace_partition_change(&self.ctx.tracer, &self.image, record, before.as_ref(), reason);
                trace_broker_change(&self.ctx.tracer, &self.image, record);
            }
        }
        self.reasons.retain(|&offset, _| offset >= high_watermark);
        self.ctx.tracer.emit(Event::MetadataApplied { base_offset: base, count: high_watermark - base });
        self.applied = high_watermark;
    }

    /// The leader becomes the active controller once it has committed an entry of its
    /// own epoch, so that its image holds everything committed before; a controller that
    /// no longer leads that epoch resigns, answering what waited with NOT_CONTROLLER.
    fn maybe_change_office(&mut self, now_ms: u64) {
        let epoch = self.node.epoch();
        let leads = self.node.role() == RoleKind::Leader;
        if self.active.as_ref().is_some_and(|a| !leads || a.epoch != epoch) {
            self.leave_office();
        }
        let own_epoch_committed =
            self.applied > 0 && self.node.log().get(self.applied - 1).is_some_and(|e| e.epoch == epoch);
        if leads && self.active.is_none() && own_epoch_committed {
            let mut active = ActiveController::activate(epoch, self.image.clone(), self.ctx.settings.clone(), now_ms);
            // Entries this leader wrote past the commit point (none yet, as it has only
            // just committed its first) would belong on top.
            let pending: Vec<MetadataRecord> = self
                .node
                .log()
                .read_from(self.applied)
                .iter()
                .filter_map(|e| match &e.payload {
                    Payload::Data(r) => Some(r.clone()),
                    Payload::LeaderChange => None,
                })
                .collect();
            active.speculate(&pending);
            self.active = Some(active);
        }
    }
}

/// NOT_CONTROLLER in the shape of the request's answer.
fn not_controller(request: &ControllerRequest) -> ControllerResponse {
    let error = ErrorCode::NotController;
    match request {
        ControllerRequest::BrokerRegistration(_) => ControllerResponse::BrokerRegistration(Err(error)),
        ControllerRequest::BrokerHeartbeat(_) => ControllerResponse::BrokerHeartbeat(Err(error)),
        ControllerRequest::TopicAdmin(_) => ControllerResponse::TopicAdmin(Err(error)),
        ControllerRequest::AlterPartition(_) | ControllerRequest::Quorum { .. } => {
            ControllerResponse::AlterPartition(Err(error))
        }
    }
}

/// NOT_CONTROLLER in the shape of `response`: a resigning controller cannot vouch for
/// what it had decided.
fn refusal(response: &ControllerResponse) -> ControllerResponse {
    let error = ErrorCode::NotController;
    match response {
        ControllerResponse::BrokerRegistration(_) => ControllerResponse::BrokerRegistration(Err(error)),
        ControllerResponse::BrokerHeartbeat(_) => ControllerResponse::BrokerHeartbeat(Err(error)),
        ControllerResponse::TopicAdmin(_) => ControllerResponse::TopicAdmin(Err(error)),
        ControllerResponse::AlterPartition(_) | ControllerResponse::Quorum(_) => {
            ControllerResponse::AlterPartition(Err(error))
        }
    }
}

/// An entry's digest for the trace: equal entries, equal digests (SipHash with fixed
/// keys, so the same in every run of a build).
fn digest(payload: &Payload<MetadataRecord>) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    payload.hash(&mut hasher);
    hasher.finish()
}

/// The partition a record changes, as the image holds it before the record.
fn partition_of<'a>(image: &'a MetadataImage, record: &MetadataRecord) -> Option<&'a PartitionRegistration> {
    let MetadataRecord::PartitionChange { topic_id, partition, .. } = record else { return None };
    image.topics.get(topic_id)?.partitions.get(partition)
}

/// Traces a committed broker registration or change of one, with the broker's state
/// after it: what the liveness phase reads to see every broker unfenced.
fn trace_broker_change(tracer: &Tracer, image: &MetadataImage, record: &MetadataRecord) {
    let (MetadataRecord::RegisterBroker { broker, .. } | MetadataRecord::BrokerRegistrationChange { broker, .. }) =
        record
    else {
        return;
    };
    let Some(registration) = image.brokers.get(broker) else { return };
    tracer.emit(Event::BrokerRegistration {
        broker: broker.0,
        broker_epoch: registration.broker_epoch,
        fenced: registration.fenced,
        in_controlled_shutdown: registration.in_controlled_shutdown,
    });
}

/// Traces a committed `PartitionRecord` of a partition an administrator created (not
/// one of the scenario's own topics at its own partition count), with its replicas: the
/// runner learns from it what the liveness phase must see recovered and drained.
fn trace_admin_partition(
    tracer: &Tracer,
    settings: &ControllerSettings,
    image: &MetadataImage,
    record: &MetadataRecord,
) {
    let MetadataRecord::Partition { topic_id, partition, registration } = record else { return };
    let Some(topic) = image.topics.get(topic_id) else { return };
    let tp = TopicPartition::new(topic.name.clone(), *partition);
    let key = tracer.recorder().partition_key(&tp, Some(*topic_id));
    if crate::history::incarnations::is_first_incarnation(&key)
        && crate::protocol::TopicAssignment::hold_partition(&settings.topics, &topic.name, *partition)
    {
        return;
    }
    tracer.emit(Event::PartitionCreated { tp: key, replicas: registration.replicas.iter().map(|b| b.0).collect() });
}

/// Traces a committed partition record as the ZooKeeper-era controller traces its
/// writes: a new partition or a new leader is an election (unclean when the leader
/// comes from outside the ISR and the ELR), anything else an ISR change.
fn trace_partition_change(
    tracer: &Tracer,
    image: &MetadataImage,
    record: &MetadataRecord,
    before: Option<&PartitionRegistration>,
    reason: ElectionReason,
) {
    let (topic_id, partition, new_leader) = match record {
        MetadataRecord::Partition { topic_id, partition, .. } => (*topic_id, *partition, true),
        MetadataRecord::PartitionChange { topic_id, partition, leader, .. } => {
            (*topic_id, *partition, matches!(leader, LeaderChange::To(_)))
        }
        _ => return,
    };
    let Some(topic) = image.topics.get(&topic_id) else { return };
    let Some(after) = topic.partitions.get(&partition) else { return };
    let tp = tracer.recorder().partition_key(&TopicPartition::new(topic.name.clone(), partition), Some(topic_id));
    let isr: Vec<u32> = after.isr.iter().map(|b| b.0).collect();
    let leader = after.leader.map(|b| b.0);
    if before.is_some() && after.replicas.len() > 1 && leader.is_some() && isr == leader.into_iter().collect::<Vec<_>>()
    {
        tracer.reached(ReachedState::IsrShrunkToLeader);
    }
    if new_leader {
        let (reason, unclean) = match before {
            None => (ElectionReason::TopicCreation, false),
            Some(b) => {
                let eligible = |l| b.isr.contains(&l) || b.elr.contains(&l);
                (reason, after.leader.is_some_and(|l| !eligible(l)))
            }
        };
        if unclean {
            tracer.reached(ReachedState::UncleanElection);
        }
        tracer.emit(Event::LeaderElection {
            tp,
            leader,
            leader_epoch: after.leader_epoch,
            partition_epoch: after.partition_epoch,
            isr,
            unclean,
            reason,
        });
    } else {
        tracer.emit(Event::IsrChange {
            tp,
            leader,
            leader_epoch: after.leader_epoch,
            partition_epoch: after.partition_epoch,
            isr,
        });
    }
}
