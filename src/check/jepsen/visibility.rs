//! Whether what was sent became visible, and only that: `lost-write` (a committed send
//! that polls skipped although they read past it), `unseen` (an acknowledged send nobody
//! ever read) and `G1a` (a read of a send that failed).

use super::analysis::{op_reads, op_writes, who_when, Analysis, ByValue, Completion, VersionOrder};
use crate::check::describe::{capitalize, sample, secs};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{OpFn, OpType};
use std::collections::{BTreeMap, BTreeSet};

/// For each value of a key, the first and last dense index it appears at. A value
/// normally appears once; duplicates and conflicting offsets make the two differ.
fn value_spans(order: &VersionOrder) -> ByValue<(usize, usize)> {
    // Every log entry holds at least one value, so enumeration gives the dense index.
    let pairs: Vec<(u64, (usize, usize))> = order
        .log
        .iter()
        .enumerate()
        .flat_map(|(i, (_, values))| values.iter().map(move |o| (o.value, (i, i))))
        .collect();
    // A later appearance keeps the first index and moves the last one.
    ByValue::build_merging(pairs, |(_, last), (at, _)| *last = at)
}

/// Of the values `ok` polls read, the one whose first appearance is furthest into the
/// log (the smallest such value on a tie), with that index: everything before it must
/// have been read too.
fn highest_read(read: &ByValue<usize>, spans: &ByValue<(usize, usize)>) -> Option<(usize, u64)> {
    let mut best: Option<(usize, u64)> = None;
    for v in read.values() {
        if let Some(&(first, _)) = spans.get(&v) {
            if best.is_none_or(|(i, _)| first > i) {
                best = Some((first, v));
            }
        }
    }
    best
}

/// Jepsen's `lost-write-cases`. For each key, the bound is the highest first-index of any
/// value an `ok` poll read; the values whose last appearance is at or below the bound
/// should all have been read by some `ok` poll. Each one that was not is lost, if the op
/// that sent it must have committed (it is `ok`, or `info` with another value read) and
/// retention did not delete it.
/// One anomaly per lost value, keys in order, values in log order.
pub(super) fn lost_writes(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for (&key, read) in &a.ok_reads {
        let Some(order) = a.orders.get(key) else { continue };
        let spans = value_spans(order);
        let Some((bound, witness)) = highest_read(read, &spans) else { continue };
        let mut must_read: Vec<(usize, u64)> =
            spans.iter().filter(|(_, &(_, last))| last <= bound).map(|(v, &(_, last))| (last, v)).collect();
        must_read.sort_unstable();
        for (_, v) in must_read {
            if read.contains(&v) || a.deleted_by_retention(key, v) {
                continue;
            }
            let Some(&w) = a.writer_of.get(key).and_then(|m| m.get(&v)) else { continue };
            let writer = a.op(w);
            if a.send_committed(writer, key, v) {
                let lost_offset = order.by_index[spans.get(&v).expect("a value of the order").0].0;
                let witness_offset = order.by_index[bound].0;
                out.push(lost_write(a, key, (lost_offset, v), writer, (witness_offset, witness)));
            }
        }
    }
    out
}

/// Describes one lost write, with the `ok` poll that read past it as proof.
fn lost_write(
    a: &Analysis<'_>,
    key: &str,
    (offset, value): (u64, u64),
    writer: &Completion<'_>,
    (witness_offset, witness): (u64, u64),
) -> Anomaly {
    let sent = if a.send_acknowledged(writer, key, value) {
        a.acknowledgement(writer, key, Some(offset), value)
    } else {
        format!("sent by {} with unknown outcome (another value of that op was polled)", who_when(writer))
    };
    let mut records =
        vec![RecordRef::new(key, Some(offset), Some(value), format!("{sent}; never polled")).seen_in(writer.op)];
    let mut proof = format!("although polls read value {witness} at offset {witness_offset}");
    if let Some(reader) = a.ok_reads.get(key).and_then(|m| m.get(&witness)).map(|&r| a.op(r)) {
        proof = format!("although {} polled value {witness} at offset {witness_offset}", who_when(reader));
        records.push(
            RecordRef::new(key, Some(witness_offset), Some(witness), "polled, further in the log").seen_in(reader.op),
        );
    }
    Anomaly::new(
        AnomalyKind::LostWrite,
        format!("{key}: value {value} at offset {offset}, {sent}, was never polled, {proof}."),
        records,
    )
}

/// Jepsen's `unseen`: the values `ok` send/txn ops sent that no `ok` poll read, by the
/// end of the history, except those retention deleted. One anomaly per key listing them all, keys in order, values in
/// send order.
pub(super) fn unseen(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut unseen: BTreeMap<&str, Vec<UnseenSend>> = BTreeMap::new();
    let mut listed: BTreeSet<(&str, u64)> = BTreeSet::new();
    for (i, c) in a.ops.iter().enumerate() {
        if !matches!(c.kind, OpType::Ok | OpType::Info) {
            continue;
        }
        for (key, sends) in op_writes(c.op) {
            let read = a.ok_reads.get(key);
            for s in sends {
                if !a.send_acknowledged(c, key, s.value) || a.deleted_by_retention(key, s.value) {
                    continue;
                }
                if !read.is_some_and(|r| r.contains(&s.value)) && listed.insert((key, s.value)) {
                    unseen.entry(key).or_default().push(UnseenSend { value: s.value, offset: s.offset, at: i });
                }
            }
        }
    }
    unseen.into_iter().map(|(key, values)| unseen_key(a, key, &values)).collect()
}

/// An acknowledged send nobody read: its value, acknowledged offset and op.
#[derive(Clone, Copy)]
struct UnseenSend {
    value: u64,
    offset: Option<u64>,
    at: usize,
}

/// Describes the unseen values of one key.
fn unseen_key(a: &Analysis<'_>, key: &str, values: &[UnseenSend]) -> Anomaly {
    let phrases: Vec<String> = values
        .iter()
        .map(|&UnseenSend { value: v, offset, at }| {
            let acked = |o| a.leader_ack(a.op(at), key, o, v).map(|ack| format!("acknowledged by {ack}"));
            match offset {
                Some(o) => format!("value {v} at offset {o} ({})", acked(o).unwrap_or_else(|| who_when(a.op(at)))),
                None => format!("value {v} ({})", who_when(a.op(at))),
            }
        })
        .collect();
    let records = values
        .iter()
        .map(|&UnseenSend { value: v, offset, at }| {
            let note = match offset {
                Some(o) => format!("acknowledged at offset {o}; never polled"),
                None => "acknowledged; never polled".to_string(),
            };
            RecordRef::new(key, offset, Some(v), note).seen_in(a.op(at).op)
        })
        .collect();
    let count = match values.len() {
        1 => "1 acknowledged send was".to_string(),
        n => format!("{n} acknowledged sends were"),
    };
    // Records of a deleted topic went with it: say so, since nothing else will.
    let deletion = match a.topic_deleted_at(key) {
        Some(at_ns) => format!(" Its topic was deleted at {} (DeleteTopics), with every record in it.", secs(at_ns)),
        None => String::new(),
    };
    Anomaly::new(
        AnomalyKind::Unseen,
        format!("{key}: {count} never read by any poll: {}.{deletion}", sample(&phrases, 5)),
        records,
    )
}

/// Jepsen's `g1a-cases` (aborted read): an `ok` poll or txn read a value of a key that
/// a `fail`ed send/txn op sent to that key. One anomaly per poll op, key and value, in
/// history order.
pub(super) fn g1a(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for c in &a.ops {
        if c.kind != OpType::Ok || !matches!(c.op.f, OpFn::Poll | OpFn::Txn) {
            continue;
        }
        for (key, pairs) in op_reads(c.op) {
            let Some(failed) = a.failed_writes.get(key) else { continue };
            let mut reported = BTreeSet::new();
            for (offset, value) in pairs {
                if let Some(&w) = failed.get(&value) {
                    if reported.insert(value) {
                        out.push(aborted_read(key, (offset, value), c, a.op(w)));
                    }
                }
            }
        }
    }
    out
}

/// Jepsen's `precommitted-read-cases`: an op that polled a value it sent itself. One
/// anomaly per op (its first key, in key order, and the first such value in poll order),
/// whatever the op's outcome, as Jepsen reports it.
pub(super) fn precommitted_reads(a: &Analysis<'_>) -> Vec<Anomaly> {
    let mut out = Vec::new();
    for c in &a.ops {
        let reads = op_reads(c.op);
        let own_read = op_writes(c.op).into_iter().find_map(|(key, sent)| {
            let polled = reads.get(key)?;
            polled.iter().find(|(_, value)| sent.iter().any(|s| s.value == *value)).map(|&pair| (key, pair))
        });
        if let Some((key, (offset, value))) = own_read {
            out.push(Anomaly::new(
                AnomalyKind::PrecommittedRead,
                format!(
                    "{} polled value {value} from {key} at offset {offset}, which the same transaction sent: a \
                     transaction's records must stay invisible, to itself too, until it commits.",
                    capitalize(&who_when(c))
                ),
                vec![RecordRef::new(key, Some(offset), Some(value), "sent and polled in one transaction")
                    .seen_in(c.op)],
            ));
        }
    }
    out
}

/// Describes one aborted read.
fn aborted_read(key: &str, (offset, value): (u64, u64), reader: &Completion<'_>, writer: &Completion<'_>) -> Anomaly {
    let error = writer.op.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
    Anomaly::new(
        AnomalyKind::G1a,
        format!(
            "{} polled value {value} from {key} at offset {offset}, but the send of {value} by {} failed{error}.",
            capitalize(&who_when(reader)),
            who_when(writer)
        ),
        vec![
            RecordRef::new(key, None, Some(value), format!("send failed{error}")).seen_in(writer.op),
            RecordRef::new(key, Some(offset), Some(value), format!("polled at offset {offset}")).seen_in(reader.op),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};

    fn values(anomalies: &[Anomaly]) -> Vec<(Option<u64>, Option<u64>)> {
        anomalies.iter().map(|x| (x.records[0].offset, x.records[0].value)).collect()
    }

    #[test]
    fn a_lost_or_unseen_record_is_told_with_its_own_acknowledgement_when_the_trace_has_it() {
        let ack = |broker, base_offset| crate::history::Event::ProduceAcknowledged {
            tp: "x".into(),
            broker,
            leader_epoch: 0,
            acks: crate::protocol::Acks::All,
            base_offset,
            count: 1,
        };
        // The leader answered the batch of offset 1 at 0.400 s; the op completed at 0.500 s.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_invoke(0, "x", 11)
            .event("broker-1", ack(1, 1))
            .send_done(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        let a = Analysis::new(&h);
        let lost = lost_writes(&a);
        assert!(
            lost[0]
                .description
                .starts_with("x: value 11 at offset 1, acknowledged by broker-1 at 0.400 s to process 0,"),
            "{}",
            lost[0].description
        );
        let never_read = unseen(&a);
        assert!(
            never_read[0]
                .description
                .ends_with("value 11 at offset 1 (acknowledged by broker-1 at 0.400 s to process 0)."),
            "{}",
            never_read[0].description
        );
        // An acknowledgement outside the op (here after it completed) is another record's
        // (the offset was written again): the op's own time is told instead.
        let later = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .event("broker-2", ack(2, 1))
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        let lost = lost_writes(&Analysis::new(&later));
        assert!(lost[0].description.contains("acknowledged to process 0 at 0.400 s"), "{}", lost[0].description);
        // Within the op's window a second leader writes another record at the offset and
        // acknowledges it: the lost record's acknowledgement is the first leader's, whose
        // append held its value (acks1-leader-crash, seed 1).
        let append = |broker, leader_epoch, value| crate::history::Event::Append {
            tp: "x".into(),
            broker,
            as_leader: true,
            leader_epoch,
            base_offset: 1,
            values: smallvec::smallvec![value],
        };
        let second_ack = crate::history::Event::ProduceAcknowledged {
            tp: "x".into(),
            broker: 2,
            leader_epoch: 1,
            acks: crate::protocol::Acks::All,
            base_offset: 1,
            count: 1,
        };
        let overwritten = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_invoke(0, "x", 11)
            .event("broker-1", append(1, 0, 11))
            .event("broker-1", ack(1, 1))
            .event("broker-2", append(2, 1, 99))
            .event("broker-2", second_ack)
            .send_done(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        let lost = lost_writes(&Analysis::new(&overwritten));
        assert!(
            lost[0].description.starts_with("x: value 11 at offset 1, acknowledged by broker-1 at 0.500 s"),
            "{}",
            lost[0].description
        );
    }

    #[test]
    fn an_acknowledged_send_below_a_polled_offset_but_never_polled_is_lost() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        let found = lost_writes(&Analysis::new(&h));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::LostWrite);
        assert_eq!(values(&found), vec![(Some(1), Some(11))]);
        assert_eq!(found[0].records[1].value, Some(12));
        assert_eq!(
            found[0].description,
            "x: value 11 at offset 1, acknowledged to process 0 at 0.400 s, was never polled, \
             although process 1 at 0.800 s polled value 12 at offset 2."
        );
    }

    #[test]
    fn an_info_send_never_seen_is_not_lost() {
        // Value 11 went to offset 1 according to a failed poll, but its send is info and
        // none of its values were read by an ok poll: it may never have happened.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_info(0, "x", 11)
            .send_ok(0, "x", 2, 12)
            .poll_fail(1, &[("x", &[(1, 11)])])
            .poll_ok(1, &[("x", &[(0, 10), (2, 12)])])
            .build();
        assert!(lost_writes(&Analysis::new(&h)).is_empty());
    }

    #[test]
    fn an_info_txn_whose_other_send_was_read_is_lost() {
        let h = Hist::new()
            .txn(0, OpType::Info, &[M::Send("x", Some(0), 10), M::Send("y", Some(0), 20)])
            .send_ok(0, "x", 1, 11)
            .poll_ok(1, &[("x", &[(1, 11)]), ("y", &[(0, 20)])])
            .build();
        let found = lost_writes(&Analysis::new(&h));
        assert_eq!(values(&found), vec![(Some(0), Some(10))]);
        // Its transaction's outcome is unknown, but a read of its other value proves it
        // committed (Jepsen's must-have-committed).
        assert!(found[0].description.contains("another value of that op was polled"), "{}", found[0].description);
    }

    #[test]
    fn a_send_that_never_completed_and_was_never_read_is_neither_lost_nor_unseen() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_invoke(1, "x", 11)
            .send_ok(2, "x", 2, 12)
            .poll_fail(3, &[("x", &[(1, 11)])])
            .poll_ok(3, &[("x", &[(0, 10), (2, 12)])])
            .build();
        let a = Analysis::new(&h);
        assert!(lost_writes(&a).is_empty());
        assert!(unseen(&a).is_empty());
    }

    #[test]
    fn a_txn_that_never_completed_but_was_partly_read_can_lose_writes() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .txn_invoke(1, &[M::Send("x", None, 11), M::Send("y", None, 21)])
            .send_ok(2, "x", 2, 12)
            .poll_fail(3, &[("x", &[(1, 11)])])
            .poll_ok(3, &[("x", &[(0, 10), (2, 12)]), ("y", &[(0, 21)])])
            .build();
        let found = lost_writes(&Analysis::new(&h));
        assert_eq!(values(&found), vec![(Some(1), Some(11))]);
        assert!(found[0].description.contains("process 1 at 0.300 s (never completed) with unknown outcome"));
    }

    #[test]
    fn unseen_records_of_a_deleted_topic_say_it_was_deleted() {
        let h = Hist::new()
            .send_ok(0, "orders-0", 0, 10)
            .send_ok(0, "payments-0", 0, 20)
            .at_ms(2_000)
            .event("controller-1", crate::history::Event::TopicDeleted { topic: "orders".into() })
            .build();
        let found = unseen(&Analysis::new(&h));
        assert_eq!(found.len(), 2);
        assert!(
            found[0].description.ends_with("Its topic was deleted at 2.000 s (DeleteTopics), with every record in it."),
            "{}",
            found[0].description
        );
        assert!(!found[1].description.contains("deleted"), "payments was not: {}", found[1].description);
    }

    #[test]
    fn writes_after_the_highest_read_are_not_lost_but_are_unseen() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "y", 0, 20)
            .poll_ok(1, &[("x", &[(0, 10)])])
            .build();
        assert!(lost_writes(&Analysis::new(&h)).is_empty());
        let found = unseen(&Analysis::new(&h));
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].kind, AnomalyKind::Unseen);
        assert_eq!(
            found[0].records.iter().map(|r| (r.key.as_str(), r.offset, r.value)).collect::<Vec<_>>(),
            vec![("x", Some(1), Some(11))]
        );
        assert_eq!(found[1].records[0].key, "y");
        assert_eq!(
            found[0].description,
            "x: 1 acknowledged send was never read by any poll: value 11 at offset 1 (process 0 at 0.400 s)."
        );
    }

    #[test]
    fn info_sends_never_seen_and_sends_seen_by_any_ok_poll_are_not_unseen() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_info(0, "x", 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10)])])
            .poll_ok(2, &[("x", &[(2, 12)])])
            .build();
        assert!(unseen(&Analysis::new(&h)).is_empty());
    }

    #[test]
    fn only_ok_polls_make_a_send_seen() {
        let h = Hist::new().send_ok(0, "x", 0, 10).poll_fail(1, &[("x", &[(0, 10)])]).build();
        let found = unseen(&Analysis::new(&h));
        assert_eq!(values(&found), vec![(Some(0), Some(10))]);
    }

    #[test]
    fn reading_a_failed_send_is_g1a() {
        let h = Hist::new().send_fail(0, "x", 10).poll_ok(1, &[("x", &[(0, 10), (1, 10)])]).build();
        let found = g1a(&Analysis::new(&h));
        assert_eq!(found.len(), 1, "one report per poll, key and value");
        assert_eq!(found[0].kind, AnomalyKind::G1a);
        assert_eq!(found[0].records[1].offset, Some(0));
        assert_eq!(
            found[0].description,
            "Process 1 at 0.400 s polled value 10 from x at offset 0, but the send of 10 by process 0 at 0.200 s \
             failed (test-error)."
        );
    }

    #[test]
    fn reading_a_value_that_an_ok_op_sent_again_is_not_g1a() {
        // A pipeline's aborted transaction forwarded 10 to x, the next one forwarded it
        // again and committed: the read may be of the committed copy. Another key's
        // failed send of a value is no cover.
        let h = Hist::new()
            .send_fail(0, "x", 10)
            .send_ok(1, "x", 1, 10)
            .send_fail(0, "y", 11)
            .send_ok(1, "x", 2, 11)
            .poll_ok(2, &[("x", &[(0, 10), (1, 10), (2, 11)]), ("y", &[(0, 11)])])
            .build();
        let found = g1a(&Analysis::new(&h));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].records[1].offset, Some(0));
        assert_eq!(found[0].records[1].key, "y");
    }

    #[test]
    fn reading_an_info_send_or_failing_to_poll_a_failed_send_is_not_g1a() {
        let h = Hist::new()
            .send_info(0, "x", 10)
            .send_fail(0, "x", 11)
            .poll_ok(1, &[("x", &[(0, 10)])])
            .poll_fail(1, &[("x", &[(1, 11)])])
            .build();
        assert!(g1a(&Analysis::new(&h)).is_empty());
    }

    #[test]
    fn a_transaction_polling_its_own_send_is_a_precommitted_read_whatever_its_outcome() {
        // Process 0's txn sends 10 to x and polls it back: once per op, even with two keys
        // and two own values read (Jepsen reports an op's first case).
        let h = Hist::new()
            .txn(
                0,
                OpType::Ok,
                &[
                    M::Send("x", Some(0), 10),
                    M::Send("y", Some(0), 20),
                    M::Poll(&[("x", &[(0, 10)]), ("y", &[(0, 20)])]),
                ],
            )
            .txn(1, OpType::Fail, &[M::Send("x", None, 11), M::Poll(&[("x", &[(0, 10), (1, 11)])])])
            .build();
        let found = precommitted_reads(&Analysis::new(&h));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::PrecommittedRead);
        assert_eq!(
            found[0].description,
            "Process 0 at 0.200 s polled value 10 from x at offset 0, which the same transaction sent: a \
             transaction's records must stay invisible, to itself too, until it commits."
        );
        assert_eq!((found[1].records[0].offset, found[1].records[0].value), (Some(1), Some(11)));
    }

    #[test]
    fn reading_another_transactions_value_or_sending_without_reading_is_no_precommitted_read() {
        let h = Hist::new()
            .txn(0, OpType::Ok, &[M::Send("x", Some(0), 10), M::Poll(&[("y", &[(0, 10)])])])
            .txn(1, OpType::Ok, &[M::Send("x", Some(1), 11), M::Poll(&[("x", &[(0, 10)])])])
            .send_ok(2, "x", 2, 12)
            .poll_ok(2, &[("x", &[(2, 12)])])
            .build();
        assert!(precommitted_reads(&Analysis::new(&h)).is_empty(), "another key, another op, separate ops");
    }

    #[test]
    fn polls_of_keys_nobody_wrote_do_not_panic() {
        // Value 80 sits between two read values but nobody sent it: Jepsen throws, we skip.
        let h = Hist::new()
            .poll_ok(1, &[("ghost", &[(7, 70), (9, 90)])])
            .poll_fail(2, &[("ghost", &[(8, 80)])])
            .poll_ok(1, &[("empty", &[])])
            .build();
        let a = Analysis::new(&h);
        assert!(lost_writes(&a).is_empty());
        assert!(unseen(&a).is_empty());
        assert!(g1a(&a).is_empty());
    }
}

#[cfg(test)]
mod retention_tests {
    use crate::check::testkit::Hist;
    use crate::check::{check_all, AnomalyKind};
    use crate::history::{Event, LogStartReason, TruncationReason};

    /// A `log-start-advanced` event of x-0 on broker 1 that removed `removed`.
    fn log_start(reason: LogStartReason, start: u64, removed: &[(u64, u64)]) -> Event {
        Event::LogStartAdvanced {
            tp: "x".into(),
            broker: 1,
            is_leader: true,
            log_start_offset: start,
            removed: removed.iter().map(|&(o, v)| (o, v, 1)).collect(),
            reason,
        }
    }

    fn kinds(h: &crate::history::History) -> Vec<AnomalyKind> {
        check_all(h).iter().map(|a| a.kind).filter(|k| *k != AnomalyKind::PollSkip).collect()
    }

    #[test]
    fn records_retention_deleted_before_anyone_read_them_are_neither_lost_nor_unseen() {
        // A slow reader jumps from 10 to 13 after 11 and 12 expired; nobody read them.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .send_ok(0, "x", 3, 13)
            .poll_ok(1, &[("x", &[(0, 10)])])
            .event("broker-1", log_start(LogStartReason::RetentionMs, 3, &[(0, 10), (1, 11), (2, 12)]))
            .poll_ok(1, &[("x", &[(3, 13)])])
            .build();
        assert_eq!(kinds(&h), vec![]);
        let by_size = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .event("broker-2", log_start(LogStartReason::RetentionBytes, 1, &[(0, 10)]))
            .poll_ok(1, &[("x", &[(1, 11)])])
            .build();
        assert_eq!(kinds(&by_size), vec![]);
    }

    #[test]
    fn truncated_or_unreplicated_records_are_still_lost_beside_expired_ones() {
        // 11 was truncated away, 12 never reached the log: both lost; 10 expired.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .event(
                "broker-1",
                Event::Truncate {
                    tp: "x".into(),
                    broker: 1,
                    to_offset: 1,
                    removed: vec![(1, 11, 1)],
                    reason: TruncationReason::LeaderEpoch,
                },
            )
            .event("broker-1", log_start(LogStartReason::RetentionMs, 1, &[(0, 10)]))
            .send_ok(0, "x", 3, 13)
            .poll_ok(1, &[("x", &[(3, 13)])])
            .build();
        let found = check_all(&h);
        let lost: Vec<Option<u64>> =
            found.iter().filter(|a| a.kind == AnomalyKind::LostWrite).map(|a| a.records[0].value).collect();
        assert_eq!(lost, vec![Some(11), Some(12)]);
        let unseen: Vec<Option<u64>> = found
            .iter()
            .filter(|a| a.kind == AnomalyKind::Unseen)
            .flat_map(|a| a.records.iter().map(|r| r.value))
            .collect();
        assert_eq!(unseen, vec![Some(11), Some(12)]);
    }

    #[test]
    fn a_follower_following_its_leaders_log_start_excuses_nothing() {
        // Without the leader's own retention event, the follower's is no proof.
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .event("broker-2", log_start(LogStartReason::LeaderLogStart, 1, &[(0, 10)]))
            .poll_ok(1, &[("x", &[(1, 11)])])
            .build();
        assert_eq!(kinds(&h), vec![AnomalyKind::LostWrite, AnomalyKind::Unseen]);
    }
}

#[cfg(test)]
mod acknowledged_inside_info_tests {
    use crate::check::testkit::{Hist, M};
    use crate::check::AnomalyKind;
    use crate::history::OpType;

    #[test]
    fn an_acknowledged_send_inside_an_info_op_can_be_lost_and_unseen() {
        // One async op sent 10 and 11: 10 was acknowledged at offset 0, 11's outcome is
        // unknown. A later send lands at offset 1 and a poll reads it, but not 10.
        let h = Hist::new()
            .sends(0, OpType::Info, &[M::Send("x", Some(0), 10), M::Send("x", None, 11)])
            .send_ok(0, "x", 1, 12)
            .poll_ok(1, &[("x", &[(1, 12)])])
            .build();
        let found = crate::check::check_all(&h);
        assert!(
            found.iter().any(|a| a.kind == AnomalyKind::LostWrite && a.description.contains("value 10")),
            "{found:#?}"
        );
        assert!(found.iter().any(|a| a.kind == AnomalyKind::Unseen), "{found:#?}");
        // 11 has no offset and was never read: unknown outcome, neither lost nor unseen.
        assert!(!found.iter().any(|a| a.description.contains("value 11")), "{found:#?}");
    }

    #[test]
    fn an_acknowledged_send_inside_an_info_txn_counts_only_once_the_txn_must_have_committed() {
        // A transaction whose commit was fenced: its records were acknowledged at offsets
        // 0 of x and y, but it may have aborted. Nothing of it read: nothing lost.
        let unknown = [M::Send("x", Some(0), 10), M::Send("y", Some(0), 20)];
        let h =
            Hist::new().txn(0, OpType::Info, &unknown).send_ok(0, "x", 1, 11).poll_ok(1, &[("x", &[(1, 11)])]).build();
        assert!(crate::check::check_all(&h).is_empty(), "{:#?}", crate::check::check_all(&h));
        // 20 was read, so the transaction committed, and 10 should have been read before
        // 11: torn between x and y, a lost write.
        let h = Hist::new()
            .txn(0, OpType::Info, &unknown)
            .send_ok(0, "x", 1, 11)
            .poll_ok(1, &[("x", &[(1, 11)]), ("y", &[(0, 20)])])
            .build();
        let found = crate::check::check_all(&h);
        assert!(
            found.iter().any(|a| a.kind == AnomalyKind::LostWrite && a.description.contains("value 10")),
            "{found:#?}"
        );
    }
}
