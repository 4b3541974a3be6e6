//! The validated fault types: the scheduled faults (`[[faults]]`), who they hit, the
//! internal events that can fire them, and the random fault distribution (`[nemesis]`).
//! Every value here has passed the checks in `faults` and `nemesis`.

use std::fmt;

use super::values::format_duration_ms;
use crate::fault::FaultKind;
use crate::protocol::{NodeName, NodeRole};

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
    /// `kind = "stop"`: the targeted brokers shut down cleanly (an operator's stop):
    /// controlled shutdown first if `controlled.shutdown.enable`, logs flushed, then the
    /// process exits; with a `duration`, it restarts that long after the fault fired (or
    /// when it has exited, if later).
    Stop {
        /// Who stops (brokers only).
        target: Target,
    },
    /// `kind = "rolling-restart"`: every broker in turn, in id order with the controller
    /// last, stops cleanly, restarts, and is waited for until it is back in the ISR of
    /// every partition it hosts (at most 30 s) before the next one stops.
    RollingRestart,
    /// `kind = "stuck-connection"`: connections on `channel` carry nothing, either way,
    /// until the fault ends; TCP then retransmits what they hold. Their other
    /// connections work: only a flow is hashed onto a broken path.
    StuckConnection {
        /// Whose connections (brokers, or a transactional producer).
        target: Target,
        /// Which connections (`channel`).
        channel: StuckChannel,
    },
    /// `kind = "slow-disk"`: writing records on the targeted brokers' machines takes
    /// `factor` times as long (see `sim::machine`).
    SlowDisk {
        /// Whose machines (brokers only).
        target: Target,
        /// How many times slower (`factor`, default 10).
        factor: u64,
    },
    /// `kind = "cpu-steal"`: every piece of work on the targeted brokers' machines takes
    /// `factor` times as long (see `sim::machine`).
    CpuSteal {
        /// Whose machines (brokers only).
        target: Target,
        /// How many times slower (`factor`, default 10).
        factor: u64,
    },
    /// `kind = "latency"`: change the one-way latency range.
    Latency {
        /// The new smallest latency, in milliseconds (`latency_min`).
        latency_ms_min: u64,
        /// The new largest latency, in milliseconds (`latency_max`).
        latency_ms_max: u64,
    },
}

/// The connections a `stuck-connection` fault sticks (`channel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StuckChannel {
    /// Every connection the targeted brokers open to the KRaft controllers on this
    /// channel while the fault lasts, the ones they reopen included (a broker's channel
    /// to the controllers is one flow its manager keeps reconnecting).
    Controller(crate::protocol::kraft::ControllerChannel),
    /// The connections a transactional producer has open to its transaction coordinator
    /// when the fault fires (`transaction-coordinator`). The connection the producer
    /// opens after giving up on one (a request timeout closes it) gets another source
    /// port and takes another path; what the stuck one held still arrives when the
    /// fault ends, since TCP delivers data sent before a close.
    TransactionCoordinator,
}

impl StuckChannel {
    /// The channel's name, as scenario files write it.
    pub fn name(self) -> &'static str {
        match self {
            StuckChannel::Controller(channel) => channel.name(),
            StuckChannel::TransactionCoordinator => crate::protocol::TRANSACTION_COORDINATOR_CHANNEL,
        }
    }
}

impl Target {
    /// Whether the target names brokers only (a broker, or a role only brokers play).
    pub fn names_only_brokers(&self) -> bool {
        match self {
            Target::Node(n) => NodeName::broker_id(n).is_some(),
            Target::LeaderOf(_)
            | Target::CoordinatorOf(_)
            | Target::TransactionCoordinatorOf(_)
            | Target::FollowersOf(_)
            | Target::AFollowerOf(_)
            | Target::RandomBroker
            | Target::AllBrokers
            | Target::ReplicasOf(_) => true,
            _ => false,
        }
    }

    /// Whether the target names client processes only (`producer-1`, `consumer-2`, a
    /// pipeline or forwarder instance): a fault there cannot move a partition's
    /// leadership.
    pub fn names_only_clients(&self) -> bool {
        match self {
            Target::Node(n) => NodeName::parse(n).is_some_and(|n| n.role.is_client()),
            _ => false,
        }
    }

    /// Whether the target names KRaft controllers only: a controller role or
    /// `controller-N` (`"the controller"` names the controller broker in ZooKeeper mode,
    /// so it is not one of them).
    pub fn names_controllers(&self) -> bool {
        match self {
            Target::ActiveController
            | Target::AController
            | Target::AFollowerController
            | Target::MajorityOfControllers
            | Target::AllControllers => true,
            Target::Node(n) => NodeName::parse(n).is_some_and(|n| n.role == NodeRole::Controller),
            _ => false,
        }
    }
}

impl FaultAction {
    /// Every target the fault names (its `target`, and its `peers` if it has them).
    pub fn targets(&self) -> Vec<&Target> {
        match self {
            FaultAction::Crash { target }
            | FaultAction::Restart { target }
            | FaultAction::Stop { target }
            | FaultAction::Split { target, .. }
            | FaultAction::PowerLoss { target }
            | FaultAction::Pause { target }
            | FaultAction::Resume { target }
            | FaultAction::Stall { target }
            | FaultAction::Leave { target }
            | FaultAction::StuckConnection { target, .. }
            | FaultAction::SlowDisk { target, .. }
            | FaultAction::CpuSteal { target, .. } => vec![target],
            FaultAction::Partition { target, peers, .. }
            | FaultAction::Clog { target, peers }
            | FaultAction::Reorder { target, peers }
            | FaultAction::Duplicate { target, peers, .. } => vec![target, peers],
            FaultAction::Heal
            | FaultAction::PacketLoss { .. }
            | FaultAction::Latency { .. }
            | FaultAction::RollingRestart => Vec::new(),
        }
    }

    /// Whether the fault can reach a broker, the metastore or a controller, or a link
    /// between two of them, and so move a partition's leadership: every fault but a
    /// client's own (a stalled or leaving consumer, a client crashed or cut off) and the
    /// ones that end faults (heal, resume, restart: what they end was such a fault or
    /// not). A fault on links is a client's own when either side names only clients.
    pub fn may_touch_the_cluster(&self) -> bool {
        match self {
            FaultAction::Stall { .. }
            | FaultAction::Leave { .. }
            | FaultAction::Heal
            | FaultAction::Resume { .. }
            | FaultAction::Restart { .. } => false,
            FaultAction::Partition { target, peers, .. }
            | FaultAction::Clog { target, peers }
            | FaultAction::Reorder { target, peers }
            | FaultAction::Duplicate { target, peers, .. } => {
                !(target.names_only_clients() || peers.names_only_clients())
            }
            FaultAction::Split { .. }
            | FaultAction::PacketLoss { .. }
            | FaultAction::Latency { .. }
            | FaultAction::RollingRestart => true,
            FaultAction::Crash { target }
            | FaultAction::Stop { target }
            | FaultAction::PowerLoss { target }
            | FaultAction::Pause { target }
            | FaultAction::StuckConnection { target, .. }
            | FaultAction::SlowDisk { target, .. }
            | FaultAction::CpuSteal { target, .. } => !target.names_only_clients(),
        }
    }

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
            FaultAction::Stop { .. } => FaultKind::Stop,
            FaultAction::RollingRestart => FaultKind::RollingRestart,
            FaultAction::StuckConnection { .. } => FaultKind::StuckConnection,
            FaultAction::SlowDisk { .. } => FaultKind::SlowDisk,
            FaultAction::CpuSteal { .. } => FaultKind::CpuSteal,
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
            FaultAction::Stop { target } => write!(f, "stop {target} cleanly"),
            FaultAction::RollingRestart => f.write_str("rolling restart of every broker"),
            FaultAction::StuckConnection { target, channel: StuckChannel::TransactionCoordinator } => {
                write!(f, "stick the connections of {target} to its transaction coordinator")
            }
            FaultAction::StuckConnection { target, channel } => {
                write!(f, "stick the {} connections of {target} to the controllers", channel.name())
            }
            FaultAction::Latency { latency_ms_min, latency_ms_max } => {
                write!(f, "latency {}..{}", format_duration_ms(*latency_ms_min), format_duration_ms(*latency_ms_max))
            }
            FaultAction::SlowDisk { target, factor } => write!(f, "slow the disk of {target} {factor}x"),
            FaultAction::CpuSteal { target, factor } => write!(f, "steal the CPU of {target}: {factor}x slower"),
        }
    }
}

/// Who a fault hits; resolved by the runner when the fault fires. The `Display` form is
/// the canonical spelling, which parses back to the same target.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// One named node: `broker-2`, `metastore`, `producer-1`, `consumer-1`.
    Node(String),
    /// The broker that is the controller when the fault fires (`"the controller"`); in
    /// KRaft mode, the active controller.
    Controller,
    /// KRaft: the active controller (the quorum leader) when the fault fires (`"the
    /// active controller"`).
    ActiveController,
    /// KRaft: one controller chosen from the seed (`"a controller"`).
    AController,
    /// KRaft: one controller other than the active one, chosen from the seed (`"a
    /// follower controller"`).
    AFollowerController,
    /// KRaft: a majority of the controllers, chosen from the seed, the active one among
    /// them (`"a majority of controllers"`): the quorum is lost.
    MajorityOfControllers,
    /// KRaft: every controller (`"all controllers"`).
    AllControllers,
    /// The current leader of a partition, e.g. `"the leader of orders-0"`.
    LeaderOf(String),
    /// The broker coordinating a consumer group when the fault fires: the leader of the
    /// group's `__consumer_offsets` partition, e.g. `"the coordinator of group billing"`.
    CoordinatorOf(String),
    /// The broker coordinating a transactional producer's transactions when the fault
    /// fires: the leader of its `transactional.id`'s `__transaction_state` partition,
    /// e.g. `"the transaction coordinator of producer-1"`.
    TransactionCoordinatorOf(String),
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
    /// Every broker and the metastore (the controllers in KRaft mode), but no client
    /// (`"the cluster"`): isolating a node from "the cluster" leaves it reachable by
    /// producers and consumers.
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

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(name) => f.write_str(name),
            Target::Controller => f.write_str("the controller"),
            Target::ActiveController => f.write_str("the active controller"),
            Target::AController => f.write_str("a controller"),
            Target::AFollowerController => f.write_str("a follower controller"),
            Target::MajorityOfControllers => f.write_str("a majority of controllers"),
            Target::AllControllers => f.write_str("all controllers"),
            Target::LeaderOf(tp) => write!(f, "the leader of {tp}"),
            Target::CoordinatorOf(group) => write!(f, "the coordinator of group {group}"),
            Target::TransactionCoordinatorOf(producer) => write!(f, "the transaction coordinator of {producer}"),
            Target::FollowersOf(tp) => write!(f, "the followers of {tp}"),
            Target::AFollowerOf(tp) => write!(f, "a follower of {tp}"),
            Target::RandomBroker => f.write_str("a random broker"),
            Target::AllBrokers => f.write_str("all brokers"),
            Target::ReplicasOf(tp) => write!(f, "all replicas of {tp}"),
            Target::Cluster => f.write_str("the cluster"),
            Target::Crashed => f.write_str("crashed"),
            Target::Paused => f.write_str("paused"),
            Target::Everyone => f.write_str("everyone else"),
        }
    }
}

/// The random fault distribution of the safety phase (`[nemesis]`).
#[derive(Clone, Debug, PartialEq)]
pub struct NemesisSpec {
    /// The enabled kinds with their relative weights (each > 0), in the order written.
    /// A drawn fault is of kind `k` with probability `weight(k) / sum of weights`.
    pub kinds: Vec<(FaultKind, f64)>,
    /// The mean time between two drawn faults, in milliseconds (`interval`); the gaps
    /// are exponentially distributed, so faults sometimes come in bursts.
    pub interval_ms: u64,
    /// No drawn fault fires before this time of the safety phase, in milliseconds
    /// (`start`, default 0).
    pub start_ms: u64,
    /// The shortest fault, in milliseconds (`duration_min`, default "500ms").
    pub duration_ms_min: u64,
    /// The longest fault, in milliseconds (`duration_max`, default "3s" or
    /// `duration_min` when that is larger).
    pub duration_ms_max: u64,
    /// The highest loss probability a packet-loss fault draws (`packet_loss_rate_max`,
    /// default 0.2), in (0, 1).
    pub packet_loss_rate_max: f64,
    /// The highest probability a duplicate fault draws of delivering a message twice
    /// (`duplicate_rate_max`, default 0.2), in (0, 1].
    pub duplicate_rate_max: f64,
    /// The highest one-way latency a latency fault draws, in milliseconds
    /// (`latency_max`, default "200ms"); at least the `[network]` latency_max.
    pub latency_ms_max: u64,
    /// The 1-based line of the `[nemesis]` header; drawn faults carry it as their line.
    pub line: usize,
}

impl NemesisSpec {
    /// The kinds' probabilities (weights normalised to sum to 1), in the order written.
    pub fn probabilities(&self) -> Vec<(FaultKind, f64)> {
        let total: f64 = self.kinds.iter().map(|(_, w)| w).sum();
        self.kinds.iter().map(|&(k, w)| (k, w / total)).collect()
    }
}
