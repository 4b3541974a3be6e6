//! Clean stops: `stop` (an operator's `kafka-server-stop`: the broker shuts down cleanly,
//! with a controlled shutdown first if `controlled.shutdown.enable`) and
//! `rolling-restart` (every broker stopped and restarted in turn).
//!
//! A stop is asked of the broker process ([`StopSwitch`]); the process is killed when it
//! says it is done, which takes from a few milliseconds to
//! `controlled.shutdown.max.retries` times the retry backoff. A restart asked for in the
//! meantime (the stop's duration ended, a `restart` fault, the liveness phase) waits for
//! the exit and then starts the process at once.

use super::{trace_ended, InForce, Nemesis, SharedNodes};
use crate::broker::StopSwitch;
use crate::fault::FaultKind;
use crate::history::{ClusterState, Event, Recorder};
use crate::protocol::{broker_name, NodeName, NodeRole};
use crate::runner::observer::Observer;
use crate::scenario::Target;
use crate::sim::clock;
use crate::sim::nodes::NodeStatus;
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RESTARTED: &str = "process started on the same disk";

/// How long a rolling restart waits, after restarting a broker, for it to be back in
/// the ISR of every partition it hosts before it moves on anyway (operators' tooling
/// waits for zero under-replicated partitions, with a bound).
pub const ROLL_ISR_WAIT_MS: u64 = 30_000;

/// How often a rolling restart looks at the cluster while it waits.
const ROLL_POLL_MS: u64 = 100;

/// The clean stops in progress and what they need, shared with their tasks.
#[derive(Clone)]
pub(super) struct Stopper {
    nodes: SharedNodes,
    recorder: Recorder,
    in_force: Arc<Mutex<InForce>>,
    switches: BTreeMap<String, StopSwitch>,
    /// Brokers shutting down: the stop's number, and whether a restart waits for the exit.
    stopping: Arc<Mutex<BTreeMap<String, (u64, bool)>>>,
    next_stop: Arc<Mutex<u64>>,
}

impl Stopper {
    pub(super) fn new(
        nodes: SharedNodes,
        recorder: Recorder,
        in_force: Arc<Mutex<InForce>>,
        switches: BTreeMap<String, StopSwitch>,
    ) -> Self {
        Stopper { nodes, recorder, in_force, switches, stopping: Arc::default(), next_stop: Arc::default() }
    }

    fn stopping(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, bool)>> {
        self.stopping.lock().expect("stopping poisoned")
    }

    /// Asks a running broker to stop cleanly; returns whether it was asked (it is a
    /// broker, up, and not already stopping). `restart` restarts it as soon as it exits.
    pub(super) fn stop(&self, name: &str, restart: bool) -> bool {
        let Some(switch) = self.switches.get(name) else { return false };
        if self.nodes.lock().expect("nodes poisoned").status(name) != Some(NodeStatus::Up) {
            return false;
        }
        let number = {
            let mut stopping = self.stopping();
            if stopping.contains_key(name) {
                return false;
            }
            let mut next = self.next_stop.lock().expect("stop counter poisoned");
            *next += 1;
            stopping.insert(name.to_string(), (*next, restart));
            *next
        };
        switch.request();
        let this = self.clone();
        let name = name.to_string();
        let switch = switch.clone();
        crate::sim::tasks::spawn(async move {
            switch.exited().await;
            this.exited(&name, number);
        });
        true
    }

    /// The broker finished its clean shutdown: kill the process, and restart it if a
    /// restart waits.
    fn exited(&self, name: &str, number: u64) {
        let restart = {
            let mut stopping = self.stopping();
            match stopping.get(name) {
                Some((n, restart)) if *n == number => {
                    let restart = *restart;
                    stopping.remove(name);
                    restart
                }
                // Another fault killed and restarted it meanwhile: this stop is over.
                _ => return,
            }
        };
        let down = self.nodes.lock().expect("nodes poisoned").crash(name);
        if let Some(switch) = self.switches.get(name) {
            switch.reset();
        }
        if !down {
            return;
        }
        self.in_force.lock().expect("faults in force poisoned").down.insert(name.to_string(), FaultKind::Stop);
        if restart && self.nodes.lock().expect("nodes poisoned").restart(name) {
            let kind = self.in_force.lock().expect("faults in force poisoned").down.remove(name);
            trace_ended(&self.recorder, vec![(kind.unwrap_or(FaultKind::Stop), vec![name.to_string()])], RESTARTED);
        }
    }

    /// Of `names` to restart, keeps those that are not shutting down; a broker still
    /// shutting down restarts when it exits. A broker killed by another fault while it
    /// was shutting down restarts now, its stop forgotten.
    pub(super) fn defer_restarts(&self, names: Vec<String>) -> Vec<String> {
        let mut stopping = self.stopping();
        let nodes = self.nodes.lock().expect("nodes poisoned");
        names
            .into_iter()
            .filter(|name| match stopping.get_mut(name) {
                Some(entry) if nodes.status(name) == Some(NodeStatus::Up) => {
                    entry.1 = true;
                    false
                }
                Some(_) => {
                    stopping.remove(name);
                    if let Some(switch) = self.switches.get(name) {
                        switch.reset();
                    }
                    true
                }
                None => true,
            })
            .collect()
    }

    /// Every broker shutting down.
    pub(super) fn all_stopping(&self) -> Vec<String> {
        self.stopping().keys().cloned().collect()
    }

    /// Whether `name` is shutting down.
    pub(super) fn is_stopping(&self, name: &str) -> bool {
        self.stopping().contains_key(name)
    }
}

impl Nemesis {
    /// `stop`: the targeted brokers shut down cleanly (controlled shutdown first if
    /// enabled) and exit, and so do KRaft controllers (a leader resigns first); other
    /// targets are ignored.
    pub(super) fn stop(&mut self, target: &Target, now: &ClusterState) -> Option<crate::runner::nemesis::Undo> {
        let names = self.resolve(target, now);
        let stopped: Vec<String> = names.into_iter().filter(|n| self.stopper.stop(n, false)).collect();
        let only_controllers = !stopped.is_empty()
            && stopped.iter().all(|n| NodeName::parse(n).is_some_and(|n| n.role == NodeRole::Controller));
        let detail = if only_controllers {
            "clean shutdown requested (a quorum leader resigns first)"
        } else {
            "clean shutdown requested (controlled shutdown first if enabled)"
        };
        self.note_if_nothing_taken(FaultKind::Stop, &stopped);
        self.trace(FaultKind::Stop, stopped.clone(), detail.into());
        Some(crate::runner::nemesis::Undo::Restart(stopped))
    }

    /// `rolling-restart`: every broker in turn, in id order with the controller last,
    /// stops cleanly, restarts, and is waited for until it is back in the ISR of every
    /// partition it hosts (at most [`ROLL_ISR_WAIT_MS`]).
    pub(super) fn rolling_restart(&mut self) -> Option<crate::runner::nemesis::Undo> {
        let brokers = self.brokers();
        self.trace(
            FaultKind::RollingRestart,
            brokers.clone(),
            "each broker in turn: clean stop, restart, wait until back in every ISR".into(),
        );
        let stopper = self.stopper.clone();
        let observer = self.observer.clone();
        let assignments = self.assignments.clone();
        let recorder = self.recorder.clone();
        let machines = self.size.machines();
        let task = crate::sim::tasks::spawn(async move {
            roll(stopper, observer, assignments, machines, brokers.clone()).await;
            recorder.trace(
                "nemesis",
                Event::FaultEnded {
                    kind: FaultKind::RollingRestart,
                    targets: brokers,
                    detail: "every broker restarted".into(),
                },
            );
        });
        self.rolls.push(task);
        None
    }
}

/// The rolling restart's task. Brokers go in id order, except that the controller of
/// the moment goes last: operators restart the controller last so that the cluster
/// moves the controller once, not at every step (each controller move re-reads every
/// partition and can race with the controlled shutdowns). In combined mode a broker's
/// controller stops and restarts with it: they are one process.
async fn roll(
    stopper: Stopper,
    observer: Observer,
    assignments: BTreeMap<String, Vec<u32>>,
    machines: super::Machines,
    brokers: Vec<String>,
) {
    let mut remaining = brokers;
    while !remaining.is_empty() {
        let controller = observer.now().controller().map(|c| broker_name(c.broker));
        let index = remaining.iter().position(|b| Some(b) != controller.as_ref()).unwrap_or(0);
        let name = remaining.remove(index);
        if !stopper.stop(&name, true) {
            continue;
        }
        // The broker's controller in combined mode (`whole` lists the broker first).
        let process: Vec<String> = machines.whole(vec![name.clone()]);
        for mate in &process[1..] {
            stopper.stop(mate, true);
        }
        while process.iter().any(|node| stopper.is_stopping(node)) {
            sleep(Duration::from_millis(ROLL_POLL_MS)).await;
        }
        let Some(id) = NodeName::broker_id(&name) else {
            continue;
        };
        let deadline = clock::now() + Duration::from_millis(ROLL_ISR_WAIT_MS);
        while clock::now() < deadline && !back_in_every_isr(&observer.now(), &assignments, id) {
            sleep(Duration::from_millis(ROLL_POLL_MS)).await;
        }
    }
}

/// Whether broker `id` is in the ISR of every partition it is assigned (the cluster's
/// under-replicated partitions on it are none).
fn back_in_every_isr(now: &ClusterState, assignments: &BTreeMap<String, Vec<u32>>, id: u32) -> bool {
    assignments
        .iter()
        .filter(|(_, replicas)| replicas.len() > 1 && replicas.contains(&id))
        .all(|(tp, _)| now.partition(tp).is_some_and(|p| p.isr.contains(&id)))
}
