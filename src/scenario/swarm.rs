//! `[swarm]`: swarm testing, as in TigerBeetle's simulator. Each seed draws its own
//! cluster size, replication factor, partition count, client configuration and nemesis
//! (which kinds are enabled, how likely each is, how often faults come) within the bounds
//! given here, so that many seeds explore many configurations. The drawing itself is the
//! runner's (`runner::swarm`); this module reads and checks the bounds.
//!
//! ```toml
//! [swarm]
//! brokers = [3, 5]                  # inclusive ranges; a single value fixes it
//! metadata = ["zookeeper", "kraft"] # one is drawn per seed
//! controllers = [1, 5]              # KRaft: 1, 3 or 5 within the range
//! "replication.factor" = [2, 3]     # never more than the drawn broker count
//! partitions = [1, 4]               # every topic
//! producers = [1, 3]                # the count of every [[producers]] entry
//! rate_per_sec = [20, 200]
//! send = ["sync", "async"]          # one is drawn per [[producers]] entry
//! "linger.ms" = [0, 20]
//! "batch.size" = [512, 16384]
//! "max.in.flight.requests.per.connection" = [1, 5]
//! nemesis_interval = ["300ms", "3s"]  # the mean interval of [nemesis]
//! ```
//!
//! Every key is optional: what is not drawn keeps the scenario's value. With a
//! `[nemesis]` section, swarm also enables each of its kinds with probability 1/2 (at
//! least one) and draws their weights.
//!
//! `metadata` draws the metadata mode: one of the listed modes (a single string fixes
//! it), each allowed by the scenario's `kafka_version` (KRaft from 3.3, ZooKeeper up to
//! 3.9). A seed that draws `"kraft"` for a file whose `[cluster]` is ZooKeeper runs the
//! file's `controllers` and `pre_vote` (default 3 controllers, the release's pre-vote
//! rule) and its KRaft keys of `[cluster.config]`; its ZooKeeper settings (`[metastore]`,
//! `zookeeper.session.timeout.ms`) simply have no effect there, as they have none in a
//! KRaft cluster, and the other way round. So one file written with both modes' settings
//! runs under both. `controllers` draws the controller count of the seeds whose cluster
//! is KRaft (drawn or written): both ends must be 1, 3 or 5, and the seed draws one of
//! those counts in the range uniformly (`[1, 5]` draws 1, 3 or 5; `[3, 5]` 3 or 5); it
//! needs some configuration to be KRaft. Drawn after `brokers`: metadata, then
//! controllers (only when the seed's cluster is KRaft).
//!
//! The nemesis follows the drawn mode: in KRaft mode it targets controllers where a
//! ZooKeeper cluster's faults hit the controller broker or the metastore (see
//! `runner::swarm`). Scheduled `[[faults]]` must fit every configuration swarm can draw:
//! a controller target needs every drawn mode to be KRaft (and `controller-N` at most
//! the smallest drawn count), the metastore needs every mode to be ZooKeeper.

use super::kraft::{check_release, is_controller_count, METADATA_MODES};
use super::limits::{MAX_BROKERS, MAX_CLIENTS_PER_ENTRY, MAX_PARTITIONS, MAX_RATE_PER_SEC};
use super::model::{SwarmSpec, TopicSpec};
use super::model_clients::{ProducerSpec, SendMode};
use super::model_faults::{FaultSpec, Target};
use super::nemesis::check_fault_count;
use super::raw::{Node, Table};
use super::span::{Res, Sp};
use super::values::{choice, format_duration_ms};
use crate::profile::Profile;
use crate::protocol::{MetadataMode, METASTORE};

/// What the bounds are checked against: the rest of the scenario, already validated.
pub(super) struct Context<'a> {
    /// The `[cluster]` broker count.
    pub brokers: u32,
    /// The `[cluster]` metadata mode.
    pub metadata: MetadataMode,
    /// The `[cluster]` controller count (0 in ZooKeeper mode).
    pub controllers: u32,
    /// `metadata`, read first by [`metadata`].
    pub swarm_metadata: Option<Sp<Vec<MetadataMode>>>,
    /// The controller count and pre-vote rule of a drawn KRaft cluster, when some
    /// configuration is KRaft (see `kraft::quorum`).
    pub kraft_quorum: Option<(u32, bool)>,
    /// The cluster-wide `min.insync.replicas`.
    pub min_insync_replicas: u32,
    /// The topics.
    pub topics: &'a [TopicSpec],
    /// The producer entries.
    pub producers: &'a [ProducerSpec],
    /// The consumer entries (the consumer keys need group consumers).
    pub consumers: &'a [super::model_clients::ConsumerSpec],
    /// The scheduled faults.
    pub faults: &'a [FaultSpec],
    /// The part of the safety phase `[nemesis]` draws faults in (`duration` less its
    /// `start`), in ms; `None` without a `[nemesis]` section.
    pub nemesis_window_ms: Option<u64>,
}

/// Reads `[swarm]` and checks that every configuration it can draw is valid.
pub(super) fn swarm(t: &Table, cx: &Context) -> Res<SwarmSpec> {
    let brokers = range_u32(t, "brokers", 1, MAX_BROKERS)?;
    let rf = range_u32(t, "replication.factor", 1, MAX_BROKERS)?;
    let partitions = range_u32(t, "partitions", 1, MAX_PARTITIONS)?;
    let producers = range_u32(t, "producers", 1, MAX_CLIENTS_PER_ENTRY)?;
    let max_in_flight = range_u32(t, "max.in.flight.requests.per.connection", 1, i32::MAX as u32)?;
    let linger = range_u64(t, "linger.ms")?;
    let batch = range_u64(t, "batch.size")?;
    let rate = rate_range(t)?;
    let send = send_modes(t)?;
    let interval = duration_range(t, "nemesis_interval")?;
    let controllers = controller_range(t)?;
    let min_insync_replicas = super::swarm_settings::min_insync(t)?;
    let (settings, _) = super::swarm_settings::settings(t, cx.consumers)?;
    if let (Some(c), None) = (&controllers, cx.kraft_quorum) {
        return Err(c.pos.issue(
            "`controllers` draws the KRaft controller count, but every configuration this swarm draws keeps its \
             metadata in ZooKeeper; expected metadata = \"kraft\" in [cluster] or \"kraft\" among [swarm] \
             `metadata`, or no `controllers`",
        ));
    }

    // Every drawable configuration must be one the scenario could have written.
    let brokers_min = brokers.as_ref().map_or(cx.brokers, |b| b.value.0);
    if let Some(rf) = &rf {
        if rf.value.0 > brokers_min {
            return Err(rf.pos.issue(format!(
                "the smallest replication factor {} is larger than the smallest broker count {brokers_min}; \
                 expected at most {brokers_min}",
                rf.value.0
            )));
        }
    } else if let (Some(b), Some(topic)) = (&brokers, cx.topics.iter().find(|t| t.replication_factor > brokers_min)) {
        return Err(b.pos.issue(format!(
            "topic `{}` has replication factor {}, more than the smallest broker count {brokers_min}; \
             expected brokers of at least {}",
            topic.name, topic.replication_factor, topic.replication_factor
        )));
    }
    for topic in cx.topics {
        let rf_min = rf.as_ref().map_or(topic.replication_factor, |r| r.value.0);
        let min_isr = topic.config.min_insync_replicas.unwrap_or(cx.min_insync_replicas);
        if min_isr > rf_min {
            let pos = rf.as_ref().map_or(&t.pos, |r| &r.pos);
            return Err(pos.issue(format!(
                "min.insync.replicas {min_isr} of topic `{}` is larger than the smallest replication factor \
                 {rf_min}, so no acks=all write could succeed; expected replication factors of at least {min_isr}",
                topic.name
            )));
        }
    }
    if let Some(m) = &max_in_flight {
        if let Some(p) = cx.producers.iter().find(|p| p.config.enable_idempotence) {
            if m.value.1 > 5 {
                return Err(m.pos.issue(format!(
                    "the producers of topic `{}` are idempotent, which allows at most 5 requests in flight; \
                     expected at most 5, found {}",
                    p.topic, m.value.1
                )));
            }
        }
    }
    if let Some(l) = &linger {
        for p in cx.producers {
            let floor = l.value.1.saturating_add(p.config.request_timeout_ms);
            if p.config.delivery_timeout_ms < floor {
                return Err(l.pos.issue(format!(
                    "linger.ms up to {} plus request.timeout.ms {} exceeds delivery.timeout.ms {} of the \
                     producers of topic `{}`; expected linger.ms of at most {}",
                    l.value.1,
                    p.config.request_timeout_ms,
                    p.config.delivery_timeout_ms,
                    p.topic,
                    p.config.delivery_timeout_ms.saturating_sub(p.config.request_timeout_ms)
                )));
            }
        }
    }
    match (&interval, cx.nemesis_window_ms) {
        (Some(i), None) => {
            return Err(i.pos.issue("`nemesis_interval` draws the interval of [nemesis], but there is no [nemesis] section; expected one, or no `nemesis_interval`"));
        }
        (Some(i), Some(window_ms)) => {
            let shortest = Sp { value: i.value.0, pos: i.pos.clone() };
            check_fault_count(shortest, window_ms, "lower bound of `nemesis_interval`")?;
        }
        (None, _) => {}
    }
    let kraft_controllers_min = cx.kraft_quorum.map(|(n, _)| controllers.as_ref().map_or(n, |c| c.value.0));
    check_fault_targets(
        t,
        cx,
        Minimums {
            brokers: brokers_min,
            partitions: partitions.as_ref().map(|p| p.value.0),
            producers: producers.as_ref().map(|p| p.value.0),
            controllers: kraft_controllers_min,
        },
    )?;

    Ok(SwarmSpec {
        brokers: brokers.map(|b| b.value),
        metadata: cx.swarm_metadata.as_ref().map(|m| m.value.clone()),
        controllers: controllers.map(|c| c.value),
        kraft_quorum: cx.kraft_quorum,
        replication_factor: rf.map(|r| r.value),
        partitions: partitions.map(|p| p.value),
        producers: producers.map(|p| p.value),
        rate_per_sec: rate,
        send,
        linger_ms: linger.map(|l| l.value),
        batch_size: batch.map(|b| b.value),
        max_in_flight: max_in_flight.map(|m| m.value),
        nemesis_interval_ms: interval.map(|i| i.value),
        min_insync_replicas,
        settings,
    })
}

/// The smallest counts swarm can draw, for [`check_fault_targets`].
struct Minimums {
    brokers: u32,
    /// `None`: not drawn.
    partitions: Option<u32>,
    /// Per `[[producers]]` entry; `None`: not drawn.
    producers: Option<u32>,
    /// The smallest controller count of a KRaft configuration; `None`: none is KRaft.
    controllers: Option<u32>,
}

/// Scheduled faults that name a broker, partition, producer, controller or the metastore
/// must name one that exists in every drawn configuration.
fn check_fault_targets(t: &Table, cx: &Context, min: Minimums) -> Res<()> {
    let producers_min = min
        .producers
        .map_or_else(|| cx.producers.iter().map(|p| p.count).sum::<u32>(), |m| m * cx.producers.len() as u32);
    let modes = cx.swarm_metadata.as_ref().map_or_else(|| vec![cx.metadata], |m| m.value.clone());
    let zookeeper_drawn = modes.contains(&MetadataMode::Zookeeper);
    let controllers_min = min.controllers.unwrap_or(cx.controllers);
    for fault in cx.faults {
        for target in fault.action.targets() {
            let mode_issue = match target {
                _ if zookeeper_drawn && target.names_controllers() => Some(
                    "the ZooKeeper configurations swarm draws run no KRaft controllers; expected [swarm] \
                     `metadata` without \"zookeeper\", or a broker target",
                ),
                Target::Node(n) if n == METASTORE && min.controllers.is_some() => Some(
                    "the KRaft configurations swarm draws run no metastore (ZooKeeper); expected [swarm] \
                     `metadata` without \"kraft\", or a broker target",
                ),
                _ => None,
            };
            if let Some(issue) = mode_issue {
                return Err(t.pos.issue(format!("the fault on line {} targets {target}: {issue}", fault.line)));
            }
            let fits = match target {
                Target::Node(n) => match n.split_once('-') {
                    Some(("broker", i)) => i.parse::<u32>().is_ok_and(|i| i <= min.brokers),
                    Some(("producer", i)) => i.parse::<u32>().is_ok_and(|i| i <= producers_min),
                    Some(("controller", i)) => i.parse::<u32>().is_ok_and(|i| i <= controllers_min),
                    _ => true,
                },
                Target::LeaderOf(tp) | Target::FollowersOf(tp) | Target::AFollowerOf(tp) | Target::ReplicasOf(tp) => {
                    min.partitions.is_none_or(|min| {
                        tp.rsplit_once('-').and_then(|(_, p)| p.parse::<u32>().ok()).is_some_and(|p| p < min)
                    })
                }
                _ => true,
            };
            if !fits {
                return Err(t.pos.issue(format!(
                    "the fault on line {} targets {target}, which does not exist in every configuration \
                     swarm can draw; expected bounds that always include it, or a role such as \
                     \"a random broker\"",
                    fault.line
                )));
            }
        }
    }
    Ok(())
}

/// `metadata`: the metadata modes each seed draws one from, as one name or a list (read
/// before `[cluster]`, since which of the file's settings take effect depends on it).
/// Each mode must exist in the scenario's release.
pub(super) fn metadata(t: &Table, profile: &Profile) -> Res<Option<Sp<Vec<MetadataMode>>>> {
    let Some(node) = t.get("metadata") else { return Ok(None) };
    let names = match node.as_str() {
        Some(_) => vec![node.string("\"zookeeper\" or \"kraft\"")?],
        None => node
            .array("a list of metadata modes, such as [\"zookeeper\", \"kraft\"]")?
            .iter()
            .map(|item| item.string("\"zookeeper\" or \"kraft\""))
            .collect::<Res<Vec<_>>>()?,
    };
    let mut modes = Vec::new();
    for sp in &names {
        let mode = choice(sp, &METADATA_MODES)?;
        check_release(sp, mode, profile)?;
        if !modes.contains(&mode) {
            modes.push(mode);
        }
    }
    if modes.is_empty() {
        return Err(node.pos.issue("the list is empty; expected [\"zookeeper\"], [\"kraft\"] or both"));
    }
    Ok(Some(Sp { value: modes, pos: node.pos.clone() }))
}

/// `controllers`: a range whose ends are both KRaft controller counts (1, 3 or 5).
fn controller_range(t: &Table) -> Res<Option<Sp<(u32, u32)>>> {
    let Some(node) = t.get("controllers") else { return Ok(None) };
    let one = |n: &Node| {
        n.u32()?.check(is_controller_count, |v| {
            format!("expected 1, 3 or 5 controllers (a KRaft quorum of odd size), found {v}")
        })
    };
    pair(node, one, |v| v.to_string()).map(Some)
}

/// A value or an inclusive `[min, max]` pair of values.
fn pair<'a, T: Copy + PartialOrd + std::fmt::Display>(
    node: &Node<'a>,
    one: impl Fn(&Node<'a>) -> Res<Sp<T>>,
    show: impl Fn(T) -> String,
) -> Res<Sp<(T, T)>> {
    let Ok(items) = node.array("") else {
        let v = one(node)?;
        return Ok(Sp { value: (v.value, v.value), pos: v.pos });
    };
    if items.len() != 2 {
        return Err(node.pos.issue(format!(
            "expected a range [min, max] of two values, or a single value, found {} values",
            items.len()
        )));
    }
    let (lo, hi) = (one(&items[0])?, one(&items[1])?);
    if hi.value < lo.value {
        return Err(node.pos.issue(format!(
            "the range [{}, {}] is empty; expected min at most max",
            show(lo.value),
            show(hi.value)
        )));
    }
    Ok(Sp { value: (lo.value, hi.value), pos: node.pos.clone() })
}

fn range_u32(t: &Table, key: &str, min: u32, max: u32) -> Res<Option<Sp<(u32, u32)>>> {
    let Some(node) = t.get(key) else { return Ok(None) };
    let one =
        |n: &Node| n.u32()?.check(|v| (min..=max).contains(&v), |v| format!("expected {min} to {max}, found {v}"));
    pair(node, one, |v| v.to_string()).map(Some)
}

fn range_u64(t: &Table, key: &str) -> Res<Option<Sp<(u64, u64)>>> {
    let Some(node) = t.get(key) else { return Ok(None) };
    pair(node, Node::u64, |v| v.to_string()).map(Some)
}

fn rate_range(t: &Table) -> Res<Option<(f64, f64)>> {
    let Some(node) = t.get("rate_per_sec") else { return Ok(None) };
    let one = |n: &Node| {
        n.f64()?.check(
            |r| r > 0.0 && r <= MAX_RATE_PER_SEC,
            |r| format!("expected a rate above 0 and at most {MAX_RATE_PER_SEC}, found {r}"),
        )
    };
    Ok(Some(pair(node, one, |v| v.to_string())?.value))
}

fn duration_range(t: &Table, key: &str) -> Res<Option<Sp<(u64, u64)>>> {
    let Some(node) = t.get(key) else { return Ok(None) };
    let one = |n: &Node| n.duration_ms()?.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string());
    pair(node, one, format_duration_ms).map(Some)
}

fn send_modes(t: &Table) -> Res<Option<Vec<SendMode>>> {
    let Some(node) = t.get("send") else { return Ok(None) };
    let options = [("sync", SendMode::Sync), ("async", SendMode::Async)];
    if let Some(s) = node.as_str() {
        let sp = Sp { value: s.to_string(), pos: node.pos.clone() };
        return Ok(Some(vec![choice(&sp, &options)?]));
    }
    let items = node.array("a list of send modes, such as [\"sync\", \"async\"]")?;
    let mut out = Vec::new();
    for item in &items {
        let mode = choice(&item.string("\"sync\" or \"async\"")?, &options)?;
        if !out.contains(&mode) {
            out.push(mode);
        }
    }
    if out.is_empty() {
        return Err(node.pos.issue("the list is empty; expected [\"sync\"], [\"async\"] or both"));
    }
    Ok(Some(out))
}
