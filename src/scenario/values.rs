//! Parsers for single values written as strings: durations, seed ranges and named
//! choices. The string parsers are pure functions whose errors are messages without
//! positions; `choice` places its error at the value. Depends on `span`, `error` and
//! `limits`, below the raw layer (which reads durations with it).

use super::error::{closest, excerpt, one_of_strings};
use super::limits::MAX_SEEDS;
use super::span::{Issue, Res, Sp};

const UNITS: &[(&str, u128)] = &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)];

/// Parses a duration such as `"150ms"`, `"2s"`, `"2.5s"`, `"1m"` or `"1m30s"` into
/// milliseconds. Units: `ms`, `s`, `m`, `h`. The result must be a whole number of
/// milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!(
            "expected a duration such as \"150ms\", \"2.5s\" or \"1m\" (units: ms, s, m, h), \
                found {}{why}",
            excerpt(text)
        )
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad(""));
    }
    // Work in microseconds so that fractions like "0.5ms" can be rejected precisely.
    let mut total_us: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        if num.is_empty() {
            return Err(bad(""));
        }
        if unit.is_empty() {
            return Err(bad("; add a unit, such as \"ms\" or \"s\""));
        }
        let Some(&(_, unit_ms)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(bad(&format!("; unknown unit \"{unit}\"")));
        };
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if int.is_empty() || frac.contains('.') || (num.contains('.') && frac.is_empty()) {
            return Err(bad(""));
        }
        if int.len() > 20 || frac.len() > 12 {
            return Err(bad("; the number is too long"));
        }
        let int: u128 = int.parse().map_err(|_| bad(""))?;
        let frac_digits: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad(""))? };
        let scale = 10u128.pow(frac.len() as u32);
        let unit_us = unit_ms * 1_000;
        let frac_us = frac_digits * unit_us;
        if !frac_us.is_multiple_of(scale) {
            return Err(bad("; that is not a whole number of microseconds"));
        }
        total_us = total_us.saturating_add(int.saturating_mul(unit_us)).saturating_add(frac_us / scale);
        rest = tail;
    }
    if !total_us.is_multiple_of(1_000) {
        return Err(bad("; durations are whole milliseconds"));
    }
    u64::try_from(total_us / 1_000).map_err(|_| bad("; it is too long"))
}

pub use crate::units::format_duration_ms;

/// Parses a seed range, `"A..B"` (half-open, like Rust and `--seeds A..B`) or `"A..=B"`.
pub fn parse_seed_range(text: &str) -> Result<Vec<u64>, String> {
    let expected = || {
        format!(
            "expected a seed range such as \"1..51\" (half-open) or a list such as [1, 2, 3], \
            found {}",
            excerpt(text)
        )
    };
    let s = text.trim();
    let (a, b, inclusive) = if let Some((a, b)) = s.split_once("..=") {
        (a, b, true)
    } else if let Some((a, b)) = s.split_once("..") {
        (a, b, false)
    } else {
        return Err(expected());
    };
    let num = |x: &str| x.trim().parse::<u64>().map_err(|_| expected());
    let (start, end) = (num(a)?, num(b)?);
    let end_excl = if inclusive { end.checked_add(1).ok_or_else(expected)? } else { end };
    if end_excl <= start {
        return Err(format!(
            "the seed range {} is empty; expected a range whose end is larger than its start, \
                such as \"{start}..{}\"",
            excerpt(text),
            start.saturating_add(10)
        ));
    }
    if end_excl - start > MAX_SEEDS {
        return Err(format!(
            "the seed range {} holds {} seeds; expected at most {MAX_SEEDS} in a scenario file \
                (pass larger ranges with --seeds)",
            excerpt(text),
            end_excl - start
        ));
    }
    Ok((start..end_excl).collect())
}

/// Maps a string to one of `options` (name, value), or explains the valid names.
pub(super) fn choice<T: Copy>(sp: &Sp<String>, options: &[(&str, T)]) -> Res<T> {
    if let Some((_, v)) = options.iter().find(|(name, _)| *name == sp.value) {
        return Ok(*v);
    }
    Err(bad_choice(sp, &options.iter().map(|(n, _)| *n).collect::<Vec<_>>()))
}

/// "expected "a", "b" or "c", found "x" (did you mean "a"?)".
pub(super) fn bad_choice(sp: &Sp<String>, names: &[&str]) -> Issue {
    let mut message = format!("expected {}, found {}", one_of_strings(names), excerpt(&sp.value));
    if let Some(c) = closest(&sp.value, names) {
        message.push_str(&format!(" (did you mean \"{c}\"?)"));
    }
    sp.pos.issue(message)
}
