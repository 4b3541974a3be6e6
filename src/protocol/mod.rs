//! Wire types shared by every node: ids, records, Kafka requests and responses,
//! metastore requests and responses, and error codes; and the types a scenario and the
//! nodes it configures both name: topic assignments (`topic`, which the controller
//! creates and the brokers apply) and behaviour modes (`modes`: truncation, follower
//! restarts, offset reset, assignment strategy); how nodes and partitions are named (`names`); and (`java`)
//! the Java string hashing and `HashMap` order some of Kafka's choices depend on.
//! `txn` holds the transaction requests, markers and isolation levels (KIP-98).
//! `kraft` holds KRaft's wire vocabulary: the quorum's messages, the metadata log's
//! records, and the brokers' requests to the controller. Depends on nothing else in the
//! crate.

mod error;
mod group;
mod ids;
pub mod java;
mod kafka;
pub mod kraft;
mod meta;
mod modes;
mod names;
mod records;
mod subscription;
mod topic;
mod txn;

pub use error::ErrorCode;
pub use group::{ConsumerHeartbeat, DescribedGroupState, GroupMember, GroupRequest, GroupResponse};
pub use ids::{
    BrokerEndpoint, BrokerId, LeaderEpoch, NodeId, Offset, ProducerId, ProducerIdAndEpoch, TopicId, TopicPartition,
    NO_PRODUCER_ID,
};
pub use kafka::{
    Acks, AlterIsrRequest, FetchPartition, FetchPartitionResponse, FetchRequest, LeaderAndIsrRequest,
    ListOffsetsPartition, ListOffsetsPartitionResponse, ListOffsetsRequest, MetadataResponse,
    OffsetForLeaderEpochPartition, OffsetForLeaderEpochResponse, OffsetSpec, PartitionMetadata, PartitionState,
    ProducePartitionResponse, ProduceRequest, Request, Response,
};
pub use meta::{MetaError, MetaEvent, MetaOp, MetaRequest, MetaResponse, SessionId, ZNode};
pub use modes::{
    AssignmentStrategy, FollowerRestart, GroupProtocol, MetadataMode, OffsetReset, OffsetValidation, RebalanceProtocol,
    ServerAssignor, StickyAlgorithm, TruncationMode, UnkeyedPartitioning, UnknownProducerSequence,
};
pub use names::{broker_name, broker_names, partition_name, NodeName, NodeRole, CONTROLLER_ID_OFFSET, METASTORE};
pub use records::{ControlMarker, Record, RecordBatch, ABORT_MARKER_VALUE, COMMIT_MARKER_VALUE};
pub use subscription::{Subscription, TopicPattern};
pub use topic::{RetentionConfig, TopicAssignment, DEFAULT_SEGMENT_BYTES, INTERNAL_TOPIC_NAMES};
pub use txn::{
    AbortedTxn, IsolationLevel, TransactionVersion, TxnMarkerEntry, TxnRequest, TxnResponse, TxnResult,
    TRANSACTION_COORDINATOR_CHANNEL,
};
