//! The fault kinds added for the fault catalog (power-loss, pause, resume, clog, reorder,
//! duplicate, partition shapes) and their targets: valid forms parse, and every mistake
//! is reported at its file, line, column and field.

use std::path::Path;

use super::*;

/// One topic `orders` (3 partitions, RF 3), a producer and a consumer (lines 1-11).
fn with_faults(faults: &str) -> String {
    format!(
        "seeds = [1]\nduration = \"20s\"\n[[topics]]\nname = \"orders\"\npartitions = 3\nreplication.factor = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\n[[consumers]]\ntopic = \"orders\"\n{faults}"
    )
}

fn err(faults: &str) -> String {
    match parse(&with_faults(faults), Path::new("scenarios/x.toml")) {
        Ok(_) => panic!("expected an error for:\n{faults}"),
        Err(e) => e.to_string(),
    }
}

/// Parsed under Kafka 3.9, whose ZooKeeper cluster runs the metastore a fault may target.
fn action(faults: &str) -> (FaultAction, Option<u64>) {
    let text = format!("kafka_version = \"3.9\"\n{}", with_faults(faults));
    let scenario = parse(&text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    (scenario.faults[0].action.clone(), scenario.faults[0].duration_ms)
}

#[test]
fn the_new_fault_kinds_parse_with_their_targets() {
    let node = |n: &str| Target::Node(n.to_string());
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"power-loss\"\ntarget = \"all replicas of orders-2\"\nduration = \"2s\"\n"),
        (FaultAction::PowerLoss { target: Target::ReplicasOf("orders-2".into()) }, Some(2_000))
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"the metastore\"\n"),
        (FaultAction::Pause { target: node("metastore") }, None)
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"resume\"\ntarget = \"paused\"\n").0,
        FaultAction::Resume { target: Target::Paused }
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"clog\"\ntarget = \"broker-1\"\nduration = \"4s\"\n"),
        (FaultAction::Clog { target: node("broker-1"), peers: Target::Everyone }, Some(4_000))
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"reorder\"\ntarget = \"producer-1\"\npeers = \"the cluster\"\n").0,
        FaultAction::Reorder { target: node("producer-1"), peers: Target::Cluster }
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"duplicate\"\ntarget = \"consumer-1\"\nrate = 0.5\n").0,
        FaultAction::Duplicate { target: node("consumer-1"), peers: Target::Everyone, rate: 0.5 }
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"bridge\"\ntarget = \"broker-2\"\n").0,
        FaultAction::Split { shape: SplitShape::Bridge, target: node("broker-2") }
    );
    assert_eq!(
        action("[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"isolate\"\ntarget = \"broker-2\"\n").0,
        FaultAction::Partition { target: node("broker-2"), peers: Target::Everyone, one_way: false }
    );
    let (split, _) =
        action("[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"majority-minority\"\ntarget = \"the leader of orders-1\"\n");
    assert_eq!(split.to_string(), "majority-minority partition around the leader of orders-1");
    for target in [Target::ReplicasOf("orders-0".into()), Target::Cluster, Target::Paused] {
        assert_eq!(Target::parse(&target.to_string()), Some(target));
    }
}

#[test]
fn mistakes_in_the_new_fault_kinds_point_at_their_field() {
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"clog\"\ntarget = \"broker-1\"\n"),
        "scenarios/x.toml:12:1: `faults[0].duration`: missing required key `duration`; expected how long the clog \
         lasts, such as \"4s\": links clog one by one in its first half and unclog in random order in its second"
    );
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"duplicate\"\ntarget = \"broker-1\"\nrate = 1.5\n"),
        "scenarios/x.toml:16:8: `faults[0].rate`: expected a probability above 0 and at most 1, found 1.5"
    );
    assert!(err("[[faults]]\nat = \"1s\"\nkind = \"duplicate\"\ntarget = \"broker-1\"\n")
        .starts_with("scenarios/x.toml:12:1: `faults[0].rate`: missing required key `rate`"));
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"ring\"\ntarget = \"broker-1\"\n"),
        "scenarios/x.toml:15:9: `faults[0].shape`: expected \"isolate\", \"majority-minority\" or \"bridge\", \
         found \"ring\""
    );
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"partition\"\nshape = \"bridge\"\ntarget = \"broker-1\"\npeers = \"broker-2\"\n"),
        "scenarios/x.toml:17:9: `faults[0].peers`: `peers` does not apply to shape = \"bridge\", which draws both \
         sides itself; expected it only with shape = \"isolate\""
    );
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"paused\"\n"),
        "scenarios/x.toml:15:10: `faults[0].target`: \"paused\" only applies to a \"resume\" fault; expected a node \
         or a role such as \"the leader of orders-0\""
    );
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"power-loss\"\ntarget = \"all replicas of orders-7\"\n"),
        "scenarios/x.toml:15:10: `faults[0].target`: partition orders-7 does not exist: topic `orders` has 3 \
         partitions; expected orders-0 to orders-2"
    );
    assert_eq!(
        err("[[faults]]\nat = \"1s\"\nkind = \"resume\"\ntarget = \"broker-1\"\nduration = \"1s\"\n"),
        "scenarios/x.toml:16:1: `faults[0].duration`: `duration` does not apply to a \"resume\" fault; expected \
         only `at`, `when`, `kind` or `target`"
    );
    assert!(err("[[faults]]\nat = \"1s\"\nkind = \"reorder\"\ntarget = \"producer-2\"\n")
        .starts_with("scenarios/x.toml:15:10: `faults[0].target`: producer-2 does not exist"));
}

#[test]
fn a_stuck_connection_names_a_broker_and_one_of_its_controller_channels_in_a_kraft_cluster() {
    use crate::protocol::kraft::ControllerChannel;
    let fault = "[[faults]]\nat = \"1s\"\nkind = \"stuck-connection\"\ntarget = \"the leader of orders-0\"\n\
                 channel = \"alter-partition\"\nduration = \"5s\"\n";
    let scenario = parse(&with_faults(fault), Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let (action, duration) = (scenario.faults[0].action.clone(), scenario.faults[0].duration_ms);
    assert_eq!(
        (action.clone(), duration),
        (
            FaultAction::StuckConnection {
                target: Target::LeaderOf("orders-0".into()),
                channel: crate::scenario::StuckChannel::Controller(ControllerChannel::AlterPartition)
            },
            Some(5_000)
        )
    );
    assert_eq!(
        action.to_string(),
        "stick the alter-partition connections of the leader of orders-0 to the controllers"
    );
    let with = |target: &str, channel: &str| {
        format!(
            "[[faults]]\nat = \"1s\"\nkind = \"stuck-connection\"\ntarget = \"{target}\"\nchannel = \"{channel}\"\n"
        )
    };
    assert_eq!(
        err(&with("broker-1", "fetch")),
        "scenarios/x.toml:16:11: `faults[0].channel`: expected \"heartbeat\", \"alter-partition\", \"forwarding\" or \
         \"transaction-coordinator\", found \"fetch\""
    );
    // A transactional producer's connections to its coordinator: only such a producer.
    assert!(err(&with("producer-1", "transaction-coordinator")).contains(
        "`faults[0].target`: a \"stuck-connection\" fault on channel \"transaction-coordinator\" acts on a \
         transactional producer's connections to its coordinator; expected one of the producers with a \
         transactional.id (this scenario has none), found \"producer-1\""
    ));
    assert!(err(&with("the active controller", "heartbeat"))
        .contains("`faults[0].target`: a \"stuck-connection\" fault acts on a broker's connections"));
    let zookeeper = parse(
        &format!("kafka_version = \"3.9\"\n{}", with_faults(&with("broker-1", "heartbeat"))),
        Path::new("x.toml"),
    );
    assert!(zookeeper.unwrap_err().to_string().contains("this cluster keeps its metadata in ZooKeeper"));
    assert!(err("[[faults]]\nat = \"1s\"\nkind = \"stuck-connection\"\ntarget = \"broker-1\"\n")
        .contains("`faults[0].channel`: missing required key `channel`"));
}

#[test]
fn the_transaction_coordinator_of_a_transactional_producer_is_a_target() {
    let transactional = |fault: &str| {
        with_faults(fault)
            .replace("rate_per_sec = 1\n", "rate_per_sec = 1\n[producers.config]\n\"transactional.id\" = \"writer\"\n")
    };
    let fault = "[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"The transaction coordinator of producer-1\"\n";
    let scenario = parse(&transactional(fault), Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let target = Target::TransactionCoordinatorOf("producer-1".into());
    assert!(
        matches!(&scenario.faults[0].action, FaultAction::Crash { target: t } if *t == target),
        "{:?}",
        scenario.faults
    );
    assert_eq!(target.to_string(), "the transaction coordinator of producer-1");
    assert!(target.names_only_brokers());
    // A producer without a transactional.id has no transaction coordinator.
    assert_eq!(
        err(fault),
        "scenarios/x.toml:15:10: `faults[0].target`: producer-1 has no transaction coordinator: it is not a \
         producer with a transactional.id; expected one of them (this scenario has none)"
    );
    let missing = "[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"the transaction coordinator of producer-2\"\n";
    let text = transactional(missing);
    let e = parse(&text, Path::new("scenarios/x.toml")).expect_err("producer-2 does not exist").to_string();
    assert!(
        e.ends_with(
            "producer-2 has no transaction coordinator: it is not a producer with a transactional.id; \
                         expected one of them (producer-1)"
        ),
        "{e}"
    );
}

#[test]
fn machine_faults_take_a_broker_and_a_bounded_factor() {
    let fault = |body: &str| {
        format!("seeds = [1]\nduration = \"10s\"\n[[topics]]\nname = \"t\"\npartitions = 1\n[[faults]]\nat = \"1s\"\n{body}\n")
    };
    let s =
        parse(&fault("kind = \"slow-disk\"\ntarget = \"the leader of t-0\"\nduration = \"2s\""), Path::new("x.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.faults[0].action,
        FaultAction::SlowDisk {
            target: Target::LeaderOf("t-0".into()),
            factor: super::faults::DEFAULT_SLOWDOWN_FACTOR
        }
    );
    let s = parse(&fault("kind = \"cpu-steal\"\ntarget = \"broker-2\"\nfactor = 50"), Path::new("x.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.faults[0].action, FaultAction::CpuSteal { target: Target::Node("broker-2".into()), factor: 50 });
    let e =
        parse(&fault("kind = \"cpu-steal\"\ntarget = \"controller-1\""), Path::new("x.toml")).unwrap_err().to_string();
    assert!(e.contains("a \"cpu-steal\" fault slows a broker's machine"), "{e}");
    let e = parse(&fault("kind = \"slow-disk\"\ntarget = \"broker-1\"\nfactor = 1"), Path::new("x.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected a slowdown factor of 2 to 1000, found 1"), "{e}");
}
