//! A delay queue's forwarder instance (`[[delay_queues]]`), the design of delay levels
//! built on Kafka (RocketMQ's `ScheduleMessageService` on Kafka topics): producers write
//! each record to the tier topic of its delay, and its timestamp (its producer's create
//! time, Kafka's `CreateTime`) is its send time, so it is due at timestamp + the tier's
//! delay. A forwarder is a consume-transform-produce pipeline instance (see `pipeline`)
//! subscribed to every tier, forwarding to the target topic, whose intake is a
//! [`DueGate`]: of each poll it lets through, partition by partition in offset order,
//! the records already due; at a partition's first record not yet due it stops, moves the
//! partition's position back to that record (`KafkaConsumer.seek`) and pauses the
//! partition (`KafkaConsumer.pause`), and before a later poll resumes it
//! (`KafkaConsumer.resume`) once that record is due. The pipeline then forwards what
//! was let through, at least once (commit after the acknowledgements) or exactly once
//! (forward and offsets in one transaction), and commits the offsets past it only.
//!
//! Records behind a record not yet due wait even if they are due (a tier's records are
//! due in the order they were written, as long as their producers' clocks agree). A
//! rebalance forgets pauses, as Kafka's does: the partition's next owner reads the
//! record from the committed offset and pauses again. The history records what the
//! gate let through as the poll's records; what it put back is read, and recorded,
//! again after the resume.

use super::pipeline::{run_instance, PipelineConfigs};
use super::WorkloadContext;
use crate::client::consumer::ConsumedRecord;
use crate::client::group::GroupConsumer;
use crate::protocol::{Offset, Request, Response, TopicPartition};
use crate::scenario::DelayQueueSpec;
use crate::sim::net::NodeNet;
use std::collections::BTreeMap;

/// One forwarder instance of `queue`, named `name` (its client id, `forwarder-N`),
/// booted as Jepsen process `process`; `target_partitions`: the target topic's partition
/// count. Like a pipeline instance it runs until the run ends.
pub fn run_forwarder(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    queue: DelayQueueSpec,
    configs: PipelineConfigs,
    name: String,
    target_partitions: u32,
    process: u64,
) -> impl std::future::Future<Output = ()> {
    let gate = DueGate::new(&queue);
    run_instance(ctx, net, (queue.as_pipeline(), configs), (name, target_partitions, process), Some(gate))
}

/// What a forwarder lets through of each poll: the records already due (see the module
/// documentation).
pub(super) struct DueGate {
    /// Each tier topic with its delay in milliseconds, in the queue's order.
    tiers: Vec<(String, u64)>,
    /// The partitions this gate paused at a record not yet due, with the time that
    /// record is due (milliseconds of the run's clock, as record timestamps).
    paused: BTreeMap<TopicPartition, u64>,
}

/// A partition the gate stopped at: the offset of its first record not yet due, and when
/// that record is due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    offset: Offset,
    due_ms: u64,
}

impl DueGate {
    /// The gate of `queue`'s forwarders.
    pub fn new(queue: &DelayQueueSpec) -> Self {
        DueGate { tiers: queue.tiers.iter().map(|t| (t.topic.clone(), t.delay_ms)).collect(), paused: BTreeMap::new() }
    }

    /// The tier topics, which a forwarder subscribes to.
    pub fn topics(&self) -> Vec<String> {
        self.tiers.iter().map(|(topic, _)| topic.clone()).collect()
    }

    /// Before a poll: resumes the paused partitions whose held record is due now, and
    /// forgets those the member no longer holds paused (a rebalance took them, or the
    /// application moved back to its committed offsets).
    pub fn resume_due(&mut self, member: &mut GroupConsumer) {
        let now_ms = now_ms();
        self.paused.retain(|tp, due_ms| {
            if !member.is_paused(tp) {
                return false;
            }
            if now_ms >= *due_ms {
                member.resume(tp);
                return false;
            }
            true
        });
    }

    /// Of a poll's `records`, the ones to forward now; each partition stopped at a record
    /// not yet due is moved back to that record and paused.
    pub fn admit(&mut self, member: &mut GroupConsumer, records: Vec<ConsumedRecord>) -> Vec<ConsumedRecord> {
        let (due, held) = split_due(records, now_ms(), |topic| self.delay_ms(topic));
        for (tp, Held { offset, due_ms }) in held {
            member.seek(&tp, offset);
            member.pause(&tp);
            self.paused.insert(tp, due_ms);
        }
        due
    }

    /// The delay of a tier topic's records (0 for a topic that is no tier: due at once).
    fn delay_ms(&self, topic: &str) -> u64 {
        self.tiers.iter().find(|(t, _)| t == topic).map_or(0, |(_, delay)| *delay)
    }
}

/// Splits a poll's records into those due at `now_ms` (a record is due once `now_ms` is
/// at least its timestamp plus its topic's delay), in poll order, and per partition the
/// first record not yet due, before which the partition stops: its later records are
/// dropped, to be read again.
fn split_due(
    records: Vec<ConsumedRecord>,
    now_ms: u64,
    delay_ms: impl Fn(&str) -> u64,
) -> (Vec<ConsumedRecord>, BTreeMap<TopicPartition, Held>) {
    let mut held: BTreeMap<TopicPartition, Held> = BTreeMap::new();
    let mut due = Vec::new();
    for record in records {
        if held.contains_key(&record.tp) {
            continue;
        }
        let due_ms = record.timestamp_ms.saturating_add(delay_ms(&record.tp.topic));
        if now_ms >= due_ms {
            due.push(record);
        } else {
            held.insert(record.tp.clone(), Held { offset: record.offset, due_ms });
        }
    }
    (due, held)
}

/// The run's clock in milliseconds, as producers stamp records with it.
fn now_ms() -> u64 {
    madsim::time::TimeHandle::current().elapsed().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(topic: &str, partition: u32, offset: Offset, timestamp_ms: u64) -> ConsumedRecord {
        let tp = TopicPartition::new(topic, partition);
        ConsumedRecord { tp, offset, value: 1000 + offset, timestamp_ms, topic_id: None }
    }

    fn delays(topic: &str) -> u64 {
        match topic {
            "delay-1s" => 1_000,
            "delay-5s" => 5_000,
            _ => 0,
        }
    }

    #[test]
    fn a_partition_stops_at_its_first_record_not_yet_due_and_drops_what_follows() {
        let records = vec![
            record("delay-1s", 0, 10, 1_000), // due at 2000
            record("delay-5s", 0, 3, 1_000),  // due at 6000: held
            record("delay-1s", 0, 11, 1_500), // due at 2500: held
            record("delay-5s", 0, 4, 100),    // due at 5100, but behind offset 3: dropped
            record("delay-1s", 1, 7, 900),    // due at 1900
            record("delay-1s", 0, 12, 1_000), // due, but behind offset 11: dropped
        ];
        let (due, held) = split_due(records, 2_000, delays);
        let due: Vec<(String, Offset)> = due.iter().map(|r| (r.tp.to_string(), r.offset)).collect();
        assert_eq!(due, [("delay-1s-0".to_string(), 10), ("delay-1s-1".to_string(), 7)]);
        let held: Vec<(String, Held)> = held.into_iter().map(|(tp, h)| (tp.to_string(), h)).collect();
        assert_eq!(
            held,
            [
                ("delay-1s-0".to_string(), Held { offset: 11, due_ms: 2_500 }),
                ("delay-5s-0".to_string(), Held { offset: 3, due_ms: 6_000 }),
            ]
        );
    }

    #[test]
    fn a_record_is_due_at_its_timestamp_plus_its_delay_and_not_a_millisecond_before() {
        let at = |now_ms| split_due(vec![record("delay-1s", 0, 0, 500)], now_ms, delays);
        assert!(at(1_499).0.is_empty());
        assert_eq!(at(1_499).1[&TopicPartition::new("delay-1s", 0)], Held { offset: 0, due_ms: 1_500 });
        assert_eq!(at(1_500).0.len(), 1);
        assert!(at(1_500).1.is_empty());
    }
}
