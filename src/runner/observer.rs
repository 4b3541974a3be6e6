//! What the simulation knows of the cluster's state while a run goes: the trace folded
//! into a [`ClusterState`], incrementally (each look applies only the events traced
//! since the last). The nemesis uses it to resolve targets such as "the leader of
//! orders-0" when a fault fires, and the liveness phase to see whether the cluster has
//! recovered. It never reads a node's memory.

use crate::history::{ClusterState, Recorder};
use std::sync::{Arc, Mutex, MutexGuard};

/// The run's cluster state as the trace tells it; clones share it.
#[derive(Clone)]
pub struct Observer {
    recorder: Recorder,
    folded: Arc<Mutex<Folded>>,
}

/// The state and how many trace events it has applied.
#[derive(Default)]
pub struct Folded {
    state: ClusterState,
    applied: usize,
}

impl std::ops::Deref for Folded {
    type Target = ClusterState;

    fn deref(&self) -> &ClusterState {
        &self.state
    }
}

impl Observer {
    /// An observer of the run `recorder` records.
    pub fn new(recorder: Recorder) -> Self {
        Observer { recorder, folded: Arc::default() }
    }

    /// The cluster state after every event traced so far.
    pub fn now(&self) -> MutexGuard<'_, Folded> {
        let mut folded = self.folded.lock().expect("observer poisoned");
        let Folded { state, applied } = &mut *folded;
        self.recorder.with_trace_since(*applied, |events| {
            for event in events {
                state.apply(&event);
                *applied += 1;
            }
        });
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ElectionReason, Event};

    fn election(leader: u32, leader_epoch: u32) -> Event {
        Event::LeaderElection {
            tp: "orders-0".into(),
            leader: Some(leader),
            leader_epoch,
            partition_epoch: u64::from(leader_epoch),
            isr: vec![leader],
            unclean: false,
            reason: ElectionReason::BrokerFailure,
        }
    }

    #[test]
    fn each_look_applies_the_events_traced_since_the_last() {
        madsim::runtime::Runtime::new().block_on(async {
            let recorder = Recorder::new();
            let observer = Observer::new(recorder.clone());
            assert!(observer.now().partition("orders-0").is_none());
            recorder.trace("broker-1", election(1, 1));
            assert_eq!(observer.now().partition("orders-0").and_then(|p| p.leader), Some(1));
            // Far more events than one chunk of the recorder's trace.
            for epoch in 2..40_000 {
                recorder.trace("broker-1", election(epoch % 3 + 1, epoch));
            }
            let now = observer.now();
            assert_eq!(now.partition("orders-0").map(|p| p.leader_epoch), Some(39_999));
            assert_eq!(
                now.partition("orders-0").and_then(|p| p.leader),
                Some(1),
                "epoch 39_999 elected broker 39_999 % 3 + 1"
            );
        });
    }
}
