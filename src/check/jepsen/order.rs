//! Whether each process moves through a key's log in order, between successive ops of
//! one process (Jepsen's `poll-skip+nonmonotonic-cases` and `nonmonotonic-send-cases`:
//! `poll-skip`, `nonmonotonic-poll`, `nonmonotonic-send`) and within one op (Jepsen's
//! `int-poll-skip+nonmonotonic-cases` and `int-send-skip+nonmonotonic-cases`:
//! `int-poll-skip`, `int-nonmonotonic-poll`, `int-send-skip`, `int-nonmonotonic-send`).
//! All steps are measured in the version order's dense index (see the module above).
//!
//! Within one op, polls are judged as Jepsen does for every `poll` and `txn` op. Sends are
//! judged as Jepsen does for `txn` ops only: a `send` op with several sends is
//! kafkasim's asynchronous producer's window of independent, pipelined `send()` calls,
//! not one unit, so two of its sends that went backwards are a `nonmonotonic-send` like
//! two successive ops' sends, and a skip between them is not reported (Jepsen does not
//! report skips between a process's sends either).

use super::analysis::{op_reads, op_writes, Analysis, Completion, VersionOrder};
use crate::check::describe::{capitalize, offset_ranges, process, sample, secs};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{Op, OpFn, OpType, OpValue};
use std::collections::BTreeMap;

/// Jepsen's rule for `assign` and `subscribe`: the process keeps its position only on the
/// keys the op names; any other key starts afresh. A value other than a key list (a
/// malformed op) names no keys.
///
/// A group member's ops (with a group context) say more, and are read so: `revoke` and
/// `lose` end the member's hold on the keys they name (a later assignment of them starts
/// from the committed offset); an `assign` in a new generation keeps the positions of
/// the keys it names, as a partition kept through a cooperative rebalance is consumed on
/// from where it was (an eager member revoked everything first); an `assign` repeated in
/// the member's generation (it moved back to its committed offsets) starts every key
/// afresh.
#[derive(Default)]
struct AssignmentChanges {
    /// Per process, the generation of its last group `assign`.
    generations: BTreeMap<u64, u32>,
}

impl AssignmentChanges {
    /// Applies `op` (`assign`, `subscribe`, `revoke` or `lose`) to its process's positions.
    fn apply<T>(&mut self, positions: &mut BTreeMap<&str, T>, op: &Op) {
        let named = |k: &&str| match &op.value {
            OpValue::Keys(keys) => keys.iter().any(|named| named == *k),
            _ => false,
        };
        match (op.f, &op.group) {
            (OpFn::Revoke | OpFn::Lose, _) => positions.retain(|k, _| !named(k)),
            (OpFn::Assign, Some(ctx)) => {
                if self.generations.insert(op.process, ctx.generation) == Some(ctx.generation) {
                    positions.clear();
                } else {
                    positions.retain(|k, _| named(k));
                }
            }
            _ => positions.retain(|k, _| named(k)),
        }
    }
}

/// Whether an `assign`/`subscribe` completion changed the assignment: Jepsen counts `ok`
/// and `info` (it may have happened), not `fail`.
fn may_have_happened(c: &Completion<'_>) -> bool {
    matches!(c.kind, OpType::Ok | OpType::Info)
}

/// `poll` or `txn`, as the op calls itself.
fn op_name(op: &Op) -> &'static str {
    if op.f == OpFn::Txn {
        "txn"
    } else {
        op.f.as_str()
    }
}

/// Two successive observations of one key by one process: `from` then `to`, each an op
/// (index into the analysis) and the `(offset, value)` it read or sent. When both come
/// from the same op the step is internal.
#[derive(Clone, Copy)]
struct Step<'k> {
    key: &'k str,
    from_at: usize,
    from: (u64, u64),
    to_at: usize,
    to: (u64, u64),
}

impl Step<'_> {
    fn internal(&self) -> bool {
        self.from_at == self.to_at
    }
}

/// The poll-order anomalies of a history.
#[derive(Default)]
pub(super) struct PollOrder {
    /// `poll-skip` anomalies, in history order.
    pub skips: Vec<Anomaly>,
    /// `nonmonotonic-poll` anomalies, in history order.
    pub nonmonotonic: Vec<Anomaly>,
    /// `int-poll-skip` anomalies, in history order.
    pub int_skips: Vec<Anomaly>,
    /// `int-nonmonotonic-poll` anomalies, in history order.
    pub int_nonmonotonic: Vec<Anomaly>,
}

/// Where a process last read a key: its last `ok` op reading the key, and the last
/// record that op returned for it (none if it returned no records).
#[derive(Clone, Copy)]
struct Position {
    at: usize,
    last: Option<(u64, u64)>,
}

/// Jepsen's poll checks. Between ops: for each process and key, the first record a poll
/// or txn returns (whatever its completion type) is compared with the last record of
/// the process's previous `ok` op that read the key; only `ok` ops move the position.
/// A step of more than one index skipped records (`poll-skip`); a step of less than one
/// went backwards or repeated (`nonmonotonic-poll`). Within an op (any completion type):
/// each pair of successive records of a key is compared the same way (`int-poll-skip`,
/// `int-nonmonotonic-poll`).
pub(super) fn poll_order(a: &Analysis<'_>) -> PollOrder {
    let mut found = PollOrder::default();
    let mut positions: BTreeMap<u64, BTreeMap<&str, Position>> = BTreeMap::new();
    let mut changes = AssignmentChanges::default();
    for (i, c) in a.ops.iter().enumerate() {
        let process_positions = positions.entry(c.op.process).or_default();
        match c.op.f {
            OpFn::Assign | OpFn::Subscribe | OpFn::Revoke | OpFn::Lose if may_have_happened(c) => {
                changes.apply(process_positions, c.op)
            }
            // A rewind (a seek) moves the process's position on the keys it names on
            // purpose: its next poll of them starts afresh.
            OpFn::Rewind if may_have_happened(c) => {
                if let OpValue::Rewind(rewind) = &c.op.value {
                    process_positions.retain(|key, _| !rewind.partitions.contains_key(*key));
                }
            }
            OpFn::Poll | OpFn::Txn => {
                let reads = op_reads(c.op);
                for (&key, pairs) in &reads {
                    // A key no op sent to nor read from has no order: nothing to judge.
                    let Some(order) = a.orders.get(key) else { continue };
                    let previous = process_positions.get(key).and_then(|p| p.last.map(|last| (p.at, last)));
                    if let (Some((from_at, from)), Some(&to)) = (previous, pairs.first()) {
                        let delta = order.delta(from.1, to.1);
                        found.judge(a, order, Step { key, from_at, from, to_at: i, to }, delta);
                    }
                    // Each record's place in the order is looked up once: a step compares
                    // it with the one before (`VersionOrder::delta` on each pair).
                    let mut before: Option<((u64, u64), Option<usize>)> = None;
                    for &to in pairs {
                        let to_index = order.index_of(to.1);
                        if let Some((from, from_index)) = before {
                            let delta = VersionOrder::places_between(from_index, to_index);
                            found.judge(a, order, Step { key, from_at: i, from, to_at: i, to }, delta);
                        }
                        before = Some((to, to_index));
                    }
                }
                if c.kind == OpType::Ok {
                    for (key, pairs) in reads {
                        process_positions.insert(key, Position { at: i, last: pairs.last().copied() });
                    }
                }
            }
            _ => {}
        }
    }
    found
}

impl PollOrder {
    /// Files a step of `delta` dense places in `order` (the step's key's) under the
    /// anomaly it shows, if any.
    fn judge(&mut self, a: &Analysis<'_>, order: &VersionOrder, step: Step<'_>, delta: i64) {
        if delta > 1 {
            let skipped = order.between(step.from.1, step.to.1);
            let anomaly = poll_skip(a, step, skipped, order.offset_of(step.to.1));
            if step.internal() { &mut self.int_skips } else { &mut self.skips }.push(anomaly);
        } else if delta < 1 {
            let anomaly = nonmonotonic_poll(a, step);
            if step.internal() { &mut self.int_nonmonotonic } else { &mut self.nonmonotonic }.push(anomaly);
        }
    }
}

/// The two records at the ends of a step, attributed to their ops.
fn step_records(a: &Analysis<'_>, step: Step<'_>, from_note: &str, to_note: &str) -> (RecordRef, RecordRef) {
    let (from_offset, from_value) = step.from;
    let (to_offset, to_value) = step.to;
    let from = RecordRef::new(step.key, Some(from_offset), Some(from_value), from_note).seen_in(a.op(step.from_at).op);
    let to = RecordRef::new(step.key, Some(to_offset), Some(to_value), to_note).seen_in(a.op(step.to_at).op);
    (from, to)
}

/// Describes a poll that skipped `skipped` (`(offset, value)` in log order); `to_stands_at`
/// is the offset the step's second value stands at in the version order.
fn poll_skip(a: &Analysis<'_>, step: Step<'_>, skipped: &[(u64, u64)], to_stands_at: Option<u64>) -> Anomaly {
    let (from_c, to_c) = (a.op(step.from_at), a.op(step.to_at));
    let what = skipped_phrase(step.key, skipped);
    let description = if step.internal() {
        format!(
            "One {} by {} at {} read {} offset {} then offset {}, skipping {what}.",
            op_name(to_c.op),
            process(to_c.op.process),
            secs(to_c.op.time_ns),
            step.key,
            step.from.0,
            step.to.0
        )
    } else {
        format!(
            "{} skipped {what} between its {} at {}, which ended at offset {}, and its {} at {}, which began at offset {}.",
            capitalize(&process(to_c.op.process)),
            op_name(from_c.op),
            secs(from_c.op.time_ns),
            step.from.0,
            op_name(to_c.op),
            secs(to_c.op.time_ns),
            step.to.0
        )
    };
    // A value written twice stands at its last copy in the order (Jepsen's version order
    // keeps one place per value), so a poll that read its first copy looks to have
    // jumped to the last: say so, or the offsets read contradict the offsets skipped.
    let description = match to_stands_at.filter(|&at| at != step.to.0) {
        Some(at) => format!(
            "{description} Value {} was written twice, and the log's order counts a value at its last copy (offset {at}), so reading its copy at offset {} counts as a jump to offset {at}.",
            step.to.1, step.to.0
        ),
        None => description,
    };
    let (from, to) = step_records(a, step, "polled just before the skip", "polled just after the skip");
    let mut records = vec![from];
    records.extend(skipped.iter().map(|&(o, v)| RecordRef::new(step.key, Some(o), Some(v), "skipped").subject()));
    records.push(to);
    let kind = if step.internal() { AnomalyKind::IntPollSkip } else { AnomalyKind::PollSkip };
    Anomaly::new(kind, description, records)
}

/// `2 records of x (offsets 2-3, values 12, 13)` / `1 record of x (offset 1, value 11)`.
fn skipped_phrase(key: &str, skipped: &[(u64, u64)]) -> String {
    let offsets = offset_ranges(skipped.iter().map(|(o, _)| *o));
    let values = sample(&skipped.iter().map(|(_, v)| *v).collect::<Vec<_>>(), 8);
    match skipped.len() {
        1 => format!("1 record of {key} (offset {offsets}, value {values})"),
        n => format!("{n} records of {key} (offsets {offsets}, values {values})"),
    }
}

/// Describes a poll that went backwards or read the same record again.
fn nonmonotonic_poll(a: &Analysis<'_>, step: Step<'_>) -> Anomaly {
    let (from_c, to_c) = (a.op(step.from_at), a.op(step.to_at));
    let ((from_offset, from_value), (to_offset, to_value)) = (step.from, step.to);
    let description = if step.internal() {
        format!(
            "One {} by {} at {} read {} offset {from_offset} (value {from_value}) and then offset {to_offset} \
             (value {to_value}), which is not after it in the log.",
            op_name(to_c.op),
            process(to_c.op.process),
            secs(to_c.op.time_ns),
            step.key
        )
    } else {
        format!(
            "{}'s {} at {} began {} at offset {to_offset} (value {to_value}), which is not after offset \
             {from_offset} (value {from_value}) where its previous {} at {} ended.",
            capitalize(&process(to_c.op.process)),
            op_name(to_c.op),
            secs(to_c.op.time_ns),
            step.key,
            op_name(from_c.op),
            secs(from_c.op.time_ns)
        )
    };
    let (from, to) = step_records(a, step, "polled first", "polled next, not after it");
    let kind = if step.internal() { AnomalyKind::IntNonmonotonicPoll } else { AnomalyKind::NonmonotonicPoll };
    Anomaly::new(kind, description, vec![from, to])
}

/// Jepsen's send checks. Between ops: for each process and key, over `ok` and `info`
/// completions only, the first value a send or txn sends is compared with the last value
/// the process's previous such op sent to the key; a step of less than one index in the
/// version order is `nonmonotonic-send`, and skips are normal (other producers
/// interleave) and not reported. Within an op (any completion): each pair of successive
/// sends to a key; in a `txn` op a step of less than one is `int-nonmonotonic-send` and
/// of more than one `int-send-skip`, in a `send` op (independent sends, see the module
/// docs) a step of less than one is `nonmonotonic-send`. Values without a place in the
/// version order (unacknowledged, never polled) are never out of order. In history order.
pub(super) fn send_order(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let mut last_sends: BTreeMap<u64, BTreeMap<&str, (usize, u64)>> = BTreeMap::new();
    let mut changes = AssignmentChanges::default();
    for (i, c) in a.ops.iter().enumerate() {
        let between_ops = may_have_happened(c);
        let process_sends = last_sends.entry(c.op.process).or_default();
        match c.op.f {
            OpFn::Assign | OpFn::Subscribe | OpFn::Revoke | OpFn::Lose if between_ops => {
                changes.apply(process_sends, c.op)
            }
            OpFn::Send | OpFn::Txn => {
                let writes = op_writes(c.op);
                for (&key, sends) in &writes {
                    let values: Vec<u64> = sends.iter().map(|s| s.value).collect();
                    let previous = if between_ops { process_sends.get(key).copied() } else { None };
                    if let (Some((from_at, from)), Some(&to)) = (previous, values.first()) {
                        out.extend(judge_send(a, key, (from_at, from), (i, to)));
                    }
                    for pair in values.windows(2) {
                        out.extend(judge_send(a, key, (i, pair[0]), (i, pair[1])));
                    }
                }
                if between_ops {
                    for (key, sends) in writes {
                        if let Some(last) = sends.last() {
                            process_sends.insert(key, (i, last.value));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The anomaly, if any, of a step from `from` to `to` (op, value) among the sends to
/// `key`: backwards is `nonmonotonic-send` (`int-nonmonotonic-send` within a `txn` op),
/// a skip within a `txn` op is `int-send-skip`.
fn judge_send(
    a: &Analysis<'_>,
    key: &str,
    (from_at, from): (usize, u64),
    (to_at, to): (usize, u64),
) -> Option<Anomaly> {
    let order = a.orders.get(key)?;
    let delta = order.delta(from, to);
    let in_txn = from_at == to_at && a.op(to_at).op.f == OpFn::Txn;
    if delta == 1 || (delta > 1 && !in_txn) {
        return None;
    }
    let (from_offset, to_offset) = (order.offset_of(from)?, order.offset_of(to)?);
    let step = Step { key, from_at, from: (from_offset, from), to_at, to: (to_offset, to) };
    if delta > 1 {
        return Some(int_send_skip(a, step, order.between(from, to)));
    }
    let (from_c, to_c) = (a.op(from_at), a.op(to_at));
    let description = if step.internal() {
        format!(
            "One {} by {} at {} sent value {from} to {key}, which landed at offset {from_offset}, and then value \
             {to}, which landed at offset {to_offset}, not after it.",
            op_name(to_c.op),
            process(to_c.op.process),
            secs(to_c.op.time_ns)
        )
    } else {
        format!(
            "{}'s {} at {} of value {to} to {key} landed at offset {to_offset}, which is not after offset \
             {from_offset} where its previous {} at {} (value {from}) landed.",
            capitalize(&process(to_c.op.process)),
            op_name(to_c.op),
            secs(to_c.op.time_ns),
            op_name(from_c.op),
            secs(from_c.op.time_ns)
        )
    };
    let (from_record, to_record) = step_records(a, step, "sent first", "sent next, landed not after it");
    let kind = if in_txn { AnomalyKind::IntNonmonotonicSend } else { AnomalyKind::NonmonotonicSend };
    Some(Anomaly::new(kind, description, vec![from_record, to_record]))
}

/// Describes two sends of one transaction to one key with other records between them.
fn int_send_skip(a: &Analysis<'_>, step: Step<'_>, between: &[(u64, u64)]) -> Anomaly {
    let c = a.op(step.to_at);
    let ((from_offset, from), (to_offset, to)) = (step.from, step.to);
    let description = format!(
        "One txn by {} at {} sent value {from} to {}, which landed at offset {from_offset}, and then value {to}, \
         which landed at offset {to_offset}, with {} between them (other producers' writes interleave with a \
         transaction's).",
        process(c.op.process),
        secs(c.op.time_ns),
        step.key,
        skipped_phrase(step.key, between)
    );
    let (from_record, to_record) = step_records(a, step, "sent first", "sent next, further on");
    let mut records = vec![from_record];
    records.extend(between.iter().map(|&(o, v)| RecordRef::new(step.key, Some(o), Some(v), "in between").subject()));
    records.push(to_record);
    Anomaly::new(AnomalyKind::IntSendSkip, description, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};

    /// `(offset, value)` of every record of every anomaly.
    fn records(anomalies: &[Anomaly]) -> Vec<Vec<(u64, u64)>> {
        anomalies
            .iter()
            .map(|x| x.records.iter().map(|r| (r.offset.unwrap_or(999), r.value.unwrap_or(999))).collect())
            .collect()
    }

    fn sends(h: &crate::history::History) -> Vec<Anomaly> {
        send_order(&Analysis::new(h))
    }

    /// Offsets 0..=4 of `x` hold values 10..=14, as a writer saw them acknowledged.
    fn log_of_five() -> Hist {
        (0..5).fold(Hist::new(), |h, o| h.send_ok(0, "x", o, 10 + o))
    }

    #[test]
    fn a_consumer_jumping_over_records_between_polls_is_a_poll_skip() {
        let h = log_of_five().poll_ok(1, &[("x", &[(0, 10), (1, 11)])]).poll_ok(1, &[("x", &[(4, 14)])]).build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.nonmonotonic.is_empty());
        assert_eq!(found.skips.len(), 1);
        assert_eq!(found.skips[0].kind, AnomalyKind::PollSkip);
        assert_eq!(records(&found.skips), vec![vec![(1, 11), (2, 12), (3, 13), (4, 14)]]);
        assert_eq!(
            found.skips[0].description,
            "Process 1 skipped 2 records of x (offsets 2-3, values 12, 13) between its poll at 1.200 s, which ended \
             at offset 1, and its poll at 1.400 s, which began at offset 4."
        );
    }

    #[test]
    fn a_skip_across_an_assign_elsewhere_is_not_a_poll_skip() {
        let h = log_of_five()
            .poll_ok(1, &[("x", &[(0, 10)])])
            .assign(1, &["y"])
            .assign(1, &["x", "y"])
            .poll_ok(1, &[("x", &[(3, 13)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty() && found.nonmonotonic.is_empty());
    }

    #[test]
    fn a_rewind_across_a_subscribe_to_other_keys_is_not_nonmonotonic() {
        let h = log_of_five()
            .poll_ok(1, &[("x", &[(2, 12), (3, 13)])])
            .subscribe(1, &["y"])
            .poll_ok(1, &[("x", &[(0, 10)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty() && found.nonmonotonic.is_empty());
    }

    #[test]
    fn an_assign_that_keeps_the_key_keeps_the_position() {
        let h =
            log_of_five().poll_ok(1, &[("x", &[(0, 10)])]).assign(1, &["x"]).poll_ok(1, &[("x", &[(3, 13)])]).build();
        assert_eq!(records(&poll_order(&Analysis::new(&h)).skips), vec![vec![(0, 10), (1, 11), (2, 12), (3, 13)]]);
    }

    #[test]
    fn a_group_members_new_generation_restarts_its_positions_but_skips_within_one_still_count() {
        // The member revokes x (eager), generation 2 hands it back and the member resumes
        // from the committed offset 1: a rewind, not nonmonotonic. Within generation 2 it
        // then jumps from 1 to 4.
        let h = log_of_five()
            .member(1, "g", "m-1", 1)
            .assign(1, &["x"])
            .poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 12)])])
            .revoke(1, &["x"])
            .member(1, "g", "m-1", 2)
            .assign(1, &["x"])
            .poll_ok(1, &[("x", &[(1, 11)])])
            .poll_ok(1, &[("x", &[(4, 14)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.nonmonotonic.is_empty(), "{:?}", found.nonmonotonic);
        assert_eq!(records(&found.skips), vec![vec![(1, 11), (2, 12), (3, 13), (4, 14)]]);
    }

    #[test]
    fn a_partition_kept_through_a_cooperative_rebalance_keeps_its_position() {
        // x is kept from generation 1 to 2 (no revoke): going back to offset 1 is a
        // nonmonotonic poll; y was lost in between and starts afresh.
        let h = log_of_five()
            .member(1, "g", "m-1", 1)
            .assign(1, &["x", "y"])
            .poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 12)]), ("y", &[(0, 20), (1, 21)])])
            .lose(1, &["y"])
            .member(1, "g", "m-1", 2)
            .assign(1, &["x", "y"])
            .poll_ok(1, &[("x", &[(1, 11)]), ("y", &[(0, 20)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        let keys: Vec<&str> = found.nonmonotonic.iter().map(|a| a.records[0].key.as_str()).collect();
        assert_eq!(keys, vec!["x"], "{:?}", found.nonmonotonic);
        // The same assignment recorded again in one generation (the member moved back to
        // its committed offsets) starts every key afresh.
        let h = log_of_five()
            .member(1, "g", "m-1", 1)
            .assign(1, &["x"])
            .poll_ok(1, &[("x", &[(0, 10), (1, 11), (2, 12)])])
            .assign(1, &["x"])
            .poll_ok(1, &[("x", &[(1, 11)])])
            .build();
        assert!(poll_order(&Analysis::new(&h)).nonmonotonic.is_empty());
    }

    #[test]
    fn gaps_in_offsets_nobody_observed_are_not_skips() {
        // Offsets 1-2 were never observed (e.g. transaction markers): the dense order has no gap.
        let h = Hist::new().poll_ok(1, &[("x", &[(0, 10)])]).poll_ok(1, &[("x", &[(3, 13)])]).build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty() && found.nonmonotonic.is_empty());
    }

    #[test]
    fn a_skip_within_one_poll_is_an_int_poll_skip() {
        let h = log_of_five().poll_ok(1, &[("x", &[(0, 10), (2, 12)])]).build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty() && found.nonmonotonic.is_empty() && found.int_nonmonotonic.is_empty());
        assert_eq!(found.int_skips[0].kind, AnomalyKind::IntPollSkip);
        assert_eq!(records(&found.int_skips), vec![vec![(0, 10), (1, 11), (2, 12)]]);
        assert_eq!(
            found.int_skips[0].description,
            "One poll by process 1 at 1.200 s read x offset 0 then offset 2, skipping 1 record of x (offset 1, value 11)."
        );
    }

    #[test]
    fn a_consumer_rereading_between_polls_is_nonmonotonic() {
        let h =
            log_of_five().poll_ok(1, &[("x", &[(0, 10), (1, 11)])]).poll_ok(1, &[("x", &[(1, 11), (2, 12)])]).build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty());
        assert_eq!(found.nonmonotonic.len(), 1);
        assert_eq!(found.nonmonotonic[0].kind, AnomalyKind::NonmonotonicPoll);
        assert_eq!(records(&found.nonmonotonic), vec![vec![(1, 11), (1, 11)]]);
        assert_eq!(
            found.nonmonotonic[0].description,
            "Process 1's poll at 1.400 s began x at offset 1 (value 11), which is not after offset 1 (value 11) \
             where its previous poll at 1.200 s ended."
        );
    }

    #[test]
    fn a_poll_going_backwards_within_one_txn_is_int_nonmonotonic() {
        let h =
            log_of_five().txn(1, OpType::Ok, &[M::Poll(&[("x", &[(3, 13)])]), M::Poll(&[("x", &[(1, 11)])])]).build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.nonmonotonic.is_empty() && found.skips.is_empty() && found.int_skips.is_empty());
        assert_eq!(found.int_nonmonotonic[0].kind, AnomalyKind::IntNonmonotonicPoll);
        assert_eq!(records(&found.int_nonmonotonic), vec![vec![(3, 13), (1, 11)]]);
        assert!(found.int_nonmonotonic[0].description.starts_with("One txn by process 1"));
    }

    #[test]
    fn reads_in_order_within_one_op_are_no_int_anomaly() {
        let h = log_of_five()
            .txn(1, OpType::Ok, &[M::Poll(&[("x", &[(0, 10), (1, 11)])]), M::Poll(&[("x", &[(2, 12)])])])
            .poll_ok(2, &[("x", &[(3, 13), (4, 14)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.int_skips.is_empty() && found.int_nonmonotonic.is_empty());
    }

    #[test]
    fn rereading_after_a_new_process_or_a_failed_poll_is_monotonic() {
        // A failed poll does not move the position; a different process has its own.
        let h = log_of_five()
            .poll_fail(1, &[("x", &[(0, 10), (1, 11)])])
            .poll_ok(1, &[("x", &[(0, 10)])])
            .poll_ok(2, &[("x", &[(0, 10)])])
            .build();
        let found = poll_order(&Analysis::new(&h));
        assert!(found.skips.is_empty() && found.nonmonotonic.is_empty());
    }

    #[test]
    fn a_producer_whose_later_send_lands_earlier_is_nonmonotonic() {
        let h = Hist::new().send_ok(0, "x", 5, 10).send_ok(0, "x", 3, 11).build();
        let found = sends(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::NonmonotonicSend);
        assert_eq!(records(&found), vec![vec![(5, 10), (3, 11)]]);
        assert_eq!(
            found[0].description,
            "Process 0's send at 0.400 s of value 11 to x landed at offset 3, which is not after offset 5 where its \
             previous send at 0.200 s (value 10) landed."
        );
    }

    #[test]
    fn two_sends_within_one_txn_going_backwards_are_int_nonmonotonic() {
        let h = Hist::new().txn(0, OpType::Ok, &[M::Send("x", Some(4), 10), M::Send("x", Some(2), 11)]).build();
        let found = sends(&h);
        assert_eq!(records(&found), vec![vec![(4, 10), (2, 11)]]);
        assert_eq!(found[0].kind, AnomalyKind::IntNonmonotonicSend);
        assert_eq!(
            found[0].description,
            "One txn by process 0 at 0.200 s sent value 10 to x, which landed at offset 4, and then value 11, which \
             landed at offset 2, not after it."
        );
    }

    #[test]
    fn two_sends_within_one_send_op_going_backwards_are_nonmonotonic_send() {
        // kafkasim's asynchronous producer: one op, independent sends.
        let h = Hist::new().sends(0, OpType::Ok, &[M::Send("x", Some(4), 10), M::Send("x", Some(2), 11)]).build();
        let found = sends(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::NonmonotonicSend);
        assert!(found[0].description.starts_with("One send by process 0"), "{}", found[0].description);
    }

    #[test]
    fn a_txn_whose_sends_have_other_records_between_them_is_an_int_send_skip() {
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 10), M::Send("x", Some(2), 12)])
            .send_ok(1, "x", 1, 11)
            .build();
        let found = sends(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::IntSendSkip);
        assert_eq!(records(&found), vec![vec![(0, 10), (1, 11), (2, 12)]]);
        assert_eq!(
            found[0].description,
            "One txn by process 0 at 0.200 s sent value 10 to x, which landed at offset 0, and then value 12, which \
             landed at offset 2, with 1 record of x (offset 1, value 11) between them (other producers' writes \
             interleave with a transaction's)."
        );
    }

    #[test]
    fn consecutive_sends_of_one_txn_and_skips_in_a_send_op_are_no_anomaly() {
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 10), M::Send("x", Some(1), 11)])
            .sends(2, OpType::Ok, &[M::Send("x", Some(2), 12), M::Send("x", Some(4), 14)])
            .send_ok(1, "x", 3, 13)
            .build();
        assert!(sends(&h).is_empty());
    }

    #[test]
    fn sends_from_different_processes_or_after_a_failure_are_not_nonmonotonic() {
        let h = Hist::new()
            .send_ok(0, "x", 5, 10)
            .send_ok(1, "x", 3, 11)
            .send_fail(1, "x", 12)
            .send_ok(1, "x", 6, 13)
            .build();
        assert!(sends(&h).is_empty());
    }
}
