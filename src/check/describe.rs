//! Shared wording for anomaly descriptions and record notes, so every checker speaks
//! alike: times in seconds (`2.104 s`), clients as `process 3`, brokers as `broker-2`,
//! runs of offsets as `813-815`.

use super::{RecordRef, RecordRole};
use crate::history::Op;
use std::fmt::Display;

/// Simulated nanoseconds as seconds with millisecond precision, e.g. `2.104 s`.
/// Integer arithmetic keeps the text identical on every platform and build.
pub(crate) fn secs(ns: u64) -> String {
    format!("{}.{:03} s", ns / 1_000_000_000, (ns / 1_000_000) % 1_000)
}

/// A client process as a person reads it: `process 3`.
pub(crate) fn process(p: u64) -> String {
    format!("process {p}")
}

/// A broker as a person reads it (and as nodes are named in the trace): `broker-2`.
pub(crate) fn broker(b: u32) -> String {
    crate::protocol::broker_name(b)
}

/// Offsets as short text, runs collapsed: `813`, `813-815`, `813-815, 820`.
/// Input order is kept; only consecutive increasing offsets are merged.
pub(crate) fn offset_ranges(offsets: impl IntoIterator<Item = u64>) -> String {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for o in offsets {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(o) => *end = o,
            _ => runs.push((o, o)),
        }
    }
    let parts: Vec<String> =
        runs.into_iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
    parts.join(", ")
}

/// At most `max` items joined by commas, then how many more there are, so a
/// description stays one readable sentence even when thousands of records are involved.
pub(crate) fn sample<T: Display>(items: &[T], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(ToString::to_string).collect();
    let mut text = shown.join(", ");
    if items.len() > max {
        text.push_str(&format!(" and {} more", items.len() - max));
    }
    text
}

/// The text with its first letter in upper case, to start a sentence with a name
/// like `process 3`.
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `1 record` / `3 records`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl RecordRef {
    /// A record of `key` with what is known of it and its role in the anomaly.
    pub(crate) fn new(key: &str, offset: Option<u64>, value: Option<u64>, note: impl Into<String>) -> Self {
        RecordRef {
            key: key.to_string(),
            offset,
            value,
            by: None,
            time_ns: None,
            op_index: None,
            note: note.into(),
            role: RecordRole::Context,
        }
    }

    /// Marks the record as what the anomaly is about.
    pub(crate) fn subject(mut self) -> Self {
        self.role = RecordRole::Subject;
        self
    }

    /// Attributes the record to the client op that sent or polled it.
    pub(crate) fn seen_in(mut self, op: &Op) -> Self {
        self.by = Some(process(op.process));
        self.time_ns = Some(op.time_ns);
        self.op_index = Some(op.index);
        self
    }

    /// Attributes the record to a broker at a trace time.
    pub(crate) fn on_broker(mut self, b: u32, time_ns: u64) -> Self {
        self.by = Some(broker(b));
        self.time_ns = Some(time_ns);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_three_decimals() {
        assert_eq!(secs(2_104_000_000), "2.104 s");
        assert_eq!(secs(5_000_000), "0.005 s");
        assert_eq!(secs(u64::MAX), "18446744073.709 s");
    }

    #[test]
    fn offset_runs_collapse() {
        assert_eq!(offset_ranges([813]), "813");
        assert_eq!(offset_ranges([813, 814, 815, 820]), "813-815, 820");
        assert_eq!(offset_ranges([u64::MAX, 0]), format!("{}, 0", u64::MAX));
        assert_eq!(offset_ranges([]), "");
    }

    #[test]
    fn capitalize_only_touches_the_first_letter() {
        assert_eq!(capitalize("process 3 at 1.000 s"), "Process 3 at 1.000 s");
        assert_eq!(capitalize(""), "");
    }

    #[test]
    fn samples_say_how_many_were_left_out() {
        assert_eq!(sample(&[1, 2, 3], 5), "1, 2, 3");
        assert_eq!(sample(&[1, 2, 3], 2), "1, 2 and 1 more");
    }
}
