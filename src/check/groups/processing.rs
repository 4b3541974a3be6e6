//! What a group did with its records: `consume-skip` (committed past records nobody
//! processed) and `consume-duplicate` (processed a record more than once). Definitions in
//! the [module docs](super).

use super::{GroupOps, MemberOp};
use crate::check::describe::{offset_ranges, plural, sample};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{MicroOp, Op, OpFn, OpType, OpValue, PolledRecords};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How many skipped records a `consume-skip` anomaly lists in `records` (the description
/// gives the count and every offset range).
pub const SKIP_LISTED_RECORDS: usize = 20;

/// How many values a `consume-skip` description spells out.
const SKIP_VALUES_SHOWN: usize = 5;

/// How many processings a `consume-duplicate` description spells out.
const DUPLICATE_PROCESSINGS_SHOWN: usize = 4;

/// The records of an `ok` process op, if its value holds any.
fn processed<'a>(m: &MemberOp<'a>) -> Option<&'a PolledRecords> {
    match m.value {
        OpValue::Records(records) => Some(records),
        _ => None,
    }
}

/// Per group and key: where the group started consuming it (the smallest offset any
/// member polled or processed) and the offsets its members finished processing.
#[derive(Default)]
struct Consumption {
    start: Option<u64>,
    /// Ascending, once [`consumption`] has sorted them (a `BTreeSet` insert per processed
    /// record was a third of the group checkers' time).
    processed: Vec<u64>,
}

impl Consumption {
    fn saw(&mut self, offset: u64) {
        self.start = Some(self.start.map_or(offset, |s| s.min(offset)));
    }

    fn processed(&self, offset: u64) -> bool {
        self.processed.binary_search(&offset).is_ok()
    }
}

fn consumption<'a>(ops: &GroupOps<'a>) -> BTreeMap<(&'a str, &'a str), Consumption> {
    let mut by: BTreeMap<(&'a str, &'a str), Consumption> = BTreeMap::new();
    for m in &ops.ops {
        let group = m.ctx.group.as_str();
        match m.op.f {
            // Any completion of a poll returned records that were in the log.
            OpFn::Poll | OpFn::Txn => {
                for mop in m.op.micro_ops() {
                    let MicroOp::Poll { records: Some(records) } = mop else { continue };
                    for (key, pairs) in records {
                        let c = by.entry((group, key.as_str())).or_default();
                        pairs.iter().for_each(|(o, _)| c.saw(*o));
                    }
                }
            }
            // A record the member dead-lettered is done with too (see the module docs).
            OpFn::Process | OpFn::DeadLetter if m.op.kind == OpType::Ok => {
                for (key, pairs) in processed(m).into_iter().flatten() {
                    let c = by.entry((group, key.as_str())).or_default();
                    for (o, _) in pairs {
                        c.saw(*o);
                        c.processed.push(*o);
                    }
                }
            }
            _ => {}
        }
    }
    for c in by.values_mut() {
        c.processed.sort_unstable();
        c.processed.dedup();
    }
    by
}

/// `consume-skip`: one anomaly per `ok` commit that first passed existing records no
/// member of its group finished processing, in history order of the commits.
///
/// For a partition in `added` (by key, the groups subscribed to its topic when it was
/// added), the group's start is offset 0 whatever it first read.
pub(super) fn consume_skips(ops: &GroupOps<'_>, added: &BTreeMap<Arc<str>, BTreeSet<&str>>) -> Vec<Anomaly> {
    let consumed = consumption(ops);
    // Per group and key, the offset below which every record has been judged: a record
    // is skipped or not for the whole history (processing counts whenever it happened),
    // so a later commit need only look past where the earlier ones looked.
    let mut judged_to: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut out = Vec::new();
    for commit in ops.ok(OpFn::Commit) {
        let OpValue::Offsets(offsets) = commit.value else { continue };
        let group = commit.ctx.group.as_str();
        for (key, &next) in offsets {
            let key = key.as_str();
            let (Some(c), Some(seen)) = (consumed.get(&(group, key)), ops.seen.get(key)) else { continue };
            let added_later = added.get(key).is_some_and(|groups| groups.contains(group));
            let start = if added_later { c.start.map(|_| 0) } else { c.start };
            let Some(start) = start.filter(|&s| s < next) else { continue };
            let judged = judged_to.entry((group, key)).or_insert(start);
            if *judged >= next {
                continue;
            }
            let skipped: Vec<(u64, u64, Option<&Op>)> = seen
                .range(*judged..next)
                .iter()
                .filter(|(o, _)| !c.processed(*o))
                .map(|(o, s)| (*o, s.value, s.op))
                .collect();
            *judged = next;
            if !skipped.is_empty() {
                let mut anomaly = skip_anomaly(commit, key, next, start, &skipped);
                if added_later && skipped.iter().any(|&(o, _, _)| c.start.is_some_and(|s| o < s)) {
                    anomaly.description.push_str(&format!(
                        " {key} was added while the group was subscribed to its topic, and the group first read it \
                         at offset {}: a member assigned it without a committed offset reset past the records \
                         written before (auto.offset.reset=latest, KAFKA-12261).",
                        c.start.unwrap_or(0)
                    ));
                }
                out.push(anomaly);
            }
        }
    }
    out
}

fn skip_anomaly(
    commit: &MemberOp<'_>,
    key: &str,
    next: u64,
    start: u64,
    skipped: &[(u64, u64, Option<&Op>)],
) -> Anomaly {
    let values: Vec<u64> = skipped.iter().map(|(_, v, _)| *v).collect();
    let offsets = offset_ranges(skipped.iter().map(|(o, _, _)| *o));
    let (noun, values_noun) = if skipped.len() == 1 { ("offset", "value") } else { ("offsets", "values") };
    let mut description = format!(
        "Group {} committed {key} up to offset {next} ({}), past {} no member of the group finished processing \
         (the group consumes {key} from offset {start}): {noun} {offsets} ({values_noun} {}).",
        commit.ctx.group,
        commit.who_when(),
        plural(skipped.len(), "record"),
        sample(&values, SKIP_VALUES_SHOWN),
    );
    let deleted = skipped.iter().filter(|(_, _, poll)| poll.is_none()).count();
    if deleted > 0 {
        description.push_str(&format!(
            " {} deleted by retention before any member read {}.",
            if deleted == skipped.len() { "All were".to_string() } else { format!("{deleted} of them were") },
            if deleted == 1 { "it" } else { "them" }
        ));
    }
    if skipped.len() > SKIP_LISTED_RECORDS {
        description.push_str(&format!(" The first {SKIP_LISTED_RECORDS} are listed."));
    }
    let mut records =
        vec![RecordRef::new(key, Some(next), None, format!("committed next offset {next} by {}", commit.who()))
            .seen_in(commit.op)];
    records.extend(skipped.iter().take(SKIP_LISTED_RECORDS).map(|&(o, v, poll)| {
        match poll {
            Some(poll) => {
                RecordRef::new(key, Some(o), Some(v), format!("polled at offset {o}, never processed by the group"))
                    .seen_in(poll)
                    .subject()
            }
            None => RecordRef::new(key, Some(o), Some(v), format!("deleted by retention at offset {o}, never read"))
                .subject(),
        }
    }));
    Anomaly::new(AnomalyKind::ConsumeSkip, description, records)
}

/// `consume-duplicate`: one anomaly per group and record processed more than once, in
/// group, key and offset order.
pub(super) fn consume_duplicates(ops: &GroupOps<'_>) -> Vec<Anomaly> {
    // Per group and key, every processing as (offset, value, op), in history order; then
    // sorted (stably) so that the processings of one record lie side by side.
    type Processing<'o, 'a> = (u64, u64, &'o MemberOp<'a>);
    let mut by_key: BTreeMap<(&str, &str), Vec<Processing<'_, '_>>> = BTreeMap::new();
    for m in ops.ok(OpFn::Process) {
        for (key, pairs) in processed(m).into_iter().flatten() {
            let list = by_key.entry((m.ctx.group.as_str(), key.as_str())).or_default();
            list.extend(pairs.iter().map(|&(offset, value)| (offset, value, m)));
        }
    }
    type Record<'a> = (&'a str, &'a str, u64, u64);
    let mut processings: Vec<(Record<'_>, Vec<&MemberOp<'_>>)> = Vec::new();
    for ((group, key), mut list) in by_key {
        list.sort_by_key(|&(offset, value, _)| (offset, value));
        for run in list.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).filter(|run| run.len() > 1) {
            let (offset, value, _) = run[0];
            processings.push(((group, key, offset, value), run.iter().map(|&(_, _, m)| m).collect()));
        }
    }
    let mut out = Vec::new();
    for ((group, key, offset, value), by) in processings {
        if by.len() < 2 {
            continue;
        }
        let members: BTreeSet<&str> = by.iter().map(|m| m.ctx.member.as_str()).collect();
        let whom = if members.len() == 1 { "by one member" } else { "by different members" };
        let phrases: Vec<String> = by.iter().map(|m| format!("by {}", m.who_when())).collect();
        out.push(Anomaly::new(
            AnomalyKind::ConsumeDuplicate,
            format!(
                "Group {group} processed {key} offset {offset} (value {value}) {} {whom}: {}.",
                times(by.len()),
                sample(&phrases, DUPLICATE_PROCESSINGS_SHOWN)
            ),
            by.iter()
                .enumerate()
                .map(|(i, m)| {
                    let note = format!("processing {} of {} by {}", i + 1, by.len(), m.who());
                    RecordRef::new(key, Some(offset), Some(value), note).seen_in(m.op)
                })
                .collect(),
        ));
    }
    out
}

/// `twice`, `3 times`.
fn times(n: usize) -> String {
    if n == 2 {
        "twice".to_string()
    } else {
        format!("{n} times")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    fn skips(h: &crate::history::History) -> Vec<Anomaly> {
        super::super::consume_skips(h)
    }

    fn dups(h: &crate::history::History) -> Vec<Anomaly> {
        consume_duplicates(&GroupOps::new(h))
    }

    fn offsets(a: &Anomaly) -> Vec<Option<u64>> {
        a.records.iter().map(|r| r.offset).collect()
    }

    /// A member subscribed to topic x, partition x-1 added `added_after_subscribe` or
    /// before it, the member first reading x-1 at offset 3 (a reset to `latest`) and
    /// committing 4, the drain reading x-1 from 0.
    fn new_partition_read_from_its_end(added_after_subscribe: bool) -> crate::history::History {
        let created = crate::history::Event::PartitionCreated { tp: "x-1".into(), replicas: vec![1] };
        let h = Hist::new();
        let h = if added_after_subscribe { h } else { h.event("controller-1", created.clone()) };
        let h = h.member(1, "g", "m1", 1).subscribe(1, &["x"]);
        let h = if added_after_subscribe { h.event("controller-1", created) } else { h };
        h.poll_ok(1, &[("x-1", &[(3, 13)])])
            .process_ok(1, &[("x-1", &[(3, 13)])])
            .commit_ok(1, &[("x-1", 4)])
            .poll_ok(1_000_000, &[("x-1", &[(0, 10), (1, 11), (2, 12), (3, 13)])])
            .build()
    }

    #[test]
    fn a_partition_added_while_the_group_was_subscribed_is_owed_from_offset_0() {
        // KAFKA-12261: the member assigned the new partition had no committed offset and
        // reset to its end, past records written after the group had subscribed.
        let found = skips(&new_partition_read_from_its_end(true));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(offsets(&found[0])[1..], [Some(0), Some(1), Some(2)]);
        assert!(
            found[0].description.ends_with(
                "x-1 was added while the group was subscribed to its topic, and the group first read it at offset \
                 3: a member assigned it without a committed offset reset past the records written before \
                 (auto.offset.reset=latest, KAFKA-12261)."
            ),
            "{}",
            found[0].description
        );
        // A partition that existed before the group subscribed: starting at its end is what
        // `latest` asks for.
        assert_eq!(skips(&new_partition_read_from_its_end(false)), vec![]);
    }

    #[test]
    fn auto_commit_then_crash_before_processing_is_a_skip() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11), (2, 12)])])
            .process_ok(1, &[("x-0", &[(0, 10)])])
            .commit_ok(1, &[("x-0", 3)])
            .crash(1)
            .member(2, "g", "m2", 2)
            .poll_ok(2, &[("x-0", &[(3, 13)])])
            .process_ok(2, &[("x-0", &[(3, 13)])])
            .commit_ok(2, &[("x-0", 4)])
            .build();
        let found = skips(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::ConsumeSkip);
        assert_eq!(
            found[0].description,
            "Group g committed x-0 up to offset 3 (m1 (generation 1, process 1) at 0.500 s), past 2 records no \
             member of the group finished processing (the group consumes x-0 from offset 0): offsets 1-2 \
             (values 11, 12)."
        );
        assert_eq!(offsets(&found[0]), vec![Some(3), Some(1), Some(2)]);
        assert_eq!(found[0].records[1].value, Some(11));
        assert_eq!(found[0].records[1].op_index, Some(1), "the poll that showed the record");
    }

    fn retention_deleted(
        tp: &str,
        removed: Vec<(u64, u64, u32)>,
        reason: crate::history::LogStartReason,
    ) -> crate::history::Event {
        crate::history::Event::LogStartAdvanced {
            tp: tp.into(),
            broker: 1,
            is_leader: true,
            log_start_offset: removed.last().map_or(0, |r| r.0 + 1),
            removed,
            reason,
        }
    }

    #[test]
    fn records_retention_deleted_before_the_group_read_them_are_skipped_by_its_commit() {
        // The member read offset 0, fell behind, retention deleted 1-2, and after a reset
        // to latest it processed 3 and committed 4.
        let behind = |reason: crate::history::LogStartReason| {
            Hist::new()
                .member(1, "g", "m1", 1)
                .poll_ok(1, &[("x-0", &[(0, 10)])])
                .process_ok(1, &[("x-0", &[(0, 10)])])
                .event("broker-1", retention_deleted("x-0", vec![(0, 10, 1), (1, 11, 1), (2, 12, 1)], reason))
                .poll_ok(1, &[("x-0", &[(3, 13)])])
                .process_ok(1, &[("x-0", &[(3, 13)])])
                .commit_ok(1, &[("x-0", 4)])
                .build()
        };
        let found = skips(&behind(crate::history::LogStartReason::RetentionMs));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(offsets(&found[0]), vec![Some(4), Some(1), Some(2)]);
        assert!(found[0].description.ends_with("All were deleted by retention before any member read them."));
        // A follower following its leader's log start proves nothing by itself.
        assert!(skips(&behind(crate::history::LogStartReason::LeaderLogStart)).is_empty());
    }

    #[test]
    fn processing_after_the_commit_is_not_a_skip() {
        // Commit before processing (at most once) that survives: nothing is lost.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .commit_ok(1, &[("x-0", 2)])
            .process_pair(1, OpType::Ok, &[("x-0", &[(0, 10), (1, 11)])])
            .build();
        assert!(skips(&h).is_empty());
    }

    #[test]
    fn failed_and_unfinished_commits_and_processing_do_not_count() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .process_pair(1, OpType::Info, &[("x-0", &[(1, 11)])])
            .commit(1, OpType::Fail, &[("x-0", 2)])
            .commit(1, OpType::Info, &[("x-0", 2)])
            .commit_invoke(1, &[("x-0", 2)])
            .build();
        assert!(skips(&h).is_empty(), "no commit was accepted");
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .process_pair(1, OpType::Info, &[("x-0", &[(0, 10), (1, 11)])])
            .commit_ok(1, &[("x-0", 2)])
            .build();
        assert_eq!(offsets(&skips(&h)[0]), vec![Some(2), Some(0), Some(1)], "an info process finished nothing");
    }

    #[test]
    fn a_record_the_member_dead_lettered_is_done_with_but_not_processed() {
        // A pipeline processes 10, gives up on 11 (dead-letters it) and commits past both.
        let h = |dead_lettered: bool| {
            let h = Hist::new()
                .member(1, "g", "m1", 1)
                .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
                .process_ok(1, &[("x-0", &[(0, 10)])]);
            let h = if dead_lettered { h.dead_letter(1, &[("x-0", &[(1, 11)])]) } else { h };
            h.commit_ok(1, &[("x-0", 2)]).build()
        };
        assert!(skips(&h(true)).is_empty(), "{:?}", skips(&h(true)));
        assert_eq!(offsets(&skips(&h(false))[0]), vec![Some(2), Some(1)]);
        // Dead-lettering a record twice is the dead-letter checker's duplicate, not a group's.
        let twice = Hist::new()
            .member(1, "g", "m1", 1)
            .dead_letter(1, &[("x-0", &[(1, 11)])])
            .dead_letter(1, &[("x-0", &[(1, 11)])])
            .build();
        assert!(dups(&twice).is_empty());
    }

    #[test]
    fn records_before_the_group_started_do_not_count() {
        // auto.offset.reset=latest: the group starts at offset 5; the drain shows 0-4.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(5, 15)])])
            .process_ok(1, &[("x-0", &[(5, 15)])])
            .commit_ok(1, &[("x-0", 6)])
            .poll_ok(9, &[("x-0", &[(0, 10), (1, 11), (2, 12), (3, 13), (4, 14), (5, 15)])])
            .build();
        assert!(skips(&h).is_empty());
    }

    #[test]
    fn records_only_the_drain_saw_count_once_the_group_started() {
        // The group committed past 6 and 7 without polling them; the drain shows they exist.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(5, 15)])])
            .process_ok(1, &[("x-0", &[(5, 15)])])
            .commit_ok(1, &[("x-0", 8)])
            .commit_ok(1, &[("x-0", 9)])
            .poll_ok(9, &[("x-0", &[(5, 15), (6, 16), (7, 17), (8, 18), (9, 19)])])
            .build();
        let found = skips(&h);
        assert_eq!(found.len(), 2, "each commit reports only the records it newly passed");
        assert_eq!(offsets(&found[0]), vec![Some(8), Some(6), Some(7)]);
        assert_eq!(offsets(&found[1]), vec![Some(9), Some(8)]);
        assert!(found[1].description.contains("past 1 record no member"));
        assert!(found[1].description.ends_with("offset 8 (value 18)."));
    }

    #[test]
    fn another_member_or_another_group_processing_matters_per_group() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .member(2, "g", "m2", 2)
            .member(3, "other", "o1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .process_ok(2, &[("x-0", &[(0, 10), (1, 11)])])
            .commit_ok(1, &[("x-0", 2)])
            .poll_ok(3, &[("x-0", &[(0, 10), (1, 11)])])
            .commit_ok(3, &[("x-0", 2)])
            .build();
        let found = skips(&h);
        assert_eq!(found.len(), 1, "m2 processed group g's records; group other processed nothing");
        assert!(found[0].description.starts_with("Group other committed x-0 up to offset 2 (o1"));
    }

    #[test]
    fn a_key_the_group_never_consumed_is_not_checked() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .commit_ok(1, &[("x-0", 2)])
            .poll_ok(9, &[("x-0", &[(0, 10), (1, 11)])])
            .build();
        assert!(skips(&h).is_empty());
    }

    #[test]
    fn many_skipped_records_are_listed_up_to_the_cap() {
        let polled: Vec<(u64, u64)> = (0..30).map(|o| (o, 100 + o)).collect();
        let h =
            Hist::new().member(1, "g", "m1", 1).poll_ok(1, &[("x-0", &polled)]).commit_ok(1, &[("x-0", 30)]).build();
        let found = skips(&h);
        assert_eq!(found[0].records.len(), 1 + SKIP_LISTED_RECORDS);
        assert!(found[0].description.contains("past 30 records"));
        assert!(found[0].description.contains("offsets 0-29 (values 100, 101, 102, 103, 104 and 25 more)"));
        assert!(found[0].description.ends_with("The first 20 are listed."));
    }

    #[test]
    fn a_record_processed_by_two_members_is_a_duplicate() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .member(2, "g", "m2", 2)
            .process_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .crash(1)
            .process_ok(2, &[("x-0", &[(1, 11), (2, 12)])])
            .build();
        let found = dups(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::ConsumeDuplicate);
        assert_eq!(
            found[0].description,
            "Group g processed x-0 offset 1 (value 11) twice by different members: by m1 (generation 1, process \
             1) at 0.100 s, by m2 (generation 2, process 2) at 0.300 s."
        );
        assert_eq!(found[0].records.len(), 2);
        assert_eq!(found[0].records[1].note, "processing 2 of 2 by m2 (generation 2, process 2)");
    }

    #[test]
    fn the_same_member_processing_twice_counts_each_time() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .process_ok(1, &[("x-0", &[(0, 10), (0, 10)])])
            .process_pair(1, OpType::Ok, &[("x-0", &[(0, 10)])])
            .build();
        let found = dups(&h);
        assert_eq!(found.len(), 1);
        assert!(found[0].description.contains("(value 10) 3 times by one member"), "{}", found[0].description);
    }

    #[test]
    fn distinct_groups_values_and_unfinished_processing_are_not_duplicates() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .member(2, "other", "o1", 1)
            .process_ok(1, &[("x-0", &[(0, 10)])])
            .process_ok(2, &[("x-0", &[(0, 10)])])
            // A different value at the same offset is another record (inconsistent-offsets' job).
            .process_ok(1, &[("x-0", &[(0, 99)])])
            .process_pair(1, OpType::Info, &[("x-0", &[(0, 10)])])
            .process_ok(7, &[("x-0", &[(0, 10)])])
            .build();
        assert!(dups(&h).is_empty(), "{:?}", dups(&h));
    }
}
