//! Kafka's `StickyAssignor` (`AbstractStickyAssignor`): balanced first, then as much of
//! each member's previous assignment as possible.
//!
//! Previous ownership (Kafka's `allSubscriptionsEqual`, since 3.0 with KAFKA-12984): each
//! member claims the partitions it owned in its last generation (the assignor's user
//! data, KIP-341). A partition claimed by members of different generations stays with the
//! newest; one claimed twice in the same generation is taken from both. Members are
//! visited in the order Kafka's `HashMap` of subscriptions iterates them.
//!
//! When every member subscribes to the same topics, [`constrained`] fills members up to
//! their quota (Kafka's `ConstrainedAssignmentBuilder`, since 2.6: KAFKA-9987, reworked by
//! KAFKA-12464 in 3.0, owned partitions kept in partition order since KAFKA-16277);
//! otherwise, and for every group under the 0.11–2.5 rules, [`general`] balances by
//! moves, kafkasim's model of Kafka's general algorithm (KIP-54).

use super::{subscribed_partitions, subscribes, Assignment, MemberSubscription};
use crate::protocol::StickyAlgorithm;
use crate::protocol::{java, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Each member's valid previous partitions, and the partitions several members of one
/// generation claimed.
struct Claims<'a> {
    owned: BTreeMap<&'a str, Vec<TopicPartition>>,
    doubly_claimed: BTreeSet<TopicPartition>,
}

/// A sticky assignment, and what the cooperative assignor needs to know about it.
pub(super) struct StickyAssignment {
    /// Member id → its partitions.
    pub assignment: Assignment,
    /// Partition → the member it goes to, for each partition the constrained algorithm
    /// gave to a member other than its valid previous owner, or that several members of
    /// one generation claimed (Kafka's `partitionsTransferringOwnership`). `None` when
    /// the general algorithm ran: Kafka then leaves it to the cooperative assignor to
    /// work out from the members' claims.
    pub transferring: Option<BTreeMap<TopicPartition, String>>,
}

/// The sticky assignment. `order` is the members' ids in the order the leader received
/// them; `members` the same members keyed by id.
pub(super) fn sticky(
    order: &[&str],
    members: &BTreeMap<&str, &MemberSubscription>,
    partitions: &BTreeMap<String, u32>,
    algorithm: StickyAlgorithm,
) -> StickyAssignment {
    let all = subscribed_partitions(members, partitions);
    let general_only = |assignment| StickyAssignment { assignment, transferring: None };
    match algorithm {
        StickyAlgorithm::General => general_only(general(members, &all, &first_claims(members, &all))),
        StickyAlgorithm::Constrained => {
            let order = java::hash_map_order(order.iter().copied());
            let claims = newest_claims(&order, members, &all);
            if all_subscriptions_equal(members) {
                constrained(&order, &all, &claims)
            } else {
                general_only(general(members, &all, &claims.owned))
            }
        }
    }
}

/// Whether every member subscribes to the same set of topics.
fn all_subscriptions_equal(members: &BTreeMap<&str, &MemberSubscription>) -> bool {
    let mut sets = members.values().map(|m| m.topics.iter().map(String::as_str).collect::<BTreeSet<&str>>());
    let first = sets.next();
    sets.all(|s| Some(&s) == first.as_ref())
}

/// Previous ownership under the newest rules (see the module docs).
fn newest_claims<'a>(
    order: &[&'a str],
    members: &BTreeMap<&str, &MemberSubscription>,
    all: &[TopicPartition],
) -> Claims<'a> {
    let exists: BTreeSet<&TopicPartition> = all.iter().collect();
    // Kafka's DEFAULT_GENERATION (-1) for a member without one.
    let generation = |id: &str| members[id].generation.map_or(-1, i64::from);
    let mut claims = Claims { owned: BTreeMap::new(), doubly_claimed: BTreeSet::new() };
    let mut claimed_by: BTreeMap<TopicPartition, &'a str> = BTreeMap::new();
    for &consumer in order {
        claims.owned.insert(consumer, Vec::new());
        for tp in members[consumer].owned.iter().filter(|tp| exists.contains(tp)) {
            let mut take = true;
            if let Some(&other) = claimed_by.get(tp) {
                let (mine, theirs) = (generation(consumer), generation(other));
                take = mine > theirs;
                if mine == theirs {
                    claims.doubly_claimed.insert(tp.clone());
                }
                if mine >= theirs {
                    claims.owned.get_mut(other).expect("claimed earlier").retain(|t| t != tp);
                    claimed_by.insert(tp.clone(), consumer);
                }
            } else {
                claimed_by.insert(tp.clone(), consumer);
            }
            if take {
                claims.owned.get_mut(consumer).expect("inserted").push(tp.clone());
            }
        }
    }
    claims
}

/// Previous ownership under the 0.11–2.5 rules as kafkasim models them: a partition two
/// members claim stays with the one whose id sorts first.
fn first_claims<'a>(
    members: &BTreeMap<&'a str, &MemberSubscription>,
    all: &[TopicPartition],
) -> BTreeMap<&'a str, Vec<TopicPartition>> {
    let mut taken = BTreeSet::new();
    let mut owned = BTreeMap::new();
    for (id, m) in members {
        let valid = m.owned.iter().filter(|tp| all.contains(tp) && subscribes(m, &tp.topic));
        owned.insert(*id, valid.filter(|tp| taken.insert((*tp).clone())).cloned().collect());
    }
    owned
}

/// Kafka's `ConstrainedAssignmentBuilder` for equal subscriptions. With `n` partitions
/// and `m` members each member gets `n / m` (the min quota) or one more (the max quota),
/// and exactly `n % m` members get the max quota.
///
/// 1. **Keep** (`assignOwnedPartitions`), members in map order: a member owning fewer
///    than the min quota keeps everything and is unfilled; one owning the max quota or
///    more keeps the max quota (in partition order) while max-quota slots remain, else
///    the min quota; one at the min quota may still take one more.
/// 2. **Fill** (`assignRoundRobin`): the unassigned partitions, in topic-partition order,
///    go round the unfilled members sorted by id until each reaches the min quota, then
///    one each to the members at the min quota (sorted by id) while max-quota slots
///    remain. A partition filled into a member other than the one that gave it up in
///    step 1 (Kafka's `maybeRevokedPartitions`), or claimed twice, is transferring
///    ownership (`assignNewPartition`).
fn constrained(order: &[&str], all: &[TopicPartition], claims: &Claims<'_>) -> StickyAssignment {
    let members = order.len();
    let mut transferring = BTreeMap::new();
    if members == 0 {
        return StickyAssignment { assignment: Assignment::new(), transferring: Some(transferring) };
    }
    // Partition → the member that owned it validly and kept it not (over its quota).
    let mut given_up: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    let (min_quota, max_quota) = (all.len() / members, all.len().div_ceil(members));
    let expected_over_min = all.len() % members;
    let mut over_min = 0;
    let mut assignment: BTreeMap<&str, Vec<TopicPartition>> = BTreeMap::new();
    let mut assigned: BTreeSet<&TopicPartition> = BTreeSet::new();
    let mut under_min: Vec<&str> = Vec::new();
    let mut at_min: VecDeque<&str> = VecDeque::new();

    // 1. Keep.
    for &consumer in order {
        let mut owned: Vec<&TopicPartition> =
            claims.owned[consumer].iter().filter(|tp| !claims.doubly_claimed.contains(*tp)).collect();
        owned.sort_by_key(|tp| (tp.partition, tp.topic.clone()));
        let keep = if owned.len() < min_quota {
            under_min.push(consumer);
            owned.len()
        } else if owned.len() >= max_quota && over_min < expected_over_min {
            over_min += 1;
            if over_min == expected_over_min {
                at_min.clear();
            }
            max_quota
        } else {
            if over_min < expected_over_min {
                at_min.push_back(consumer);
            }
            min_quota
        };
        assigned.extend(owned[..keep].iter().copied());
        given_up.extend(owned[keep..].iter().map(|tp| (*tp, consumer)));
        assignment.insert(consumer, owned[..keep].iter().map(|tp| (*tp).clone()).collect());
    }

    // 2. Fill, with Java's iterator over the unfilled members.
    under_min.sort_unstable();
    at_min.make_contiguous().sort_unstable();
    let mut next = 0;
    for tp in all.iter().filter(|tp| !assigned.contains(tp)) {
        let (consumer, from_under) = if next < under_min.len() {
            next += 1;
            (under_min[next - 1], true)
        } else if under_min.is_empty() {
            // Kafka throws if nobody is left; the quotas leave exactly enough room.
            (at_min.pop_front().expect("a member below the max quota remains"), false)
        } else {
            next = 1;
            (under_min[0], true)
        };
        let list = assignment.get_mut(consumer).expect("every member has a list");
        list.push(tp.clone());
        if given_up.get(tp).is_some_and(|owner| *owner != consumer) || claims.doubly_claimed.contains(tp) {
            transferring.insert(tp.clone(), consumer.to_string());
        }
        if list.len() == min_quota && from_under {
            next -= 1;
            under_min.remove(next);
            at_min.push_back(consumer);
        }
    }
    let assignment = assignment.into_iter().map(|(id, tps)| (id.to_string(), tps)).collect();
    StickyAssignment { assignment, transferring: Some(transferring) }
}

/// The general algorithm, in three steps:
///
/// 1. **Keep.** Each member keeps its previous partitions (`owned`) that still exist and
///    that it still subscribes to.
/// 2. **Fill.** Unowned partitions go out one by one, those with the fewest eligible
///    members first (then by topic and partition), each to the eligible member that
///    holds the fewest partitions (ties: smallest member id). Filling the most
///    constrained partitions first is what lets members with narrow subscriptions keep
///    their own topics.
/// 3. **Balance.** While some member holds at least two more partitions than another
///    member that could take one of them, one partition moves: from the fullest such
///    member to the emptiest (ties: smallest member ids), preferring a partition the
///    giver did not own before this rebalance, then the last in topic-partition order.
///
/// When every member subscribes to the same topics, the result is balanced (sizes
/// differ by at most one) and keeps the most previous ownership possible: a partition
/// only leaves a member that must shrink, and only to the smallest member, which can
/// never become big enough to give one away again. With different subscriptions it
/// stops when no single move between eligible members reduces the imbalance, which is
/// the StickyAssignor's own notion of balanced.
fn general(
    members: &BTreeMap<&str, &MemberSubscription>,
    all: &[TopicPartition],
    owned: &BTreeMap<&str, Vec<TopicPartition>>,
) -> Assignment {
    let eligible: BTreeMap<&TopicPartition, Vec<&str>> = all
        .iter()
        .map(|tp| (tp, members.iter().filter(|(_, m)| subscribes(m, &tp.topic)).map(|(id, _)| *id).collect()))
        .collect();
    let mut held: BTreeMap<&str, BTreeSet<TopicPartition>> = members.keys().map(|id| (*id, BTreeSet::new())).collect();
    let mut owner: BTreeMap<TopicPartition, &str> = BTreeMap::new();

    // 1. Keep.
    for id in members.keys() {
        for tp in owned.get(id).into_iter().flatten() {
            let valid = eligible.get(tp).is_some_and(|ids| ids.contains(id));
            if valid && !owner.contains_key(tp) {
                owner.insert(tp.clone(), id);
                held.get_mut(id).expect("every member is held").insert(tp.clone());
            }
        }
    }

    // 2. Fill.
    let mut unowned: Vec<&TopicPartition> = all.iter().filter(|tp| !owner.contains_key(*tp)).collect();
    unowned.sort_by_key(|tp| (eligible[tp].len(), *tp));
    for tp in unowned {
        let taker = eligible[tp].iter().min_by_key(|id| (held[**id].len(), **id)).copied();
        if let Some(taker) = taker {
            owner.insert(tp.clone(), taker);
            held.get_mut(taker).expect("every member is held").insert(tp.clone());
        }
    }

    // 3. Balance. Every move lowers the sum of squared sizes, so the loop ends.
    while let Some((giver, taker, tp)) = best_move(owned, &eligible, &held) {
        held.get_mut(giver).expect("every member is held").remove(&tp);
        held.get_mut(taker).expect("every member is held").insert(tp);
    }
    held.into_iter().map(|(id, tps)| (id.to_string(), tps.into_iter().collect())).collect()
}

/// The next balancing move of the general algorithm, if any: `(giver, taker, partition)`.
fn best_move<'a>(
    owned: &BTreeMap<&str, Vec<TopicPartition>>,
    eligible: &BTreeMap<&TopicPartition, Vec<&'a str>>,
    held: &BTreeMap<&'a str, BTreeSet<TopicPartition>>,
) -> Option<(&'a str, &'a str, TopicPartition)> {
    // Givers from the fullest down, takers from the emptiest up; ids break ties.
    let mut order: Vec<&'a str> = held.keys().copied().collect();
    order.sort_by_key(|id| (std::cmp::Reverse(held[id].len()), *id));
    for &giver in &order {
        let mut takers: Vec<&'a str> =
            order.iter().copied().filter(|t| held[t].len() + 1 < held[giver].len()).collect();
        takers.sort_by_key(|id| (held[id].len(), *id));
        for taker in takers {
            let movable = held[giver].iter().filter(|tp| eligible.get(tp).is_some_and(|ids| ids.contains(&taker)));
            // A partition the giver did not own before costs no stickiness to move.
            let previously = |tp: &TopicPartition| owned.get(giver).is_some_and(|o| o.contains(tp));
            let choice = movable.max_by_key(|tp| (!previously(tp), (*tp).clone()));
            if let Some(tp) = choice {
                return Some((giver, taker, tp.clone()));
            }
        }
    }
    None
}
