//! Replays: what a consumer (or a group) read after it was rewound on purpose, from the
//! `rewind` ops of the history (see [`Rewind`]).
//!
//! **What is read.** An `ok` `rewind` op moved each partition key it names from `from`
//! (the position before; for an administrator's group reset, the committed offset) to
//! `to`. When `to < from`, the offsets `to..from` are the *replayed range*: records the
//! reader had passed and must now read again. The *reader* is the rewinding process, or,
//! for a group reset (the value names a `group`), every member of that group (ops with
//! its group context). The reader's *window* starts at the rewind's completion and ends
//! at the first of:
//!
//! - a later `rewind` (`ok` or `info`) of the key by the reader (for a group: by the
//!   administrator or by any member): the reader moved on purpose again;
//! - for a rewinding process: a `revoke` or `lose` naming the key, a group `assign` (a new
//!   generation starts from the committed offsets), a standalone `assign` without the
//!   key, or a `crash` (the restarted client is another process);
//! - the end of the history.
//!
//! The window's *reads* are the records of the key its `ok` polls (`poll` or `txn`)
//! returned, in history order; for a group, those of every member invoked after the
//! reset completed.
//!
//! **Which offsets must be read.** An offset of the replayed range is *required* when a
//! poll of the history returned it and the reader can see it: the reader itself read it
//! before the rewind, or the record was written by a plain `send` or a committed (`ok`)
//! `txn` (a `read_committed` reader never sees an aborted transaction's records, which a
//! `read_uncommitted` poll may have returned). An offset any replica removed (a trace
//! `truncate` or `log-start-advanced`, retention included) is excused: a reader that
//! finds it gone resets by `auto.offset.reset`.
//!
//! **The anomalies**, one per rewind, key and kind:
//!
//! - `replay-skip`: a required offset the window never read although it read a later
//!   offset of the key (the reader moved past it), or, for a group member's rewind or a
//!   group reset, although the window ran to the end of the history: kafkasim's group
//!   members keep consuming until the run ends (the liveness phase waits for every group
//!   to catch up), so a range still unread then was skipped. A standalone consumer stops
//!   with the safety phase, so a range it had not reached by then is not reported.
//! - `replay-reordered` (a rewinding process only): a required offset first read after a
//!   later offset of the key in the window: the range was not read in order. A group's
//!   members hand partitions over and re-read from committed offsets, so a group reset
//!   is checked for skips only.
//! - `replay-wrong-offset` (a rewind by time, `to_time_ms` = T): Kafka's
//!   `offsetsForTimes` (ListOffsets by timestamp, `UnifiedLog.fetchOffsetByTimestamp`)
//!   answers the earliest offset whose record timestamp is at or after T, or nothing
//!   when no record below the high watermark is that recent. A record's timestamp is its
//!   producer's CreateTime, which the history bounds: taken after the producing process
//!   completed its previous op, and before the op that wrote it completed (timestamps
//!   are whole milliseconds, so a record created in the millisecond T counts as at T).
//!   The answer is wrong when the history proves it: the record at the answered offset
//!   was written by an op that completed before T; a record at an earlier offset, seen in
//!   the log before the rewind began and not removed by then, was created at or after T;
//!   or the lookup found nothing although a record created at or after T had been read
//!   before the rewind began (by the rewinding process itself, whose isolation level
//!   the lookup used; for a group reset, by anyone: the tool reads up to the high
//!   watermark) and was not removed by then.

use super::describe::{offset_ranges, process, sample, secs};
use super::jepsen::{completions, op_reads, Completion};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{Event, History, MicroOp, OpFn, OpType, OpValue, Rewind, RewindMove};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Every replay anomaly of a history: `replay-skip`, `replay-reordered` and
/// `replay-wrong-offset`, in the order of the rewinds, then of their keys.
pub fn check(history: &History) -> Vec<Anomaly> {
    let done = completions(&history.ops);
    if !done.iter().any(|c| c.op.f == OpFn::Rewind) {
        return Vec::new();
    }
    let facts = Facts::new(history, &done);
    let mut found = Vec::new();
    for (at, c) in done.iter().enumerate() {
        let (OpFn::Rewind, OpType::Ok, OpValue::Rewind(rewind)) = (c.op.f, c.kind, &c.op.value) else { continue };
        let rewound = Rewound { at, c, rewind, reader: Reader::of(c, rewind) };
        for (key, &moved) in &rewind.partitions {
            if let Some(time_ms) = rewind.to_time_ms {
                found.extend(facts.wrong_offset(&done, &rewound, key, moved, time_ms));
            }
            if let (Some(from), Some(to)) = (moved.from, moved.to) {
                if to < from {
                    found.extend(facts.replayed(&done, &rewound, key, to..from));
                }
            }
        }
    }
    found
}

/// Who must read a replayed range.
#[derive(Clone, Copy)]
enum Reader<'a> {
    /// The process that rewound itself; `member` when it is a group member (its op has a
    /// group context).
    Process { process: u64, member: bool },
    /// Every member of the group an administrator reset.
    Group(&'a str),
}

impl<'a> Reader<'a> {
    fn of(c: &Completion<'a>, rewind: &'a Rewind) -> Self {
        match &rewind.group {
            Some(group) => Reader::Group(group),
            None => Reader::Process { process: c.op.process, member: c.op.group.is_some() },
        }
    }

    /// Whether a completion is one of the reader's: the process's, or a group member's.
    fn owns(&self, c: &Completion<'_>) -> bool {
        match self {
            Reader::Process { process, .. } => c.op.process == *process,
            Reader::Group(group) => c.op.group.as_ref().is_some_and(|ctx| ctx.group == *group),
        }
    }

    /// Whether a completion ends the reader's window on `key`.
    fn window_ends_at(&self, c: &Completion<'_>, key: &str) -> bool {
        if c.kind == OpType::Fail {
            return false;
        }
        let names = match &c.op.value {
            OpValue::Keys(keys) => keys.iter().any(|k| k == key),
            OpValue::Rewind(rewind) => rewind.partitions.contains_key(key),
            _ => false,
        };
        match self {
            Reader::Process { process, .. } if c.op.process == *process => match c.op.f {
                OpFn::Crash => true,
                OpFn::Rewind | OpFn::Revoke | OpFn::Lose => names,
                OpFn::Assign => c.op.group.is_some() || !names,
                _ => false,
            },
            Reader::Process { .. } => false,
            Reader::Group(group) => {
                let by_admin = matches!(&c.op.value, OpValue::Rewind(r) if r.group.as_deref() == Some(group));
                c.op.f == OpFn::Rewind && names && (by_admin || self.owns(c))
            }
        }
    }

    /// Whether a range still unread when the history ends was skipped (see the module
    /// docs: group members consume until the run ends, standalone consumers do not).
    fn reads_to_the_end(&self) -> bool {
        match self {
            Reader::Process { member, .. } => *member,
            Reader::Group(_) => true,
        }
    }

    /// `process 3`, `process 3 (member m1 of group g)` or `the administrator's reset
    /// of group g`, for descriptions.
    fn who(&self, c: &Completion<'_>) -> String {
        match (self, &c.op.group) {
            (Reader::Group(group), _) => format!("the administrator's reset of group {group}"),
            (Reader::Process { process: p, .. }, Some(ctx)) => {
                format!("{} (member {} of group {})", process(*p), ctx.member, ctx.group)
            }
            (Reader::Process { process: p, .. }, None) => process(*p),
        }
    }
}

/// One `ok` rewind being checked.
struct Rewound<'a, 'h> {
    /// Its index in the completions.
    at: usize,
    c: &'a Completion<'h>,
    rewind: &'h Rewind,
    reader: Reader<'h>,
}

impl Rewound<'_, '_> {
    /// `process 3 rewound orders-0 from 57 to 12 at 8.102 s by time (2.000 s)`.
    fn told(&self, key: &str, moved: RewindMove) -> String {
        let show = |o: Option<u64>| o.map_or("none".to_string(), |o| o.to_string());
        let by = self.rewind.to_time_ms.map_or(String::new(), |ms| format!(" by time ({})", secs(ms * 1_000_000)));
        format!(
            "{} rewound {key} from {} to {} at {}{by}",
            self.reader.who(self.c),
            show(moved.from),
            show(moved.to),
            secs(self.c.op.time_ns)
        )
    }

    fn record(&self, key: &str, moved: RewindMove) -> RecordRef {
        let note = format!("rewound from {:?} to {:?}", moved.from, moved.to);
        RecordRef::new(key, moved.to, None, note).seen_in(self.c.op)
    }
}

/// When a record was created, as far as the history bounds it.
#[derive(Clone, Copy, Debug)]
struct Created {
    /// Not before: the producing process's previous op completed then.
    after_ns: u64,
    /// Not after: the op that wrote it completed then (`None`: it never completed).
    by_ns: Option<u64>,
    /// Whether a `read_committed` reader certainly sees it: a plain `send`, or a
    /// committed `txn`.
    visible_to_all: bool,
}

/// What the whole history says about records, read once.
struct Facts<'h> {
    /// Per key and offset, the values observed there (polls and acknowledged sends), and
    /// the index of the first completion that observed each.
    observed: BTreeMap<&'h str, BTreeMap<u64, BTreeMap<u64, usize>>>,
    /// Per key, the offsets some poll returned.
    polled: BTreeMap<&'h str, BTreeSet<u64>>,
    /// Per key and value, when its record was created.
    created: BTreeMap<(&'h str, u64), Created>,
    /// Per key and offset, when a replica first removed it (truncation or log start).
    removed: BTreeMap<Arc<str>, BTreeMap<u64, u64>>,
}

impl<'h> Facts<'h> {
    fn new(history: &'h History, done: &[Completion<'h>]) -> Self {
        let mut facts = Facts {
            observed: BTreeMap::new(),
            polled: BTreeMap::new(),
            created: BTreeMap::new(),
            removed: BTreeMap::new(),
        };
        let mut last_done_ns: BTreeMap<u64, u64> = BTreeMap::new();
        for (at, c) in done.iter().enumerate() {
            for (key, pairs) in op_reads(c.op) {
                for &(offset, value) in &pairs {
                    facts.observe(key, offset, value, at);
                    facts.polled.entry(key).or_default().insert(offset);
                }
            }
            if matches!(c.op.f, OpFn::Send | OpFn::Txn) {
                let after_ns = last_done_ns.get(&c.op.process).copied().unwrap_or(0);
                let by_ns = (!c.synthetic).then_some(c.op.time_ns);
                let visible_to_all = c.op.f == OpFn::Send || c.kind == OpType::Ok;
                for mop in c.op.micro_ops() {
                    let MicroOp::Send { key, value, offset } = mop else { continue };
                    facts.created.entry((key, *value)).or_insert(Created { after_ns, by_ns, visible_to_all });
                    if let Some(offset) = offset.filter(|_| c.kind != OpType::Fail) {
                        facts.observe(key, offset, *value, at);
                    }
                }
            }
            if !c.synthetic {
                last_done_ns.insert(c.op.process, c.op.time_ns);
            }
        }
        for e in history.trace.other_than_replica_traffic() {
            let (Event::Truncate { tp, removed, .. } | Event::LogStartAdvanced { tp, removed, .. }) = &e.event else {
                continue;
            };
            let by_offset = facts.removed.entry(tp.clone()).or_default();
            for &(offset, _, _) in removed {
                by_offset.entry(offset).or_insert(e.time_ns);
            }
        }
        facts
    }

    fn observe(&mut self, key: &'h str, offset: u64, value: u64, at: usize) {
        self.observed.entry(key).or_default().entry(offset).or_default().entry(value).or_insert(at);
    }

    /// The one value observed at `offset` of `key`, if exactly one was.
    fn value_at(&self, key: &str, offset: u64) -> Option<u64> {
        let values = self.observed.get(key)?.get(&offset)?;
        (values.len() == 1).then(|| *values.keys().next().expect("one value"))
    }

    /// Whether a replica removed `offset` of `key` at or before `time_ns`.
    fn removed_by(&self, key: &str, offset: u64, time_ns: u64) -> bool {
        self.removed.get(key).and_then(|r| r.get(&offset)).is_some_and(|&at| at <= time_ns)
    }

    /// The offsets of `key` that the `ok` polls among `done` that `keep` accepts returned.
    fn reads_of(done: &[Completion<'h>], key: &str, keep: impl Fn(&Completion<'h>) -> bool) -> BTreeSet<u64> {
        done.iter()
            .filter(|c| c.kind == OpType::Ok && keep(c))
            .flat_map(|c| op_reads(c.op).remove(key).unwrap_or_default())
            .map(|(offset, _)| offset)
            .collect()
    }

    /// `replay-skip` and `replay-reordered` for one replayed range.
    fn replayed(
        &self,
        done: &[Completion<'h>],
        r: &Rewound<'_, 'h>,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Vec<Anomaly> {
        let read_before = Self::reads_of(&done[..r.at], key, |c| r.reader.owns(c));
        let required: Vec<u64> = match self.polled.get(key) {
            Some(polled) => polled
                .range(range.clone())
                .copied()
                .filter(|&o| {
                    let visible = read_before.contains(&o)
                        || self
                            .value_at(key, o)
                            .and_then(|v| self.created.get(&(key, v)))
                            .is_some_and(|c| c.visible_to_all);
                    visible && !self.removed.get(key).is_some_and(|r| r.contains_key(&o))
                })
                .collect(),
            None => Vec::new(),
        };
        if required.is_empty() {
            return Vec::new();
        }
        // The window's reads, in order, and whether it ran to the end of the history.
        let mut reads: Vec<(u64, usize)> = Vec::new();
        let mut to_the_end = true;
        for (at, c) in done.iter().enumerate().skip(r.at + 1) {
            if r.reader.window_ends_at(c, key) {
                to_the_end = false;
                break;
            }
            let after_rewind = c.invoked_ns >= r.c.op.time_ns;
            if c.kind == OpType::Ok && after_rewind && r.reader.owns(c) {
                reads.extend(op_reads(c.op).remove(key).unwrap_or_default().into_iter().map(|(o, _)| (o, at)));
            }
        }
        let highest = reads.iter().map(|(o, _)| *o).max();
        let mut skipped = Vec::new();
        let mut late = Vec::new();
        for &o in &required {
            match reads.iter().position(|(read, _)| *read == o) {
                Some(first) => {
                    if let Some(&(past, at)) = reads[..first].iter().find(|(read, _)| *read > o) {
                        late.push((o, past, at));
                    }
                }
                None if highest.is_some_and(|h| h > o) => skipped.push(o),
                None if to_the_end && r.reader.reads_to_the_end() => skipped.push(o),
                None => {}
            }
        }
        let mut found = Vec::new();
        let moved = r.rewind.partitions[key];
        let range_text = offset_ranges(range.clone());
        if !skipped.is_empty() {
            let after = match highest {
                Some(h) if h > skipped[0] => format!("it went on to read offset {h}"),
                _ => "the history ends with the partition still held".to_string(),
            };
            let (noun, verb) = if skipped.len() == 1 { ("offset", "was") } else { ("offsets", "were") };
            let description = format!(
                "{}, but {noun} {} of the replayed range {range_text} {verb} never read again ({after}).",
                r.told(key, moved),
                sample(&offset_texts(&skipped), 8)
            );
            let mut records = vec![r.record(key, moved)];
            records.extend(skipped.iter().map(|&o| {
                RecordRef::new(key, Some(o), self.value_at(key, o), "in the replayed range, never read again").subject()
            }));
            found.push(Anomaly::new(AnomalyKind::ReplaySkip, description, records));
        }
        if let (Some(&(o, past, at)), Reader::Process { .. }) = (late.first(), r.reader) {
            let description = format!(
                "{}, then read offset {o} of the replayed range {range_text} only after offset {past} ({} record(s) \
                 of the range out of order).",
                r.told(key, moved),
                late.len()
            );
            let records = vec![
                r.record(key, moved),
                RecordRef::new(key, Some(past), self.value_at(key, past), "read first").seen_in(done[at].op),
                RecordRef::new(key, Some(o), self.value_at(key, o), "read after a later offset").subject(),
            ];
            found.push(Anomaly::new(AnomalyKind::ReplayReordered, description, records));
        }
        found
    }

    /// `replay-wrong-offset` for one partition of a rewind by time to `time_ms`.
    fn wrong_offset(
        &self,
        done: &[Completion<'h>],
        r: &Rewound<'_, 'h>,
        key: &str,
        moved: RewindMove,
        time_ms: u64,
    ) -> Option<Anomaly> {
        let target_ns = time_ms.saturating_mul(1_000_000);
        let created = |o: u64| Some((self.value_at(key, o)?, *self.created.get(&(key, self.value_at(key, o)?))?));
        // Known to exist when the lookup ran: observed by an op that completed before the
        // rewind began, and not removed by the time it ended.
        let present = |o: u64, first_at: usize| {
            done[first_at].op.time_ns < r.c.invoked_ns && !self.removed_by(key, o, r.c.op.time_ns)
        };
        let recent = |o: u64| created(o).filter(|(_, c)| c.after_ns >= target_ns);
        let (subject, why) = match moved.to {
            Some(to) => {
                let too_old = created(to).filter(|(_, c)| c.by_ns.is_some_and(|by| by < target_ns));
                if let Some((value, c)) = too_old {
                    let by = c.by_ns.expect("filtered");
                    let why = format!(
                        "the record at offset {to} (value {value}) was written by an op that completed at {}, before that \
                         time, so its timestamp is earlier",
                        secs(by)
                    );
                    (RecordRef::new(key, Some(to), Some(value), "answered, yet older than the time"), why)
                } else {
                    let earlier = self.observed.get(key)?.range(..to).find_map(|(&o, values)| {
                        let first_at = *values.values().min()?;
                        recent(o).filter(|_| present(o, first_at)).map(|(value, c)| (o, value, c))
                    })?;
                    let (o, value, c) = earlier;
                    let why = format!(
                        "offset {o} (value {value}), in the log before the rewind began, was created at or after that time \
                         (its producer's previous op completed at {}), and it comes first",
                        secs(c.after_ns)
                    );
                    (RecordRef::new(key, Some(o), Some(value), "at or after the time, at an earlier offset"), why)
                }
            }
            None => {
                // Below the reader's last fetchable offset when the lookup ran: a poll
                // returned it before the rewind began (the reader's own, whose isolation
                // level the lookup used; anyone's for the tool, which reads up to the
                // high watermark).
                let polled_before = Self::reads_of(done, key, |c| {
                    c.op.time_ns < r.c.invoked_ns && (matches!(r.reader, Reader::Group(_)) || r.reader.owns(c))
                });
                let (o, value, c) = polled_before.iter().find_map(|&o| {
                    let still_there = !self.removed_by(key, o, r.c.op.time_ns);
                    still_there.then(|| recent(o)).flatten().map(|(value, c)| (o, value, c))
                })?;
                let why = format!(
                    "offset {o} (value {value}), read before the rewind began, was created at or after that time (its \
                     producer's previous op completed at {})",
                    secs(c.after_ns)
                );
                (RecordRef::new(key, Some(o), Some(value), "at or after the time, yet not found"), why)
            }
        };
        let answer = moved.to.map_or("no offset".to_string(), |to| format!("offset {to}"));
        let description = format!(
            "{}: the lookup of the earliest offset at or after {} answered {answer}, but {why}.",
            r.told(key, moved),
            secs(target_ns)
        );
        Some(Anomaly::new(AnomalyKind::ReplayWrongOffset, description, vec![r.record(key, moved), subject.subject()]))
    }
}

fn offset_texts(offsets: &[u64]) -> Vec<String> {
    offset_ranges(offsets.iter().copied()).split(", ").map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_all;
    use crate::check::testkit::Hist;
    use crate::history::{LogStartReason, ADMIN_PROCESS};

    fn kinds(h: &History) -> Vec<AnomalyKind> {
        check(h).iter().map(|a| a.kind).collect()
    }

    /// Three records of `x` (values 10-12 at offsets 0-2, the sends completing at 0.2,
    /// 0.4 and 0.6 s), read by process 1, which then rewinds from 3 to 1.
    fn read_then_rewound(process_is_member: bool) -> Hist {
        let mut h = Hist::new().send_ok(0, "x", 0, 10).send_ok(0, "x", 1, 11).send_ok(0, "x", 2, 12);
        if process_is_member {
            h = h.member(1, "g", "m1", 1);
        }
        h.poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 12)])]).rewind(1, None, None, &[("x", Some(3), Some(1))])
    }

    #[test]
    fn a_range_read_again_completely_and_in_order_is_clean() {
        let h = read_then_rewound(true).poll_ok(1, &[("x", &[(1, 11)])]).poll_ok(1, &[("x", &[(2, 12)])]).build();
        assert_eq!(check(&h), vec![]);
        assert_eq!(check_all(&h), vec![], "the rewind starts the process's position afresh: no nonmonotonic-poll");
    }

    #[test]
    fn reading_past_an_offset_of_the_range_skips_it() {
        let h = read_then_rewound(false).poll_ok(1, &[("x", &[(2, 12)])]).build();
        let found = check(&h);
        assert_eq!(kinds(&h), vec![AnomalyKind::ReplaySkip]);
        assert_eq!(
            found[0].description,
            "process 1 rewound x from 3 to 1 at 1.000 s, but offset 1 of the replayed range 1-2 was never read \
             again (it went on to read offset 2)."
        );
        let subjects: Vec<Option<u64>> =
            found[0].records.iter().filter(|r| !r.role.is_context()).map(|r| r.offset).collect();
        assert_eq!(subjects, vec![Some(1)]);
    }

    #[test]
    fn a_range_never_reached_is_a_skip_only_for_a_group_member() {
        let standalone = read_then_rewound(false).build();
        assert_eq!(kinds(&standalone), vec![], "a standalone consumer may stop before it gets there");
        let member = read_then_rewound(true).build();
        assert_eq!(kinds(&member), vec![AnomalyKind::ReplaySkip]);
        assert!(check(&member)[0].description.contains("the history ends with the partition still held"));
    }

    #[test]
    fn losing_the_partition_or_crashing_ends_the_replay() {
        assert_eq!(kinds(&read_then_rewound(true).revoke(1, &["x"]).build()), vec![]);
        assert_eq!(kinds(&read_then_rewound(true).lose(1, &["x"]).build()), vec![]);
        assert_eq!(kinds(&read_then_rewound(true).crash(1).build()), vec![]);
        let other_key = read_then_rewound(true).revoke(1, &["y"]).build();
        assert_eq!(kinds(&other_key), vec![AnomalyKind::ReplaySkip], "another partition's revocation changes nothing");
        let again =
            read_then_rewound(false).rewind(1, None, None, &[("x", Some(1), Some(2))]).poll_ok(1, &[("x", &[(2, 12)])]);
        assert_eq!(kinds(&again.build()), vec![], "a second rewind moved on purpose");
    }

    #[test]
    fn offsets_retention_removed_are_excused() {
        let removed = Event::LogStartAdvanced {
            tp: "x".into(),
            broker: 1,
            is_leader: true,
            log_start_offset: 2,
            removed: vec![(0, 10, 1), (1, 11, 1)],
            reason: LogStartReason::RetentionMs,
        };
        let h = read_then_rewound(false).event("broker-1", removed).poll_ok(1, &[("x", &[(2, 12)])]).build();
        assert_eq!(kinds(&h), vec![]);
    }

    #[test]
    fn records_of_a_transaction_not_known_to_commit_are_not_required_unless_the_reader_saw_them() {
        // Process 2 (read_uncommitted, say) saw offset 1 of an unfinished transaction;
        // process 1 started at offset 2 and never could.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .txn_invoke(3, &[crate::check::testkit::M::Send("x", None, 11)])
            .send_ok(0, "x", 2, 12)
            .poll_ok(2, &[("x", &[(0, 10), (1, 11), (2, 12)])])
            .poll_ok(1, &[("x", &[(2, 12)])])
            .rewind(1, None, None, &[("x", Some(3), Some(0))])
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        assert_eq!(kinds(&h), vec![]);
    }

    #[test]
    fn an_offset_read_out_of_order_is_reordered() {
        let h = read_then_rewound(false).poll_ok(1, &[("x", &[(2, 12)])]).poll_ok(1, &[("x", &[(1, 11)])]).build();
        let found = check(&h);
        assert_eq!(kinds(&h), vec![AnomalyKind::ReplayReordered]);
        assert_eq!(
            found[0].description,
            "process 1 rewound x from 3 to 1 at 1.000 s, then read offset 1 of the replayed range 1-2 only after \
             offset 2 (1 record(s) of the range out of order)."
        );
    }

    /// Values 10-12 at offsets 0-2 of `x`: each record is created after the previous send
    /// completed and before its own did, so 10 in [0, 0.2 s], 11 in [0.2, 0.4 s] and 12
    /// in [0.4, 0.6 s]. Process 1 reads them all.
    fn three_timed_records() -> Hist {
        Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 12)])])
    }

    #[test]
    fn an_answer_whose_record_is_older_than_the_time_is_wrong() {
        let h = three_timed_records().rewind(1, None, Some(350), &[("x", Some(3), Some(0))]).build();
        let wrong: Vec<Anomaly> = check(&h).into_iter().filter(|a| a.kind == AnomalyKind::ReplayWrongOffset).collect();
        assert_eq!(wrong.len(), 1);
        assert!(
            wrong[0].description.ends_with(
                "answered offset 0, but the record at offset 0 (value 10) was written by an op that completed at \
                 0.200 s, before that time, so its timestamp is earlier."
            ),
            "{}",
            wrong[0].description
        );
        // 11 may have been created before or after 0.35 s, and 12 was not earlier:
        // offset 1 and offset 2 are both possible answers.
        for to in [1, 2] {
            let h = three_timed_records().rewind(1, None, Some(350), &[("x", Some(3), Some(to))]).build();
            assert!(!kinds(&h).contains(&AnomalyKind::ReplayWrongOffset), "offset {to}");
        }
    }

    #[test]
    fn an_answer_past_a_record_created_at_or_after_the_time_is_wrong() {
        // 12 was created at or after 0.4 s, so a lookup of 0.4 s must not answer past it.
        let h = three_timed_records().rewind(1, None, Some(400), &[("x", Some(3), Some(3))]).build();
        let wrong: Vec<Anomaly> = check(&h).into_iter().filter(|a| a.kind == AnomalyKind::ReplayWrongOffset).collect();
        assert_eq!(wrong.len(), 1);
        assert!(
            wrong[0].description.contains("but offset 2 (value 12), in the log before the rewind began"),
            "{}",
            wrong[0].description
        );
        let h = three_timed_records().rewind(1, None, Some(401), &[("x", Some(3), Some(3))]).build();
        assert_eq!(kinds(&h), vec![], "12 may have been created at 0.400 s");
    }

    #[test]
    fn finding_nothing_although_the_reader_had_read_a_recent_record_is_wrong() {
        let h = three_timed_records().rewind(1, None, Some(400), &[("x", Some(3), None)]).build();
        assert_eq!(kinds(&h), vec![AnomalyKind::ReplayWrongOffset]);
        assert!(check(&h)[0].description.contains("answered no offset, but offset 2 (value 12), read before"));
        // Process 2 read nothing: for it, 12 may have been above its last stable offset.
        let h = three_timed_records().rewind(2, None, Some(400), &[("x", Some(0), None)]).build();
        assert_eq!(kinds(&h), vec![]);
        let h = three_timed_records().rewind(1, None, Some(700), &[("x", Some(3), None)]).build();
        assert_eq!(kinds(&h), vec![], "nothing was that recent");
    }

    #[test]
    fn a_group_reset_is_replayed_by_the_group_s_members() {
        let reset = |h: Hist| h.rewind(ADMIN_PROCESS, Some("g"), None, &[("x", Some(3), Some(0))]);
        let setup = || reset(three_timed_records()).member(1, "g", "m1", 2).member(2, "g", "m2", 2);
        let clean = setup().poll_ok(1, &[("x", &[(0, 10), (1, 11)])]).poll_ok(2, &[("x", &[(2, 12)])]).build();
        assert_eq!(kinds(&clean), vec![], "two members shared the replay");
        let skipped = setup().poll_ok(2, &[("x", &[(1, 11), (2, 12)])]).build();
        assert_eq!(kinds(&skipped), vec![AnomalyKind::ReplaySkip]);
        assert!(check(&skipped)[0]
            .description
            .starts_with("the administrator's reset of group g rewound x from 3 to 0"));
        assert_eq!(kinds(&setup().build()), vec![AnomalyKind::ReplaySkip], "nobody read it by the end");
        let other_group = reset(three_timed_records()).member(1, "h", "m1", 2).poll_ok(1, &[("x", &[(2, 12)])]).build();
        assert!(check(&other_group)[0].description.contains("the history ends"), "another group's reads do not count");
    }

    #[test]
    fn a_rewind_lets_the_group_commit_below_its_earlier_commits() {
        let base = || Hist::new().member(1, "g", "m1", 1).commit_ok(1, &[("x", 5)]);
        let regression = base().commit_ok(1, &[("x", 2)]).build();
        assert_eq!(crate::check::groups::commit_regressions(&regression).len(), 1);
        let rewound = base().rewind(1, None, None, &[("x", Some(5), Some(2))]).commit_ok(1, &[("x", 2)]).build();
        assert_eq!(crate::check::groups::commit_regressions(&rewound), vec![]);
        let reset =
            || base().rewind(ADMIN_PROCESS, Some("g"), None, &[("x", Some(5), Some(0))]).commit_ok(1, &[("x", 2)]);
        assert_eq!(crate::check::groups::commit_regressions(&reset().build()), vec![]);
        let after = reset().commit_ok(1, &[("x", 1)]).build();
        assert_eq!(
            crate::check::groups::commit_regressions(&after).len(),
            1,
            "after the rewind, commits are compared again"
        );
    }
}
