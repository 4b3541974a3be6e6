//! Per-offset entries that share their change's details: the log checkers keep one entry
//! per committed offset of every partition, and what a change shares among the entries it
//! touched (who, when) is kept once, by number.

use super::replicas::Entry;
use std::num::NonZeroU32;

/// A log entry with the number of what the change that put it there shares with the
/// other entries it touched (who, when), in 16 bytes where a copy of those details took
/// 40: the log checkers keep one per committed offset of every partition, the largest
/// part of their memory on a long run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tagged {
    value: u64,
    epoch: u32,
    /// Index into the checker's [`Details`], plus one: never zero, so an
    /// `Option<Tagged>` takes 16 bytes too.
    details: NonZeroU32,
}

impl Tagged {
    /// The entry, without its details.
    pub fn entry(self) -> Entry {
        Entry { value: self.value, epoch: self.epoch }
    }
}

/// What the entries one change touched share, kept once per change (and only for the
/// changes an entry refers to) and found by number from a [`Tagged`] entry.
#[derive(Debug)]
pub(super) struct Details<T> {
    items: Vec<T>,
}

impl<T> Default for Details<T> {
    fn default() -> Self {
        Details { items: Vec::new() }
    }
}

impl<T: Copy> Details<T> {
    /// `entry` tagged with the change's details, which `numbered` holds once made (`None`
    /// until the change tags its first entry).
    pub fn tag(&mut self, numbered: &mut Option<NonZeroU32>, make: impl FnOnce() -> T, entry: Entry) -> Tagged {
        let details = *numbered.get_or_insert_with(|| {
            self.items.push(make());
            u32::try_from(self.items.len()).ok().and_then(NonZeroU32::new).expect("fewer than 2^32 - 1 changes")
        });
        Tagged { value: entry.value, epoch: entry.epoch, details }
    }

    /// The details `tagged` refers to.
    pub fn of(&self, tagged: Tagged) -> T {
        self.items[tagged.details.get() as usize - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entries_of_one_change_share_its_details_and_the_next_change_gets_its_own() {
        let mut details: Details<u64> = Details::default();
        let entry = |value| Entry { value, epoch: 2 };
        let mut first_change = None;
        let a = details.tag(&mut first_change, || 10, entry(1));
        let b = details.tag(&mut first_change, || unreachable!("made once per change"), entry(2));
        let mut second_change = None;
        let c = details.tag(&mut second_change, || 20, entry(1));
        assert_eq!((a.entry(), b.entry(), c.entry()), (entry(1), entry(2), entry(1)));
        assert_eq!((details.of(a), details.of(b), details.of(c)), (10, 10, 20));
        assert_eq!(details.items.len(), 2);
    }

    #[test]
    fn an_optional_tagged_entry_takes_no_more_room_than_one() {
        assert_eq!(std::mem::size_of::<Option<Tagged>>(), std::mem::size_of::<Tagged>());
    }
}
