//! The metastore's state machine: the tree plus sessions, one-shot watches and the
//! per-session queues of fired watch events, and its durable snapshot.
//!
//! Synchronous and free of I/O: the server feeds it requests with the current time,
//! persists it when [`Store::take_dirty`] says so, and does the long-poll waiting.

use super::tree::{parent, validate_path, Change, Tree};
use crate::protocol::{MetaError, MetaEvent, MetaOp, MetaRequest, MetaResponse, SessionId, ZNode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// One client session.
#[derive(Clone, Debug)]
struct Session {
    timeout_ms: u64,
    /// When the last request of this session arrived (not persisted: a restored session
    /// gets a fresh full timeout).
    last_heard: Instant,
    /// Fired events the client has not acknowledged yet.
    events: VecDeque<MetaEvent>,
    /// The number (per session, from 0) of the first event in `events`.
    first_event_seq: u64,
}

impl Session {
    fn new(timeout_ms: u64, now: Instant) -> Self {
        Session { timeout_ms, last_heard: now, events: VecDeque::new(), first_event_seq: 0 }
    }

    fn is_expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_heard) > Duration::from_millis(self.timeout_ms)
    }
}

/// Watches by path: the sessions to notify once.
type Watches = BTreeMap<String, BTreeSet<SessionId>>;

/// The whole metastore state.
#[derive(Debug)]
pub(crate) struct Store {
    tree: Tree,
    sessions: BTreeMap<SessionId, Session>,
    /// Data watches (left by `Get`): fire on Created, DataChanged and Deleted.
    data_watches: Watches,
    /// Child watches (left by `Children`): fire on ChildrenChanged and Deleted.
    child_watches: Watches,
    next_session_id: SessionId,
    /// Whether anything durable changed since the last [`Store::take_dirty`].
    dirty: bool,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            tree: Tree::default(),
            sessions: BTreeMap::new(),
            data_watches: Watches::new(),
            child_watches: Watches::new(),
            // Ids start at 1 so that 0 never names a session.
            next_session_id: 1,
            dirty: false,
        }
    }
}

impl Store {
    /// Returns whether the durable state changed since the last call, and clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// The node at `path` (for tests and diagnostics).
    #[cfg(test)]
    pub fn node(&self, path: &str) -> Option<&ZNode> {
        self.tree.get(path)
    }

    /// Serves one request at time `now`. `PollEvents` answers at once (possibly with no
    /// events); the server does the waiting with [`Store::poll_events`].
    pub fn handle(&mut self, request: MetaRequest, now: Instant) -> MetaResponse {
        if let MetaRequest::CreateSession { timeout_ms } = request {
            return MetaResponse::Session { id: self.create_session(timeout_ms, now), timeout_ms };
        }
        let session = request_session(&request);
        // Any request of a live session is a heartbeat.
        let Some(live) = self.sessions.get_mut(&session) else {
            return failed(MetaError::SessionExpired, 0);
        };
        live.last_heard = now;
        match request {
            MetaRequest::CreateSession { .. } | MetaRequest::Heartbeat { .. } => MetaResponse::Done(Vec::new()),
            MetaRequest::CloseSession { session } => {
                self.end_session(session);
                MetaResponse::Done(Vec::new())
            }
            MetaRequest::Multi { session, ops } => self.multi(session, &ops),
            MetaRequest::Get { session, path, watch } => self.get(session, &path, watch),
            MetaRequest::Children { session, path, watch } => self.children(session, &path, watch),
            MetaRequest::PollEvents { session, acked, .. } => match self.poll_events(session, acked) {
                Ok(events) => MetaResponse::Events(events),
                Err(error) => failed(error, 0),
            },
        }
    }

    fn create_session(&mut self, timeout_ms: u64, now: Instant) -> SessionId {
        let id = self.next_session_id;
        self.next_session_id += 1;
        self.sessions.insert(id, Session::new(timeout_ms, now));
        self.dirty = true;
        tracing::debug!(session = id, timeout_ms, "metastore session created");
        id
    }

    /// Forgets the events the client acknowledged and returns the others, oldest first.
    pub fn poll_events(&mut self, session: SessionId, acked: u64) -> Result<Vec<MetaEvent>, MetaError> {
        let state = self.sessions.get_mut(&session).ok_or(MetaError::SessionExpired)?;
        let newly_acked = acked.saturating_sub(state.first_event_seq);
        let drop_count = usize::try_from(newly_acked).unwrap_or(usize::MAX).min(state.events.len());
        if drop_count > 0 {
            state.events.drain(..drop_count);
            state.first_event_seq += drop_count as u64;
            self.dirty = true;
        }
        Ok(state.events.iter().cloned().collect())
    }

    /// Ends every session not heard from within its timeout; returns their ids.
    pub fn expire_sessions(&mut self, now: Instant) -> Vec<SessionId> {
        let expired: Vec<SessionId> =
            self.sessions.iter().filter(|(_, s)| s.is_expired(now)).map(|(id, _)| *id).collect();
        for &id in &expired {
            tracing::debug!(session = id, "metastore session expired");
            self.end_session(id);
        }
        expired
    }

    /// Removes a session with its watches and ephemeral nodes, firing others' watches.
    fn end_session(&mut self, session: SessionId) {
        self.sessions.remove(&session);
        for watches in [&mut self.data_watches, &mut self.child_watches] {
            watches.retain(|_, sessions| {
                sessions.remove(&session);
                !sessions.is_empty()
            });
        }
        let changes = self.tree.remove_ephemerals(session);
        self.fire(changes);
        self.dirty = true;
    }

    fn multi(&mut self, session: SessionId, ops: &[MetaOp]) -> MetaResponse {
        match self.tree.multi(session, ops) {
            Ok(applied) => {
                if !applied.changes.is_empty() {
                    self.dirty = true;
                }
                self.fire(applied.changes);
                MetaResponse::Done(applied.versions)
            }
            Err(failure) => failed(failure.error, failure.op_index),
        }
    }

    fn get(&mut self, session: SessionId, path: &str, watch: bool) -> MetaResponse {
        if let Err(error) = validate_path(path) {
            return failed(error, 0);
        }
        if watch {
            // A watch on an absent node fires when it is created (ZooKeeper's exists()).
            self.add_watch(WatchKind::Data, path, session);
        }
        MetaResponse::Node(self.tree.get(path).cloned())
    }

    fn children(&mut self, session: SessionId, path: &str, watch: bool) -> MetaResponse {
        match self.tree.children(path) {
            Ok(names) => {
                if watch {
                    self.add_watch(WatchKind::Child, path, session);
                }
                MetaResponse::Children(names)
            }
            // As in ZooKeeper, no watch is left on a node that does not exist.
            Err(error) => failed(error, 0),
        }
    }

    fn add_watch(&mut self, kind: WatchKind, path: &str, session: SessionId) {
        let watches = match kind {
            WatchKind::Data => &mut self.data_watches,
            WatchKind::Child => &mut self.child_watches,
        };
        if watches.entry(path.to_string()).or_default().insert(session) {
            self.dirty = true;
        }
    }

    /// Fires the watches triggered by `changes`, in order.
    fn fire(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Created(path) => {
                    self.trigger(WatchKind::Data, &path, MetaEvent::Created(path.clone()));
                    self.trigger_parent(&path);
                }
                Change::DataChanged(path) => {
                    self.trigger(WatchKind::Data, &path, MetaEvent::DataChanged(path.clone()));
                }
                Change::Deleted(path) => {
                    // Both kinds of watchers hear of a deletion, each session once.
                    let mut sessions = take(&mut self.data_watches, &path);
                    sessions.extend(take(&mut self.child_watches, &path));
                    self.deliver(sessions, MetaEvent::Deleted(path.clone()));
                    self.trigger_parent(&path);
                }
            }
        }
    }

    fn trigger_parent(&mut self, path: &str) {
        if let Some(parent) = parent(path) {
            let event = MetaEvent::ChildrenChanged(parent.to_string());
            self.trigger(WatchKind::Child, parent, event);
        }
    }

    /// Removes the watches of one kind on `path` and queues `event` for their sessions.
    fn trigger(&mut self, kind: WatchKind, path: &str, event: MetaEvent) {
        let watches = match kind {
            WatchKind::Data => &mut self.data_watches,
            WatchKind::Child => &mut self.child_watches,
        };
        let sessions = take(watches, path);
        self.deliver(sessions, event);
    }

    fn deliver(&mut self, sessions: BTreeSet<SessionId>, event: MetaEvent) {
        for id in sessions {
            if let Some(session) = self.sessions.get_mut(&id) {
                session.events.push_back(event.clone());
                self.dirty = true;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum WatchKind {
    Data,
    Child,
}

fn take(watches: &mut Watches, path: &str) -> BTreeSet<SessionId> {
    watches.remove(path).unwrap_or_default()
}

fn failed(error: MetaError, op_index: usize) -> MetaResponse {
    MetaResponse::Failed { error, op_index }
}

/// The session a request (other than `CreateSession`) names.
fn request_session(request: &MetaRequest) -> SessionId {
    match request {
        MetaRequest::CreateSession { .. } => 0,
        MetaRequest::Heartbeat { session }
        | MetaRequest::CloseSession { session }
        | MetaRequest::Multi { session, .. }
        | MetaRequest::Get { session, .. }
        | MetaRequest::Children { session, .. }
        | MetaRequest::PollEvents { session, .. } => *session,
    }
}

/// The durable image of a [`Store`].
#[derive(Serialize, Deserialize)]
struct Snapshot {
    next_session_id: SessionId,
    nodes: Vec<ZNode>,
    sessions: Vec<SessionSnapshot>,
    data_watches: Watches,
    child_watches: Watches,
}

#[derive(Serialize, Deserialize)]
struct SessionSnapshot {
    id: SessionId,
    timeout_ms: u64,
    first_event_seq: u64,
    events: Vec<MetaEvent>,
}

impl Store {
    /// Serializes the durable state, in bincode: the metastore writes it after every
    /// change, and JSON made a cluster of thousands of partitions spend a tenth of its
    /// run formatting snapshots nobody reads.
    pub fn to_snapshot(&self) -> Result<Vec<u8>, bincode::Error> {
        let sessions = self
            .sessions
            .iter()
            .map(|(id, s)| SessionSnapshot {
                id: *id,
                timeout_ms: s.timeout_ms,
                first_event_seq: s.first_event_seq,
                events: s.events.iter().cloned().collect(),
            })
            .collect();
        let snapshot = Snapshot {
            next_session_id: self.next_session_id,
            nodes: self.tree.nodes().cloned().collect(),
            sessions,
            data_watches: self.data_watches.clone(),
            child_watches: self.child_watches.clone(),
        };
        bincode::serialize(&snapshot)
    }

    /// Restores a snapshot. Every session gets a fresh full timeout from `now`, as
    /// ZooKeeper does after a leader change: clients had no server to heartbeat to.
    pub fn from_snapshot(bytes: &[u8], now: Instant) -> Result<Store, bincode::Error> {
        let snapshot: Snapshot = bincode::deserialize(bytes)?;
        let sessions = snapshot
            .sessions
            .into_iter()
            .map(|s| {
                let session = Session {
                    timeout_ms: s.timeout_ms,
                    last_heard: now,
                    events: s.events.into(),
                    first_event_seq: s.first_event_seq,
                };
                (s.id, session)
            })
            .collect();
        Ok(Store {
            tree: Tree::from_nodes(snapshot.nodes),
            sessions,
            data_watches: snapshot.data_watches,
            child_watches: snapshot.child_watches,
            next_session_id: snapshot.next_session_id,
            dirty: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(session: SessionId, path: &str, watch: bool) -> MetaRequest {
        MetaRequest::Get { session, path: path.into(), watch }
    }

    fn ops(session: SessionId, ops: Vec<MetaOp>) -> MetaRequest {
        MetaRequest::Multi { session, ops }
    }

    fn create(path: &str, ephemeral: bool) -> MetaOp {
        MetaOp::Create { path: path.into(), data: String::new(), ephemeral }
    }

    fn poll(store: &mut Store, session: SessionId, acked: u64) -> Vec<MetaEvent> {
        store.poll_events(session, acked).unwrap()
    }

    /// Runs `f` inside a madsim runtime (for `Instant::now`).
    fn in_sim(f: impl FnOnce(Instant) + Send + 'static) {
        let rt = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
        rt.block_on(async move { f(Instant::now()) });
    }

    #[test]
    fn watches_are_one_shot_and_deletion_fires_each_session_once() {
        in_sim(|now| {
            let mut store = Store::default();
            let s = store.create_session(1000, now);
            store.handle(ops(s, vec![create("/a", false)]), now);
            store.handle(get(s, "/a", true), now);
            store.handle(MetaRequest::Children { session: s, path: "/a".into(), watch: true }, now);
            store.handle(ops(s, vec![create("/a/x", false)]), now);
            let set = MetaOp::SetData { path: "/a".into(), data: "1".into(), expected_version: None };
            store.handle(ops(s, vec![set.clone(), set]), now);
            assert_eq!(
                poll(&mut store, s, 0),
                vec![MetaEvent::ChildrenChanged("/a".into()), MetaEvent::DataChanged("/a".into())]
            );
            // Acknowledged events are forgotten; unacknowledged ones are sent again.
            assert_eq!(poll(&mut store, s, 1), vec![MetaEvent::DataChanged("/a".into())]);
            assert_eq!(poll(&mut store, s, 2), vec![]);
            store.handle(get(s, "/a/x", true), now);
            store.handle(MetaRequest::Children { session: s, path: "/a/x".into(), watch: true }, now);
            let del = MetaOp::Delete { path: "/a/x".into(), expected_version: None };
            store.handle(ops(s, vec![del]), now);
            assert_eq!(poll(&mut store, s, 2), vec![MetaEvent::Deleted("/a/x".into())]);
        });
    }

    #[test]
    fn expiry_deletes_ephemerals_and_notifies_watchers() {
        in_sim(|now| {
            let mut store = Store::default();
            let owner = store.create_session(100, now);
            let watcher = store.create_session(10_000, now);
            store.handle(ops(owner, vec![create("/brokers/ids/1", true)]), now);
            store.handle(get(watcher, "/brokers/ids/1", true), now);
            assert!(store.expire_sessions(now + Duration::from_millis(100)).is_empty());
            assert_eq!(store.expire_sessions(now + Duration::from_millis(101)), vec![owner]);
            assert!(store.node("/brokers/ids/1").is_none());
            assert_eq!(poll(&mut store, watcher, 0), vec![MetaEvent::Deleted("/brokers/ids/1".into())]);
            assert_eq!(
                store.handle(MetaRequest::Heartbeat { session: owner }, now),
                failed(MetaError::SessionExpired, 0)
            );
        });
    }

    #[test]
    fn a_snapshot_round_trips_and_keeps_session_ids_unique() {
        in_sim(|now| {
            let mut store = Store::default();
            let s = store.create_session(100, now);
            store.handle(ops(s, vec![create("/p", false), create("/e", true)]), now);
            store.handle(get(s, "/p", true), now);
            let bytes = store.to_snapshot().unwrap();
            let later = now + Duration::from_millis(500);
            let mut restored = Store::from_snapshot(&bytes, later).unwrap();
            // The session got a fresh timeout from the restore time.
            assert!(restored.expire_sessions(later + Duration::from_millis(50)).is_empty());
            assert!(restored.node("/e").is_some());
            let set = MetaOp::SetData { path: "/p".into(), data: "x".into(), expected_version: Some(0) };
            assert_eq!(restored.handle(ops(s, vec![set]), later), MetaResponse::Done(vec![1]));
            assert_eq!(poll(&mut restored, s, 0), vec![MetaEvent::DataChanged("/p".into())]);
            assert_eq!(restored.create_session(100, later), s + 1);
        });
    }

    #[test]
    fn malformed_requests_fail_cleanly() {
        in_sim(|now| {
            let mut store = Store::default();
            let s = store.create_session(100, now);
            assert_eq!(store.handle(get(s, "no-slash", true), now), failed(MetaError::BadArguments, 0));
            let bad = ops(s, vec![create("/ok", false), create("/bad/", false)]);
            assert_eq!(store.handle(bad, now), failed(MetaError::BadArguments, 1));
            assert_eq!(store.handle(get(s, "/ok", false), now), MetaResponse::Node(None));
            assert_eq!(store.poll_events(s, u64::MAX), Ok(vec![]));
        });
    }
}
