//! A `read_committed` drain held at the last stable offset: what the liveness phase
//! reports when an open transaction kept acknowledged records from every
//! `read_committed` reader until the phase ran out of time (a hanging transaction).
//!
//! The drain reads such a partition to its last stable offset, which is all a
//! `read_committed` consumer can read, and the checkers then find the acknowledged
//! records above it `unseen`. They were not lost: they are in the log, committed,
//! behind a transaction nobody ended. As with a partition the drain could not read at
//! all, those `unseen` findings give way to the `no-progress` that explains them,
//! naming the open transaction: the record at its first offset and the `txn` op that
//! sent it. A held partition that withheld no acknowledged record is not reported.

use crate::check::liveness::{HeldPartition, LivenessCause, TxnOpener};
use crate::check::{Anomaly, AnomalyKind};
use crate::history::{Event, History, MicroOp, OpFn, OpType, OpValue};
use std::collections::BTreeMap;

/// Replaces the `unseen` anomalies whose every record lies at or above the last stable
/// offset of a `held` partition (`(last stable offset, high watermark)` by partition
/// name) by one `no-progress` anomaly naming the open transactions.
pub(super) fn account_for_held(
    anomalies: &mut Vec<Anomaly>,
    held: &BTreeMap<String, (u64, u64)>,
    history: &History,
    waited_ms: u64,
) {
    if held.is_empty() {
        return;
    }
    let behind_lso = |a: &Anomaly| {
        a.kind == AnomalyKind::Unseen
            && !a.records.is_empty()
            && a.records
                .iter()
                .all(|r| held.get(&r.key).is_some_and(|&(lso, _)| r.offset.is_none_or(|offset| offset >= lso)))
    };
    let before = anomalies.len();
    anomalies.retain(|a| !behind_lso(a));
    if anomalies.len() == before {
        return;
    }
    let held = held
        .iter()
        .map(|(tp, &(lso, hw))| HeldPartition {
            tp: tp.clone(),
            last_stable_offset: lso,
            high_watermark: hw,
            opened_by: opener(history, tp, lso),
        })
        .collect();
    anomalies.push(Anomaly::no_progress(LivenessCause::OpenTransaction { waited_ms, held }));
}

/// The `txn` op whose record the leader of `tp` appended last at `offset`.
fn opener(history: &History, tp: &str, offset: u64) -> Option<TxnOpener> {
    // The trace decodes forwards only: the last match is the last append.
    let last_append = history.trace.iter().filter_map(|e| match &e.event {
        Event::Append { tp: t, as_leader: true, base_offset, values, .. }
            if **t == *tp && (*base_offset..base_offset + values.len() as u64).contains(&offset) =>
        {
            values.get((offset - base_offset) as usize).copied()
        }
        _ => None,
    });
    let value = last_append.last()?;
    history.ops.iter().find_map(|op| {
        let sent = op.kind == OpType::Invoke
            && op.f == OpFn::Txn
            && matches!(&op.value, OpValue::Txn(mops)
                if mops.iter().any(|m| matches!(m, MicroOp::Send { value: v, .. } if *v == value)));
        sent.then_some(TxnOpener { process: op.process, value, op_index: op.index })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::RecordRef;
    use crate::history::{Op, TraceEvent};

    fn unseen(key: &str, offset: u64) -> Anomaly {
        let record = RecordRef::new(key, Some(offset), Some(offset + 100), "acknowledged; never polled");
        Anomaly::new(AnomalyKind::Unseen, format!("{key}: unseen"), vec![record])
    }

    fn history() -> History {
        let send = MicroOp::Send { key: "orders-0".into(), value: 7, offset: None };
        let invoke = Op {
            index: 3,
            time_ns: 0,
            process: 1,
            kind: OpType::Invoke,
            f: OpFn::Txn,
            value: OpValue::Txn(vec![send]),
            error: None,
            group: None,
            record_keys: None,
            delay: None,
        };
        let append = Event::Append {
            tp: "orders-0".into(),
            broker: 1,
            as_leader: true,
            leader_epoch: 0,
            base_offset: 10,
            values: smallvec::smallvec![7, 8],
        };
        History {
            ops: vec![invoke],
            trace: vec![TraceEvent { time_ns: 0, node: "broker-1".into(), event: append }].into(),
        }
    }

    #[test]
    fn unseen_records_above_a_held_lso_become_the_open_transaction_that_held_them() {
        let held = BTreeMap::from([("orders-0".to_string(), (10, 14))]);
        let mut anomalies = vec![unseen("orders-0", 12), unseen("orders-1", 3)];
        account_for_held(&mut anomalies, &held, &history(), 30_000);
        assert_eq!(anomalies.len(), 2);
        assert_eq!((anomalies[0].kind, anomalies[0].records[0].key.as_str()), (AnomalyKind::Unseen, "orders-1"));
        let Some(LivenessCause::OpenTransaction { held, .. }) = &anomalies[1].liveness else { panic!("{anomalies:?}") };
        assert_eq!(held[0].opened_by, Some(TxnOpener { process: 1, value: 7, op_index: 3 }));
    }

    #[test]
    fn an_unseen_record_below_the_lso_is_not_explained_by_it() {
        let held = BTreeMap::from([("orders-0".to_string(), (10, 14))]);
        let mut anomalies = vec![unseen("orders-0", 9)];
        account_for_held(&mut anomalies, &held, &history(), 30_000);
        assert_eq!(anomalies.len(), 1);
        assert_eq!(anomalies[0].kind, AnomalyKind::Unseen);
    }
}
