//! The KRaft part of `[cluster]` and `[cluster.config]`: `metadata`, `controllers`,
//! `combined`, `pre_vote`, and the quorum, heartbeat and ELR settings, under Kafka's names
//! and with its defaults and checks.

use super::fields::{profile_bool, profile_choice, Notes};
use super::model::BrokerSettings;
use super::raw::Table;
use super::span::{Res, Sp};
use super::values::choice;
use crate::profile::{KafkaVersion, Profile, Switch};
use crate::protocol::MetadataMode;

/// The metadata modes by their scenario names.
pub(super) const METADATA_MODES: [(&str, MetadataMode); 2] =
    [(MetadataMode::Zookeeper.name(), MetadataMode::Zookeeper), (MetadataMode::Kraft.name(), MetadataMode::Kraft)];

/// KRaft was declared production-ready in 3.3 (KIP-833); kafkasim models it from there.
pub(super) const FIRST_KRAFT_RELEASE: KafkaVersion = KafkaVersion::new(3, 3, 0);

/// The first release without a ZooKeeper mode (KIP-500): 3.9 is the last one with it.
const FIRST_KRAFT_ONLY_RELEASE: KafkaVersion = KafkaVersion::new(4, 0, 0);

/// The controller quorum sizes a scenario may ask for: an odd number, so that a majority
/// survives the loss of the others (1 has no fault tolerance, 5 tolerates two).
const CONTROLLER_COUNTS: [u32; 3] = [1, 3, 5];

/// Three controllers, as Kafka's documentation recommends for production.
const DEFAULT_CONTROLLERS: u32 = 3;

/// `[cluster]`'s `metadata`, `controllers`, `combined` and `pre_vote`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Quorum {
    pub metadata: MetadataMode,
    pub controllers: u32,
    pub combined: bool,
    pub pre_vote: bool,
}

/// Reads `metadata`, `controllers` and `pre_vote` from `[cluster]` (absent: the
/// release's metadata mode and pre-vote rule). The quorum keys in a ZooKeeper cluster
/// have no effect, as the KRaft settings of a ZooKeeper-mode Kafka broker have none: each
/// gets a note, so that `compare --vary metadata=zookeeper,kraft` runs one file both ways.
///
/// `swarm_modes` are the modes `[swarm] metadata` draws from, if it does. Returns the
/// cluster's quorum and, when some drawn configuration is a KRaft cluster, the quorum it
/// runs (the file's own if it is KRaft; otherwise `controllers` and `pre_vote` as a KRaft
/// cluster reads them, checked as such and not noted).
pub(super) fn quorum(
    t: Option<&Table>,
    profile: &Profile,
    swarm_modes: Option<&[MetadataMode]>,
    notes: &mut Notes,
) -> Res<(Quorum, Option<Quorum>)> {
    let zookeeper = Quorum { metadata: MetadataMode::Zookeeper, controllers: 0, combined: false, pre_vote: false };
    let default_metadata = profile_choice(profile, Switch::Metadata, &METADATA_MODES);
    let default_pre_vote = profile_bool(profile, Switch::PreVote);
    let metadata = match t.map(|t| t.opt_string("metadata", "a string")).transpose()?.flatten() {
        Some(sp) => {
            let mode = choice(&sp, &METADATA_MODES)?;
            check_release(&sp, mode, profile)?;
            mode
        }
        None => default_metadata,
    };
    let kraft_drawn = swarm_modes.map_or(metadata == MetadataMode::Kraft, |m| m.contains(&MetadataMode::Kraft));
    let controllers = t.map(|t| t.opt_u32("controllers")).transpose()?.flatten();
    let pre_vote = t.map(|t| t.opt_bool("pre_vote")).transpose()?.flatten();
    let combined = t.map(|t| t.opt_bool("combined")).transpose()?.flatten();
    let kraft = Quorum {
        metadata: MetadataMode::Kraft,
        controllers: match &controllers {
            Some(c) if kraft_drawn => {
                c.clone().check(is_controller_count, |c| format!("expected 1, 3 or 5 controllers, found {c}"))?.value
            }
            _ => DEFAULT_CONTROLLERS,
        },
        combined: combined.as_ref().is_some_and(|c| c.value),
        pre_vote: pre_vote.as_ref().map_or(default_pre_vote, |p| p.value),
    };
    if let Some(c) = combined.as_ref().filter(|c| c.value && swarm_modes.is_some()) {
        return Err(c.pos.issue(
            "a `[swarm]` that draws the metadata mode runs dedicated controllers; expected combined = false, \
             or no `metadata` in `[swarm]`"
                .to_string(),
        ));
    }
    if !kraft_drawn {
        let positions = controllers.iter().map(|c| &c.pos).chain(pre_vote.iter().map(|p| &p.pos));
        for pos in positions.chain(combined.iter().map(|c| &c.pos)) {
            notes.add(pos, "no effect: the cluster keeps its metadata in ZooKeeper (metadata = \"zookeeper\")".into());
        }
    }
    let base = if metadata == MetadataMode::Zookeeper { zookeeper } else { kraft };
    Ok((base, kraft_drawn.then_some(kraft)))
}

/// Refuses a metadata mode the scenario's release does not have: KRaft before 3.3,
/// ZooKeeper from 4.0.
pub(super) fn check_release(sp: &Sp<String>, mode: MetadataMode, profile: &Profile) -> Res<()> {
    if mode == MetadataMode::Kraft && profile.version < FIRST_KRAFT_RELEASE {
        return Err(sp.pos.issue(format!(
            "KRaft is modelled from Kafka {FIRST_KRAFT_RELEASE} (KIP-833 made it production-ready), \
             but kafka_version is {}; expected kafka_version \"{FIRST_KRAFT_RELEASE}\" or later, or \
             metadata = \"zookeeper\"",
            profile.version
        )));
    }
    if mode == MetadataMode::Zookeeper && profile.version >= FIRST_KRAFT_ONLY_RELEASE {
        return Err(sp.pos.issue(format!(
            "Kafka {} has no ZooKeeper mode (4.0 removed it, KIP-500); expected metadata = \"kraft\", \
             or kafka_version \"3.9\" or earlier",
            profile.version
        )));
    }
    Ok(())
}

/// Whether `n` is a controller count a KRaft cluster may run (1, 3 or 5).
pub(super) fn is_controller_count(n: u32) -> bool {
    CONTROLLER_COUNTS.contains(&n)
}

/// The `[cluster.config]` keys only a KRaft cluster has.
const KRAFT_KEYS: [&str; 8] = [
    "broker.heartbeat.interval.ms",
    "broker.session.timeout.ms",
    "controller.quorum.election.timeout.ms",
    "controller.quorum.fetch.timeout.ms",
    "controller.quorum.election.backoff.max.ms",
    "controller.quorum.request.timeout.ms",
    "eligible.leader.replicas.enable",
    "metadata.max.idle.interval.ms",
];

/// The `[cluster.config]` keys only a ZooKeeper cluster has.
const ZOOKEEPER_KEYS: [&str; 1] = ["zookeeper.session.timeout.ms"];

/// Notes each `[cluster.config]` key that none of `modes` (the cluster's metadata mode,
/// or the modes `[swarm]` draws from) has a use for: Kafka accepts it and nothing reads
/// it.
pub(super) fn note_other_mode_keys(t: &Table, modes: &[MetadataMode], notes: &mut Notes) {
    let foreign: [(MetadataMode, &[&str], &str); 2] =
        [(MetadataMode::Kraft, &KRAFT_KEYS[..], "ZooKeeper"), (MetadataMode::Zookeeper, &ZOOKEEPER_KEYS[..], "KRaft")];
    for (owner, keys, mode) in foreign {
        if modes.contains(&owner) {
            continue;
        }
        for key in keys {
            if let Some(node) = t.get(key) {
                notes.add(&node.pos, format!("no effect in a {mode} cluster"));
            }
        }
    }
}

/// Reads the KRaft keys of `[cluster.config]` into `settings` (defaults kept when absent).
pub(super) fn settings(t: &Table, settings: &mut BrokerSettings) -> Res<()> {
    let at_least_1 = |key: &str, default: u64| -> Res<u64> {
        Ok(super::fields::opt_u64_min(t, key, 1)?.map_or(default, |v| v.value))
    };
    settings.broker_heartbeat_interval_ms =
        at_least_1("broker.heartbeat.interval.ms", settings.broker_heartbeat_interval_ms)?;
    let session = super::fields::opt_u64_min(t, "broker.session.timeout.ms", 1)?;
    if let Some(s) = &session {
        if s.value <= settings.broker_heartbeat_interval_ms {
            return Err(s.pos.issue(format!(
                "broker.session.timeout.ms {} is not longer than broker.heartbeat.interval.ms {}: every broker \
                 would be fenced between two heartbeats; expected more than {}",
                s.value, settings.broker_heartbeat_interval_ms, settings.broker_heartbeat_interval_ms
            )));
        }
    }
    settings.broker_session_timeout_ms = session.map_or(settings.broker_session_timeout_ms, |v| v.value);
    settings.controller_quorum_election_timeout_ms =
        at_least_1("controller.quorum.election.timeout.ms", settings.controller_quorum_election_timeout_ms)?;
    settings.controller_quorum_fetch_timeout_ms =
        at_least_1("controller.quorum.fetch.timeout.ms", settings.controller_quorum_fetch_timeout_ms)?;
    settings.controller_quorum_election_backoff_max_ms =
        at_least_1("controller.quorum.election.backoff.max.ms", settings.controller_quorum_election_backoff_max_ms)?;
    settings.controller_quorum_request_timeout_ms =
        at_least_1("controller.quorum.request.timeout.ms", settings.controller_quorum_request_timeout_ms)?;
    settings.metadata_max_idle_interval_ms =
        t.u64_or("metadata.max.idle.interval.ms", settings.metadata_max_idle_interval_ms)?;
    settings.eligible_leader_replicas_enable =
        t.bool_or("eligible.leader.replicas.enable", settings.eligible_leader_replicas_enable)?;
    Ok(())
}
