//! The validated delay queue (`[[delay_queues]]`): tier topics, each with its delay, and
//! the forwarder instances that move each record to the target topic once it is due.

use super::model_clients::{ConsumerSpec, Guarantee, PipelineSpec, ProducerSpec};
use crate::history::RecordDelay;

/// One tier of a delay queue: a topic whose records are due `delay_ms` after their
/// timestamp (`{topic = "delay-1s", delay = "1s"}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayTier {
    /// The tier's topic; one of the scenario's topics, the tier of no other queue.
    pub topic: String,
    /// How long after its timestamp (its producer's create time) a record is due, in
    /// milliseconds; greater than 0.
    pub delay_ms: u64,
}

/// A delay queue (`[[delay_queues]]`), the design of delay levels built on Kafka: a
/// producer writes a record to the tier topic of its delay; `count` forwarder instances
/// (`forwarder-1`, ... across entries in file order), members of `group` subscribed to
/// every tier, forward each record whose due time has come, value unchanged, to the
/// same-numbered partition of `target` (modulo its partition count), and pause a tier
/// partition at its first record not yet due until that record is due.
#[derive(Clone, Debug, PartialEq)]
pub struct DelayQueueSpec {
    /// How many forwarder instances this entry starts (`count`, default 1).
    pub count: u32,
    /// The tiers (`tiers`, at least one), in file order.
    pub tiers: Vec<DelayTier>,
    /// The topic due records go to (`target`); never a tier.
    pub target: String,
    /// The forwarders' consumer group (`group`).
    pub group: String,
    /// At-least-once or exactly-once forwarding (`guarantee`, required), as a
    /// pipeline's: exactly-once forwards and commits the tier offsets in one transaction.
    pub guarantee: Guarantee,
    /// How late past its due time plus `poll_interval` a record may reach the target
    /// before the checker reports it `delivered-late` (`max_lateness`, required), in
    /// milliseconds: the queue's bound on fetch waits, acknowledgements and the time a
    /// crashed forwarder's partitions wait for a new owner.
    pub max_lateness_ms: u64,
    /// The forwarders' consumer, as a subscribe-mode `[[consumers]]` entry with manual
    /// commits (`[delay_queues.consumer]`, `poll_interval`, `process_time`,
    /// `sticky_assignor`); its `topic` is the first tier, and each instance subscribes to
    /// every tier.
    pub consumer: ConsumerSpec,
    /// The forwarders' producer, as a `[[producers]]` entry on `target`
    /// (`[delay_queues.producer]`); its `transactional.id` is set per instance when
    /// exactly-once.
    pub producer: ProducerSpec,
}

impl DelayQueueSpec {
    /// The tier topics, in file order.
    pub fn tier_topics(&self) -> Vec<String> {
        self.tiers.iter().map(|t| t.topic.clone()).collect()
    }

    /// The forwarders as the pipeline they run, from the first tier to the target (their
    /// consumer subscribes to every tier).
    pub fn as_pipeline(&self) -> PipelineSpec {
        PipelineSpec {
            count: self.count,
            input: self.tiers[0].topic.clone(),
            output: self.target.clone(),
            group: self.group.clone(),
            guarantee: self.guarantee,
            process_time_ms: self.consumer.process_time_ms,
            consumer: self.consumer.clone(),
            producer: self.producer.clone(),
            dead_letter: None,
            output_partitioner: Default::default(),
        }
    }

    /// The delay of `tier`'s records as their send ops record it: due `delay_ms` after
    /// their timestamp, late once `poll_interval` and `max_lateness` have passed after that.
    pub fn record_delay(&self, tier: &DelayTier) -> RecordDelay {
        RecordDelay {
            due_after_ms: tier.delay_ms,
            late_after_ms: tier.delay_ms + self.consumer.poll_interval_ms + self.max_lateness_ms,
        }
    }
}
