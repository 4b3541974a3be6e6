//! The validated `rate_per_sec` of a `[[producers]]` entry: a constant rate, or a
//! schedule of steps (a burst is a step up and a step down).

use std::fmt;
use std::time::Duration;

/// One step of a [`RateSchedule`]: from `at_ms` after the workload starts (the start of
/// the safety phase, the clock of the faults' `at`) until the next step, each producer
/// of the entry sends `rate_per_sec` records per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStep {
    /// When the step begins, in milliseconds since the workload started (`at`).
    pub at_ms: u64,
    /// Records per second per producer from then on (`rate`, greater than 0).
    pub rate_per_sec: f64,
}

/// A producer's rate over the run (`rate_per_sec`): a plain number is one step at `0s`;
/// a list of `{ at, rate }` tables is a step function. The first step begins at 0, the
/// steps are in strictly increasing order of `at_ms`, and every rate is above 0 (the
/// scenario reader checks all three, with positions).
#[derive(Clone, Debug, PartialEq)]
pub struct RateSchedule {
    steps: Vec<RateStep>,
}

/// The rate in force at one moment, and when it next changes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateAt {
    /// Records per second per producer.
    pub rate_per_sec: f64,
    /// When the next step begins, since the workload started; `None` for the last step.
    pub next_step_at: Option<Duration>,
}

impl RateSchedule {
    /// A constant rate (`rate_per_sec = 100`).
    pub fn constant(rate_per_sec: f64) -> Self {
        RateSchedule { steps: vec![RateStep { at_ms: 0, rate_per_sec }] }
    }

    /// The schedule of `steps`, which must hold the invariants of the type: the reader
    /// validates them with positions first.
    pub(super) fn of_steps(steps: Vec<RateStep>) -> Self {
        debug_assert!(steps.first().is_some_and(|s| s.at_ms == 0), "the first step begins at 0");
        debug_assert!(steps.windows(2).all(|w| w[0].at_ms < w[1].at_ms), "steps in increasing order");
        RateSchedule { steps }
    }

    /// The steps, first (at 0) to last.
    pub fn steps(&self) -> &[RateStep] {
        &self.steps
    }

    /// Whether the rate never changes (a plain number, or a single step).
    pub fn is_constant(&self) -> bool {
        self.steps.len() == 1
    }

    /// The rate the workload starts with; for a constant schedule, the rate.
    pub fn initial_per_sec(&self) -> f64 {
        self.steps[0].rate_per_sec
    }

    /// The highest rate of any step.
    pub fn peak_per_sec(&self) -> f64 {
        self.steps.iter().map(|s| s.rate_per_sec).fold(0.0, f64::max)
    }

    /// The rate in force `since_start` after the workload started, and when it next changes.
    pub fn at(&self, since_start: Duration) -> RateAt {
        let ms = since_start.as_millis();
        let index = self.steps.iter().rposition(|s| u128::from(s.at_ms) <= ms).unwrap_or(0);
        RateAt {
            rate_per_sec: self.steps[index].rate_per_sec,
            next_step_at: self.steps.get(index + 1).map(|s| Duration::from_millis(s.at_ms)),
        }
    }

    /// How many records one producer is asked for over the first `run_ms` milliseconds.
    pub fn records_over(&self, run_ms: u64) -> f64 {
        let mut total = 0.0;
        for (i, step) in self.steps.iter().enumerate() {
            let end_ms = self.steps.get(i + 1).map_or(run_ms, |next| next.at_ms).min(run_ms);
            total += step.rate_per_sec * end_ms.saturating_sub(step.at_ms) as f64 / 1000.0;
        }
        total
    }
}

impl fmt::Display for RateSchedule {
    /// `200/s` for a constant rate; `200/s from 0s, 20000/s from 5s, 200/s from 8s` for
    /// a schedule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_constant() {
            return write!(f, "{}/s", self.initial_per_sec());
        }
        for (i, step) in self.steps.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{}/s from {}", step.rate_per_sec, super::values::format_duration_ms(step.at_ms))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burst() -> RateSchedule {
        RateSchedule::of_steps(vec![
            RateStep { at_ms: 0, rate_per_sec: 200.0 },
            RateStep { at_ms: 5_000, rate_per_sec: 20_000.0 },
            RateStep { at_ms: 8_000, rate_per_sec: 200.0 },
        ])
    }

    #[test]
    fn the_rate_in_force_is_the_last_step_begun() {
        let s = burst();
        let at = |ms| s.at(Duration::from_millis(ms));
        assert_eq!(at(0), RateAt { rate_per_sec: 200.0, next_step_at: Some(Duration::from_secs(5)) });
        assert_eq!(at(4_999).rate_per_sec, 200.0);
        assert_eq!(at(5_000), RateAt { rate_per_sec: 20_000.0, next_step_at: Some(Duration::from_secs(8)) });
        assert_eq!(at(7_999).rate_per_sec, 20_000.0);
        assert_eq!(at(8_000), RateAt { rate_per_sec: 200.0, next_step_at: None });
        assert_eq!(at(60_000).next_step_at, None);
        let constant = RateSchedule::constant(50.0);
        assert!(constant.is_constant() && !s.is_constant());
        assert_eq!(constant.at(Duration::from_secs(3)), RateAt { rate_per_sec: 50.0, next_step_at: None });
    }

    #[test]
    fn records_integrate_the_steps_over_the_run() {
        let s = burst();
        assert_eq!(s.records_over(10_000), 200.0 * 5.0 + 20_000.0 * 3.0 + 200.0 * 2.0);
        assert_eq!(s.records_over(6_000), 200.0 * 5.0 + 20_000.0);
        assert_eq!(s.records_over(2_000), 400.0);
        assert_eq!(RateSchedule::constant(2.5).records_over(4_000), 10.0);
        assert_eq!((s.initial_per_sec(), s.peak_per_sec()), (200.0, 20_000.0));
    }

    #[test]
    fn a_schedule_prints_its_steps_and_a_constant_its_rate() {
        assert_eq!(burst().to_string(), "200/s from 0s, 20000/s from 5s, 200/s from 8s");
        assert_eq!(RateSchedule::constant(2.5).to_string(), "2.5/s");
    }
}
