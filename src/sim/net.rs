//! Typed connections over a simulated network, with TCP's semantics by default and
//! faults injected from outside.
//!
//! Kafka runs over TCP, so that is what nodes see here: a client opens a [`Connection`]
//! to a host, sends requests on it and receives responses matched to them; a server
//! [`Listener`] accepts [`ServerConn`]s and reads their requests in order. Guarantees:
//!
//! - Per-connection FIFO in each direction. A lost packet is retransmitted after a
//!   retransmission timeout (so loss shows up as delay, never as a gap or reordering);
//!   a blocked link (partition) holds messages until it heals.
//! - A process crash closes the host's sockets: peers see the connection reset and every
//!   pending request fails with [`NetError::Disconnected`]. A power loss is silent: peers
//!   notice only through their own timeouts, or a reset when the host is back.
//! - Messages already sent on a connection that its client closed are still delivered
//!   (they sit in the kernel's send buffer); the answers go nowhere. This is how a
//!   timed-out request can still be applied, as in real Kafka.
//! - Injected faults break these rules on purpose: `reorder` lets messages on a link
//!   overtake each other, `duplicate` delivers some messages twice.
//!
//! The system under test sees only [`NodeNet`], [`Connection`], [`Listener`] and
//! [`ServerConn`]; the fault methods live on [`Network`], held by the simulation.

use madsim::rand::{thread_rng, Rng};
use madsim::runtime::NodeHandle;
use madsim::time::{sleep_until, Instant};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// A host name on the simulated network, such as `broker-1` or `metastore`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Addr(Arc<str>);

impl Addr {
    /// Makes an address from a host name.
    pub fn new(host: &str) -> Self {
        Addr(Arc::from(host))
    }

    /// The host name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a request got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The connection was reset or closed before the response arrived.
    Disconnected,
    /// No response within the caller's timeout.
    Timeout,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Disconnected => f.write_str("disconnected"),
            NetError::Timeout => f.write_str("request timed out"),
        }
    }
}

/// How a host went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostDown {
    /// The process died; the kernel closes its sockets and peers see resets.
    ProcessCrash,
    /// The machine lost power, or hangs; peers hear nothing.
    Silent,
}

/// Network-wide timing and loss settings.
#[derive(Clone, Debug, PartialEq)]
pub struct NetConfig {
    /// The smallest one-way latency, in milliseconds.
    pub latency_ms_min: u64,
    /// The largest one-way latency, in milliseconds.
    pub latency_ms_max: u64,
    /// The probability that a packet is lost (and retransmitted after `rto_ms`).
    pub packet_loss_rate: f64,
    /// TCP's retransmission timeout, in milliseconds; doubles on each further loss.
    pub rto_ms: u64,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig { latency_ms_min: 1, latency_ms_max: 5, packet_loss_rate: 0.0, rto_ms: 200 }
    }
}

/// Counters over the whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages delivered to a receiver.
    pub messages_delivered: u64,
    /// Connections opened.
    pub connections_opened: u64,
}

type ConnId = u64;
type CorrelationId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    ToServer,
    ToClient,
}

/// A request as it travels to the server.
struct RequestEnvelope<Req> {
    correlation_id: CorrelationId,
    expects_response: bool,
    request: Req,
}

enum Message<Req, Resp> {
    Request(RequestEnvelope<Req>),
    Response(CorrelationId, Resp),
}

/// One direction of a connection: messages ordered by arrival time.
struct Pipe<Req, Resp> {
    queue: BTreeMap<(Instant, u64), Message<Req, Resp>>,
    next_seq: u64,
    last_arrival: Option<Instant>,
    wake: Arc<Notify>,
}

struct Conn<Req, Resp> {
    client: Addr,
    server: Addr,
    /// The server host's incarnation this connection was opened against.
    server_incarnation: u64,
    /// Where accepted requests go; `None` until the first request reaches the server.
    server_inbox: Option<mpsc::UnboundedSender<Incoming<Req, Resp>>>,
    pending: BTreeMap<CorrelationId, oneshot::Sender<Result<Resp, NetError>>>,
    next_correlation_id: CorrelationId,
    /// Set when the client closed the connection: no more responses are wanted.
    client_closed: bool,
    to_server: Pipe<Req, Resp>,
    to_client: Pipe<Req, Resp>,
}

struct Host<Req, Resp> {
    /// Whether the machine is on. A crashed process leaves it on (the kernel answers
    /// with resets); a power loss turns it off (packets vanish).
    powered: bool,
    /// Bumped whenever the process dies: connections to an older incarnation are reset.
    incarnation: u64,
    listener: Option<mpsc::UnboundedSender<ServerConn<Req, Resp>>>,
}

/// Fault settings that the nemesis changes while the run goes.
#[derive(Default)]
struct Faults {
    /// Directed links that carry nothing (partitions).
    blocked: BTreeSet<(Addr, Addr)>,
    /// Directed links on which messages may overtake each other.
    reordering: BTreeSet<(Addr, Addr)>,
    /// Directed links on which messages may be delivered twice, with that probability.
    duplicating: BTreeMap<(Addr, Addr), f64>,
}

struct Fabric<Req, Resp> {
    config: NetConfig,
    faults: Faults,
    hosts: BTreeMap<Addr, Host<Req, Resp>>,
    conns: BTreeMap<ConnId, Conn<Req, Resp>>,
    next_conn_id: ConnId,
    stats: NetStats,
}

/// The simulated network, as the simulation (not the nodes) sees it: it creates node
/// handles and injects faults.
pub struct Network<Req, Resp> {
    fabric: Arc<Mutex<Fabric<Req, Resp>>>,
    /// Wakes delivery tasks waiting for a blocked link to heal.
    links_changed: Arc<Notify>,
    /// The never-crashing madsim node that runs the delivery tasks.
    wire: NodeHandle,
}

impl<Req, Resp> Clone for Network<Req, Resp> {
    fn clone(&self) -> Self {
        Network { fabric: self.fabric.clone(), links_changed: self.links_changed.clone(), wire: self.wire.clone() }
    }
}

/// What a node sees of the network: it can listen on its own host and connect to others.
pub struct NodeNet<Req, Resp> {
    addr: Addr,
    net: Network<Req, Resp>,
}

impl<Req, Resp> Clone for NodeNet<Req, Resp> {
    fn clone(&self) -> Self {
        NodeNet { addr: self.addr.clone(), net: self.net.clone() }
    }
}

/// A client's side of a connection.
pub struct Connection<Req, Resp> {
    id: ConnId,
    peer: Addr,
    net: Network<Req, Resp>,
}

/// A request received by a server, with the means to answer it.
pub struct Incoming<Req, Resp> {
    /// The request.
    pub request: Req,
    /// The client's host.
    pub from: Addr,
    responder: Responder<Req, Resp>,
}

/// Answers one request; may be moved to another task (e.g. a purgatory).
pub struct Responder<Req, Resp> {
    conn: ConnId,
    correlation_id: CorrelationId,
    expects_response: bool,
    net: Network<Req, Resp>,
}

/// A server's side of one accepted connection.
pub struct ServerConn<Req, Resp> {
    /// The client's host.
    pub peer: Addr,
    inbox: mpsc::UnboundedReceiver<Incoming<Req, Resp>>,
}

/// Accepts connections made to one host.
pub struct Listener<Req, Resp> {
    accepted: mpsc::UnboundedReceiver<ServerConn<Req, Resp>>,
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Network<Req, Resp> {
    /// Creates a network whose delivery tasks run on `wire`, a madsim node that is never
    /// killed.
    pub fn new(config: NetConfig, wire: NodeHandle) -> Self {
        Network {
            fabric: Arc::new(Mutex::new(Fabric {
                config,
                faults: Faults::default(),
                hosts: BTreeMap::new(),
                conns: BTreeMap::new(),
                next_conn_id: 1,
                stats: NetStats::default(),
            })),
            links_changed: Arc::new(Notify::new()),
            wire,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Fabric<Req, Resp>> {
        self.fabric.lock().expect("network state poisoned")
    }

    /// Registers a host (initially up) and returns the handle its node uses.
    pub fn add_host(&self, addr: &Addr) -> NodeNet<Req, Resp> {
        self.lock().hosts.insert(addr.clone(), Host { powered: true, incarnation: 1, listener: None });
        NodeNet { addr: addr.clone(), net: self.clone() }
    }

    /// Marks a host down. Its connections end; how peers learn of it depends on `how`.
    pub fn host_down(&self, addr: &Addr, how: HostDown) {
        let mut fabric = self.lock();
        let Some(host) = fabric.hosts.get_mut(addr) else {
            return;
        };
        host.listener = None;
        host.incarnation += 1;
        if how == HostDown::Silent {
            host.powered = false;
        }
        let affected: Vec<ConnId> =
            fabric.conns.iter().filter(|(_, c)| &c.client == addr || &c.server == addr).map(|(id, _)| *id).collect();
        for id in affected {
            let conn = fabric.conns.get_mut(&id).expect("listed above");
            // The dead host's own side is gone at once: its tasks were killed.
            if &conn.client == addr {
                if how == HostDown::Silent {
                    // No FIN, no reset: the server keeps its side open (half-open) until
                    // the machine is back (see `host_up`).
                    conn.client_closed = true;
                    fail_pending(conn, NetError::Disconnected);
                    conn.to_server.queue.clear();
                    conn.to_client.queue.clear();
                } else {
                    remove_conn(&mut fabric.conns, id);
                }
                continue;
            }
            // The dead host was the server. Drop what was on its way to it.
            conn.to_server.queue.clear();
            conn.server_inbox = None;
            if how == HostDown::ProcessCrash {
                fail_pending(conn, NetError::Disconnected);
                remove_conn(&mut fabric.conns, id);
            }
            // Silent: the client finds out by timing out, or by a reset once the host
            // is back (see `deliver`).
        }
        drop(fabric);
        self.links_changed.notify_waiters();
    }

    /// Powers a host on again (after a power loss); its process listens anew when it
    /// starts. Old connections to it are reset, and so are the server sides of the
    /// connections it had opened as a client before losing power.
    pub fn host_up(&self, addr: &Addr) {
        let mut fabric = self.lock();
        if let Some(host) = fabric.hosts.get_mut(addr) {
            host.powered = true;
            host.incarnation += 1;
        }
        let half_open: Vec<ConnId> =
            fabric.conns.iter().filter(|(_, c)| &c.client == addr).map(|(id, _)| *id).collect();
        for id in half_open {
            remove_conn(&mut fabric.conns, id);
        }
    }

    /// Blocks the directed link `from -> to` (a one-way partition).
    pub fn block(&self, from: &Addr, to: &Addr) {
        self.lock().faults.blocked.insert((from.clone(), to.clone()));
    }

    /// Unblocks the directed link `from -> to`.
    pub fn unblock(&self, from: &Addr, to: &Addr) {
        self.lock().faults.blocked.remove(&(from.clone(), to.clone()));
        self.links_changed.notify_waiters();
    }

    /// Whether the directed link `from -> to` is blocked.
    pub fn is_blocked(&self, from: &Addr, to: &Addr) -> bool {
        self.lock().faults.blocked.contains(&(from.clone(), to.clone()))
    }

    /// Lets messages on `from -> to` overtake each other (or restores FIFO).
    pub fn set_reordering(&self, from: &Addr, to: &Addr, on: bool) {
        let link = (from.clone(), to.clone());
        let mut fabric = self.lock();
        if on {
            fabric.faults.reordering.insert(link);
        } else {
            fabric.faults.reordering.remove(&link);
        }
    }

    /// Delivers messages on `from -> to` twice with this probability (0 turns it off).
    pub fn set_duplication(&self, from: &Addr, to: &Addr, probability: f64) {
        let link = (from.clone(), to.clone());
        let mut fabric = self.lock();
        if probability > 0.0 {
            fabric.faults.duplicating.insert(link, probability);
        } else {
            fabric.faults.duplicating.remove(&link);
        }
    }

    /// Removes every partition, reordering and duplication fault.
    pub fn heal_all(&self) {
        self.lock().faults = Faults::default();
        self.links_changed.notify_waiters();
    }

    /// Changes latency and loss for every link.
    pub fn update_config(&self, change: impl FnOnce(&mut NetConfig)) {
        change(&mut self.lock().config);
    }

    /// The current network settings.
    pub fn config(&self) -> NetConfig {
        self.lock().config.clone()
    }

    /// Counters so far.
    pub fn stats(&self) -> NetStats {
        self.lock().stats
    }

    /// Draws the arrival time of a message sent now on `from -> to`.
    fn arrival_time(fabric: &Fabric<Req, Resp>, now: Instant) -> Instant {
        let config = &fabric.config;
        let mut rng = thread_rng();
        let mut delay_ms = rng.gen_range(config.latency_ms_min..=config.latency_ms_max.max(config.latency_ms_min));
        // TCP retransmits a lost packet after the RTO, doubling it each time.
        let mut rto_ms = config.rto_ms;
        while config.packet_loss_rate > 0.0 && rng.gen_bool(config.packet_loss_rate.min(0.99)) {
            delay_ms += rto_ms;
            rto_ms = (rto_ms * 2).min(60_000);
        }
        now + Duration::from_millis(delay_ms)
    }

    /// Queues a message on one direction of a connection.
    fn enqueue(&self, conn_id: ConnId, direction: Direction, message: Message<Req, Resp>) {
        let mut fabric = self.lock();
        let now = Instant::now();
        let mut arrival = Self::arrival_time(&fabric, now);
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
            .then(|| Self::arrival_time(&fabric, now));
        let conn = fabric.conns.get_mut(&conn_id).expect("checked above");
        let pipe = match direction {
            Direction::ToServer => &mut conn.to_server,
            Direction::ToClient => &mut conn.to_client,
        };
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
    }

    /// Opens a connection from `client` to `server` and starts its delivery tasks.
    fn open(&self, client: &Addr, server: &Addr) -> Connection<Req, Resp> {
        let mut fabric = self.lock();
        let id = fabric.next_conn_id;
        fabric.next_conn_id += 1;
        fabric.stats.connections_opened += 1;
        let server_incarnation = fabric.hosts.get(server).map_or(0, |h| h.incarnation);
        let new_pipe =
            || Pipe { queue: BTreeMap::new(), next_seq: 0, last_arrival: None, wake: Arc::new(Notify::new()) };
        let conn = Conn {
            client: client.clone(),
            server: server.clone(),
            server_incarnation,
            server_inbox: None,
            pending: BTreeMap::new(),
            next_correlation_id: 1,
            client_closed: false,
            to_server: new_pipe(),
            to_client: new_pipe(),
        };
        fabric.conns.insert(id, conn);
        drop(fabric);
        for direction in [Direction::ToServer, Direction::ToClient] {
            let net = self.clone();
            self.wire.spawn(async move { net.run_pipe(id, direction).await });
        }
        Connection { id, peer: server.clone(), net: self.clone() }
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
                let pipe = match direction {
                    Direction::ToServer => &conn.to_server,
                    Direction::ToClient => &conn.to_client,
                };
                let next = pipe.queue.keys().next().map(|(at, _)| (*at, link));
                (pipe.wake.clone(), next)
            };
            let Some((arrival, link)) = next else {
                wake.notified().await;
                continue;
            };
            if arrival > Instant::now() {
                // An earlier message may be queued meanwhile (reordering): re-check on wake.
                tokio::select! {
                biased;
                            _ = sleep_until(arrival) => {}
                            _ = wake.notified() => continue,
                        }
            }
            // A partitioned link holds its messages; TCP retransmits once it heals.
            let healed = self.links_changed.notified();
            if self.lock().faults.blocked.contains(&link) {
                healed.await;
                let mut fabric = self.lock();
                let retransmit_at = Self::arrival_time(&fabric, Instant::now());
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
        match message {
            Message::Response(correlation_id, response) => {
                if let Some(waiter) = conn.pending.remove(&correlation_id) {
                    let _ = waiter.send(Ok(response));
                }
                fabric.stats.messages_delivered += 1;
            }
            Message::Request(envelope) => {
                let Some((powered, incarnation, listener)) = server_host_state else {
                    return;
                };
                if !powered {
                    // A silent host: the packet vanishes, the client will time out.
                    return;
                }
                if incarnation != conn.server_incarnation {
                    // The host restarted since the connection was opened: it answers RST.
                    fail_pending(conn, NetError::Disconnected);
                    remove_conn(&mut fabric.conns, conn_id);
                    return;
                }
                if conn.server_inbox.is_none() {
                    let Some(listener) = listener else {
                        // Nobody listens: connection refused.
                        fail_pending(conn, NetError::Disconnected);
                        remove_conn(&mut fabric.conns, conn_id);
                        return;
                    };
                    let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
                    let accepted = ServerConn { peer: conn.client.clone(), inbox: inbox_rx };
                    if listener.send(accepted).is_err() {
                        fail_pending(conn, NetError::Disconnected);
                        remove_conn(&mut fabric.conns, conn_id);
                        return;
                    }
                    conn.server_inbox = Some(inbox_tx);
                }
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
        }
    }

    /// Closes a connection from the client's side.
    fn close(&self, conn_id: ConnId) {
        let mut fabric = self.lock();
        let powered = fabric.client_powered(conn_id);
        let Some(conn) = fabric.conns.get_mut(&conn_id) else {
            return;
        };
        conn.client_closed = true;
        fail_pending(conn, NetError::Disconnected);
        conn.to_client.queue.clear();
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
        }
    }
}

impl<Req, Resp> Fabric<Req, Resp> {
    /// Whether the machine on the client side of a connection is on.
    fn client_powered(&self, conn_id: ConnId) -> bool {
        self.conns.get(&conn_id).and_then(|c| self.hosts.get(&c.client)).is_none_or(|h| h.powered)
    }
}

/// Moves every queued message of a pipe to arrive no earlier than `at`, keeping order.
fn retime<Req, Resp>(pipe: &mut Pipe<Req, Resp>, at: Instant) {
    let queue = std::mem::take(&mut pipe.queue);
    for ((arrival, seq), message) in queue {
        pipe.queue.insert((arrival.max(at), seq), message);
    }
    pipe.last_arrival = pipe.queue.keys().last().map(|(at, _)| *at);
}

/// Forgets a connection and wakes its delivery tasks so that they end.
fn remove_conn<Req, Resp>(conns: &mut BTreeMap<ConnId, Conn<Req, Resp>>, id: ConnId) {
    if let Some(mut conn) = conns.remove(&id) {
        fail_pending(&mut conn, NetError::Disconnected);
        conn.to_server.wake.notify_one();
        conn.to_client.wake.notify_one();
    }
}

fn fail_pending<Req, Resp>(conn: &mut Conn<Req, Resp>, error: NetError) {
    for (_, waiter) in std::mem::take(&mut conn.pending) {
        let _ = waiter.send(Err(error));
    }
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> NodeNet<Req, Resp> {
    /// This node's own address.
    pub fn addr(&self) -> &Addr {
        &self.addr
    }

    /// Starts accepting connections on this node's host. A later call replaces the
    /// listener (a restarted process listens anew).
    pub fn listen(&self) -> Listener<Req, Resp> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(host) = self.net.lock().hosts.get_mut(&self.addr) {
            host.listener = Some(tx);
        }
        Listener { accepted: rx }
    }

    /// Opens a connection to `server`. It is usable at once; if the server cannot be
    /// reached the first requests fail with [`NetError::Disconnected`] or time out.
    pub fn connect(&self, server: &Addr) -> Connection<Req, Resp> {
        self.net.open(&self.addr, server)
    }
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Connection<Req, Resp> {
    /// The server this connection goes to.
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// Whether the connection has been reset or closed.
    pub fn is_closed(&self) -> bool {
        self.net.lock().conns.get(&self.id).is_none_or(|c| c.client_closed)
    }

    /// Sends a request and returns a future for its response. The request is on the
    /// wire when this returns, so it may be applied even if the caller stops waiting.
    pub fn send(&self, request: Req) -> PendingResponse<Resp> {
        let (tx, rx) = oneshot::channel();
        let correlation_id = {
            let mut fabric = self.net.lock();
            let Some(conn) = fabric.conns.get_mut(&self.id).filter(|c| !c.client_closed) else {
                return PendingResponse { rx: None };
            };
            let id = conn.next_correlation_id;
            conn.next_correlation_id += 1;
            conn.pending.insert(id, tx);
            id
        };
        let envelope = RequestEnvelope { correlation_id, expects_response: true, request };
        self.net.enqueue(self.id, Direction::ToServer, Message::Request(envelope));
        PendingResponse { rx: Some(rx) }
    }

    /// Sends a request that gets no response (a produce with acks=0). Returns whether
    /// the connection was open.
    pub fn send_without_response(&self, request: Req) -> bool {
        if self.is_closed() {
            return false;
        }
        let envelope = RequestEnvelope { correlation_id: 0, expects_response: false, request };
        self.net.enqueue(self.id, Direction::ToServer, Message::Request(envelope));
        true
    }

    /// Sends a request and waits for its response at most `timeout`.
    pub async fn call(&self, request: Req, timeout: Duration) -> Result<Resp, NetError> {
        self.send(request).wait(timeout).await
    }

    /// Closes the connection: pending requests fail with [`NetError::Disconnected`].
    pub fn close(&self) {
        self.net.close(self.id);
    }
}

impl<Req, Resp> Drop for Connection<Req, Resp> {
    fn drop(&mut self) {
        // Dropping the client's handle closes the socket, as in Kafka's Selector.
        // A killed process's handles are dropped too; if its machine lost power, no FIN
        // leaves it and the server's side stays open.
        if let Ok(mut fabric) = self.net.fabric.lock() {
            let powered = fabric.client_powered(self.id);
            if let Some(conn) = fabric.conns.get_mut(&self.id) {
                conn.client_closed = true;
                fail_pending(conn, NetError::Disconnected);
                if conn.to_server.queue.is_empty() && powered {
                    remove_conn(&mut fabric.conns, self.id);
                }
            }
        }
    }
}

/// A response on its way.
pub struct PendingResponse<Resp> {
    rx: Option<oneshot::Receiver<Result<Resp, NetError>>>,
}

impl<Resp> PendingResponse<Resp> {
    /// Waits for the response at most `timeout`.
    pub async fn wait(self, timeout: Duration) -> Result<Resp, NetError> {
        let Some(rx) = self.rx else {
            return Err(NetError::Disconnected);
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NetError::Disconnected),
            Err(_) => Err(NetError::Timeout),
        }
    }
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Incoming<Req, Resp> {
    /// Splits the request from the means to answer it.
    pub fn into_parts(self) -> (Req, Responder<Req, Resp>) {
        (self.request, self.responder)
    }
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Responder<Req, Resp> {
    /// Whether the client waits for an answer (false for acks=0 produce requests).
    pub fn expects_response(&self) -> bool {
        self.expects_response
    }

    /// Sends the response back on the connection it came from. Lost if the client has
    /// gone or closed the connection.
    pub fn reply(self, response: Resp) {
        if !self.expects_response {
            return;
        }
        let open = {
            let fabric = self.net.lock();
            fabric.conns.get(&self.conn).is_some_and(|c| !c.client_closed)
        };
        if open {
            self.net.enqueue(self.conn, Direction::ToClient, Message::Response(self.correlation_id, response));
        }
    }
}

impl<Req, Resp> ServerConn<Req, Resp> {
    /// The next request, in the order the client sent them; `None` once the connection
    /// has ended.
    pub async fn recv(&mut self) -> Option<Incoming<Req, Resp>> {
        self.inbox.recv().await
    }
}

impl<Req, Resp> Listener<Req, Resp> {
    /// The next accepted connection; `None` when the host went down.
    pub async fn accept(&mut self) -> Option<ServerConn<Req, Resp>> {
        self.accepted.recv().await
    }
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
