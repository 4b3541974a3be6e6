//! The plain producers' send latencies: per acknowledged record, from the application's
//! `send` to the moment the producer learned of the acknowledgement (the callback), as
//! Kafka's `ProducerPerformance` (`kafka-producer-perf-test`) measures them. The
//! experiments report their percentiles, and count the acknowledgements that came within
//! the workload's time; nothing in the history carries them, so they change no trace
//! hash.
//!
//! Simplified: transactional producers and pipelines record none (their sends complete
//! with their transaction, a different latency).

use madsim::time::Instant;
use std::sync::{Arc, Mutex};

/// Where a run's producers record their latencies, shared by every producer process:
/// a [`LatencyDistribution`] whose two columns are filled in acknowledgement order and
/// sorted in place by [`SendLatencies::take`] (one entry of 16 bytes a record, kept
/// once: the busiest runs acknowledge millions).
#[derive(Clone, Default)]
pub struct SendLatencies(Arc<Mutex<LatencyDistribution>>);

impl SendLatencies {
    /// Records one acknowledged send: sent at `sent`, acknowledged at `acknowledged`,
    /// which is `acked_at_ns` on the run's clock (`Recorder::ns_at`).
    pub fn record(&self, sent: Instant, acknowledged: Instant, acked_at_ns: u64) {
        let latency_ns = acknowledged.saturating_duration_since(sent).as_nanos() as u64;
        let mut recorded = self.0.lock().expect("the latency list is never poisoned");
        recorded.sorted_ns.push(latency_ns);
        recorded.acked_at_ns.push(acked_at_ns);
    }

    /// Every send recorded. (A radix sort: the busiest runs record millions.)
    pub fn take(&self) -> LatencyDistribution {
        let mut distribution = std::mem::take(&mut *self.0.lock().expect("the latency list is never poisoned"));
        radsort::sort(&mut distribution.sorted_ns);
        radsort::sort(&mut distribution.acked_at_ns);
        distribution
    }
}

/// Latencies, sorted, and their percentiles; and when each send was acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LatencyDistribution {
    sorted_ns: Vec<u64>,
    /// The callbacks' times in simulated nanoseconds since the run started, sorted.
    acked_at_ns: Vec<u64>,
}

impl LatencyDistribution {
    /// The distribution of `ns`, in any order (without acknowledgement times).
    pub fn of(mut ns: Vec<u64>) -> Self {
        ns.sort_unstable();
        LatencyDistribution { sorted_ns: ns, acked_at_ns: Vec::new() }
    }

    /// The latencies merged (the seeds of one experiment cell); the acknowledgement
    /// times, which belong to each run's clock, are not kept.
    pub fn merged<'a>(all: impl Iterator<Item = &'a LatencyDistribution>) -> Self {
        LatencyDistribution::of(all.flat_map(|d| d.sorted_ns.iter().copied()).collect())
    }

    /// How many latencies there are.
    pub fn count(&self) -> usize {
        self.sorted_ns.len()
    }

    /// How many sends were acknowledged in `from_ns..to_ns` of the run's clock.
    pub fn acked_between(&self, from_ns: u64, to_ns: u64) -> usize {
        self.acked_at_ns.partition_point(|&t| t < to_ns) - self.acked_at_ns.partition_point(|&t| t < from_ns)
    }

    /// The `fraction` percentile (0.99 for the 99th) in nanoseconds, `None` without
    /// latencies: the latency at index `⌊fraction × count⌋` of the sorted list, as
    /// `ProducerPerformance.percentiles` takes it.
    pub fn percentile_ns(&self, fraction: f64) -> Option<u64> {
        let index = ((fraction * self.sorted_ns.len() as f64) as usize).min(self.sorted_ns.len().checked_sub(1)?);
        Some(self.sorted_ns[index])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::clock;

    #[test]
    fn percentiles_index_the_sorted_latencies_as_the_perf_tool_does() {
        let d = LatencyDistribution::of((1..=1000).rev().collect());
        assert_eq!(d.percentile_ns(0.5), Some(501), "index 500 of 1..=1000");
        assert_eq!(d.percentile_ns(0.99), Some(991));
        assert_eq!(d.percentile_ns(0.999), Some(1000));
        assert_eq!(d.percentile_ns(1.0), Some(1000), "clamped to the last");
        assert_eq!(LatencyDistribution::default().percentile_ns(0.5), None);
        let merged =
            LatencyDistribution::merged([LatencyDistribution::of(vec![5, 1]), LatencyDistribution::of(vec![3])].iter());
        assert_eq!((merged.count(), merged.percentile_ns(0.5)), (3, Some(3)));
    }

    #[test]
    fn each_send_is_placed_on_the_runs_clock_when_its_callback_fired() {
        madsim::runtime::Runtime::new().block_on(async {
            let (latencies, recorder) = (SendLatencies::default(), crate::history::Recorder::new());
            madsim::time::sleep(std::time::Duration::from_millis(985)).await;
            let sent = clock::now();
            madsim::time::sleep(std::time::Duration::from_millis(10)).await;
            let acknowledged = clock::now();
            madsim::time::sleep(std::time::Duration::from_millis(5)).await;
            // On the run's clock the callbacks fired at 995 ms and 985 ms.
            latencies.record(sent, acknowledged, recorder.ns_at(acknowledged));
            latencies.record(sent, sent, recorder.ns_at(sent));
            let d = latencies.take();
            let latency_ns = acknowledged.duration_since(sent).as_nanos() as u64;
            assert_eq!((d.percentile_ns(0.0), d.percentile_ns(0.9)), (Some(0), Some(latency_ns)));
            // (madsim's timers add a few tens of nanoseconds to each sleep.)
            assert_eq!(d.acked_between(0, 980_000_000), 0);
            assert_eq!(d.acked_between(980_000_000, 990_000_000), 1, "the send acknowledged at once, at 985 ms");
            assert_eq!(d.acked_between(990_000_000, 1_000_000_000), 1, "the other, at 995 ms");
        });
    }
}
