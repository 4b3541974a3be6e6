//! The clients' retry backoff: `retry.backoff.ms` between attempts, fixed before Kafka
//! 3.7 and exponential from 3.7 on (KIP-580, KAFKA-9800: Kafka's
//! `common.utils.ExponentialBackoff` with `CommonClientConfigs.RETRY_BACKOFF_EXP_BASE`
//! 2 and `RETRY_BACKOFF_JITTER` 0.2, up to `retry.backoff.max.ms`).
//!
//! The jitter is drawn from the simulation's seeded RNG, so a run stays a function of
//! its seed; a fixed backoff draws nothing.

use madsim::rand::Rng;
use std::time::Duration;

/// `CommonClientConfigs.RETRY_BACKOFF_EXP_BASE`: each failed attempt doubles the wait.
pub const RETRY_BACKOFF_EXP_BASE: f64 = 2.0;

/// `CommonClientConfigs.RETRY_BACKOFF_JITTER`: the wait is the exponential term times a
/// factor drawn uniformly from [0.8, 1.2).
pub const RETRY_BACKOFF_JITTER: f64 = 0.2;

/// `retry.backoff.max.ms`'s default (Kafka 3.7+).
pub const DEFAULT_RETRY_BACKOFF_MAX_MS: u64 = 1_000;

/// The wait before another attempt, by how many attempts failed in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryBackoff {
    /// Before Kafka 3.7: `retry.backoff.ms`, whatever the attempt.
    Fixed {
        /// `retry.backoff.ms`.
        ms: u64,
    },
    /// Kafka 3.7+ (KIP-580): `retry.backoff.ms` × 2^attempts ± 20%, never above
    /// `retry.backoff.max.ms`.
    Exponential {
        /// `retry.backoff.ms`: the first wait, before jitter.
        base_ms: u64,
        /// `retry.backoff.max.ms`: the longest wait.
        max_ms: u64,
    },
}

impl RetryBackoff {
    /// The backoff of a client with `retry.backoff.ms` = `base_ms` and, from Kafka 3.7,
    /// `retry.backoff.max.ms` = `max_ms` (`None`: a release before 3.7, fixed).
    pub fn new(base_ms: u64, max_ms: Option<u64>) -> Self {
        match max_ms {
            None => RetryBackoff::Fixed { ms: base_ms },
            Some(max_ms) => RetryBackoff::Exponential { base_ms, max_ms },
        }
    }

    /// The first wait, before jitter: `retry.backoff.ms` (Kafka's `ExponentialBackoff`
    /// starts at `min(base, max)`).
    pub fn initial_ms(&self) -> u64 {
        match *self {
            RetryBackoff::Fixed { ms } => ms,
            RetryBackoff::Exponential { base_ms, max_ms } => base_ms.min(max_ms),
        }
    }

    /// The longest wait, before jitter, of a backoff that grows; `None` for a fixed one.
    pub fn max_ms(&self) -> Option<u64> {
        match *self {
            RetryBackoff::Fixed { .. } => None,
            RetryBackoff::Exponential { max_ms, .. } => Some(max_ms),
        }
    }

    /// Whether the wait grows with the attempts (Kafka 3.7+).
    pub fn is_exponential(&self) -> bool {
        matches!(self, RetryBackoff::Exponential { .. })
    }

    /// The wait after `attempts` failed attempts beyond the first (Kafka's
    /// `ExponentialBackoff.backoff(attempts)`: 0 for the first retry), its jitter drawn
    /// from the simulation's RNG.
    pub fn backoff(&self, attempts: u64) -> Duration {
        self.backoff_with(attempts, &mut madsim::rand::thread_rng())
    }

    /// [`backoff`](Self::backoff) with the jitter drawn from `rng`. `ExponentialBackoff`:
    /// the initial interval is `min(base, max)`; with no room to grow (`max <= base`)
    /// the wait is that interval, without jitter; otherwise the exponent stops at
    /// `log2(max / base)`, so the term stops at `max`, and the jittered wait is cut to
    /// `max` ("the jitter will never cause the backoff to exceed maxInterval").
    pub fn backoff_with(&self, attempts: u64, rng: &mut impl Rng) -> Duration {
        let initial = self.initial_ms();
        let max_ms = match *self {
            RetryBackoff::Fixed { .. } => return Duration::from_millis(initial),
            RetryBackoff::Exponential { max_ms, .. } => max_ms,
        };
        if max_ms <= initial {
            return Duration::from_millis(initial);
        }
        let exp_max = (max_ms as f64 / initial.max(1) as f64).ln() / RETRY_BACKOFF_EXP_BASE.ln();
        let term = initial as f64 * RETRY_BACKOFF_EXP_BASE.powf((attempts as f64).min(exp_max));
        let factor = rng.gen_range(1.0 - RETRY_BACKOFF_JITTER..1.0 + RETRY_BACKOFF_JITTER);
        Duration::from_millis(((factor * term) as u64).min(max_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn ms(d: Duration) -> u64 {
        d.as_millis() as u64
    }

    #[test]
    fn kip580_doubles_from_retry_backoff_ms_to_retry_backoff_max_ms_within_twenty_percent() {
        let backoff = RetryBackoff::new(100, Some(1_000));
        let mut rng = StdRng::seed_from_u64(7);
        for (attempts, term) in [(0, 100), (1, 200), (2, 400), (3, 800)] {
            for _ in 0..200 {
                let wait = ms(backoff.backoff_with(attempts, &mut rng));
                assert!((term * 8 / 10..term * 12 / 10).contains(&wait), "attempt {attempts}: {wait} ms, term {term}");
            }
        }
        // From the fourth retry the term is 1000 ms (2^log2(10)); the jitter never takes
        // the wait above retry.backoff.max.ms.
        let late: Vec<u64> = (0..400)
            .map(|_| {
                let attempts = rng.gen_range(4..50);
                ms(backoff.backoff_with(attempts, &mut rng))
            })
            .collect();
        assert!(late.iter().all(|w| (800..=1_000).contains(w)), "{late:?}");
        assert!(late.contains(&1_000), "the jitter above 1 is cut to the maximum");
        assert!(late.iter().any(|&w| w < 1_000), "the jitter below 1 shortens the wait");
    }

    #[test]
    fn the_jitter_spreads_the_waits_and_the_seed_fixes_them() {
        let backoff = RetryBackoff::new(100, Some(1_000));
        let draw = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..20).map(|_| ms(backoff.backoff_with(0, &mut rng))).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let waits = draw(3);
        assert!(waits.iter().any(|&w| w < 100) && waits.iter().any(|&w| w > 100), "{waits:?}");
    }

    #[test]
    fn before_kafka_3_7_the_backoff_is_fixed_and_draws_nothing() {
        let backoff = RetryBackoff::new(100, None);
        let mut rng = StdRng::seed_from_u64(1);
        let mut untouched = StdRng::seed_from_u64(1);
        for attempts in [0, 1, 5, 60] {
            assert_eq!(backoff.backoff_with(attempts, &mut rng), Duration::from_millis(100));
        }
        assert_eq!(rng.gen::<u64>(), untouched.gen::<u64>(), "no jitter was drawn");
        assert!(!backoff.is_exponential());
    }

    #[test]
    fn a_maximum_not_above_the_base_is_a_constant_wait_without_jitter() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(RetryBackoff::new(100, Some(100)).backoff_with(3, &mut rng), Duration::from_millis(100));
        assert_eq!(RetryBackoff::new(500, Some(200)).backoff_with(0, &mut rng), Duration::from_millis(200));
    }
}
