//! Kafka clients: a producer (partitioner, accumulator, sender, retries, in-flight
//! limit), a consumer, and the consumer-group partition assignors. They talk to
//! brokers only through `sim::net`.

pub mod assignor;
pub mod consumer;
pub mod metadata;
pub mod partitioner;
pub mod producer;
