//! The validated scenario: what the runner builds and drives. Every value here has passed
//! the checks in `validate`, `workload` and `faults`, and every default is filled in.

use std::fmt;
use std::path::PathBuf;

use super::model_clients::{ConsumerSpec, ProducerSpec};
use super::values::format_duration_ms;
use crate::check::AnomalyKind;
use crate::fault::FaultKind;

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
    /// The configuration or design change that prevents the failure.
    pub fix: Option<String>,
    /// The catalog section the scenario belongs to.
    pub theme: Option<Theme>,
    /// The seeds to run, in the order written, without duplicates; never empty.
    pub seeds: Vec<u64>,
    /// The length of the safety phase (workload and faults), in simulated milliseconds.
    pub duration_ms: u64,
    /// The bound on the heal-and-drain liveness phase that follows the safety phase, in
    /// simulated milliseconds.
    pub liveness_timeout_ms: u64,
    /// The brokers and their configuration.
    pub cluster: ClusterSpec,
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
    /// The fault schedule, sorted by `at_ms`; faults at the same time keep their file order.
    pub faults: Vec<FaultSpec>,
    /// Faults drawn at random during the safety phase, in addition to `faults`
    /// (`[nemesis]`).
    pub nemesis: Option<super::nemesis::NemesisSpec>,
    /// The bounds each seed draws its configuration from (`[swarm]`); the runner draws
    /// before it boots the cluster.
    pub swarm: Option<super::swarm::SwarmSpec>,
    /// What the checkers must (and must not) find.
    pub expect: Expectations,
    /// Adjustments made the way Kafka makes them (for example idempotence disabled because
    /// `acks = "1"`), one sentence each with its file position, for reports.
    pub notes: Vec<String>,
    /// The text of the scenario file, for reports and shrinking.
    pub source: String,
}

impl Scenario {
    /// The broker host names, `broker-1` to `broker-N`.
    pub fn broker_names(&self) -> Vec<String> {
        (1..=self.cluster.brokers).map(|i| format!("broker-{i}")).collect()
    }

    /// Every producer process with its host name (`producer-1`, ...), in numbering order.
    pub fn producer_instances(&self) -> Vec<(String, &ProducerSpec)> {
        instances("producer", self.producers.iter().map(|p| (p.count, p)))
    }

    /// Every consumer process with its host name (`consumer-1`, ...), in numbering order.
    pub fn consumer_instances(&self) -> Vec<(String, &ConsumerSpec)> {
        instances("consumer", self.consumers.iter().map(|c| (c.count, c)))
    }

    /// The topic with this name, if the scenario defines it.
    pub fn topic(&self, name: &str) -> Option<&TopicSpec> {
        self.topics.iter().find(|t| t.name == name)
    }
}

fn instances<'a, T>(prefix: &str, groups: impl Iterator<Item = (u32, &'a T)>) -> Vec<(String, &'a T)> {
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
    /// Acknowledged records that disappear (`theme = "loss"`).
    Loss,
    /// Records written or consumed more than once (`"duplication"`).
    Duplication,
    /// Records observed out of order (`"ordering"`).
    Ordering,
    /// Writes or reads that stop making progress (`"availability"`).
    Availability,
    /// Group membership, rebalances and offset commits (`"consumer-groups"`).
    ConsumerGroups,
    /// High watermarks, truncation, ISR and leader epochs (`"replication-internals"`).
    ReplicationInternals,
}

impl Theme {
    /// Every theme, in catalog order.
    pub const ALL: [Theme; 6] = [
        Theme::Loss,
        Theme::Duplication,
        Theme::Ordering,
        Theme::Availability,
        Theme::ConsumerGroups,
        Theme::ReplicationInternals,
    ];

    /// The theme's name as written in scenario files, e.g. `consumer-groups`.
    pub fn name(self) -> &'static str {
        match self {
            Theme::Loss => "loss",
            Theme::Duplication => "duplication",
            Theme::Ordering => "ordering",
            Theme::Availability => "availability",
            Theme::ConsumerGroups => "consumer-groups",
            Theme::ReplicationInternals => "replication-internals",
        }
    }
}

impl Theme {
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
    /// How followers truncate their logs after a leader change (`truncation`).
    pub truncation: TruncationMode,
    /// Broker-wide settings (`[cluster.config]`).
    pub config: BrokerConfig,
}

/// How a follower decides where to truncate its log after a leader change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TruncationMode {
    /// Truncate to the local high watermark, as Kafka did before KIP-101 (`"legacy"`);
    /// reproduces the data loss and replica divergence KIP-101 describes.
    Legacy,
    /// Ask the leader with OffsetForLeaderEpoch (KIP-101/279) (`"leader-epoch"`, the default).
    LeaderEpoch,
}

impl TruncationMode {
    /// The mode's name as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            TruncationMode::Legacy => "legacy",
            TruncationMode::LeaderEpoch => "leader-epoch",
        }
    }
}

/// Broker settings, under Kafka's own key names, with Kafka 3.x defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerConfig {
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
    /// `replica.high.watermark.checkpoint.interval.ms`: how often the high watermark is
    /// written to disk, in milliseconds (default 5000).
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `flush.messages`: fsync the log after this many records; `None` (the default)
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
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            replica_lag_time_max_ms: 30_000,
            zookeeper_session_timeout_ms: 18_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_max_bytes: 1_048_576,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            flush_messages: None,
            flush_ms: None,
            log_retention_ms: Some(604_800_000),
            log_retention_bytes: None,
            log_segment_bytes: 1_073_741_824,
            log_retention_check_interval_ms: 1_000,
            offsets_topic_num_partitions: 5,
            offsets_topic_replication_factor: 3,
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
    pub config: TopicConfig,
}

impl TopicSpec {
    /// The `min.insync.replicas` in force for this topic: its override, else the cluster's.
    pub fn min_insync_replicas(&self, cluster: &BrokerConfig) -> u32 {
        self.config.min_insync_replicas.unwrap_or(cluster.min_insync_replicas)
    }

    /// The `unclean.leader.election.enable` in force for this topic.
    pub fn unclean_leader_election_enable(&self, cluster: &BrokerConfig) -> bool {
        self.config.unclean_leader_election_enable.unwrap_or(cluster.unclean_leader_election_enable)
    }
}

/// Per-topic overrides; `None` means "use the cluster's setting".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicConfig {
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

/// One scheduled fault (`[[faults]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// When the fault fires, in simulated milliseconds from the start of the run
    /// (`at`); always inside the safety phase.
    pub at_ms: u64,
    /// What the fault does.
    pub action: FaultAction,
    /// When set, the fault is undone this many milliseconds after it fired (`duration`):
    /// a crash or power loss is followed by a restart, a pause by a resume, a partition
    /// by healing that partition, a packet-loss or latency change by the previous
    /// values, a reorder or duplicate fault by FIFO delivery. A `clog` spreads its
    /// clogging and unclogging over it (required there).
    pub duration_ms: Option<u64>,
    /// The 1-based line of the fault's `[[faults]]` header (or inline table) in the file.
    pub line: usize,
    /// When set (`when = "truncate orders-0"`), `at` only arms the fault: it fires at
    /// the first such internal event at or after `at`. A simulator can aim at a window
    /// a few milliseconds wide, which a wall-clock nemesis can only hit by luck.
    pub trigger: Option<Trigger>,
}

/// An internal event that fires an armed fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The kind of event.
    pub event: TriggerEvent,
    /// The partition it must concern, e.g. `orders-0`.
    pub tp: String,
}

/// The internal events a fault can wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerEvent {
    /// A replica truncated its log (`truncate`).
    Truncate,
    /// The controller elected a leader (`leader-election`).
    LeaderElection,
    /// The ISR changed (`isr-change`).
    IsrChange,
    /// A replica became follower (`become-follower`).
    BecomeFollower,
    /// A replica became leader (`become-leader`).
    BecomeLeader,
}

impl TriggerEvent {
    /// Every event, with its name in scenario files.
    pub const ALL: [(&'static str, TriggerEvent); 5] = [
        ("truncate", TriggerEvent::Truncate),
        ("leader-election", TriggerEvent::LeaderElection),
        ("isr-change", TriggerEvent::IsrChange),
        ("become-follower", TriggerEvent::BecomeFollower),
        ("become-leader", TriggerEvent::BecomeLeader),
    ];

    /// The event's name in scenario files and traces.
    pub fn name(self) -> &'static str {
        TriggerEvent::ALL.iter().find(|(_, e)| *e == self).map_or("?", |(n, _)| n)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.event.name(), self.tp)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}", format_duration_ms(self.at_ms))?;
        if let Some(trigger) = &self.trigger {
            write!(f, " on the next {trigger}")?;
        }
        write!(f, ": {}", self.action)?;
        if let Some(d) = self.duration_ms {
            write!(f, " for {}", format_duration_ms(d))?;
        }
        Ok(())
    }
}

/// What a fault does.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// `kind = "crash"`: the process dies; its page cache survives (a process crash, not
    /// a power loss).
    Crash {
        /// Who crashes.
        target: Target,
    },
    /// `kind = "restart"`: a crashed process starts again from its disk.
    Restart {
        /// Who restarts; [`Target::Crashed`] restarts every crashed node.
        target: Target,
    },
    /// `kind = "partition"`: cut `target` off from `peers`.
    Partition {
        /// One side of the cut.
        target: Target,
        /// The other side (`peers`, default [`Target::Everyone`]: everyone else).
        peers: Target,
        /// When true (`one_way = true`), only messages from `target` to `peers` are
        /// dropped; replies still flow the other way.
        one_way: bool,
    },
    /// `kind = "partition"` with `shape = "majority-minority"` or `"bridge"`: a cut
    /// through the cluster (brokers and the metastore) drawn around `target`, resolved
    /// when the fault fires. Clients keep reaching every node.
    Split {
        /// How the cluster is cut.
        shape: SplitShape,
        /// The minority's member (majority-minority) or the bridge node (bridge).
        target: Target,
    },
    /// `kind = "heal"`: remove every network partition and clog.
    Heal,
    /// `kind = "power-loss"`: the machine loses power: the process dies silently (peers
    /// only time out) and every write not yet flushed from the page cache is lost. With
    /// a target naming several nodes ("all replicas of orders-0") they lose power
    /// together, a correlated failure such as a rack losing power.
    PowerLoss {
        /// Whose power goes.
        target: Target,
    },
    /// `kind = "pause"`: the process stops without dying, as in a long GC pause or a
    /// SIGSTOP: it keeps its memory, sockets and sessions' local state, peers' messages
    /// queue up, and it resumes unaware that time passed.
    Pause {
        /// Who pauses.
        target: Target,
    },
    /// `kind = "stall"`: a consumer's application thread stops for the fault's duration
    /// (a slow or stuck processor) while its heartbeat thread carries on, so it is
    /// kicked out of its group only by `max.poll.interval.ms`.
    Stall {
        /// The consumer (`consumer-N`).
        target: Target,
    },
    /// `kind = "leave"`: a consumer closes cleanly (auto-commit if on, LeaveGroup) and
    /// joins again as a new member when the fault's duration ends.
    Leave {
        /// The consumer (`consumer-N`).
        target: Target,
    },
    /// `kind = "resume"`: paused processes run again.
    Resume {
        /// Who resumes; [`Target::Paused`] resumes every paused node.
        target: Target,
    },
    /// `kind = "clog"` (FoundationDB's clogging): over the fault's `duration`, each link
    /// between `target` and `peers` (each direction separately) is clogged at a random
    /// moment of the first half and unclogged at a random moment of the second half, so
    /// links fail one by one and recover in random order. A clogged link holds its
    /// messages (TCP retransmits them) until it unclogs.
    Clog {
        /// One end of the clogged links.
        target: Target,
        /// The other end (`peers`, default [`Target::Everyone`]).
        peers: Target,
    },
    /// `kind = "reorder"`: messages on the links between `target` and `peers` (both
    /// directions) may overtake each other, breaking TCP's per-connection order: each
    /// message gets its own random latency within the network's latency range.
    Reorder {
        /// One end of the links.
        target: Target,
        /// The other end (`peers`, default [`Target::Everyone`]).
        peers: Target,
    },
    /// `kind = "duplicate"`: messages on the links between `target` and `peers` (both
    /// directions) are delivered a second time with probability `rate`, as a faulty
    /// middlebox or a replayed packet would.
    Duplicate {
        /// One end of the links.
        target: Target,
        /// The other end (`peers`, default [`Target::Everyone`]).
        peers: Target,
        /// The probability, in (0, 1], that a message is delivered twice (`rate`).
        rate: f64,
    },
    /// `kind = "packet-loss"`: drop each message with this probability.
    PacketLoss {
        /// The loss probability, in [0, 1) (`rate`).
        rate: f64,
    },
    /// `kind = "latency"`: change the one-way latency range.
    Latency {
        /// The new smallest latency, in milliseconds (`latency_min`).
        latency_ms_min: u64,
        /// The new largest latency, in milliseconds (`latency_max`).
        latency_ms_max: u64,
    },
}

impl FaultAction {
    /// The fault's kind (`kind = "..."` in scenario files).
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Crash { .. } => FaultKind::Crash,
            FaultAction::Restart { .. } => FaultKind::Restart,
            FaultAction::Partition { .. } | FaultAction::Split { .. } => FaultKind::Partition,
            FaultAction::Heal => FaultKind::Heal,
            FaultAction::PowerLoss { .. } => FaultKind::PowerLoss,
            FaultAction::Pause { .. } => FaultKind::Pause,
            FaultAction::Stall { .. } => FaultKind::Stall,
            FaultAction::Leave { .. } => FaultKind::Leave,
            FaultAction::Resume { .. } => FaultKind::Resume,
            FaultAction::Clog { .. } => FaultKind::Clog,
            FaultAction::Reorder { .. } => FaultKind::Reorder,
            FaultAction::Duplicate { .. } => FaultKind::Duplicate,
            FaultAction::PacketLoss { .. } => FaultKind::PacketLoss,
            FaultAction::Latency { .. } => FaultKind::Latency,
        }
    }
}

impl fmt::Display for FaultAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultAction::Crash { target } => write!(f, "crash {target}"),
            FaultAction::Restart { target } => write!(f, "restart {target}"),
            FaultAction::Partition { target, peers, one_way } => {
                let arrow = if *one_way { "one-way " } else { "" };
                write!(f, "{arrow}partition {target} from {peers}")
            }
            FaultAction::Split { shape, target } => write!(f, "{} partition around {target}", shape.name()),
            FaultAction::Heal => f.write_str("heal every partition"),
            FaultAction::PowerLoss { target } => write!(f, "power loss of {target}"),
            FaultAction::Pause { target } => write!(f, "pause {target}"),
            FaultAction::Stall { target } => write!(f, "stall the application of {target}"),
            FaultAction::Leave { target } => write!(f, "{target} leaves its group"),
            FaultAction::Resume { target } => write!(f, "resume {target}"),
            FaultAction::Clog { target, peers } => write!(f, "clog the links of {target} to {peers}"),
            FaultAction::Reorder { target, peers } => write!(f, "reorder messages between {target} and {peers}"),
            FaultAction::Duplicate { target, peers, rate } => {
                write!(f, "duplicate messages between {target} and {peers} (rate {rate})")
            }
            FaultAction::PacketLoss { rate } => write!(f, "packet loss {rate}"),
            FaultAction::Latency { latency_ms_min, latency_ms_max } => {
                write!(f, "latency {}..{}", format_duration_ms(*latency_ms_min), format_duration_ms(*latency_ms_max))
            }
        }
    }
}

/// Who a fault hits; resolved by the runner when the fault fires. The `Display` form is
/// the canonical spelling, which parses back to the same target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// One named node: `broker-2`, `metastore`, `producer-1`, `consumer-1`.
    Node(String),
    /// The broker that is the controller when the fault fires (`"the controller"`).
    Controller,
    /// The current leader of a partition, e.g. `"the leader of orders-0"`.
    LeaderOf(String),
    /// The broker coordinating a consumer group when the fault fires: the leader of the
    /// group's `__consumer_offsets` partition, e.g. `"the coordinator of group billing"`.
    CoordinatorOf(String),
    /// Every follower of a partition, e.g. `"the followers of orders-0"`.
    FollowersOf(String),
    /// One follower of a partition, chosen from the seed (`"a follower of orders-0"`).
    AFollowerOf(String),
    /// One broker chosen from the seed (`"a random broker"`).
    RandomBroker,
    /// Every broker (`"all brokers"`).
    AllBrokers,
    /// Every assigned replica of a partition, leader and followers together, e.g.
    /// `"all replicas of orders-0"`: for correlated faults such as a rack's power loss.
    ReplicasOf(String),
    /// Every broker and the metastore, but no client (`"the cluster"`): isolating a
    /// node from "the cluster" leaves it reachable by producers and consumers.
    Cluster,
    /// Every crashed node (`"crashed"`); only for `restart`.
    Crashed,
    /// Every paused node (`"paused"`); only for `resume`.
    Paused,
    /// Every node not in the fault's `target` (`"everyone else"`); only for `peers`.
    Everyone,
}

/// The shapes of a `partition` fault (`shape`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitShape {
    /// `"isolate"` (the default): `target` is cut off from `peers`; see
    /// [`FaultAction::Partition`].
    Isolate,
    /// `"majority-minority"`: the brokers split in two. The minority holds `target` and,
    /// drawn from the seed, other brokers up to floor(N/2) in all; the majority holds
    /// the other brokers and the metastore. No link crosses the cut.
    MajorityMinority,
    /// `"bridge"` (Jepsen's bridge): the brokers other than `target` and the metastore
    /// split into two halves (the metastore's half drawn first) that cannot reach each
    /// other; `target`, the bridge, reaches both.
    Bridge,
}

impl SplitShape {
    /// Every shape, with its name in scenario files.
    pub const ALL: [(&'static str, SplitShape); 3] = [
        ("isolate", SplitShape::Isolate),
        ("majority-minority", SplitShape::MajorityMinority),
        ("bridge", SplitShape::Bridge),
    ];

    /// The shape's name in scenario files.
    pub fn name(self) -> &'static str {
        SplitShape::ALL.iter().find(|(_, s)| *s == self).map_or("?", |(n, _)| n)
    }
}

/// What the checkers must and must not find (`[expect]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// Each kind must appear in at least one seed's run (`present`).
    pub present: Vec<AnomalyKind>,
    /// No kind here may appear in any seed's run (`absent`); `["*"]` expands to every
    /// kind not in `present`, in [`AnomalyKind::ALL`] order.
    pub absent: Vec<AnomalyKind>,
    /// Every acknowledged record must be consumed by the end of the liveness phase
    /// (`all_acked_consumed`, default false).
    pub all_acked_consumed: bool,
}
