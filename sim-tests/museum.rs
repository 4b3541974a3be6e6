//! The `history` theme, a museum of Kafka's own bugs: each entry is a pair of files that
//! differ only in `kafka_version`. Every seed of the old release shows the bug (each of
//! its anomalies in some seed), and the release that fixed it shows nothing its text does
//! not explain.

use crate::support::{describe, kinds, load, run, scenario_path};
use kafkasim::check::AnomalyKind;
use kafkasim::runner::Status;
use kafkasim::scenario::{self, FaultSpec, Scenario, SetScope, Setting, Theme};

/// Each entry: the release with the bug, then the release with the fix.
const MUSEUM: &[(&str, &str)] = &[
    ("kip101-truncate-to-hw", "kip101-leader-epoch"),
    ("jepsen-2013-acks-all", "jepsen-2013-acks-all-today"),
    ("kip320-consumer-truncation", "kip320-consumer-truncation-fixed"),
    ("kip279-clean-fast-failover", "kip279-clean-fast-failover-fixed"),
    ("kip360-unknown-producer", "kip360-unknown-producer-fixed"),
    ("kafka7164-missed-leader-epoch", "kafka7164-missed-leader-epoch-fixed"),
    ("kip966-last-replica-standing", "kip966-last-replica-standing-fixed"),
    ("kip903-zombie-broker", "kip903-zombie-broker-fixed"),
    ("kip890-late-write", "kip890-late-write-fixed"),
    ("kafka17754-late-end-txn", "kafka17754-late-end-txn-fixed"),
];

/// `name` as written, but under the release `version`.
fn under(name: &str, version: &str) -> Scenario {
    let setting: Setting = format!("kafka_version={version}").parse().unwrap();
    scenario::load_with(&scenario_path(name), &[setting], SetScope::OneScenario).unwrap_or_else(|e| panic!("{e}"))
}

/// The kinds a scenario's lesson and mechanism name.
fn named_in_text(s: &Scenario) -> Vec<AnomalyKind> {
    let text = format!("{} {}", s.lesson.as_deref().unwrap_or(""), s.mechanism.as_deref().unwrap_or(""));
    AnomalyKind::ALL.into_iter().filter(|k| text.contains(k.name())).collect()
}

#[test]
fn every_museum_entry_is_one_scenario_under_two_releases() {
    for &(old_name, fixed_name) in MUSEUM {
        let (old, fixed) = (load(old_name), load(fixed_name));
        assert_eq!((old.theme, fixed.theme), (Some(Theme::History), Some(Theme::History)), "{old_name}");
        assert!(old.profile.version < fixed.profile.version, "{old_name}: the bug's release comes first");
        let moved = under(old_name, &fixed.profile.version.to_string());
        // Faults compared without the line they are written on.
        let faults = |s: &Scenario| s.faults.iter().map(|f| FaultSpec { line: 0, ..f.clone() }).collect::<Vec<_>>();
        let same = |a: &Scenario, b: &Scenario| {
            (&a.cluster, &a.network, &a.topics, &a.producers, &a.consumers, faults(a), &a.seeds, a.duration_ms)
                == (&b.cluster, &b.network, &b.topics, &b.producers, &b.consumers, faults(b), &b.seeds, b.duration_ms)
        };
        assert!(same(&moved, &fixed), "{fixed_name} is {old_name} under Kafka {}", fixed.profile.version);
    }
}

#[test]
fn every_museum_entry_shows_its_bug_in_the_old_release_and_not_in_the_new() {
    for &(old_name, fixed_name) in MUSEUM {
        let old = load(old_name);
        if old.expect.present.is_empty() {
            // The bug is a failed send, not an anomaly: its own test counts them
            // (kip360_museum_… in scenarios.rs).
            continue;
        }
        let mut shown = Vec::new();
        for &seed in &old.seeds {
            let outcome = run(&old, seed);
            let found: Vec<AnomalyKind> =
                kinds(&outcome).into_iter().filter(|k| old.expect.present.contains(k)).collect();
            assert!(!found.is_empty(), "the bug does not show: {}", describe(&outcome));
            assert_ne!(outcome.verdict(&old).status(), Status::SafetyFailure, "{}", describe(&outcome));
            shown.extend(found);
        }
        for kind in &old.expect.present {
            assert!(shown.contains(kind), "{old_name}: no seed shows {kind}");
        }
        let fixed = load(fixed_name);
        let explained = named_in_text(&fixed);
        for &seed in &fixed.seeds {
            let outcome = run(&fixed, seed);
            assert_eq!(outcome.verdict(&fixed).status(), Status::Pass, "{}", describe(&outcome));
            let unexplained: Vec<AnomalyKind> =
                kinds(&outcome).into_iter().filter(|k| !explained.contains(k)).collect();
            assert!(unexplained.is_empty(), "{unexplained:?} not in {fixed_name}'s text: {}", describe(&outcome));
        }
    }
}
