//! One partition's replica on one broker: its log, high watermark, role, and (as leader)
//! the progress of each follower, from which the ISR and the high watermark follow.
//!
//! These are plain state transitions with no waiting; the request handlers and the
//! fetcher call them under the broker's state lock and emit trace events for changes.

use super::log::PartitionLog;
use crate::history::{Event, LogStartReason, Tracer, TruncationReason};
use crate::protocol::{BrokerId, LeaderEpoch, Offset, PartitionState, TopicPartition};
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What the leader knows of one follower, from its fetches (Kafka's `Replica`).
#[derive(Clone, Debug)]
pub struct FollowerProgress {
    /// The follower's log end offset: the offset of its last fetch.
    pub log_end_offset: Offset,
    /// When it last fetched.
    pub last_fetch_time: Instant,
    /// The leader's log end offset at that fetch.
    pub last_fetch_leader_log_end_offset: Offset,
    /// The last time the follower was known to have everything the leader had.
    pub last_caught_up_time: Instant,
}

/// A replica's role for its partition.
#[derive(Clone, Debug)]
pub enum Role {
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
    pub log: PartitionLog,
    /// The high watermark: offsets below it are committed and visible to consumers.
    pub high_watermark: Offset,
    /// The role.
    pub role: Role,
    /// The latest leader epoch this replica knows.
    pub leader_epoch: LeaderEpoch,
    /// The partition state version (for conditional ISR changes).
    pub partition_epoch: u64,
    /// The ISR as last confirmed by the controller.
    pub isr: Vec<BrokerId>,
    /// The assigned replicas.
    pub replicas: Vec<BrokerId>,
}

impl Partition {
    /// A replica with a loaded log and the high watermark from the checkpoint.
    pub fn new(log: PartitionLog, checkpointed_high_watermark: Offset) -> Self {
        let high_watermark = checkpointed_high_watermark.min(log.log_end_offset()).max(log.log_start_offset());
        Partition {
            name: Arc::from(log.tp().to_string()),
            log,
            high_watermark,
            role: Role::None,
            leader_epoch: 0,
            partition_epoch: 0,
            isr: Vec::new(),
            replicas: Vec::new(),
        }
    }

    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        self.log.tp()
    }

    /// The partition's name, `topic-N`, as trace events carry it.
    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    /// Whether this replica leads the partition.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// The leader this replica follows, if it is a follower.
    pub fn followed_leader(&self) -> Option<BrokerId> {
        match self.role {
            Role::Follower { leader, .. } => leader,
            _ => None,
        }
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

    /// Takes the leadership of `state.leader_epoch`: every other replica starts as a
    /// follower of unknown progress, counted as caught up now if it is in the ISR.
    pub fn become_leader(&mut self, me: BrokerId, state: &PartitionState, now: Instant, tracer: &Tracer) {
        self.apply_state(state);
        self.log.assign_epoch_at_end(state.leader_epoch);
        let followers = state
            .replicas
            .iter()
            .filter(|r| **r != me)
            .map(|r| {
                // Kafka starts every follower's lag clock at the leadership change; only
                // ISR members are ever checked against it.
                let progress = FollowerProgress {
                    log_end_offset: 0,
                    last_fetch_time: now,
                    last_fetch_leader_log_end_offset: 0,
                    last_caught_up_time: now,
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

    /// Follows `state.leader`. The log is reconciled by the caller (legacy truncation
    /// at once, or OffsetForLeaderEpoch before the first fetch).
    pub fn become_follower(&mut self, me: BrokerId, state: &PartitionState, tracer: &Tracer) {
        self.apply_state(state);
        self.role = Role::Follower { leader: state.leader, needs_truncation: true };
        tracer.emit(Event::BecomeFollower {
            tp: self.name.clone(),
            broker: me.0,
            leader: state.leader.map(|b| b.0),
            leader_epoch: state.leader_epoch,
            log_end_offset: self.log.log_end_offset(),
        });
    }

    /// Adopts a newer ISR for the same leadership (after an AlterIsr or LeaderAndIsr).
    pub fn apply_state(&mut self, state: &PartitionState) {
        self.leader_epoch = state.leader_epoch;
        self.partition_epoch = state.partition_epoch;
        self.isr = state.isr.clone();
        self.replicas = state.replicas.clone();
    }

    /// Records a follower's fetch at `fetch_offset` (its log end offset), as Kafka's
    /// `Replica.updateFetchState` does.
    pub fn record_follower_fetch(&mut self, follower: BrokerId, fetch_offset: Offset, now: Instant) {
        let leader_end = self.log.log_end_offset();
        let Role::Leader { followers, .. } = &mut self.role else {
            return;
        };
        let Some(progress) = followers.get_mut(&follower) else {
            return;
        };
        if fetch_offset >= leader_end {
            progress.last_caught_up_time = now;
        } else if fetch_offset >= progress.last_fetch_leader_log_end_offset {
            progress.last_caught_up_time = progress.last_caught_up_time.max(progress.last_fetch_time);
        }
        progress.log_end_offset = fetch_offset;
        progress.last_fetch_time = now;
        progress.last_fetch_leader_log_end_offset = leader_end;
    }

    /// Leader: moves the high watermark to the smallest log end offset over the maximal
    /// ISR if that is higher. Returns whether it moved.
    pub fn maybe_advance_high_watermark(&mut self, me: BrokerId, tracer: &Tracer) -> bool {
        let Role::Leader { followers, .. } = &self.role else {
            return false;
        };
        let mut candidate = self.log.log_end_offset();
        for broker in self.maximal_isr() {
            if broker == me {
                continue;
            }
            let follower_end = followers.get(&broker).map_or(0, |p| p.log_end_offset);
            candidate = candidate.min(follower_end);
        }
        if candidate > self.high_watermark {
            self.set_high_watermark(me, candidate, tracer);
            return true;
        }
        false
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
    pub fn set_high_watermark(&mut self, me: BrokerId, new: Offset, tracer: &Tracer) {
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

    /// Truncates the log to `offset`, tracing what was removed; the high watermark
    /// follows if it was above.
    pub fn truncate(&mut self, me: BrokerId, offset: Offset, reason: TruncationReason, tracer: &Tracer) {
        let removed = self.log.truncate_to(offset);
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

    /// Leader: ISR members that have not caught up within `lag`, to be removed.
    pub fn lagging_isr_members(&self, me: BrokerId, now: Instant, lag: Duration) -> Vec<BrokerId> {
        let Role::Leader { followers, .. } = &self.role else {
            return Vec::new();
        };
        self.isr
            .iter()
            .filter(|b| **b != me)
            .filter(|b| followers.get(b).is_none_or(|p| now.duration_since(p.last_caught_up_time) > lag))
            .copied()
            .collect()
    }

    /// Leader: assigned replicas outside the ISR that have caught up to the high
    /// watermark and to the start of the current epoch (Kafka's `isFollowerInSync`).
    pub fn caught_up_outside_isr(&self) -> Vec<BrokerId> {
        let Role::Leader { followers, .. } = &self.role else {
            return Vec::new();
        };
        let epoch_start = self
            .log
            .epochs()
            .end_offset_for(self.leader_epoch.saturating_sub(1), self.log.log_end_offset())
            .map_or(0, |(_, end)| end);
        followers
            .iter()
            .filter(|(b, _)| !self.isr.contains(b))
            .filter(|(_, p)| p.log_end_offset >= self.high_watermark && p.log_end_offset >= epoch_start)
            .map(|(b, _)| *b)
            .collect()
    }

    /// Leader: the ISR change in flight, if any.
    pub fn pending_isr(&self) -> Option<&Vec<BrokerId>> {
        match &self.role {
            Role::Leader { pending_isr, .. } => pending_isr.as_ref(),
            _ => None,
        }
    }

    /// Leader: marks an ISR change as sent (or clears it with `None`).
    pub fn set_pending_isr(&mut self, isr: Option<Vec<BrokerId>>) {
        if let Role::Leader { pending_isr, .. } = &mut self.role {
            *pending_isr = isr;
        }
    }
}
