//! What the simulation knows of the cluster's state, read from the trace: the latest
//! leader, epoch and ISR of each partition, and the current controller. The nemesis uses
//! it to resolve targets such as "the leader of orders-0" when a fault fires, and the
//! liveness phase uses it to see whether the cluster has recovered. It never reads a
//! node's memory.

use crate::history::{Event, Recorder};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The latest known state of one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedPartition {
    /// The leader, if any.
    pub leader: Option<u32>,
    /// The leader epoch.
    pub leader_epoch: u32,
    /// The ISR.
    pub isr: Vec<u32>,
}

/// A snapshot of the cluster as the trace tells it.
#[derive(Clone, Debug, Default)]
pub struct ClusterObservation {
    /// Partitions by name (`orders-0`).
    pub partitions: BTreeMap<Arc<str>, ObservedPartition>,
    /// The latest elected controller.
    pub controller: Option<u32>,
    /// Each replica's log, by partition name and broker, as its appends, truncations,
    /// loads and high watermark moves tell it.
    pub replicas: BTreeMap<(Arc<str>, u32), ObservedReplica>,
    /// The leadership each broker took up (become-leader) since it last started, by
    /// partition name and broker: the leader epoch.
    pub leading: BTreeMap<(Arc<str>, u32), u32>,
}

/// One replica's log end and high watermark, as the trace tells them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObservedReplica {
    /// The offset after the last record.
    pub log_end_offset: u64,
    /// The high watermark.
    pub high_watermark: u64,
}

impl ClusterObservation {
    /// The partition's leader, if the controller elected one and that broker took up
    /// the leadership in its current process: after a restart a broker leads nothing
    /// until told again, however the last election read.
    pub fn acting_leader(&self, tp: &str) -> Option<u32> {
        let partition = self.partitions.get(tp)?;
        let leader = partition.leader?;
        (self.leading.get(&(Arc::from(tp), leader)) == Some(&partition.leader_epoch)).then_some(leader)
    }

    /// Whether the partition's leader has committed everything in its log: its high
    /// watermark has reached its log end. A new leader's high watermark can lag behind
    /// records the previous leader acknowledged until its followers fetch again.
    pub fn leader_committed_all(&self, tp: &str) -> bool {
        let Some(leader) = self.acting_leader(tp) else {
            return false;
        };
        self.replicas.get(&(Arc::from(tp), leader)).is_some_and(|r| r.high_watermark >= r.log_end_offset)
    }
}

/// Builds the observation from everything recorded so far.
pub fn observe(recorder: &Recorder) -> ClusterObservation {
    let mut observation = ClusterObservation::default();
    recorder.with_trace(|trace| {
        for event in trace {
            match &event.event {
                Event::LeaderElection { tp, leader, leader_epoch, isr, .. }
                | Event::IsrChange { tp, leader, leader_epoch, isr } => {
                    observation.partitions.insert(
                        tp.clone(),
                        ObservedPartition { leader: *leader, leader_epoch: *leader_epoch, isr: isr.clone() },
                    );
                }
                Event::ControllerElected { broker, .. } => observation.controller = Some(*broker),
                Event::LogLoaded { tp, broker, records, high_watermark } => {
                    let end = records.iter().map(|r| r.0 + 1).max().unwrap_or(0);
                    let replica = observation.replicas.entry((tp.clone(), *broker)).or_default();
                    *replica = ObservedReplica { log_end_offset: end, high_watermark: *high_watermark };
                }
                Event::Append { tp, broker, base_offset, values, .. } => {
                    let replica = observation.replicas.entry((tp.clone(), *broker)).or_default();
                    replica.log_end_offset = base_offset + values.len() as u64;
                }
                Event::BecomeLeader { tp, broker, leader_epoch, log_end_offset, .. } => {
                    observation.replicas.entry((tp.clone(), *broker)).or_default().log_end_offset = *log_end_offset;
                    observation.leading.insert((tp.clone(), *broker), *leader_epoch);
                }
                Event::BrokerStarted { broker } => observation.leading.retain(|(_, b), _| b != broker),
                Event::HighWatermark { tp, broker, new, .. } => {
                    observation.replicas.entry((tp.clone(), *broker)).or_default().high_watermark = *new;
                }
                Event::Truncate { tp, broker, to_offset, .. } => {
                    let replica = observation.replicas.entry((tp.clone(), *broker)).or_default();
                    replica.log_end_offset = *to_offset;
                    replica.high_watermark = replica.high_watermark.min(*to_offset);
                }
                _ => {}
            }
        }
    });
    observation
}
