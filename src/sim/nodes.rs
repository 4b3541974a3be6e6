//! Node lifecycle on madsim, with the network and disk effects of each fault: a process
//! crash (sockets reset, page cache kept), a power loss (silent, unflushed data lost),
//! a restart (a new process on the same disk), and a pause (a long GC pause: the
//! process stops, its peers' messages queue up, it resumes unaware).

use super::disk::DiskStore;
use super::net::{Addr, HostDown, Network};
use madsim::runtime::{Handle, NodeHandle};
use madsim::task::NodeId;
use std::collections::BTreeMap;
use std::future::Future;

/// What a node is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Running.
    Up,
    /// Crashed or powered off, waiting for a restart.
    Down,
    /// Paused (stopped but still holding its state and sockets).
    Paused,
}

struct Entry {
    id: NodeId,
    addr: Addr,
    status: NodeStatus,
}

/// Every simulated node of a run, by name.
pub struct NodeSet<Req, Resp> {
    handle: Handle,
    network: Network<Req, Resp>,
    disks: DiskStore,
    nodes: BTreeMap<String, Entry>,
}

impl<Req: Clone + Send + 'static, Resp: Clone + Send + 'static> NodeSet<Req, Resp> {
    /// An empty set on the current runtime.
    pub fn new(handle: Handle, network: Network<Req, Resp>, disks: DiskStore) -> Self {
        NodeSet { handle, network, disks, nodes: BTreeMap::new() }
    }

    /// The network.
    pub fn network(&self) -> &Network<Req, Resp> {
        &self.network
    }

    /// The disks.
    pub fn disks(&self) -> &DiskStore {
        &self.disks
    }

    /// Boots a node named `name` (also its host name) whose process is `main`; a
    /// restart runs `main` again.
    pub fn boot<F, M>(&mut self, name: &str, main: M) -> NodeHandle
    where
        M: Fn() -> F + Send + Sync + 'static,
        F: Future + 'static,
    {
        let addr = Addr::new(name);
        let node = self.handle.create_node().name(name).init(main).build();
        self.nodes.insert(name.to_string(), Entry { id: node.id(), addr, status: NodeStatus::Up });
        node
    }

    /// The status of a node, if it exists.
    pub fn status(&self, name: &str) -> Option<NodeStatus> {
        self.nodes.get(name).map(|e| e.status)
    }

    /// Every node name.
    pub fn names(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Nodes that are down.
    pub fn down(&self) -> Vec<String> {
        self.nodes.iter().filter(|(_, e)| e.status == NodeStatus::Down).map(|(n, _)| n.clone()).collect()
    }

    /// Nodes that are paused.
    pub fn paused(&self) -> Vec<String> {
        self.nodes.iter().filter(|(_, e)| e.status == NodeStatus::Paused).map(|(n, _)| n.clone()).collect()
    }

    /// Kills a node's process; the kernel resets its connections; its page cache stays.
    pub fn crash(&mut self, name: &str) -> bool {
        self.take_down(name, HostDown::ProcessCrash)
    }

    /// Cuts a node's power: silent to its peers, and unflushed writes are lost.
    pub fn power_loss(&mut self, name: &str) -> bool {
        self.cut_power(name).is_some()
    }

    /// [`NodeSet::power_loss`], telling how many of the node's files lost unflushed
    /// data (`None`: the node was not up).
    pub fn cut_power(&mut self, name: &str) -> Option<usize> {
        self.take_down(name, HostDown::Silent).then(|| self.disks.lose_page_cache(name))
    }

    fn take_down(&mut self, name: &str, how: HostDown) -> bool {
        let Some(entry) = self.nodes.get_mut(name) else {
            return false;
        };
        if entry.status == NodeStatus::Down {
            return false;
        }
        if entry.status == NodeStatus::Paused {
            self.handle.resume(entry.id);
        }
        self.handle.kill(entry.id);
        self.network.host_down(&entry.addr, how);
        entry.status = NodeStatus::Down;
        true
    }

    /// Starts a crashed node's process again (on the same disk).
    pub fn restart(&mut self, name: &str) -> bool {
        let Some(entry) = self.nodes.get_mut(name) else {
            return false;
        };
        if entry.status != NodeStatus::Down {
            return false;
        }
        self.network.host_up(&entry.addr);
        self.handle.restart(entry.id);
        entry.status = NodeStatus::Up;
        true
    }

    /// Stops a node's process without killing it.
    pub fn pause(&mut self, name: &str) -> bool {
        let Some(entry) = self.nodes.get_mut(name) else {
            return false;
        };
        if entry.status != NodeStatus::Up {
            return false;
        }
        self.handle.pause(entry.id);
        entry.status = NodeStatus::Paused;
        true
    }

    /// Lets a paused node run again.
    pub fn resume(&mut self, name: &str) -> bool {
        let Some(entry) = self.nodes.get_mut(name) else {
            return false;
        };
        if entry.status != NodeStatus::Paused {
            return false;
        }
        self.handle.resume(entry.id);
        entry.status = NodeStatus::Up;
        true
    }

    /// Kills every node so that no task outlives the run.
    pub fn kill_all(&mut self) {
        for entry in self.nodes.values_mut() {
            if entry.status == NodeStatus::Paused {
                self.handle.resume(entry.id);
            }
            self.handle.kill(entry.id);
            entry.status = NodeStatus::Down;
        }
    }
}
