//! KRaft's scenario keys: `metadata`, `controllers`, `pre_vote`, the quorum and
//! heartbeat settings, and the controller targets; each refused where it has no meaning.

use std::path::Path;

use super::*;
use crate::protocol::MetadataMode;

fn scenario(text: &str) -> Scenario {
    parse(text, Path::new("scenarios/k.toml")).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    match parse(text, Path::new("scenarios/k.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const BASE: &str = "seeds = [1]\nduration = \"20s\"\n";

fn kraft(rest: &str) -> String {
    format!("{BASE}[cluster]\nmetadata = \"kraft\"\n{rest}")
}

/// `text` under Kafka 3.9, the last release with ZooKeeper (its default mode), one line longer.
fn on_3_9(text: &str) -> String {
    format!("kafka_version = \"3.9\"\n{text}")
}

#[test]
fn kraft_runs_three_controllers_with_kafka_defaults_and_is_the_default_from_4_0() {
    // Kafka 3.9 runs KRaft when asked, without pre-vote or ELR, and ZooKeeper otherwise.
    let s = scenario(&on_3_9(&kraft("")));
    assert_eq!((s.cluster.metadata, s.cluster.controllers, s.cluster.pre_vote), (MetadataMode::Kraft, 3, false));
    let c = &s.cluster.config;
    assert_eq!((c.broker_heartbeat_interval_ms, c.broker_session_timeout_ms), (2_000, 9_000));
    assert_eq!((c.controller_quorum_election_timeout_ms, c.controller_quorum_fetch_timeout_ms), (1_000, 2_000));
    assert!(!c.eligible_leader_replicas_enable);
    assert_eq!(c.metadata_max_idle_interval_ms, 500);
    let zk = scenario(&on_3_9(BASE));
    assert_eq!((zk.cluster.metadata, zk.cluster.controllers), (MetadataMode::Zookeeper, 0));
    // A file that names no release runs 4.1: KRaft whether it asks or not, with the same
    // quorum settings, pre-vote (4.0) and eligible leader replicas (4.1).
    for text in [kraft(""), BASE.to_string()] {
        let s = scenario(&text);
        assert_eq!((s.cluster.metadata, s.cluster.controllers, s.cluster.pre_vote), (MetadataMode::Kraft, 3, true));
        let c = &s.cluster.config;
        assert_eq!((c.broker_heartbeat_interval_ms, c.broker_session_timeout_ms), (2_000, 9_000));
        assert_eq!((c.controller_quorum_election_timeout_ms, c.controller_quorum_fetch_timeout_ms), (1_000, 2_000));
        assert!(c.eligible_leader_replicas_enable);
        assert_eq!(c.metadata_max_idle_interval_ms, 500);
    }
    // Explicit settings win; under 3.9 (no pre-vote, no ELR) they change every default.
    let set = scenario(&on_3_9(&kraft(
        "controllers = 5\npre_vote = true\n[cluster.config]\n\"broker.session.timeout.ms\" = 3000\n\
         \"eligible.leader.replicas.enable\" = true\n\"metadata.max.idle.interval.ms\" = 0\n",
    )));
    assert_eq!(set.cluster.config.metadata_max_idle_interval_ms, 0, "0 turns the idle writes off");
    assert_eq!((set.cluster.controllers, set.cluster.pre_vote), (5, true));
    assert_eq!(set.cluster.config.broker_session_timeout_ms, 3_000);
    assert!(set.cluster.config.eligible_leader_replicas_enable);
}

#[test]
fn bad_quorum_settings_are_refused_and_the_other_mode_s_settings_noted() {
    assert_eq!(
        err(&kraft("controllers = 2\n")),
        "scenarios/k.toml:5:15: `cluster.controllers`: expected 1, 3 or 5 controllers, found 2"
    );
    assert!(err(&kraft(
        "[cluster.config]\n\"broker.heartbeat.interval.ms\" = 3000\n\"broker.session.timeout.ms\" = 3000\n"
    ))
    .contains("broker.session.timeout.ms 3000 is not longer than broker.heartbeat.interval.ms 3000"));
    assert!(err(&format!("kafka_version = \"3.2\"\n{}", kraft("")))
        .contains("KRaft is modelled from Kafka 3.3 (KIP-833 made it production-ready), but kafka_version is 3.2"));
    assert!(err(&format!("{BASE}[cluster]\nmetadata = \"raft\"\n"))
        .contains("expected \"zookeeper\" or \"kraft\", found \"raft\""));
    // Settings of the other mode have no effect, as in Kafka, and say so: one file can
    // be run both ways (`compare --vary metadata=zookeeper,kraft`).
    let zk = scenario(&on_3_9(&format!(
        "{BASE}[cluster]\ncontrollers = 3\n[cluster.config]\n\"broker.session.timeout.ms\" = 3000\n"
    )));
    assert_eq!(zk.cluster.metadata, MetadataMode::Zookeeper);
    assert_eq!(
        zk.notes,
        [
            "line 5, `cluster.controllers`: no effect: the cluster keeps its metadata in ZooKeeper (metadata = \"zookeeper\")",
            "line 7, `cluster.config.broker.session.timeout.ms`: no effect in a ZooKeeper cluster"
        ]
    );
    let k = scenario(&format!(
        "{}[cluster.config]\n\"zookeeper.session.timeout.ms\" = 3000\n[metastore]\ntickTime = 500\n",
        kraft("")
    ));
    assert_eq!(
        k.notes,
        [
            "line 6, `cluster.config.zookeeper.session.timeout.ms`: no effect in a KRaft cluster",
            "line 7, `metastore`: no effect: a KRaft cluster runs no ZooKeeper"
        ]
    );
}

#[test]
fn controller_targets_exist_only_in_kraft_and_the_metastore_only_in_zookeeper() {
    let fault = |target: &str, kind: &str| {
        format!("[[faults]]\nat = \"1s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\nduration = \"1s\"\n")
    };
    for target in [
        "the active controller",
        "a controller",
        "a follower controller",
        "a majority of controllers",
        "all controllers",
        "controller-3",
    ] {
        let s = scenario(&format!("{}{}", kraft(""), fault(target, "crash")));
        assert_eq!(s.faults.len(), 1, "{target}");
        // ZooKeeper (3.9's default) has no controller to target; 4.1, the default, does.
        assert!(err(&on_3_9(&format!("{BASE}{}", fault(target, "crash")))).contains("expected"), "{target}");
        assert_eq!(scenario(&format!("{BASE}{}", fault(target, "crash"))).faults.len(), 1, "{target}");
    }
    assert!(err(&format!("{}{}", kraft(""), fault("controller-4", "crash")))
        .contains("controller-4 does not exist: there are 3, controller-1 to controller-3"));
    assert!(err(&format!("{}{}", kraft(""), fault("metastore", "crash")))
        .contains("the metastore (ZooKeeper) does not run in a KRaft cluster"));
    // A controller stops cleanly too: it resigns first if it leads.
    for target in ["the active controller", "a follower controller", "controller-2"] {
        assert_eq!(scenario(&format!("{}{}", kraft(""), fault(target, "stop"))).faults.len(), 1, "{target}");
    }
}

#[test]
fn the_4x_profiles_run_kraft_with_pre_vote_and_4_1_turns_elr_on() {
    let quorum = |version: &str, cluster: &str| {
        let s = scenario(&format!(
            "kafka_version = \"{version}\"\n{BASE}{cluster}[[producers]]\ntopic = \"t\"\nrate_per_sec = 1\n[[topics]]\nname = \"t\"\n"
        ));
        let c = &s.cluster;
        (
            c.metadata,
            c.controllers,
            c.pre_vote,
            c.config.eligible_leader_replicas_enable,
            s.producers[0].config.linger_ms,
        )
    };
    assert_eq!(quorum("3.9", ""), (MetadataMode::Zookeeper, 0, false, false, 0));
    assert_eq!(quorum("3.9", "[cluster]\nmetadata = \"kraft\"\n"), (MetadataMode::Kraft, 3, false, false, 0));
    assert_eq!(quorum("4.0", ""), (MetadataMode::Kraft, 3, true, false, 5));
    assert_eq!(quorum("4.1", "[cluster]\nbrokers = 3\n"), (MetadataMode::Kraft, 3, true, true, 5));
    // A release's default gives way to the file, as every switch does.
    assert_eq!(
        quorum("4.1", "[cluster]\npre_vote = false\n[cluster.config]\n\"eligible.leader.replicas.enable\" = false\n"),
        (MetadataMode::Kraft, 3, false, false, 5)
    );
    assert_eq!(
        err(&format!("kafka_version = \"4.0\"\n{BASE}[cluster]\nmetadata = \"zookeeper\"\n")),
        "scenarios/k.toml:5:12: `cluster.metadata`: Kafka 4.0 has no ZooKeeper mode (4.0 removed it, KIP-500); \
         expected metadata = \"kraft\", or kafka_version \"3.9\" or earlier"
    );
}

#[test]
fn combined_mode_runs_each_controller_in_a_brokers_process_and_needs_as_many_brokers() {
    let s = scenario(&kraft("combined = true\n"));
    assert_eq!((s.cluster.controllers, s.cluster.combined), (3, true));
    assert!(!scenario(&kraft("")).cluster.combined, "dedicated controllers by default");
    assert_eq!(
        err(&kraft("brokers = 1\ncombined = true\n")),
        "scenarios/k.toml:6:12: `cluster.combined`: in combined mode each controller runs in a broker's \
         process, but there are 3 controllers for 1 brokers; expected controllers <= brokers"
    );
    let zk = scenario(&on_3_9(&format!("{BASE}[cluster]\ncombined = true\n")));
    assert!(!zk.cluster.combined);
    assert_eq!(
        zk.notes,
        ["line 5, `cluster.combined`: no effect: the cluster keeps its metadata in ZooKeeper (metadata = \"zookeeper\")"]
    );
    assert!(err(&on_3_9(&format!(
        "{BASE}[cluster]\ncombined = true\n[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n"
    )))
    .contains("`cluster.combined`: a `[swarm]` that draws the metadata mode runs dedicated controllers"));
}
