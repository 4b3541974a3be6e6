//! The counts the workload keeps for the runner's liveness phase: sends still unanswered
//! and records polled but not processed yet; and what the producers' unfinished sends
//! wait on.

use crate::client::producer::{OutlookHandle, SendsOutlook};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counts the workload keeps for the runner's liveness phase.
#[derive(Clone, Default)]
pub struct Progress {
    /// Sends invoked and not yet completed.
    outstanding_sends: Arc<AtomicU64>,
    /// Records group members polled and have not processed (nor dropped) yet.
    unprocessed_records: Arc<AtomicU64>,
    /// Every producer the workload started, in start order.
    producers: Arc<Mutex<Vec<OutlookHandle>>>,
}

impl Progress {
    /// Sends invoked and not yet completed.
    pub fn outstanding_sends(&self) -> u64 {
        self.outstanding_sends.load(Ordering::Relaxed)
    }

    /// Records group members polled and have not processed (nor dropped) yet.
    pub fn unprocessed_records(&self) -> u64 {
        self.unprocessed_records.load(Ordering::Relaxed)
    }

    /// What the unfinished sends of every producer the workload started wait on (see
    /// [`SendsOutlook`]).
    pub fn sends_outlook(&self) -> SendsOutlook {
        let producers = self.producers.lock().expect("producers poisoned");
        producers.iter().fold(SendsOutlook::Idle, |outlook, producer| outlook.and(producer.outlook()))
    }

    /// Counts `producer` among those whose sends the liveness phase asks about.
    pub(super) fn watch_producer(&self, producer: OutlookHandle) {
        self.producers.lock().expect("producers poisoned").push(producer);
    }

    pub(super) fn send_started(&self) {
        self.outstanding_sends.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn send_ended(&self) {
        self.outstanding_sends.fetch_sub(1, Ordering::Relaxed);
    }

    pub(super) fn polled(&self, records: u64) {
        self.unprocessed_records.fetch_add(records, Ordering::Relaxed);
    }

    pub(super) fn processed(&self, records: u64) {
        self.unprocessed_records.fetch_sub(records, Ordering::Relaxed);
    }
}
