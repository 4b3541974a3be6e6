//! Consumer lag per partition over time: what `kafka-consumer-groups.sh --describe`
//! would have printed as LAG at every instant of a run, for every group that committed
//! offsets, read from the trace and the history.
//!
//! - **Log end.** Kafka's tool asks the partition's leader for its latest offset
//!   (`ConsumerGroupCommand.getLogEndOffsets`: ListOffsets `latest` under the admin
//!   client's default `READ_UNCOMMITTED`), which the leader answers with its high
//!   watermark; so the log end here is the acting leader's high watermark
//!   ([`ClusterState::acting_leader`], from its `high-watermark` events), not a
//!   replica's log end offset: records above the high watermark are not yet readable,
//!   so nobody is behind on them. While no leader acts, the last known value stands.
//! - **Committed offset.** Each `ok` `commit` op of a group member (the coordinator
//!   accepted it), and each `ok` `rewind` op of an administrator's reset of the group
//!   (`--reset-offsets`), sets the group's committed offset of the partitions it names.
//!   A group that commits through transactions (`sendOffsetsToTransaction`) records no
//!   `commit` op, so its lag is not known here.
//! - **Lag** = log end − committed offset (`ConsumerGroupCommand.getLag`), from the
//!   group's first commit of the partition on; a point each time either side moves.
//! - **Deleted unread.** Records the acting leader's retention check deleted
//!   (`log-start-advanced` for `retention.ms` or `retention.bytes` on the leader) that
//!   no member of the group had polled by then, at or above the first offset the group
//!   polled in the partition (where its consumption began, as for `consume-skip`): the
//!   group never read them and now never can. Each offset is counted once per group,
//!   whichever leader deleted it first. A member whose position retention overtook got
//!   OFFSET_OUT_OF_RANGE and reset by `auto.offset.reset`: `latest` jumps past records
//!   still in the log, which retention deletes unread later, `earliest` to the log start.
//!   Either way the records are `consume-skip`'s too.
//!
//! Reports chart the series ([`group_lags`]); `kafkasim experiment` compares runs by
//! [`BacklogSummary`].

use crate::history::state::Applied;
use crate::history::{ClusterState, Event, History, MicroOp, OpFn, OpType, OpValue, RunPhase};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One partition's lag for one group over the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionLag {
    /// The partition, e.g. `orders-0`.
    pub tp: String,
    /// `(time in simulated nanoseconds, lag in records)` each time the lag changed, from
    /// the group's first commit of the partition on, in time order.
    pub points: Vec<(u64, u64)>,
    /// `(time, records)` of each retention deletion that removed records the group had
    /// not read (see the module docs).
    pub deletions: Vec<(u64, u64)>,
}

impl PartitionLag {
    /// The lag at `time_ns` (the last change at or before it), if the group had
    /// committed by then.
    pub fn at(&self, time_ns: u64) -> Option<u64> {
        let after = self.points.partition_point(|&(t, _)| t <= time_ns);
        after.checked_sub(1).map(|i| self.points[i].1)
    }

    /// The largest lag and when it was first reached, if any point exists.
    pub fn peak(&self) -> Option<(u64, u64)> {
        self.points.iter().fold(None, |best: Option<(u64, u64)>, &(t, lag)| match best {
            Some((_, most)) if most >= lag => best,
            _ => Some((t, lag)),
        })
    }

    /// The lag at the end of the run, if the group ever committed.
    pub fn last(&self) -> Option<u64> {
        self.points.last().map(|&(_, lag)| lag)
    }

    /// Records retention deleted before the group read them.
    pub fn deleted_unread(&self) -> u64 {
        self.deletions.iter().map(|&(_, n)| n).sum()
    }
}

/// One consumer group's lag, per partition in partition-name order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupLag {
    /// The group id.
    pub group: String,
    /// Its partitions, each from its first commit on.
    pub partitions: Vec<PartitionLag>,
}

/// What one partition's leader and the groups reading it stand at, while folding.
#[derive(Default)]
struct PartitionState {
    /// The acting leader's high watermark, once known.
    log_end: Option<u64>,
    /// The offset below which some leader's retention has deleted every record.
    deleted_below: u64,
    /// Per group: where it stands in the partition.
    groups: BTreeMap<String, GroupState>,
}

/// One group in one partition, while folding.
#[derive(Default)]
struct GroupState {
    /// Its committed offset, once it committed.
    committed: Option<u64>,
    /// The offsets its members polled, so far.
    read: BTreeSet<u64>,
}

/// Every group's lag per partition, groups in id order. Groups without an `ok` commit
/// are left out.
pub fn group_lags(history: &History) -> Vec<GroupLag> {
    let mut partitions: BTreeMap<Arc<str>, PartitionState> = BTreeMap::new();
    let mut series: BTreeMap<(String, Arc<str>), PartitionLag> = BTreeMap::new();
    let mut state = ClusterState::default();
    let mut ops = history.ops.iter().peekable();
    let mut trace = history.trace.iter().peekable();
    loop {
        // Trace events before the ops of the same instant: what a commit's answer
        // followed is already in the state.
        let take_event = match (trace.peek(), ops.peek()) {
            (Some(e), Some(o)) => e.time_ns <= o.time_ns,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_event {
            let e = trace.next().expect("peeked");
            let changed = match state.apply(&e) {
                Applied::Replica { partition, .. } | Applied::Partition(partition) => {
                    Some(state.partition_by_number(partition).name.clone())
                }
                _ => None,
            };
            if let Some(tp) = changed {
                let end = state.acting_leader(&tp).and_then(|l| state.replica(&tp, l)).map(|r| r.high_watermark);
                let p = partitions.entry(tp.clone()).or_default();
                if end.is_some() && end != p.log_end {
                    p.log_end = end;
                    for (group, committed) in p.groups.iter().filter_map(|(g, s)| Some((g, s.committed?))) {
                        push_lag(&mut series, group, &tp, e.time_ns, end.unwrap_or(0).saturating_sub(committed));
                    }
                }
            }
            if let Event::LogStartAdvanced { tp, is_leader: true, removed, reason, .. } = &e.event {
                if reason.is_retention() {
                    deleted(&mut partitions, &mut series, tp, e.time_ns, removed);
                }
            }
        } else {
            let op = ops.next().expect("peeked");
            for (group, key, offsets) in polled(op) {
                let p = partitions.entry(Arc::from(key)).or_default();
                p.groups.entry(group.to_string()).or_default().read.extend(offsets);
            }
            for (group, key, offset) in committed_offsets(op) {
                let tp: Arc<str> = Arc::from(key);
                let p = partitions.entry(tp.clone()).or_default();
                p.groups.entry(group.to_string()).or_default().committed = Some(offset);
                series
                    .entry((group.to_string(), tp.clone()))
                    .or_insert_with(|| PartitionLag { tp: tp.to_string(), ..PartitionLag::default() });
                if let Some(end) = p.log_end {
                    push_lag(&mut series, group, &tp, op.time_ns, end.saturating_sub(offset));
                }
            }
        }
    }
    let mut groups: BTreeMap<String, GroupLag> = BTreeMap::new();
    for ((group, _), lag) in series {
        if TopicPartitionName(&lag.tp).is_internal() {
            continue;
        }
        groups.entry(group.clone()).or_insert_with(|| GroupLag { group, partitions: Vec::new() }).partitions.push(lag);
    }
    groups.into_values().collect()
}

/// A partition name, for telling internal topics' partitions apart.
struct TopicPartitionName<'a>(&'a str);

impl TopicPartitionName<'_> {
    fn is_internal(&self) -> bool {
        crate::protocol::TopicAssignment::is_internal_name(crate::protocol::TopicPartition::topic_of(self.0))
    }
}

/// The `(group, partition key, offset)` an op sets as committed: an accepted commit of
/// a member, or an administrator's reset of a group.
fn committed_offsets(op: &crate::history::Op) -> Vec<(&str, &str, u64)> {
    if op.kind != OpType::Ok {
        return Vec::new();
    }
    match (op.f, &op.value) {
        (OpFn::Commit, OpValue::Offsets(offsets)) => match &op.group {
            Some(ctx) => offsets.iter().map(|(key, &offset)| (ctx.group.as_str(), key.as_str(), offset)).collect(),
            None => Vec::new(),
        },
        (OpFn::Rewind, OpValue::Rewind(rewind)) => match &rewind.group {
            Some(group) => rewind
                .partitions
                .iter()
                .filter_map(|(key, moved)| Some((group.as_str(), key.as_str(), moved.to?)))
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The `(group, partition key, offsets)` a group member's poll completion (of any kind:
/// what a poll returned was in the log) read.
fn polled(op: &crate::history::Op) -> Vec<(&str, &str, impl Iterator<Item = u64> + '_)> {
    let Some(ctx) = op.group.as_ref().filter(|_| op.kind != OpType::Invoke && matches!(op.f, OpFn::Poll | OpFn::Txn))
    else {
        return Vec::new();
    };
    op.micro_ops()
        .iter()
        .filter_map(|m| match m {
            MicroOp::Poll { records: Some(records) } => Some(records),
            _ => None,
        })
        .flatten()
        .map(|(key, pairs)| (ctx.group.as_str(), key.as_str(), pairs.iter().map(|&(offset, _)| offset)))
        .collect()
}

/// Records a lag value at `time_ns`: a new point when it changed, the last point's value
/// replaced when it is of the same instant.
fn push_lag(
    series: &mut BTreeMap<(String, Arc<str>), PartitionLag>,
    group: &str,
    tp: &Arc<str>,
    time_ns: u64,
    lag: u64,
) {
    let Some(s) = series.get_mut(&(group.to_string(), tp.clone())) else { return };
    match s.points.last_mut() {
        Some(last) if last.0 == time_ns => last.1 = lag,
        Some(last) if last.1 == lag => {}
        _ => s.points.push((time_ns, lag)),
    }
}

/// Counts, for each group reading `tp`, the records a leader's retention just deleted
/// that it had not read, from the first offset it read on (offsets an earlier deletion
/// removed count once).
fn deleted(
    partitions: &mut BTreeMap<Arc<str>, PartitionState>,
    series: &mut BTreeMap<(String, Arc<str>), PartitionLag>,
    tp: &Arc<str>,
    time_ns: u64,
    removed: &[(u64, u64, u32)],
) {
    let p = partitions.entry(tp.clone()).or_default();
    let first_new = p.deleted_below;
    p.deleted_below = removed.iter().map(|&(offset, _, _)| offset + 1).fold(first_new, u64::max);
    for (group, g) in &p.groups {
        let Some(&start) = g.read.first() else { continue };
        let from = start.max(first_new);
        let count =
            removed.iter().filter(|&&(offset, _, _)| offset >= from && !g.read.contains(&offset)).count() as u64;
        if let (true, Some(s)) = (count > 0, series.get_mut(&(group.clone(), tp.clone()))) {
            s.deletions.push((time_ns, count));
        }
    }
}

/// A lag series as a chart draws it: per window of `window_ns` from the window of the
/// first point to the one holding `end_ns`, the largest lag in effect during the window
/// (the value carried in, and every change within), placed at the window's start. A lag
/// that swings with every poll and commit reads as its upper envelope, as a lag
/// exporter polling the largest value of each interval would chart it.
pub fn window_peaks(points: &[(u64, u64)], window_ns: u64, end_ns: u64) -> Vec<(u64, u64)> {
    let window_ns = window_ns.max(1);
    let Some(&(first, _)) = points.first() else { return Vec::new() };
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut next = 0;
    let mut carried: Option<u64> = None;
    let mut start = first / window_ns * window_ns;
    while start <= end_ns.max(first) {
        let end = start.saturating_add(window_ns);
        let mut peak = carried;
        while next < points.len() && points[next].0 < end {
            peak = Some(peak.map_or(points[next].1, |p| p.max(points[next].1)));
            carried = Some(points[next].1);
            next += 1;
        }
        if let Some(peak) = peak {
            if out.last().is_none_or(|&(_, last)| last != peak) {
                out.push((start, peak));
            }
        }
        start = end;
    }
    out
}

/// The lag summed over every group's partitions at each instant any of them changed:
/// `(time, total)` in time order.
pub fn total_lag(groups: &[GroupLag]) -> Vec<(u64, u64)> {
    let mut changes: Vec<(u64, usize, u64)> = Vec::new();
    for (i, p) in groups.iter().flat_map(|g| &g.partitions).enumerate() {
        changes.extend(p.points.iter().map(|&(t, lag)| (t, i, lag)));
    }
    changes.sort_by_key(|&(t, i, _)| (t, i));
    let mut current: BTreeMap<usize, u64> = BTreeMap::new();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (t, i, lag) in changes {
        current.insert(i, lag);
        let total = current.values().sum();
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = total,
            _ => out.push((t, total)),
        }
    }
    out
}

/// What a backlog cost a run, over all its groups: the figures `kafkasim experiment`
/// compares remedies by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BacklogSummary {
    /// The largest total lag (records, summed over every group's partitions) while the
    /// workload ran (the safety phase).
    pub peak_lag: u64,
    /// The total lag when the workload stopped (the liveness phase began): the backlog
    /// the producers left behind.
    pub lag_at_workload_end: u64,
    /// Records retention deleted before their group read them, over the whole run.
    pub deleted_unread: u64,
}

impl BacklogSummary {
    /// The summary of `history`, or `None` when no group committed.
    pub fn of(history: &History) -> Option<Self> {
        let groups = group_lags(history);
        if groups.is_empty() {
            return None;
        }
        let end_ns = history.phase_start_ns(RunPhase::Liveness).unwrap_or(u64::MAX);
        let total = total_lag(&groups);
        let before_end = total.partition_point(|&(t, _)| t <= end_ns);
        Some(BacklogSummary {
            peak_lag: total[..before_end].iter().map(|&(_, lag)| lag).max().unwrap_or(0),
            lag_at_workload_end: before_end.checked_sub(1).map_or(0, |i| total[i].1),
            deleted_unread: groups.iter().flat_map(|g| &g.partitions).map(PartitionLag::deleted_unread).sum(),
        })
    }

    /// Each figure's median over `runs` (those with groups), if any has groups.
    pub fn median_of(runs: impl Iterator<Item = Option<BacklogSummary>>) -> Option<BacklogSummary> {
        let runs: Vec<BacklogSummary> = runs.flatten().collect();
        if runs.is_empty() {
            return None;
        }
        let median = |figure: fn(&BacklogSummary) -> u64| {
            let mut values: Vec<u64> = runs.iter().map(figure).collect();
            values.sort_unstable();
            values[(values.len() - 1) / 2]
        };
        Some(BacklogSummary {
            peak_lag: median(|s| s.peak_lag),
            lag_at_workload_end: median(|s| s.lag_at_workload_end),
            deleted_unread: median(|s| s.deleted_unread),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;
    use crate::history::{ElectionReason, LogStartReason};

    fn elected(tp: &str, leader: u32, leader_epoch: u32) -> Event {
        Event::LeaderElection {
            tp: tp.into(),
            leader: Some(leader),
            leader_epoch,
            partition_epoch: u64::from(leader_epoch),
            isr: vec![1, 2],
            unclean: false,
            reason: ElectionReason::TopicCreation,
        }
    }

    fn becomes_leader(tp: &str, broker: u32, leader_epoch: u32) -> Event {
        Event::BecomeLeader { tp: tp.into(), broker, leader_epoch, log_end_offset: 0, isr: vec![1, 2] }
    }

    fn hw(tp: &str, broker: u32, is_leader: bool, old: u64, new: u64) -> Event {
        Event::HighWatermark { tp: tp.into(), broker, is_leader, leader_epoch: 0, old, new }
    }

    fn retention(tp: &str, broker: u32, is_leader: bool, offsets: std::ops::Range<u64>) -> Event {
        Event::LogStartAdvanced {
            tp: tp.into(),
            broker,
            is_leader,
            log_start_offset: offsets.end,
            removed: offsets.map(|o| (o, o * 10, 0)).collect(),
            reason: LogStartReason::RetentionMs,
        }
    }

    #[test]
    fn lag_is_the_leaders_high_watermark_minus_the_committed_offset_from_the_first_commit_on() {
        let history = Hist::new()
            .event("controller-1", elected("x-0", 1, 0))
            .event("broker-1", becomes_leader("x-0", 1, 0))
            .at_ms(1_000)
            .event("broker-1", hw("x-0", 1, true, 0, 10))
            // A follower's high watermark is not what the tool asks for.
            .event("broker-2", hw("x-0", 2, false, 0, 4))
            .member(1, "billing", "c-1", 1)
            .at_ms(2_000)
            .commit_ok(1, &[("x-0", 4)])
            .at_ms(3_000)
            .event("broker-1", hw("x-0", 1, true, 10, 30))
            .at_ms(4_000)
            .commit_ok(1, &[("x-0", 30)])
            // Another group with no commit has no lag; internal partitions are left out.
            .member(2, "other", "c-9", 1)
            .commit(2, OpType::Fail, &[("x-0", 1)])
            .commit_ok(1, &[("__consumer_offsets-3", 1)])
            .build();
        let lags = group_lags(&history);
        assert_eq!(lags.len(), 1, "{lags:?}");
        let x0 = &lags[0].partitions[0];
        assert_eq!((lags[0].group.as_str(), x0.tp.as_str()), ("billing", "x-0"));
        let secs: Vec<(u64, u64)> = x0.points.iter().map(|&(t, lag)| (t / 1_000_000_000, lag)).collect();
        assert_eq!(secs, [(2, 6), (3, 26), (4, 0)]);
        assert_eq!((x0.at(3_500_000_000), x0.at(1_000_000_000), x0.last()), (Some(26), None, Some(0)));
        assert_eq!(x0.peak(), Some((3_000_000_000, 26)));
        assert_eq!(x0.deleted_unread(), 0);
    }

    #[test]
    fn a_deposed_leader_moves_nothing_and_the_new_leader_does() {
        let history = Hist::new()
            .event("controller-1", elected("x-0", 1, 0))
            .event("broker-1", becomes_leader("x-0", 1, 0))
            .event("broker-1", hw("x-0", 1, true, 0, 10))
            .event("broker-2", hw("x-0", 2, false, 0, 9))
            .member(1, "g", "c-1", 1)
            .commit_ok(1, &[("x-0", 5)])
            .event("controller-1", elected("x-0", 2, 1))
            // broker-1 has not heard yet: its late high watermark is not the leader's.
            .event("broker-1", hw("x-0", 1, true, 10, 12))
            .event("broker-2", becomes_leader("x-0", 2, 1))
            .event("broker-2", hw("x-0", 2, true, 9, 20))
            .build();
        let lags: Vec<u64> = group_lags(&history)[0].partitions[0].points.iter().map(|p| p.1).collect();
        // The new leader starts from its own high watermark as a follower, behind.
        assert_eq!(lags, [5, 4, 15]);
    }

    #[test]
    fn records_the_leader_deleted_before_the_group_read_them_were_deleted_unread() {
        let history = Hist::new()
            .event("controller-1", elected("x-0", 1, 0))
            .event("broker-1", becomes_leader("x-0", 1, 0))
            .event("broker-1", hw("x-0", 1, true, 0, 100))
            // Before the group read anything, deletions are not its business.
            .event("broker-1", retention("x-0", 1, true, 0..5))
            .member(1, "g", "c-1", 1)
            .poll_ok(1, &[("x-0", &[(5, 50), (6, 60)])])
            .commit_ok(1, &[("x-0", 7)])
            // It read 5-6 and then polled 20-21 (a reset past 7-19): those were never read.
            .poll_ok(1, &[("x-0", &[(20, 200), (21, 210)])])
            .event("broker-1", retention("x-0", 1, true, 5..30))
            // A follower deleting the same records is no news, nor is the leader's
            // deletion of what was gone.
            .event("broker-2", retention("x-0", 2, false, 5..30))
            .event("broker-1", retention("x-0", 1, true, 25..40))
            .build();
        let x0 = &group_lags(&history)[0].partitions[0];
        // 7-19 and 22-29, then 30-39.
        assert_eq!(x0.deletions.iter().map(|d| d.1).collect::<Vec<_>>(), [21, 10]);
        assert_eq!(x0.deleted_unread(), 31);
    }

    #[test]
    fn a_chart_draws_each_windows_largest_lag() {
        let ms = |t: u64| t * 1_000_000;
        let points = [(ms(150), 5), (ms(160), 40), (ms(170), 0), (ms(420), 7), (ms(430), 2)];
        let peaks = window_peaks(&points, ms(100), ms(650));
        // Windows from 100 ms: 100-200 peaks at 40; 200-300 and 300-400 carry 0; 400-500
        // peaks at 7; 500-600 and 600-700 carry 2.
        assert_eq!(peaks, [(ms(100), 40), (ms(200), 0), (ms(400), 7), (ms(500), 2)]);
        assert!(window_peaks(&[], ms(100), ms(650)).is_empty());
    }

    #[test]
    fn the_summary_sums_the_partitions_and_reads_the_workloads_end_at_the_liveness_phase() {
        let history = Hist::new()
            .event("controller-1", elected("x-0", 1, 0))
            .event("controller-1", elected("x-1", 1, 0))
            .event("broker-1", becomes_leader("x-0", 1, 0))
            .event("broker-1", becomes_leader("x-1", 1, 0))
            .event("broker-1", hw("x-0", 1, true, 0, 10))
            .event("broker-1", hw("x-1", 1, true, 0, 10))
            .member(1, "g", "c-1", 1)
            .commit_ok(1, &[("x-0", 0), ("x-1", 0)])
            .event("broker-1", hw("x-0", 1, true, 10, 50))
            .event("broker-1", Event::Phase { name: RunPhase::Liveness })
            .event("broker-1", hw("x-1", 1, true, 10, 90))
            .commit_ok(1, &[("x-0", 50), ("x-1", 90)])
            .build();
        let lags = group_lags(&history);
        let totals: Vec<u64> = total_lag(&lags).iter().map(|p| p.1).collect();
        assert_eq!(totals, [20, 60, 140, 0]);
        let summary = BacklogSummary::of(&history).unwrap();
        assert_eq!(summary, BacklogSummary { peak_lag: 60, lag_at_workload_end: 60, deleted_unread: 0 });
        assert_eq!(BacklogSummary::of(&Hist::new().build()), None);
        let medians = BacklogSummary::median_of(
            [Some(summary), None, Some(BacklogSummary { peak_lag: 10, lag_at_workload_end: 0, deleted_unread: 4 })]
                .into_iter(),
        );
        assert_eq!(medians, Some(BacklogSummary { peak_lag: 10, lag_at_workload_end: 0, deleted_unread: 0 }));
    }
}
