//! Random fault schedules over the safe configuration (acks=all, min.insync.replicas=2,
//! replication factor 3, unclean election off, the idempotent producer, leader-epoch
//! truncation) never produce a safety anomaly. A failing schedule shrinks: proptest
//! drops faults, makes them earlier, shorter and milder, and lowers the seed.
//!
//! The number of cases comes from `KAFKASIM_PROPTEST_CASES` (default 16), so CI can run
//! many more: `KAFKASIM_PROPTEST_CASES=500 cargo test --test sim proptest_faults`.

use kafkasim::runner;
use kafkasim::scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::path::Path;

/// The safety phase, in milliseconds; every fault fires inside it.
const DURATION_MS: u64 = 8_000;

/// Who a crash or a partition hits.
#[derive(Clone, Debug)]
enum Who {
    LeaderOf(u32),
    AFollowerOf(u32),
    Broker(u32),
    RandomBroker,
    Controller,
}

impl Who {
    fn phrase(&self) -> String {
        match self {
            Who::LeaderOf(p) => format!("the leader of orders-{p}"),
            Who::AFollowerOf(p) => format!("a follower of orders-{p}"),
            Who::Broker(b) => format!("broker-{b}"),
            Who::RandomBroker => "a random broker".to_string(),
            Who::Controller => "the controller".to_string(),
        }
    }
}

/// One fault of a schedule, with the fault kinds scenarios have today.
#[derive(Clone, Debug)]
enum Fault {
    /// A broker process crashes and restarts `duration_ms` later.
    Crash { at_ms: u64, who: Who, duration_ms: u64 },
    /// A broker is cut off from everyone else (or only its outgoing messages are lost).
    Partition { at_ms: u64, who: Who, one_way: bool, duration_ms: u64 },
    /// Each message is lost with probability `percent / 100`.
    PacketLoss { at_ms: u64, percent: u32, duration_ms: u64 },
    /// The one-way latency range becomes `min_ms..min_ms + spread_ms`.
    Latency { at_ms: u64, min_ms: u64, spread_ms: u64, duration_ms: u64 },
}

impl Fault {
    fn toml(&self) -> String {
        match self {
            Fault::Crash { at_ms, who, duration_ms } => format!(
                "[[faults]]\nat = \"{at_ms}ms\"\nkind = \"crash\"\ntarget = \"{}\"\nduration = \"{duration_ms}ms\"\n",
                who.phrase()
            ),
            Fault::Partition { at_ms, who, one_way, duration_ms } => format!(
                "[[faults]]\nat = \"{at_ms}ms\"\nkind = \"partition\"\ntarget = \"{}\"\none_way = {one_way}\nduration = \"{duration_ms}ms\"\n",
                who.phrase()
            ),
            Fault::PacketLoss { at_ms, percent, duration_ms } => format!(
                "[[faults]]\nat = \"{at_ms}ms\"\nkind = \"packet-loss\"\nrate = {}\nduration = \"{duration_ms}ms\"\n",
                *percent as f64 / 100.0
            ),
            Fault::Latency { at_ms, min_ms, spread_ms, duration_ms } => format!(
                "[[faults]]\nat = \"{at_ms}ms\"\nkind = \"latency\"\nlatency_min = \"{min_ms}ms\"\nlatency_max = \"{}ms\"\nduration = \"{duration_ms}ms\"\n",
                min_ms + spread_ms
            ),
        }
    }
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        (0..2u32).prop_map(Who::LeaderOf),
        (0..2u32).prop_map(Who::AFollowerOf),
        (1..=3u32).prop_map(Who::Broker),
        Just(Who::RandomBroker),
        Just(Who::Controller),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let at = 0..DURATION_MS - 1;
    let duration = 1..5_000u64;
    prop_oneof![
        (at.clone(), who(), duration.clone()).prop_map(|(at_ms, who, duration_ms)| Fault::Crash {
            at_ms,
            who,
            duration_ms
        }),
        (at.clone(), who(), any::<bool>(), duration.clone())
            .prop_map(|(at_ms, who, one_way, duration_ms)| { Fault::Partition { at_ms, who, one_way, duration_ms } }),
        (at.clone(), 1..40u32, duration.clone()).prop_map(|(at_ms, percent, duration_ms)| Fault::PacketLoss {
            at_ms,
            percent,
            duration_ms
        }),
        (at, 0..100u64, 0..200u64, duration).prop_map(|(at_ms, min_ms, spread_ms, duration_ms)| Fault::Latency {
            at_ms,
            min_ms,
            spread_ms,
            duration_ms
        }),
    ]
}

/// The safe configuration with `faults` as its schedule.
fn scenario_text(faults: &[Fault]) -> String {
    let mut text = format!(
        r#"
seeds = [1]
duration = "{DURATION_MS}ms"

[metastore]
tickTime = 500
[cluster]
brokers = 3
truncation = "leader-epoch"

[cluster.config]
"min.insync.replicas" = 2
"unclean.leader.election.enable" = false
"zookeeper.session.timeout.ms" = 2000
"replica.lag.time.max.ms" = 5000

[network]
latency_min = "1ms"
latency_max = "10ms"

[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3

[[producers]]
topic = "orders"
rate_per_sec = 200
send = "async"

[producers.config]
acks = "all"
"enable.idempotence" = true
"max.in.flight.requests.per.connection" = 5
"request.timeout.ms" = 2000
"delivery.timeout.ms" = 30000

[[consumers]]
topic = "orders"

[consumers.config]
"auto.offset.reset" = "earliest"

[expect]
absent = ["*"]

"#
    );
    for fault in faults {
        text += "\n";
        text += &fault.toml();
    }
    text
}

fn cases() -> u32 {
    std::env::var("KAFKASIM_PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(16)
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        // Each case is a whole simulation: keep shrinking bounded.
        max_shrink_iters: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    })]

    #[test]
    fn the_safe_configuration_survives_random_fault_schedules(
        seed in 0..10_000u64,
        faults in proptest::collection::vec(fault(), 0..6),
    ) {
        let text = scenario_text(&faults);
        let scenario = scenario::parse(&text, Path::new("proptest-faults.toml"))
            .unwrap_or_else(|e| panic!("generated an invalid scenario: {e}\n{text}"));
        let outcome = runner::run_seed(&scenario, seed);
        prop_assert!(outcome.panic.is_none(), "seed {}: a simulated node panicked: {:?}\n{}", seed, outcome.panic, text);
        let safety: Vec<String> = outcome
            .anomalies
            .iter()
            .filter(|a| !a.kind.is_liveness())
            .map(|a| format!("{}: {}", a.kind, a.description))
            .collect();
        prop_assert!(safety.is_empty(), "seed {}: safety anomalies {:#?}\nscenario:\n{}", seed, safety, text);
    }
}
