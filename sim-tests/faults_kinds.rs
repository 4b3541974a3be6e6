//! Each fault kind does what the README says it does, shown by its effect on a small run:
//! the trace names what the nemesis resolved, and the history or the brokers' trace shows
//! the consequence.

mod support;

use kafkasim::check::AnomalyKind;
use kafkasim::history::{Event, OpFn, OpType, TraceEvent};
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::{self, Scenario};
use std::path::Path;
use support::{describe, kinds, load, run};

/// One topic `orders` (1 partition, RF 3), one async acks=all producer and a consumer,
/// then `faults`.
fn scenario_with(faults: &str) -> Scenario {
    let text = format!(
        "seeds = [1]\nduration = \"12s\"\n[cluster]\nbrokers = 3\n[cluster.config]\n\
         \"zookeeper.session.timeout.ms\" = 2000\n\"min.insync.replicas\" = 2\n\
         [[topics]]\nname = \"orders\"\n\"replication.factor\" = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 100\nsend = \"async\"\n\
         [producers.config]\nacks = \"all\"\n\"request.timeout.ms\" = 2000\n\
         [[consumers]]\ntopic = \"orders\"\n[consumers.config]\n\"auto.offset.reset\" = \"earliest\"\n{faults}"
    );
    scenario::parse(&text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The nemesis's trace events of one kind.
fn faults<'a>(outcome: &'a RunOutcome, kind: &str) -> Vec<(&'a TraceEvent, &'a Vec<String>, &'a String)> {
    outcome
        .history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::Fault { kind: k, targets, detail } if k == kind => Some((e, targets, detail)),
            _ => None,
        })
        .collect()
}

fn records_loaded(outcome: &RunOutcome, after_ns: u64) -> Vec<usize> {
    outcome
        .history
        .trace
        .iter()
        .filter(|e| e.time_ns > after_ns)
        .filter_map(|e| match &e.event {
            Event::LogLoaded { records, .. } => Some(records.len()),
            _ => None,
        })
        .collect()
}

#[test]
fn power_loss_of_all_replicas_drops_their_unflushed_logs_and_a_crash_does_not() {
    let lost = run(&scenario_with("[[faults]]\nat = \"5s\"\nkind = \"power-loss\"\ntarget = \"all replicas of orders-0\"\nduration = \"1s\"\n"), 1);
    let (event, targets, _) = faults(&lost, "power-loss")[0];
    assert_eq!(targets, &["broker-1", "broker-2", "broker-3"]);
    assert_eq!(records_loaded(&lost, event.time_ns), vec![0, 0, 0], "nothing was flushed");
    let crashed = run(&scenario_with("[[faults]]\nat = \"5s\"\nkind = \"crash\"\ntarget = \"all brokers\"\nduration = \"1s\"\n"), 1);
    let (event, _, _) = faults(&crashed, "crash")[0];
    assert!(records_loaded(&crashed, event.time_ns).iter().all(|&n| n > 300), "the page cache survives a crash");
}

#[test]
fn a_paused_broker_does_nothing_until_it_resumes() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"pause\"\ntarget = \"broker-2\"\n[[faults]]\nat = \"7s\"\nkind = \"resume\"\ntarget = \"paused\"\n"), 1);
    let paused_at = faults(&outcome, "pause")[0].0.time_ns;
    let (resumed, targets, _) = faults(&outcome, "resume")[0];
    assert_eq!(targets, &["broker-2"]);
    let silent = outcome.history.trace.iter().filter(|e| e.node == "broker-2");
    assert!(silent.clone().all(|e| e.time_ns <= paused_at || e.time_ns >= resumed.time_ns));
    assert!(silent.clone().any(|e| e.time_ns > resumed.time_ns), "broker-2 works again after resuming");
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

#[test]
fn a_clog_clogs_links_one_by_one_and_unclogs_them_all_within_its_duration() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"clog\"\ntarget = \"the leader of orders-0\"\npeers = \"the cluster\"\nduration = \"4s\"\n"), 1);
    let (clog, _, detail) = faults(&outcome, "clog")[0];
    assert!(detail.starts_with("6 links to"), "{detail}");
    let (unclog, _, _) = faults(&outcome, "unclog")[0];
    assert!(unclog.time_ns - clog.time_ns <= 4_000_000_000);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

#[test]
fn partition_shapes_cut_the_cluster_around_the_target() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"majority-minority\"\ntarget = \"the leader of orders-0\"\nduration = \"5s\"\n"), 1);
    let (event, targets, detail) = faults(&outcome, "partition")[0];
    assert!(detail.starts_with(&format!("majority-minority: minority {} | majority", targets[0])), "{detail}");
    assert!(detail.ends_with("metastore"), "{detail}");
    // The majority elects a new leader while the minority's leader is cut off.
    let old = targets[0].trim_start_matches("broker-").parse::<u32>().unwrap();
    assert!(outcome.history.trace.iter().any(|e| e.time_ns > event.time_ns
        && matches!(&e.event, Event::LeaderElection { leader: Some(l), .. } if *l != old)));
    let bridge = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"bridge\"\ntarget = \"broker-2\"\nduration = \"3s\"\n"), 1);
    let (_, targets, detail) = faults(&bridge, "partition")[0];
    assert_eq!(targets, &["broker-2"]);
    assert!(detail.starts_with("bridge: metastore, broker-") && detail.ends_with("with bridge broker-2"), "{detail}");
}

#[test]
fn reordering_lets_a_non_idempotent_producers_requests_overtake_each_other() {
    let scenario = load("network-reorder");
    let outcome = run(&scenario, scenario.seeds[0]);
    assert_eq!(faults(&outcome, "reorder").len(), 1);
    assert_eq!(faults(&outcome, "reorder-healed").len(), 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::NonmonotonicSend), "{}", describe(&outcome));
}

#[test]
fn duplication_delivers_produce_requests_twice() {
    let scenario = load("network-duplicate");
    let outcome = run(&scenario, scenario.seeds[0]);
    assert_eq!(faults(&outcome, "duplicate").len(), 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::Duplicate), "{}", describe(&outcome));
}

#[test]
fn a_crashed_client_records_a_crash_and_comes_back_under_a_new_process_id() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"crash\"\ntarget = \"producer-1\"\nduration = \"1s\"\n[[faults]]\nat = \"6s\"\nkind = \"crash\"\ntarget = \"consumer-1\"\nduration = \"1s\"\n"), 1);
    let ops = &outcome.history.ops;
    let crashes: Vec<(u64, OpType)> = ops.iter().filter(|o| o.f == OpFn::Crash).map(|o| (o.process, o.kind)).collect();
    assert_eq!(crashes, vec![(0, OpType::Invoke), (0, OpType::Info), (1, OpType::Invoke), (1, OpType::Info)]);
    // Nothing after its crash belongs to the old process; the new ones are 2 and 3.
    let crash_index = |p: u64| ops.iter().find(|o| o.f == OpFn::Crash && o.process == p).unwrap().index;
    assert!(ops.iter().filter(|o| o.process == 0).all(|o| o.index <= crash_index(0) + 1));
    assert!(ops.iter().any(|o| o.process == 2 && o.f == OpFn::Send && o.kind == OpType::Ok));
    assert!(ops.iter().any(|o| o.process == 3 && o.f == OpFn::Poll && o.kind == OpType::Ok));
    // Every invocation is completed by its own process before that process crashes.
    for process in [0, 1] {
        let mine: Vec<_> = ops.iter().filter(|o| o.process == process).collect();
        for pair in mine.chunks(2) {
            assert_eq!(pair[0].kind, OpType::Invoke);
            assert_ne!(pair.get(1).map(|o| o.kind), Some(OpType::Invoke));
        }
    }
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}
