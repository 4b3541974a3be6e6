//! The `[swarm]` keys that draw Kafka settings from lists (issue 20, "a swarm that
//! explores everything"): the producers' `acks`, `enable.idempotence` and `retries`,
//! the brokers' `unclean.leader.election.enable`, truncation mode and flush policy, the
//! group consumers' commit policy, assignment strategy and group protocol, and the
//! release (`kafka_version`); plus `min.insync.replicas` as a range.
//!
//! ```toml
//! [swarm]
//! kafka_version = ["3.5", "3.9"]           # the file must load under each
//! acks = ["0", "1", "all"]
//! "enable.idempotence" = [true, false]
//! retries = [0, 3, 2147483647]
//! "unclean.leader.election.enable" = [false, true]
//! truncation = ["leader-epoch", "leader-epoch-kip-101", "legacy"]
//! "log.flush.interval.messages" = [1, 9223372036854775807]
//! commit = ["auto", "after-processing", "before-processing"]   # group consumers
//! "partition.assignment.strategy" = ["range", "cooperative-sticky"]
//! "group.protocol" = ["classic", "consumer"]
//! "min.insync.replicas" = [1, 3]           # lowered to the drawn replication factor
//! ```
//!
//! Each value is checked here for its form (an unknown acks, mode or strategy is an
//! error at its position). Whether a value suits the rest of the drawn configuration is
//! Kafka's rule, applied when the seed draws it: the runner applies the drawn values as
//! `--set` would, and a value the scenario reader refuses in that combination (an
//! explicit `enable.idempotence = true` with `acks = "1"`, which Kafka's producer
//! refuses too) is skipped for that seed, and shown as skipped. `kafka_version` is
//! stricter: the file as written must load under every listed release (checked by
//! `validate::build`), so a seed's draws are never refused for the release alone.

use super::fields::TRUNCATION_MODES;
use super::group_protocol::GROUP_PROTOCOLS;
use super::model::{SettingChoices, SwarmKey};
use super::model_clients::{ConsumerMode, ConsumerSpec};
use super::raw::{Node, Table};
use super::span::{Pos, Res, Sp};
use super::values::bad_choice;
use super::workload::{COMMIT_POLICIES, STRATEGIES};
use crate::profile::{KafkaVersion, Profile};

/// The `acks` spellings a list may hold (as `--set` writes them).
const ACKS: [&str; 4] = ["0", "1", "all", "-1"];

/// Each listed `kafka_version` as written, with its position.
pub(super) type ReleasePositions = Vec<(String, Pos)>;

/// Reads the list-drawn settings of `[swarm]`, in [`SwarmKey::ALL`] order, with the
/// position of each listed `kafka_version` (for `validate::build`'s check).
pub(super) fn settings(t: &Table, consumers: &[ConsumerSpec]) -> Res<(Vec<SettingChoices>, ReleasePositions)> {
    let mut out = Vec::new();
    let mut versions = Vec::new();
    for key in SwarmKey::ALL {
        let Some(node) = t.get(key.name()) else { continue };
        let items = match node.array("") {
            Ok(items) => items,
            Err(_) => vec![node.clone()],
        };
        if items.is_empty() {
            return Err(node.pos.issue(format!("the list is empty; expected at least one value of {}", key.name())));
        }
        needs_consumers(key, node, consumers)?;
        let mut values: Vec<String> = Vec::new();
        for item in &items {
            let text = value(key, item)?;
            if key == SwarmKey::KafkaVersion {
                versions.push((text.clone(), item.pos.clone()));
            }
            if !values.contains(&text) {
                values.push(text);
            }
        }
        out.push(SettingChoices { key, values });
    }
    Ok((out, versions))
}

/// `"min.insync.replicas"`: a value or an inclusive range, at least 1. The runner lowers
/// a draw above the seed's replication factor to it: Kafka would take the setting, but
/// then refuse every acks=all write with NOT_ENOUGH_REPLICAS, and such a seed could
/// never make progress, which every draw is judged on.
pub(super) fn min_insync(t: &Table) -> Res<Option<(u32, u32)>> {
    let Some(node) = t.get("min.insync.replicas") else { return Ok(None) };
    let one = |n: &Node| n.u32()?.check(|v| v >= 1, |v| format!("expected at least 1, found {v}"));
    let (lo, hi) = match node.array("") {
        Ok(items) if items.len() == 2 => (one(&items[0])?.value, one(&items[1])?.value),
        Ok(items) => {
            return Err(node.pos.issue(format!(
                "expected a range [min, max] of two values, or a single value, found {} values",
                items.len()
            )))
        }
        Err(_) => {
            let v = one(node)?.value;
            (v, v)
        }
    };
    if hi < lo {
        return Err(node.pos.issue(format!("the range [{lo}, {hi}] is empty; expected min at most max")));
    }
    Ok(Some((lo, hi)))
}

/// The consumer keys need consumers that use them: a group to commit to, a subscription
/// for the group's assignment and protocol.
fn needs_consumers(key: SwarmKey, node: &Node, consumers: &[ConsumerSpec]) -> Res<()> {
    let needed = match key {
        SwarmKey::Commit => consumers.iter().any(|c| c.group.is_some()),
        SwarmKey::PartitionAssignmentStrategy | SwarmKey::GroupProtocol => {
            consumers.iter().any(|c| c.mode == ConsumerMode::Subscribe)
        }
        _ => return Ok(()),
    };
    if needed {
        return Ok(());
    }
    Err(node.pos.issue(format!(
        "`{}` draws a setting of group consumers, but this scenario has none; expected a [[consumers]] entry with \
         mode = \"subscribe\" and a group, or no `{}`",
        key.name(),
        key.name()
    )))
}

/// One listed value, checked for its form, as `--set` writes it.
fn value(key: SwarmKey, item: &Node) -> Res<String> {
    let one_of = |names: &[&str]| -> Res<String> {
        let sp = match item.as_int() {
            Some(i) => Sp { value: i.to_string(), pos: item.pos.clone() },
            None => item.string(&format!("one of {}", names.join(", ")))?,
        };
        if names.contains(&sp.value.as_str()) {
            Ok(sp.value)
        } else {
            Err(bad_choice(&sp, names))
        }
    };
    match key {
        SwarmKey::KafkaVersion => {
            let sp = item.string("a Kafka release such as \"3.9\"")?;
            let version: KafkaVersion = sp.value.parse().map_err(|e: String| sp.pos.issue(e))?;
            Profile::of(version).map_err(|e| sp.pos.issue(e))?;
            Ok(sp.value)
        }
        SwarmKey::Acks => one_of(&ACKS),
        SwarmKey::EnableIdempotence | SwarmKey::UncleanLeaderElectionEnable => Ok(item.bool()?.value.to_string()),
        SwarmKey::Retries => Ok(item.u32()?.value.to_string()),
        SwarmKey::LogFlushIntervalMessages => {
            Ok(item.u64()?.check(|v| v >= 1, |v| format!("expected at least 1, found {v}"))?.value.to_string())
        }
        // The names the readers of these settings take, from their own tables.
        SwarmKey::Truncation => one_of(&names(&TRUNCATION_MODES)),
        SwarmKey::Commit => one_of(&names(&COMMIT_POLICIES)),
        SwarmKey::PartitionAssignmentStrategy => one_of(&names(&STRATEGIES)),
        SwarmKey::GroupProtocol => one_of(&names(&GROUP_PROTOCOLS)),
    }
}

/// The names of a reader's table of choices.
fn names<T>(table: &[(&'static str, T)]) -> Vec<&'static str> {
    table.iter().map(|(name, _)| *name).collect()
}
