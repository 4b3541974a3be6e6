//! The memory bound: an estimate, made from the scenario before anything runs, of the
//! memory one run will hold, and the refusal of a run that cannot fit the budget.
//!
//! A run keeps everything it records until the checkers have read it: every history op,
//! every trace event and every replica's log. Nothing in a scenario file stops
//! `duration = "8760h"` or a thousand producers from growing to gigabytes, and the
//! process would only die (or swap the machine) after minutes. So every command that
//! runs a scenario estimates it first and refuses what is over the budget.
//!
//! # The estimate
//!
//! `bytes = BASE_BYTES + records × (HISTORY_BYTES_PER_RECORD + LOG_BYTES_PER_RECORD_REPLICA
//! × replication.factor) + clients × CLIENT_BYTES`, where `records` sums over the producer
//! processes the records their `rate_per_sec` (step schedules integrated) asks for over
//! the safety phase, capped by `records`. Producers send only in the safety phase; the
//! liveness phase heals and drains, so its cost (the drain's polls) is per record and is
//! inside the measured per-record constant. With `[swarm]`, the estimate takes the largest
//! value each bound can draw (producers, rate, replication factor), so that no seed can
//! exceed it.
//!
//! Simplified: pipelines and delay-queue forwarders produce again what they consume (at
//! most the producers' records once more) and are counted as clients only; record sizes
//! (`value_bytes`) are not counted (records carry their size, not their bytes).
//! Partitions cost `PARTITION_REPLICA_BYTES` per replica of every topic's partitions
//! (the largest count and replication factor `[swarm]` can draw); Kafka's internal topics
//! are inside `BASE_BYTES`.
//!
//! `suite` and `sweep` run up to `--jobs` runs at once, so the budget bounds their sum:
//! they run only as many side by side as fit ([`jobs_within`]), which changes no result
//! (a run does not depend on the worker that runs it).
//!
//! # How the constants were measured
//!
//! Peak resident memory (`VmHWM`, read by `/usr/bin/time -f %M`) of `kafkasim run` on a
//! release build, on a small scenario (3 brokers, one topic of 3 partitions, one async
//! producer, one assign consumer), 2026-12-05:
//!
//! | run | records | replication.factor | peak |
//! |---|---|---|---|
//! | 1 producer, 1000/s, 10 s | 8,000 | 3 | 24.2 MiB |
//! | 1 producer, 1000/s, 100 s | 82,200 | 3 | 104.0 MiB |
//! | 1 producer, 1000/s, 100 s | 94,400 | 1 | 78.7 MiB |
//! | 10 producers, 1/s, 10 s | 100 | 3 | 15.0 MiB |
//! | 100 producers, 1/s, 10 s | 1,000 | 3 | 28.0 MiB |
//! | 1000 producers, 1/s, 10 s | 10,000 | 3 | 288.6 MiB |
//!
//! | 1 producer, 10/s, 10 s, 1,000 partitions (2026-12-06) | 100 | 3 | 30.1 MiB |
//! | 1 producer, 10/s, 10 s, 10 partitions (2026-12-06) | 100 | 3 | 14.6 MiB |
//!
//! The 10x run gives about 1,130 bytes a record at replication factor 3 and 710 at 1,
//! so about 215 bytes a replica's log and 500 for the history, trace and clients; the
//! producer counts give 150 to 280 kilobytes a client (growing with the count: each
//! client's metadata and connections); the 2,970 more partition replicas cost 15.5 MiB,
//! about 5.5 kilobytes each. The constants below round these up.

use crate::scenario::Scenario;

/// What every run holds before its first record: the simulated nodes, the runtime, the
/// binary (measured 15 MiB for a small cluster; rounded up).
pub const BASE_BYTES: u64 = 16 << 20;
/// The history ops, trace events and client state one record costs, whatever its
/// replication (measured about 500 bytes).
pub const HISTORY_BYTES_PER_RECORD: u64 = 512;
/// What one record costs in one replica's log (measured about 215 bytes).
pub const LOG_BYTES_PER_RECORD_REPLICA: u64 = 256;
/// What one client process costs (measured 150 to 280 kilobytes).
pub const CLIENT_BYTES: u64 = 300 << 10;
/// What one replica of one partition costs with no records: its log, leader epoch cache,
/// fetcher and the metadata every node keeps of it (measured about 5.5 kilobytes).
pub const PARTITION_REPLICA_BYTES: u64 = 6 << 10;
/// The budget without `--memory-limit-mb`: 8 GiB, or the machine's total memory
/// (`MemTotal` in /proc/meminfo) when that is smaller.
pub const DEFAULT_BUDGET_BYTES: u64 = 8 << 30;

/// The estimated memory of one run of a scenario, with what it is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// The records the producers are asked for over the safety phase.
    pub records: f64,
    /// The client processes: producers, consumers, pipelines, forwarders.
    pub clients: u64,
    /// The replicas of every topic's partitions.
    pub partition_replicas: u64,
    /// The estimated peak memory, in bytes.
    pub bytes: u64,
}

/// The largest value a `[swarm]` bound can draw, else the file's.
fn drawn_max<T: Copy>(bound: Option<(T, T)>, file: T) -> T {
    bound.map_or(file, |(_, hi)| hi)
}

/// Estimates the memory one run of `scenario` (any of its seeds) holds at its peak.
pub fn estimate(scenario: &Scenario) -> MemoryEstimate {
    let swarm = scenario.swarm.as_ref();
    let mut records = 0.0;
    let mut record_bytes = 0.0;
    let mut producers = 0u64;
    for spec in &scenario.producers {
        let count = drawn_max(swarm.and_then(|s| s.producers), spec.count);
        let per_producer = match swarm.and_then(|s| s.rate_per_sec) {
            Some((_, hi)) => hi * scenario.duration_ms as f64 / 1000.0,
            None => spec.rate_per_sec.records_over(scenario.duration_ms),
        };
        let per_producer = spec.records.map_or(per_producer, |cap| per_producer.min(cap as f64));
        let rf = scenario.topic(&spec.topic).map_or(1, |t| t.replication_factor);
        let rf = drawn_max(swarm.and_then(|s| s.replication_factor), rf);
        let total = per_producer * f64::from(count);
        records += total;
        record_bytes += total * (HISTORY_BYTES_PER_RECORD as f64 + LOG_BYTES_PER_RECORD_REPLICA as f64 * f64::from(rf));
        producers += u64::from(count);
    }
    let others = scenario.consumer_instances().len()
        + scenario.pipeline_instances().len()
        + scenario.forwarder_instances().len();
    let clients = producers + others as u64;
    let replicas: u64 = scenario
        .topics
        .iter()
        .map(|t| {
            let partitions = drawn_max(swarm.and_then(|s| s.partitions), t.partitions);
            u64::from(partitions) * u64::from(drawn_max(swarm.and_then(|s| s.replication_factor), t.replication_factor))
        })
        .sum();
    let bytes = BASE_BYTES as f64
        + record_bytes
        + (clients * CLIENT_BYTES) as f64
        + replicas.saturating_mul(PARTITION_REPLICA_BYTES) as f64;
    MemoryEstimate { records, clients, partition_replicas: replicas, bytes: bytes.min(u64::MAX as f64) as u64 }
}

/// The budget without `--memory-limit-mb`: [`DEFAULT_BUDGET_BYTES`], or the machine's
/// total memory when it has less.
pub fn default_budget_bytes() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kib| kib << 10)
    });
    total.map_or(DEFAULT_BUDGET_BYTES, |t| t.min(DEFAULT_BUDGET_BYTES))
}

/// How many runs of `scenario` fit side by side in `budget_bytes`: `jobs`, or fewer when
/// that many would need more (at least 1; one run alone is checked by [`check`]).
pub fn jobs_within(scenario: &Scenario, budget_bytes: u64, jobs: usize) -> usize {
    let per_run = estimate(scenario).bytes.max(1);
    let fit = usize::try_from(budget_bytes / per_run).unwrap_or(usize::MAX);
    jobs.min(fit).max(1)
}

/// Mebibytes, rounded up.
fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Refuses a scenario whose estimate is over `budget_bytes`, with a message naming the
/// estimate, the budget and the settings that make it smaller.
pub fn check(scenario: &Scenario, budget_bytes: u64) -> Result<MemoryEstimate, String> {
    let estimate = estimate(scenario);
    if estimate.bytes <= budget_bytes {
        return Ok(estimate);
    }
    Err(format!(
        "{}: this run would need about {} MiB of memory ({:.0} records over duration = {}, {} clients, \
         {} partition replicas), more than the budget of {} MiB; shorten `duration`, lower `rate_per_sec` \
         or the producers' `count` (or cap them with `records`), use fewer `partitions`, or raise the budget \
         with --memory-limit-mb",
        scenario.path.display(),
        mib(estimate.bytes),
        estimate.records,
        crate::scenario::format_duration_ms(scenario.duration_ms),
        estimate.clients,
        estimate.partition_replicas,
        mib(budget_bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(duration: &str, rate: u32, count: u32) -> Scenario {
        let text = format!(
            "seeds = [1]\nduration = \"{duration}\"\n[cluster]\nbrokers = 3\n[[topics]]\nname = \"orders\"\n\
             partitions = 3\n\"replication.factor\" = 3\n[[producers]]\ncount = {count}\ntopic = \"orders\"\n\
             rate_per_sec = {rate}\n[[consumers]]\ntopic = \"orders\"\n"
        );
        crate::scenario::parse(&text, std::path::Path::new("big.toml")).expect("a valid scenario")
    }

    #[test]
    fn a_small_scenario_fits_the_default_budget() {
        let e = check(&scenario("10s", 1000, 1), DEFAULT_BUDGET_BYTES).expect("fits");
        assert_eq!(e.records, 10_000.0);
        assert_eq!(e.clients, 2);
        // 16 MiB + 10,000 × (512 + 3 × 256) + 2 × 300 KiB + 3 × 3 × 6 KiB: the measured
        // 24 MiB, rounded up.
        assert_eq!(e.bytes, (16 << 20) + 10_000 * 1280 + 2 * (300 << 10) + 9 * (6 << 10));
    }

    #[test]
    fn a_year_at_300_per_second_is_refused_naming_the_settings() {
        let error = check(&scenario("8760h", 300, 1), DEFAULT_BUDGET_BYTES).expect_err("a year cannot fit");
        for part in ["big.toml", "MiB of memory", "budget of 8192 MiB", "`duration`", "`rate_per_sec`", "`count`"] {
            assert!(error.contains(part), "{part}: {error}");
        }
        assert!(error.contains("9460800000 records"), "{error}");
    }

    #[test]
    fn partitions_cost_memory_without_records() {
        let few = estimate(&scenario("1s", 1, 1));
        let text = scenario("1s", 1, 1).source.replace("partitions = 3", "partitions = 1000");
        let many = estimate(&crate::scenario::parse(&text, std::path::Path::new("big.toml")).unwrap());
        assert_eq!(many.bytes - few.bytes, 997 * 3 * PARTITION_REPLICA_BYTES);
    }

    #[test]
    fn many_clients_cost_memory_without_records() {
        let few = estimate(&scenario("1s", 1, 10));
        let many = estimate(&scenario("1s", 1, 1000));
        assert_eq!(many.bytes - few.bytes, 990 * CLIENT_BYTES + 990 * 1280);
        assert!(check(&scenario("1s", 1, 1000), 100 << 20).is_err());
    }

    #[test]
    fn side_by_side_runs_are_limited_to_what_fits_the_budget() {
        let heavy = scenario("100s", 1000, 1);
        let per_run = estimate(&heavy).bytes;
        assert_eq!(jobs_within(&heavy, per_run * 3 + 1, 8), 3);
        assert_eq!(jobs_within(&heavy, per_run * 3 + 1, 2), 2, "never more than asked");
        assert_eq!(jobs_within(&heavy, per_run / 2, 4), 1, "one run is check's to judge");
    }

    #[test]
    fn the_default_budget_is_at_most_8_gib() {
        let budget = default_budget_bytes();
        assert!(budget > 0 && budget <= DEFAULT_BUDGET_BYTES);
    }
}
