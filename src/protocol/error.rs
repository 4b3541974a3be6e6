//! Kafka error codes (the subset the simulation produces), with Kafka's retriable flag.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An error code carried in a response, named as in Kafka's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The broker is not the leader (or not a replica) of the partition.
    NotLeaderOrFollower,
    /// The broker does not know the topic or partition.
    UnknownTopicOrPartition,
    /// Fewer in-sync replicas than `min.insync.replicas`; the write was refused.
    NotEnoughReplicas,
    /// The write was appended by the leader but the ISR shrank below
    /// `min.insync.replicas` before it was replicated.
    NotEnoughReplicasAfterAppend,
    /// acks=all did not complete within the request's timeout.
    RequestTimedOut,
    /// The request carried a leader epoch older than the broker's.
    FencedLeaderEpoch,
    /// The request carried a leader epoch newer than the broker's.
    UnknownLeaderEpoch,
    /// The requested offset is outside the log.
    OffsetOutOfRange,
    /// A controller request carried an epoch older than the latest controller's.
    StaleControllerEpoch,
    /// An idempotent batch arrived with a sequence gap.
    OutOfOrderSequence,
    /// The partition has no state for the idempotent producer and the batch does not
    /// start at sequence 0 (the producer's batches are no longer in the log).
    UnknownProducerId,
    /// The broker is not the group coordinator.
    NotCoordinator,
    /// The request type is not served by this node.
    UnsupportedRequest,
    /// The partition state version in the request is stale (conditional write lost).
    InvalidUpdateVersion,
    /// The broker is not the active controller.
    NotController,
    /// An idempotent producer's epoch is older than one the partition has seen.
    InvalidProducerEpoch,
    /// The group's coordinator is not available (its offsets partition has no leader).
    CoordinatorNotAvailable,
    /// The coordinator is still loading the group's offsets.
    CoordinatorLoadInProgress,
    /// The group is rebalancing: rejoin.
    RebalanceInProgress,
    /// The request's generation is not the group's current one.
    IllegalGeneration,
    /// The coordinator does not know the member.
    UnknownMemberId,
    /// The member's `session.timeout.ms` is outside the coordinator's
    /// `group.min.session.timeout.ms` .. `group.max.session.timeout.ms`.
    InvalidSessionTimeout,
    /// The controller does not know the broker as live (a ControlledShutdown from a
    /// broker whose registration it has not seen).
    BrokerNotAvailable,
    /// An AlterIsr named a replica the controller cannot take into the ISR: not live, or
    /// shutting down (KIP-841).
    IneligibleReplica,
    /// A request that breaks the protocol's rules (an AlterPartition from a broker that
    /// does not lead, an ISR without the leader, ...).
    InvalidRequest,
    /// A KRaft request named another registration of the broker than the current one:
    /// an old incarnation, fenced by its broker epoch.
    StaleBrokerEpoch,
    /// An AlterPartition was applied but elected another leader: fetch metadata.
    NewLeaderElected,
    /// A broker registered with an id another live process holds.
    DuplicateBrokerRegistration,
    /// A heartbeat from a broker the controller has no registration for.
    BrokerIdNotRegistered,
    /// A newer producer with the same `transactional.id` took over (its epoch is
    /// higher): this one is a zombie and must close.
    ProducerFenced,
    /// The request does not fit the transaction's state (an EndTxn with nothing open,
    /// a commit of an aborting transaction, a transactional write to a partition that
    /// was never added).
    InvalidTxnState,
    /// The transaction's producer id does not belong to the `transactional.id`.
    InvalidProducerIdMapping,
    /// The coordinator is completing the previous transaction: retry.
    ConcurrentTransactions,
    /// A marker from a coordinator whose epoch is older than one the partition saw.
    TransactionCoordinatorFenced,
    /// The transaction cannot go on and must be aborted (KIP-890: a write the
    /// coordinator could not verify, Kafka 3.8+).
    TransactionAbortable,
    /// A static member's `group.instance.id` is now held by a newer member (KIP-345):
    /// this one is a zombie.
    FencedInstanceId,
    /// OffsetFetch of a partition whose group has transactional offsets pending (a
    /// TxnOffsetCommit whose transaction has not ended): retry (KIP-447).
    UnstableOffsetCommit,
    /// A ConsumerGroupHeartbeat's member epoch is not the member's (KIP-848): the member
    /// must give up its partitions and rejoin with epoch 0.
    FencedMemberEpoch,
    /// An OffsetCommit or OffsetFetch of a consumer-protocol member carries another
    /// member epoch than the member's current one (KIP-848).
    StaleMemberEpoch,
    /// A static member joins with a `group.instance.id` another member still holds
    /// (KIP-848's static membership: the holder has not left with epoch -2).
    UnreleasedInstanceId,
    /// The group does not exist, or is not of the protocol the request speaks.
    GroupIdNotFound,
    /// A request of one group protocol for a group of the other (a classic JoinGroup for
    /// a consumer-protocol group; Kafka 4.0 converts such members, kafkasim does not).
    InconsistentGroupProtocol,
    /// A ConsumerGroupHeartbeat names a server assignor the coordinator does not run
    /// (not in `group.consumer.assignors`; KIP-848).
    UnsupportedAssignor,
    /// The coordinator failed in a way the request cannot fix (Kafka's
    /// UNKNOWN_SERVER_ERROR; e.g. the server assignor threw).
    UnknownServerError,
    /// CreateTopics named a topic that exists (`TOPIC_ALREADY_EXISTS`).
    TopicAlreadyExists,
    /// CreateTopics or CreatePartitions asked for a partition count that is not valid:
    /// not positive, or not above the topic's current count (`INVALID_PARTITIONS`).
    InvalidPartitions,
    /// The replicas cannot be placed: more than the registered brokers, or none
    /// unfenced (`INVALID_REPLICATION_FACTOR`).
    InvalidReplicationFactor,
    /// DeleteTopics reached a controller with `delete.topic.enable=false`
    /// (`TOPIC_DELETION_DISABLED`).
    TopicDeletionDisabled,
    /// A ConsumerGroupHeartbeat's `SubscribedTopicRegex` does not compile (RE2J on the
    /// coordinator; `INVALID_REGULAR_EXPRESSION`).
    InvalidRegularExpression,
    /// A Fetch (v13+) named a topic id the broker's metadata does not hold: the topic was
    /// deleted, or re-created under a new id the fetcher has not learned yet, or the
    /// broker lags behind the fetcher's metadata (`UNKNOWN_TOPIC_ID`, KIP-516).
    UnknownTopicId,
    /// A Fetch's topic id is known but the log the broker hosts under that name belongs
    /// to another id (`INCONSISTENT_TOPIC_ID`, `ReplicaManager.readFromLocalLog`).
    InconsistentTopicId,
}

impl ErrorCode {
    /// Whether Kafka clients retry a request that failed with this error.
    pub fn is_retriable(self) -> bool {
        // OUT_OF_ORDER_SEQUENCE and UNKNOWN_PRODUCER_ID are not retriable as such (Kafka's
        // OutOfOrderSequenceException is an ApiException, UnknownProducerIdException one
        // of them): the idempotent producer decides itself whether to retry them
        // (`TransactionManager.canRetry`).
        !matches!(
            self,
            ErrorCode::UnsupportedRequest
                | ErrorCode::OffsetOutOfRange
                | ErrorCode::InvalidProducerEpoch
                | ErrorCode::OutOfOrderSequence
                | ErrorCode::UnknownProducerId
                | ErrorCode::InvalidSessionTimeout
                | ErrorCode::InvalidRequest
                | ErrorCode::TopicAlreadyExists
                | ErrorCode::InvalidPartitions
                | ErrorCode::InvalidReplicationFactor
                | ErrorCode::TopicDeletionDisabled
                | ErrorCode::StaleBrokerEpoch
                | ErrorCode::DuplicateBrokerRegistration
                | ErrorCode::BrokerIdNotRegistered
                | ErrorCode::ProducerFenced
                | ErrorCode::InvalidTxnState
                | ErrorCode::InvalidProducerIdMapping
                | ErrorCode::TransactionCoordinatorFenced
                | ErrorCode::TransactionAbortable
                | ErrorCode::FencedInstanceId
                | ErrorCode::FencedMemberEpoch
                | ErrorCode::StaleMemberEpoch
                | ErrorCode::UnreleasedInstanceId
                | ErrorCode::GroupIdNotFound
                | ErrorCode::InconsistentGroupProtocol
                | ErrorCode::UnsupportedAssignor
                | ErrorCode::UnknownServerError
        )
    }

    /// Whether the client should refresh its metadata before retrying.
    pub fn needs_metadata_refresh(self) -> bool {
        matches!(
            self,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::NotCoordinator
                // Both are `InvalidMetadataException`s in Kafka.
                | ErrorCode::UnknownTopicId
                | ErrorCode::InconsistentTopicId
        )
    }

    /// Kafka's constant name for the error, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub fn kafka_name(self) -> &'static str {
        match self {
            ErrorCode::NotLeaderOrFollower => "NOT_LEADER_OR_FOLLOWER",
            ErrorCode::UnknownTopicOrPartition => "UNKNOWN_TOPIC_OR_PARTITION",
            ErrorCode::NotEnoughReplicas => "NOT_ENOUGH_REPLICAS",
            ErrorCode::NotEnoughReplicasAfterAppend => "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ErrorCode::RequestTimedOut => "REQUEST_TIMED_OUT",
            ErrorCode::FencedLeaderEpoch => "FENCED_LEADER_EPOCH",
            ErrorCode::UnknownLeaderEpoch => "UNKNOWN_LEADER_EPOCH",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::StaleControllerEpoch => "STALE_CONTROLLER_EPOCH",
            ErrorCode::OutOfOrderSequence => "OUT_OF_ORDER_SEQUENCE_NUMBER",
            ErrorCode::UnknownProducerId => "UNKNOWN_PRODUCER_ID",
            ErrorCode::NotCoordinator => "NOT_COORDINATOR",
            ErrorCode::UnsupportedRequest => "UNSUPPORTED_VERSION",
            ErrorCode::InvalidUpdateVersion => "INVALID_UPDATE_VERSION",
            ErrorCode::NotController => "NOT_CONTROLLER",
            ErrorCode::InvalidProducerEpoch => "INVALID_PRODUCER_EPOCH",
            ErrorCode::CoordinatorNotAvailable => "COORDINATOR_NOT_AVAILABLE",
            ErrorCode::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            ErrorCode::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            ErrorCode::IllegalGeneration => "ILLEGAL_GENERATION",
            ErrorCode::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            ErrorCode::InvalidSessionTimeout => "INVALID_SESSION_TIMEOUT",
            ErrorCode::BrokerNotAvailable => "BROKER_NOT_AVAILABLE",
            ErrorCode::IneligibleReplica => "INELIGIBLE_REPLICA",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::StaleBrokerEpoch => "STALE_BROKER_EPOCH",
            ErrorCode::DuplicateBrokerRegistration => "DUPLICATE_BROKER_REGISTRATION",
            ErrorCode::BrokerIdNotRegistered => "BROKER_ID_NOT_REGISTERED",
            ErrorCode::NewLeaderElected => "NEW_LEADER_ELECTED",
            ErrorCode::ProducerFenced => "PRODUCER_FENCED",
            ErrorCode::InvalidTxnState => "INVALID_TXN_STATE",
            ErrorCode::InvalidProducerIdMapping => "INVALID_PRODUCER_ID_MAPPING",
            ErrorCode::ConcurrentTransactions => "CONCURRENT_TRANSACTIONS",
            ErrorCode::TransactionCoordinatorFenced => "TRANSACTION_COORDINATOR_FENCED",
            ErrorCode::TransactionAbortable => "TRANSACTION_ABORTABLE",
            ErrorCode::FencedInstanceId => "FENCED_INSTANCE_ID",
            ErrorCode::UnstableOffsetCommit => "UNSTABLE_OFFSET_COMMIT",
            ErrorCode::FencedMemberEpoch => "FENCED_MEMBER_EPOCH",
            ErrorCode::StaleMemberEpoch => "STALE_MEMBER_EPOCH",
            ErrorCode::UnreleasedInstanceId => "UNRELEASED_INSTANCE_ID",
            ErrorCode::GroupIdNotFound => "GROUP_ID_NOT_FOUND",
            ErrorCode::InconsistentGroupProtocol => "INCONSISTENT_GROUP_PROTOCOL",
            ErrorCode::UnsupportedAssignor => "UNSUPPORTED_ASSIGNOR",
            ErrorCode::UnknownServerError => "UNKNOWN_SERVER_ERROR",
            ErrorCode::TopicAlreadyExists => "TOPIC_ALREADY_EXISTS",
            ErrorCode::InvalidPartitions => "INVALID_PARTITIONS",
            ErrorCode::InvalidReplicationFactor => "INVALID_REPLICATION_FACTOR",
            ErrorCode::TopicDeletionDisabled => "TOPIC_DELETION_DISABLED",
            ErrorCode::InvalidRegularExpression => "INVALID_REGULAR_EXPRESSION",
            ErrorCode::UnknownTopicId => "UNKNOWN_TOPIC_ID",
            ErrorCode::InconsistentTopicId => "INCONSISTENT_TOPIC_ID",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kafka_name())
    }
}
