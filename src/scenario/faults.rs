//! The validated layer for `[[faults]]`: the keys each kind takes, targets that name
//! nodes and partitions that exist, and times inside the safety phase.

use super::error::{excerpt, one_of};
use super::fields::{kind_and_keys, loss_rate};
use super::model::TopicSpec;
use super::model_faults::{FaultAction, FaultSpec, SplitShape, StuckChannel, Target, Trigger, TriggerEvent};
use super::raw::{Node, Table};
use super::span::{Pos, Res};
use super::target::FORMS;
use super::values::{choice, format_duration_ms};
use crate::fault::FaultKind;
use crate::protocol::kraft::ControllerChannel;
use crate::protocol::{NodeName, NodeRole, METASTORE};

/// What fault targets may refer to.
pub(super) struct World<'a> {
    /// The broker count.
    pub brokers: u32,
    /// The dedicated KRaft controller count (0 in ZooKeeper mode).
    pub controllers: u32,
    /// The producer process count, over all `[[producers]]` entries.
    pub producers: u32,
    /// The consumer process count, over all `[[consumers]]` entries.
    pub consumers: u32,
    /// The numbers of the transactional producers (`producer-N`, counted over all
    /// `[[producers]]` entries): a `stall` may target them, and a `stuck-connection` on
    /// their transaction coordinator connections.
    pub transactional_producers: Vec<u32>,
    /// The pipeline instance count, over all `[[pipelines]]` entries.
    pub pipelines: u32,
    /// The delay queue forwarder count, over all `[[delay_queues]]` entries.
    pub forwarders: u32,
    /// The topics.
    pub topics: &'a [TopicSpec],
    /// The consumer groups (of subscribe-mode consumers).
    pub groups: Vec<String>,
    /// The safety phase length, in milliseconds.
    pub duration_ms: u64,
}

impl World<'_> {
    /// Whether `node` is a producer with a `transactional.id`.
    fn is_transactional_producer(&self, node: Option<&NodeName>) -> bool {
        node.is_some_and(|n| n.role == NodeRole::Producer && self.transactional_producers.contains(&n.number))
    }

    /// The transactional producers' names, for error messages.
    fn transactional_producer_names(&self) -> String {
        if self.transactional_producers.is_empty() {
            return "this scenario has none".to_string();
        }
        let names: Vec<String> = self.transactional_producers.iter().map(|n| format!("producer-{n}")).collect();
        names.join(", ")
    }
}

/// The keys a fault of `kind` takes.
fn keys(kind: FaultKind) -> &'static [&'static str] {
    match kind {
        FaultKind::Crash => &["at", "when", "kind", "target", "duration"],
        FaultKind::Restart => &["at", "when", "kind", "target"],
        FaultKind::Partition => &["at", "when", "kind", "target", "peers", "one_way", "shape", "duration"],
        FaultKind::Heal => &["at", "when", "kind"],
        FaultKind::PacketLoss => &["at", "when", "kind", "rate", "duration"],
        FaultKind::Latency => &["at", "when", "kind", "latency_min", "latency_max", "duration"],
        FaultKind::PowerLoss | FaultKind::Pause | FaultKind::Stall | FaultKind::Leave => {
            &["at", "when", "kind", "target", "duration"]
        }
        FaultKind::Resume => &["at", "when", "kind", "target"],
        FaultKind::Stop => &["at", "when", "kind", "target", "duration"],
        FaultKind::RollingRestart => &["at", "when", "kind"],
        FaultKind::Clog | FaultKind::Reorder => &["at", "when", "kind", "target", "peers", "duration"],
        FaultKind::Duplicate => &["at", "when", "kind", "target", "peers", "rate", "duration"],
        FaultKind::StuckConnection => &["at", "when", "kind", "target", "channel", "duration"],
        FaultKind::SlowDisk | FaultKind::CpuSteal => &["at", "when", "kind", "target", "factor", "duration"],
    }
}

/// Where a target phrase is used; decides which phrases make sense.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Crash,
    Restart,
    Resume,
    Cut,
    Peers,
}

/// A `stuck-connection` fault: a broker target and one of its controller channels, in a
/// KRaft cluster (a ZooKeeper-mode broker keeps no such channels), or a transactional
/// producer and its connections to its transaction coordinator.
fn stuck_connection(t: &Table, world: &World) -> Res<FaultAction> {
    let channels: Vec<(&str, StuckChannel)> = ControllerChannel::ALL
        .iter()
        .map(|c| StuckChannel::Controller(*c))
        .chain([StuckChannel::TransactionCoordinator])
        .map(|c| (c.name(), c))
        .collect();
    let names: Vec<&str> = channels.iter().map(|(n, _)| *n).collect();
    let channel_sp =
        t.require("channel", &format!("which connections stick, one of {}", one_of(&names)))?.string("a string")?;
    let channel = choice(&channel_sp, &channels)?;
    if channel == StuckChannel::TransactionCoordinator {
        let who = target(t, "target", Role::Crash, world)?;
        let node = match &who {
            Target::Node(n) => NodeName::parse(n),
            _ => None,
        };
        if !world.is_transactional_producer(node.as_ref()) {
            let node = t.require("target", "a transactional producer")?;
            return Err(node.pos.issue(format!(
                "a \"stuck-connection\" fault on channel \"transaction-coordinator\" acts on a transactional \
                 producer's connections to its coordinator; expected one of the producers with a transactional.id \
                 ({}), found \"{who}\"",
                world.transactional_producer_names()
            )));
        }
        return Ok(FaultAction::StuckConnection { target: who, channel });
    }
    if world.controllers == 0 {
        return Err(channel_sp.pos.issue(
            "a \"stuck-connection\" fault sticks a broker's connection to the KRaft controllers, and this cluster \
             keeps its metadata in ZooKeeper; expected metadata = \"kraft\""
                .to_string(),
        ));
    }
    let who = target(t, "target", Role::Crash, world)?;
    if !who.names_only_brokers() {
        let node = t.require("target", "a broker")?;
        return Err(node.pos.issue(format!(
            "a \"stuck-connection\" fault acts on a broker's connections; expected a broker or a broker's role such \
             as \"broker-2\" or \"the leader of orders-0\", found \"{who}\""
        )));
    }
    Ok(FaultAction::StuckConnection { target: who, channel })
}

/// Reads `[[faults]]`, sorted by time (stable).
pub(super) fn faults(tables: &[Table], world: &World, text: &str) -> Res<Vec<FaultSpec>> {
    let mut out = Vec::new();
    for t in tables {
        out.push(fault(t, world, text)?);
    }
    out.sort_by_key(|f| f.at_ms);
    Ok(out)
}

fn fault(t: &Table, world: &World, text: &str) -> Res<FaultSpec> {
    let kinds: Vec<(&str, FaultKind)> = FaultKind::all().iter().map(|k| (k.name(), *k)).collect();
    let (kind_sp, kind) = kind_and_keys(t, &kinds, keys, "fault")?;

    let at = t.require("at", "when the fault fires, such as \"2.5s\"")?.duration_ms()?;
    if at.value >= world.duration_ms {
        let end = format_duration_ms(world.duration_ms);
        return Err(at.pos.issue(format!(
            "the fault fires at {} but the safety phase (`duration`) ends at {end}; expected a \
                time before {end}",
            format_duration_ms(at.value)
        )));
    }
    let duration_ms = t
        .opt_duration_ms("duration")?
        .map(|d| d.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string()))
        .transpose()?
        .map(|d| d.value);

    let action = match kind {
        FaultKind::Crash => FaultAction::Crash { target: target(t, "target", Role::Crash, world)? },
        FaultKind::Restart => FaultAction::Restart { target: target(t, "target", Role::Restart, world)? },
        FaultKind::Partition => match shape(t)? {
            SplitShape::Isolate => {
                let (cut, peers) = sides(t, world)?;
                let one_way = t.opt_bool("one_way")?.is_some_and(|b| b.value);
                FaultAction::Partition { target: cut, peers, one_way }
            }
            shape => {
                for key in ["peers", "one_way"] {
                    if let Some(node) = t.get(key) {
                        return Err(node.pos.issue(format!(
                            "`{key}` does not apply to shape = \"{}\", which draws both sides itself; \
                             expected it only with shape = \"isolate\"",
                            shape.name()
                        )));
                    }
                }
                FaultAction::Split { shape, target: target(t, "target", Role::Cut, world)? }
            }
        },
        FaultKind::PowerLoss => FaultAction::PowerLoss { target: target(t, "target", Role::Crash, world)? },
        FaultKind::Pause => FaultAction::Pause { target: target(t, "target", Role::Crash, world)? },
        FaultKind::Resume => FaultAction::Resume { target: target(t, "target", Role::Resume, world)? },
        FaultKind::Stop => {
            let who = target(t, "target", Role::Crash, world)?;
            // Brokers and KRaft controllers shut down cleanly; the metastore and the
            // clients have no such stop here.
            let names_another_node = matches!(&who, Target::Node(n)
                if NodeName::parse(n).is_none_or(|n| !matches!(n.role, NodeRole::Broker | NodeRole::Controller)))
                || matches!(who, Target::Cluster);
            if names_another_node {
                let node = t.require("target", "a broker or a controller")?;
                return Err(node.pos.issue(format!(
                    "a \"stop\" fault shuts a broker or a KRaft controller down cleanly; expected a broker, a \
                     controller or a role such as \"broker-2\", \"the leader of orders-0\" or \"the active \
                     controller\", found \"{who}\""
                )));
            }
            FaultAction::Stop { target: who }
        }
        FaultKind::RollingRestart => FaultAction::RollingRestart,
        FaultKind::StuckConnection => stuck_connection(t, world)?,
        FaultKind::SlowDisk | FaultKind::CpuSteal => {
            let (target, factor) = slowdown(t, kind, world)?;
            match kind {
                FaultKind::SlowDisk => FaultAction::SlowDisk { target, factor },
                _ => FaultAction::CpuSteal { target, factor },
            }
        }
        FaultKind::Stall | FaultKind::Leave => {
            t.require("duration", "how long the client stays stalled or away, such as \"3s\"")?;
            let who = target(t, "target", Role::Crash, world)?;
            let node = match &who {
                Target::Node(n) => NodeName::parse(n),
                _ => None,
            };
            let consumer = node
                .as_ref()
                .is_some_and(|n| matches!(n.role, NodeRole::Consumer | NodeRole::Pipeline | NodeRole::Forwarder));
            // A transactional producer's application can stall too (in the middle of a
            // transaction); a plain producer's sends have no transaction to hold open.
            let transactional = world.is_transactional_producer(node.as_ref());
            if !(consumer || (kind == FaultKind::Stall && transactional)) {
                let node = t.require("target", "a consumer")?;
                let expected = if kind == FaultKind::Stall {
                    "a consumer such as \"consumer-1\", a pipeline instance such as \"pipeline-1\", a delay \
                     queue forwarder such as \"forwarder-1\", or a transactional producer (one with a \
                     `transactional.id`)"
                } else {
                    "a consumer such as \"consumer-1\", a pipeline instance such as \"pipeline-1\" or a delay \
                     queue forwarder such as \"forwarder-1\""
                };
                return Err(node.pos.issue(format!(
                    "a \"{}\" fault acts on a client's application; expected {expected}, found \"{who}\"",
                    kind_sp.value
                )));
            }
            if kind == FaultKind::Stall {
                FaultAction::Stall { target: who }
            } else {
                FaultAction::Leave { target: who }
            }
        }
        FaultKind::Clog => {
            // A clog spreads over its duration, so it has no sensible default.
            t.require(
                "duration",
                "how long the clog lasts, such as \"4s\": links clog one by one in its first half and \
                 unclog in random order in its second",
            )?;
            let (target, peers) = sides(t, world)?;
            FaultAction::Clog { target, peers }
        }
        FaultKind::Reorder => {
            let (target, peers) = sides(t, world)?;
            FaultAction::Reorder { target, peers }
        }
        FaultKind::Duplicate => {
            let (target, peers) = sides(t, world)?;
            let rate = t.require("rate", "the probability of delivering each message twice, such as 0.2")?;
            let rate = rate.f64()?.check(
                |r| r > 0.0 && r <= 1.0,
                |r| format!("expected a probability above 0 and at most 1, found {r}"),
            )?;
            FaultAction::Duplicate { target, peers, rate: rate.value }
        }
        FaultKind::Heal => FaultAction::Heal,
        FaultKind::PacketLoss => {
            let rate = loss_rate(t.require("rate", "the probability of losing each message, such as 0.1")?)?;
            FaultAction::PacketLoss { rate }
        }
        FaultKind::Latency => {
            let min = t.require("latency_min", "the smallest one-way latency, such as \"50ms\"")?.duration_ms()?;
            let max = t.require("latency_max", "the largest one-way latency, such as \"200ms\"")?.duration_ms()?;
            if max.value < min.value {
                return Err(max.pos.issue(format!(
                    "latency_max {} is smaller than latency_min {}; expected at least {}",
                    format_duration_ms(max.value),
                    format_duration_ms(min.value),
                    format_duration_ms(min.value)
                )));
            }
            FaultAction::Latency { latency_ms_min: min.value, latency_ms_max: max.value }
        }
    };
    let trigger = match t.get("when") {
        Some(_) => Some(trigger(t, world)?),
        None => None,
    };
    let line = t.pos.line(text);
    Ok(FaultSpec { at_ms: at.value, action, duration_ms, line, trigger })
}

/// The default `factor` of a `slow-disk` or `cpu-steal` fault: ten times slower.
pub const DEFAULT_SLOWDOWN_FACTOR: u64 = 10;
/// The largest `factor`: beyond it a broker is as good as stopped, which `pause` models.
pub const MAX_SLOWDOWN_FACTOR: u64 = 1_000;

/// The broker target and `factor` of a `slow-disk` or `cpu-steal` fault: the machine
/// model is a broker's (controllers and the metastore cost nothing, see `sim::machine`).
fn slowdown(t: &Table, kind: FaultKind, world: &World) -> Res<(Target, u64)> {
    let who = target(t, "target", Role::Crash, world)?;
    if !who.names_only_brokers() {
        let node = t.require("target", "a broker")?;
        return Err(node.pos.issue(format!(
            "a \"{kind}\" fault slows a broker's machine (only brokers' work is modelled); expected a broker or a \
             broker's role such as \"broker-2\" or \"the leader of orders-0\", found \"{who}\""
        )));
    }
    let factor = match t.opt_u64("factor")? {
        Some(f) => {
            f.check(
                |f| (2..=MAX_SLOWDOWN_FACTOR).contains(&f),
                |f| format!("expected a slowdown factor of 2 to {MAX_SLOWDOWN_FACTOR}, found {f}"),
            )?
            .value
        }
        None => DEFAULT_SLOWDOWN_FACTOR,
    };
    Ok((who, factor))
}

/// Reads `shape` (default `"isolate"`).
fn shape(t: &Table) -> Res<SplitShape> {
    match t.opt_string("shape", "a partition shape such as \"isolate\"")? {
        Some(sp) => choice(&sp, &SplitShape::ALL),
        None => Ok(SplitShape::Isolate),
    }
}

/// Reads `target` and `peers` (default "everyone else"), which must differ.
fn sides(t: &Table, world: &World) -> Res<(Target, Target)> {
    let cut = target(t, "target", Role::Cut, world)?;
    let peers = match t.get("peers") {
        Some(_) => target(t, "peers", Role::Peers, world)?,
        None => Target::Everyone,
    };
    if cut == peers {
        let pos = t.get("peers").map_or_else(|| t.pos.clone(), |n| n.pos.clone());
        return Err(pos.issue(format!(
            "`target` and `peers` are both \"{cut}\", so nothing would be cut; expected \
                two different sides"
        )));
    }
    Ok((cut, peers))
}

/// Reads `when = "EVENT PARTITION"`, e.g. `when = "truncate orders-0"`.
pub(super) fn trigger(t: &Table, world: &World) -> Res<Trigger> {
    let names: Vec<&str> = TriggerEvent::ALL.iter().map(|(n, _)| *n).collect();
    let expected = format!("\"EVENT PARTITION\" with EVENT one of {}, such as \"truncate orders-0\"", one_of(&names));
    let sp = t.require("when", &expected)?.string("a string")?;
    let mut words = sp.value.split_whitespace();
    let (Some(event), Some(tp), None) = (words.next(), words.next(), words.next()) else {
        return Err(sp.pos.issue(format!("expected {expected}; found {}", excerpt(&sp.value))));
    };
    let Some(event) = TriggerEvent::ALL.iter().find(|(n, _)| *n == event).map(|(_, e)| *e) else {
        return Err(sp.pos.issue(format!("unknown event {}; expected {expected}", excerpt(event))));
    };
    let exists = world.topics.iter().any(|topic| {
        tp.strip_prefix(topic.name.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| p < topic.partitions)
    });
    if !exists {
        return Err(sp.pos.issue(format!(
            "partition {} does not exist; expected a partition of a `[[topics]]` entry, such as \"{}-0\"",
            excerpt(tp),
            world.topics.first().map_or("orders", |t| t.name.as_str())
        )));
    }
    Ok(Trigger { event, tp: tp.to_string() })
}

fn target(t: &Table, key: &str, role: Role, world: &World) -> Res<Target> {
    let what = match role {
        Role::Crash => "who crashes, such as \"broker-2\" or \"the leader of orders-0\"",
        Role::Restart => "who restarts, such as \"broker-2\" or \"crashed\"",
        Role::Resume => "who resumes, such as \"broker-2\" or \"paused\"",
        Role::Cut => "who is cut off, such as \"broker-2\" or \"the leader of orders-0\"",
        Role::Peers => "who they are cut off from, such as \"everyone else\" or \"broker-3\"",
    };
    let node = t.require(key, what)?;
    let sp = node.string("a target phrase such as \"broker-2\" or \"the leader of orders-0\"")?;
    let Some(target) = Target::parse(&sp.value) else {
        return Err(sp.pos.issue(format!("expected {FORMS}; found {}", excerpt(&sp.value))));
    };
    match (&target, role) {
        (Target::Crashed, r) if r != Role::Restart => {
            return Err(sp.pos.issue(
                "\"crashed\" only applies to a \"restart\" fault; expected a \
                node or a role such as \"the leader of orders-0\"",
            ));
        }
        (Target::Paused, r) if r != Role::Resume => {
            return Err(sp.pos.issue(
                "\"paused\" only applies to a \"resume\" fault; expected a \
                node or a role such as \"the leader of orders-0\"",
            ));
        }
        (Target::Everyone, r) if r != Role::Peers => {
            return Err(sp.pos.issue(
                "\"everyone else\" only applies to `peers`; expected a node \
                or a role such as \"the leader of orders-0\"",
            ));
        }
        _ => {}
    }
    check_exists(&target, node, world)?;
    Ok(target)
}

fn check_exists(target: &Target, node: &Node, world: &World) -> Res<()> {
    let pos: &Pos = &node.pos;
    match target {
        Target::ActiveController
        | Target::AController
        | Target::AFollowerController
        | Target::MajorityOfControllers
        | Target::AllControllers
            if world.controllers == 0 =>
        {
            Err(pos.issue(format!(
                "\"{target}\" names KRaft controllers, which a ZooKeeper cluster does not run; expected \
                 metadata = \"kraft\" in [cluster], or \"the controller\" (the controller broker)"
            )))
        }
        Target::Node(name) if name == METASTORE && world.controllers > 0 => Err(pos.issue(
            "the metastore (ZooKeeper) does not run in a KRaft cluster; expected a controller such as \
             \"controller-1\", \"the active controller\" or \"a majority of controllers\"",
        )),
        Target::Node(name) => {
            let Some(NodeName { role: kind, number: n }) = NodeName::parse(name) else {
                return Ok(());
            }; // metastore
            let (count, plural, where_) = match kind {
                NodeRole::Broker => (world.brokers, "brokers", "[cluster] brokers"),
                NodeRole::Producer => (world.producers, "producer processes", "[[producers]]"),
                NodeRole::Consumer => (world.consumers, "consumer processes", "[[consumers]]"),
                NodeRole::Controller => (world.controllers, "controllers", "[cluster] controllers"),
                NodeRole::Pipeline => (world.pipelines, "pipeline instances", "[[pipelines]]"),
                NodeRole::Forwarder => (world.forwarders, "delay queue forwarders", "[[delay_queues]]"),
            };
            if n == 0 || n > count {
                let range = match count {
                    0 => format!("there are no {plural} (see {where_})"),
                    1 => format!("there is 1 ({kind}-1)"),
                    c => format!("there are {c}, {kind}-1 to {kind}-{c}"),
                };
                return Err(pos.issue(format!("{name} does not exist: {range}; expected one of them")));
            }
            Ok(())
        }
        Target::CoordinatorOf(group) => {
            if world.groups.contains(group) {
                return Ok(());
            }
            let names: Vec<&str> = world.groups.iter().map(String::as_str).collect();
            let expected = if names.is_empty() {
                "a `group` of a [[consumers]] entry with mode = \"subscribe\"; there is none".to_string()
            } else {
                one_of(&names)
            };
            Err(pos.issue(format!("no consumer group is named {}; expected {expected}", excerpt(group))))
        }
        Target::TransactionCoordinatorOf(producer) => {
            if world.is_transactional_producer(NodeName::parse(producer).as_ref()) {
                return Ok(());
            }
            Err(pos.issue(format!(
                "{producer} has no transaction coordinator: it is not a producer with a transactional.id; \
                 expected one of them ({})",
                world.transactional_producer_names()
            )))
        }
        Target::LeaderOf(tp) | Target::FollowersOf(tp) | Target::AFollowerOf(tp) | Target::ReplicasOf(tp) => {
            let (topic, n) = tp.rsplit_once('-').unwrap_or((tp, ""));
            let Some(spec) = world.topics.iter().find(|t| t.name == topic) else {
                let names: Vec<&str> = world.topics.iter().map(|t| t.name.as_str()).collect();
                let expected =
                    if names.is_empty() { "a topic defined in [[topics]]".to_string() } else { one_of(&names) };
                return Err(pos.issue(format!(
                    "partition {tp} names topic `{topic}`, which is not \
                    defined; expected a partition of {expected}"
                )));
            };
            let p: u64 = n.parse().unwrap_or(u64::MAX);
            if p >= u64::from(spec.partitions) {
                let range = match spec.partitions {
                    1 => format!("1 partition; expected {topic}-0"),
                    n => format!("{n} partitions; expected {topic}-0 to {topic}-{}", n - 1),
                };
                return Err(pos.issue(format!("partition {tp} does not exist: topic `{topic}` has {range}")));
            }
            if matches!(target, Target::FollowersOf(_) | Target::AFollowerOf(_)) && spec.replication_factor < 2 {
                return Err(pos.issue(format!(
                    "{tp} has no followers: topic `{topic}` has replication factor {}; expected a \
                        partition with replication factor 2 or more",
                    spec.replication_factor
                )));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
