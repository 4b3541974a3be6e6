//! A broker in a KRaft cluster: it replicates the metadata log as an observer of the
//! controller quorum and acts on the committed records (Kafka's `BrokerMetadataPublisher`
//! and `ReplicaManager.applyDelta`), registers with the active controller and keeps its
//! session with heartbeats (`BrokerLifecycleManager`), shuts down under the controller's
//! control, and sends its ISR changes to the active controller (`AlterPartitionManager`).
//!
//! Simplified: the broker keeps its copy of the metadata log in memory and replays it
//! from the start after a restart (Kafka keeps it on disk with snapshots); an
//! AlterPartition names no broker epochs for the ISR members (KIP-903's check is not
//! made); the lifecycle's exponential backoff has no jitter.

use super::background::IsrChangeAnswer;
use super::{BrokerConfig, SharedBroker};
use crate::history::Event;
use crate::kraft::transport::QuorumTransport;
use crate::protocol::kraft::{
    AlterPartition, ControllerChannel, ControllerRequest, ControllerResponse, Heartbeat, HeartbeatReply,
    LeaderRecoveryState, PartitionRegistration, Payload, Registration,
};
use crate::protocol::{
    BrokerEndpoint, BrokerId, NodeId, NodeName, Offset, PartitionState, Request, Response, TopicId, TopicPartition,
};
use crate::raft::metadata::{MetadataImage, MetadataRecord};
use crate::raft::{ElectionState, QuorumConfig, QuorumNode, RaftLog};
use crate::sim::clock;
use crate::sim::disk::Disk;
use crate::sim::net::{Addr, NetError};
use bytes::Bytes;
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep, sleep_until};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A KRaft broker's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KraftBrokerConfig {
    /// The controller quorum's voters (`controller.quorum.voters`).
    pub voters: Vec<NodeId>,
    /// `controller.quorum.*`, for the broker's observer.
    pub quorum: QuorumConfig,
    /// `broker.heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `broker.session.timeout.ms`: also the longest backoff between failed heartbeats.
    pub session_timeout_ms: u64,
    /// KIP-903 (metadata version 3.5-IV1 onwards): followers send their broker epoch in
    /// each Fetch, and a leader sends the epochs it saw in its AlterPartition, so that a
    /// replica cannot join an ISR on the strength of a previous incarnation's fetches.
    pub isr_broker_epochs: bool,
}

/// What the broker knows of the KRaft cluster, shared by its tasks.
#[derive(Debug)]
pub struct KraftView {
    /// The quorum leader, that is the active controller, as the observer knows it.
    pub controller: Option<NodeId>,
    /// The metadata image, replayed up to `applied_offset`.
    pub image: MetadataImage,
    /// How far the broker has replayed the metadata log.
    pub applied_offset: Offset,
    /// The broker epoch the active controller gave this process, once registered.
    pub broker_epoch: Option<u64>,
    /// Set once the controller has unfenced this process for the first time: from then
    /// on it accepts connections (`BrokerServer.startup` starts its listeners only after
    /// `setReadyToUnfence` completes).
    pub running: watch::Sender<bool>,
    /// Set when the broker asks for a controlled shutdown (`wantShutDown`).
    pub shutdown_requested: watch::Sender<bool>,
    /// Set when the active controller lets the broker go (`shouldShutDown`).
    pub shutdown_approved: watch::Sender<bool>,
}

impl Default for KraftView {
    fn default() -> Self {
        KraftView {
            controller: None,
            image: MetadataImage::default(),
            applied_offset: 0,
            broker_epoch: None,
            running: watch::channel(false).0,
            shutdown_requested: watch::channel(false).0,
            shutdown_approved: watch::channel(false).0,
        }
    }
}

/// How long a stopping broker waits for the controller to approve its controlled
/// shutdown before it shuts down anyway (`KafkaBroker.shutdown()`'s five minutes).
const CONTROLLED_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(300);

/// The first heartbeat after a controlled shutdown begins is sent at once, the next
/// 50 ms after a reply that does not yet let the broker go (`BrokerLifecycleManager`).
const PENDING_SHUTDOWN_HEARTBEAT_MS: u64 = 50;

/// `BrokerServer.shutdown` with `controlled.shutdown.enable`: asks the lifecycle to
/// heartbeat with `wantShutDown` and waits until the controller lets the broker go, or
/// the timeout. Returns whether it did.
pub async fn controlled_shutdown(shared: &SharedBroker) -> bool {
    let mut approved = {
        let view = shared.kraft();
        view.shutdown_requested.send_replace(true);
        view.shutdown_approved.subscribe()
    };
    let approval = tokio::time::timeout(CONTROLLED_SHUTDOWN_TIMEOUT, approved.wait_for(|a| *a)).await;
    approval.is_ok_and(|answer| answer.is_ok())
}

/// The first pause after a failed registration or heartbeat (`ExponentialBackoff(100, 2,
/// broker.session.timeout.ms)`).
const RETRY_BACKOFF_BASE_MS: u64 = 100;

/// While starting, the broker heartbeats this often until it has caught up
/// (`BrokerLifecycleManager`: "schedule the heartbeat after only 10 ms").
const STARTING_HEARTBEAT_MS: u64 = 10;

/// Replicates the metadata log as an observer and applies what is committed. Runs for the
/// life of the process.
pub async fn run_metadata_observer(shared: SharedBroker, config: KraftBrokerConfig) {
    let started = clock::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let me = NodeId(shared.id().0);
    let mut rng = thread_rng();
    let stored = ElectionState::default();
    let mut node = QuorumNode::start(me, &config.voters, config.quorum, stored, RaftLog::default(), now_ms(), &mut rng);
    let timeout = Duration::from_millis(config.quorum.request_timeout_ms);
    let (mut transport, mut answers) = QuorumTransport::new(me, shared.net.clone(), timeout);
    let out = node.tick(now_ms(), &mut rng);
    transport.send(out);
    loop {
        let wake = started + Duration::from_millis(node.next_deadline_ms().min(now_ms() + 60_000));
        let out = tokio::select! {
            biased;
            Some(answer) = answers.recv() => answer.deliver(&mut node, &transport, now_ms(), &mut rng),
            _ = sleep_until(wake) => node.tick(now_ms(), &mut rng),
        };
        transport.send(out);
        shared.kraft().controller = node.leader();
        apply_committed(&shared, &node);
    }
}

/// Replays the records the observer has newly seen committed, then takes the roles and
/// caches the states of the partitions that changed.
fn apply_committed(shared: &SharedBroker, node: &QuorumNode<crate::raft::MetadataRecord>) {
    let high_watermark = node.high_watermark().unwrap_or(0);
    let (base, partitions, live, deleted_topics) = {
        let mut view = shared.kraft();
        let base = view.applied_offset;
        if high_watermark <= base {
            return;
        }
        // `TopicsDelta.deletedTopicIds`: the topics whose RemoveTopicRecord came in.
        let mut deleted_topics: BTreeSet<Arc<str>> = BTreeSet::new();
        // `TopicsDelta.changedTopics`: the partitions whose records came in. Only those
        // can differ from the cache (a metadata commit is mostly a `NoOpRecord` or a
        // broker's registration change, and the image may hold thousands of partitions).
        let mut touched: BTreeSet<(TopicId, u32)> = BTreeSet::new();
        for entry in &node.log().read_from(base)[..(high_watermark - base) as usize] {
            if let Payload::Data(record) = &entry.payload {
                match record {
                    MetadataRecord::RemoveTopic { topic_id } => {
                        deleted_topics.extend(view.image.topics.get(topic_id).map(|t| t.name.clone()));
                    }
                    MetadataRecord::Partition { topic_id, partition, .. }
                    | MetadataRecord::PartitionChange { topic_id, partition, .. } => {
                        touched.insert((*topic_id, *partition));
                    }
                    _ => {}
                }
                if let Err(error) = view.image.replay(record) {
                    tracing::error!(?error, broker = %shared.id(), "a committed metadata record does not replay");
                }
            }
        }
        view.applied_offset = high_watermark;
        (base, partition_states(&view.image, &touched), live_brokers(&view.image), deleted_topics)
    };
    shared.tracer.emit(Event::MetadataApplied { base_offset: base, count: high_watermark - base });
    // Deletes first (`ReplicaManager.applyDelta`): the cache holds the deleted topics'
    // partitions, which no new partition can replace before this.
    let deleted: Vec<TopicPartition> = {
        let state = shared.lock();
        let of_topic = |topic| TopicPartition::of_topic(&state.metadata.partitions, topic).map(|(tp, _)| tp.clone());
        deleted_topics.iter().flat_map(|topic| of_topic(topic)).collect()
    };
    super::deletion::delete_partitions(shared, &deleted);
    let (changed, grown, created) = {
        let state = shared.lock();
        let differs = |p: &PartitionState| state.metadata.partitions.get(&p.tp) != Some(p);
        // The delta finds every partition a scan of the whole image would (checked in
        // every debug run): nothing but these records changes what the cache holds.
        debug_assert_eq!(
            partitions.iter().filter(|p| differs(p)).collect::<Vec<_>>(),
            all_partition_states(&shared.kraft().image).iter().filter(|p| differs(p)).collect::<Vec<_>>(),
            "the partitions a metadata delta changed"
        );
        let changed: Vec<PartitionState> = partitions.into_iter().filter(differs).collect();
        // Topics with a partition the cache did not hold: created, or grown.
        let grown: BTreeSet<String> = changed
            .iter()
            .filter(|p| !state.metadata.partitions.contains_key(&p.tp))
            .map(|p| p.tp.topic.to_string())
            .collect();
        let created =
            grown.iter().any(|topic| TopicPartition::of_topic(&state.metadata.partitions, topic).next().is_none());
        (changed, grown, created)
    };
    shared.coordinator.on_metadata_image(high_watermark, created);
    super::handlers::apply_partition_states(shared, &changed, &live);
    let changed_topics: BTreeSet<String> =
        grown.into_iter().chain(deleted_topics.iter().map(|t| t.to_string())).collect();
    if !changed_topics.is_empty() {
        shared.coordinator.on_topics_changed(&changed_topics);
    }
}

/// The startup scan for stray logs, against the image the broker caught up to (see
/// [`super::deletion::stray_orphans`]).
fn set_strays_aside(shared: &SharedBroker) {
    let me = shared.id();
    let mine: BTreeSet<(TopicPartition, TopicId)> = {
        let view = shared.kraft();
        view.image
            .topics
            .iter()
            .flat_map(|(&id, topic)| {
                topic
                    .partitions
                    .iter()
                    .filter(|(_, registration)| registration.replicas.contains(&me))
                    .map(move |(&partition, _)| (TopicPartition::new(topic.name.clone(), partition), id))
            })
            .collect()
    };
    super::deletion::stray_orphans(shared, |tp, id| mine.contains(&(tp.clone(), id)));
}

/// The `touched` partitions that the image holds, in image order, as the broker's
/// metadata cache holds them.
fn partition_states(image: &MetadataImage, touched: &BTreeSet<(TopicId, u32)>) -> Vec<PartitionState> {
    touched
        .iter()
        .filter_map(|&(topic_id, partition)| {
            let topic = image.topics.get(&topic_id)?;
            Some(partition_state(topic_id, &topic.name, partition, topic.partitions.get(&partition)?))
        })
        .collect()
}

/// Every partition of the image as the broker's metadata cache holds it (what the
/// delta is checked against).
fn all_partition_states(image: &MetadataImage) -> Vec<PartitionState> {
    image
        .topics
        .iter()
        .flat_map(|(&topic_id, topic)| {
            topic
                .partitions
                .iter()
                .map(move |(&partition, registration)| partition_state(topic_id, &topic.name, partition, registration))
        })
        .collect()
}

/// One partition of the image as the broker's metadata cache holds it.
fn partition_state(
    topic_id: TopicId,
    topic: &Arc<str>,
    partition: u32,
    registration: &PartitionRegistration,
) -> PartitionState {
    PartitionState {
        tp: TopicPartition::new(topic.clone(), partition),
        leader: registration.leader,
        leader_epoch: registration.leader_epoch,
        isr: registration.isr.clone(),
        replicas: registration.replicas.clone(),
        partition_epoch: registration.partition_epoch,
        topic_id,
    }
}

/// The brokers clients and followers may use: registered and unfenced
/// (`KRaftMetadataCache.getAliveBrokerNodes`).
fn live_brokers(image: &MetadataImage) -> Vec<BrokerEndpoint> {
    image
        .brokers
        .iter()
        .filter(|(_, r)| !r.fenced)
        .map(|(&id, _)| BrokerEndpoint { id, host: BrokerConfig::host_of(id) })
        .collect()
}

/// Kafka's clean-shutdown marker (`CleanShutdownFileHandler`'s `.kafka_cleanshutdown`):
/// written durably with the broker epoch once a clean shutdown has flushed every log,
/// read and deleted when the next process starts (so a crash while starting counts as
/// unclean, KAFKA-10471). Its epoch tells the controller that nothing was lost (KIP-966).
const CLEAN_SHUTDOWN_MARKER: &str = ".kafka_cleanshutdown";

/// Writes the clean-shutdown marker with the process's broker epoch (none before it
/// registered: then the next start counts as unclean, as Kafka's -1).
pub fn write_clean_shutdown_marker(shared: &SharedBroker) {
    let Some(epoch) = shared.kraft().broker_epoch else { return };
    shared.disk.overwrite_durably(CLEAN_SHUTDOWN_MARKER, Bytes::copy_from_slice(&epoch.to_be_bytes()));
}

/// The broker epoch of the clean-shutdown marker, if the last process left one; the
/// marker is gone afterwards (`LogManager.readBrokerEpochFromCleanShutdownFiles`, then
/// `loadLogs`).
fn take_clean_shutdown_epoch(disk: &Disk) -> Option<u64> {
    let marker = disk.read(CLEAN_SHUTDOWN_MARKER)?;
    disk.delete(CLEAN_SHUTDOWN_MARKER);
    let bytes: [u8; 8] = marker.last()?.as_ref().try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// The broker's lifecycle with the active controller (`BrokerLifecycleManager`):
/// registers, heartbeats, asks to be unfenced once it has caught up with the metadata
/// log, and once a controlled shutdown is requested, heartbeats with `wantShutDown` until
/// the controller lets it go, then stops. Returns when `closing` turns true.
pub async fn run_lifecycle(shared: SharedBroker, config: KraftBrokerConfig, mut closing: watch::Receiver<bool>) {
    let me = shared.id();
    let incarnation_id: u64 = thread_rng().gen();
    let previous_broker_epoch = take_clean_shutdown_epoch(&shared.disk);
    // The heartbeat channel gives up on a request after half the session timeout
    // (KAFKA-14392), so that a controller that went silent cannot hold the next
    // heartbeat back until the broker's session is over.
    let timeout = Duration::from_millis((config.session_timeout_ms / 2).min(shared.config.inter_broker_timeout_ms));
    let mut requested = shared.kraft().shutdown_requested.subscribe();
    let mut caught_up = false;
    let mut failures = 0u32;
    let mut pending_shutdown_replies = 0u32;
    loop {
        if *closing.borrow() {
            return;
        }
        let (broker_epoch, applied, want_shut_down, approved) = {
            let view = shared.kraft();
            let approved = *view.shutdown_approved.borrow();
            let requested = *view.shutdown_requested.borrow();
            (view.broker_epoch, view.applied_offset, requested, approved)
        };
        if approved {
            // `beginShutdown`: no more heartbeats.
            let _ = closing.wait_for(|c| *c).await;
            return;
        }
        let request = match broker_epoch {
            None => ControllerRequest::BrokerRegistration(Registration {
                broker: me,
                incarnation_id,
                previous_broker_epoch,
            }),
            Some(broker_epoch) => ControllerRequest::BrokerHeartbeat(Heartbeat {
                broker: me,
                broker_epoch,
                current_metadata_offset: applied,
                want_fence: !caught_up,
                want_shut_down,
            }),
        };
        let answer = call_controller(&shared, ControllerChannel::Heartbeat, request, timeout).await;
        let pause_ms = match answer {
            Some(ControllerResponse::BrokerRegistration(Ok(epoch))) => {
                shared.kraft().broker_epoch = Some(epoch);
                failures = 0;
                0
            }
            Some(ControllerResponse::BrokerHeartbeat(Ok(reply))) => {
                failures = 0;
                if want_shut_down && reply.should_shut_down {
                    shared.kraft().shutdown_approved.send_replace(true);
                    continue;
                }
                if want_shut_down {
                    pending_shutdown_replies += 1;
                    if pending_shutdown_replies == 1 {
                        PENDING_SHUTDOWN_HEARTBEAT_MS
                    } else {
                        config.heartbeat_interval_ms
                    }
                } else {
                    let first_unfenced = caught_up && !reply.is_fenced && !*shared.kraft().running.borrow();
                    if first_unfenced {
                        set_strays_aside(&shared);
                        shared.kraft().running.send_replace(true);
                    }
                    next_heartbeat_ms(&config, &mut caught_up, reply)
                }
            }
            _ => {
                failures += 1;
                backoff_ms(&config, failures)
            }
        };
        // A shutdown request is sent at once (`beginControlledShutdown`).
        tokio::select! {
            biased;
            _ = closing.wait_for(|c| *c) => {}
            _ = requested.wait_for(|r| *r), if !want_shut_down => {}
            _ = sleep(Duration::from_millis(pause_ms)) => {}
        }
    }
}

/// Waits until the broker may accept connections: at once in ZooKeeper mode, once
/// first unfenced in KRaft mode.
pub async fn until_running(shared: &SharedBroker) {
    if shared.config.kraft.is_none() {
        return;
    }
    let mut running = shared.kraft().running.subscribe();
    let _ = running.wait_for(|r| *r).await;
}

/// When to heartbeat next: soon while starting, then every interval; the broker asks
/// to be unfenced once the controller says it has caught up.
fn next_heartbeat_ms(config: &KraftBrokerConfig, caught_up: &mut bool, reply: HeartbeatReply) -> u64 {
    if !*caught_up {
        *caught_up = reply.is_caught_up;
        return STARTING_HEARTBEAT_MS;
    }
    config.heartbeat_interval_ms
}

/// The broker epoch a follower sends in its Fetch requests (KIP-903): this process's
/// epoch in a KRaft cluster whose release has KIP-903, else `None` (Kafka's -1).
pub fn broker_epoch_for_isr(shared: &SharedBroker) -> Option<u64> {
    let config = shared.config.kraft.as_ref()?;
    config.isr_broker_epochs.then(|| shared.kraft().broker_epoch).flatten()
}

/// Whether a leader may add `follower` to an ISR (`Partition.isReplicaIsrEligible` in a
/// KRaft cluster): registered and unfenced (KIP-841), not shutting down, and, if its
/// fetches carried a broker epoch (KIP-903), of the epoch this broker's metadata holds:
/// fetches of a previous incarnation, which may have had a longer log, do not count.
/// Always true in ZooKeeper mode, where kafkasim leaves the check to the controller.
pub fn isr_eligible(shared: &SharedBroker, follower: BrokerId, fetched_broker_epoch: Option<u64>) -> bool {
    shared.config.kraft.is_none() || isr_eligible_in(&shared.kraft().image, follower, fetched_broker_epoch)
}

/// [`isr_eligible`] against a KRaft metadata image (`isBrokerEpochIsrEligible`: a fetch
/// without an epoch, Kafka's -1, passes the epoch check).
fn isr_eligible_in(image: &MetadataImage, follower: BrokerId, fetched_broker_epoch: Option<u64>) -> bool {
    image.brokers.get(&follower).is_some_and(|registration| {
        !registration.fenced
            && !registration.in_controlled_shutdown
            && fetched_broker_epoch.is_none_or(|epoch| epoch == registration.broker_epoch)
    })
}

/// The pause after `failures` failed calls in a row.
fn backoff_ms(config: &KraftBrokerConfig, failures: u32) -> u64 {
    let exponent = failures.saturating_sub(1).min(20);
    (RETRY_BACKOFF_BASE_MS << exponent).min(config.session_timeout_ms)
}

/// How long the channel waits before it tries again when it knows no active controller
/// or the one it tried refused (`NodeToControllerRequestThread.doWork`'s 100 ms poll).
const NO_CONTROLLER_BACKOFF: Duration = Duration::from_millis(100);

/// Sends a request to the active controller the way Kafka's
/// `NodeToControllerChannelManager` does: to the quorum leader the observer knows, again
/// to the next one known when the connection fails or the controller answers
/// NOT_CONTROLLER, until `retry_timeout` after the first attempt. `None` when no answer
/// came in that time.
pub(super) async fn call_controller(
    shared: &SharedBroker,
    channel: ControllerChannel,
    request: ControllerRequest,
    retry_timeout: Duration,
) -> Option<ControllerResponse> {
    let deadline = clock::now() + retry_timeout;
    loop {
        let now = clock::now();
        if now >= deadline {
            return None;
        }
        let controller = shared.kraft().controller;
        let Some(controller) = controller else {
            sleep(NO_CONTROLLER_BACKOFF.min(deadline - now)).await;
            continue;
        };
        let addr = Addr::new(&NodeName::of_kraft_node(controller).to_string());
        let connection = shared.net.connect_on(&addr, channel.name());
        let answer = connection.call(Request::Controller(request.clone()), deadline - now).await;
        connection.close();
        match answer {
            Ok(Response::Controller(response)) if !response.is_not_controller() => return Some(response),
            Err(NetError::Timeout) => return None,
            _ => sleep(NO_CONTROLLER_BACKOFF.min(deadline.saturating_duration_since(clock::now()))).await,
        }
    }
}

/// Sends a leader's ISR change to the active controller (`AlterPartitionManager`), for
/// up to the inter-broker timeout, and says what came of it.
/// Each member of `new_isr` comes with the broker epoch the leader knows for it
/// (`Partition.addBrokerEpochToIsr`), `None` where it sends -1 and the controller
/// checks nothing.
pub async fn alter_partition(
    shared: &SharedBroker,
    tp: &TopicPartition,
    leader_epoch: u32,
    partition_epoch: u64,
    new_isr: Vec<(BrokerId, Option<u64>)>,
) -> IsrChangeAnswer {
    let (request, topic_id) = {
        let view = shared.kraft();
        let (Some(topic_id), Some(broker_epoch)) = (view.image.topic_id(&tp.topic), view.broker_epoch) else {
            // Not registered yet, or the topic not in this broker's image yet.
            return IsrChangeAnswer::Unanswered;
        };
        let request = AlterPartition {
            broker: shared.id(),
            broker_epoch,
            topic_id,
            partition: tp.partition,
            leader_epoch,
            partition_epoch,
            new_isr,
            leader_recovery: LeaderRecoveryState::Recovered,
        };
        (request, topic_id)
    };
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let answer =
        call_controller(shared, ControllerChannel::AlterPartition, ControllerRequest::AlterPartition(request), timeout)
            .await;
    match answer {
        Some(ControllerResponse::AlterPartition(Ok(registration))) => IsrChangeAnswer::Accepted(PartitionState {
            tp: tp.clone(),
            leader: registration.leader,
            leader_epoch: registration.leader_epoch,
            isr: registration.isr,
            replicas: registration.replicas,
            partition_epoch: registration.partition_epoch,
            topic_id,
        }),
        Some(ControllerResponse::AlterPartition(Err(error))) => {
            tracing::debug!(%tp, ?error, "AlterPartition refused");
            IsrChangeAnswer::Refused
        }
        _ => IsrChangeAnswer::Unanswered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::metadata::BrokerRegistration;

    fn image_with_broker_2(registration: BrokerRegistration) -> MetadataImage {
        let mut image = MetadataImage::default();
        image.brokers.insert(BrokerId(2), registration);
        image
    }

    const EPOCH_7: BrokerRegistration =
        BrokerRegistration { incarnation_id: 2, broker_epoch: 7, fenced: false, in_controlled_shutdown: false };

    #[test]
    fn only_a_registered_unfenced_broker_of_the_fetched_epoch_may_join_an_isr() {
        let image = image_with_broker_2(EPOCH_7);
        assert!(isr_eligible_in(&image, BrokerId(2), Some(7)));
        // KIP-903: fetches of an earlier incarnation (epoch 3) do not make the new one,
        // which may have lost its log, eligible.
        assert!(!isr_eligible_in(&image, BrokerId(2), Some(3)));
        // A fetch without an epoch (before 3.5) is not checked against one.
        assert!(isr_eligible_in(&image, BrokerId(2), None));
        // KIP-841: fenced, shutting down or unknown brokers never are.
        assert!(!isr_eligible_in(
            &image_with_broker_2(BrokerRegistration { fenced: true, ..EPOCH_7 }),
            BrokerId(2),
            None
        ));
        let stopping = BrokerRegistration { in_controlled_shutdown: true, ..EPOCH_7 };
        assert!(!isr_eligible_in(&image_with_broker_2(stopping), BrokerId(2), Some(7)));
        assert!(!isr_eligible_in(&image, BrokerId(3), None));
    }
}
