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
    /// Partitions owned in the group's previous generation that this one gives to
    /// another member or to nobody (0 for a group's first generation).
    pub moved: usize,
}

/// Every generation of every group, in group then generation order.
pub fn rebalances(history: &History) -> Vec<Rebalance> {
    // (group, generation) → (first time, partition → owner, owners). An owner is a
    // member id, or a static member's instance id (one owner across its restarts).
    type Owners = BTreeMap<String, String>;
    let mut generations: BTreeMap<(String, u32), (u64, Owners, BTreeSet<String>)> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f == OpFn::Assign && o.kind == OpType::Ok) {
        let (Some(ctx), OpValue::Keys(keys)) = (&op.group, &op.value) else { continue };
        let entry = generations
            .entry((ctx.group.clone(), ctx.generation))
            .or_insert_with(|| (op.time_ns, Owners::new(), BTreeSet::new()));
        entry.2.insert(ctx.owner().to_string());
        for key in keys {
            entry.1.insert(key.clone(), ctx.owner().to_string());
        }
    }
    let mut out = Vec::new();
    let mut previous: Option<(&String, &Owners)> = None;
    for ((group, generation), (time_ns, owners, members)) in &generations {
        let moved = match previous {
            Some((g, before)) if g == group => {
                before.iter().filter(|(key, member)| owners.get(*key) != Some(*member)).count()
            }
            _ => 0,
        };
        out.push(Rebalance {
            group: group.clone(),
            generation: *generation,
            time_ns: *time_ns,
            members: members.len(),
            partitions: owners.len(),
            moved,
        });
        previous = Some((group, owners));
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
    }
}
