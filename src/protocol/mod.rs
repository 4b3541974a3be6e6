//! Wire types shared by every node: ids, records, Kafka requests and responses,
//! metastore requests and responses, and error codes. Depends on nothing else in the crate.

mod error;
mod group;
mod ids;
mod kafka;
mod meta;
mod records;

pub use error::ErrorCode;
pub use group::{GroupMember, GroupRequest, GroupResponse};
pub use ids::{BrokerId, LeaderEpoch, Offset, ProducerId, ProducerIdAndEpoch, TopicPartition, NO_PRODUCER_ID};
pub use kafka::{
    Acks, AlterIsrRequest, BrokerEndpoint, FetchPartition, FetchPartitionResponse, FetchRequest, LeaderAndIsrRequest,
    ListOffsetsRequest, MetadataResponse, OffsetForLeaderEpochResponse, OffsetSpec, PartitionMetadata, PartitionState,
    ProducePartitionResponse, ProduceRequest, Request, Response,
};
pub use meta::{MetaError, MetaEvent, MetaOp, MetaRequest, MetaResponse, SessionId, ZNode};
pub use records::{Record, RecordBatch};
