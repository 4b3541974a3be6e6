//! Kafka requests and responses exchanged between clients, brokers and the controller.
//!
//! One enum for all requests and one for all responses, so that `sim::net` can carry them
//! typed (no downcasting); every server answers a request it does not serve with
//! [`Response::Error`] carrying [`ErrorCode::UnsupportedRequest`].

use super::error::ErrorCode;
use super::group::{GroupRequest, GroupResponse};
use super::ids::{BrokerEndpoint, BrokerId, LeaderEpoch, Offset, ProducerId, TopicId, TopicPartition};
use super::kraft::{ControllerRequest, ControllerResponse};
use super::meta::{MetaRequest, MetaResponse};
use super::records::RecordBatch;
use super::txn::{AbortedTxn, IsolationLevel, TransactionVersion, TxnMarkerEntry, TxnRequest, TxnResponse};
use serde::{Deserialize, Serialize};

/// Every request in the simulation.
#[derive(Clone, Debug)]
pub enum Request {
    /// Which brokers are alive and who leads each partition.
    Metadata {
        /// Topics asked for; empty means all.
        topics: Vec<String>,
        /// Whether the broker may create a topic asked for that it does not know
        /// (`allowAutoTopicCreation`: producers always ask for it, consumers when
        /// `allow.auto.create.topics`; a request for all topics never creates any).
        allow_auto_topic_creation: bool,
    },
    /// Append record batches (client -> partition leader).
    Produce(ProduceRequest),
    /// Read records (consumer or follower -> partition leader).
    Fetch(FetchRequest),
    /// Find offsets by position or time, for every partition the request names
    /// (consumer -> partition leader).
    ListOffsets(ListOffsetsRequest),
    /// KIP-101: the end offsets of leader epochs on the leader, for every partition the
    /// request names (follower or consumer -> partition leader; Kafka's
    /// OffsetsForLeaderEpochRequest, topics then partitions).
    OffsetForLeaderEpoch(Vec<OffsetForLeaderEpochPartition>),
    /// Leadership and ISR decided by the controller (controller -> replicas).
    LeaderAndIsr(LeaderAndIsrRequest),
    /// The cluster's live brokers and partition states (controller -> every broker).
    UpdateMetadata {
        /// The sending controller's epoch, for fencing zombies.
        controller_epoch: u64,
        /// The live brokers.
        live_brokers: Vec<BrokerEndpoint>,
        /// Every partition's state.
        partitions: Vec<PartitionState>,
        /// The partitions of topics being deleted: a broker forgets them (Kafka sends
        /// them with leader -2, `LeaderAndIsr.LeaderDuringDelete`, and
        /// `ZkMetadataCache.updateMetadata` removes them).
        deleting: Vec<TopicPartition>,
    },
    /// A leader asks the controller to change a partition's ISR (KIP-497).
    AlterIsr(AlterIsrRequest),
    /// An idempotent producer asks for its producer id (any broker answers).
    InitProducerId,
    /// A broker about to shut down asks the controller to move its leaderships away
    /// (broker -> controller; Kafka's ControlledShutdownRequest).
    ControlledShutdown {
        /// The broker shutting down.
        broker_id: BrokerId,
    },
    /// A consumer group request.
    Group(GroupRequest),
    /// A metastore operation (broker or controller -> metastore).
    Meta(MetaRequest),
    /// A KRaft request to a controller node (quorum member or broker -> controller).
    Controller(ControllerRequest),
    /// A transactional producer's request (to its transaction coordinator).
    Txn(TxnRequest),
    /// Transaction markers to append (transaction coordinator -> partition leader).
    WriteTxnMarkers(Vec<TxnMarkerEntry>),
    /// ZooKeeper mode: the controller has a replica stop and delete its partitions of a
    /// topic being deleted (controller -> replica; Kafka's StopReplica with
    /// `deletePartition = true`, the only use kafkasim makes of it). Listed last.
    StopReplica {
        /// The sending controller's epoch, for fencing zombies.
        controller_epoch: u64,
        /// The partitions to stop and delete.
        partitions: Vec<TopicPartition>,
    },
}

impl Request {
    /// A short name for traces and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Metadata { .. } => "Metadata",
            Request::Produce(_) => "Produce",
            Request::Fetch(_) => "Fetch",
            Request::ListOffsets(_) => "ListOffsets",
            Request::OffsetForLeaderEpoch(_) => "OffsetForLeaderEpoch",
            Request::LeaderAndIsr(_) => "LeaderAndIsr",
            Request::UpdateMetadata { .. } => "UpdateMetadata",
            Request::AlterIsr(_) => "AlterIsr",
            Request::InitProducerId => "InitProducerId",
            Request::ControlledShutdown { .. } => "ControlledShutdown",
            Request::Group(_) => "Group",
            Request::Meta(_) => "Meta",
            Request::Controller(request) => request.name(),
            Request::Txn(request) => request.name(),
            Request::WriteTxnMarkers(_) => "WriteTxnMarkers",
            Request::StopReplica { .. } => "StopReplica",
        }
    }
}

/// Every response in the simulation.
#[derive(Clone, Debug)]
pub enum Response {
    /// Answer to [`Request::Metadata`].
    Metadata(MetadataResponse),
    /// Answer to [`Request::Produce`], one entry per partition (absent for acks=0).
    Produce(Vec<ProducePartitionResponse>),
    /// Answer to [`Request::Fetch`], one entry per partition.
    Fetch(Vec<FetchPartitionResponse>),
    /// Answer to [`Request::ListOffsets`], one entry per partition asked for, in the
    /// request's order.
    ListOffsets(Vec<ListOffsetsPartitionResponse>),
    /// Answer to [`Request::OffsetForLeaderEpoch`], one entry per partition asked for,
    /// in the request's order.
    OffsetForLeaderEpoch(Vec<(TopicPartition, OffsetForLeaderEpochResponse)>),
    /// Answer to [`Request::LeaderAndIsr`] and [`Request::UpdateMetadata`].
    ControllerAck {
        /// Why the request was refused, if it was (e.g. a stale controller epoch).
        error: Option<ErrorCode>,
    },
    /// Answer to [`Request::AlterIsr`].
    AlterIsr {
        /// Why the change was refused, if it was.
        error: Option<ErrorCode>,
        /// The partition's state after the request (the new one on success).
        state: Option<PartitionState>,
    },
    /// Answer to [`Request::InitProducerId`].
    InitProducerId {
        /// The producer id.
        producer_id: ProducerId,
        /// The producer epoch.
        producer_epoch: i16,
    },
    /// Answer to [`Request::ControlledShutdown`].
    ControlledShutdown {
        /// Why the request failed, if it did (NOT_CONTROLLER, BROKER_NOT_AVAILABLE).
        error: Option<ErrorCode>,
        /// The partitions the broker still leads (Kafka's `partitionsRemaining`): the
        /// shutdown succeeded when it is empty.
        remaining: Vec<TopicPartition>,
    },
    /// Answer to [`Request::Group`].
    Group(GroupResponse),
    /// Answer to [`Request::Meta`].
    Meta(MetaResponse),
    /// Answer to [`Request::Controller`].
    Controller(ControllerResponse),
    /// Answer to [`Request::Txn`].
    Txn(TxnResponse),
    /// Answer to [`Request::WriteTxnMarkers`]: one result per partition.
    WriteTxnMarkers(Vec<(TopicPartition, Option<ErrorCode>)>),
    /// The request could not be served at all.
    Error(ErrorCode),
}

/// A partition's replication state, as decided by the controller and stored in the metastore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The partition.
    pub tp: TopicPartition,
    /// The leader, or `None` when no eligible replica is alive (offline partition).
    pub leader: Option<BrokerId>,
    /// The leader epoch; bumped on every leader change.
    pub leader_epoch: LeaderEpoch,
    /// The in-sync replicas.
    pub isr: Vec<BrokerId>,
    /// All assigned replicas, preferred leader first.
    pub replicas: Vec<BrokerId>,
    /// The version of the partition state in the metastore (Kafka's zkVersion), used for
    /// conditional ISR updates.
    pub partition_epoch: u64,
    /// The topic's id (KIP-516), which LeaderAndIsr v5+ and UpdateMetadata v7+ carry per
    /// topic. ZooKeeper mode keeps it in the topic's node, not in the partition's state
    /// node, so it is not stored with the state.
    #[serde(skip)]
    pub topic_id: TopicId,
}

/// The acknowledgement a producer asks for, written as Kafka writes it (`0`, `1`, `all`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr)]
pub enum Acks {
    /// acks=0: no response at all.
    #[serde(rename = "0")]
    #[strum(serialize = "0")]
    None,
    /// acks=1: the leader answers after its own append.
    #[serde(rename = "1")]
    #[strum(serialize = "1")]
    Leader,
    /// acks=all (-1): the leader answers once every ISR member has the records.
    #[serde(rename = "all")]
    #[strum(serialize = "all")]
    All,
}

crate::hash_by_name!(Acks);

impl Acks {
    /// Parses Kafka's spelling: `0`, `1`, `all` or `-1`.
    pub fn parse(text: &str) -> Option<Acks> {
        match text {
            "0" => Some(Acks::None),
            "1" => Some(Acks::Leader),
            "all" | "-1" => Some(Acks::All),
            _ => None,
        }
    }
}

/// A produce request: batches for partitions led by the receiving broker.
#[derive(Clone, Debug)]
pub struct ProduceRequest {
    /// The acknowledgement asked for.
    pub acks: Acks,
    /// How long the leader may wait for the ISR (acks=all), in milliseconds.
    pub timeout_ms: u64,
    /// One batch per partition.
    pub batches: Vec<(TopicPartition, RecordBatch)>,
    /// The producer's `transactional.id`, when its batches are transactional (the
    /// leader verifies with the coordinator that the partition is in the transaction,
    /// KIP-890).
    pub transactional_id: Option<String>,
    /// The transaction protocol the producer speaks (Produce v12 and later: level 2,
    /// where the leader adds the partition to the transaction itself).
    pub transaction_version: TransactionVersion,
}

/// The outcome of producing one batch to one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducePartitionResponse {
    /// The partition.
    pub tp: TopicPartition,
    /// Why the batch was not acknowledged, if it was not.
    pub error: Option<ErrorCode>,
    /// The offset of the batch's first record (valid when `error` is `None`).
    pub base_offset: Offset,
    /// The answering leader's log start offset, when it hosts the partition (Kafka's
    /// `PartitionResponse.logStartOffset`, -1 otherwise): the idempotent producer compares
    /// it with its last acknowledged offset on UNKNOWN_PRODUCER_ID.
    pub log_start_offset: Option<Offset>,
    /// The id of the topic whose log took the batch. Not on the wire (Produce names
    /// topics only, up to v11, so a batch goes to whichever topic of its name the leader
    /// hosts): an oracle for the history, which tells a deleted topic's records from
    /// those of the topic re-created under its name. Client logic never reads it.
    pub topic_id: Option<TopicId>,
}

/// A fetch request, from a consumer (`replica_id: None`) or a follower.
#[derive(Clone, Debug)]
pub struct FetchRequest {
    /// The fetching follower, or `None` for a consumer.
    pub replica_id: Option<BrokerId>,
    /// The fetching follower's broker epoch (KIP-903, Fetch v15): sent in KRaft clusters
    /// from 3.5, `None` otherwise (Kafka's -1, which skips the leader's epoch check).
    pub replica_broker_epoch: Option<u64>,
    /// How long to wait when no partition has data, in milliseconds.
    pub max_wait_ms: u64,
    /// The most records to return per partition.
    pub max_records: usize,
    /// The partitions and positions.
    pub partitions: Vec<FetchPartition>,
    /// The consumer's `isolation.level` (followers read uncommitted).
    pub isolation_level: IsolationLevel,
}

/// One partition of a fetch request.
#[derive(Clone, Debug)]
pub struct FetchPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The first offset wanted; for a follower, also its log end offset.
    pub fetch_offset: Offset,
    /// The fetcher's view of the leader epoch, for fencing (KIP-320); `None` skips the check.
    pub current_leader_epoch: Option<LeaderEpoch>,
    /// The topic's id as the fetcher's metadata has it (Fetch v13, Kafka 3.1, KIP-516):
    /// a leader that knows the name under another id answers UNKNOWN_TOPIC_ID, one whose
    /// log belongs to another id INCONSISTENT_TOPIC_ID. `None` fetches by name.
    pub topic_id: Option<TopicId>,
}

/// One partition of a fetch response.
#[derive(Clone, Debug)]
pub struct FetchPartitionResponse {
    /// The partition.
    pub tp: TopicPartition,
    /// Why the partition could not be read, if it could not.
    pub error: Option<ErrorCode>,
    /// The leader's high watermark.
    pub high_watermark: Offset,
    /// The leader's log start offset.
    pub log_start_offset: Offset,
    /// The leader's log end offset (followers use it to truncate when they are ahead).
    pub log_end_offset: Offset,
    /// Batches from the fetch offset; consumers get only batches below the high
    /// watermark (`read_committed`: below the last stable offset).
    pub batches: Vec<RecordBatch>,
    /// The leader's last stable offset: no transaction is open below it.
    pub last_stable_offset: Offset,
    /// For `read_committed`, the aborted transactions whose records the batches may
    /// hold (Kafka's `FetchResponse.abortedTransactions`).
    pub aborted_transactions: Vec<AbortedTxn>,
    /// The id of the topic whose log was read. On the wire from Fetch v13 (Kafka 3.1);
    /// for older fetches by name an oracle for the history only (see
    /// [`ProducePartitionResponse::topic_id`]).
    pub topic_id: Option<TopicId>,
}

/// Where a [`ListOffsetsRequest`] looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (what a consumer with `auto.offset.reset=latest` starts at).
    Latest,
    /// The first offset whose timestamp is at or after this time, in milliseconds.
    Timestamp(u64),
}

/// A ListOffsets request: many partitions, each with its own [`OffsetSpec`], under one
/// isolation level (Kafka's ListOffsetsRequest, topics then partitions, each partition
/// with its timestamp).
#[derive(Clone, Debug)]
pub struct ListOffsetsRequest {
    /// The partitions and where to look in each.
    pub partitions: Vec<ListOffsetsPartition>,
    /// `read_committed` looks up the last stable offset where `read_uncommitted` looks
    /// up the high watermark.
    pub isolation_level: IsolationLevel,
}

/// One partition of a [`ListOffsetsRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// Which offset.
    pub spec: OffsetSpec,
}

/// One partition of a ListOffsets answer (Kafka's `ListOffsetsPartitionResponse`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListOffsetsPartitionResponse {
    /// The partition.
    pub tp: TopicPartition,
    /// Why the lookup failed, if it did.
    pub error: Option<ErrorCode>,
    /// The offset found; `None` when a timestamp lookup finds no record at or after
    /// the time below the high watermark (Kafka answers offset -1, UNKNOWN_OFFSET).
    pub offset: Option<Offset>,
    /// The id of the topic whose log answered: an oracle for the history (ListOffsets
    /// names topics only), see [`ProducePartitionResponse::topic_id`].
    pub topic_id: Option<TopicId>,
}

/// One partition of an OffsetForLeaderEpoch request (Kafka's `OffsetForLeaderPartition`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetForLeaderEpochPartition {
    /// The partition.
    pub tp: TopicPartition,
    /// The asker's view of the current leader epoch, for fencing.
    pub current_leader_epoch: LeaderEpoch,
    /// The epoch whose end offset is asked for.
    pub leader_epoch: LeaderEpoch,
}

/// The end offset of a leader epoch, as the leader knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetForLeaderEpochResponse {
    /// Why the lookup failed, if it did.
    pub error: Option<ErrorCode>,
    /// The largest epoch on the leader that is at most the requested one (KIP-279).
    pub leader_epoch: LeaderEpoch,
    /// The start offset of the next larger epoch on the leader, or its log end offset;
    /// `None` is Kafka's UNDEFINED_EPOCH_OFFSET, which only a pre-KIP-279 leader
    /// answers (the follower then truncates to its high watermark).
    pub end_offset: Option<Offset>,
}

/// The controller's decision for a set of partitions.
#[derive(Clone, Debug)]
pub struct LeaderAndIsrRequest {
    /// The sending controller's id.
    pub controller_id: BrokerId,
    /// The sending controller's epoch; brokers refuse older ones.
    pub controller_epoch: u64,
    /// The partition states.
    pub partitions: Vec<PartitionState>,
    /// The live brokers, so that followers can reach their leader.
    pub live_brokers: Vec<BrokerEndpoint>,
}

/// A leader's request to change an ISR.
#[derive(Clone, Debug)]
pub struct AlterIsrRequest {
    /// The requesting leader.
    pub broker_id: BrokerId,
    /// The leader's broker epoch (its registration's session); the controller refuses
    /// a request from an earlier incarnation of the broker (STALE_BROKER_EPOCH).
    pub broker_epoch: u64,
    /// The partition.
    pub tp: TopicPartition,
    /// The leader's epoch; the controller refuses stale ones.
    pub leader_epoch: LeaderEpoch,
    /// The ISR the leader wants.
    pub new_isr: Vec<BrokerId>,
    /// The partition epoch the leader's view is based on.
    pub partition_epoch: u64,
}

/// The answer to a Metadata request.
#[derive(Clone, Debug, Default)]
pub struct MetadataResponse {
    /// The live brokers.
    pub brokers: Vec<BrokerEndpoint>,
    /// The controller, if known.
    pub controller: Option<BrokerId>,
    /// Partition states.
    pub partitions: Vec<PartitionMetadata>,
}

/// One partition in a metadata response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition.
    pub tp: TopicPartition,
    /// The leader, if any.
    pub leader: Option<BrokerId>,
    /// The leader epoch.
    pub leader_epoch: LeaderEpoch,
    /// Assigned replicas.
    pub replicas: Vec<BrokerId>,
    /// In-sync replicas.
    pub isr: Vec<BrokerId>,
    /// The topic's id (Metadata v10+, KIP-516).
    pub topic_id: TopicId,
}
