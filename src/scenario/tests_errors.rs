//! Every class of error names the file, line, column and field, and says what was expected.

use std::path::Path;

use super::*;

pub(super) fn error(text: &str) -> ScenarioError {
    match parse(text, Path::new("scenarios/x.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

pub(super) fn err(text: &str) -> String {
    error(text).to_string()
}

/// The smallest valid header, two lines long.
const BASE: &str = "seeds = [1]\nduration = \"20s\"\n";

/// BASE plus one topic `orders` (3 partitions, replication factor 3), lines 3-6.
fn with_orders(rest: &str) -> String {
    format!("{BASE}[[topics]]\nname = \"orders\"\npartitions = 3\nreplication.factor = 3\n{rest}")
}

#[test]
fn toml_syntax_errors_have_positions_but_no_field() {
    let e = error("seeds = [1, 2");
    assert_eq!((e.line, e.column, e.field.as_deref()), (1, 14, None));
    assert_eq!(e.to_string(), "scenarios/x.toml:1:14: invalid TOML: invalid array; expected `]`");
    assert_eq!(err("a = "), "scenarios/x.toml:1:5: invalid TOML: expected a value");
    assert_eq!(
        err("seeds = [1]\nseeds = [2]"),
        "scenarios/x.toml:2:1: invalid TOML: duplicate key `seeds` in document root"
    );
}

#[test]
fn the_rendered_form_and_the_fields_agree() {
    let e =
        error(&format!("{BASE}[cluster]\nbrokers = 3\n[[topics]]\nname = \"orders\"\n\"replication.factor\" = 4\n"));
    assert_eq!(
        e.to_string(),
        "scenarios/x.toml:7:24: `topics[0].replication.factor`: replication factor 4 is larger than the broker \
         count 3; expected at most 3"
    );
    assert_eq!(e.path, Path::new("scenarios/x.toml"));
    assert_eq!((e.line, e.column), (7, 24));
    assert_eq!(e.field.as_deref(), Some("topics[0].replication.factor"));
    assert_eq!(e.message, "replication factor 4 is larger than the broker count 3; expected at most 3");
    assert_eq!(e.snippet().unwrap(), "7 | \"replication.factor\" = 4\n  |                        ^");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("broker count 3"));
}

#[test]
fn unknown_keys_list_the_allowed_ones_and_suggest_a_fix() {
    assert_eq!(
        err(&format!("{BASE}[[topics]]\nname = \"orders\"\nreplication_factor = 3\n")),
        "scenarios/x.toml:5:1: `topics[0].replication_factor`: unknown key `replication_factor` (did you mean \
         `replication.factor`?); expected one of `name`, `partitions`, `replication.factor` or `config`"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\nmin.insync.replica = 2\n")),
        "scenarios/x.toml:4:1: `cluster.config.min.insync.replica`: unknown key `min.insync.replica` (did you mean \
         `min.insync.replicas`?); expected one of `min.insync.replicas`, `unclean.leader.election.enable`, \
         `replica.lag.time.max.ms`, `zookeeper.session.timeout.ms`, `replica.fetch.wait.max.ms`, \
         `replica.fetch.max.bytes`, `replica.fetch.backoff.ms`, `replica.high.watermark.checkpoint.interval.ms`, `log.flush.interval.messages`, `log.flush.interval.ms`, \
         `log.retention.ms`, `log.retention.bytes`, `log.segment.bytes`, `log.retention.check.interval.ms`, \
         `offsets.topic.num.partitions`, `offsets.topic.replication.factor`, `transaction.state.log.num.partitions`, `transaction.state.log.replication.factor`, `transaction.state.log.min.isr`, `transaction.max.timeout.ms`, `transaction.abort.timed.out.transaction.cleanup.interval.ms`, `transaction.partition.verification.enable`, `transaction.version`, \
         `add.partitions.to.txn.retry.backoff.ms`, `add.partitions.to.txn.retry.backoff.max.ms`, `group.min.session.timeout.ms`, \
         `group.max.session.timeout.ms`, `group.initial.rebalance.delay.ms`, `group.coordinator.rebalance.protocols`, \
         `group.consumer.session.timeout.ms`, `group.consumer.min.session.timeout.ms`, \
         `group.consumer.max.session.timeout.ms`, `group.consumer.heartbeat.interval.ms`, \
         `group.consumer.min.heartbeat.interval.ms`, `group.consumer.max.heartbeat.interval.ms`, \
         `group.consumer.assignors`, `controlled.shutdown.enable`, \
         `controlled.shutdown.max.retries`, `controlled.shutdown.retry.backoff.ms`, `auto.leader.rebalance.enable`, \
         `leader.imbalance.check.interval.seconds`, `leader.imbalance.per.broker.percentage`, \
         `broker.heartbeat.interval.ms`, `broker.session.timeout.ms`, `controller.quorum.election.timeout.ms`, \
         `controller.quorum.fetch.timeout.ms`, `controller.quorum.election.backoff.max.ms`, \
         `controller.quorum.request.timeout.ms`, `metadata.max.idle.interval.ms`, `eligible.leader.replicas.enable`, `delete.topic.enable`, \
         `auto.create.topics.enable`, `num.partitions`, `default.replication.factor`, `num.network.threads`, `num.io.threads` or `queued.max.requests`"
    );
    let e = err(&format!("{BASE}replication.factor = 3\n"));
    assert!(e.starts_with("scenarios/x.toml:3:1: `replication.factor`: unknown key `replication.factor`; `replication.factor` belongs in [[topics]] or [[events]]; expected one of `name`,"), "{e}");
    let e = err(&format!("{BASE}brokers = 3\n"));
    assert!(e.starts_with("scenarios/x.toml:3:1: `brokers`: unknown key `brokers`; `brokers` belongs in [cluster]; expected one of `name`,"), "{e}");
    let e = err(&with_orders("[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\nacks = \"all\"\n"));
    assert!(
        e.starts_with(
            "scenarios/x.toml:10:1: `producers[0].acks`: unknown key `acks`; `acks` belongs in [producers.config] \
             or [pipelines.producer];"
        ),
        "{e}"
    );
}

#[test]
fn a_setting_written_both_quoted_and_dotted_is_an_error() {
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\n\"min.insync.replicas\" = 2\nmin.insync.replicas = 3\n")),
        "scenarios/x.toml:5:1: `cluster.config.min.insync.replicas`: `min.insync.replicas` is set twice, once quoted \
         and once as a dotted key; expected it once"
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    assert_eq!(
        err(&format!("{BASE}[[topics]]\nname = \"orders\"\npartitions = \"3\"\n")),
        "scenarios/x.toml:5:14: `topics[0].partitions`: expected a non-negative integer, found string \"3\"; \
         write the value without quotes"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster]\nbrokers = -1\n")),
        "scenarios/x.toml:4:11: `cluster.brokers`: expected a non-negative integer, found -1"
    );
    assert_eq!(
        err(&format!("{BASE}[topics]\nname = \"x\"\n")),
        "scenarios/x.toml:3:1: `topics`: expected an array of tables, found a single table; write the header as `[[topics]]`"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\n\"unclean.leader.election.enable\" = \"yes\"\n")),
        "scenarios/x.toml:4:36: `cluster.config.unclean.leader.election.enable`: expected a boolean (true or false), found string \"yes\""
    );
}

#[test]
fn durations_must_carry_a_unit() {
    assert_eq!(
        err("seeds = [1]\nduration = 20\n"),
        "scenarios/x.toml:2:12: `duration`: expected a duration string with a unit, such as \"150ms\", \"2.5s\" or \
         \"1m\", found integer 20; a bare number does not say its unit"
    );
    assert_eq!(
        err(&format!("{BASE}[[faults]]\nat = \"3\"\nkind = \"heal\"\n")),
        "scenarios/x.toml:4:6: `faults[0].at`: expected a duration such as \"150ms\", \"2.5s\" or \"1m\" (units: ms, \
         s, m, h), found \"3\"; add a unit, such as \"ms\" or \"s\""
    );
}

#[test]
fn bad_values_list_the_choices() {
    assert_eq!(
        err(&format!("{BASE}theme = \"lost\"\n")),
        "scenarios/x.toml:3:9: `theme`: expected \"basics\", \"loss\", \"duplication\", \"ordering\", \
         \"consumer-groups\", \"transactions\", \"replication-internals\", \"availability\", \"capacity\" or \"history\", found \"lost\" (did you mean \"loss\"?)"
    );
    assert_eq!(
        err(&format!("{BASE}[[faults]]\nat = \"3s\"\nkind = \"explode\"\n")),
        "scenarios/x.toml:5:8: `faults[0].kind`: expected \"crash\", \"restart\", \"partition\", \"heal\", \
         \"packet-loss\", \"latency\", \"power-loss\", \"pause\", \"resume\", \"clog\", \"reorder\", \
         \"duplicate\", \"stall\", \"leave\", \"stop\", \"rolling-restart\", \"stuck-connection\", \"slow-disk\" or \"cpu-steal\", found \"explode\""
    );
    assert_eq!(
        err(&format!("{BASE}[network]\npacket_loss_rate = 1.0\n")),
        "scenarios/x.toml:4:20: `network.packet_loss_rate`: expected a rate from 0 up to (not including) 1, found 1"
    );
}

#[test]
fn missing_required_keys_point_at_their_table() {
    assert_eq!(
        err("duration = \"1s\"\n"),
        "scenarios/x.toml:1:1: `seeds`: missing required key `seeds`; expected a list of seeds such as [1, 2, 3] or \
         a range such as \"1..51\""
    );
    assert_eq!(
        err(&format!("{BASE}\n[[faults]]\nat = \"3s\"\n")),
        "scenarios/x.toml:4:1: `faults[0].kind`: missing required key `kind`; expected the fault kind, one of \
         `crash`, `restart`, `partition`, `heal`, `packet-loss`, `latency`, `power-loss`, `pause`, `resume`, \
         `clog`, `reorder`, `duplicate`, `stall`, `leave`, `stop`, `rolling-restart`, `stuck-connection`, `slow-disk` or `cpu-steal`"
    );
    assert_eq!(
        err(&with_orders("[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\n")),
        "scenarios/x.toml:7:1: `consumers[0].group`: missing required key `group`; expected a consumer group name, \
         which `mode = \"subscribe\"` needs"
    );
}

#[test]
fn seeds_must_not_be_empty() {
    assert_eq!(
        err("seeds = []\nduration = \"1s\""),
        "scenarios/x.toml:1:9: `seeds`: the seed list is empty; expected at least one seed, such as [1, 2, 3] or \"1..11\""
    );
    assert_eq!(
        err("seeds = \"5..5\"\nduration = \"1s\""),
        "scenarios/x.toml:1:9: `seeds`: the seed range \"5..5\" is empty; expected a range whose end is larger than \
         its start, such as \"5..15\""
    );
    assert_eq!(
        err("seeds = [1, 2, 1]\nduration = \"1s\""),
        "scenarios/x.toml:1:16: `seeds[2]`: seed 1 is listed twice; expected each seed once"
    );
}

#[test]
fn producers_must_name_a_defined_topic() {
    assert_eq!(
        err(&with_orders("[[producers]]\ntopic = \"order\"\nrate_per_sec = 1\n")),
        "scenarios/x.toml:8:9: `producers[0].topic`: topic \"order\" is not defined (did you mean `orders`?); \
         expected one of `orders`"
    );
}

#[test]
fn idempotence_needs_acks_all_when_asked_for_explicitly() {
    let text = with_orders(
        "[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\n[producers.config]\nacks = \"1\"\n\"enable.idempotence\" = true\n",
    );
    assert_eq!(
        err(&text),
        "scenarios/x.toml:11:8: `producers[0].config.acks`: acks is \"1\", not \"all\", but \
         `producers[0].config.enable.idempotence` is true and the idempotent producer needs acks = \"all\", \
         retries > 0 and max.in.flight.requests.per.connection <= 5 (Kafka rejects this too); expected \
         acks = \"all\", or enable.idempotence = false"
    );
    let text = with_orders("[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\nconfig = { \"linger.ms\" = 10, \"delivery.timeout.ms\" = 100 }\n");
    assert_eq!(
        err(&text),
        "scenarios/x.toml:10:54: `producers[0].config.delivery.timeout.ms`: delivery.timeout.ms 100 is smaller than \
         linger.ms + request.timeout.ms = 10 + 30000; expected at least 30010 (Kafka rejects it too)"
    );
}

#[test]
fn fault_targets_must_exist_and_suit_the_kind() {
    let fault = |kind: &str, target: &str| {
        with_orders(&format!("[[faults]]\nat = \"1s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\n"))
    };
    assert_eq!(
        err(&fault("crash", "broker-4")),
        "scenarios/x.toml:10:10: `faults[0].target`: broker-4 does not exist: there are 3, broker-1 to broker-3; \
         expected one of them"
    );
    assert_eq!(
        err(&fault("crash", "the leader of orders-3")),
        "scenarios/x.toml:10:10: `faults[0].target`: partition orders-3 does not exist: topic `orders` has 3 \
         partitions; expected orders-0 to orders-2"
    );
    assert_eq!(
        err(&fault("crash", "the leader of payments-0")),
        "scenarios/x.toml:10:10: `faults[0].target`: partition payments-0 names topic `payments`, which is not \
         defined; expected a partition of `orders`"
    );
    assert_eq!(
        err(&fault("crash", "producer-1")),
        "scenarios/x.toml:10:10: `faults[0].target`: producer-1 does not exist: there are no producer processes \
         (see [[producers]]); expected one of them"
    );
    assert_eq!(
        err(&fault("crash", "crashed")),
        "scenarios/x.toml:10:10: `faults[0].target`: \"crashed\" only applies to a \"restart\" fault; expected a \
         node or a role such as \"the leader of orders-0\""
    );
    assert!(err(&fault("partition", "everyone else")).contains("\"everyone else\" only applies to `peers`"));
    assert!(err(&fault("crash", "the boss")).starts_with(
        "scenarios/x.toml:10:10: `faults[0].target`: expected \"broker-N\", \"metastore\", \"producer-N\""
    ));
    let rf1 = format!("{BASE}[[topics]]\nname = \"solo\"\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"a follower of solo-0\"\n");
    assert_eq!(
        err(&rf1),
        "scenarios/x.toml:8:10: `faults[0].target`: solo-0 has no followers: topic `solo` has replication factor 1; \
         expected a partition with replication factor 2 or more"
    );
}

#[test]
fn faults_take_only_their_own_keys_and_fire_inside_the_safety_phase() {
    assert_eq!(
        err(&format!("{BASE}[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"broker-1\"\npeers = \"broker-2\"\n")),
        "scenarios/x.toml:7:1: `faults[0].peers`: `peers` does not apply to a \"crash\" fault; expected only `at`, \
         `when`, `kind`, `target` or `duration`"
    );
    assert_eq!(
        err(&format!("{BASE}[[faults]]\nat = \"30s\"\nkind = \"heal\"\n")),
        "scenarios/x.toml:4:6: `faults[0].at`: the fault fires at 30s but the safety phase (`duration`) ends at \
         20s; expected a time before 20s"
    );
    assert_eq!(
        err(&format!(
            "{BASE}[[faults]]\nat = \"1s\"\nkind = \"partition\"\ntarget = \"broker-1\"\npeers = \"broker-1\"\n"
        )),
        "scenarios/x.toml:7:9: `faults[0].peers`: `target` and `peers` are both \"broker-1\", so nothing would be \
         cut; expected two different sides"
    );
}

#[test]
fn allow_takes_kinds_out_of_the_absent_wildcard_only() {
    use crate::check::AnomalyKind;
    let s = crate::scenario::parse(
        &format!("{BASE}[expect]\nabsent = [\"*\"]\nallow = [\"G0\", \"int-send-skip\"]\n"),
        std::path::Path::new("scenarios/x.toml"),
    )
    .unwrap();
    assert!(!s.expect.absent.contains(&AnomalyKind::G0) && !s.expect.absent.contains(&AnomalyKind::IntSendSkip));
    assert!(s.expect.absent.contains(&AnomalyKind::G1a) && s.expect.absent.contains(&AnomalyKind::LostWrite));
    assert_eq!(
        err(&format!("{BASE}[expect]\nabsent = [\"G1a\"]\nallow = [\"G0\"]\n")),
        "scenarios/x.toml:5:10: `expect.allow[0]`: `allow` takes kinds out of `absent = [\"*\"]`; expected \
         `absent = [\"*\"]` and `G0` in neither `present` nor `absent`"
    );
}

#[test]
fn expectations_use_known_names_and_do_not_overlap() {
    assert_eq!(
        err(&format!("{BASE}[expect]\npresent = [\"lost-write\"]\nabsent = [\"duplicate\", \"lost-write\"]\n")),
        "scenarios/x.toml:5:24: `expect.absent[1]`: `lost-write` is listed in both `present` and `absent`; expected \
         each kind in at most one of them"
    );
    assert_eq!(
        err(&format!("{BASE}[expect]\npresent = [\"lost-writes\"]\n")),
        "scenarios/x.toml:4:12: `expect.present[0]`: unknown anomaly \"lost-writes\" (did you mean \"lost-write\"?); \
         expected one of \"lost-write\", \"duplicate\", \"inconsistent-offsets\", \"unseen\", \"nonmonotonic-send\", \
         \"int-nonmonotonic-send\", \"int-send-skip\", \"nonmonotonic-poll\", \"int-nonmonotonic-poll\", \"poll-skip\", \
         \"int-poll-skip\", \"position-carried\", \"G0\", \"G1a\", \"G1c\", \"precommitted-read\", \"exactly-once\", \"key-reordered\", \"consume-skip\", \
         \"consume-duplicate\", \
         \"commit-regression\", \"cross-incarnation-commit\", \"split-ownership\", \"reassigned-before-revoked\", \"stale-commit-accepted\", \"static-member-rebalanced\", \"replica-divergence\", \"hw-regression\", \
         \"committed-truncation\", \"multiple-leaders\", \"quorum-multiple-leaders\", \"metadata-divergence\", \"metadata-gap\", \
         \"delivered-early\", \"delivered-late\", \"dead-letter-duplicate\", \"dead-letter-lost\", \"replay-skip\", \"replay-reordered\", \"replay-wrong-offset\" or \"no-progress\""
    );
    assert_eq!(
        err(&format!("{BASE}[expect]\npresent = [\"*\"]\n")),
        "scenarios/x.toml:4:12: `expect.present[0]`: `*` is only allowed in `absent`; expected anomaly names"
    );
}

#[test]
fn topic_settings_are_checked_against_each_other() {
    assert_eq!(
        err(&format!(
            "{BASE}[[topics]]\nname = \"t\"\nreplication.factor = 2\n[topics.config]\nmin.insync.replicas = 3\n"
        )),
        "scenarios/x.toml:7:23: `topics[0].config.min.insync.replicas`: min.insync.replicas 3 is larger than the \
         replication factor 2 of topic `t`, so no acks=all write could succeed; expected at most 2"
    );
    assert_eq!(
        err(&format!("{BASE}[[topics]]\nname = \"t\"\n[[topics]]\nname = \"t\"\n")),
        "scenarios/x.toml:6:8: `topics[1].name`: topic `t` is defined twice; expected unique topic names"
    );
    assert!(err(&format!("{BASE}[[topics]]\nname = \"bad name\"\n")).contains("invalid topic name \"bad name\""));
}

#[test]
fn columns_count_characters_and_lines_handle_crlf() {
    let e = error("title = \"héllo\"\r\nseeds = []\r\nduration = \"1s\"\r\n");
    assert_eq!((e.line, e.column), (2, 9));
    assert_eq!(e.snippet().unwrap(), "2 | seeds = []\n  |         ^");
    let e = error("title = \"héllo\" ; seeds = [1]");
    assert_eq!(e.line, 1);
    let e = error("# é\nname = \"é\"\nseeds = [1]\nduration = \"1s\"\n");
    assert_eq!((e.line, e.column, e.field.as_deref()), (2, 8, Some("name")));
}

#[test]
fn kafka_cross_setting_rules_are_enforced() {
    assert_eq!(
        err(&format!(
            "{BASE}[cluster.config]\n\"replica.lag.time.max.ms\" = 100\n\"replica.fetch.wait.max.ms\" = 500\n"
        )),
        "scenarios/x.toml:5:31: `cluster.config.replica.fetch.wait.max.ms`: replica.fetch.wait.max.ms 500 is larger \
         than replica.lag.time.max.ms 100, which would shrink the ISR on every idle fetch (Kafka rejects it); \
         expected at most 100"
    );
    assert_eq!(
        err(&with_orders("[[consumers]]\ntopic = \"orders\"\nconfig = { \"enable.auto.commit\" = true }\n")),
        "scenarios/x.toml:9:35: `consumers[0].config.enable.auto.commit`: enable.auto.commit is true but the \
         consumer has no `group` to commit to (Kafka rejects this too); expected a `group`, or \
         enable.auto.commit = false"
    );
    assert_eq!(
        err(&with_orders("[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\nkey_count = 5\n")),
        "scenarios/x.toml:10:13: `producers[0].key_count`: `key_count` only applies to keyed partitioning; \
         expected `partitioning = \"keyed\"` or no `key_count`"
    );
}

#[test]
fn fault_triggers_name_a_known_event_and_an_existing_partition() {
    let fault = |when: &str| with_orders(&format!("[[faults]]\nat = \"1s\"\nwhen = \"{when}\"\nkind = \"heal\"\n"));
    let message = err(&fault("shrink orders-0"));
    assert!(message.contains("`faults[0].when`: unknown event \"shrink\""), "{message}");
    assert!(message.contains("`truncate`"), "{message}");
    let message = err(&fault("truncate orders-9"));
    assert!(message.contains("partition \"orders-9\" does not exist"), "{message}");
    let message = err(&fault("truncate"));
    assert!(message.contains("expected \"EVENT PARTITION\""), "{message}");
}

#[test]
fn a_valid_fault_trigger_parses() {
    let text = with_orders("[[faults]]\nat = \"1s\"\nwhen = \"become-follower orders-2\"\nkind = \"crash\"\ntarget = \"the leader of orders-2\"\n");
    let scenario = crate::scenario::parse(&text, std::path::Path::new("scenarios/x.toml")).expect("valid");
    let trigger = scenario.faults[0].trigger.clone().expect("a trigger");
    assert_eq!(trigger.event, crate::scenario::TriggerEvent::BecomeFollower);
    assert_eq!(trigger.tp, "orders-2");
    assert_eq!(
        scenario.faults[0].to_string(),
        "at 1s on the next become-follower orders-2: crash the leader of orders-2"
    );
}

#[test]
fn retention_settings_take_minus_one_or_a_bounded_integer() {
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\n\"log.retention.ms\" = -2\n")),
        "scenarios/x.toml:4:22: `cluster.config.log.retention.ms`: expected -1 (no limit) or an integer of at \
         least 0, found integer -2"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\n\"log.retention.check.interval.ms\" = 0\n")),
        "scenarios/x.toml:4:37: `cluster.config.log.retention.check.interval.ms`: expected at least 1, found 0"
    );
    assert_eq!(
        err(&with_orders("[topics.config]\n\"segment.bytes\" = 10\n")),
        "scenarios/x.toml:8:19: `topics[0].config.segment.bytes`: expected at least 14, found 10"
    );
    assert_eq!(
        err(&with_orders("[topics.config]\n\"retention.bytes\" = \"1GB\"\n")),
        "scenarios/x.toml:8:21: `topics[0].config.retention.bytes`: expected -1 (no limit) or an integer of at \
         least 0, found string \"1GB\""
    );
    let e = err(&format!("{BASE}[cluster.config]\n\"retention.ms\" = 5\n"));
    assert!(e.contains("`retention.ms` belongs in [topics.config]"), "{e}");
}

#[test]
fn stall_and_leave_act_on_consumers_for_a_duration_and_coordinators_name_a_group() {
    let fault = |kind: &str, target: &str, duration: &str| {
        with_orders(&format!("[[faults]]\nat = \"1s\"\nkind = \"{kind}\"\ntarget = \"{target}\"\n{duration}"))
    };
    let broker = err(&fault("stall", "broker-1", "duration = \"2s\"\n"));
    assert!(
        broker.contains("`faults[0].target`") && broker.contains("expected a consumer such as \"consumer-1\""),
        "{broker}"
    );
    let forever = err(&fault("leave", "broker-1", ""));
    assert!(forever.contains("`faults[0].duration`") || forever.contains("duration"), "{forever}");
    let group = err(&fault("crash", "the coordinator of group billing", ""));
    assert!(group.contains("no consumer group is named"), "{group}");
}

#[test]
fn a_stall_may_also_target_a_transactional_producer_but_not_a_plain_one() {
    let with = |config: &str, kind: &str| {
        with_orders(&format!(
            "[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n{config}[[faults]]\nat = \"1s\"\nkind = \"{kind}\"\n\
             target = \"producer-1\"\nduration = \"2s\"\n"
        ))
    };
    let transactional = "[producers.config]\n\"transactional.id\" = \"w\"\n";
    let scenario = parse(&with(transactional, "stall"), Path::new("scenarios/x.toml")).expect("valid");
    assert!(matches!(&scenario.faults[0].action, FaultAction::Stall { .. }));
    let plain = err(&with("", "stall"));
    assert!(
        plain.contains("`faults[0].target`")
            && plain.contains("or a transactional producer (one with a `transactional.id`), found \"producer-1\""),
        "{plain}"
    );
    let leave = err(&with(transactional, "leave"));
    assert!(
        leave.contains(
            "expected a consumer such as \"consumer-1\", a pipeline instance such as \"pipeline-1\" or a delay queue \
             forwarder such as \"forwarder-1\", found \"producer-1\""
        ),
        "{leave}"
    );
}

#[test]
fn operations_settings_and_faults_refuse_bad_values_with_their_position() {
    let config = |line: &str| err(&format!("{BASE}[cluster.config]\n{line}\n"));
    assert_eq!(
        config("\"leader.imbalance.per.broker.percentage\" = 150"),
        "scenarios/x.toml:4:44: `cluster.config.leader.imbalance.per.broker.percentage`: expected a percentage \
         from 0 to 100, found 150"
    );
    assert_eq!(
        config("\"leader.imbalance.check.interval.seconds\" = 0"),
        "scenarios/x.toml:4:45: `cluster.config.leader.imbalance.check.interval.seconds`: expected at least 1, found 0"
    );
    assert_eq!(
        config("\"controlled.shutdown.enable\" = \"yes\""),
        "scenarios/x.toml:4:32: `cluster.config.controlled.shutdown.enable`: expected a boolean (true or false), \
         found string \"yes\""
    );
    assert_eq!(
        config("\"controlled.shutdown.max.retries\" = -1"),
        "scenarios/x.toml:4:37: `cluster.config.controlled.shutdown.max.retries`: expected a non-negative integer, \
         found -1"
    );
    let fault = |rest: &str| err(&with_orders(&format!("[[faults]]\nat = \"1s\"\n{rest}\n")));
    // Under Kafka 3.9, whose ZooKeeper cluster runs a metastore; the `kafka_version`
    // line moves every line down one.
    for who in ["metastore", "the cluster", "producer-1"] {
        let who_line = format!("kind = \"stop\"\ntarget = \"{who}\"");
        let with_producer =
            if who == "producer-1" { "[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n" } else { "" };
        let text = format!(
            "kafka_version = \"3.9\"\n{}",
            with_orders(&format!("{with_producer}[[faults]]\nat = \"1s\"\n{who_line}\n"))
        );
        let line = if who == "producer-1" { 14 } else { 11 };
        assert_eq!(
            err(&text),
            format!(
                "scenarios/x.toml:{line}:10: `faults[0].target`: a \"stop\" fault shuts a broker or a KRaft \
                 controller down cleanly; expected a broker, a controller or a role such as \"broker-2\", \"the \
                 leader of orders-0\" or \"the active controller\", found \"{who}\""
            )
        );
    }
    assert_eq!(
        fault("kind = \"stop\"\ntarget = \"broker-4\""),
        "scenarios/x.toml:10:10: `faults[0].target`: broker-4 does not exist: there are 3, broker-1 to broker-3; \
         expected one of them"
    );
    assert_eq!(
        fault("kind = \"rolling-restart\"\ntarget = \"broker-1\""),
        "scenarios/x.toml:10:1: `faults[0].target`: `target` does not apply to a \"rolling-restart\" fault; \
         expected only `at`, `when` or `kind`"
    );
    assert_eq!(
        fault("kind = \"rolling-restart\"\nduration = \"3s\""),
        "scenarios/x.toml:10:1: `faults[0].duration`: `duration` does not apply to a \"rolling-restart\" fault; \
         expected only `at`, `when` or `kind`"
    );
}

#[test]
fn os_sysctls_live_in_cluster_os_and_take_a_linux_int() {
    let s = parse(
        &format!("{BASE}[cluster.os]\nvm.dirty_expire_centisecs = 100\n\"vm.dirty_writeback_centisecs\" = 0\n"),
        Path::new("x.toml"),
    )
    .unwrap();
    assert_eq!(s.cluster.os, OsSettings { dirty_expire_centisecs: 100, dirty_writeback_centisecs: 0 });
    assert_eq!(
        err(&format!("{BASE}[cluster.os]\n\"vm.dirty_expire_centisecs\" = -1\n")),
        "scenarios/x.toml:4:31: `cluster.os.vm.dirty_expire_centisecs`: expected a non-negative integer, found -1"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster.os]\n\"vm.dirty_writeback_centisecs\" = 3000000000\n")),
        "scenarios/x.toml:4:34: `cluster.os.vm.dirty_writeback_centisecs`: expected 0 to 2147483647 (a Linux int \
         sysctl), found 3000000000"
    );
    let e = err(&format!("{BASE}[cluster.config]\n\"vm.dirty_expire_centisecs\" = 100\n"));
    assert!(e.contains("`vm.dirty_expire_centisecs` belongs in [cluster.os]"), "{e}");
}

#[test]
fn the_machine_cost_model_lives_in_cluster_machine_with_units_in_its_keys() {
    let s = parse(
        &format!("{BASE}[cluster.machine]\nproduce_us_per_request = 100\nproduce_ns_per_kb = 0\n"),
        Path::new("x.toml"),
    )
    .unwrap();
    let defaults = crate::sim::machine::MachineSpec::default();
    assert_eq!(s.cluster.machine.produce_ns_per_request, 100_000, "microseconds are stored as nanoseconds");
    assert_eq!(s.cluster.machine.produce_ns_per_kb, 0);
    assert_eq!(s.cluster.machine.fetch_ns_per_request, defaults.fetch_ns_per_request, "unset keys keep the defaults");
    assert_eq!(
        err(&format!("{BASE}[cluster.machine]\nproduce_us_per_request = 4000000000\n")),
        "scenarios/x.toml:4:26: `cluster.machine.produce_us_per_request`: expected 0 to 3600000000 microseconds, \
         found 4000000000"
    );
    let e = err(&format!("{BASE}[cluster.machine]\nproduce_ms_per_request = 1\n"));
    assert!(e.contains("did you mean `produce_us_per_request`"), "{e}");
    let e = err(&format!("{BASE}[cluster.config]\nfetch_us_per_request = 1\n"));
    assert!(e.contains("`fetch_us_per_request` belongs in [cluster.machine]"), "{e}");
}

#[test]
fn the_link_bandwidth_is_unlimited_unless_set_and_then_at_least_one_megabit() {
    let limited = |rest: &str| parse(&format!("{BASE}[cluster.machine]\n{rest}"), Path::new("x.toml"));
    assert_eq!(limited("").unwrap().cluster.machine.nic_mbit_per_sec, None);
    assert_eq!(limited("nic_mbit_per_sec = 1000\n").unwrap().cluster.machine.nic_mbit_per_sec, Some(1000));
    assert_eq!(
        err(&format!("{BASE}[cluster.machine]\nnic_mbit_per_sec = 0\n")),
        "scenarios/x.toml:4:20: `cluster.machine.nic_mbit_per_sec`: expected a bandwidth of 1 to 1600000 megabits \
         per second, found 0"
    );
}

#[test]
fn the_disk_is_unlimited_unless_set_and_its_dirty_limit_and_fsync_have_defaults() {
    let machine =
        |rest: &str| parse(&format!("{BASE}[cluster.machine]\n{rest}"), Path::new("x.toml")).unwrap().cluster.machine;
    let default = machine("");
    assert_eq!((default.disk_mbyte_per_sec, default.fsync_ns), (None, 1_000_000));
    let set = machine("disk_mbyte_per_sec = 200\nfsync_us = 50\ndirty_limit_mbyte = 64\n");
    assert_eq!((set.disk_mbyte_per_sec, set.fsync_ns, set.dirty_limit_bytes), (Some(200), 50_000, 64_000_000));
    assert_eq!(
        err(&format!("{BASE}[cluster.machine]\ndisk_mbyte_per_sec = 0\n")),
        "scenarios/x.toml:4:22: `cluster.machine.disk_mbyte_per_sec`: expected a bandwidth of 1 to 100000 megabytes \
         per second, found 0"
    );
    assert_eq!(
        err(&format!("{BASE}[cluster.machine]\ndirty_limit_mbyte = 0\n")),
        "scenarios/x.toml:4:21: `cluster.machine.dirty_limit_mbyte`: expected a limit of 1 to 16000000 megabytes, found 0"
    );
}

#[test]
fn a_producers_value_size_is_one_byte_to_max_request_size() {
    let producer = |line: &str| with_orders(&format!("[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\n{line}"));
    let s = parse(&producer("value_bytes = 1000\n"), Path::new("x.toml")).unwrap();
    assert_eq!(s.producers[0].value_bytes, 1000);
    assert_eq!(parse(&producer(""), Path::new("x.toml")).unwrap().producers[0].value_bytes, 8, "the integer alone");
    assert_eq!(
        err(&producer("value_bytes = 2000000\n")),
        "scenarios/x.toml:10:15: `producers[0].value_bytes`: expected a value size of 1 to 1048576 bytes \
         (max.request.size), found 2000000"
    );
}

#[test]
fn an_experiment_varies_settings_as_vary_writes_them() {
    let s = parse(
        &with_orders("[experiment]\nvary = [\"partitions=1,4\", \"acks=1,all\"]\nseeds = \"1..3\"\n"),
        Path::new("x.toml"),
    )
    .unwrap();
    let e = s.experiment.unwrap();
    assert_eq!(e.vary.iter().map(ToString::to_string).collect::<Vec<_>>(), ["partitions=1,4", "acks=1,all"]);
    assert_eq!((e.vary_lines, e.seeds), (vec![8, 8], Some(vec![1, 2])));
    assert_eq!(
        err(&with_orders("[experiment]\nvary = [\"partitions=1,,4\"]\n")),
        "scenarios/x.toml:8:9: `experiment.vary[0]`: expected KEY=V1,V2,... with no empty value, such as \
         acks=1,all, found `partitions=1,,4`"
    );
    let e = err(&with_orders("[experiment]\nvary = [\"acks=1\", \"acks=all\"]\n"));
    assert!(e.contains("`acks` is varied twice"), "{e}");
    let e = err(&with_orders("[experiment]\nvary = []\n"));
    assert!(e.contains("the list is empty"), "{e}");
    let e = err(&with_orders("[experiment]\nseeds = [1]\n"));
    assert!(e.contains("missing required key `vary`"), "{e}");
}

#[test]
fn the_request_pipeline_settings_take_kafkas_defaults_and_limits() {
    let s = parse(&format!("{BASE}[cluster.config]\n\"num.io.threads\" = 2\n"), Path::new("x.toml")).unwrap();
    let c = &s.cluster.config;
    assert_eq!((c.num_network_threads, c.num_io_threads, c.queued_max_requests), (3, 2, 500));
    assert_eq!(
        err(&format!("{BASE}[cluster.config]\n\"queued.max.requests\" = 0\n")),
        "scenarios/x.toml:4:25: `cluster.config.queued.max.requests`: expected at least 1, found 0"
    );
}

#[test]
fn metastore_limits_are_checked_as_zookeeper_checks_zoo_cfg() {
    let s = parse(&format!("{BASE}[metastore]\ntickTime = 500\n"), Path::new("x.toml")).unwrap();
    assert_eq!(s.metastore, crate::metastore::MetastoreConfig::from_tick_time(500));
    assert_eq!((s.metastore.min_session_timeout_ms, s.metastore.max_session_timeout_ms), (1_000, 10_000));
    assert_eq!(
        err(&format!("{BASE}[metastore]\ntickTime = 0\n")),
        "scenarios/x.toml:4:12: `metastore.tickTime`: tickTime is 0, which ZooKeeper refuses (\"tickTime is not \
         set\"); expected a number of milliseconds such as 2000"
    );
    assert_eq!(
        err(&format!("{BASE}[metastore]\ntickTime = 500\nminSessionTimeout = 20000\n")),
        "scenarios/x.toml:5:21: `metastore.minSessionTimeout`: minSessionTimeout 20000 is larger than \
         maxSessionTimeout 10000, which ZooKeeper refuses (\"minSessionTimeout must not be larger than \
         maxSessionTimeout\"); without them they are 2 and 20 times tickTime (1000 and 10000)"
    );
    let e = err(&format!("{BASE}[metastore]\nticktime = 500\n"));
    assert!(e.contains("unknown key `ticktime` (did you mean `tickTime`?)"), "{e}");
}

#[test]
fn a_session_timeout_outside_the_metastores_limits_is_granted_clamped_with_a_note() {
    // Under Kafka 3.9, whose ZooKeeper cluster runs the metastore; the `kafka_version`
    // line moves every line down one.
    let s = parse(
        &format!("kafka_version = \"3.9\"\n{BASE}[cluster.config]\n\"zookeeper.session.timeout.ms\" = 1000\n"),
        Path::new("x.toml"),
    )
    .unwrap();
    assert_eq!(s.metastore.negotiate(s.cluster.config.zookeeper_session_timeout_ms), 4_000);
    assert_eq!(s.notes.len(), 1, "{:?}", s.notes);
    assert!(
        s.notes[0].starts_with(
            "line 5, `cluster.config.zookeeper.session.timeout.ms`: the metastore grants a \
         session timeout of 4000 ms, not the 1000 ms asked for"
        ),
        "{:?}",
        s.notes
    );
    let within = parse(
        &format!(
            "kafka_version = \"3.9\"\n{BASE}[cluster.config]\n\"zookeeper.session.timeout.ms\" = 1000\n\
             [metastore]\ntickTime = 500\n"
        ),
        Path::new("x.toml"),
    )
    .unwrap();
    assert!(within.notes.is_empty(), "{:?}", within.notes);
}

#[test]
fn broker_settings_kafka_refuses_are_refused_with_its_rule() {
    let e = err(&format!("{BASE}[cluster.config]\n\"log.retention.ms\" = 0\n"));
    assert!(
        e.starts_with(
            "scenarios/x.toml:4:22: `cluster.config.log.retention.ms`: log.retention.ms is 0, which Kafka refuses"
        ),
        "{e}"
    );
    let topic = parse(&with_orders("[topics.config]\n\"retention.ms\" = 0\n"), Path::new("x.toml")).unwrap();
    assert_eq!(topic.topics[0].config.retention_ms, Some(Some(0)), "a topic's retention.ms may be 0");
    let e = err(&format!(
        "{BASE}[cluster.config]\n\"replica.lag.time.max.ms\" = 60000\n\"replica.fetch.wait.max.ms\" = 40000\n"
    ));
    assert!(e.contains("`cluster.config.replica.fetch.wait.max.ms`: replica.fetch.wait.max.ms 40000 is larger than replica.socket.timeout.ms (30000"), "{e}");
    let e = err(&format!("{BASE}[cluster.config]\n\"log.segment.bytes\" = 3000000000\n"));
    assert!(
        e.ends_with("expected at most 2147483647 (Kafka's log.segment.bytes is a Java int), found 3000000000"),
        "{e}"
    );
    let e = err(&with_orders(
        "[[producers]]\ntopic = \"orders\"\nrate_per_sec = 1\n[producers.config]\nretries = 3000000000\n",
    ));
    assert!(e.contains("`producers[0].config.retries`: expected an integer of at most 2147483647"), "{e}");
}

#[test]
fn a_topic_level_name_in_the_broker_config_names_the_brokers_key_and_back() {
    let broker = err(&format!("{BASE}[cluster.config]\n\"flush.messages\" = 1\n"));
    assert!(
        broker.starts_with(
            "scenarios/x.toml:4:1: `cluster.config.flush.messages`: unknown key `flush.messages` here, where the \
             same setting is named `log.flush.interval.messages`; expected one of"
        ),
        "{broker}"
    );
    let topic = err(&with_orders("[topics.config]\n\"log.retention.ms\" = 1000\n"));
    assert!(
        topic.contains("unknown key `log.retention.ms` here, where the same setting is named `retention.ms`"),
        "{topic}"
    );
}

#[test]
fn the_broker_side_add_partitions_retries_are_settings_of_kafka_4_only() {
    let config =
        |version: &str, key: &str| format!("kafka_version = \"{version}\"\n{BASE}[cluster.config]\n\"{key}\" = 50\n");
    assert_eq!(
        err(&config("3.9", "add.partitions.to.txn.retry.backoff.max.ms")),
        "scenarios/x.toml:5:48: `cluster.config.add.partitions.to.txn.retry.backoff.max.ms`: \
         add.partitions.to.txn.retry.backoff.max.ms came with Kafka 4.0 (KIP-890 part 2), but kafka_version is \
         3.9; expected kafka_version \"4.0\" or later, or no add.partitions.to.txn.retry.backoff.max.ms"
    );
    let scenario = parse(&config("4.0", "add.partitions.to.txn.retry.backoff.ms"), Path::new("x.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.cluster.config.add_partitions_to_txn_retry_backoff_ms, 50);
    assert_eq!(scenario.cluster.config.add_partitions_to_txn_retry_backoff_max_ms, 100, "Kafka's default");
    assert!(err(&config("4.0", "add.partitions.to.txn.retry.backoff.ms").replace("= 50", "= 0"))
        .contains("expected at least 1"));
}

#[test]
fn retry_backoff_max_ms_is_a_client_setting_of_kafka_3_7_and_later() {
    let producer = |version: &str, config: &str| {
        format!(
            "kafka_version = \"{version}\"\n{}[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n[producers.config]\n{config}",
            with_orders("")
        )
    };
    assert_eq!(
        err(&producer("3.6", "\"retry.backoff.max.ms\" = 2000\n")),
        "scenarios/x.toml:12:26: `producers[0].config.retry.backoff.max.ms`: retry.backoff.max.ms came with Kafka \
         3.7 (KIP-580), but kafka_version is 3.6; expected kafka_version \"3.7\" or later, or no \
         retry.backoff.max.ms"
    );
    let consumer = |version: &str| {
        format!(
            "kafka_version = \"{version}\"\n{}[[consumers]]\ntopic = \"orders\"\n[consumers.config]\n\
             \"retry.backoff.max.ms\" = 2000\n",
            with_orders("")
        )
    };
    assert!(
        err(&consumer("2.8")).contains("retry.backoff.max.ms came with Kafka 3.7 (KIP-580), but kafka_version is 2.8")
    );
    let parsed = |text: &str| parse(text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed(&consumer("3.7")).consumers[0].config.retry_backoff_max_ms, Some(2_000));
    let set = parsed(&producer("3.7", "\"retry.backoff.max.ms\" = 2000\n"));
    assert_eq!(set.producers[0].config.retry_backoff_max_ms, Some(2_000));
    // Absent: Kafka's default from 3.7 (exponential to 1 s), none before (a fixed backoff),
    // with or without a config table.
    assert_eq!(parsed(&producer("3.9", "acks = \"all\"\n")).producers[0].config.retry_backoff_max_ms, Some(1_000));
    assert_eq!(parsed(&producer("3.6", "acks = \"all\"\n")).producers[0].config.retry_backoff_max_ms, None);
    let bare = |version: &str| {
        format!("kafka_version = \"{version}\"\n{}[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n[[consumers]]\ntopic = \"orders\"\n", with_orders(""))
    };
    let (new, old) = (parsed(&bare("4.1")), parsed(&bare("3.6")));
    assert_eq!(
        (new.producers[0].config.retry_backoff_max_ms, new.consumers[0].config.retry_backoff_max_ms),
        (Some(1_000), Some(1_000))
    );
    assert_eq!(
        (old.producers[0].config.retry_backoff_max_ms, old.consumers[0].config.retry_backoff_max_ms),
        (None, None)
    );
    // A retry.backoff.ms above the maximum is Kafka's constant backoff: accepted, with a note.
    let constant = parsed(&producer("3.9", "\"retry.backoff.ms\" = 2000\n\"retry.backoff.max.ms\" = 500\n"));
    assert!(constant.notes.iter().any(|n| n.contains("the backoff is a constant 500 ms")), "{:?}", constant.notes);
}

#[test]
fn group_instance_id_needs_a_group_and_kafka_2_3() {
    let consumer = |group: &str| {
        with_orders(&format!(
            "[[consumers]]\ntopic = \"orders\"\n{group}[consumers.config]\n\"group.instance.id\" = \"pod\"\n"
        ))
    };
    let subscribed = consumer("mode = \"subscribe\"\ngroup = \"billing\"\n");
    let scenario = parse(&subscribed, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(scenario.consumers[0].config.group_instance_id.as_deref(), Some("pod"));
    assert!(err(&consumer("")).contains(
        "`consumers[0].config.group.instance.id`: group.instance.id makes a group member static, and this consumer \
         has no `group`"
    ));
    let old = format!("kafka_version = \"2.2\"\n{subscribed}");
    assert!(err(&old).contains("group.instance.id came with Kafka 2.3 (KIP-345), but kafka_version is 2.2"));
    assert!(err(&subscribed.replace("\"pod\"", "\"\"")).contains("group.instance.id is empty"));
    // Pipelines take none (their members are dynamic).
    let pipeline_keys = crate::scenario::keys::PIPELINE_CONSUMER_CONFIG;
    assert!(!pipeline_keys.contains(&"group.instance.id"));
}

#[test]
fn cooperative_sticky_needs_kafka_2_4_and_commit_on_revoke_a_manual_policy() {
    let consumer = |extra: &str, config: &str| {
        with_orders(&format!(
            "[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"billing\"\n{extra}[consumers.config]\n\
             \"partition.assignment.strategy\" = \"cooperative-sticky\"\n{config}"
        ))
    };
    let manual =
        consumer("commit = \"after-processing\"\ncommit_on_revoke = true\n", "\"enable.auto.commit\" = false\n");
    let scenario = parse(&manual, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let spec = &scenario.consumers[0];
    assert_eq!(spec.config.partition_assignment_strategy, crate::protocol::AssignmentStrategy::CooperativeSticky);
    assert!(spec.commit_on_revoke);
    let old = format!("kafka_version = \"2.3\"\n{manual}");
    assert!(err(&old).contains(
        "partition.assignment.strategy = \"cooperative-sticky\" came with Kafka 2.4 (KIP-429), but kafka_version is 2.3"
    ));
    assert!(err(&consumer("commit_on_revoke = true\n", ""))
        .contains("commit_on_revoke = true commits by hand in the rebalance listener"));
    let class =
        manual.replace("\"cooperative-sticky\"", "\"org.apache.kafka.clients.consumer.CooperativeStickyAssignor\"");
    assert!(parse(&class, Path::new("x.toml")).is_ok(), "Kafka's class name reads too");
}

#[test]
fn assign_mode_may_commit_to_a_group_and_spread_its_partitions_but_not_rebalance() {
    let consumer = |lines: &str| with_orders(&format!("[[consumers]]\ntopic = \"orders\"\n{lines}"));
    let spread =
        consumer("count = 3\nmode = \"assign\"\npartitions = \"spread\"\ngroup = \"billing\"\ncommit = \"auto\"\n");
    let scenario = parse(&spread, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let spec = &scenario.consumers[0];
    assert_eq!((spec.group.as_deref(), spec.partitions), (Some("billing"), crate::scenario::ManualPartitions::Spread));
    assert!(spec.config.enable_auto_commit, "a group means auto-commit by default, as in Kafka");
    assert!(err(&consumer("mode = \"subscribe\"\ngroup = \"billing\"\npartitions = \"spread\"\n"))
        .contains("`partitions` chooses what an assign-mode consumer assigns itself"));
    assert!(err(&consumer("mode = \"assign\"\npartitions = \"some\"\n")).contains("\"spread\""));
    let revoke = "mode = \"assign\"\ngroup = \"billing\"\ncommit = \"after-processing\"\ncommit_on_revoke = true\n\
                  [consumers.config]\n\"enable.auto.commit\" = false\n";
    assert!(err(&consumer(revoke)).contains("an assign-mode consumer never rebalances"));
}

#[test]
fn spread_deals_partitions_as_the_range_assignor_does() {
    use crate::scenario::ManualPartitions;
    let shares: Vec<Vec<u32>> = (0..3).map(|i| ManualPartitions::Spread.share(10, i, 3).collect()).collect();
    assert_eq!(shares, vec![vec![0, 1, 2, 3], vec![4, 5, 6], vec![7, 8, 9]]);
    assert_eq!(ManualPartitions::All.share(4, 2, 3).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert!(ManualPartitions::Spread.share(2, 2, 3).next().is_none(), "more consumers than partitions: one idles");
}

#[test]
fn the_consumer_protocol_needs_kraft_a_serving_coordinator_and_its_own_settings() {
    let consumer = |header: &str, cluster: &str, config: &str| {
        format!(
            "{header}{}{cluster}[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"billing\"\n\
             [consumers.config]\n\"group.protocol\" = \"consumer\"\n{config}",
            with_orders("")
        )
    };
    // Kafka 4.1 (the default) serves it by default.
    let ok = parse(&consumer("", "", "\"group.remote.assignor\" = \"range\"\n"), Path::new("x.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = &ok.consumers[0].config;
    assert_eq!(config.group_protocol, crate::protocol::GroupProtocol::Consumer);
    assert_eq!(config.group_remote_assignor, Some(crate::protocol::ServerAssignor::Range));
    assert_eq!(ok.cluster.config.group_consumer.session_timeout_ms, 45_000);
    // Kafka refuses the classic protocol's settings with it, and the other way round.
    assert!(err(&consumer("", "", "\"session.timeout.ms\" = 10000\n"))
        .contains("session.timeout.ms cannot be set when group.protocol=consumer"));
    let classic =
        consumer("", "", "\"group.remote.assignor\" = \"uniform\"\n").replace("\"consumer\"\n", "\"classic\"\n");
    assert!(err(&classic).contains("group.remote.assignor cannot be set when group.protocol=classic"));
    // Kafka 3.9 runs ZooKeeper by default, and its coordinators serve only classic groups.
    assert!(err(&consumer("kafka_version = \"3.9\"\n", "", "")).contains("runs only in a KRaft cluster"));
    let kraft_3_9 = "[cluster]\nmetadata = \"kraft\"\n";
    assert!(err(&consumer("kafka_version = \"3.9\"\n", kraft_3_9, "")).contains("UNSUPPORTED_VERSION"));
    let serving = "[cluster]\nmetadata = \"kraft\"\n[cluster.config]\n\
                   \"group.coordinator.rebalance.protocols\" = \"classic,consumer\"\n";
    assert!(parse(&consumer("kafka_version = \"3.9\"\n", serving, ""), Path::new("x.toml")).is_ok());
    assert!(err(&consumer("kafka_version = \"3.6\"\n", kraft_3_9, ""))
        .contains("group.protocol came with Kafka 3.7 (KIP-848)"));
    // The coordinator's timing stays within its limits, which a fast scenario lowers too.
    let fast = "[cluster.config]\n\"group.consumer.session.timeout.ms\" = 3000\n";
    assert!(err(&consumer("", fast, "")).contains("group.consumer.session.timeout.ms is 3000, outside [45000, 60000]"));
    let lowered = format!("{fast}\"group.consumer.min.session.timeout.ms\" = 3000\n");
    assert!(err(&consumer("", &lowered, "")).contains("must be below group.consumer.session.timeout.ms (3000)"));
    let both = format!(
        "{lowered}\"group.consumer.heartbeat.interval.ms\" = 500\n\"group.consumer.min.heartbeat.interval.ms\" = 500\n\
         \"group.consumer.assignors\" = [\"range\", \"uniform\"]\n"
    );
    let fast = parse(&consumer("", &both, ""), Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let settings = &fast.cluster.config.group_consumer;
    assert_eq!((settings.session_timeout_ms, settings.heartbeat_interval_ms), (3000, 500));
    assert_eq!(settings.assignors[0], crate::protocol::ServerAssignor::Range);
    assert!(err(&consumer("", "[cluster.config]\n\"group.consumer.assignors\" = \"uniform,sticky\"\n", ""))
        .contains("expected \"uniform\" or \"range\", found \"sticky\""));
}

/// BASE, a KRaft cluster of three brokers (lines 3-5), topic `orders` (lines 6-9).
fn kraft_with_orders(rest: &str) -> String {
    format!(
        "{BASE}[cluster]\nbrokers = 3\nmetadata = \"kraft\"\n[[topics]]\nname = \"orders\"\npartitions = 3\n\
         replication.factor = 3\n{rest}"
    )
}

#[test]
fn topic_events_are_checked_against_the_topics_the_earlier_events_leave() {
    let grow = |at: &str, partitions: u32| {
        format!("[[events]]\nat = \"{at}\"\nkind = \"add-partitions\"\ntopic = \"orders\"\npartitions = {partitions}\n")
    };
    let ok = parse(&kraft_with_orders(&format!("{}{}", grow("2s", 4), grow("5s", 6))), Path::new("x.toml")).unwrap();
    assert_eq!(ok.events.len(), 2);
    // Lines 10-14 hold the first event; its `partitions` is on line 14.
    assert_eq!(
        err(&kraft_with_orders(&format!("{}{}", grow("5s", 4), grow("2s", 5)))),
        "scenarios/x.toml:14:14: `events[0].partitions`: topic \"orders\" has 5 partition(s) at 5s, and Kafka can only \
         add partitions (INVALID_PARTITIONS); expected more than 5"
    );
    assert!(err(&kraft_with_orders(&grow("2s", 3))).contains("has 3 partition(s) at 2s"));
    let unknown = "[[events]]\nat = \"1s\"\nkind = \"add-partitions\"\ntopic = \"payments\"\npartitions = 2\n";
    assert!(err(&kraft_with_orders(unknown)).contains("topic \"payments\" does not exist at 1s"));
    let create = |name: &str| {
        format!(
            "[[events]]\nat = \"1s\"\nkind = \"create-topic\"\ntopic = \"{name}\"\npartitions = 2\n\
             replication.factor = 3\n"
        )
    };
    assert!(err(&kraft_with_orders(&create("orders"))).contains("topic \"orders\" already exists at 1s"));
    let created_then_grown = format!("{}{}", create("payments"), grow("2s", 4).replace("orders", "payments"));
    assert!(parse(&kraft_with_orders(&created_then_grown), Path::new("x.toml")).is_ok());
    assert!(err(&kraft_with_orders(&create("p").replace("= 3\n", "= 4\n"))).contains("expected 1 to 3"));
    // A key of another kind, an unknown kind, and ZooKeeper mode.
    assert!(err(&kraft_with_orders(
        &grow("1s", 4).replace("partitions = 4", "partitions = 4\nreplication.factor = 1")
    ))
    .contains("`replication.factor` does not apply to a \"add-partitions\" event"));
    assert!(err(&kraft_with_orders(&grow("1s", 4).replace("add-partitions", "delete-everything"))).contains(
        "expected \"create-topic\", \"add-partitions\", \"subscribe\", \"delete-topic\" or \"rewind\", found \"delete-everything\""
    ));
    // Deletion: only of a topic that exists; a deleted name may be created again (a new
    // topic, under a new id), by an event or by the clients through auto-creation.
    let delete =
        |at: &str, topic: &str| format!("[[events]]\nat = \"{at}\"\nkind = \"delete-topic\"\ntopic = \"{topic}\"\n");
    let no_auto_create = "[cluster.config]\n\"auto.create.topics.enable\" = false\n";
    assert!(
        parse(&kraft_with_orders(&delete("1s", "orders")), Path::new("x.toml")).is_ok(),
        "auto-creation is modelled"
    );
    let deleted =
        parse(&kraft_with_orders(&format!("{no_auto_create}{}", delete("1s", "orders"))), Path::new("x.toml"));
    assert_eq!(deleted.unwrap().events[0].action, crate::scenario::TopicEvent::DeleteTopic { topic: "orders".into() });
    assert!(err(&kraft_with_orders(&format!("{no_auto_create}{}", delete("1s", "payments")))).contains(
        "topic \"payments\" does not exist at 1s, so the controller would refuse with UNKNOWN_TOPIC_OR_PARTITION"
    ));
    let twice = format!("{no_auto_create}{}{}", delete("1s", "orders"), delete("2s", "orders"));
    assert!(err(&kraft_with_orders(&twice)).contains("topic \"orders\" does not exist at 2s"));
    let recreated =
        format!("{no_auto_create}{}{}", delete("1s", "orders"), create("orders").replace("\"1s\"", "\"2s\""));
    let recreated = parse(&kraft_with_orders(&recreated), Path::new("x.toml")).expect("a deleted name comes back");
    assert!(
        matches!(&recreated.events[1].action, crate::scenario::TopicEvent::CreateTopic { topic, .. } if topic == "orders")
    );
    let in_zookeeper = |events: &str| {
        format!("kafka_version = \"3.9\"\n{}", kraft_with_orders(events))
            .replace("metadata = \"kraft\"", "metadata = \"zookeeper\"")
    };
    assert!(parse(&in_zookeeper(&grow("1s", 4)), Path::new("x.toml")).is_ok(), "a ZooKeeper controller grows topics");
    let zk_delete = in_zookeeper(&format!("{no_auto_create}{}", delete("1s", "orders")));
    assert!(parse(&zk_delete, Path::new("x.toml")).is_ok(), "a ZooKeeper controller deletes topics");
}

#[test]
fn subscribe_events_name_a_classic_group_member_and_existing_topics() {
    let consumers = "[[consumers]]\ntopic = \"orders\"\ncount = 2\nmode = \"subscribe\"\ngroup = \"g\"\n\
                     [[consumers]]\ntopic = \"orders\"\n";
    let subscribe = |target: &str, topics: &str| {
        format!("{consumers}[[events]]\nat = \"1s\"\nkind = \"subscribe\"\ntarget = \"{target}\"\ntopics = {topics}\n")
    };
    let ok = parse(&kraft_with_orders(&subscribe("consumer-2", "[\"orders\"]")), Path::new("x.toml")).unwrap();
    assert_eq!(ok.events.len(), 1);
    assert!(err(&kraft_with_orders(&subscribe("consumer-9", "[\"orders\"]")))
        .contains("no consumer is named \"consumer-9\"; expected one of consumer-1 to consumer-3"));
    assert!(err(&kraft_with_orders(&subscribe("consumer-3", "[\"orders\"]")))
        .contains("consumer-3 assigns itself partitions (mode = \"assign\")"));
    assert!(err(&kraft_with_orders(&subscribe("consumer-1", "[\"payments\"]")))
        .contains("topic \"payments\" does not exist at 1s"));
    assert!(err(&kraft_with_orders(&subscribe("consumer-1", "[]"))).contains("an empty subscription"));
    let kip848 = kraft_with_orders(&subscribe("consumer-1", "[\"orders\"]"))
        .replace("group = \"g\"\n", "group = \"g\"\n[consumers.config]\n\"group.protocol\" = \"consumer\"\n");
    // Kafka 4.0's uniform assignor takes members on different topics; 3.x's builder for
    // them is not modelled, so there only the range assignor lets a member change topics.
    assert!(parse(&kip848, Path::new("x.toml")).is_ok(), "{}", err(&kip848));
    let in_3_9 = |text: &str| {
        let serving = "metadata = \"kraft\"\n[cluster.config]\n\"group.coordinator.rebalance.protocols\" = [\"classic\", \"consumer\"]\n";
        format!("kafka_version = \"3.9\"\n{}", text.replace("metadata = \"kraft\"\n", serving))
    };
    assert!(err(&in_3_9(&kip848)).contains("runs Kafka 3.9's uniform assignor"), "{}", err(&in_3_9(&kip848)));
    let ranged = kip848.replace(
        "\"group.protocol\" = \"consumer\"\n",
        "\"group.protocol\" = \"consumer\"\n\"group.remote.assignor\" = \"range\"\n",
    );
    assert!(parse(&ranged, Path::new("x.toml")).is_ok(), "{}", err(&ranged));
    assert!(parse(&in_3_9(&ranged), Path::new("x.toml")).is_ok(), "{}", err(&in_3_9(&ranged)));
    // A consumer-protocol member subscribes to a pattern as a classic one does (the client
    // matches a java.util.regex.Pattern).
    let by_pattern = kip848.replace("topics = [\"orders\"]", "pattern = \"ord.*\"");
    assert!(parse(&by_pattern, Path::new("x.toml")).is_ok(), "{}", err(&by_pattern));
    // A SubscriptionPattern, which the coordinator resolves: consumer-protocol members of
    // Kafka 4.0 on, one kind of subscription per event, no internal topic matched.
    let server = |regex: &str| kip848.replace("topics = [\"orders\"]", &format!("subscription_pattern = \"{regex}\""));
    assert!(parse(&server("ord.*"), Path::new("x.toml")).is_ok(), "{}", err(&server("ord.*")));
    assert!(err(&server(".*")).contains("matches the internal topic __consumer_offsets"), "{}", err(&server(".*")));
    assert!(err(&server("ord(")).contains("not a regular expression"), "{}", err(&server("ord(")));
    let classic =
        subscribe("consumer-1", "[\"orders\"]").replace("topics = [\"orders\"]", "subscription_pattern = \"ord.*\"");
    assert!(
        err(&kraft_with_orders(&classic)).contains("consumer-1 cannot subscribe with a SubscriptionPattern"),
        "{}",
        err(&kraft_with_orders(&classic))
    );
    let ranged_server = ranged.replace("topics = [\"orders\"]", "subscription_pattern = \"ord.*\"");
    assert!(err(&in_3_9(&ranged_server)).contains("from Kafka 4.0"), "{}", err(&in_3_9(&ranged_server)));
    let both = server("ord.*").replace("subscription_pattern", "pattern = \"o.*\"\nsubscription_pattern");
    assert!(err(&both).contains("both `pattern` and `subscription_pattern`"), "{}", err(&both));
    // Members on different topics from the start: in 3.x only under the range assignor.
    let two_topics = |extra: &str| {
        kraft_with_orders(&format!(
            "[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"g\"\n[consumers.config]\n\"group.protocol\" = \"consumer\"\n{extra}\
             [[consumers]]\ntopic = \"payments\"\nmode = \"subscribe\"\ngroup = \"g\"\n[consumers.config]\n\"group.protocol\" = \"consumer\"\n{extra}"
        ))
        .replacen("[[consumers]]", "[[topics]]\nname = \"payments\"\npartitions = 1\n\"replication.factor\" = 1\n[[consumers]]", 1)
    };
    assert!(parse(&two_topics(""), Path::new("x.toml")).is_ok(), "{}", err(&two_topics("")));
    let old_uniform = in_3_9(&two_topics(""));
    assert!(
        err(&old_uniform).contains("read different topics (orders and payments) under Kafka 3.9's uniform assignor"),
        "{}",
        err(&old_uniform)
    );
    let ranged_two = in_3_9(&two_topics("\"group.remote.assignor\" = \"range\"\n"));
    assert!(parse(&ranged_two, Path::new("x.toml")).is_ok(), "{}", err(&ranged_two));
    // Subscription changes need no controller: a ZooKeeper cluster takes them.
    let zookeeper = format!(
        "kafka_version = \"3.9\"\n{}",
        kraft_with_orders(&subscribe("consumer-1", "[\"orders\"]")).replace("\"kraft\"", "\"zookeeper\"")
    );
    assert!(parse(&zookeeper, Path::new("x.toml")).is_ok());
    // A pattern instead of a list: it must compile and match a topic existing then.
    let by_pattern = |pattern: &str| {
        subscribe("consumer-1", "[\"orders\"]").replace("topics = [\"orders\"]", &format!("pattern = \"{pattern}\""))
    };
    assert!(parse(&kraft_with_orders(&by_pattern("ord.*")), Path::new("x.toml")).is_ok());
    let e = err(&kraft_with_orders(&by_pattern("ord(")));
    assert!(e.contains("`events[0].pattern`: not a regular expression"), "{e}");
    let e = err(&kraft_with_orders(&by_pattern("pay.*")));
    assert!(e.contains("pattern /pay.*/ matches no topic at 1s (the topics then: orders)"), "{e}");
    let both = subscribe("consumer-1", "[\"orders\"]").replace("topics =", "pattern = \"o.*\"\ntopics =");
    assert!(err(&kraft_with_orders(&both)).contains("both `topics` and `pattern`; expected one"));
}

#[test]
fn reach_goals_name_known_protocol_states_once_each() {
    let e = err(&format!("{BASE}[expect]\nreach = [\"isr-shrunk-to-leader\", \"uncleanelection\"]\n"));
    assert!(
        e.starts_with(
            "scenarios/x.toml:4:34: `expect.reach[1]`: unknown protocol state \"uncleanelection\" (did you mean \
             \"unclean-election\"?); expected one of \"isr-shrunk-to-leader\", \"not-enough-replicas\", "
        ),
        "{e}"
    );
    for name in crate::coverage::ReachedState::names() {
        assert!(e.contains(&format!("\"{name}\"")), "{name} is listed: {e}");
    }
    assert_eq!(
        err(&format!("{BASE}[expect]\nreach = [\"member-fenced\", \"member-fenced\"]\n")),
        "scenarios/x.toml:4:27: `expect.reach[1]`: `member-fenced` is listed twice; expected each state once"
    );
    assert_eq!(
        err(&format!("{BASE}[expect]\nreach = \"unclean-election\"\n")),
        "scenarios/x.toml:4:9: `expect.reach`: expected a list of protocol state names, such as \
         [\"unclean-election\"], found string \"unclean-election\""
    );
    let parsed = parse(&format!("{BASE}[expect]\nreach = [\"power-loss-lost-unflushed\"]\n"), Path::new("x.toml"))
        .expect("a known state parses");
    assert_eq!(parsed.expect.reach, [crate::coverage::ReachedState::PowerLossLostUnflushed]);
}

#[test]
fn the_client_connection_settings_follow_their_release_and_are_refused_before_it() {
    use crate::client::backoff::RetryBackoff;
    use crate::client::connection_states::ConnectionSettings;
    let producer = |version: &str, config: &str| {
        format!(
            "kafka_version = \"{version}\"\n{}[[producers]]\ntopic = \"orders\"\nrate_per_sec = 10\n[producers.config]\n{config}",
            with_orders("")
        )
    };
    let parsed = |text: &str| parse(text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    let connections = |version: &str, config: &str| parsed(&producer(version, config)).producers[0].config.connections;
    // Kafka's defaults: 50 ms doubling to 1 s between reconnects (KIP-144, 0.11); a setup
    // timeout of 10 s doubling to 30 s from 2.7 (KIP-601), the kernel's 127 s before.
    let current = connections("3.9", "acks = \"all\"\n");
    assert_eq!(current.reconnect_backoff, RetryBackoff::Exponential { base_ms: 50, max_ms: 1_000 });
    assert_eq!(current.setup_timeout, RetryBackoff::Exponential { base_ms: 10_000, max_ms: 30_000 });
    let before_kip_601 = connections("2.6", "acks = \"all\"\n");
    assert_eq!(before_kip_601.setup_timeout, RetryBackoff::Fixed { ms: 127_000 });
    assert_eq!(connections("0.10", "acks = \"all\"\n").reconnect_backoff, RetryBackoff::Fixed { ms: 50 });
    let set = connections(
        "3.9",
        "\"reconnect.backoff.ms\" = 20\n\"reconnect.backoff.max.ms\" = 400\n\
         \"socket.connection.setup.timeout.ms\" = 2000\n\"socket.connection.setup.timeout.max.ms\" = 8000\n",
    );
    assert_eq!(set.reconnect_backoff, RetryBackoff::Exponential { base_ms: 20, max_ms: 400 });
    assert_eq!(set.setup_timeout, RetryBackoff::Exponential { base_ms: 2_000, max_ms: 8_000 });
    assert_eq!(
        err(&producer("2.6", "\"socket.connection.setup.timeout.ms\" = 2000\n")),
        "scenarios/x.toml:12:40: `producers[0].config.socket.connection.setup.timeout.ms`: \
         socket.connection.setup.timeout.ms came with Kafka 2.7 (KIP-601), but kafka_version is 2.6; expected \
         kafka_version \"2.7\" or later, or no socket.connection.setup.timeout.ms"
    );
    assert!(err(&producer("0.10", "\"reconnect.backoff.max.ms\" = 400\n"))
        .contains("reconnect.backoff.max.ms came with Kafka 0.11 (KIP-144), but kafka_version is 0.10"));

    // The consumers' (and pipelines' consumers') connections follow the same settings.
    let consumer = |version: &str, config: &str| {
        format!(
            "kafka_version = \"{version}\"\n{}[[consumers]]\ntopic = \"orders\"\n[consumers.config]\n{config}",
            with_orders("")
        )
    };
    let consumer_connections =
        |version: &str, config: &str| parsed(&consumer(version, config)).consumers[0].config.connections;
    assert_eq!(consumer_connections("3.9", "\"max.poll.records\" = 10\n"), current);
    assert_eq!(consumer_connections("2.6", "\"max.poll.records\" = 10\n"), before_kip_601);
    assert_eq!(
        consumer_connections(
            "3.9",
            "\"reconnect.backoff.ms\" = 20\n\"socket.connection.setup.timeout.max.ms\" = 8000\n"
        ),
        ConnectionSettings {
            reconnect_backoff: RetryBackoff::Exponential { base_ms: 20, max_ms: 1_000 },
            setup_timeout: RetryBackoff::Exponential { base_ms: 10_000, max_ms: 8_000 },
        }
    );
    assert!(err(&consumer("2.6", "\"socket.connection.setup.timeout.max.ms\" = 8000\n")).contains(
        "`consumers[0].config.socket.connection.setup.timeout.max.ms`: socket.connection.setup.timeout.max.ms came \
         with Kafka 2.7 (KIP-601)"
    ));
}
