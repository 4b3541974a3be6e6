//! Elections as a voter times them: the votes counted, the randomized election
//! timeout and the backoffs between elections (Kafka's `CandidateState`,
//! `QuorumState.randomElectionTimeoutMs` and `KafkaRaftClient`'s backoffs).

use super::config::{QuorumConfig, RETRY_BACKOFF_BASE_MS};
use crate::protocol::NodeId;
use rand::Rng;
use std::collections::BTreeSet;

/// Votes counted in an election (real or pre-vote).
#[derive(Clone, Debug, Default)]
pub(super) struct Ballot {
    pub granted: BTreeSet<NodeId>,
    pub rejected: BTreeSet<NodeId>,
    /// Elections lost in a row, for the exponential backoff.
    pub retries: u32,
    /// When the election is given up.
    pub election_deadline_ms: u64,
    /// Set once the election is lost: when the next one starts.
    pub backoff_until_ms: Option<u64>,
}

impl Ballot {
    /// A new election by `me`, which votes for itself, after `retries` lost ones, given
    /// up at `election_deadline_ms`.
    pub fn new(me: NodeId, retries: u32, election_deadline_ms: u64) -> Self {
        Ballot {
            granted: BTreeSet::from([me]),
            rejected: BTreeSet::new(),
            retries,
            election_deadline_ms,
            backoff_until_ms: None,
        }
    }

    /// The election is lost: the next starts after a random backoff.
    pub fn back_off(&mut self, config: &QuorumConfig, now_ms: u64, rng: &mut impl Rng) {
        self.retries += 1;
        self.backoff_until_ms = Some(now_ms + election_backoff_ms(config, self.retries, rng));
    }
}

/// `QuorumState.randomElectionTimeoutMs`: uniform in [timeout, 2 × timeout).
pub(super) fn random_election_timeout_ms(config: &QuorumConfig, rng: &mut impl Rng) -> u64 {
    config.election_timeout_ms + rng.gen_range(0..config.election_timeout_ms.max(1))
}

/// `binaryExponentialElectionBackoffMs`: 100 ms times a random factor below 2^retries,
/// at most `election.backoff.max.ms`.
fn election_backoff_ms(config: &QuorumConfig, retries: u32, rng: &mut impl Rng) -> u64 {
    let factor = rng.gen_range(0..(2u64 << (retries.max(1) - 1).min(20)));
    (RETRY_BACKOFF_BASE_MS * factor).min(config.election_backoff_max_ms)
}

/// `strictExponentialElectionBackoffMs`: the first preferred successor stands at once,
/// the next after a backoff doubling with each place; a voter not in the list waits the
/// longest.
pub(super) fn strict_election_backoff_ms(config: &QuorumConfig, position: Option<usize>, successors: usize) -> u64 {
    let max = config.election_backoff_max_ms;
    match position {
        Some(0) => 0,
        Some(p) if p < successors => {
            let base = max >> (successors - 1);
            (base << (p - 1)).min(max)
        }
        _ => max,
    }
}
