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
//! output_partitioner = "uniform-sticky"  # optional: how forwards spread over the
//!                                  #   output (default "same-partition")
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
    CommitMode, CommitPolicy, ConsumerMode, ConsumerSettings, ConsumerSpec, Guarantee, OutputPartitioner, Partitioning,
    PipelineSpec, Processing, ProducerSpec, SendMode,
};
use super::raw::Table;
use super::span::{Pos, Res};
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
        let app = app_entry(t, ("pipelines", "pipeline"), count, (&input, &output))?;
        let (consumer, mut producer) = app_clients(t, &app, profile, notes)?;
        let output_partitioner = output_partitioner(t)?;
        if let OutputPartitioner::Unkeyed(partitioner) = output_partitioner {
            producer.partitioning = Partitioning::Unkeyed;
            producer.partitioner = partitioner;
        }
        let AppEntry { group, guarantee, process_time_ms, .. } = app;
        out.push(PipelineSpec {
            count,
            input,
            output,
            group,
            guarantee,
            process_time_ms,
            consumer,
            producer,
            dead_letter,
            output_partitioner,
        });
    }
    Ok(out)
}

/// `output_partitioner`: `"same-partition"` (the default) or the name of a partitioner
/// for records without a key.
fn output_partitioner(t: &Table) -> Res<OutputPartitioner> {
    let Some(sp) = t.opt_string("output_partitioner", "a string")? else {
        return Ok(OutputPartitioner::SamePartition);
    };
    let mut options = vec![("same-partition", OutputPartitioner::SamePartition)];
    options.extend(PARTITIONERS.iter().map(|&(name, p)| (name, OutputPartitioner::Unkeyed(p))));
    choice(&sp, &options)
}

/// What a consume-transform-produce application's entry says of its instances' clients
/// (a pipeline's, or a delay queue's forwarders').
pub(super) struct AppEntry<'a> {
    /// The entry's table (`pipelines`: `[pipelines.producer]`), for messages.
    pub section: &'static str,
    /// What the application is called in messages (`pipeline`).
    pub what: &'static str,
    /// How many instances.
    pub count: u32,
    /// The topic the consumer's spec names (its instances may subscribe to more).
    pub input: &'a str,
    /// The topic the producer writes.
    pub output: &'a str,
    /// The consumer group (`group`).
    pub group: String,
    /// At-least-once or exactly-once (`guarantee`).
    pub guarantee: Guarantee,
    /// Where `guarantee` is written.
    pub guarantee_pos: Pos,
    /// The pause between polls (`poll_interval`, default 100ms).
    pub poll_interval_ms: u64,
    /// The work per record before it is sent (`process_time`, default 0ms).
    pub process_time_ms: u64,
}

/// Reads the keys every consume-transform-produce application's entry has: `group`,
/// `guarantee`, `poll_interval` and `process_time`. `names`: the entry's table and what
/// the application is called, for messages.
pub(super) fn app_entry<'a>(
    t: &Table,
    (section, what): (&'static str, &'static str),
    count: u32,
    (input, output): (&'a str, &'a str),
) -> Res<AppEntry<'a>> {
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
    Ok(AppEntry {
        section,
        what,
        count,
        input,
        output,
        group: group.value,
        guarantee,
        guarantee_pos: guarantee_sp.pos,
        poll_interval_ms,
        process_time_ms,
    })
}

/// The consumer (from the entry's `consumer` table: a group member with manual commits,
/// `read_committed` when exactly-once) and the producer (from its `producer` table) of
/// an application's instances; an exactly-once application needs an idempotent producer.
pub(super) fn app_clients(
    t: &Table,
    app: &AppEntry,
    profile: &Profile,
    notes: &mut Notes,
) -> Res<(ConsumerSpec, ProducerSpec)> {
    let consumer_config = match t.opt_table("consumer", keys::PIPELINE_CONSUMER_CONFIG)? {
        Some(c) => consumer_settings(&c, true, profile)?,
        None => consumer_defaults(profile),
    };
    let isolation_level = match app.guarantee {
        Guarantee::ExactlyOnce => IsolationLevel::ReadCommitted,
        Guarantee::AtLeastOnce => IsolationLevel::ReadUncommitted,
    };
    let consumer = ConsumerSpec {
        count: app.count,
        topic: app.input.to_string(),
        mode: ConsumerMode::Subscribe,
        group: Some(app.group.clone()),
        poll_interval_ms: app.poll_interval_ms,
        processing: Processing::Sync,
        process_time_ms: app.process_time_ms,
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
    if app.guarantee == Guarantee::ExactlyOnce && !producer_config.enable_idempotence {
        let pos = producer_table.as_ref().map_or(app.guarantee_pos.clone(), |p| p.pos.clone());
        return Err(pos.issue(format!(
            "an exactly-once {} needs a transactional producer, and a transactional.id needs \
             idempotence, which is off here (Kafka rejects this too); expected enable.idempotence = true \
             with acks = \"all\" in [{}.producer], or guarantee = \"at-least-once\"",
            app.what, app.section
        )));
    }
    let producer = ProducerSpec {
        count: app.count,
        topic: app.output.to_string(),
        rate_per_sec: super::model_rate::RateSchedule::constant(1.0),
        records: None,
        value_bytes: crate::protocol::Record::PLAIN_VALUE_BYTES,
        partitioning: Partitioning::Explicit,
        key_count: 100,
        send_mode: SendMode::Async,
        partitioner: profile_partitioner(profile),
        idempotent_epoch_bump: super::fields::profile_bool(profile, Switch::IdempotentEpochBump),
        invalid_epoch_abortable: super::fields::profile_bool(profile, Switch::InvalidEpochAbortable),
        records_per_transaction: 1,
        abort_every: None,
        delay: None,
        config: producer_config,
    };
    Ok((consumer, producer))
}

/// The release's partitioner for records without a key (unused: a pipeline names each
/// output record's partition).
fn profile_partitioner(profile: &Profile) -> crate::protocol::UnkeyedPartitioning {
    super::fields::profile_choice(profile, Switch::Partitioner, &PARTITIONERS)
}
