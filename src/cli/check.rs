//! `kafkasim check FILE [--json]`: the checkers over a history recorded elsewhere.

use super::{EXIT_INPUT, EXIT_NO_INPUT};
use crate::check;
use crate::history::{read_history_jsonl, History};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// Checks a history file and prints the anomalies; returns the exit code (1 if any).
pub fn check_file(file: &Path, json: bool) -> i32 {
    let reader = match File::open(file) {
        Ok(f) => BufReader::new(f),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return EXIT_NO_INPUT;
        }
    };
    let ops = match read_history_jsonl(reader) {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("error: {}:{e}", file.display());
            return EXIT_INPUT;
        }
    };
    let history = History { ops, trace: Vec::new() };
    let anomalies = check::check_all(&history);
    if json {
        println!("{}", serde_json::to_string_pretty(&anomalies).expect("anomalies serialize"));
    } else if anomalies.is_empty() {
        println!("{}: {} ops, no anomalies", file.display(), history.ops.len());
    } else {
        println!("{}: {} ops, {} anomalies", file.display(), history.ops.len(), anomalies.len());
        for anomaly in &anomalies {
            println!("  {:<22} {}", anomaly.kind.name(), anomaly.description);
        }
    }
    if anomalies.is_empty() {
        0
    } else {
        1
    }
}
