//! A producer process's pace: from its `rate_per_sec` ([`RateSchedule`]), the interval
//! between the records of the step in force and, for an asynchronous producer, how many
//! records one op groups.
//!
//! The step in force is the one of the moment a record is *due* (its place on the
//! schedule), not the moment it is sent: a producer that fell behind during a burst
//! (its ops waited for a slow broker) still owes the burst's records and sends them, as
//! an application whose input arrived at the burst's rate has them queued. A constant
//! rate computes the same interval and op size as it always did, once per op.

use super::WorkloadContext;
use crate::history::{Event, RunPhase};
use crate::scenario::RateSchedule;
use crate::sim::clock;
use madsim::time::Instant;
use std::time::Duration;

/// How many simulated milliseconds of sends one asynchronous op groups.
pub(super) const ASYNC_OP_WINDOW_MS: f64 = 200.0;

/// The pace of one producer process.
pub(super) struct Pacer {
    schedule: RateSchedule,
    /// When the workload started (the safety phase's start), which the steps' `at`
    /// count from, whenever this process (re)started.
    start: Instant,
}

/// The pace of the records due from one moment on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Pace {
    /// The time between two records.
    pub interval: Duration,
    /// Records per second.
    pub rate_per_sec: f64,
    /// How many records are due in this step from that moment until the next step
    /// begins (at least 1); `None` in the last step.
    pub until_next_step: Option<u64>,
}

impl Pace {
    /// How many records an asynchronous op groups: the records of
    /// [`ASYNC_OP_WINDOW_MS`] at this rate (so that an op spans about the same time at
    /// every rate, and the history's op count does not swell with the rate), but no
    /// record due in the next step (so that an op never straddles two steps: its sends
    /// keep one interval, and a burst begins and ends on time).
    pub fn async_op_size(&self) -> u64 {
        let window = ((self.rate_per_sec * ASYNC_OP_WINDOW_MS / 1000.0).ceil() as u64).max(1);
        self.until_next_step.map_or(window, |left| window.min(left))
    }
}

impl Pacer {
    /// The pace of a producer of `schedule` in the run of `ctx`.
    pub fn new(ctx: &WorkloadContext, schedule: &RateSchedule) -> Self {
        // A constant rate never asks when the workload started.
        let start = if schedule.is_constant() { clock::now() } else { workload_start(ctx) };
        Pacer { schedule: schedule.clone(), start }
    }

    /// The pace of the records due from `due` on.
    pub fn at(&self, due: Instant) -> Pace {
        let rate = self.schedule.at(due.saturating_duration_since(self.start));
        let interval = Duration::from_secs_f64(1.0 / rate.rate_per_sec.max(0.001));
        let until_next_step = rate.next_step_at.map(|next| {
            let left = (self.start + next).saturating_duration_since(due);
            (left.as_nanos().div_ceil(interval.as_nanos().max(1)) as u64).max(1)
        });
        Pace { interval, rate_per_sec: rate.rate_per_sec, until_next_step }
    }
}

/// When the safety phase began, from the runner's phase event in the trace: the origin
/// of the schedule's steps, the same for a producer restarted later.
fn workload_start(ctx: &WorkloadContext) -> Instant {
    let began_ns = ctx.recorder.with_trace(|events| {
        for e in events {
            if matches!(e.event, Event::Phase { name: RunPhase::Safety }) {
                return Some(e.time_ns);
            }
        }
        None
    });
    let now = clock::now();
    match began_ns {
        Some(ns) => now - Duration::from_nanos(ctx.recorder.now_ns().saturating_sub(ns)),
        None => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Recorder;

    fn burst() -> RateSchedule {
        let text = "seeds = [1]\nduration = \"20s\"\n[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\n\
                    rate_per_sec = [{ at = \"0s\", rate = 200 }, { at = \"5s\", rate = 20000 }, \
                    { at = \"8s\", rate = 200 }]\n";
        let scenario = crate::scenario::parse(text, std::path::Path::new("x.toml")).expect("valid");
        scenario.producers[0].rate_per_sec.clone()
    }

    #[test]
    fn a_constant_rate_keeps_one_interval_and_op_size() {
        madsim::runtime::Runtime::new().block_on(async {
            let (ctx, _phases) = WorkloadContext::new(Recorder::new());
            let pacer = Pacer::new(&ctx, &RateSchedule::constant(200.0));
            let pace = pacer.at(clock::now() + Duration::from_secs(100));
            assert_eq!(pace.interval, Duration::from_secs_f64(1.0 / 200.0));
            assert_eq!((pace.async_op_size(), pace.until_next_step), (40, None));
        });
    }

    #[test]
    fn a_schedule_counts_from_the_safety_phase_and_ops_stop_at_a_step() {
        madsim::runtime::Runtime::new().block_on(async {
            let recorder = Recorder::new();
            let (ctx, phases) = WorkloadContext::new(recorder.clone());
            madsim::time::sleep(Duration::from_secs(2)).await;
            recorder.trace("runner", Event::Phase { name: RunPhase::Safety });
            phases.announce(RunPhase::Safety);
            let start = clock::now();
            // A producer restarted 3 s into the workload keeps the workload's clock.
            madsim::time::sleep(Duration::from_secs(3)).await;
            let pacer = Pacer::new(&ctx, &burst());
            let at = |ms: u64| pacer.at(start + Duration::from_millis(ms));
            assert_eq!(at(0).rate_per_sec, 200.0);
            // 4.9 s: 100 ms left at 5 ms per record, 20 records, fewer than the window's 40.
            assert_eq!((at(4_900).until_next_step, at(4_900).async_op_size()), (Some(20), 20));
            assert_eq!((at(5_000).rate_per_sec, at(5_000).async_op_size()), (20_000.0, 4_000));
            assert_eq!(at(5_000).interval, Duration::from_micros(50));
            // 7.99 s: 10 ms of the burst left, 200 records.
            assert_eq!(at(7_990).async_op_size(), 200);
            assert_eq!((at(8_000).rate_per_sec, at(8_000).until_next_step), (200.0, None));
        });
    }
}
