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
use super::model_events::{TopicEvent, TopicEventSpec};
use super::raw::{Node, Table};
use super::span::Res;
use super::values::format_duration_ms;
use crate::admin::TopicEventKind;
use crate::profile::{KafkaVersion, Profile};
use crate::protocol::{GroupProtocol, Subscription, TopicPattern};
use std::collections::BTreeMap;

/// The keys an event of `kind` takes.
fn keys(kind: TopicEventKind) -> &'static [&'static str] {
    match kind {
        TopicEventKind::CreateTopic => &["at", "when", "kind", "topic", "partitions", "replication.factor"],
        TopicEventKind::AddPartitions => &["at", "when", "kind", "topic", "partitions"],
        TopicEventKind::Subscribe => &["at", "when", "kind", "target", "topics", "pattern", "subscription_pattern"],
        TopicEventKind::DeleteTopic => &["at", "when", "kind", "topic"],
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
