//! A member of a consumer-protocol group (KIP-848, `group.protocol = "consumer"`): Kafka
//! 4.0's `AsyncKafkaConsumer` membership (`ConsumerMembershipManager`,
//! `ConsumerHeartbeatRequestManager`). See `docs/design/kip848-consumer-protocol.md` §5.
//!
//! The background heartbeat task speaks ConsumerGroupHeartbeat: it joins with epoch 0,
//! learns the member epoch and the assignment the coordinator computed, heartbeats every
//! interval the coordinator names, and acknowledges a reconciliation by sending its owned
//! partitions at once. The application thread reconciles in `poll` (as Kafka runs the
//! rebalance callbacks on the application thread): it auto-commits, revokes what the
//! target took away, assigns what it added, and then asks for the acknowledgement.
//! There is no global barrier: a member keeps consuming what it keeps while others
//! rebalance, and receives a partition only once its previous owner has released it.
//!
//! States (Kafka's `MemberState`): `Joining` → `Reconciling` → `Acknowledging` →
//! `Stable`; `Fenced` (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID: the partitions are lost,
//! then the member rejoins with epoch 0 and the same member id); `Stale` (the application
//! did not poll within `max.poll.interval.ms`: the member left, its partitions are lost
//! and the next poll rejoins); `Fatal` (an error the consumer cannot overcome).

use super::commit::CommitBudget;
use super::coordinator::CoordinatorLink;
use super::{CommitOutcome, Generation, GroupConsumer, GroupListener};
use crate::client::backoff::RetryBackoff;
use crate::protocol::{ConsumerHeartbeat, ErrorCode, GroupRequest, GroupResponse, ServerAssignor, TopicPartition};
use crate::sim::clock;
use madsim::rand::{thread_rng, Rng};

/// The member epoch of a leave (`LEAVE_GROUP_MEMBER_EPOCH`).
const LEAVE_EPOCH: i32 = -1;
/// The member epoch of a static member's leave (`LEAVE_GROUP_STATIC_MEMBER_EPOCH`).
const STATIC_LEAVE_EPOCH: i32 = -2;
use madsim::time::{sleep_until, Instant};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where the member stands (Kafka's client-side `MemberState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Subscribed to a `java.util.regex.Pattern` that has matched no topic yet (Kafka's
    /// `UNSUBSCRIBED`, where `AsyncKafkaConsumer.subscribe(Pattern)` leaves a new member
    /// while its metadata knows no matching topic): it sends no heartbeat, and joins at
    /// the first poll after the pattern matched (`onSubscriptionUpdated`, then
    /// `onConsumerPoll`'s `transitionToJoining`).
    Unsubscribed,
    /// Joining (epoch 0): the next heartbeat is sent at once, with every field.
    Joining,
    /// A new assignment arrived; the application reconciles it in its next poll.
    Reconciling,
    /// Reconciled: the next heartbeat, sent at once, acknowledges it.
    Acknowledging,
    /// Holding its assignment.
    Stable,
    /// The coordinator fenced the member; its partitions are lost on the next poll, which
    /// rejoins.
    Fenced,
    /// It left because the application did not poll in time; the next poll rejoins.
    Stale,
    /// An error the consumer cannot overcome; `poll` raises it.
    Fatal(ErrorCode),
}

/// What the heartbeat task and the application share.
#[derive(Debug)]
pub struct Membership {
    /// The member id, generated once by the client (KIP-1082).
    pub member_id: String,
    /// The member epoch the coordinator gave last (0 while joining).
    pub epoch: i32,
    /// The state.
    pub state: MemberState,
    /// The latest assignment the coordinator sent that is not reconciled yet.
    pub target: Option<Vec<TopicPartition>>,
    /// The partitions the application holds (what heartbeats report as owned).
    pub owned: Vec<TopicPartition>,
    /// The owned partitions changed since the last heartbeat sent them.
    pub owned_changed: bool,
    /// The member must tell the application its partitions are lost.
    pub lost: bool,
    /// When the application last polled.
    pub last_poll: Instant,
    /// The next heartbeat sends every field (after a join or an error).
    pub send_full: bool,
    /// The topics the application subscribed to since the member started (`None`: those
    /// of its [`HeartbeatSettings`]).
    pub topics: Option<Vec<String>>,
    /// The subscription changed since the last heartbeat sent it (Kafka's
    /// `HeartbeatState` sends `SubscribedTopicNames` whenever they differ from those sent).
    pub topics_changed: bool,
    /// The regular expression of a `subscribe(SubscriptionPattern)`, which the
    /// coordinator resolves (KIP-848).
    pub regex: Option<String>,
    /// The regular expression changed since the last heartbeat sent it.
    pub regex_changed: bool,
}

/// The shared membership, and the heartbeat task's wake-up call.
#[derive(Clone, Debug)]
pub struct SharedMembership {
    state: Arc<Mutex<Membership>>,
    /// Rung by the application when a heartbeat must go at once (it joins again, or
    /// acknowledges a reconciliation), as Kafka's application thread wakes the
    /// background thread.
    wake: Arc<tokio::sync::Notify>,
}

impl SharedMembership {
    /// A member about to join, with a fresh member id (a UUID drawn from the simulation's
    /// seeded generator).
    pub fn new() -> Self {
        let state = Arc::new(Mutex::new(Membership {
            member_id: random_uuid(),
            epoch: 0,
            state: MemberState::Joining,
            target: None,
            owned: Vec::new(),
            owned_changed: false,
            lost: false,
            last_poll: clock::now(),
            send_full: true,
            topics: None,
            topics_changed: false,
            regex: None,
            regex_changed: false,
        }));
        SharedMembership { state, wake: Arc::default() }
    }

    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, Membership> {
        self.state.lock().expect("membership poisoned")
    }

    /// Asks the heartbeat task to look at the membership now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

impl Default for SharedMembership {
    fn default() -> Self {
        Self::new()
    }
}

/// A random UUID, as Kafka's `Uuid.randomUuid().toString()` (base64 in Kafka; hex here).
fn random_uuid() -> String {
    let bits: u128 = thread_rng().gen();
    format!("{bits:032x}")
}

/// What the heartbeat task needs to know.
#[derive(Clone, Debug)]
pub struct HeartbeatSettings {
    /// `client.id`.
    pub client_id: String,
    /// `group.instance.id`.
    pub instance_id: Option<String>,
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// `max.poll.interval.ms`, also the rebalance timeout.
    pub max_poll_interval_ms: u64,
    /// `group.remote.assignor`.
    pub remote_assignor: Option<ServerAssignor>,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580; every consumer-protocol member has
    /// one, the protocol came with 3.7).
    pub retry_backoff_max_ms: Option<u64>,
}

/// The member epoch a leaving member sends: -2 keeps a static member's place.
fn leave_epoch(settings: &HeartbeatSettings) -> i32 {
    if settings.instance_id.is_some() {
        STATIC_LEAVE_EPOCH
    } else {
        LEAVE_EPOCH
    }
}

/// The heartbeat task (Kafka's `ConsumerHeartbeatRequestManager` on the background
/// thread): runs until the consumer drops it.
pub async fn run(mut link: CoordinatorLink, membership: SharedMembership, settings: HeartbeatSettings) {
    let timeout = Duration::from_millis(settings.request_timeout_ms);
    // `RequestState`'s exponential backoff (KIP-580): a failed heartbeat waits
    // `backoff(numAttempts)` and counts one more attempt; an answer, or an error that
    // skips the backoff (`reset()`), starts the count again.
    let backoff = RetryBackoff::new(settings.retry_backoff_ms, settings.retry_backoff_max_ms);
    let mut failed_attempts = 0;
    let backoff_after_failure = |failed_attempts: &mut u64| {
        let wait = backoff.backoff(*failed_attempts);
        *failed_attempts += 1;
        clock::now() + wait
    };
    let max_poll_interval = Duration::from_millis(settings.max_poll_interval_ms);
    let mut next_due = clock::now();
    loop {
        // Armed before the membership is read, so that a wake-up in between is kept.
        let woken = membership.wake.notified();
        let (request, leaving, poll_deadline) = {
            let mut m = membership.lock();
            let poll_deadline = m.last_poll + max_poll_interval;
            let in_group = matches!(
                m.state,
                MemberState::Stable | MemberState::Reconciling | MemberState::Acknowledging | MemberState::Joining
            );
            if in_group && clock::now() > poll_deadline {
                // `maybeLeaveGroup` on poll timer expiry: leave (-2 for a static member),
                // then STALE; the partitions are lost.
                let leave = heartbeat_request(&m, &settings, link.group(), leave_epoch(&settings), false);
                m.state = MemberState::Stale;
                m.lost = true;
                m.epoch = 0;
                (Some(leave), true, None)
            } else if in_group
                && (matches!(m.state, MemberState::Joining | MemberState::Acknowledging) || clock::now() >= next_due)
            {
                let full = m.send_full || m.state == MemberState::Joining;
                let request = heartbeat_request(&m, &settings, link.group(), m.epoch, full);
                // Kafka's `onHeartbeatRequestGenerated`: the acknowledgement is on its way.
                if m.state == MemberState::Acknowledging {
                    m.state = if m.target.is_some() { MemberState::Reconciling } else { MemberState::Stable };
                }
                m.owned_changed = false;
                m.topics_changed = false;
                m.regex_changed = false;
                m.send_full = false;
                (Some(request), false, None)
            } else {
                (None, false, in_group.then_some(poll_deadline))
            }
        };
        let Some(request) = request else {
            // Nothing to send: wait for the application, the next heartbeat or the poll
            // timer (Kafka's `AbstractHeartbeatRequestManager.maximumTimeToWait`).
            // (Out of the group, only the application can move it on.)
            match poll_deadline {
                Some(poll) => {
                    // Both lie ahead: the poll timer fires once strictly past.
                    let until = poll.min(next_due) + Duration::from_nanos(1);
                    tokio::select! {
                        biased;
                        _ = woken => {}
                        _ = sleep_until(until) => {}
                    }
                }
                None => woken.await,
            }
            continue;
        };
        if leaving {
            // Kafka ignores the answer.
            let _ = link.call(GroupRequest::ConsumerGroupHeartbeat(request), timeout).await;
            continue;
        }
        let sent_epoch = request.member_epoch;
        let answer = link.call(GroupRequest::ConsumerGroupHeartbeat(request), timeout).await;
        tracing::debug!(epoch = sent_epoch, ?answer, "ConsumerGroupHeartbeat");
        let mut m = membership.lock();
        match answer {
            Ok(GroupResponse::ConsumerHeartbeat {
                error: None,
                member_epoch,
                heartbeat_interval_ms,
                assignment,
                ..
            }) => {
                next_due = clock::now() + Duration::from_millis(heartbeat_interval_ms);
                failed_attempts = 0;
                if matches!(m.state, MemberState::Fenced | MemberState::Stale | MemberState::Fatal(_)) {
                    continue; // An answer to a request sent before the member left.
                }
                m.epoch = member_epoch;
                match assignment {
                    Some(assignment) if sorted(&assignment) != sorted(&m.owned) => {
                        m.target = Some(assignment);
                        m.state = MemberState::Reconciling;
                    }
                    Some(_) => {
                        m.target = None;
                        if matches!(m.state, MemberState::Joining | MemberState::Reconciling) {
                            m.state = MemberState::Stable;
                        }
                    }
                    None if m.state == MemberState::Joining => m.state = MemberState::Stable,
                    None => {}
                }
            }
            Ok(GroupResponse::ConsumerHeartbeat { error: Some(error), .. }) => {
                m.send_full = true;
                match error {
                    ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId => {
                        // `transitionToFenced`: lose everything, then rejoin at once.
                        m.state = MemberState::Fenced;
                        m.lost = true;
                        m.epoch = 0;
                        next_due = clock::now();
                        failed_attempts = 0;
                    }
                    ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                        next_due = clock::now();
                        failed_attempts = 0;
                    }
                    error if error.is_retriable() => next_due = backoff_after_failure(&mut failed_attempts),
                    error => {
                        m.state = MemberState::Fatal(error);
                        m.lost = true;
                    }
                }
            }
            _ => {
                // No answer: try again after the backoff, with every field.
                m.send_full = true;
                next_due = backoff_after_failure(&mut failed_attempts);
            }
        }
    }
}

fn sorted(partitions: &[TopicPartition]) -> Vec<TopicPartition> {
    let mut out = partitions.to_vec();
    out.sort();
    out
}

/// A heartbeat from the member as it stands (Kafka's `HeartbeatState.buildRequestData`:
/// every field when joining or after an error, else only what changed; the owned
/// partitions whenever they changed, which acknowledges a reconciliation).
fn heartbeat_request(
    m: &Membership,
    settings: &HeartbeatSettings,
    group: &str,
    epoch: i32,
    full: bool,
) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group: group.to_string(),
        member_id: m.member_id.clone(),
        member_epoch: epoch,
        instance_id: settings.instance_id.clone(),
        client_id: settings.client_id.clone(),
        rebalance_timeout_ms: full.then_some(settings.max_poll_interval_ms),
        subscribed_topics: (full || m.topics_changed)
            .then(|| m.topics.clone().unwrap_or_else(|| settings.topics.clone())),
        subscribed_topic_regex: ((full && m.regex.is_some()) || m.regex_changed)
            .then(|| m.regex.clone().unwrap_or_default()),
        server_assignor: full.then_some(settings.remote_assignor).flatten(),
        owned: (full || m.owned_changed).then(|| m.owned.clone()),
    }
}

/// The leave heartbeat a closing member sends (epoch -1, or -2 for a static member),
/// once (Kafka ignores its answer).
pub async fn leave(link: &mut CoordinatorLink, membership: &SharedMembership, settings: &HeartbeatSettings) {
    let request = heartbeat_request(&membership.lock(), settings, link.group(), leave_epoch(settings), false);
    let timeout = Duration::from_millis(settings.request_timeout_ms);
    let _ = link.call(GroupRequest::ConsumerGroupHeartbeat(request), timeout).await;
}

/// The application-thread half of a consumer-protocol member: Kafka's
/// `AsyncKafkaConsumer.poll` and the reconciliation it runs.
impl GroupConsumer {
    /// `poll` of a consumer-protocol member (KIP-848; Kafka's `AsyncKafkaConsumer`):
    /// tells the listener of partitions lost when the member was fenced or left for a
    /// late poll, and rejoins; reconciles a new assignment (auto-commit, revoke, assign,
    /// then acknowledge); auto-commits when due. Commits carry the member epoch.
    pub(super) async fn consumer_protocol_poll(
        &mut self,
        listener: &mut impl GroupListener,
    ) -> Result<bool, ErrorCode> {
        let membership = self.kip848.as_ref().expect("a consumer-protocol member").0.clone();
        {
            // Kafka's poll hands the background thread a `PollEvent` before it matches the
            // pattern again: `onConsumerPoll` joins a member whose pattern matched at an
            // earlier poll (`subscriptionUpdated`), not yet one that matches in this one.
            let mut m = membership.lock();
            if m.state == MemberState::Unsubscribed && m.topics.is_some() {
                m.state = MemberState::Joining;
                m.send_full = true;
                membership.wake();
            }
        }
        self.update_pattern_subscription().await;
        let (state, lost, target, epoch, member_id) = {
            let mut m = membership.lock();
            m.last_poll = clock::now();
            (m.state, m.lost, m.target.clone(), m.epoch, m.member_id.clone())
        };
        if lost {
            if let Some(generation) = self.generation.take() {
                listener.partitions_lost(&generation, &self.assignment);
            }
            self.assignment.clear();
            self.consumer.assign(Vec::new());
            self.committed_offsets_pending = None;
            let mut m = membership.lock();
            m.lost = false;
            m.owned.clear();
            m.target = None;
            if matches!(m.state, MemberState::Fenced | MemberState::Stale) {
                // Kafka's `transitionToJoining`: epoch 0, the same member id.
                m.state = MemberState::Joining;
                m.epoch = 0;
                m.send_full = true;
                membership.wake();
            }
        }
        if let MemberState::Fatal(error) = state {
            return Err(error);
        }
        if lost {
            return Ok(false);
        }
        if epoch > 0 {
            self.generation = Some(Generation { member_id, generation: epoch as u32 });
        }
        if let (MemberState::Reconciling, Some(target)) = (state, target) {
            self.reconcile(&membership, target, listener).await;
        }
        if !self.finish_assignment(listener).await {
            return Ok(false);
        }
        self.maybe_auto_commit(listener).await;
        Ok(!self.assignment.is_empty())
    }

    /// A consumer-protocol member's commits carry the member epoch the heartbeat task
    /// learned last (Kafka's `CommitRequestManager.onMemberEpochUpdated`), not the one of
    /// the last poll: the epoch moves on at every heartbeat after a group epoch bump.
    pub(super) fn refresh_member_epoch(&mut self) {
        let Some((membership, _)) = &self.kip848 else { return };
        let epoch = membership.lock().epoch;
        if let (Some(generation), true) = (self.generation.as_mut(), epoch > 0) {
            generation.generation = epoch as u32;
        }
    }

    /// Kafka's `maybeReconcile` on the application thread: commits what was consumed
    /// (auto-commit, before every reconciliation), revokes what the target took away,
    /// holds the target (reading the committed offsets of what it added), and asks the
    /// heartbeat task to acknowledge.
    async fn reconcile(
        &mut self,
        membership: &SharedMembership,
        target: Vec<TopicPartition>,
        listener: &mut impl GroupListener,
    ) {
        // `maybeAutoCommitSyncBeforeRevocation`: retried within the rebalance timeout,
        // STALE_MEMBER_EPOCH included (with the latest epoch); revocation goes on even
        // if it never succeeds.
        let deadline = clock::now() + Duration::from_millis(self.config.max_poll_interval_ms);
        loop {
            let budget = CommitBudget::Retry(deadline.saturating_duration_since(clock::now()));
            let outcome = self.auto_commit(budget, listener).await;
            let stale = outcome == Some(CommitOutcome::Refused(ErrorCode::StaleMemberEpoch));
            if !stale || clock::now() >= deadline {
                break;
            }
            madsim::time::sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
        }
        self.refresh_member_epoch();
        let generation = self.generation.clone().expect("a member with an epoch");
        let revoked: Vec<TopicPartition> = self.assignment.iter().filter(|tp| !target.contains(tp)).cloned().collect();
        self.revoke(&generation, &revoked, listener).await;
        self.hold(target.clone());
        let mut m = membership.lock();
        m.owned = target.clone();
        m.owned_changed = true;
        if m.target.as_ref() == Some(&target) {
            m.target = None;
        }
        if m.state == MemberState::Reconciling {
            m.state = MemberState::Acknowledging;
            membership.wake();
        }
    }
}
