//! One consumer group over time, for the report's group chart: each member's holdings,
//! span by span, and the group's generations (or KIP-848 member epochs), read from the
//! members' `assign`, `revoke`, `lose` and `crash` ops.

use crate::history::{History, OpFn, OpType};
use std::collections::BTreeMap;

/// One member's lane in a group chart: what it held, span by span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MemberLane {
    /// The member's client id (a static member's instance id).
    pub name: String,
    /// `(from, to, partitions, generation label)`: it held these partitions from its
    /// `assign` op until a `revoke` or `lose` named them, its next `assign` left them
    /// out, its process crashed, or the run ended (the rule of the group checkers).
    pub spans: Vec<(u64, u64, Vec<String>, String)>,
}

/// One consumer group over time: its members' holdings and its generations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupLanes {
    pub group: String,
    /// Its members, by name.
    pub members: Vec<MemberLane>,
    /// `(time, label)` of each generation (or member epoch under KIP-848): when its first
    /// member received its assignment.
    pub generations: Vec<(u64, String)>,
}

/// Every group's lanes, in group order, from the `assign`, `revoke`, `lose` and `crash`
/// ops of its members.
pub(crate) fn group_lanes(history: &History, end_ns: u64) -> Vec<GroupLanes> {
    // (group, process) -> (since, keys, generation label)
    let mut held: BTreeMap<(String, u64), (u64, Vec<String>, String)> = BTreeMap::new();
    let mut names: BTreeMap<(String, u64), String> = BTreeMap::new();
    let mut lanes: BTreeMap<(String, String), MemberLane> = BTreeMap::new();
    let close = |lanes: &mut BTreeMap<(String, String), MemberLane>,
                 group: &str,
                 name: &str,
                 span: (u64, Vec<String>, String),
                 to: u64| {
        let lane = lanes
            .entry((group.to_string(), name.to_string()))
            .or_insert_with(|| MemberLane { name: name.to_string(), spans: Vec::new() });
        if !span.1.is_empty() && to > span.0 {
            lane.spans.push((span.0, to, span.1, span.2));
        }
    };
    for op in history.ops.iter().filter(|o| o.kind == OpType::Ok || (o.kind != OpType::Invoke && o.f == OpFn::Crash)) {
        let keys: Vec<String> = match &op.value {
            crate::history::OpValue::Keys(keys) => keys.clone(),
            _ => Vec::new(),
        };
        match (op.f, &op.group) {
            (OpFn::Crash, _) => {
                let mine: Vec<(String, u64)> = held.keys().filter(|k| k.1 == op.process).cloned().collect();
                for k in mine {
                    let span = held.remove(&k).expect("listed");
                    close(&mut lanes, &k.0, &names[&k], span, op.time_ns);
                }
            }
            (OpFn::Assign | OpFn::Revoke | OpFn::Lose, Some(ctx)) => {
                let k = (ctx.group.clone(), op.process);
                let name = crate::check::groups::without_uuid(ctx.owner()).to_string();
                names.insert(k.clone(), name.clone());
                let before = held.remove(&k);
                let label = ctx.protocol.epoch_name().to_string() + " " + &ctx.generation.to_string();
                let now: Vec<String> = if op.f == OpFn::Assign {
                    keys
                } else {
                    before.as_ref().map_or(Vec::new(), |b| b.1.iter().filter(|x| !keys.contains(x)).cloned().collect())
                };
                if let Some(span) = before {
                    if span.1 == now && op.f != OpFn::Assign {
                        held.insert(k, span);
                        continue;
                    }
                    close(&mut lanes, &k.0, &name, span, op.time_ns);
                }
                lanes.entry((k.0.clone(), name.clone())).or_insert_with(|| MemberLane { name, spans: Vec::new() });
                held.insert(k, (op.time_ns, now, label));
            }
            _ => {}
        }
    }
    for (k, span) in std::mem::take(&mut held) {
        close(&mut lanes, &k.0, &names[&k], span, end_ns);
    }
    let mut out: BTreeMap<String, GroupLanes> = BTreeMap::new();
    for ((group, _), mut lane) in lanes {
        lane.spans.sort();
        out.entry(group.clone()).or_insert_with(|| GroupLanes { group, ..Default::default() }).members.push(lane);
    }
    for r in crate::check::groups::rebalances(history) {
        if let Some(g) = out.get_mut(&r.group) {
            g.generations.push((r.time_ns, r.label()));
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn a_member_holds_its_partitions_from_its_assignment_until_it_revokes_them_or_crashes() {
        use crate::check::testkit::Hist;
        let member = "consumer-1-9405964c-45af-47fd-93dd-402b9e1c3a6f";
        let history = Hist::new()
            .member(1, "g", member, 1)
            .at_ms(1_000)
            .assign(1, &["t-0", "t-1"]) // ok at 1.1 s
            .at_ms(2_000)
            .revoke(1, &["t-1"]) // ok at 2.1 s
            .at_ms(3_000)
            .crash(1)
            .build();
        let groups = group_lanes(&history, 5 * S);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].members.len(), 1);
        let lane = &groups[0].members[0];
        assert_eq!(lane.name, "consumer-1");
        let ms = |m: u64| m * 1_000_000;
        assert_eq!(
            lane.spans,
            vec![
                (ms(1_100), ms(2_100), vec!["t-0".to_string(), "t-1".to_string()], "generation 1".to_string()),
                (ms(2_100), ms(3_000), vec!["t-0".to_string()], "generation 1".to_string()),
            ]
        );
        assert_eq!(groups[0].generations, vec![(ms(1_100), "generation 1".to_string())]);
    }
}
