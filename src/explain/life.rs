//! The life of one record, read from the history and the trace: who sent it, where it was
//! appended, who fetched it, when it was acknowledged and committed, which faults and
//! elections happened around it, where it was truncated or overwritten, what consumers saw.

use crate::admin::TopicEventKind;
use crate::check::describe::{broker, process, secs};
use crate::fault::FaultKind;
use crate::history::{
    ClusterState, ElectionReason, Event, History, LogStartReason, MicroOp, OpFn, OpType, OpValue, TruncationReason,
    DRAIN_PROCESS,
};
use crate::protocol::Acks;
use std::collections::BTreeSet;

/// One line of a story, at a simulated time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Simulated time in nanoseconds.
    pub time_ns: u64,
    /// What happened, one sentence.
    pub text: String,
}

/// The record a story follows: a partition and its value and/or offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Focus {
    pub key: String,
    pub value: Option<u64>,
    pub offset: Option<u64>,
}

/// What the story found, for the cause sentence.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// `(broker, offset, epoch, time)` of each append as leader.
    pub led: Vec<(u32, u64, u32, u64)>,
    /// Followers that fetched it, with the time.
    pub fetched: Vec<(u32, u64)>,
    /// The leader's acknowledgement: `(broker, acks, time)`.
    pub acked: Option<(u32, Acks, u64)>,
    /// The partition's ISR as the controller last stored it before the acknowledgement.
    pub isr_at_ack: Option<Vec<u32>>,
    /// When the producer's send completed ok, and when it failed (with the error).
    pub send_ok: Option<u64>,
    pub send_failed: Option<(u64, String)>,
    /// The offset the producer was told the record landed at (its send's completion).
    pub acked_offset: Option<u64>,
    /// When a leader's high watermark first passed it.
    pub committed: Option<(u32, u64)>,
    /// Truncations removing it: `(broker, time, reason)`.
    pub truncated: Vec<(u32, u64, TruncationReason)>,
    /// Retention deleting it with its segment: `(broker, time, reason)`.
    pub expired: Vec<(u32, u64, LogStartReason)>,
    /// Restarts whose log no longer held it: `(broker, time)`.
    pub lost_on_load: Vec<(u32, u64)>,
    /// Replicas that dropped its partition, log and all, when its topic was deleted:
    /// `(broker, time)`.
    pub deleted: Vec<(u32, u64)>,
    /// Another record appended at its offset: `(broker, time, value, epoch)`.
    pub overwritten: Option<(u32, u64, u64, u32)>,
    /// Faults fired in the story: `(time, kind, targets)`.
    pub faults: Vec<(u64, FaultKind, Vec<String>)>,
    /// Leaders that took over: `(time, broker, epoch, log end offset)`.
    pub new_leaders: Vec<(u64, u32, u32, u64)>,
    /// Whether an unclean election happened in the story.
    pub unclean: bool,
    /// Polls that returned it: `(process, time, offset)`.
    pub polled: Vec<(u64, u64, u64)>,
    /// Members' first commits past it: `(process, time, member id)`.
    pub committed_past: Vec<(u64, u64, String)>,
    /// Processes that polled it and crashed before processing it: `(process, time)`.
    pub crashed_unprocessed: Vec<(u64, u64)>,
    /// Rewinds whose replayed range held it: `(time, who)`, e.g. `process 3` or `the
    /// administrator (group billing)`.
    pub rewound: Vec<(u64, String)>,
}

impl Facts {
    /// The record's first append as leader and the later one the producer was told it
    /// landed at, when they differ: the first copy's answer never reached the producer
    /// (a crash, or a lost response), so it sent the record again and the retry is the
    /// copy it knows of. Each is `(broker, offset, epoch, time)`.
    pub fn retried(&self) -> Option<((u32, u64, u32, u64), (u32, u64, u32, u64))> {
        let acked = self.acked_offset?;
        let first = *self.led.first()?;
        let retry = *self.led.iter().skip(1).find(|l| l.1 == acked)?;
        (first.1 != acked).then_some((first, retry))
    }
}

/// A record's story and its facts.
pub(crate) struct Life {
    pub lines: Vec<Line>,
    pub facts: Facts,
}

/// The most lines of context (faults, elections) one story shows.
const MAX_CONTEXT_LINES: usize = 12;
/// The most poll lines one story shows.
const MAX_POLL_LINES: usize = 4;

fn who(p: u64) -> String {
    if p >= DRAIN_PROCESS {
        format!("the final drain ({})", process(p))
    } else {
        process(p)
    }
}

/// Tells the life of the focused record.
pub(crate) fn life(history: &History, focus: &Focus) -> Life {
    let mut lines = Vec::new();
    let mut facts = Facts::default();
    client_side(history, focus, &mut lines, &mut facts);
    let offsets = broker_side(history, focus, &mut lines, &mut facts);
    let (start, end) = match (lines.iter().map(|l| l.time_ns).min(), lines.iter().map(|l| l.time_ns).max()) {
        (Some(s), Some(e)) => (s, e),
        _ => (0, u64::MAX),
    };
    context(history, Some(&focus.key), &offsets, (start, end), &mut lines, &mut facts);
    lines.sort_by_key(|l| l.time_ns);
    Life { lines, facts }
}

/// What the producer and the consumers did with the record.
fn client_side(history: &History, focus: &Focus, lines: &mut Vec<Line>, facts: &mut Facts) {
    let mut poll_lines = 0;
    let mut polls_left = 0;
    let mut seen_other: BTreeSet<u64> = BTreeSet::new();
    let mut passed_by: BTreeSet<String> = BTreeSet::new();
    let mut processed_by: BTreeSet<u64> = BTreeSet::new();
    for op in &history.ops {
        let at = |text: String| Line { time_ns: op.time_ns, text };
        for mop in op.micro_ops() {
            match mop {
                MicroOp::Send { key, value, offset } if **key == *focus.key && Some(*value) == focus.value => {
                    let error = op.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
                    let text = match (op.kind, offset) {
                        (OpType::Invoke, _) => {
                            format!("{} sends value {value} to {key} (op {})", who(op.process), op.index)
                        }
                        (OpType::Ok, Some(o)) => {
                            facts.send_ok = Some(op.time_ns);
                            facts.acked_offset = Some(*o);
                            format!("{}'s send completes: acknowledged at offset {o}", who(op.process))
                        }
                        (OpType::Ok, None) => {
                            facts.send_ok = Some(op.time_ns);
                            format!("{}'s send completes as sent (no offset: acks=0)", who(op.process))
                        }
                        (OpType::Fail, _) => {
                            facts.send_failed = Some((op.time_ns, op.error.clone().unwrap_or_default()));
                            format!("{}'s send fails{error}", who(op.process))
                        }
                        // An asynchronous producer's `info` op carries the offsets of the
                        // sends the broker did answer (`offset_is_an_ack` in the checker).
                        (OpType::Info, Some(o)) if op.f == OpFn::Send => {
                            facts.send_ok = Some(op.time_ns);
                            facts.acked_offset = Some(*o);
                            format!(
                                "{}'s send was acknowledged at offset {o} (its op, whose other sends got no answer, ends with an unknown outcome{error})",
                                who(op.process)
                            )
                        }
                        (OpType::Info, _) => format!("{}'s send ends with an unknown outcome{error}", who(op.process)),
                    };
                    lines.push(at(text));
                }
                MicroOp::Poll { records: Some(records) } if op.kind == OpType::Ok => {
                    for &(offset, value) in records.get(&focus.key).into_iter().flatten() {
                        if Some(value) == focus.value {
                            facts.polled.push((op.process, op.time_ns, offset));
                            if poll_lines < MAX_POLL_LINES {
                                poll_lines += 1;
                                lines.push(at(format!("{} polls it at offset {offset}", who(op.process))));
                            } else {
                                polls_left += 1;
                            }
                        } else if Some(offset) == focus.offset && focus.value.is_some() && seen_other.insert(op.process)
                        {
                            lines.push(at(format!(
                                "{} polls offset {offset} and finds value {value} there instead",
                                who(op.process)
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        group_side(op, focus, &mut passed_by, lines, facts);
        if let (OpFn::Process, OpType::Ok, OpValue::Records(records), Some(offset)) =
            (op.f, op.kind, &op.value, focus.offset)
        {
            if records.get(&focus.key).is_some_and(|pairs| pairs.iter().any(|&(o, _)| o == offset)) {
                processed_by.insert(op.process);
            }
        }
        // A consumer that polled the record and crashed before it processed it.
        if op.f == OpFn::Crash
            && op.kind != OpType::Invoke
            && facts.polled.iter().any(|p| p.0 == op.process)
            && !processed_by.contains(&op.process)
            && !facts.crashed_unprocessed.iter().any(|c| c.0 == op.process)
        {
            facts.crashed_unprocessed.push((op.process, op.time_ns));
            lines.push(Line {
                time_ns: op.time_ns,
                text: format!("{} crashes before it finished processing the record it polled", who(op.process)),
            });
        }
        rewind_side(op, focus, lines, facts);
    }
    if polls_left > 0 {
        let last = facts.polled.last().map_or(0, |p| p.1);
        lines.push(Line { time_ns: last, text: format!("(and {polls_left} more polls return it)") });
    }
}

/// Group members' assignments and processing of the record's partition and offset, and
/// each member's first commit past the record (later commits add nothing to its story).
fn group_side(
    op: &crate::history::Op,
    focus: &Focus,
    passed_by: &mut BTreeSet<String>,
    lines: &mut Vec<Line>,
    facts: &mut Facts,
) {
    let (Some(ctx), Some(offset)) = (&op.group, focus.offset) else { return };
    let member =
        format!("member {} of group {} ({} {})", ctx.member, ctx.group, ctx.protocol.epoch_name(), ctx.generation);
    // A commit past the record that the coordinator refused: the member was no longer in
    // the group's current generation (the fencing the rebalance lessons are about).
    if let (OpType::Fail, OpFn::Commit, OpValue::Offsets(offsets), Some(error)) = (op.kind, op.f, &op.value, &op.error)
    {
        let stale = super::mechanism::is_stale_commit_error(error);
        if let Some(next) = offsets.get(&focus.key).filter(|&&next| next > offset && stale) {
            lines.push(Line {
                time_ns: op.time_ns,
                text: format!(
                    "the coordinator refuses {member}'s commit of next offset {next} for {} ({error}): it is not a member of the group's current {}",
                    focus.key,
                    ctx.protocol.epoch_name()
                ),
            });
        }
        return;
    }
    if op.kind != OpType::Ok {
        return;
    }
    let text = match (&op.value, op.f) {
        (OpValue::Records(records), OpFn::Process) => records
            .get(&focus.key)
            .filter(|pairs| pairs.iter().any(|&(o, _)| o == offset))
            .map(|_| format!("{member} finishes processing offset {offset}")),
        (OpValue::Records(records), OpFn::DeadLetter) => {
            records.get(&focus.key).filter(|pairs| pairs.iter().any(|&(o, _)| o == offset)).map(|_| {
                let why = op.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
                format!("{member} gives up processing offset {offset}{why} and sends it to its dead-letter topic")
            })
        }
        (OpValue::Offsets(offsets), OpFn::Commit) => offsets
            .get(&focus.key)
            .filter(|&&next| next > offset && passed_by.insert(ctx.member.clone()))
            .map(|&next| {
                facts.committed_past.push((op.process, op.time_ns, ctx.member.clone()));
                format!("{member} commits next offset {next} for {}, past the record", focus.key)
            }),
        (OpValue::Keys(keys), OpFn::Assign) if keys.contains(&focus.key) => {
            Some(format!("{member} is assigned {}", focus.key))
        }
        (OpValue::Keys(keys), OpFn::Revoke) if keys.contains(&focus.key) => {
            Some(format!("{member} revokes {} (onPartitionsRevoked)", focus.key))
        }
        (OpValue::Keys(keys), OpFn::Lose) if keys.contains(&focus.key) => {
            Some(format!("{member} loses {} (onPartitionsLost: it was no longer in the group)", focus.key))
        }
        _ => None,
    };
    if let Some(text) = text {
        lines.push(Line { time_ns: op.time_ns, text });
    }
}

/// A completed rewind whose replayed range holds the record's offset: the consumer (or
/// the group an administrator reset) reads it again.
fn rewind_side(op: &crate::history::Op, focus: &Focus, lines: &mut Vec<Line>, facts: &mut Facts) {
    let (OpValue::Rewind(rewind), Some(offset), OpType::Ok) = (&op.value, focus.offset, op.kind) else { return };
    let Some(moved) = rewind.partitions.get(&focus.key) else { return };
    let (Some(from), Some(to)) = (moved.from, moved.to) else { return };
    if !(to..from).contains(&offset) {
        return;
    }
    let who = match &rewind.group {
        Some(group) => format!("the administrator (group {group})"),
        None => who(op.process),
    };
    let by = match rewind.to_time_ms {
        Some(ms) => format!(" (the earliest offset at or after {})", at(ms * 1_000_000)),
        None => String::new(),
    };
    let text = format!("{who} rewinds {} from {from} to {to}{by}: offset {offset} is read again", focus.key);
    lines.push(Line { time_ns: op.time_ns, text });
    facts.rewound.push((op.time_ns, who));
}

/// Appends, fetches, acknowledgements, commits, truncations and reloads of the record.
/// Returns the offsets it was appended at.
fn broker_side(history: &History, focus: &Focus, lines: &mut Vec<Line>, facts: &mut Facts) -> BTreeSet<u64> {
    let mut offsets: BTreeSet<u64> = focus.offset.into_iter().collect();
    let mut holders: BTreeSet<u32> = BTreeSet::new();
    let mut appended: BTreeSet<u64> = BTreeSet::new();
    let mut fetched: BTreeSet<u32> = BTreeSet::new();
    let mut hw_told = false;
    // Each replica's own high watermark and when it last moved, and the leaders' highest:
    // legacy truncation (before KIP-101) cuts a follower's log at its own.
    let mut own_hw: std::collections::BTreeMap<u32, (u64, u64)> = std::collections::BTreeMap::new();
    let mut leader_hw: Option<(u32, u64)> = None;
    let mut loaded: BTreeSet<(u32, u64)> = BTreeSet::new();
    // The partition's ISR as the controller stored it, ordered by leader epoch.
    let mut state = ClusterState::default();
    let is_it = |o: u64, v: u64| match focus.value {
        Some(value) => value == v,
        None => focus.offset == Some(o),
    };
    for e in &history.trace {
        let at = |text: String| Line { time_ns: e.time_ns, text };
        state.apply(e);
        match &e.event {
            Event::HighWatermark { tp, broker: b, is_leader, new, .. } if **tp == *focus.key => {
                own_hw.insert(*b, (*new, e.time_ns));
                if *is_leader && leader_hw.is_none_or(|(_, hw)| *new > hw) {
                    leader_hw = Some((*b, *new));
                }
            }
            Event::LogLoaded { tp, broker: b, high_watermark, .. } if **tp == *focus.key => {
                own_hw.insert(*b, (*high_watermark, e.time_ns));
                loaded.insert((*b, e.time_ns));
            }
            _ => {}
        }
        match &e.event {
            Event::Append { tp, broker: b, as_leader, leader_epoch, base_offset, values } if **tp == *focus.key => {
                let mut other = None;
                for (i, &v) in values.iter().enumerate() {
                    let o = base_offset + i as u64;
                    if is_it(o, v) {
                        offsets.insert(o);
                        appended.insert(o);
                        holders.insert(*b);
                        if *as_leader {
                            facts.led.push((*b, o, *leader_epoch, e.time_ns));
                            let last = base_offset + values.len() as u64 - 1;
                            lines.push(at(format!(
                                "{} appends it as leader at offset {o} in leader epoch {leader_epoch} (batch of {} at {base_offset}-{last})",
                                broker(*b),
                                values.len()
                            )));
                        } else if fetched.insert(*b) {
                            facts.fetched.push((*b, e.time_ns));
                            lines.push(at(format!(
                                "{} fetches it as follower (offset {o}, epoch {leader_epoch})",
                                broker(*b)
                            )));
                        }
                    } else if *as_leader && appended.contains(&o) && focus.value.is_some() && other.is_none() {
                        other = Some((o, v));
                    }
                }
                if let (Some((o, v)), None) = (other, facts.overwritten) {
                    facts.overwritten = Some((*b, e.time_ns, v, *leader_epoch));
                    lines.push(at(format!(
                        "{} appends value {v} at offset {o} in leader epoch {leader_epoch}: the offset now holds another record",
                        broker(*b)
                    )));
                }
            }
            Event::ProduceAcknowledged { tp, broker: b, acks, base_offset, count, .. }
                if **tp == *focus.key
                    && facts.acked.is_none()
                    && facts
                        .led
                        .iter()
                        .any(|&(lb, o, _, _)| lb == *b && (*base_offset..base_offset + count).contains(&o)) =>
            {
                facts.acked = Some((*b, *acks, e.time_ns));
                facts.isr_at_ack = state.partition(&focus.key).filter(|p| p.created).map(|p| p.isr.clone());
                lines.push(at(format!("{} acknowledges the batch to the producer (acks={acks})", broker(*b))));
            }
            Event::HighWatermark { tp, broker: b, is_leader: true, old, new, .. } if **tp == *focus.key && !hw_told => {
                if let Some(o) = offsets.iter().find(|&&o| *old <= o && o < *new) {
                    if facts.led.iter().any(|&(lb, lo, _, _)| lb == *b && lo == *o) {
                        hw_told = true;
                        facts.committed = Some((*b, e.time_ns));
                        lines.push(at(format!(
                            "the high watermark on leader {} passes offset {o} (now {new}): the record is committed",
                            broker(*b)
                        )));
                    }
                }
            }
            Event::Truncate { tp, broker: b, to_offset, removed, reason } if **tp == *focus.key => {
                if let Some(&(o, _, epoch)) = removed.iter().find(|&&(o, v, _)| is_it(o, v)) {
                    holders.remove(b);
                    facts.truncated.push((*b, e.time_ns, *reason));
                    let own = match (reason, own_hw.get(b)) {
                        (TruncationReason::HighWatermark, Some(&(hw, since))) => {
                            let leader = match leader_hw.filter(|&(l, lhw)| l != *b && lhw > hw) {
                                Some((l, lhw)) => format!(", while leader {}'s had reached {lhw}", broker(l)),
                                None => String::new(),
                            };
                            let how = if loaded.contains(&(*b, since)) {
                                ", read from its checkpoint at restart"
                            } else {
                                ""
                            };
                            format!(
                                "; its own high watermark, to which it truncates, was {hw} (since {}{how}){leader}",
                                secs(since)
                            )
                        }
                        _ => String::new(),
                    };
                    lines.push(at(format!(
                        "{} truncates {tp} to offset {to_offset} ({reason}), removing it (offset {o}, epoch {epoch}){own}",
                        broker(*b)
                    )));
                }
            }
            Event::LogStartAdvanced { tp, broker: b, is_leader: true, log_start_offset, removed, reason }
                if **tp == *focus.key && removed.iter().any(|&(o, v, _)| is_it(o, v)) =>
            {
                facts.expired.push((*b, e.time_ns, *reason));
                lines.push(at(format!(
                    "leader {} deletes it with its old segment ({reason}); the log now starts at offset {log_start_offset}",
                    broker(*b)
                )));
            }
            Event::PartitionDeleted { tp, broker: b } if **tp == *focus.key && holders.remove(b) => {
                facts.deleted.push((*b, e.time_ns));
                lines.push(at(format!("{} deletes {tp} and its log: the topic was deleted", broker(*b))));
            }
            Event::LogLoaded { tp, broker: b, records, .. }
                if **tp == *focus.key && holders.contains(b) && !records.iter().any(|&(o, v, _)| is_it(o, v)) =>
            {
                holders.remove(b);
                facts.lost_on_load.push((*b, e.time_ns));
                let end = records.last().map_or(0, |r| r.0 + 1);
                lines.push(at(format!(
                    "{} starts with a log from disk that ends at offset {end}: the record was never flushed and is gone",
                    broker(*b)
                )));
            }
            _ => {}
        }
    }
    offsets
}

/// ` on broker-1, broker-2`, or nothing for a fault without targets.
fn on(targets: &[String]) -> String {
    if targets.is_empty() {
        String::new()
    } else {
        format!(" on {}", targets.join(", "))
    }
}

/// Faults, elections, leader changes and topic events of the partition while the story
/// unfolds.
fn context(
    history: &History,
    key: Option<&str>,
    offsets: &BTreeSet<u64>,
    (start, end): (u64, u64),
    lines: &mut Vec<Line>,
    facts: &mut Facts,
) {
    let mut shown = 0;
    let mut left = 0;
    let mut last_ns = start;
    let at_offset = offsets.iter().next().copied();
    let ours = |tp: &str| key.is_none_or(|k| k == tp);
    let of_topic = |topic: &str| {
        key.is_none_or(|k| crate::protocol::TopicPartition::parse(k).is_some_and(|tp| *tp.topic == *topic))
    };
    // The partitions' stored state as the trace has told it so far, to tell a new
    // controller reading the state its predecessor stored from a change of the ISR.
    let mut state = ClusterState::default();
    for e in &history.trace {
        let stored = match &e.event {
            Event::IsrChange { tp, .. } => state.partition(tp).filter(|p| p.created).cloned(),
            _ => None,
        };
        state.apply(e);
        if !(start..=end).contains(&e.time_ns) {
            continue;
        }
        let text = match &e.event {
            Event::Fault { kind, targets, detail } => {
                facts.faults.push((e.time_ns, *kind, targets.clone()));
                format!("fault: {kind}{} ({detail})", on(targets))
            }
            Event::FaultEnded { kind, targets, detail } => format!("fault over: {kind}{} ({detail})", on(targets)),
            Event::LeaderElection { tp, leader, leader_epoch, isr, unclean, reason, .. } if ours(tp) => {
                facts.unclean |= *unclean;
                match leader {
                    Some(l) if *reason == ElectionReason::TopicCreation => format!(
                        "the controller creates {tp} with {} as leader in epoch {leader_epoch} (ISR {isr:?})",
                        broker(*l)
                    ),
                    Some(l) => format!(
                        "the controller elects {} leader of {tp} in epoch {leader_epoch}{} ({reason}; ISR {isr:?})",
                        broker(*l),
                        if *unclean { ", an unclean election from outside the ISR" } else { "" }
                    ),
                    None => {
                        format!("the controller finds no replica to lead {tp} ({reason}): the partition is offline")
                    }
                }
            }
            Event::BecomeLeader { tp, broker: b, leader_epoch, log_end_offset, .. } if ours(tp) => {
                facts.new_leaders.push((e.time_ns, *b, *leader_epoch, *log_end_offset));
                let versus = match at_offset {
                    Some(o) if *log_end_offset <= o => format!(", without offset {o}"),
                    Some(o) => format!(", holding offset {o}"),
                    None => String::new(),
                };
                format!(
                    "{} becomes leader of {tp} in epoch {leader_epoch} with log end offset {log_end_offset}{versus}",
                    broker(*b)
                )
            }
            // The same version of the stored state again: a controller that just took
            // over loaded it from the metadata store (ZooKeeper's partition state node;
            // `KafkaController.onControllerFailover` reads every partition's leader and
            // ISR), as its predecessor left it. Nothing changed: no broker rejoined.
            Event::IsrChange { tp, isr, leader, leader_epoch, partition_epoch }
                if ours(tp)
                    && stored.as_ref().is_some_and(|p| {
                        (p.leader_epoch, p.partition_epoch, &p.isr) == (*leader_epoch, *partition_epoch, isr)
                    }) =>
            {
                let led = leader.map(|l| format!("leader {}, ", broker(l))).unwrap_or_default();
                format!(
                    "a new controller ({}) loads the state of {tp} from the metadata store as the previous controller left it: {led}epoch {leader_epoch}, ISR {isr:?}",
                    e.node
                )
            }
            Event::IsrChange { tp, isr, .. } if ours(tp) => format!("the ISR of {tp} becomes {isr:?}"),
            Event::TopicAdmin { kind, topic, partitions, error } if of_topic(topic) => {
                let what = match kind {
                    TopicEventKind::AddPartitions => {
                        format!("grows {topic} to {partitions} partitions (CreatePartitions): keys may hash elsewhere")
                    }
                    TopicEventKind::DeleteTopic => {
                        format!("deletes {topic} (DeleteTopics): its partitions and their records go")
                    }
                    TopicEventKind::CreateTopic | TopicEventKind::Subscribe | TopicEventKind::Rewind => {
                        format!("creates {topic} with {partitions} partitions (CreateTopics)")
                    }
                };
                match error {
                    None => format!("an administrator {what}"),
                    Some(error) => format!("an administrator's request refused with {error}: it {what}"),
                }
            }
            _ => continue,
        };
        last_ns = e.time_ns;
        if shown < MAX_CONTEXT_LINES {
            shown += 1;
            lines.push(Line { time_ns: e.time_ns, text });
        } else {
            left += 1;
        }
    }
    if left > 0 {
        lines.push(Line { time_ns: last_ns, text: format!("(and {left} more faults and leader changes until then)") });
    }
}

/// The partition's (or, without one, every partition's) leadership and faults in a
/// window, for anomalies without a record value (hw-regression, commit-regression,
/// split-ownership, no-progress).
pub(crate) fn partition_story(history: &History, key: Option<&str>, window: (u64, u64)) -> Life {
    let mut lines = Vec::new();
    let mut facts = Facts::default();
    context(history, key, &BTreeSet::new(), window, &mut lines, &mut facts);
    for e in history.trace.iter().filter(|e| (window.0..=window.1).contains(&e.time_ns)) {
        if let Event::HighWatermark { tp, broker: b, is_leader: true, leader_epoch, old, new } = &e.event {
            if key.is_none_or(|k| k == &**tp) && new < old {
                lines.push(Line {
                    time_ns: e.time_ns,
                    text: format!(
                        "the high watermark on leader {} goes back from {old} to {new} in epoch {leader_epoch}",
                        broker(*b)
                    ),
                });
            }
        }
    }
    lines.sort_by_key(|l| l.time_ns);
    Life { lines, facts }
}

/// `2.104 s`, re-exported for the story's renderers.
pub(crate) fn at(time_ns: u64) -> String {
    secs(time_ns)
}
