//! `dead-letter-duplicate` and `dead-letter-lost`: whether a consume-transform-produce
//! pipeline with a dead-letter queue put each record it gave up on into its dead-letter
//! topic exactly once. kafkasim's own, on the analysis [`exactly_once`](super::exactly_once)
//! uses, whose routes and copies it shares: together the two checks say that every input
//! record is, in the end, either in the output or in the dead-letter topic, once.
//!
//! - **Dead letters.** A `dead-letter` `ok` op of process P names the input records
//!   (key, offset, value) P gave up processing: every attempt failed. A send micro-op of
//!   P (in a `send` or `txn` op of any completion type) of a value P dead-lettered from
//!   input key I, to a key other than I, is a *dead-letter send*. The keys the pipeline
//!   forwarded I's values to (see `exactly-once` for how forwards are recognised) are
//!   I's *output keys* when they received a value of I nobody dead-lettered, else its
//!   *dead-letter keys* when they received a dead-letter send.
//! - **Copies.** As for `exactly-once`: the distinct `(key, offset)` pairs of I's output
//!   and dead-letter keys where polls (of any completion type) saw the value. The final
//!   drain of a run with pipelines reads `read_committed`, so an aborted dead-letter send
//!   is no copy.
//! - **Anomalies.** One per dead-lettered value of I, in log order:
//!   `dead-letter-duplicate` when it has more copies than the input holds it (normally
//!   one): in the dead-letter topic twice, say, after a crash between the dead-letter
//!   send and the offset commit, or in both the dead-letter topic and the output;
//!   `dead-letter-lost` when it has fewer, although a later value of I has a copy (the
//!   pipeline consumed past it) and retention did not delete it from the input (or its
//!   copy from the dead-letter topic or the output) before anyone read it. Values nobody
//!   dead-lettered are `exactly-once`'s.
//! - **Not checked.** Whether a dead-lettered record deserved it: the history says which
//!   records the application gave up on, not which ones would have failed again (in
//!   kafkasim's model poison records fail at every attempt, so a record is dead-lettered
//!   only after failing `max_attempts` times).

use super::analysis::Analysis;
use super::exactly_once::{
    deleted_by_retention, found_in, furthest, input_record, inputs, output_copies, places, routes, Input, OutputCopy,
};
use crate::check::describe::{offset_ranges, plural, process, secs};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{MicroOp, Op, OpFn, OpType, OpValue};
use std::collections::{BTreeMap, BTreeSet};

/// Input key → dead-lettered value → the first `dead-letter` completion naming it (index
/// into the analysis).
pub(super) type DeadLettered<'a> = BTreeMap<&'a str, BTreeMap<u64, usize>>;

/// The values `dead-letter` ops named, by input key.
pub(super) fn dead_lettered<'a>(a: &Analysis<'a>) -> DeadLettered<'a> {
    let mut out: DeadLettered<'a> = BTreeMap::new();
    for (at, c) in a.ops.iter().enumerate() {
        for (key, value) in given_up(c.op, c.kind) {
            out.entry(key).or_default().entry(value).or_insert(at);
        }
    }
    out
}

/// The `(input key, value)` pairs an `ok` `dead-letter` op gave up on.
fn given_up(op: &Op, kind: OpType) -> impl Iterator<Item = (&str, u64)> + '_ {
    let records = match (&op.value, op.f, kind) {
        (OpValue::Records(records), OpFn::DeadLetter, OpType::Ok) => Some(records),
        _ => None,
    };
    records.into_iter().flatten().flat_map(|(key, pairs)| pairs.iter().map(move |&(_, v)| (key.as_str(), v)))
}

/// Input key → the keys its dead-lettered values were sent to by the processes that
/// gave up on them (dead-letter sends).
fn dead_letter_sends<'a>(a: &Analysis<'a>) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    let mut by_process: BTreeMap<u64, BTreeMap<u64, &'a str>> = BTreeMap::new();
    for c in &a.ops {
        by_process.entry(c.op.process).or_default().extend(given_up(c.op, c.kind).map(|(k, v)| (v, k)));
    }
    let mut keys: BTreeMap<&'a str, BTreeSet<&'a str>> = BTreeMap::new();
    for c in a.ops.iter().filter(|c| c.op.f.writes()) {
        let op: &'a Op = c.op;
        let Some(given_up) = by_process.get(&op.process) else { continue };
        for mop in op.micro_ops() {
            if let MicroOp::Send { key, value, .. } = mop {
                match given_up.get(value) {
                    Some(&input) if input != &**key => {
                        keys.entry(input).or_default().insert(key);
                    }
                    _ => {}
                }
            }
        }
    }
    keys
}

/// One input key's destinations: its dead-letter keys and its output keys.
struct Destinations<'a> {
    dead_letter: BTreeSet<&'a str>,
    output: BTreeSet<&'a str>,
}

impl<'a> Destinations<'a> {
    /// Splits the keys `forwarded` values of `input` went to (see the module docs).
    fn of(
        a: &Analysis<'a>,
        input: &str,
        forwarded: &BTreeSet<&'a str>,
        dead_letter_sends: Option<&BTreeSet<&'a str>>,
        not_dead_lettered: &BTreeMap<&'a str, BTreeSet<u64>>,
    ) -> Self {
        let order = a.orders.get(input);
        let of_input = |values: &BTreeSet<u64>| values.iter().any(|&v| order.is_some_and(|o| o.index_of(v).is_some()));
        let output: BTreeSet<&str> =
            forwarded.iter().copied().filter(|k| not_dead_lettered.get(k).is_some_and(of_input)).collect();
        let dead_letter = dead_letter_sends.into_iter().flatten().copied().filter(|k| !output.contains(k)).collect();
        Destinations { dead_letter, output }
    }

    fn all(&self) -> BTreeSet<&str> {
        self.dead_letter.union(&self.output).copied().collect()
    }

    /// `dlq-0, dlq-1` or `none seen`, for descriptions.
    fn list(keys: &BTreeSet<&str>) -> String {
        if keys.is_empty() {
            "none seen".to_string()
        } else {
            keys.iter().copied().collect::<Vec<_>>().join(", ")
        }
    }
}

/// The `dead-letter-duplicate` and `dead-letter-lost` anomalies of a history, input keys
/// in order, values in log order.
pub(super) fn dead_letters(a: &Analysis<'_>) -> Vec<Anomaly> {
    let dead = dead_lettered(a);
    if dead.is_empty() {
        return Vec::new();
    }
    // Without routes the values do not name their records, and copies mean nothing.
    let Some(routes) = routes(a) else { return Vec::new() };
    let dead_letter_sends = dead_letter_sends(a);
    let all_dead: BTreeSet<u64> = dead.values().flat_map(|values| values.keys().copied()).collect();
    // Key → the values sent there that nobody dead-lettered.
    let mut not_dead_lettered: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for c in a.ops.iter().filter(|c| c.op.f.writes()) {
        for mop in c.op.micro_ops() {
            match mop {
                MicroOp::Send { key, value, .. } if !all_dead.contains(value) => {
                    not_dead_lettered.entry(&**key).or_default().insert(*value);
                }
                _ => {}
            }
        }
    }
    let none = BTreeSet::new();
    let destinations: BTreeMap<&str, Destinations<'_>> = dead
        .keys()
        .map(|&input| {
            let forwarded = routes.get(input).unwrap_or(&none);
            let sends = dead_letter_sends.get(input);
            (input, Destinations::of(a, input, forwarded, sends, &not_dead_lettered))
        })
        .collect();
    let everywhere: BTreeSet<&str> = destinations.values().flat_map(|d| d.all()).collect();
    let copies = output_copies(a, &everywhere);
    let mut out = Vec::new();
    for (&input, given_up) in &dead {
        let to = &destinations[input];
        let all = to.all();
        let inputs = inputs(a, input);
        let found = |v: u64| found_in(&copies, &all, v);
        let furthest = furthest(&inputs, |v| !found(v).is_empty());
        for i in inputs.iter() {
            let Some(&gave_up_at) = given_up.get(&i.value) else { continue };
            let gave_up = gave_up_phrase(a, gave_up_at);
            let copies = found(i.value);
            if copies.len() > i.offsets.len() {
                out.push(duplicated(a, input, i, &gave_up, to, &copies));
            } else if copies.len() < i.offsets.len() && !deleted_by_retention(a, input, &all, i.value) {
                if let Some(w) = furthest.filter(|w| w.first_index > i.first_index) {
                    out.push(lost(a, input, (i, copies.len(), &gave_up), to, (w, &found(w.value))));
                }
            }
        }
    }
    out
}

/// `which process 5 gave up on at 0.600 s (processing failed 3 times: poison record)`.
fn gave_up_phrase(a: &Analysis<'_>, at: usize) -> String {
    let op = a.op(at).op;
    let why = op.error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default();
    format!("which {} gave up on at {}{why}", process(op.process), secs(op.time_ns))
}

/// A dead-lettered value with more copies than the input holds it.
fn duplicated(
    a: &Analysis<'_>,
    input: &str,
    i: &Input,
    gave_up: &str,
    to: &Destinations<'_>,
    copies: &[OutputCopy<'_>],
) -> Anomaly {
    let (dead, output): (Vec<OutputCopy<'_>>, Vec<OutputCopy<'_>>) =
        copies.iter().partition(|((key, _), _)| to.dead_letter.contains(key));
    let mut wheres = Vec::new();
    if !dead.is_empty() {
        wheres.push(format!("{} in the pipeline's dead-letter topic ({})", plural(dead.len(), "time"), places(&dead)));
    }
    if !output.is_empty() {
        wheres.push(format!("{} in its output ({})", plural(output.len(), "time"), places(&output)));
    }
    let description = format!(
        "{input} value {} (offset {}), {gave_up}, appears {}, though it is in the input {}: a record the \
         pipeline gave up on belongs in its dead-letter topic, once.",
        i.value,
        offset_ranges(i.offsets.iter().copied()),
        wheres.join(" and "),
        match i.offsets.len() {
            1 => "once".to_string(),
            n => format!("{n} times"),
        },
    );
    let mut records = vec![input_record(a, input, i, "dead-lettered by the pipeline")];
    records.extend(copies.iter().map(|&((key, offset), at)| {
        let note = if to.dead_letter.contains(key) { "dead-letter copy, polled" } else { "output copy, polled" };
        RecordRef::new(key, Some(offset), Some(i.value), note).seen_in(a.op(at).op)
    }));
    Anomaly::new(AnomalyKind::DeadLetterDuplicate, description, records)
}

/// A dead-lettered value with fewer copies than the input holds it, although a later
/// value of its input key has one.
fn lost(
    a: &Analysis<'_>,
    input: &str,
    (i, found, gave_up): (&Input, usize, &str),
    to: &Destinations<'_>,
    (later, later_copies): (&Input, &[OutputCopy<'_>]),
) -> Anomaly {
    let ((out_key, out_offset), at) = later_copies[0];
    let reader = a.op(at);
    let (dead_letter, output) = (Destinations::list(&to.dead_letter), Destinations::list(&to.output));
    let where_ = match (found, i.offsets.len()) {
        (0, _) => format!("is in neither the pipeline's dead-letter topic ({dead_letter}) nor its output ({output})"),
        (n, expected) => format!(
            "appears {} instead of {expected} in the pipeline's dead-letter topic ({dead_letter}) and its output \
             ({output}) together",
            plural(n, "time")
        ),
    };
    let description = format!(
        "{input} value {} (offset {}), {gave_up}, {where_}, although the pipeline consumed past it: {} polled the \
         later {input} value {} (offset {}) from {out_key} at offset {out_offset}.",
        i.value,
        offset_ranges(i.offsets.iter().copied()),
        process(reader.op.process),
        later.value,
        later.offsets[0],
    );
    let records = vec![
        input_record(a, input, i, "dead-lettered, never in the dead-letter topic"),
        RecordRef::new(out_key, Some(out_offset), Some(later.value), "a later input record, forwarded and polled")
            .seen_in(reader.op),
    ];
    Anomaly::new(AnomalyKind::DeadLetterLost, description, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::jepsen::exactly_once::exactly_once;
    use crate::check::testkit::{Hist, M};
    use crate::history::{History, OpType};

    fn found(h: &History) -> Vec<Anomaly> {
        dead_letters(&Analysis::new(h))
    }

    /// A producer writes `in` values 10, 14 and 15; 14 is poison. The pipeline forwards
    /// to `out` and dead-letters to `dlq`.
    fn input() -> Hist {
        Hist::new().send_ok(0, "in", 0, 10).send_ok(0, "in", 1, 14).send_ok(0, "in", 2, 15)
    }

    /// [`input`], and process 5's round: it polls the three, forwards 10, gives up on 14
    /// and dead-letters it, and forwards 15, every send acknowledged.
    fn first_round() -> Hist {
        let sends = [M::Send("out", Some(0), 10), M::Send("dlq", Some(0), 14), M::Send("out", Some(1), 15)];
        let polled = input().poll_ok(5, &[("in", &[(0, 10), (1, 14), (2, 15)])]);
        polled.dead_letter(5, &[("in", &[(1, 14)])]).sends(5, OpType::Ok, &sends)
    }

    #[test]
    fn an_at_least_once_pipeline_that_crashed_before_its_commit_dead_letters_twice() {
        // Process 5 crashes after its round, before committing; process 6 starts again
        // from offset 1.
        let h = first_round()
            .crash(5)
            .poll_ok(6, &[("in", &[(1, 14), (2, 15)])])
            .dead_letter(6, &[("in", &[(1, 14)])])
            .sends(6, OpType::Ok, &[M::Send("dlq", Some(1), 14), M::Send("out", Some(2), 15)])
            .poll_ok(9, &[("out", &[(0, 10), (1, 15), (2, 15)]), ("dlq", &[(0, 14), (1, 14)])])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::DeadLetterDuplicate);
        assert_eq!(
            found[0].description,
            "in value 14 (offset 1), which process 5 gave up on at 0.900 s (processing failed 3 times: poison \
             record), appears 2 times in the pipeline's dead-letter topic (dlq offsets 0-1), though it is in the \
             input once: a record the pipeline gave up on belongs in its dead-letter topic, once."
        );
        let r = &found[0].records;
        assert_eq!((r[0].key.as_str(), r[0].offset, r[0].value), ("in", Some(1), Some(14)));
        assert_eq!(
            r.iter().skip(1).map(|r| (r.key.as_str(), r.offset)).collect::<Vec<_>>(),
            [("dlq", Some(0)), ("dlq", Some(1))]
        );
        // The good record forwarded twice is exactly-once's, and the dead-lettered one is not.
        let copies = exactly_once(&Analysis::new(&h));
        assert_eq!(copies.iter().map(|a| a.records[0].value).collect::<Vec<_>>(), [Some(15)]);
    }

    #[test]
    fn a_dead_letter_send_in_an_aborted_transaction_is_no_copy() {
        // Process 5's transaction, dead-letter send included, is aborted; process 6 gives
        // up on 14 again and its transaction commits. The drain reads committed records.
        let h = input()
            .txn(5, OpType::Ok, &[M::Poll(&[("in", &[(0, 10)])]), M::Send("out", Some(0), 10)])
            .dead_letter(5, &[("in", &[(1, 14)])])
            .txn(5, OpType::Fail, &[M::Poll(&[("in", &[(1, 14), (2, 15)])]), M::Send("dlq", None, 14)])
            .crash(5)
            .dead_letter(6, &[("in", &[(1, 14)])])
            .txn(
                6,
                OpType::Ok,
                &[M::Poll(&[("in", &[(1, 14), (2, 15)])]), M::Send("dlq", Some(1), 14), M::Send("out", Some(2), 15)],
            )
            .poll_ok(9, &[("out", &[(0, 10), (2, 15)]), ("dlq", &[(1, 14)])])
            .build();
        assert_eq!(found(&h), vec![]);
        assert_eq!(exactly_once(&Analysis::new(&h)), vec![]);
    }

    #[test]
    fn a_record_both_dead_lettered_and_forwarded_is_a_duplicate() {
        // Process 5 gives up on 14; process 6 (processing that succeeds elsewhere, say)
        // forwards it to the output.
        let h = first_round()
            .poll_ok(6, &[("in", &[(1, 14)])])
            .sends(6, OpType::Ok, &[M::Send("out", Some(2), 14)])
            .poll_ok(9, &[("out", &[(0, 10), (1, 15), (2, 14)]), ("dlq", &[(0, 14)])])
            .build();
        let found = found(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].description.contains(
                "appears 1 time in the pipeline's dead-letter topic (dlq offset 0) and 1 time in its output (out \
                 offset 2)"
            ),
            "{}",
            found[0].description
        );
        let notes: Vec<&str> = found[0].records.iter().map(|r| r.note.as_str()).collect();
        assert_eq!(notes, ["dead-lettered by the pipeline", "dead-letter copy, polled", "output copy, polled"]);
    }

    #[test]
    fn a_dead_lettered_record_nowhere_though_the_pipeline_went_past_it_is_lost() {
        // The dead-letter send to dlq was lost (say acks=1 and a leader crash); 15 made it.
        let lost_send = |later_forwarded: bool| {
            let out: &[(u64, u64)] = if later_forwarded { &[(0, 10), (1, 15)] } else { &[(0, 10)] };
            first_round().poll_ok(9, &[("out", out), ("dlq", &[])]).build()
        };
        let found_lost = found(&lost_send(true));
        assert_eq!(found_lost.len(), 1, "{found_lost:?}");
        assert_eq!(found_lost[0].kind, AnomalyKind::DeadLetterLost);
        assert_eq!(
            found_lost[0].description,
            "in value 14 (offset 1), which process 5 gave up on at 0.900 s (processing failed 3 times: poison \
             record), is in neither the pipeline's dead-letter topic (dlq) nor its output (out), although the \
             pipeline consumed past it: process 9 polled the later in value 15 (offset 2) from out at offset 1."
        );
        // Until the pipeline has forwarded a later record, the record may still be on its way.
        assert_eq!(found(&lost_send(false)), vec![]);
    }

    #[test]
    fn without_dead_letter_ops_there_is_nothing_to_check() {
        // A send to `dlq` of a polled value is an ordinary forward, exactly-once's business.
        let h = input()
            .poll_ok(5, &[("in", &[(0, 10), (1, 14), (2, 15)])])
            .sends(
                5,
                OpType::Ok,
                &[M::Send("out", Some(0), 10), M::Send("dlq", Some(0), 14), M::Send("dlq", Some(1), 14)],
            )
            .poll_ok(9, &[("out", &[(0, 10)]), ("dlq", &[(0, 14), (1, 14)])])
            .build();
        assert_eq!(found(&h), vec![]);
        assert_eq!(exactly_once(&Analysis::new(&h)).len(), 1, "14 was forwarded twice");
    }
}
