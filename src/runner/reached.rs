//! The named states only known once the run is over, derived here in one place from the
//! recorded history (every other state is hit where the system reaches it; see
//! [`crate::coverage`]).
//!
//! `retention-deleted-unread`: a broker's retention check deletes segments without
//! knowing whether any consumer read them (Kafka's retention ignores consumers), so only
//! the whole history can tell that records went unread: the leader's deletions of
//! records whose values no poll (of the workload or of the liveness drain) ever returned.

use crate::coverage::{ReachedState, ReachedStates};
use crate::history::{Event, History, MicroOp, OpType};
use std::collections::BTreeSet;

/// Adds to `reached` the states derived from `history` after the run.
pub(super) fn derive_after_the_run(history: &History, reached: &mut ReachedStates) {
    let mut read: Option<BTreeSet<u64>> = None;
    for event in history.trace.other_than_replica_traffic() {
        let Event::LogStartAdvanced { is_leader: true, removed, reason, .. } = &event.event else { continue };
        if !reason.is_retention() {
            continue;
        }
        let read = read.get_or_insert_with(|| polled_values(history));
        if removed.iter().any(|(_, value, _)| !read.contains(value)) {
            reached.hit(ReachedState::RetentionDeletedUnread, event.time_ns);
        }
    }
}

/// Every value some poll returned.
fn polled_values(history: &History) -> BTreeSet<u64> {
    let mut values = BTreeSet::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok) {
        for mop in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = mop {
                values.extend(records.values().flatten().map(|(_, v)| *v));
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{LogStartReason, Op, OpFn, OpValue, TraceEvent};

    fn deleted(is_leader: bool, values: &[u64], reason: LogStartReason) -> TraceEvent {
        TraceEvent {
            time_ns: 7,
            node: "broker-1".into(),
            event: Event::LogStartAdvanced {
                tp: "orders-0".into(),
                broker: 1,
                is_leader,
                log_start_offset: values.len() as u64,
                removed: values.iter().enumerate().map(|(o, v)| (o as u64, *v, 0)).collect(),
                reason,
            },
        }
    }

    fn polled(values: &[u64]) -> Op {
        let records = [("orders-0".to_string(), values.iter().enumerate().map(|(o, v)| (o as u64, *v)).collect())];
        Op {
            index: 0,
            time_ns: 1,
            process: 0,
            kind: OpType::Ok,
            f: OpFn::Poll,
            value: OpValue::Txn(vec![MicroOp::Poll { records: Some(records.into_iter().collect()) }]),
            error: None,
            group: None,
            record_keys: None,
            delay: None,
        }
    }

    fn derived(history: &History) -> bool {
        let mut reached = ReachedStates::default();
        derive_after_the_run(history, &mut reached);
        reached.contains(ReachedState::RetentionDeletedUnread)
    }

    #[test]
    fn retention_deleted_unread_needs_a_leader_retention_deletion_of_a_value_no_poll_returned() {
        let read = History {
            ops: vec![polled(&[1, 2])],
            trace: vec![deleted(true, &[1, 2], LogStartReason::RetentionMs)].into(),
        };
        assert!(!derived(&read), "everything deleted had been read");
        let unread = History {
            ops: vec![polled(&[1])],
            trace: vec![deleted(true, &[1, 2], LogStartReason::RetentionBytes)].into(),
        };
        assert!(derived(&unread));
        let follower = History { ops: vec![], trace: vec![deleted(false, &[1], LogStartReason::RetentionMs)].into() };
        assert!(!derived(&follower), "a follower's deletion follows its leader's");
        let following =
            History { ops: vec![], trace: vec![deleted(true, &[1], LogStartReason::LeaderLogStart)].into() };
        assert!(!derived(&following));
    }
}
