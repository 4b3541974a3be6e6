//! Requests and responses of the ZooKeeper-like metastore.
//!
//! Paths are slash-separated (`/controller`, `/brokers/ids/1`). Data is text (JSON written
//! by the controller and brokers). Watches are one-shot, as in ZooKeeper; a session
//! receives fired watches by long-polling with [`MetaRequest::PollEvents`].

use serde::{Deserialize, Serialize};

/// A metastore session id.
pub type SessionId = u64;

/// A metastore request. Every request but `CreateSession` names its session; a request
/// on an expired session fails with [`MetaError::SessionExpired`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaRequest {
    /// Opens a session that expires when no request arrives for `timeout_ms`.
    CreateSession {
        /// The session timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// Keeps a session alive.
    Heartbeat {
        /// The session.
        session: SessionId,
    },
    /// Closes a session at once, deleting its ephemeral nodes.
    CloseSession {
        /// The session.
        session: SessionId,
    },
    /// Runs operations atomically: all succeed or none is applied.
    Multi {
        /// The session.
        session: SessionId,
        /// The operations, in order.
        ops: Vec<MetaOp>,
    },
    /// Reads a node, optionally leaving a one-shot watch on it (fires on data change,
    /// creation or deletion).
    Get {
        /// The session.
        session: SessionId,
        /// The node's path.
        path: String,
        /// Whether to leave a watch.
        watch: bool,
    },
    /// Lists a node's children, optionally leaving a one-shot child watch.
    Children {
        /// The session.
        session: SessionId,
        /// The parent's path.
        path: String,
        /// Whether to leave a watch.
        watch: bool,
    },
    /// Waits up to `max_wait_ms` for fired watches of this session; also a heartbeat.
    ///
    /// Events are numbered per session from 0. `acked` is how many the client has
    /// received so far: the server forgets those and answers with the rest, so an answer
    /// lost with a broken connection is sent again and no event is lost or duplicated
    /// while the session lives (ZooKeeper gets the same from re-registering watches).
    PollEvents {
        /// The session.
        session: SessionId,
        /// The longest wait, in milliseconds.
        max_wait_ms: u64,
        /// How many events of this session the client has already received.
        acked: u64,
    },
}

/// One operation of a [`MetaRequest::Multi`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaOp {
    /// Creates a node; parents are created as needed (persistent).
    Create {
        /// The path.
        path: String,
        /// The data.
        data: String,
        /// Whether the node is deleted when the session ends.
        ephemeral: bool,
    },
    /// Replaces a node's data if its version matches (any version if `None`).
    SetData {
        /// The path.
        path: String,
        /// The new data.
        data: String,
        /// The version the node must have.
        expected_version: Option<u64>,
    },
    /// Deletes a node if its version matches (any version if `None`).
    Delete {
        /// The path.
        path: String,
        /// The version the node must have.
        expected_version: Option<u64>,
    },
    /// Fails the whole Multi unless the node has this version (zombie fencing).
    Check {
        /// The path.
        path: String,
        /// The version the node must have.
        version: u64,
    },
}

/// A stored node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZNode {
    /// The node's path.
    pub path: String,
    /// The node's data.
    pub data: String,
    /// Bumped on every data change; 0 at creation.
    pub version: u64,
    /// The owning session of an ephemeral node.
    pub ephemeral_owner: Option<SessionId>,
}

/// What happened to a watched node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaEvent {
    /// The node was created.
    Created(String),
    /// The node was deleted.
    Deleted(String),
    /// The node's data changed.
    DataChanged(String),
    /// A child was added or removed.
    ChildrenChanged(String),
}

/// Why a metastore request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaError {
    /// The session has expired or never existed.
    SessionExpired,
    /// The node already exists.
    NodeExists,
    /// The node does not exist.
    NoNode,
    /// The node's version did not match.
    BadVersion,
    /// The node has children.
    NotEmpty,
    /// The request is malformed, e.g. an invalid path (`a`, `/a/`, `/a//b`) or a
    /// change to the root node that is not allowed.
    BadArguments,
    /// Ephemeral nodes cannot have children (as in ZooKeeper).
    NoChildrenForEphemerals,
}

/// A metastore response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetaResponse {
    /// A new session.
    Session {
        /// The new session.
        id: SessionId,
        /// The session timeout the server granted, in milliseconds: the one asked for,
        /// clamped into the server's limits (ZooKeeper's negotiated session timeout).
        timeout_ms: u64,
    },
    /// The request succeeded; for `Multi`, the resulting version of each op's node.
    Done(Vec<u64>),
    /// A node, or `None` if absent.
    Node(Option<ZNode>),
    /// Child names, sorted.
    Children(Vec<String>),
    /// Fired watches, in the order they fired.
    Events(Vec<MetaEvent>),
    /// The request failed; for `Multi`, at the op with this index.
    Failed {
        /// The error.
        error: MetaError,
        /// The index of the failing op in a `Multi` (0 otherwise).
        op_index: usize,
    },
}
