//! The first lesson, `healthy-cluster`: before any fault, keys stay in their partitions,
//! no leader changes, every acknowledged record is read once, and the group splits the
//! partitions two and one (the range assignor).

use crate::support::{describe, kinds, load, run};
use kafkasim::coverage::ReachedState;
use kafkasim::history::{ElectionReason, Event};

#[test]
fn a_healthy_cluster_shows_no_anomaly_no_leader_change_and_a_range_assignment() {
    let scenario = load("healthy-cluster");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(kinds(&outcome).is_empty(), "{}", describe(&outcome));
        assert_eq!(outcome.stats.acked, outcome.stats.consumed, "{}", describe(&outcome));
        assert!(outcome.reached.contains(ReachedState::RebalanceCompleted), "seed {seed}: {:?}", outcome.reached);
        // Leaders are elected once, when the topic is created, and never again.
        let later_elections = outcome.history.trace.iter().filter(
            |e| matches!(&e.event, Event::LeaderElection { reason, .. } if *reason != ElectionReason::TopicCreation),
        );
        assert_eq!(later_elections.count(), 0, "seed {seed}: {}", describe(&outcome));
        // The range assignor's split of three partitions over two members.
        let rebalances = kafkasim::check::groups::rebalances(&outcome.history);
        let last = rebalances.last().unwrap_or_else(|| panic!("seed {seed}: no rebalance"));
        assert_eq!(last.assignment_line(), "consumer-1 orders-0,1 | consumer-2 orders-2", "seed {seed}");
    }
}
