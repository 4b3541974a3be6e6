//! [`PerKey`]: values grouped by a history key (a topic-partition's name), filled in
//! history order and then read as a `BTreeMap`.

use std::collections::BTreeMap;

/// How many recently used keys [`PerKey`] finds by address. A power of two: the slot is
/// a mask of the address.
const RECENT_SLOTS: usize = 64;

/// Values grouped by a `&str` key, for checkers that gather one list per partition while
/// they walk a history.
///
/// A history recorded in-process spells each partition's name once (one `Arc<str>`
/// shared by every op that names it), so a lookup first compares the key's address and
/// length with the group last found through the same slot: a few instructions instead
/// of a `BTreeMap` search comparing strings (about a tenth of building the Jepsen
/// analysis on the bench, by callgrind's count). Two `&str` with the same address and length are the
/// same bytes, so a hit is exact; a miss (a history parsed from a file, whose every key
/// is its own `String`) falls back to the search. Nothing depends on addresses but speed:
/// [`PerKey::into_map`] yields the same map a `BTreeMap` would have built.
pub(crate) struct PerKey<'a, V> {
    /// The groups in the order their keys first appeared.
    groups: Vec<(&'a str, V)>,
    /// Key → its group's index in `groups`.
    by_name: BTreeMap<&'a str, usize>,
    /// `(address, group)` of the key last found through each slot; address 0 is no key
    /// (a `&str`'s pointer is never null).
    recent: [(usize, usize); RECENT_SLOTS],
}

impl<'a, V: Default> PerKey<'a, V> {
    /// No groups.
    pub(crate) fn new() -> Self {
        PerKey { groups: Vec::new(), by_name: BTreeMap::new(), recent: [(0, 0); RECENT_SLOTS] }
    }

    /// The group of `key`, created empty (`V::default()`) at its first use.
    pub(crate) fn entry(&mut self, key: &'a str) -> &mut V {
        let address = key.as_ptr() as usize;
        // Allocations are at least 8-byte aligned: the low bits say nothing.
        let slot = (address >> 3) & (RECENT_SLOTS - 1);
        let (recent_address, recent_group) = self.recent[slot];
        let group = if recent_address == address && self.groups[recent_group].0.len() == key.len() {
            recent_group
        } else {
            let next = self.groups.len();
            let group = *self.by_name.entry(key).or_insert(next);
            if group == next {
                self.groups.push((key, V::default()));
            }
            self.recent[slot] = (address, group);
            group
        };
        &mut self.groups[group].1
    }

    /// The groups by key.
    pub(crate) fn into_map(self) -> BTreeMap<&'a str, V> {
        self.groups.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn shared_and_separately_spelled_keys_group_as_a_btreemap_does() {
        let shared: Arc<str> = "orders-1".into();
        let other: Arc<str> = "orders-0".into();
        let parsed = String::from("orders-1");
        let mut per_key: PerKey<'_, Vec<u32>> = PerKey::new();
        let mut expected: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        for (i, key) in [&*shared, &*other, &*shared, parsed.as_str(), &*other, "orders-1"].into_iter().enumerate() {
            per_key.entry(key).push(i as u32);
            expected.entry(key).or_default().push(i as u32);
        }
        assert_eq!(per_key.into_map(), expected);
    }

    #[test]
    fn a_prefix_at_the_same_address_is_another_key() {
        // "orders-10" and its prefix "orders-1" start at the same address.
        let long: Arc<str> = "orders-10".into();
        let mut per_key: PerKey<'_, u32> = PerKey::new();
        *per_key.entry(&long) += 1;
        *per_key.entry(&long[..8]) += 10;
        *per_key.entry(&long) += 1;
        let map = per_key.into_map();
        assert_eq!(map.get("orders-10"), Some(&2));
        assert_eq!(map.get("orders-1"), Some(&10));
    }

    proptest::proptest! {
        /// Keys drawn from a few shared names and spelled afresh in between (a parsed
        /// history's keys): the same groups as a `BTreeMap`'s, whatever the addresses.
        #[test]
        fn groups_as_a_btreemap_does(picks in proptest::collection::vec((0usize..12, proptest::bool::ANY), 0..200)) {
            let shared: Vec<Arc<str>> = (0..12).map(|p| Arc::from(format!("t-{p}"))).collect();
            let fresh: Vec<String> = picks.iter().map(|&(p, _)| format!("t-{p}")).collect();
            let mut per_key: PerKey<'_, Vec<usize>> = PerKey::new();
            let mut expected: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, &(p, spelled_afresh)) in picks.iter().enumerate() {
                let key: &str = if spelled_afresh { &fresh[i] } else { &shared[p] };
                per_key.entry(key).push(i);
                expected.entry(key).or_default().push(i);
            }
            proptest::prop_assert_eq!(per_key.into_map(), expected);
        }
    }
}
