//! The dead-letter keys of a `[[pipelines]]` entry:
//!
//! ```toml
//! [[pipelines]]
//! input = "orders"
//! output = "orders-copy"
//! dead_letter = "orders-dlq"   # records whose processing keeps failing go here
//! poison_every = 10            # values 0, 10, 20, ... fail at every attempt
//! max_attempts = 3             # attempts per record before it is dead-lettered (default 1)
//! ```
//!
//! `poison_every` and `max_attempts` describe what goes to the dead-letter topic, so they
//! need `dead_letter`; `dead_letter` needs `poison_every` (without poison records nothing
//! would ever go there).

use super::model::TopicSpec;
use super::model_clients::DeadLetterSpec;
use super::raw::Table;
use super::span::Res;
use super::workload::topic_named;

/// Processing attempts per record when `max_attempts` is absent: Kafka Connect's
/// `errors.retry.timeout` defaults to 0, "no retries" (`ConnectorConfig`).
pub(super) const DEFAULT_MAX_ATTEMPTS: u32 = 1;

/// Reads the dead-letter keys of pipeline entry `t` reading `input` and writing `output`.
pub(super) fn dead_letter(t: &Table, input: &str, output: &str, topics: &[TopicSpec]) -> Res<Option<DeadLetterSpec>> {
    let poison_every = t.opt_u64("poison_every")?;
    let max_attempts = t.opt_u32("max_attempts")?;
    if t.get("dead_letter").is_none() {
        let stray = [("poison_every", poison_every.map(|p| p.pos)), ("max_attempts", max_attempts.map(|m| m.pos))];
        if let Some((key, Some(pos))) = stray.into_iter().find(|(_, pos)| pos.is_some()) {
            return Err(pos.issue(format!(
                "`{key}` describes the pipeline's dead-letter queue, and this pipeline has none; expected \
                 `dead_letter = \"TOPIC\"` (the topic poison records go to) beside it, or no `{key}`"
            )));
        }
        return Ok(None);
    }
    let topic = topic_named(t, "dead_letter", topics)?;
    if topic == input || topic == output {
        let role = if topic == input { "input" } else { "output" };
        let pos = t.require("dead_letter", "a topic")?.string("a topic name")?.pos;
        return Err(pos.issue(format!(
            "the dead-letter topic \"{topic}\" is also the pipeline's {role}; expected a topic of its own, so that \
             dead-lettered records can be told from the {role}'s"
        )));
    }
    const POISON: &str = "missing required key `poison_every` beside `dead_letter`; expected a number N: records \
                          whose value is a multiple of N fail processing at every attempt and go to the dead-letter \
                          topic";
    let Some(poison_every) = poison_every else { return Err(t.pos.child("poison_every", None).issue(POISON)) };
    let poison_every =
        poison_every.check(|p| p > 0, |_| "expected a number of at least 1 (1: every record is poison)".into())?;
    let max_attempts = match max_attempts {
        Some(m) => m.check(|m| m > 0, |_| "expected a number of attempts of at least 1".into())?.value,
        None => DEFAULT_MAX_ATTEMPTS,
    };
    let partitions = topics.iter().find(|x| x.name == topic).map_or(1, |x| x.partitions);
    Ok(Some(DeadLetterSpec { topic, partitions, poison_every: poison_every.value, max_attempts }))
}
