//! The settings a scenario's release decides: each [`Switch`] of the version profile
//! with the value the run uses, written as a scenario file writes it, next to the
//! release's default. `run --trace` and reports print them, and a test checks every row
//! of [`crate::profile::CHANGES`] through them.

use crate::profile::Switch;
use crate::protocol::MetadataMode;

use super::fields::{FOLLOWER_RESTARTS, TRUNCATION_MODES, UNKNOWN_PRODUCER_SEQUENCES};
use super::kraft::METADATA_MODES;
use super::model::Scenario;
use super::model_clients::{ConsumerSpec, ProducerSpec};
use super::workload::{ACKS, OFFSET_VALIDATIONS, PARTITIONERS, STICKY_ASSIGNORS};

/// One release switch in one scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchSetting {
    /// The switch.
    pub switch: Switch,
    /// The values in force, as a scenario file writes them: one for a cluster-wide
    /// switch; per-topic overrides follow as `topic: value`; one per `[[producers]]` or
    /// `[[consumers]]` entry whose value differs from the first. Empty when nothing in
    /// the scenario uses the switch (a producer setting without producers).
    pub values: Vec<String>,
    /// The release's default, as a scenario file writes it.
    pub release_default: &'static str,
}

impl SwitchSetting {
    /// Whether the scenario (or `--set`) departs from its release's default: a value,
    /// or a topic override (`topic: value`), other than the default.
    pub fn overridden(&self) -> bool {
        self.values.iter().any(|v| v != self.release_default && !v.ends_with(&format!(": {}", self.release_default)))
    }
}

/// Every switch of the profile with its values in `scenario`, in the order of
/// [`crate::profile::Profile::defaults`].
pub fn switch_settings(scenario: &Scenario) -> Vec<SwitchSetting> {
    scenario
        .profile
        .defaults()
        .into_iter()
        .map(|(switch, release_default)| SwitchSetting { switch, values: values_of(scenario, switch), release_default })
        .collect()
}

/// The lines `run --trace` and reports print: the release, then one line per switch in
/// use, marked where the scenario departs from the release's default.
pub fn render_switch_settings(scenario: &Scenario) -> Vec<String> {
    let release = scenario.profile.version;
    let mut lines = vec![format!(
        "Kafka {release} behaviour (kafka_version); settings not listed are as the file writes them, \
         else Kafka's defaults"
    )];
    for s in switch_settings(scenario).iter().filter(|s| !s.values.is_empty()) {
        let mut line = format!("{} {} = {}", s.switch.table(), s.switch.key(), s.values.join(", "));
        if s.overridden() {
            line += &format!(" (set; {release}'s default is {})", s.release_default);
        }
        lines.push(line);
    }
    lines
}

/// The spelling of `value` among a setting's scenario spellings.
fn spelling<T: PartialEq + Copy>(options: &[(&'static str, T)], value: T) -> String {
    options.iter().find(|(_, v)| *v == value).map_or_else(|| "?".to_string(), |(name, _)| name.to_string())
}

/// The distinct values of one setting across entries, in entry order.
fn distinct(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

fn values_of(s: &Scenario, switch: Switch) -> Vec<String> {
    let c = &s.cluster;
    let producers = |f: &dyn Fn(&ProducerSpec) -> String| distinct(s.producers.iter().map(f));
    let consumers = |f: &dyn Fn(&ConsumerSpec) -> String| distinct(s.consumers.iter().map(f));
    match switch {
        Switch::Truncation => vec![spelling(&TRUNCATION_MODES, c.truncation)],
        Switch::FollowerRestart => vec![spelling(&FOLLOWER_RESTARTS, c.follower_restart)],
        Switch::CaughtUpAtLeaderLogEnd => vec![c.caught_up_at_leader_log_end.to_string()],
        Switch::UnknownProducerSequence => vec![spelling(&UNKNOWN_PRODUCER_SEQUENCES, c.unknown_producer_sequence)],
        Switch::UncleanLeaderElection => {
            let topics = s
                .topics
                .iter()
                .filter_map(|t| t.config.unclean_leader_election_enable.map(|v| format!("{}: {v}", t.name)));
            std::iter::once(c.config.unclean_leader_election_enable.to_string()).chain(topics).collect()
        }
        Switch::GroupInitialRebalanceDelay => vec![c.config.group_initial_rebalance_delay_ms.to_string()],
        Switch::GroupMaxSessionTimeout => vec![c.config.group_max_session_timeout_ms.to_string()],
        // A KRaft cluster has no ZooKeeper session.
        Switch::ZookeeperSessionTimeout if c.metadata == MetadataMode::Kraft => Vec::new(),
        Switch::ZookeeperSessionTimeout => vec![c.config.zookeeper_session_timeout_ms.to_string()],
        Switch::Metadata => vec![spelling(&METADATA_MODES, c.metadata)],
        // A ZooKeeper cluster has no controller quorum and no ELR.
        Switch::PreVote | Switch::EligibleLeaderReplicas if c.metadata == MetadataMode::Zookeeper => Vec::new(),
        Switch::PreVote => vec![c.pre_vote.to_string()],
        Switch::EligibleLeaderReplicas => vec![c.config.eligible_leader_replicas_enable.to_string()],
        Switch::LingerMs => producers(&|p| p.config.linger_ms.to_string()),
        // Without a transactional producer no write is verified.
        Switch::TransactionPartitionVerification | Switch::TransactionVersion
            if !s.producers.iter().any(|p| p.config.transactional_id.is_some()) =>
        {
            Vec::new()
        }
        Switch::TransactionVersion => vec![c.config.transaction_version.level().to_string()],
        Switch::TransactionPartitionVerification => {
            vec![c.config.transaction_partition_verification_enable.to_string()]
        }
        Switch::Acks => producers(&|p| spelling(&ACKS, p.config.acks)),
        Switch::EnableIdempotence => producers(&|p| p.config.enable_idempotence.to_string()),
        Switch::Retries => producers(&|p| p.config.retries.to_string()),
        Switch::IdempotentEpochBump => producers(&|p| p.idempotent_epoch_bump.to_string()),
        Switch::InvalidEpochAbortable => producers(&|p| p.invalid_epoch_abortable.to_string()),
        Switch::Partitioner => producers(&|p| spelling(&PARTITIONERS, p.partitioner)),
        Switch::StickyAssignor => consumers(&|c| spelling(&STICKY_ASSIGNORS, c.sticky_assignor)),
        Switch::SessionTimeout => consumers(&|c| c.config.session_timeout_ms.to_string()),
        Switch::OffsetValidation => consumers(&|c| spelling(&OFFSET_VALIDATIONS, c.config.offset_validation)),
    }
}
