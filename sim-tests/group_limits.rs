//! The group coordinator's limits, end to end: a member whose `session.timeout.ms` the
//! brokers refuse never joins, as with a real cluster.

use crate::support::{describe, kinds, run};
use kafkasim::check::AnomalyKind;
use kafkasim::history::{OpFn, OpType};
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::{self, Scenario};
use std::path::Path;

/// Two group members on a three-broker cluster, with `session.timeout.ms` as given and
/// `cluster_config` lines in `[cluster.config]`.
fn group_with_session_timeout(session_timeout_ms: u64, cluster_config: &str) -> Scenario {
    let text = format!(
        "seeds = [1]\nduration = \"5s\"\n[cluster]\nbrokers = 3\n[cluster.config]\n{cluster_config}\n\
         [[topics]]\nname = \"orders\"\npartitions = 2\n\"replication.factor\" = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 20\nsend = \"async\"\n\
         [[consumers]]\ncount = 2\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"billing\"\n\
         [consumers.config]\n\"auto.offset.reset\" = \"earliest\"\n\"session.timeout.ms\" = {session_timeout_ms}\n\
         \"heartbeat.interval.ms\" = 1000\n"
    );
    scenario::parse(&text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that each member's poll() threw INVALID_SESSION_TIMEOUT and nobody joined.
fn assert_refused(outcome: &RunOutcome) {
    let ops = &outcome.history.ops;
    let refused: Vec<_> = ops.iter().filter(|o| o.f == OpFn::Poll && o.kind == OpType::Fail).collect();
    assert_eq!(refused.len(), 2, "each member's poll() throws: {}", describe(outcome));
    assert!(refused.iter().all(|o| o.error.as_deref() == Some("INVALID_SESSION_TIMEOUT")));
    assert!(!ops.iter().any(|o| o.f == OpFn::Assign && o.group.is_some()), "nobody joined");
    assert!(kinds(outcome).contains(&AnomalyKind::NoProgress), "{}", describe(outcome));
}

/// Asserts that the group formed and consumed.
fn assert_joined(outcome: &RunOutcome) {
    assert!(outcome.history.ops.iter().any(|o| o.f == OpFn::Assign && o.group.is_some()), "{}", describe(outcome));
    assert!(!kinds(outcome).contains(&AnomalyKind::NoProgress), "{}", describe(outcome));
}

#[test]
fn a_session_timeout_above_the_brokers_limit_fails_the_consumer_with_invalid_session_timeout() {
    // group.max.session.timeout.ms is 1800000 (30 minutes) by default.
    assert_refused(&run(&group_with_session_timeout(1_800_001, ""), 1));
    // At the limit, the group forms and consumes.
    assert_joined(&run(&group_with_session_timeout(1_800_000, ""), 1));
    // A lower limit set on the brokers applies.
    let lowered = "\"group.max.session.timeout.ms\" = 20000";
    assert_refused(&run(&group_with_session_timeout(20_001, lowered), 1));
}

#[test]
fn a_session_timeout_below_the_brokers_limit_is_refused_unless_the_limit_is_lowered() {
    // group.min.session.timeout.ms is 6000 by default.
    assert_refused(&run(&group_with_session_timeout(5_999, ""), 1));
    assert_joined(&run(&group_with_session_timeout(6_000, ""), 1));
    // An operator may lower it, as the catalog's fast scenarios do.
    assert_joined(&run(&group_with_session_timeout(3_000, "\"group.min.session.timeout.ms\" = 3000"), 1));
}
