//! Checkers: pure functions from a recorded [`History`] to the anomalies it contains.
//! They never run the system, so they check histories recorded anywhere.
//!
//! One file per family: `jepsen` (client-visible anomalies, defined as in Jepsen's Kafka
//! workload, with Elle's `G0`/`G1c` cycles, Jepsen's allowed-by-default rules and
//! kafkasim's `exactly-once` and `dead-letter-*` checks of pipelines), `key_order` (one record key's records
//! across partitions), `incarnations` (positions and commits that crossed from a deleted
//! topic to one created again under its name), `groups` (what consumer groups did with
//! their records), `log`
//! (replication invariants over the internal trace), `quorum` (KRaft's Raft safety
//! over the trace), `delay_queue` (delay queues' records forwarded neither early nor
//! late) and `replay` (what consumers read after a rewind).

pub mod delay_queue;
pub(crate) mod describe;
pub mod groups;
pub mod incarnations;
pub mod jepsen;
pub mod key_order;
pub mod liveness;
pub mod log;
pub(crate) mod per_key;
pub mod quorum;
pub mod replay;
#[cfg(test)]
pub(crate) mod testkit;

use crate::history::History;
pub use liveness::LivenessCause;
use serde::Serialize;
use std::fmt;

/// The kinds of anomaly kafkasim reports. Jepsen's names where Jepsen has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AnomalyKind {
    /// An acknowledged send that a later poll should have seen but no poll ever saw.
    LostWrite,
    /// One value appears at more than one offset of a partition.
    Duplicate,
    /// One offset of a partition holds different values in different observations.
    InconsistentOffsets,
    /// An acknowledged send never seen by any poll by the end of the run.
    Unseen,
    /// A producer's successive acknowledged sends to one partition went backwards.
    NonmonotonicSend,
    /// Two sends to one partition within one transaction (`txn` op) went backwards.
    IntNonmonotonicSend,
    /// Two sends to one partition within one transaction (`txn` op) landed with other
    /// records between them (normal: other producers' writes interleave).
    IntSendSkip,
    /// A consumer's successive polls of one partition went backwards.
    NonmonotonicPoll,
    /// Two reads of one partition within one poll or transaction went backwards or
    /// repeated.
    IntNonmonotonicPoll,
    /// A consumer skipped offsets between successive polls of one partition.
    PollSkip,
    /// Two reads of one partition within one poll or transaction skipped records.
    IntPollSkip,
    /// A consumer's position in a deleted topic carried over to the topic created again
    /// under its name, and it skipped the new topic's records below it (see
    /// [`incarnations`]).
    PositionCarried,
    /// A cycle of write-write dependencies between operations (Adya's G0, write cycle).
    G0,
    /// A poll saw a value whose send definitely failed.
    G1a,
    /// A cycle of write-write and write-read dependencies with at least one write-read
    /// edge (Adya's G1c, circular information flow).
    G1c,
    /// A transaction read a value it wrote itself, before it committed.
    PrecommittedRead,
    /// A consume-transform-produce pipeline forwarded an input record to its output
    /// more than once, or not at all although it forwarded later records.
    ExactlyOnce,
    /// A reader (a consumer group, or a consumer outside any group) received a record of
    /// a record key before an earlier record of that key from the same producer, the two
    /// being in different partitions: Kafka orders records only within a partition, and
    /// the key had moved (see [`key_order`]).
    KeyReordered,
    /// A group committed past a record no member finished processing.
    ConsumeSkip,
    /// A record processed more than once within a group.
    ConsumeDuplicate,
    /// A group's committed offset moved backwards without a seek.
    CommitRegression,
    /// A group committed a position in a deleted topic after a topic of the same name
    /// was created, and the coordinator stored it for the new topic (see
    /// [`incarnations`]).
    CrossIncarnationCommit,
    /// Two members of a group owned one partition in the same generation.
    SplitOwnership,
    /// A group handed a partition to a member in a generation whose other member still
    /// claimed it: it had not revoked it before rejoining.
    ReassignedBeforeRevoked,
    /// The coordinator accepted a commit from a member of an older generation, or from a
    /// static member whose instance had since been taken over.
    StaleCommitAccepted,
    /// A static member that restarted and returned before its session expired made its
    /// group rebalance (KIP-345 promises it gets its partitions back without one).
    StaticMemberRebalanced,
    /// Two replicas disagree below their common high watermark.
    ReplicaDivergence,
    /// A leader's high watermark went backwards within one leadership.
    HwRegression,
    /// A record below the high watermark was truncated from a replica.
    CommittedTruncation,
    /// Two brokers accepted writes for one partition in one leader epoch.
    MultipleLeaders,
    /// Two KRaft controllers led the quorum in one Raft epoch.
    QuorumMultipleLeaders,
    /// A committed metadata log entry changed, disappeared, or is missing from a newly
    /// elected quorum leader.
    MetadataDivergence,
    /// A node applied metadata records out of log order or skipped some.
    MetadataGap,
    /// A delay queue's forwarder put a record in the target before it was due (see
    /// [`delay_queue`]).
    DeliveredEarly,
    /// A delay queue's record was not forwarded by its due time plus the queue's bound
    /// (see [`delay_queue`]).
    DeliveredLate,
    /// A record a pipeline dead-lettered is in its dead-letter topic more than once, or
    /// in both the dead-letter topic and the output.
    DeadLetterDuplicate,
    /// A record a pipeline dead-lettered is in neither its dead-letter topic nor its
    /// output, although the pipeline consumed past it.
    DeadLetterLost,
    /// A consumer (or group) rewound on purpose never read an offset of the range it
    /// replays, although it read past it or kept the partition (see [`replay`]).
    ReplaySkip,
    /// A consumer rewound on purpose read its replayed range out of order (see
    /// [`replay`]).
    ReplayReordered,
    /// A rewind by time (`offsetsForTimes`) moved to an offset other than the earliest
    /// whose record timestamp is at or after the time (see [`replay`]).
    ReplayWrongOffset,
    /// The cluster did not recover after the faults healed (liveness).
    NoProgress,
}

impl AnomalyKind {
    /// Every kind, in report order.
    pub const ALL: [AnomalyKind; 41] = [
        AnomalyKind::LostWrite,
        AnomalyKind::Duplicate,
        AnomalyKind::InconsistentOffsets,
        AnomalyKind::Unseen,
        AnomalyKind::NonmonotonicSend,
        AnomalyKind::IntNonmonotonicSend,
        AnomalyKind::IntSendSkip,
        AnomalyKind::NonmonotonicPoll,
        AnomalyKind::IntNonmonotonicPoll,
        AnomalyKind::PollSkip,
        AnomalyKind::IntPollSkip,
        AnomalyKind::PositionCarried,
        AnomalyKind::G0,
        AnomalyKind::G1a,
        AnomalyKind::G1c,
        AnomalyKind::PrecommittedRead,
        AnomalyKind::ExactlyOnce,
        AnomalyKind::KeyReordered,
        AnomalyKind::ConsumeSkip,
        AnomalyKind::ConsumeDuplicate,
        AnomalyKind::CommitRegression,
        AnomalyKind::CrossIncarnationCommit,
        AnomalyKind::SplitOwnership,
        AnomalyKind::ReassignedBeforeRevoked,
        AnomalyKind::StaleCommitAccepted,
        AnomalyKind::StaticMemberRebalanced,
        AnomalyKind::ReplicaDivergence,
        AnomalyKind::HwRegression,
        AnomalyKind::CommittedTruncation,
        AnomalyKind::MultipleLeaders,
        AnomalyKind::QuorumMultipleLeaders,
        AnomalyKind::MetadataDivergence,
        AnomalyKind::MetadataGap,
        AnomalyKind::DeliveredEarly,
        AnomalyKind::DeliveredLate,
        AnomalyKind::DeadLetterDuplicate,
        AnomalyKind::DeadLetterLost,
        AnomalyKind::ReplaySkip,
        AnomalyKind::ReplayReordered,
        AnomalyKind::ReplayWrongOffset,
        AnomalyKind::NoProgress,
    ];

    /// The anomaly's name as written in scenarios and reports, e.g. `lost-write`.
    pub fn name(self) -> &'static str {
        match self {
            AnomalyKind::LostWrite => "lost-write",
            AnomalyKind::Duplicate => "duplicate",
            AnomalyKind::InconsistentOffsets => "inconsistent-offsets",
            AnomalyKind::Unseen => "unseen",
            AnomalyKind::NonmonotonicSend => "nonmonotonic-send",
            AnomalyKind::IntNonmonotonicSend => "int-nonmonotonic-send",
            AnomalyKind::IntSendSkip => "int-send-skip",
            AnomalyKind::NonmonotonicPoll => "nonmonotonic-poll",
            AnomalyKind::IntNonmonotonicPoll => "int-nonmonotonic-poll",
            AnomalyKind::PollSkip => "poll-skip",
            AnomalyKind::IntPollSkip => "int-poll-skip",
            AnomalyKind::PositionCarried => "position-carried",
            AnomalyKind::G0 => "G0",
            AnomalyKind::G1a => "G1a",
            AnomalyKind::G1c => "G1c",
            AnomalyKind::PrecommittedRead => "precommitted-read",
            AnomalyKind::ExactlyOnce => "exactly-once",
            AnomalyKind::KeyReordered => "key-reordered",
            AnomalyKind::ConsumeSkip => "consume-skip",
            AnomalyKind::ConsumeDuplicate => "consume-duplicate",
            AnomalyKind::CommitRegression => "commit-regression",
            AnomalyKind::CrossIncarnationCommit => "cross-incarnation-commit",
            AnomalyKind::SplitOwnership => "split-ownership",
            AnomalyKind::ReassignedBeforeRevoked => "reassigned-before-revoked",
            AnomalyKind::StaleCommitAccepted => "stale-commit-accepted",
            AnomalyKind::StaticMemberRebalanced => "static-member-rebalanced",
            AnomalyKind::ReplicaDivergence => "replica-divergence",
            AnomalyKind::HwRegression => "hw-regression",
            AnomalyKind::CommittedTruncation => "committed-truncation",
            AnomalyKind::MultipleLeaders => "multiple-leaders",
            AnomalyKind::QuorumMultipleLeaders => "quorum-multiple-leaders",
            AnomalyKind::MetadataDivergence => "metadata-divergence",
            AnomalyKind::MetadataGap => "metadata-gap",
            AnomalyKind::DeliveredEarly => "delivered-early",
            AnomalyKind::DeliveredLate => "delivered-late",
            AnomalyKind::DeadLetterDuplicate => "dead-letter-duplicate",
            AnomalyKind::DeadLetterLost => "dead-letter-lost",
            AnomalyKind::ReplaySkip => "replay-skip",
            AnomalyKind::ReplayReordered => "replay-reordered",
            AnomalyKind::ReplayWrongOffset => "replay-wrong-offset",
            AnomalyKind::NoProgress => "no-progress",
        }
    }

    /// The kind with this name, if any.
    pub fn from_name(name: &str) -> Option<AnomalyKind> {
        AnomalyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the kind is a liveness (rather than safety) property.
    pub fn is_liveness(self) -> bool {
        self == AnomalyKind::NoProgress
    }
}

/// Serialized by its name (`lost-write`), as in scenarios and reports.
impl Serialize for AnomalyKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One record involved in an anomaly, with what is known of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordRef {
    /// The topic-partition, e.g. `orders-0`.
    pub key: String,
    /// The offset, when known.
    pub offset: Option<u64>,
    /// The value, when known.
    pub value: Option<u64>,
    /// The client process or broker involved, when known (`process 3`, `broker-2`).
    pub by: Option<String>,
    /// The simulated time of the observation, in nanoseconds, when known.
    pub time_ns: Option<u64>,
    /// The history op index of the observation, when it comes from an op.
    pub op_index: Option<u64>,
    /// What this record's part is in the anomaly (`acknowledged`, `polled`, ...), for a
    /// person.
    pub note: String,
    /// Whether the anomaly is about this record or it is context (a neighbour, a
    /// witness), for tools.
    #[serde(skip_serializing_if = "RecordRole::is_context")]
    pub role: RecordRole,
}

/// A record's part in an anomaly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordRole {
    /// The anomaly is about it: a skipped record, a record never processed.
    Subject,
    /// It shows the anomaly: the records around a skip, the copies of an offset, ...
    #[default]
    Context,
}

impl RecordRole {
    /// Whether the record is context.
    pub fn is_context(&self) -> bool {
        *self == RecordRole::Context
    }
}

/// One violation found in a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Anomaly {
    /// The kind.
    pub kind: AnomalyKind,
    /// One sentence a person can follow.
    pub description: String,
    /// The records involved.
    pub records: Vec<RecordRef>,
    /// Why the run made no progress (`no-progress` anomalies only, which the runner's
    /// liveness phase finds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness: Option<LivenessCause>,
}

impl Anomaly {
    /// A safety anomaly a checker found.
    pub fn new(kind: AnomalyKind, description: String, records: Vec<RecordRef>) -> Self {
        Anomaly { kind, description, records, liveness: None }
    }

    /// A `no-progress` anomaly for what the liveness phase found still wrong; its
    /// description is the cause's.
    pub fn no_progress(cause: LivenessCause) -> Self {
        Anomaly {
            kind: AnomalyKind::NoProgress,
            description: cause.to_string(),
            records: Vec::new(),
            liveness: Some(cause),
        }
    }
}

/// Runs every safety checker over a history: the client-visible anomalies of
/// [`jepsen`] and [`key_order`], the consumer-group anomalies of [`groups`], the
/// replication invariants of [`log`], KRaft's of [`quorum`] and the delay queues' of
/// [`delay_queue`]. Anomalies come sorted by
/// [`AnomalyKind`] (the order of [`AnomalyKind::ALL`]), then in the order found; the
/// result depends only on the history.
pub fn check_all(history: &History) -> Vec<Anomaly> {
    // One family after the other on purpose: on threads the checkers allocate in fresh
    // malloc arenas instead of the memory the simulation just freed, which raised the
    // benchmark's peak memory by a half for a small gain in wall time.
    let mut all = jepsen::check(history);
    all.extend(key_order::key_reorders(history));
    all.extend(incarnations::positions_carried(history));
    all.extend(incarnations::cross_incarnation_commits(history));
    all.extend(groups::check(history));
    all.extend(log::check(history));
    all.extend(quorum::check(history));
    all.extend(delay_queue::check(history));
    all.extend(replay::check(history));
    all.sort_by_key(|a| a.kind);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;
    use crate::history::{Event, GroupContext, MicroOp, Op, OpFn, OpType, OpValue, TraceEvent};
    use proptest::prelude::*;

    fn kinds(anomalies: &[Anomaly]) -> Vec<AnomalyKind> {
        anomalies.iter().map(|a| a.kind).collect()
    }

    fn leader_append(broker: u32, value: u64) -> Event {
        Event::Append {
            tp: "x".into(),
            broker,
            as_leader: true,
            leader_epoch: 1,
            base_offset: 0,
            values: smallvec::smallvec![value],
        }
    }

    #[test]
    fn check_all_sorts_by_kind_then_discovery() {
        // 11 is skipped (lost, unseen, and a skip within one poll); 99 failed yet was read.
        let h = Hist::new()
            .event("broker-2", leader_append(2, 10))
            .send_fail(0, "x", 99)
            .send_ok(0, "x", 0, 10)
            .send_ok(0, "x", 1, 11)
            .send_ok(0, "x", 2, 12)
            .poll_ok(1, &[("x", &[(0, 10), (2, 12), (3, 99)])])
            .event("broker-1", leader_append(1, 10))
            .build();
        let found = check_all(&h);
        assert_eq!(
            kinds(&found),
            vec![
                AnomalyKind::LostWrite,
                AnomalyKind::Unseen,
                AnomalyKind::IntPollSkip,
                AnomalyKind::G1a,
                AnomalyKind::MultipleLeaders,
            ]
        );
        assert_eq!(found[0].records[0].value, Some(11));
        assert_eq!(found[2].records[1].offset, Some(1));
        assert_eq!(found[3].records[1].offset, Some(3));
        assert_eq!(check_all(&h), found, "same history, same anomalies");
    }

    #[test]
    fn every_kind_is_listed_once_in_declaration_order_with_a_unique_name() {
        assert!(AnomalyKind::ALL.windows(2).all(|w| w[0] < w[1]), "ALL follows the enum's order");
        assert_eq!(AnomalyKind::ALL[0], AnomalyKind::LostWrite);
        assert_eq!(*AnomalyKind::ALL.last().unwrap(), AnomalyKind::NoProgress, "liveness reports last");
        for kind in AnomalyKind::ALL {
            assert_eq!(AnomalyKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(AnomalyKind::from_name("int-send-skip"), Some(AnomalyKind::IntSendSkip));
        assert_eq!(AnomalyKind::from_name("G1c"), Some(AnomalyKind::G1c));
        assert_eq!(AnomalyKind::from_name("exactly-once"), Some(AnomalyKind::ExactlyOnce));
    }

    #[test]
    fn a_clean_run_with_a_drain_has_no_anomalies() {
        let h = Hist::new()
            .subscribe(1, &["x"])
            .send_ok(0, "x", 0, 10)
            .poll_ok(1, &[("x", &[(0, 10)])])
            .send_ok(0, "x", 1, 11)
            .send_info(0, "x", 12)
            .send_invoke(2, "x", 13)
            .at_ms(10_000)
            .assign(3, &["x"])
            .poll_ok(3, &[("x", &[(0, 10), (1, 11), (2, 13)])])
            .build();
        assert_eq!(check_all(&h), vec![]);
    }

    #[test]
    fn an_empty_history_has_no_anomalies() {
        assert!(check_all(&History::default()).is_empty());
    }

    /// One arbitrary op: small ranges so that keys, offsets and values collide often.
    fn arb_op() -> impl Strategy<Value = (u64, u8, u8, u8, u64, u64, bool)> {
        (0..3u64, 0..4u8, 0..11u8, 0..3u8, 0..6u64, 0..8u64, any::<bool>())
    }

    fn op_from((process, kind, f, key, offset, value, flag): (u64, u8, u8, u8, u64, u64, bool), index: u64) -> Op {
        let kind = [OpType::Invoke, OpType::Ok, OpType::Fail, OpType::Info][kind as usize];
        let f = [
            OpFn::Send,
            OpFn::Poll,
            OpFn::Txn,
            OpFn::Assign,
            OpFn::Subscribe,
            OpFn::Crash,
            OpFn::Commit,
            OpFn::Process,
            OpFn::Revoke,
            OpFn::Lose,
            OpFn::DeadLetter,
            OpFn::Rewind,
        ][f as usize];
        let key = format!("k-{key}");
        let send = MicroOp::Send { key: key.as_str().into(), value, offset: flag.then_some(offset) };
        let poll = MicroOp::Poll {
            records: flag
                .then(|| [(key.clone(), vec![(offset, value), (offset / 2, value + 1)])].into_iter().collect()),
        };
        let value = match f {
            OpFn::Send => OpValue::Txn(vec![send]),
            OpFn::Poll => OpValue::Txn(vec![poll]),
            OpFn::Txn => OpValue::Txn(vec![poll, send]),
            OpFn::Assign | OpFn::Subscribe | OpFn::Revoke | OpFn::Lose if flag => OpValue::Keys(vec![key]),
            OpFn::Commit if flag => OpValue::Offsets([(key, offset)].into_iter().collect()),
            OpFn::Process | OpFn::DeadLetter if flag => {
                OpValue::Records([(key, vec![(offset, value)])].into_iter().collect())
            }
            // A rewind by time to a time the offsets stand for, moving `value` back to `offset`.
            OpFn::Rewind => OpValue::Rewind(crate::history::Rewind {
                to_time_ms: flag.then_some(offset * 100),
                group: index.is_multiple_of(2).then(|| "g".to_string()),
                partitions: [(key, crate::history::RewindMove { from: Some(value), to: flag.then_some(offset) })]
                    .into_iter()
                    .collect(),
            }),
            _ => OpValue::Nil,
        };
        // Processes 0 and 1 are members of one group, with generations colliding often.
        let group = (process < 2).then(|| GroupContext {
            group: "g".into(),
            member: format!("m{process}"),
            generation: (index % 3) as u32,
            instance: None,
            protocol: Default::default(),
        });
        Op {
            index,
            time_ns: index * 1_000_000,
            process,
            kind,
            f,
            value,
            error: None,
            group,
            record_keys: None,
            delay: None,
        }
    }

    fn event_from((broker, which, offset, value, flag): (u32, u8, u64, u64, bool)) -> Event {
        let tp: std::sync::Arc<str> = "k-0".into();
        // Two epochs, so that equal values at one offset sometimes are different entries.
        let epoch = 1 + (value % 2) as u32;
        match which {
            0 => Event::BrokerStarted { broker },
            1 => Event::LogLoaded { tp, broker, records: vec![(offset, value, epoch)], high_watermark: offset },
            2 => Event::Append {
                tp,
                broker,
                as_leader: flag,
                leader_epoch: epoch + u32::from(flag),
                base_offset: offset,
                values: smallvec::smallvec![value],
            },
            3 => Event::HighWatermark { tp, broker, is_leader: flag, leader_epoch: 1, old: 0, new: offset },
            4 => Event::Truncate {
                tp,
                broker,
                to_offset: offset,
                removed: vec![(offset, value, epoch)],
                reason: crate::history::TruncationReason::LeaderEpoch,
            },
            _ => Event::BecomeLeader { tp, broker, leader_epoch: 1, log_end_offset: offset, isr: vec![] },
        }
    }

    proptest! {
        #[test]
        fn arbitrary_histories_never_panic_and_check_the_same_twice(
            ops in prop::collection::vec(arb_op(), 0..40),
            events in prop::collection::vec((0..3u32, 0..6u8, 0..6u64, 0..8u64, any::<bool>()), 0..40),
        ) {
            let history = History {
                ops: ops.into_iter().enumerate().map(|(i, o)| op_from(o, i as u64)).collect(),
                trace: events
                    .into_iter()
                    .enumerate()
                    .map(|(i, e)| TraceEvent { time_ns: i as u64, node: "broker".into(), event: event_from(e) })
                    .collect(),
            };
            let first = check_all(&history);
            prop_assert_eq!(&first, &check_all(&history));
            prop_assert!(first.windows(2).all(|w| w[0].kind <= w[1].kind));
            prop_assert!(first.iter().all(|a| !a.description.is_empty() && !a.records.is_empty()));
        }
    }
}
