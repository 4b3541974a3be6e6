//! Behaviour modes that a scenario chooses and a node runs by: one type each for the
//! scenario parser, which maps the text of a scenario file to it, and for the broker or
//! client that acts on it.

/// How a follower reconciles its log with a new leader after a leader change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TruncationMode {
    /// Pre-KIP-101 (Kafka 0.10 and before): truncate to the local high watermark, then
    /// fetch. Reproduces the data loss and replica divergence KIP-101 describes.
    Legacy,
    /// KIP-101 as Kafka 0.11 to 1.1 shipped it: ask the leader with OffsetForLeaderEpoch
    /// for the end offset of the follower's latest epoch and truncate there, or to the
    /// high watermark when the leader does not know that epoch. Fast leader changes can
    /// still make logs diverge (KIP-279's motivating cases).
    LeaderEpochKip101,
    /// KIP-101 with KIP-279 (Kafka 2.0 and later): the leader answers with the largest
    /// epoch it knows up to the follower's latest and that epoch's end; the follower
    /// truncates to the smaller of that end and its own end of that epoch.
    LeaderEpoch,
}

/// Where a consumer starts reading a partition for which it has no valid position (no
/// committed offset, or one out of range): Kafka's `auto.offset.reset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OffsetReset {
    /// From the log start.
    Earliest,
    /// From the high watermark: only records written after the consumer started.
    Latest,
}
