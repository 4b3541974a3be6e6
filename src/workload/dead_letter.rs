//! Where a pipeline instance sends each record it consumed: to the output, or, for a
//! poison record of a pipeline with a dead-letter queue (`dead_letter`, `poison_every`,
//! `max_attempts` in `[[pipelines]]`), to the dead-letter topic once every processing
//! attempt failed — the pattern of Kafka Connect's `errors.deadletterqueue.topic.name`
//! (`DeadLetterQueueReporter`) and Spring Kafka's `DeadLetterPublishingRecoverer`.
//!
//! The dead-letter record is the consumed value unchanged, sent by the instance's own
//! producer to the same-numbered partition of the dead-letter topic (Spring's default
//! destination; Connect lets its producer's partitioner choose), so it is in the same
//! transaction as the output and the offsets when the pipeline is exactly-once, and a
//! send of its own, acknowledged before the commit, when it is at least once (as
//! Connect's `WorkerSinkTask` awaits the dead-letter sends before committing offsets).
//! Before the send the application records a `dead-letter` op naming the input record,
//! with the failure as its error. Simplified: the retries happen in place, one
//! `process_time` each, with no back-off (Spring re-seeks and polls again; Connect's
//! `errors.retry.delay.max.ms` backs off), and the failure headers Connect and Spring
//! add (original topic, partition, offset, exception) are not modelled: the value names
//! the record.

use super::{add_polled, Incarnation};
use crate::client::consumer::ConsumedRecord;
use crate::history::{GroupContext, OpFn, OpValue, PolledRecords};
use crate::scenario::{DeadLetterSpec, OutputPartitioner, PipelineSpec};
use std::sync::Arc;

/// One destination topic and its partition count.
struct Topic {
    name: Arc<str>,
    partitions: u32,
}

/// Where a record goes, and how many processing attempts it takes first.
pub(super) struct Route<'a> {
    /// The topic.
    pub topic: &'a Arc<str>,
    /// The partition: the consumed record's, modulo the topic's partition count; `None`
    /// when the producer's partitioner places the record (an output whose pipeline has
    /// an unkeyed `output_partitioner`).
    pub partition: Option<u32>,
    /// Processing attempts, each taking the pipeline's `process_time`.
    pub attempts: u32,
    /// Whether every attempt failed and the record goes to the dead-letter topic.
    pub dead_letter: bool,
}

/// A pipeline instance's destinations.
pub(super) struct Routing {
    output: Topic,
    output_partitioner: OutputPartitioner,
    dead_letter: Option<(Topic, DeadLetterSpec)>,
}

impl Routing {
    /// The destinations of `spec`'s instances; `output_partitions` is the output topic's
    /// partition count.
    pub fn new(spec: &PipelineSpec, output_partitions: u32) -> Self {
        let output = Topic { name: Arc::from(spec.output.as_str()), partitions: output_partitions };
        let dead_letter = spec.dead_letter.clone().map(|d| {
            let topic = Topic { name: Arc::from(d.topic.as_str()), partitions: d.partitions };
            (topic, d)
        });
        Routing { output, output_partitioner: spec.output_partitioner, dead_letter }
    }

    /// Where `record` goes.
    pub fn route(&self, record: &ConsumedRecord) -> Route<'_> {
        let (topic, attempts, dead_letter) = match &self.dead_letter {
            Some((topic, spec)) if spec.is_poison(record.value) => (topic, spec.max_attempts, true),
            _ => (&self.output, 1, false),
        };
        let same_partition = Some(record.tp.partition % topic.partitions.max(1));
        let partition = match self.output_partitioner {
            OutputPartitioner::Unkeyed(_) if !dead_letter => None,
            _ => same_partition,
        };
        Route { topic: &topic.name, partition, attempts, dead_letter }
    }

    /// Whether `record` is processed (forwarded to the output) rather than dead-lettered.
    pub fn is_processed(&self, record: &ConsumedRecord) -> bool {
        !self.route(record).dead_letter
    }
}

/// Records that the application gave up on `record` after `attempts` failed processing
/// attempts: a bare `dead-letter` op of group member `group`.
pub(super) fn record_given_up(life: &mut Incarnation, record: &ConsumedRecord, attempts: u32, group: &GroupContext) {
    let mut given_up = PolledRecords::new();
    add_polled(life, &mut given_up, std::slice::from_ref(record), |r| r);
    let failed = match attempts {
        1 => "processing failed, no retries: poison record".to_string(),
        n => format!("processing failed {n} times: poison record"),
    };
    life.record_in_group_because(OpFn::DeadLetter, OpValue::Records(given_up), failed, group.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::TopicPartition;

    fn spec(extra: &str) -> PipelineSpec {
        let text = format!(
            "seeds = [1]\nduration = \"10s\"\n[[topics]]\nname = \"in\"\npartitions = 4\n\
             [[topics]]\nname = \"out\"\npartitions = 6\n[[topics]]\nname = \"dlq\"\npartitions = 2\n\
             [[pipelines]]\ninput = \"in\"\noutput = \"out\"\ngroup = \"g\"\nguarantee = \"at-least-once\"\n\
             dead_letter = \"dlq\"\npoison_every = 7\n{extra}"
        );
        crate::scenario::parse(&text, std::path::Path::new("x.toml")).unwrap().pipelines.remove(0)
    }

    fn record(partition: u32, value: u64) -> ConsumedRecord {
        ConsumedRecord { tp: TopicPartition::new("in", partition), offset: 0, value, timestamp_ms: 0, topic_id: None }
    }

    #[test]
    fn forwards_go_to_the_same_numbered_partition_or_to_the_producers_partitioner() {
        let same = Routing::new(&spec(""), 6);
        assert_eq!(same.route(&record(3, 1)).partition, Some(3));
        let spread = Routing::new(&spec("output_partitioner = \"round-robin\"\n"), 6);
        let route = spread.route(&record(3, 1));
        assert_eq!((&**route.topic, route.partition), ("out", None));
        // A dead letter keeps its partition number (Spring's default destination).
        let poison = spread.route(&record(3, 14));
        assert_eq!((&**poison.topic, poison.partition, poison.dead_letter), ("dlq", Some(1), true));
    }
}
