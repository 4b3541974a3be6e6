//! The transaction coordinator (KIP-98): each broker coordinates the transactional ids
//! whose `__transaction_state` partition it leads, as Kafka's `TransactionCoordinator`
//! and `TransactionStateManager` do.
//!
//! Files: `metadata` (a transactional id's state and its transitions, and the records
//! of `__transaction_state`), `coordinator` (the requests: InitProducerId,
//! AddPartitionsToTxn, AddOffsetsToTxn, EndTxn; writing each transition through the
//! replicated log before it takes effect; loading a partition's transactions when its
//! leadership begins; aborting timed-out transactions), `markers` (the
//! `TransactionMarkerChannelManager`: WriteTxnMarkers to every partition leader of a
//! completing transaction, then the Complete state) and `append` (a partition leader
//! appending the markers it is sent).

mod append;
pub mod coordinator;
mod markers;
pub mod metadata;

pub use append::write_txn_markers;
pub use coordinator::{Coordinator, TRANSACTION_TOPIC};

/// The transaction coordinator's settings, with Kafka's broker setting names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnCoordinatorConfig {
    /// `transaction.max.timeout.ms`: InitProducerId refuses a longer
    /// `transaction.timeout.ms` (default 900000).
    pub transaction_max_timeout_ms: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often the
    /// coordinator aborts transactions open longer than their timeout (default 10000).
    pub abort_timed_out_interval_ms: u64,
    /// `transaction.partition.verification.enable` (Kafka 3.6+, KIP-890 part 1, default
    /// true): a partition leader asks the coordinator whether a producer's partition
    /// is in its transaction before appending the producer's first transactional batch
    /// there, so a late write cannot open a transaction the coordinator does not know.
    pub partition_verification: bool,
    /// The finalized `transaction.version` feature (level 2 from Kafka 4.0 on a new
    /// cluster, KIP-890 part 2): told to producers in InitProducerId answers.
    pub transaction_version: crate::protocol::TransactionVersion,
    /// `add.partitions.to.txn.retry.backoff.ms`: under transaction version 2, the pause
    /// before a partition leader asks the coordinator again to add a partition it was
    /// answered CONCURRENT_TRANSACTIONS for (default 20).
    pub add_partitions_retry_backoff_ms: u64,
    /// How long a leader keeps asking: `add.partitions.to.txn.retry.backoff.max.ms`
    /// (default 100), at most the broker's `request.timeout.ms`.
    pub add_partitions_retry_timeout_ms: u64,
}

impl Default for TxnCoordinatorConfig {
    fn default() -> Self {
        TxnCoordinatorConfig {
            transaction_max_timeout_ms: 900_000,
            abort_timed_out_interval_ms: 10_000,
            partition_verification: true,
            transaction_version: crate::protocol::TransactionVersion::Tv0,
            add_partitions_retry_backoff_ms: 20,
            add_partitions_retry_timeout_ms: 100,
        }
    }
}

/// The partition of `__transaction_state` that holds `transactional_id`:
/// `abs(transactionalId.hashCode) % partitions`, as Kafka's
/// `TransactionStateManager.partitionFor` (the same hash as a group's offsets partition).
pub fn txn_partition_for(transactional_id: &str, partitions: u32) -> u32 {
    crate::broker::coordinator::offsets_partition_for(transactional_id, partitions)
}
