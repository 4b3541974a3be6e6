//! What each rebalance of a group cost: how many partitions changed owner from one
//! generation's assignment to the next, read from the members' `assign` ops. Not an
//! anomaly but a measurement, for comparing assignors (`assignor-comparison`): every
//! moved partition is revoked from one member and its processing restarts elsewhere
//! from the committed offset.

use crate::history::{History, OpFn, OpType, OpValue};
use std::collections::{BTreeMap, BTreeSet};

/// One generation of a group and what its rebalance moved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebalance {
    /// The `group.id`.
    pub group: String,
    /// The generation the rebalance produced.
    pub generation: u32,
    /// When the first member received its assignment, in simulated nanoseconds.
    pub time_ns: u64,
    /// Members that received an assignment in this generation.
    pub members: usize,
    /// Partitions assigned in this generation.
    pub partitions: usize,
    /// Members whose assignment in this generation is empty: a group with more members
    /// than partitions keeps the rest idle, as standbys.
    pub idle: usize,
    /// Partitions owned in the group's previous generation that this one gives to
    /// another member or to nobody (0 for a group's first generation).
    pub moved: usize,
}

/// What the assign ops of one generation of one group showed.
#[derive(Default)]
struct Seen {
    /// When the first member received its assignment.
    first_ns: u64,
    /// Partition → owner. An owner is a member id, or a static member's instance id
    /// (one owner across its restarts).
    owners: BTreeMap<String, String>,
    /// The owners told their assignment.
    members: BTreeSet<String>,
    /// Those of them given partitions.
    busy: BTreeSet<String>,
}

/// Every generation of every group, in group then generation order.
pub fn rebalances(history: &History) -> Vec<Rebalance> {
    let mut generations: BTreeMap<(String, u32), Seen> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f == OpFn::Assign && o.kind == OpType::Ok) {
        let (Some(ctx), OpValue::Keys(keys)) = (&op.group, &op.value) else { continue };
        let seen = generations
            .entry((ctx.group.clone(), ctx.generation))
            .or_insert_with(|| Seen { first_ns: op.time_ns, ..Seen::default() });
        let owner = ctx.owner().to_string();
        for key in keys {
            seen.owners.insert(key.clone(), owner.clone());
        }
        if !keys.is_empty() {
            seen.busy.insert(owner.clone());
        }
        seen.members.insert(owner);
    }
    let mut out = Vec::new();
    let mut previous: Option<(&String, &BTreeMap<String, String>)> = None;
    for ((group, generation), seen) in &generations {
        let moved = match previous {
            Some((g, before)) if g == group => {
                before.iter().filter(|(key, member)| seen.owners.get(*key) != Some(*member)).count()
            }
            _ => 0,
        };
        out.push(Rebalance {
            group: group.clone(),
            generation: *generation,
            time_ns: seen.first_ns,
            members: seen.members.len(),
            partitions: seen.owners.len(),
            idle: seen.members.len() - seen.busy.len(),
            moved,
        });
        previous = Some((group, &seen.owners));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    #[test]
    fn moves_count_partitions_that_change_owner_or_lose_theirs() {
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .assign(1, &["t-0", "t-1"])
            .member(2, "g", "b", 1)
            .assign(2, &["t-2", "t-3"])
            // b leaves; a takes everything: t-2 and t-3 move.
            .member(1, "g", "a", 2)
            .assign(1, &["t-0", "t-1", "t-2", "t-3"])
            // c joins and takes t-0 and t-3 from a.
            .member(1, "g", "a", 3)
            .assign(1, &["t-1", "t-2"])
            .member(3, "g", "c", 3)
            .assign(3, &["t-0", "t-3"])
            .member(4, "other", "x", 1)
            .assign(4, &["t-0"])
            .build();
        let found = rebalances(&h);
        let summary: Vec<(&str, u32, usize, usize, usize)> =
            found.iter().map(|r| (r.group.as_str(), r.generation, r.members, r.partitions, r.moved)).collect();
        assert_eq!(summary, vec![("g", 1, 2, 4, 0), ("g", 2, 1, 4, 2), ("g", 3, 2, 4, 2), ("other", 1, 1, 1, 0)]);
        assert!(found.iter().all(|r| r.idle == 0));
    }

    #[test]
    fn a_member_given_no_partition_is_idle() {
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .assign(1, &["t-0"])
            .member(2, "g", "b", 1)
            .assign(2, &[])
            .member(2, "g", "b", 2)
            .assign(2, &["t-0"])
            .build();
        let idle: Vec<usize> = rebalances(&h).iter().map(|r| r.idle).collect();
        assert_eq!(idle, vec![1, 0]);
    }
}
