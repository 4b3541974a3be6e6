//! A quorum node's messages over `sim::net`: the requests a [`QuorumNode`] returns go
//! out on one connection per peer, their answers come back as events for the node's
//! loop; the answers the node gives go back on the connection of the request they
//! answer, which the transport holds until then (a fetch the leader parks is answered
//! later, as Kafka's fetch purgatory answers it).
//!
//! Kafka's `KafkaNetworkChannel` and `RaftRequest.Inbound/Outbound` do the same: the
//! Raft client sees messages, the channel sees connections and correlation ids.
//!

use crate::protocol::kraft::{ControllerRequest, ControllerResponse, MetadataRecord, QuorumMessage};
use crate::protocol::{NodeId, NodeName, Request, Response};
use crate::raft::{Outbound, QuorumNode};
use crate::sim::net::{Addr, Connection, NetError, NodeNet, Responder};
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// What came back for a request to a peer.
pub enum Answer {
    /// The peer's answer.
    Message(NodeId, QuorumMessage<MetadataRecord>),
    /// The connection to the peer was refused or reset before an answer came.
    Failed(NodeId),
}

impl Answer {
    /// Hands what came back to `node` and returns what it sends in turn.
    pub fn deliver(
        self,
        node: &mut QuorumNode<MetadataRecord>,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Vec<Outbound<MetadataRecord>> {
        match self {
            Answer::Message(from, message) => node.handle(from, message, now_ms, rng),
            Answer::Failed(to) => {
                node.request_failed(to, now_ms);
                Vec::new()
            }
        }
    }
}

/// Moves one quorum node's messages.
pub struct QuorumTransport {
    me: NodeId,
    net: NodeNet<Request, Response>,
    /// `controller.quorum.request.timeout.ms`: how long an outgoing request waits.
    request_timeout: Duration,
    connections: BTreeMap<NodeId, Connection<Request, Response>>,
    /// The request from each peer that the node has yet to answer.
    held: BTreeMap<NodeId, Responder<Request, Response>>,
    answers: mpsc::UnboundedSender<Answer>,
}

impl QuorumTransport {
    /// A transport for node `me`; what comes back for its requests arrives on the
    /// receiver.
    pub fn new(
        me: NodeId,
        net: NodeNet<Request, Response>,
        request_timeout: Duration,
    ) -> (Self, mpsc::UnboundedReceiver<Answer>) {
        let (answers, received) = mpsc::unbounded_channel();
        let transport =
            QuorumTransport { me, net, request_timeout, connections: BTreeMap::new(), held: BTreeMap::new(), answers };
        (transport, received)
    }

    /// Keeps the means to answer `from`'s request until the node answers it. A newer
    /// request from the same peer replaces an older one (a peer has one in flight).
    pub fn hold(&mut self, from: NodeId, responder: Responder<Request, Response>) {
        self.held.insert(from, responder);
    }

    /// Sends what the node returned: answers on their request's connection, requests
    /// on the peer's connection.
    pub fn send(&mut self, out: Vec<Outbound<MetadataRecord>>) {
        for Outbound { to, message } in out {
            if message.is_response() {
                if let Some(responder) = self.held.remove(&to) {
                    responder.reply(Response::Controller(ControllerResponse::Quorum(message)));
                }
                continue;
            }
            let expects_answer = !matches!(message, QuorumMessage::EndQuorumEpoch { .. });
            let request = Request::Controller(ControllerRequest::Quorum { from: self.me, message });
            let connection = self.connection(to);
            if !expects_answer {
                // EndQuorumEpoch's answer changes nothing in this model: fire and forget.
                connection.send_without_response(request);
                continue;
            }
            let pending = connection.send(request);
            let (answers, timeout) = (self.answers.clone(), self.request_timeout);
            madsim::task::spawn(async move {
                match pending.wait(timeout).await {
                    Ok(Response::Controller(ControllerResponse::Quorum(answer))) => {
                        let _ = answers.send(Answer::Message(to, answer));
                    }
                    Err(NetError::Disconnected) => {
                        let _ = answers.send(Answer::Failed(to));
                    }
                    // Without an answer in time the node sends again after its own
                    // request timeout.
                    _ => {}
                }
            });
        }
    }

    /// The open connection to `peer`, opened anew after a reset.
    fn connection(&mut self, peer: NodeId) -> &Connection<Request, Response> {
        let stale = self.connections.get(&peer).is_none_or(Connection::is_closed);
        if stale {
            let addr = Addr::new(&NodeName::of_kraft_node(peer).to_string());
            self.connections.insert(peer, self.net.connect(&addr));
        }
        &self.connections[&peer]
    }
}
