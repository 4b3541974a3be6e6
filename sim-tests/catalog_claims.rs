//! The catalog's claims come from runs: `scenarios/CLAIMS.md` is what
//! `kafkasim suite scenarios/ --claims scenarios/CLAIMS.md` found (regenerated and
//! compared by CI's suite step), and the prose that teaches from it may not say more.
//! Each lesson of the README's catalog table and of `scenarios/README.md` names only
//! anomaly kinds some seed of its scenarios showed, and names every kind its lesson is
//! about (`[expect] present`). The reports test checks each report seed against it too.

use kafkasim::check::AnomalyKind;
use kafkasim::report::claims::{self, Claim};
use kafkasim::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The committed claims: scenario name -> what its seeds showed.
pub fn committed_claims() -> BTreeMap<String, Claim> {
    claims::parse(&read("scenarios/CLAIMS.md")).unwrap_or_else(|e| panic!("scenarios/CLAIMS.md: {e}"))
}

fn catalog() -> BTreeMap<String, Scenario> {
    crate::support::catalog().into_iter().map(|s| (s.name.clone(), s)).collect()
}

/// The words of `text` written in backticks.
fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The scenarios a lesson's text names in its subject: full names, and `-suffix` twins
/// of a name before (`acks-all-min-isr-1` / `-2`, `unclean-election` / `-disabled`,
/// `backlog-remedies` / `-more-partitions` / `-relay`).
fn subjects(names: &[&str], catalog: &BTreeMap<String, Scenario>) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for name in names {
        if catalog.contains_key(*name) {
            found.push(name.to_string());
        } else if let Some(suffix) = name.strip_prefix('-') {
            let twin = found
                .iter()
                .rev()
                .flat_map(|before| {
                    let replaced = before.rsplit_once('-').map(|(stem, _)| format!("{stem}-{suffix}"));
                    [Some(format!("{before}-{suffix}")), replaced]
                })
                .flatten()
                .find(|n| catalog.contains_key(n));
            found.push(twin.unwrap_or_else(|| panic!("`{name}` after {found:?} names no scenario")));
        }
    }
    found
}

/// What is wrong with one lesson's text: the kinds it names that none of its scenarios
/// showed (a kind one of them forbids, `[expect] absent`, may be named: the text says
/// it never happens, and the suite fails if it does), and the kinds its scenarios'
/// lessons are about that it does not name.
fn check_lesson(
    place: &str,
    text: &str,
    scenarios: &[String],
    catalog: &BTreeMap<String, Scenario>,
    claims: &BTreeMap<String, Claim>,
) -> Vec<String> {
    let named: BTreeSet<AnomalyKind> = backticked(text).into_iter().filter_map(AnomalyKind::from_name).collect();
    let shown: BTreeSet<AnomalyKind> =
        scenarios.iter().filter_map(|s| claims.get(s)).flat_map(|c| c.kinds.keys().copied()).collect();
    let forbidden: BTreeSet<AnomalyKind> = scenarios.iter().flat_map(|s| catalog[s].expect.absent.clone()).collect();
    let mut problems = Vec::new();
    for kind in named.iter().filter(|k| !shown.contains(k) && !forbidden.contains(k)) {
        problems.push(format!(
            "{place} names `{}`, which no seed of {scenarios:?} showed and none of them forbids",
            kind.name()
        ));
    }
    for s in scenarios {
        for kind in catalog[s].expect.present.iter().filter(|k| !named.contains(k)) {
            problems.push(format!("{place} does not name `{}`, the anomaly `{s}` is about", kind.name()));
        }
    }
    problems
}

fn assert_no_problems(problems: Vec<String>, what: &str) {
    assert!(
        problems.is_empty(),
        "{what} disagrees with scenarios/CLAIMS.md (regenerate it with `kafkasim suite scenarios/ --claims \
         scenarios/CLAIMS.md` if the runs changed, else correct the text):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_claims_document_lists_every_catalog_scenario_with_its_seeds_and_lessons() {
    let catalog = catalog();
    let claims = committed_claims();
    let mut problems = Vec::new();
    for (name, sc) in &catalog {
        let Some(claim) = claims.get(name) else {
            problems.push(format!("`{name}` has no row"));
            continue;
        };
        if claim.seeds != sc.seeds.len() {
            problems.push(format!("`{name}`: {} seeds listed, the file runs {}", claim.seeds, sc.seeds.len()));
        }
        // The suite passed when it was written: what the lesson needs appeared, nothing
        // it forbids did.
        for kind in sc.expect.present.iter().filter(|k| !claim.kinds.contains_key(k)) {
            problems.push(format!("`{name}` expects `{}`, which no seed showed", kind.name()));
        }
        for kind in sc.expect.absent.iter().filter(|k| claim.kinds.contains_key(k)) {
            problems.push(format!("`{name}` forbids `{}`, which a seed showed", kind.name()));
        }
    }
    problems.extend(claims.keys().filter(|n| !catalog.contains_key(*n)).map(|n| format!("`{n}` is not in scenarios/")));
    assert_no_problems(problems, "scenarios/CLAIMS.md");
}

#[test]
fn the_readme_catalog_names_only_anomalies_its_scenarios_showed_and_each_lessons_own() {
    let (catalog, claims) = (catalog(), committed_claims());
    let readme = read("README.md");
    let table = readme.split("## Scenario catalog").nth(1).expect("the README has a scenario catalog");
    let mut listed = BTreeSet::new();
    let mut problems = Vec::new();
    for row in table.lines().skip_while(|l| !l.starts_with("|---")).skip(1).take_while(|l| l.starts_with('|')) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let scenarios = subjects(&backticked(cells[0]), &catalog);
        assert!(!scenarios.is_empty(), "a catalog row names no scenario: {row}");
        listed.extend(scenarios.iter().cloned());
        let place = format!("the README's row for {}", scenarios.join(", "));
        problems.extend(check_lesson(&place, cells[2..].join(" | ").as_str(), &scenarios, &catalog, &claims));
    }
    problems.extend(catalog.keys().filter(|n| !listed.contains(*n)).map(|n| format!("`{n}` has no catalog row")));
    assert_no_problems(problems, "the README's scenario catalog");
}

#[test]
fn the_guide_names_only_anomalies_its_lessons_showed_and_each_lessons_own() {
    let (catalog, claims) = (catalog(), committed_claims());
    let guide = read("scenarios/README.md");
    let is_entry = |line: &str| {
        let numbered = line.split_once(". **").is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        numbered || line.starts_with("- **")
    };
    // Each entry runs from its first line to the next entry or heading.
    let mut entries: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in guide.lines() {
        if is_entry(line) || line.starts_with('#') {
            entries.extend(current.take());
            current = is_entry(line).then(|| line.to_string());
        } else if let Some(entry) = &mut current {
            entry.push('\n');
            entry.push_str(line);
        }
    }
    entries.extend(current);
    let mut problems = Vec::new();
    for entry in &entries {
        let bold: Vec<&str> = entry.split("**`").skip(1).filter_map(|s| s.split_once("`**").map(|(n, _)| n)).collect();
        let scenarios = subjects(&bold, &catalog);
        if scenarios.is_empty() {
            continue;
        }
        let place = format!("the guide's entry for {}", scenarios.join(", "));
        problems.extend(check_lesson(&place, entry, &scenarios, &catalog, &claims));
    }
    assert_no_problems(problems, "scenarios/README.md");
}
