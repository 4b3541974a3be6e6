//! The counts the workload keeps for the runner's liveness phase: sends still unanswered
//! and records polled but not processed yet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counts the workload keeps for the runner's liveness phase.
#[derive(Clone, Default)]
pub struct Progress {
    /// Sends invoked and not yet completed.
    outstanding_sends: Arc<AtomicU64>,
    /// Records group members polled and have not processed (nor dropped) yet.
    unprocessed_records: Arc<AtomicU64>,
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
