//! `static-member-rebalanced`: a static member (KIP-345, `group.instance.id`) restarted
//! and came back before the group noticed it was gone, and the group rebalanced at its
//! return all the same. Kafka promises the opposite: the coordinator gives the returning
//! instance its partitions back under its new member id, in the same generation (classic
//! protocol, `GroupCoordinator.updateStaticMemberAndRebalance` on a stable group) or at
//! the same member epoch (consumer protocol, `replaceMember` after a leave with epoch -2).
//!
//! From the history alone: instance X's process P was last in generation (or member
//! epoch) `g1`, as its last group op says (under the consumer protocol a member's epoch
//! moves on without a new assignment); X's next process P' was first assigned in
//! `g2 > g1`; and nothing
//! else explains a rebalance: between P's last assignment and P''s first, no other member
//! of the group was assigned in a generation after `g1` before P' started (which is what
//! an expired session, or another member's change, looks like), and no other member
//! process started, crashed, revoked or lost partitions. A group rebalancing when X was
//! already away long enough for its session to expire is therefore not reported.

use super::{GroupOps, MemberOp};
use crate::check::describe::{process, secs};
use crate::check::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{History, OpFn, OpType, OpValue};
use std::collections::{BTreeMap, BTreeSet};

/// One process of a static member (its process id) with its group ops, in order.
type Incarnation<'o, 'h> = (u64, Vec<&'o MemberOp<'h>>);

/// One anomaly per restart of a static member that caused a rebalance, in history order.
pub(super) fn static_member_rebalances(history: &History, ops: &GroupOps<'_>) -> Vec<Anomaly> {
    // Per group and instance: each process's group ops, processes in order of appearance.
    let mut instances: BTreeMap<(&str, &str), Vec<Incarnation<'_, '_>>> = BTreeMap::new();
    for m in &ops.ops {
        let Some(instance) = m.ctx.instance.as_deref() else { continue };
        let processes = instances.entry((m.ctx.group.as_str(), instance)).or_default();
        match processes.iter_mut().find(|(p, _)| *p == m.op.process) {
            Some((_, assigns)) => assigns.push(m),
            None => processes.push((m.op.process, vec![m])),
        }
    }
    let first_op_at = first_ops(history);
    let mut out = Vec::new();
    for ((group, instance), processes) in &instances {
        for pair in processes.windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            let last = *old.1.last().expect("an op");
            let is_assign = |m: &&&MemberOp<'_>| m.op.f == OpFn::Assign && m.op.kind == OpType::Ok;
            let Some(&first) = new.1.iter().find(is_assign) else { continue };
            let restart = Restart { group, processes: (old.0, new.0), last, first, returned_at: first_op_at[&new.0] };
            if first.ctx.generation > last.ctx.generation && !restart.explained(history, ops, &first_op_at) {
                out.push(rebalanced(group, instance, last, first));
            }
        }
    }
    out
}

/// One restart of a static member: its old and new process, the old one's last group
/// op, the new one's first assignment, and where the new process's first op is.
struct Restart<'r, 'a> {
    group: &'r str,
    processes: (u64, u64),
    last: &'r MemberOp<'a>,
    first: &'r MemberOp<'a>,
    returned_at: usize,
}

impl Restart<'_, '_> {
    /// Whether something else explains a rebalance at the member's return: the group
    /// rebalanced while it was away (its session expired, or another change), or another
    /// member process started, crashed, subscribed, revoked or lost partitions meanwhile.
    fn explained(&self, history: &History, ops: &GroupOps<'_>, first_op_at: &BTreeMap<u64, usize>) -> bool {
        let window = (self.last.done_at, self.first.done_at);
        let inside = |i: usize| i > window.0 && i < window.1;
        let others = ops.ops.iter().filter(|m| {
            m.ctx.group == self.group && m.op.process != self.processes.0 && m.op.process != self.processes.1
        });
        let mut members = BTreeSet::new();
        for m in others {
            let rebalanced_while_away = m.op.kind == OpType::Ok
                && m.op.f == OpFn::Assign
                && m.ctx.generation > self.last.ctx.generation
                && m.done_at < self.returned_at;
            let changed = inside(m.done_at) && matches!(m.op.f, OpFn::Subscribe | OpFn::Revoke | OpFn::Lose);
            if rebalanced_while_away || changed {
                return true;
            }
            members.insert(m.op.process);
        }
        members.iter().any(|p| {
            let started = first_op_at.get(p).is_some_and(|&i| inside(i));
            let crashed =
                history.ops.iter().enumerate().any(|(i, op)| op.process == *p && op.f == OpFn::Crash && inside(i));
            started || crashed
        })
    }
}

/// Where each process's first op is in the history.
fn first_ops(history: &History) -> BTreeMap<u64, usize> {
    let mut first = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        first.entry(op.process).or_insert(i);
    }
    first
}

fn rebalanced(group: &str, instance: &str, last: &MemberOp<'_>, first: &MemberOp<'_>) -> Anomaly {
    let word = first.ctx.protocol.epoch_name();
    Anomaly::new(
        AnomalyKind::StaticMemberRebalanced,
        format!(
            "Static member {instance} of group {group} restarted: last in {word} {} ({}), it came back as {} ({}) \
             and was assigned at {} in {word} {}, although the group had not rebalanced while it was away and no \
             other member changed.",
            last.ctx.generation,
            process(last.op.process),
            first.ctx.member,
            process(first.op.process),
            secs(first.op.time_ns),
            first.ctx.generation
        ),
        vec![RecordRef::new(
            match first.value {
                OpValue::Keys(keys) => keys.first().map_or("", String::as_str),
                _ => "",
            },
            None,
            None,
            format!("assigned to {instance} again in {word} {}", first.ctx.generation),
        )
        .seen_in(first.op)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    fn found(h: &History) -> Vec<Anomaly> {
        static_member_rebalances(h, &GroupOps::new(h))
    }

    fn static_member(h: Hist, p: u64, member: &str, generation: u32) -> Hist {
        h.static_member(p, "g", member, generation, "pod-0")
    }

    #[test]
    fn a_static_member_back_in_time_in_a_new_generation_rebalanced_the_group() {
        let base = |back_in: u32| {
            let h = Hist::new().member(2, "g", "other", 3).assign(2, &["x-1"]);
            let h = static_member(h, 1, "pod-0-a", 3).assign(1, &["x-0"]).crash(1);
            static_member(h, 3, "pod-0-b", back_in).assign(3, &["x-0"]).build()
        };
        assert!(found(&base(3)).is_empty(), "same generation: no rebalance");
        let bad = found(&base(4));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].kind, AnomalyKind::StaticMemberRebalanced);
        assert!(bad[0].description.starts_with("Static member pod-0 of group g restarted: last in generation 3"));
    }

    #[test]
    fn an_expired_session_or_another_members_change_explains_the_rebalance() {
        // The group rebalanced while pod-0 was away: its session had expired.
        let h = Hist::new().member(2, "g", "other", 3).assign(2, &["x-1"]);
        let h = static_member(h, 1, "pod-0-a", 3).assign(1, &["x-0"]).crash(1);
        let h = h.member(2, "g", "other", 4).assign(2, &["x-0", "x-1"]);
        let expired = static_member(h, 3, "pod-0-b", 5).assign(3, &["x-0"]).build();
        assert!(found(&expired).is_empty(), "{:?}", found(&expired));
        // Another member left meanwhile (its close revoked its partitions).
        let h = Hist::new().member(2, "g", "other", 3).assign(2, &["x-1"]);
        let h = static_member(h, 1, "pod-0-a", 3).assign(1, &["x-0"]).crash(1).revoke(2, &["x-1"]);
        let left = static_member(h, 3, "pod-0-b", 4).assign(3, &["x-0", "x-1"]).build();
        assert!(found(&left).is_empty(), "{:?}", found(&left));
        // A new member joined meanwhile.
        let h = Hist::new().member(2, "g", "other", 3).assign(2, &["x-1"]);
        let h = static_member(h, 1, "pod-0-a", 3).assign(1, &["x-0"]).crash(1).member(4, "g", "new", 4).poll_ok(4, &[]);
        let joined = static_member(h, 3, "pod-0-b", 4).assign(3, &["x-0"]).build();
        assert!(found(&joined).is_empty(), "{:?}", found(&joined));
    }
}
