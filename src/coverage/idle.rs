//! Faults that fired but changed nothing: a crash of a node already down, a partition
//! of links no message crossed while it lasted, packet loss while no message was lost.
//! A sweep that counts faults fired overstates what it tested by those; `run`, `sweep`
//! and `suite` name them ([`IdleFaults`]). The nemesis records each when it can tell
//! (when the fault fires for a process fault, when it ends for a link or network
//! fault), beside the trace like the named states: recording one changes no run.
//!
//! Not judged: `slow-disk` and `cpu-steal` (no counter tells whether a slowed machine
//! did anything), `stall` and `leave` (the application's), `stuck-connection`, rolling
//! restarts and the undoing kinds. A link fault overlapping another on the same links
//! counts what either did, so an idle one under a busy one is not reported.

use crate::fault::FaultKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a fault changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Idleness {
    /// Every target was down already (crashed, powered off or stopped), or paused
    /// already for a pause: the fault took nothing down.
    TargetsAlreadyDown,
    /// No message crossed its links while it lasted: none was held, reordered or
    /// duplicated.
    NoMessageOnItsLinks,
    /// No message was lost while it lasted (`packet-loss`).
    NoMessageLost,
    /// No message was sent while it lasted (`latency`).
    NoMessageSent,
}

impl Idleness {
    /// Why, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Idleness::TargetsAlreadyDown => "every target was down already",
            Idleness::NoMessageOnItsLinks => "no message crossed its links",
            Idleness::NoMessageLost => "no message was lost",
            Idleness::NoMessageSent => "no message was sent",
        }
    }
}

/// One fault that fired but changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleFault {
    /// The fault's kind.
    pub kind: FaultKind,
    /// When it fired, in simulated nanoseconds since the run started.
    pub fired_ns: u64,
    /// Its targets as it resolved them (empty for network-wide faults and for process
    /// faults that found every target down).
    pub targets: Vec<String>,
    /// Why it changed nothing.
    pub why: Idleness,
}

/// The idle faults of many runs, counted by kind and reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdleFaults {
    /// Faults fired in all.
    pub fired: u64,
    /// Per (kind, reason), how many fired and changed nothing.
    pub idle: BTreeMap<(FaultKind, Idleness), u64>,
}

impl IdleFaults {
    /// Counts one run's faults: how many fired, and those that changed nothing.
    pub fn add(&mut self, fired: u64, idle: &[IdleFault]) {
        self.fired += fired;
        for fault in idle {
            *self.idle.entry((fault.kind, fault.why)).or_default() += 1;
        }
    }

    /// One line for a sweep's or a suite's summary, e.g. `faults that fired but changed
    /// nothing: 12 of 340 (crash 5: every target was down already; partition 7: no
    /// message crossed its links)`; `None` when no fault fired.
    pub fn line(&self) -> Option<String> {
        if self.fired == 0 {
            return None;
        }
        let total: u64 = self.idle.values().sum();
        let each: Vec<String> =
            self.idle.iter().map(|((kind, why), n)| format!("{kind} {n}: {}", why.describe())).collect();
        let detail = if each.is_empty() { String::new() } else { format!(" ({})", each.join("; ")) };
        Some(format!("faults that fired but changed nothing: {total} of {}{detail}", self.fired))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_faults_are_counted_by_kind_and_reason_over_runs() {
        let idle = |kind, why| IdleFault { kind, fired_ns: 1, targets: vec![], why };
        let mut all = IdleFaults::default();
        assert_eq!(all.line(), None, "no fault fired");
        all.add(3, &[]);
        assert_eq!(all.line().unwrap(), "faults that fired but changed nothing: 0 of 3");
        all.add(
            4,
            &[
                idle(FaultKind::Crash, Idleness::TargetsAlreadyDown),
                idle(FaultKind::Partition, Idleness::NoMessageOnItsLinks),
                idle(FaultKind::Crash, Idleness::TargetsAlreadyDown),
            ],
        );
        assert_eq!(
            all.line().unwrap(),
            "faults that fired but changed nothing: 3 of 7 (crash 2: every target was down already; \
             partition 1: no message crossed its links)"
        );
    }
}
