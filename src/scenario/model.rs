//! The validated scenario: what the runner builds and drives. Every value here has passed
//! the checks in `validate`, `workload`, `faults`, `nemesis` and `swarm`, and every
//! default is filled in. The client types are in `model_clients`, the fault types in
//! `model_faults`; the three depend on nothing else in `scenario` but
//! `values::format_duration_ms` (for `Display`).

use std::fmt;
use std::path::PathBuf;

use super::model_clients::{ConsumerSpec, PipelineSpec, ProducerSpec, SendMode};
use super::model_delay_queues::DelayQueueSpec;
use super::model_events::TopicEventSpec;
use super::model_faults::{FaultSpec, NemesisSpec};
use super::model_texts::{Lang, Texts};
use super::overrides::Setting;
use crate::check::AnomalyKind;
use crate::coverage::ReachedState;
use crate::metastore::MetastoreConfig;
use crate::profile::Profile;
use crate::protocol::{FollowerRestart, MetadataMode, TruncationMode, UnknownProducerSequence};

/// A parsed and validated scenario file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The scenario's name: the `name` key, or the file stem when the key is absent.
    pub name: String,
    /// The file the scenario was read from (as given to [`super::load`] or [`super::parse`]).
    pub path: PathBuf,
    /// A one-line title for reports and the catalog.
    pub title: Option<String>,
    /// What a reader should take away from the scenario.
    pub lesson: Option<String>,
    /// How the failure (or its prevention) works, step by step.
    pub mechanism: Option<String>,
    /// The configuration or design change that prevents the failure, in prose
    /// (`fix = "..."`, or `text` in a `[fix]` table).
    pub fix: Option<String>,
    /// The fix as settings (`[fix] set`), each with the key and meaning of `--set
    /// KEY=VALUE`, in file order; empty when the fix is prose only. `kafkasim explain
    /// --prove-fix` loads the scenario with them applied and reruns its seeds.
    pub fix_settings: Vec<Setting>,
    /// The kinds of `[expect] present` the fix prevents (`[fix] prevents`), when it
    /// prevents only those; empty: all of them. `--prove-fix` judges these.
    pub fix_prevents: Vec<AnomalyKind>,
    /// The Chinese catalog texts (`[zh]`): one for each English text above, or `None`
    /// when the file has no `[zh]`.
    pub zh: Option<Texts>,
    /// The catalog section the scenario belongs to.
    pub theme: Option<Theme>,
    /// The seeds to run, in the order written, without duplicates; never empty.
    pub seeds: Vec<u64>,
    /// The `--set` settings applied over the file, in command-line order (replay
    /// commands repeat them).
    pub settings: Vec<Setting>,
    /// The Kafka release whose behaviour and defaults the scenario runs with
    /// (`kafka_version`, default the newest modelled); explicit settings win over it.
    pub profile: Profile,
    /// The length of the safety phase (workload and faults), in simulated milliseconds.
    pub duration_ms: u64,
    /// The bound on the heal-and-drain liveness phase that follows the safety phase, in
    /// simulated milliseconds.
    pub liveness_timeout_ms: u64,
    /// The brokers and their configuration.
    pub cluster: ClusterSpec,
    /// The metastore (ZooKeeper) server's session limits (`[metastore]`, zoo.cfg's
    /// names): a broker's `zookeeper.session.timeout.ms` is granted clamped into them.
    pub metastore: MetastoreConfig,
    /// The simulated network's baseline behaviour.
    pub network: NetworkSpec,
    /// The topics created before the workload starts.
    pub topics: Vec<TopicSpec>,
    /// The producer groups, in file order. Producer processes are numbered across all
    /// groups in this order: `producer-1`, `producer-2`, ... (see
    /// [`Scenario::producer_instances`]).
    pub producers: Vec<ProducerSpec>,
    /// The consumer groups, in file order, numbered like the producers: `consumer-1`, ...
    pub consumers: Vec<ConsumerSpec>,
    /// The consume-transform-produce pipelines (`[[pipelines]]`), in file order,
    /// numbered like the consumers: `pipeline-1`, ...
    pub pipelines: Vec<PipelineSpec>,
    /// The delay queues (`[[delay_queues]]`), in file order, their forwarder instances
    /// numbered like the pipelines: `forwarder-1`, ...
    pub delay_queues: Vec<DelayQueueSpec>,
    /// The fault schedule, sorted by `at_ms`; faults at the same time keep their file order.
    pub faults: Vec<FaultSpec>,
    /// The administrator's topic changes (`[[events]]`), sorted by `at_ms`.
    pub events: Vec<TopicEventSpec>,
    /// Faults drawn at random during the safety phase, in addition to `faults`
    /// (`[nemesis]`).
    pub nemesis: Option<NemesisSpec>,
    /// The bounds each seed draws its configuration from (`[swarm]`); the runner draws
    /// before it boots the cluster.
    pub swarm: Option<SwarmSpec>,
    /// What the checkers must (and must not) find.
    pub expect: Expectations,
    /// The parameter sweep `kafkasim experiment` runs by default (`[experiment]`).
    pub experiment: Option<super::experiment::ExperimentSpec>,
    /// Adjustments made the way Kafka makes them (for example idempotence disabled because
    /// `acks = "1"`), one sentence each with its file position, for reports.
    pub notes: Vec<String>,
    /// The text of the scenario file, for reports and shrinking.
    pub source: String,
}

impl Scenario {
    /// The catalog texts in `lang`. A text the language lacks (a file without `[zh]`)
    /// falls back to English.
    pub fn texts(&self, lang: Lang) -> Texts {
        let english = Texts {
            title: self.title.clone(),
            lesson: self.lesson.clone(),
            mechanism: self.mechanism.clone(),
            fix: self.fix.clone(),
        };
        match (lang, &self.zh) {
            (Lang::Zh, Some(zh)) => zh.or(&english),
            _ => english,
        }
    }

    /// The `--set` settings as command-line arguments (` --set acks=1 ...`), to append
    /// to a command that loads this scenario; empty without settings.
    pub fn set_arguments(&self) -> String {
        super::overrides::set_arguments(&self.settings)
    }

    /// The broker host names, `broker-1` to `broker-N`.
    pub fn broker_names(&self) -> Vec<String> {
        crate::protocol::broker_names(self.cluster.brokers)
    }

    /// Every producer process with its host name (`producer-1`, ...), in numbering order.
    pub fn producer_instances(&self) -> Vec<(String, &ProducerSpec)> {
        instances("producer", self.producers.iter().map(|p| (p.count, p)))
    }

    /// Every consumer process with its host name (`consumer-1`, ...), in numbering order.
    pub fn consumer_instances(&self) -> Vec<(String, &ConsumerSpec)> {
        instances("consumer", self.consumers.iter().map(|c| (c.count, c)))
    }

    /// Every pipeline instance with its host name (`pipeline-1`, ...), in numbering order.
    pub fn pipeline_instances(&self) -> Vec<(String, &PipelineSpec)> {
        instances("pipeline", self.pipelines.iter().map(|p| (p.count, p)))
    }

    /// Every delay queue forwarder with its host name (`forwarder-1`, ...), in numbering
    /// order.
    pub fn forwarder_instances(&self) -> Vec<(String, &DelayQueueSpec)> {
        instances("forwarder", self.delay_queues.iter().map(|q| (q.count, q)))
    }

    /// The topic with this name, if the scenario defines it.
    pub fn topic(&self, name: &str) -> Option<&TopicSpec> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// Every process of `groups` (`count` processes per spec) with its host name
/// (`PREFIX-1`, ...), in numbering order.
pub(super) fn instances<'a, T>(prefix: &str, groups: impl Iterator<Item = (u32, &'a T)>) -> Vec<(String, &'a T)> {
    let mut out = Vec::new();
    for (count, spec) in groups {
        for _ in 0..count {
            out.push((format!("{prefix}-{}", out.len() + 1), spec));
        }
    }
    out
}

/// The catalog section a scenario belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Theme {
    /// How a healthy cluster works, before anything fails: partitions, leaders and
    /// followers, the high watermark, a group's assignment (`theme = "basics"`).
    Basics,
    /// Acknowledged records that disappear (`"loss"`).
    Loss,
    /// Records written or consumed more than once (`"duplication"`).
    Duplication,
    /// Records observed out of order (`"ordering"`).
    Ordering,
    /// Writes or reads that stop making progress (`"availability"`).
    Availability,
    /// Group membership, rebalances and offset commits (`"consumer-groups"`).
    ConsumerGroups,
    /// Transactions, `read_committed` and exactly-once (`"transactions"`).
    Transactions,
    /// High watermarks, truncation, ISR and leader epochs (`"replication-internals"`).
    ReplicationInternals,
    /// The museum: real Kafka bugs, each under the release that had it and the one that
    /// fixed it (`"history"`).
    History,
    /// Throughput, latency, overload and backlog: the broker as a machine (`"capacity"`).
    Capacity,
}

impl Theme {
    /// Every theme, in catalog order: the order of scenarios/README.md, the guide.
    pub const ALL: [Theme; 10] = [
        Theme::Basics,
        Theme::Loss,
        Theme::Duplication,
        Theme::Ordering,
        Theme::ConsumerGroups,
        Theme::Transactions,
        Theme::ReplicationInternals,
        Theme::Availability,
        Theme::Capacity,
        Theme::History,
    ];

    /// The theme's name as written in scenario files, e.g. `consumer-groups`.
    pub fn name(self) -> &'static str {
        match self {
            Theme::Basics => "basics",
            Theme::Loss => "loss",
            Theme::Duplication => "duplication",
            Theme::Ordering => "ordering",
            Theme::Availability => "availability",
            Theme::ConsumerGroups => "consumer-groups",
            Theme::Transactions => "transactions",
            Theme::ReplicationInternals => "replication-internals",
            Theme::History => "history",
            Theme::Capacity => "capacity",
        }
    }
}

impl Theme {
    /// The catalog heading of a theme in `lang` (`None`: the scenarios without one). Chinese
    /// headings keep the theme's name, which is what scenario files write.
    pub fn heading(lang: Lang, theme: Option<Theme>) -> String {
        let name = theme.map_or("other", Theme::name);
        match lang {
            Lang::En => name.to_string(),
            Lang::Zh => {
                let zh = match theme {
                    Some(Theme::Basics) => "基础",
                    Some(Theme::Loss) => "数据丢失",
                    Some(Theme::Duplication) => "重复",
                    Some(Theme::Ordering) => "顺序",
                    Some(Theme::Availability) => "可用性",
                    Some(Theme::ConsumerGroups) => "消费组",
                    Some(Theme::Transactions) => "事务",
                    Some(Theme::ReplicationInternals) => "复制内部机制",
                    Some(Theme::Capacity) => "容量",
                    Some(Theme::History) => "历史",
                    None => "其他",
                };
                format!("{zh} ({name})")
            }
        }
    }

    /// The theme with this name (as written in scenario files), if any.
    pub fn from_name(name: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The brokers (`[cluster]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// How many brokers to run, named `broker-1` to `broker-N` (`brokers`, default 3).
    pub brokers: u32,
    /// Where the metadata lives (`metadata`: `"zookeeper"`, the default, or `"kraft"`).
    pub metadata: MetadataMode,
    /// In KRaft mode, the dedicated controllers forming the Raft quorum, `controller-1`
    /// to `controller-N` (`controllers`: 1, 3 or 5, default 3); 0 in ZooKeeper mode.
    pub controllers: u32,
    /// Combined mode (`combined = true`, Kafka's `process.roles=broker,controller`):
    /// `controller-N` runs in the same process as `broker-N`, on its machine, so every
    /// fault on either hits both. False: dedicated controller machines.
    pub combined: bool,
    /// KIP-996 pre-vote in the controller quorum (`pre_vote`, Kafka 4.0; default false,
    /// as in 3.x): a controller first asks whether it could win before it bumps the epoch.
    pub pre_vote: bool,
    /// How followers truncate their logs after a leader change (`truncation`:
    /// `"leader-epoch"`, the default, `"leader-epoch-kip-101"` or `"legacy"`).
    pub truncation: TruncationMode,
    /// Which new leader epochs make a follower truncate and fetch again
    /// (`follower_restart`: `"every-leader-epoch"`, the default, `"leader-change-or-missed-epoch"`
    /// or `"leader-change"`).
    pub follower_restart: FollowerRestart,
    /// Whether a follower whose log end equals the leader's stays in sync however long
    /// ago it last caught up (`caught_up_at_leader_log_end`, default true: KAFKA-7152).
    pub caught_up_at_leader_log_end: bool,
    /// What a replica answers an idempotent producer it has no state for
    /// (`unknown_producer_sequence`: `"accept"`, the default, `"unknown-producer-id"` or
    /// `"out-of-order"`).
    pub unknown_producer_sequence: UnknownProducerSequence,
    /// Broker-wide settings (`[cluster.config]`).
    pub config: BrokerSettings,
    /// The brokers' machines' operating system settings (`[cluster.os]`).
    pub os: OsSettings,
    /// What the brokers' machines take for each piece of work (`[cluster.machine]`).
    pub machine: crate::sim::machine::MachineSpec,
}

/// Linux sysctls of the brokers' machines (`[cluster.os]`), under their sysctl names
/// and with Linux's defaults. Only page-cache write-back is modelled (see `sim::disk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OsSettings {
    /// `vm.dirty_expire_centisecs`: how long data must have been dirty in the page cache
    /// before the flusher writes it back, in hundredths of a second (default 3000, 30 s).
    pub dirty_expire_centisecs: u64,
    /// `vm.dirty_writeback_centisecs`: the interval between the flusher's wakeups, in
    /// hundredths of a second (default 500, 5 s); 0 disables periodic write-back.
    pub dirty_writeback_centisecs: u64,
}

impl Default for OsSettings {
    fn default() -> Self {
        OsSettings { dirty_expire_centisecs: 3_000, dirty_writeback_centisecs: 500 }
    }
}

impl Default for ClusterSpec {
    /// Three brokers with the newest release's behaviour and settings.
    fn default() -> Self {
        ClusterSpec {
            brokers: 3,
            metadata: MetadataMode::Zookeeper,
            controllers: 0,
            combined: false,
            pre_vote: false,
            truncation: TruncationMode::LeaderEpoch,
            follower_restart: FollowerRestart::EveryLeaderEpoch,
            caught_up_at_leader_log_end: true,
            unknown_producer_sequence: UnknownProducerSequence::Accept,
            config: BrokerSettings::default(),
            os: OsSettings::default(),
            machine: Default::default(),
        }
    }
}

/// The group coordinator's settings for consumer-protocol groups (KIP-848), with Kafka's
/// names and the defaults of 3.7 to 3.9 (4.0 also serves `consumer` by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerGroupBrokerSettings {
    /// `group.coordinator.rebalance.protocols` (Kafka 3.7+): the group protocols the
    /// coordinator serves; `consumer` is listed by default from Kafka 4.0.
    pub rebalance_protocols: Vec<crate::protocol::GroupProtocol>,
    /// `group.consumer.session.timeout.ms`: how long a member may go without a
    /// heartbeat, in milliseconds (default 45000, within
    /// `group.consumer.min.session.timeout.ms` 45000 and `...max...` 60000).
    pub session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms`: the interval the coordinator tells members
    /// to heartbeat at, in milliseconds (default 5000, within
    /// `group.consumer.min.heartbeat.interval.ms` 5000 and `...max...` 15000).
    pub heartbeat_interval_ms: u64,
    /// `group.consumer.assignors`: the server assignors, the first the default (default
    /// `uniform,range`).
    pub assignors: Vec<crate::protocol::ServerAssignor>,
}

impl Default for ConsumerGroupBrokerSettings {
    fn default() -> Self {
        use crate::protocol::{GroupProtocol, ServerAssignor};
        ConsumerGroupBrokerSettings {
            rebalance_protocols: vec![GroupProtocol::Classic],
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 5_000,
            assignors: vec![ServerAssignor::Uniform, ServerAssignor::Range],
        }
    }
}

/// Broker settings, under Kafka's own key names, with Kafka 3.x defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerSettings {
    /// `min.insync.replicas`: the smallest ISR with which an acks=all write succeeds (default 1).
    pub min_insync_replicas: u32,
    /// `unclean.leader.election.enable`: whether an out-of-sync replica may become leader
    /// when no ISR member is alive (default false).
    pub unclean_leader_election_enable: bool,
    /// `replica.lag.time.max.ms`: how long a follower may go without catching up before
    /// the leader removes it from the ISR, in milliseconds (default 30000).
    pub replica_lag_time_max_ms: u64,
    /// `zookeeper.session.timeout.ms`: how long the metastore keeps a silent broker's
    /// session (and its ephemeral nodes), in milliseconds (default 18000).
    pub zookeeper_session_timeout_ms: u64,
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch may wait at the leader for
    /// new data, in milliseconds (default 500).
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.max.bytes`: the most bytes a follower fetches per partition and
    /// request (default 1048576).
    pub replica_fetch_max_bytes: u64,
    /// `replica.fetch.backoff.ms`: how long a follower waits before fetching a partition
    /// again after its fetch failed, in milliseconds (default 1000).
    pub replica_fetch_backoff_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often the high watermark is
    /// written to disk, in milliseconds (default 5000).
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `log.flush.interval.messages` (the broker-wide `flush.messages`): fsync the log
    /// after this many records; `None` (the default)
    /// leaves flushing to the operating system.
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync the log when its oldest unflushed record is this old, in
    /// milliseconds; `None` (the default) leaves flushing to the operating system.
    pub flush_ms: Option<u64>,
    /// `log.retention.ms`: how long a closed log segment is kept after its newest
    /// record, in milliseconds; `None` is Kafka's -1, forever (default 604800000, 7 days).
    pub log_retention_ms: Option<u64>,
    /// `log.retention.bytes`: the size a partition's log is trimmed to by deleting its
    /// oldest closed segments, in bytes; `None` is Kafka's -1, no limit (the default).
    pub log_retention_bytes: Option<u64>,
    /// `log.segment.bytes`: the size at which a log segment is closed and a new one
    /// started, in bytes (default 1073741824, 1 GiB; at least 14, as in Kafka).
    pub log_segment_bytes: u64,
    /// `log.retention.check.interval.ms`: how often brokers apply retention, in
    /// milliseconds (default 1000; Kafka's 300000 is longer than most simulated runs).
    pub log_retention_check_interval_ms: u64,
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets`, created when a
    /// scenario has a consumer group (default 5; Kafka's is 50, more than a simulation
    /// needs).
    pub offsets_topic_num_partitions: u32,
    /// `offsets.topic.replication.factor`: its replication factor (default 3, or the
    /// broker count if smaller; at most the broker count).
    pub offsets_topic_replication_factor: u32,
    /// `transaction.state.log.num.partitions`: partitions of `__transaction_state`,
    /// created when a scenario has a transactional producer (default 5; Kafka's is 50,
    /// more than a simulation needs, as for `__consumer_offsets`).
    pub transaction_state_log_num_partitions: u32,
    /// `transaction.state.log.replication.factor` (default 3, or the broker count if
    /// smaller; at most the broker count).
    pub transaction_state_log_replication_factor: u32,
    /// `transaction.state.log.min.isr`: the min ISR of `__transaction_state` (default 2,
    /// at most its replication factor).
    pub transaction_state_log_min_isr: u32,
    /// `transaction.max.timeout.ms`: the longest `transaction.timeout.ms` a producer may
    /// ask for (default 900000).
    pub transaction_max_timeout_ms: u64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`: how often the
    /// coordinator aborts transactions past their timeout (default 10000).
    pub transaction_abort_timed_out_transaction_cleanup_interval_ms: u64,
    /// `transaction.partition.verification.enable` (Kafka 3.6+, KIP-890 part 1, default
    /// true): partition leaders verify a producer's first transactional write with the
    /// coordinator.
    pub transaction_partition_verification_enable: bool,
    /// `transaction.version`: the cluster's finalized transaction feature level, 0, 1
    /// (Kafka 4.0+) or 2 (Kafka 4.0+, KIP-890 part 2: an epoch bump per transaction and
    /// partitions added by their leaders; the default of a new 4.0 cluster).
    pub transaction_version: crate::protocol::TransactionVersion,
    /// `add.partitions.to.txn.retry.backoff.ms` (Kafka 4.0+, default 20): under
    /// transaction version 2, how long a partition leader waits before it asks the
    /// coordinator again to add a partition it was answered CONCURRENT_TRANSACTIONS for.
    pub add_partitions_to_txn_retry_backoff_ms: u64,
    /// `add.partitions.to.txn.retry.backoff.max.ms` (Kafka 4.0+, default 100): how long
    /// it keeps asking before it answers the producer NOT_ENOUGH_REPLICAS.
    pub add_partitions_to_txn_retry_backoff_max_ms: u64,
    /// `group.min.session.timeout.ms`: the group coordinator refuses a member whose
    /// `session.timeout.ms` is smaller with INVALID_SESSION_TIMEOUT, in milliseconds
    /// (default 6000).
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms`: the group coordinator refuses a member whose
    /// `session.timeout.ms` is larger with INVALID_SESSION_TIMEOUT, in milliseconds
    /// (default 1800000, 30 minutes).
    pub group_max_session_timeout_ms: u64,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an empty group
    /// waits for more members to join, in milliseconds (default 3000).
    pub group_initial_rebalance_delay_ms: u64,
    /// The group coordinator's settings for consumer-protocol groups (KIP-848).
    pub group_consumer: ConsumerGroupBrokerSettings,
    /// `controlled.shutdown.enable`: whether a stopping broker first asks the controller
    /// to move its leaderships away (default true).
    pub controlled_shutdown_enable: bool,
    /// `controlled.shutdown.max.retries`: how many ControlledShutdown requests a stopping
    /// broker sends at most before it shuts down anyway (default 3).
    pub controlled_shutdown_max_retries: u32,
    /// `controlled.shutdown.retry.backoff.ms`: the pause between them, in milliseconds
    /// (default 5000).
    pub controlled_shutdown_retry_backoff_ms: u64,
    /// `auto.leader.rebalance.enable`: whether the controller periodically gives
    /// leadership back to preferred replicas (default true).
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds`: how often it checks, in seconds
    /// (default 300; the first check comes 5 s after a controller takes office).
    pub leader_imbalance_check_interval_seconds: u64,
    /// `leader.imbalance.per.broker.percentage`: the share of a broker's preferred
    /// partitions led elsewhere above which they are moved back, in percent (default 10).
    pub leader_imbalance_per_broker_percentage: u32,
    /// KRaft: `broker.heartbeat.interval.ms`, how often a broker heartbeats to the
    /// active controller, in milliseconds (default 2000).
    pub broker_heartbeat_interval_ms: u64,
    /// KRaft: `broker.session.timeout.ms`, how long the active controller waits for a
    /// heartbeat before it fences the broker, in milliseconds (default 9000).
    pub broker_session_timeout_ms: u64,
    /// KRaft: `controller.quorum.election.timeout.ms` (default 1000).
    pub controller_quorum_election_timeout_ms: u64,
    /// KRaft: `controller.quorum.fetch.timeout.ms` (default 2000).
    pub controller_quorum_fetch_timeout_ms: u64,
    /// KRaft: `controller.quorum.election.backoff.max.ms` (default 1000).
    pub controller_quorum_election_backoff_max_ms: u64,
    /// KRaft: `controller.quorum.request.timeout.ms` (default 2000).
    pub controller_quorum_request_timeout_ms: u64,
    /// KRaft: `metadata.max.idle.interval.ms`, how often the active controller appends a
    /// `NoOpRecord` (KIP-835; default 500, 0 turns it off).
    pub metadata_max_idle_interval_ms: u64,
    /// KRaft: `eligible.leader.replicas.enable`, KIP-966's eligible leader replicas
    /// (default false; true from Kafka 4.1, which turns the feature on in new clusters).
    pub eligible_leader_replicas_enable: bool,
    /// `delete.topic.enable`: whether a `delete-topic` event may delete a topic (default
    /// true; false makes the controller refuse with TOPIC_DELETION_DISABLED).
    pub delete_topic_enable: bool,
    /// `auto.create.topics.enable` (default true): a broker asked for a topic it does not
    /// know creates it with `num.partitions` partitions of `default.replication.factor`
    /// replicas. kafkasim's clients name only the scenario's topics, so it matters once
    /// one of them is deleted under running clients: their next metadata request
    /// creates it again.
    pub auto_create_topics_enable: bool,
    /// `num.partitions`: the partitions of an auto-created topic (default 1).
    pub num_partitions: u32,
    /// `default.replication.factor`: the replicas of each partition of an auto-created
    /// topic (default 1).
    pub default_replication_factor: u32,
    /// `num.network.threads`: each broker's network threads (default 3).
    pub num_network_threads: u32,
    /// `num.io.threads`: each broker's request handlers (default 8).
    pub num_io_threads: u32,
    /// `queued.max.requests`: the capacity of each broker's request queue, beyond which
    /// its network threads block (default 500).
    pub queued_max_requests: u32,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            replica_lag_time_max_ms: 30_000,
            zookeeper_session_timeout_ms: 18_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1_048_576,
            replica_fetch_backoff_ms: 1_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            flush_messages: None,
            flush_ms: None,
            log_retention_ms: Some(604_800_000),
            log_retention_bytes: None,
            log_segment_bytes: 1_073_741_824,
            log_retention_check_interval_ms: 1_000,
            offsets_topic_num_partitions: 5,
            offsets_topic_replication_factor: 3,
            transaction_state_log_num_partitions: 5,
            transaction_state_log_replication_factor: 3,
            transaction_state_log_min_isr: 2,
            transaction_max_timeout_ms: 900_000,
            transaction_abort_timed_out_transaction_cleanup_interval_ms: 10_000,
            transaction_partition_verification_enable: true,
            transaction_version: crate::protocol::TransactionVersion::Tv0,
            add_partitions_to_txn_retry_backoff_ms: 20,
            add_partitions_to_txn_retry_backoff_max_ms: 100,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            group_initial_rebalance_delay_ms: 3_000,
            group_consumer: ConsumerGroupBrokerSettings::default(),
            controlled_shutdown_enable: true,
            controlled_shutdown_max_retries: 3,
            controlled_shutdown_retry_backoff_ms: 5_000,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            broker_heartbeat_interval_ms: 2_000,
            broker_session_timeout_ms: 9_000,
            controller_quorum_election_timeout_ms: 1_000,
            controller_quorum_fetch_timeout_ms: 2_000,
            controller_quorum_election_backoff_max_ms: 1_000,
            controller_quorum_request_timeout_ms: 2_000,
            metadata_max_idle_interval_ms: 500,
            eligible_leader_replicas_enable: false,
            leader_imbalance_per_broker_percentage: 10,
            delete_topic_enable: true,
            auto_create_topics_enable: true,
            num_partitions: 1,
            default_replication_factor: 1,
            num_network_threads: 3,
            num_io_threads: 8,
            queued_max_requests: 500,
        }
    }
}

/// The simulated network's baseline behaviour (`[network]`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    /// The smallest one-way message latency, in milliseconds (`latency_min`, default "1ms").
    pub latency_ms_min: u64,
    /// The largest one-way message latency, in milliseconds (`latency_max`, default "5ms",
    /// or `latency_min` when that is larger).
    pub latency_ms_max: u64,
    /// The probability, in [0, 1), that a message is lost (`packet_loss_rate`, default 0).
    pub packet_loss_rate: f64,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec { latency_ms_min: 1, latency_ms_max: 5, packet_loss_rate: 0.0 }
    }
}

/// A topic created before the workload starts (`[[topics]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    /// The topic name (Kafka's rules: letters, digits, `.`, `_`, `-`; at most 249 characters).
    pub name: String,
    /// How many partitions, `name-0` to `name-(N-1)` (`partitions`, default 1 like Kafka).
    pub partitions: u32,
    /// How many replicas each partition has (`replication.factor`, default 1 like Kafka);
    /// at most the broker count.
    pub replication_factor: u32,
    /// Per-topic overrides of broker settings (`[topics.config]`).
    pub config: TopicSettings,
}

impl TopicSpec {
    /// The `min.insync.replicas` in force for this topic: its override, else the cluster's.
    pub fn min_insync_replicas(&self, cluster: &BrokerSettings) -> u32 {
        self.config.min_insync_replicas.unwrap_or(cluster.min_insync_replicas)
    }

    /// The `unclean.leader.election.enable` in force for this topic.
    pub fn unclean_leader_election_enable(&self, cluster: &BrokerSettings) -> bool {
        self.config.unclean_leader_election_enable.unwrap_or(cluster.unclean_leader_election_enable)
    }
}

/// Per-topic overrides; `None` means "use the cluster's setting".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicSettings {
    /// `min.insync.replicas` for this topic; at most its replication factor.
    pub min_insync_replicas: Option<u32>,
    /// `unclean.leader.election.enable` for this topic.
    pub unclean_leader_election_enable: Option<bool>,
    /// `retention.ms` for this topic, in milliseconds; `Some(None)` is -1 (forever).
    pub retention_ms: Option<Option<u64>>,
    /// `retention.bytes` for this topic; `Some(None)` is -1 (no limit).
    pub retention_bytes: Option<Option<u64>>,
    /// `segment.bytes` for this topic (at least 14).
    pub segment_bytes: Option<u64>,
}

/// What the checkers must and must not find (`[expect]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Each kind must appear in at least one seed's run (`present`).
    pub present: Vec<AnomalyKind>,
    /// No kind here may appear in any seed's run (`absent`); `["*"]` expands to every
    /// kind not in `present` nor in `allow` (kinds that may appear or not, such as those
    /// Jepsen's checker allows by default), in [`AnomalyKind::ALL`] order.
    pub absent: Vec<AnomalyKind>,
    /// Every acknowledged record must be consumed by the end of the liveness phase
    /// (`all_acked_consumed`, default false).
    pub all_acked_consumed: bool,
    /// Named protocol states some seed must reach (`reach`): the states the scenario's
    /// lesson depends on, so that a lesson whose seeds never get there fails instead of
    /// passing vacuously.
    pub reach: Vec<ReachedState>,
    /// `absent = "promised"`: each seed is judged against what its own (drawn)
    /// configuration promises (`runner::promise`), plus `no-progress`, instead of
    /// against `absent` (which is then empty).
    pub promised: bool,
}

/// The bounds swarm mode draws each seed's configuration from (`[swarm]`). `None` means
/// "not drawn: keep the scenario's value". Ranges are inclusive `(min, max)`.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmSpec {
    /// The broker count (`brokers`).
    pub brokers: Option<(u32, u32)>,
    /// The metadata modes to draw one from (`metadata`, such as `["zookeeper", "kraft"]`).
    pub metadata: Option<Vec<MetadataMode>>,
    /// The KRaft controller count (`controllers`): one of 1, 3 and 5 within the range,
    /// drawn when the seed's cluster is KRaft.
    pub controllers: Option<(u32, u32)>,
    /// The controller count and pre-vote rule of a seed that draws KRaft for a file whose
    /// cluster is ZooKeeper (`[cluster]` `controllers` and `pre_vote`, or their defaults);
    /// `None` when no seed can draw KRaft.
    pub kraft_quorum: Option<(u32, bool)>,
    /// Every topic's replication factor (`"replication.factor"`); a draw above the drawn
    /// broker count is lowered to it.
    pub replication_factor: Option<(u32, u32)>,
    /// Every topic's partition count (`partitions`).
    pub partitions: Option<(u32, u32)>,
    /// The process count of every `[[producers]]` entry (`producers`).
    pub producers: Option<(u32, u32)>,
    /// Records per second per producer (`rate_per_sec`).
    pub rate_per_sec: Option<(f64, f64)>,
    /// The send modes to draw from, per `[[producers]]` entry (`send`).
    pub send: Option<Vec<SendMode>>,
    /// `linger.ms` of every producer, in milliseconds.
    pub linger_ms: Option<(u64, u64)>,
    /// `batch.size` of every producer, in bytes.
    pub batch_size: Option<(u64, u64)>,
    /// `max.in.flight.requests.per.connection` of every producer.
    pub max_in_flight: Option<(u32, u32)>,
    /// The nemesis' mean interval, in milliseconds (`nemesis_interval`); needs `[nemesis]`.
    pub nemesis_interval_ms: Option<(u64, u64)>,
    /// `min.insync.replicas` of the cluster and every topic (`"min.insync.replicas"`),
    /// drawn after every other bound and lowered to the drawn replication factor.
    pub min_insync_replicas: Option<(u32, u32)>,
    /// The Kafka settings drawn from lists of values (`acks`, `kafka_version`, ...), in
    /// [`SwarmKey::ALL`] order whatever the file's order; each drawn value is applied as
    /// `--set KEY=VALUE` would apply it.
    pub settings: Vec<SettingChoices>,
}

/// A setting a swarm draws from a list of values, with Kafka's (or the scenario's) key
/// name. The order of [`SwarmKey::ALL`] is the draw order, part of the replay contract:
/// a new key goes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SwarmKey {
    /// `kafka_version`: the release whose behaviour and defaults the seed runs with.
    KafkaVersion,
    /// The producers' `acks`.
    Acks,
    /// The producers' `enable.idempotence`.
    EnableIdempotence,
    /// The producers' `retries`.
    Retries,
    /// `unclean.leader.election.enable` of the cluster and every topic.
    UncleanLeaderElectionEnable,
    /// `[cluster] truncation`: the followers' truncation mode.
    Truncation,
    /// `log.flush.interval.messages`: the brokers' flush policy.
    LogFlushIntervalMessages,
    /// The group consumers' `commit` policy (with `enable.auto.commit` to match).
    Commit,
    /// The group consumers' `partition.assignment.strategy`.
    PartitionAssignmentStrategy,
    /// The group consumers' `group.protocol` (classic or KIP-848's consumer protocol).
    GroupProtocol,
}

impl SwarmKey {
    /// Every key, in draw order.
    pub const ALL: [SwarmKey; 10] = [
        SwarmKey::KafkaVersion,
        SwarmKey::Acks,
        SwarmKey::EnableIdempotence,
        SwarmKey::Retries,
        SwarmKey::UncleanLeaderElectionEnable,
        SwarmKey::Truncation,
        SwarmKey::LogFlushIntervalMessages,
        SwarmKey::Commit,
        SwarmKey::PartitionAssignmentStrategy,
        SwarmKey::GroupProtocol,
    ];

    /// The key as `[swarm]` and `--set` write it.
    pub fn name(self) -> &'static str {
        match self {
            SwarmKey::KafkaVersion => "kafka_version",
            SwarmKey::Acks => "acks",
            SwarmKey::EnableIdempotence => "enable.idempotence",
            SwarmKey::Retries => "retries",
            SwarmKey::UncleanLeaderElectionEnable => "unclean.leader.election.enable",
            SwarmKey::Truncation => "truncation",
            SwarmKey::LogFlushIntervalMessages => "log.flush.interval.messages",
            SwarmKey::Commit => "commit",
            SwarmKey::PartitionAssignmentStrategy => "partition.assignment.strategy",
            SwarmKey::GroupProtocol => "group.protocol",
        }
    }
}

/// The values one [`SwarmKey`] is drawn from, each as `--set KEY=VALUE` writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingChoices {
    /// The setting.
    pub key: SwarmKey,
    /// The values, in the order written, without duplicates; never empty.
    pub values: Vec<String>,
}
