//! Every replica's records, reconstructed from the trace one event at a time on top of
//! the cluster state fold ([`ClusterState`]: high watermarks, log ends, roles), so the
//! log checkers can ask what a replica held when something happened.
//!
//! Each record is kept as an [`Entry`]: its value and the leader epoch of the batch it
//! came in (from `Append`'s `leader_epoch`, `LogLoaded`'s records and `Truncate`'s
//! removed records). Two replicas hold the same log entry at an offset only if value and
//! epoch both match: a producer retry can put an equal value at the same offset in a
//! later epoch, and that is a different record.

use super::replica_log::ReplicaLog;
use crate::history::state::{Applied, ClusterState};
use crate::history::{Event, TraceEvent};
use std::collections::BTreeMap;

/// One record of a replica's log, as far as the checkers can tell records apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    /// The record's value.
    pub value: u64,
    /// The leader epoch stamped on the batch the record came in.
    pub epoch: u32,
}

/// What one trace event did to one replica, as far as the checkers care.
#[derive(Debug)]
pub(super) struct Change<'e> {
    /// The event.
    pub event: &'e TraceEvent,
    /// The partition.
    pub tp: &'e str,
    /// The partition's number in the [`ClusterState`] (dense, in order of first
    /// appearance), so that per-partition state can live in a `Vec` instead of a map
    /// keyed by name.
    pub partition: usize,
    /// The broker.
    pub broker: u32,
    /// Records this event put below the replica's high watermark: the high watermark
    /// moved past them, a log was loaded with them below its checkpointed high
    /// watermark, or they were appended below it. `(offset, entry)` in offset order.
    pub now_below_hw: Vec<(u64, Entry)>,
    /// Whether the replica was leading when it put them there (so they are committed).
    pub as_leader: bool,
    /// The replica's high watermark after the event.
    pub hw: u64,
    /// Records the event removed from the replica's log (a truncation),
    /// `(offset, entry)` in offset order.
    pub removed: Vec<(u64, Entry)>,
}

/// Every replica's records, on top of the [`ClusterState`] fold that gives each
/// replica's high watermark and role.
#[derive(Debug, Default)]
pub(super) struct Replicas {
    state: ClusterState,
    /// (partition number, broker) → the records the replica holds.
    logs: BTreeMap<(usize, u32), ReplicaLog>,
}

impl Replicas {
    /// A partition's number (see [`Change::partition`]), if the trace named it.
    pub fn number(&self, tp: &str) -> Option<usize> {
        self.state.number(tp)
    }

    /// A replica's records as they stand now, if the trace has mentioned it.
    pub fn log(&self, tp: &str, broker: u32) -> Option<&ReplicaLog> {
        self.logs.get(&(self.state.number(tp)?, broker))
    }

    /// Applies one event; for events that touch a replica's log or high watermark,
    /// says what changed.
    pub fn apply<'e>(&mut self, event: &'e TraceEvent) -> Option<Change<'e>> {
        let (partition, broker, hw_before) = match self.state.apply(event) {
            Applied::BrokerStarted(broker) => {
                self.logs.retain(|(_, b), _| *b != broker);
                return None;
            }
            Applied::Replica { partition, broker, hw_before } => (partition, broker, hw_before),
            _ => return None,
        };
        let log = self.logs.entry((partition, broker)).or_default();
        let hw = self.state.replica_by_number(partition, broker).map_or(0, |r| r.high_watermark);
        let tp = match &event.event {
            Event::BecomeLeader { .. } | Event::BecomeFollower { .. } => return None,
            Event::LogStartAdvanced { log_start_offset, .. } => {
                // Below the log start nothing is held any more; this is not a truncation
                // (retention deletes committed records on purpose), so nothing is `removed`.
                log.remove_before(*log_start_offset);
                return None;
            }
            Event::LogLoaded { tp, .. }
            | Event::Append { tp, .. }
            | Event::HighWatermark { tp, .. }
            | Event::Truncate { tp, .. } => &**tp,
            _ => return None,
        };
        let mut change = Change {
            event,
            tp,
            partition,
            broker,
            now_below_hw: Vec::new(),
            as_leader: false,
            hw,
            removed: Vec::new(),
        };
        match &event.event {
            Event::LogLoaded { records, .. } => {
                *log = records.iter().map(|&(offset, value, epoch)| (offset, Entry { value, epoch })).collect();
                change.now_below_hw = log.range(0..hw).collect();
            }
            Event::Append { as_leader, leader_epoch, base_offset, values, .. } => {
                // Checked arithmetic: a corrupt trace near u64::MAX must not panic.
                let offsets = (0u64..).map_while(|i| base_offset.checked_add(i));
                for (offset, &value) in offsets.zip(values) {
                    let entry = Entry { value, epoch: *leader_epoch };
                    log.insert(offset, entry);
                    if offset < hw {
                        change.now_below_hw.push((offset, entry));
                    }
                }
                change.as_leader = *as_leader;
            }
            Event::HighWatermark { is_leader, new, .. } => {
                if *new > hw_before {
                    change.now_below_hw = log.range(hw_before..*new).collect();
                }
                change.as_leader = *is_leader;
            }
            Event::Truncate { to_offset, removed, .. } => {
                // What the replica held past the new end, corrected by what the broker
                // says it removed (the broker knows best; our copy may have gaps).
                let mut gone: BTreeMap<u64, Entry> = log.split_off(*to_offset).into_iter().collect();
                gone.extend(removed.iter().map(|&(offset, value, epoch)| (offset, Entry { value, epoch })));
                change.removed = gone.into_iter().collect();
            }
            _ => {}
        }
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{LogStartReason, TruncationReason};

    /// A trace event that lives as long as the test: [`Replicas`] borrows partition
    /// names from the events it applies.
    fn at(time_ms: u64, event: Event) -> &'static TraceEvent {
        Box::leak(Box::new(TraceEvent { time_ns: time_ms * 1_000_000, node: "broker".into(), event }))
    }

    fn append_in(broker: u32, leader_epoch: u32, base_offset: u64, values: &[u64]) -> &'static TraceEvent {
        at(
            1,
            Event::Append {
                tp: "t-0".into(),
                broker,
                as_leader: true,
                leader_epoch,
                base_offset,
                values: values.into(),
            },
        )
    }

    fn append(broker: u32, base_offset: u64, values: &[u64]) -> &'static TraceEvent {
        append_in(broker, 1, base_offset, values)
    }

    fn hw(broker: u32, old: u64, new: u64) -> &'static TraceEvent {
        at(2, Event::HighWatermark { tp: "t-0".into(), broker, is_leader: true, leader_epoch: 1, old, new })
    }

    /// `(offset, value, epoch)` triples as entries.
    fn entries(records: &[(u64, u64, u32)]) -> Vec<(u64, Entry)> {
        records.iter().map(|&(o, value, epoch)| (o, Entry { value, epoch })).collect()
    }

    #[test]
    fn records_go_below_the_high_watermark_once_each() {
        let mut r = Replicas::default();
        assert!(r.apply(append(1, 0, &[10, 11, 12])).unwrap().now_below_hw.is_empty());
        assert_eq!(r.apply(hw(1, 0, 2)).unwrap().now_below_hw, entries(&[(0, 10, 1), (1, 11, 1)]));
        assert_eq!(r.apply(hw(1, 2, 3)).unwrap().now_below_hw, entries(&[(2, 12, 1)]));
        assert!(r.apply(hw(1, 3, 3)).unwrap().now_below_hw.is_empty());
    }

    #[test]
    fn a_truncation_removes_the_tail_and_lowers_the_high_watermark() {
        let mut r = Replicas::default();
        r.apply(append(1, 0, &[10, 11, 12]));
        r.apply(hw(1, 0, 3));
        let truncate = at(
            3,
            Event::Truncate {
                tp: "t-0".into(),
                broker: 1,
                to_offset: 1,
                removed: vec![(1, 11, 1)],
                reason: TruncationReason::HighWatermark,
            },
        );
        let change = r.apply(truncate).unwrap();
        assert_eq!(change.removed, entries(&[(1, 11, 1), (2, 12, 1)]));
        assert_eq!(change.hw, 1);
        assert_eq!(r.log("t-0", 1).unwrap().len(), 1);
    }

    #[test]
    fn entries_keep_the_epoch_of_their_batch_from_every_event() {
        let mut r = Replicas::default();
        let loaded =
            Event::LogLoaded { tp: "t-0".into(), broker: 1, records: vec![(0, 10, 1), (1, 11, 2)], high_watermark: 1 };
        assert_eq!(r.apply(at(1, loaded)).unwrap().now_below_hw, entries(&[(0, 10, 1)]));
        r.apply(append_in(1, 3, 2, &[12]));
        let log: Vec<(u64, Entry)> = r.log("t-0", 1).unwrap().iter().collect();
        assert_eq!(log, entries(&[(0, 10, 1), (1, 11, 2), (2, 12, 3)]));
        // The broker's own account of what it removed wins over the model's copy.
        let truncate = Event::Truncate {
            tp: "t-0".into(),
            broker: 1,
            to_offset: 1,
            removed: vec![(2, 12, 4)],
            reason: TruncationReason::LeaderEpoch,
        };
        assert_eq!(r.apply(at(3, truncate)).unwrap().removed, entries(&[(1, 11, 2), (2, 12, 4)]));
    }

    #[test]
    fn a_restart_forgets_the_broker_and_appends_near_the_end_of_u64_do_not_overflow() {
        let mut r = Replicas::default();
        r.apply(append(1, u64::MAX, &[10, 11]));
        r.apply(append(2, 0, &[10]));
        assert_eq!(r.log("t-0", 1).unwrap().len(), 1);
        r.apply(at(4, Event::BrokerStarted { broker: 1 }));
        assert!(r.log("t-0", 1).is_none());
        assert!(r.log("t-0", 2).is_some());
    }

    #[test]
    fn a_log_start_move_drops_the_head_without_a_truncation() {
        let mut r = Replicas::default();
        r.apply(append(1, 0, &[10, 11, 12]));
        r.apply(hw(1, 0, 3));
        let moved = Event::LogStartAdvanced {
            tp: "t-0".into(),
            broker: 1,
            is_leader: true,
            log_start_offset: 2,
            removed: vec![(0, 10, 1), (1, 11, 1)],
            reason: LogStartReason::RetentionMs,
        };
        assert!(r.apply(at(3, moved)).is_none(), "no change for the log checkers to count");
        let log: Vec<(u64, Entry)> = r.log("t-0", 1).unwrap().iter().collect();
        assert_eq!(log, entries(&[(2, 12, 1)]));
    }
}
