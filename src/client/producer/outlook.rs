//! What a producer's unfinished sends wait on, as the runner's liveness phase asks it.
//!
//! A send whose leader keeps refusing it, answering every attempt with an error the
//! producer retries, is answered by `delivery.timeout.ms` at the latest: Kafka's contract
//! for `send` ("an upper bound on the time to report success or failure"). The case that
//! needs it: after an unclean election an idempotent batch overtaken by later ones the new
//! leader took is refused OUT_OF_ORDER_SEQUENCE_NUMBER at every retry, and, not being the
//! next sequence after the last acknowledged one, is retried without an epoch bump
//! (`TransactionManager.canRetry`) until it expires, holding its partition's later batches
//! behind it. A send waiting on anything else (no leader known, a request never answered,
//! metadata never fetched) has no such bound from the cluster, and the liveness phase
//! does not wait for its delivery timeout.
//!
//! Simplified: the runner folds every producer's outlook into one. A send operation that
//! waits on something its producer's batches do not show (a transaction's commit) is not
//! seen here, so when another producer's batch is refused, the grace covers it too.

use crate::protocol::TopicPartition;
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};

/// What a producer's unfinished sends wait on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendsOutlook {
    /// Nothing is unfinished.
    Idle,
    /// Every unfinished batch is in a partition whose leader refused a batch at its last
    /// attempt, which the producer retries; the latest of those batches' delivery
    /// deadlines (`delivery.timeout.ms` after its creation).
    RefusedUntil(Instant),
    /// Some unfinished send waits on something else: a partition without a refused
    /// batch, or a send still waiting for its topic's metadata.
    Waiting,
}

impl SendsOutlook {
    /// The outlook of two producers together: waiting if either waits, else refused
    /// until the later deadline.
    pub fn and(self, other: SendsOutlook) -> SendsOutlook {
        match (self, other) {
            (SendsOutlook::Waiting, _) | (_, SendsOutlook::Waiting) => SendsOutlook::Waiting,
            (SendsOutlook::Idle, outlook) | (outlook, SendsOutlook::Idle) => outlook,
            (SendsOutlook::RefusedUntil(a), SendsOutlook::RefusedUntil(b)) => SendsOutlook::RefusedUntil(a.max(b)),
        }
    }
}

/// The batches a leader refused at their last attempt, by partition and creation order,
/// with their delivery deadlines. A batch holds its entry through a [`RefusalMark`], so
/// the entry goes when the batch is answered, fails or expires, however that happens.
#[derive(Clone, Default)]
pub(super) struct Refusals(Arc<Mutex<BTreeMap<(TopicPartition, u64), Instant>>>);

impl Refusals {
    /// Marks the batch `order` of `tp` refused until `deadline`; the mark lasts as long
    /// as the returned value.
    pub fn mark(&self, tp: &TopicPartition, order: u64, deadline: Instant) -> RefusalMark {
        let key = (tp.clone(), order);
        self.entries().insert(key.clone(), deadline);
        RefusalMark { refusals: Arc::downgrade(&self.0), key }
    }

    /// The latest delivery deadline among the refused batches of `tp`, if it has any.
    pub fn until(&self, tp: &TopicPartition) -> Option<Instant> {
        let start = (tp.clone(), 0);
        self.entries().range(start..).take_while(|((t, _), _)| t == tp).map(|(_, &deadline)| deadline).max()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, BTreeMap<(TopicPartition, u64), Instant>> {
        self.0.lock().expect("refusals poisoned")
    }
}

/// A batch's entry in its producer's [`Refusals`], removed when dropped.
pub(super) struct RefusalMark {
    refusals: Weak<Mutex<BTreeMap<(TopicPartition, u64), Instant>>>,
    key: (TopicPartition, u64),
}

impl Drop for RefusalMark {
    fn drop(&mut self) {
        if let Some(refusals) = self.refusals.upgrade() {
            refusals.lock().expect("refusals poisoned").remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_mark_lasts_as_long_as_its_batch_holds_it() {
        let refusals = Refusals::default();
        let tp = TopicPartition::new("orders", 0);
        let other = TopicPartition::new("orders", 1);
        let t0 = Instant::now();
        let first = refusals.mark(&tp, 3, t0 + Duration::from_secs(5));
        let second = refusals.mark(&tp, 4, t0 + Duration::from_secs(9));
        assert_eq!(refusals.until(&tp), Some(t0 + Duration::from_secs(9)));
        assert_eq!(refusals.until(&other), None);
        drop(second);
        assert_eq!(refusals.until(&tp), Some(t0 + Duration::from_secs(5)));
        drop(first);
        assert_eq!(refusals.until(&tp), None);
    }

    #[test]
    fn a_waiting_producer_makes_the_whole_outlook_waiting() {
        let t0 = Instant::now();
        let (early, late) = (SendsOutlook::RefusedUntil(t0), SendsOutlook::RefusedUntil(t0 + Duration::from_secs(1)));
        assert_eq!(early.and(late), late);
        assert_eq!(SendsOutlook::Idle.and(early), early);
        assert_eq!(late.and(SendsOutlook::Waiting), SendsOutlook::Waiting);
        assert_eq!(SendsOutlook::Idle.and(SendsOutlook::Idle), SendsOutlook::Idle);
    }
}
