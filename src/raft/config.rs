//! The quorum's settings, with Kafka's names and defaults (`QuorumConfig`).

use crate::plant::PlantedBug;

/// `controller.quorum.*` settings, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumConfig {
    /// `controller.quorum.election.timeout.ms` (1000): how long a voter without a leader
    /// waits before standing; each wait is drawn from [timeout, 2 × timeout).
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms` (2000): how long a follower goes without a
    /// successful fetch before it stands; 1.5 × this is the leader's check-quorum timeout.
    pub fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms` (1000): the longest random backoff
    /// between a failed election and the next candidacy.
    pub election_backoff_max_ms: u64,
    /// `controller.quorum.request.timeout.ms` (2000): how long a request waits for its
    /// answer before it is sent again.
    pub request_timeout_ms: u64,
    /// `controller.quorum.retry.backoff.ms` (20): the pause before a request that failed
    /// at once (connection refused or reset) is sent again.
    pub retry_backoff_ms: u64,
    /// How long the leader holds a fetch that finds nothing new (Kafka's
    /// `KafkaRaftClient.MAX_FETCH_WAIT_MS`, 500, not a setting).
    pub fetch_max_wait_ms: u64,
    /// KIP-996 pre-vote (Kafka 4.0): a voter first asks whether it could win, without
    /// bumping the epoch, so a node cut off and back cannot disrupt a healthy leader.
    pub pre_vote: bool,
    /// The bug planted in this node's Raft code, if any (`quorum-vote-twice`,
    /// `quorum-commit-without-majority`; see [`crate::plant`]).
    pub plant: Option<PlantedBug>,
}

impl Default for QuorumConfig {
    fn default() -> Self {
        QuorumConfig {
            election_timeout_ms: 1000,
            fetch_timeout_ms: 2000,
            election_backoff_max_ms: 1000,
            request_timeout_ms: 2000,
            retry_backoff_ms: 20,
            fetch_max_wait_ms: 500,
            pre_vote: true,
            plant: None,
        }
    }
}

impl QuorumConfig {
    /// The leader's check-quorum timeout: it resigns when a majority of voters has not
    /// fetched for this long (`LeaderState.CHECK_QUORUM_TIMEOUT_FACTOR` = 1.5).
    pub fn check_quorum_timeout_ms(&self) -> u64 {
        self.fetch_timeout_ms * 3 / 2
    }
}

/// The base of the exponential election backoff (`KafkaRaftClient.RETRY_BACKOFF_BASE_MS`).
pub const RETRY_BACKOFF_BASE_MS: u64 = 100;
