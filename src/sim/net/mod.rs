//! Typed connections over a simulated network, with TCP's semantics by default and
//! faults injected from outside.
//!
//! Kafka runs over TCP, so that is what nodes see here: a client opens a [`Connection`]
//! to a host, sends requests on it and receives responses matched to them; a server
//! [`Listener`] accepts [`ServerConn`]s and reads their requests in order. Guarantees:
//!
//! - A connection opens with TCP's handshake: its SYN goes first, the server accepts it
//!   (a host nobody listens on, or whose process restarted, resets it: refused) and the
//!   client learns it is established when the SYN-ACK comes back
//!   ([`ConnectionState`]). A client may send at once (its requests queue behind the
//!   SYN) or wait for the handshake, as Kafka's clients do; one that closes before the
//!   handshake completes sends nothing.
//! - Per-connection FIFO in each direction. A lost packet is retransmitted after a
//!   retransmission timeout (so loss shows up as delay, never as a gap or reordering);
//!   a blocked link (partition) holds messages until it heals.
//! - A process crash closes the host's sockets: what the process had already sent still
//!   arrives, then the host's reset (one trip after the crash), and every request still
//!   pending fails with [`NetError::Disconnected`]. A power loss is silent: peers notice
//!   only through their own timeouts, or a reset when the host is back.
//! - Messages already sent on a connection that its client closed are still delivered
//!   (they sit in the kernel's send buffer); the answers go nowhere. This is how a
//!   timed-out request can still be applied, as in real Kafka.
//! - Injected faults break these rules on purpose: `reorder` lets messages on a link
//!   overtake each other, `duplicate` delivers some messages twice. A client still
//!   takes a connection's responses in request order: one that overtook an older
//!   pending request's response waits for it, as Kafka's `NetworkClient` completes a
//!   connection's in-flight requests oldest first (`InFlightRequests.completeNext`).
//!   Simplified: a real client handed a response out of order would fail on its
//!   correlation id (`AbstractResponse.parseResponse` throws
//!   `CorrelationIdMismatchException`); here it waits, as TCP's own ordering would have it.
//!
//! The design rule, one file each: the system under test sees only the node API
//! (`api.rs`: [`NodeNet`], [`Connection`], [`Listener`], [`ServerConn`]). The fault
//! controls live on [`Network`] (`control.rs`), held by the simulation, as madsim keeps
//! its own on `NetSim` rather than on `Endpoint`: nothing a node holds can inject a
//! fault. Between the two, the fabric (`fabric.rs`) moves the messages: FIFO per
//! connection, latency, retransmission, the reordering and duplication mechanics, the
//! counters; each direction of a connection queues its messages in `arrivals.rs`.

mod api;
mod arrivals;
mod control;
mod fabric;

pub use api::{ConnectOptions, ConnectionState, Listener, PendingResponse};
pub use control::HostDown;
pub use fabric::{ConnId, Connection, Incoming, NetStats, Network, NodeNet, Responder, ServerConn};

use std::fmt;
use std::sync::Arc;

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

#[cfg(test)]
mod tests;
