//! A map keyed by a partition's offsets, which are dense from the log start: a `Vec`
//! indexed by offset for the offsets a log actually reaches, a `BTreeMap` for the odd
//! offset far beyond them (a corrupt or hand-written trace near `u64::MAX`). The log
//! checkers keep one entry per committed offset of every partition; a `BTreeMap` insert
//! for each was most of their cost.

use std::collections::BTreeMap;

/// How far past the dense part an offset may be and still extend it: a gap of unused
/// slots costs at most this many empty entries.
const MAX_GAP: u64 = 1 << 16;

/// Offset → `T`, for lookups and inserts only (no iteration, so no order to keep).
#[derive(Debug)]
pub(super) struct OffsetMap<T> {
    /// `dense[o]` is offset `o`'s entry, for every offset below `dense.len()`.
    dense: Vec<Option<T>>,
    /// Entries at offsets `dense` does not reach, all at or past `dense.len()`: the
    /// dense part never grows over one of them.
    sparse: BTreeMap<u64, T>,
}

impl<T> Default for OffsetMap<T> {
    fn default() -> Self {
        OffsetMap { dense: Vec::new(), sparse: BTreeMap::new() }
    }
}

impl<T> OffsetMap<T> {
    /// The entry at `offset`, if any.
    pub fn get(&self, offset: u64) -> Option<&T> {
        match usize::try_from(offset).ok().and_then(|o| self.dense.get(o)) {
            Some(slot) => slot.as_ref(),
            None => self.sparse.get(&offset),
        }
    }

    /// The entry at `offset`, made with `make` if there is none.
    pub fn get_or_insert_with(&mut self, offset: u64, make: impl FnOnce() -> T) -> &mut T {
        if self.dense_reaches(offset) {
            let o = offset as usize;
            if o >= self.dense.len() {
                self.dense.resize_with(o + 1, || None);
            }
            self.dense[o].get_or_insert_with(make)
        } else {
            self.sparse.entry(offset).or_insert_with(make)
        }
    }

    /// Whether `offset` is, or may become, in the dense part: below its end, or close
    /// enough past it and before every sparse entry.
    fn dense_reaches(&self, offset: u64) -> bool {
        let end = self.dense.len() as u64;
        offset < end
            || (offset - end < MAX_GAP
                && usize::try_from(offset).is_ok()
                && self.sparse.first_key_value().is_none_or(|(&first, _)| offset < first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn it_keeps_what_a_btree_map_keeps(
            inserts in proptest::collection::vec(
                proptest::prop_oneof![0u64..300, (1u64 << 16)..(1 << 16) + 300, (u64::MAX - 3)..=u64::MAX],
                0..200,
            ),
        ) {
            let mut map = OffsetMap::default();
            let mut reference = BTreeMap::new();
            for (i, &offset) in inserts.iter().enumerate() {
                let kept = *map.get_or_insert_with(offset, || i);
                proptest::prop_assert_eq!(kept, *reference.entry(offset).or_insert(i));
            }
            for offset in inserts.iter().flat_map(|&o| [o, o.wrapping_add(1)]) {
                proptest::prop_assert_eq!(map.get(offset), reference.get(&offset));
            }
        }
    }
}
