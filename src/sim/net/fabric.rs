//! The wire: how messages cross the simulated network, and the handles on it (their
//! state only: what a node may do with its handles is in `api`, what the simulation may
//! do to the network in `control`, so neither depends on the other and this file on
//! neither). One [`Fabric`] holds every host,
//! connection and link fault; [`Network`]'s delivery tasks move each direction of a
//! connection in arrival order (FIFO per connection unless its link reorders), draw
//! latency and retransmission delays from the seed, hold messages on a blocked link
//! until it heals, make the copies of the duplication fault and count what was delivered.

use super::api::ConnectOptions;
use super::arrivals::Arrivals;
use super::{Addr, NetConfig, NetError};
use crate::sim::clock;
use crate::sim::deadline::Deadlines;
use madsim::rand::{thread_rng, Rng};
use madsim::runtime::NodeHandle;
use madsim::time::{sleep_until, Instant};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// The simulated network, as the simulation (not the nodes) sees it: it creates node
/// handles and injects faults.
pub struct Network<Req, Resp> {
    pub(super) fabric: Arc<Mutex<Fabric<Req, Resp>>>,
    /// Wakes delivery tasks waiting for a blocked link to heal.
    pub(super) links_changed: Arc<Notify>,
    /// The never-crashing madsim node that runs the delivery tasks.
    pub(super) wire: NodeHandle,
    /// The requests' response deadlines (one timer entry at a time, not one per request).
    pub(super) deadlines: Arc<Deadlines>,
}

impl<Req, Resp> Clone for Network<Req, Resp> {
    fn clone(&self) -> Self {
        Network {
            fabric: self.fabric.clone(),
            links_changed: self.links_changed.clone(),
            wire: self.wire.clone(),
            deadlines: self.deadlines.clone(),
        }
    }
}

/// What a node sees of the network: it can listen on its own host and connect to others.
pub struct NodeNet<Req, Resp> {
    pub(super) addr: Addr,
    /// Private: the node reaches the fabric through it, never its fault controls.
    pub(super) net: Network<Req, Resp>,
}

impl<Req, Resp> Clone for NodeNet<Req, Resp> {
    fn clone(&self) -> Self {
        NodeNet { addr: self.addr.clone(), net: self.net.clone() }
    }
}

/// A client's side of a connection.
pub struct Connection<Req, Resp> {
    pub(super) id: ConnId,
    pub(super) peer: Addr,
    pub(super) net: Network<Req, Resp>,
    /// When the client's side closed, shared with the fabric's record of the connection.
    pub(super) closed: Arc<ClosedAt>,
}

/// When a connection closed as its client sees it (closed, refused, reset, or given up
/// at its setup timeout): kept beside the fabric's record, which goes once both sides
/// are done, so that a client that looks later still learns when.
#[derive(Default)]
pub(super) struct ClosedAt(Mutex<Option<Instant>>);

impl ClosedAt {
    /// The instant it closed, if it did.
    pub(super) fn get(&self) -> Option<Instant> {
        *self.0.lock().expect("closed-at poisoned")
    }

    /// Notes that it closed now, unless it had already.
    fn mark(&self) {
        self.0.lock().expect("closed-at poisoned").get_or_insert_with(clock::now);
    }
}

/// A request received by a server, with the means to answer it.
pub struct Incoming<Req, Resp> {
    /// The request.
    pub request: Req,
    /// The client's host.
    pub from: Addr,
    pub(super) responder: Responder<Req, Resp>,
}

/// Answers one request; may be moved to another task (e.g. a purgatory).
pub struct Responder<Req, Resp> {
    pub(super) conn: ConnId,
    pub(super) correlation_id: CorrelationId,
    pub(super) expects_response: bool,
    pub(super) net: Network<Req, Resp>,
}

/// A server's side of one accepted connection.
pub struct ServerConn<Req, Resp> {
    /// The client's host.
    pub peer: Addr,
    pub(super) inbox: mpsc::UnboundedReceiver<Incoming<Req, Resp>>,
}

/// Counters over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages delivered to a receiver.
    pub messages_delivered: u64,
    /// Connections opened.
    pub connections_opened: u64,
    /// Messages sent (each queued on a pipe; a duplicate is not sent again).
    pub messages_sent: u64,
    /// Messages whose first transmission was lost (`packet_loss_rate`): TCP
    /// retransmitted them after the retransmission timeout.
    pub retransmitted: u64,
}

/// Numbers the connections of a run, from 1.
pub type ConnId = u64;
/// Matches a response to its request on one connection, from 1.
pub(super) type CorrelationId = u64;

/// One of the two pipes of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Direction {
    ToServer,
    ToClient,
}

/// A request as it travels to the server.
pub(super) struct RequestEnvelope<Req> {
    pub(super) correlation_id: CorrelationId,
    pub(super) expects_response: bool,
    pub(super) request: Req,
}

/// What travels on a pipe.
pub(super) enum Message<Req, Resp> {
    /// The client's SYN: the first message of every connection.
    Connect,
    /// The server's SYN-ACK: the client may count the connection established.
    Accepted,
    Request(RequestEnvelope<Req>),
    Response(CorrelationId, Resp),
    /// The server host's RST after its process died: it follows what the process had
    /// already put on the wire, and ends the connection when it reaches the client.
    Reset,
}

/// One direction of a connection: messages ordered by arrival time.
pub(super) struct Pipe<Req, Resp> {
    pub(super) queue: Arrivals<Message<Req, Resp>>,
    next_seq: u64,
    last_arrival: Option<Instant>,
    wake: Arc<Notify>,
}

/// One connection, both directions, as the fabric keeps it.
pub(super) struct Conn<Req, Resp> {
    pub(super) client: Addr,
    pub(super) server: Addr,
    /// The client's name for what the connection is for (a Kafka channel such as
    /// `alter-partition`), if it gave one: the handle of a stuck-connection fault.
    pub(super) channel: Option<&'static str>,
    /// The server host's incarnation this connection was opened against.
    server_incarnation: u64,
    /// Where accepted requests go; `None` until the first request reaches the server.
    pub(super) server_inbox: Option<mpsc::UnboundedSender<Incoming<Req, Resp>>>,
    pub(super) pending: BTreeMap<CorrelationId, oneshot::Sender<Result<Resp, NetError>>>,
    /// Responses that arrived before the response of an older request still awaited (a
    /// reordering link): the client takes them in request order (see
    /// `release_in_request_order`).
    pub(super) held: BTreeMap<CorrelationId, Resp>,
    pub(super) next_correlation_id: CorrelationId,
    /// Set when the client closed the connection: no more responses are wanted.
    pub(super) client_closed: bool,
    /// Set when the server's accept reached the client (the handshake's SYN-ACK): until
    /// then a client that closes the connection sends nothing of what it queued.
    pub(super) established: bool,
    /// Told when the client's view of the connection changes: established, or closed
    /// (see [`ConnectionState`]).
    pub(super) watcher: Option<Arc<Notify>>,
    /// When the client's side closed, which its handle reads.
    pub(super) closed: Arc<ClosedAt>,
    pub(super) to_server: Pipe<Req, Resp>,
    pub(super) to_client: Pipe<Req, Resp>,
}

/// One host's machine and process state.
pub(super) struct Host<Req, Resp> {
    /// Whether the machine is on. A crashed process leaves it on (the kernel answers
    /// with resets); a power loss turns it off (packets vanish).
    pub(super) powered: bool,
    /// Bumped whenever the process dies: connections to an older incarnation are reset.
    pub(super) incarnation: u64,
    pub(super) listener: Option<mpsc::UnboundedSender<ServerConn<Req, Resp>>>,
}

/// Fault settings that the nemesis changes while the run goes.
#[derive(Default)]
pub(super) struct Faults {
    /// Directed links that carry nothing (partitions).
    pub(super) blocked: BTreeSet<(Addr, Addr)>,
    /// Directed links on which messages may overtake each other.
    pub(super) reordering: BTreeSet<(Addr, Addr)>,
    /// Flows that carry nothing either way: the connections a client opened on a channel.
    pub(super) stuck: BTreeSet<(Addr, &'static str)>,
    /// Single connections that carry nothing either way (the client's later connections
    /// on the same channel are not affected).
    pub(super) stuck_connections: BTreeSet<ConnId>,
    /// Directed links on which messages may be delivered twice, with that probability.
    pub(super) duplicating: BTreeMap<(Addr, Addr), f64>,
}

/// The whole network's state, behind [`Network`]'s one lock.
pub(super) struct Fabric<Req, Resp> {
    pub(super) config: NetConfig,
    pub(super) faults: Faults,
    pub(super) hosts: BTreeMap<Addr, Host<Req, Resp>>,
    pub(super) conns: BTreeMap<ConnId, Conn<Req, Resp>>,
    pub(super) next_conn_id: ConnId,
    pub(super) stats: NetStats,
    /// Per directed link, the messages a link fault acted on: held by a partition or a
    /// stuck flow, sent while the link reorders and others were queued, or duplicated.
    /// The nemesis reads it to tell a link fault that changed nothing.
    pub(super) touched: BTreeMap<(Addr, Addr), u64>,
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Network<Req, Resp> {
    /// The fabric's state; every part of the network goes through this one lock.
    pub(super) fn lock(&self) -> MutexGuard<'_, Fabric<Req, Resp>> {
        self.fabric.lock().expect("network state poisoned")
    }

    /// Draws the arrival time of a message sent now on `from -> to`.
    fn arrival_time(fabric: &mut Fabric<Req, Resp>, now: Instant) -> Instant {
        let config = &fabric.config;
        let mut rng = thread_rng();
        let mut delay_ms = rng.gen_range(config.latency_ms_min..=config.latency_ms_max.max(config.latency_ms_min));
        // TCP retransmits a lost packet after the RTO, doubling it each time.
        let (mut rto_ms, mut lost) = (config.rto_ms, false);
        while config.packet_loss_rate > 0.0 && rng.gen_bool(config.packet_loss_rate.min(0.99)) {
            delay_ms += rto_ms;
            rto_ms = (rto_ms * 2).min(60_000);
            lost = true;
        }
        fabric.stats.retransmitted += u64::from(lost);
        now + Duration::from_millis(delay_ms)
    }

    /// Queues a message on one direction of a connection.
    pub(super) fn enqueue(&self, conn_id: ConnId, direction: Direction, message: Message<Req, Resp>) {
        let mut fabric = self.lock();
        let now = clock::now();
        let mut arrival = Self::arrival_time(&mut fabric, now);
        let Some(conn) = fabric.conns.get(&conn_id) else {
            return;
        };
        let link = match direction {
            Direction::ToServer => (conn.client.clone(), conn.server.clone()),
            Direction::ToClient => (conn.server.clone(), conn.client.clone()),
        };
        let reorder = fabric.faults.reordering.contains(&link);
        let duplicate_probability = fabric.faults.duplicating.get(&link).copied().unwrap_or(0.0);
        let duplicate_arrival = (duplicate_probability > 0.0 && thread_rng().gen_bool(duplicate_probability.min(1.0)))
            .then(|| Self::arrival_time(&mut fabric, now));
        let conn = fabric.conns.get_mut(&conn_id).expect("checked above");
        let pipe = match direction {
            Direction::ToServer => &mut conn.to_server,
            Direction::ToClient => &mut conn.to_client,
        };
        // A reordering link acts on a message only when another is queued to overtake.
        let acted = (reorder && !pipe.queue.is_empty()) || duplicate_arrival.is_some();
        if !reorder {
            if let Some(last) = pipe.last_arrival {
                arrival = arrival.max(last);
            }
            pipe.last_arrival = Some(arrival);
        }
        if let Some(second) = duplicate_arrival {
            let second = second.max(arrival);
            if !reorder {
                // The copy is a message of the pipe too: later ones do not overtake it.
                pipe.last_arrival = Some(second);
            }
            pipe.queue.insert((second, pipe.next_seq), message.duplicate());
            pipe.next_seq += 1;
        }
        pipe.queue.insert((arrival, pipe.next_seq), message);
        pipe.next_seq += 1;
        pipe.wake.notify_one();
        fabric.stats.messages_sent += 1;
        if acted {
            *fabric.touched.entry(link).or_default() += 1;
        }
    }

    /// Opens a connection from `client` to `server` and starts its delivery tasks (and,
    /// with a setup timeout, the timer that gives up on its handshake).
    pub(super) fn open(&self, client: &Addr, server: &Addr, options: ConnectOptions) -> Connection<Req, Resp> {
        let ConnectOptions { channel, watcher, setup_timeout } = options;
        let closed = Arc::new(ClosedAt::default());
        let mut fabric = self.lock();
        let id = fabric.next_conn_id;
        fabric.next_conn_id += 1;
        fabric.stats.connections_opened += 1;
        let server_incarnation = fabric.hosts.get(server).map_or(0, |h| h.incarnation);
        let new_pipe =
            || Pipe { queue: Arrivals::default(), next_seq: 0, last_arrival: None, wake: Arc::new(Notify::new()) };
        let conn = Conn {
            client: client.clone(),
            server: server.clone(),
            channel,
            server_incarnation,
            server_inbox: None,
            pending: BTreeMap::new(),
            held: BTreeMap::new(),
            next_correlation_id: 1,
            client_closed: false,
            established: false,
            watcher,
            closed: closed.clone(),
            to_server: new_pipe(),
            to_client: new_pipe(),
        };
        fabric.conns.insert(id, conn);
        drop(fabric);
        // TCP's handshake: the SYN goes first, and whatever the client sends before the
        // SYN-ACK comes back queues behind it (FIFO, unless the link reorders).
        self.enqueue(id, Direction::ToServer, Message::Connect);
        for direction in [Direction::ToServer, Direction::ToClient] {
            let net = self.clone();
            self.wire.spawn(async move { net.run_pipe(id, direction).await });
        }
        if let Some(setup_timeout) = setup_timeout {
            let net = self.clone();
            self.wire.spawn(async move {
                madsim::time::sleep(setup_timeout).await;
                net.give_up_handshake(id);
            });
        }
        Connection { id, peer: server.clone(), net: self.clone(), closed }
    }

    /// The client's setup timeout ran out: a connection still waiting for its handshake is
    /// closed (Kafka's `NetworkClient.handleTimedOutConnections`, or the kernel giving up
    /// on the SYN). One the server accepted in time, or already closed, is left alone.
    fn give_up_handshake(&self, conn_id: ConnId) {
        let connecting = self.lock().conns.get(&conn_id).is_some_and(|c| !c.established && !c.client_closed);
        if connecting {
            tracing::debug!(conn = conn_id, "connection setup timed out");
            self.close(conn_id);
        }
    }

    /// Delivers one direction of a connection, in arrival order, until the connection ends.
    async fn run_pipe(self, conn_id: ConnId, direction: Direction) {
        loop {
            // Find the next message and its link, or wait for one.
            let (wake, next) = {
                let mut fabric = self.lock();
                let Some(conn) = fabric.conns.get_mut(&conn_id) else {
                    return;
                };
                let link = match direction {
                    Direction::ToServer => (conn.client.clone(), conn.server.clone()),
                    Direction::ToClient => (conn.server.clone(), conn.client.clone()),
                };
                let flow = conn.channel.map(|channel| (conn.client.clone(), channel));
                let pipe = match direction {
                    Direction::ToServer => &conn.to_server,
                    Direction::ToClient => &conn.to_client,
                };
                let next = pipe.queue.first_arrival().map(|at| (at, (link, flow)));
                (pipe.wake.clone(), next)
            };
            let Some((arrival, (link, flow))) = next else {
                wake.notified().await;
                continue;
            };
            if arrival > clock::now() {
                // An earlier message may be queued meanwhile (reordering): re-check on wake.
                tokio::select! {
                biased;
                            _ = sleep_until(arrival) => {}
                            _ = wake.notified() => continue,
                        }
            }
            // A partitioned link, or a stuck flow, holds its messages; TCP retransmits
            // once it heals. So does a request to a machine without power: TCP
            // retransmits it until the machine is back, whose kernel then answers RST
            // for a connection it does not know (see `deliver_front`), so the client
            // learns of the reboot at the next retransmission instead of waiting out its
            // request timeout. Simplified: the retransmission comes as the link heals or
            // the machine powers on, not at TCP's next backed-off retransmission timeout.
            let healed = self.links_changed.notified();
            let held = {
                let mut fabric = self.lock();
                let held_by_fault = fabric.faults.blocked.contains(&link)
                    || flow.as_ref().is_some_and(|f| fabric.faults.stuck.contains(f))
                    || fabric.faults.stuck_connections.contains(&conn_id);
                if held_by_fault {
                    *fabric.touched.entry(link.clone()).or_default() += 1;
                }
                let server_unpowered =
                    direction == Direction::ToServer && fabric.hosts.get(&link.1).is_some_and(|h| !h.powered);
                held_by_fault || server_unpowered
            };
            if held {
                healed.await;
                let mut fabric = self.lock();
                let retransmit_at = Self::arrival_time(&mut fabric, clock::now());
                if let Some(conn) = fabric.conns.get_mut(&conn_id) {
                    let pipe = match direction {
                        Direction::ToServer => &mut conn.to_server,
                        Direction::ToClient => &mut conn.to_client,
                    };
                    retime(pipe, retransmit_at);
                }
                continue;
            }
            self.deliver_front(conn_id, direction);
        }
    }

    /// Hands the first message of a pipe to its receiver.
    fn deliver_front(&self, conn_id: ConnId, direction: Direction) {
        let mut fabric = self.lock();
        let server_host_state = {
            let Some(conn) = fabric.conns.get(&conn_id) else {
                return;
            };
            fabric.hosts.get(&conn.server).map(|h| (h.powered, h.incarnation, h.listener.clone()))
        };
        let Some(conn) = fabric.conns.get_mut(&conn_id) else {
            return;
        };
        let pipe = match direction {
            Direction::ToServer => &mut conn.to_server,
            Direction::ToClient => &mut conn.to_client,
        };
        let Some((_, message)) = pipe.queue.pop_first() else {
            return;
        };
        let envelope = match message {
            Message::Response(correlation_id, response) => {
                if conn.pending.contains_key(&correlation_id) {
                    conn.held.insert(correlation_id, response);
                    release_in_request_order(conn);
                }
                fabric.stats.messages_delivered += 1;
                return;
            }
            Message::Accepted => {
                if !conn.established {
                    conn.established = true;
                    conn.notify_watcher();
                }
                fabric.stats.messages_delivered += 1;
                return;
            }
            Message::Reset => {
                fail_pending(conn, NetError::Disconnected);
                remove_conn(&mut fabric.conns, conn_id);
                fabric.stats.messages_delivered += 1;
                return;
            }
            Message::Connect => None,
            Message::Request(envelope) => Some(envelope),
        };
        // A SYN or a request reaches the server's host.
        let Some((powered, incarnation, listener)) = server_host_state else {
            return;
        };
        if !powered {
            // A silent host (`run_pipe` holds messages to it until it is back).
            return;
        }
        if incarnation != conn.server_incarnation {
            // The host restarted since the connection was opened: it answers RST.
            fail_pending(conn, NetError::Disconnected);
            remove_conn(&mut fabric.conns, conn_id);
            return;
        }
        if conn.server_inbox.is_none() {
            // The server accepts the connection at its SYN, or at the first request
            // when a reordering link let one overtake the SYN.
            let accepted = listener.is_some_and(|listener| {
                let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
                let accepted = ServerConn { peer: conn.client.clone(), inbox: inbox_rx };
                conn.server_inbox = Some(inbox_tx);
                listener.send(accepted).is_ok()
            });
            if !accepted {
                // Nobody listens, or the listener is gone: connection refused.
                fail_pending(conn, NetError::Disconnected);
                remove_conn(&mut fabric.conns, conn_id);
                return;
            }
        }
        let Some(envelope) = envelope else {
            // The SYN-ACK goes back (a duplicated SYN is answered again, harmlessly).
            fabric.stats.messages_delivered += 1;
            drop(fabric);
            self.enqueue(conn_id, Direction::ToClient, Message::Accepted);
            return;
        };
        let incoming = Incoming {
            request: envelope.request,
            from: conn.client.clone(),
            responder: Responder {
                conn: conn_id,
                correlation_id: envelope.correlation_id,
                expects_response: envelope.expects_response,
                net: self.clone(),
            },
        };
        let inbox = conn.server_inbox.as_ref().expect("set above");
        if inbox.send(incoming).is_err() {
            // The server dropped the connection (its process is gone or it closed).
            fail_pending(conn, NetError::Disconnected);
            remove_conn(&mut fabric.conns, conn_id);
            return;
        }
        let drained_after_close = conn.client_closed && conn.to_server.queue.is_empty();
        fabric.stats.messages_delivered += 1;
        if drained_after_close {
            // The last buffered request of a closed connection is delivered; the
            // server sees the connection end after it.
            remove_conn(&mut fabric.conns, conn_id);
        }
    }

    /// Closes a connection from the client's side.
    pub(super) fn close(&self, conn_id: ConnId) {
        let mut fabric = self.lock();
        let powered = fabric.client_powered(conn_id);
        let Some(conn) = fabric.conns.get_mut(&conn_id) else {
            return;
        };
        conn.client_closed = true;
        fail_pending(conn, NetError::Disconnected);
        conn.to_client.queue.clear();
        conn.forget_unsent();
        if conn.to_server.queue.is_empty() && powered {
            remove_conn(&mut fabric.conns, conn_id);
        }
        // Otherwise the requests already sent still reach the server (send buffer), and
        // the connection is dropped once the server closes its side.
    }
}

impl<Req, Resp> Message<Req, Resp> {
    /// A copy for the `duplicate` fault, when the payload can be copied.
    fn duplicate(&self) -> Self
    where
        Req: Clone,
        Resp: Clone,
    {
        match self {
            Message::Request(e) => Message::Request(RequestEnvelope {
                correlation_id: e.correlation_id,
                expects_response: e.expects_response,
                request: e.request.clone(),
            }),
            Message::Response(id, r) => Message::Response(*id, r.clone()),
            Message::Connect => Message::Connect,
            Message::Accepted => Message::Accepted,
            Message::Reset => Message::Reset,
        }
    }
}

impl<Req, Resp> Fabric<Req, Resp> {
    /// Whether the machine on the client side of a connection is on.
    pub(super) fn client_powered(&self, conn_id: ConnId) -> bool {
        self.conns.get(&conn_id).and_then(|c| self.hosts.get(&c.client)).is_none_or(|h| h.powered)
    }
}

/// Moves every queued message of a pipe to arrive no earlier than `at`, keeping order.
fn retime<Req, Resp>(pipe: &mut Pipe<Req, Resp>, at: Instant) {
    pipe.queue.delay_to(at);
    pipe.last_arrival = pipe.queue.last_arrival();
}

/// Forgets a connection and wakes its delivery tasks so that they end.
pub(super) fn remove_conn<Req, Resp>(conns: &mut BTreeMap<ConnId, Conn<Req, Resp>>, id: ConnId) {
    if let Some(mut conn) = conns.remove(&id) {
        fail_pending(&mut conn, NetError::Disconnected);
        conn.to_server.wake.notify_one();
        conn.to_client.wake.notify_one();
    }
}

/// Hands the client its held responses in request order: a response waits while an
/// older request on the connection still awaits its own. TCP keeps a connection's bytes
/// in order, and Kafka's `NetworkClient` completes a connection's requests oldest first
/// (`InFlightRequests.completeNext`); a reordering link, which reorders messages as a
/// multi-path network would, must not reorder what one connection delivers to the client.
/// A request whose caller stopped waiting (its timeout passed) holds nothing back: it
/// left `pending` when its `PendingResponse` dropped ([`RequestOrder::waiter_gone`]), so
/// every request still there is awaited, and only the oldest needs looking at.
fn release_in_request_order<Req, Resp>(conn: &mut Conn<Req, Resp>) {
    while let Some(next) = conn.held.first_entry() {
        let id = *next.key();
        if conn.pending.first_key_value().is_some_and(|(&oldest, _)| oldest < id) {
            return;
        }
        let response = next.remove();
        if let Some(waiter) = conn.pending.remove(&id) {
            let _ = waiter.send(Ok(response));
        }
    }
}

/// A connection's responses held in request order, as the client's [`PendingResponse`]s
/// see it: a request given up unanswered (timed out, or its waiter dropped) must not
/// hold back the answers that arrived behind it.
///
/// [`PendingResponse`]: super::PendingResponse
pub(super) trait RequestOrder: Send + Sync {
    /// The waiter of request `correlation_id` on `conn` stopped waiting: the connection
    /// forgets the request (its answer, if one comes, is dropped) and hands over what
    /// waited behind it.
    fn waiter_gone(&self, conn: ConnId, correlation_id: CorrelationId);
}

impl<Req: Send, Resp: Send> RequestOrder for Mutex<Fabric<Req, Resp>> {
    fn waiter_gone(&self, conn: ConnId, correlation_id: CorrelationId) {
        if let Some(conn) = self.lock().expect("network fabric poisoned").conns.get_mut(&conn) {
            conn.pending.remove(&correlation_id);
            conn.held.remove(&correlation_id);
            release_in_request_order(conn);
        }
    }
}

/// Fails every request the client still awaits on `conn`: the connection is closed or
/// reset, as its watcher is told.
pub(super) fn fail_pending<Req, Resp>(conn: &mut Conn<Req, Resp>, error: NetError) {
    conn.closed.mark();
    conn.held.clear();
    for (_, waiter) in std::mem::take(&mut conn.pending) {
        let _ = waiter.send(Err(error));
    }
    conn.notify_watcher();
}

impl<Req, Resp> Conn<Req, Resp> {
    /// Tells the client's watcher, if it gave one, that the connection changed.
    fn notify_watcher(&self) {
        if let Some(watcher) = &self.watcher {
            watcher.notify_waiters();
        }
    }

    /// A client that closes a connection before the server's accept reached it sends
    /// nothing more: a socket closed in SYN_SENT has put no data on the wire, so what it
    /// queued (its SYN included) never reaches the server.
    pub(super) fn forget_unsent(&mut self) {
        if !self.established {
            self.to_server.queue.clear();
        }
    }
}
