//! `exactly-once`: whether a consume-transform-produce pipeline turned each input record
//! into exactly one output record. Not one of Jepsen's checks (Jepsen's Kafka workload
//! writes fresh values only); kafkasim's own, on the same analysis.
//!
//! - **Forward.** A send micro-op (in a `send` or `txn` op, of any completion type) of
//!   process P whose value P polled earlier from a different key: in an earlier micro-op
//!   of the same `txn` op, or in an earlier op of P (polls of any completion type, which
//!   returned what the log holds). When P polled the value from several keys, the most
//!   recent one counts. The key polled from is an *input key*, the key sent to one of
//!   its *output keys*; a pipeline of several stages has keys that are both.
//! - **Values must name their records.** Forwards are recognised by value, so values
//!   must be unique across keys, as kafkasim writes them. A history where one value was
//!   sent to two different keys other than by a forward (Jepsen's values are unique per
//!   key only, so a process that polled `y` value 5 and later sends `x` value 5 is no
//!   pipeline) gets no `exactly-once` analysis at all, nor does a history without
//!   forwards.
//! - **Copies.** For each value of an input key's version order (acknowledged or polled;
//!   values whose send failed are left to `G1a`), the expected number of output records
//!   is the number of offsets of the input key holding it (normally 1), and the number
//!   found is the number of distinct `(key, offset)` pairs of the input key's output
//!   keys where polls (of any completion type) saw it.
//! - **Anomalies.** One per input value: found more often than expected (the pipeline
//!   produced it again, e.g. re-forwarded after a crash before its offsets were
//!   committed), or less often although the output holds a value that comes later in
//!   the input key (the pipeline consumed past it, so missing it is no matter of time;
//!   kafkasim's runs end with a drain that reads every partition to its end). A value
//!   retention deleted from the input before anyone read it, or from the output before
//!   anyone read its copy there, is not reported missing.
//! - **Dead letters.** A value a pipeline gave up on (a `dead-letter` op names it) belongs
//!   in its dead-letter topic, not its output: it is left to the `dead-letter-*` checks
//!   ([`dead_letter`](super::dead_letter)). Its sends to the dead-letter topic are
//!   forwards all the same, so the dead-letter topic counts among the input's output
//!   keys here.

use super::analysis::{op_reads, Analysis};
use crate::check::describe::{offset_ranges, plural, process};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{MicroOp, Op, OpFn};
use std::collections::{BTreeMap, BTreeSet};

/// The keys a pipeline forwarded values between: input key → its output keys.
type Routes<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// Where polls saw a value in the output keys: `(key, offset)` → the first completion
/// (index into the analysis) that saw it there.
pub(super) type Copies<'a> = BTreeMap<(&'a str, u64), usize>;

/// One copy of a value in the output: `(key, offset)` and the first completion that
/// polled it there.
pub(super) type OutputCopy<'a> = ((&'a str, u64), usize);

/// The `exactly-once` anomalies of a history, input keys in order, values in log order.
pub(super) fn exactly_once(a: &Analysis<'_>) -> Vec<Anomaly> {
    let Some(routes) = routes(a) else { return Vec::new() };
    let outputs: BTreeSet<&str> = routes.values().flatten().copied().collect();
    let copies = output_copies(a, &outputs);
    let dead_lettered = super::dead_letter::dead_lettered(a);
    let mut out = Vec::new();
    for (&input, keys) in &routes {
        let skip = dead_lettered.get(input).map(|d| d.keys().copied().collect()).unwrap_or_default();
        out.extend(check_input(a, input, keys, &copies, &skip));
    }
    out
}

/// The pipeline's routes, or `None` when there is no forward or values do not name
/// their records (see the module docs).
pub(super) fn routes<'a>(a: &Analysis<'a>) -> Option<Routes<'a>> {
    let polls = |op: &Op| matches!(op.f, OpFn::Poll | OpFn::Txn);
    let sends = |op: &Op| matches!(op.f, OpFn::Send | OpFn::Txn);
    let readers: BTreeSet<u64> = a.ops.iter().filter(|c| polls(c.op)).map(|c| c.op.process).collect();
    let writers: BTreeSet<u64> = a.ops.iter().filter(|c| sends(c.op)).map(|c| c.op.process).collect();
    // Without a process that both polls and sends there is no forward.
    readers.intersection(&writers).next()?;
    // Value → the key a process polled it from last, per process that also sends.
    let mut polled: BTreeMap<u64, BTreeMap<u64, &'a str>> = BTreeMap::new();
    let mut routes: Routes<'a> = BTreeMap::new();
    // Value → the key it was sent to other than by a forward.
    let mut origin: BTreeMap<u64, &'a str> = BTreeMap::new();
    for c in &a.ops {
        let op: &'a Op = c.op;
        if !polls(op) && !sends(op) {
            continue;
        }
        let pipeline = readers.contains(&op.process) && writers.contains(&op.process);
        for mop in op.micro_ops() {
            match mop {
                MicroOp::Poll { records: Some(records) } if pipeline && polls(op) => {
                    let seen = polled.entry(op.process).or_default();
                    for (key, pairs) in records {
                        seen.extend(pairs.iter().map(|&(_, v)| (v, key.as_str())));
                    }
                }
                MicroOp::Send { key, value, .. } if sends(op) => {
                    let from = polled.get(&op.process).and_then(|seen| seen.get(value)).filter(|&&k| k != &**key);
                    match from {
                        Some(&input) => {
                            routes.entry(input).or_default().insert(key);
                        }
                        None => {
                            if origin.insert(*value, key).is_some_and(|k| k != &**key) {
                                return None;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    (!routes.is_empty()).then_some(routes)
}

/// Every `(key, offset)` of the output keys where a poll saw each value.
pub(super) fn output_copies<'a>(a: &Analysis<'a>, outputs: &BTreeSet<&str>) -> BTreeMap<u64, Copies<'a>> {
    let mut copies: BTreeMap<u64, Copies<'a>> = BTreeMap::new();
    for (i, c) in a.ops.iter().enumerate() {
        let op: &'a Op = c.op;
        for (key, pairs) in op_reads(op) {
            if outputs.contains(key) {
                for (offset, value) in pairs {
                    copies.entry(value).or_default().entry((key, offset)).or_insert(i);
                }
            }
        }
    }
    copies
}

/// One input value: its offsets in the input key and the dense index of the first.
pub(super) struct Input {
    /// The value.
    pub value: u64,
    /// The input key's offsets holding it (normally one).
    pub offsets: Vec<u64>,
    /// The dense index of the first of them in the input key's version order.
    pub first_index: usize,
}

/// The values of input key `input` in log order (values whose send failed are left to
/// `G1a`).
pub(super) fn inputs(a: &Analysis<'_>, input: &str) -> Vec<Input> {
    let Some(order) = a.orders.get(input) else { return Vec::new() };
    let failed = a.failed_writes.get(input);
    let mut inputs: BTreeMap<u64, Input> = BTreeMap::new();
    for (index, &(offset, ref values)) in order.log.iter().enumerate() {
        for observed in values {
            let v = observed.value;
            if failed.is_some_and(|f| f.contains(&v)) {
                continue;
            }
            inputs.entry(v).or_insert(Input { value: v, offsets: Vec::new(), first_index: index }).offsets.push(offset);
        }
    }
    let mut by_log: Vec<Input> = inputs.into_values().collect();
    by_log.sort_by_key(|i| (i.first_index, i.value));
    by_log
}

/// The copies of `value` in `outputs`.
pub(super) fn found_in<'a>(
    copies: &BTreeMap<u64, Copies<'a>>,
    outputs: &BTreeSet<&str>,
    value: u64,
) -> Vec<OutputCopy<'a>> {
    copies
        .get(&value)
        .map_or(Vec::new(), |c| c.iter().filter(|((k, _), _)| outputs.contains(k)).map(|(&ko, &at)| (ko, at)).collect())
}

/// The furthest of `inputs` (in log order) that is `forwarded`: the pipeline consumed
/// past everything before it.
pub(super) fn furthest(inputs: &[Input], forwarded: impl Fn(u64) -> bool) -> Option<&Input> {
    inputs.iter().rev().find(|i| forwarded(i.value))
}

/// The anomalies of one input key, but for the values in `dead_lettered`.
fn check_input(
    a: &Analysis<'_>,
    input: &str,
    outputs: &BTreeSet<&str>,
    copies: &BTreeMap<u64, Copies<'_>>,
    dead_lettered: &BTreeSet<u64>,
) -> Vec<Anomaly> {
    let inputs = inputs(a, input);
    let found = |v: u64| found_in(copies, outputs, v);
    let furthest = furthest(&inputs, |v| !found(v).is_empty());
    let mut out = Vec::new();
    for i in inputs.iter().filter(|i| !dead_lettered.contains(&i.value)) {
        let copies = found(i.value);
        if copies.len() > i.offsets.len() {
            out.push(duplicated(a, input, i, &copies));
        } else if copies.len() < i.offsets.len() && !deleted_by_retention(a, input, outputs, i.value) {
            if let Some(w) = furthest.filter(|w| w.first_index > i.first_index) {
                out.push(missing(a, input, outputs, (i, copies.len()), (w, &found(w.value))));
            }
        }
    }
    out
}

/// Whether retention deleted `value` from the input before anyone read it, or from an
/// output key before anyone read the copy there (a forwarded record that nobody read in
/// time is no missing forward).
pub(super) fn deleted_by_retention(a: &Analysis<'_>, input: &str, outputs: &BTreeSet<&str>, value: u64) -> bool {
    a.deleted_by_retention(input, value) || outputs.iter().any(|output| a.deleted_by_retention(output, value))
}

/// The input record as a record of an anomaly, attributed to its first observation.
pub(super) fn input_record(a: &Analysis<'_>, input: &str, i: &Input, note: &str) -> RecordRef {
    let offset = i.offsets[0];
    let record = RecordRef::new(input, Some(offset), Some(i.value), note).subject();
    match a.orders.get(input).and_then(|o| o.first_seen(offset, i.value)) {
        Some(obs) => record.seen_in(a.op(obs.at()).op),
        None => record,
    }
}

/// An input value the output holds more often than the input.
fn duplicated(a: &Analysis<'_>, input: &str, i: &Input, copies: &[OutputCopy<'_>]) -> Anomaly {
    let description = format!(
        "{input} value {} (offset {}) appears {} in the pipeline's output ({}), {}: each input record must be \
         forwarded exactly once.",
        i.value,
        offset_ranges(i.offsets.iter().copied()),
        plural(copies.len(), "time"),
        places(copies),
        match i.offsets.len() {
            1 => "though it is in the input once".to_string(),
            n => format!("though it is in the input {n} times"),
        }
    );
    let mut records = vec![input_record(a, input, i, "consumed by the pipeline")];
    records.extend(copies.iter().map(|&((key, offset), at)| {
        RecordRef::new(key, Some(offset), Some(i.value), "forwarded copy, polled").seen_in(a.op(at).op)
    }));
    Anomaly::new(AnomalyKind::ExactlyOnce, description, records)
}

/// An input value missing from the output although a later one of its key is there.
fn missing(
    a: &Analysis<'_>,
    input: &str,
    outputs: &BTreeSet<&str>,
    (i, found): (&Input, usize),
    (later, later_copies): (&Input, &[OutputCopy<'_>]),
) -> Anomaly {
    let ((out_key, out_offset), at) = later_copies[0];
    let reader = a.op(at);
    let outputs: Vec<&str> = outputs.iter().copied().collect();
    let how_often = match (found, i.offsets.len()) {
        (0, _) => "is missing from".to_string(),
        (n, expected) => format!("appears {} instead of {expected} in", plural(n, "time")),
    };
    let description = format!(
        "{input} value {} (offset {}) {how_often} the pipeline's output ({}), although the pipeline consumed past \
         it: {} polled the later {input} value {} (offset {}) from {out_key} at offset {out_offset}.",
        i.value,
        offset_ranges(i.offsets.iter().copied()),
        outputs.join(", "),
        process(reader.op.process),
        later.value,
        later.offsets[0],
    );
    let records = vec![
        input_record(a, input, i, "consumed, never forwarded"),
        RecordRef::new(out_key, Some(out_offset), Some(later.value), "a later input record, forwarded and polled")
            .seen_in(reader.op),
    ];
    Anomaly::new(AnomalyKind::ExactlyOnce, description, records)
}

/// Where copies are: `out-1 offsets 1, 3; out-2 offset 4`.
pub(super) fn places(copies: &[OutputCopy<'_>]) -> String {
    let mut grouped: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for &((key, offset), _) in copies {
        grouped.entry(key).or_default().push(offset);
    }
    let places: Vec<String> = grouped
        .into_iter()
        .map(|(key, offsets)| {
            format!("{key} offset{} {}", if offsets.len() == 1 { "" } else { "s" }, offset_ranges(offsets))
        })
        .collect();
    places.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        exactly_once(&Analysis::new(h))
    }

    /// A producer writes `in` values 10, 11 and 12; the pipeline (process 5) polls them.
    fn input() -> Hist {
        Hist::new().send_ok(0, "in", 0, 10).send_ok(0, "in", 1, 11).send_ok(0, "in", 2, 12)
    }

    #[test]
    fn an_at_least_once_pipeline_that_crashed_forwards_twice() {
        // Process 5 polls and forwards all three, crashes before committing; process 6
        // starts from the old committed offset 1 and forwards 11 and 12 again.
        let h = input()
            .poll_ok(5, &[("in", &[(0, 10), (1, 11), (2, 12)])])
            .sends(
                5,
                OpType::Ok,
                &[M::Send("out", Some(0), 10), M::Send("out", Some(1), 11), M::Send("out", Some(2), 12)],
            )
            .crash(5)
            .poll_ok(6, &[("in", &[(1, 11), (2, 12)])])
            .sends(6, OpType::Ok, &[M::Send("out", Some(3), 11), M::Send("out", Some(4), 12)])
            .poll_ok(9, &[("out", &[(0, 10), (1, 11), (2, 12), (3, 11), (4, 12)])])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|a| a.kind == AnomalyKind::ExactlyOnce));
        assert_eq!(
            found[0].description,
            "in value 11 (offset 1) appears 2 times in the pipeline's output (out offsets 1, 3), though it is in \
             the input once: each input record must be forwarded exactly once."
        );
        let r = &found[0].records;
        assert_eq!((r[0].key.as_str(), r[0].offset, r[0].value), ("in", Some(1), Some(11)));
        assert_eq!(r.iter().skip(1).map(|r| r.offset).collect::<Vec<_>>(), vec![Some(1), Some(3)]);
        assert_eq!(found[1].records[0].value, Some(12));
    }

    #[test]
    fn an_exactly_once_pipeline_in_transactions_has_no_anomaly() {
        // Each txn polls and forwards; the aborted first try of 11 left nothing in `out`.
        let h = input()
            .txn(5, OpType::Ok, &[M::Poll(&[("in", &[(0, 10)])]), M::Send("out", Some(0), 10)])
            .txn(5, OpType::Fail, &[M::Poll(&[("in", &[(1, 11)])]), M::Send("out", None, 11)])
            .txn(
                5,
                OpType::Ok,
                &[M::Poll(&[("in", &[(1, 11), (2, 12)])]), M::Send("out", Some(2), 11), M::Send("out", Some(3), 12)],
            )
            .poll_ok(9, &[("out", &[(0, 10), (2, 11), (3, 12)])])
            .build();
        assert_eq!(found(&h), vec![]);
    }

    #[test]
    fn a_record_the_pipeline_consumed_past_but_never_forwarded_is_missing() {
        let h = input()
            .txn(
                5,
                OpType::Ok,
                &[
                    M::Poll(&[("in", &[(0, 10), (1, 11), (2, 12)])]),
                    M::Send("out", Some(0), 10),
                    M::Send("out", Some(1), 12),
                ],
            )
            .poll_ok(9, &[("out", &[(0, 10), (1, 12)])])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].description,
            "in value 11 (offset 1) is missing from the pipeline's output (out), although the pipeline consumed \
             past it: process 9 polled the later in value 12 (offset 2) from out at offset 1."
        );
    }

    #[test]
    fn a_forward_retention_deleted_from_the_output_before_anyone_read_it_is_not_missing() {
        let forwarded = || {
            input().txn(
                5,
                OpType::Ok,
                &[
                    M::Poll(&[("in", &[(0, 10), (1, 11), (2, 12)])]),
                    M::Send("out", Some(0), 10),
                    M::Send("out", Some(1), 11),
                    M::Send("out", Some(2), 12),
                ],
            )
        };
        let expired = crate::history::Event::LogStartAdvanced {
            tp: "out".into(),
            broker: 1,
            is_leader: true,
            log_start_offset: 2,
            removed: vec![(0, 10, 0), (1, 11, 0)],
            reason: crate::history::LogStartReason::RetentionMs,
        };
        let h = forwarded().event("broker-1", expired).poll_ok(9, &[("out", &[(2, 12)])]).build();
        assert_eq!(found(&h), vec![]);
        // Without the deletion the same reads show 10 and 11 missing.
        let h = forwarded().poll_ok(9, &[("out", &[(2, 12)])]).build();
        assert_eq!(found(&h).len(), 2);
    }

    #[test]
    fn records_the_pipeline_has_not_reached_yet_are_not_missing() {
        let h = input()
            .txn(5, OpType::Ok, &[M::Poll(&[("in", &[(0, 10)])]), M::Send("out", Some(0), 10)])
            .poll_ok(9, &[("out", &[(0, 10)])])
            .build();
        assert_eq!(found(&h), vec![]);
    }

    #[test]
    fn a_history_without_forwards_has_no_exactly_once_anomaly() {
        let h = input().poll_ok(5, &[("in", &[(0, 10), (1, 11), (2, 12)])]).send_ok(5, "out", 0, 99).build();
        assert_eq!(found(&h), vec![]);
    }

    #[test]
    fn per_key_values_like_jepsens_are_not_taken_for_forwards() {
        // Process 1 polls y value 1 and later sends x value 1: a coincidence, since
        // process 0 also sent value 1 to both keys on its own.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 0), M::Send("y", Some(0), 1)])
            .txn(1, OpType::Ok, &[M::Poll(&[("y", &[(0, 1)])]), M::Send("x", Some(1), 1)])
            .txn(0, OpType::Ok, &[M::Send("z", Some(0), 1), M::Poll(&[("x", &[(0, 0), (1, 1)])])])
            .build();
        assert_eq!(found(&h), vec![]);
        // Without process 0's own send of 1 to z, the same history looks like a pipeline
        // y -> x that forwarded nothing twice: still no anomaly.
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("y", Some(0), 1)])
            .txn(1, OpType::Ok, &[M::Poll(&[("y", &[(0, 1)])]), M::Send("x", Some(0), 1)])
            .poll_ok(2, &[("x", &[(0, 1)])])
            .build();
        assert_eq!(found(&h), vec![]);
    }

    #[test]
    fn a_two_stage_pipeline_counts_each_stage_apart() {
        // a -> b by process 5, b -> c by process 6: value 10 is once in b and once in c.
        let h = Hist::new()
            .send_ok(0, "a", 0, 10)
            .txn(5, OpType::Ok, &[M::Poll(&[("a", &[(0, 10)])]), M::Send("b", Some(0), 10)])
            .txn(6, OpType::Ok, &[M::Poll(&[("b", &[(0, 10)])]), M::Send("c", Some(0), 10)])
            .poll_ok(9, &[("b", &[(0, 10)]), ("c", &[(0, 10)])])
            .build();
        assert_eq!(found(&h), vec![]);
    }
}
