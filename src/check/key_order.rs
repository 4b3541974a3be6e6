//! `key-reordered`: a reader received a record key's records out of their send order,
//! because the key's records were in different partitions.
//!
//! Kafka orders records only within a partition. A keyed producer puts every record of a
//! key in partition `murmur2(key) % partitions`, so a key's records reach a consumer in
//! send order, but only while that partition stays the same: once partitions are added
//! the key maps elsewhere, its later records go to the new partition, and a consumer can
//! read them before the earlier ones still waiting in the old partition. Nothing fails
//! and no other checker sees it (each partition on its own is in order).
//!
//! The record key of a record comes from the `record_keys` of its send's invocation
//! (value → key; ops without it take no part). The definition:
//!
//! - **Pairs.** Records `r1` and `r2` with the same record key, sent by the same
//!   producer process, `r1` before `r2` in that process's send order (the order in which
//!   its `send` and `txn` invocations list them), and in different partitions (the
//!   sends' KEYs differ). Two records of one partition that come out of order are other
//!   checkers' business (`nonmonotonic-send`, `nonmonotonic-poll`, ...). A value listed
//!   by more than one invocation belongs to the first.
//! - **Readers.** Each consumer group (ops with a group context, by group id, across all
//!   its member processes), and each process whose polls carry no group context,
//!   separately. The final drain (processes from [`DRAIN_PROCESS`] on) reads nothing.
//! - **Deliveries.** A record is delivered to a reader by the `ok` completion of a
//!   `poll` op, or of a `txn` op with poll micro-ops, that returned it; for a reader whose
//!   application records its processing (`process` ops, which stand alone), by the
//!   `process` op that processed it instead: a poll hands over a whole backlog at once,
//!   and the order the application acts in is the order that matters. Only its first
//!   delivery counts: `done(r)` is the earliest history index of such a completion, and
//!   `start(r)` the earliest index of the invocation of a poll that delivered it (a
//!   completion without an invocation is its own). Later re-deliveries (after a
//!   rebalance, say) are duplicates, not reorders. For one process the two belong to the
//!   same poll; across a group's members, whose polls overlap, this asks for certainty:
//!   every poll that delivered `r1` began after `r2` had been delivered.
//! - **Anomaly.** `done(r2) < start(r1)`: the reader had `r2` before any poll that
//!   returned `r1` began. A record never delivered to the reader is a loss or a skip,
//!   not a reorder; records returned by the same poll are not ordered across partitions
//!   (a poll's map is ordered by partition name, which Kafka promises nothing about), and
//!   `done(r2) < start(r1)` never holds for them.
//!
//! One anomaly per reader, producer process and record key: the earliest-sent `r2`
//! delivered before an earlier record, with the earliest-sent such `r1`, and how many
//! records of the key the reader had before an earlier one. Anomalies come in the
//! history order of that `r2`'s delivery. Everything is keyed by `BTreeMap`s, so the
//! result depends on the history only; the work is `O(readers × sends × log)`.

use super::describe::{plural, process, secs};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{History, MicroOp, Op, OpFn, OpType, OpValue, PolledRecords, DRAIN_PROCESS};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Who reads: a consumer group as a whole, or a consumer process outside any group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reader<'a> {
    /// The members of the group with this id.
    Group(&'a str),
    /// A process whose polls carry no group context.
    Process(u64),
}

impl fmt::Display for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reader::Group(group) => write!(f, "group {group}"),
            Reader::Process(p) => f.write_str(&process(*p)),
        }
    }
}

/// One delivery of a record to a reader: where in the history, by which completion, and
/// where the poll found the record.
#[derive(Clone, Copy, Debug)]
struct Delivery<'a> {
    /// The history index that orders it: the completion's (for `done`) or its
    /// invocation's (for `start`).
    at: usize,
    /// The poll's completion.
    op: &'a Op,
    /// The partition the poll returned it from.
    partition: &'a str,
    /// Its offset there.
    offset: u64,
}

/// A record's first delivery to one reader, both ways of measuring it (see the module).
#[derive(Clone, Copy, Debug)]
struct First<'a> {
    /// The delivery whose completion comes first.
    done: Delivery<'a>,
    /// The delivery whose poll was invoked first.
    start: Delivery<'a>,
}

/// One keyed send, in its producer's send order.
#[derive(Clone, Copy, Debug)]
struct Sent<'a> {
    value: u64,
    /// The partition the send names.
    partition: &'a str,
}

/// Records delivered to one reader after a later record of their key from another
/// partition (`key-reordered`); see the module for the definition.
pub fn key_reorders(history: &History) -> Vec<Anomaly> {
    let chains = keyed_chains(history);
    if chains.is_empty() {
        return Vec::new();
    }
    let deliveries = first_deliveries(history);
    let mut found: Vec<(usize, Anomaly)> = Vec::new();
    for (reader, firsts) in &deliveries {
        for (&(producer, key), sends) in &chains {
            if let Some(found_here) = reordered(*reader, producer, key, sends, firsts) {
                found.push(found_here);
            }
        }
    }
    // In the history order of the early delivery; the sort is stable, so ties keep the
    // reader and chain order.
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, anomaly)| anomaly).collect()
}

/// Per producer process and record key, the keyed sends in send order; only the chains
/// whose sends name more than one partition, the only ones that can be reordered.
fn keyed_chains(history: &History) -> BTreeMap<(u64, &str), Vec<Sent<'_>>> {
    let mut chains: BTreeMap<(u64, &str), Vec<Sent<'_>>> = BTreeMap::new();
    let mut listed = BTreeSet::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Invoke && o.f.writes()) {
        let Some(keys) = &op.record_keys else { continue };
        for mop in op.micro_ops() {
            let MicroOp::Send { key: partition, value, .. } = mop else { continue };
            let Some(record_key) = keys.get(value) else { continue };
            if listed.insert(*value) {
                chains.entry((op.process, record_key)).or_default().push(Sent { value: *value, partition });
            }
        }
    }
    chains.retain(|_, sends| sends.iter().any(|s| s.partition != sends[0].partition));
    chains
}

/// Per reader, per value, the record's first delivery: its first processing where the
/// reader's application records processing (`process` ops), else its first poll.
fn first_deliveries(history: &History) -> BTreeMap<Reader<'_>, BTreeMap<u64, First<'_>>> {
    let mut polled: BTreeMap<Reader<'_>, BTreeMap<u64, First<'_>>> = BTreeMap::new();
    let mut processed: BTreeMap<Reader<'_>, BTreeMap<u64, First<'_>>> = BTreeMap::new();
    for (at, op, invoked_at) in history.completions() {
        if op.kind != OpType::Ok || op.process >= DRAIN_PROCESS {
            continue;
        }
        let invocation = invoked_at.map(|i| &history.ops[i]);
        let reader = match op.group.as_ref().or(invocation.and_then(|i| i.group.as_ref())) {
            Some(ctx) => Reader::Group(&ctx.group),
            None => Reader::Process(op.process),
        };
        let start_at = invoked_at.unwrap_or(at);
        let (firsts, records): (_, Vec<&PolledRecords>) = match (op.f, &op.value) {
            (OpFn::Poll | OpFn::Txn, _) => (
                polled.entry(reader).or_default(),
                op.micro_ops()
                    .iter()
                    .filter_map(|mop| match mop {
                        MicroOp::Poll { records: Some(records) } => Some(records),
                        _ => None,
                    })
                    .collect(),
            ),
            (OpFn::Process, OpValue::Records(records)) => (processed.entry(reader).or_default(), vec![records]),
            _ => continue,
        };
        for (partition, pairs) in records.into_iter().flatten() {
            for &(offset, value) in pairs {
                let done = Delivery { at, op, partition, offset };
                let start = Delivery { at: start_at, ..done };
                let first = firsts.entry(value).or_insert(First { done, start });
                // Completions come in history order, so `done` is already the first;
                // an earlier invocation may still come later (overlapping polls).
                if start.at < first.start.at {
                    first.start = start;
                }
            }
        }
    }
    for (reader, firsts) in processed {
        polled.insert(reader, firsts);
    }
    polled
}

/// The best (latest first-delivery start) earlier record in each of the two partitions
/// that lead, so that "the latest among the other partitions" is one comparison.
#[derive(Default)]
struct Latest<'a> {
    /// `(start, partition)` of the latest start so far.
    best: Option<(usize, &'a str)>,
    /// `(start, partition)` of the latest start in a partition other than `best`'s.
    second: Option<(usize, &'a str)>,
}

impl<'a> Latest<'a> {
    fn add(&mut self, start: usize, partition: &'a str) {
        match self.best {
            None => self.best = Some((start, partition)),
            Some((best, p)) if p == partition => {
                if start > best {
                    self.best = Some((start, partition));
                }
            }
            Some((best, _)) if start > best => {
                self.second = self.best;
                self.best = Some((start, partition));
            }
            Some(_) => {
                if self.second.is_none_or(|(second, _)| start > second) {
                    self.second = Some((start, partition));
                }
            }
        }
    }

    /// The latest start of a record in a partition other than `partition`.
    fn other_than(&self, partition: &str) -> Option<usize> {
        match self.best {
            Some((start, p)) if p != partition => Some(start),
            _ => self.second.map(|(start, _)| start),
        }
    }
}

/// The anomaly of one reader and one chain, if the reader had a record of the chain
/// before an earlier one from another partition; with the index that orders it.
fn reordered<'a>(
    reader: Reader<'a>,
    producer: u64,
    key: &str,
    sends: &[Sent<'a>],
    firsts: &BTreeMap<u64, First<'a>>,
) -> Option<(usize, Anomaly)> {
    let mut latest = Latest::default();
    let mut first_early: Option<usize> = None;
    let mut early = 0;
    for (j, sent) in sends.iter().enumerate() {
        let Some(first) = firsts.get(&sent.value) else { continue };
        if latest.other_than(sent.partition).is_some_and(|start| first.done.at < start) {
            early += 1;
            first_early.get_or_insert(j);
        }
        latest.add(first.start.at, sent.partition);
    }
    let j = first_early?;
    let (late, early_one) = (&sends[..j], sends[j]);
    let r2 = firsts[&early_one.value];
    let r1 = late.iter().find_map(|s| {
        let first = firsts.get(&s.value)?;
        (s.partition != early_one.partition && r2.done.at < first.start.at).then_some((s, first))
    })?;
    Some((r2.done.at, describe(reader, producer, key, (r1.0, r1.1), (&early_one, &r2), early)))
}

/// Who in a group read a record, ` (member consumer-2-1, process 3)`; nothing for a
/// reader that is one process (the sentence names it already).
fn by_whom(reader: Reader<'_>, op: &Op) -> String {
    match (reader, &op.group) {
        (Reader::Group(_), Some(ctx)) => format!(" (member {}, {})", ctx.member, process(op.process)),
        (Reader::Group(_), None) => format!(" ({})", process(op.process)),
        (Reader::Process(_), _) => String::new(),
    }
}

fn describe(
    reader: Reader<'_>,
    producer: u64,
    key: &str,
    (sent1, first1): (&Sent<'_>, &First<'_>),
    (sent2, first2): (&Sent<'_>, &First<'_>),
    early: usize,
) -> Anomaly {
    let (d1, d2) = (first1.start, first2.done);
    // A reader whose application records its processing is judged by it (see the module).
    let read = if d2.op.f == OpFn::Process { "processed" } else { "read" };
    let description = format!(
        "{reader} {read} value {} of record key {key:?} ({} offset {}) at {}{} before value {} ({} offset {}), \
         which {} had sent first, at {}{}: the key's records were in two partitions, and Kafka orders records \
         only within one ({} of the key reached {reader} before an earlier one)",
        sent2.value,
        d2.partition,
        d2.offset,
        secs(d2.op.time_ns),
        by_whom(reader, d2.op),
        sent1.value,
        d1.partition,
        d1.offset,
        process(producer),
        secs(d1.op.time_ns),
        by_whom(reader, d1.op),
        plural(early, "record"),
    );
    let records = vec![
        RecordRef::new(
            d1.partition,
            Some(d1.offset),
            Some(sent1.value),
            format!("record key {key:?}: sent first, {read} by {reader} after value {}", sent2.value),
        )
        .seen_in(d1.op)
        .subject(),
        RecordRef::new(
            d2.partition,
            Some(d2.offset),
            Some(sent2.value),
            format!("record key {key:?}: sent after value {}, {read} first by {reader}", sent1.value),
        )
        .seen_in(d2.op)
        .subject(),
    ];
    Anomaly::new(AnomalyKind::KeyReordered, description, records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};

    /// Producer 0 sends value 10 with key `key-3` to orders-0 (offset 4), then, the key
    /// having moved, value 11 to orders-2 (offset 0).
    fn moved_key() -> Hist {
        Hist::new().keyed_send_ok(0, "orders-0", 4, 10, "key-3").keyed_send_ok(0, "orders-2", 0, 11, "key-3")
    }

    fn reorders(h: Hist) -> Vec<Anomaly> {
        let history = h.build();
        let found = key_reorders(&history);
        let via_all: Vec<Anomaly> =
            crate::check::check_all(&history).into_iter().filter(|a| a.kind == AnomalyKind::KeyReordered).collect();
        assert_eq!(found, via_all, "check_all runs the checker");
        found
    }

    #[test]
    fn a_consumer_that_reads_a_moved_key_out_of_send_order_is_reported() {
        let found =
            reorders(moved_key().poll_ok(1, &[("orders-2", &[(0, 11)])]).poll_ok(1, &[("orders-0", &[(4, 10)])]));
        assert_eq!(found.len(), 1, "{found:#?}");
        let a = &found[0];
        assert_eq!(a.kind.name(), "key-reordered");
        assert_eq!(
            a.description,
            "process 1 read value 11 of record key \"key-3\" (orders-2 offset 0) at 0.600 s before value 10 \
             (orders-0 offset 4), which process 0 had sent first, at 0.800 s: the key's records were in two \
             partitions, and Kafka orders records only within one (1 record of the key reached process 1 \
             before an earlier one)"
        );
        let records: Vec<_> = a.records.iter().map(|r| (r.key.as_str(), r.offset, r.value, r.op_index)).collect();
        assert_eq!(records, [("orders-0", Some(4), Some(10), Some(7)), ("orders-2", Some(0), Some(11), Some(5))]);
    }

    #[test]
    fn one_anomaly_per_reader_producer_and_key_counts_every_early_record() {
        let h = moved_key()
            .keyed_send_ok(0, "orders-2", 1, 12, "key-3")
            .poll_ok(1, &[("orders-2", &[(0, 11), (1, 12)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])]);
        let found = reorders(h);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].description.contains("before value 10"), "{}", found[0].description);
        assert!(found[0].description.contains("(2 records of the key reached process 1"), "{}", found[0].description);
    }

    #[test]
    fn two_members_of_one_group_are_one_reader() {
        let h = moved_key()
            .member(1, "billing", "c-1", 1)
            .member(2, "billing", "c-2", 1)
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_ok(2, &[("orders-0", &[(4, 10)])]);
        let found = reorders(h);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].description.starts_with(
                "group billing read value 11 of record key \"key-3\" (orders-2 offset 0) at 0.600 s (member c-1, \
                 process 1) before value 10"
            ),
            "{}",
            found[0].description
        );
        assert!(found[0].description.contains("at 0.800 s (member c-2, process 2)"), "{}", found[0].description);
    }

    #[test]
    fn a_group_that_records_processing_is_judged_by_the_order_it_processed() {
        // One poll hands both records over; the application then processes the later
        // one first (its partition's records came first in its backlog).
        let polled_together = || {
            moved_key().member(1, "billing", "c-1", 1).poll_ok(1, &[("orders-0", &[(4, 10)]), ("orders-2", &[(0, 11)])])
        };
        assert_eq!(reorders(polled_together()), vec![], "one poll orders nothing across partitions");
        let processed_out_of_order =
            polled_together().process_ok(1, &[("orders-2", &[(0, 11)])]).process_ok(1, &[("orders-0", &[(4, 10)])]);
        let found = reorders(processed_out_of_order);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].description.starts_with("group billing processed value 11 of record key \"key-3\""),
            "{}",
            found[0].description
        );
        // Processed in send order: the polls' order no longer matters.
        let polled_out_of_order = moved_key()
            .member(1, "billing", "c-1", 1)
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])])
            .process_ok(1, &[("orders-0", &[(4, 10)])])
            .process_ok(1, &[("orders-2", &[(0, 11)])]);
        assert_eq!(reorders(polled_out_of_order), vec![]);
    }

    #[test]
    fn polls_of_txn_ops_deliver_too() {
        let h = moved_key().txn(1, OpType::Ok, &[M::Poll(&[("orders-2", &[(0, 11)])])]).txn(
            1,
            OpType::Ok,
            &[M::Poll(&[("orders-0", &[(4, 10)])])],
        );
        assert_eq!(reorders(h).len(), 1);
    }

    #[test]
    fn a_reorder_within_one_partition_is_not_this_checkers_business() {
        let h = Hist::new()
            .keyed_send_ok(0, "orders-0", 4, 10, "key-3")
            .keyed_send_ok(0, "orders-0", 5, 11, "key-3")
            .poll_ok(1, &[("orders-0", &[(5, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn different_producers_or_keys_promise_no_order() {
        let producers = Hist::new()
            .keyed_send_ok(0, "orders-0", 4, 10, "key-3")
            .keyed_send_ok(5, "orders-2", 0, 11, "key-3")
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(producers), vec![]);
        let keys = Hist::new()
            .keyed_send_ok(0, "orders-0", 4, 10, "key-3")
            .keyed_send_ok(0, "orders-2", 0, 11, "key-4")
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(keys), vec![]);
        // Without record keys nothing is known about keys at all.
        let unkeyed = Hist::new()
            .send_ok(0, "orders-0", 4, 10)
            .send_ok(0, "orders-2", 0, 11)
            .poll_ok(1, &[("orders-2", &[(0, 11)])]);
        assert_eq!(reorders(unkeyed.poll_ok(1, &[("orders-0", &[(4, 10)])])), vec![]);
    }

    #[test]
    fn records_of_one_poll_are_not_ordered_across_partitions() {
        let h = moved_key().poll_ok(1, &[("orders-0", &[(4, 10)]), ("orders-2", &[(0, 11)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn an_earlier_record_never_read_is_a_loss_not_a_reorder() {
        assert_eq!(reorders(moved_key().poll_ok(1, &[("orders-2", &[(0, 11)])])), vec![]);
    }

    #[test]
    fn only_the_first_delivery_counts() {
        // Read in order, then 10 again after a rebalance: a duplicate, not a reorder.
        let h = moved_key()
            .poll_ok(1, &[("orders-0", &[(4, 10)])])
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn the_final_drain_reads_nothing() {
        let h = moved_key()
            .poll_ok(DRAIN_PROCESS, &[("orders-2", &[(0, 11)])])
            .poll_ok(DRAIN_PROCESS, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn each_group_reads_in_its_own_order() {
        // Group b is done with both before group a reads either: each in send order.
        let h = moved_key()
            .member(1, "a", "a-1", 1)
            .member(2, "b", "b-1", 1)
            .poll_ok(2, &[("orders-0", &[(4, 10)])])
            .poll_ok(2, &[("orders-2", &[(0, 11)])])
            .poll_ok(1, &[("orders-0", &[(4, 10)])])
            .poll_ok(1, &[("orders-2", &[(0, 11)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn overlapping_polls_of_two_members_are_not_ordered() {
        // Member c-2's poll that returns 10 began before c-1's poll returned 11.
        let h = moved_key()
            .member(1, "billing", "c-1", 1)
            .member(2, "billing", "c-2", 1)
            .poll_invoke(2)
            .poll_ok(1, &[("orders-2", &[(0, 11)])])
            .poll_done(2, &[("orders-0", &[(4, 10)])]);
        assert_eq!(reorders(h), vec![]);
    }

    #[test]
    fn latest_tracks_the_best_start_outside_a_partition() {
        let mut latest = Latest::default();
        assert_eq!(latest.other_than("a"), None);
        latest.add(5, "a");
        assert_eq!((latest.other_than("a"), latest.other_than("b")), (None, Some(5)));
        latest.add(3, "b");
        latest.add(7, "a");
        assert_eq!((latest.other_than("a"), latest.other_than("b")), (Some(3), Some(7)));
        latest.add(9, "c");
        assert_eq!((latest.other_than("a"), latest.other_than("c")), (Some(9), Some(7)));
    }
}
