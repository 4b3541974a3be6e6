//! `[nemesis]`: faults drawn at random during the safety phase, from an enabled set of
//! kinds, with a mean interval and a range of durations. The section only describes the
//! distribution; the runner draws the concrete faults from the seed (`runner::swarm`).
//!
//! ```toml
//! [nemesis]
//! kinds = ["crash", "partition", "packet-loss", "latency"]  # or weights:
//! # kinds = { crash = 3, partition = 1 }
//! interval = "2s"            # mean time between faults (exponentially distributed)
//! start = "1s"               # no drawn fault before this (default "0s")
//! duration_min = "500ms"     # each fault is undone after a uniform draw between
//! duration_max = "3s"        #   duration_min and duration_max
//! packet_loss_rate_max = 0.3 # packet-loss faults draw their rate in (0, this]
//! latency_max = "200ms"      # latency faults draw the largest latency up to this
//! duplicate_rate_max = 0.3   # duplicate faults draw their rate in (0, this]
//! ```
//!
//! `stall` and `leave` act on a consumer group member's application, so they target one
//! of the scenario's group consumers (`mode = "subscribe"`), drawn per fault; enabling
//! them in a scenario without group consumers is an error.
//!
//! The runner draws the whole schedule before the run starts, so `interval` (and the
//! shortest `[swarm]` `nemesis_interval`) must leave at most [`MAX_NEMESIS_FAULTS`]
//! faults on average between `start` and the end of the safety phase.
//!
//! The kinds are [`FaultKind`]s, by their `[[faults]]` names. Every kind that breaks
//! something can be drawn ([`FaultKind::drawable`]); `restart`, `resume` and `heal` are
//! not, since every drawn fault is undone after its duration. A drawable kind needs an
//! arm in `runner::swarm` that draws its parameters.

use super::error::one_of_strings;
use super::fields::loss_rate;
use super::limits::MAX_NEMESIS_FAULTS;
use super::model_faults::NemesisSpec;
use super::raw::{Node, Table};
use super::span::{Res, Sp};
use super::values::{bad_choice, format_duration_ms};
use crate::fault::FaultKind;

/// What `[nemesis]` is read against: the rest of the scenario.
pub(super) struct NemesisContext {
    /// The `[network]` latency_max, which a latency fault must not go below, in ms.
    pub network_latency_ms_max: u64,
    /// The safety phase's length, in milliseconds.
    pub duration_ms: u64,
    /// The group consumer processes (`mode = "subscribe"`), which `stall` and `leave`
    /// target.
    pub group_consumers: u32,
    /// The 1-based line of the `[nemesis]` header.
    pub line: usize,
}

/// Reads `[nemesis]`.
pub(super) fn nemesis(t: &Table, cx: &NemesisContext) -> Res<NemesisSpec> {
    let &NemesisContext { network_latency_ms_max, duration_ms, group_consumers, line } = cx;
    let kinds =
        kinds(t.require("kinds", "the fault kinds to draw, such as [\"crash\", \"partition\"]")?, group_consumers)?;
    let interval = t.require("interval", "the mean time between faults, such as \"2s\"")?.duration_ms()?;
    let interval = interval.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string())?;
    let start_ms = match t.opt_duration_ms("start")? {
        Some(s) => {
            s.check(
                |s| s < duration_ms,
                |s| {
                    format!(
                        "the nemesis starts at {} but the safety phase (`duration`) ends at {}; expected an earlier start",
                        format_duration_ms(s),
                        format_duration_ms(duration_ms)
                    )
                },
            )?
            .value
        }
        None => 0,
    };
    let interval_ms = check_fault_count(interval, duration_ms - start_ms, "`interval`")?.value;
    let min = t.opt_duration_ms("duration_min")?;
    let max = t.opt_duration_ms("duration_max")?;
    let duration_ms_min = match &min {
        Some(m) => m.clone().check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string())?.value,
        None => 500,
    };
    let duration_ms_max = max.as_ref().map_or(3_000.max(duration_ms_min), |m| m.value);
    if let Some(max) = &max {
        if max.value < duration_ms_min {
            return Err(max.pos.issue(format!(
                "duration_max {} is smaller than duration_min {}; expected at least {}",
                format_duration_ms(max.value),
                format_duration_ms(duration_ms_min),
                format_duration_ms(duration_ms_min)
            )));
        }
    }
    let packet_loss_rate_max = match t.get("packet_loss_rate_max") {
        Some(n) => {
            let r = loss_rate(n)?;
            if r == 0.0 {
                return Err(n.pos.issue(
                    "expected a rate above 0 and below 1, found 0; to draw no packet loss, \
                     leave \"packet-loss\" out of `kinds`",
                ));
            }
            r
        }
        None => 0.2,
    };
    let duplicate_rate_max = match t.get("duplicate_rate_max") {
        Some(n) => {
            n.f64()?
                .check(|r| r > 0.0 && r <= 1.0, |r| format!("expected a rate above 0 and at most 1, found {r}"))?
                .value
        }
        None => 0.2,
    };
    let latency_ms_max = match t.opt_duration_ms("latency_max")? {
        Some(l) => {
            l.check(
                |l| l >= network_latency_ms_max,
                |l| {
                    format!(
                        "latency_max {} is below the [network] latency_max {}, so a latency fault would \
                         speed the network up; expected at least {}",
                        format_duration_ms(l),
                        format_duration_ms(network_latency_ms_max),
                        format_duration_ms(network_latency_ms_max)
                    )
                },
            )?
            .value
        }
        None => 200.max(network_latency_ms_max),
    };
    Ok(NemesisSpec {
        kinds,
        interval_ms,
        start_ms,
        duration_ms_min,
        duration_ms_max,
        packet_loss_rate_max,
        duplicate_rate_max,
        latency_ms_max,
        line,
    })
}

/// Refuses a mean interval (`what`: the key that set it) at which the nemesis would draw
/// more than [`MAX_NEMESIS_FAULTS`] faults on average over `window_ms`, the part of the
/// safety phase it draws faults in.
pub(super) fn check_fault_count(interval: Sp<u64>, window_ms: u64, what: &str) -> Res<Sp<u64>> {
    interval.check(
        |i| window_ms / i <= MAX_NEMESIS_FAULTS,
        |i| {
            format!(
                "a fault every {} on average for {} (`duration` after the nemesis' `start`) is about {} \
                 faults, more than the {MAX_NEMESIS_FAULTS} one run may draw; expected a longer {what} or a \
                 shorter `duration`",
                format_duration_ms(i),
                format_duration_ms(window_ms),
                window_ms / i
            )
        },
    )
}

/// `kinds`: a list of names (equal weights) or a table of name = weight.
fn kinds(node: &Node, group_consumers: u32) -> Res<Vec<(FaultKind, f64)>> {
    let mut out: Vec<(FaultKind, f64)> = Vec::new();
    let mut add = |name: &Node, weight: f64| -> Res<()> {
        let sp = name.string("a fault kind name")?;
        let kind = kind(&sp, group_consumers)?;
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(sp.pos.issue(format!("\"{}\" is listed twice; expected each kind once", sp.value)));
        }
        out.push((kind, weight));
        Ok(())
    };
    if node.as_str().is_none() && node.as_int().is_none() {
        if let Ok(items) = node.array("") {
            for item in &items {
                add(item, 1.0)?;
            }
            return non_empty(node, out);
        }
    }
    let names: Vec<&str> = FaultKind::drawable().map(FaultKind::name).collect();
    if !node.is_table() {
        return Err(node.pos.issue(format!(
            "expected a list of fault kinds such as [\"crash\", \"partition\"] or a table of weights \
             such as {{ crash = 3, partition = 1 }}, found {}",
            node.describe()
        )));
    }
    let table = node.table(&names)?;
    for (key, pos) in table.keys() {
        let value = table.get(key).expect("listed key").f64()?;
        let weight = value.check(|w| w > 0.0, |w| format!("expected a weight above 0, found {w}"))?.value;
        let name = Sp { value: key.to_string(), pos: pos.clone() };
        let kind = kind(&name, group_consumers)?;
        out.push((kind, weight));
    }
    non_empty(node, out)
}

fn non_empty(node: &Node, out: Vec<(FaultKind, f64)>) -> Res<Vec<(FaultKind, f64)>> {
    if out.is_empty() {
        let names: Vec<&str> = FaultKind::drawable().map(FaultKind::name).collect();
        return Err(node.pos.issue(format!(
            "no fault kind is enabled; expected at least one of {} (or leave out [nemesis])",
            one_of_strings(&names)
        )));
    }
    Ok(out)
}

/// One kind name, with a specific message for the kinds that undo others and for the
/// consumer kinds in a scenario without group consumers.
fn kind(sp: &Sp<String>, group_consumers: u32) -> Res<FaultKind> {
    if let Some(k) = FaultKind::drawable().find(|k| k.name() == sp.value) {
        if k.targets_group_consumers() && group_consumers == 0 {
            return Err(sp.pos.issue(format!(
                "\"{}\" acts on a consumer group member, and this scenario has none; expected a [[consumers]] \
                 entry with mode = \"subscribe\" and a `group`, or leave \"{}\" out of `kinds`",
                sp.value, sp.value
            )));
        }
        return Ok(k);
    }
    let names: Vec<&str> = FaultKind::drawable().map(FaultKind::name).collect();
    let message = match sp.value.parse::<FaultKind>() {
        Ok(undo) if undo.is_undo() => format!(
            "\"{}\" is not drawn on its own: every drawn fault is undone after its duration; expected {}",
            sp.value,
            one_of_strings(&names)
        ),
        _ => return Err(bad_choice(sp, &names)),
    };
    Err(sp.pos.issue(message))
}
