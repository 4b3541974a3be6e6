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
use crate::scenario::Lang;
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
    /// Each append as leader.
    pub led: Vec<LeaderAppend>,
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
    /// When the `reorder` fault in force during the story (if one was) began: it may
    /// have begun before the story.
    pub reordering_since: Option<u64>,
    /// Leaders that took over: `(time, broker, epoch, log end offset)`.
    pub new_leaders: Vec<(u64, u32, u32, u64)>,
    /// The leader epochs an unclean election began in the story: a new leader is called
    /// unclean only when its own election was.
    pub unclean_epochs: Vec<u32>,
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

/// One append as leader: `(broker, offset, leader epoch, time)`.
pub type LeaderAppend = (u32, u64, u32, u64);

impl Facts {
    /// The record's first append as leader and the later one the producer was told it
    /// landed at, when they differ: the first copy's answer never reached the producer
    /// (a crash, or a lost response), so it sent the record again and the retry is the
    /// copy it knows of. Each is `(broker, offset, epoch, time)`.
    pub fn retried(&self) -> Option<(LeaderAppend, LeaderAppend)> {
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

fn who(p: u64, lang: Lang) -> String {
    if p >= DRAIN_PROCESS {
        lang.pick(format!("the final drain ({})", process(p)), format!("最终排空（{}）", process(p)))
    } else {
        process(p)
    }
}

/// Tells the life of the focused record, in `lang`.
pub(crate) fn life(history: &History, focus: &Focus, lang: Lang) -> Life {
    let mut lines = Vec::new();
    let mut facts = Facts::default();
    client_side(history, focus, lang, &mut lines, &mut facts);
    let offsets = broker_side(history, focus, lang, &mut lines, &mut facts);
    let (start, end) = match (lines.iter().map(|l| l.time_ns).min(), lines.iter().map(|l| l.time_ns).max()) {
        (Some(s), Some(e)) => (s, e),
        _ => (0, u64::MAX),
    };
    context(history, Some(&focus.key), &offsets, (start, end), lang, &mut lines, &mut facts);
    lines.sort_by_key(|l| l.time_ns);
    Life { lines, facts }
}

/// What the producer and the consumers did with the record.
fn client_side(history: &History, focus: &Focus, lang: Lang, lines: &mut Vec<Line>, facts: &mut Facts) {
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
                    let error = op
                        .error
                        .as_deref()
                        .map(|e| lang.pick(format!(" ({e})"), format!("（{e}）")))
                        .unwrap_or_default();
                    let text = match (op.kind, offset) {
                        (OpType::Invoke, _) => lang.pick(
                            format!("{} sends value {value} to {key} (op {})", who(op.process, lang), op.index),
                            format!("{} 向 {key} 发送值 {value}（op {}）", who(op.process, lang), op.index),
                        ),
                        (OpType::Ok, Some(o)) => {
                            facts.send_ok = Some(op.time_ns);
                            facts.acked_offset = Some(*o);
                            lang.pick(
                                format!("{}'s send completes: acknowledged at offset {o}", who(op.process, lang)),
                                format!("{} 的发送完成：在位移 {o} 处得到确认", who(op.process, lang)),
                            )
                        }
                        (OpType::Ok, None) => {
                            facts.send_ok = Some(op.time_ns);
                            lang.pick(
                                format!("{}'s send completes as sent (no offset: acks=0)", who(op.process, lang)),
                                format!("{} 的发送以“已发出”完成（没有位移：acks=0）", who(op.process, lang)),
                            )
                        }
                        (OpType::Fail, _) => {
                            facts.send_failed = Some((op.time_ns, op.error.clone().unwrap_or_default()));
                            lang.pick(
                                format!("{}'s send fails{error}", who(op.process, lang)),
                                format!("{} 的发送失败{error}", who(op.process, lang)),
                            )
                        }
                        // An asynchronous producer's `info` op carries the offsets of the
                        // sends the broker did answer (`offset_is_an_ack` in the checker).
                        (OpType::Info, Some(o)) if op.f == OpFn::Send => {
                            facts.send_ok = Some(op.time_ns);
                            facts.acked_offset = Some(*o);
                            lang.pick(
                                format!(
                                    "{}'s send was acknowledged at offset {o} (its op, whose other sends got no answer, ends with an unknown outcome{error})",
                                    who(op.process, lang)
                                ),
                                format!(
                                    "{} 的发送在位移 {o} 处得到确认（它所在的 op 的其他发送没有得到回答，以结果未知结束{error}）",
                                    who(op.process, lang)
                                ),
                            )
                        }
                        (OpType::Info, _) => lang.pick(
                            format!("{}'s send ends with an unknown outcome{error}", who(op.process, lang)),
                            format!("{} 的发送以结果未知结束{error}", who(op.process, lang)),
                        ),
                    };
                    lines.push(at(text));
                }
                MicroOp::Poll { records: Some(records) } if op.kind == OpType::Ok => {
                    for &(offset, value) in records.get(&focus.key).into_iter().flatten() {
                        if Some(value) == focus.value {
                            facts.polled.push((op.process, op.time_ns, offset));
                            if poll_lines < MAX_POLL_LINES {
                                poll_lines += 1;
                                lines.push(at(lang.pick(
                                    format!("{} polls it at offset {offset}", who(op.process, lang)),
                                    format!("{} 在位移 {offset} 处拉取到它", who(op.process, lang)),
                                )));
                            } else {
                                polls_left += 1;
                            }
                        } else if Some(offset) == focus.offset && focus.value.is_some() && seen_other.insert(op.process)
                        {
                            lines.push(at(lang.pick(
                                format!(
                                    "{} polls offset {offset} and finds value {value} there instead",
                                    who(op.process, lang)
                                ),
                                format!("{} 拉取位移 {offset}，发现那里是值 {value}", who(op.process, lang)),
                            )));
                        }
                    }
                }
                _ => {}
            }
        }
        group_side(op, focus, lang, &mut passed_by, lines, facts);
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
                text: lang.pick(
                    format!("{} crashes before it finished processing the record it polled", who(op.process, lang)),
                    format!("{} 在处理完它拉取的这条消息之前崩溃", who(op.process, lang)),
                ),
            });
        }
        rewind_side(op, focus, lang, lines, facts);
    }
    if polls_left > 0 {
        let last = facts.polled.last().map_or(0, |p| p.1);
        lines.push(Line {
            time_ns: last,
            text: lang.pick(
                format!("(and {polls_left} more polls return it)"),
                format!("（另有 {polls_left} 次拉取返回它）"),
            ),
        });
    }
}

/// Group members' assignments and processing of the record's partition and offset, and
/// each member's first commit past the record (later commits add nothing to its story).
fn group_side(
    op: &crate::history::Op,
    focus: &Focus,
    lang: Lang,
    passed_by: &mut BTreeSet<String>,
    lines: &mut Vec<Line>,
    facts: &mut Facts,
) {
    let (Some(ctx), Some(offset)) = (&op.group, focus.offset) else { return };
    let epoch_name = lang.pick(ctx.protocol.epoch_name(), epoch_name_zh(ctx.protocol));
    let member = lang.pick(
        format!("member {} of group {} ({epoch_name} {})", ctx.member, ctx.group, ctx.generation),
        format!("消费者组 {} 的成员 {}（{epoch_name} {}）", ctx.group, ctx.member, ctx.generation),
    );
    // A commit past the record that the coordinator refused: the member was no longer in
    // the group's current generation (the fencing the rebalance lessons are about).
    if let (OpType::Fail, OpFn::Commit, OpValue::Offsets(offsets), Some(error)) = (op.kind, op.f, &op.value, &op.error)
    {
        let stale = super::mechanism::is_stale_commit_error(error);
        if let Some(next) = offsets.get(&focus.key).filter(|&&next| next > offset && stale) {
            lines.push(Line {
                time_ns: op.time_ns,
                text: lang.pick(
                    format!(
                        "the coordinator refuses {member}'s commit of next offset {next} for {} ({error}): it is not a member of the group's current {epoch_name}",
                        focus.key,
                    ),
                    format!(
                        "协调者拒绝了{member}为 {} 提交的下一位移 {next}（{error}）：它已不是该组当前{epoch_name}的成员",
                        focus.key,
                    ),
                ),
            });
        }
        return;
    }
    if op.kind != OpType::Ok {
        return;
    }
    let text = match (&op.value, op.f) {
        (OpValue::Records(records), OpFn::Process) => {
            records.get(&focus.key).filter(|pairs| pairs.iter().any(|&(o, _)| o == offset)).map(|_| {
                lang.pick(
                    format!("{member} finishes processing offset {offset}"),
                    format!("{member}处理完位移 {offset}"),
                )
            })
        }
        (OpValue::Records(records), OpFn::DeadLetter) => {
            records.get(&focus.key).filter(|pairs| pairs.iter().any(|&(o, _)| o == offset)).map(|_| {
                let why = op.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
                lang.pick(
                    format!("{member} gives up processing offset {offset}{why} and sends it to its dead-letter topic"),
                    format!("{member}放弃处理位移 {offset}{why}，把它发往死信主题"),
                )
            })
        }
        (OpValue::Offsets(offsets), OpFn::Commit) => offsets
            .get(&focus.key)
            .filter(|&&next| next > offset && passed_by.insert(ctx.member.clone()))
            .map(|&next| {
                facts.committed_past.push((op.process, op.time_ns, ctx.member.clone()));
                lang.pick(
                    format!("{member} commits next offset {next} for {}, past the record", focus.key),
                    format!("{member}为 {} 提交下一位移 {next}，越过了这条消息", focus.key),
                )
            }),
        (OpValue::Keys(keys), OpFn::Assign) if keys.contains(&focus.key) => {
            Some(lang.pick(format!("{member} is assigned {}", focus.key), format!("{member}被分配到 {}", focus.key)))
        }
        (OpValue::Keys(keys), OpFn::Revoke) if keys.contains(&focus.key) => Some(lang.pick(
            format!("{member} revokes {} (onPartitionsRevoked)", focus.key),
            format!("{member}撤销 {}（onPartitionsRevoked）", focus.key),
        )),
        (OpValue::Keys(keys), OpFn::Lose) if keys.contains(&focus.key) => Some(lang.pick(
            format!("{member} loses {} (onPartitionsLost: it was no longer in the group)", focus.key),
            format!("{member}失去 {}（onPartitionsLost：它已不在组中）", focus.key),
        )),
        _ => None,
    };
    if let Some(text) = text {
        lines.push(Line { time_ns: op.time_ns, text });
    }
}

/// A completed rewind whose replayed range holds the record's offset: the consumer (or
/// the group an administrator reset) reads it again.
fn rewind_side(op: &crate::history::Op, focus: &Focus, lang: Lang, lines: &mut Vec<Line>, facts: &mut Facts) {
    let (OpValue::Rewind(rewind), Some(offset), OpType::Ok) = (&op.value, focus.offset, op.kind) else { return };
    let Some(moved) = rewind.partitions.get(&focus.key) else { return };
    let (Some(from), Some(to)) = (moved.from, moved.to) else { return };
    if !(to..from).contains(&offset) {
        return;
    }
    let who = match &rewind.group {
        Some(group) => lang.pick(format!("the administrator (group {group})"), format!("管理员（消费者组 {group}）")),
        None => who(op.process, lang),
    };
    let by = match rewind.to_time_ms {
        Some(ms) => lang.pick(
            format!(" (the earliest offset at or after {})", at(ms * 1_000_000)),
            format!("（{} 或之后的最早位移）", at(ms * 1_000_000)),
        ),
        None => String::new(),
    };
    let text = lang.pick(
        format!("{who} rewinds {} from {from} to {to}{by}: offset {offset} is read again", focus.key),
        format!("{who} 把 {} 从 {from} 回退到 {to}{by}：位移 {offset} 被再次读取", focus.key),
    );
    lines.push(Line { time_ns: op.time_ns, text });
    facts.rewound.push((op.time_ns, who));
}

/// Appends, fetches, acknowledgements, commits, truncations and reloads of the record.
/// Returns the offsets it was appended at.
fn broker_side(
    history: &History,
    focus: &Focus,
    lang: Lang,
    lines: &mut Vec<Line>,
    facts: &mut Facts,
) -> BTreeSet<u64> {
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
        state.apply(&e);
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
                            lines.push(at(lang.pick(
                                format!(
                                    "{} appends it as leader at offset {o} in leader epoch {leader_epoch} (batch of {} at {base_offset}-{last})",
                                    broker(*b),
                                    values.len()
                                ),
                                format!(
                                    "{} 作为领导者在领导者纪元 {leader_epoch} 中把它追加到位移 {o}（{} 条消息的批次，位于 {base_offset}-{last}）",
                                    broker(*b),
                                    values.len()
                                ),
                            )));
                        } else if fetched.insert(*b) {
                            facts.fetched.push((*b, e.time_ns));
                            lines.push(at(lang.pick(
                                format!("{} fetches it as follower (offset {o}, epoch {leader_epoch})", broker(*b)),
                                format!("{} 作为追随者拉取了它（位移 {o}，纪元 {leader_epoch}）", broker(*b)),
                            )));
                        }
                    } else if *as_leader && appended.contains(&o) && focus.value.is_some() && other.is_none() {
                        other = Some((o, v));
                    }
                }
                if let (Some((o, v)), None) = (other, facts.overwritten) {
                    facts.overwritten = Some((*b, e.time_ns, v, *leader_epoch));
                    lines.push(at(lang.pick(
                        format!(
                            "{} appends value {v} at offset {o} in leader epoch {leader_epoch}: the offset now holds another record",
                            broker(*b)
                        ),
                        format!(
                            "{} 在领导者纪元 {leader_epoch} 中把值 {v} 追加到位移 {o}：这个位移现在存放的是另一条消息",
                            broker(*b)
                        ),
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
                lines.push(at(lang.pick(
                    format!("{} acknowledges the batch to the producer (acks={acks})", broker(*b)),
                    format!("{} 向生产者确认了该批次（acks={acks}）", broker(*b)),
                )));
            }
            Event::HighWatermark { tp, broker: b, is_leader: true, old, new, .. } if **tp == *focus.key && !hw_told => {
                if let Some(o) = offsets.iter().find(|&&o| *old <= o && o < *new) {
                    if facts.led.iter().any(|&(lb, lo, _, _)| lb == *b && lo == *o) {
                        hw_told = true;
                        facts.committed = Some((*b, e.time_ns));
                        lines.push(at(lang.pick(
                            format!(
                                "the high watermark on leader {} passes offset {o} (now {new}): the record is committed",
                                broker(*b)
                            ),
                            format!("领导者 {} 上的高水位越过位移 {o}（现为 {new}）：这条消息已提交", broker(*b)),
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
                                Some((l, lhw)) => lang.pick(
                                    format!(", while leader {}'s had reached {lhw}", broker(l)),
                                    format!("，而领导者 {} 的高水位已达到 {lhw}", broker(l)),
                                ),
                                None => String::new(),
                            };
                            let how = if loaded.contains(&(*b, since)) {
                                lang.pick(", read from its checkpoint at restart", "，重启时从检查点文件读取")
                            } else {
                                ""
                            };
                            lang.pick(
                                format!(
                                    "; its own high watermark, to which it truncates, was {hw} (since {}{how}){leader}",
                                    secs(since)
                                ),
                                format!("；它截断到的自身高水位是 {hw}（自 {}{how}）{leader}", secs(since)),
                            )
                        }
                        _ => String::new(),
                    };
                    lines.push(at(lang.pick(
                        format!(
                            "{} truncates {tp} to offset {to_offset} ({reason}), removing it (offset {o}, epoch {epoch}){own}",
                            broker(*b)
                        ),
                        format!(
                            "{} 把 {tp} 截断到位移 {to_offset}（{reason}），删除了它（位移 {o}，纪元 {epoch}）{own}",
                            broker(*b)
                        ),
                    )));
                }
            }
            Event::LogStartAdvanced { tp, broker: b, is_leader: true, log_start_offset, removed, reason }
                if **tp == *focus.key && removed.iter().any(|&(o, v, _)| is_it(o, v)) =>
            {
                facts.expired.push((*b, e.time_ns, *reason));
                lines.push(at(lang.pick(
                    format!(
                        "leader {} deletes it with its old segment ({reason}); the log now starts at offset {log_start_offset}",
                        broker(*b)
                    ),
                    format!(
                        "领导者 {} 把它连同旧日志段一起删除（{reason}）；日志现在从位移 {log_start_offset} 开始",
                        broker(*b)
                    ),
                )));
            }
            Event::PartitionDeleted { tp, broker: b } if **tp == *focus.key && holders.remove(b) => {
                facts.deleted.push((*b, e.time_ns));
                lines.push(at(lang.pick(
                    format!("{} deletes {tp} and its log: the topic was deleted", broker(*b)),
                    format!("{} 删除了 {tp} 及其日志：主题已被删除", broker(*b)),
                )));
            }
            Event::LogLoaded { tp, broker: b, records, .. }
                if **tp == *focus.key && holders.contains(b) && !records.iter().any(|&(o, v, _)| is_it(o, v)) =>
            {
                holders.remove(b);
                facts.lost_on_load.push((*b, e.time_ns));
                let end = records.last().map_or(0, |r| r.0 + 1);
                lines.push(at(lang.pick(
                    format!(
                        "{} starts with a log from disk that ends at offset {end}: the record was never flushed and is gone",
                        broker(*b)
                    ),
                    format!("{} 以磁盘上止于位移 {end} 的日志启动：这条消息从未刷盘，已经丢失", broker(*b)),
                )));
            }
            _ => {}
        }
    }
    offsets
}

/// ` on broker-1, broker-2`, or nothing for a fault without targets.
fn on(targets: &[String], lang: Lang) -> String {
    if targets.is_empty() {
        String::new()
    } else {
        lang.pick(format!(" on {}", targets.join(", ")), format!("，作用于 {}", targets.join(", ")))
    }
}

/// Faults, elections, leader changes and topic events of the partition while the story
/// unfolds.
fn context(
    history: &History,
    key: Option<&str>,
    offsets: &BTreeSet<u64>,
    (start, end): (u64, u64),
    lang: Lang,
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
        state.apply(&e);
        match &e.event {
            Event::Fault { kind: FaultKind::Reorder, .. } if e.time_ns <= end => {
                facts.reordering_since = Some(e.time_ns)
            }
            Event::FaultEnded { kind: FaultKind::Reorder, .. } if e.time_ns < start => facts.reordering_since = None,
            _ => {}
        }
        if !(start..=end).contains(&e.time_ns) {
            continue;
        }
        let text = match &e.event {
            Event::Fault { kind, targets, detail } => {
                facts.faults.push((e.time_ns, *kind, targets.clone()));
                lang.pick(
                    format!("fault: {kind}{} ({detail})", on(targets, lang)),
                    format!("故障：{kind}{}（{detail}）", on(targets, lang)),
                )
            }
            Event::FaultEnded { kind, targets, detail } => lang.pick(
                format!("fault over: {kind}{} ({detail})", on(targets, lang)),
                format!("故障结束：{kind}{}（{detail}）", on(targets, lang)),
            ),
            Event::LeaderElection { tp, leader, leader_epoch, isr, unclean, reason, .. } if ours(tp) => {
                if *unclean {
                    facts.unclean_epochs.push(*leader_epoch);
                }
                match leader {
                    Some(l) if *reason == ElectionReason::TopicCreation => lang.pick(
                        format!(
                            "the controller creates {tp} with {} as leader in epoch {leader_epoch} (ISR {isr:?})",
                            broker(*l)
                        ),
                        format!("控制器创建 {tp}，以 {} 为纪元 {leader_epoch} 的领导者（ISR {isr:?}）", broker(*l)),
                    ),
                    Some(l) => lang.pick(
                        format!(
                            "the controller elects {} leader of {tp} in epoch {leader_epoch}{} ({reason}; ISR {isr:?})",
                            broker(*l),
                            if *unclean { ", an unclean election from outside the ISR" } else { "" }
                        ),
                        format!(
                            "控制器在纪元 {leader_epoch} 中选举 {} 为 {tp} 的领导者{}（{reason}；ISR {isr:?}）",
                            broker(*l),
                            if *unclean { "，这是从 ISR 之外进行的非干净选举" } else { "" }
                        ),
                    ),
                    None => lang.pick(
                        format!("the controller finds no replica to lead {tp} ({reason}): the partition is offline"),
                        format!("控制器找不到可以领导 {tp} 的副本（{reason}）：分区离线"),
                    ),
                }
            }
            Event::BecomeLeader { tp, broker: b, leader_epoch, log_end_offset, .. } if ours(tp) => {
                facts.new_leaders.push((e.time_ns, *b, *leader_epoch, *log_end_offset));
                let versus = match at_offset {
                    Some(o) if *log_end_offset <= o => {
                        lang.pick(format!(", without offset {o}"), format!("，没有位移 {o}"))
                    }
                    Some(o) => lang.pick(format!(", holding offset {o}"), format!("，持有位移 {o}")),
                    None => String::new(),
                };
                lang.pick(
                    format!(
                        "{} becomes leader of {tp} in epoch {leader_epoch} with log end offset {log_end_offset}{versus}",
                        broker(*b)
                    ),
                    format!(
                        "{} 在纪元 {leader_epoch} 中成为 {tp} 的领导者，日志末端位移为 {log_end_offset}{versus}",
                        broker(*b)
                    ),
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
                let led = leader
                    .map(|l| lang.pick(format!("leader {}, ", broker(l)), format!("领导者 {}，", broker(l))))
                    .unwrap_or_default();
                lang.pick(
                    format!(
                        "a new controller ({}) loads the state of {tp} from the metadata store as the previous controller left it: {led}epoch {leader_epoch}, ISR {isr:?}",
                        e.node
                    ),
                    format!(
                        "新控制器（{}）从元数据存储中读取前任控制器留下的 {tp} 状态：{led}纪元 {leader_epoch}，ISR {isr:?}",
                        e.node
                    ),
                )
            }
            Event::IsrChange { tp, isr, .. } if ours(tp) => {
                lang.pick(format!("the ISR of {tp} becomes {isr:?}"), format!("{tp} 的 ISR 变为 {isr:?}"))
            }
            Event::TopicAdmin { kind, topic, partitions, error } if of_topic(topic) => {
                let what = match kind {
                    TopicEventKind::AddPartitions => lang.pick(
                        format!("grows {topic} to {partitions} partitions (CreatePartitions): keys may hash elsewhere"),
                        format!("把 {topic} 扩到 {partitions} 个分区（CreatePartitions）：键可能被哈希到别的分区"),
                    ),
                    TopicEventKind::DeleteTopic => lang.pick(
                        format!("deletes {topic} (DeleteTopics): its partitions and their records go"),
                        format!("删除 {topic}（DeleteTopics）：它的分区和其中的消息随之消失"),
                    ),
                    TopicEventKind::CreateTopic | TopicEventKind::Subscribe | TopicEventKind::Rewind => lang.pick(
                        format!("creates {topic} with {partitions} partitions (CreateTopics)"),
                        format!("创建有 {partitions} 个分区的 {topic}（CreateTopics）"),
                    ),
                };
                match error {
                    None => lang.pick(format!("an administrator {what}"), format!("管理员{what}")),
                    Some(error) => lang.pick(
                        format!("an administrator's request refused with {error}: it {what}"),
                        format!("管理员的请求被以 {error} 拒绝：它本要{what}"),
                    ),
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
        lines.push(Line {
            time_ns: last_ns,
            text: lang.pick(
                format!("(and {left} more faults and leader changes until then)"),
                format!("（到那时为止另有 {left} 次故障与领导者变更）"),
            ),
        });
    }
}

/// The partition's (or, without one, every partition's) leadership and faults in a
/// window, for anomalies without a record value (hw-regression, commit-regression,
/// split-ownership, no-progress).
pub(crate) fn partition_story(history: &History, key: Option<&str>, window: (u64, u64), lang: Lang) -> Life {
    let mut lines = Vec::new();
    let mut facts = Facts::default();
    context(history, key, &BTreeSet::new(), window, lang, &mut lines, &mut facts);
    for e in history.trace.iter().filter(|e| (window.0..=window.1).contains(&e.time_ns)) {
        if let Event::HighWatermark { tp, broker: b, is_leader: true, leader_epoch, old, new } = &e.event {
            if key.is_none_or(|k| k == &**tp) && new < old {
                lines.push(Line {
                    time_ns: e.time_ns,
                    text: lang.pick(
                        format!(
                            "the high watermark on leader {} goes back from {old} to {new} in epoch {leader_epoch}",
                            broker(*b)
                        ),
                        format!("领导者 {} 上的高水位在纪元 {leader_epoch} 中从 {old} 退回到 {new}", broker(*b)),
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

/// The Chinese name of a group protocol's epoch (`GroupProtocol::epoch_name`).
fn epoch_name_zh(protocol: crate::protocol::GroupProtocol) -> &'static str {
    match protocol {
        crate::protocol::GroupProtocol::Classic => "代（generation）",
        crate::protocol::GroupProtocol::Consumer => "成员纪元（member epoch）",
    }
}
