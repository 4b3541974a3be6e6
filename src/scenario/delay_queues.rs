//! The validated layer for `[[delay_queues]]`: delay queues built on Kafka topics.
//!
//! ```toml
//! [[delay_queues]]
//! count = 2                        # forwarder-1, forwarder-2 (fault targets)
//! tiers = [{topic = "delay-1s", delay = "1s"}, {topic = "delay-5s", delay = "5s"}]
//! target = "orders"                # where due records go, value unchanged
//! group = "delayer"                # the forwarders' consumer group
//! guarantee = "at-least-once"      # or "exactly-once" (required), as a pipeline's
//! max_lateness = "10s"             # the bound on lateness past due + poll_interval (required)
//! poll_interval = "100ms"          # the forwarder's period (default 100ms)
//! process_time = "0ms"             # per record, before it is forwarded (default 0ms)
//! [delay_queues.consumer]          # [pipelines.consumer]'s keys
//! "auto.offset.reset" = "earliest"
//! [delay_queues.producer]          # [pipelines.producer]'s keys
//! ```
//!
//! `[[producers]]` entries that write to a tier topic ask for its delay: their send ops
//! carry it (see [`RecordDelay`](crate::history::RecordDelay)).

use crate::profile::Profile;

use super::error::excerpt;
use super::fields::Notes;
use super::keys;
use super::model::TopicSpec;
use super::model_clients::ProducerSpec;
use super::model_delay_queues::{DelayQueueSpec, DelayTier};
use super::pipelines::{app_clients, app_entry, AppEntry};
use super::raw::Table;
use super::span::Res;
use super::workload::{count, topic_named};

/// Reads `[[delay_queues]]`, and sets on each `[[producers]]` entry that writes to a tier
/// the delay its records ask for. `groups`: the groups of `[[consumers]]` and
/// `[[pipelines]]`, which a delay queue's group may not share.
pub(super) fn delay_queues(
    tables: &[Table],
    topics: &[TopicSpec],
    groups: &[String],
    producers: &mut [ProducerSpec],
    profile: &Profile,
    notes: &mut Notes,
) -> Res<Vec<DelayQueueSpec>> {
    let mut out: Vec<DelayQueueSpec> = Vec::new();
    for t in tables {
        let count = count(t)?;
        let tiers = tiers(t, topics, &out)?;
        let target = topic_named(t, "target", topics)?;
        let tier_of_any = |topic: &str| tiers.iter().any(|x| x.topic == topic) || is_tier(&out, topic);
        if tier_of_any(&target) {
            let sp = t.require("target", "a topic that is not a tier")?;
            return Err(sp.pos.issue(format!(
                "the target {} is a tier topic: its records would be forwarded to themselves; expected a \
                 topic that is no delay queue's tier",
                excerpt(&target)
            )));
        }
        let app = app_entry(t, ("delay_queues", "delay queue"), count, (&tiers[0].topic, &target))?;
        let shared = groups.iter().chain(out.iter().map(|q| &q.group)).any(|g| *g == app.group);
        if shared {
            let sp = t.require("group", "a consumer group name")?;
            return Err(sp.pos.issue(format!(
                "the group {} is also another entry's group; expected a group of the delay queue's own (its \
                 forwarders subscribe to the tiers, and a group's members share its committed offsets)",
                excerpt(&app.group)
            )));
        }
        let max_lateness_ms = t
            .require("max_lateness", "how late past its due time a record may be forwarded, such as \"5s\"")?
            .duration_ms()?
            .value;
        let (consumer, producer) = app_clients(t, &app, profile, notes)?;
        let AppEntry { group, guarantee, .. } = app;
        out.push(DelayQueueSpec { count, tiers, target, group, guarantee, max_lateness_ms, consumer, producer });
    }
    for producer in producers.iter_mut() {
        let tier = out.iter().find_map(|q| q.tiers.iter().find(|t| t.topic == producer.topic).map(|t| (q, t)));
        producer.delay = tier.map(|(queue, tier)| queue.record_delay(tier));
    }
    Ok(out)
}

/// The `tiers` of one entry: at least one, each topic defined and no tier of an earlier
/// entry or of this one twice, each delay longer than 0ms.
fn tiers(t: &Table, topics: &[TopicSpec], earlier: &[DelayQueueSpec]) -> Res<Vec<DelayTier>> {
    let expected = "tiers such as [{topic = \"delay-1s\", delay = \"1s\"}]";
    let node = t.require("tiers", expected)?;
    let tables = node.tables(keys::DELAY_TIER)?;
    if tables.is_empty() {
        return Err(node.pos.issue(format!("the delay queue has no tier; expected {expected}")));
    }
    let mut tiers: Vec<DelayTier> = Vec::new();
    for tier in &tables {
        let topic = topic_named(tier, "topic", topics)?;
        if tiers.iter().any(|x| x.topic == topic) || is_tier(earlier, &topic) {
            let sp = tier.require("topic", "a topic")?;
            return Err(sp.pos.issue(format!(
                "topic {} is a tier already; expected each tier topic once, in one delay queue",
                excerpt(&topic)
            )));
        }
        let delay_ms = tier
            .require("delay", "how long after its timestamp a record is due, such as \"5s\"")?
            .duration_ms()?
            .check(|d| d > 0, |_| "expected a delay longer than 0ms".to_string())?
            .value;
        tiers.push(DelayTier { topic, delay_ms });
    }
    Ok(tiers)
}

/// Whether `topic` is a tier of one of `queues`.
fn is_tier(queues: &[DelayQueueSpec], topic: &str) -> bool {
    queues.iter().any(|q| q.tiers.iter().any(|t| t.topic == topic))
}
