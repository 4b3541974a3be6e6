//! The committed reports under `reports/` are exactly what `kafkasim report` writes for the
//! catalog at each scenario's report seed (its first seed): a fresh regeneration must give
//! the same bytes, and that seed shows every anomaly its lesson is about. When this fails after an intended change, regenerate them with
//!
//!     cargo run --release -- report scenarios/*.toml
//!
//! and commit the result.

use crate::support::catalog;
use kafkasim::report;
use kafkasim::runner::sweep::default_jobs;
use kafkasim::scenario::{self, Lang};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first difference between two texts, as a line number and both lines.
fn first_difference(committed: &str, fresh: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (committed.lines().collect(), fresh.lines().collect());
    let line = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let show = |l: Option<&&str>| l.map_or("(end of file)".to_string(), |s| s.chars().take(200).collect());
    format!("line {}: committed `{}`, regenerated `{}`", line + 1, show(a.get(line)), show(b.get(line)))
}

fn compare(path: &Path, fresh: &str) -> Option<String> {
    match std::fs::read_to_string(path) {
        Err(_) => Some(format!("{} is missing", path.display())),
        Ok(committed) if committed != fresh => {
            Some(format!("{} differs at {}", path.display(), first_difference(&committed, fresh)))
        }
        Ok(_) => None,
    }
}

#[test]
fn committed_reports_match_a_fresh_regeneration() {
    let scenarios = catalog();
    let claims = crate::catalog_claims::committed_claims();
    let problems = Mutex::new(Vec::new());
    let next = Mutex::new(scenarios.iter());
    std::thread::scope(|scope| {
        for _ in 0..default_jobs().clamp(1, 4) {
            scope.spawn(|| loop {
                let Some(sc) = next.lock().unwrap().next() else { break };
                let seed = report::report_seed(sc);
                let outcome = kafkasim::runner::run_seed(sc, seed);
                // The documented seed shows the lesson: every anomaly it is about, or a
                // clean run.
                let verdict = outcome.verdict(sc);
                if !verdict.forbidden.is_empty() || outcome.panic.is_some() {
                    problems.lock().unwrap().push(format!("{} seed {seed} fails its expectations", sc.name));
                }
                for kind in sc.expect.present.iter().filter(|k| !verdict.counts.contains_key(k)) {
                    problems.lock().unwrap().push(format!(
                        "{} seed {seed} (the report's) does not show `{}`, which its lesson is about",
                        sc.name,
                        kind.name()
                    ));
                }
                // What the report shows, the suite found (scenarios/CLAIMS.md).
                let claimed = claims.get(&sc.name).map(|c| &c.kinds);
                for kind in verdict.counts.keys().filter(|k| !claimed.is_some_and(|c| c.contains_key(k))) {
                    problems.lock().unwrap().push(format!(
                        "{} seed {seed} shows `{}`, which scenarios/CLAIMS.md does not list",
                        sc.name,
                        kind.name()
                    ));
                }
                let dir = report::report_dir(&root().join("reports"), sc);
                for fresh in report::build(sc, &outcome, &Lang::ALL) {
                    let (html, markdown) = report::Report::file_names(fresh.lang);
                    for (file, text) in [(html, &fresh.html), (markdown, &fresh.markdown)] {
                        if let Some(problem) = compare(&dir.join(file), text) {
                            problems.lock().unwrap().push(problem);
                        }
                    }
                }
            });
        }
    });
    let mut problems = problems.into_inner().unwrap();
    // A report whose scenario is gone is stale too.
    for entry in std::fs::read_dir(root().join("reports")).expect("reports/ exists").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !scenarios.iter().any(|s| s.name == name) {
            problems.push(format!("reports/{name}/ has no scenario in scenarios/ (remove it)"));
        }
    }
    problems.sort();
    assert!(
        problems.is_empty(),
        "the committed reports are not what the code generates:\n  {}\nregenerate them with `cargo run --release -- report scenarios/*.toml` and commit the result",
        problems.join("\n  ")
    );
}

#[test]
fn records_without_a_key_reach_consumers_out_of_send_order_and_keyed_records_do_not() {
    for (file, overtaken_somewhere) in [("ordering-unkeyed.toml", true), ("ordering-keyed.toml", false)] {
        let sc = scenario::load(&root().join("scenarios").join(file)).unwrap();
        for &seed in &sc.seeds {
            let outcome = kafkasim::runner::run_seed(&sc, seed);
            assert!(outcome.anomalies.is_empty(), "{file} seed {seed}: {:?}", outcome.counts());
            let overtaken = report::overtaken_across_partitions(&outcome.history);
            assert_eq!(overtaken > 0, overtaken_somewhere, "{file} seed {seed}: {overtaken} overtaken");
        }
    }
}
