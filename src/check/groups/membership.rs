//! What the coordinator let a group do: `commit-regression` (an accepted commit moved a
//! partition's offset backwards), `split-ownership` (one partition handed to two
//! members in one generation) and `reassigned-before-revoked` (a partition handed over
//! while its owner still claimed it). Definitions in the [module docs](super).

use super::holdings::Holdings;
use super::{GroupOps, MemberOp};
use crate::check::describe::{plural, process, secs};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{OpFn, OpType, OpValue};
use crate::protocol::GroupProtocol;
use std::collections::{BTreeMap, BTreeSet};

/// `commit-regression`: one anomaly per `ok` commit whose offset for a key is below that
/// of the group's last `ok` commit of the key that completed before it was invoked, in
/// history order of the later commit.
pub(super) fn commit_regressions(ops: &GroupOps<'_>) -> Vec<Anomaly> {
    // Per group and key, the ok commits so far in completion order, with their offset.
    let mut accepted: BTreeMap<(&str, &str), Vec<(u64, &MemberOp<'_>)>> = BTreeMap::new();
    let mut out = Vec::new();
    for commit in ops.ok(OpFn::Commit) {
        let OpValue::Offsets(offsets) = commit.value else { continue };
        for (key, &offset) in offsets {
            let group_key = (commit.ctx.group.as_str(), key.as_str());
            // A rewind on purpose before this commit was invoked starts afresh.
            let rewound_at =
                ops.rewinds.get(&group_key).and_then(|at| at.iter().rev().find(|&&r| r < commit.invoked_at));
            let so_far = accepted.entry(group_key).or_default();
            // Commits still in flight when this one was invoked may have been applied in
            // either order, so only those that had completed are compared.
            let before = so_far
                .iter()
                .rev()
                .find(|(_, earlier)| earlier.done_at < commit.invoked_at)
                .filter(|(_, earlier)| rewound_at.is_none_or(|&r| earlier.done_at > r));
            if let Some(&(previous, earlier)) = before.filter(|(previous, _)| *previous > offset) {
                out.push(regression(key, previous, earlier, offset, commit));
            }
            so_far.push((offset, commit));
        }
    }
    out
}

fn regression(key: &str, previous: u64, earlier: &MemberOp<'_>, offset: u64, later: &MemberOp<'_>) -> Anomaly {
    Anomaly::new(
        AnomalyKind::CommitRegression,
        format!(
            "Group {}'s committed offset for {key} went back from {previous} (committed by {}) to {offset} \
             (committed by {}); the coordinator accepted both.",
            later.ctx.group,
            earlier.who_when(),
            later.who_when()
        ),
        vec![
            RecordRef::new(key, Some(previous), None, format!("committed next offset {previous} by {}", earlier.who()))
                .seen_in(earlier.op),
            RecordRef::new(key, Some(offset), None, format!("then committed next offset {offset} by {}", later.who()))
                .seen_in(later.op),
        ],
    )
}

/// `split-ownership`: one anomaly per group, generation and partition that `ok` assign
/// ops gave to more than one member, in group, generation and partition order. A static
/// member (KIP-345) is one member under each of its member ids: its restarted process
/// takes its place, and its partitions, in the same generation, and the coordinator
/// fences the old id (FENCED_INSTANCE_ID).
pub(super) fn split_ownership(ops: &GroupOps<'_>) -> Vec<Anomaly> {
    // (group, generation, key) -> member -> the first assign op that gave it the key.
    type Owners<'a, 'o> = BTreeMap<&'a str, &'o MemberOp<'a>>;
    let mut owners: BTreeMap<(&str, u32, &str), Owners<'_, '_>> = BTreeMap::new();
    for assign in ops.ok(OpFn::Assign) {
        let OpValue::Keys(keys) = assign.value else { continue };
        let ctx = assign.ctx;
        for key in keys {
            let by_member = owners.entry((ctx.group.as_str(), ctx.generation, key.as_str())).or_default();
            by_member.entry(ctx.owner()).or_insert(assign);
        }
    }
    let mut out = Vec::new();
    for ((group, generation, key), by_member) in owners {
        if by_member.len() < 2 {
            continue;
        }
        // Members in the order they received the partition.
        let mut holders: Vec<&MemberOp<'_>> = by_member.into_values().collect();
        holders.sort_by_key(|m| m.done_at);
        let phrases: Vec<String> = holders
            .iter()
            .map(|m| format!("{} ({}) at {}", m.ctx.member, process(m.op.process), secs(m.op.time_ns)))
            .collect();
        out.push(Anomaly::new(
            AnomalyKind::SplitOwnership,
            format!(
                "Group {group} generation {generation} assigned {key} to {}: {}.",
                plural(holders.len(), "member"),
                and_list(&phrases)
            ),
            holders
                .iter()
                .map(|m| {
                    let note = format!("assigned to {} in generation {generation}", m.ctx.member);
                    RecordRef::new(key, None, None, note).seen_in(m.op)
                })
                .collect(),
        ));
    }
    out
}

/// One member's `assign` in a generation, with what it claimed when it joined.
struct Joined<'o, 'a> {
    assign: &'o MemberOp<'a>,
    /// The keys it held just before this assignment.
    claimed: BTreeSet<&'a str>,
    /// The keys it was assigned.
    assigned: BTreeSet<&'a str>,
}

/// `reassigned-before-revoked`: one anomaly per group, generation, key and member given a
/// key that another member of the generation still claimed, in group, generation, key
/// and history order.
pub(super) fn reassigned_before_revoked<'a>(ops: &GroupOps<'a>) -> Vec<Anomaly> {
    let mut out = handed_over_then_revoked(ops);
    let mut holdings = Holdings::default();
    // Per group and generation: each member's assignments, in history order.
    let mut generations: BTreeMap<(&str, u32), Vec<Joined<'_, '_>>> = BTreeMap::new();
    let classic = |m: &&MemberOp<'_>| m.op.kind == OpType::Ok && m.ctx.protocol == GroupProtocol::Classic;
    for m in ops.ops.iter().filter(classic) {
        let OpValue::Keys(keys) = m.value else { continue };
        for change in holdings.apply(m.op.process, m.op.f, Some(m.ctx.group.as_str()), keys) {
            if m.op.f == OpFn::Assign {
                let assigned = keys.iter().map(String::as_str).collect();
                let joined = Joined { assign: m, claimed: change.before, assigned };
                generations.entry((m.ctx.group.as_str(), m.ctx.generation)).or_default().push(joined);
            }
        }
    }
    // A group none of whose members ever revoked or lost a partition is from a history
    // that does not record revocations (older kafkasim, or written by hand): its claims
    // are unknown.
    let records_revocations: BTreeSet<&str> =
        ops.ops.iter().filter(|m| matches!(m.op.f, OpFn::Revoke | OpFn::Lose)).map(|m| m.ctx.group.as_str()).collect();
    let mut found: BTreeMap<(&str, u32, &str, usize), Anomaly> = BTreeMap::new();
    for ((group, generation), joined) in generations.iter().filter(|((g, _), _)| records_revocations.contains(g)) {
        for owner in joined {
            for taker in joined.iter().filter(|t| t.assign.op.process != owner.assign.op.process) {
                for &key in owner.claimed.iter().filter(|k| taker.assigned.contains(*k) && !owner.assigned.contains(*k))
                {
                    found
                        .entry((group, *generation, key, taker.assign.done_at))
                        .or_insert_with(|| unrevoked(group, *generation, key, owner.assign, taker.assign));
                }
            }
        }
    }
    out.extend(found.into_values());
    out
}

/// `reassigned-before-revoked` under the consumer protocol (KIP-848), whose member
/// epochs are per member: an `ok` `assign` gave a member a key another member process
/// held at that moment and revoked only afterwards (as a member in good standing: a
/// fenced owner loses its partitions instead). The coordinator hands a partition over
/// only once its owner acknowledged the revocation, which follows the revoke. One
/// anomaly per key and receiving assign, in history order.
fn handed_over_then_revoked(ops: &GroupOps<'_>) -> Vec<Anomaly> {
    let kip848 = |m: &&MemberOp<'_>| m.op.kind == OpType::Ok && m.ctx.protocol == GroupProtocol::Consumer;
    let mut holdings = Holdings::default();
    let mut out = Vec::new();
    let group_ops: Vec<&MemberOp<'_>> = ops.ops.iter().filter(kip848).collect();
    for (i, m) in group_ops.iter().enumerate() {
        let OpValue::Keys(keys) = m.value else { continue };
        let group = m.ctx.group.as_str();
        let owners: Vec<(u64, &str)> = if m.op.f == OpFn::Assign {
            keys.iter()
                .filter_map(|k| holdings.holder_other_than(m.op.process, group, k).map(|p| (p, k.as_str())))
                .collect()
        } else {
            Vec::new()
        };
        holdings.apply(m.op.process, m.op.f, Some(group), keys);
        for (owner, key) in owners {
            let revoke = group_ops[i + 1..].iter().find(|later| {
                later.op.process == owner
                    && later.ctx.group == group
                    && matches!(later.op.f, OpFn::Revoke | OpFn::Lose)
                    && matches!(later.value, OpValue::Keys(ks) if ks.iter().any(|k| k == key))
            });
            if let Some(revoke) = revoke.filter(|r| r.op.f == OpFn::Revoke) {
                out.push(Anomaly::new(
                    AnomalyKind::ReassignedBeforeRevoked,
                    format!(
                        "Group {group} assigned {key} to {} at {} while {} still held it: it revoked it only at {}.",
                        m.who(),
                        secs(m.op.time_ns),
                        revoke.who(),
                        secs(revoke.op.time_ns)
                    ),
                    vec![
                        RecordRef::new(key, None, None, format!("assigned to {}", m.ctx.member)).seen_in(m.op),
                        RecordRef::new(key, None, None, format!("revoked by {} afterwards", revoke.ctx.member))
                            .seen_in(revoke.op),
                    ],
                ));
            }
        }
    }
    out
}

fn unrevoked(group: &str, generation: u32, key: &str, owner: &MemberOp<'_>, taker: &MemberOp<'_>) -> Anomaly {
    Anomaly::new(
        AnomalyKind::ReassignedBeforeRevoked,
        format!(
            "Group {group} generation {generation} assigned {key} to {} at {} while {}, also in generation \
             {generation}, still held it when it rejoined: it had not revoked it.",
            taker.ctx.member,
            secs(taker.op.time_ns),
            owner.who()
        ),
        vec![
            RecordRef::new(key, None, None, format!("held by {} when it rejoined", owner.ctx.member)).seen_in(owner.op),
            RecordRef::new(key, None, None, format!("assigned to {} in generation {generation}", taker.ctx.member))
                .seen_in(taker.op),
        ],
    )
}

/// `stale-commit-accepted`: one anomaly per `ok` commit invoked after its member had
/// been fenced, in history order of the commits. Classic protocol: a later generation of
/// its group, or (for a static member) another member id of its instance, had been
/// assigned. Consumer protocol (KIP-848, per-member epochs): the member itself had
/// already been assigned at a later member epoch, or another member had been given a
/// partition the committing member still held and never revoked afterwards (the
/// coordinator hands a partition over only once its owner acknowledged the revocation,
/// so an owner that never revoked it had been fenced).
pub(super) fn stale_commits(ops: &GroupOps<'_>) -> Vec<Anomaly> {
    // Per group, the ok assigns in completion order.
    let mut assigns: BTreeMap<&str, Vec<&MemberOp<'_>>> = BTreeMap::new();
    for assign in ops.ok(OpFn::Assign) {
        assigns.entry(assign.ctx.group.as_str()).or_default().push(assign);
    }
    let handed_over = handed_over_unrevoked(ops);
    let mut out = Vec::new();
    // A commit of nothing wrote nothing.
    let writes = |m: &&MemberOp<'_>| matches!(m.value, OpValue::Offsets(offsets) if !offsets.is_empty());
    for commit in ops.ok(OpFn::Commit).filter(writes) {
        let before =
            assigns.get(commit.ctx.group.as_str()).into_iter().flatten().filter(|a| a.done_at < commit.invoked_at);
        let before: Vec<&&MemberOp<'_>> = before.collect();
        if commit.ctx.protocol == GroupProtocol::Consumer {
            let own_later =
                before.iter().find(|a| a.ctx.member == commit.ctx.member && a.ctx.generation > commit.ctx.generation);
            if let Some(later) = own_later {
                out.push(stale_commit(
                    commit,
                    format!("it had been assigned at member epoch {}", later.ctx.generation),
                ));
            } else if let Some((key, taker)) = handed_over.get(&commit.done_at) {
                let why = format!(
                    "{key}, which it held and never revoked, had been given to {} at {}: the coordinator had fenced it",
                    taker.ctx.member,
                    secs(taker.op.time_ns)
                );
                out.push(stale_commit(commit, why));
            }
            continue;
        }
        // A static member's id is superseded by another id of its instance assigned after
        // this id's own last assignment.
        let own_last = before.iter().filter(|a| a.ctx.member == commit.ctx.member).map(|a| a.done_at).max();
        let superseded = before.into_iter().find(|a| {
            let taken_over = a.ctx.instance.is_some()
                && a.ctx.instance == commit.ctx.instance
                && a.ctx.member != commit.ctx.member
                && own_last.is_none_or(|own| a.done_at > own);
            a.ctx.generation > commit.ctx.generation || taken_over
        });
        if let Some(later) = superseded {
            let why = if later.ctx.generation > commit.ctx.generation {
                format!(
                    "the group had moved on to generation {} ({} was assigned at {})",
                    later.ctx.generation,
                    later.ctx.member,
                    secs(later.op.time_ns)
                )
            } else {
                format!(
                    "instance {} had been taken over by {} (assigned at {})",
                    later.ctx.instance.as_deref().unwrap_or_default(),
                    later.ctx.member,
                    secs(later.op.time_ns)
                )
            };
            out.push(stale_commit(commit, why));
        }
    }
    out
}

/// For each `ok` commit of a consumer-protocol member (by its completion's position): a
/// key the committing process held when it sent the commit that another process of the
/// group had been assigned meanwhile, and that the committing process did not revoke
/// afterwards (it lost it, or never gave it up), with the assign that took it. One pass
/// over the history: ownership changes are applied up to each commit's invocation.
fn handed_over_unrevoked<'o, 'a>(ops: &'o GroupOps<'a>) -> BTreeMap<usize, (&'a str, &'o MemberOp<'a>)> {
    let kip848 = |m: &&'o MemberOp<'a>| m.op.kind == OpType::Ok && m.ctx.protocol == GroupProtocol::Consumer;
    let changes: Vec<&MemberOp<'a>> =
        ops.ops.iter().filter(kip848).filter(|m| matches!(m.value, OpValue::Keys(_))).collect();
    // The last revoke of each key by each process, per group.
    let mut last_revoke: BTreeMap<(&str, u64, &str), usize> = BTreeMap::new();
    for m in changes.iter().filter(|m| m.op.f == OpFn::Revoke) {
        let OpValue::Keys(keys) = m.value else { continue };
        for key in keys {
            last_revoke.insert((m.ctx.group.as_str(), m.op.process, key.as_str()), m.done_at);
        }
    }
    let mut commits: Vec<&MemberOp<'a>> = ops.ops.iter().filter(kip848).filter(|m| m.op.f == OpFn::Commit).collect();
    commits.sort_by_key(|c| c.invoked_at);
    let mut holdings = Holdings::default();
    // Who gained each key of each group last.
    let mut gained_by: BTreeMap<(&str, &str), &'o MemberOp<'a>> = BTreeMap::new();
    let mut applied = changes.iter().peekable();
    let mut found = BTreeMap::new();
    for commit in commits {
        while let Some(m) = applied.next_if(|m| m.done_at < commit.invoked_at) {
            let OpValue::Keys(keys) = m.value else { continue };
            let group = m.ctx.group.as_str();
            for change in holdings.apply(m.op.process, m.op.f, Some(group), keys) {
                for key in change.gained {
                    gained_by.insert((group, key), m);
                }
            }
        }
        let (group, process) = (commit.ctx.group.as_str(), commit.op.process);
        let OpValue::Offsets(offsets) = commit.value else { continue };
        let taken = offsets.keys().map(String::as_str).find_map(|key| {
            let taker = *gained_by.get(&(group, key))?;
            let revoked_later = last_revoke.get(&(group, process, key)).is_some_and(|&at| at > commit.invoked_at);
            let unrevoked = holdings.holds(process, group, key) && !revoked_later;
            (taker.op.process != process && unrevoked).then_some((key, taker))
        });
        if let Some(taken) = taken {
            found.insert(commit.done_at, taken);
        }
    }
    found
}

fn stale_commit(commit: &MemberOp<'_>, why: String) -> Anomaly {
    let offsets = match commit.value {
        OpValue::Offsets(offsets) => offsets.iter().map(|(k, o)| (k.as_str(), *o)).collect(),
        _ => Vec::new(),
    };
    Anomaly::new(
        AnomalyKind::StaleCommitAccepted,
        format!("The coordinator accepted a commit by {} although {why}.", commit.who_when()),
        offsets
            .into_iter()
            .map(|(key, offset)| {
                RecordRef::new(key, Some(offset), None, format!("committed next offset {offset} by {}", commit.who()))
                    .seen_in(commit.op)
            })
            .collect(),
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;
    use crate::history::{History, OpType};

    fn regressions(h: &History) -> Vec<Anomaly> {
        commit_regressions(&GroupOps::new(h))
    }

    fn splits(h: &History) -> Vec<Anomaly> {
        split_ownership(&GroupOps::new(h))
    }

    #[test]
    fn an_accepted_commit_going_backwards_is_a_regression() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .commit_ok(1, &[("x-0", 5), ("x-1", 3)])
            .member(2, "g", "m2", 2)
            .commit_ok(2, &[("x-0", 2), ("x-1", 3)])
            .build();
        let found = regressions(&h);
        assert_eq!(found.len(), 1, "x-1 stayed at 3, which is fine");
        assert_eq!(found[0].kind, AnomalyKind::CommitRegression);
        assert_eq!(
            found[0].description,
            "Group g's committed offset for x-0 went back from 5 (committed by m1 (generation 1, process 1) at \
             0.200 s) to 2 (committed by m2 (generation 2, process 2) at 0.400 s); the coordinator accepted both."
        );
        let offsets: Vec<Option<u64>> = found[0].records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![Some(5), Some(2)]);
        assert_eq!(found[0].records[1].op_index, Some(3));
    }

    #[test]
    fn each_commit_is_compared_with_the_last_accepted_one() {
        // 5 -> 2 is one regression; 2 -> 4 moves forward again and is not another.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .commit_ok(1, &[("x-0", 5)])
            .commit_ok(1, &[("x-0", 2)])
            .commit_ok(1, &[("x-0", 4)])
            .commit_ok(1, &[("x-0", 4)])
            .build();
        assert_eq!(regressions(&h).len(), 1);
    }

    #[test]
    fn refused_unknown_and_other_group_commits_are_not_compared() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .member(2, "g", "m2", 2)
            .member(3, "other", "o1", 1)
            .commit_ok(1, &[("x-0", 5)])
            // A zombie of generation 1 is refused (ILLEGAL_GENERATION); that is fine.
            .commit(2, OpType::Fail, &[("x-0", 1)])
            .commit(2, OpType::Info, &[("x-0", 1)])
            .commit_ok(3, &[("x-0", 0)])
            .commit_ok(2, &[("x-0", 6)])
            .build();
        assert!(regressions(&h).is_empty());
    }

    #[test]
    fn overlapping_commits_are_not_ordered() {
        // Both were in flight together: the coordinator may have applied them either way.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .member(2, "g", "m2", 1)
            .commit_invoke(2, &[("x-0", 3)])
            .commit_ok(1, &[("x-0", 5)])
            .build();
        let mut h = h;
        h.ops.push(crate::history::Op { index: 3, kind: OpType::Ok, ..h.ops[0].clone() });
        assert!(regressions(&h).is_empty(), "{:?}", regressions(&h));
    }

    #[test]
    fn two_members_owning_a_partition_in_one_generation_is_split_ownership() {
        let h = Hist::new()
            .member(1, "g", "m1", 3)
            .member(2, "g", "m2", 3)
            .assign(1, &["x-0", "x-1"])
            .assign(2, &["x-1", "x-2"])
            .build();
        let found = splits(&h);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, AnomalyKind::SplitOwnership);
        assert_eq!(
            found[0].description,
            "Group g generation 3 assigned x-1 to 2 members: m1 (process 1) at 0.200 s and m2 (process 2) at 0.400 s."
        );
        assert_eq!(found[0].records.len(), 2);
        assert_eq!(found[0].records[0].key, "x-1");
        assert_eq!(found[0].records[1].note, "assigned to m2 in generation 3");
    }

    #[test]
    fn a_static_member_restarted_under_a_new_member_id_is_one_owner_but_two_instances_are_two() {
        let static_member = |h: Hist, process: u64, member: &str, instance: &str| {
            let mut built = h.member(process, "g", member, 3).assign(process, &["x-0"]).build();
            for op in &mut built.ops {
                if let Some(ctx) = op.group.as_mut().filter(|c| c.member == member) {
                    ctx.instance = Some(instance.to_string());
                }
            }
            built
        };
        let mut h = static_member(Hist::new(), 1, "pod-1-a", "pod-1");
        let restarted = static_member(Hist::new(), 1, "pod-1-b", "pod-1");
        h.ops.extend(restarted.ops.into_iter().map(|op| crate::history::Op { index: op.index + 10, ..op }));
        assert!(splits(&h).is_empty(), "{:?}", splits(&h));
        let other = static_member(Hist::new(), 2, "pod-2-a", "pod-2");
        h.ops.extend(other.ops.into_iter().map(|op| crate::history::Op { index: op.index + 20, ..op }));
        assert_eq!(splits(&h).len(), 1, "two instances owning one partition");
    }

    fn unrevoked(h: &History) -> Vec<Anomaly> {
        reassigned_before_revoked(&GroupOps::new(h))
    }

    #[test]
    fn a_partition_handed_over_before_its_owner_revoked_it_is_reassigned_before_revoked() {
        // Cooperative, done wrong: m1 owns x-0 and x-1 in generation 1; generation 2 takes
        // x-1 from m1 and gives it straight to m2 while m1 still claimed it.
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0", "x-1"])
            .member(1, "g", "m1", 2)
            .assign(1, &["x-0"])
            .revoke(1, &["x-1"])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-1"])
            .build();
        let found = unrevoked(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::ReassignedBeforeRevoked);
        assert_eq!(
            found[0].description,
            "Group g generation 2 assigned x-1 to m2 at 0.800 s while m1 (generation 2, process 1), also in \
             generation 2, still held it when it rejoined: it had not revoked it."
        );
        assert_eq!(found[0].records[1].op_index, Some(7));
        // The same handover order in time is fine when m2's generation is the next one.
        let cooperative = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0", "x-1"])
            .member(1, "g", "m1", 2)
            .assign(1, &["x-0"])
            .revoke(1, &["x-1"])
            .member(2, "g", "m2", 2)
            .assign(2, &[])
            .member(1, "g", "m1", 3)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 3)
            .assign(2, &["x-1"])
            .build();
        assert!(unrevoked(&cooperative).is_empty(), "{:?}", unrevoked(&cooperative));
    }

    #[test]
    fn eager_revocation_lost_partitions_and_crashed_owners_claim_nothing() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0", "x-1"])
            .member(3, "g", "m3", 1)
            .assign(3, &["x-2"])
            // Eager: m1 revokes everything before rejoining; m3 was evicted (lost).
            .revoke(1, &["x-0", "x-1"])
            .lose(3, &["x-2"])
            .member(1, "g", "m1", 2)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-1"])
            .member(3, "g", "m3b", 2)
            .assign(3, &["x-2"])
            // A process that crashed never joins again: its old claim is nobody's.
            .member(4, "g", "m4", 1)
            .assign(4, &["x-3"])
            .crash(4)
            .member(5, "g", "m5", 2)
            .assign(5, &["x-3"])
            .build();
        assert!(unrevoked(&h).is_empty(), "{:?}", unrevoked(&h));
        // Without m1's revocation the eager handover of x-1 is reported.
        let mut unrevoking = h.clone();
        unrevoking.ops.retain(|op| !(op.f == OpFn::Revoke && op.process == 1));
        let found = unrevoked(&unrevoking);
        let keys: Vec<&str> = found.iter().map(|a| a.records[0].key.as_str()).collect();
        assert_eq!(keys, vec!["x-1"], "x-0 stays with m1; x-1 went to m2: {found:?}");
    }

    fn stale(h: &History) -> Vec<Anomaly> {
        stale_commits(&GroupOps::new(h))
    }

    #[test]
    fn a_commit_sent_after_the_group_moved_on_and_accepted_is_stale() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-0"])
            // m1 still thinks it is in generation 1; its commit must have been refused.
            .commit_ok(1, &[("x-0", 7)])
            .build();
        let found = stale(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].kind, AnomalyKind::StaleCommitAccepted);
        assert_eq!(
            found[0].description,
            "The coordinator accepted a commit by m1 (generation 1, process 1) at 0.600 s although the group had \
             moved on to generation 2 (m2 was assigned at 0.400 s)."
        );
        assert_eq!((found[0].records[0].key.as_str(), found[0].records[0].offset), ("x-0", Some(7)));
    }

    #[test]
    fn refused_overlapping_and_current_commits_are_not_stale() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0"])
            // Invoked before generation 2 was assigned: the coordinator may have taken it
            // while the group was still preparing the rebalance.
            .commit_invoke(1, &[("x-0", 3)])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-0"])
            .build();
        let mut h = h;
        let mut done = h.ops[2].clone();
        done.index = 5;
        done.kind = OpType::Ok;
        h.ops.push(done);
        let h2 = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-0"])
            .commit(1, OpType::Fail, &[("x-0", 7)])
            .commit_ok(2, &[("x-0", 8)])
            .member(3, "other", "o1", 1)
            .commit_ok(3, &[("x-0", 1)])
            .build();
        assert!(stale(&h).is_empty(), "{:?}", stale(&h));
        assert!(stale(&h2).is_empty(), "{:?}", stale(&h2));
    }

    #[test]
    fn a_consumer_protocol_commit_is_stale_only_against_the_members_own_epoch_or_a_partition_it_lost() {
        // Member epochs are per member: m1 committing at 10 while m2 is at 11 is fine.
        let fine = Hist::new()
            .consumer_member(1, "g", "m1", 10)
            .assign(1, &["x-0", "x-1"])
            .revoke(1, &["x-1"])
            .consumer_member(2, "g", "m2", 11)
            .assign(2, &["x-1"])
            .commit_ok(1, &[("x-0", 4)])
            .build();
        assert!(stale(&fine).is_empty(), "{:?}", stale(&fine));
        // m1 was given x-1 at epoch 11, then commits at 10: the coordinator had moved it on.
        let own = Hist::new()
            .consumer_member(1, "g", "m1", 11)
            .assign(1, &["x-0"])
            .consumer_member(1, "g", "m1", 10)
            .commit_ok(1, &[("x-0", 4)])
            .build();
        let found = stale(&own);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].description.contains("m1 (member epoch 10, process 1)"), "{}", found[0].description);
        assert!(found[0].description.ends_with("although it had been assigned at member epoch 11."));
        // m2 got x-0 while m1 held it, and m1 only lost it later: m1 had been fenced, so
        // its commit in between had to be refused.
        let zombie = Hist::new()
            .consumer_member(1, "g", "m1", 10)
            .assign(1, &["x-0"])
            .consumer_member(2, "g", "m2", 12)
            .assign(2, &["x-0"])
            .commit_ok(1, &[("x-0", 4)])
            .lose(1, &["x-0"])
            .build();
        let found = stale(&zombie);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].description.contains("x-0, which it held and never revoked, had been given to m2"));
        // Had m1 revoked it afterwards, the handover came too early instead (not a stale commit).
        let early = Hist::new()
            .consumer_member(1, "g", "m1", 10)
            .assign(1, &["x-0"])
            .consumer_member(2, "g", "m2", 12)
            .assign(2, &["x-0"])
            .commit_ok(1, &[("x-0", 4)])
            .revoke(1, &["x-0"])
            .build();
        assert!(stale(&early).is_empty(), "{:?}", stale(&early));
        let found = reassigned_before_revoked(&GroupOps::new(&early));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].description,
            "Group g assigned x-0 to m2 (member epoch 12, process 2) at 0.400 s while m1 (member epoch 10, \
             process 1) still held it: it revoked it only at 0.800 s."
        );
        // A handover after the revoke, or after the owner was fenced (it loses it), is fine.
        assert!(reassigned_before_revoked(&GroupOps::new(&zombie)).is_empty());
        assert!(reassigned_before_revoked(&GroupOps::new(&fine)).is_empty());
    }

    #[test]
    fn a_static_members_old_id_committing_after_its_instance_was_taken_over_is_stale() {
        let mut h = Hist::new()
            .member(1, "g", "pod-a", 3)
            .assign(1, &["x-0"])
            .member(2, "g", "pod-b", 3)
            .assign(2, &["x-0"])
            .member(1, "g", "pod-a", 3)
            .commit_ok(1, &[("x-0", 4)])
            // The new id's commits are its own: the old id's assignment came before.
            .member(2, "g", "pod-b", 3)
            .commit_ok(2, &[("x-0", 5)])
            .build();
        for op in &mut h.ops {
            if let Some(ctx) = op.group.as_mut() {
                ctx.instance = Some("pod".into());
            }
        }
        let found = stale(&h);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].description.contains("instance pod had been taken over by pod-b"), "{}", found[0].description);
    }

    #[test]
    fn moving_a_partition_across_generations_or_groups_is_not_split() {
        let h = Hist::new()
            .member(1, "g", "m1", 1)
            .assign(1, &["x-0"])
            .member(2, "g", "m2", 2)
            .assign(2, &["x-0"])
            // The same member told twice in one generation still owns it alone.
            .assign(2, &["x-0"])
            .member(3, "other", "o1", 2)
            .assign(3, &["x-0"])
            .build();
        // A standalone consumer's assign (no group context) is nobody's membership.
        let mut h = h;
        h.ops.push(crate::history::Op { process: 9, group: None, ..h.ops[1].clone() });
        assert!(splits(&h).is_empty());
        let refused = Hist::new().member(1, "g", "m1", 1).member(2, "g", "m2", 1).assign(1, &["x-0"]).build();
        let mut refused = refused;
        let mut failed = refused.ops[1].clone();
        failed.kind = OpType::Fail;
        failed.group = Some(crate::history::GroupContext { member: "m2".into(), ..failed.group.unwrap() });
        refused.ops.push(failed);
        assert!(splits(&refused).is_empty(), "only ok assignments count");
    }
}
