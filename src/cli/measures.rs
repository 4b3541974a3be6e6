//! What `compare` and `experiment` measure in a run beyond its anomalies: the plain
//! producers' send latency percentiles, how full the leaders' batches were, and how
//! busy the busiest broker's threads were while the workload ran. The last two say
//! *why* a throughput stops growing: small batches (per-partition batching) or saturated
//! request handlers or network threads.

use crate::history::{Event, History, RunPhase};
use crate::protocol::{TopicAssignment, TopicPartition};
use crate::workload::LatencyDistribution;
use serde::Serialize;
use std::collections::BTreeMap;

/// Send latency percentiles in milliseconds, as `kafka-producer-perf-test` prints them
/// (50th, 95th, 99th, 99.9th); `None` without acknowledged sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencyPercentiles {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// 99.9th percentile.
    pub p999_ms: Option<f64>,
}

impl LatencyPercentiles {
    /// The percentiles of `latencies`.
    pub fn of(latencies: &LatencyDistribution) -> Self {
        let ms = |fraction| latencies.percentile_ns(fraction).map(|ns| ns as f64 / 1e6);
        LatencyPercentiles { p50_ms: ms(0.5), p95_ms: ms(0.95), p99_ms: ms(0.99), p999_ms: ms(0.999) }
    }
}

/// How the brokers' machines fared during the safety phase (the workload's time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct MachineLoad {
    /// The mean number of records in the batches leaders appended for the workload's
    /// topics (internal topics left out); 0 without any.
    pub records_per_batch: f64,
    /// The busiest broker's request handler utilisation over the safety phase, 0 to 1.
    pub handlers_busy: f64,
    /// The busiest broker's network thread utilisation over the safety phase, 0 to 1.
    pub network_busy: f64,
    /// The busiest link direction's utilisation over the safety phase, 0 to 1 (0 when
    /// the links are not limited).
    pub link_busy: f64,
    /// The busiest disk's write-back utilisation over the safety phase, 0 to 1 (0 when
    /// the disks are not limited).
    pub disk_busy: f64,
    /// The busiest broker's mean time a request waited in its request queue, in
    /// milliseconds (Kafka's `RequestQueueTimeMs`).
    pub queue_time_mean_ms: f64,
}

impl MachineLoad {
    /// The load recorded in `history`'s trace (the [`Event::BrokerLoad`] and
    /// [`Event::LinkLoad`] and [`Event::DiskLoad`] windows and the leader appends) within its safety phase.
    pub fn of(history: &History) -> Self {
        let (start_ns, end_ns) = safety_phase_ns(history);
        let span_ms = ((end_ns - start_ns) / 1_000_000).max(1) as f64;
        let safety = start_ns..end_ns;
        let in_safety = |window_start_ms: u64| safety.contains(&(window_start_ms * 1_000_000));
        let (mut batches, mut records) = (0u64, 0u64);
        let mut per_broker: BTreeMap<u32, BrokerSums> = BTreeMap::new();
        for e in &history.trace {
            match &e.event {
                Event::Append { tp, as_leader: true, values, .. }
                    if safety.contains(&e.time_ns) && !is_internal_partition(tp) =>
                {
                    batches += 1;
                    records += values.len() as u64;
                }
                Event::BrokerLoad {
                    broker,
                    window_start_ms,
                    window_ms,
                    requests,
                    queue_time_mean_us,
                    handler_busy_permille,
                    network_busy_permille,
                    ..
                } if in_safety(*window_start_ms) => {
                    let b = per_broker.entry(*broker).or_default();
                    b.handler_busy += u64::from(*handler_busy_permille) * window_ms;
                    b.network_busy += u64::from(*network_busy_permille) * window_ms;
                    b.requests += u64::from(*requests);
                    b.queue_time_us += u64::from(*requests) * queue_time_mean_us;
                }
                Event::LinkLoad {
                    broker,
                    window_start_ms,
                    window_ms,
                    inbound_busy_permille,
                    outbound_busy_permille,
                } if in_safety(*window_start_ms) => {
                    let b = per_broker.entry(*broker).or_default();
                    b.inbound_busy += u64::from(*inbound_busy_permille) * window_ms;
                    b.outbound_busy += u64::from(*outbound_busy_permille) * window_ms;
                }
                Event::DiskLoad { broker, window_start_ms, window_ms, write_back_busy_permille }
                    if in_safety(*window_start_ms) =>
                {
                    per_broker.entry(*broker).or_default().disk_busy +=
                        u64::from(*write_back_busy_permille) * window_ms;
                }
                _ => {}
            }
        }
        // Busy permille-milliseconds over the phase's milliseconds: a fraction.
        let busiest =
            |f: fn(&BrokerSums) -> u64| per_broker.values().map(f).max().unwrap_or(0) as f64 / 1000.0 / span_ms;
        let queue_us = per_broker.values().map(|b| b.queue_time_us.checked_div(b.requests).unwrap_or(0)).max();
        MachineLoad {
            records_per_batch: if batches == 0 { 0.0 } else { records as f64 / batches as f64 },
            handlers_busy: busiest(|b| b.handler_busy),
            network_busy: busiest(|b| b.network_busy),
            link_busy: busiest(|b| b.inbound_busy.max(b.outbound_busy)),
            disk_busy: busiest(|b| b.disk_busy),
            queue_time_mean_ms: queue_us.unwrap_or(0) as f64 / 1000.0,
        }
    }

    /// The mean of each figure over `runs` (a cell's seeds); the default without runs.
    pub fn mean_of(runs: &[MachineLoad]) -> Self {
        let n = runs.len().max(1) as f64;
        let mean = |f: fn(&MachineLoad) -> f64| runs.iter().map(f).sum::<f64>() / n;
        MachineLoad {
            records_per_batch: mean(|l| l.records_per_batch),
            handlers_busy: mean(|l| l.handlers_busy),
            network_busy: mean(|l| l.network_busy),
            link_busy: mean(|l| l.link_busy),
            disk_busy: mean(|l| l.disk_busy),
            queue_time_mean_ms: mean(|l| l.queue_time_mean_ms),
        }
    }
}

/// The plain producers' sends acknowledged while the workload ran (the safety phase),
/// per second of it, by their callbacks' times: what `kafka-producer-perf-test` calls
/// records/sec. Unlike a count of acknowledged ops, an op still open when the phase ends
/// counts for the part of it that was acknowledged in time.
pub fn acked_in_safety_per_sec(history: &History, latencies: &LatencyDistribution) -> f64 {
    let (start_ns, end_ns) = safety_phase_ns(history);
    latencies.acked_between(start_ns, end_ns) as f64 / ((end_ns - start_ns) as f64 / 1e9)
}

/// One broker's sums over the safety phase: busy permille-milliseconds of its handlers,
/// network threads, link directions and disk, and its requests and their queue time.
#[derive(Default)]
struct BrokerSums {
    handler_busy: u64,
    network_busy: u64,
    inbound_busy: u64,
    outbound_busy: u64,
    disk_busy: u64,
    requests: u64,
    queue_time_us: u64,
}

/// Whether a history partition name (`__consumer_offsets-3`) is an internal topic's.
fn is_internal_partition(tp: &str) -> bool {
    TopicAssignment::is_internal_name(TopicPartition::topic_of(tp))
}

/// The safety phase's start and end in simulated nanoseconds, from the trace's phase
/// events (the whole run when they are missing).
fn safety_phase_ns(history: &History) -> (u64, u64) {
    let start = history.phase_start_ns(RunPhase::Safety).unwrap_or(0);
    let last = history.trace.last().map_or(0, |e| e.time_ns);
    let end = history.phase_start_ns(RunPhase::Liveness).unwrap_or(last).max(start + 1);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::TraceEvent;
    use std::sync::Arc;

    fn at(time_ms: u64, event: Event) -> TraceEvent {
        TraceEvent { time_ns: time_ms * 1_000_000, node: Arc::from("broker-1"), event }
    }

    fn load(broker: u32, window_start_ms: u64, handler_busy_permille: u32, requests: u32) -> Event {
        Event::BrokerLoad {
            broker,
            window_start_ms,
            window_ms: 100,
            requests,
            queue_time_mean_us: 2_000,
            queue_time_max_us: 5_000,
            queue_depth_max: 3,
            handler_busy_permille,
            network_busy_permille: handler_busy_permille / 2,
        }
    }

    fn append(tp: &str, as_leader: bool, records: u64) -> Event {
        Event::Append {
            tp: Arc::from(tp),
            broker: 1,
            as_leader,
            leader_epoch: 0,
            base_offset: 0,
            values: (0..records).collect(),
        }
    }

    #[test]
    fn the_load_is_the_busiest_brokers_over_the_safety_phase_only() {
        let history = History {
            trace: vec![
                at(0, load(1, 0, 1000, 10)),
                at(1_000, Event::Phase { name: RunPhase::Safety }),
                // One second of safety phase: broker 1 fully busy for 200 ms of it,
                // broker 2 half busy for 100 ms.
                at(1_150, load(1, 1_000, 1000, 4)),
                at(1_250, load(1, 1_100, 1000, 4)),
                at(1_350, load(2, 1_200, 500, 8)),
                at(
                    1_350,
                    Event::LinkLoad {
                        broker: 2,
                        window_start_ms: 1_200,
                        window_ms: 100,
                        inbound_busy_permille: 300,
                        outbound_busy_permille: 900,
                    },
                ),
                at(1_400, append("orders-0", true, 10)),
                at(1_400, append("orders-0", false, 10)),
                at(1_500, append("orders-1", true, 20)),
                at(1_500, append("__consumer_offsets-7", true, 1)),
                at(2_000, Event::Phase { name: RunPhase::Liveness }),
                at(2_150, load(1, 2_000, 1000, 10)),
                at(2_200, append("orders-0", true, 1)),
            ]
            .into(),
            ..History::default()
        };
        let l = MachineLoad::of(&history);
        assert_eq!(l.records_per_batch, 15.0, "leaders' batches of the workload's topics: 10 and 20");
        assert!((l.handlers_busy - 0.2).abs() < 1e-9, "{l:?}");
        assert!((l.network_busy - 0.1).abs() < 1e-9, "{l:?}");
        assert!((l.link_busy - 0.09).abs() < 1e-9, "broker 2's outbound side, 90% for 100 ms: {l:?}");
        assert_eq!(l.queue_time_mean_ms, 2.0);
        let mean = MachineLoad::mean_of(&[l, MachineLoad::default()]);
        assert_eq!(mean.records_per_batch, 7.5);
    }

    #[test]
    fn percentiles_come_in_milliseconds_and_are_absent_without_sends() {
        let p = LatencyPercentiles::of(&LatencyDistribution::of((1..=1000).map(|i| i * 1_000_000).collect()));
        assert_eq!((p.p50_ms, p.p99_ms, p.p999_ms), (Some(501.0), Some(991.0), Some(1000.0)));
        assert_eq!(LatencyPercentiles::of(&LatencyDistribution::default()), LatencyPercentiles::default());
    }
}
