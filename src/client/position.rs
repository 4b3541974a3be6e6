//! A consumer's fetch position in one partition and its KIP-320 validation: Kafka's
//! `SubscriptionState.FetchPosition` and the `TopicPartitionState` transitions
//! `maybeValidatePosition`, `maybeCompleteValidation` and `seekValidated` (Kafka 2.3 to
//! 3.9; the consumer side of KIP-320 arrived in 2.3 with KAFKA-7747).
//!
//! Pure state, no I/O: the [`Consumer`](super::consumer::Consumer) sends the requests.

use crate::protocol::{BrokerId, LeaderEpoch, Offset, OffsetForLeaderEpochResponse, OffsetReset, OffsetValidation};

/// A leader and its epoch, as metadata last showed them (Kafka's `LeaderAndEpoch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaderAndEpoch {
    /// The leader.
    pub leader: BrokerId,
    /// Its leader epoch.
    pub epoch: LeaderEpoch,
}

/// The next offset to fetch, with what the consumer knows of the log behind it
/// (Kafka's `FetchPosition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchPosition {
    /// The next offset to fetch.
    pub offset: Offset,
    /// The leader epoch of the batch holding the last record fetched (Kafka's
    /// `offsetEpoch`); `None` when unknown: a position set by a seek, by
    /// `auto.offset.reset` or from a committed offset, none of which carry an epoch in
    /// kafkasim (Kafka 2.3+ takes one from ListOffsets and OffsetCommit; simplified).
    pub offset_epoch: Option<LeaderEpoch>,
    /// The leader (and epoch) the position was last checked against.
    pub current_leader: Option<LeaderAndEpoch>,
}

impl FetchPosition {
    /// A position with no epoch information, as a seek or a reset makes it.
    pub fn unvalidated(offset: Offset) -> Self {
        FetchPosition { offset, offset_epoch: None, current_leader: None }
    }
}

/// Whether the position may be fetched from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchState {
    /// Fetching.
    Fetching,
    /// A new leader epoch was seen: fetching waits until OffsetsForLeaderEpoch confirms
    /// that the log still holds the records before the position.
    AwaitValidation,
}

/// Log truncation detected with no `auto.offset.reset` policy (Kafka's
/// `LogTruncationException`): the application must seek.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogTruncation {
    /// The position the consumer had.
    pub position: Offset,
    /// The first offset known to diverge (the leader's end of the position's epoch), if
    /// the leader knew that epoch.
    pub divergent_offset: Option<Offset>,
}

/// What completing a validation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// The answer was for an older position or the partition no longer awaited it.
    Ignored,
    /// The log holds everything before the position: fetching resumes there.
    Confirmed,
    /// Truncation detected: the position moved back to the first divergent offset
    /// ("Truncation detected for partition ... resetting offset to the first offset
    /// known to diverge").
    Rewound {
        /// The position before.
        from: Offset,
        /// The divergence point, the new position.
        to: Offset,
    },
    /// Truncation detected, and the leader did not know the position's epoch: the
    /// position is dropped and reset by `auto.offset.reset`.
    Reset,
    /// Truncation detected under `auto.offset.reset = "none"`: raised to the application;
    /// the position keeps awaiting validation until the application seeks.
    Raised(LogTruncation),
}

/// One assigned partition's position and fetch state (Kafka's `TopicPartitionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The position.
    pub position: FetchPosition,
    /// Whether it may be fetched from.
    pub state: FetchState,
}

impl PartitionPosition {
    /// A position set by a seek or a reset, ready to fetch (Kafka's `seekValidated`).
    pub fn fetching(position: FetchPosition) -> Self {
        PartitionPosition { position, state: FetchState::Fetching }
    }

    /// Whether the position may be fetched from now.
    pub fn is_fetchable(&self) -> bool {
        self.state == FetchState::Fetching
    }

    /// Kafka's `maybeValidatePosition`: when metadata shows a leader or epoch other than
    /// the one the position was checked against, remember it and, if the position has
    /// an epoch and validation is on, await validation. Returns whether the position
    /// awaits validation. Before KIP-320 (`OffsetValidation::None`) nothing is checked.
    pub fn maybe_validate(&mut self, current: Option<LeaderAndEpoch>, validation: OffsetValidation) -> bool {
        let Some(current) = current else { return self.state == FetchState::AwaitValidation };
        if validation == OffsetValidation::Kip320 && self.position.current_leader != Some(current) {
            self.position.current_leader = Some(current);
            // `validatePosition`: with no epoch for the position there is nothing to check.
            self.state =
                if self.position.offset_epoch.is_some() { FetchState::AwaitValidation } else { FetchState::Fetching };
        }
        self.state == FetchState::AwaitValidation
    }

    /// Kafka's `SubscriptionState.maybeCompleteValidation` (3.9), given the
    /// OffsetsForLeaderEpoch answer to a request sent for `requested`.
    pub fn complete_validation(
        &mut self,
        requested: &FetchPosition,
        answer: &OffsetForLeaderEpochResponse,
        reset: OffsetReset,
    ) -> Validation {
        if self.state != FetchState::AwaitValidation || self.position != *requested {
            return Validation::Ignored;
        }
        let has_reset_policy = reset != OffsetReset::None;
        match answer.end_offset {
            // UNDEFINED_EPOCH_OFFSET: the leader does not know the epoch at all.
            None if has_reset_policy => Validation::Reset,
            None => Validation::Raised(LogTruncation { position: self.position.offset, divergent_offset: None }),
            Some(end_offset) if end_offset < self.position.offset => {
                if !has_reset_policy {
                    let truncation =
                        LogTruncation { position: self.position.offset, divergent_offset: Some(end_offset) };
                    return Validation::Raised(truncation);
                }
                let from = self.position.offset;
                self.position = FetchPosition {
                    offset: end_offset,
                    offset_epoch: Some(answer.leader_epoch),
                    current_leader: self.position.current_leader,
                };
                self.state = FetchState::Fetching;
                Validation::Rewound { from, to: end_offset }
            }
            Some(_) => {
                self.state = FetchState::Fetching;
                Validation::Confirmed
            }
        }
    }

    /// Moves the position past fetched records: `next_offset`, in the epoch of the batch
    /// that held the last of them (Kafka's `CompletedFetch.lastEpoch`).
    pub fn advance(&mut self, next_offset: Offset, last_epoch: LeaderEpoch) {
        self.position.offset = next_offset;
        self.position.offset_epoch = Some(last_epoch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leader(id: u32, epoch: LeaderEpoch) -> Option<LeaderAndEpoch> {
        Some(LeaderAndEpoch { leader: BrokerId(id), epoch })
    }

    /// Read offsets 0..10 from broker 1 in epoch 0.
    fn read_ten_in_epoch_0() -> PartitionPosition {
        let mut p = PartitionPosition::fetching(FetchPosition::unvalidated(0));
        assert!(!p.maybe_validate(leader(1, 0), OffsetValidation::Kip320), "a reset position has no epoch to check");
        p.advance(10, 0);
        p
    }

    fn answer(leader_epoch: LeaderEpoch, end_offset: Option<Offset>) -> OffsetForLeaderEpochResponse {
        OffsetForLeaderEpochResponse { error: None, leader_epoch, end_offset }
    }

    #[test]
    fn a_new_leader_epoch_pauses_fetching_until_validated() {
        let mut p = read_ten_in_epoch_0();
        assert!(!p.maybe_validate(leader(1, 0), OffsetValidation::Kip320), "same leader and epoch: nothing to do");
        assert!(p.maybe_validate(leader(2, 1), OffsetValidation::Kip320));
        assert!(!p.is_fetchable());
        let requested = p.position;
        // Epoch 0 ends at 12 on the new leader: nothing before 10 was lost.
        assert_eq!(
            p.complete_validation(&requested, &answer(0, Some(12)), OffsetReset::Earliest),
            Validation::Confirmed
        );
        assert!(p.is_fetchable());
        assert_eq!(p.position.offset, 10);
    }

    #[test]
    fn validation_detects_truncation_and_seeks_to_the_divergence_point() {
        let mut p = read_ten_in_epoch_0();
        assert!(p.maybe_validate(leader(2, 1), OffsetValidation::Kip320));
        let requested = p.position;
        // An unclean leader whose epoch 0 ended at 7: offsets 7..10 were replaced.
        let outcome = p.complete_validation(&requested, &answer(0, Some(7)), OffsetReset::Latest);
        assert_eq!(outcome, Validation::Rewound { from: 10, to: 7 });
        assert_eq!(p.position, FetchPosition { offset: 7, offset_epoch: Some(0), current_leader: leader(2, 1) });
        assert!(p.is_fetchable());
        // A late second answer for the old position changes nothing.
        assert_eq!(p.complete_validation(&requested, &answer(0, Some(3)), OffsetReset::Latest), Validation::Ignored);
        assert_eq!(p.position.offset, 7);
    }

    #[test]
    fn without_a_reset_policy_truncation_is_raised_and_the_position_keeps_waiting() {
        let mut p = read_ten_in_epoch_0();
        p.maybe_validate(leader(2, 1), OffsetValidation::Kip320);
        let requested = p.position;
        let outcome = p.complete_validation(&requested, &answer(0, Some(7)), OffsetReset::None);
        assert_eq!(outcome, Validation::Raised(LogTruncation { position: 10, divergent_offset: Some(7) }));
        assert!(!p.is_fetchable(), "the application must seek");
        assert_eq!(p.position.offset, 10);
        // An unknown epoch: the divergence point is unknown too.
        let unknown = p.complete_validation(&requested, &answer(0, None), OffsetReset::None);
        assert_eq!(unknown, Validation::Raised(LogTruncation { position: 10, divergent_offset: None }));
        assert_eq!(p.complete_validation(&requested, &answer(0, None), OffsetReset::Earliest), Validation::Reset);
    }

    #[test]
    fn before_kip_320_a_new_leader_is_fetched_from_at_the_old_position() {
        let mut p = read_ten_in_epoch_0();
        assert!(!p.maybe_validate(leader(2, 1), OffsetValidation::None));
        assert!(p.is_fetchable());
        assert_eq!(p.position.offset, 10, "the consumer reads on past the divergence point");
    }
}
