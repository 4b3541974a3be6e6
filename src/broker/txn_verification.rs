//! What a partition leader remembers of the KIP-890 verifications it started (Kafka's
//! `VerificationStateEntry`, kept per producer id by `ProducerStateManager`): the
//! guard a confirmed batch must carry to open a transaction here, and the lowest
//! sequence seen while verifying.
//!
//! The guard: a leader starts a verification for a transactional batch of a producer
//! with no transaction open here (`UnifiedLog.maybeStartTransactionVerification`), asks
//! the coordinator, and appends the batch only if the entry it started is still the
//! producer's entry (`VerificationGuard.verify`). Any transactional batch or marker of
//! the producer appended in between clears the entry (`UnifiedLog.updateProducers`), so
//! a confirmation that raced with the end of its transaction cannot open a transaction
//! after it.
//!
//! The lowest sequence: while an entry exists, a batch of the producer whose first
//! sequence is above the lowest one seen in a verification is refused with
//! OUT_OF_ORDER_SEQUENCE_NUMBER (`ProducerAppendInfo.checkSequence`). Without it, a
//! producer's second in-flight batch could be verified and appended while its first
//! one's verification failed with a retriable error; the log would then expect the
//! third, and the first would be refused on every retry until its transaction timed out
//! (the "OutOfOrderSequence loop" `VerificationStateEntry` documents).
//!
//! The entries are not persisted: a restarted leader starts with none, as Kafka's.

use crate::protocol::{ProducerId, RecordBatch};
use std::collections::BTreeMap;

/// A producer epoch.
type ProducerEpoch = i16;

/// Identifies one verification entry (Kafka compares `VerificationGuard` objects by
/// identity; a number that is never reused within a log does the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerificationGuard(u64);

/// One producer's verification in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    guard: VerificationGuard,
    /// The newest producer epoch a verification was started under.
    epoch: ProducerEpoch,
    /// The lowest first sequence a verification under `epoch` was started for.
    lowest_sequence: i32,
}

/// The verification entries of one partition replica.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxnVerifications {
    entries: BTreeMap<ProducerId, Entry>,
    /// The next guard to hand out.
    next_guard: u64,
}

impl TxnVerifications {
    /// Starts (or joins) a verification of the producer's batch starting at `sequence`
    /// under `epoch`; returns the guard the batch must carry when it is appended
    /// (`ProducerStateManager.maybeCreateVerificationStateEntry`: an existing entry keeps
    /// its guard and lowers its sequence, or takes a newer epoch's, as
    /// `VerificationStateEntry.maybeUpdateLowestSequenceAndEpoch`).
    pub fn start(&mut self, producer_id: ProducerId, sequence: i32, epoch: ProducerEpoch) -> VerificationGuard {
        let next_guard = &mut self.next_guard;
        let entry = self.entries.entry(producer_id).or_insert_with(|| {
            *next_guard += 1;
            Entry { guard: VerificationGuard(*next_guard), epoch, lowest_sequence: sequence }
        });
        if epoch == entry.epoch && sequence < entry.lowest_sequence {
            entry.lowest_sequence = sequence;
        }
        if epoch > entry.epoch {
            entry.epoch = epoch;
            entry.lowest_sequence = sequence;
        }
        entry.guard
    }

    /// Whether `guard` is still the producer's verification (nothing of the producer's
    /// transactions was appended since it started).
    pub fn holds(&self, producer_id: ProducerId, guard: VerificationGuard) -> bool {
        self.entries.get(&producer_id).is_some_and(|entry| entry.guard == guard)
    }

    /// Whether a batch of the producer starting at `sequence` must wait for a lower one
    /// still being verified (refused with OUT_OF_ORDER_SEQUENCE_NUMBER).
    pub fn blocks_sequence(&self, producer_id: ProducerId, sequence: i32) -> bool {
        self.entries.get(&producer_id).is_some_and(|entry| sequence > entry.lowest_sequence)
    }

    /// Takes an appended batch into account: a transactional batch or marker of a
    /// producer ends its verification, for its transaction is now open here or over.
    pub fn record(&mut self, batch: &RecordBatch) {
        if batch.transactional {
            self.entries.remove(&batch.producer_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Record;

    fn transactional(producer_id: ProducerId) -> RecordBatch {
        let records = vec![Record::new(None, 1, 0)];
        RecordBatch { producer_id, transactional: true, ..RecordBatch::plain(records) }
    }

    #[test]
    fn a_later_batch_waits_for_the_lowest_sequence_being_verified() {
        let mut verifications = TxnVerifications::default();
        let first = verifications.start(7, 0, 3);
        let second = verifications.start(7, 1, 3);
        assert_eq!(first, second, "one entry per producer");
        assert!(verifications.blocks_sequence(7, 1));
        assert!(!verifications.blocks_sequence(7, 0));
        assert!(!verifications.blocks_sequence(8, 1), "other producers are not held");
    }

    #[test]
    fn a_lower_sequence_or_a_newer_epoch_moves_the_lowest_sequence() {
        let mut verifications = TxnVerifications::default();
        verifications.start(7, 2, 3);
        verifications.start(7, 1, 3);
        assert!(verifications.blocks_sequence(7, 2));
        assert!(!verifications.blocks_sequence(7, 1));
        verifications.start(7, 5, 2);
        assert!(!verifications.blocks_sequence(7, 1), "an older epoch changes nothing");
        verifications.start(7, 4, 4);
        assert!(!verifications.blocks_sequence(7, 4), "a newer epoch's sequence replaces it");
        assert!(verifications.blocks_sequence(7, 5));
    }

    #[test]
    fn a_transactional_append_ends_the_verification_and_voids_its_guard() {
        let mut verifications = TxnVerifications::default();
        let guard = verifications.start(7, 0, 0);
        assert!(verifications.holds(7, guard));
        verifications.record(&RecordBatch { producer_id: 7, ..RecordBatch::plain(Vec::new()) });
        assert!(verifications.holds(7, guard), "a non-transactional batch leaves it");
        verifications.record(&transactional(7));
        assert!(!verifications.holds(7, guard));
        assert!(!verifications.blocks_sequence(7, 1));
        let restarted = verifications.start(7, 0, 0);
        assert_ne!(guard, restarted, "a new entry has a new guard");
        assert!(!verifications.holds(7, guard));
    }
}
