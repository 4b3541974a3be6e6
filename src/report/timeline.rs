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
    /// The acting leader's high watermark: `(time, offset)`, `None` while no leader
    /// acts (none elected, or it has not taken up the leadership in its current
    /// process, or its broker is down): the line breaks there rather than drawing a
    /// value nobody serves. A leader that lost power and reloaded a shorter log starts
    /// again from what it reads back.
    pub high_watermark: Vec<(u64, Option<u64>)>,
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
    // Brokers whose process is down (crashed, powered off or stopped) now.
    let mut down: BTreeSet<u32> = BTreeSet::new();
    for e in &history.trace {
        let t = e.time_ns;
        let (tp, end_before) = match &e.event {
            Event::Append { tp, broker, .. }
            | Event::Truncate { tp, broker, .. }
            | Event::LogLoaded { tp, broker, .. } => (Some(tp), state.replica(tp, *broker).map(|r| r.log_end_offset)),
            _ => (None, None),
        };
        // Which partitions' acting leader may have changed.
        let mut touched: Vec<String> = Vec::new();
        match &e.event {
            Event::Fault { kind, targets, .. } if is_down_kind(*kind) => {
                down.extend(targets.iter().filter_map(|t| broker_of(t)));
                touched.extend(by_tp.keys().cloned());
            }
            Event::FaultEnded { kind, targets, .. } if is_down_kind(*kind) => {
                for b in targets.iter().filter_map(|t| broker_of(t)) {
                    down.remove(&b);
                }
                touched.extend(by_tp.keys().cloned());
            }
            Event::BrokerStarted { broker } => {
                down.remove(broker);
                touched.extend(by_tp.keys().cloned());
            }
            _ => {}
        }
        match state.apply(&e) {
            Applied::Partition(n) => {
                let partition = state.partition_by_number(n);
                let p = timeline(&mut by_tp, &partition.name);
                p.leadership.push((t, partition.leader, partition.isr.clone()));
                if let Event::LeaderElection { unclean, .. } = &e.event {
                    p.elections.push((t, partition.leader, *unclean));
                }
                touched.push(partition.name.to_string());
            }
            Applied::Replica { partition, broker, .. } => {
                // Log ends as appends, truncations and loads from disk move them.
                if let Some(tp) = tp {
                    let end = state.replica(tp, broker).map_or(0, |r| r.log_end_offset);
                    if end_before != Some(end) || matches!(e.event, Event::LogLoaded { .. }) {
                        timeline(&mut by_tp, tp).log_end.entry(broker).or_default().push((t, end));
                    }
                }
                touched.push(state.partition_by_number(partition).name.to_string());
            }
            _ => {}
        }
        for tp in touched {
            let served = state
                .acting_leader(&tp)
                .filter(|l| !down.contains(l))
                .and_then(|l| state.replica(&tp, l))
                .map(|r| r.high_watermark);
            let p = timeline(&mut by_tp, &tp);
            if p.high_watermark.last().map(|l| l.1) != Some(served)
                && (served.is_some() || !p.high_watermark.is_empty())
            {
                p.high_watermark.push((t, served));
            }
        }
    }
    by_tp.into_values().filter(|p| !p.tp.starts_with("__")).collect()
}

/// Whether a fault of `kind` takes its target's process down (the broker serves
/// nothing until it is started again).
pub(crate) fn is_down_kind(kind: FaultKind) -> bool {
    matches!(kind, FaultKind::Crash | FaultKind::PowerLoss | FaultKind::Stop | FaultKind::Pause)
}

/// The broker id of a fault target `broker-N`.
pub(crate) fn broker_of(target: &str) -> Option<u32> {
    target.strip_prefix("broker-")?.parse().ok()
}

/// A span of simulated time during which a fault was in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FaultBand {
    pub from_ns: u64,
    pub to_ns: u64,
    /// The fault's kind.
    pub kind: FaultKind,
    /// Its target (`broker-1`, `consumer-2`, or `network` for a fault without one).
    pub target: String,
    pub label: String,
}

impl FaultBand {
    /// The broker the fault took down, if it is a crash, power loss, stop or pause of one.
    pub(crate) fn down_broker(&self) -> Option<u32> {
        if is_down_kind(self.kind) {
            broker_of(&self.target)
        } else {
            None
        }
    }
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
                        bands.push(FaultBand {
                            from_ns: *from,
                            to_ns: e.time_ns,
                            kind: *k,
                            target: target.clone(),
                            label: format!("{k} {target}"),
                        });
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
        kind: k,
        label: format!("{k} {t}"),
        target: t,
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

/// A record an anomaly involves, or an acknowledged record a replica removed, placed at
/// `(time, offset)` on its partition's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecordMark {
    pub tp: String,
    pub time_ns: u64,
    pub offset: u64,
    /// What the mark shows: an anomaly kind's name, or `truncated` / `reloaded-without`.
    pub what: String,
    /// Its story line, for the tooltip.
    pub text: String,
    /// Whether the record is absent from the final log (an acknowledged record lost).
    pub lost: bool,
}

/// The most marks one anomaly kind puts on the timelines (the first instances).
const MARKS_PER_KIND: usize = 60;

/// The marks of every partition: each acknowledged record a replica truncated, or came
/// back without after a power loss (the start of a loss, where it happens), and the
/// records of each anomaly at the time the checker observed them (the first
/// [`MARKS_PER_KIND`] instances of each kind).
pub(crate) fn record_marks(history: &History, anomalies: &[crate::check::Anomaly]) -> Vec<RecordMark> {
    use crate::check::describe::{broker, secs};
    let lost: BTreeSet<(String, u64)> = log_orders(history)
        .into_iter()
        .flat_map(|o| o.marks.into_iter().filter(|m| m.1 == Mark::Lost).map(move |m| (o.tp.clone(), m.0)))
        .collect();
    // (tp, offset) -> (value, ack time) of every acknowledged send.
    let mut acked: BTreeMap<(String, u64), (u64, u64)> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok) {
        for mop in op.micro_ops() {
            if let MicroOp::Send { key, value, offset: Some(o) } = mop {
                acked.entry((key.to_string(), *o)).or_insert((*value, op.time_ns));
            }
        }
    }
    let mut marks = Vec::new();
    let mut push = |tp: &str, t: u64, o: u64, v: u64, what: &str, how: String| {
        let is_lost = lost.contains(&(tp.to_string(), o));
        let fate = if is_lost { "; it is not in the final log" } else { "" };
        marks.push(RecordMark {
            tp: tp.to_string(),
            time_ns: t,
            offset: o,
            what: what.to_string(),
            text: format!("{}: {how} acknowledged record {v} at offset {o} of {tp}{fate}", secs(t)),
            lost: is_lost,
        });
    };
    // Each replica's log end, to see what a reload from disk left out.
    let mut ends: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for e in &history.trace {
        let t = e.time_ns;
        match &e.event {
            Event::Append { tp, broker: b, base_offset, values, .. } => {
                ends.insert((tp.to_string(), *b), base_offset + values.len() as u64);
            }
            Event::Truncate { tp, broker: b, to_offset, removed, .. } => {
                for &(o, v, _) in removed {
                    if acked.get(&(tp.to_string(), o)).is_some_and(|&(value, at)| value == v && at <= t) {
                        push(tp, t, o, v, "truncated", format!("{} truncated", broker(*b)));
                    }
                }
                ends.insert((tp.to_string(), *b), *to_offset);
            }
            Event::LogLoaded { tp, broker: b, records, .. } => {
                let loaded_end = records.last().map_or(0, |r| r.0 + 1);
                let before = ends.insert((tp.to_string(), *b), loaded_end).unwrap_or(0);
                for o in loaded_end..before {
                    if let Some(&(v, at)) = acked.get(&(tp.to_string(), o)).filter(|a| a.1 <= t) {
                        let _ = at;
                        push(
                            tp,
                            t,
                            o,
                            v,
                            "reloaded-without",
                            format!("{} restarted from its disk without", broker(*b)),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    let mut per_kind: BTreeMap<crate::check::AnomalyKind, usize> = BTreeMap::new();
    for a in anomalies {
        let n = per_kind.entry(a.kind).or_default();
        if *n >= MARKS_PER_KIND {
            continue;
        }
        *n += 1;
        for r in &a.records {
            let (Some(o), Some(t)) = (r.offset, r.time_ns) else { continue };
            let value = r.value.map_or(String::new(), |v| format!(" value {v}"));
            let note = if r.note.is_empty() { String::new() } else { format!(" ({})", r.note) };
            marks.push(RecordMark {
                tp: r.key.clone(),
                time_ns: t,
                offset: o,
                what: a.kind.name().to_string(),
                text: format!("{}: {}: {} offset {o}{value}{note}", secs(t), a.kind.name(), r.key),
                lost: lost.contains(&(r.key.clone(), o)),
            });
        }
    }
    marks
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
        let (kind, target) = label.split_once(' ').unwrap();
        FaultBand {
            from_ns: from_s * S,
            to_ns: to_s * S,
            kind: kind.parse().unwrap(),
            target: target.to_string(),
            label: label.to_string(),
        }
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
            ]
            .into(),
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

    fn election(leader: u32, leader_epoch: u32) -> Event {
        Event::LeaderElection {
            tp: "orders-0".into(),
            leader: Some(leader),
            leader_epoch,
            partition_epoch: u64::from(leader_epoch),
            isr: vec![leader],
            unclean: false,
            reason: crate::history::ElectionReason::BrokerFailure,
        }
    }

    fn become_leader(broker: u32, leader_epoch: u32) -> Event {
        Event::BecomeLeader { tp: "orders-0".into(), broker, leader_epoch, log_end_offset: 0, isr: vec![broker] }
    }

    fn hw(broker: u32, leader_epoch: u32, old: u64, new: u64) -> Event {
        Event::HighWatermark { tp: "orders-0".into(), broker, is_leader: true, leader_epoch, old, new }
    }

    #[test]
    fn the_high_watermark_breaks_while_its_leader_is_down_and_resumes_from_the_next_leaders() {
        let history = History {
            ops: Vec::new(),
            trace: vec![
                at(S, election(1, 1)),
                at(2 * S, become_leader(1, 1)),
                at(3 * S, hw(1, 1, 0, 10)),
                // The leader loses power: nobody serves a high watermark until broker-2
                // takes up the leadership, and its own is lower.
                at(4 * S, fault(FaultKind::PowerLoss, &["broker-1"])),
                at(5 * S, election(2, 2)),
                at(6 * S, become_leader(2, 2)),
                at(7 * S, hw(2, 2, 0, 6)),
                // The old leader restarting changes nothing: it leads nothing now.
                at(8 * S, ended(FaultKind::PowerLoss, &["broker-1"])),
            ]
            .into(),
        };
        let p = &timelines(&history)[0];
        assert_eq!(
            p.high_watermark,
            vec![(2 * S, Some(0)), (3 * S, Some(10)), (4 * S, None), (6 * S, Some(0)), (7 * S, Some(6))]
        );
        // Drawn, the line stops at 4 s and starts again at 6 s: two subpaths.
        let svg = super::super::svg::partition_timeline(p, &fault_bands(&history, 9 * S), &[], 9 * S);
        let hw_path = svg.split("<path d=\"").find(|d| d.contains("high watermark")).unwrap();
        assert_eq!(hw_path.split('"').next().unwrap().matches('M').count(), 2, "{hw_path}");
        // broker-1's lane is hatched while it was down.
        assert!(svg.contains("class=\"down\""), "{svg}");
    }

    #[test]
    fn an_acknowledged_record_a_replica_truncates_is_marked_where_and_when_it_went() {
        use crate::check::testkit::Hist;
        let truncate = |removed: Vec<(u64, u64, u32)>| Event::Truncate {
            tp: "orders-0".into(),
            broker: 1,
            to_offset: 5,
            removed,
            reason: crate::history::TruncationReason::LeaderEpoch,
        };
        let history = Hist::new()
            // Truncated before it was acknowledged: not a loss of anything acknowledged.
            .at_ms(100)
            .event("broker-1", truncate(vec![(5, 42, 0)]))
            .send_ok(0, "orders-0", 5, 42)
            // Truncated after: marked; a record never acknowledged beside it is not.
            .at_ms(1_000)
            .event("broker-1", truncate(vec![(5, 42, 0), (6, 43, 0)]))
            .build();
        let marks = record_marks(&history, &[]);
        assert_eq!(marks.len(), 1, "{marks:?}");
        assert_eq!((marks[0].time_ns, marks[0].offset, marks[0].what.as_str()), (S, 5, "truncated"));
        assert!(
            marks[0].text.contains("broker-1 truncated acknowledged record 42 at offset 5 of orders-0"),
            "{marks:?}"
        );
    }
}
