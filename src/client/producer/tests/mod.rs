//! Unit tests of the producer's state without the network: the accumulator's batching
//! and drain rules (`drain`), where records go (`placement`), and the idempotent
//! producer's sequences and epochs as the sender drives them (`sequences`); and, with a
//! simulated broker, how often the sender asks for metadata (`sender`). Batches read madsim's clock, so each test runs
//! inside a madsim runtime; time moves by passing later instants to the drain.

mod drain;
mod placement;
mod sender;
mod sequences;

use super::batch::Batch;
use super::config::ProducerConfig;
use super::delivery::{RecordMetadata, SendError};
use crate::protocol::UnkeyedPartitioning;
use crate::protocol::{Acks, BrokerId, LeaderEpoch, Record, TopicPartition};
use madsim::runtime::Runtime;
use tokio::sync::oneshot;

/// What a test sees of one record's outcome.
type Outcome = oneshot::Receiver<Result<RecordMetadata, SendError>>;

/// A plain producer (no idempotence): one record per batch (`batch.size` 1), no
/// linger, no backoff, five requests in flight, unlimited retries.
fn plain() -> ProducerConfig {
    ProducerConfig {
        bootstrap: Vec::new(),
        acks: Acks::All,
        retries: u32::MAX,
        request_timeout_ms: 1000,
        retry_backoff_ms: 0,
        retry_backoff_max_ms: None,
        connections: Default::default(),
        rejects_stale_metadata: true,
        delivery_timeout_ms: 60_000,
        batch_size: 1,
        linger_ms: 0,
        max_in_flight_requests_per_connection: 5,
        metadata_max_age_ms: 300_000,
        max_block_ms: 1000,
        enable_idempotence: false,
        idempotent_epoch_bump: true,
        invalid_epoch_abortable: true,
        partitioner: UnkeyedPartitioning::default(),
        partitioner_adaptive_partitioning_enable: true,
        partitioner_availability_timeout_ms: 0,
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        plant: None,
    }
}

/// [`plain`] with `enable.idempotence`.
fn idempotent() -> ProducerConfig {
    ProducerConfig { enable_idempotence: true, ..plain() }
}

/// A plain-sized record of `value` for topic `orders`, in `partition` if given, with
/// `key` if given.
fn orders_record(partition: Option<u32>, key: Option<&str>, value: u64) -> super::ProducerRecord {
    super::ProducerRecord {
        topic: "orders".into(),
        partition,
        key: key.map(str::to_string),
        value,
        value_bytes: Record::PLAIN_VALUE_BYTES,
    }
}

/// Partition `n` of topic `orders`.
fn tp(n: u32) -> TopicPartition {
    TopicPartition::new("orders", n)
}

/// Every partition led by broker 1.
fn broker_1(_: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
    Some((BrokerId(1), 0))
}

/// A record without key whose value tells it apart.
fn record(value: u64) -> Record {
    Record::new(None, value, 0)
}

/// The values of a batch's records.
fn values(batch: &Batch) -> Vec<u64> {
    batch.records.iter().map(|r| r.value).collect()
}

/// Runs `f` inside a madsim runtime (batches read the simulated clock).
fn in_sim(f: impl FnOnce() + Send + 'static) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { f() });
}

/// Runs the future `f` inside a madsim runtime, for tests that let simulated time pass.
fn in_sim_async<F: std::future::Future<Output = ()> + Send + 'static>(f: impl FnOnce() -> F + Send + 'static) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { f().await });
}
