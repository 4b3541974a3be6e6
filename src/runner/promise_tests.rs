use super::*;
use crate::scenario::{parse_with, SetScope, Setting};
use std::path::Path;

const SAFE: &str = r#"
seeds = [1]
duration = "1s"
kafka_version = "3.9"

[cluster]
brokers = 3

[cluster.config]
"min.insync.replicas" = 2
"log.flush.interval.messages" = 1

[[topics]]
name = "orders"
partitions = 1
"replication.factor" = 3

[[producers]]
topic = "orders"
rate_per_sec = 10

[producers.config]
acks = "all"

[[consumers]]
topic = "orders"
mode = "subscribe"
group = "g"

[consumers.config]
"enable.auto.commit" = false
"#;

fn kinds(settings: &[&str]) -> Vec<AnomalyKind> {
    let settings: Vec<Setting> = settings.iter().map(|s| s.parse().unwrap()).collect();
    let scenario = parse_with(SAFE, Path::new("t.toml"), &settings, SetScope::OneScenario).expect("parses");
    promised(&scenario).into_iter().map(|p| p.kind).collect()
}

#[test]
fn the_safe_configuration_promises_durability_order_and_at_least_once() {
    let k = kinds(&[]);
    for kind in [
        AnomalyKind::LostWrite,
        AnomalyKind::Unseen,
        AnomalyKind::CommittedTruncation,
        AnomalyKind::Duplicate,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::PollSkip,
        AnomalyKind::G0,
        AnomalyKind::ConsumeSkip,
        AnomalyKind::MultipleLeaders,
        AnomalyKind::NoProgress,
    ] {
        assert!(k.contains(&kind), "{kind} not promised: {k:?}");
    }
    // At-least-once allows duplicates, and commits may move back on a rebalance.
    assert!(!k.contains(&AnomalyKind::ConsumeDuplicate));
    assert!(!k.contains(&AnomalyKind::CommitRegression));
    assert!(!k.contains(&AnomalyKind::IntSendSkip));
    assert_eq!(k.last(), Some(&AnomalyKind::NoProgress));
}

#[test]
fn acks_1_promises_neither_durability_nor_no_duplicates() {
    // Kafka 3.9 quietly turns idempotence off with acks=1 (KIP-679).
    let k = kinds(&["acks=1"]);
    assert!(!k.contains(&AnomalyKind::LostWrite));
    assert!(!k.contains(&AnomalyKind::Unseen));
    assert!(!k.contains(&AnomalyKind::Duplicate));
    assert!(!k.contains(&AnomalyKind::ConsumeSkip));
    assert!(k.contains(&AnomalyKind::MultipleLeaders) && k.contains(&AnomalyKind::NoProgress));
    assert!(!kinds(&["acks=0"]).contains(&AnomalyKind::Unseen));
}

#[test]
fn each_durability_condition_is_needed() {
    for setting in [
        "min.insync.replicas=1",
        "unclean.leader.election.enable=true",
        "truncation=legacy",
        "truncation=leader-epoch-kip-101",
        "follower_restart=leader-change",
    ] {
        let k = kinds(&[setting]);
        assert!(!k.contains(&AnomalyKind::LostWrite), "{setting} still promises no loss");
        assert!(!k.contains(&AnomalyKind::ReplicaDivergence), "{setting}");
    }
}

#[test]
fn without_idempotence_durability_stays_but_duplicates_are_allowed() {
    let k = kinds(&["enable.idempotence=false"]);
    assert!(k.contains(&AnomalyKind::LostWrite));
    assert!(!k.contains(&AnomalyKind::Duplicate));
    assert!(!k.contains(&AnomalyKind::NonmonotonicSend));
    // More than 5 requests in flight turns idempotence off too (quietly, when not asked).
    assert!(!kinds(&["max.in.flight.requests.per.connection=6"]).contains(&AnomalyKind::Duplicate));
}

#[test]
fn no_flush_promises_durability_only_without_power_loss() {
    let text = SAFE.replace("\"log.flush.interval.messages\" = 1\n", "");
    let mut s = crate::scenario::parse(&text, Path::new("t.toml")).unwrap();
    assert!(promised(&s).iter().any(|p| p.kind == AnomalyKind::LostWrite && p.because.contains("no power loss")));
    let with_power_loss = format!(
        "{text}\n[[faults]]\nat = \"100ms\"\nkind = \"power-loss\"\ntarget = \"broker-1\"\nduration = \"100ms\"\n"
    );
    s = crate::scenario::parse(&with_power_loss, Path::new("t.toml")).unwrap();
    assert!(!promised(&s).iter().any(|p| p.kind == AnomalyKind::LostWrite));
}

#[test]
fn auto_commit_and_commit_before_processing_do_not_promise_no_skips() {
    assert!(!kinds(&["enable.auto.commit=true"]).contains(&AnomalyKind::ConsumeSkip));
    assert!(!kinds(&["commit=before-processing"]).contains(&AnomalyKind::ConsumeSkip));
}

#[test]
fn describe_groups_kinds_by_reason() {
    let line = describe(&[
        ("lost-write".into(), "acks=all".into()),
        ("unseen".into(), "acks=all".into()),
        ("no-progress".into(), "liveness".into()),
    ]);
    assert_eq!(line, "lost-write, unseen (acks=all); no-progress (liveness)");
}

#[test]
fn group_invariants_are_promised_only_while_no_fault_can_move_a_coordinator() {
    let with_fault = |fault: &str| {
        let s = crate::scenario::parse(&format!("{SAFE}\n[[faults]]\nat = \"100ms\"\n{fault}\n"), Path::new("t.toml"))
            .expect("parses");
        promised(&s).into_iter().map(|p| p.kind).collect::<Vec<_>>()
    };
    assert!(kinds(&[]).contains(&AnomalyKind::SplitOwnership));
    // A consumer's own faults leave every coordinator where it is.
    for fault in [
        "kind = \"stall\"\ntarget = \"consumer-1\"\nduration = \"1s\"",
        "kind = \"crash\"\ntarget = \"consumer-1\"\nduration = \"1s\"",
        "kind = \"partition\"\ntarget = \"consumer-1\"\nduration = \"1s\"",
        "kind = \"clog\"\ntarget = \"broker-1\"\npeers = \"consumer-1\"\nduration = \"1s\"",
    ] {
        let k = with_fault(fault);
        assert!(k.contains(&AnomalyKind::SplitOwnership) && k.contains(&AnomalyKind::StaleCommitAccepted), "{fault}");
    }
    // A broker fault can elect an offsets partition's leader that loaded a generation
    // never committed (swarm-wide-nightly seed 8983); durability itself stays promised.
    for fault in [
        "kind = \"crash\"\ntarget = \"broker-1\"\nduration = \"1s\"",
        "kind = \"clog\"\ntarget = \"broker-1\"\nduration = \"1s\"",
        "kind = \"pause\"\ntarget = \"the coordinator of group g\"\nduration = \"1s\"",
        "kind = \"packet-loss\"\nrate = 0.1\nduration = \"1s\"",
    ] {
        let k = with_fault(fault);
        for kind in GROUP_INVARIANTS {
            assert!(!k.contains(&kind), "{fault}: {kind} still promised");
        }
        assert!(k.contains(&AnomalyKind::LostWrite), "{fault}");
    }
}

#[test]
fn idempotence_promises_each_record_once_unless_copies_of_a_request_can_overtake_the_next() {
    let with_faults = |faults: &[&str]| {
        let text = faults
            .iter()
            .fold(SAFE.to_string(), |text, fault| format!("{text}\n[[faults]]\nat = \"100ms\"\n{fault}\n"));
        let s = crate::scenario::parse(&text, Path::new("t.toml")).expect("parses");
        promised(&s).into_iter().map(|p| p.kind).collect::<Vec<_>>()
    };
    let duplicate = "kind = \"duplicate\"\ntarget = \"broker-1\"\nrate = 0.2\nduration = \"1s\"";
    let reorder = "kind = \"reorder\"\ntarget = \"broker-1\"\nduration = \"1s\"";
    // Copies alone arrive in order, behind their original: the leader finds each a
    // duplicate of the batch it appended (network-duplicate-idempotent).
    assert!(with_faults(&[duplicate]).contains(&AnomalyKind::Duplicate));
    assert!(with_faults(&[reorder]).contains(&AnomalyKind::Duplicate));
    // Copies that may overtake: a copy refused as out of order, then another appended,
    // and the producer's epoch-bumped retry appended again (swarm-wide-nightly seed 5501).
    let both = with_faults(&[duplicate, reorder]);
    assert!(!both.contains(&AnomalyKind::Duplicate) && !both.contains(&AnomalyKind::G0), "{both:?}");
    assert!(both.contains(&AnomalyKind::LostWrite), "durability stays promised: {both:?}");
}
