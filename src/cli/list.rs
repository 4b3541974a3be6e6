//! `kafkasim list [DIR]`: every scenario with its one-line lesson, grouped by theme.

use crate::scenario::{self, Scenario, Theme};
use std::path::Path;

/// Reads every `*.toml` in `dir`, sorted by file name; an invalid file is an error.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>, i32> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        eprintln!("error: cannot read directory {}: {e}", dir.display());
        super::EXIT_NO_INPUT
    })?;
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            scenario::load(f).map_err(|error| {
                eprintln!("error: {error}");
                super::EXIT_INPUT
            })
        })
        .collect()
}

/// The catalog as text: one section per theme in catalog order (then scenarios without
/// a theme), one line per scenario with its title.
pub fn render_list(scenarios: &[Scenario]) -> String {
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    let sections = Theme::ALL.iter().map(|t| (t.name(), Some(*t))).chain([("other", None)]);
    for (name, theme) in sections {
        let members: Vec<&Scenario> = scenarios.iter().filter(|s| s.theme == theme).collect();
        if members.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out += &format!("{name}\n");
        for s in members {
            let line = s.title.as_deref().or(s.lesson.as_deref()).unwrap_or("(no title)");
            out += &format!("  {:width$}  {line}\n", s.name);
        }
    }
    out
}

/// Prints the catalog; returns the exit code.
pub fn list(dir: &Path) -> i32 {
    match load_dir(dir) {
        Ok(scenarios) => {
            print!("{}", render_list(&scenarios));
            println!("\nRun one with `kafkasim run FILE --seed N`; `kafkasim explain FILE --seed N` tells each anomaly's story. The guide: scenarios/README.md.");
            0
        }
        Err(code) => code,
    }
}
