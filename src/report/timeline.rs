//! What the charts draw, read from the trace and the history: per partition the leader,
//! the ISR, the high watermark and each replica's log end over time; fault spans; the
//! producers' throughput and latency; each partition's final log order.

use crate::fault::FaultKind;
use crate::history::state::Applied;
use crate::history::{ClusterState, Event, History, MicroOp, OpFn, OpType, DRAIN_PROCESS};
use std::collections::{BTreeMap, BTreeSet};

/// One partition over time.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartitionTimeline {
    /// The partition, e.g. `orders-0`.
    pub tp: String,
    /// `(time, leader, ISR)` as the controller stored them, in time order.
    pub leadership: Vec<(u64, Option<u32>, Vec<u32>)>,
    /// `(time, leader, unclean)` of each election.
    pub elections: Vec<(u64, Option<u32>, bool)>,
    /// The leaders' high watermark: `(time, offset)`.
    pub high_watermark: Vec<(u64, u64)>,
    /// Each replica's log end offset: broker -> `(time, offset)`.
    pub log_end: BTreeMap<u32, Vec<(u64, u64)>>,
}

fn timeline<'m>(by_tp: &'m mut BTreeMap<String, PartitionTimeline>, tp: &str) -> &'m mut PartitionTimeline {
    by_tp.entry(tp.to_string()).or_insert_with(|| PartitionTimeline { tp: tp.to_string(), ..Default::default() })
}

/// Every partition's timeline, in partition order, from the [`ClusterState`] fold of
/// the trace (so a fenced controller's late event draws nothing).
pub(crate) fn timelines(history: &History) -> Vec<PartitionTimeline> {
    let mut by_tp: BTreeMap<String, PartitionTimeline> = BTreeMap::new();
    let mut state = ClusterState::default();
    for e in &history.trace {
        let t = e.time_ns;
        let (tp, end_before) = match &e.event {
            Event::Append { tp, broker, .. }
            | Event::Truncate { tp, broker, .. }
            | Event::LogLoaded { tp, broker, .. } => (Some(tp), state.replica(tp, *broker).map(|r| r.log_end_offset)),
            _ => (None, None),
        };
        match state.apply(e) {
            Applied::Partition(n) => {
                let partition = state.partition_by_number(n);
                let p = timeline(&mut by_tp, &partition.name);
                p.leadership.push((t, partition.leader, partition.isr.clone()));
                if let Event::LeaderElection { unclean, .. } = &e.event {
                    p.elections.push((t, partition.leader, *unclean));
                }
            }
            Applied::Replica { broker, .. } => {
                if let Event::HighWatermark { tp, is_leader: true, new, .. } = &e.event {
                    timeline(&mut by_tp, tp).high_watermark.push((t, *new));
                }
                // Log ends as appends, truncations and loads from disk move them.
                if let Some(tp) = tp {
                    let end = state.replica(tp, broker).map_or(0, |r| r.log_end_offset);
                    if end_before != Some(end) || matches!(e.event, Event::LogLoaded { .. }) {
                        timeline(&mut by_tp, tp).log_end.entry(broker).or_default().push((t, end));
                    }
                }
            }
            _ => {}
        }
    }
    by_tp.into_values().filter(|p| !p.tp.starts_with("__")).collect()
}

/// A span of simulated time during which a fault was in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FaultBand {
    pub from_ns: u64,
    pub to_ns: u64,
    pub label: String,
}

/// Fault spans, from each fault to the event that ended it for its target (or the end
/// of the run). A fault without targets (packet loss, latency) is drawn on the
/// `network`.
pub(crate) fn fault_bands(history: &History, end_ns: u64) -> Vec<FaultBand> {
    const NETWORK: &str = "network";
    let with_network = |targets: &[String]| {
        if targets.is_empty() {
            vec![NETWORK.to_string()]
        } else {
            targets.to_vec()
        }
    };
    let mut open: Vec<(u64, FaultKind, String)> = Vec::new(); // (from, kind, target)
    let mut bands = Vec::new();
    for e in &history.trace {
        match &e.event {
            Event::Fault { kind, targets, .. } if !kind.is_undo() => {
                open.extend(with_network(targets).into_iter().map(|t| (e.time_ns, *kind, t)));
            }
            Event::FaultEnded { kind, targets, .. } => {
                let targets = with_network(targets);
                open.retain(|(from, k, target)| {
                    let closes = k == kind && targets.contains(target);
                    if closes {
                        bands.push(FaultBand { from_ns: *from, to_ns: e.time_ns, label: format!("{k} {target}") });
                    }
                    !closes
                });
            }
            _ => {}
        }
    }
    bands.extend(open.into_iter().map(|(from, k, t)| FaultBand {
        from_ns: from,
        to_ns: end_ns,
        label: format!("{k} {t}"),
    }));
    bands.sort_by(|a, b| (a.from_ns, &a.label).cmp(&(b.from_ns, &b.label)));
    bands
}

/// Per time bucket: records acknowledged, and the mean and largest send latency in
/// milliseconds of the send operations completed in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub acked: u64,
    pub latency_ms_mean: u64,
    pub latency_ms_max: u64,
}

/// One broker's request pipeline over time, from its [`Event::BrokerLoad`] samples:
/// step points `(time, value)` that fall to 0 where a window has no sample (the broker
/// was idle, or down).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct BrokerLoadLine {
    /// The broker.
    pub broker: u32,
    /// Handler utilisation, in thousandths.
    pub handler_busy: Vec<(u64, u64)>,
    /// The deepest the request queue got.
    pub queue_depth: Vec<(u64, u64)>,
    /// The longest time a request waited in the queue, in microseconds.
    pub queue_time_us: Vec<(u64, u64)>,
}

/// Every broker's load lines, by broker id; empty when the trace has no samples.
pub(crate) fn broker_load(history: &History) -> Vec<BrokerLoadLine> {
    let mut lines: BTreeMap<u32, BrokerLoadLine> = BTreeMap::new();
    let mut ends: BTreeMap<u32, u64> = BTreeMap::new();
    for e in &history.trace {
        let Event::BrokerLoad {
            broker,
            window_start_ms,
            window_ms,
            queue_time_max_us,
            queue_depth_max,
            handler_busy_permille,
            ..
        } = e.event
        else {
            continue;
        };
        let line = lines.entry(broker).or_insert_with(|| BrokerLoadLine { broker, ..Default::default() });
        let (start, end) = (window_start_ms * 1_000_000, (window_start_ms + window_ms) * 1_000_000);
        // A gap since the broker's last window: it was idle (or down) meanwhile.
        if let Some(&last_end) = ends.get(&broker).filter(|&&last| last < start) {
            for points in [&mut line.handler_busy, &mut line.queue_depth, &mut line.queue_time_us] {
                points.push((last_end, 0));
            }
        }
        line.handler_busy.push((start, u64::from(handler_busy_permille)));
        line.queue_depth.push((start, u64::from(queue_depth_max)));
        line.queue_time_us.push((start, queue_time_max_us));
        ends.insert(broker, end);
    }
    for (broker, line) in &mut lines {
        let end = ends[broker];
        for points in [&mut line.handler_busy, &mut line.queue_depth, &mut line.queue_time_us] {
            points.push((end, 0));
        }
    }
    lines.into_values().collect()
}

/// Throughput and latency in buckets of `bucket_ns`, from time 0 to `end_ns`.
pub(crate) fn throughput(history: &History, bucket_ns: u64, end_ns: u64) -> Vec<Bucket> {
    let n = (end_ns / bucket_ns + 1) as usize;
    let mut buckets = vec![Bucket::default(); n];
    let mut sums = vec![(0u64, 0u64); n];
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f.writes()) {
        if op.kind == OpType::Invoke {
            invoked.insert(op.process, op.time_ns);
            continue;
        }
        let Some(start) = invoked.remove(&op.process) else { continue };
        let i = ((op.time_ns / bucket_ns) as usize).min(n - 1);
        let latency_ms = op.time_ns.saturating_sub(start) / 1_000_000;
        if op.kind == OpType::Ok {
            buckets[i].acked += op.micro_ops().iter().filter(|m| matches!(m, MicroOp::Send { .. })).count() as u64;
        }
        sums[i].0 += latency_ms;
        sums[i].1 += 1;
        buckets[i].latency_ms_max = buckets[i].latency_ms_max.max(latency_ms);
    }
    for (b, (sum, count)) in buckets.iter_mut().zip(sums) {
        b.latency_ms_mean = sum.checked_div(count).unwrap_or(0);
    }
    buckets
}

/// What became of the records of one partition, by offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Mark {
    /// In the final log, in its producer's order, once.
    Fine,
    /// In the final log behind a record its producer sent later.
    Reordered,
    /// In the final log at more than one offset.
    Duplicated,
    /// Acknowledged at this offset, absent from the final log.
    Lost,
}

/// One partition's final log (what the final drain read), and acknowledged records lost.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogOrder {
    pub tp: String,
    /// `(offset, mark)` of every offset the drain read or a producer was told, by offset.
    pub marks: BTreeMap<u64, Mark>,
}

/// Every partition's log order, marked.
pub(crate) fn log_orders(history: &History) -> Vec<LogOrder> {
    // value -> (process, send position) from the send invocations.
    let mut sent: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
    let mut acked: Vec<(String, u64, u64)> = Vec::new();
    let mut finals: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    for op in &history.ops {
        for mop in op.micro_ops() {
            match (op.kind, mop) {
                (OpType::Invoke, MicroOp::Send { value, .. }) => {
                    let n = sent.len();
                    sent.entry(*value).or_insert((op.process, n));
                }
                (OpType::Ok, MicroOp::Send { key, value, offset: Some(o) }) => {
                    acked.push((key.to_string(), *o, *value))
                }
                (OpType::Ok, MicroOp::Poll { records: Some(records) }) if op.process >= DRAIN_PROCESS => {
                    for (key, pairs) in records {
                        finals.entry(key.clone()).or_default().extend(pairs.iter().copied());
                    }
                }
                _ => {}
            }
        }
    }
    let mut out: BTreeMap<String, LogOrder> = BTreeMap::new();
    for (tp, log) in &finals {
        let order = out.entry(tp.clone()).or_insert_with(|| LogOrder { tp: tp.clone(), ..Default::default() });
        let mut count: BTreeMap<u64, usize> = BTreeMap::new();
        for v in log.values() {
            *count.entry(*v).or_default() += 1;
        }
        let mut latest: BTreeMap<u64, usize> = BTreeMap::new();
        for (&o, v) in log {
            let mut mark = Mark::Fine;
            if let Some(&(process, position)) = sent.get(v) {
                let last = latest.entry(process).or_insert(position);
                if position < *last {
                    mark = Mark::Reordered;
                }
                *last = (*last).max(position);
            }
            if count[v] > 1 {
                mark = Mark::Duplicated;
            }
            order.marks.insert(o, mark);
        }
    }
    let present: BTreeMap<&str, BTreeSet<u64>> =
        finals.iter().map(|(tp, log)| (tp.as_str(), log.values().copied().collect())).collect();
    for (tp, o, v) in acked {
        if present.get(tp.as_str()).is_some_and(|values| !values.contains(&v)) {
            let order = out.entry(tp.clone()).or_insert_with(|| LogOrder { tp: tp.clone(), ..Default::default() });
            order.marks.insert(o, Mark::Lost);
        }
    }
    out.into_values().collect()
}

/// Records a consumer received after a record their producer sent later, when the two
/// are in different partitions: Kafka orders records only within a partition.
pub(crate) fn overtaken_across_partitions(history: &History) -> u64 {
    let mut sent: BTreeMap<u64, (u64, usize)> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Invoke) {
        for mop in op.micro_ops() {
            if let MicroOp::Send { value, .. } = mop {
                let n = sent.len();
                sent.entry(*value).or_insert((op.process, n));
            }
        }
    }
    let mut overtaken = 0;
    // consumer -> producer -> (latest send position received, its partition)
    let mut latest: BTreeMap<(u64, u64), (usize, String)> = BTreeMap::new();
    let mut seen: BTreeSet<(u64, u64)> = BTreeSet::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok && o.f == OpFn::Poll && o.process < DRAIN_PROCESS) {
        for mop in op.micro_ops() {
            let MicroOp::Poll { records: Some(records) } = mop else { continue };
            for (tp, pairs) in records {
                for &(_, v) in pairs {
                    let Some(&(producer, position)) = sent.get(&v) else { continue };
                    if !seen.insert((op.process, v)) {
                        continue;
                    }
                    match latest.get_mut(&(op.process, producer)) {
                        Some((last, last_tp)) if position < *last => {
                            if last_tp != tp {
                                overtaken += 1;
                            }
                        }
                        Some(slot) => *slot = (position, tp.clone()),
                        None => {
                            latest.insert((op.process, producer), (position, tp.clone()));
                        }
                    }
                }
            }
        }
    }
    overtaken
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::TraceEvent;

    const S: u64 = 1_000_000_000;

    fn at(time_ns: u64, event: Event) -> TraceEvent {
        TraceEvent { time_ns, node: "nemesis".into(), event }
    }

    fn fault(kind: FaultKind, targets: &[&str]) -> Event {
        Event::Fault { kind, targets: targets.iter().map(|t| t.to_string()).collect(), detail: String::new() }
    }

    fn ended(kind: FaultKind, targets: &[&str]) -> Event {
        Event::FaultEnded { kind, targets: targets.iter().map(|t| t.to_string()).collect(), detail: String::new() }
    }

    fn band(from_s: u64, to_s: u64, label: &str) -> FaultBand {
        FaultBand { from_ns: from_s * S, to_ns: to_s * S, label: label.to_string() }
    }

    #[test]
    fn a_band_runs_from_a_fault_to_its_end_for_that_target_or_to_the_end_of_the_run() {
        let history = History {
            ops: Vec::new(),
            trace: vec![
                at(S, fault(FaultKind::Crash, &["broker-1", "broker-2"])),
                at(2 * S, fault(FaultKind::Stall, &["consumer-1"])),
                // A restart fault draws nothing itself; the crash's end closes broker-1.
                at(3 * S, fault(FaultKind::Restart, &["broker-1"])),
                at(3 * S, ended(FaultKind::Crash, &["broker-1"])),
                at(4 * S, ended(FaultKind::Stall, &["consumer-1"])),
                at(5 * S, fault(FaultKind::PacketLoss, &[])),
                // An end of another kind closes nothing.
                at(5 * S, ended(FaultKind::Pause, &["broker-2"])),
                at(6 * S, ended(FaultKind::PacketLoss, &[])),
            ],
        };
        assert_eq!(
            fault_bands(&history, 9 * S),
            vec![
                band(1, 3, "crash broker-1"),
                band(1, 9, "crash broker-2"),
                band(2, 4, "stall consumer-1"),
                band(5, 6, "packet-loss network"),
            ]
        );
    }
}
