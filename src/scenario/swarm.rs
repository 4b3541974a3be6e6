//! `[swarm]`: swarm testing, as in TigerBeetle's simulator. Each seed draws its own
//! cluster size, replication factor, partition count, client configuration and nemesis
//! (which kinds are enabled, how likely each is, how often faults come) within the bounds
//! given here, so that many seeds explore many configurations. The drawing itself is the
//! runner's (`runner::swarm`); this module reads and checks the bounds.
//!
//! ```toml
//! [swarm]
//! brokers = [3, 5]                  # inclusive ranges; a single value fixes it
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

use super::limits::{MAX_BROKERS, MAX_CLIENTS_PER_ENTRY, MAX_PARTITIONS, MAX_RATE_PER_SEC};
use super::model::{SwarmSpec, TopicSpec};
use super::model_clients::{ProducerSpec, SendMode};
use super::model_faults::{FaultAction, FaultSpec, Target};
use super::raw::{Node, Table};
use super::span::{Res, Sp};
use super::values::{choice, format_duration_ms};

/// What the bounds are checked against: the rest of the scenario, already validated.
pub(super) struct Context<'a> {
    /// The `[cluster]` broker count.
    pub brokers: u32,
    /// The cluster-wide `min.insync.replicas`.
    pub min_insync_replicas: u32,
    /// The topics.
    pub topics: &'a [TopicSpec],
    /// The producer entries.
    pub producers: &'a [ProducerSpec],
    /// The scheduled faults.
    pub faults: &'a [FaultSpec],
    /// Whether there is a `[nemesis]` section.
    pub has_nemesis: bool,
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
    if let (Some(i), false) = (&interval, cx.has_nemesis) {
        return Err(i.pos.issue("`nemesis_interval` draws the interval of [nemesis], but there is no [nemesis] section; expected one, or no `nemesis_interval`"));
    }
    check_fault_targets(
        t,
        cx,
        brokers_min,
        partitions.as_ref().map(|p| p.value.0),
        producers.as_ref().map(|p| p.value.0),
    )?;

    Ok(SwarmSpec {
        brokers: brokers.map(|b| b.value),
        replication_factor: rf.map(|r| r.value),
        partitions: partitions.map(|p| p.value),
        producers: producers.map(|p| p.value),
        rate_per_sec: rate,
        send,
        linger_ms: linger.map(|l| l.value),
        batch_size: batch.map(|b| b.value),
        max_in_flight: max_in_flight.map(|m| m.value),
        nemesis_interval_ms: interval.map(|i| i.value),
    })
}

/// Scheduled faults that name a broker, partition or producer must name one that exists
/// in every drawn configuration.
fn check_fault_targets(
    t: &Table,
    cx: &Context,
    brokers_min: u32,
    partitions_min: Option<u32>,
    producers_min: Option<u32>,
) -> Res<()> {
    let producers_min = producers_min
        .map_or_else(|| cx.producers.iter().map(|p| p.count).sum::<u32>(), |m| m * cx.producers.len() as u32);
    for fault in cx.faults {
        let targets: Vec<&Target> = match &fault.action {
            FaultAction::Crash { target } | FaultAction::Restart { target } | FaultAction::Stop { target } => {
                vec![target]
            }
            FaultAction::Partition { target, peers, .. } => vec![target, peers],
            _ => Vec::new(),
        };
        for target in targets {
            let fits = match target {
                Target::Node(n) => match n.split_once('-') {
                    Some(("broker", i)) => i.parse::<u32>().is_ok_and(|i| i <= brokers_min),
                    Some(("producer", i)) => i.parse::<u32>().is_ok_and(|i| i <= producers_min),
                    _ => true,
                },
                Target::LeaderOf(tp) | Target::FollowersOf(tp) | Target::AFollowerOf(tp) => {
                    partitions_min.is_none_or(|min| {
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
