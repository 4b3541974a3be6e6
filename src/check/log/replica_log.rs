//! One replica's log as the log checkers rebuild it: an entry (value and leader epoch)
//! per offset, in offset order.
//!
//! A Kafka log is contiguous in offsets and changes its leader epoch only at a
//! leadership change, so the log is kept in columns: the values by position, and the
//! offsets and the epochs as runs (where a run starts, and what it starts with). A
//! replica's entry then takes 8 bytes where an `(offset, value, epoch)` tuple took 24:
//! the log checkers hold every replica's copy of every record at once, the largest
//! thing alive when a long run is checked. Gaps, replaced entries and entries put
//! before the end (a hand-written or corrupt trace) stay correct: they only make more
//! runs.

use super::replicas::Entry;
use std::collections::BTreeMap;
use std::ops::Range;

/// A replica's log: `(offset, entry)` sorted by offset, one entry per offset (see the
/// module).
#[derive(Debug, Default)]
pub(super) struct ReplicaLog {
    /// The entries' values, in offset order.
    values: Vec<u64>,
    /// The entries' offsets: each position holds the one before it plus one.
    offsets: Runs<1>,
    /// The entries' leader epochs: each position holds the one before it.
    epochs: Runs<0>,
}

impl ReplicaLog {
    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Puts `entry` at `offset`, replacing what was there.
    pub fn insert(&mut self, offset: u64, entry: Entry) {
        let at = self.position(offset);
        let len = self.len();
        if at < len && self.offsets.at(at) == offset {
            self.values[at] = entry.value;
            self.epochs.set(at, u64::from(entry.epoch), len);
        } else {
            self.values.insert(at, entry.value);
            self.offsets.insert(at, offset, len);
            self.epochs.insert(at, u64::from(entry.epoch), len);
        }
    }

    /// How many entries are at offsets below `offset`: where `offset` is, or would be.
    fn position(&self, offset: u64) -> usize {
        let len = self.len();
        let runs = &self.offsets.starts;
        // The last run starting at or below `offset`; its entries are consecutive.
        let run = runs.partition_point(|&(_, first)| first <= offset);
        if run == 0 {
            return 0;
        }
        let (start, first) = runs[run - 1];
        let end = runs.get(run).map_or(len, |&(next, _)| next);
        // `offset - first` may exceed any position: the run ends first.
        usize::try_from(offset - first).map_or(end, |step| start.saturating_add(step).min(end))
    }

    /// Removes and returns the entries at `offset` and after.
    pub fn split_off(&mut self, offset: u64) -> Vec<(u64, Entry)> {
        let at = self.position(offset);
        let tail = self.entries(at..self.len()).collect();
        self.values.truncate(at);
        self.offsets.truncate(at);
        self.epochs.truncate(at);
        tail
    }

    /// Removes the entries before `offset`.
    pub fn remove_before(&mut self, offset: u64) {
        let at = self.position(offset);
        let len = self.len();
        self.values.drain(..at);
        self.offsets.drain_front(at, len);
        self.epochs.drain_front(at, len);
    }

    /// The entries at offsets in `range` (none if it is empty or reversed).
    pub fn range(&self, range: Range<u64>) -> impl Iterator<Item = (u64, Entry)> + '_ {
        let start = self.position(range.start);
        self.entries(start..self.position(range.end).max(start))
    }

    /// The entries at `positions`, in order.
    fn entries(&self, positions: Range<usize>) -> impl Iterator<Item = (u64, Entry)> + '_ {
        let mut offsets = self.offsets.from(positions.start);
        let mut epochs = self.epochs.from(positions.start);
        self.values[positions].iter().map(move |&value| {
            let epoch = epochs.next() as u32;
            (offsets.next(), Entry { value, epoch })
        })
    }

    /// The entries, by offset.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (u64, Entry)> + '_ {
        self.entries(0..self.len())
    }
}

impl FromIterator<(u64, Entry)> for ReplicaLog {
    /// A log from entries in any order; of two at one offset the later wins.
    fn from_iter<I: IntoIterator<Item = (u64, Entry)>>(entries: I) -> Self {
        let by_offset: BTreeMap<u64, Entry> = entries.into_iter().collect();
        let mut log = ReplicaLog::default();
        for (offset, entry) in by_offset {
            log.insert(offset, entry);
        }
        log
    }
}

/// A column of a [`ReplicaLog`] stored as runs: `starts` holds `(position, value)` where
/// a run starts, in position order, the first at position 0 (none when the column is
/// empty); every other position holds the value of the one before plus `STEP`. A run
/// starts only where that rule does not give the value.
#[derive(Debug, Default)]
struct Runs<const STEP: u64> {
    starts: Vec<(usize, u64)>,
}

impl<const STEP: u64> Runs<STEP> {
    /// The index in `starts` of the run holding `position`, if any starts at or below it.
    fn run_of(&self, position: usize) -> Option<usize> {
        self.starts.partition_point(|&(start, _)| start <= position).checked_sub(1)
    }

    /// The value at `position` (which must hold one).
    fn at(&self, position: usize) -> u64 {
        let (start, first) = self.starts[self.run_of(position).expect("a position below the column's length")];
        first.wrapping_add(STEP.wrapping_mul((position - start) as u64))
    }

    /// Whether `value` at `position` is what the run before it gives.
    fn follows_on(&self, run_before: Option<usize>, position: usize, value: u64) -> bool {
        run_before.is_some_and(|run| {
            let (start, first) = self.starts[run];
            first.wrapping_add(STEP.wrapping_mul((position - start) as u64)) == value
        })
    }

    /// Makes a run start at `position` (below `len`) if none does; returns its index.
    fn split_at(&mut self, position: usize) -> usize {
        let run = self.run_of(position).expect("a position below the column's length");
        if self.starts[run].0 == position {
            return run;
        }
        let value = self.at(position);
        self.starts.insert(run + 1, (position, value));
        run + 1
    }

    /// Drops the run starting at index `run` if the run before it gives its values.
    fn merge_into_previous(&mut self, run: usize) {
        if let Some(&(position, value)) = self.starts.get(run) {
            if run > 0 && self.follows_on(Some(run - 1), position, value) {
                self.starts.remove(run);
            }
        }
    }

    /// Sets the value at `position` (below `len`, the column's length).
    fn set(&mut self, position: usize, value: u64, len: usize) {
        if position + 1 < len {
            self.split_at(position + 1);
        }
        let run = self.split_at(position);
        self.starts[run].1 = value;
        self.merge_into_previous(run + 1);
        self.merge_into_previous(run);
    }

    /// Inserts `value` at `position` (at most `len`, the column's length before), moving
    /// the values from there one position on.
    fn insert(&mut self, position: usize, value: u64, len: usize) {
        if position == len {
            if !self.follows_on(self.starts.len().checked_sub(1), position, value) {
                self.starts.push((position, value));
            }
            return;
        }
        let run = self.split_at(position);
        for start in &mut self.starts[run..] {
            start.0 += 1;
        }
        self.starts.insert(run, (position, value));
        self.merge_into_previous(run + 1);
        self.merge_into_previous(run);
    }

    /// Keeps the first `len` positions.
    fn truncate(&mut self, len: usize) {
        let kept = self.starts.partition_point(|&(start, _)| start < len);
        self.starts.truncate(kept);
    }

    /// Removes the first `count` positions of `len`.
    fn drain_front(&mut self, count: usize, len: usize) {
        if count == 0 {
            return;
        }
        if count == len {
            self.starts.clear();
            return;
        }
        let run = self.split_at(count);
        self.starts.drain(..run);
        for start in &mut self.starts {
            start.0 -= count;
        }
    }

    /// The values from `position` on, one per call of [`Cursor::next`].
    fn from(&self, position: usize) -> Cursor<'_, STEP> {
        let run = self.run_of(position);
        let value = run.map_or(0, |_| self.at(position));
        Cursor { starts: &self.starts, next_run: run.map_or(0, |r| r + 1), position, value }
    }
}

/// Reads a [`Runs`] column forwards without searching it again.
struct Cursor<'r, const STEP: u64> {
    starts: &'r [(usize, u64)],
    /// The index of the next run to start.
    next_run: usize,
    /// The position [`Cursor::next`] reads next, and its value.
    position: usize,
    value: u64,
}

impl<const STEP: u64> Cursor<'_, STEP> {
    /// The value at the cursor's position; moves on by one.
    fn next(&mut self) -> u64 {
        let value = self.value;
        self.position += 1;
        match self.starts.get(self.next_run) {
            Some(&(start, first)) if start == self.position => {
                self.value = first;
                self.next_run += 1;
            }
            _ => self.value = value.wrapping_add(STEP),
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a log holds, as the reference model: a map from offset to entry.
    type Model = BTreeMap<u64, Entry>;

    /// One change to a log, drawn by proptest.
    #[derive(Clone, Debug)]
    enum Change {
        /// An entry in this epoch after the last one below offset 70.
        Append(u32),
        Insert(u64, u64, u32),
        SplitOff(u64),
        RemoveBefore(u64),
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        // Mostly appends at the end in a few epochs, as a real log; the rest anywhere.
        prop_oneof![
            6 => (0u32..3).prop_map(Change::Append),
            2 => (0u64..80, 0u64..1000, 0u32..3).prop_map(|(o, v, e)| Change::Insert(o, v, e)),
            1 => ((u64::MAX - 3)..=u64::MAX, 0u64..1000).prop_map(|(o, v)| Change::Insert(o, v, 1)),
            1 => (0u64..90).prop_map(Change::SplitOff),
            1 => (0u64..90).prop_map(Change::RemoveBefore),
        ]
    }

    proptest::proptest! {
        #[test]
        fn it_holds_what_a_map_by_offset_holds(
            changes in proptest::collection::vec(change(), 0..120),
            ranges in proptest::collection::vec((0u64..100, 0u64..100), 4),
        ) {
            let mut log = ReplicaLog::default();
            let mut model = Model::new();
            for (i, change) in changes.into_iter().enumerate() {
                match change {
                    Change::Append(epoch) => {
                        let next = model.range(..70).next_back().map_or(0, |(&o, _)| o + 1);
                        let entry = Entry { value: i as u64, epoch };
                        log.insert(next, entry);
                        model.insert(next, entry);
                    }
                    Change::Insert(offset, value, epoch) => {
                        log.insert(offset, Entry { value, epoch });
                        model.insert(offset, Entry { value, epoch });
                    }
                    Change::SplitOff(offset) => {
                        let expected: Vec<(u64, Entry)> = model.split_off(&offset).into_iter().collect();
                        proptest::prop_assert_eq!(log.split_off(offset), expected);
                    }
                    Change::RemoveBefore(offset) => {
                        log.remove_before(offset);
                        model = model.split_off(&offset);
                    }
                }
                let held: Vec<(u64, Entry)> = log.iter().collect();
                let expected: Vec<(u64, Entry)> = model.iter().map(|(&o, &e)| (o, e)).collect();
                proptest::prop_assert_eq!(held, expected);
                proptest::prop_assert_eq!(log.len(), model.len());
            }
            for &(low, high) in &ranges {
                let held: Vec<(u64, Entry)> = log.range(low..high).collect();
                let expected: Vec<(u64, Entry)> =
                    if low < high { model.range(low..high).map(|(&o, &e)| (o, e)).collect() } else { Vec::new() };
                proptest::prop_assert_eq!(held, expected);
            }
        }
    }

    #[test]
    fn a_contiguous_log_in_one_epoch_is_one_run_of_each() {
        let log: ReplicaLog = (0..1000).map(|o| (o, Entry { value: o * 7, epoch: 3 })).collect();
        assert_eq!((log.offsets.starts.len(), log.epochs.starts.len()), (1, 1));
        let mut log = log;
        log.insert(1000, Entry { value: 1, epoch: 4 });
        log.insert(1002, Entry { value: 2, epoch: 4 });
        assert_eq!(log.offsets.starts, vec![(0, 0), (1001, 1002)], "a gap starts a run");
        assert_eq!(log.epochs.starts, vec![(0, 3), (1000, 4)], "a new epoch starts a run");
        log.insert(1001, Entry { value: 3, epoch: 4 });
        assert_eq!((log.offsets.starts.len(), log.epochs.starts.len()), (1, 2), "the gap filled, the runs merge");
    }

    #[test]
    fn a_replica_log_keeps_offset_order_whatever_the_order_of_inserts() {
        let mut log = ReplicaLog::default();
        for (offset, value) in [(5, 50), (7, 70), (6, 60), (5, 51), (1, 10)] {
            log.insert(offset, Entry { value, epoch: 1 });
        }
        let values: Vec<(u64, u64)> = log.iter().map(|(o, e)| (o, e.value)).collect();
        assert_eq!(values, vec![(1, 10), (5, 51), (6, 60), (7, 70)], "sorted, the later insert wins");
        assert_eq!(log.range(5..7).count(), 2);
        let (high, low) = (7, 5);
        assert_eq!(log.range(high..low).count(), 0, "a reversed range is empty, not a panic");
        assert_eq!(log.split_off(6).len(), 2);
        log.remove_before(5);
        assert_eq!(log.iter().map(|(o, _)| o).collect::<Vec<_>>(), vec![5]);
    }
}
