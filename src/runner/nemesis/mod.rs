//! The nemesis: fires the scenario's fault schedule from outside the system, resolving
//! each target ("the leader of orders-0", "the controller") at the moment the fault
//! fires, and undoes timed faults when their duration ends.
//!
//! Each [`FaultKind`] is fired by one function (`nodes` for process faults, `links` for
//! link faults, here for network-wide and application faults). Every fault is traced
//! when it fires ([`Event::Fault`]) and again when its effect ends
//! ([`Event::FaultEnded`]): undone after its duration, ended by a `restart`, `resume`
//! or `heal` fault, or healed by the liveness phase. [`InForce`] remembers what is in
//! force for that; it only records, so tracing never changes what the faults do.

mod links;
mod nodes;
mod slowdowns;
mod stops;
mod targets;

use super::observer::Observer;
use crate::coverage::idle::{IdleFault, Idleness};
use crate::fault::FaultKind;
use crate::history::ClusterState;
use crate::history::{Event, Recorder};
use crate::protocol::{NodeName, NodeRole, Request, Response};
use crate::scenario::{FaultAction, FaultSpec, StuckChannel, Target};
use crate::sim::net::{Addr, NetConfig};
use crate::sim::nodes::NodeSet;
use crate::workload::{AppFault, AppFaults};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The simulation's nodes, shared by the runner and the nemesis.
pub type SharedNodes = Arc<Mutex<NodeSet<Request, Response>>>;

/// Where things are placed in the cluster, for resolving fault targets.
pub struct Placement {
    /// The replicas of each partition, by name.
    pub assignments: BTreeMap<String, Vec<u32>>,
    /// Each transactional producer's `transactional.id`, by node name.
    pub transactional_ids: BTreeMap<String, String>,
}

/// Fires faults and remembers what must be undone.
pub struct Nemesis {
    nodes: SharedNodes,
    recorder: Recorder,
    /// The cluster as the trace tells it, to resolve targets when a fault fires.
    observer: Observer,
    /// How many brokers and KRaft controllers the cluster runs.
    size: ClusterSize,
    /// The replicas of each partition, by name (`orders-0`).
    assignments: BTreeMap<String, Vec<u32>>,
    /// Each transactional producer's `transactional.id`, by node name.
    transactional_ids: BTreeMap<String, String>,
    /// Directed links this nemesis blocked.
    blocked: BTreeSet<(Addr, Addr)>,
    /// Running `clog` faults; `heal` stops them.
    clogs: Vec<(madsim::task::JoinHandle<()>, links::Clogged)>,
    /// The network settings before the first loss or latency fault.
    baseline: NetConfig,
    /// How many faults fired.
    pub fired: u64,
    /// Where stall and leave faults reach the consumers' applications.
    app_faults: AppFaults,
    /// What is in force, for tracing each fault's end.
    in_force: Arc<Mutex<InForce>>,
    /// Clean stops (`stop`, `rolling-restart`).
    stopper: stops::Stopper,
    /// Running rolling restarts; the liveness phase stops them.
    rolls: Vec<madsim::task::JoinHandle<()>>,
    /// The brokers' machines, which `slow-disk` and `cpu-steal` slow down.
    hardware: crate::sim::machine::Hardware,
}

/// Something to do later to undo a timed fault.
#[derive(Clone, Debug)]
pub enum Undo {
    /// Restart these nodes.
    Restart(Vec<String>),
    /// Unblock the links of the partition fault with this id.
    Unblock(FaultId, Vec<(Addr, Addr)>),
    /// Restore the baseline network settings.
    RestoreNetwork,
    /// Resume these paused nodes.
    Resume(Vec<String>),
    /// Restore FIFO delivery on the links of the reorder fault with this id.
    StopReordering(FaultId, Vec<(Addr, Addr)>),
    /// Stop duplicating messages on the links of the duplicate fault with this id.
    StopDuplicating(FaultId, Vec<(Addr, Addr)>),
    /// Free the flows of the stuck-connection fault with this id.
    Unstick(FaultId, Vec<(Addr, &'static str)>),
    /// Frees the single connections a stuck-connection fault on a client stuck.
    FreeConnections(FaultId, Vec<crate::sim::net::ConnId>),
    /// Restores these brokers' machines' speed after the slow-disk or cpu-steal fault
    /// with this id.
    RestoreSpeed(FaultId, FaultKind, Vec<String>),
}

/// Names one link or network fault in force.
pub type FaultId = u64;

/// The faults in force, as far as tracing their ends needs: which kind took each node
/// down or paused it, and the link and network faults by id with their targets.
#[derive(Default)]
pub(super) struct InForce {
    /// Nodes taken down, with the kind that did it (`crash` or `power-loss`).
    down: BTreeMap<String, FaultKind>,
    /// Nodes paused.
    paused: BTreeSet<String>,
    /// Link and network faults (partition, clog, reorder, duplicate, packet-loss,
    /// latency, stuck-connection, slowdowns), by id.
    faults: BTreeMap<FaultId, Started>,
    next_id: FaultId,
}

/// A link or network fault in force: its kind and targets, and what tells at its end
/// whether it changed anything.
pub(super) struct Started {
    kind: FaultKind,
    targets: Vec<String>,
    /// When it fired, in simulated nanoseconds.
    fired_ns: u64,
    effect: Effect,
}

/// The network's counter a fault moves when it does anything, as it read when the fault
/// fired (see [`crate::coverage::idle`]).
#[derive(Clone, Debug)]
pub(super) enum Effect {
    /// Messages held, reordered or duplicated on these directed links.
    OnLinks(Vec<(Addr, Addr)>, u64),
    /// Messages retransmitted after a loss, network-wide (`packet-loss`).
    Lost(u64),
    /// Messages sent, network-wide (`latency` delays each one sent while it lasts).
    Sent(u64),
    /// Not judged.
    NotJudged,
}

impl Effect {
    /// Why the fault changed nothing, if the counter did not move since it fired.
    fn idleness(&self, net: &crate::sim::net::Network<Request, Response>) -> Option<Idleness> {
        match self {
            Effect::OnLinks(links, before) => (net.touched(links) == *before).then_some(Idleness::NoMessageOnItsLinks),
            Effect::Lost(before) => (net.stats().retransmitted == *before).then_some(Idleness::NoMessageLost),
            Effect::Sent(before) => (net.stats().messages_sent == *before).then_some(Idleness::NoMessageSent),
            Effect::NotJudged => None,
        }
    }
}

impl InForce {
    /// Records a link or network fault (its effect not judged until [`InForce::watch`]);
    /// returns its id.
    fn start(&mut self, kind: FaultKind, targets: &[String]) -> FaultId {
        self.next_id += 1;
        let started = Started { kind, targets: targets.to_vec(), fired_ns: 0, effect: Effect::NotJudged };
        self.faults.insert(self.next_id, started);
        self.next_id
    }

    /// Judges at its end whether the fault `id`, fired at `fired_ns`, changed anything,
    /// by `effect`.
    fn watch(&mut self, id: FaultId, fired_ns: u64, effect: Effect) {
        if let Some(started) = self.faults.get_mut(&id) {
            (started.fired_ns, started.effect) = (fired_ns, effect);
        }
    }

    /// Forgets the fault `id`, returning it if it was in force.
    fn end(&mut self, id: FaultId) -> Option<Started> {
        self.faults.remove(&id)
    }

    /// Forgets every fault of the given kinds, returning them in the order they fired.
    fn end_all(&mut self, kinds: &[FaultKind]) -> Vec<Started> {
        let ids: Vec<FaultId> =
            self.faults.iter().filter(|(_, started)| kinds.contains(&started.kind)).map(|(id, _)| *id).collect();
        ids.into_iter().filter_map(|id| self.faults.remove(&id)).collect()
    }
}

/// Traces the end of each fault in `ended` with `detail`.
fn trace_ended(recorder: &Recorder, ended: Vec<(FaultKind, Vec<String>)>, detail: &str) {
    for (kind, targets) in ended {
        recorder.trace("nemesis", Event::FaultEnded { kind, targets, detail: detail.to_string() });
    }
}

/// Traces the end of each fault in force in `ended` with `detail`, and notes those that
/// changed nothing while they lasted. The caller holds no lock of `nodes`.
fn trace_ended_in_force(recorder: &Recorder, nodes: &SharedNodes, ended: Vec<Started>, detail: &str) {
    let mut pairs = Vec::new();
    for Started { kind, targets, fired_ns, effect } in ended {
        if !matches!(effect, Effect::NotJudged) {
            if let Some(why) = effect.idleness(nodes.lock().expect("nodes poisoned").network()) {
                recorder.idle_fault(IdleFault { kind, fired_ns, targets: targets.clone(), why });
            }
        }
        pairs.push((kind, targets));
    }
    trace_ended(recorder, pairs, detail);
}

/// The detail of a fault whose target named no node that was up.
const NO_TARGET_UP: &str = "nothing: its target named no node that was up";

/// How many nodes of each server kind a cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterSize {
    /// Brokers, `broker-1` to `broker-N`.
    pub brokers: u32,
    /// KRaft controllers, `controller-1` to `controller-N` (0 in ZooKeeper mode).
    pub controllers: u32,
    /// Combined mode: `controller-N` shares `broker-N`'s process and machine.
    pub combined: bool,
}

impl ClusterSize {
    /// Which nodes share a machine in this cluster.
    pub fn machines(self) -> Machines {
        Machines { combined_controllers: if self.combined { self.controllers } else { 0 } }
    }
}

/// Which nodes share a machine and a process: in combined mode (Kafka's
/// `process.roles=broker,controller`) `broker-N` and `controller-N` for N up to the
/// controller count, so that a crash, power loss, pause, stop or network fault of either
/// is one of both; every node alone otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machines {
    /// The controllers combined with brokers of the same number (0: none).
    combined_controllers: u32,
}

impl Machines {
    /// The node sharing `name`'s machine, if any.
    fn mate(self, name: &str) -> Option<String> {
        let node = NodeName::parse(name).filter(|n| n.number <= self.combined_controllers)?;
        match node.role {
            NodeRole::Broker => Some(NodeName::controller(node.number).to_string()),
            NodeRole::Controller => Some(NodeName::broker(node.number).to_string()),
            NodeRole::Producer | NodeRole::Consumer | NodeRole::Pipeline | NodeRole::Forwarder => None,
        }
    }

    /// `names` with the nodes sharing their machines, each right after its mate, without
    /// repeats.
    pub fn whole(self, names: Vec<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(names.len() * 2);
        for name in names {
            let mate = self.mate(&name);
            for node in std::iter::once(name).chain(mate) {
                if !out.contains(&node) {
                    out.push(node);
                }
            }
        }
        out
    }
}

/// What a nemesis acts through: the simulated processes, each broker's clean-stop switch,
/// the machines (disks, CPU), and the applications' own faults (stalls, leaves).
pub struct Levers {
    /// The simulated processes, to crash, pause and restart.
    pub nodes: SharedNodes,
    /// Each broker's switch for a clean (controlled) stop, by node name.
    pub stop_switches: BTreeMap<String, crate::broker::StopSwitch>,
    /// The machines, for slow disks and CPU steal.
    pub hardware: crate::sim::machine::Hardware,
    /// The applications' faults (a consumer's stall or leave).
    pub app_faults: AppFaults,
}

impl Nemesis {
    /// A nemesis acting through `levers` on a cluster of `size`, its targets resolved with
    /// `placement`, recording what it does.
    pub fn new(
        Levers { nodes, stop_switches, hardware, app_faults }: Levers,
        recorder: Recorder,
        observer: Observer,
        size: ClusterSize,
        Placement { assignments, transactional_ids }: Placement,
    ) -> Self {
        let baseline = nodes.lock().expect("nodes poisoned").network().config();
        let in_force: Arc<Mutex<InForce>> = Arc::default();
        let stopper = stops::Stopper::new(nodes.clone(), recorder.clone(), in_force.clone(), stop_switches);
        Nemesis {
            nodes,
            recorder,
            observer,
            size,
            assignments,
            transactional_ids,
            blocked: BTreeSet::new(),
            clogs: Vec::new(),
            baseline,
            fired: 0,
            app_faults,
            in_force,
            stopper,
            rolls: Vec::new(),
            hardware,
        }
    }

    /// The run's recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Traces a fault that fired. One whose target named no node that was up (every
    /// targeted node down already, or a role nobody held) did nothing, and its trace
    /// says so rather than what it would have done.
    fn trace(&self, kind: FaultKind, targets: Vec<String>, detail: String) {
        let detail = if targets.is_empty() && !kind.is_network_wide() { NO_TARGET_UP.to_string() } else { detail };
        self.recorder.trace("nemesis", Event::Fault { kind, targets, detail });
    }

    /// Judges at its end whether the fault `id`, firing now, changed anything.
    fn watch(&self, id: FaultId, effect: Effect) {
        self.in_force().watch(id, self.recorder.now_ns(), effect);
    }

    /// Watches the link fault `id` for messages held, reordered or duplicated on `links`.
    fn watch_links(&self, id: FaultId, links: &[(Addr, Addr)]) {
        let touched = self.nodes.lock().expect("nodes poisoned").network().touched(links);
        self.watch(id, Effect::OnLinks(links.to_vec(), touched));
    }

    /// Notes a process fault that found every target down (or paused) already.
    fn note_if_nothing_taken(&self, kind: FaultKind, taken: &[String]) {
        if taken.is_empty() {
            let fired_ns = self.recorder.now_ns();
            self.recorder.idle_fault(IdleFault {
                kind,
                fired_ns,
                targets: Vec::new(),
                why: Idleness::TargetsAlreadyDown,
            });
        }
    }

    fn in_force(&self) -> std::sync::MutexGuard<'_, InForce> {
        self.in_force.lock().expect("faults in force poisoned")
    }

    /// Fires one fault; returns what undoes it if it has a duration.
    pub fn fire(&mut self, fault: &FaultSpec) -> Option<Undo> {
        self.fired += 1;
        let timed = fault.duration_ms.is_some();
        let observer = self.observer.clone();
        let now = &observer.now();
        let undo = match &fault.action {
            FaultAction::Crash { target } => self.crash(target, now),
            FaultAction::Restart { target } => self.restart_fault(target, now),
            FaultAction::Partition { target, peers, one_way } => self.partition(target, peers, *one_way, now),
            FaultAction::Split { shape, target } => self.split(*shape, target, now),
            FaultAction::Heal => self.heal_fault(),
            FaultAction::PowerLoss { target } => self.power_loss(target, now),
            FaultAction::Pause { target } => self.pause(target, now),
            FaultAction::Resume { target } => self.resume_fault(target, now),
            FaultAction::Stall { target } => self.app_fault(fault, target, AppFault::Stall, now),
            FaultAction::Leave { target } => self.app_fault(fault, target, AppFault::Leave, now),
            // The clog task unclogs its own links before the duration ends.
            FaultAction::Clog { target, peers } => self.clog(target, peers, fault.duration_ms.unwrap_or(1_000), now),
            FaultAction::Reorder { target, peers } => self.reorder(target, peers, now),
            FaultAction::Duplicate { target, peers, rate } => self.duplicate(target, peers, *rate, now),
            FaultAction::PacketLoss { rate } => self.packet_loss(*rate),
            FaultAction::Latency { latency_ms_min, latency_ms_max } => self.latency(*latency_ms_min, *latency_ms_max),
            FaultAction::Stop { target } => self.stop(target, now),
            FaultAction::RollingRestart => self.rolling_restart(),
            FaultAction::StuckConnection { target, channel: StuckChannel::TransactionCoordinator } => {
                self.stick_client_connections(target, StuckChannel::TransactionCoordinator.name(), now)
            }
            FaultAction::StuckConnection { target, channel } => self.stick(target, channel.name(), now),
            FaultAction::SlowDisk { target, factor } => self.slow_down(FaultKind::SlowDisk, target, *factor, now),
            FaultAction::CpuSteal { target, factor } => self.slow_down(FaultKind::CpuSteal, target, *factor, now),
        };
        undo.filter(|_| timed)
    }

    /// Undoes a timed fault.
    pub fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Restart(names) => self.restart(names),
            Undo::Unblock(id, links) => self.unblock(id, links),
            Undo::RestoreNetwork => self.restore_network(),
            Undo::Resume(names) => self.resume(names),
            Undo::StopReordering(id, links) => self.stop_reordering(id, links),
            Undo::StopDuplicating(id, links) => self.stop_duplicating(id, links),
            Undo::Unstick(id, flows) => self.unstick(id, flows),
            Undo::FreeConnections(id, connections) => self.free_connections(id, connections),
            Undo::RestoreSpeed(id, kind, brokers) => self.restore_speed(id, kind, brokers),
        }
    }

    /// `packet-loss`: every message is lost with probability `rate` (and retransmitted).
    fn packet_loss(&mut self, rate: f64) -> Option<Undo> {
        let lost = {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            nodes.network().update_config(|c| c.packet_loss_rate = rate);
            nodes.network().stats().retransmitted
        };
        let id = self.in_force().start(FaultKind::PacketLoss, &[]);
        self.watch(id, Effect::Lost(lost));
        self.trace(FaultKind::PacketLoss, Vec::new(), format!("packet loss rate {rate}"));
        Some(Undo::RestoreNetwork)
    }

    /// `latency`: the one-way latency range becomes `min..max` milliseconds.
    fn latency(&mut self, min_ms: u64, max_ms: u64) -> Option<Undo> {
        let sent = {
            let nodes = self.nodes.lock().expect("nodes poisoned");
            nodes.network().update_config(|c| {
                c.latency_ms_min = min_ms;
                c.latency_ms_max = max_ms;
            });
            nodes.network().stats().messages_sent
        };
        let id = self.in_force().start(FaultKind::Latency, &[]);
        self.watch(id, Effect::Sent(sent));
        self.trace(FaultKind::Latency, Vec::new(), format!("latency {min_ms}..{max_ms} ms"));
        Some(Undo::RestoreNetwork)
    }

    /// Restores the scenario's latency and loss, which ends every network fault.
    fn restore_network(&self) {
        let baseline = self.baseline.clone();
        self.nodes.lock().expect("nodes poisoned").network().update_config(|c| *c = baseline);
        let ended = self.in_force().end_all(&[FaultKind::PacketLoss, FaultKind::Latency]);
        trace_ended_in_force(&self.recorder, &self.nodes, ended, "latency and loss back to the scenario's settings");
    }

    /// `stall` and `leave`: an application fault on the targeted consumers for the
    /// fault's duration. The consumer's application traces the fault's end (see
    /// [`AppFaults`]), since the runner has no task waking at that moment.
    fn app_fault(&mut self, fault: &FaultSpec, target: &Target, kind: AppFault, now: &ClusterState) -> Option<Undo> {
        let names = self.resolve(target, now);
        let until = madsim::time::Instant::now() + Duration::from_millis(fault.duration_ms.unwrap_or(0));
        for name in &names {
            self.app_faults.set(name, kind, until);
        }
        let producer = names.iter().any(|n| NodeName::parse(n).is_some_and(|n| n.role == NodeRole::Producer));
        let (fault_kind, detail) = match kind {
            // A transactional producer (the only producer a stall may target) stops in
            // the middle of a transaction.
            AppFault::Stall if producer => {
                (FaultKind::Stall, "application thread stalled mid-transaction; the producer's sender goes on")
            }
            AppFault::Stall => (FaultKind::Stall, "application thread stalled; heartbeats go on"),
            AppFault::Leave => (FaultKind::Leave, "closes and leaves its group; rejoins when the fault ends"),
        };
        self.trace(fault_kind, names, detail.into());
        None
    }

    /// The liveness phase's first step: heal everything and restart every node.
    pub fn heal_everything(&mut self) {
        for roll in std::mem::take(&mut self.rolls) {
            if !roll.is_finished() {
                roll.abort();
                let ended = vec![(FaultKind::RollingRestart, self.brokers())];
                trace_ended(&self.recorder, ended, "cut short by the liveness phase");
            }
        }
        self.heal();
        // Reordering, duplication and stuck flows are faults too: FIFO, exactly-once
        // delivery on every connection returns.
        self.nodes.lock().expect("nodes poisoned").network().heal_all();
        let ended = self.in_force().end_all(&[FaultKind::Reorder, FaultKind::Duplicate, FaultKind::StuckConnection]);
        trace_ended_in_force(&self.recorder, &self.nodes, ended, "links deliver in order and once again");
        self.restore_network();
        let mut down = self.nodes.lock().expect("nodes poisoned").down();
        down.extend(self.stopper.all_stopping());
        self.restart(down);
        let paused = self.nodes.lock().expect("nodes poisoned").paused();
        self.resume(paused);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn in_combined_mode_a_broker_and_the_controller_of_its_number_are_one_machine() {
        let combined = ClusterSize { brokers: 5, controllers: 3, combined: true }.machines();
        assert_eq!(
            combined.whole(names(&["broker-2", "controller-3", "broker-5", "producer-1", "controller-2"])),
            names(&["broker-2", "controller-2", "controller-3", "broker-3", "broker-5", "producer-1"]),
        );
        let dedicated = ClusterSize { brokers: 5, controllers: 3, combined: false }.machines();
        assert_eq!(dedicated.whole(names(&["broker-2", "controller-3"])), names(&["broker-2", "controller-3"]));
    }
}
