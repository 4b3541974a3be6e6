//! The backlog lesson (`backlog-remedies`): producers outrun a consumer group, its lag
//! grows, retention deletes records it never read and the group skips them; its remedies,
//! more partitions (`-more-partitions`) and a relay to a wider topic that spreads its
//! output (`-relay`), keep the lag small and delete nothing unread.

use crate::support::{describe, kinds, load, run, scenario_path};
use kafkasim::check::AnomalyKind;
use kafkasim::history::RunPhase;
use kafkasim::report::lag::{group_lags, BacklogSummary, GroupLag};
use kafkasim::runner::{RunOutcome, Status};
use kafkasim::scenario::{self, SetScope, Setting};

/// The `analytics` group's lag in a run.
fn analytics(outcome: &RunOutcome) -> GroupLag {
    group_lags(&outcome.history)
        .into_iter()
        .find(|g| g.group == "analytics")
        .unwrap_or_else(|| panic!("no lag for the analytics group: {}", describe(outcome)))
}

#[test]
fn a_group_slower_than_its_producers_falls_behind_retention_and_skips_what_it_never_read() {
    let scenario = load("backlog-remedies");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), Status::Pass, "{}", describe(&outcome));
        // Two partitions for six members: four idle.
        let rebalances = kafkasim::check::groups::rebalances(&outcome.history);
        let last = rebalances.iter().rfind(|r| r.group == "analytics").expect("the group formed");
        assert_eq!((last.members, last.idle), (6, 4), "seed {seed}: {last:?}");
        // The lag grows to hundreds of records per partition before retention overtakes
        // the group, then drops as the reset jumps it to the end.
        let liveness = outcome.history.phase_start_ns(RunPhase::Liveness).expect("a liveness phase");
        for p in &analytics(&outcome).partitions {
            let (peak_at, peak) = p.peak().expect("the group committed");
            assert!(peak > 500 && peak_at < liveness, "seed {seed}: {} peaked at {peak}", p.tp);
            let after = p.points.iter().filter(|&&(t, _)| t > peak_at && t < liveness);
            assert!(after.clone().any(|&(_, lag)| lag < 100), "seed {seed}: {} never dropped after its peak", p.tp);
            assert!(p.deleted_unread() > 0, "seed {seed}: retention deleted nothing of {} unread", p.tp);
        }
        // The skip is consume-skip's, and its records include ones retention deleted.
        let skipped_deleted = outcome
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::ConsumeSkip)
            .flat_map(|a| &a.records)
            .any(|r| r.note.contains("deleted by retention"));
        assert!(skipped_deleted, "seed {seed}: {}", describe(&outcome));
        let found = kinds(&outcome);
        assert!(!found.contains(&AnomalyKind::LostWrite) && !found.contains(&AnomalyKind::Unseen), "seed {seed}");
    }
}

#[test]
fn more_partitions_or_a_relay_that_spreads_keep_the_lag_small_and_delete_nothing_unread() {
    let lesson = load("backlog-remedies");
    for name in ["backlog-remedies-more-partitions", "backlog-remedies-relay"] {
        let remedy = load(name);
        for &seed in &remedy.seeds {
            let outcome = run(&remedy, seed);
            assert_eq!(outcome.verdict(&remedy).status(), Status::Pass, "{}", describe(&outcome));
            let without = BacklogSummary::of(&run(&lesson, seed).history).expect("the lesson's group commits");
            let with = BacklogSummary::of(&outcome.history).expect("the remedy's groups commit");
            assert_eq!(with.deleted_unread, 0, "{name} seed {seed}: {with:?}");
            assert!(without.deleted_unread > 1_000, "lesson seed {seed}: {without:?}");
            assert!(with.peak_lag * 4 < without.peak_lag, "{name} seed {seed}: {with:?} against {without:?}");
            for p in &analytics(&outcome).partitions {
                assert!(p.peak().is_some_and(|(_, lag)| lag < 300), "{name} seed {seed}: {p:?}");
            }
        }
    }
}

#[test]
fn a_relay_to_the_same_numbered_partitions_leaves_the_wider_topic_mostly_idle() {
    let settings = [Setting { key: "output_partitioner".into(), value: "same-partition".into() }];
    let relay = scenario::load_with(&scenario_path("backlog-remedies-relay"), &settings, SetScope::OneScenario)
        .unwrap_or_else(|e| panic!("{e}"));
    let outcome = run(&relay, relay.seeds[0]);
    let lags = analytics(&outcome);
    let busy: Vec<&str> =
        lags.partitions.iter().filter(|p| p.peak().is_some_and(|(_, lag)| lag > 0)).map(|p| p.tp.as_str()).collect();
    assert_eq!(busy, ["clicks-wide-0", "clicks-wide-1"], "{}", describe(&outcome));
    assert!(lags.partitions.iter().map(|p| p.deleted_unread()).sum::<u64>() > 1_000, "{}", describe(&outcome));
    assert!(kinds(&outcome).contains(&AnomalyKind::ConsumeSkip), "{}", describe(&outcome));
}
