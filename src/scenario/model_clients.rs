//! The validated workload types: producers and consumers, with Kafka's client settings.

use crate::protocol::{
    Acks, AssignmentStrategy, IsolationLevel, OffsetReset, OffsetValidation, StickyAlgorithm, UnkeyedPartitioning,
};

/// A group of identical producers (`[[producers]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ProducerSpec {
    /// How many producer processes this entry starts (`count`, default 1).
    pub count: u32,
    /// The topic they write to; always one of the scenario's topics.
    pub topic: String,
    /// Records per second, per producer (`rate_per_sec`, required, greater than 0): a
    /// constant rate, or a schedule of steps.
    pub rate_per_sec: super::model_rate::RateSchedule,
    /// Each producer stops after this many records (`records`); `None` means it sends
    /// until the safety phase ends.
    pub records: Option<u64>,
    /// The size of each record's value in bytes (`value_bytes`, default 8: the integer
    /// alone; up to 1 MiB), as `kafka-producer-perf-test --record-size` pads records:
    /// what batches, requests, logs and the cost model count.
    pub value_bytes: u32,
    /// How records are spread over partitions (`partitioning`, default explicit).
    pub partitioning: Partitioning,
    /// How many distinct keys keyed partitioning draws from (`key_count`, default 100).
    pub key_count: u32,
    /// Whether each send waits for its result before the next (`send`, default sync).
    pub send_mode: SendMode,
    /// How the producer places records with neither a key nor a partition
    /// (`partitioner`: `"uniform-sticky"`, the default, `"sticky"` or `"round-robin"`).
    pub partitioner: UnkeyedPartitioning,
    /// Whether an idempotent producer bumps its epoch after a sequence error
    /// (`idempotent_epoch_bump`, default true: KIP-360) instead of failing its batches
    /// and taking a new producer id.
    pub idempotent_epoch_bump: bool,
    /// Whether a transactional producer whose record is refused as from an old producer
    /// epoch may abort its transaction and go on (`invalid_epoch_abortable`, default
    /// true: KIP-588, Kafka 2.7) instead of being fenced.
    pub invalid_epoch_abortable: bool,
    /// For a transactional producer, how many records each transaction writes
    /// (`records_per_transaction`, default 1): one `txn` op per transaction.
    pub records_per_transaction: u32,
    /// For a transactional producer, the application aborts every N-th transaction
    /// instead of committing it (`abort_every`; `None`, the default, commits all).
    pub abort_every: Option<u32>,
    /// When `topic` is a tier of a delay queue (`[[delay_queues]]`), the delay its
    /// records ask for and the bound on their lateness, which the producer's send ops
    /// carry for the checker; `None` for any other topic.
    pub delay: Option<crate::history::RecordDelay>,
    /// Producer settings (`[producers.config]`).
    pub config: ProducerSettings,
}

/// How a workload producer chooses partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Partitioning {
    /// The workload picks partitions round-robin and sets them on each record (`"explicit"`).
    Explicit,
    /// Random keys among `key_count`; the producer partitions by murmur2(key) (`"keyed"`).
    Keyed,
    /// No key; the producer's own sticky/round-robin partitioner decides (`"unkeyed"`).
    Unkeyed,
}

/// Whether a workload producer waits for each send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendMode {
    /// Wait for each record's result before sending the next (`send = "sync"`).
    Sync,
    /// Keep sending at the configured rate; results arrive later (`send = "async"`).
    Async,
}

/// Producer settings, under Kafka's own key names, with Kafka 3.x defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerSettings {
    /// `acks`: `"0"`, `"1"`, `"all"`/`"-1"` or the integers 0, 1, -1 (default all).
    pub acks: Acks,
    /// `retries`: how often a failed batch is retried (default 2147483647).
    pub retries: u32,
    /// `request.timeout.ms`: how long to wait for a response, in milliseconds (default 30000).
    pub request_timeout_ms: u64,
    /// `retry.backoff.ms`: the pause before a retry, in milliseconds (default 100).
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580): the longest pause, in milliseconds,
    /// as retries and metadata refreshes back off exponentially (default 1000; `None`
    /// before 3.7, where the pause is fixed).
    pub retry_backoff_max_ms: Option<u64>,
    /// `delivery.timeout.ms`: the bound on reporting a send's outcome, in milliseconds
    /// (default 120000). At least `linger.ms + request.timeout.ms`: an explicit smaller
    /// value is an error, and the default is raised to that sum, as Kafka does.
    pub delivery_timeout_ms: u64,
    /// `batch.size`: the most bytes per partition batch (default 16384).
    pub batch_size: u64,
    /// `linger.ms`: how long a batch waits for more records, in milliseconds (default 0;
    /// 5 from Kafka 4.0, KIP-1030).
    pub linger_ms: u64,
    /// `max.in.flight.requests.per.connection`: unanswered requests per connection (default 5).
    pub max_in_flight_requests_per_connection: u32,
    /// `metadata.max.age.ms`: how old the producer's metadata may get before it asks
    /// again, even without an error (default 300000).
    pub metadata_max_age_ms: u64,
    /// `enable.idempotence` as in force (default true). As in Kafka 3.x, an explicit `true`
    /// requires acks=all, retries > 0 and at most 5 requests in flight; when the key is
    /// absent and one of those does not hold, idempotence is quietly disabled (see
    /// [`Scenario::notes`](crate::scenario::Scenario::notes)).
    pub enable_idempotence: bool,
    /// Whether idempotence is off only because `enable.idempotence` was not set and another
    /// setting (acks other than all, retries = 0, more than 5 requests in flight)
    /// contradicts Kafka 3.x's default: the producer quietly turns it off
    /// (`ProducerConfig.postProcessAndValidateIdempotenceConfigs`) instead of refusing.
    pub idempotence_quietly_disabled: bool,
    /// `partitioner.adaptive.partitioning.enable` (3.3+): the uniform sticky partitioner
    /// favours partitions with shorter queues (default true).
    pub partitioner_adaptive_partitioning_enable: bool,
    /// `partitioner.availability.timeout.ms` (3.3+): with adaptive partitioning, leave out
    /// the partitions of a leader that has taken no request for this long, in
    /// milliseconds (default 0: never).
    pub partitioner_availability_timeout_ms: u64,
    /// `transactional.id`: makes the producers transactional (it needs idempotence).
    /// Each producer of the entry uses `ID-N`, N its index in the entry from 0, and a
    /// restarted producer takes the same id again, fencing its previous incarnation.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open
    /// before aborting it, in milliseconds (default 60000).
    pub transaction_timeout_ms: u64,
    /// `reconnect.backoff.ms` (default 50), `reconnect.backoff.max.ms` (0.11+, KIP-144,
    /// default 1000), `socket.connection.setup.timeout.ms` and `.max.ms` (2.7+, KIP-601,
    /// defaults 10000 and 30000; before 2.7 the kernel's connect timeout, 127 s).
    pub connections: crate::client::connection_states::ConnectionSettings,
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            acks: Acks::All,
            retries: 2_147_483_647,
            request_timeout_ms: 30_000,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: Some(crate::client::backoff::DEFAULT_RETRY_BACKOFF_MAX_MS),
            delivery_timeout_ms: 120_000,
            batch_size: 16_384,
            linger_ms: 0,
            max_in_flight_requests_per_connection: 5,
            metadata_max_age_ms: 300_000,
            enable_idempotence: true,
            idempotence_quietly_disabled: false,
            partitioner_adaptive_partitioning_enable: true,
            partitioner_availability_timeout_ms: 0,
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            connections: Default::default(),
        }
    }
}

/// A group of identical consumers (`[[consumers]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// How many consumer processes this entry starts (`count`, default 1).
    pub count: u32,
    /// The topic they read; always one of the scenario's topics.
    pub topic: String,
    /// Standalone assignment or group subscription (`mode`, default assign).
    pub mode: ConsumerMode,
    /// The consumer group (`group`); required for subscribe, optional for assign (where
    /// it is only used for offset commits).
    pub group: Option<String>,
    /// The pause between polls, in milliseconds (`poll_interval`, default "100ms").
    pub poll_interval_ms: u64,
    /// When polled records are processed (`processing`, default sync).
    pub processing: Processing,
    /// How long processing one record takes, in milliseconds (`process_time`, default
    /// "0ms").
    pub process_time_ms: u64,
    /// When a group member commits (`commit`): auto when `enable.auto.commit` is on,
    /// else after processing; none without a group.
    pub commit: CommitPolicy,
    /// Whether manual commits wait for their answer (`commit_mode = "sync"`, Kafka's
    /// `commitSync`, the default) or not (`"async"`, `commitAsync`).
    pub commit_mode: CommitMode,
    /// Which partitions an assign-mode consumer takes (`partitions`).
    pub partitions: ManualPartitions,
    /// Whether the application commits its progress on the partitions it gives up, in its
    /// rebalance listener's `onPartitionsRevoked` (`commit_on_revoke`, default false: an
    /// application without a rebalance listener). Only with a manual commit policy.
    pub commit_on_revoke: bool,
    /// Which release's sticky assignment algorithm a group leader runs (`sticky_assignor`:
    /// `"constrained"`, the default, or `"general"`).
    pub sticky_assignor: StickyAlgorithm,
    /// Consumer settings (`[consumers.config]`).
    pub config: ConsumerSettings,
}

/// How a consumer gets its partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsumerMode {
    /// `assign()` partitions of the topic itself, no group membership (`"assign"`); with
    /// a `group` it commits to that group and starts from its committed offsets.
    Assign,
    /// `subscribe()` to the topic as a member of `group` (`"subscribe"`).
    Subscribe,
}

/// Which partitions an assign-mode consumer assigns itself (`partitions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ManualPartitions {
    /// Every partition of the topic (`"all"`, the default).
    #[default]
    All,
    /// The entry's consumers share the topic's partitions as the range assignor would
    /// deal them (`"spread"`): the `count` consumers in order take consecutive ranges,
    /// as instances of an application that hard-codes its share do.
    Spread,
}

impl ManualPartitions {
    /// The partitions of a topic with `count` partitions that consumer `index` (from 0)
    /// of an entry of `consumers` takes.
    pub fn share(self, count: u32, index: u32, consumers: u32) -> std::ops::Range<u32> {
        match self {
            ManualPartitions::All => 0..count,
            ManualPartitions::Spread => {
                let (each, extra) = (count / consumers.max(1), count % consumers.max(1));
                let start = index * each + index.min(extra);
                start..start + each + u32::from(index < extra)
            }
        }
    }
}

/// When a consumer processes what it polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Processing {
    /// Every polled record is processed before the next poll (`"sync"`).
    Sync,
    /// Polled records are handed to a worker and the consumer keeps polling every
    /// `poll_interval`; the worker processes them in between (`"async"`). Records polled
    /// but not yet processed are what auto-commit can commit past.
    Async,
}

/// How a group member's manual commits are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitMode {
    /// `commitSync`: wait for the answer, retrying while the coordinator moves.
    Sync,
    /// `commitAsync`: one attempt; processing goes on and the answer is read before the
    /// member's next poll or commit.
    Async,
}

/// When a group member commits its offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CommitPolicy {
    /// No commits (a consumer without a group).
    None,
    /// `enable.auto.commit`: the positions (everything polled) every
    /// `auto.commit.interval.ms`, before a rebalance and on close (`"auto"`).
    Auto,
    /// Manual `commitSync` of the processed records' offsets after processing them: at
    /// least once (`"after-processing"`).
    AfterProcessing,
    /// Manual `commitSync` of the polled records' offsets before processing them: at
    /// most once (`"before-processing"`).
    BeforeProcessing,
}

/// Consumer settings, under Kafka's own key names, with Kafka 3.x defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerSettings {
    /// `auto.offset.reset`: where to start without a committed offset (`"earliest"` or
    /// `"latest"`, the default).
    pub auto_offset_reset: OffsetReset,
    /// `fetch.max.wait.ms`: how long a fetch may wait for data, in milliseconds (default 500).
    pub fetch_max_wait_ms: u64,
    /// `max.poll.records`: the most records one poll returns (default 500).
    pub max_poll_records: u32,
    /// `metadata.max.age.ms`: how old the consumer's metadata may get before it asks
    /// again, even without an error (default 300000).
    pub metadata_max_age_ms: u64,
    /// `allow.auto.create.topics`: whether the consumer's metadata requests let a broker
    /// with `auto.create.topics.enable` create a subscribed or assigned topic it does not
    /// know (default true).
    pub allow_auto_create_topics: bool,
    /// `enable.auto.commit`: commit offsets in the background (default true; false when
    /// the consumer has no group, as Kafka does).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms`: how often auto-commit commits, in milliseconds (default 5000).
    pub auto_commit_interval_ms: u64,
    /// `session.timeout.ms`: how long the coordinator waits for a heartbeat before it
    /// evicts the member, in milliseconds (default 45000).
    pub session_timeout_ms: u64,
    /// `max.poll.interval.ms`: the longest gap between polls before the member leaves
    /// the group, in milliseconds (default 300000).
    pub max_poll_interval_ms: u64,
    /// `heartbeat.interval.ms`: how often the member heartbeats, in milliseconds (default
    /// 3000; below `session.timeout.ms`).
    pub heartbeat_interval_ms: u64,
    /// `partition.assignment.strategy`: the group assignor (default range; classic
    /// protocol only).
    pub partition_assignment_strategy: AssignmentStrategy,
    /// `group.protocol` (Kafka 3.7+): `classic` (the default) or `consumer` (KIP-848).
    pub group_protocol: crate::protocol::GroupProtocol,
    /// `group.remote.assignor` (consumer protocol only): the server assignor the member
    /// asks for (default none: the coordinator's default).
    pub group_remote_assignor: Option<crate::protocol::ServerAssignor>,
    /// `group.instance.id` (Kafka 2.3+, KIP-345): makes the members static; each process
    /// gets the entry's id with `-N` appended (N its position in the entry, from 0).
    pub group_instance_id: Option<String>,
    /// `default.api.timeout.ms` (2.0+, KIP-266): how long blocking calls such as
    /// `commitSync` retry, in milliseconds (default 60000).
    pub default_api_timeout_ms: u64,
    /// `isolation.level`: `"read_uncommitted"` (the default) reads every record below
    /// the high watermark; `"read_committed"` reads below the last stable offset and
    /// skips records of aborted transactions.
    pub isolation_level: IsolationLevel,
    /// `offset_validation` (a scenario key; Kafka has no setting): whether the consumer
    /// validates its positions after a leader change, KIP-320 (`"kip-320"`, Kafka 2.3
    /// and later, the default) or not (`"none"`, Kafka 2.2 and before).
    pub offset_validation: OffsetValidation,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580): the longest pause, in milliseconds,
    /// between metadata refreshes, commit retries and failed consumer-protocol
    /// heartbeats, which back off exponentially from `retry.backoff.ms` (100) (default
    /// 1000; `None` before 3.7, where the pause is fixed).
    pub retry_backoff_max_ms: Option<u64>,
    /// The connection settings, as [`ProducerSettings::connections`]: every connection
    /// the consumer opens (fetches, offset requests, its group coordinator) follows them.
    pub connections: crate::client::connection_states::ConnectionSettings,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            auto_offset_reset: OffsetReset::Latest,
            fetch_max_wait_ms: 500,
            max_poll_records: 500,
            metadata_max_age_ms: 300_000,
            allow_auto_create_topics: true,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            session_timeout_ms: 45_000,
            max_poll_interval_ms: 300_000,
            heartbeat_interval_ms: 3_000,
            partition_assignment_strategy: AssignmentStrategy::Range,
            group_protocol: crate::protocol::GroupProtocol::Classic,
            group_remote_assignor: None,
            group_instance_id: None,
            default_api_timeout_ms: 60_000,
            isolation_level: IsolationLevel::ReadUncommitted,
            offset_validation: OffsetValidation::Kip320,
            retry_backoff_max_ms: Some(crate::client::backoff::DEFAULT_RETRY_BACKOFF_MAX_MS),
            connections: crate::client::connection_states::ConnectionSettings::default(),
        }
    }
}

/// What a consume-transform-produce pipeline promises about its output (`guarantee`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Guarantee {
    /// `"at-least-once"`: an idempotent producer sends the output; the consumer commits
    /// its offsets (`commitSync`) once the sends are acknowledged. A crash or a zombie
    /// between the two produces the output again.
    AtLeastOnce,
    /// `"exactly-once"`: a transactional producer per instance (`transactional.id`
    /// `GROUP-pipeline-N`) sends the output and the consumer's offsets
    /// (`sendOffsetsToTransaction`) in one transaction; the consumer reads
    /// `read_committed` (KIP-447's producer-per-instance design, Kafka Streams'
    /// `exactly_once_v2`).
    ExactlyOnce,
}

/// Which partition of its output a pipeline forwards each record to (`output_partitioner`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputPartitioner {
    /// The input record's partition number, modulo the output's partition count
    /// (`"same-partition"`, the default): as MirrorMaker 2's `MirrorSourceTask.convertRecord`
    /// names the source record's partition. A wider output gets records in as many of its
    /// partitions as the input has.
    #[default]
    SamePartition,
    /// No partition and no key: the producer's partitioner for records without a key
    /// places each record (`"round-robin"`, `"sticky"` or `"uniform-sticky"`, named as
    /// `[[producers]]`' `partitioner`), as a relay whose records carry no key spreads them.
    Unkeyed(UnkeyedPartitioning),
}

/// A group of identical consume-transform-produce pipeline instances (`[[pipelines]]`),
/// numbered `pipeline-1`, ... across entries in file order. Each instance is a group
/// member of `group` reading `input` and a producer writing each record's value,
/// unchanged, to the partition of `output` that `output_partitioner` picks (by default
/// the same-numbered one, modulo its partition count).
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineSpec {
    /// How many instances this entry starts (`count`, default 1).
    pub count: u32,
    /// The topic read (`input`).
    pub input: String,
    /// The topic written (`output`); never the input.
    pub output: String,
    /// The consumer group (`group`).
    pub group: String,
    /// At-least-once or exactly-once (`guarantee`, required).
    pub guarantee: Guarantee,
    /// How long transforming one record takes, in milliseconds (`process_time`, default
    /// "0ms"); each record is sent once transformed.
    pub process_time_ms: u64,
    /// The instances' consumer, as a subscribe-mode `[[consumers]]` entry on `input`
    /// with manual commits (`[pipelines.consumer]`, `poll_interval`, `sticky_assignor`).
    pub consumer: ConsumerSpec,
    /// The instances' producer, as a `[[producers]]` entry on `output`
    /// (`[pipelines.producer]`); its `transactional.id` is set per instance when
    /// exactly-once.
    pub producer: ProducerSpec,
    /// The dead-letter queue for records whose processing keeps failing (`dead_letter`,
    /// `poison_every`, `max_attempts`); `None`, the default, processes every record.
    pub dead_letter: Option<DeadLetterSpec>,
    /// Which output partition each forwarded record goes to (`output_partitioner`).
    pub output_partitioner: OutputPartitioner,
}

/// A pipeline's dead-letter queue (the application pattern of Kafka Connect's
/// `errors.deadletterqueue.topic.name` and Spring Kafka's `DeadLetterPublishingRecoverer`):
/// a record whose processing fails `max_attempts` times is sent, value unchanged, to the
/// dead-letter topic instead of the output, by the instance's own producer, and then
/// counts as done.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetterSpec {
    /// The dead-letter topic (`dead_letter`): a declared topic, neither the input nor
    /// the output.
    pub topic: String,
    /// Its partition count: a record goes to the same-numbered partition (modulo this),
    /// as Spring's recoverer sends it by default.
    pub partitions: u32,
    /// Poison records (`poison_every`, required with `dead_letter`, at least 1): a record
    /// whose value is a multiple of this fails processing every time; every other record
    /// is processed at its first attempt.
    pub poison_every: u64,
    /// Processing attempts a record gets before it goes to the dead-letter topic
    /// (`max_attempts`, default 1: Kafka Connect's `errors.retry.timeout` = 0, no
    /// retries), each taking the pipeline's `process_time`.
    pub max_attempts: u32,
}

impl DeadLetterSpec {
    /// Whether processing the record holding `value` fails at every attempt.
    pub fn is_poison(&self, value: u64) -> bool {
        value.is_multiple_of(self.poison_every)
    }
}
