//! The module layering documented in `scenario/mod.rs`: every `super::` path in a
//! scenario module names a module of a lower layer, so the modules import each other
//! without a cycle.

use std::path::Path;

/// The scenario modules, bottom first; a module may use only modules before it. Same
/// order as the layers in the module documentation.
const ORDER: &[&str] = &[
    "span",
    "keys",
    "limits",
    "error",
    "values",
    "overrides",
    "experiment",
    "model_rate",
    "model_clients",
    "model_faults",
    "model_events",
    "model_delay_queues",
    "model_texts",
    "model",
    "raw",
    "fields",
    "target",
    "fix",
    "texts",
    "group_protocol",
    "hardware",
    "rate",
    "workload",
    "dead_letter",
    "pipelines",
    "delay_queues",
    "faults",
    "events",
    "nemesis",
    "kraft",
    "swarm_settings",
    "swarm",
    "validate",
    "effective",
];

/// The module names each `super::` path of `text` starts with (`super::{a, b}` gives
/// both), outside comments.
fn super_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        for (i, _) in line.match_indices("super::") {
            let rest = &line[i + "super::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())].split(',').collect(),
                None => vec![rest],
            };
            for name in names {
                let ident: String = name.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !ident.is_empty() && ident != "self" {
                    out.push(ident);
                }
            }
        }
    }
    out
}

#[test]
fn every_scenario_module_uses_only_the_layers_below_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scenario");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("src/scenario is readable") {
        let path = entry.expect("a directory entry").path();
        let module = path.file_stem().and_then(|s| s.to_str()).expect("a file name").to_string();
        if module == "mod" || module.starts_with("tests") {
            continue;
        }
        let rank = ORDER.iter().position(|m| *m == module);
        let rank = rank.unwrap_or_else(|| panic!("`{module}` is not in ORDER; give it a layer here and in mod.rs"));
        let text = std::fs::read_to_string(&path).expect("a readable module");
        for used in super_paths(&text) {
            match ORDER.iter().position(|m| *m == used) {
                Some(r) if r < rank => {}
                Some(_) => panic!("`{module}` uses `{used}`, which is not in a layer below it"),
                None => panic!("`{module}` uses `super::{used}`; import it from the module that defines it"),
            }
        }
        seen.push(module);
    }
    assert_eq!(seen.len(), ORDER.len(), "every module of ORDER exists: {seen:?}");
}

#[test]
fn super_paths_reads_single_and_grouped_imports() {
    let text = "use super::raw::{Node, Table};\n// super::model in a comment\nuse super::{faults, nemesis};\n\
                let x = super::span::Sp { value };";
    assert_eq!(super_paths(text), ["raw", "faults", "nemesis", "span"]);
}
