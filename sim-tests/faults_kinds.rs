//! Each fault kind does what the README says it does, shown by its effect on a small run:
//! the trace names what the nemesis resolved, and the history or the brokers' trace shows
//! the consequence.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::AnomalyKind;
use kafkasim::fault::FaultKind;
use kafkasim::history::{Event, OpFn, OpType, TraceEvent};
use kafkasim::runner::RunOutcome;
use kafkasim::scenario::{self, Scenario};
use std::path::Path;

/// One topic `orders` (1 partition, RF 3), one async acks=all producer and a consumer,
/// then `faults`, in a ZooKeeper cluster (Kafka 3.9, the last release with one).
fn scenario_with(faults: &str) -> Scenario {
    let text = format!(
        "kafka_version = \"3.9\"\nseeds = [1]\nduration = \"12s\"\n[metastore]\ntickTime = 500\n[cluster]\nbrokers = 3\n[cluster.config]\n\
         \"zookeeper.session.timeout.ms\" = 2000\n\"min.insync.replicas\" = 2\n\
         [[topics]]\nname = \"orders\"\n\"replication.factor\" = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 100\nsend = \"async\"\n\
         [producers.config]\nacks = \"all\"\n\"request.timeout.ms\" = 2000\n\
         [[consumers]]\ntopic = \"orders\"\n[consumers.config]\n\"auto.offset.reset\" = \"earliest\"\n{faults}"
    );
    scenario::parse(&text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The nemesis's `fault` events of one kind.
fn faults(outcome: &RunOutcome, kind: FaultKind) -> Vec<(TraceEvent, Vec<String>, String)> {
    outcome
        .history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::Fault { kind: k, targets, detail } if *k == kind => {
                Some((e.clone().into_owned(), targets.clone(), detail.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The nemesis's `fault-ended` events of one kind.
fn ended(outcome: &RunOutcome, kind: FaultKind) -> Vec<(TraceEvent, Vec<String>, String)> {
    outcome
        .history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::FaultEnded { kind: k, targets, detail } if *k == kind => {
                Some((e.clone().into_owned(), targets.clone(), detail.clone()))
            }
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
    let (event, targets, _) = faults(&lost, FaultKind::PowerLoss)[0].clone();
    assert_eq!(targets, &["broker-1", "broker-2", "broker-3"]);
    assert_eq!(records_loaded(&lost, event.time_ns), vec![0, 0, 0], "nothing was flushed");
    let crashed = run(
        &scenario_with("[[faults]]\nat = \"5s\"\nkind = \"crash\"\ntarget = \"all brokers\"\nduration = \"1s\"\n"),
        1,
    );
    let (event, _, _) = faults(&crashed, FaultKind::Crash)[0].clone();
    assert!(records_loaded(&crashed, event.time_ns).iter().all(|&n| n > 300), "the page cache survives a crash");
}

#[test]
fn lowering_vm_dirty_expire_centisecs_lets_the_kernel_write_back_more_before_a_power_loss() {
    let power_loss =
        "[[faults]]\nat = \"5s\"\nkind = \"power-loss\"\ntarget = \"all replicas of orders-0\"\nduration = \"1s\"\n";
    // Linux's defaults: nothing is 30 s dirty at 5 s, so nothing was written back.
    let default = run(&scenario_with(power_loss), 1);
    let event = faults(&default, FaultKind::PowerLoss)[0].0.clone();
    assert_eq!(records_loaded(&default, event.time_ns), vec![0, 0, 0]);
    // Written back once 1 s dirty, by a flusher waking every 0.5 s: at most ~1.5 s is lost.
    let os = "[cluster.os]\n\"vm.dirty_expire_centisecs\" = 100\n\"vm.dirty_writeback_centisecs\" = 50\n";
    let eager = run(&scenario_with(&format!("{power_loss}{os}")), 1);
    let event = faults(&eager, FaultKind::PowerLoss)[0].0.clone();
    let loaded = records_loaded(&eager, event.time_ns);
    assert!(loaded.len() == 3 && loaded.iter().all(|&n| n >= 200), "{loaded:?}");
    // Every lost record's offset is taken by a new one: fewer lost, fewer such offsets.
    let rewritten = |o: &RunOutcome| o.counts().get(&AnomalyKind::InconsistentOffsets).copied().unwrap_or(0);
    assert!(rewritten(&eager) < rewritten(&default) / 2, "{} / {}", describe(&eager), describe(&default));
}

#[test]
fn a_paused_broker_does_nothing_until_it_resumes() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"pause\"\ntarget = \"broker-2\"\n[[faults]]\nat = \"7s\"\nkind = \"resume\"\ntarget = \"paused\"\n"), 1);
    let paused_at = faults(&outcome, FaultKind::Pause)[0].0.time_ns;
    let (resumed, targets, _) = ended(&outcome, FaultKind::Pause)[0].clone();
    assert_eq!(targets, &["broker-2"]);
    let silent = outcome.history.trace.iter().filter(|e| &*e.node == "broker-2");
    assert!(silent.clone().all(|e| e.time_ns <= paused_at || e.time_ns >= resumed.time_ns));
    assert!(silent.clone().any(|e| e.time_ns > resumed.time_ns), "broker-2 works again after resuming");
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

#[test]
fn a_clog_clogs_links_one_by_one_and_unclogs_them_all_within_its_duration() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"clog\"\ntarget = \"the leader of orders-0\"\npeers = \"the cluster\"\nduration = \"4s\"\n"), 1);
    let (clog, _, detail) = faults(&outcome, FaultKind::Clog)[0].clone();
    assert!(detail.starts_with("6 links to"), "{detail}");
    let (unclog, _, _) = ended(&outcome, FaultKind::Clog)[0].clone();
    assert!(unclog.time_ns - clog.time_ns <= 4_000_000_000);
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

#[test]
fn partition_shapes_cut_the_cluster_around_the_target() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"majority-minority\"\ntarget = \"the leader of orders-0\"\nduration = \"5s\"\n"), 1);
    let (event, targets, detail) = faults(&outcome, FaultKind::Partition)[0].clone();
    assert!(detail.starts_with(&format!("majority-minority: minority {} | majority", targets[0])), "{detail}");
    assert!(detail.ends_with("metastore"), "{detail}");
    // The majority elects a new leader while the minority's leader is cut off.
    let old = targets[0].trim_start_matches("broker-").parse::<u32>().unwrap();
    assert!(outcome
        .history
        .trace
        .iter()
        .any(|e| e.time_ns > event.time_ns
            && matches!(&e.event, Event::LeaderElection { leader: Some(l), .. } if *l != old)));
    let bridge = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"bridge\"\ntarget = \"broker-2\"\nduration = \"3s\"\n"), 1);
    let (_, targets, detail) = faults(&bridge, FaultKind::Partition)[0].clone();
    assert_eq!(targets, &["broker-2"]);
    assert!(detail.starts_with("bridge: metastore, broker-") && detail.ends_with("with bridge broker-2"), "{detail}");
}

#[test]
fn reordering_lets_a_non_idempotent_producers_requests_overtake_each_other() {
    let scenario = load("network-reorder");
    let outcome = run(&scenario, scenario.seeds[0]);
    assert_eq!(faults(&outcome, FaultKind::Reorder).len(), 1);
    assert_eq!(ended(&outcome, FaultKind::Reorder).len(), 1);
    assert!(kinds(&outcome).contains(&AnomalyKind::NonmonotonicSend), "{}", describe(&outcome));
}

#[test]
fn duplication_delivers_produce_requests_twice() {
    let scenario = load("network-duplicate");
    let outcome = run(&scenario, scenario.seeds[0]);
    assert_eq!(faults(&outcome, FaultKind::Duplicate).len(), 1);
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

/// The ISR of `orders-0` over time: (time, leader, ISR), from the controller's and the
/// leaders' trace events.
fn isr_changes(outcome: &RunOutcome) -> Vec<(u64, Option<u32>, Vec<u32>)> {
    outcome
        .history
        .trace
        .iter()
        .filter_map(|e| match &e.event {
            Event::IsrChange { tp, leader, isr, .. } | Event::LeaderElection { tp, leader, isr, .. }
                if &**tp == "orders-0" =>
            {
                Some((e.time_ns, *leader, isr.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_one_way_cut_blocks_only_the_targets_messages_and_still_shrinks_the_isr() {
    // The follower's messages to its leader are lost; the leader's still reach it. Its
    // fetch requests never arrive, so the leader drops it from the ISR after the lag time.
    let cut = |one_way: bool| {
        let mut s = scenario_with(&format!(
            "[[faults]]\nat = \"3s\"\nkind = \"partition\"\ntarget = \"a follower of orders-0\"\n\
             peers = \"the leader of orders-0\"\none_way = {one_way}\nduration = \"4s\"\n"
        ));
        s.cluster.config.replica_lag_time_max_ms = 1_500;
        run(&s, 1)
    };
    let one_way = cut(true);
    let (event, targets, detail) = faults(&one_way, FaultKind::Partition)[0].clone();
    assert!(detail.contains("one-way"), "{detail}");
    let follower: u32 = targets[0].trim_start_matches("broker-").parse().unwrap();
    let shrunk = isr_changes(&one_way).into_iter().find(|(at, _, isr)| *at > event.time_ns && !isr.contains(&follower));
    let (shrunk_at, _, _) =
        shrunk.unwrap_or_else(|| panic!("the ISR never dropped broker-{follower}: {:?}", isr_changes(&one_way)));
    assert!(shrunk_at - event.time_ns < 4_000_000_000, "dropped while the cut lasted");
    // The cut blocks one direction: its undo restores one link, the same cut both ways two.
    let both = cut(false);
    assert!(faults(&both, FaultKind::Partition)[0].2.contains("both ways"));
    let restored = |o: &RunOutcome| ended(o, FaultKind::Partition)[0].2.clone();
    assert_eq!((restored(&one_way).as_str(), restored(&both).as_str()), ("1 links restored", "2 links restored"));
    assert!(one_way.anomalies.is_empty(), "{}", describe(&one_way));
}

#[test]
fn a_bridge_cuts_the_half_without_the_metastore_off_while_the_bridge_stays_in_sync() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"bridge\"\ntarget = \"broker-2\"\nduration = \"3s\"\n"), 1);
    let (event, _, detail) = faults(&outcome, FaultKind::Partition)[0].clone();
    // "bridge: metastore, broker-A | broker-B with bridge broker-2": B's half has no metastore.
    let sides = detail.trim_start_matches("bridge: ").split(" with bridge").next().unwrap();
    let (with_metastore, without) = sides.split_once(" | ").expect("two halves");
    assert!(with_metastore.contains("metastore") && !without.contains("metastore"), "{detail}");
    let cut: u32 = without.trim_start_matches("broker-").parse().expect("one broker");
    let healed_at =
        ended(&outcome, FaultKind::Partition).iter().map(|(e, _, _)| e.time_ns).find(|t| *t > event.time_ns).unwrap();
    // Its metastore session expires: the controller takes it out of the ISR while the
    // bridge, which reaches both halves, stays in.
    let changes = isr_changes(&outcome);
    let during: Vec<_> = changes.iter().filter(|(t, _, _)| *t > event.time_ns && *t < healed_at).collect();
    assert!(during.iter().any(|(_, _, isr)| !isr.contains(&cut)), "broker-{cut} stayed in sync: {changes:?}");
    assert!(during.iter().all(|(_, _, isr)| isr.contains(&2)), "the bridge left the ISR: {changes:?}");
    // After the heal it catches up and is back in the ISR.
    assert!(changes.iter().any(|(t, _, isr)| *t > healed_at && isr.contains(&cut)), "{changes:?}");
    assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
}

#[test]
fn a_clogged_leader_stops_committing_until_its_links_unclog() {
    let outcome = run(&scenario_with("[[faults]]\nat = \"4s\"\nkind = \"clog\"\ntarget = \"the leader of orders-0\"\npeers = \"the cluster\"\nduration = \"4s\"\n"), 1);
    let clogged_at = faults(&outcome, FaultKind::Clog)[0].0.time_ns;
    let unclogged_at = ended(&outcome, FaultKind::Clog)[0].0.time_ns;
    let hw: Vec<u64> = outcome
        .history
        .trace
        .iter()
        .filter(|e| matches!(&e.event, Event::HighWatermark { tp, .. } if &**tp == "orders-0"))
        .map(|e| e.time_ns)
        .collect();
    let longest_gap_ms = |from: u64, to: u64| {
        let inside: Vec<u64> = hw.iter().copied().filter(|t| (from..to).contains(t)).collect();
        inside.windows(2).map(|w| (w[1] - w[0]) / 1_000_000).max().unwrap_or(0)
    };
    // acks=all needs the followers' fetches, which the clog holds: the high watermark
    // stands still for a while, where it otherwise moves every few milliseconds.
    assert!(longest_gap_ms(1_000_000_000, clogged_at) < 200, "{}", longest_gap_ms(1_000_000_000, clogged_at));
    assert!(longest_gap_ms(clogged_at, unclogged_at + 1) > 500, "{}", longest_gap_ms(clogged_at, unclogged_at + 1));
    assert!(outcome.stats.acked == outcome.stats.sent, "{}", describe(&outcome));
}

/// Two group members committing after processing (consumer-1 and -2) and `faults`. The
/// group forms at once (no initial rebalance delay), so that the faults find it formed.
fn group_with(faults: &str) -> Scenario {
    let text = format!(
        "seeds = [1]\nduration = \"10s\"\n[cluster.config]\n\"min.insync.replicas\" = 2\n\
         \"group.initial.rebalance.delay.ms\" = 0\n\
         [[topics]]\nname = \"orders\"\npartitions = 4\n\"replication.factor\" = 3\n\
         [[producers]]\ntopic = \"orders\"\nrate_per_sec = 100\n\
         [[consumers]]\ncount = 2\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"g\"\npoll_interval = \"20ms\"\n\
         commit = \"after-processing\"\n[consumers.config]\n\"auto.offset.reset\" = \"earliest\"\n\
         \"enable.auto.commit\" = false\n\"session.timeout.ms\" = 6000\n\"heartbeat.interval.ms\" = 500\n\
         \"max.poll.interval.ms\" = 1000\n{faults}"
    );
    scenario::parse(&text, Path::new("inline.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_stalled_member_stops_working_and_is_expelled_after_max_poll_interval_then_rejoins() {
    let outcome =
        run(&group_with("[[faults]]\nat = \"4s\"\nkind = \"stall\"\ntarget = \"consumer-1\"\nduration = \"3s\"\n"), 1);
    let stalled_at = faults(&outcome, FaultKind::Stall)[0].0.time_ns;
    let rebalances = kafkasim::check::groups::rebalances(&outcome.history);
    // One generation with the other member alone, a little after max.poll.interval.ms
    // (the heartbeat thread leaves for the stalled member), not after session.timeout.ms.
    let alone = rebalances.iter().find(|r| r.time_ns > stalled_at && r.members == 1).expect("a rebalance without it");
    let after_ms = (alone.time_ns - stalled_at) / 1_000_000;
    assert!((1_000..3_000).contains(&after_ms), "expelled {after_ms} ms after the stall: {rebalances:?}");
    assert_eq!(alone.partitions, 4, "the other member took every partition");
    // Its application did nothing while stalled (consumer-1 is process 1): it started no
    // call and processed nothing; only a call already waiting for its answer when the
    // stall struck (a poll, a commit) may return in it. Then it joined again. (A commit
    // for a batch held across the stall is refused with UNKNOWN_MEMBER_ID: see the
    // rebalance-storm test in groups.rs.)
    let stall_ends = stalled_at + 3_000_000_000;
    let stalled = |o: &&kafkasim::history::Op| o.process == 1 && (stalled_at + 1..stall_ends).contains(&o.time_ns);
    let worked: Vec<_> = outcome
        .history
        .ops
        .iter()
        .filter(stalled)
        .filter(|o| o.kind == OpType::Invoke || o.f == OpFn::Process)
        .collect();
    assert!(worked.is_empty(), "consumer-1 worked while stalled: {worked:?}");
    let busy = outcome.history.ops.iter().filter(|o| o.process == 1 && o.kind == OpType::Ok);
    assert!(busy.clone().any(|o| o.f == OpFn::Poll && o.time_ns > stall_ends), "consumer-1 never polled again");
    // The stall's end is traced when its application runs again: at the end of the
    // fault's 3 s (madsim's timers are 1 ms coarse).
    let (ended_at, targets, detail) = ended(&outcome, FaultKind::Stall)[0].clone();
    assert_eq!(
        (targets.as_slice(), detail.as_str()),
        (&["consumer-1".to_string()][..], "application thread runs again")
    );
    assert!((stall_ends..stall_ends + 5_000_000).contains(&ended_at.time_ns), "{}", ended_at.time_ns - stalled_at);
    assert!(
        rebalances.iter().any(|r| r.time_ns > alone.time_ns && r.members == 2),
        "it never rejoined: {rebalances:?}"
    );
    assert!(!kinds(&outcome).contains(&AnomalyKind::SplitOwnership), "{}", describe(&outcome));
}

#[test]
fn a_member_that_leaves_hands_its_partitions_over_at_once_and_rejoins_after_the_fault() {
    let outcome =
        run(&group_with("[[faults]]\nat = \"4s\"\nkind = \"leave\"\ntarget = \"consumer-2\"\nduration = \"2s\"\n"), 1);
    let left_at = faults(&outcome, FaultKind::Leave)[0].0.time_ns;
    let rebalances = kafkasim::check::groups::rebalances(&outcome.history);
    // LeaveGroup: the coordinator rebalances at once, without waiting for the session
    // timeout (6 s) or max.poll.interval.ms (1 s).
    let alone = rebalances.iter().find(|r| r.time_ns > left_at && r.members == 1).expect("a rebalance without it");
    assert!((alone.time_ns - left_at) / 1_000_000 < 1_000, "{rebalances:?}");
    assert_eq!(alone.partitions, 4);
    // It comes back as a new member once the fault's 2 s are over.
    let back = rebalances.iter().find(|r| r.time_ns > alone.time_ns && r.members == 2).expect("it rejoined");
    assert!(back.time_ns >= left_at + 2_000_000_000, "{rebalances:?}");
    // Its return is traced as the fault's end, when the 2 s are over.
    let (ended_at, targets, _) = ended(&outcome, FaultKind::Leave)[0].clone();
    assert_eq!(targets, &["consumer-2"]);
    let back_at = left_at + 2_000_000_000;
    assert!((back_at..back_at + 5_000_000).contains(&ended_at.time_ns), "{}", ended_at.time_ns - left_at);
    let refused = outcome.history.ops.iter().any(|o| o.f == OpFn::Commit && o.kind == OpType::Fail);
    assert!(!refused, "a clean leave commits before it goes; nothing is refused");
    assert!(!kinds(&outcome).contains(&AnomalyKind::SplitOwnership), "{}", describe(&outcome));
}

#[test]
fn in_kraft_mode_partition_shapes_keep_the_controllers_with_the_majority() {
    let kraft = |faults: &str| {
        let mut text = std::fs::read_to_string(crate::support::scenario_path("kraft-controller-failover")).unwrap();
        text.truncate(text.find("[[faults]]").expect("the file has faults"));
        scenario::parse(&format!("{text}{faults}[expect]\nabsent = [\"*\"]\n"), Path::new("inline.toml"))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let split = "[[faults]]\nat = \"4s\"\nkind = \"partition\"\nshape = \"majority-minority\"\n\
                 target = \"the leader of orders-0\"\nduration = \"5s\"\n";
    let outcome = run(&kraft(split), 1);
    let (event, targets, detail) = faults(&outcome, FaultKind::Partition)[0].clone();
    assert!(detail.ends_with("controller-1, controller-2, controller-3"), "{detail}");
    assert!(!detail.contains("metastore"), "{detail}");
    // The majority's active controller fences the cut-off leader and elects another.
    let old = targets[0].trim_start_matches("broker-").parse::<u32>().unwrap();
    assert!(outcome.history.trace.iter().any(|e| e.time_ns > event.time_ns
        && matches!(&e.event, Event::LeaderElection { tp, leader: Some(l), .. } if &**tp == "orders-0" && *l != old)));
}
