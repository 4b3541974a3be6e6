//! The ZooKeeper-like metadata store that the controller and brokers coordinate through.
//!
//! What it models from ZooKeeper:
//! - A tree of znodes addressed by slash-separated paths, each with text data and a
//!   version (0 at creation, +1 per data change); conditional `SetData`/`Delete` on an
//!   expected version, and atomic `Multi` whose `Check` op fences zombies (Kafka's
//!   controller-epoch check). `Create` makes missing parents as persistent nodes.
//! - Session timeouts negotiated as ZooKeeper does: the one a client asks for, clamped
//!   into the server's [`minSessionTimeout`, `maxSessionTimeout`] (see [`MetastoreConfig`]).
//! - Sessions with a timeout, kept alive by any request (heartbeats every third of the
//!   timeout). A session the server does not hear from for its timeout expires: its
//!   ephemeral nodes are deleted and the watches on them fire. Ephemeral nodes cannot
//!   have children. The client learns of expiry only when the server tells it.
//! - One-shot watches: a data watch (left by `Get`, also on an absent node) fires
//!   `Created`, `DataChanged` or `Deleted`; a child watch (left by `Children`) fires
//!   `ChildrenChanged` or `Deleted`. Events reach the session in the order they fired,
//!   each once, even across lost answers and metastore restarts (clients acknowledge
//!   what they received; ZooKeeper gets this by re-registering watches on reconnect).
//! - Durability: the state (tree, sessions, watches, queued events) is written durably
//!   on every change, so a restarted metastore loses nothing it acknowledged; restored
//!   sessions get a fresh full timeout, as after a ZooKeeper leader change.
//!
//! What it leaves out: replication (one metastore node; its crash makes it unavailable
//! until restart, like a ZooKeeper ensemble losing quorum), zxids and `Stat` beyond the
//! data version, sequential nodes, ACLs, `sync`, child versions (`cversion`), session
//! moves between servers, and the client-side Disconnected/SyncConnected states
//! (calls simply fail with [`MetaClientError::Unavailable`] and reconnect on the next call).
//!
//! Using it from a node (a broker registering itself, and again after expiry):
//!
//! ```ignore
//! loop {
//!     let client = MetaClient::connect(net.clone(), Addr::new("metastore"), 6_000).await?;
//!     let mut events = client.take_events().expect("first call");
//!     client.create("/brokers/ids/1", "broker-1", true).await?;
//!     let mut expired = client.expired();
//!     tokio::select! {
//!         biased;
//!         _ = expired.wait_for(|e| *e) => continue, // session gone: register again
//!         Some(event) = events.recv() => { /* react, re-arm the watch */ }
//!     }
//! }
//! ```
//!
//! Whoever kills the metastore node (or a client's node) must also tell the network:
//! `handle.kill(node); network.host_down(&addr, HostDown::ProcessCrash)`, and to bring
//! it back `network.host_up(&addr); handle.restart(node)`. Call `host_down` before the
//! restart: it clears the host's listener, which the new process installs when it starts.
//!
//! Layout: `tree` holds the znodes and atomic updates, `store` adds sessions, watches
//! and snapshots, [`server`] runs the node, [`client`] is what other nodes use.

pub mod client;
pub mod server;
mod store;
mod tree;

#[cfg(test)]
mod tests;

pub use client::{MetaClient, MetaClientConfig, MetaClientError};
pub use server::{run_metastore, MetastoreConfig, SNAPSHOT_PATH};
