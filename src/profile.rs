//! Kafka version profiles: how Kafka's behaviour changed release by release, in one
//! table ([`CHANGES`]), and what a scenario's `kafka_version` makes of it.
//!
//! Each row is one behaviour switch that one release changed, with the KIP or JIRA. A
//! switch is a scenario setting (a Kafka configuration key, or a scenario key for a
//! behaviour Kafka offers no key for), and its values are written as in a scenario
//! file, so the profile's defaults are read by the same code, with the same checks, as
//! a value the file sets. A value the file (or `--set`) sets wins over the profile.
//!
//! Depends on nothing.

use std::fmt;
use std::str::FromStr;

/// A Kafka release, `major.minor[.patch]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KafkaVersion {
    /// The major version (`2` of 2.4).
    pub major: u16,
    /// The minor version (`4` of 2.4).
    pub minor: u16,
    /// The patch version (`2` of 0.10.2).
    pub patch: u16,
}

impl KafkaVersion {
    /// `major.minor.patch`.
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        KafkaVersion { major, minor, patch }
    }
}

impl fmt::Display for KafkaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)?;
        if self.patch != 0 {
            write!(f, ".{}", self.patch)?;
        }
        Ok(())
    }
}

impl FromStr for KafkaVersion {
    type Err = String;

    /// Reads `2.4`, `0.10.2` or `3.9.1`.
    fn from_str(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.trim().split('.').collect();
        let numbers: Option<Vec<u16>> = parts.iter().map(|p| p.parse::<u16>().ok()).collect();
        match numbers.as_deref() {
            Some([major, minor]) => Ok(KafkaVersion::new(*major, *minor, 0)),
            Some([major, minor, patch]) => Ok(KafkaVersion::new(*major, *minor, *patch)),
            _ => Err(format!("expected a Kafka release such as \"2.4\" or \"0.10.2\", found \"{text}\"")),
        }
    }
}

/// Every release line (`major.minor`) Apache Kafka shipped from 0.8 to 4.1, oldest first.
pub const RELEASE_LINES: &[(u16, u16)] = &[
    (0, 8),
    (0, 9),
    (0, 10),
    (0, 11),
    (1, 0),
    (1, 1),
    (2, 0),
    (2, 1),
    (2, 2),
    (2, 3),
    (2, 4),
    (2, 5),
    (2, 6),
    (2, 7),
    (2, 8),
    (3, 0),
    (3, 1),
    (3, 2),
    (3, 3),
    (3, 4),
    (3, 5),
    (3, 6),
    (3, 7),
    (3, 8),
    (3, 9),
    (4, 0),
    (4, 1),
];

/// The oldest release kafkasim models (the one Jepsen tested in 2013).
pub const OLDEST: KafkaVersion = KafkaVersion::new(0, 8, 0);

/// The newest release kafkasim models.
pub const NEWEST: KafkaVersion = KafkaVersion::new(4, 1, 0);

/// The profile of a scenario that names no `kafka_version`: the newest release, so a
/// scenario without one describes the Kafka that ships today (KRaft, ELR). Lessons about
/// the ZooKeeper era name their release.
pub const DEFAULT: KafkaVersion = NEWEST;

impl KafkaVersion {
    /// The last release before this one that kafkasim can name: the previous patch, or
    /// the previous release line's `.0` (patch releases change no switch before a line's
    /// end, except where [`CHANGES`] names one).
    pub fn previous(self) -> Option<KafkaVersion> {
        if self.patch > 0 {
            return Some(KafkaVersion::new(self.major, self.minor, self.patch - 1));
        }
        let line = RELEASE_LINES.iter().position(|&(ma, mi)| (ma, mi) == (self.major, self.minor))?;
        let (major, minor) = RELEASE_LINES[line.checked_sub(1)?];
        Some(KafkaVersion::new(major, minor, 0))
    }
}

/// A behaviour that changed across releases, by the scenario setting that holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Switch {
    /// `[cluster] truncation`: how a follower reconciles its log with a new leader.
    Truncation,
    /// `unclean.leader.election.enable` (`[cluster.config]`, `[topics.config]`).
    UncleanLeaderElection,
    /// `acks` (`[producers.config]`).
    Acks,
    /// `enable.idempotence` (`[producers.config]`).
    EnableIdempotence,
    /// `retries` (`[producers.config]`).
    Retries,
    /// `[cluster] follower_restart`: which new leader epochs make a follower truncate and
    /// fetch again.
    FollowerRestart,
    /// `[cluster] caught_up_at_leader_log_end`: whether a follower at the leader's log end
    /// is in sync however long ago it last caught up.
    CaughtUpAtLeaderLogEnd,
    /// `[cluster] unknown_producer_sequence`: what a replica answers an idempotent
    /// producer it has no state for.
    UnknownProducerSequence,
    /// `[[producers]] idempotent_epoch_bump`: whether an idempotent producer bumps its
    /// epoch after a sequence error instead of failing its batches and resetting its id.
    IdempotentEpochBump,
    /// `[[producers]] partitioner`: how records with neither a key nor a partition are
    /// placed.
    Partitioner,
    /// `[[producers]] invalid_epoch_abortable`: whether a transactional producer whose
    /// record is refused as from an old epoch may abort its transaction (KIP-588) or is
    /// fenced.
    InvalidEpochAbortable,
    /// `[[consumers]] sticky_assignor`: which release's sticky assignment algorithm the
    /// group leader runs.
    StickyAssignor,
    /// `group.initial.rebalance.delay.ms` (`[cluster.config]`).
    GroupInitialRebalanceDelay,
    /// `group.max.session.timeout.ms` (`[cluster.config]`).
    GroupMaxSessionTimeout,
    /// `session.timeout.ms` (`[consumers.config]`).
    SessionTimeout,
    /// `offset_validation` (`[consumers.config]`, a scenario key): KIP-320's consumer-side
    /// position validation after a leader change.
    OffsetValidation,
    /// `zookeeper.session.timeout.ms` (`[cluster.config]`).
    ZookeeperSessionTimeout,
    /// `[cluster] metadata`: where the cluster keeps its metadata (ZooKeeper or a KRaft
    /// controller quorum).
    Metadata,
    /// `[cluster] pre_vote`: whether a KRaft controller asks for pre-votes before it
    /// stands for election (KIP-996).
    PreVote,
    /// `eligible.leader.replicas.enable` (`[cluster.config]`): KIP-966's eligible leader
    /// replicas, which Kafka turns on with the feature `eligible.leader.replicas.version=1`.
    EligibleLeaderReplicas,
    /// `linger.ms` (`[producers.config]`).
    LingerMs,
    /// `transaction.partition.verification.enable` (`[cluster.config]`): KIP-890's
    /// server-side check that a transactional write's partition is in its transaction.
    TransactionPartitionVerification,
    /// `transaction.version` (`[cluster.config]`): the finalized transaction feature
    /// level; level 2 is KIP-890 part 2.
    TransactionVersion,
}

impl Switch {
    /// The setting's name as a scenario file writes it.
    pub fn key(self) -> &'static str {
        match self {
            Switch::Truncation => "truncation",
            Switch::UncleanLeaderElection => "unclean.leader.election.enable",
            Switch::Acks => "acks",
            Switch::EnableIdempotence => "enable.idempotence",
            Switch::Retries => "retries",
            Switch::FollowerRestart => "follower_restart",
            Switch::CaughtUpAtLeaderLogEnd => "caught_up_at_leader_log_end",
            Switch::UnknownProducerSequence => "unknown_producer_sequence",
            Switch::IdempotentEpochBump => "idempotent_epoch_bump",
            Switch::Partitioner => "partitioner",
            Switch::InvalidEpochAbortable => "invalid_epoch_abortable",
            Switch::StickyAssignor => "sticky_assignor",
            Switch::GroupInitialRebalanceDelay => "group.initial.rebalance.delay.ms",
            Switch::GroupMaxSessionTimeout => "group.max.session.timeout.ms",
            Switch::SessionTimeout => "session.timeout.ms",
            Switch::OffsetValidation => "offset_validation",
            Switch::ZookeeperSessionTimeout => "zookeeper.session.timeout.ms",
            Switch::Metadata => "metadata",
            Switch::PreVote => "pre_vote",
            Switch::EligibleLeaderReplicas => "eligible.leader.replicas.enable",
            Switch::LingerMs => "linger.ms",
            Switch::TransactionPartitionVerification => "transaction.partition.verification.enable",
            Switch::TransactionVersion => "transaction.version",
        }
    }

    /// Where in a scenario file the setting goes.
    pub fn table(self) -> &'static str {
        match self {
            Switch::Truncation
            | Switch::FollowerRestart
            | Switch::CaughtUpAtLeaderLogEnd
            | Switch::UnknownProducerSequence
            | Switch::Metadata
            | Switch::PreVote => "[cluster]",
            Switch::UncleanLeaderElection => "[cluster.config] or [topics.config]",
            Switch::GroupInitialRebalanceDelay | Switch::GroupMaxSessionTimeout => "[cluster.config]",
            Switch::Acks | Switch::EnableIdempotence | Switch::Retries => "[producers.config]",
            Switch::IdempotentEpochBump | Switch::Partitioner | Switch::InvalidEpochAbortable => "[[producers]]",
            Switch::StickyAssignor => "[[consumers]]",
            Switch::SessionTimeout | Switch::OffsetValidation => "[consumers.config]",
            Switch::ZookeeperSessionTimeout
            | Switch::EligibleLeaderReplicas
            | Switch::TransactionPartitionVerification
            | Switch::TransactionVersion => "[cluster.config]",
            Switch::LingerMs => "[producers.config]",
        }
    }
}

/// One release's change of one switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// What changed.
    pub switch: Switch,
    /// The first release with the new behaviour.
    pub since: KafkaVersion,
    /// The value before, as a scenario file writes it.
    pub before: &'static str,
    /// The value from `since` on.
    pub after: &'static str,
    /// The KIP or JIRA that made the change.
    pub reference: &'static str,
    /// What the change means, for a person.
    pub summary: &'static str,
}

/// Every behaviour change kafkasim models, oldest first per switch.
pub const CHANGES: &[Change] = &[
    Change {
        switch: Switch::Truncation,
        since: KafkaVersion::new(0, 11, 0),
        before: "legacy",
        after: "leader-epoch-kip-101",
        reference: "KIP-101 (KAFKA-1211)",
        summary: "followers truncate to the leader's end of their latest leader epoch, not to their own high watermark",
    },
    Change {
        switch: Switch::Truncation,
        since: KafkaVersion::new(2, 0, 0),
        before: "leader-epoch-kip-101",
        after: "leader-epoch",
        reference: "KIP-279 (KAFKA-6361)",
        summary: "the leader answers with the largest epoch it knows up to the follower's, so fast leader changes \
                  cannot make logs diverge",
    },
    Change {
        switch: Switch::UncleanLeaderElection,
        since: KafkaVersion::new(0, 11, 0),
        before: "true",
        after: "false",
        reference: "KIP-106",
        summary: "an out-of-sync replica no longer becomes leader by default",
    },
    Change {
        switch: Switch::FollowerRestart,
        since: KafkaVersion::new(2, 0, 1),
        before: "leader-change",
        after: "leader-change-or-missed-epoch",
        reference: "KAFKA-7164",
        summary: "a follower that missed a leadership (its epoch jumps by more than one) truncates again even \
                  when the leader is the one it followed",
    },
    Change {
        switch: Switch::FollowerRestart,
        since: KafkaVersion::new(2, 1, 0),
        before: "leader-change-or-missed-epoch",
        after: "every-leader-epoch",
        reference: "KIP-320 (KAFKA-7395)",
        summary: "a follower truncates and fetches again on every new leader epoch",
    },
    Change {
        switch: Switch::CaughtUpAtLeaderLogEnd,
        since: KafkaVersion::new(2, 1, 0),
        before: "false",
        after: "true",
        reference: "KAFKA-7152",
        summary: "a follower at the leader's log end stays in the ISR, so an idle partition's followers never \
                  drop out",
    },
    Change {
        switch: Switch::UnknownProducerSequence,
        since: KafkaVersion::new(1, 0, 0),
        before: "out-of-order",
        after: "unknown-producer-id",
        reference: "KAFKA-5793",
        summary: "a replica with no state for an idempotent producer answers UNKNOWN_PRODUCER_ID, not \
                  OUT_OF_ORDER_SEQUENCE",
    },
    Change {
        switch: Switch::UnknownProducerSequence,
        since: KafkaVersion::new(2, 5, 0),
        before: "unknown-producer-id",
        after: "accept",
        reference: "KIP-360 (KAFKA-8710)",
        summary: "a replica with no state for a non-transactional producer appends its batch at any sequence",
    },
    Change {
        switch: Switch::GroupInitialRebalanceDelay,
        since: KafkaVersion::new(0, 11, 0),
        before: "0",
        after: "3000",
        reference: "KIP-134",
        summary: "the first rebalance of an empty group waits for more members before it completes",
    },
    Change {
        switch: Switch::GroupMaxSessionTimeout,
        since: KafkaVersion::new(2, 3, 0),
        before: "300000",
        after: "1800000",
        reference: "KIP-345",
        summary: "the coordinator accepts session timeouts up to 30 minutes, not 5",
    },
    Change {
        switch: Switch::Retries,
        since: KafkaVersion::new(2, 1, 0),
        before: "0",
        after: "2147483647",
        reference: "KIP-91",
        summary: "producers retry until delivery.timeout.ms instead of failing a send on the first error",
    },
    Change {
        switch: Switch::Partitioner,
        since: KafkaVersion::new(2, 4, 0),
        before: "round-robin",
        after: "sticky",
        reference: "KIP-480 (KAFKA-8601)",
        summary: "records without a key fill a batch on one partition before the producer moves to another",
    },
    Change {
        switch: Switch::Partitioner,
        since: KafkaVersion::new(3, 3, 0),
        before: "sticky",
        after: "uniform-sticky",
        reference: "KIP-794 (KAFKA-10888)",
        summary: "the producer switches partition after batch.size bytes, weighted away from slow brokers",
    },
    Change {
        switch: Switch::IdempotentEpochBump,
        since: KafkaVersion::new(2, 5, 0),
        before: "false",
        after: "true",
        reference: "KIP-360 (KAFKA-8710)",
        summary: "an idempotent producer that hits a sequence error bumps its epoch and goes on, instead of \
                  failing its batches and taking a new producer id",
    },
    Change {
        switch: Switch::InvalidEpochAbortable,
        since: KafkaVersion::new(2, 7, 0),
        before: "false",
        after: "true",
        reference: "KIP-588 (KAFKA-9803)",
        summary: "a transactional write refused as from an old producer epoch (its transaction timed out) makes \
                  the transaction abortable (INVALID_PRODUCER_EPOCH) instead of fencing the producer \
                  (PRODUCER_FENCED)",
    },
    Change {
        switch: Switch::StickyAssignor,
        since: KafkaVersion::new(2, 5, 1),
        before: "general",
        after: "constrained",
        reference: "KAFKA-9987",
        summary: "when every member subscribes to the same topics, the sticky assignor fills members up to \
                  their quota (constrainedAssign)",
    },
    Change {
        switch: Switch::SessionTimeout,
        since: KafkaVersion::new(3, 0, 0),
        before: "10000",
        after: "45000",
        reference: "KIP-735",
        summary: "a consumer group member is evicted after 45 s without a heartbeat, not 10 s",
    },
    Change {
        switch: Switch::Acks,
        since: KafkaVersion::new(3, 0, 0),
        before: "1",
        after: "all",
        reference: "KIP-679",
        summary: "producers wait for the in-sync replicas by default",
    },
    Change {
        switch: Switch::EnableIdempotence,
        since: KafkaVersion::new(3, 0, 0),
        before: "false",
        after: "true",
        reference: "KIP-679",
        summary: "producers are idempotent by default (unless another setting contradicts it)",
    },
    Change {
        switch: Switch::OffsetValidation,
        since: KafkaVersion::new(2, 3, 0),
        before: "none",
        after: "kip-320",
        reference: "KIP-320 (KAFKA-7747)",
        summary: "after a leader change consumers check their position with OffsetsForLeaderEpoch and rewind to where \
                  the log diverged, instead of reading on past a truncation",
    },
    Change {
        switch: Switch::ZookeeperSessionTimeout,
        since: KafkaVersion::new(2, 5, 0),
        before: "6000",
        after: "18000",
        reference: "KIP-537 (KAFKA-9102)",
        summary: "brokers ask ZooKeeper for an 18 s session, so a GC pause or a slow network expires it less often",
    },
    Change {
        switch: Switch::Metadata,
        since: KafkaVersion::new(4, 0, 0),
        before: "zookeeper",
        after: "kraft",
        reference: "KIP-500, KIP-833",
        summary: "ZooKeeper is gone: a Raft quorum of controllers keeps the metadata, and brokers register, heartbeat \
                  and are fenced through it",
    },
    Change {
        switch: Switch::PreVote,
        since: KafkaVersion::new(4, 0, 0),
        before: "false",
        after: "true",
        reference: "KIP-996 (KAFKA-16164)",
        summary: "a controller that lost the leader asks the others whether they would vote for it before it bumps \
                  the epoch, so a partitioned controller cannot disrupt a working quorum",
    },
    Change {
        switch: Switch::LingerMs,
        since: KafkaVersion::new(4, 0, 0),
        before: "0",
        after: "5",
        reference: "KIP-1030",
        summary: "producers wait up to 5 ms for more records before sending a batch",
    },
    Change {
        switch: Switch::EligibleLeaderReplicas,
        since: KafkaVersion::new(4, 1, 0),
        before: "false",
        after: "true",
        reference: "KIP-966",
        summary: "replicas that drop out of an ISR smaller than min.insync.replicas stay eligible leaders (the high \
                  watermark cannot pass them), and a replica that restarted uncleanly is not elected, so the last \
                  replica standing cannot lose acknowledged records",
    },
    Change {
        switch: Switch::TransactionPartitionVerification,
        since: KafkaVersion::new(3, 6, 0),
        before: "false",
        after: "true",
        reference: "KIP-890 part 1 (KAFKA-14402)",
        summary: "a partition leader asks the transaction coordinator before it lets a producer's first \
                  transactional write open a transaction there, so a late write cannot leave a hanging transaction",
    },
    Change {
        switch: Switch::TransactionVersion,
        since: KafkaVersion::new(4, 0, 0),
        before: "0",
        after: "2",
        reference: "KIP-890 part 2 (KAFKA-14562)",
        summary: "every EndTxn bumps the producer epoch and the markers carry the new one, so a late request of \
                  an earlier transaction is fenced instead of ending the next one; partition leaders add \
                  partitions to the transaction themselves",
    },
];

/// The behaviour of one Kafka release: each switch's default value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The release.
    pub version: KafkaVersion,
}

impl Default for Profile {
    fn default() -> Self {
        Profile { version: DEFAULT }
    }
}

impl Profile {
    /// The profile of `version`, if kafkasim models it.
    pub fn of(version: KafkaVersion) -> Result<Self, String> {
        if version < OLDEST || version > NEWEST {
            return Err(format!(
                "Kafka {version} is not modelled; expected a release from {OLDEST} to {NEWEST}, such as \"2.4\""
            ));
        }
        if !RELEASE_LINES.contains(&(version.major, version.minor)) {
            return Err(format!(
                "Kafka {}.{} was never released; expected a release line such as 0.10, 0.11, 1.0, 2.8 or 3.0",
                version.major, version.minor
            ));
        }
        Ok(Profile { version })
    }

    /// The switch's default value in this release, as a scenario file writes it: the
    /// value of the latest change at or before the release, or the value before the
    /// first change.
    pub fn default_of(&self, switch: Switch) -> &'static str {
        let mut changes = CHANGES.iter().filter(|c| c.switch == switch);
        let first = changes.clone().next().expect("every switch has a change");
        changes.rfind(|c| c.since <= self.version).map_or(first.before, |c| c.after)
    }

    /// Every switch with its default in this release, in table order.
    pub fn defaults(&self) -> Vec<(Switch, &'static str)> {
        let mut switches: Vec<Switch> = CHANGES.iter().map(|c| c.switch).collect();
        switches.dedup();
        switches.into_iter().map(|s| (s, self.default_of(s))).collect()
    }
}

/// The change table as Markdown, as the README shows it: a timeline, oldest release
/// first (rows of one release in table order).
pub fn markdown_table() -> String {
    let mut out = String::from("| setting | where | release | before | from then on | KIP / JIRA | what changed |\n");
    out += "|---|---|---|---|---|---|---|\n";
    let mut timeline: Vec<&Change> = CHANGES.iter().collect();
    timeline.sort_by_key(|c| c.since);
    for c in timeline {
        out += &format!(
            "| `{}` | {} | {} | `{}` | `{}` | {} | {} |\n",
            c.switch.key(),
            c.switch.table(),
            c.since,
            c.before,
            c.after,
            c.reference,
            c.summary
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KafkaVersion {
        text.parse().unwrap()
    }

    #[test]
    fn versions_read_and_order_as_releases() {
        assert!(v("0.10.2") < v("0.11") && v("0.11") < v("1.1") && v("2.4") < v("2.10"));
        assert_eq!(v("2.0").to_string(), "2.0");
        assert_eq!(v("0.10.2").to_string(), "0.10.2");
        assert!("2".parse::<KafkaVersion>().is_err() && "2.x".parse::<KafkaVersion>().is_err());
        assert!(Profile::of(v("4.2")).unwrap_err().contains("from 0.8 to 4.1"));
        assert!(Profile::of(v("4.0")).is_ok() && Profile::of(v("4.1")).is_ok());
        assert!(Profile::of(v("2.9")).unwrap_err().contains("Kafka 2.9 was never released"));
        assert!(Profile::of(v("0.10.2")).is_ok() && Profile::of(v("2.0.1")).is_ok());
        assert_eq!(v("3.0").previous(), Some(v("2.8")));
        assert_eq!(v("2.0.1").previous(), Some(v("2.0")));
        assert_eq!(v("1.0").previous(), Some(v("0.11")));
        assert_eq!(v("0.8").previous(), None);
        assert_eq!(v("4.0").previous(), Some(v("3.9")));
    }

    #[test]
    fn a_release_gets_the_value_of_the_latest_change_at_or_before_it() {
        let truncation = |version: &str| Profile::of(v(version)).unwrap().default_of(Switch::Truncation);
        assert_eq!(truncation("0.10.2"), "legacy");
        assert_eq!(truncation("0.11"), "leader-epoch-kip-101");
        assert_eq!(truncation("1.1"), "leader-epoch-kip-101");
        assert_eq!(truncation("2.0"), "leader-epoch");
        assert_eq!(truncation("3.9"), "leader-epoch");
        let old = Profile::of(v("2.8")).unwrap();
        assert_eq!((old.default_of(Switch::Acks), old.default_of(Switch::EnableIdempotence)), ("1", "false"));
        assert_eq!(Profile::default().default_of(Switch::Acks), "all");
        assert_eq!(Profile::of(v("0.8")).unwrap().default_of(Switch::UncleanLeaderElection), "true");
        let kraft = |version: &str| {
            let p = Profile::of(v(version)).unwrap();
            [Switch::Metadata, Switch::PreVote, Switch::EligibleLeaderReplicas].map(|s| p.default_of(s))
        };
        assert_eq!(kraft("3.9"), ["zookeeper", "false", "false"]);
        assert_eq!(kraft("4.0"), ["kraft", "true", "false"]);
        assert_eq!(kraft("4.1"), ["kraft", "true", "true"]);
    }

    #[test]
    fn the_readme_shows_this_table() {
        let readme = include_str!("../README.md");
        let table = markdown_table();
        assert!(readme.contains(&format!("<!-- profile table -->\n{table}<!-- end profile table -->")), "{table}");
    }

    #[test]
    fn each_switchs_changes_are_in_release_order_and_chain() {
        let mut switches: Vec<Switch> = CHANGES.iter().map(|c| c.switch).collect();
        switches.dedup();
        for switch in switches {
            let changes: Vec<&Change> = CHANGES.iter().filter(|c| c.switch == switch).collect();
            for pair in changes.windows(2) {
                assert!(pair[0].since < pair[1].since, "{switch:?}");
                assert_eq!(pair[0].after, pair[1].before, "{switch:?}: each change starts where the last ended");
            }
        }
    }
}
