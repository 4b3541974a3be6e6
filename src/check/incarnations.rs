//! Anomalies across the incarnations of a topic name: an administrator deleted a topic
//! and a topic of the same name was created again, under a new topic id, while clients
//! ran (see [`crate::history::incarnations`] for how the history keeps the two apart:
//! `orders-0` and `orders#2-0`). Kafka's consumer keeps its positions, and OffsetCommit
//! names its partitions, by topic name only (`SubscriptionState` has no topic ids; the
//! OffsetCommit API carries none before v10), so both can cross from the deleted topic to
//! the new one. Each check here finds one way it did:
//!
//! - [`positions_carried`] (`position-carried`): a process polled a partition of the
//!   deleted topic, then, with no new assignment or subscription in between, read the
//!   same partition of the new topic from above its start. Its position came over from
//!   the deleted topic (a fetch at that offset of the new log, or a KIP-320 validation
//!   that clamped it to the new log's end), and the new topic's records below it were
//!   skipped.
//! - [`cross_incarnation_commits`] (`cross-incarnation-commit`): a group member
//!   committed, after the topic was deleted and created again, an offset its position
//!   held in the deleted topic; the coordinator stored it for the new topic (it checks the
//!   name only, `KafkaApis.handleOffsetCommitRequest`), so the partition's next owner
//!   starts there.
//!
//! Neither is a Kafka bug: both are what Kafka does when a topic's name is reused under
//! running clients (KIP-516 gave topics ids, but not these APIs).

use super::describe::{offset_ranges, plural, process, sample, secs};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::incarnations::{is_first_incarnation, split_incarnation};
use crate::history::{Event, History, MicroOp, Op, OpFn, OpType, OpValue};
use crate::protocol::TopicPartition;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A partition of a topic name, whatever its incarnation: `("orders", 0)`.
type NamedPartition<'a> = (&'a str, u32);

/// A history key split into its name, partition and incarnation number.
fn split_key(key: &str) -> Option<(NamedPartition<'_>, u32)> {
    let (topic, partition) = key.rsplit_once('-')?;
    let partition = partition.parse().ok()?;
    let (name, k) = split_incarnation(topic);
    Some(((name, partition), k))
}

/// When each incarnation's partition was created, from the trace (an administrator's
/// topic is traced as it is created; the scenario's own topics are there from the start).
fn created_at(history: &History) -> BTreeMap<Arc<str>, u64> {
    let mut created = BTreeMap::new();
    for e in history.trace.other_than_replica_traffic() {
        if let Event::PartitionCreated { tp, .. } = &e.event {
            created.entry(tp.clone()).or_insert(e.time_ns);
        }
    }
    created
}

/// Every acknowledged send by key and offset: the value and the op that acknowledged it.
fn acknowledged(history: &History) -> BTreeMap<&str, BTreeMap<u64, (u64, &Op)>> {
    let mut acked: BTreeMap<&str, BTreeMap<u64, (u64, &Op)>> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok && matches!(o.f, OpFn::Send | OpFn::Txn)) {
        for mop in op.micro_ops() {
            if let MicroOp::Send { key, value, offset: Some(offset) } = mop {
                acked.entry(&**key).or_default().entry(*offset).or_insert((*value, op));
            }
        }
    }
    acked
}

/// A position carried over: the op that last polled the deleted topic's partition, its
/// key and last offset, then the new topic's key, the first offset read there, and the
/// op that read it.
type Carried<'a> = (&'a Op, &'a str, u64, &'a str, u64, &'a Op);

/// Every poll that read a partition of a topic created again from above its start, its
/// process having last polled the partition of an earlier incarnation with no new
/// assignment or subscription in between.
fn carried_positions(history: &History) -> Vec<Carried<'_>> {
    let ok_polls = || history.ops.iter().filter(|o| o.kind == OpType::Ok && matches!(o.f, OpFn::Poll | OpFn::Txn));
    // A position is carried into a later incarnation only: nearly every history polls
    // none (no topic was created again), and needs no replay of its polls, which took
    // most of this checker's time on the bench.
    if !ok_polls().flat_map(polled_records).any(|(key, _)| !is_first_incarnation(key)) {
        return Vec::new();
    }
    // Per process and named partition: the key and last offset of its last poll.
    let mut last: BTreeMap<(u64, NamedPartition<'_>), (&str, u64, &Op)> = BTreeMap::new();
    let mut carried = Vec::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok) {
        match (&op.f, &op.value) {
            (OpFn::Subscribe, _) => last.retain(|(p, _), _| *p != op.process),
            (OpFn::Assign | OpFn::Revoke | OpFn::Lose, OpValue::Keys(keys)) => {
                for (partition, _) in keys.iter().filter_map(|k| split_key(k)) {
                    last.remove(&(op.process, partition));
                }
            }
            (OpFn::Poll | OpFn::Txn, _) => {
                for (key, pairs) in polled_records(op) {
                    let (Some((partition, k)), Some(&(first, _)), Some(&(end, _))) =
                        (split_key(key), pairs.first(), pairs.last())
                    else {
                        continue;
                    };
                    let previous = last.insert((op.process, partition), (key, end, op));
                    if let Some((before, before_end, before_op)) = previous {
                        let earlier_incarnation = split_key(before).is_some_and(|(_, j)| j < k);
                        if earlier_incarnation && first > 0 {
                            carried.push((before_op, before, before_end, key, first, op));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    carried
}

/// The records of an `ok` op's polls, by key.
fn polled_records(op: &Op) -> impl Iterator<Item = (&str, &[(u64, u64)])> {
    op.micro_ops()
        .iter()
        .flat_map(|mop| match mop {
            MicroOp::Poll { records: Some(records) } => Some(records.iter().map(|(k, pairs)| (k.as_str(), &pairs[..]))),
            _ => None,
        })
        .flatten()
}

/// Every value each process polled in `ok` ops, by key, to leave out records it read
/// later.
fn polled_by(history: &History) -> BTreeMap<(u64, &str), Vec<u64>> {
    let mut polled_by: BTreeMap<(u64, &str), Vec<u64>> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok && matches!(o.f, OpFn::Poll | OpFn::Txn)) {
        for (key, pairs) in polled_records(op) {
            if split_key(key).is_some() {
                polled_by.entry((op.process, key)).or_default().extend(pairs.iter().map(|p| p.1));
            }
        }
    }
    polled_by
}

/// `position-carried`: see the module documentation. One anomaly per process and
/// partition it carried a position over.
pub fn positions_carried(history: &History) -> Vec<Anomaly> {
    let carried = carried_positions(history);
    if carried.is_empty() {
        // Nearly every history: no need for the acknowledged sends and polled values
        // that describe a carried position, which took most of this checker's time.
        return Vec::new();
    }
    let acked = acknowledged(history);
    let created = created_at(history);
    let polled_by = polled_by(history);
    let mut anomalies = Vec::new();
    for (before_op, before, before_end, key, first, op) in carried {
        let read_later = polled_by.get(&(op.process, key));
        let skipped: Vec<(u64, u64, &Op)> = acked
            .get(key)
            .into_iter()
            .flat_map(|by_offset| by_offset.range(..first))
            .filter(|(_, (value, _))| read_later.is_none_or(|values| !values.contains(value)))
            .map(|(&offset, &(value, sender))| (offset, value, sender))
            .collect();
        if skipped.is_empty() {
            continue;
        }
        let since = created.get(key).map_or_else(String::new, |&t| format!(" at {}", secs(t)));
        let description = format!(
            "{} polled {before} up to offset {before_end} (at {}), then, with no new assignment in between, read \
             {key} — the topic created again under that name{since} — from offset {first}: its position came \
             over from the deleted topic (Kafka's consumer keeps positions by topic name), so it skipped {} \
             acknowledged there (offsets {}, values {}).",
            process(op.process),
            secs(before_op.time_ns),
            plural(skipped.len(), "record"),
            offset_ranges(skipped.iter().map(|s| s.0)),
            sample(&skipped.iter().map(|s| s.1).collect::<Vec<_>>(), 8),
        );
        let mut records = vec![
            RecordRef::new(before, Some(before_end), None, "last polled in the deleted topic").seen_in(before_op),
            RecordRef::new(key, Some(first), None, "first polled in the new topic").seen_in(op),
        ];
        records.extend(skipped.iter().map(|&(offset, value, sender)| {
            RecordRef::new(key, Some(offset), Some(value), "acknowledged, skipped by this process")
                .seen_in(sender)
                .subject()
        }));
        anomalies.push(Anomaly::new(AnomalyKind::PositionCarried, description, records));
    }
    anomalies
}

/// `cross-incarnation-commit`: see the module documentation. One anomaly per accepted
/// commit and partition.
pub fn cross_incarnation_commits(history: &History) -> Vec<Anomaly> {
    let created = created_at(history);
    let deletions = history.topic_deletions();
    // A key's later incarnations' partitions, with their creation times.
    let later_incarnation = |key: &str| -> Option<(String, u64)> {
        let ((name, partition), k) = split_key(key)?;
        created
            .iter()
            .filter_map(|(other, &t)| {
                let ((other_name, other_partition), j) = split_key(other)?;
                (other_name == name && other_partition == partition && j > k).then(|| (other.to_string(), t))
            })
            .min_by_key(|(_, t)| *t)
    };
    let mut invoked_at: BTreeMap<u64, u64> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for op in history.ops.iter().filter(|o| o.f == OpFn::Commit) {
        if op.kind == OpType::Invoke {
            invoked_at.insert(op.process, op.time_ns);
            continue;
        }
        let OpValue::Offsets(offsets) = &op.value else { continue };
        if op.kind != OpType::Ok {
            continue;
        }
        let invoked = invoked_at.get(&op.process).copied().unwrap_or(op.time_ns);
        for (key, &offset) in offsets {
            let Some(&deleted) = deletions.get(TopicPartition::topic_of(key)) else { continue };
            let Some((new_key, new_created)) = later_incarnation(key) else { continue };
            if invoked <= deleted || op.time_ns <= new_created {
                continue;
            }
            let group = op.group.as_ref().map_or_else(String::new, |g| format!("group {}'s ", g.group));
            let description = format!(
                "{group}{} committed offset {offset} for {key} at {}, a position in the topic deleted at {}; the \
                 coordinator accepted it for {new_key}, the topic created again under that name at {} \
                 (OffsetCommit names topics, not topic ids), so the partition's next owner starts at offset \
                 {offset} of a topic whose records before it nobody in the group has read.",
                process(op.process),
                secs(op.time_ns),
                secs(deleted),
                secs(new_created),
            );
            let records = vec![RecordRef::new(key, Some(offset), None, "committed position").seen_in(op).subject()];
            anomalies.push(Anomaly::new(AnomalyKind::CrossIncarnationCommit, description, records));
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    fn created(tp: &str) -> Event {
        Event::PartitionCreated { tp: tp.into(), replicas: vec![1] }
    }

    fn deleted(topic: &str) -> Event {
        Event::TopicDeleted { topic: topic.into() }
    }

    /// orders-0 holds 0..3, deleted; orders#2-0 is created and gets 0..5.
    fn recreated() -> Hist {
        Hist::new()
            .send_ok(0, "orders-0", 0, 10)
            .send_ok(0, "orders-0", 1, 11)
            .send_ok(0, "orders-0", 2, 12)
            .poll_ok(1, &[("orders-0", &[(0, 10), (1, 11), (2, 12)])])
            .event("controller-1", deleted("orders"))
            .event("controller-1", created("orders#2-0"))
            .send_ok(0, "orders#2-0", 0, 20)
            .send_ok(0, "orders#2-0", 1, 21)
            .send_ok(0, "orders#2-0", 2, 22)
            .send_ok(0, "orders#2-0", 3, 23)
            .send_ok(0, "orders#2-0", 4, 24)
    }

    #[test]
    fn a_position_that_came_over_from_the_deleted_topic_skips_the_new_topics_first_records() {
        let h = recreated().poll_ok(1, &[("orders#2-0", &[(3, 23), (4, 24)])]).build();
        let found = positions_carried(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].description.contains("offsets 0-2"), "{}", found[0].description);
        let subjects: Vec<u64> =
            found[0].records.iter().filter(|r| !r.role.is_context()).filter_map(|r| r.value).collect();
        assert_eq!(subjects, [20, 21, 22]);
    }

    #[test]
    fn reading_the_new_topic_from_its_start_or_after_a_new_assignment_carries_nothing() {
        let from_start = recreated().poll_ok(1, &[("orders#2-0", &[(0, 20), (1, 21)])]).build();
        assert!(positions_carried(&from_start).is_empty());
        let reassigned =
            recreated().assign(1, &["orders#2-0"]).poll_ok(1, &[("orders#2-0", &[(3, 23), (4, 24)])]).build();
        assert!(positions_carried(&reassigned).is_empty());
        let another_process = recreated().poll_ok(2, &[("orders#2-0", &[(3, 23)])]).build();
        assert!(positions_carried(&another_process).is_empty(), "process 2 never polled the deleted topic");
        // Records it skipped at first but read later are not skipped.
        let read_later = recreated()
            .poll_ok(1, &[("orders#2-0", &[(3, 23), (4, 24)])])
            .poll_ok(1, &[("orders#2-0", &[(0, 20), (1, 21), (2, 22)])])
            .build();
        assert!(positions_carried(&read_later).is_empty());
    }

    #[test]
    fn a_commit_of_the_deleted_topics_position_after_its_name_came_back_crosses_over() {
        let h = recreated().commit_ok(1, &[("orders-0", 3)]).build();
        let found = cross_incarnation_commits(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].description.contains("accepted it for orders#2-0"), "{}", found[0].description);
    }

    #[test]
    fn commits_before_the_deletion_or_of_the_new_topic_cross_nothing() {
        let before = Hist::new()
            .commit_ok(1, &[("orders-0", 3)])
            .event("controller-1", deleted("orders"))
            .event("controller-1", created("orders#2-0"))
            .build();
        assert!(cross_incarnation_commits(&before).is_empty());
        let of_new = recreated().commit_ok(1, &[("orders#2-0", 3)]).build();
        assert!(cross_incarnation_commits(&of_new).is_empty());
        let refused = recreated().commit(1, OpType::Fail, &[("orders-0", 3)]).build();
        assert!(cross_incarnation_commits(&refused).is_empty());
        let deleted_only =
            Hist::new().event("controller-1", deleted("orders")).commit_ok(1, &[("orders-0", 3)]).build();
        assert!(cross_incarnation_commits(&deleted_only).is_empty(), "no topic took the name again");
    }
}
