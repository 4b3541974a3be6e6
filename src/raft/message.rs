//! The KRaft quorum's requests and responses (KIP-595), one variant each. The sender is
//! the envelope's, not a field: a node learns who asked from the network.

pub use crate::protocol::kraft::{QuorumError, QuorumMessage};
use crate::protocol::NodeId;

/// A message to send, and to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outbound<R> {
    /// The receiver.
    pub to: NodeId,
    /// The message.
    pub message: QuorumMessage<R>,
}
