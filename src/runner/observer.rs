//! What the simulation knows of the cluster's state, read from the trace: the latest
//! leader, epoch and ISR of each partition, and the current controller. The nemesis uses
//! it to resolve targets such as "the leader of orders-0" when a fault fires, and the
//! liveness phase uses it to see whether the cluster has recovered. It never reads a
//! node's memory.

use crate::history::{Event, Recorder};
use std::collections::BTreeMap;

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
    pub partitions: BTreeMap<String, ObservedPartition>,
    /// The latest elected controller.
    pub controller: Option<u32>,
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
                _ => {}
            }
        }
    });
    observation
}
