//! One partition's replica on one broker: its log, high watermark, role, and (as leader)
//! the progress of each follower, from which the ISR and the high watermark follow.
//!
//! The fields are private: every change is one of the named transitions below (appends,
//! follower progress, ISR changes, high watermark moves, truncation, log start moves,
//! flushes), each of which traces what it changed. They are plain state transitions with
//! no waiting; the request handlers, the fetcher and the background tasks call them under
//! the broker's state lock.

use super::follower_progress::{FollowerProgress, IsrLagRule};
use super::log::PartitionLog;
use super::txn_verification::VerificationGuard;
use crate::coverage::ReachedState;
use crate::history::{AppendedValues, Event, LogStartReason, Tracer, TruncationReason};
use crate::protocol::{BrokerId, FollowerRestart, LeaderEpoch, Offset, PartitionState, RecordBatch, TopicPartition};
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A replica's role for its partition.
#[derive(Clone, Debug)]
enum Role {
    /// No LeaderAndIsr received yet (just started) or the partition is offline.
    None,
    /// Leader: serves produce and fetch, tracks followers.
    Leader {
        /// Progress of every other assigned replica.
        followers: BTreeMap<BrokerId, FollowerProgress>,
        /// An ISR change sent to the controller and not yet answered.
        pending_isr: Option<Vec<BrokerId>>,
    },
    /// Follower of `leader`.
    Follower {
        /// The leader to fetch from, if any.
        leader: Option<BrokerId>,
        /// Whether the log must be reconciled with the leader before fetching (KIP-101).
        needs_truncation: bool,
    },
}

/// One partition replica.
pub struct Partition {
    /// The partition's name, `topic-N`, shared by the trace events that mention it.
    name: Arc<str>,
    /// The replica's log.
    log: PartitionLog,
    /// The high watermark: offsets below it are committed and visible to consumers.
    high_watermark: Offset,
    /// The role.
    role: Role,
    /// The latest leader epoch this replica knows.
    leader_epoch: LeaderEpoch,
    /// The leader and epoch of the last leadership this replica took a role in (led or
    /// followed): Kafka's `leaderReplicaIdOpt` and `leaderEpoch` as `makeLeader` and
    /// `makeFollower` last set them. A state without a leader does not change it, and a
    /// restarted broker knows none.
    last_leadership: Option<(BrokerId, LeaderEpoch)>,
    /// The leader epoch in which this replica's current, unbroken leadership began.
    leadership_start_epoch: LeaderEpoch,
    /// The partition state version (for conditional ISR changes).
    partition_epoch: u64,
    /// The ISR as last confirmed by the controller.
    isr: Vec<BrokerId>,
    /// The assigned replicas.
    replicas: Vec<BrokerId>,
    /// When the leader may move the high watermark.
    high_watermark_rule: HighWatermarkRule,
}

/// When a leader may move its high watermark beyond what its ISR holds, by release
/// (Kafka's `Partition.maybeIncrementLeaderHW`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HighWatermarkRule {
    /// The topic's `min.insync.replicas`.
    pub min_insync_replicas: usize,
    /// Kafka 3.7 onwards (KAFKA-15583): the high watermark stays where it is while the
    /// ISR is smaller than the effective min ISR (`min.insync.replicas`, at most the
    /// replica count), in both metadata modes. Before, it followed the ISR down to the
    /// leader alone, so records written with `acks=1` became visible to consumers on one
    /// copy.
    pub hold_under_min_isr: bool,
}

impl HighWatermarkRule {
    /// No hold: the high watermark follows the ISR whatever its size (before 3.7).
    pub const FOLLOW_ISR: HighWatermarkRule = HighWatermarkRule { min_insync_replicas: 1, hold_under_min_isr: false };
}

/// What a controller's partition state means to a replica that already has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateNews {
    /// An older leadership than the one this replica knows: ignored.
    Stale,
    /// The leadership this replica already follows or leads: only the ISR may be new.
    SameLeadership,
    /// A leadership this replica has not taken yet (or it has no role at all).
    NewLeadership,
}

impl Partition {
    /// A replica with a loaded log and the high watermark from the checkpoint, whose
    /// high watermark moves under `high_watermark_rule` while it leads.
    pub fn new(log: PartitionLog, checkpointed_high_watermark: Offset, high_watermark_rule: HighWatermarkRule) -> Self {
        let high_watermark = checkpointed_high_watermark.min(log.log_end_offset()).max(log.log_start_offset());
        Partition {
            name: Arc::from(log.tp().to_string()),
            log,
            high_watermark,
            role: Role::None,
            leader_epoch: 0,
            last_leadership: None,
            leadership_start_epoch: 0,
            partition_epoch: 0,
            isr: Vec::new(),
            replicas: Vec::new(),
            high_watermark_rule,
        }
    }

    /// This replica under its history name (`orders#2-0` for a partition of the second
    /// topic named `orders`, see [`crate::history::incarnations`]) instead of `topic-N`.
    pub fn named(mut self, name: Arc<str>) -> Self {
        self.name = name;
        self
    }

    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        self.log.tp()
    }

    /// The id of the topic this replica's log belongs to, if recorded.
    pub fn topic_id(&self) -> Option<crate::protocol::TopicId> {
        self.log.topic_id()
    }

    /// Records the topic's id with the log if it has none (see
    /// [`PartitionLog::record_topic_id`]).
    pub fn record_topic_id(&mut self, id: crate::protocol::TopicId) {
        self.log.record_topic_id(id);
    }

    /// The partition's name, `topic-N` (`topic#k-N` for a re-created name), as trace
    /// events carry it.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// The replica's log, read-only: every change goes through a transition here.
    pub fn log(&self) -> &PartitionLog {
        &self.log
    }

    /// The log end offset: the offset the next appended record gets.
    pub fn log_end_offset(&self) -> Offset {
        self.log.log_end_offset()
    }

    /// The last stable offset: the high watermark, held back by the first offset of a
    /// transaction still open or whose marker is not yet below the high watermark
    /// (Kafka's `UnifiedLog.lastStableOffset`). `read_committed` consumers read below it.
    pub fn last_stable_offset(&self) -> Offset {
        let high_watermark = self.high_watermark();
        self.log().txns().first_unstable_offset(high_watermark).map_or(high_watermark, |o| o.min(high_watermark))
    }

    /// Starts (or joins) the KIP-890 verification of a transactional batch whose
    /// producer has no transaction open here; the batch carries the guard back to
    /// admission once the coordinator confirmed it.
    pub fn start_txn_verification(&mut self, batch: &RecordBatch) -> VerificationGuard {
        self.log.verifications_mut().start(batch.producer_id, batch.base_sequence, batch.producer_epoch)
    }

    /// The high watermark: offsets below it are committed and visible to consumers.
    pub fn high_watermark(&self) -> Offset {
        self.high_watermark
    }

    /// The latest leader epoch this replica knows.
    pub fn leader_epoch(&self) -> LeaderEpoch {
        self.leader_epoch
    }

    /// The partition state version, which conditional ISR changes name.
    pub fn partition_epoch(&self) -> u64 {
        self.partition_epoch
    }

    /// The ISR as last confirmed by the controller.
    pub fn isr(&self) -> &[BrokerId] {
        &self.isr
    }

    /// The assigned replicas, as last told by the controller.
    pub fn replicas(&self) -> &[BrokerId] {
        &self.replicas
    }

    /// Whether this replica leads the partition.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// As leader, the leader epoch in which this replica's unbroken leadership began (a
    /// newer epoch that kept it leader, after an ISR change, continues the same
    /// leadership); `None` when it does not lead. Kafka's group coordinator loads an
    /// offsets partition only when a leadership begins (`Partition.makeLeader` returns
    /// `isNewLeader`).
    pub fn leadership_start_epoch(&self) -> Option<LeaderEpoch> {
        self.is_leader().then_some(self.leadership_start_epoch)
    }

    /// Whether this replica has a role yet (it has none before its first LeaderAndIsr).
    pub fn has_role(&self) -> bool {
        !matches!(self.role, Role::None)
    }

    /// The leader this replica follows, if it is a follower.
    pub fn followed_leader(&self) -> Option<BrokerId> {
        match self.role {
            Role::Follower { leader, .. } => leader,
            _ => None,
        }
    }

    /// Follower: whether the log must still be reconciled with the leader before
    /// fetching (KIP-101).
    pub fn needs_truncation(&self) -> bool {
        matches!(self.role, Role::Follower { needs_truncation: true, .. })
    }

    /// The ISR used for the high watermark: the confirmed ISR plus any replica whose
    /// addition is pending (KIP-497's "maximal ISR", so the HW never outruns a replica
    /// the controller may already count as in sync).
    /// (An iterator: the high watermark is reconsidered after every append and fetch.)
    pub fn maximal_isr(&self) -> impl Iterator<Item = BrokerId> + '_ {
        let pending = match &self.role {
            Role::Leader { pending_isr: Some(pending), .. } => pending.as_slice(),
            _ => &[],
        };
        self.isr.iter().chain(pending.iter().filter(|b| !self.isr.contains(b))).copied()
    }

    /// What `state` from the controller means to this replica.
    pub fn news(&self, state: &PartitionState) -> StateNews {
        if !self.has_role() || state.leader_epoch > self.leader_epoch {
            StateNews::NewLeadership
        } else if state.leader_epoch < self.leader_epoch {
            StateNews::Stale
        } else {
            StateNews::SameLeadership
        }
    }

    /// Takes the leadership of `state.leader_epoch`. A new leader knows nothing of its
    /// followers' progress; a leader that only starts a new epoch (the controller changed
    /// the ISR) keeps what it knew of their logs. Either way the lag clock of every ISR
    /// member starts now (Kafka's `Partition.makeLeader` and `resetReplicaState`).
    pub fn become_leader(&mut self, me: BrokerId, state: &PartitionState, now: Instant, tracer: &Tracer) {
        if !self.is_leader() {
            self.leadership_start_epoch = state.leader_epoch;
        }
        let known = match std::mem::replace(&mut self.role, Role::None) {
            Role::Leader { followers, .. } => followers,
            _ => BTreeMap::new(),
        };
        self.apply_state(state);
        self.last_leadership = Some((me, state.leader_epoch));
        self.log.assign_epoch_at_end(state.leader_epoch);
        let leader_end = self.log.log_end_offset();
        let followers = state
            .replicas
            .iter()
            .filter(|r| **r != me)
            .map(|r| {
                let in_isr = state.isr.contains(r);
                let progress = match known.get(r) {
                    Some(progress) => progress.new_epoch(now, leader_end, in_isr),
                    None => FollowerProgress::new_leader(now, in_isr),
                };
                (*r, progress)
            })
            .collect();
        self.role = Role::Leader { followers, pending_isr: None };
        tracer.emit(Event::BecomeLeader {
            tp: self.name.clone(),
            broker: me.0,
            leader_epoch: state.leader_epoch,
            log_end_offset: self.log.log_end_offset(),
            isr: state.isr.iter().map(|b| b.0).collect(),
        });
        self.maybe_advance_high_watermark(me, tracer);
    }

    /// Whether following `state` (a new leadership) makes this replica start over as a
    /// follower under `rule`: reconcile its log with the leader before fetching again.
    /// Kafka's `Partition.makeFollower` result (0.10: `leaderReplicaIdOpt` differs from
    /// the new leader; 2.0.1: or the epoch skipped one; 2.1: or any new epoch). A state
    /// without a leader is no restart: Kafka's `ReplicaManager.makeFollowers` leaves a
    /// partition whose leader is not alive as it is.
    pub fn restarts_follower(&self, state: &PartitionState, rule: FollowerRestart) -> bool {
        let Some(leader) = state.leader else {
            return false;
        };
        let Some((last_leader, last_epoch)) = self.last_leadership else {
            return true;
        };
        if last_leader != leader {
            return true;
        }
        match rule {
            FollowerRestart::LeaderChange => false,
            FollowerRestart::LeaderChangeOrMissedEpoch => state.leader_epoch > last_epoch.saturating_add(1),
            FollowerRestart::EveryLeaderEpoch => state.leader_epoch != last_epoch,
        }
    }

    /// Follows `state.leader`. With `restart` (see [`Partition::restarts_follower`]) the
    /// log must be reconciled before fetching: the caller does it (legacy truncation at
    /// once, or OffsetForLeaderEpoch before the first fetch), then calls
    /// [`Partition::mark_reconciled`]. Without, the follower goes on as it was, now in the
    /// new epoch (a reconciliation still pending stays pending).
    pub fn become_follower(&mut self, me: BrokerId, state: &PartitionState, restart: bool, tracer: &Tracer) {
        self.apply_state(state);
        if let Some(leader) = state.leader {
            self.last_leadership = Some((leader, state.leader_epoch));
        }
        let needs_truncation = restart || self.needs_truncation() || !self.has_role();
        self.role = Role::Follower { leader: state.leader, needs_truncation };
        tracer.emit(Event::BecomeFollower {
            tp: self.name.clone(),
            broker: me.0,
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            log_end_offset: self.log.log_end_offset(),
        });
    }

    /// Follower: the log is reconciled with the leader; fetching may start.
    pub fn mark_reconciled(&mut self) {
        if let Role::Follower { needs_truncation, .. } = &mut self.role {
            *needs_truncation = false;
        }
    }

    /// Adopts the ISR of `state` if it is a newer version (partition epoch) of the
    /// current leadership, as a LeaderAndIsr or an AlterIsr answer brings. Returns
    /// whether it did. A leader's ISR change in flight is forgotten: the committed state
    /// replaces it (`Partition.makeLeader` sets a `CommittedPartitionState`), and its
    /// answer, when it comes, no longer matches and is ignored.
    pub fn adopt_newer_isr(&mut self, state: &PartitionState) -> bool {
        if state.leader_epoch != self.leader_epoch || state.partition_epoch <= self.partition_epoch {
            return false;
        }
        self.apply_state(state);
        self.clear_pending_isr();
        true
    }

    /// Leader: whether `isr`, proposed at `partition_epoch`, is still the ISR change in
    /// flight (no newer state replaced it), so that its answer applies and an unanswered
    /// request is sent again (`Partition.handleAlterPartitionUpdate` ignores an answer
    /// once `partitionState` is no longer the proposed state).
    pub fn is_pending_isr(&self, isr: &[BrokerId], partition_epoch: u64) -> bool {
        self.partition_epoch == partition_epoch && self.pending_isr() == Some(isr)
    }

    fn apply_state(&mut self, state: &PartitionState) {
        self.leader_epoch = state.leader_epoch;
        self.partition_epoch = state.partition_epoch;
        self.isr = state.isr.clone();
        self.replicas = state.replicas.clone();
    }

    /// Leader: the controller answered the ISR change in flight, accepting `accepted`
    /// (or refusing it, `None`). The change is no longer pending; an accepted newer ISR
    /// is adopted and may move the high watermark (a shrink drops a laggard from it).
    pub fn complete_isr_change(&mut self, me: BrokerId, accepted: Option<&PartitionState>, tracer: &Tracer) {
        self.clear_pending_isr();
        if accepted.is_some_and(|state| self.adopt_newer_isr(state)) {
            self.maybe_advance_high_watermark(me, tracer);
        }
    }

    /// Leader: appends a produced batch in the current leader epoch and traces it;
    /// returns the batch as stored (with its offsets). The caller then considers
    /// [`Partition::flush_if_due`] and [`Partition::maybe_advance_high_watermark`].
    pub fn append_as_leader(&mut self, me: BrokerId, batch: RecordBatch, tracer: &Tracer) -> RecordBatch {
        let epoch = self.leader_epoch;
        let stored = self.log.append_as_leader(batch, epoch);
        tracer.emit(Event::Append {
            tp: self.name.clone(),
            broker: me.0,
            as_leader: true,
            leader_epoch: epoch,
            base_offset: stored.base_offset,
            values: stored.records.iter().map(|r| r.value).collect(),
        });
        stored
    }

    /// Follower: appends a batch fetched from the leader and traces it. Returns false
    /// (and appends nothing) unless it starts at the log end.
    pub fn append_as_follower(&mut self, me: BrokerId, batch: RecordBatch, tracer: &Tracer) -> bool {
        let base_offset = batch.base_offset;
        let epoch = batch.partition_leader_epoch;
        let values: AppendedValues = batch.records.iter().map(|r| r.value).collect();
        if !self.log.append_as_follower(batch) {
            return false;
        }
        tracer.emit(Event::Append {
            tp: self.name.clone(),
            broker: me.0,
            as_leader: false,
            leader_epoch: epoch,
            base_offset,
            values,
        });
        true
    }

    /// Fsyncs the log once `flush.messages` records have accumulated (never if `None`).
    pub fn flush_if_due(&mut self, flush_messages: Option<u64>) {
        if self.flush_due_after(0, flush_messages) {
            self.log.flush();
        }
    }

    /// Whether appending `records` more records brings the log to `flush.messages`
    /// unflushed records, so that [`Partition::flush_if_due`] fsyncs after the append.
    pub fn flush_due_after(&self, records: u64, flush_messages: Option<u64>) -> bool {
        flush_messages.is_some_and(|n| self.log.unflushed_records() + records >= n)
    }

    /// Fsyncs the log (`flush.ms`).
    pub fn flush(&mut self) {
        self.log.flush();
    }

    /// Drops the log's idempotent-producer state. Only the planted bug
    /// `forget-idempotence-on-leader-change` calls this.
    pub fn forget_producers(&mut self) {
        self.log.forget_producers();
    }

    /// Records a follower's fetch at `fetch_offset` (its log end offset), carrying
    /// `broker_epoch` (KIP-903), as Kafka's `Replica.updateFetchState` does (see
    /// [`FollowerProgress::record_fetch`]).
    pub fn record_follower_fetch(
        &mut self,
        follower: BrokerId,
        fetch_offset: Offset,
        broker_epoch: Option<u64>,
        now: Instant,
    ) {
        let leader_end = self.log.log_end_offset();
        if let Role::Leader { followers, .. } = &mut self.role {
            if let Some(progress) = followers.get_mut(&follower) {
                progress.record_fetch(fetch_offset, broker_epoch, leader_end, now);
            }
        }
    }

    /// Leader: the broker epoch `follower`'s last fetch carried, if any (KIP-903).
    pub fn follower_broker_epoch(&self, follower: BrokerId) -> Option<u64> {
        match &self.role {
            Role::Leader { followers, .. } => followers.get(&follower).and_then(FollowerProgress::broker_epoch),
            _ => None,
        }
    }

    /// Leader: moves the high watermark to the smallest log end offset over the maximal
    /// ISR if that is higher; it never moves back, and (see [`HighWatermarkRule`]) it
    /// may hold while the ISR is under the min ISR. Returns whether it moved.
    /// Simplified: from 3.6 Kafka also waits for a caught-up, ISR-eligible follower
    /// outside the ISR (`shouldWaitForReplicaToJoinIsr`), so that it can join; here only
    /// the maximal ISR counts, which moves the high watermark sooner, never past the ISR.
    pub fn maybe_advance_high_watermark(&mut self, me: BrokerId, tracer: &Tracer) -> bool {
        let Role::Leader { followers, .. } = &self.role else {
            return false;
        };
        if self.is_under_min_isr() {
            return false;
        }
        let mut candidate = self.log.log_end_offset();
        for broker in self.maximal_isr() {
            if broker == me {
                continue;
            }
            let follower_end = followers.get(&broker).map_or(0, FollowerProgress::log_end_offset);
            candidate = candidate.min(follower_end);
        }
        if candidate > self.high_watermark {
            self.set_high_watermark(me, candidate, tracer);
            return true;
        }
        false
    }

    /// Leader under [`HighWatermarkRule::hold_under_min_isr`]: whether the confirmed ISR
    /// (not the maximal one) is smaller than the effective min ISR, `min.insync.replicas`
    /// capped at the replica count (Kafka's `isUnderMinIsr` and `effectiveMinIsr`).
    fn is_under_min_isr(&self) -> bool {
        let rule = self.high_watermark_rule;
        rule.hold_under_min_isr && self.isr.len() < rule.min_insync_replicas.min(self.replicas.len())
    }

    /// Leader: commits everything in the log at once, as if every ISR member had it.
    /// Only the planted bug `hw-before-isr` calls this.
    pub fn commit_log_end(&mut self, me: BrokerId, tracer: &Tracer) {
        let end = self.log.log_end_offset();
        self.set_high_watermark(me, end, tracer);
    }

    /// Follower: adopts the leader's high watermark, capped by the local log end.
    pub fn follow_high_watermark(&mut self, me: BrokerId, leader_high_watermark: Offset, tracer: &Tracer) -> bool {
        let new = leader_high_watermark.min(self.log.log_end_offset());
        if new != self.high_watermark {
            self.set_high_watermark(me, new, tracer);
            return true;
        }
        false
    }

    /// Sets the high watermark and traces the change.
    fn set_high_watermark(&mut self, me: BrokerId, new: Offset, tracer: &Tracer) {
        let old = self.high_watermark;
        self.high_watermark = new;
        tracer.emit(Event::HighWatermark {
            tp: self.name.clone(),
            broker: me.0,
            is_leader: self.is_leader(),
            leader_epoch: self.leader_epoch,
            old,
            new,
        });
    }

    /// KIP-101/279: where this follower's log diverges from the leader's, given the
    /// leader's answer to OffsetForLeaderEpoch for `local_epoch` (this replica's latest
    /// epoch): the leader's `(leader_epoch, end_offset)`.
    pub fn divergence_offset(&self, local_epoch: LeaderEpoch, leader_epoch: LeaderEpoch, end_offset: Offset) -> Offset {
        let log_end = self.log.log_end_offset();
        if leader_epoch == local_epoch {
            return end_offset.min(log_end);
        }
        // The leader does not know our latest epoch: cut at the end of the largest epoch
        // both know (KIP-279).
        let local_end = self.log.epochs().end_offset_for(leader_epoch, log_end).map_or(0, |(_, end)| end);
        end_offset.min(local_end)
    }

    /// KIP-101 as Kafka 0.11 to 1.1 shipped it (`ReplicaFetcherThread.maybeTruncate` in
    /// 1.1): the leader's end offset if it is below this replica's log end, else the log
    /// end; when the leader answered UNDEFINED_EPOCH_OFFSET (`None`), the initial fetch
    /// offset, which `makeFollower` set to the high watermark. Nothing checks that the
    /// epoch the offset ends was this replica's own, which is how fast leader changes
    /// could still make logs diverge (KIP-279).
    pub fn divergence_offset_kip101(&self, leader_end_offset: Option<Offset>) -> Offset {
        match leader_end_offset {
            Some(end_offset) => end_offset.min(self.log.log_end_offset()),
            None => self.high_watermark,
        }
    }

    /// Truncates the log to `offset`, tracing what was removed; the high watermark
    /// follows if it was above.
    pub fn truncate(&mut self, me: BrokerId, offset: Offset, reason: TruncationReason, tracer: &Tracer) {
        let removed = self.log.truncate_to(offset);
        if !removed.is_empty() && offset < self.high_watermark {
            // Records this replica had seen committed are gone (KIP-101's loss).
            tracer.reached(ReachedState::TruncationBelowHighWatermark);
        }
        if !removed.is_empty() && reason == TruncationReason::HighWatermark {
            tracer.reached(ReachedState::FollowerTruncatedToHighWatermark);
        }
        if !removed.is_empty() {
            tracer.emit(Event::Truncate { tp: self.name.clone(), broker: me.0, to_offset: offset, removed, reason });
        }
        if self.high_watermark > self.log.log_end_offset() {
            let end = self.log.log_end_offset();
            self.set_high_watermark(me, end, tracer);
        }
    }

    /// Moves the log start forward to `new_start` (retention, or the leader's log start
    /// on a follower), tracing the records that went; a high watermark left below the
    /// new log start follows it (the records there were committed on the leader).
    pub fn advance_log_start(&mut self, me: BrokerId, new_start: Offset, reason: LogStartReason, tracer: &Tracer) {
        if new_start <= self.log.log_start_offset() {
            return;
        }
        let removed = self.log.advance_log_start(new_start);
        tracer.emit(Event::LogStartAdvanced {
            tp: self.name.clone(),
            broker: me.0,
            is_leader: self.is_leader(),
            log_start_offset: new_start,
            removed,
            reason,
        });
        if self.high_watermark < new_start {
            self.set_high_watermark(me, new_start, tracer);
        }
    }

    /// Leader: ISR members that are not caught up by `rule`, to be removed (Kafka's
    /// `Partition.getOutOfSyncReplicas` and `isFollowerOutOfSync`).
    pub fn lagging_isr_members(&self, me: BrokerId, now: Instant, rule: IsrLagRule) -> Vec<BrokerId> {
        let Role::Leader { followers, .. } = &self.role else {
            return Vec::new();
        };
        let leader_end = self.log.log_end_offset();
        self.isr
            .iter()
            .filter(|b| **b != me)
            .filter(|b| followers.get(b).is_none_or(|p| !p.is_caught_up(leader_end, now, rule)))
            .copied()
            .collect()
    }

    /// Leader with no ISR change in flight: the ISR without its lagging members, if any
    /// lag (the proposal of Kafka's isr-expiration task).
    pub fn shrunk_isr(&self, me: BrokerId, now: Instant, rule: IsrLagRule) -> Option<Vec<BrokerId>> {
        if !self.is_leader() || self.pending_isr().is_some() {
            return None;
        }
        let lagging = self.lagging_isr_members(me, now, rule);
        (!lagging.is_empty()).then(|| self.isr.iter().filter(|b| !lagging.contains(b)).copied().collect())
    }

    /// Leader: assigned replicas outside the ISR that have caught up to the high
    /// watermark and to the start of the current epoch (Kafka's `isFollowerInSync`).
    pub fn caught_up_outside_isr(&self) -> Vec<BrokerId> {
        let Role::Leader { followers, .. } = &self.role else {
            return Vec::new();
        };
        // Where the current epoch starts: where the one before it ends. Epoch 0 has none
        // before it and starts with the log (asking for the end of epoch `0 - 1` would
        // give the end of epoch 0 itself, the log end, which a follower reaches only when
        // the producers pause: a leader kept in epoch 0 by a controller that did not see
        // it restart never took a follower back while writes went on; swarm seed 6953).
        let epoch_start = match self.leader_epoch.checked_sub(1) {
            Some(previous) => {
                self.log.epochs().end_offset_for(previous, self.log.log_end_offset()).map_or(0, |(_, end)| end)
            }
            None => 0,
        };
        followers
            .iter()
            .filter(|(b, _)| !self.isr.contains(b))
            .filter(|(_, p)| {
                p.known_log_end_offset().is_some_and(|end| end >= self.high_watermark && end >= epoch_start)
            })
            .map(|(b, _)| *b)
            .collect()
    }

    /// Leader with no ISR change in flight: the ISR with `follower` added, if it has
    /// caught up from outside the ISR (Kafka's `maybeExpandIsr`).
    pub fn expanded_isr(&self, follower: BrokerId) -> Option<Vec<BrokerId>> {
        // A member already in the ISR is never caught up *outside* it: answer the common
        // case without looking at every follower.
        if self.isr.contains(&follower)
            || self.pending_isr().is_some()
            || !self.caught_up_outside_isr().contains(&follower)
        {
            return None;
        }
        let mut new_isr = self.isr.clone();
        new_isr.push(follower);
        Some(new_isr)
    }

    /// Leader: the ISR change in flight, if any.
    pub fn pending_isr(&self) -> Option<&[BrokerId]> {
        match &self.role {
            Role::Leader { pending_isr, .. } => pending_isr.as_deref(),
            _ => None,
        }
    }

    /// Leader: marks an ISR change as sent to the controller; until it is answered no
    /// other is proposed, and its new members count for the high watermark.
    pub fn mark_pending_isr(&mut self, isr: Vec<BrokerId>) {
        if let Role::Leader { pending_isr, .. } = &mut self.role {
            *pending_isr = Some(isr);
        }
    }

    /// Leader: forgets the ISR change in flight (it was answered).
    pub fn clear_pending_isr(&mut self) {
        if let Role::Leader { pending_isr, .. } = &mut self.role {
            *pending_isr = None;
        }
    }
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
