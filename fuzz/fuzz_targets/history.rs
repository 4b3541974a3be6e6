//! Fuzzes the history readers of `kafkasim check FILE`: any bytes, read as JSON Lines
//! and as Jepsen's EDN, must give a history or an error with a position, never a panic,
//! a hang or an exhausted memory; a history that reads goes through the checkers, as
//! `check` runs them, and its anomalies are rendered with the file's value names.

#![no_main]

use kafkasim::check;
use kafkasim::history::{read_history, History, HistoryFile, HistoryFormat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Both syntaxes on every input: `check` picks one by the file's extension, and by
    // the content (`HistoryFormat::detect`) for any other name.
    for format in [HistoryFormat::JsonLines, HistoryFormat::Edn] {
        let HistoryFile { ops, values, .. } = match read_history(format, data) {
            Ok(read) => read,
            Err(error) => {
                assert!(error.line >= 1 && error.column >= 1, "{error:?}");
                let _ = error.to_string();
                continue;
            }
        };
        let history = History { ops, trace: Vec::new() };
        for anomaly in check::check_all(&history) {
            // What `check` prints, and what `check --json` writes.
            let _ = values.rewrite(&anomaly.description);
            for record in &anomaly.records {
                if let Some(value) = record.value {
                    let _ = values.to_json(value);
                }
            }
            let _ = serde_json::to_string(&anomaly);
        }
    }
});
