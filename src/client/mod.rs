//! Kafka clients: a producer (partitioner, accumulator, sender, retries, in-flight
//! limit) and a consumer. They talk to brokers only through `sim::net`.

pub mod consumer;
pub mod metadata;
pub mod partitioner;
pub mod producer;
