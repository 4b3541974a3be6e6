//! Link faults: network partitions of several shapes, FoundationDB-style clogging, and
//! message reordering and duplication, with the `heal` that ends partitions and clogs.
//! Every fault is traced with what it resolved to, and again when it ends.

use super::{trace_ended_in_force, FaultId, Nemesis, Undo};
use crate::fault::FaultKind;
use crate::history::ClusterState;
use crate::protocol::{NodeName, METASTORE};
use crate::scenario::{SplitShape, Target};
use crate::sim::clock;
use crate::sim::net::Addr;
use madsim::rand::{seq::SliceRandom, thread_rng, Rng};
use madsim::time::sleep_until;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The links a running clog holds clogged, so that `heal` can unclog them.
pub(super) type Clogged = Arc<Mutex<BTreeSet<(Addr, Addr)>>>;

/// Every directed link between the two sides, both ways.
fn links_between(side_a: &[String], side_b: &[String]) -> Vec<(Addr, Addr)> {
    let mut links = Vec::new();
    for a in side_a {
        for b in side_b.iter().filter(|b| !side_a.contains(b)) {
            links.push((Addr::new(a), Addr::new(b)));
            links.push((Addr::new(b), Addr::new(a)));
        }
    }
    links
}

impl Nemesis {
    /// `partition` (shape `isolate`): cuts `target` off from `peers`, one way or both.
    pub(super) fn partition(
        &mut self,
        target: &Target,
        peers: &Target,
        one_way: bool,
        now: &ClusterState,
    ) -> Option<Undo> {
        let (side_a, side_b) = self.sides(target, peers, now);
        let mut links = Vec::new();
        for a in &side_a {
            for b in &side_b {
                links.push((Addr::new(a), Addr::new(b)));
                if !one_way {
                    links.push((Addr::new(b), Addr::new(a)));
                }
            }
        }
        self.block(&links);
        let shape = if one_way { "one-way" } else { "both ways" };
        let id = self.in_force().start(FaultKind::Partition, &side_a);
        self.watch_links(id, &links);
        self.trace(FaultKind::Partition, side_a, format!("cut off from {} ({shape})", side_b.join(", ")));
        Some(Undo::Unblock(id, links))
    }

    fn block(&mut self, links: &[(Addr, Addr)]) {
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in links {
                nodes.network().block(from, to);
            }
        }
        self.blocked.extend(links.iter().cloned());
    }

    /// Draws a partition of the given shape around `target` and blocks it.
    pub(super) fn split(&mut self, shape: SplitShape, target: &Target, now: &ClusterState) -> Option<Undo> {
        let centre = self.resolve(target, now);
        let mut others: Vec<String> = self.brokers().into_iter().filter(|b| !centre.contains(b)).collect();
        others.shuffle(&mut thread_rng());
        // The metadata nodes not at the centre (the metastore, or in KRaft the controller
        // quorum) stay together on the side that keeps the majority of the brokers; in
        // combined mode each controller stays with its broker instead.
        let metadata_nodes: Vec<String> = match (self.size.controllers, self.size.combined) {
            (0, _) => vec![METASTORE.to_string()],
            (_, true) => Vec::new(),
            (_, false) => self.controllers(),
        };
        let metadata_side: Vec<String> = metadata_nodes.into_iter().filter(|n| !centre.contains(n)).collect();
        let (side_a, side_b, detail) = match shape {
            SplitShape::Isolate => {
                let mut rest = others;
                rest.extend(metadata_side);
                (centre.clone(), rest, "isolated from the cluster".to_string())
            }
            SplitShape::MajorityMinority => {
                let minority_size = (self.size.brokers as usize / 2).max(centre.len());
                let mut minority = centre.clone();
                let fill = minority_size.saturating_sub(minority.len()).min(others.len());
                minority.extend(others.drain(..fill));
                let mut majority = others;
                majority.extend(metadata_side);
                let detail = format!("minority {} | majority {}", minority.join(", "), majority.join(", "));
                (minority, majority, detail)
            }
            SplitShape::Bridge => {
                let mut half_a = metadata_side;
                let first = others.len().div_ceil(2);
                half_a.extend(others.drain(..first));
                let half_b = others;
                let detail = format!("{} | {} with bridge {}", half_a.join(", "), half_b.join(", "), centre.join(", "));
                (half_a, half_b, detail)
            }
        };
        let machines = self.size.machines();
        let links = links_between(&machines.whole(side_a), &machines.whole(side_b));
        self.block(&links);
        let id = self.in_force().start(FaultKind::Partition, &centre);
        self.watch_links(id, &links);
        self.trace(FaultKind::Partition, centre, format!("{}: {detail}", shape.name()));
        Some(Undo::Unblock(id, links))
    }

    /// Undoes the partition fault `id`: unblocks its links.
    pub(super) fn unblock(&mut self, id: FaultId, links: Vec<(Addr, Addr)>) {
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().unblock(from, to);
                self.blocked.remove(&(from.clone(), to.clone()));
            }
        }
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(&self.recorder, &self.nodes, ended, &format!("{} links restored", links.len()));
    }

    /// `heal`: removes every partition and clog.
    pub(super) fn heal_fault(&mut self) -> Option<Undo> {
        let links = self.unblock_everything();
        self.trace(FaultKind::Heal, Vec::new(), format!("{links} links restored"));
        self.end_partitions_and_clogs();
        None
    }

    /// Removes every partition and clog this nemesis made, tracing their ends.
    pub(super) fn heal(&mut self) {
        self.unblock_everything();
        self.end_partitions_and_clogs();
    }

    /// Unblocks every link a partition or a clog holds; returns how many.
    fn unblock_everything(&mut self) -> usize {
        let mut links = std::mem::take(&mut self.blocked);
        for (task, clogged) in self.clogs.drain(..) {
            task.abort();
            links.extend(std::mem::take(&mut *clogged.lock().expect("clogged links poisoned")));
        }
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().unblock(from, to);
        }
        links.len()
    }

    fn end_partitions_and_clogs(&self) {
        let ended = self.in_force().end_all(&[FaultKind::Partition, FaultKind::Clog]);
        trace_ended_in_force(&self.recorder, &self.nodes, ended, "healed");
    }

    /// `clog`: every link between the sides clogs at a random moment of the first half
    /// of `duration_ms` and unclogs at a random moment of the second half.
    pub(super) fn clog(
        &mut self,
        target: &Target,
        peers: &Target,
        duration_ms: u64,
        now: &ClusterState,
    ) -> Option<Undo> {
        let (side_a, side_b) = self.sides(target, peers, now);
        let links = links_between(&side_a, &side_b);
        let watched = links.clone();
        let start = clock::now();
        let half = (duration_ms / 2).max(1);
        let mut steps: Vec<(u64, bool, (Addr, Addr))> = Vec::new();
        let mut rng = thread_rng();
        for link in links {
            steps.push((rng.gen_range(0..half), true, link.clone()));
            steps.push((rng.gen_range(half..duration_ms.max(half + 1)), false, link));
        }
        // Sorting by time alone keeps equal times in drawing order: deterministic.
        steps.sort_by_key(|(at, _, _)| *at);
        let id = self.in_force().start(FaultKind::Clog, &side_a);
        self.watch_links(id, &watched);
        self.trace(
            FaultKind::Clog,
            side_a,
            format!("{} links to {} clog one by one over {duration_ms} ms", steps.len() / 2, side_b.join(", ")),
        );
        let nodes = self.nodes.clone();
        let recorder = self.recorder.clone();
        let in_force = self.in_force.clone();
        let clogged: Clogged = Arc::default();
        let still_clogged = clogged.clone();
        let task = crate::sim::tasks::spawn(async move {
            for (at, clog, (from, to)) in steps {
                sleep_until(start + Duration::from_millis(at)).await;
                let nodes = nodes.lock().expect("nodes poisoned");
                let mut clogged = clogged.lock().expect("clogged links poisoned");
                if clog {
                    nodes.network().block(&from, &to);
                    clogged.insert((from, to));
                } else {
                    nodes.network().unblock(&from, &to);
                    clogged.remove(&(from, to));
                }
            }
            let ended = in_force.lock().expect("faults in force poisoned").end(id).into_iter().collect();
            trace_ended_in_force(&recorder, &nodes, ended, "every clogged link unclogged");
        });
        self.clogs.push((task, still_clogged));
        None
    }

    /// `reorder`: messages between the sides may overtake each other.
    pub(super) fn reorder(&mut self, target: &Target, peers: &Target, now: &ClusterState) -> Option<Undo> {
        let (side_a, side_b) = self.sides(target, peers, now);
        let links = links_between(&side_a, &side_b);
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().set_reordering(from, to, true);
            }
        }
        let id = self.in_force().start(FaultKind::Reorder, &side_a);
        self.watch_links(id, &links);
        let detail = format!("messages to and from {} may overtake each other", side_b.join(", "));
        self.trace(FaultKind::Reorder, side_a, detail);
        Some(Undo::StopReordering(id, links))
    }

    /// `duplicate`: messages between the sides are delivered twice with probability
    /// `rate`.
    pub(super) fn duplicate(&mut self, target: &Target, peers: &Target, rate: f64, now: &ClusterState) -> Option<Undo> {
        let (side_a, side_b) = self.sides(target, peers, now);
        let links = links_between(&side_a, &side_b);
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (from, to) in &links {
                nodes.network().set_duplication(from, to, rate);
            }
        }
        let id = self.in_force().start(FaultKind::Duplicate, &side_a);
        self.watch_links(id, &links);
        let detail = format!("messages to and from {} delivered twice with probability {rate}", side_b.join(", "));
        self.trace(FaultKind::Duplicate, side_a, detail);
        Some(Undo::StopDuplicating(id, links))
    }

    /// `stuck-connection`: the targeted brokers' connections on `channel` carry nothing
    /// until the fault ends (in combined mode the broker's controller is not a target: it
    /// opens no such channel).
    pub(super) fn stick(&mut self, target: &Target, channel: &'static str, now: &ClusterState) -> Option<Undo> {
        let brokers: Vec<String> =
            self.resolve(target, now).into_iter().filter(|n| NodeName::broker_id(n).is_some()).collect();
        let flows: Vec<(Addr, &'static str)> = brokers.iter().map(|b| (Addr::new(b), channel)).collect();
        {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            for (client, channel) in &flows {
                nodes.network().set_stuck(client, channel, true);
            }
        }
        let id = self.in_force().start(FaultKind::StuckConnection, &brokers);
        self.trace(FaultKind::StuckConnection, brokers, format!("{channel} connections to the controllers stuck"));
        Some(Undo::Unstick(id, flows))
    }

    /// `stuck-connection` on a client (a transactional producer's connections to its
    /// transaction coordinator): the connections it has open on `channel` now carry
    /// nothing until the fault ends; the ones it opens meanwhile work.
    pub(super) fn stick_client_connections(
        &mut self,
        target: &Target,
        channel: &'static str,
        now: &ClusterState,
    ) -> Option<Undo> {
        let clients = self.resolve(target, now);
        let connections: Vec<crate::sim::net::ConnId> = {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            clients.iter().flat_map(|c| nodes.network().stick_open_connections(&Addr::new(c), channel)).collect()
        };
        let id = self.in_force().start(FaultKind::StuckConnection, &clients);
        let detail = match connections.len() {
            0 => format!("no {channel} connection open to stick"),
            1 => format!("its open {channel} connection stuck (a new one takes another path)"),
            n => format!("its {n} open {channel} connections stuck (new ones take other paths)"),
        };
        self.trace(FaultKind::StuckConnection, clients, detail);
        Some(Undo::FreeConnections(id, connections))
    }

    /// Undoes a stuck-connection fault on a client: its connections deliver what they
    /// held.
    pub(super) fn free_connections(&self, id: FaultId, connections: Vec<crate::sim::net::ConnId>) {
        self.nodes.lock().expect("nodes poisoned").network().free_connections(&connections);
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(
            &self.recorder,
            &self.nodes,
            ended,
            "the connections deliver again (TCP retransmits what they held)",
        );
    }

    /// Undoes the stuck-connection fault `id`: its flows carry what they hold again.
    pub(super) fn unstick(&self, id: FaultId, flows: Vec<(Addr, &'static str)>) {
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (client, channel) in &flows {
            nodes.network().set_stuck(client, channel, false);
        }
        drop(nodes);
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(
            &self.recorder,
            &self.nodes,
            ended,
            "the connections deliver again (TCP retransmits what they held)",
        );
    }

    /// Undoes the reorder fault `id`: FIFO delivery on its links again.
    pub(super) fn stop_reordering(&self, id: FaultId, links: Vec<(Addr, Addr)>) {
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().set_reordering(from, to, false);
        }
        drop(nodes);
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(
            &self.recorder,
            &self.nodes,
            ended,
            &format!("{} links deliver in order again", links.len()),
        );
    }

    /// Undoes the duplicate fault `id`: messages on its links are delivered once again.
    pub(super) fn stop_duplicating(&self, id: FaultId, links: Vec<(Addr, Addr)>) {
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().set_duplication(from, to, 0.0);
        }
        drop(nodes);
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(&self.recorder, &self.nodes, ended, &format!("{} links deliver once again", links.len()));
    }
}
