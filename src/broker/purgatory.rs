//! Delayed requests watching partitions: who waits for a change to which partition.
//!
//! A fetch long-poll waits for data on its partitions, an acks=all produce for the high
//! watermark of its partition. Kafka keeps each such delayed operation in a purgatory
//! under one watch key per partition (`DelayedOperationPurgatory.tryCompleteElseWatch`
//! with `TopicPartitionOperationKey`s), and a change to a partition checks only the
//! operations watching it (`checkAndComplete(key)`, called by `Partition` after an
//! append or a high-watermark move). Here a waiting request holds a [`Watch`] registered
//! under the slots of its partitions, and the broker wakes the watches of the slots that
//! changed (see `HostedPartitions::wake_watchers`), not every waiting request on every
//! change: at 2,000 partitions a change woke a few dozen requests that did not ask for
//! its partition.
//!
//! A watch is dropped with its request; its registrations are purged lazily, as Kafka's
//! purgatory purges completed operations from its watch lists (`purgeCompleted`): when
//! a slot's list is full before growing, and when the slot is woken.

use super::hosted::Slot;
use std::sync::{Arc, Weak};
use tokio::sync::Notify;

/// A waiting request's wake-up: fires when a partition it watches may have changed.
///
/// Wait for it as for a [`Notify`] woken with `notify_waiters`: take `notified()` before
/// reading the partitions (under the broker's lock), await it after; a change after the
/// read then cannot be missed, and changes the read already saw wake nothing.
pub type Watch = Arc<Notify>;

/// The watches registered under each slot.
#[derive(Default)]
pub struct Watchers {
    /// By slot number: the watches of requests that asked for the slot's partition, in
    /// registration order (dead ones are purged lazily).
    by_slot: Vec<Vec<Weak<Notify>>>,
}

impl Watchers {
    /// A new watch, registered under each of `slots`.
    pub fn watch(&mut self, slots: impl IntoIterator<Item = Slot>) -> Watch {
        let watch = Watch::default();
        for slot in slots {
            let at = slot.index();
            if self.by_slot.len() <= at {
                self.by_slot.resize_with(at + 1, Vec::new);
            }
            let watching = &mut self.by_slot[at];
            // Purge before the list grows: it then grows only when its live watches fill
            // it, so an idle partition fetched again and again keeps a short list.
            if watching.len() == watching.capacity() {
                watching.retain(|watch| watch.strong_count() > 0);
            }
            watching.push(Arc::downgrade(&watch));
        }
        watch
    }

    /// Wakes the watches of `slot`'s partition.
    pub fn wake(&mut self, slot: Slot) {
        if let Some(watching) = self.by_slot.get_mut(slot.index()) {
            wake_live(watching);
        }
    }

    /// Wakes every watch.
    pub fn wake_all(&mut self) {
        self.by_slot.iter_mut().for_each(wake_live);
    }
}

/// Wakes the live watches of a list and forgets the dead ones.
fn wake_live(watching: &mut Vec<Weak<Notify>>) {
    watching.retain(|watch| match watch.upgrade() {
        Some(live) => {
            live.notify_waiters();
            true
        }
        None => false,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn slot(index: u32) -> Slot {
        Slot::for_tests(index)
    }

    #[test]
    fn a_change_wakes_only_the_watches_of_its_partition() {
        let mut watchers = Watchers::default();
        let both = watchers.watch([slot(0), slot(1)]);
        let second = watchers.watch([slot(1)]);
        let (mut both_woken, mut second_woken) = (Box::pin(both.notified()), Box::pin(second.notified()));
        watchers.wake(slot(0));
        watchers.wake(slot(7));
        assert!((&mut both_woken).now_or_never().is_some());
        assert!((&mut second_woken).now_or_never().is_none());
        watchers.wake_all();
        assert!(second_woken.now_or_never().is_some());
    }

    #[test]
    fn a_change_before_the_wait_began_wakes_nothing_later() {
        let mut watchers = Watchers::default();
        let watch = watchers.watch([slot(0)]);
        watchers.wake(slot(0));
        assert!(watch.notified().now_or_never().is_none(), "no permit is kept");
    }

    #[test]
    fn dropped_watches_are_purged() {
        let mut watchers = Watchers::default();
        let kept = watchers.watch([slot(0)]);
        for _ in 0..1_000 {
            drop(watchers.watch([slot(0)]));
        }
        assert!(watchers.by_slot[0].len() <= 4, "{} registrations kept", watchers.by_slot[0].len());
        watchers.wake(slot(0));
        assert_eq!(watchers.by_slot[0].len(), 1);
        drop(kept);
        watchers.wake_all();
        assert!(watchers.by_slot[0].is_empty());
    }
}
