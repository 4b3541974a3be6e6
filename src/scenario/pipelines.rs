//! The validated layer for `[[pipelines]]`: consume-transform-produce applications.
//!
//! ```toml
//! [[pipelines]]
//! count = 2                        # pipeline-1, pipeline-2
//! input = "orders"                 # read as a consumer group member ...
//! output = "orders-copy"           # ... and forwarded here, value unchanged
//! group = "copier"
//! guarantee = "exactly-once"       # or "at-least-once"
//! poll_interval = "100ms"          # the pause between polls (default 100ms)
//! process_time = "5ms"             # per record, before it is sent (default 0ms)
//! dead_letter = "orders-dlq"       # optional: a dead-letter queue (see `dead_letter`)
//! poison_every = 10                #   with it, which records fail processing
//! max_attempts = 3                 #   and how often each is tried (default 1)
//! [pipelines.consumer]             # [consumers.config] keys, but enable.auto.commit
//! "session.timeout.ms" = 6000      #   (always off) and isolation.level (read_committed
//!                                  #   when exactly-once, else read_uncommitted)
//! [pipelines.producer]             # [producers.config] keys but transactional.id (set
//! "transaction.timeout.ms" = 10000 #   per instance when exactly-once)
//! ```

use crate::profile::{Profile, Switch};
use crate::protocol::IsolationLevel;

use super::dead_letter::dead_letter;
use super::fields::{switch_choice, Notes};
use super::keys;
use super::model::TopicSpec;
use super::model_clients::{
    CommitMode, CommitPolicy, ConsumerMode, ConsumerSettings, ConsumerSpec, Guarantee, Partitioning, PipelineSpec,
    Processing, ProducerSpec, SendMode,
};
use super::raw::Table;
use super::span::Res;
use super::values::choice;
use super::workload::{
    consumer_defaults, consumer_settings, count, producer_defaults, producer_settings, topic_named, PARTITIONERS,
    STICKY_ASSIGNORS,
};

/// The guarantees by their scenario names.
const GUARANTEES: [(&str, Guarantee); 2] =
    [("at-least-once", Guarantee::AtLeastOnce), ("exactly-once", Guarantee::ExactlyOnce)];

/// Reads `[[pipelines]]`.
pub(super) fn pipelines(
    tables: &[Table],
    topics: &[TopicSpec],
    profile: &Profile,
    notes: &mut Notes,
) -> Res<Vec<PipelineSpec>> {
    let mut out = Vec::new();
    for t in tables {
        let count = count(t)?;
        let input = topic_named(t, "input", topics)?;
        let output = topic_named(t, "output", topics)?;
        if input == output {
            let sp = t.require("output", "a topic other than the input")?;
            return Err(sp.pos.issue(format!(
                "the pipeline would read its own output: input and output are both \"{input}\"; expected \
                 another topic as output"
            )));
        }
        let dead_letter = dead_letter(t, &input, &output, topics)?;
        let group = t.require("group", "a consumer group name")?.string("a consumer group name")?;
        if group.value.trim().is_empty() {
            return Err(group.pos.issue("expected a non-empty consumer group name"));
        }
        let guarantee_sp = t
            .require("guarantee", "\"at-least-once\" or \"exactly-once\"")?
            .string("\"at-least-once\" or \"exactly-once\"")?;
        let guarantee = choice(&guarantee_sp, &GUARANTEES)?;
        let poll_interval_ms = t
            .opt_duration_ms("poll_interval")?
            .map(|d| d.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string()))
            .transpose()?
            .map_or(100, |d| d.value);
        let process_time_ms = t.opt_duration_ms("process_time")?.map_or(0, |d| d.value);
        let consumer_config = match t.opt_table("consumer", keys::PIPELINE_CONSUMER_CONFIG)? {
            Some(c) => consumer_settings(&c, true, profile)?,
            None => consumer_defaults(profile),
        };
        let isolation_level = match guarantee {
            Guarantee::ExactlyOnce => IsolationLevel::ReadCommitted,
            Guarantee::AtLeastOnce => IsolationLevel::ReadUncommitted,
        };
        let consumer = ConsumerSpec {
            count,
            topic: input.clone(),
            mode: ConsumerMode::Subscribe,
            group: Some(group.value.clone()),
            poll_interval_ms,
            processing: Processing::Sync,
            process_time_ms,
            commit: CommitPolicy::AfterProcessing,
            commit_mode: CommitMode::Sync,
            commit_on_revoke: false,
            partitions: Default::default(),
            sticky_assignor: switch_choice(t, "sticky_assignor", profile, Switch::StickyAssignor, &STICKY_ASSIGNORS)?,
            config: ConsumerSettings { enable_auto_commit: false, isolation_level, ..consumer_config },
        };
        let producer_table = t.opt_table("producer", keys::PIPELINE_PRODUCER_CONFIG)?;
        let producer_config = match &producer_table {
            Some(c) => producer_settings(c, profile, notes)?,
            None => producer_defaults(profile),
        };
        if guarantee == Guarantee::ExactlyOnce && !producer_config.enable_idempotence {
            let pos = producer_table.as_ref().map_or(guarantee_sp.pos.clone(), |p| p.pos.clone());
            return Err(pos.issue(
                "an exactly-once pipeline needs a transactional producer, and a transactional.id needs \
                 idempotence, which is off here (Kafka rejects this too); expected enable.idempotence = true \
                 with acks = \"all\" in [pipelines.producer], or guarantee = \"at-least-once\"",
            ));
        }
        let producer = ProducerSpec {
            count,
            topic: output.clone(),
            rate_per_sec: 1.0,
            records: None,
            partitioning: Partitioning::Explicit,
            key_count: 100,
            send_mode: SendMode::Async,
            partitioner: profile_partitioner(profile),
            idempotent_epoch_bump: super::fields::profile_bool(profile, Switch::IdempotentEpochBump),
            invalid_epoch_abortable: super::fields::profile_bool(profile, Switch::InvalidEpochAbortable),
            records_per_transaction: 1,
            abort_every: None,
            config: producer_config,
        };
        out.push(PipelineSpec {
            count,
            input,
            output,
            group: group.value,
            guarantee,
            process_time_ms,
            consumer,
            producer,
            dead_letter,
        });
    }
    Ok(out)
}

/// The release's partitioner for records without a key (unused: a pipeline names each
/// output record's partition).
fn profile_partitioner(profile: &Profile) -> crate::protocol::UnkeyedPartitioning {
    super::fields::profile_choice(profile, Switch::Partitioner, &PARTITIONERS)
}
