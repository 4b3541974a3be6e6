//! The nemesis: fires the scenario's fault schedule from outside the system, resolving
//! each target ("the leader of orders-0", "the controller") at the moment the fault
//! fires, and undoes timed faults when their duration ends. Every fault is traced.

mod kinds;

use super::observer::{observe, ClusterObservation};
use crate::broker::coordinator::{offsets_partition_for, OFFSETS_TOPIC};
use crate::history::{Event, Recorder};
use crate::protocol::{Request, Response};
use crate::scenario::{FaultAction, FaultSpec, Target};
use crate::sim::net::{Addr, NetConfig};
use crate::sim::nodes::NodeSet;
use crate::workload::{AppFault, AppFaults};
use madsim::rand::{seq::SliceRandom, thread_rng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The metastore's host name.
const METASTORE: &str = "metastore";

/// The simulation's nodes, shared by the runner and the nemesis.
pub type SharedNodes = Arc<Mutex<NodeSet<Request, Response>>>;

/// Fires faults and remembers what must be undone.
pub struct Nemesis {
    nodes: SharedNodes,
    recorder: Recorder,
    broker_count: u32,
    /// The replicas of each partition, by name (`orders-0`).
    assignments: BTreeMap<String, Vec<u32>>,
    /// Directed links this nemesis blocked.
    blocked: BTreeSet<(Addr, Addr)>,
    /// Running `clog` faults; `heal` stops them.
    clogs: Vec<(madsim::task::JoinHandle<()>, kinds::Clogged)>,
    /// The network settings before the first loss or latency fault.
    baseline: NetConfig,
    /// How many faults fired.
    pub fired: u64,
    /// Where stall and leave faults reach the consumers' applications.
    app_faults: AppFaults,
}

/// Something to do later to undo a timed fault.
#[derive(Clone, Debug)]
pub enum Undo {
    /// Restart these nodes.
    Restart(Vec<String>),
    /// Unblock these links.
    Unblock(Vec<(Addr, Addr)>),
    /// Restore the baseline network settings.
    RestoreNetwork,
    /// Resume these paused nodes.
    Resume(Vec<String>),
    /// Restore FIFO delivery on these links.
    StopReordering(Vec<(Addr, Addr)>),
    /// Stop duplicating messages on these links.
    StopDuplicating(Vec<(Addr, Addr)>),
}

impl Nemesis {
    /// A nemesis over `nodes`.
    pub fn new(
        nodes: SharedNodes,
        recorder: Recorder,
        broker_count: u32,
        assignments: BTreeMap<String, Vec<u32>>,
    ) -> Self {
        let baseline = nodes.lock().expect("nodes poisoned").network().config();
        Nemesis {
            nodes,
            recorder,
            broker_count,
            assignments,
            blocked: BTreeSet::new(),
            clogs: Vec::new(),
            baseline,
            fired: 0,
            app_faults: AppFaults::default(),
        }
    }

    /// Lets stall and leave faults reach the consumers of this run's workload.
    pub fn set_app_faults(&mut self, app_faults: AppFaults) {
        self.app_faults = app_faults;
    }

    /// The run's recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn trace(&self, kind: &str, targets: Vec<String>, detail: String) {
        self.recorder.trace("nemesis", Event::Fault { kind: kind.to_string(), targets, detail });
    }

    fn brokers(&self) -> Vec<String> {
        (1..=self.broker_count).map(|i| format!("broker-{i}")).collect()
    }

    /// Resolves a target to node names, now.
    pub fn resolve(&self, target: &Target, observation: &ClusterObservation) -> Vec<String> {
        let broker = |id: u32| format!("broker-{id}");
        match target {
            Target::Node(name) => vec![name.clone()],
            Target::Controller => observation.controller.map(broker).into_iter().collect(),
            Target::LeaderOf(tp) => {
                observation.partitions.get(tp.as_str()).and_then(|p| p.leader).map(broker).into_iter().collect()
            }
            Target::CoordinatorOf(group) => {
                let prefix = format!("{OFFSETS_TOPIC}-");
                let count = self.assignments.keys().filter(|tp| tp.starts_with(&prefix)).count() as u32;
                if count == 0 {
                    return Vec::new();
                }
                let tp = format!("{prefix}{}", offsets_partition_for(group, count));
                observation.partitions.get(tp.as_str()).and_then(|p| p.leader).map(broker).into_iter().collect()
            }
            Target::FollowersOf(tp) | Target::AFollowerOf(tp) => {
                let Some(partition) = observation.partitions.get(tp.as_str()) else {
                    return Vec::new();
                };
                let mut followers: Vec<String> = self
                    .replicas_of(tp, observation)
                    .into_iter()
                    .filter(|b| Some(*b) != partition.leader)
                    .map(broker)
                    .collect();
                if matches!(target, Target::AFollowerOf(_)) {
                    followers.shuffle(&mut thread_rng());
                    followers.truncate(1);
                }
                followers
            }
            Target::RandomBroker => self.brokers().choose(&mut thread_rng()).cloned().into_iter().collect(),
            Target::AllBrokers => self.brokers(),
            Target::ReplicasOf(tp) => self.replicas_of(tp, observation).into_iter().map(broker).collect(),
            Target::Cluster => {
                let mut names = self.brokers();
                names.push(METASTORE.to_string());
                names
            }
            Target::Crashed => self.nodes.lock().expect("nodes poisoned").down(),
            Target::Paused => self.nodes.lock().expect("nodes poisoned").paused(),
            Target::Everyone => self.nodes.lock().expect("nodes poisoned").names(),
        }
    }

    /// The assigned replicas of a partition (the administrator's assignment).
    fn replicas_of(&self, tp: &str, _observation: &ClusterObservation) -> Vec<u32> {
        self.assignments.get(tp).cloned().unwrap_or_default()
    }

    /// Fires one fault; returns what undoes it if it has a duration.
    pub fn fire(&mut self, fault: &FaultSpec) -> Option<Undo> {
        self.fired += 1;
        let observation = observe(&self.recorder);
        match &fault.action {
            FaultAction::Crash { target } => {
                let names = self.resolve(target, &observation);
                let crashed: Vec<String> = {
                    let mut nodes = self.nodes.lock().expect("nodes poisoned");
                    names.into_iter().filter(|n| nodes.crash(n)).collect()
                };
                self.trace("crash", crashed.clone(), "process killed; page cache kept".into());
                fault.duration_ms.map(|_| Undo::Restart(crashed))
            }
            FaultAction::Restart { target } => {
                let names = self.resolve(target, &observation);
                self.restart(names);
                None
            }
            FaultAction::Partition { target, peers, one_way } => {
                let side_a = self.resolve(target, &observation);
                let side_b: Vec<String> =
                    self.resolve(peers, &observation).into_iter().filter(|n| !side_a.contains(n)).collect();
                let mut links = Vec::new();
                for a in &side_a {
                    for b in &side_b {
                        links.push((Addr::new(a), Addr::new(b)));
                        if !one_way {
                            links.push((Addr::new(b), Addr::new(a)));
                        }
                    }
                }
                {
                    let nodes = self.nodes.lock().expect("nodes poisoned");
                    for (from, to) in &links {
                        nodes.network().block(from, to);
                    }
                }
                self.blocked.extend(links.iter().cloned());
                let shape = if *one_way { "one-way" } else { "both ways" };
                self.trace("partition", side_a.clone(), format!("cut off from {} ({shape})", side_b.join(", ")));
                fault.duration_ms.map(|_| Undo::Unblock(links))
            }
            FaultAction::Heal => {
                self.heal();
                None
            }
            FaultAction::Split { shape, target } => {
                let links = self.split(*shape, target, &observation);
                fault.duration_ms.map(|_| Undo::Unblock(links))
            }
            FaultAction::PowerLoss { target } => {
                let names = self.resolve(target, &observation);
                let lost = self.power_loss(names);
                fault.duration_ms.map(|_| Undo::Restart(lost))
            }
            FaultAction::Pause { target } => {
                let names = self.resolve(target, &observation);
                let paused = self.pause(names);
                fault.duration_ms.map(|_| Undo::Resume(paused))
            }
            FaultAction::Resume { target } => {
                let names = self.resolve(target, &observation);
                self.resume(names);
                None
            }
            FaultAction::Stall { target } => {
                let detail = "application thread stalled; heartbeats go on";
                self.app_fault(fault, target, AppFault::Stall, detail, &observation);
                None
            }
            FaultAction::Leave { target } => {
                let detail = "closes and leaves its group; rejoins when the fault ends";
                self.app_fault(fault, target, AppFault::Leave, detail, &observation);
                None
            }
            FaultAction::Clog { target, peers } => {
                let duration = fault.duration_ms.unwrap_or(1_000);
                self.clog(target, peers, duration, &observation);
                // The clog task unclogs its own links before the duration ends.
                None
            }
            FaultAction::Reorder { target, peers } => {
                let links = self.reorder(target, peers, &observation);
                fault.duration_ms.map(|_| Undo::StopReordering(links))
            }
            FaultAction::Duplicate { target, peers, rate } => {
                let links = self.duplicate(target, peers, *rate, &observation);
                fault.duration_ms.map(|_| Undo::StopDuplicating(links))
            }
            FaultAction::PacketLoss { rate } => {
                self.nodes.lock().expect("nodes poisoned").network().update_config(|c| c.packet_loss_rate = *rate);
                self.trace("packet-loss", Vec::new(), format!("packet loss rate {rate}"));
                fault.duration_ms.map(|_| Undo::RestoreNetwork)
            }
            FaultAction::Latency { latency_ms_min, latency_ms_max } => {
                self.nodes.lock().expect("nodes poisoned").network().update_config(|c| {
                    c.latency_ms_min = *latency_ms_min;
                    c.latency_ms_max = *latency_ms_max;
                });
                self.trace("latency", Vec::new(), format!("latency {latency_ms_min}..{latency_ms_max} ms"));
                fault.duration_ms.map(|_| Undo::RestoreNetwork)
            }
        }
    }

    /// Undoes a timed fault.
    pub fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Restart(names) => self.restart(names),
            Undo::Unblock(links) => {
                let nodes = self.nodes.lock().expect("nodes poisoned");
                for (from, to) in &links {
                    nodes.network().unblock(from, to);
                    self.blocked.remove(&(from.clone(), to.clone()));
                }
                drop(nodes);
                self.trace("heal", Vec::new(), format!("{} links restored", links.len()));
            }
            Undo::RestoreNetwork => self.restore_network(),
            Undo::Resume(names) => self.resume(names),
            Undo::StopReordering(links) => self.stop_reordering(links),
            Undo::StopDuplicating(links) => self.stop_duplicating(links),
        }
    }

    /// Puts an application fault on the targeted consumers for the fault's duration.
    fn app_fault(
        &mut self,
        fault: &FaultSpec,
        target: &Target,
        kind: AppFault,
        detail: &str,
        observation: &ClusterObservation,
    ) {
        let names = self.resolve(target, observation);
        let until = madsim::time::Instant::now() + Duration::from_millis(fault.duration_ms.unwrap_or(0));
        for name in &names {
            self.app_faults.set(name, kind, until);
        }
        self.trace(fault.action.kind_name(), names, detail.into());
    }

    fn restart(&self, names: Vec<String>) {
        let restarted: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| nodes.restart(n)).collect()
        };
        if !restarted.is_empty() {
            self.trace("restart", restarted, "process started on the same disk".into());
        }
    }

    /// Removes every partition and clog this nemesis made.
    pub fn heal(&mut self) {
        let mut links = std::mem::take(&mut self.blocked);
        for (task, clogged) in self.clogs.drain(..) {
            task.abort();
            links.extend(std::mem::take(&mut *clogged.lock().expect("clogged links poisoned")));
        }
        let nodes = self.nodes.lock().expect("nodes poisoned");
        for (from, to) in &links {
            nodes.network().unblock(from, to);
        }
        drop(nodes);
        self.trace("heal", Vec::new(), format!("{} links restored", links.len()));
    }

    fn restore_network(&self) {
        let baseline = self.baseline.clone();
        self.nodes.lock().expect("nodes poisoned").network().update_config(|c| *c = baseline);
        self.trace("network-restored", Vec::new(), "latency and loss back to the scenario's settings".into());
    }

    /// The liveness phase's first step: heal everything and restart every node.
    pub fn heal_everything(&mut self) {
        self.heal();
        // Reordering and duplication are faults too: FIFO, exactly-once delivery returns.
        self.nodes.lock().expect("nodes poisoned").network().heal_all();
        self.restore_network();
        let down = self.nodes.lock().expect("nodes poisoned").down();
        self.restart(down);
        let paused = self.nodes.lock().expect("nodes poisoned").paused();
        self.resume(paused);
    }
}
