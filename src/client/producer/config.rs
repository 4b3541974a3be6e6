//! The producer's settings, with Kafka's names and meanings.

use crate::protocol::Acks;
use crate::protocol::UnkeyedPartitioning;
use crate::sim::net::Addr;

/// Producer settings, with Kafka's names and meanings.
#[derive(Clone, Debug)]
pub struct ProducerConfig {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<Addr>,
    /// `acks`.
    pub acks: Acks,
    /// `retries`: how many times a failed batch is sent again.
    pub retries: u32,
    /// `request.timeout.ms`: how long to wait for a produce response.
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`: the pause before a batch is retried, and between metadata
    /// refreshes.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580, default 1000): the longest of the
    /// exponentially growing pauses; `None` before 3.7, where the pause is fixed.
    pub retry_backoff_max_ms: Option<u64>,
    /// `reconnect.backoff.ms`, `reconnect.backoff.max.ms` and
    /// `socket.connection.setup.timeout.ms` / `.max.ms`: when the sender connects to a
    /// broker again, and how long it waits for a connection (see
    /// [`crate::client::connection_states`]).
    pub connections: crate::client::connection_states::ConnectionSettings,
    /// Whether metadata answers that give a partition an older leader epoch than one
    /// already seen are ignored for that partition (Kafka 2.2+, KAFKA-7738; no Kafka
    /// setting: the scenario's release decides).
    pub rejects_stale_metadata: bool,
    /// `delivery.timeout.ms`: the bound on the time from `send` to success or failure.
    pub delivery_timeout_ms: u64,
    /// `batch.size`, in bytes.
    pub batch_size: u64,
    /// `linger.ms`: how long a non-full batch waits for more records.
    pub linger_ms: u64,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight_requests_per_connection: u32,
    /// `metadata.max.age.ms`: the sender refreshes metadata at least this often.
    pub metadata_max_age_ms: u64,
    /// `max.block.ms`: how long `send` waits for metadata.
    pub max_block_ms: u64,
    /// `enable.idempotence`: producer id and sequence numbers, so that the leader drops
    /// retried duplicates and refuses gaps.
    pub enable_idempotence: bool,
    /// How the idempotent producer recovers when a leader refuses a sequence
    /// (OUT_OF_ORDER_SEQUENCE, UNKNOWN_PRODUCER_ID) or a batch fails with an unknown
    /// outcome. `true`: Kafka 2.5 and later (KIP-360, KAFKA-8805), it bumps its epoch,
    /// restarts the partition's sequences at 0 and goes on. `false`: Kafka 1.0 to 2.4,
    /// it fails the batch and resets its producer id. Not a Kafka setting: the release.
    pub idempotent_epoch_bump: bool,
    /// How a transactional producer takes a batch refused with INVALID_PRODUCER_EPOCH
    /// (its epoch is older than the partition's: the coordinator bumped it when it
    /// timed the transaction out). `true`: Kafka 2.7 and later (KIP-588), the transaction
    /// becomes abortable. `false`: before 2.7, where the broker answered PRODUCER_FENCED,
    /// the producer is fenced and must be closed. Not a Kafka setting: the release.
    pub invalid_epoch_abortable: bool,
    /// How records with neither partition nor key are placed: round-robin (Kafka up to
    /// 2.3), sticky until a new batch (2.4 to 3.2, KIP-480) or sticky for `batch.size`
    /// bytes (3.3 and later, KIP-794). Not a Kafka setting: the release.
    pub partitioner: UnkeyedPartitioning,
    /// `partitioner.adaptive.partitioning.enable` (3.3+, default true): the KIP-794
    /// partitioner favours partitions with shorter queues when it switches.
    pub partitioner_adaptive_partitioning_enable: bool,
    /// `partitioner.availability.timeout.ms` (3.3+, default 0: off): with adaptive
    /// partitioning, a partition whose leader had batches ready but could take no request
    /// for longer than this is left out when the KIP-794 partitioner switches.
    pub partitioner_availability_timeout_ms: u64,
    /// `transactional.id`: makes the producer transactional (it implies idempotence).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open
    /// before it aborts it (default 60000).
    pub transaction_timeout_ms: u64,
    /// The bug planted in the run, if any: the sender reads `sync-producer-stall`
    /// ([`crate::plant`]); `None` in a real run.
    pub plant: Option<crate::plant::PlantedBug>,
}

impl ProducerConfig {
    /// The retry backoff: `retry.backoff.ms`, fixed before Kafka 3.7, growing to
    /// `retry.backoff.max.ms` from 3.7 (KIP-580).
    pub fn retry_backoff(&self) -> crate::client::backoff::RetryBackoff {
        crate::client::backoff::RetryBackoff::new(self.retry_backoff_ms, self.retry_backoff_max_ms)
    }
}
