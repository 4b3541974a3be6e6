//! Kafka clients: a producer (partitioner, accumulator, sender, retries, in-flight
//! limit), a standalone consumer, a consumer-group member and the partition assignors. They talk to
//! brokers only through `sim::net`.

pub mod assignor;
pub mod backoff;
pub mod connection_states;
pub mod consumer;
pub mod fetch_buffer;
pub mod group;
pub mod isolation;
mod last_seen_epochs;
pub mod metadata;
pub mod partitioner;
pub mod position;
pub mod producer;

/// How a client tells whoever runs it which named protocol states it reached
/// (FoundationDB's code probes, see [`crate::coverage`]): the workload sets it so that
/// client-side states (a retried batch, an idempotent producer's epoch bump) are counted
/// with the brokers' ones. The client only calls it; nothing it does depends on it.
pub type Probe = std::sync::Arc<dyn Fn(crate::coverage::ReachedState) + Send + Sync>;
