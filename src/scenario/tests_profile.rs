//! `kafka_version`: a release's defaults apply where the file is silent, an explicit
//! setting wins, and an unmodelled release is an error at its position.

use std::path::Path;

use super::*;
use crate::protocol::{Acks, MetadataMode, TruncationMode};

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
    // 3.9, the last release with ZooKeeper, runs it, without pre-vote, ELR or linger.
    let c = &today.cluster;
    assert_eq!(
        (c.metadata, c.controllers, c.pre_vote, c.config.eligible_leader_replicas_enable),
        (MetadataMode::Zookeeper, 0, false, false)
    );
    assert_eq!(today.producers[0].config.linger_ms, 0);
    // A file that names no release runs the newest, 4.1: KRaft with pre-vote (4.0),
    // eligible leader replicas (4.1) and producers that linger 5 ms (4.0).
    let default = ok(
        "seeds = [1]\nduration = \"1s\"\n[[topics]]\nname = \"t\"\n[[producers]]\ntopic = \"t\"\nrate_per_sec = 1\n",
    );
    assert_eq!(default.profile, crate::profile::Profile::default());
    assert_eq!(default.profile.version, crate::profile::NEWEST);
    assert_eq!(default.cluster, under("4.1", "", "").cluster);
    let c = &default.cluster;
    assert_eq!(
        (c.metadata, c.controllers, c.pre_vote, c.config.eligible_leader_replicas_enable),
        (MetadataMode::Kraft, 3, true, true)
    );
    assert_eq!(default.producers[0].config, under("4.1", "", "").producers[0].config);
    assert_eq!(default.producers[0].config.linger_ms, 5);
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
    let e =
        parse("seeds = [1]\nkafka_version = \"9.1\"\nduration = \"1s\"\n", Path::new("scenarios/x.toml")).unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (2, Some("kafka_version")));
    assert!(e.to_string().contains("Kafka 9.1 is not modelled; expected a release from 0.8 to 4.1"), "{e}");
    let e =
        parse("seeds = [1]\nkafka_version = \"two\"\nduration = \"1s\"\n", Path::new("scenarios/x.toml")).unwrap_err();
    assert!(e.to_string().contains("expected a Kafka release such as \"2.4\""), "{e}");
}

/// A scenario with every kind of entry a switch lives in, under `version`; `cluster` is
/// its `[cluster]` table, if any, and `producer` the producer's `[producers.config]`, if any.
fn every_switch_under(version: crate::profile::KafkaVersion, cluster: &str, producer: &str) -> Scenario {
    ok(&format!(
        "kafka_version = \"{version}\"\nseeds = [1]\nduration = \"1s\"\n{cluster}[[topics]]\nname = \"t\"\n\
         [[producers]]\ntopic = \"t\"\nrate_per_sec = 1\n{producer}[[consumers]]\ntopic = \"t\"\nmode = \"subscribe\"\n\
         group = \"g\"\n"
    ))
}

#[test]
fn every_change_in_the_table_takes_effect_in_its_release_and_not_before() {
    use crate::profile::Switch;
    for change in crate::profile::CHANGES {
        // The quorum's switches mean something in a KRaft cluster only, which the release
        // before theirs (3.9) runs when the file asks for it.
        let cluster = match change.switch {
            Switch::PreVote | Switch::EligibleLeaderReplicas => "[cluster]\nmetadata = \"kraft\"\n",
            _ => "",
        };
        // Partition verification means something for transactional writes only.
        let producer = match change.switch {
            Switch::TransactionPartitionVerification | Switch::TransactionVersion => {
                "[producers.config]\n\"transactional.id\" = \"t\"\n"
            }
            _ => "",
        };
        let value = |version| {
            let settings = switch_settings(&every_switch_under(version, cluster, producer));
            let setting = settings.into_iter().find(|s| s.switch == change.switch).unwrap();
            assert!(!setting.overridden(), "{change:?}: nothing is set, so the release's default is in force");
            setting.values
        };
        // The release just before: the previous one, or the switch's earlier change when
        // that came later (2.0.1 comes between 2.0 and 2.1).
        let previous = change.since.previous().expect("every change has a release before it");
        let earlier = crate::profile::CHANGES.iter().filter(|c| c.switch == change.switch && c.since < change.since);
        let before = earlier.map(|c| c.since).fold(previous, std::cmp::max);
        assert_eq!(value(before), vec![change.before], "{:?} under {before}", change.switch);
        assert_eq!(value(change.since), vec![change.after], "{:?} under {}", change.switch, change.since);
    }
}

#[test]
fn the_effective_settings_name_what_the_file_changed() {
    let s = under("2.0", "[cluster]\nfollower_restart = \"every-leader-epoch\"", "[producers.config]\nacks = \"all\"");
    let lines = render_switch_settings(&s).join("\n");
    assert!(lines.starts_with("Kafka 2.0 behaviour"), "{lines}");
    assert!(lines.contains("[cluster] truncation = leader-epoch\n"), "{lines}");
    assert!(
        lines.contains("[cluster] follower_restart = every-leader-epoch (set; 2.0's default is leader-change)"),
        "{lines}"
    );
    assert!(lines.contains("[producers.config] acks = all (set; 2.0's default is 1)"), "{lines}");
    // No consumers: the consumer switches are not listed.
    assert!(!lines.contains("sticky_assignor"), "{lines}");
}

#[test]
fn release_switches_are_read_from_the_file_by_their_keys() {
    let s = under(
        "3.9",
        "[cluster]\nunknown_producer_sequence = \"out-of-order\"\ncaught_up_at_leader_log_end = false",
        "partitioner = \"round-robin\"\nidempotent_epoch_bump = false\ninvalid_epoch_abortable = false\n\
         [producers.config]\n\
         \"partitioner.adaptive.partitioning.enable\" = false\n\"partitioner.availability.timeout.ms\" = 500",
    );
    assert_eq!(s.cluster.unknown_producer_sequence, crate::protocol::UnknownProducerSequence::OutOfOrder);
    assert!(!s.cluster.caught_up_at_leader_log_end);
    let p = &s.producers[0];
    assert_eq!((p.partitioner, p.idempotent_epoch_bump), (crate::protocol::UnkeyedPartitioning::RoundRobin, false));
    assert!(!p.invalid_epoch_abortable, "3.9's KIP-588 behaviour, turned off by the file");
    assert_eq!(
        (p.config.partitioner_adaptive_partitioning_enable, p.config.partitioner_availability_timeout_ms),
        (false, 500)
    );
    let e = parse(
        "seeds = [1]\nduration = \"1s\"\n[cluster]\nfollower_restart = \"sometimes\"\n",
        Path::new("scenarios/x.toml"),
    )
    .unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (4, Some("cluster.follower_restart")));
    assert!(
        e.to_string()
            .contains("expected \"leader-change\", \"leader-change-or-missed-epoch\" or \"every-leader-epoch\""),
        "{e}"
    );
}

/// A scenario under `version` with one standalone consumer; `config` is its config table.
fn consumer_under(version: &str, config: &str) -> Result<Scenario, ScenarioError> {
    parse(
        &format!(
            "kafka_version = \"{version}\"\nseeds = [1]\nduration = \"1s\"\n[[topics]]\nname = \"t\"\n\
             [[consumers]]\ntopic = \"t\"\n{config}\n"
        ),
        Path::new("scenarios/x.toml"),
    )
}

#[test]
fn consumers_validate_positions_from_2_3_unless_the_file_says_otherwise() {
    use crate::protocol::{OffsetReset, OffsetValidation};
    let validation =
        |version: &str, config: &str| consumer_under(version, config).unwrap().consumers[0].config.offset_validation;
    assert_eq!(validation("2.2", ""), OffsetValidation::None);
    assert_eq!(validation("2.2", "[consumers.config]\n\"auto.offset.reset\" = \"earliest\""), OffsetValidation::None);
    assert_eq!(validation("2.3", ""), OffsetValidation::Kip320);
    assert_eq!(validation("3.9", ""), OffsetValidation::Kip320);
    assert_eq!(validation("2.2", "[consumers.config]\noffset_validation = \"kip-320\""), OffsetValidation::Kip320);
    assert_eq!(validation("3.9", "[consumers.config]\noffset_validation = \"none\""), OffsetValidation::None);
    let none = consumer_under("3.9", "[consumers.config]\n\"auto.offset.reset\" = \"none\"").unwrap();
    assert_eq!(none.consumers[0].config.auto_offset_reset, OffsetReset::None);
    let e = consumer_under("3.9", "[consumers.config]\noffset_validation = \"yes\"").unwrap_err();
    assert_eq!((e.line, e.field.as_deref()), (9, Some("consumers[0].config.offset_validation")));
    assert!(e.to_string().contains("kip-320") && e.to_string().contains("none"), "{e}");
}
