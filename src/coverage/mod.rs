//! Named protocol states a run reaches (FoundationDB's `CODE_PROBE`): the one list of
//! them ([`ReachedState`]), what one run reached ([`ReachedStates`]), what the seeds of a
//! scenario or a sweep reached together ([`Coverage`]), and the `reach` goals of a
//! scenario's `[expect]` judged against that ([`Coverage::missed`]).
//!
//! Each state is hit where the system under test reaches it, once per site
//! (`tracer.reached(ReachedState::UncleanElection)` in the controller's unclean-election
//! branch), except the few only known after the run (see
//! [`ReachedState::is_derived_after_the_run`]). Probes are not trace events: they never
//! feed the trace hash, spawn nothing and wait for nothing, so adding one changes no run.
//!
//! [`idle`] names the faults that fired but changed nothing.
//!
//! Depends on nothing but [`crate::fault`].

pub mod idle;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A protocol state or transition a run can reach, by its public kebab-case name
/// (`unclean-election`) as scenario files' `reach` goals and `--json` write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReachedState {
    /// A partition's ISR shrank to its leader alone while it has other replicas.
    IsrShrunkToLeader,
    /// An acks=all write was refused with NOT_ENOUGH_REPLICAS or NOT_ENOUGH_REPLICAS_AFTER_APPEND.
    NotEnoughReplicas,
    /// A replica outside the ISR was elected leader.
    UncleanElection,
    /// A replica truncated records below its own high watermark (committed records removed).
    TruncationBelowHighWatermark,
    /// A follower truncated its log at the offset its leader's epoch ends (OffsetsForLeaderEpoch).
    FollowerTruncatedByLeaderEpoch,
    /// A follower truncated records off its log at its own high watermark: the rule
    /// before KIP-101 (Kafka 0.10), and a 0.11-1.1 follower whose leader answered
    /// UNDEFINED_EPOCH_OFFSET.
    FollowerTruncatedToHighWatermark,
    /// A new controller took office after an earlier one (ZooKeeper epoch, or KRaft leader of a later epoch).
    ControllerFailover,
    /// A broker refused a request from a controller of an older epoch, or a controller learned it was fenced.
    ZombieControllerFenced,
    /// A ZooKeeper-mode controller was asked again for an ISR change it had already
    /// stored: the leader's AlterIsr retry after its answer was lost (the controller
    /// paused, crashed or was cut off between storing the change and answering).
    AlterIsrAnswerLost,
    /// A KRaft controller won a quorum election and leads its epoch.
    KraftLeaderElected,
    /// A KRaft leader resigned because a majority of voters stopped fetching (check-quorum).
    KraftQuorumLost,
    /// A KRaft election ended without a majority (too few voters reachable, or a split
    /// vote): the candidate backs off before standing again.
    KraftElectionFailed,
    /// A broker took over the groups of an offsets partition in a later leader epoch than the first.
    CoordinatorMoved,
    /// The group coordinator removed or fenced a member (session expiry, static or epoch fencing).
    MemberFenced,
    /// The group coordinator refused an offset commit from a stale generation, epoch or unknown member.
    StaleCommitRefused,
    /// A classic group's rebalance completed: the leader's assignment was stored and the group is stable.
    RebalanceCompleted,
    /// A cooperative (classic protocol) member revoked only the partitions its new assignment took away.
    CooperativeRevocation,
    /// A KIP-848 member's epoch moved forward to a new target assignment's epoch.
    Kip848MemberEpochBumped,
    /// A producer epoch was bumped: by the transaction coordinator for a transactional id
    /// (re-init or fencing), or by an idempotent producer itself to reset its sequences
    /// after a failed or lost batch (KIP-360, Kafka 2.5+).
    ProducerEpochBumped,
    /// A partition leader answered a retried idempotent batch with its original offset instead of appending it again.
    DuplicateBatchDeduplicated,
    /// A producer re-enqueued a failed batch to send it again (`retries`; the client side).
    ProducerBatchRetried,
    /// A producer batch whose leader kept refusing it (its last answered attempt refused
    /// with an error the producer retries) failed at its `delivery.timeout.ms` (client side).
    RefusedBatchExpired,
    /// A producer of an older epoch was refused (PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH at a partition).
    ProducerFenced,
    /// The transaction coordinator prepared the abort of a transaction.
    TransactionAborted,
    /// The transaction coordinator aborted a transaction open longer than its timeout.
    TransactionTimedOut,
    /// Retention deleted records no consumer ever read (derived after the run).
    RetentionDeletedUnread,
    /// A power loss dropped unflushed data from a node's page cache.
    PowerLossLostUnflushed,
}

impl ReachedState {
    /// Every state, in the order of the list above (the order reports use).
    pub const ALL: [ReachedState; 27] = [
        ReachedState::IsrShrunkToLeader,
        ReachedState::NotEnoughReplicas,
        ReachedState::UncleanElection,
        ReachedState::TruncationBelowHighWatermark,
        ReachedState::FollowerTruncatedByLeaderEpoch,
        ReachedState::FollowerTruncatedToHighWatermark,
        ReachedState::ControllerFailover,
        ReachedState::ZombieControllerFenced,
        ReachedState::AlterIsrAnswerLost,
        ReachedState::KraftLeaderElected,
        ReachedState::KraftQuorumLost,
        ReachedState::KraftElectionFailed,
        ReachedState::CoordinatorMoved,
        ReachedState::MemberFenced,
        ReachedState::StaleCommitRefused,
        ReachedState::RebalanceCompleted,
        ReachedState::CooperativeRevocation,
        ReachedState::Kip848MemberEpochBumped,
        ReachedState::ProducerEpochBumped,
        ReachedState::DuplicateBatchDeduplicated,
        ReachedState::ProducerBatchRetried,
        ReachedState::RefusedBatchExpired,
        ReachedState::ProducerFenced,
        ReachedState::TransactionAborted,
        ReachedState::TransactionTimedOut,
        ReachedState::RetentionDeletedUnread,
        ReachedState::PowerLossLostUnflushed,
    ];

    /// The state's public name (`unclean-election`).
    pub fn name(self) -> &'static str {
        match self {
            ReachedState::IsrShrunkToLeader => "isr-shrunk-to-leader",
            ReachedState::NotEnoughReplicas => "not-enough-replicas",
            ReachedState::UncleanElection => "unclean-election",
            ReachedState::TruncationBelowHighWatermark => "truncation-below-high-watermark",
            ReachedState::FollowerTruncatedByLeaderEpoch => "follower-truncated-by-leader-epoch",
            ReachedState::FollowerTruncatedToHighWatermark => "follower-truncated-to-high-watermark",
            ReachedState::ControllerFailover => "controller-failover",
            ReachedState::ZombieControllerFenced => "zombie-controller-fenced",
            ReachedState::AlterIsrAnswerLost => "alter-isr-answer-lost",
            ReachedState::KraftLeaderElected => "kraft-leader-elected",
            ReachedState::KraftQuorumLost => "kraft-quorum-lost",
            ReachedState::KraftElectionFailed => "kraft-election-failed",
            ReachedState::CoordinatorMoved => "coordinator-moved",
            ReachedState::MemberFenced => "member-fenced",
            ReachedState::StaleCommitRefused => "stale-commit-refused",
            ReachedState::RebalanceCompleted => "rebalance-completed",
            ReachedState::CooperativeRevocation => "cooperative-revocation",
            ReachedState::Kip848MemberEpochBumped => "kip848-member-epoch-bumped",
            ReachedState::ProducerEpochBumped => "producer-epoch-bumped",
            ReachedState::DuplicateBatchDeduplicated => "duplicate-batch-deduplicated",
            ReachedState::ProducerBatchRetried => "producer-batch-retried",
            ReachedState::RefusedBatchExpired => "refused-batch-expired",
            ReachedState::ProducerFenced => "producer-fenced",
            ReachedState::TransactionAborted => "transaction-aborted",
            ReachedState::TransactionTimedOut => "transaction-timed-out",
            ReachedState::RetentionDeletedUnread => "retention-deleted-unread",
            ReachedState::PowerLossLostUnflushed => "power-loss-lost-unflushed",
        }
    }

    /// The state named `name`, if any.
    pub fn from_name(name: &str) -> Option<ReachedState> {
        ReachedState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Every state's name, in [`ReachedState::ALL`] order.
    pub fn names() -> Vec<&'static str> {
        ReachedState::ALL.iter().map(|s| s.name()).collect()
    }

    /// Whether the state is derived from the history after the run rather than hit where
    /// the system reaches it: `retention-deleted-unread` needs to know that no consumer
    /// read the deleted records, which no broker can know when it deletes them.
    pub fn is_derived_after_the_run(self) -> bool {
        self == ReachedState::RetentionDeletedUnread
    }
}

impl std::fmt::Display for ReachedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for ReachedState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for ReachedState {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ReachedState::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown protocol state {name:?}; expected one of {}",
                ReachedState::names().join(", ")
            ))
        })
    }
}

/// How often one run reached a state, and when first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reach {
    /// How many times the run reached it.
    pub count: u64,
    /// When it first did, in simulated nanoseconds since the run started.
    pub first_ns: u64,
}

/// The states one run reached: its per-run counters, kept apart from the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReachedStates(BTreeMap<ReachedState, Reach>);

impl ReachedStates {
    /// Counts one reach of `state` at `now_ns`.
    pub fn hit(&mut self, state: ReachedState, now_ns: u64) {
        self.0.entry(state).and_modify(|r| r.count += 1).or_insert(Reach { count: 1, first_ns: now_ns });
    }

    /// Whether the run reached `state`.
    pub fn contains(&self, state: ReachedState) -> bool {
        self.0.contains_key(&state)
    }

    /// Each reached state with its counts, in [`ReachedState::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (ReachedState, Reach)> + '_ {
        self.0.iter().map(|(s, r)| (*s, *r))
    }

    /// The states reached, in [`ReachedState::ALL`] order.
    pub fn states(&self) -> BTreeSet<ReachedState> {
        self.0.keys().copied().collect()
    }

    /// Whether nothing was reached.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What the seeds of a scenario or a sweep reached together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Seeds counted.
    pub seeds: u64,
    /// For each state reached by some seed, how many seeds reached it.
    pub seeds_reaching: BTreeMap<ReachedState, u64>,
}

/// One state's line in a coverage report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateCoverage {
    /// The state.
    pub state: ReachedState,
    /// Seeds that reached it.
    pub seeds: u64,
    /// The fraction of the seeds that reached it (0 to 1).
    pub fraction: f64,
}

/// A coverage report as `--json` writes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageReport {
    /// Seeds counted.
    pub seeds: u64,
    /// Every state some seed reached, with the fraction of seeds.
    pub reached: Vec<StateCoverage>,
    /// Every state no seed reached, in [`ReachedState::ALL`] order.
    pub never_reached: Vec<ReachedState>,
}

impl Coverage {
    /// Counts one seed's reached states.
    pub fn add(&mut self, reached: &BTreeSet<ReachedState>) {
        self.seeds += 1;
        for state in reached {
            *self.seeds_reaching.entry(*state).or_default() += 1;
        }
    }

    /// The coverage of `seeds`, each given by the states it reached.
    pub fn of<'a>(seeds: impl IntoIterator<Item = &'a BTreeSet<ReachedState>>) -> Self {
        let mut coverage = Coverage::default();
        for reached in seeds {
            coverage.add(reached);
        }
        coverage
    }

    /// Whether some seed reached `state`.
    pub fn reached(&self, state: ReachedState) -> bool {
        self.seeds_reaching.contains_key(&state)
    }

    /// The goals (a scenario's `reach`) that no seed reached, in the goals' order: a
    /// lesson that depends on a state it never reached is vacuous.
    pub fn missed(&self, goals: &[ReachedState]) -> Vec<ReachedState> {
        goals.iter().copied().filter(|g| !self.reached(*g)).collect()
    }

    /// Every state no seed reached, in [`ReachedState::ALL`] order.
    pub fn never_reached(&self) -> Vec<ReachedState> {
        ReachedState::ALL.into_iter().filter(|s| !self.reached(*s)).collect()
    }

    /// The report `--json` writes.
    pub fn report(&self) -> CoverageReport {
        let reached = self
            .seeds_reaching
            .iter()
            .map(|(state, seeds)| StateCoverage {
                state: *state,
                seeds: *seeds,
                fraction: if self.seeds == 0 { 0.0 } else { *seeds as f64 / self.seeds as f64 },
            })
            .collect();
        CoverageReport { seeds: self.seeds, reached, never_reached: self.never_reached() }
    }

    /// The report for people: per reached state the share of seeds, then the states
    /// never reached.
    pub fn render(&self) -> String {
        let mut out = format!("states reached (of {} seeds):\n", self.seeds);
        if self.seeds_reaching.is_empty() {
            out += "  none\n";
        }
        let width = self.seeds_reaching.keys().map(|s| s.name().len()).max().unwrap_or(0);
        for (state, seeds) in &self.seeds_reaching {
            let percent = if self.seeds == 0 { 0.0 } else { 100.0 * *seeds as f64 / self.seeds as f64 };
            out += &format!("  {:<width$}  {seeds}/{} ({percent:.0}%)\n", state.name(), self.seeds);
        }
        let never = self.never_reached();
        if never.is_empty() {
            out += "states never reached: none\n";
        } else {
            let names: Vec<&str> = never.iter().map(|s| s.name()).collect();
            out += &format!("states never reached: {}\n", names.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_distinct_kebab_case_name_that_reads_back() {
        let names = ReachedState::names();
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len(), "names are distinct");
        for state in ReachedState::ALL {
            let name = state.name();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
            assert_eq!(ReachedState::from_name(name), Some(state));
            assert_eq!(serde_json::to_string(&state).unwrap(), format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<ReachedState>(&format!("\"{name}\"")).unwrap(), state);
        }
        assert_eq!(ReachedState::from_name("unclean"), None);
        // ALL is in declaration order, which is the order of the BTreeMaps.
        assert!(ReachedState::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_run_counts_each_state_and_keeps_when_it_first_reached_it() {
        let mut reached = ReachedStates::default();
        assert!(reached.is_empty());
        reached.hit(ReachedState::UncleanElection, 5);
        reached.hit(ReachedState::UncleanElection, 9);
        reached.hit(ReachedState::IsrShrunkToLeader, 7);
        assert_eq!(
            reached.iter().collect::<Vec<_>>(),
            [
                (ReachedState::IsrShrunkToLeader, Reach { count: 1, first_ns: 7 }),
                (ReachedState::UncleanElection, Reach { count: 2, first_ns: 5 }),
            ]
        );
        assert!(reached.contains(ReachedState::UncleanElection));
        assert!(!reached.contains(ReachedState::MemberFenced));
    }

    #[test]
    fn coverage_counts_seeds_and_names_missed_goals_and_states_never_reached() {
        let one = BTreeSet::from([ReachedState::UncleanElection, ReachedState::IsrShrunkToLeader]);
        let two = BTreeSet::from([ReachedState::IsrShrunkToLeader]);
        let coverage = Coverage::of([&one, &two, &BTreeSet::new()]);
        assert_eq!(coverage.seeds, 3);
        assert_eq!(coverage.seeds_reaching[&ReachedState::IsrShrunkToLeader], 2);
        assert_eq!(
            coverage.missed(&[ReachedState::PowerLossLostUnflushed, ReachedState::UncleanElection]),
            [ReachedState::PowerLossLostUnflushed]
        );
        assert_eq!(coverage.never_reached().len(), ReachedState::ALL.len() - 2);
        let report = coverage.report();
        assert_eq!(report.reached[0].state, ReachedState::IsrShrunkToLeader);
        assert!((report.reached[0].fraction - 2.0 / 3.0).abs() < 1e-9);
        let text = coverage.render();
        assert!(text.contains("isr-shrunk-to-leader  2/3 (67%)"), "{text}");
        assert!(text.contains("states never reached: not-enough-replicas,"), "{text}");
    }
}
