//! Reads a `[[producers]]` entry's `rate_per_sec`: a number (a constant rate), or a list
//! of steps `[{ at = "0s", rate = 200 }, { at = "5s", rate = 20000 }, ...]`, each checked
//! where it is written.

use super::keys;
use super::limits::MAX_RATE_PER_SEC;
use super::model_rate::{RateSchedule, RateStep};
use super::raw::{Node, Table};
use super::span::{Res, Sp};
use super::values::format_duration_ms;

/// What `rate_per_sec` takes, for messages.
const EXPECTED: &str = "records per second per producer, such as 100, or a list of steps such as \
     [{ at = \"0s\", rate = 200 }, { at = \"5s\", rate = 20000 }]";

/// The entry's `rate_per_sec`, in a run whose safety phase lasts `run_ms`.
pub(super) fn rate_per_sec(t: &Table, run_ms: u64) -> Res<RateSchedule> {
    let node = t.require("rate_per_sec", EXPECTED)?;
    if node.is_array() {
        return steps(node, run_ms);
    }
    if !node.is_number() {
        return Err(node.mismatch(EXPECTED));
    }
    Ok(RateSchedule::constant(rate(node.f64()?)?))
}

/// A rate above 0 and at most [`MAX_RATE_PER_SEC`].
fn rate(rate: Sp<f64>) -> Res<f64> {
    Ok(rate
        .check(
            |r| r > 0.0 && r <= MAX_RATE_PER_SEC,
            |r| format!("expected a rate above 0 and at most {MAX_RATE_PER_SEC}, found {r}"),
        )?
        .value)
}

/// The steps: at least one, the first at `0s`, each later than the one before and
/// before the safety phase ends.
fn steps(node: &Node, run_ms: u64) -> Res<RateSchedule> {
    let tables = node.tables(keys::RATE_STEP)?;
    if tables.is_empty() {
        return Err(node.pos.issue(format!("the rate schedule has no step; expected {EXPECTED}")));
    }
    let mut steps: Vec<RateStep> = Vec::new();
    for step in &tables {
        let at =
            step.require("at", "when the step begins since the workload started, such as \"5s\"")?.duration_ms()?;
        match steps.last() {
            None if at.value != 0 => {
                return Err(at.pos.issue(format!(
                    "the first step begins at {}; expected at = \"0s\": the schedule says the rate from the \
                     start of the workload",
                    format_duration_ms(at.value)
                )))
            }
            Some(previous) if at.value <= previous.at_ms => {
                return Err(at.pos.issue(format!(
                    "this step begins at {}, not after the step before it ({}); expected steps in \
                     increasing order of `at`, each later than the one before",
                    format_duration_ms(at.value),
                    format_duration_ms(previous.at_ms)
                )))
            }
            _ => {}
        }
        if at.value >= run_ms {
            let end = format_duration_ms(run_ms);
            return Err(at.pos.issue(format!(
                "the step begins at {} but the safety phase (`duration`) ends at {end}, when the \
                 producers stop; expected a time before {end}",
                format_duration_ms(at.value)
            )));
        }
        let rate_per_sec = rate(step.require("rate", "records per second per producer, such as 200")?.f64()?)?;
        steps.push(RateStep { at_ms: at.value, rate_per_sec });
    }
    Ok(RateSchedule::of_steps(steps))
}
