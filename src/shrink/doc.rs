//! The scenario file as the shrinker sees it: a `toml_edit` document (so that comments,
//! order and every setting the shrinker does not touch survive) plus the few numbers it
//! reduces, read out of that document.

use crate::scenario::{format_duration_ms, parse_duration_ms};
use toml_edit::{DocumentMut, Item, TableLike, Value};

/// The arrays of tables the shrinker edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    /// `[[faults]]`.
    Faults,
    /// `[[producers]]`.
    Producers,
    /// `[[consumers]]`.
    Consumers,
    /// `[[topics]]`.
    Topics,
}

impl List {
    /// The key of the array in the scenario file.
    pub fn key(self) -> &'static str {
        match self {
            List::Faults => "faults",
            List::Producers => "producers",
            List::Consumers => "consumers",
            List::Topics => "topics",
        }
    }

    /// The singular noun for messages (`fault`, `producer entry`, ...).
    pub fn noun(self) -> &'static str {
        match self {
            List::Faults => "fault",
            List::Producers => "producer entry",
            List::Consumers => "consumer entry",
            List::Topics => "topic",
        }
    }
}

/// One `[[faults]]` entry's timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultDims {
    /// `at`, in milliseconds.
    pub at_ms: u64,
    /// `duration`, in milliseconds, when set.
    pub duration_ms: Option<u64>,
    /// `kind`, for messages.
    pub kind: String,
}

/// One `[[producers]]` entry's sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerDims {
    /// `count` (default 1).
    pub count: u32,
    /// `rate_per_sec`, records per second per producer.
    pub rate_per_sec: f64,
    /// `records`: how many records each producer sends at most, when set.
    pub records: Option<u64>,
}

/// The sizes the shrinker reduces, read from a document (defaults as the scenario
/// parser fills them in).
#[derive(Clone, Debug, PartialEq)]
pub struct Dims {
    /// The safety phase (`duration`), in milliseconds.
    pub run_ms: u64,
    /// The faults in file order.
    pub faults: Vec<FaultDims>,
    /// Each producer entry's `count`, `rate_per_sec` and `records` (when set).
    pub producers: Vec<ProducerDims>,
    /// Each consumer entry's `count`.
    pub consumers: Vec<u32>,
    /// Each topic's `partitions`.
    pub partitions: Vec<u32>,
}

impl Dims {
    /// Reads the sizes out of a document that the scenario parser accepted.
    pub fn read(doc: &DocumentMut) -> Dims {
        let run_ms = doc.get("duration").and_then(Item::as_str).and_then(|s| parse_duration_ms(s).ok()).unwrap_or(0);
        let faults = tables(doc, List::Faults)
            .into_iter()
            .map(|t| FaultDims {
                at_ms: duration_of(t, "at").unwrap_or(0),
                duration_ms: duration_of(t, "duration"),
                kind: t.get("kind").and_then(Item::as_str).unwrap_or("?").to_string(),
            })
            .collect();
        let producers = tables(doc, List::Producers)
            .into_iter()
            .map(|t| ProducerDims {
                count: count_of(t),
                rate_per_sec: rate_of(t),
                records: t.get("records").and_then(Item::as_integer).map(|n| n as u64),
            })
            .collect();
        let consumers = tables(doc, List::Consumers).into_iter().map(count_of).collect();
        let partitions = tables(doc, List::Topics)
            .into_iter()
            .map(|t| t.get("partitions").and_then(Item::as_integer).map_or(1, |n| n as u32))
            .collect();
        Dims { run_ms, faults, producers, consumers, partitions }
    }

    /// How many records the producers are asked to send over the safety phase.
    pub fn records(&self) -> u64 {
        let seconds = self.run_ms as f64 / 1000.0;
        self.producers
            .iter()
            .map(|p| {
                let each = (p.rate_per_sec * seconds).round() as u64;
                u64::from(p.count) * p.records.map_or(each, |r| r.min(each))
            })
            .sum()
    }

    /// How many client processes (producers and consumers) the scenario runs.
    pub fn clients(&self) -> u32 {
        self.producers.iter().map(|p| p.count).sum::<u32>() + self.consumers.iter().sum::<u32>()
    }

    /// A one-line summary: faults, run length, records, clients, partitions.
    pub fn summary(&self) -> String {
        format!(
            "{} fault(s), duration {}, about {} records, {} client(s), {} partition(s)",
            self.faults.len(),
            format_duration_ms(self.run_ms),
            self.records(),
            self.clients(),
            self.partitions.iter().sum::<u32>()
        )
    }
}

fn duration_of(t: &dyn TableLike, key: &str) -> Option<u64> {
    t.get(key).and_then(Item::as_str).and_then(|s| parse_duration_ms(s).ok())
}

fn count_of(t: &dyn TableLike) -> u32 {
    t.get("count").and_then(Item::as_integer).map_or(1, |n| n as u32)
}

/// The entry's `rate_per_sec`; for a schedule of steps, its highest step's rate (a
/// lower constant rate is then one of the shrinker's edits).
fn rate_of(t: &dyn TableLike) -> f64 {
    let number = |item: Option<&Item>| {
        item.and_then(Item::as_float).or_else(|| item.and_then(Item::as_integer).map(|n| n as f64))
    };
    let step_rate = |step: &Value| {
        let rate = step.as_inline_table()?.get("rate")?;
        rate.as_float().or_else(|| rate.as_integer().map(|n| n as f64))
    };
    match t.get("rate_per_sec") {
        Some(Item::Value(Value::Array(steps))) => steps.iter().filter_map(step_rate).fold(0.0, f64::max),
        item => number(item).unwrap_or(0.0),
    }
}

/// The entries of an array of tables (`[[faults]]`) or of an array of inline tables
/// (`faults = [{...}]`), in file order.
pub fn tables(doc: &DocumentMut, list: List) -> Vec<&dyn TableLike> {
    match doc.get(list.key()) {
        Some(Item::ArrayOfTables(aot)) => aot.iter().map(|t| t as &dyn TableLike).collect(),
        Some(Item::Value(Value::Array(array))) => {
            array.iter().filter_map(|v| v.as_inline_table().map(|t| t as &dyn TableLike)).collect()
        }
        _ => Vec::new(),
    }
}

/// The `index`-th entry of a list, to edit.
pub fn table_mut(doc: &mut DocumentMut, list: List, index: usize) -> Option<&mut dyn TableLike> {
    match doc.get_mut(list.key()) {
        Some(Item::ArrayOfTables(aot)) => aot.get_mut(index).map(|t| t as &mut dyn TableLike),
        Some(Item::Value(Value::Array(array))) => {
            array.get_mut(index).and_then(Value::as_inline_table_mut).map(|t| t as &mut dyn TableLike)
        }
        _ => None,
    }
}

/// Removes `len` entries of a list from `from` on; removes the key when none is left.
pub fn remove_entries(doc: &mut DocumentMut, list: List, from: usize, len: usize) {
    let left = match doc.get_mut(list.key()) {
        Some(Item::ArrayOfTables(aot)) => {
            for _ in 0..len.min(aot.len().saturating_sub(from)) {
                aot.remove(from);
            }
            aot.len()
        }
        Some(Item::Value(Value::Array(array))) => {
            for _ in 0..len.min(array.len().saturating_sub(from)) {
                array.remove(from);
            }
            array.len()
        }
        _ => return,
    };
    if left == 0 {
        doc.remove(list.key());
    }
}

/// Sets a duration key (`"2.5s"`) in a table.
pub fn set_duration(t: &mut dyn TableLike, key: &str, ms: u64) {
    t.insert(key, toml_edit::value(format_duration_ms(ms)));
}

/// Sets an integer key in a table.
pub fn set_integer(t: &mut dyn TableLike, key: &str, n: u64) {
    t.insert(key, toml_edit::value(n as i64));
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
duration = "20s"
producers = [{ topic = "orders", rate_per_sec = 2.5, count = 2 }, { topic = "orders", rate_per_sec = 100, records = 50 }]

[[topics]]
name = "orders"
partitions = 3

[[faults]] # the first crash
at = "3s"
kind = "crash"
duration = "1500ms"

[[faults]]
at = "8s"
kind = "heal"
"#;

    #[test]
    fn reads_sizes_from_tables_and_inline_tables_with_the_parser_defaults() {
        let doc: DocumentMut = TEXT.parse().unwrap();
        let dims = Dims::read(&doc);
        assert_eq!(dims.run_ms, 20_000);
        assert_eq!(dims.faults[0], FaultDims { at_ms: 3_000, duration_ms: Some(1_500), kind: "crash".into() });
        assert_eq!(dims.faults[1].duration_ms, None);
        assert_eq!(dims.producers[0], ProducerDims { count: 2, rate_per_sec: 2.5, records: None });
        assert_eq!(dims.producers[1].records, Some(50));
        assert_eq!(dims.consumers, Vec::<u32>::new());
        assert_eq!(dims.partitions, vec![3]);
        assert_eq!(dims.records(), 2 * 50 + 50);
        assert_eq!(dims.clients(), 3);
    }

    #[test]
    fn a_rate_schedule_counts_as_its_highest_step() {
        let text = "[[producers]]\ntopic = \"orders\"\nrate_per_sec = [{ at = \"0s\", rate = 200 }, \
                    { at = \"5s\", rate = 20000.5 }, { at = \"8s\", rate = 200 }]\n";
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(Dims::read(&doc).producers[0].rate_per_sec, 20_000.5);
    }

    #[test]
    fn removing_every_entry_removes_the_key_and_keeps_comments_elsewhere() {
        let mut doc: DocumentMut = TEXT.parse().unwrap();
        remove_entries(&mut doc, List::Producers, 0, 1);
        assert_eq!(Dims::read(&doc).producers.len(), 1);
        set_duration(table_mut(&mut doc, List::Faults, 1).unwrap(), "at", 9_500);
        assert_eq!(Dims::read(&doc).faults[1].at_ms, 9_500);
        assert!(doc.to_string().contains("# the first crash"));
        remove_entries(&mut doc, List::Faults, 0, 2);
        assert!(doc.get("faults").is_none());
        assert!(!doc.to_string().contains("[[faults]]"));
    }
}
