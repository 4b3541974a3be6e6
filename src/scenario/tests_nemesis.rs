//! `[nemesis]` and `[swarm]`: what they read into, and errors with file:line:column.

use std::path::Path;

use super::*;
use crate::fault::FaultKind;
use crate::protocol::MetadataMode;

fn parsed(text: &str) -> Scenario {
    parse(text, Path::new("scenarios/x.toml")).unwrap_or_else(|e| panic!("{e}\n{}", e.snippet().unwrap_or_default()))
}

fn err(text: &str) -> String {
    match parse(text, Path::new("scenarios/x.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Lines 1-9: header, a 3-broker cluster with min.insync.replicas = 2, one topic, one
/// idempotent producer.
const BASE: &str = "seeds = [1]\nduration = \"10s\"\n[cluster.config]\nmin.insync.replicas = 2\n\
[[topics]]\nname = \"orders\"\nreplication.factor = 3\n[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n";

/// `text` under Kafka 3.9, the last release that runs both metadata modes (ZooKeeper by
/// default); one line longer.
fn on_3_9(text: &str) -> String {
    format!("kafka_version = \"3.9\"\n{text}")
}

#[test]
fn a_nemesis_section_reads_kinds_weights_and_defaults() {
    let s = parsed(&format!("{BASE}[nemesis]\nkinds = [\"crash\", \"latency\"]\ninterval = \"2s\"\n"));
    let n = s.nemesis.expect("nemesis");
    assert_eq!(n.kinds, vec![(FaultKind::Crash, 1.0), (FaultKind::Latency, 1.0)]);
    assert_eq!((n.interval_ms, n.start_ms, n.duration_ms_min, n.duration_ms_max), (2_000, 0, 500, 3_000));
    assert_eq!((n.packet_loss_rate_max, n.latency_ms_max, n.line), (0.2, 200, 11));

    let s = parsed(&format!(
        "{BASE}[nemesis]\nkinds = {{ crash = 3, partition = 1 }}\ninterval = \"1s\"\nstart = \"2s\"\n\
         duration_min = \"1s\"\nduration_max = \"1s\"\npacket_loss_rate_max = 0.5\nlatency_max = \"1s\"\n"
    ));
    let n = s.nemesis.expect("nemesis");
    assert_eq!(n.kinds, vec![(FaultKind::Crash, 3.0), (FaultKind::Partition, 1.0)]);
    assert_eq!(n.probabilities(), vec![(FaultKind::Crash, 0.75), (FaultKind::Partition, 0.25)]);
    assert_eq!((n.start_ms, n.duration_ms_min, n.duration_ms_max, n.latency_ms_max), (2_000, 1_000, 1_000, 1_000));
}

#[test]
fn nemesis_errors_point_at_the_bad_value() {
    let nemesis = |rest: &str| err(&format!("{BASE}[nemesis]\n{rest}"));
    assert_eq!(
        nemesis("kinds = [\"crash\", \"resume\"]\ninterval = \"1s\"\n"),
        "scenarios/x.toml:12:19: `nemesis.kinds[1]`: \"resume\" is not drawn on its own: every drawn fault is \
         undone after its duration; expected \"crash\", \"partition\", \"packet-loss\", \"latency\", \"power-loss\", \
         \"pause\", \"clog\", \"reorder\", \"duplicate\", \"stall\", \"leave\", \"stop\", \"rolling-restart\", \"slow-disk\" or \"cpu-steal\""
    );
    assert_eq!(
        nemesis("kinds = [\"duplicate\"]\ninterval = \"1s\"\nduplicate_rate_max = 0\n"),
        "scenarios/x.toml:14:22: `nemesis.duplicate_rate_max`: expected a rate above 0 and at most 1, found 0"
    );
    assert!(nemesis("kinds = [\"crsh\"]\ninterval = \"1s\"\n").contains("(did you mean \"crash\"?)"));
    assert!(nemesis("kinds = [\"heal\"]\ninterval = \"1s\"\n").contains("every drawn fault is undone"));
    assert!(nemesis("kinds = [\"crash\", \"crash\"]\ninterval = \"1s\"\n").contains("listed twice"));
    assert!(
        nemesis("kinds = []\ninterval = \"1s\"\n").starts_with("scenarios/x.toml:12:9: `nemesis.kinds`: no fault kind")
    );
    assert_eq!(
        nemesis("kinds = { crash = 0 }\ninterval = \"1s\"\n"),
        "scenarios/x.toml:12:19: `nemesis.kinds.crash`: expected a weight above 0, found 0"
    );
    assert!(nemesis("kinds = 3\ninterval = \"1s\"\n").contains("expected a list of fault kinds"));
    assert_eq!(
        nemesis("kinds = [\"crash\"]\n"),
        "scenarios/x.toml:11:1: `nemesis.interval`: missing required key `interval`; expected the mean time \
         between faults, such as \"2s\""
    );
    assert!(
        nemesis("kinds = [\"crash\"]\ninterval = \"0s\"\n").starts_with("scenarios/x.toml:13:12: `nemesis.interval`")
    );
    assert_eq!(
        nemesis("kinds = [\"crash\"]\ninterval = \"1s\"\nduration_min = \"2s\"\nduration_max = \"1s\"\n"),
        "scenarios/x.toml:15:16: `nemesis.duration_max`: duration_max 1s is smaller than duration_min 2s; \
         expected at least 2s"
    );
    assert!(nemesis("kinds = [\"crash\"]\ninterval = \"1s\"\nstart = \"10s\"\n").contains("ends at 10s"));
    assert!(nemesis("kinds = [\"crash\"]\ninterval = \"1s\"\npacket_loss_rate_max = 1.5\n")
        .starts_with("scenarios/x.toml:14:24: `nemesis.packet_loss_rate_max`: expected a rate from 0"));
    assert!(nemesis("kinds = [\"crash\"]\ninterval = \"1s\"\nlatency_max = \"1ms\"\n")
        .contains("below the [network] latency_max 5ms"));
    assert!(nemesis("kinds = [\"crash\"]\ninterval = \"1s\"\nrate = 2\n").contains("unknown key `rate`"));
}

#[test]
fn stall_and_leave_are_drawn_only_in_a_scenario_with_group_consumers() {
    // BASE has no consumers: the consumer kinds are refused at the kind's name, both as
    // a list entry and as a weight key.
    let nemesis = |rest: &str| err(&format!("{BASE}[nemesis]\n{rest}"));
    assert_eq!(
        nemesis("kinds = [\"crash\", \"stall\"]\ninterval = \"1s\"\n"),
        "scenarios/x.toml:12:19: `nemesis.kinds[1]`: \"stall\" acts on a consumer group member, and this scenario \
         has none; expected a [[consumers]] entry with mode = \"subscribe\" and a `group`, or leave \"stall\" out \
         of `kinds`"
    );
    assert!(nemesis("kinds = { crash = 1, leave = 2 }\ninterval = \"1s\"\n")
        .starts_with("scenarios/x.toml:12:22: `nemesis.kinds.leave`: \"leave\" acts on a consumer group member"));
    // An assign-mode consumer is not a group member either.
    let assign =
        format!("{BASE}[[consumers]]\ntopic = \"orders\"\n[nemesis]\nkinds = [\"leave\"]\ninterval = \"1s\"\n");
    assert!(err(&assign).contains("\"leave\" acts on a consumer group member, and this scenario has none"));
    let members = format!(
        "{BASE}[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"g\"\n[nemesis]\n\
         kinds = [\"stall\", \"leave\"]\ninterval = \"1s\"\n"
    );
    let n = parsed(&members).nemesis.expect("nemesis");
    assert_eq!(n.kinds, vec![(FaultKind::Stall, 1.0), (FaultKind::Leave, 1.0)]);
}

#[test]
fn a_nemesis_that_would_draw_more_faults_than_a_run_may_is_an_error() {
    // The scenario fuzz target ran out of memory on this (fuzz/corpus/scenario/
    // oom-nemesis-billions-of-faults.toml): the runner draws the whole schedule before the
    // run, here 36 billion faults.
    let long = BASE.replace("\"10s\"", "\"10000h\"");
    assert_eq!(
        err(&format!("{long}[nemesis]\nkinds = [\"crash\"]\ninterval = \"1ms\"\n")),
        "scenarios/x.toml:13:12: `nemesis.interval`: a fault every 1ms on average for 600000m (`duration` after \
         the nemesis' `start`) is about 36000000000 faults, more than the 10000 one run may draw; expected a \
         longer `interval` or a shorter `duration`"
    );
    // At the bound: 10 000 faults over 10s; from a `start` the bound counts what is left.
    let at_bound = format!("{BASE}[nemesis]\nkinds = [\"crash\"]\ninterval = \"1ms\"\n");
    assert_eq!(parsed(&at_bound).nemesis.expect("nemesis").interval_ms, 1);
    let n = parsed(&format!("{long}[nemesis]\nkinds = [\"crash\"]\ninterval = \"1ms\"\nstart = \"35999990s\"\n"))
        .nemesis
        .expect("nemesis");
    assert_eq!((n.interval_ms, n.start_ms), (1, 35_999_990_000));
    // `[swarm]` draws the interval: its shortest is what counts.
    let minutes = BASE.replace("\"10s\"", "\"1000s\"");
    let swarm = format!(
        "{minutes}[nemesis]\nkinds = [\"crash\"]\ninterval = \"1s\"\n[swarm]\nnemesis_interval = [\"10ms\", \"1s\"]\n"
    );
    assert_eq!(
        err(&swarm),
        "scenarios/x.toml:15:20: `swarm.nemesis_interval`: a fault every 10ms on average for 16m40s (`duration` \
         after the nemesis' `start`) is about 100000 faults, more than the 10000 one run may draw; expected a \
         longer lower bound of `nemesis_interval` or a shorter `duration`"
    );
    parsed(&swarm.replace("\"10ms\"", "\"100ms\""));
}

#[test]
fn a_swarm_section_reads_ranges_and_single_values() {
    let s = parsed(&format!(
        "{BASE}[nemesis]\nkinds = [\"crash\"]\ninterval = \"1s\"\n[swarm]\nbrokers = [3, 5]\n\
         replication.factor = [2, 3]\npartitions = 2\nproducers = [1, 2]\nrate_per_sec = [10, 100.5]\n\
         send = [\"sync\", \"async\"]\n\"linger.ms\" = [0, 20]\nbatch.size = [512, 4096]\n\
         max.in.flight.requests.per.connection = [1, 5]\nnemesis_interval = [\"300ms\", \"3s\"]\n"
    ));
    let w = s.swarm.expect("swarm");
    assert_eq!(w.brokers, Some((3, 5)));
    assert_eq!(w.replication_factor, Some((2, 3)));
    assert_eq!(w.partitions, Some((2, 2)));
    assert_eq!(w.producers, Some((1, 2)));
    assert_eq!(w.rate_per_sec, Some((10.0, 100.5)));
    assert_eq!(w.send, Some(vec![SendMode::Sync, SendMode::Async]));
    assert_eq!((w.linger_ms, w.batch_size, w.max_in_flight), (Some((0, 20)), Some((512, 4096)), Some((1, 5))));
    assert_eq!(w.nemesis_interval_ms, Some((300, 3_000)));
}

#[test]
fn swarm_bounds_that_could_draw_an_invalid_configuration_are_errors() {
    let swarm = |rest: &str| err(&format!("{BASE}[swarm]\n{rest}"));
    assert_eq!(
        swarm("brokers = [5, 3]\n"),
        "scenarios/x.toml:12:11: `swarm.brokers`: the range [5, 3] is empty; expected min at most max"
    );
    assert!(swarm("brokers = [1, 2, 3]\n").contains("expected a range [min, max] of two values"));
    assert_eq!(
        swarm("brokers = [2, 3]\n"),
        "scenarios/x.toml:12:11: `swarm.brokers`: topic `orders` has replication factor 3, more than the \
         smallest broker count 2; expected brokers of at least 3"
    );
    assert!(swarm("brokers = [3, 5]\nreplication.factor = [4, 5]\n")
        .starts_with("scenarios/x.toml:13:22: `swarm.replication.factor`: the smallest replication factor 4"));
    assert!(swarm("replication.factor = [1, 3]\n").contains("min.insync.replicas 2 of topic `orders`"));
    assert!(swarm("max.in.flight.requests.per.connection = [1, 6]\n").contains("at most 5 requests in flight"));
    assert!(swarm("\"linger.ms\" = [0, 200000]\n").contains("exceeds delivery.timeout.ms 120000"));
    assert!(swarm("send = [\"fast\"]\n").contains("expected \"sync\" or \"async\", found \"fast\""));
    assert!(swarm("nemesis_interval = [\"1s\", \"2s\"]\n").contains("there is no [nemesis] section"));
    assert!(swarm("brokers = [0, 3]\n").contains("expected 1 to 100, found 0"));
    assert!(swarm("rate_per_sec = [0, 3]\n").contains("expected a rate above 0"));
    // A scheduled fault must name a node or partition that every draw has.
    let text = "seeds = [1]\nduration = \"10s\"\n[[topics]]\nname = \"orders\"\npartitions = 3\n[[faults]]\n\
                at = \"1s\"\nkind = \"crash\"\ntarget = \"the leader of orders-2\"\n[swarm]\npartitions = [1, 3]\n";
    assert!(err(text).contains("the fault on line 6 targets the leader of orders-2, which does not exist"));
}

#[test]
fn swarm_reads_the_metadata_modes_and_the_controller_counts_to_draw() {
    let s = parsed(&on_3_9(&format!("{BASE}[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\ncontrollers = [1, 5]\n")));
    assert_eq!(s.cluster.metadata, MetadataMode::Zookeeper, "the file's own mode stays");
    let w = s.swarm.expect("swarm");
    assert_eq!(w.metadata, Some(vec![MetadataMode::Zookeeper, MetadataMode::Kraft]));
    assert_eq!(w.controllers, Some((1, 5)));
    assert_eq!(w.kraft_quorum, Some((3, false)), "Kafka's default quorum for a drawn KRaft cluster");
    let w = parsed(&on_3_9(&format!("{BASE}[swarm]\nmetadata = \"kraft\"\ncontrollers = 5\n"))).swarm.expect("swarm");
    assert_eq!((w.metadata, w.controllers), (Some(vec![MetadataMode::Kraft]), Some((5, 5))));
    let w = parsed(&on_3_9(&format!("{BASE}[swarm]\nbrokers = [3, 5]\n"))).swarm.expect("swarm");
    assert_eq!((w.metadata, w.controllers, w.kraft_quorum), (None, None, None));
    // Under the default release (4.1) the file's own cluster is KRaft, with pre-vote.
    let w = parsed(&format!("{BASE}[swarm]\nbrokers = [3, 5]\n")).swarm.expect("swarm");
    assert_eq!((w.metadata, w.controllers, w.kraft_quorum), (None, None, Some((3, true))));
}

#[test]
fn bad_metadata_and_controller_bounds_are_errors_at_the_value() {
    // Under 3.9, whose files may draw ZooKeeper: every position is a line further down.
    let swarm = |rest: &str| err(&on_3_9(&format!("{BASE}[swarm]\n{rest}")));
    assert_eq!(
        swarm("metadata = [\"zookeeper\", \"raft\"]\n"),
        "scenarios/x.toml:13:26: `swarm.metadata[1]`: expected \"zookeeper\" or \"kraft\", found \"raft\" \
         (did you mean \"kraft\"?)"
    );
    assert_eq!(
        swarm("metadata = []\n"),
        "scenarios/x.toml:13:12: `swarm.metadata`: the list is empty; expected [\"zookeeper\"], [\"kraft\"] or both"
    );
    assert_eq!(
        swarm("metadata = \"kraft\"\ncontrollers = [1, 4]\n"),
        "scenarios/x.toml:14:19: `swarm.controllers[1]`: expected 1, 3 or 5 controllers (a KRaft quorum of odd \
         size), found 4"
    );
    assert!(swarm("metadata = \"kraft\"\ncontrollers = [5, 1]\n").contains("the range [5, 1] is empty"));
    assert_eq!(
        swarm("controllers = [1, 5]\n"),
        "scenarios/x.toml:13:15: `swarm.controllers`: `controllers` draws the KRaft controller count, but every \
         configuration this swarm draws keeps its metadata in ZooKeeper; expected metadata = \"kraft\" in \
         [cluster] or \"kraft\" among [swarm] `metadata`, or no `controllers`"
    );
    // Each mode must exist in the scenario's release.
    let old = err(&format!("kafka_version = \"3.2\"\n{BASE}[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n"));
    assert!(old.starts_with("scenarios/x.toml:13:26: `swarm.metadata[1]`: KRaft is modelled from Kafka 3.3"), "{old}");
    let new = err(&format!("kafka_version = \"4.0\"\n{BASE}[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n"));
    assert!(new.starts_with("scenarios/x.toml:13:13: `swarm.metadata[0]`: Kafka 4.0 has no ZooKeeper mode"), "{new}");
    // A drawn KRaft cluster reads `[cluster] controllers` as a KRaft cluster does.
    let text = on_3_9(&format!("{BASE}[cluster]\ncontrollers = 4\n[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n"));
    assert!(err(&text).contains("`cluster.controllers`: expected 1, 3 or 5 controllers, found 4"));
}

#[test]
fn scheduled_faults_must_target_what_every_drawn_metadata_mode_runs() {
    // Under 3.9, which runs both modes: the fault's line is one further down.
    let fault = |target: &str| format!("[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"{target}\"\n");
    let zk_or_kraft = "[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n";
    let text = on_3_9(&format!("{BASE}{}{zk_or_kraft}", fault("metastore")));
    assert!(err(&text).contains(
        "the fault on line 12 targets metastore: the KRaft configurations swarm draws run no metastore \
         (ZooKeeper)"
    ));
    let kraft = "[cluster]\nmetadata = \"kraft\"\n";
    let text = on_3_9(&format!("{BASE}{kraft}{}{zk_or_kraft}", fault("the active controller")));
    assert!(err(&text)
        .contains("targets the active controller: the ZooKeeper configurations swarm draws run no KRaft controllers"));
    let text = on_3_9(&format!("{BASE}{kraft}{}[swarm]\ncontrollers = [1, 5]\n", fault("controller-3")));
    assert!(err(&text).contains("targets controller-3, which does not exist in every configuration swarm can draw"));
    let text = on_3_9(&format!("{BASE}{kraft}{}{zk_or_kraft}", fault("a follower controller")));
    assert!(err(&text).contains("targets a follower controller: the ZooKeeper configurations swarm draws"));
    // Roles every mode has are fine (a stop too: brokers and KRaft controllers both stop
    // cleanly), and so is a controller role when every mode is KRaft.
    parsed(&on_3_9(&format!("{BASE}{}{zk_or_kraft}", fault("the controller"))));
    let stop = "[[faults]]\nat = \"1s\"\nkind = \"stop\"\ntarget = \"the controller\"\n";
    parsed(&on_3_9(&format!("{BASE}{stop}{zk_or_kraft}")));
    parsed(&on_3_9(&format!("{BASE}{kraft}{}[swarm]\ncontrollers = [3, 5]\n", fault("controller-3"))));
}

#[test]
fn settings_of_a_mode_swarm_can_draw_are_not_noted_as_without_effect() {
    let keys = "[cluster.config]\n\"broker.session.timeout.ms\" = 3000\n\"zookeeper.session.timeout.ms\" = 6000\n";
    // Under 3.9, whose files are ZooKeeper's unless they say otherwise.
    let base = on_3_9(&BASE.replace("[cluster.config]\n", keys));
    // Both modes drawable: every key takes effect in some seed.
    let both = parsed(&format!("{base}[metastore]\ntickTime = 500\n[swarm]\nmetadata = [\"zookeeper\", \"kraft\"]\n"));
    assert_eq!(both.notes, Vec::<String>::new());
    // Only KRaft drawn from a ZooKeeper file: its ZooKeeper settings are noted.
    let kraft = parsed(&format!("{base}[metastore]\ntickTime = 500\n[swarm]\nmetadata = [\"kraft\"]\n"));
    assert_eq!(
        kraft.notes,
        [
            "line 6, `cluster.config.zookeeper.session.timeout.ms`: no effect in a KRaft cluster",
            "line 14, `metastore`: no effect: a KRaft cluster runs no ZooKeeper"
        ]
    );
}

#[test]
fn a_wide_swarm_reads_the_settings_it_draws_in_draw_order() {
    let s = parsed(&on_3_9(&format!(
        "{BASE}[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"g\"\n[swarm]\n\
         truncation = [\"legacy\", \"leader-epoch\"]\nacks = [\"0\", 1, \"all\", \"all\"]\n\
         kafka_version = [\"3.5\", \"3.9\"]\n\"enable.idempotence\" = [true, false]\nretries = [0, 3]\n\
         \"min.insync.replicas\" = [1, 3]\ncommit = \"after-processing\"\n\
         \"partition.assignment.strategy\" = [\"range\", \"cooperative-sticky\"]\n"
    )));
    let w = s.swarm.expect("swarm");
    assert_eq!(w.min_insync_replicas, Some((1, 3)));
    let drawn: Vec<(SwarmKey, Vec<&str>)> =
        w.settings.iter().map(|c| (c.key, c.values.iter().map(String::as_str).collect())).collect();
    assert_eq!(
        drawn,
        vec![
            (SwarmKey::KafkaVersion, vec!["3.5", "3.9"]),
            (SwarmKey::Acks, vec!["0", "1", "all"]),
            (SwarmKey::EnableIdempotence, vec!["true", "false"]),
            (SwarmKey::Retries, vec!["0", "3"]),
            (SwarmKey::Truncation, vec!["legacy", "leader-epoch"]),
            (SwarmKey::Commit, vec!["after-processing"]),
            (SwarmKey::PartitionAssignmentStrategy, vec!["range", "cooperative-sticky"]),
        ]
    );
}

#[test]
fn a_wide_swarms_unknown_values_and_impossible_draws_are_errors_at_their_position() {
    let swarm = |rest: &str| err(&format!("{BASE}[swarm]\n{rest}"));
    assert_eq!(
        swarm("acks = [\"all\", \"2\"]\n"),
        "scenarios/x.toml:12:16: `swarm.acks[1]`: expected \"0\", \"1\", \"all\" or \"-1\", found \"2\" (did you mean \"0\"?)"
    );
    assert!(swarm("truncation = [\"leader-epoc\"]\n").contains("(did you mean \"leader-epoch\"?)"));
    assert!(swarm("kafka_version = [\"3.10\"]\n").starts_with("scenarios/x.toml:12:18:"));
    assert!(swarm("\"min.insync.replicas\" = [3, 1]\n").contains("the range [3, 1] is empty"));
    assert!(swarm("\"log.flush.interval.messages\" = [0]\n").contains("expected at least 1, found 0"));
    assert!(swarm("commit = [\"auto\"]\n").contains("`commit` draws a setting of group consumers, but this scenario"));
    // Every listed release must read the whole file: ZooKeeper ended with 3.9.
    let text =
        on_3_9(&format!("{BASE}[cluster]\nmetadata = \"zookeeper\"\n[swarm]\nkafka_version = [\"3.9\", \"4.0\"]\n"));
    let e = err(&text);
    assert!(
        e.starts_with("scenarios/x.toml:15:25: `swarm.kafka_version[1]`: the file does not load under Kafka 4.0"),
        "{e}"
    );
}

#[test]
fn absent_promised_judges_by_the_configuration_and_other_words_are_errors() {
    let s = parsed(&format!("{BASE}[expect]\nabsent = \"promised\"\n"));
    assert!(s.expect.promised && s.expect.absent.is_empty());
    assert!(!parsed(BASE).expect.promised);
    let e = err(&format!("{BASE}[expect]\nabsent = \"everything\"\n"));
    assert!(e.starts_with("scenarios/x.toml:12:10: `expect.absent`: expected \"promised\""), "{e}");
}

#[test]
fn the_wide_swarm_draws_the_truncation_modes_the_cluster_reads() {
    let read: Vec<&str> = super::fields::TRUNCATION_MODES.iter().map(|(name, _)| *name).collect();
    let listed = read.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let s = parsed(&format!("{BASE}[swarm]\ntruncation = [{listed}]\n"));
    assert_eq!(s.swarm.expect("swarm").settings[0].values, read);
}
