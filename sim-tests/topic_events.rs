//! Topic administration while the workload runs (`[[events]]`): partitions added under a
//! keyed producer and a consumer group, and the `adding-partitions-reorders-keys` lesson
//! with its fixed twin, and the `deleting-a-topic-under-running-clients` lesson with its
//! twin.

use crate::support::{describe, kinds, load, run};
use kafkasim::check::{AnomalyKind, RecordRole};
use kafkasim::history::{ClusterState, Event};
use std::collections::BTreeSet;

#[test]
fn adding_partitions_moves_a_key_and_the_group_processes_it_out_of_send_order() {
    let scenario = load("adding-partitions-reorders-keys");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(kinds(&outcome), vec![AnomalyKind::KeyReordered], "{}", describe(&outcome));
        // The administrator's CreatePartitions was answered without an error, and the
        // controller placed three new partitions on three replicas each.
        let answered: Vec<_> = outcome
            .history
            .trace
            .iter()
            .filter_map(|e| match &e.event {
                Event::TopicAdmin { partitions, error, .. } => Some((*partitions, *error)),
                _ => None,
            })
            .collect();
        assert_eq!(answered, vec![(6, None)], "seed {seed}");
        let created = ClusterState::replay(&outcome.history.trace).created_by_admin().clone();
        let names: Vec<&str> = created.keys().map(|tp| &**tp).collect();
        assert_eq!(names, ["orders-3", "orders-4", "orders-5"], "seed {seed}");
        assert!(created.values().all(|replicas| replicas.len() == 3), "seed {seed}: {created:?}");
        // The key that moved: key-3, from orders-2 (murmur2 % 3) to orders-5 (% 6); the
        // partitions of the others are the same modulo 3 and 6.
        for anomaly in &outcome.anomalies {
            assert!(anomaly.description.contains("\"key-3\""), "seed {seed}: {}", anomaly.description);
            // The earlier record in orders-2, the later one processed first in orders-5.
            let partitions: Vec<&str> =
                anomaly.records.iter().filter(|r| r.role == RecordRole::Subject).map(|r| r.key.as_str()).collect();
            assert_eq!(partitions, ["orders-2", "orders-5"], "seed {seed}: {}", anomaly.description);
            assert!(anomaly.description.starts_with("group billing processed value"), "{}", anomaly.description);
        }
        // The story of the earlier record tells the topic event.
        let setup = kafkasim::explain::Setup::from_scenario(&scenario);
        let story = kafkasim::explain::render_text(&kafkasim::explain::explain(
            &outcome.history,
            &outcome.anomalies[0],
            &setup,
            kafkasim::scenario::Lang::En,
        ));
        assert!(
            story.contains("an administrator grows orders to 6 partitions (CreatePartitions)"),
            "seed {seed}: {story}"
        );
        // The new partitions were consumed: the group committed to the end of orders-5.
        assert!(
            outcome.history.ops.iter().any(|o| matches!(&o.value,
                kafkasim::history::OpValue::Offsets(offsets) if offsets.contains_key("orders-5"))),
            "seed {seed}: no commit of orders-5"
        );
    }
}

#[test]
fn a_topic_sized_up_front_keeps_every_key_in_send_order() {
    let scenario = load("adding-partitions-reorders-keys-fixed");
    let twin = load("adding-partitions-reorders-keys");
    assert_eq!(scenario.seeds, twin.seeds, "the twins run the same seeds");
    assert!(scenario.events.is_empty());
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
    }
}

/// Each topic change the administrator sent, by kind, with the error it was answered with.
fn admin_answers(outcome: &kafkasim::runner::RunOutcome) -> Vec<(&'static str, Option<kafkasim::protocol::ErrorCode>)> {
    let answers = outcome.history.trace.iter().filter_map(|e| match &e.event {
        Event::TopicAdmin { kind, error, .. } => Some((kind.name(), *error)),
        _ => None,
    });
    answers.collect()
}

#[test]
fn a_created_topic_gets_the_replicas_the_controller_placed_and_recovers_with_the_rest() {
    // KRaft: ReplicationControlManager's striped placer. ZooKeeper mode (3.9): the
    // controller's broker places replicas round-robin (AdminUtils) and writes the
    // assignment to /brokers/topics, which the controller's watches pick up.
    for (version, metadata) in [("4.1", "kraft"), ("3.9", "zookeeper")] {
        created_topic_recovers(version, metadata);
    }
}

fn created_topic_recovers(version: &str, metadata: &str) {
    let text = format!(
        r#"
kafka_version = "{version}"
seeds = [1, 2]
duration = "8s"
[cluster]
brokers = 3
metadata = "{metadata}"
[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 50
[[events]]
at = "2s"
kind = "create-topic"
topic = "payments"
partitions = 4
"replication.factor" = 2
[[events]]
at = "3s"
kind = "add-partitions"
topic = "payments"
partitions = 5
[expect]
absent = ["*"]
"#
    );
    let scenario =
        kafkasim::scenario::parse(&text, std::path::Path::new("created.toml")).unwrap_or_else(|e| panic!("{e}"));
    for &seed in &scenario.seeds {
        let seed_label = format!("{metadata} seed {seed}");
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let answers = admin_answers(&outcome);
        assert_eq!(answers, [("create-topic", None), ("add-partitions", None)], "{seed_label}");
        let created = ClusterState::replay(&outcome.history.trace).created_by_admin().clone();
        let names: Vec<&str> = created.keys().map(|tp| &**tp).collect();
        assert_eq!(names, ["payments-0", "payments-1", "payments-2", "payments-3", "payments-4"], "{seed_label}");
        for replicas in created.values() {
            let distinct: BTreeSet<_> = replicas.iter().collect();
            assert_eq!((replicas.len(), distinct.len()), (2, 2), "{seed_label}: {created:?}");
        }
        // Both placers start each partition one broker further on, until they have placed
        // as many as there are brokers (then the striped placer shuffles, and the
        // round-robin one shifts the other replicas).
        let leaders: Vec<u32> = created.values().map(|r| r[0]).collect();
        assert!(leaders[..3].windows(2).all(|w| w[1] == w[0] % 3 + 1), "{seed_label}: {leaders:?}");
        if metadata == "zookeeper" {
            // AdminUtils continues the round-robin where partition 0 started it, for the
            // partitions the topic was created with and those added later alike.
            assert_eq!(leaders[3..], [leaders[0], leaders[1]], "{seed_label}: {leaders:?}");
        }
        // Every new partition has a leader at the end (the liveness phase waited for it).
        let description = kafkasim::report::describe::describe(
            &outcome.history,
            &kafkasim::runner::topic_assignments(&scenario),
            None,
        );
        assert_eq!(description.topics["payments"].len(), 5);
        assert!(description.topics["payments"].iter().all(|p| p.leader.is_some() && p.isr.len() == 2));
    }
}

/// ZooKeeper mode: a controller elected after a topic was created learns it from
/// `/brokers/topics` (read and watched when it takes office), so it can grow the topic.
#[test]
fn a_zookeeper_controller_elected_after_a_creation_knows_the_topic_and_grows_it() {
    let text = r#"
kafka_version = "3.9"
seeds = [1, 2, 3]
duration = "12s"
# Sessions of 3 s rather than 18 s, so that the crashed controller's /controller node
# goes, and another broker takes office, while the run lasts.
[metastore]
tickTime = 500
[cluster]
brokers = 3
[cluster.config]
"zookeeper.session.timeout.ms" = 3000
[[topics]]
name = "orders"
partitions = 1
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 20
[[events]]
at = "2s"
kind = "create-topic"
topic = "payments"
partitions = 2
"replication.factor" = 3
[[faults]]
at = "3s"
kind = "crash"
target = "the controller"
duration = "3s"
[[events]]
at = "9s"
kind = "add-partitions"
topic = "payments"
partitions = 3
[expect]
absent = ["*"]
"#;
    let scenario =
        kafkasim::scenario::parse(text, std::path::Path::new("failover.toml")).unwrap_or_else(|e| panic!("{e}"));
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let controllers: BTreeSet<u32> = outcome
            .history
            .trace
            .iter()
            .filter_map(|e| match &e.event {
                Event::ControllerElected { broker, .. } => Some(*broker),
                _ => None,
            })
            .collect();
        assert!(controllers.len() >= 2, "seed {seed}: the controller moved ({controllers:?})");
        let answers = admin_answers(&outcome);
        assert_eq!(answers, [("create-topic", None), ("add-partitions", None)], "seed {seed}");
        let created = ClusterState::replay(&outcome.history.trace).created_by_admin().clone();
        assert_eq!(created.len(), 3, "seed {seed}: {created:?}");
        let description = kafkasim::report::describe::describe(
            &outcome.history,
            &kafkasim::runner::topic_assignments(&scenario),
            None,
        );
        assert!(description.topics["payments"].iter().all(|p| p.leader.is_some()), "seed {seed}");
    }
}

/// Two topics, a producer on each, and a group of two members reading `orders` with
/// `consumer_config` (lines of `[consumers.config]`), then `events`.
fn orders_and_payments_group(consumer_config: &str, events: &str) -> kafkasim::scenario::Scenario {
    let text = format!(
        r#"
seeds = [1, 2, 3]
duration = "10s"
liveness_timeout = "60s"
[cluster]
brokers = 3
[cluster.config]
"group.initial.rebalance.delay.ms" = 0
[[topics]]
name = "orders"
partitions = 3
"replication.factor" = 3
[[topics]]
name = "payments"
partitions = 3
"replication.factor" = 3
[[producers]]
topic = "orders"
rate_per_sec = 50
[[producers]]
topic = "payments"
rate_per_sec = 50
[[consumers]]
topic = "orders"
count = 2
mode = "subscribe"
group = "billing"
[consumers.config]
"auto.offset.reset" = "earliest"
{consumer_config}
{events}
[expect]
absent = ["*"]
allow = ["consume-duplicate"]
"#
    );
    kafkasim::scenario::parse(&text, std::path::Path::new("subscription.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// `subscribe` events for both members at `at`, with `subscription` (`topics = [...]` or
/// `pattern = "..."`).
fn both_subscribe(at: &str, subscription: &str) -> String {
    (1..=2)
        .map(|n| {
            format!("[[events]]\nat = \"{at}\"\nkind = \"subscribe\"\ntarget = \"consumer-{n}\"\n{subscription}\n")
        })
        .collect()
}

/// The group's members both subscribe to `orders` and `payments` at 4 s, under `strategy`.
fn growing_subscription(strategy: &str) -> kafkasim::scenario::Scenario {
    let config = format!("\"partition.assignment.strategy\" = \"{strategy}\"");
    orders_and_payments_group(&config, &both_subscribe("4s", "topics = [\"orders\", \"payments\"]"))
}

#[test]
fn a_group_whose_members_subscribe_to_another_topic_rebalances_and_consumes_it() {
    for (strategy, revokes_orders) in [("range", true), ("cooperative-sticky", false)] {
        let scenario = growing_subscription(strategy);
        for &seed in &scenario.seeds {
            let outcome = run(&scenario, seed);
            // No loss, no skip, no split ownership; the group caught up on both topics.
            assert_eq!(
                outcome.verdict(&scenario).status(),
                kafkasim::runner::Status::Pass,
                "{strategy}: {}",
                describe(&outcome)
            );
            let subscribed: Vec<&kafkasim::history::Op> = outcome
                .history
                .ops
                .iter()
                .filter(|o| o.f == kafkasim::history::OpFn::Subscribe && o.kind == kafkasim::history::OpType::Ok)
                .collect();
            assert_eq!(subscribed.len(), 4, "{strategy} seed {seed}: two subscribes each");
            let generations = kafkasim::check::groups::rebalances(&outcome.history);
            let last = generations.last().expect("a generation");
            let owned: Vec<&String> = last.assignment.values().flatten().collect();
            assert_eq!(owned.len(), 6, "{strategy} seed {seed}: {generations:?}");
            assert!(owned.iter().any(|k| k.starts_with("payments-")), "{strategy} seed {seed}: {generations:?}");
            // Eager revokes everything for the new subscription; cooperative keeps the
            // orders partitions the members still subscribe to.
            let revoked_orders = outcome.history.ops.iter().any(|o| {
                o.f == kafkasim::history::OpFn::Revoke
                    && matches!(&o.value, kafkasim::history::OpValue::Keys(k) if k.iter().any(|k| k.starts_with("orders-")))
                    && o.time_ns > 4_000_000_000
            });
            assert_eq!(revoked_orders, revokes_orders, "{strategy} seed {seed}");
        }
    }
}

/// The deletion lesson as written (KRaft), or moved to a ZooKeeper-mode cluster of Kafka
/// 3.9, whose controller deletes through its `TopicDeletionManager`.
fn deletion_lesson(name: &str, metadata: &str) -> kafkasim::scenario::Scenario {
    let path = crate::support::scenario_path(name);
    let text = std::fs::read_to_string(&path).expect("the lesson is readable");
    let text = match metadata {
        "kraft" => text,
        _ => format!("kafka_version = \"3.9\"\n{}", text.replace("metadata = \"kraft\"", "metadata = \"zookeeper\"")),
    };
    kafkasim::scenario::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn deleting_a_topic_under_running_clients_loses_what_the_group_had_not_read() {
    for metadata in ["kraft", "zookeeper"] {
        deletion_loses_unread_records(&deletion_lesson("deleting-a-topic-under-running-clients", metadata));
    }
}

fn deletion_loses_unread_records(scenario: &kafkasim::scenario::Scenario) {
    let mut expired_seeds = 0;
    for &seed in &scenario.seeds {
        let outcome = run(scenario, seed);
        // Only unseen records, one anomaly per partition, each saying the topic went.
        assert_eq!(kinds(&outcome), vec![AnomalyKind::Unseen], "{}", describe(&outcome));
        assert_eq!(outcome.anomalies.len(), 3, "{}", describe(&outcome));
        for anomaly in &outcome.anomalies {
            assert!(anomaly.description.contains("Its topic was deleted at"), "{}", anomaly.description);
        }
        let trace = &outcome.history.trace;
        // One RemoveTopicRecord committed once (KRaft), or one deletion begun by the
        // controller (ZooKeeper); every broker dropped its three replicas.
        let deleted: Vec<_> = trace.iter().filter(|e| matches!(e.event, Event::TopicDeleted { .. })).collect();
        assert_eq!(deleted.len(), 1, "seed {seed}");
        let deleted_at = deleted[0].time_ns;
        let mut dropped: Vec<(String, u32)> = trace
            .iter()
            .filter_map(|e| match &e.event {
                Event::PartitionDeleted { tp, broker } => Some((tp.to_string(), *broker)),
                _ => None,
            })
            .collect();
        dropped.sort();
        assert_eq!(dropped.len(), 9, "seed {seed}: {dropped:?}");
        // No broker appended to the topic once it had dropped its replica.
        for e in trace {
            if let Event::Append { tp, broker, .. } = &e.event {
                let gone = trace.iter().any(|d| {
                    d.time_ns < e.time_ns
                        && matches!(&d.event, Event::PartitionDeleted { tp: t, broker: b } if t == tp && b == broker)
                });
                assert!(!gone, "seed {seed}: broker {broker} appended to {tp} after deleting it");
            }
        }
        // Commits after the deletion are refused with UNKNOWN_TOPIC_OR_PARTITION; none
        // succeeds (one in flight when the run's nodes are killed at its end has no
        // answer: info).
        let after = |o: &&kafkasim::history::Op| o.time_ns > deleted_at + 1_000_000_000;
        let commits: Vec<_> = outcome
            .history
            .ops
            .iter()
            .filter(after)
            .filter(|o| o.f == kafkasim::history::OpFn::Commit && o.kind != kafkasim::history::OpType::Invoke)
            .collect();
        assert!(!commits.is_empty(), "seed {seed}: the group kept committing");
        assert!(commits.iter().all(|o| o.kind != kafkasim::history::OpType::Ok), "seed {seed}: {commits:?}");
        assert!(commits.iter().any(|o| o.error.as_deref() == Some("UNKNOWN_TOPIC_OR_PARTITION")), "seed {seed}");
        // Where the producer had batches in flight, they expired with a retriable error
        // of the deletion as their last: the leader no longer knew the topic, or it
        // dropped the partition while the batch waited for its replicas.
        expired_seeds += usize::from(outcome.history.ops.iter().any(|o| {
            o.error.as_deref().is_some_and(|e| {
                ["UNKNOWN_TOPIC_OR_PARTITION", "NOT_LEADER_OR_FOLLOWER"]
                    .iter()
                    .any(|last| e.contains(&format!("delivery.timeout.ms expired (last error: {last})")))
            })
        }));
        // No rebalance completes: the member that must rejoin first retries its
        // pre-rebalance commit of the deleted partitions for max.poll.interval.ms, still
        // heartbeating, so the group keeps its generation and no member is evicted.
        let assigned_after = outcome.history.ops.iter().filter(after).any(|o| {
            o.group.is_some() && o.f == kafkasim::history::OpFn::Assign && o.kind == kafkasim::history::OpType::Ok
        });
        assert!(!assigned_after, "seed {seed}: the group rebalanced");
        let generations: BTreeSet<u32> =
            outcome.history.ops.iter().filter_map(|o| o.group.as_ref().map(|g| g.generation)).collect();
        assert_eq!(generations.len(), 1, "seed {seed}: {generations:?}");
        // Neither the cluster nor the group lists the topic at the end.
        let description = kafkasim::report::describe::describe(
            &outcome.history,
            &kafkasim::runner::topic_assignments(scenario),
            None,
        );
        assert!(description.topics.is_empty(), "seed {seed}: {:?}", description.topics.keys());
        assert!(description.groups["billing"].partitions.is_empty(), "seed {seed}");
    }
    assert!(expired_seeds > 0, "no seed expired a batch of the deleted topic");
}

#[test]
fn a_deletion_the_controllers_refuse_loses_nothing() {
    let twin = load("deleting-a-topic-under-running-clients");
    for metadata in ["kraft", "zookeeper"] {
        let scenario = deletion_lesson("deleting-a-topic-under-running-clients-fixed", metadata);
        assert_eq!(scenario.seeds, twin.seeds, "the twins run the same seeds");
        refused_deletion_loses_nothing(&scenario);
    }
}

fn refused_deletion_loses_nothing(scenario: &kafkasim::scenario::Scenario) {
    for &seed in &scenario.seeds {
        let outcome = run(scenario, seed);
        assert!(outcome.anomalies.is_empty(), "{}", describe(&outcome));
        let refused = outcome.history.trace.iter().any(|e| {
            matches!(
                &e.event,
                Event::TopicAdmin { error: Some(kafkasim::protocol::ErrorCode::TopicDeletionDisabled), .. }
            )
        });
        assert!(refused, "seed {seed}: TOPIC_DELETION_DISABLED");
    }
}

/// Two topics and a producer on the one that is not deleted, for the ZooKeeper-mode
/// deletion tests.
const ORDERS_AND_PAYMENTS: &str = r#"[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3
[[topics]]
name = "payments"
partitions = 1
"replication.factor" = 3
[[producers]]
topic = "payments"
rate_per_sec = 20
"#;

/// ZooKeeper mode (`TopicDeletionManager`): a replica whose broker is down when the
/// deletion begins is ineligible, and the deletion waits for it; when the broker is back
/// the controller has it delete its replica too and completes the deletion. Seeds where
/// broker-3 was the controller run the deletion on the next one.
#[test]
fn a_zookeeper_deletion_waits_for_a_crashed_replica_and_completes_when_it_returns() {
    let text = format!(
        r#"
kafka_version = "3.9"
seeds = [1, 2, 3]
duration = "14s"
# The orders producer's sends after the deletion fail only after max.block.ms each.
liveness_timeout = "12m"
[cluster]
brokers = 3
metadata = "zookeeper"
[cluster.config]
"auto.create.topics.enable" = false
# Sessions of 3 s: where broker-3 was the controller, another takes office at about 5 s
# and runs the deletion.
"zookeeper.session.timeout.ms" = 3000
{ORDERS_AND_PAYMENTS}[[producers]]
topic = "orders"
rate_per_sec = 20
[[faults]]
at = "2s"
kind = "crash"
target = "broker-3"
duration = "6s"
[[events]]
at = "4s"
kind = "delete-topic"
topic = "orders"
"#
    );
    let scenario = kafkasim::scenario::parse(&text, std::path::Path::new("zk-deletion.toml")).unwrap();
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        // Only the deleted topic's records, which the final drain could not read.
        assert!(
            outcome.anomalies.iter().all(|a| a.kind == AnomalyKind::Unseen && a.description.starts_with("orders-")),
            "{}",
            describe(&outcome)
        );
        let trace = &outcome.history.trace;
        let at = |pred: &dyn Fn(&Event) -> bool| {
            trace.iter().filter(|e| pred(&e.event)).map(|e| e.time_ns).collect::<Vec<_>>()
        };
        let restarted = at(&|e| matches!(e, Event::BrokerStarted { broker: 3 }));
        let restarted_at = *restarted.last().expect("broker-3 restarts");
        assert!(restarted_at >= 8_000_000_000, "seed {seed}: broker-3 back at {restarted_at}");
        let deleted = at(&|e| matches!(e, Event::TopicDeleted { .. }));
        assert_eq!(deleted.len(), 1, "seed {seed}");
        assert!(deleted[0] < restarted_at, "seed {seed}: the deletion began while broker-3 was down");
        // Brokers 1 and 2 dropped their replicas at once; broker-3 only once it was back.
        for broker in 1..=3u32 {
            let dropped = at(&|e| matches!(e, Event::PartitionDeleted { broker: b, .. } if *b == broker));
            assert_eq!(dropped.len(), 2, "seed {seed}: broker-{broker} dropped {dropped:?}");
            if broker == 3 {
                assert!(dropped.iter().all(|&t| t > restarted_at), "seed {seed}: broker-3 dropped {dropped:?}");
            } else {
                assert!(dropped.iter().all(|&t| t < restarted_at), "seed {seed}: broker-{broker} dropped {dropped:?}");
            }
        }
        // The other topic lives on: payments keeps its replicas and the producer its acks.
        assert!(outcome.stats.acked > 0, "seed {seed}");
        let description = kafkasim::report::describe::describe(
            &outcome.history,
            &kafkasim::runner::topic_assignments(&scenario),
            None,
        );
        assert_eq!(
            description.topics.keys().map(String::as_str).collect::<Vec<&str>>(),
            vec!["payments"],
            "seed {seed}"
        );
    }
}

/// A group that subscribes by pattern (`subscribe(Pattern)`) consumes the existing
/// topics that match, never the others, and takes a matching topic created later into
/// its subscription once its members' metadata (refreshed every `metadata.max.age.ms`,
/// lowered to 2 s here) has it: a classic group rebalances, a consumer-protocol group's
/// coordinator hands the new topic's partitions out after the members' next heartbeats.
#[test]
fn a_pattern_subscription_takes_in_a_matching_topic_created_later() {
    let created = "[[events]]\nat = \"4s\"\nkind = \"create-topic\"\ntopic = \"orders-eu\"\npartitions = 2\n\"replication.factor\" = 3\n";
    let events = format!("{}{created}", both_subscribe("2s", "pattern = \"orders.*\""));
    // Classic members rebalance; consumer-protocol members (Kafka's AsyncKafkaConsumer,
    // which matches the pattern itself too) join at the poll after their pattern first
    // matched, and send newly matched names in their next heartbeat, up to
    // group.consumer.heartbeat.interval.ms (5 s) later: the last member's took orders-eu
    // in at 8.58, 9.09 and 8.87 s in seeds 1-3 (the classic group at 6.50, 6.02, 7.91 s).
    let classic = "\"metadata.max.age.ms\" = 2000";
    let consumer = "\"metadata.max.age.ms\" = 2000\n\"group.protocol\" = \"consumer\"";
    use kafkasim::protocol::GroupProtocol;
    for (config, protocol) in [(classic, GroupProtocol::Classic), (consumer, GroupProtocol::Consumer)] {
        let scenario = orders_and_payments_group(config, &events);
        pattern_takes_in_created_topic(&scenario, protocol);
    }
}

fn pattern_takes_in_created_topic(
    scenario: &kafkasim::scenario::Scenario,
    protocol: kafkasim::protocol::GroupProtocol,
) {
    for &seed in &scenario.seeds {
        let outcome = run(scenario, seed);
        assert_eq!(outcome.verdict(scenario).status(), kafkasim::runner::Status::Pass, "{}", describe(&outcome));
        let generations = kafkasim::check::groups::rebalances(&outcome.history);
        let owned_in = |g: &kafkasim::check::groups::Rebalance| -> BTreeSet<String> {
            g.assignment.values().flatten().cloned().collect()
        };
        assert!(generations.iter().all(|g| g.protocol == protocol), "seed {seed}: {generations:?}");
        // From a topic list to a pattern, each member unsubscribed first (Kafka refuses
        // to change the kind of a subscription otherwise), so it left the group and
        // joined again as a new member.
        let (first, last) = (generations.first().expect("a generation"), generations.last().expect("a generation"));
        assert!(first.assignment.keys().all(|m| !last.assignment.contains_key(m)), "seed {seed}: {generations:?}");
        // Nobody ever owns a partition of payments, which the pattern does not match.
        assert!(
            generations.iter().all(|g| owned_in(g).iter().all(|tp| !tp.starts_with("payments-"))),
            "seed {seed}: {generations:?}"
        );
        // The last generation holds orders and the new orders-eu, first assigned after the
        // creation (about 4.2 s), within a metadata refresh (2 s), the other member's
        // next heartbeat (3 s: it learns of the rebalance then) and the rebalance.
        let owned = owned_in(last);
        let expected: BTreeSet<String> =
            ["orders-0", "orders-1", "orders-2", "orders-eu-0", "orders-eu-1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(owned, expected, "seed {seed}: {generations:?}");
        // Read from the members' assign ops, not from `generations`: under the consumer
        // protocol a member's later assign in one member epoch replaces its earlier one
        // there, so a generation need not show every assignment a member held.
        use kafkasim::history::{OpFn, OpType, OpValue};
        let first_with_eu_ns = outcome
            .history
            .ops
            .iter()
            .filter(|o| o.f == OpFn::Assign && o.kind == OpType::Ok && o.group.is_some())
            .find(|o| matches!(&o.value, OpValue::Keys(keys) if keys.iter().any(|k| k.starts_with("orders-eu-"))))
            .map(|o| o.time_ns)
            .expect("orders-eu assigned");
        assert!(
            (4_000_000_000..10_000_000_000).contains(&first_with_eu_ns),
            "seed {seed}: orders-eu assigned at {first_with_eu_ns} ns"
        );
    }
}

/// KIP-848: consumer-protocol members whose coordinator runs the range assignor change
/// their subscription: their next heartbeats carry the new topics, the coordinator bumps
/// the group epoch and its new target assignment hands out the new topic's partitions,
/// with no global rebalance. It converges heartbeat by heartbeat
/// (`group.consumer.heartbeat.interval.ms`, 5 s): in seed 2 the member whose heartbeat
/// came first takes all of payments, and gives payments-2 back at its next heartbeat
/// after the other member's subscription arrived.
#[test]
fn consumer_protocol_members_that_subscribe_to_another_topic_get_its_partitions() {
    let config = "\"group.protocol\" = \"consumer\"\n\"group.remote.assignor\" = \"range\"";
    let scenario = orders_and_payments_group(config, &both_subscribe("4s", "topics = [\"orders\", \"payments\"]"));
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        // No loss, no split ownership; the group caught up on both topics.
        assert_eq!(outcome.verdict(&scenario).status(), kafkasim::runner::Status::Pass, "{}", describe(&outcome));
        let generations = kafkasim::check::groups::rebalances(&outcome.history);
        let owns_payments = |g: &&kafkasim::check::groups::Rebalance| {
            g.assignment.values().flatten().any(|k| k.starts_with("payments-"))
        };
        // Only orders before the change; payments assigned after it.
        assert!(generations.iter().filter(|g| g.time_ns < 4_000_000_000).all(|g| !owns_payments(&g)), "seed {seed}");
        assert!(
            generations.iter().any(|g| g.time_ns > 4_000_000_000 && owns_payments(&g)),
            "seed {seed}: {generations:?}"
        );
        assert!(generations.iter().all(|g| g.protocol == kafkasim::protocol::GroupProtocol::Consumer), "seed {seed}");
    }
}

/// KIP-848 under the coordinator's default uniform assignor: consumer-1 alone subscribes
/// to payments as well, so the group's subscriptions differ and Kafka 4.0's heterogeneous
/// builder computes the target. It keeps what it can, gives payments (only consumer-1
/// subscribes) to consumer-1, then balances orders across its two subscribers by whole
/// load, so consumer-1 ends with payments and consumer-2 with all of orders: 3 and 3
/// (`UniformHeterogeneousAssignmentBuilder.balanceTopic`). The range assignor, which
/// deals each topic on its own, leaves the two members two or more partitions apart.
#[test]
fn one_member_that_subscribes_to_another_topic_gets_it_and_gives_up_the_shared_one_under_the_uniform_assignor() {
    let one_subscribes = "[[events]]\nat = \"4s\"\nkind = \"subscribe\"\ntarget = \"consumer-1\"\n\
                          topics = [\"orders\", \"payments\"]\n";
    for (assignor, balanced) in [("uniform", true), ("range", false)] {
        let config = format!("\"group.protocol\" = \"consumer\"\n\"group.remote.assignor\" = \"{assignor}\"");
        let scenario = orders_and_payments_group(&config, one_subscribes);
        for &seed in &scenario.seeds {
            let outcome = run(&scenario, seed);
            assert_eq!(outcome.verdict(&scenario).status(), kafkasim::runner::Status::Pass, "{}", describe(&outcome));
            let generations = kafkasim::check::groups::rebalances(&outcome.history);
            let last = generations.last().expect("a generation");
            let sizes: Vec<usize> = last.assignment.values().map(Vec::len).collect();
            assert_eq!(sizes.iter().sum::<usize>(), 6, "{assignor} seed {seed}: {last:?}");
            let spread = sizes.iter().max().unwrap() - sizes.iter().min().unwrap();
            assert_eq!(spread == 0, balanced, "{assignor} seed {seed}: {last:?}");
            if balanced {
                // One member reads payments only, the other orders only.
                let topics = |keys: &Vec<String>| -> std::collections::BTreeSet<String> {
                    keys.iter().map(|k| k.rsplit_once('-').unwrap().0.to_string()).collect()
                };
                let mut each: Vec<_> = last.assignment.values().map(topics).collect();
                each.sort();
                assert_eq!(each, [["orders".to_string()].into(), ["payments".to_string()].into()], "seed {seed}");
            }
        }
    }
}

/// KIP-848's `subscribe(SubscriptionPattern)` (Kafka 4.0): the members send the regular
/// expression and their coordinator resolves it against its metadata image, off the
/// heartbeat path, then assigns what matched. A topic created later is taken in only by
/// the next resolution, which a heartbeat asks for no sooner than 10 s after the last one
/// (`REGEX_BATCH_REFRESH_INTERVAL_MS`): the members' first resolution follows their
/// rejoin at about 2 s (from a topic list to a pattern they unsubscribe first), so the
/// new topic's partitions are first assigned after 12 s, though it exists from 6 s.
#[test]
fn a_subscription_pattern_is_resolved_by_the_coordinator_at_most_every_ten_seconds() {
    let created = "[[events]]\nat = \"4s\"\nkind = \"create-topic\"\ntopic = \"orders-eu\"\npartitions = 2\n\"replication.factor\" = 3\n";
    let events = format!("{}{created}", both_subscribe("2s", "subscription_pattern = \"orders.*\""));
    let scenario = orders_and_payments_group("\"group.protocol\" = \"consumer\"", &events);
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        assert_eq!(outcome.verdict(&scenario).status(), kafkasim::runner::Status::Pass, "{}", describe(&outcome));
        let generations = kafkasim::check::groups::rebalances(&outcome.history);
        let owned_in = |g: &kafkasim::check::groups::Rebalance| -> BTreeSet<String> {
            g.assignment.values().flatten().cloned().collect()
        };
        assert!(generations.iter().all(|g| g.protocol == kafkasim::protocol::GroupProtocol::Consumer));
        // Only what the pattern matches is ever assigned.
        let matched = |tp: &String| tp.starts_with("orders-");
        assert!(generations.iter().all(|g| owned_in(g).iter().all(matched)), "seed {seed}: {generations:?}");
        let last = owned_in(generations.last().expect("a generation"));
        assert!(["orders-0", "orders-1", "orders-2"].iter().all(|tp| last.contains(*tp)), "seed {seed}: {last:?}");
        let first_with_eu = generations
            .iter()
            .find(|g| owned_in(g).iter().any(|tp| tp.starts_with("orders-eu-")))
            .expect("orders-eu assigned");
        assert!(
            (12_000_000_000..25_000_000_000).contains(&first_with_eu.time_ns),
            "seed {seed}: orders-eu assigned at {} ns",
            first_with_eu.time_ns
        );
    }
}

/// Four brokers, `orders` on three replicas each; broker-4 crashes at 3 s for 9 s, so it is
/// down (though not yet fenced, in KRaft) while an administrator deletes `orders` at 5 s
/// and creates a topic of the same name at 7 s.
fn recreation_while_a_broker_is_down(metadata: &str) -> kafkasim::scenario::Scenario {
    let version = if metadata == "zookeeper" { "kafka_version = \"3.9\"\n" } else { "" };
    // Seeds in which broker-4 is not the ZooKeeper-mode controller (in seeds 2 and 5 of
    // the runs of 2026-12-07 it is: no controller answers the admin client until another
    // is elected, and neither call is answered while broker-4 is down).
    let text = format!(
        r#"{version}seeds = [1, 3, 4]
duration = "20s"

[cluster]
brokers = 4
metadata = "{metadata}"

[cluster.config]
"auto.create.topics.enable" = false

[[topics]]
name = "orders"
partitions = 4
"replication.factor" = 3

[[producers]]
topic = "orders"
rate_per_sec = 40

[[consumers]]
topic = "orders"
mode = "subscribe"
group = "billing"

[consumers.config]
"auto.offset.reset" = "earliest"

[[faults]]
at = "3s"
kind = "crash"
target = "broker-4"
duration = "9s"

[[events]]
at = "5s"
kind = "delete-topic"
topic = "orders"

[[events]]
at = "7s"
kind = "create-topic"
topic = "orders"
partitions = 4
"replication.factor" = 3

[expect]
absent = []
"#
    );
    kafkasim::scenario::parse(&text, std::path::Path::new("recreation.toml")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_topic_created_again_under_a_deleted_name_is_another_topic_in_kraft() {
    let scenario = recreation_while_a_broker_is_down("kraft");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        let trace = &outcome.history.trace.to_vec();
        // The controller frees the name once the RemoveTopicRecord commits: the create
        // succeeds, and the new topic's partitions are traced under `orders#2`.
        assert_eq!(admin_answers(&outcome), vec![("delete-topic", None), ("create-topic", None)], "seed {seed}");
        let created: Vec<String> =
            ClusterState::replay(trace).created_by_admin().keys().map(|k| k.to_string()).collect();
        assert_eq!(created, ["orders#2-0", "orders#2-1", "orders#2-2", "orders#2-3"], "seed {seed}");
        // Broker-4 comes back with logs of the deleted topic: it sets them aside as stray
        // (`isStrayKraftReplica`) instead of serving them as the new topic's.
        let strays: Vec<(&str, u32, u64)> = trace
            .iter()
            .filter_map(|e| match &e.event {
                Event::PartitionStray { tp, broker, records } => Some((&**tp, *broker, *records)),
                _ => None,
            })
            .collect();
        assert!(!strays.is_empty(), "seed {seed}: no stray log");
        assert!(
            strays.iter().all(|(tp, broker, records)| tp.starts_with("orders-") && *broker == 4 && *records > 0),
            "seed {seed}: {strays:?}"
        );
        // The clients moved on to the new topic, under its own keys.
        let keys_with = |f: kafkasim::history::OpFn| {
            outcome.history.ops.iter().filter(|o| o.f == f && o.kind == kafkasim::history::OpType::Ok).any(|o| {
                o.micro_ops().iter().any(|m| match m {
                    kafkasim::history::MicroOp::Send { key, .. } => key.starts_with("orders#2-"),
                    kafkasim::history::MicroOp::Poll { records: Some(r) } => {
                        r.keys().any(|k| k.starts_with("orders#2-"))
                    }
                    _ => false,
                })
            })
        };
        assert!(keys_with(kafkasim::history::OpFn::Send), "seed {seed}: nothing acknowledged in the new topic");
        assert!(keys_with(kafkasim::history::OpFn::Poll), "seed {seed}: nothing polled from the new topic");
        // What the checkers find: records of the first topic nobody read before it went,
        // and the group's commits of positions in the deleted topic, which the
        // coordinator stored for the new one. Nothing mixes the two topics' logs.
        let found: BTreeSet<AnomalyKind> = kinds(&outcome).into_iter().collect();
        // A member that rejoins before its first fetch in the new topic commits again the
        // position it was given from such a commit (the rejoin's commit of its positions);
        // its first fetch there is then out of range (the new topic has fewer records),
        // `auto.offset.reset` takes it back to the start, and its next commit goes back:
        // a commit-regression in the new topic, from exactly the carried offset (seed 2:
        // orders#2-0 31 at 10.708 s, then 0 at 12.359 s). Kafka's consumer does the same.
        let carried: BTreeSet<(String, u64)> = outcome
            .anomalies
            .iter()
            .filter(|a| a.kind == AnomalyKind::CrossIncarnationCommit)
            .flat_map(|a| &a.records)
            .filter_map(|r| Some((r.key.rsplit_once('-')?.1.to_string(), r.offset?)))
            .collect();
        for anomaly in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::CommitRegression) {
            let from = &anomaly.records[0];
            let partition = from.key.strip_prefix("orders#2-").unwrap_or_else(|| panic!("{}", anomaly.description));
            assert!(
                from.offset.is_some_and(|offset| carried.contains(&(partition.to_string(), offset))),
                "seed {seed}: not from a carried position: {}",
                anomaly.description
            );
        }
        let allowed = BTreeSet::from([
            AnomalyKind::Unseen,
            AnomalyKind::CrossIncarnationCommit,
            AnomalyKind::PositionCarried,
            AnomalyKind::CommitRegression,
        ]);
        assert!(found.is_subset(&allowed), "seed {seed}: {}", describe(&outcome));
        assert!(found.contains(&AnomalyKind::CrossIncarnationCommit), "seed {seed}: {}", describe(&outcome));
        for anomaly in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::Unseen) {
            assert!(anomaly.description.contains("Its topic was deleted at"), "{}", anomaly.description);
        }
    }
}

#[test]
fn a_zookeeper_controller_refuses_the_name_until_every_replica_is_deleted() {
    let scenario = recreation_while_a_broker_is_down("zookeeper");
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        let trace = &outcome.history.trace;
        // Broker-4 is down, so the deletion waits for it (`ReplicaDeletionIneligible`)
        // and the create is refused: TOPIC_ALREADY_EXISTS ("marked for deletion").
        assert_eq!(
            admin_answers(&outcome),
            vec![("delete-topic", None), ("create-topic", Some(kafkasim::protocol::ErrorCode::TopicAlreadyExists))],
            "seed {seed}"
        );
        assert!(!trace.iter().any(|e| matches!(e.event, Event::PartitionStray { .. })), "seed {seed}");
        // Once back, broker-4 deletes its replicas as the controller tells it.
        assert!(
            trace
                .iter()
                .any(|e| matches!(&e.event, Event::PartitionDeleted { broker: 4, .. }) && e.time_ns > 12_000_000_000),
            "seed {seed}"
        );
    }
}

#[test]
fn running_clients_create_a_deleted_topic_again_before_the_administrator_does() {
    let scenario = load("recreating-a-topic-under-running-clients");
    let mut crossed_seeds = 0;
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        let found: BTreeSet<AnomalyKind> = kinds(&outcome).into_iter().collect();
        let explained = BTreeSet::from([AnomalyKind::Unseen, AnomalyKind::CrossIncarnationCommit]);
        assert!(found.contains(&AnomalyKind::Unseen) && found.is_subset(&explained), "{}", describe(&outcome));
        crossed_seeds += usize::from(found.contains(&AnomalyKind::CrossIncarnationCommit));
        // The clients' metadata requests created `orders` again (num.partitions = 1,
        // default.replication.factor = 1) before the administrator's CreateTopics, which
        // is refused.
        let refused = Some(kafkasim::protocol::ErrorCode::TopicAlreadyExists);
        assert_eq!(admin_answers(&outcome), vec![("delete-topic", None), ("create-topic", refused)], "seed {seed}");
        let created = ClusterState::replay(&outcome.history.trace).created_by_admin().clone();
        let created: Vec<(&str, usize)> = created.iter().map(|(tp, replicas)| (&**tp, replicas.len())).collect();
        assert_eq!(created, vec![("orders#2-0", 1)], "seed {seed}");
        for anomaly in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::Unseen) {
            assert!(anomaly.description.contains("Its topic was deleted at"), "{}", anomaly.description);
        }
    }
    assert!(crossed_seeds > 0, "no seed committed a deleted topic's position into the new one");
}

#[test]
fn with_auto_creation_off_and_the_group_closed_the_new_topic_is_read_from_its_start() {
    let twin = load("recreating-a-topic-under-running-clients-fixed");
    for &seed in &twin.seeds {
        let outcome = run(&twin, seed);
        assert_eq!(kinds(&outcome), vec![AnomalyKind::Unseen], "{}", describe(&outcome));
        assert_eq!(admin_answers(&outcome), vec![("delete-topic", None), ("create-topic", None)], "seed {seed}");
        let created = ClusterState::replay(&outcome.history.trace).created_by_admin().clone();
        let created: Vec<(&str, usize)> = created.iter().map(|(tp, replicas)| (&**tp, replicas.len())).collect();
        assert_eq!(created, vec![("orders#2-0", 3), ("orders#2-1", 3), ("orders#2-2", 3)], "seed {seed}");
        // The members came back to no committed offset and read the new topic from 0.
        let read_from_start = outcome.history.ops.iter().any(|o| {
            o.f == kafkasim::history::OpFn::Poll
                && o.group.is_some()
                && o.micro_ops().iter().any(|m| {
                    matches!(m, kafkasim::history::MicroOp::Poll { records: Some(r) }
                        if r.iter().any(|(k, pairs)| k.starts_with("orders#2-") && pairs.first().is_some_and(|p| p.0 == 0)))
                })
        });
        assert!(read_from_start, "seed {seed}: no member read the new topic from offset 0");
    }
}

#[test]
fn a_zookeeper_controller_taking_office_after_a_deletion_does_not_bring_the_topic_back() {
    // The deletion completes at about 3.4 s; the controller's broker crashes at 10 s and
    // another broker's controller takes office with the scenario's topic list in hand.
    let text = format!(
        r#"kafka_version = "3.9"
seeds = [1, 2, 3]
duration = "20s"

[cluster]
brokers = 3
metadata = "zookeeper"

[cluster.config]
"auto.create.topics.enable" = false

{ORDERS_AND_PAYMENTS}
[[events]]
at = "3s"
kind = "delete-topic"
topic = "orders"

[[faults]]
at = "10s"
kind = "crash"
target = "the controller"
duration = "2s"

[expect]
absent = []
"#
    );
    let scenario =
        kafkasim::scenario::parse(&text, std::path::Path::new("failover.toml")).unwrap_or_else(|e| panic!("{e}"));
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        let trace = &outcome.history.trace;
        let elections: Vec<u64> =
            trace.iter().filter(|e| matches!(e.event, Event::ControllerElected { .. })).map(|e| e.time_ns).collect();
        assert!(elections.len() >= 2, "seed {seed}: no controller failover");
        let revived = trace.iter().any(|e| {
            e.time_ns > elections[1]
                && matches!(&e.event, Event::LeaderElection { tp, .. } | Event::BecomeLeader { tp, .. } if tp.starts_with("orders"))
        });
        assert!(!revived, "seed {seed}: the new controller started the deleted topic again");
        let description = kafkasim::report::describe::describe(
            &outcome.history,
            &kafkasim::runner::topic_assignments(&scenario),
            None,
        );
        assert_eq!(description.topics.keys().collect::<Vec<_>>(), ["payments"], "seed {seed}");
    }
}

#[test]
fn a_consumer_that_assigns_itself_partitions_carries_its_positions_into_a_topic_created_again() {
    // No group: nothing resets the consumer's positions when `orders` is deleted and
    // created again under the same name. Where KIP-320 validation meets the new topic's
    // leader it clamps the position to the new log's end (whatever auto.offset.reset says),
    // and the new topic's first records are skipped; where the fetch comes first, it is
    // out of range and auto.offset.reset = earliest brings it back to the start.
    let text = r#"seeds = [1, 2, 3, 4, 5, 6, 7, 8]
duration = "20s"

[cluster]
brokers = 3
metadata = "kraft"

[cluster.config]
"auto.create.topics.enable" = false

[[topics]]
name = "orders"
partitions = 2
"replication.factor" = 3

[[producers]]
topic = "orders"
rate_per_sec = 40

[[consumers]]
topic = "orders"
mode = "assign"

[consumers.config]
"auto.offset.reset" = "earliest"

[[events]]
at = "6s"
kind = "delete-topic"
topic = "orders"

[[events]]
at = "7s"
kind = "create-topic"
topic = "orders"
partitions = 2
"replication.factor" = 3

[expect]
absent = []
"#;
    let scenario =
        kafkasim::scenario::parse(text, std::path::Path::new("carried.toml")).unwrap_or_else(|e| panic!("{e}"));
    let mut carried_seeds = 0;
    for &seed in &scenario.seeds {
        let outcome = run(&scenario, seed);
        let found: BTreeSet<AnomalyKind> = kinds(&outcome).into_iter().collect();
        let explained = BTreeSet::from([AnomalyKind::Unseen, AnomalyKind::PositionCarried]);
        assert!(found.is_subset(&explained), "seed {seed}: {}", describe(&outcome));
        for anomaly in outcome.anomalies.iter().filter(|a| a.kind == AnomalyKind::PositionCarried) {
            assert!(anomaly.description.contains("read orders#2-"), "seed {seed}: {}", anomaly.description);
            carried_seeds += 1;
        }
    }
    assert!(carried_seeds > 0, "no seed carried a position into the new topic");
}
