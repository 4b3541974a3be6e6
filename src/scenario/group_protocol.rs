//! The KIP-848 consumer group protocol's settings: the brokers' `group.coordinator.*` and
//! `group.consumer.*` keys (`[cluster.config]`), the consumers' `group.protocol` and
//! `group.remote.assignor` (`[consumers.config]`), and the rules that tie them together
//! (Kafka's `GroupCoordinatorConfig` and `ConsumerConfig` checks, and what kafkasim's
//! model needs).

use super::fields::check_introduced;
use super::model::{BrokerSettings, ClusterSpec, ConsumerGroupBrokerSettings};
use super::model_clients::ConsumerSpec;
use super::raw::{Node, Table};
use super::span::{Issue, Pos, Res, Sp};

use super::values::bad_choice;
use crate::profile::{KafkaVersion, Profile};
use crate::protocol::{GroupProtocol, MetadataMode, ServerAssignor};

/// The first release with `group.protocol` and the new coordinator's settings (KIP-848
/// early access).
const FIRST_RELEASE: KafkaVersion = KafkaVersion::new(3, 7, 0);
/// The release that made the consumer protocol generally available, served by default.
const GA_RELEASE: KafkaVersion = KafkaVersion::new(4, 0, 0);

/// The coordinator's consumer-group settings in the scenario's release, before the file
/// changes them: `group.coordinator.rebalance.protocols` lists `consumer` from Kafka 4.0
/// (`GroupCoordinatorConfig`; 3.7 to 3.9 default to `classic` alone).
pub(super) fn broker_defaults(profile: &Profile) -> ConsumerGroupBrokerSettings {
    let mut settings = ConsumerGroupBrokerSettings::default();
    if profile.version >= GA_RELEASE {
        settings.rebalance_protocols = vec![GroupProtocol::Classic, GroupProtocol::Consumer];
    }
    settings
}

/// The `group.coordinator.*` and `group.consumer.*` keys of `[cluster.config]`.
/// The group protocols by their names (`group.protocol`).
pub(super) const GROUP_PROTOCOLS: [(&str, GroupProtocol); 2] =
    [("classic", GroupProtocol::Classic), ("consumer", GroupProtocol::Consumer)];

pub(super) fn broker_settings(t: &Table, profile: &Profile, d: &BrokerSettings) -> Res<ConsumerGroupBrokerSettings> {
    let d = &d.group_consumer;
    let introduced = |node: &Node, key: &str| check_introduced(&node.pos, key, FIRST_RELEASE, "KIP-848", profile);
    let mut out = d.clone();
    if let Some(node) = t.get("group.coordinator.rebalance.protocols") {
        introduced(node, "group.coordinator.rebalance.protocols")?;
        out.rebalance_protocols = list(node, &GROUP_PROTOCOLS)?;
        if !out.rebalance_protocols.contains(&GroupProtocol::Classic) {
            return Err(node.pos.issue(
                "group.coordinator.rebalance.protocols must include \"classic\" (Kafka requires it); expected \
                 [\"classic\"] or [\"classic\", \"consumer\"]",
            ));
        }
    }
    if let Some(node) = t.get("group.consumer.assignors") {
        introduced(node, "group.consumer.assignors")?;
        out.assignors = list(node, &[("uniform", ServerAssignor::Uniform), ("range", ServerAssignor::Range)])?;
    }
    out.session_timeout_ms = bounded(t, "session.timeout.ms", (45_000, 60_000), d.session_timeout_ms, profile)?;
    out.heartbeat_interval_ms = bounded(t, "heartbeat.interval.ms", (5_000, 15_000), d.heartbeat_interval_ms, profile)?;
    if out.heartbeat_interval_ms >= out.session_timeout_ms {
        let pos = t.get("group.consumer.heartbeat.interval.ms").or(t.get("group.consumer.session.timeout.ms"));
        let pos = pos.map_or_else(|| t.pos.clone(), |n| n.pos.clone());
        return Err(pos.issue(format!(
            "group.consumer.heartbeat.interval.ms ({}) must be below group.consumer.session.timeout.ms ({}), as \
             Kafka requires",
            out.heartbeat_interval_ms, out.session_timeout_ms
        )));
    }
    Ok(out)
}

/// `group.consumer.NAME` within `group.consumer.min.NAME` and `group.consumer.max.NAME`
/// (Kafka's defaults for the limits are `limits`).
fn bounded(t: &Table, name: &str, limits: (u64, u64), default: u64, profile: &Profile) -> Res<u64> {
    let keys =
        [format!("group.consumer.{name}"), format!("group.consumer.min.{name}"), format!("group.consumer.max.{name}")];
    let mut values = [default, limits.0, limits.1];
    let mut positions: [Option<Pos>; 3] = [None, None, None];
    for (i, key) in keys.iter().enumerate() {
        if let Some(v) = t.opt_u64(key)? {
            check_introduced(&v.pos, key, FIRST_RELEASE, "KIP-848", profile)?;
            let v = v.check(|v| v >= 1, |v| format!("expected at least 1, found {v}"))?;
            values[i] = v.value;
            positions[i] = Some(v.pos);
        }
    }
    let [value, min, max] = values;
    if min > max {
        let pos = positions[1].clone().or(positions[2].clone()).expect("a limit was set");
        return Err(pos.issue(format!("{} ({min}) is above {} ({max}); expected min <= max", keys[1], keys[2])));
    }
    if !(min..=max).contains(&value) {
        let message = format!(
            "{} is {value}, outside [{min}, {max}] ({} and {}); expected a value within, or lower the limit too, \
             as Kafka refuses the broker configuration",
            keys[0], keys[1], keys[2]
        );
        let pos = positions.iter().flatten().next().cloned().unwrap_or_else(|| t.pos.clone());
        return Err(pos.issue(message));
    }
    Ok(value)
}

/// A list setting, as a TOML array of names or Kafka's comma-separated string.
fn list<T: Copy + PartialEq>(node: &Node, names: &[(&str, T)]) -> Res<Vec<T>> {
    let items: Vec<Sp<String>> = match node.string("a list") {
        Ok(text) => {
            text.value.split(',').map(|item| Sp { value: item.trim().to_string(), pos: text.pos.clone() }).collect()
        }
        Err(_) => node
            .array("a list of names, or a comma-separated string")?
            .iter()
            .map(|n| n.string("a name"))
            .collect::<Res<_>>()?,
    };
    let mut out = Vec::new();
    for item in &items {
        let value = names
            .iter()
            .find(|(n, _)| *n == item.value)
            .map(|(_, v)| *v)
            .ok_or_else(|| bad_choice(item, &names.iter().map(|(n, _)| *n).collect::<Vec<_>>()))?;
        if out.contains(&value) {
            return Err(item.pos.issue(format!("{} is listed twice", item.value)));
        }
        out.push(value);
    }
    if out.is_empty() {
        return Err(node.pos.issue("expected at least one name"));
    }
    Ok(out)
}

/// `group.protocol` and `group.remote.assignor` of `[consumers.config]`, with Kafka's
/// rule that neither protocol takes the other's settings (`ConsumerConfig.
/// checkUnsupportedConfigs`: `partition.assignment.strategy`, `heartbeat.interval.ms` and
/// `session.timeout.ms` cannot be set with `group.protocol=consumer`, nor
/// `group.remote.assignor` with `classic`).
pub(super) fn consumer_settings(t: &Table, profile: &Profile) -> Res<(GroupProtocol, Option<ServerAssignor>)> {
    let protocol = match t.opt_string("group.protocol", "a string")? {
        None => GroupProtocol::Classic,
        Some(sp) => {
            check_introduced(&sp.pos, "group.protocol", FIRST_RELEASE, "KIP-848", profile)?;
            super::values::choice(&sp, &GROUP_PROTOCOLS)?
        }
    };
    let assignor = t
        .opt_string("group.remote.assignor", "a string")?
        .map(|sp| {
            ServerAssignor::parse(&sp.value)
                .map(|a| (a, sp.clone()))
                .ok_or_else(|| bad_choice(&sp, &["uniform", "range"]))
        })
        .transpose()?;
    let unsupported: &[&str] = match protocol {
        GroupProtocol::Consumer => &["partition.assignment.strategy", "heartbeat.interval.ms", "session.timeout.ms"],
        GroupProtocol::Classic => &["group.remote.assignor"],
    };
    for key in unsupported {
        if let Some(node) = t.get(key) {
            return Err(node.pos.issue(format!(
                "{key} cannot be set when group.protocol={protocol} (Kafka's consumer refuses it){}",
                match protocol {
                    GroupProtocol::Consumer =>
                        "; the coordinator sets session and heartbeat timing \
                        (group.consumer.session.timeout.ms, group.consumer.heartbeat.interval.ms in [cluster.config]) \
                        and assigns partitions (group.remote.assignor)",
                    GroupProtocol::Classic => "; expected group.protocol = \"consumer\", or no group.remote.assignor",
                }
            )));
        }
    }
    Ok((protocol, assignor.map(|(a, _)| a)))
}

/// The server-side assignor the coordinator of consumer-protocol group `group` runs, as
/// its `preferred_assignor` picks it: the one of `group.consumer.assignors` most members
/// name in `group.remote.assignor`, the first listed on a tie.
pub(super) fn group_assignor(group: Option<&str>, consumers: &[ConsumerSpec], cluster: &ClusterSpec) -> ServerAssignor {
    let named = |a: ServerAssignor| {
        consumers
            .iter()
            .filter(|c| c.group.as_deref() == group && c.config.group_remote_assignor == Some(a))
            .map(|c| c.count)
            .sum::<u32>()
    };
    let assignors = &cluster.config.group_consumer.assignors;
    assignors.iter().copied().rev().max_by_key(|a| named(*a)).unwrap_or(ServerAssignor::Uniform)
}

/// Whether the members of a consumer-protocol `group` must all read the same topics in
/// kafkasim: when its coordinator runs the uniform assignor of a Kafka 3.x release, whose
/// builder for members on different topics (before KAFKA-17710 rewrote it for 4.0) is
/// not modelled. The range assignor, and 4.0's uniform assignor, take any subscriptions.
pub(super) fn one_subscription_per_group(
    group: Option<&str>,
    consumers: &[ConsumerSpec],
    cluster: &ClusterSpec,
    profile: &Profile,
) -> bool {
    profile.version < GA_RELEASE && group_assignor(group, consumers, cluster) == ServerAssignor::Uniform
}

/// What to write instead when [`one_subscription_per_group`] holds.
pub(super) const ONE_SUBSCRIPTION_EXPECTED: &str = "expected one topic per group, kafka_version = \"4.0\" or later \
     (whose uniform assignor kafkasim models for members on different topics), or the range assignor \
     (\"group.remote.assignor\" = \"range\")";

/// The rules between the consumers and the cluster: a consumer-protocol member needs a
/// KRaft cluster (the new group coordinator runs only there) whose coordinators serve the
/// protocol, and one group speaks one protocol (Kafka 4.0 can mix them in one group,
/// kafkasim does not model it) and reads one topic where [`one_subscription_per_group`].
pub(super) fn check_groups(
    tables: &[Table],
    consumers: &[ConsumerSpec],
    cluster: &ClusterSpec,
    profile: &Profile,
) -> Res<()> {
    let issue = |i: usize, message: String| -> Issue {
        let t = &tables[i];
        let pos = t
            .opt_table("config", super::keys::CONSUMER_CONFIG)
            .ok()
            .flatten()
            .and_then(|c| c.get("group.protocol").map(|n| n.pos.clone()));
        pos.unwrap_or_else(|| t.pos.clone()).issue(message)
    };
    for (i, c) in consumers.iter().enumerate() {
        if c.config.group_protocol != GroupProtocol::Consumer {
            continue;
        }
        if cluster.metadata != MetadataMode::Kraft {
            return Err(issue(i, "group.protocol = \"consumer\" needs the new group coordinator, which runs only in a KRaft cluster; expected [cluster] metadata = \"kraft\"".into()));
        }
        if !cluster.config.group_consumer.rebalance_protocols.contains(&GroupProtocol::Consumer) {
            return Err(issue(i, "group.protocol = \"consumer\" but the brokers do not serve it (the consumer would fail with UNSUPPORTED_VERSION); expected \"group.coordinator.rebalance.protocols\" = [\"classic\", \"consumer\"] in [cluster.config] (the default from Kafka 4.0)".into()));
        }
        let group = c.group.as_deref();
        for (j, other) in consumers.iter().enumerate().filter(|(j, o)| *j != i && o.group.as_deref() == group) {
            if other.config.group_protocol != GroupProtocol::Consumer {
                return Err(issue(j.max(i), format!("group {} mixes group.protocol \"consumer\" and \"classic\" members, which kafkasim does not model; expected one protocol per group", group.unwrap_or_default())));
            }
            if other.topic != c.topic && one_subscription_per_group(group, consumers, cluster, profile) {
                return Err(issue(j.max(i), format!("the consumer-protocol members of group {} read different topics ({} and {}) under Kafka {}'s uniform assignor, whose builder for members on different topics is not modelled; {ONE_SUBSCRIPTION_EXPECTED}", group.unwrap_or_default(), c.topic, other.topic, profile.version)));
            }
        }
    }
    Ok(())
}
