//! Consumer group requests: finding the coordinator, membership (join, sync, heartbeat,
//! leave) and committed offsets. They travel as [`super::Request::Group`] and
//! [`super::Response::Group`].

use super::error::ErrorCode;
use super::ids::{BrokerEndpoint, Offset, ProducerIdAndEpoch, TopicPartition};
use super::modes::ServerAssignor;

/// A consumer group request, sent to the group's coordinator (FindCoordinator to any
/// broker).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRequest {
    /// Which broker coordinates `group`.
    FindCoordinator {
        /// The `group.id`.
        group: String,
    },
    /// Joins (or rejoins) the group; answered when the rebalance's join phase ends.
    JoinGroup {
        /// The `group.id`.
        group: String,
        /// The member id from an earlier join, or empty for a new member.
        member_id: String,
        /// The client's id, the prefix of a new member id.
        client_id: String,
        /// `group.instance.id`, for a static member (KIP-345).
        group_instance_id: Option<String>,
        /// `session.timeout.ms`.
        session_timeout_ms: u64,
        /// `max.poll.interval.ms`, the longest the coordinator waits for a rejoin.
        rebalance_timeout_ms: u64,
        /// The subscribed topics.
        topics: Vec<String>,
        /// The partitions the member owned before (for the sticky assignor).
        owned: Vec<TopicPartition>,
        /// The generation in which it owned them (`None` if it never had an assignment):
        /// the sticky assignor's user data since Kafka 2.3 (KIP-341).
        owned_generation: Option<u32>,
    },
    /// Ends a rebalance: the leader sends every member's assignment.
    SyncGroup {
        /// The `group.id`.
        group: String,
        /// The generation being synced.
        generation: u32,
        /// The member.
        member_id: String,
        /// `group.instance.id`, for a static member (KIP-345).
        group_instance_id: Option<String>,
        /// Every member's assignment (leader only; empty from the others).
        assignments: Vec<(String, Vec<TopicPartition>)>,
    },
    /// Keeps a member alive and tells it about rebalances.
    Heartbeat {
        /// The `group.id`.
        group: String,
        /// The member's generation.
        generation: u32,
        /// The member.
        member_id: String,
        /// `group.instance.id`, for a static member (KIP-345).
        group_instance_id: Option<String>,
    },
    /// Leaves the group at once (a clean close, or `max.poll.interval.ms` exceeded).
    LeaveGroup {
        /// The `group.id`.
        group: String,
        /// The member.
        member_id: String,
        /// `group.instance.id`, for a static member (KIP-345).
        group_instance_id: Option<String>,
    },
    /// Commits offsets (the next offset to consume, per partition).
    OffsetCommit {
        /// The `group.id`.
        group: String,
        /// The member's generation, or `None` for a standalone (assign-mode) commit.
        generation: Option<u32>,
        /// The member (empty for a standalone commit).
        member_id: String,
        /// `group.instance.id`, for a static member (KIP-345).
        group_instance_id: Option<String>,
        /// The offsets.
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// Commits offsets inside a transaction (`sendOffsetsToTransaction`, KIP-98): they
    /// take effect when the transaction commits and are dropped when it aborts. With a
    /// generation and member (KIP-447, Kafka 2.5+) a zombie member of an older
    /// generation is fenced as an OffsetCommit would be.
    TxnOffsetCommit {
        /// The producer's `transactional.id`.
        transactional_id: String,
        /// The `group.id`.
        group: String,
        /// The producer id and epoch the offsets are written under.
        producer: ProducerIdAndEpoch,
        /// The consumer's generation (KIP-447), if it sent its group metadata.
        generation: Option<u32>,
        /// The consumer's member id (empty without group metadata).
        member_id: String,
        /// The offsets.
        offsets: Vec<(TopicPartition, Offset)>,
    },
    /// A consumer-protocol member's heartbeat (KIP-848, `ConsumerGroupHeartbeat`): joins
    /// (epoch 0), keeps the member alive, acknowledges its reconciliation (its owned
    /// partitions) and leaves (epoch -1, or -2 for a static member's temporary leave).
    /// Fields left `None` are unchanged since the member's last heartbeat.
    ConsumerGroupHeartbeat(ConsumerHeartbeat),
    /// Reads committed offsets.
    OffsetFetch {
        /// The `group.id`.
        group: String,
        /// A consumer-protocol member's id and epoch (OffsetFetch v9, KIP-848), which the
        /// coordinator validates; `None` for anyone else.
        member: Option<(String, u32)>,
        /// The partitions.
        partitions: Vec<TopicPartition>,
    },
    /// Describes a group (DescribeGroups for a classic group, ConsumerGroupDescribe for
    /// a consumer-protocol one, as Kafka's admin `describeConsumerGroups` sends them):
    /// here only its state, what `kafka-consumer-groups.sh --reset-offsets` checks.
    DescribeGroup {
        /// The `group.id`.
        group: String,
    },
}

/// A group's state as DescribeGroups and ConsumerGroupDescribe name it (Kafka's admin
/// `GroupState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, strum::Display)]
pub enum DescribedGroupState {
    /// No members.
    Empty,
    /// A classic group waiting for its members to rejoin.
    PreparingRebalance,
    /// A classic group waiting for its leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
    /// A consumer-protocol group whose target assignment lags its group epoch.
    Assigning,
    /// A consumer-protocol group with a member not yet at its target.
    Reconciling,
    /// The coordinator knows no such group.
    Dead,
}

impl DescribedGroupState {
    /// Whether `kafka-consumer-groups.sh --reset-offsets` may reset the group: only an
    /// inactive one, Empty or Dead (`ConsumerGroupCommand.resetOffsets`).
    pub fn inactive(self) -> bool {
        matches!(self, DescribedGroupState::Empty | DescribedGroupState::Dead)
    }
}

/// A ConsumerGroupHeartbeat request (Kafka's `ConsumerGroupHeartbeatRequestData`, v1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerHeartbeat {
    /// The `group.id`.
    pub group: String,
    /// The member id, which the client generates once (KIP-1082) and keeps across
    /// rejoins.
    pub member_id: String,
    /// The member epoch: 0 to join, -1 to leave, -2 for a static member's temporary
    /// leave, else the epoch the member holds.
    pub member_epoch: i32,
    /// `group.instance.id`, for a static member.
    pub instance_id: Option<String>,
    /// The `client.id`.
    pub client_id: String,
    /// `max.poll.interval.ms`, the rebalance timeout (`None`: unchanged).
    pub rebalance_timeout_ms: Option<u64>,
    /// The subscribed topics (`None`: unchanged).
    pub subscribed_topics: Option<Vec<String>>,
    /// `SubscribedTopicRegex`: the regular expression of a `subscribe(SubscriptionPattern)`
    /// that the coordinator resolves (`None`: unchanged; empty: none).
    pub subscribed_topic_regex: Option<String>,
    /// `group.remote.assignor` (`None`: unchanged or none).
    pub server_assignor: Option<ServerAssignor>,
    /// The partitions the member owns (`None`: unchanged; sent when they changed, which
    /// acknowledges a reconciliation).
    pub owned: Option<Vec<TopicPartition>>,
}

/// A member of a group as the leader sees it in the JoinGroup response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMember {
    /// The member id.
    pub member_id: String,
    /// Its subscribed topics.
    pub topics: Vec<String>,
    /// The partitions it owned before.
    pub owned: Vec<TopicPartition>,
    /// The generation in which it owned them, if it had an assignment.
    pub owned_generation: Option<u32>,
}

/// The answer to a [`GroupRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupResponse {
    /// Answer to FindCoordinator.
    Coordinator {
        /// Why there is none, if there is none.
        error: Option<ErrorCode>,
        /// The coordinator.
        coordinator: Option<BrokerEndpoint>,
    },
    /// Answer to JoinGroup.
    Joined {
        /// Why the join failed, if it did.
        error: Option<ErrorCode>,
        /// The new generation.
        generation: u32,
        /// The member's id (new members learn theirs here).
        member_id: String,
        /// The leader's member id.
        leader: String,
        /// Every member (only in the leader's response).
        members: Vec<GroupMember>,
    },
    /// Answer to SyncGroup.
    Synced {
        /// Why the sync failed, if it did.
        error: Option<ErrorCode>,
        /// The member's assignment.
        assignment: Vec<TopicPartition>,
    },
    /// Answer to Heartbeat, LeaveGroup and OffsetCommit.
    Ack {
        /// Why the request was refused, if it was.
        error: Option<ErrorCode>,
    },
    /// Answer to ConsumerGroupHeartbeat.
    ConsumerHeartbeat {
        /// Why the heartbeat was refused, if it was.
        error: Option<ErrorCode>,
        /// The member id.
        member_id: String,
        /// The member's epoch now (-1 or -2 after a leave).
        member_epoch: i32,
        /// How soon the member should heartbeat again (`group.consumer.heartbeat.interval.ms`).
        heartbeat_interval_ms: u64,
        /// The partitions the member may use now, when they changed (or the request was
        /// a full one); `None` otherwise.
        assignment: Option<Vec<TopicPartition>>,
    },
    /// Answer to OffsetFetch.
    Offsets {
        /// Why the offsets could not be read, if they could not.
        error: Option<ErrorCode>,
        /// The committed offset per partition (`None`: nothing committed).
        offsets: Vec<(TopicPartition, Option<Offset>)>,
    },
    /// Answer to DescribeGroup.
    Described {
        /// Why the group could not be described, if it could not.
        error: Option<ErrorCode>,
        /// The group's state (`None` with an error).
        state: Option<DescribedGroupState>,
    },
}
