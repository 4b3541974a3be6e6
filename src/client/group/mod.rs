//! The consumer in `subscribe` mode: a member of a consumer group (Kafka's
//! `ConsumerCoordinator` over the standalone [`Consumer`]).
//!
//! Kafka's `KafkaConsumer::poll()` does two things, which this type exposes as two
//! steps so that the workload can record each as its own operation:
//! [`GroupConsumer::coordinator_poll`] (rejoin if a rebalance is due, committing first
//! when auto-commit is on, then fetch the committed offsets of the new assignment; and
//! auto-commit when its interval has passed) and [`GroupConsumer::fetch`] (fetch
//! records from the assigned partitions).
//!
//! Rebalances follow the protocol of the assignor (Kafka's `RebalanceProtocol`): **eager**
//! revokes every partition before the member rejoins, and positions restart from the
//! committed offsets; **cooperative** (`cooperative-sticky`, KIP-429) keeps the partitions
//! while the member rejoins, goes on fetching them during the rebalance, and revokes only
//! those the new assignment takes away, then rejoins at once so that the next rebalance
//! can hand them over (`ConsumerCoordinator.onJoinPrepare` / `onJoinComplete`). A member
//! whose generation was taken from it (evicted, or it gave up after
//! `max.poll.interval.ms`) loses its partitions instead (`onPartitionsLost`): by then
//! other members may own them. The join itself runs beside the fetches (see `join`).
//!
//! Commits retry on retriable errors (the coordinator moved or is unavailable, the answer
//! was lost) within a budget, as Kafka's `ConsumerCoordinator.commitOffsetsSync` does:
//! `default.api.timeout.ms` for the application's `commitSync`, the rebalance timeout for
//! the auto-commit before a rejoin (`onJoinPrepare`), the close timeout when closing.
//!
//! Deviation from Kafka, on purpose: the periodic auto-commit waits for the coordinator's
//! answer (Kafka sends it asynchronously); like Kafka's, it is one attempt, tried again
//! after `retry.backoff.ms` when it failed for a retriable reason. What it commits is the
//! same: the positions, i.e. everything poll returned, whether or not the application
//! processed it.

mod commit;
pub mod consumer_protocol;
pub mod coordinator;
mod heartbeat;
mod join;
mod offsets;
mod rebalance;
mod subscription;

pub use coordinator::{CoordinatorLink, KnownCoordinator, LinkError};
pub use heartbeat::{HeartbeatConfig, Membership, SharedMembership};
pub use join::join_wait;
pub use offsets::PendingCommit;

use join::{JoinTask, Joiner};

use super::consumer::{ConsumedRecord, Consumer, ConsumerConfig, ConsumerError};
use crate::protocol::{AssignmentStrategy, GroupProtocol, ServerAssignor, StickyAlgorithm};
use crate::protocol::{ErrorCode, Offset, Request, Response, TopicPartition, TopicPattern};
use crate::sim::clock;
use crate::sim::net::NodeNet;
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Group settings, with Kafka's names.
#[derive(Clone, Debug)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `client.id`, the prefix of the member id.
    pub client_id: String,
    /// `group.instance.id`: a static member (KIP-345, Kafka 2.3), which keeps its place
    /// in the group across restarts shorter than its session timeout.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`.
    pub max_poll_interval_ms: u64,
    /// `heartbeat.interval.ms`.
    pub heartbeat_interval_ms: u64,
    /// `partition.assignment.strategy`.
    pub strategy: AssignmentStrategy,
    /// `enable.auto.commit`.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`.
    pub auto_commit_interval_ms: u64,
    /// `retry.backoff.ms`: the pause between attempts of a commit.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580): the longest pause between attempts
    /// of a commit and between failed consumer-protocol heartbeats, which grow
    /// exponentially; `None` before 3.7, where the pause is fixed.
    pub retry_backoff_max_ms: Option<u64>,
    /// `default.api.timeout.ms`: how long `commitSync` keeps retrying (Kafka 2.0,
    /// KIP-266, default 60000; before 2.0 it retried without limit: `u64::MAX`).
    pub default_api_timeout_ms: u64,
    /// Which release's sticky assignor the leader runs (it changed in Kafka 2.6).
    pub sticky_algorithm: StickyAlgorithm,
    /// `group.protocol`: classic (JoinGroup/SyncGroup) or consumer (KIP-848).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` (consumer protocol).
    pub remote_assignor: Option<ServerAssignor>,
}

/// Which member, in which generation, did something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// The member id.
    pub member_id: String,
    /// The generation.
    pub generation: u32,
}

/// The consumer's group standing that a transactional producer sends with the offsets
/// it commits (Kafka's `ConsumerGroupMetadata`, KIP-447), so that the group coordinator
/// fences a zombie member's TxnOffsetCommit as it would fence its OffsetCommit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupMetadata {
    /// `group.id`.
    pub group_id: String,
    /// The generation of the member's last completed join (Kafka: -1 before any).
    pub generation_id: Option<u32>,
    /// The member id of the last completed join (empty before any).
    pub member_id: String,
    /// `group.instance.id` (static membership, KIP-345): not modelled, always `None`.
    pub group_instance_id: Option<String>,
}

/// How a commit ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The coordinator stored the offsets.
    Committed,
    /// The coordinator refused them (e.g. ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID: Kafka's
    /// `CommitFailedException`); nothing was stored.
    Refused(ErrorCode),
    /// Unknown: the answer was lost, or the offsets record may still be replicated.
    Unknown(String),
}

impl CommitOutcome {
    /// Whether the commit failed for a reason a new attempt may overcome (Kafka's
    /// `RetriableCommitFailedException`): the coordinator moved or was unavailable, or
    /// the answer was lost.
    pub fn is_retriable_failure(&self) -> bool {
        match self {
            CommitOutcome::Committed => false,
            CommitOutcome::Refused(error) => {
                matches!(error, ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
            }
            CommitOutcome::Unknown(_) => true,
        }
    }
}

/// What the application learns from its consumer's group work (Kafka's
/// `ConsumerRebalanceListener` and `OffsetCommitCallback`, plus the start of each
/// commit, which the workload records as an invocation).
pub trait GroupListener {
    /// A commit of `offsets` (next offsets to consume) is about to be sent.
    fn commit_started(&mut self, generation: &Generation, offsets: &[(TopicPartition, Offset)]);
    /// The commit of `offsets` ended.
    fn commit_finished(
        &mut self,
        generation: &Generation,
        offsets: &[(TopicPartition, Offset)],
        outcome: &CommitOutcome,
    );
    /// The member gives up `revoked` while it is still in the group (Kafka's
    /// `onPartitionsRevoked`): under the eager protocol every partition before it
    /// rejoins, under the cooperative protocol those its new assignment took away, and
    /// every partition when it closes. `position` tells a partition's position, if known
    /// (Kafka's `consumer.position` in the callback). Returns the offsets the application
    /// commits before the partitions go (`commitSync` in the callback), if any.
    fn partitions_revoked(
        &mut self,
        generation: &Generation,
        revoked: &[TopicPartition],
        position: &dyn Fn(&TopicPartition) -> Option<Offset>,
    ) -> Vec<(TopicPartition, Offset)>;
    /// The member's `partitions` are gone without a revocation (Kafka's
    /// `onPartitionsLost`): its generation was taken from it, so other members may own
    /// them already, and nothing can be committed for them.
    fn partitions_lost(&mut self, generation: &Generation, partitions: &[TopicPartition]);
    /// The member just revoked `revoked` under the cooperative protocol, keeping the rest
    /// of its assignment (the first of the two rebalances that hand partitions over).
    /// Told after [`GroupListener::partitions_revoked`]; for the run's coverage (the
    /// workload counts it as a reached state), nothing to do by default.
    fn revoked_cooperatively(&mut self, _revoked: &[TopicPartition]) {}
    /// The member's whole assignment in a new generation, once the committed offsets of
    /// the partitions it did not hold before are read.
    fn partitions_assigned(&mut self, generation: &Generation, partitions: &[TopicPartition]);
}

/// A consumer group member.
pub struct GroupConsumer {
    consumer: Consumer,
    consumer_config: ConsumerConfig,
    config: GroupConfig,
    /// The topics it subscribes to (those its pattern matched last, under a pattern).
    topics: Vec<String>,
    /// A `subscribe(Pattern)` subscription: `topics` follows the topics it matches.
    pattern: Option<TopicPattern>,
    link: CoordinatorLink,
    /// The connection asynchronous commits use, one at a time.
    async_link: Arc<tokio::sync::Mutex<CoordinatorLink>>,
    membership: SharedMembership,
    /// The heartbeat thread (none for a manually assigned consumer).
    heartbeat: Option<madsim::task::JoinHandle<()>>,
    /// The membership of a consumer-protocol member (KIP-848), shared with its
    /// heartbeat task; `None` under the classic protocol.
    kip848: Option<(consumer_protocol::SharedMembership, consumer_protocol::HeartbeatSettings)>,
    /// Set for a consumer that assigned itself these partitions (Kafka's
    /// `KafkaConsumer.assign` with a `group.id`): it uses the group coordinator for its
    /// commits and committed offsets only, never joins, and never rebalances.
    manual: Option<Vec<TopicPartition>>,
    /// The generation whose assignment the member holds, if any.
    generation: Option<Generation>,
    /// The partitions it holds.
    assignment: Vec<TopicPartition>,
    /// What it owns (cooperative) or held last (eager), and in which generation, sent in
    /// JoinGroup for the sticky assignors (the owned partitions and the user data).
    previous_assignment: (Vec<TopicPartition>, Option<u32>),
    /// After a join, the partitions whose committed offsets are still to be read (those
    /// the member did not hold before), until they are.
    committed_offsets_pending: Option<Vec<TopicPartition>>,
    /// Whether the work before a rejoin (commit, revoke or lose) is done for the rebalance
    /// in progress (Kafka's `needsJoinPrepare`, inverted): a retried JoinGroup does not
    /// do it again.
    join_prepared: bool,
    /// The rebalance round in flight, if any.
    joining: Option<JoinTask>,
    /// On the leader of the last completed join, the partition counts it assigned from
    /// (Kafka's `assignmentSnapshot`); `None` on the other members.
    metadata_snapshot: Option<BTreeMap<String, u32>>,
    /// The connection and metadata of rebalance rounds, while no round has them.
    joiner: Option<Joiner>,
    /// What every link of the member (commits, rounds, heartbeats) knows of the
    /// coordinator: Kafka's one `AbstractCoordinator.coordinator`.
    known_coordinator: KnownCoordinator,
    next_auto_commit: Instant,
    /// What `groupMetadata()` returns: set when a join completes and never cleared, as
    /// Kafka's `ConsumerCoordinator.onJoinComplete` sets it (a member that the heartbeat
    /// thread took out of the group still reports its old generation and member id).
    group_metadata: ConsumerGroupMetadata,
}

impl GroupConsumer {
    /// A member of `config.group_id` subscribed to `topics`; it joins on its first
    /// [`coordinator_poll`](Self::coordinator_poll). Starts the heartbeat thread on the
    /// current node.
    pub fn subscribe(
        net: NodeNet<Request, Response>,
        consumer_config: ConsumerConfig,
        config: GroupConfig,
        topics: Vec<String>,
    ) -> Self {
        let mut consumer = Self::outside_the_group(net, consumer_config, config, topics);
        let heartbeat_link = consumer.coordinator_link();
        let heartbeat_config = HeartbeatConfig {
            interval_ms: consumer.config.heartbeat_interval_ms,
            max_poll_interval_ms: consumer.config.max_poll_interval_ms,
            request_timeout_ms: consumer.consumer_config.request_timeout_ms,
        };
        if consumer.config.group_protocol == GroupProtocol::Consumer {
            let membership = consumer_protocol::SharedMembership::new();
            let settings = consumer_protocol::HeartbeatSettings {
                client_id: consumer.config.client_id.clone(),
                instance_id: consumer.config.group_instance_id.clone(),
                topics: consumer.topics.clone(),
                max_poll_interval_ms: consumer.config.max_poll_interval_ms,
                remote_assignor: consumer.config.remote_assignor,
                request_timeout_ms: consumer.consumer_config.request_timeout_ms,
                retry_backoff_ms: consumer.config.retry_backoff_ms,
                retry_backoff_max_ms: consumer.config.retry_backoff_max_ms,
            };
            let task = consumer_protocol::run(heartbeat_link, membership.clone(), settings.clone());
            consumer.heartbeat = Some(crate::sim::tasks::spawn(task));
            consumer.kip848 = Some((membership, settings));
            return consumer;
        }
        let membership = consumer.membership.clone();
        consumer.heartbeat =
            Some(crate::sim::tasks::spawn(heartbeat::run(heartbeat_link, membership, heartbeat_config)));
        consumer
    }

    /// A consumer that assigns itself `partitions` (Kafka's `assign` with a `group.id`):
    /// on its first [`coordinator_poll`](Self::coordinator_poll) it holds them, starting
    /// from the group's committed offsets, and it commits to the group as a standalone
    /// consumer (no generation, no member id: accepted only while the group has no
    /// members). It never joins, so nothing moves its partitions: if it stops, they wait
    /// for it. Its ops carry its client id as member and generation 0 (Kafka: -1).
    pub fn assign(
        net: NodeNet<Request, Response>,
        consumer_config: ConsumerConfig,
        config: GroupConfig,
        partitions: Vec<TopicPartition>,
    ) -> Self {
        let mut consumer = Self::outside_the_group(net, consumer_config, config, Vec::new());
        consumer.manual = Some(partitions);
        consumer
    }

    /// The consumer before it joins anything: no heartbeat thread, no manual assignment.
    fn outside_the_group(
        net: NodeNet<Request, Response>,
        consumer_config: ConsumerConfig,
        config: GroupConfig,
        topics: Vec<String>,
    ) -> Self {
        let membership = SharedMembership::new(config.group_instance_id.clone());
        let bootstrap = consumer_config.bootstrap.clone();
        let known = KnownCoordinator::default();
        let link = || group_link(&net, &consumer_config, &config.group_id, &known);
        GroupConsumer {
            manual: None,
            consumer: Consumer::new(net.clone(), consumer_config.clone()),
            joiner: Some(Joiner::new(link(), &bootstrap)),
            joining: None,
            metadata_snapshot: None,
            join_prepared: false,
            async_link: Arc::new(tokio::sync::Mutex::new(link())),
            link: link(),
            known_coordinator: known.clone(),
            next_auto_commit: clock::now() + Duration::from_millis(config.auto_commit_interval_ms),
            consumer_config,
            topics,
            pattern: None,
            membership,
            heartbeat: None,
            kip848: None,
            generation: None,
            assignment: Vec::new(),
            previous_assignment: (Vec::new(), None),
            committed_offsets_pending: None,
            group_metadata: ConsumerGroupMetadata {
                group_id: config.group_id.clone(),
                generation_id: None,
                member_id: String::new(),
                group_instance_id: None,
            },
            config,
        }
    }

    /// The member's group metadata for `sendOffsetsToTransaction` (Kafka's
    /// `KafkaConsumer.groupMetadata()`): the generation and member id of its last
    /// completed join.
    pub fn group_metadata(&self) -> ConsumerGroupMetadata {
        self.group_metadata.clone()
    }

    /// Moves every held partition back to its committed offset (or, without one, to
    /// where `auto.offset.reset` says), as an exactly-once application does after it
    /// aborted a transaction (`resetToLastCommittedPositions` in Kafka's
    /// `ExactlyOnceMessageProcessor` example): the records of the aborted transaction
    /// are processed again. Returns whether the committed offsets could be read; if
    /// not, they are read again on the next [`coordinator_poll`](Self::coordinator_poll).
    pub async fn seek_to_committed(&mut self) -> bool {
        if self.generation.is_none() {
            return true;
        }
        let assignment = self.assignment.clone();
        self.consumer.assign(Vec::new());
        self.consumer.assign(assignment);
        if self.read_committed_offsets(self.assignment.clone()).await {
            return true;
        }
        // Read on the next poll instead (which records the assignment again).
        self.committed_offsets_pending = Some(self.assignment.clone());
        false
    }

    /// The generation whose assignment the member holds, if any.
    pub fn generation(&self) -> Option<&Generation> {
        self.generation.as_ref()
    }

    /// The partitions the member holds.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// The next offset to fetch of a held partition, if known.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        self.consumer.position(tp)
    }

    /// Kafka's blocking `offsetsForTimes` (see [`Consumer::offsets_for_times_within`]),
    /// retrying for up to `default.api.timeout.ms`.
    pub async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>> {
        let timeout = Duration::from_millis(self.config.default_api_timeout_ms);
        self.consumer.offsets_for_times_within(timestamps_ms, timeout).await
    }

    /// Sets the next offset to fetch for a held partition (Kafka's `seek`).
    pub fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        self.consumer.seek(tp, offset);
    }

    /// Stops fetching a held partition until [`resume`](Self::resume) (Kafka's `pause`).
    /// A partition the member gives up in a rebalance forgets its pause.
    pub fn pause(&mut self, tp: &TopicPartition) {
        self.consumer.pause(tp);
    }

    /// Fetches a paused partition again (Kafka's `resume`).
    pub fn resume(&mut self, tp: &TopicPartition) {
        self.consumer.resume(tp);
    }

    /// Whether a held partition is paused.
    pub fn is_paused(&self, tp: &TopicPartition) -> bool {
        self.consumer.is_paused(tp)
    }

    /// The fetch part of Kafka's `poll()`: records from the held partitions, advancing
    /// the positions past what is returned.
    /// Fails as [`Consumer::poll`] does, only under `auto.offset.reset = "none"`.
    ///
    /// While a rebalance round is in flight the fetch does not wait for data: Kafka's
    /// `poll` wakes up when the JoinGroup or SyncGroup answer arrives and finishes the
    /// rebalance at once, which the member's next [`coordinator_poll`](Self::coordinator_poll)
    /// models.
    pub async fn fetch(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        if self.joining.is_some() {
            return self.consumer.poll_within(Duration::ZERO).await;
        }
        self.consumer.poll().await
    }

    /// [`fetch`](Self::fetch) that does not wait for data to arrive (Kafka's `poll`
    /// with a zero timeout), for an application whose worker is still busy.
    pub async fn fetch_without_waiting(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        self.consumer.poll_within(Duration::ZERO).await
    }

    /// Moves a held partition to its log start or high watermark on the next fetch
    /// (Kafka's `seekToBeginning` / `seekToEnd`).
    pub fn seek_to(&mut self, tp: &TopicPartition, reset: crate::protocol::OffsetReset) {
        self.consumer.seek_to(tp, reset);
    }

    /// The handle on the topic ids this member's metadata holds, for the history.
    pub fn topic_ids(&self) -> crate::client::metadata::TopicIds {
        self.consumer.topic_ids()
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.consumer_config.request_timeout_ms)
    }

    /// Another link to the group's coordinator, knowing it as the member's other links do.
    fn coordinator_link(&self) -> CoordinatorLink {
        group_link(self.link.net(), &self.consumer_config, &self.config.group_id, &self.known_coordinator)
    }
}

impl Drop for GroupConsumer {
    fn drop(&mut self) {
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.abort();
        }
        if let Some(round) = &self.joining {
            round.abort();
        }
    }
}

/// A link to `group`'s coordinator that knows it as the other links sharing `known` do,
/// and whose FindCoordinator waits the consumer's `request.timeout.ms`.
fn group_link(
    net: &NodeNet<Request, Response>,
    consumer_config: &ConsumerConfig,
    group: &str,
    known: &KnownCoordinator,
) -> CoordinatorLink {
    CoordinatorLink::new(net.clone(), consumer_config.bootstrap.clone(), group)
        .sharing(known)
        .finding_within(Duration::from_millis(consumer_config.request_timeout_ms))
        .connecting_with(consumer_config.connections)
}
