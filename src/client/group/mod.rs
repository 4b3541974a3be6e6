//! The consumer in `subscribe` mode: a member of a consumer group (Kafka's
//! `ConsumerCoordinator` over the standalone [`Consumer`]).
//!
//! Kafka's `KafkaConsumer::poll()` does two things, which this type exposes as two
//! steps so that the workload can record each as its own operation:
//! [`GroupConsumer::coordinator_poll`] (rejoin if a rebalance is due, committing first
//! when auto-commit is on, then fetch the committed offsets of the new assignment; and
//! auto-commit when its interval has passed) and [`GroupConsumer::fetch`] (fetch
//! records from the assigned partitions). Rebalances are eager, as with Kafka's classic
//! protocol: every partition is revoked before a rejoin and positions restart from the
//! committed offsets.
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
pub mod coordinator;
mod heartbeat;

pub use coordinator::{CoordinatorLink, LinkError};
pub use heartbeat::{HeartbeatConfig, Membership, SharedMembership};

use commit::{commit_with_retries, CommitBudget};

use super::assignor::{self, MemberSubscription};
use super::consumer::{ConsumedRecord, Consumer, ConsumerConfig, ConsumerError};
use crate::protocol::AssignmentStrategy;
use crate::protocol::StickyAlgorithm;
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, Offset, Request, Response, TopicPartition};
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
    /// `default.api.timeout.ms`: how long `commitSync` keeps retrying (Kafka 2.0,
    /// KIP-266, default 60000; before 2.0 it retried without limit: `u64::MAX`).
    pub default_api_timeout_ms: u64,
    /// Which release's sticky assignor the leader runs (it changed in Kafka 2.6).
    pub sticky_algorithm: StickyAlgorithm,
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
    /// The member's partitions are revoked before it rejoins.
    fn partitions_revoked(&mut self, generation: &Generation, partitions: &[TopicPartition]);
    /// The member got its assignment in a new generation.
    fn partitions_assigned(&mut self, generation: &Generation, partitions: &[TopicPartition]);
}

/// `KafkaConsumer.close()`'s timeout, which bounds its final auto-commit, in milliseconds.
const CLOSE_TIMEOUT_MS: u64 = 30_000;

/// Extra time a JoinGroup may take beyond the rebalance timeout (Kafka: 5 s).
const JOIN_GRACE_MS: u64 = 5_000;

/// A consumer group member.
pub struct GroupConsumer {
    consumer: Consumer,
    consumer_config: ConsumerConfig,
    config: GroupConfig,
    topics: Vec<String>,
    link: CoordinatorLink,
    /// The connection asynchronous commits use, one at a time.
    async_link: Arc<tokio::sync::Mutex<CoordinatorLink>>,
    membership: SharedMembership,
    heartbeat: madsim::task::JoinHandle<()>,
    /// The generation whose assignment the member holds, if any.
    generation: Option<Generation>,
    /// The partitions it holds.
    assignment: Vec<TopicPartition>,
    /// What it held last, and in which generation, sent in JoinGroup for the sticky
    /// assignor (its user data).
    previous_assignment: (Vec<TopicPartition>, Option<u32>),
    /// Set after a join until the committed offsets of the assignment are read.
    committed_offsets_pending: bool,
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
        let membership = SharedMembership::new(config.group_instance_id.clone());
        let bootstrap = consumer_config.bootstrap.clone();
        let heartbeat_link = CoordinatorLink::new(net.clone(), bootstrap.clone(), &config.group_id);
        let heartbeat_config = HeartbeatConfig {
            interval_ms: config.heartbeat_interval_ms,
            max_poll_interval_ms: config.max_poll_interval_ms,
            request_timeout_ms: consumer_config.request_timeout_ms,
        };
        let heartbeat = madsim::task::spawn(heartbeat::run(heartbeat_link, membership.clone(), heartbeat_config));
        GroupConsumer {
            consumer: Consumer::new(net.clone(), consumer_config.clone()),
            async_link: Arc::new(tokio::sync::Mutex::new(CoordinatorLink::new(
                net.clone(),
                bootstrap.clone(),
                &config.group_id,
            ))),
            link: CoordinatorLink::new(net, bootstrap, &config.group_id),
            next_auto_commit: Instant::now() + Duration::from_millis(config.auto_commit_interval_ms),
            consumer_config,
            topics,
            membership,
            heartbeat,
            generation: None,
            assignment: Vec::new(),
            previous_assignment: (Vec::new(), None),
            committed_offsets_pending: false,
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
        if self.read_committed_offsets().await {
            return true;
        }
        // Read on the next poll instead (which records the assignment again).
        self.committed_offsets_pending = true;
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

    /// Sets the next offset to fetch for a held partition (Kafka's `seek`).
    pub fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        self.consumer.seek(tp, offset);
    }

    /// The group part of Kafka's `poll()`: notes the poll (for `max.poll.interval.ms`),
    /// rejoins if a rebalance is due (auto-committing first, then revoking every
    /// partition), reads the committed offsets of a new assignment, and auto-commits when
    /// the interval has passed. Returns whether the member holds an assignment and may
    /// fetch; if not, the caller backs off and calls again (one join attempt per call).
    /// An error is fatal: Kafka's `poll()` throws it (e.g. INVALID_SESSION_TIMEOUT, an
    /// `InvalidSessionTimeoutException`, when the brokers refuse `session.timeout.ms`).
    pub async fn coordinator_poll(&mut self, listener: &mut impl GroupListener) -> Result<bool, ErrorCode> {
        let rejoin = {
            let mut m = self.membership.lock();
            if m.fenced {
                return Err(ErrorCode::FencedInstanceId);
            }
            m.last_poll = Instant::now();
            m.rejoin_needed || m.generation.is_none()
        };
        if rejoin {
            self.prepare_rejoin(listener).await;
            if !self.join().await? {
                return Ok(false);
            }
        }
        if self.committed_offsets_pending {
            if !self.read_committed_offsets().await {
                return Ok(false);
            }
            self.committed_offsets_pending = false;
            let generation = self.generation.clone().expect("joined");
            listener.partitions_assigned(&generation, &self.assignment);
        }
        self.maybe_auto_commit(listener).await;
        Ok(true)
    }

    /// The fetch part of Kafka's `poll()`: records from the held partitions, advancing
    /// the positions past what is returned.
    /// Fails as [`Consumer::poll`] does, only under `auto.offset.reset = "none"`.
    pub async fn fetch(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        self.consumer.poll().await
    }

    /// [`fetch`](Self::fetch) that does not wait for data to arrive (Kafka's `poll`
    /// with a zero timeout), for an application whose worker is still busy.
    pub async fn fetch_without_waiting(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        self.consumer.poll_waiting(0).await
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
        let Some(generation) = self.generation.clone() else {
            return CommitOutcome::Refused(ErrorCode::UnknownMemberId);
        };
        listener.commit_started(&generation, &offsets);
        let (timeout, backoff) = (self.request_timeout(), Duration::from_millis(self.config.retry_backoff_ms));
        let outcome =
            commit_with_retries(&mut self.link, &self.membership, &generation, &offsets, budget, timeout, backoff)
                .await;
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

    /// Every held partition's position: what auto-commit commits.
    pub fn consumed_offsets(&self) -> Vec<(TopicPartition, Offset)> {
        self.assignment.iter().filter_map(|tp| Some((tp.clone(), self.consumer.position(tp)?))).collect()
    }

    /// Closes the member cleanly (Kafka's `close()`): auto-commits if enabled (retrying
    /// within the close timeout), then leaves the group so that its partitions move at
    /// once.
    pub async fn close(mut self, listener: &mut impl GroupListener) {
        self.auto_commit(CommitBudget::Retry(Duration::from_millis(CLOSE_TIMEOUT_MS)), listener).await;
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

    /// Kafka's `onJoinPrepare`: commit what was consumed (auto-commit, retried within
    /// the rebalance timeout), then revoke every held partition; positions are forgotten.
    async fn prepare_rejoin(&mut self, listener: &mut impl GroupListener) {
        let Some(generation) = self.generation.clone() else { return };
        let still_member = self.membership.lock().generation == Some(generation.generation);
        if still_member {
            let budget = CommitBudget::Retry(Duration::from_millis(self.config.max_poll_interval_ms));
            self.auto_commit(budget, listener).await;
        }
        listener.partitions_revoked(&generation, &self.assignment);
        self.previous_assignment = (std::mem::take(&mut self.assignment), Some(generation.generation));
        self.generation = None;
        self.committed_offsets_pending = false;
        self.consumer.assign(Vec::new());
    }

    /// One JoinGroup + SyncGroup round. Returns whether the member got an assignment, or
    /// the error that makes joining impossible (a JoinGroup error that is not retriable,
    /// which Kafka's `joinGroupIfNeeded` throws).
    async fn join(&mut self) -> Result<bool, ErrorCode> {
        let member_id = self.membership.lock().member_id.clone();
        let join = GroupRequest::JoinGroup {
            group: self.config.group_id.clone(),
            member_id,
            client_id: self.config.client_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            session_timeout_ms: self.config.session_timeout_ms,
            rebalance_timeout_ms: self.config.max_poll_interval_ms,
            topics: self.topics.clone(),
            owned: self.previous_assignment.0.clone(),
            owned_generation: self.previous_assignment.1,
        };
        let join_timeout =
            self.request_timeout().max(Duration::from_millis(self.config.max_poll_interval_ms + JOIN_GRACE_MS));
        let (generation, member_id, leader, members) = match self.link.call(join, join_timeout).await {
            Ok(GroupResponse::Joined { error: None, generation, member_id, leader, members }) => {
                (generation, member_id, leader, members)
            }
            Ok(GroupResponse::Joined { error: Some(ErrorCode::UnknownMemberId), .. }) => {
                self.membership.lock().member_id.clear();
                return Ok(false);
            }
            Ok(GroupResponse::Joined { error: Some(error), .. }) if !error.is_retriable() => return Err(error),
            _ => return Ok(false),
        };
        self.membership.lock().member_id = member_id.clone();
        let assignments = if leader == member_id { self.assign(&members).await } else { Vec::new() };
        let sync = GroupRequest::SyncGroup {
            group: self.config.group_id.clone(),
            generation,
            member_id: member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
            assignments,
        };
        let assignment = match self.link.call(sync, join_timeout).await {
            Ok(GroupResponse::Synced { error: None, assignment }) => assignment,
            Ok(GroupResponse::Synced { error: Some(ErrorCode::UnknownMemberId), .. }) => {
                self.membership.lock().member_id.clear();
                return Ok(false);
            }
            _ => return Ok(false),
        };
        {
            let mut m = self.membership.lock();
            if m.member_id != member_id {
                return Ok(false); // The heartbeat thread gave up the membership meanwhile.
            }
            m.generation = Some(generation);
            m.rejoin_needed = false;
        }
        self.group_metadata.generation_id = Some(generation);
        self.group_metadata.member_id = member_id.clone();
        self.generation = Some(Generation { member_id, generation });
        self.assignment = assignment.clone();
        self.consumer.assign(assignment);
        self.committed_offsets_pending = true;
        Ok(true)
    }

    /// The leader's work in a rebalance: the assignor over every member's subscription.
    async fn assign(&mut self, members: &[crate::protocol::GroupMember]) -> Vec<(String, Vec<TopicPartition>)> {
        let mut partitions = BTreeMap::new();
        let mut topics: Vec<&String> = members.iter().flat_map(|m| &m.topics).collect();
        topics.sort();
        topics.dedup();
        for topic in topics {
            let count = self.consumer.partitions_for(topic).await.len() as u32;
            if count > 0 {
                partitions.insert(topic.clone(), count);
            }
        }
        let subscriptions: Vec<MemberSubscription> = members
            .iter()
            .map(|m| MemberSubscription {
                member_id: m.member_id.clone(),
                topics: m.topics.clone(),
                owned: m.owned.clone(),
                generation: m.owned_generation,
            })
            .collect();
        let sticky = self.config.sticky_algorithm;
        assignor::assign_with(self.config.strategy, sticky, &subscriptions, &partitions).into_iter().collect()
    }

    /// OffsetFetch for the held partitions; positions start at the committed offsets,
    /// and partitions without one are reset by `auto.offset.reset` on the first fetch.
    async fn read_committed_offsets(&mut self) -> bool {
        let request =
            GroupRequest::OffsetFetch { group: self.config.group_id.clone(), partitions: self.assignment.clone() };
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
        if !self.config.enable_auto_commit || Instant::now() < self.next_auto_commit {
            return;
        }
        self.next_auto_commit = Instant::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        if self.auto_commit(CommitBudget::OneAttempt, listener).await.is_some_and(|o| o.is_retriable_failure()) {
            self.next_auto_commit = Instant::now() + Duration::from_millis(self.config.retry_backoff_ms);
        }
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
        let generation = self.generation.clone()?;
        listener.commit_started(&generation, &offsets);
        let (link, membership, timeout) = (self.async_link.clone(), self.membership.clone(), self.request_timeout());
        let (gen, sent) = (generation.clone(), offsets.clone());
        let task = madsim::task::spawn(async move {
            let mut link = link.lock().await;
            let once = CommitBudget::OneAttempt;
            commit_with_retries(&mut link, &membership, &gen, &sent, once, timeout, Duration::ZERO).await
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
        self.heartbeat.abort();
    }
}
