//! The validated layer for `[[events]]`: an administrator's topic changes and group
//! members' subscription changes. Each event is checked against the topics as the events
//! before it leave them, so that a file cannot grow a topic that does not exist yet,
//! create one twice or subscribe to one that is not there; the controller's own checks
//! (`raft::topic_admin`) still decide at run time.

use super::faults::{trigger, World};
use super::fields::kind_and_keys;
use super::group_protocol::{one_subscription_per_group, ONE_SUBSCRIPTION_EXPECTED};
use super::model::{instances, ClusterSpec};
use super::model_clients::{ConsumerMode, ConsumerSpec};
use super::model_events::{RewindTo, RewindWho, TopicEvent, TopicEventSpec};
use super::raw::{Node, Table};
use super::span::Res;
use super::values::format_duration_ms;
use crate::admin::TopicEventKind;
use crate::profile::{KafkaVersion, Profile};
use crate::protocol::{GroupProtocol, Subscription, TopicPartition, TopicPattern};
use std::collections::BTreeMap;

/// The keys an event of `kind` takes.
fn keys(kind: TopicEventKind) -> &'static [&'static str] {
    match kind {
        TopicEventKind::CreateTopic => &["at", "when", "kind", "topic", "partitions", "replication.factor"],
        TopicEventKind::AddPartitions => &["at", "when", "kind", "topic", "partitions"],
        TopicEventKind::Subscribe => &["at", "when", "kind", "target", "topics", "pattern", "subscription_pattern"],
        TopicEventKind::DeleteTopic => &["at", "when", "kind", "topic"],
        TopicEventKind::Rewind => &["at", "when", "kind", "target", "group", "to_time", "to_offset"],
    }
}

/// Reads `[[events]]`, sorted by time (stable).
pub(super) fn events(
    tables: &[Table],
    world: &World,
    cluster: &ClusterSpec,
    consumers: &[ConsumerSpec],
    profile: &Profile,
    text: &str,
) -> Res<Vec<TopicEventSpec>> {
    let mut read = Vec::new();
    for t in tables {
        read.push((event(t, world, cluster, consumers, profile, text)?, t));
    }
    read.sort_by_key(|(e, _)| e.at_ms);
    // The partition count of every topic as the events leave it, in time order.
    let mut counts: BTreeMap<&str, u32> = world.topics.iter().map(|t| (t.name.as_str(), t.partitions)).collect();
    for (spec, t) in &read {
        match &spec.action {
            TopicEvent::Subscribe { subscription: Subscription::Topics(topics), .. } => {
                if let Some(missing) = topics.iter().find(|topic| !counts.contains_key(topic.as_str())) {
                    let node = t.require("topics", "a list of topics")?;
                    return Err(node.pos.issue(format!(
                        "topic \"{missing}\" does not exist at {}; expected `[[topics]]` entries or topics an \
                         earlier event creates",
                        format_duration_ms(spec.at_ms)
                    )));
                }
            }
            TopicEvent::Subscribe {
                subscription: subscription @ (Subscription::Pattern(pattern) | Subscription::BrokerPattern(pattern)),
                ..
            } => {
                if pattern.matching(counts.keys().copied()).is_empty() {
                    let key = if matches!(subscription, Subscription::Pattern(_)) { "pattern" } else { SERVER_KEY };
                    let node = t.require(key, "a regular expression")?;
                    return Err(node.pos.issue(format!(
                        "pattern {pattern} matches no topic at {} (the topics then: {}); expected a pattern that \
                         matches at least one (kafkasim does not model a member subscribed to nothing)",
                        format_duration_ms(spec.at_ms),
                        counts.keys().copied().collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            TopicEvent::CreateTopic { topic, partitions, .. } => {
                let topic = topic.as_str();
                if counts.contains_key(topic) {
                    let node = t.require("topic", "a topic name")?;
                    return Err(node.pos.issue(format!(
                        "topic \"{topic}\" already exists at {} (a `[[topics]]` entry or an earlier event \
                         creates it), so the controller would refuse with TOPIC_ALREADY_EXISTS; expected a new name",
                        format_duration_ms(spec.at_ms)
                    )));
                }
                counts.insert(topic, *partitions);
            }
            TopicEvent::AddPartitions { topic, partitions } => {
                let Some(current) = counts.get_mut(topic.as_str()) else {
                    let node = t.require("topic", "a topic name")?;
                    return Err(node.pos.issue(format!(
                        "topic \"{topic}\" does not exist at {}; expected a `[[topics]]` entry or a topic an earlier \
                         event creates",
                        format_duration_ms(spec.at_ms)
                    )));
                };
                if *partitions <= *current {
                    let node = t.require("partitions", "the new partition count")?;
                    return Err(node.pos.issue(format!(
                        "topic \"{topic}\" has {current} partition(s) at {}, and Kafka can only add partitions \
                         (INVALID_PARTITIONS); expected more than {current}",
                        format_duration_ms(spec.at_ms)
                    )));
                }
                *current = *partitions;
            }
            TopicEvent::Rewind { to: RewindTo::Offsets(offsets), .. } => {
                if let Some(tp) = offsets.keys().find(|tp| counts.get(&*tp.topic).is_none_or(|&n| tp.partition >= n)) {
                    let node = t.require("to_offset", "offsets by partition")?;
                    return Err(node.pos.issue(format!(
                        "partition {tp} does not exist at {}; expected partitions of the topics then ({})",
                        format_duration_ms(spec.at_ms),
                        counts.iter().map(|(topic, n)| format!("{topic}: {n}")).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
            TopicEvent::Rewind { .. } => {}
            TopicEvent::DeleteTopic { topic } => {
                if counts.remove(topic.as_str()).is_none() {
                    let node = t.require("topic", "a topic name")?;
                    return Err(node.pos.issue(format!(
                        "topic \"{topic}\" does not exist at {}, so the controller would refuse with \
                         UNKNOWN_TOPIC_OR_PARTITION; expected a `[[topics]]` entry or a topic an earlier event creates",
                        format_duration_ms(spec.at_ms)
                    )));
                }
            }
        }
    }
    Ok(read.into_iter().map(|(spec, _)| spec).collect())
}

fn event(
    t: &Table,
    world: &World,
    cluster: &ClusterSpec,
    consumers: &[ConsumerSpec],
    profile: &Profile,
    text: &str,
) -> Res<TopicEventSpec> {
    let kinds: Vec<(&str, TopicEventKind)> = TopicEventKind::all().iter().map(|k| (k.name(), *k)).collect();
    let (_, kind) = kind_and_keys(t, &kinds, keys, "event")?;
    let at = t.require("at", "when the administrator sends the request, such as \"2.5s\"")?.duration_ms()?;
    if at.value >= world.duration_ms {
        let end = format_duration_ms(world.duration_ms);
        return Err(at.pos.issue(format!(
            "the event fires at {} but the safety phase (`duration`) ends at {end}; expected a time before {end}",
            format_duration_ms(at.value)
        )));
    }
    let action = match kind {
        TopicEventKind::Subscribe => subscribe(t, consumers, cluster, profile)?,
        TopicEventKind::Rewind => rewind(t, consumers, world, at.value)?,
        TopicEventKind::CreateTopic | TopicEventKind::AddPartitions | TopicEventKind::DeleteTopic => {
            topic_change(t, kind, cluster)?
        }
    };
    let trigger = match t.get("when") {
        Some(_) => Some(trigger(t, world)?),
        None => None,
    };
    Ok(TopicEventSpec { at_ms: at.value, trigger, action, line: t.pos.line(text) })
}

/// A `subscribe` event: `target` a subscribe-mode member (of a classic-protocol group, or
/// of a consumer-protocol group whose coordinator runs the range assignor), `topics` or
/// `pattern` its new subscription.
fn subscribe(t: &Table, consumers: &[ConsumerSpec], cluster: &ClusterSpec, profile: &Profile) -> Res<TopicEvent> {
    let target = t.require("target", "a group member such as \"consumer-2\"")?.string("a string")?;
    let named = instances("consumer", consumers.iter().map(|c| (c.count, c)));
    let Some(&(_, spec)) = named.iter().find(|(name, _)| *name == target.value) else {
        return Err(target.pos.issue(format!(
            "no consumer is named \"{}\"; expected one of consumer-1 to consumer-{}",
            target.value,
            named.len()
        )));
    };
    if spec.mode != ConsumerMode::Subscribe {
        return Err(target.pos.issue(format!(
            "{} assigns itself partitions (mode = \"assign\"), so it has no subscription to change; expected a \
             member with mode = \"subscribe\"",
            target.value
        )));
    }
    let kip848 = spec.config.group_protocol == GroupProtocol::Consumer;
    if kip848 && one_subscription_per_group(spec.group.as_deref(), consumers, cluster, profile) {
        return Err(target.pos.issue(format!(
            "{} is a member of a group.protocol = \"consumer\" group whose coordinator runs Kafka {}'s uniform \
             assignor, and a changed subscription would leave its members on different topics, which that \
             assignor's builder (not modelled) handles; a classic-protocol member can change it, or {ONE_SUBSCRIPTION_EXPECTED}",
            target.value, profile.version
        )));
    }
    let given: Vec<(&str, &Node)> =
        ["topics", "pattern", SERVER_KEY].into_iter().filter_map(|key| Some((key, t.get(key)?))).collect();
    if let [_, (second, node), ..] = given.as_slice() {
        return Err(node.pos.issue(format!(
            "both `{}` and `{second}`; expected one: a member subscribes to a list of topics, to a pattern it \
             matches itself (`pattern`) or to one its group coordinator resolves (`{SERVER_KEY}`)",
            given[0].0
        )));
    }
    if let Some(node) = t.get("pattern") {
        let pattern = topic_pattern(node)?;
        return Ok(TopicEvent::Subscribe { consumer: target.value, subscription: Subscription::Pattern(pattern) });
    }
    if let Some(node) = t.get(SERVER_KEY) {
        if !kip848 || profile.version < SUBSCRIPTION_PATTERN_RELEASE {
            return Err(node.pos.issue(format!(
                "{} cannot subscribe with a SubscriptionPattern: the group coordinator resolves one only for a \
                 group.protocol = \"consumer\" member, from Kafka {SUBSCRIPTION_PATTERN_RELEASE}; expected such a \
                 member, or `pattern` (the consumer matches it itself)",
                target.value
            )));
        }
        let pattern = topic_pattern(node)?;
        if let Some(internal) = crate::protocol::INTERNAL_TOPIC_NAMES.iter().find(|name| pattern.matches_any_name(name))
        {
            return Err(node.pos.issue(format!(
                "{pattern} matches the internal topic {internal}, which the coordinator would resolve it to (Kafka's \
                 refreshRegularExpressions leaves internal topics in) and kafkasim does not model consuming; expected \
                 a pattern that matches no internal topic"
            )));
        }
        return Ok(TopicEvent::Subscribe {
            consumer: target.value,
            subscription: Subscription::BrokerPattern(pattern),
        });
    }
    let node = t.require(
        "topics",
        "the new subscription, such as [\"orders\", \"payments\"], or a `pattern` or `subscription_pattern`",
    )?;
    let items = node.array("a list of topic names")?;
    let mut topics = Vec::new();
    for item in items {
        topics.push(item.string("a topic name")?.value);
    }
    if topics.is_empty() {
        return Err(node.pos.issue(
            "an empty subscription; expected at least one topic (a member that consumes \
             nothing would unsubscribe, which kafkasim does not model)"
                .to_string(),
        ));
    }
    Ok(TopicEvent::Subscribe { consumer: target.value, subscription: Subscription::Topics(topics) })
}

/// A `rewind` event: `target` a consumer (its application rewinds itself) or `group` a
/// consumer group (an administrator resets it), and `to_time` (a time before `at`) or
/// `to_offset` (an offset for every partition, or a table of offsets by partition of the
/// consumers' topics).
fn rewind(t: &Table, consumers: &[ConsumerSpec], world: &World, at_ms: u64) -> Res<TopicEvent> {
    let named = instances("consumer", consumers.iter().map(|c| (c.count, c)));
    let (who, topics): (RewindWho, Vec<&str>) = match (t.get("target"), t.get("group")) {
        (Some(_), Some(node)) => {
            return Err(node.pos.issue(
                "both `target` and `group`; expected one: a consumer rewinds itself (`target`), or an administrator \
                 resets an inactive group (`group`)"
                    .to_string(),
            ))
        }
        (None, None) => return Err(t.pos.issue(
            "missing `target` or `group`; expected a consumer that rewinds itself, such as target = \"consumer-1\", \
                 or a group an administrator resets, such as group = \"billing\""
                .to_string(),
        )),
        (Some(node), None) => {
            let target = node.string("a consumer such as \"consumer-1\"")?;
            let Some(&(_, spec)) = named.iter().find(|(name, _)| *name == target.value) else {
                return Err(target.pos.issue(format!(
                    "no consumer is named \"{}\"; expected one of consumer-1 to consumer-{}",
                    target.value,
                    named.len()
                )));
            };
            (RewindWho::Consumer(target.value), vec![spec.topic.as_str()])
        }
        (None, Some(node)) => {
            let group = node.string("a consumer group such as \"billing\"")?;
            let members: Vec<&str> = consumers
                .iter()
                .filter(|c| c.group.as_deref() == Some(group.value.as_str()))
                .map(|c| c.topic.as_str())
                .collect();
            if members.is_empty() {
                let groups: std::collections::BTreeSet<&str> =
                    consumers.iter().filter_map(|c| c.group.as_deref()).collect();
                let groups: Vec<&str> = groups.into_iter().collect();
                return Err(group.pos.issue(format!(
                    "no consumer is in group \"{}\"; expected a group of the `[[consumers]]` ({})",
                    group.value,
                    if groups.is_empty() { "none has a group".to_string() } else { groups.join(", ") }
                )));
            }
            let mut topics: Vec<String> = members.iter().map(|t| t.to_string()).collect();
            topics.sort();
            topics.dedup();
            (RewindWho::Group { group: group.value, topics }, members)
        }
    };
    let to = match (t.get("to_time"), t.get("to_offset")) {
        (Some(_), Some(node)) => {
            return Err(node.pos.issue(
                "both `to_time` and `to_offset`; expected one: a time to look up (offsetsForTimes) or offsets to \
                 seek to"
                    .to_string(),
            ))
        }
        (None, None) => {
            return Err(t.pos.issue(
                "missing `to_time` or `to_offset`; expected a time such as to_time = \"2s\" (the earliest record \
                 at or after it), or an offset such as to_offset = 0"
                    .to_string(),
            ))
        }
        (Some(node), None) => {
            let time = node.duration_ms()?;
            if time.value >= at_ms {
                return Err(time.pos.issue(format!(
                    "the rewind goes to {} but happens at {}; expected a time before `at` (a rewind by time goes back \
                     to records already written)",
                    format_duration_ms(time.value),
                    format_duration_ms(at_ms)
                )));
            }
            RewindTo::Time { since_start_ms: time.value }
        }
        (None, Some(node)) if node.is_table() => RewindTo::Offsets(offsets_by_partition(node, &topics, world)?),
        (None, Some(node)) => RewindTo::Offset(node.u64()?.value),
    };
    Ok(TopicEvent::Rewind { who, to })
}

/// `to_offset = { "orders-0" = 5, ... }`: offsets of partitions of `topics` (as the
/// `[[topics]]` entries create them).
fn offsets_by_partition(node: &Node, topics: &[&str], world: &World) -> Res<BTreeMap<TopicPartition, u64>> {
    let names: Vec<String> = world
        .topics
        .iter()
        .filter(|t| topics.contains(&t.name.as_str()))
        .flat_map(|t| (0..t.partitions).map(|p| TopicPartition::new(t.name.as_str(), p).to_string()))
        .collect();
    let allowed: Vec<&str> = names.iter().map(String::as_str).collect();
    let table = node.table(&allowed)?;
    let mut offsets = BTreeMap::new();
    for (key, _) in table.keys() {
        let tp = TopicPartition::parse(key).expect("an allowed key names a partition");
        offsets.insert(tp, table.require(key, "an offset")?.u64()?.value);
    }
    if offsets.is_empty() {
        return Err(node.pos.issue(format!(
            "no partition; expected offsets by partition, such as {{ \"{}\" = 0 }}",
            allowed.first().unwrap_or(&"orders-0")
        )));
    }
    Ok(offsets)
}

/// The key of a pattern the group coordinator resolves (`subscribe(SubscriptionPattern)`).
const SERVER_KEY: &str = "subscription_pattern";

/// The release that brought `subscribe(SubscriptionPattern)` (KIP-848's regular
/// expressions, resolved by the coordinator).
const SUBSCRIPTION_PATTERN_RELEASE: KafkaVersion = KafkaVersion::new(4, 0, 0);

/// A `pattern` or `subscription_pattern` value.
fn topic_pattern(node: &Node) -> Res<TopicPattern> {
    let source = node.string("a regular expression, such as \"orders-.*\"")?;
    TopicPattern::new(&source.value).map_err(|e| source.pos.issue(format!("not a regular expression: {e}")))
}

/// A `create-topic`, `add-partitions` or `delete-topic` event.
fn topic_change(t: &Table, kind: TopicEventKind, cluster: &ClusterSpec) -> Res<TopicEvent> {
    let topic = t.require("topic", "the topic's name, such as \"orders\"")?.string("a string")?.value;
    if kind == TopicEventKind::DeleteTopic {
        return Ok(TopicEvent::DeleteTopic { topic });
    }
    let partitions = t
        .require("partitions", "a partition count, such as 6")?
        .u32()?
        .check(|p| p >= 1, |_| "expected at least 1 partition".to_string())?
        .value;
    if kind == TopicEventKind::CreateTopic {
        let brokers = cluster.brokers;
        let replication_factor = t
            .require("replication.factor", "replicas per partition, such as 3")?
            .u32()?
            .check(
                |r| (1..=brokers).contains(&r),
                |r| format!("expected 1 to {brokers} (the broker count), found {r}"),
            )?
            .value;
        return Ok(TopicEvent::CreateTopic { topic, partitions, replication_factor });
    }
    Ok(TopicEvent::AddPartitions { topic, partitions })
}
