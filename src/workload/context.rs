//! What every workload process of a run shares: the recorder, the value allocator, the
//! run's phase as the runner announces it, the progress the runner waits on, and the
//! application faults in force.

use super::{AppFaults, Incarnation, ProcessIds, Progress};
use crate::client::producer::{Producer, ProducerConfig};
use crate::history::{Recorder, RunPhase};
use crate::protocol::{Request, Response};
use crate::sim::net::NodeNet;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::watch;

/// Shared among every workload process of a run.
#[derive(Clone)]
pub struct WorkloadContext {
    /// The run's recorder.
    pub recorder: Recorder,
    /// The next value to send: values are unique across the run.
    pub next_value: Arc<AtomicU64>,
    /// The run's phase, as the runner announces it: the one channel from the runner to
    /// the workload. Processes read it; none waits on it, so an announcement wakes no
    /// task (a wake-up would change the run's schedule).
    phase: watch::Receiver<RunPhase>,
    /// What the runner waits for in the liveness phase.
    pub progress: Progress,
    /// Application faults the nemesis put on consumers (by node name): stalls and
    /// clean departures, each with when it ends.
    pub app_faults: AppFaults,
    /// Process ids: a restarted client continues under a new one.
    pub processes: ProcessIds,
    /// Subscription changes the scenario's events ask of group members.
    pub subscriptions: super::Subscriptions,
    /// The plain producers' per-record send latencies.
    pub send_latencies: super::SendLatencies,
    /// Rewinds the scenario's events ask of consumers.
    pub rewinds: super::Rewinds,
}

/// The runner's end of the phase channel.
pub struct PhaseAnnouncer(watch::Sender<RunPhase>);

impl PhaseAnnouncer {
    /// Tells every workload process that the run is now in `phase`.
    pub fn announce(&self, phase: RunPhase) {
        self.0.send_replace(phase);
    }
}

impl WorkloadContext {
    /// A new producer on `net` whose named states (retries, epoch bumps) count in the
    /// run's coverage, and whose unfinished sends the liveness phase can ask about.
    pub fn producer(&self, net: NodeNet<Request, Response>, config: ProducerConfig) -> Producer {
        let producer = Producer::new(net, config);
        let recorder = self.recorder.clone();
        producer.set_probe(Arc::new(move |state| recorder.reached(state)));
        self.progress.watch_producer(producer.outlook());
        producer
    }

    /// A fresh context in the boot phase, and the runner's end of its phase channel.
    pub fn new(recorder: Recorder) -> (Self, PhaseAnnouncer) {
        let (announcer, phase) = watch::channel(RunPhase::Boot);
        let context = WorkloadContext {
            app_faults: AppFaults::new(recorder.clone()),
            recorder,
            next_value: Arc::new(AtomicU64::new(0)),
            phase,
            progress: Progress::default(),
            processes: ProcessIds::default(),
            subscriptions: super::Subscriptions::default(),
            send_latencies: super::SendLatencies::default(),
            rewinds: super::Rewinds::default(),
        };
        (context, PhaseAnnouncer(announcer))
    }

    /// The run's phase now.
    pub fn phase(&self) -> RunPhase {
        *self.phase.borrow()
    }

    /// This start's incarnation of the client booted as process `initial`. A kill
    /// counts as a crash until the run reaches `over`: the liveness phase for producers
    /// and standalone consumers, the shutdown for group members (which keep consuming
    /// through the liveness phase so that the runner can see their groups catch up).
    pub(super) fn incarnation(&self, initial: u64, over: RunPhase) -> Incarnation {
        let process = self.processes.start(initial);
        let phase = self.phase.clone();
        let ended = move || *phase.borrow() >= over;
        Incarnation::new(self.recorder.clone(), process, Box::new(ended), self.progress.clone())
    }

    /// Whether the safety phase is over: producers and standalone consumers stop.
    pub(super) fn safety_over(&self) -> bool {
        self.phase() >= RunPhase::Liveness
    }

    /// Whether the run is over: group members stop.
    pub(super) fn run_over(&self) -> bool {
        self.phase() >= RunPhase::Shutdown
    }

    /// Waits while the nemesis stalls the consumer `name`.
    pub(super) async fn wait_while_stalled(&self, name: &str) {
        while let Some(until) = self.app_faults.active(name, super::AppFault::Stall) {
            madsim::time::sleep_until(until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpFn;

    #[test]
    fn a_kill_is_a_crash_only_before_the_phase_that_ends_the_clients_run() {
        madsim::runtime::Runtime::new().block_on(async {
            let recorder = Recorder::new();
            let (context, phases) = WorkloadContext::new(recorder.clone());
            assert_eq!(context.phase(), RunPhase::Boot);
            phases.announce(RunPhase::Safety);
            assert!(!context.safety_over());
            drop(context.incarnation(0, RunPhase::Liveness));
            let crashes = || recorder.snapshot().ops.iter().filter(|o| o.f == OpFn::Crash).count();
            assert_eq!(crashes(), 2, "a crash is an invoke and an info");

            phases.announce(RunPhase::Liveness);
            assert!(context.safety_over() && !context.run_over());
            drop(context.incarnation(1, RunPhase::Liveness));
            assert_eq!(crashes(), 2, "a producer killed after the safety phase did not crash");
            drop(context.incarnation(2, RunPhase::Shutdown));
            assert_eq!(crashes(), 4, "a group member still works in the liveness phase");

            phases.announce(RunPhase::Shutdown);
            assert!(context.run_over());
            drop(context.incarnation(3, RunPhase::Shutdown));
            assert_eq!(crashes(), 4);
        });
    }
}
