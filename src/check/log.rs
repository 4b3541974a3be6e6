//! Replication invariants over the trace: what brokers did inside, not what clients saw.
//! Each replica's log (per partition and broker) is rebuilt from `LogLoaded`, `Append` and
//! `Truncate` events, its high watermark from `HighWatermark` events (see
//! [`replicas`](self::replicas)). A `BrokerStarted` event forgets everything the broker
//! held in memory; its logs come back through `LogLoaded`.
//!
//! - [`replica_divergence`] (`replica-divergence`): the first value any replica of a
//!   partition holds at an offset below its own high watermark is the partition's
//!   committed value there. A replica that later holds a different value at that offset
//!   below its own high watermark has diverged. One anomaly per partition, offset and
//!   divergent value.
//! - [`hw_regressions`] (`hw-regression`): a broker lowered its high watermark for a
//!   partition while leading it: two successive `HighWatermark` events with
//!   `is_leader`, same broker, same partition, same leader epoch, no `BrokerStarted` of
//!   that broker between them, the second lower than the first. Follower high
//!   watermarks and the first high watermark after a restart or a new leadership are
//!   not compared: Kafka moves those back legitimately. One anomaly per lowering.
//! - [`committed_truncations`] (`committed-truncation`): a record is committed once a
//!   leader's high watermark passes it while that leader holds it (same offset, same
//!   value). A `Truncate` event that removes a committed record from any replica is a
//!   committed truncation. Records lost without a `Truncate` (unflushed data dropped by
//!   a power loss, seen as a shorter `LogLoaded` log) are not counted: replication, not
//!   the disk, is what keeps them. One anomaly per truncation, listing the records.
//! - [`multiple_leaders`] (`multiple-leaders`): two different brokers appended to one
//!   partition as leader (`Append` with `as_leader`) stamping the same leader epoch. One
//!   anomaly per partition, epoch and extra broker.

mod replicas;

use super::describe::{broker, capitalize, offset_ranges, sample, secs};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{Event, History};
use replicas::{Change, Replicas};
use std::collections::{BTreeMap, BTreeSet};

/// Every log anomaly of a history, in [`AnomalyKind`] order, then in trace order.
pub fn check(history: &History) -> Vec<Anomaly> {
    let mut all = replica_divergence(history);
    all.extend(hw_regressions(history));
    all.extend(committed_truncations(history));
    all.extend(multiple_leaders(history));
    all
}

/// Where a value was first found below a high watermark: which broker, when, and that
/// high watermark.
#[derive(Clone, Copy, Debug)]
struct Witness {
    value: u64,
    broker: u32,
    time_ns: u64,
    hw: u64,
}

impl Witness {
    fn of(change: &Change<'_>, value: u64) -> Self {
        Witness { value, broker: change.broker, time_ns: change.event.time_ns, hw: change.hw }
    }
}

/// Replicas of a partition holding different values at one offset below their high
/// watermarks (`replica-divergence`); see the module documentation.
pub fn replica_divergence(history: &History) -> Vec<Anomaly> {
    let mut replicas = Replicas::default();
    let mut first: BTreeMap<(&str, u64), Witness> = BTreeMap::new();
    let mut reported: BTreeSet<(&str, u64, u64)> = BTreeSet::new();
    let mut out = Vec::new();
    for event in &history.trace {
        let Some(change) = replicas.apply(event) else { continue };
        for &(offset, value) in &change.now_below_hw {
            match first.get(&(change.tp, offset)) {
                None => {
                    first.insert((change.tp, offset), Witness::of(&change, value));
                }
                Some(w) if w.value != value && reported.insert((change.tp, offset, value)) => {
                    out.push(divergence(&change, offset, value, w));
                }
                Some(_) => {}
            }
        }
    }
    out
}

/// Describes one divergent value.
fn divergence(change: &Change<'_>, offset: u64, value: u64, first: &Witness) -> Anomaly {
    let tp = change.tp;
    Anomaly {
        kind: AnomalyKind::ReplicaDivergence,
        description: format!(
            "{tp} offset {offset}: {} held value {value} below its high watermark {} at {}, but {} had held value {} \
             there below its high watermark {} at {}.",
            broker(change.broker),
            change.hw,
            secs(change.event.time_ns),
            broker(first.broker),
            first.value,
            first.hw,
            secs(first.time_ns)
        ),
        records: vec![
            RecordRef::new(
                tp,
                Some(offset),
                Some(first.value),
                format!("below the high watermark of {}", broker(first.broker)),
            )
            .on_broker(first.broker, first.time_ns),
            RecordRef::new(
                tp,
                Some(offset),
                Some(value),
                format!("below the high watermark of {}, diverging", broker(change.broker)),
            )
            .on_broker(change.broker, change.event.time_ns),
        ],
    }
}

/// A leader's high watermark as last reported: epoch, value, time.
#[derive(Clone, Copy)]
struct LeaderHw {
    epoch: u32,
    hw: u64,
    time_ns: u64,
}

/// Leaders lowering their high watermark within one leadership (`hw-regression`); see
/// the module documentation.
pub fn hw_regressions(history: &History) -> Vec<Anomaly> {
    let mut replicas = Replicas::default();
    let mut last: BTreeMap<(&str, u32), LeaderHw> = BTreeMap::new();
    let mut out = Vec::new();
    for event in &history.trace {
        replicas.apply(event);
        match &event.event {
            Event::BrokerStarted { broker } => last.retain(|(_, b), _| b != broker),
            Event::HighWatermark { tp, broker, is_leader: true, leader_epoch, new, .. } => {
                let now = LeaderHw { epoch: *leader_epoch, hw: *new, time_ns: event.time_ns };
                if let Some(before) = last.insert((tp, *broker), now) {
                    if before.epoch == now.epoch && now.hw < before.hw {
                        let log = replicas.get(tp, *broker).map(|r| &r.log);
                        out.push(hw_regression(tp, *broker, before, now, log));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Describes one lowering; the records are those the leader had reported committed and
/// no longer does (or, if its log is unknown, the two high watermarks).
fn hw_regression(tp: &str, b: u32, before: LeaderHw, now: LeaderHw, log: Option<&BTreeMap<u64, u64>>) -> Anomaly {
    let uncommitted: Vec<(u64, u64)> =
        log.map(|log| log.range(now.hw..before.hw).map(|(&o, &v)| (o, v)).collect()).unwrap_or_default();
    let records = if uncommitted.is_empty() {
        vec![
            RecordRef::new(tp, Some(before.hw), None, format!("leader high watermark {}", before.hw))
                .on_broker(b, before.time_ns),
            RecordRef::new(tp, Some(now.hw), None, format!("leader high watermark lowered to {}", now.hw))
                .on_broker(b, now.time_ns),
        ]
    } else {
        let note = format!("below the leader's high watermark {}, then above it again", before.hw);
        uncommitted
            .iter()
            .map(|&(o, v)| RecordRef::new(tp, Some(o), Some(v), note.clone()).on_broker(b, now.time_ns))
            .collect()
    };
    Anomaly {
        kind: AnomalyKind::HwRegression,
        description: format!(
            "{}, leader of {tp} in epoch {}, lowered its high watermark from {} (at {}) to {} at {}.",
            capitalize(&broker(b)),
            now.epoch,
            before.hw,
            secs(before.time_ns),
            now.hw,
            secs(now.time_ns)
        ),
        records,
    }
}

/// Truncations that removed committed records (`committed-truncation`); see the module
/// documentation.
pub fn committed_truncations(history: &History) -> Vec<Anomaly> {
    let mut replicas = Replicas::default();
    let mut committed: BTreeMap<(&str, u64), Witness> = BTreeMap::new();
    let mut out = Vec::new();
    for event in &history.trace {
        let Some(change) = replicas.apply(event) else { continue };
        if change.as_leader {
            for &(offset, value) in &change.now_below_hw {
                committed.entry((change.tp, offset)).or_insert(Witness::of(&change, value));
            }
        }
        let lost: Vec<(u64, u64, Witness)> = change
            .removed
            .iter()
            .filter_map(|&(o, v)| committed.get(&(change.tp, o)).filter(|w| w.value == v).map(|w| (o, v, *w)))
            .collect();
        if !lost.is_empty() {
            out.push(committed_truncation(&change, &lost));
        }
    }
    out
}

/// Describes one truncation of committed records.
fn committed_truncation(change: &Change<'_>, lost: &[(u64, u64, Witness)]) -> Anomaly {
    let (to_offset, reason) = match &change.event.event {
        Event::Truncate { to_offset, reason, .. } => (*to_offset, reason.as_str()),
        _ => (0, ""),
    };
    let first = lost[0].2;
    let values: Vec<u64> = lost.iter().map(|(_, v, _)| *v).collect();
    let what = match lost.len() {
        1 => format!("1 committed record (offset {}, value {})", lost[0].0, lost[0].1),
        n => format!(
            "{n} committed records (offsets {}, values {})",
            offset_ranges(lost.iter().map(|(o, _, _)| *o)),
            sample(&values, 8)
        ),
    };
    let by = if lost.iter().all(|(_, _, w)| w.broker == first.broker) {
        format!("leader {} had committed at {}", broker(first.broker), secs(first.time_ns))
    } else {
        format!("leaders had committed (first {} at {})", broker(first.broker), secs(first.time_ns))
    };
    Anomaly {
        kind: AnomalyKind::CommittedTruncation,
        description: format!(
            "{} truncated {} to offset {to_offset} at {} (reason {reason}), removing {what} that {by}.",
            capitalize(&broker(change.broker)),
            change.tp,
            secs(change.event.time_ns)
        ),
        records: lost
            .iter()
            .map(|&(o, v, w)| {
                let note = format!(
                    "truncated from {}; committed by leader {} at {}",
                    broker(change.broker),
                    broker(w.broker),
                    secs(w.time_ns)
                );
                RecordRef::new(change.tp, Some(o), Some(v), note).on_broker(change.broker, change.event.time_ns)
            })
            .collect(),
    }
}

/// The first leader append seen for a partition and epoch.
#[derive(Clone, Copy)]
struct LeaderAppend {
    broker: u32,
    time_ns: u64,
    base_offset: u64,
    first_value: Option<u64>,
}

/// Two brokers appending as leader in one partition and epoch (`multiple-leaders`); see
/// the module documentation.
pub fn multiple_leaders(history: &History) -> Vec<Anomaly> {
    let mut first: BTreeMap<(&str, u32), LeaderAppend> = BTreeMap::new();
    let mut reported: BTreeSet<(&str, u32, u32)> = BTreeSet::new();
    let mut out = Vec::new();
    for event in &history.trace {
        let Event::Append { tp, broker, as_leader: true, leader_epoch, base_offset, values } = &event.event else {
            continue;
        };
        let this = LeaderAppend {
            broker: *broker,
            time_ns: event.time_ns,
            base_offset: *base_offset,
            first_value: values.first().copied(),
        };
        match first.get(&(tp, *leader_epoch)) {
            None => {
                first.insert((tp, *leader_epoch), this);
            }
            Some(f) if f.broker != *broker && reported.insert((tp, *leader_epoch, *broker)) => {
                out.push(two_leaders(tp, *leader_epoch, f, &this));
            }
            Some(_) => {}
        }
    }
    out
}

/// Describes two leaders of one epoch.
fn two_leaders(tp: &str, epoch: u32, first: &LeaderAppend, second: &LeaderAppend) -> Anomaly {
    let append = |a: &LeaderAppend| match a.first_value {
        Some(v) => {
            format!("{} appended value {v} at offset {} at {}", broker(a.broker), a.base_offset, secs(a.time_ns))
        }
        None => format!("{} appended at offset {} at {}", broker(a.broker), a.base_offset, secs(a.time_ns)),
    };
    let record = |a: &LeaderAppend| {
        RecordRef::new(tp, Some(a.base_offset), a.first_value, format!("appended as leader in epoch {epoch}"))
            .on_broker(a.broker, a.time_ns)
    };
    Anomaly {
        kind: AnomalyKind::MultipleLeaders,
        description: format!(
            "{tp} had two leaders in epoch {epoch}: {} and {}, both as leader.",
            append(first),
            append(second)
        ),
        records: vec![record(first), record(second)],
    }
}

#[cfg(test)]
mod tests;
