//! The metastore node: accepts connections, serves each one's requests in order, expires
//! sessions, and persists the state durably after every change.

use super::store::Store;
use crate::protocol::{ErrorCode, MetaRequest, MetaResponse, Request, Response, SessionId};
use crate::sim::clock;
use crate::sim::disk::Disk;
use crate::sim::net::{NodeNet, ServerConn};
use bytes::Bytes;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::{sleep, sleep_until, Instant};

/// The file holding the snapshot of the whole state.
pub const SNAPSHOT_PATH: &str = "metastore/snapshot";

/// How often sessions are checked for expiry, in milliseconds of simulated time.
pub const EXPIRY_TICK_MS: u64 = 50;

/// The longest a `PollEvents` request waits, in milliseconds, whatever it asks for.
pub const MAX_POLL_WAIT_MS: u64 = 60_000;

/// The server's session limits, under ZooKeeper's zoo.cfg names.
///
/// ZooKeeper grants a client the session timeout it asks for clamped into
/// [`minSessionTimeout`, `maxSessionTimeout`] (`ZooKeeperServer.processConnectRequest`),
/// which default to 2 and 20 times `tickTime` (`QuorumPeerConfig.parseProperties`; the
/// ZooKeeper Administrator's Guide, "Advanced Configuration"). The negotiated timeout is
/// the one that expires. Simplified: ZooKeeper checks expiry in buckets of `tickTime`
/// (`ExpiryQueue`), so a session may outlive its timeout by up to a tick; here expiry is
/// checked every [`EXPIRY_TICK_MS`] whatever the tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MetastoreConfig {
    /// `tickTime`: ZooKeeper's basic time unit, in milliseconds (default 2000).
    pub tick_time_ms: u64,
    /// `minSessionTimeout`, in milliseconds (default 2 × `tickTime`).
    pub min_session_timeout_ms: u64,
    /// `maxSessionTimeout`, in milliseconds (default 20 × `tickTime`).
    pub max_session_timeout_ms: u64,
}

impl MetastoreConfig {
    /// The limits ZooKeeper derives from `tick_time_ms` alone.
    pub fn from_tick_time(tick_time_ms: u64) -> Self {
        MetastoreConfig {
            tick_time_ms,
            min_session_timeout_ms: 2 * tick_time_ms,
            max_session_timeout_ms: 20 * tick_time_ms,
        }
    }

    /// The session timeout granted to a client asking for `requested_ms`.
    pub fn negotiate(&self, requested_ms: u64) -> u64 {
        requested_ms.max(self.min_session_timeout_ms).min(self.max_session_timeout_ms)
    }
}

impl Default for MetastoreConfig {
    fn default() -> Self {
        Self::from_tick_time(2_000)
    }
}

/// The state shared by the tasks of one metastore process.
struct Shared {
    config: MetastoreConfig,
    store: Mutex<Store>,
    disk: Disk,
    /// Woken after every change, so that long polls re-check their session's events.
    changed: Notify,
}

/// Runs a metastore node; it never returns (the simulation kills the node).
///
/// The state is reloaded from `disk` at start, so a restarted node continues where the
/// previous incarnation stopped; restored sessions get a fresh full timeout.
pub async fn run_metastore(net: NodeNet<Request, Response>, disk: Disk, config: MetastoreConfig) {
    let shared = Arc::new(Shared::recover(disk, config));
    let accept_loop = async {
        loop {
            // `accept` ends when the host goes down. If the process survives (a hang or
            // an isolated host rather than a crash), listen again, as a process keeps
            // its listening socket, so that it serves again once the host is back.
            let mut listener = net.listen();
            while let Some(conn) = listener.accept().await {
                tokio::spawn(serve_connection(shared.clone(), conn));
            }
        }
    };
    // The ticker lives in this task, so nothing outlives the node's main task.
    tokio::select! {
        biased;
        () = accept_loop => {}
        () = expire_sessions_forever(shared.clone()) => {}
    }
}

impl Shared {
    /// Loads the last snapshot, or starts empty.
    fn recover(disk: Disk, config: MetastoreConfig) -> Shared {
        let store = load_snapshot(&disk).unwrap_or_default();
        Shared { config, store: Mutex::new(store), disk, changed: Notify::new() }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock would have ended this node's simulation anyway;
        // recover the guard rather than panic a second time.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the store; if it changed the durable state, persists it and wakes
    /// the long polls.
    fn apply<R>(&self, f: impl FnOnce(&mut Store, Instant) -> R) -> R {
        let mut store = self.lock();
        let result = f(&mut store, clock::now());
        if store.take_dirty() {
            self.persist(&store);
            self.changed.notify_waiters();
        }
        result
    }

    fn persist(&self, store: &Store) {
        match store.to_snapshot() {
            Ok(bytes) => self.disk.overwrite_durably(SNAPSHOT_PATH, Bytes::from(bytes)),
            Err(error) => tracing::error!(%error, "metastore snapshot not written"),
        }
    }
}

fn load_snapshot(disk: &Disk) -> Option<Store> {
    let entries = disk.read(SNAPSHOT_PATH)?;
    let bytes = entries.last()?;
    match Store::from_snapshot(bytes, clock::now()) {
        Ok(store) => Some(store),
        Err(error) => {
            // Written atomically by us, so this means a bug; say so and start empty.
            tracing::error!(%error, "metastore snapshot unreadable, starting empty");
            None
        }
    }
}

/// Serves one connection's requests in order until the client closes it.
async fn serve_connection(shared: Arc<Shared>, mut conn: ServerConn<Request, Response>) {
    while let Some(incoming) = conn.recv().await {
        let (request, responder) = incoming.into_parts();
        let response = match request {
            Request::Meta(meta) => Response::Meta(serve(&shared, meta).await),
            _ => Response::Error(ErrorCode::UnsupportedRequest),
        };
        responder.reply(response);
    }
}

async fn serve(shared: &Shared, request: MetaRequest) -> MetaResponse {
    match request {
        MetaRequest::PollEvents { session, max_wait_ms, acked } => long_poll(shared, session, max_wait_ms, acked).await,
        MetaRequest::CreateSession { timeout_ms } => {
            let granted = MetaRequest::CreateSession { timeout_ms: shared.config.negotiate(timeout_ms) };
            shared.apply(|store, now| store.handle(granted, now))
        }
        other => shared.apply(|store, now| store.handle(other, now)),
    }
}

/// Answers a `PollEvents` at once if events are queued, else when one fires, the session
/// ends, or `max_wait_ms` passes.
async fn long_poll(shared: &Shared, session: SessionId, max_wait_ms: u64, acked: u64) -> MetaResponse {
    let deadline = clock::now() + Duration::from_millis(max_wait_ms.min(MAX_POLL_WAIT_MS));
    let request = MetaRequest::PollEvents { session, max_wait_ms, acked };
    // The first pass goes through `handle`, which counts the request as a heartbeat.
    let mut response = shared.apply(|store, now| store.handle(request, now));
    loop {
        let has_answer = !matches!(&response, MetaResponse::Events(events) if events.is_empty());
        if has_answer || clock::now() >= deadline {
            return response;
        }
        // Register for the wake-up before looking again, so no change slips between.
        let changed = shared.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        response = match shared.apply(|store, _| store.poll_events(session, acked)) {
            Ok(events) => MetaResponse::Events(events),
            Err(error) => MetaResponse::Failed { error, op_index: 0 },
        };
        if matches!(&response, MetaResponse::Events(events) if events.is_empty()) {
            tokio::select! {
                biased;
                () = &mut changed => {}
                () = sleep_until(deadline) => {}
            }
        }
    }
}

/// Expires sessions every [`EXPIRY_TICK_MS`].
async fn expire_sessions_forever(shared: Arc<Shared>) {
    loop {
        sleep(Duration::from_millis(EXPIRY_TICK_MS)).await;
        shared.apply(|store, now| store.expire_sessions(now));
    }
}
