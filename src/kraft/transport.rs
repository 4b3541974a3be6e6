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
use crate::protocol::{ErrorCode, NodeId, NodeName, Request, Response};
use crate::raft::{Outbound, QuorumNode};
use crate::sim::net::{Addr, Connection, NetError, NodeNet, Responder};
use rand::Rng;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::mpsc;

/// The number of a request to one peer, counted from 1 by the transport: Kafka's
/// correlation id, as far as matching answers to requests needs.
pub type RequestNumber = u64;

/// What came back for a request to a peer.
pub enum Answer {
    /// The peer's answer to request number `.1`.
    Message(NodeId, RequestNumber, QuorumMessage<MetadataRecord>),
    /// The connection to the peer was refused or reset before request `.1` was answered.
    Failed(NodeId, RequestNumber),
}

impl Answer {
    /// Hands what came back to `node` and returns what it sends in turn. What came back
    /// for a request the node has since sent again (its request timed out) is dropped:
    /// Kafka's `RequestManager` expects only the answer to the request in flight (its
    /// correlation id) and `handleInboundMessage` ignores the others ("no longer
    /// needed"). Handling a stale answer would let an old fetch response, a diverging
    /// epoch computed for a position the follower has since left, truncate entries it
    /// has fetched and seen committed since.
    pub fn deliver(
        self,
        node: &mut QuorumNode<MetadataRecord>,
        transport: &QuorumTransport,
        now_ms: u64,
        rng: &mut impl Rng,
    ) -> Vec<Outbound<MetadataRecord>> {
        match self {
            Answer::Message(from, number, message) if transport.is_latest(from, number) => {
                node.handle(from, message, now_ms, rng)
            }
            Answer::Failed(to, number) if transport.is_latest(to, number) => {
                node.request_failed(to, now_ms);
                Vec::new()
            }
            Answer::Message(peer, number, _) | Answer::Failed(peer, number) => {
                tracing::debug!(%peer, number, "ignoring the answer to a request sent again since");
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
    /// The number of the last request sent to each peer that expects an answer.
    sent: BTreeMap<NodeId, RequestNumber>,
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
        let transport = QuorumTransport {
            me,
            net,
            request_timeout,
            connections: BTreeMap::new(),
            held: BTreeMap::new(),
            sent: BTreeMap::new(),
            answers,
        };
        (transport, received)
    }

    /// Keeps the means to answer `from`'s request until the node answers it. A newer
    /// request from the same peer replaces an older one, which is answered at once with
    /// an error: the peer sends again only once it no longer wants that answer (its
    /// request timed out, or it changed role), and `Answer::deliver` drops what answers
    /// an older request; but the peer's connection hands its answers over in request
    /// order (`sim::net`), so an unanswered older request would hold the newer answer
    /// back until the older one's timeout.
    ///
    /// Simplified: Kafka's socket server reads a connection's next request only after
    /// it answered the one before (the channel is muted meanwhile), so the newer
    /// request would wait behind the older, a parked fetch, for up to the fetch's
    /// maximum wait. (A parked fetch is always answered in the end: at once with
    /// NOT_LEADER_OR_FOLLOWER when its leader follows another or resigns, else when it
    /// expires; see `QuorumNode::enter`.)
    pub fn hold(&mut self, from: NodeId, responder: Responder<Request, Response>) {
        if !responder.expects_response() {
            return;
        }
        if let Some(older) = self.held.insert(from, responder) {
            older.reply(Response::Error(ErrorCode::RequestTimedOut));
        }
    }

    /// Whether request `number` is the last one sent to `peer`, whose answer the node
    /// expects.
    pub fn is_latest(&self, peer: NodeId, number: RequestNumber) -> bool {
        self.sent.get(&peer) == Some(&number)
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
            let number = self.sent.get(&to).map_or(1, |n| n + 1);
            self.sent.insert(to, number);
            let (answers, timeout) = (self.answers.clone(), self.request_timeout);
            crate::sim::tasks::spawn(async move {
                match pending.wait(timeout).await {
                    Ok(Response::Controller(ControllerResponse::Quorum(answer))) => {
                        let _ = answers.send(Answer::Message(to, number, answer));
                    }
                    Err(NetError::Disconnected) => {
                        let _ = answers.send(Answer::Failed(to, number));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::net::{NetConfig, Network};
    use madsim::runtime::{Handle, Runtime};
    use madsim::time::sleep;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const LEADER: NodeId = NodeId(3001);
    const ME: NodeId = NodeId(3002);

    /// The peer's process: answers the n-th request it receives 50 ms after it came (a
    /// leader answering a held fetch) with a fetch response in epoch 1 + n, so that each
    /// answer, handled, moves a follower to an epoch of its own.
    async fn answer_late(net: NodeNet<Request, Response>) {
        let mut listener = net.listen();
        let mut seen = 0;
        while let Some(mut conn) = listener.accept().await {
            while let Some(incoming) = conn.recv().await {
                seen += 1;
                let (request, responder) = incoming.into_parts();
                let Request::Controller(ControllerRequest::Quorum { message: QuorumMessage::Fetch { .. }, .. }) =
                    request
                else {
                    continue;
                };
                let message = QuorumMessage::FetchResponse {
                    epoch: 1 + seen,
                    leader: Some(LEADER),
                    error: None,
                    diverging: None,
                    from_offset: 0,
                    entries: Vec::new(),
                    high_watermark: None,
                };
                crate::sim::tasks::spawn(async move {
                    sleep(Duration::from_millis(50)).await;
                    responder.reply(Response::Controller(ControllerResponse::Quorum(message)));
                });
            }
        }
    }

    #[test]
    fn the_answer_to_a_request_sent_again_since_is_dropped_and_the_last_one_delivered() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let config = NetConfig { latency_ms_min: 1, latency_ms_max: 1, ..NetConfig::default() };
            let net: crate::sim::net::Network<Request, Response> = Network::new(config, wire);
            let peer = net.add_host(&Addr::new("controller-1"));
            Handle::current().create_node().name("controller-1").init(move || answer_late(peer.clone())).build();
            let (mut transport, mut answers) =
                QuorumTransport::new(ME, net.add_host(&Addr::new("controller-2")), Duration::from_secs(5));
            let mut rng = StdRng::seed_from_u64(1);
            let voters = [LEADER, ME, NodeId(3003)];
            let stored = crate::raft::ElectionState { epoch: 1, leader: Some(LEADER), voted: None };
            let start = crate::raft::RaftLog::default();
            let config = crate::raft::QuorumConfig::default();
            let mut node = QuorumNode::start(ME, &voters, config, stored, start, 0, &mut rng);
            let fetch = || Outbound {
                to: LEADER,
                message: QuorumMessage::Fetch { epoch: 1, fetch_offset: 0, last_fetched_epoch: 0 },
            };
            transport.send(vec![fetch()]);
            // The node gave up on that fetch and sent it again before the answer came.
            sleep(Duration::from_millis(20)).await;
            transport.send(vec![fetch()]);
            let first = answers.recv().await.expect("the first answer");
            assert!(matches!(first, Answer::Message(LEADER, 1, _)));
            assert!(first.deliver(&mut node, &transport, 80, &mut rng).is_empty());
            assert_eq!(node.epoch(), 1, "the stale answer (epoch 2) was not handled");
            let second = answers.recv().await.expect("the second answer");
            assert!(matches!(second, Answer::Message(LEADER, 2, _)));
            second.deliver(&mut node, &transport, 90, &mut rng);
            assert_eq!(node.epoch(), 3, "the answer to the request in flight was handled");
        });
    }

    #[test]
    fn a_newer_request_from_a_peer_answers_the_held_older_one_at_once() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let config = NetConfig { latency_ms_min: 1, latency_ms_max: 1, ..NetConfig::default() };
            let net: crate::sim::net::Network<Request, Response> = Network::new(config, wire);
            let my_net = net.add_host(&Addr::new("controller-2"));
            let mut listener = my_net.listen();
            let (mut transport, _answers) = QuorumTransport::new(ME, my_net, Duration::from_secs(5));
            let peer = net.add_host(&Addr::new("controller-1")).connect(&Addr::new("controller-2"));
            let fetch = || {
                let message = QuorumMessage::Fetch { epoch: 1, fetch_offset: 0, last_fetched_epoch: 0 };
                Request::Controller(ControllerRequest::Quorum { from: LEADER, message })
            };
            // The leader's fetch waits in this node (parked); the leader gives up on it
            // and fetches again on the same connection.
            let (older, newer) = (peer.send(fetch()), peer.send(fetch()));
            let mut conn = listener.accept().await.expect("the peer connected");
            for _ in 0..2 {
                let (_, responder) = conn.recv().await.expect("a request").into_parts();
                transport.hold(LEADER, responder);
            }
            let timeout = Duration::from_secs(1);
            assert!(
                matches!(older.wait(timeout).await, Ok(Response::Error(ErrorCode::RequestTimedOut))),
                "the older request is answered, so the newer answer is not held behind it"
            );
            let answer = QuorumMessage::FetchResponse {
                epoch: 1,
                leader: Some(ME),
                error: None,
                diverging: None,
                from_offset: 0,
                entries: Vec::new(),
                high_watermark: None,
            };
            transport.send(vec![Outbound { to: LEADER, message: answer }]);
            assert!(matches!(
                newer.wait(timeout).await,
                Ok(Response::Controller(ControllerResponse::Quorum(QuorumMessage::FetchResponse { .. })))
            ));
        });
    }
}
