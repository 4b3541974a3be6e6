//! The KRaft wire vocabulary: the quorum's Raft messages (KIP-595), the metadata log's
//! entries and records (KIP-631), and the requests brokers send the active controller
//! (BrokerRegistration, BrokerHeartbeat, AlterPartition). The logic that acts on them
//! lives in `raft` (pure) and `kraft` (the processes).

use super::error::ErrorCode;
use super::ids::{BrokerId, NodeId, Offset};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A Raft epoch (Kafka's quorum `leaderEpoch`): bumped by every candidacy.
pub type Epoch = u32;

/// An offset with the epoch of the entry just before it: a log's end as Raft compares
/// logs (Kafka's `OffsetAndEpoch`). Ordered by epoch first, then offset, as
/// `OffsetAndEpoch.compareTo` is, which is the "log up to date" rule of a vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffsetAndEpoch {
    /// The epoch (compared first).
    pub epoch: Epoch,
    /// The offset.
    pub offset: Offset,
}

/// What an entry holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Payload<R> {
    /// The control record a new leader writes first (Kafka's `LeaderChangeMessage`), so
    /// that it can commit an entry of its own epoch at once.
    LeaderChange,
    /// A record of the state machine (the metadata log's records).
    Data(R),
}

/// One entry of the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<R> {
    /// The epoch of the leader that appended it.
    pub epoch: Epoch,
    /// What it holds.
    pub payload: Payload<R>,
}

/// Why a quorum request was refused (Kafka's `Errors` codes that KRaft uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumError {
    /// The request's epoch is older than the receiver's.
    FencedLeaderEpoch,
    /// The request's epoch is newer than the receiver's (it has not heard of it yet).
    UnknownLeaderEpoch,
    /// A leader-only request reached a node that is not the leader.
    NotLeaderOrFollower,
}

/// A message between two quorum members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumMessage<R> {
    /// A candidate (or, with `pre_vote`, a prospective candidate, KIP-996) asks for a vote,
    /// showing the end of its log.
    Vote {
        /// The epoch the candidate stands in; for a pre-vote, the prospective's current
        /// epoch (it would stand in the next).
        epoch: Epoch,
        /// The end of the candidate's log.
        last: OffsetAndEpoch,
        /// A pre-vote changes no one's state: it asks whether a real vote would win.
        pre_vote: bool,
    },
    /// The answer to [`QuorumMessage::Vote`].
    VoteResponse {
        /// The voter's epoch.
        epoch: Epoch,
        /// The leader the voter knows in that epoch, if any.
        leader: Option<NodeId>,
        /// Whether the vote (or pre-vote) is granted.
        granted: bool,
        /// Echoes the request's `pre_vote`.
        pre_vote: bool,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
    },
    /// A new leader announces its epoch to every voter.
    BeginQuorumEpoch {
        /// The leader's epoch.
        epoch: Epoch,
    },
    /// The answer to [`QuorumMessage::BeginQuorumEpoch`].
    BeginQuorumEpochResponse {
        /// The receiver's epoch.
        epoch: Epoch,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
    },
    /// A leader that resigns tells the voters, with the successors it prefers (those
    /// with the longest logs first), so that they stand at once.
    EndQuorumEpoch {
        /// The resigning leader's epoch.
        epoch: Epoch,
        /// The voters in order of preference.
        preferred_successors: Vec<NodeId>,
    },
    /// A follower asks the leader for the entries from `fetch_offset`, showing the epoch
    /// of its last entry (KIP-595's fetch-based replication).
    Fetch {
        /// The leader epoch the follower follows.
        epoch: Epoch,
        /// The follower's log end.
        fetch_offset: Offset,
        /// The epoch of the follower's last entry.
        last_fetched_epoch: Epoch,
    },
    /// The answer to [`QuorumMessage::Fetch`].
    FetchResponse {
        /// The receiver's epoch.
        epoch: Epoch,
        /// The leader the receiver knows in that epoch.
        leader: Option<NodeId>,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
        /// Where the follower's log diverges from the leader's: truncate, then fetch again.
        diverging: Option<OffsetAndEpoch>,
        /// The offset of the first entry: the fetch offset the leader answered.
        from_offset: Offset,
        /// The entries from `from_offset` (none when diverging).
        entries: Vec<Entry<R>>,
        /// The leader's high watermark, once it has one.
        high_watermark: Option<Offset>,
    },
}

impl<R> QuorumMessage<R> {
    /// Whether this message answers a request (it goes back on the request's connection).
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            QuorumMessage::VoteResponse { .. }
                | QuorumMessage::BeginQuorumEpochResponse { .. }
                | QuorumMessage::FetchResponse { .. }
        )
    }

    /// The message's name, as Kafka's API keys spell it.
    pub fn name(&self) -> &'static str {
        match self {
            QuorumMessage::Vote { .. } => "Vote",
            QuorumMessage::VoteResponse { .. } => "VoteResponse",
            QuorumMessage::BeginQuorumEpoch { .. } => "BeginQuorumEpoch",
            QuorumMessage::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            QuorumMessage::EndQuorumEpoch { .. } => "EndQuorumEpoch",
            QuorumMessage::Fetch { .. } => "Fetch",
            QuorumMessage::FetchResponse { .. } => "FetchResponse",
        }
    }
}

pub use super::ids::TopicId;

/// A partition leader's recovery state after an unclean election (KIP-704).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaderRecoveryState {
    /// The leader's log is the partition's.
    Recovered,
    /// An uncleanly elected leader that has not yet recovered its log: the ISR stays
    /// the leader alone until it has.
    Recovering,
}

/// What a [`MetadataRecord::PartitionChange`] does to the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LeaderChange {
    /// The leader stays, and so does the leader epoch (Kafka's `NO_LEADER_CHANGE`, -2).
    Unchanged,
    /// A new leader (`None`: the partition has none), and the leader epoch goes up by one
    /// even when the new leader is the old one: that is how the controller bumps the
    /// epoch without a leader change.
    To(Option<BrokerId>),
}

/// One record of the metadata log.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetadataRecord {
    /// A broker registered (or registered again after a restart: a new incarnation).
    /// Its broker epoch is the offset of this record in the log.
    RegisterBroker {
        /// The broker.
        broker: BrokerId,
        /// Unique per process start (Kafka's `incarnationId`).
        incarnation_id: u64,
        /// The broker epoch.
        broker_epoch: u64,
        /// A broker registers fenced and is unfenced once it has caught up.
        fenced: bool,
        /// Whether it registered while shutting down.
        in_controlled_shutdown: bool,
    },
    /// A broker's registration was removed.
    UnregisterBroker {
        /// The broker.
        broker: BrokerId,
        /// The broker epoch it was registered with.
        broker_epoch: u64,
    },
    /// A broker's fencing or controlled-shutdown state changed
    /// (`BrokerRegistrationChangeRecord`; `FenceBrokerRecord` and `UnfenceBrokerRecord`
    /// are its older forms and read the same).
    BrokerRegistrationChange {
        /// The broker.
        broker: BrokerId,
        /// The broker epoch the change applies to: a record for an older incarnation is
        /// an error.
        broker_epoch: u64,
        /// The new fencing state, if it changes.
        fenced: Option<bool>,
        /// Whether the broker is now in controlled shutdown, if that changes.
        in_controlled_shutdown: Option<bool>,
    },
    /// A topic was created.
    Topic {
        /// Its name.
        name: Arc<str>,
        /// Its id.
        topic_id: TopicId,
    },
    /// A partition was created, whole.
    Partition {
        /// Its topic.
        topic_id: TopicId,
        /// Its number.
        partition: u32,
        /// The partition's state.
        registration: PartitionRegistration,
    },
    /// A partition's state changed; `None` fields keep their value.
    PartitionChange {
        /// Its topic.
        topic_id: TopicId,
        /// Its number.
        partition: u32,
        /// The leader.
        leader: LeaderChange,
        /// The new ISR.
        isr: Option<Vec<BrokerId>>,
        /// The new eligible leader replicas (KIP-966).
        elr: Option<Vec<BrokerId>>,
        /// The new last known ELR (KIP-966).
        last_known_elr: Option<Vec<BrokerId>>,
        /// The new replica set.
        replicas: Option<Vec<BrokerId>>,
        /// The new leader recovery state.
        leader_recovery: Option<LeaderRecoveryState>,
    },
    /// A topic was deleted.
    RemoveTopic {
        /// Its id.
        topic_id: TopicId,
    },
    /// A record that changes nothing: the active controller writes one now and then so
    /// that the log (and the brokers' view of it) moves on (`NoOpRecord`).
    NoOp,
}

/// A partition's state in the image (Kafka's `PartitionRegistration`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionRegistration {
    /// The replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// The in-sync replicas.
    pub isr: Vec<BrokerId>,
    /// Eligible leader replicas: replicas out of the ISR that still hold every committed
    /// record (KIP-966).
    pub elr: Vec<BrokerId>,
    /// The ELR members last known before the ELR emptied (KIP-966).
    pub last_known_elr: Vec<BrokerId>,
    /// The leader, if any.
    pub leader: Option<BrokerId>,
    /// The leader's recovery state.
    pub leader_recovery: LeaderRecoveryState,
    /// Bumped by every leader change (and forced bumps).
    pub leader_epoch: u32,
    /// Bumped by every change of this partition.
    pub partition_epoch: u64,
}

/// A broker process's registration (`BrokerRegistrationRequest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registration {
    /// The broker.
    pub broker: BrokerId,
    /// Unique per process start.
    pub incarnation_id: u64,
    /// The broker epoch its clean-shutdown marker holds: the epoch of the incarnation
    /// before, if that one shut down cleanly; `None` (Kafka's -1) after a crash or a
    /// power loss (KIP-966, `BrokerLifecycleManager`'s `previousBrokerEpoch`).
    pub previous_broker_epoch: Option<u64>,
}

/// A broker's heartbeat (`BrokerHeartbeatRequest`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The broker.
    pub broker: BrokerId,
    /// The epoch it registered with.
    pub broker_epoch: u64,
    /// How far it has replayed the metadata log.
    pub current_metadata_offset: u64,
    /// The broker asks to be fenced (it has not caught up, or it is starting).
    pub want_fence: bool,
    /// The broker asks to shut down (controlled shutdown).
    pub want_shut_down: bool,
}

/// The answer to a heartbeat (`BrokerHeartbeatReply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// Whether the broker has replayed the log up to its own registration.
    pub is_caught_up: bool,
    /// Whether the broker is fenced now.
    pub is_fenced: bool,
    /// Whether it is in controlled shutdown.
    pub in_controlled_shutdown: bool,
    /// Whether it may stop now.
    pub should_shut_down: bool,
}

/// One partition's AlterPartition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlterPartition {
    /// The requesting broker (the partition's leader).
    pub broker: BrokerId,
    /// Its broker epoch.
    pub broker_epoch: u64,
    /// The topic.
    pub topic_id: TopicId,
    /// The partition.
    pub partition: u32,
    /// The leader epoch the leader holds.
    pub leader_epoch: u32,
    /// The partition epoch the leader last saw.
    pub partition_epoch: u64,
    /// The ISR it asks for, each member with the broker epoch the leader saw it fetch
    /// with (`None`: not checked, as Kafka's -1).
    pub new_isr: Vec<(BrokerId, Option<u64>)>,
    /// The leader's recovery state.
    pub leader_recovery: LeaderRecoveryState,
}

/// The channels a KRaft broker keeps to the active controller, each its own connection
/// (Kafka's `NodeToControllerChannelManager` instances).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerChannel {
    /// `BrokerLifecycleManager`'s: registration, heartbeats and controlled shutdown.
    Heartbeat,
    /// `AlterPartitionManager`'s: a leader's ISR changes.
    AlterPartition,
    /// The forwarding channel's (`clientToControllerChannelManager`): requests a broker
    /// sends for its clients, here the CreateTopics of topic auto-creation.
    Forwarding,
}

impl ControllerChannel {
    /// Every channel, in order.
    pub const ALL: [ControllerChannel; 3] =
        [ControllerChannel::Heartbeat, ControllerChannel::AlterPartition, ControllerChannel::Forwarding];

    /// The channel's name, as scenario files write it and Kafka names its threads.
    pub const fn name(self) -> &'static str {
        match self {
            ControllerChannel::Heartbeat => "heartbeat",
            ControllerChannel::AlterPartition => "alter-partition",
            ControllerChannel::Forwarding => "forwarding",
        }
    }
}

/// A request to a controller node.
#[derive(Clone, Debug)]
pub enum ControllerRequest {
    /// A Raft message from another quorum member, or a broker's fetch of the metadata
    /// log as an observer; `from` is the sender's node id (Kafka carries it in each
    /// request: the candidate id, the leader id, the fetch's replica id).
    Quorum {
        /// The sender.
        from: NodeId,
        /// The message.
        message: QuorumMessage<MetadataRecord>,
    },
    /// A broker process starting registers (`BrokerRegistrationRequest`).
    BrokerRegistration(Registration),
    /// A registered broker's heartbeat (`BrokerHeartbeatRequest`).
    BrokerHeartbeat(Heartbeat),
    /// A partition leader's ISR change (`AlterPartitionRequest`, one partition).
    AlterPartition(AlterPartition),
    /// An administrator's topic change (CreateTopics, CreatePartitions, DeleteTopics).
    TopicAdmin(TopicAdmin),
}

/// An administrator's topic change, one topic per request, as the Admin API's
/// CreateTopics, CreatePartitions and DeleteTopics carry them. The admin client sends it
/// to the controllers directly (`bootstrap.controllers`, KIP-919); a broker would only
/// forward it there (`KafkaApis.maybeForwardToController`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicAdmin {
    /// CreateTopics: a new topic with `partitions` partitions of `replication_factor`
    /// replicas each, placed by the controller (`ReplicationControlManager.createTopic`).
    CreateTopic {
        /// The topic.
        name: Arc<str>,
        /// Its partition count.
        partitions: u32,
        /// Replicas per partition.
        replication_factor: u32,
    },
    /// CreatePartitions: grow the topic to `count` partitions
    /// (`ReplicationControlManager.createPartitions`).
    CreatePartitions {
        /// The topic.
        topic: Arc<str>,
        /// Its new partition count.
        count: u32,
    },
    /// DeleteTopics (`ReplicationControlManager.deleteTopic`).
    DeleteTopic {
        /// The topic.
        topic: Arc<str>,
    },
}

impl ControllerRequest {
    /// The request's name, as Kafka's API keys spell it.
    pub fn name(&self) -> &'static str {
        match self {
            ControllerRequest::Quorum { message, .. } => message.name(),
            ControllerRequest::BrokerRegistration(_) => "BrokerRegistration",
            ControllerRequest::BrokerHeartbeat(_) => "BrokerHeartbeat",
            ControllerRequest::AlterPartition(_) => "AlterPartition",
            ControllerRequest::TopicAdmin(TopicAdmin::CreateTopic { .. }) => "CreateTopics",
            ControllerRequest::TopicAdmin(TopicAdmin::CreatePartitions { .. }) => "CreatePartitions",
            ControllerRequest::TopicAdmin(TopicAdmin::DeleteTopic { .. }) => "DeleteTopics",
        }
    }
}

/// A controller node's answer.
#[derive(Clone, Debug)]
pub enum ControllerResponse {
    /// The answer to a quorum request.
    Quorum(QuorumMessage<MetadataRecord>),
    /// The answer to a registration: the broker epoch, or why not.
    BrokerRegistration(Result<u64, ErrorCode>),
    /// The answer to a heartbeat.
    BrokerHeartbeat(Result<HeartbeatReply, ErrorCode>),
    /// The answer to an AlterPartition: the partition's state after it, or why not.
    AlterPartition(Result<PartitionRegistration, ErrorCode>),
    /// The answer to a topic change: done (committed), or why not.
    TopicAdmin(Result<(), ErrorCode>),
}

impl ControllerResponse {
    /// Whether the answer is NOT_CONTROLLER: the node asked is not the active controller.
    pub fn is_not_controller(&self) -> bool {
        let error = match self {
            ControllerResponse::Quorum(_) => None,
            ControllerResponse::BrokerRegistration(r) => r.as_ref().err(),
            ControllerResponse::BrokerHeartbeat(r) => r.as_ref().err(),
            ControllerResponse::AlterPartition(r) => r.as_ref().err(),
            ControllerResponse::TopicAdmin(r) => r.as_ref().err(),
        };
        error == Some(&ErrorCode::NotController)
    }
}
