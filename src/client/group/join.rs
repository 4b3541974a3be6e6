//! One rebalance round of a group member: JoinGroup, the leader's assignment, SyncGroup
//! (Kafka's `AbstractCoordinator.joinGroupIfNeeded` → `JoinGroupResponseHandler` →
//! `onLeaderElected` → `SyncGroupResponseHandler`).
//!
//! The round runs as its own task, beside the application's fetches: Kafka's
//! `KafkaConsumer.poll` calls `ConsumerCoordinator.poll(timer, waitForJoinGroup = false)`,
//! which sends the JoinGroup and returns at once, so a member that keeps partitions
//! through the rebalance (the cooperative protocol, KIP-429) goes on consuming them while
//! the group waits for every member to rejoin. The task takes the connection and the
//! metadata it needs and hands them back with its outcome.

use super::heartbeat::SharedMembership;
use super::{CoordinatorLink, GroupConfig};
use crate::client::assignor::{self, MemberSubscription};
use crate::client::metadata::ClusterView;
use crate::protocol::{ErrorCode, GroupMember, GroupRequest, GroupResponse, TopicPartition};
use crate::sim::net::Addr;
use std::collections::BTreeMap;
use std::time::Duration;

/// Extra time a JoinGroup may take beyond the rebalance timeout (Kafka: 5 s).
const JOIN_GRACE_MS: u64 = 5_000;

/// How long a JoinGroup of a member with this `max.poll.interval.ms` (its rebalance
/// timeout) waits for its answer, if `request.timeout.ms` is shorter (Kafka's
/// `AbstractCoordinator.joinGroupTimeoutMs`: 305 s by default). A coordinator that fell
/// silent mid-rebalance (its machine lost power, so no reset) is noticed only then.
pub fn join_wait(max_poll_interval_ms: u64) -> Duration {
    Duration::from_millis(max_poll_interval_ms + JOIN_GRACE_MS)
}

/// The connection to the coordinator and the metadata a round uses; moved into the
/// round's task and handed back when it ends.
pub(super) struct Joiner {
    /// The member's connection for JoinGroup and SyncGroup.
    pub link: CoordinatorLink,
    /// The leader's view of the subscribed topics' partitions.
    pub view: ClusterView,
}

impl Joiner {
    /// Rounds over `link` (the member's link to its coordinator) with an empty view.
    pub fn new(link: CoordinatorLink, bootstrap: &[Addr]) -> Self {
        let mut view = ClusterView::new(link.net().clone(), bootstrap.to_vec());
        view.set_connection_settings(link.connection_settings());
        Joiner { link, view }
    }
}

/// What the member tells the coordinator in its JoinGroup.
pub(super) struct JoinRequest {
    /// The group settings.
    pub config: GroupConfig,
    /// The subscribed topics.
    pub topics: Vec<String>,
    /// The partitions it owns (cooperative) or owned last (eager, for the sticky
    /// assignor), and in which generation.
    pub owned: (Vec<TopicPartition>, Option<u32>),
    /// `request.timeout.ms`.
    pub request_timeout: Duration,
}

/// What a round came to.
#[derive(Debug)]
pub(super) enum JoinOutcome {
    /// The member is in `generation` as `member_id`, with `assignment`.
    Joined {
        /// The new generation.
        generation: u32,
        /// The member's id in it.
        member_id: String,
        /// Its partitions.
        assignment: Vec<TopicPartition>,
        /// On the leader, the partition count of every subscribed topic it assigned
        /// from (Kafka's `assignmentSnapshot`); `None` on the other members.
        metadata_snapshot: Option<BTreeMap<String, u32>>,
    },
    /// No assignment this round (the coordinator moved or did not answer, the rebalance
    /// started over, the member id was forgotten): the next poll tries again.
    Again,
    /// A JoinGroup error that is not retriable (Kafka's `joinGroupIfNeeded` throws it).
    Fatal(ErrorCode),
}

/// A round in flight: its task hands back the [`Joiner`] and the outcome.
pub(super) type JoinTask = madsim::task::JoinHandle<(Joiner, JoinOutcome)>;

/// Starts a round on the current node.
pub(super) fn spawn(joiner: Joiner, membership: SharedMembership, request: JoinRequest) -> JoinTask {
    // Set before the task starts, so that no heartbeat slips in before the JoinGroup; an
    // aborted round (the consumer closes) leaves it set, with nothing left to beat for.
    membership.lock().round_in_flight = true;
    crate::sim::tasks::spawn(async move {
        let mut joiner = joiner;
        let outcome = round(&mut joiner, &membership, &request).await;
        membership.lock().round_in_flight = false;
        (joiner, outcome)
    })
}

/// One JoinGroup + SyncGroup round; the membership learns the member id and, once the
/// assignment arrived, the generation.
async fn round(joiner: &mut Joiner, membership: &SharedMembership, request: &JoinRequest) -> JoinOutcome {
    let config = &request.config;
    let member_id = membership.lock().member_id.clone();
    let join = GroupRequest::JoinGroup {
        group: config.group_id.clone(),
        member_id,
        client_id: config.client_id.clone(),
        group_instance_id: config.group_instance_id.clone(),
        session_timeout_ms: config.session_timeout_ms,
        rebalance_timeout_ms: config.max_poll_interval_ms,
        topics: request.topics.clone(),
        owned: request.owned.0.clone(),
        owned_generation: request.owned.1,
    };
    let join_timeout = request.request_timeout.max(join_wait(config.max_poll_interval_ms));
    tracing::debug!(owned = ?request.owned, "JoinGroup");
    let (generation, member_id, leader, members) = match joiner.link.call(join, join_timeout).await {
        Ok(GroupResponse::Joined { error: None, generation, member_id, leader, members }) => {
            (generation, member_id, leader, members)
        }
        Ok(GroupResponse::Joined { error: Some(ErrorCode::UnknownMemberId), .. }) => {
            membership.lock().member_id.clear();
            return JoinOutcome::Again;
        }
        Ok(GroupResponse::Joined { error: Some(error), .. }) if !error.is_retriable() => {
            return JoinOutcome::Fatal(error)
        }
        other => {
            tracing::debug!(?other, "JoinGroup failed");
            return JoinOutcome::Again;
        }
    };
    membership.lock().member_id = member_id.clone();
    let (assignments, metadata_snapshot) = if leader == member_id {
        let (assignments, snapshot) = assign(joiner, config, &members, request).await;
        (assignments, Some(snapshot))
    } else {
        (Vec::new(), None)
    };
    let sync = GroupRequest::SyncGroup {
        group: config.group_id.clone(),
        generation,
        member_id: member_id.clone(),
        group_instance_id: config.group_instance_id.clone(),
        assignments,
    };
    tracing::debug!(generation, leader = leader == member_id, "SyncGroup");
    // SyncGroup waits request.timeout.ms, not the JoinGroup's rebalance timeout: Kafka's
    // `AbstractCoordinator.sendSyncGroupRequest` sends it with the client's default
    // request timeout (only JoinGroup gets `joinGroupTimeoutMs`). With the longer wait a
    // member whose coordinator lost power while the SyncGroup was in its purgatory waited
    // out max.poll.interval.ms (5 minutes) and its group never formed again (swarm-wide
    // seed 287).
    let assignment = match joiner.link.call(sync, request.request_timeout).await {
        Ok(GroupResponse::Synced { error: None, assignment }) => assignment,
        Ok(GroupResponse::Synced { error: Some(ErrorCode::UnknownMemberId), .. }) => {
            membership.lock().member_id.clear();
            return JoinOutcome::Again;
        }
        other => {
            tracing::debug!(?other, "SyncGroup failed");
            return JoinOutcome::Again;
        }
    };
    tracing::debug!(generation, ?assignment, "synced");
    let mut m = membership.lock();
    if m.member_id != member_id {
        return JoinOutcome::Again; // The heartbeat thread gave up the membership meanwhile.
    }
    m.generation = Some(generation);
    m.rejoin_needed = false;
    JoinOutcome::Joined { generation, member_id, assignment, metadata_snapshot }
}

/// The leader's work in a rebalance: the assignor over every member's subscription, with
/// fresh metadata of every subscribed topic (Kafka's `updateGroupSubscription`). Returns
/// the assignments and the partition counts they were made from, 0 for a subscribed
/// topic the metadata does not have (Kafka's `MetadataSnapshot` leaves such a topic out,
/// so its appearance later changes the snapshot all the same).
async fn assign(
    joiner: &mut Joiner,
    config: &GroupConfig,
    members: &[GroupMember],
    request: &JoinRequest,
) -> (Vec<(String, Vec<TopicPartition>)>, BTreeMap<String, u32>) {
    let mut topics: Vec<String> = members.iter().flat_map(|m| m.topics.iter().cloned()).collect();
    topics.sort();
    topics.dedup();
    joiner.view.refresh(&topics, request.request_timeout).await;
    let partitions: BTreeMap<String, u32> =
        joiner.view.partition_counts().into_iter().filter(|(t, n)| *n > 0 && topics.contains(t)).collect();
    let subscriptions: Vec<MemberSubscription> = members
        .iter()
        .map(|m| MemberSubscription {
            member_id: m.member_id.clone(),
            topics: m.topics.clone(),
            owned: m.owned.clone(),
            generation: m.owned_generation,
        })
        .collect();
    let assignments = assignor::assign_with(config.strategy, config.sticky_algorithm, &subscriptions, &partitions)
        .into_iter()
        .collect();
    let snapshot = topics
        .into_iter()
        .map(|t| {
            let count = partitions.get(&t).copied().unwrap_or(0);
            (t, count)
        })
        .collect();
    (assignments, snapshot)
}
