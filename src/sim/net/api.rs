//! What a node sees of the network, and all it sees: its [`NodeNet`] to listen and
//! connect, a client's [`Connection`] and [`PendingResponse`]s, a server's [`Listener`],
//! [`ServerConn`]s, [`Incoming`] requests and their [`Responder`]s. These handles keep
//! their [`Network`] private: they reach the fabric to send and receive, and offer no
//! way to inject a fault (see `control.rs`).

use super::fabric::{
    fail_pending, remove_conn, ConnId, Connection, CorrelationId, Direction, Incoming, Message, NodeNet,
    RequestEnvelope, RequestOrder, Responder, ServerConn,
};
use super::{Addr, NetError};
use crate::sim::deadline::Deadlines;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A connection as its client sees it (Kafka's `ConnectionState`, as far as TCP goes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// The SYN is out; the server's accept has not come back.
    Connecting,
    /// The handshake completed: the server accepted the connection.
    Established,
    /// Closed by the client, reset by the server (a crashed or restarted process, or
    /// nobody listening: connection refused), or never accepted before the client gave
    /// up.
    Closed,
}

/// Accepts connections made to one host.
pub struct Listener<Req, Resp> {
    accepted: mpsc::UnboundedReceiver<ServerConn<Req, Resp>>,
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

    /// Opens a connection to `server`: its SYN leaves at once. It is usable at once too:
    /// requests sent before the handshake completes queue behind the SYN; if the server
    /// cannot be reached they fail with [`NetError::Disconnected`] or time out.
    pub fn connect(&self, server: &Addr) -> Connection<Req, Resp> {
        self.connect_with(server, ConnectOptions::default())
    }

    /// [`NodeNet::connect`] for a named purpose (`channel`, such as Kafka's
    /// `alter-partition`): a stuck-connection fault names its connections by it.
    pub fn connect_on(&self, server: &Addr, channel: &'static str) -> Connection<Req, Resp> {
        self.connect_with(server, ConnectOptions { channel: Some(channel), ..ConnectOptions::default() })
    }

    /// [`NodeNet::connect`] with the [`ConnectOptions`] a Kafka client gives.
    pub fn connect_with(&self, server: &Addr, options: ConnectOptions) -> Connection<Req, Resp> {
        self.net.open(&self.addr, server, options)
    }
}

/// How a connection is opened (see [`NodeNet::connect_with`]).
#[derive(Clone, Default)]
pub struct ConnectOptions {
    /// A named purpose (a Kafka channel such as `alter-partition`), by which a
    /// stuck-connection fault names its connections.
    pub channel: Option<&'static str>,
    /// Told whenever the connection's [`ConnectionState`] changes (established, closed or
    /// reset): for a client that waits for the handshake before it sends, as Kafka's
    /// `NetworkClient` does.
    pub watcher: Option<Arc<tokio::sync::Notify>>,
    /// How long the client waits for the handshake: a connection not established by
    /// then is closed by its client, and the requests queued behind its SYN fail with
    /// [`NetError::Disconnected`]. Kafka's clients close it at
    /// `socket.connection.setup.timeout.ms` (KIP-601, 2.7+), older ones when the kernel
    /// gives up on its SYN (`tcp_syn_retries`). `None`: the client waits as long as its
    /// requests do (the brokers' connections; see `client::connection_states`).
    pub setup_timeout: Option<Duration>,
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> Connection<Req, Resp> {
    /// The server this connection goes to.
    pub fn peer(&self) -> &Addr {
        &self.peer
    }

    /// Whether the connection has been reset or closed.
    pub fn is_closed(&self) -> bool {
        self.state() == ConnectionState::Closed
    }

    /// Where the connection stands, as its client can tell.
    pub fn state(&self) -> ConnectionState {
        match self.net.lock().conns.get(&self.id) {
            None => ConnectionState::Closed,
            Some(conn) if conn.client_closed => ConnectionState::Closed,
            Some(conn) if conn.established => ConnectionState::Established,
            Some(_) => ConnectionState::Connecting,
        }
    }

    /// When the connection closed, as its client sees it (closed, refused, reset, or given
    /// up at its setup timeout); `None` while it is open or connecting.
    pub fn closed_at(&self) -> Option<madsim::time::Instant> {
        self.closed.get()
    }

    /// The connection's number in the run: it tells a connection from a later one to
    /// the same server.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Sends a request and returns a future for its response. The request is on the
    /// wire when this returns, so it may be applied even if the caller stops waiting.
    pub fn send(&self, request: Req) -> PendingResponse<Resp> {
        let (tx, rx) = oneshot::channel();
        let correlation_id = {
            let mut fabric = self.net.lock();
            let Some(conn) = fabric.conns.get_mut(&self.id).filter(|c| !c.client_closed) else {
                return PendingResponse { rx: None, deadlines: self.net.deadlines.clone(), order: None };
            };
            let id = conn.next_correlation_id;
            conn.next_correlation_id += 1;
            conn.pending.insert(id, tx);
            id
        };
        let envelope = RequestEnvelope { correlation_id, expects_response: true, request };
        self.net.enqueue(self.id, Direction::ToServer, Message::Request(envelope));
        let order = GivenUp { order: self.net.fabric.clone(), conn: self.id, correlation_id };
        PendingResponse { rx: Some(rx), deadlines: self.net.deadlines.clone(), order: Some(order) }
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
                conn.forget_unsent();
                if conn.to_server.queue.is_empty() && powered {
                    remove_conn(&mut fabric.conns, self.id);
                }
            }
        }
    }
}

/// A response on its way.
pub struct PendingResponse<Resp> {
    /// `None` when the connection was already closed; visible to `net::tests`, which
    /// watches the order of completions.
    pub(super) rx: Option<oneshot::Receiver<Result<Resp, NetError>>>,
    /// Where [`PendingResponse::wait`] registers its deadline.
    pub(super) deadlines: Arc<Deadlines>,
    /// Whom to tell when this request is given up unanswered; `None` once it was
    /// answered, or when the connection was already closed.
    pub(super) order: Option<GivenUp>,
}

/// A pending request's place on its connection, which keeps answers in request order.
pub(super) struct GivenUp {
    pub(super) order: Arc<dyn RequestOrder>,
    pub(super) conn: ConnId,
    pub(super) correlation_id: CorrelationId,
}

impl<Resp> PendingResponse<Resp> {
    /// Polls for the response without a deadline, for a caller that keeps the request in
    /// flight across its own waits (a consumer's fetch, see `client::fetch_buffer`).
    /// Must not be polled again once it returned `Ready`.
    pub fn poll_answer(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<Resp, NetError>> {
        let Some(rx) = self.rx.as_mut() else {
            return std::task::Poll::Ready(Err(NetError::Disconnected));
        };
        let answer = std::future::Future::poll(std::pin::Pin::new(rx), cx);
        if answer.is_ready() {
            (self.rx, self.order) = (None, None);
        }
        answer.map(|answer| answer.unwrap_or(Err(NetError::Disconnected)))
    }

    /// Waits for the response at most `timeout`.
    pub async fn wait(mut self, timeout: Duration) -> Result<Resp, NetError> {
        let Some(rx) = self.rx.take() else {
            return Err(NetError::Disconnected);
        };
        match self.deadlines.timeout(timeout, rx).await {
            Ok(answer) => {
                self.order = None;
                answer.unwrap_or(Err(NetError::Disconnected))
            }
            // Dropping `self` tells the connection.
            Err(()) => Err(NetError::Timeout),
        }
    }
}

impl<Resp> Drop for PendingResponse<Resp> {
    fn drop(&mut self) {
        // Given up before its answer came (timed out, or its waiter dropped): the
        // connection forgets it, and answers held behind it may go.
        if let Some(GivenUp { order, conn, correlation_id }) = self.order.take() {
            order.waiter_gone(conn, correlation_id);
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

    /// Closes the connection instead of answering (Kafka's
    /// `RequestChannel.closeConnection`): the client's pending requests fail with
    /// [`NetError::Disconnected`] and it finds the connection closed; what it sent since
    /// is dropped.
    pub fn close_connection(self) {
        let mut fabric = self.net.lock();
        if let Some(conn) = fabric.conns.get_mut(&self.conn) {
            fail_pending(conn, NetError::Disconnected);
            remove_conn(&mut fabric.conns, self.conn);
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
