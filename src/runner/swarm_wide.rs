//! The wide swarm's draws (issue 20): Kafka settings drawn from `[swarm]` lists
//! (`acks`, `kafka_version`, ...) and `min.insync.replicas`, after every draw of
//! `swarm::apply_swarm`, from the same stream. A file without these keys draws nothing
//! here, so its draws and trace hashes do not move.
//!
//! The drawn settings are applied the way `--set KEY=VALUE` applies them: the file is
//! read again with them, by the same readers with the same checks and Kafka's own
//! adjustments (a release's defaults, idempotence quietly turned off by acks=1, ...).
//! The earlier draws are then replayed on the new reading from the same generator state,
//! so they come out the same. A drawn value the reader refuses in this combination (Kafka
//! refuses it too, e.g. an explicit `enable.idempotence = true` with `acks = "1"`) is
//! skipped for the seed and shown as skipped: Kafka would not have run it.

use super::swarm::SeedRng;
use crate::scenario::{parse_with, Scenario, SetScope, Setting, SwarmKey, SwarmSpec};

/// Draws the wide keys of `swarm` and returns the scenario that applies them. `s` has the
/// earlier draws applied; `replay` is the generator as it was before them, and `apply`
/// makes them again on a new reading of `base`.
pub(super) fn apply_wide(
    s: Scenario,
    base: &Scenario,
    swarm: &SwarmSpec,
    rng: &mut SeedRng,
    replay: SeedRng,
    apply: impl Fn(&mut Scenario, &mut SeedRng),
    out: &mut Vec<(String, String)>,
) -> Scenario {
    // Draw every value first (the draw order is SwarmKey::ALL, whatever is refused).
    let mut drawn: Vec<(SwarmKey, String)> = Vec::new();
    for choices in &swarm.settings {
        drawn.push((choices.key, rng.pick(&choices.values).clone()));
    }
    let min_insync = swarm.min_insync_replicas.map(|(lo, hi)| rng.range(lo.into(), hi.into()) as u32);

    let mut s = s;
    let mut refused: Vec<(SwarmKey, String)> = Vec::new();
    // A `--set` of the same key is the user's choice and wins over the draw.
    let mut applied: Vec<(SwarmKey, String)> =
        drawn.iter().filter(|(k, _)| !base.settings.iter().any(|s| s.key == k.name())).cloned().collect();
    while !applied.is_empty() {
        let mut settings = base.settings.clone();
        settings.extend(applied.iter().flat_map(|(k, v)| as_settings(*k, v)));
        match parse_with(&base.source, &base.path, &settings, SetScope::OneScenario) {
            Ok(mut reread) => {
                reread.settings = base.settings.clone();
                apply(&mut reread, &mut replay.clone());
                s = reread;
                break;
            }
            Err(e) => {
                // The refused setting; one the reader cannot name (a clash with the
                // file's own settings) is taken to be the last drawn.
                let at = e.setting().and_then(|text| {
                    applied.iter().position(|(k, v)| as_settings(*k, v).iter().any(|s| s.to_string() == text))
                });
                let i = at.unwrap_or(applied.len() - 1);
                let (key, _) = applied.remove(i);
                refused.push((key, e.message.clone()));
            }
        }
    }
    for (key, value) in &drawn {
        let shown = match refused.iter().find(|(k, _)| k == key) {
            Some((_, why)) => format!("{value} (skipped: {why})"),
            None if base.settings.iter().any(|s| s.key == key.name()) => format!("{value} (--set wins)"),
            None => value.clone(),
        };
        out.push((key.name().to_string(), shown));
    }
    if let Some(drawn) = min_insync {
        // Lowered to the seed's smallest replication factor: Kafka takes a larger value,
        // but then refuses every acks=all write with NOT_ENOUGH_REPLICAS, and the seed
        // could never make progress, which every draw is judged on.
        let rf = s.topics.iter().map(|t| t.replication_factor).min().unwrap_or(drawn);
        let value = drawn.min(rf).max(1);
        s.cluster.config.min_insync_replicas = value;
        s.topics.iter_mut().for_each(|t| t.config.min_insync_replicas = Some(value));
        let shown = if value < drawn {
            format!("{value} (drew {drawn}, above the replication factor)")
        } else {
            value.to_string()
        };
        out.push(("min.insync.replicas".to_string(), shown));
    }
    s
}

/// The `--set` settings one drawn value makes: a commit policy brings the
/// `enable.auto.commit` it needs (Kafka's consumer commits automatically exactly when
/// that is on).
fn as_settings(key: SwarmKey, value: &str) -> Vec<Setting> {
    let setting = |k: &str, v: &str| Setting { key: k.to_string(), value: v.to_string() };
    match key {
        SwarmKey::Commit => {
            vec![
                setting(key.name(), value),
                setting("enable.auto.commit", if value == "auto" { "true" } else { "false" }),
            ]
        }
        _ => vec![setting(key.name(), value)],
    }
}
