//! What each rebalance of a group cost: how many partitions changed owner from one
//! generation's assignment to the next, read from the members' `assign` ops, and how
//! long partitions went without an owner. Not anomalies but measurements, for comparing
//! assignors (`assignor-comparison`) and rebalance protocols: every moved partition is
//! revoked from one member and its processing restarts elsewhere from the committed
//! offset, and while a partition has no owner nobody consumes it (the eager protocol's
//! stop-the-world pause; the cooperative protocol pauses only the partitions that move).

use super::holdings::Holdings;
use crate::history::{History, OpFn, OpType, OpValue};
use crate::protocol::GroupProtocol;
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
    /// The assignment: each owner told its assignment (a member id, or a static member's
    /// instance id) → its partitions, sorted.
    pub assignment: BTreeMap<String, Vec<String>>,
    /// The group's protocol: under the consumer protocol (KIP-848) `generation` is a
    /// member epoch, and the assignment is the group's as of that epoch (members not
    /// assigned at it keep their earlier partitions).
    pub protocol: GroupProtocol,
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
    let mut protocols: BTreeMap<String, GroupProtocol> = BTreeMap::new();
    for op in history.ops.iter().filter(|o| o.f == OpFn::Assign && o.kind == OpType::Ok) {
        let (Some(ctx), OpValue::Keys(keys)) = (&op.group, &op.value) else { continue };
        protocols.insert(ctx.group.clone(), ctx.protocol);
        let seen = generations
            .entry((ctx.group.clone(), ctx.generation))
            .or_insert_with(|| Seen { first_ns: op.time_ns, ..Seen::default() });
        let owner = ctx.owner().to_string();
        // A member's later assign in one epoch replaces its earlier one.
        seen.owners.retain(|_, o| *o != owner);
        for key in keys {
            seen.owners.insert(key.clone(), owner.clone());
        }
        if !keys.is_empty() {
            seen.busy.insert(owner.clone());
        }
        seen.members.insert(owner);
    }
    carry_member_epochs_forward(&mut generations, &protocols);
    let mut out = Vec::new();
    let mut previous: Option<(&String, &BTreeMap<String, String>)> = None;
    for ((group, generation), seen) in &generations {
        let moved = match previous {
            Some((g, before)) if g == group => {
                before.iter().filter(|(key, member)| seen.owners.get(*key) != Some(*member)).count()
            }
            _ => 0,
        };
        let mut assignment: BTreeMap<String, Vec<String>> =
            seen.members.iter().map(|m| (m.clone(), Vec::new())).collect();
        for (key, owner) in &seen.owners {
            assignment.entry(owner.clone()).or_default().push(key.clone());
        }
        out.push(Rebalance {
            group: group.clone(),
            generation: *generation,
            time_ns: seen.first_ns,
            members: seen.members.len(),
            partitions: seen.owners.len(),
            idle: seen.members.len() - seen.busy.len(),
            moved,
            assignment,
            protocol: protocols.get(group).copied().unwrap_or_default(),
        });
        previous = Some((group, &seen.owners));
    }
    out
}

/// Under the consumer protocol members move to a new epoch one by one, each recording
/// its own assignment: each epoch's assignment is completed with what the other members
/// held as of the epoch before (a member not assigned at an epoch keeps its partitions).
fn carry_member_epochs_forward(
    generations: &mut BTreeMap<(String, u32), Seen>,
    protocols: &BTreeMap<String, GroupProtocol>,
) {
    let mut previous: Option<(String, BTreeMap<String, String>, BTreeSet<String>)> = None;
    for ((group, _), seen) in generations.iter_mut() {
        if protocols.get(group) != Some(&GroupProtocol::Consumer) {
            continue;
        }
        if let Some((_, owners, members)) = previous.take().filter(|(g, _, _)| g == group) {
            for (key, owner) in owners.into_iter().filter(|(_, owner)| !seen.members.contains(owner)) {
                seen.owners.entry(key).or_insert(owner);
            }
            let kept: Vec<String> = members.into_iter().filter(|m| seen.owners.values().any(|o| o == m)).collect();
            seen.busy.extend(kept.iter().cloned());
            seen.members.extend(kept);
        }
        previous = Some((group.clone(), seen.owners.clone(), seen.members.clone()));
    }
}

impl Rebalance {
    /// `generation 4`, or `member epoch 4` under the consumer protocol.
    pub fn label(&self) -> String {
        format!("{} {}", self.protocol.epoch_name(), self.generation)
    }

    /// The generation's assignment in a line: `consumer-1 orders-0,1 | consumer-2 orders-2`.
    pub fn assignment_line(&self) -> String {
        let members: Vec<String> = self
            .assignment
            .iter()
            .map(|(owner, keys)| format!("{} {}", without_uuid(owner), compact_keys(keys)))
            .collect();
        members.join(" | ")
    }
}

/// A member id without the UUID the coordinator appended to its client id
/// (`consumer-1-9405964c-45af-47fd-93dd-402b9e1c3a6f` → `consumer-1`).
pub fn without_uuid(member: &str) -> &str {
    let uuid_len = 36;
    match member.len().checked_sub(uuid_len + 1) {
        Some(cut)
            if member.as_bytes()[cut] == b'-'
                && member[cut + 1..].chars().all(|c| c.is_ascii_hexdigit() || c == '-')
                && member[cut + 1..].split('-').map(str::len).eq([8, 4, 4, 4, 12]) =>
        {
            &member[..cut]
        }
        _ => member,
    }
}

/// Partition keys by topic with their partitions in numeric order: `orders-0,1,2,3`
/// (`-` for none).
pub fn compact_keys(keys: &[String]) -> String {
    let mut by_topic: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for key in keys {
        if let Some((topic, partition)) = key.rsplit_once('-').and_then(|(t, p)| Some((t, p.parse().ok()?))) {
            by_topic.entry(topic).or_default().push(partition);
        }
    }
    if by_topic.is_empty() {
        return "-".to_string();
    }
    let parts: Vec<String> = by_topic
        .into_iter()
        .map(|(topic, mut partitions)| {
            partitions.sort_unstable();
            format!("{topic}-{}", partition_list(&partitions))
        })
        .collect();
    parts.join(" ")
}

/// The longest list of partition numbers written out one by one; a longer one (a
/// member of a group over thousands of partitions) shows its runs of consecutive numbers
/// as ranges, `0–99`.
const LONGEST_PLAIN_LIST: usize = 8;

/// Sorted partition numbers as `0,1,5`, or with ranges (`0–99,105`) when there are more
/// than [`LONGEST_PLAIN_LIST`].
fn partition_list(partitions: &[u32]) -> String {
    if partitions.len() <= LONGEST_PLAIN_LIST {
        let list: Vec<String> = partitions.iter().map(u32::to_string).collect();
        return list.join(",");
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &p in partitions {
        match runs.last_mut() {
            Some((_, last)) if p <= *last + 1 => *last = (*last).max(p),
            _ => runs.push((p, p)),
        }
    }
    let parts: Vec<String> = runs
        .into_iter()
        .flat_map(|(first, last)| match last - first {
            0 => vec![first.to_string()],
            1 => vec![first.to_string(), last.to_string()],
            _ => vec![format!("{first}–{last}")],
        })
        .collect();
    parts.join(",")
}

/// How long a group's partitions went without an owner, and how many revocations
/// its rebalances cost.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnerlessTime {
    /// The `group.id`.
    pub group: String,
    /// Partitions its members revoked (`revoke` ops, one per partition named): every
    /// held partition at every eager rebalance, only those that move under the
    /// cooperative protocol (and every partition of a member that closes).
    pub revoked: usize,
    /// The sum over the group's partitions of the time each had no owner, after its
    /// first assignment, in simulated nanoseconds.
    pub total_ns: u64,
    /// The longest single stretch one partition had no owner.
    pub longest_ns: u64,
    /// That partition.
    pub longest_key: String,
}

impl OwnerlessTime {
    /// `4 partitions revoked; partitions without an owner 2.784 s in all, longest 0.731 s (orders-5)`.
    pub fn summary(&self) -> String {
        self.summary_in(crate::scenario::Lang::En)
    }

    /// [`Self::summary`] in `lang`.
    pub fn summary_in(&self, lang: crate::scenario::Lang) -> String {
        let (total_s, longest_s) = (self.total_ns as f64 / 1e9, self.longest_ns as f64 / 1e9);
        lang.pick(
            format!(
                "{} partitions revoked; partitions without an owner {total_s:.3} s in all, longest {longest_s:.3} s ({})",
                self.revoked, self.longest_key
            ),
            format!(
                "撤销了 {} 个分区；分区无主的时间共 {total_s:.3} s，最长 {longest_s:.3} s（{}）",
                self.revoked, self.longest_key
            ),
        )
    }
}

/// Per group, the time its partitions had no owner, in group order. A member owns a
/// partition from the `assign` op that gives it to the member until a `revoke` or
/// `lose` op names it, the member's next `assign` leaves it out, or the member's process
/// crashes; a partition is ownerless while no member of its group owns it, from its
/// first assignment to the end of the history or the deletion of its topic. (A zombie member that has not noticed
/// its eviction still counts as an owner: it has not lost the partition yet.)
pub fn ownerless_time(history: &History) -> Vec<OwnerlessTime> {
    let mut holdings = Holdings::default();
    let mut groups: BTreeSet<&str> = BTreeSet::new();
    // (group, key) -> when it last lost its last owner.
    let mut ownerless_since: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut stretches: BTreeMap<&str, Vec<(u64, &str)>> = BTreeMap::new();
    let mut revoked: BTreeMap<&str, usize> = BTreeMap::new();
    let end_ns = history.ops.last().map_or(0, |o| o.time_ns);
    // A deleted topic's partitions stop counting when the controller commits the
    // deletion: nothing is left to own.
    let deleted_at = history.topic_deletions();
    let until = |key: &str, time_ns: u64| {
        let topic = crate::protocol::TopicPartition::topic_of(key);
        deleted_at.get(topic).map_or(time_ns, |&deleted| deleted.min(time_ns))
    };
    // Completions only (a crash is recorded as an `info` op).
    for op in history.ops.iter().filter(|o| o.kind != OpType::Invoke && (o.kind == OpType::Ok || o.f == OpFn::Crash)) {
        let keys = match &op.value {
            OpValue::Keys(keys) => &keys[..],
            _ => &[],
        };
        let group = op.group.as_ref().map(|ctx| ctx.group.as_str());
        if op.f == OpFn::Revoke {
            *revoked.entry(group.unwrap_or_default()).or_default() += keys.len();
        }
        for change in holdings.apply(op.process, op.f, group, keys) {
            groups.insert(change.group);
            for key in change.gained {
                if let Some(since) = ownerless_since.remove(&(change.group, key)) {
                    stretches.entry(change.group).or_default().push((until(key, op.time_ns) - since, key));
                }
            }
            for key in change.released {
                if !holdings.is_held(change.group, key) {
                    ownerless_since.insert((change.group, key), until(key, op.time_ns));
                }
            }
        }
    }
    for ((group, key), since) in ownerless_since {
        stretches.entry(group).or_default().push((until(key, end_ns) - since, key));
    }
    groups
        .into_iter()
        .map(|group| {
            let list = stretches.remove(group).unwrap_or_default();
            let longest = list.iter().max_by_key(|(ns, key)| (*ns, std::cmp::Reverse(*key)));
            OwnerlessTime {
                group: group.to_string(),
                revoked: revoked.get(group).copied().unwrap_or(0),
                total_ns: list.iter().map(|(ns, _)| ns).sum(),
                longest_ns: longest.map_or(0, |(ns, _)| *ns),
                longest_key: longest.map_or(String::new(), |(_, key)| key.to_string()),
            }
        })
        .collect()
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
    fn a_member_epoch_keeps_the_assignments_of_members_not_assigned_at_it() {
        // Consumer protocol: a holds t-0..3 at epoch 1; b joins, a revokes t-2,3 at
        // epoch 1 again, and b receives them at epoch 2 while a is not reassigned then.
        let h = Hist::new()
            .consumer_member(1, "g", "a", 1)
            .assign(1, &["t-0", "t-1", "t-2", "t-3"])
            .assign(1, &["t-0", "t-1"])
            .consumer_member(2, "g", "b", 2)
            .assign(2, &["t-2", "t-3"])
            .build();
        let found = rebalances(&h);
        let summary: Vec<(u32, usize, usize, usize)> =
            found.iter().map(|r| (r.generation, r.members, r.partitions, r.moved)).collect();
        assert_eq!(summary, vec![(1, 1, 2, 0), (2, 2, 4, 0)], "{found:?}");
        assert_eq!(found[1].label(), "member epoch 2");
        assert_eq!(found[1].assignment_line(), "a t-0,1 | b t-2,3");
    }

    #[test]
    fn ownerless_time_runs_from_a_revocation_or_crash_to_the_next_assignment() {
        // Eager: a revokes both partitions at 1.1 s; b gets t-0 at 1.6 s and a gets t-1
        // back at 2.1 s. Then a crashes at 3 s and t-1 waits until 4.1 s. b's t-0 is never
        // ownerless after. (Each completion comes 100 ms after its invocation.)
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .at_ms(0)
            .assign(1, &["t-0", "t-1"])
            .at_ms(1_000)
            .revoke(1, &["t-0", "t-1"])
            .member(2, "g", "b", 2)
            .at_ms(1_500)
            .assign(2, &["t-0"])
            .member(1, "g", "a", 2)
            .at_ms(2_000)
            .assign(1, &["t-1"])
            .at_ms(3_000)
            .crash(1)
            .member(2, "g", "b", 3)
            .at_ms(4_000)
            .assign(2, &["t-0", "t-1"])
            .build();
        let found = ownerless_time(&h);
        assert_eq!(found.len(), 1);
        // t-0: 0.5 s; t-1: 1 s + 1.1 s.
        assert_eq!(found[0].total_ns, 2_600_000_000);
        assert_eq!(found[0].revoked, 2, "a crash is no revocation");
        assert_eq!((found[0].longest_ns, found[0].longest_key.as_str()), (1_100_000_000, "t-1"));
    }

    #[test]
    fn a_deleted_topic_stops_counting_when_it_is_deleted() {
        // a holds t-0 and u-0; t is deleted at 2 s, and a revokes both at 3 s: u-0 is
        // ownerless to the end (5.1 s), t-0 never, since nothing is left to own.
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .at_ms(0)
            .assign(1, &["t-0", "u-0"])
            .at_ms(2_000)
            .event("controller-1", crate::history::Event::TopicDeleted { topic: "t".into() })
            .at_ms(3_000)
            .revoke(1, &["t-0", "u-0"])
            .at_ms(5_000)
            .send_ok(0, "u-0", 0, 1)
            .build();
        let found = ownerless_time(&h);
        assert_eq!((found[0].total_ns, found[0].longest_key.as_str()), (2_000_000_000, "u-0"));
        // Released before the deletion: ownerless until the deletion only.
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .at_ms(0)
            .assign(1, &["t-0"])
            .at_ms(1_000)
            .revoke(1, &["t-0"])
            .at_ms(2_000)
            .event("controller-1", crate::history::Event::TopicDeleted { topic: "t".into() })
            .at_ms(5_000)
            .send_ok(0, "u-0", 0, 1)
            .build();
        assert_eq!(ownerless_time(&h)[0].total_ns, 900_000_000, "from 1.1 s to the deletion at 2 s");
    }

    #[test]
    fn a_partition_kept_through_a_cooperative_rebalance_is_never_ownerless() {
        let h = Hist::new()
            .member(1, "g", "a", 1)
            .at_ms(0)
            .assign(1, &["t-0", "t-1"])
            // The member revokes what generation 2 took away, then records its assignment.
            .member(1, "g", "a", 2)
            .at_ms(1_000)
            .revoke(1, &["t-1"])
            .assign(1, &["t-0"])
            .member(2, "g", "b", 3)
            .at_ms(1_500)
            .assign(2, &["t-1"])
            .build();
        let found = ownerless_time(&h);
        // t-1 from its revocation (1.1 s) to b's assignment (1.6 s); t-0 never.
        assert_eq!((found[0].total_ns, found[0].longest_key.as_str()), (500_000_000, "t-1"));
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

    #[test]
    fn member_ids_lose_their_uuid_and_keys_read_as_partition_lists() {
        assert_eq!(without_uuid("consumer-1-9405964c-45af-47fd-93dd-402b9e1c3a6f"), "consumer-1");
        assert_eq!(without_uuid("pod-1"), "pod-1");
        assert_eq!(
            without_uuid("x-not-a-uuid-at-all-but-long-enough-to-look-like-one"),
            "x-not-a-uuid-at-all-but-long-enough-to-look-like-one"
        );
        let keys: Vec<String> =
            ["orders-10", "orders-2", "audit-0", "orders-0"].iter().map(|k| k.to_string()).collect();
        assert_eq!(compact_keys(&keys), "audit-0 orders-0,2,10");
        assert_eq!(compact_keys(&[]), "-");
        // A long list (a member of a group over hundreds of partitions) shows ranges.
        let many: Vec<String> =
            (0..100).chain([105, 107, 108]).chain(200..203).map(|p| format!("orders-{p}")).collect();
        assert_eq!(compact_keys(&many), "orders-0–99,105,107,108,200–202");
    }
}
