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

/// The oldest release kafkasim models (the one Jepsen tested in 2013).
pub const OLDEST: KafkaVersion = KafkaVersion::new(0, 8, 0);

/// The newest release kafkasim models, and the default profile.
pub const NEWEST: KafkaVersion = KafkaVersion::new(3, 9, 0);

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
    /// `zookeeper.session.timeout.ms` (`[cluster.config]`).
    ZookeeperSessionTimeout,
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
            Switch::ZookeeperSessionTimeout => "zookeeper.session.timeout.ms",
        }
    }

    /// Where in a scenario file the setting goes.
    pub fn table(self) -> &'static str {
        match self {
            Switch::Truncation => "[cluster]",
            Switch::UncleanLeaderElection => "[cluster.config] or [topics.config]",
            Switch::Acks | Switch::EnableIdempotence | Switch::Retries => "[producers.config]",
            Switch::ZookeeperSessionTimeout => "[cluster.config]",
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
        switch: Switch::Retries,
        since: KafkaVersion::new(2, 1, 0),
        before: "0",
        after: "2147483647",
        reference: "KIP-91",
        summary: "producers retry until delivery.timeout.ms instead of failing a send on the first error",
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
        switch: Switch::ZookeeperSessionTimeout,
        since: KafkaVersion::new(2, 5, 0),
        before: "6000",
        after: "18000",
        reference: "KIP-537 (KAFKA-9102)",
        summary: "brokers ask ZooKeeper for an 18 s session, so a GC pause or a slow network expires it less often",
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
        Profile { version: NEWEST }
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
        Ok(Profile { version })
    }

    /// The switch's default value in this release, as a scenario file writes it: the
    /// value of the latest change at or before the release, or the value before the
    /// first change.
    pub fn default_of(&self, switch: Switch) -> &'static str {
        let changes = CHANGES.iter().filter(|c| c.switch == switch);
        let first = changes.clone().next().expect("every switch has a change");
        changes.filter(|c| c.since <= self.version).last().map_or(first.before, |c| c.after)
    }

    /// Every switch with its default in this release, in table order.
    pub fn defaults(&self) -> Vec<(Switch, &'static str)> {
        let mut switches: Vec<Switch> = CHANGES.iter().map(|c| c.switch).collect();
        switches.dedup();
        switches.into_iter().map(|s| (s, self.default_of(s))).collect()
    }
}

/// The change table as Markdown, as the README shows it.
pub fn markdown_table() -> String {
    let mut out = String::from("| setting | where | release | before | from then on | KIP / JIRA | what changed |\n");
    out += "|---|---|---|---|---|---|---|\n";
    for c in CHANGES {
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
        assert!(Profile::of(v("4.0")).unwrap_err().contains("from 0.8 to 3.9"));
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
