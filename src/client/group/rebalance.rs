//! Rebalances, from the member's side: the group part of `poll()` (Kafka's
//! `ConsumerCoordinator.poll`), the work before a rejoin (`onJoinPrepare`) and after it
//! (`onJoinComplete`), and giving the partitions up when the member leaves (`close`,
//! `unsubscribe`: `onLeavePrepare`).

use super::commit::CommitBudget;
use super::join::{self, JoinOutcome, JoinRequest, Joiner};
use super::{consumer_protocol, Generation, GroupConsumer, GroupListener};
use crate::protocol::{ErrorCode, GroupRequest, RebalanceProtocol, TopicPartition};
use crate::sim::clock;
use std::time::Duration;

/// `KafkaConsumer.close()`'s timeout, which bounds its final auto-commit, in milliseconds.
const CLOSE_TIMEOUT_MS: u64 = 30_000;

impl GroupConsumer {
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
    pub(super) async fn finish_assignment(&mut self, listener: &mut impl GroupListener) -> bool {
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
    pub(super) async fn revoke(
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
    pub(super) fn hold(&mut self, assignment: Vec<TopicPartition>) {
        let waiting = self.committed_offsets_pending.take().unwrap_or_default();
        let pending: Vec<TopicPartition> =
            assignment.iter().filter(|tp| !self.assignment.contains(tp) || waiting.contains(tp)).cloned().collect();
        self.assignment = assignment.clone();
        self.consumer.assign(assignment);
        self.committed_offsets_pending = Some(pending);
    }
}
