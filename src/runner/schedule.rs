//! The fault schedule of the safety phase: fires each `[[faults]]` entry (and each fault
//! the nemesis drew) at its time, arms the ones that wait for a trace event, and undoes
//! timed faults when their duration ends. Times are relative to the safety phase's start.

use super::nemesis::{Nemesis, Undo};
use crate::history::{Event, Recorder};
use crate::scenario::{FaultSpec, Trigger, TriggerEvent};
use crate::sim::clock;
use madsim::task::JoinHandle;
use madsim::time::{sleep, sleep_until, Instant};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The running schedule: its own task and the faults armed on a trigger, each on its own
/// task. Stopping it at the end of the safety phase aborts them all, and with them every
/// undo still pending (the liveness phase heals everything anyway).
pub(super) struct FaultSchedule {
    task: JoinHandle<()>,
    armed: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FaultSchedule {
    /// Starts firing `faults` (sorted by time) relative to `start`.
    pub fn start(faults: Vec<FaultSpec>, nemesis: Arc<Mutex<Nemesis>>, start: Instant) -> Self {
        let armed: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let task = crate::sim::tasks::spawn(run(faults, nemesis, start, armed.clone()));
        FaultSchedule { task, armed }
    }

    /// Stops firing and undoing faults.
    pub fn stop(self) {
        self.task.abort();
        for task in self.armed.lock().expect("armed faults poisoned").drain(..) {
            task.abort();
        }
    }
}

/// Fires the faults at their times and the undos at theirs, in time order.
async fn run(
    faults: Vec<FaultSpec>,
    nemesis: Arc<Mutex<Nemesis>>,
    start: Instant,
    armed: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    // Pending undos, by due time; kept sorted so that they fire in order.
    let mut undos: Vec<(Instant, Undo)> = Vec::new();
    let mut faults = faults.into_iter().peekable();
    loop {
        let next_fault = faults.peek().map(|f| start + Duration::from_millis(f.at_ms));
        let next_undo = undos.first().map(|(at, _)| *at);
        let next = match (next_fault, next_undo) {
            (Some(f), Some(u)) => f.min(u),
            (Some(f), None) => f,
            (None, Some(u)) => u,
            (None, None) => return,
        };
        sleep_until(next).await;
        if next_undo == Some(next) {
            let (_, undo) = undos.remove(0);
            nemesis.lock().expect("nemesis poisoned").undo(undo);
            continue;
        }
        let fault = faults.next().expect("peeked");
        if let Some(trigger) = fault.trigger.clone() {
            let task = crate::sim::tasks::spawn(fire_on_trigger(nemesis.clone(), fault, trigger));
            armed.lock().expect("armed faults poisoned").push(task);
            continue;
        }
        let undo = nemesis.lock().expect("nemesis poisoned").fire(&fault);
        if let (Some(undo), Some(duration)) = (undo, fault.duration_ms) {
            undos.push((clock::now() + Duration::from_millis(duration), undo));
            undos.sort_by_key(|(at, _)| *at);
        }
    }
}

/// An armed fault: fires at the first matching trace event, then undoes itself after
/// its duration.
async fn fire_on_trigger(nemesis: Arc<Mutex<Nemesis>>, fault: FaultSpec, trigger: Trigger) {
    let recorder = nemesis.lock().expect("nemesis poisoned").recorder().clone();
    until_triggered(&recorder, &trigger).await;
    let undo = nemesis.lock().expect("nemesis poisoned").fire(&fault);
    if let (Some(undo), Some(duration)) = (undo, fault.duration_ms) {
        sleep(Duration::from_millis(duration)).await;
        nemesis.lock().expect("nemesis poisoned").undo(undo);
    }
}

/// Waits for the first trace event from now on that `trigger` names.
pub(super) async fn until_triggered(recorder: &Recorder, trigger: &Trigger) {
    let mut seen = recorder.trace_len();
    loop {
        let events = recorder.trace_since(seen).await;
        seen += events.len();
        if events.iter().any(|e| trigger_matches(trigger, &e.event)) {
            return;
        }
    }
}

/// Whether `event` is the one `trigger` waits for.
fn trigger_matches(trigger: &Trigger, event: &Event) -> bool {
    use TriggerEvent as T;
    let tp = match (trigger.event, event) {
        (T::Truncate, Event::Truncate { tp, .. })
        | (T::LeaderElection, Event::LeaderElection { tp, .. })
        | (T::IsrChange, Event::IsrChange { tp, .. })
        | (T::BecomeFollower, Event::BecomeFollower { tp, .. })
        | (T::BecomeLeader, Event::BecomeLeader { tp, .. }) => tp,
        _ => return false,
    };
    **tp == *trigger.tp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ElectionReason;

    #[test]
    fn a_trigger_fires_on_its_event_of_its_partition_only() {
        let trigger = Trigger { event: TriggerEvent::LeaderElection, tp: "orders-0".into() };
        let election = |tp: &str| Event::LeaderElection {
            tp: tp.into(),
            leader: None,
            leader_epoch: 3,
            partition_epoch: 0,
            isr: vec![],
            unclean: false,
            reason: ElectionReason::BrokerFailure,
        };
        assert!(trigger_matches(&trigger, &election("orders-0")));
        assert!(!trigger_matches(&trigger, &election("orders-1")));
        let isr =
            Event::IsrChange { tp: "orders-0".into(), leader: None, leader_epoch: 3, partition_epoch: 1, isr: vec![] };
        assert!(!trigger_matches(&trigger, &isr));
    }
}
