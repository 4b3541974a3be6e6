//! `delivered-early` and `delivered-late`: whether a delay queue (`[[delay_queues]]`)
//! forwarded each record of its tiers neither before its due time nor too long after it.
//! Not Jepsen's; kafkasim's own. Losses and copies in the target are the other checkers'
//! (`exactly-once` for a record forwarded twice, or skipped while later ones were
//! forwarded; `duplicate` for a value twice in one target partition), except a record
//! never forwarded at all, which is late.
//!
//! - **Tier records.** A send (in a `send` or `txn` op) whose invocation carries a
//!   `delay` ([`RecordDelay`]): its record is due `due_after_ms` after its timestamp and
//!   late once `late_after_ms` have passed after it. The timestamp (the producer's create
//!   time, set when the producer took the record) is not in the history; it lies between
//!   the invocation (in whole milliseconds, as Kafka's timestamps are) and the completion
//!   that acknowledged the send (or, for a send whose outcome is unknown, the first poll
//!   that read the record). A record that was neither acknowledged nor read may never
//!   have been written, and is not judged.
//! - **Forwards.** A send of a tier record's value to another key, by any process (values
//!   name records: kafkasim's are unique per run). The send lies between its op's
//!   invocation and completion; a send op's forward took effect when its completion
//!   carries the send's offset (acknowledged), a `txn` op's when the transaction
//!   committed (`ok`); it failed when the op failed (refused, aborted); otherwise its
//!   outcome is unknown. Forwards are read from the completion, where pipelines record
//!   their sends, else from the invocation.
//! - **`delivered-early`**: a forward that took effect completed before the record's
//!   earliest due time: the target held the record (acknowledged, or committed for
//!   `read_committed` readers) before it was due.
//! - **`delivered-late`**: the record's latest deadline (latest timestamp plus
//!   `late_after_ms`) passed before the history's last op, and no forward of it that may
//!   have taken effect had been invoked by then: it was certainly not in the target in
//!   time. A record whose deadline is past the end of the run is not judged.
//!
//! Both bounds are taken so that neither anomaly is reported unless it certainly
//! happened; a record forwarded within the uncertainty (a few milliseconds for a
//! synchronous send) is not reported either way.

use super::describe::{process, secs};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{History, MicroOp, Op, OpFn, OpType, RecordDelay};
use std::collections::{BTreeMap, BTreeSet};

const NS_PER_MS: u64 = 1_000_000;

/// The `delivered-early` and `delivered-late` anomalies of a history, tier records in
/// history order.
pub fn check(history: &History) -> Vec<Anomaly> {
    let ops = &history.ops;
    let pairs = send_ops(ops);
    let tier = tier_records(&pairs, ops);
    if tier.is_empty() {
        return Vec::new();
    }
    let end_ns = ops.iter().map(|o| o.time_ns).max().unwrap_or(0);
    let forwards = forwards(&pairs, &tier);
    let mut out = Vec::new();
    for record in &tier {
        let Some(created_hi_ns) = record.created_hi_ns else { continue };
        let of_record = forwards.get(&record.value).map_or(&[][..], Vec::as_slice);
        let due_lo_ns = record.created_lo_ns + record.delay.due_after_ms * NS_PER_MS;
        if let Some(early) = of_record.iter().find(|f| f.effect == Effect::Landed && f.done_ns < due_lo_ns) {
            out.push(delivered_early(record, due_lo_ns, early));
        }
        let deadline_ns = created_hi_ns + record.delay.late_after_ms * NS_PER_MS;
        let in_time = |f: &Forward<'_>| f.effect != Effect::Failed && f.invoked_ns <= deadline_ns;
        if deadline_ns < end_ns && !of_record.iter().any(in_time) {
            out.push(delivered_late(record, deadline_ns, of_record.iter().find(|f| f.effect != Effect::Failed)));
        }
    }
    out
}

/// The tier records a delay queue has not yet forwarded, as `(key, value)`: those
/// acknowledged to their producers at an offset above every record of their partition
/// that a forward took effect for. The liveness phase waits for none to be left before
/// its final drain reads the target. A forwarder reads each tier partition in order and
/// moves on only from what it committed, so a forward of a later record that took effect
/// means this one was forwarded too, perhaps in a transaction whose outcome the history
/// does not show (its process crashed while committing it).
pub fn unforwarded(ops: &[Op]) -> Vec<(String, u64)> {
    let pairs = send_ops(ops);
    let tier = tier_records(&pairs, ops);
    let forwards = forwards(&pairs, &tier);
    let took_effect = |value: u64| forwards.get(&value).is_some_and(|f| f.iter().any(|f| f.effect == Effect::Landed));
    let mut forwarded_to: BTreeMap<&str, u64> = BTreeMap::new();
    for record in tier.iter().filter(|r| took_effect(r.value)) {
        if let Some(offset) = record.offset {
            let end = forwarded_to.entry(record.key).or_insert(offset);
            *end = (*end).max(offset);
        }
    }
    let behind = |r: &TierRecord<'_>| forwarded_to.get(r.key).is_none_or(|&end| r.offset.is_some_and(|o| o > end));
    tier.iter().filter(|r| r.acknowledged && behind(r)).map(|r| (r.key.to_string(), r.value)).collect()
}

/// A `send` or `txn` op: its invocation and, if it completed, its completion.
struct SendOp<'a> {
    invoke: &'a Op,
    done: Option<&'a Op>,
}

/// Every `send` and `txn` invocation with its completion (a process has one op
/// outstanding at a time), in history order.
fn send_ops(ops: &[Op]) -> Vec<SendOp<'_>> {
    let mut out: Vec<SendOp<'_>> = Vec::new();
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    for op in ops.iter().filter(|o| o.f.writes()) {
        if op.kind == OpType::Invoke {
            pending.insert(op.process, out.len());
            out.push(SendOp { invoke: op, done: None });
        } else if let Some(at) = pending.remove(&op.process).filter(|&at| out[at].invoke.f == op.f) {
            out[at].done = Some(op);
        }
    }
    out
}

/// A record written to a delay queue's tier.
struct TierRecord<'a> {
    /// Its partition (the send's key).
    key: &'a str,
    value: u64,
    /// Its offset, if acknowledged.
    offset: Option<u64>,
    delay: RecordDelay,
    /// Whether its producer was told it is written.
    acknowledged: bool,
    /// The earliest its timestamp can be: its send's invocation, in whole milliseconds.
    created_lo_ns: u64,
    /// The latest its timestamp can be (its acknowledgement, or the first poll that read
    /// it); `None` when it may never have been written.
    created_hi_ns: Option<u64>,
    /// The invocation of its send.
    sent_in: &'a Op,
}

/// Every send whose invocation carries a delay, with what is known of its timestamp.
fn tier_records<'a>(pairs: &[SendOp<'a>], ops: &'a [Op]) -> Vec<TierRecord<'a>> {
    let mut out = Vec::new();
    for pair in pairs {
        let Some(delay) = pair.invoke.delay else { continue };
        for mop in pair.invoke.micro_ops() {
            let MicroOp::Send { key, value, .. } = mop else { continue };
            let offset = pair.done.and_then(|done| acknowledged_offset(done, *value));
            let acknowledged = offset.is_some() && pair.done.is_some_and(|d| d.f == OpFn::Send || d.kind == OpType::Ok);
            out.push(TierRecord {
                key,
                value: *value,
                offset,
                delay,
                acknowledged,
                created_lo_ns: pair.invoke.time_ns / NS_PER_MS * NS_PER_MS,
                created_hi_ns: acknowledged.then(|| pair.done.map(|d| d.time_ns)).flatten(),
                sent_in: pair.invoke,
            });
        }
    }
    // A record whose send's outcome is unknown was written if some poll read it.
    let unknown: BTreeSet<(&str, u64)> =
        out.iter().filter(|r| r.created_hi_ns.is_none()).map(|r| (r.key, r.value)).collect();
    if !unknown.is_empty() {
        let first_read = first_reads(ops, &unknown);
        for record in out.iter_mut().filter(|r| r.created_hi_ns.is_none()) {
            record.created_hi_ns = first_read.get(&(record.key, record.value)).copied();
        }
    }
    out
}

/// The offset a send op's completion reports for the send of `value`, if any.
fn acknowledged_offset(done: &Op, value: u64) -> Option<u64> {
    done.micro_ops().iter().find_map(|m| match m {
        MicroOp::Send { value: v, offset, .. } if *v == value => *offset,
        _ => None,
    })
}

/// When a poll first returned each of `wanted`.
fn first_reads<'a>(ops: &'a [Op], wanted: &BTreeSet<(&str, u64)>) -> BTreeMap<(&'a str, u64), u64> {
    let mut first = BTreeMap::new();
    for op in ops.iter().filter(|o| o.kind != OpType::Invoke) {
        for mop in op.micro_ops() {
            let MicroOp::Poll { records: Some(records) } = mop else { continue };
            for (key, pairs) in records {
                for &(_, value) in pairs {
                    if wanted.contains(&(key.as_str(), value)) {
                        first.entry((key.as_str(), value)).or_insert(op.time_ns);
                    }
                }
            }
        }
    }
    first
}

/// Whether a forward put the record in the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    /// Acknowledged, or committed with its transaction.
    Landed,
    /// Refused, or aborted with its transaction.
    Failed,
    /// Unknown.
    Unknown,
}

/// One send of a tier record's value to another key.
struct Forward<'a> {
    /// Where it went.
    key: &'a str,
    offset: Option<u64>,
    effect: Effect,
    /// When its op was invoked and completed (for an op that never completed, its
    /// invocation: nothing is known after it).
    invoked_ns: u64,
    done_ns: u64,
    /// The op that holds it (its completion, if any).
    op: &'a Op,
}

/// The forwards of each tier record's value, in history order.
fn forwards<'a>(pairs: &[SendOp<'a>], tier: &[TierRecord<'a>]) -> BTreeMap<u64, Vec<Forward<'a>>> {
    let home: BTreeMap<u64, &str> = tier.iter().map(|r| (r.value, r.key)).collect();
    let mut out: BTreeMap<u64, Vec<Forward<'a>>> = BTreeMap::new();
    for pair in pairs {
        let op = pair.done.unwrap_or(pair.invoke);
        for mop in op.micro_ops() {
            let MicroOp::Send { key, value, offset } = mop else { continue };
            if home.get(value).is_none_or(|tier_key| *tier_key == &**key) {
                continue;
            }
            let effect = match (op.kind, op.f) {
                (OpType::Fail, _) => Effect::Failed,
                (OpType::Ok, OpFn::Txn) => Effect::Landed,
                (_, OpFn::Send) if offset.is_some() && op.kind != OpType::Invoke => Effect::Landed,
                _ => Effect::Unknown,
            };
            let forward =
                Forward { key, offset: *offset, effect, invoked_ns: pair.invoke.time_ns, done_ns: op.time_ns, op };
            out.entry(*value).or_default().push(forward);
        }
    }
    out
}

/// The tier record as a record of an anomaly.
fn tier_ref(record: &TierRecord<'_>, note: String) -> RecordRef {
    RecordRef::new(record.key, record.offset, Some(record.value), note).subject().seen_in(record.sent_in)
}

/// A forward as a record of an anomaly.
fn forward_ref(forward: &Forward<'_>, value: u64, note: &str) -> RecordRef {
    RecordRef::new(forward.key, forward.offset, Some(value), note).seen_in(forward.op)
}

/// A record in the target before it was due.
fn delivered_early(record: &TierRecord<'_>, due_ns: u64, early: &Forward<'_>) -> Anomaly {
    let description = format!(
        "{} value {} (sent at {} with a delay of {} ms, so due at {} at the earliest) was already in the target: \
         {} forwarded it to {} and {} at {}, {} ms before it was due.",
        record.key,
        record.value,
        secs(record.sent_in.time_ns),
        record.delay.due_after_ms,
        secs(due_ns),
        process(early.op.process),
        early.key,
        match early.op.f {
            OpFn::Txn => "committed the transaction",
            _ => "the send was acknowledged",
        },
        secs(early.done_ns),
        (due_ns - early.done_ns) / NS_PER_MS,
    );
    let records = vec![
        tier_ref(record, format!("sent to the tier, due at {} at the earliest", secs(due_ns))),
        forward_ref(early, record.value, "forwarded before it was due"),
    ];
    Anomaly::new(AnomalyKind::DeliveredEarly, description, records)
}

/// A record not forwarded by its deadline.
fn delivered_late(record: &TierRecord<'_>, deadline_ns: u64, first: Option<&Forward<'_>>) -> Anomaly {
    let after = match first {
        Some(f) => format!("its first forward that may have reached the target began at {}", secs(f.invoked_ns)),
        None => "it was never forwarded".to_string(),
    };
    let description = format!(
        "{} value {} (sent at {} with a delay of {} ms) should have been in the target by {} at the latest ({} ms \
         after its timestamp), but no forward of it had begun by then: {after}.",
        record.key,
        record.value,
        secs(record.sent_in.time_ns),
        record.delay.due_after_ms,
        secs(deadline_ns),
        record.delay.late_after_ms,
    );
    let mut records = vec![tier_ref(record, format!("sent to the tier, to be forwarded by {}", secs(deadline_ns)))];
    if let Some(f) = first {
        records.push(forward_ref(f, record.value, "forwarded after its deadline"));
    }
    Anomaly::new(AnomalyKind::DeliveredLate, description, records)
}

#[cfg(test)]
mod tests;
