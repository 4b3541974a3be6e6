//! The keys each table of a scenario file accepts. Kafka settings use Kafka's own names
//! (`"min.insync.replicas"`); they may be quoted or written as plain dotted keys.

/// Top-level keys.
pub(super) const ROOT: &[&str] = &[
    "name",
    "title",
    "lesson",
    "mechanism",
    "fix",
    "zh",
    "theme",
    "kafka_version",
    "seeds",
    "duration",
    "liveness_timeout",
    "cluster",
    "metastore",
    "network",
    "topics",
    "producers",
    "consumers",
    "pipelines",
    "delay_queues",
    "faults",
    "events",
    "nemesis",
    "swarm",
    "expect",
    "experiment",
];

/// `[fix]`: the fix in prose, its settings (as `--set` takes them) and the lesson's
/// anomaly kinds it prevents (when only some of `[expect] present`).
pub(super) const FIX: &[&str] = &["text", "set", "prevents"];

/// `[zh]`: the Chinese catalog texts, one for each English text at the top level.
pub(super) const ZH: &[&str] = &["title", "lesson", "mechanism", "fix"];

/// `[cluster]`.
pub(super) const CLUSTER: &[&str] = &[
    "brokers",
    "metadata",
    "controllers",
    "combined",
    "pre_vote",
    "truncation",
    "follower_restart",
    "caught_up_at_leader_log_end",
    "unknown_producer_sequence",
    "config",
    "os",
    "machine",
];

/// `[cluster.os]`: the brokers' machines' Linux sysctls (not Kafka settings).
pub(super) const OS: &[&str] = &["vm.dirty_expire_centisecs", "vm.dirty_writeback_centisecs"];

/// `[cluster.machine]`: the brokers' machines' cost model (not Kafka settings), in
/// microseconds or nanoseconds as each key's unit says.
pub(super) const MACHINE: &[&str] = &[
    "network_thread_us_per_request",
    "network_thread_ns_per_kb",
    "sendfile_ns_per_kb",
    "produce_us_per_request",
    "produce_us_per_partition",
    "produce_ns_per_kb",
    "fetch_us_per_request",
    "fetch_us_per_partition",
    "other_us_per_request",
    "follower_append_us_per_partition",
    "follower_append_ns_per_kb",
    "nic_mbit_per_sec",
    "disk_mbyte_per_sec",
    "fsync_us",
    "dirty_limit_mbyte",
];

/// `[cluster.config]`.
pub(super) const BROKER_CONFIG: &[&str] = &[
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "replica.lag.time.max.ms",
    "zookeeper.session.timeout.ms",
    "replica.fetch.wait.max.ms",
    "replica.fetch.max.bytes",
    "replica.fetch.backoff.ms",
    "replica.high.watermark.checkpoint.interval.ms",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.retention.ms",
    "log.retention.bytes",
    "log.segment.bytes",
    "log.retention.check.interval.ms",
    "offsets.topic.num.partitions",
    "offsets.topic.replication.factor",
    "transaction.state.log.num.partitions",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.max.timeout.ms",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "transaction.partition.verification.enable",
    "transaction.version",
    "add.partitions.to.txn.retry.backoff.ms",
    "add.partitions.to.txn.retry.backoff.max.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.initial.rebalance.delay.ms",
    "group.coordinator.rebalance.protocols",
    "group.consumer.session.timeout.ms",
    "group.consumer.min.session.timeout.ms",
    "group.consumer.max.session.timeout.ms",
    "group.consumer.heartbeat.interval.ms",
    "group.consumer.min.heartbeat.interval.ms",
    "group.consumer.max.heartbeat.interval.ms",
    "group.consumer.assignors",
    "controlled.shutdown.enable",
    "controlled.shutdown.max.retries",
    "controlled.shutdown.retry.backoff.ms",
    "auto.leader.rebalance.enable",
    "leader.imbalance.check.interval.seconds",
    "leader.imbalance.per.broker.percentage",
    "broker.heartbeat.interval.ms",
    "broker.session.timeout.ms",
    "controller.quorum.election.timeout.ms",
    "controller.quorum.fetch.timeout.ms",
    "controller.quorum.election.backoff.max.ms",
    "controller.quorum.request.timeout.ms",
    "metadata.max.idle.interval.ms",
    "eligible.leader.replicas.enable",
    "delete.topic.enable",
    "auto.create.topics.enable",
    "num.partitions",
    "default.replication.factor",
    "num.network.threads",
    "num.io.threads",
    "queued.max.requests",
];

/// `[[events]]`.
pub(super) const EVENT: &[&str] = &[
    "at",
    "when",
    "kind",
    "topic",
    "partitions",
    "replication.factor",
    "target",
    "topics",
    "pattern",
    "subscription_pattern",
    "group",
    "to_time",
    "to_offset",
];

/// `[metastore]`: the ZooKeeper server's settings, under zoo.cfg's names.
pub(super) const METASTORE: &[&str] = &["tickTime", "minSessionTimeout", "maxSessionTimeout"];

/// `[network]`.
pub(super) const NETWORK: &[&str] = &["latency_min", "latency_max", "packet_loss_rate"];

/// `[[topics]]`.
pub(super) const TOPIC: &[&str] = &["name", "partitions", "replication.factor", "config"];

/// `[topics.config]`.
pub(super) const TOPIC_CONFIG: &[&str] =
    &["min.insync.replicas", "unclean.leader.election.enable", "retention.ms", "retention.bytes", "segment.bytes"];

/// `[[producers]]`.
pub(super) const PRODUCER: &[&str] = &[
    "count",
    "topic",
    "rate_per_sec",
    "records",
    "value_bytes",
    "partitioning",
    "key_count",
    "send",
    "partitioner",
    "idempotent_epoch_bump",
    "invalid_epoch_abortable",
    "records_per_transaction",
    "abort_every",
    "config",
];

/// `[producers.config]`.
pub(super) const PRODUCER_CONFIG: &[&str] = &[
    "acks",
    "retries",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "delivery.timeout.ms",
    "batch.size",
    "linger.ms",
    "metadata.max.age.ms",
    "max.in.flight.requests.per.connection",
    "enable.idempotence",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "transactional.id",
    "transaction.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
];

/// One step of `[[producers]]`' `rate_per_sec` when it is a schedule.
pub(super) const RATE_STEP: &[&str] = &["at", "rate"];

/// `[[consumers]]`.
pub(super) const CONSUMER: &[&str] = &[
    "count",
    "topic",
    "mode",
    "group",
    "poll_interval",
    "processing",
    "process_time",
    "commit",
    "commit_mode",
    "commit_on_revoke",
    "partitions",
    "sticky_assignor",
    "config",
];

/// `[consumers.config]`.
pub(super) const CONSUMER_CONFIG: &[&str] = &[
    "auto.offset.reset",
    "fetch.max.wait.ms",
    "metadata.max.age.ms",
    "allow.auto.create.topics",
    "max.poll.records",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "max.poll.interval.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "group.protocol",
    "group.remote.assignor",
    "group.instance.id",
    "default.api.timeout.ms",
    "isolation.level",
    "offset_validation",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
];

/// `[[pipelines]]`: consume-transform-produce applications.
pub(super) const PIPELINE: &[&str] = &[
    "count",
    "input",
    "output",
    "group",
    "guarantee",
    "poll_interval",
    "process_time",
    "sticky_assignor",
    "consumer",
    "producer",
    "dead_letter",
    "poison_every",
    "max_attempts",
    "output_partitioner",
];

/// `[pipelines.consumer]`: `[consumers.config]` without what the pipeline sets itself
/// (`enable.auto.commit` is off; `isolation.level` follows the guarantee).
pub(super) const PIPELINE_CONSUMER_CONFIG: &[&str] = &[
    "auto.offset.reset",
    "fetch.max.wait.ms",
    "metadata.max.age.ms",
    "max.poll.records",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "max.poll.interval.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "default.api.timeout.ms",
    "offset_validation",
    "retry.backoff.max.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
];

/// `[pipelines.producer]`: `[producers.config]` without `transactional.id`, which an
/// exactly-once pipeline sets per instance.
pub(super) const PIPELINE_PRODUCER_CONFIG: &[&str] = &[
    "acks",
    "retries",
    "request.timeout.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "delivery.timeout.ms",
    "batch.size",
    "linger.ms",
    "metadata.max.age.ms",
    "max.in.flight.requests.per.connection",
    "enable.idempotence",
    "partitioner.adaptive.partitioning.enable",
    "partitioner.availability.timeout.ms",
    "transaction.timeout.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "socket.connection.setup.timeout.ms",
    "socket.connection.setup.timeout.max.ms",
];

/// `[[delay_queues]]`: delay queues of tier topics and their forwarders. Their
/// `consumer` and `producer` tables take `[pipelines.consumer]`'s and
/// `[pipelines.producer]`'s keys.
pub(super) const DELAY_QUEUE: &[&str] = &[
    "count",
    "tiers",
    "target",
    "group",
    "guarantee",
    "max_lateness",
    "poll_interval",
    "process_time",
    "sticky_assignor",
    "consumer",
    "producer",
];

/// One tier of `[[delay_queues]]`' `tiers`.
pub(super) const DELAY_TIER: &[&str] = &["topic", "delay"];

/// `[[faults]]`, every kind together; `faults` checks which keys each kind takes.
pub(super) const FAULT: &[&str] = &[
    "at",
    "when",
    "kind",
    "target",
    "peers",
    "one_way",
    "shape",
    "duration",
    "rate",
    "latency_min",
    "latency_max",
    "channel",
    "factor",
];

/// `[nemesis]` (see `nemesis`).
pub(super) const NEMESIS: &[&str] = &[
    "kinds",
    "interval",
    "start",
    "duration_min",
    "duration_max",
    "packet_loss_rate_max",
    "duplicate_rate_max",
    "latency_max",
];

/// `[swarm]` (see `swarm`).
pub(super) const SWARM: &[&str] = &[
    "brokers",
    "metadata",
    "controllers",
    "replication.factor",
    "partitions",
    "producers",
    "rate_per_sec",
    "send",
    "linger.ms",
    "batch.size",
    "max.in.flight.requests.per.connection",
    "nemesis_interval",
    "min.insync.replicas",
    "kafka_version",
    "acks",
    "enable.idempotence",
    "retries",
    "unclean.leader.election.enable",
    "truncation",
    "log.flush.interval.messages",
    "commit",
    "partition.assignment.strategy",
    "group.protocol",
];

/// `[expect]`.
pub(super) const EXPECT: &[&str] = &["present", "absent", "allow", "all_acked_consumed", "reach"];

/// `[experiment]`.
pub(super) const EXPERIMENT: &[&str] = &["vary", "seeds"];

/// Every table with the keys it takes, for "this key belongs in [...]" hints.
const SECTIONS: &[(&str, &[&str])] = &[
    ("the top level", ROOT),
    ("[cluster]", CLUSTER),
    ("[cluster.config]", BROKER_CONFIG),
    ("[cluster.os]", OS),
    ("[cluster.machine]", MACHINE),
    ("[metastore]", METASTORE),
    ("[network]", NETWORK),
    ("[[topics]]", TOPIC),
    ("[topics.config]", TOPIC_CONFIG),
    ("[[producers]]", PRODUCER),
    ("[producers.config]", PRODUCER_CONFIG),
    ("[[consumers]]", CONSUMER),
    ("[consumers.config]", CONSUMER_CONFIG),
    ("[[pipelines]]", PIPELINE),
    ("[pipelines.consumer]", PIPELINE_CONSUMER_CONFIG),
    ("[pipelines.producer]", PIPELINE_PRODUCER_CONFIG),
    ("[[delay_queues]]", DELAY_QUEUE),
    ("each of [[delay_queues]]' `tiers`", DELAY_TIER),
    ("[[faults]]", FAULT),
    ("[[events]]", EVENT),
    ("[nemesis]", NEMESIS),
    // Not [swarm]: its keys repeat settings of other tables as ranges to draw from, and
    // "`replication.factor` belongs in [[topics]] or [swarm]" would mislead.
    ("[expect]", EXPECT),
    ("[zh]", ZH),
];

/// The keys of each sub-table (`config`, `os`) of the table with `allowed` keys.
pub(super) fn sub_tables_of(allowed: &[&str]) -> &'static [&'static [&'static str]] {
    const SUB_TABLES: &[(&[&str], &[&[&str]])] = &[
        (CLUSTER, &[BROKER_CONFIG, OS]),
        (TOPIC, &[TOPIC_CONFIG]),
        (PRODUCER, &[PRODUCER_CONFIG]),
        (CONSUMER, &[CONSUMER_CONFIG]),
        (PIPELINE, &[PIPELINE_CONSUMER_CONFIG, PIPELINE_PRODUCER_CONFIG]),
        (DELAY_QUEUE, &[PIPELINE_CONSUMER_CONFIG, PIPELINE_PRODUCER_CONFIG]),
    ];
    SUB_TABLES.iter().find(|(parent, _)| *parent == allowed).map_or(&[], |(_, subs)| subs)
}

/// The tables (other than the one with `allowed` keys) that take `key`, e.g.
/// `"[cluster.config] or [topics.config]"`.
pub(super) fn home_of(key: &str, allowed: &[&str]) -> Option<String> {
    let homes: Vec<&str> =
        SECTIONS.iter().filter(|(_, keys)| *keys != allowed && keys.contains(&key)).map(|(name, _)| *name).collect();
    match homes.split_last() {
        None => None,
        Some((last, [])) => Some(last.to_string()),
        Some((last, rest)) => Some(format!("{} or {last}", rest.join(", "))),
    }
}

/// Settings a topic and a broker name differently (Kafka's `LogConfig` synonyms: a
/// topic's `flush.messages` overrides the broker's `log.flush.interval.messages`), topic
/// name first.
const TOPIC_AND_BROKER_NAMES: &[(&str, &str)] = &[
    ("flush.messages", "log.flush.interval.messages"),
    ("flush.ms", "log.flush.interval.ms"),
    ("retention.ms", "log.retention.ms"),
    ("retention.bytes", "log.retention.bytes"),
    ("segment.bytes", "log.segment.bytes"),
];

/// The name among `allowed` of the same setting at the other level (broker or topic),
/// e.g. `log.flush.interval.messages` for `flush.messages` in `[cluster.config]`.
pub(super) fn synonym_of(key: &str, allowed: &[&str]) -> Option<&'static str> {
    TOPIC_AND_BROKER_NAMES
        .iter()
        .find_map(|&(topic, broker)| match () {
            _ if key == topic => Some(broker),
            _ if key == broker => Some(topic),
            _ => None,
        })
        .filter(|other| allowed.contains(other))
}
