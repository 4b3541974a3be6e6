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

pub use coordinator::{CoordinatorLink, KnownCoordinator, LinkError};
pub use heartbeat::{HeartbeatConfig, Membership, SharedMembership};

use commit::{commit_with_retries, CommitBudget, Committer};
use join::{JoinOutcome, JoinRequest, JoinTask, Joiner};

use super::backoff::RetryBackoff;
use super::consumer::{ConsumedRecord, Consumer, ConsumerConfig, ConsumerError};
use crate::protocol::{AssignmentStrategy, GroupProtocol, RebalanceProtocol, ServerAssignor, StickyAlgorithm};
use crate::protocol::{
    ErrorCode, GroupRequest, GroupResponse, Offset, Request, Response, TopicPartition, TopicPattern,
};
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

/// `KafkaConsumer.close()`'s timeout, which bounds its final auto-commit, in milliseconds.
const CLOSE_TIMEOUT_MS: u64 = 30_000;

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

    /// The group part of Kafka's `poll()`: notes the poll (for `max.poll.interval.ms`);
    /// when a rebalance is due, does the work before it (auto-commit, then revoke or lose
    /// partitions as the protocol says) and starts a rebalance round; finishes a round
    /// that ended (revoking what the new assignment took away, and reading the committed
    /// offsets of what it added); and auto-commits when the interval has passed.
    ///
    /// Returns whether the member holds partitions it may fetch. A member that holds none
    /// waits for its round to end; one that keeps partitions through a cooperative
    /// rebalance does not, and fetches them meanwhile. If it may not fetch, the caller
    /// backs off and calls again. An error is fatal: Kafka's `poll()` throws it (e.g.
    /// INVALID_SESSION_TIMEOUT when the brokers refuse `session.timeout.ms`).
    pub async fn coordinator_poll(&mut self, listener: &mut impl GroupListener) -> Result<bool, ErrorCode> {
        if self.kip848.is_some() {
            return self.consumer_protocol_poll(listener).await;
        }
        // A manually assigned consumer takes its partitions on its first poll.
        if let Some(partitions) = self.manual.as_ref().filter(|_| self.generation.is_none()) {
            self.generation = Some(Generation { member_id: self.config.client_id.clone(), generation: 0 });
            self.assignment = partitions.clone();
            self.consumer.assign(partitions.clone());
            self.committed_offsets_pending = Some(partitions.clone());
        }
        if self.manual.is_none() {
            self.update_pattern_subscription().await;
        }
        let rejoin = self.manual.is_none() && {
            let mut m = self.membership.lock();
            if m.fenced {
                return Err(ErrorCode::FencedInstanceId);
            }
            m.last_poll = clock::now();
            if self.joining.is_none() && self.assigned_metadata_changed() {
                // Kafka's `rejoinNeededOrPending`: "cached metadata has changed".
                tracing::debug!(snapshot = ?self.metadata_snapshot, "the leader's metadata changed: rejoin");
                self.metadata_snapshot = None;
                m.rejoin_needed = true;
            }
            m.rejoin_needed || m.generation.is_none()
        };
        if rejoin && self.joining.is_none() {
            if !self.join_prepared || !self.still_member() {
                self.prepare_rejoin(listener).await;
                self.join_prepared = true;
            }
            self.start_round();
        }
        if let Some(round) = self.joining.take() {
            if !round.is_finished() && !self.assignment.is_empty() {
                self.joining = Some(round);
                self.skip_auto_commit_while_rebalancing();
                return Ok(true);
            }
            let (joiner, outcome) = round.await.expect("a rebalance round is never cancelled while awaited");
            self.joiner = Some(joiner);
            match outcome {
                JoinOutcome::Joined { generation, member_id, assignment, metadata_snapshot } => {
                    self.join_prepared = false;
                    self.metadata_snapshot = metadata_snapshot;
                    self.complete_join(Generation { member_id, generation }, assignment, listener).await;
                }
                JoinOutcome::Again => return Ok(false),
                JoinOutcome::Fatal(error) => return Err(error),
            }
        }
        if !self.finish_assignment(listener).await {
            return Ok(false);
        }
        self.maybe_auto_commit(listener).await;
        Ok(self.generation.is_some())
    }

    /// On the group's leader, whether the partition count of a topic it assigned has
    /// changed in its own metadata since, or the topic has gone (Kafka's `ConsumerCoordinator`: the
    /// `assignmentSnapshot` no longer `matches` the `metadataSnapshot` rebuilt after each
    /// metadata update). Only the leader checks, and only when it polls: a partition
    /// added to the topic waits for the leader's next metadata refresh, which nothing
    /// forces before `metadata.max.age.ms`. A subscribed topic the metadata did not have
    /// at the assignment (count 0: deleted, not created yet) changes it by appearing:
    /// a group that lost its topic picks up the topic created again under the name.
    fn assigned_metadata_changed(&self) -> bool {
        let Some(snapshot) = &self.metadata_snapshot else { return false };
        snapshot.iter().any(|(topic, &count)| match self.consumer.partition_count(topic) {
            Some(now) => now != count,
            None if count == 0 => false,
            // Gone from metadata the consumer refreshes (the topics it is assigned):
            // the topic was deleted, and the snapshot no longer matches.
            None => self.consumer.assignment().iter().any(|tp| *tp.topic == **topic),
        })
    }

    /// Reads the committed offsets of the partitions a new assignment added, then tells
    /// the listener the whole assignment. Returns false if the offsets could not be read
    /// (the next poll tries again).
    async fn finish_assignment(&mut self, listener: &mut impl GroupListener) -> bool {
        if let Some(partitions) = self.committed_offsets_pending.take() {
            if !self.read_committed_offsets(partitions.clone()).await {
                self.committed_offsets_pending = Some(partitions);
                return false;
            }
            let generation = self.generation.clone().expect("joined");
            listener.partitions_assigned(&generation, &self.assignment);
        }
        true
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

    /// Commits `offsets` (next offsets to consume) in the member's generation and waits
    /// for the answer (Kafka's `commitSync`), retrying on retriable errors for up to
    /// `default.api.timeout.ms`. Refused when the member holds no generation.
    pub async fn commit_sync(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        listener: &mut impl GroupListener,
    ) -> CommitOutcome {
        let budget = CommitBudget::Retry(Duration::from_millis(self.config.default_api_timeout_ms));
        self.commit_within(offsets, budget, listener).await
    }

    /// A synchronous commit within `budget`, told to the listener.
    async fn commit_within(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        budget: CommitBudget,
        listener: &mut impl GroupListener,
    ) -> CommitOutcome {
        self.refresh_member_epoch();
        let Some(generation) = self.generation.clone() else {
            return CommitOutcome::Refused(ErrorCode::UnknownMemberId);
        };
        listener.commit_started(&generation, &offsets);
        if self.joining.is_some() {
            let outcome = Self::refused_while_rebalancing();
            listener.commit_finished(&generation, &offsets, &outcome);
            return outcome;
        }
        let timeout = self.request_timeout();
        let backoff = RetryBackoff::new(self.config.retry_backoff_ms, self.config.retry_backoff_max_ms);
        let committer = self.committer(&generation);
        let outcome =
            commit_with_retries(&mut self.link, &self.membership, committer, &offsets, budget, timeout, backoff).await;
        listener.commit_finished(&generation, &offsets, &outcome);
        outcome
    }

    /// Auto-commits every held partition's position within `budget`, if auto-commit is
    /// on and there is something to commit. Returns the outcome, if it committed.
    async fn auto_commit(&mut self, budget: CommitBudget, listener: &mut impl GroupListener) -> Option<CommitOutcome> {
        if !self.config.enable_auto_commit || self.generation.is_none() {
            return None;
        }
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return None;
        }
        Some(self.commit_within(offsets, budget, listener).await)
    }

    /// The handle on the topic ids this member's metadata holds, for the history.
    pub fn topic_ids(&self) -> crate::client::metadata::TopicIds {
        self.consumer.topic_ids()
    }

    /// Every held partition's position: what auto-commit commits.
    pub fn consumed_offsets(&self) -> Vec<(TopicPartition, Offset)> {
        self.assignment.iter().filter_map(|tp| Some((tp.clone(), self.consumer.position(tp)?))).collect()
    }

    /// Closes the member cleanly (Kafka's `close()`): auto-commits if enabled (retrying
    /// within the close timeout), gives up its partitions (revoked, or lost if it is no
    /// longer a member or a rebalance is in progress: `onLeavePrepare`), then leaves the
    /// group so that its partitions move at once.
    pub async fn close(self, listener: &mut impl GroupListener) {
        self.leave(listener, true).await;
    }

    /// `unsubscribe()`: as [`close`](Self::close) without the auto-commit (Kafka's
    /// `ClassicKafkaConsumer.unsubscribe` runs `onLeavePrepare` and `maybeLeaveGroup`;
    /// `AsyncKafkaConsumer.unsubscribe` the membership manager's `leaveGroup`). An
    /// application must call it before it changes the kind of its subscription (topics
    /// to pattern or back): `SubscriptionState.setSubscriptionType` throws
    /// IllegalStateException otherwise.
    pub async fn unsubscribe(self, listener: &mut impl GroupListener) {
        self.leave(listener, false).await;
    }

    async fn leave(mut self, listener: &mut impl GroupListener, auto_commit: bool) {
        let auto_commit_budget = CommitBudget::Retry(Duration::from_millis(CLOSE_TIMEOUT_MS));
        if let Some((membership, settings)) = self.kip848.clone() {
            // Kafka's `AsyncKafkaConsumer.close`: commit, revoke (or lose, out of the
            // group), then leave with epoch -1 (-2 for a static member).
            if auto_commit {
                self.auto_commit(auto_commit_budget, listener).await;
            }
            if let Some(generation) = self.generation.clone() {
                let held = self.assignment.clone();
                if membership.lock().epoch > 0 {
                    self.revoke(&generation, &held, listener).await;
                } else {
                    listener.partitions_lost(&generation, &held);
                }
            }
            if let Some(task) = self.heartbeat.take() {
                task.abort();
            }
            consumer_protocol::leave(&mut self.link, &membership, &settings).await;
            return;
        }
        let rebalancing = self.joining.take().inspect(|round| round.abort()).is_some();
        if !rebalancing && auto_commit {
            self.auto_commit(auto_commit_budget, listener).await;
        }
        // A consumer that assigned its partitions itself has no rebalance listener to call.
        if let Some(generation) = self.generation.clone().filter(|_| self.manual.is_none()) {
            let held = self.assignment.clone();
            if rebalancing || !self.still_member_of(&generation) {
                listener.partitions_lost(&generation, &held);
            } else {
                self.revoke(&generation, &held, listener).await;
            }
        }
        let member_id = self.membership.lock().member_id.clone();
        // Only a dynamic member leaves (Kafka's `maybeLeaveGroup`, KIP-345).
        if !member_id.is_empty() && self.config.group_instance_id.is_none() {
            let request =
                GroupRequest::LeaveGroup { group: self.config.group_id.clone(), member_id, group_instance_id: None };
            let _ = self.link.call(request, self.request_timeout()).await;
        }
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.consumer_config.request_timeout_ms)
    }

    /// Another link to the group's coordinator, knowing it as the member's other links do.
    fn coordinator_link(&self) -> CoordinatorLink {
        group_link(self.link.net(), &self.consumer_config, &self.config.group_id, &self.known_coordinator)
    }

    /// How the member's commits name it: a standalone committer when it assigned its
    /// partitions itself.
    fn committer<'g>(&self, generation: &'g Generation) -> Committer<'g> {
        if self.manual.is_some() {
            Committer::Standalone
        } else {
            Committer::Member(generation)
        }
    }

    /// The rebalance protocol of the member's assignor.
    fn protocol(&self) -> RebalanceProtocol {
        self.config.strategy.protocol()
    }

    /// Whether the coordinator still counts the member in the generation it holds: the
    /// heartbeat thread or a commit answer may have taken its generation or member id
    /// from it (Kafka's `generation == NO_GENERATION || memberId == NO_GENERATION`).
    fn still_member(&self) -> bool {
        self.generation.as_ref().is_none_or(|g| self.still_member_of(g))
    }

    fn still_member_of(&self, generation: &Generation) -> bool {
        let m = self.membership.lock();
        m.generation == Some(generation.generation) && m.member_id == generation.member_id
    }

    /// Kafka's `onJoinPrepare`: commit what was consumed (auto-commit, retried within the
    /// rebalance timeout), then give partitions up. A member that is no longer in its
    /// generation loses them all; otherwise the eager protocol revokes them all, and the
    /// cooperative one keeps them, but for those of topics no longer subscribed, and
    /// claims them in its JoinGroup.
    async fn prepare_rejoin(&mut self, listener: &mut impl GroupListener) {
        let Some(generation) = self.generation.clone() else { return };
        if !self.still_member_of(&generation) {
            listener.partitions_lost(&generation, &self.assignment);
            self.give_up_assignment(&generation);
            if self.protocol() == RebalanceProtocol::Cooperative {
                self.previous_assignment.0.clear(); // It owns nothing now.
            }
            return;
        }
        let budget = CommitBudget::Retry(Duration::from_millis(self.config.max_poll_interval_ms));
        self.auto_commit(budget, listener).await;
        match self.protocol() {
            RebalanceProtocol::Eager => {
                let held = self.assignment.clone();
                self.revoke(&generation, &held, listener).await;
                self.give_up_assignment(&generation);
            }
            RebalanceProtocol::Cooperative => {
                // Only the partitions of topics no longer subscribed go now.
                let unsubscribed: Vec<TopicPartition> =
                    self.assignment.iter().filter(|tp| !self.subscribes_to(&tp.topic)).cloned().collect();
                if !unsubscribed.is_empty() {
                    self.revoke(&generation, &unsubscribed, listener).await;
                    let kept: Vec<TopicPartition> =
                        self.assignment.iter().filter(|tp| !unsubscribed.contains(tp)).cloned().collect();
                    self.assignment = kept.clone();
                    self.consumer.assign(kept);
                }
                self.previous_assignment = (self.assignment.clone(), Some(generation.generation));
            }
        }
    }

    /// Whether the member subscribes to `topic`.
    fn subscribes_to(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }

    /// `KafkaConsumer.subscribe` with a new topic list while the member runs. Classic
    /// protocol: a subscription that differs from the one it joined with makes it rejoin
    /// at its next poll (`rejoinNeededOrPending`: "subscription has changed"); the
    /// cooperative protocol then revokes only the partitions of topics it dropped
    /// (`onJoinPrepare`), the eager one everything, as in any rebalance. Consumer
    /// protocol (KIP-848): the next heartbeat sends the new topics, and the coordinator's
    /// new target assignment moves partitions, reconciled as any other.
    pub fn change_subscription(&mut self, topics: Vec<String>) {
        self.pattern = None;
        self.consumer.set_metadata_for_all_topics(false);
        self.subscribe_from(topics);
    }

    /// Replaces the topic list. A different one makes a classic member rejoin at its next
    /// poll; a consumer-protocol member's next heartbeat carries it (Kafka's
    /// `HeartbeatState` sends `SubscribedTopicNames` whenever they differ from those
    /// sent), and the coordinator bumps the group epoch.
    fn subscribe_from(&mut self, topics: Vec<String>) {
        if topics == self.topics {
            return;
        }
        if let Some((membership, _)) = &self.kip848 {
            let mut m = membership.lock();
            m.topics = Some(topics.clone());
            m.topics_changed = true;
        } else {
            self.membership.lock().rejoin_needed = true;
        }
        self.topics = topics;
    }

    /// `KafkaConsumer.subscribe(Pattern)`: the consumer's metadata requests name no topic,
    /// so it learns every topic (`ConsumerMetadata` with a pattern subscription), and the
    /// member's topics become those the pattern matches, matched again after every
    /// metadata update: a topic created later that matches joins the subscription once
    /// this member's metadata has it (at most `metadata.max.age.ms` later). A classic
    /// member matches in `ConsumerCoordinator.updatePatternSubscription` and rejoins; a
    /// consumer-protocol member (Kafka's `AsyncKafkaConsumer`, whose
    /// `ApplicationEventProcessor.maybeUpdatePatternSubscription` matches once per poll
    /// after a metadata update) sends the matched names in its next heartbeat, as with a
    /// topic list: the client resolves a `java.util.regex.Pattern`, not the coordinator
    /// (for KIP-848's server-side pattern see
    /// [`subscribe_broker_pattern`](Self::subscribe_broker_pattern)). Simplified: a
    /// pattern that no longer matches anything leaves the last topics subscribed
    /// (kafkasim does not model a member subscribed to nothing).
    pub fn subscribe_pattern(&mut self, pattern: TopicPattern) {
        self.pattern = Some(pattern);
        self.consumer.set_metadata_for_all_topics(true);
        self.consumer.request_metadata_update();
    }

    /// Kafka 4.0's `subscribe(SubscriptionPattern)` (consumer protocol): the member sends
    /// the regular expression in its next heartbeat (`SubscribedTopicRegex`) and the
    /// group coordinator resolves it and assigns the matching topics' partitions; the
    /// consumer's metadata requests ask for every topic (4.0's `ConsumerMetadata`), so it
    /// can name what it is assigned.
    /// (The scenario reader lets only consumer-protocol members subscribe so; a classic
    /// member has no regular expression to send and this does nothing.)
    pub fn subscribe_broker_pattern(&mut self, pattern: &TopicPattern) {
        let Some((membership, _)) = &self.kip848 else {
            debug_assert!(false, "a SubscriptionPattern for a classic member");
            return;
        };
        {
            let mut m = membership.lock();
            m.regex = Some(pattern.source().to_string());
            m.regex_changed = true;
        }
        self.consumer.set_metadata_for_all_topics(true);
        self.consumer.request_metadata_update();
    }

    /// Under a pattern subscription, matches the pattern against the consumer's metadata,
    /// first refreshed if it is due or a classic rejoin is about to go (Kafka's `poll`
    /// asks for fresh metadata before a pattern-subscribed member rejoins, "so that we
    /// have matched the pattern against the cluster's topics at least once before
    /// joining").
    async fn update_pattern_subscription(&mut self) {
        let Some(pattern) = self.pattern.clone() else { return };
        let rejoining = self.kip848.is_none() && {
            let m = self.membership.lock();
            m.rejoin_needed || m.generation.is_none()
        };
        self.consumer.refresh_metadata_if_due(rejoining).await;
        let matched = pattern.matching(self.consumer.known_topics().iter().map(String::as_str));
        if !matched.is_empty() {
            self.subscribe_from(matched);
        }
    }

    /// Forgets the whole assignment, remembering it (and its generation) for the sticky
    /// assignor's user data.
    fn give_up_assignment(&mut self, generation: &Generation) {
        self.previous_assignment = (std::mem::take(&mut self.assignment), Some(generation.generation));
        self.generation = None;
        self.committed_offsets_pending = None;
        self.consumer.assign(Vec::new());
    }

    /// Tells the listener `partitions` are revoked, and commits what it asks to commit
    /// before they go (in the member's current generation).
    async fn revoke(
        &mut self,
        generation: &Generation,
        partitions: &[TopicPartition],
        listener: &mut impl GroupListener,
    ) {
        if partitions.is_empty() {
            return;
        }
        let consumer = &self.consumer;
        let offsets = listener.partitions_revoked(generation, partitions, &|tp| consumer.position(tp));
        if !offsets.is_empty() {
            self.commit_sync(offsets, listener).await;
        }
    }

    /// Starts a rebalance round, claiming what the member owns (cooperative) or owned
    /// last (eager).
    fn start_round(&mut self) {
        // A round aborted by `close` took its joiner with it.
        let joiner =
            self.joiner.take().unwrap_or_else(|| Joiner::new(self.coordinator_link(), &self.consumer_config.bootstrap));
        let request = JoinRequest {
            config: self.config.clone(),
            topics: self.topics.clone(),
            owned: self.previous_assignment.clone(),
            request_timeout: self.request_timeout(),
        };
        self.joining = Some(join::spawn(joiner, self.membership.clone(), request));
    }

    /// Kafka's `onJoinComplete`: under the cooperative protocol, revoke what the new
    /// assignment took away and ask to rejoin so that it can be handed over; then hold
    /// the new assignment, keeping the positions of partitions held before, and read the
    /// committed offsets of the added ones.
    async fn complete_join(
        &mut self,
        generation: Generation,
        assignment: Vec<TopicPartition>,
        listener: &mut impl GroupListener,
    ) {
        self.group_metadata.generation_id = Some(generation.generation);
        self.group_metadata.member_id = generation.member_id.clone();
        self.generation = Some(generation.clone());
        let revoked: Vec<TopicPartition> =
            self.assignment.iter().filter(|tp| !assignment.contains(tp)).cloned().collect();
        if !revoked.is_empty() {
            self.revoke(&generation, &revoked, listener).await;
            listener.revoked_cooperatively(&revoked);
            self.membership.lock().rejoin_needed = true;
        }
        self.hold(assignment);
    }

    /// Holds `assignment`, keeping the positions of partitions held before; the
    /// committed offsets are to be read for the added partitions and for those still
    /// waiting for theirs (a read that failed before a new assignment came: Kafka fetches
    /// them for every partition without a position).
    fn hold(&mut self, assignment: Vec<TopicPartition>) {
        let waiting = self.committed_offsets_pending.take().unwrap_or_default();
        let pending: Vec<TopicPartition> =
            assignment.iter().filter(|tp| !self.assignment.contains(tp) || waiting.contains(tp)).cloned().collect();
        self.assignment = assignment.clone();
        self.consumer.assign(assignment);
        self.committed_offsets_pending = Some(pending);
    }

    /// OffsetFetch for `partitions`; their positions start at the committed offsets, and
    /// partitions without one are reset by `auto.offset.reset` on the first fetch.
    async fn read_committed_offsets(&mut self, partitions: Vec<TopicPartition>) -> bool {
        if partitions.is_empty() {
            return true;
        }
        // A consumer-protocol member names itself and its latest epoch (OffsetFetch v9).
        self.refresh_member_epoch();
        let member = self.kip848.as_ref().and(self.generation.as_ref()).map(|g| (g.member_id.clone(), g.generation));
        let request = GroupRequest::OffsetFetch { group: self.config.group_id.clone(), member, partitions };
        match self.link.call(request, self.request_timeout()).await {
            Ok(GroupResponse::Offsets { error: None, offsets }) => {
                for (tp, committed) in offsets {
                    if let Some(offset) = committed {
                        // Simplified: Kafka 2.3+ commits the position's leader epoch
                        // (OffsetCommit v6+) and validates a position restored from it
                        // (`refreshCommittedOffsetsIfNeeded` -> `seekUnvalidated`); here the
                        // committed offset carries no epoch, so the restored position is
                        // validated only after the member has fetched from it.
                        self.consumer.seek(&tp, offset);
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// The periodic auto-commit (Kafka's `maybeAutoCommitOffsetsAsync`): one attempt
    /// every `auto.commit.interval.ms`, tried again after `retry.backoff.ms` when it
    /// failed for a retriable reason.
    async fn maybe_auto_commit(&mut self, listener: &mut impl GroupListener) {
        if !self.config.enable_auto_commit || clock::now() < self.next_auto_commit {
            return;
        }
        if self.joining.is_some() {
            self.skip_auto_commit_while_rebalancing();
            return;
        }
        self.next_auto_commit = clock::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        if self.auto_commit(CommitBudget::OneAttempt, listener).await.is_some_and(|o| o.is_retriable_failure()) {
            self.next_auto_commit = clock::now() + Duration::from_millis(self.config.retry_backoff_ms);
        }
    }

    /// A due auto-commit while a rebalance is in progress fails in the client, without a
    /// request (`generationIfStable()` is null: a `RebalanceInProgressException`, which
    /// is not retriable), and the next one comes a whole interval later.
    fn skip_auto_commit_while_rebalancing(&mut self) {
        if self.config.enable_auto_commit && clock::now() >= self.next_auto_commit {
            self.next_auto_commit = clock::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        }
    }

    /// What a commit the application asks for during a rebalance gets: Kafka's
    /// `sendOffsetCommitRequest` fails it at once (REBALANCE_IN_PROGRESS, a
    /// `RebalanceInProgressException`) while the member is not stable.
    fn refused_while_rebalancing() -> CommitOutcome {
        CommitOutcome::Refused(ErrorCode::RebalanceInProgress)
    }

    /// Sends a commit of `offsets` in the member's generation without waiting for the
    /// answer (Kafka's `commitAsync`: one attempt, no retries); the application goes on
    /// and later awaits the returned [`PendingCommit`]. `None` when the member holds no
    /// generation.
    pub fn commit_async(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        listener: &mut impl GroupListener,
    ) -> Option<PendingCommit> {
        self.refresh_member_epoch();
        let generation = self.generation.clone()?;
        listener.commit_started(&generation, &offsets);
        if self.joining.is_some() {
            let task = crate::sim::tasks::spawn(async { Self::refused_while_rebalancing() });
            return Some(PendingCommit { generation, offsets, task });
        }
        let (link, membership, timeout) = (self.async_link.clone(), self.membership.clone(), self.request_timeout());
        let (gen, sent, standalone) = (generation.clone(), offsets.clone(), self.manual.is_some());
        let task = crate::sim::tasks::spawn(async move {
            let mut link = link.lock().await;
            let once = CommitBudget::OneAttempt;
            let committer = if standalone { Committer::Standalone } else { Committer::Member(&gen) };
            commit_with_retries(&mut link, &membership, committer, &sent, once, timeout, RetryBackoff::Fixed { ms: 0 })
                .await
        });
        Some(PendingCommit { generation, offsets, task })
    }

    /// Waits for an asynchronous commit and tells the listener how it ended (Kafka's
    /// `OffsetCommitCallback`).
    pub async fn finish_commit(&mut self, pending: PendingCommit, listener: &mut impl GroupListener) -> CommitOutcome {
        let outcome =
            pending.task.await.unwrap_or_else(|_| CommitOutcome::Unknown("the commit task was cancelled".into()));
        listener.commit_finished(&pending.generation, &pending.offsets, &outcome);
        outcome
    }
}

/// A commit sent by [`GroupConsumer::commit_async`], not yet answered.
pub struct PendingCommit {
    generation: Generation,
    offsets: Vec<(TopicPartition, Offset)>,
    task: madsim::task::JoinHandle<CommitOutcome>,
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
}
