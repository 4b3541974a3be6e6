//! The KRaft quorum's requests and responses (KIP-595), one variant each. The sender is
//! the envelope's, not a field: a node learns who asked from the network.

use super::log::{Entry, Epoch, OffsetAndEpoch};
use crate::protocol::{NodeId, Offset};

/// Why a quorum request was refused (Kafka's `Errors` codes that KRaft uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuorumError {
    /// The request's epoch is older than the receiver's.
    FencedLeaderEpoch,
    /// The request's epoch is newer than the receiver's (it has not heard of it yet).
    UnknownLeaderEpoch,
    /// A leader-only request reached a node that is not the leader.
    NotLeaderOrFollower,
}

/// A message between two quorum members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuorumMessage<R> {
    /// A candidate (or, with `pre_vote`, a prospective candidate, KIP-996) asks for a vote,
    /// showing the end of its log.
    Vote {
        /// The epoch the candidate stands in; for a pre-vote, the prospective's current
        /// epoch (it would stand in the next).
        epoch: Epoch,
        /// The end of the candidate's log.
        last: OffsetAndEpoch,
        /// A pre-vote changes no one's state: it asks whether a real vote would win.
        pre_vote: bool,
    },
    /// The answer to [`QuorumMessage::Vote`].
    VoteResponse {
        /// The voter's epoch.
        epoch: Epoch,
        /// The leader the voter knows in that epoch, if any.
        leader: Option<NodeId>,
        /// Whether the vote (or pre-vote) is granted.
        granted: bool,
        /// Echoes the request's `pre_vote`.
        pre_vote: bool,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
    },
    /// A new leader announces its epoch to every voter.
    BeginQuorumEpoch {
        /// The leader's epoch.
        epoch: Epoch,
    },
    /// The answer to [`QuorumMessage::BeginQuorumEpoch`].
    BeginQuorumEpochResponse {
        /// The receiver's epoch.
        epoch: Epoch,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
    },
    /// A leader that resigns tells the voters, with the successors it prefers (those
    /// with the longest logs first), so that they stand at once.
    EndQuorumEpoch {
        /// The resigning leader's epoch.
        epoch: Epoch,
        /// The voters in order of preference.
        preferred_successors: Vec<NodeId>,
    },
    /// A follower asks the leader for the entries from `fetch_offset`, showing the epoch
    /// of its last entry (KIP-595's fetch-based replication).
    Fetch {
        /// The leader epoch the follower follows.
        epoch: Epoch,
        /// The follower's log end.
        fetch_offset: Offset,
        /// The epoch of the follower's last entry.
        last_fetched_epoch: Epoch,
    },
    /// The answer to [`QuorumMessage::Fetch`].
    FetchResponse {
        /// The receiver's epoch.
        epoch: Epoch,
        /// The leader the receiver knows in that epoch.
        leader: Option<NodeId>,
        /// Why the request was refused, if it was.
        error: Option<QuorumError>,
        /// Where the follower's log diverges from the leader's: truncate, then fetch again.
        diverging: Option<OffsetAndEpoch>,
        /// The offset of the first entry: the fetch offset the leader answered.
        from_offset: Offset,
        /// The entries from `from_offset` (none when diverging).
        entries: Vec<Entry<R>>,
        /// The leader's high watermark, once it has one.
        high_watermark: Option<Offset>,
    },
}

impl<R> QuorumMessage<R> {
    /// The message's name, as Kafka's API keys spell it.
    pub fn name(&self) -> &'static str {
        match self {
            QuorumMessage::Vote { .. } => "Vote",
            QuorumMessage::VoteResponse { .. } => "VoteResponse",
            QuorumMessage::BeginQuorumEpoch { .. } => "BeginQuorumEpoch",
            QuorumMessage::BeginQuorumEpochResponse { .. } => "BeginQuorumEpochResponse",
            QuorumMessage::EndQuorumEpoch { .. } => "EndQuorumEpoch",
            QuorumMessage::Fetch { .. } => "Fetch",
            QuorumMessage::FetchResponse { .. } => "FetchResponse",
        }
    }
}

/// A message to send, and to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound<R> {
    /// The receiver.
    pub to: NodeId,
    /// The message.
    pub message: QuorumMessage<R>,
}
