//! Machine faults: `slow-disk` and `cpu-steal`, which slow a broker's machine down (see
//! `sim::machine`) until their duration ends. The effects (queueing, timeouts, retries,
//! followers falling behind) come from the request pipeline's model, not from here.

use super::{trace_ended_in_force, FaultId, Nemesis, Undo};
use crate::fault::FaultKind;
use crate::history::ClusterState;
use crate::protocol::{NodeName, NodeRole};
use crate::scenario::Target;
use crate::sim::machine::Slowdown;

impl Nemesis {
    /// `slow-disk` (`kind` [`FaultKind::SlowDisk`]) or `cpu-steal`: the targeted brokers'
    /// machines run `factor` times slower at record writes, or at everything.
    pub(super) fn slow_down(
        &mut self,
        kind: FaultKind,
        target: &Target,
        factor: u64,
        now: &ClusterState,
    ) -> Option<Undo> {
        let brokers: Vec<String> = self
            .resolve(target, now)
            .into_iter()
            .filter(|n| NodeName::parse(n).is_some_and(|n| n.role == NodeRole::Broker))
            .collect();
        self.set_factor(kind, &brokers, factor);
        let id = self.in_force().start(kind, &brokers);
        let detail = match kind {
            FaultKind::SlowDisk => format!("writing records takes {factor}x as long"),
            _ => format!("every request, response and append takes {factor}x as long"),
        };
        self.trace(kind, brokers.clone(), detail);
        Some(Undo::RestoreSpeed(id, kind, brokers))
    }

    /// Undoes the machine fault `id` of `kind`: the brokers' machines run at full speed
    /// again in that respect.
    pub(super) fn restore_speed(&self, id: FaultId, kind: FaultKind, brokers: Vec<String>) {
        self.set_factor(kind, &brokers, 1);
        let ended = self.in_force().end(id).into_iter().collect();
        trace_ended_in_force(&self.recorder, &self.nodes, ended, "the machines run at full speed again");
    }

    /// Sets the factor `kind` slows (the disk's for `slow-disk`, the CPU's for
    /// `cpu-steal`) on each broker's machine, leaving the other as it is.
    fn set_factor(&self, kind: FaultKind, brokers: &[String], factor: u64) {
        for name in brokers {
            let machine = self.hardware.machine(name);
            let slowdown = machine.slowdown();
            machine.set_slowdown(match kind {
                FaultKind::SlowDisk => Slowdown { disk_factor: factor, ..slowdown },
                _ => Slowdown { cpu_factor: factor, ..slowdown },
            });
        }
    }
}
