//! Transactions end to end, on the catalog's transaction lessons: what a read_committed
//! reader may and may not see, what a read_uncommitted one sees, and that the markers
//! are in the replicated logs.

use crate::support::{describe, load, run};
use kafkasim::history::{Event, MicroOp, OpFn, OpType};
use kafkasim::protocol::{ABORT_MARKER_VALUE, COMMIT_MARKER_VALUE};
use kafkasim::runner::RunOutcome;
use std::collections::{BTreeMap, BTreeSet};

/// The values of the `txn` ops that completed with `kind`.
fn txn_values(outcome: &RunOutcome, kind: OpType) -> BTreeSet<u64> {
    txns(outcome, kind).into_iter().flatten().collect()
}

/// Every value `ok` polls returned, with the distinct (partition, offset) it was read at.
fn polled(outcome: &RunOutcome) -> BTreeMap<u64, BTreeSet<(String, u64)>> {
    let mut seen: BTreeMap<u64, BTreeSet<(String, u64)>> = BTreeMap::new();
    for op in outcome.history.ops.iter().filter(|o| o.kind == OpType::Ok) {
        for mop in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = mop {
                for (key, pairs) in records {
                    for (offset, value) in pairs {
                        seen.entry(*value).or_default().insert((key.clone(), *offset));
                    }
                }
            }
        }
    }
    seen
}

/// The send values of each `txn` op that completed with `kind`, one set per op.
fn txns(outcome: &RunOutcome, kind: OpType) -> Vec<BTreeSet<u64>> {
    let ops = outcome.history.ops.iter().filter(|o| o.f == OpFn::Txn && o.kind == kind);
    ops.map(|o| {
        o.micro_ops()
            .iter()
            .filter_map(|m| if let MicroOp::Send { value, .. } = m { Some(*value) } else { None })
            .collect()
    })
    .collect()
}

#[test]
fn read_committed_reads_every_committed_record_once_nothing_aborted_and_unknown_transactions_whole_or_not_at_all() {
    let scenario = load("txn-read-committed");
    // The crash strikes in the middle of a transaction in some seeds (between two in others).
    let mut crashed_mid_transaction = 0;
    for &seed in &scenario.seeds[..3] {
        let outcome = run(&scenario, seed);
        let (committed, aborted) = (txn_values(&outcome, OpType::Ok), txn_values(&outcome, OpType::Fail));
        let unknown = txns(&outcome, OpType::Info);
        assert!(!committed.is_empty() && !aborted.is_empty(), "{}", describe(&outcome));
        crashed_mid_transaction += usize::from(!unknown.is_empty());
        let seen = polled(&outcome);
        for value in &aborted {
            assert!(!seen.contains_key(value), "seed {seed}: value {value} of an aborted transaction was read");
        }
        for value in &committed {
            let at = seen.get(value).map_or(0, BTreeSet::len);
            assert_eq!(at, 1, "seed {seed}: committed value {value} read at {at} offsets");
        }
        // The crashed producer's transaction committed (its EndTxn got through) or was
        // aborted by the next incarnation's initTransactions: never in part.
        for txn in &unknown {
            let read = txn.iter().filter(|v| seen.contains_key(v)).count();
            assert!(read == 0 || read == txn.len(), "seed {seed}: {read} of {txn:?} read");
        }
    }
    assert!(crashed_mid_transaction > 0, "no crash left a transaction's outcome unknown");
}

#[test]
fn read_uncommitted_reads_exactly_records_of_transactions_that_did_not_commit() {
    let outcome = run(&load("txn-read-uncommitted"), 1);
    let committed = txn_values(&outcome, OpType::Ok);
    let not_committed: BTreeSet<u64> =
        txn_values(&outcome, OpType::Fail).union(&txn_values(&outcome, OpType::Info)).copied().collect();
    let seen = polled(&outcome);
    let aborted_read: Vec<&u64> = not_committed.iter().filter(|v| seen.contains_key(v)).collect();
    assert!(!aborted_read.is_empty(), "{}", describe(&outcome));
    assert!(committed.iter().all(|v| seen.get(v).is_some_and(|at| at.len() == 1)), "{}", describe(&outcome));
}

#[test]
fn commit_and_abort_markers_are_appended_by_leaders_and_replicated() {
    let outcome = run(&load("txn-read-committed"), 1);
    let mut markers: BTreeMap<(u64, bool), BTreeSet<u32>> = BTreeMap::new();
    for event in &outcome.history.trace {
        if let Event::Append { tp, broker, values, .. } = &event.event {
            if !tp.starts_with("orders-") {
                continue;
            }
            for value in values.iter().filter(|v| [COMMIT_MARKER_VALUE, ABORT_MARKER_VALUE].contains(v)) {
                markers.entry((*value, *value == COMMIT_MARKER_VALUE)).or_default().insert(*broker);
            }
        }
    }
    for kind in [(COMMIT_MARKER_VALUE, true), (ABORT_MARKER_VALUE, false)] {
        let brokers = markers.get(&kind).cloned().unwrap_or_default();
        assert_eq!(brokers.len(), 3, "{kind:?} markers on every replica, found on {brokers:?}");
    }
}

#[test]
fn the_transactional_swarm_allows_exactly_what_jepsen_allows_by_default() {
    use kafkasim::check::jepsen::{allowed_error_types, JepsenOptions};
    use kafkasim::check::AnomalyKind;
    let scenario = load("swarm-transactions");
    let allowed: BTreeSet<AnomalyKind> =
        AnomalyKind::ALL.into_iter().filter(|k| !scenario.expect.absent.contains(k)).collect();
    // Its consumers assign, and kafkasim's cycle search infers write-write edges.
    assert_eq!(allowed, allowed_error_types(JepsenOptions { subscribe: false, ww_deps: true }));
}

#[test]
fn a_stalled_producers_open_transaction_holds_read_committed_readers_until_the_coordinator_times_it_out() {
    use kafkasim::check::liveness::LivenessCause;
    use kafkasim::check::AnomalyKind;
    let hanging = load("txn-hanging-transaction");
    for &seed in &hanging.seeds[..2] {
        let outcome = run(&hanging, seed);
        assert_eq!(crate::support::kinds(&outcome), vec![AnomalyKind::NoProgress], "{}", describe(&outcome));
        let cause = outcome.anomalies.iter().find_map(|a| a.liveness.as_ref());
        let Some(LivenessCause::OpenTransaction { held, .. }) = cause else { panic!("seed {seed}: {cause:?}") };
        let [held] = held.as_slice() else { panic!("seed {seed}: one partition, held {held:?}") };
        assert!(held.last_stable_offset < held.high_watermark, "seed {seed}: {held:?}");
        // The transaction was opened by producer-1 (process 0), whose txn op never ended.
        let opener = held.opened_by.expect("the history names the transaction's op");
        assert_eq!(opener.process, 0, "seed {seed}: {held:?}");
        let completed = outcome
            .history
            .ops
            .iter()
            .any(|o| o.process == 0 && o.f == OpFn::Txn && o.kind != OpType::Invoke && o.index > opener.op_index);
        assert!(!completed, "seed {seed}: the stalled transaction completed");
        // Behind it, committed records of producer-2 that no consumer read.
        let seen = polled(&outcome);
        let unread = txn_values(&outcome, OpType::Ok).into_iter().filter(|v| !seen.contains_key(v)).count();
        assert!(unread > 0, "seed {seed}: nothing committed was held back");
    }
    let timeout = load("txn-hanging-transaction-timeout");
    for &seed in &timeout.seeds[..2] {
        let outcome = run(&timeout, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let seen = polled(&outcome);
        assert!(txn_values(&outcome, OpType::Ok).iter().all(|v| seen.contains_key(v)), "{}", describe(&outcome));
        // The stalled transaction's first record was aborted by the coordinator: never read.
        let stalled = outcome
            .history
            .ops
            .iter()
            .rfind(|o| o.process == 0 && o.f == OpFn::Txn)
            .expect("producer-1 ran transactions");
        assert_eq!(stalled.kind, OpType::Invoke, "seed {seed}: the stalled transaction is still open");
        for mop in stalled.micro_ops() {
            if let MicroOp::Send { value, .. } = mop {
                assert!(!seen.contains_key(value), "seed {seed}: value {value} of the timed-out transaction was read");
            }
        }
    }
}

#[test]
fn a_producer_back_from_a_stall_past_its_transaction_timeout_is_refused_as_a_fenced_epoch() {
    let scenario = load("txn-timed-out-producer-fenced");
    let outcome = run(&scenario, scenario.seeds[0]);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
    let fenced: Vec<BTreeSet<u64>> = outcome
        .history
        .ops
        .iter()
        .filter(|o| o.f == OpFn::Txn && o.error.as_deref().is_some_and(|e| e.contains("INVALID_PRODUCER_EPOCH")))
        .map(|o| {
            o.micro_ops()
                .iter()
                .filter_map(|m| if let MicroOp::Send { value, .. } = m { Some(*value) } else { None })
                .collect()
        })
        .collect();
    assert!(!fenced.is_empty(), "a stall ends in a refused late write: {}", describe(&outcome));
    let seen = polled(&outcome);
    for value in fenced.iter().flatten() {
        assert!(!seen.contains_key(value), "value {value} of a timed-out transaction was read");
    }
}
