//! `kafkasim report FILE... [--seed N] [--out DIR] [--lang LANG]`: runs each scenario's
//! report seed (its first seed unless `--seed` says otherwise) and writes `report.html`
//! and `README.md` (English) and `report.zh.html` and `README.zh.md` (Chinese) into
//! `DIR/<scenario>/` (default `reports/`); `--lang` writes one language only.

use super::{load_with, EXIT_OUTPUT};
use crate::report;
use crate::scenario::{Lang, SetScope, Setting};
use std::path::Path;

/// Writes the reports in each of `langs`; returns the exit code.
pub fn report(
    files: &[std::path::PathBuf],
    settings: &[Setting],
    seed: Option<u64>,
    out: &Path,
    langs: &[Lang],
) -> i32 {
    // One file: every setting must find its table; many: each takes what it has.
    let scope = if files.len() == 1 { SetScope::OneScenario } else { SetScope::Catalog };
    for file in files {
        let scenario = match load_with(file, settings, scope) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let seed = seed.unwrap_or_else(|| report::report_seed(&scenario));
        let dir = report::report_dir(out, &scenario);
        for built in report::generate(&scenario, seed, langs) {
            if let Err(e) = report::write(&dir, &built) {
                eprintln!("error: cannot write {}: {e}", dir.display());
                return EXIT_OUTPUT;
            }
            let (html, markdown) = report::Report::file_names(built.lang);
            println!("wrote {}/{html} and {markdown} ({} seed {seed})", dir.display(), scenario.name);
        }
    }
    0
}
