//! What several readers share, one layer above `raw`: the field rules they all apply
//! (lower bounds, loss rates) and the notes they leave when they adjust a setting the
//! way Kafka does.

use super::error::{closest, excerpt, one_of, one_of_strings};
use super::raw::{Node, Table};
use super::span::{Pos, Res, Sp};
use super::values::choice;
use crate::check::AnomalyKind;
use crate::profile::{Profile, Switch};
use crate::protocol::{FollowerRestart, TruncationMode, UnknownProducerSequence};

/// Requires `value >= min`.
/// Reads a table's `kind` (one of `kinds`) and refuses every key that kind does not take
/// (`keys`): the shape of `[[faults]]` and `[[events]]` entries. `noun` names the entry
/// in messages ("fault", "event").
pub(super) fn kind_and_keys<K: Copy + PartialEq>(
    t: &Table,
    kinds: &[(&'static str, K)],
    keys: impl Fn(K) -> &'static [&'static str],
    noun: &str,
) -> Res<(Sp<String>, K)> {
    let kind_names: Vec<&str> = kinds.iter().map(|(n, _)| *n).collect();
    let kind_sp = t.require("kind", &format!("the {noun} kind, one of {}", one_of(&kind_names)))?.string("a string")?;
    let kind = choice(&kind_sp, kinds)?;
    let allowed = keys(kind);
    if let Some((key, pos)) = t.keys().into_iter().find(|(k, _)| !allowed.contains(k)) {
        return Err(pos.issue(format!(
            "`{key}` does not apply to a \"{}\" {noun}; expected only {}",
            kind_sp.value,
            one_of(allowed)
        )));
    }
    Ok((kind_sp, kind))
}

pub(super) fn at_least<T: Copy + PartialOrd + std::fmt::Display>(sp: Sp<T>, min: T) -> Res<Sp<T>> {
    sp.check(|v| v >= min, |v| format!("expected at least {min}, found {v}"))
}

/// An optional integer setting of at least `min`.
pub(super) fn opt_u64_min(t: &Table, key: &str, min: u64) -> Res<Option<Sp<u64>>> {
    t.opt_u64(key)?.map(|v| at_least(v, min)).transpose()
}

/// A probability in [0, 1).
pub(super) fn loss_rate(node: &Node) -> Res<f64> {
    let r = node.f64()?;
    let r =
        r.check(|r| (0.0..1.0).contains(&r), |r| format!("expected a rate from 0 up to (not including) 1, found {r}"))?;
    Ok(r.value)
}

/// Notes on adjustments made the way Kafka makes them, with their line numbers.
pub(super) struct Notes<'t> {
    text: &'t str,
    /// The notes so far.
    pub list: Vec<String>,
}

impl<'t> Notes<'t> {
    /// No notes yet, about `text`.
    pub fn new(text: &'t str) -> Notes<'t> {
        Notes { text, list: Vec::new() }
    }

    /// Records a note about the value at `pos`.
    pub fn add(&mut self, pos: &Pos, message: String) {
        let line = pos.line(self.text);
        self.list.push(format!("line {line}, `{}`: {message}", pos.field));
    }
}

/// A profile default, read as if the file had written it (the profile's values are
/// among the scenario's spellings: a test of `profile` keeps them so).
pub(super) fn profile_choice<T: Copy>(profile: &Profile, switch: Switch, options: &[(&str, T)]) -> T {
    let text = profile.default_of(switch);
    options.iter().find(|(name, _)| *name == text).map(|(_, v)| *v).expect("profile values are valid choices")
}

/// An integer profile default.
pub(super) fn profile_u64(profile: &Profile, switch: Switch) -> u64 {
    profile.default_of(switch).parse().expect("the profile's integer values are numbers")
}

/// A release switch written as one of `options` under `key`, or the profile's default.
pub(super) fn switch_choice<T: Copy>(
    t: &Table,
    key: &str,
    profile: &Profile,
    switch: Switch,
    options: &[(&str, T)],
) -> Res<T> {
    match t.opt_string(key, "a string")? {
        Some(sp) => choice(&sp, options),
        None => Ok(profile_choice(profile, switch, options)),
    }
}

/// Refuses `key`, set at `pos`, in a scenario of a release before `first_release`, the
/// release that brought it (`reference`, its KIP): there it would do nothing.
pub(super) fn check_introduced(
    pos: &Pos,
    key: &str,
    first_release: crate::profile::KafkaVersion,
    reference: &str,
    profile: &Profile,
) -> Res<()> {
    if profile.version >= first_release {
        return Ok(());
    }
    Err(pos.issue(format!(
        "{key} came with Kafka {first_release} ({reference}), but kafka_version is {}; expected kafka_version \
         \"{first_release}\" or later, or no {key}",
        profile.version
    )))
}

/// A whole number of at least `min`, refused in a scenario of a release before
/// `first_release`, the release that brought it (`reference`, its KIP); `None` when absent.
pub(super) fn opt_u64_since(
    t: &Table,
    key: &str,
    min: u64,
    first_release: crate::profile::KafkaVersion,
    reference: &str,
    profile: &Profile,
) -> Res<Option<Sp<u64>>> {
    let Some(value) = opt_u64_min(t, key, min)? else { return Ok(None) };
    check_introduced(&value.pos, key, first_release, reference, profile)?;
    Ok(Some(value))
}

/// A boolean profile default.
pub(super) fn profile_bool(profile: &Profile, switch: Switch) -> bool {
    profile_choice(profile, switch, &[("true", true), ("false", false)])
}

/// A list of anomaly names, without `*` (`[fix] prevents`).
pub(super) fn anomaly_names(node: &Node) -> Res<Vec<(AnomalyKind, Pos)>> {
    Ok(anomaly_list(node, false)?.0)
}

/// A list of anomaly names; `["*"]` (only in `absent`) sets the wildcard flag.
pub(super) fn anomaly_list(node: &Node, allow_wildcard: bool) -> Res<(Vec<(AnomalyKind, Pos)>, bool)> {
    let names: Vec<&str> = AnomalyKind::ALL.iter().map(|k| k.name()).collect();
    let items = node.array("a list of anomaly names, such as [\"lost-write\"]")?;
    let mut out: Vec<(AnomalyKind, Pos)> = Vec::new();
    let mut wildcard = false;
    for item in &items {
        let name = item.string("an anomaly name")?;
        if name.value == "*" {
            if !allow_wildcard {
                return Err(name.pos.issue("`*` is only allowed in `absent`; expected anomaly names"));
            }
            if items.len() > 1 {
                return Err(name
                    .pos
                    .issue("`*` already means every kind not in `present`; expected it alone: [\"*\"]"));
            }
            wildcard = true;
            continue;
        }
        let Some(kind) = AnomalyKind::from_name(&name.value) else {
            let hint = closest(&name.value, &names).map_or(String::new(), |c| format!(" (did you mean \"{c}\"?)"));
            return Err(name.pos.issue(format!(
                "unknown anomaly {}{hint}; expected one of {}",
                excerpt(&name.value),
                one_of_strings(&names)
            )));
        };
        if out.iter().any(|(k, _)| *k == kind) {
            return Err(name.pos.issue(format!("`{kind}` is listed twice; expected each kind once")));
        }
        out.push((kind, name.pos));
    }
    Ok((out, wildcard))
}

// The `[cluster]` switches' values by their scenario names: read by `validate`, drawn
// by `swarm_settings`, spelled back by `effective`.

/// The truncation modes by their scenario names.
pub(super) const TRUNCATION_MODES: [(&str, TruncationMode); 3] = [
    ("legacy", TruncationMode::Legacy),
    ("leader-epoch-kip-101", TruncationMode::LeaderEpochKip101),
    ("leader-epoch", TruncationMode::LeaderEpoch),
];

/// The follower restart rules by their scenario names.
pub(super) const FOLLOWER_RESTARTS: [(&str, FollowerRestart); 3] = [
    ("leader-change", FollowerRestart::LeaderChange),
    ("leader-change-or-missed-epoch", FollowerRestart::LeaderChangeOrMissedEpoch),
    ("every-leader-epoch", FollowerRestart::EveryLeaderEpoch),
];

/// The broker's answers to an unknown idempotent producer, by their scenario names.
pub(super) const UNKNOWN_PRODUCER_SEQUENCES: [(&str, UnknownProducerSequence); 3] = [
    ("out-of-order", UnknownProducerSequence::OutOfOrder),
    ("unknown-producer-id", UnknownProducerSequence::UnknownProducerId),
    ("accept", UnknownProducerSequence::Accept),
];
