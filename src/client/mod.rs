//! Kafka clients: a producer (partitioner, accumulator, sender, retries, in-flight
//! limit), a standalone consumer, a consumer-group member and the partition assignors. They talk to
//! brokers only through `sim::net`.

pub mod assignor;
pub mod consumer;
pub mod group;
pub mod isolation;
pub mod metadata;
pub mod partitioner;
pub mod position;
pub mod producer;
