//! `kafkasim report FILE... [--seed N] [--out DIR]`: runs each scenario's report seed (its
//! first seed unless `--seed` says otherwise) and writes `report.html` and `README.md`
//! into `DIR/<scenario>/` (default `reports/`).

use super::{load_with, EXIT_OUTPUT};
use crate::report;
use crate::scenario::{SetScope, Setting};
use std::path::Path;

/// Writes the reports; returns the exit code.
pub fn report(files: &[std::path::PathBuf], settings: &[Setting], seed: Option<u64>, out: &Path) -> i32 {
    // One file: every setting must find its table; many: each takes what it has.
    let scope = if files.len() == 1 { SetScope::OneScenario } else { SetScope::Catalog };
    for file in files {
        let scenario = match load_with(file, settings, scope) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let seed = seed.unwrap_or_else(|| report::report_seed(&scenario));
        let built = report::generate(&scenario, seed);
        let dir = report::report_dir(out, &scenario);
        if let Err(e) = report::write(&dir, &built) {
            eprintln!("error: cannot write {}: {e}", dir.display());
            return EXIT_OUTPUT;
        }
        println!("wrote {}/report.html and README.md ({} seed {seed})", dir.display(), scenario.name);
    }
    0
}
