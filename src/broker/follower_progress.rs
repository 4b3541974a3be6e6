//! What a leader knows of one follower, from its fetches: Kafka's `Replica` and its
//! `ReplicaState` (`updateFetchState`, `resetReplicaState`, `isCaughtUp`), from which the
//! leader decides who leaves the ISR.

use crate::protocol::Offset;
use madsim::time::Instant;
use std::time::Duration;

/// When an ISR member counts as caught up (out of sync otherwise, and then removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsrLagRule {
    /// `replica.lag.time.max.ms`: a follower that was fully caught up this recently is
    /// in sync.
    pub max_lag: Duration,
    /// Whether a follower whose log end equals the leader's is in sync however long ago
    /// it last caught up, so that an idle follower of an idle partition never leaves the
    /// ISR (Kafka 2.1 onwards, KAFKA-7152). Before, only the time counted.
    pub caught_up_at_leader_log_end: bool,
}

/// What the leader knows of one follower (Kafka's `ReplicaState`). `None` is Kafka's
/// unknown offset (-1) or time 0: a new leader knows nothing of a follower until it fetches.
#[derive(Clone, Debug)]
pub(super) struct FollowerProgress {
    /// The follower's log end offset: the offset of its last fetch.
    log_end_offset: Option<Offset>,
    /// When it last fetched.
    last_fetch_time: Option<Instant>,
    /// The leader's log end offset at that fetch.
    last_fetch_leader_log_end_offset: Option<Offset>,
    /// The last time the follower was known to have everything the leader had.
    last_caught_up_time: Option<Instant>,
    /// The broker epoch its last fetch carried (KIP-903), `None` if it carried none or
    /// none came since this leadership began.
    broker_epoch: Option<u64>,
}

impl FollowerProgress {
    /// A follower as a new leader first sees it (Kafka's `resetReplicaState` with
    /// `isNewLeader`): nothing known of its log; an ISR member counts as caught up now,
    /// so the lag clock of every ISR member starts at the leadership change.
    pub(super) fn new_leader(now: Instant, in_isr: bool) -> Self {
        FollowerProgress {
            log_end_offset: None,
            last_fetch_time: None,
            last_fetch_leader_log_end_offset: None,
            last_caught_up_time: in_isr.then_some(now),
            broker_epoch: None,
        }
    }

    /// The same follower when this leader starts a new epoch of its own leadership
    /// (Kafka's `resetReplicaState` without `isNewLeader`): its log end is still known;
    /// its fetch and lag clocks restart now if it is in the ISR.
    pub(super) fn new_epoch(&self, now: Instant, leader_log_end_offset: Offset, in_isr: bool) -> Self {
        FollowerProgress {
            log_end_offset: self.log_end_offset,
            last_fetch_time: in_isr.then_some(now),
            last_fetch_leader_log_end_offset: Some(leader_log_end_offset),
            last_caught_up_time: in_isr.then_some(now),
            broker_epoch: self.broker_epoch,
        }
    }

    /// The follower's log end offset, if it fetched since this leadership began.
    pub(super) fn known_log_end_offset(&self) -> Option<Offset> {
        self.log_end_offset
    }

    /// The follower's log end offset, 0 while unknown (it then holds no high watermark
    /// above 0 back, as Kafka's unknown offset -1 holds none).
    pub(super) fn log_end_offset(&self) -> Offset {
        self.log_end_offset.unwrap_or(0)
    }

    /// The broker epoch the follower's last fetch carried (KIP-903).
    pub(super) fn broker_epoch(&self) -> Option<u64> {
        self.broker_epoch
    }

    /// Records a fetch at `fetch_offset` (the follower's log end offset) carrying
    /// `broker_epoch` at `now`, while the leader's log ends at `leader_end` (Kafka's
    /// `updateFetchState`): a fetch at the leader's log end catches the follower up now;
    /// a fetch reaching what the leader had at the previous fetch catches it up as of
    /// that previous fetch.
    pub(super) fn record_fetch(
        &mut self,
        fetch_offset: Offset,
        broker_epoch: Option<u64>,
        leader_end: Offset,
        now: Instant,
    ) {
        self.broker_epoch = broker_epoch;
        let caught_up_at = if fetch_offset >= leader_end {
            Some(now)
        } else if self.last_fetch_leader_log_end_offset.is_none_or(|end| fetch_offset >= end) {
            self.last_fetch_time
        } else {
            None
        };
        self.last_caught_up_time = self.last_caught_up_time.max(caught_up_at);
        self.log_end_offset = Some(fetch_offset);
        self.last_fetch_time = Some(now);
        self.last_fetch_leader_log_end_offset = self.last_fetch_leader_log_end_offset.max(Some(leader_end));
    }

    /// Whether the follower is in sync at `now` while the leader's log ends at
    /// `leader_end` (Kafka's `ReplicaState.isCaughtUp`).
    pub(super) fn is_caught_up(&self, leader_end: Offset, now: Instant, rule: IsrLagRule) -> bool {
        let at_leader_end = rule.caught_up_at_leader_log_end && self.log_end_offset == Some(leader_end);
        at_leader_end || self.last_caught_up_time.is_some_and(|t| now.duration_since(t) <= rule.max_lag)
    }
}
