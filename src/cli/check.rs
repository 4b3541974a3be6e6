//! `kafkasim check FILE [--json]`: the checkers over a history recorded elsewhere, in
//! kafkasim's JSON Lines or Jepsen's EDN (by extension, else by content).

use super::{EXIT_INPUT, EXIT_NO_INPUT};
use crate::check::{self, Anomaly};
use crate::history::{read_history, History, HistoryFile, HistoryFormat, Trace, ValueNames};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Checks a history file and prints the anomalies; returns the exit code (1 if any).
/// Values print as the file wrote them (`"a"`, `:a`), not as the ids the checkers saw.
pub fn check_file(file: &Path, json: bool) -> i32 {
    let mut reader = match File::open(file) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return EXIT_NO_INPUT;
        }
    };
    let format = match reader.fill_buf() {
        Ok(start) => HistoryFormat::detect(file, start),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return EXIT_NO_INPUT;
        }
    };
    let HistoryFile { ops, values, skipped, .. } = match read_history(format, reader) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("error: {}:{e}", file.display());
            return EXIT_INPUT;
        }
    };
    let history = History { ops, trace: Trace::new() };
    let anomalies = check::check_all(&history);
    let skipped_note = skipped_note(&skipped);
    if json {
        let named: Vec<Value> = anomalies.iter().map(|a| with_value_names(a, &values)).collect();
        println!("{}", serde_json::to_string_pretty(&named).expect("anomalies serialize"));
        if let Some(note) = &skipped_note {
            eprintln!("{}: {note}", file.display());
        }
    } else {
        let found = match anomalies.len() {
            0 => "no anomalies".to_string(),
            n => format!("{n} anomalies"),
        };
        println!("{}: {} ops, {found}", file.display(), history.ops.len());
        if let Some(note) = &skipped_note {
            println!("  ({note})");
        }
        for anomaly in &anomalies {
            println!("  {:<22} {}", anomaly.kind.name(), values.rewrite(&anomaly.description));
        }
    }
    if anomalies.is_empty() {
        0
    } else {
        1
    }
}

/// `skipped 3 ops kafkasim does not check: :debug-topic-partitions 1, :nemesis process 2`.
fn skipped_note(skipped: &BTreeMap<String, usize>) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let total: usize = skipped.values().sum();
    let what: Vec<String> = skipped.iter().map(|(what, n)| format!("{what} {n}")).collect();
    let ops = if total == 1 { "op" } else { "ops" };
    Some(format!("skipped {total} {ops} kafkasim does not check: {}", what.join(", ")))
}

/// An anomaly as JSON with its values as the file wrote them: in the description and
/// notes, and as each record's `value` (`"a"` for the string `"a"`, `":a"` for the
/// keyword `:a`, numbers as numbers).
fn with_value_names(anomaly: &Anomaly, values: &ValueNames) -> Value {
    let mut json = serde_json::to_value(anomaly).expect("anomalies serialize");
    if values.is_empty() {
        return json;
    }
    if let Some(Value::String(description)) = json.get_mut("description") {
        *description = values.rewrite(description);
    }
    if let Some(Value::Array(records)) = json.get_mut("records") {
        for (record, original) in records.iter_mut().zip(&anomaly.records) {
            if let (Some(slot), Some(value)) = (record.get_mut("value"), original.value) {
                *slot = values.to_json(value);
            }
            if let Some(Value::String(note)) = record.get_mut("note") {
                *note = values.rewrite(note);
            }
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_jsonl;

    #[test]
    fn a_txn_of_string_values_reads_its_own_send_and_the_anomaly_names_the_value() {
        let text = concat!(
            r#"{"index":0,"time":1000000,"process":0,"type":"invoke","f":"txn","value":[["send",1,"x"],["poll"],["send",1,"y"]]}"#,
            "\n",
            r#"{"index":1,"time":2000000,"process":0,"type":"ok","f":"txn","value":[["send",1,[0,"x"]],["poll",{"1":[[0,"x"]]}],["send",1,[1,"y"]]]}"#,
            "\n",
        );
        let file = read_history_jsonl(text.as_bytes()).unwrap();
        let history = History { ops: file.ops, trace: Trace::new() };
        let anomalies = check::check_all(&history);
        let precommitted: Vec<&Anomaly> =
            anomalies.iter().filter(|a| a.kind == check::AnomalyKind::PrecommittedRead).collect();
        assert_eq!(precommitted.len(), 1, "{anomalies:#?}");
        let json = with_value_names(precommitted[0], &file.values);
        assert!(json["description"].as_str().unwrap().contains("polled value \"x\" from 1 at offset 0"), "{json}");
        assert_eq!(json["records"][0]["value"], "x");
        assert_eq!(json["records"][0]["key"], "1");
    }

    #[test]
    fn skipped_ops_are_counted_by_kind() {
        assert_eq!(skipped_note(&BTreeMap::new()), None);
        let one: BTreeMap<String, usize> = [(":nemesis process".to_string(), 1)].into_iter().collect();
        assert_eq!(skipped_note(&one).unwrap(), "skipped 1 op kafkasim does not check: :nemesis process 1");
    }
}
