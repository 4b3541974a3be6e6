//! The top reader: reads the raw tables into a [`Scenario`], applying defaults and
//! checking what values mean, alone and together. It reads the root table,
//! `[cluster]`, `[network]`, `[[topics]]` and `[expect]` itself and calls the other
//! readers for the rest: `workload` (producers and consumers), `faults`, `nemesis` and
//! `swarm`. Nothing in `scenario` but `parse` and `load` uses it.

use std::collections::BTreeSet;
use std::path::Path;

use crate::check::AnomalyKind;
use crate::coverage::ReachedState;
use crate::metastore::MetastoreConfig;
use crate::profile::{Profile, Switch};
use crate::protocol::{MetadataMode, TransactionVersion};

use super::error::{closest, excerpt, one_of_strings};
use super::experiment::{Dimension, ExperimentSpec, MAX_COMBINATIONS};
use super::fields::{
    at_least, loss_rate, opt_u64_min, profile_bool, profile_choice, profile_u64, switch_choice, Notes,
    FOLLOWER_RESTARTS, TRUNCATION_MODES, UNKNOWN_PRODUCER_SEQUENCES,
};
use super::keys;
use super::limits::{DEFAULT_LIVENESS_TIMEOUT_MS, MAX_BROKERS, MAX_PARTITIONS, MAX_SEEDS};
use super::model::{
    BrokerSettings, ClusterSpec, Expectations, NetworkSpec, OsSettings, Scenario, Theme, TopicSettings, TopicSpec,
};
use super::model_clients::{ConsumerMode, ProducerSpec};
use super::overrides::{Overrides, SetScope, Setting};
use super::raw::{self, Node, Table};
use super::span::{Issue, Pos, Res, Sp};
use super::values::{choice, parse_seed_range};
use super::{delay_queues, events, faults, fix, hardware, kraft, nemesis, pipelines, swarm, texts, workload};

/// Parses and validates scenario text with the `--set` settings applied, and checks that
/// the scenario reads with its `[fix] set` applied too.
pub(super) fn build(text: &str, path: &Path, settings: &[Setting], scope: SetScope) -> Res<Scenario> {
    let (scenario, fix_positions) = build_once(text, path, settings, scope)?;
    check_fix(text, path, &scenario.fix_settings, &fix_positions)?;
    check_swarm_releases(text, path, settings, scope, &scenario)?;
    Ok(scenario)
}

/// A swarm that draws `kafka_version` runs the file under each listed release: the file
/// (with the command line's settings) must load under each, so that no seed's release
/// refuses what the file writes. A `--set kafka_version` fixes the release instead.
fn check_swarm_releases(
    text: &str,
    path: &Path,
    settings: &[Setting],
    scope: SetScope,
    scenario: &Scenario,
) -> Res<()> {
    use super::model::SwarmKey;
    let Some(swarm) = &scenario.swarm else { return Ok(()) };
    let Some(choices) = swarm.settings.iter().find(|c| c.key == SwarmKey::KafkaVersion) else { return Ok(()) };
    if settings.iter().any(|s| s.key == SwarmKey::KafkaVersion.name()) {
        return Ok(());
    }
    for version in &choices.values {
        let mut with = settings.to_vec();
        with.push(Setting { key: SwarmKey::KafkaVersion.name().to_string(), value: version.clone() });
        let Err(issue) = build_once(text, path, &with, scope) else { continue };
        let at = issue.field.as_deref().map_or(String::new(), |f| format!(" (at `{f}`)"));
        let message = format!("the file does not load under Kafka {version}{at}: {}", issue.message);
        // The listed release's own position, read again from the text.
        let overrides = Overrides::new(&[], text.len())?;
        let doc = raw::parse_document(text)?;
        let root = raw::root(&doc, &overrides)?;
        let t = root.opt_table("swarm", keys::SWARM)?.expect("a swarm that draws releases has [swarm]");
        let (_, positions) = super::swarm_settings::settings(&t, &scenario.consumers)?;
        let pos = positions.into_iter().find(|(v, _)| v == version).map(|(_, p)| p).expect("a listed release");
        return Err(pos.issue(message));
    }
    Ok(())
}

/// [`build`] without the check of the fix; with the position of each `[fix] set` value.
fn build_once(text: &str, path: &Path, settings: &[Setting], scope: SetScope) -> Res<(Scenario, Vec<Pos>)> {
    let overrides = Overrides::new(settings, text.len())?;
    let doc = raw::parse_document(text).map_err(fix::explain_duplicate)?;
    let root = raw::root(&doc, &overrides)?;
    let (scenario, fix_positions) = build_from(&root, text, path)?;
    if scope == SetScope::OneScenario {
        overrides.check_all_used()?;
    }
    Ok((Scenario { settings: settings.to_vec(), ..scenario }, fix_positions))
}

/// Reads the file again with its `[fix] set` applied as `--set` would apply it (the
/// command line's settings left out: they are the user's), so that a fix setting the
/// scenario cannot take fails when the file loads, at the setting.
fn check_fix(text: &str, path: &Path, fix: &[Setting], positions: &[Pos]) -> Res<()> {
    if fix.is_empty() {
        return Ok(());
    }
    let Err(issue) = build_once(text, path, fix, SetScope::OneScenario) else { return Ok(()) };
    let in_setting = issue.span.as_ref().and_then(|s| s.start.checked_sub(text.len() + 1));
    let at = issue.field.as_deref().map_or(String::new(), |f| format!(" (at `{f}`)"));
    Err(match in_setting.and_then(|i| positions.get(i)) {
        Some(pos) => pos.issue(format!("the scenario cannot take this fix setting{at}: {}", issue.message)),
        None => Issue { message: format!("with [fix] set applied{at}: {}", issue.message), ..issue },
    })
}

fn build_from(root: &Table, text: &str, path: &Path) -> Res<(Scenario, Vec<Pos>)> {
    let mut notes = Notes::new(text);

    let name = match root.opt_string("name", "a string")? {
        Some(sp) => scenario_name(sp)?,
        None => path.file_stem().map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned()),
    };
    let themes = Theme::ALL.map(|t| (t.name(), t));
    let theme = root.opt_string("theme", "a string")?.map(|sp| choice(&sp, &themes)).transpose()?;
    let profile = match root.opt_string("kafka_version", "a Kafka release such as \"2.4\"")? {
        Some(sp) => sp.value.parse().and_then(Profile::of).map_err(|e| sp.pos.issue(e))?,
        None => Profile::default(),
    };
    let seeds = seeds(root.require("seeds", "a list of seeds such as [1, 2, 3] or a range such as \"1..51\"")?)?;
    let duration_ms = root
        .require("duration", "the length of the safety phase, such as \"20s\"")?
        .duration_ms()?
        .check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string())?
        .value;
    let liveness_timeout_ms = root
        .opt_duration_ms("liveness_timeout")?
        .map(|d| d.check(|d| d > 0, |_| "expected a duration longer than 0ms".to_string()))
        .transpose()?
        .map_or(DEFAULT_LIVENESS_TIMEOUT_MS, |d| d.value);

    // `[swarm] metadata` decides which of the file's settings can take effect.
    let swarm_metadata = match root.opt_table("swarm", keys::SWARM)? {
        Some(t) => swarm::metadata(&t, &profile)?,
        None => None,
    };
    let swarm_modes = swarm_metadata.as_ref().map(|m| m.value.as_slice());
    let (cluster, kraft_quorum) =
        cluster(root.opt_table("cluster", keys::CLUSTER)?, &profile, swarm_modes, &mut notes)?;
    let modes = swarm_modes.map_or_else(|| vec![cluster.metadata], <[MetadataMode]>::to_vec);
    let metastore_table = root.opt_table("metastore", keys::METASTORE)?;
    if let (Some(t), false) = (&metastore_table, modes.contains(&MetadataMode::Zookeeper)) {
        notes.add(&t.pos, "no effect: a KRaft cluster runs no ZooKeeper".into());
    }
    let metastore_pos = metastore_table.as_ref().map_or(root.pos.clone(), |t| t.pos.clone());
    let metastore = metastore(metastore_table)?;
    let zk_timeout_pos = root
        .opt_table("cluster", keys::CLUSTER)?
        .and_then(|c| c.opt_table("config", keys::BROKER_CONFIG).ok().flatten())
        .and_then(|c| c.get("zookeeper.session.timeout.ms").map(|n| n.pos.clone()));
    if modes.contains(&MetadataMode::Zookeeper) {
        session_note(&cluster, &metastore, &zk_timeout_pos.unwrap_or(metastore_pos), &mut notes);
    }
    let network = network(root.opt_table("network", keys::NETWORK)?)?;
    let topics = topics(&root.tables("topics", keys::TOPIC)?, &cluster)?;
    let mut producers =
        workload::producers(&root.tables("producers", keys::PRODUCER)?, &topics, &profile, &mut notes, duration_ms)?;
    let consumer_tables = root.tables("consumers", keys::CONSUMER)?;
    let consumers = workload::consumers(&consumer_tables, &topics, &profile)?;
    super::group_protocol::check_groups(&consumer_tables, &consumers, &cluster, &profile)?;
    let pipelines = pipelines::pipelines(&root.tables("pipelines", keys::PIPELINE)?, &topics, &profile, &mut notes)?;
    let other_groups: Vec<String> =
        consumers.iter().filter_map(|c| c.group.clone()).chain(pipelines.iter().map(|p| p.group.clone())).collect();
    let delay_tables = root.tables("delay_queues", keys::DELAY_QUEUE)?;
    let delay_queues =
        delay_queues::delay_queues(&delay_tables, &topics, &other_groups, &mut producers, &profile, &mut notes)?;
    let world = faults::World {
        brokers: cluster.brokers,
        controllers: cluster.controllers,
        producers: producers.iter().map(|p| p.count).sum(),
        consumers: consumers.iter().map(|c| c.count).sum(),
        transactional_producers: transactional_producer_numbers(&producers),
        pipelines: pipelines.iter().map(|p| p.count).sum(),
        forwarders: delay_queues.iter().map(|q| q.count).sum(),
        topics: &topics,
        groups: other_groups.into_iter().chain(delay_queues.iter().map(|q| q.group.clone())).collect(),
        duration_ms,
    };
    let faults = faults::faults(&root.tables("faults", keys::FAULT)?, &world, text)?;
    let events = events::events(&root.tables("events", keys::EVENT)?, &world, &cluster, &consumers, &profile, text)?;
    let nemesis = match root.opt_table("nemesis", keys::NEMESIS)? {
        Some(t) => {
            let line = t.pos.line(text);
            let cx = nemesis::NemesisContext {
                network_latency_ms_max: network.latency_ms_max,
                duration_ms,
                group_consumers: consumers.iter().filter(|c| c.mode == ConsumerMode::Subscribe).map(|c| c.count).sum(),
                line,
            };
            Some(nemesis::nemesis(&t, &cx)?)
        }
        None => None,
    };
    let swarm = match root.opt_table("swarm", keys::SWARM)? {
        Some(t) => {
            let cx = swarm::Context {
                brokers: cluster.brokers,
                metadata: cluster.metadata,
                controllers: cluster.controllers,
                swarm_metadata: swarm_metadata.clone(),
                kraft_quorum: kraft_quorum.map(|q| (q.controllers, q.pre_vote)),
                min_insync_replicas: cluster.config.min_insync_replicas,
                topics: &topics,
                producers: &producers,
                consumers: &consumers,
                faults: &faults,
                nemesis_window_ms: nemesis.as_ref().map(|n| duration_ms - n.start_ms),
            };
            Some(swarm::swarm(&t, &cx)?)
        }
        None => None,
    };
    let expect = expectations(root.opt_table("expect", keys::EXPECT)?)?;
    let experiment = root.opt_table("experiment", keys::EXPERIMENT)?.map(|t| experiment(&t, text)).transpose()?;

    let fix = fix::fix(root)?;
    let english = texts::english(root, &fix)?;
    let zh = texts::chinese(root, &english)?;
    let fix_prevents = check_fix_prevents(&fix.prevents, &expect)?;
    let (fix_settings, fix_positions): (Vec<Setting>, Vec<Pos>) = fix.set.into_iter().unzip();

    let scenario = Scenario {
        name,
        path: path.to_path_buf(),
        settings: Vec::new(),
        title: english.title,
        lesson: english.lesson,
        mechanism: english.mechanism,
        fix: english.fix,
        fix_settings,
        fix_prevents,
        zh,
        theme,
        seeds,
        profile,
        duration_ms,
        liveness_timeout_ms,
        cluster,
        metastore,
        network,
        topics,
        producers,
        consumers,
        pipelines,
        delay_queues,
        faults,
        events,
        nemesis,
        swarm,
        expect,
        experiment,
        notes: notes.list,
        source: text.to_string(),
    };
    Ok((scenario, fix_positions))
}

fn scenario_name(sp: Sp<String>) -> Res<String> {
    let ok =
        !sp.value.is_empty() && sp.value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Err(sp.pos.issue(format!(
            "expected a name of letters, digits, `-`, `_` and `.` (it names report files), found \
                {}",
            excerpt(&sp.value)
        )));
    }
    Ok(sp.value)
}

fn seeds(node: &Node) -> Res<Vec<u64>> {
    if let Some(text) = node.as_str() {
        return parse_seed_range(text).map_err(|m| node.pos.issue(m));
    }
    let items = node.array("a list of seeds such as [1, 2, 3] or a range such as \"1..51\"")?;
    if items.is_empty() {
        return Err(node
            .pos
            .issue("the seed list is empty; expected at least one seed, such as [1, 2, 3] or \"1..11\""));
    }
    if items.len() as u64 > MAX_SEEDS {
        return Err(node
            .pos
            .issue(format!("expected at most {MAX_SEEDS} seeds in a scenario file, found {}", items.len())));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in &items {
        let seed = item.u64()?;
        if !seen.insert(seed.value) {
            return Err(seed.pos.issue(format!("seed {} is listed twice; expected each seed once", seed.value)));
        }
        out.push(seed.value);
    }
    Ok(out)
}

/// The `transaction.version` feature levels, as the profile and scenario files write them.
pub(super) const TRANSACTION_VERSIONS: [(&str, TransactionVersion); 3] =
    [("0", TransactionVersion::Tv0), ("1", TransactionVersion::Tv1), ("2", TransactionVersion::Tv2)];

/// Reads `[cluster]`; returns it with the quorum a drawn KRaft configuration runs, if
/// `[swarm]` (`swarm_modes`) or the cluster itself makes one KRaft (see
/// [`kraft::quorum`]).
fn cluster(
    table: Option<Table>,
    profile: &Profile,
    swarm_modes: Option<&[MetadataMode]>,
    notes: &mut Notes,
) -> Res<(ClusterSpec, Option<kraft::Quorum>)> {
    let (quorum, kraft_quorum) = kraft::quorum(table.as_ref(), profile, swarm_modes, notes)?;
    let modes = swarm_modes.map_or_else(|| vec![quorum.metadata], <[MetadataMode]>::to_vec);
    let Some(t) = table else {
        let spec = ClusterSpec {
            brokers: 3,
            metadata: quorum.metadata,
            controllers: quorum.controllers,
            combined: quorum.combined,
            pre_vote: quorum.pre_vote,
            truncation: profile_choice(profile, Switch::Truncation, &TRUNCATION_MODES),
            follower_restart: profile_choice(profile, Switch::FollowerRestart, &FOLLOWER_RESTARTS),
            caught_up_at_leader_log_end: profile_bool(profile, Switch::CaughtUpAtLeaderLogEnd),
            unknown_producer_sequence: profile_choice(
                profile,
                Switch::UnknownProducerSequence,
                &UNKNOWN_PRODUCER_SEQUENCES,
            ),
            config: broker_defaults(profile, 3),
            os: OsSettings::default(),
            machine: Default::default(),
        };
        return Ok((spec, kraft_quorum));
    };
    let brokers = t
        .opt_u32("brokers")?
        .map(|b| {
            b.check(|b| (1..=MAX_BROKERS).contains(&b), |b| format!("expected 1 to {MAX_BROKERS} brokers, found {b}"))
        })
        .transpose()?
        .map_or(3, |b| b.value);
    if let Some(combined) = t.opt_bool("combined")?.filter(|_| quorum.combined && quorum.controllers > brokers) {
        return Err(combined.pos.issue(format!(
            "in combined mode each controller runs in a broker's process, but there are {} controllers \
             for {brokers} brokers; expected controllers <= brokers",
            quorum.controllers
        )));
    }
    let config = match t.opt_table("config", keys::BROKER_CONFIG)? {
        Some(c) => {
            kraft::note_other_mode_keys(&c, &modes, notes);
            let mut settings = broker_settings(&c, brokers, profile)?;
            kraft::settings(&c, &mut settings)?;
            settings
        }
        None => broker_defaults(profile, brokers),
    };
    let os = match t.opt_table("os", keys::OS)? {
        Some(o) => hardware::os_settings(&o)?,
        None => OsSettings::default(),
    };
    let machine = match t.opt_table("machine", keys::MACHINE)? {
        Some(m) => hardware::machine_spec(&m)?,
        None => crate::sim::machine::MachineSpec::default(),
    };
    let spec = ClusterSpec {
        brokers,
        metadata: quorum.metadata,
        controllers: quorum.controllers,
        combined: quorum.combined,
        pre_vote: quorum.pre_vote,
        truncation: switch_choice(&t, "truncation", profile, Switch::Truncation, &TRUNCATION_MODES)?,
        follower_restart: switch_choice(&t, "follower_restart", profile, Switch::FollowerRestart, &FOLLOWER_RESTARTS)?,
        caught_up_at_leader_log_end: t
            .bool_or("caught_up_at_leader_log_end", profile_bool(profile, Switch::CaughtUpAtLeaderLogEnd))?,
        unknown_producer_sequence: switch_choice(
            &t,
            "unknown_producer_sequence",
            profile,
            Switch::UnknownProducerSequence,
            &UNKNOWN_PRODUCER_SEQUENCES,
        )?,
        config,
        os,
        machine,
    };
    Ok((spec, kraft_quorum))
}

/// An optional whole-number setting of at least 1 (Kafka's `atLeast(1)`).
fn opt_u32_at_least_1(t: &Table, key: &str) -> Res<Option<u32>> {
    Ok(t.opt_u32(key)?.map(|v| at_least(v, 1)).transpose()?.map(|v| v.value))
}

/// Kafka's broker defaults in the scenario's release, for `brokers` brokers.
fn broker_defaults(profile: &Profile, brokers: u32) -> BrokerSettings {
    BrokerSettings {
        unclean_leader_election_enable: profile_bool(profile, Switch::UncleanLeaderElection),
        offsets_topic_replication_factor: brokers.min(3),
        transaction_state_log_replication_factor: brokers.min(3),
        transaction_state_log_min_isr: brokers.min(2),
        transaction_partition_verification_enable: profile_bool(profile, Switch::TransactionPartitionVerification),
        transaction_version: profile_choice(profile, Switch::TransactionVersion, &TRANSACTION_VERSIONS),
        group_max_session_timeout_ms: profile_u64(profile, Switch::GroupMaxSessionTimeout),
        group_initial_rebalance_delay_ms: profile_u64(profile, Switch::GroupInitialRebalanceDelay),
        group_consumer: super::group_protocol::broker_defaults(profile),
        zookeeper_session_timeout_ms: profile_u64(profile, Switch::ZookeeperSessionTimeout),
        eligible_leader_replicas_enable: profile_bool(profile, Switch::EligibleLeaderReplicas),
        ..BrokerSettings::default()
    }
}

/// `transaction.version` as the scenario sets it: a feature level the scenario's release
/// has (levels 1 and 2 came with Kafka 4.0).
fn transaction_version(t: &Table, profile: &Profile) -> Res<Option<TransactionVersion>> {
    let Some(level) = t.opt_u32("transaction.version")? else { return Ok(None) };
    let first_release = crate::profile::KafkaVersion::new(4, 0, 0);
    let version =
        level.check(|v| v <= 2, |v| format!("expected a transaction.version feature level of 0, 1 or 2, found {v}"))?;
    let version = version.check(
        |v| v == 0 || profile.version >= first_release,
        |v| {
            format!(
                "transaction.version {v} needs Kafka {first_release} or later (KIP-890 part 2, KIP-1022), but \
                 kafka_version is {}; expected 0, or kafka_version \"4.0\" or later",
                profile.version
            )
        },
    )?;
    Ok(TRANSACTION_VERSIONS.iter().find(|(name, _)| name.parse() == Ok(version.value)).map(|&(_, v)| v))
}

/// A milliseconds setting of at least `min` that came with Kafka 4.0 (KIP-890 part 2's
/// broker-side retries of AddPartitionsToTxn): refused in a scenario of an earlier
/// release, where it would do nothing.
fn since_kafka_4(t: &Table, key: &str, min: u64, profile: &Profile) -> Res<Option<u64>> {
    let first_release = crate::profile::KafkaVersion::new(4, 0, 0);
    Ok(super::fields::opt_u64_since(t, key, min, first_release, "KIP-890 part 2", profile)?.map(|v| v.value))
}

/// An internal topic's partition count (`offsets.topic.num.partitions`, ...), if set.
fn internal_topic_partitions(t: &Table, key: &str) -> Res<Option<u32>> {
    let count = t.opt_u32(key)?.map(|v| {
        v.check(
            |v| (1..=MAX_PARTITIONS).contains(&v),
            |v| format!("expected 1 to {MAX_PARTITIONS} partitions, found {v}"),
        )
    });
    Ok(count.transpose()?.map(|v| v.value))
}

/// An internal topic's replication factor, at most the broker count, if set.
fn internal_topic_replication(t: &Table, key: &str, brokers: u32) -> Res<Option<u32>> {
    let factor = t.opt_u32(key)?.map(|v| {
        v.check(|v| (1..=brokers).contains(&v), |v| format!("expected 1 to {brokers} (the broker count), found {v}"))
    });
    Ok(factor.transpose()?.map(|v| v.value))
}

fn broker_settings(t: &Table, brokers: u32, profile: &Profile) -> Res<BrokerSettings> {
    let d = broker_defaults(profile, brokers);
    let min_isr = t.opt_u32("min.insync.replicas")?.map(|v| at_least(v, 1)).transpose()?;
    let lag = opt_u64_min(t, "replica.lag.time.max.ms", 1)?;
    let lag_ms = lag.as_ref().map_or(d.replica_lag_time_max_ms, |v| v.value);
    let txn_replication_factor = internal_topic_replication(t, "transaction.state.log.replication.factor", brokers)?
        .unwrap_or(d.transaction_state_log_replication_factor);
    let fetch_wait = t.opt_u64("replica.fetch.wait.max.ms")?;
    // KafkaConfig.validateValues: "replica.socket.timeout.ms should always be at least
    // replica.fetch.wait.max.ms"; the socket timeout is not settable here, so Kafka's
    // default applies.
    if let Some(w) = fetch_wait.as_ref().filter(|w| w.value > REPLICA_SOCKET_TIMEOUT_MS) {
        return Err(w.pos.issue(format!(
            "replica.fetch.wait.max.ms {} is larger than replica.socket.timeout.ms ({REPLICA_SOCKET_TIMEOUT_MS}, \
             Kafka's default), which Kafka refuses (\"replica.socket.timeout.ms should always be at least \
             replica.fetch.wait.max.ms\"); expected at most {REPLICA_SOCKET_TIMEOUT_MS}",
            w.value
        )));
    }
    if let Some(w) = &fetch_wait {
        if w.value > lag_ms {
            return Err(w.pos.issue(format!(
                "replica.fetch.wait.max.ms {} is larger than replica.lag.time.max.ms {lag_ms}, \
                 which would shrink the ISR on every idle fetch (Kafka rejects it); \
                 expected at most {lag_ms}",
                w.value
            )));
        }
    }
    let (group_min_session_timeout_ms, group_max_session_timeout_ms) = group_session_limits(t, &d)?;
    Ok(BrokerSettings {
        min_insync_replicas: min_isr.map_or(d.min_insync_replicas, |v| v.value),
        unclean_leader_election_enable: t
            .bool_or("unclean.leader.election.enable", d.unclean_leader_election_enable)?,
        delete_topic_enable: t.bool_or("delete.topic.enable", d.delete_topic_enable)?,
        auto_create_topics_enable: t.bool_or("auto.create.topics.enable", d.auto_create_topics_enable)?,
        num_partitions: opt_u32_at_least_1(t, "num.partitions")?.unwrap_or(d.num_partitions),
        default_replication_factor: opt_u32_at_least_1(t, "default.replication.factor")?
            .unwrap_or(d.default_replication_factor),
        replica_lag_time_max_ms: lag_ms,
        // SocketServerConfigs / ServerConfigs: each `atLeast(1)`.
        num_network_threads: opt_u32_at_least_1(t, "num.network.threads")?.unwrap_or(d.num_network_threads),
        num_io_threads: opt_u32_at_least_1(t, "num.io.threads")?.unwrap_or(d.num_io_threads),
        queued_max_requests: opt_u32_at_least_1(t, "queued.max.requests")?.unwrap_or(d.queued_max_requests),
        zookeeper_session_timeout_ms: opt_u64_min(t, "zookeeper.session.timeout.ms", 1)?
            .map_or(d.zookeeper_session_timeout_ms, |v| v.value),
        replica_fetch_wait_max_ms: fetch_wait.map_or(d.replica_fetch_wait_max_ms, |v| v.value),
        replica_fetch_max_bytes: t.u64_or("replica.fetch.max.bytes", d.replica_fetch_max_bytes)?,
        // ReplicationConfigs: `atLeast(0)`.
        replica_fetch_backoff_ms: t.u64_or("replica.fetch.backoff.ms", d.replica_fetch_backoff_ms)?,
        replica_high_watermark_checkpoint_interval_ms: opt_u64_min(
            t,
            "replica.high.watermark.checkpoint.interval.ms",
            1,
        )?
        .map_or(d.replica_high_watermark_checkpoint_interval_ms, |v| v.value),
        // The broker-wide names (ServerLogConfigs): a broker ignores the topic-level
        // `flush.messages` / `flush.ms` in its own configuration.
        flush_messages: opt_u64_min(t, "log.flush.interval.messages", 1)?.map(|v| v.value),
        flush_ms: t.opt_u64("log.flush.interval.ms")?.map(|v| v.value),
        log_retention_ms: log_retention_ms(t)?.map_or(d.log_retention_ms, |v| v.value),
        log_retention_bytes: opt_limit(t, "log.retention.bytes", 0)?.map_or(d.log_retention_bytes, |v| v.value),
        log_segment_bytes: segment_bytes(t, "log.segment.bytes")?.map_or(d.log_segment_bytes, |v| v.value),
        log_retention_check_interval_ms: opt_u64_min(t, "log.retention.check.interval.ms", 1)?
            .map_or(d.log_retention_check_interval_ms, |v| v.value),
        offsets_topic_num_partitions: internal_topic_partitions(t, "offsets.topic.num.partitions")?
            .unwrap_or(d.offsets_topic_num_partitions),
        offsets_topic_replication_factor: internal_topic_replication(t, "offsets.topic.replication.factor", brokers)?
            .unwrap_or(d.offsets_topic_replication_factor),
        transaction_state_log_num_partitions: internal_topic_partitions(t, "transaction.state.log.num.partitions")?
            .unwrap_or(d.transaction_state_log_num_partitions),
        transaction_state_log_replication_factor: txn_replication_factor,
        transaction_state_log_min_isr: t
            .opt_u32("transaction.state.log.min.isr")?
            .map(|v| {
                v.check(
                    |v| (1..=txn_replication_factor).contains(&v),
                    |v| format!("expected 1 to {txn_replication_factor} (its replication factor), found {v}"),
                )
            })
            .transpose()?
            .map_or(d.transaction_state_log_min_isr.min(txn_replication_factor), |v| v.value),
        transaction_max_timeout_ms: opt_u64_min(t, "transaction.max.timeout.ms", 1)?
            .map_or(d.transaction_max_timeout_ms, |v| v.value),
        transaction_abort_timed_out_transaction_cleanup_interval_ms: opt_u64_min(
            t,
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            1,
        )?
        .map_or(d.transaction_abort_timed_out_transaction_cleanup_interval_ms, |v| v.value),
        transaction_partition_verification_enable: t
            .bool_or("transaction.partition.verification.enable", d.transaction_partition_verification_enable)?,
        transaction_version: transaction_version(t, profile)?.unwrap_or(d.transaction_version),
        add_partitions_to_txn_retry_backoff_ms: since_kafka_4(t, "add.partitions.to.txn.retry.backoff.ms", 1, profile)?
            .unwrap_or(d.add_partitions_to_txn_retry_backoff_ms),
        add_partitions_to_txn_retry_backoff_max_ms: since_kafka_4(
            t,
            "add.partitions.to.txn.retry.backoff.max.ms",
            0,
            profile,
        )?
        .unwrap_or(d.add_partitions_to_txn_retry_backoff_max_ms),
        group_min_session_timeout_ms,
        group_max_session_timeout_ms,
        group_initial_rebalance_delay_ms: t
            .u64_or("group.initial.rebalance.delay.ms", d.group_initial_rebalance_delay_ms)?,
        group_consumer: super::group_protocol::broker_settings(t, profile, &d)?,
        controlled_shutdown_enable: t.bool_or("controlled.shutdown.enable", d.controlled_shutdown_enable)?,
        // Kafka accepts 0 retries (no request at all: the stop is an uncontrolled clean
        // shutdown); the simulation does too.
        controlled_shutdown_max_retries: t
            .u32_or("controlled.shutdown.max.retries", d.controlled_shutdown_max_retries)?,
        controlled_shutdown_retry_backoff_ms: t
            .u64_or("controlled.shutdown.retry.backoff.ms", d.controlled_shutdown_retry_backoff_ms)?,
        auto_leader_rebalance_enable: t.bool_or("auto.leader.rebalance.enable", d.auto_leader_rebalance_enable)?,
        // Kafka: `atLeast(1)`.
        leader_imbalance_check_interval_seconds: opt_u64_min(t, "leader.imbalance.check.interval.seconds", 1)?
            .map_or(d.leader_imbalance_check_interval_seconds, |v| v.value),
        leader_imbalance_per_broker_percentage: t
            .opt_u32("leader.imbalance.per.broker.percentage")?
            .map(|v| v.check(|v| v <= 100, |v| format!("expected a percentage from 0 to 100, found {v}")))
            .transpose()?
            .map_or(d.leader_imbalance_per_broker_percentage, |v| v.value),
        ..d
    })
}

/// `group.min.session.timeout.ms` and `group.max.session.timeout.ms`; a maximum below
/// the minimum would refuse every member.
fn group_session_limits(t: &Table, d: &BrokerSettings) -> Res<(u64, u64)> {
    let min = t.u64_or("group.min.session.timeout.ms", d.group_min_session_timeout_ms)?;
    let max = t
        .opt_u64("group.max.session.timeout.ms")?
        .map(|v| {
            v.check(|v| v >= min, |v| format!("expected at least group.min.session.timeout.ms ({min}), found {v}"))
        })
        .transpose()?
        .map_or(d.group_max_session_timeout_ms, |v| v.value);
    Ok((min, max))
}

/// Kafka's smallest `segment.bytes` (a legacy record's overhead).
const MIN_SEGMENT_BYTES: u64 = 14;

/// The largest value of a Java `int` setting.
const JAVA_INT_MAX: u64 = i32::MAX as u64;

/// Kafka's `replica.socket.timeout.ms` default (not settable in a scenario).
const REPLICA_SOCKET_TIMEOUT_MS: u64 = 30_000;

/// `segment.bytes` / `log.segment.bytes`: an `int` of at least 14
/// (LogConfig: `atLeast(LegacyRecord.RECORD_OVERHEAD_V0)`).
fn segment_bytes(t: &Table, key: &str) -> Res<Option<Sp<u64>>> {
    opt_u64_min(t, key, MIN_SEGMENT_BYTES)?
        .map(|v| {
            v.check(
                |v| v <= JAVA_INT_MAX,
                |v| format!("expected at most {JAVA_INT_MAX} (Kafka's {key} is a Java int), found {v}"),
            )
        })
        .transpose()
}

/// `log.retention.ms`: -1 or at least 1 (KafkaConfig.validateValues: "log.retention.ms
/// must be unlimited (-1) or, greater than or equal to 1"); the topic's `retention.ms`
/// may be 0.
fn log_retention_ms(t: &Table) -> Res<Option<Sp<Option<u64>>>> {
    let limit = opt_limit(t, "log.retention.ms", 0)?;
    if let Some(v) = limit.as_ref().filter(|v| v.value == Some(0)) {
        return Err(v.pos.issue(
            "log.retention.ms is 0, which Kafka refuses (\"log.retention.ms must be unlimited (-1) or, greater than \
             or equal to 1\"); expected -1 or at least 1",
        ));
    }
    Ok(limit)
}

/// An optional Kafka limit where -1 means none (`retention.ms`, `retention.bytes`):
/// `None` when absent, a value of `None` for -1, else the integer, at least `min`.
fn opt_limit(t: &Table, key: &str, min: u64) -> Res<Option<Sp<Option<u64>>>> {
    let Some(node) = t.get(key) else { return Ok(None) };
    if node.as_int() == Some(-1) {
        return Ok(Some(Sp { value: None, pos: node.pos.clone() }));
    }
    let v = node.u64().map_err(|_| {
        node.pos.issue(format!("expected -1 (no limit) or an integer of at least {min}, found {}", node.describe()))
    })?;
    let v = at_least(v, min)?;
    Ok(Some(Sp { value: Some(v.value), pos: v.pos }))
}

/// `[metastore]`, checked as ZooKeeper's `QuorumPeerConfig.parseProperties` checks
/// zoo.cfg: `tickTime` must be set (not 0), the session limits default to 2 and 20
/// `tickTime`s, and `minSessionTimeout` must not be larger than `maxSessionTimeout`.
fn metastore(table: Option<Table>) -> Res<MetastoreConfig> {
    let Some(t) = table else { return Ok(MetastoreConfig::default()) };
    let int = |key: &str| -> Res<Option<Sp<u64>>> {
        let max = i32::MAX as u64;
        t.opt_u64(key)?
            .map(|v| v.check(|v| v <= max, |v| format!("expected at most {max} (a Java int), found {v}")))
            .transpose()
    };
    let tick = int("tickTime")?
        .map(|v| v.check(|v| v > 0, |_| "tickTime is 0, which ZooKeeper refuses (\"tickTime is not set\"); expected a number of milliseconds such as 2000".to_string()))
        .transpose()?
        .map_or(MetastoreConfig::default().tick_time_ms, |v| v.value);
    let defaults = MetastoreConfig::from_tick_time(tick);
    let min = int("minSessionTimeout")?;
    let max = int("maxSessionTimeout")?;
    let min_ms = min.as_ref().map_or(defaults.min_session_timeout_ms, |v| v.value);
    let max_ms = max.as_ref().map_or(defaults.max_session_timeout_ms, |v| v.value);
    if min_ms > max_ms {
        let pos = max.map(|m| m.pos).or(min.map(|m| m.pos)).unwrap_or(t.pos.clone());
        return Err(pos.issue(format!(
            "minSessionTimeout {min_ms} is larger than maxSessionTimeout {max_ms}, which ZooKeeper refuses \
             (\"minSessionTimeout must not be larger than maxSessionTimeout\"); without them they are 2 and 20 \
             times tickTime ({} and {})",
            defaults.min_session_timeout_ms, defaults.max_session_timeout_ms
        )));
    }
    Ok(MetastoreConfig { tick_time_ms: tick, min_session_timeout_ms: min_ms, max_session_timeout_ms: max_ms })
}

/// A note when the metastore grants the brokers another session timeout than the one
/// `zookeeper.session.timeout.ms` asks for.
fn session_note(cluster: &ClusterSpec, metastore: &MetastoreConfig, pos: &Pos, notes: &mut Notes) {
    let asked = cluster.config.zookeeper_session_timeout_ms;
    let granted = metastore.negotiate(asked);
    if granted != asked {
        notes.add(
            pos,
            format!(
                "the metastore grants a session timeout of {granted} ms, not the {asked} ms asked for: ZooKeeper \
                 clamps it into [minSessionTimeout, maxSessionTimeout] = [{}, {}]",
                metastore.min_session_timeout_ms, metastore.max_session_timeout_ms
            ),
        );
    }
}

fn network(table: Option<Table>) -> Res<NetworkSpec> {
    let d = NetworkSpec::default();
    let Some(t) = table else { return Ok(d) };
    let min = t.opt_duration_ms("latency_min")?;
    let max = t.opt_duration_ms("latency_max")?;
    let latency_ms_min = min.as_ref().map_or(d.latency_ms_min, |v| v.value);
    let latency_ms_max = max.as_ref().map_or(d.latency_ms_max.max(latency_ms_min), |v| v.value);
    if latency_ms_min > latency_ms_max {
        let pos = max.map_or_else(|| min.map(|m| m.pos), |m| Some(m.pos)).unwrap_or(t.pos.clone());
        return Err(pos.issue(format!(
            "latency_max {latency_ms_max}ms is smaller than latency_min {latency_ms_min}ms; \
                expected at least {latency_ms_min}ms"
        )));
    }
    let packet_loss_rate = t.get("packet_loss_rate").map(loss_rate).transpose()?.unwrap_or(d.packet_loss_rate);
    Ok(NetworkSpec { latency_ms_min, latency_ms_max, packet_loss_rate })
}

fn topics(tables: &[Table], cluster: &ClusterSpec) -> Res<Vec<TopicSpec>> {
    let mut out: Vec<TopicSpec> = Vec::new();
    for t in tables {
        let name = t.require("name", "the topic name, such as \"orders\"")?.string("a string")?;
        topic_name(&name)?;
        if out.iter().any(|o| o.name == name.value) {
            return Err(name
                .pos
                .issue(format!("topic `{}` is defined twice; expected unique topic names", name.value)));
        }
        let partitions = t
            .opt_u32("partitions")?
            .map(|p| {
                p.check(
                    |p| (1..=MAX_PARTITIONS).contains(&p),
                    |p| format!("expected 1 to {MAX_PARTITIONS} partitions, found {p}"),
                )
            })
            .transpose()?
            .map_or(1, |p| p.value);
        let rf = t.opt_u32("replication.factor")?.map(|v| at_least(v, 1)).transpose()?;
        if let Some(rf) = &rf {
            let brokers = cluster.brokers;
            if rf.value > brokers {
                return Err(rf.pos.issue(format!(
                    "replication factor {} is larger than the broker count {brokers}; expected at \
                        most {brokers}",
                    rf.value
                )));
            }
        }
        let replication_factor = rf.map_or(1, |v| v.value);
        let config = match t.opt_table("config", keys::TOPIC_CONFIG)? {
            None => TopicSettings::default(),
            Some(c) => {
                let min_isr = c.opt_u32("min.insync.replicas")?.map(|v| at_least(v, 1)).transpose()?;
                if let Some(m) = &min_isr {
                    if m.value > replication_factor {
                        return Err(m.pos.issue(format!(
                            "min.insync.replicas {} is larger than the replication factor \
                             {replication_factor} of topic `{}`, so no acks=all write could \
                             succeed; expected at most {replication_factor}",
                            m.value, name.value
                        )));
                    }
                }
                TopicSettings {
                    min_insync_replicas: min_isr.map(|v| v.value),
                    unclean_leader_election_enable: c.opt_bool("unclean.leader.election.enable")?.map(|v| v.value),
                    retention_ms: opt_limit(&c, "retention.ms", 0)?.map(|v| v.value),
                    retention_bytes: opt_limit(&c, "retention.bytes", 0)?.map(|v| v.value),
                    segment_bytes: segment_bytes(&c, "segment.bytes")?.map(|v| v.value),
                }
            }
        };
        out.push(TopicSpec { name: name.value, partitions, replication_factor, config });
    }
    Ok(out)
}

/// Kafka's topic name rules, plus: names starting with `__` are Kafka's internal topics.
fn topic_name(name: &Sp<String>) -> Res<()> {
    let n = &name.value;
    let legal = n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let why = if n.is_empty() {
        "the name is empty"
    } else if n.len() > 249 {
        "the name is longer than 249 characters"
    } else if n == "." || n == ".." {
        "`.` and `..` are not allowed"
    } else if !legal {
        "Kafka topic names use only letters, digits, `.`, `_` and `-`"
    } else if n.starts_with("__") {
        "names starting with `__` belong to Kafka's internal topics"
    } else {
        return Ok(());
    };
    Err(name.pos.issue(format!("invalid topic name {}: {why}; expected a name such as \"orders\"", excerpt(n))))
}

fn expectations(table: Option<Table>) -> Res<Expectations> {
    let Some(t) = table else {
        // A scenario that says nothing still promises liveness: a run that stops making
        // progress after the faults heal never passes silently.
        return Ok(Expectations { absent: vec![AnomalyKind::NoProgress], ..Expectations::default() });
    };
    let present = match t.get("present") {
        Some(n) => super::fields::anomaly_list(n, false)?.0,
        None => Vec::new(),
    };
    // `absent = "promised"`: each seed is judged by what its drawn configuration
    // promises (`runner::promise`), so there is no fixed list.
    let promised = match t.get("absent").and_then(|n| n.as_str().map(|_| n)) {
        Some(n) => {
            let word = n.string("\"promised\" or a list of anomaly names")?;
            if word.value != "promised" {
                return Err(word.pos.issue(format!(
                    "expected \"promised\" (every kind the seed's configuration promises, plus no-progress) or a \
                     list of anomaly names such as [\"lost-write\"], found {}",
                    excerpt(&word.value)
                )));
            }
            true
        }
        None => false,
    };
    let (absent, wildcard) = match t.get("absent") {
        Some(_) if promised => (Vec::new(), false),
        Some(n) => super::fields::anomaly_list(n, true)?,
        None => (Vec::new(), false),
    };
    for (kind, pos) in &absent {
        if present.iter().any(|(p, _)| p == kind) {
            return Err(pos.issue(format!(
                "`{kind}` is listed in both `present` and `absent`; expected each kind in at most \
                    one of them"
            )));
        }
    }
    let allow = match t.get("allow") {
        Some(n) => super::fields::anomaly_list(n, false)?.0,
        None => Vec::new(),
    };
    for (kind, pos) in &allow {
        let listed = present.iter().chain(&absent).any(|(k, _)| k == kind);
        if listed || !wildcard {
            return Err(pos.issue(format!(
                "`allow` takes kinds out of `absent = [\"*\"]`; expected `absent = [\"*\"]` and `{kind}` in \
                 neither `present` nor `absent`"
            )));
        }
    }
    let absent = if wildcard {
        let present: Vec<AnomalyKind> = present.iter().map(|(k, _)| *k).collect();
        let allowed: Vec<AnomalyKind> = allow.iter().map(|(k, _)| *k).collect();
        AnomalyKind::ALL.into_iter().filter(|k| !present.contains(k) && !allowed.contains(k)).collect()
    } else {
        absent.into_iter().map(|(k, _)| k).collect()
    };
    Ok(Expectations {
        present: present.into_iter().map(|(k, _)| k).collect(),
        absent,
        all_acked_consumed: t.opt_bool("all_acked_consumed")?.is_some_and(|v| v.value),
        reach: match t.get("reach") {
            Some(n) => reach_goals(n)?,
            None => Vec::new(),
        },
        promised,
    })
}

/// `reach`: a list of named protocol states (see [`ReachedState`]), each once.
fn reach_goals(node: &Node) -> Res<Vec<ReachedState>> {
    let names = ReachedState::names();
    let items = node.array("a list of protocol state names, such as [\"unclean-election\"]")?;
    let mut goals = Vec::new();
    for item in &items {
        let name = item.string("a protocol state name")?;
        let Some(state) = ReachedState::from_name(&name.value) else {
            let hint = closest(&name.value, &names).map_or(String::new(), |c| format!(" (did you mean \"{c}\"?)"));
            return Err(name.pos.issue(format!(
                "unknown protocol state {}{hint}; expected one of {}",
                excerpt(&name.value),
                one_of_strings(&names)
            )));
        };
        if goals.contains(&state) {
            return Err(name.pos.issue(format!("`{state}` is listed twice; expected each state once")));
        }
        goals.push(state);
    }
    Ok(goals)
}

/// Each kind of `[fix] prevents` must be one the lesson shows (`[expect] present`).
fn check_fix_prevents(prevents: &[(AnomalyKind, Pos)], expect: &Expectations) -> Res<Vec<AnomalyKind>> {
    for (kind, pos) in prevents {
        if !expect.present.contains(kind) {
            return Err(pos.issue(format!(
                "`{kind}` is not in [expect] present; expected kinds the lesson shows, of {}",
                crate::prove::names(&expect.present)
            )));
        }
    }
    Ok(prevents.iter().map(|(k, _)| *k).collect())
}

/// The numbers of the transactional producers (`producer-N`), in the order the runner
/// boots producers: every entry's `count` processes, entry by entry.
fn transactional_producer_numbers(producers: &[ProducerSpec]) -> Vec<u32> {
    let mut number = 0;
    let mut transactional = Vec::new();
    for spec in producers {
        for _ in 0..spec.count {
            number += 1;
            if spec.config.transactional_id.is_some() {
                transactional.push(number);
            }
        }
    }
    transactional
}

/// Reads `[experiment]`; `text` is the file's, for the entries' lines.
fn experiment(t: &Table, text: &str) -> Res<ExperimentSpec> {
    const EXPECTED: &str = "a list of settings to vary, each as `--vary` writes it, such as [\"partitions=1,4,16\"]";
    let entries = t.require("vary", EXPECTED)?.array(EXPECTED)?;
    if entries.is_empty() {
        return Err(t.require("vary", EXPECTED)?.pos.issue(format!("the list is empty; expected {EXPECTED}")));
    }
    let mut vary: Vec<Dimension> = Vec::new();
    let mut vary_lines = Vec::new();
    for entry in &entries {
        let text_entry = entry.string(EXPECTED)?;
        let dimension: Dimension = text_entry.value.parse().map_err(|m: String| entry.pos.issue(m))?;
        if vary.iter().any(|d| d.key == dimension.key) {
            return Err(entry.pos.issue(format!(
                "`{}` is varied twice; expected each setting in one entry, with all its values",
                dimension.key
            )));
        }
        vary_lines.push(entry.pos.line(text));
        vary.push(dimension);
    }
    let count: usize = vary.iter().map(|d| d.values.len()).product();
    if count > MAX_COMBINATIONS {
        return Err(t.require("vary", EXPECTED)?.pos.issue(format!(
            "{count} combinations; expected at most {MAX_COMBINATIONS} (fewer values, or fewer settings)"
        )));
    }
    let seeds = t.get("seeds").map(seeds).transpose()?;
    Ok(ExperimentSpec { vary, vary_lines, seeds })
}
