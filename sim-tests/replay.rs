//! Replays: a consumer rewound by time reads the replayed range again completely and in
//! order, and everything in it is processed a second time (`replay-by-time`); an
//! administrator's reset by time is refused while the group runs and replays the range
//! for the whole group once it is stopped (`replay-by-time-group-reset`).

use crate::support::{describe, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{MicroOp, Op, OpFn, OpType, OpValue, Rewind, ADMIN_PROCESS};
use kafkasim::runner::{RunOutcome, Status};
use std::collections::BTreeSet;

/// The `ok` rewinds of a run, with their position in the history.
fn rewinds(outcome: &RunOutcome) -> Vec<(usize, &Op, &Rewind)> {
    let ops = outcome.history.ops.iter().enumerate();
    ops.filter_map(|(at, op)| match (&op.value, op.f, op.kind) {
        (OpValue::Rewind(rewind), OpFn::Rewind, OpType::Ok) => Some((at, op, rewind)),
        _ => None,
    })
    .collect()
}

/// The offsets of `key` that the `ok` polls after history position `after` returned, in
/// order, from the processes `reader` accepts.
fn read_after(outcome: &RunOutcome, after: usize, key: &str, reader: impl Fn(&Op) -> bool) -> Vec<u64> {
    let polls = outcome.history.ops[after + 1..].iter().filter(|o| o.f == OpFn::Poll && o.kind == OpType::Ok);
    let mut read = Vec::new();
    for op in polls.filter(|o| reader(o)) {
        for mop in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = mop {
                read.extend(records.get(key).into_iter().flatten().map(|(offset, _)| *offset));
            }
        }
    }
    read
}

/// `(key, offset)` of every record the run reports as processed more than once.
fn processed_twice(outcome: &RunOutcome) -> BTreeSet<(String, u64)> {
    let duplicates = outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::ConsumeDuplicate);
    duplicates.map(|a| &a.records[0]).map(|r| (r.key.clone(), r.offset.expect("a duplicate has its offset"))).collect()
}

#[test]
fn a_consumer_rewound_by_time_reads_the_range_again_in_order_and_processes_it_twice() {
    let scenario = load("replay-by-time");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let found = rewinds(&outcome);
        assert_eq!(found.len(), 1, "seed {seed}: consumer-1 rewinds once");
        let (at, op, rewind) = found[0];
        assert!(rewind.to_time_ms.is_some_and(|ms| ms * 1_000_000 < op.time_ns), "seed {seed}: back in time");
        assert_eq!(rewind.partitions.len(), 2, "seed {seed}: both partitions consumer-1 holds");
        let mut replayed = BTreeSet::new();
        for (key, moved) in &rewind.partitions {
            let (from, to) = (moved.from.expect("a position"), moved.to.expect("a record that recent"));
            assert!(to + 50 < from, "seed {seed}: {key} goes back three seconds, {to} < {from}");
            // Read again from `to`, every offset, in order, before going on past `from`.
            let read = read_after(&outcome, at, key, |o| o.process == op.process);
            assert_eq!(read[..(from - to) as usize], (to..from).collect::<Vec<_>>()[..], "seed {seed}: {key}");
            replayed.extend((to..from).map(|o| (key.clone(), o)));
        }
        // Exactly the replayed records are processed twice, and nothing else goes wrong.
        assert_eq!(processed_twice(&outcome), replayed, "seed {seed}");
        let kinds: BTreeSet<AnomalyKind> = outcome.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [AnomalyKind::ConsumeDuplicate].into_iter().collect(), "seed {seed}");
    }
}

#[test]
fn a_group_reset_by_time_is_refused_while_the_group_runs_and_replays_for_the_whole_group_once_it_is_stopped() {
    let scenario = load("replay-by-time-group-reset");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        let attempts: Vec<&Op> =
            outcome.history.ops.iter().filter(|o| o.f == OpFn::Rewind && o.kind != OpType::Invoke).collect();
        assert_eq!(attempts.len(), 2, "seed {seed}: two resets");
        assert_eq!((attempts[0].process, attempts[0].kind), (ADMIN_PROCESS, OpType::Fail), "seed {seed}");
        assert_eq!(
            attempts[0].error.as_deref(),
            Some("Assignments can only be reset if the group 'billing' is inactive, but the current state is Stable."),
        );
        let found = rewinds(&outcome);
        assert_eq!(found.len(), 1, "seed {seed}: the reset of the empty group goes through");
        let (at, op, rewind) = found[0];
        assert_eq!((op.process, rewind.group.as_deref()), (ADMIN_PROCESS + 1, Some("billing")), "seed {seed}");
        assert_eq!(rewind.partitions.len(), 4, "seed {seed}: every partition of the group's topic");
        let mut replayed = BTreeSet::new();
        for (key, moved) in &rewind.partitions {
            let (from, to) = (moved.from.expect("a committed offset"), moved.to.expect("a record that recent"));
            assert!(to + 50 < from, "seed {seed}: {key} goes back, {to} < {from}");
            // The group's returning members read it all again.
            let read: BTreeSet<u64> =
                read_after(&outcome, at, key, |o| o.group.as_ref().is_some_and(|g| g.group == "billing"))
                    .into_iter()
                    .collect();
            assert!((to..from).all(|o| read.contains(&o)), "seed {seed}: {key} read again from {to} to {from}");
            replayed.extend((to..from).map(|o| (key.clone(), o)));
        }
        assert_eq!(processed_twice(&outcome), replayed, "seed {seed}");
    }
}
