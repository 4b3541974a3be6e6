//! Why a run made no progress: the causes of a `no-progress` anomaly. The runner's
//! liveness phase finds them (no checker can: they are about what did not happen in
//! time), and `explain` tells each one's story by matching on the cause, never on the
//! sentence that describes it.

use crate::protocol::broker_name;
use crate::units::format_duration_ms as duration;
use serde::Serialize;
use std::fmt;

/// What the liveness phase found still wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "kebab-case")]
pub enum LivenessCause {
    /// Some partition had no leader within `timeout_s` seconds of the cluster booting.
    NoLeaderAtBoot {
        /// The boot timeout, in seconds.
        timeout_s: u64,
    },
    /// Producers still waited for answers after the faults healed.
    SendsUnanswered {
        /// How many sends were unanswered.
        count: u64,
        /// How long the liveness phase waited, in milliseconds.
        waited_ms: u64,
        /// Whether the phase waited past `liveness_timeout` because every unfinished
        /// send was held by a batch its leader kept refusing: until that batch's
        /// `delivery.timeout.ms`, and `liveness_timeout` more.
        refused: bool,
    },
    /// Partitions did not recover after the faults healed: a leader missing, the ISR
    /// not restored, or a leader's high watermark short of its log end.
    NotRecovered {
        /// How long the liveness phase waited, in milliseconds.
        waited_ms: u64,
        /// What was wrong, partition by partition.
        problems: Vec<PartitionProblem>,
    },
    /// KRaft: the controller quorum or the brokers' place in it did not recover after the
    /// faults healed: no active controller committing, or brokers fenced or behind the
    /// committed metadata.
    QuorumNotRecovered {
        /// How long the liveness phase waited, in milliseconds.
        waited_ms: u64,
        /// What was wrong.
        problems: Vec<QuorumProblem>,
    },
    /// The final drain could not read these partitions to their high watermark.
    Undrained {
        /// The partitions, `topic-N`.
        partitions: Vec<String>,
        /// How long the drain waits without progress before it gives up (the
        /// `liveness_timeout`), in milliseconds.
        waited_ms: u64,
    },
    /// `read_committed` consumers were held at the last stable offset of these
    /// partitions until the liveness phase ran out of time: a transaction opened there
    /// was still open (its producer never ended it, and the coordinator had not aborted
    /// it yet), and acknowledged records above it could not be read. Kafka's
    /// `firstUnstableOffset` (`ProducerStateManager`) holds the last stable offset at the
    /// first offset of the earliest open transaction.
    OpenTransaction {
        /// How long the drain waits without progress before it gives up (the
        /// `liveness_timeout`), in milliseconds.
        waited_ms: u64,
        /// Each held partition.
        held: Vec<HeldPartition>,
    },
    /// Consumer groups had not committed up to the end of every partition.
    GroupsBehind {
        /// How long after the heal the liveness phase gave up, in milliseconds: the
        /// groups stopped catching up for `liveness_timeout`, or the drain's bound of
        /// ten of those passed.
        waited_ms: u64,
        /// Each lagging group partition.
        behind: Vec<GroupLag>,
        /// Records group members polled and had not processed yet.
        unprocessed: u64,
    },
    /// Delay queues had not forwarded every record acknowledged to their tiers' producers
    /// (the liveness phase waits for them before the drain reads the targets).
    DelayedNotForwarded {
        /// How long the liveness phase waited, in milliseconds.
        waited_ms: u64,
        /// How many tier records had no forward that took effect.
        count: u64,
        /// The first of them, `delay-1s-0 value 17`.
        first: Vec<String>,
    },
}

/// One partition that did not recover.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum PartitionProblem {
    /// The controller never stored any state for it.
    NeverCreated {
        /// The partition.
        tp: String,
    },
    /// It has no acting leader.
    NoLeader {
        /// The partition.
        tp: String,
    },
    /// Some assigned replicas are not back in the ISR.
    IsrLacks {
        /// The partition.
        tp: String,
        /// The missing replicas' brokers.
        brokers: Vec<u32>,
    },
    /// Its leader's high watermark is below its log end.
    UncommittedTail {
        /// The partition.
        tp: String,
    },
}

/// What kept a KRaft cluster's metadata from recovering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum QuorumProblem {
    /// No controller committed anything after the faults healed, although the active
    /// controller writes a `NoOpRecord` every `metadata.max.idle.interval.ms`: the quorum
    /// has no leader, or its leader cannot reach a majority.
    NoActiveController,
    /// The broker is not registered, or fenced, in the committed metadata.
    BrokerFenced {
        /// The broker.
        broker: u32,
    },
    /// The broker has not applied the metadata committed by the time the faults healed
    /// (and, while the controller writes idle records, anything after it).
    BrokerBehind {
        /// The broker.
        broker: u32,
        /// How far it has applied the metadata log.
        applied: u64,
        /// The committed end of the log.
        committed: u64,
    },
}

/// A partition whose last stable offset an open transaction held below its high
/// watermark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldPartition {
    /// The partition.
    pub tp: String,
    /// Its last stable offset when the drain gave up: the first offset of the open
    /// transaction.
    pub last_stable_offset: u64,
    /// Its high watermark then.
    pub high_watermark: u64,
    /// Who opened the transaction at the last stable offset, if the history tells.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened_by: Option<TxnOpener>,
}

/// The client operation whose record opened a transaction in a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct TxnOpener {
    /// The client process (Jepsen's process id).
    pub process: u64,
    /// The value of the record at the transaction's first offset.
    pub value: u64,
    /// The history index of the `txn` op's invocation.
    pub op_index: u64,
}

/// A consumer group's committed offset short of a partition's end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupLag {
    /// The group.
    pub group: String,
    /// The partition.
    pub tp: String,
    /// The group's last accepted commit (0 if none).
    pub committed: u64,
    /// The offset the final drain read the partition to.
    pub end: u64,
}

impl LivenessCause {
    /// Whether the cause is a partition without a leader or with replicas out of its
    /// ISR (rather than clients, the drain or groups).
    pub fn is_leadership(&self) -> bool {
        match self {
            LivenessCause::NoLeaderAtBoot { .. } => true,
            LivenessCause::NotRecovered { problems, .. } => problems
                .iter()
                .any(|p| matches!(p, PartitionProblem::NoLeader { .. } | PartitionProblem::IsrLacks { .. })),
            _ => false,
        }
    }
}

impl fmt::Display for LivenessCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LivenessCause::NoLeaderAtBoot { timeout_s } => {
                write!(f, "the cluster did not elect a leader for every partition within {timeout_s} s of booting")
            }
            LivenessCause::SendsUnanswered { count, waited_ms, refused } => {
                write!(f, "{count} sends were still unanswered {} after the faults healed", duration(*waited_ms))?;
                if *refused {
                    f.write_str(
                        ", although the batches their leaders kept refusing had reached their delivery timeout",
                    )?;
                }
                Ok(())
            }
            LivenessCause::NotRecovered { waited_ms, problems } => after_heal(f, *waited_ms, problems),
            LivenessCause::QuorumNotRecovered { waited_ms, problems } => after_heal(f, *waited_ms, problems),
            LivenessCause::Undrained { partitions, waited_ms } => write!(
                f,
                "after healing, partitions {} could not be read to their high watermark (the drain gives up after {} \
                 without progress)",
                partitions.join(", "),
                duration(*waited_ms)
            ),
            LivenessCause::OpenTransaction { waited_ms, held } => {
                let held: Vec<String> = held.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{} after the faults healed, read_committed consumers were still held at the last stable \
                     offset by a transaction nobody ended: {}",
                    duration(*waited_ms),
                    held.join("; ")
                )
            }
            LivenessCause::GroupsBehind { waited_ms, behind, unprocessed } => {
                let mut lags: Vec<String> =
                    behind.iter().map(|l| format!("{} {} at {} of {}", l.group, l.tp, l.committed, l.end)).collect();
                if *unprocessed > 0 {
                    lags.push(format!("{unprocessed} polled records not processed yet"));
                }
                write!(
                    f,
                    "{} s after the faults healed, consumer groups had not committed up to the end of every \
                     partition: {}",
                    waited_ms / 1_000,
                    lags.join("; ")
                )
            }
            LivenessCause::DelayedNotForwarded { waited_ms, count, first } => {
                let more = (*count).saturating_sub(first.len() as u64);
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                write!(
                    f,
                    "{} after the faults healed, delay queues had not forwarded {count} records of their tiers: \
                     {}{more}",
                    duration(*waited_ms),
                    first.join(", ")
                )
            }
        }
    }
}

/// "40s after the faults healed: " and the problems, `;`-separated.
fn after_heal(f: &mut fmt::Formatter<'_>, waited_ms: u64, problems: &[impl fmt::Display]) -> fmt::Result {
    let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
    write!(f, "{} after the faults healed: {}", duration(waited_ms), problems.join("; "))
}

impl fmt::Display for HeldPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let HeldPartition { tp, last_stable_offset: lso, high_watermark: hw, opened_by } = self;
        write!(f, "{tp} at offset {lso} with its high watermark at {hw}")?;
        match opened_by {
            Some(TxnOpener { process, value, op_index }) => write!(
                f,
                ", behind the transaction process {process} opened at offset {lso} (value {value}, txn op {op_index})"
            ),
            None => write!(f, ", behind a transaction opened at offset {lso}"),
        }
    }
}

impl fmt::Display for QuorumProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuorumProblem::NoActiveController => {
                f.write_str("the controller quorum committed nothing: no active controller")
            }
            QuorumProblem::BrokerFenced { broker } => write!(f, "{} is fenced", broker_name(*broker)),
            QuorumProblem::BrokerBehind { broker, applied, committed } => {
                write!(f, "{} applied the metadata log to {applied} of {committed} committed", broker_name(*broker))
            }
        }
    }
}

impl fmt::Display for PartitionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionProblem::NeverCreated { tp } => write!(f, "{tp} was never created"),
            PartitionProblem::NoLeader { tp } => write!(f, "{tp} has no leader"),
            PartitionProblem::IsrLacks { tp, brokers } => {
                let names: Vec<String> = brokers.iter().map(|b| broker_name(*b)).collect();
                write!(f, "{tp} ISR lacks {}", names.join(", "))
            }
            PartitionProblem::UncommittedTail { tp } => {
                write!(f, "{tp}'s leader has not committed its whole log (high watermark below its end)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_reads_as_the_runner_always_described_it() {
        let not_recovered = LivenessCause::NotRecovered {
            waited_ms: 40_000,
            problems: vec![
                PartitionProblem::NoLeader { tp: "orders-2".into() },
                PartitionProblem::IsrLacks { tp: "orders-1".into(), brokers: vec![1, 3] },
            ],
        };
        assert_eq!(
            not_recovered.to_string(),
            "40s after the faults healed: orders-2 has no leader; orders-1 ISR lacks broker-1, broker-3"
        );
        let quorum = LivenessCause::QuorumNotRecovered {
            waited_ms: 30_000,
            problems: vec![
                QuorumProblem::NoActiveController,
                QuorumProblem::BrokerFenced { broker: 2 },
                QuorumProblem::BrokerBehind { broker: 3, applied: 7, committed: 41 },
            ],
        };
        assert_eq!(
            quorum.to_string(),
            "30s after the faults healed: the controller quorum committed nothing: no active controller; broker-2 \
             is fenced; broker-3 applied the metadata log to 7 of 41 committed"
        );
        let groups = LivenessCause::GroupsBehind {
            waited_ms: 30_000,
            behind: vec![GroupLag { group: "g".into(), tp: "t-0".into(), committed: 12, end: 40 }],
            unprocessed: 3,
        };
        assert_eq!(
            groups.to_string(),
            "30 s after the faults healed, consumer groups had not committed up to the end of every partition: \
             g t-0 at 12 of 40; 3 polled records not processed yet"
        );
        let held = LivenessCause::OpenTransaction {
            waited_ms: 30_000,
            held: vec![
                HeldPartition {
                    tp: "orders-0".into(),
                    last_stable_offset: 412,
                    high_watermark: 530,
                    opened_by: Some(TxnOpener { process: 0, value: 1234, op_index: 57 }),
                },
                HeldPartition { tp: "orders-1".into(), last_stable_offset: 9, high_watermark: 12, opened_by: None },
            ],
        };
        assert_eq!(
            held.to_string(),
            "30s after the faults healed, read_committed consumers were still held at the last stable offset by a \
             transaction nobody ended: orders-0 at offset 412 with its high watermark at 530, behind the \
             transaction process 0 opened at offset 412 (value 1234, txn op 57); orders-1 at offset 9 with its \
             high watermark at 12, behind a transaction opened at offset 9"
        );
        assert!(!held.is_leadership());
        assert_eq!(
            LivenessCause::SendsUnanswered { count: 2, waited_ms: 30_000, refused: false }.to_string(),
            "2 sends were still unanswered 30s after the faults healed"
        );
        assert_eq!(
            LivenessCause::SendsUnanswered { count: 1, waited_ms: 150_000, refused: true }.to_string(),
            "1 sends were still unanswered 2m30s after the faults healed, although the batches their leaders kept \
             refusing had reached their delivery timeout"
        );
    }

    #[test]
    fn leadership_causes_are_told_apart_from_the_others() {
        let tail = PartitionProblem::UncommittedTail { tp: "t-0".into() };
        let never = PartitionProblem::NeverCreated { tp: "t-0".into() };
        assert!(LivenessCause::NoLeaderAtBoot { timeout_s: 60 }.is_leadership());
        assert!(!LivenessCause::NotRecovered { waited_ms: 1, problems: vec![tail, never] }.is_leadership());
        let lacks = PartitionProblem::IsrLacks { tp: "t-0".into(), brokers: vec![2] };
        assert!(LivenessCause::NotRecovered { waited_ms: 1, problems: vec![lacks] }.is_leadership());
        assert!(!LivenessCause::Undrained { partitions: vec![], waited_ms: 1 }.is_leadership());
    }
}
