//! The simulation's side of the network: [`Network`] registers hosts, takes them down
//! and up, and injects the link faults (partitions, reordering, duplication, latency
//! and loss). Only the simulation (the cluster runner and its nemesis) holds a
//! `Network`; a node gets a [`NodeNet`] from [`Network::add_host`], which keeps its
//! `Network` private, so the system under test can never call these controls.

use super::fabric::{
    fail_pending, remove_conn, ConnId, Direction, Fabric, Faults, Host, Message, NetStats, Network, NodeNet,
};
use super::{Addr, NetConfig, NetError};
use crate::sim::deadline::Deadlines;
use madsim::runtime::NodeHandle;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How a host went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostDown {
    /// The process died; the kernel closes its sockets and peers see resets.
    ProcessCrash,
    /// The machine lost power, or hangs; peers hear nothing.
    Silent,
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
                touched: BTreeMap::new(),
            })),
            links_changed: Arc::new(Notify::new()),
            deadlines: Deadlines::start(&wire),
            wire,
        }
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
        let mut reset = Vec::new();
        for id in affected {
            let conn = &fabric.conns[&id];
            // Whether the dead host, as this connection's server, had answers held back.
            let held = &conn.server == addr && held_toward_client(&fabric.faults, id, addr, &conn.client, conn.channel);
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
                if held {
                    // Answers a partition or a stuck flow holds wait for TCP to retransmit
                    // them, and the dead process's socket no longer does: they are lost.
                    conn.to_client.queue.clear();
                }
                // Its kernel resets the connection: the answers the process had already
                // sent are on the wire and reach the client first, then the RST, one
                // trip after the crash (a client that sends meanwhile is reset by the
                // host when its request arrives, see `deliver_front`).
                reset.push(id);
            }
            // Silent: the client finds out by timing out, or by a reset once the host
            // is back (see `deliver`).
        }
        drop(fabric);
        for id in reset {
            self.enqueue(id, Direction::ToClient, Message::Reset);
        }
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
        drop(fabric);
        // Requests held for the machine are retransmitted now, and reset (see `run_pipe`).
        self.links_changed.notify_waiters();
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

    /// Sticks (or frees) the connections `client` opened on `channel`: while stuck they
    /// carry nothing either way, and TCP retransmits what they hold once freed.
    pub fn set_stuck(&self, client: &Addr, channel: &'static str, stuck: bool) {
        let flow = (client.clone(), channel);
        let mut fabric = self.lock();
        if stuck {
            fabric.faults.stuck.insert(flow);
        } else {
            fabric.faults.stuck.remove(&flow);
            drop(fabric);
            self.links_changed.notify_waiters();
        }
    }

    /// Sticks the connections `client` has open on `channel` now, and returns them:
    /// while stuck they carry nothing either way; connections it opens later are free.
    pub fn stick_open_connections(&self, client: &Addr, channel: &'static str) -> Vec<super::fabric::ConnId> {
        let mut fabric = self.lock();
        let open: Vec<super::fabric::ConnId> = fabric
            .conns
            .iter()
            .filter(|(_, c)| &c.client == client && c.channel == Some(channel) && !c.client_closed)
            .map(|(id, _)| *id)
            .collect();
        fabric.faults.stuck_connections.extend(open.iter().copied());
        open
    }

    /// Frees connections [`stick_open_connections`](Self::stick_open_connections)
    /// stuck: TCP retransmits what they hold, even on those the client closed since.
    pub fn free_connections(&self, connections: &[super::fabric::ConnId]) {
        let mut fabric = self.lock();
        for id in connections {
            fabric.faults.stuck_connections.remove(id);
        }
        drop(fabric);
        self.links_changed.notify_waiters();
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

    /// The messages link faults acted on so far on these directed links: held by a
    /// partition or a stuck flow, overtaken on a reordering link, or duplicated.
    pub fn touched(&self, links: &[(Addr, Addr)]) -> u64 {
        let fabric = self.lock();
        links.iter().map(|link| fabric.touched.get(link).copied().unwrap_or(0)).sum()
    }
}

/// Whether the server's side of connection `id` (from `server` to `client`, opened on
/// `channel`) holds what it sends: a blocked link, or a stuck flow or connection.
/// Simplified: answers already on their way when a partition begins later are held and
/// retransmitted at its heal even if their sender died meanwhile.
fn held_toward_client(
    faults: &Faults,
    id: ConnId,
    server: &Addr,
    client: &Addr,
    channel: Option<&'static str>,
) -> bool {
    faults.blocked.contains(&(server.clone(), client.clone()))
        || channel.is_some_and(|channel| faults.stuck.contains(&(client.clone(), channel)))
        || faults.stuck_connections.contains(&id)
}
