//! Consumer-group anomalies: what a group as a whole did with the records it was given.
//!
//! **What the checkers read.** Ops of group members carry a group context (`group`,
//! `member`, `generation`); only ops that carry one (on the completion, or failing that
//! on its invocation) belong to a group. Completions are paired with the preceding
//! invocation of the same process, as in Jepsen; an op recorded as a bare completion
//! (how members record `process`) stands alone. Invocations that never complete are
//! ignored: nobody knows whether they took effect. The ops:
//!
//! - `assign` `ok`, value `Keys([partition keys])`: the member's assignment in its
//!   generation (one per rebalance, from SyncGroup);
//! - `poll` completions (`ok`, `info` or `fail`): the records a poll returned exist in
//!   the log, whatever became of the op afterwards;
//! - `process` `ok`, value `Records({key: [[offset, value], ...]})`: the member finished
//!   processing those records (a `process` op that is not `ok` processed nothing);
//! - `dead-letter` `ok`, value as `process`: the member gave up processing those records
//!   and sent them to its dead-letter topic, which finishes with them as far as
//!   `consume-skip` is concerned (whether they reached the dead-letter topic, once, is
//!   the `dead-letter-*` checkers' business, not a group's);
//! - `commit` `ok`, value `Offsets({key: next offset to consume})`: the coordinator
//!   accepted the commit (a `fail` commit was refused, an `info` one may or may not have
//!   been, so neither counts). The value is read from the completion, or from the
//!   invocation when the completion carries none.
//!
//! - `revoke` and `lose` `ok`, value `Keys([partition keys])`: the member gave those up
//!   (revoked while still in the group, or lost because it was not any more).
//!
//! `subscribe` and `crash` ops are not needed: membership is read from the contexts.
//! Records are identified by key and offset, shown with their value; a value that
//! changed under an offset is `inconsistent-offsets`' business, not a group's.
//!
//! The anomalies, one function each:
//!
//! - [`consume_skips`] (`consume-skip`): for a group and a key, the group's *start* is
//!   the smallest offset of that key any member of the group polled or processed (what
//!   the group could have consumed begins there: earlier records belong to a reset to
//!   `latest`, or to another group's era). A record *exists* when any poll, of any
//!   process in or out of the group (the final drain included), returned it, or when
//!   the trace shows retention deleting it (`log-start-advanced` for `retention.ms` or
//!   `retention.bytes`): a group that falls behind retention skips records nobody read. An `ok`
//!   commit of next offset `n` for the key *passes* every existing record at offsets
//!   `start <= offset < n`; a passed record that no member of the group ever finished
//!   processing (an `ok` `process` op with that key and offset, before or after the
//!   commit; or an `ok` `dead-letter` op: it gave up on the record) was skipped. One anomaly per commit that first passed skipped records,
//!   listing them; each record is reported once. A key the group never polled nor
//!   processed has no start, so its commits are not checked. A partition an
//!   administrator added (`partition-created` in the trace) after a member of the group
//!   subscribed to its topic starts at offset 0 whatever the group first read: every
//!   record in it was written after the group subscribed, and a member that reset to
//!   `latest` when it was assigned the partition skipped those before (KAFKA-12261).
//! - [`consume_duplicates`] (`consume-duplicate`): one record (key, offset and value)
//!   appears in more than one `ok` `process` op of a group's members, or twice in one,
//!   by the same or different members. One anomaly per group and record, saying how many
//!   times and by whom, so the number of anomalies is the number of records processed
//!   more than once.
//! - [`commit_regressions`] (`commit-regression`): for a group and a key, an `ok` commit
//!   `B` whose offset is lower than that of the last `ok` commit `A` that completed
//!   before `B` was invoked (commits overlapping in time are not ordered, so they are not
//!   compared). The coordinator refuses commits from a stale generation or an unknown
//!   member (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID), and within one generation a partition
//!   has one owner, so an accepted commit that goes backwards means a member consumed from
//!   the wrong position (a lost or stale committed offset after a coordinator moved, say).
//!   A rewind on purpose (an `ok` `rewind` op of a member of the group, or an
//!   administrator's reset of the group, naming the key) starts the comparison afresh:
//!   commits invoked after it are compared only with commits that completed after it.
//! - [`split_ownership`] (`split-ownership`): two different members of a group received
//!   one partition in `ok` `assign` ops of the same generation. One anomaly per group,
//!   generation and partition, naming every member that received it.
//! - [`reassigned_before_revoked`] (`reassigned-before-revoked`): a member's *claim* when
//!   it joins generation `g` is what it held just before its `ok` `assign` of `g`: the
//!   keys of its previous `assign`, less those it gave up since in `ok` `revoke` or `lose`
//!   ops (a member holds what it was assigned until it revokes or loses it). A key
//!   assigned in `g` to one member (one process) while another member of `g` claimed it
//!   and was not assigned it in `g` was handed over before its owner revoked it. The
//!   eager protocol revokes everything before rejoining, so claims are empty; the
//!   cooperative one leaves a claimed partition to nobody for one generation, and its
//!   owner revokes it after that generation's assignment, so it claims it no more in the
//!   next one. A crashed process claims nothing: it never joins again. One anomaly per
//!   group, generation, key and receiving member. (A key both members are assigned in
//!   `g` is `split-ownership` instead.) A group with no `revoke` or `lose` op at all is
//!   from a history that does not record revocations, and is not checked.
//! - [`stale_commits`] (`stale-commit-accepted`): an `ok` commit by a member in
//!   generation `g`, invoked after an `ok` `assign` of the same group in a later
//!   generation had completed: the group had moved on before the commit was sent (a
//!   member is assigned only after its generation was stored), so the coordinator had to
//!   refuse it (ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID). Likewise an `ok` commit by a
//!   static member's member id invoked after another member id of the same instance had
//!   been assigned after that member id's own last assignment (FENCED_INSTANCE_ID). One
//!   anomaly per such commit. Consumer-protocol groups (KIP-848, ops with a member epoch)
//!   are judged by member epochs instead: see `membership::stale_commits`.
//! - [`static_member_rebalances`] (`static-member-rebalanced`): a static member's
//!   restarted process first assigned in a later generation (or member epoch) than the
//!   one its previous process was last in, although nothing else explains a rebalance;
//!   see `static_members`.
//!
//! Under the consumer protocol (KIP-848) a context's `generation` is the member's own
//! epoch; `split-ownership` groups by it, and `reassigned-before-revoked` and
//! `stale-commit-accepted` have rules of their own for such groups (`membership`).

mod holdings;
mod membership;
mod processing;
mod rebalances;
mod static_members;

pub use rebalances::{ownerless_time, rebalances, without_uuid, OwnerlessTime, Rebalance};

use super::describe::{process, secs};
use super::per_key::PerKey;
use super::Anomaly;
use crate::history::{GroupContext, History, MicroOp, Op, OpFn, OpType, OpValue};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Commits of a group past records no member finished processing (`consume-skip`).
pub fn consume_skips(history: &History) -> Vec<Anomaly> {
    let ops = GroupOps::new(history);
    processing::consume_skips(&ops, &added_while_subscribed(history, &ops))
}

/// The partitions an administrator added (`partition-created` in the trace) after a
/// member of the group had subscribed to their topic, by group and key: the group could
/// have consumed every record of such a partition, from offset 0. By key, the groups.
fn added_while_subscribed<'a>(history: &'a History, ops: &GroupOps<'a>) -> BTreeMap<Arc<str>, BTreeSet<&'a str>> {
    let created: Vec<(u64, Arc<str>)> = history
        .trace
        .other_than_replica_traffic()
        .filter_map(|e| match &e.event {
            crate::history::Event::PartitionCreated { tp, .. } => Some((e.time_ns, tp.clone())),
            _ => None,
        })
        .collect();
    if created.is_empty() {
        return BTreeMap::new();
    }
    let group_of: BTreeMap<u64, &str> = ops.ops.iter().map(|m| (m.op.process, m.ctx.group.as_str())).collect();
    // Per group and topic, when a member first subscribed to it.
    let mut subscribed: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f == OpFn::Subscribe && o.kind == OpType::Ok) {
        let (Some(&group), OpValue::Keys(topics)) = (group_of.get(&op.process), &op.value) else { continue };
        for topic in topics {
            subscribed.entry((group, topic.as_str())).or_insert(op.time_ns);
        }
    }
    let mut added: BTreeMap<Arc<str>, BTreeSet<&str>> = BTreeMap::new();
    for (created_ns, key) in created {
        let Some((topic, _)) = key.rsplit_once('-') else { continue };
        for (&(group, _), _) in subscribed.iter().filter(|((_, t), &at)| *t == topic && at < created_ns) {
            added.entry(key.clone()).or_default().insert(group);
        }
    }
    added
}

/// Records processed more than once within a group (`consume-duplicate`).
pub fn consume_duplicates(history: &History) -> Vec<Anomaly> {
    processing::consume_duplicates(&GroupOps::new(history))
}

/// Accepted commits of a group that moved a partition's offset backwards
/// (`commit-regression`).
pub fn commit_regressions(history: &History) -> Vec<Anomaly> {
    membership::commit_regressions(&GroupOps::new(history))
}

/// Partitions assigned to two members of a group in one generation (`split-ownership`).
pub fn split_ownership(history: &History) -> Vec<Anomaly> {
    membership::split_ownership(&GroupOps::new(history))
}

/// Commits the coordinator accepted from members it had fenced (`stale-commit-accepted`).
pub fn stale_commits(history: &History) -> Vec<Anomaly> {
    membership::stale_commits(&GroupOps::new(history))
}

/// Partitions assigned in a generation whose other member still claimed them
/// (`reassigned-before-revoked`).
pub fn reassigned_before_revoked(history: &History) -> Vec<Anomaly> {
    membership::reassigned_before_revoked(&GroupOps::new(history))
}

/// Every consumer-group anomaly, in [`AnomalyKind`](super::AnomalyKind) order and,
/// within a kind, in the order found.
pub fn check(history: &History) -> Vec<Anomaly> {
    let ops = GroupOps::new(history);
    let mut all = processing::consume_skips(&ops, &added_while_subscribed(history, &ops));
    all.extend(processing::consume_duplicates(&ops));
    all.extend(membership::commit_regressions(&ops));
    all.extend(membership::split_ownership(&ops));
    all.extend(membership::reassigned_before_revoked(&ops));
    all.extend(membership::stale_commits(&ops));
    all.extend(static_members::static_member_rebalances(history, &ops));
    all
}

/// Restarts of static members that rebalanced their group although they came back in
/// time (`static-member-rebalanced`).
pub fn static_member_rebalances(history: &History) -> Vec<Anomaly> {
    static_members::static_member_rebalances(history, &GroupOps::new(history))
}

/// One completed op of a group member.
#[derive(Clone, Copy, Debug)]
pub(super) struct MemberOp<'a> {
    /// The completion.
    pub op: &'a Op,
    /// Position of the completion in the history.
    pub done_at: usize,
    /// Position of its invocation, or of the completion itself when it stands alone.
    pub invoked_at: usize,
    /// Who did it, in which generation.
    pub ctx: &'a GroupContext,
    /// What it did: the completion's value, or the invocation's when the completion
    /// carries none of the expected shape.
    pub value: &'a OpValue,
}

impl MemberOp<'_> {
    /// `consumer-1 (generation 3, process 2) at 2.104 s`.
    pub fn who_when(&self) -> String {
        format!("{} at {}", self.who(), secs(self.op.time_ns))
    }

    /// `consumer-1 (generation 3, process 2)`, or `(member epoch 3, ...)` under the
    /// consumer protocol.
    pub fn who(&self) -> String {
        format!(
            "{} ({} {}, {})",
            self.ctx.member,
            self.ctx.protocol.epoch_name(),
            self.ctx.generation,
            process(self.op.process)
        )
    }
}

/// Where a record was first seen to exist: its value and the poll that returned it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen<'a> {
    /// The value (the smallest, if polls disagree about the offset).
    pub value: u64,
    /// The first poll completion that returned it; `None` for a record no poll returned
    /// that retention deleted (the trace shows it was in the log).
    pub op: Option<&'a Op>,
}

/// What the group checkers share, computed once per history.
pub(super) struct GroupOps<'a> {
    /// Completed ops of group members, in history order.
    pub ops: Vec<MemberOp<'a>>,
    /// Key → offset → the record polls showed there, from every poll completion of
    /// every process (group members, standalone consumers and the drain alike).
    pub seen: BTreeMap<Cow<'a, str>, SeenRecords<'a>>,
    /// Per group and key, the history positions of the `ok` rewinds that moved the
    /// group's position on purpose: its members' own, and its administrator's resets.
    pub rewinds: BTreeMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> GroupOps<'a> {
    /// Pairs completions with invocations and collects group ops and polled records.
    pub fn new(history: &'a History) -> Self {
        let mut ops = Vec::new();
        let mut polled: PerKey<'a, Vec<(u64, Seen<'a>)>> = PerKey::new();
        let mut rewinds: BTreeMap<(&'a str, &'a str), Vec<usize>> = BTreeMap::new();
        for (at, op, invoke) in history.completions() {
            let invoked = invoke.map(|i| &history.ops[i]);
            if matches!(op.f, OpFn::Poll | OpFn::Txn) {
                record_polled(&mut polled, op);
            }
            let ctx = op.group.as_ref().or(invoked.and_then(|i| i.group.as_ref()));
            if let (OpFn::Rewind, OpType::Ok, OpValue::Rewind(rewind)) = (op.f, op.kind, &op.value) {
                if let Some(group) = rewind.group.as_deref().or(ctx.map(|c| c.group.as_str())) {
                    for key in rewind.partitions.keys() {
                        rewinds.entry((group, key.as_str())).or_default().push(at);
                    }
                }
            }
            let Some(ctx) = ctx else { continue };
            let value = if has_expected_shape(op) { &op.value } else { invoked.map_or(&op.value, |i| &i.value) };
            ops.push(MemberOp { op, done_at: at, invoked_at: invoke.unwrap_or(at), ctx, value });
        }
        let mut seen: BTreeMap<Cow<'a, str>, Vec<(u64, Seen<'a>)>> =
            polled.into_map().into_iter().map(|(key, records)| (Cow::Borrowed(key), records)).collect();
        // Records retention deleted existed too, even if nobody polled them in time.
        for e in history.trace.other_than_replica_traffic() {
            let Some((tp, removed)) = e.event.deleted_by_retention() else { continue };
            let offsets = seen.entry(Cow::Owned(tp.to_string())).or_default();
            offsets.extend(removed.iter().map(|&(offset, value, _)| (offset, Seen { value, op: None })));
        }
        let seen = seen.into_iter().map(|(key, records)| (key, SeenRecords::new(records))).collect();
        GroupOps { ops, seen, rewinds }
    }

    /// The `ok` ops of function `f`, in history order.
    pub fn ok(&self, f: OpFn) -> impl Iterator<Item = &MemberOp<'a>> {
        self.ops.iter().filter(move |m| m.op.kind == OpType::Ok && m.op.f == f)
    }
}

/// Whether an op's own value has the shape its function records on completion.
fn has_expected_shape(op: &Op) -> bool {
    matches!(
        (op.f, &op.value),
        (OpFn::Commit, OpValue::Offsets(_))
            | (OpFn::Process | OpFn::DeadLetter, OpValue::Records(_))
            | (OpFn::Assign | OpFn::Subscribe | OpFn::Revoke | OpFn::Lose, OpValue::Keys(_))
            | (OpFn::Poll | OpFn::Txn, OpValue::Txn(_))
    )
}

/// Adds the records a poll completion returned to `seen`.
fn record_polled<'a>(seen: &mut PerKey<'a, Vec<(u64, Seen<'a>)>>, op: &'a Op) {
    for mop in op.micro_ops() {
        let MicroOp::Poll { records: Some(records) } = mop else { continue };
        for (key, pairs) in records {
            seen.entry(key.as_str())
                .extend(pairs.iter().map(|&(offset, value)| (offset, Seen { value, op: Some(op) })));
        }
    }
}

/// The records of one key some poll returned or retention deleted, by offset: one
/// [`Seen`] per offset.
#[derive(Debug, Default)]
pub(super) struct SeenRecords<'a> {
    by_offset: Vec<(u64, Seen<'a>)>,
}

impl<'a> SeenRecords<'a> {
    /// From every sighting in history order: the polls' records, then those retention
    /// deleted. An offset's record is its first poll's, with the smallest value polls
    /// saw there; retention's account counts only for an offset no poll returned.
    /// (One sort instead of a `BTreeMap` insert per polled record.)
    fn new(mut sightings: Vec<(u64, Seen<'a>)>) -> Self {
        // Stable: the sightings of one offset stay in history order.
        sightings.sort_by_key(|&(offset, _)| offset);
        sightings.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same && later.1.op.is_some() && later.1.value < kept.1.value {
                kept.1.value = later.1.value;
            }
            same
        });
        SeenRecords { by_offset: sightings }
    }

    /// The records at offsets in `range`, by offset.
    pub fn range(&self, range: std::ops::Range<u64>) -> &[(u64, Seen<'a>)] {
        let start = self.by_offset.partition_point(|&(o, _)| o < range.start);
        let end = self.by_offset.partition_point(|&(o, _)| o < range.end).max(start);
        &self.by_offset[start..end]
    }

    /// The record at `offset`, if any.
    #[cfg(test)]
    pub fn get(&self, offset: u64) -> Option<&Seen<'a>> {
        self.range(offset..offset.saturating_add(1)).first().map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;
    use crate::check::{check_all, AnomalyKind};

    #[test]
    fn processing_while_an_asynchronous_commit_is_in_flight_leaves_the_commit_paired() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .commit_invoke(1, &[("x-0", 1)])
            .process_ok(1, &[("x-0", &[(1, 11)])])
            .commit_done(1, OpType::Ok, &[("x-0", 1)])
            .build();
        let ops = GroupOps::new(&h);
        let commit = ops.ok(OpFn::Commit).next().expect("the commit completed");
        assert_eq!((commit.invoked_at, commit.done_at), (2, 4), "paired with its own invocation");
        assert_eq!(ops.ok(OpFn::Process).count(), 1, "the process op stands alone");
        // The Jepsen pairing agrees: the commit is not left as an unfinished invocation.
        let completions = crate::check::jepsen::completions_for_tests(&h.ops);
        assert!(completions.iter().all(|(_, synthetic)| !synthetic), "{completions:?}");
    }

    #[test]
    fn only_ops_with_a_group_context_are_group_ops() {
        let h =
            Hist::new().poll_ok(9, &[("x-0", &[(0, 10)])]).member(1, "g", "m1", 1).commit_ok(1, &[("x-0", 1)]).build();
        let ops = GroupOps::new(&h);
        assert_eq!(ops.ops.len(), 1);
        assert_eq!(ops.ops[0].invoked_at, 2);
        assert_eq!(ops.ops[0].done_at, 3);
        assert_eq!(
            ops.seen["x-0"].get(0).map(|s| s.value),
            Some(10),
            "polls outside the group still show records exist"
        );
    }

    #[test]
    fn a_completion_without_a_value_takes_its_invocations() {
        let mut h = Hist::new().member(1, "g", "m1", 1).commit_ok(1, &[("x-0", 4)]).build();
        h.ops[1].value = OpValue::Nil;
        h.ops[1].group = None;
        let ops = GroupOps::new(&h);
        assert_eq!(ops.ops[0].value, &OpValue::Offsets([("x-0".to_string(), 4)].into_iter().collect()));
        assert_eq!(ops.ops[0].ctx.member, "m1", "the context comes from the invocation too");
    }

    #[test]
    fn a_healthy_group_with_a_rebalance_and_a_crash_is_clean() {
        let h = Hist::new()
            .send_ok(0, "x-0", 0, 10)
            .send_ok(0, "x-0", 1, 11)
            .send_ok(0, "x-1", 0, 20)
            .member(1, "g", "m1", 1)
            .subscribe(1, &["x"])
            .assign(1, &["x-0", "x-1"])
            .poll_ok(1, &[("x-0", &[(0, 10)]), ("x-1", &[(0, 20)])])
            .process_ok(1, &[("x-0", &[(0, 10)]), ("x-1", &[(0, 20)])])
            .commit_ok(1, &[("x-0", 1), ("x-1", 1)])
            // m2 joins: m1 revokes everything (eager), generation 2 splits the partitions.
            .revoke(1, &["x-0", "x-1"])
            .member(1, "g", "m1", 2)
            .member(2, "g", "m2", 2)
            .assign(1, &["x-0"])
            .assign(2, &["x-1"])
            .poll_ok(1, &[("x-0", &[(1, 11)])])
            .crash(1)
            // m1 crashed before processing 11; its replacement resumes from offset 1.
            .revoke(2, &["x-1"])
            .member(3, "g", "m3", 3)
            .member(2, "g", "m2", 3)
            .assign(3, &["x-0"])
            .assign(2, &["x-1"])
            .poll_ok(3, &[("x-0", &[(1, 11)])])
            .process_ok(3, &[("x-0", &[(1, 11)])])
            .commit_ok(3, &[("x-0", 2)])
            .commit(2, OpType::Fail, &[("x-1", 0)])
            .poll_ok(9, &[("x-0", &[(0, 10), (1, 11)]), ("x-1", &[(0, 20)])])
            .build();
        assert_eq!(check(&h), vec![]);
        assert_eq!(check_all(&h), vec![]);
    }

    #[test]
    fn check_all_reports_group_anomalies_in_kind_order() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 1)
            .assign(2, &["x-0"])
            .poll_ok(1, &[("x-0", &[(0, 10), (1, 11)])])
            .process_ok(1, &[("x-0", &[(0, 10)])])
            .process_ok(2, &[("x-0", &[(0, 10)])])
            .commit_ok(1, &[("x-0", 2)])
            .commit_ok(2, &[("x-0", 1)])
            .build();
        let kinds: Vec<AnomalyKind> = check_all(&h).iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![
                AnomalyKind::ConsumeSkip,
                AnomalyKind::ConsumeDuplicate,
                AnomalyKind::CommitRegression,
                AnomalyKind::SplitOwnership
            ]
        );
    }
}
