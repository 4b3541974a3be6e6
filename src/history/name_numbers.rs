//! [`NameNumbers`]: node and partition names numbered in the order they are first seen,
//! found by the name's allocation before its text.

use std::collections::BTreeMap;
use std::sync::Arc;

/// How many recently looked-up allocations [`NameNumbers`] keeps. A power of two: the
/// slot is a mask of the address.
const RECENT_SLOTS: usize = 64;

/// Names numbered densely in the order they are first seen.
///
/// The trace names a partition or node with an `Arc<str>` its owner shares across every
/// event it traces, so most lookups come with an allocation looked up before: a slot
/// keyed by the allocation's address holds a clone of it and its number, and a lookup
/// that finds the same allocation there (`Arc::ptr_eq`) skips the search by text (the
/// trace interner's and the cluster-state fold's searches took about 4% of the bench's
/// simulation instructions). The
/// slot's clone keeps the allocation alive, so no other name can reuse its address
/// while it is remembered. Numbers never depend on addresses: a miss searches by text.
#[derive(Clone, Debug)]
pub(crate) struct NameNumbers {
    /// Name → number.
    by_name: BTreeMap<Arc<str>, u32>,
    /// The allocations last looked up, by a hash of their address, with their numbers.
    recent: Vec<Option<(Arc<str>, u32)>>,
}

impl Default for NameNumbers {
    fn default() -> Self {
        NameNumbers { by_name: BTreeMap::new(), recent: vec![None; RECENT_SLOTS] }
    }
}

impl NameNumbers {
    /// The number of `name`, numbering it next (the count of names before it) if new.
    /// Returns the number and whether the name is new.
    pub(crate) fn number_of(&mut self, name: &Arc<str>) -> (u32, bool) {
        // Allocations are at least 8-byte aligned: the low bits say nothing.
        let slot = (Arc::as_ptr(name) as *const u8 as usize >> 3) & (RECENT_SLOTS - 1);
        if let Some((held, number)) = &self.recent[slot] {
            if Arc::ptr_eq(held, name) {
                return (*number, false);
            }
        }
        let next = u32::try_from(self.by_name.len()).expect("fewer than 2^32 names");
        let number = *self.by_name.entry(Arc::clone(name)).or_insert(next);
        self.recent[slot] = Some((Arc::clone(name), number));
        (number, number == next)
    }

    /// The number of `name`, if it has one.
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    /// How many names are numbered.
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_numbered_by_text_in_order_of_first_sight_whatever_their_allocation() {
        let orders_1: Arc<str> = "orders-1".into();
        let orders_0: Arc<str> = "orders-0".into();
        let orders_1_again: Arc<str> = "orders-1".into();
        let mut numbers = NameNumbers::default();
        assert_eq!(numbers.number_of(&orders_1), (0, true));
        assert_eq!(numbers.number_of(&orders_0), (1, true));
        assert_eq!(numbers.number_of(&orders_1), (0, false));
        assert_eq!(numbers.number_of(&orders_1_again), (0, false));
        assert_eq!(numbers.number_of(&orders_1_again), (0, false));
        assert_eq!((numbers.get("orders-0"), numbers.get("orders-2"), numbers.len()), (Some(1), None, 2));
    }

    #[test]
    fn a_freed_name_s_address_reused_by_another_name_is_not_mistaken_for_it() {
        let mut numbers = NameNumbers::default();
        for i in 0..1_000u32 {
            // Each name is dropped by the caller after its lookup: the allocator may
            // hand its address to the next one, which must still get its own number.
            let name: Arc<str> = format!("t-{}", i % 10).into();
            assert_eq!(numbers.number_of(&name).0, i % 10);
        }
        assert_eq!(numbers.len(), 10);
    }
}
