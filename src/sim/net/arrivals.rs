//! The messages of one direction of a connection, in arrival order.

use madsim::time::Instant;
use std::collections::VecDeque;

/// Where a message stands in its pipe: its arrival time, then its place in send order
/// (unique in the pipe, so no two keys are equal).
pub(super) type ArrivalKey = (Instant, u64);

/// A pipe's messages sorted by [`ArrivalKey`]. Nearly every message arrives after those
/// queued before it (a link keeps TCP's order unless a reorder fault is on), so an
/// insertion is a push at the back and a delivery a pop at the front, and no message
/// moves in between. (A `BTreeMap` moved the messages that shared a node with the one
/// removed, at every delivery.)
pub(super) struct Arrivals<M>(VecDeque<(ArrivalKey, M)>);

impl<M> Default for Arrivals<M> {
    fn default() -> Self {
        Arrivals(VecDeque::new())
    }
}

impl<M> Arrivals<M> {
    /// Queues `message` at its place by `key`.
    pub fn insert(&mut self, key: ArrivalKey, message: M) {
        let at = match self.0.back() {
            Some((last, _)) if *last > key => self.0.partition_point(|(k, _)| *k < key),
            _ => self.0.len(),
        };
        self.0.insert(at, (key, message));
    }

    /// Takes the message that arrives first.
    pub fn pop_first(&mut self) -> Option<(ArrivalKey, M)> {
        self.0.pop_front()
    }

    /// When the first message arrives.
    pub fn first_arrival(&self) -> Option<Instant> {
        self.0.front().map(|((at, _), _)| *at)
    }

    /// When the last message arrives.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.0.back().map(|((at, _), _)| *at)
    }

    /// Whether no message is queued.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Drops every queued message.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Moves every message to arrive no earlier than `at`; those that then arrive at the
    /// same time go in send order.
    pub fn delay_to(&mut self, at: Instant) {
        for ((arrival, _), _) in &mut self.0 {
            *arrival = (*arrival).max(at);
        }
        self.0.make_contiguous().sort_by_key(|(key, _)| *key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// Inserts, delays and pops as a `BTreeMap` keyed the same way does.
    #[test]
    fn keeps_the_order_a_sorted_map_would() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let (mut arrivals, mut model) = (Arrivals::default(), BTreeMap::new());
        // In order, then overtaking (reordered), then equal times; the message is its
        // place in send order.
        for (seq, at) in [5, 7, 9, 6, 9, 1, 12, 9].into_iter().enumerate() {
            arrivals.insert((ms(at), seq as u64), seq);
            model.insert((ms(at), seq as u64), seq);
        }
        assert_eq!(arrivals.pop_first(), model.pop_first());
        arrivals.delay_to(ms(8));
        model = model.into_iter().map(|((at, seq), m)| ((at.max(ms(8)), seq), m)).collect();
        assert_eq!(arrivals.first_arrival(), model.keys().next().map(|(at, _)| *at));
        assert_eq!(arrivals.last_arrival(), model.keys().last().map(|(at, _)| *at));
        let drained: Vec<_> = std::iter::from_fn(|| arrivals.pop_first()).collect();
        assert_eq!(drained, model.into_iter().collect::<Vec<_>>());
        assert!(arrivals.is_empty());
    }
}
