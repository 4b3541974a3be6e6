//! The producer end to end: runs where the producer's own rules decide the outcome.

use crate::support::{describe, kinds, run};
use kafkasim::check::AnomalyKind;
use kafkasim::scenario::{self, Scenario};
use std::path::Path;

/// Parses an inline scenario.
fn inline(text: &str) -> Scenario {
    scenario::parse(text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Issue 14's fuzz reproducer: a sync producer over three single-replica partitions.
/// On these seeds its second record goes to a partition whose leader the first metadata
/// answer did not know yet; the sender asked for metadata but slept until the batch's
/// delivery timeout instead of refreshing, so the send was never answered (`no-progress`,
/// "2 invoked, 1 acknowledged").
#[test]
fn a_sync_producer_whose_partition_leader_is_unknown_refreshes_metadata_and_goes_on() {
    for acks in ["0", "1", "all"] {
        let scenario = inline(&format!(
            "seeds = [9]\nduration = \"5s\"\n[cluster]\nbrokers = 3\n\
             [[topics]]\nname = \"orders\"\npartitions = 3\n\"replication.factor\" = 1\n\
             [[producers]]\ntopic = \"orders\"\nrate_per_sec = 11\nsend = \"sync\"\n\
             [producers.config]\nacks = \"{acks}\"\n"
        ));
        for seed in [42, 45, 93, 144, 195, 201, 209, 227] {
            let outcome = run(&scenario, seed);
            assert!(!kinds(&outcome).contains(&AnomalyKind::NoProgress), "acks={acks}: {}", describe(&outcome));
            assert!(outcome.stats.sent > 40, "acks={acks}: {}", describe(&outcome));
        }
    }
}
