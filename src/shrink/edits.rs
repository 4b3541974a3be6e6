//! The shrinker's moves: each [`Edit`] makes a scenario smaller in one respect (fewer
//! faults, a shorter run, fewer records, clients or partitions, a later or shorter
//! fault), and [`candidates`] lists them for a scenario, most aggressive first.

use super::doc::{remove_entries, set_duration, set_integer, table_mut, Dims, List};
use crate::scenario::format_duration_ms;
use toml_edit::DocumentMut;

/// The shortest safety phase the shrinker proposes, in milliseconds.
const MIN_RUN_MS: u64 = 100;
/// The shortest fault `duration` the shrinker proposes, in milliseconds.
const MIN_FAULT_MS: u64 = 10;

/// One way to make a scenario smaller.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Remove `len` entries of a list (faults, producer or consumer entries) from `from` on.
    RemoveEntries {
        /// Which list.
        list: List,
        /// The first entry removed (0-based, file order).
        from: usize,
        /// How many entries.
        len: usize,
    },
    /// Lower a producer or consumer entry's `count`.
    SetCount {
        /// Producers or consumers.
        list: List,
        /// The entry (0-based).
        index: usize,
        /// The new count.
        count: u32,
    },
    /// Lower a topic's `partitions`.
    SetPartitions {
        /// The topic (0-based).
        topic: usize,
        /// The new partition count.
        partitions: u32,
    },
    /// Move every fault earlier and end the run as much earlier: the same schedule with
    /// fewer records before it.
    ShiftEarlier {
        /// By how much, in milliseconds.
        by_ms: u64,
    },
    /// Shorten the safety phase (`duration`), cutting its tail.
    SetRunDuration {
        /// The new length, in milliseconds.
        ms: u64,
    },
    /// Lower a producer entry's `rate_per_sec`.
    SetRate {
        /// The entry (0-based).
        producer: usize,
        /// The new rate, records per second.
        rate_per_sec: u64,
    },
    /// Lower a producer entry's `records`.
    SetRecords {
        /// The entry (0-based).
        producer: usize,
        /// The new record count.
        records: u64,
    },
    /// Shorten a fault's `duration`.
    SetFaultDuration {
        /// The fault (0-based, file order).
        fault: usize,
        /// The new duration, in milliseconds.
        ms: u64,
    },
    /// Fire a fault later (less of the run under the fault).
    SetFaultAt {
        /// The fault (0-based, file order).
        fault: usize,
        /// The new `at`, in milliseconds.
        ms: u64,
    },
}

/// Every edit worth trying on a scenario of these sizes, in the order to try them: the
/// ones that remove the most first, so that later candidates run on a smaller scenario.
pub fn candidates(dims: &Dims) -> Vec<Edit> {
    let mut out = Vec::new();
    let n = dims.faults.len();
    // Fewer faults: all of them, then halves, quarters, ... then one at a time.
    let mut len = n;
    while len > 0 {
        out.extend((0..n).step_by(len).map(|from| Edit::RemoveEntries { list: List::Faults, from, len }));
        len = if len == 1 { 0 } else { len.div_ceil(2).min(len - 1) };
    }
    // Fewer clients.
    for (list, counts) in [
        (List::Producers, dims.producers.iter().map(|p| p.count).collect::<Vec<_>>()),
        (List::Consumers, dims.consumers.clone()),
    ] {
        for index in 0..counts.len() {
            out.push(Edit::RemoveEntries { list, from: index, len: 1 });
        }
        for (index, &count) in counts.iter().enumerate() {
            out.extend(down(u64::from(count), 1, exact).map(|c| Edit::SetCount { list, index, count: c as u32 }));
        }
    }
    // Fewer partitions.
    for (topic, &p) in dims.partitions.iter().enumerate() {
        out.extend(down(u64::from(p), 1, exact).map(|p| Edit::SetPartitions { topic, partitions: p as u32 }));
    }
    // Fewer records: the same schedule earlier, a shorter run, lower rates.
    if let Some(first) = dims.faults.iter().map(|f| f.at_ms).min() {
        out.extend(down(first, 0, nice).map(|at| Edit::ShiftEarlier { by_ms: first - at }));
    }
    let last = dims.faults.iter().map(|f| f.at_ms + 1).max().unwrap_or(0);
    out.extend(down(dims.run_ms, nice_up(last.max(MIN_RUN_MS)), nice).map(|ms| Edit::SetRunDuration { ms }));
    for (producer, p) in dims.producers.iter().enumerate() {
        let rate = p.rate_per_sec.floor() as u64;
        out.extend(down(rate, 1, nice).map(|r| Edit::SetRate { producer, rate_per_sec: r }));
        if let Some(records) = p.records {
            out.extend(down(records, 1, nice).map(|r| Edit::SetRecords { producer, records: r }));
        }
    }
    // Shorter, then later faults.
    for (fault, f) in dims.faults.iter().enumerate() {
        if let Some(d) = f.duration_ms {
            out.extend(down(d, MIN_FAULT_MS, nice).map(|ms| Edit::SetFaultDuration { fault, ms }));
        }
    }
    for (fault, f) in dims.faults.iter().enumerate() {
        let latest = dims.run_ms.saturating_sub(MIN_RUN_MS);
        out.extend(up(f.at_ms, latest).map(|ms| Edit::SetFaultAt { fault, ms }));
    }
    out
}

impl Edit {
    /// Applies the edit to a document; false when it does not apply (no such entry).
    pub fn apply(&self, doc: &mut DocumentMut) -> bool {
        match *self {
            Edit::RemoveEntries { list, from, len } => remove_entries(doc, list, from, len),
            Edit::SetCount { list, index, count } => {
                return with(doc, list, index, |t| set_integer(t, "count", u64::from(count)))
            }
            Edit::SetPartitions { topic, partitions } => {
                return with(doc, List::Topics, topic, |t| set_integer(t, "partitions", u64::from(partitions)))
            }
            Edit::ShiftEarlier { by_ms } => {
                let dims = Dims::read(doc);
                for (i, f) in dims.faults.iter().enumerate() {
                    with(doc, List::Faults, i, |t| set_duration(t, "at", f.at_ms - by_ms));
                }
                doc["duration"] = toml_edit::value(format_duration_ms(dims.run_ms - by_ms));
            }
            Edit::SetRunDuration { ms } => doc["duration"] = toml_edit::value(format_duration_ms(ms)),
            Edit::SetRate { producer, rate_per_sec } => {
                return with(doc, List::Producers, producer, |t| set_integer(t, "rate_per_sec", rate_per_sec))
            }
            Edit::SetRecords { producer, records } => {
                return with(doc, List::Producers, producer, |t| set_integer(t, "records", records))
            }
            Edit::SetFaultDuration { fault, ms } => {
                return with(doc, List::Faults, fault, |t| set_duration(t, "duration", ms))
            }
            Edit::SetFaultAt { fault, ms } => return with(doc, List::Faults, fault, |t| set_duration(t, "at", ms)),
        }
        true
    }

    /// What the edit did, for a scenario of these sizes (before the edit), e.g.
    /// "run duration 20s -> 10s".
    pub fn describe(&self, before: &Dims) -> String {
        let fault = |i: usize| {
            before.faults.get(i).map_or(format!("fault {}", i + 1), |f| {
                format!("fault {} ({} at {})", i + 1, f.kind, format_duration_ms(f.at_ms))
            })
        };
        match *self {
            Edit::RemoveEntries { list: List::Faults, from, len: 1 } => format!("removed {}", fault(from)),
            Edit::RemoveEntries { list, from, len: 1 } => format!("removed {} {}", list.noun(), from + 1),
            Edit::RemoveEntries { list, from, len } => {
                format!("removed {}s {} to {}", list.noun(), from + 1, from + len)
            }
            Edit::SetCount { list, index, count } => format!("{} {} count -> {count}", list.noun(), index + 1),
            Edit::SetPartitions { topic, partitions } => format!("topic {} partitions -> {partitions}", topic + 1),
            Edit::ShiftEarlier { by_ms } => format!(
                "every fault and the end of the run {} earlier (duration {} -> {})",
                format_duration_ms(by_ms),
                format_duration_ms(before.run_ms),
                format_duration_ms(before.run_ms - by_ms)
            ),
            Edit::SetRunDuration { ms } => {
                format!("run duration {} -> {}", format_duration_ms(before.run_ms), format_duration_ms(ms))
            }
            Edit::SetRate { producer, rate_per_sec } => {
                format!("producer entry {} rate_per_sec -> {rate_per_sec}", producer + 1)
            }
            Edit::SetRecords { producer, records } => format!("producer entry {} records -> {records}", producer + 1),
            Edit::SetFaultDuration { fault: i, ms } => {
                format!("{} duration -> {}", fault(i), format_duration_ms(ms))
            }
            Edit::SetFaultAt { fault: i, ms } => format!("{} fires later, at {}", fault(i), format_duration_ms(ms)),
        }
    }
}

fn with(doc: &mut DocumentMut, list: List, index: usize, f: impl FnOnce(&mut dyn toml_edit::TableLike)) -> bool {
    table_mut(doc, list, index).map(f).is_some()
}

/// Values from `lo` up to (not including) `v`, most aggressive first: `lo`, then
/// `v - d/2`, `v - d/4`, ... (d = v - lo), each rounded by `round`, without repeats, and
/// none that saves less than a twentieth of `v` (a minimum worth its runs).
fn down(v: u64, lo: u64, round: fn(u64) -> u64) -> impl Iterator<Item = u64> {
    let mut out: Vec<u64> = Vec::new();
    if v > lo {
        let d = v - lo;
        let steps = std::iter::successors(Some(d), |s| (*s > 1).then_some(s / 2)).skip(1).take_while(|s| s * 20 >= v);
        for c in std::iter::once(lo).chain(steps.map(|s| round(v - s))) {
            if c >= lo && c < v && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.into_iter()
}

/// Values above `v` up to `hi`, most aggressive first: `hi`, `v + d/2`, `v + d/4`, ...
/// rounded down to round milliseconds, without repeats, none moving less than a
/// twentieth of `hi`.
fn up(v: u64, hi: u64) -> impl Iterator<Item = u64> {
    let mut out: Vec<u64> = Vec::new();
    if hi > v {
        let d = hi - v;
        let steps = std::iter::successors(Some(d), |s| (*s > 1).then_some(s / 2)).take_while(|s| s * 20 >= hi);
        for c in steps.map(|s| nice(v + s)) {
            if c > v && c <= hi && !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out.into_iter()
}

fn exact(v: u64) -> u64 {
    v
}

/// Rounds down to a number a person would write: whole 100s from 1,000, whole 10s from 100.
fn nice(v: u64) -> u64 {
    match v {
        1_000.. => v / 100 * 100,
        100.. => v / 10 * 10,
        _ => v,
    }
}

/// Rounds up to the next such number.
fn nice_up(v: u64) -> u64 {
    let down = nice(v);
    if down == v {
        v
    } else {
        nice(v + if v >= 1_000 { 100 } else { 10 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_tries_the_floor_first_then_halves_the_gap() {
        assert_eq!(down(20_000, 100, nice).collect::<Vec<_>>(), vec![100, 10_000, 15_000, 17_500, 18_700]);
        assert_eq!(down(3, 1, exact).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(down(1, 1, exact).count(), 0);
    }

    #[test]
    fn up_tries_the_ceiling_first() {
        assert_eq!(up(8_000, 19_900).take(3).collect::<Vec<_>>(), vec![19_900, 13_900, 10_900]);
        assert_eq!(up(5, 5).count(), 0);
    }

    #[test]
    fn fault_removal_goes_from_all_to_single_faults() {
        let dims = Dims {
            run_ms: 10_000,
            faults: (0..3)
                .map(|i| super::super::doc::FaultDims { at_ms: 1_000 * i, duration_ms: None, kind: "crash".into() })
                .collect(),
            producers: Vec::new(),
            consumers: Vec::new(),
            partitions: Vec::new(),
        };
        let removals: Vec<(usize, usize)> = candidates(&dims)
            .into_iter()
            .filter_map(|e| match e {
                Edit::RemoveEntries { list: List::Faults, from, len } => Some((from, len)),
                _ => None,
            })
            .collect();
        assert_eq!(removals, vec![(0, 3), (0, 2), (2, 2), (0, 1), (1, 1), (2, 1)]);
    }
}
