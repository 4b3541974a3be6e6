//! What a configuration promises: the anomaly kinds that Kafka, configured as one
//! concrete (per-seed) scenario is, promises will not happen, each with the settings
//! that promise it. A wide swarm (`[expect] absent = "promised"`) judges each seed
//! against its own configuration's promise: an acks=1 draw may lose writes, a safe draw
//! may not; every draw must make progress after the faults heal.
//!
//! The rules are conservative: a kind is promised only where Kafka's documentation and
//! design promise it, and never where a lesson of the catalog shows a configuration of
//! that shape breaking it (`scenarios/CLAIMS.md`, named at each rule). A kind no rule
//! promises is simply not judged for that seed.

use crate::check::AnomalyKind;
use crate::fault::FaultKind;
use crate::protocol::{Acks, FollowerRestart, TruncationMode};
use crate::scenario::{CommitPolicy, FaultAction, Processing, Scenario};

/// One promised kind with the settings that promise it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Promise {
    /// The kind that must not appear.
    pub kind: AnomalyKind,
    /// The settings (or the invariant) that promise it, for `run` and reports.
    pub because: String,
}

/// Invariants of the protocols themselves, which no configuration is allowed to break,
/// and which no lesson of the catalog shows (CLAIMS.md lists none of them anywhere): two
/// leaders of one epoch, two Raft leaders of one epoch, a committed metadata entry lost
/// or applied out of order, a leader's high watermark going back within its leadership.
const INVARIANTS: [AnomalyKind; 5] = [
    AnomalyKind::MultipleLeaders,
    AnomalyKind::QuorumMultipleLeaders,
    AnomalyKind::MetadataDivergence,
    AnomalyKind::MetadataGap,
    AnomalyKind::HwRegression,
];

/// The group protocol's invariants: one owner of a partition per generation, no
/// partition handed over before its owner revoked it, no commit from a fenced generation
/// accepted, a static member's return within its session not rebalancing its group
/// (KIP-345). They hold only while the group coordinator's state does: it lives in
/// `__consumer_offsets` (written with acks=all, `GroupMetadataManager.storeGroup`), so a
/// configuration that can truncate committed records there (legacy truncation with a
/// power loss, swarm-wide seed 62) can take a generation back and hand it out twice; and
/// a coordinator may serve records that are not committed yet (see
/// [`coordinators_stay_put`]).
const GROUP_INVARIANTS: [AnomalyKind; 4] = [
    AnomalyKind::SplitOwnership,
    AnomalyKind::ReassignedBeforeRevoked,
    AnomalyKind::StaleCommitAccepted,
    AnomalyKind::StaticMemberRebalanced,
];

/// What acknowledged-write durability rules out: an acknowledged record lost or never
/// read, offsets holding two values, replicas disagreeing below their high watermark,
/// committed records truncated.
const DURABILITY: [AnomalyKind; 5] = [
    AnomalyKind::LostWrite,
    AnomalyKind::Unseen,
    AnomalyKind::InconsistentOffsets,
    AnomalyKind::ReplicaDivergence,
    AnomalyKind::CommittedTruncation,
];

/// What the idempotent producer rules out on top of durability: each record once, in
/// send order, read in order without gaps; and so none of the dependency cycles or
/// reads of failed writes Jepsen's checker derives from duplicates and reorderings.
const EXACTLY_ONCE_PER_PARTITION: [AnomalyKind; 10] = [
    AnomalyKind::Duplicate,
    AnomalyKind::NonmonotonicSend,
    AnomalyKind::NonmonotonicPoll,
    AnomalyKind::IntNonmonotonicPoll,
    AnomalyKind::PollSkip,
    AnomalyKind::IntPollSkip,
    AnomalyKind::G0,
    AnomalyKind::G1a,
    AnomalyKind::G1c,
    AnomalyKind::KeyReordered,
];

/// Every kind `scenario`'s configuration promises will not happen, in
/// [`AnomalyKind::ALL`] order, `no-progress` last.
pub fn promised(scenario: &Scenario) -> Vec<Promise> {
    let mut out: Vec<Promise> = Vec::new();
    let mut promise = |kinds: &[AnomalyKind], because: &str| {
        for &kind in kinds {
            if !out.iter().any(|p| p.kind == kind) {
                out.push(Promise { kind, because: because.to_string() });
            }
        }
    };
    promise(&INVARIANTS, "a protocol invariant no configuration may break");
    if let (Some(because), Some(stay)) = (replicated_durably(scenario), coordinators_stay_put(scenario)) {
        promise(
            &GROUP_INVARIANTS,
            &format!("the coordinator's state in __consumer_offsets is durable: {because}, {stay}"),
        );
    }
    if let Some(because) = durability(scenario) {
        promise(&DURABILITY, &because);
        if let Some(idempotent) = idempotence(scenario) {
            promise(&EXACTLY_ONCE_PER_PARTITION, &format!("{because}, {idempotent}"));
        }
        if let Some(commits) = at_least_once_groups(scenario) {
            promise(&[AnomalyKind::ConsumeSkip], &format!("{because}, {commits}"));
        }
    }
    unused_features(scenario, &mut promise);
    out.sort_by_key(|p| p.kind);
    out.push(Promise {
        kind: AnomalyKind::NoProgress,
        because: "liveness: every configuration makes progress once the faults heal".to_string(),
    });
    out
}

/// The promised kinds as a line for `run` and reports: `lost-write (acks=all, ...), ...`,
/// kinds with the same reason grouped.
pub fn describe(promises: &[(String, String)]) -> String {
    let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
    for (kind, because) in promises {
        match groups.iter_mut().find(|(_, b)| *b == because.as_str()) {
            Some((kinds, _)) => kinds.push(kind),
            None => groups.push((vec![kind.as_str()], because.as_str())),
        }
    }
    let parts: Vec<String> =
        groups.iter().map(|(kinds, because)| format!("{} ({because})", kinds.join(", "))).collect();
    parts.join("; ")
}

/// Why acknowledged writes survive every fault, or `None` when they may not. Kafka's durability promise
/// ("Kafka: The Definitive Guide", ch. 7; the `min.insync.replicas` documentation):
/// acks=all with min.insync.replicas >= 2, no unclean election, and followers that
/// reconcile with the leader's epochs (KIP-101 and KIP-279). Each condition has a
/// lesson that breaks without it (CLAIMS.md).
fn durability(s: &Scenario) -> Option<String> {
    if !s.pipelines.is_empty() || !s.delay_queues.is_empty() || !s.events.is_empty() {
        // Their own guarantees (and deleted topics: deleting-a-topic-under-running-clients
        // shows `unseen`); judged by their own lessons, not promised here.
        return None;
    }
    // acks1-leader-crash, isolated-leader, rolling-restart-acks1 (lost-write) and
    // acks0-fire-and-forget (unseen).
    if s.producers.iter().any(|p| p.config.acks != Acks::All) {
        return None;
    }
    replicated_durably(s).map(|because| format!("acks=all, {because}"))
}

/// Why the brokers keep every record committed below a high watermark (acks=all writes
/// among them), or `None` when they may not: the broker side of [`durability`], which also protects the
/// internal topics, written with acks=all whatever the clients use.
fn replicated_durably(s: &Scenario) -> Option<String> {
    // acks-all-min-isr-1: with one in-sync replica enough, the high watermark advances
    // on the leader alone and a leader change truncates committed records.
    let cluster_min_isr = s.cluster.config.min_insync_replicas;
    let min_isr = s.topics.iter().map(|t| t.min_insync_replicas(&s.cluster.config)).fold(cluster_min_isr, u32::min);
    if min_isr < 2 {
        return None;
    }
    // unclean-election.
    let unclean = s.cluster.config.unclean_leader_election_enable;
    if unclean || s.topics.iter().any(|t| t.unclean_leader_election_enable(&s.cluster.config)) {
        return None;
    }
    // kip101-truncate-to-hw (legacy truncation to the high watermark) and
    // kip279-fast-leader-changes (KIP-101 without KIP-279's epoch walk-back).
    if s.cluster.truncation != TruncationMode::LeaderEpoch {
        return None;
    }
    // kafka7164-missed-leader-epoch: a follower that misses a leader epoch keeps a
    // divergent suffix.
    // KAFKA-7152's rule off: a lagging follower stays in the ISR (not promised).
    if s.cluster.follower_restart != FollowerRestart::EveryLeaderEpoch || !s.cluster.caught_up_at_leader_log_end {
        return None;
    }
    // page-cache-loss, kip966-last-replica-standing and kip903-zombie-broker: a power
    // loss takes the unflushed page cache with it, and Kafka's default leaves flushing
    // to the operating system. Only a flush of every record (or no power loss at all)
    // keeps an acknowledged record on the disk of every ISR member.
    let power_loss = s.faults.iter().any(|f| matches!(f.action, FaultAction::PowerLoss { .. }));
    let flush = match s.cluster.config.flush_messages {
        Some(1) => "log.flush.interval.messages=1",
        _ if !power_loss => "no power loss",
        _ => return None,
    };
    // retention-outruns-consumer: retention deletes records before they are read.
    if retention_may_delete(s) {
        return None;
    }
    Some(format!(
        "min.insync.replicas={min_isr}, unclean.leader.election.enable=false, truncation=leader-epoch, {flush}"
    ))
}

/// Why no group coordinator can hand out a generation that a later coordinator does not
/// know, or `None` when one may. A broker that becomes leader of an offsets partition
/// loads its log to the end, records above the high watermark included (Kafka 3.x's
/// `GroupMetadataManager.doLoadGroupsAndOffsets` and 4.x's `CoordinatorLoaderImpl` both
/// read with `FetchIsolation.LOG_END`), and answers a stable group's JoinGroup and
/// SyncGroup from memory, without a write (`GroupCoordinator.doSyncGroup`; 4.x's
/// `GroupMetadataManager.classicGroupSync` completes the response inside the operation,
/// not when the log commits). So a generation one leader wrote and replicated to only
/// one follower is handed out by that follower when it leads next, and a leader after it
/// that never had the record numbers another generation the same: two owners in "one"
/// generation, and commits of a generation taken for stale ones (swarm-wide-nightly
/// seed 8983: `split-ownership`, `stale-commit-accepted`). Kafka promises nothing
/// against it; only a run whose faults cannot move a coordinator rules it out.
fn coordinators_stay_put(s: &Scenario) -> Option<&'static str> {
    let moves = s.faults.iter().any(|f| f.action.may_touch_the_cluster());
    (!moves).then_some("no fault reaches the cluster")
}

/// Why every producer is idempotent, or `None` when one may not be. `enable_idempotence` is the setting as in
/// force: Kafka's producer turns it off (or refuses it) unless acks=all, retries > 0 and
/// max.in.flight.requests.per.connection <= 5 (KIP-679;
/// `ProducerConfig.postProcessAndValidateIdempotenceConfigs`; `explain`'s
/// `idempotence_quietly_disabled`). retry-duplicates, retry-reordering and
/// network-reorder show what a producer without it does. Transactions are not promised
/// here: swarm-transactions shows G0 between transactions under the safe configuration.
///
/// Not where the faults both duplicate and reorder messages: a copy of a produce request
/// can then reach the leader after the request behind it, which the leader refused as
/// out of order meanwhile, and be appended; the producer, told OUT_OF_ORDER_SEQUENCE for
/// its next batch, bumps its epoch and sends the batch again (Kafka's
/// `TransactionManager.canRetry` retries every such refusal of an idempotent producer),
/// and the leader appends it a second time (swarm-wide-nightly seed 5501). TCP never
/// delivers a message twice; the `duplicate` fault is a network that does.
fn idempotence(s: &Scenario) -> Option<String> {
    let idempotent = s.producers.iter().all(|p| p.config.enable_idempotence && p.config.transactional_id.is_none());
    let drawn = |kind: FaultKind| s.faults.iter().any(|f| f.action.kind() == kind);
    let copies_overtake = drawn(FaultKind::Duplicate) && drawn(FaultKind::Reorder);
    (idempotent && !copies_overtake).then(|| "enable.idempotence=true".to_string())
}

/// Every group consumer commits only what it processed, or `None`. Committing after
/// processing, synchronously in the poll loop, is Kafka's at-least-once pattern
/// (KafkaConsumer's documentation, "Manual Offset Control"); auto-commit
/// (auto-commit-loss) and committing before processing (commit-before-processing-skips)
/// skip records. Duplicates are what at-least-once allows, so `consume-duplicate` is
/// never promised, nor a commit's moving back (`commit-regression`): Kafka commits what
/// the application asks, and a rebalance under at-least-once may commit a lower offset.
fn at_least_once_groups(s: &Scenario) -> Option<String> {
    let groups: Vec<_> = s.consumers.iter().filter(|c| c.group.is_some()).collect();
    let ok = groups.iter().all(|c| c.commit == CommitPolicy::AfterProcessing && c.processing == Processing::Sync);
    ok.then(|| "commit=after-processing".to_string())
}

/// Kinds of features the scenario does not use: they cannot appear, and promising them
/// keeps a checker that reports one anyway honest.
fn unused_features(s: &Scenario, promise: &mut impl FnMut(&[AnomalyKind], &str)) {
    if s.pipelines.is_empty() {
        promise(
            &[AnomalyKind::ExactlyOnce, AnomalyKind::DeadLetterDuplicate, AnomalyKind::DeadLetterLost],
            "no pipelines",
        );
    }
    if s.delay_queues.is_empty() {
        promise(&[AnomalyKind::DeliveredEarly, AnomalyKind::DeliveredLate], "no delay queues");
    }
    if s.events.is_empty() {
        promise(
            &[
                AnomalyKind::PositionCarried,
                AnomalyKind::CrossIncarnationCommit,
                AnomalyKind::ReplaySkip,
                AnomalyKind::ReplayReordered,
                AnomalyKind::ReplayWrongOffset,
            ],
            "no topic events",
        );
    }
    let transactional = s.producers.iter().any(|p| p.config.transactional_id.is_some());
    if !transactional && s.pipelines.is_empty() && s.delay_queues.is_empty() {
        promise(&[AnomalyKind::PrecommittedRead, AnomalyKind::IntNonmonotonicSend], "no transactions");
    }
}

/// Whether retention can delete a record within the run (time or size limits).
fn retention_may_delete(s: &Scenario) -> bool {
    let run_ms = s.duration_ms.saturating_add(s.liveness_timeout_ms);
    s.topics.iter().any(|t| {
        let ms = t.config.retention_ms.unwrap_or(s.cluster.config.log_retention_ms);
        let bytes = t.config.retention_bytes.unwrap_or(s.cluster.config.log_retention_bytes);
        ms.is_some_and(|ms| ms <= run_ms) || bytes.is_some()
    })
}

#[cfg(test)]
#[path = "promise_tests.rs"]
mod tests;
