//! `kafkasim list [DIR]`: every scenario with its one-line lesson, grouped by theme.

use crate::scenario::{self, Lang, Scenario, Theme};
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

/// Orders scenarios as the guide's tour (`scenarios/README.md` from its first numbered
/// section, `## 0.`, on) first names them (`` `NAME` ``); those it does not name keep
/// their order, after the others.
pub fn in_guide_order(scenarios: &mut [Scenario], guide: &str) {
    let numbered =
        |line: &str| line.strip_prefix("## ").is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
    let tour_start =
        guide.lines().find(|line| numbered(line)).map_or(0, |line| line.as_ptr() as usize - guide.as_ptr() as usize);
    let tour = &guide[tour_start..];
    scenarios.sort_by_key(|s| tour.find(&format!("`{}`", s.name)).unwrap_or(usize::MAX));
}

/// The catalog as text: one section per theme in catalog order (then scenarios without
/// a theme), one line per scenario with its title, headings and titles in `lang` (a
/// scenario without that language's title shows its English one).
pub fn render_list(scenarios: &[Scenario], lang: Lang) -> String {
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    let sections = Theme::ALL.iter().map(|t| Some(*t)).chain([None]);
    for theme in sections {
        let members: Vec<&Scenario> = scenarios.iter().filter(|s| s.theme == theme).collect();
        if members.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out += &format!("{}\n", Theme::heading(lang, theme));
        for s in members {
            let texts = s.texts(lang);
            let line = texts.title.as_deref().or(texts.lesson.as_deref()).unwrap_or("(no title)");
            out += &format!("  {:width$}  {line}\n", s.name);
        }
    }
    out
}

/// Prints the catalog in `lang`; returns the exit code.
pub fn list(dir: &Path, lang: Lang) -> i32 {
    match load_dir(dir) {
        Ok(mut scenarios) => {
            // The guide beside the scenarios, if any, gives the reading order.
            if let Ok(guide) = std::fs::read_to_string(dir.join("README.md")) {
                in_guide_order(&mut scenarios, &guide);
            }
            print!("{}", render_list(&scenarios, lang));
            match lang {
                Lang::En => println!("\nRun one with `kafkasim run FILE --seed N`; `kafkasim explain FILE --seed N` tells each anomaly's story. The guide: scenarios/README.md."),
                Lang::Zh => println!("\n用 `kafkasim run FILE --seed N` 运行一个场景；`kafkasim explain FILE --seed N --lang zh` 用中文讲述每个异常的经过；`kafkasim report FILE --lang zh` 写出中文报告。指南：scenarios/README.zh.md（英文版：scenarios/README.md）。"),
            }
            0
        }
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Scenario {
        let text = "seeds = [1]\nduration = \"1s\"\n[[topics]]\nname = \"orders\"\n[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\n";
        scenario::parse(text, Path::new(&format!("{name}.toml"))).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_catalog_lists_scenarios_in_the_order_the_guide_names_them() {
        let guide = "# Tour\n`acks0` first in the preface\n## 0. Basics\n**`healthy-cluster`**, then `acks1` (again `healthy-cluster`)\n## 1. Loss\n`acks0`";
        let mut scenarios: Vec<Scenario> = ["acks0", "acks1", "healthy-cluster", "zzz"].map(named).into();
        in_guide_order(&mut scenarios, guide);
        let names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["healthy-cluster", "acks1", "acks0", "zzz"]);
    }
}
