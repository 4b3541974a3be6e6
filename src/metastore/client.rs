//! The metastore client used by brokers and the controller, in the manner of
//! ZooKeeper's client: one session, heartbeats in the background, watch events delivered
//! on a channel, transparent reconnection, and an `expired` signal.

use crate::protocol::{MetaError, MetaEvent, MetaOp, MetaRequest, MetaResponse, Request, Response};
use crate::protocol::{SessionId, ZNode};
use crate::sim::clock;
use crate::sim::net::{Addr, Connection, NodeNet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::sleep;

/// Why a metastore call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaClientError {
    /// The metastore refused the request (for `multi`, see [`MetaClientError::MultiFailed`]).
    /// `Meta(MetaError::SessionExpired)` means the session is gone for good.
    Meta(MetaError),
    /// A `multi` failed at op `op_index`; nothing was applied.
    MultiFailed {
        /// The error.
        error: MetaError,
        /// The index of the failing op.
        op_index: usize,
    },
    /// No answer (timeout or broken connection). The request may or may not have been
    /// applied; the next call opens a new connection.
    Unavailable,
}

impl MetaClientError {}

impl fmt::Display for MetaClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaClientError::Meta(error) => write!(f, "metastore error: {error:?}"),
            MetaClientError::MultiFailed { error, op_index } => {
                write!(f, "metastore multi failed at op {op_index}: {error:?}")
            }
            MetaClientError::Unavailable => f.write_str("metastore unavailable"),
        }
    }
}

impl std::error::Error for MetaClientError {}

/// Client settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetaClientConfig {
    /// The session timeout, in milliseconds: the server ends the session (and deletes
    /// its ephemeral nodes) when it hears nothing from the client for this long.
    pub session_timeout_ms: u64,
    /// How long one request waits for its answer, in milliseconds.
    pub request_timeout_ms: u64,
}

impl MetaClientConfig {
    /// Settings for a session timeout, with requests timing out after half of it.
    pub fn new(session_timeout_ms: u64) -> Self {
        MetaClientConfig { session_timeout_ms, request_timeout_ms: (session_timeout_ms / 2).max(1) }
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// Heartbeats go out three times per session timeout, as ZooKeeper's pings do.
    fn heartbeat_interval(&self) -> Duration {
        Duration::from_millis((self.session_timeout_ms / 3).max(1))
    }

    /// How long the server may hold a poll; short enough that a silently dead
    /// connection is noticed well within the session timeout.
    fn poll_wait_ms(&self) -> u64 {
        (self.session_timeout_ms / 2).max(1)
    }

    /// The pause before retrying after the metastore was unreachable.
    fn retry_backoff(&self) -> Duration {
        Duration::from_millis((self.session_timeout_ms / 10).clamp(5, 200))
    }
}

/// A session with the metastore. Dropping it stops its background tasks; the session
/// itself then expires on the server after its timeout (like a crashed process). Use
/// [`MetaClient::close`] to end it at once.
pub struct MetaClient {
    inner: Arc<Inner>,
    events: Mutex<Option<mpsc::UnboundedReceiver<MetaEvent>>>,
    expired: watch::Receiver<bool>,
    tasks: Vec<AbortHandle>,
}

/// What the client's methods and background tasks share.
struct Inner {
    session: SessionId,
    config: MetaClientConfig,
    /// The connection for ordinary requests and heartbeats.
    requests: Channel,
    expired: watch::Sender<bool>,
}

/// A connection to the metastore that is replaced after any failure.
struct Channel {
    net: NodeNet<Request, Response>,
    server: Addr,
    conn: Mutex<Option<Arc<Connection<Request, Response>>>>,
}

impl Channel {
    fn new(net: NodeNet<Request, Response>, server: Addr) -> Self {
        Channel { net, server, conn: Mutex::new(None) }
    }

    /// Sends one request and waits for its answer at most `timeout`.
    async fn call(&self, request: MetaRequest, timeout: Duration) -> Result<MetaResponse, MetaClientError> {
        let conn = self.connection();
        match conn.call(Request::Meta(request), timeout).await {
            Ok(Response::Meta(response)) => Ok(response),
            Ok(other) => {
                // Not a metastore (or a bug): treat it like an unreachable server.
                tracing::warn!(server = %self.server, response = ?other, "unexpected metastore response");
                self.discard(&conn);
                Err(MetaClientError::Unavailable)
            }
            Err(_) => {
                self.discard(&conn);
                Err(MetaClientError::Unavailable)
            }
        }
    }

    /// The current connection, opening one if there is none.
    fn connection(&self) -> Arc<Connection<Request, Response>> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(conn) if !conn.is_closed() => conn.clone(),
            _ => {
                let conn = Arc::new(self.net.connect(&self.server));
                *slot = Some(conn.clone());
                conn
            }
        }
    }

    /// Drops `failed` so that the next call opens a new connection (unless another
    /// caller already replaced it).
    fn discard(&self, failed: &Arc<Connection<Request, Response>>) {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, failed)) {
            *slot = None;
        }
    }
}

impl MetaClient {
    /// Opens a session with the metastore at `server`, retrying while it is unreachable
    /// for up to `session_timeout_ms`. Requests time out after half the session timeout.
    /// The background tasks run on the calling node.
    pub async fn connect(
        net: NodeNet<Request, Response>,
        server: Addr,
        session_timeout_ms: u64,
    ) -> Result<MetaClient, MetaClientError> {
        Self::connect_with(net, server, MetaClientConfig::new(session_timeout_ms)).await
    }

    /// [`MetaClient::connect`] with explicit settings.
    pub async fn connect_with(
        net: NodeNet<Request, Response>,
        server: Addr,
        config: MetaClientConfig,
    ) -> Result<MetaClient, MetaClientError> {
        let requests = Channel::new(net.clone(), server.clone());
        let (session, granted_ms) = open_session(&requests, &config).await?;
        // As ZooKeeper's client does, run the session on the timeout the server granted.
        let config = MetaClientConfig { session_timeout_ms: granted_ms, ..config };
        let (expired_tx, expired_rx) = watch::channel(false);
        let inner = Arc::new(Inner { session, config, requests, expired: expired_tx });
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let polls = Channel::new(net, server);
        let tasks = vec![
            tokio::spawn(heartbeat_loop(inner.clone())).abort_handle(),
            tokio::spawn(poll_loop(inner.clone(), polls, events_tx)).abort_handle(),
        ];
        Ok(MetaClient { inner, events: Mutex::new(Some(events_rx)), expired: expired_rx, tasks })
    }

    /// The session id.
    pub fn session_id(&self) -> SessionId {
        self.inner.session
    }

    /// The settings this client runs with.
    pub fn config(&self) -> MetaClientConfig {
        self.inner.config
    }

    /// The watch events of this session, in the order they fired. Returns the receiver
    /// the first time only (`None` afterwards). The channel closes when the session
    /// expires or the client is dropped.
    pub fn take_events(&self) -> Option<mpsc::UnboundedReceiver<MetaEvent>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Turns `true` once the metastore said the session expired. Every later call fails
    /// with `Meta(SessionExpired)`: make a new `MetaClient` (a new session) and register
    /// again, as a Kafka broker does.
    pub fn expired(&self) -> watch::Receiver<bool> {
        self.expired.clone()
    }

    /// Whether the metastore said the session expired.
    pub fn is_expired(&self) -> bool {
        *self.expired.borrow()
    }

    /// Creates a node (missing parents become empty persistent nodes); returns its
    /// version, 0. An ephemeral node is deleted when this session ends.
    pub async fn create(&self, path: &str, data: &str, ephemeral: bool) -> Result<u64, MetaClientError> {
        self.single(MetaOp::Create { path: path.into(), data: data.into(), ephemeral }).await
    }

    /// Reads a node (`None` if absent). With `watch`, the next creation, data change or
    /// deletion of the node fires one event.
    pub async fn get(&self, path: &str, watch: bool) -> Result<Option<ZNode>, MetaClientError> {
        let request = MetaRequest::Get { session: self.inner.session, path: path.into(), watch };
        match self.inner.call(request).await? {
            MetaResponse::Node(node) => Ok(node),
            other => Err(refused(other)),
        }
    }

    /// The sorted child names of a node. With `watch`, the next child creation or
    /// deletion (or the node's deletion) fires one event.
    pub async fn children(&self, path: &str, watch: bool) -> Result<Vec<String>, MetaClientError> {
        let request = MetaRequest::Children { session: self.inner.session, path: path.into(), watch };
        match self.inner.call(request).await? {
            MetaResponse::Children(names) => Ok(names),
            other => Err(refused(other)),
        }
    }

    /// Replaces a node's data if its version is `expected_version` (any if `None`);
    /// returns the new version.
    pub async fn set_data(
        &self,
        path: &str,
        data: &str,
        expected_version: Option<u64>,
    ) -> Result<u64, MetaClientError> {
        self.single(MetaOp::SetData { path: path.into(), data: data.into(), expected_version }).await
    }

    /// Deletes a node (it must have no children) if its version is `expected_version`
    /// (any if `None`).
    pub async fn delete(&self, path: &str, expected_version: Option<u64>) -> Result<(), MetaClientError> {
        self.single(MetaOp::Delete { path: path.into(), expected_version }).await.map(|_| ())
    }

    /// Applies `ops` atomically; returns each op's resulting node version (for a delete,
    /// the version the node had). On failure nothing is applied and the error is
    /// [`MetaClientError::MultiFailed`] naming the op (or `Meta(SessionExpired)`).
    pub async fn multi(&self, ops: Vec<MetaOp>) -> Result<Vec<u64>, MetaClientError> {
        let request = MetaRequest::Multi { session: self.inner.session, ops };
        match self.inner.call(request).await? {
            MetaResponse::Done(versions) => Ok(versions),
            MetaResponse::Failed { error, op_index } => Err(MetaClientError::MultiFailed { error, op_index }),
            other => Err(unexpected(other)),
        }
    }

    /// Ends the session at once (its ephemeral nodes go away now), then stops the client.
    pub async fn close(self) -> Result<(), MetaClientError> {
        let request = MetaRequest::CloseSession { session: self.inner.session };
        match self.inner.call(request).await? {
            MetaResponse::Done(_) => Ok(()),
            other => Err(refused(other)),
        }
    }

    /// One op as a one-op `multi`, reporting its error as `Meta(error)`.
    async fn single(&self, op: MetaOp) -> Result<u64, MetaClientError> {
        let versions = self.multi(vec![op]).await.map_err(|e| match e {
            MetaClientError::MultiFailed { error, .. } => MetaClientError::Meta(error),
            other => other,
        })?;
        versions.first().copied().ok_or_else(|| unexpected(MetaResponse::Done(versions)))
    }
}

impl Drop for MetaClient {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// The error of a `Failed` answer, or [`unexpected`] for any other answer.
fn refused(response: MetaResponse) -> MetaClientError {
    match response {
        MetaResponse::Failed { error, .. } => MetaClientError::Meta(error),
        other => unexpected(other),
    }
}

/// An answer of the wrong kind: a bug on one side; reported as unavailability.
fn unexpected(response: MetaResponse) -> MetaClientError {
    tracing::warn!(?response, "unexpected metastore response");
    MetaClientError::Unavailable
}

/// Sends `CreateSession` until it succeeds or `session_timeout_ms` has passed; returns
/// the session and the timeout the server granted.
async fn open_session(channel: &Channel, config: &MetaClientConfig) -> Result<(SessionId, u64), MetaClientError> {
    let deadline = clock::now() + Duration::from_millis(config.session_timeout_ms);
    loop {
        let remaining = deadline.saturating_duration_since(clock::now());
        let timeout = config.request_timeout().min(remaining).max(Duration::from_millis(1));
        let request = MetaRequest::CreateSession { timeout_ms: config.session_timeout_ms };
        match channel.call(request, timeout).await {
            Ok(MetaResponse::Session { id, timeout_ms }) => return Ok((id, timeout_ms)),
            Ok(MetaResponse::Failed { error, .. }) => return Err(MetaClientError::Meta(error)),
            Ok(other) => tracing::warn!(response = ?other, "unexpected answer to CreateSession"),
            Err(_) => {}
        }
        if clock::now() >= deadline {
            return Err(MetaClientError::Unavailable);
        }
        sleep(config.retry_backoff().min(deadline.saturating_duration_since(clock::now()))).await;
    }
}

impl Inner {
    /// Sends a request of this session on the request connection. A `SessionExpired`
    /// answer becomes `Err(Meta(SessionExpired))` and marks the client expired; other
    /// `Failed` answers are returned for the caller to interpret.
    async fn call(&self, request: MetaRequest) -> Result<MetaResponse, MetaClientError> {
        if *self.expired.borrow() {
            // The server forgot the session: no need to ask it again.
            return Err(MetaClientError::Meta(MetaError::SessionExpired));
        }
        let response = self.requests.call(request, self.config.request_timeout()).await?;
        self.check_expiry(response)
    }

    /// Turns a `SessionExpired` answer into an error, marking the client expired.
    fn check_expiry(&self, response: MetaResponse) -> Result<MetaResponse, MetaClientError> {
        match response {
            MetaResponse::Failed { error: MetaError::SessionExpired, .. } => {
                if !self.expired.send_replace(true) {
                    tracing::info!(session = self.session, "metastore session expired");
                }
                Err(MetaClientError::Meta(MetaError::SessionExpired))
            }
            other => Ok(other),
        }
    }
}

/// Keeps the session alive; ends when the session expires.
async fn heartbeat_loop(inner: Arc<Inner>) {
    loop {
        sleep(inner.config.heartbeat_interval()).await;
        let request = MetaRequest::Heartbeat { session: inner.session };
        if inner.call(request).await == Err(MetaClientError::Meta(MetaError::SessionExpired)) {
            return;
        }
    }
}

/// Long-polls for watch events on a connection of its own (so a waiting poll never
/// delays other requests) and forwards them; ends when the session expires.
async fn poll_loop(inner: Arc<Inner>, polls: Channel, events: mpsc::UnboundedSender<MetaEvent>) {
    let max_wait_ms = inner.config.poll_wait_ms();
    let timeout = Duration::from_millis(max_wait_ms) + inner.config.request_timeout();
    // How many events this session has received: the server resends the rest.
    let mut acked: u64 = 0;
    loop {
        if *inner.expired.borrow() {
            return;
        }
        let request = MetaRequest::PollEvents { session: inner.session, max_wait_ms, acked };
        let answer = polls.call(request, timeout).await.and_then(|r| inner.check_expiry(r));
        match answer {
            Ok(MetaResponse::Events(fired)) => {
                acked += fired.len() as u64;
                for event in fired {
                    // The receiver may have been dropped; keep acknowledging anyway.
                    let _ = events.send(event);
                }
            }
            Err(MetaClientError::Meta(MetaError::SessionExpired)) => return,
            Ok(other) => {
                tracing::warn!(response = ?other, "unexpected answer to PollEvents");
                sleep(inner.config.retry_backoff()).await;
            }
            Err(_) => sleep(inner.config.retry_backoff()).await,
        }
    }
}
