//! `kafkasim compare FILE --vary KEY=V1,V2,... [--vary ...] [--set KEY=VALUE]
//! [--seeds A..B] [--jobs N] [--json]`: the same scenario under every combination of the
//! varied settings, over the same seeds, as one table: per combination, each anomaly
//! with the number of seeds showing it, the acknowledged throughput, and the longest
//! time a partition went without a live leader.
//!
//! `--vary kafka_version=0.10.2,0.11,2.0` is a time machine; `--vary acks=1,all --vary
//! min.insync.replicas=1,2` the durability table. Each combination is loaded as if run
//! with `--set KEY=VALUE` for each varied key, so an invalid combination is an error
//! naming the flag.

use super::load_with;
use super::measures::{acked_in_safety_per_sec, LatencyPercentiles, MachineLoad};
use crate::report::lag::BacklogSummary;
use crate::runner;
use crate::runner::sweep::{parallel_seeds, SeedRange};
use crate::scenario::{combinations, set_arguments, Dimension, Scenario, SetScope, Setting};
use crate::workload::LatencyDistribution;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The options of `compare`.
#[derive(Debug)]
pub struct CompareOptions<'a> {
    /// The settings to vary.
    pub vary: &'a [Dimension],
    /// Settings held fixed over every combination.
    pub settings: &'a [Setting],
    /// The seeds (default: the scenario's own).
    pub seeds: Option<&'a SeedRange>,
    /// Worker threads.
    pub jobs: usize,
    /// Print JSON instead of the table.
    pub json: bool,
}

/// One combination's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cell {
    /// The varied settings, in `--vary` order.
    pub varied: Vec<(String, String)>,
    /// Seeds run.
    pub seeds: usize,
    /// Per anomaly kind, the number of seeds showing it.
    pub anomalies: BTreeMap<String, usize>,
    /// Seeds in which a simulated node panicked.
    pub panics: usize,
    /// Acknowledged sends per simulated second of the safety phase, averaged over the
    /// seeds.
    pub acked_per_sec: f64,
    /// Sends that failed, summed over the seeds.
    pub failed_sends: u64,
    /// Sends whose outcome the producer never learned, summed over the seeds.
    pub unknown_sends: u64,
    /// In each seed, the longest span in which a partition had no live leader (to the end
    /// of the run if it never got one again; 0 without any), the median over the seeds:
    /// what a failover costs under these settings.
    pub median_longest_unavailable_ms: u64,
    /// What rebalances cost the scenario's consumer groups (medians over the seeds), if
    /// it has groups.
    pub group_costs: Option<GroupCosts>,
    /// How far the scenario's consumer groups fell behind (medians over the seeds), if a
    /// group committed offsets.
    pub backlog: Option<BacklogSummary>,
    /// The plain producers' sends acknowledged during the safety phase, by their
    /// callbacks' times, per second of it, averaged over the seeds
    /// ([`acked_in_safety_per_sec`]).
    pub callbacks_per_sec: f64,
    /// The plain producers' send latency percentiles over every seed's sends.
    pub send_latency: LatencyPercentiles,
    /// How busy the brokers' machines were, averaged over the seeds.
    pub machine: MachineLoad,
}

/// What rebalances cost a run's consumer groups, summed over its groups: the numbers to
/// compare rebalance protocols and assignors by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GroupCosts {
    /// Records a group processed more than once (`consume-duplicate` anomalies).
    pub reprocessed: u64,
    /// Partitions revoked (see [`crate::check::groups::OwnerlessTime::revoked`]).
    pub revoked: u64,
    /// Partition-milliseconds without an owner (see
    /// [`crate::check::groups::ownerless_time`]).
    pub ownerless_ms: u64,
}

impl GroupCosts {
    /// The costs in `outcome`, or `None` when it has no group.
    fn of(outcome: &runner::RunOutcome) -> Option<GroupCosts> {
        let groups = crate::check::groups::ownerless_time(&outcome.history);
        if groups.is_empty() {
            return None;
        }
        let reprocessed = outcome.anomalies.iter().filter(|a| a.kind == crate::check::AnomalyKind::ConsumeDuplicate);
        Some(GroupCosts {
            reprocessed: reprocessed.count() as u64,
            revoked: groups.iter().map(|g| g.revoked as u64).sum(),
            ownerless_ms: groups.iter().map(|g| g.total_ns / 1_000_000).sum(),
        })
    }

    /// Each cost's median over `runs` (those with groups), if any has groups.
    fn median_of(runs: impl Iterator<Item = Option<GroupCosts>>) -> Option<GroupCosts> {
        let runs: Vec<GroupCosts> = runs.flatten().collect();
        if runs.is_empty() {
            return None;
        }
        let each = |cost: fn(&GroupCosts) -> u64| median(runs.iter().map(cost).collect());
        Some(GroupCosts {
            reprocessed: each(|c| c.reprocessed),
            revoked: each(|c| c.revoked),
            ownerless_ms: each(|c| c.ownerless_ms),
        })
    }
}

/// What one seed of a cell keeps.
struct SeedSummary {
    kinds: Vec<&'static str>,
    acked: u64,
    failed: u64,
    unknown: u64,
    panicked: bool,
    longest_unavailable_ms: u64,
    group_costs: Option<GroupCosts>,
    backlog: Option<BacklogSummary>,
    send_latencies: LatencyDistribution,
    callbacks_per_sec: f64,
    machine: MachineLoad,
}

/// The longest span of `outcome` in which a partition had no live leader, 0 if none.
fn longest_unavailable_ms(outcome: &runner::RunOutcome) -> u64 {
    let run_end_ms = outcome.stats.simulated_ms;
    outcome.unavailability.iter().map(|s| s.until_ms.unwrap_or(run_end_ms).saturating_sub(s.from_ms)).max().unwrap_or(0)
}

/// The median of `values` (the lower middle one of an even count), 0 when empty.
fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

/// Runs `seeds` of `scenario` (already loaded with the combination's settings) and sums
/// them up.
pub fn run_cell(scenario: &Scenario, varied: &[Setting], seeds: &[u64], jobs: usize) -> Cell {
    let summarize = |seed| {
        let outcome = runner::run_seed(scenario, seed);
        let mut kinds: Vec<&'static str> = outcome.anomalies.iter().map(|a| a.kind.name()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let s = &outcome.stats;
        SeedSummary {
            kinds,
            acked: s.acked,
            failed: s.failed,
            unknown: s.unknown,
            panicked: outcome.panic.is_some(),
            longest_unavailable_ms: longest_unavailable_ms(&outcome),
            group_costs: GroupCosts::of(&outcome),
            backlog: BacklogSummary::of(&outcome.history),
            machine: MachineLoad::of(&outcome.history),
            callbacks_per_sec: acked_in_safety_per_sec(&outcome.history, &outcome.send_latencies),
            send_latencies: outcome.send_latencies,
        }
    };
    let runs = parallel_seeds(seeds, jobs, summarize, None, |_| {});
    let mut anomalies = BTreeMap::new();
    for kind in runs.iter().flat_map(|run| &run.kinds) {
        *anomalies.entry(kind.to_string()).or_insert(0) += 1;
    }
    let safety_secs = scenario.duration_ms as f64 / 1000.0;
    let acked: u64 = runs.iter().map(|run| run.acked).sum();
    Cell {
        varied: varied.iter().map(|s| (s.key.clone(), s.value.clone())).collect(),
        seeds: runs.len(),
        anomalies,
        panics: runs.iter().filter(|run| run.panicked).count(),
        acked_per_sec: acked as f64 / runs.len().max(1) as f64 / safety_secs,
        failed_sends: runs.iter().map(|run| run.failed).sum(),
        unknown_sends: runs.iter().map(|run| run.unknown).sum(),
        median_longest_unavailable_ms: median(runs.iter().map(|run| run.longest_unavailable_ms).collect()),
        group_costs: GroupCosts::median_of(runs.iter().map(|run| run.group_costs)),
        backlog: BacklogSummary::median_of(runs.iter().map(|run| run.backlog)),
        callbacks_per_sec: runs.iter().map(|run| run.callbacks_per_sec).sum::<f64>() / runs.len().max(1) as f64,
        send_latency: LatencyPercentiles::of(&LatencyDistribution::merged(runs.iter().map(|run| &run.send_latencies))),
        machine: MachineLoad::mean_of(&runs.iter().map(|run| run.machine).collect::<Vec<_>>()),
    }
}

/// What a cell shows, in a few words: `lost-write 4/10, unseen 2/10` or `none`.
pub fn cell_summary(cell: &Cell) -> String {
    let mut parts: Vec<String> = cell.anomalies.iter().map(|(k, n)| format!("{k} {n}/{}", cell.seeds)).collect();
    if cell.panics > 0 {
        parts.push(format!("panic {}/{}", cell.panics, cell.seeds));
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(", ")
    }
}

/// The header's seeds: a range when they are one (`seeds 1..=5`), else the list as the
/// scenario gives it (`seeds 2, 3, 4, 5, 1`: a lesson lists its report's seed first).
fn seeds_text(seeds: &[u64]) -> String {
    let consecutive = seeds.windows(2).all(|pair| pair[1] == pair[0] + 1);
    match seeds {
        [] => "no seeds".to_string(),
        [one] => format!("seed {one}"),
        [first, .., last] if consecutive => format!("seeds {first}..={last}"),
        _ => format!("seeds {}", seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// The table: one row per combination; with consumer groups, three more columns with
/// what rebalances cost them.
pub fn render_table(cells: &[Cell]) -> String {
    let Some(first) = cells.first() else { return String::new() };
    let keys: Vec<&str> = first.varied.iter().map(|(k, _)| k.as_str()).collect();
    let groups = cells.iter().any(|c| c.group_costs.is_some());
    let (group_headers, group_rule) = if groups {
        (" records processed twice | partitions revoked | partition-s without an owner (medians) |", "---:|---:|---:|")
    } else {
        ("", "")
    };
    let mut out = format!(
        "| {} | anomalies (seeds showing each) | acked/s | failed / unknown sends | longest without a leader (median) |{group_headers}\n",
        keys.join(" | ")
    );
    out += &format!("|{}---|---:|---:|---:|{group_rule}\n", "---|".repeat(keys.len()));
    for cell in cells {
        let values: Vec<&str> = cell.varied.iter().map(|(_, v)| v.as_str()).collect();
        let costs = match (groups, cell.group_costs) {
            (true, Some(c)) => format!(" {} | {} | {:.1} |", c.reprocessed, c.revoked, c.ownerless_ms as f64 / 1000.0),
            (true, None) => " - | - | - |".to_string(),
            (false, _) => String::new(),
        };
        out += &format!(
            "| {} | {} | {:.0} | {} / {} | {:.1} s |{costs}\n",
            values.join(" | "),
            cell_summary(cell),
            cell.acked_per_sec,
            cell.failed_sends,
            cell.unknown_sends,
            cell.median_longest_unavailable_ms as f64 / 1000.0
        );
    }
    out
}

/// With two varied settings, the grid: the first down, the second across.
pub fn render_grid(dimensions: &[Dimension], cells: &[Cell]) -> Option<String> {
    let [rows, columns] = dimensions else { return None };
    let mut out = format!("| {} \\ {} | {} |\n", rows.key, columns.key, columns.values.join(" | "));
    out += &format!("|---|{}\n", "---|".repeat(columns.values.len()));
    for (r, row_value) in rows.values.iter().enumerate() {
        let row = &cells[r * columns.values.len()..(r + 1) * columns.values.len()];
        let texts: Vec<String> = row.iter().map(cell_summary).collect();
        out += &format!("| {row_value} | {} |\n", texts.join(" | "));
    }
    Some(out)
}

/// The `--json` document.
#[derive(Serialize)]
struct CompareReport<'a> {
    scenario: &'a str,
    seeds: &'a [u64],
    fixed: Vec<String>,
    cells: &'a [Cell],
}

/// Runs the comparison; returns the exit code (0 whatever the runs found: comparing is
/// not judging), or the code of the first combination that does not load.
pub fn compare(file: &Path, options: CompareOptions<'_>) -> i32 {
    let combinations = combinations(options.vary);
    let mut loaded = Vec::new();
    for varied in &combinations {
        let settings: Vec<Setting> = options.settings.iter().chain(varied).cloned().collect();
        match load_with(file, &settings, SetScope::OneScenario) {
            Ok(scenario) => loaded.push((scenario, varied)),
            Err(code) => return code,
        }
    }
    let Some((base, _)) = loaded.first() else { return 0 };
    let seeds: Vec<u64> = options.seeds.map_or_else(|| base.seeds.clone(), |r| r.0.clone().collect());
    if !options.json {
        eprintln!("comparing {} over {} seeds, {} combinations", base.name, seeds.len(), loaded.len());
    }
    let cells: Vec<Cell> =
        loaded.iter().map(|(scenario, varied)| run_cell(scenario, varied, &seeds, options.jobs)).collect();
    if options.json {
        let fixed = options.settings.iter().map(ToString::to_string).collect();
        let report = CompareReport { scenario: &base.name, seeds: &seeds, fixed, cells: &cells };
        println!("{}", serde_json::to_string_pretty(&report).expect("the comparison serializes"));
        return 0;
    }
    let seed_text = seeds_text(&seeds);
    println!("{} ({seed_text}){}\n", base.name, set_arguments(options.settings));
    print!("{}", render_table(&cells));
    if let Some(grid) = render_grid(options.vary, &cells) {
        println!();
        print!("{grid}");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(text: &str) -> Dimension {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_names_a_range_or_the_seeds_in_their_order() {
        assert_eq!(seeds_text(&[1, 2, 3, 4, 5]), "seeds 1..=5");
        assert_eq!(seeds_text(&[2, 3, 4, 5, 1]), "seeds 2, 3, 4, 5, 1");
        assert_eq!(seeds_text(&[7]), "seed 7");
        assert_eq!(seeds_text(&[]), "no seeds");
    }

    #[test]
    fn dimensions_read_and_combine_first_slowest() {
        assert_eq!(dim("acks=1,all").values, ["1", "all"]);
        assert!("acks=1,,all".parse::<Dimension>().is_err() && "acks".parse::<Dimension>().is_err());
        let combos = combinations(&[dim("acks=1,all"), dim("min.insync.replicas=1,2")]);
        let text: Vec<String> =
            combos.iter().map(|c| c.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(
            text,
            [
                "acks=1 min.insync.replicas=1",
                "acks=1 min.insync.replicas=2",
                "acks=all min.insync.replicas=1",
                "acks=all min.insync.replicas=2"
            ]
        );
        assert_eq!(combinations(&[]), vec![Vec::<Setting>::new()]);
    }

    #[test]
    fn the_median_takes_the_lower_middle_and_is_zero_without_seeds() {
        assert_eq!(median(vec![9_000, 1_000, 7_000]), 7_000);
        assert_eq!(median(vec![4, 1, 3, 2]), 2);
        assert_eq!(median(Vec::new()), 0);
    }

    #[test]
    fn the_table_and_the_grid_show_each_cell() {
        let cell = |acks: &str, mir: &str, lost: usize| Cell {
            varied: vec![("acks".into(), acks.into()), ("min.insync.replicas".into(), mir.into())],
            seeds: 4,
            anomalies: if lost > 0 { BTreeMap::from([("lost-write".to_string(), lost)]) } else { BTreeMap::new() },
            panics: 0,
            acked_per_sec: 100.4,
            failed_sends: lost as u64,
            unknown_sends: 7,
            median_longest_unavailable_ms: 7_450,
            group_costs: None,
            backlog: None,
            callbacks_per_sec: 0.0,
            send_latency: LatencyPercentiles::default(),
            machine: MachineLoad::default(),
        };
        let cells = [cell("1", "1", 3), cell("1", "2", 2), cell("all", "1", 1), cell("all", "2", 0)];
        let table = render_table(&cells);
        assert!(table.starts_with(
            "| acks | min.insync.replicas | anomalies (seeds showing each) | acked/s | failed / unknown sends \
             | longest without a leader (median) |\n"
        ));
        assert!(table.contains("| 1 | 1 | lost-write 3/4 | 100 | 3 / 7 | 7.5 s |\n"), "{table}");
        assert!(table.contains("| all | 2 | none | 100 | 0 / 7 | 7.5 s |\n"), "{table}");
        let grid = render_grid(&[dim("acks=1,all"), dim("min.insync.replicas=1,2")], &cells).unwrap();
        assert!(grid.contains("| 1 | lost-write 3/4 | lost-write 2/4 |\n| all | lost-write 1/4 | none |\n"), "{grid}");
        assert!(render_grid(&[dim("acks=1,all")], &cells[..2]).is_none());
        // With groups, what their rebalances cost.
        let with_groups = Cell {
            group_costs: Some(GroupCosts { reprocessed: 40, revoked: 18, ownerless_ms: 3_550 }),
            ..cells[0].clone()
        };
        let table = render_table(&[with_groups, cells[1].clone()]);
        assert!(table.contains("| partitions revoked | partition-s without an owner (medians) |\n"), "{table}");
        assert!(table.contains("| 1 | 1 | lost-write 3/4 | 100 | 3 / 7 | 7.5 s | 40 | 18 | 3.5 |\n"), "{table}");
        assert!(table.contains("| 7.5 s | - | - | - |\n"), "{table}");
    }

    #[test]
    fn group_costs_take_each_median_over_the_seeds_with_groups() {
        let c = |reprocessed, revoked, ownerless_ms| Some(GroupCosts { reprocessed, revoked, ownerless_ms });
        let median = GroupCosts::median_of([c(1, 9, 300), None, c(5, 3, 100), c(3, 6, 200)].into_iter());
        assert_eq!(median, c(3, 6, 200));
        assert_eq!(GroupCosts::median_of([None, None].into_iter()), None);
    }
}
