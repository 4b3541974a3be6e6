//! Process faults: `crash`, `power-loss`, `pause`, and the `restart` and `resume` that
//! end them.

use super::{trace_ended, Nemesis, Undo};
use crate::coverage::ReachedState;
use crate::fault::FaultKind;
use crate::history::ClusterState;
use crate::protocol::{Request, Response};
use crate::scenario::Target;
use crate::sim::nodes::NodeSet;

const RESTARTED: &str = "process started on the same disk";
const RESUMED: &str = "process runs again, unaware that time passed";

impl Nemesis {
    /// `crash`: the process dies; its page cache survives.
    pub(super) fn crash(&mut self, target: &Target, now: &ClusterState) -> Option<Undo> {
        let crashed = self.take_down(target, FaultKind::Crash, now, NodeSet::crash);
        self.note_if_nothing_taken(FaultKind::Crash, &crashed);
        self.trace(FaultKind::Crash, crashed.clone(), "process killed; page cache kept".into());
        self.end_pauses_of(&crashed);
        Some(Undo::Restart(crashed))
    }

    /// `power-loss`: the machine dies silently and loses its unflushed page cache.
    pub(super) fn power_loss(&mut self, target: &Target, now: &ClusterState) -> Option<Undo> {
        let mut damaged_files = 0;
        let lost = self.take_down(target, FaultKind::PowerLoss, now, |nodes, name| {
            nodes.cut_power(name).map(|damaged| damaged_files += damaged).is_some()
        });
        self.note_if_nothing_taken(FaultKind::PowerLoss, &lost);
        self.trace(FaultKind::PowerLoss, lost.clone(), "machine lost power; unflushed page cache lost".into());
        if damaged_files > 0 {
            self.recorder.reached(ReachedState::PowerLossLostUnflushed);
        }
        self.end_pauses_of(&lost);
        Some(Undo::Restart(lost))
    }

    /// Takes the targeted nodes down with `how`; returns those that were up, recorded as
    /// down by `kind`.
    fn take_down(
        &mut self,
        target: &Target,
        kind: FaultKind,
        now: &ClusterState,
        mut how: impl FnMut(&mut NodeSet<Request, Response>, &str) -> bool,
    ) -> Vec<String> {
        let names = self.resolve(target, now);
        let down: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| how(&mut nodes, n)).collect()
        };
        let mut in_force = self.in_force();
        for name in &down {
            in_force.down.insert(name.clone(), kind);
        }
        down
    }

    /// A node taken down while paused is no longer paused: that pause ends.
    fn end_pauses_of(&self, names: &[String]) {
        let ended: Vec<String> = {
            let mut in_force = self.in_force();
            names.iter().filter(|n| in_force.paused.remove(*n)).cloned().collect()
        };
        if !ended.is_empty() {
            trace_ended(&self.recorder, vec![(FaultKind::Pause, ended)], "taken down while paused");
        }
    }

    /// `restart`: crashed or powered-off targets start again.
    pub(super) fn restart_fault(&mut self, target: &Target, now: &ClusterState) -> Option<Undo> {
        let names = self.resolve(target, now);
        let restarted = self.restart_nodes(names);
        if !restarted.is_empty() {
            self.trace(FaultKind::Restart, restarted.clone(), RESTARTED.into());
            self.end_downs(restarted);
        }
        None
    }

    /// Restarts those of `names` that are down (undoing a crash or a power loss).
    pub(super) fn restart(&self, names: Vec<String>) {
        let restarted = self.restart_nodes(names);
        self.end_downs(restarted);
    }

    fn restart_nodes(&self, names: Vec<String>) -> Vec<String> {
        let names = self.stopper.defer_restarts(names);
        let mut nodes = self.nodes.lock().expect("nodes poisoned");
        names.into_iter().filter(|n| nodes.restart(n)).collect()
    }

    /// Traces the end of the faults that held `restarted` down, one event per kind.
    fn end_downs(&self, restarted: Vec<String>) {
        let mut by_kind: Vec<(FaultKind, Vec<String>)> = Vec::new();
        {
            let mut in_force = self.in_force();
            for name in restarted {
                let kind = in_force.down.remove(&name).unwrap_or(FaultKind::Crash);
                match by_kind.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, names)) => names.push(name),
                    None => by_kind.push((kind, vec![name])),
                }
            }
        }
        trace_ended(&self.recorder, by_kind, RESTARTED);
    }

    /// `pause`: the process stops without dying, as in a long GC pause.
    pub(super) fn pause(&mut self, target: &Target, now: &ClusterState) -> Option<Undo> {
        let names = self.resolve(target, now);
        let paused: Vec<String> = {
            let mut nodes = self.nodes.lock().expect("nodes poisoned");
            names.into_iter().filter(|n| nodes.pause(n)).collect()
        };
        self.in_force().paused.extend(paused.iter().cloned());
        self.note_if_nothing_taken(FaultKind::Pause, &paused);
        self.trace(FaultKind::Pause, paused.clone(), "process stopped (as in a long GC pause)".into());
        Some(Undo::Resume(paused))
    }

    /// `resume`: paused targets run again.
    pub(super) fn resume_fault(&mut self, target: &Target, now: &ClusterState) -> Option<Undo> {
        let names = self.resolve(target, now);
        let resumed = self.resume_nodes(names);
        if !resumed.is_empty() {
            self.trace(FaultKind::Resume, resumed.clone(), RESUMED.into());
            self.end_pauses(resumed);
        }
        None
    }

    /// Resumes those of `names` that are paused (undoing a pause).
    pub(super) fn resume(&self, names: Vec<String>) {
        let resumed = self.resume_nodes(names);
        self.end_pauses(resumed);
    }

    fn resume_nodes(&self, names: Vec<String>) -> Vec<String> {
        let mut nodes = self.nodes.lock().expect("nodes poisoned");
        names.into_iter().filter(|n| nodes.resume(n)).collect()
    }

    fn end_pauses(&self, resumed: Vec<String>) {
        if resumed.is_empty() {
            return;
        }
        {
            let mut in_force = self.in_force();
            for name in &resumed {
                in_force.paused.remove(name);
            }
        }
        trace_ended(&self.recorder, vec![(FaultKind::Pause, resumed)], RESUMED);
    }
}
