//! `delivered-early` and `delivered-late` on small hand-written histories. Every op of
//! the test kit takes 100 ms; `at_ms` sets the time of the next one.

use super::*;
use crate::check::testkit::{Hist, M};

/// Process 0 writes value 10 to the tier `delay-1s-0`, invoked at 1.0 s and
/// acknowledged at 1.1 s: due from 2.0 s (its timestamp is at least 1.0 s), late after
/// 4.1 s (at most 1.1 s plus 3000 ms).
fn tier_write() -> Hist {
    Hist::new().at_ms(1_000).send_ok(0, "delay-1s-0", 0, 10).delayed(1_000, 3_000)
}

/// The forwarder (process 1) polls the record, then forwards it in a `send` op invoked
/// at `at_ms` that completes 100 ms later with `kind` (acknowledged at offset 0 when ok).
fn forward(h: Hist, at_ms: u64, kind: OpType) -> Hist {
    let h = h.at_ms(at_ms - 200).poll_ok(1, &[("delay-1s-0", &[(0, 10)])]).at_ms(at_ms);
    let offset = (kind == OpType::Ok).then_some(0);
    h.sends(1, kind, &[M::Send("orders-0", offset, 10)])
}

/// A final read at 9 s: the history ends there.
fn drained(h: Hist) -> History {
    h.at_ms(9_000).poll_ok(9, &[("orders-0", &[(0, 10)])]).build()
}

fn kinds(h: &History) -> Vec<AnomalyKind> {
    check(h).iter().map(|a| a.kind).collect()
}

#[test]
fn a_record_forwarded_between_its_due_time_and_its_deadline_is_in_time() {
    assert!(check(&drained(forward(tier_write(), 2_000, OpType::Ok))).is_empty());
    // The deadline itself is in time.
    assert!(check(&drained(forward(tier_write(), 4_100, OpType::Ok))).is_empty());
    // Without a delay on the tier write there is no delay queue to judge.
    let plain = Hist::new().at_ms(1_000).send_ok(0, "delay-1s-0", 0, 10);
    assert!(check(&drained(forward(plain, 1_200, OpType::Ok))).is_empty());
}

#[test]
fn a_forward_acknowledged_before_the_record_was_due_is_delivered_early() {
    // Acknowledged at 1.9 s; due at 2.0 s at the earliest.
    let h = drained(forward(tier_write(), 1_800, OpType::Ok));
    let found = check(&h);
    assert_eq!(kinds(&h), [AnomalyKind::DeliveredEarly]);
    assert!(found[0].description.contains("delay-1s-0 value 10"), "{}", found[0].description);
    assert!(found[0].description.contains("at 1.900 s, 100 ms before it was due"), "{}", found[0].description);
    assert_eq!(found[0].records[0].key, "delay-1s-0");
    assert_eq!((found[0].records[1].key.as_str(), found[0].records[1].by.as_deref()), ("orders-0", Some("process 1")));
    // Acknowledged exactly when due: not early.
    assert!(check(&drained(forward(tier_write(), 1_900, OpType::Ok))).is_empty());
}

#[test]
fn a_forward_that_did_not_take_effect_before_the_due_time_is_not_early() {
    // Refused, or of unknown outcome, at 1.9 s; the record is forwarded again in time.
    for kind in [OpType::Fail, OpType::Info] {
        let h = forward(tier_write(), 1_800, kind);
        assert!(check(&drained(forward(h, 2_500, OpType::Ok))).is_empty(), "{kind:?}");
    }
}

#[test]
fn a_transaction_forwarding_a_record_is_early_only_if_it_committed_before_the_due_time() {
    let txn = |kind| {
        let h = tier_write().at_ms(1_700);
        let mops = [M::Poll(&[("delay-1s-0", &[(0, 10)])]), M::Send("orders-0", Some(0), 10)];
        drained(h.txn(1, kind, &mops).at_ms(2_500).txn(1, OpType::Ok, &mops))
    };
    assert_eq!(kinds(&txn(OpType::Ok)), [AnomalyKind::DeliveredEarly], "committed at 1.8 s");
    assert!(check(&txn(OpType::Fail)).is_empty(), "aborted at 1.8 s");
}

#[test]
fn a_record_first_forwarded_after_its_deadline_or_never_is_delivered_late() {
    let h = drained(forward(tier_write(), 4_200, OpType::Ok));
    let found = check(&h);
    assert_eq!(kinds(&h), [AnomalyKind::DeliveredLate]);
    let text = &found[0].description;
    assert!(text.contains("in the target by 4.100 s at the latest (3000 ms after its timestamp)"), "{text}");
    assert!(text.contains("began at 4.200 s"), "{text}");
    assert_eq!(found[0].records.len(), 2);

    let never = drained(tier_write());
    let found = check(&never);
    assert_eq!(kinds(&never), [AnomalyKind::DeliveredLate]);
    assert!(found[0].description.ends_with("it was never forwarded."), "{}", found[0].description);

    // A refused forward in time does not count; one of unknown outcome may have worked.
    let refused = forward(tier_write(), 3_000, OpType::Fail);
    assert_eq!(kinds(&drained(forward(refused, 5_000, OpType::Ok))), [AnomalyKind::DeliveredLate]);
    let unknown = forward(tier_write(), 3_000, OpType::Info);
    assert!(check(&drained(forward(unknown, 5_000, OpType::Ok))).is_empty());
}

#[test]
fn a_record_whose_deadline_is_past_the_end_of_the_run_is_not_judged() {
    // The history ends at 4.0 s, before the deadline of 4.1 s.
    let h = tier_write().at_ms(3_900).poll_ok(9, &[("delay-1s-0", &[(0, 10)])]).build();
    assert!(check(&h).is_empty());
}

#[test]
fn a_tier_write_of_unknown_outcome_is_judged_only_once_a_poll_read_it() {
    let unknown = || Hist::new().at_ms(1_000).send_info(0, "delay-1s-0", 10).delayed(1_000, 3_000);
    // Never read: perhaps never written, so never late.
    assert!(check(&drained(unknown())).is_empty());
    // Read by 1.6 s: written by then, so late after 4.6 s.
    let read = unknown().at_ms(1_500).poll_ok(1, &[("delay-1s-0", &[(0, 10)])]);
    assert_eq!(kinds(&drained(read)), [AnomalyKind::DeliveredLate]);
    let read = unknown().at_ms(1_500).poll_ok(1, &[("delay-1s-0", &[(0, 10)])]);
    assert!(check(&drained(forward(read, 4_400, OpType::Ok))).is_empty());
}

#[test]
fn the_records_left_to_forward_are_those_acknowledged_past_every_forward_that_took_effect() {
    let writes = || {
        let h = tier_write().at_ms(1_200).send_ok(0, "delay-1s-0", 1, 11).delayed(1_000, 3_000);
        let h = h.at_ms(1_400).send_info(0, "delay-1s-0", 12).delayed(1_000, 3_000);
        h.at_ms(1_600).send_ok(0, "delay-1s-1", 0, 20).delayed(1_000, 3_000)
    };
    let left = |h: Hist| unforwarded(&h.build().ops);
    let named =
        |records: &[(&str, u64)]| -> Vec<(String, u64)> { records.iter().map(|(k, v)| (k.to_string(), *v)).collect() };
    // Forwarded with an unknown outcome: nothing is known to be forwarded (12 was never
    // acknowledged, so it is not waited for).
    let all = named(&[("delay-1s-0", 10), ("delay-1s-0", 11), ("delay-1s-1", 20)]);
    assert_eq!(left(forward(writes(), 2_500, OpType::Info)), all);
    // 10 forwarded: 11 and the other partition's 20 are left.
    assert_eq!(left(forward(writes(), 2_500, OpType::Ok)), named(&[("delay-1s-0", 11), ("delay-1s-1", 20)]));
    // 11 forwarded in a transaction that committed: 10 was forwarded before it, in
    // whatever transaction the history shows with an unknown outcome.
    let mops = [M::Poll(&[("delay-1s-0", &[(1, 11)])]), M::Send("orders-0", Some(7), 11)];
    assert_eq!(left(writes().at_ms(2_500).txn(1, OpType::Ok, &mops)), named(&[("delay-1s-1", 20)]));
}

#[test]
fn check_all_runs_the_checker() {
    let h = drained(forward(tier_write(), 1_800, OpType::Ok));
    let via_all: Vec<AnomalyKind> =
        crate::check::check_all(&h).iter().map(|a| a.kind).filter(|k| *k == AnomalyKind::DeliveredEarly).collect();
    assert_eq!(via_all, [AnomalyKind::DeliveredEarly]);
}
