//! `kafka_version`: a release's defaults apply where the file is silent, an explicit
//! setting wins, and an unmodelled release is an error at its position.

use std::path::Path;

use super::*;
use crate::protocol::{Acks, TruncationMode};

fn ok(text: &str) -> Scenario {
    parse(text, Path::new("scenarios/x.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// A scenario under `version` with one producer; `producer_config` is its config table.
fn under(version: &str, cluster: &str, producer_config: &str) -> Scenario {
    ok(&format!(
        "kafka_version = \"{version}\"\nseeds = [1]\nduration = \"1s\"\n{cluster}\n[[topics]]\nname = \"t\"\n\
         [[producers]]\ntopic = \"t\"\nrate_per_sec = 1\n{producer_config}\n"
    ))
}

#[test]
fn a_release_sets_the_defaults_of_its_time() {
    let old = under("0.10.2", "", "");
    assert_eq!(old.cluster.truncation, TruncationMode::Legacy);
    assert!(old.cluster.config.unclean_leader_election_enable);
    let p = &old.producers[0].config;
    assert_eq!((p.acks, p.retries, p.enable_idempotence), (Acks::Leader, 0, false));

    assert_eq!(old.cluster.config.zookeeper_session_timeout_ms, 6_000, "KIP-537 came with 2.5");
    assert_eq!(under("2.5", "", "").cluster.config.zookeeper_session_timeout_ms, 18_000);
    let set = under("2.4", "[cluster.config]\n\"zookeeper.session.timeout.ms\" = 9000", "");
    assert_eq!(set.cluster.config.zookeeper_session_timeout_ms, 9_000);

    let kip101 = under("1.1", "", "");
    assert_eq!(kip101.cluster.truncation, TruncationMode::LeaderEpochKip101);
    assert!(!kip101.cluster.config.unclean_leader_election_enable);

    let today = under("3.9", "", "");
    assert_eq!(today.cluster.truncation, TruncationMode::LeaderEpoch);
    assert_eq!((today.producers[0].config.acks, today.producers[0].config.enable_idempotence), (Acks::All, true));
    let default = ok("seeds = [1]\nduration = \"1s\"\n");
    assert_eq!(default.profile, crate::profile::Profile::default());
    assert_eq!(default.cluster, ok("kafka_version = \"3.9\"\nseeds = [1]\nduration = \"1s\"\n").cluster);
}

#[test]
fn an_explicit_setting_wins_over_the_release() {
    let s = under(
        "0.10.2",
        "[cluster]\ntruncation = \"leader-epoch\"\n[cluster.config]\n\"unclean.leader.election.enable\" = false",
        "[producers.config]\nacks = \"all\"",
    );
    assert_eq!(s.cluster.truncation, TruncationMode::LeaderEpoch);
    assert!(!s.cluster.config.unclean_leader_election_enable);
    // acks = all alone does not make a 0.10 producer idempotent: it was not the default.
    assert_eq!((s.producers[0].config.acks, s.producers[0].config.enable_idempotence), (Acks::All, false));
    let asked = under("2.8", "", "[producers.config]\n\"enable.idempotence\" = true");
    // Asking for idempotence brings acks = all and endless retries where they are unset.
    let asked = &asked.producers[0].config;
    assert_eq!((asked.acks, asked.retries, asked.enable_idempotence), (Acks::All, 2_147_483_647, true));
}

#[test]
fn an_unmodelled_release_is_an_error_at_its_position() {
    let e = parse("seeds = [1]\nkafka_version = \"9.1\"\nduration = \"1s\"\n", Path::new("scenarios/x.toml")).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (2, Some("kafka_version")));
    assert!(e.to_string().contains("Kafka 9.1 is not modelled; expected a release from 0.8 to 3.9"), "{e}");
    let e = parse("seeds = [1]\nkafka_version = \"two\"\nduration = \"1s\"\n", Path::new("scenarios/x.toml")).unwrap_err();
    assert!(e.to_string().contains("expected a Kafka release such as \"2.4\""), "{e}");
}
