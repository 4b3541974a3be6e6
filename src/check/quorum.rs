//! KRaft's Raft safety over the trace: what the controller quorum did inside.
//!
//! - [`multiple_quorum_leaders`] (`quorum-multiple-leaders`): two `QuorumLeader` events
//!   of one epoch name different controllers (Raft's election safety). One anomaly per
//!   epoch and extra controller.
//! - [`metadata_divergence`] (`metadata-divergence`): the first entry (epoch and record
//!   digest) any controller shows committed at an offset (`QuorumCommitted`) is the
//!   quorum's committed entry there. A later `QuorumCommitted` with another entry at that
//!   offset, a `QuorumTruncate` below the truncating controller's own high watermark, and
//!   a `QuorumLeader` whose log ends before an entry committed in an earlier epoch
//!   (leader completeness) are each one anomaly.
//! - [`metadata_gaps`] (`metadata-gap`): per node, each `MetadataApplied` must start where
//!   the node's previous one ended, or at 0 (a process replaying its log after a
//!   restart). One anomaly per out-of-order application.

use super::describe::secs;
use super::{Anomaly, AnomalyKind};
use crate::history::{Event, History};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Every quorum anomaly of a history, in [`AnomalyKind`] order, then in trace order.
pub fn check(history: &History) -> Vec<Anomaly> {
    let mut all = multiple_quorum_leaders(history);
    all.extend(metadata_divergence(history));
    all.extend(metadata_gaps(history));
    all
}

/// Two controllers leading one Raft epoch.
pub fn multiple_quorum_leaders(history: &History) -> Vec<Anomaly> {
    let mut first: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    let mut reported: BTreeSet<(u32, u32)> = BTreeSet::new();
    let mut out = Vec::new();
    for event in history.trace.other_than_replica_traffic() {
        let Event::QuorumLeader { controller, epoch, .. } = event.event else { continue };
        let (first_controller, first_ns) = *first.entry(epoch).or_insert((controller, event.time_ns));
        if first_controller != controller && reported.insert((epoch, controller)) {
            out.push(Anomaly::new(
                AnomalyKind::QuorumMultipleLeaders,
                format!(
                    "Controllers {first_controller} (at {}) and {controller} (at {}) both led the quorum in epoch {epoch}.",
                    secs(first_ns),
                    secs(event.time_ns)
                ),
                Vec::new(),
            ));
        }
    }
    out
}

/// The quorum's committed entry at an offset: who first showed it, and when.
struct Committed {
    entry: (u32, u64),
    controller: u32,
    /// The committing controller's epoch.
    epoch: u32,
    time_ns: u64,
}

/// Committed metadata entries that changed, disappeared, or are missing from a leader.
pub fn metadata_divergence(history: &History) -> Vec<Anomaly> {
    let mut committed: Vec<Committed> = Vec::new();
    let mut out = Vec::new();
    let anomaly = |description: String| Anomaly::new(AnomalyKind::MetadataDivergence, description, Vec::new());
    for event in history.trace.other_than_replica_traffic() {
        match &event.event {
            Event::QuorumCommitted { controller, epoch, base_offset, entries } => {
                for (i, &entry) in entries.iter().enumerate() {
                    let offset = base_offset + i as u64;
                    match committed.get(offset as usize) {
                        Some(c) if c.entry != entry => out.push(anomaly(format!(
                            "Metadata offset {offset}: controller {controller} committed an entry of epoch {} at {} \
                             where controller {} had committed one of epoch {} at {}.",
                            entry.0,
                            secs(event.time_ns),
                            c.controller,
                            c.entry.0,
                            secs(c.time_ns)
                        ))),
                        Some(_) => {}
                        None if offset as usize == committed.len() => committed.push(Committed {
                            entry,
                            controller: *controller,
                            epoch: *epoch,
                            time_ns: event.time_ns,
                        }),
                        // A controller cannot show an offset committed before the ones
                        // below it; a trace from elsewhere might: nothing to compare.
                        None => {}
                    }
                }
            }
            Event::QuorumTruncate { controller, to_offset, high_watermark } if to_offset < high_watermark => {
                out.push(anomaly(format!(
                    "Controller {controller} truncated its metadata log to offset {to_offset} at {}, below its own \
                     high watermark {high_watermark}: committed entries {to_offset}-{} are gone from it.",
                    secs(event.time_ns),
                    high_watermark - 1
                )));
            }
            Event::QuorumLeader { controller, epoch, log_end_offset } => {
                let missing =
                    committed.iter().enumerate().skip(*log_end_offset as usize).find(|(_, c)| c.epoch < *epoch);
                if let Some((offset, c)) = missing {
                    out.push(anomaly(format!(
                        "Controller {controller} became leader of epoch {epoch} at {} with its log ending at offset \
                         {log_end_offset}, without offset {offset}, which controller {} had committed in epoch {} at {}.",
                        secs(event.time_ns),
                        c.controller,
                        c.epoch,
                        secs(c.time_ns)
                    )));
                }
            }
            _ => {}
        }
    }
    out
}

/// Metadata applied out of log order.
pub fn metadata_gaps(history: &History) -> Vec<Anomaly> {
    let mut next: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    let mut out = Vec::new();
    for event in history.trace.other_than_replica_traffic() {
        let Event::MetadataApplied { base_offset, count } = event.event else { continue };
        let expected = next.get(&*event.node).copied().unwrap_or(0);
        if base_offset != expected && base_offset != 0 {
            let what = if base_offset > expected {
                format!("skipping offsets {expected}-{}", base_offset - 1)
            } else {
                format!("although it had applied up to offset {}", expected - 1)
            };
            out.push(Anomaly::new(
                AnomalyKind::MetadataGap,
                format!(
                    "{} applied metadata records from offset {base_offset} at {}, {what}.",
                    event.node,
                    secs(event.time_ns)
                ),
                Vec::new(),
            ));
        }
        next.insert(event.node.clone(), base_offset + count);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    fn kinds(anomalies: &[Anomaly]) -> Vec<AnomalyKind> {
        anomalies.iter().map(|a| a.kind).collect()
    }

    fn leader(controller: u32, epoch: u32, log_end_offset: u64) -> Event {
        Event::QuorumLeader { controller, epoch, log_end_offset }
    }

    fn committed(controller: u32, epoch: u32, base_offset: u64, entries: &[(u32, u64)]) -> Event {
        Event::QuorumCommitted { controller, epoch, base_offset, entries: entries.to_vec() }
    }

    #[test]
    fn two_leaders_of_one_epoch_are_reported_and_successive_epochs_are_not() {
        let fine = Hist::new().event("controller-1", leader(1, 1, 0)).event("controller-2", leader(2, 2, 1)).build();
        assert!(check(&fine).is_empty());
        let split = Hist::new()
            .event("controller-1", leader(1, 3, 0))
            .event("controller-2", leader(2, 3, 0))
            .event("controller-2", leader(2, 3, 0))
            .build();
        assert_eq!(kinds(&check(&split)), vec![AnomalyKind::QuorumMultipleLeaders]);
    }

    #[test]
    fn an_entry_committed_differently_or_truncated_below_the_high_watermark_is_divergence() {
        let agree = Hist::new()
            .event("controller-1", committed(1, 1, 0, &[(1, 10), (1, 11)]))
            .event("controller-2", committed(2, 1, 0, &[(1, 10)]))
            .event("controller-2", committed(2, 1, 1, &[(1, 11), (1, 12)]))
            .event("controller-3", Event::QuorumTruncate { controller: 3, to_offset: 2, high_watermark: 2 })
            .build();
        assert!(check(&agree).is_empty());
        let changed = Hist::new()
            .event("controller-1", committed(1, 1, 0, &[(1, 10), (1, 11)]))
            .event("controller-2", committed(2, 2, 1, &[(2, 99)]))
            .build();
        assert_eq!(kinds(&check(&changed)), vec![AnomalyKind::MetadataDivergence]);
        let truncated = Hist::new()
            .event("controller-3", Event::QuorumTruncate { controller: 3, to_offset: 1, high_watermark: 2 })
            .build();
        assert_eq!(kinds(&check(&truncated)), vec![AnomalyKind::MetadataDivergence]);
    }

    #[test]
    fn a_leader_without_an_entry_committed_in_an_earlier_epoch_is_incomplete() {
        let history = |log_end| {
            Hist::new()
                .event("controller-1", committed(1, 1, 0, &[(1, 10), (1, 11), (1, 12)]))
                .event("controller-2", leader(2, 2, log_end))
                .build()
        };
        assert!(check(&history(3)).is_empty());
        assert_eq!(kinds(&check(&history(2))), vec![AnomalyKind::MetadataDivergence]);
        // Entries committed in the leader's own epoch need not be in its log at election.
        let own_epoch = Hist::new()
            .event("controller-1", committed(1, 2, 0, &[(2, 10)]))
            .event("controller-1", leader(1, 2, 0))
            .build();
        assert!(check(&own_epoch).is_empty());
    }

    #[test]
    fn metadata_applied_out_of_order_is_a_gap_and_a_replay_from_zero_is_not() {
        let applied = |base_offset, count| Event::MetadataApplied { base_offset, count };
        let in_order = Hist::new()
            .event("broker-1", applied(0, 3))
            .event("broker-1", applied(3, 2))
            .event("broker-2", applied(0, 5))
            .event("broker-1", applied(0, 5))
            .build();
        assert!(check(&in_order).is_empty());
        let gaps = Hist::new()
            .event("broker-1", applied(0, 3))
            .event("broker-1", applied(4, 1))
            .event("broker-1", applied(2, 1))
            .build();
        assert_eq!(kinds(&check(&gaps)), vec![AnomalyKind::MetadataGap, AnomalyKind::MetadataGap]);
    }
}
