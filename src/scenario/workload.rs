//! The validated layer for `[[producers]]` and `[[consumers]]`, including Kafka's own
//! rules that tie client settings together (idempotence, delivery timeout, group.id).

use crate::client::backoff::RetryBackoff;
use crate::client::connection_states::ConnectionSettings;
use crate::profile::{Profile, Switch};
use crate::protocol::{
    Acks, AssignmentStrategy, IsolationLevel, OffsetReset, OffsetValidation, StickyAlgorithm, UnkeyedPartitioning,
};

use super::error::{did_you_mean, excerpt, one_of};
use super::fields::{
    at_least, opt_u64_min, opt_u64_since, profile_bool, profile_choice, profile_u64, switch_choice, Notes,
};
use super::keys;
use super::limits::{MAX_CLIENTS_PER_ENTRY, MAX_VALUE_BYTES};
use super::model::TopicSpec;
use super::model_clients::{
    CommitMode, CommitPolicy, ConsumerMode, ConsumerSettings, ConsumerSpec, ManualPartitions, Partitioning, Processing,
    ProducerSettings, ProducerSpec, SendMode,
};
use super::raw::{Node, Table};
use super::span::{Res, Sp};
use super::values::{bad_choice, choice};

/// The longest idempotent pipeline Kafka allows.
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: u32 = 5;

pub(super) fn count(t: &Table) -> Res<u32> {
    let c = t.opt_u32("count")?;
    let c = c
        .map(|c| {
            c.check(
                |c| (1..=MAX_CLIENTS_PER_ENTRY).contains(&c),
                |c| format!("expected 1 to {MAX_CLIENTS_PER_ENTRY}, found {c}"),
            )
        })
        .transpose()?;
    Ok(c.map_or(1, |c| c.value))
}

/// The `topic` key, which must name a defined topic.
fn topic_ref(t: &Table, topics: &[TopicSpec]) -> Res<String> {
    topic_named(t, "topic", topics)
}

/// The `key` key, which must name a defined topic.
pub(super) fn topic_named(t: &Table, key: &str, topics: &[TopicSpec]) -> Res<String> {
    let sp = t.require(key, "the name of a topic defined in [[topics]]")?.string("a topic name")?;
    if topics.iter().any(|x| x.name == sp.value) {
        return Ok(sp.value);
    }
    let names: Vec<&str> = topics.iter().map(|x| x.name.as_str()).collect();
    let message = if names.is_empty() {
        format!(
            "topic {} is not defined; no [[topics]] are defined, expected one named {}",
            excerpt(&sp.value),
            excerpt(&sp.value)
        )
    } else {
        format!(
            "topic {} is not defined{}; expected one of {}",
            excerpt(&sp.value),
            did_you_mean(&sp.value, &names),
            one_of(&names)
        )
    };
    Err(sp.pos.issue(message))
}

/// Reads `[[producers]]`, in a run whose safety phase lasts `run_ms`.
pub(super) fn producers(
    tables: &[Table],
    topics: &[TopicSpec],
    profile: &Profile,
    notes: &mut Notes,
    run_ms: u64,
) -> Res<Vec<ProducerSpec>> {
    let mut out = Vec::new();
    for t in tables {
        let count = count(t)?;
        let topic = topic_ref(t, topics)?;
        let rate_per_sec = super::rate::rate_per_sec(t, run_ms)?;
        let records = opt_u64_min(t, "records", 1)?.map(|v| v.value);
        let value_bytes = match t.opt_u32("value_bytes")? {
            Some(v) => {
                v.check(
                    |b| (1..=MAX_VALUE_BYTES).contains(&b),
                    |b| format!("expected a value size of 1 to {MAX_VALUE_BYTES} bytes (max.request.size), found {b}"),
                )?
                .value
            }
            None => crate::protocol::Record::PLAIN_VALUE_BYTES,
        };
        let partitioning = t
            .opt_string("partitioning", "a string")?
            .map(|sp| {
                choice(
                    &sp,
                    &[
                        ("explicit", Partitioning::Explicit),
                        ("keyed", Partitioning::Keyed),
                        ("unkeyed", Partitioning::Unkeyed),
                    ],
                )
            })
            .transpose()?
            .unwrap_or(Partitioning::Explicit);
        let key_count = t.opt_u32("key_count")?.map(|v| at_least(v, 1)).transpose()?;
        if let (Some(k), false) = (&key_count, partitioning == Partitioning::Keyed) {
            return Err(k.pos.issue(
                "`key_count` only applies to keyed partitioning; expected \
                `partitioning = \"keyed\"` or no `key_count`",
            ));
        }
        let send_mode = t
            .opt_string("send", "a string")?
            .map(|sp| choice(&sp, &[("sync", SendMode::Sync), ("async", SendMode::Async)]))
            .transpose()?
            .unwrap_or(SendMode::Sync);
        let partitioner = switch_choice(t, "partitioner", profile, Switch::Partitioner, &PARTITIONERS)?;
        let idempotent_epoch_bump =
            t.bool_or("idempotent_epoch_bump", profile_bool(profile, Switch::IdempotentEpochBump))?;
        let invalid_epoch_abortable =
            t.bool_or("invalid_epoch_abortable", profile_bool(profile, Switch::InvalidEpochAbortable))?;
        let config = match t.opt_table("config", keys::PRODUCER_CONFIG)? {
            Some(c) => producer_settings(&c, profile, notes)?,
            None => producer_defaults(profile),
        };
        let records_per_transaction = t.opt_u32("records_per_transaction")?.map(|v| at_least(v, 1)).transpose()?;
        let abort_every = t.opt_u32("abort_every")?.map(|v| at_least(v, 1)).transpose()?;
        let transaction_keys = [("records_per_transaction", &records_per_transaction), ("abort_every", &abort_every)];
        if let (None, Some((key, Some(v)))) =
            (&config.transactional_id, transaction_keys.iter().find(|(_, v)| v.is_some()))
        {
            return Err(v.pos.issue(format!(
                "`{key}` only applies to a transactional producer; expected a \"transactional.id\" in \
                 [producers.config], or no `{key}`"
            )));
        }
        out.push(ProducerSpec {
            count,
            topic,
            rate_per_sec,
            records,
            value_bytes,
            partitioning,
            key_count: key_count.map_or(100, |k| k.value),
            send_mode,
            partitioner,
            idempotent_epoch_bump,
            invalid_epoch_abortable,
            records_per_transaction: records_per_transaction.map_or(1, |v| v.value),
            abort_every: abort_every.map(|v| v.value),
            delay: None,
            config,
        });
    }
    Ok(out)
}

fn acks(node: &Node) -> Res<Sp<Acks>> {
    let expected = "\"all\", \"-1\", \"1\" or \"0\" (or the integers -1, 1, 0)";
    let parsed = match (node.as_str(), node.as_int()) {
        (Some(s), _) => Acks::parse(s.trim()),
        (_, Some(-1)) => Some(Acks::All),
        (_, Some(1)) => Some(Acks::Leader),
        (_, Some(0)) => Some(Acks::None),
        _ => None,
    };
    match parsed {
        Some(value) => Ok(Sp { value, pos: node.pos.clone() }),
        None => Err(node.mismatch(expected)),
    }
}

/// The producer settings of a `[[producers]]` entry without a config table: Kafka's
/// defaults in the scenario's release.
pub(super) fn producer_defaults(profile: &Profile) -> ProducerSettings {
    let release = ReleaseDefaults::of(profile);
    // Kafka 3.x's default idempotence needs acks = "all" (KIP-679).
    let enable_idempotence = release.enable_idempotence && release.acks == Acks::All;
    ProducerSettings {
        acks: release.acks,
        retries: release.retries,
        enable_idempotence,
        linger_ms: release.linger_ms,
        retry_backoff_max_ms: default_retry_backoff_max_ms(profile),
        connections: default_connection_settings(profile),
        ..ProducerSettings::default()
    }
}

/// The first release whose clients back off exponentially between reconnects (KIP-144).
const KIP_144_RELEASE: crate::profile::KafkaVersion = crate::profile::KafkaVersion::new(0, 11, 0);

/// The first release with a connection setup timeout (KIP-601).
const KIP_601_RELEASE: crate::profile::KafkaVersion = crate::profile::KafkaVersion::new(2, 7, 0);

/// The connection settings' defaults in the scenario's release.
fn default_connection_settings(profile: &Profile) -> ConnectionSettings {
    use crate::client::connection_states::{
        DEFAULT_RECONNECT_BACKOFF_MAX_MS, DEFAULT_RECONNECT_BACKOFF_MS, DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS,
        DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MS, LINUX_CONNECT_TIMEOUT_MS,
    };
    let max = (profile.version >= KIP_144_RELEASE).then_some(DEFAULT_RECONNECT_BACKOFF_MAX_MS);
    let setup_timeout = if profile.version >= KIP_601_RELEASE {
        RetryBackoff::new(
            DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MS,
            Some(DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS),
        )
    } else {
        RetryBackoff::new(LINUX_CONNECT_TIMEOUT_MS, None)
    };
    ConnectionSettings { reconnect_backoff: RetryBackoff::new(DEFAULT_RECONNECT_BACKOFF_MS, max), setup_timeout }
}

/// `reconnect.backoff.ms`, `reconnect.backoff.max.ms` (refused before Kafka 0.11),
/// `socket.connection.setup.timeout.ms` and `.max.ms` (refused before 2.7); the
/// release's defaults for those absent.
fn connection_settings(t: &Table, profile: &Profile) -> Res<ConnectionSettings> {
    let defaults = default_connection_settings(profile);
    let since = |key: &str, release, reference| -> Res<Option<u64>> {
        Ok(opt_u64_since(t, key, 0, release, reference, profile)?.map(|v| v.value))
    };
    // Each setting the file leaves out keeps the release's default; a maximum the release
    // does not have yet is refused, so the backoff stays fixed there.
    let set = |default: RetryBackoff, base: Option<u64>, max: Option<u64>| {
        RetryBackoff::new(base.unwrap_or(default.initial_ms()), max.or(default.max_ms()))
    };
    let reconnect_backoff = set(
        defaults.reconnect_backoff,
        t.opt_u64("reconnect.backoff.ms")?.map(|v| v.value),
        since("reconnect.backoff.max.ms", KIP_144_RELEASE, "KIP-144")?,
    );
    let setup_timeout = set(
        defaults.setup_timeout,
        since("socket.connection.setup.timeout.ms", KIP_601_RELEASE, "KIP-601")?,
        since("socket.connection.setup.timeout.max.ms", KIP_601_RELEASE, "KIP-601")?,
    );
    Ok(ConnectionSettings { reconnect_backoff, setup_timeout })
}

/// The first release whose clients back off exponentially (KIP-580, KAFKA-9800).
pub(super) const KIP_580_RELEASE: crate::profile::KafkaVersion = crate::profile::KafkaVersion::new(3, 7, 0);

/// `retry.backoff.max.ms`'s default in the scenario's release: 1000 from Kafka 3.7,
/// none before (a fixed backoff).
fn default_retry_backoff_max_ms(profile: &Profile) -> Option<u64> {
    (profile.version >= KIP_580_RELEASE).then_some(crate::client::backoff::DEFAULT_RETRY_BACKOFF_MAX_MS)
}

/// `retry.backoff.max.ms`, refused before Kafka 3.7 (where it would do nothing); `None`
/// when absent. A value below `retry.backoff.ms` is Kafka's constant backoff of
/// `retry.backoff.max.ms` (`warnDisablingExponentialBackoff`).
fn retry_backoff_max_ms(t: &Table, profile: &Profile) -> Res<Option<Sp<u64>>> {
    opt_u64_since(t, "retry.backoff.max.ms", 0, KIP_580_RELEASE, "KIP-580", profile)
}

/// The producer defaults that changed across releases.
struct ReleaseDefaults {
    acks: Acks,
    retries: u32,
    enable_idempotence: bool,
    linger_ms: u64,
}

impl ReleaseDefaults {
    fn of(profile: &Profile) -> Self {
        let retries = profile.default_of(Switch::Retries).parse().expect("the profile's retries are numbers");
        ReleaseDefaults {
            acks: profile_choice(profile, Switch::Acks, &ACKS),
            retries,
            enable_idempotence: profile_bool(profile, Switch::EnableIdempotence),
            linger_ms: profile_u64(profile, Switch::LingerMs),
        }
    }
}

/// The partitioners of records without a key, by their scenario names.
pub(super) const PARTITIONERS: [(&str, UnkeyedPartitioning); 3] = [
    ("round-robin", UnkeyedPartitioning::RoundRobin),
    ("sticky", UnkeyedPartitioning::Sticky),
    ("uniform-sticky", UnkeyedPartitioning::UniformSticky),
];

/// The sticky assignor's algorithms, by their scenario names.
pub(super) const STICKY_ASSIGNORS: [(&str, StickyAlgorithm); 2] =
    [("general", StickyAlgorithm::General), ("constrained", StickyAlgorithm::Constrained)];

/// `acks` by Kafka's spellings of the profile's values.
pub(super) const ACKS: [(&str, Acks); 3] = [("0", Acks::None), ("1", Acks::Leader), ("all", Acks::All)];

pub(super) fn producer_settings(t: &Table, profile: &Profile, notes: &mut Notes) -> Res<ProducerSettings> {
    let d = ProducerSettings::default();
    let release = ReleaseDefaults::of(profile);
    let acks = t.get("acks").map(acks).transpose()?;
    let retries = t.opt_u32("retries")?;
    let request_timeout_ms = t.u64_or("request.timeout.ms", d.request_timeout_ms)?;
    let linger_ms = t.u64_or("linger.ms", release.linger_ms)?;
    let in_flight = t.opt_u32("max.in.flight.requests.per.connection")?.map(|v| at_least(v, 1)).transpose()?;
    let idempotence = t.opt_bool("enable.idempotence")?;

    // Kafka's rule: delivery.timeout.ms >= linger.ms + request.timeout.ms. An explicit
    // smaller value is a configuration error; the default is raised instead.
    let floor = linger_ms.saturating_add(request_timeout_ms);
    let delivery_timeout_ms = match t.opt_u64("delivery.timeout.ms")? {
        Some(v) if v.value < floor => {
            return Err(v.pos.issue(format!(
                "delivery.timeout.ms {} is smaller than linger.ms + request.timeout.ms = \
                 {linger_ms} + {request_timeout_ms}; expected at least {floor} \
                 (Kafka rejects it too)",
                v.value
            )))
        }
        Some(v) => v.value,
        None if d.delivery_timeout_ms < floor => {
            notes.add(
                &t.pos,
                format!(
                    "delivery.timeout.ms raised from {} to linger.ms + \
                request.timeout.ms = {floor}, as Kafka does",
                    d.delivery_timeout_ms
                ),
            );
            floor
        }
        None => d.delivery_timeout_ms,
    };

    // An explicitly idempotent producer takes acks = all and endless retries where they
    // are not set (ProducerConfig.postProcessParsedConfig / KafkaProducer.configureAcks
    // and configureRetries in 0.11-2.8), whatever the release's defaults.
    let asked_for_idempotence = idempotence.as_ref().is_some_and(|i| i.value);
    let acks_value = match &acks {
        Some(a) => a.value,
        None if asked_for_idempotence => Acks::All,
        None => release.acks,
    };
    let retries_value = match &retries {
        Some(r) => r.value,
        None if asked_for_idempotence => d.retries,
        None => release.retries,
    };
    let in_flight_value = in_flight.as_ref().map_or(d.max_in_flight_requests_per_connection, |v| v.value);
    // Idempotence needs acks=all, retries > 0 and at most 5 requests in flight.
    let conflict = if acks_value != Acks::All {
        Some((acks.map(|a| a.pos), format!("acks is {}, not \"all\"", acks_name(acks_value)), "acks = \"all\""))
    } else if retries_value == 0 {
        Some((retries.map(|r| r.pos), "retries is 0".to_string(), "retries of at least 1"))
    } else if in_flight_value > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
        let why = format!("max.in.flight.requests.per.connection is {in_flight_value}");
        Some((in_flight.map(|m| m.pos), why, "at most 5 requests in flight"))
    } else {
        None
    };
    let mut idempotence_quietly_disabled = false;
    let enable_idempotence = match (idempotence, conflict) {
        // Kafka rejects an explicit enable.idempotence = true that another setting contradicts.
        (Some(explicit), Some((pos, why, fix))) if explicit.value => {
            return Err(pos.unwrap_or_else(|| explicit.pos.clone()).issue(format!(
                "{why}, but `{}` is true and the idempotent producer needs acks = \"all\", \
                 retries > 0 and max.in.flight.requests.per.connection <= \
                 {MAX_IN_FLIGHT_FOR_IDEMPOTENCE} (Kafka rejects this too); \
                 expected {fix}, or enable.idempotence = false",
                explicit.pos.field
            )));
        }
        (Some(explicit), _) => explicit.value,
        // Before Kafka 3.0 (KIP-679) the producer is not idempotent unless asked.
        (None, _) if !release.enable_idempotence => false,
        // Kafka 3.x: on by default, but quietly disabled when another setting contradicts
        // it and the user did not ask for it.
        (None, Some((pos, why, _))) => {
            let pos = pos.unwrap_or_else(|| t.pos.clone());
            notes.add(
                &pos,
                format!(
                    "idempotence is disabled because {why}, as Kafka 3.x does \
                when enable.idempotence is not set"
                ),
            );
            idempotence_quietly_disabled = true;
            false
        }
        (None, None) => true,
    };

    let transactional_id = t.opt_string("transactional.id", "a transactional id")?;
    if let Some(id) = &transactional_id {
        if id.value.trim().is_empty() {
            return Err(id.pos.issue("expected a non-empty transactional.id"));
        }
        if !enable_idempotence {
            // `ProducerConfig.postProcessAndValidateIdempotenceConfigs`.
            return Err(id.pos.issue(
                "a transactional.id needs idempotence, which is off here (Kafka rejects this too: \
                 \"Cannot set a transactional.id without also enabling idempotence\"); expected \
                 enable.idempotence = true with acks = \"all\", or no transactional.id",
            ));
        }
    }
    let retry_backoff_ms = t.u64_or("retry.backoff.ms", d.retry_backoff_ms)?;
    let retry_backoff_max_ms = match retry_backoff_max_ms(t, profile)? {
        None => default_retry_backoff_max_ms(profile),
        Some(max) => {
            if retry_backoff_ms > max.value {
                notes.add(
                    &max.pos,
                    format!(
                        "retry.backoff.ms ({retry_backoff_ms}) is above retry.backoff.max.ms ({0}): the backoff is \
                         a constant {0} ms, as Kafka warns",
                        max.value
                    ),
                );
            }
            Some(max.value)
        }
    };
    Ok(ProducerSettings {
        acks: acks_value,
        retries: retries_value,
        request_timeout_ms,
        retry_backoff_ms,
        retry_backoff_max_ms,
        delivery_timeout_ms,
        batch_size: t.u64_or("batch.size", d.batch_size)?,
        linger_ms,
        max_in_flight_requests_per_connection: in_flight_value,
        metadata_max_age_ms: t.u64_or("metadata.max.age.ms", d.metadata_max_age_ms)?,
        enable_idempotence,
        idempotence_quietly_disabled,
        partitioner_adaptive_partitioning_enable: t
            .bool_or("partitioner.adaptive.partitioning.enable", d.partitioner_adaptive_partitioning_enable)?,
        partitioner_availability_timeout_ms: t
            .u64_or("partitioner.availability.timeout.ms", d.partitioner_availability_timeout_ms)?,
        transactional_id: transactional_id.map(|id| id.value),
        transaction_timeout_ms: opt_u64_min(t, "transaction.timeout.ms", 1)?
            .map_or(d.transaction_timeout_ms, |v| v.value),
        connections: connection_settings(t, profile)?,
    })
}

fn acks_name(acks: Acks) -> &'static str {
    match acks {
        Acks::None => "\"0\"",
        Acks::Leader => "\"1\"",
        Acks::All => "\"all\"",
    }
}

/// Reads `[[consumers]]`.
pub(super) fn consumers(tables: &[Table], topics: &[TopicSpec], profile: &Profile) -> Res<Vec<ConsumerSpec>> {
    let mut out = Vec::new();
    for t in tables {
        let count = count(t)?;
        let topic = topic_ref(t, topics)?;
        let mode = t
            .opt_string("mode", "a string")?
            .map(|sp| choice(&sp, &[("assign", ConsumerMode::Assign), ("subscribe", ConsumerMode::Subscribe)]))
            .transpose()?
            .unwrap_or(ConsumerMode::Assign);
        let group = t.opt_string("group", "a consumer group name")?;
        if let Some(g) = &group {
            if g.value.trim().is_empty() {
                return Err(g.pos.issue("expected a non-empty consumer group name"));
            }
        }
        if mode == ConsumerMode::Subscribe && group.is_none() {
            t.require("group", "a consumer group name, which `mode = \"subscribe\"` needs")?;
        }
        let partitions = match t.opt_string("partitions", "a string")? {
            None => ManualPartitions::All,
            Some(sp) if mode == ConsumerMode::Subscribe => {
                return Err(sp.pos.issue(
                    "`partitions` chooses what an assign-mode consumer assigns itself; a subscribed member \
                     gets its partitions from the group; expected mode = \"assign\", or no `partitions`",
                ))
            }
            Some(sp) => choice(&sp, &[("all", ManualPartitions::All), ("spread", ManualPartitions::Spread)])?,
        };
        let poll_interval_ms = t
            .opt_duration_ms("poll_interval")?
            .map(|d| d.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string()))
            .transpose()?
            .map_or(100, |d| d.value);
        let config = match t.opt_table("config", keys::CONSUMER_CONFIG)? {
            Some(c) => consumer_settings(&c, group.is_some(), profile)?,
            None => ConsumerSettings { enable_auto_commit: group.is_some(), ..consumer_defaults(profile) },
        };
        let sticky_assignor = switch_choice(t, "sticky_assignor", profile, Switch::StickyAssignor, &STICKY_ASSIGNORS)?;
        let processing = t
            .opt_string("processing", "a string")?
            .map(|sp| choice(&sp, &[("sync", Processing::Sync), ("async", Processing::Async)]))
            .transpose()?
            .unwrap_or(Processing::Sync);
        let process_time_ms = t.opt_duration_ms("process_time")?.map_or(0, |d| d.value);
        let commit = commit_policy(t, group.is_some(), &config)?;
        let commit_mode = match t.opt_string("commit_mode", "a string")? {
            None => CommitMode::Sync,
            Some(sp) => {
                let mode = choice(&sp, &[("sync", CommitMode::Sync), ("async", CommitMode::Async)])?;
                if mode == CommitMode::Async
                    && !matches!(commit, CommitPolicy::AfterProcessing | CommitPolicy::BeforeProcessing)
                {
                    return Err(sp.pos.issue(
                        "commit_mode = \"async\" applies to manual commits; expected commit = \"after-processing\" \
                         or \"before-processing\" (with \"enable.auto.commit\" = false)",
                    ));
                }
                mode
            }
        };
        let commit_on_revoke = match t.opt_bool("commit_on_revoke")? {
            Some(b) if b.value && !matches!(commit, CommitPolicy::AfterProcessing | CommitPolicy::BeforeProcessing) => {
                return Err(b.pos.issue(
                    "commit_on_revoke = true commits by hand in the rebalance listener; expected commit = \
                     \"after-processing\" or \"before-processing\" (with \"enable.auto.commit\" = false)",
                ))
            }
            Some(b) if b.value && mode == ConsumerMode::Assign => {
                return Err(b.pos.issue(
                    "commit_on_revoke = true commits in the rebalance listener, and an assign-mode consumer \
                     never rebalances; expected mode = \"subscribe\", or no commit_on_revoke",
                ))
            }
            b => b.is_some_and(|b| b.value),
        };
        out.push(ConsumerSpec {
            count,
            topic,
            mode,
            group: group.map(|g| g.value),
            poll_interval_ms,
            processing,
            process_time_ms,
            commit,
            commit_mode,
            commit_on_revoke,
            partitions,
            sticky_assignor,
            config,
        });
    }
    Ok(out)
}

/// A group consumer's commit policies by their scenario names.
pub(super) const COMMIT_POLICIES: [(&str, CommitPolicy); 3] = [
    ("auto", CommitPolicy::Auto),
    ("after-processing", CommitPolicy::AfterProcessing),
    ("before-processing", CommitPolicy::BeforeProcessing),
];

/// The `commit` key, which must agree with `enable.auto.commit` (auto-commit on means
/// `"auto"`, off means a manual policy) and needs a group.
fn commit_policy(t: &Table, has_group: bool, config: &ConsumerSettings) -> Res<CommitPolicy> {
    let Some(sp) = t.opt_string("commit", "a string")? else {
        return Ok(match (has_group, config.enable_auto_commit) {
            (false, _) => CommitPolicy::None,
            (true, true) => CommitPolicy::Auto,
            (true, false) => CommitPolicy::AfterProcessing,
        });
    };
    let policy = choice(&sp, &COMMIT_POLICIES)?;
    if !has_group {
        return Err(sp.pos.issue("`commit` needs a consumer `group` (mode = \"subscribe\") to commit to"));
    }
    match (policy, config.enable_auto_commit) {
        (CommitPolicy::Auto, false) => Err(sp.pos.issue(
            "commit = \"auto\" but \"enable.auto.commit\" is false in [consumers.config]; expected \
             \"enable.auto.commit\" = true, or a manual commit policy",
        )),
        (CommitPolicy::AfterProcessing | CommitPolicy::BeforeProcessing, true) => Err(sp.pos.issue(format!(
            "commit = {} commits by hand, but \"enable.auto.commit\" is on (Kafka's default with a group); \
             expected \"enable.auto.commit\" = false in [consumers.config]",
            excerpt(&sp.value)
        ))),
        _ => Ok(policy),
    }
}

/// The client assignors: the short names, then Kafka's class names.
pub(super) const STRATEGIES: [(&str, AssignmentStrategy); 8] = [
    ("range", AssignmentStrategy::Range),
    ("roundrobin", AssignmentStrategy::RoundRobin),
    ("sticky", AssignmentStrategy::Sticky),
    ("cooperative-sticky", AssignmentStrategy::CooperativeSticky),
    ("org.apache.kafka.clients.consumer.RangeAssignor", AssignmentStrategy::Range),
    ("org.apache.kafka.clients.consumer.RoundRobinAssignor", AssignmentStrategy::RoundRobin),
    ("org.apache.kafka.clients.consumer.StickyAssignor", AssignmentStrategy::Sticky),
    ("org.apache.kafka.clients.consumer.CooperativeStickyAssignor", AssignmentStrategy::CooperativeSticky),
];

/// `auto.offset.reset` by Kafka's spellings.
const OFFSET_RESETS: [(&str, OffsetReset); 3] =
    [("earliest", OffsetReset::Earliest), ("latest", OffsetReset::Latest), ("none", OffsetReset::None)];

/// `offset_validation` by its scenario spellings (also the profile's values).
pub(super) const OFFSET_VALIDATIONS: [(&str, OffsetValidation); 2] =
    [("kip-320", OffsetValidation::Kip320), ("none", OffsetValidation::None)];

/// Kafka's consumer defaults in the scenario's release.
pub(super) fn consumer_defaults(profile: &Profile) -> ConsumerSettings {
    ConsumerSettings {
        session_timeout_ms: profile_u64(profile, Switch::SessionTimeout),
        offset_validation: profile_choice(profile, Switch::OffsetValidation, &OFFSET_VALIDATIONS),
        retry_backoff_max_ms: default_retry_backoff_max_ms(profile),
        connections: default_connection_settings(profile),
        ..ConsumerSettings::default()
    }
}

/// `group.instance.id`: static membership needs a group and Kafka 2.3 (KIP-345).
fn group_instance_id(t: &Table, has_group: bool, profile: &Profile) -> Res<Option<String>> {
    let Some(id) = t.opt_string("group.instance.id", "a group instance id")? else { return Ok(None) };
    let first_release = crate::profile::KafkaVersion::new(2, 3, 0);
    if !has_group {
        return Err(id.pos.issue(
            "group.instance.id makes a group member static, and this consumer has no `group`; expected a \
             `group` (mode = \"subscribe\"), or no group.instance.id",
        ));
    }
    super::fields::check_introduced(&id.pos, "group.instance.id", first_release, "KIP-345", profile)?;
    if id.value.is_empty() {
        return Err(id.pos.issue("group.instance.id is empty; expected a non-empty id, or no group.instance.id"));
    }
    Ok(Some(id.value))
}

pub(super) fn consumer_settings(t: &Table, has_group: bool, profile: &Profile) -> Res<ConsumerSettings> {
    let d = consumer_defaults(profile);
    let (group_protocol, group_remote_assignor) = super::group_protocol::consumer_settings(t, profile)?;
    let offset_validation =
        switch_choice(t, "offset_validation", profile, Switch::OffsetValidation, &OFFSET_VALIDATIONS)?;
    let auto_commit = t.opt_bool("enable.auto.commit")?;
    if let Some(a) = auto_commit.as_ref().filter(|a| a.value && !has_group) {
        return Err(a.pos.issue(
            "enable.auto.commit is true but the consumer has no `group` to commit to \
             (Kafka rejects this too); expected a `group`, or enable.auto.commit = false",
        ));
    }
    let strategy = match t.opt_string("partition.assignment.strategy", "a string")? {
        None => d.partition_assignment_strategy,
        Some(sp) => match STRATEGIES.iter().find(|(n, _)| *n == sp.value) {
            Some((_, AssignmentStrategy::CooperativeSticky)) => {
                let key = "partition.assignment.strategy = \"cooperative-sticky\"";
                super::fields::check_introduced(
                    &sp.pos,
                    key,
                    crate::profile::KafkaVersion::new(2, 4, 0),
                    "KIP-429",
                    profile,
                )?;
                AssignmentStrategy::CooperativeSticky
            }
            Some((_, s)) => *s,
            None => return Err(bad_choice(&sp, &["range", "roundrobin", "sticky", "cooperative-sticky"])),
        },
    };
    let session_timeout_ms = opt_u64_min(t, "session.timeout.ms", 1)?.map_or(d.session_timeout_ms, |v| v.value);
    let heartbeat = opt_u64_min(t, "heartbeat.interval.ms", 1)?;
    if let Some(h) = heartbeat.as_ref().filter(|h| h.value >= session_timeout_ms) {
        return Err(h.pos.issue(format!(
            "heartbeat.interval.ms ({}) must be below session.timeout.ms ({session_timeout_ms}), as Kafka \
             requires; expected a smaller value, typically a third of the session timeout",
            h.value
        )));
    }
    let heartbeat_interval_ms = match heartbeat {
        Some(h) => h.value,
        // Kafka's default (3000) is only valid for session timeouts above it.
        None if d.heartbeat_interval_ms < session_timeout_ms => d.heartbeat_interval_ms,
        None => {
            let sp = t.opt_u64("session.timeout.ms")?.expect("a session timeout below the default was set");
            return Err(sp.pos.issue(format!(
                "session.timeout.ms ({session_timeout_ms}) is not above the default heartbeat.interval.ms \
                 ({}); expected a larger session timeout, or set \"heartbeat.interval.ms\" below it",
                d.heartbeat_interval_ms
            )));
        }
    };
    Ok(ConsumerSettings {
        auto_offset_reset: t
            .opt_string("auto.offset.reset", "a string")?
            .map(|sp| choice(&sp, &OFFSET_RESETS))
            .transpose()?
            .unwrap_or(d.auto_offset_reset),
        fetch_max_wait_ms: t.u64_or("fetch.max.wait.ms", d.fetch_max_wait_ms)?,
        metadata_max_age_ms: t.u64_or("metadata.max.age.ms", d.metadata_max_age_ms)?,
        allow_auto_create_topics: t.bool_or("allow.auto.create.topics", d.allow_auto_create_topics)?,
        max_poll_records: t
            .opt_u32("max.poll.records")?
            .map(|v| at_least(v, 1))
            .transpose()?
            .map_or(d.max_poll_records, |v| v.value),
        enable_auto_commit: auto_commit.map_or(has_group, |a| a.value),
        auto_commit_interval_ms: t.u64_or("auto.commit.interval.ms", d.auto_commit_interval_ms)?,
        session_timeout_ms,
        max_poll_interval_ms: opt_u64_min(t, "max.poll.interval.ms", 1)?.map_or(d.max_poll_interval_ms, |v| v.value),
        retry_backoff_max_ms: retry_backoff_max_ms(t, profile)?.map_or(d.retry_backoff_max_ms, |v| Some(v.value)),
        connections: connection_settings(t, profile)?,
        heartbeat_interval_ms,
        partition_assignment_strategy: strategy,
        group_protocol,
        group_remote_assignor,
        group_instance_id: group_instance_id(t, has_group, profile)?,
        default_api_timeout_ms: opt_u64_min(t, "default.api.timeout.ms", 1)?
            .map_or(d.default_api_timeout_ms, |v| v.value),
        isolation_level: t
            .opt_string("isolation.level", "a string")?
            .map(|sp| {
                choice(
                    &sp,
                    &[
                        ("read_uncommitted", IsolationLevel::ReadUncommitted),
                        ("read_committed", IsolationLevel::ReadCommitted),
                    ],
                )
            })
            .transpose()?
            .unwrap_or(d.isolation_level),
        offset_validation,
    })
}
