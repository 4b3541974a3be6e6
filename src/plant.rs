//! Planted bugs: known-broken behaviours the system under test can be told to adopt, so
//! that we can measure whether the checkers are any good. A planted bug is chosen per
//! run (`kafkasim run FILE --plant BUG`, [`crate::runner::RunOptions::plant`]) and
//! reaches the broker (its replication code and its group coordinator), the controller
//! and the KRaft controllers' Raft code ([`crate::raft::QuorumConfig::plant`]) through
//! their configuration, never through a global: two runs in one process may plant
//! different bugs.
//!
//! Each bug is one small branch in the real code path, marked with a `PLANTED BUG`
//! comment naming it, so `grep -rn "PLANTED BUG" src/` lists every place.
//!
//! Extension point: a new bug gets a variant here (in [`PlantedBug::ALL`], with a name
//! and a summary), a [`PlantedBug::target_scenario`] that is clean without it, and its
//! branch in the component, read from that component's configuration (the group
//! coordinator's `stale-generation-commit`, for example, reads the hosting broker's
//! [`crate::broker::BrokerConfig::plant`]). The CLI and the report pick up every variant
//! of [`PlantedBug::ALL`]; `sim-tests/planted.rs` needs a bound and a test for it.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A known-broken behaviour swapped into the system under test. The kebab-case names
/// ([`PlantedBug::name`]) are public interface: they appear on the command line and in
/// reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum PlantedBug {
    /// The leader moves its high watermark to its own log end as soon as it appends,
    /// before the followers in the ISR have the records. Consumers read, and acks=all
    /// producers are answered for, records that a leader change can still remove.
    HwBeforeIsr,
    /// The leader answers an acks=all produce right after its own write, without waiting
    /// in the purgatory for the ISR (the high watermark itself stays correct).
    AcksAllLeaderOnly,
    /// A follower keeps its whole log on a leader change: neither the legacy
    /// truncation to the high watermark nor the KIP-101 OffsetForLeaderEpoch
    /// reconciliation removes the records the new leader does not have.
    NoFollowerTruncation,
    /// A broker that becomes leader drops its idempotent-producer state, and takes the
    /// next batch of a producer it does not know as a fresh start instead of refusing a
    /// sequence gap; a retry of a batch the old leader appended is appended again.
    ForgetIdempotenceOnLeaderChange,
    /// The controller elects a live replica from outside the ISR when no ISR member is
    /// alive, although `unclean.leader.election.enable` is false.
    UncleanElectionIgnoresFlag,
    /// The group coordinator accepts an offset commit that carries a generation or a
    /// member id which is not the group's current one (a member fenced by a rebalance, or
    /// one the group no longer knows), and writes it to `__consumer_offsets`, instead of
    /// refusing it with ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID.
    StaleGenerationCommit,
    /// A KRaft controller grants its vote to a candidate in an epoch in which it has
    /// already voted for another (or stands itself): Raft's one vote per epoch is not
    /// kept, so two candidates can each win a majority of one epoch.
    QuorumVoteTwice,
    /// The KRaft quorum leader moves its high watermark to its own log end as it
    /// appends, without waiting for a majority of voters to have fetched the entries;
    /// what it commits alone is lost when another controller leads.
    QuorumCommitWithoutMajority,
    /// A partition leader serves `read_committed` consumers up to its high watermark,
    /// as if no transaction were open below it: the last stable offset is not held back
    /// by the first offset of an open transaction, so consumers read records of
    /// transactions that later abort.
    LsoPastOpenTransaction,
    /// A partition leader appends a producer's batch whose producer epoch is older than
    /// the one it knows for that producer id (from a newer batch, or from the marker of
    /// a transaction the coordinator aborted under a bumped epoch), instead of refusing
    /// it with INVALID_PRODUCER_EPOCH: a fenced or timed-out producer's late write gets
    /// into the log, in a transaction nobody will end, which the producer's next
    /// transaction there then commits.
    FencedEpochAccepted,
    /// The transaction coordinator starts writing a transaction's commit or abort
    /// markers as soon as it decides, before the PrepareCommit or PrepareAbort record is
    /// replicated in `__transaction_state`: when it fails before that record is safe, the
    /// next coordinator finds the transaction still open and may end it the other way,
    /// while some partitions already hold the first decision's markers.
    MarkersBeforeDecision,
    /// The producer's sender, after a drain finds a partition without a known leader,
    /// does not come back to refresh the metadata after `retry.backoff.ms`: it sleeps
    /// until the batch's linger or delivery timeout, so a sync producer's record waits
    /// out its whole delivery timeout (the first fuzz-found bug, fixed in 4f904e3,
    /// planted back so that the wide swarm must find it).
    SyncProducerStall,
    /// The controller refuses an AlterIsr (AlterPartition) that asks for the state the
    /// partition already has when it carries a stale partition epoch, instead of
    /// answering it with that state: a leader whose ISR change was stored but never
    /// answered (its controller paused or lost) retries it forever, refused each time,
    /// and never takes a follower back into the ISR (the bug fixed in 9a993ae, found by
    /// swarm seed 6953, planted back so that the wide swarm must find it).
    IsrNotRestoredAfterZombie,
}

impl PlantedBug {
    /// Every planted bug, in a fixed order (the order of reports and tests).
    pub const ALL: [PlantedBug; 13] = [
        PlantedBug::HwBeforeIsr,
        PlantedBug::AcksAllLeaderOnly,
        PlantedBug::NoFollowerTruncation,
        PlantedBug::ForgetIdempotenceOnLeaderChange,
        PlantedBug::UncleanElectionIgnoresFlag,
        PlantedBug::StaleGenerationCommit,
        PlantedBug::QuorumVoteTwice,
        PlantedBug::QuorumCommitWithoutMajority,
        PlantedBug::LsoPastOpenTransaction,
        PlantedBug::FencedEpochAccepted,
        PlantedBug::MarkersBeforeDecision,
        PlantedBug::SyncProducerStall,
        PlantedBug::IsrNotRestoredAfterZombie,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::HwBeforeIsr => "hw-before-isr",
            PlantedBug::AcksAllLeaderOnly => "acks-all-leader-only",
            PlantedBug::NoFollowerTruncation => "no-follower-truncation",
            PlantedBug::ForgetIdempotenceOnLeaderChange => "forget-idempotence-on-leader-change",
            PlantedBug::UncleanElectionIgnoresFlag => "unclean-election-ignores-flag",
            PlantedBug::StaleGenerationCommit => "stale-generation-commit",
            PlantedBug::QuorumVoteTwice => "quorum-vote-twice",
            PlantedBug::QuorumCommitWithoutMajority => "quorum-commit-without-majority",
            PlantedBug::LsoPastOpenTransaction => "lso-past-open-transaction",
            PlantedBug::FencedEpochAccepted => "fenced-epoch-accepted",
            PlantedBug::MarkersBeforeDecision => "markers-before-decision",
            PlantedBug::SyncProducerStall => "sync-producer-stall",
            PlantedBug::IsrNotRestoredAfterZombie => "isr-not-restored-after-zombie",
        }
    }

    /// One line saying what is broken.
    pub fn summary(self) -> &'static str {
        match self {
            PlantedBug::HwBeforeIsr => "leader advances the high watermark before the ISR has the record",
            PlantedBug::AcksAllLeaderOnly => "acks=all answered after the leader's write only",
            PlantedBug::NoFollowerTruncation => "follower does not truncate on leader change",
            PlantedBug::ForgetIdempotenceOnLeaderChange => "new leader forgets idempotent-producer state",
            PlantedBug::UncleanElectionIgnoresFlag => {
                "controller elects from outside the ISR with unclean election off"
            }
            PlantedBug::StaleGenerationCommit => "coordinator accepts offset commits from a stale generation",
            PlantedBug::QuorumVoteTwice => "controller votes for a second candidate in one epoch",
            PlantedBug::QuorumCommitWithoutMajority => {
                "quorum leader commits metadata before a majority of controllers has it"
            }
            PlantedBug::LsoPastOpenTransaction => "read_committed consumers read past open transactions",
            PlantedBug::FencedEpochAccepted => "leader appends a batch from a fenced producer epoch",
            PlantedBug::MarkersBeforeDecision => {
                "transaction coordinator writes markers before its decision is durable"
            }
            PlantedBug::SyncProducerStall => {
                "producer sleeps until the delivery timeout instead of refreshing metadata"
            }
            PlantedBug::IsrNotRestoredAfterZombie => {
                "controller refuses a retried AlterIsr for the state it already stored"
            }
        }
    }

    /// The catalog scenario (a file stem under `scenarios/`) that exercises this bug
    /// under the safe configuration; every one of them is clean without a planted bug.
    pub fn target_scenario(self) -> &'static str {
        match self {
            PlantedBug::HwBeforeIsr | PlantedBug::AcksAllLeaderOnly | PlantedBug::NoFollowerTruncation => {
                "acks-all-safe"
            }
            PlantedBug::ForgetIdempotenceOnLeaderChange => "idempotent-producer",
            PlantedBug::UncleanElectionIgnoresFlag => "planted-unclean-election",
            PlantedBug::StaleGenerationCommit => "rebalance-storm",
            PlantedBug::QuorumVoteTwice | PlantedBug::QuorumCommitWithoutMajority => "planted-kraft-quorum",
            PlantedBug::LsoPastOpenTransaction => "txn-read-committed",
            PlantedBug::FencedEpochAccepted => "txn-timed-out-producer-fenced",
            PlantedBug::MarkersBeforeDecision => "txn-coordinator-crash",
            // Liveness bugs, which no lesson's few seeds show: the wide swarm finds them, the
            // ISR one only by guided search (`sweep --guided`, aimed by the
            // `alter-isr-answer-lost` probe; no plain seed of the first thousands reaches it).
            PlantedBug::SyncProducerStall | PlantedBug::IsrNotRestoredAfterZombie => "swarm-wide",
        }
    }
}

impl fmt::Display for PlantedBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PlantedBug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlantedBug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<&str> = PlantedBug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown planted bug `{s}`; known: {}", names.join(", "))
        })
    }
}

/// Whether `bug` is the one planted in a component whose configuration says `planted`.
/// Reads better at the branch than an `==` against an `Option`.
pub fn is_planted(planted: Option<PlantedBug>, bug: PlantedBug) -> bool {
    planted == Some(bug)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_round_trip_and_agree_with_clap_and_serde() {
        for bug in PlantedBug::ALL {
            assert_eq!(bug.name().parse::<PlantedBug>(), Ok(bug));
            let clap_name = bug.to_possible_value().expect("every variant is a value").get_name().to_string();
            assert_eq!(clap_name, bug.name());
            assert_eq!(serde_json::to_string(&bug).unwrap(), format!("\"{}\"", bug.name()));
        }
        assert!("no-such-bug".parse::<PlantedBug>().unwrap_err().contains("hw-before-isr"));
    }

    #[test]
    fn all_lists_every_variant_once() {
        let mut sorted = PlantedBug::ALL.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), PlantedBug::ALL.len());
    }
}
