//! `kafkasim experiment FILE [--vary KEY=V1,V2,...]... [--set KEY=VALUE] [--seeds A..B]
//! [--jobs N] [--json] [--out DIR]`: a parameter sweep measured for capacity. Per
//! combination of the varied settings (from `--vary`, else the scenario's `[experiment]`
//! section), over the same seeds: the acknowledged throughput, the plain producers' send
//! latency percentiles (as `kafka-producer-perf-test` prints them), how full the leaders'
//! batches were and how busy the busiest broker's request handlers and network threads
//! were (why a throughput stops growing), and the anomalies. A Markdown table on
//! standard output; with `--out DIR`, also `DIR/NAME.md` and the plot `DIR/NAME.svg`.
//!
//! It is `compare` measured for capacity: the same combinations and runs
//! ([`compare::run_cell`]), another table, and a plot.

use super::compare::{self, cell_summary, Cell};
use super::{load_with, open_output, EXIT_USAGE};
use crate::report::plot::{line_plot, Panel, Series};
use crate::runner::sweep::SeedRange;
use crate::scenario::{combinations, set_arguments, Dimension, Scenario, SetScope, Setting};
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// The options of `experiment`.
#[derive(Debug)]
pub struct ExperimentOptions<'a> {
    /// The settings to vary; empty: the scenario's `[experiment]`.
    pub vary: &'a [Dimension],
    /// Settings held fixed over every combination.
    pub settings: &'a [Setting],
    /// The seeds (default: the `[experiment]` section's, else the scenario's).
    pub seeds: Option<&'a SeedRange>,
    /// Worker threads.
    pub jobs: usize,
    /// Print JSON instead of the table.
    pub json: bool,
    /// Where to write `NAME.md` and `NAME.svg`.
    pub out: Option<&'a Path>,
}

/// What the experiment runs: its dimensions and seeds, and where they came from.
struct Plan {
    vary: Vec<Dimension>,
    seeds: Vec<u64>,
    /// The line of each dimension in the file, when they come from `[experiment]`.
    lines: Option<Vec<usize>>,
}

/// The dimensions and seeds: the flags' where given, else the scenario's section's.
fn plan(file: &Path, base: &Scenario, options: &ExperimentOptions<'_>) -> Result<Plan, i32> {
    let section = base.experiment.as_ref();
    let (vary, lines) = if !options.vary.is_empty() {
        (options.vary.to_vec(), None)
    } else if let Some(section) = section {
        (section.vary.clone(), Some(section.vary_lines.clone()))
    } else {
        eprintln!(
            "error: {} has no [experiment] section; give the settings to vary with --vary KEY=V1,V2,... \
             (such as --vary partitions=1,4,16)",
            file.display()
        );
        return Err(EXIT_USAGE);
    };
    let seeds = match (options.seeds, section.and_then(|s| s.seeds.as_ref())) {
        (Some(range), _) => range.0.clone().collect(),
        (None, Some(seeds)) => seeds.clone(),
        (None, None) => base.seeds.clone(),
    };
    Ok(Plan { vary, seeds, lines })
}

/// Loads every combination; an error names the `[experiment]` entry it came from.
fn load_all(file: &Path, plan: &Plan, settings: &[Setting]) -> Result<Vec<(Scenario, Vec<Setting>)>, i32> {
    let mut loaded = Vec::new();
    for varied in combinations(&plan.vary) {
        let all: Vec<Setting> = settings.iter().chain(&varied).cloned().collect();
        match load_with(file, &all, SetScope::OneScenario) {
            Ok(scenario) => loaded.push((scenario, varied)),
            Err(code) => {
                if let Some(lines) = &plan.lines {
                    let entries: Vec<String> = plan
                        .vary
                        .iter()
                        .zip(lines)
                        .map(|(d, line)| format!("{}:{line} (`{d}`)", file.display()))
                        .collect();
                    eprintln!("note: the varied values come from [experiment] vary at {}", entries.join(", "));
                }
                return Err(code);
            }
        }
    }
    Ok(loaded)
}

/// Runs the experiment; returns the exit code (0 whatever the runs found).
pub fn experiment(file: &Path, options: ExperimentOptions<'_>) -> i32 {
    let base = match load_with(file, options.settings, SetScope::OneScenario) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    let plan = match plan(file, &base, &options) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let loaded = match load_all(file, &plan, options.settings) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let outputs = match options.out {
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return super::EXIT_OUTPUT;
            }
            let (md, svg) = (dir.join(format!("{}.md", base.name)), dir.join(format!("{}.svg", base.name)));
            match (open_output(&md), open_output(&svg)) {
                (Ok(m), Ok(s)) => Some(((m, md), (s, svg))),
                (Err(code), _) | (_, Err(code)) => return code,
            }
        }
        None => None,
    };
    eprintln!("experiment {}: {} combinations over {} seeds", base.name, loaded.len(), plan.seeds.len());
    let cells: Vec<Cell> = loaded
        .iter()
        .enumerate()
        .map(|(i, (scenario, varied))| {
            let cell = compare::run_cell(scenario, varied, &plan.seeds, options.jobs);
            let done = format!("[{}/{}] {}", i + 1, loaded.len(), set_arguments(varied).trim());
            eprintln!("  {done}: {:.0} records acknowledged per second", cell.callbacks_per_sec);
            cell
        })
        .collect();
    let command = command_line(file, &options, &plan);
    if options.json {
        let report = ExperimentReport { scenario: &base.name, command: &command, seeds: &plan.seeds, cells: &cells };
        println!("{}", serde_json::to_string_pretty(&report).expect("the experiment serializes"));
    } else {
        print!("{}", render_table(&cells));
        if let Some(backlog) = render_backlog_table(&cells) {
            print!("\n{backlog}");
        }
    }
    if let Some(((md_file, md_path), (svg_file, svg_path))) = outputs {
        let svg = render_plot(&plan.vary, &cells);
        let image = svg_path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let title = base.title.as_deref().unwrap_or(&base.name);
        let tables = match render_backlog_table(&cells) {
            Some(backlog) => format!("{}\n{backlog}", render_table(&cells)),
            None => render_table(&cells),
        };
        let markdown = format!("# {title}\n\nMeasured with `{command}`.\n\n{tables}\n![{}]({image})\n", base.name);
        for ((mut file, path), text) in [(md_file, md_path), (svg_file, svg_path)].into_iter().zip([markdown, svg]) {
            if let Err(e) = file.write_all(text.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return super::EXIT_OUTPUT;
            }
        }
    }
    0
}

/// The command that reproduces the experiment, for the written report.
fn command_line(file: &Path, options: &ExperimentOptions<'_>, plan: &Plan) -> String {
    let mut command = format!("kafkasim experiment {}", file.display());
    for d in options.vary {
        command += &format!(" --vary {d}");
    }
    command += &set_arguments(options.settings);
    match (options.seeds, plan.seeds.first(), plan.seeds.last()) {
        (Some(_), Some(first), Some(last)) => command + &format!(" --seeds {first}..={last}"),
        _ => command,
    }
}

/// The `--json` document.
#[derive(Serialize)]
struct ExperimentReport<'a> {
    scenario: &'a str,
    command: &'a str,
    seeds: &'a [u64],
    cells: &'a [Cell],
}

/// A latency in milliseconds, or `-` without acknowledged sends.
fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// The table: one row per combination.
pub fn render_table(cells: &[Cell]) -> String {
    let Some(first) = cells.first() else { return String::new() };
    let keys: Vec<&str> = first.varied.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = format!(
        "| {} | acked records/s | send latency p50 / p99 / p99.9 (ms) | records per batch | busiest broker: \
         handlers busy | network threads busy | link busy | disk busy | request queue time (ms) | failed / unknown sends | anomalies |\n",
        keys.join(" | ")
    );
    out += &format!("|{}---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n", "---|".repeat(keys.len()));
    for cell in cells {
        let values: Vec<&str> = cell.varied.iter().map(|(_, v)| v.as_str()).collect();
        let (l, m) = (&cell.send_latency, &cell.machine);
        out += &format!(
            "| {} | {:.0} | {} / {} / {} | {:.1} | {:.0}% | {:.0}% | {:.0}% | {:.0}% | {:.2} | {} / {} | {} |\n",
            values.join(" | "),
            cell.callbacks_per_sec,
            ms(l.p50_ms),
            ms(l.p99_ms),
            ms(l.p999_ms),
            m.records_per_batch,
            m.handlers_busy * 100.0,
            m.network_busy * 100.0,
            m.link_busy * 100.0,
            m.disk_busy * 100.0,
            m.queue_time_mean_ms,
            cell.failed_sends,
            cell.unknown_sends,
            cell_summary(cell)
        );
    }
    out
}

/// With consumer groups that commit, the second table: per combination, how far the
/// groups fell behind (medians over the seeds, lag summed over every group's
/// partitions; see [`BacklogSummary`](crate::report::lag::BacklogSummary)); `None`
/// without such groups.
pub fn render_backlog_table(cells: &[Cell]) -> Option<String> {
    let first = cells.first()?;
    cells.iter().any(|c| c.backlog.is_some()).then_some(())?;
    let keys: Vec<&str> = first.varied.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = format!(
        "| {} | consumer lag: peak (records) | lag when the workload stopped | records deleted unread | anomalies |\n",
        keys.join(" | ")
    );
    out += &format!("|{}---:|---:|---:|---|\n", "---|".repeat(keys.len()));
    for cell in cells {
        let values: Vec<&str> = cell.varied.iter().map(|(_, v)| v.as_str()).collect();
        let figures = cell.backlog.map_or_else(
            || "- | - | -".to_string(),
            |b| format!("{} | {} | {}", b.peak_lag, b.lag_at_workload_end, b.deleted_unread),
        );
        out += &format!("| {} | {figures} | {} |\n", values.join(" | "), cell_summary(cell));
    }
    Some(out)
}

/// The plot over the first varied setting: throughput, latency, batch size and the
/// busiest broker's utilisation; one line per combination of the other settings.
pub fn render_plot(vary: &[Dimension], cells: &[Cell]) -> String {
    let Some((first, rest)) = vary.split_first() else { return String::new() };
    let lines = rest.iter().map(|d| d.values.len()).product::<usize>().max(1);
    let other_names: Vec<String> = (0..lines)
        .map(|s| {
            let varied = cells.get(s).map_or(&[][..], |c| &c.varied[1..]);
            varied.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
        })
        .collect();
    // The cells are ordered with the first setting slowest: x-major, then the line.
    let column = |s: usize, value: fn(&Cell) -> Option<f64>| -> Vec<Option<f64>> {
        (0..first.values.len()).map(|x| cells.get(x * lines + s).and_then(value)).collect()
    };
    let series = |label: &str, value: fn(&Cell) -> Option<f64>| -> Vec<Series> {
        (0..lines)
            .map(|s| {
                let name = [label, other_names[s].as_str()].join(" ").trim().to_string();
                Series { name, values: column(s, value) }
            })
            .collect()
    };
    let panels = [
        Panel {
            title: "acknowledged records per second".into(),
            series: series("acked/s", |c| Some(c.callbacks_per_sec)),
        },
        Panel {
            title: "send latency (ms)".into(),
            series: [series("p50", |c| c.send_latency.p50_ms), series("p99", |c| c.send_latency.p99_ms)].concat(),
        },
        Panel {
            title: "records per batch (leaders' appends)".into(),
            series: series("records/batch", |c| Some(c.machine.records_per_batch)),
        },
        Panel {
            title: "busiest broker's threads, link and disk busy (%)".into(),
            series: [
                series("handlers", |c| Some(c.machine.handlers_busy * 100.0)),
                series("network threads", |c| Some(c.machine.network_busy * 100.0)),
                series("link", |c| Some(c.machine.link_busy * 100.0)),
                series("disk", |c| Some(c.machine.disk_busy * 100.0)),
            ]
            .concat(),
        },
    ];
    // With consumer groups that commit, how far they fell behind.
    let backlog: Vec<Panel> = cells
        .iter()
        .any(|c| c.backlog.is_some())
        .then(|| Panel {
            title: "consumer groups' lag and records deleted unread".into(),
            series: [
                series("peak lag", |c| c.backlog.map(|b| b.peak_lag as f64)),
                series("lag when the workload stopped", |c| c.backlog.map(|b| b.lag_at_workload_end as f64)),
                series("deleted unread", |c| c.backlog.map(|b| b.deleted_unread as f64)),
            ]
            .concat(),
        })
        .into_iter()
        .collect();
    line_plot(&first.key, &first.values, &[&panels[..], &backlog[..]].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::measures::{LatencyPercentiles, MachineLoad};
    use crate::report::lag::BacklogSummary;
    use std::collections::BTreeMap;

    fn cell(partitions: &str, acks: &str, acked_per_sec: f64) -> Cell {
        Cell {
            varied: vec![("partitions".into(), partitions.into()), ("acks".into(), acks.into())],
            seeds: 2,
            anomalies: BTreeMap::new(),
            panics: 0,
            acked_per_sec,
            callbacks_per_sec: acked_per_sec,
            failed_sends: 0,
            unknown_sends: 3,
            median_longest_unavailable_ms: 0,
            group_costs: None,
            backlog: None,
            send_latency: LatencyPercentiles {
                p50_ms: Some(4.0),
                p95_ms: Some(9.0),
                p99_ms: Some(12.5),
                p999_ms: Some(30.0),
            },
            machine: MachineLoad {
                records_per_batch: 16.0,
                handlers_busy: 0.42,
                network_busy: 0.1,
                link_busy: 0.5,
                disk_busy: 0.25,
                queue_time_mean_ms: 0.25,
            },
        }
    }

    #[test]
    fn a_row_per_combination_with_the_capacity_figures() {
        let table = render_table(&[cell("1", "1", 4_000.0), cell("1", "all", 3_000.4)]);
        assert!(table.starts_with("| partitions | acks | acked records/s | send latency p50 / p99 / p99.9 (ms) |"));
        assert!(
            table.contains(
                "| 1 | all | 3000 | 4.0 / 12.5 / 30.0 | 16.0 | 42% | 10% | 50% | 25% | 0.25 | 0 / 3 | none |\n"
            ),
            "{table}"
        );
    }

    #[test]
    fn with_groups_a_second_table_says_how_far_they_fell_behind() {
        assert_eq!(render_backlog_table(&[cell("1", "1", 10.0)]), None, "no group, no table");
        let behind = Cell {
            backlog: Some(BacklogSummary { peak_lag: 1843, lag_at_workload_end: 1648, deleted_unread: 2047 }),
            ..cell("2", "all", 300.0)
        };
        let table = render_backlog_table(&[behind.clone(), cell("6", "all", 300.0)]).unwrap();
        assert!(table.starts_with("| partitions | acks | consumer lag: peak (records) |"), "{table}");
        assert!(table.contains("| 2 | all | 1843 | 1648 | 2047 | none |\n"), "{table}");
        assert!(table.contains("| 6 | all | - | - | - | none |\n"), "{table}");
        let dims: Vec<Dimension> = ["partitions=2,6"].iter().map(|d| d.parse().unwrap()).collect();
        assert!(render_plot(&dims, &[behind.clone(), behind]).contains("<title>lag when the workload stopped"));
    }

    #[test]
    fn the_plot_has_a_line_per_value_of_the_other_settings() {
        let dims: Vec<Dimension> = ["partitions=1,4", "acks=1,all"].iter().map(|d| d.parse().unwrap()).collect();
        let cells = [cell("1", "1", 100.0), cell("1", "all", 50.0), cell("4", "1", 400.0), cell("4", "all", 200.0)];
        let svg = render_plot(&dims, &cells);
        assert!(svg.contains("<title>acked/s acks=all</title>"), "{svg}");
        assert!(svg.contains("<title>partitions = 4: 200</title>"), "the acks=all line's second point");
        assert!(svg.contains("<title>handlers acks=1</title>"));
        assert_eq!(render_plot(&[], &cells), "");
    }
}
