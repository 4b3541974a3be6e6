//! Faults in a consumer's application rather than its process or network: the nemesis's
//! `stall` and `leave`, which the group member's application loop obeys. A transactional
//! producer's application obeys `stall` too, in the middle of a transaction (see
//! `transactional`).

use crate::fault::FaultKind;
use crate::history::{Event, Recorder};
use crate::sim::clock;
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A fault in a consumer's application rather than its process or network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppFault {
    /// The application thread stops (a consumer's heartbeat thread, a producer's
    /// sender, carries on).
    Stall,
    /// The consumer closes cleanly and joins again later.
    Leave,
}

impl AppFault {
    /// The fault kind the nemesis fired.
    pub fn kind(self) -> FaultKind {
        match self {
            AppFault::Stall => FaultKind::Stall,
            AppFault::Leave => FaultKind::Leave,
        }
    }
}

/// The application faults in force, by consumer node name. The nemesis puts them on
/// (and traces that); the consumer's application, which is what wakes when one ends,
/// traces its end: the first time it looks after the fault's end. The runner has no
/// task of its own waking then, and adding one would change the run.
#[derive(Clone)]
pub struct AppFaults {
    faults: Arc<Mutex<BTreeMap<String, InForce>>>,
    recorder: Recorder,
}

/// One application fault in force.
struct InForce {
    fault: AppFault,
    until: Instant,
    /// Whether the application has seen it in force (and so acted on it).
    noticed: bool,
}

impl AppFaults {
    /// No faults yet; their ends are traced on `recorder`.
    pub fn new(recorder: Recorder) -> Self {
        AppFaults { faults: Arc::default(), recorder }
    }

    /// Puts `fault` on consumer `name` until `until`, replacing (and ending) any earlier one.
    pub fn set(&self, name: &str, fault: AppFault, until: Instant) {
        let replaced = self.lock().insert(name.to_string(), InForce { fault, until, noticed: false }).map(|f| f.fault);
        if let Some(replaced) = replaced {
            self.trace_end(name, replaced, "replaced by a later application fault");
        }
    }

    /// When `fault` on `name` ends, if it is in force now. A fault found over is
    /// forgotten and its end traced.
    pub fn active(&self, name: &str, fault: AppFault) -> Option<Instant> {
        let mut faults = self.lock();
        let entry = faults.get_mut(name)?;
        if clock::now() < entry.until {
            entry.noticed |= entry.fault == fault;
            return (entry.fault == fault).then_some(entry.until);
        }
        let over = faults.remove(name).expect("looked up");
        drop(faults);
        let detail = match (over.noticed, over.fault) {
            (false, _) => "over before the application noticed it",
            (true, AppFault::Stall) => "application thread runs again",
            (true, AppFault::Leave) => "joins its group again as a new member",
        };
        self.trace_end(name, over.fault, detail);
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, InForce>> {
        self.faults.lock().expect("app faults poisoned")
    }

    fn trace_end(&self, name: &str, fault: AppFault, detail: &str) {
        let event = Event::FaultEnded { kind: fault.kind(), targets: vec![name.to_string()], detail: detail.into() };
        self.recorder.trace("nemesis", event);
    }
}
